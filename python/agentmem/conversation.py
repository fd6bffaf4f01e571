"""Conversation memory (seed 004, ``src.agents.memory``).

:class:`Message`, :class:`MessageContent`, :class:`ToolCallMsg`,
:class:`AgentCallMsg`, :class:`ConversationMemory`, the multi-agent
:class:`MemoryManager`, :func:`format_for_openai` and
:func:`format_for_anthropic`.

Messages are validated, serialized and formatted by libagentmem (its
lossless JSON form and its OpenAI / Anthropic wire formats), so a history
saved here loads in the C library and the CLI and the other way round.

Thread safety: a ConversationMemory is a plain Python object: share one
between threads only under your own lock. Formatting functions are safe.
"""
from __future__ import annotations

import json
import os
import time
import uuid
from pathlib import Path
from typing import Any, Dict, List, Optional, Union

from . import _agentmem

__all__ = ["Message", "MessageContent", "ToolCallMsg", "AgentCallMsg",
           "ConversationMemory", "MemoryManager", "format_for_openai",
           "format_for_anthropic", "VALID_ROLES", "RETENTION_POLICIES"]

VALID_ROLES = ("system", "user", "assistant", "tool")
VALID_ACTIONS = ("call_tool", "invoke_agent", "final_response")
RETENTION_POLICIES = ("single_run", "session", "persistent")


class ToolCallMsg:
    """A tool call in an assistant message (OpenAI's shape)."""

    __slots__ = ("id", "call_id", "type", "name", "arguments")

    def __init__(self, id: str, call_id: Optional[str] = None,
                 type: str = "function", name: str = "",
                 arguments: Union[str, Dict[str, Any]] = "{}"):
        if not isinstance(id, str) or not id:
            raise ValueError("ToolCallMsg.id must be a non-empty str")
        if not isinstance(name, str) or not name:
            raise ValueError("ToolCallMsg.name must be a non-empty str")
        if not isinstance(arguments, str):
            arguments = json.dumps(arguments)
        self.id = id
        self.call_id = call_id if call_id is not None else id
        self.type = type or "function"
        self.name = name
        self.arguments = arguments

    def to_dict(self) -> Dict[str, Any]:
        """OpenAI format: {"id", "type", "function": {"name", "arguments"}}."""
        return {"id": self.id, "type": self.type,
                "function": {"name": self.name, "arguments": self.arguments}}

    @classmethod
    def from_dict(cls, d: Dict[str, Any]) -> "ToolCallMsg":
        fn = d.get("function") or d
        return cls(id=d["id"], call_id=d.get("call_id"),
                   type=d.get("type") or "function", name=fn["name"],
                   arguments=fn.get("arguments", "{}"))

    def __eq__(self, other: Any) -> bool:
        return isinstance(other, ToolCallMsg) and self.to_dict() == other.to_dict()

    def __repr__(self) -> str:
        return "ToolCallMsg(id=%r, name=%r, arguments=%r)" % (
            self.id, self.name, self.arguments)


class AgentCallMsg:
    """An invocation of another agent; ``request`` is any JSON value."""

    __slots__ = ("agent_name", "request")

    def __init__(self, agent_name: str, request: Any):
        if not isinstance(agent_name, str) or not agent_name:
            raise ValueError("AgentCallMsg.agent_name must be a non-empty str")
        self.agent_name = agent_name
        self.request = request

    def to_dict(self) -> Dict[str, Any]:
        return {"agent_name": self.agent_name, "request": self.request}

    @classmethod
    def from_dict(cls, d: Dict[str, Any]) -> "AgentCallMsg":
        return cls(d["agent_name"], d.get("request"))

    def __eq__(self, other: Any) -> bool:
        return isinstance(other, AgentCallMsg) and self.to_dict() == other.to_dict()

    def __repr__(self) -> str:
        return "AgentCallMsg(agent_name=%r, request=%r)" % (
            self.agent_name, self.request)


