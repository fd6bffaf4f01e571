#!/usr/bin/env node
// tokens_corpus.js -- the exactness corpus for tests/test_tokens_ref.sh.
//
// usage: node tests/tokens_corpus.js [--quick] > corpus.jsonl
//
// Writes one JSON string per line: text found on the machine (licenses,
// package docs, man pages, headers, this repository's sources) cut into
// lines and into chunks of a few KB, plus generated adversarial text:
// every code point in runs, combining marks in every position, contractions
// in every case (and U+017F, which folds to s), every kind of white space,
// digit runs of every script, emoji sequences, and very long words.
// Deterministic (fixed seed). --quick keeps it small.
'use strict';
const fs = require('fs');
const path = require('path');
const zlib = require('zlib');

const quick = process.argv.includes('--quick');
const out = [];
const emit = (s) => {
    if (s.length > 0) out.push(JSON.stringify(s));
};

// Deterministic PRNG (mulberry32).
let seed = 0x5eed1234;
const rnd = () => {
    seed |= 0;
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
};
const pick = (arr) => arr[Math.floor(rnd() * arr.length)];

// Replace lone surrogates (not valid Unicode; the CLI reads UTF-8).
const clean = (s) => s.replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '\ufffd');

// ---- Text from the machine ----
function walk(dir, pred, limit, acc) {
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
        if (e.isDirectory()) walk(p, pred, limit, acc);
        else if (e.isFile() && pred(p)) acc.push(p);
    }
    return acc;
}
function readText(p) {
    try {
        let b = fs.readFileSync(p);
        if (p.endsWith('.gz')) b = zlib.gunzipSync(b);
        if (b.length > 400000) b = b.subarray(0, 400000);
        return clean(b.toString('utf8'));
    } catch (e) {
        return null;
    }
}
const scale = quick ? 0.1 : 1;
const files = [];
walk('/usr/share/common-licenses', () => true, 40 * scale, files);
walk('/usr/share/doc', (p) => /copyright$|\.md$|README|changelog\.Debian\.gz$/.test(p), 400 * scale, files);
walk('/usr/share/man/man1', (p) => p.endsWith('.gz'), 150 * scale, files);
walk('/usr/share/man', (p) => /\/(de|fr|ja|ru|pl|zh_CN|es|uk|ko)\//.test(p) && p.endsWith('.gz'), 150 * scale, files);
walk('/usr/include', (p) => p.endsWith('.h'), 120 * scale, files);
walk(path.join(__dirname, '..', 'src'), (p) => /\.(c|h|json)$/.test(p) && !/ucd_tables/.test(p), 200 * scale, files);
walk('/usr/share/i18n/locales', () => true, 60 * scale, files);
for (const f of files) {
    const t = readText(f);
    if (t === null) continue;
    // Whole chunks of up to 4 KB (cut at character boundaries).
    const chars = Array.from(t);
    for (let i = 0; i < chars.length; i += 4096) emit(chars.slice(i, i + 4096).join(''));
    // And some single lines, with their newline.
    const lines = t.split(/(?<=\n)/);
    for (let i = 0; i < lines.length; i += 7) emit(lines[i]);
}

// ---- Every code point, in runs ----
const validCp = (cp) => cp < 0xd800 || (cp > 0xdfff && cp <= 0x10ffff);
const step = quick ? 997 : 1;
const runs = [];
for (let base = 0; base < 0x110000; base += 64 * step) {
    let s = '';
    for (let cp = base; cp < base + 64; cp++) if (validCp(cp)) s += String.fromCodePoint(cp);
    runs.push(s);
}
for (const s of runs) {
    emit(s);
    emit(Array.from(s).join(' '));
    emit(Array.from(s).map((c) => 'a' + c).join(''));
    emit(Array.from(s).map((c) => c + "'s").join(''));
}

// ---- Adversarial pieces ----
const ws = ['\t', '\n', '\v', '\f', '\r', ' ', '\u0085', '\u00a0', '\u1680', '\u2000', '\u2001', '\u2002', '\u2003', '\u2004', '\u2005', '\u2006', '\u2007', '\u2008', '\u2009', '\u200a', '\u2028', '\u2029', '\u202f', '\u205f', '\u3000', '\u180e', '\u200b', '\ufeff', '\r\n'];
const marks = ['\u0301', '\u0300', '\u0308', '\u0327', '\u093f', '\u0e31', '\u20dd', '\u0488', '\ufe0f', '\u200d', '\u1ab0', '\u1dff', '\u{1e944}'];
const letters = ['a', 'Z', 'é', 'ß', 'ǅ', 'ʰ', 'ſ', 'ﬁ', 'א', 'ب', 'क', 'ก', '中', 'か', 'ア', '한', 'Ω', 'ж', 'Ж', 'ա', 'ꙮ', '\u{1f130}', '\u{10400}', '\u{10428}', '\u{16e40}', '\u{1e900}', '\u{11f00}', '\u{1e5d0}', '\u{10d4a}', '\u{16d40}', 'Ᲊ', 'ᲊ', '\u{10d50}', '\u{1e030}'];
const digits = ['0', '7', '٣', '۴', '५', '๓', '７', '²', '½', 'Ⅻ', '〇', '\u{1d7ce}', '\u{1e4f0}', '\u{16d70}', '\u{11bf0}', '\u{1ccf0}'];
const puncts = ['.', ',', '!', '?', "'", '"', '/', '\\', '-', '_', '(', ')', '<|', '|>', '<|endoftext|>', '<|fim_prefix|>', '<|endofprompt|>', '…', '—', '«', '»', '€', '$', '©', '™', '\u0000', '\u001f', '\u007f', '\u00ad', '\u2060', '\ufffd'];
const emoji = ['😀', '👍🏽', '👨‍👩‍👧‍👦', '🇩🇪', '🏳️‍🌈', '❤️', '🫠', '🧑🏿‍🚀', '\u{1fae8}', '#️⃣', '🂡'];
const contractions = ["'s", "'S", "'t", "'T", "'re", "'RE", "'Re", "'rE", "'ve", "'VE", "'vE", "'m", "'M", "'ll", "'LL", "'lL", "'Ll", "'d", "'D", "'ſ", "'x", "'", "''", "'l", "'r", "'v"];
const words = ['don', 'I', 'HELLO', 'hello', 'Hello', 'x', 'éa', 'ÉCOLE', 'naïve', 'straße', 'ǅemal', 'ʰa', 'ab\u0301c', 'A\u0301B', 'ᾼ', 'xᾼy', 'ʼn'];
for (const w of words)
    for (const c of contractions) {
        emit(w + c);
        emit(' ' + w + c + ' ' + w);
        emit(w + c + c);
        emit(c + w);
        emit(w.toUpperCase() + c + '\n');
    }
for (const m of marks) {
    for (const l of letters) {
        emit(m + l);
        emit(l + m);
        emit(' ' + m + l + m + m);
        emit(l + m + l.toUpperCase() + m + "'s");
        emit('1' + m + l);
        emit(m + m + m);
        emit('\n' + m + l);
        emit(l.toUpperCase() + l + m + l.toUpperCase());
    }
}
for (const a of ws)
    for (const b of ws) {
        emit(a + b);
        emit('x' + a + b + 'y');
        emit('x' + a + b);
        emit(a + b + '!' + a);
        emit(a + a + a + b + 'z' + a);
        emit('a' + a + '\n' + b + b + 'b');
    }
for (const d of digits) {
    for (let n = 1; n <= 12; n++) {
        emit(d.repeat(n));
        emit('x' + d.repeat(n) + 'y');
        emit(' ' + d.repeat(n) + '.' + d);
    }
    emit('1234567890' + d + '12');
}
for (const e of emoji) {
    emit(e);
    emit(e + e + e);
    emit(' ' + e + 'a' + e);
    emit('a' + e + "'s");
}
// Random mixtures of all of the above.
const pool = [].concat(ws, marks, letters, digits, puncts, emoji, contractions, words, [' ', ' ', 'the', ' the', 'e', '\n\n']);
const nmix = quick ? 2000 : 30000;
for (let i = 0; i < nmix; i++) {
    const n = 1 + Math.floor(rnd() * 24);
    let s = '';
    for (let k = 0; k < n; k++) s += pick(pool);
    emit(s);
}
// Random code points from the whole range.
for (let i = 0; i < (quick ? 500 : 5000); i++) {
    let s = '';
    const n = 1 + Math.floor(rnd() * 16);
    for (let k = 0; k < n; k++) {
        let cp;
        do {
            cp = rnd() < 0.5 ? Math.floor(rnd() * 0x3000) : Math.floor(rnd() * 0x110000);
        } while (!validCp(cp));
        s += String.fromCodePoint(cp);
        if (rnd() < 0.2) s += pick([' ', "'s", '\n', '1', 'a']);
    }
    emit(s);
}
// Long words (the reference merges these in quadratic time, so sizes are
// bounded to keep the test in seconds; bench/ goes to 1 MB).
const longN = quick ? 2000 : 20000;
for (const unit of ['a', 'ab', 'xyz ', '7', ' ', '\n', '!', 'é', '中', '😀', 'a\u0301', 'ſ', 'Ab']) emit(unit.repeat(Math.ceil(longN / unit.length)));
{
    let s = '';
    for (let i = 0; i < longN; i++) s += String.fromCharCode(97 + Math.floor(rnd() * 26));
    emit(s);
    emit(s.toUpperCase());
}
if (!quick) emit('a'.repeat(100000));

process.stdout.write(out.join('\n') + '\n');
