/* conv.c -- am_conv: an ordered, capped, thread-safe list of messages.
 *
 * The live messages are items[start .. start + count). Dropping the oldest
 * non-system message (the cap) shifts only the system messages in front of
 * it up by one slot and advances `start`, so a full conversation with a
 * few system messages at the top stays O(1) per add; the array is compacted
 * when the dead prefix grows as large as the live part.
 *
 * Every public call takes the conversation's mutex for its whole duration.
 * Messages inside are frozen and reference counted, so readers leave with
 * references and never hold the lock while they look at a message.
 */
#include <string.h>

#include "msg_int.h"

am_conv_opts am_conv_opts_default(void)
{
    am_conv_opts o;
    memset(&o, 0, sizeof o);
    o.max_msg_bytes = AM_MSG_DEFAULT_MAX_BYTES;
    return o;
}

am_status am_conv_create(const am_conv_opts *opts, am_conv **out,
                         am_error *err)
{
    am_conv_opts d = am_conv_opts_default();
    am_conv *c;

    if (out == NULL)
        return am__fail(err, AM_EINVAL, "am_conv_create: NULL out");
    *out = NULL;
    if (opts == NULL)
        opts = &d;
    c = am__calloc(opts->alloc, 1, sizeof *c);
    if (c == NULL)
        return am__fail(err, AM_ENOMEM, "out of memory creating a "
                        "conversation");
    if (am__handle_sync_init(&c->errs, &c->mu, opts->alloc, false) != AM_OK) {
        am__free(opts->alloc, c, sizeof *c);
        return am__fail(err, AM_ENOMEM, "cannot create a mutex");
    }
    c->opts = *opts;
    c->env.alloc = opts->alloc;
    c->env.clock = opts->clock;
    c->env.rng = opts->rng;
    c->env.max_bytes = opts->max_msg_bytes;
    *out = c;
    return AM_OK;
}

static void release_all(am_conv *c)
{
    for (size_t i = 0; i < c->count; i++)
        am_msg_free(c->items[c->start + i]);
    c->start = 0;
    c->count = 0;
}

void am_conv_free(am_conv *conv)
{
    if (conv == NULL)
        return;
    release_all(conv);
    am__free(conv->opts.alloc, conv->items, conv->cap * sizeof *conv->items);
    pthread_mutex_destroy(&conv->mu);
    am__errtab_free(&conv->errs);
    am__free(conv->opts.alloc, conv, sizeof *conv);
}

const am_error *am_conv_last_error(const am_conv *conv)
{
    return conv != NULL ? am__errtab_last(&conv->errs)
                        : am__errtab_null_handle();
}

am_conv_opts am_conv_options(const am_conv *conv)
{
    return conv != NULL ? conv->opts : am_conv_opts_default();
}

void am__conv_set_hook(am_conv *conv, am__conv_hook hook, void *ctx)
{
    pthread_mutex_lock(&conv->mu);
    conv->hook = hook;
    conv->hook_ctx = ctx;
    pthread_mutex_unlock(&conv->mu);
}

/* ---- Adding ---- */

/* A frozen reference to `msg` in the conversation's allocator: shared if
 * already frozen, else a compact copy (frozen). */
static am_status adopt(am_conv *c, const am_msg *msg, am_msg **out)
{
    am_status st = am_msg_validate(msg, &AM__ERR(c));

    if (st != AM_OK)
        return st;
    if (c->env.max_bytes != 0 && am_msg_size(msg) > c->env.max_bytes)
        return am__fail(&AM__ERR(c), AM_ELIMIT, "message %.*s: %zu bytes is "
                        "over the limit of %zu", (int)msg->f.id.len,
                        msg->f.id.ptr, am_msg_size(msg), c->env.max_bytes);
    if (am_msg_is_frozen(msg)) {
        *out = am_msg_ref(msg);
        return AM_OK;
    }
    if (am__msg_build(&msg->f, &c->env, out) != AM_OK)
        return am__fail(&AM__ERR(c), AM_ENOMEM, "out of memory adding a "
                        "message");
    atomic_store_explicit(&(*out)->frozen, true, memory_order_release);
    return AM_OK;
}

