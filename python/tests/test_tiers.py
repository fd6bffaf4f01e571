"""agentmem.tiers (seed 003): HierarchicalMemoryManager over am_tiers."""
import threading
from datetime import datetime

import pytest

import agentmem
from agentmem.tiers import HierarchicalMemoryManager, MemoryItem, MemoryTier


def test_store_retrieve_and_metadata():
    h = HierarchicalMemoryManager()
    it = h.store("a", "hello", 0.7, metadata={"type": "fact", "tags": ["x", "y"],
                                               "source": "chat"})
    assert isinstance(it, MemoryItem)
    assert (it.id, it.content, it.tier, it.importance) == ("a", "hello", MemoryTier.WORKING, 0.7)
    assert it.metadata == {"source": "chat", "type": "fact", "tags": ["x", "y"]}
    assert isinstance(it.created_at, datetime)
    got = h.retrieve("a")
    assert got.content == "hello" and got.access_count == 1
    assert h.retrieve("missing") is None
    h.store("j", {"k": [1, 2]}, tier=MemoryTier.LONG_TERM)
    assert h.peek("j").content == {"k": [1, 2]}
    assert h.peek("j").access_count == 0
    assert len(h) == 2
    assert h.delete("a") is True and h.delete("a") is False


def test_capacity_demotes_and_access_promotes():
    h = HierarchicalMemoryManager(working_capacity=10, short_term_capacity=100)
    for i in range(30):
        h.store("i%d" % i, "content %d" % i)
    stats = h.get_tier_stats()
    assert stats["working"]["count"] <= 10
    assert stats["short_term"]["count"] > 0
    assert stats["long_term"]["capacity"] == float("inf")
    low = next(i for i in range(30) if h.peek("i%d" % i).tier == MemoryTier.SHORT_TERM)
    for _ in range(3):
        it = h.retrieve("i%d" % low)
    assert it.tier == MemoryTier.WORKING


def test_archive_and_restore_are_byte_identical():
    h = HierarchicalMemoryManager()
    text = "naïve café 東京 " * 200
    h.store("big", text, tier=MemoryTier.LONG_TERM)
    h.archive("big")
    assert h.peek("big").tier == MemoryTier.ARCHIVE
    assert h.retrieve("big").content == text
    h.restore("big")
    assert h.peek("big").tier == MemoryTier.SHORT_TERM
    with pytest.raises(agentmem.NotFoundError):
        h.archive("nope")
    with pytest.raises(agentmem.StateError):
        h.restore("big")


def test_bad_input():
    h = HierarchicalMemoryManager()
    with pytest.raises(agentmem.InvalidArgumentError, match="importance"):
        h.store("x", "c", 1.5)
    with pytest.raises(TypeError):
        h.store(None, "c")
    with pytest.raises(TypeError):
        h.store("x", object())
    with pytest.raises(ValueError, match="tier"):
        h.store("x", "c", tier="attic")
    with pytest.raises(ValueError):
        HierarchicalMemoryManager(working_capacity=-1)
    with pytest.raises(agentmem.InvalidArgumentError):
        h.store("", "c")


def test_persistence(tmp_path):
    db = tmp_path / "tiers.db"
    with HierarchicalMemoryManager(db_path=db) as h:
        h.store("k", "kept", 0.9)
    with HierarchicalMemoryManager(db_path=str(db)) as h:
        assert h.peek("k").content == "kept"
    h.close()
    with pytest.raises(ValueError, match="closed"):
        h.retrieve("k")


def test_threads():
    h = HierarchicalMemoryManager(working_capacity=50)
    errors = []

    def work(t):
        try:
            for i in range(500):
                h.store("%d-%d" % (t, i), "v%d" % i)
                assert h.retrieve("%d-%d" % (t, i)).content == "v%d" % i
            h.optimize_memory()
        except Exception as e:  # pragma: no cover
            errors.append(e)

    ts = [threading.Thread(target=work, args=(t,)) for t in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert not errors and len(h) == 2000
