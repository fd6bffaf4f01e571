#!/usr/bin/env bash
# test_crypt_cli.sh -- encrypted databases from the CLI: --key-file,
# $AGENTMEM_KEY_FILE and $AGENTMEM_KEY for `store` and `tiers`; no
# plaintext in the files; a wrong or missing key fails naming the file and
# changes nothing. In a build without encryption: a key is refused and no
# file appears.
set -u
cli=${AM_CLI:?AM_CLI must name the agentmem binary}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
unset AGENTMEM_KEY AGENTMEM_KEY_FILE
fails=0
pass=0
out="$dir/out"
err="$dir/err"
check() { # check NAME EXPECTED_STATUS CMD...
    local name=$1 want=$2; shift 2
    "$@" >"$out" 2>"$err"
    local got=$?
    if [ "$got" -ne "$want" ]; then
        echo "FAIL $name: exit $got, expected $want"; cat "$err"
        fails=$((fails + 1))
    else
        pass=$((pass + 1))
    fi
}
fails_with() { # fails_with NAME CMD... : any non-zero exit
    local name=$1; shift
    if "$@" >"$out" 2>"$err"; then
        echo "FAIL $name: succeeded"; fails=$((fails + 1))
    else
        pass=$((pass + 1))
    fi
}
expect() { # expect NAME PATTERN FILE
    if grep -q -- "$2" "$3"; then pass=$((pass + 1)); else
        echo "FAIL $1: '$2' not in:"; cat "$3"; fails=$((fails + 1)); fi
}
# no_plaintext NAME DB: SECRET is in none of DB, DB-wal, DB-shm.
no_plaintext() {
    if cat "$2" "$2-wal" "$2-shm" 2>/dev/null | grep -aq "$SECRET"; then
        echo "FAIL $1: '$SECRET' is readable in $2"; fails=$((fails + 1))
    else
        pass=$((pass + 1))
    fi
}
SECRET=zanzibar-cli-4711
key="$dir/key"
printf 'a long pass phrase\n' > "$key"
chmod 600 "$key"
printf 'not the pass phrase\n' > "$dir/wrong"
db="$dir/enc.db"

if ! "$cli" store put ns k "{\"text\":\"the $SECRET\"}" --db "$db" \
        --key-file "$key" >"$out" 2>"$err"; then
    # A build without SQLCipher: the key is refused, nothing is written.
    expect unsupported "no encryption" "$err"
    expect unsupported_names_file "$db" "$err"
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
expect get_key_file_value "$SECRET" "$out"
check search_key_file 0 "$cli" store search "$SECRET" --db "$db" --key-file "$key" --embedder none --mode text
expect search_key_file_hit "$SECRET" "$out"
check get_env_file 0 env AGENTMEM_KEY_FILE="$key" "$cli" store get ns k --db "$db"
expect get_env_file_value "$SECRET" "$out"
check get_env_key 0 env AGENTMEM_KEY='a long pass phrase' "$cli" store get ns k --db "$db"
expect get_env_key_value "$SECRET" "$out"
cp "$db" "$dir/before"
fails_with no_key "$cli" store get ns k --db "$db"
expect no_key_msg "looks encrypted" "$err"
expect no_key_names_file "$db" "$err"
fails_with wrong_key "$cli" store get ns k --db "$db" --key-file "$dir/wrong"
expect wrong_key_msg "wrong key" "$err"
expect wrong_key_names_file "$db" "$err"
fails_with both_env env AGENTMEM_KEY_FILE="$key" AGENTMEM_KEY=x "$cli" store get ns k --db "$db"
expect both_env_msg "both" "$err"
cmp -s "$db" "$dir/before" && pass=$((pass + 1)) ||
    { echo "FAIL unchanged: a refused open changed $db"; fails=$((fails + 1)); }
check get_after_refusals 0 "$cli" store get ns k --db "$db" --key-file "$key"
expect get_after_refusals_value "$SECRET" "$out"
# The key is never an argument: there is no option to give it on the
# command line, and a key file that is missing creates nothing.
fails_with no_key_option "$cli" store get ns k --db "$db" --key 'a long pass phrase'
fails_with missing_key_file "$cli" store put ns k '{}' --db "$dir/new.db" --key-file "$dir/nokey"
expect missing_key_file_msg "$dir/nokey" "$err"
[ ! -e "$dir/new.db" ] && pass=$((pass + 1)) ||
    { echo "FAIL missing_key_file: $dir/new.db was created"; fails=$((fails + 1)); }
# A plaintext store refuses a key.
check plain_put 0 "$cli" store put ns k '{"text":"plain"}' --db "$dir/plain.db"
fails_with plain_with_key "$cli" store get ns k --db "$dir/plain.db" --key-file "$key"
expect plain_with_key_msg "plaintext" "$err"

# Tiers, alone and sharing the store's encrypted file.
tdb="$dir/tiers.db"
check tiers_put 0 "$cli" tiers put t1 "tier note $SECRET" --db "$tdb" --key-file "$key"
no_plaintext tiers_file "$tdb"
check tiers_get 0 "$cli" tiers get t1 --peek --db "$tdb" --key-file "$key"
expect tiers_get_value "$SECRET" "$out"
fails_with tiers_wrong "$cli" tiers get t1 --peek --db "$tdb" --key-file "$dir/wrong"
expect tiers_wrong_msg "wrong key" "$err"
fails_with tiers_no_key "$cli" tiers get t1 --peek --db "$tdb"
check tiers_shared 0 env AGENTMEM_KEY_FILE="$key" "$cli" tiers put s1 "shared $SECRET" --db "$db"
check tiers_shared_get 0 env AGENTMEM_KEY_FILE="$key" "$cli" tiers get s1 --peek --db "$db"
expect tiers_shared_value "shared $SECRET" "$out"
check store_shared_get 0 "$cli" store get ns k --db "$db" --key-file "$key"
no_plaintext shared_file "$db"
echo "$pass passed, $fails failed"
[ "$fails" -eq 0 ]
