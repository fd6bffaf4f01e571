"""Hierarchical memory tiers (seed 003): working, short-term, long-term and
archive, with promotion on use, demotion on capacity and neglect, a
compressed archive and optional SQLite persistence -- all in libagentmem.

Also :class:`MemoryIndex` (type, importance, time, tag and custom
indexes), :class:`MemoryLifecycleManager` (policies with Python conditions
and actions, archive and restore), :class:`PersistentMemoryStore` and
:class:`ProductionMemorySystem`, all over the same C handle type.

Thread safety: a HierarchicalMemoryManager may be shared between threads
(the C handle has a mutex). store/retrieve keep the GIL (they are hash-table
operations) until a Python callback (custom index, policy) is registered;
optimize/apply_policies/flush/close release it. Callbacks run on the
calling thread, inside the C call; an exception they raise propagates
from it.
"""
from __future__ import annotations

import json
import math
import os
from datetime import datetime
from enum import Enum
from typing import Any, Callable, Dict, List, Optional, Union

from . import _agentmem

__all__ = ["MemoryTier", "MemoryItem", "HierarchicalMemoryManager",
           "MemoryIndex", "MemoryLifecycleManager", "PersistentMemoryStore",
           "ProductionMemorySystem"]


class MemoryTier(Enum):
    """Memory storage tiers, hottest first."""
    WORKING = "working"
    SHORT_TERM = "short_term"
    LONG_TERM = "long_term"
    ARCHIVE = "archive"


_C_TIER = {"working": MemoryTier.WORKING, "short-term": MemoryTier.SHORT_TERM,
           "short_term": MemoryTier.SHORT_TERM,
           "long-term": MemoryTier.LONG_TERM, "long_term": MemoryTier.LONG_TERM,
           "archive": MemoryTier.ARCHIVE}


class MemoryItem(_agentmem._TierItem):
    """An item as the tiers report it: ``id``, ``content``, ``tier``,
    ``created_at``, ``last_accessed`` (datetimes), ``access_count``,
    ``importance``, ``metadata``.

    The managers return snapshots: a returned item does not change when
    the stored one moves later, and changing it (its fields are
    assignable, as in the seed's dataclass) changes nothing stored until
    it is stored again. ``MemoryItem(id, content, tier, created_at,
    last_accessed, access_count=0, importance=0.5, metadata=None)`` builds
    one, e.g. for :meth:`MemoryIndex.index_item` or
    :meth:`PersistentMemoryStore.save_item`; the times default to now.
    Assigning a wrong type raises TypeError, an importance outside [0, 1]
    or an unknown tier ValueError. ``metadata`` is rebuilt on each read
    (a copy): assign a new dict to change it. Not thread-safe to mutate
    from two threads at once (plain attributes)."""

    __slots__ = ()

    def __init__(self, id: str, content: Any,
                 tier: Union[MemoryTier, str] = MemoryTier.WORKING,
                 created_at: Optional[datetime] = None,
                 last_accessed: Optional[datetime] = None,
                 access_count: int = 0, importance: float = 0.5,
                 metadata: Optional[Dict[str, Any]] = None):
        now = datetime.now()
        self.id = id
        self.content = content
        self.tier = tier
        self.created_at = created_at if created_at is not None else now
        self.last_accessed = (last_accessed if last_accessed is not None
                              else self.created_at)
        self.access_count = access_count
        self.importance = importance
        self.metadata = metadata if metadata is not None else {}

    def update_access(self) -> None:
        """Record an access on this item (the seed's method):
        ``last_accessed`` becomes now and ``access_count`` grows by one.
        It changes this snapshot only; a manager records accesses itself
        on :meth:`HierarchicalMemoryManager.retrieve`."""
        self.last_accessed = datetime.now()
        self.access_count += 1

    @property
    def tier(self) -> MemoryTier:
        return _C_TIER[self.tier_name]

    @tier.setter
    def tier(self, value: Union[MemoryTier, str]) -> None:
        self.tier_name = value

    @property
    def created_at(self) -> datetime:
        return datetime.fromtimestamp(self.created_ms / 1000.0)

    @created_at.setter
    def created_at(self, value: datetime) -> None:
        self.created_ms = _ms_of(value, "created_at")

    @property
    def last_accessed(self) -> datetime:
        return datetime.fromtimestamp(self.accessed_ms / 1000.0)

    @last_accessed.setter
    def last_accessed(self, value: datetime) -> None:
        self.accessed_ms = _ms_of(value, "last_accessed")

    @property
    def metadata(self) -> Dict[str, Any]:
        meta = json.loads(self.extra) if self.extra else {}
        if self.item_type is not None:
            meta["type"] = self.item_type
        if self.tags:
            meta["tags"] = list(self.tags)
        return meta

    @metadata.setter
    def metadata(self, value: Dict[str, Any]) -> None:
        if not isinstance(value, dict):
            raise TypeError("MemoryItem.metadata must be a dict, not %s"
                            % type(value).__name__)
        rest = {k: v for k, v in value.items() if k not in ("type", "tags")}
        extra = json.dumps(rest) if rest else None  # TypeError if not JSON
        self.item_type = value.get("type")
        self.tags = value.get("tags")
        self.extra = extra

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, MemoryItem):
            return NotImplemented
        return ((self.id, self.content, self.tier_name, self.created_ms,
                 self.accessed_ms, self.access_count, self.importance,
                 self.metadata) ==
                (other.id, other.content, other.tier_name, other.created_ms,
                 other.accessed_ms, other.access_count, other.importance,
                 other.metadata))

    __hash__ = None  # type: ignore[assignment]  # mutable, as the seed's

    def __repr__(self) -> str:
        return "MemoryItem(id=%r, tier=%s, importance=%r)" % (
            self.id, self.tier.name, self.importance)


