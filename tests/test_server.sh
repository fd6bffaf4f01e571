#!/usr/bin/env bash
# test_server.sh -- `agentmem serve` on a free loopback port, driven with
# curl: every route, bad input (each error names its field), the body size
# and nesting limits, 404/405, concurrent puts committed together with an
# answer each, the write-ahead log checkpointed by its own thread, 503
# past --max-conns, one log line per request, SIGTERM
# finishing a request in flight, and kill -9 under load losing no
# acknowledged write.
set -u
cli=${AM_CLI:?AM_CLI must name the agentmem binary}
src=${AM_SOURCE_DIR:?}
. "$src/tests/server_lib.sh"

start_server "$tmp/t.db"
U=$url

# One read handle per worker thread (4 by default) on a database file.
jcheck_line() {
    local got
    got=$(grep '"event":"listening"' "$log" | jq -c "$2")
    expect_eq "$1" "$got" "$3"
}
jcheck_line read_handles_file .read_handles 4

# ---- Items ----
req put POST /v1/items/put '{"ns":["u1","prefs"],"key":"lang","value":{"value":"Python"},"meta":{"kind":"pref"}}' 200
req put2 POST /v1/items/put '{"ns":["u1","prefs"],"key":"editor","value":"vim and emacs","ttl_ms":3600000}' 200
req put_other POST /v1/items/put '{"ns":["u2","notes"],"key":"k/../x","value":"a note about rust"}' 200
req get POST /v1/items/get '{"ns":["u1","prefs"],"key":"lang"}' 200
jcheck get_value '.value.value' '"Python"'
jcheck get_ns '.namespace' '["u1","prefs"]'
jcheck get_meta '.meta.kind' '"pref"'
req get_slash_key POST /v1/items/get '{"ns":["u2","notes"],"key":"k/../x"}' 200
req get_missing POST /v1/items/get '{"ns":["u1","prefs"],"key":"nope"}' 404
jcheck missing_code '.error.code' '"not_found"'
req list POST /v1/items/list '{"ns":["u1"]}' 200
jcheck list_count '.items|length' 2
req list_page POST /v1/items/list '{"limit":1}' 200
jcheck list_page_len '.items|length' 1
jcheck list_next '.next_offset' 1
req list_page2 POST /v1/items/list '{"limit":2,"offset":2}' 200
jcheck list_last '.next_offset' null
req namespaces POST /v1/namespaces '{}' 200
jcheck ns_list '.namespaces' '[["u1","prefs"],["u2","notes"]]'
req namespaces_depth POST /v1/namespaces '{"max_depth":1}' 200
jcheck ns_depth '.namespaces' '[["u1"],["u2"]]'
req delete POST /v1/items/delete '{"ns":["u1","prefs"],"key":"lang"}' 200
req get_deleted POST /v1/items/get '{"ns":["u1","prefs"],"key":"lang"}' 404
req delete_again POST /v1/items/delete '{"ns":["u1","prefs"],"key":"lang"}' 404
req undo POST /v1/items/undo '{"ns":["u1","prefs"],"key":"lang"}' 200
req get_undone POST /v1/items/get '{"ns":["u1","prefs"],"key":"lang"}' 200
req history POST /v1/items/history '{"ns":["u1","prefs"],"key":"lang"}' 200
jcheck history_events '[.history[].event]' '["add","delete","add"]'
req undo_none POST /v1/items/undo '{"ns":["u9"],"key":"none"}' 404
# A write by another process is read at once: read handles hold no
# snapshot between calls (get, list and search each read the file anew).
req get_before_cli POST /v1/items/get '{"ns":["u3"],"key":"cli"}' 404
"$cli" store put u3 cli '{"text":"written by the command line"}' \
    --db "$tmp/t.db" >/dev/null 2>&1 || { echo "FAIL cli_put"; fails=$((fails + 1)); }
