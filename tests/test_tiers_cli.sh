#!/usr/bin/env bash
# test_tiers_cli.sh -- `agentmem tiers ...` on a database file.
set -u
cli=${AM_CLI:?AM_CLI must name the agentmem binary}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
db="$dir/t.db"
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
expect() { # expect NAME PATTERN FILE
    if grep -q -- "$2" "$3"; then pass=$((pass + 1)); else
        echo "FAIL $1: '$2' not in:"; cat "$3"; fails=$((fails + 1)); fi
}
T0=1700000000000
DAYMS=86400000
t() { "$cli" tiers "$@" --db "$db"; }

check put_a 0 t put a "alpha content" --type fact --tag x --tag y --importance 0.9 --now $T0
check put_b 0 t put b "bravo" --type note --tag x --importance 0.2 --tier long_term --now $T0
printf 'from\0stdin\n' > "$dir/bin"
check put_file 0 t put c --file "$dir/bin" --importance 0.1 --now $T0
check put_json 0 t put d '{"k":[1,2]}' --json-content --meta '{"src":"cli"}' --now $T0
check get_a 0 t get a --now $T0
expect get_a_content "alpha content" "$out"
check get_meta 0 t get a --describe --peek --now $T0
expect get_meta_count '"access_count":1' "$out"
expect get_meta_tags '"tags":\["x","y"\]' "$out"
check search_tag 0 t search --tag x --peek
[ "$(wc -l < "$out")" -eq 2 ] && pass=$((pass+1)) || { echo "FAIL search_tag count"; cat "$out"; fails=$((fails+1)); }
check search_type_tag 0 t search --tag x --type note --peek
expect search_type_tag_b "^b$" "$out"
check search_importance 0 t search --min 0.85 --peek
expect search_importance_a "^a$" "$out"
check stats 0 t stats --now $T0
expect stats_working "^working .* 3 " "$out"
expect stats_long "^long_term .* 1 " "$out"
# Archive, byte-identical restore.
check archive 0 t archive c --now $((T0 + 1000))
check stats_arch 0 t stats
expect stats_archive "^archive .* 1 " "$out"
check restore 0 t restore c --now $((T0 + 2000))
check get_c 0 t get c --peek
cmp -s "$out" "$dir/bin" && pass=$((pass+1)) || { echo "FAIL restore not byte-identical"; fails=$((fails+1)); }
check restore_again 1 t restore c
expect restore_again_msg "not archived" "$err"
check moves 0 t moves
expect moves_archive "c working -> archive (archive)" "$out"
expect moves_restore "c archive -> short_term (restore)" "$out"
# Optimize after an idle day; policies after an idle month.
check optimize 0 t optimize --now $((T0 + 2 * DAYMS))
expect optimize_count "demoted 3 items" "$out"
check policies 0 t policies --now $((T0 + 40 * DAYMS))
expect policies_archive "archive_old_low_importance: 2" "$out"
expect policies_refresh "refresh_important: 1" "$out"
check policies_delete 0 t policies --now $((T0 + 400 * DAYMS))
expect policies_deleted "delete_ancient_archives: 2" "$out"
check get_deleted 4 t get b
expect get_deleted_msg "no item 'b'" "$err"
check maintain 0 t maintain --now $((T0 + 401 * DAYMS))
expect maintain_optimize "optimize: demoted" "$out"
expect maintain_policies "refresh_important: " "$out"
# Capacity from the command line: the 3rd item into a working tier of 2.
check cap1 0 t put w1 one --capacity working=2 --now $T0
check cap2 0 t put w2 two --capacity working=2 --now $((T0 + 1))
check cap3 0 t put w3 three --capacity working=2 --importance 0.9 --now $((T0 + 2))
check moves_cap 0 t moves --last 1
expect moves_capacity "(capacity)" "$out"
# Bad input.
check bad_importance 3 t put z x --importance 7
expect bad_importance_msg "importance 7" "$err"
check bad_json 3 t put z '{oops' --json-content
expect bad_json_msg "content" "$err"
check bad_tier 2 t put z x --tier attic
check bad_option 2 t stats --frobnicate
check bad_sub 2 "$cli" tiers frobnicate
check missing_id 2 t get
check no_db_dir 5 "$cli" tiers stats --db "$dir/no/such/dir/x.db"
check help 0 "$cli" tiers --help
# Failed puts over an existing item leave the database as it was.
check keep_put 0 t put keep "original content" --importance 0.4 --now $T0
dump() { sqlite3 "$db" "SELECT id, tier, importance, access_count, hex(data) FROM tier_items JOIN tier_state USING(pid) JOIN tier_content USING(pid) ORDER BY id"; }
if command -v sqlite3 >/dev/null; then dump > "$dir/before"; fi
check keep_bad_json 3 t put keep '{"a":' --json-content --now $T0
expect keep_bad_json_msg "content: .*byte" "$err"
check keep_bad_importance 3 t put keep x --importance 1.5 --now $T0
check keep_nan_importance 3 t put keep x --importance nan --now $T0
check keep_bad_extra 3 t put keep x --meta '[1,2]' --now $T0
expect keep_bad_extra_msg "extra must be a JSON object" "$err"
check keep_bad_utf8_id 3 t put "$(printf 'keep\377')" x --now $T0
expect keep_bad_utf8_id_msg "id is not valid UTF-8 (byte 4)" "$err"
check keep_bad_utf8_json 3 t put keep "$(printf '"\377"')" --json-content --now $T0
check keep_missing_file 4 t put keep --file "$dir/none.txt" --now $T0
expect keep_missing_file_msg "cannot open .*none.txt" "$err"
check keep_archive_capacity 3 t put keep x --capacity archive=5 --now $T0
expect keep_archive_capacity_msg "capacity\[archive\] must be 0" "$err"
check keep_negative_now 2 t put keep x --now -5
expect keep_negative_now_msg "is negative" "$err"
check keep_huge_now 2 t put keep x --now 99999999999999999999999
check keep_huge_capacity 2 t put keep x --capacity working=99999999999999999999
check keep_negative_capacity 2 t put keep x --capacity working=-1
if command -v sqlite3 >/dev/null; then
    dump > "$dir/after"
    cmp -s "$dir/before" "$dir/after" && pass=$((pass+1)) || { echo "FAIL failed puts changed the database"; diff "$dir/before" "$dir/after"; fails=$((fails+1)); }
