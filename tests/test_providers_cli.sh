#!/usr/bin/env bash
# test_providers_cli.sh -- `agentmem llm chat` and `agentmem embed`:
# argument errors and connection-refused errors. No network: the only
# address used is 127.0.0.1 port 1, where nothing listens.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
dead=http://127.0.0.1:1
export no_proxy=127.0.0.1,localhost NO_PROXY=127.0.0.1,localhost
# check_says NAME EXPECTED_STATUS STDERR_TEXT CMD...: check, and stderr
# holds STDERR_TEXT (a fixed string; nothing is looked for when it is "").
check_says() {
    local name=$1 want=$2 text=$3; shift 3
    check "$name" "$want" "$@"
    if [ -n "$text" ]; then has "$name" "$err" "$text"; fi
}
# Argument errors (exit 2, usage).
check_says llm_no_args 2 "expects at least 1 argument" "$cli" llm
check_says llm_bad_sub 2 "unknown subcommand 'talk'" "$cli" llm talk
check_says llm_no_model 2 "--model is required" "$cli" llm chat hello
check_says llm_model_no_value 2 "--model needs a value" "$cli" llm chat --model
check_says llm_no_prompt 2 "a PROMPT" "$cli" llm chat --model m
check_says llm_two_prompts 2 "one PROMPT only" "$cli" llm chat --model m a b
check_says llm_bad_provider 2 "must be openai or anthropic, not 'gemini'" \
    "$cli" llm chat --provider gemini --model m hi
check_says llm_bad_temp 2 "--temperature expects a number 0..2" \
    "$cli" llm chat --model m --temperature hot hi
check_says llm_bad_max_tokens 2 "--max-tokens expects an integer" \
    "$cli" llm chat --model m --max-tokens -5 hi
check_says llm_bad_retries 2 "--retries expects an integer 0..100" \
    "$cli" llm chat --model m --retries 1000 hi
check_says llm_unknown_opt 2 "unknown option '--stream'" \
    "$cli" llm chat --model m --stream hi
check_says llm_prompt_and_messages 2 "not both" \
    "$cli" llm chat --model m --messages x.json hi
check_says llm_messages_missing 4 "cannot open 'no-such-file.json'" \
    "$cli" llm chat --model m --messages no-such-file.json
check_says llm_help 0 "" "$cli" llm --help
for w in "agentmem llm chat PROMPT" "--model M" "--api-key-env VAR" "--timeout DURATION"; do
    grep -qF -- "$w" "$out" || { echo "FAIL llm help text lacks '$w'"; fails=$((fails+1)); }
done
check_says llm_bad_url 3 "must start with http:// or https://" \
    "$cli" llm chat --model m --base-url ftp://x hi
check_says embed_no_args 2 "expects at least 1 argument" "$cli" embed
check_says embed_no_model 2 "--model is required" "$cli" embed hello
check_says embed_no_text 2 "at least one TEXT" "$cli" embed --model m
check_says embed_bad_batch 2 "--batch must be at least 1" \
    "$cli" embed --model m --batch 0 x
check_says embed_bad_dim 2 "--dim expects an integer" \
    "$cli" embed --model m --dim x y
check_says embed_unknown_opt 2 "unknown option '--fast'" \
    "$cli" embed --model m --fast x
check_says embed_negative_batch 2 "--batch expects an integer 0..100000, not '-1'" \
    "$cli" embed --model m --batch -1 x
grep -c "batch" "$err" | grep -qx 1 ||
    { echo "FAIL embed_negative_batch: more than one message"; cat "$err"; fails=$((fails+1)); }
check_says embed_huge_dim 2 "--dim expects an integer 0..65536" \
    "$cli" embed --model m --dim 99999999999999999999 x
check_says embed_negative_timeout 2 "--timeout: '-1' is not a duration" \
    "$cli" embed --model m --timeout -1 x
check_says llm_huge_timeout 2 "--timeout: '99999999999999999999' is too large" \
    "$cli" llm chat --model m --timeout 99999999999999999999 hi
check_says llm_day_timeout 2 "--timeout: '2d' is more than a day" \
    "$cli" llm chat --model m --timeout 2d hi
check_says llm_old_timeout 2 "'--timeout-ms' is now '--timeout DURATION'" \
    "$cli" llm chat --model m --timeout-ms 500 hi
check_says serve_bare_timeout 2 "--timeout: '30' is outside 1s to 1h" \
    "$cli" serve --db "$out.db" --timeout 30
check_says llm_negative_max_tokens 2 "--max-tokens expects an integer" \
    "$cli" llm chat --model m --max-tokens -5 hi
