/* srv_mcp.c -- MCP (Model Context Protocol) over JSON-RPC 2.0: the
 * lifecycle messages, the tools and the resources, whatever transport
 * carried them.
 *
 * Each tool is a row of `tools`: name, description, input JSON schema and
 * the function that runs it. A tool builds the JSON body of the matching
 * HTTP route and runs that route's handler, so the MCP server and the HTTP
 * API share one implementation and one tenancy check (srv_ns / srv_id) and
 * cannot drift apart. A route's error becomes a tool result with isError
 * set, which the model can read and act on; only an unknown tool or
 * malformed params are JSON-RPC errors, as the specification asks.
 *
 * Lists and searches are paginated: a reply carries "next_cursor" when
 * there is more, and the next call passes it back as "cursor". A
 * "max_tokens" budget caps the reply: results are dropped from the end
 * until the reply, counted with our tokenizer, fits, and the cursor then
 * resumes at the first dropped result. The reference memory server returns
 * its whole graph (tens of thousands of tokens) to every read; this is the
 * fix.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/random.h>

#include "agentmem/version.h"
#include "srv_mcp.h"

/* Newest first; an initialize asking for another gets the first. */
static const char *const versions[] = {
    "2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05", NULL
};

const char *srv_mcp_version(const char *asked)
{
    for (size_t i = 0; asked != NULL && versions[i] != NULL; i++)
        if (strcmp(asked, versions[i]) == 0)
            return versions[i];
    return versions[0];
}

bool srv_mcp_version_ok(const char *v)
{
    for (size_t i = 0; versions[i] != NULL; i++)
        if (strcmp(v, versions[i]) == 0)
            return true;
    return false;
}

json_t *srv_mcp_error(json_t *id, int code, const char *message)
{
    return json_pack("{s:s, s:O, s:{s:i, s:s}}", "jsonrpc", "2.0",
                     "id", id != NULL ? id : json_null(),
                     "error", "code", code, "message", message);
}

static json_t *result(json_t *id, json_t *res)
{
    if (res == NULL)
        return srv_mcp_error(id, -32603, "out of memory");
    return json_pack("{s:s, s:O, s:o}", "jsonrpc", "2.0", "id", id,
                     "result", res);
}

/* ---- Tool plumbing ---- */

typedef struct tool_run {
    srv_ctx *ctx;
    const srv_tenant *tenant;
    json_t *args;          /* the call's arguments (borrowed) */
} tool_run;

/* A tool result: the text, and the object itself as structuredContent
 * when it is one. Steals `obj`. */
static json_t *tool_ok(json_t *obj)
{
    char *text;
    json_t *res;
    if (obj == NULL)
        return NULL;
    text = json_dumps(obj, JSON_COMPACT | JSON_ENCODE_ANY);
    if (text == NULL) {
        json_decref(obj);
        return NULL;
    }
    res = json_pack("{s:[{s:s, s:s}], s:b}", "content", "type", "text",
                    "text", text, "isError", 0);
    if (res != NULL && json_is_object(obj))
        json_object_set(res, "structuredContent", obj);
    json_decref(obj);
    free(text);
    return res;
}

static json_t *tool_error(const char *msg)
{
    return json_pack("{s:[{s:s, s:s}], s:b}", "content", "type", "text",
                     "text", msg, "isError", 1);
}

/* Run route handler `fn` on `body` (stolen) as the caller's tenant. On
 * success *reply gets the route's reply (yours) and NULL is returned; on
 * failure the isError tool result. */
static json_t *run_route(tool_run *r, srv_handler fn, bool writes,
                         json_t *body, json_t **reply)
{
    srv_call c = { 0 };
    json_t *err = NULL;

    *reply = NULL;
    c.ctx = r->ctx;
    c.tenant = r->tenant;
    c.body = body;
    c.status = 200;
    if (body == NULL)
        return NULL;
    c.store = srv_store_take(r->ctx, srv_reads_only(fn));
    if ((!writes || srv_need_write(&c)) && fn(&c)) {
        srv_store_give(r->ctx, c.store);
        *reply = c.reply;
        json_decref(body);
        return NULL;
    }
    srv_store_give(r->ctx, c.store);
    {
        json_t *e = json_object_get(c.reply, "error");
        const char *msg = json_string_value(json_object_get(e, "message"));
        err = tool_error(msg != NULL ? msg : "the call failed");
    }
    json_decref(c.reply);
    json_decref(body);
    return err;
}

