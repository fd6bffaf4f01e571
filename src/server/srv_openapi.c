/* srv_openapi.c -- GET /openapi.json: the OpenAPI 3.1 document of every
 * route.
 *
 * The document is built once at start from the route table plus one row
 * per route here (request and response JSON Schemas). A route without a
 * row stops the server from starting, so the table and the document cannot
 * drift apart; tests/test_server_openapi.sh validates real replies of
 * every route against the schemas. Response objects are closed
 * (additionalProperties false), so a field added to a reply and not here
 * fails that test.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agentmem/version.h"
#include "srv_mcp.h"

/* JSON written as C tokens, turned into a string literal. */
#define S(...) #__VA_ARGS__

/* ---- Shared schemas (components) ---- */

static const char components[] = S({
    "Error": {"type": "object", "additionalProperties": false,
        "required": ["error"], "properties": {"error": {"type": "object",
        "additionalProperties": false, "required": ["code", "message"],
        "properties": {"code": {"type": "string"},
                       "message": {"type": "string"},
                       "field": {"type": "string"}}}}},
    "Namespace": {"type": "array", "items": {"type": "string",
                                             "minLength": 1}},
    "Ok": {"type": "object", "additionalProperties": false,
           "required": ["ok"], "properties": {"ok": {"const": true}}},
    "Item": {"type": "object", "additionalProperties": false,
        "required": ["namespace", "key", "value", "meta", "created_ms",
                     "updated_ms"],
        "properties": {"namespace": {"$ref": "#/components/schemas/Namespace"},
            "key": {"type": "string"}, "value": {}, "meta": {"type": "object"},
            "created_ms": {"type": "integer"}, "updated_ms": {"type": "integer"},
            "expires_ms": {"type": "integer"}, "score": {"type": "number"},
            "fts_score": {"type": "number"}, "vec_score": {"type": "number"}}},
    "HistoryEntry": {"type": "object", "additionalProperties": false,
        "required": ["namespace", "event", "at_ms", "actor"],
        "properties": {"namespace": {"$ref": "#/components/schemas/Namespace"},
            "event": {"enum": ["add", "update", "delete"]},
            "at_ms": {"type": "integer"}, "actor": {"type": "string"},
            "value": {}, "old_value": {}}},
    "Messages": {"description": "a conversation: an OpenAI messages array, an Anthropic request object {system, messages} or agentmem JSON, as 'format' says"},
    "Format": {"enum": ["openai", "anthropic", "agentmem"]},
    "MemoryStats": {"type": "object", "description": "the memory manager's statistics (am_memory_stats_json)",
        "required": ["current_tokens", "total_tokens", "messages",
                     "compression_count", "tokens_saved", "model"],
        "properties": {"current_tokens": {"type": "integer"},
            "total_tokens": {"type": "integer"},
            "messages": {"type": "integer"},
            "compression_count": {"type": "integer"},
            "tokens_saved": {"type": "integer"},
            "model": {"type": "string"}}}
});

/* ---- Per route: request and 200-response schemas ---- */

typedef struct api_row {
    const char *path;
    const char *request;    /* NULL: no body */
    const char *response;
} api_row;

#define NS_PROP "\"ns\": {\"$ref\": \"#/components/schemas/Namespace\"}"
#define KEY_REQ "{\"type\": \"object\", \"required\": [\"ns\", \"key\"], " \
    "\"properties\": {" NS_PROP ", \"key\": {\"type\": \"string\", "     \
    "\"minLength\": 1}}}"
#define OK_REF "{\"$ref\": \"#/components/schemas/Ok\"}"

