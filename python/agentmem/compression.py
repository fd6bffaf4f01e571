"""Automatic compression of long agent contexts (seed 002, ``memory``):
:class:`MemoryConfig` with its presets, :class:`CompressionStrategy`,
:class:`MemoryManager`, :class:`ShortTermMemory`,
:class:`WorkingMemoryCompressor` (subclassable: ``_should_preserve`` is
called by the C code) with its :class:`CompressedMemory`, and
:class:`TokenTracker`, over libagentmem's memory manager (window.h) and
token tracker (tokens.h): exact token counts for the configured model,
compression past the threshold (sliding_window, selective or deletion) by
the offline summarizer, a Python LLM callable or an OpenAI-compatible
server, and token/cost statistics priced from the C model catalog.

LLMs: ``llm`` is None (the offline extractive summarizer), a callable that
takes OpenAI-style message dicts and returns the reply text (or an object
with a str ``.content``), or an OpenAI-compatible base URL (str).

Thread safety: calls on one MemoryManager or WorkingMemoryCompressor are
serialized by a lock; a TokenTracker is thread-safe (a C mutex).
"""
from __future__ import annotations

import asyncio
import os
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from typing import Any, Callable, Dict, List, Optional, Union

from . import _agentmem
from .context import _llm_summarizer

__all__ = ["CompressionStrategy", "MemoryConfig", "MemoryManager",
           "ShortTermMemory", "LLMMessage", "CompressedMemory",
           "WorkingMemoryCompressor", "TokenTracker"]

LLM = Union[None, str, Callable[[List[Dict[str, Any]]], Any]]


def _llm_parts(llm: LLM) -> Dict[str, Any]:
    """The _Memory arguments for ``llm``: a base URL or a summarizer."""
    if llm is None:
        return {}
    if isinstance(llm, str):
        return {"base_url": llm}
    if callable(llm):
        return {"summarizer": _llm_summarizer(llm)}
    raise TypeError("llm must be None, an OpenAI-compatible base URL (str) "
                    "or a callable (messages -> reply text), not %s"
                    % type(llm).__name__)


@dataclass
class LLMMessage:
    """A chat message as the seed's agents write it (``role``,
    ``content``, optional ``tool_calls``/``tool_call_id``/``name``);
    accepted wherever a message is, like OpenAI-style dicts."""
    role: str
    content: Optional[str] = None
    tool_calls: Optional[List[Dict[str, Any]]] = None
    tool_call_id: Optional[str] = None
    name: Optional[str] = None

    @classmethod
    def _from_dict(cls, d: Dict[str, Any]) -> "LLMMessage":
        return cls(role=d["role"], content=d.get("content"),
                   tool_calls=d.get("tool_calls"),
                   tool_call_id=d.get("tool_call_id"), name=d.get("name"))


@dataclass
class CompressedMemory:
    """What one compression produced: the ``summary`` (empty for the
    deletion strategy), the messages kept verbatim
    (``preserved_messages``), and the token figures the C manager
    measured. ``compression_ratio`` is compressed / original."""
    summary: str
    preserved_messages: List[LLMMessage]
    original_message_count: int
    original_tokens: int
    compressed_tokens: int
    compression_ratio: float
    strategy: CompressionStrategy
    created_at: datetime = field(default_factory=datetime.now)

    @property
    def token_savings(self) -> int:
        """original_tokens - compressed_tokens."""
        return self.original_tokens - self.compressed_tokens


def _compressed(d: Optional[Dict[str, Any]],
                preserved: List[LLMMessage]) -> Optional[CompressedMemory]:
    if d is None:
        return None
    return CompressedMemory(
        summary=d["summary"], preserved_messages=preserved,
        original_message_count=d["original_message_count"],
        original_tokens=d["original_tokens"],
        compressed_tokens=d["compressed_tokens"],
        compression_ratio=d["compression_ratio"],
        strategy=CompressionStrategy(d["strategy"]))


class CompressionStrategy(Enum):
    """How the manager compresses (memconfig.h's am_compress_strategy):
    ``SLIDING_WINDOW`` summarizes all but the recent window,
    ``SELECTIVE`` keeps the important messages (``_should_preserve``) and
    summarizes the rest, ``DELETION`` drops old messages without a
    summary. An immutable enum: safe to share between threads."""
    SLIDING_WINDOW = "sliding_window"
    SELECTIVE = "selective"
    DELETION = "deletion"


