/* msg_json.c -- agentmem's own JSON form of messages and conversations.
 *
 * This is the lossless format (see msg.h for its shape) and the hot path of
 * am_conv_save/am_conv_load, so both directions are hand-written: the
 * writer appends straight into one am_buf, and the reader walks each
 * message with the cursor scanner and a per-message tree in a scratch
 * arena, then builds the compact message in one allocation. JSON values we
 * do not interpret (structured data, tool input, reasoning items) are
 * carried as their compacted text, so numbers keep their spelling.
 *
 * A conversation file is a JSON array with one message per line, so a
 * parse error's line number is also the message's position in the file.
 */
#include <stdio.h>
#include <string.h>

#include "core/jscan.h"
#include "msg_int.h"
#include "wire_int.h"

/* ---- Writing ---- */

#define PUT(lit) am_buf_append(out, lit, sizeof(lit) - 1)

static am_status put_raw(am_buf *out, am_str s)
{
    return am_buf_append(out, s.ptr, s.len);
}

static am_status put_key_str(am_buf *out, const char *key, size_t klen,
                             am_str v)
{
    am_status st = am_buf_append(out, key, klen);
    return st != AM_OK ? st : am__json_put_str(out, v);
}

#define KEY_STR(k, v) put_key_str(out, k, sizeof(k) - 1, v)

static am_status put_part(am_buf *out, const am_part *p)
{
    am_status st = PUT("{\"type\":");
    if (st == AM_OK)
        st = am__json_put_str(out, am_str_c(am_part_type_name(p->type)));
    switch (p->type) {
    case AM_PART_TEXT:
        if (st == AM_OK) st = KEY_STR(",\"text\":", p->text);
        break;
    case AM_PART_IMAGE:
        if (st == AM_OK && p->url.len != 0)
            st = KEY_STR(",\"url\":", p->url);
        if (st == AM_OK && p->media_type.len != 0)
            st = KEY_STR(",\"media_type\":", p->media_type);
        if (st == AM_OK && p->data.len != 0)
            st = KEY_STR(",\"data\":", p->data);
        break;
    case AM_PART_TOOL_USE:
        if (st == AM_OK) st = KEY_STR(",\"id\":", p->id);
        if (st == AM_OK) st = KEY_STR(",\"name\":", p->name);
        if (st == AM_OK) st = PUT(",\"input\":");
        if (st == AM_OK)
            st = p->json.len != 0 ? put_raw(out, p->json) : PUT("{}");
        break;
    case AM_PART_TOOL_RESULT:
        if (st == AM_OK) st = KEY_STR(",\"tool_use_id\":", p->id);
        if (st == AM_OK) {
            if (p->json.len != 0) {
                st = PUT(",\"content\":");
                if (st == AM_OK)
                    st = put_raw(out, p->json);
            } else {
                st = KEY_STR(",\"content\":", p->text);
            }
        }
        if (st == AM_OK && p->is_error)
            st = PUT(",\"is_error\":true");
        break;
    case AM_PART_THINKING:
        if (st == AM_OK) st = KEY_STR(",\"thinking\":", p->text);
        if (st == AM_OK) st = KEY_STR(",\"signature\":", p->signature);
        break;
    case AM_PART_REDACTED_THINKING:
        if (st == AM_OK) st = KEY_STR(",\"data\":", p->data);
        break;
    case AM_PART_REASONING:
        if (st == AM_OK) st = PUT(",\"item\":");
        if (st == AM_OK) st = put_raw(out, p->json);
        break;
    }
    return st != AM_OK ? st : PUT("}");
}

