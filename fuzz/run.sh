#!/bin/sh
# fuzz/run.sh -- run one libFuzzer target for a given time on its seed
# corpus, and report what it did.
#
#   make fuzz                          # builds build-fuzz/fuzz_<target>
#   fuzz/run.sh TARGET SECONDS [BUILD_DIR]
#
# TARGET is the file name without fuzz_ and .c (conv_json, memtool, ...).
# The seed corpus is fuzz/corpus/TARGET (kept in the repository); inputs
# the fuzzer finds go to a scratch directory, so the repository only grows
# when someone copies a useful input in by hand (for example a crash
# that was fixed, named regress-<what>). A crash leaves its input in the
# current directory (crash-<sha1>) and makes the script exit non-zero.
# The last lines report the target, seconds, executions and the verdict.
set -eu

if [ $# -lt 2 ]; then
    echo "usage: $0 TARGET SECONDS [BUILD_DIR]" >&2
    exit 2
fi
target=$1
secs=$2
here=$(cd "$(dirname "$0")" && pwd)
build=${3:-$here/../build-fuzz}
bin=$build/fuzz_$target
seeds=$here/corpus/$target

if [ ! -x "$bin" ]; then
    echo "$0: $bin is missing: run 'make fuzz' first" >&2
    exit 2
fi
if [ ! -d "$seeds" ]; then
    echo "$0: no seed corpus at $seeds" >&2
    exit 2
fi
case $secs in
    ''|*[!0-9]*) echo "$0: SECONDS must be a positive whole number" >&2
                 exit 2 ;;
esac

scratch=$(mktemp -d)
log=$scratch/log
trap 'rm -rf "$scratch"' EXIT
mkdir "$scratch/corpus"

# -rss_limit_mb: the memory ceiling of one run (the default 2 GB is
# more than a shared machine should give one fuzzer).
status=0
"$bin" -max_total_time="$secs" -rss_limit_mb=1024 -timeout=20 \
    -print_final_stats=1 "$scratch/corpus" "$seeds" >"$log" 2>&1 || status=$?

execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
tail -n 25 "$log"
echo "target=$target seconds=$secs executions=${execs:-?} exit=$status"
if [ "$status" -ne 0 ]; then
    echo "$0: $target FAILED (see the report above)" >&2
    exit 1
fi
echo "$target: clean"
