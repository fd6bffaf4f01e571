// mcp_client.js -- drive agentmem's MCP server with the official MCP
// TypeScript SDK client, over stdio (`agentmem mcp`) and over streamable
// HTTP (`agentmem serve`, /mcp): connect, list the tools, call each with
// good and bad arguments, page through lists with cursors and token
// budgets, read resources, keep tenants apart, and have two `agentmem mcp`
// processes on one database take 20 concurrent writes each.
//
//   node mcp_client.js CLI DB_DIR HTTP_URL KEY_A KEY_B
'use strict';
const assert = require('assert');
const { Client } = require('@modelcontextprotocol/sdk/client/index.js');
const { StdioClientTransport } = require('@modelcontextprotocol/sdk/client/stdio.js');
const { StreamableHTTPClientTransport } =
    require('@modelcontextprotocol/sdk/client/streamableHttp.js');

const [cli, dir, httpUrl, keyA, keyB] = process.argv.slice(2);
let checks = 0;
function ok(cond, what) { assert.ok(cond, what); checks++; }
function eq(a, b, what) { assert.deepStrictEqual(a, b, what); checks++; }

async function stdioClient(db) {
    const c = new Client({ name: 'agentmem-test', version: '1.0.0' });
    await c.connect(new StdioClientTransport({
        command: cli, args: ['mcp', '--db', db], stderr: 'ignore',
        // The whole environment, so that sanitizer options reach the server.
        env: { ...process.env } }));
    return c;
}

async function httpClient(key) {
    const c = new Client({ name: 'agentmem-test', version: '1.0.0' });
    const t = new StreamableHTTPClientTransport(new URL(httpUrl + '/mcp'), {
        requestInit: { headers: { Authorization: 'Bearer ' + key } } });
    await c.connect(t);
    return { c, t };
}

// The tool's JSON reply (text content), after checking it is no error.
async function call(c, name, args) {
    const r = await c.callTool({ name, arguments: args });
    if (r.isError) throw new Error(`${name} failed: ${r.content[0].text}`);
    eq(r.content[0].type, 'text', `${name} answers text`);
    try { return JSON.parse(r.content[0].text); } catch (e) { return r.content[0].text; }
}

async function callError(c, name, args, pattern) {
    const r = await c.callTool({ name, arguments: args });
    ok(r.isError === true, `${name} ${JSON.stringify(args)} is a tool error`);
    ok(pattern.test(r.content[0].text),
       `${name} error '${r.content[0].text}' matches ${pattern}`);
}

