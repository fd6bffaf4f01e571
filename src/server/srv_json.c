/* srv_json.c -- request bodies in, replies out, and the tenant rewriting
 * of namespaces and ids.
 *
 * Every field helper names the field it rejects ("field 'ns': part 2 is
 * not a string"), so a client sees what to fix without reading our code.
 * The nesting limit is checked by a scan before jansson parses, so a deep
 * body costs one pass and no allocation.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "srv_int.h"

/* ---- Replies ---- */

int srv_http_status(am_status st)
{
    switch (st) {
    case AM_OK: return 200;
    case AM_EINVAL: case AM_EFORMAT: return 400;
    case AM_ENOTFOUND: return 404;
    case AM_EEXIST: case AM_ESTATE: return 409;
    case AM_ELIMIT: return 413;
    case AM_EBUSY: case AM_ENOMEM: return 503;
    case AM_EUNSUPPORTED: return 501;
    case AM_ETIMEOUT: return 504;
    default: return 500;
    }
}

static const char *code_for(int status)
{
    switch (status) {
    case 400: return "bad_request";
    case 401: return "unauthorized";
    case 403: return "forbidden";
    case 404: return "not_found";
    case 405: return "method_not_allowed";
    case 409: return "conflict";
    case 413: return "too_large";
    case 415: return "unsupported_media_type";
    case 501: return "not_implemented";
    case 503: return "unavailable";
    case 504: return "timeout";
    default: return status >= 500 ? "internal" : "error";
    }
}

bool srv_fail(srv_call *c, int status, const char *field, const char *fmt,
              ...)
{
    char msg[512];
    va_list ap;
    json_t *err;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    json_decref(c->reply);
    c->text.len = 0;
    err = json_pack("{s:s, s:s}", "code", code_for(status), "message", msg);
    if (err != NULL && field != NULL)
        json_object_set_new(err, "field", json_string(field));
    c->reply = err != NULL ? json_pack("{s:o}", "error", err) : NULL;
    c->status = status;
    return false;
}

bool srv_fail_status(srv_call *c, am_status st, const am_error *err,
                     const char *what)
{
    const char *detail = NULL;
    if (err != NULL && err->code != AM_OK && err->msg[0] != '\0')
        detail = err->msg;
    else if (err == NULL) {
        const am_error *e = am_store_last_error(
            c->store != NULL ? c->store : c->ctx->store);
        if (e != NULL && e->code == st && e->msg[0] != '\0')
            detail = e->msg;
    }
    /* The library's detail names its operation already. */
    if (detail != NULL)
        return srv_fail(c, srv_http_status(st), NULL, "%s", detail);
    return srv_fail(c, srv_http_status(st), NULL, "%s: %s", what,
                    am_status_str(st));
}

bool srv_ok(srv_call *c, json_t *reply)
{
    if (reply == NULL)
        return srv_fail(c, 503, NULL, "out of memory building the reply");
    json_decref(c->reply);
    c->reply = reply;
    c->status = 200;
    return true;
}

bool srv_need_write(srv_call *c)
{
    if (c->tenant->can_write)
        return true;
    return srv_fail(c, 403, NULL, "this key may only read");
}

/* ---- Bodies ---- */

size_t srv_json_depth(const char *data, size_t len, size_t limit)
{
    size_t depth = 0, max = 0;
    bool in_str = false;
    for (size_t i = 0; i < len; i++) {
        char ch = data[i];
        if (in_str) {
            if (ch == '\\')
                i++;
            else if (ch == '"')
                in_str = false;
        } else if (ch == '"') {
            in_str = true;
        } else if (ch == '[' || ch == '{') {
            if (++depth > max)
                max = depth;
            if (max > limit)
                return max;
        } else if ((ch == ']' || ch == '}') && depth > 0) {
            depth--;
        }
    }
    return max;
}

json_t *srv_parse_body(srv_call *c, const char *data, size_t len)
{
    json_error_t je;
    json_t *v;

    if (len == 0) {
        srv_fail(c, 400, NULL, "a JSON object body is required");
        return NULL;
    }
    if (srv_json_depth(data, len, c->ctx->max_depth) > c->ctx->max_depth) {
        srv_fail(c, 400, NULL, "body nests deeper than %zu levels",
                 c->ctx->max_depth);
        return NULL;
    }
    v = json_loadb(data, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &je);
    if (v == NULL) {
        srv_fail(c, 400, NULL, "body is not valid JSON: %s at line %d, "
                 "column %d", je.text, je.line, je.column);
        return NULL;
    }
    if (!json_is_object(v)) {
        json_decref(v);
        srv_fail(c, 400, NULL, "body must be a JSON object");
        return NULL;
    }
    return v;
}

/* ---- Fields ---- */

static json_t *field_of(srv_call *c, const char *field)
{
    json_t *v = c->body != NULL ? json_object_get(c->body, field) : NULL;
    return json_is_null(v) ? NULL : v;
}

