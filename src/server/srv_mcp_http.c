/* srv_mcp_http.c -- MCP's streamable HTTP transport at /mcp.
 *
 * Every client message is its own POST; we answer a request with one JSON
 * body (application/json, which the client's Accept must allow) and a
 * notification with 202 and no body. We never stream and never send
 * requests of our own, so GET (the server-to-client stream) is 405, which
 * the specification allows.
 *
 * initialize hands out an Mcp-Session-Id (128 random bits), bound to the
 * tenant whose key opened it; every later POST must carry it, with the same
 * tenant's key, or is answered 400 (missing) or 404 (unknown, ended or
 * someone else's). DELETE ends a session. The table is bounded: past
 * MAX_SESSIONS the least recently used session is forgotten, and its
 * client gets 404 and initializes again, as the specification provides.
 *
 * A browser page must not reach a loopback server through DNS rebinding:
 * a request with an Origin header that is not a loopback origin is 403.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "srv_mcp.h"

#define MAX_SESSIONS 4096

typedef struct session {
    char id[33];
    char tenant[64];
    int64_t used;       /* a counter, for least-recently-used eviction */
} session;

struct srv_mcp_sessions {
    pthread_mutex_t lock;
    session *v;
    size_t count;
    int64_t clock;
};

am_status srv_mcp_sessions_create(srv_mcp_sessions **out)
{
    srv_mcp_sessions *s = calloc(1, sizeof *s);
    if (s == NULL)
        return AM_ENOMEM;
    s->v = calloc(MAX_SESSIONS, sizeof *s->v);
    if (s->v == NULL) {
        free(s);
        return AM_ENOMEM;
    }
    pthread_mutex_init(&s->lock, NULL);
    *out = s;
    return AM_OK;
}

void srv_mcp_sessions_free(srv_mcp_sessions *s)
{
    if (s == NULL)
        return;
    pthread_mutex_destroy(&s->lock);
    free(s->v);
    free(s);
}

