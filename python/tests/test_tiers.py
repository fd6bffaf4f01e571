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


def test_store_is_the_c_call_with_the_seed_signature():
    h = HierarchicalMemoryManager()
    assert h.store == h._t.store  # bound straight to C
    it = h.store(item_id="k", content="v", importance=0.25,
                 tier=MemoryTier.SHORT_TERM, metadata={"type": "note"})
    assert (it.tier, it.importance, it.metadata) == (
        MemoryTier.SHORT_TERM, 0.25, {"type": "note"})
    assert h.store("s", "v", 0.5, "long_term").tier == MemoryTier.LONG_TERM
    assert h.store("n", "v", 0.5, None, None).tier == MemoryTier.WORKING
    # Only "type" and "tags" are indexed; the rest round-trips as JSON.
    it = h.store("m", "v", metadata={"tags": ("a",), "n": [1, {"x": None}]})
    assert h.peek("m").metadata == {"tags": ["a"], "n": [1, {"x": None}]}
    assert h.store("e", "v", metadata={}).metadata == {}
    # Content that is not a str: the stored object back from store, a
    # decoded copy from retrieve.
    obj = {"k": [1, 2]}
    assert h.store("j", obj).content is obj
    assert h.retrieve("j").content == obj
    with pytest.raises(TypeError, match="unexpected keyword argument 'colour'"):
        h.store("x", "v", colour=1)
    with pytest.raises(TypeError, match="importance given twice"):
        h.store("x", "v", 0.5, importance=0.5)
    with pytest.raises(TypeError, match="takes 2 to 5 arguments"):
        h.store("x")
    with pytest.raises(TypeError, match="takes 2 to 5 arguments"):
        h.store("x", "v", 0.5, "working", None, 1)
    with pytest.raises(TypeError, match="metadata must be a dict, not list"):
        h.store("x", "v", metadata=["type"])
    with pytest.raises(TypeError, match=r"metadata\['tags'\] must be a list"):
        h.store("x", "v", metadata={"tags": "ab"})
    with pytest.raises(TypeError, match=r"metadata\['type'\] must be str"):
        h.store("x", "v", metadata={"type": 3})
    with pytest.raises(ValueError, match="at most 255 tags"):
        h.store("x", "v", metadata={"tags": ["t%d" % i for i in range(256)]})
    with pytest.raises(TypeError, match="not JSON serializable"):
        h.store("x", "v", metadata={"when": object()})
    with pytest.raises(TypeError, match="importance must be a number, not str"):
        h.store("x", "v", "high")
    assert h.peek("x") is None  # nothing failed half-way


def test_a_subclass_keeps_its_own_store_and_retrieve():
    class Logged(HierarchicalMemoryManager):
        def __init__(self):
            self.calls = []
            super().__init__()

        def store(self, item_id, content, importance=0.5, tier=MemoryTier.WORKING,
                  metadata=None):
            self.calls.append(("store", item_id))
            return super().store(item_id, content, importance, tier, metadata)

        def retrieve(self, item_id):
            self.calls.append(("retrieve", item_id))
            return super().retrieve(item_id)

    h = Logged()
    h.store("a", "v")
    assert h.retrieve("a").content == "v"
    assert h.calls == [("store", "a"), ("retrieve", "a")]


def test_the_reused_copy_survives_big_items_and_thread_switches():
    import sys
    h = HierarchicalMemoryManager(working_capacity=1000)
    big = "x" * (1 << 20)
    h.store("big", big)
    h.store("small", "s")
    assert h.retrieve("big").content == big
    assert h.retrieve("small").content == "s"
    # JSON content makes building the result run Python code (json.loads),
    # where another thread can take over mid-way; each must still get its
    # own item.
    for t in range(4):
        for i in range(200):
            h.store("%d-%d" % (t, i), {"t": t, "i": i, "pad": "p" * i}, 0.5,
                    metadata={"type": "t%d" % t})
    errors = []

    def work(t):
        try:
            for _ in range(3):
                for i in range(200):
                    it = h.peek("%d-%d" % (t, i))
                    assert it.id == "%d-%d" % (t, i)
                    assert it.content == {"t": t, "i": i, "pad": "p" * i}
                    assert it.metadata == {"type": "t%d" % t}
        except Exception as e:  # pragma: no cover
            errors.append(e)

    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        ts = [threading.Thread(target=work, args=(t,)) for t in range(4)]
        for th in ts:
            th.start()
        for th in ts:
            th.join()
    finally:
        sys.setswitchinterval(old)
    assert errors == []