/* Copy argument `from` into `body` as `to` when present. */
static void pass(json_t *body, const char *to, json_t *args,
                 const char *from)
{
    json_t *v = json_object_get(args, from);
    if (v != NULL)
        json_object_set(body, to, v);
}

/* The ranking arguments both search tools take, checked by their route
 * (srv_names, srv_unit) so that a bad one is the same error as over
 * HTTP. */
static void pass_rank(json_t *body, json_t *args)
{
    pass(body, "names_field", args, "names_field");
    pass(body, "names_bonus", args, "names_bonus");
    pass(body, "min_score", args, "min_score");
}

/* The namespace argument: an array of strings, default ["memories"]. */
static void pass_ns(json_t *body, const char *to, json_t *args, bool dflt)
{
    json_t *v = json_object_get(args, "namespace");
    if (v != NULL)
        json_object_set(body, to, v);
    else if (dflt)
        json_object_set_new(body, to, json_pack("[s]", "memories"));
}

/* "cursor" (decimal offset as a string) into *offset; false: bad. */
static bool cursor_of(json_t *args, size_t *offset)
{
    json_t *v = json_object_get(args, "cursor");
    char *end = NULL;
    unsigned long long n;
    *offset = 0;
    if (v == NULL || json_is_null(v))
        return true;
    if (!json_is_string(v) || json_string_value(v)[0] == '\0')
        return false;
    n = strtoull(json_string_value(v), &end, 10);
    if (*end != '\0' || n > 1000000)
        return false;
    *offset = (size_t)n;
    return true;
}

static bool limit_of(json_t *args, size_t dflt, size_t max, size_t *out)
{
    json_t *v = json_object_get(args, "limit");
    *out = dflt;
    if (v == NULL || json_is_null(v))
        return true;
    if (!json_is_integer(v) || json_integer_value(v) < 1 ||
        json_integer_value(v) > (json_int_t)max)
        return false;
    *out = (size_t)json_integer_value(v);
    return true;
}

/* Fit a page to the token budget: `items` is the page (borrowed; trimmed
 * in place), `offset` where it started and `more` whether results follow
 * it. Builds {"<key>": items, "next_cursor"?, "tokens"}. */
static json_t *page(tool_run *r, const char *key, json_t *items,
                    size_t offset, bool more, size_t max_tokens)
{
    json_t *out = json_object();
    const am_tokenizer *tz;
    am_error err = { AM_OK, "" };
    size_t tokens = 0;

    if (out == NULL)
        return NULL;
    tz = srv_tokenizer(r->ctx, NULL, &err);
    json_object_set(out, key, items);
    for (;;) {
        size_t n = json_array_size(items);
        char *text;
        bool cut = more || n < json_array_size(items);
        if (cut) {
            char cur[32];
            snprintf(cur, sizeof cur, "%zu", offset + n);
            json_object_set_new(out, "next_cursor", json_string(cur));
        } else {
            json_object_del(out, "next_cursor");
        }
        text = json_dumps(out, JSON_COMPACT);
        if (text == NULL)
            break;
        if (tz == NULL || am_tokenizer_count(tz, am_str_c(text), NULL,
                                             &tokens, &err) != AM_OK)
            tokens = am_tokens_approx(am_str_c(text));
        free(text);
        if (max_tokens == 0 || tokens <= max_tokens || n == 0)
            break;
        json_array_remove(items, n - 1);
        more = true;
    }
    json_object_set_new(out, "tokens", json_integer((json_int_t)tokens));
    return out;
}

static bool budget_of(json_t *args, size_t *out)
{
    json_t *v = json_object_get(args, "max_tokens");
    *out = 0;
    if (v == NULL || json_is_null(v))
        return true;
    if (!json_is_integer(v) || json_integer_value(v) < 1)
        return false;
    *out = (size_t)json_integer_value(v);
    return true;
}

/* ---- Tools ---- */