/* Append one message's compact JSON to `out`. */
am_status am__msg_write(const am_msg *msg, am_buf *out)
{
    const am__msg_fields *f = &msg->f;
    am_status st;

    st = KEY_STR("{\"id\":", f->id);
    if (st == AM_OK) {
        /* By hand rather than printf: this runs once per message saved. */
        char tmp[64], digits[24];
        const char *role = am_role_name(f->role);
        size_t rl = strlen(role), k = 0, nd = 0;
        uint64_t v = f->created_ms < 0 ? 0 - (uint64_t)f->created_ms
                                       : (uint64_t)f->created_ms;
        memcpy(tmp, ",\"role\":\"", 9);
        k = 9;
        memcpy(tmp + k, role, rl);
        k += rl;
        memcpy(tmp + k, "\",\"created_ms\":", 15);
        k += 15;
        if (f->created_ms < 0)
            tmp[k++] = '-';
        do {
            digits[nd++] = (char)('0' + v % 10);
            v /= 10;
        } while (v != 0);
        while (nd > 0)
            tmp[k++] = digits[--nd];
        st = am_buf_append(out, tmp, k);
    }
    if (st == AM_OK && f->name.len != 0)
        st = KEY_STR(",\"name\":", f->name);
    if (st == AM_OK) {
        switch (f->kind) {
        case AM_CONTENT_TEXT:
            st = KEY_STR(",\"content\":", f->content);
            break;
        case AM_CONTENT_JSON:
            if ((st = PUT(",\"content\":")) == AM_OK)
                st = put_raw(out, f->content);
            break;
        case AM_CONTENT_PARTS:
            st = PUT(",\"content\":[");
            for (size_t i = 0; st == AM_OK && i < f->nparts; i++) {
                if (i != 0)
                    st = PUT(",");
                if (st == AM_OK)
                    st = put_part(out, &f->parts[i]);
            }
            if (st == AM_OK)
                st = PUT("]");
            break;
        default:
            break;
        }
    }
    if (st == AM_OK && f->ntcs != 0) {
        st = PUT(",\"tool_calls\":[");
        for (size_t i = 0; st == AM_OK && i < f->ntcs; i++) {
            const am_tool_call *t = &f->tcs[i];
            st = i != 0 ? PUT(",") : AM_OK;
            if (st == AM_OK) st = KEY_STR("{\"id\":", t->id);
            if (st == AM_OK) st = KEY_STR(",\"type\":", t->type);
            if (st == AM_OK) st = KEY_STR(",\"name\":", t->name);
            if (st == AM_OK) st = KEY_STR(",\"arguments\":", t->arguments);
            if (st == AM_OK && t->call_id.len != 0)
                st = KEY_STR(",\"call_id\":", t->call_id);
            if (st == AM_OK) st = PUT("}");
        }
        if (st == AM_OK)
            st = PUT("]");
    }
    if (st == AM_OK && f->tool_call_id.len != 0)
        st = KEY_STR(",\"tool_call_id\":", f->tool_call_id);
    if (st == AM_OK && f->nacs != 0) {
        st = PUT(",\"agent_calls\":[");
        for (size_t i = 0; st == AM_OK && i < f->nacs; i++) {
            st = i != 0 ? PUT(",") : AM_OK;
            if (st == AM_OK)
                st = KEY_STR("{\"agent_name\":", f->acs[i].agent_name);
            if (st == AM_OK) st = PUT(",\"request\":");
            if (st == AM_OK) st = put_raw(out, f->acs[i].request);
            if (st == AM_OK) st = PUT("}");
        }
        if (st == AM_OK)
            st = PUT("]");
    }
    if (st == AM_OK && f->structured.len != 0) {
        if ((st = PUT(",\"structured_data\":")) == AM_OK)
            st = put_raw(out, f->structured);
    }
    if (st == AM_OK && f->nimages != 0) {
        st = PUT(",\"images\":[");
        for (size_t i = 0; st == AM_OK && i < f->nimages; i++) {
            st = i != 0 ? PUT(",") : AM_OK;
            if (st == AM_OK)
                st = am__json_put_str(out, f->images[i]);
        }
        if (st == AM_OK)
            st = PUT("]");
    }
    if (st == AM_OK && f->has_agent) {
        st = PUT(",\"agent\":{");
        if (st == AM_OK)
            st = KEY_STR("\"thought\":", f->thought);
        if (st == AM_OK && f->action != AM_ACTION_NONE)
            st = am_buf_appendf(out, ",\"next_action\":\"%s\"",
                                am_action_name(f->action));
        if (st == AM_OK && f->action_input.len != 0) {
            if ((st = PUT(",\"action_input\":")) == AM_OK)
                st = put_raw(out, f->action_input);
        }
        if (st == AM_OK)
            st = PUT("}");
    }
    return st != AM_OK ? st : PUT("}");
}

