// openapi_check.js URL -- fetch /openapi.json from a running `agentmem
// serve`, check it is an OpenAPI 3.1 document whose schemas compile, then
// call every route (successes and errors) and validate each real reply
// against the schema the document gives for that route and status. Every
// documented route must have been answered 200 at least once.
'use strict';
const Ajv2020 = require('ajv/dist/2020').default;

const url = process.argv[2];
let checks = 0;
const fail = (msg) => { console.error('FAIL ' + msg); process.exit(1); };

async function post(path, body) {
    const r = await fetch(url + path, { method: 'POST', body: JSON.stringify(body) });
    return { status: r.status, type: r.headers.get('content-type'), body: await r.json() };
}

async function main() {
    const doc = await (await fetch(url + '/openapi.json')).json();
    if (doc.openapi !== '3.1.0') fail('openapi is ' + doc.openapi);
    if (!doc.info || !doc.info.title || !doc.info.version) fail('info');
    const ajv = new Ajv2020({ strict: false, allErrors: true });
    ajv.addSchema({ $id: 'api', components: doc.components });
    const fix = (s) => JSON.parse(JSON.stringify(s).replaceAll(
        '"#/components/', '"api#/components/'));
    const validators = {};
    for (const [path, item] of Object.entries(doc.paths)) {
        for (const [method, op] of Object.entries(item)) {
            if (!op.responses || !op.summary) fail(`${path} ${method}: responses/summary`);
            for (const [status, resp] of Object.entries(op.responses)) {
                const schema = resp.content && resp.content['application/json'] &&
                               resp.content['application/json'].schema;
                if (!schema) continue;
                validators[`${method} ${path} ${status}`] = ajv.compile(fix(schema));
                checks++;
            }
            if (op.requestBody) {
                ajv.compile(fix(op.requestBody.content['application/json'].schema));
                checks++;
            }
        }
    }
    const ok200 = new Set();
    async function call(path, body, want) {
        const r = body === undefined
            ? await (async () => { const x = await fetch(url + path);
                                   return { status: x.status, type: x.headers.get('content-type'),
                                            body: await x.json() }; })()
            : await post(path, body);
        const method = body === undefined ? 'get' : 'post';
        if (r.status !== want) fail(`${path} ${JSON.stringify(body)}: ${r.status}, want ${want}: ${JSON.stringify(r.body)}`);
        if (!/^application\/json/.test(r.type || '')) fail(`${path}: content-type ${r.type}`);
        const v = validators[`${method} ${path} ${r.status}`];
        if (!v) fail(`${method} ${path}: status ${r.status} is not documented`);
        if (!v(r.body)) fail(`${path} ${r.status}: ${JSON.stringify(v.errors)} in ${JSON.stringify(r.body)}`);
        if (r.status === 200) ok200.add(path);
        checks++;
        return r.body;
    }

    const msgs = [{ role: 'system', content: 'be brief' }, { role: 'user', content: 'hello' },
                  { role: 'assistant', content: 'hi' }];
    await call('/healthz', undefined, 200);
    await call('/v1/items/put', { ns: ['u'], key: 'k', value: { a: 1 }, meta: { m: 1 }, ttl_ms: 60000 }, 200);
    await call('/v1/items/put', { ns: ['u', 'sub'], key: 'k2', value: 'text about tea', vector: null }, 200);
    await call('/v1/items/put', { ns: ['u'], key: 'k' }, 400);
    await call('/v1/items/get', { ns: ['u'], key: 'k' }, 200);
    await call('/v1/items/get', { ns: ['u'], key: 'none' }, 404);
    await call('/v1/items/list', { ns: ['u'], limit: 1 }, 200);
    await call('/v1/items/list', { limit: 'x' }, 400);
    await call('/v1/namespaces', { max_depth: 1 }, 200);
    await call('/v1/search', { query: 'tea' }, 200);
    await call('/v1/search', { query: 'tea', mode: 'text', filter: { m: 1 } }, 200);
    await call('/v1/search', { mode: 'x' }, 400);
    await call('/v1/items/delete', { ns: ['u'], key: 'k' }, 200);
    await call('/v1/items/delete', { ns: ['u'], key: 'k' }, 404);
    await call('/v1/items/undo', { ns: ['u'], key: 'k' }, 200);
    await call('/v1/items/history', { ns: ['u'], key: 'k' }, 200);
    await call('/v1/sessions/add', { session_id: 's', user_id: 'u', items: msgs }, 200);
    await call('/v1/sessions/get', { session_id: 's', limit: 2 }, 200);
    await call('/v1/sessions/list', { user_id: 'u' }, 200);
    await call('/v1/sessions/pop', { session_id: 's' }, 200);
    await call('/v1/sessions/clear', { session_id: 's' }, 200);
    await call('/v1/sessions/clear', { session_id: 's' }, 404);
    await call('/v1/recall/index', { user_id: 'u', session_id: 'c', messages: msgs }, 200);
    await call('/v1/recall/search', { user_id: 'u', query: 'hello' }, 200);
    await call('/v1/recall/tool', { user_id: 'u', format: 'anthropic',
        call: { type: 'tool_use', id: 't', name: 'recall_conversations', input: { query: 'hello' } } }, 200);
    await call('/v1/memtool', { user_id: 'u', input: { command: 'create', path: '/memories/a', file_text: 'x' } }, 200);
    await call('/v1/memtool', { user_id: 'u', input: { command: 'view', path: '/etc' } }, 200);
    await call('/v1/memory/add', { conversation_id: 'c', messages: msgs }, 200);
    await call('/v1/memory/add', { conversation_id: 'c', messages: [{ content: 'x' }] }, 400);
    await call('/v1/memory/context', { conversation_id: 'c', format: 'anthropic' }, 200);
    await call('/v1/memory/stats', { conversation_id: 'c' }, 200);
    await call('/v1/tokens/count', { model: 'gpt-4o', text: 'hello' }, 200);
    await call('/v1/tokens/count', { messages: msgs }, 200);
    await call('/v1/context/trim', { messages: msgs, max_messages: 2 }, 200);
    await call('/v1/context/convert', { messages: msgs, to: 'anthropic' }, 200);
    await call('/v1/price', { model: 'gpt-4o', input_tokens: 10, output_tokens: 5 }, 200);
    // Provenance: dates present (gpt-4), a source without a date (gpt-4o),
    // none at all (an unknown model).
    await call('/v1/price', { model: 'gpt-4' }, 200);
    await call('/v1/price', { model: 'no-such-model' }, 200);
    await call('/v1/price', { model: '' }, 400);

    for (const [path, item] of Object.entries(doc.paths))
        if (path !== '/mcp' && path !== '/openapi.json' && !ok200.has(path))
            fail(`documented route ${path} was never answered 200`);
    console.log(`openapi_check: ${checks} checks passed`);
}
main().catch((e) => fail(e.stack));
