// mcp_bench.js CLI N_STORE N_SEARCH DIR -- the same workload through the
// official MCP SDK client, over stdio, against `agentmem mcp` and against
// the reference memory server (@modelcontextprotocol/server-memory, a
// knowledge graph in one JSON file): store N_STORE memories one call each,
// then run N_SEARCH searches. Calls are sequential (one client, as an
// agent makes them). Prints calls/s and p50/p99 per phase and server, and
// what each finds for a few queries.
'use strict';
const path = require('path');
const { Client } = require('@modelcontextprotocol/sdk/client/index.js');
const { StdioClientTransport } = require('@modelcontextprotocol/sdk/client/stdio.js');

const [cli, nStore, nSearch, dir] = process.argv.slice(2);
const N = Number(nStore), Q = Number(nSearch);
const words = ['apple', 'river', 'garden', 'python', 'coffee', 'music', 'travel',
               'budget', 'meeting', 'doctor', 'football', 'rain', 'piano', 'tax',
               'holiday', 'dentist', 'recipe', 'bicycle', 'invoice', 'birthday'];
// Deterministic memories: "user fact <i>: likes <w1> and <w2>".
function fact(i) {
    return `user fact ${i}: likes ${words[i % words.length]} and ` +
           `${words[(i * 7 + 3) % words.length]}`;
}
function query(j) { return words[(j * 11) % words.length]; }

const servers = {
    agentmem: {
        spawn: () => ({ command: cli, args: ['mcp', '--db', path.join(dir, 'am.db')] }),
        store: (i) => ({ name: 'remember', arguments: { text: fact(i), key: `f${i}` } }),
        search: (q) => ({ name: 'search_memory', arguments: { query: q, limit: 10, max_tokens: 2000 } }),
        hits: (r) => JSON.parse(r.content[0].text).results.map((x) => x.value),
    },
    'server-memory': {
        spawn: () => ({ command: process.execPath,
                        args: [require.resolve('@modelcontextprotocol/server-memory/dist/index.js')],
                        env: { ...process.env, MEMORY_FILE_PATH: path.join(dir, 'graph.jsonl') } }),
        store: (i) => ({ name: 'create_entities', arguments: { entities: [
            { name: `f${i}`, entityType: 'fact', observations: [fact(i)] }] } }),
        search: (q) => ({ name: 'search_nodes', arguments: { query: q } }),
        hits: (r) => JSON.parse(r.content[0].text).entities.map((e) => e.observations[0]),
    },
};

function pct(sorted, p) { return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p / 100))]; }

async function run(name, s) {
    const c = new Client({ name: 'agentmem-bench', version: '1.0.0' });
    await c.connect(new StdioClientTransport({ ...s.spawn(), stderr: 'ignore' }));
    const out = { name };
    for (const phase of ['store', 'search']) {
        const n = phase === 'store' ? N : Q, lat = [];
        const t0 = process.hrtime.bigint();
        let errors = 0, bytes = 0;
        for (let i = 0; i < n; i++) {
            const t = process.hrtime.bigint();
            const r = await c.callTool(phase === 'store' ? s.store(i) : s.search(query(i)));
            lat.push(Number(process.hrtime.bigint() - t) / 1e6);
            if (r.isError) errors++;
            if (phase === 'search') bytes += r.content[0].text.length;
        }
        const secs = Number(process.hrtime.bigint() - t0) / 1e9;
        lat.sort((a, b) => a - b);
        out[phase] = { calls: n, per_s: n / secs, p50: pct(lat, 50), p99: pct(lat, 99), errors,
                       avg_reply_chars: phase === 'search' ? Math.round(bytes / n) : undefined };
        console.log(`mcp_bench ${name} ${phase}: ${n} calls, ${(n / secs).toFixed(1)} calls/s, ` +
                    `p50 ${pct(lat, 50).toFixed(2)} ms, p99 ${pct(lat, 99).toFixed(2)} ms, ` +
                    `errors ${errors}` + (phase === 'search' ? `, reply ${Math.round(bytes / n)} chars avg` : ''));
    }
    for (const q of ['coffee', 'dentist', 'fact 42:']) {
        const r = await c.callTool(s.search(q));
        const hits = s.hits(r);
        console.log(`mcp_bench ${name} finds for '${q}': ${hits.length} hits; first: ` +
                    JSON.stringify(hits.slice(0, 2)));
    }
    await c.close();
    return out;
}

async function main() {
    const a = await run('agentmem', servers.agentmem);
    const b = await run('server-memory', servers['server-memory']);
    for (const phase of ['store', 'search'])
        console.log(`mcp_bench ratio ${phase}: agentmem ${(a[phase].per_s / b[phase].per_s).toFixed(1)}x ` +
                    `the calls/s of server-memory`);
}
main().catch((e) => { console.error(e); process.exit(1); });