/* Make room for one more item at the end. */
static am_status room_for_one(am_conv *c)
{
    if (c->start + c->count < c->cap)
        return AM_OK;
    if (c->start != 0 && c->start >= c->count) {
        memmove(c->items, c->items + c->start, c->count * sizeof *c->items);
        c->start = 0;
        return AM_OK;
    }
    if (am__grow(c->opts.alloc, (void **)&c->items, &c->cap,
                 c->start + c->count + 1, sizeof *c->items) != AM_OK)
        return am__fail(&AM__ERR(c), AM_ENOMEM, "out of memory growing the "
                        "conversation");
    return AM_OK;
}

/* Index (relative to start) of the oldest non-system message, or count. */
static size_t oldest_droppable(const am_conv *c)
{
    size_t i = 0;
    while (i < c->count && c->items[c->start + i]->f.role == AM_ROLE_SYSTEM)
        i++;
    return i;
}

/* Drop message k (relative). */
static void drop_at(am_conv *c, size_t k)
{
    am_msg **base = c->items + c->start;
    am_msg_free(base[k]);
    memmove(base + 1, base, k * sizeof *base);
    c->start++;
    c->count--;
}

/* Append `m` (a reference we own), applying the cap. Never fails once the
 * room is there. */
static void push(am_conv *c, am_msg *m)
{
    c->items[c->start + c->count++] = m;
    if (c->opts.max_messages != 0 && c->count > c->opts.max_messages) {
        size_t k = oldest_droppable(c);
        if (k < c->count)
            drop_at(c, k);
    }
}

/* Would appending `m` be refused by the cap (only system messages)? */
static bool cap_blocks(const am_conv *c, const am_msg *m)
{
    if (c->opts.max_messages == 0 || c->count < c->opts.max_messages)
        return false;
    return m->f.role == AM_ROLE_SYSTEM && oldest_droppable(c) == c->count;
}

static am_status add_locked(am_conv *c, am_msg *m)
{
    am_status st;

    if (cap_blocks(c, m))
        return am__fail(&AM__ERR(c), AM_ELIMIT, "conversation holds "
                        "max_messages (%zu) system messages; none can be "
                        "dropped", c->opts.max_messages);
    if ((st = room_for_one(c)) != AM_OK)
        return st;
    if (c->hook != NULL &&
        (st = c->hook(c->hook_ctx, AM__CONV_ADD, &m, 1, &AM__ERR(c))) != AM_OK)
        return st;
    push(c, m);
    return AM_OK;
}

am_status am_conv_add(am_conv *conv, const am_msg *msg)
{
    am_status st;
    am_msg *m = NULL;

    if (conv == NULL)
        return AM_EINVAL;
    pthread_mutex_lock(&conv->mu);
    st = adopt(conv, msg, &m);
    if (st == AM_OK)
        st = add_locked(conv, m);
    if (st != AM_OK)
        am_msg_free(m);
    pthread_mutex_unlock(&conv->mu);
    return st;
}

