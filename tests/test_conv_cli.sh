#!/usr/bin/env bash
# test_conv_cli.sh -- `agentmem conv convert|show|stats` on shipped data:
# formats in both directions, pipes, files, and errors on stderr with a
# non-zero exit.
set -u
cli=${AM_CLI:?AM_CLI must name the agentmem binary}
src=${AM_SOURCE_DIR:?AM_SOURCE_DIR must name the source tree}
ex=$src/examples/msg
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0
pass=0
check() { # check NAME EXPECTED_STATUS CMD...
    local name=$1 want=$2; shift 2
    "$@" >"$tmp/out" 2>"$tmp/err"
    local got=$?
    if [ "$got" -ne "$want" ]; then
        echo "FAIL $name: exit $got, expected $want"; cat "$tmp/err"
        fails=$((fails + 1))
    else
        pass=$((pass + 1))
    fi
}
expect() { # expect NAME FILE PATTERN: grep -q PATTERN in FILE
    if grep -q -- "$3" "$2"; then pass=$((pass + 1)); else
        echo "FAIL $1: '$3' not in $2:"; head -c 600 "$2"; echo
        fails=$((fails + 1))
    fi
}

# convert: agentmem -> openai / anthropic, files and stdout.
check to_openai 0 "$cli" conv convert --from agentmem --to openai "$ex/conversation.json"
expect to_openai_tool "$tmp/out" '"tool_calls":\[{"id":"call_lyon","type":"function","function":{"name":"search"'
expect to_openai_result "$tmp/out" '{"role":"tool","name":"search","content":"Lyon'
check to_anthropic 0 "$cli" conv convert --to anthropic "$ex/conversation.json" --out "$tmp/a.json"
expect anthropic_system "$tmp/a.json" '^{"system":"You are a research assistant'
expect anthropic_tool_use "$tmp/a.json" '"type":"tool_use","id":"call_lyon","name":"search","input":{"query":"population of Lyon 2024"}'
expect anthropic_thinking "$tmp/a.json" '"signature":"EqQBCkYIARgCKkB0ZXN0LXNpZ25hdHVyZQ=="'
# Both tool results grouped in one user turn.
expect anthropic_grouped "$tmp/a.json" '"tool_use_id":"call_lyon".*"tool_use_id":"call_marseille"'

# Pipes: openai -> anthropic -> agentmem, reading stdin.
check pipe 0 bash -c "'$cli' conv convert --from openai --to anthropic < '$ex/openai.json' | '$cli' conv convert --from anthropic --to agentmem"
expect pipe_image "$tmp/out" '"type":"image","url":"https://example.com/cat.png"'
expect pipe_tool "$tmp/out" '"role":"tool"'
expect pipe_lines "$tmp/out" '^{"id":'

# Lossless agentmem round trip through a file.
check roundtrip_a 0 "$cli" conv convert --format agentmem "$ex/conversation.json" --out "$tmp/c1.json"
check roundtrip_b 0 "$cli" conv convert --format agentmem "$tmp/c1.json" --out "$tmp/c2.json"
if cmp -s "$tmp/c1.json" "$tmp/c2.json"; then pass=$((pass + 1)); else
    echo "FAIL roundtrip: files differ"; fails=$((fails + 1)); fi
expect roundtrip_agent "$tmp/c2.json" '"next_action":"invoke_agent","action_input":{"agent_name":"FactChecker"}'

# Anthropic thinking survives anthropic -> openai -> anthropic.
check thinking_a 0 "$cli" conv convert --from anthropic --to openai "$ex/anthropic.json" --out "$tmp/o.json"
check thinking_b 0 "$cli" conv convert --from openai --to anthropic "$tmp/o.json"
expect thinking_kept "$tmp/out" '"redacted_thinking","data":"EmwKAhgBEgy3va3pzix/LafPsn4aDFIT"'
check portable 0 "$cli" conv convert --from anthropic --to openai --portable "$ex/anthropic.json"
if grep -q reasoning_items "$tmp/out"; then echo "FAIL portable"; fails=$((fails+1)); else pass=$((pass+1)); fi
check pretty 0 "$cli" conv convert --to openai --pretty "$ex/openai.json" --from openai
expect pretty_indent "$tmp/out" '^  {'

# Pretty output reads back to the same conversation, in every format.
for f in agentmem openai anthropic; do
    "$cli" conv convert --to $f --pretty "$ex/conversation.json" > "$tmp/p.json" 2>"$tmp/err" &&
    "$cli" conv convert --from $f --to $f "$tmp/p.json" > "$tmp/q.json" 2>>"$tmp/err" &&
    "$cli" conv convert --to $f "$ex/conversation.json" > "$tmp/r.json" 2>>"$tmp/err"
    if cmp -s "$tmp/q.json" "$tmp/r.json"; then pass=$((pass + 1)); else
        echo "FAIL pretty_$f"; cat "$tmp/err"; fails=$((fails + 1)); fi
