/* wire_anthropic.c -- the Anthropic Messages request.
 *
 * Writing: system messages are hoisted into the top-level "system" (a
 * string for one, an array of text blocks for several); the rest become
 * turns of role user or assistant whose content is a list of blocks:
 *   text, image ({"source":{"type":"url"|"base64",...}}), thinking (with
 *   its signature) and redacted_thinking, tool_use (tool calls: the
 *   arguments must be a JSON object), tool_result (tool messages, in a
 *   user turn).
 * Consecutive turns of the same role are merged, as the API requires
 * alternation. OpenAI reasoning items travel as {"type":"reasoning",
 * "item":...} blocks unless AM_WIRE_PORTABLE. A turn that is one text
 * block is written as a plain string.
 *
 * Reading does the reverse: tool_result blocks become tool messages (in
 * block order, before the rest of the turn's content, which becomes one
 * user message), tool_use blocks become tool calls, a tool_result with
 * is_error keeps it as a tool_result part.
 */
#include <stdio.h>
#include <string.h>

#include "wire_int.h"

#define FMT "anthropic"

/* ---- Writing ---- */

typedef struct aw {
    am_buf *out;       /* blocks of the current turn (but tool results) */
    am_buf *results;   /* tool_result blocks of the current turn */
    am_buf *body;      /* finished turns */
    am_error *err;
    unsigned flags;
    int turn_role;     /* -1 before the first turn */
    size_t blocks;     /* blocks written in the current turn */
    bool text_only;    /* the current turn is one text block: `text` */
    am_str text;
    am__idset calls;
} aw;

/* Close the current turn: a turn of one text block is written as a plain
 * string, anything else as the array of its blocks, tool results first
 * (the API wants them at the start of the user turn). */
static am_status end_turn(aw *w)
{
    am_status st;

    if (w->turn_role < 0)
        return AM_OK;
    st = am_buf_appendf(w->body, "%s{\"role\":\"%s\",\"content\":",
                        w->body->len != 0 ? ",\n" : "",
                        am_role_name(w->turn_role ? AM_ROLE_ASSISTANT
                                                  : AM_ROLE_USER));
    if (st == AM_OK && w->blocks == 1 && w->text_only)
        st = am__json_put_str(w->body, w->text);
    else if (st == AM_OK) {
        st = AM__PUT(w->body, "[");
        if (st == AM_OK)
            st = am__put_raw(w->body, am_buf_str(w->results));
        if (st == AM_OK && w->results->len != 0 && w->out->len != 0)
            st = AM__PUT(w->body, ",");
        if (st == AM_OK)
            st = am__put_raw(w->body, am_buf_str(w->out));
        if (st == AM_OK)
            st = AM__PUT(w->body, "]");
    }
    if (st == AM_OK)
        st = AM__PUT(w->body, "}");
    am_buf_clear(w->out);
    am_buf_clear(w->results);
    return st;
}

/* Start a block of a `role` turn in buffer `into` (w->out or
 * w->results): close the turn if the role changes, separate blocks. */
static am_status begin_in(aw *w, am_role role, am_buf *into)
{
    am_status st = AM_OK;
    int r = role == AM_ROLE_ASSISTANT ? 1 : 0;

    if (w->turn_role != r) {
        st = end_turn(w); /* reads text_only of the turn it closes */
        w->turn_role = r;
        w->blocks = 0;
        w->text_only = false;
        return st;
    }
    w->text_only = false;
    return into->len != 0 ? AM__PUT(into, ",") : AM_OK;
}

static am_status begin_block(aw *w, am_role role)
{
    return begin_in(w, role, w->out);
}

static am_status put_text_block(aw *w, am_role role, am_str text)
{
    am_status st = begin_block(w, role);
    if (st == AM_OK)
        st = am__put_kstr(w->out, "{\"type\":\"text\",\"text\":", text);
    w->blocks++;
    w->text_only = true;
    w->text = text;
    return st != AM_OK ? st : AM__PUT(w->out, "}");
}

