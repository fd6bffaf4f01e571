/* wire_openai.c -- the OpenAI Chat Completions `messages` array.
 *
 * Mapping (agentmem -> OpenAI):
 *   system/user/assistant/tool roles map one to one; name and
 *   tool_call_id are kept; tool calls become
 *   {"id","type","function":{"name","arguments"}}, and so do tool_use
 *   parts; text and image parts (and the images list) become content
 *   parts ("text", "image_url" -- base64 images as data: URLs); JSON
 *   content is sent as its text. Reasoning -- Anthropic thinking and
 *   redacted_thinking blocks, OpenAI reasoning items -- has no place in
 *   Chat Completions, so it travels in an extension field of the
 *   assistant message, "reasoning_items" (left out with AM_WIRE_PORTABLE),
 *   which the reader below restores; DeepSeek-style "reasoning_content"
 *   is read as a thinking part. agentmem-only fields (ids, times, agent
 *   calls, structured data, agent content) are not part of the format.
 *
 * A tool message must answer a tool call made by an earlier assistant
 * message, and tool_result parts cannot be expressed (except as the whole
 * content of a tool message, which is how an Anthropic is_error result is
 * kept: OpenAI gets its content, without the flag): both are errors naming
 * the message index.
 */
#include <stdio.h>
#include <string.h>

#include "wire_int.h"

#define FMT "openai"

/* ---- Writing ---- */

static am_status put_image_url(am_buf *out, const am_part *p)
{
    am_status st = AM__PUT(out, "{\"type\":\"image_url\",\"image_url\":"
                                "{\"url\":");
    if (st != AM_OK)
        return st;
    if (p->url.len != 0) {
        st = am__json_put_str(out, p->url);
    } else {
        /* data:<media_type>;base64,<data> -- bytes are base64 ASCII, so
         * no escaping is needed beyond what put_str does anyway. */
        am_buf tmp = AM_BUF_INIT;
        tmp.alloc = out->alloc;
        st = am_buf_appendf(&tmp, "data:%.*s;base64,",
                            (int)p->media_type.len, p->media_type.ptr);
        if (st == AM_OK)
            st = am_buf_append(&tmp, p->data.ptr, p->data.len);
        if (st == AM_OK)
            st = am__json_put_str(out, am_buf_str(&tmp));
        am_buf_free(&tmp);
    }
    return st != AM_OK ? st : AM__PUT(out, "}}");
}

static bool is_reasoning(am_part_type t)
{
    return t == AM_PART_THINKING || t == AM_PART_REDACTED_THINKING ||
           t == AM_PART_REASONING;
}

