/* summarize.c -- summarizers, summarize(messages, keep_last), middleware.
 *
 * A summarizer is a vtable plus a context. The offline one turns messages
 * into extractive items (text, tool calls, tool outcomes) for xsum.c. The
 * driver am_summarizer_run() keeps every call within the summarizer's
 * input limit by folding the input in piece by piece: each piece is merged
 * into the running summary, exactly as the middleware merges newly
 * evicted messages, so a long history is never sent in one request.
 */
#include <string.h>

#include "agentmem/window.h"
#include "context_int.h"
#include "window_int.h"

#define SUMMARY_PREFIX "[Compressed Summary] "
#define SUMMARY_NAME "summary"
#define DEFAULT_MARKERS "important,critical,remember,must,decision"

struct am_summarizer {
    const am_summarizer_vtable *vt;
    void *ctx;
    size_t input_limit;
    const am_allocator *alloc;
};

/* ---- Generic ---- */

am_status am__summarizer_create(const am_allocator *a,
                                const am_summarizer_vtable *vt, void *ctx,
                                size_t input_limit, am_summarizer **out,
                                am_error *err)
{
    am_summarizer *s;
    if (vt == NULL || vt->summarize == NULL || out == NULL)
        return am__fail(err, AM_EINVAL,
                        "summarizer: vtable with summarize required");
    s = am__calloc(a, 1, sizeof *s);
    if (s == NULL)
        return am__fail(err, AM_ENOMEM, "summarizer: out of memory");
    s->vt = vt;
    s->ctx = ctx;
    s->input_limit = input_limit;
    s->alloc = a;
    *out = s;
    return AM_OK;
}

am_summarizer_opts am_summarizer_opts_default(void)
{
    am_summarizer_opts o;
    memset(&o, 0, sizeof o);
    return o;
}

am_status am_summarizer_create(const am_summarizer_vtable *vt, void *ctx,
                               const am_summarizer_opts *opts,
                               am_summarizer **out, am_error *err)
{
    am_summarizer_opts o = opts != NULL ? *opts : am_summarizer_opts_default();
    return am__summarizer_create(am__allocator(o.alloc), vt, ctx,
                                 o.input_limit, out, err);
}

void am_summarizer_free(am_summarizer *s)
{
    if (s == NULL)
        return;
    if (s->vt->destroy != NULL)
        s->vt->destroy(s->ctx);
    am__free(s->alloc, s, sizeof *s);
}

const char *am_summarizer_name(const am_summarizer *s)
{
    return s != NULL && s->vt->name != NULL ? s->vt->name : "summarizer";
}

uint64_t am_summarizer_tokens_spent(const am_summarizer *s)
{
    if (s == NULL || s->vt->tokens_spent == NULL)
        return 0;
    return s->vt->tokens_spent(s->ctx);
}

double am_summarizer_cost_spent(const am_summarizer *s)
{
    if (s == NULL || s->vt->cost_spent == NULL)
        return 0;
    return s->vt->cost_spent(s->ctx);
}

/* ---- Offline: messages to extractive items ---- */

/* The name of the tool whose call `id` is, searching back from `before`. */
static am_str tool_name_for(const am_msg *const *msgs, size_t before,
                            am_str id)
{
    size_t stop = before > 256 ? before - 256 : 0;
    for (size_t j = before; j-- > stop;) {
        const am_msg *m = msgs[j];
        for (size_t c = 0; c < am_msg_tool_call_count(m); c++) {
            const am_tool_call *tc = am_msg_tool_call(m, c);
            if (tc->id.len == id.len && memcmp(tc->id.ptr, id.ptr, id.len) == 0)
                return tc->name;
        }
        for (size_t p = 0; p < am_msg_part_count(m); p++) {
            const am_part *pt = am_msg_part(m, p);
            if (pt->type == AM_PART_TOOL_USE && pt->id.len == id.len &&
                memcmp(pt->id.ptr, id.ptr, id.len) == 0)
                return pt->name;
        }
    }
    return (am_str){ "tool", 4 };
}