/* The image source for a part (url, data: URL or base64 data). */
static am_status put_image(am_buf *out, const am_part *p)
{
    am_str media, data;
    am_status st = AM__PUT(out, "{\"type\":\"image\",\"source\":{");
    bool b64 = p->data.len != 0;

    media = p->media_type;
    data = p->data;
    if (!b64 && p->url.len > 5 && memcmp(p->url.ptr, "data:", 5) == 0) {
        const char *semi = memchr(p->url.ptr, ';', p->url.len);
        const char *comma = memchr(p->url.ptr, ',', p->url.len);
        if (semi != NULL && comma != NULL && comma - semi == 7 &&
            memcmp(semi, ";base64", 7) == 0) {
            media.ptr = p->url.ptr + 5;
            media.len = (size_t)(semi - p->url.ptr) - 5;
            data.ptr = comma + 1;
            data.len = p->url.len - (size_t)(comma + 1 - p->url.ptr);
            b64 = true;
        }
    }
    if (st != AM_OK)
        return st;
    if (b64) {
        st = am__put_kstr(out, "\"type\":\"base64\",\"media_type\":", media);
        if (st == AM_OK)
            st = am__put_kstr(out, ",\"data\":", data);
    } else {
        st = am__put_kstr(out, "\"type\":\"url\",\"url\":", p->url);
    }
    return st != AM_OK ? st : AM__PUT(out, "}}");
}

/* A tool call's arguments as an input object. */
static am_status put_input(aw *w, size_t i, size_t k, am_str args)
{
    am__arena tmp;
    am_str c;
    am_error e = { AM_OK, "" };
    am_status st;

    if (args.len == 0)
        return AM__PUT(w->out, "{}");
    am__arena_init(&tmp, w->out->alloc, 256);
    st = am__json_compact(args, "arguments", &tmp, &c, &e);
    if (st == AM_OK && c.ptr[0] != '{')
        st = AM_EINVAL;
    if (st == AM_OK)
        st = am__put_raw(w->out, c);
    else if (st != AM_ENOMEM)
        st = am__wire_fail(w->err, AM_EINVAL, FMT, i, "tool_calls[%zu]: "
                           "arguments are not a JSON object, which "
                           "tool_use input must be", k);
    am__arena_free(&tmp);
    return st;
}

static am_status put_part(aw *w, const am_msg *m, size_t i,
                          const am_part *p)
{
    am_buf *out = w->out;
    am_status st;

    switch (p->type) {
    case AM_PART_TEXT:
        return put_text_block(w, m->f.role, p->text);
    case AM_PART_IMAGE:
        if ((st = begin_block(w, m->f.role)) == AM_OK)
            st = put_image(out, p);
        break;
    case AM_PART_TOOL_USE:
        if (m->f.role != AM_ROLE_ASSISTANT)
            return am__wire_fail(w->err, AM_EINVAL, FMT, i, "tool_use only "
                                 "in assistant messages");
        if ((st = begin_block(w, m->f.role)) == AM_OK)
            st = am__put_kstr(out, "{\"type\":\"tool_use\",\"id\":", p->id);
        if (st == AM_OK)
            st = am__put_kstr(out, ",\"name\":", p->name);
        if (st == AM_OK)
            st = AM__PUT(out, ",\"input\":");
        if (st == AM_OK)
            st = p->json.len != 0 ? am__put_raw(out, p->json)
                                  : AM__PUT(out, "{}");
        if (st == AM_OK)
            st = AM__PUT(out, "}");
        if (st == AM_OK)
            st = am__idset_add(&w->calls, p->id);
        break;
    case AM_PART_TOOL_RESULT:
        if (m->f.role == AM_ROLE_ASSISTANT)
            return am__wire_fail(w->err, AM_EINVAL, FMT, i, "tool_result "
                                 "in an assistant message");
        if (!am__idset_has(&w->calls, p->id))
            return am__wire_fail(w->err, AM_EINVAL, FMT, i, "tool result "
                                 "for call '%.*s', but no earlier "
                                 "assistant message made that call",
                                 (int)(p->id.len > 60 ? 60 : p->id.len),
                                 p->id.ptr);
        out = w->results;
        if ((st = begin_in(w, AM_ROLE_USER, out)) == AM_OK)
            st = am__put_kstr(out, "{\"type\":\"tool_result\","
                                   "\"tool_use_id\":", p->id);
        if (st == AM_OK) {
            if (p->json.len != 0) {
                st = AM__PUT(out, ",\"content\":");
                if (st == AM_OK)
                    st = am__put_raw(out, p->json);
            } else {
                st = am__put_kstr(out, ",\"content\":", p->text);
            }
        }
        if (st == AM_OK && p->is_error)
            st = AM__PUT(out, ",\"is_error\":true");
        if (st == AM_OK)
            st = AM__PUT(out, "}");
        break;
    case AM_PART_THINKING:
        if ((st = begin_block(w, m->f.role)) == AM_OK)
            st = am__put_kstr(out, "{\"type\":\"thinking\",\"thinking\":",
                              p->text);
        if (st == AM_OK)
            st = am__put_kstr(out, ",\"signature\":", p->signature);
        if (st == AM_OK)
            st = AM__PUT(out, "}");
        break;
    case AM_PART_REDACTED_THINKING:
        if ((st = begin_block(w, m->f.role)) == AM_OK)
            st = am__put_kstr(out, "{\"type\":\"redacted_thinking\","
                                   "\"data\":", p->data);
        if (st == AM_OK)
            st = AM__PUT(out, "}");
        break;
    case AM_PART_REASONING:
        if (w->flags & AM_WIRE_PORTABLE)
            return AM_OK;
        if ((st = begin_block(w, m->f.role)) == AM_OK)
            st = AM__PUT(out, "{\"type\":\"reasoning\",\"item\":");
        if (st == AM_OK)
            st = am__put_raw(out, p->json);
        if (st == AM_OK)
            st = AM__PUT(out, "}");
        break;
    default:
        st = AM_OK;
    }
    w->blocks++;
    return st;
}