/* The content of message `m` (index i) as a string or an array. */
static am_status put_content(const am_msg *m, size_t i, am_buf *out,
                             am_error *err)
{
    const am__msg_fields *f = &m->f;
    size_t ntext = 0, nother = 0;
    const am_part *only = NULL;
    am_status st = AM_OK;
    bool first = true;

    /* A tool message kept as one tool_result part (Anthropic's is_error):
     * OpenAI has only the content, sent as text. */
    if (f->role == AM_ROLE_TOOL && f->kind == AM_CONTENT_PARTS &&
        f->nparts == 1 && f->parts[0].type == AM_PART_TOOL_RESULT)
        return am__put_kstr(out, ",\"content\":",
                            f->parts[0].json.len != 0 ? f->parts[0].json
                                                      : f->parts[0].text);
    for (size_t k = 0; k < f->nparts; k++) {
        const am_part *p = &f->parts[k];
        if (p->type == AM_PART_TEXT) {
            ntext++;
            only = p;
        } else if (p->type == AM_PART_IMAGE) {
            nother++;
        } else if (p->type == AM_PART_TOOL_RESULT) {
            return am__wire_fail(err, AM_EINVAL, FMT, i, "content[%zu]: a "
                                 "tool_result part cannot be expressed; "
                                 "use a tool message", k);
        } else if (p->type == AM_PART_TOOL_USE &&
                   f->role != AM_ROLE_ASSISTANT) {
            return am__wire_fail(err, AM_EINVAL, FMT, i, "content[%zu]: "
                                 "tool_use only in assistant messages", k);
        }
    }
    if (f->nimages != 0 && f->role != AM_ROLE_USER)
        return am__wire_fail(err, AM_EINVAL, FMT, i, "images are only "
                             "expressible in user messages");
    if (f->kind == AM_CONTENT_NONE && f->nimages == 0)
        return f->ntcs != 0 || f->role == AM_ROLE_ASSISTANT
                   ? AM__PUT(out, ",\"content\":null")
                   : AM__PUT(out, ",\"content\":\"\"");
    if ((f->kind == AM_CONTENT_TEXT || f->kind == AM_CONTENT_JSON) &&
        f->nimages == 0)
        return am__put_kstr(out, ",\"content\":", f->content);
    if (f->kind == AM_CONTENT_PARTS && ntext == 1 && nother == 0 &&
        f->nimages == 0)
        return am__put_kstr(out, ",\"content\":", only->text);
    if (f->kind == AM_CONTENT_PARTS && ntext == 0 && nother == 0 &&
        f->nimages == 0)
        return AM__PUT(out, ",\"content\":null");
    st = AM__PUT(out, ",\"content\":[");
    if (st == AM_OK && (f->kind == AM_CONTENT_TEXT ||
                        f->kind == AM_CONTENT_JSON)) {
        st = am__put_kstr(out, "{\"type\":\"text\",\"text\":", f->content);
        if (st == AM_OK)
            st = AM__PUT(out, "}");
        first = false;
    }
    for (size_t k = 0; st == AM_OK && k < f->nparts; k++) {
        const am_part *p = &f->parts[k];
        if (p->type != AM_PART_TEXT && p->type != AM_PART_IMAGE)
            continue;
        if (!first)
            st = AM__PUT(out, ",");
        first = false;
        if (st != AM_OK)
            break;
        if (p->type == AM_PART_TEXT) {
            st = am__put_kstr(out, "{\"type\":\"text\",\"text\":", p->text);
            if (st == AM_OK)
                st = AM__PUT(out, "}");
        } else {
            st = put_image_url(out, p);
        }
    }
    for (size_t k = 0; st == AM_OK && k < f->nimages; k++) {
        am_part p;
        memset(&p, 0, sizeof p);
        p.type = AM_PART_IMAGE;
        p.url = f->images[k];
        if (!first)
            st = AM__PUT(out, ",");
        first = false;
        if (st == AM_OK)
            st = put_image_url(out, &p);
    }
    return st != AM_OK ? st : AM__PUT(out, "]");
}

static am_status put_tool_call(am_buf *out, am_str id, am_str type,
                               am_str name, am_str args, am_str call_id)
{
    am_status st = am__put_kstr(out, "{\"id\":", id);
    /* An agentmem extension (empty when PORTABLE: see am_tool_call). */
    if (st == AM_OK && call_id.len != 0)
        st = am__put_kstr(out, ",\"call_id\":", call_id);
    if (st == AM_OK)
        st = am__put_kstr(out, ",\"type\":",
                          type.len != 0 ? type : AM_STR("function"));
    if (st == AM_OK)
        st = am__put_kstr(out, ",\"function\":{\"name\":", name);
    if (st == AM_OK)
        st = am__put_kstr(out, ",\"arguments\":", args);
    return st != AM_OK ? st : AM__PUT(out, "}}");
}

static am_status put_reasoning_item(am_buf *out, const am_part *p)
{
    am_status st;
    switch (p->type) {
    case AM_PART_THINKING:
        st = am__put_kstr(out, "{\"type\":\"thinking\",\"thinking\":",
                          p->text);
        if (st == AM_OK)
            st = am__put_kstr(out, ",\"signature\":", p->signature);
        return st != AM_OK ? st : AM__PUT(out, "}");
    case AM_PART_REDACTED_THINKING:
        st = am__put_kstr(out, "{\"type\":\"redacted_thinking\",\"data\":",
                          p->data);
        return st != AM_OK ? st : AM__PUT(out, "}");
    default:
        return am__put_raw(out, p->json); /* the OpenAI item verbatim */
    }
}