req get_after_cli POST /v1/items/get '{"ns":["u3"],"key":"cli"}' 200
jcheck get_after_cli_value '.value.text' '"written by the command line"'
req search_after_cli POST /v1/search '{"query":"command line","ns":["u3"]}' 200
jcheck search_after_cli_hit '[.results[].key]' '["cli"]'
"$cli" store del u3 cli --db "$tmp/t.db" >/dev/null 2>&1 ||
    { echo "FAIL cli_del"; fails=$((fails + 1)); }
req get_after_cli_delete POST /v1/items/get '{"ns":["u3"],"key":"cli"}' 404

# ---- Search ----
req search POST /v1/search '{"query":"python"}' 200
jcheck search_top '.results[0].key' '"lang"'
req search_text POST /v1/search '{"query":"rust","mode":"text"}' 200
jcheck search_text_hit '[.results[].key]' '["k/../x"]'
req search_scope POST /v1/search '{"ns":["u1"],"query":"rust","mode":"text"}' 200
jcheck search_scope_none '.results|length' 0
req search_vector POST /v1/search '{"query":"emacs editor","mode":"vector","limit":1}' 200
jcheck search_vector_one '.results|length' 1
req search_filter POST /v1/search '{"query":"python vim","filter":{"kind":"pref"}}' 200
jcheck search_filter_only '[.results[].key]' '["lang"]'
req search_mode_bad POST /v1/search '{"query":"x","mode":"fuzzy"}' 400
jcheck search_mode_field '.error.field' '"mode"'
req search_filter_bad POST /v1/search '{"query":"x","filter":[1]}' 400
jcheck search_filter_field '.error.field' '"filter"'
req search_no_query POST /v1/search '{}' 400
jcheck search_query_field '.error.field' '"query"'
# The names bonus (am_search.names_field/names_bonus, the CLI's
# --names-field/--names): the item naming a place the query does not
# comes first, at full weight.
req put_trip0 POST /v1/items/put '{"ns":["trips"],"key":"a","value":"x","text":"travel last summer was fun","meta":{"names":[]}}' 200
req put_trip1 POST /v1/items/put '{"ns":["trips"],"key":"b","value":"x","text":"travel last summer to Sweden","meta":{"names":["Sweden"]}}' 200
req search_names POST /v1/search '{"ns":["trips"],"query":"travel last summer fun","mode":"text","names_field":"names","names_bonus":1}' 200
jcheck search_names_first '[.results[0].key, .results[0].score]' '["b",1]'
# min_score (am_search.min_score): results scoring below it are dropped.
req search_min_score POST /v1/search '{"ns":["trips"],"query":"travel last summer fun","mode":"text","min_score":0.3}' 200
jcheck search_min_score_only '[.results[].key]' '["a"]'
req search_min_score_bad POST /v1/search '{"query":"x","min_score":1.5}' 400
jcheck search_min_score_bad_field '.error.field' '"min_score"'
req search_names_off POST /v1/search '{"ns":["trips"],"query":"travel last summer fun","mode":"text"}' 200
jcheck search_names_off_first '.results[0].key' '"a"'
req search_names_bad POST /v1/search '{"query":"x","names_field":"names","names_bonus":2}' 400
jcheck search_names_bad_field '.error.field' '"names_bonus"'
req search_names_nofield POST /v1/search '{"query":"x","names_bonus":0.5}' 400
jcheck search_names_nofield_field '.error.field' '"names_bonus"'

# ---- Sessions ----
req sess_add POST /v1/sessions/add '{"session_id":"s1","user_id":"u1","items":[{"role":"user","content":"hi"},{"role":"assistant","content":"hello"}]}' 200
req sess_get POST /v1/sessions/get '{"session_id":"s1"}' 200
jcheck sess_items '.items|length' 2
req sess_get_last POST /v1/sessions/get '{"session_id":"s1","limit":1}' 200
jcheck sess_last '.items[0].content' '"hello"'
req sess_list POST /v1/sessions/list '{"user_id":"u1"}' 200
jcheck sess_list_id '.sessions[0].session_id' '"s1"'
req sess_pop POST /v1/sessions/pop '{"session_id":"s1"}' 200
jcheck sess_pop_item '.item.role' '"assistant"'
req sess_other_user POST /v1/sessions/add '{"session_id":"s1","user_id":"u2","items":[1]}' 400
req sess_clear POST /v1/sessions/clear '{"session_id":"s1"}' 200
req sess_clear_again POST /v1/sessions/clear '{"session_id":"s1"}' 404
req sess_items_bad POST /v1/sessions/add '{"session_id":"s2","items":{}}' 400
jcheck sess_items_field '.error.field' '"items"'

