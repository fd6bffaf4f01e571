#!/usr/bin/env bash
# test_bench_scripts.sh -- every benchmark script builds the bench_*
# programs it runs. `make build` leaves the benchmarks out (they are
# EXCLUDE_FROM_ALL), so a script that ran what happened to be in the
# build directory would time old code after a change and mislead an A/B
# run. Here each "$build/bench_X" (or a variable set to it) that a script
# under bench/ runs must be named by a `cmake --build ... --target` line
# of the same script.
set -u
src=${AM_SOURCE_DIR:?}
pass=0 fails=0
for script in "$src"/bench/run_*.sh "$src"/bench/locomo/run \
              "$src"/bench/locomo/relevance; do
    [ -f "$script" ] || continue
    name=${script#"$src"/}
    built=$(grep -E 'cmake --build .*--target' "$script" |
            grep -oE '\bbench_[a-z0-9_]+' | sort -u)
    for prog in $(grep -oE '\$\{?build\}?/bench_[a-z0-9_]+' "$script" |
                  sed 's|.*/||' | sort -u); do
        if printf '%s\n' "$built" | grep -qx "$prog"; then
            pass=$((pass + 1))
        else
            echo "FAIL $name runs $prog without building it" \
                 "(add: cmake --build \"\$build\" --target $prog)"
            fails=$((fails + 1))
        fi
    done
done
# The Makefile's bench target builds them all first, and its help says so.
grep -qE '^bench:.*' "$src/Makefile" &&
    grep -qE -- '--target benches' "$src/Makefile" && pass=$((pass + 1)) ||
    { echo "FAIL make bench does not build the benches target"; fails=$((fails + 1)); }
grep -qi 'bench.*build' <(make -s -C "$src" help 2>/dev/null) &&
    pass=$((pass + 1)) ||
    { echo "FAIL make help does not say what builds the benchmarks"; fails=$((fails + 1)); }
echo "$pass passed, $fails failed"
[ "$fails" -eq 0 ]
