/* trim.c -- am_trim: the message-level front of the trimming algorithm.
 *
 * Builds one light view per message (role, tool-call ids, the id a result
 * answers, token count), lets turns.c choose what to keep, and returns
 * references to the kept messages. The only message ever created is the
 * cut copy of a boundary message when allow_partial is on.
 */
#include <string.h>

#include "agentmem/window.h"
#include "context_int.h"
#include "tokens/count_msg.h"
#include "trim_int.h"
#include "window_int.h"

/* ---- Counting ---- */

/* The billed rule for one message is the tokens module's
 * (tokens/count_msg.h), the rule am_tokenizer_count_messages_json applies
 * to each message it reads, so trim's figures and the JSON counter agree.
 * A counter's own count_msg replaces it. */
am_status am__count_msg_buf(const am_counter *c, const am_msg *m,
                            am_buf *scratch, size_t *out, am_error *err)
{
    (void)scratch;
    if (c != NULL && c->count_msg != NULL) {
        *out = c->count_msg(c->ctx, m);
        return AM_OK;
    }
    return am__tokens_count_msg(c != NULL ? c->tokenizer : NULL, m, out,
                                err);
}

size_t am__count_list_overhead(const am_counter *c)
{
    return c != NULL && c->count_msg != NULL ? 0 : AM__REPLY_PRIMING;
}

bool am__model_is_estimate(const char *model)
{
    static const char est[] = "estimate";
    size_t i;
    if (model == NULL || model[0] == '\0')
        return true;
    for (i = 0; est[i] != '\0'; i++) {
        if (am__ascii_lower((unsigned char)model[i]) != (unsigned char)est[i])
            return false;
    }
    return model[i] == '\0';
}

am_status am__counter_for_model(const am_counter *given, const char *model,
                                const am_models *models,
                                const am_allocator *a, const char *who,
                                am_counter *out, am_tokenizer **own,
                                am_error *err)
{
    am_tokenizer_opts to = am_tokenizer_opts_default();
    am_error e = { AM_OK, "" };
    am_status st;

    *own = NULL;
    if (given != NULL)
        *out = *given;
    else
        memset(out, 0, sizeof *out);
    if (out->tokenizer != NULL || out->count_msg != NULL ||
        am__model_is_estimate(model))
        return AM_OK;
    to.models = models;
    to.alloc = a;
    st = am_tokenizer_create(am_str_c(model), &to, own, &e);
    if (st != AM_OK) {
        *own = NULL;
        return am__fail(err, st,
                        "%s: cannot count tokens for model '%.100s': %s",
                        who, model, e.msg);
    }
    out->tokenizer = *own;
    return AM_OK;
}

am_status am_count_msg(const am_counter *c, const am_msg *msg, size_t *out,
                       am_error *err)
{
    /* No handle and no allocator in am_counter: the default allocator's
     * scratch (trim, summaries and the memory manager count with their
     * own). checksrc: allow AM_BUF_INIT */
    am_buf b = AM_BUF_INIT;
    am_status st;
    if (msg == NULL || out == NULL)
        return am__fail(err, AM_EINVAL, "count: NULL argument");
    st = am__count_msg_buf(c, msg, &b, out, err);
    am_buf_free(&b);
    return st;
}

am_status am_count_msgs(const am_counter *c, const am_msg *const *msgs,
                        size_t count, size_t *out, am_error *err)
{
    size_t total = 0, n = 0;
    if (out == NULL || (msgs == NULL && count > 0))
        return am__fail(err, AM_EINVAL, "count: NULL argument");
    for (size_t i = 0; i < count; i++) {
        am_status st;
        if (msgs[i] == NULL)
            return am__fail(err, AM_EINVAL, "count: message %zu is NULL", i);
        st = am__count_msg_buf(c, msgs[i], NULL, &n, err);
        if (st != AM_OK)
            return st;
        total += n;
    }
    *out = total + (count > 0 ? am__count_list_overhead(c) : 0);
    return AM_OK;
}

/* ---- Views ---- */