# ---- Recall and memory tool ----
req recall_index POST /v1/recall/index '{"user_id":"u1","session_id":"c1","messages":[{"role":"user","content":"my dog is called Rex"},{"role":"assistant","content":"a fine name"}]}' 200
jcheck recall_chunks '.chunks' 1
req recall_search POST /v1/recall/search '{"user_id":"u1","query":"dog"}' 200
jcheck recall_hit '.results[0].session_id' '"c1"'
req recall_other POST /v1/recall/search '{"user_id":"u2","query":"dog"}' 200
jcheck recall_other_none '.results|length' 0
# The names bonus for recall: the index writes each chunk's names, the
# search and the tool raise chunks naming what the query does not (the
# tool only those scoring its min_score before the bonus).
req recall_index_names POST /v1/recall/index '{"user_id":"u5","session_id":"t","chunk_size":2,"chunk_overlap":0,"names_field":"names","messages":[{"role":"user","content":"We should plan the summer trip."},{"role":"assistant","content":"Where would you like to go?"},{"role":"user","content":"Last year we went to Sweden and loved it."},{"role":"assistant","content":"Then Norway could suit you."}]}' 200
req recall_search_names POST /v1/recall/search '{"user_id":"u5","query":"plan the summer trip last year","names_field":"names","names_bonus":1}' 200
jcheck recall_search_names_first '[.results[0].first, .results[0].score, .results[0].metadata.names]' '[2,1,["Sweden","Norway"]]'
req recall_tool_names POST /v1/recall/tool '{"user_id":"u5","names_field":"names","names_bonus":1,"call":{"id":"c9","function":{"arguments":"{\"query\":\"last year we went and loved it\"}"}}}' 200
jcontains recall_tool_names_first '.result.content' '[1] session t (score 1.000)'
req recall_search_names_bad POST /v1/recall/search '{"user_id":"u5","query":"x","names_bonus":0.5}' 400
jcheck recall_search_names_bad_field '.error.field' '"names_bonus"'
# min_score, as /v1/search: here chunk 0 scores about 0.27, chunk 2 about
# 0.17 (before the names bonus, which never lifts a chunk min_score
# dropped).
req recall_search_min POST /v1/recall/search '{"user_id":"u5","query":"plan the summer trip last year","names_field":"names","names_bonus":1,"min_score":0.2}' 200
jcheck recall_search_min_kept '[.results[].first]' '[0]'
req recall_search_min_bad POST /v1/recall/search '{"user_id":"u5","query":"x","min_score":-0.5}' 400
jcheck recall_search_min_bad_field '.error.field' '"min_score"'
req recall_tool POST /v1/recall/tool '{"user_id":"u1","format":"openai","call":{"id":"call_1","type":"function","function":{"name":"recall_conversations","arguments":"{\"query\":\"dog\"}"}}}' 200
jcheck recall_tool_role '.result.role' '"tool"'
jcontains recall_tool_text '.result.content' 'my dog is called Rex'
req recall_tool_anthropic POST /v1/recall/tool '{"user_id":"u1","format":"anthropic","call":{"type":"tool_use","id":"toolu_1","name":"recall_conversations","input":{"query":"dog"}}}' 200
jcheck recall_tool_anthropic_block '.result.content[0]|[.type,.tool_use_id]' '["tool_result","toolu_1"]'
jcontains recall_tool_anthropic_text '.result.content[0].content' 'my dog is called Rex'
req recall_tool_anthropic_bad POST /v1/recall/tool '{"user_id":"u1","format":"anthropic","call":{"type":"tool_use","id":"toolu_2","name":"recall_conversations","input":"dog"}}' 200
jcheck recall_tool_anthropic_error '.result.content[0].is_error' true
req recall_tool_fmt POST /v1/recall/tool '{"user_id":"u1","format":"xml","call":{}}' 400
jcheck recall_tool_field '.error.field' '"format"'
req recall_bad_msgs POST /v1/recall/index '{"user_id":"u1","session_id":"c2","messages":"nope"}' 400
req mem_create POST /v1/memtool '{"user_id":"u1","input":{"command":"create","path":"/memories/notes.md","file_text":"likes tea"}}' 200
jcheck mem_create_ok '.is_error' false
req mem_view POST /v1/memtool '{"user_id":"u1","input":{"command":"view","path":"/memories/notes.md"}}' 200
jcontains mem_view_text '.content' 'likes tea'
req mem_escape POST /v1/memtool '{"user_id":"u1","input":{"command":"view","path":"/memories/../etc/passwd"}}' 200
jcheck mem_escape_err '.is_error' true
req mem_bad POST /v1/memtool '{"user_id":"u1","input":"view"}' 400
jcheck mem_bad_field '.error.field' '"input"'

