#!/usr/bin/env bash
# run_server.sh BUILD_DIR -- load `agentmem serve` with wrk on loopback:
# get, hybrid search and put mixes, each bounded in time; requests/s,
# p50/p99 latency and non-200 answers per mix; after each put mix, every
# write wrk saw acknowledged (200) must be in the database.
#
#   BENCH_SERVER_SECONDS   seconds per mix (default 60, the issue's minute)
#   BENCH_SERVER_ITEMS     items preloaded for get and search (default 10000)
#   BENCH_SERVER_CONNS     wrk connections (default 32), 2 wrk threads
#   BENCH_SERVER_MIXES     which mixes (default "get search put"; also
#                          "searchput": hybrid searches with every 10th
#                          request a put into the searched namespace)
#   BENCH_SERVER_PUT_RATES after the put mix, put mixes paced at these
#                          rates (requests/s; default "5000", "" for none),
#                          BENCH_SERVER_PACED_CONNS connections (default
#                          512) and BENCH_SERVER_WARMUP seconds not timed
#                          (default 5, or a sixth of a shorter run); see
#                          below
#   BENCH_SERVER_BASELINE  another agentmem binary (an older build, say):
#                          each mix then runs against it too, right after
#                          ours on a fresh copy of the same database, so
#                          that both see the same machine load
#
# cpu_us/req is the server's CPU time per answer, the figure to compare on
# a loaded machine. load= is the 1-minute load average before and after the
# mix: throughput and latency taken above ~1 are figures under load. After
# a put mix the server's last log line is printed too: how long its batch
# commits took (a histogram in ms) and its log checkpoints, which is where
# the put tail comes from. Traffic goes to 127.0.0.1 only; the server gets 2 worker threads (the
# machine's 2 cores are shared with wrk).
#
# The put mix saturates the server: each connection sends its next put as
# soon as the last is answered, so its p99 is the queueing of 32
# connections on a machine whose 2 cores also run wrk. A paced put mix
# (mix=put@RATE) asks for RATE puts/s on a fixed schedule instead, from
# far more connections than it needs (512 for 5,000/s: the schedule runs
# 100 ms ahead of the answers before a send must wait), so that a slow
# answer does not hold the next sends back. Its line starts with wrk's
# own figures (the whole run, each request timed from when it was sent),
# then, leaving out the requests scheduled in the warm-up (the server
# accepting 512 connections at once), sched_*: each request timed from
# its scheduled send time, what a client with a steady stream of work
# sees (wrk2's measure, and the goal figure), and sent_*: the same
# answers from their send, blind to a send that left late. late_max /
# late>1ms say how far behind the schedule requests left; unmatched
# counts answers the script could not match to their schedule (it must
# be 0, see wrk_mix.lua).
set -eu
build=${1:-build}
cli="$build/agentmem"
here=$(cd "$(dirname "$0")" && pwd)
secs=${BENCH_SERVER_SECONDS:-60}
items=${BENCH_SERVER_ITEMS:-10000}
conns=${BENCH_SERVER_CONNS:-32}
baseline=${BENCH_SERVER_BASELINE:-}
put_rates=${BENCH_SERVER_PUT_RATES-5000}
paced_conns=${BENCH_SERVER_PACED_CONNS:-512}
warmup=${BENCH_SERVER_WARMUP:-$((secs >= 30 ? 5 : secs / 6))}
for rate in $put_rates; do
    case "$rate" in
        '' | *[!0-9]* | 0) echo "run_server: BENCH_SERVER_PUT_RATES: '$rate' is not a rate (puts/s, a positive integer)"; exit 1 ;;
    esac
done
command -v wrk >/dev/null || { echo "run_server: wrk is not installed (scripts/setup)"; exit 1; }
if [ -n "$baseline" ] && [ ! -x "$baseline" ]; then
    echo "run_server: BENCH_SERVER_BASELINE=$baseline is not an executable"; exit 1
fi
tmp=$(mktemp -d)
pid=""
trap '[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null; rm -rf "$tmp"' EXIT

# Preload with the CLI (one transaction per line is not what we measure);
# with a baseline, with its CLI, so that both binaries can open the file
# (a newer build migrates an older file; an older one refuses a newer).
awk -v n="$items" 'BEGIN {
    split("apple river garden python coffee music travel budget meeting doctor football rain", w, " ");
    for (i = 0; i < n; i++)
        printf("{\"namespace\":[\"bench\",\"data\"],\"key\":\"k%d\",\"value\":{\"text\":\"note %d about %s and %s\"},\"meta\":{}}\n",
               i, i, w[i % 12 + 1], w[(i * 7) % 12 + 1]);
}' >"$tmp/items.jsonl"
"${baseline:-$cli}" store import "$tmp/items.jsonl" --db "$tmp/b.db" >/dev/null 2>&1

