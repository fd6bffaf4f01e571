#!/usr/bin/env bash
# run_tiers.sh BUILD_DIR -- hierarchical tiers at 1,000,000 items (in memory
# and with SQLite), with the process's peak RSS from /usr/bin/time -v.
set -eu
build=${1:-build}
items=${AM_BENCH_ITEMS:-1000000}
# `make build` leaves the benchmarks out: build what runs here, so a stale
# binary never answers for the current code.
cmake --build "$build" --target bench_tiers >/dev/null
if [ -x /usr/bin/time ]; then
    /usr/bin/time -v "$build/bench_tiers" "$items" "${TMPDIR:-/tmp}" 2>&1 |
        grep -v -E '^\s+(Average|Exit|File|Major|Minor|Page|Signals|Socket|Swaps|Voluntary|Involuntary|Percent|System|User|Command)'
else
    "$build/bench_tiers" "$items" "${TMPDIR:-/tmp}"
fi
