"""The Python package's speed, against the C library and against the seed's
own pure-Python tier manager.

    bench_python.py WORKDIR [inputs-only]

With "inputs-only", writes WORKDIR/text.txt (about 1 MB) and
WORKDIR/conv.json (10,000 OpenAI-style messages) for bench_py_peer (the C
side); without, benchmarks on those files and prints `name value unit`
lines:

  py_count_short         ns per agentmem.context.count_tokens("hello world")
  py_count_1mb           ms to count the 1 MB text
  py_trim_10k            ms per trim_messages(10,000 dicts, token, 8000)
  tiers_* / seed_tiers_* store throughput (wall) and CPU ns per store,
                         retrieve p50/p99 (wall, each call timed alone) and
                         CPU mean of 100,000
                         items through agentmem.tiers and through the seed's
                         HierarchicalMemoryManager (extracted from
                         ../shared/seeds/003_* at run time; skipped with a
                         message when the seeds are not there); *_pass2_*:
                         a second retrieve pass over the same keys.
  dict_get_p50/p99       the same retrieve loop over a plain dict's get:
                         the floor of the harness and of a hash look-up
  harness_p50/p99        the same loop over id(), which reads nothing: the
                         clock reads and the loop alone, in every figure
                         above (subtract it to compare the calls net)
  *_retrieve_1k_p50      retrieve p50 with 1,000 items (all in cache): the
                         call's own work; the 100,000-item figure minus
                         this is what its cache misses cost
"""
import glob
import json
import os
import random
import re
import sys
import time

from agentmem.context import count_tokens, trim_messages
from agentmem.tiers import HierarchicalMemoryManager

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
SEEDS = os.path.join(os.path.dirname(REPO), "shared", "seeds")


def make_inputs(work):
    words = ("agent memory context window token tool call result user "
             "assistant summary store search vector Hamburg invoice 2024 "
             "refund shipping warehouse — naïve café 東京 🚀").split()
    rnd = random.Random(7)
    text = []
    size = 0
    while size < 1 << 20:
        w = rnd.choice(words)
        text.append(w)
        size += len(w.encode()) + 1
    with open(os.path.join(work, "text.txt"), "w", encoding="utf-8") as f:
        f.write(" ".join(text))
    msgs = [{"role": "system", "content": "You are a support agent."}]
    i = 0
    while len(msgs) < 10000:
        msgs.append({"role": "user", "content": " ".join(
            rnd.choice(words) for _ in range(rnd.randint(5, 40)))})
        if i % 3 == 0:
            msgs.append({"role": "assistant", "content": None, "tool_calls": [
                {"id": "call_%d" % i, "type": "function",
                 "function": {"name": "lookup", "arguments": '{"id": %d}' % i}}]})
            msgs.append({"role": "tool", "tool_call_id": "call_%d" % i,
                         "content": " ".join(rnd.choice(words) for _ in range(20))})
        msgs.append({"role": "assistant", "content": " ".join(
            rnd.choice(words) for _ in range(rnd.randint(10, 60)))})
        i += 1
    msgs = msgs[:10000]
    if msgs[-1]["role"] == "assistant" and msgs[-1].get("tool_calls"):
        msgs.pop()
    with open(os.path.join(work, "conv.json"), "w", encoding="utf-8") as f:
        json.dump(msgs, f)


def best_of(fn, reps):
    best = float("inf")
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def bench_tokens(work):
    count_tokens("warm up")
    n = 2000000
    t = time.perf_counter()
    for _ in range(n):
        count_tokens("hello world")
    print("py_count_short %.1f ns" % ((time.perf_counter() - t) / n * 1e9))
    with open(os.path.join(work, "text.txt"), encoding="utf-8") as f:
        text = f.read()
    tokens = count_tokens(text)
    dt = best_of(lambda: count_tokens(text), 5)
    print("py_count_1mb %.2f ms (%d bytes, %d tokens)"
          % (dt * 1e3, len(text.encode()), tokens))


def bench_trim(work):
    with open(os.path.join(work, "conv.json"), encoding="utf-8") as f:
        msgs = json.load(f)
    kept = trim_messages(msgs, strategy="token", max_tokens=8000)
    dt = best_of(lambda: trim_messages(msgs, strategy="token", max_tokens=8000), 20)
    print("py_trim_10k %.3f ms (%d messages -> %d)" % (dt * 1e3, len(msgs), len(kept)))


def seed_manager():
    files = glob.glob(os.path.join(SEEDS, "003_*.txt"))
    if not files:
        return None
    with open(files[0], encoding="utf-8") as f:
        code = re.findall(r"```python\n(.*?)```", f.read(), re.S)[0]
    ns = {"__name__": "seed003"}
    exec(compile(code, files[0], "exec"), ns)
    return ns["HierarchicalMemoryManager"]


