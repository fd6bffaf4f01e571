"""agentmem.compression: WorkingMemoryCompressor, TokenTracker and the
MemoryManager's LLM callable (seed 002)."""
import asyncio
import threading

import pytest

import agentmem
from agentmem.compression import (CompressedMemory, CompressionStrategy,
                                  LLMMessage, MemoryConfig, MemoryManager,
                                  TokenTracker, WorkingMemoryCompressor)


def history(n=24):
    out = [{"role": "system", "content": "You are a careful agent."}]
    for i in range(n):
        out.append({"role": "user", "content": "step %d: look up invoice "
                    "%d for the Hamburg office and report" % (i, 4700 + i)})
        out.append({"role": "assistant", "content": "Invoice %d is paid; "
                    "nothing else to report for step %d." % (4700 + i, i)})
    return out


def test_sliding_window_summarizes_everything_but_system():
    c = WorkingMemoryCompressor(None, MemoryConfig(model="gpt-4o-mini"))
    r = asyncio.run(c.compress(history()))
    assert isinstance(r, CompressedMemory)
    assert r.strategy is CompressionStrategy.SLIDING_WINDOW
    assert r.original_message_count == 48
    assert 0 < r.compressed_tokens < r.original_tokens
    assert r.compression_ratio == pytest.approx(
        r.compressed_tokens / r.original_tokens)
    assert r.summary and r.token_savings > 0
    assert [m.role for m in r.preserved_messages] == ["system"]


def test_deletion_keeps_no_summary():
    cfg = MemoryConfig(compression_strategy=CompressionStrategy.DELETION)
    r = WorkingMemoryCompressor(None, cfg).compress_sync(history(5))
    assert r.summary == "" and r.compressed_tokens == 0
    assert r.original_message_count == 10


def test_llm_callable_writes_the_summary():
    calls = []

    def llm(messages):
        calls.append(messages)
        return "SUMMARY: invoices 4700-4703 paid"
    r = WorkingMemoryCompressor(llm).compress_sync(history(4))
    assert r.summary.endswith("SUMMARY: invoices 4700-4703 paid")
    assert calls and "invoice 4700" in calls[0][-1]["content"]


def test_the_newest_message_is_compressed_too():
    # The C manager's compress_newest option: exactly the given messages
    # go to the summarizer, the last one included, and nothing else.
    seen = []

    def llm(messages):
        seen.append(messages)
        return "SUMMARY"
    h = history(3)
    r = WorkingMemoryCompressor(llm).compress_sync(h)
    assert r.original_message_count == 6
    assert [m.role for m in r.preserved_messages] == ["system"]
    text = "\n".join(m["content"] for m in seen[0])
    for m in h[1:]:
        assert m["content"] in text
    assert "sentinel" not in text


def test_llm_exception_propagates():
    def llm(messages):
        raise ConnectionError("no server")
    with pytest.raises(ConnectionError, match="no server"):
        WorkingMemoryCompressor(llm).compress_sync(history(3))


class PinningCompressor(WorkingMemoryCompressor):
    def _should_preserve(self, message):
        # "PINNED" is not one of the built-in marker words.
        if "PINNED:" in (message.content or ""):
            return True
        return super()._should_preserve(message)


def test_should_preserve_override_is_called_from_c():
    msgs = history(10)
    msgs[7]["content"] = "PINNED: the Hamburg office closes Friday"
    cfg = MemoryConfig(compression_strategy=CompressionStrategy.SELECTIVE)
    kept = PinningCompressor(None, cfg).compress_sync(msgs).preserved_messages
    assert any("PINNED:" in (m.content or "") for m in kept)
    plain = WorkingMemoryCompressor(None, cfg).compress_sync(msgs)
    assert not any("PINNED:" in (m.content or "")
                   for m in plain.preserved_messages)


def test_should_preserve_false_overrides_the_built_in_rules():
    class Nothing(WorkingMemoryCompressor):
        def _should_preserve(self, message):
            return message.role == "system"
    msgs = history(6)
    msgs[3]["content"] = "important: remember the refund decision"
    cfg = MemoryConfig(compression_strategy=CompressionStrategy.SELECTIVE)
    kept = Nothing(None, cfg).compress_sync(msgs).preserved_messages
    assert [m.role for m in kept] == ["system"]


def test_should_preserve_exception_propagates():
    class Broken(WorkingMemoryCompressor):
        def _should_preserve(self, message):
            raise KeyError("bad rule")
    cfg = MemoryConfig(compression_strategy=CompressionStrategy.SELECTIVE)
    with pytest.raises(KeyError, match="bad rule"):
        Broken(None, cfg).compress_sync(history(4))