/* Re-indent compact JSON `in` with two spaces, appending to `out`. */
am_status am__json_pretty(am_str in, am_buf *out)
{
    int depth = 0;
    bool in_str = false;
    am_status st = AM_OK;

    for (size_t i = 0; st == AM_OK && i < in.len; i++) {
        char c = in.ptr[i];
        if (in_str) {
            st = am_buf_append(out, &c, 1);
            if (c == '\\' && i + 1 < in.len && st == AM_OK)
                st = am_buf_append(out, &in.ptr[++i], 1);
            else if (c == '"')
                in_str = false;
            continue;
        }
        switch (c) {
        case '"':
            in_str = true;
            st = am_buf_append(out, &c, 1);
            break;
        case '{':
        case '[':
            if (i + 1 < in.len && (in.ptr[i + 1] == '}' ||
                                   in.ptr[i + 1] == ']')) {
                st = am_buf_append(out, &c, 1);
                if (st == AM_OK)
                    st = am_buf_append(out, &in.ptr[++i], 1);
                break;
            }
            depth++;
            st = am_buf_appendf(out, "%c\n%*s", c, depth * 2, "");
            break;
        case '}':
        case ']':
            depth--;
            st = am_buf_appendf(out, "\n%*s%c", depth * 2, "", c);
            break;
        case ',':
            st = am_buf_appendf(out, ",\n%*s", depth * 2, "");
            break;
        case ':':
            st = am_buf_append(out, ": ", 2);
            break;
        case ' ': case '\n': case '\r': case '\t':
            break;
        default:
            st = am_buf_append(out, &c, 1);
        }
    }
    return st;
}

am_status am_msg_to_json(const am_msg *msg, am_buf *out, am_error *err)
{
    if (msg == NULL || out == NULL)
        return am__fail(err, AM_EINVAL, "am_msg_to_json: NULL argument");
    am_buf_clear(out);
    if (am__msg_write(msg, out) != AM_OK || am_buf_reserve(out, 0) != AM_OK)
        return am__fail(err, AM_ENOMEM, "out of memory writing JSON");
    return AM_OK;
}

/* Append the agentmem form of a message list to `out`. */
am_status am__msgs_write_agentmem(const am_msg *const *msgs, size_t count,
                                  unsigned flags, am_buf *out)
{
    am_status st = AM_OK;
    size_t guess = 4;

    for (size_t i = 0; i < count; i++)
        guess += am_msg_size(msgs[i]) + 64;
    if ((st = am_buf_reserve(out, guess)) != AM_OK)
        return st;
    if (flags & AM_JSON_PRETTY) {
        am_buf tmp = AM_BUF_INIT;
        tmp.alloc = out->alloc;
        st = am__msgs_write_agentmem(msgs, count, 0, &tmp);
        if (st == AM_OK)
            st = am__json_pretty(am_buf_str(&tmp), out);
        if (st == AM_OK)
            st = am_buf_append(out, "\n", 1);
        am_buf_free(&tmp);
        return st;
    }
    if (count == 0)
        return PUT("[]\n");
    st = PUT("[\n");
    for (size_t i = 0; st == AM_OK && i < count; i++) {
        st = am__msg_write(msgs[i], out);
        if (st == AM_OK)
            st = i + 1 < count ? PUT(",\n") : PUT("\n]\n");
    }
    return st;
}

/* ---- Reading ---- */

typedef struct rd {
    am__js *js;
    const am__msg_env *env;
    size_t index;       /* message index, for messages */
    bool single;        /* parsing one message: no index in errors */
} rd;

static am_status rfail(rd *r, const am__jnode *at, const char *fmt, ...)
    AM__PRINTF(3, 4);

static am_status rfail(rd *r, const am__jnode *at, const char *fmt, ...)
{
    char detail[160];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    if (r->single)
        return am__js_fail(r->js, at->pos, "%s", detail);
    return am__js_fail(r->js, at->pos, "message %zu: %s", r->index, detail);
}