@dataclass
class MemoryConfig:
    """The manager's settings (the "balanced" preset by default). ``model``
    is what the context is counted (exactly, for OpenAI models) and priced
    for; "estimate" counts 4 bytes a token."""
    max_context_tokens: int = 100000
    compression_threshold: int = 40000
    short_term_size: int = 20
    compression_ratio: float = 0.3
    compression_strategy: CompressionStrategy = CompressionStrategy.SLIDING_WINDOW
    enable_compression: bool = True
    preserve_system_prompts: bool = True
    preserve_tool_calls: bool = True
    model: str = "gpt-4o-mini"
    # The other MEMORY_* settings (importance markers, tool-result
    # clearing) as text, passed to the C manager as they are; the fields
    # above win over the same key here.
    settings: Dict[str, str] = field(default_factory=dict)

    @classmethod
    def discover(cls, file: Optional[Union[str, "os.PathLike[str]"]] = None,
                 preset: Optional[str] = None,
                 cwd: Optional[Union[str, "os.PathLike[str]"]] = None,
                 env: Optional[Dict[str, str]] = None,
                 use_env: bool = True) -> "MemoryConfig":
        """The configuration the CLI and the server would use, found by
        the C library: the defaults, then ``preset``, then the config file
        (``file``, or the first of $AGENTMEM_CONFIG, <cwd>/.agentmem/config,
        $XDG_CONFIG_HOME/agentmem/config or ~/.config/agentmem/config),
        then the MEMORY_* environment variables (unless ``use_env`` is
        False). ``env`` (a dict) replaces the process environment for the
        lookup; ``cwd`` the working directory.

        The result also has ``sources`` ({MEMORY_* key: where its value
        came from, e.g. "default", "/path/config:3", "$MEMORY_MODEL"}) and
        ``config_file`` (the file read, or None).

        Errors: :class:`agentmem.NotFoundError` for a named file (or
        $AGENTMEM_CONFIG) that does not exist; :class:`agentmem.FormatError`
        or :class:`agentmem.InvalidArgumentError` naming the file and line
        or the variable; TypeError for a non-str value in ``env``.
        Thread-safe (reads only)."""
        settings, sources, path = _agentmem.memory_config_resolve(
            file=file, preset=preset, cwd=cwd, env=env, use_env=use_env)
        kw: Dict[str, Any] = {}
        rest: Dict[str, str] = {}
        for key, value in settings.items():
            conv = _FIELDS.get(key)
            if conv is None:
                rest[key] = value
            else:
                kw[conv[0]] = conv[1](value)
        cfg = cls(settings=rest, **kw)
        cfg.sources = sources  # type: ignore[attr-defined]
        cfg.config_file = path  # type: ignore[attr-defined]
        return cfg

    @classmethod
    def aggressive(cls, **kw: Any) -> "MemoryConfig":
        return cls(compression_threshold=30000, compression_ratio=0.2,
                   short_term_size=10, **kw)

    @classmethod
    def balanced(cls, **kw: Any) -> "MemoryConfig":
        return cls(**kw)

    @classmethod
    def conservative(cls, **kw: Any) -> "MemoryConfig":
        return cls(compression_threshold=60000, compression_ratio=0.5,
                   short_term_size=30,
                   compression_strategy=CompressionStrategy.SELECTIVE, **kw)

    def _settings(self) -> Dict[str, str]:
        strat = self.compression_strategy
        if isinstance(strat, CompressionStrategy):
            strat = strat.value
        def b(x: bool) -> str:
            return "true" if x else "false"
        out = dict(self.settings)
        out.update({"MEMORY_ENABLED": b(self.enable_compression),
                "MEMORY_MAX_CONTEXT_TOKENS": str(self.max_context_tokens),
                "MEMORY_COMPRESSION_THRESHOLD": str(self.compression_threshold),
                "MEMORY_SHORT_TERM_SIZE": str(self.short_term_size),
                "MEMORY_COMPRESSION_RATIO": repr(float(self.compression_ratio)),
                "MEMORY_COMPRESSION_STRATEGY": str(strat),
                "MEMORY_PRESERVE_SYSTEM_PROMPTS": b(self.preserve_system_prompts),
                "MEMORY_PRESERVE_TOOL_CALLS": b(self.preserve_tool_calls),
                "MEMORY_MODEL": self.model})
        return out


