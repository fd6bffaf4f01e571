"""agentmem.compression (seed 002) over am_memory."""
import threading

import pytest

import agentmem
from agentmem.compression import (CompressionStrategy, MemoryConfig,
                                  MemoryManager, ShortTermMemory)


def turns(n):
    return [{"role": "user" if i % 2 == 0 else "assistant",
             "content": "turn %d: invoice 4711 for Hamburg was delayed; "
                        "remember the refund decision" % i} for i in range(n)]


def test_compresses_past_the_threshold_and_reports_savings():
    m = MemoryManager(MemoryConfig(compression_threshold=300,
                                   max_context_tokens=1000, short_term_size=4))
    compressed = [m.add_message(t) for t in turns(40)]
    assert any(compressed)
    ctx = m.get_context_for_llm()
    assert ctx[0]["content"].startswith("[Compressed Summary]")
    assert ctx[-1] == turns(40)[-1]
    s = m.get_stats()
    assert s["compression_count"] >= 1 and s["net_savings"] > 0
    assert s["current_tokens"] <= 300 + 200
    assert len(m.short_term.get_all()) == 4


def test_disabled_and_strategies():
    m = MemoryManager(MemoryConfig(enable_compression=False,
                                   compression_threshold=100,
                                   max_context_tokens=1000))
    for t in turns(30):
        assert m.add_message(t) is False
    assert len(m.get_context_for_llm()) == 30
    d = MemoryManager(MemoryConfig(compression_threshold=200, max_context_tokens=1000,
                                   short_term_size=3,
                                   compression_strategy=CompressionStrategy.DELETION))
    for t in turns(30):
        d.add_message(t)
    assert not any("[Compressed Summary]" in (c["content"] or "")
                   for c in d.get_context_for_llm())
    assert MemoryConfig.conservative().compression_strategy is CompressionStrategy.SELECTIVE
    MemoryManager(MemoryConfig.aggressive())


def test_bad_config_names_the_field():
    with pytest.raises(ValueError, match="(?i)threshold|max"):
        MemoryManager(MemoryConfig(compression_threshold=5000, max_context_tokens=100))
    with pytest.raises(ValueError):
        MemoryManager(MemoryConfig(compression_ratio=1.5))
    with pytest.raises(TypeError):
        MemoryManager(llm=42)
    with pytest.raises(ValueError):
        ShortTermMemory(max_size=0)


def test_actual_tokens_and_print_stats(capsys):
    m = MemoryManager(MemoryConfig(model="gpt-4o-mini"))
    m.add_message({"role": "user", "content": "hi"})
    m.add_message({"role": "assistant", "content": "hello"},
                  actual_tokens={"input": 1000, "output": 200})
    assert m.get_stats()["total_cost"] > 0
    m.print_stats()
    assert "Memory Statistics" in capsys.readouterr().out


def test_threads_serialize_on_one_manager():
    m = MemoryManager(MemoryConfig(compression_threshold=500, max_context_tokens=2000))
    errors = []

    def work():
        try:
            for t in turns(50):
                m.add_message(t)
                m.get_context_for_llm()
        except Exception as e:  # pragma: no cover
            errors.append(e)

    ts = [threading.Thread(target=work) for _ in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert not errors and m.get_stats()["messages_added"] == 200


def test_config_discovery_follows_the_c_lookup(tmp_path):
    import agentmem
    from agentmem.compression import CompressionStrategy, MemoryConfig
    home = tmp_path / "home"
    (home / ".config" / "agentmem").mkdir(parents=True)
    (home / ".config" / "agentmem" / "config").write_text(
        "MEMORY_COMPRESSION_THRESHOLD=30000\n")
    work = tmp_path / "work"
    (work / ".agentmem").mkdir(parents=True)
    env = {"HOME": str(home)}
    # No project file: the user's file under $HOME.
    cfg = MemoryConfig.discover(cwd=tmp_path, env=env)
    assert cfg.compression_threshold == 30000
    assert cfg.config_file == str(home / ".config" / "agentmem" / "config")
    assert cfg.sources["MEMORY_COMPRESSION_THRESHOLD"].endswith("config:1")
    assert cfg.sources["MEMORY_MODEL"] == "default"
    # The project's file wins over the user's; the environment over both.
    (work / ".agentmem" / "config").write_text(
        "# project\nMEMORY_COMPRESSION_STRATEGY=selective\n"
        "MEMORY_IMPORTANCE_MARKERS=URGENT,PINNED\n")
    env["MEMORY_SHORT_TERM_SIZE"] = "7"
    cfg = MemoryConfig.discover(cwd=work, env=env, preset="aggressive")
    assert cfg.compression_strategy is CompressionStrategy.SELECTIVE
    assert cfg.short_term_size == 7
    assert cfg.sources["MEMORY_SHORT_TERM_SIZE"] == "$MEMORY_SHORT_TERM_SIZE"
    assert cfg.compression_ratio == 0.2  # the preset
    assert cfg.sources["MEMORY_COMPRESSION_RATIO"] == "preset aggressive"
    assert cfg.settings["MEMORY_IMPORTANCE_MARKERS"] == "URGENT,PINNED"
    assert cfg._settings()["MEMORY_IMPORTANCE_MARKERS"] == "URGENT,PINNED"
    assert MemoryConfig.discover(cwd=work, env=env,
                                 use_env=False).short_term_size == 20
    # The discovered config drives a manager.
    from agentmem.compression import MemoryManager
    m = MemoryManager(cfg)
    m.add_message({"role": "user", "content": "hi"})
    stats = m.get_stats()
    assert stats["messages"] == 1 and stats["strategy"] == "selective"
    # A named file replaces the lookup; errors name the place.
    named = tmp_path / "named.conf"
    named.write_text("MEMORY_MODEL=gpt-4o\n")
    assert MemoryConfig.discover(file=named, env={}).model == "gpt-4o"
    with pytest.raises(agentmem.NotFoundError, match="nope.conf"):
        MemoryConfig.discover(file=tmp_path / "nope.conf", env={})
    with pytest.raises(agentmem.NotFoundError, match="AGENTMEM_CONFIG"):
        MemoryConfig.discover(cwd=work, env={"AGENTMEM_CONFIG":
                                             str(tmp_path / "gone")})
    named.write_text("MEMORY_COMPRESSION_RATIO=2\n")
    with pytest.raises(agentmem.FormatError, match="named.conf: config line 1"):
        MemoryConfig.discover(file=named, env={})
    with pytest.raises(agentmem.Error, match="MEMORY_SHORT_TERM_SIZE"):
        MemoryConfig.discover(cwd=work, env={"MEMORY_SHORT_TERM_SIZE": "-1"})
    with pytest.raises(TypeError, match="must be str"):
        MemoryConfig.discover(cwd=work, env={"MEMORY_MODEL": 5})
    with pytest.raises(TypeError, match="env must be a dict"):
        MemoryConfig.discover(env=[("HOME", "/")])