bool srv_str(srv_call *c, const char *field, bool required, am_str *out)
{
    json_t *v = field_of(c, field);
    if (v == NULL) {
        if (required)
            return srv_fail(c, 400, field, "field '%s' is required", field);
        return true;
    }
    if (!json_is_string(v))
        return srv_fail(c, 400, field, "field '%s' must be a string", field);
    out->ptr = json_string_value(v);
    out->len = json_string_length(v);
    if (required && out->len == 0)
        return srv_fail(c, 400, field, "field '%s' must not be empty",
                        field);
    return true;
}

bool srv_size(srv_call *c, const char *field, size_t max, size_t *out)
{
    json_t *v = field_of(c, field);
    if (v == NULL)
        return true;
    if (!json_is_integer(v) || json_integer_value(v) < 0 ||
        (uint64_t)json_integer_value(v) > max)
        return srv_fail(c, 400, field, "field '%s' must be an integer from "
                        "0 to %zu", field, max);
    *out = (size_t)json_integer_value(v);
    return true;
}

bool srv_int64(srv_call *c, const char *field, int64_t *out)
{
    json_t *v = field_of(c, field);
    if (v == NULL)
        return true;
    if (!json_is_integer(v) || json_integer_value(v) < 0)
        return srv_fail(c, 400, field, "field '%s' must be a non-negative "
                        "integer", field);
    *out = (int64_t)json_integer_value(v);
    return true;
}

bool srv_bool(srv_call *c, const char *field, bool *out)
{
    json_t *v = field_of(c, field);
    if (v == NULL)
        return true;
    if (!json_is_boolean(v))
        return srv_fail(c, 400, field, "field '%s' must be true or false",
                        field);
    *out = json_is_true(v);
    return true;
}

bool srv_unit(srv_call *c, const char *field, double *out)
{
    json_t *v = field_of(c, field);
    if (v == NULL)
        return true;
    if (!json_is_number(v) || !(json_number_value(v) >= 0 &&
                                json_number_value(v) <= 1))
        return srv_fail(c, 400, field, "field '%s' must be a number from 0 "
                        "to 1", field);
    *out = json_number_value(v);
    return true;
}

bool srv_names(srv_call *c, am_str *field, double *bonus)
{
    if (!srv_str(c, "names_field", false, field) ||
        !srv_unit(c, "names_bonus", bonus))
        return false;
    /* As the CLI's --names without --names-field: a weight with nothing
     * to weigh is a mistake, not a no-op. */
    if (*bonus > 0 && field->len == 0)
        return srv_fail(c, 400, "names_bonus", "field 'names_bonus' needs "
                        "'names_field'");
    return true;
}

bool srv_json_text(srv_call *c, const char *field, bool required,
                   char **out)
{
    json_t *v = c->body != NULL ? json_object_get(c->body, field) : NULL;
    if (v == NULL) {
        if (required)
            return srv_fail(c, 400, field, "field '%s' is required", field);
        return true;
    }
    *out = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    if (*out == NULL)
        return srv_fail(c, 503, field, "out of memory");
    return true;
}

bool srv_object_text(srv_call *c, const char *field, char **out)
{
    json_t *v = field_of(c, field);
    if (v == NULL)
        return true;
    if (!json_is_object(v))
        return srv_fail(c, 400, field, "field '%s' must be an object",
                        field);
    return srv_json_text(c, field, false, out);
}

/* ---- Tenancy ---- */

static bool has_tenant(const srv_call *c)
{
    return c->tenant->name[0] != '\0';
}

bool srv_ns(srv_call *c, const char *field, size_t min, am_str *parts,
            am_ns *out)
{
    json_t *v = field_of(c, field);
    size_t n = 0, base = has_tenant(c) ? 1 : 0;

    if (v == NULL && min > 0)
        return srv_fail(c, 400, field, "field '%s' is required (an array "
                        "of strings)", field);
    if (v != NULL && !json_is_array(v))
        return srv_fail(c, 400, field, "field '%s' must be an array of "
                        "strings", field);
    n = v != NULL ? json_array_size(v) : 0;
    if (n < min)
        return srv_fail(c, 400, field, "field '%s' needs at least %zu "
                        "part%s", field, min, min == 1 ? "" : "s");
    if (n + base > AM_STORE_MAX_NS_PARTS)
        return srv_fail(c, 400, field, "field '%s' has more than %d parts",
                        field, AM_STORE_MAX_NS_PARTS - (int)base);
    if (base)
        parts[0] = am_str_c(c->tenant->name);
    for (size_t i = 0; i < n; i++) {
        json_t *p = json_array_get(v, i);
        if (!json_is_string(p))
            return srv_fail(c, 400, field, "field '%s': part %zu is not a "
                            "string", field, i);
        if (json_string_length(p) == 0)
            return srv_fail(c, 400, field, "field '%s': part %zu is empty",
                            field, i);
        parts[base + i] = (am_str){ json_string_value(p),
                                    json_string_length(p) };
    }
    out->parts = parts;
    out->count = base + n;
    return true;
}

