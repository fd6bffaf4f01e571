/* wire.c -- format names and the dispatch between agentmem's own JSON and
 * the provider wire formats (wire_openai.c, wire_anthropic.c).
 */
#include <stdio.h>
#include <string.h>

#include "core/jscan.h"
#include "msg_int.h"
#include "wire_int.h"

static const char *const format_names[] = {
    [AM_FORMAT_AGENTMEM] = "agentmem", [AM_FORMAT_OPENAI] = "openai",
    [AM_FORMAT_ANTHROPIC] = "anthropic",
};
static const am__names formats = AM__NAMES("format", format_names);

const char *am_format_name(am_format fmt)
{
    return am__name_of(&formats, (int)fmt);
}

AM__NAME_PARSE_FN(am_format_parse, am_format, formats)

am_status am_msgs_to_json(const am_msg *const *msgs, size_t count,
                          am_format fmt, unsigned flags, am_buf *out,
                          am_error *err)
{
    am_status st;

    if (out == NULL || (msgs == NULL && count != 0))
        return am__fail(err, AM_EINVAL, "am_msgs_to_json: NULL argument");
    am_buf_clear(out);
    switch (fmt) {
    case AM_FORMAT_AGENTMEM:
        st = am__msgs_write_agentmem(msgs, count, flags, out);
        if (st != AM_OK)
            return am__fail(err, st, "out of memory writing JSON");
        return AM_OK;
    case AM_FORMAT_OPENAI:
        return am__wire_openai_write(msgs, count, flags, out, err);
    case AM_FORMAT_ANTHROPIC:
        return am__wire_anthropic_write(msgs, count, flags, out, err);
    default:
        return am__fail(err, AM_EINVAL, "unknown format %d", (int)fmt);
    }
}

am_status am_msgs_from_json(const am_msg_opts *opts, am_format fmt,
                            am_str text, am_msg_list *out, am_error *err)
{
    am__msg_env env = am__msg_env_of(opts);

    if (out == NULL)
        return am__fail(err, AM_EINVAL, "am_msgs_from_json: NULL out");
    return am__msgs_parse(&env, fmt, text, out, err);
}

am_status am__msgs_parse(const am__msg_env *env, am_format fmt, am_str text,
                         am_msg_list *out, am_error *err)
{
    switch (fmt) {
    case AM_FORMAT_AGENTMEM:
        return am__conv_parse(env, text, "agentmem JSON", out, err);
    case AM_FORMAT_OPENAI:
        return am__wire_openai_read(env, text, out, err);
    case AM_FORMAT_ANTHROPIC:
        return am__wire_anthropic_read(env, text, out, err);
    default:
        return am__fail(err, AM_EINVAL, "unknown format %d", (int)fmt);
    }
}

/* ---- Helpers shared by the wire formats ---- */

am_status am__idset_add(am__idset *s, am_str id)
{
    if (am__grow(s->alloc, (void **)&s->ids, &s->cap, s->count + 1,
                 sizeof *s->ids) != AM_OK)
        return AM_ENOMEM;
    s->ids[s->count++] = id;
    return AM_OK;
}

bool am__idset_has(const am__idset *s, am_str id)
{
    /* Conversations have few tool calls in flight; newest first. */
    for (size_t i = s->count; i > 0; i--)
        if (s->ids[i - 1].len == id.len &&
            memcmp(s->ids[i - 1].ptr, id.ptr, id.len) == 0)
            return true;
    return false;
}

void am__idset_free(am__idset *s)
{
    am__free(s->alloc, s->ids, s->cap * sizeof *s->ids);
    s->ids = NULL;
    s->count = s->cap = 0;
}

am_status am__wire_fail(am_error *err, am_status code, const char *fmt_name,
                        size_t index, const char *fmt, ...)
{
    char detail[200];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    return am__fail(err, code, "%s: message %zu: %s", fmt_name, index,
                    detail);
}

/* The detail is formatted first because am__js_fail adds the position. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
am_status am__wire_read_fail(am__js *js, size_t pos, size_t index,
                             const char *fmt, ...)
{
    char detail[180];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    return am__js_fail(js, pos, "message %zu: %s", index, detail);
}
#pragma GCC diagnostic pop

am_status am__wire_set_fail(am__js *js, const char *fmt_name, size_t index,
                            am_status st, const am_error *e)
{
    return am__fail(js->err, st, "%s: message %zu: %s", fmt_name, index,
                    e->msg);
}

/* ---- The readers' frame ---- */

/* The message options of `env`, for the readers' am_msg_create calls. */
static am_msg_opts opts_of(const am__msg_env *env)
{
    am_msg_opts mo = am_msg_opts_default();

    mo.alloc = env->alloc;
    mo.clock = env->clock;
    mo.rng = env->rng;
    mo.max_bytes = env->max_bytes;
    return mo;
}

/* Append `got`'s messages to `out`, all or nothing; `got` is left empty. */
static am_status move_all(am_msg_list *out, am_msg_list *got,
                          const char *fmt_name, am_error *err)
{
    if (am__grow(out->alloc, (void **)&out->items, &out->cap,
                 out->count + got->count, sizeof *out->items) != AM_OK)
        return am__fail(err, AM_ENOMEM, "%s: out of memory", fmt_name);
    if (got->count != 0)
        memcpy(out->items + out->count, got->items,
               got->count * sizeof *got->items);
    out->count += got->count;
    got->count = 0;
    return AM_OK;
}

am_status am__wire_read(const am__msg_env *env, am_str text,
                        const char *fmt_name, const char *expected,
                        am__wire_doc_fn on_doc, am__wire_item_fn on_item,
                        am_msg_list *out, am_error *err)
{
    am__arena tmp;
    am__jnode *doc;
    const am__jnode *arr;
    am_msg_list got = AM_MSG_LIST_INIT;
    am__wire_rd r;
    am_status st;

    am__arena_init(&tmp, env->alloc, 65536);
    am__js_init(&r.js, text, fmt_name, &tmp, err);
    r.mo = opts_of(env);
    r.index = 0;
    r.got = &got;
    got.alloc = out->alloc;
    am__js_skip_bom(&r.js);
    if ((st = am__jdom_parse(&r.js, &doc)) != AM_OK ||
        (st = am__js_end(&r.js)) != AM_OK)
        goto out;
    if (on_doc != NULL && (st = on_doc(&r, doc)) != AM_OK)
        goto out;
    arr = doc->type == AM__J_OBJ ? am__jobj_get(doc, "messages") : doc;
    if (arr == NULL || arr->type != AM__J_ARR) {
        st = am__js_fail(&r.js, doc->pos, "expected %s", expected);
        goto out;
    }
    for (const am__jnode *v = arr->first; v != NULL; v = v->next) {
        if ((st = on_item(&r, v)) != AM_OK)
            goto out;
        r.index++;
    }
    st = move_all(out, &got, fmt_name, err);
out:
    am_msg_list_free(&got);
    am__arena_free(&tmp);
    return st;
}
