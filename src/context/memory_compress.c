/* memory_compress.c -- compression and tool-result clearing of the
 * memory manager.
 *
 * Compression runs once over the entries when the calibrated context size
 * passes the threshold:
 *
 *   old part  = everything before the short-term window (the last
 *               short_term_size messages, moved back so no turn group is
 *               split), system prompts excepted when preserved;
 *   sliding_window  folds the old part into the running summary;
 *   selective       keeps the important old groups verbatim (tool calls
 *                   with their results, errors, marked messages; the most
 *                   recent first, up to half of the old tokens) and folds
 *                   the rest into the summary;
 *   deletion        drops the old part.
 *
 * Everything that can fail (views, the summary, its count) happens before
 * the entries change. Past max_context_tokens (a cap, see the banner
 * below) the oldest whole groups go and oversized messages are cut; past
 * tool_clear_trigger old tool results become short placeholders.
 */
#include <stdio.h>
#include <string.h>

#include "context_int.h"
#include "memory_int.h"
#include "window_int.h"

#define PLACEHOLDER_FMT "[tool result cleared to save context: %zu tokens]"

static const am_summarizer *summarizer(const am_memory *m)
{
    return m->o.summarizer != NULL ? m->o.summarizer : m->own;
}

/* ---- Views of the entries ---- */

typedef struct eviews {
    am__wview *v;
    am_str *ids;
    size_t *group;
    size_t nids;
    size_t n; /* entries when built */
} eviews;

static void eviews_free(const am_memory *m, eviews *ev)
{
    size_t n = ev->n ? ev->n : 1;
    am__free(m->o.alloc, ev->v, n * sizeof *ev->v);
    am__free(m->o.alloc, ev->ids, (ev->nids ? ev->nids : 1) *
                                      sizeof *ev->ids);
    am__free(m->o.alloc, ev->group, n * sizeof *ev->group);
    memset(ev, 0, sizeof *ev);
}

static am_status eviews_build(am_memory *m, eviews *ev)
{
    size_t used = 0, n = m->n ? m->n : 1;
    memset(ev, 0, sizeof *ev);
    ev->n = m->n;
    for (size_t i = 0; i < m->n; i++) {
        ev->nids += am_msg_tool_call_count(m->e[i].msg);
        for (size_t p = 0; p < am_msg_part_count(m->e[i].msg); p++)
            ev->nids += am_msg_part(m->e[i].msg, p)->type == AM_PART_TOOL_USE;
    }
    ev->v = am__alloc_array(m->o.alloc, n, sizeof *ev->v);
    ev->ids = am__alloc_array(m->o.alloc, ev->nids ? ev->nids : 1,
                              sizeof *ev->ids);
    ev->group = am__alloc_array(m->o.alloc, n, sizeof *ev->group);
    if (ev->v == NULL || ev->ids == NULL || ev->group == NULL) {
        eviews_free(m, ev);
        return am__fail(&AM__ERR(m), AM_ENOMEM, "memory: out of memory");
    }
    for (size_t i = 0; i < m->n; i++) {
        size_t k = 0;
        am__view_of(m->e[i].msg, &ev->v[i], ev->ids + used, &k);
        ev->v[i].tokens = m->e[i].tokens;
        used += k;
    }
    if (am__wgroups(m->o.alloc, ev->v, m->n, ev->group, &AM__ERR(m)) != AM_OK) {
        eviews_free(m, ev);
        return AM_ENOMEM;
    }
    return AM_OK;
}

/* ---- Importance ---- */

static bool contains_ci(am_str hay, const char *w, size_t wl)
{
    if (wl == 0 || hay.len < wl)
        return false;
    for (size_t i = 0; i + wl <= hay.len; i++) {
        size_t j = 0;
        while (j < wl) {
            if (am__ascii_lower((unsigned char)hay.ptr[i + j]) !=
                am__ascii_lower((unsigned char)w[j]))
                break;
            j++;
        }
        if (j == wl)
            return true;
    }
    return false;
}