void am__view_of(const am_msg *m, am__wview *v, am_str *ids, size_t *nids)
{
    size_t nparts = am_msg_part_count(m), ncalls = am_msg_tool_call_count(m);
    bool only_thinking = nparts > 0;
    am_content_kind kind = am_msg_content_kind(m);

    memset(v, 0, sizeof *v);
    switch (am_msg_role(m)) {
    case AM_ROLE_SYSTEM: v->role = AM__W_SYSTEM; break;
    case AM_ROLE_USER: v->role = AM__W_USER; break;
    case AM_ROLE_ASSISTANT: v->role = AM__W_ASSISTANT; break;
    case AM_ROLE_TOOL: v->role = AM__W_TOOL; break;
    default: v->role = AM__W_OTHER; break;
    }
    v->call_ids = ids;
    for (size_t i = 0; i < ncalls; i++)
        ids[v->ncalls++] = am_msg_tool_call(m, i)->id;
    for (size_t i = 0; i < nparts; i++) {
        const am_part *p = am_msg_part(m, i);
        switch (p->type) {
        case AM_PART_TOOL_USE:
            ids[v->ncalls++] = p->id;
            only_thinking = false;
            break;
        case AM_PART_TOOL_RESULT:
            /* Anthropic puts results in a user turn: such a turn belongs
             * to the group of the call it answers. */
            if (v->result_for.len == 0)
                v->result_for = p->id;
            if (v->role == AM__W_USER)
                v->role = AM__W_TOOL;
            only_thinking = false;
            break;
        case AM_PART_THINKING:
        case AM_PART_REDACTED_THINKING:
        case AM_PART_REASONING:
            break;
        default:
            only_thinking = false;
            break;
        }
    }
    if (am_msg_role(m) == AM_ROLE_TOOL)
        v->result_for = am_msg_tool_call_id(m);
    v->reasoning_only = only_thinking && v->ncalls == 0 &&
                        v->role == AM__W_ASSISTANT;
    v->text_only = kind == AM_CONTENT_TEXT && v->ncalls == 0 &&
                   (v->role == AM__W_USER || v->role == AM__W_ASSISTANT);
    *nids = v->ncalls;
}

am_status am__views_build(const am_allocator *a, const am_msg *const *msgs,
                          size_t count, const am_counter *c,
                          am__views *out, am_error *err)
{
    size_t nids = 0, used = 0;
    am_buf scratch = AM_BUF_INIT;
    am_status st = AM_OK;

    memset(out, 0, sizeof *out);
    out->alloc = a;
    for (size_t i = 0; i < count; i++) {
        if (msgs[i] == NULL)
            return am__fail(err, AM_EINVAL, "message %zu is NULL", i);
        nids += am_msg_tool_call_count(msgs[i]);
        for (size_t p = 0; p < am_msg_part_count(msgs[i]); p++)
            nids += am_msg_part(msgs[i], p)->type == AM_PART_TOOL_USE;
    }
    out->v = am__alloc_array(a, count ? count : 1, sizeof *out->v);
    out->ids = am__alloc_array(a, nids ? nids : 1, sizeof *out->ids);
    out->n = count;
    out->nids = nids;
    if (out->v == NULL || out->ids == NULL) {
        am__views_free(out);
        return am__fail(err, AM_ENOMEM, "trim: out of memory");
    }
    scratch.alloc = a;
    for (size_t i = 0; i < count; i++) {
        size_t k = 0;
        am__view_of(msgs[i], &out->v[i], out->ids + used, &k);
        used += k;
        st = am__count_msg_buf(c, msgs[i], &scratch, &out->v[i].tokens, err);
        if (st != AM_OK)
            break;
        out->total += out->v[i].tokens;
    }
    am_buf_free(&scratch);
    if (st != AM_OK)
        am__views_free(out);
    return st;
}

void am__views_free(am__views *v)
{
    if (v == NULL)
        return;
    am__free(v->alloc, v->v, (v->n ? v->n : 1) * sizeof *v->v);
    am__free(v->alloc, v->ids, (v->nids ? v->nids : 1) * sizeof *v->ids);
    memset(v, 0, sizeof *v);
}

/* ---- Cutting a boundary message ---- */