static am_status write_msg(aw *w, const am_msg *m, size_t i)
{
    const am__msg_fields *f = &m->f;
    am_status st = AM_OK;

    if (f->role == AM_ROLE_TOOL) {
        am_part p;
        if (f->tool_call_id.len == 0)
            return am__wire_fail(w->err, AM_EINVAL, FMT, i, "tool message "
                                 "without tool_call_id");
        /* A tool message that is exactly one tool_result part (how an
         * is_error result is kept) is that block. */
        if (f->kind == AM_CONTENT_PARTS && f->nparts == 1 &&
            f->parts[0].type == AM_PART_TOOL_RESULT)
            return put_part(w, m, i, &f->parts[0]);
        memset(&p, 0, sizeof p);
        p.type = AM_PART_TOOL_RESULT;
        p.id = f->tool_call_id;
        if (f->kind == AM_CONTENT_TEXT || f->kind == AM_CONTENT_JSON) {
            p.text = f->content;
            return put_part(w, m, i, &p);
        }
        if (f->kind == AM_CONTENT_PARTS) {
            /* Content blocks of a tool result: text and images. */
            am_buf blocks = AM_BUF_INIT;
            blocks.alloc = w->out->alloc;
            st = AM__PUT(&blocks, "[");
            for (size_t k = 0; st == AM_OK && k < f->nparts; k++) {
                const am_part *q = &f->parts[k];
                if (q->type != AM_PART_TEXT && q->type != AM_PART_IMAGE) {
                    st = am__wire_fail(w->err, AM_EINVAL, FMT, i,
                                       "content[%zu]: a tool result holds "
                                       "only text and images", k);
                    break;
                }
                if (k != 0)
                    st = AM__PUT(&blocks, ",");
                if (st == AM_OK && q->type == AM_PART_TEXT) {
                    st = am__put_kstr(&blocks, "{\"type\":\"text\","
                                               "\"text\":", q->text);
                    if (st == AM_OK)
                        st = AM__PUT(&blocks, "}");
                } else if (st == AM_OK) {
                    st = put_image(&blocks, q);
                }
            }
            if (st == AM_OK)
                st = AM__PUT(&blocks, "]");
            p.json = am_buf_str(&blocks);
            if (st == AM_OK)
                st = put_part(w, m, i, &p);
            am_buf_free(&blocks);
            return st;
        }
        return put_part(w, m, i, &p);
    }
    switch (f->kind) {
    case AM_CONTENT_TEXT:
    case AM_CONTENT_JSON:
        /* Anthropic rejects empty text blocks; an empty text says
         * nothing, so it is left out. */
        if (f->content.len != 0)
            st = put_text_block(w, f->role, f->content);
        break;
    case AM_CONTENT_PARTS:
        for (size_t k = 0; st == AM_OK && k < f->nparts; k++)
            st = put_part(w, m, i, &f->parts[k]);
        break;
    default:
        break;
    }
    for (size_t k = 0; st == AM_OK && k < f->nimages; k++) {
        am_part p;
        memset(&p, 0, sizeof p);
        p.type = AM_PART_IMAGE;
        p.url = f->images[k];
        st = put_part(w, m, i, &p);
    }
    for (size_t k = 0; st == AM_OK && k < f->ntcs; k++) {
        const am_tool_call *t = &f->tcs[k];
        if (f->role != AM_ROLE_ASSISTANT)
            return am__wire_fail(w->err, AM_EINVAL, FMT, i, "tool calls "
                                 "only in assistant messages");
        if ((st = begin_block(w, f->role)) == AM_OK)
            st = am__put_kstr(w->out, "{\"type\":\"tool_use\",\"id\":",
                              t->id);
        /* An agentmem extension, as in the OpenAI writer. */
        if (st == AM_OK && t->call_id.len != 0 &&
            !(w->flags & AM_WIRE_PORTABLE))
            st = am__put_kstr(w->out, ",\"call_id\":", t->call_id);
        if (st == AM_OK)
            st = am__put_kstr(w->out, ",\"name\":", t->name);
        if (st == AM_OK)
            st = AM__PUT(w->out, ",\"input\":");
        if (st == AM_OK)
            st = put_input(w, i, k, t->arguments);
        if (st == AM_OK)
            st = AM__PUT(w->out, "}");
        if (st == AM_OK)
            st = am__idset_add(&w->calls, t->id);
        w->blocks++;
    }
    return st;
}

