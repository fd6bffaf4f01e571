/* memory.c -- the memory manager: automatic compression of the context.
 *
 * The manager holds the context as an array of entries (a message
 * reference, its token count) plus one running summary. Adding a message
 * is O(1) apart from counting it; when the calibrated context size passes
 * the threshold, compression runs once over the entries:
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
 * Calibration: when a provider reports the input tokens it billed for a
 * call, that number is compared with the manager's own count of the
 * context at that moment; the ratio (smoothed) scales every later
 * comparison with the threshold, so compression triggers where the
 * provider's count says, not where the local estimate does.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agentmem/window.h"
#include "context_int.h"
#include "core/json_glue.h"
#include "window_int.h"

#define PLACEHOLDER_FMT "[tool result cleared to save context: %zu tokens]"

typedef struct entry {
    am_msg *msg;   /* one reference */
    size_t tokens; /* local count */
    bool cleared;  /* tool result replaced by a placeholder */
    /* A tool result answering no call in the context: never sent, not
     * counted in the context, folded into the next summary. */
    bool orphan;
} entry;

struct am_memory {
    am_memory_opts o;
    am_error err;
    entry *e;
    size_t n, cap;
    am_buf summary;         /* running summary ("" none) */
    am_msg *summary_msg;    /* NULL when no summary */
    size_t summary_tokens;
    size_t context_tokens;  /* sum of entries + summary (local count) */
    double calib;
    size_t calib_samples;
    am_summarizer *own;     /* the offline summarizer when none given */
    am_tokenizer *tz;       /* opened for config.model when no counter */
    am_model_info model;
    am_buf scratch;
    /* Tool-call ids of the entries (borrowed from their frozen messages),
     * open addressing; rebuilt whenever entries go away. */
    am_str *ids;
    size_t ids_n, ids_cap;
    /* Statistics. */
    size_t total_tokens, added, compressions, saved, cost_tokens;
    size_t tool_cleared, tool_tokens_cleared;
    int64_t in_reported, out_reported;
    double cost;
    bool compressed_last;
    int64_t last_savings;
    bool have_record;
    am_compressed_memory rec;
};

/* ---- Options ---- */

am_memory_opts am_memory_opts_default(void)
{
    am_memory_opts o;
    memset(&o, 0, sizeof o);
    o.config = am_memory_config_default();
    return o;
}

static size_t effective(const am_memory *m, size_t tokens)
{
    return (size_t)((double)tokens * m->calib + 0.5);
}

static const am_summarizer *summarizer(const am_memory *m)
{
    return m->o.summarizer != NULL ? m->o.summarizer : m->own;
}

am_status am_memory_create(const am_memory_opts *opts, am_memory **out,
                           am_error *err)
{
    am_memory_opts o = opts != NULL ? *opts : am_memory_opts_default();
    const am_memory_config *c = &o.config;
    am_memory *m;
    am_status st;

    if (out == NULL)
        return am__fail(err, AM_EINVAL, "memory: out is NULL");
    *out = NULL;
    if (c->max_context_tokens == 0 || c->compression_threshold == 0)
        return am__fail(err, AM_EINVAL,
                        "memory: max_context_tokens and "
                        "compression_threshold must be > 0");
    if (c->compression_threshold > c->max_context_tokens)
        return am__fail(err, AM_EINVAL,
                        "memory: compression_threshold %zu exceeds "
                        "max_context_tokens %zu", c->compression_threshold,
                        c->max_context_tokens);
    if (!(c->compression_ratio > 0.0 && c->compression_ratio <= 1.0))
        return am__fail(err, AM_EINVAL,
                        "memory: compression_ratio must be in (0, 1]");
    if ((int)c->strategy < 0 || c->strategy > AM_COMPRESS_DELETION)
        return am__fail(err, AM_EINVAL, "memory: unknown strategy %d",
                        (int)c->strategy);
    m = am__calloc(o.alloc, 1, sizeof *m);
    if (m == NULL)
        return am__fail(err, AM_ENOMEM, "memory: out of memory");
    m->o = o;
    m->calib = 1.0;
    m->summary.alloc = o.alloc;
    m->scratch.alloc = o.alloc;
    /* Count with the configured model unless the caller brought a
     * counter: exact for models with an encoding, the catalog's rule for
     * the others, the estimate for "" / "estimate". */
    st = am__counter_for_model(&o.counter, c->model, o.models, o.alloc,
                               "memory", &m->o.counter, &m->tz, err);
    if (st != AM_OK) {
        am__free(o.alloc, m, sizeof *m);
        return st;
    }
    if (o.summarizer == NULL) {
        st = am_summarizer_offline(&m->o.counter,
                                   am_str_c(c->importance_markers), &m->own,
                                   err);
        if (st != AM_OK) {
            am_tokenizer_free(m->tz);
            am__free(o.alloc, m, sizeof *m);
            return st;
        }
    }
    am_models_lookup(o.models, am_str_c(c->model), &m->model);
    *out = m;
    return AM_OK;
}

const am_tokenizer *am_memory_tokenizer(const am_memory *m)
{
    if (m == NULL || m->o.counter.count_msg != NULL)
        return NULL;
    return m->o.counter.tokenizer;
}