static json_t *t_remember(tool_run *r)
{
    json_t *body = json_object(), *reply = NULL, *err, *key, *ns;
    char gen[64];

    if (!json_is_string(json_object_get(r->args, "text")))
        return tool_error("argument 'text' (a string) is required");
    key = json_object_get(r->args, "key");
    if (key == NULL) {
        /* Time first, so generated keys list in the order stored; random
         * bits so that concurrent writers never collide. */
        struct timespec ts;
        uint64_t rnd = 0;
        clock_gettime(CLOCK_REALTIME, &ts);
        if (getrandom(&rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd)
            rnd ^= (uint64_t)ts.tv_nsec * 0x9e3779b97f4a7c15u;
        snprintf(gen, sizeof gen, "m-%lld%09ld-%016llx",
                 (long long)ts.tv_sec, ts.tv_nsec, (unsigned long long)rnd);
    }
    pass_ns(body, "ns", r->args, true);
    if (key != NULL)
        json_object_set(body, "key", key);
    else
        json_object_set_new(body, "key", json_string(gen));
    pass(body, "value", r->args, "text");
    pass(body, "meta", r->args, "metadata");
    err = run_route(r, srv_r_put, true, body, &reply);
    if (err != NULL)
        return err;
    json_decref(reply);
    ns = json_object_get(r->args, "namespace");
    return tool_ok(json_pack("{s:b, s:o, s:s}", "stored", 1, "namespace",
                             ns != NULL ? json_incref(ns) :
                             json_pack("[s]", "memories"),
                             "key", key != NULL ? json_string_value(key) :
                             gen));
}

static json_t *t_forget(tool_run *r)
{
    json_t *body = json_object(), *reply = NULL, *err;
    pass_ns(body, "ns", r->args, true);
    pass(body, "key", r->args, "key");
    err = run_route(r, srv_r_delete, true, body, &reply);
    if (err != NULL)
        return err;
    json_decref(reply);
    return tool_ok(json_pack("{s:b}", "deleted", 1));
}

static json_t *t_search(tool_run *r)
{
    json_t *body, *reply = NULL, *err, *items, *out;
    size_t offset, limit, budget;
    bool more;

    if (!cursor_of(r->args, &offset))
        return tool_error("argument 'cursor' is not a cursor this server "
                          "handed out");
    if (!limit_of(r->args, 10, 100, &limit))
        return tool_error("argument 'limit' must be an integer from 1 to "
                          "100");
    if (!budget_of(r->args, &budget))
        return tool_error("argument 'max_tokens' must be a positive "
                          "integer");
    if (offset + limit + 1 > 1000)
        return tool_error("search pages end at result 1000");
    body = json_object();
    pass_ns(body, "ns", r->args, false);
    pass(body, "query", r->args, "query");
    pass(body, "mode", r->args, "mode");
    pass(body, "filter", r->args, "filter");
    pass_rank(body, r->args);
    json_object_set_new(body, "limit",
                        json_integer((json_int_t)(offset + limit + 1)));
    err = run_route(r, srv_r_search, false, body, &reply);
    if (err != NULL)
        return err;
    items = json_array();
    {
        json_t *all = json_object_get(reply, "results");
        for (size_t i = offset; i < json_array_size(all) &&
                                i < offset + limit; i++)
            json_array_append(items, json_array_get(all, i));
        more = json_array_size(all) > offset + limit;
    }
    json_decref(reply);
    out = page(r, "results", items, offset, more, budget);
    json_decref(items);
    return tool_ok(out);
}

static json_t *t_list(tool_run *r)
{
    json_t *body, *reply = NULL, *err, *items, *out;
    size_t offset, limit, budget;

    if (!cursor_of(r->args, &offset))
        return tool_error("argument 'cursor' is not a cursor this server "
                          "handed out");
    if (!limit_of(r->args, 50, 500, &limit))
        return tool_error("argument 'limit' must be an integer from 1 to "
                          "500");
    if (!budget_of(r->args, &budget))
        return tool_error("argument 'max_tokens' must be a positive "
                          "integer");
    body = json_object();
    pass_ns(body, "ns", r->args, false);
    json_object_set_new(body, "limit", json_integer((json_int_t)limit));
    json_object_set_new(body, "offset", json_integer((json_int_t)offset));
    err = run_route(r, srv_r_list, false, body, &reply);
    if (err != NULL)
        return err;
    items = json_incref(json_object_get(reply, "items"));
    out = page(r, "items", items, offset,
               json_object_get(reply, "next_offset") != NULL, budget);
    json_decref(items);
    json_decref(reply);
    return tool_ok(out);
}

static json_t *t_recall(tool_run *r)
{
    json_t *body = json_object(), *reply = NULL, *err;
    if (json_object_get(r->args, "user_id") != NULL)
        pass(body, "user_id", r->args, "user_id");
    else
        json_object_set_new(body, "user_id", json_string("default"));
    pass(body, "query", r->args, "query");
    pass(body, "limit", r->args, "limit");
    pass_rank(body, r->args);
    err = run_route(r, srv_r_recall_search, false, body, &reply);
    return err != NULL ? err : tool_ok(reply);
}

static json_t *t_memory(tool_run *r)
{
    json_t *body = json_object(), *input = json_deep_copy(r->args);
    json_t *reply = NULL, *err, *res;
    const char *text;

    json_object_del(input, "user_id");
    if (json_object_get(r->args, "user_id") != NULL)
        pass(body, "user_id", r->args, "user_id");
    else
        json_object_set_new(body, "user_id", json_string("default"));
    json_object_set_new(body, "input", input);
    err = run_route(r, srv_r_memtool, false, body, &reply);
    if (err != NULL)
        return err;
    text = json_string_value(json_object_get(reply, "content"));
    res = json_pack("{s:[{s:s, s:s}], s:b}", "content", "type", "text",
                    "text", text != NULL ? text : "", "isError",
                    json_is_true(json_object_get(reply, "is_error")));
    json_decref(reply);
    return res;
}

static json_t *t_count(tool_run *r)
{
    json_t *body = json_object(), *reply = NULL, *err;
    pass(body, "text", r->args, "text");
    pass(body, "messages", r->args, "messages");
    pass(body, "model", r->args, "model");
    err = run_route(r, srv_r_tokens_count, false, body, &reply);
    return err != NULL ? err : tool_ok(reply);
}

static json_t *t_trim(tool_run *r)
{
    json_t *body = json_object(), *reply = NULL, *err;
    static const char *const fields[] = {
        "messages", "max_tokens", "max_messages", "model", "format",
        "strategy", NULL };
    for (size_t i = 0; fields[i] != NULL; i++)
        pass(body, fields[i], r->args, fields[i]);
    err = run_route(r, srv_r_trim, false, body, &reply);
    return err != NULL ? err : tool_ok(reply);
}

typedef json_t *(*tool_fn)(tool_run *r);

typedef struct tool_def {
    const char *name;
    const char *description;
    const char *schema;     /* JSON Schema of the arguments */
    tool_fn run;
} tool_def;

#define NS_SCHEMA                                                          \
    "\"namespace\":{\"type\":\"array\",\"items\":{\"type\":\"string\","    \
    "\"minLength\":1},\"description\":\"namespace parts, e.g. "           \
    "[\\\"user_1\\\",\\\"prefs\\\"]\"}"
#define PAGE_SCHEMA                                                        \
    "\"cursor\":{\"type\":\"string\",\"description\":\"next_cursor of "   \
    "the previous page\"},\"max_tokens\":{\"type\":\"integer\","           \
    "\"minimum\":1,\"description\":\"cap the reply at this many tokens\"}"

/* pass_rank's arguments; `field` says what names_field names. */
#define RANK_SCHEMA(field)                                                 \
    "\"names_field\":{\"type\":\"string\",\"description\":\"" field        \
    "\"},\"names_bonus\":{\"type\":\"number\",\"minimum\":0,"              \
    "\"maximum\":1,\"description\":\"how much names_field raises a "       \
    "score s, to s + bonus (1 - s) (default 0.03)\"},\"min_score\":{"      \
    "\"type\":\"number\",\"minimum\":0,\"maximum\":1,\"description\":"     \
    "\"leave out results scoring below it (scores are relevance in "       \
    "[0, 1]; 0.25 is a measured threshold for nothing relevant)\"}"

static const tool_def tools[] = {
    { "remember", "Store a memory (a text, optionally with metadata) under "
      "a namespace (default [\"memories\"]) and key (default: generated). "
      "Storing to an existing key replaces it; the change is kept in the "
      "item's history.",
      "{\"type\":\"object\",\"properties\":{\"text\":{\"type\":\"string\"},"
      NS_SCHEMA ",\"key\":{\"type\":\"string\",\"minLength\":1},"
      "\"metadata\":{\"type\":\"object\"}},\"required\":[\"text\"]}",
      t_remember },
    { "search_memory", "Search stored memories (hybrid full-text and "
      "vector by default), best first, paginated.",
      "{\"type\":\"object\",\"properties\":{\"query\":{\"type\":\"string\"},"
      NS_SCHEMA ",\"mode\":{\"type\":\"string\",\"enum\":[\"hybrid\","
      "\"text\",\"vector\"]},\"filter\":{\"type\":\"object\","
      "\"description\":\"metadata fields that must be equal\"},"
      RANK_SCHEMA(
      "a metadata field listing the names each memory mentions: those "
      "naming what the query does not rank higher") ","
      "\"limit\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":100},"
      PAGE_SCHEMA "},\"required\":[\"query\"]}",
      t_search },
    { "list_memories", "List stored memories under a namespace prefix, "
      "paginated.",
      "{\"type\":\"object\",\"properties\":{" NS_SCHEMA ",\"limit\":{"
      "\"type\":\"integer\",\"minimum\":1,\"maximum\":500}," PAGE_SCHEMA
      "}}",
      t_list },
    { "forget", "Delete one memory (it stays in the history and can be "
      "restored over the HTTP API).",
      "{\"type\":\"object\",\"properties\":{" NS_SCHEMA ",\"key\":{"
      "\"type\":\"string\",\"minLength\":1}},\"required\":[\"key\"]}",
      t_forget },
    { "recall_conversations", "Search a user's past conversations (indexed "
      "over the HTTP API) for what was said.",
      "{\"type\":\"object\",\"properties\":{\"query\":{\"type\":\"string\"},"
      "\"user_id\":{\"type\":\"string\",\"minLength\":1},\"limit\":{"
      "\"type\":\"integer\",\"minimum\":1,\"maximum\":100},"
      RANK_SCHEMA(
      "the metadata field the conversations were indexed with "
      "(names_field of /v1/recall/index): excerpts naming what the query "
      "does not rank higher") "},\"required\":[\"query\"]}",
      t_recall },
    { "memory", "A file-style memory under /memories: view a directory or "
      "file, create a file, str_replace or insert text, delete or rename.",
      "{\"type\":\"object\",\"properties\":{\"command\":{\"type\":\"string\","
      "\"enum\":[\"view\",\"create\",\"str_replace\",\"insert\",\"delete\","
      "\"rename\"]},\"path\":{\"type\":\"string\"},\"file_text\":{\"type\":"
      "\"string\"},\"old_str\":{\"type\":\"string\"},\"new_str\":{\"type\":"
      "\"string\"},\"insert_line\":{\"type\":\"integer\",\"minimum\":0},"
      "\"insert_text\":{\"type\":\"string\"},\"view_range\":{\"type\":"
      "\"array\",\"items\":{\"type\":\"integer\"}},\"old_path\":{\"type\":"
      "\"string\"},\"new_path\":{\"type\":\"string\"},\"user_id\":{\"type\":"
      "\"string\",\"minLength\":1}},\"required\":[\"command\"]}",
      t_memory },
    { "count_tokens", "Count the tokens of a text or of a conversation "
      "(OpenAI messages) for a model (default gpt-4o-mini).",
      "{\"type\":\"object\",\"properties\":{\"text\":{\"type\":\"string\"},"
      "\"messages\":{\"type\":\"array\"},\"model\":{\"type\":\"string\"}}}",
      t_count },
    { "trim_messages", "Trim a conversation to a token or message budget, "
      "keeping system messages and tool-call groups whole.",
      "{\"type\":\"object\",\"properties\":{\"messages\":{\"type\":\"array\"},"
      "\"max_tokens\":{\"type\":\"integer\",\"minimum\":0},\"max_messages\":{"
      "\"type\":\"integer\",\"minimum\":0},\"model\":{\"type\":\"string\"},"
      "\"format\":{\"type\":\"string\",\"enum\":[\"openai\",\"anthropic\","
      "\"agentmem\"]},\"strategy\":{\"type\":\"string\",\"enum\":[\"last\","
      "\"first\",\"tokens\"]}},\"required\":[\"messages\"]}",
      t_trim },
};

