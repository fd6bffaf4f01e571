#!/usr/bin/env bash
# run_tokens.sh BUILD_DIR -- token counting: agentmem against the npm peers.
#
# Installs the peers (tiktoken, gpt-tokenizer, js-tiktoken, ai-tokenizer,
# pinned in bench/tokens-peers/package.json) into bench/tokens-peers,
# builds the corpus (bench/tokens_corpus.js: prose, C, JavaScript, JSON,
# multilingual, emoji, 1 MB each) into BUILD_DIR/bench-tokens, runs
# BUILD_DIR/bench_tokens and bench/tokens_peers.js on it, and prints every
# figure plus two side-by-side tables of single-threaded MB/s per section
# and encoding with agentmem's speed-up over the fastest peer:
#   - whole section per call, without a cache kept across calls
#     ("agentmem") and with one ("+cache"; the JS peers keep their merge
#     caches across calls);
#   - message-sized calls: each section cut into pieces of about 1,000
#     bytes at line ends, one count call per piece (how an agent counts
#     chat messages), no cache kept across calls on our side.
# Times are CPU time of the measuring process on both sides.
# SECS (default 1) is the CPU time per case.
set -euo pipefail
build=${1:-build}
here=$(cd "$(dirname "$0")" && pwd)
secs=${SECS:-1}
corpus="$build/bench-tokens"
peers="$here/tokens-peers"

# `make build` leaves the benchmarks out: build what runs here, so a stale
# binary never answers for the current code.
cmake --build "$build" --target bench_tokens >/dev/null
if [ ! -d "$peers/node_modules/ai-tokenizer" ] ||
   [ ! -d "$peers/node_modules/js-tiktoken" ]; then
    (cd "$peers" && npm ci --no-audit --no-fund --silent >/dev/null 2>&1 ||
        npm install --no-audit --no-fund --silent >/dev/null)
fi
node "$here/tokens_corpus.js" "$corpus" 1
# Warm the binary rank-table cache so that load figures are steady state.
"$build/agentmem" tokens count --encoding cl100k_base </dev/null >/dev/null
"$build/agentmem" tokens count --encoding o200k_base </dev/null >/dev/null

ours=$(mktemp)
theirs=$(mktemp)
trap 'rm -f "$ours" "$theirs"' EXIT
"$build/bench_tokens" "$corpus" "$secs" | tee "$ours"
NODE_PATH="$peers/node_modules" node "$here/tokens_peers.js" "$corpus" "$secs" | tee "$theirs"

echo
echo "single-threaded counting, MB/s (CPU time), same corpus, same run:"
# table MODE: one row per encoding/section. MODE "whole" puts our count/ and
# countc/ lines beside the peers' .../whole lines, "msg" our msg/ lines
# beside the peers' .../msg lines.
table() {
    awk -v mode="$1" '
        FNR == NR {
            split($1, k, "/")
            if (mode == "whole" && k[1] == "count" && k[4] == "t1") ours[k[2] "/" k[3]] = $5
            if (mode == "whole" && k[1] == "countc" && k[4] == "t1") oursc[k[2] "/" k[3]] = $5
            if (mode == "msg" && k[1] == "msg") ours[k[2] "/" k[3]] = $5
            next
        }
        {
            split($1, k, "/"); key = k[2] "/" k[3]
            if (k[4] != mode) next
            v = $5 + 0; peer[key, k[1]] = v
            if (v > best[key]) best[key] = v
        }
        END {
            n = split("tiktoken gpt-tokenizer js-tiktoken ai-tokenizer", order, " ")
            printf "%-26s %9s", "encoding/section", "agentmem" > "/dev/stderr"
            if (mode == "whole") printf " %9s", "+cache" > "/dev/stderr"
            for (i = 1; i <= n; i++) printf " %13s", order[i] > "/dev/stderr"
            printf " %9s", "x fastest" > "/dev/stderr"
            if (mode == "whole") printf " %9s", "+cache x" > "/dev/stderr"
            printf "\n" > "/dev/stderr"
            for (key in ours) {
                printf "%-26s %9.1f", key, ours[key]
                if (mode == "whole") printf " %9.1f", oursc[key]
                for (i = 1; i <= n; i++) printf " %13.1f", peer[key, order[i]]
                if (best[key] > 0) {
                    printf " %8.1fx", ours[key] / best[key]
                    if (mode == "whole") printf " %8.1fx", oursc[key] / best[key]
                } else {
                    printf " %9s", "-"
                }
                printf "\n"
            }
        }' "$ours" "$theirs" 2>&1 >"$ours.table"
    sort "$ours.table"
    rm -f "$ours.table"
}
echo "whole section per call:"
table whole
echo
echo "message-sized calls (~1 KB pieces cut at line ends, one call each):"
table msg
