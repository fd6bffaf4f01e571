#!/usr/bin/env bash
# run_store.sh BUILD_DIR -- the long-term store's benchmarks: speed against
# raw SQLite (bench_store, 1M items, a few minutes) and LoCoMo retrieval
# quality on the dev split when the data set is present.
set -eu
build=${1:-build}
here=$(cd "$(dirname "$0")/.." && pwd)
# `make build` leaves the benchmarks out: build what runs here, so a stale
# binary never answers for the current code.
cmake --build "$build" --target bench_store >/dev/null
"$build/bench_store" "${TMPDIR:-/tmp}" "${AM_BENCH_ITEMS:-1000000}" \
    "${AM_BENCH_VECTORS:-100000}"
split=${LOCOMO_SPLIT:-$here/../shared/data/locomo/locomo-dev.json}
if [ -f "$split" ]; then
    BUILD=$build "$here/bench/locomo/run" "$split" "${TMPDIR:-/tmp}/agentmem-locomo-runs.jsonl"
else
    echo "run_store.sh: LoCoMo split $split not found (put the data set in" \
         "../shared/data/locomo/ next to the repository, or set" \
         "LOCOMO_SPLIT); retrieval quality skipped" >&2
fi