# ---- Stateless context operations ----
req count_text POST /v1/tokens/count '{"model":"gpt-4o","text":"hello world"}' 200
jcheck count_text_n '.tokens' 2
jcheck count_exact '.exact' true
req count_msgs POST /v1/tokens/count '{"model":"gpt-4o","messages":[{"role":"user","content":"hello world"}]}' 200
jcheck count_msgs_n '.tokens' 9
req count_both POST /v1/tokens/count '{"text":"a","messages":[]}' 400
req count_bad_msgs POST /v1/tokens/count '{"messages":[{"content":1}]}' 400
jcheck count_bad_field '.error.field' '"messages"'
req trim POST /v1/context/trim '{"max_messages":2,"messages":[{"role":"system","content":"be brief"},{"role":"user","content":"hello"},{"role":"assistant","content":"yo"}]}' 200
jcheck trim_kept '[.messages[].role]' '["system","assistant"]'
req trim_bad POST /v1/context/trim '{"strategy":"middle","messages":[]}' 400
jcheck trim_bad_field '.error.field' '"strategy"'
req convert POST /v1/context/convert '{"to":"anthropic","messages":[{"role":"system","content":"be nice"},{"role":"user","content":"hello"}]}' 200
jcheck convert_system '.messages.system' '"be nice"'
req convert_no_to POST /v1/context/convert '{"messages":[]}' 400
jcheck convert_field '.error.field' '"to"'
req price POST /v1/price '{"model":"gpt-4o","input_tokens":1000000,"output_tokens":0}' 200
jcheck price_known '.known' true
# The catalog's provenance, the same as `agentmem models --json` says
# (where the prices and limits come from, when they were compared), and
# nothing for a model the catalog does not know.
prov='[.price_source, .price_checked, .limits_source, .limits_checked, .context_window, .max_output]'
for m in gpt-4o gpt-4 claude-opus-4; do
    req "price_$m" POST /v1/price "{\"model\":\"$m\"}" 200
    jcheck "price_prov_$m" "$prov" "$("$cli" models "$m" --json | jq -c "$prov")"
done
jcheck price_prov_source '.price_source|type' '"string"'
req price_unknown POST /v1/price '{"model":"no-such-model"}' 200
jcheck price_unknown_prov '[.known, .price_source, .limits_source]' '[false,null,null]'
req price_bad POST /v1/price '{"model":"gpt-4o","input_tokens":-1}' 400
jcheck price_field '.error.field' '"input_tokens"'