#define NTOOLS (sizeof tools / sizeof tools[0])

/* Required arguments and the types of the schema's top-level properties:
 * the checks every tool gets before it runs, so that a bad argument is a
 * readable tool error naming it. */
static json_t *check_args(const tool_def *d, json_t *schema, json_t *args)
{
    char msg[256];
    json_t *req = json_object_get(schema, "required");
    json_t *props = json_object_get(schema, "properties");
    size_t i;
    json_t *v;
    const char *k;

    json_array_foreach(req, i, v)
        if (json_object_get(args, json_string_value(v)) == NULL) {
            snprintf(msg, sizeof msg, "%s: argument '%s' is required",
                     d->name, json_string_value(v));
            return tool_error(msg);
        }
    json_object_foreach(args, k, v) {
        json_t *p = json_object_get(props, k);
        const char *type = json_string_value(json_object_get(p, "type"));
        bool ok = true;
        if (p == NULL) {
            snprintf(msg, sizeof msg, "%s: unknown argument '%s'", d->name,
                     k);
            return tool_error(msg);
        }
        if (type == NULL)
            continue;
        if (strcmp(type, "string") == 0)
            ok = json_is_string(v);
        else if (strcmp(type, "integer") == 0)
            ok = json_is_integer(v);
        else if (strcmp(type, "array") == 0)
            ok = json_is_array(v);
        else if (strcmp(type, "object") == 0)
            ok = json_is_object(v);
        if (!ok) {
            snprintf(msg, sizeof msg, "%s: argument '%s' must be of type %s",
                     d->name, k, type);
            return tool_error(msg);
        }
    }
    return NULL;
}