static am_status want(rd *r, const am__jnode *v, am__jtype t,
                      const char *field)
{
    if (v->type == t)
        return AM_OK;
    return rfail(r, v, "field '%s' must be %s, not %s", field,
                 am__jtype_name(t), am__jtype_name(v->type));
}

/* A string field (NULL node: leave *out). Checks the size limit. */
static am_status get_str(rd *r, const am__jnode *v, const char *field,
                         am_str *out)
{
    am_status st;
    if (v == NULL)
        return AM_OK;
    if ((st = want(r, v, AM__J_STR, field)) != AM_OK)
        return st;
    if (r->env->max_bytes != 0 && v->str.len > r->env->max_bytes)
        return am__fail(r->js->err, AM_ELIMIT, "%s: message %zu: field '%s'"
                        " is %zu bytes, over the limit of %zu", r->js->what,
                        r->index, field, v->str.len, r->env->max_bytes);
    *out = v->str;
    return AM_OK;
}

static am_status get_raw(rd *r, const am__jnode *v, am_str *out)
{
    if (am__js_compact_span(v->raw, r->js->tmp, out) != AM_OK)
        return am__fail(r->js->err, AM_ENOMEM, "%s: out of memory",
                        r->js->what);
    return AM_OK;
}

static void *tmp_array(rd *r, size_t n, size_t elem)
{
    void *p = am__arena_alloc(r->js->tmp, n * elem);
    if (p != NULL)
        memset(p, 0, n * elem);
    return p;
}

static am_status check_known(rd *r, const am__jnode *obj,
                             const char *const *keys, const char *what)
{
    for (const am__jnode *k = obj->first; k != NULL; k = k->next) {
        bool ok = false;
        for (size_t i = 0; keys[i] != NULL && !ok; i++)
            ok = strlen(keys[i]) == k->key.len &&
                 memcmp(keys[i], k->key.ptr, k->key.len) == 0;
        if (!ok)
            return rfail(r, k, "unknown field '%.*s' in %s",
                         (int)(k->key.len > 40 ? 40 : k->key.len),
                         k->key.ptr, what);
    }
    return AM_OK;
}

static am_status read_part(rd *r, const am__jnode *v, size_t pi,
                           am_part *p)
{
    static const char *const keys[] = { "type", "text", "url", "media_type",
                                        "data", "id", "name", "input",
                                        "tool_use_id", "content",
                                        "is_error", "thinking", "signature",
                                        "item", NULL };
    const am__jnode *t = am__jobj_get(v, "type"), *x;
    am_status st;
    am_error e = { AM_OK, "" };
    int type = -1;
    char field[40];

    snprintf(field, sizeof field, "content[%zu]", pi);
    if ((st = want(r, v, AM__J_OBJ, field)) != AM_OK)
        return st;
    if ((st = check_known(r, v, keys, "a content part")) != AM_OK)
        return st;
    if (t == NULL)
        return rfail(r, v, "content[%zu]: missing field 'type'", pi);
    if ((st = want(r, t, AM__J_STR, "type")) != AM_OK)
        return st;
    for (int i = 0; i < AM_PART_TYPE_COUNT; i++)
        if (strlen(am_part_type_name((am_part_type)i)) == t->str.len &&
            memcmp(am_part_type_name((am_part_type)i), t->str.ptr,
                   t->str.len) == 0)
            type = i;
    if (type < 0)
        return rfail(r, t, "content[%zu]: unknown part type '%.*s'", pi,
                     (int)(t->str.len > 40 ? 40 : t->str.len), t->str.ptr);
    memset(p, 0, sizeof *p);
    p->type = (am_part_type)type;
    switch (p->type) {
    case AM_PART_TEXT:
        st = get_str(r, am__jobj_get(v, "text"), "text", &p->text);
        break;
    case AM_PART_IMAGE:
        if ((st = get_str(r, am__jobj_get(v, "url"), "url", &p->url)) ||
            (st = get_str(r, am__jobj_get(v, "media_type"), "media_type",
                          &p->media_type)))
            break;
        st = get_str(r, am__jobj_get(v, "data"), "data", &p->data);
        break;
    case AM_PART_TOOL_USE:
        if ((st = get_str(r, am__jobj_get(v, "id"), "id", &p->id)) ||
            (st = get_str(r, am__jobj_get(v, "name"), "name", &p->name)))
            break;
        if ((x = am__jobj_get(v, "input")) != NULL) {
            if ((st = want(r, x, AM__J_OBJ, "input")) == AM_OK)
                st = get_raw(r, x, &p->json);
        }
        break;
    case AM_PART_TOOL_RESULT:
        if ((st = get_str(r, am__jobj_get(v, "tool_use_id"), "tool_use_id",
                          &p->id)))
            break;
        if ((x = am__jobj_get(v, "content")) != NULL) {
            if (x->type == AM__J_STR)
                st = get_str(r, x, "content", &p->text);
            else
                st = get_raw(r, x, &p->json);
        }
        if (st == AM_OK && (x = am__jobj_get(v, "is_error")) != NULL) {
            if ((st = want(r, x, AM__J_BOOL, "is_error")) == AM_OK)
                p->is_error = x->b;
        }
        break;
    case AM_PART_THINKING:
        if ((st = get_str(r, am__jobj_get(v, "thinking"), "thinking",
                          &p->text)))
            break;
        st = get_str(r, am__jobj_get(v, "signature"), "signature",
                     &p->signature);
        break;
    case AM_PART_REDACTED_THINKING:
        st = get_str(r, am__jobj_get(v, "data"), "data", &p->data);
        break;
    case AM_PART_REASONING:
        if ((x = am__jobj_get(v, "item")) == NULL)
            return rfail(r, v, "content[%zu]: reasoning part needs 'item'",
                         pi);
        st = get_raw(r, x, &p->json);
        break;
    }
    if (st != AM_OK)
        return st;
    st = am__msg_check_part(r->env, p, &e);
    if (st != AM_OK)
        return rfail(r, v, "content[%zu]: %s", pi, e.msg);
    return AM_OK;
}