am_status am__wire_anthropic_write(const am_msg *const *msgs, size_t count,
                                   unsigned flags, am_buf *out,
                                   am_error *err)
{
    am_buf body = AM_BUF_INIT, sys = AM_BUF_INIT, tmp = AM_BUF_INIT;
    am_buf turn = AM_BUF_INIT, results = AM_BUF_INIT;
    aw w;
    am_status st = AM_OK;
    size_t nsys = 0;
    const am_msg *only_sys = NULL;

    /* err->code tells below whether a failure was recorded already, so
     * it must not start as whatever the caller's am_error held. */
    am_error_clear(err);
    body.alloc = sys.alloc = tmp.alloc = turn.alloc = out->alloc;
    results.alloc = out->alloc;
    memset(&w, 0, sizeof w);
    w.out = &turn;
    w.results = &results;
    w.body = &body;
    w.err = err;
    w.flags = flags;
    w.turn_role = -1;
    w.calls.alloc = out->alloc;
    for (size_t i = 0; st == AM_OK && i < count; i++) {
        const am_msg *m = msgs[i];
        if (m->f.role != AM_ROLE_SYSTEM) {
            st = write_msg(&w, m, i);
            continue;
        }
        if (m->f.kind == AM_CONTENT_PARTS) {
            for (size_t k = 0; st == AM_OK && k < m->f.nparts; k++) {
                if (m->f.parts[k].type != AM_PART_TEXT)
                    st = am__wire_fail(err, AM_EINVAL, FMT, i, "a system "
                                       "message holds only text here");
                else {
                    st = nsys++ ? AM__PUT(&sys, ",") : AM_OK;
                    if (st == AM_OK)
                        st = am__put_kstr(&sys, "{\"type\":\"text\","
                                                "\"text\":",
                                          m->f.parts[k].text);
                    if (st == AM_OK)
                        st = AM__PUT(&sys, "}");
                }
            }
            only_sys = NULL;
            continue;
        }
        st = nsys++ ? AM__PUT(&sys, ",") : AM_OK;
        if (st == AM_OK)
            st = am__put_kstr(&sys, "{\"type\":\"text\",\"text\":",
                              m->f.content);
        if (st == AM_OK)
            st = AM__PUT(&sys, "}");
        only_sys = nsys == 1 ? m : NULL;
    }
    if (st == AM_OK)
        st = end_turn(&w);
    if (st == AM_OK) {
        am_buf *o = (flags & AM_JSON_PRETTY) ? &tmp : out;
        st = AM__PUT(o, "{");
        if (st == AM_OK && nsys == 1 && only_sys != NULL)
            st = am__put_kstr(o, "\"system\":", only_sys->f.content);
        else if (st == AM_OK && nsys != 0) {
            st = AM__PUT(o, "\"system\":[");
            if (st == AM_OK)
                st = am__put_raw(o, am_buf_str(&sys));
            if (st == AM_OK)
                st = AM__PUT(o, "]");
        }
        if (st == AM_OK)
            st = nsys != 0 ? AM__PUT(o, ",\n\"messages\":[\n")
                           : AM__PUT(o, "\"messages\":[\n");
        if (st == AM_OK)
            st = am__put_raw(o, am_buf_str(&body));
        if (st == AM_OK)
            st = AM__PUT(o, "]}");
        if (st == AM_OK && o == &tmp)
            st = am__json_pretty(am_buf_str(&tmp), out);
        if (st == AM_OK)
            st = AM__PUT(out, "\n");
    }
    if (st != AM_OK && (err == NULL || err->code != st))
        st = am__fail(err, st, "out of memory");
    am__idset_free(&w.calls);
    am_buf_free(&body);
    am_buf_free(&turn);
    am_buf_free(&results);
    am_buf_free(&sys);
    am_buf_free(&tmp);
    return st;
}

