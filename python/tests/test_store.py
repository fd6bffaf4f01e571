"""agentmem.store (seed 001): MemoryStore and conversation recall."""
import gc
import threading
import time

import pytest

import agentmem
from agentmem.messages import AIMessage, HumanMessage
from agentmem.store import (ConversationMemory, MemoryItem, MemoryStore,
                            create_memory_tool, extract_names)


def test_put_get_delete_list():
    with MemoryStore() as s:
        ns = ("user_123", "preferences")
        s.put(ns, "language", {"preference": "Python"})
        item = s.get(ns, "language")
        assert isinstance(item, MemoryItem)
        assert item.value == {"preference": "Python"}
        assert item.namespace == ns and item.expires_at is None
        s.put(ns, "editor", "vim", metadata={"source": "chat"})
        assert [i.key for i in s.list(ns)] == ["editor", "language"]
        assert [i.key for i in s.list(("user_123",))] == ["editor", "language"]
        assert s.get(ns, "editor").metadata == {"source": "chat"}
        assert s.delete(ns, "language") is True
        assert s.delete(ns, "language") is False
        assert s.get(ns, "language") is None
    assert s.closed
    with pytest.raises(ValueError, match="closed"):
        s.get(ns, "editor")
    s.close()  # idempotent


def test_ttl_expires():
    s = MemoryStore()
    s.put(("t",), "short", 1, ttl=0.05)
    s.put(("t",), "long", 2, ttl=3600)
    assert s.get(("t",), "short").expires_at is not None
    time.sleep(0.1)
    assert s.get(("t",), "short") is None
    assert s.get(("t",), "long").value == 2
    with pytest.raises(ValueError):
        s.put(("t",), "k", 1, ttl=-5)


def test_semantic_search_ranks_by_meaning():
    s = MemoryStore()
    ns = ("user_123", "facts")
    s.put(ns, "prog_lang", {"value": "User prefers Python for data science"})
    s.put(ns, "editor", {"value": "User uses VS Code with Vim keybindings"})
    s.put(ns, "os", {"value": "User runs macOS on M2 MacBook Pro"})
    hits = s.search(ns, "which programming language for data science?", limit=3)
    assert hits[0][0].key == "prog_lang"
    assert all(isinstance(score, float) for _, score in hits)
    assert s.search(("other",), "Python") == []
    text = s.search(ns, "MacBook", mode="text")
    assert [i.key for i, _ in text] == ["os"]
    with pytest.raises(ValueError, match="mode"):
        s.search(ns, "x", mode="fuzzy")


def test_search_names_bonus_as_the_cli_names_field():
    s = MemoryStore()
    for key, text in (("a", "travel last summer was fun"),
                      ("b", "travel last summer to Sweden")):
        s.put(("trips",), key, "x", text=text,
              metadata={"names": extract_names(text)})
    assert s.get(("trips",), "b").metadata == {"names": ["Sweden"]}
    q = "travel last summer fun"
    plain = s.search(("trips",), q, mode="text")
    assert plain[0][0].key == "a"
    named = s.search(("trips",), q, mode="text", names_field="names",
                     names_bonus=1.0)
    assert named[0][0].key == "b" and named[0][1] == pytest.approx(1.0)
    # the default weight (0.03) raises b a little, not to 1
    dflt = s.search(("trips",), q, mode="text", names_field="names")
    b = dict((i.key, sc) for i, sc in dflt)["b"]
    old = dict((i.key, sc) for i, sc in plain)["b"]
    assert b == pytest.approx(old + 0.03 * (1 - old))
    with pytest.raises(ValueError, match="names_field"):
        s.search(("trips",), q, names_bonus=0.5)
    with pytest.raises(ValueError, match="names_bonus"):
        s.search(("trips",), q, names_field="names", names_bonus=2.0)


def test_extract_names_leaves_out_speakers_and_sentence_openers():
    text = "Caroline: Yeah, we went to Sweden with Max. Then to Paris."
    assert extract_names(text) == ["Sweden", "Max", "Paris"]
    assert extract_names(text, exclude=["Max"]) == ["Sweden", "Paris"]
    assert extract_names("") == []
    with pytest.raises(TypeError):
        extract_names("x", exclude=[1])


def test_conversation_memory_names_field_raises_chunks_naming_places():
    trip = [HumanMessage(content="We should plan the summer trip."),
            AIMessage(content="Where would you like to go?"),
            HumanMessage(content="Last year we went to Sweden and loved it."),
            AIMessage(content="Then Norway could suit you.")]
    q = "plan the summer trip last year"
    mem = ConversationMemory(chunk_size=2, chunk_overlap=0,
                             names_field="names", names_bonus=1.0)
    assert mem.index_conversation("u", "t", trip, {"topic": "travel"}) == 2
    hits = mem.search("u", q, limit=2)
    assert hits[0].chunk.first == 2 and hits[0].score == pytest.approx(1.0)
    assert hits[0].chunk.metadata == {"topic": "travel",
                                      "names": ["Sweden", "Norway"]}
    assert hits[1].chunk.metadata["names"] == []
    # The tool hides what scores below its min_score before any bonus:
    # ask what the names chunk answers well, and it comes at 1.
    tool = create_memory_tool(mem, "u")
    assert "(score 1.000)" in tool("last year we went and loved it")
    with pytest.raises(ValueError, match="names_field"):
        ConversationMemory(names_bonus=0.5)