void am_memory_free(am_memory *m)
{
    if (m == NULL)
        return;
    for (size_t i = 0; i < m->n; i++)
        am_msg_free(m->e[i].msg);
    am__free(m->o.alloc, m->e, m->cap * sizeof *m->e);
    am_msg_free(m->summary_msg);
    am_buf_free(&m->summary);
    am_buf_free(&m->scratch);
    am_summarizer_free(m->own);
    am_tokenizer_free(m->tz);
    am__free(m->o.alloc, m->ids, m->ids_cap * sizeof *m->ids);
    am__free(m->o.alloc, m, sizeof *m);
}

/* ---- The set of call ids in the context ---- */

static size_t id_slot(const am_memory *m, am_str id)
{
    size_t mask = m->ids_cap - 1;
    size_t i = (size_t)am__hash64(id.ptr, id.len, 0x1d5) & mask;
    while (m->ids[i].ptr != NULL &&
           !(m->ids[i].len == id.len &&
             memcmp(m->ids[i].ptr, id.ptr, id.len) == 0))
        i = (i + 1) & mask;
    return i;
}

static bool ids_has(const am_memory *m, am_str id)
{
    return m->ids_cap > 0 && m->ids[id_slot(m, id)].ptr != NULL;
}

/* Make room for `more` ids (rehashing); AM_ENOMEM leaves the set as is. */
static am_status ids_reserve(am_memory *m, size_t more)
{
    size_t cap = m->ids_cap ? m->ids_cap : 16;
    am_str *old = m->ids;
    size_t old_cap = m->ids_cap;
    while ((m->ids_n + more) * 2 > cap)
        cap *= 2;
    if (cap == m->ids_cap)
        return AM_OK;
    m->ids = am__calloc(m->o.alloc, cap, sizeof *m->ids);
    if (m->ids == NULL) {
        m->ids = old;
        return AM_ENOMEM;
    }
    m->ids_cap = cap;
    for (size_t i = 0; i < old_cap; i++)
        if (old[i].ptr != NULL)
            m->ids[id_slot(m, old[i])] = old[i];
    am__free(m->o.alloc, old, old_cap * sizeof *old);
    return AM_OK;
}

static void ids_add_msg(am_memory *m, const am_msg *x)
{
    /* Room was reserved by the caller. */
    for (size_t c = 0; c < am_msg_tool_call_count(x); c++) {
        am_str id = am_msg_tool_call(x, c)->id;
        size_t k = id_slot(m, id);
        if (m->ids[k].ptr == NULL) {
            m->ids[k] = id.ptr != NULL ? id : (am_str){ "", 0 };
            m->ids_n++;
        }
    }
    for (size_t p = 0; p < am_msg_part_count(x); p++) {
        const am_part *pt = am_msg_part(x, p);
        if (pt->type != AM_PART_TOOL_USE)
            continue;
        size_t k = id_slot(m, pt->id);
        if (m->ids[k].ptr == NULL) {
            m->ids[k] = pt->id.ptr != NULL ? pt->id : (am_str){ "", 0 };
            m->ids_n++;
        }
    }
}

/* The call id `x` answers, if it is a tool result (role tool, or a turn
 * of tool_result parts). */
static bool answered_id(const am_msg *x, am_str *id)
{
    if (am_msg_role(x) == AM_ROLE_TOOL) {
        *id = am_msg_tool_call_id(x);
        return true;
    }
    for (size_t p = 0; p < am_msg_part_count(x); p++) {
        const am_part *pt = am_msg_part(x, p);
        if (pt->type == AM_PART_TOOL_RESULT) {
            *id = pt->id;
            return true;
        }
    }
    return false;
}

static size_t call_count(const am_msg *x)
{
    size_t n = am_msg_tool_call_count(x);
    for (size_t p = 0; p < am_msg_part_count(x); p++)
        n += am_msg_part(x, p)->type == AM_PART_TOOL_USE;
    return n;
}

/* After entries went away: the set again holds exactly their ids. The
 * table keeps its size, so this cannot fail. */
static void ids_rebuild(am_memory *m)
{
    if (m->ids_cap == 0)
        return;
    memset(m->ids, 0, m->ids_cap * sizeof *m->ids);
    m->ids_n = 0;
    for (size_t i = 0; i < m->n; i++)
        ids_add_msg(m, m->e[i].msg);
}

