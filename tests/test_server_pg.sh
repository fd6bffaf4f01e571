#!/usr/bin/env bash
# test_server_pg.sh -- `agentmem serve --db postgresql://...` end to end:
# items (put/get/list/delete/history/undo), hybrid, text and vector
# search, sessions, the memory manager and MCP at /mcp, all on
# PostgreSQL; then two servers on one database, each seeing the other's
# writes at once (gets, every search mode, deletes, sessions), and a
# restart that loses nothing.
#
# Under ctest the database is one of its own in the shared cluster (the
# pg_cluster fixture, AM_TEST_PG_SHARED); run by hand, tests/pg_run.sh
# starts a cluster for it.
set -u
cli=${AM_CLI:?AM_CLI must name the agentmem binary}
src=${AM_SOURCE_DIR:?}
if [ -z "${AM_TEST_STORE:-}" ]; then
    exec bash "$src/tests/pg_run.sh" bash "$0" "$@"
fi
case "$AM_TEST_STORE" in
postgresql://*) ;;
*) echo "test_server_pg: AM_TEST_STORE is not a postgresql:// URL"; exit 1 ;;
esac
db=$AM_TEST_STORE
. "$src/tests/server_lib.sh"
other_pid=""
trap '[ -n "$server_pid" ] && kill -9 "$server_pid" 2>/dev/null;
      [ -n "$other_pid" ] && kill -9 "$other_pid" 2>/dev/null; rm -rf "$tmp"' EXIT

# ---- One server ----
start_server "$db" --threads 2
A=$url
grep -q '"db":"(database URL)"' "$log" && pass=$((pass + 1)) ||
    { echo "FAIL log_hides_url: $(head -c 300 "$log")"; fails=$((fails + 1)); }
req put POST /v1/items/put '{"ns":["u1","prefs"],"key":"lang","value":{"text":"likes Python and Rust"},"meta":{"kind":"pref"}}' 200
req put2 POST /v1/items/put '{"ns":["u1","notes"],"key":"trip","value":"a trip to Lisbon in May"}' 200
req get POST /v1/items/get '{"ns":["u1","prefs"],"key":"lang"}' 200
jcheck get_value '.value.text' '"likes Python and Rust"'
jcheck get_meta '.meta.kind' '"pref"'
req get_missing POST /v1/items/get '{"ns":["u1","prefs"],"key":"nope"}' 404
req list POST /v1/items/list '{"ns":["u1"]}' 200
jcheck list_keys '[.items[].key]|sort' '["lang","trip"]'
req search POST /v1/search '{"ns":["u1"],"query":"python"}' 200
jcheck search_hit '.results[0].key' '"lang"'
req search_text POST /v1/search '{"query":"lisbon","mode":"text"}' 200
jcheck search_text_hit '[.results[].key]' '["trip"]'
req search_vector POST /v1/search '{"ns":["u1"],"query":"trip to Lisbon","mode":"vector","limit":1}' 200
jcheck search_vector_hit '[.results[].key]' '["trip"]'
req search_filter POST /v1/search '{"query":"python lisbon","filter":{"kind":"pref"}}' 200
jcheck search_filter_hit '[.results[].key]' '["lang"]'
req put_update POST /v1/items/put '{"ns":["u1","prefs"],"key":"lang","value":{"text":"likes Go now"}}' 200
req undo POST /v1/items/undo '{"ns":["u1","prefs"],"key":"lang"}' 200
req get_undone POST /v1/items/get '{"ns":["u1","prefs"],"key":"lang"}' 200
jcheck get_undone_value '.value.text' '"likes Python and Rust"'
req history POST /v1/items/history '{"ns":["u1","prefs"],"key":"lang"}' 200
jcheck history_events '[.history[].event]' '["add","update","update"]'
req sess_add POST /v1/sessions/add '{"session_id":"s1","user_id":"u1","items":[{"role":"user","content":"hi"},{"role":"assistant","content":"hello"}]}' 200
req sess_get POST /v1/sessions/get '{"session_id":"s1"}' 200
jcheck sess_items '.items|length' 2
req sess_pop POST /v1/sessions/pop '{"session_id":"s1"}' 200
jcheck sess_pop_item '.item.content' '"hello"'
req sess_list POST /v1/sessions/list '{"user_id":"u1"}' 200
jcheck sess_list_id '.sessions[0].session_id' '"s1"'
req mem_add POST /v1/memory/add '{"conversation_id":"c1","messages":[{"role":"user","content":"remember the blue door"}]}' 200
req mem_context POST /v1/memory/context '{"conversation_id":"c1"}' 200
jcheck mem_context_has '[.messages[].content]|index("remember the blue door") != null' 'true'
# MCP over streamable HTTP on the same database.
J="Accept: application/json, text/event-stream"
init='{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"curl","version":"1"}}}'
curl -s -D "$tmp/h" -o "$tmp/body" -XPOST -H "$J" --data "$init" "$A/mcp"
sid=$(grep -i '^mcp-session-id:' "$tmp/h" | tr -d '\r' | cut -d' ' -f2)
expect_eq mcp_session_id_len "${#sid}" 32
req mcp_remember POST /mcp '{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"remember","arguments":{"namespace":["u1","mcp"],"key":"door","text":"the door is blue"}}}' 200 "$J" "Mcp-Session-Id: $sid"
jcheck mcp_remember_ok '.result.isError // false' 'false'
req mcp_search POST /mcp '{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"search_memory","arguments":{"namespace":["u1","mcp"],"query":"blue door"}}}' 200 "$J" "Mcp-Session-Id: $sid"
jcheck mcp_search_found '.result.content[0].text|test("door is blue")' 'true'
req get_mcp_item POST /v1/items/get '{"ns":["u1","mcp"],"key":"door"}' 200
jcheck get_mcp_value '.value|tostring|test("door is blue")' 'true'

