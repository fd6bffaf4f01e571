/* memory.c -- the memory manager: automatic compression of the context.
 *
 * The manager holds the context as an array of entries (a message
 * reference, its token count) plus one running summary (memory_int.h
 * holds the struct). Adding a message is O(1) apart from counting it;
 * when the calibrated context size passes the threshold, compression runs
 * once over the entries (memory_compress.c), then max_context_tokens is
 * enforced, then old tool results may be cleared. Statistics and
 * export/import are in memory_io.c.
 *
 * Calibration: when a provider reports the input tokens it billed for a
 * call, that number is compared with the manager's own count of the
 * context at that moment; the ratio (smoothed) scales every later
 * comparison with the threshold, so compression triggers where the
 * provider's count says, not where the local estimate does.
 *
 * This file holds creation, the set of tool-call ids in the context (so a
 * tool result answering no call is recognized in O(1)), adding and reading
 * the context.
 */
#include <string.h>

#include "memory_int.h"
#include "window_int.h"

/* ---- Options ---- */

am_memory_opts am_memory_opts_default(void)
{
    am_memory_opts o;
    memset(&o, 0, sizeof o);
    o.config = am_memory_config_default();
    return o;
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
    if (am__handle_sync_init(&m->errs, &m->mu, o.alloc, true) != AM_OK) {
        am__free(o.alloc, m, sizeof *m);
        return am__fail(err, AM_ENOMEM, "memory: cannot make a mutex");
    }
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
        pthread_mutex_destroy(&m->mu);
        am__errtab_free(&m->errs);
        am__free(o.alloc, m, sizeof *m);
        return st;
    }
    if (o.summarizer == NULL) {
        st = am__summarizer_offline(o.alloc, &m->o.counter,
                                    am_str_c(c->importance_markers),
                                    &m->own, err);
        if (st != AM_OK) {
            am_tokenizer_free(m->tz);
            pthread_mutex_destroy(&m->mu);
            am__errtab_free(&m->errs);
            am__free(o.alloc, m, sizeof *m);
            return st;
        }
    }
    am_models_lookup(o.models, am_str_c(c->model), &m->model);
    *out = m;
    return AM_OK;
}

static const am_tokenizer *am_memory_tokenizer_locked(const am_memory *m)
{
    if (m == NULL || m->o.counter.count_msg != NULL)
        return NULL;
    return m->o.counter.tokenizer;
}

const am_tokenizer *am_memory_tokenizer(const am_memory *m)
{
    AM__MEMORY_LOCKED(const am_tokenizer *, m, am_memory_tokenizer_locked(m));
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
    pthread_mutex_destroy(&m->mu);
    am__errtab_free(&m->errs);
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

size_t am__memory_call_count(const am_msg *x)
{
    size_t n = am_msg_tool_call_count(x);
    for (size_t p = 0; p < am_msg_part_count(x); p++)
        n += am_msg_part(x, p)->type == AM_PART_TOOL_USE;
    return n;
}

/* After entries went away: the set again holds exactly their ids. The
 * table keeps its size, so this cannot fail. */
void am__memory_ids_rebuild(am_memory *m)
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
    return m != NULL ? am__errtab_last(&m->errs) : am__errtab_null_handle();
}

/* ---- Adding ---- */

/* Record the provider's usage of an add in the tracker (once the add is
 * kept: a failed add records nothing). */
static void record_usage(am_memory *m, const am_memory_usage *usage)
{
    const am_memory_config *c = &m->o.config;
    am_usage_record u;

    if (usage == NULL || m->o.tracker == NULL)
        return;
    memset(&u, 0, sizeof u);
    u.model = c->model[0] ? am_str_c(c->model) : AM_STR("unknown");
    u.input_tokens = usage->input_tokens > 0 ? usage->input_tokens : 0;
    u.cached_input_tokens = usage->cached_input_tokens > 0 &&
                                    usage->cached_input_tokens <=
                                        u.input_tokens
                                ? usage->cached_input_tokens
                                : 0;
    u.output_tokens = usage->output_tokens > 0 ? usage->output_tokens : 0;
    (void)am_token_tracker_record(m->o.tracker, &u);
}

