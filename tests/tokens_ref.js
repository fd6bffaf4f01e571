#!/usr/bin/env node
// tokens_ref.js -- reference token ids from the npm package tiktoken
// (the WASM build of OpenAI's tiktoken), for tests/test_tokens_ref.sh.
//
// usage: NODE_PATH=... node tests/tokens_ref.js ENCODING < in.jsonl > out.jsonl
// Each input line is a JSON string; each output line the JSON array of ids
// (special tokens are text, like encode_ordinary).
'use strict';
const fs = require('fs');
const { get_encoding } = require('tiktoken');

const enc = get_encoding(process.argv[2]);
const lines = fs.readFileSync(0, 'utf8').split('\n');
const out = [];
for (const line of lines) {
    if (line === '') continue;
    const text = JSON.parse(line);
    out.push('[' + Array.from(enc.encode_ordinary(text)).join(',') + ']');
}
fs.writeFileSync(1, out.join('\n') + (out.length ? '\n' : ''));
enc.free();