# ---- Two servers on one database ----
other_pid=$server_pid
other_log=$log
start_server "$db" --threads 2
B=$url
on() { url=$1; }

on "$B"
req b_get_a POST /v1/items/get '{"ns":["u1","prefs"],"key":"lang"}' 200
jcheck b_get_a_value '.value.text' '"likes Python and Rust"'
# A search on A loads A's vector cache; B's put must show in A's very next
# search, in every mode, and in B's.
on "$A"
req a_search_before POST /v1/search '{"ns":["shared"],"query":"harbour lighthouse","mode":"vector"}' 200
jcheck a_search_before_none '.results|length' 0
on "$B"
req b_put POST /v1/items/put '{"ns":["shared"],"key":"b1","value":"the lighthouse by the harbour"}' 200
on "$A"
for mode in hybrid text vector; do
    req "a_sees_b_$mode" POST /v1/search "{\"ns\":[\"shared\"],\"query\":\"harbour lighthouse\",\"mode\":\"$mode\"}" 200
    jcheck "a_sees_b_${mode}_hit" '[.results[].key]' '["b1"]'
done
req a_put POST /v1/items/put '{"ns":["shared"],"key":"a1","value":"a lighthouse keeper on the island"}' 200
on "$B"
req b_sees_a_vector POST /v1/search '{"ns":["shared"],"query":"lighthouse keeper island","mode":"vector","limit":1}' 200
jcheck b_sees_a_vector_hit '[.results[].key]' '["a1"]'
req b_get_a1 POST /v1/items/get '{"ns":["shared"],"key":"a1"}' 200
# An update and a delete on one server change the other's answers at once.
req b_update POST /v1/items/put '{"ns":["shared"],"key":"b1","value":"a bakery selling sourdough"}' 200
on "$A"
req a_sees_update POST /v1/search '{"ns":["shared"],"query":"sourdough bakery","mode":"vector","limit":1}' 200
jcheck a_sees_update_hit '[.results[].key]' '["b1"]'
req a_delete POST /v1/items/delete '{"ns":["shared"],"key":"a1"}' 200
on "$B"
req b_get_deleted POST /v1/items/get '{"ns":["shared"],"key":"a1"}' 404
req b_search_deleted POST /v1/search '{"ns":["shared"],"query":"lighthouse keeper island","mode":"vector"}' 200
jcheck b_search_no_deleted '[.results[].key]|index("a1")' 'null'
req b_list POST /v1/items/list '{"ns":["shared"]}' 200
jcheck b_list_keys '[.items[].key]' '["b1"]'
# Sessions too.
req b_sess_add POST /v1/sessions/add '{"session_id":"s1","user_id":"u1","items":[{"role":"user","content":"from B"}]}' 200
on "$A"
req a_sess_get POST /v1/sessions/get '{"session_id":"s1"}' 200
jcheck a_sess_items '[.items[].content]' '["hi","from B"]'

# Concurrent puts through both servers: every acknowledged one is there.
for i in $(seq 1 20); do
    curl -s -o /dev/null -w '%{http_code}\n' -XPOST "$A/v1/items/put" \
        --data-binary "{\"ns\":[\"conc\"],\"key\":\"a$i\",\"value\":\"note $i\"}" >>"$tmp/codes" &
    curl -s -o /dev/null -w '%{http_code}\n' -XPOST "$B/v1/items/put" \
        --data-binary "{\"ns\":[\"conc\"],\"key\":\"b$i\",\"value\":\"note $i\"}" >>"$tmp/codes" &
done
wait $(jobs -p | grep -v -e "^$server_pid\$" -e "^$other_pid\$") 2>/dev/null
expect_eq concurrent_acked "$(grep -c '^200$' "$tmp/codes")" 40
req conc_list POST /v1/items/list '{"ns":["conc"],"limit":100}' 200
jcheck conc_count '.items|length' 40

# ---- Restart: SIGTERM both, start again, nothing lost ----
stop_server
kill -TERM "$other_pid"; wait "$other_pid" 2>/dev/null; other_pid=""
grep -q '"event":"stopped"' "$other_log" && pass=$((pass + 1)) ||
    { echo "FAIL a_stopped_cleanly"; fails=$((fails + 1)); }
start_server "$db" --threads 2
req restart_get POST /v1/items/get '{"ns":["shared"],"key":"b1"}' 200
jcheck restart_value '.value' '"a bakery selling sourdough"'
req restart_search POST /v1/search '{"ns":["shared"],"query":"sourdough","mode":"vector","limit":1}' 200
jcheck restart_search_hit '[.results[].key]' '["b1"]'
req restart_conc POST /v1/items/list '{"ns":["conc"],"limit":100}' 200
jcheck restart_conc_count '.items|length' 40
req restart_mem POST /v1/memory/context '{"conversation_id":"c1"}' 200
jcheck restart_mem_has '[.messages[].content]|index("remember the blue door") != null' 'true'
finish