# ---- The memory manager, one per conversation ----
req mm_add POST /v1/memory/add '{"conversation_id":"conv1","messages":[{"role":"system","content":"be brief"},{"role":"user","content":"my name is Ada"}]}' 200
jcheck mm_added '.added' 2
req mm_add2 POST /v1/memory/add '{"conversation_id":"conv1","messages":[{"role":"assistant","content":"hello Ada"}]}' 200
jcheck mm_count '.stats.messages' 3
req mm_ctx POST /v1/memory/context '{"conversation_id":"conv1"}' 200
jcheck mm_ctx_roles '[.messages[].role]' '["system","user","assistant"]'
req mm_ctx_anthropic POST /v1/memory/context '{"conversation_id":"conv1","format":"anthropic"}' 200
jcheck mm_ctx_system '.messages.system' '"be brief"'
req mm_other POST /v1/memory/stats '{"conversation_id":"conv2"}' 200
jcheck mm_other_empty '.stats.messages' 0
req mm_bad POST /v1/memory/add '{"conversation_id":"conv1","messages":[{"content":"x"}]}' 400
jcheck mm_bad_field '.error.field' '"messages"'
req mm_no_id POST /v1/memory/context '{}' 400
jcheck mm_no_id_field '.error.field' '"conversation_id"'

# ---- Bad input and protocol errors ----
req no_body POST /v1/items/put '' 400
req not_json POST /v1/items/put '{"ns":["a"],' 400
jcontains not_json_msg '.error.message' 'not valid JSON'
req not_object POST /v1/items/put '[1,2]' 400
req ns_string POST /v1/items/put '{"ns":"u1","key":"k","value":1}' 400
jcheck ns_string_field '.error.field' '"ns"'
req ns_part POST /v1/items/put '{"ns":["u1",7],"key":"k","value":1}' 400
jcontains ns_part_msg '.error.message' 'part 1'
req ns_empty POST /v1/items/put '{"ns":[],"key":"k","value":1}' 400
req key_missing POST /v1/items/put '{"ns":["u1"],"value":1}' 400
jcheck key_field '.error.field' '"key"'
req value_missing POST /v1/items/put '{"ns":["u1"],"key":"k"}' 400
jcheck value_field '.error.field' '"value"'
req meta_bad POST /v1/items/put '{"ns":["u1"],"key":"k","value":1,"meta":[1]}' 400
jcheck meta_field '.error.field' '"meta"'
req ttl_bad POST /v1/items/put '{"ns":["u1"],"key":"k","value":1,"ttl_ms":"soon"}' 400
jcheck ttl_field '.error.field' '"ttl_ms"'
req vec_bad POST /v1/items/put '{"ns":["u1"],"key":"k","value":1,"vector":["x"]}' 400
jcheck vec_field '.error.field' '"vector"'
req dup_member POST /v1/items/put '{"ns":["u1"],"ns":["u2"],"key":"k","value":1}' 400
req limit_bad POST /v1/items/list '{"limit":100000}' 400
jcheck limit_field '.error.field' '"limit"'
deep=$(printf '[%.0s' $(seq 40))$(printf ']%.0s' $(seq 40))
req too_deep POST /v1/items/put "{\"ns\":[\"u1\"],\"key\":\"k\",\"value\":$deep}" 400
jcontains too_deep_msg '.error.message' 'nests deeper'
big=$(head -c 1100000 /dev/zero | tr '\0' 'a')
printf '{"ns":["u1"],"key":"big","value":"%s"}' "$big" >"$tmp/big.json"
req_file too_large POST /v1/items/put "$tmp/big.json" 413
req wrong_method GET /v1/items/put '' 405
req unknown_route POST /v1/nope '{}' 404
req healthz GET /healthz '' 200
jcheck healthz_ok '.status' '"ok"'
# X-Request-Id comes back on the reply, batched put, read, error or
# not, and goes into the log line; anything else is 400 naming the header.
req rid_put POST /v1/items/put '{"ns":["u1"],"key":"rid","value":1}' 200 \
    'X-Request-Id: put-1:a.b_C'
hcheck rid_put_echo X-Request-Id 'put-1:a.b_C'
req rid_get_missing POST /v1/items/get '{"ns":["u1"],"key":"none"}' 404 \
    'X-Request-Id: get-2'
