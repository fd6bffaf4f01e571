#!/usr/bin/env python3
"""bench/locomo/paired.py -- is run B's R@10 different from run A's?

    bench/locomo/paired.py SPLIT.json A.jsonl B.jsonl [K]

Scores two runs files of the same split question by question (R@K, K = 10
by default, as the scorer evaluate.py defines it) and prints, overall
(categories 1-4) and per category, the mean difference B - A in points,
the standard error of that mean over questions (the paired standard
error: far smaller than the standard error of either run's R@K, which is
what docs/BENCHMARKS.md's "se R@10" column shows), and how many
questions changed. Uses the data set's own helpers (locomo_data.py next to
the scorer: ../shared/data/locomo/ relative to the repository, or the
directory of $LOCOMO_EVAL).
"""
import json
import os
import sys

here = os.path.dirname(os.path.abspath(__file__))
scorer = os.environ.get("LOCOMO_EVAL",
                        os.path.join(here, "..", "..", "..", "shared", "data",
                                     "locomo", "evaluate.py"))
sys.path.insert(0, os.path.dirname(scorer))
try:
    from evaluate import load_runs
    from locomo_data import (CATEGORIES, SCORED, iter_turns, load_split,
                             normalize_evidence)
except ImportError as e:
    sys.exit(f"paired.py: the LoCoMo helpers are not next to {scorer} ({e}); "
             "set LOCOMO_EVAL")


def per_question(split, runs, k):
    out = {}
    for s in split:
        conv = s["sample_id"]
        valid = {t["dia_id"] for _, _, t in iter_turns(s)}
        for qi, qa in enumerate(s["qa"]):
            ev, _ = normalize_evidence(qa.get("evidence", []), valid)
            if not ev or qa["category"] not in SCORED:
                continue
            ranked = runs.get((conv, qi), [])
            out[(conv, qi)] = (qa["category"],
                               len(set(ev) & set(ranked[:k])) / len(ev))
    return out


def main(argv):
    if len(argv) not in (4, 5):
        sys.stderr.write(__doc__)
        return 2
    if len(argv) == 5 and not (argv[4].isdigit() and int(argv[4]) > 0):
        sys.stderr.write(f"paired.py: K '{argv[4]}' is not a positive "
                         "integer\n")
        return 2
    k = int(argv[4]) if len(argv) == 5 else 10
    try:
        split = load_split(argv[1])
        a = per_question(split, load_runs(argv[2], split), k)
        b = per_question(split, load_runs(argv[3], split), k)
    except (OSError, ValueError) as e:
        sys.stderr.write(f"paired.py: {e}\n")
        return 1
    print(f"| R@{k}, B - A | n | A | B | B - A | paired se | changed |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for cat in (None,) + tuple(SCORED):
        keys = [q for q in a if cat is None or a[q][0] == cat]
        n = len(keys)
        if n == 0:
            continue
        d = [100 * (b[q][1] - a[q][1]) for q in keys]
        mean = sum(d) / n
        se = (sum((x - mean) ** 2 for x in d) / max(n - 1, 1) / n) ** 0.5
        ma = 100 * sum(a[q][1] for q in keys) / n
        mb = 100 * sum(b[q][1] for q in keys) / n
        name = "overall (1-4)" if cat is None else f"{cat} {CATEGORIES[cat]}"
        print(f"| {name} | {n} | {ma:.1f} | {mb:.1f} | {mean:+.1f} | "
              f"{se:.1f} | {sum(1 for x in d if x)} |")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