static const api_row rows[] = {
    { "/healthz", NULL, S({"type": "object", "additionalProperties": false,
      "required": ["status"], "properties": {"status": {"const": "ok"}}}) },
    { "/v1/items/put", S({"type": "object", "required": ["ns", "key", "value"],
      "properties": {"ns": {"$ref": "#/components/schemas/Namespace"},
      "key": {"type": "string", "minLength": 1}, "value": {},
      "meta": {"type": "object"}, "text": {"type": "string"},
      "ttl_ms": {"type": "integer", "minimum": 0},
      "vector": {"type": "array", "items": {"type": "number"}}}}), OK_REF },
    { "/v1/items/get", KEY_REQ, S({"$ref": "#/components/schemas/Item"}) },
    { "/v1/items/delete", KEY_REQ, OK_REF },
    { "/v1/items/list", S({"type": "object", "properties": {
      "ns": {"$ref": "#/components/schemas/Namespace"},
      "limit": {"type": "integer", "minimum": 0, "maximum": 1000},
      "offset": {"type": "integer", "minimum": 0}}}),
      S({"type": "object", "additionalProperties": false,
      "required": ["items"], "properties": {"items": {"type": "array",
      "items": {"$ref": "#/components/schemas/Item"}},
      "next_offset": {"type": "integer"}}}) },
    { "/v1/items/history", KEY_REQ, S({"type": "object",
      "additionalProperties": false, "required": ["history"],
      "properties": {"history": {"type": "array",
      "items": {"$ref": "#/components/schemas/HistoryEntry"}}}}) },
    { "/v1/items/undo", KEY_REQ, OK_REF },
    { "/v1/namespaces", S({"type": "object", "properties": {
      "prefix": {"$ref": "#/components/schemas/Namespace"},
      "max_depth": {"type": "integer", "minimum": 0},
      "limit": {"type": "integer", "minimum": 0, "maximum": 10000}}}),
      S({"type": "object", "additionalProperties": false,
      "required": ["namespaces"], "properties": {"namespaces": {
      "type": "array", "items": {"$ref": "#/components/schemas/Namespace"}}}}) },
    { "/v1/search", S({"type": "object", "properties": {
      "ns": {"$ref": "#/components/schemas/Namespace"},
      "query": {"type": "string"},
      "mode": {"enum": ["hybrid", "text", "vector"]},
      "limit": {"type": "integer", "minimum": 0, "maximum": 1000},
      "filter": {"type": "object"},
      "vector": {"type": "array", "items": {"type": "number"}},
      "names_field": {"type": "string"},
      "names_bonus": {"type": "number", "minimum": 0, "maximum": 1},
      "min_score": {"type": "number", "minimum": 0, "maximum": 1}}}),
      S({"type": "object", "additionalProperties": false,
      "required": ["results"], "properties": {"results": {"type": "array",
      "items": {"$ref": "#/components/schemas/Item"}}}}) },
    { "/v1/sessions/add", S({"type": "object",
      "required": ["session_id", "items"], "properties": {
      "session_id": {"type": "string", "minLength": 1},
      "user_id": {"type": "string"}, "items": {"type": "array",
      "minItems": 1}}}),
      S({"type": "object", "additionalProperties": false,
      "required": ["ok", "added"], "properties": {"ok": {"const": true},
      "added": {"type": "integer"}}}) },
    { "/v1/sessions/get", S({"type": "object", "required": ["session_id"],
      "properties": {"session_id": {"type": "string", "minLength": 1},
      "limit": {"type": "integer", "minimum": 0}}}),
      S({"type": "object", "additionalProperties": false,
      "required": ["items"], "properties": {"items": {"type": "array"}}}) },
    { "/v1/sessions/pop", S({"type": "object", "required": ["session_id"],
      "properties": {"session_id": {"type": "string", "minLength": 1}}}),
      S({"type": "object", "additionalProperties": false,
      "required": ["item"], "properties": {"item": {}}}) },
    { "/v1/sessions/clear", S({"type": "object", "required": ["session_id"],
      "properties": {"session_id": {"type": "string", "minLength": 1}}}),
      OK_REF },
    { "/v1/sessions/list", S({"type": "object", "properties": {
      "user_id": {"type": "string", "minLength": 1}}}),
      S({"type": "object", "additionalProperties": false,
      "required": ["sessions"], "properties": {"sessions": {"type": "array",
      "items": {"type": "object", "additionalProperties": false,
      "required": ["session_id", "items", "created_ms", "updated_ms"],
      "properties": {"session_id": {"type": "string"},
      "items": {"type": "integer"}, "created_ms": {"type": "integer"},
      "updated_ms": {"type": "integer"}}}}}}) },
    { "/v1/recall/index", S({"type": "object",
      "required": ["user_id", "session_id", "messages"], "properties": {
      "user_id": {"type": "string", "minLength": 1},
      "session_id": {"type": "string", "minLength": 1},
      "messages": {"type": "array"},
      "chunk_size": {"type": "integer", "minimum": 0},
      "chunk_overlap": {"type": "integer", "minimum": 0},
      "names_field": {"type": "string"}}}),
      S({"type": "object", "additionalProperties": false,
      "required": ["ok", "chunks"], "properties": {"ok": {"const": true},
      "chunks": {"type": "integer"}}}) },
    { "/v1/recall/search", S({"type": "object",
      "required": ["user_id", "query"], "properties": {
      "user_id": {"type": "string", "minLength": 1},
      "query": {"type": "string", "minLength": 1},
      "limit": {"type": "integer", "minimum": 0, "maximum": 100},
      "names_field": {"type": "string"},
      "names_bonus": {"type": "number", "minimum": 0, "maximum": 1},
      "min_score": {"type": "number", "minimum": 0, "maximum": 1}}}),
      S({"type": "object", "additionalProperties": false,
      "required": ["results"], "properties": {"results": {"type": "array",
      "items": {"type": "object", "additionalProperties": false,
      "required": ["session_id", "text", "summary", "first", "last",
                   "score"],
      "properties": {"session_id": {"type": "string"},
      "text": {"type": "string"}, "summary": {"type": "string"},
      "first": {"type": "integer"}, "last": {"type": "integer"},
      "metadata": {"type": "object"}, "score": {"type": "number"}}}}}}) },
    { "/v1/recall/tool", S({"type": "object", "required": ["user_id", "call"],
      "properties": {"user_id": {"type": "string", "minLength": 1},
      "format": {"enum": ["openai", "anthropic"]},
      "call": {"type": "object", "description": "an OpenAI tool_calls entry or an Anthropic tool_use block"},
      "names_field": {"type": "string"},
      "names_bonus": {"type": "number", "minimum": 0, "maximum": 1}}}),
      S({"type": "object", "additionalProperties": false,
      "required": ["result"], "properties": {"result": {"type": "object",
      "description": "the tool-result message in the call's format"}}}) },
    { "/v1/memtool", S({"type": "object", "required": ["user_id", "input"],
      "properties": {"user_id": {"type": "string", "minLength": 1},
      "input": {"type": "object", "required": ["command"], "properties": {
      "command": {"enum": ["view", "create", "str_replace", "insert",
                           "delete", "rename"]}}}}}),
      S({"type": "object", "additionalProperties": false,
      "required": ["content", "is_error"], "properties": {
      "content": {"type": "string"}, "is_error": {"type": "boolean"}}}) },
    { "/v1/memory/add", S({"type": "object",
      "required": ["conversation_id", "messages"], "properties": {
      "conversation_id": {"type": "string", "minLength": 1},
      "messages": {"$ref": "#/components/schemas/Messages"},
      "format": {"$ref": "#/components/schemas/Format"}}}),
      S({"type": "object", "additionalProperties": false,
      "required": ["added", "compressions", "stats"], "properties": {
      "added": {"type": "integer"}, "compressions": {"type": "integer"},
      "stats": {"$ref": "#/components/schemas/MemoryStats"}}}) },
    { "/v1/memory/context", S({"type": "object",
      "required": ["conversation_id"], "properties": {
      "conversation_id": {"type": "string", "minLength": 1},
      "format": {"$ref": "#/components/schemas/Format"}}}),
      S({"type": "object", "additionalProperties": false,
      "required": ["messages", "stats"], "properties": {
      "messages": {"$ref": "#/components/schemas/Messages"},
      "stats": {"$ref": "#/components/schemas/MemoryStats"}}}) },
    { "/v1/memory/stats", S({"type": "object",
      "required": ["conversation_id"], "properties": {
      "conversation_id": {"type": "string", "minLength": 1}}}),
      S({"type": "object", "additionalProperties": false,
      "required": ["stats"], "properties": {
      "stats": {"$ref": "#/components/schemas/MemoryStats"}}}) },
    { "/v1/tokens/count", S({"type": "object", "properties": {
      "model": {"type": "string"}, "text": {"type": "string"},
      "messages": {"$ref": "#/components/schemas/Messages"}},
      "description": "exactly one of text and messages"}),
      S({"type": "object", "additionalProperties": false,
      "required": ["tokens", "model", "exact"], "properties": {
      "tokens": {"type": "integer"}, "model": {"type": "string"},
      "exact": {"type": "boolean"}}}) },
    { "/v1/context/trim", S({"type": "object", "required": ["messages"],
      "properties": {"messages": {"$ref": "#/components/schemas/Messages"},
      "format": {"$ref": "#/components/schemas/Format"},
      "out_format": {"$ref": "#/components/schemas/Format"},
      "max_tokens": {"type": "integer", "minimum": 0},
      "max_messages": {"type": "integer", "minimum": 0},
      "strategy": {"enum": ["last", "first", "tokens"]},
      "model": {"type": "string"}, "preserve_system": {"type": "boolean"},
      "start_on_user": {"type": "boolean"},
      "allow_partial": {"type": "boolean"}}}),
      S({"type": "object", "additionalProperties": false,
      "required": ["messages", "kept", "dropped", "tokens_before",
                   "tokens_after"],
      "properties": {"messages": {"$ref": "#/components/schemas/Messages"},
      "kept": {"type": "integer"}, "dropped": {"type": "integer"},
      "tokens_before": {"type": "integer"},
      "tokens_after": {"type": "integer"}}}) },
    { "/v1/context/convert", S({"type": "object",
      "required": ["messages", "to"], "properties": {
      "messages": {"$ref": "#/components/schemas/Messages"},
      "from": {"$ref": "#/components/schemas/Format"},
      "to": {"$ref": "#/components/schemas/Format"}}}),
      S({"type": "object", "additionalProperties": false,
      "required": ["messages"], "properties": {
      "messages": {"$ref": "#/components/schemas/Messages"}}}) },
    { "/v1/price", S({"type": "object", "required": ["model"],
      "properties": {"model": {"type": "string", "minLength": 1},
      "input_tokens": {"type": "integer", "minimum": 0},
      "output_tokens": {"type": "integer", "minimum": 0},
      "cached_input_tokens": {"type": "integer", "minimum": 0}}}),
      S({"type": "object", "additionalProperties": false,
      "required": ["model", "known", "usd", "input_per_mtok",
                   "output_per_mtok", "cached_input_per_mtok",
                   "context_window", "max_output", "price_source",
                   "price_checked", "limits_source", "limits_checked"],
      "properties": {"model": {"type": "string"},
      "known": {"type": "boolean"}, "usd": {"type": "number"},
      "input_per_mtok": {"type": "number"},
      "output_per_mtok": {"type": "number"},
      "cached_input_per_mtok": {"type": "number"},
      "context_window": {"type": "integer", "minimum": 0},
      "max_output": {"type": "integer", "minimum": 0},
      "price_source": {"type": ["string", "null"],
        "description": "the page the prices come from; null: none recorded"},
      "price_checked": {"type": ["string", "null"],
        "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}$",
        "description": "when the prices were last compared with the source (YYYY-MM-DD); null: never, approximate"},
      "limits_source": {"type": ["string", "null"],
        "description": "the page context_window and max_output come from"},
      "limits_checked": {"type": ["string", "null"],
        "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}$",
        "description": "when the limits were last compared with the source"}}}) },
};

