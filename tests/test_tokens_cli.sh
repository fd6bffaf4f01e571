#!/usr/bin/env bash
# test_tokens_cli.sh -- `agentmem tokens|models|cost`: output, batch mode,
# and errors (message naming the problem, non-zero exit).
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
expect_out() { # expect_out NAME EXPECTED_STDOUT
    if [ "$(cat "$out")" != "$2" ]; then
        echo "FAIL $1: got '$(head -c 300 "$out")', expected '$2'"
        fails=$((fails + 1))
    fi
}

# count / encode / decode on stdin and files
printf 'hello world' > "$tmp/hw.txt"
check count_stdin 0 sh -c "printf 'hello world' | '$cli' tokens count --encoding cl100k_base"
expect_out count_stdin "2"
check encode_file 0 "$cli" tokens encode --encoding cl100k_base "$tmp/hw.txt"
expect_out encode_file "[15339,1917]"
check encode_o200k 0 "$cli" tokens encode --encoding o200k_base "$tmp/hw.txt"
expect_out encode_o200k "[24912,2375]"
check encode_model 0 "$cli" tokens encode --model gpt-4-0613 "$tmp/hw.txt"
expect_out encode_model "[15339,1917]"
printf '[24912,2375]' > "$tmp/ids.json"
check decode 0 "$cli" tokens decode --encoding o200k_base "$tmp/ids.json"
expect_out decode "hello world"
check two_files 0 "$cli" tokens count "$tmp/hw.txt" "$tmp/hw.txt"
expect_out two_files "$(printf '2\n2')"

# special tokens: text by default, ids when allowed, error when disallowed
printf 'a<|endoftext|>' > "$tmp/sp.txt"
check special_text 0 "$cli" tokens encode --encoding cl100k_base "$tmp/sp.txt"
expect_out special_text "[64,27,91,8862,728,428,91,29]"
check special_allowed 0 "$cli" tokens encode --encoding cl100k_base --allow-special "$tmp/sp.txt"
expect_out special_allowed "[64,100257]"
check special_error 3 "$cli" tokens encode --encoding cl100k_base --disallow-special "$tmp/sp.txt"
matches special_error "$err" "disallowed special token '<|endoftext|>' at byte 1"

# --jsonl: strings and objects with "text", in order
printf '"hello world"\n{"text": "hello"}\n""\n"a\\u00e9\\n"\n' > "$tmp/in.jsonl"
check jsonl_encode 0 "$cli" tokens encode --jsonl --encoding o200k_base "$tmp/in.jsonl"
expect_out jsonl_encode "$(printf '[24912,2375]\n[24912]\n[]\n[64,377,198]')"
check jsonl_count 0 "$cli" tokens count --jsonl --encoding o200k_base "$tmp/in.jsonl"
expect_out jsonl_count "$(printf '2\n1\n0\n3')"
printf '"ok"\n{"txt": 1}\n' > "$tmp/bad.jsonl"
check jsonl_bad_field 3 "$cli" tokens count --jsonl "$tmp/bad.jsonl"
matches jsonl_bad_field "$err" "line 2"
if grep -q "line 2: line 2" "$err"; then
    echo "FAIL jsonl_bad_field: doubled prefix: $(cat "$err")"; fails=$((fails + 1))
fi
printf '"ok"\n"unterminated\n' > "$tmp/bad2.jsonl"
check jsonl_bad_json 3 "$cli" tokens count --jsonl "$tmp/bad2.jsonl"
matches jsonl_bad_json "$err" "line 2"

# 100,000 lines in one process, in order (ids checked against tiktoken:
# "line 0 of the batch" is 6 tokens in cl100k_base, "line 99999 ..." 7)
awk 'BEGIN { for (i = 0; i < 100000; i++) printf "\"line %d of the batch\"\n", i }' > "$tmp/many.jsonl"
check jsonl_many 0 "$cli" tokens count --jsonl --encoding cl100k_base "$tmp/many.jsonl"
if [ "$(wc -l < "$out")" -ne 100000 ] || [ "$(sed -n 1p "$out")" != 6 ] ||
   [ "$(sed -n 100000p "$out")" != 7 ]; then
    echo "FAIL jsonl_many: $(wc -l < "$out") lines"; fails=$((fails + 1))
