/* json_glue.c -- jansson with agentmem's error messages. */
#include <string.h>

#include "json_glue.h"

am_status am__json_parse(am_str text, const char *what, json_t **out,
                         am_error *err)
{
    json_error_t jerr;
    json_t *v;

    *out = NULL;
    v = json_loadb(text.ptr != NULL ? text.ptr : "", text.len,
                   JSON_ALLOW_NUL, &jerr);
    if (v == NULL) {
        if (strstr(jerr.text, "out of memory") != NULL)
            return am__fail(err, AM_ENOMEM, "%s: out of memory", what);
        return am__fail(err, AM_EFORMAT,
                        "%s: %s at line %d, column %d (byte %d)", what,
                        jerr.text, jerr.line, jerr.column, jerr.position);
    }
    *out = v;
    return AM_OK;
}

static int dump_cb(const char *buffer, size_t size, void *data)
{
    return am_buf_append(data, buffer, size) == AM_OK ? 0 : -1;
}

am_status am__json_dump_append(const json_t *v, size_t flags, am_buf *out,
                               am_error *err)
{
    if (json_dump_callback(v, dump_cb, out, flags) != 0)
        return am__fail(err, AM_ENOMEM, "cannot serialize JSON");
    if (am_buf_reserve(out, 0) != AM_OK) /* make sure there is a NUL */
        return am__fail(err, AM_ENOMEM, "cannot serialize JSON");
    out->ptr[out->len] = '\0';
    return AM_OK;
}

am_status am__json_dump(const json_t *v, size_t flags, am_buf *out,
                        am_error *err)
{
    am_buf_clear(out);
    return am__json_dump_append(v, flags, out, err);
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