static am_status read_agent(rd *r, const am__jnode *v, am__msg_fields *f)
{
    static const char *const keys[] = { "thought", "next_action",
                                        "action_input", NULL };
    const am__jnode *x;
    am_status st;
    am_error e = { AM_OK, "" };

    if ((st = want(r, v, AM__J_OBJ, "agent")) != AM_OK ||
        (st = check_known(r, v, keys, "'agent'")) != AM_OK)
        return st;
    if ((st = get_str(r, am__jobj_get(v, "thought"), "agent.thought",
                      &f->thought)) != AM_OK)
        return st;
    f->action = AM_ACTION_NONE;
    if ((x = am__jobj_get(v, "next_action")) != NULL) {
        am_str a = { "", 0 };
        bool ok = false;
        if ((st = get_str(r, x, "agent.next_action", &a)) != AM_OK)
            return st;
        for (int i = AM_ACTION_CALL_TOOL; i <= AM_ACTION_FINAL_RESPONSE;
             i++)
            if (strlen(am_action_name((am_action)i)) == a.len &&
                memcmp(am_action_name((am_action)i), a.ptr, a.len) == 0) {
                f->action = (am_action)i;
                ok = true;
            }
        if (!ok)
            return rfail(r, x, "agent.next_action: unknown action '%.*s' "
                         "(expected call_tool, invoke_agent or "
                         "final_response)", (int)(a.len > 40 ? 40 : a.len),
                         a.ptr);
    }
    if ((x = am__jobj_get(v, "action_input")) != NULL &&
        x->type != AM__J_NULL) {
        if ((st = want(r, x, AM__J_OBJ, "agent.action_input")) != AM_OK ||
            (st = get_raw(r, x, &f->action_input)) != AM_OK)
            return st;
    }
    if (am__msg_agent_validate(f->action, f->action_input, &e) != AM_OK)
        return rfail(r, v, "%s", e.msg);
    f->has_agent = true;
    return AM_OK;
}