fi
check keep_get 0 t get keep --peek
expect keep_get_content "^original content$" "$out"
check search_empty_range 3 t search --min 0.9 --max 0.1
expect search_empty_range_msg "min_importance 0.9 > max_importance 0.1" "$err"
check search_negative_limit 2 t search --limit -1
check search_huge_recent 2 t search --recent 99999999999w
expect search_huge_recent_msg "too large a duration" "$err"
check search_recent_no_unit 2 t search --recent 7x
expect search_recent_no_unit_msg "unknown unit 'x'" "$err"
check search_recent_zero 2 t search --recent 0
expect search_recent_zero_msg "empty span" "$err"
# One grammar: the old spellings are refused with the new one, and --meta
# always takes the JSON to store (an old 'get --meta' is not read silently).
check old_recent_days 2 t search --recent-days 3
expect old_recent_days_msg "'--recent-days' is now '--recent DURATION" "$err"
check old_extra 2 t put keep x --extra '{"a":1}'
expect old_extra_msg "'--extra' is now '--meta JSON'" "$err"
check old_get_meta 2 t get a --meta --peek
expect old_get_meta_msg "to print an item's metadata: get ID --describe" "$err"
check get_meta_json_refused 2 t get a --meta '{"a":1}'
expect get_meta_json_refused_msg "get: --meta JSON is put's" "$err"
check moves_negative 2 t moves --last -3
tags=(); for i in $(seq 1 65); do tags+=(--tag "t$i"); done
check too_many_tags 2 t put keep x "${tags[@]}"
expect too_many_tags_msg "too many --tag options (tag 65: at most 64)" "$err"
check empty_tag 3 t put keep x --tag ""
expect empty_tag_msg "tag 0 is empty" "$err"
# Deferred archive compression: one item per policy run, then compact.
def="$dir/defer.db"
for i in 1 2 3; do
    check "defer_put$i" 0 "$cli" tiers put "d$i" "deferred content $i $i $i" --importance 0.1 --tier long_term --now $T0 --db "$def"