static json_t *tools_list(void)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < NTOOLS; i++) {
        json_t *schema = json_loads(tools[i].schema, 0, NULL);
        json_array_append_new(arr, json_pack("{s:s, s:s, s:o}",
                                             "name", tools[i].name,
                                             "description",
                                             tools[i].description,
                                             "inputSchema", schema));
    }
    return json_pack("{s:o}", "tools", arr);
}

static json_t *tools_call(srv_ctx *ctx, const srv_tenant *t, json_t *id,
                          json_t *params)
{
    const char *name = json_string_value(json_object_get(params, "name"));
    json_t *args = json_object_get(params, "arguments");
    json_t *schema, *res;
    tool_run r = { ctx, t, NULL };
    const tool_def *d = NULL;

    if (name == NULL)
        return srv_mcp_error(id, -32602, "params.name (a string) is "
                             "required");
    for (size_t i = 0; i < NTOOLS; i++)
        if (strcmp(tools[i].name, name) == 0)
            d = &tools[i];
    if (d == NULL) {
        char msg[128];
        snprintf(msg, sizeof msg, "unknown tool '%.64s'", name);
        return srv_mcp_error(id, -32602, msg);
    }
    if (args != NULL && !json_is_object(args))
        return srv_mcp_error(id, -32602, "params.arguments must be an "
                             "object");
    args = args != NULL ? json_incref(args) : json_object();
    schema = json_loads(d->schema, 0, NULL);
    res = check_args(d, schema, args);
    json_decref(schema);
    if (res == NULL) {
        r.args = args;
        res = d->run(&r);
    }
    json_decref(args);
    return result(id, res);
}

