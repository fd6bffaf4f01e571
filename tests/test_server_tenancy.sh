#!/usr/bin/env bash
# test_server_tenancy.sh -- `agentmem serve --keys`: tenant A stores
# secrets through every kind of route; tenant B then calls every route with
# A's namespaces, ids and paths, spelled plainly and crafted (A's tenant
# name as a part or prefix, "..", separators, NUL), and must never see or
# change anything of A's. Also: 401/403 with JSON bodies, read-only keys,
# keys never logged, key-file errors naming the line.
set -u
cli=${AM_CLI:?AM_CLI must name the agentmem binary}
src=${AM_SOURCE_DIR:?}
. "$src/tests/server_lib.sh"

KA=key-aaaaaaaaaaaaaaaaaaaaaaaa
KR=key-rrrrrrrrrrrrrrrrrrrrrrrr
KB=key-bbbbbbbbbbbbbbbbbbbbbbbb
cat >"$tmp/keys" <<EOF
# key                          tenant  rights
$KA  acme    rw
$KR  acme    ro
$KB  bob     rw
EOF
start_server "$tmp/t.db" --keys "$tmp/keys"
A="Authorization: Bearer $KA"
R="X-API-Key: $KR"
B="Authorization: Bearer $KB"

# ---- Auth ----
req no_key POST /v1/items/list '{}' 401
jcheck no_key_code '.error.code' '"unauthorized"'
req bad_key POST /v1/items/list '{}' 401 "Authorization: Bearer key-aaaaaaaaaaaaaaaaaaaaaaab"
req short_key POST /v1/items/list '{}' 401 "Authorization: Bearer key-a"
req long_key POST /v1/items/list '{}' 401 "Authorization: Bearer ${KA}a"
req healthz_open GET /healthz '' 200

# ---- Tenant A stores a secret through every stateful route ----
req a_put POST /v1/items/put '{"ns":["x"],"key":"k","value":"SECRET-A item","meta":{"t":"a"}}' 200 "$A"
req a_put2 POST /v1/items/put '{"ns":["x","deep"],"key":"k2","value":"SECRET-A deep"}' 200 "$A"
req a_sess POST /v1/sessions/add '{"session_id":"s1","user_id":"u","items":["SECRET-A turn"]}' 200 "$A"
req a_recall POST /v1/recall/index '{"user_id":"u","session_id":"c1","messages":[{"role":"user","content":"SECRET-A recall about dogs"},{"role":"assistant","content":"ok"}]}' 200 "$A"
req a_mem POST /v1/memtool '{"user_id":"u","input":{"command":"create","path":"/memories/f.md","file_text":"SECRET-A file"}}' 200 "$A"
jcheck a_mem_ok '.is_error' false
req a_memmgr POST /v1/memory/add '{"conversation_id":"u","messages":[{"role":"user","content":"SECRET-A conversation"}]}' 200 "$A"
req a_get POST /v1/items/get '{"ns":["x"],"key":"k"}' 200 "$A"
jcheck a_get_ns '.namespace' '["x"]'
req a_list POST /v1/items/list '{}' 200 "$A"
jcheck a_list_ns '[.items[].namespace]' '[["x"],["x","deep"]]'

# ---- Read-only key of the same tenant ----
req r_get POST /v1/items/get '{"ns":["x"],"key":"k"}' 200 "$R"
for route in /v1/items/put /v1/items/delete /v1/items/undo \
             /v1/sessions/add /v1/sessions/pop /v1/sessions/clear \
             /v1/recall/index /v1/memory/add; do
    req "ro$route" POST "$route" '{"ns":["x"],"key":"k","value":1,"session_id":"s1","user_id":"u","items":[1],"messages":[],"conversation_id":"u"}' 403 "$R"
    jcheck "ro_code$route" '.error.code' '"forbidden"'
done
req ro_mem_write POST /v1/memtool '{"user_id":"u","input":{"command":"delete","path":"/memories/f.md"}}' 403 "$R"
req ro_mem_view POST /v1/memtool '{"user_id":"u","input":{"command":"view","path":"/memories/f.md"}}' 200 "$R"
jcontains ro_mem_sees '.content' 'SECRET-A file'

# ---- Tenant B tries everything with A's names ----
bodies=()
for ns in '["x"]' '["acme","x"]' '["acme"]' '["x","deep"]' '["acme:x"]' \
          '[".."]' '["..","acme","x"]' '["x\u0000"]' '["bob","..","acme","x"]'; do
    bodies+=("{\"ns\":$ns,\"prefix\":$ns,\"key\":\"k\",\"value\":\"B-WAS-HERE\",\"query\":\"SECRET dogs item\",\"mode\":\"text\"}")
    bodies+=("{\"ns\":$ns,\"prefix\":$ns,\"key\":\"k2\",\"value\":\"B-WAS-HERE\",\"query\":\"secret\"}")
done
for id in u acme:u 'acme\u0000u' ../acme/u 'bob:acme:u' ':u' 'acme'; do
    for sid in s1 acme:s1 'acme\u0000s1' c1; do
        bodies+=("{\"user_id\":\"$id\",\"conversation_id\":\"$id\",\"messages\":[{\"role\":\"user\",\"content\":\"B-WAS-HERE\"}],\"session_id\":\"$sid\",\"query\":\"SECRET dogs\",\"limit\":1,\"call\":{\"id\":\"t1\",\"type\":\"function\",\"function\":{\"name\":\"recall_conversations\",\"arguments\":\"{\\\"query\\\":\\\"dogs\\\"}\"}}}")
    done
    for path in /memories/f.md /memories /memories/../memories/f.md /memories/acme/f.md '/memories/u/f.md'; do
        bodies+=("{\"user_id\":\"$id\",\"input\":{\"command\":\"view\",\"path\":\"$path\"}}")
    done
