#!/usr/bin/env bash
# run_tokens.sh BUILD_DIR -- token counting: agentmem against the npm peers.
#
# Installs the peers (tiktoken, gpt-tokenizer, js-tiktoken, ai-tokenizer,
# pinned in bench/tokens-peers/package.json) into bench/tokens-peers,
# builds the corpus (bench/tokens_corpus.js: prose, source code, JSON,
# multilingual, 1 MB each) into BUILD_DIR/bench-tokens, runs
# BUILD_DIR/bench_tokens and bench/tokens_peers.js on it, and prints every
# figure plus a side-by-side table: single-threaded MB/s per section and
# encoding, and agentmem's speed-up over the fastest peer, both without a
# cache kept across calls ("agentmem") and with one ("+cache"; the JS peers
# keep their merge caches across calls). Times are CPU time of the
# measuring process on both sides.
# SECS (default 1) is the CPU time per case.
set -euo pipefail
build=${1:-build}
here=$(cd "$(dirname "$0")" && pwd)
secs=${SECS:-1}
corpus="$build/bench-tokens"
peers="$here/tokens-peers"

if [ ! -x "$build/bench_tokens" ]; then
    cmake --build "$build" --target bench_tokens >/dev/null
fi
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
awk '
    FNR == NR {
        if ($1 ~ /^count\/.*\/t1$/) { split($1, k, "/"); ours[k[2] "/" k[3]] = $5 }
        if ($1 ~ /^countc\/.*\/t1$/) { split($1, k, "/"); oursc[k[2] "/" k[3]] = $5 }
        next
    }
    {
        split($1, k, "/"); key = k[2] "/" k[3]
        v = $5 + 0; peer[key, k[1]] = v; names[k[1]] = 1; keys[key] = 1
        if (v > best[key]) { best[key] = v; bestname[key] = k[1] }
    }
    END {
        n = split("tiktoken gpt-tokenizer js-tiktoken ai-tokenizer", order, " ")
        printf "%-26s %9s %9s", "encoding/section", "agentmem", "+cache" > "/dev/stderr"
        for (i = 1; i <= n; i++) printf " %13s", order[i] > "/dev/stderr"
        printf " %9s %9s\n", "x fastest", "+cache x" > "/dev/stderr"
        for (key in ours) {
            printf "%-26s %9.1f %9.1f", key, ours[key], oursc[key]
            for (i = 1; i <= n; i++) printf " %13.1f", peer[key, order[i]]
            if (best[key] > 0) printf " %8.1fx %8.1fx\n", ours[key] / best[key], oursc[key] / best[key]
            else printf " %9s\n", "-"
        }
    }' "$ours" "$theirs" 2>&1 >"$ours.table"
sort "$ours.table"
rm -f "$ours.table"
