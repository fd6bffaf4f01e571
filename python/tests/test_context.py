"""agentmem.context: counting, trimming, summarization (seed 001)."""
import asyncio
import threading

import pytest

import agentmem
from agentmem.context import (SummarizationMiddleware, asummarize_messages,
                              count_tokens, count_tokens_approximate,
                              get_context_limit, summarize_messages,
                              trim_messages)


class LCMessage:
    """A LangChain-shaped message without langchain_core."""

    def __init__(self, type_, content, **kw):
        self.type = type_
        self.content = content
        self.tool_calls = kw.get("tool_calls", [])
        self.tool_call_id = kw.get("tool_call_id")


def history(n=20):
    msgs = [{"role": "system", "content": "You are helpful."}]
    for i in range(n):
        msgs.append({"role": "user" if i % 2 == 0 else "assistant",
                     "content": "message %d about Python and agents" % i})
    return msgs


def test_count_tokens_matches_tiktoken_known_values():
    assert count_tokens("hello world") == 2
    assert count_tokens("hello world", model="gpt-4") == 2
    assert count_tokens("") == 0
    # cl100k and o200k differ on this text.
    text = "The quick brown fox 🦊 jumps over the lazy dog 12345."
    assert count_tokens(text, "gpt-4") > 0
    assert count_tokens(text, "gpt-4o") > 0


def test_count_tokens_of_messages_is_the_trim_measure():
    msgs = history(30)
    total = count_tokens(msgs, model="gpt-4o")
    per = sum(count_tokens([m], model="gpt-4o") for m in msgs)
    assert total == per
    assert count_tokens([msgs[1]], "gpt-4o") == \
        3 + count_tokens("user", "gpt-4o") + count_tokens(msgs[1]["content"], "gpt-4o")
    kept = trim_messages(msgs, strategy="token", max_tokens=100, model="gpt-4o")
    assert count_tokens(kept, model="gpt-4o") <= 100
    assert len(kept) < len(msgs)


def test_count_tokens_approximate():
    assert count_tokens_approximate("abcdefgh") == 2
    assert count_tokens_approximate("abcdefghi") == 3
    assert count_tokens_approximate([{"role": "user", "content": "abcd"}]) == \
        3 + (len("user") + 4 + 3) // 4


def test_get_context_limit():
    assert get_context_limit("claude-3-opus") == 200000
    assert get_context_limit("gpt-4o") == 128000
    assert get_context_limit("no-such-model-xyz") > 0


def test_model_info_carries_the_catalog_provenance():
    import re
    from agentmem.context import model_info
    date = re.compile(r"^\d{4}-\d{2}-\d{2}$")
    info = model_info("gpt-4o")
    assert info["known"] and info["context_window"] == 128000
    for kind in ("price", "limits"):
        assert info[kind + "_source"].startswith("https://")
        checked = info[kind + "_checked"]
        assert checked is None or date.match(checked)
    # At least one built-in entry has been compared with its source.
    assert any(model_info(m)["price_checked"] for m in
               ("gpt-4", "gpt-4o", "claude-3-opus", "gpt-4o-mini"))
    unknown = model_info("no-such-model-xyz")
    assert not unknown["known"]
    assert all(unknown[k] is None for k in (
        "price_source", "price_checked", "limits_source", "limits_checked"))


def test_trim_strategies_and_system_preservation():
    msgs = history(20)
    last = trim_messages(msgs, strategy="last", max_messages=5)
    assert last[0] is msgs[0]
    assert last[-1] is msgs[-1]
    assert len(last) <= 5
    first = trim_messages(msgs, strategy="first", max_messages=3)
    assert first == msgs[:3]
    no_sys = trim_messages(msgs, strategy="last", max_messages=4,
                           preserve_system=False)
    assert all(m["role"] != "system" for m in no_sys)
    assert no_sys == msgs[-4:]
    tok = trim_messages(msgs, strategy="token", max_tokens=40)
    assert tok[0] is msgs[0] and tok[-1] is msgs[-1]
    assert count_tokens_approximate(tok) <= 40
    # The input is untouched.
    assert len(msgs) == 21


