"""Long-term memory (seed 001): the namespaced key-value store with TTL and
semantic search (``ai_infra.llm.memory.MemoryStore``), and conversation
recall (``ai_infra.llm.tools.custom.ConversationMemory``,
``create_memory_tool``).

Both sit on one libagentmem store (SQLite: ``":memory:"`` or a file).
Search is hybrid: BM25 full text fused with vector similarity from the
offline embedder (word vectors, shipped in the package; or hashed n-grams
when asked for), with no network. ``MemoryStore.postgres(url)`` opens the C library's PostgreSQL
backend (several processes and machines share one store).

Thread safety: a store may be shared by any number of threads (calls run
without the GIL; ``close()`` waits for calls in flight). Close it with
``close()`` or a ``with`` block; garbage collection closes it too.
"""
from __future__ import annotations

import asyncio
import json
import os
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Union

from . import _agentmem
from ._agentmem import UnsupportedError  # noqa: F401 (documented error)

__all__ = ["MemoryItem", "MemoryStore", "ConversationMemory",
           "ConversationChunk", "SearchResult", "MemoryTool",
           "create_memory_tool", "create_memory_tool_async", "extract_names"]

Namespace = Union[Tuple[str, ...], List[str], str]


def extract_names(text: str, exclude: Sequence[str] = ()) -> List[str]:
    """The proper names ``text`` mentions, distinct, in order of first
    mention (C ``am_text_names``): capitalised ASCII words that do not
    open a sentence and are not habitual capitals ("Yeah"), leaving out
    ``exclude`` (pass the speakers). Store the list in an item's metadata
    and name that field in ``MemoryStore.search(names_field=...)``."""
    return _agentmem.text_names(text, list(exclude))


@dataclass
class MemoryItem:
    """An item returned by :class:`MemoryStore` (times are seconds since
    the epoch; ``expires_at`` None: never)."""
    namespace: Tuple[str, ...]
    key: str
    value: Any
    metadata: Dict[str, Any] = field(default_factory=dict)
    created_at: float = 0.0
    updated_at: float = 0.0
    expires_at: Optional[float] = None
    score: Optional[float] = None

    @classmethod
    def _from(cls, d: Dict[str, Any], scored: bool = False) -> "MemoryItem":
        return cls(namespace=d["namespace"], key=d["key"], value=d["value"],
                   metadata=d["meta"] or {},
                   created_at=d["created_ms"] / 1000.0,
                   updated_at=d["updated_ms"] / 1000.0,
                   expires_at=d["expires_ms"] / 1000.0 if d["expires_ms"] else None,
                   score=d["score"] if scored else None)