def _bool(text: str) -> bool:
    return text == "true"


# MEMORY_* key -> (MemoryConfig field, conversion of the C text).
_FIELDS: Dict[str, Any] = {
    "MEMORY_ENABLED": ("enable_compression", _bool),
    "MEMORY_MAX_CONTEXT_TOKENS": ("max_context_tokens", int),
    "MEMORY_COMPRESSION_THRESHOLD": ("compression_threshold", int),
    "MEMORY_SHORT_TERM_SIZE": ("short_term_size", int),
    "MEMORY_COMPRESSION_RATIO": ("compression_ratio", float),
    "MEMORY_COMPRESSION_STRATEGY": ("compression_strategy",
                                    lambda v: CompressionStrategy(v)),
    "MEMORY_PRESERVE_SYSTEM_PROMPTS": ("preserve_system_prompts", _bool),
    "MEMORY_PRESERVE_TOOL_CALLS": ("preserve_tool_calls", _bool),
    "MEMORY_MODEL": ("model", str),
}


class ShortTermMemory:
    """The newest ``max_size`` messages. Thread-safe: each call is one
    operation on a bounded deque."""

    def __init__(self, max_size: int = 20):
        if not isinstance(max_size, int) or max_size <= 0:
            raise ValueError("max_size must be a positive int")
        self.max_size = max_size
        self._items: deque = deque(maxlen=max_size)

    def add(self, message: Any) -> None:
        self._items.append(message)

    def get_all(self) -> List[Any]:
        return list(self._items)

    def clear(self) -> None:
        self._items.clear()

    def __len__(self) -> int:
        return len(self._items)


class MemoryManager:
    """Add messages one by one; past ``compression_threshold`` tokens the
    old part of the context is compressed into a summary.

    ``llm``: None (the offline extractive summarizer), a callable
    (OpenAI-style messages -> reply text; called from the C code, its
    exceptions propagate) or an OpenAI-compatible base URL (str).
    ``tracker``: a :class:`TokenTracker` that records the usage passed to
    :meth:`add_message` and credits every compression's savings.
    Errors: ValueError/TypeError for bad settings or messages (the C
    message names the field), :class:`agentmem.NetworkError` and friends
    for server failures.
    """

    def __init__(self, config: Optional[MemoryConfig] = None,
                 llm: LLM = None, *, llm_model: Optional[str] = None,
                 api_key: Optional[str] = None,
                 tracker: Optional["TokenTracker"] = None):
        self.config = config or MemoryConfig()
        self.tracker = tracker
        self._m = _agentmem._Memory(
            self.config._settings(), llm_model=llm_model, api_key=api_key,
            tracker=_tracker_of(tracker),
            **_llm_parts(llm))
        self.short_term = ShortTermMemory(max(1, self.config.short_term_size))
        self.was_compressed_last_iteration = False

    def add_message(self, message: Any,
                    actual_tokens: Optional[Dict[str, int]] = None) -> bool:
        """Add one message (dict, agentmem Message or LangChain-style);
        ``actual_tokens`` {"input", "output"} as the provider reported
        them calibrates the counts and prices the call. True when this
        add compressed."""
        self.short_term.add(message)
        if actual_tokens:
            did = self._m.add(message, int(actual_tokens.get("input", -1)),
                              int(actual_tokens.get("output", -1)))
        else:
            did = self._m.add(message)
        self.was_compressed_last_iteration = did
        return did

    async def aadd_message(self, message: Any,
                           actual_tokens: Optional[Dict[str, int]] = None) -> bool:
        return await asyncio.to_thread(self.add_message, message, actual_tokens)

    def get_context_for_llm(self) -> List[Dict[str, Any]]:
        """The context to send: system messages, the summary, the kept
        messages (OpenAI-style dicts)."""
        return self._m.context()

    def compress(self) -> None:
        """Compress now, whatever the threshold."""
        self._m.compress()

    @property
    def compressed_memory(self) -> Optional[CompressedMemory]:
        """The latest compression (None before the first). Its
        ``preserved_messages`` are left empty: the kept messages are in
        :meth:`get_context_for_llm`."""
        return _compressed(self._m.compressed(), [])

    @property
    def last_compression_savings(self) -> int:
        """Tokens the latest compression saved (0 before the first)."""
        c = self._m.compressed()
        return c["original_tokens"] - c["compressed_tokens"] if c else 0

    def get_stats(self) -> Dict[str, Any]:
        """current_tokens, total_tokens, compression_count, net_savings,
        savings_percentage, total_cost, net_cost, ... (the C library's
        statistics)."""
        return self._m.stats()

    def print_stats(self) -> None:
        """Print the "Memory Statistics" block."""
        print(self._m.stats_text())