const am_error *am_memory_last_error(const am_memory *m)
{
    return m != NULL ? &m->err : NULL;
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
        return am__fail(&m->err, AM_ENOMEM, "memory: out of memory");
    }
    for (size_t i = 0; i < m->n; i++) {
        size_t k = 0;
        am__view_of(m->e[i].msg, &ev->v[i], ev->ids + used, &k);
        ev->v[i].tokens = m->e[i].tokens;
        used += k;
    }
    if (am__wgroups(m->o.alloc, ev->v, m->n, ev->group, &m->err) != AM_OK) {
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
            char a = hay.ptr[i + j], b = w[j];
            if (a >= 'A' && a <= 'Z')
                a = (char)(a - 'A' + 'a');
            if (b >= 'A' && b <= 'Z')
                b = (char)(b - 'A' + 'a');
            if (a != b)
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

static void set_summary_msg(am_memory *m, am_msg *msg, size_t tokens)
{
    m->context_tokens -= m->summary_tokens;
    am_msg_free(m->summary_msg);
    m->summary_msg = msg;
    m->summary_tokens = tokens;
    m->context_tokens += tokens;
}

/* Compress the entries once. *did says whether anything changed. */
static am_status compress(am_memory *m, bool *did)
{
    const am_memory_config *c = &m->o.config;
    eviews ev;
    size_t b, keep_last = c->short_term_size > 0 ? c->short_term_size : 1;
    unsigned char *fate = NULL; /* 0 keep, 1 summarize, 2 drop */
    const am_msg **old = NULL;
    size_t nold = 0, old_tokens = 0, gone_tokens = 0, gone = 0;
    am_buf newsum = AM_BUF_INIT;
    am_msg *newmsg = NULL;
    size_t newtok = 0;
    uint64_t spent0;
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
        st = am__fail(&m->err, AM_ENOMEM, "memory: out of memory");
        goto out;
    }
    b = am__keep_boundary(ev.v, ev.group, m->n, keep_last);
    for (size_t i = 0; i < m->n; i++) {
        bool sys = ev.v[i].role == AM__W_SYSTEM && c->preserve_system;
        if (ev.group[i] == SIZE_MAX)
            fate[i] = 1; /* orphan: can never be sent */
        else if (i < b && !sys)
            fate[i] = 1;
    }
    if (c->strategy == AM_COMPRESS_SELECTIVE) {
        /* Keep whole groups that matter, newest first, up to half the
         * old tokens; a group is judged by any of its messages. */
        size_t cap_tokens = 0, kept = 0;
        for (size_t i = 0; i < m->n; i++)
            if (fate[i] == 1)
                cap_tokens += m->e[i].tokens;
        cap_tokens /= 2;
        /* Pass 0: groups holding errors or marked messages; pass 1:
         * tool calls with their results. */
        for (int pass = 0; pass < 2; pass++) {
            for (size_t g = b; g-- > 0;) {
                size_t gt = 0;
                bool want = false;
                if (ev.group[g] != g || fate[g] != 1)
                    continue;
                for (size_t i = g; i < b; i++) {
                    if (ev.group[i] != g)
                        continue;
                    gt += m->e[i].tokens;
                    if (pass == 1 && c->preserve_tool_calls &&
                        (ev.v[i].ncalls > 0 || ev.v[i].role == AM__W_TOOL))
                        want = true;
                    else if (pass == 0 && is_important(m, m->e[i].msg))
                        want = true;
                }
                if (!want || kept + gt > cap_tokens)
                    continue;
                kept += gt;
                for (size_t i = g; i < b; i++)
                    if (ev.group[i] == g)
                        fate[i] = 0;
            }
        }
    }
    for (size_t i = 0; i < m->n; i++) {
        if (fate[i] != 1)
            continue;
        if (c->strategy == AM_COMPRESS_DELETION)
            fate[i] = 2;
        old[nold++] = m->e[i].msg;
        old_tokens += m->e[i].tokens;
    }
    if (nold == 0)
        goto out; /* nothing old enough */

    spent0 = am_summarizer_tokens_spent(summarizer(m));
    if (c->strategy != AM_COMPRESS_DELETION) {
        /* The budget: ratio of what is folded in (old messages and the
         * previous summary), never more than a quarter of the threshold. */
        size_t budget = (size_t)(c->compression_ratio *
                                 (double)(old_tokens + m->summary_tokens));
        size_t cap = c->compression_threshold / 4;
        if (budget > cap)
            budget = cap;
        if (budget < 64)
            budget = 64;
        st = am_summarizer_run(summarizer(m), am_buf_str(&m->summary), old,
                               nold, budget, &newsum, &m->err);
        if (st != AM_OK)
            goto out;
        st = am__summary_msg(m->o.alloc, am_buf_str(&newsum), &newmsg,
                             &m->err);
        if (st != AM_OK)
            goto out;
        st = am__count_msg_buf(&m->o.counter, newmsg, &m->scratch, &newtok,
                               &m->err);
        if (st != AM_OK)
            goto out;
    }

    /* Commit: nothing below fails. */
    {
        size_t w = 0, prev_summary = m->summary_tokens;
        for (size_t i = 0; i < m->n; i++) {
            if (fate[i] == 0) {
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
        ids_rebuild(m);
        if (c->strategy != AM_COMPRESS_DELETION) {
            am_buf tmp = m->summary;
            m->summary = newsum;
            newsum = tmp;
            set_summary_msg(m, newmsg, newtok);
            newmsg = NULL;
        }
        m->rec.summary = am_buf_str(&m->summary);
        m->rec.original_tokens = gone_tokens + prev_summary;
        m->rec.compressed_tokens =
            c->strategy == AM_COMPRESS_DELETION ? 0 : newtok;
        m->rec.compression_ratio =
            m->rec.original_tokens > 0
                ? (double)m->rec.compressed_tokens /
                      (double)m->rec.original_tokens
                : 0.0;
        m->rec.original_message_count = gone;
        m->rec.strategy = c->strategy;
        m->have_record = true;
        if (c->strategy == AM_COMPRESS_DELETION) {
            /* Deletion keeps any earlier summary as it was. */
            m->rec.original_tokens = gone_tokens;
        }
        m->compressions++;
        m->last_savings = (int64_t)m->rec.original_tokens -
                          (int64_t)m->rec.compressed_tokens;
        if (m->last_savings > 0)
            m->saved += (size_t)m->last_savings;
        m->cost_tokens +=
            (size_t)(am_summarizer_tokens_spent(summarizer(m)) - spent0);
        m->compressed_last = true;
        if (m->o.tracker != NULL && m->last_savings > 0)
            (void)am_token_tracker_credit_savings(
                m->o.tracker,
                c->model[0] ? am_str_c(c->model) : AM_STR("unknown"),
                m->last_savings);
        *did = true;
    }
out:
    am_msg_free(newmsg);
    am_buf_free(&newsum);
    am__free(m->o.alloc, fate, n0);
    am__free(m->o.alloc, old, n0 * sizeof *old);
    eviews_free(m, &ev);
    return st;
}

/* Past max_context_tokens even after compressing: drop the oldest
 * non-system groups (never the last one). */
static am_status enforce_max(am_memory *m)
{
    eviews ev;
    am_status st;
    size_t limit = m->o.config.max_context_tokens;

    if (effective(m, m->context_tokens) <= limit)
        return AM_OK;
    st = eviews_build(m, &ev);
    if (st != AM_OK)
        return st;
    {
        size_t last_group = m->n > 0 ? ev.group[m->n - 1] : 0;
        unsigned char *drop = am__calloc(m->o.alloc, m->n ? m->n : 1, 1);
        size_t tok = m->context_tokens, w = 0;
        bool any = false;
        if (drop == NULL) {
            eviews_free(m, &ev);
            return am__fail(&m->err, AM_ENOMEM, "memory: out of memory");
        }
        for (size_t g = 0; g < m->n && effective(m, tok) > limit; g++) {
            if (ev.group[g] != g || g == last_group ||
                ev.v[g].role == AM__W_SYSTEM)
                continue;
            for (size_t i = g; i < m->n; i++)
                if (ev.group[i] == g) {
                    drop[i] = 1;
                    tok -= m->e[i].orphan ? 0 : m->e[i].tokens;
                }
        }
        for (size_t i = 0; i < m->n; i++) {
            if (ev.group[i] == SIZE_MAX && !drop[i]) {
                drop[i] = 1;
                tok -= m->e[i].orphan ? 0 : m->e[i].tokens;
            }
            if (drop[i]) {
                am_msg_free(m->e[i].msg);
                any = true;
                continue;
            }
            m->e[w++] = m->e[i];
        }
        am__free(m->o.alloc, drop, m->n ? m->n : 1);
        eviews_free(m, &ev);
        m->n = w;
        m->context_tokens = tok;
        if (any)
            ids_rebuild(m);
    }
    return AM_OK;
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

static am_status clear_tools(am_memory *m)
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
        st = am__fail(&m->err, AM_ENOMEM, "memory: out of memory");
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
                                &m->err);
        if (st == AM_OK)
            st = am_msg_set_tool_call_id(repl[i], am_msg_tool_call_id(x),
                                         &m->err);
        if (st == AM_OK)
            st = am_msg_set_id(repl[i], am_msg_id(x), &m->err);
        if (st == AM_OK)
            st = am__count_msg_buf(&m->o.counter, repl[i], &m->scratch,
                                   &rtok[i], &m->err);
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

/* ---- Adding ---- */

am_status am_memory_add(am_memory *m, const am_msg *msg,
                        const am_memory_usage *usage)
{
    const am_memory_config *c;
    size_t tokens = 0;
    bool did = false;
    am_status st;

    if (m == NULL)
        return AM_EINVAL;
    if (msg == NULL)
        return am__fail(&m->err, AM_EINVAL, "memory: message is NULL");
    c = &m->o.config;
    st = am_msg_validate(msg, &m->err);
    if (st != AM_OK)
        return st;
    st = am__count_msg_buf(&m->o.counter, msg, &m->scratch, &tokens, &m->err);
    if (st != AM_OK)
        return st;
    if (am__grow(m->o.alloc, (void **)&m->e, &m->cap, m->n + 1,
                 sizeof *m->e) != AM_OK)
        return am__fail(&m->err, AM_ENOMEM, "memory: out of memory");

    if (usage != NULL) {
        if (usage->input_tokens > 0 && m->context_tokens > 0) {
            double r = (double)usage->input_tokens /
                       (double)m->context_tokens;
            /* The first report sets the factor; later ones move it. */
            m->calib = m->calib_samples == 0 ? r : 0.7 * m->calib + 0.3 * r;
            m->calib_samples++;
        }
        if (usage->input_tokens > 0)
            m->in_reported += usage->input_tokens;
        if (usage->output_tokens > 0)
            m->out_reported += usage->output_tokens;
        m->cost += am_model_cost(
            &m->model, usage->input_tokens > 0 ? usage->input_tokens : 0,
            usage->cached_input_tokens > 0 ? usage->cached_input_tokens : 0,
            usage->output_tokens > 0 ? usage->output_tokens : 0);
        if (m->o.tracker != NULL) {
            am_usage_record u;
            memset(&u, 0, sizeof u);
            u.model = c->model[0] ? am_str_c(c->model) : AM_STR("unknown");
            u.input_tokens = usage->input_tokens > 0 ? usage->input_tokens
                                                     : 0;
            u.cached_input_tokens = usage->cached_input_tokens > 0 &&
                                            usage->cached_input_tokens <=
                                                u.input_tokens
                                        ? usage->cached_input_tokens
                                        : 0;
            u.output_tokens =
                usage->output_tokens > 0 ? usage->output_tokens : 0;
            (void)am_token_tracker_record(m->o.tracker, &u);
        }
    }
    {
        am_str answers;
        bool orphan;
        if (ids_reserve(m, call_count(msg)) != AM_OK)
            return am__fail(&m->err, AM_ENOMEM, "memory: out of memory");
        orphan = answered_id(msg, &answers) && !ids_has(m, answers);
        ids_add_msg(m, msg);
        m->e[m->n].msg = am_msg_ref(msg);
        m->e[m->n].tokens = tokens;
        m->e[m->n].cleared = false;
        m->e[m->n].orphan = orphan;
        m->n++;
        if (!orphan)
            m->context_tokens += tokens;
    }
    m->total_tokens += tokens;
    m->added++;
    m->compressed_last = false;
    m->last_savings = 0;

    if (c->enabled && effective(m, m->context_tokens) >
                          c->compression_threshold) {
        st = compress(m, &did);
        if (st == AM_OK)
            st = enforce_max(m);
        if (st != AM_OK) {
            /* Undo the add; compression commits only on success. */
            if (!did) {
                m->n--;
                if (!m->e[m->n].orphan)
                    m->context_tokens -= tokens;
                m->total_tokens -= tokens;
                m->added--;
                am_msg_free(m->e[m->n].msg);
                ids_rebuild(m);
            }
            return st;
        }
    }
    if (c->enabled && c->tool_clear_trigger > 0 &&
        effective(m, m->context_tokens) > c->tool_clear_trigger) {
        st = clear_tools(m);
        if (st != AM_OK)
            return st;
    }
    return AM_OK;
}

am_status am_memory_compress(am_memory *m)
{
    bool did = false;
    am_status st;
    if (m == NULL)
        return AM_EINVAL;
    st = compress(m, &did);
    if (st == AM_OK)
        st = enforce_max(m);
    return st;
}

am_status am_memory_context(am_memory *m, am_msg_list *out)
{
    size_t start;
    bool placed = false;
    am_status st = AM_OK;

    if (m == NULL || out == NULL)
        return AM_EINVAL;
    start = out->count;
    for (size_t i = 0; st == AM_OK && i < m->n; i++) {
        if (m->e[i].orphan)
            continue;
        if (!placed && m->summary_msg != NULL &&
            am_msg_role(m->e[i].msg) != AM_ROLE_SYSTEM) {
            st = am_msg_list_push(out, m->summary_msg);
            placed = true;
        }
        if (st == AM_OK && !m->e[i].orphan)
            st = am_msg_list_push(out, m->e[i].msg);
    }
    if (st == AM_OK && !placed && m->summary_msg != NULL)
        st = am_msg_list_push(out, m->summary_msg);
    if (st != AM_OK) {
        while (out->count > start)
            am_msg_free(out->items[--out->count]);
        return am__fail(&m->err, AM_ENOMEM, "memory: out of memory");
    }
    return AM_OK;
}

bool am_memory_was_compressed_last(const am_memory *m)
{
    return m != NULL && m->compressed_last;
}

int64_t am_memory_last_savings(const am_memory *m)
{
    return m != NULL ? m->last_savings : 0;
}

bool am_memory_compressed(const am_memory *m, am_compressed_memory *out)
{
    if (m == NULL || out == NULL || !m->have_record)
        return false;
    *out = m->rec;
    out->summary = am_buf_str(&m->summary);
    return true;
}

/* ---- Statistics ---- */

void am_memory_stats_get(const am_memory *m, am_memory_stats *s)
{
    memset(s, 0, sizeof *s);
    if (m == NULL)
        return;
    s->current_tokens = effective(m, m->context_tokens);
    s->total_tokens = m->total_tokens;
    s->messages = m->summary_msg != NULL;
    for (size_t i = 0; i < m->n; i++)
        s->messages += !m->e[i].orphan;
    s->messages_added = m->added;
    s->compressions = m->compressions;
    s->tokens_saved = m->saved + m->tool_tokens_cleared;
    s->compression_cost = m->cost_tokens;
    s->net_savings = (int64_t)s->tokens_saved - (int64_t)m->cost_tokens;
    s->savings_percentage =
        m->total_tokens > 0
            ? 100.0 * (double)s->net_savings / (double)m->total_tokens
            : 0.0;
    s->tool_results_cleared = m->tool_cleared;
    s->tool_tokens_cleared = m->tool_tokens_cleared;
    s->calibration = m->calib;
    s->input_tokens_reported = m->in_reported;
    s->output_tokens_reported = m->out_reported;
    s->total_cost = m->cost;
}

am_status am_memory_stats_json(const am_memory *m, am_buf *out)
{
    am_memory_stats s;
    if (m == NULL || out == NULL)
        return AM_EINVAL;
    am_memory_stats_get(m, &s);
    am_buf_clear(out);
    return am_buf_appendf(
        out,
        "{\"current_tokens\":%zu,\"total_tokens\":%zu,\"messages\":%zu,"
        "\"messages_added\":%zu,\"compression_count\":%zu,"
        "\"tokens_saved\":%zu,\"compression_cost\":%zu,"
        "\"net_savings\":%lld,\"savings_percentage\":%.2f,"
        "\"tool_results_cleared\":%zu,\"tool_tokens_cleared\":%zu,"
        "\"calibration\":%.4f,\"input_tokens_reported\":%lld,"
        "\"output_tokens_reported\":%lld,\"total_cost\":%.6f,"
        "\"strategy\":\"%s\"}",
        s.current_tokens, s.total_tokens, s.messages, s.messages_added,
        s.compressions, s.tokens_saved, s.compression_cost,
        (long long)s.net_savings, s.savings_percentage,
        s.tool_results_cleared, s.tool_tokens_cleared, s.calibration,
        (long long)s.input_tokens_reported,
        (long long)s.output_tokens_reported, s.total_cost,
        am_compress_strategy_name(m->o.config.strategy));
}

/* 45234 -> "45,234" */
static void thousands(char *out, size_t cap, long long v)
{
    char digits[32];
    int n = snprintf(digits, sizeof digits, "%lld", v < 0 ? -v : v);
    size_t k = 0;
    if (v < 0 && k + 1 < cap)
        out[k++] = '-';
    for (int i = 0; i < n && k + 2 < cap; i++) {
        out[k++] = digits[i];
        if ((n - i - 1) % 3 == 0 && i != n - 1)
            out[k++] = ',';
    }
    out[k] = '\0';
}

am_status am_memory_stats_text(const am_memory *m, am_buf *out)
{
    am_memory_stats s;
    char total[40], net[40];
    if (m == NULL || out == NULL)
        return AM_EINVAL;
    am_memory_stats_get(m, &s);
    thousands(total, sizeof total, (long long)s.total_tokens);
    thousands(net, sizeof net, (long long)s.net_savings);
    am_buf_clear(out);
    return am_buf_appendf(out,
                          "--- Memory Statistics ---\n"
                          "Total tokens: %s\n"
                          "Compressions: %zu\n"
                          "Net savings: %s tokens (%.1f%%)\n"
                          "Total cost: $%.4f\n",
                          total, s.compressions, net, s.savings_percentage,
                          s.total_cost);
}

/* ---- Persistence ---- */

am_status am_memory_export(const am_memory *m, am_buf *out)
{
    am_buf msgs = AM_BUF_INIT;
    json_t *root = NULL, *arr = NULL, *flags = NULL, *rec = NULL;
    const am_msg **list = NULL;
    am_status st;

    if (m == NULL || out == NULL)
        return AM_EINVAL;
    msgs.alloc = m->o.alloc;
    list = am__alloc_array(m->o.alloc, m->n ? m->n : 1, sizeof *list);
    if (list == NULL)
        return AM_ENOMEM;
    for (size_t i = 0; i < m->n; i++)
        list[i] = m->e[i].msg;
    st = am_msgs_to_json(list, m->n, AM_FORMAT_AGENTMEM, 0, &msgs, NULL);
    if (st != AM_OK)
        goto out;
    arr = json_loadb(msgs.ptr, msgs.len, 0, NULL);
    flags = json_array();
    if (arr == NULL || flags == NULL)
        goto nomem;
    for (size_t i = 0; i < m->n; i++)
        if (json_array_append_new(
                flags, json_pack("{s:I,s:b,s:b}", "tokens",
                                 (json_int_t)m->e[i].tokens, "cleared",
                                 m->e[i].cleared, "orphan",
                                 m->e[i].orphan)) != 0)
            goto nomem;
    rec = m->have_record
              ? json_pack("{s:I,s:I,s:I,s:s}", "original_tokens",
                          (json_int_t)m->rec.original_tokens,
                          "compressed_tokens",
                          (json_int_t)m->rec.compressed_tokens,
                          "message_count",
                          (json_int_t)m->rec.original_message_count,
                          "strategy",
                          am_compress_strategy_name(m->rec.strategy))
              : json_null();
    if (rec == NULL)
        goto nomem;
    root = json_pack(
        "{s:i,s:s%,s:O,s:O,s:O,s:{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,"
        "s:f,s:I,s:I},s:b,s:I}",
        "version", 1, "summary", m->summary.ptr != NULL ? m->summary.ptr : "",
        m->summary.len, "messages", arr, "entries", flags, "last_compression",
        rec, "stats", "total_tokens", (json_int_t)m->total_tokens, "added",
        (json_int_t)m->added, "compressions", (json_int_t)m->compressions,
        "saved", (json_int_t)m->saved, "cost_tokens",
        (json_int_t)m->cost_tokens, "tool_cleared",
        (json_int_t)m->tool_cleared, "tool_tokens_cleared",
        (json_int_t)m->tool_tokens_cleared, "input_reported",
        (json_int_t)m->in_reported, "output_reported",
        (json_int_t)m->out_reported, "cost", m->cost, "calib_samples",
        (json_int_t)m->calib_samples, "last_savings",
        (json_int_t)m->last_savings, "compressed_last", m->compressed_last,
        "calibration_ppm", (json_int_t)(m->calib * 1e6 + 0.5));
    if (root == NULL)
        goto nomem;
    st = am__json_dump(root, JSON_COMPACT, out, NULL);
    goto out;
nomem:
    st = AM_ENOMEM;
out:
    json_decref(root);
    json_decref(arr);
    json_decref(flags);
    json_decref(rec);
    am_buf_free(&msgs);
    am__free(m->o.alloc, list, (m->n ? m->n : 1) * sizeof *list);
    return st;
}

static am_status get_int(const json_t *obj, const char *key, const char *ctx,
                         int64_t *out, am_error *err)
{
    json_t *v = json_object_get(obj, key);
    if (!json_is_integer(v) || json_integer_value(v) < 0)
        return am__fail(err, AM_EFORMAT,
                        "memory import: %s.%s: expected a non-negative "
                        "integer", ctx, key);
    *out = (int64_t)json_integer_value(v);
    return AM_OK;
}

am_status am_memory_import(am_memory *m, am_str json)
{
    json_t *root = NULL, *v, *entries, *stats, *rec;
    am_msg_list msgs = AM_MSG_LIST_INIT;
    entry *e = NULL;
    am_buf summary = AM_BUF_INIT;
    am_msg *summary_msg = NULL;
    size_t summary_tokens = 0, n = 0;
    int64_t x[16];
    am_status st;

    if (m == NULL)
        return AM_EINVAL;
    summary.alloc = m->o.alloc;
    msgs.alloc = m->o.alloc;
    st = am__json_parse(json, "memory import", &root, &m->err);
    if (st != AM_OK)
        return st;
    if (!json_is_object(root) ||
        json_integer_value(json_object_get(root, "version")) != 1) {
        st = am__fail(&m->err, AM_EFORMAT,
                      "memory import: expected an object with version 1");
        goto out;
    }
    v = json_object_get(root, "summary");
    entries = json_object_get(root, "entries");
    stats = json_object_get(root, "stats");
    rec = json_object_get(root, "last_compression");
    if (!json_is_string(v) || !json_is_array(entries) ||
        !json_is_object(stats) || rec == NULL ||
        !json_is_array(json_object_get(root, "messages"))) {
        st = am__fail(&m->err, AM_EFORMAT,
                      "memory import: summary, messages, entries, stats "
                      "and last_compression are required");
        goto out;
    }
    /* Messages through the message core's own reader. (json_dumps, not
     * a callback into our buffer: a failing callback can leave jansson's
     * output truncated without an error.) */
    {
        char *t = json_dumps(json_object_get(root, "messages"),
                             JSON_COMPACT);
        if (t == NULL)
            goto nomem;
        st = am_msgs_from_json(NULL, AM_FORMAT_AGENTMEM, am_str_c(t), &msgs,
                               &m->err);
        free(t);
    }
    if (st != AM_OK) {
        if (st != AM_ENOMEM)
            st = am__fail(&m->err, AM_EFORMAT, "memory import: messages: %s",
                          m->err.msg);
        goto out;
    }
    n = msgs.count;
    if (json_array_size(entries) != n) {
        st = am__fail(&m->err, AM_EFORMAT,
                      "memory import: entries: %zu for %zu messages",
                      json_array_size(entries), n);
        goto out;
    }
    e = am__calloc(m->o.alloc, n ? n : 1, sizeof *e);
    if (e == NULL)
        goto nomem;
    for (size_t i = 0; i < n; i++) {
        json_t *f = json_array_get(entries, i);
        char ctx[32];
        int64_t tok = 0;
        snprintf(ctx, sizeof ctx, "entries[%zu]", i);
        st = get_int(f, "tokens", ctx, &tok, &m->err);
        if (st != AM_OK)
            goto out;
        if (!json_is_boolean(json_object_get(f, "cleared")) ||
            !json_is_boolean(json_object_get(f, "orphan"))) {
            st = am__fail(&m->err, AM_EFORMAT,
                          "memory import: %s: cleared and orphan must be "
                          "booleans", ctx);
            goto out;
        }
        /* Counted again with this manager's counter: the document may
         * come from a manager that counted for another model (or
         * estimated); with the same counter the number is the same. */
        (void)tok;
        st = am__count_msg_buf(&m->o.counter, msgs.items[i], &m->scratch,
                               &e[i].tokens, &m->err);
        if (st != AM_OK)
            goto out;
        e[i].cleared = json_is_true(json_object_get(f, "cleared"));
        e[i].orphan = json_is_true(json_object_get(f, "orphan"));
    }
    {
        static const char *const keys[] = {
            "total_tokens", "added", "compressions", "saved", "cost_tokens",
            "tool_cleared", "tool_tokens_cleared", "input_reported",
            "output_reported", "calib_samples"
        };
        for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++) {
            st = get_int(stats, keys[k], "stats", &x[k], &m->err);
            if (st != AM_OK)
                goto out;
        }
        st = get_int(root, "calibration_ppm", "document", &x[10], &m->err);
        if (st != AM_OK)
            goto out;
        if (!json_is_number(json_object_get(stats, "cost")) ||
            !json_is_integer(json_object_get(stats, "last_savings")) ||
            !json_is_boolean(json_object_get(root, "compressed_last")) ||
            x[10] == 0) {
            st = am__fail(&m->err, AM_EFORMAT,
                          "memory import: stats: bad cost, last_savings, "
                          "compressed_last or calibration");
            goto out;
        }
    }
    if (!json_is_null(rec)) {
        int64_t r[3];
        const char *sn;
        if ((st = get_int(rec, "original_tokens", "last_compression", &r[0],
                          &m->err)) ||
            (st = get_int(rec, "compressed_tokens", "last_compression",
                          &r[1], &m->err)) ||
            (st = get_int(rec, "message_count", "last_compression", &r[2],
                          &m->err)))
            goto out;
        sn = json_string_value(json_object_get(rec, "strategy"));
        if (sn == NULL ||
            am_memory_config_set(&(am_memory_config){ 0 },
                                 AM_STR("MEMORY_COMPRESSION_STRATEGY"),
                                 am_str_c(sn), NULL, NULL) != AM_OK) {
            st = am__fail(&m->err, AM_EFORMAT,
                          "memory import: last_compression.strategy");
            goto out;
        }
    }
    if (am_buf_append(&summary, json_string_value(v),
                      json_string_length(v)) != AM_OK)
        goto nomem;
    if (summary.len > 0) {
        st = am__summary_msg(m->o.alloc, am_buf_str(&summary), &summary_msg,
                             &m->err);
        if (st == AM_OK)
            st = am__count_msg_buf(&m->o.counter, summary_msg, &m->scratch,
                                   &summary_tokens, &m->err);
        if (st != AM_OK)
            goto out;
    }
    {
        /* Room for the call ids before anything changes. */
        size_t calls = 0, cap = 16;
        am_str *ids;
        for (size_t i = 0; i < n; i++)
            calls += call_count(msgs.items[i]);
        while (calls * 2 > cap)
            cap *= 2;
        ids = am__calloc(m->o.alloc, cap, sizeof *ids);
        if (ids == NULL)
            goto nomem;
        /* Commit. */
        for (size_t i = 0; i < m->n; i++)
            am_msg_free(m->e[i].msg);
        am__free(m->o.alloc, m->e, m->cap * sizeof *m->e);
        am__free(m->o.alloc, m->ids, m->ids_cap * sizeof *m->ids);
        m->ids = ids;
        m->ids_cap = cap;
        m->ids_n = 0;
        m->e = e;
        m->cap = n ? n : 1;
        m->n = n;
        e = NULL;
        m->context_tokens = 0;
        for (size_t i = 0; i < n; i++) {
            m->e[i].msg = am_msg_ref(msgs.items[i]);
            if (!m->e[i].orphan)
                m->context_tokens += m->e[i].tokens;
        }
        ids_rebuild(m);
        am_buf_free(&m->summary);
        m->summary = summary;
        summary = (am_buf)AM_BUF_INIT;
        m->summary_tokens = 0;
        am_msg_free(m->summary_msg);
        m->summary_msg = NULL;
        if (summary_msg != NULL)
            set_summary_msg(m, summary_msg, summary_tokens);
        summary_msg = NULL;
        m->total_tokens = (size_t)x[0];
        m->added = (size_t)x[1];
        m->compressions = (size_t)x[2];
        m->saved = (size_t)x[3];
        m->cost_tokens = (size_t)x[4];
        m->tool_cleared = (size_t)x[5];
        m->tool_tokens_cleared = (size_t)x[6];
        m->in_reported = x[7];
        m->out_reported = x[8];
        m->calib_samples = (size_t)x[9];
        m->calib = (double)x[10] / 1e6;
        m->cost = json_number_value(json_object_get(stats, "cost"));
        m->last_savings =
            json_integer_value(json_object_get(stats, "last_savings"));
        m->compressed_last =
            json_is_true(json_object_get(root, "compressed_last"));
        m->have_record = !json_is_null(rec);
        if (m->have_record) {
            const char *sn = json_string_value(json_object_get(rec,
                                                               "strategy"));
            m->rec.original_tokens = (size_t)json_integer_value(
                json_object_get(rec, "original_tokens"));
            m->rec.compressed_tokens = (size_t)json_integer_value(
                json_object_get(rec, "compressed_tokens"));
            m->rec.original_message_count = (size_t)json_integer_value(
                json_object_get(rec, "message_count"));
            m->rec.strategy = strcmp(sn, "selective") == 0
                                  ? AM_COMPRESS_SELECTIVE
                              : strcmp(sn, "deletion") == 0
                                  ? AM_COMPRESS_DELETION
                                  : AM_COMPRESS_SLIDING_WINDOW;
            m->rec.compression_ratio =
                m->rec.original_tokens > 0
                    ? (double)m->rec.compressed_tokens /
                          (double)m->rec.original_tokens
                    : 0.0;
        }
    }
    goto out;
nomem:
    st = am__fail(&m->err, AM_ENOMEM, "memory import: out of memory");
out:
    am__free(m->o.alloc, e, (n ? n : 1) * sizeof *e);
    am_msg_free(summary_msg);
    am_buf_free(&summary);
    am_msg_list_free(&msgs);
    json_decref(root);
    return st;
}
