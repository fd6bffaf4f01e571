#!/usr/bin/env bash
# test_server_openapi.sh -- GET /openapi.json is an OpenAPI 3.1 document
# describing every route, and real replies of every route (successes and
# errors) validate against it (ajv, installed by scripts/setup.d/server.sh).
set -u
cli=${AM_CLI:?AM_CLI must name the agentmem binary}
src=${AM_SOURCE_DIR:?}
modules="$src/build-npm/server/node_modules"
if [ ! -f "$modules/ajv/package.json" ]; then
    echo "skip: ajv is not installed (run scripts/setup)"
    exit 77
fi
. "$src/tests/server_lib.sh"
start_server "$tmp/t.db"
NODE_PATH="$modules" node "$src/tests/openapi_check.js" "$url"
expect_eq openapi_check $? 0
# The document lists exactly the routes the server answers: one it does
# not list is 404.
req undocumented POST /v1/items/nope '{}' 404
finish