/* The first character boundary of `text` at or after byte `at`: a tail
 * cut starts on a whole character. */
static size_t char_start_from(am_str text, size_t at)
{
    while (at < text.len && ((unsigned char)text.ptr[at] & 0xC0) == 0x80)
        at++;
    return at;
}

/* A text message `text` in m's role with m's id, time and name: the head
 * of both cuts. On failure *out is NULL. */
static am_status cut_msg(const am_msg *m, am_str text, const am_allocator *a,
                         am_msg **out, am_error *err)
{
    am_msg_opts mo = am_msg_opts_default();
    am_status st;

    mo.alloc = a;
    st = am_msg_create_text(&mo, am_msg_role(m), text, out, err);
    if (st == AM_OK)
        st = am_msg_set_id(*out, am_msg_id(m), err);
    if (st == AM_OK)
        st = am_msg_set_created_ms(*out, am_msg_created_ms(m), err);
    if (st == AM_OK && am_msg_name(m).len > 0)
        st = am_msg_set_name(*out, am_msg_name(m), err);
    if (st != AM_OK) {
        am_msg_free(*out);
        *out = NULL;
    }
    return st;
}

static am_status make_cut(const am_msg *m, size_t len, bool keep_tail,
                          const am_allocator *a, am_msg **out, am_error *err)
{
    am_str text = am_msg_content_text(m);
    am_str part;

    if (keep_tail) {
        size_t s = char_start_from(text, text.len - len);
        part = (am_str){ text.ptr + s, text.len - s };
    } else {
        part = (am_str){ text.ptr, am__utf8_floor(text.ptr, len) };
    }
    return cut_msg(m, part, a, out, err);
}

/* The longest cut of `m` whose count fits `budget`; *out NULL if none. */
static am_status cut_to_fit(const am_msg *m, size_t budget, bool keep_tail,
                            const am_counter *c, const am_allocator *a,
                            am_msg **out, am_error *err)
{
    am_str text = am_msg_content_text(m);
    size_t lo = 1, hi = text.len, best = 0;
    am_buf scratch = AM_BUF_INIT;
    am_status st = AM_OK;

    *out = NULL;
    scratch.alloc = a;
    /* Binary search on the byte length; counts grow with length. */
    while (lo <= hi) {
        size_t mid = lo + (hi - lo) / 2, n = 0;
        am_msg *probe = NULL;
        st = make_cut(m, mid, keep_tail, a, &probe, err);
        if (st == AM_OK)
            st = am__count_msg_buf(c, probe, &scratch, &n, err);
        am_msg_free(probe);
        if (st != AM_OK)
            goto out;
        if (n <= budget) {
            best = mid;
            lo = mid + 1;
        } else {
            hi = mid - 1;
        }
    }
    if (best > 0) {
        st = make_cut(m, best, keep_tail, a, out, err);
        if (st == AM_OK && am_msg_content_text(*out).len == 0) {
            am_msg_free(*out);
            *out = NULL;
        }
    }
out:
    am_buf_free(&scratch);
    return st;
}

/* ---- Cutting the middle out of a message ---- */

/* The marker left where text was cut out; %zu is the tokens removed. */
#define CUT_MARKER "\n[... %zu tokens cut to fit the context budget ...]\n"

/* `m` with its text cut to the first `head` and last `tail` bytes (on
 * UTF-8 boundaries) around the marker, keeping role, id, name, time, the
 * call id it answers and its tool calls. */
