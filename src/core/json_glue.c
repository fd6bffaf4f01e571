/* json_glue.c -- jansson with agentmem's error messages. */
#include <string.h>

#include "json_glue.h"
#include "jscan.h"

/* jansson 2.14 rarely says "out of memory" when an allocation fails while
 * parsing: the error comes back with an empty message or disguised as a
 * syntax error ("invalid token", "string or '}' expected"). So a failure
 * on text that the project's scanner (which validates without allocating)
 * accepts as one JSON array or object was out of memory. Number overflow
 * and \u0000 without JSON_ALLOW_NUL are what jansson rejects and the
 * scanner does not, and so are nesting past jansson's depth limit and
 * invalid UTF-8 (excluded by their error codes). */
static bool oom_in_jansson(am_str text, size_t flags,
                           const json_error_t *jerr)
{
    am__js js;
    am_str span;
    char c;

    if (strstr(jerr->text, "out of memory") != NULL)
        return true;
    if (json_error_code(jerr) == json_error_numeric_overflow ||
        json_error_code(jerr) == json_error_null_character ||
        json_error_code(jerr) == json_error_stack_overflow ||
        json_error_code(jerr) == json_error_invalid_utf8)
        return false;
    am__js_init(&js, text, "", NULL, NULL);
    c = am__js_peek(&js);
    return ((flags & JSON_DECODE_ANY) != 0 || c == '{' || c == '[') &&
           am__js_value(&js, &span) == AM_OK &&
           am__js_end(&js) == AM_OK;
}

am_status am__json_parse(am_str text, const char *what, json_t **out,
                         am_error *err)
{
    return am__json_parse_flags(text, JSON_ALLOW_NUL, what, out, err);
}

am_status am__json_parse_flags(am_str text, size_t flags, const char *what,
                               json_t **out, am_error *err)
{
    json_error_t jerr;
    json_t *v;

    /* jansson does not always fill in the error: when its very first
     * allocation fails it returns NULL with the error code byte never
     * written, so a stack-garbage code must not decide the answer. */
    memset(&jerr, 0, sizeof jerr);
    *out = NULL;
    v = json_loadb(text.ptr != NULL ? text.ptr : "", text.len,
                   flags, &jerr);
    if (v == NULL) {
        if (oom_in_jansson(text, flags, &jerr))
            return am__fail(err, AM_ENOMEM, "%s: out of memory", what);
        return am__fail(err, AM_EFORMAT,
                        "%s: %s at line %d, column %d (byte %d)", what,
                        jerr.text, jerr.line, jerr.column, jerr.position);
    }
    *out = v;
    return AM_OK;
}

/* jansson 2.14 ignores a callback's -1 on some paths (object keys among
 * them) and still returns 0, so the failure is remembered here and checked
 * after the dump instead of trusting its return value. */
typedef struct dump_ctx {
    am_buf *out;
    bool failed;
} dump_ctx;

static int dump_cb(const char *buffer, size_t size, void *data)
{
    dump_ctx *dc = data;
    if (dc->failed || am_buf_append(dc->out, buffer, size) != AM_OK) {
        dc->failed = true;
        return -1;
    }
    return 0;
}

am_status am__json_dump_append(const json_t *v, size_t flags, am_buf *out,
                               am_error *err)
{
    dump_ctx dc = { out, false };
    size_t start = out->len;

    if (json_dump_callback(v, dump_cb, &dc, flags) != 0 || dc.failed ||
        am_buf_reserve(out, 0) != AM_OK) {
        /* Drop the partial document so no caller can mistake it for a
         * whole one. */
        out->len = start;
        if (out->ptr != NULL)
            out->ptr[start] = '\0';
        return am__fail(err, AM_ENOMEM, "cannot serialize JSON");
    }
    out->ptr[out->len] = '\0';
    return AM_OK;
}

am_status am__json_dump(const json_t *v, size_t flags, am_buf *out,
                        am_error *err)
{
    am_buf_clear(out);
    return am__json_dump_append(v, flags, out, err);
}

am_status am__json_dump_arena(am__arena *ar, const json_t *v, size_t flags,
                              am_str *out, am_error *err)
{
    am_buf text = AM_BUF_INIT;
    am_status st;
    char *p = NULL;

    text.alloc = ar->alloc;
    st = am__json_dump(v, flags, &text, err);
    if (st == AM_OK) {
        p = am__arena_strndup(ar, text.ptr, text.len);
        if (p == NULL)
            st = am__fail(err, AM_ENOMEM, "cannot serialize JSON");
    }
    if (st == AM_OK)
        *out = (am_str){ p, text.len };
    am_buf_free(&text);
    return st;
}

static am_status wrong_type(const char *ctx, const char *key,
                            const char *want, am_error *err)
{
    return am__fail(err, AM_EFORMAT, "%s: field '%s' must be %s", ctx, key,
                    want);
}

am_status am__json_opt_str(const json_t *obj, const char *key,
                           const char *ctx, am_str *out, am_error *err)
{
    json_t *v = json_object_get(obj, key);
    if (v == NULL || json_is_null(v))
        return AM_OK;
    if (!json_is_string(v))
        return wrong_type(ctx, key, "a string", err);
    *out = am__json_str(v);
    return AM_OK;
}

am_status am__json_req_str(const json_t *obj, const char *key,
                           const char *ctx, am_str *out, am_error *err)
{
    json_t *v = json_object_get(obj, key);
    if (v == NULL)
        return am__fail(err, AM_EFORMAT, "%s: missing field '%s'", ctx, key);
    return am__json_opt_str(obj, key, ctx, out, err);
}

am_status am__json_opt_int(const json_t *obj, const char *key,
                           const char *ctx, int64_t *out, am_error *err)
{
    json_t *v = json_object_get(obj, key);
    if (v == NULL || json_is_null(v))
        return AM_OK;
    if (!json_is_integer(v))
        return wrong_type(ctx, key, "an integer", err);
    *out = (int64_t)json_integer_value(v);
    return AM_OK;
}

am_status am__json_opt_real(const json_t *obj, const char *key,
                            const char *ctx, double *out, am_error *err)
{
    json_t *v = json_object_get(obj, key);
    if (v == NULL || json_is_null(v))
        return AM_OK;
    if (!json_is_number(v))
        return wrong_type(ctx, key, "a number", err);
    *out = json_number_value(v);
    return AM_OK;
}

am_status am__json_opt_bool(const json_t *obj, const char *key,
                            const char *ctx, bool *out, am_error *err)
{
    json_t *v = json_object_get(obj, key);
    if (v == NULL || json_is_null(v))
        return AM_OK;
    if (!json_is_boolean(v))
        return wrong_type(ctx, key, "true or false", err);
    *out = json_is_true(v);
    return AM_OK;
}