hcheck rid_404_echo X-Request-Id get-2
req rid_none POST /v1/items/get '{"ns":["u1"],"key":"rid"}' 200
hcheck rid_none_absent X-Request-Id ''
req rid_openapi GET /openapi.json '' 200 'X-Request-Id: doc-3'
hcheck rid_openapi_echo X-Request-Id doc-3
req rid_mcp POST /mcp '{"jsonrpc":"2.0","id":1,"method":"tools/list"}' 400 \
    'X-Request-Id: mcp-4'
hcheck rid_mcp_echo X-Request-Id mcp-4
req rid_space POST /v1/items/get '{"ns":["u1"],"key":"rid"}' 400 \
    'X-Request-Id: two words'
jcontains rid_space_msg '.error.message' 'X-Request-Id'
hcheck rid_space_no_echo X-Request-Id ''
req rid_long POST /v1/items/put '{"ns":["u1"],"key":"rid2","value":1}' 400 \
    "X-Request-Id: $(printf 'x%.0s' $(seq 65))"
req rid_long_not_stored POST /v1/items/get '{"ns":["u1"],"key":"rid2"}' 404
req rid_64 POST /v1/items/get '{"ns":["u1"],"key":"rid"}' 200 \
    "X-Request-Id: $(printf 'y%.0s' $(seq 64))"
hcheck rid_64_echo X-Request-Id "$(printf 'y%.0s' $(seq 64))"

# ---- One structured log line per request ----
nreq=$(grep -c '"event":"request"' "$log")
if [ "$nreq" -eq "$requests" ]; then pass=$((pass + 1)); else
    echo "FAIL log_lines: $nreq request lines for $requests requests"
    fails=$((fails + 1)); fi
if grep '"event":"request"' "$log" |
   jq -e 'select((.method|type) != "string" or (.route|type) != "string" or (.status|type) != "number" or (.us|type) != "number" or (.tenant|type) != "string")' >/dev/null; then
    echo "FAIL log_fields: a request line lacks a field"; fails=$((fails + 1))
else pass=$((pass + 1)); fi
grep -q '"route":"/v1/items/put","status":413' "$log" && pass=$((pass + 1)) ||
    { echo "FAIL log_413"; fails=$((fails + 1)); }
grep -q '"status":200,.*"request_id":"put-1:a.b_C"}' "$log" &&
    pass=$((pass + 1)) || { echo "FAIL log_request_id"; fails=$((fails + 1)); }

# ---- SIGTERM finishes a request in flight, then closes the database ----
big=$(head -c 500000 /dev/zero | tr '\0' 'b')
printf '{"ns":["slow"],"key":"upload","value":"%s"}' "$big" >"$tmp/slow.json"
curl -s -o "$tmp/slow.out" -w '%{http_code}' --limit-rate 100k \
    -XPOST --data-binary @"$tmp/slow.json" "$U/v1/items/put" >"$tmp/slow.code" &
curl_pid=$!
sleep 1.5
kill -TERM "$server_pid"
wait "$curl_pid"
wait "$server_pid"; rc=$?
expect_eq sigterm_exit "$rc" 0
expect_eq inflight_answered "$(cat "$tmp/slow.code")" 200
grep -q '"event":"stopped"' "$log" && pass=$((pass + 1)) ||
    { echo "FAIL stopped_logged"; fails=$((fails + 1)); }
"$cli" store check --db "$tmp/t.db" >/dev/null 2>&1 &&
    pass=$((pass + 1)) || { echo "FAIL db_check"; fails=$((fails + 1)); }
"$cli" store get slow upload --db "$tmp/t.db" >/dev/null 2>&1 &&
    pass=$((pass + 1)) || { echo "FAIL inflight_committed"; fails=$((fails + 1)); }

# ---- A restart loses no conversation of the memory manager ----
start_server "$tmp/t.db"
req mm_restart POST /v1/memory/context '{"conversation_id":"conv1"}' 200
jcheck mm_restart_msgs '[.messages[].content]' '["be brief","my name is Ada","hello Ada"]'
req mm_restart_add POST /v1/memory/add '{"conversation_id":"conv1","messages":[{"role":"user","content":"and yours?"}]}' 200
jcheck mm_restart_total '.stats.messages_added' 4
stop_server