static am_status write_msg(const am_msg *m, size_t i, unsigned flags,
                           am__idset *calls, am_buf *out, am_error *err)
{
    const am__msg_fields *f = &m->f;
    am_status st;
    bool any;

    if (f->role == AM_ROLE_TOOL) {
        if (f->tool_call_id.len == 0)
            return am__wire_fail(err, AM_EINVAL, FMT, i, "tool message "
                                 "without tool_call_id");
        if (!am__idset_has(calls, f->tool_call_id))
            return am__wire_fail(err, AM_EINVAL, FMT, i, "tool result for "
                                 "call '%.*s', but no earlier assistant "
                                 "message made that call",
                                 (int)(f->tool_call_id.len > 60
                                           ? 60 : f->tool_call_id.len),
                                 f->tool_call_id.ptr);
    }
    st = am_buf_appendf(out, "{\"role\":\"%s\"", am_role_name(f->role));
    /* Chat Completions has no name on tool messages; portable output
     * leaves it out, the default keeps it (other servers accept it). */
    if (st == AM_OK && f->name.len != 0 &&
        !(f->role == AM_ROLE_TOOL && (flags & AM_WIRE_PORTABLE)))
        st = am__put_kstr(out, ",\"name\":", f->name);
    if (st == AM_OK)
        st = put_content(m, i, out, err);
    if (st != AM_OK)
        return err != NULL && err->code == st ? st
               : am__fail(err, st, "out of memory");
    if (f->role == AM_ROLE_TOOL)
        st = am__put_kstr(out, ",\"tool_call_id\":", f->tool_call_id);
    any = false;
    for (size_t k = 0; st == AM_OK && k < f->nparts; k++)
        if (f->parts[k].type == AM_PART_TOOL_USE)
            any = true;
    if (st == AM_OK && (f->ntcs != 0 || any)) {
        bool first = true;
        st = AM__PUT(out, ",\"tool_calls\":[");
        for (size_t k = 0; st == AM_OK && k < f->nparts; k++) {
            const am_part *p = &f->parts[k];
            if (p->type != AM_PART_TOOL_USE)
                continue;
            st = first ? AM_OK : AM__PUT(out, ",");
            first = false;
            if (st == AM_OK)
                st = put_tool_call(out, p->id, AM_STR("function"), p->name,
                                   p->json.len != 0 ? p->json
                                                    : AM_STR("{}"),
                                   AM_STR(""));
            if (st == AM_OK)
                st = am__idset_add(calls, p->id);
        }
        for (size_t k = 0; st == AM_OK && k < f->ntcs; k++) {
            st = first ? AM_OK : AM__PUT(out, ",");
            first = false;
            if (st == AM_OK)
                st = put_tool_call(out, f->tcs[k].id, f->tcs[k].type,
                                   f->tcs[k].name, f->tcs[k].arguments,
                                   (flags & AM_WIRE_PORTABLE)
                                       ? AM_STR("")
                                       : f->tcs[k].call_id);
            if (st == AM_OK)
                st = am__idset_add(calls, f->tcs[k].id);
        }
        if (st == AM_OK)
            st = AM__PUT(out, "]");
    }
    any = false;
    for (size_t k = 0; k < f->nparts; k++)
        any = any || is_reasoning(f->parts[k].type);
    if (st == AM_OK && any && !(flags & AM_WIRE_PORTABLE)) {
        bool first = true;
        st = AM__PUT(out, ",\"reasoning_items\":[");
        for (size_t k = 0; st == AM_OK && k < f->nparts; k++) {
            if (!is_reasoning(f->parts[k].type))
                continue;
            st = first ? AM_OK : AM__PUT(out, ",");
            first = false;
            if (st == AM_OK)
                st = put_reasoning_item(out, &f->parts[k]);
        }
        if (st == AM_OK)
            st = AM__PUT(out, "]");
    }
    if (st == AM_OK)
        st = AM__PUT(out, "}");
    if (st != AM_OK)
        return am__fail(err, st, "out of memory");
    return AM_OK;
}

am_status am__wire_openai_write(const am_msg *const *msgs, size_t count,
                                unsigned flags, am_buf *out, am_error *err)
{
    am__idset calls = { out->alloc, NULL, 0, 0 };
    am_buf tmp = AM_BUF_INIT;
    am_buf *w = (flags & AM_JSON_PRETTY) ? &tmp : out;
    am_status st;

    /* err->code tells below whether a failure was recorded already, so
     * it must not start as whatever the caller's am_error held. */
    am_error_clear(err);
    st = AM__PUT(w, "[");
    tmp.alloc = out->alloc;
    for (size_t i = 0; st == AM_OK && i < count; i++) {
        if (i != 0 && (st = AM__PUT(w, ",\n")) != AM_OK)
            break;
        st = write_msg(msgs[i], i, flags, &calls, w, err);
    }
    if (st == AM_OK)
        st = AM__PUT(w, "]");
    if (st == AM_OK && w == &tmp)
        st = am__json_pretty(am_buf_str(&tmp), out);
    if (st == AM_OK)
        st = AM__PUT(out, "\n");
    if (st != AM_OK && (err == NULL || err->code != st))
        st = am__fail(err, st, "out of memory");
    am_buf_free(&tmp);
    am__idset_free(&calls);
    return st;
}