am_status am_conv_add_text(am_conv *conv, am_role role, am_str text)
{
    am__msg_fields f;
    char id[37];
    am_status st;
    am_msg *m = NULL;

    if (conv == NULL)
        return AM_EINVAL;
    /* Build outside the lock: it is the expensive part and touches no
     * shared state. */
    memset(&f, 0, sizeof f);
    if ((unsigned)role >= AM_ROLE_COUNT || role == AM_ROLE_TOOL) {
        pthread_mutex_lock(&conv->mu);
        st = am__fail(&AM__ERR(conv), AM_EINVAL, role == AM_ROLE_TOOL
                      ? "a tool message needs a tool_call_id; build it "
                        "with am_msg_create"
                      : "unknown role %d", (int)role);
        pthread_mutex_unlock(&conv->mu);
        return st;
    }
    {
        am_error e = { AM_OK, "" };
        st = am__msg_check_str(&conv->env, text, "content", &e);
        if (st != AM_OK) {
            pthread_mutex_lock(&conv->mu);
            am__error_copy(&AM__ERR(conv), &e);
            pthread_mutex_unlock(&conv->mu);
            return st;
        }
    }
    f.role = role;
    f.kind = AM_CONTENT_TEXT;
    f.content = text;
    f.created_ms = am__msg_stamp(&conv->env, id);
    f.id.ptr = id;
    f.id.len = 36;
    st = am__msg_build(&f, &conv->env, &m);
    pthread_mutex_lock(&conv->mu);
    if (st != AM_OK) {
        st = am__fail(&AM__ERR(conv), AM_ENOMEM, "out of memory adding a "
                      "message");
    } else {
        atomic_store_explicit(&m->frozen, true, memory_order_release);
        st = add_locked(conv, m);
        if (st != AM_OK)
            am_msg_free(m);
    }
    pthread_mutex_unlock(&conv->mu);
    return st;
}

/* Adopt `count` messages into a new array of frozen references. */
static am_status adopt_all(am_conv *c, const am_msg *const *msgs,
                           size_t count, am_msg ***out)
{
    am_msg **arr;
    am_status st = AM_OK;
    size_t i;

    *out = NULL;
    if (count == 0)
        return AM_OK;
    if (msgs == NULL)
        return am__fail(&AM__ERR(c), AM_EINVAL, "NULL message array");
    arr = am__alloc_array(c->opts.alloc, count, sizeof *arr);
    if (arr == NULL)
        return am__fail(&AM__ERR(c), AM_ENOMEM, "out of memory");
    for (i = 0; i < count; i++) {
        st = adopt(c, msgs[i], &arr[i]);
        if (st != AM_OK) {
            char detail[sizeof AM__ERR(c).msg];
            memcpy(detail, AM__ERR(c).msg, sizeof detail);
            am__fail(&AM__ERR(c), st, "message %zu: %s", i, detail);
            break;
        }
    }
    if (st != AM_OK) {
        while (i > 0)
            am_msg_free(arr[--i]);
        am__free(c->opts.alloc, arr, count * sizeof *arr);
        return st;
    }
    *out = arr;
    return AM_OK;
}

am_status am_conv_add_list(am_conv *conv, const am_msg *const *msgs,
                           size_t count)
{
    am_msg **arr = NULL;
    am_status st;
    size_t need;

    if (conv == NULL)
        return AM_EINVAL;
    pthread_mutex_lock(&conv->mu);
    st = adopt_all(conv, msgs, count, &arr);
    if (st != AM_OK || count == 0)
        goto out;
    /* Room for all first, so that nothing can fail half-way. */
    need = conv->start + conv->count + count;
    if (need > conv->cap && conv->start != 0) {
        memmove(conv->items, conv->items + conv->start,
                conv->count * sizeof *conv->items);
        conv->start = 0;
        need = conv->count + count;
    }
    if (am__grow(conv->opts.alloc, (void **)&conv->items, &conv->cap, need,
                 sizeof *conv->items) != AM_OK) {
        st = am__fail(&AM__ERR(conv), AM_ENOMEM, "out of memory growing the "
                      "conversation");
        goto out;
    }
    for (size_t i = 0; i < count; i++)
        if (cap_blocks(conv, arr[i])) {
            st = am__fail(&AM__ERR(conv), AM_ELIMIT, "message %zu: "
                          "max_messages (%zu) system messages; none can be "
                          "dropped", i, conv->opts.max_messages);
            goto out;
        }
    if (conv->hook != NULL &&
        (st = conv->hook(conv->hook_ctx, AM__CONV_ADD, arr, count,
                         &AM__ERR(conv))) != AM_OK)
        goto out;
    for (size_t i = 0; i < count; i++) {
        /* push() drops at most one per add, so the room stays enough. */
        push(conv, arr[i]);
        arr[i] = NULL;
    }
out:
    if (arr != NULL) {
        for (size_t i = 0; i < count; i++)
            am_msg_free(arr[i]);
        am__free(conv->opts.alloc, arr, count * sizeof *arr);
    }
    pthread_mutex_unlock(&conv->mu);
    return st;
}

