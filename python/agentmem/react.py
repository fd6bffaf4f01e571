"""A ReAct agent's memory (seed 000, ``aitor.memory``): the conversation,
tool executions, the reasoning trace (THINK / ACT / OBSERVE), a context
dictionary, todos, an optional domain record, export/import, session files,
pruning, statistics and memory hooks -- all kept by libagentmem's am_react
(react.h) and am_sessions (sessions.h).

The records come back as the seed's dataclasses (:class:`Message`,
:class:`ToolExecution` with its :class:`ToolResult`, :class:`ReasoningStep`,
:class:`Todo`); they are copies: changing one does not change the memory.

Errors: failures the C library reports raise :class:`agentmem.Error`
subclasses with its message (e.g. :class:`agentmem.FormatError` naming the
field of a bad import document); wrong Python types raise ``TypeError``,
bad values ``ValueError``.

Thread safety: a :class:`ReactMemory` may be shared between threads; every
call is atomic (sequences of calls are not). Hooks run on the thread that
made the update, while the memory is locked for other threads; a hook may
read the memory but not modify it (:class:`agentmem.StateError`).
"""
from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field, is_dataclass
from datetime import datetime
from typing import (Any, Callable, Dict, Iterator, List, MutableMapping,
                    Optional, Union)

from . import _agentmem

__all__ = ["Message", "ToolResult", "ToolExecution", "ReasoningStep", "Todo",
           "ReactMemory", "MemoryAgent", "SessionManager",
           "analyze_memory_usage", "STEP_TYPES", "TODO_STATUSES"]

STEP_TYPES = ("THINK", "ACT", "OBSERVE")
TODO_STATUSES = ("pending", "in_progress", "done")


def _dt(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000.0)


def _ms(when: Optional[datetime]) -> int:
    """A datetime as epoch milliseconds; None: 0 (the C clock's now)."""
    if when is None:
        return 0
    if not isinstance(when, datetime):
        raise TypeError("timestamp must be a datetime, not %s"
                        % type(when).__name__)
    return int(round(when.timestamp() * 1000))


def _json(value: Any, what: str) -> str:
    try:
        return json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError) as e:
        raise TypeError("%s must be JSON-serializable: %s" % (what, e)) from None


_SLOT_TYPES = {None: "any", dict: "object", list: "array", str: "string",
               float: "number", int: "integer", bool: "bool"}


def _slot_type(t: Union[str, type, None]) -> str:
    if isinstance(t, str):
        return t
    try:
        return _SLOT_TYPES[t]
    except (KeyError, TypeError):
        raise ValueError("slot type must be a name (any, object, array, "
                         "string, number, integer, bool) or one of dict, "
                         "list, str, float, int, bool, not %r" % (t,)) from None


@dataclass
class Message:
    """One conversation message: ``role``, ``content``, ``timestamp``."""
    role: str
    content: str
    timestamp: datetime = field(default_factory=datetime.now)


@dataclass
class ToolResult:
    """The outcome of one tool call. ``result`` is any JSON-serializable
    value; ``execution_time`` is in seconds; ``error`` is the failure text
    when ``success`` is False."""
    success: bool
    result: Any = None
    execution_time: float = 0.0
    tool_name: str = ""
    error: Optional[str] = None


@dataclass
class ToolExecution:
    """One tool execution: the tool, its ``params`` (a JSON-serializable
    dict), its :class:`ToolResult` and when it ran."""
    tool_name: str
    params: Dict[str, Any]
    result: ToolResult
    timestamp: datetime = field(default_factory=datetime.now)


@dataclass
class ReasoningStep:
    """One step of the reasoning trace; ``step_type`` is "THINK", "ACT" or
    "OBSERVE"."""
    step_type: str
    content: str
    timestamp: datetime = field(default_factory=datetime.now)


@dataclass
class Todo:
    """A planning item; ``status`` is "pending", "in_progress" or "done",
    and a higher ``priority`` is more urgent."""
    id: str
    content: str
    status: str = "pending"
    priority: int = 0


def _tool_from_c(t: tuple) -> ToolExecution:
    tool, params, success, result, error, dur_us, ts = t
    return ToolExecution(
        tool_name=tool, params=json.loads(params),
        result=ToolResult(success=success, result=json.loads(result),
                          execution_time=dur_us / 1e6, tool_name=tool,
                          error=error if (error or not success) else None),
        timestamp=_dt(ts))