/* Text counting for the budget: the counter's tokenizer when it has one,
 * else the estimate (a per-message callback cannot count bare text). */
static size_t count_text(void *ctx, const char *s, size_t len)
{
    const am_counter *c = ctx;
    size_t n = 0;
    if (c != NULL && c->tokenizer != NULL &&
        am_tokenizer_count(c->tokenizer, (am_str){ s, len }, NULL, &n,
                           NULL) == AM_OK)
        return n;
    return am__tokens_estimate(len);
}

am_status am__xsum_msgs(const am_allocator *a, am_str prev,
                        const am_msg *const *msgs, size_t count,
                        size_t budget, am_str markers, const am_counter *c,
                        am_buf *out, am_error *err)
{
    am__xitem *items = NULL;
    size_t n = 0, cap = 0;
    am_status st;

    for (size_t i = 0; i < count; i++) {
        const am_msg *m = msgs[i];
        am_role role = am_msg_role(m);
        const char *rn = am_role_name(role);
        size_t need = n + 2 + am_msg_tool_call_count(m) + am_msg_part_count(m);
        am__xitem it;
        size_t first = n;

        if (am__grow(a, (void **)&items, &cap, need, sizeof *items) != AM_OK)
            goto nomem;
        memset(&it, 0, sizeof it);
        it.role = rn;
        switch (am_msg_content_kind(m)) {
        case AM_CONTENT_TEXT:
            it.text = am_msg_content_text(m);
            break;
        case AM_CONTENT_JSON:
            it.text = am_msg_content_json(m);
            break;
        default:
            break;
        }
        if (role == AM_ROLE_TOOL) {
            it.is_tool_result = true;
            it.tool_name = am_msg_name(m).len > 0
                               ? am_msg_name(m)
                               : tool_name_for(msgs, i,
                                               am_msg_tool_call_id(m));
        }
        if (it.text.len > 0 || it.is_tool_result)
            items[n++] = it;
        for (size_t p = 0; p < am_msg_part_count(m); p++) {
            const am_part *pt = am_msg_part(m, p);
            memset(&it, 0, sizeof it);
            it.role = rn;
            if (pt->type == AM_PART_TEXT) {
                it.text = pt->text;
            } else if (pt->type == AM_PART_TOOL_USE) {
                it.is_tool_call = true;
                it.tool_name = pt->name;
                it.text = pt->json;
            } else if (pt->type == AM_PART_TOOL_RESULT) {
                it.is_tool_result = true;
                it.is_error = pt->is_error;
                it.tool_name = tool_name_for(msgs, i, pt->id);
                it.text = pt->text.len > 0 ? pt->text : pt->json;
            } else {
                continue; /* thinking and images are not summarized */
            }
            it.same_msg = n > first;
            items[n++] = it;
        }
        for (size_t k = 0; k < am_msg_tool_call_count(m); k++) {
            const am_tool_call *tc = am_msg_tool_call(m, k);
            memset(&it, 0, sizeof it);
            it.role = rn;
            it.is_tool_call = true;
            it.tool_name = tc->name;
            it.text = tc->arguments;
            it.same_msg = n > first;
            items[n++] = it;
        }
        if (n == first) {
            /* Nothing to say (e.g. only thinking): still count it. */
            memset(&it, 0, sizeof it);
            it.role = rn;
            items[n++] = it;
        }
    }
    /* An exact encoding pre-tokenizes at spaces: each word is a token at
     * least (see am__xsum_ex). */
    st = am__xsum_ex(a, prev, items, n, budget,
                     markers.len > 0 ? markers : AM_STR(DEFAULT_MARKERS),
                     count_text, (void *)(uintptr_t)c,
                     c != NULL && c->tokenizer != NULL &&
                         am_tokenizer_is_exact(c->tokenizer),
                     out, err);
    am__free(a, items, cap * sizeof *items);
    return st;
nomem:
    am__free(a, items, cap * sizeof *items);
    return am__fail(err, AM_ENOMEM, "summarize: out of memory");
}