# ---- Concurrent puts commit together, each with its own answer ----
start_server "$tmp/batch.db"
node "$src/tests/server_puts.js" "$url" 20 30 >"$tmp/puts.json"
expect_eq batch_ok "$(jq .ok "$tmp/puts.json")" 600
expect_eq batch_other "$(jq -c .other "$tmp/puts.json")" '[]'
expect_eq batch_bad_status "$(jq -c '[.bad[].status]|unique' "$tmp/puts.json")" '[400]'
expect_eq batch_bad_count "$(jq '.bad|length' "$tmp/puts.json")" 4
expect_eq batch_bad_message "$(jq -r '.bad[0].message' "$tmp/puts.json")" \
    'item 0: key is 5000 bytes (at most 4096)'
stop_server
expect_eq batch_stored "$("$cli" store export batch --db "$tmp/batch.db" | wc -l)" 600
# Fewer transactions than puts: requests that arrived together were
# committed together (a put per transaction would make them equal).
jq -e 'select(.event == "stopped") | .batched_puts == 604 and
       .put_transactions < .batched_puts' "$log" >/dev/null &&
    pass=$((pass + 1)) || { echo "FAIL batch_grouped: $(grep stopped "$log")"
                            fails=$((fails + 1)); }

# ---- The log is copied back by the checkpointer thread, not by a put:
# 8 puts of ~900 KB (text and index) put ~3,300 pages (13 MB) in the log;
# a commit would only checkpoint past 8192, so the database file grows
# past 8 MB while the server still runs only because the checkpointer
# (srv_ckpt.c) copied the pages (without it: 4 KB) ----
start_server "$tmp/ckpt.db"
awk 'BEGIN { printf("{\"ns\":[\"ckpt\"],\"key\":\"KEY\",\"value\":\"");
             for (i = 0; i < 100000; i++) printf("word%d ", i % 97); printf("\"}") }' \
    >"$tmp/big.tmpl"
for i in $(seq 8); do
    sed "s/KEY/k$i/" "$tmp/big.tmpl" >"$tmp/big.json"
    req_file ckpt_put POST /v1/items/put "$tmp/big.json" 200
done
for _ in $(seq 50); do
    [ "$(stat -c %s "$tmp/ckpt.db")" -ge 8000000 ] && break
    sleep 0.1
