"""trim_messages converts only what the trim can keep (py_window.c's lazy
trimming) and selects exactly what a trim of the whole list selects."""
import random

import pytest

from agentmem import _agentmem
from agentmem.context import trim_messages


def history(seed, n=400, late=None):
    rnd = random.Random(seed)
    if late is None:
        late = 0.0 if seed % 2 else 0.2
    words = "alpha beta gamma delta invoice Hamburg refund naïve 東京".split()
    msgs = [{"role": "system", "content": "You are terse."}]
    pending = []  # calls whose results are still to come
    call = 0
    while len(msgs) < n:
        k = rnd.random()
        text = " ".join(rnd.choice(words) for _ in range(rnd.randint(1, 60)))
        if k < 0.03:
            msgs.append({"role": "system", "content": "note: " + text})
        elif k < 0.45:
            msgs.append({"role": "user", "content": text})
        elif k < 0.65:
            ids = ["c%d" % (call + j) for j in range(rnd.randint(1, 3))]
            call += len(ids)
            msgs.append({"role": "assistant", "content": None, "tool_calls": [
                {"id": i, "type": "function",
                 "function": {"name": "f", "arguments": '{"q": 1}'}}
                for i in ids]})
            for i in ids:  # most results come at once, in any order
                if rnd.random() < late:
                    pending.append(i)
                else:
                    msgs.append({"role": "tool", "tool_call_id": i,
                                 "content": text})
        elif k < 0.7 and pending:
            # Others come late, after other turns (even much later).
            i = pending.pop(rnd.randrange(len(pending)))
            msgs.append({"role": "tool", "tool_call_id": i, "content": text})
        else:
            msgs.append({"role": "assistant", "content": text})
    return msgs


def whole(msgs, **kw):
    args = dict(strategy="last", max_messages=None, max_tokens=None,
                preserve_system=True, model=None, start_on_user=False,
                end_on_role=None, allow_partial=False)
    args.update(kw)
    return _agentmem.trim(msgs, args["strategy"], args["max_messages"],
                          args["max_tokens"], args["preserve_system"],
                          args["model"], args["start_on_user"],
                          args["end_on_role"], args["allow_partial"], False)


LAZY = []  # per case: did the lazy path decide it?

CASES = [dict(max_tokens=t) for t in (1, 50, 300, 1200, 5000, 10 ** 6)] + [
    dict(max_messages=m) for m in (1, 7, 40)] + [
    dict(max_tokens=800, max_messages=25),
    dict(max_tokens=600, start_on_user=True),
    dict(max_tokens=600, end_on_role="assistant"),
    dict(max_tokens=700, allow_partial=True),
    dict(max_tokens=700, preserve_system=False),
    dict(strategy="token", max_tokens=900, model="gpt-4o"),
]


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize("case", CASES, ids=[str(c) for c in CASES])
def test_lazy_trim_selects_what_the_whole_trim_selects(seed, case):
    msgs = history(seed)
    want = whole(msgs, **case)
    got = _agentmem.trim(msgs, case.get("strategy", "last"),
                         case.get("max_messages"), case.get("max_tokens"),
                         case.get("preserve_system", True), case.get("model"),
                         case.get("start_on_user", False),
                         case.get("end_on_role"),
                         case.get("allow_partial", False), True)
    assert [id(m) for m in got["messages"]] == [id(m) for m in want["messages"]]
    assert got["partial_index"] == want["partial_index"]
    assert got["partial_text"] == want["partial_text"]
    assert got["tokens_after"] == want["tokens_after"]
    LAZY.append(got["tokens_before"] is None)
    kw = {k: v for k, v in case.items() if k != "strategy"}
    kept = trim_messages(msgs, case.get("strategy", "last"), **kw)
    if want["partial_index"] is None:
        assert [id(m) for m in kept] == [id(m) for m in want["messages"]]


def test_the_lazy_path_decided_most_cases():
    # Runs after the parametrized cases (file order).
    assert LAZY and sum(LAZY) > len(LAZY) // 3, (sum(LAZY), len(LAZY))


def test_old_messages_are_checked_for_role_only():
    msgs = [{"role": "user" if i % 2 == 0 else "assistant",
             "content": "turn %d about the Hamburg invoice" % i}
            for i in range(2000)]
    msgs[5] = {"role": "user", "content": 12345}  # bad content, dropped
    assert trim_messages(msgs, max_tokens=500)  # never converted
    with pytest.raises((TypeError, ValueError), match=r"messages\[5\]"):
        whole(msgs, max_tokens=500)
    msgs[5] = {"role": "robot", "content": "x"}
    with pytest.raises(ValueError, match=r"messages\[5\].role: unknown role"):
        trim_messages(msgs, max_tokens=500)
    msgs[5] = None
    with pytest.raises(TypeError, match=r"messages\[5\]"):
        trim_messages(msgs, max_tokens=500)


def test_a_bad_message_just_older_than_the_cut_is_not_converted():
    # The lazy walk converts the newest messages in batches of ~64 KB
    # before it knows where the cut falls: a bad message in the same batch
    # but older than the cut still does not matter, and one the trim keeps
    # is still refused.
    msgs = [{"role": "user" if i % 2 == 0 else "assistant",
             "content": "turn %d about the Hamburg invoice" % i}
            for i in range(300)]
    kept = trim_messages(msgs, max_tokens=500)
    first = len(msgs) - len(kept)
    assert 10 < first < 290
    msgs[first - 3] = {"role": "user", "content": 12345}
    assert trim_messages(msgs, max_tokens=500) == kept
    msgs[first + 3] = {"role": "user", "content": 12345}
    with pytest.raises((TypeError, ValueError),
                       match=r"messages\[%d\]" % (first + 3)):
        trim_messages(msgs, max_tokens=500)


def test_a_late_tool_result_falls_back_to_the_whole_list():
    msgs = [{"role": "system", "content": "s"},
            {"role": "assistant", "content": None, "tool_calls": [
                {"id": "old", "type": "function",
                 "function": {"name": "f", "arguments": "{}"}}]}]
    msgs += [{"role": "user", "content": "filler %d " % i * 20}
             for i in range(200)]
    msgs.append({"role": "tool", "tool_call_id": "old", "content": "late"})
    msgs.append({"role": "user", "content": "last"})
    want = whole(msgs, max_tokens=400)
    got = _agentmem.trim(msgs, "last", None, 400, True, None, False, None,
                         False, True)
    assert [id(m) for m in got["messages"]] == [id(m) for m in want["messages"]]
    assert got["orphans"] == want["orphans"] == 0  # converted whole


def test_lazy_result_says_what_it_does_not_know():
    msgs = history(1, 3000, late=0.0)
    r = _agentmem.trim(msgs, "last", None, 500, True, None, False, None,
                       False, True)
    assert r["tokens_before"] is None and r["orphans"] is None
    full = whole(msgs, max_tokens=500)
    assert full["tokens_before"] > 500
