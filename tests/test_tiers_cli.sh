#!/usr/bin/env bash
# test_tiers_cli.sh -- `agentmem tiers ...` on a database file.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
db="$tmp/t.db"
T0=1700000000000
DAYMS=86400000
t() { "$cli" tiers "$@" --db "$db"; }

check put_a 0 t put a "alpha content" --type fact --tag x --tag y --importance 0.9 --now $T0
check put_b 0 t put b "bravo" --type note --tag x --importance 0.2 --tier long_term --now $T0
printf 'from\0stdin\n' > "$tmp/bin"
check put_file 0 t put c --file "$tmp/bin" --importance 0.1 --now $T0
check put_json 0 t put d '{"k":[1,2]}' --json-content --meta '{"src":"cli"}' --now $T0
check get_a 0 t get a --now $T0
matches get_a_content "$out" "alpha content"
check get_meta 0 t get a --describe --peek --now $T0
matches get_meta_count "$out" '"access_count":1'
matches get_meta_tags "$out" '"tags":\["x","y"\]'
check search_tag 0 t search --tag x --peek
[ "$(wc -l < "$out")" -eq 2 ] && pass=$((pass+1)) || { echo "FAIL search_tag count"; cat "$out"; fails=$((fails+1)); }
check search_type_tag 0 t search --tag x --type note --peek
matches search_type_tag_b "$out" "^b$"
check search_importance 0 t search --min 0.85 --peek
matches search_importance_a "$out" "^a$"
check stats 0 t stats --now $T0
matches stats_working "$out" "^working .* 3 "
matches stats_long "$out" "^long_term .* 1 "
# Archive, byte-identical restore.
check archive 0 t archive c --now $((T0 + 1000))
check stats_arch 0 t stats
matches stats_archive "$out" "^archive .* 1 "
check restore 0 t restore c --now $((T0 + 2000))
check get_c 0 t get c --peek
cmp -s "$out" "$tmp/bin" && pass=$((pass+1)) || { echo "FAIL restore not byte-identical"; fails=$((fails+1)); }
check restore_again 1 t restore c
matches restore_again_msg "$err" "not archived"
check moves 0 t moves
matches moves_archive "$out" "c working -> archive (archive)"
matches moves_restore "$out" "c archive -> short_term (restore)"
# Optimize after an idle day; policies after an idle month.
check optimize 0 t optimize --now $((T0 + 2 * DAYMS))
matches optimize_count "$out" "demoted 3 items"
check policies 0 t policies --now $((T0 + 40 * DAYMS))
matches policies_archive "$out" "archive_old_low_importance: 2"
matches policies_refresh "$out" "refresh_important: 1"
check policies_delete 0 t policies --now $((T0 + 400 * DAYMS))
matches policies_deleted "$out" "delete_ancient_archives: 2"
check get_deleted 4 t get b
matches get_deleted_msg "$err" "no item 'b'"
check maintain 0 t maintain --now $((T0 + 401 * DAYMS))
matches maintain_optimize "$out" "optimize: demoted"
matches maintain_policies "$out" "refresh_important: "
# Capacity from the command line: the 3rd item into a working tier of 2.
check cap1 0 t put w1 one --capacity working=2 --now $T0
check cap2 0 t put w2 two --capacity working=2 --now $((T0 + 1))
check cap3 0 t put w3 three --capacity working=2 --importance 0.9 --now $((T0 + 2))
check moves_cap 0 t moves --last 1
matches moves_capacity "$out" "(capacity)"
# Bad input.
check bad_importance 3 t put z x --importance 7
matches bad_importance_msg "$err" "importance 7"
check bad_json 3 t put z '{oops' --json-content
matches bad_json_msg "$err" "content"
check bad_tier 2 t put z x --tier attic
check bad_option 2 t stats --frobnicate
check bad_sub 2 "$cli" tiers frobnicate
check missing_id 2 t get
check no_db_dir 5 "$cli" tiers stats --db "$tmp/no/such/dir/x.db"
check help 0 "$cli" tiers --help
# Failed puts over an existing item leave the database as it was.
check keep_put 0 t put keep "original content" --importance 0.4 --now $T0
dump() { sqlite3 "$db" "SELECT id, tier, importance, access_count, hex(data) FROM tier_items JOIN tier_state USING(pid) JOIN tier_content USING(pid) ORDER BY id"; }
if command -v sqlite3 >/dev/null; then dump > "$tmp/before"; fi
check keep_bad_json 3 t put keep '{"a":' --json-content --now $T0
matches keep_bad_json_msg "$err" "content: .*byte"
check keep_bad_importance 3 t put keep x --importance 1.5 --now $T0
check keep_nan_importance 3 t put keep x --importance nan --now $T0
check keep_bad_extra 3 t put keep x --meta '[1,2]' --now $T0
matches keep_bad_extra_msg "$err" "extra must be a JSON object"
check keep_bad_utf8_id 3 t put "$(printf 'keep\377')" x --now $T0
matches keep_bad_utf8_id_msg "$err" "id is not valid UTF-8 (byte 4)"
check keep_bad_utf8_json 3 t put keep "$(printf '"\377"')" --json-content --now $T0
check keep_missing_file 4 t put keep --file "$tmp/none.txt" --now $T0
matches keep_missing_file_msg "$err" "cannot open .*none.txt"
check keep_archive_capacity 3 t put keep x --capacity archive=5 --now $T0
matches keep_archive_capacity_msg "$err" "capacity\[archive\] must be 0"
check keep_negative_now 2 t put keep x --now -5
matches keep_negative_now_msg "$err" "is negative"
check keep_huge_now 2 t put keep x --now 99999999999999999999999
check keep_huge_capacity 2 t put keep x --capacity working=99999999999999999999
check keep_negative_capacity 2 t put keep x --capacity working=-1
if command -v sqlite3 >/dev/null; then
    dump > "$tmp/after"
    cmp -s "$tmp/before" "$tmp/after" && pass=$((pass+1)) || { echo "FAIL failed puts changed the database"; diff "$tmp/before" "$tmp/after"; fails=$((fails+1)); }