class WorkingMemoryCompressor:
    """Compress a list of old messages into a summary, keeping important
    ones verbatim, with the configured strategy (``config``; default
    :class:`MemoryConfig`): sliding_window summarizes them all,
    selective keeps system prompts, tool calls with their results, errors,
    marked messages and whatever :meth:`_should_preserve` keeps, deletion
    drops them. The work is libagentmem's memory manager's; the summary
    comes from ``llm`` (see the module docs; None: offline).

    Subclass and override :meth:`_should_preserve` to add rules: it is
    called from the C code (with the GIL taken back) for each message the
    selective strategy judges, with an :class:`LLMMessage`; True keeps it,
    False lets it be compressed, None leaves it to the built-in rules.
    An exception it raises propagates out of :meth:`compress`.
    """

    def __init__(self, llm: LLM = None, config: Optional[MemoryConfig] = None,
                 *, llm_model: Optional[str] = None,
                 api_key: Optional[str] = None,
                 tracker: Optional["TokenTracker"] = None) -> None:
        self.llm = llm
        self.config = config or MemoryConfig()
        self._llm = _llm_parts(llm)
        self._llm_model, self._api_key = llm_model, api_key
        self.tracker = tracker
        # Only an override is worth a call into Python per message.
        self._custom = (type(self)._should_preserve
                        is not WorkingMemoryCompressor._should_preserve)

    def _should_preserve(self, message: LLMMessage) -> Optional[bool]:
        """True: keep ``message`` verbatim; False: compress it; None
        (this default): the built-in rules decide."""
        return None

    def _predicate(self, d: Dict[str, Any]) -> Optional[bool]:
        return self._should_preserve(LLMMessage._from_dict(d))

    def compress_sync(self, messages: List[Any],
                      target_tokens: Optional[int] = None) -> CompressedMemory:
        """:meth:`compress` without asyncio."""
        settings = self.config._settings()
        # A manager that compresses only when told to, over exactly these
        # messages: no threshold, no size cap, no short-term window, and
        # the newest group folded too (compress_newest).
        settings.update({"MEMORY_ENABLED": "false",
                         "MEMORY_MAX_CONTEXT_TOKENS": str(1 << 40),
                         "MEMORY_COMPRESSION_THRESHOLD": str(1 << 40),
                         "MEMORY_SHORT_TERM_SIZE": "0"})
        if target_tokens is not None:
            if isinstance(target_tokens, bool) or not isinstance(
                    target_tokens, int) or target_tokens <= 0:
                raise ValueError("target_tokens must be a positive int")
        m = _agentmem._Memory(
            settings, llm_model=self._llm_model, api_key=self._api_key,
            should_preserve=self._predicate if self._custom else None,
            tracker=_tracker_of(self.tracker), compress_newest=True,
            **self._llm)
        for i, msg in enumerate(messages):
            try:
                m.add(msg)
            except (TypeError, ValueError) as e:
                raise type(e)("messages[%d]: %s" % (i, e)) from None
        m.compress()
        info = m.compressed()
        kept = [LLMMessage._from_dict(d) for d in m.context()
                if not (
                    info and info["summary"] and d["role"] == "system" and
                    (d.get("content") or "").startswith("[Compressed Summary]"))]
        if info is None:  # nothing was old enough to compress
            info = {"summary": "", "original_tokens": 0,
                    "compressed_tokens": 0, "compression_ratio": 1.0,
                    "original_message_count": 0,
                    "strategy": CompressionStrategy(
                        self.config.compression_strategy).value}
        return _compressed(info, kept)  # type: ignore[return-value]

    async def compress(self, messages: List[Any],
                       target_tokens: Optional[int] = None
                       ) -> CompressedMemory:
        """Compress ``messages`` (dicts, LLMMessages, agentmem or
        LangChain-style messages); the summary's budget is
        ``compression_ratio`` of their tokens. Runs in a worker thread so
        that an LLM call does not block the event loop."""
        return await asyncio.to_thread(self.compress_sync, messages,
                                       target_tokens)