/* ---- Reading ---- */

typedef am__wire_rd ord; /* wire_int.h */

/* Fail at node `at` of the message being read (wire.c). */
#define rfail(r, at, ...)                                                    \
    am__wire_read_fail(&(r)->js, (at)->pos, (r)->index, __VA_ARGS__)

/* A setter failed: prefix its detail with the message index. */
static am_status sfail(ord *r, am_status st, am_error *e)
{
    return am__wire_set_fail(&r->js, "openai", r->index, st, e);
}

static am_status expect_type(ord *r, const am__jnode *v, am__jtype t,
                             const char *field)
{
    if (v->type == t)
        return AM_OK;
    return rfail(r, v, "field '%s' must be %s, not %s", field,
                 am__jtype_name(t), am__jtype_name(v->type));
}

static const am__jnode *opt_str(ord *r, const am__jnode *obj,
                                const char *key, am_status *st)
{
    const am__jnode *v = am__jobj_get(obj, key);
    if (v == NULL || v->type == AM__J_NULL)
        return NULL;
    *st = expect_type(r, v, AM__J_STR, key);
    return *st == AM_OK ? v : NULL;
}

/* "data:<media>;base64,<data>" -> media type and data. */
static bool split_data_url(am_str url, am_str *media, am_str *data)
{
    const char *semi, *comma;
    if (url.len < 5 || memcmp(url.ptr, "data:", 5) != 0)
        return false;
    semi = memchr(url.ptr, ';', url.len);
    comma = memchr(url.ptr, ',', url.len);
    if (semi == NULL || comma == NULL || comma < semi ||
        (size_t)(comma - semi) != 7 || memcmp(semi, ";base64", 7) != 0)
        return false;
    media->ptr = url.ptr + 5;
    media->len = (size_t)(semi - url.ptr) - 5;
    data->ptr = comma + 1;
    data->len = url.len - (size_t)(comma + 1 - url.ptr);
    return true;
}

static am_status read_reasoning(ord *r, const am__jnode *arr, am_msg *m)
{
    am_status st;
    am_error e = { AM_OK, "" };
    size_t k = 0;

    if ((st = expect_type(r, arr, AM__J_ARR, "reasoning_items")) != AM_OK)
        return st;
    for (const am__jnode *it = arr->first; it != NULL; it = it->next, k++) {
        const am__jnode *t = am__jobj_get(it, "type");
        am_part p;
        memset(&p, 0, sizeof p);
        if (it->type != AM__J_OBJ || t == NULL || t->type != AM__J_STR)
            return rfail(r, it, "reasoning_items[%zu]: must be an object "
                         "with a string 'type'", k);
        if (t->str.len == 8 && memcmp(t->str.ptr, "thinking", 8) == 0) {
            const am__jnode *x = am__jobj_get(it, "thinking"),
                            *s = am__jobj_get(it, "signature");
            p.type = AM_PART_THINKING;
            if (x != NULL && x->type == AM__J_STR)
                p.text = x->str;
            if (s != NULL && s->type == AM__J_STR)
                p.signature = s->str;
        } else if (t->str.len == 17 &&
                   memcmp(t->str.ptr, "redacted_thinking", 17) == 0) {
            const am__jnode *x = am__jobj_get(it, "data");
            p.type = AM_PART_REDACTED_THINKING;
            if (x != NULL && x->type == AM__J_STR)
                p.data = x->str;
        } else {
            p.type = AM_PART_REASONING;
            p.json = it->raw;
        }
        if ((st = am_msg_add_part(m, &p, &e)) != AM_OK)
            return sfail(r, st, &e);
    }
    return AM_OK;
}