fi
cp "$out" "$tmp/many.out"
check jsonl_many_one_thread 0 "$cli" tokens count --jsonl --encoding cl100k_base --threads 1 "$tmp/many.jsonl"
if ! cmp -s "$out" "$tmp/many.out"; then
    echo "FAIL jsonl_many_one_thread: differs"; fails=$((fails + 1))
fi

# batches: several files and --jsonl lines give the same output on any
# number of threads; a failing line is named; the files before one that
# cannot be read are answered
printf 'Привет, мир! 中文 😀 don'"'"'t' > "$tmp/ml.txt"
for n in 1 2 5; do
    check files_threads_$n 0 "$cli" tokens count --threads $n "$tmp/hw.txt" "$tmp/ml.txt" "$tmp/hw.txt"
    expect_out files_threads_$n "$(printf '2\n8\n2')"
    check files_encode_threads_$n 0 "$cli" tokens encode --encoding o200k_base --threads $n "$tmp/ml.txt" "$tmp/hw.txt"
    expect_out files_encode_threads_$n "$(printf '[23881,131903,11,37934,0,83711,88038,4128]\n[24912,2375]')"
    check jsonl_threads_$n 0 "$cli" tokens count --jsonl --encoding cl100k_base --threads $n "$tmp/many.jsonl"
    if ! cmp -s "$out" "$tmp/many.out"; then
        echo "FAIL jsonl_threads_$n: differs from one thread"; fails=$((fails + 1))
    fi
done
check files_json 0 "$cli" tokens count --json --threads 2 "$tmp/hw.txt" "$tmp/ml.txt"
if ! grep -q '"total":10' "$out"; then
    echo "FAIL files_json: $(cat "$out")"; fails=$((fails + 1))
fi
printf '"a"\n"b <|endoftext|>"\n"c"\n' > "$tmp/sp.jsonl"
check jsonl_special 3 "$cli" tokens count --jsonl --disallow-special --threads 2 "$tmp/sp.jsonl"
matches jsonl_special "$err" "line 2: disallowed special token"
check files_missing 4 "$cli" tokens count --threads 2 "$tmp/hw.txt" /nonexistent/file.txt
expect_out files_missing "2"
check threads_bad 2 "$cli" tokens count --threads many "$tmp/hw.txt"
check threads_big 2 "$cli" tokens count --threads 257 "$tmp/hw.txt"

# --messages
printf '[{"role":"user","content":"hello world"}]' > "$tmp/msgs.json"
check messages 0 "$cli" tokens count --model gpt-4o --messages "$tmp/msgs.json"
expect_out messages "9"   # 3 + 1 (user) + 2 + 3
printf '[{"content":"x"}]' > "$tmp/badmsgs.json"
check messages_bad 3 "$cli" tokens count --model gpt-4o --messages "$tmp/badmsgs.json"
matches messages_bad "$err" "message 0"
# --jsonl --messages: an array line is a message list (read once, by the
# message reader), a string line a text; a bad list names its line, the
# message and the byte.
printf '[{"role":"user","content":"hello world"}]\n "hello world"\n  [{"role":"user","content":"hello world"},{"role":"assistant","content":"hi"}]\n' > "$tmp/msgs.jsonl"
check messages_jsonl 0 "$cli" tokens count --model gpt-4o --messages --jsonl "$tmp/msgs.jsonl"
expect_out messages_jsonl "$(printf '9\n2\n14')"
printf '[{"role":"user","content":"a"}]\n[{"role":"user","content":"b"},{"role":"robot","content":"c"}]\n' > "$tmp/badmsgs.jsonl"
check messages_jsonl_bad 3 "$cli" tokens count --model gpt-4o --messages --jsonl "$tmp/badmsgs.jsonl"
matches messages_jsonl_bad "$err" "line 2: .*message 1"
matches messages_jsonl_bad "$err" "byte"

# estimated models count, but cannot encode
check claude_count 0 sh -c "printf 'abcdefg' | '$cli' tokens count --model claude-3-5-sonnet"
expect_out claude_count "2"
check claude_encode 1 sh -c "printf 'abc' | '$cli' tokens encode --model claude-3-5-sonnet"
matches claude_encode "$err" "estimated"