check_says llm_nan_temp 2 "--temperature expects a number 0..2, not 'nan'" \
    "$cli" llm chat --model m --temperature nan hi
check_says llm_empty_prompt 2 "the PROMPT is empty" "$cli" llm chat --model m ""
check_says llm_empty_stdin 2 "the PROMPT is empty (read from stdin)" \
    "$cli" llm chat --model m - </dev/null
# Bad input is refused before any request (the URL is dead on purpose).
check_says llm_bad_utf8 3 "message 0: content is not valid UTF-8 (byte 1)" \
    "$cli" llm chat --model m --base-url http://127.0.0.1:9 --retries 0 \
    "$(printf 'x\377')"
check_says llm_bad_utf8_system 3 "system prompt is not valid UTF-8" \
    "$cli" llm chat --model m --base-url http://127.0.0.1:9 --retries 0 \
    --system "$(printf 'x\377')" hi
printf '[{"role":"user","content":"hi"}' >"$out.trunc"
check_says llm_messages_truncated 3 "$out.trunc: llm: messages_json:" \
    "$cli" llm chat --model m --base-url http://127.0.0.1:9 --retries 0 \
    --messages "$out.trunc"
printf '{"role":"user"}' >"$out.trunc"
check_says llm_messages_not_array 3 "must be a JSON array" \
    "$cli" llm chat --model m --base-url http://127.0.0.1:9 --retries 0 \
    --messages "$out.trunc"
rm -f "$out.trunc"
check_says embed_bad_utf8 3 "text 1 is not valid UTF-8 (byte 2)" \
    "$cli" embed --model m --dim 4 --base-url http://127.0.0.1:9 \
    --retries 0 ok "$(printf 'ab\377')"
check_says embed_empty_text 3 "text 0 is empty" \
    "$cli" embed --model m --dim 4 --base-url http://127.0.0.1:9 \
    --retries 0 ""

# Connection refused: exit 5 (network), curl's message, the URL.
check_says llm_refused 5 "Couldn't connect to server" \
    "$cli" llm chat --model m --base-url $dead/v1 --retries 0 hi
grep -qF "openai: cannot talk to $dead/v1/chat/completions" "$err" ||
    { echo "FAIL llm_refused url"; cat "$err"; fails=$((fails+1)); }
echo '[{"role":"user","content":"hi"}]' >"$out.msgs"
check_says llm_messages_refused 5 "Couldn't connect to server" \
    "$cli" llm chat --model m --base-url $dead/v1 --retries 0 \
    --messages "$out.msgs"
rm -f "$out.msgs"
check_says anthropic_refused 5 "anthropic: cannot talk to $dead/v1/messages" \
    "$cli" llm chat --provider anthropic --model m --base-url $dead \
    --retries 0 hi
check_says embed_refused 5 "embeddings: cannot talk to $dead/v1/embeddings" \
    "$cli" embed --model m --base-url $dead/v1 --retries 0 a b
check_says embed_refused_dim 5 "Couldn't connect to server" \
    "$cli" embed --model m --dim 8 --base-url $dead/v1 --retries 0 a
[ -s "$out" ] && { echo "FAIL refused wrote to stdout"; fails=$((fails+1)); }
# llm chat --json against a local OpenAI-compatible stub: one JSON value
# on one line, the model's name (which the stub echoes) escaped.
if command -v python3 >/dev/null; then
    python3 "${AM_SOURCE_DIR:?}/tests/mock_chat.py" "$out.port" &
    mock=$!
    for _ in $(seq 50); do [ -s "$out.port" ] && break; sleep 0.1; done
    check_says chat_json 0 "" "$cli" llm chat --json --retries 0 \
        --model 'm"\x' --base-url "http://127.0.0.1:$(cat "$out.port")/v1" hello
    python3 -c '
import json, sys
lines = open(sys.argv[1]).read().splitlines()
assert len(lines) == 1, lines
v = json.loads(lines[0])
assert list(v) == ["text", "finish_reason", "model", "usage", "attempts",
                   "elapsed_ms"], list(v)
assert v["text"] == "LLM SUMMARY of 5 chars", v
assert v["model"] == "m\"\\x" and v["finish_reason"] == "stop", v
assert v["usage"] == {"input_tokens": 100, "output_tokens": 7,
                      "cached_tokens": 0}, v
assert v["attempts"] == 1, v
' "$out" && pass=$((pass+1)) || { echo "FAIL chat_json: $(cat "$out")"; fails=$((fails+1)); }
    kill "$mock" 2>/dev/null; wait "$mock" 2>/dev/null
    rm -f "$out.port"
fi
finish