def _ms_of(value: datetime, name: str) -> int:
    if not isinstance(value, datetime):
        raise TypeError("MemoryItem.%s must be a datetime, not %s"
                        % (name, type(value).__name__))
    # Milliseconds, as C keeps them; floor, so that a time read back is
    # never later than the one given.
    return math.floor(value.timestamp() * 1000)


_agentmem._set_tier_item_class(MemoryItem, MemoryTier)


def _tier_name(tier: Union[MemoryTier, str]) -> str:
    return tier.value if isinstance(tier, MemoryTier) else tier


class HierarchicalMemoryManager:
    """Items in four tiers with automatic promotion and demotion.

    Storing into a full tier first demotes its lowest-scoring 10% one tier
    down; retrieving promotes an item one tier up when it was accessed 3+
    times in the last hour or its importance is above 0.8;
    :meth:`optimize_memory` demotes idle, rarely used working and
    short-term items. With ``db_path`` everything persists in SQLite
    (write-behind; on disk after :meth:`flush` or :meth:`close`).

    Errors: ValueError/TypeError for bad ids, importance outside [0, 1],
    unknown tiers or content that is neither str nor JSON-serializable;
    :class:`agentmem.StorageError` for database failures.
    """

    def __init__(self, working_capacity: int = 100,
                 short_term_capacity: int = 1000,
                 long_term_capacity: Optional[int] = None, *,
                 db_path: Optional[Union[str, os.PathLike]] = None,
                 flush_interval_ms: Optional[int] = None,
                 default_policies: bool = True):
        self._t = _agentmem._Tiers(working_capacity, short_term_capacity,
                                   long_term_capacity or 0, db_path,
                                   flush_interval_ms, default_policies)
        # The hot calls go straight to C (no Python frame in between:
        # about 200 ns of a 1.5 us call); the methods below document
        # them. A subclass that overrides one keeps its own.
        cls = type(self)
        if cls.store is HierarchicalMemoryManager.store:
            self.store = self._t.store  # type: ignore[method-assign]
        if cls.retrieve is HierarchicalMemoryManager.retrieve:
            self.retrieve = self._t.retrieve  # type: ignore[method-assign]
        if cls.peek is HierarchicalMemoryManager.peek:
            self.peek = self._t.peek  # type: ignore[method-assign]
        self.capacities = {MemoryTier.WORKING: working_capacity,
                           MemoryTier.SHORT_TERM: short_term_capacity,
                           MemoryTier.LONG_TERM: long_term_capacity or float("inf")}

    def store(self, item_id: str, content: Any, importance: float = 0.5,
              tier: Union[MemoryTier, str] = MemoryTier.WORKING,
              metadata: Optional[Dict[str, Any]] = None) -> MemoryItem:
        """Store (or replace) an item; returns it. ``metadata`` may carry
        "type" and "tags" (indexed) and any other JSON fields. Content
        that is not a str is stored as JSON and comes back decoded."""
        return self._t.store(item_id, content, importance, tier, metadata)

    def retrieve(self, item_id: str) -> Optional[MemoryItem]:
        """The item (recording the access, maybe promoting it), or None."""
        return self._t.retrieve(item_id)

    def peek(self, item_id: str) -> Optional[MemoryItem]:
        """The item without recording an access, or None."""
        return self._t.peek(item_id)

    def delete(self, item_id: str) -> bool:
        return self._t.delete(item_id)

    def archive(self, item_id: str) -> None:
        """Move an item to the (compressed) archive."""
        self._t.archive(item_id)

    def restore(self, item_id: str) -> None:
        """Bring an archived item back to short-term, byte-identical."""
        self._t.restore(item_id)

    def search(self, type: Optional[str] = None,
               tags: Optional[List[str]] = None,
               min_importance: Optional[float] = None,
               max_importance: Optional[float] = None,
               recent_days: Optional[int] = None,
               tiers: Optional[List[Union[MemoryTier, str]]] = None,
               limit: Optional[int] = None,
               peek: bool = False) -> List[MemoryItem]:
        """Items matching every filter given (metadata type, all of
        ``tags``, an importance range, created in the last
        ``recent_days`` days, in ``tiers``), in creation order, at most
        ``limit``, answered by the C indexes. Each is an access (it may be
        promoted) unless ``peek``."""
        ids = self._t.search(
            type=type, tags=tags, min_importance=min_importance,
            max_importance=max_importance, recent_days=recent_days,
            tiers=[_tier_name(t) for t in tiers] if tiers is not None
            else None, limit=limit, peek=peek)
        out = []
        for i in ids:
            it = self._t.peek(i)
            if it is not None:
                out.append(it)
        return out

    def optimize_memory(self) -> int:
        """Demote idle (> 24 h), rarely used (< 2 accesses) working and
        short-term items; returns how many moved."""
        return self._t.optimize()

    def get_tier_stats(self) -> Dict[str, Dict[str, Any]]:
        """Per tier (by MemoryTier value): count, capacity (inf when
        unbounded), utilization, avg_importance, avg_age_hours."""
        out = {}
        for name, s in self._t.stats().items():
            s = dict(s)
            if not s["capacity"]:
                s["capacity"] = float("inf")
            out[_C_TIER[name].value] = s
        return out

    def __len__(self) -> int:
        return self._t.count()

    def flush(self) -> None:
        self._t.flush()

    def close(self) -> None:
        """Flush and close (idempotent)."""
        self._t.close()

    def __enter__(self) -> "HierarchicalMemoryManager":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


