#!/usr/bin/env bash
# test_conv_cli.sh -- `agentmem conv convert|show|stats` on shipped data:
# formats in both directions, pipes, files, and errors on stderr with a
# non-zero exit.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
src=${AM_SOURCE_DIR:?AM_SOURCE_DIR must name the source tree}
ex=$src/examples/msg

# convert: agentmem -> openai / anthropic, files and stdout.
check to_openai 0 "$cli" conv convert --from agentmem --to openai "$ex/conversation.json"
matches to_openai_tool "$out" '"tool_calls":\[{"id":"call_lyon","type":"function","function":{"name":"search"'
matches to_openai_result "$out" '{"role":"tool","name":"search","content":"Lyon'
check to_anthropic 0 "$cli" conv convert --to anthropic "$ex/conversation.json" --out "$tmp/a.json"
matches anthropic_system "$tmp/a.json" '^{"system":"You are a research assistant'
matches anthropic_tool_use "$tmp/a.json" '"type":"tool_use","id":"call_lyon","name":"search","input":{"query":"population of Lyon 2024"}'
matches anthropic_thinking "$tmp/a.json" '"signature":"EqQBCkYIARgCKkB0ZXN0LXNpZ25hdHVyZQ=="'
# Both tool results grouped in one user turn.
matches anthropic_grouped "$tmp/a.json" '"tool_use_id":"call_lyon".*"tool_use_id":"call_marseille"'

# Pipes: openai -> anthropic -> agentmem, reading stdin.
check pipe 0 bash -c "'$cli' conv convert --from openai --to anthropic < '$ex/openai.json' | '$cli' conv convert --from anthropic --to agentmem"
matches pipe_image "$out" '"type":"image","url":"https://example.com/cat.png"'
matches pipe_tool "$out" '"role":"tool"'
matches pipe_lines "$out" '^{"id":'

# Lossless agentmem round trip through a file.
check roundtrip_a 0 "$cli" conv convert --format agentmem "$ex/conversation.json" --out "$tmp/c1.json"
check roundtrip_b 0 "$cli" conv convert --format agentmem "$tmp/c1.json" --out "$tmp/c2.json"
if cmp -s "$tmp/c1.json" "$tmp/c2.json"; then pass=$((pass + 1)); else
    echo "FAIL roundtrip: files differ"; fails=$((fails + 1)); fi
matches roundtrip_agent "$tmp/c2.json" '"next_action":"invoke_agent","action_input":{"agent_name":"FactChecker"}'

# Anthropic thinking survives anthropic -> openai -> anthropic.
check thinking_a 0 "$cli" conv convert --from anthropic --to openai "$ex/anthropic.json" --out "$tmp/o.json"
check thinking_b 0 "$cli" conv convert --from openai --to anthropic "$tmp/o.json"
matches thinking_kept "$out" '"redacted_thinking","data":"EmwKAhgBEgy3va3pzix/LafPsn4aDFIT"'
check portable 0 "$cli" conv convert --from anthropic --to openai --portable "$ex/anthropic.json"
if grep -q reasoning_items "$out"; then echo "FAIL portable"; fails=$((fails+1)); else pass=$((pass+1)); fi
check pretty 0 "$cli" conv convert --to openai --pretty "$ex/openai.json" --from openai
matches pretty_indent "$out" '^  {'

# Pretty output reads back to the same conversation, in every format.
for f in agentmem openai anthropic; do
    "$cli" conv convert --to $f --pretty "$ex/conversation.json" > "$tmp/p.json" 2>"$err" &&
    "$cli" conv convert --from $f --to $f "$tmp/p.json" > "$tmp/q.json" 2>>"$err" &&
    "$cli" conv convert --to $f "$ex/conversation.json" > "$tmp/r.json" 2>>"$err"
    if cmp -s "$tmp/q.json" "$tmp/r.json"; then pass=$((pass + 1)); else
        echo "FAIL pretty_$f"; cat "$err"; fails=$((fails + 1)); fi
done

