#!/usr/bin/env node
// tokens_corpus.js -- the token-counting benchmark corpus.
//
// usage: node bench/tokens_corpus.js OUTDIR [MB_PER_SECTION]
//
// Writes OUTDIR/{prose,code,js,json,multilingual,emoji}.txt, each about
// MB_PER_SECTION (default 1) megabytes, from text found on the machine:
//   prose         /usr/share/common-licenses, package READMEs and copyright
//   code          C headers under /usr/include and this repository's src/
//   js            JavaScript of this repository's bench/ and tests/, then
//                 node's own (/usr/share/nodejs, /usr/lib/node_modules)
//   json          JSON documents built from the prose (objects, arrays,
//                 numbers, escapes) -- deterministic
//   multilingual  man pages in other languages (/usr/share/man/<lang>) and
//                 locale sources, round robin over languages
//   emoji         the prose sentences with emoji between words (single
//                 code points, variation selectors, skin tones, ZWJ
//                 families and professions, flags, keycaps) -- deterministic
// Deterministic for a given machine.
'use strict';
const fs = require('fs');
const path = require('path');
const zlib = require('zlib');

const outdir = process.argv[2];
const target = Math.floor(parseFloat(process.argv[3] || '1') * 1024 * 1024);
if (!outdir) {
    console.error('usage: tokens_corpus.js OUTDIR [MB]');
    process.exit(2);
}
fs.mkdirSync(outdir, { recursive: true });

function walk(dir, pred, acc, limit) {
    let ents;
    try {
        ents = fs.readdirSync(dir, { withFileTypes: true });
    } catch (e) {
        return acc;
    }
    ents.sort((a, b) => (a.name < b.name ? -1 : 1));
    for (const e of ents) {
        if (acc.length >= limit) break;
        const p = path.join(dir, e.name);
        if (e.isDirectory()) walk(p, pred, acc, limit);
        else if (e.isFile() && pred(p)) acc.push(p);
    }
    return acc;
}
function read(p) {
    try {
        let b = fs.readFileSync(p);
        if (p.endsWith('.gz')) b = zlib.gunzipSync(b);
        const s = b.toString('utf8');
        return s.includes('\ufffd') ? '' : s;
    } catch (e) {
        return '';
    }
}
function fill(files) {
    let s = '';
    for (const f of files) {
        if (Buffer.byteLength(s) >= target) break;
        s += read(f) + '\n';
    }
    // Cut at a character boundary near the target.
    const b = Buffer.from(s);
    let n = Math.min(b.length, target);
    while (n > 0 && (b[n] & 0xc0) === 0x80) n--;
    return b.subarray(0, n).toString('utf8');
}

const prose = fill([].concat(
    walk('/usr/share/common-licenses', () => true, [], 100),
    walk('/usr/share/doc', (p) => /README(\.md|\.txt)?$|copyright$/.test(p), [], 5000)));
const code = fill([].concat(
    walk(path.join(__dirname, '..', 'src'), (p) => /\.[ch]$/.test(p) && !/ucd_tables/.test(p), [], 1000),
    walk('/usr/include', (p) => p.endsWith('.h'), [], 20000)));
const js = fill([].concat(
    walk(path.join(__dirname, '..', 'bench'), (p) => /\.js$/.test(p) && !/node_modules/.test(p), [], 1000),
    walk(path.join(__dirname, '..', 'tests'), (p) => /\.js$/.test(p), [], 1000),
    walk('/usr/share/nodejs', (p) => /\.[cm]?js$/.test(p), [], 20000),
    walk('/usr/lib/node_modules', (p) => /\.[cm]?js$/.test(p), [], 20000)));

// JSON: records built from prose sentences.
let seed = 42;
const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 4294967296);
const sentences = prose.split(/(?<=[.!?])\s+/).filter((x) => x.length > 20);
const recs = [];
let jsonLen = 0;
for (let i = 0; jsonLen < target; i++) {
    const r = {
        id: i,
        uuid: Math.floor(rnd() * 1e15).toString(16),
        role: ['user', 'assistant', 'system', 'tool'][i % 4],
        content: sentences[i % sentences.length],
        score: Math.round(rnd() * 1e6) / 1e3,
        tags: ['alpha', 'beta', 'gamma', 'delta'].slice(0, 1 + (i % 4)),
        meta: { created_at: 1700000000 + i * 37, ok: i % 3 !== 0, parent: i > 0 ? i - 1 : null },
    };
    const s = JSON.stringify(r, null, i % 2 ? 2 : 0);
    recs.push(s);
    jsonLen += s.length + 2;
}
const json = '[\n' + recs.join(',\n') + '\n]\n';

// Multilingual: round robin over languages.
const langs = [];
try {
    for (const l of fs.readdirSync('/usr/share/man').sort())
        if (!/^man/.test(l)) langs.push(walk(path.join('/usr/share/man', l), (p) => p.endsWith('.gz'), [], 400));
} catch (e) {}
langs.push(walk('/usr/share/i18n/locales', () => true, [], 400));
const multiFiles = [];
for (let k = 0; k < 400; k++) for (const l of langs) if (k < l.length) multiFiles.push(l[k]);
const multi = fill(multiFiles);

// Emoji: the prose sentences with emoji sequences between words.
const emojis = [
    '\u{1F600}', '\u{1F680}', '\u{2705}', '\u{1F525}', '\u{1F389}', '\u{1F914}',
    '\u{2764}\u{FE0F}', '\u{2B50}', '\u{1F44D}\u{1F3FD}', '\u{1F44B}\u{1F3FB}',
    '\u{1F468}\u{200D}\u{1F469}\u{200D}\u{1F467}\u{200D}\u{1F466}',
    '\u{1F9D1}\u{200D}\u{1F4BB}', '\u{1F469}\u{1F3FE}\u{200D}\u{1F52C}',
    '\u{1F3F3}\u{FE0F}\u{200D}\u{1F308}', '\u{1F1FA}\u{1F1F8}', '\u{1F1EF}\u{1F1F5}',
    '\u{1F1E9}\u{1F1EA}', '1\u{FE0F}\u{20E3}', '\u{1F4AF}', '\u{1F602}\u{1F602}\u{1F602}',
    '\u{1F64F}', '\u{1F440}', '\u{2728}', '\u{1F9E0}', '\u{1F4A1}', '\u{26A0}\u{FE0F}',
];
let emoji = '';
for (let i = 0; Buffer.byteLength(emoji) < target; i++) {
    const words = sentences[i % sentences.length].split(' ');
    const out = [];
    for (const w of words) {
        out.push(w);
        if (rnd() < 0.25) out.push(emojis[Math.floor(rnd() * emojis.length)]);
    }
    emoji += out.join(' ') + (i % 3 === 2 ? '\n' : ' ');
}
{
    const b = Buffer.from(emoji);
    let n = Math.min(b.length, target);
    while (n > 0 && (b[n] & 0xc0) === 0x80) n--;
    emoji = b.subarray(0, n).toString('utf8');
}

for (const [name, text] of [['prose', prose], ['code', code], ['js', js], ['json', json],
                            ['multilingual', multi], ['emoji', emoji]]) {
    fs.writeFileSync(path.join(outdir, name + '.txt'), text);
    console.error(`corpus ${name}: ${Buffer.byteLength(text)} bytes`);
}
