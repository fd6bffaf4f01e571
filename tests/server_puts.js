// server_puts.js URL WRITERS PUTS -- WRITERS concurrent loops each put PUTS
// items (ns ["batch", "w<n>"], keys k0..), and every fifth loop also puts
// one item the store refuses (a 5000-byte key; the server's own checks let
// it through). Prints one JSON line: {"ok": n, "bad": [{status, message}],
// "other": [..]}. Used by test_server.sh to check that concurrent puts,
// committed together, each get their own answer.
'use strict';
const [url, writers, puts] = process.argv.slice(2);
const out = { ok: 0, bad: [], other: [] };
async function put(body) {
    const res = await fetch(url + '/v1/items/put', { method: 'POST', body: JSON.stringify(body) });
    return { status: res.status, body: await res.json() };
}
async function writer(w) {
    for (let i = 0; i < Number(puts); i++) {
        if (w % 5 === 0 && i === Math.floor(Number(puts) / 2)) {
            const r = await put({ ns: ['batch', 'w' + w], key: 'x'.repeat(5000), value: 'too long a key' });
            out.bad.push({ status: r.status, message: r.body.error && r.body.error.message });
        }
        const r = await put({ ns: ['batch', 'w' + w], key: 'k' + i, value: { i, text: 'note ' + i } });
        if (r.status === 200) out.ok++; else out.other.push(r);
    }
}
Promise.all(Array.from({ length: Number(writers) }, (_, w) => writer(w)))
    .then(() => console.log(JSON.stringify(out)))
    .catch((e) => { console.error(e); process.exit(1); });