#define NROWS (sizeof rows / sizeof rows[0])

static json_t *ref(const char *name)
{
    char buf[96];
    snprintf(buf, sizeof buf, "#/components/schemas/%s", name);
    return json_pack("{s:s}", "$ref", buf);
}

static json_t *json_body(json_t *schema)
{
    return json_pack("{s:{s:{s:o}}}", "content", "application/json",
                     "schema", schema);
}

static json_t *error_response(const char *what)
{
    json_t *r = json_body(ref("Error"));
    json_object_set_new(r, "description", json_string(what));
    return r;
}

/* The operation of one route; NULL when a schema does not parse. */
static json_t *operation(const srv_route *r, const api_row *row)
{
    json_t *rs = json_loads(row->response, 0, NULL);
    json_t *resp, *op, *responses;

    if (rs == NULL)
        return NULL;
    resp = json_body(rs);
    op = json_object();
    responses = json_object();
    json_object_set_new(resp, "description", json_string("success"));
    json_object_set_new(responses, "200", resp);
    if (row->request != NULL) {
        json_t *schema = json_loads(row->request, 0, NULL);
        json_t *body;
        if (schema == NULL) {
            json_decref(op);
            json_decref(responses);
            return NULL;
        }
        body = json_body(schema);
        json_object_set_new(body, "required", json_true());
        json_object_set_new(op, "requestBody", body);
        json_object_set_new(responses, "400", error_response(
            "bad input; the error names the field"));
        json_object_set_new(responses, "401", error_response(
            "no or unknown API key (with --keys)"));
        json_object_set_new(responses, "404", error_response(
            "no such item, session or route"));
        json_object_set_new(responses, "413", error_response(
            "body over --max-body"));
        if (r->writes)
            json_object_set_new(responses, "403", error_response(
                "the key may only read"));
    }
    json_object_set_new(responses, "503", error_response(
        "overloaded (past --max-conns) or out of memory; retry"));
    json_object_set_new(op, "parameters", json_pack("[{s:s}]", "$ref",
        "#/components/parameters/RequestId"));
    json_object_set_new(op, "summary", json_string(r->summary));
    json_object_set_new(op, "operationId", json_string(r->path + 1));
    json_object_set_new(op, "responses", responses);
    if (r->run != srv_r_healthz)
        json_object_set_new(op, "security", json_pack("[{s:[]}]", "key"));
    return op;
}

