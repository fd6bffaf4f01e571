#!/usr/bin/env node
// tokens_peers.js -- token counting speed of the npm peers, for
// bench/run_tokens.sh.
//
// usage: NODE_PATH=bench/tokens-peers/node_modules \
//            node bench/tokens_peers.js CORPUS_DIR [SECONDS_PER_CASE]
//
// For tiktoken (WASM), gpt-tokenizer, js-tiktoken and ai-tokenizer, and for
// cl100k_base and o200k_base, counts the tokens of each corpus section
// (special tokens as text) repeatedly for about SECONDS_PER_CASE of CPU
// time after one warm-up pass, in two modes: the whole section per call,
// and message-sized calls (the section cut into pieces of about 1,000 bytes
// at line ends exactly as bench_tokens.c's msg_end() cuts it, one call per
// piece), and prints
//   <peer>/<encoding>/<section>/<whole|msg> <bytes> <ns/op> ns/op <MB/s> MB/s <tokens> tokens
// (ns/op for the whole section, tokens summed over its pieces).
'use strict';
const fs = require('fs');
const path = require('path');

const dir = process.argv[2];
const secs = parseFloat(process.argv[3] || '0.5');
const sections = ['prose', 'code', 'js', 'json', 'multilingual', 'emoji'];
const encodings = ['cl100k_base', 'o200k_base'];

// bench_tokens.c's msg_end(), on the UTF-8 bytes.
function msgEnd(b, at) {
    const len = b.length;
    if (len - at <= 1000) return len;
    for (let end = at + 1000; end > at + 500; end--) if (b[end - 1] === 10) return end;
    for (let end = at + 1000; end < at + 1500 && end < len; end++) if (b[end] === 10) return end + 1;
    let end = at + 1000;
    while (end > at + 1 && (b[end] & 0xc0) === 0x80) end--;
    return end;
}

const texts = {};
const pieces = {};
for (const s of sections) {
    const b = fs.readFileSync(path.join(dir, s + '.txt'));
    texts[s] = b.toString('utf8');
    pieces[s] = [];
    for (let at = 0, end; at < b.length; at = end) {
        end = msgEnd(b, at);
        pieces[s].push(b.subarray(at, end).toString('utf8'));
    }
}

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

function measure(label, bytes, pass) {
    let tokens = pass(); // warm-up (JIT, caches)
    // CPU time of this process (user + system), like the C side,
    // so that other load on the machine does not count.
    let reps = 0;
    const c0 = process.cpuUsage();
    let used;
    do {
        tokens = pass();
        reps++;
        const c = process.cpuUsage(c0);
        used = (c.user + c.system) * 1e3;
    } while (used < secs * 1e9);
    const ns = used / reps;
    console.log(`${label} ${bytes} ${ns.toFixed(0)} ns/op ${(bytes / ns * 1e3).toFixed(1)} MB/s ${tokens} tokens`);
}

for (const enc of encodings) {
    for (const [name, count] of peers(enc)) {
        for (const s of sections) {
            const bytes = Buffer.byteLength(texts[s]);
            measure(`${name}/${enc}/${s}/whole`, bytes, () => count(texts[s]));
            measure(`${name}/${enc}/${s}/msg`, bytes, () => {
                let n = 0;
                for (const p of pieces[s]) n += count(p);
                return n;
            });
        }
    }
}
