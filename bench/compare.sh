#!/usr/bin/env bash
# compare.sh -- did anything in `make bench` get slower between two versions?
#
#   bench/compare.sh OLD.txt NEW.txt
#       Compare saved outputs of `bash bench/run_all.sh BUILD` (or of single
#       bench/run_<what>.sh scripts). A file may hold several runs one after
#       the other: each figure's best is kept (the lowest cost, the highest
#       rate), as load only ever makes a figure worse.
#   bench/compare.sh --rev OLD_REV [NEW_REV]
#       Build the benchmarks of both revisions (NEW_REV: HEAD) in temporary
#       git worktrees under ${TMPDIR:-/tmp}, then run them in alternating
#       rounds, old and new taking turns script by script (round 1 old
#       first, round 2 new first, ...), so that whatever else loads the
#       machine falls on both alike; then compare the best of each.
#
# Environment:
#   AM_BENCH_ROUNDS  rounds (default 2)
#   AM_BENCH_ONLY    "trim tiers": only those bench/run_<what>.sh scripts
#                    (default: every run_*.sh both revisions have, except
#                    run_all.sh and run_quicktok.sh, which needs a quicktok
#                    checkout as its argument). Variables the scripts read
#                    (AM_BENCH_ITEMS, SECS, BENCH_SERVER_SECONDS, ...) pass
#                    through to both revisions.
#   AM_BENCH_TOL     a row is SLOWER when worse by more than this (default
#                    0.05, i.e. 5%)
#
# Every benchmark prints `name items value [unit ...]`; figures are paired
# by name and items. A value is a cost (ns/op, ms, bytes: lower is better)
# unless its unit ends in "/s" (a rate: higher is better). Lines of any
# other shape (summary tables such as run_tokens.sh's, whose figures are
# also printed as such lines; quality tables; notes) are ignored. The load
# average is printed before and after each round: figures taken under load
# say so.
set -eu
tol=${AM_BENCH_TOL:-0.05}
top=$(git rev-parse --show-toplevel 2>/dev/null || pwd)
rounds=${AM_BENCH_ROUNDS:-2}

# build_rev REV DIR: a worktree of REV in DIR with its benchmarks and the
# agentmem CLI built (run_tokens, run_server and run_mcp drive the CLI).
build_rev() {
    git worktree add --detach "$2" "$1" >/dev/null
    # What scripts/setup put beside the tracked files (tokenizer data in
    # data/, node peers and the MCP SDK in build-npm/) is git-ignored, so a
    # fresh worktree lacks it and the scripts needing it would fail in both
    # revisions: share this checkout's copies.
    for d in data build-npm; do
        [ -e "$top/$d" ] && [ ! -e "$2/$d" ] && ln -s "$top/$d" "$2/$d"
    done
    (
        cd "$2"
        cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
        cmake --build build -j "${JOBS:-2}" --target benches agentmem_cli \
            >/dev/null
    )
}

# run_script DIR WHAT OUT: DIR's bench/run_WHAT.sh on DIR's build, appended
# to OUT.
run_script() {
    (
        cd "$1"
        echo "== run_$2.sh"
        bash "bench/run_$2.sh" build || echo "!! run_$2.sh failed"
    ) >>"$3" 2>&1
}

load() { echo "# load average $(cut -d' ' -f1-3 /proc/loadavg) ($1)"; }

if [ "${1:-}" = --rev ]; then
    [ $# -ge 2 ] || { echo "usage: $0 --rev OLD_REV [NEW_REV]" >&2; exit 2; }
    old_rev=$2
    new_rev=${3:-HEAD}
    old=${TMPDIR:-/tmp}/am-bench-old.txt
    new=${TMPDIR:-/tmp}/am-bench-new.txt
    # Both worktrees in one directory, beside a link to this checkout's
    # ../shared, so that the data sets the scripts find at ../shared/...
    # are there for both revisions.
    base=$(mktemp -d "${TMPDIR:-/tmp}/am-bench-XXXXXX")
    old_dir=$base/old
    new_dir=$base/new
    [ -d "$top/../shared" ] && ln -s "$(cd "$top/../shared" && pwd)" "$base/shared"
    trap 'git worktree remove --force "$old_dir" 2>/dev/null;
          git worktree remove --force "$new_dir" 2>/dev/null; rm -rf "$base"' EXIT
    build_rev "$old_rev" "$old_dir"
    build_rev "$new_rev" "$new_dir"
    if [ -n "${AM_BENCH_ONLY:-}" ]; then
        whats=$AM_BENCH_ONLY
    else
        whats=
        for s in "$new_dir"/bench/run_*.sh; do
            w=$(basename "$s" .sh)
            w=${w#run_}
            case $w in all | quicktok) continue ;; esac
            if [ -e "$old_dir/bench/run_$w.sh" ]; then
                whats="$whats $w"
            else
                echo "run_$w.sh: only in $new_rev, not compared"
            fi
        done
    fi
    : >"$old"
    : >"$new"
    for r in $(seq "$rounds"); do
        load "round $r start" | tee -a "$old" "$new"
        for w in $whats; do
            if [ $((r % 2)) -eq 1 ]; then
                run_script "$old_dir" "$w" "$old"
                run_script "$new_dir" "$w" "$new"
            else
                run_script "$new_dir" "$w" "$new"
                run_script "$old_dir" "$w" "$old"
            fi
        done
        load "round $r end" | tee -a "$old" "$new"
    done
    echo "outputs: $old ($old_rev), $new ($new_rev); $rounds round(s):$whats"
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
function num(s) { return s ~ /^-?[0-9]+(\.[0-9]+)?$/ }
# The figure of one line: its key into fig[1], its value into val[1],
# whether it is a rate into israte[1]; returns 1, or 0 for no figure.
function figures(line,   f, n) {
    n = split(line, f, /[ \t]+/)
    if (n < 3 || f[2] !~ /^[0-9]+$/ || !num(f[3]))
        return 0
    fig[1] = f[1] " " f[2]; val[1] = f[3]
    israte[1] = n >= 4 && f[4] ~ /\/s$/
    return 1
}
# Keep the best of repeated figures in a[] / b[].
function better(k, v, cur) { return rate[k] ? v > cur : v < cur }
{
    n = figures($0)
    for (i = 1; i <= n; i++) {
        k = fig[i]
        rate[k] = israte[i]
        if (FILENAME == ARGV[1]) {
            if (!(k in a) || better(k, val[i] + 0, a[k])) a[k] = val[i] + 0
        } else {
            if (!(k in b) || better(k, val[i] + 0, b[k])) b[k] = val[i] + 0
            if (!(k in order)) { order[k] = ++nk; keys[nk] = k }
        }
    }
}
END {
    printf "%-48s %14s %14s %7s\n", "figure (name items)", "old", "new", "new/old"
    worse = 0
    for (i = 1; i <= nk; i++) {
        k = keys[i]
        if (!(k in a)) { printf "%-48s %14s %14.10g %7s  new\n", k, "-", b[k], "-"; continue }
        r = a[k] != 0 ? b[k] / a[k] : (b[k] == 0 ? 1 : 999)
        bad = rate[k] ? (r < 1 - tol) : (r > 1 + tol)
        worse += bad
        printf "%-48s %14.10g %14.10g %7.3f%s\n", k, a[k], b[k], r,
               bad ? "  SLOWER" : ""
    }
    for (k in a) if (!(k in b)) printf "%-48s %14.10g %14s %7s  gone\n", k, a[k], "-", "-"
    printf "\n%d figure(s) worse by more than %g%%\n", worse, tol * 100
}' "$old" "$new"