json_t *srv_openapi_build(char *missing, size_t cap)
{
    json_t *doc, *paths = json_object(), *comp;
    json_t *mcp;

    for (const srv_route *r = srv_routes; r->path != NULL; r++) {
        const api_row *row = NULL;
        json_t *op;
        for (size_t i = 0; i < NROWS; i++)
            if (strcmp(rows[i].path, r->path) == 0)
                row = &rows[i];
        op = row != NULL ? operation(r, row) : NULL;
        if (op == NULL) {
            snprintf(missing, cap, "%s", r->path);
            json_decref(paths);
            return NULL;
        }
        json_object_set_new(paths, r->path, json_pack("{s:o}",
            strcmp(r->method, "GET") == 0 ? "get" : "post", op));
    }
    mcp = json_pack("{s:s, s:s, s:o, s:{s:{s:s}, s:{s:s}, s:{s:s}}}",
        "summary", "MCP over streamable HTTP (JSON-RPC 2.0; initialize "
        "answers an Mcp-Session-Id header that later calls send back)",
        "operationId", "mcp",
        "requestBody", json_body(json_pack("{s:s}", "type", "object")),
        "responses", "200", "description", "a JSON-RPC response",
        "202", "description", "a notification was accepted",
        "404", "description", "unknown or ended session");
    json_object_set_new(paths, "/mcp", json_pack("{s:o, s:{s:s, s:{s:{s:s}}}}",
        "post", mcp, "delete", "summary", "end an MCP session",
        "responses", "200", "description", "ended"));
    json_object_set_new(paths, "/openapi.json", json_pack(
        "{s:{s:s, s:{s:{s:s}}}}", "get", "summary", "this document",
        "responses", "200", "description", "OpenAPI 3.1"));
    comp = json_loads(components, 0, NULL);
    if (comp == NULL) {
        snprintf(missing, cap, "components");
        json_decref(paths);
        return NULL;
    }
    doc = json_pack("{s:s, s:{s:s, s:s, s:s}, s:o, s:{s:o, s:{s:{s:s, s:s}}}}",
        "openapi", "3.1.0",
        "info", "title", "agentmem", "version", am_version(),
        "description", "Memory for LLM agents over HTTP: store items, "
        "search, sessions, conversation recall, the memory tool and "
        "context operations. Namespaces are arrays of strings; with "
        "--keys every call is confined to its key's tenant.",
        "paths", paths,
        "components", "schemas", comp, "securitySchemes", "key",
        "type", "http", "scheme", "bearer");
    /* Every route takes X-Request-Id (srv_http.c). */
    json_object_set_new(json_object_get(doc, "components"), "parameters",
        json_pack("{s:{s:s, s:s, s:b, s:s, s:{s:s, s:s}}}", "RequestId",
            "name", "X-Request-Id", "in", "header", "required", 0,
            "description", "names the request: the reply carries the same "
            "header back and the server's log line the id; anything else "
            "than 1-64 of A-Z a-z 0-9 . _ : - is answered 400",
            "schema", "type", "string", "pattern",
            "^[A-Za-z0-9._:-]{1,64}$"));
    return doc;
}