class _Context(MutableMapping):
    """The memory's context dictionary (string keys, JSON values), read and
    written through the C memory. Values are copies: mutate one and assign
    it back. Iteration and ``len`` read an export (slower than lookups)."""

    def __init__(self, mem: "ReactMemory"):
        self._mem = mem

    def __getitem__(self, key: str) -> Any:
        text = self._mem.context_get(key)
        if text is None:
            raise KeyError(key)
        return json.loads(text)

    def __setitem__(self, key: str, value: Any) -> None:
        self._mem.context_set(key, _json(value, "context[%r]" % (key,)))

    def __delitem__(self, key: str) -> None:
        if not self._mem.context_remove(key):
            raise KeyError(key)

    def _all(self) -> Dict[str, Any]:
        return json.loads(self._mem.export()).get("context", {})

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._all()))

    def __len__(self) -> int:
        return len(self._all())

    def __repr__(self) -> str:
        return "ReactContext(%r)" % (self._all(),)


class ReactMemory(_agentmem._React):
    """Structured memory of a ReAct agent, kept in C.

    ``max_messages``, ``max_tool_executions`` and ``max_steps`` (0 or None:
    no limit) turn on automatic pruning: when a list grows to 1.2 times its
    limit, the memory prunes itself back to the limit, keeping system
    messages and dropping duplicate messages (see :meth:`prune`).

    Use as a context manager or call :meth:`close` to free the C memory
    early; garbage collection frees it otherwise.

    Thread safety: safe; every call is atomic, sequences of calls are not
    (see the module docs for hooks).
    """

    def __init__(self, max_messages: Optional[int] = None,
                 max_tool_executions: Optional[int] = None,
                 max_steps: Optional[int] = None) -> None:
        super().__init__(max_messages, max_tool_executions, max_steps)

    def __enter__(self) -> "ReactMemory":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # ---- conversation ----

    def add_message(self, role: str, content: str) -> None:
        """Append a message (time-stamped now). ``role`` is non-empty, at
        most 32 bytes; both are UTF-8 text."""
        super().add_message(role, content)

    def get_messages(self) -> List[Message]:
        """Every message, oldest first."""
        return [Message(r, c, _dt(t)) for r, c, t in self.messages()]

    def get_messages_by_role(self, role: str) -> List[Message]:
        """The messages with ``role``, oldest first."""
        return [Message(r, c, _dt(t)) for r, c, t in self.messages(role)]

    @property
    def conversation_history(self) -> List[Message]:
        """The messages (a copy). Assigning a list replaces them all, at
        once: a bad item changes nothing."""
        return self.get_messages()

    @conversation_history.setter
    def conversation_history(self, msgs: List[Message]) -> None:
        self._replace("messages", [
            {"role": m.role, "content": m.content, "ts": _ms(m.timestamp)}
            for m in msgs])

    # ---- tool executions ----

    def add_tool_execution(self, execution: ToolExecution) -> None:
        """Record one tool execution (params and result must be
        JSON-serializable)."""
        if not isinstance(execution, ToolExecution):
            raise TypeError("add_tool_execution takes a ToolExecution, not %s"
                            % type(execution).__name__)
        r = execution.result
        if not isinstance(r, ToolResult):
            raise TypeError("ToolExecution.result must be a ToolResult, not %s"
                            % type(r).__name__)
        if isinstance(r.execution_time, bool) or not isinstance(
                r.execution_time, (int, float)):
            raise TypeError("ToolResult.execution_time must be seconds (a "
                            "number)")
        if not r.execution_time >= 0 or r.execution_time > 9e12:
            raise ValueError("ToolResult.execution_time must be between 0 "
                             "and 9e12 seconds, not %r" % (r.execution_time,))
        self.add_tool_exec(
            execution.tool_name,
            _json(execution.params if execution.params is not None else {},
                  "ToolExecution.params"),
            bool(r.success), _json(r.result, "ToolResult.result"), r.error,
            int(round(r.execution_time * 1e6)), _ms(execution.timestamp))

    def get_tool_executions(self, tool_name: Optional[str] = None,
                            success: Optional[bool] = None
                            ) -> List[ToolExecution]:
        """Executions of ``tool_name`` (None: any) that succeeded (True),
        failed (False) or either (None), oldest first."""
        return [_tool_from_c(t) for t in self.tool_execs(tool_name, success)]

    @property
    def tool_executions(self) -> List[ToolExecution]:
        """The tool executions (a copy); assigning replaces them all."""
        return self.get_tool_executions()

    @tool_executions.setter
    def tool_executions(self, execs: List[ToolExecution]) -> None:
        self._replace("tool_executions", [{
            "tool": e.tool_name, "params": e.params if e.params is not None
            else {}, "success": bool(e.result.success),
            "result": e.result.result, "error": e.result.error or "",
            "duration_us": int(round(e.result.execution_time * 1e6)),
            "ts": _ms(e.timestamp)} for e in execs])

    # ---- reasoning ----

    def add_reasoning_step(self, step_type: Union[str, ReasoningStep],
                           content: Optional[str] = None) -> None:
        """Append a step: ``add_reasoning_step("THINK", "...")`` or
        ``add_reasoning_step(ReasoningStep(...))`` (its time stamp is not
        kept: steps are stamped when added)."""
        if isinstance(step_type, ReasoningStep):
            step_type, content = step_type.step_type, step_type.content
        if content is None:
            raise TypeError("add_reasoning_step needs the step's content")
        self.add_step(step_type, content)

    def get_reasoning_steps(self, step_type: Optional[str] = None,
                            recent: Optional[int] = None
                            ) -> List[ReasoningStep]:
        """The steps of ``step_type`` (None: all) among the last ``recent``
        steps (None: all), oldest first."""
        return [ReasoningStep(k, c, _dt(t))
                for k, c, t in self.steps(step_type, recent)]

    @property
    def reasoning_trace(self) -> List[ReasoningStep]:
        """The reasoning steps (a copy); assigning replaces them all."""
        return self.get_reasoning_steps()

    @reasoning_trace.setter
    def reasoning_trace(self, steps: List[ReasoningStep]) -> None:
        self._replace("reasoning", [
            {"type": s.step_type.upper(), "content": s.content,
             "ts": _ms(s.timestamp)} for s in steps])

    # ---- context ----

    @property
    def context(self) -> MutableMapping[str, Any]:
        """The context dictionary (JSON values), a live view."""
        return _Context(self)

    @context.setter
    def context(self, values: Dict[str, Any]) -> None:
        self._replace("context", dict(values))

    # ---- typed slots ----

    def define_slot(self, name: str, value: Any,
                    type: Union[str, type, None] = None) -> None:
        """Define slot ``name`` holding ``value`` (JSON) with a declared
        type that every later :meth:`set_slot` must keep: "any",
        "object", "array", "string", "number", "integer", "bool", or the
        Python type dict, list, str, float, int, bool (None: "any").
        Defining it again with the same type sets the value.

        Errors: :class:`agentmem.ExistsError` when it exists with another
        type; :class:`agentmem.InvalidArgumentError` naming the slot and
        both types when ``value`` does not have the type; ValueError for
        an unknown type; TypeError for a value that is not JSON.
        Thread-safe (the C memory's lock); the hooks see a "slot" event."""
        self.slot_define(name, _slot_type(type),
                         _json(value, "slot %r" % (name,)))

    def set_slot(self, name: str, value: Any) -> None:
        """Replace the value of slot ``name``; it must keep the slot's
        type (:class:`agentmem.InvalidArgumentError` naming both types
        otherwise) and the slot must exist
        (:class:`agentmem.NotFoundError`). Thread-safe."""
        self.slot_set(name, _json(value, "slot %r" % (name,)))

    def get_slot(self, name: str, default: Any = None) -> Any:
        """A copy of slot ``name``'s value, or ``default`` when no such
        slot is defined. Thread-safe."""
        got = self.slot_get(name)
        return default if got is None else json.loads(got[0])

    def slot_type(self, name: str) -> Optional[str]:
        """The declared type of slot ``name`` ("any", "object", ...), or
        None when it is not defined."""
        got = self.slot_get(name)
        return None if got is None else got[1]

    def remove_slot(self, name: str) -> bool:
        """Remove slot ``name``; False when there was none."""
        return self.slot_remove(name)

    @property
    def slots(self) -> Dict[str, Any]:
        """Every slot's value by name (copies, sorted by name)."""
        out = {}
        for n in json.loads(self.slot_names()):
            got = self.slot_get(n)
            if got is not None:
                out[n] = json.loads(got[0])
        return out

    # ---- todos ----

    def add_todo(self, todo: Union[Todo, str], *, id: Optional[str] = None,
                 status: str = "pending", priority: int = 0) -> Todo:
        """Add a todo (a :class:`Todo`, or its content with an optional id;
        a missing id is the next free "todo_<n>"), or replace the one with
        the same id in place. Returns it."""
        if not isinstance(todo, Todo):
            if id is None:
                taken = {t[0] for t in self._todos()}
                n = len(taken) + 1
                while "todo_%d" % n in taken:
                    n += 1
                id = "todo_%d" % n
            todo = Todo(id=id, content=todo, status=status, priority=priority)
        self.todo_put(todo.id, todo.content, todo.status, todo.priority)
        return todo

    def update_todo(self, todo_id: str, *, status: Optional[str] = None,
                    content: Optional[str] = None,
                    priority: Optional[int] = None) -> Todo:
        """Change fields of the todo ``todo_id``; NotFoundError if absent."""
        for t in self.get_todos():
            if t.id == todo_id:
                t = Todo(t.id, t.content if content is None else content,
                         t.status if status is None else status,
                         t.priority if priority is None else priority)
                self.todo_put(t.id, t.content, t.status, t.priority)
                return t
        raise _agentmem.NotFoundError("no todo with id %r" % (todo_id,))

    def remove_todo(self, todo_id: str) -> bool:
        """Remove the todo ``todo_id``; False when there is none."""
        return self.todo_remove(todo_id)

    def get_todos(self, status: Optional[str] = None) -> List[Todo]:
        """Todos in insertion order, optionally only those with ``status``."""
        return [Todo(*t) for t in self._todos()
                if status is None or t[2] == status]

    @property
    def todos(self) -> List[Todo]:
        """The todos (a copy), in insertion order."""
        return self.get_todos()

    # ---- whole memory ----

    def _replace(self, key: str, value: Any) -> None:
        doc = json.loads(self.export())
        doc[key] = value
        self.import_(json.dumps(doc, ensure_ascii=False))

    def export_memory(self) -> Dict[str, Any]:
        """The whole memory as a JSON-ready dict (format version 1);
        :meth:`import_memory` reads it back losslessly."""
        return json.loads(self.export())

    def to_json(self) -> str:
        """The export as JSON text."""
        return self.export()

    def import_memory(self, data: Union[Dict[str, Any], str, bytes]) -> None:
        """Replace the contents with an export (a dict or its JSON text).
        The document is checked whole first: on a
        :class:`agentmem.FormatError` (naming the field) nothing changed."""
        if isinstance(data, dict):
            data = _json(data, "memory document")
        self.import_(data)

    def prune(self, max_messages: Optional[int] = None,
              max_tool_executions: Optional[int] = None,
              max_steps: Optional[int] = None) -> None:
        """Keep the last ``max_messages`` messages plus every system
        message and drop exact duplicates (same role and content, the first
        copy stays); keep the last ``max_tool_executions`` executions and
        ``max_steps`` steps. None or 0 leaves that list alone."""
        super().prune(max_messages, max_tool_executions, max_steps)

    def get_stats(self) -> Dict[str, Any]:
        """Usage statistics, shaped as the seed's analyze_memory_usage."""
        return self.stats_json()

    # ---- hooks ----

    def add_hook(self, hook: Callable[["ReactMemory", str], Any]) -> None:
        """Call ``hook(memory, event)`` after every successful update
        (event: message, tool, step, context, todo, prune, import, domain).
        An exception in a hook is counted (:attr:`hook_failures`, its text
        in :attr:`hook_error`) and never undoes the update. At most 16."""
        super().add_hook(hook)

    # ---- domain memory ----

    def set_domain_type(self, cls: type,
                        to_dict: Optional[Callable[[Any], Any]] = None,
                        from_dict: Optional[Callable[[Any], Any]] = None,
                        name: Optional[str] = None) -> None:
        """Declare the type of the domain record (e.g. the seed's
        CustomerSupportMemory fields) so that it travels with
        export/import. Dataclasses need no converters (``asdict`` and
        ``cls(**data)``); other types pass ``to_dict``/``from_dict``."""
        if to_dict is None:
            if not is_dataclass(cls):
                raise TypeError("%s is not a dataclass: pass to_dict and "
                                "from_dict" % getattr(cls, "__name__", cls))
            to_dict = asdict
        if from_dict is None:
            def from_dict(data: Any, _cls: type = cls) -> Any:
                return _cls(**data)
        super().set_domain_type(name or "%s.%s" % (cls.__module__,
                                                   cls.__qualname__),
                                to_dict, from_dict)

    @property
    def domain(self) -> Any:
        """The domain record (the object itself, not a copy), or None.
        After changing it in place, call :meth:`domain_touched` so that
        the hooks run."""
        return self._domain()

    @domain.setter
    def domain(self, record: Any) -> None:
        self.set_domain(record)

    def __repr__(self) -> str:
        if self.closed:
            return "ReactMemory(closed)"
        m, t, s, d = self.counts()
        return ("ReactMemory(messages=%d, tool_executions=%d, steps=%d, "
                "todos=%d)" % (m, t, s, d))


