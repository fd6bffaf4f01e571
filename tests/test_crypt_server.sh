#!/usr/bin/env bash
# test_crypt_server.sh -- `agentmem serve` and `agentmem mcp` on an
# encrypted database: --key-file (and $AGENTMEM_KEY_FILE) opens every
# handle the server uses (the writer, the per-worker read handles, the
# log checkpointer); puts through HTTP and MCP land encrypted, with no
# plaintext in the file or its log; no key, a wrong key and a missing key
# file stop the server at start with a message naming the problem. In a
# build without encryption: skipped (test_crypt_cli.sh covers the refusal).
set -u
cli=${AM_CLI:?AM_CLI must name the agentmem binary}
src=${AM_SOURCE_DIR:?}
. "$src/tests/server_lib.sh"
unset AGENTMEM_KEY AGENTMEM_KEY_FILE

SECRET=zanzibar-server-4711
key="$tmp/key"
printf 'a long pass phrase\n' >"$key"
chmod 600 "$key"
printf 'not the pass phrase\n' >"$tmp/wrong"
db="$tmp/enc.db"
if ! "$cli" store put seed k '{"text":"seed item"}' --db "$db" \
        --key-file "$key" >/dev/null 2>"$tmp/err"; then
    echo "skip: built without encryption ($(head -c 200 "$tmp/err"))"
    exit 77
fi

# no_plaintext NAME: SECRET is in none of the database's files.
no_plaintext() {
    if cat "$db" "$db-wal" "$db-shm" 2>/dev/null | grep -aq "$SECRET"; then
        echo "FAIL $1: '$SECRET' is readable in $db"; fails=$((fails + 1))
    else
        pass=$((pass + 1))
    fi
}

# refused NAME TEXT ARGS...: `agentmem ARGS...` exits non-zero at start
# (stdin closed, for mcp) and says TEXT on stderr.
refused() {
    local name=$1 text=$2; shift 2
    if timeout 20 "$cli" "$@" </dev/null >/dev/null 2>"$tmp/err"; then
        echo "FAIL $name: started"; fails=$((fails + 1)); return
    fi
    if grep -q -- "$text" "$tmp/err"; then pass=$((pass + 1)); else
        echo "FAIL $name: stderr lacks '$text':"; cat "$tmp/err"
        fails=$((fails + 1))
    fi
}

# ---- HTTP: 2 worker threads, so read handles and the checkpointer ----
start_server "$db" --key-file "$key" --threads 2
req put POST /v1/items/put "{\"ns\":[\"u1\"],\"key\":\"k1\",\"value\":{\"text\":\"the $SECRET\"}}" 200
req get POST /v1/items/get '{"ns":["u1"],"key":"k1"}' 200
jcontains get_value .value.text "$SECRET"
req get_seed POST /v1/items/get '{"ns":["seed"],"key":"k"}' 200
jcontains get_seed_value .value.text "seed item"
req search POST /v1/search "{\"query\":\"$SECRET\",\"mode\":\"text\"}" 200
jcontains search_hit '.results[0].value.text' "$SECRET"
stop_server
no_plaintext http_file
check_get() {
    if "$cli" store get "$1" "$2" --db "$db" --key-file "$key" >"$tmp/out" 2>&1 &&
        grep -q "$3" "$tmp/out"; then pass=$((pass + 1)); else
        echo "FAIL $4: $(cat "$tmp/out")"; fails=$((fails + 1)); fi
}
check_get u1 k1 "$SECRET" cli_reads_http_put

# The key from the environment, as the CLI takes it.
AGENTMEM_KEY_FILE="$key" start_server "$db"
req get_env POST /v1/items/get '{"ns":["u1"],"key":"k1"}' 200
stop_server

# ---- MCP over stdio ----
init='{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"sh","version":"1"}}}'
call='{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"remember","arguments":{"text":"mcp note '"$SECRET"'","key":"m1","namespace":["u2"]}}}'
printf '%s\n%s\n' "$init" "$call" |
    "$cli" mcp --db "$db" --key-file "$key" >"$tmp/mcp.out" 2>"$tmp/mcp.err"
expect_eq mcp_exit $? 0
if jq -se '.[1].result.isError != true and .[1].result != null' \
        "$tmp/mcp.out" >/dev/null 2>&1; then pass=$((pass + 1)); else
    echo "FAIL mcp_remember: $(cat "$tmp/mcp.out" "$tmp/mcp.err")"
    fails=$((fails + 1)); fi
no_plaintext mcp_file
check_get u2 m1 "$SECRET" cli_reads_mcp_put

# ---- Refusals: at start, naming the problem; the file unchanged ----
cp "$db" "$tmp/before"
refused serve_no_key "looks encrypted" serve --db "$db" --listen 127.0.0.1:0
refused serve_wrong_key "wrong key" serve --db "$db" --listen 127.0.0.1:0 \
    --key-file "$tmp/wrong"
refused serve_missing_key_file "--key-file" serve --db "$db" \
    --listen 127.0.0.1:0 --key-file "$tmp/nokey"
refused mcp_no_key "looks encrypted" mcp --db "$db"
refused mcp_wrong_key "wrong key" mcp --db "$db" --key-file "$tmp/wrong"
refused mcp_missing_key_file "$tmp/nokey" mcp --db "$db" --key-file "$tmp/nokey"
refused serve_key_needs_file "needs a file" serve --db "$db" --key-file
cmp -s "$db" "$tmp/before" && pass=$((pass + 1)) ||
    { echo "FAIL unchanged: a refused start changed $db"; fails=$((fails + 1)); }
finish