def pct(sorted_ns, p):
    return sorted_ns[min(len(sorted_ns) - 1, int(len(sorted_ns) * p))]


def bench_tiers(name, mgr, n=100000):
    ids = ["item_%d" % i for i in range(n)]
    contents = ["memory %d: the user asked about order %d" % (i, i * 7) for i in range(n)]
    cpu = time.process_time
    t, c = time.perf_counter(), cpu()
    for i in range(n):
        mgr.store(ids[i], contents[i], 0.5)
    dt, dc = time.perf_counter() - t, cpu() - c
    print("%s_store %.0f items/s" % (name, n / dt))
    print("%s_store_cpu %.0f ns" % (name, dc / n * 1e9))
    lat, dc = time_lookups(mgr.retrieve, shuffled(ids))
    print("%s_retrieve_p50 %d ns" % (name, pct(lat, 0.50)))
    print("%s_retrieve_p99 %d ns" % (name, pct(lat, 0.99)))
    # CPU time of the whole timed loop (the two clock reads included) per
    # retrieve: less sensitive to other processes than the wall figures.
    print("%s_retrieve_cpu_mean %.0f ns" % (name, dc / n * 1e9))
    # A second pass over the same keys (each item's second access: no
    # promotion yet on either side). The first pass after the stores has
    # a tail of its own in the C library (a C loop of am_tiers_peek shows
    # it too, with ~400 page faults, and not on later passes); the seed's
    # second pass is a little slower (its access lists grow).
    lat, dc = time_lookups(mgr.retrieve, shuffled(ids))
    print("%s_retrieve_pass2_p50 %d ns" % (name, pct(lat, 0.50)))
    print("%s_retrieve_pass2_p99 %d ns" % (name, pct(lat, 0.99)))


def shuffled(ids):
    keys = list(ids)
    random.Random(1).shuffle(keys)
    return keys


def time_lookups(fn, keys):
    """Each fn(key) timed alone: sorted latencies (ns) and the loop's CPU
    seconds. The loop takes the key before the first clock read, so that
    fetching it from the list (a cache miss at 100,000 random keys) is not
    counted as part of the call."""
    clock = time.perf_counter_ns
    lat = []
    c = time.process_time()
    for key in keys:
        a = clock()
        fn(key)
        lat.append(clock() - a)
    dc = time.process_time() - c
    lat.sort()
    return lat, dc


def bench_dict_floor(n=100000):
    """The same timed loop over a plain dict's get: what the interpreter,
    the clock reads and a hash look-up's cache misses cost at this size,
    below which no retrieve can go."""
    ids = ["item_%d" % i for i in range(n)]
    d = {k: "memory %d: the user asked about order %d" % (i, i * 7)
         for i, k in enumerate(ids)}
    lat, dc = time_lookups(d.get, shuffled(ids))
    print("dict_get_p50 %d ns" % pct(lat, 0.50))
    print("dict_get_p99 %d ns" % pct(lat, 0.99))
    # id() returns the key's address without reading the key: what is
    # left is the two clock reads, the call and the list append.
    lat, dc = time_lookups(id, shuffled(ids))
    print("harness_p50 %d ns" % pct(lat, 0.50))
    print("harness_p99 %d ns" % pct(lat, 0.99))


def bench_tiers_hot(name, mgr, n=1000):
    """Retrieve with everything in cache (1,000 items just stored), each
    item's first access, as in the first 100,000-item pass."""
    ids = ["item_%d" % i for i in range(n)]
    for i in range(n):
        mgr.store(ids[i], "memory %d: the user asked about order %d"
                  % (i, i * 7), 0.5)
    lat, _ = time_lookups(mgr.retrieve, shuffled(ids))
    print("%s_retrieve_1k_p50 %d ns" % (name, pct(lat, 0.50)))


def main():
    work = sys.argv[1]
    if len(sys.argv) > 2:
        make_inputs(work)
        return  # inputs only (the C peer runs next on the same files)
    bench_tokens(work)
    bench_trim(work)
    bench_dict_floor()
    bench_tiers("tiers", HierarchicalMemoryManager())
    bench_tiers_hot("tiers", HierarchicalMemoryManager())
    Seed = seed_manager()
    if Seed is None:
        print("seed_tiers skipped: ../shared/seeds/003_* not found")
    else:
        bench_tiers("seed_tiers", Seed())
        bench_tiers_hot("seed_tiers", Seed())


if __name__ == "__main__":
    main()
