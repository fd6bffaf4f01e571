"""Short-term memory: the context window (seed 001, ``ai_infra.llm.memory``).

Messages may be OpenAI-style dicts, :class:`agentmem.conversation.Message`
objects or LangChain-style objects (anything with ``.type`` and
``.content``; langchain_core need not be installed). Trimming hands back the
caller's own objects.

Everything works on *turn groups*: an assistant message with its tool calls
and every tool result answering them are kept or dropped together, so a
trimmed history never starts with a tool result or holds one without its
call (such orphans are dropped).

Thread safety: every function here may be called from any number of
threads at once; the C work runs with the GIL released. A
:class:`SummarizationMiddleware` serializes its own calls with a lock.
"""
from __future__ import annotations

import asyncio
import copy
import os
from dataclasses import dataclass, field
from typing import Any, Callable, List, Optional, Sequence, Union

from . import _agentmem

__all__ = [
    "trim_messages", "count_tokens", "count_tokens_approximate",
    "get_context_limit", "model_info", "summarize_messages",
    "asummarize_messages", "SummarizeResult", "SummarizationMiddleware",
]

MessageLike = Any
#: A chat LLM as a callable: it takes OpenAI-style message dicts and
#: returns the reply text (or an object with a ``.content`` str).
LLMCallable = Callable[[List[dict]], Any]


def count_tokens(messages: Union[str, Sequence[MessageLike]],
                 model: Optional[str] = None) -> int:
    """Exact token count of a text, or of a message list, for ``model``
    (default ``"gpt-4o"``).

    OpenAI models count with their tiktoken encoding (identical ids); other
    models with the catalog's estimation rule. A message costs 3 + tokens
    of its role + tokens of its text (OpenAI's chat rule), which is the same
    measure :func:`trim_messages` uses with the same ``model``.

    Raises TypeError/ValueError for bad input, :class:`agentmem.Error` for
    a missing rank file. Thread-safe; the GIL is released for large input.
    """
    return _agentmem.count_tokens(messages, model)


# The C function itself (same docstring): no Python frame between the
# caller and C. The definition above is its signature for type checkers.
count_tokens = _agentmem.count_tokens  # type: ignore[assignment]  # noqa: F811


def count_tokens_approximate(messages: Union[str, Sequence[MessageLike]]) -> int:
    """Fast estimate with no tables: about one token per 4 bytes of text
    (ceil); a message adds 3 for its framing. Thread-safe."""
    return _agentmem.count_tokens_approximate(messages)


def get_context_limit(model: str) -> int:
    """The context window of ``model`` in tokens, from the built-in model
    catalog (exact names, then the longest matching prefix; an unknown model
    gets the catalog default). Thread-safe."""
    return _agentmem.get_context_limit(model)


def model_info(model: str) -> dict:
    """The catalog entry for ``model``: provider, encoding, context window,
    max output, prices (USD per million tokens), ``known``, and where the
    figures come from: ``price_source``/``limits_source`` (a URL) and
    ``price_checked``/``limits_checked`` (the "YYYY-MM-DD" they were last
    compared with it; None: not compared, treat the figure as
    approximate). The provenance fields are None for an unknown model.
    Thread-safe."""
    return _agentmem.model_info(model)


def _like_input(out: dict, sample: Any) -> Any:
    """A new message produced by the C code (an OpenAI-style dict) in the
    flavour of the caller's messages."""
    if sample is None or isinstance(sample, dict):
        return out
    if hasattr(sample, "role"):
        from .conversation import Message
        return Message(role=out["role"], content=out.get("content"),
                       name=out.get("name"))
    try:  # LangChain-style input: give a LangChain message back if we can
        from langchain_core.messages import SystemMessage  # type: ignore
        return SystemMessage(content=out.get("content") or "",
                             name=out.get("name"))
    except ImportError:
        return _SimpleMessage(out)


class _SimpleMessage:
    """A LangChain-shaped message (``.type``, ``.content``, ``.name``) for
    when langchain_core is not installed."""

    _types = {"system": "system", "user": "human", "assistant": "ai",
              "tool": "tool"}

    def __init__(self, d: dict):
        self.type = self._types.get(d["role"], d["role"])
        self.content = d.get("content") or ""
        self.name = d.get("name")

    def __repr__(self) -> str:
        return "Message(type=%r, content=%r)" % (self.type, self.content)