# usage errors and bad input
check no_sub 2 "$cli" tokens
check bad_sub 2 "$cli" tokens frob
check bad_encoding 4 "$cli" tokens count --encoding nope_base "$tmp/hw.txt"
matches bad_encoding "$err" "unknown encoding 'nope_base'"
check both 2 "$cli" tokens count --encoding cl100k_base --model gpt-4o
check missing_file 4 "$cli" tokens count /nonexistent/file.txt
printf '[1,"x"]' > "$tmp/badids.json"
check decode_bad 3 "$cli" tokens decode "$tmp/badids.json"
matches decode_bad "$err" "element 1"
printf '[4294967295]' > "$tmp/badids2.json"
check decode_unknown 3 "$cli" tokens decode "$tmp/badids2.json"
matches decode_unknown "$err" "ids\[0\]"

# models and cost
check models 0 "$cli" models
grep -q "^gpt-4o " "$out" || { echo "FAIL models: no gpt-4o"; fails=$((fails + 1)); }
grep -q "^claude-3-5-sonnet .*anthropic .*~3.5 chars/tok" "$out" || { echo "FAIL models: claude row"; fails=$((fails + 1)); }
check models_one 0 "$cli" models gpt-4o-mini-2024-07-18
grep -q "^gpt-4o-mini .*o200k_base" "$out" || { echo "FAIL models_one"; fails=$((fails + 1)); }
grep -q "^prices: not yet checked against https://developers.openai.com/api/docs/pricing (approximate)$" "$out" || { echo "FAIL models_one provenance: $(cat "$out")"; fails=$((fails + 1)); }
check models_gpt4 0 "$cli" models gpt-4
grep -q "^gpt-4 .* 8192 " "$out" && grep -q "^limits: checked 2026-12-06 against https://developers.openai.com/api/docs/models/gpt-4$" "$out" || { echo "FAIL models gpt-4: $(cat "$out")"; fails=$((fails + 1)); }
check models_json 0 "$cli" models --json
node -e 'JSON.parse(require("fs").readFileSync(process.argv[1],"utf8"))' "$out" 2>/dev/null ||
    python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$out" ||
    { echo "FAIL models_json: not JSON"; fails=$((fails + 1)); }
printf '{"models":[{"name":"acme-1","provider":"acme","chars_per_token":2,"context_window":1000,"input":10,"output":20}]}' > "$tmp/user.json"
check models_user 0 "$cli" models --file "$tmp/user.json" acme-1
grep -q "^acme-1 .*acme" "$out" || { echo "FAIL models_user"; fails=$((fails + 1)); }
printf '{"models":[{"name":"x"}]}' > "$tmp/baduser.json"
check models_baduser 3 "$cli" models --file "$tmp/baduser.json"
matches models_baduser "$err" "models\[0\]"
check cost 0 "$cli" cost --model gpt-4o-mini --input-tokens 12000 --cached-tokens 2000 --output-tokens 800
grep -q '^cost \$0.002130$' "$out" || { echo "FAIL cost: $(cat "$out")"; fails=$((fails + 1)); }
check cost_user 0 "$cli" cost --file "$tmp/user.json" --model acme-1 --input-tokens 1000000 --output-tokens 0
grep -q '^cost \$10.000000$' "$out" || { echo "FAIL cost_user: $(cat "$out")"; fails=$((fails + 1)); }
check cost_unknown 0 "$cli" cost --model mystery --input-tokens 10 --output-tokens 10
grep -q "estimated" "$out" || { echo "FAIL cost_unknown"; fails=$((fails + 1)); }
check cost_missing 2 "$cli" cost --model gpt-4o
check cost_bad_number 2 "$cli" cost --model gpt-4o --input-tokens 12x --output-tokens 1
check cost_cached_too_big 2 "$cli" cost --model gpt-4o --input-tokens 1 --cached-tokens 2 --output-tokens 1
# The old spellings (--output is a file everywhere else) say what to type.
for old in input output cached; do
    check "cost_old_$old" 2 "$cli" cost --model gpt-4o --$old 5
    grep -q -- "'--$old' is now '--$old-tokens'" "$err" || { echo "FAIL cost_old_$old: $(cat "$err")"; fails=$((fails + 1)); }
done

finish