static am_status read_tool_calls(rd *r, const am__jnode *v,
                                 am__msg_fields *f)
{
    static const char *const keys[] = { "id", "type", "name", "arguments",
                                        "call_id", NULL };
    am_status st;
    size_t i = 0;

    if ((st = want(r, v, AM__J_ARR, "tool_calls")) != AM_OK)
        return st;
    if (v->n == 0)
        return AM_OK;
    if ((f->tcs = tmp_array(r, v->n, sizeof *f->tcs)) == NULL)
        return am__fail(r->js->err, AM_ENOMEM, "out of memory");
    for (const am__jnode *x = v->first; x != NULL; x = x->next, i++) {
        am_tool_call *t = &f->tcs[i];
        if ((st = want(r, x, AM__J_OBJ, "tool_calls[]")) != AM_OK ||
            (st = check_known(r, x, keys, "a tool call")) != AM_OK ||
            (st = get_str(r, am__jobj_get(x, "id"), "tool_calls.id",
                          &t->id)) != AM_OK ||
            (st = get_str(r, am__jobj_get(x, "type"), "tool_calls.type",
                          &t->type)) != AM_OK ||
            (st = get_str(r, am__jobj_get(x, "name"), "tool_calls.name",
                          &t->name)) != AM_OK ||
            (st = get_str(r, am__jobj_get(x, "arguments"),
                          "tool_calls.arguments", &t->arguments)) != AM_OK ||
            (st = get_str(r, am__jobj_get(x, "call_id"),
                          "tool_calls.call_id", &t->call_id)) != AM_OK)
            return st;
        if (t->id.len == 0 || t->name.len == 0)
            return rfail(r, x, "tool_calls[%zu]: needs an id and a name",
                         i);
        if (t->type.len == 0)
            t->type = AM_STR("function");
    }
    f->ntcs = v->n;
    return AM_OK;
}

static am_status read_agent_calls(rd *r, const am__jnode *v,
                                  am__msg_fields *f)
{
    static const char *const keys[] = { "agent_name", "request", NULL };
    am_status st;
    size_t i = 0;

    if ((st = want(r, v, AM__J_ARR, "agent_calls")) != AM_OK)
        return st;
    if (v->n == 0)
        return AM_OK;
    if ((f->acs = tmp_array(r, v->n, sizeof *f->acs)) == NULL)
        return am__fail(r->js->err, AM_ENOMEM, "out of memory");
    for (const am__jnode *x = v->first; x != NULL; x = x->next, i++) {
        am_agent_call *a = &f->acs[i];
        const am__jnode *q;
        if ((st = want(r, x, AM__J_OBJ, "agent_calls[]")) != AM_OK ||
            (st = check_known(r, x, keys, "an agent call")) != AM_OK ||
            (st = get_str(r, am__jobj_get(x, "agent_name"),
                          "agent_calls.agent_name", &a->agent_name)) !=
                AM_OK)
            return st;
        q = am__jobj_get(x, "request");
        if (a->agent_name.len == 0 || q == NULL)
            return rfail(r, x, "agent_calls[%zu]: needs agent_name and "
                         "request", i);
        if ((st = get_raw(r, q, &a->request)) != AM_OK)
            return st;
    }
    f->nacs = v->n;
    return AM_OK;
}

static am_status read_images(rd *r, const am__jnode *v, am__msg_fields *f)
{
    am_status st;
    size_t i = 0;

    if ((st = want(r, v, AM__J_ARR, "images")) != AM_OK)
        return st;
    if (v->n == 0)
        return AM_OK;
    if ((f->images = tmp_array(r, v->n, sizeof *f->images)) == NULL)
        return am__fail(r->js->err, AM_ENOMEM, "out of memory");
    for (const am__jnode *x = v->first; x != NULL; x = x->next, i++) {
        if ((st = get_str(r, x, "images[]", &f->images[i])) != AM_OK)
            return st;
        if (f->images[i].len == 0)
            return rfail(r, x, "images[%zu]: empty path or URL", i);
    }
    f->nimages = v->n;
    return AM_OK;
}

