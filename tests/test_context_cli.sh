#!/usr/bin/env bash
# test_context_cli.sh -- `agentmem trim`, `compress` and `replay` on the
# shipped agent session and on bad input.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
src=${AM_SOURCE_DIR:?}
session=$src/examples/context/agent_session.json
fail() { echo "FAIL $*"; fails=$((fails + 1)); }
run() { # run WANT_STATUS CMD... ; output in $tmp/out, $tmp/err
    local want=$1; shift
    "$@" >"$tmp/out" 2>"$tmp/err"
    local got=$?
    [ "$got" -eq "$want" ] || { fail "exit $got, want $want: $*"; cat "$tmp/err"; }
}

# trim: the output is a valid conversation that reads back, within budget.
run 0 "$cli" trim "$session" --strategy tokens --max-tokens 4000 --out "$tmp/t.json"
grep -q "kept .* of 546 messages" "$tmp/err" || fail "trim report: $(cat "$tmp/err")"
run 0 "$cli" trim "$tmp/t.json" --max-tokens 1000000
grep -q "kept \([0-9]*\) of \1 messages" "$tmp/err" || fail "trim output did not read back whole"
after=$(sed -n 's/.*-> \([0-9]*\) tokens.*/\1/p' "$tmp/err")
[ "${after:-99999}" -le 4000 ] || fail "trim over budget: $after"
# One count: what trim reports is what `tokens count --messages` bills for
# the same messages (tool calls and names included).
run 0 "$cli" trim "$session" --max-tokens 8000 --model gpt-4o --out-format openai --out "$tmp/b.json"
trimmed=$(sed -n 's/.*-> \([0-9]*\) tokens.*/\1/p' "$tmp/err")
run 0 "$cli" tokens count --messages --model gpt-4o "$tmp/b.json"
[ "$(cat "$tmp/out")" = "$trimmed" ] || fail "trim says $trimmed tokens, tokens count says $(cat "$tmp/out")"
[ "${trimmed:-99999}" -le 8000 ] || fail "trim over budget: $trimmed"
# A provider's request object read as agentmem JSON: the message names
# the flag that fixes it.
printf '{"model":"m","messages":[{"role":"user","content":"hi"}]}' > "$tmp/req.json"
run 3 "$cli" trim "$tmp/req.json"
grep -q "use --format openai or --format anthropic" "$tmp/err" || fail "no --format hint: $(cat "$tmp/err")"
run 0 "$cli" trim "$tmp/req.json" --format openai
# Never starts on a tool result (after the system prompt), in OpenAI form.
run 0 "$cli" trim "$session" --max-messages 7 --out-format openai
head -c 2000 "$tmp/out" | tr '\n' ' ' | grep -q '^\[{"role":"system"' || fail "trim openai output"
# --out never follows a link planted where a fixed temporary name used to
# be, and leaves no temporary behind.
echo "precious" > "$tmp/victim"
ln -s "$tmp/victim" "$tmp/o.json.tmp"
run 0 "$cli" trim "$session" --max-messages 5 --out "$tmp/o.json"
[ "$(cat "$tmp/victim")" = "precious" ] || fail "--out followed a symlink"
head -c 1 "$tmp/o.json" | grep -q '\[' || fail "--out wrote no conversation"
[ -z "$(ls "$tmp" | grep '^o\.json\..*\.tmp$')" ] || fail "--out left a temporary"
# Two writers of one output both succeed, and the file is one of theirs.
"$cli" trim "$session" --max-messages 5 --out "$tmp/two.json" 2>/dev/null &
"$cli" trim "$session" --max-messages 9 --out "$tmp/two.json" 2>/dev/null || fail "second writer"
wait $! || fail "first writer"
run 0 "$cli" trim "$tmp/two.json" --max-messages 100
run 2 "$cli" trim "$session" --strategy sideways
run 4 "$cli" trim "$tmp/missing.json"
printf '[{"role":"user","content":"hi"},{"role":"tool","content":"x"}]' >"$tmp/bad.json"
run 3 "$cli" trim "$tmp/bad.json" --format openai
grep -q "message 1" "$tmp/err" || fail "bad input error names the message: $(cat "$tmp/err")"

