#!/usr/bin/env bash
# compare.sh -- did anything in `make bench` get slower between two versions?
#
#   bench/compare.sh OLD.txt NEW.txt
#       Compare two saved outputs of `bash bench/run_all.sh BUILD`.
#   bench/compare.sh --rev OLD_REV [NEW_REV]
#       Build the benchmarks of both revisions (NEW_REV: HEAD) in temporary
#       git worktrees under ${TMPDIR:-/tmp}, run each revision's own
#       run_all.sh, then compare. AM_BENCH_ONLY="trim tiers" runs only those
#       bench/run_<what>.sh scripts (the store's takes minutes at 1M items).
#
# Every benchmark prints `name items value [unit ...]`; figures are paired
# by name and items. A value is a cost (ns/op, ms, bytes: lower is better)
# unless its unit ends in "/s" (a rate: higher is better). A row is SLOWER
# when it is worse by more than AM_BENCH_TOL (default 0.05, i.e. 5%).
# Figures taken on a loaded machine are not comparable: run this quiet.
set -eu
tol=${AM_BENCH_TOL:-0.05}

run_rev() { # REV OUT
    local rev=$1 out=$2 dir
    dir=$(mktemp -d "${TMPDIR:-/tmp}/am-bench-XXXXXX")
    git worktree add --detach "$dir" "$rev" >/dev/null
    (
        cd "$dir"
        cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
        cmake --build build -j "${JOBS:-2}" --target benches >/dev/null
        if [ -n "${AM_BENCH_ONLY:-}" ]; then
            for w in $AM_BENCH_ONLY; do
                echo "== run_$w.sh"
                bash "bench/run_$w.sh" build || echo "!! run_$w.sh failed"
            done
        else
            bash bench/run_all.sh build || true
        fi
    ) >"$out" 2>&1
    git worktree remove --force "$dir"
}

if [ "${1:-}" = --rev ]; then
    [ $# -ge 2 ] || { echo "usage: $0 --rev OLD_REV [NEW_REV]" >&2; exit 2; }
    old_rev=$2
    new_rev=${3:-HEAD}
    old=${TMPDIR:-/tmp}/am-bench-old.txt
    new=${TMPDIR:-/tmp}/am-bench-new.txt
    run_rev "$old_rev" "$old"
    run_rev "$new_rev" "$new"
    echo "outputs: $old ($old_rev), $new ($new_rev)"
elif [ $# -eq 2 ]; then
    old=$1
    new=$2
else
    echo "usage: $0 OLD.txt NEW.txt | $0 --rev OLD_REV [NEW_REV]" >&2
    exit 2
fi
for f in "$old" "$new"; do
    [ -r "$f" ] || { echo "$0: cannot read '$f'" >&2; exit 2; }
done

awk -v tol="$tol" '
function figure(line,   f, n) {
    n = split(line, f, /[ \t]+/)
    if (n < 3 || f[2] !~ /^[0-9]+$/ || f[3] !~ /^-?[0-9]+(\.[0-9]+)?$/)
        return ""
    unit[f[1] " " f[2]] = n >= 4 ? f[4] : ""
    return f[1] " " f[2]
}
FNR == NR { k = figure($0); if (k != "") a[k] = $3; next }
{
    k = figure($0)
    if (k == "") next
    b[k] = $3
    if (!(k in order)) { order[k] = ++nk; keys[nk] = k }
}
END {
    printf "%-48s %14s %14s %7s\n", "figure (name items)", "old", "new", "new/old"
    worse = 0
    for (i = 1; i <= nk; i++) {
        k = keys[i]
        if (!(k in a)) { printf "%-48s %14s %14s %7s  new\n", k, "-", b[k], "-"; continue }
        r = a[k] != 0 ? b[k] / a[k] : (b[k] == 0 ? 1 : 999)
        rate = unit[k] ~ /\/s$/
        bad = rate ? (r < 1 - tol) : (r > 1 + tol)
        worse += bad
        printf "%-48s %14s %14s %7.3f%s\n", k, a[k], b[k], r,
               bad ? "  SLOWER" : ""
    }
    for (k in a) if (!(k in b)) printf "%-48s %14s %14s %7s  gone\n", k, a[k], "-", "-"
    printf "\n%d figure(s) worse by more than %g%%\n", worse, tol * 100
}' "$old" "$new"
