"""agentmem.tiers (seed 003): MemoryIndex, MemoryLifecycleManager,
PersistentMemoryStore and ProductionMemorySystem over am_tiers' search,
custom indexes, policies and SQLite persistence."""
import gc
import threading

import pytest

import agentmem
from agentmem.tiers import (HierarchicalMemoryManager, MemoryIndex,
                            MemoryLifecycleManager, MemoryTier,
                            PersistentMemoryStore, ProductionMemorySystem)


def filled():
    h = HierarchicalMemoryManager()
    h.store("a", "alpha", 0.9, metadata={"type": "fact", "tags": ["x", "y"]})
    h.store("b", "beta", 0.2, metadata={"type": "note", "tags": ["x"],
                                        "owner": "ann"})
    h.store("c", {"n": 3}, 0.5, metadata={"type": "fact"})
    return h


def test_index_queries_the_c_indexes():
    h = filled()
    idx = MemoryIndex(h)
    assert idx.find_by_type("fact") == ["a", "c"]
    assert idx.find_by_tag("x") == ["a", "b"]
    assert idx.find_by_tag("nope") == []
    assert sorted(idx.find_by_importance_range(0.4, 1.0)) == ["a", "c"]
    assert sorted(idx.find_recent(7)) == ["a", "b", "c"]
    assert h.peek("a").access_count == 0  # queries are peeks
    idx.index_item(h.peek("a"))
    with pytest.raises(agentmem.NotFoundError):
        idx.index_item(HierarchicalMemoryManager().store("zz", "x"))
    with pytest.raises(ValueError, match="max_importance"):
        idx.find_by_importance_range(0.9, 0.1)


def test_custom_index_calls_python_from_c():
    h = filled()
    idx = MemoryIndex(h)
    idx.create_custom_index("owner", lambda it: it.metadata.get("owner"))
    assert idx.query_custom_index("owner", "ann") == ["b"]
    h.store("d", "delta", metadata={"owner": "ann"})
    assert idx.query_custom_index("owner", "ann") == ["b", "d"]
    assert idx.query_custom_index("missing_index", "ann") == []
    idx.create_custom_index("by_len", lambda it: len(str(it.content)))
    assert idx.query_custom_index("by_len", "5") == ["a", "d"]
    with pytest.raises(agentmem.ExistsError):
        idx.create_custom_index("owner", lambda it: None)
    with pytest.raises(TypeError, match="callable"):
        idx.create_custom_index("bad", 3)


def test_key_extractor_exception_stops_the_store():
    h = HierarchicalMemoryManager()
    MemoryIndex(h).create_custom_index(
        "strict", lambda it: it.metadata["owner"])
    with pytest.raises(KeyError, match="owner"):
        h.store("x", "no owner")
    assert h.peek("x") is None
    h.store("y", "ok", metadata={"owner": "bo"})
    assert h.peek("y").content == "ok"


def test_standalone_index_copies_metadata():
    h = filled()
    idx = MemoryIndex()
    for i in ("a", "b"):
        idx.index_item(h.peek(i))
    assert idx.find_by_type("note") == ["b"]
    assert idx.find_by_tag("y") == ["a"]
    assert idx.find_by_type("fact") == ["a"]  # "c" was never indexed here
    with pytest.raises(TypeError, match="MemoryItem"):
        idx.index_item({"id": "a"})


def test_lifecycle_policies_with_python_conditions():
    h = filled()
    life = MemoryLifecycleManager(h)
    seen = []
    life.add_policy("archive_low", lambda it: it.importance < 0.3,
                    life._archive_item)
    life.add_policy("log_facts", lambda it: it.metadata.get("type") == "fact",
                    lambda it: seen.append(it.id))
    counts = life.apply_policies()
    assert counts["archive_low"] == 1 and counts["log_facts"] == 2
    assert counts["archive_old_low_importance"] == 0
    assert sorted(seen) == ["a", "c"]
    assert h.peek("b").tier is MemoryTier.ARCHIVE
    assert list(life.archived_items) == ["b"]
    assert life.archived_items["b"].content == "beta"
    back = life.restore_from_archive("b")
    assert back.tier is MemoryTier.SHORT_TERM and back.content == "beta"
    assert life.restore_from_archive("b") is None
    assert life.restore_from_archive("nope") is None
    with pytest.raises(agentmem.ExistsError):
        life.add_policy("archive_low", lambda it: False, "delete")
    with pytest.raises(ValueError, match="action must be"):
        life.add_policy("p2", lambda it: False, "explode")
    with pytest.raises(TypeError):
        MemoryLifecycleManager(object())


