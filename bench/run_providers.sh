#!/usr/bin/env bash
# run_providers.sh BUILD_DIR -- chat and embedding round trips against the
# loopback test server, and the embeddings-reply parser alone.
set -eu
build=${1:-build}
# `make build` leaves the benchmarks out: build what runs here, so a stale
# binary never answers for the current code.
cmake --build "$build" --target bench_providers >/dev/null
"$build/bench_providers"