bool srv_id(srv_call *c, const char *field, bool may_be_empty, char **buf,
            am_str *out)
{
    am_str id = { "", 0 };
    size_t tl;

    *buf = NULL;
    if (!srv_str(c, field, !may_be_empty, &id))
        return false;
    if (!has_tenant(c)) {
        *out = id;
        return true;
    }
    tl = strlen(c->tenant->name);
    *buf = malloc(tl + 1 + id.len + 1);
    if (*buf == NULL)
        return srv_fail(c, 503, field, "out of memory");
    memcpy(*buf, c->tenant->name, tl);
    (*buf)[tl] = ':';
    memcpy(*buf + tl + 1, id.ptr, id.len);
    (*buf)[tl + 1 + id.len] = '\0';
    *out = (am_str){ *buf, tl + 1 + id.len };
    return true;
}

const char *srv_strip_id(const srv_call *c, const char *id)
{
    size_t tl = strlen(c->tenant->name);
    if (tl > 0 && strncmp(id, c->tenant->name, tl) == 0 && id[tl] == ':')
        return id + tl + 1;
    return id;
}

json_t *srv_strip_ns(const srv_call *c, json_t *arr)
{
    size_t i;
    json_t *it;
    if (!has_tenant(c) || arr == NULL)
        return arr;
    json_array_foreach(arr, i, it) {
        json_t *ns = json_object_get(it, "namespace");
        if (json_is_array(ns) && json_array_size(ns) > 0)
            json_array_remove(ns, 0);
    }
    return arr;
}

json_t *srv_results_json(srv_call *c, const am_results *r, bool scores)
{
    am_buf text = AM_BUF_INIT;
    am_error err = { AM_OK, "" };
    json_t *arr = NULL;
    am_status st = am_results_to_json(r, scores, &text, &err);

    if (st != AM_OK) {
        srv_fail_status(c, st, &err, "results");
        goto out;
    }
    arr = json_loadb(text.ptr, text.len, JSON_ALLOW_NUL, NULL);
    if (arr == NULL)
        srv_fail(c, 503, NULL, "out of memory reading the results");
    arr = srv_strip_ns(c, arr);
out:
    am_buf_free(&text);
    return arr;
}

bool srv_results_text(srv_call *c, const am_results *r, bool scores,
                      const char *pre, const char *post, bool unwrap,
                      am_buf *out)
{
    am_results view = { NULL, 0, NULL };
    am_buf arr = AM_BUF_INIT;
    am_error err = { AM_OK, "" };
    am_status st = AM_OK;
    bool ok = false;

    view.count = r != NULL ? r->count : 0;
    view.priv_ = r != NULL ? r->priv_ : NULL;
    if (view.count > 0) {
        /* Shallow copies: the strings stay the list's. */
        view.items = malloc(view.count * sizeof *view.items);
        if (view.items == NULL)
            return srv_fail(c, 503, NULL, "out of memory writing results");
        memcpy(view.items, r->items, view.count * sizeof *view.items);
        for (size_t i = 0; has_tenant(c) && i < view.count; i++) {
            if (view.items[i].ns_count > 0) {
                view.items[i].ns_parts++;
                view.items[i].ns_count--;
            }
        }
    }
    st = am_results_to_json(&view, scores, &arr, &err);
    free(view.items);
    if (st != AM_OK) {
        srv_fail_status(c, st, &err, "results");
        goto out;
    }
    /* am_results_to_json writes one compact array: "[" items "]". */
    if (arr.len < 2 || arr.ptr[0] != '[' || arr.ptr[arr.len - 1] != ']') {
        srv_fail(c, 500, NULL, "results: unexpected JSON from the library");
        goto out;
    }
    out->len = 0;
    if (pre != NULL)
        st = am_buf_append(out, pre, strlen(pre));
    if (st == AM_OK)
        st = unwrap ? am_buf_append(out, arr.ptr + 1, arr.len - 2)
                    : am_buf_append(out, arr.ptr, arr.len);
    if (st == AM_OK && post != NULL)
        st = am_buf_append(out, post, strlen(post));
    if (st != AM_OK) {
        srv_fail(c, 503, NULL, "out of memory writing results");
        goto out;
    }
    ok = true;
out:
    am_buf_free(&arr);
    return ok;
}

bool srv_ok_text(srv_call *c, am_buf *buf)
{
    am_buf old = c->text;
    json_decref(c->reply);
    c->reply = NULL;
    c->text = *buf;
    *buf = old;
    am_buf_free(buf);
    c->status = 200;
    return true;
}