def _with_content(msg: Any, text: str) -> Any:
    if isinstance(msg, dict):
        d = dict(msg)
        d["content"] = text
        return d
    if hasattr(msg, "model_copy"):  # pydantic (LangChain) objects
        return msg.model_copy(update={"content": text})
    m = copy.copy(msg)
    m.content = text
    return m


def trim_messages(messages: Sequence[MessageLike], strategy: str = "last",
                  max_messages: Optional[int] = None,
                  max_tokens: Optional[int] = None,
                  preserve_system: bool = True, *,
                  model: Optional[str] = None, start_on_user: bool = False,
                  end_on_role: Optional[str] = None,
                  allow_partial: bool = False) -> List[MessageLike]:
    """Reduce a history to fit a context window.

    strategy: ``"last"`` keeps the newest messages, ``"first"`` the oldest,
    ``"token"`` the newest within ``max_tokens`` (required). Limits combine:
    ``max_messages`` and ``max_tokens`` may both be given. With
    ``preserve_system`` (default) system messages are always kept (and
    counted). Tokens are estimated (4 bytes a token) unless ``model`` names
    one, e.g. ``model="gpt-4o"`` for exact counts. ``start_on_user``: the
    first kept non-system message is a user message; ``end_on_role``: the
    history ends on that role; ``allow_partial``: the boundary text message
    is cut to fit the budget left (a copy; the input is never modified).

    Returns a new list of the caller's own message objects. Raises
    TypeError/ValueError for bad input -- for messages the trim drops
    anyway (older than what fits), only a bad type or role: their other
    fields are not converted. Thread-safe (GIL released).
    """
    # lazy: only the messages the trim can keep are converted (see
    # py_window.c); the others are checked for their role only.
    r = _agentmem.trim(messages, strategy, max_messages, max_tokens,
                       preserve_system, model, start_on_user, end_on_role,
                       allow_partial, True)
    kept = r["messages"]
    if r["partial_index"] is not None:
        cut = messages[r["partial_index"]]
        for i, m in enumerate(kept):
            if m is cut:
                kept[i] = _with_content(m, r["partial_text"])
                break
    return kept


@dataclass
class SummarizeResult:
    """What :func:`summarize_messages` returns."""
    summary: str
    messages: List[Any] = field(default_factory=list)
    original_count: int = 0
    summarized_count: int = 0
    kept_count: int = 0
    tokens_before: int = 0
    tokens_after: int = 0


def _result(r: dict, messages: Sequence[Any]) -> SummarizeResult:
    sample = messages[0] if len(messages) else None
    out = [_like_input(m, sample) if isinstance(m, dict) and
           not any(m is x for x in messages) else m for m in r["messages"]]
    return SummarizeResult(summary=r["summary"], messages=out,
                           original_count=r["original_count"],
                           summarized_count=r["summarized_count"],
                           kept_count=r["kept_count"],
                           tokens_before=r["tokens_before"],
                           tokens_after=r["tokens_after"])


_PROMPT = ("You maintain a running summary of a conversation for an AI "
           "agent. Merge the previous summary (if any) with the new "
           "messages into one concise summary of at most {budget} tokens. "
           "Keep names, numbers, dates, decisions, errors and open "
           "questions. Answer with the summary only.")


def _llm_summarizer(llm: LLMCallable) -> Callable[[str, list, int], str]:
    """Adapt a chat callable to the C summarizer interface."""
    if not callable(llm):
        raise TypeError("llm must be callable (messages -> reply text)")

    def summarize(prev: str, msgs: list, budget: int) -> str:
        lines = []
        for m in msgs:
            lines.append("%s: %s" % (m["role"], m.get("content") or ""))
            for tc in m.get("tool_calls") or []:
                f = tc["function"]
                lines.append("  -> %s(%s)" % (f["name"], f["arguments"]))
        user = ("Previous summary:\n%s\n\nNew messages:\n%s"
                % (prev or "(none)", "\n".join(lines)))
        reply = llm([{"role": "system", "content": _PROMPT.format(budget=budget)},
                     {"role": "user", "content": user}])
        text = getattr(reply, "content", reply)
        if not isinstance(text, str):
            raise TypeError("the llm callable must return a str (or an "
                            "object with a str .content), not %s"
                            % type(text).__name__)
        return text
    return summarize


