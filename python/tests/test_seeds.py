"""The seeds' own memory-only code samples, run with nothing changed but
their import lines.

The samples are read from ../shared/seeds at test time (never copied into
the repository). Each document's ```python blocks are numbered from 0; the
table below says which are runnable samples (the others are signatures,
need an agent framework or a live LLM / embedding server / database, and
are listed in python/README.md). A sample runs in a namespace shared with
the earlier samples of its document, the way a reader runs them in order.
"""
import __future__
import glob
import os
import re

import pytest

from conftest import SEEDS

# Seed module -> agentmem modules to look each imported name up in.
IMPORT_MAP = {
    "src.agents.memory": ["agentmem.conversation"],
    "ai_infra.llm.memory": ["agentmem.context", "agentmem.store"],
    "ai_infra.llm.tools.custom": ["agentmem.store"],
    "langchain_core.messages": ["agentmem.messages"],
    "memory": ["agentmem.compression"],
    "aitor.memory": ["agentmem.react"],
}

# (document prefix, block numbers that run, extra import lines). The extra
# lines are imports the samples use without writing them (Path, typing).
RUNNABLE = {
    # 000's samples act on `agent`, the framework's agent; the preamble
    # gives them agentmem.react.MemoryAgent, an agent's memory side (no
    # LLM). Their annotations name ReactAgent, which they never import, so
    # 000 is compiled with postponed annotations (PEP 563).
    "000": ([3, 4, 5, 7, 9],
            ["import json",
             "from datetime import datetime",
             "from pathlib import Path",
             "from typing import Any, Dict, List",
             "from agentmem.react import MemoryAgent",
             "agent = MemoryAgent(name='SeedAgent')"]),
    "004": ([9, 12, 19, 22, 25, 28, 29, 30, 31, 32],
            ["from pathlib import Path",
             "from typing import Any, Dict, List, Optional",
             "from src.agents.memory import ConversationMemory, Message, "
             "MemoryManager, MessageContent, ToolCallMsg, AgentCallMsg"]),
    # 002's TokenTracker sample counts a `message` it never defines: the
    # preamble gives it one.
    "002": ([1, 3, 12],
            ["from agentmem.compression import LLMMessage",
             "message = LLMMessage(role='user', content='Search for Python "
             "tutorials and summarize the official one')"]),
    "001": ([2, 3, 5, 6, 8, 11],
            ["from ai_infra.llm.tools.custom import ConversationMemory"]),
}


LAZY_ANNOTATIONS = {"000"}


def rewrite_imports(code):
    """Replace `from <seed module> import a, b` with imports from agentmem."""
    import importlib

    def repl(m):
        mod, names = m.group(1), m.group(2)
        if mod not in IMPORT_MAP:
            return m.group(0)
        lines = []
        for name in [n.strip() for n in names.split(",") if n.strip()]:
            for target in IMPORT_MAP[mod]:
                if hasattr(importlib.import_module(target), name):
                    lines.append("from %s import %s" % (target, name))
                    break
            else:
                raise AssertionError("agentmem has no %s (from %s)" % (name, mod))
        return "\n".join(lines)

    return re.sub(r"^from ([\w.]+) import ([\w, ]+)$", repl, code,
                  flags=re.M)


def blocks(prefix):
    files = glob.glob(os.path.join(SEEDS, prefix + "_*.txt"))
    if not files:
        return []
    with open(files[0], encoding="utf-8") as f:
        return re.findall(r"```python\n(.*?)```", f.read(), re.S)


CASES = [(p, b) for p, (bs, _) in sorted(RUNNABLE.items()) for b in bs]


@pytest.mark.parametrize("prefix,block", CASES,
                         ids=["%s-block%d" % c for c in CASES])
def test_seed_sample_runs(prefix, block, seeds_dir, tmp_path, monkeypatch):
    code = blocks(prefix)
    assert code, "seed %s not found in %s" % (prefix, seeds_dir)
    monkeypatch.chdir(tmp_path)  # samples write files like conversation.json
    runnable, preamble = RUNNABLE[prefix]
    ns = {"__name__": "seed_%s" % prefix}
    exec(compile(rewrite_imports("\n".join(preamble)), "preamble", "exec"), ns)
    flags = (__future__.annotations.compiler_flag
             if prefix in LAZY_ANNOTATIONS else 0)
    for b in runnable:
        if b > block:
            break
        src = rewrite_imports(code[b])
        exec(compile(src, "seed %s block %d" % (prefix, b), "exec", flags),
             ns)
    check = CHECKS.get((prefix, block))
    if check:
        check(ns, tmp_path)