class TokenTracker:
    """Token usage and cost of LLM calls, and what compression saved,
    priced from the C model catalog (per million tokens; unknown models at
    the catalog default, reported as estimated). Thread-safe.

    ``budget`` (USD) and ``budget_tokens``: ``on_budget(stats)`` is called
    once, by the record that first goes over; an exception it raises
    propagates from that record call (which still counted)."""

    def __init__(self, budget: float = 0.0, budget_tokens: int = 0,
                 on_budget: Optional[Callable[[Dict[str, Any]], Any]] = None
                 ) -> None:
        self._t = _agentmem._Tracker(budget, budget_tokens, on_budget)
        self.total_input_tokens = 0
        self.total_output_tokens = 0

    def count_message_tokens(self, message: Any, provider: str = "openai",
                             model: Optional[str] = None) -> int:
        """Tokens of one message for ``model`` (exact for OpenAI models,
        the catalog's rule for others, e.g. 3.5 characters a token for
        Anthropic). ``provider`` picks a default model when ``model`` is
        None. Counting does not record anything."""
        if model is None:
            model = _DEFAULT_MODEL.get(provider, "")
            if not model:
                raise ValueError("provider %r: pass a model (known "
                                 "providers: %s)" % (
                                     provider, ", ".join(sorted(_DEFAULT_MODEL))))
        if isinstance(message, str):
            return _agentmem.count_tokens(message, model)
        return _agentmem.count_tokens([message], model)

    def add_input_tokens(self, count: int) -> None:
        """Add to the running input total that :meth:`calculate_cost`
        prices."""
        self.total_input_tokens += _count(count, "count")

    def add_output_tokens(self, count: int) -> None:
        """Add to the running output total."""
        self.total_output_tokens += _count(count, "count")

    def calculate_cost(self, model: str) -> float:
        """USD for the running totals (add_input/output_tokens) at
        ``model``'s catalog price."""
        info = _agentmem.model_info(model)
        return (self.total_input_tokens * info["input_per_mtok"] +
                self.total_output_tokens * info["output_per_mtok"]) / 1e6

    def record(self, model: str, input_tokens: int, output_tokens: int,
               cached_input_tokens: int = 0, estimated: bool = False,
               compression: bool = False) -> None:
        """Record one LLM call's usage as the provider reported it (or
        counted, ``estimated=True``; ``compression=True`` for calls made to
        compress). Also adds to the running totals."""
        self._t.record(model, input_tokens, output_tokens,
                       cached_input_tokens, estimated, compression)
        self.total_input_tokens += input_tokens
        self.total_output_tokens += output_tokens

    def record_compression(self, original_tokens: int,
                           compressed_tokens: int,
                           model: str = "gpt-4o-mini") -> None:
        """Credit the tokens a compression saved, priced at ``model``'s
        input price."""
        saved = _count(original_tokens, "original_tokens") - _count(
            compressed_tokens, "compressed_tokens")
        self._t.credit_savings(model, max(0, saved))

    def get_stats(self) -> Dict[str, Any]:
        """calls, input/output/total tokens, cost, tokens_saved, savings,
        compression cost, net savings, budget state, and per-model rows
        (``models``)."""
        return self._t.stats_json()

    @property
    def total_cost(self) -> float:
        """USD of every recorded call."""
        return self._t.stats()["cost"]

    def reset(self) -> None:
        """Forget everything recorded (the budget stays)."""
        self._t.reset()
        self.total_input_tokens = self.total_output_tokens = 0


_DEFAULT_MODEL = {"openai": "gpt-4o-mini",
                  "anthropic": "claude-3-5-sonnet-20241022",
                  "gemini": "gemini-1.5-flash", "google": "gemini-1.5-flash"}


def _tracker_of(t: Optional[TokenTracker]) -> Any:
    if t is None:
        return None
    if not isinstance(t, TokenTracker):
        raise TypeError("tracker must be an agentmem.compression.TokenTracker,"
                        " not %s" % type(t).__name__)
    return t._t


def _count(v: Any, what: str) -> int:
    if isinstance(v, bool) or not isinstance(v, int):
        raise TypeError("%s must be an int, not %s" % (what, type(v).__name__))
    if v < 0:
        raise ValueError("%s must be >= 0, not %d" % (what, v))
    return v