/* ---- Resources: the namespaces, and the items under one ---- */

static json_t *resources_list(srv_ctx *ctx, const srv_tenant *t)
{
    json_t *body = json_pack("{s:i}", "limit", 100), *reply = NULL;
    json_t *arr = json_array(), *ns;
    tool_run r = { ctx, t, NULL };
    size_t i;
    json_t *err = run_route(&r, srv_r_namespaces, false, body, &reply);

    json_decref(err);
    json_array_append_new(arr, json_pack("{s:s, s:s, s:s, s:s}",
        "uri", "agentmem://namespaces", "name", "namespaces",
        "description", "the namespaces holding memories",
        "mimeType", "application/json"));
    json_array_foreach(json_object_get(reply, "namespaces"), i, ns) {
        char *enc = json_dumps(ns, JSON_COMPACT);
        size_t cap = enc != NULL ? strlen(enc) + 32 : 0;
        char *uri = enc != NULL ? malloc(cap) : NULL;
        if (uri != NULL) {
            snprintf(uri, cap, "agentmem://items/%s", enc);
            json_array_append_new(arr, json_pack("{s:s, s:s, s:s}",
                "uri", uri, "name", enc, "mimeType", "application/json"));
        }
        free(uri);
        free(enc);
    }
    json_decref(reply);
    return json_pack("{s:o}", "resources", arr);
}