class MemoryAgent:
    """The memory side of an agent, for code written against the seed's
    agents (``get_memory``/``set_memory``/``export_memory``/
    ``import_memory``/``add_memory_hook``), with no LLM attached. Pass it,
    or a ReactMemory, to :class:`SessionManager` and
    :func:`analyze_memory_usage`. Thread safety: its memory calls are as
    safe as the ReactMemory's; :meth:`set_memory` and
    :meth:`add_memory_hook` belong to one thread at a time (they move the
    agent's hooks)."""

    def __init__(self, name: str = "Agent",
                 memory: Optional[ReactMemory] = None, **limits: Any) -> None:
        self.name = name
        self._memory = memory if memory is not None else ReactMemory(**limits)
        self._hooks: List[Callable[[Any, ReactMemory], Any]] = []

    def get_memory(self) -> ReactMemory:
        """The memory (the object itself: changes go straight to C)."""
        return self._memory

    def set_memory(self, memory: ReactMemory) -> None:
        """Use ``memory`` from now on; the agent's hooks move with it."""
        if not isinstance(memory, ReactMemory):
            raise TypeError("set_memory takes a ReactMemory, not %s"
                            % type(memory).__name__)
        if memory is not self._memory:
            self._memory = memory
            for h in self._hooks:
                self._attach(h)

    def export_memory(self) -> Dict[str, Any]:
        """:meth:`ReactMemory.export_memory` of the current memory."""
        return self._memory.export_memory()

    def import_memory(self, data: Union[Dict[str, Any], str]) -> None:
        """:meth:`ReactMemory.import_memory` into the current memory."""
        self._memory.import_memory(data)

    def add_memory_hook(self, hook: Callable[[Any, ReactMemory], Any]) -> None:
        """Call ``hook(agent, memory)`` after every memory update."""
        self._hooks.append(hook)
        self._attach(hook)

    def _attach(self, hook: Callable[[Any, ReactMemory], Any]) -> None:
        import weakref
        agent = weakref.ref(self)  # the memory must not keep us alive

        def call(mem: ReactMemory, event: str) -> None:
            a = agent()
            if a is not None:
                hook(a, mem)
        self._memory.add_hook(call)