# ---- Search, indexes, lifecycle, persistence (the rest of seed 003) ----

def _search(mgr: HierarchicalMemoryManager, **q: Any) -> List[str]:
    return mgr._t.search(**q)


class MemoryIndex:
    """Multi-dimensional lookups (type, importance, time, tag, custom
    indexes) answered by the C handle's own indexes.

    ``MemoryIndex(manager)`` queries ``manager``, whose items are indexed
    as they are stored (:meth:`index_item` only checks that the item is
    there). ``MemoryIndex()`` keeps a private in-memory handle that
    :meth:`index_item` copies each item's metadata into (not its content);
    there the creation time is the time of indexing. Queries are peeks:
    they do not count as accesses. Returns item ids in creation order.
    Thread safety: safe (every call is one call on the C handle).
    """

    def __init__(self, manager: Optional[HierarchicalMemoryManager] = None):
        self._own = manager is None
        self.manager = manager if manager is not None else \
            HierarchicalMemoryManager(0, 0, 0, default_policies=False)

    def index_item(self, item: MemoryItem) -> None:
        """Make ``item`` findable (a copy of its metadata in a private
        index; with a manager, items are indexed when stored)."""
        if not isinstance(item, _agentmem._TierItem):
            raise TypeError("index_item takes a MemoryItem, not %s"
                            % type(item).__name__)
        if self._own:
            self.manager.store(item.id, "", item.importance,
                               metadata={k: v for k, v in item.metadata.items()
                                         if k in ("type", "tags")})
        elif self.manager.peek(item.id) is None:
            raise _agentmem.NotFoundError(
                "item %r is not in the indexed manager" % (item.id,))

    def find_by_type(self, item_type: str) -> List[str]:
        """Ids of the items whose metadata type is ``item_type``."""
        return _search(self.manager, type=item_type, peek=True)

    def find_by_importance_range(self, min_importance: float,
                                 max_importance: float) -> List[str]:
        """Ids with min_importance <= importance <= max_importance (exact
        bounds, not the seed's 0.1 buckets)."""
        return _search(self.manager, min_importance=min_importance,
                       max_importance=max_importance, peek=True)

    def find_by_tag(self, tag: str) -> List[str]:
        """Ids of the items tagged ``tag``."""
        return _search(self.manager, tags=[tag], peek=True)

    def find_recent(self, days: int = 7) -> List[str]:
        """Ids created on a (UTC) day no earlier than ``days`` days ago."""
        if days == 0:
            return _search(self.manager, created_from_ms=_day_start_ms(),
                           peek=True)
        return _search(self.manager, recent_days=days, peek=True)

    def create_custom_index(self, index_name: str,
                            key_extractor: Callable[[MemoryItem], Any]
                            ) -> None:
        """Index every item (now and when stored) under
        ``str(key_extractor(item))``; None leaves an item out. The
        extractor is called from the C code; an exception it raises
        propagates (and the store it came from does not happen)."""
        self.manager._t.add_index(index_name, key_extractor)

    def query_custom_index(self, index_name: str, key: str) -> List[str]:
        """Ids under ``key`` in the custom index ([] for an unknown
        index, as in the seed)."""
        try:
            return _search(self.manager, index=index_name, index_key=key,
                           peek=True)
        except _agentmem.InvalidArgumentError:
            return []


