#!/usr/bin/env bash
# run_mcp.sh BUILD_DIR -- `agentmem mcp` against the reference MCP memory
# server (@modelcontextprotocol/server-memory), driven by the official SDK
# client with the same workload (bench/mcp_bench.js). Both over stdio.
#
#   BENCH_MCP_STORE   memories stored (default 10000, the issue's size;
#                     the reference server rewrites its whole file on
#                     every write, so its store phase grows quadratically:
#                     about 8 minutes on a shared 2-core machine)
#   BENCH_MCP_SEARCH  searches (default 1000)
set -eu
build=${1:-build}
here=$(cd "$(dirname "$0")" && pwd)
modules="$here/../build-npm/server/node_modules"
[ -f "$modules/@modelcontextprotocol/server-memory/package.json" ] ||
    { echo "run_mcp: run scripts/setup first (MCP SDK and server-memory)"; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
NODE_PATH="$modules" node "$here/mcp_bench.js" "$(cd "$build" && pwd)/agentmem" \
    "${BENCH_MCP_STORE:-10000}" "${BENCH_MCP_SEARCH:-1000}" "$tmp"