static am_status read_content_parts(ord *r, const am__jnode *arr,
                                     am_msg *m)
{
    am_status st;
    am_error e = { AM_OK, "" };
    size_t k = 0;

    for (const am__jnode *it = arr->first; it != NULL; it = it->next, k++) {
        const am__jnode *t = am__jobj_get(it, "type");
        am_part p;
        memset(&p, 0, sizeof p);
        if (it->type != AM__J_OBJ || t == NULL || t->type != AM__J_STR)
            return rfail(r, it, "content[%zu]: must be an object with a "
                         "string 'type'", k);
        if (t->str.len == 4 && memcmp(t->str.ptr, "text", 4) == 0) {
            const am__jnode *x = am__jobj_get(it, "text");
            if (x == NULL || x->type != AM__J_STR)
                return rfail(r, it, "content[%zu]: text part needs a "
                             "string 'text'", k);
            p.type = AM_PART_TEXT;
            p.text = x->str;
        } else if (t->str.len == 9 &&
                   memcmp(t->str.ptr, "image_url", 9) == 0) {
            const am__jnode *x = am__jobj_get(it, "image_url"), *u = x;
            if (x != NULL && x->type == AM__J_OBJ)
                u = am__jobj_get(x, "url");
            if (u == NULL || u->type != AM__J_STR)
                return rfail(r, it, "content[%zu]: image_url part needs a "
                             "url", k);
            p.type = AM_PART_IMAGE;
            if (!split_data_url(u->str, &p.media_type, &p.data))
                p.url = u->str;
        } else if (t->str.len == 7 && memcmp(t->str.ptr, "refusal", 7) == 0) {
            const am__jnode *x = am__jobj_get(it, "refusal");
            p.type = AM_PART_TEXT;
            if (x != NULL && x->type == AM__J_STR)
                p.text = x->str;
        } else {
            return rfail(r, t, "content[%zu]: unsupported part type '%.*s'",
                         k, (int)(t->str.len > 40 ? 40 : t->str.len),
                         t->str.ptr);
        }
        if ((st = am_msg_add_part(m, &p, &e)) != AM_OK)
            return sfail(r, st, &e);
    }
    return AM_OK;
}

static am_status read_tool_calls(ord *r, const am__jnode *arr, am_msg *m)
{
    am_status st;
    am_error e = { AM_OK, "" };
    size_t k = 0;

    if ((st = expect_type(r, arr, AM__J_ARR, "tool_calls")) != AM_OK)
        return st;
    for (const am__jnode *it = arr->first; it != NULL; it = it->next, k++) {
        const am__jnode *id = am__jobj_get(it, "id"),
                        *cid = am__jobj_get(it, "call_id"),
                        *ty = am__jobj_get(it, "type"),
                        *fn = am__jobj_get(it, "function"), *nm, *ar;
        am_tool_call tc;
        if (it->type != AM__J_OBJ || id == NULL || id->type != AM__J_STR ||
            fn == NULL || fn->type != AM__J_OBJ)
            return rfail(r, it, "tool_calls[%zu]: needs a string 'id' and "
                         "a 'function' object", k);
        nm = am__jobj_get(fn, "name");
        ar = am__jobj_get(fn, "arguments");
        if (nm == NULL || nm->type != AM__J_STR)
            return rfail(r, fn, "tool_calls[%zu].function: needs a string "
                         "'name'", k);
        if (ar != NULL && ar->type != AM__J_STR && ar->type != AM__J_NULL)
            return rfail(r, ar, "tool_calls[%zu].function.arguments must "
                         "be a string (JSON text)", k);
        if (cid != NULL && cid->type != AM__J_STR)
            return rfail(r, cid, "tool_calls[%zu].call_id must be a string",
                         k);
        memset(&tc, 0, sizeof tc);
        tc.id = id->str;
        tc.type = ty != NULL && ty->type == AM__J_STR ? ty->str
                                                       : AM_STR("function");
        tc.name = nm->str;
        if (ar != NULL && ar->type == AM__J_STR)
            tc.arguments = ar->str;
        if (cid != NULL)
            tc.call_id = cid->str;
        if ((st = am_msg_add_tool_call(m, &tc, &e)) != AM_OK)
            return sfail(r, st, &e);
    }
    return AM_OK;
}