/* ---- Reading ---- */

typedef am__wire_rd ard; /* wire_int.h */

/* Fail at node `at` of the message being read (wire.c). */
#define rfail(r, at, ...)                                                    \
    am__wire_read_fail(&(r)->js, (at)->pos, (r)->index, __VA_ARGS__)

/* A setter failed: prefix its detail with the message index. */
static am_status sfail(ard *r, am_status st, am_error *e)
{
    return am__wire_set_fail(&r->js, "anthropic", r->index, st, e);
}

static bool is(const am__jnode *t, const char *s)
{
    return t != NULL && t->type == AM__J_STR && t->str.len == strlen(s) &&
           memcmp(t->str.ptr, s, t->str.len) == 0;
}

static am_str sget(const am__jnode *obj, const char *key)
{
    const am__jnode *v = am__jobj_get(obj, key);
    am_str e = { "", 0 };
    return v != NULL && v->type == AM__J_STR ? v->str : e;
}

static am_status read_image(ard *r, const am__jnode *b, am_part *p)
{
    const am__jnode *src = am__jobj_get(b, "source");
    const am__jnode *t = am__jobj_get(src, "type");

    memset(p, 0, sizeof *p);
    p->type = AM_PART_IMAGE;
    if (is(t, "url")) {
        p->url = sget(src, "url");
    } else if (is(t, "base64")) {
        p->media_type = sget(src, "media_type");
        p->data = sget(src, "data");
    } else {
        return rfail(r, b, "image block needs a source of type url or "
                     "base64");
    }
    if (p->url.len == 0 && p->data.len == 0)
        return rfail(r, b, "image block without url or data");
    return AM_OK;
}

static am_status push(ard *r, am_msg *m)
{
    am_error e = { AM_OK, "" };
    am_status st = am_msg_validate(m, &e);
    if (st != AM_OK)
        st = sfail(r, st, &e);
    else if ((st = am_msg_list_push(r->got, m)) != AM_OK)
        st = am__fail(r->js.err, st, "anthropic: out of memory");
    am_msg_free(m);
    return st;
}