static bool is_important(am_memory *m, const am_msg *msg)
{
    static const char *const errs[] = { "error", "exception", "failed",
                                        "traceback" };
    const char *mk = m->o.config.importance_markers;
    am_str t;

    if (m->o.should_preserve != NULL) {
        int says = m->o.should_preserve(m->o.should_preserve_ctx, msg);
        if (says != 0)
            return says > 0;
    }
    am_buf_clear(&m->scratch);
    if (am_msg_text(msg, &m->scratch) != AM_OK)
        return true; /* when in doubt, keep */
    t = am_buf_str(&m->scratch);
    for (size_t i = 0; i < sizeof errs / sizeof errs[0]; i++)
        if (contains_ci(t, errs[i], strlen(errs[i])))
            return true;
    for (const char *p = mk; *p != '\0';) {
        const char *comma = strchr(p, ',');
        size_t len = comma != NULL ? (size_t)(comma - p) : strlen(p);
        while (len > 0 && *p == ' ')
            p++, len--;
        while (len > 0 && p[len - 1] == ' ')
            len--;
        if (contains_ci(t, p, len))
            return true;
        if (comma == NULL)
            break;
        p = comma + 1;
    }
    for (size_t i = 0; i < am_msg_part_count(msg); i++)
        if (am_msg_part(msg, i)->type == AM_PART_TOOL_RESULT &&
            am_msg_part(msg, i)->is_error)
            return true;
    return false;
}

/* ---- Compression ---- */

void am__memory_set_summary_msg(am_memory *m, am_msg *msg, size_t tokens)
{
    m->context_tokens -= m->summary_tokens;
    am_msg_free(m->summary_msg);
    m->summary_msg = msg;
    m->summary_tokens = tokens;
    m->context_tokens += tokens;
}

/* ---- One compression, in steps: fates, summary, commit ----
 *
 * Each message gets a fate (keep, summarize, drop); the summarizer runs on
 * what is folded in; only then is the memory changed, by a commit that
 * cannot fail, so a failed summary leaves the memory as it was. */

enum { FATE_KEEP = 0, FATE_FOLD = 1, FATE_DROP = 2 };

/* Mark every message before the keep boundary (and every orphan) to be
 * folded in; system messages stay when preserve_system says so. Returns
 * the boundary. */
static size_t mark_old(const am_memory *m, const eviews *ev,
                       unsigned char *fate)
{
    const am_memory_config *c = &m->o.config;
    size_t keep_last = c->short_term_size > 0 ? c->short_term_size
                       : m->o.compress_newest ? 0 : 1;
    size_t b = am__keep_boundary(ev->v, ev->group, m->n, keep_last);

    for (size_t i = 0; i < m->n; i++) {
        bool sys = ev->v[i].role == AM__W_SYSTEM && c->preserve_system;
        if (ev->group[i] == SIZE_MAX)
            fate[i] = FATE_FOLD; /* orphan: can never be sent */
        else if (i < b && !sys)
            fate[i] = FATE_FOLD;
    }
    return b;
}

/* The selective strategy: keep whole groups that matter, newest first, up
 * to half the old tokens; a group is judged by any of its messages. Pass
 * 0 keeps groups holding errors or marked messages, pass 1 tool calls
 * with their results. */
static void keep_selected(am_memory *m, const eviews *ev, size_t b,
                          unsigned char *fate)
{
    const am_memory_config *c = &m->o.config;
    size_t cap_tokens = 0, kept = 0;

    for (size_t i = 0; i < m->n; i++)
        if (fate[i] == FATE_FOLD)
            cap_tokens += m->e[i].tokens;
    cap_tokens /= 2;
    for (int pass = 0; pass < 2; pass++) {
        for (size_t g = b; g-- > 0;) {
            size_t gt = 0;
            bool want = false;
            if (ev->group[g] != g || fate[g] != FATE_FOLD)
                continue;
            for (size_t i = g; i < b; i++) {
                if (ev->group[i] != g)
                    continue;
                gt += m->e[i].tokens;
                if (pass == 1 && c->preserve_tool_calls &&
                    (ev->v[i].ncalls > 0 || ev->v[i].role == AM__W_TOOL))
                    want = true;
                else if (pass == 0 && is_important(m, m->e[i].msg))
                    want = true;
            }
            if (!want || kept + gt > cap_tokens)
                continue;
            kept += gt;
            for (size_t i = g; i < b; i++)
                if (ev->group[i] == g)
                    fate[i] = FATE_KEEP;
        }
    }
}