static json_t *resources_read(srv_ctx *ctx, const srv_tenant *t, json_t *id,
                              json_t *params)
{
    const char *uri = json_string_value(json_object_get(params, "uri"));
    json_t *body = NULL, *reply = NULL, *err;
    tool_run r = { ctx, t, NULL };
    srv_handler fn;
    char *text;
    json_t *res;

    if (uri == NULL)
        return srv_mcp_error(id, -32602, "params.uri is required");
    if (strcmp(uri, "agentmem://namespaces") == 0) {
        body = json_pack("{s:i}", "limit", 1000);
        fn = srv_r_namespaces;
    } else if (strncmp(uri, "agentmem://items/", 17) == 0) {
        json_t *ns = json_loads(uri + 17, 0, NULL);
        if (!json_is_array(ns)) {
            json_decref(ns);
            return srv_mcp_error(id, -32002, "resource not found");
        }
        body = json_pack("{s:o, s:i}", "ns", ns, "limit", 100);
        fn = srv_r_list;
    } else {
        return srv_mcp_error(id, -32002, "resource not found");
    }
    err = run_route(&r, fn, false, body, &reply);
    if (err != NULL) {
        json_decref(err);
        return srv_mcp_error(id, -32002, "resource not found");
    }
    text = json_dumps(reply, JSON_COMPACT);
    json_decref(reply);
    if (text == NULL)
        return srv_mcp_error(id, -32603, "out of memory");
    res = json_pack("{s:[{s:s, s:s, s:s}]}", "contents", "uri", uri,
                    "mimeType", "application/json", "text", text);
    free(text);
    return result(id, res);
}

/* ---- Dispatch ---- */

json_t *srv_mcp_handle(srv_ctx *ctx, const srv_tenant *t, json_t *msg)
{
    json_t *id, *params;
    const char *method;

    if (!json_is_object(msg))
        return srv_mcp_error(NULL, -32600, "a JSON-RPC message is an "
                             "object (batches are not supported)");
    id = json_object_get(msg, "id");
    method = json_string_value(json_object_get(msg, "method"));
    params = json_object_get(msg, "params");
    if (method == NULL)
        /* A response to a request of ours: we send none, so drop it. */
        return id != NULL && (json_object_get(msg, "result") != NULL ||
                              json_object_get(msg, "error") != NULL)
                   ? NULL
                   : srv_mcp_error(id, -32600, "'method' is required");
    if (!json_is_string(json_object_get(msg, "jsonrpc")) ||
        strcmp(json_string_value(json_object_get(msg, "jsonrpc")), "2.0"))
        return id != NULL ? srv_mcp_error(id, -32600, "'jsonrpc' must be "
                                          "\"2.0\"") : NULL;
    if (id == NULL)
        return NULL;   /* notifications: initialized, cancelled, ... */
    if (!json_is_string(id) && !json_is_integer(id))
        return srv_mcp_error(NULL, -32600, "'id' must be a string or an "
                             "integer");
    if (params != NULL && !json_is_object(params))
        return srv_mcp_error(id, -32602, "'params' must be an object");

    if (strcmp(method, "initialize") == 0) {
        const char *asked = json_string_value(
            json_object_get(params, "protocolVersion"));
        return result(id, json_pack(
            "{s:s, s:{s:{s:b}, s:{s:b, s:b}}, s:{s:s, s:s}, s:s}",
            "protocolVersion", srv_mcp_version(asked),
            "capabilities", "tools", "listChanged", 0,
            "resources", "subscribe", 0, "listChanged", 0,
            "serverInfo", "name", "agentmem", "version", am_version(),
            "instructions", "agentmem: long-term memory. remember stores, "
            "search_memory and list_memories read (paginated: pass "
            "next_cursor back as cursor; max_tokens caps a reply), memory "
            "is a file-style memory under /memories."));
    }
    if (strcmp(method, "ping") == 0)
        return result(id, json_object());
    if (strcmp(method, "tools/list") == 0)
        return result(id, tools_list());
    if (strcmp(method, "tools/call") == 0)
        return tools_call(ctx, t, id, params);
    if (strcmp(method, "resources/list") == 0)
        return result(id, resources_list(ctx, t));
    if (strcmp(method, "resources/templates/list") == 0)
        return result(id, json_pack("{s:[{s:s, s:s, s:s}]}",
            "resourceTemplates", "uriTemplate", "agentmem://items/{ns}",
            "name", "items under a namespace (a JSON array of parts)",
            "mimeType", "application/json"));
    if (strcmp(method, "resources/read") == 0)
        return resources_read(ctx, t, id, params);
    return srv_mcp_error(id, -32601, "method not found");
}