# run_mix LABEL BINARY MIX: serve a fresh copy of the preloaded database
# with BINARY, load it with wrk, stop it with SIGTERM, print one line.
run_mix() {
    local label=$1 bin=$2 mix=$3 rate=${4:-} url out
    local c=$conns shown=$mix
    if [ -n "$rate" ]; then
        c=$paced_conns shown=$mix@$rate
    fi
    out="$tmp/$label.$shown.out"
    rm -f "$tmp"/r.db*
    cp "$tmp/b.db" "$tmp/r.db"
    "$bin" serve --db "$tmp/r.db" --listen 127.0.0.1:0 --threads 2 \
        --max-conns $((c > 1024 ? c : 1024)) 2>"$tmp/log" &
    pid=$!
    for _ in $(seq 100); do grep -q listening "$tmp/log" 2>/dev/null && break; sleep 0.05; done
    url=$(grep '"event":"listening"' "$tmp/log" | sed 's/.*"url":"\([^"]*\)".*/\1/')
    case "$url" in http://127.0.0.1:*) ;; *) echo "run_server: no loopback URL"; exit 1 ;; esac
    local load0
    load0=$(cut -d' ' -f1 /proc/loadavg)
    MIX=$mix ITEMS=$items RATE=$rate THREADS=2 WARMUP=$warmup wrk -t2 -c"$c" -d"${secs}s" \
        --timeout 5s -s "$here/wrk_mix.lua" "$url" >"$out" 2>&1
    # The server's CPU time (user + system ticks, /proc/PID/stat fields
    # 14 and 15) per request answered: unlike req/s it hardly depends on
    # what else the machine runs.
    local ticks
    ticks=$(awk '{print $14 + $15}' "/proc/$pid/stat")
    kill -TERM "$pid"; wait "$pid"; pid=""
    local rps sock p50 p90 p99 p999 max non200 acked load1
    load1=$(cut -d' ' -f1 /proc/loadavg)
    rps=$(awk '/^Requests\/sec/ {print $2}' "$out")
    sock=$(awk '/Socket errors/ {print $0}' "$out")
    p50=$(awk '/^P50_US/ {print $2}' "$out")
    p90=$(awk '/^P90_US/ {print $2}' "$out")
    p99=$(awk '/^P99_US/ {print $2}' "$out")
    p999=$(awk '/^P99.9_US/ {print $2}' "$out")
    max=$(awk '/^MAX_US/ {print $2}' "$out")
    non200=$(awk '/^NON200/ {print $2}' "$out")
    acked=$(awk '/^ACKED/ {print $2}' "$out")
    local paced=""
    if [ -n "$rate" ]; then
        paced=$(awk '/^LATE_MAX_US/ {m = $2} /^LATE_OVER_1MS/ {o = $2}
            /^SENT / {n = $2} /^TIMED/ {t = $2} /^WARMUP_ANSWERS/ {w = $2}
            /^UNMATCHED/ {u = $2}
            /^SCHED_P|^SENT_P|^SCHED_MAX|^SENT_MAX/ {v[$1] = $2 / 1000}
            END {
                printf("conns=%s late_max=%.2fms late>1ms=%d/%d unmatched=%d\n", c, m / 1000, o, n, u)
                printf("  after %ss warm-up (%d answers timed, %d left out): ", wu, t, w)
                printf("sched_p50=%.2fms sched_p90=%.2fms sched_p99=%.2fms sched_p99.9=%.2fms sched_max=%.2fms",
                       v["SCHED_P50_US"], v["SCHED_P90_US"], v["SCHED_P99_US"], v["SCHED_P99.9_US"], v["SCHED_MAX_US"])
                printf(" sent_p50=%.2fms sent_p90=%.2fms sent_p99=%.2fms sent_p99.9=%.2fms sent_max=%.2fms",
                       v["SENT_P50_US"], v["SENT_P90_US"], v["SENT_P99_US"], v["SENT_P99.9_US"], v["SENT_MAX_US"])
            }' c="$c" wu="$warmup" "$out")
    fi
    awk -v l="$label" -v m="$shown" -v r="$rps" -v a="$p50" -v b="$p99" \
        -v c="$p90" -v d="$p999" -v e="$max" -v la="$load0/$load1" \
        -v ok="$acked" -v bad="$non200" -v s="${sock:-socket errors: none}" \
        -v t="$ticks" -v hz="$(getconf CLK_TCK)" -v pc="$paced" 'BEGIN {
        n = ok + bad
        printf("server_wrk %-8s mix=%-6s req/s=%-9s p50=%.2fms p90=%.2fms p99=%.2fms p99.9=%.2fms max=%.2fms ok=%s non200=%s cpu_us/req=%.1f load=%s %s%s%s\n",
               l, m, r, a / 1000, c / 1000, b / 1000, d / 1000, e / 1000, ok, bad,
               n > 0 ? t * 1e6 / hz / n : 0, la, s, pc != "" ? " " : "", pc) }'
    if [ "$mix" = put ]; then
        echo "server_wrk $label server: $(grep '"event":"stopped"' "$tmp/log" |
            sed 's/.*"batched_puts"/{"batched_puts"/')"
    fi
    if [ "$mix" = put ]; then
        local stored missing
        stored=$("$cli" store export bench/put --db "$tmp/r.db" | wc -l)
        missing=$((acked > stored ? acked - stored : 0))
        # More stored than acknowledged: writes in flight when wrk stopped,
        # committed but their answers never read.
        echo "server_wrk $label acknowledged_puts=$acked stored=$stored missing=$missing"
        [ "$stored" -ge "$acked" ] || put_lost=1
    fi
}

echo "server_wrk: $items items, $secs s per mix, $conns connections, 2 wrk threads, 2 server threads"
put_lost=0
for mix in ${BENCH_SERVER_MIXES:-get search put}; do
    run_mix agentmem "$cli" "$mix"
    [ -z "$baseline" ] || run_mix baseline "$baseline" "$mix"
    if [ "$mix" = put ]; then
        for rate in $put_rates; do
            run_mix agentmem "$cli" put "$rate"
            [ -z "$baseline" ] || run_mix baseline "$baseline" put "$rate"
        done
    fi
done
[ "$put_lost" -eq 0 ]