def _json(value: Any, what: str) -> str:
    try:
        return json.dumps(value, ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as e:
        raise TypeError("%s must be JSON-serializable: %s" % (what, e)) from None


def _ttl_ms(ttl: Optional[float]) -> int:
    if ttl is None:
        return 0
    if isinstance(ttl, bool) or not isinstance(ttl, (int, float)):
        raise TypeError("ttl must be a number of seconds or None")
    if not ttl > 0 or ttl > 1e15:
        raise ValueError("ttl must be > 0 seconds (and finite), not %r" % (ttl,))
    return max(1, int(ttl * 1000))


class MemoryStore:
    """Namespaced key-value memories with TTL and semantic search.

    ``MemoryStore()`` keeps everything in memory; ``MemoryStore.sqlite(path)``
    in a SQLite file (WAL, safe for several processes);
    ``MemoryStore.postgres(url)`` in PostgreSQL.
    Embeddings come from libagentmem's offline embedder
    (``embedder="default"``: the word vectors, which pip install copies
    into the package, :class:`agentmem.NotFoundError` naming every place
    looked in when they were not there to copy -- it never switches to
    another embedder by itself, since a store's vectors belong to the
    embedder that made them; ``"hash"``: hashed n-grams, no file; or
    ``"none"``); ``embedding_provider`` other than None/"local" raises
    :class:`agentmem.UnsupportedError`.

    Errors: :class:`agentmem.StorageError` (file or database),
    :class:`agentmem.BusyError`, TypeError/ValueError for bad arguments.
    """

    def __init__(self, embedding_provider: Optional[str] = None,
                 embedding_model: Optional[str] = None, *,
                 path: Union[str, os.PathLike] = ":memory:",
                 embedder: str = "default"):
        if embedding_provider not in (None, "local", "offline"):
            raise UnsupportedError(
                "embedding_provider %r: the Python package embeds with "
                "libagentmem's offline embedder only (leave "
                "embedding_provider unset)" % (embedding_provider,))
        self.embedding_provider = embedding_provider
        self.embedding_model = embedding_model
        self._s = _agentmem._Store(path, embedder)

    @classmethod
    def sqlite(cls, path: Union[str, os.PathLike], **kw: Any) -> "MemoryStore":
        """A store in the SQLite file ``path`` (created if needed)."""
        return cls(path=path, **kw)

    @classmethod
    def postgres(cls, url: str, **kw: Any) -> "MemoryStore":
        """A store in PostgreSQL at ``url`` (postgresql://user@host/db,
        optionally /schema). Raises :class:`agentmem.StorageError` naming
        the target (never its password) when the server cannot be
        reached."""
        if not isinstance(url, str) or not url.startswith(("postgres://", "postgresql://")):
            raise ValueError("url must start with postgres:// or postgresql://")
        return cls(path=url, **kw)

    # -- life cycle --
    def close(self) -> None:
        """Close the database (idempotent; waits for calls in flight)."""
        self._s.close()

    @property
    def closed(self) -> bool:
        return self._s.closed

    def __enter__(self) -> "MemoryStore":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # -- items --
    def put(self, namespace: Namespace, key: str, value: Any,
            ttl: Optional[float] = None, *,
            metadata: Optional[Dict[str, Any]] = None,
            text: Optional[str] = None) -> None:
        """Insert or replace the item at (namespace, key). ``value`` is any
        JSON value; ``ttl`` in seconds; ``text`` is what search indexes
        (default: the string leaves of the value)."""
        meta = None if metadata is None else _json(metadata, "metadata")
        self._s.put(namespace, key, _json(value, "value"), text,
                    _ttl_ms(ttl), meta)

    def get(self, namespace: Namespace, key: str) -> Optional[MemoryItem]:
        """The live item, or None (absent, deleted or expired)."""
        d = self._s.get(namespace, key)
        return None if d is None else MemoryItem._from(d)

    def delete(self, namespace: Namespace, key: str) -> bool:
        """Delete the item; False when there was none."""
        return self._s.delete(namespace, key)

    def list(self, namespace: Namespace, limit: int = 100,
             offset: int = 0) -> List[MemoryItem]:
        """Live items under the namespace prefix (all depths), by namespace
        then key."""
        return [MemoryItem._from(d) for d in self._s.list(namespace, limit, offset)]

    def search(self, namespace: Namespace, query: str, limit: int = 10, *,
               mode: str = "hybrid",
               filter: Optional[Dict[str, Any]] = None,
               names_field: Optional[str] = None,
               names_bonus: float = 0.0
               ) -> List[Tuple[MemoryItem, float]]:
        """(item, score) pairs under the namespace prefix, best first.
        ``mode``: "hybrid" (default), "text" (BM25) or "vector" (cosine);
        ``filter``: metadata fields that must be equal.
        ``names_field``: a metadata field listing the proper names each
        item's text mentions (``extract_names`` writes such a list); an
        item naming one the query does not has its score s raised to
        s + names_bonus * (1 - s) (``names_bonus`` in [0, 1], 0: the
        library's default 0.03), as the CLI's ``--names-field``/``--names``
        and ``am_search.names_field`` in C."""
        f = None if filter is None else _json(filter, "filter")
        return [(MemoryItem._from(d, True), d["score"])
                for d in self._s.search(namespace, query, limit, mode, f,
                                        names_field, names_bonus)]

    def purge(self) -> int:
        """Remove expired and deleted items for good; how many."""
        return self._s.purge()

    # -- scopes: ("user", id), ("session", id), ("global",) --
    def put_user_memory(self, user_id: str, key: str, value: Any,
                        ttl: Optional[float] = None) -> None:
        self.put(("user", user_id), key, value, ttl)

    def get_user_memory(self, user_id: str, key: str) -> Optional[MemoryItem]:
        return self.get(("user", user_id), key)

    def search_user_memories(self, user_id: str, query: str,
                             limit: int = 10) -> List[Tuple[MemoryItem, float]]:
        return self.search(("user", user_id), query, limit)

    def put_session_memory(self, session_id: str, key: str, value: Any,
                           ttl: Optional[float] = None) -> None:
        self.put(("session", session_id), key, value, ttl)

    def get_session_memory(self, session_id: str, key: str) -> Optional[MemoryItem]:
        return self.get(("session", session_id), key)

    def put_global_memory(self, key: str, value: Any,
                          ttl: Optional[float] = None) -> None:
        self.put(("global",), key, value, ttl)

    def get_global_memory(self, key: str) -> Optional[MemoryItem]:
        return self.get(("global",), key)


@dataclass
class ConversationChunk:
    """A chunk of an indexed conversation."""
    session_id: str
    text: str
    summary: Optional[str] = None
    first: int = 0
    last: int = 0
    metadata: Dict[str, Any] = field(default_factory=dict)


@dataclass
class SearchResult:
    """A conversation search hit."""
    chunk: ConversationChunk
    score: float


def _plain_messages(messages: Sequence[Any]) -> str:
    """JSON [{role, content}] for the recall indexer, from any message
    shape (content flattened to text by the C library)."""
    dicts = _agentmem.from_json(_agentmem.to_json(list(messages), "agentmem"))
    out = []
    for d in dicts:
        c = d.get("content")
        if isinstance(c, list):
            c = "\n".join(p.get("text", "") for p in c if isinstance(p, dict))
        elif isinstance(c, dict):
            c = json.dumps(c, ensure_ascii=False)
        if not c and d.get("tool_calls"):
            c = "\n".join("%s(%s)" % (t["name"], t.get("arguments", ""))
                          for t in d["tool_calls"])
        out.append({"role": d["role"], "content": c or ""})
    return json.dumps(out, ensure_ascii=False)


def _offline_chunk_summary(text: str) -> str:
    from .context import summarize_messages
    r = summarize_messages([{"role": "user", "content": text}], keep_last=0)
    return r.summary


class ConversationMemory:
    """Index finished conversations and search them (per user).

    Conversations are cut into chunks of ``chunk_size`` messages
    overlapping by ``chunk_overlap``; with ``include_summary`` each chunk
    gets a summary (the offline extractive summarizer, or ``summarizer``:
    a callable chunk_text -> str). ``backend``: "memory" (default),
    "sqlite" (``path``) or "postgres" (``connection_string``), or pass an
    existing ``store``. One user's search never sees another user's chunks.
    ``names_field``: each chunk's proper names (``extract_names``) are
    stored in that metadata field, and searches and the memory tool raise
    chunks naming what the query does not, by ``names_bonus`` (0: the
    library's 0.03): the store's names bonus (C ``am_recall_opts`` and
    ``am_recall_search_opts.names_field``, the CLI's ``--names-field``).
    """

    def __init__(self, embedding_provider: Optional[str] = None,
                 embedding_model: Optional[str] = None, *,
                 backend: str = "memory",
                 path: Optional[Union[str, os.PathLike]] = None,
                 connection_string: Optional[str] = None,
                 store: Optional[MemoryStore] = None,
                 chunk_size: int = 10, chunk_overlap: int = 2,
                 include_summary: bool = False,
                 summarizer: Optional[Callable[[str], str]] = None,
                 names_field: Optional[str] = None,
                 names_bonus: float = 0.0):
        if store is None:
            if backend == "memory":
                store = MemoryStore(embedding_provider, embedding_model)
            elif backend == "sqlite":
                if path is None:
                    raise ValueError("backend 'sqlite' needs path=")
                store = MemoryStore.sqlite(path)
            elif backend in ("postgres", "postgresql"):
                if not connection_string:
                    raise ValueError("backend 'postgres' needs connection_string=")
                store = MemoryStore.postgres(connection_string)
            else:
                raise ValueError("backend must be 'memory', 'sqlite' or "
                                 "'postgres', not %r" % (backend,))
        if not isinstance(chunk_size, int) or chunk_size <= 0:
            raise ValueError("chunk_size must be a positive int")
        if not isinstance(chunk_overlap, int) or not 0 <= chunk_overlap < chunk_size:
            raise ValueError("chunk_overlap must be >= 0 and < chunk_size")
        self.store = store
        self.chunk_size = chunk_size
        self.chunk_overlap = chunk_overlap
        self.include_summary = include_summary
        self._summarize = summarizer or (_offline_chunk_summary
                                         if include_summary else None)
        # The C library's rule for the names (a bonus needs a field; in
        # [0, 1]), checked now rather than at the first search.
        _agentmem.recall_tool_def(names_field=names_field,
                                  names_bonus=names_bonus)
        self.names_field = names_field
        self.names_bonus = names_bonus

    def index_conversation(self, user_id: str, session_id: str,
                           messages: Sequence[Any],
                           metadata: Optional[Dict[str, Any]] = None) -> int:
        """Index (or re-index) one conversation; returns the chunk count."""
        meta = None if metadata is None else _json(metadata, "metadata")
        return self.store._s.recall_index(
            user_id, session_id, _plain_messages(messages), self.chunk_size,
            self.chunk_overlap, meta, self._summarize, self.names_field)

    def search(self, user_id: str, query: str, limit: int = 5) -> List[SearchResult]:
        """The user's best-matching chunks (hybrid search), best first."""
        hits = self.store._s.recall_search(user_id, query, limit,
                                           self.names_field, self.names_bonus)
        return [SearchResult(ConversationChunk(
            session_id=h["session_id"], text=h["text"],
            summary=h.get("summary") or None, first=h.get("first", 0),
            last=h.get("last", 0), metadata=h.get("metadata") or {}),
            h["score"]) for h in hits]

    async def aindex_conversation(self, user_id: str, session_id: str,
                                  messages: Sequence[Any],
                                  metadata: Optional[Dict[str, Any]] = None) -> int:
        return await asyncio.to_thread(self.index_conversation, user_id,
                                       session_id, messages, metadata)

    async def asearch(self, user_id: str, query: str,
                      limit: int = 5) -> List[SearchResult]:
        return await asyncio.to_thread(self.search, user_id, query, limit)

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> "ConversationMemory":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class MemoryTool:
    """The recall tool for one user: call it with a query to get the
    excerpts text; :meth:`definition` gives the function-tool schema for
    OpenAI or Anthropic, :meth:`handle` answers a model's tool call with
    the tool-result message (both by libagentmem)."""

    def __init__(self, memory: ConversationMemory, user_id: str, name: str,
                 description: Optional[str], limit: int):
        self.memory = memory
        self.user_id = user_id
        self.name = name
        self.limit = limit
        # Validates name, description and limit the way the C library does.
        self._def = _agentmem.recall_tool_def("openai", name, description, limit)
        self.description = self._def["function"]["description"]

    def definition(self, format: str = "openai") -> Dict[str, Any]:
        return _agentmem.recall_tool_def(format, self.name, self.description,
                                         self.limit)

    def handle(self, tool_call: Dict[str, Any], format: str = "openai") -> Dict[str, Any]:
        """The tool-result message for a model's tool call (an OpenAI
        tool_calls entry or an Anthropic tool_use block)."""
        return self.memory.store._s.recall_tool_call(
            self.user_id, json.dumps(tool_call), format, self.name,
            self.description, self.limit, self.memory.names_field,
            self.memory.names_bonus)

    def __call__(self, query: str, limit: Optional[int] = None) -> str:
        args: Dict[str, Any] = {"query": query}
        if limit is not None:
            args["limit"] = limit
        msg = self.handle({"id": "call_0", "type": "function",
                           "function": {"name": self.name,
                                        "arguments": json.dumps(args)}})
        return msg["content"]

    async def ainvoke(self, query: str, limit: Optional[int] = None) -> str:
        return await asyncio.to_thread(self, query, limit)


def create_memory_tool(memory: ConversationMemory, user_id: str,
                       name: str = "recall_past_conversations",
                       description: Optional[str] = None,
                       limit: int = 3) -> MemoryTool:
    """A recall tool scoped to ``user_id`` (see :class:`MemoryTool`)."""
    if not isinstance(memory, ConversationMemory):
        raise TypeError("memory must be an agentmem.store.ConversationMemory")
    return MemoryTool(memory, user_id, name, description, limit)


def create_memory_tool_async(memory: ConversationMemory, user_id: str,
                             **kw: Any) -> MemoryTool:
    """The same tool; await ``tool.ainvoke(query)``."""
    return create_memory_tool(memory, user_id, **kw)