/* Swap in `arr` (count frozen references, taken over), applying the cap
 * as if added in order. Caller holds the lock; cannot fail. */
static void install_locked(am_conv *c, am_msg **arr, size_t count,
                           size_t cap)
{
    release_all(c);
    am__free(c->opts.alloc, c->items, c->cap * sizeof *c->items);
    c->items = arr;
    c->cap = cap;
    c->start = 0;
    c->count = 0;
    for (size_t i = 0; i < count; i++)
        push(c, arr[i]);
}

static am_status replace_locked(am_conv *c, am_msg **arr, size_t count,
                                bool call_hook)
{
    am_msg **items = arr;
    size_t cap = count;
    am_status st;

    if (count == 0) {
        items = NULL;
        cap = 0;
    }
    for (size_t i = 0; i < count; i++)
        if (c->opts.max_messages != 0 && arr[i]->f.role == AM_ROLE_SYSTEM) {
            size_t nsys = 0;
            for (size_t k = 0; k < count; k++)
                nsys += arr[k]->f.role == AM_ROLE_SYSTEM;
            if (nsys > c->opts.max_messages)
                return am__fail(&AM__ERR(c), AM_ELIMIT, "%zu system messages "
                                "exceed max_messages (%zu)", nsys,
                                c->opts.max_messages);
            break;
        }
    if (call_hook && c->hook != NULL &&
        (st = c->hook(c->hook_ctx, AM__CONV_REPLACE, arr, count,
                      &AM__ERR(c))) != AM_OK)
        return st;
    /* The array `arr` becomes the item array itself (push() writes each
     * element back in place or before it, never past it). */
    install_locked(c, items, count, cap);
    return AM_OK;
}

am_status am_conv_replace(am_conv *conv, const am_msg *const *msgs,
                          size_t count)
{
    am_msg **arr = NULL;
    am_status st;

    if (conv == NULL)
        return AM_EINVAL;
    pthread_mutex_lock(&conv->mu);
    st = adopt_all(conv, msgs, count, &arr);
    if (st == AM_OK) {
        st = replace_locked(conv, arr, count, true);
        if (st != AM_OK) {
            for (size_t i = 0; i < count; i++)
                am_msg_free(arr[i]);
            am__free(conv->opts.alloc, arr, count * sizeof *arr);
        }
    }
    pthread_mutex_unlock(&conv->mu);
    return st;
}

/* ---- Reading ---- */

size_t am_conv_count(const am_conv *conv)
{
    am_conv *c = (am_conv *)(uintptr_t)conv; /* the lock is not content */
    size_t n;
    if (c == NULL)      /* conv.h: 0 for NULL */
        return 0;
    pthread_mutex_lock(&c->mu);
    n = c->count;
    pthread_mutex_unlock(&c->mu);
    return n;
}

am_status am_conv_get(am_conv *conv, size_t i, am_msg **out)
{
    am_status st = AM_OK;

    if (conv == NULL || out == NULL)
        return AM_EINVAL;
    pthread_mutex_lock(&conv->mu);
    if (i >= conv->count) {
        *out = NULL;
        st = am__fail(&AM__ERR(conv), AM_ENOTFOUND, "message %zu: the "
                      "conversation has %zu", i, conv->count);
    } else {
        *out = am_msg_ref(conv->items[conv->start + i]);
    }
    pthread_mutex_unlock(&conv->mu);
    return st;
}

/* Push references to items [from, count) with role `role` (or any when
 * role < 0); all or nothing. Caller holds the lock. */