static am_status read_tool_result(ard *r, const am__jnode *b)
{
    const am__jnode *c = am__jobj_get(b, "content"),
                    *ie = am__jobj_get(b, "is_error");
    am_str id = sget(b, "tool_use_id");
    bool is_error = ie != NULL && ie->type == AM__J_BOOL && ie->b;
    am_msg *m = NULL;
    am_error e = { AM_OK, "" };
    am_status st;

    if (id.len == 0)
        return rfail(r, b, "tool_result block needs a tool_use_id");
    if ((st = am_msg_create(&r->mo, AM_ROLE_TOOL, &m, &e)) != AM_OK)
        return sfail(r, st, &e);
    st = am_msg_set_tool_call_id(m, id, &e);
    if (st == AM_OK && is_error) {
        am_part p;
        memset(&p, 0, sizeof p);
        p.type = AM_PART_TOOL_RESULT;
        p.id = id;
        p.is_error = true;
        if (c != NULL && c->type == AM__J_STR)
            p.text = c->str;
        else if (c != NULL && c->type != AM__J_NULL)
            p.json = c->raw;
        st = am_msg_add_part(m, &p, &e);
    } else if (st == AM_OK && c != NULL && c->type == AM__J_STR) {
        st = am_msg_set_text(m, c->str, &e);
    } else if (st == AM_OK && c != NULL && c->type == AM__J_ARR) {
        for (const am__jnode *x = c->first; st == AM_OK && x != NULL;
             x = x->next) {
            am_part p;
            const am__jnode *t = am__jobj_get(x, "type");
            if (is(t, "text")) {
                memset(&p, 0, sizeof p);
                p.type = AM_PART_TEXT;
                p.text = sget(x, "text");
            } else if (is(t, "image")) {
                if ((st = read_image(r, x, &p)) != AM_OK)
                    break;
            } else {
                st = rfail(r, x, "tool_result content holds text and image "
                           "blocks only");
                break;
            }
            if ((st = am_msg_add_part(m, &p, &e)) != AM_OK)
                st = sfail(r, st, &e);
        }
        if (st != AM_OK) {
            am_msg_free(m);
            return st;
        }
    } else if (st == AM_OK && c != NULL && c->type != AM__J_NULL) {
        st = AM_EFORMAT;
        am_msg_free(m);
        return rfail(r, c, "tool_result content must be a string or an "
                     "array of blocks");
    } else if (st == AM_OK) {
        st = am_msg_set_text(m, AM_STR(""), &e);
    }
    if (st != AM_OK) {
        am_msg_free(m);
        return sfail(r, st, &e);
    }
    return push(r, m);
}

static am_status read_turn(ard *r, const am__jnode *v)
{
    const am__jnode *role = am__jobj_get(v, "role"),
                    *content = am__jobj_get(v, "content");
    am_role rl;
    am_msg *m = NULL;
    am_error e = { AM_OK, "" };
    am_status st = AM_OK;
    size_t k = 0, nblocks = 0;

    if (v->type != AM__J_OBJ)
        return rfail(r, v, "a message must be an object, not %s",
                     am__jtype_name(v->type));
    if (role == NULL)
        return rfail(r, v, "missing field 'role'");
    if (role->type != AM__J_STR)
        return rfail(r, role, "field 'role' must be a string");
    /* Anthropic's turns are am_role's user and assistant only. */
    if (am_role_parse(role->str, &rl, NULL) != AM_OK ||
        (rl != AM_ROLE_USER && rl != AM_ROLE_ASSISTANT))
        return rfail(r, role, "unknown role '%.*s' (expected user or "
                     "assistant)", (int)(role->str.len > 40
                                         ? 40 : role->str.len),
                     role->str.ptr);
    if (content == NULL)
        return rfail(r, v, "missing field 'content'");
    if (content->type == AM__J_STR) {
        if ((st = am_msg_create_text(&r->mo, rl, content->str, &m, &e)) !=
            AM_OK)
            return sfail(r, st, &e);
        return push(r, m);
    }
    if (content->type != AM__J_ARR)
        return rfail(r, content, "field 'content' must be a string or an "
                     "array of blocks");
    /* Tool results first, as separate tool messages. */
    for (const am__jnode *b = content->first; b != NULL; b = b->next) {
        if (is(am__jobj_get(b, "type"), "tool_result")) {
            if (rl != AM_ROLE_USER)
                return rfail(r, b, "tool_result in an assistant turn");
            if ((st = read_tool_result(r, b)) != AM_OK)
                return st;
        } else {
            nblocks++;
        }
    }
    if (nblocks == 0)
        return AM_OK;
    if ((st = am_msg_create(&r->mo, rl, &m, &e)) != AM_OK)
        return sfail(r, st, &e);
    for (const am__jnode *b = content->first; b != NULL; b = b->next, k++) {
        const am__jnode *t = am__jobj_get(b, "type");
        am_part p;
        memset(&p, 0, sizeof p);
        if (b->type != AM__J_OBJ || t == NULL || t->type != AM__J_STR) {
            st = rfail(r, b, "content[%zu]: must be an object with a string "
                       "'type'", k);
            break;
        }
        if (is(t, "tool_result"))
            continue;
        if (is(t, "text")) {
            p.type = AM_PART_TEXT;
            p.text = sget(b, "text");
            if (nblocks == 1 && m->f.kind == AM_CONTENT_NONE) {
                if ((st = am_msg_set_text(m, p.text, &e)) != AM_OK)
                    st = sfail(r, st, &e);
                continue;
            }
        } else if (is(t, "image")) {
            if ((st = read_image(r, b, &p)) != AM_OK)
                break;
        } else if (is(t, "thinking")) {
            p.type = AM_PART_THINKING;
            p.text = sget(b, "thinking");
            p.signature = sget(b, "signature");
        } else if (is(t, "redacted_thinking")) {
            p.type = AM_PART_REDACTED_THINKING;
            p.data = sget(b, "data");
        } else if (is(t, "reasoning")) {
            const am__jnode *it = am__jobj_get(b, "item");
            if (it == NULL) {
                st = rfail(r, b, "reasoning block needs 'item'");
                break;
            }
            p.type = AM_PART_REASONING;
            p.json = it->raw;
        } else if (is(t, "tool_use")) {
            const am__jnode *in = am__jobj_get(b, "input");
            am_tool_call tc;
            am_str args = { "{}", 2 };
            am__arena tmp;
            if (rl != AM_ROLE_ASSISTANT) {
                st = rfail(r, b, "tool_use in a user turn");
                break;
            }
            am__arena_init(&tmp, r->mo.alloc, 256);
            if (in != NULL && in->type == AM__J_OBJ &&
                am__js_compact_span(in->raw, &tmp, &args) != AM_OK) {
                am__arena_free(&tmp);
                st = am__fail(r->js.err, AM_ENOMEM, "out of memory");
                break;
            }
            memset(&tc, 0, sizeof tc);
            tc.id = sget(b, "id");
            tc.type = AM_STR("function");
            tc.name = sget(b, "name");
            tc.arguments = args;
            tc.call_id = sget(b, "call_id");
            st = am_msg_add_tool_call(m, &tc, &e);
            am__arena_free(&tmp);
            if (st != AM_OK) {
                st = sfail(r, st, &e);
                break;
            }
            continue;
        } else {
            st = rfail(r, t, "content[%zu]: unsupported block type '%.*s'",
                       k, (int)(t->str.len > 40 ? 40 : t->str.len),
                       t->str.ptr);
            break;
        }
        if ((st = am_msg_add_part(m, &p, &e)) != AM_OK) {
            st = sfail(r, st, &e);
            break;
        }
    }
    if (st != AM_OK) {
        am_msg_free(m);
        return st;
    }
    return push(r, m);
}