# show and stats.
check show 0 "$cli" conv show "$ex/conversation.json"
matches show_call "$out" 'call call_lyon: search'
matches show_count "$out" '^7 messages'
check show_openai 0 "$cli" conv show --format openai "$ex/openai.json"
matches show_image "$out" '<image> https://example.com/cat.png'
check stats 0 "$cli" conv stats "$ex/conversation.json"
matches stats_total "$out" '^messages    7'
matches stats_tool "$out" '^tool              2'
matches stats_calls "$out" '^tool calls  2'
check stats_anthropic 0 "$cli" conv stats --format anthropic "$ex/anthropic.json"
matches stats_a_total "$out" '^messages    5'

# Errors: stderr, non-zero, and they say what and where.
check missing_file 4 "$cli" conv show "$tmp/none.json"
matches missing_msg "$err" 'cannot open'
printf '[{"role":"user","content":"a"},\n{"role":"robot"}]' > "$tmp/bad.json"
check bad_role 3 "$cli" conv stats "$tmp/bad.json"
matches bad_role_msg "$err" "message 1: unknown role 'robot'"
matches bad_role_line "$err" 'line 2'
head -c 300 "$ex/conversation.json" > "$tmp/trunc.json"
check truncated 3 "$cli" conv convert --to openai "$tmp/trunc.json"
matches truncated_msg "$err" 'line 3'
printf '[{"role":"user","content":"q"},{"role":"tool","tool_call_id":"x","content":"r"}]' > "$tmp/orphan.json"
check orphan 3 "$cli" conv convert --to anthropic "$tmp/orphan.json"
matches orphan_msg "$err" 'message 1: tool result for call'
check bad_format 2 "$cli" conv convert --to gemini "$ex/conversation.json"
matches bad_format_msg "$err" "unknown format 'gemini'"
check bad_sub 2 "$cli" conv frobnicate
check no_sub 2 "$cli" conv
check bad_opt 2 "$cli" conv stats --colour "$ex/conversation.json"
check wrong_format 3 "$cli" conv stats --format anthropic "$ex/openai.json"
if [ -s "$out" ]; then echo "FAIL wrong_format wrote stdout"; fails=$((fails+1)); else pass=$((pass+1)); fi
# Invalid UTF-8 names the byte; a directory is not a file; a failed
# convert leaves an existing output file as it was.
printf '[{"role":"user","content":"ok \xff\xfe"}]' > "$tmp/badutf.json"
check bad_utf8 3 "$cli" conv convert --from openai --to anthropic "$tmp/badutf.json"
matches bad_utf8_msg "$err" 'invalid UTF-8.*byte 3[0-9]'
check dir_input 5 "$cli" conv show "$tmp"
matches dir_input_msg "$err" 'Is a directory'
printf '{"messages":5}' > "$tmp/wrongtype.json"
check wrong_type 3 "$cli" conv convert --from openai --to agentmem "$tmp/wrongtype.json"
printf 'keep me' > "$tmp/keep.json"
check failed_convert_keeps_output 3 "$cli" conv convert --to openai "$tmp/trunc.json" --out "$tmp/keep.json"
[ "$(cat "$tmp/keep.json")" = "keep me" ] && pass=$((pass+1)) || { echo "FAIL failed convert touched its output"; fails=$((fails+1)); }
check no_out_dir 5 "$cli" conv convert --to openai "$ex/openai.json" --from openai --out "$tmp/no/such/dir/x.json"
matches no_out_dir_msg "$err" 'No such file or directory'
check missing_format_value 2 "$cli" conv show --format

# One spelling for the output file: --out; the old ones name it.
check old_o 2 "$cli" conv convert --to openai "$ex/conversation.json" -o "$tmp/x.json"
grep -q "'-o' is now '--out FILE'" "$err" && pass=$((pass + 1)) || { echo "FAIL old_o: $(cat "$err")"; fails=$((fails + 1)); }
check old_output 2 "$cli" conv convert --to openai "$ex/conversation.json" --output="$tmp/x.json"
grep -q "is now '--out FILE'" "$err" && pass=$((pass + 1)) || { echo "FAIL old_output: $(cat "$err")"; fails=$((fails + 1)); }
[ ! -e "$tmp/x.json" ] && pass=$((pass + 1)) || { echo "FAIL old spelling wrote a file"; fails=$((fails + 1)); }

finish
