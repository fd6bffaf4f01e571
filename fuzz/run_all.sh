#!/bin/sh
# fuzz/run_all.sh -- run every libFuzzer target (or the ones named), one
# after another, each for SECONDS, and print one summary line per target.
#
#   make fuzz
#   fuzz/run_all.sh SECONDS [TARGET...]
#
# FUZZ_BUILD names the directory holding the fuzz_* programs (default:
# build-fuzz beside fuzz/), e.g. a copy that a rebuild cannot replace
# in the middle of a long run.
# One target at a time, at low priority (nice): the fuzzers are for a
# machine that has a core to spare, not for the test suite. The summary
# (target, seconds, executions, verdict) is what docs/RELIABILITY.md
# records. Exits non-zero if any target crashed (its input is left in the
# current directory as crash-<sha1>, see fuzz/run.sh).
set -u

if [ $# -lt 1 ]; then
    echo "usage: $0 SECONDS [TARGET...]" >&2
    exit 2
fi
secs=$1
shift
here=$(cd "$(dirname "$0")" && pwd)
if [ $# -eq 0 ]; then
    set --
    for f in "$here"/fuzz_*.c; do
        t=${f##*/fuzz_}
        set -- "$@" "${t%.c}"
    done
fi

summary=""
failed=0
for t in "$@"; do
    out=$(nice -n 10 sh "$here/run.sh" "$t" "$secs" \
          "${FUZZ_BUILD:-$here/../build-fuzz}" 2>&1)
    rc=$?
    line=$(printf '%s\n' "$out" | grep '^target=' | tail -1)
    if [ $rc -ne 0 ]; then
        failed=1
        printf '%s\n' "$out" | tail -n 40
        line="${line:-target=$t} FAILED"
    else
        line="$line clean"
    fi
    echo "$line"
    summary="$summary$line
"
done
echo "---- summary ($(date -u '+%Y-%m-%d %H:%M UTC'))"
printf '%s' "$summary"
exit $failed
