#!/usr/bin/env bash
# test_store_cli.sh -- `agentmem store` and `agentmem recall` on a temp db.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
db="$tmp/t.db"
S="$cli store --db $db --embedder hash"
check put 0 $S put user_1/prefs language '{"value":"Python"}'
check put2 0 $S put user_1/prefs editor '"vim is the editor"' --meta '{"kind":"tool"}'
check put3 0 $S put user_2/prefs language '"Rust"'
check get 0 $S get user_1/prefs language
has get_value "$out" '{"value":"Python"}'
check get_json 0 $S get user_1/prefs language --json
has get_json "$out" '"namespace":["user_1","prefs"]'
check get_missing 4 $S get user_1/prefs nope
has missing_msg "$err" "no item"
check put_bad_json 3 $S put user_1/prefs bad '{oops'
has bad_json_msg "$err" "value"
check put_ttl_bad 2 $S put user_1/prefs x 1 --ttl abc
check ls 0 $S ls user_1
has ls_editor "$out" "editor"
hasnt ls_scoped "$out" "Rust"
check ns 0 $S namespaces --depth 1 --json
has ns_json "$out" '[{"namespace":["user_1"]},{"namespace":["user_2"]}]'
check search 0 $S search 'editor?' --ns user_1 --json
has search_hit "$out" '"key":"editor"'
has search_score "$out" '"score"'
check search_nasty 0 $S search '"AND( NEAR *' --mode text
check search_filter 0 $S search vim --filter '{"kind":"tool"}' --json
has filter_hit "$out" '"editor"'
check search_badmode 2 $S search x --mode nope
check search_minscore_none 0 $S search 'zeppelin airship' --ns user_1 --min-score 0.25 --json
has search_minscore_empty "$out" "[]"
check search_minscore_hit 0 $S search 'editor?' --ns user_1 --min-score 0.01 --json
has search_minscore_keeps "$out" '"key":"editor"'
check search_minscore_bad 2 $S search x --min-score 2
has search_minscore_msg "$err" "0 to 1"
# Entity boost: the speaker the query names comes first at full weight.
check put_mel 0 $S put talk a '"x"' --text 'I painted the sunset' --meta '{"speaker":"Melanie"}'
check put_car 0 $S put talk b '"x"' --text 'Melanie painted the sunset with a friend' --meta '{"speaker":"Caroline"}'
check search_boost 0 $S search 'what sunset did Caroline paint' --ns talk --boost-field speaker --boost 1 --json
python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); sys.exit(0 if r[0]["key"]=="b" and abs(r[0]["score"]-1)<1e-9 else 1)' "$out" \
    && pass=$((pass + 1)) || { echo "FAIL search_boost_first"; cat "$out"; fails=$((fails + 1)); }
check search_boost_bad 2 $S search x --boost-field speaker --boost 3
has search_boost_msg "$err" "--boost needs a number"
check search_boost_nofield 3 $S search x --boost 0.5
has search_boost_nofield_msg "$err" "boost 0.5 needs boost_field"
# Names bonus: the turn naming a place the query does not comes first.
check put_t0 0 $S put trips a '"x"' --text 'travel last summer was fun' --meta '{"names":[]}'
check put_t1 0 $S put trips b '"x"' --text 'travel last summer to Sweden' --meta '{"names":["Sweden"]}'
check search_names 0 $S search 'travel last summer fun' --ns trips --mode text --names-field names --names 1 --json
python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); sys.exit(0 if r[0]["key"]=="b" and abs(r[0]["score"]-1)<1e-9 else 1)' "$out" \
    && pass=$((pass + 1)) || { echo "FAIL search_names_first"; cat "$out"; fails=$((fails + 1)); }
check search_names_bad 2 $S search x --names-field names --names 0
has search_names_msg "$err" "--names needs a number"
check search_names_nofield 3 $S search x --names 0.5
has search_names_nofield_msg "$err" "names_bonus 0.5 needs names_field"
check del 0 $S del user_1/prefs editor
check del_again 4 $S del user_1/prefs editor
check undo 0 $S undo user_1/prefs editor
check get_undone 0 $S get user_1/prefs editor
check history 0 $S history user_1/prefs editor --json
has history_events "$out" '"event":"delete"'
check purge 0 $S purge
check integrity 0 $S check
check unknown_sub 2 $S frob
cat >"$tmp/conv.json" <<'J'
[{"role":"user","content":"my flight to Lisbon leaves on Friday"},
 {"role":"assistant","content":"noted, Lisbon on Friday"},
 {"role":"user","content":"also I need a vegetarian restaurant there"}]