def test_memory_item_is_the_seeds_dataclass():
    from datetime import timedelta
    from agentmem.tiers import MemoryIndex, PersistentMemoryStore
    t0 = datetime(2026, 1, 2, 3, 4, 5)
    # The seed's own constructor call (PersistentMemoryStore.load_item).
    it = MemoryItem(id="m1", content={"fact": "likes tea"},
                    tier=MemoryTier("long_term"), importance=0.7,
                    created_at=t0, last_accessed=t0, access_count=2,
                    metadata={"type": "preference", "tags": ["drink"],
                              "source": "chat"})
    assert (it.id, it.content, it.tier, it.importance, it.access_count) == (
        "m1", {"fact": "likes tea"}, MemoryTier.LONG_TERM, 0.7, 2)
    assert it.created_at == t0 and it.last_accessed == t0
    assert it.metadata == {"type": "preference", "tags": ["drink"],
                           "source": "chat"}
    before = datetime.now()
    it.update_access()
    assert it.access_count == 3
    assert before - timedelta(milliseconds=1) <= it.last_accessed <= datetime.now()
    assert it.created_at == t0
    # Positional, seed order; times default to now.
    p = MemoryItem("m2", "text", MemoryTier.WORKING)
    assert p.access_count == 0 and p.importance == 0.5 and p.metadata == {}
    assert p.created_at == p.last_accessed
    # Fields are assignable, as in the seed's manager (tier, counts).
    p.tier = MemoryTier.SHORT_TERM
    p.access_count += 1
    p.importance = 1.0
    p.metadata = {"tags": ("a", "b")}
    assert (p.tier, p.access_count, p.importance, p.metadata) == (
        MemoryTier.SHORT_TERM, 1, 1.0, {"tags": ["a", "b"]})
    assert p == MemoryItem("m2", "text", "short_term", p.created_at,
                           p.last_accessed, 1, 1.0, {"tags": ["a", "b"]})
    assert p != it
    with pytest.raises(TypeError):
        hash(p)
    with pytest.raises(ValueError, match="importance must be in"):
        p.importance = 1.5
    with pytest.raises(ValueError, match="importance must be in"):
        p.importance = float("nan")
    with pytest.raises(TypeError, match="importance must be a number"):
        p.importance = "high"
    with pytest.raises(ValueError, match="tier"):
        p.tier = "attic"
    with pytest.raises(TypeError, match="id must be str"):
        p.id = None
    with pytest.raises(TypeError, match="must be a datetime"):
        p.created_at = 5
    with pytest.raises(ValueError, match="access_count must be an int"):
        p.access_count = 1 << 40
    with pytest.raises(ValueError):
        p.access_count = -1
    with pytest.raises(TypeError, match="tags must be a list"):
        p.tags = "ab"
    with pytest.raises(TypeError, match="metadata must be a dict"):
        p.metadata = [1]
    with pytest.raises(TypeError, match="cannot be deleted"):
        del p.content
    assert p.metadata == {"tags": ["a", "b"]}  # unchanged by the failures
    # A built item is accepted where the seed passes items around.
    idx = MemoryIndex()
    idx.index_item(it)
    assert idx.find_by_type("preference") == ["m1"]
    assert idx.find_by_tag("drink") == ["m1"]


def test_a_built_item_saves_and_loads(tmp_path):
    from agentmem.tiers import PersistentMemoryStore
    with PersistentMemoryStore(tmp_path / "s.db") as ps:
        ps.save_item(MemoryItem("k", [1, 2], MemoryTier.LONG_TERM,
                                importance=0.9, metadata={"type": "t"}))
        got = ps.load_item("k")
        assert (got.content, got.tier, got.importance, got.metadata) == (
            [1, 2], MemoryTier.LONG_TERM, 0.9, {"type": "t"})


def test_an_item_in_a_reference_cycle_is_collected():
    # content is any object, so it can hold the item itself; the garbage
    # collector must see through the item (tp_traverse) to free the pair.
    import gc
    from agentmem import _agentmem

    freed = []

    class Marker:
        def __del__(self):
            freed.append(1)

    h = HierarchicalMemoryManager()
    for make in (lambda: h.retrieve("a"),                 # from the manager
                 lambda: MemoryItem("b", "x"),             # built by the user
                 lambda: _agentmem._TierItem()):           # the C base type
        h.store("a", "text")
        it = make()
        it.content = [it, Marker()]
        assert gc.is_tracked(it)
        del it
        freed.clear()
        gc.collect()
        assert freed == [1]
    # A cleared item (tp_clear runs on cycles) reads as empty, not a crash.
    it = MemoryItem("c", "y")
    box = [it]
    it.content = box
    del it, box
    gc.collect()