def _llm_args(llm, llm_provider, llm_model, base_url, api_key):
    """(summarizer callable, base_url, model, key) from the seed-style
    arguments. ``llm_provider="openai"`` without a base URL uses
    $OPENAI_BASE_URL when set (how to point the samples at a local
    OpenAI-compatible server), else api.openai.com."""
    if llm is not None:
        return _llm_summarizer(llm), None, None, None
    if llm_provider is None and base_url is None:
        return None, None, None, None  # the offline extractive summarizer
    if llm_provider not in (None, "openai"):
        raise ValueError("llm_provider %r: only 'openai' (any "
                         "OpenAI-compatible server, see base_url) or an "
                         "llm callable are supported" % (llm_provider,))
    url = base_url or os.environ.get("OPENAI_BASE_URL") or \
        "https://api.openai.com/v1"
    return None, url, llm_model or "gpt-4o-mini", api_key


def summarize_messages(messages: Sequence[MessageLike], keep_last: int = 5,
                       llm_provider: Optional[str] = None,
                       llm_model: Optional[str] = None, *,
                       llm: Optional[LLMCallable] = None,
                       base_url: Optional[str] = None,
                       api_key: Optional[str] = None,
                       budget: Optional[int] = None,
                       preserve_system: bool = True,
                       model: Optional[str] = None,
                       prev_summary: str = "") -> SummarizeResult:
    """Replace all but the last ``keep_last`` messages with one summary
    message (role system, name "summary"); system messages are kept.

    The summarizer is, in order: ``llm`` (a chat callable, called from the
    C code), an OpenAI-compatible server (``llm_provider="openai"`` and/or
    ``base_url``, model ``llm_model``), else the offline extractive
    summarizer (deterministic, no network). A turn group is never split.

    Raises TypeError/ValueError for bad input; the llm callable's own
    exception; :class:`agentmem.NetworkError`, ``AuthError``,
    ``ProtocolError`` for server failures. Thread-safe (GIL released).
    """
    fn, url, lm, key = _llm_args(llm, llm_provider, llm_model, base_url,
                                 api_key)
    r = _agentmem.summarize(messages, keep_last, budget, preserve_system,
                            model, prev_summary, fn, url, lm, key)
    return _result(r, messages)


async def asummarize_messages(messages: Sequence[MessageLike],
                              keep_last: int = 5, **kwargs: Any
                              ) -> SummarizeResult:
    """:func:`summarize_messages` in a worker thread (the C call releases
    the GIL, so the event loop keeps running)."""
    return await asyncio.to_thread(summarize_messages, messages, keep_last,
                                   **kwargs)


class SummarizationMiddleware:
    """Summarize automatically when a history grows past a trigger.

    Keeps a running summary: each :meth:`process` folds only the newly
    evicted messages into it. Pass the history *after* the previous
    process() output (its summary message is recognised).

    Thread safety: calls on one middleware are serialized by a lock.
    """

    def __init__(self, trigger_tokens: Optional[int] = None,
                 trigger_messages: Optional[int] = None, keep_last: int = 10,
                 *, budget: Optional[int] = None, model: Optional[str] = None,
                 llm: Optional[LLMCallable] = None,
                 llm_provider: Optional[str] = None,
                 llm_model: Optional[str] = None,
                 base_url: Optional[str] = None,
                 api_key: Optional[str] = None):
        fn, url, lm, key = _llm_args(llm, llm_provider, llm_model, base_url,
                                     api_key)
        self.trigger_tokens = trigger_tokens
        self.trigger_messages = trigger_messages
        self.keep_last = keep_last
        self._mw = _agentmem._Middleware(
            trigger_tokens=trigger_tokens, trigger_messages=trigger_messages,
            keep_last=keep_last, budget=budget, model=model, summarizer=fn,
            base_url=url, llm_model=lm, api_key=key)

    def should_summarize(self, messages: Sequence[MessageLike]) -> bool:
        """True when ``messages`` crosses a trigger."""
        return self._mw.should_summarize(messages)

    def process(self, messages: Sequence[MessageLike]) -> SummarizeResult:
        """Summarize if a trigger is crossed; otherwise the result holds the
        input unchanged (summarized_count 0)."""
        return _result(self._mw._process(messages), messages)

    @property
    def summary(self) -> str:
        """The running summary so far ("" before the first summary)."""
        return self._mw.summary
