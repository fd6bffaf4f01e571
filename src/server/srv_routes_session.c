/* srv_routes_session.c -- sessions, conversation recall and the file-style
 * memory tool over HTTP.
 *
 * All of these address their data by user or session id, not namespace, so
 * each id goes through srv_id, which puts "<tenant>:" in front under
 * --keys. Ids the library hands back (session lists) have it taken off
 * again by srv_strip_id.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agentmem/memtool.h"
#include "srv_int.h"

/* A library reply that is JSON text in `b`, parsed; NULL with the reply
 * set. */
static json_t *loads(srv_call *c, const am_buf *b)
{
    json_t *v = json_loadb(b->ptr, b->len, JSON_ALLOW_NUL, NULL);
    if (v == NULL)
        srv_fail(c, 500, NULL, "the library answered JSON we cannot read");
    return v;
}

bool srv_r_session_add(srv_call *c)
{
    char *uid_buf = NULL, *sid_buf = NULL;
    am_str uid, sid;
    json_t *items = json_object_get(c->body, "items");
    am_str *texts = NULL;
    size_t n = 0, i;
    json_t *it;
    bool ok = false;
    am_status st;

    if (!srv_id(c, "session_id", false, &sid_buf, &sid) ||
        !srv_id(c, "user_id", true, &uid_buf, &uid))
        goto out;
    if (!json_is_array(items) || json_array_size(items) == 0) {
        srv_fail(c, 400, "items", "field 'items' must be a non-empty array "
                 "of JSON documents");
        goto out;
    }
    n = json_array_size(items);
    texts = calloc(n, sizeof *texts);
    if (texts == NULL) {
        srv_fail(c, 503, NULL, "out of memory");
        goto out;
    }
    json_array_foreach(items, i, it) {
        char *t = json_dumps(it, JSON_COMPACT | JSON_ENCODE_ANY);
        if (t == NULL) {
            srv_fail(c, 503, "items", "out of memory");
            goto out;
        }
        texts[i] = am_str_c(t);
    }
    st = am_session_add(c->store, uid, sid, texts, n);
    if (st != AM_OK) {
        srv_fail_status(c, st, NULL, "session add");
        goto out;
    }
    ok = srv_ok(c, json_pack("{s:b, s:I}", "ok", 1, "added", (json_int_t)n));
out:
    if (texts != NULL)
        for (i = 0; i < n; i++)
            free((void *)(uintptr_t)texts[i].ptr);
    free(texts);
    free(uid_buf);
    free(sid_buf);
    return ok;
}

bool srv_r_session_get(srv_call *c)
{
    char *sid_buf = NULL;
    am_str sid;
    size_t limit = 0;
    am_buf out = AM_BUF_INIT;
    json_t *v = NULL;
    am_status st;

    if (!srv_id(c, "session_id", false, &sid_buf, &sid) ||
        !srv_size(c, "limit", 1000000, &limit))
        goto out;
    st = am_session_get(c->store, sid, limit, &out);
    if (st != AM_OK)
        srv_fail_status(c, st, NULL, "session get");
    else if ((v = loads(c, &out)) != NULL)
        srv_ok(c, json_pack("{s:o}", "items", v));
out:
    am_buf_free(&out);
    free(sid_buf);
    return v != NULL;
}

bool srv_r_session_pop(srv_call *c)
{
    char *sid_buf = NULL;
    am_str sid;
    am_buf out = AM_BUF_INIT;
    json_t *v = NULL;
    am_status st;

    if (!srv_id(c, "session_id", false, &sid_buf, &sid))
        goto out;
    st = am_session_pop(c->store, sid, &out);
    if (st != AM_OK)
        srv_fail_status(c, st, NULL, "session pop");
    else if ((v = loads(c, &out)) != NULL)
        srv_ok(c, json_pack("{s:o}", "item", v));
out:
    am_buf_free(&out);
    free(sid_buf);
    return v != NULL;
}

bool srv_r_session_clear(srv_call *c)
{
    char *sid_buf = NULL;
    am_str sid;
    bool ok = false;
    am_status st;

    if (!srv_id(c, "session_id", false, &sid_buf, &sid))
        goto out;
    st = am_session_clear(c->store, sid);
    if (st != AM_OK)
        srv_fail_status(c, st, NULL, "session clear");
    else
        ok = srv_ok(c, json_pack("{s:b}", "ok", 1));
out:
    free(sid_buf);
    return ok;
}

bool srv_r_session_list(srv_call *c)
{
    char *uid_buf = NULL;
    am_str uid;
    am_buf out = AM_BUF_INIT;
    json_t *v = NULL, *s;
    size_t i;
    am_status st;

    if (!srv_id(c, "user_id", true, &uid_buf, &uid))
        goto out;
    st = am_session_list(c->store, uid, &out);
    if (st != AM_OK) {
        srv_fail_status(c, st, NULL, "session list");
        goto out;
    }
    if ((v = loads(c, &out)) == NULL)
        goto out;
    json_array_foreach(v, i, s) {
        json_t *id = json_object_get(s, "session_id");
        if (json_is_string(id))
            json_object_set_new(s, "session_id", json_string(
                srv_strip_id(c, json_string_value(id))));
    }
    srv_ok(c, json_pack("{s:o}", "sessions", v));
out:
    am_buf_free(&out);
    free(uid_buf);
    return v != NULL;
}