/* Fold the old messages and the previous summary into a new summary of at
 * most compression_ratio of their tokens (never more than a quarter of
 * the threshold, never under 64), and build and count its message. */
static am_status summarize_old(am_memory *m, const am_msg **old, size_t nold,
                               size_t old_tokens, am_buf *newsum,
                               am_msg **newmsg, size_t *newtok)
{
    const am_memory_config *c = &m->o.config;
    size_t budget = (size_t)(c->compression_ratio *
                             (double)(old_tokens + m->summary_tokens));
    size_t cap = c->compression_threshold / 4;
    am_status st;

    if (budget > cap)
        budget = cap;
    if (budget < 64)
        budget = 64;
    st = am_summarizer_run(summarizer(m), am_buf_str(&m->summary), old, nold,
                           budget, newsum, &AM__ERR(m));
    if (st == AM_OK)
        st = am__summary_msg(m->o.alloc, am_buf_str(newsum), newmsg,
                             &AM__ERR(m));
    if (st == AM_OK)
        st = am__count_msg_buf(&m->o.counter, *newmsg, &m->scratch, newtok,
                               &AM__ERR(m));
    return st;
}

/* What the summarizer had spent before this compression, to charge the
 * difference to it. */
typedef struct spent {
    uint64_t tokens;
    double usd;
} spent;

/* Apply the fates: drop what was folded in or deleted, install the new
 * summary (swapped into `newsum`, whose old contents the caller frees;
 * *newmsg is taken), and record the compression. Nothing here fails. */
static void commit(am_memory *m, const unsigned char *fate, am_buf *newsum,
                   am_msg **newmsg, size_t newtok, spent before)
{
    const am_memory_config *c = &m->o.config;
    size_t w = 0, prev_summary = m->summary_tokens, gone = 0;
    size_t gone_tokens = 0;
    bool deletion = c->strategy == AM_COMPRESS_DELETION;

    for (size_t i = 0; i < m->n; i++) {
        if (fate[i] == FATE_KEEP) {
            m->e[w++] = m->e[i];
            continue;
        }
        gone++;
        gone_tokens += m->e[i].tokens;
        if (!m->e[i].orphan)
            m->context_tokens -= m->e[i].tokens;
        am_msg_free(m->e[i].msg);
    }
    m->n = w;
    am__memory_ids_rebuild(m);
    if (!deletion) {
        am_buf tmp = m->summary;
        m->summary = *newsum;
        *newsum = tmp;
        am__memory_set_summary_msg(m, *newmsg, newtok);
        *newmsg = NULL;
    }
    m->rec.summary = am_buf_str(&m->summary);
    m->rec.original_tokens = gone_tokens + prev_summary;
    m->rec.compressed_tokens = deletion ? 0 : newtok;
    m->rec.compression_ratio =
        m->rec.original_tokens > 0
            ? (double)m->rec.compressed_tokens /
                  (double)m->rec.original_tokens
            : 0.0;
    if (deletion) /* deletion keeps any earlier summary as it was */
        m->rec.original_tokens = gone_tokens;
    m->rec.original_message_count = gone;
    m->rec.strategy = c->strategy;
    m->have_record = true;
    m->compressions++;
    m->last_savings = (int64_t)m->rec.original_tokens -
                      (int64_t)m->rec.compressed_tokens;
    if (m->last_savings > 0)
        m->saved += (size_t)m->last_savings;
    m->cost_tokens +=
        (size_t)(am_summarizer_tokens_spent(summarizer(m)) - before.tokens);
    m->compress_usd += am_summarizer_cost_spent(summarizer(m)) - before.usd;
    m->compressed_last = true;
    if (m->o.tracker != NULL && m->last_savings > 0)
        (void)am_token_tracker_credit_savings(
            m->o.tracker, c->model[0] ? am_str_c(c->model) : AM_STR("unknown"),
            m->last_savings);
}