J
R="$cli recall --db $db --embedder hash"
check recall_index 0 $R index alice s1 "$tmp/conv.json" --chunk-size 2 --overlap 1
has recall_chunks "$out" "indexed 2 chunks"
check recall_search 0 $R search alice "Lisbon flight" --json
has recall_hit "$out" '"session_id":"s1"'
check recall_search_text 0 $R search alice "Lisbon flight"
has recall_hit_text "$out" "session s1, messages"
# The names bonus: index writes each chunk's names into --names-field,
# search raises chunks naming what the query does not.
cat >"$tmp/trip.json" <<'EOF2'
[{"role":"user","content":"We should plan the summer trip."},
 {"role":"assistant","content":"Where would you like to go?"},
 {"role":"user","content":"Last year we went to Sweden and loved it."},
 {"role":"assistant","content":"Then Norway could suit you."}]
EOF2
check recall_index_names 0 $R index dora t "$tmp/trip.json" --chunk-size 2 --overlap 0 --names-field names
check recall_search_names 0 $R search dora "plan the summer trip last year" --names-field names --names 1 --json
python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); sys.exit(0 if r[0]["first"]==2 and abs(r[0]["score"]-1)<1e-9 and r[0]["metadata"]=={"names":["Sweden","Norway"]} else 1)' "$out" \
    && pass=$((pass + 1)) || { echo "FAIL recall_search_names_first"; cat "$out"; fails=$((fails + 1)); }
# The library's one check (am_recall_search, am_recall_tool_def).
check recall_search_names_nofield 3 $R search dora x --names 0.5
has recall_search_names_nofield_msg "$err" "names_bonus 0.5 needs names_field"
check recall_tool_def_names_nofield 3 $R tool-def --names 0.5
has recall_tool_def_names_nofield_msg "$err" "names_bonus 0.5 needs names_field"
check recall_other_user 0 $R search bob "Lisbon flight" --json
has recall_empty "$out" "[]"
check recall_other_user_text 0 $R search bob "Lisbon flight"
has recall_empty_text "$out" "no matching conversations"
# recall index --format: an Anthropic request body (an object) is read
# through the converters; without --format the error says to give one.
anth="$AM_SOURCE_DIR/examples/msg/anthropic.json"
check recall_anthropic_raw 3 $R index carol s9 "$anth"
has recall_anthropic_hint "$err" "give --format openai, anthropic or agentmem"
check recall_anthropic 0 $R index carol s9 "$anth" --format anthropic --json
has recall_anthropic_chunks "$out" '{"chunks":1}'
check recall_anthropic_hit 0 $R search carol "17 * 23" --json
has recall_anthropic_text "$out" '17 × 23 = 391'
check recall_agentmem 0 $R index carol s10 "$AM_SOURCE_DIR/examples/msg/conversation.json" --format agentmem
check recall_bad_format 2 $R index carol s11 "$anth" --format klingon
has recall_bad_format_msg "$err" "index: --format: unknown format 'klingon'"
check recall_tool_format 2 $R tool-def --format agentmem
has recall_tool_format_msg "$err" "tool-def: --format must be openai or anthropic"
check recall_unknown_sub 2 $R fly
has recall_unknown_sub_msg "$err" "unknown subcommand 'fly' (index, index-files, search, tool-def, tool-call)"
echo '[{"role":1}]' >"$tmp/bad.json"
check recall_bad 3 $R index alice s2 "$tmp/bad.json"
has recall_bad_msg "$err" "message 0"
check recall_index_extra 2 $R index alice s2 "$tmp/conv.json" "$tmp/bad.json"
has recall_index_extra_msg "$err" "index takes one FILE, not '$tmp/bad.json' too (for many: index-files USER FILE...)"
check recall_store_extra 2 $S get a b c d e
has recall_store_extra_msg "$err" "get: too many arguments ('e' and after)"
# index-files: each file its own session, named after the file.
mkdir -p "$tmp/many/x" "$tmp/many/y"
for t in monday:Oslo tuesday:Rome friday.notes:Kyoto; do
    printf '[{"role":"user","content":"the trip to %s is booked"},{"role":"assistant","content":"enjoy %s"}]\n' \
        "${t#*:}" "${t#*:}" >"$tmp/many/${t%%:*}.json"