/* ---- Recall ---- */

bool srv_r_recall_index(srv_call *c)
{
    char *uid_buf = NULL, *sid_buf = NULL, *msgs = NULL;
    am_str uid, sid;
    am_recall_opts o = am_recall_opts_default();
    size_t chunks = 0;
    bool ok = false;
    am_status st;

    if (!srv_id(c, "user_id", false, &uid_buf, &uid) ||
        !srv_str(c, "session_id", true, &sid) ||
        !srv_json_text(c, "messages", true, &msgs) ||
        !srv_size(c, "chunk_size", 1000, &o.chunk_size) ||
        !srv_size(c, "chunk_overlap", 1000, &o.chunk_overlap) ||
        !srv_str(c, "names_field", false, &o.names_field))
        goto out;
    st = am_recall_index(c->store, uid, sid, am_str_c(msgs), &o,
                         &chunks);
    if (st != AM_OK)
        srv_fail_status(c, st, NULL, "recall index");
    else
        ok = srv_ok(c, json_pack("{s:b, s:I}", "ok", 1, "chunks",
                                 (json_int_t)chunks));
out:
    free(uid_buf);
    free(sid_buf);
    free(msgs);
    return ok;
}

bool srv_r_recall_search(srv_call *c)
{
    char *uid_buf = NULL;
    am_str uid, q = { 0 };
    am_recall_search_opts so = am_recall_search_opts_default();
    am_buf out = AM_BUF_INIT;
    json_t *v = NULL;
    am_status st;

    so.limit = 0;
    if (!srv_id(c, "user_id", false, &uid_buf, &uid) ||
        !srv_str(c, "query", true, &q) ||
        !srv_size(c, "limit", 100, &so.limit) ||
        !srv_names(c, &so.names_field, &so.names_bonus) ||
        !srv_unit(c, "min_score", &so.min_score))
        goto out;
    st = am_recall_search(c->store, uid, q, &so, &out);
    if (st != AM_OK)
        srv_fail_status(c, st, NULL, "recall search");
    else if ((v = loads(c, &out)) != NULL)
        srv_ok(c, json_pack("{s:o}", "results", v));
out:
    am_buf_free(&out);
    free(uid_buf);
    return v != NULL;
}

bool srv_r_recall_tool(srv_call *c)
{
    char *uid_buf = NULL, *call = NULL;
    am_str uid, fmt = { NULL, 0 };
    am_recall_tool_opts to = am_recall_tool_opts_default();
    am_tool_format tf = AM_TOOL_OPENAI;
    am_buf out = AM_BUF_INIT;
    json_t *v = NULL;
    am_status st;

    if (!srv_id(c, "user_id", false, &uid_buf, &uid) ||
        !srv_str(c, "format", false, &fmt) ||
        !srv_json_text(c, "call", true, &call) ||
        !srv_names(c, &to.names_field, &to.names_bonus))
        goto out;
    if (fmt.ptr != NULL && strcmp(fmt.ptr, "anthropic") == 0)
        tf = AM_TOOL_ANTHROPIC;
    else if (fmt.ptr != NULL && strcmp(fmt.ptr, "openai") != 0) {
        srv_fail(c, 400, "format", "field 'format' must be \"openai\" or "
                 "\"anthropic\"");
        goto out;
    }
    st = am_recall_tool_call(c->store, uid, tf, &to, am_str_c(call), &out);
    if (st != AM_OK)
        srv_fail_status(c, st, NULL, "recall tool");
    else if ((v = loads(c, &out)) != NULL)
        srv_ok(c, json_pack("{s:o}", "result", v));
out:
    am_buf_free(&out);
    free(uid_buf);
    free(call);
    return v != NULL;
}

/* ---- Memory tool ---- */

bool srv_r_memtool(srv_call *c)
{
    char *uid_buf = NULL, *input = NULL;
    am_str uid;
    am_buf out = AM_BUF_INIT;
    int is_error = 0;
    json_t *in = json_object_get(c->body, "input");
    bool ok = false;
    am_status st;

    if (!srv_id(c, "user_id", false, &uid_buf, &uid))
        goto out;
    if (!json_is_object(in)) {
        srv_fail(c, 400, "input", "field 'input' must be the tool's input "
                 "object ({\"command\": ..., \"path\": ...})");
        goto out;
    }
    /* A read-only key may view, nothing else. */
    if (!c->tenant->can_write &&
        (!json_is_string(json_object_get(in, "command")) ||
         strcmp(json_string_value(json_object_get(in, "command")),
                "view") != 0)) {
        srv_need_write(c);
        goto out;
    }
    if (!srv_json_text(c, "input", true, &input))
        goto out;
    st = am_memtool_exec(c->store, uid, am_str_c(input), &out,
                         &is_error);
    if (st != AM_OK)
        srv_fail_status(c, st, NULL, "memory tool");
    else
        ok = srv_ok(c, json_pack("{s:s%, s:b}", "content",
                                 out.ptr != NULL ? out.ptr : "", out.len,
                                 "is_error", is_error));
out:
    am_buf_free(&out);
    free(uid_buf);
    free(input);
    return ok;
}