class MessageContent:
    """Structured agent content: thought, next action, action input.

    ``next_action`` is one of "call_tool", "invoke_agent", "final_response";
    "invoke_agent" needs ``action_input["agent_name"]`` (ValueError
    otherwise, as the C library checks)."""

    __slots__ = ("thought", "next_action", "action_input")

    def __init__(self, thought: Optional[str] = None,
                 next_action: Optional[str] = None,
                 action_input: Optional[Dict[str, Any]] = None):
        if next_action is not None and next_action not in VALID_ACTIONS:
            raise ValueError("next_action must be one of %s, not %r"
                             % (", ".join(VALID_ACTIONS), next_action))
        if action_input is not None and not isinstance(action_input, dict):
            raise TypeError("action_input must be a dict")
        if next_action == "invoke_agent" and not isinstance(
                (action_input or {}).get("agent_name"), str):
            raise ValueError("invoke_agent needs action_input['agent_name']")
        self.thought = thought
        self.next_action = next_action
        self.action_input = action_input

    def to_dict(self) -> Dict[str, Any]:
        return {"thought": self.thought, "next_action": self.next_action,
                "action_input": self.action_input}

    @classmethod
    def from_dict(cls, d: Dict[str, Any]) -> "MessageContent":
        return cls(d.get("thought"), d.get("next_action"),
                   d.get("action_input"))

    def __eq__(self, other: Any) -> bool:
        return isinstance(other, MessageContent) and self.to_dict() == other.to_dict()

    def __repr__(self) -> str:
        return "MessageContent(thought=%r, next_action=%r)" % (
            self.thought, self.next_action)


class Message:
    """One message of a conversation (role system, user, assistant, tool).

    ``content`` is a str, a dict (structured JSON content), a
    :class:`MessageContent` or None. ``message_id`` is generated when not
    given. Bad roles or field types raise ValueError/TypeError at
    construction."""

    __slots__ = ("role", "content", "message_id", "name", "tool_calls",
                 "agent_calls", "structured_data", "images", "tool_call_id",
                 "created_ms")

    def __init__(self, role: str,
                 content: Optional[Union[str, Dict[str, Any], MessageContent]] = None,
                 message_id: Optional[str] = None, name: Optional[str] = None,
                 tool_calls: Optional[List[ToolCallMsg]] = None,
                 agent_calls: Optional[List[AgentCallMsg]] = None,
                 structured_data: Optional[Dict[str, Any]] = None,
                 images: Optional[List[str]] = None,
                 tool_call_id: Optional[str] = None,
                 created_ms: Optional[int] = None):
        if not Message.is_valid_role(role):
            raise ValueError("role must be one of %s, not %r"
                             % (", ".join(VALID_ROLES), role))
        if content is not None and not isinstance(
                content, (str, dict, MessageContent)):
            raise TypeError("content must be str, dict, MessageContent or "
                            "None, not %s" % type(content).__name__)
        for fname, val in (("name", name), ("tool_call_id", tool_call_id),
                           ("message_id", message_id)):
            if val is not None and not isinstance(val, str):
                raise TypeError("%s must be str or None" % fname)
        self.role = role
        self.content = content
        self.message_id = message_id or str(uuid.uuid4())
        self.name = name
        self.tool_calls = list(tool_calls) if tool_calls else None
        self.agent_calls = list(agent_calls) if agent_calls else None
        self.structured_data = structured_data
        self.images = list(images) if images else None
        self.tool_call_id = tool_call_id
        self.created_ms = created_ms if created_ms is not None else \
            int(time.time() * 1000)

    @staticmethod
    def is_valid_role(role: Any) -> bool:
        """True for "system", "user", "assistant" and "tool"."""
        return isinstance(role, str) and role in VALID_ROLES

    def to_dict(self) -> Dict[str, Any]:
        """The message as agentmem's lossless JSON object (id, role,
        created_ms, content, name, tool_calls, tool_call_id, agent_calls,
        structured_data, images), checked by the C library: a tool message
        needs tool_call_id (ValueError otherwise)."""
        d = _agentmem.message_dict(self)
        d["message_id"] = d.pop("id")
        if isinstance(self.content, MessageContent):
            d["content"] = self.content.to_dict()
            d["content_type"] = "message_content"
        return d

    @classmethod
    def from_dict(cls, data: Dict[str, Any]) -> "Message":
        """Build a Message from :meth:`to_dict` output, agentmem JSON or an
        OpenAI-style dict."""
        if not isinstance(data, dict):
            raise TypeError("from_dict needs a dict")
        content = data.get("content")
        if data.get("content_type") == "message_content" and isinstance(content, dict):
            content = MessageContent.from_dict(content)
        elif isinstance(content, list):  # content parts: keep their text
            content = "\n".join(p.get("text", "") if isinstance(p, dict) else str(p)
                                for p in content)
        return cls(
            role=data.get("role"), content=content,
            message_id=data.get("message_id") or data.get("id"),
            name=data.get("name"),
            tool_calls=[ToolCallMsg.from_dict(t) for t in data.get("tool_calls") or []],
            agent_calls=[AgentCallMsg.from_dict(a) for a in data.get("agent_calls") or []],
            structured_data=data.get("structured_data"),
            images=data.get("images"), tool_call_id=data.get("tool_call_id"),
            created_ms=data.get("created_ms"))

    def __eq__(self, other: Any) -> bool:
        return isinstance(other, Message) and all(
            getattr(self, s) == getattr(other, s) for s in self.__slots__
            if s != "created_ms")

    def __repr__(self) -> str:
        return "Message(role=%r, content=%r)" % (self.role, self.content)