typedef struct offline_ctx {
    const am_allocator *alloc; /* of this context and its summaries */
    am_counter counter;
    char markers[AM_MEMCFG_TEXT_MAX];
} offline_ctx;

static am_status offline_summarize(void *ctx, am_str prev,
                                   const am_msg *const *msgs, size_t count,
                                   size_t budget, am_buf *out, am_error *err)
{
    offline_ctx *o = ctx;
    return am__xsum_msgs(o->alloc, prev, msgs, count, budget,
                         am_str_c(o->markers), &o->counter, out, err);
}

static void offline_destroy(void *ctx)
{
    offline_ctx *o = ctx;
    am__free(o->alloc, o, sizeof *o);
}

static const am_summarizer_vtable offline_vt = { "offline",
                                                 offline_summarize,
                                                 offline_destroy, NULL, NULL };

am_status am__summarizer_offline(const am_allocator *a,
                                 const am_counter *counter, am_str markers,
                                 am_summarizer **out, am_error *err)
{
    offline_ctx *o;
    am_status st;

    if (out == NULL)
        return am__fail(err, AM_EINVAL, "summarizer: out is NULL");
    if (markers.len >= AM_MEMCFG_TEXT_MAX)
        return am__fail(err, AM_EINVAL, "summarizer: markers too long");
    o = am__calloc(a, 1, sizeof *o);
    if (o == NULL)
        return am__fail(err, AM_ENOMEM, "summarizer: out of memory");
    o->alloc = a;
    if (counter != NULL)
        o->counter = *counter;
    if (markers.len > 0)
        memcpy(o->markers, markers.ptr, markers.len);
    st = am__summarizer_create(a, &offline_vt, o, 0, out, err);
    if (st != AM_OK)
        am__free(a, o, sizeof *o);
    return st;
}

am_status am_summarizer_offline(const am_summarizer_opts *opts,
                                am_summarizer **out, am_error *err)
{
    am_summarizer_opts o = opts != NULL ? *opts : am_summarizer_opts_default();
    return am__summarizer_offline(am__allocator(o.alloc), o.counter,
                                  o.markers, out, err);
}

/* ---- The piecewise driver ---- */

/* A pessimistic token estimate for fitting input limits: 1 per 3 bytes. */
static size_t rough_tokens(const am_msg *m, am_buf *scratch)
{
    am_buf_clear(scratch);
    if (am_msg_text(m, scratch) != AM_OK)
        return SIZE_MAX / 4;
    return 4 + scratch->len / 3;
}

/* A text copy of `m` cut to about `tokens` (same role, call id). */
static am_status cut_copy(const am_allocator *a, const am_msg *m,
                          size_t tokens, am_buf *scratch, am_msg **out,
                          am_error *err)
{
    am_msg_opts mo = am_msg_opts_default();
    size_t len;
    am_status st;

    mo.alloc = a;
    am_buf_clear(scratch);
    st = am_msg_text(m, scratch);
    if (st != AM_OK)
        return am__fail(err, st, "summarize: out of memory");
    len = tokens * 3;
    if (len > scratch->len)
        len = scratch->len;
    len = am__utf8_floor(scratch->ptr, len);
    st = am_msg_create_text(&mo, am_msg_role(m),
                            (am_str){ scratch->ptr, len }, out, err);
    if (st == AM_OK && am_msg_role(m) == AM_ROLE_TOOL)
        st = am_msg_set_tool_call_id(*out, am_msg_tool_call_id(m), err);
    if (st == AM_OK && am_msg_name(m).len > 0)
        st = am_msg_set_name(*out, am_msg_name(m), err);
    if (st != AM_OK) {
        am_msg_free(*out);
        *out = NULL;
    }
    return st;
}

