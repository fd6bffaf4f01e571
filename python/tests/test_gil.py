"""The GIL is released around the calls that take time: another Python
thread keeps running while one counts a large text. (Calls to an LLM are covered by
test_llm.py: its stand-in server is a Python thread that could not answer
if the GIL were held during the HTTP call.)"""
import sys
import threading
import time

from agentmem.context import count_tokens

BIG = "agents remember things across many long sessions, " * 200000  # 10 MB


def ran_meanwhile(call, tries=5):
    """Whether a second thread kept running while `call` was inside C,
    in any of `tries` calls. The thread stamps each of its runs with the
    time. If the call holds the GIL, the thread can run only in the
    interpreter just before or after it (one switch, its stamps close
    together, however late the OS lets it run); if the call releases the
    GIL, the thread runs all along, so its stamps within the call spread
    over much of the call's time. Calls under 20 ms are too short to
    tell and not counted."""
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
    ran = False
    long_enough = False
    try:
        for _ in range(tries):
            t0 = time.perf_counter()
            call()
            t1 = time.perf_counter()
            if t1 - t0 < 0.02:
                continue
            long_enough = True
            inside = [s for s in list(stamps) if t0 < s < t1]
            if len(inside) >= 2 and inside[-1] - inside[0] > 0.3 * (t1 - t0):
                ran = True
                break
    finally:
        stop.set()
        t.join()
        sys.setswitchinterval(old)
    assert long_enough, "every call took under 20 ms: too short to tell"
    return ran


def test_counting_a_large_text_releases_the_gil():
    count_tokens("open the tokenizer first")  # (opening releases it too)
    assert ran_meanwhile(lambda: count_tokens(BIG))


def test_the_check_sees_a_call_that_holds_the_gil():
    # The same check on a long C call that keeps the GIL: sorting a large
    # list of ints (no Python code runs, so no switch point).
    data = list(range(3000000, 0, -1))
    assert not ran_meanwhile(lambda: sorted(data), tries=3)