def test_policy_condition_exception_propagates():
    h = filled()
    life = MemoryLifecycleManager(h)
    life.add_policy("broken", lambda it: 1 / 0, "delete")
    with pytest.raises(ZeroDivisionError):
        life.apply_policies()
    assert len(h) == 3  # nothing deleted


def test_delete_policy_and_seed_condition_shapes():
    h = filled()
    life = MemoryLifecycleManager(h)
    # The seed's own condition style: datetimes and MemoryTier on items.
    from datetime import datetime
    life.add_policy("drop_notes", lambda it: (
        it.metadata.get("type") == "note" and
        (datetime.now() - it.created_at).days < 1 and
        it.tier == MemoryTier.WORKING), life._delete_item)
    assert life.apply_policies()["drop_notes"] == 1
    assert h.peek("b") is None and len(h) == 2


def test_persistent_store_round_trip(tmp_path):
    db = tmp_path / "memory_store.db"
    h = filled()
    with PersistentMemoryStore(db) as ps:
        assert ps.save_all(h) == 3
        ps.save_item(h.store("d", "delta", 0.6, MemoryTier.LONG_TERM,
                             {"type": "fact"}))
    with PersistentMemoryStore(db) as ps:
        got = ps.load_item("b")
        assert (got.content, got.importance, got.metadata) == (
            "beta", 0.2, {"owner": "ann", "type": "note", "tags": ["x"]})
        assert ps.load_item("d").tier is MemoryTier.LONG_TERM
        assert ps.load_item("zz") is None
        fresh = HierarchicalMemoryManager()
        assert ps.load_all(fresh) == 4
        assert fresh.peek("c").content == {"n": 3}
        assert ps.cleanup_old_items(365) == 0
        with pytest.raises(ValueError, match="days"):
            ps.cleanup_old_items(10 ** 7)


def test_production_system(tmp_path):
    db = tmp_path / "memory.db"
    with ProductionMemorySystem(db) as pm:
        pm.store("a", "alpha", 0.9, {"type": "fact", "tags": ["x"]})
        pm.store("b", "beta", 0.2, {"type": "note", "tags": ["x"]})
        pm.store("c", "gamma", 0.7, {"type": "fact"})
        assert [i.id for i in pm.search(by_type="fact")] == ["a", "c"]
        assert [i.id for i in pm.search(by_type="fact", by_tag="x")] == ["a"]
        assert sorted(i.id for i in pm.search(min_importance=0.5)) == [
            "a", "c"]
        assert pm.retrieve("a").access_count >= 2
        out = pm.optimize()
        assert set(out) == {"optimized_items", "policy_actions"}
        assert "refresh_important" in out["policy_actions"]
        st = pm.get_stats()
        assert st["total_items"] == 3 and st["archived_items"] == 0
    with ProductionMemorySystem(db) as again:
        assert again.retrieve("c").content == "gamma"
        assert again.get_stats()["total_items"] == 3


def test_manager_search():
    h = filled()
    assert [i.id for i in h.search(type="fact", peek=True)] == ["a", "c"]
    assert [i.id for i in h.search(tags=["x", "y"])] == ["a"]
    assert h.peek("a").access_count == 1
    assert [i.id for i in h.search(tiers=[MemoryTier.WORKING], limit=2,
                                   peek=True)] == ["a", "b"]
    with pytest.raises(ValueError, match="tier must be"):
        h.search(tiers=["attic"])
    with pytest.raises(TypeError, match="tags"):
        h.search(tags="x")


def test_callbacks_and_threads_do_not_deadlock():
    h = HierarchicalMemoryManager(working_capacity=50)
    idx = MemoryIndex(h)
    idx.create_custom_index("mod", lambda it: sum(map(ord, it.id)) % 7)
    errors = []

    def work(k):
        try:
            for i in range(300):
                h.store("%d-%d" % (k, i), "v%d" % i, (i % 10) / 10)
                h.retrieve("%d-%d" % (k, i // 2))
                idx.query_custom_index("mod", str(i % 7))
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    ts = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(120)
    assert not any(t.is_alive() for t in ts), "deadlock"
    assert errors == []
    assert len(h) == 1200
    total = sum(len(idx.query_custom_index("mod", str(m))) for m in range(7))
    assert total == 1200


def test_callback_cycles_are_collected():
    import weakref
    h = HierarchicalMemoryManager()
    life = MemoryLifecycleManager(h)
    life.add_policy("p", lambda it: h is not None, "refresh")  # h <-> cb
    ref = weakref.ref(h)
    del h, life
    gc.collect()
    assert ref() is None