def test_scopes():
    s = MemoryStore()
    s.put_user_memory("user_123", "theme", {"value": "dark"})
    s.put_session_memory("session_456", "context", {"value": "debugging"})
    s.put_global_memory("app_version", {"value": "1.0.0"})
    assert s.get_user_memory("user_123", "theme").value == {"value": "dark"}
    assert s.get_session_memory("session_456", "context").namespace == \
        ("session", "session_456")
    assert s.get_global_memory("app_version").value == {"value": "1.0.0"}
    assert s.get_user_memory("user_999", "theme") is None


def test_sqlite_persists(tmp_path):
    path = tmp_path / "memories.db"
    with MemoryStore.sqlite(path) as s:
        s.put(("a",), "k", [1, 2, 3])
    with MemoryStore.sqlite(str(path)) as s:
        assert s.get(("a",), "k").value == [1, 2, 3]


def test_postgres_unreachable_is_a_clear_error():
    with pytest.raises(agentmem.StorageError) as ei:
        MemoryStore.postgres("postgresql://u:s3cret@127.0.0.1:1/agents")
    assert "postgresql://u@127.0.0.1:1/agents" in str(ei.value)
    assert "s3cret" not in str(ei.value)
    with pytest.raises(ValueError):
        MemoryStore.postgres("mysql://x")


def test_bad_input():
    s = MemoryStore()
    with pytest.raises(TypeError, match="JSON"):
        s.put(("a",), "k", object())
    with pytest.raises(TypeError, match="namespace"):
        s.put(None, "k", 1)
    with pytest.raises(ValueError, match="namespace"):
        s.put((), "k", 1)
    with pytest.raises(TypeError, match="namespace\\[1\\]"):
        s.put(("a", 5), "k", 1)
    with pytest.raises(ValueError, match="parts"):
        s.put(tuple("x" * 40), "k", 1)
    with pytest.raises(ValueError, match="UTF-8"):
        s.put(("a",), b"\xff", 1)
    with pytest.raises(agentmem.InvalidArgumentError):
        s.put(("a",), "", 1)
    with pytest.raises(agentmem.StorageError):
        MemoryStore.sqlite("/nonexistent-dir/x/y.db")


def test_threads_share_one_store():
    s = MemoryStore()
    errors = []

    def work(t):
        try:
            for i in range(50):
                s.put(("t", str(t)), "k%d" % i, {"v": "note %d from %d" % (i, t)})
                assert s.get(("t", str(t)), "k%d" % i).value["v"] == \
                    "note %d from %d" % (i, t)
                s.search(("t",), "note", limit=3)
        except Exception as e:  # pragma: no cover
            errors.append(e)

    threads = [threading.Thread(target=work, args=(t,)) for t in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(s.list(("t",), limit=1000)) == 200
    s.close()


def test_conversation_recall_and_tool():
    memory = ConversationMemory(chunk_size=2, chunk_overlap=0)
    n = memory.index_conversation(
        user_id="user_123", session_id="session_001",
        messages=[HumanMessage(content="I'm getting an auth error"),
                  AIMessage(content="Let's check your JWT token..."),
                  HumanMessage(content="It was expired!"),
                  AIMessage(content="You can refresh it with the refresh endpoint")],
        metadata={"topic": "authentication"})
    assert n == 2
    memory.index_conversation("user_123", "session_002", [
        {"role": "user", "content": "What is a good pasta recipe?"},
        {"role": "assistant", "content": "Try carbonara with eggs."}])
    memory.index_conversation("user_999", "s", [
        {"role": "user", "content": "my JWT token auth error again"}])
    results = memory.search("user_123", "how did we fix the authentication "
                            "JWT token issue?", limit=3)
    assert results[0].chunk.session_id == "session_001"
    assert results[0].chunk.metadata == {"topic": "authentication"}
    assert all(r.chunk.session_id != "s" for r in results)
    tool = create_memory_tool(memory, user_id="user_123", limit=2)
    assert tool.name == "recall_past_conversations"
    assert tool.definition()["function"]["name"] == tool.name
    assert "name" in tool.definition("anthropic")
    assert "JWT" in tool("JWT token")
    with pytest.raises(agentmem.InvalidArgumentError):
        create_memory_tool(memory, "u", name="bad name!")


def test_chunk_summaries_come_from_python():
    seen = []

    def summarize(text):
        seen.append(text)
        return "SUMMARY %d" % len(seen)

    memory = ConversationMemory(chunk_size=2, chunk_overlap=0,
                                include_summary=True, summarizer=summarize)
    memory.index_conversation("u", "s", [
        {"role": "user", "content": "alpha"}, {"role": "assistant", "content": "beta"},
        {"role": "user", "content": "gamma"}])
    assert len(seen) == 2 and "alpha" in seen[0]
    hits = memory.search("u", "gamma")
    assert hits[0].chunk.summary.startswith("SUMMARY")

    def broken(text):
        raise RuntimeError("summarizer down")

    bad = ConversationMemory(include_summary=True, summarizer=broken)
    with pytest.raises(RuntimeError, match="summarizer down"):
        bad.index_conversation("u", "s", [{"role": "user", "content": "x"}])


def test_gc_closes_stores(tmp_path):
    path = tmp_path / "gc.db"
    s = MemoryStore.sqlite(path)
    s.put(("a",), "k", 1)
    del s
    gc.collect()
    with MemoryStore.sqlite(path) as again:
        assert again.get(("a",), "k").value == 1
