#!/usr/bin/env bash
# test_mcp.sh -- MCP with the official TypeScript SDK client (installed by
# scripts/setup.d/server.sh): `agentmem mcp` over stdio, `agentmem serve`'s
# /mcp over streamable HTTP with two tenants' keys, two processes with 20
# concurrent writers each; plus the transport's HTTP-level answers (session
# header required, GET 405, bad Origin 403, unknown session 404).
set -u
cli=${AM_CLI:?AM_CLI must name the agentmem binary}
src=${AM_SOURCE_DIR:?}
modules="$src/build-npm/server/node_modules"
if [ ! -f "$modules/@modelcontextprotocol/sdk/package.json" ]; then
    echo "skip: the MCP SDK is not installed (run scripts/setup)"
    exit 77
fi
. "$src/tests/server_lib.sh"

KA=mcp-key-aaaaaaaaaaaaaaaaaaaa
KB=mcp-key-bbbbbbbbbbbbbbbbbbbb
printf '%s acme rw\n%s bob rw\n' "$KA" "$KB" >"$tmp/keys"
start_server "$tmp/http.db" --keys "$tmp/keys"

NODE_PATH="$modules" node "$src/tests/mcp_client.js" "$cli" "$tmp" "$url" \
    "$KA" "$KB"
expect_eq sdk_client $? 0

# ---- The transport, by hand ----
A="Authorization: Bearer $KA"
J="Accept: application/json, text/event-stream"
init='{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"curl","version":"1"}}}'
curl -s -D "$tmp/h" -o "$tmp/body" -XPOST -H "$A" -H "$J" --data "$init" "$url/mcp"
sid=$(grep -i '^mcp-session-id:' "$tmp/h" | tr -d '\r' | cut -d' ' -f2)
expect_eq session_id_len "${#sid}" 32
jcheck negotiated '.result.protocolVersion' '"2025-06-18"'
req no_session POST /mcp '{"jsonrpc":"2.0","id":2,"method":"tools/list"}' 400 "$A" "$J"
req bad_session POST /mcp '{"jsonrpc":"2.0","id":2,"method":"tools/list"}' 404 "$A" "$J" "Mcp-Session-Id: 0123456789abcdef0123456789abcdef"
req other_tenant POST /mcp '{"jsonrpc":"2.0","id":2,"method":"tools/list"}' 404 "Authorization: Bearer $KB" "$J" "Mcp-Session-Id: $sid"
req no_key POST /mcp '{"jsonrpc":"2.0","id":2,"method":"tools/list"}' 401 "$J" "Mcp-Session-Id: $sid"
req list POST /mcp '{"jsonrpc":"2.0","id":2,"method":"tools/list"}' 200 "$A" "$J" "Mcp-Session-Id: $sid"
jcheck list_tools '.result.tools|length' 8
req notification POST /mcp '{"jsonrpc":"2.0","method":"notifications/initialized"}' 202 "$A" "$J" "Mcp-Session-Id: $sid"
req bad_version POST /mcp '{"jsonrpc":"2.0","id":3,"method":"ping"}' 400 "$A" "$J" "Mcp-Session-Id: $sid" "MCP-Protocol-Version: 1999-01-01"
req not_json POST /mcp '{"jsonrpc":' 400 "$A" "$J" "Mcp-Session-Id: $sid"
jcheck parse_error '.error.code' -32700
req no_method POST /mcp '{"jsonrpc":"2.0","id":4,"method":"nope"}' 200 "$A" "$J" "Mcp-Session-Id: $sid"
jcheck method_not_found '.error.code' -32601
req get_stream GET /mcp '' 405 "$A" "Mcp-Session-Id: $sid"
req end_session DELETE /mcp '' 200 "$A" "Mcp-Session-Id: $sid"
req ended POST /mcp '{"jsonrpc":"2.0","id":5,"method":"ping"}' 404 "$A" "$J" "Mcp-Session-Id: $sid"
stop_server

# Without keys (loopback): a foreign Origin is refused (DNS rebinding).
start_server "$tmp/open.db"
req foreign_origin POST /mcp "$init" 403 "$J" "Origin: http://evil.example"
req local_origin POST /mcp "$init" 200 "$J" "Origin: http://localhost:3000"

# A file that is not a database: the server refuses to start, naming the
# file, rather than answering every tool call with an error.
head -c 5000 /dev/urandom >"$tmp/bad.db"
echo '{"jsonrpc":"2.0","id":1,"method":"ping"}' |
    "$cli" mcp --db "$tmp/bad.db" >"$tmp/bad.out" 2>"$tmp/bad.err"