def _as_message(m: Any) -> Message:
    if isinstance(m, Message):
        return m
    if isinstance(m, dict):
        return Message.from_dict(m)
    role = getattr(m, "role", None) or {
        "human": "user", "ai": "assistant", "system": "system",
        "tool": "tool"}.get(getattr(m, "type", None))
    if role is None:
        raise TypeError("not a message: %r" % (m,))
    return Message(role=role, content=getattr(m, "content", None),
                   tool_call_id=getattr(m, "tool_call_id", None),
                   name=getattr(m, "name", None))


class ConversationMemory:
    """The history of one agent.

    ``messages`` is the list itself (subclasses may read and replace it);
    with ``max_messages`` only the newest that many are retained.

    Thread safety: a plain Python object; share one between threads only
    under your own lock."""

    def __init__(self, max_messages: Optional[int] = None,
                 retention_policy: str = "session"):
        if max_messages is not None and (
                not isinstance(max_messages, int) or isinstance(max_messages, bool)):
            raise TypeError("max_messages must be an int or None")
        if max_messages is not None and max_messages <= 0:
            raise ValueError("max_messages must be > 0")
        if retention_policy not in RETENTION_POLICIES:
            raise ValueError("retention_policy must be one of %s, not %r"
                             % (", ".join(RETENTION_POLICIES), retention_policy))
        self.max_messages = max_messages
        self.retention_policy = retention_policy
        self.messages: List[Message] = []

    def add_message(self, message: Union[Message, Dict[str, Any]]) -> None:
        """Add a message (a Message, a dict or a LangChain-style object);
        the oldest are dropped past max_messages."""
        self.messages.append(_as_message(message))
        if self.max_messages is not None and len(self.messages) > self.max_messages:
            del self.messages[:len(self.messages) - self.max_messages]

    def get_messages(self) -> List[Message]:
        """All messages, oldest first (a new list)."""
        return list(self.messages)

    def get_recent(self, n: int = 10) -> List[Message]:
        """The ``n`` newest messages, oldest first."""
        if not isinstance(n, int) or isinstance(n, bool):
            raise TypeError("n must be an int")
        if n < 0:
            raise ValueError("n must be >= 0")
        return self.messages[-n:] if n else []

    def clear(self) -> None:
        """Forget every message."""
        self.messages = []

    def to_dict(self) -> List[Dict[str, Any]]:
        """Every message as :meth:`Message.to_dict`."""
        return [m.to_dict() for m in self.messages]

    def save_to_file(self, filepath: Union[str, Path]) -> None:
        """Write the history as agentmem JSON (one message per line; the
        format the C library and the CLI read). Written to a temporary
        file and renamed, so a crash never leaves half a file."""
        text = _agentmem.to_json(self.messages, "agentmem")
        path = os.fspath(filepath)
        tmp = path + ".tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)

    def load_from_file(self, filepath: Union[str, Path]) -> None:
        """Replace the history with the file's (agentmem JSON, or an OpenAI
        messages array). Raises FileNotFoundError, agentmem.FormatError
        naming the message and field."""
        with open(os.fspath(filepath), encoding="utf-8") as f:
            text = f.read()
        try:
            dicts = _agentmem.from_json(text, "agentmem")
        except ValueError:
            dicts = _agentmem.from_json(text, "openai")
        self.messages = [Message.from_dict(d) for d in dicts]
        if self.max_messages is not None and len(self.messages) > self.max_messages:
            del self.messages[:len(self.messages) - self.max_messages]

    def __len__(self) -> int:
        return len(self.messages)


