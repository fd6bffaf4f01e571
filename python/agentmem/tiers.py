"""Hierarchical memory tiers (seed 003): working, short-term, long-term and
archive, with promotion on use, demotion on capacity and neglect, a
compressed archive and optional SQLite persistence -- all in libagentmem.

Thread safety: a HierarchicalMemoryManager may be shared between threads
(the C handle has a mutex). store/retrieve keep the GIL (they are hash-table
operations); optimize/flush/close release it.
"""
from __future__ import annotations

import json
import os
from datetime import datetime
from enum import Enum
from typing import Any, Dict, Optional, Union

from . import _agentmem

__all__ = ["MemoryTier", "MemoryItem", "HierarchicalMemoryManager"]


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
    ``importance``, ``metadata``. A snapshot: it does not change when the
    item moves later."""

    __slots__ = ()

    @property
    def tier(self) -> MemoryTier:
        return _C_TIER[self.tier_name]

    @property
    def created_at(self) -> datetime:
        return datetime.fromtimestamp(self.created_ms / 1000.0)

    @property
    def last_accessed(self) -> datetime:
        return datetime.fromtimestamp(self.accessed_ms / 1000.0)

    @property
    def metadata(self) -> Dict[str, Any]:
        meta = json.loads(self.extra) if self.extra else {}
        if self.item_type is not None:
            meta["type"] = self.item_type
        if self.tags:
            meta["tags"] = list(self.tags)
        return meta

    def __repr__(self) -> str:
        return "MemoryItem(id=%r, tier=%s, importance=%r)" % (
            self.id, self.tier.name, self.importance)


_agentmem._set_tier_item_class(MemoryItem)


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
                 flush_interval_ms: Optional[int] = None):
        self._t = _agentmem._Tiers(working_capacity, short_term_capacity,
                                   long_term_capacity or 0, db_path,
                                   flush_interval_ms)
        self.capacities = {MemoryTier.WORKING: working_capacity,
                           MemoryTier.SHORT_TERM: short_term_capacity,
                           MemoryTier.LONG_TERM: long_term_capacity or float("inf")}

    def store(self, item_id: str, content: Any, importance: float = 0.5,
              tier: Union[MemoryTier, str] = MemoryTier.WORKING,
              metadata: Optional[Dict[str, Any]] = None) -> MemoryItem:
        """Store (or replace) an item; returns it. ``metadata`` may carry
        "type" and "tags" (indexed) and any other JSON fields."""
        if metadata:
            extra = {k: v for k, v in metadata.items() if k not in ("type", "tags")}
            return self._t.store(item_id, content, importance, _tier_name(tier),
                                 metadata.get("type"), metadata.get("tags"),
                                 json.dumps(extra) if extra else None)
        if tier is MemoryTier.WORKING:
            return self._t.store(item_id, content, importance)
        return self._t.store(item_id, content, importance, _tier_name(tier))

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
