#!/usr/bin/env bash
# test_crypt_cli.sh -- encrypted databases from the CLI: --key-file,
# $AGENTMEM_KEY_FILE and $AGENTMEM_KEY for `store` and `tiers`; no
# plaintext in the files; a wrong or missing key fails naming the file and
# changes nothing. In a build without encryption: a key is refused and no
# file appears.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
unset AGENTMEM_KEY AGENTMEM_KEY_FILE
# no_plaintext NAME DB: SECRET is in none of DB, DB-wal, DB-shm.
no_plaintext() {
    if cat "$2" "$2-wal" "$2-shm" 2>/dev/null | grep -aq "$SECRET"; then
        echo "FAIL $1: '$SECRET' is readable in $2"; fails=$((fails + 1))
    else
        pass=$((pass + 1))
    fi
}
SECRET=zanzibar-cli-4711
key="$tmp/key"
printf 'a long pass phrase\n' > "$key"
chmod 600 "$key"
printf 'not the pass phrase\n' > "$tmp/wrong"
db="$tmp/enc.db"

if ! "$cli" store put ns k "{\"text\":\"the $SECRET\"}" --db "$db" \
        --key-file "$key" >"$out" 2>"$err"; then
    # A build without SQLCipher: the key is refused, nothing is written.
    matches unsupported "$err" "no encryption"
    matches unsupported_names_file "$err" "$db"
    [ ! -e "$db" ] && pass=$((pass + 1)) ||
        { echo "FAIL unsupported: $db was created"; fails=$((fails + 1)); }
    echo "$pass passed, $fails failed (built without encryption)"
    [ "$fails" -eq 0 ]
    exit
fi
pass=$((pass + 1))
check put_more 0 "$cli" store put ns k2 '{"text":"filler words"}' --db "$db" --key-file "$key"
no_plaintext store_file "$db"
check get_key_file 0 "$cli" store get ns k --db "$db" --key-file "$key"
matches get_key_file_value "$out" "$SECRET"
check search_key_file 0 "$cli" store search "$SECRET" --db "$db" --key-file "$key" --embedder none --mode text
matches search_key_file_hit "$out" "$SECRET"
check get_env_file 0 env AGENTMEM_KEY_FILE="$key" "$cli" store get ns k --db "$db"
matches get_env_file_value "$out" "$SECRET"
check get_env_key 0 env AGENTMEM_KEY='a long pass phrase' "$cli" store get ns k --db "$db"
matches get_env_key_value "$out" "$SECRET"
cp "$db" "$tmp/before"
fails_with no_key "$cli" store get ns k --db "$db"
matches no_key_msg "$err" "looks encrypted"
matches no_key_names_file "$err" "$db"
fails_with wrong_key "$cli" store get ns k --db "$db" --key-file "$tmp/wrong"
matches wrong_key_msg "$err" "wrong key"
matches wrong_key_names_file "$err" "$db"
fails_with both_env env AGENTMEM_KEY_FILE="$key" AGENTMEM_KEY=x "$cli" store get ns k --db "$db"
matches both_env_msg "$err" "both"
cmp -s "$db" "$tmp/before" && pass=$((pass + 1)) ||
    { echo "FAIL unchanged: a refused open changed $db"; fails=$((fails + 1)); }
check get_after_refusals 0 "$cli" store get ns k --db "$db" --key-file "$key"
matches get_after_refusals_value "$out" "$SECRET"
# The key is never an argument: there is no option to give it on the
# command line, and a key file that is missing creates nothing.
fails_with no_key_option "$cli" store get ns k --db "$db" --key 'a long pass phrase'
fails_with missing_key_file "$cli" store put ns k '{}' --db "$tmp/new.db" --key-file "$tmp/nokey"
matches missing_key_file_msg "$err" "$tmp/nokey"
[ ! -e "$tmp/new.db" ] && pass=$((pass + 1)) ||
    { echo "FAIL missing_key_file: $tmp/new.db was created"; fails=$((fails + 1)); }
# A plaintext store refuses a key.
check plain_put 0 "$cli" store put ns k '{"text":"plain"}' --db "$tmp/plain.db"
fails_with plain_with_key "$cli" store get ns k --db "$tmp/plain.db" --key-file "$key"
matches plain_with_key_msg "$err" "plaintext"

# Tiers, alone and sharing the store's encrypted file.
tdb="$tmp/tiers.db"
check tiers_put 0 "$cli" tiers put t1 "tier note $SECRET" --db "$tdb" --key-file "$key"
no_plaintext tiers_file "$tdb"
check tiers_get 0 "$cli" tiers get t1 --peek --db "$tdb" --key-file "$key"
matches tiers_get_value "$out" "$SECRET"
fails_with tiers_wrong "$cli" tiers get t1 --peek --db "$tdb" --key-file "$tmp/wrong"
matches tiers_wrong_msg "$err" "wrong key"
fails_with tiers_no_key "$cli" tiers get t1 --peek --db "$tdb"
check tiers_shared 0 env AGENTMEM_KEY_FILE="$key" "$cli" tiers put s1 "shared $SECRET" --db "$db"
check tiers_shared_get 0 env AGENTMEM_KEY_FILE="$key" "$cli" tiers get s1 --peek --db "$db"
matches tiers_shared_value "$out" "shared $SECRET"
check store_shared_get 0 "$cli" store get ns k --db "$db" --key-file "$key"
no_plaintext shared_file "$db"
finish