class MemoryManager:
    """Memories of several agents in one session, each with a retention
    policy: "single_run" (cleared by :meth:`end_run`), "session" or
    "persistent".

    Thread safety: a plain Python object; share one between threads only
    under your own lock."""

    def __init__(self, retention_policy: str = "session",
                 max_messages_per_agent: int = 1000):
        if retention_policy not in RETENTION_POLICIES:
            raise ValueError("retention_policy must be one of %s, not %r"
                             % (", ".join(RETENTION_POLICIES), retention_policy))
        self.retention_policy = retention_policy
        self.max_messages_per_agent = max_messages_per_agent
        self.memories: Dict[str, ConversationMemory] = {}

    def get_memory(self, agent_name: str) -> ConversationMemory:
        """The agent's memory, created on first use."""
        if not isinstance(agent_name, str) or not agent_name:
            raise ValueError("agent_name must be a non-empty str")
        mem = self.memories.get(agent_name)
        if mem is None:
            mem = ConversationMemory(self.max_messages_per_agent,
                                     self.retention_policy)
            self.memories[agent_name] = mem
        return mem

    def clear_agent_memory(self, agent_name: str) -> None:
        """Clear one agent's messages (no error for an unknown agent)."""
        mem = self.memories.get(agent_name)
        if mem is not None:
            mem.clear()

    def clear_all(self) -> None:
        """Clear every agent's messages."""
        for mem in self.memories.values():
            mem.clear()

    def set_retention_policy(self, agent_name: str, policy: str) -> None:
        """Set one agent's policy (ValueError for an unknown policy)."""
        if policy not in RETENTION_POLICIES:
            raise ValueError("policy must be one of %s, not %r"
                             % (", ".join(RETENTION_POLICIES), policy))
        self.get_memory(agent_name).retention_policy = policy

    def end_run(self) -> None:
        """Clear the memories whose policy is "single_run"."""
        for mem in self.memories.values():
            if mem.retention_policy == "single_run":
                mem.clear()


def format_for_openai(messages: List[Any]) -> List[Dict[str, Any]]:
    """The Chat Completions ``messages`` array (libagentmem's OpenAI
    writer: tool calls, tool results, images as content parts). A
    conversation OpenAI cannot express (a tool result without its call)
    raises agentmem.InvalidArgumentError naming the message."""
    return json.loads(_agentmem.to_json(messages, "openai", portable=True))


def format_for_anthropic(messages: List[Any], with_system: bool = False
                         ) -> Union[List[Dict[str, Any]], Dict[str, Any]]:
    """The Anthropic Messages ``messages`` list: system messages are left
    out (they go to the request's top-level ``system``; pass
    ``with_system=True`` for ``{"system": ..., "messages": [...]}``), tool
    calls become tool_use blocks, tool results tool_result blocks in a user
    turn, consecutive same-role turns merge."""
    req = json.loads(_agentmem.to_json(messages, "anthropic", portable=True))
    return req if with_system else req["messages"]
