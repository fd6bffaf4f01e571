#!/usr/bin/env bash
# test_json_cli.sh -- `--json` on every command that prints a result: one
# JSON value on one line of stdout, in the shape docs/cli-json.md gives,
# and the plain output unchanged without it. Bad combinations are refused
# with a message naming the problem.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
src=${AM_SOURCE_DIR:?AM_SOURCE_DIR must name the source tree}
command -v jq >/dev/null 2>&1 || { echo "jq missing (scripts/setup installs it)"; exit 77; }
conv="$src/examples/msg/conversation.json"
# shape NAME JQ_EXPR: stdout is one line of JSON and JQ_EXPR holds on it.
shape() {
    local lines
    lines=$(wc -l <"$out")
    if [ "$lines" -ne 1 ]; then
        echo "FAIL $1: $lines lines on stdout, expected 1:"; head -c 400 "$out"
        fails=$((fails + 1))
    elif ! jq -e "$2" "$out" >/dev/null 2>&1; then
        echo "FAIL $1: '$2' does not hold for:"; head -c 600 "$out"; echo
        fails=$((fails + 1))
    else
        pass=$((pass + 1))
    fi
}

# ---- conv ----
check conv_stats 0 "$cli" conv stats --json "$conv"
shape conv_stats '.messages == 7 and .format == "agentmem" and .tool_calls == 2
    and .roles.user.count == 2 and (.roles.tool.avg_chars | type) == "number"
    and (keys_unsorted | .[0:6]) == ["messages","input_bytes","format",
    "memory_bytes","text_bytes","tool_calls"]'
check conv_stats_text 0 "$cli" conv stats "$conv"
has conv_stats_text "$out" "messages    7"
check conv_show 0 "$cli" conv show --json "$conv"
shape conv_show 'type == "array" and length == 7 and .[1].role == "user"'
check conv_convert_json 2 "$cli" conv convert --json "$conv"
has conv_convert_json "$err" "unknown option '--json'"

# ---- tokens, cost ----
printf 'hello world' >"$tmp/hw.txt"
check tok_count 0 "$cli" tokens count --encoding cl100k_base --json "$tmp/hw.txt"
shape tok_count '.encoding == "cl100k_base" and .exact == true and .model == null
    and .total == 2 and .inputs == [{"file":"'"$tmp"'/hw.txt","tokens":2}]'
check tok_count_stdin 0 sh -c "printf 'hello world' | '$cli' tokens count --json --encoding cl100k_base - '$tmp/hw.txt'"
shape tok_count_stdin '.total == 4 and .inputs[0].file == "-" and (.inputs | length) == 2'
check tok_encode 0 "$cli" tokens encode --encoding cl100k_base --json "$tmp/hw.txt"
shape tok_encode '.inputs[0].ids == [15339,1917] and .inputs[0].tokens == 2'
check tok_decode 0 sh -c "echo '[15339,1917]' | '$cli' tokens decode --encoding cl100k_base --json"
shape tok_decode '.inputs[0].text == "hello world" and .total == 2'
check tok_estimate 0 "$cli" tokens count --model claude-3-5-sonnet --json "$tmp/hw.txt"
shape tok_estimate '.model == "claude-3-5-sonnet" and .encoding == null and .exact == false
    and .total > 0'
check tok_messages 0 "$cli" tokens count --messages --json "$src/examples/msg/openai.json"
shape tok_messages '.total > 10 and .inputs[0].tokens == .total'
# Token 127 is the lone byte 0xC3, half a character, not UTF-8: JSON cannot carry it.
check tok_decode_bytes 3 sh -c "echo '[127]' | '$cli' tokens decode --encoding cl100k_base --json"
has tok_decode_bytes "$err" "not UTF-8"
check tok_json_jsonl 2 "$cli" tokens count --json --jsonl "$tmp/hw.txt"
has tok_json_jsonl "$err" "give --json or --jsonl, not both"
check tok_plain 0 "$cli" tokens count --encoding cl100k_base "$tmp/hw.txt"
[ "$(cat "$out")" = 2 ] && pass=$((pass + 1)) || { echo "FAIL tok_plain: $(cat "$out")"; fails=$((fails + 1)); }