done
check recall_files 0 $R index-files erin "$tmp/many/monday.json" "$tmp/many/tuesday.json" "$tmp/many/friday.notes.json"
has recall_files_out "$out" "indexed 3 files, 3 chunks"
check recall_files_hit 0 $R search erin "Rome trip" --json
has recall_files_session "$out" '"session_id":"tuesday"'
check recall_files_hit2 0 $R search erin "Kyoto" --json
has recall_files_session2 "$out" '"session_id":"friday.notes"'
# Again: each session's index is replaced, not doubled.
check recall_files_again 0 $R index-files erin "$tmp/many/monday.json" --json
has recall_files_again_json "$out" '{"files":1,"chunks":1}'
check recall_files_once 0 $R search erin "Oslo" --json --limit 10
[ "$(grep -o '"session_id":"monday"' "$out" | wc -l)" -eq 1 ] && pass=$((pass + 1)) ||
    { echo "FAIL index-files doubled a session: $(cat "$out")"; fails=$((fails + 1)); }
# Two files that would be one session: refused before anything is indexed.
cp "$tmp/many/monday.json" "$tmp/many/x/same.json"
cp "$tmp/many/tuesday.json" "$tmp/many/y/same.json"
check recall_files_dup 2 $R index-files frank "$tmp/many/monday.json" "$tmp/many/x/same.json" "$tmp/many/y/same.json"
has recall_files_dup_msg "$err" "would both be session 'same'"
check recall_files_dup_none 0 $R search frank "Oslo trip" --json
has recall_files_dup_empty "$out" "[]"
check recall_files_stdin 2 $R index-files frank -
has recall_files_stdin_msg "$err" "'-' (stdin) has no name to be a session"
check recall_files_noname 2 $R index-files frank "$tmp/many/"
has recall_files_noname_msg "$err" "gives no session name"
# A bad file stops the run, names itself and how many went in before it.
check recall_files_bad 3 $R index-files gina "$tmp/many/monday.json" "$tmp/bad.json" "$tmp/many/tuesday.json"
has recall_files_bad_file "$err" "$tmp/bad.json"
has recall_files_bad_msg "$err" "stopped at '$tmp/bad.json'; the 1 file before it is indexed"
check recall_files_missing 4 $R index-files gina "$tmp/many/nope.json"
has recall_files_missing_msg "$err" "nope.json"
check recall_files_few 2 $R index-files gina
check memtool_create 0 $S memtool alice '{"command":"create","path":"/memories/a.md","file_text":"one\ntwo"}'
has memtool_created "$out" "File created successfully at: /memories/a.md"
check memtool_escape 0 $S memtool alice '{"command":"view","path":"/memories/../../etc/passwd"}' --json
has memtool_confined "$out" '"is_error":true'
hasnt memtool_nohost "$out" "$tmp"
check memtool_view 0 $S memtool alice '{"command":"view","path":"/memories/a.md"}'
has memtool_lines "$out" "     2	two"
check tooldef 0 $R tool-def --format anthropic
has tooldef_schema "$out" '"input_schema"'
check tooldef_bad 2 $R tool-def --format xml
check tooldef_named 0 $R tool-def --name recall_past --description "Past talks." --limit 3
has tooldef_name "$out" '"name":"recall_past"'
has tooldef_limit "$out" '(default 3)'
check tooldef_badname 3 $R tool-def --name "a b"
check toolcall 0 $R tool-call alice '{"id":"c1","function":{"arguments":"{\"query\":\"Lisbon\"}"}}'
has toolcall_result "$out" '"tool_call_id":"c1"'
has toolcall_hit "$out" 'session s1'
check export 0 $S export user_1
has export_line "$out" '"namespace":["user_1","prefs"],"key":"editor"'
cp "$out" "$tmp/export.jsonl"
S2="$cli store --db $tmp/t2.db --embedder hash"
check import 0 $S2 import "$tmp/export.jsonl"
has import_count "$out" "imported 2"
check import_get 0 $S2 get user_1/prefs language
has import_value "$out" '{"value":"Python"}'
printf '{"namespace":["z"],"key":"k","value":1}\n{bad\n' >"$tmp/bad.jsonl"
check import_bad 3 $S2 import "$tmp/bad.jsonl"
has import_bad_line "$err" "line 2"
check import_bad_nothing 4 $S2 get z k
# Import: a field of the wrong type is an error naming line and field,
# and a bad line anywhere imports nothing (all lines are checked first).
S3="$cli store --db $tmp/t3.db --embedder hash"
imp_bad() { # imp_bad NAME LINE_JSON EXPECTED_TEXT
    { for i in $(seq 1 1200); do
          printf '{"namespace":["many"],"key":"k%d","value":%d}\n' "$i" "$i"
      done; printf '%s\n' "$2"; } >"$tmp/imp.jsonl"
    check "import_$1" 3 $S3 import "$tmp/imp.jsonl"
    has "import_$1_line" "$err" "line 1201"
    has "import_$1_msg" "$err" "$3"
    check "import_$1_nothing" 4 $S3 get many k1
}
imp_bad ttl_str '{"namespace":["a"],"key":"k","value":1,"ttl_ms":"100"}' '"ttl_ms" must be a non-negative integer'
imp_bad meta_str '{"namespace":["a"],"key":"k","value":1,"meta":"str"}' '"meta" must be an object, not a string'
imp_bad ns_num '{"namespace":["a",7],"key":"k","value":1}' '"namespace" part 2 must be a string, not an integer'
imp_bad exp_real '{"namespace":["a"],"key":"k","value":1,"expires_ms":1.5}' '"expires_ms" must be an integer'
imp_bad syntax '{"namespace":["a"],' 'nothing was imported'
printf '{"namespace":["a"],"key":"far","value":1,"expires_ms":-9223372036854775808}\n{"namespace":["a"],"key":"late","value":2,"expires_ms":9223372036854775807}\n' >"$tmp/imp.jsonl"
check import_extreme_expiry 0 $S3 import "$tmp/imp.jsonl"
check import_far_past_gone 4 $S3 get a far
check import_far_future_kept 0 $S3 get a late
# Numbers: too large is refused, never wrapped; a huge TTL saturates
# (the item does not expire at once, the old value stays until then).
check ttl_erange 2 $S put ov k '"old"' --ttl 99999999999999999999
has ttl_erange_msg "$err" "too large"
check ttl_max 0 $S put ov k '"kept"' --ttl 9223372036854775807
check ttl_max_get 0 $S get ov k
has ttl_max_value "$out" '"kept"'
check limit_erange 2 $S search kept --limit 18446744073709551615
check limit_max 0 $S search kept --limit 9223372036854775807
# A result that cannot reach stdout is a failure, not an empty backup.
if [ -w /dev/full ]; then
    check export_full 5 sh -c "$S export > /dev/full"
    has export_full_msg "$err" "standard output"
    check get_full 5 sh -c "$S get ov k > /dev/full"