done
# The checkpointer runs 10 nice steps below the rest of the server (its
# work can wait, the puts' cannot), the writer at the server's own.
thread_nice() {   # thread_nice NAME: nice of the server's thread NAME
    local t
    for t in /proc/"$server_pid"/task/*; do
        if [ "$(cat "$t/comm" 2>/dev/null)" = "$1" ]; then
            awk '{print $19}' "$t/stat"; return; fi
    done
    echo none
}
srv_nice=$(awk '{print $19}' /proc/"$server_pid"/stat)
want=$((srv_nice + 10 > 19 ? 19 : srv_nice + 10))
expect_eq ckpt_nice "$(thread_nice am-ckpt)" "$want"
expect_eq writer_nice "$(thread_nice am-writer)" "$srv_nice"
db_bytes=$(stat -c %s "$tmp/ckpt.db")
if [ "$db_bytes" -ge 8000000 ]; then pass=$((pass + 1)); else
    echo "FAIL ckpt_copied: the database file has $db_bytes bytes while the"
    echo "server runs (the checkpointer copied nothing back)"
    fails=$((fails + 1)); fi
stop_server
jq -e --argjson n "$want" 'select(.event == "stopped") |
       .ckpt_background >= 1 and .ckpt_nice == $n' "$log" \
    >/dev/null && pass=$((pass + 1)) ||
    { echo "FAIL ckpt_logged: $(grep stopped "$log")"; fails=$((fails + 1)); }
expect_eq ckpt_items "$("$cli" store export ckpt --db "$tmp/ckpt.db" | wc -l)" 8

# ---- 503 past --max-conns ----
start_server "$tmp/t.db" --max-conns 2
exec 3<>"/dev/tcp/127.0.0.1/$port" 4<>"/dev/tcp/127.0.0.1/$port" \
     5<>"/dev/tcp/127.0.0.1/$port"
# The server counts a connection once it accepted it: poll briefly.
for _ in $(seq 50); do
    [ "$(curl -s -o /dev/null -w '%{http_code}' "$url/healthz")" = 503 ] && break
    sleep 0.1
done
req overloaded GET /healthz '' 503
jcheck overloaded_code '.error.code' '"unavailable"'
exec 3>&- 4>&- 5>&-
for _ in $(seq 50); do
    [ "$(curl -s -o /dev/null -w '%{http_code}' "$url/healthz")" = 200 ] && break
    sleep 0.1
done
req recovered GET /healthz '' 200
stop_server

# ---- In memory: no read handles (a second handle would be another,
# empty database), so a get still finds what a put stored ----
start_server ":memory:" --threads 2
jcheck_line read_handles_memory .read_handles 0
req mem_put POST /v1/items/put '{"ns":["m"],"key":"k","value":"kept in memory"}' 200
req mem_get POST /v1/items/get '{"ns":["m"],"key":"k"}' 200
jcheck mem_get_value '.value' '"kept in memory"'
req mem_search POST /v1/search '{"query":"memory"}' 200
jcheck mem_search_hit '[.results[].key]' '["k"]'
stop_server
# "sqlite:" with no file is SQLite's private temporary database: the same.
start_server "sqlite:" --threads 2
jcheck_line read_handles_private .read_handles 0
req priv_put POST /v1/items/put '{"ns":["m"],"key":"k","value":"kept"}' 200
req priv_get POST /v1/items/get '{"ns":["m"],"key":"k"}' 200
jcheck priv_get_value '.value' '"kept"'
stop_server

# ---- Without --keys: loopback only ----
"$cli" serve --db "$tmp/t.db" --listen 0.0.0.0:0 >"$tmp/pub.out" 2>&1
expect_eq public_refused $? 2
grep -q 'loopback only' "$tmp/pub.out" && pass=$((pass + 1)) ||
    { echo "FAIL public_message"; cat "$tmp/pub.out"; fails=$((fails + 1)); }

# ---- A database URL's password is never printed ----
"$cli" serve --db 'postgres://u:hunter2secret@127.0.0.1:1/x' \
    --listen 127.0.0.1:0 >"$tmp/pg.out" 2>&1
expect_eq pg_unreachable_exit $? 1
if grep -q hunter2secret "$tmp/pg.out"; then
    echo "FAIL pg_password_printed: $(cat "$tmp/pg.out")"; fails=$((fails + 1))
else pass=$((pass + 1)); fi

# ---- kill -9 under load loses no acknowledged write ----
start_server "$tmp/k.db"
node "$src/tests/server_writer.js" "$url" "$tmp/acked" 8 &
writer_pid=$!
# Kill once the writers are well under way (node may start slowly).
for _ in $(seq 300); do
    [ "$(cat "$tmp/acked" 2>/dev/null | wc -l)" -ge 200 ] && break
    sleep 0.1
done
kill -9 "$server_pid"
wait "$writer_pid" 2>/dev/null
acked=$(cat "$tmp/acked" 2>/dev/null | wc -l)
"$cli" store export load --db "$tmp/k.db" |
    jq -r '"\(.namespace|join("/")) \(.key)"' | sort >"$tmp/stored"
missing=$(sort "$tmp/acked" | comm -23 - "$tmp/stored" | wc -l)
echo "kill -9 under load: $acked acknowledged writes, $missing missing"
if [ "$acked" -gt 20 ] && [ "$missing" -eq 0 ]; then pass=$((pass + 1)); else
    echo "FAIL kill9: $missing of $acked acknowledged writes missing"
    fails=$((fails + 1)); fi

finish