# What each sample must have produced (beyond running without error).
def _check_004_9(ns, tmp):
    assert len(ns["recent"]) == 2
    assert (tmp / "conversation.json").exists()


def _check_004_29(ns, tmp):
    t = ns["ConversationTracker"]()
    for i in range(7):
        t.add_turn("q%d" % i, "a%d" % i)
    ctx = t.get_context(max_turns=2)
    assert [m.content for m in ctx] == ["q5", "a5", "q6", "a6"]


def _check_004_30(ns, tmp):
    mem = ns["SummarizingMemory"](max_messages=50)
    Message = ns["Message"]
    for i in range(60):
        mem.add_message(Message(role="user", content=str(i)))
    assert len(mem.summaries) == 1
    assert len(mem.messages) == 35


def _check_004_31(ns, tmp):
    pm = ns["PersistentMemory"]("Agent1", tmp)
    pm.add_message(ns["Message"](role="user", content="remember me"))
    again = ns["PersistentMemory"]("Agent1", tmp)
    assert [m.content for m in again.memory.get_messages()] == ["remember me"]


def _check_001_2(ns, tmp):
    assert ns["trimmed"][0].type == "system"
    assert len(ns["trimmed"]) <= 5


def _check_001_3(ns, tmp):
    assert ns["count"] > 0
    assert ns["limit"] == 200000


def _check_001_6(ns, tmp):
    assert ns["store"].get(("user_123", "preferences"), "language") is None
    assert ns["items"] == []


def _check_001_8(ns, tmp):
    assert ns["item"].value == {"value": "1.0.0"}


def _check_000_3(ns, tmp):
    assert [m.role for m in ns["messages"]] == ["user", "assistant", "system"]
    assert len(ns["user_messages"]) == 1


def _check_000_4(ns, tmp):
    assert len(ns["successful_executions"]) == 1
    assert ns["all_executions"][0].result.result == {"calculation": 42}


def _check_000_5(ns, tmp):
    assert ns["reasoning_steps"] == []


def _check_000_7(ns, tmp):
    assert ns["session_manager"].list_sessions() == ["user123_session1"]
    again = ns["MemoryAgent"]()
    assert ns["session_manager"].load_session(again, "user123_session1")
    assert len(again.get_memory().get_messages()) == 3


def _check_000_9(ns, tmp):
    s = ns["stats"]
    assert s["messages"]["total_messages"] == 3
    assert s["tools"]["tool_usage"] == {"calculator": 1}
    # The package's own analyze_memory_usage (in C) agrees with the
    # sample's pure-Python one (which counts three roles; C adds "tool").
    # Average lengths agree here because the sample text is ASCII: C
    # counts bytes, the sample characters.
    from agentmem.react import analyze_memory_usage
    ours = analyze_memory_usage(ns["agent"])
    for k, v in s["messages"]["by_role"].items():
        assert ours["messages"]["by_role"][k] == v, k
    assert ours["reasoning"] == s["reasoning"]
    assert ours["tools"] == s["tools"]


def _check_002_3(ns, tmp):
    assert ns["tokens"] > 0
    assert ns["cost"] == 0.0  # nothing added to the running totals yet


def _check_002_12(ns, tmp):
    from agentmem.compression import (CompressionStrategy, MemoryConfig,
                                      WorkingMemoryCompressor)
    called = []

    class Spy(ns["CustomCompressor"]):
        def _should_preserve(self, message):
            called.append(message.role)
            return super()._should_preserve(message)
    msgs = [{"role": "user", "content": "step %d of the task" % i}
            for i in range(12)]
    msgs[3]["content"] = "CRITICAL: never delete the backups"
    cfg = MemoryConfig(compression_strategy=CompressionStrategy.SELECTIVE)
    r = Spy(None, cfg).compress_sync(msgs)
    assert called, "the C code never asked _should_preserve"
    assert any("CRITICAL:" in (m.content or "")
               for m in r.preserved_messages)
    assert issubclass(ns["CustomCompressor"], WorkingMemoryCompressor)


CHECKS = {("002", 3): _check_002_3, ("002", 12): _check_002_12,
          ("000", 3): _check_000_3, ("000", 4): _check_000_4,
          ("000", 5): _check_000_5, ("000", 7): _check_000_7,
          ("000", 9): _check_000_9,
          ("004", 9): _check_004_9, ("004", 29): _check_004_29,
          ("004", 30): _check_004_30, ("004", 31): _check_004_31,
          ("001", 2): _check_001_2, ("001", 3): _check_001_3,
          ("001", 6): _check_001_6, ("001", 8): _check_001_8}