expect_eq bad_file_exit $? 1
expect_eq bad_file_no_answer "$(wc -c <"$tmp/bad.out")" 0
if grep -q "bad.db.*not a database" "$tmp/bad.err"; then pass=$((pass + 1)); else
    echo "FAIL bad_file_message: $(cat "$tmp/bad.err")"; fails=$((fails + 1)); fi

# stdio: a line that is not JSON gets a parse error, the next still works.
printf '%s\n' 'not json' '{"jsonrpc":"2.0","id":7,"method":"ping"}' |
    "$cli" mcp --db "$tmp/s.db" 2>/dev/null >"$tmp/stdio.out"
expect_eq stdio_lines "$(wc -l <"$tmp/stdio.out")" 2
expect_eq stdio_parse "$(head -1 "$tmp/stdio.out" | jq -c .error.code)" -32700
expect_eq stdio_ping "$(tail -1 "$tmp/stdio.out" | jq -c .result)" '{}'

# The search tools' ranking arguments, as /v1/search and /v1/recall/search
# take them (one check, the routes'): min_score for search_memory and
# recall_conversations, the names bonus for recall_conversations too.
# The CLI indexes the conversation (MCP has no index tool).
printf '%s' '[{"role":"user","content":"We should plan the summer trip."},{"role":"assistant","content":"Where would you like to go?"},{"role":"user","content":"Last year we went to Sweden and loved it."},{"role":"assistant","content":"Then Norway could suit you."}]' >"$tmp/trip.json"
"$cli" recall index default t "$tmp/trip.json" --chunk-size 2 --overlap 0 \
    --names-field names --db "$tmp/rank.db" 2>/dev/null
expect_eq rank_index $? 0
tc() { # ID TOOL ARGUMENTS: one tools/call line
    printf '{"jsonrpc":"2.0","id":%s,"method":"tools/call","params":{"name":"%s","arguments":%s}}\n' "$1" "$2" "$3"
}
R='"query":"plan the summer trip last year"'
{ echo "$init"
  echo '{"jsonrpc":"2.0","id":2,"method":"tools/list"}'
  tc 3 remember '{"text":"likes green tea","namespace":["u1"],"key":"tea"}'
  tc 4 search_memory '{"query":"green tea","namespace":["u1"],"mode":"text"}'
  tc 5 search_memory '{"query":"green tea","namespace":["u1"],"mode":"text","min_score":1}'
  tc 6 search_memory '{"query":"green tea","min_score":2}'
  tc 7 recall_conversations "{$R}"
  tc 8 recall_conversations "{$R,\"names_field\":\"names\",\"names_bonus\":1}"
  tc 9 recall_conversations "{$R,\"names_bonus\":0.5}"
  tc 10 recall_conversations "{$R,\"min_score\":0.3}"
  tc 11 recall_conversations "{$R,\"names_field\":\"names\",\"names_bonus\":1,\"min_score\":0.3}"
  tc 12 recall_conversations "{$R,\"min_score\":\"high\"}"
} | "$cli" mcp --db "$tmp/rank.db" 2>/dev/null >"$tmp/rank.out"
reply() { # ID FILTER: FILTER on the tool result's JSON text (or the text)
    jq -c "select(.id == $1) | .result | if .isError then {error: .content[0].text} else (.content[0].text | fromjson) end | $2" "$tmp/rank.out"
}
expect_eq rank_schema "$(jq -c 'select(.id == 2) | [.result.tools[] | select(.name == "search_memory" or .name == "recall_conversations") | .inputSchema.properties | [.min_score.maximum, .names_field.type, .names_bonus.maximum]]' "$tmp/rank.out")" '[[1,"string",1],[1,"string",1]]'
expect_eq search_hit "$(reply 4 '[.results[].key]')" '["tea"]'
expect_eq search_min_score "$(reply 5 '[(.results|length), .error]')" '[0,null]'
expect_eq search_min_score_bad "$(reply 6 '.error')" '"field '"'"'min_score'"'"' must be a number from 0 to 1"'
expect_eq recall_plain_first "$(reply 7 '.results[0].first')" 0
expect_eq recall_names_first "$(reply 8 '[.results[0].first, .results[0].score, .results[0].metadata.names]')" '[2,1,["Sweden","Norway"]]'
expect_eq recall_names_no_field "$(reply 9 '.error')" '"field '"'"'names_bonus'"'"' needs '"'"'names_field'"'"'"'
# Chunk 0 scores about 0.35, chunk 2 about 0.22: 0.3 keeps chunk 0 only,
# and the bonus never lifts a chunk min_score dropped.
expect_eq recall_min_score "$(reply 10 '[.results[].first]')" '[0]'
expect_eq recall_min_score_names "$(reply 11 '[.results[].first]')" '[0]'
expect_eq recall_min_score_bad "$(reply 12 '.error')" '"field '"'"'min_score'"'"' must be a number from 0 to 1"'

finish