static am_status am_memory_add_locked(am_memory *m, const am_msg *msg,
                        const am_memory_usage *usage)
{
    const am_memory_config *c;
    size_t tokens = 0;
    bool did = false;
    am_status st;
    double calib, cost;
    size_t calib_samples;
    int64_t in_reported, out_reported, last_savings;
    bool compressed_last;

    if (m == NULL)
        return AM_EINVAL;
    if (msg == NULL)
        return am__fail(&AM__ERR(m), AM_EINVAL, "memory: message is NULL");
    c = &m->o.config;
    st = am_msg_validate(msg, &AM__ERR(m));
    if (st != AM_OK)
        return st;
    st = am__count_msg_buf(&m->o.counter, msg, &m->scratch, &tokens, &AM__ERR(m));
    if (st != AM_OK)
        return st;
    if (am__grow(m->o.alloc, (void **)&m->e, &m->cap, m->n + 1,
                 sizeof *m->e) != AM_OK ||
        ids_reserve(m, am__memory_call_count(msg)) != AM_OK)
        return am__fail(&AM__ERR(m), AM_ENOMEM, "memory: out of memory");

    /* Nothing can fail from here until the compression; what the usage
     * changes is kept to be put back if the add is undone. */
    calib = m->calib;
    calib_samples = m->calib_samples;
    in_reported = m->in_reported;
    out_reported = m->out_reported;
    cost = m->cost;
    compressed_last = m->compressed_last;
    last_savings = m->last_savings;
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
    }
    {
        am_str answers;
        bool orphan = answered_id(msg, &answers) && !ids_has(m, answers);
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

    if (c->enabled &&
        am__memory_effective(m, m->context_tokens) >
            c->compression_threshold)
        st = am__memory_compress_once(m, &did);
    /* The cap holds whether compression is on or not. */
    if (st == AM_OK)
        st = am__memory_enforce_max(m);
    /* The clearing pass changes nothing unless it succeeds. */
    if (st == AM_OK && c->enabled && c->tool_clear_trigger > 0 &&
        am__memory_effective(m, m->context_tokens) > c->tool_clear_trigger)
        st = am__memory_clear_tools(m);
    if (st != AM_OK && !did) {
        /* Undo the add; compression commits only on success. */
        m->n--;
        if (!m->e[m->n].orphan)
            m->context_tokens -= tokens;
        m->total_tokens -= tokens;
        m->added--;
        am_msg_free(m->e[m->n].msg);
        am__memory_ids_rebuild(m);
        m->calib = calib;
        m->calib_samples = calib_samples;
        m->in_reported = in_reported;
        m->out_reported = out_reported;
        m->cost = cost;
        m->compressed_last = compressed_last;
        m->last_savings = last_savings;
        return st;
    }
    /* Kept (also when memory ran out after a successful compression). */
    record_usage(m, usage);
    return st;
}

am_status am_memory_add(am_memory *m, const am_msg *msg,
                        const am_memory_usage *usage)
{
    AM__MEMORY_LOCKED(am_status, m, am_memory_add_locked(m, msg, usage));
}

static am_status am_memory_compress_locked(am_memory *m)
{
    bool did = false;
    am_status st;
    if (m == NULL)
        return AM_EINVAL;
    st = am__memory_compress_once(m, &did);
    if (st == AM_OK)
        st = am__memory_enforce_max(m);
    return st;
}

am_status am_memory_compress(am_memory *m)
{
    AM__MEMORY_LOCKED(am_status, m, am_memory_compress_locked(m));
}

static am_status am_memory_context_locked(am_memory *m, am_msg_list *out)
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
        return am__fail(&AM__ERR(m), AM_ENOMEM, "memory: out of memory");
    }
    return AM_OK;
}

am_status am_memory_context(am_memory *m, am_msg_list *out)
{
    AM__MEMORY_LOCKED(am_status, m, am_memory_context_locked(m, out));
}

static bool am_memory_was_compressed_last_locked(const am_memory *m)
{
    return m != NULL && m->compressed_last;
}

bool am_memory_was_compressed_last(const am_memory *m)
{
    AM__MEMORY_LOCKED(bool, m, am_memory_was_compressed_last_locked(m));
}

int64_t am_memory_last_savings(const am_memory *m)
{
    int64_t r;

    if (m == NULL)
        return 0;
    AM__MEMORY_LOCK(m);
    r = m->last_savings;
    AM__MEMORY_UNLOCK(m);
    return r;
}

static bool am_memory_compressed_locked(const am_memory *m, am_compressed_memory *out)
{
    if (m == NULL || out == NULL || !m->have_record)
        return false;
    *out = m->rec;
    out->summary = am_buf_str(&m->summary);
    return true;
}

bool am_memory_compressed(const am_memory *m, am_compressed_memory *out)
{
    AM__MEMORY_LOCKED(bool, m, am_memory_compressed_locked(m, out));
}
