#!/usr/bin/env bash
# test_cli_pg.sh -- the CLI's commands that open a store (store, recall,
# mcp, serve) open what DATABASE_URL names when --db is not given, and an
# explicit --db wins over it (issue 12: "DATABASE_URL ... where a target
# is not given"). Tiers stay on SQLite: they ignore DATABASE_URL and
# refuse a URI without echoing it (it may hold a password).
#
# Under ctest the database is one of its own in the shared cluster (the
# pg_cluster fixture, AM_TEST_PG_SHARED); run by hand, tests/pg_run.sh
# starts a cluster for it.
set -u
src=${AM_SOURCE_DIR:?AM_SOURCE_DIR must name the source directory}
if [ -z "${AM_TEST_STORE:-}" ]; then
    exec bash "$src/tests/pg_run.sh" bash "$0" "$@"
fi
case "$AM_TEST_STORE" in
postgresql://*) ;;
*) echo "test_cli_pg: AM_TEST_STORE is not a postgresql:// URL"; exit 1 ;;
esac
. "$src/tests/lib.sh"
url=$AM_TEST_STORE
# Every command runs in an empty directory: a store opened by mistake
# from the default ./agentmem.db would show there.
work="$tmp/work"
mkdir -p "$work"
cd "$work" || exit 1

# store: put and search without --db land in PostgreSQL.
check put_env 0 env DATABASE_URL="$url" "$cli" store put u1/prefs lang \
    '{"text":"likes Python"}'
hasnt put_env_no_created "$err" "created a new store"
[ ! -e agentmem.db ] && pass=$((pass + 1)) ||
    { echo "FAIL put_env_no_file: ./agentmem.db was created"; fails=$((fails + 1)); }
check get_url 0 "$cli" store get u1/prefs lang --db "$url"
has get_url_value "$out" "likes Python"
# A URI is no file: no "created a new store" line (it would show the
# URI, password and all).
hasnt get_url_no_created "$err" "created a new store"
check search_env 0 env DATABASE_URL="$url" "$cli" store search u1 python \
    --json
has search_env_hit "$out" '"lang"'

# --db wins over DATABASE_URL: a file of its own, without the item.
check get_db_wins 4 env DATABASE_URL="$url" "$cli" store get u1/prefs \
    lang --db "$tmp/own.db"
[ -f "$tmp/own.db" ] && pass=$((pass + 1)) ||
    { echo "FAIL db_wins_file: --db $tmp/own.db was not opened"; fails=$((fails + 1)); }
# An empty DATABASE_URL is no URL: the default file, as before.
check put_empty_env 0 env DATABASE_URL= "$cli" store put u2/p k '{"v":1}' \
   
[ -f agentmem.db ] && pass=$((pass + 1)) ||
    { echo "FAIL empty_env_file: ./agentmem.db was not used"; fails=$((fails + 1)); }
rm -f agentmem.db

# recall: index without --db, search with the URL.
printf '%s' '[{"role":"user","content":"We moved to Lisbon in May."},
{"role":"assistant","content":"Lisbon in spring, lovely."}]' >"$tmp/conv.json"
check recall_index_env 0 env DATABASE_URL="$url" "$cli" recall index u1 s1 \
    "$tmp/conv.json"
check recall_search_url 0 "$cli" recall search u1 lisbon --db "$url" \
    --json
has recall_search_hit "$out" "Lisbon"
[ ! -e agentmem.db ] && pass=$((pass + 1)) ||
    { echo "FAIL recall_no_file: ./agentmem.db was created"; fails=$((fails + 1)); }

# mcp without --db: the stored item is found through DATABASE_URL.
mcp_in='{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}
{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"search_memory","arguments":{"query":"python","namespace":["u1"]}}}'
check mcp_env 0 env DATABASE_URL="$url" "$cli" mcp <<<"$mcp_in"
has mcp_env_hit "$out" 'likes Python'
check mcp_none 2 env -u DATABASE_URL "$cli" mcp </dev/null
has mcp_none_says "$err" "DATABASE_URL"

# serve without --db: the HTTP API on the URL's store.
env DATABASE_URL="$url" "$cli" serve --listen 127.0.0.1:0 --threads 1 \
    >"$tmp/serve.out" 2>"$tmp/serve.log" &
spid=$!
for _ in $(seq 2400); do
    grep -q '"event":"listening"' "$tmp/serve.log" 2>/dev/null && break
    kill -0 "$spid" 2>/dev/null || break
    sleep 0.05
done
base=$(grep '"event":"listening"' "$tmp/serve.log" | jq -r .url)
curl -s -XPOST -H 'Content-Type: application/json' \
    --data '{"ns":["u1","prefs"],"key":"lang"}' \
    "$base/v1/items/get" >"$out" 2>&1
has serve_env_get "$out" "likes Python"
hasnt serve_log_hides_url "$tmp/serve.log" "$url"
kill "$spid" 2>/dev/null
wait "$spid" 2>/dev/null

# tiers: SQLite only. DATABASE_URL does not move them; a URI is refused
# without being repeated.
check tiers_env 0 env DATABASE_URL="$url" "$cli" tiers put k1 "a fact" \
    --now 1000
[ -f agentmem.db ] && pass=$((pass + 1)) ||
    { echo "FAIL tiers_env_file: tiers did not use ./agentmem.db"; fails=$((fails + 1)); }
check tiers_uri 2 "$cli" tiers get k1 \
    --db "postgresql://am:s3cret-pw@/nowhere"
has tiers_uri_says "$err" "tiers stay on SQLite"
hasnt tiers_uri_no_pw "$err" "s3cret-pw"

finish