static am_status read_msg(ord *r, const am__jnode *v, am_msg **out)
{
    /* Every field a Chat Completions message carries, in a request or in
     * a response's `message` (which a caller appends to its history as it
     * came): "annotations" (URL citations) holds no text of the turn and
     * is not kept. Anything else is refused, so a typo is not lost. */
    static const char *const known[] = { "role", "content", "name",
                                         "tool_calls", "tool_call_id",
                                         "reasoning_items",
                                         "reasoning_content", "refusal",
                                         "function_call", "audio",
                                         "annotations", NULL };
    const am__jnode *x;
    am_role role;
    am_msg *m = NULL;
    am_error e = { AM_OK, "" };
    am_status st = AM_OK;

    *out = NULL;
    if (v->type != AM__J_OBJ)
        return rfail(r, v, "a message must be an object, not %s",
                     am__jtype_name(v->type));
    for (const am__jnode *k = v->first; k != NULL; k = k->next) {
        bool ok = false;
        for (size_t i = 0; known[i] != NULL && !ok; i++)
            ok = strlen(known[i]) == k->key.len &&
                 memcmp(known[i], k->key.ptr, k->key.len) == 0;
        if (!ok)
            return rfail(r, k, "unknown field '%.*s'",
                         (int)(k->key.len > 40 ? 40 : k->key.len),
                         k->key.ptr);
    }
    x = am__jobj_get(v, "role");
    if (x == NULL)
        return rfail(r, v, "missing field 'role'");
    if ((st = expect_type(r, x, AM__J_STR, "role")) != AM_OK)
        return st;
    if (x->str.len == 9 && memcmp(x->str.ptr, "developer", 9) == 0)
        role = AM_ROLE_SYSTEM; /* the o-series name for system */
    else if (am_role_parse(x->str, &role, &e) != AM_OK)
        return rfail(r, x, "%s", e.msg);
    if ((st = am_msg_create(&r->mo, role, &m, &e)) != AM_OK)
        return sfail(r, st, &e);
    if ((x = opt_str(r, v, "reasoning_content", &st)) != NULL) {
        am_part p;
        memset(&p, 0, sizeof p);
        p.type = AM_PART_THINKING;
        p.text = x->str;
        if ((st = am_msg_add_part(m, &p, &e)) != AM_OK)
            st = sfail(r, st, &e);
    }
    if (st == AM_OK && (x = am__jobj_get(v, "reasoning_items")) != NULL &&
        x->type != AM__J_NULL)
        st = read_reasoning(r, x, m);
    if (st == AM_OK && (x = am__jobj_get(v, "content")) != NULL &&
        x->type != AM__J_NULL) {
        if (x->type == AM__J_STR) {
            if (m->f.kind == AM_CONTENT_PARTS) {
                am_part p;
                memset(&p, 0, sizeof p);
                p.type = AM_PART_TEXT;
                p.text = x->str;
                st = am_msg_add_part(m, &p, &e);
            } else {
                st = am_msg_set_text(m, x->str, &e);
            }
            if (st != AM_OK)
                st = sfail(r, st, &e);
        } else if (x->type == AM__J_ARR) {
            st = read_content_parts(r, x, m);
        } else {
            st = rfail(r, x, "field 'content' must be a string, an array "
                       "or null, not %s", am__jtype_name(x->type));
        }
    }
    if (st == AM_OK && (x = opt_str(r, v, "name", &st)) != NULL &&
        (st = am_msg_set_name(m, x->str, &e)) != AM_OK)
        st = sfail(r, st, &e);
    if (st == AM_OK && (x = opt_str(r, v, "tool_call_id", &st)) != NULL &&
        (st = am_msg_set_tool_call_id(m, x->str, &e)) != AM_OK)
        st = sfail(r, st, &e);
    if (st == AM_OK && (x = am__jobj_get(v, "tool_calls")) != NULL &&
        x->type != AM__J_NULL)
        st = read_tool_calls(r, x, m);
    if (st == AM_OK && am_msg_validate(m, &e) != AM_OK)
        st = sfail(r, AM_EINVAL, &e);
    if (st != AM_OK) {
        am_msg_free(m);
        return st;
    }
    *out = m;
    return AM_OK;
}

/* One element of the messages array (am__wire_read's on_item). */
static am_status read_item(ord *r, const am__jnode *v)
{
    am_msg *m;
    am_status st = read_msg(r, v, &m);
    if (st != AM_OK)
        return st;
    st = am_msg_list_push(r->got, m);
    am_msg_free(m);
    return st == AM_OK ? AM_OK
                       : am__fail(r->js.err, st, "openai: out of memory");
}

am_status am__wire_openai_read(const am__msg_env *env, am_str text,
                               am_msg_list *out, am_error *err)
{
    return am__wire_read(env, text, FMT, "a messages array or a request "
                         "object with \"messages\"", NULL, read_item, out,
                         err);
}
