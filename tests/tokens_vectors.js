#!/usr/bin/env node
// tokens_vectors.js -- regenerate tests/data/tokens_vectors.jsonl, the
// committed reference vectors that tests/test_tokens.c checks without node.
//
// usage: NODE_PATH=build-npm/tokens/node_modules node tests/tokens_vectors.js \
//            > tests/data/tokens_vectors.jsonl
// Each line: {"encoding": E, "text": T, "ids": [...]} from tiktoken@1.0.22.
'use strict';
const { get_encoding } = require('tiktoken');
const texts = [
    '', 'hello world', 'Hello, World!', ' leading space', 'trailing space ',
    "I'm don't we'll they're you've he'd she's", "I'M DON'T WE'LL THEY'RE YOU'VE HE'D",
    "x'ſ 'ſ ſ'S", "'s", "''s", "it's'd", 'ab\u0301c A\u0301BC \u0301x',
    '1 12 123 1234 12345 123456', '٣٤٥٦ ５６７８ ²³ ½ Ⅻ', 'x\u0085y \u0085\u0085 z',
    'a\ufeffb \ufeff', 'a\u00a0b \u3000c \u2028d', '\t\tx\n\n\ny\r\n\r\nz   \n  ',
    'end with spaces   ', 'end with newlines\n\n', ' \n \n x', '!!!\n\n///\nabc',
    '<|endoftext|> is text', 'a<|fim_prefix|>b<|endofprompt|>c', 'emoji 😀👍🏽👨‍👩‍👧‍👦🇩🇪',
    '中文文本，日本語のテキスト、한국어 텍스트', 'Привет, мир! ПРИВЕТ мир', 'مرحبا بالعالم',
    'नमस्ते दुनिया', 'สวัสดีชาวโลก', 'ǅemal ǈ ǋ ʰʷ ᵃ', 'Ᲊᲊ \u1c89\u1c8a', '\u{10d50}\u{10d70}\u{10d4a}',
    '\u{1e030}\u{1e031}x', '\u{11f00}\u{11f04}', '\u{2ebf0}\u{2ebf1}', '\u{16d40}\u{16d70}\u{16d71}',
    '\u{1e5d0}\u{1e5f1}', '\u{11bc0}\u{11bf0}', '\u{1ccf0}\u{1ccf9}', 'HTTPRequest XMLHttpRequest getHTTPResponseCode',
    'int main(void) { return 0; }\n', '{"key": [1, 2.5, "x"], "b": null}', 'https://example.com/a/b?c=d',
    'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa',
    'a'.repeat(1000), '🙂'.repeat(300), '7'.repeat(50), ' '.repeat(40) + 'x',
    'Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor.',
];
for (const e of ['cl100k_base', 'o200k_base', 'p50k_base', 'r50k_base']) {
    const enc = get_encoding(e);
    for (const t of texts)
        process.stdout.write(JSON.stringify({ encoding: e, text: t, ids: Array.from(enc.encode_ordinary(t)) }) + '\n');
    enc.free();
}