def _day_start_ms() -> int:
    import time
    now = int(time.time())
    return (now - now % 86400) * 1000


class MemoryLifecycleManager:
    """Lifecycle policies over a :class:`HierarchicalMemoryManager`, run
    by the C handle: the defaults ``archive_old_low_importance``,
    ``delete_ancient_archives`` and ``refresh_important`` are built in,
    and :meth:`add_policy` adds Python ones.

    A condition is called from the C code with each :class:`MemoryItem`
    (content None for archived items). An action is "archive", "delete",
    "refresh", "demote", "promote", one of this class's
    ``_archive_item``/``_delete_item``/``_refresh_item`` (the same), or
    any callable, which runs on every matched item after the C pass (so
    it may use the manager). Archived content is compressed (zstd) by C.
    Thread safety: safe, as the manager's handle; conditions and actions
    run on the thread that called :meth:`apply_policies`.
    """

    def __init__(self, memory_manager: HierarchicalMemoryManager):
        if not isinstance(memory_manager, HierarchicalMemoryManager):
            raise TypeError("memory_manager must be a "
                            "HierarchicalMemoryManager, not %s"
                            % type(memory_manager).__name__)
        self.memory_manager = memory_manager
        self.lifecycle_policies: List[Dict[str, Any]] = [
            {"name": n, "condition": None, "action": a} for n, a in (
                ("archive_old_low_importance", "archive"),
                ("delete_ancient_archives", "delete"),
                ("refresh_important", "refresh"))]

    def add_policy(self, name: str, condition: Callable[[MemoryItem], bool],
                   action: Union[str, Callable[[MemoryItem], Any]]) -> None:
        """Add a policy after the existing ones (ExistsError for a taken
        name)."""
        builtin = {self._archive_item: "archive",
                   self._delete_item: "delete",
                   self._refresh_item: "refresh"}.get(action)  # type: ignore
        self.memory_manager._t.add_policy(name, condition, builtin or action)
        self.lifecycle_policies.append({"name": name, "condition": condition,
                                        "action": action})

    def apply_policies(self) -> Dict[str, int]:
        """Run every policy over every item; {policy name: items acted
        on}."""
        return self.memory_manager._t.apply_policies()

    # The seed's action methods, for code that passes them to add_policy
    # or calls them directly.
    def _archive_item(self, item: MemoryItem) -> None:
        self.memory_manager.archive(item.id)

    def _delete_item(self, item: MemoryItem) -> None:
        self.memory_manager.delete(item.id)

    def _refresh_item(self, item: MemoryItem) -> None:
        self.memory_manager.retrieve(item.id)

    @property
    def archived_items(self) -> Dict[str, MemoryItem]:
        """The archived items by id (peeked: content decompressed)."""
        mgr = self.memory_manager
        return {i: mgr.peek(i)
                for i in _search(mgr, tiers=["archive"], peek=True)}

    def restore_from_archive(self, item_id: str) -> Optional[MemoryItem]:
        """Bring an archived item back to short-term; None when it is not
        in the archive."""
        it = self.memory_manager.peek(item_id)
        if it is None or it.tier is not MemoryTier.ARCHIVE:
            return None
        self.memory_manager.restore(item_id)
        return self.memory_manager.peek(item_id)


