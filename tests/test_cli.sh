#!/usr/bin/env bash
# test_cli.sh -- the CLI's dispatch, help and error conventions.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
check help 0 "$cli" --help
grep -q "usage: agentmem" "$out" || { echo "FAIL help text"; fails=$((fails+1)); }
check version 0 "$cli" --version
grep -q "^agentmem [0-9]" "$out" || { echo "FAIL version text"; fails=$((fails+1)); }
check no_args 2 "$cli"
check unknown 2 "$cli" frobnicate
grep -q "unknown command 'frobnicate'" "$err" || { echo "FAIL unknown text"; fails=$((fails+1)); }
check demo 0 "$cli" demo
# --db '' is a usage error in every command that takes --db, not a way to
# DATABASE_URL: `--db "$DB"` with DB unset must not open another database.
export DATABASE_URL="$tmp/from_env.db"
for c in "store ls" "recall search x" "serve" "mcp" "tiers stats"; do
    n=${c%% *}
    check "db_empty_$n" 2 "$cli" $c --db ''
    has "db_empty_${n}_msg" "$err" "--db is empty"
done
[ ! -e "$DATABASE_URL" ] || { echo "FAIL db_empty opened DATABASE_URL"; fails=$((fails+1)); }
unset DATABASE_URL
# sqlite:<path> names the file <path> (am_store_target_kind): "created a
# new store" once, on the first open only.
check db_sqlite_put 0 "$cli" store --db "sqlite:$tmp/s.db" --embedder none put ns k 1
has db_sqlite_new "$err" "created a new store sqlite:$tmp/s.db"
check db_sqlite_get 0 "$cli" store --db "sqlite:$tmp/s.db" --embedder none get ns k
hasnt db_sqlite_old "$err" "created a new store"
# "sqlite:" with no file part: a temporary store, and the note says so
# (it said "created a new store sqlite:", a file that never exists).
check db_sqlite_temp 0 "$cli" store --db "sqlite:" --embedder none put ns k 1
has db_sqlite_temp_msg "$err" "opened a temporary store: --db sqlite: names no file"
hasnt db_sqlite_temp_new "$err" "created a new store"
check db_sqlite_temp_gone 4 "$cli" store --db "sqlite:" --embedder none get ns k
# tiers too: sqlite:<path> is the file <path>; "sqlite:" alone is refused.
check db_sqlite_tiers_put 0 "$cli" tiers put k1 "a fact" --db "sqlite:$tmp/t.db"
[ -e "$tmp/t.db" ] || { echo "FAIL db_sqlite_tiers: no file $tmp/t.db"; fails=$((fails+1)); }
check db_sqlite_tiers_get 0 "$cli" tiers get k1 --db "$tmp/t.db"
has db_sqlite_tiers_got "$out" "a fact"
check db_sqlite_tiers_empty 2 "$cli" tiers stats --db "sqlite:"
has db_sqlite_tiers_empty_msg "$err" "needs a file"
# A scheme the library does not know: refused, password unshown.
check db_scheme 1 "$cli" store --db "mysql://u:secret@h/db" ls
has db_scheme_msg "$err" "'mysql://'"
hasnt db_scheme_pw "$err" "secret"
finish