static bool session_new(srv_mcp_sessions *s, const char *tenant,
                        char id[33])
{
    unsigned char rnd[16];
    size_t slot = 0;

    if (getrandom(rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd)
        return false;
    for (size_t i = 0; i < sizeof rnd; i++)
        snprintf(id + 2 * i, 3, "%02x", rnd[i]);
    pthread_mutex_lock(&s->lock);
    if (s->count < MAX_SESSIONS) {
        slot = s->count++;
    } else {
        for (size_t i = 1; i < s->count; i++)
            if (s->v[i].used < s->v[slot].used)
                slot = i;
    }
    memcpy(s->v[slot].id, id, 33);
    snprintf(s->v[slot].tenant, sizeof s->v[slot].tenant, "%s", tenant);
    s->v[slot].used = ++s->clock;
    pthread_mutex_unlock(&s->lock);
    return true;
}

/* Find (and touch) the session `id` of `tenant`; with `end`, remove it. */
static bool session_use(srv_mcp_sessions *s, const char *id,
                        const char *tenant, bool end)
{
    bool found = false;
    if (strlen(id) != 32)
        return false;
    pthread_mutex_lock(&s->lock);
    for (size_t i = 0; i < s->count; i++) {
        if (strcmp(s->v[i].id, id) != 0)
            continue;
        if (strcmp(s->v[i].tenant, tenant) == 0) {
            found = true;
            if (end)
                s->v[i] = s->v[--s->count];
            else
                s->v[i].used = ++s->clock;
        }
        break;
    }
    pthread_mutex_unlock(&s->lock);
    return found;
}

/* ---- Replies ---- */

static enum MHD_Result reply(struct MHD_Connection *con, int status,
                             json_t *body, const char *session_id,
                             const char *allow, int *out_status)
{
    char *text = body != NULL ? json_dumps(body, JSON_COMPACT) : NULL;
    const char *request_id = MHD_lookup_connection_value(
        con, MHD_HEADER_KIND, "X-Request-Id");
    struct MHD_Response *resp;
    enum MHD_Result ret;

    json_decref(body);
    resp = text != NULL
        ? MHD_create_response_from_buffer(strlen(text), text,
                                          MHD_RESPMEM_MUST_FREE)
        : MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
    if (resp == NULL) {
        free(text);
        return MHD_NO;
    }
    if (text != NULL)
        MHD_add_response_header(resp, "Content-Type", "application/json");
    if (session_id != NULL)
        MHD_add_response_header(resp, "Mcp-Session-Id", session_id);
    if (allow != NULL)
        MHD_add_response_header(resp, "Allow", allow);
    /* srv_http.c answered 400 to a malformed one before we got here. */
    if (request_id != NULL)
        MHD_add_response_header(resp, "X-Request-Id", request_id);
    *out_status = status;
    ret = MHD_queue_response(con, (unsigned)status, resp);
    MHD_destroy_response(resp);
    return ret;
}

static enum MHD_Result rpc_error(struct MHD_Connection *con, int status,
                                 int code, const char *msg, int *out)
{
    return reply(con, status, srv_mcp_error(NULL, code, msg), NULL, NULL,
                 out);
}

static bool loopback_origin(const char *o)
{
    static const char *const ok[] = { "http://localhost", "http://127.0.0.1",
                                      "http://[::1]", "https://localhost",
                                      "https://127.0.0.1", "https://[::1]",
                                      NULL };
    for (size_t i = 0; ok[i] != NULL; i++) {
        size_t n = strlen(ok[i]);
        if (strncmp(o, ok[i], n) == 0 && (o[n] == '\0' || o[n] == ':'))
            return true;
    }
    return false;
}

enum MHD_Result srv_mcp_http(srv_ctx *ctx, const srv_tenant *t,
                             struct MHD_Connection *con, const char *method,
                             const char *body, size_t len, int *status)
{
    const char *origin = MHD_lookup_connection_value(con, MHD_HEADER_KIND,
                                                     "Origin");
    const char *sid = MHD_lookup_connection_value(con, MHD_HEADER_KIND,
                                                  "Mcp-Session-Id");
    const char *pv = MHD_lookup_connection_value(con, MHD_HEADER_KIND,
                                                 "MCP-Protocol-Version");
    const char *accept = MHD_lookup_connection_value(con, MHD_HEADER_KIND,
                                                     "Accept");
    json_t *msg, *res;
    json_error_t je;
    char new_id[33];
    bool init;

    if (origin != NULL && ctx->keys == NULL && !loopback_origin(origin))
        return rpc_error(con, 403, -32600, "Origin is not a loopback "
                         "origin", status);
    if (strcmp(method, "DELETE") == 0) {
        if (sid == NULL)
            return rpc_error(con, 400, -32600, "Mcp-Session-Id is required",
                             status);
        if (!session_use(ctx->sessions, sid, t->name, true))
            return rpc_error(con, 404, -32600, "no such session", status);
        return reply(con, 200, NULL, NULL, NULL, status);
    }
    if (strcmp(method, "POST") != 0)
        return reply(con, 405, srv_mcp_error(NULL, -32600, "this server "
                     "offers no stream: POST messages to /mcp"), NULL,
                     "POST, DELETE", status);
    if (accept != NULL && strstr(accept, "application/json") == NULL &&
        strstr(accept, "*/*") == NULL)
        return rpc_error(con, 406, -32600, "Accept must allow "
                         "application/json", status);
    if (pv != NULL && !srv_mcp_version_ok(pv))
        return rpc_error(con, 400, -32600, "unsupported "
                         "MCP-Protocol-Version", status);
    if (len == 0)
        return rpc_error(con, 400, -32700, "empty body", status);
    if (srv_json_depth(body, len, ctx->max_depth) > ctx->max_depth)
        return rpc_error(con, 400, -32600, "message nests too deep",
                         status);
    msg = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je);
    if (msg == NULL)
        return rpc_error(con, 400, -32700, "parse error: not JSON",
                         status);
    init = json_is_object(msg) &&
           json_is_string(json_object_get(msg, "method")) &&
           strcmp(json_string_value(json_object_get(msg, "method")),
                  "initialize") == 0;
    if (!init) {
        if (sid == NULL) {
            json_decref(msg);
            return rpc_error(con, 400, -32600, "Mcp-Session-Id is required "
                             "(send initialize first)", status);
        }
        if (!session_use(ctx->sessions, sid, t->name, false)) {
            json_decref(msg);
            return rpc_error(con, 404, -32600, "no such session", status);
        }
    }
    res = srv_mcp_handle(ctx, t, msg);
    if (init && res != NULL && json_object_get(res, "result") != NULL) {
        if (!session_new(ctx->sessions, t->name, new_id)) {
            json_decref(msg);
            json_decref(res);
            return rpc_error(con, 503, -32603, "no randomness for a "
                             "session id", status);
        }
        json_decref(msg);
        return reply(con, 200, res, new_id, NULL, status);
    }
    json_decref(msg);
    if (res == NULL)
        return reply(con, 202, NULL, NULL, NULL, status);
    return reply(con, 200, res, NULL, NULL, status);
}
