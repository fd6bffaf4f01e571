#!/usr/bin/env bash
# run_context.sh BUILD_DIR -- memory-manager overhead and token savings.
#
# bench_memory: mean time of am_memory_add over 2,000 messages (balanced
# preset, offline summarizer; estimate and exact o200k counting).
# bench_savings: savings and surviving QA evidence per strategy and preset
# on LoCoMo (../shared/data/locomo, or $LOCOMO) and on the shipped agent
# session. The trim comparison with LangChain is run_trim.sh.
set -euo pipefail
build=${1:-build}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
cmake --build "$build" --target bench_memory bench_savings >/dev/null
"$build/bench_memory" 2000
locomo=${LOCOMO:-}
for c in "$root/../shared/data/locomo/locomo-dev.json" \
         "$root/data/locomo/locomo-dev.json"; do
    [ -z "$locomo" ] && [ -f "$c" ] && locomo=$c
done
if [ -n "$locomo" ]; then
    "$build/bench_savings" "$locomo" "$root/examples/context/agent_session.json"
else
    echo "bench_savings: LoCoMo data not found in ../shared/data/locomo/" \
         "next to the repository (or set LOCOMO=path), skipped"
fi
