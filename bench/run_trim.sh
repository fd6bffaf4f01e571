#!/usr/bin/env bash
# run_trim.sh BUILD_DIR -- am_trim vs LangChain trimMessages, side by side.
#
# bench_trim builds a 10,000-message agent conversation (parallel tool
# calls, shuffled results), times am_trim to 8k/32k/128k tokens and writes
# the conversation as OpenAI JSON; trim_js/trim.mjs runs @langchain/core's
# trimMessages (pinned in trim_js/package.json) on the same file with the
# same token-counting rule. Both print `name items ns/op` and the validity
# of what they kept (orphan tool results, calls without results).
set -euo pipefail
build=${1:-build}
here=$(cd "$(dirname "$0")" && pwd)
cmake --build "$build" --target bench_trim >/dev/null
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "-- agentmem (C)"
"$build/bench_trim" "$tmp/conv.json"
if command -v node >/dev/null && command -v npm >/dev/null; then
    if [ ! -d "$here/trim_js/node_modules/@langchain/core" ]; then
        (cd "$here/trim_js" && npm ci --no-audit --no-fund >/dev/null 2>&1 ||
             npm install --no-audit --no-fund >/dev/null)
    fi
    echo "-- LangChain trimMessages ($(node -p "require('$here/trim_js/node_modules/@langchain/core/package.json').version"), node $(node --version))"
    (cd "$here/trim_js" && node trim.mjs "$tmp/conv.json" "${TRIM_JS_REPS:-1}")
else
    echo "-- LangChain: node/npm not found, skipped"
fi