am_status am_summarizer_run(const am_summarizer *s, am_str prev,
                            const am_msg *const *msgs, size_t count,
                            size_t budget, am_buf *out, am_error *err)
{
    am_buf running = AM_BUF_INIT, scratch = AM_BUF_INIT;
    size_t piece_limit, start = 0;
    am_status st = AM_OK;

    if (s == NULL || out == NULL || (msgs == NULL && count > 0))
        return am__fail(err, AM_EINVAL, "summarize: NULL argument");
    running.alloc = scratch.alloc = s->alloc;
    if (s->input_limit == 0)
        return s->vt->summarize(s->ctx, prev, msgs, count, budget, out, err);
    /* Room for the input of one call: the limit less the running summary
     * (at most `budget`) and the instructions (256). */
    if (s->input_limit <= budget + 256 + 64)
        return am__fail(err, AM_EINVAL,
                        "summarize: budget %zu leaves no room in the "
                        "summarizer's input limit %zu", budget,
                        s->input_limit);
    piece_limit = s->input_limit - budget - 256;
    st = am_buf_append(&running, prev.ptr != NULL ? prev.ptr : "", prev.len);
    if (st != AM_OK)
        goto nomem;
    while (start < count || count == 0) {
        size_t end = start, used = 0;
        am_msg *cut = NULL;
        const am_msg *one[1];
        const am_msg *const *piece = msgs + start;
        size_t piece_count;

        while (end < count) {
            size_t t = rough_tokens(msgs[end], &scratch);
            if (used + t > piece_limit)
                break;
            used += t;
            end++;
        }
        if (end == start && count > 0) {
            /* One message larger than a whole piece: cut it to fit. */
            st = cut_copy(s->alloc, msgs[start], piece_limit - 8, &scratch,
                          &cut, err);
            if (st != AM_OK)
                goto out;
            one[0] = cut;
            piece = one;
            end = start + 1;
        }
        piece_count = end - start;
        st = s->vt->summarize(s->ctx, am_buf_str(&running), piece,
                              piece_count, budget, out, err);
        am_msg_free(cut);
        if (st != AM_OK)
            goto out;
        am_buf_clear(&running);
        st = am_buf_append(&running, out->ptr != NULL ? out->ptr : "",
                           out->len);
        if (st != AM_OK)
            goto nomem;
        start = end;
        if (count == 0)
            break;
    }
    goto out;
nomem:
    st = am__fail(err, AM_ENOMEM, "summarize: out of memory");
out:
    am_buf_free(&running);
    am_buf_free(&scratch);
    return st;
}

/* ---- summarize(messages, keep_last) ---- */

am_summarize_opts am_summarize_opts_default(void)
{
    am_summarize_opts o;
    memset(&o, 0, sizeof o);
    o.preserve_system = true;
    return o;
}

void am_summarize_result_free(am_summarize_result *res)
{
    if (res == NULL)
        return;
    am_buf_free(&res->summary);
    am_msg_list_free(&res->messages);
    res->original_count = res->summarized_count = res->kept_count = 0;
    res->tokens_before = res->tokens_after = 0;
}

static bool is_summary_msg(const am_msg *m)
{
    am_str t = am_msg_content_text(m);
    am_str n = am_msg_name(m);
    return am_msg_role(m) == AM_ROLE_SYSTEM && n.len == 7 &&
           memcmp(n.ptr, SUMMARY_NAME, 7) == 0 &&
           t.len >= sizeof SUMMARY_PREFIX - 1 &&
           memcmp(t.ptr, SUMMARY_PREFIX, sizeof SUMMARY_PREFIX - 1) == 0;
}

am_status am__summary_msg(const am_allocator *a, am_str summary,
                          am_msg **out, am_error *err)
{
    am_buf text = AM_BUF_INIT;
    am_msg_opts mo = am_msg_opts_default();
    am_status st;

    text.alloc = a;
    mo.alloc = a;
    st = am_buf_append(&text, SUMMARY_PREFIX, sizeof SUMMARY_PREFIX - 1);
    if (st == AM_OK)
        st = am_buf_append(&text, summary.ptr != NULL ? summary.ptr : "",
                           summary.len);
    if (st != AM_OK) {
        am_buf_free(&text);
        return am__fail(err, AM_ENOMEM, "summarize: out of memory");
    }
    st = am_msg_create_text(&mo, AM_ROLE_SYSTEM, am_buf_str(&text), out, err);
    if (st == AM_OK)
        st = am_msg_set_name(*out, AM_STR(SUMMARY_NAME), err);
    if (st != AM_OK) {
        am_msg_free(*out);
        *out = NULL;
    }
    am_buf_free(&text);
    return st;
}

