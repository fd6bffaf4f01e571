"""The GIL is released around the calls that take time: another Python
thread keeps running while one counts a large text, trims a history
with a long message in it or with very many messages, or searches a
store. (Calls to an LLM
are covered by test_llm.py: its stand-in server is a Python thread that
could not answer if the GIL were held during the HTTP call.)"""
import sys
import threading
import time

import random

from agentmem.context import count_tokens, trim_messages
from agentmem.store import MemoryStore

BIG = "agents remember things across many long sessions, " * 200000  # 10 MB


def longest_hold(call, tries=5, pick=min):
    """The smallest (or what `pick` picks), over `tries` calls, of the
    longest stretch of a call during which a second Python thread did not
    run, as a fraction of the call's time. The thread stamps each of its runs with the time. While
    the call holds the GIL the thread cannot run (however soon the OS
    would let it), so a call that holds the GIL all along gives ~1.0, one
    that holds it for half its time ~0.5, and one that releases it a few
    hundredths (the thread's scheduling gaps). Calls under 20 ms are too
    short to tell and not counted."""
    old = sys.getswitchinterval()
    sys.setswitchinterval(0.001)
    stamps = []
    stop = threading.Event()

    def ticker():
        while not stop.is_set():
            stamps.append(time.perf_counter())
            time.sleep(0)

    t = threading.Thread(target=ticker)
    t.start()
    best = None
    try:
        for _ in range(tries):
            t0 = time.perf_counter()
            call()
            t1 = time.perf_counter()
            if t1 - t0 < 0.02:
                continue
            edges = [t0] + [s for s in list(stamps) if t0 < s < t1] + [t1]
            gap = max(b - a for a, b in zip(edges, edges[1:])) / (t1 - t0)
            best = gap if best is None else pick(best, gap)
            if pick is min and best < 0.1:
                break
    finally:
        stop.set()
        t.join()
        sys.setswitchinterval(old)
    assert best is not None, "every call took under 20 ms: too short to tell"
    return best


def test_counting_a_large_text_releases_the_gil():
    count_tokens("open the tokenizer first")  # (opening releases it too)
    big = BIG * 4  # long enough that the OS's gaps in the thread are small
    assert longest_hold(lambda: count_tokens(big)) < 0.3


def test_trimming_a_long_message_releases_the_gil():
    # The lazy trim counts the newest messages before the C trim runs
    # (py_window.c): both count the 10 MB message, each with the GIL
    # released. Counting it with the GIL held in either leaves the other
    # thread out for about half the call.
    msgs = [{"role": "system", "content": "Be brief."},
            {"role": "user", "content": "hello"},
            {"role": "assistant", "content": "hi"},
            {"role": "user", "content": BIG}]
    kept = trim_messages(msgs, strategy="token", max_tokens=100000,
                         model="gpt-4o")
    assert kept == msgs[:1]  # the long one does not fit, nor what is older
    assert longest_hold(lambda: trim_messages(
        msgs, strategy="token", max_tokens=100000, model="gpt-4o")) < 0.3


def test_trimming_many_short_messages_lets_other_threads_run():
    # 50,000 short messages, every one kept: each is converted and
    # counted with the GIL held (too short to release it for), but the
    # trim hands the GIL over between stretches of them.
    msgs = [{"role": "user" if i % 2 == 0 else "assistant",
             "content": "message number %d of a long session" % i}
            for i in range(50000)]
    assert len(trim_messages(msgs, max_messages=len(msgs),
                             model="gpt-4o")) == len(msgs)
    assert longest_hold(lambda: trim_messages(
        msgs, max_messages=len(msgs), model="gpt-4o"), tries=3) < 0.3


def test_searching_a_store_releases_the_gil():
    # A query of 1,000 distinct words (the text search uses up to 1,024)
    # over 1,000 items: FTS5 ORs them all, so one hybrid search takes
    # ~55 ms on a quiet machine (300 words took 15 ms there, too short for
    # the check) and a few hundred under load. Without the release the
    # other thread is left out for ~80% of it.
    rnd = random.Random(3)
    words = ["w%d" % i for i in range(2000)]
    with MemoryStore() as store:
        for i in range(1000):
            store.put(("u",), "k%d" % i,
                      {"text": " ".join(rnd.choice(words) for _ in range(20))})
        query = " ".join(words[:1000])
        assert len(store.search(("u",), query, 10)) == 10
        assert longest_hold(lambda: store.search(("u",), query, 10),
                            tries=3) < 0.3


def test_the_check_sees_a_call_that_holds_the_gil():
    # The same check on a long C call that keeps the GIL: sorting a large
    # list of ints (no Python code runs, so no switch point). The best of
    # three: on a loaded machine the thread can be left waiting for a CPU
    # between the start of the clock and the call (the ticker's last stamp
    # is then well after t0), which shortened one try to 0.54 at load 20.
    data = list(range(3000000, 0, -1))
    assert longest_hold(lambda: sorted(data), tries=3, pick=max) > 0.6