done
# Every POST route the server documents (its OpenAPI document is built from
# the route table), so a route added later is tried too.
routes=$(curl -s "$url/openapi.json" |
    jq -r '.paths | to_entries[] | select(.value.post and (.key | startswith("/v1/"))) | .key')
# One curl process sends them all (a config file with one block per call).
ncalls=0
mkdir "$tmp/calls"
: >"$tmp/curl.cfg"
for route in $routes; do
    for body in "${bodies[@]}"; do
        ncalls=$((ncalls + 1))
        printf '%s' "$body" >"$tmp/calls/$ncalls.in"
        printf '%s\n' "url = \"$url$route\"" "request = \"POST\"" \
            "header = \"$B\"" "data-binary = \"@$tmp/calls/$ncalls.in\"" \
            "output = \"$tmp/calls/$ncalls.out\"" "next" >>"$tmp/curl.cfg"
    done
done
curl -s -K "$tmp/curl.cfg"
requests=$((requests + ncalls))
answered=$(ls "$tmp/calls/"*.out | wc -l)
expect_eq all_answered "$answered" "$ncalls"
crossed=$(grep -l 'SECRET-A' "$tmp/calls/"*.out | wc -l)
for f in $(grep -l 'SECRET-A' "$tmp/calls/"*.out | head -5); do
    echo "crossed: $(cat "${f%.out}.in") -> $(head -c 300 "$f")"
done
echo "tenant B made $ncalls calls on ${#bodies[@]} crafted bodies"
expect_eq never_crossed "$crossed" 0
# At least the 24 routes of this writing were tried.
[ "$(echo "$routes" | wc -l)" -ge 24 ] && pass=$((pass + 1)) ||
    { echo "FAIL all_routes: $(echo "$routes" | wc -l) routes"; fails=$((fails + 1)); }

# ---- A's data is exactly as A left it ----
req a_get_after POST /v1/items/get '{"ns":["x"],"key":"k"}' 200 "$A"
jcheck a_value_after '.value' '"SECRET-A item"'
req a_hist_after POST /v1/items/history '{"ns":["x"],"key":"k"}' 200 "$A"
jcheck a_hist_len '.history|length' 1
req a_get2_after POST /v1/items/get '{"ns":["x","deep"],"key":"k2"}' 200 "$A"
jcheck a_value2_after '.value' '"SECRET-A deep"'
req a_sess_after POST /v1/sessions/get '{"session_id":"s1"}' 200 "$A"
jcheck a_sess_items '.items' '["SECRET-A turn"]'
req a_sess_list POST /v1/sessions/list '{"user_id":"u"}' 200 "$A"
jcheck a_sess_list_ids '[.sessions[].session_id]' '["s1"]'
req a_recall_after POST /v1/recall/search '{"user_id":"u","query":"dogs"}' 200 "$A"
jcheck a_recall_hit '.results[0].session_id' '"c1"'
req a_mem_after POST /v1/memtool '{"user_id":"u","input":{"command":"view","path":"/memories/f.md"}}' 200 "$A"
jcontains a_mem_file '.content' 'SECRET-A file'
req a_memmgr_after POST /v1/memory/context '{"conversation_id":"u"}' 200 "$A"
jcheck a_memmgr_msgs '[.messages[].content]' '["SECRET-A conversation"]'
# B's own writes landed in B's space only.
req b_list POST /v1/items/list '{}' 200 "$B"
if grep -q 'SECRET-A' "$tmp/body"; then echo "FAIL b_list"; fails=$((fails + 1)); else pass=$((pass + 1)); fi
req a_list_after POST /v1/items/list '{}' 200 "$A"
if grep -q 'B-WAS-HERE' "$tmp/body"; then echo "FAIL b_wrote_into_a"; fails=$((fails + 1)); else pass=$((pass + 1)); fi

# ---- Keys are never logged ----
for k in "$KA" "$KR" "$KB"; do
    if grep -qF "$k" "$log"; then echo "FAIL key_logged"; fails=$((fails + 1)); else pass=$((pass + 1)); fi
done
grep -q '"tenant":"bob"' "$log" && pass=$((pass + 1)) ||
    { echo "FAIL tenant_logged"; fails=$((fails + 1)); }
stop_server

# ---- Key files are checked, errors name the line ----
printf 'short acme rw\n' >"$tmp/k1"
printf '# c\n%s recall rw\n' "$KA" >"$tmp/k2"
printf '%s acme rwx\n' "$KA" >"$tmp/k3"
printf '%s acme rw\n%s bob rw\n' "$KA" "$KA" >"$tmp/k4"
for f in k1:1 k2:2 k3:1 k4:2; do
    "$cli" serve --db "$tmp/t.db" --listen 127.0.0.1:0 --keys "$tmp/${f%%:*}" \
        >"$tmp/kout" 2>&1
    rc=$?
    expect_eq "keyfile_${f%%:*}_exit" "$rc" 1
    grep -q "${f%%:*}:${f##*:}:" "$tmp/kout" && pass=$((pass + 1)) ||
        { echo "FAIL keyfile_${f%%:*}_line: $(cat "$tmp/kout")"; fails=$((fails + 1)); }
    if grep -qF "$KA" "$tmp/kout"; then echo "FAIL keyfile_echo"; fails=$((fails + 1)); fi
done

finish