/* The first index of the kept tail: the last `keep_last` non-system
 * messages, moved earlier so that no turn group is split. */
size_t am__keep_boundary(const am__wview *v, const size_t *group, size_t n,
                         size_t keep_last)
{
    size_t b = n, seen = 0;
    if (keep_last == 0)
        return n;
    for (size_t i = n; i-- > 0;) {
        if (v[i].role == AM__W_SYSTEM)
            continue;
        b = i;
        if (++seen == keep_last)
            break;
    }
    /* Pull the boundary back to the start of every group it cuts. */
    for (bool moved = true; moved;) {
        moved = false;
        for (size_t i = b; i < n; i++)
            if (group[i] != SIZE_MAX && group[i] < b) {
                b = group[i];
                moved = true;
            }
    }
    return b;
}

am_status am_summarize(const am_msg *const *msgs, size_t count,
                       const am_summarize_opts *opts,
                       am_summarize_result *res, am_error *err)
{
    am_summarize_opts o = opts != NULL ? *opts : am_summarize_opts_default();
    am__views views;
    size_t *group = NULL;
    const am_msg **old = NULL;
    size_t nold = 0, old_tokens = 0, b;
    am_summarizer *own = NULL;
    am_tokenizer *tz = NULL;
    const am_summarizer *s = o.summarizer;
    am_msg *summary_msg = NULL;
    am_status st;

    if (res == NULL || (msgs == NULL && count > 0))
        return am__fail(err, AM_EINVAL, "summarize: NULL argument");
    am_summarize_result_free(res);
    res->messages.alloc = o.alloc;
    res->summary.alloc = o.alloc;
    res->original_count = count;
    st = am__counter_for_model(&o.counter, o.model, NULL, o.alloc,
                               "summarize", &o.counter, &tz, err);
    if (st != AM_OK)
        return st;
    st = am__views_build(o.alloc, msgs, count, &o.counter, &views, err);
    if (st != AM_OK) {
        am_tokenizer_free(tz);
        return st;
    }
    group = am__alloc_array(o.alloc, count ? count : 1, sizeof *group);
    old = am__alloc_array(o.alloc, count ? count : 1, sizeof *old);
    if (group == NULL || old == NULL) {
        st = am__fail(err, AM_ENOMEM, "summarize: out of memory");
        goto out;
    }
    st = am__wgroups(o.alloc, views.v, count, group, err);
    if (st != AM_OK)
        goto out;
    res->tokens_before = views.total +
                         (count > 0 ? am__count_list_overhead(&o.counter) : 0);
    b = am__keep_boundary(views.v, group, count, o.keep_last);
    for (size_t i = 0; i < count; i++) {
        bool sys = views.v[i].role == AM__W_SYSTEM && o.preserve_system;
        /* Orphan results in the kept tail can't be sent: summarize them. */
        if (!sys && (i < b || group[i] == SIZE_MAX)) {
            old[nold++] = msgs[i];
            old_tokens += views.v[i].tokens;
        }
    }
    if (nold == 0) {
        /* Nothing to summarize: the input back, the running summary as
         * it was. */
        st = am_buf_append(&res->summary,
                           o.prev_summary.ptr ? o.prev_summary.ptr : "",
                           o.prev_summary.len);
        for (size_t i = 0; st == AM_OK && i < count; i++)
            st = am_msg_list_push(&res->messages, msgs[i]);
        res->kept_count = count;
        res->tokens_after = res->tokens_before;
        if (st != AM_OK)
            st = am__fail(err, AM_ENOMEM, "summarize: out of memory");
        goto out;
    }
    if (o.budget == 0) {
        o.budget = (size_t)((double)old_tokens * 0.3);
        if (o.budget < 64)
            o.budget = 64;
    }
    if (s == NULL) {
        st = am__summarizer_offline(o.alloc, &o.counter, (am_str){ NULL, 0 },
                                    &own, err);
        if (st != AM_OK)
            goto out;
        s = own;
    }
    st = am_summarizer_run(s, o.prev_summary, old, nold, o.budget,
                           &res->summary, err);
    if (st != AM_OK)
        goto out;
    st = am__summary_msg(o.alloc, am_buf_str(&res->summary), &summary_msg,
                         err);
    if (st != AM_OK)
        goto out;
    {
        size_t t = 0;
        am_buf scratch = AM_BUF_INIT;
        scratch.alloc = o.alloc;
        st = am__count_msg_buf(&o.counter, summary_msg, &scratch, &t, err);
        am_buf_free(&scratch);
        if (st != AM_OK)
            goto out;
        res->tokens_after += t;
    }
    /* System messages first, then the summary, then the kept tail. */
    for (size_t i = 0; st == AM_OK && i < count; i++)
        if (views.v[i].role == AM__W_SYSTEM && o.preserve_system) {
            st = am_msg_list_push(&res->messages, msgs[i]);
            res->tokens_after += views.v[i].tokens;
        }
    if (st == AM_OK)
        st = am_msg_list_push(&res->messages, summary_msg);
    for (size_t i = b; st == AM_OK && i < count; i++) {
        if ((views.v[i].role == AM__W_SYSTEM && o.preserve_system) ||
            group[i] == SIZE_MAX)
            continue;
        st = am_msg_list_push(&res->messages, msgs[i]);
        res->kept_count++;
        res->tokens_after += views.v[i].tokens;
    }
    if (st != AM_OK)
        st = am__fail(err, AM_ENOMEM, "summarize: out of memory");
    res->tokens_after += am__count_list_overhead(&o.counter);
    res->summarized_count = nold;
out:
    am_msg_free(summary_msg);
    am_summarizer_free(own);
    am_tokenizer_free(tz);
    am__free(o.alloc, group, (count ? count : 1) * sizeof *group);
    am__free(o.alloc, old, (count ? count : 1) * sizeof *old);
    am__views_free(&views);
    if (st != AM_OK)
        am_summarize_result_free(res);
    return st;
}