fi
check keep_get 0 t get keep --peek
matches keep_get_content "$out" "^original content$"
check search_empty_range 3 t search --min 0.9 --max 0.1
matches search_empty_range_msg "$err" "min_importance 0.9 > max_importance 0.1"
check search_negative_limit 2 t search --limit -1
check search_huge_recent 2 t search --recent 99999999999w
matches search_huge_recent_msg "$err" "too large a duration"
check search_recent_no_unit 2 t search --recent 7x
matches search_recent_no_unit_msg "$err" "unknown unit 'x'"
check search_recent_zero 2 t search --recent 0
matches search_recent_zero_msg "$err" "empty span"
# One grammar: the old spellings are refused with the new one, and --meta
# always takes the JSON to store (an old 'get --meta' is not read silently).
check old_recent_days 2 t search --recent-days 3
matches old_recent_days_msg "$err" "'--recent-days' is now '--recent DURATION"
check old_extra 2 t put keep x --extra '{"a":1}'
matches old_extra_msg "$err" "'--extra' is now '--meta JSON'"
check old_get_meta 2 t get a --meta --peek
matches old_get_meta_msg "$err" "to print an item's metadata: get ID --describe"
check get_meta_json_refused 2 t get a --meta '{"a":1}'
matches get_meta_json_refused_msg "$err" "get: --meta JSON is put's"
check moves_negative 2 t moves --last -3
tags=(); for i in $(seq 1 65); do tags+=(--tag "t$i"); done
check too_many_tags 2 t put keep x "${tags[@]}"
matches too_many_tags_msg "$err" "too many --tag options (tag 65: at most 64)"
check empty_tag 3 t put keep x --tag ""
matches empty_tag_msg "$err" "tag 0 is empty"
# Deferred archive compression: one item per policy run, then compact.
def="$tmp/defer.db"
for i in 1 2 3; do
    check "defer_put$i" 0 "$cli" tiers put "d$i" "deferred content $i $i $i" --importance 0.1 --tier long_term --now $T0 --db "$def"