class PersistentMemoryStore:
    """Items saved in a SQLite file by the C tiers store (no capacity
    limits, no policies): :meth:`save_item`/:meth:`load_item`,
    :meth:`save_all`/:meth:`load_all` between it and a manager, and
    :meth:`cleanup_old_items`. A saved item keeps its content, tier,
    importance and metadata; its creation time becomes the save time and
    its access count starts again (the C store owns those). Written
    through: every save is on disk when it returns. Thread safety: safe
    (one C handle with its own mutex).
    """

    def __init__(self, db_path: Union[str, "os.PathLike[str]"] =
                 "memory_store.db"):
        self.db_path = os.fspath(db_path)
        self._m = HierarchicalMemoryManager(0, 0, 0, db_path=self.db_path,
                                            flush_interval_ms=0,
                                            default_policies=False)

    def save_item(self, item: MemoryItem) -> None:
        """Save (or replace) ``item``."""
        self._m.store(item.id, item.content, item.importance, item.tier,
                      item.metadata or None)

    def load_item(self, item_id: str) -> Optional[MemoryItem]:
        """The saved item, or None."""
        return self._m.peek(item_id)

    def item_ids(self) -> List[str]:
        """Every saved id."""
        return _search(self._m, peek=True)

    def save_all(self, memory_manager: HierarchicalMemoryManager) -> int:
        """Save every item of ``memory_manager``; returns how many."""
        ids = _search(memory_manager, peek=True)
        for i in ids:
            it = memory_manager.peek(i)
            if it is not None:
                self.save_item(it)
        return len(ids)

    def load_all(self, memory_manager: HierarchicalMemoryManager) -> int:
        """Store every saved item into ``memory_manager`` (in its saved
        tier); returns how many."""
        ids = self.item_ids()
        for i in ids:
            it = self._m.peek(i)
            if it is not None:
                memory_manager.store(it.id, it.content, it.importance,
                                     it.tier, it.metadata or None)
        return len(ids)

    def cleanup_old_items(self, days: int = 365) -> int:
        """Delete saved items created more than ``days`` days ago; returns
        how many."""
        return self._m._t.cleanup_old_items(days)

    def close(self) -> None:
        self._m.close()

    def __enter__(self) -> "PersistentMemoryStore":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class ProductionMemorySystem:
    """The seed's complete system: a :class:`HierarchicalMemoryManager`
    persisted in ``db_path`` (SQLite, by the C handle itself), its
    :class:`MemoryIndex`, and a :class:`MemoryLifecycleManager`. Items
    saved by an earlier run are there at start. Thread safety: safe, as
    its parts."""

    def __init__(self, db_path: Union[str, "os.PathLike[str]"] = "memory.db"):
        self.memory_manager = HierarchicalMemoryManager(
            working_capacity=100, short_term_capacity=1000, db_path=db_path)
        self.index = MemoryIndex(self.memory_manager)
        self.lifecycle = MemoryLifecycleManager(self.memory_manager)

    def store(self, item_id: str, content: Any, importance: float = 0.5,
              metadata: Optional[Dict[str, Any]] = None) -> MemoryItem:
        """Store, index and persist (write-behind) an item."""
        return self.memory_manager.store(item_id, content, importance,
                                         metadata=metadata)

    def retrieve(self, item_id: str) -> Optional[MemoryItem]:
        """The item with its access recorded (maybe promoted), or None."""
        return self.memory_manager.retrieve(item_id)

    def search(self, by_type: Optional[str] = None,
               by_tag: Optional[str] = None,
               min_importance: Optional[float] = None) -> List[MemoryItem]:
        """Items matching every filter given (none: every item); each is
        retrieved (an access)."""
        q: Dict[str, Any] = {}
        if by_type:
            q["type"] = by_type
        if by_tag:
            q["tags"] = [by_tag]
        if min_importance:
            q["min_importance"] = min_importance
        out = []
        for i in _search(self.memory_manager, peek=True, **q):
            it = self.retrieve(i)
            if it is not None:
                out.append(it)
        return out

    def optimize(self) -> Dict[str, Any]:
        """Demote idle items, apply the lifecycle policies, flush."""
        optimized = self.memory_manager.optimize_memory()
        actions = self.lifecycle.apply_policies()
        self.memory_manager.flush()
        return {"optimized_items": optimized, "policy_actions": actions}

    def get_stats(self) -> Dict[str, Any]:
        """Per-tier statistics, the total and the archived count."""
        tiers = self.memory_manager.get_tier_stats()
        return {"tiers": tiers,
                "total_items": sum(s["count"] for s in tiers.values()),
                "archived_items": tiers["archive"]["count"]}

    def close(self) -> None:
        self.memory_manager.close()

    def __enter__(self) -> "ProductionMemorySystem":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
