/* msg.c -- am_msg: names, ids, creation, copies, references, accessors,
 * text, lists (the setters are in msg_set.c).
 *
 * A message owns its bytes through one arena. Built in one go
 * (am__msg_build: a parse, a copy into a conversation), the arena's first
 * block is sized to hold the struct and everything it points to, so the
 * whole message is a single allocation freed with one call. Setters on a
 * mutable message allocate from the same arena; a replaced string's old
 * bytes stay until the message is freed, which is the price of never
 * moving what an accessor handed out.
 *
 * Sharing is by reference count. The first reference taken freezes the
 * message, so every reader of a shared message sees the same bytes forever.
 */
#include <stdio.h>
#include <string.h>

#include "msg_int.h"
#include "msg_text.h"

#define GROW_BLOCK 512

/* ---- Names (core/names.c) ---- */

static const char *const role_names[AM_ROLE_COUNT] = {
    [AM_ROLE_SYSTEM] = "system", [AM_ROLE_USER] = "user",
    [AM_ROLE_ASSISTANT] = "assistant", [AM_ROLE_TOOL] = "tool",
};
static const am__names roles = AM__NAMES("role", role_names);

const char *am_role_name(am_role role)
{
    return am__name_of(&roles, (int)role);
}

AM__NAME_PARSE_FN(am_role_parse, am_role, roles)

static const char *const part_names[AM_PART_TYPE_COUNT] = {
    [AM_PART_TEXT] = "text", [AM_PART_IMAGE] = "image",
    [AM_PART_TOOL_USE] = "tool_use", [AM_PART_TOOL_RESULT] = "tool_result",
    [AM_PART_THINKING] = "thinking",
    [AM_PART_REDACTED_THINKING] = "redacted_thinking",
    [AM_PART_REASONING] = "reasoning",
};
static const am__names part_types = AM__NAMES("part type", part_names);

const char *am_part_type_name(am_part_type type)
{
    return am__name_of(&part_types, (int)type);
}

static const char *const action_names[] = {
    [AM_ACTION_NONE] = "", [AM_ACTION_CALL_TOOL] = "call_tool",
    [AM_ACTION_INVOKE_AGENT] = "invoke_agent",
    [AM_ACTION_FINAL_RESPONSE] = "final_response",
};
static const am__names actions = AM__NAMES("action", action_names);

const char *am_action_name(am_action action)
{
    return am__name_of(&actions, (int)action);
}

am_msg_opts am_msg_opts_default(void)
{
    am_msg_opts o;
    memset(&o, 0, sizeof o);
    o.max_bytes = AM_MSG_DEFAULT_MAX_BYTES;
    return o;
}

/* ---- Ids ---- */

/* splitmix64 per thread, seeded once from the system. Ids need
 * uniqueness, not secrecy, and two getrandom(2) calls per message would
 * cost more than everything else an append does. */