async function exercise(c, label) {
    const tools = (await c.listTools()).tools;
    const names = tools.map((t) => t.name).sort();
    eq(names, ['count_tokens', 'forget', 'list_memories', 'memory',
               'recall_conversations', 'remember', 'search_memory',
               'trim_messages'], `${label}: tools`);
    for (const t of tools) {
        eq(t.inputSchema.type, 'object', `${label}: ${t.name} schema`);
        ok(typeof t.description === 'string' && t.description.length > 10,
           `${label}: ${t.name} description`);
    }

    // remember / search / forget
    const r = await call(c, 'remember', { text: "The user's favourite colour is teal",
                                          namespace: ['u1'], key: 'colour',
                                          metadata: { kind: 'pref' } });
    eq(r.key, 'colour', `${label}: remember answers the key`);
    for (let i = 0; i < 30; i++)
        await call(c, 'remember', { text: `note number ${i} about gardening`,
                                    namespace: ['u1', 'notes'] });
    const s = await call(c, 'search_memory', { query: 'favourite colour', namespace: ['u1'] });
    eq(s.results[0].key, 'colour', `${label}: search finds the colour`);
    const f = await call(c, 'search_memory', { query: 'colour', filter: { kind: 'other' } });
    eq(f.results.length, 0, `${label}: metadata filter`);
    // the names bonus: the memory naming a place the query does not first
    await call(c, 'remember', { text: 'travel last summer was fun', namespace: ['trips'],
                                key: 'a', metadata: { names: [] } });
    await call(c, 'remember', { text: 'travel last summer to Sweden', namespace: ['trips'],
                                key: 'b', metadata: { names: ['Sweden'] } });
    const nb = await call(c, 'search_memory', { query: 'travel last summer fun', namespace: ['trips'],
                                                mode: 'text', names_field: 'names', names_bonus: 1 });
    eq(nb.results[0].key, 'b', `${label}: names bonus ranks the named memory first`);
    eq(nb.results[0].score, 1, `${label}: names bonus at full weight`);
    const n0 = await call(c, 'search_memory', { query: 'travel last summer fun', namespace: ['trips'], mode: 'text' });
    eq(n0.results[0].key, 'a', `${label}: no names bonus unless asked`);
    await callError(c, 'search_memory', { query: 'x', names_bonus: 0.5 }, /names_field/);

    // pagination with cursors, and a token budget
    let cursor, seen = new Set(), pages = 0;
    do {
        const p = await call(c, 'list_memories', cursor ? { namespace: ['u1', 'notes'], limit: 7, cursor }
                                                      : { namespace: ['u1', 'notes'], limit: 7 });
        p.items.forEach((it) => seen.add(it.key));
        ok(p.items.length <= 7, `${label}: page size`);
        cursor = p.next_cursor;
        pages++;
    } while (cursor !== undefined && pages < 20);
    eq(seen.size, 30, `${label}: pages cover every memory exactly`);
    eq(pages, 5, `${label}: 30 items in pages of 7`);
    const b = await call(c, 'list_memories', { namespace: ['u1', 'notes'], limit: 30, max_tokens: 150 });
    ok(b.tokens <= 150, `${label}: reply within the token budget (${b.tokens})`);
    ok(b.items.length > 0 && b.items.length < 30, `${label}: budget cut the page`);
    eq(b.next_cursor, String(b.items.length), `${label}: cursor resumes after the cut`);
    const sp = await call(c, 'search_memory', { query: 'gardening note', limit: 5 });
    eq(sp.results.length, 5, `${label}: search page`);
    eq(sp.next_cursor, '5', `${label}: search cursor`);
    const sp2 = await call(c, 'search_memory', { query: 'gardening note', limit: 5, cursor: '5' });
    ok(!sp2.results.some((x) => sp.results.some((y) => y.key === x.key)),
       `${label}: the second search page repeats nothing`);

    // bad arguments are tool errors naming the argument
    await callError(c, 'search_memory', {}, /query/);
    await callError(c, 'search_memory', { query: 5 }, /query/);
    await callError(c, 'search_memory', { query: 'x', cursor: 'zz' }, /cursor/);
    await callError(c, 'search_memory', { query: 'x', mode: 'fuzzy' }, /mode/);
    await callError(c, 'remember', { text: 'x', namespace: 'u1' }, /namespace/);
    await callError(c, 'remember', { text: 'x', namespace: ['u1', ''] }, /part 1 is empty/);
    await callError(c, 'remember', { text: 'x', colour: 'red' }, /unknown argument 'colour'/);
    await callError(c, 'list_memories', { limit: 0 }, /limit/);
    await callError(c, 'forget', { namespace: ['u1'], key: 'never' }, /no item/);
    await assert.rejects(c.callTool({ name: 'no_such_tool', arguments: {} }),
                         /unknown tool/, `${label}: unknown tool is a protocol error`);
    checks++;

    await call(c, 'forget', { namespace: ['u1'], key: 'colour' });
    const s2 = await call(c, 'search_memory', { query: 'favourite colour teal', namespace: ['u1'], mode: 'text' });
    eq(s2.results.length, 0, `${label}: forgotten`);

    // the file-style memory tool
    let m = await c.callTool({ name: 'memory', arguments: { command: 'create', path: '/memories/todo.md', file_text: 'buy milk\n' } });
    ok(!m.isError, `${label}: memory create`);
    m = await c.callTool({ name: 'memory', arguments: { command: 'str_replace', path: '/memories/todo.md', old_str: 'milk', new_str: 'tea' } });
    ok(!m.isError, `${label}: memory str_replace`);
    m = await c.callTool({ name: 'memory', arguments: { command: 'insert', path: '/memories/todo.md', insert_line: 1, insert_text: 'call mum\n' } });
    ok(!m.isError, `${label}: memory insert`);
    m = await c.callTool({ name: 'memory', arguments: { command: 'rename', old_path: '/memories/todo.md', new_path: '/memories/done.md' } });
    ok(!m.isError, `${label}: memory rename`);
    m = await c.callTool({ name: 'memory', arguments: { command: 'view', path: '/memories/done.md' } });
    ok(!m.isError && /buy tea/.test(m.content[0].text) && /call mum/.test(m.content[0].text),
       `${label}: memory view shows the edits`);
    m = await c.callTool({ name: 'memory', arguments: { command: 'view', path: '/memories/../../etc/passwd' } });
    ok(m.isError && /does not exist/.test(m.content[0].text), `${label}: memory path escape`);
    m = await c.callTool({ name: 'memory', arguments: { command: 'delete', path: '/memories/done.md' } });
    ok(!m.isError, `${label}: memory delete`);
    await callError(c, 'memory', { command: 'explode', path: '/memories' }, /explode|command/i);

    // recall, tokens, trim
    const rc = await call(c, 'recall_conversations', { query: 'dog' });
    ok(Array.isArray(rc.results), `${label}: recall answers a list`);
    const tk = await call(c, 'count_tokens', { text: 'hello world', model: 'gpt-4o' });
    eq(tk.tokens, 2, `${label}: count_tokens`);
    const tm = await call(c, 'trim_messages', { max_messages: 1, messages: [
        { role: 'user', content: 'hello' }, { role: 'assistant', content: 'hi there' }] });
    eq(tm.kept, 1, `${label}: trim_messages`);
    await callError(c, 'trim_messages', { messages: 'x' }, /messages/);

    // resources
    const res = (await c.listResources()).resources.map((x) => x.uri);
    ok(res.includes('agentmem://namespaces'), `${label}: resources list`);
    ok(res.includes('agentmem://items/["u1","notes"]'), `${label}: a namespace resource`);
    const rr = await c.readResource({ uri: 'agentmem://items/["u1","notes"]' });
    eq(JSON.parse(rr.contents[0].text).items.length, 30, `${label}: read a resource`);
    await assert.rejects(c.readResource({ uri: 'agentmem://nope' }), /not found/);
    checks++;
}