static am_status read_system(ard *r, const am__jnode *s)
{
    am_msg *m;
    am_error e = { AM_OK, "" };
    am_status st;

    if (s->type == AM__J_STR) {
        if ((st = am_msg_create_text(&r->mo, AM_ROLE_SYSTEM, s->str, &m,
                                     &e)) != AM_OK)
            return sfail(r, st, &e);
        return push(r, m);
    }
    if (s->type != AM__J_ARR)
        return am__js_fail(&r->js, s->pos, "field 'system' must be a string "
                           "or an array of text blocks");
    for (const am__jnode *b = s->first; b != NULL; b = b->next) {
        if (!is(am__jobj_get(b, "type"), "text"))
            return am__js_fail(&r->js, b->pos, "system blocks must be text "
                               "blocks");
        if ((st = am_msg_create_text(&r->mo, AM_ROLE_SYSTEM,
                                     sget(b, "text"), &m, &e)) != AM_OK)
            return sfail(r, st, &e);
        if ((st = push(r, m)) != AM_OK)
            return st;
    }
    return AM_OK;
}

/* The request's top-level "system" (am__wire_read's on_doc). */
static am_status read_doc(ard *r, const am__jnode *doc)
{
    const am__jnode *s = doc->type == AM__J_OBJ ? am__jobj_get(doc, "system")
                                                : NULL;
    return s != NULL && s->type != AM__J_NULL ? read_system(r, s) : AM_OK;
}

am_status am__wire_anthropic_read(const am__msg_env *env, am_str text,
                                  am_msg_list *out, am_error *err)
{
    return am__wire_read(env, text, FMT, "a request object with "
                         "\"messages\" or a messages array", read_doc,
                         read_turn, out, err);
}