/* ---- Middleware ---- */

struct am_summary_mw {
    am_summary_mw_opts o;
    am_tokenizer *tz; /* opened for o.model when no counter was given */
    am_buf running;
};

am_summary_mw_opts am_summary_mw_opts_default(void)
{
    am_summary_mw_opts o;
    memset(&o, 0, sizeof o);
    o.keep_last = 10;
    return o;
}

am_status am_summary_mw_create(const am_summary_mw_opts *opts,
                               am_summary_mw **out, am_error *err)
{
    am_summary_mw *mw;
    am_status st;
    if (opts == NULL || out == NULL)
        return am__fail(err, AM_EINVAL, "middleware: NULL argument");
    if (opts->trigger_tokens == 0 && opts->trigger_messages == 0)
        return am__fail(err, AM_EINVAL,
                        "middleware: set trigger_tokens or "
                        "trigger_messages");
    mw = am__calloc(opts->alloc, 1, sizeof *mw);
    if (mw == NULL)
        return am__fail(err, AM_ENOMEM, "middleware: out of memory");
    mw->o = *opts;
    mw->running.alloc = opts->alloc;
    st = am__counter_for_model(&opts->counter, opts->model, NULL,
                               opts->alloc, "middleware", &mw->o.counter,
                               &mw->tz, err);
    if (st != AM_OK) {
        am__free(opts->alloc, mw, sizeof *mw);
        return st;
    }
    *out = mw;
    return AM_OK;
}

