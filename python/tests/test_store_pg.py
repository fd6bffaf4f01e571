"""agentmem.store on PostgreSQL: run by ctest's test_python_pg_sh under
tests/pg_run.sh, which starts a throwaway server and names it in
$AM_TEST_STORE; skipped anywhere else. Includes seed 001's PostgreSQL
samples (blocks 9 and 12), with DATABASE_URL naming that server."""
import os
import uuid

import pytest

import agentmem
from agentmem.store import ConversationMemory, MemoryStore
from test_seeds import blocks, rewrite_imports

URL = os.environ.get("AM_TEST_STORE", "")
pytestmark = pytest.mark.skipif(
    not URL.startswith(("postgres://", "postgresql://")),
    reason="needs $AM_TEST_STORE naming a PostgreSQL database "
           "(ctest test_python_pg_sh runs this under tests/pg_run.sh)")


def test_two_handles_share_one_database():
    ns = ("pytest", uuid.uuid4().hex)
    with MemoryStore.postgres(URL) as a, MemoryStore.postgres(URL) as b:
        a.put(ns, "lang", {"value": "Python"})
        a.put(ns, "editor", {"value": "vim"})
        got = b.get(ns, "lang")
        assert got is not None and got.value == {"value": "Python"}
        assert sorted(i.key for i in b.list(ns)) == ["editor", "lang"]
        hits = b.search(ns, "python", limit=5)
        assert hits and hits[0][0].key == "lang" and hits[0][1] > 0
        assert b.delete(ns, "lang") is True
        assert a.get(ns, "lang") is None
        assert a.delete(ns, "lang") is False


def test_bad_input_on_postgres():
    with MemoryStore.postgres(URL) as s:
        with pytest.raises((TypeError, ValueError)):
            s.put(("a",), None, {"v": 1})
        with pytest.raises(TypeError):
            s.put(("a",), "k", object())


def test_conversation_recall_on_postgres():
    user = "u-" + uuid.uuid4().hex[:8]
    with ConversationMemory(backend="postgres",
                            connection_string=URL) as mem:
        mem.index_conversation(user, "s1", [
            {"role": "user", "content": "My invoice 4711 was paid twice."},
            {"role": "assistant", "content": "I refunded invoice 4711."}])
        hits = mem.search(user, "refund for invoice 4711")
        assert hits and "4711" in hits[0].chunk.text


def test_seed_001_postgres_samples_run(seeds_dir, tmp_path, monkeypatch):
    code = blocks("001")
    monkeypatch.chdir(tmp_path)  # the samples also open ./memories.db
    monkeypatch.setenv("DATABASE_URL", URL)
    ns = {"__name__": "seed_001"}
    # The samples use os and ConversationMemory without importing them
    # (earlier blocks of the document do).
    exec("import os\n" + rewrite_imports(
        "from ai_infra.llm.tools.custom import ConversationMemory"), ns)
    for b in (9, 12):
        exec(compile(rewrite_imports(code[b]), "seed 001 block %d" % b,
                     "exec"), ns)
    assert isinstance(ns["store"], MemoryStore)
    ns["store"].put(("seed",), "k", {"v": 1})
    assert ns["store"].get(("seed",), "k").value == {"v": 1}
    assert isinstance(ns["memory"], ConversationMemory)
