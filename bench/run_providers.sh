#!/usr/bin/env bash
# run_providers.sh BUILD_DIR -- chat and embedding round trips against the
# loopback test server, and the embeddings-reply parser alone.
set -eu
build=${1:-build}
"$build/bench_providers"