static am_status read_content(rd *r, const am__jnode *v, am__msg_fields *f)
{
    am_status st;
    size_t i = 0;

    switch (v->type) {
    case AM__J_NULL:
        f->kind = AM_CONTENT_NONE;
        return AM_OK;
    case AM__J_STR:
        f->kind = AM_CONTENT_TEXT;
        return get_str(r, v, "content", &f->content);
    case AM__J_OBJ:
        f->kind = AM_CONTENT_JSON;
        return get_raw(r, v, &f->content);
    case AM__J_ARR:
        f->kind = AM_CONTENT_PARTS;
        if (v->n == 0)
            return AM_OK;
        if ((f->parts = tmp_array(r, v->n, sizeof *f->parts)) == NULL)
            return am__fail(r->js->err, AM_ENOMEM, "out of memory");
        for (const am__jnode *x = v->first; x != NULL; x = x->next, i++)
            if ((st = read_part(r, x, i, &f->parts[i])) != AM_OK)
                return st;
        f->nparts = v->n;
        return AM_OK;
    default:
        return rfail(r, v, "field 'content' must be a string, an object or "
                     "an array of parts, not %s", am__jtype_name(v->type));
    }
}

/* Fill `f` from the message object `v` (strings point into the input or
 * r->js->tmp). `idbuf` holds a generated id. */
static am_status read_fields(rd *r, const am__jnode *v, am__msg_fields *f,
                             char idbuf[37])
{
    static const char *const keys[] = { "id", "role", "created_ms", "name",
                                        "content", "tool_calls",
                                        "tool_call_id", "agent_calls",
                                        "structured_data", "images",
                                        "agent", NULL };
    const am__jnode *x;
    am_status st;
    am_error e = { AM_OK, "" };

    memset(f, 0, sizeof *f);
    if (v->type != AM__J_OBJ)
        return rfail(r, v, "a message must be an object, not %s",
                     am__jtype_name(v->type));
    if (r->env->max_bytes != 0 && v->raw.len > r->env->max_bytes)
        return am__fail(r->js->err, AM_ELIMIT, "%s: message %zu is %zu "
                        "bytes, over the limit of %zu", r->js->what,
                        r->index, v->raw.len, r->env->max_bytes);
    if ((st = check_known(r, v, keys, "a message")) != AM_OK)
        return st;
    if ((x = am__jobj_get(v, "role")) == NULL)
        return rfail(r, v, "missing field 'role'");
    if ((st = want(r, x, AM__J_STR, "role")) != AM_OK)
        return st;
    if (am_role_parse(x->str, &f->role, &e) != AM_OK)
        return rfail(r, x, "%s", e.msg);
    if ((x = am__jobj_get(v, "id")) != NULL) {
        if ((st = get_str(r, x, "id", &f->id)) != AM_OK)
            return st;
        if (f->id.len == 0)
            return rfail(r, x, "field 'id' must not be empty");
    } else {
        am__msg_new_id(r->env, idbuf);
        f->id.ptr = idbuf;
        f->id.len = 36;
    }
    if ((x = am__jobj_get(v, "created_ms")) != NULL) {
        if (x->type != AM__J_NUM)
            return want(r, x, AM__J_NUM, "created_ms");
        {
            am__js sub = *r->js;
            sub.pos = x->pos;
            if ((st = am__js_int(&sub, &f->created_ms)) != AM_OK)
                return st;
        }
    } else {
        f->created_ms = am_clock_now(r->env->clock);
    }
    if ((st = get_str(r, am__jobj_get(v, "name"), "name", &f->name)) != AM_OK)
        return st;
    if ((x = am__jobj_get(v, "content")) != NULL &&
        (st = read_content(r, x, f)) != AM_OK)
        return st;
    if ((x = am__jobj_get(v, "tool_calls")) != NULL &&
        x->type != AM__J_NULL && (st = read_tool_calls(r, x, f)) != AM_OK)
        return st;
    if ((st = get_str(r, am__jobj_get(v, "tool_call_id"), "tool_call_id",
                      &f->tool_call_id)) != AM_OK)
        return st;
    if ((x = am__jobj_get(v, "agent_calls")) != NULL &&
        x->type != AM__J_NULL && (st = read_agent_calls(r, x, f)) != AM_OK)
        return st;
    if ((x = am__jobj_get(v, "structured_data")) != NULL &&
        x->type != AM__J_NULL && (st = get_raw(r, x, &f->structured)) !=
                                     AM_OK)
        return st;
    if ((x = am__jobj_get(v, "images")) != NULL && x->type != AM__J_NULL &&
        (st = read_images(r, x, f)) != AM_OK)
        return st;
    if ((x = am__jobj_get(v, "agent")) != NULL && x->type != AM__J_NULL &&
        (st = read_agent(r, x, f)) != AM_OK)
        return st;
    if (f->role == AM_ROLE_TOOL && f->tool_call_id.len == 0) {
        if (r->single)
            return am__fail(r->js->err, AM_EINVAL, "%s: a tool message "
                            "needs a tool_call_id", r->js->what);
        return am__fail(r->js->err, AM_EINVAL, "%s: message %zu: a tool "
                        "message needs a tool_call_id", r->js->what,
                        r->index);
    }
    return AM_OK;
}