def test_compressor_bad_input():
    c = WorkingMemoryCompressor()
    with pytest.raises((TypeError, ValueError), match=r"messages\[1\]"):
        c.compress_sync([{"role": "user", "content": "x"}, {"content": 3}])
    with pytest.raises(TypeError, match="llm must be"):
        WorkingMemoryCompressor(42)
    with pytest.raises(ValueError, match="target_tokens"):
        c.compress_sync(history(1), target_tokens=0)


def test_memory_manager_takes_an_llm_callable_and_a_tracker():
    seen = []

    def llm(messages):
        seen.append(len(messages))
        return "the user asked about invoices; all paid"
    tracker = TokenTracker()
    m = MemoryManager(MemoryConfig(compression_threshold=300,
                                   max_context_tokens=2000,
                                   short_term_size=4), llm, tracker=tracker)
    for t in history(20)[1:-1]:
        m.add_message(t)
    m.add_message(history(20)[-1], actual_tokens={"input": 900, "output": 20})
    assert seen, "the callable was never called"
    assert m.compressed_memory is not None
    assert m.compressed_memory.summary.endswith("all paid")
    assert m.last_compression_savings > 0
    ctx = m.get_context_for_llm()
    assert any("all paid" in (d.get("content") or "") for d in ctx)
    st = tracker.get_stats()
    assert st["calls"] == 1 and st["tokens_saved"] > 0
    assert st["input_tokens"] == 900


def test_token_tracker_counts_and_prices():
    t = TokenTracker()
    msg = LLMMessage(role="user", content="Hello there, how are you today?")
    n_openai = t.count_message_tokens(msg, "openai", "gpt-4o")
    n_claude = t.count_message_tokens(msg, "anthropic", "claude-3-5-sonnet")
    assert n_openai > 0 and n_claude > 0
    assert t.count_message_tokens(msg, "anthropic") == n_claude
    t.add_input_tokens(1_000_000)
    t.add_output_tokens(100_000)
    assert t.calculate_cost("claude-3-5-sonnet-20241022") == pytest.approx(
        3.00 + 1.50)
    assert t.calculate_cost("gpt-4o-mini") == pytest.approx(0.15 + 0.06)
    t.record("gpt-4o-mini", 2_000_000, 0)
    t.record("gpt-4o-mini", 0, 0, compression=True)
    t.record_compression(10_000, 2_000, "gpt-4o-mini")
    s = t.get_stats()
    assert s["calls"] == 2 and s["cost"] == pytest.approx(0.30)
    assert s["tokens_saved"] == 8000
    assert t.total_cost == pytest.approx(0.30)
    t.reset()
    assert t.get_stats()["calls"] == 0 and t.total_input_tokens == 0


def test_token_tracker_budget_and_bad_input():
    hits = []
    t = TokenTracker(budget_tokens=1000, on_budget=hits.append)
    t.record("gpt-4o-mini", 600, 0)
    assert hits == []
    t.record("gpt-4o-mini", 600, 0)
    assert len(hits) == 1 and hits[0]["over_budget"]

    def boom(stats):
        raise RuntimeError("over budget")
    t2 = TokenTracker(budget=0.000001, on_budget=boom)
    with pytest.raises(RuntimeError, match="over budget"):
        t2.record("gpt-4o", 1000, 1000)
    assert t2.get_stats()["calls"] == 1
    with pytest.raises(ValueError, match="input_tokens must be >= 0"):
        t.record("gpt-4o", -1, 0)
    with pytest.raises(agentmem.InvalidArgumentError):
        t.record("", 1, 0)
    with pytest.raises(ValueError, match="provider 'acme'"):
        t.count_message_tokens("hi", "acme")
    with pytest.raises(TypeError, match="on_budget must be callable"):
        TokenTracker(on_budget=3)
    with pytest.raises(TypeError, match="TokenTracker"):
        MemoryManager(tracker=object())


def test_token_tracker_is_thread_safe():
    t = TokenTracker()

    def work():
        for _ in range(2000):
            t.record("gpt-4o-mini", 10, 1)
    ts = [threading.Thread(target=work) for _ in range(4)]
    for x in ts:
        x.start()
    for x in ts:
        x.join()
    assert t.get_stats()["calls"] == 8000
    assert t.get_stats()["input_tokens"] == 80000


def test_create_free_cycles_keep_rss_flat():
    from test_leaks import rss_kb

    def cycle(n):
        for i in range(n):
            t = TokenTracker(budget_tokens=5, on_budget=lambda s: None)
            t.record("gpt-4o-mini", 10, 1)
            if i % 20 == 0:
                c = PinningCompressor(
                    lambda m: "sum", MemoryConfig(
                        compression_strategy=CompressionStrategy.SELECTIVE))
                c.compress_sync(history(2))
    cycle(500)
    before = rss_kb()
    cycle(20000)
    grown = rss_kb() - before
    assert grown < 4096, "RSS grew by %d KB" % grown