async function main() {
    // stdio
    const c1 = await stdioClient(dir + '/stdio.db');
    await exercise(c1, 'stdio');
    await c1.close();

    // streamable HTTP, tenant A; tenant B sees none of it
    const a = await httpClient(keyA);
    ok(a.t.sessionId && a.t.sessionId.length === 32, 'http: a session id');
    await exercise(a.c, 'http');
    const bb = await httpClient(keyB);
    const bl = await call(bb.c, 'list_memories', {});
    eq(bl.items.length, 0, 'http: tenant B lists nothing of A');
    const bs = await call(bb.c, 'search_memory', { query: 'gardening note' });
    eq(bs.results.length, 0, 'http: tenant B finds nothing of A');
    const bm = await bb.c.callTool({ name: 'memory', arguments: { command: 'view', path: '/memories' } });
    ok(!/todo|done/.test(bm.content[0].text), 'http: tenant B sees no file of A');
    await a.t.terminateSession();
    await a.c.close();
    await bb.c.close();

    // two processes on one database, 20 concurrent writers each
    const p1 = await stdioClient(dir + '/shared.db');
    const p2 = await stdioClient(dir + '/shared.db');
    const writes = [];
    for (let i = 0; i < 20; i++) {
        writes.push(call(p1, 'remember', { text: `p1 fact ${i}`, namespace: ['conc'], key: `p1-${i}` }));
        writes.push(call(p2, 'remember', { text: `p2 fact ${i}`, namespace: ['conc'], key: `p2-${i}` }));
    }
    const acks = await Promise.all(writes);
    eq(acks.length, 40, 'concurrent: 40 acknowledged');
    const all = await call(p1, 'list_memories', { namespace: ['conc'], limit: 100 });
    eq(all.items.length, 40, 'concurrent: all 40 writes are there (seen by process 1)');
    const all2 = await call(p2, 'list_memories', { namespace: ['conc'], limit: 100 });
    eq(all2.items.length, 40, 'concurrent: and by process 2');
    await p1.close();
    await p2.close();
    console.log(`mcp_client: ${checks} checks passed`);
}

main().catch((e) => { console.error('FAIL', e); process.exit(1); });