done
check defer_policies 0 "$cli" tiers policies --archive-step 1 --now $((T0 + 40 * DAYMS)) --db "$def"
expect defer_policies_count "archive_old_low_importance: 3" "$out"
check defer_stats 0 "$cli" tiers stats --db "$def"
expect defer_stats_waiting "archive: 2 items not compressed yet" "$out"
check defer_get 0 "$cli" tiers get d3 --peek --db "$def"
expect defer_get_content "^deferred content 3 3 3$" "$out"
check defer_compact 0 "$cli" tiers compact --db "$def"
expect defer_compact_msg "compact: compressed 2 items, 0 left" "$out"
check defer_stats2 0 "$cli" tiers stats --db "$def"
grep -q "not compressed" "$out" && { echo "FAIL compact left items"; fails=$((fails+1)); } || pass=$((pass+1))
check defer_get2 0 "$cli" tiers get d3 --peek --db "$def"
expect defer_get2_content "^deferred content 3 3 3$" "$out"
check bad_step 2 "$cli" tiers stats --archive-step -1 --db "$def"
expect bad_step_msg "archive-step wants a whole number" "$err"
# Not a database: refused, and the file is left alone.
printf 'not a database at all' > "$dir/junk.db"
check junk_db 5 "$cli" tiers put k v --db "$dir/junk.db"
expect junk_db_msg "not a database" "$err"
[ "$(cat "$dir/junk.db")" = "not a database at all" ] && pass=$((pass+1)) || { echo "FAIL junk db was modified"; fails=$((fails+1)); }
# --recent DURATION: a window of creation time ending at --now.
rdb="$dir/recent.db"
check recent_put_old 0 "$cli" tiers put r-old "old" --db "$rdb" --now $T0
check recent_put_mid 0 "$cli" tiers put r-mid "mid" --db "$rdb" --now $((T0 + 2 * DAYMS))
check recent_put_new 0 "$cli" tiers put r-new "new" --db "$rdb" --now $((T0 + 3 * DAYMS - 3600000))
check recent_2h 0 "$cli" tiers search --recent 2h --peek --db "$rdb" --now $((T0 + 3 * DAYMS))
[ "$(cat "$out")" = "r-new" ] && pass=$((pass+1)) || { echo "FAIL --recent 2h:"; cat "$out"; fails=$((fails+1)); }
check recent_2d 0 "$cli" tiers search --recent 2d --peek --db "$rdb" --now $((T0 + 3 * DAYMS))
[ "$(sort "$out" | tr '\n' ' ')" = "r-mid r-new " ] && pass=$((pass+1)) || { echo "FAIL --recent 2d:"; cat "$out"; fails=$((fails+1)); }
check recent_1w 0 "$cli" tiers search --recent 1w --peek --db "$rdb" --now $((T0 + 3 * DAYMS))
[ "$(wc -l < "$out")" -eq 3 ] && pass=$((pass+1)) || { echo "FAIL --recent 1w:"; cat "$out"; fails=$((fails+1)); }
# cleanup_old_items: by creation age, in every tier.
cdb="$dir/cleanup.db"
check cleanup_put_old 0 "$cli" tiers put old1 "old" --db "$cdb" --now $T0
check cleanup_put_new 0 "$cli" tiers put new1 "new" --db "$cdb" --now $((T0 + 20 * 86400000))
# AGE is a duration; a bare number is refused (days once, milliseconds in
# every duration flag) and deletes nothing.
check cleanup_bare 2 "$cli" tiers cleanup 30 --db "$cdb" --now $((T0 + 40 * 86400000))
expect cleanup_bare_msg "AGE '30' has no unit: write 30d for 30 days" "$err"
check cleanup_bare_kept 0 "$cli" tiers get old1 --peek --db "$cdb"
check cleanup_run 0 "$cli" tiers cleanup 30d --db "$cdb" --now $((T0 + 40 * 86400000))
expect cleanup_count "deleted 1 item older than 30 days" "$out"
check cleanup_gone 4 "$cli" tiers get old1 --db "$cdb"
check cleanup_kept 0 "$cli" tiers get new1 --peek --db "$cdb"
check cleanup_hours 0 "$cli" tiers cleanup 480h --json --db "$cdb" --now $((T0 + 40 * 86400000))
expect cleanup_hours_json '{"deleted":0,"age_ms":1728000000}' "$out"
check cleanup_hours_del 0 "$cli" tiers cleanup 479h --db "$cdb" --now $((T0 + 40 * 86400000))
expect cleanup_hours_count "deleted 1 item older than 479 hours" "$out"
check cleanup_bad 2 "$cli" tiers cleanup -3d --db "$cdb"
expect cleanup_bad_msg "not a duration" "$err"
check cleanup_unit 2 "$cli" tiers cleanup 3y --db "$cdb"
expect cleanup_unit_msg "unknown unit 'y'" "$err"
check cleanup_huge 3 "$cli" tiers cleanup 99999999d --db "$cdb"
expect cleanup_huge_msg "not in 0..1000000 days" "$err"

# One file shared with the long-term store (each module its own tables).
shared="$dir/shared.db"
check share_tiers 0 "$cli" tiers put s1 "tier side" --db "$shared"
check share_store 0 "$cli" store put ns k '{"text":"store side"}' --db "$shared"
check share_tiers_get 0 "$cli" tiers get s1 --peek --db "$shared"
expect share_tiers_content "tier side" "$out"
check share_store_get 0 "$cli" store get ns k --db "$shared"
expect share_store_content "store side" "$out"
if command -v sqlite3 >/dev/null; then
    sqlite3 "$shared" "SELECT module || '=' || version FROM am_schema ORDER BY module" > "$out"
    expect share_schema_store "^store=" "$out"
    expect share_schema_tiers "^tiers=3$" "$out"
fi
echo "$pass passed, $fails failed"
[ "$fails" -eq 0 ]