static am_status make_middle_cut(const am_msg *m, size_t head, size_t tail,
                                 size_t removed, const am_allocator *a,
                                 am_msg **out, am_error *err)
{
    am_str text = am_msg_content_text(m);
    am_buf b = AM_BUF_INIT;
    size_t h = am__utf8_floor(text.ptr, head);
    size_t t0 = char_start_from(text, text.len - tail);
    am_status st;

    b.alloc = a;
    st = am_buf_append(&b, text.ptr, h);
    if (st == AM_OK)
        st = am_buf_appendf(&b, CUT_MARKER, removed);
    if (st == AM_OK)
        st = am_buf_append(&b, text.ptr + t0, text.len - t0);
    if (st != AM_OK) {
        am_buf_free(&b);
        return am__fail(err, AM_ENOMEM, "cut: out of memory");
    }
    st = cut_msg(m, am_buf_str(&b), a, out, err);
    am_buf_free(&b);
    if (st != AM_OK)
        return st;
    if (am_msg_tool_call_id(m).len > 0)
        st = am_msg_set_tool_call_id(*out, am_msg_tool_call_id(m), err);
    for (size_t i = 0; st == AM_OK && i < am_msg_tool_call_count(m); i++)
        st = am_msg_add_tool_call(*out, am_msg_tool_call(m, i), err);
    if (st != AM_OK) {
        am_msg_free(*out);
        *out = NULL;
    }
    return st;
}

bool am__cut_middle_possible(const am_msg *m)
{
    return am_msg_content_kind(m) == AM_CONTENT_TEXT &&
           am_msg_part_count(m) == 0 && am_msg_content_text(m).len > 0;
}

am_status am__cut_middle(const am_msg *m, size_t budget, const am_counter *c,
                         const am_allocator *a, am_msg **out, size_t *tokens,
                         am_error *err)
{
    am_str text = am_msg_content_text(m);
    size_t lo = 0, hi = text.len, best = SIZE_MAX, whole = 0, n = 0;
    am_buf scratch = AM_BUF_INIT;
    am_status st;

    *out = NULL;
    if (!am__cut_middle_possible(m))
        return AM_OK;
    scratch.alloc = a;
    st = am__count_msg_buf(c, m, &scratch, &whole, err);
    /* Binary search on the bytes kept (half from each end); counts grow
     * with length. The marker states what the whole message counted. */
    while (st == AM_OK && lo <= hi) {
        size_t mid = lo + (hi - lo) / 2;
        am_msg *probe = NULL;
        st = make_middle_cut(m, mid / 2 + mid % 2, mid / 2, whole, a, &probe,
                             err);
        if (st == AM_OK)
            st = am__count_msg_buf(c, probe, &scratch, &n, err);
        am_msg_free(probe);
        if (st != AM_OK)
            break;
        if (n <= budget) {
            best = mid;
            lo = mid + 1;
        } else if (mid == 0) {
            break;
        } else {
            hi = mid - 1;
        }
    }
    if (st == AM_OK && best != SIZE_MAX && best < text.len) {
        st = make_middle_cut(m, best / 2 + best % 2, best / 2, whole, a, out,
                             err);
        if (st == AM_OK)
            st = am__count_msg_buf(c, *out, &scratch, tokens, err);
        if (st != AM_OK) {
            am_msg_free(*out);
            *out = NULL;
        }
    }
    am_buf_free(&scratch);
    return st;
}

/* ---- am_trim ---- */

am_trim_opts am_trim_opts_default(void)
{
    am_trim_opts o;
    memset(&o, 0, sizeof o);
    o.strategy = AM_TRIM_LAST;
    o.preserve_system = true;
    o.end_on_role = -1;
    return o;
}

void am_trim_result_free(am_trim_result *res)
{
    if (res == NULL)
        return;
    am_msg_list_free(&res->messages);
    am__free(res->messages.alloc, res->dropped,
             res->dropped_cap * sizeof *res->dropped);
    res->dropped = NULL;
    res->dropped_count = res->dropped_cap = 0;
    res->orphans = res->tokens_before = res->tokens_after = 0;
    res->partial_index = SIZE_MAX;
}