# Counting: exact for the default model, the estimate when asked, the
# catalog's rule for a non-OpenAI model.
run 0 "$cli" trim "$session" --strategy tokens --max-tokens 4000
grep -q "tokens (exact, o200k_base)" "$tmp/err" || fail "trim counts exactly by default: $(cat "$tmp/err")"
run 0 "$cli" trim "$session" --max-tokens 4000 --model estimate
grep -q "tokens (estimate, 4 bytes per token)" "$tmp/err" || fail "trim --model estimate: $(cat "$tmp/err")"
est_total=$(sed -n 's/.*messages, \([0-9]*\) -> .*/\1/p' "$tmp/err")
run 0 "$cli" trim "$session" --max-tokens 4000 --model gpt-4-0613
grep -q "tokens (exact, cl100k_base)" "$tmp/err" || fail "trim --model gpt-4: $(cat "$tmp/err")"
run 0 "$cli" trim "$session" --max-tokens 4000 --model claude-3-5-sonnet
grep -q "estimated for claude-3-5-sonnet, 3.5 characters per token" "$tmp/err" || fail "trim --model claude: $(cat "$tmp/err")"
run 0 "$cli" trim "$session" --max-tokens 4000
exact_total=$(sed -n 's/.*messages, \([0-9]*\) -> .*/\1/p' "$tmp/err")
[ -n "$est_total" ] && [ -n "$exact_total" ] && [ "$est_total" != "$exact_total" ] || fail "exact and estimated totals: $exact_total vs $est_total"
run 0 "$cli" compress "$session" --threshold 20000
grep -q "^Counting: exact, o200k_base, model gpt-4o-mini$" "$tmp/err" || fail "compress counting: $(cat "$tmp/err")"
MEMORY_MODEL=estimate run 0 "$cli" compress "$session" --threshold 20000
grep -q "^Counting: estimate, 4 bytes per token, model estimate$" "$tmp/err" || fail "MEMORY_MODEL=estimate: $(cat "$tmp/err")"
run 0 "$cli" replay "$session" --threshold 20000 --model gpt-4o --quiet
grep -q "tokens (exact, o200k_base, model gpt-4o;" "$tmp/out" || fail "replay --model: $(cat "$tmp/out")"

# compress with a config file; a bad key names the line.
printf '# test\nMEMORY_COMPRESSION_THRESHOLD=20000\nMEMORY_SHORT_TERM_SIZE=10\n' >"$tmp/cfg"
run 0 "$cli" compress "$session" --config "$tmp/cfg" --strategy selective --out "$tmp/c.json"
grep -q -- "--- Memory Statistics ---" "$tmp/err" || fail "compress stats"
grep -q "Compressions: [1-9]" "$tmp/err" || fail "compress did not compress"
run 0 "$cli" trim "$tmp/c.json"
printf 'MEMORY_SHORT_TERM_SIZE=10\nMEMORY_COMPRESION_RATIO=0.2\n' >"$tmp/cfg2"
run 3 "$cli" compress "$session" --config "$tmp/cfg2"
grep -q "line 2" "$tmp/err" || fail "config error names the line: $(cat "$tmp/err")"
MEMORY_COMPRESSION_STRATEGY=zip run 3 "$cli" compress "$session"
grep -q "MEMORY_COMPRESSION_STRATEGY" "$tmp/err" || fail "env error names the variable"