fi
# Clear errors: the tool's own reply for a NUL, one prefix per message,
# numbers that say what is wrong, estimates that say so.
check memtool_nul 0 $S memtool alice '{"command":"create","path":"/memories/n.md","file_text":"a\u0000b"}' --json
has memtool_nul_reply "$out" 'Parameter `file_text` contains a NUL character'
has memtool_nul_is_error "$out" '"is_error":true'
check memtool_nul_new 0 $S memtool alice '{"command":"str_replace","path":"/memories/a.md","old_str":"one","new_str":"x\u0000"}'
has memtool_nul_new_reply "$out" 'Parameter `new_str` contains a NUL character'
check vec_empty 3 $S search "" --mode vector
has vec_empty_msg "$err" "the query is empty"
hasnt vec_empty_once "$err" "search: search:"
check vec_noemb 3 "$cli" store --db "$db" --embedder none search "x" --mode vector
has vec_noemb_msg "$err" "an embedder"
check trim_neg 2 "$cli" trim "$tmp/none.json" --max-tokens -1
has trim_neg_msg "$err" "--max-tokens must be a positive number, not '-1'"
check cost_big 2 "$cli" cost --model gpt-4o --input-tokens 99999999999999999999
has cost_big_msg "$err" "too large"
check cost_neg 2 "$cli" cost --model gpt-4o --input-tokens -5
has cost_neg_msg "$err" "--input-tokens must not be negative"
printf 'hello world' > "$tmp/hello.txt"
check tokens_nope 0 "$cli" tokens count --model nope "$tmp/hello.txt"
has tokens_nope_msg "$err" "estimating: unknown model 'nope'"
check tokens_exact 0 "$cli" tokens count --model gpt-4o "$tmp/hello.txt"
hasnt tokens_exact_quiet "$err" "estimating"
check toolcall_obj 0 $R tool-call alice '{"id":"c2","function":{"arguments":{"query":"Lisbon"}}}'
has toolcall_obj_id "$out" '"tool_call_id":"c2"'
hasnt toolcall_obj_ok "$out" 'Error:'
check toolcall_num 0 $R tool-call alice '{"id":"c3","function":{"arguments":7}}'
has toolcall_num_msg "$out" 'must be a JSON string (or an object)'
# reembed: every item again from --embedder; none to embed with: refused.
check reembed 0 $S reembed
has reembed_count "$out" "re-embedded "
check reembed_none 3 "$cli" store --db "$db" --embedder none reembed
has reembed_none_msg "$err" "no embedder"
finish