am_status am_trim(const am_msg *const *msgs, size_t count,
                  const am_trim_opts *opts, am_trim_result *res,
                  am_error *err)
{
    am_trim_opts o = opts != NULL ? *opts : am_trim_opts_default();
    am__views views;
    am__wtrim_opts wo;
    am__wtrim_out wr;
    unsigned char *keep = NULL;
    am_msg *cut = NULL;
    am_tokenizer *tz = NULL;
    am_status st;

    if (res == NULL || (msgs == NULL && count > 0))
        return am__fail(err, AM_EINVAL, "trim: NULL argument");
    am_trim_result_free(res);
    res->messages.alloc = o.alloc;
    if (o.strategy == AM_TRIM_TOKENS && o.max_tokens == 0)
        return am__fail(err, AM_EINVAL,
                        "trim: strategy 'tokens' needs max_tokens > 0");
    if ((int)o.strategy < AM_TRIM_LAST || o.strategy > AM_TRIM_TOKENS)
        return am__fail(err, AM_EINVAL, "trim: unknown strategy %d",
                        (int)o.strategy);
    if (o.end_on_role < -1 || o.end_on_role >= AM_ROLE_COUNT)
        return am__fail(err, AM_EINVAL, "trim: end_on_role %d out of range",
                        o.end_on_role);
    st = am__counter_for_model(&o.counter, o.model, NULL, o.alloc, "trim",
                               &o.counter, &tz, err);
    if (st != AM_OK)
        return st;
    st = am__views_build(o.alloc, msgs, count, &o.counter, &views, err);
    if (st != AM_OK) {
        am_tokenizer_free(tz);
        return st;
    }
    keep = am__calloc(o.alloc, count ? count : 1, 1);
    if (keep == NULL) {
        st = am__fail(err, AM_ENOMEM, "trim: out of memory");
        goto out;
    }
    memset(&wo, 0, sizeof wo);
    wo.first = o.strategy == AM_TRIM_FIRST;
    wo.max_messages = o.max_messages;
    /* The budget is for the billed count of the list: the reply priming
     * comes off it first (a budget smaller than that keeps what a budget
     * of 1 keeps). */
    wo.max_tokens = o.max_tokens;
    if (o.max_tokens > 0)
        wo.max_tokens = o.max_tokens > am__count_list_overhead(&o.counter)
                            ? o.max_tokens -
                                  am__count_list_overhead(&o.counter)
                            : 1;
    wo.preserve_system = o.preserve_system;
    wo.start_on_user = o.start_on_user;
    wo.end_on_role = o.end_on_role; /* am_role and AM__W_* agree */
    wo.allow_partial = o.allow_partial;
    wr.keep = keep;
    st = am__wtrim(o.alloc, views.v, count, &wo, &wr, err);
    if (st != AM_OK)
        goto out;
    if (wr.partial_index != SIZE_MAX) {
        st = cut_to_fit(msgs[wr.partial_index], wr.partial_budget,
                        !wo.first, &o.counter, o.alloc, &cut, err);
        if (st != AM_OK)
            goto out;
        if (cut == NULL)
            keep[wr.partial_index] = 0;
    }
    res->orphans = wr.orphans;
    res->tokens_before = views.total +
                         (count > 0 ? am__count_list_overhead(&o.counter) : 0);
    for (size_t i = 0; i < count; i++) {
        if (!keep[i]) {
            st = am__grow(o.alloc, (void **)&res->dropped, &res->dropped_cap,
                          res->dropped_count + 1, sizeof *res->dropped);
            if (st != AM_OK)
                goto nomem;
            res->dropped[res->dropped_count++] = i;
            continue;
        }
        if (i == wr.partial_index && cut != NULL) {
            size_t n = 0;
            am_buf scratch = AM_BUF_INIT;
            scratch.alloc = o.alloc;
            st = am__count_msg_buf(&o.counter, cut, &scratch, &n, err);
            am_buf_free(&scratch);
            if (st != AM_OK)
                goto out;
            st = am_msg_list_push(&res->messages, cut);
            if (st != AM_OK)
                goto nomem;
            res->partial_index = i;
            res->tokens_after += n;
            continue;
        }
        st = am_msg_list_push(&res->messages, msgs[i]);
        if (st != AM_OK)
            goto nomem;
        res->tokens_after += views.v[i].tokens;
    }
    if (res->messages.count > 0)
        res->tokens_after += am__count_list_overhead(&o.counter);
    goto out;
nomem:
    st = am__fail(err, AM_ENOMEM, "trim: out of memory");
out:
    am_msg_free(cut);
    am__free(o.alloc, keep, count ? count : 1);
    am__views_free(&views);
    am_tokenizer_free(tz);
    if (st != AM_OK)
        am_trim_result_free(res);
    return st;
}