# The config file is found without naming it ($AGENTMEM_CONFIG, then
# ./.agentmem/config, then the user's directory), and `config show` says
# where every value came from.
mkdir -p "$tmp/proj/.agentmem" "$tmp/home/.config/agentmem"
printf 'MEMORY_PRESET=aggressive\nMEMORY_MODEL=gpt-4o\n' >"$tmp/proj/.agentmem/config"
printf 'MEMORY_SHORT_TERM_SIZE=7\n' >"$tmp/home/.config/agentmem/config"
inproj() { (cd "$tmp/proj" && env -u XDG_CONFIG_HOME -u AGENTMEM_CONFIG HOME="$tmp/home" "$@"); }
MEMORY_COMPRESSION_RATIO=0.4 inproj "$cli" config show >"$tmp/out" 2>"$tmp/err" || fail "config show: $(cat "$tmp/err")"
grep -q '^# file: \.agentmem/config$' "$tmp/out" || fail "config show file: $(cat "$tmp/out")"
grep -q '^MEMORY_COMPRESSION_THRESHOLD=30000 *# \.agentmem/config:1 (MEMORY_PRESET=aggressive)$' "$tmp/out" || fail "config show preset source: $(cat "$tmp/out")"
grep -q '^MEMORY_MODEL="gpt-4o" *# \.agentmem/config:2$' "$tmp/out" || fail "config show file source"
grep -q '^MEMORY_COMPRESSION_RATIO=0.4 *# \$MEMORY_COMPRESSION_RATIO$' "$tmp/out" || fail "config show env source"
grep -q '^MEMORY_TOOL_CLEAR_KEEP=3 *# default$' "$tmp/out" || fail "config show default"
inproj "$cli" config show --json >"$tmp/out" 2>"$tmp/err" || fail "config show --json"
[ "$(jq -r '.settings[] | select(.key == "MEMORY_MODEL") | .source' "$tmp/out")" = ".agentmem/config:2" ] || fail "config show --json: $(cat "$tmp/out")"
# Without the project's file, the user's is read.
(cd "$tmp" && env -u XDG_CONFIG_HOME -u AGENTMEM_CONFIG HOME="$tmp/home" "$cli" config show --json) >"$tmp/out" || fail "user config"
[ "$(jq -r .file "$tmp/out")" = "$tmp/home/.config/agentmem/config" ] || fail "user config file: $(cat "$tmp/out")"
# compress reads the file it finds: a bad key there is reported with its place.
printf 'MEMORY_NOPE=1\n' >"$tmp/proj/.agentmem/config"
run 3 inproj "$cli" compress "$session"
grep -q '\.agentmem/config: config line 1: unknown key' "$tmp/err" || fail "compress did not read the found config: $(cat "$tmp/err")"
AGENTMEM_CONFIG="$tmp/none.conf" run 4 "$cli" config show
grep -q 'AGENTMEM_CONFIG names .*none.conf' "$tmp/err" || fail "missing AGENTMEM_CONFIG: $(cat "$tmp/err")"
run 2 "$cli" config list

# replay prints each compression and the statistics block.
run 0 "$cli" replay "$session" --preset aggressive
grep -q "^\[message [0-9]*\] sliding_window: compressed" "$tmp/out" || fail "replay lines"
grep -q "^Total tokens: [0-9,]*$" "$tmp/out" || fail "replay total tokens"
grep -q "^Net savings: [0-9,]* tokens ([0-9.]*%)$" "$tmp/out" || fail "replay savings"
grep -q '^Total cost: \$[0-9.]*$' "$tmp/out" || fail "replay cost"

# compress with an LLM summarizer (a local OpenAI-compatible stub).
if command -v python3 >/dev/null; then
    python3 "$src/tests/mock_chat.py" "$tmp/port" &
    mock=$!
    for _ in $(seq 50); do [ -s "$tmp/port" ] && break; sleep 0.1; done
    port=$(cat "$tmp/port" 2>/dev/null)
    run 0 "$cli" compress "$session" --threshold 20000 --llm-model gpt-4o-mini \
        --base-url "http://127.0.0.1:$port/v1"
    grep -q '\[Compressed Summary\] LLM SUMMARY of' "$tmp/out" || fail "llm summary not used"
    kill "$mock" 2>/dev/null; wait "$mock" 2>/dev/null
fi

# One spelling per flag: the old ones are refused, naming the new one.
run 2 "$cli" compress "$session" --now
grep -q "'--now' is now '--force'" "$tmp/err" || fail "compress --now: $(cat "$tmp/err")"
run 2 "$cli" replay "$session" --llm-base-url=http://x
grep -q "'--llm-base-url=http://x' is now '--base-url'" "$tmp/err" || fail "replay --llm-base-url: $(cat "$tmp/err")"
run 2 "$cli" compress "$session" --llm-api-key-env K
grep -q "is now '--api-key-env'" "$tmp/err" || fail "--llm-api-key-env: $(cat "$tmp/err")"
run 2 "$cli" replay "$session" --force
grep -q "unknown option '--force'" "$tmp/err" || fail "replay --force: $(cat "$tmp/err")"
# --force compresses at the end even under the threshold.
run 0 "$cli" compress "$src/examples/msg/conversation.json" --short-term 2 --json
before=$(jq .stats.compression_count "$tmp/out")
run 0 "$cli" compress "$src/examples/msg/conversation.json" --short-term 2 --json --force
after=$(jq .stats.compression_count "$tmp/out")
[ "$before" = 0 ] && [ "$after" -ge 1 ] || fail "--force: compressions $before -> $after"

[ "$fails" -eq 0 ] || exit 1
echo "context cli: ok"