static uint64_t fast_next(void *ctx)
{
    static _Thread_local uint64_t state;
    uint64_t z;
    (void)ctx;
    if (state == 0)
        state = am_rng_next(NULL) | 1;
    z = (state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static const am_rng fast_rng = { fast_next, NULL };

void am__msg_new_id(const am__msg_env *env, char out[37])
{
    am_uuid7(env->clock, env->rng != NULL ? env->rng : &fast_rng, out);
}

static int64_t fixed_now(void *ctx)
{
    return *(const int64_t *)ctx;
}

int64_t am__msg_stamp(const am__msg_env *env, char out[37])
{
    /* One clock read for both the id and created_ms: they agree, and the
     * append path pays for one clock_gettime instead of two. */
    int64_t now = am_clock_now(env->clock);
    am_clock fixed = { fixed_now, &now };
    am_uuid7(&fixed, env->rng != NULL ? env->rng : &fast_rng, out);
    return now;
}

am_status am__msg_check_str(const am__msg_env *env, am_str s,
                            const char *field, am_error *err)
{
    size_t bad;
    if (s.len != 0 && s.ptr == NULL)
        return am__fail(err, AM_EINVAL, "%s: NULL pointer", field);
    if (env->max_bytes != 0 && s.len > env->max_bytes)
        return am__fail(err, AM_ELIMIT, "%s: %zu bytes is over the limit of "
                        "%zu", field, s.len, env->max_bytes);
    if (!am__utf8_valid(s.ptr, s.len, &bad))
        return am__fail(err, AM_EFORMAT, "%s: invalid UTF-8 at byte %zu",
                        field, bad);
    return AM_OK;
}

/* ---- Building ---- */

static size_t r16(size_t n)
{
    return (n + 15u) & ~(size_t)15u;
}

static size_t str_need(am_str s)
{
    return s.len != 0 ? r16(s.len + 1) : 0;
}

am_str am__msg_str_copy(am__arena *ar, am_str s, bool *oom)
{
    am_str r = { "", 0 };
    char *p;
    if (s.len == 0)
        return r;
    p = am__arena_strndup(ar, s.ptr, s.len);
    if (p == NULL) {
        *oom = true;
        return r;
    }
    r.ptr = p;
    r.len = s.len;
    return r;
}

static size_t part_need(const am_part *p)
{
    return str_need(p->text) + str_need(p->id) + str_need(p->name) +
           str_need(p->json) + str_need(p->url) + str_need(p->media_type) +
           str_need(p->data) + str_need(p->signature);
}

void am__msg_part_copy(am__arena *ar, am_part *d, const am_part *s,
                       bool *oom)
{
    d->type = s->type;
    d->is_error = s->is_error;
    d->text = am__msg_str_copy(ar, s->text, oom);
    d->id = am__msg_str_copy(ar, s->id, oom);
    d->name = am__msg_str_copy(ar, s->name, oom);
    d->json = am__msg_str_copy(ar, s->json, oom);
    d->url = am__msg_str_copy(ar, s->url, oom);
    d->media_type = am__msg_str_copy(ar, s->media_type, oom);
    d->data = am__msg_str_copy(ar, s->data, oom);
    d->signature = am__msg_str_copy(ar, s->signature, oom);
}

static size_t fields_need(const am__msg_fields *f)
{
    size_t n = r16(sizeof(am_msg));
    n += str_need(f->id) + str_need(f->name) + str_need(f->content) +
         str_need(f->tool_call_id) + str_need(f->structured) +
         str_need(f->thought) + str_need(f->action_input);
    if (f->nparts != 0)
        n += r16(f->nparts * sizeof(am_part));
    for (size_t i = 0; i < f->nparts; i++)
        n += part_need(&f->parts[i]);
    if (f->ntcs != 0)
        n += r16(f->ntcs * sizeof(am_tool_call));
    for (size_t i = 0; i < f->ntcs; i++)
        n += str_need(f->tcs[i].id) + str_need(f->tcs[i].type) +
             str_need(f->tcs[i].name) + str_need(f->tcs[i].arguments) +
             str_need(f->tcs[i].call_id);
    if (f->nacs != 0)
        n += r16(f->nacs * sizeof(am_agent_call));
    for (size_t i = 0; i < f->nacs; i++)
        n += str_need(f->acs[i].agent_name) + str_need(f->acs[i].request);
    if (f->nimages != 0)
        n += r16(f->nimages * sizeof(am_str));
    for (size_t i = 0; i < f->nimages; i++)
        n += str_need(f->images[i]);
    return n;
}

/* Room in `ar` for the `n` elements of one of the arrays of a message
 * (NULL for none). On failure *oom is set. */
static void *array_room(am__arena *ar, size_t n, size_t size, bool *oom)
{
    void *p;
    if (n == 0)
        return NULL;
    p = am__arena_alloc(ar, n * size);
    if (p == NULL)
        *oom = true;
    return p;
}

/* Copy every string and array of `s` into `ar`, filling `d`. */
static void fields_copy(am__arena *ar, am__msg_fields *d,
                        const am__msg_fields *s, bool *oom)
{
    *d = *s;
    d->id = am__msg_str_copy(ar, s->id, oom);
    d->name = am__msg_str_copy(ar, s->name, oom);
    d->content = am__msg_str_copy(ar, s->content, oom);
    d->tool_call_id = am__msg_str_copy(ar, s->tool_call_id, oom);
    d->structured = am__msg_str_copy(ar, s->structured, oom);
    d->thought = am__msg_str_copy(ar, s->thought, oom);
    d->action_input = am__msg_str_copy(ar, s->action_input, oom);
    d->parts = NULL;
    d->tcs = NULL;
    d->acs = NULL;
    d->images = NULL;
    if (*oom)
        return;
    /* The first failure ends the copy; the caller frees what was made. */
    d->parts = array_room(ar, s->nparts, sizeof(am_part), oom);
    if (*oom)
        return;
    for (size_t i = 0; i < s->nparts; i++)
        am__msg_part_copy(ar, &d->parts[i], &s->parts[i], oom);
    d->tcs = array_room(ar, s->ntcs, sizeof(am_tool_call), oom);
    if (*oom)
        return;
    for (size_t i = 0; i < s->ntcs; i++) {
        d->tcs[i].id = am__msg_str_copy(ar, s->tcs[i].id, oom);
        d->tcs[i].type = am__msg_str_copy(ar, s->tcs[i].type, oom);
        d->tcs[i].name = am__msg_str_copy(ar, s->tcs[i].name, oom);
        d->tcs[i].arguments = am__msg_str_copy(ar, s->tcs[i].arguments, oom);
        d->tcs[i].call_id = am__msg_str_copy(ar, s->tcs[i].call_id, oom);
    }
    d->acs = array_room(ar, s->nacs, sizeof(am_agent_call), oom);
    if (*oom)
        return;
    for (size_t i = 0; i < s->nacs; i++) {
        d->acs[i].agent_name = am__msg_str_copy(ar, s->acs[i].agent_name, oom);
        d->acs[i].request = am__msg_str_copy(ar, s->acs[i].request, oom);
    }
    d->images = array_room(ar, s->nimages, sizeof(am_str), oom);
    if (*oom)
        return;
    for (size_t i = 0; i < s->nimages; i++)
        d->images[i] = am__msg_str_copy(ar, s->images[i], oom);
}

/* Allocate a message struct inside a fresh arena whose first block holds
 * `size` bytes, then let the struct own the arena. */
static am_msg *msg_alloc(const am__msg_env *env, size_t size)
{
    am__arena ar;
    am_msg *m;

    am__arena_init(&ar, env->alloc, size);
    m = am__arena_alloc(&ar, sizeof *m);
    if (m == NULL)
        return NULL;
    memset(m, 0, sizeof *m);
    atomic_init(&m->refs, 1);
    atomic_init(&m->frozen, false);
    m->max_bytes = env->max_bytes;
    m->ar = ar;
    m->ar.block_size = GROW_BLOCK; /* later setters grow in small steps */
    return m;
}

am_status am__msg_build(const am__msg_fields *f, const am__msg_env *env,
                        am_msg **out)
{
    bool oom = false;
    am_msg *m = msg_alloc(env, fields_need(f));

    if (m == NULL)
        return AM_ENOMEM;
    fields_copy(&m->ar, &m->f, f, &oom);
    if (oom) {
        am_msg_free(m);
        return AM_ENOMEM;
    }
    m->cap_parts = f->nparts;
    m->cap_tcs = f->ntcs;
    m->cap_acs = f->nacs;
    m->cap_images = f->nimages;
    *out = m;
    return AM_OK;
}

am__msg_env am__msg_env_of(const am_msg_opts *opts)
{
    am__msg_env env;
    am_msg_opts d = am_msg_opts_default();
    if (opts == NULL)
        opts = &d;
    env.alloc = opts->alloc;
    env.clock = opts->clock;
    env.rng = opts->rng;
    env.max_bytes = opts->max_bytes;
    return env;
}

am_status am_msg_create(const am_msg_opts *opts, am_role role, am_msg **out,
                        am_error *err)
{
    am__msg_env env = am__msg_env_of(opts);
    am__msg_fields f;
    char id[37];

    if (out == NULL)
        return am__fail(err, AM_EINVAL, "am_msg_create: NULL out");
    *out = NULL;
    if ((unsigned)role >= AM_ROLE_COUNT)
        return am__fail(err, AM_EINVAL, "unknown role %d", (int)role);
    memset(&f, 0, sizeof f);
    f.role = role;
    f.created_ms = am__msg_stamp(&env, id);
    f.id.ptr = id;
    f.id.len = 36;
    if (am__msg_build(&f, &env, out) != AM_OK)
        return am__fail(err, AM_ENOMEM, "out of memory creating a message");
    return AM_OK;
}

am_status am_msg_create_text(const am_msg_opts *opts, am_role role,
                             am_str text, am_msg **out, am_error *err)
{
    am__msg_env env = am__msg_env_of(opts);
    am__msg_fields f;
    char id[37];
    am_status st;

    if (out == NULL)
        return am__fail(err, AM_EINVAL, "am_msg_create_text: NULL out");
    *out = NULL;
    if ((unsigned)role >= AM_ROLE_COUNT)
        return am__fail(err, AM_EINVAL, "unknown role %d", (int)role);
    st = am__msg_check_str(&env, text, "content", err);
    if (st != AM_OK)
        return st;
    memset(&f, 0, sizeof f);
    f.role = role;
    f.kind = AM_CONTENT_TEXT;
    f.content = text;
    f.created_ms = am__msg_stamp(&env, id);
    f.id.ptr = id;
    f.id.len = 36;
    if (am__msg_build(&f, &env, out) != AM_OK)
        return am__fail(err, AM_ENOMEM, "out of memory creating a message");
    return AM_OK;
}

am_msg *am_msg_ref(const am_msg *cmsg)
{
    am_msg *msg = (am_msg *)(uintptr_t)cmsg; /* refs are mutable state */
    if (msg == NULL)
        return NULL;
    atomic_store_explicit(&msg->frozen, true, memory_order_release);
    atomic_fetch_add_explicit(&msg->refs, 1, memory_order_relaxed);
    return msg;
}

am_status am_msg_copy(const am_msg *msg, am_msg **out, am_error *err)
{
    if (msg == NULL || out == NULL)
        return am__fail(err, AM_EINVAL, "am_msg_copy: NULL argument");
    if (am__msg_build(&msg->f, AM__MSG_ENV(msg), out) != AM_OK)
        return am__fail(err, AM_ENOMEM, "out of memory copying a message");
    return AM_OK;
}

void am_msg_free(am_msg *msg)
{
    am__arena ar;
    if (msg == NULL)
        return;
    if (atomic_fetch_sub_explicit(&msg->refs, 1, memory_order_acq_rel) != 1)
        return;
    ar = msg->ar; /* the struct lives in its own arena */
    am__arena_free(&ar);
}

bool am_msg_is_frozen(const am_msg *msg)
{
    return msg != NULL &&
           atomic_load_explicit(&msg->frozen, memory_order_acquire);
}

/* ---- Accessors ---- */

static const am_str empty_str = { "", 0 };

am_role am_msg_role(const am_msg *msg) { return msg->f.role; }
am_str am_msg_id(const am_msg *msg) { return msg->f.id; }
am_str am_msg_name(const am_msg *msg) { return msg->f.name; }
int64_t am_msg_created_ms(const am_msg *msg) { return msg->f.created_ms; }
am_content_kind am_msg_content_kind(const am_msg *msg) { return msg->f.kind; }

am_str am_msg_content_text(const am_msg *msg)
{
    return msg->f.kind == AM_CONTENT_TEXT ? msg->f.content : empty_str;
}

am_str am_msg_content_json(const am_msg *msg)
{
    return msg->f.kind == AM_CONTENT_JSON ? msg->f.content : empty_str;
}

size_t am_msg_part_count(const am_msg *msg) { return msg->f.nparts; }

const am_part *am_msg_part(const am_msg *msg, size_t i)
{
    return i < msg->f.nparts ? &msg->f.parts[i] : NULL;
}

size_t am_msg_tool_call_count(const am_msg *msg) { return msg->f.ntcs; }

const am_tool_call *am_msg_tool_call(const am_msg *msg, size_t i)
{
    return i < msg->f.ntcs ? &msg->f.tcs[i] : NULL;
}

am_str am_msg_tool_call_id(const am_msg *msg) { return msg->f.tool_call_id; }
size_t am_msg_agent_call_count(const am_msg *msg) { return msg->f.nacs; }

const am_agent_call *am_msg_agent_call(const am_msg *msg, size_t i)
{
    return i < msg->f.nacs ? &msg->f.acs[i] : NULL;
}

am_str am_msg_structured_data(const am_msg *msg) { return msg->f.structured; }
size_t am_msg_image_count(const am_msg *msg) { return msg->f.nimages; }

am_str am_msg_image(const am_msg *msg, size_t i)
{
    return i < msg->f.nimages ? msg->f.images[i] : empty_str;
}

bool am_msg_agent_content(const am_msg *msg, am_agent_content *out)
{
    if (!msg->f.has_agent)
        return false;
    if (out != NULL) {
        out->thought = msg->f.thought;
        out->next_action = msg->f.action;
        out->action_input = msg->f.action_input;
    }
    return true;
}

/* ---- Text ---- */

am_status am__msg_pieces(const am_msg *msg, am__piece_fn fn, void *ctx)
{
    const am__msg_fields *f = &msg->f;
    am_status st = AM_OK;

    if (f->kind == AM_CONTENT_TEXT || f->kind == AM_CONTENT_JSON)
        st = fn(ctx, AM__PIECE_TEXT, f->content);
    for (size_t i = 0; st == AM_OK && i < f->nparts; i++) {
        const am_part *p = &f->parts[i];
        switch (p->type) {
        case AM_PART_TEXT:
        case AM_PART_THINKING:
            st = fn(ctx, AM__PIECE_TEXT, p->text);
            break;
        case AM_PART_TOOL_USE:
            if ((st = fn(ctx, AM__PIECE_TEXT, p->name)) == AM_OK)
                st = fn(ctx, AM__PIECE_TEXT, p->json);
            break;
        case AM_PART_TOOL_RESULT:
            if ((st = fn(ctx, AM__PIECE_TEXT, p->text)) == AM_OK)
                st = fn(ctx, AM__PIECE_TEXT, p->json);
            break;
        default: /* images, redacted reasoning: not text */
            break;
        }
    }
    for (size_t i = 0; st == AM_OK && i < f->ntcs; i++) {
        if ((st = fn(ctx, AM__PIECE_CALL_NAME, f->tcs[i].name)) == AM_OK)
            st = fn(ctx, AM__PIECE_CALL_ARGS, f->tcs[i].arguments);
    }
    for (size_t i = 0; st == AM_OK && i < f->nacs; i++) {
        if ((st = fn(ctx, AM__PIECE_AGENT_NAME, f->acs[i].agent_name)) ==
            AM_OK)
            st = fn(ctx, AM__PIECE_AGENT_REQUEST, f->acs[i].request);
    }
    if (st == AM_OK)
        st = fn(ctx, AM__PIECE_TEXT, f->structured);
    if (st == AM_OK && f->has_agent) {
        if ((st = fn(ctx, AM__PIECE_TEXT, f->thought)) == AM_OK)
            st = fn(ctx, AM__PIECE_TEXT, f->action_input);
    }
    return st;
}

typedef struct joiner {
    am_buf *out;
    bool first;
} joiner;

/* Non-empty pieces separated by "\n"; a call's arguments follow its name
 * as "(arguments)", an agent call's request as ": request". */
static am_status join_piece(void *ctx, am__piece kind, am_str s)
{
    joiner *j = ctx;
    am_status st = AM_OK;
    if (kind == AM__PIECE_CALL_ARGS)
        return am_buf_appendf(j->out, "(%.*s)", (int)s.len, s.ptr);
    if (kind == AM__PIECE_AGENT_REQUEST)
        return am_buf_appendf(j->out, ": %.*s", (int)s.len, s.ptr);
    if (s.len == 0)
        return AM_OK;
    if (!j->first)
        st = am_buf_append(j->out, "\n", 1);
    j->first = false;
    return st != AM_OK ? st : am_buf_append(j->out, s.ptr, s.len);
}

am_status am_msg_text(const am_msg *msg, am_buf *out)
{
    joiner j = { out, true };
    am_status st = am_buf_reserve(out, 0);
    return st != AM_OK ? st : am__msg_pieces(msg, join_piece, &j);
}

size_t am_msg_size(const am_msg *msg)
{
    return fields_need(&msg->f);
}

am_status am_msg_validate(const am_msg *msg, am_error *err)
{
    if (msg == NULL)
        return am__fail(err, AM_EINVAL, "NULL message");
    if ((unsigned)msg->f.role >= AM_ROLE_COUNT)
        return am__fail(err, AM_EINVAL, "unknown role %d", (int)msg->f.role);
    if (msg->f.role == AM_ROLE_TOOL && msg->f.tool_call_id.len == 0)
        return am__fail(err, AM_EINVAL, "tool message %.*s has no "
                        "tool_call_id", (int)msg->f.id.len, msg->f.id.ptr);
    for (size_t i = 0; i < msg->f.ntcs; i++)
        if (msg->f.tcs[i].id.len == 0 || msg->f.tcs[i].name.len == 0)
            return am__fail(err, AM_EINVAL, "tool_calls[%zu]: needs an id "
                            "and a name", i);
    return AM_OK;
}

/* ---- Lists ---- */

am_status am_msg_list_push(am_msg_list *list, const am_msg *msg)
{
    if (list == NULL || msg == NULL)
        return AM_EINVAL;
    if (am__grow(list->alloc, (void **)&list->items, &list->cap,
                 list->count + 1, sizeof *list->items) != AM_OK)
        return AM_ENOMEM;
    list->items[list->count++] = am_msg_ref(msg);
    return AM_OK;
}

void am_msg_list_clear(am_msg_list *list)
{
    if (list == NULL)
        return;
    for (size_t i = 0; i < list->count; i++)
        am_msg_free(list->items[i]);
    list->count = 0;
}

void am_msg_list_free(am_msg_list *list)
{
    if (list == NULL)
        return;
    am_msg_list_clear(list);
    am__free(list->alloc, list->items, list->cap * sizeof *list->items);
    list->items = NULL;
    list->cap = 0;
}
