#!/usr/bin/env node
// tokens_peers.js -- token counting speed of the npm peers, for
// bench/run_tokens.sh.
//
// usage: NODE_PATH=bench/tokens-peers/node_modules \
//            node bench/tokens_peers.js CORPUS_DIR [SECONDS_PER_CASE]
//
// For tiktoken (WASM), gpt-tokenizer, js-tiktoken and ai-tokenizer, and for
// cl100k_base and o200k_base, counts the tokens of each corpus section
// (whole section per call, special tokens as text) repeatedly for about
// SECONDS_PER_CASE of CPU time after one warm-up call, and prints
//   <peer>/<encoding>/<section> <bytes> <ns/op> ns/op <MB/s> MB/s <tokens> tokens
'use strict';
const fs = require('fs');
const path = require('path');

const dir = process.argv[2];
const secs = parseFloat(process.argv[3] || '0.5');
const sections = ['prose', 'code', 'json', 'multilingual'];
const encodings = ['cl100k_base', 'o200k_base'];
const texts = {};
for (const s of sections) texts[s] = fs.readFileSync(path.join(dir, s + '.txt'), 'utf8');

function peers(enc) {
    const list = [];
    try {
        const { get_encoding } = require('tiktoken');
        const e = get_encoding(enc);
        list.push(['tiktoken', (t) => e.encode_ordinary(t).length]);
    } catch (e) {
        console.error('tiktoken: ' + e.message);
    }
    try {
        const g = require('gpt-tokenizer/cjs/encoding/' + enc);
        const opts = { disallowedSpecial: new Set() };
        list.push(['gpt-tokenizer', (t) => g.countTokens(t, opts)]);
    } catch (e) {
        console.error('gpt-tokenizer: ' + e.message);
    }
    try {
        const { getEncoding } = require('js-tiktoken');
        const e = getEncoding(enc);
        list.push(['js-tiktoken', (t) => e.encode(t, [], []).length]);
    } catch (e) {
        console.error('js-tiktoken: ' + e.message);
    }
    try {
        const Tokenizer = require('ai-tokenizer').default || require('ai-tokenizer').Tokenizer;
        const data = require('ai-tokenizer/encoding/' + enc);
        const tk = new Tokenizer(data.default || data);
        list.push(['ai-tokenizer', (t) => tk.encode(t, [], []).length]);
    } catch (e) {
        console.error('ai-tokenizer: ' + e.message);
    }
    return list;
}

for (const enc of encodings) {
    for (const [name, count] of peers(enc)) {
        for (const s of sections) {
            const t = texts[s];
            const bytes = Buffer.byteLength(t);
            let tokens = count(t); // warm-up (JIT, caches)
            // CPU time of this process (user + system), like the C side,
            // so that other load on the machine does not count.
            let reps = 0;
            const c0 = process.cpuUsage();
            let used;
            do {
                tokens = count(t);
                reps++;
                const c = process.cpuUsage(c0);
                used = (c.user + c.system) * 1e3;
            } while (used < secs * 1e9);
            const ns = used / reps;
            console.log(`${name}/${enc}/${s} ${bytes} ${ns.toFixed(0)} ns/op ${(bytes / ns * 1e3).toFixed(1)} MB/s ${tokens} tokens`);
        }
    }
}
