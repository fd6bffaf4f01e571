#!/usr/bin/env bash
# run_pg.sh BUILD_DIR -- the PostgreSQL backend against plain libpq and the
# SQLite backend (bench_pg), on a throwaway server that tests/pg_run.sh
# starts on a Unix socket (fsync off: a test cluster) and removes after.
# AM_BENCH_PG_ITEMS (default 100000) and AM_BENCH_PG_CATCHUP (10000) size
# it; AM_BENCH_PG_SEARCH_S (30) bounds each search figure in seconds (0
# skips them), AM_BENCH_PG_MIN_QUERIES (20) is the least queries each
# takes however long they are. 1,000,000 items took 32 minutes here under heavy load
# (load average 21-24) and 5 minutes on the quiet machine (2026-12-07, 12:13-12:18).
set -eu
build=$(cd "${1:-build}" && pwd)
here=$(cd "$(dirname "$0")/.." && pwd)
# `make build` leaves the benchmarks out: build what runs here, so a stale
# binary never answers for the current code.
cmake --build "$build" --target bench_pg >/dev/null
bash "$here/tests/pg_run.sh" sh -c \
    '"$0" "$AM_TEST_STORE" "$1" "$2" "${TMPDIR:-/tmp}"' \
    "$build/bench_pg" "${AM_BENCH_PG_ITEMS:-100000}" \
    "${AM_BENCH_PG_CATCHUP:-10000}"