done

# show and stats.
check show 0 "$cli" conv show "$ex/conversation.json"
expect show_call "$tmp/out" 'call call_lyon: search'
expect show_count "$tmp/out" '^7 messages'
check show_openai 0 "$cli" conv show --format openai "$ex/openai.json"
expect show_image "$tmp/out" '<image> https://example.com/cat.png'
check stats 0 "$cli" conv stats "$ex/conversation.json"
expect stats_total "$tmp/out" '^messages    7'
expect stats_tool "$tmp/out" '^tool              2'
expect stats_calls "$tmp/out" '^tool calls  2'
check stats_anthropic 0 "$cli" conv stats --format anthropic "$ex/anthropic.json"
expect stats_a_total "$tmp/out" '^messages    5'

# Errors: stderr, non-zero, and they say what and where.
check missing_file 4 "$cli" conv show "$tmp/none.json"
expect missing_msg "$tmp/err" 'cannot open'
printf '[{"role":"user","content":"a"},\n{"role":"robot"}]' > "$tmp/bad.json"
check bad_role 3 "$cli" conv stats "$tmp/bad.json"
expect bad_role_msg "$tmp/err" "message 1: unknown role 'robot'"
expect bad_role_line "$tmp/err" 'line 2'
head -c 300 "$ex/conversation.json" > "$tmp/trunc.json"
check truncated 3 "$cli" conv convert --to openai "$tmp/trunc.json"
expect truncated_msg "$tmp/err" 'line 3'
printf '[{"role":"user","content":"q"},{"role":"tool","tool_call_id":"x","content":"r"}]' > "$tmp/orphan.json"
check orphan 3 "$cli" conv convert --to anthropic "$tmp/orphan.json"
expect orphan_msg "$tmp/err" 'message 1: tool result for call'
check bad_format 2 "$cli" conv convert --to gemini "$ex/conversation.json"
expect bad_format_msg "$tmp/err" "unknown format 'gemini'"
check bad_sub 2 "$cli" conv frobnicate
check no_sub 2 "$cli" conv
check bad_opt 2 "$cli" conv stats --colour "$ex/conversation.json"
check wrong_format 3 "$cli" conv stats --format anthropic "$ex/openai.json"
if [ -s "$tmp/out" ]; then echo "FAIL wrong_format wrote stdout"; fails=$((fails+1)); else pass=$((pass+1)); fi
# Invalid UTF-8 names the byte; a directory is not a file; a failed
# convert leaves an existing output file as it was.
printf '[{"role":"user","content":"ok \xff\xfe"}]' > "$tmp/badutf.json"
check bad_utf8 3 "$cli" conv convert --from openai --to anthropic "$tmp/badutf.json"
expect bad_utf8_msg "$tmp/err" 'invalid UTF-8.*byte 3[0-9]'
check dir_input 5 "$cli" conv show "$tmp"
expect dir_input_msg "$tmp/err" 'Is a directory'
printf '{"messages":5}' > "$tmp/wrongtype.json"
check wrong_type 3 "$cli" conv convert --from openai --to agentmem "$tmp/wrongtype.json"
printf 'keep me' > "$tmp/keep.json"
check failed_convert_keeps_output 3 "$cli" conv convert --to openai "$tmp/trunc.json" --out "$tmp/keep.json"
[ "$(cat "$tmp/keep.json")" = "keep me" ] && pass=$((pass+1)) || { echo "FAIL failed convert touched its output"; fails=$((fails+1)); }
check no_out_dir 5 "$cli" conv convert --to openai "$ex/openai.json" --from openai --out "$tmp/no/such/dir/x.json"
expect no_out_dir_msg "$tmp/err" 'No such file or directory'
check missing_format_value 2 "$cli" conv show --format

# One spelling for the output file: --out; the old ones name it.
check old_o 2 "$cli" conv convert --to openai "$ex/conversation.json" -o "$tmp/x.json"
grep -q "'-o' is now '--out FILE'" "$tmp/err" && pass=$((pass + 1)) || { echo "FAIL old_o: $(cat "$tmp/err")"; fails=$((fails + 1)); }
check old_output 2 "$cli" conv convert --to openai "$ex/conversation.json" --output="$tmp/x.json"
grep -q "is now '--out FILE'" "$tmp/err" && pass=$((pass + 1)) || { echo "FAIL old_output: $(cat "$tmp/err")"; fails=$((fails + 1)); }
[ ! -e "$tmp/x.json" ] && pass=$((pass + 1)) || { echo "FAIL old spelling wrote a file"; fails=$((fails + 1)); }

echo "$pass passed, $fails failed"
[ "$fails" -eq 0 ]