/* Parse the message object at the cursor and build it. */
static am_status read_msg(rd *r, am_msg **out)
{
    am__jnode *v;
    am__msg_fields f;
    char idbuf[37];
    am_status st;

    if ((st = am__jdom_parse(r->js, &v)) != AM_OK)
        return st;
    if ((st = read_fields(r, v, &f, idbuf)) != AM_OK)
        return st;
    if (am__msg_build(&f, r->env, out) != AM_OK)
        return am__fail(r->js->err, AM_ENOMEM, "%s: out of memory",
                        r->js->what);
    return AM_OK;
}

am_status am_msg_from_json(const am_msg_opts *opts, am_str json,
                           am_msg **out, am_error *err)
{
    am__msg_env env = am__msg_env_of(opts);
    am__arena tmp;
    am__js js;
    rd r;
    am_status st;

    if (out == NULL)
        return am__fail(err, AM_EINVAL, "am_msg_from_json: NULL out");
    *out = NULL;
    am__arena_init(&tmp, env.alloc, 4096);
    am__js_init(&js, json, "message", &tmp, err);
    r.js = &js;
    r.env = &env;
    r.index = 0;
    r.single = true;
    st = read_msg(&r, out);
    if (st == AM_OK && (st = am__js_end(&js)) != AM_OK) {
        am_msg_free(*out);
        *out = NULL;
    }
    am__arena_free(&tmp);
    return st;
}

am_status am__conv_parse(const am__msg_env *env, am_str text,
                         const char *what, am_msg_list *out, am_error *err)
{
    am__arena tmp;
    am__js js;
    rd r;
    am_status st;
    size_t old = out->count;

    am__arena_init(&tmp, env->alloc, 16384);
    am__js_init(&js, text, what, &tmp, err);
    r.js = &js;
    r.env = env;
    r.index = 0;
    r.single = false;
    am__js_skip_bom(&js);
    if (am__js_peek(&js) == '\0') {
        st = am__js_fail(&js, js.pos, "empty input, expected a JSON array "
                         "of messages");
        goto out;
    }
    if (am__js_peek(&js) != '[') {
        st = am__js_fail(&js, js.pos, "expected a JSON array of messages");
        goto out;
    }
    js.pos++;
    if (!am__js_accept(&js, ']')) {
        for (;;) {
            am_msg *m = NULL;
            if ((st = read_msg(&r, &m)) != AM_OK)
                goto out;
            atomic_store_explicit(&m->frozen, true, memory_order_relaxed);
            if (am__grow(out->alloc, (void **)&out->items, &out->cap,
                         out->count + 1, sizeof *out->items) != AM_OK) {
                am_msg_free(m);
                st = am__fail(err, AM_ENOMEM, "%s: out of memory", what);
                goto out;
            }
            out->items[out->count++] = m;
            r.index++;
            /* The scratch arena holds only the current message's tree.
             * (Keeping it across 64 messages measured no faster and 1 MB
             * bigger at peak.) */
            am__arena_free(&tmp);
            if (am__js_accept(&js, ','))
                continue;
            if (am__js_accept(&js, ']'))
                break;
            st = am__js_fail(&js, js.pos, "%s after message %zu, expected "
                             "',' or ']'", js.pos >= js.len
                                 ? "unexpected end of input (truncated?)"
                                 : "unexpected character", r.index - 1);
            goto out;
        }
    }
    st = am__js_end(&js);
out:
    if (st != AM_OK) {
        while (out->count > old)
            am_msg_free(out->items[--out->count]);
    }
    am__arena_free(&tmp);
    return st;
}
