"""LLM chat calls run by libagentmem's executor (async.h): C worker
threads make the HTTP calls without the GIL, and asyncio learns that a
call finished from the executor's completion descriptor
(``loop.add_reader``), so an ``await`` needs no Python thread and never
blocks the event loop.

    async with AsyncLLM("http://127.0.0.1:8080/v1", model="local") as llm:
        reply = await llm.chat([{"role": "user", "content": "Hi"}])
        print(reply.text, reply.output_tokens)

Cancelling the awaiting task cancels the call: a queued call never runs,
a running one aborts its HTTP transfer (within about a second). Without
asyncio, :meth:`AsyncLLM.submit` returns a :class:`ChatJob` to
``wait()`` for.

Thread safety: an AsyncLLM may be used from several threads for
``submit``; awaiting its calls belongs to one event loop at a time.
"""
from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass
from typing import Any, Dict, Optional, Sequence

from . import _agentmem

__all__ = ["AsyncLLM", "ChatJob", "ChatReply"]


@dataclass
class ChatReply:
    """The assistant's ``text`` and what the call reported: token usage
    (``usage_reported`` False when the reply had none), the provider's
    ``finish_reason`` and ``model``, ``http_status``, ``attempts`` (1 +
    retries) and ``elapsed_ms``."""
    text: str
    finish_reason: str
    input_tokens: int
    output_tokens: int
    cached_tokens: int
    usage_reported: bool
    model: str
    http_status: int
    attempts: int
    elapsed_ms: int


def _reply(job: Any) -> ChatReply:
    text, info = job.result()
    return ChatReply(text=text, **info)


class ChatJob:
    """One submitted chat call. :meth:`wait` blocks (the GIL released),
    :meth:`result` gives the :class:`ChatReply` or raises the call's error
    (:class:`agentmem.NetworkError`, ``AuthError``, ``ProtocolError``,
    ``TimedOutError``, ``CanceledError``...; :class:`agentmem.StateError`
    while it runs), :meth:`cancel` stops it. Dropping the last reference
    to an unfinished job cancels it."""

    __slots__ = ("_job",)

    def __init__(self, job: Any):
        self._job = job

    def done(self) -> bool:
        return self._job.done()

    def wait(self, timeout: Optional[float] = None) -> bool:
        """Wait up to ``timeout`` seconds (None: for ever); True when
        done."""
        return self._job.wait(timeout)

    def cancel(self) -> bool:
        """Ask the call to stop; False when it had already finished."""
        return self._job.cancel()

    def result(self) -> ChatReply:
        return _reply(self._job)


class AsyncLLM:
    """An OpenAI-compatible chat client whose calls run on libagentmem's
    executor (``threads`` C workers, at most ``max_queued`` calls waiting;
    one more is :class:`agentmem.LimitError`).

    ``base_url`` defaults to $OPENAI_BASE_URL, then the OpenAI API; the
    API key to ``api_key``, else what the C client reads from the
    environment. Bad options raise :class:`agentmem.InvalidArgumentError`
    naming them. Close it (or use ``with``/``async with``) to stop the
    workers; calls still running are cancelled."""

    def __init__(self, base_url: Optional[str] = None,
                 model: str = "gpt-4o-mini", api_key: Optional[str] = None,
                 *, threads: int = 2, max_queued: int = 64):
        url = base_url or os.environ.get("OPENAI_BASE_URL") or \
            "https://api.openai.com/v1"
        self._llm = _agentmem._LLM(url, model, api_key)
        self._ex = _agentmem._Executor(threads, max_queued)
        self._fd = self._ex.fileno()
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._futures: Dict[Any, asyncio.Future] = {}

    def submit(self, messages: Sequence[Any], *,
               system: Optional[str] = None,
               max_tokens: Optional[int] = None,
               temperature: Optional[float] = None) -> ChatJob:
        """Start a chat call and return at once. ``messages`` are
        OpenAI-style dicts, agentmem Messages or LangChain-style
        messages (sent in OpenAI form). TypeError/ValueError for bad
        messages or options."""
        return ChatJob(self._ex.chat(self._llm, messages, system,
                                     max_tokens, temperature, False))

    async def chat(self, messages: Sequence[Any], *,
                   system: Optional[str] = None,
                   max_tokens: Optional[int] = None,
                   temperature: Optional[float] = None) -> ChatReply:
        """The call's :class:`ChatReply`, awaited without blocking the
        event loop; its error is raised here. Cancelling the awaiting
        task cancels the call."""
        loop = asyncio.get_running_loop()
        if self._loop is not loop:
            if self._futures:
                raise RuntimeError("AsyncLLM calls are awaited on another "
                                   "event loop")
            self._loop = loop
        job = self._ex.chat(self._llm, messages, system, max_tokens,
                            temperature)
        fut = loop.create_future()
        if not self._futures:
            loop.add_reader(self._fd, self._on_ready)
        self._futures[job] = fut
        try:
            return await fut
        except asyncio.CancelledError:
            job.cancel()
            raise
        finally:
            self._futures.pop(job, None)
            if not self._futures:
                loop.remove_reader(self._fd)

    def _on_ready(self) -> None:
        for job in self._ex.reap():
            fut = self._futures.get(job)
            if fut is None or fut.done():
                continue  # its task was cancelled meanwhile
            try:
                fut.set_result(_reply(job))
            except Exception as e:  # the call's own error
                fut.set_exception(e)

    def close(self) -> None:
        """Stop the workers (running calls are cancelled and waited
        for). Idempotent."""
        if self._loop is not None and self._futures:
            self._loop.remove_reader(self._fd)
            self._futures.clear()
        self._ex.close()

    def __enter__(self) -> "AsyncLLM":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    async def __aenter__(self) -> "AsyncLLM":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        self.close()