/* Compress the entries once. *did says whether anything changed. */
am_status am__memory_compress_once(am_memory *m, bool *did)
{
    const am_memory_config *c = &m->o.config;
    eviews ev;
    unsigned char *fate = NULL;
    const am_msg **old = NULL;
    size_t nold = 0, old_tokens = 0, b;
    am_buf newsum = AM_BUF_INIT;
    am_msg *newmsg = NULL;
    size_t newtok = 0;
    spent before;
    size_t n0 = m->n;
    am_status st;

    *did = false;
    if (m->n == 0)
        return AM_OK;
    st = eviews_build(m, &ev);
    if (st != AM_OK)
        return st;
    fate = am__calloc(m->o.alloc, m->n, 1);
    old = am__alloc_array(m->o.alloc, m->n, sizeof *old);
    newsum.alloc = m->o.alloc;
    if (fate == NULL || old == NULL) {
        st = am__fail(&AM__ERR(m), AM_ENOMEM, "memory: out of memory");
        goto out;
    }
    b = mark_old(m, &ev, fate);
    if (c->strategy == AM_COMPRESS_SELECTIVE)
        keep_selected(m, &ev, b, fate);
    for (size_t i = 0; i < m->n; i++) {
        if (fate[i] != FATE_FOLD)
            continue;
        if (c->strategy == AM_COMPRESS_DELETION)
            fate[i] = FATE_DROP;
        old[nold++] = m->e[i].msg;
        old_tokens += m->e[i].tokens;
    }
    if (nold == 0)
        goto out; /* nothing old enough */
    before.tokens = am_summarizer_tokens_spent(summarizer(m));
    before.usd = am_summarizer_cost_spent(summarizer(m));
    if (c->strategy != AM_COMPRESS_DELETION) {
        st = summarize_old(m, old, nold, old_tokens, &newsum, &newmsg,
                           &newtok);
        if (st != AM_OK)
            goto out;
    }
    commit(m, fate, &newsum, &newmsg, newtok, before);
    *did = true;
out:
    am_msg_free(newmsg);
    am_buf_free(&newsum);
    am__free(m->o.alloc, fate, n0);
    am__free(m->o.alloc, old, n0 * sizeof *old);
    eviews_free(m, &ev);
    return st;
}

/* ---- The hard cap: max_context_tokens ----
 *
 * The context sent must never exceed max_context_tokens (one tool result
 * of ~7,000 tokens in a 4,000-token budget once sent 8,924 tokens, and
 * the current user turn had been evicted to make room). Past the cap:
 *   1. the oldest whole groups go, except system messages, the last group
 *      and the group of the newest user turn (the question being answered
 *      is never evicted);
 *   2. if that is not enough, the largest messages that are plain text
 *      are cut in the middle, head and tail kept around a visible marker,
 *      until the context fits (no message is cut below CUT_FLOOR tokens
 *      unless it must);
 *   3. if even that cannot fit (system prompts and the kept turns need
 *      more than the cap), AM_ELIMIT names both figures.
 * Everything is planned first and committed at the end, so a failure
 * changes nothing. */

#define CUT_FLOOR 64

/* Raw tokens that count as `eff` effective tokens at most (the inverse of
 * am__memory_effective, rounded down). */
static size_t raw_for(const am_memory *m, size_t eff)
{
    double r = (double)eff / (m->calib > 0 ? m->calib : 1.0);
    return r < 0 ? 0 : (size_t)r;
}

