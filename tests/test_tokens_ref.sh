#!/usr/bin/env bash
# test_tokens_ref.sh -- agentmem's token ids against the reference tiktoken.
#
# Builds the exactness corpus (tests/tokens_corpus.js: text found on the
# machine plus generated adversarial Unicode), encodes it with the npm
# package tiktoken@1.0.22 (the WASM build of OpenAI's tiktoken, installed by
# scripts/setup.d/tokens.sh into build-npm/tokens) and with
# `agentmem tokens encode --jsonl`, and requires identical ids on every
# line, for every encoding. By default the corpus is the quick one (a few
# seconds); AM_TOKENS_REF_FULL=1 runs the full corpus (~140k texts, 31 MB,
# about a minute per encoding, most of it in the reference).
# Exit 77 (skipped) when node or the reference package is missing.
set -u
src=${AM_SOURCE_DIR:?}
cli=${AM_CLI:?}
mods="$src/build-npm/tokens/node_modules"
if ! command -v node >/dev/null 2>&1 || [ ! -d "$mods/tiktoken" ]; then
    echo "SKIP: node or $mods/tiktoken missing (run scripts/setup)"
    exit 77
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
quick=--quick
encodings="cl100k_base o200k_base p50k_base r50k_base"
if [ "${AM_TOKENS_REF_FULL:-0}" = 1 ]; then quick=; fi
node "$src/tests/tokens_corpus.js" $quick > "$work/corpus.jsonl" || exit 1
echo "corpus: $(wc -l < "$work/corpus.jsonl") texts, $(wc -c < "$work/corpus.jsonl") bytes"
fails=0
for e in $encodings; do
    NODE_PATH="$mods" node "$src/tests/tokens_ref.js" "$e" \
        < "$work/corpus.jsonl" > "$work/ref.jsonl" || { echo "FAIL $e: reference"; fails=$((fails+1)); continue; }
    "$cli" tokens encode --jsonl --encoding "$e" "$work/corpus.jsonl" \
        > "$work/our.jsonl" || { echo "FAIL $e: agentmem"; fails=$((fails+1)); continue; }
    "$cli" tokens count --jsonl --encoding "$e" "$work/corpus.jsonl" \
        > "$work/count.jsonl" || { echo "FAIL $e: agentmem count"; fails=$((fails+1)); continue; }
    if ! cmp -s "$work/ref.jsonl" "$work/our.jsonl"; then
        line=$(cmp "$work/ref.jsonl" "$work/our.jsonl" | sed -n 's/.* line \([0-9]*\).*/\1/p')
        echo "FAIL $e: first difference at line $line"
        echo "  text: $(sed -n "${line}p" "$work/corpus.jsonl" | cut -c1-300)"
        echo "  ref:  $(sed -n "${line}p" "$work/ref.jsonl" | cut -c1-300)"
        echo "  ours: $(sed -n "${line}p" "$work/our.jsonl" | cut -c1-300)"
        fails=$((fails+1))
        continue
    fi
    # count must agree with the length of encode.
    if ! node -e '
        const fs=require("fs");
        const a=fs.readFileSync(process.argv[1],"utf8").trim().split("\n");
        const b=fs.readFileSync(process.argv[2],"utf8").trim().split("\n");
        if (a.length!==b.length) process.exit(1);
        for (let i=0;i<a.length;i++) if (JSON.parse(a[i]).length!==+b[i]) { console.log("line",i+1); process.exit(1); }
    ' "$work/ref.jsonl" "$work/count.jsonl"; then
        echo "FAIL $e: count differs from the reference's length"
        fails=$((fails+1))
        continue
    fi
    echo "ok $e: $(wc -l < "$work/ref.jsonl") texts identical"
done
[ "$fails" -eq 0 ]