def test_freed_items_are_reused_as_fresh_items():
    # Freed items are kept for the next retrieve (py_tier_item.c): a new
    # item must carry nothing of the one it reuses, items still held must
    # not change, and an item of a subclass with its own __dict__ (not the
    # size of a _TierItem) is freed as usual.
    import gc

    h = HierarchicalMemoryManager()
    h.store("a", "first", 0.3, metadata={"type": "t", "tags": ["x"]})
    h.store("b", "second", 0.6)
    kept = [h.retrieve("a") for _ in range(3)]
    for _ in range(50):
        b = h.retrieve("b")
        assert (b.id, b.content, b.importance, b.metadata) == (
            "b", "second", 0.6, {})
        # Only str fields: it cannot be in a cycle, so it is not tracked.
        assert type(b) is MemoryItem and not gc.is_tracked(b)
        del b
    for k in kept:
        assert (k.id, k.content, k.importance, k.metadata) == (
            "a", "first", 0.3, {"type": "t", "tags": ["x"]})

    class Mine(MemoryItem):
        pass

    m = Mine("m", "x")
    m.note = 1
    del m
    assert h.retrieve("b").content == "second"
    assert h.retrieve("é" * 3) is None


def test_items_that_can_hold_references_are_tracked():
    # A retrieved item is left out of the garbage collector while all its
    # fields are str (py_tier_item.c, item_track); content of another type,
    # a str subclass as the id, or any assignment to a field that holds an
    # object tracks it, so that a cycle through it is still collected.
    import gc

    class Tag(str):
        pass

    h = HierarchicalMemoryManager()
    h.store("s", "text")
    h.store("j", {"k": [1, 2]})
    assert not gc.is_tracked(h.retrieve("s"))
    assert not gc.is_tracked(h.peek("s"))
    assert gc.is_tracked(h.retrieve("j"))
    assert gc.is_tracked(h.store("l", [1]))
    assert gc.is_tracked(h.store(Tag("t"), "text"))
    assert not gc.is_tracked(h.store("u", "text"))
    for field, value in (("id", "x"), ("content", "y"), ("item_type", "t"),
                         ("extra", None), ("tags", ["a"])):
        it = h.retrieve("s")
        setattr(it, field, value)
        assert gc.is_tracked(it), field
    # A str subclass with a __dict__ can close a cycle as well.
    it = h.retrieve("s")
    t = Tag("t2")
    it.id = t
    t.back = it
    del it, t
    gc.collect()


def test_memory_item_subclasses_and_finalizers_free_as_usual():
    # MemoryItem has its own tp_dealloc (py_tier_item.c, memitem_dealloc);
    # subclasses of it, with or without a __dict__ or __del__, and a __del__
    # given to MemoryItem itself later must still run and free as usual.
    import gc
    import sys

    seen = []

    class WithDel(MemoryItem):
        def __del__(self):
            seen.append(self.id)

    class Plain(MemoryItem):
        __slots__ = ()

    class WithSlot(MemoryItem):
        __slots__ = ("x",)

    refs = [sys.getrefcount(c) for c in (WithDel, Plain, WithSlot, MemoryItem)]
    for _ in range(100):
        WithDel("d", "x")
        Plain("p", "x")
        w = WithSlot("w", "x")
        w.x = [w]
        del w
    gc.collect()
    assert seen == ["d"] * 100
    assert [sys.getrefcount(c)
            for c in (WithDel, Plain, WithSlot, MemoryItem)] == refs
    h = HierarchicalMemoryManager()
    h.store("a", "text")
    MemoryItem.__del__ = lambda self: seen.append("m:" + self.id)
    try:
        seen.clear()
        h.retrieve("a")
        MemoryItem("b", "y")
        assert seen == ["m:a", "m:b"]
    finally:
        del MemoryItem.__del__
    seen.clear()
    h.retrieve("a")
    assert seen == []
    h.store("u", "naïve ünïcode", 0.5)
    assert h.retrieve("u").content == "naïve ünïcode"
