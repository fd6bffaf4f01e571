"""Handles are freed: 100,000 create/free cycles keep RSS flat."""
import resource

from agentmem import _agentmem
from agentmem.context import SummarizationMiddleware, trim_messages
from agentmem.store import MemoryStore


def rss_kb():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def cycle(n):
    msgs = [{"role": "user", "content": "hello there"},
            {"role": "assistant", "content": "hi", "tool_calls": [
                {"id": "c", "type": "function",
                 "function": {"name": "f", "arguments": "{}"}}]},
            {"role": "tool", "tool_call_id": "c", "content": "ok"}]
    for _ in range(n):
        mw = SummarizationMiddleware(trigger_messages=5)
        mw.should_summarize(msgs)
        del mw
        trim_messages(msgs, max_messages=2)
        try:
            _agentmem._raise_status(3, "x")
        except Exception:
            pass


def test_100000_create_free_cycles_keep_rss_flat():
    cycle(2000)  # warm up allocator pools
    before = rss_kb()
    cycle(100000)
    grown = rss_kb() - before
    assert grown < 4096, "RSS grew by %d KB over 100,000 cycles" % grown


def test_store_open_close_cycles():
    MemoryStore(embedder="none").close()
    before = rss_kb()
    for _ in range(2000):
        s = MemoryStore(embedder="none")
        s.put(("a",), "k", 1)
        s.close()
    assert rss_kb() - before < 4096