done
check defer_policies 0 "$cli" tiers policies --archive-step 1 --now $((T0 + 40 * DAYMS)) --db "$def"
matches defer_policies_count "$out" "archive_old_low_importance: 3"
check defer_stats 0 "$cli" tiers stats --db "$def"
matches defer_stats_waiting "$out" "archive: 2 items not compressed yet"
check defer_get 0 "$cli" tiers get d3 --peek --db "$def"
matches defer_get_content "$out" "^deferred content 3 3 3$"
check defer_compact 0 "$cli" tiers compact --db "$def"
matches defer_compact_msg "$out" "compact: compressed 2 items, 0 left"
check defer_stats2 0 "$cli" tiers stats --db "$def"
grep -q "not compressed" "$out" && { echo "FAIL compact left items"; fails=$((fails+1)); } || pass=$((pass+1))
check defer_get2 0 "$cli" tiers get d3 --peek --db "$def"
matches defer_get2_content "$out" "^deferred content 3 3 3$"
check bad_step 2 "$cli" tiers stats --archive-step -1 --db "$def"
matches bad_step_msg "$err" "archive-step wants a whole number"
# Not a database: refused, and the file is left alone.
printf 'not a database at all' > "$tmp/junk.db"
check junk_db 5 "$cli" tiers put k v --db "$tmp/junk.db"
matches junk_db_msg "$err" "not a database"
[ "$(cat "$tmp/junk.db")" = "not a database at all" ] && pass=$((pass+1)) || { echo "FAIL junk db was modified"; fails=$((fails+1)); }
# --recent DURATION: a window of creation time ending at --now.
rdb="$tmp/recent.db"
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
cdb="$tmp/cleanup.db"
check cleanup_put_old 0 "$cli" tiers put old1 "old" --db "$cdb" --now $T0
check cleanup_put_new 0 "$cli" tiers put new1 "new" --db "$cdb" --now $((T0 + 20 * 86400000))
# AGE is a duration; a bare number is refused (days once, milliseconds in
# every duration flag) and deletes nothing.
check cleanup_bare 2 "$cli" tiers cleanup 30 --db "$cdb" --now $((T0 + 40 * 86400000))
matches cleanup_bare_msg "$err" "AGE '30' has no unit: write 30d for 30 days"
check cleanup_bare_kept 0 "$cli" tiers get old1 --peek --db "$cdb"
check cleanup_run 0 "$cli" tiers cleanup 30d --db "$cdb" --now $((T0 + 40 * 86400000))
matches cleanup_count "$out" "deleted 1 item older than 30 days"
check cleanup_gone 4 "$cli" tiers get old1 --db "$cdb"
check cleanup_kept 0 "$cli" tiers get new1 --peek --db "$cdb"
check cleanup_hours 0 "$cli" tiers cleanup 480h --json --db "$cdb" --now $((T0 + 40 * 86400000))
matches cleanup_hours_json "$out" '{"deleted":0,"age_ms":1728000000}'
check cleanup_hours_del 0 "$cli" tiers cleanup 479h --db "$cdb" --now $((T0 + 40 * 86400000))
matches cleanup_hours_count "$out" "deleted 1 item older than 479 hours"
check cleanup_bad 2 "$cli" tiers cleanup -3d --db "$cdb"
matches cleanup_bad_msg "$err" "not a duration"
check cleanup_unit 2 "$cli" tiers cleanup 3y --db "$cdb"
matches cleanup_unit_msg "$err" "unknown unit 'y'"
check cleanup_huge 3 "$cli" tiers cleanup 99999999d --db "$cdb"
matches cleanup_huge_msg "$err" "not in 0..1000000 days"

# One file shared with the long-term store (each module its own tables).
shared="$tmp/shared.db"
check share_tiers 0 "$cli" tiers put s1 "tier side" --db "$shared"
check share_store 0 "$cli" store put ns k '{"text":"store side"}' --db "$shared"
check share_tiers_get 0 "$cli" tiers get s1 --peek --db "$shared"
matches share_tiers_content "$out" "tier side"
check share_store_get 0 "$cli" store get ns k --db "$shared"
matches share_store_content "$out" "store side"
if command -v sqlite3 >/dev/null; then
    sqlite3 "$shared" "SELECT module || '=' || version FROM am_schema ORDER BY module" > "$out"
    matches share_schema_store "$out" "^store="
    matches share_schema_tiers "$out" "^tiers=3$"
fi
finish
