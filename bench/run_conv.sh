#!/usr/bin/env bash
# run_conv.sh BUILD_DIR -- conversation benchmarks (issue 2).
#
# Appends in memory, then a 100,000-message (~50 MB) conversation file:
# load and save each in its own process under /usr/bin/time -v, so that
# the peak RSS printed is that operation's alone. jansson's DOM parse of
# the same file is run for comparison.
set -eu
build=${1:-build}
b="$build/bench_conv"
# `make build` leaves the benchmarks out: build what runs here, so a stale
# binary never answers for the current code.
cmake --build "$build" --target bench_conv >/dev/null
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
file="$tmp/conv.json"

rss() { # rss CMD...: run under /usr/bin/time -v, print output + peak RSS
    /usr/bin/time -v "$@" 2>"$tmp/time" || { cat "$tmp/time"; return 1; }
    awk -F': ' '/Maximum resident set size/ {
        printf "  peak RSS %.1f MB\n", $2 / 1024 }' "$tmp/time"
}

"$b" append 1000000
"$b" gen "$file" 100000
size=$(stat -c %s "$file")
rss "$b" load "$file"
rss "$b" save "$tmp/out.json" 100000
rss "$b" jansson "$file"
awk -v s="$size" 'BEGIN { printf "  file %.1f MB; 3x budget %.1f MB\n",
    s / 1e6, 3 * s / 1048576 }'
