#!/usr/bin/env bash
# scripts/setup.d/server.sh -- node packages for the server's tests and
# benchmarks (issue 15), installed into build-npm/server/ (git-ignored):
#   @modelcontextprotocol/sdk            the official MCP client the tests
#                                        drive `agentmem mcp` and /mcp with
#   @modelcontextprotocol/server-memory  the reference MCP memory server,
#                                        the peer of bench/mcp_bench.js
#   ajv                                  JSON Schema validator: real replies
#                                        against /openapi.json
# Idempotent and quick when both are in place.
set -euo pipefail

here=$(cd "$(dirname "$0")/../.." && pwd)
SDK_PKG=@modelcontextprotocol/sdk@1.32.2
PEER_PKG=@modelcontextprotocol/server-memory@2026.8.31
AJV_PKG=ajv@8.20.0
npm_dir="$here/build-npm/server"

if [ ! -f "$npm_dir/node_modules/@modelcontextprotocol/sdk/package.json" ] ||
   [ ! -f "$npm_dir/node_modules/@modelcontextprotocol/server-memory/package.json" ] ||
   [ ! -f "$npm_dir/node_modules/ajv/package.json" ]; then
    echo "setup: installing $SDK_PKG $PEER_PKG $AJV_PKG into build-npm/server"
    mkdir -p "$npm_dir"
    [ -f "$npm_dir/package.json" ] ||
        echo '{ "name": "agentmem-server-tools", "private": true }' \
            > "$npm_dir/package.json"
    npm install --prefix "$npm_dir" --no-audit --no-fund --silent \
        "$SDK_PKG" "$PEER_PKG" "$AJV_PKG" >/dev/null 2>&1
fi