static am_status collect(am_conv *c, size_t from, int role,
                         am_msg_list *out)
{
    size_t n = 0, old = out->count;

    for (size_t i = from; i < c->count; i++)
        n += role < 0 || (int)c->items[c->start + i]->f.role == role;
    if (am__grow(out->alloc, (void **)&out->items, &out->cap,
                 out->count + n, sizeof *out->items) != AM_OK)
        return am__fail(&AM__ERR(c), AM_ENOMEM, "out of memory listing "
                        "messages");
    for (size_t i = from; i < c->count; i++) {
        am_msg *m = c->items[c->start + i];
        if (role < 0 || (int)m->f.role == role)
            out->items[out->count++] = am_msg_ref(m);
    }
    (void)old;
    return AM_OK;
}

am_status am_conv_all(am_conv *conv, am_msg_list *out)
{
    am_status st;
    if (conv == NULL || out == NULL)
        return AM_EINVAL;
    pthread_mutex_lock(&conv->mu);
    st = collect(conv, 0, -1, out);
    pthread_mutex_unlock(&conv->mu);
    return st;
}

am_status am_conv_recent(am_conv *conv, size_t n, am_msg_list *out)
{
    am_status st;
    if (conv == NULL || out == NULL)
        return AM_EINVAL;
    pthread_mutex_lock(&conv->mu);
    st = collect(conv, n >= conv->count ? 0 : conv->count - n, -1, out);
    pthread_mutex_unlock(&conv->mu);
    return st;
}

am_status am_conv_by_role(am_conv *conv, am_role role, am_msg_list *out)
{
    am_status st;
    if (conv == NULL || out == NULL)
        return AM_EINVAL;
    pthread_mutex_lock(&conv->mu);
    if ((unsigned)role >= AM_ROLE_COUNT)
        st = am__fail(&AM__ERR(conv), AM_EINVAL, "unknown role %d", (int)role);
    else
        st = collect(conv, 0, (int)role, out);
    pthread_mutex_unlock(&conv->mu);
    return st;
}

am_status am_conv_clear(am_conv *conv)
{
    am_status st = AM_OK;
    if (conv == NULL)
        return AM_EINVAL;
    pthread_mutex_lock(&conv->mu);
    if (conv->hook != NULL)
        st = conv->hook(conv->hook_ctx, AM__CONV_CLEAR, NULL, 0, &AM__ERR(conv));
    if (st == AM_OK)
        release_all(conv);
    pthread_mutex_unlock(&conv->mu);
    return st;
}

/* ---- Statistics ---- */

void am_msgs_stats(const am_msg *const *msgs, size_t count,
                   am_conv_stats *out)
{
    am_buf text = AM_BUF_INIT;

    /* No handle here: the scratch comes from the messages' allocator. */
    text.alloc = count > 0 ? msgs[0]->ar.alloc : NULL;
    memset(out, 0, sizeof *out);
    out->count = count;
    for (size_t i = 0; i < count; i++) {
        const am_msg *m = msgs[i];
        am_role r = m->f.role;
        out->by_role[r]++;
        out->bytes += am_msg_size(m);
        out->tool_calls += m->f.ntcs;
        am_buf_clear(&text);
        if (m->f.kind == AM_CONTENT_TEXT && m->f.nparts == 0 &&
            m->f.ntcs == 0 && m->f.nacs == 0 && m->f.structured.len == 0 &&
            !m->f.has_agent) {
            out->chars_by_role[r] +=
                am__utf8_count(m->f.content.ptr, m->f.content.len);
            out->text_bytes += m->f.content.len;
        } else if (am_msg_text(m, &text) == AM_OK) {
            out->chars_by_role[r] += am__utf8_count(text.ptr, text.len);
            out->text_bytes += text.len;
        }
    }
    am_buf_free(&text);
}

am_status am_conv_stats_get(am_conv *conv, am_conv_stats *out)
{
    am_msg_list all = AM_MSG_LIST_INIT;
    am_status st;

    if (conv == NULL || out == NULL)
        return AM_EINVAL;
    all.alloc = conv->opts.alloc;
    st = am_conv_all(conv, &all);
    if (st == AM_OK)
        am_msgs_stats((const am_msg *const *)all.items, all.count, out);
    am_msg_list_free(&all);
    return st;
}