def _memory_of(obj: Union[ReactMemory, Any]) -> ReactMemory:
    if isinstance(obj, ReactMemory):
        return obj
    get = getattr(obj, "get_memory", None)
    mem = get() if callable(get) else None
    if not isinstance(mem, ReactMemory):
        raise TypeError("expected a ReactMemory or an agent whose "
                        "get_memory() returns one, not %s"
                        % type(obj).__name__)
    return mem


def analyze_memory_usage(agent: Union[ReactMemory, Any]) -> Dict[str, Any]:
    """Usage statistics of an agent's memory (or of a ReactMemory):
    ``messages`` (total, by role with average lengths), ``tools`` (total,
    success rate, average execution time in seconds, usage per tool),
    ``reasoning`` (total, distribution by step type), ``memory_size`` (KB)
    and ``analysis_timestamp``, computed in C."""
    return _memory_of(agent).stats_json()


class SessionManager:
    """Agents' memories saved under session ids, one JSON file each in
    ``storage_path`` (created if absent). A save is atomic: after a crash a
    session is its old or its new version, never a mix. Session ids are
    1..128 letters, digits, '_', '-' or '.' (not starting with '.'); others
    raise InvalidArgumentError. Thread safety: safe."""

    def __init__(self, storage_path: Union[str, "os.PathLike[str]"]) -> None:
        self.storage_path = os.fspath(storage_path)
        self._s = _agentmem._Sessions(self.storage_path)

    def save_session(self, agent: Union[ReactMemory, Any],
                     session_id: str) -> None:
        """Save the memory of ``agent`` (or a ReactMemory) under the id."""
        self._s.save(session_id, _memory_of(agent))

    def load_session(self, agent: Union[ReactMemory, Any],
                     session_id: str) -> bool:
        """Replace the memory's contents with the saved session; False when
        there is none (the memory is unchanged on any error)."""
        return self._s.load(session_id, _memory_of(agent))

    def list_sessions(self) -> List[str]:
        """The saved session ids, sorted."""
        return self._s.list()

    def delete_session(self, session_id: str) -> bool:
        """Delete a saved session; False when there is none."""
        return self._s.delete(session_id)

    def close(self) -> None:
        """Release the handle (also done on garbage collection)."""
        self._s.close()

    def __enter__(self) -> "SessionManager":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