am_status am__memory_enforce_max(am_memory *m)
{
    eviews ev;
    am_status st = AM_OK;
    /* The list's reply priming counts against the cap too, so that the
     * billed count of the context (am_count_msgs) fits. */
    size_t over = am__count_list_overhead(&m->o.counter);
    size_t limit = m->o.config.max_context_tokens > over
                       ? m->o.config.max_context_tokens - over
                       : 1;
    size_t n = m->n, tok = m->context_tokens, w = 0;
    unsigned char *drop = NULL;
    am_msg **cut = NULL;
    size_t *cut_tok = NULL;
    size_t last_group = 0, user_group = SIZE_MAX;
    bool any = false;

    if (am__memory_effective(m, m->context_tokens) <= limit)
        return AM_OK;
    st = eviews_build(m, &ev);
    if (st != AM_OK)
        return st;
    drop = am__calloc(m->o.alloc, n ? n : 1, 1);
    cut = am__calloc(m->o.alloc, n ? n : 1, sizeof *cut);
    cut_tok = am__calloc(m->o.alloc, n ? n : 1, sizeof *cut_tok);
    if (drop == NULL || cut == NULL || cut_tok == NULL) {
        st = am__fail(&AM__ERR(m), AM_ENOMEM, "memory: out of memory");
        goto out;
    }
    if (n > 0)
        last_group = ev.group[n - 1];
    for (size_t i = n; i-- > 0;)
        if (ev.v[i].role == AM__W_USER && ev.group[i] != SIZE_MAX) {
            user_group = ev.group[i];
            break;
        }
    /* Orphans are never sent (and not counted): they go now. */
    for (size_t i = 0; i < n; i++)
        if (ev.group[i] == SIZE_MAX) {
            drop[i] = 1;
            tok -= m->e[i].orphan ? 0 : m->e[i].tokens;
        }
    /* 1. Oldest whole groups. */
    for (size_t g = 0; g < n && am__memory_effective(m, tok) > limit; g++) {
        if (ev.group[g] != g || g == last_group || g == user_group ||
            ev.v[g].role == AM__W_SYSTEM)
            continue;
        for (size_t i = g; i < n; i++)
            if (ev.group[i] == g) {
                drop[i] = 1;
                tok -= m->e[i].orphan ? 0 : m->e[i].tokens;
            }
    }
    /* 2. Cut the largest plain-text messages, each once. */
    while (am__memory_effective(m, tok) > limit) {
        size_t best = SIZE_MAX, excess, target, got = 0;
        am_msg *c = NULL;
        for (size_t i = 0; i < n; i++)
            if (!drop[i] && cut[i] == NULL && !m->e[i].orphan &&
                m->e[i].tokens > CUT_FLOOR &&
                am__cut_middle_possible(m->e[i].msg) &&
                (best == SIZE_MAX || m->e[i].tokens > m->e[best].tokens))
                best = i;
        if (best == SIZE_MAX)
            break;
        excess = tok - raw_for(m, limit);
        target = m->e[best].tokens > excess + CUT_FLOOR
                     ? m->e[best].tokens - excess
                     : CUT_FLOOR;
        st = am__cut_middle(m->e[best].msg, target, &m->o.counter,
                            m->o.alloc, &c, &got, &AM__ERR(m));
        if (st != AM_OK)
            goto out;
        if (c == NULL || got >= m->e[best].tokens) {
            /* Not even the marker fits: leave it whole, try the next. */
            am_msg_free(c);
            c = NULL;
            cut_tok[best] = m->e[best].tokens;
            cut[best] = am_msg_ref(m->e[best].msg);
            continue;
        }
        tok -= m->e[best].tokens - got;
        cut[best] = c;
        cut_tok[best] = got;
    }
    /* 3. What must stay does not fit. */
    if (am__memory_effective(m, tok) > limit) {
        st = am__fail(&AM__ERR(m), AM_ELIMIT, "memory: the system messages, "
                      "the summary and the newest turn need %zu tokens even "
                      "cut; max_context_tokens is %zu",
                      am__memory_effective(m, tok) + over,
                      m->o.config.max_context_tokens);
        goto out;
    }
    /* Commit. */
    for (size_t i = 0; i < n; i++) {
        if (drop[i]) {
            am_msg_free(m->e[i].msg);
            any = true;
            continue;
        }
        if (cut[i] != NULL) {
            am_msg_free(m->e[i].msg);
            m->e[i].msg = cut[i];
            m->e[i].tokens = cut_tok[i];
            cut[i] = NULL;
        }
        m->e[w++] = m->e[i];
    }
    m->n = w;
    m->context_tokens = tok;
    if (any)
        am__memory_ids_rebuild(m);
out:
    if (cut != NULL)
        for (size_t i = 0; i < n; i++)
            am_msg_free(cut[i]);
    am__free(m->o.alloc, cut, (n ? n : 1) * sizeof *cut);
    am__free(m->o.alloc, cut_tok, (n ? n : 1) * sizeof *cut_tok);
    am__free(m->o.alloc, drop, n ? n : 1);
    eviews_free(m, &ev);
    return st;
}

/* ---- Tool-result clearing ---- */