check cost 0 "$cli" cost --model gpt-4o-mini --input-tokens 12000 --cached-tokens 2000 --output-tokens 800 --json
shape cost '.model == "gpt-4o-mini" and .estimated == false and .input_tokens == 12000
    and .cached_tokens == 2000 and .output_tokens == 800 and .input_per_mtok == 0.15
    and (.cost_usd - 0.00213 | fabs) < 1e-9'
check cost_unknown 0 "$cli" cost --model no-such-model --input-tokens 1000 --json
shape cost_unknown '.catalog_entry == null and .estimated == true and .cost_usd > 0'

# ---- trim, compress, replay ----
check trim 0 "$cli" trim "$conv" --max-messages 3 --json
shape trim '.kept == 3 and .total == 7 and .dropped == 4 and .partial == false
    and .tokens_after < .tokens_before and .format == "agentmem"
    and (.conversation | length) == 3 and (.counting | startswith("exact"))'
[ -s "$err" ] && { echo "FAIL trim --json also reported on stderr: $(cat "$err")"; fails=$((fails + 1)); } || pass=$((pass + 1))
check trim_out 0 "$cli" trim "$conv" --max-messages 3 --json --out "$tmp/t.json" --out-format openai
shape trim_out '.out == "'"$tmp"'/t.json" and has("conversation") == false and .format == "openai"'
jq -e 'type == "array"' "$tmp/t.json" >/dev/null && pass=$((pass + 1)) || { echo "FAIL trim_out file"; fails=$((fails + 1)); }
check compress 0 "$cli" compress "$conv" --json
shape compress '.stats.messages == 7 and .stats.model == "gpt-4o-mini"
    and (.conversation | length) == 7'
ses="$src/examples/context/agent_session.json"
check replay 0 "$cli" replay "$ses" --threshold 2000 --json
shape replay '.input_messages > 100 and (.compressions | length) > 0
    and .compressions[0].tokens_after < .compressions[0].tokens_before
    and .tokens == .stats.current_tokens and has("conversation") == false'
check replay_text 0 "$cli" replay "$ses" --threshold 2000
has replay_text "$out" "Context now:"

# ---- recall ----
db="$tmp/r.db"
check recall_index 0 "$cli" recall index u1 s1 "$src/examples/store/conversation.json" --db "$db" --json
shape recall_index '.chunks == 1'
check recall_index_files 0 "$cli" recall index-files u9 "$src/examples/store/conversation.json" --db "$db" --json
shape recall_index_files '. == {"files":1,"chunks":1}'
check recall_search 0 "$cli" recall search u1 'login bug' --db "$db" --json
shape recall_search 'type == "array" and .[0].session_id == "s1" and .[0].first == 0
    and (.[0].text | contains("login"))'
check recall_search_text 0 "$cli" recall search u1 'login bug' --db "$db"
has recall_search_text "$out" "session s1, messages 0-7"
has recall_search_text2 "$out" "    user: Our login endpoint"

# ---- tiers ----
t() { "$cli" tiers "$@" --db "$tmp/t.db" --now 1700000000000; }
check tiers_put 0 t put a "alpha" --tag x --json
shape tiers_put '. == {"ok":true,"id":"a"}'
check tiers_put_b 0 t put b "beta" --tag x
check tiers_get 0 t get a --json
shape tiers_get '. == {"id":"a","content":"alpha"}'
check tiers_get_meta 0 t get a --json --describe --peek
shape tiers_get_meta '.id == "a" and .meta.tier == "working" and .meta.tags == ["x"]'
check tiers_search 0 t search --tag x --json
shape tiers_search '.ids == ["a","b"]'
check tiers_stats 0 t stats --json
shape tiers_stats '(.tiers | map(.tier)) == ["working","short_term","long_term","archive"]
    and .tiers[0].count == 2 and .tiers[3].capacity == null and .archive_uncompressed == 0'
check tiers_archive 0 t archive b --json
shape tiers_archive '. == {"done":"archive","items":1}'
check tiers_moves 0 t moves --json
shape tiers_moves '.total == 1 and .moves[0].id == "b" and .moves[0].to == "archive"'
check tiers_maintain 0 t maintain --json
shape tiers_maintain '.demoted == 0 and (.policies | type) == "object"'
check tiers_compact 0 t compact --json
shape tiers_compact 'has("compressed") and .left == 0'
check tiers_cleanup 0 t cleanup 1000d --json
shape tiers_cleanup '. == {"deleted":0,"age_ms":86400000000}'
check tiers_stats_text 0 t stats
has tiers_stats_text "$out" "working"

finish