def test_trim_keeps_tool_groups_whole():
    msgs = [
        {"role": "user", "content": "weather in Paris and Rome?"},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "c1", "type": "function",
             "function": {"name": "weather", "arguments": '{"city":"Paris"}'}},
            {"id": "c2", "type": "function",
             "function": {"name": "weather", "arguments": '{"city":"Rome"}'}}]},
        {"role": "tool", "tool_call_id": "c1", "content": "sunny"},
        {"role": "tool", "tool_call_id": "c2", "content": "rainy"},
        {"role": "assistant", "content": "Paris is sunny, Rome rainy."},
    ]
    for n in range(1, 6):
        kept = trim_messages(msgs, strategy="last", max_messages=n)
        assert not kept or kept[0]["role"] != "tool"
        ids = {m.get("tool_call_id") for m in kept if m["role"] == "tool"}
        calls = {tc["id"] for m in kept for tc in m.get("tool_calls") or []}
        assert ids <= calls


def test_trim_langchain_style_objects_come_back_as_themselves():
    msgs = [LCMessage("system", "You are helpful."), LCMessage("human", "Hello"),
            LCMessage("ai", "Hi there!"), LCMessage("human", "Tell me about Python"),
            LCMessage("ai", "Python is a programming language...")]
    kept = trim_messages(msgs, strategy="last", max_messages=3)
    assert kept[0] is msgs[0]
    assert kept[-1] is msgs[-1]
    calls = LCMessage("ai", "", tool_calls=[{"name": "search", "args": {"q": "x"},
                                              "id": "t1", "type": "tool_call"}])
    res = LCMessage("tool", "found", tool_call_id="t1")
    kept = trim_messages([msgs[1], calls, res], strategy="last", max_messages=2)
    assert kept == [calls, res]


def test_trim_allow_partial_cuts_a_copy():
    big = {"role": "user", "content": "word " * 400}
    msgs = [{"role": "system", "content": "sys"}, big]
    kept = trim_messages(msgs, strategy="token", max_tokens=60,
                         allow_partial=True)
    assert kept[-1] is not big
    assert len(kept[-1]["content"]) < len(big["content"])
    assert big["content"] == "word " * 400


def test_summarize_offline_keeps_last_and_system():
    msgs = history(20)
    r = summarize_messages(msgs, keep_last=5)
    assert r.original_count == 21
    assert r.summarized_count == 15
    assert r.messages[0] is msgs[0]
    assert r.messages[-5:] == msgs[-5:]
    summary_msg = r.messages[1]
    assert summary_msg["role"] == "system" and summary_msg["name"] == "summary"
    assert r.summary and r.summary in summary_msg["content"]


def test_summarize_with_a_python_llm_callable():
    seen = []

    def llm(messages):
        seen.append(messages)
        assert messages[0]["role"] == "system"
        return "They talked about Python."

    r = summarize_messages(history(12), keep_last=4, llm=llm)
    assert r.summary == "They talked about Python."
    assert seen and "message 0" in seen[0][1]["content"]


def test_summarizer_exception_propagates():
    class Boom(Exception):
        pass

    def llm(messages):
        raise Boom("no model today")

    with pytest.raises(Boom, match="no model today"):
        summarize_messages(history(12), keep_last=4, llm=llm)
    with pytest.raises(TypeError):
        summarize_messages(history(12), keep_last=4, llm=lambda m: 42)


def test_asummarize_messages():
    r = asyncio.run(asummarize_messages(history(12), keep_last=4))
    assert r.summarized_count == 8


def test_summarization_middleware():
    mw = SummarizationMiddleware(trigger_messages=10, keep_last=4)
    msgs = history(8)
    assert not mw.should_summarize(msgs)
    assert mw.process(msgs).messages == msgs
    msgs = history(20)
    assert mw.should_summarize(msgs)
    r = mw.process(msgs)
    assert r.messages[-4:] == msgs[-4:]
    assert mw.summary
    with pytest.raises(ValueError, match="trigger"):
        SummarizationMiddleware()


def test_threads_share_tokenizers_and_trim():
    text = "agents remember things " * 2000
    expect = count_tokens(text)
    msgs = history(200)
    expect_trim = trim_messages(msgs, strategy="token", max_tokens=300,
                                model="gpt-4o")
    errors = []

    def work():
        try:
            for _ in range(20):
                assert count_tokens(text) == expect
                assert trim_messages(msgs, strategy="token", max_tokens=300,
                                     model="gpt-4o") == expect_trim
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors


def test_unknown_model_for_exact_count_raises_library_error_or_estimates():
    # Unknown models get the catalog default (an estimate), never a crash.
    assert count_tokens("hello world", model="my-local-llm") > 0
    assert isinstance(agentmem.library_version, str)
