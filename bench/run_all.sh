#!/usr/bin/env bash
# run_all.sh BUILD_DIR -- run every benchmark and print its figures.
# Each bench/run_<what>.sh (peers, data set-up) or bench_<what> program runs
# in turn; a failing benchmark is reported and the others still run.
set -u
build=${1:-build}
here=$(cd "$(dirname "$0")" && pwd)
status=0
for script in "$here"/run_*.sh; do
    [ -e "$script" ] || continue
    [ "$(basename "$script")" = run_all.sh ] && continue
    echo "== $(basename "$script")"
    bash "$script" "$build" || { echo "!! $(basename "$script") failed"; status=1; }
done
exit $status