void am_summary_mw_free(am_summary_mw *mw)
{
    if (mw == NULL)
        return;
    am_tokenizer_free(mw->tz);
    am_buf_free(&mw->running);
    am__free(mw->o.alloc, mw, sizeof *mw);
}

am_str am_summary_mw_summary(const am_summary_mw *mw)
{
    return mw != NULL ? am_buf_str(&mw->running) : (am_str){ "", 0 };
}

/* Whether `msgs` crosses a trigger, in *yes; a count that fails (out of
 * memory, the counter's error) is that status, never a silent "no". */
static am_status mw_trigger(am_summary_mw *mw, const am_msg *const *msgs,
                            size_t count, bool *yes, am_error *err)
{
    size_t total = 0;
    am_buf scratch = AM_BUF_INIT;
    am_status st = AM_OK;

    *yes = false;
    if (mw->o.trigger_messages > 0 && count > mw->o.trigger_messages) {
        *yes = true;
        return AM_OK;
    }
    if (mw->o.trigger_tokens == 0)
        return AM_OK;
    scratch.alloc = mw->o.alloc;
    for (size_t i = 0; i < count && !*yes; i++) {
        size_t t = 0;
        st = am__count_msg_buf(&mw->o.counter, msgs[i], &scratch, &t, err);
        if (st != AM_OK)
            break;
        total += t;
        *yes = total > mw->o.trigger_tokens;
    }
    am_buf_free(&scratch);
    return st;
}

bool am_summary_mw_should(am_summary_mw *mw, const am_msg *const *msgs,
                          size_t count)
{
    bool yes = false;

    if (mw == NULL)
        return false;
    return mw_trigger(mw, msgs, count, &yes, NULL) == AM_OK && yes;
}

am_status am_summary_mw_process(am_summary_mw *mw, const am_msg *const *msgs,
                                size_t count, am_summarize_result *res,
                                am_error *err)
{
    am_summarize_opts so = am_summarize_opts_default();
    const am_msg **in = NULL;
    size_t n = 0;
    am_status st;
    bool yes = false;

    if (mw == NULL || res == NULL || (msgs == NULL && count > 0))
        return am__fail(err, AM_EINVAL, "middleware: NULL argument");
    st = mw_trigger(mw, msgs, count, &yes, err);
    if (st != AM_OK)
        return st;
    if (!yes) {
        am_summarize_result_free(res);
        res->original_count = count;
        res->kept_count = count;
        st = AM_OK;
        for (size_t i = 0; st == AM_OK && i < count; i++)
            st = am_msg_list_push(&res->messages, msgs[i]);
        return st == AM_OK ? AM_OK
                           : am__fail(err, AM_ENOMEM, "middleware: OOM");
    }
    in = am__alloc_array(mw->o.alloc, count ? count : 1, sizeof *in);
    if (in == NULL)
        return am__fail(err, AM_ENOMEM, "middleware: out of memory");
    /* Our own summary message is the running summary; don't feed it back
     * as text, or it would be summarized again. */
    for (size_t i = 0; i < count; i++)
        if (!is_summary_msg(msgs[i]))
            in[n++] = msgs[i];
    so.keep_last = mw->o.keep_last;
    so.budget = mw->o.budget;
    so.counter = mw->o.counter;
    so.summarizer = mw->o.summarizer;
    so.alloc = mw->o.alloc;
    so.prev_summary = am_buf_str(&mw->running);
    st = am_summarize(in, n, &so, res, err);
    if (st == AM_OK && res->summarized_count > 0) {
        /* Room first: running out of memory keeps the old summary. */
        st = am_buf_reserve(&mw->running,
                            res->summary.len > mw->running.len
                                ? res->summary.len - mw->running.len
                                : 0);
        if (st != AM_OK) {
            st = am__fail(err, AM_ENOMEM, "middleware: out of memory");
        } else {
            am_buf_clear(&mw->running);
            st = am_buf_append(&mw->running, res->summary.ptr,
                               res->summary.len);
        }
    }
    am__free(mw->o.alloc, in, (count ? count : 1) * sizeof *in);
    return st;
}