static am_str tool_of(const am_memory *m, size_t before, am_str id)
{
    for (size_t j = before; j-- > 0;) {
        const am_msg *x = m->e[j].msg;
        for (size_t c = 0; c < am_msg_tool_call_count(x); c++) {
            const am_tool_call *tc = am_msg_tool_call(x, c);
            if (tc->id.len == id.len && memcmp(tc->id.ptr, id.ptr, id.len) == 0)
                return tc->name;
        }
    }
    return (am_str){ "", 0 };
}

static bool excluded(const am_memory *m, am_str tool)
{
    const char *p = m->o.config.tool_clear_exclude;
    while (*p != '\0') {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        while (len > 0 && *p == ' ')
            p++, len--;
        while (len > 0 && p[len - 1] == ' ')
            len--;
        if (len == tool.len && len > 0 && memcmp(p, tool.ptr, len) == 0)
            return true;
        if (comma == NULL)
            break;
        p = comma + 1;
    }
    return false;
}

am_status am__memory_clear_tools(am_memory *m)
{
    const am_memory_config *c = &m->o.config;
    size_t ntool = 0, seen = 0, gain = 0;
    am_msg **repl = NULL;
    size_t *rtok = NULL;
    am_status st = AM_OK;
    char text[96];

    for (size_t i = 0; i < m->n; i++)
        ntool += am_msg_role(m->e[i].msg) == AM_ROLE_TOOL;
    if (ntool <= c->tool_clear_keep)
        return AM_OK;
    repl = am__calloc(m->o.alloc, m->n, sizeof *repl);
    rtok = am__calloc(m->o.alloc, m->n, sizeof *rtok);
    if (repl == NULL || rtok == NULL) {
        st = am__fail(&AM__ERR(m), AM_ENOMEM, "memory: out of memory");
        goto out;
    }
    /* Build every placeholder first; swap them in only if the pass clears
     * at least tool_clear_at_least tokens. */
    for (size_t i = 0; i < m->n && seen < ntool - c->tool_clear_keep; i++) {
        const am_msg *x = m->e[i].msg;
        am_msg_opts mo = am_msg_opts_default();
        if (am_msg_role(x) != AM_ROLE_TOOL)
            continue;
        seen++;
        if (m->e[i].cleared || m->e[i].orphan ||
            excluded(m, tool_of(m, i, am_msg_tool_call_id(x))))
            continue;
        snprintf(text, sizeof text, PLACEHOLDER_FMT, m->e[i].tokens);
        mo.alloc = m->o.alloc;
        st = am_msg_create_text(&mo, AM_ROLE_TOOL, am_str_c(text), &repl[i],
                                &AM__ERR(m));
        if (st == AM_OK)
            st = am_msg_set_tool_call_id(repl[i], am_msg_tool_call_id(x),
                                         &AM__ERR(m));
        if (st == AM_OK)
            st = am_msg_set_id(repl[i], am_msg_id(x), &AM__ERR(m));
        /* The placeholder stands for the same message: same time. */
        if (st == AM_OK)
            st = am_msg_set_created_ms(repl[i], am_msg_created_ms(x),
                                       &AM__ERR(m));
        if (st == AM_OK)
            st = am__count_msg_buf(&m->o.counter, repl[i], &m->scratch,
                                   &rtok[i], &AM__ERR(m));
        if (st != AM_OK)
            goto out;
        if (rtok[i] >= m->e[i].tokens) {
            /* Already smaller than its placeholder. */
            am_msg_free(repl[i]);
            repl[i] = NULL;
            continue;
        }
        gain += m->e[i].tokens - rtok[i];
    }
    if (gain == 0 || gain < c->tool_clear_at_least)
        goto out;
    for (size_t i = 0; i < m->n; i++) {
        if (repl[i] == NULL)
            continue;
        am_msg_free(m->e[i].msg);
        m->e[i].msg = repl[i];
        repl[i] = NULL;
        m->context_tokens -= m->e[i].tokens - rtok[i];
        m->tool_tokens_cleared += m->e[i].tokens - rtok[i];
        m->e[i].tokens = rtok[i];
        m->e[i].cleared = true;
        m->tool_cleared++;
    }
out:
    if (repl != NULL)
        for (size_t i = 0; i < m->n; i++)
            am_msg_free(repl[i]);
    am__free(m->o.alloc, repl, m->n * sizeof *repl);
    am__free(m->o.alloc, rtok, m->n * sizeof *rtok);
    return st;
}
