/* memory_io.c -- statistics and persistence of the memory manager.
 *
 * The statistics are read from counters the manager keeps as it goes, so
 * reporting them is O(entries) at most. Export writes the context messages
 * (through the message core), their counts and flags, the running summary,
 * the last compression record, the statistics and the calibration; import
 * checks the whole document before it replaces anything, and counts the
 * messages again with this manager's counter.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/json_glue.h"
#include "core/jscan.h"
#include "memory_int.h"
#include "window_int.h"

/* ---- Statistics ---- */

static void am_memory_stats_get_locked(const am_memory *m, am_memory_stats *s)
{
    memset(s, 0, sizeof *s);
    if (m == NULL)
        return;
    s->current_tokens = am__memory_effective(m, m->context_tokens);
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
    s->compression_cost_usd = m->compress_usd;
    s->total_cost = m->cost + m->compress_usd;
    s->net_cost = am_model_cost(&m->model, (int64_t)s->tokens_saved, 0, 0) -
                  m->compress_usd;
    s->cost_estimated = !m->model.known;
}

/* The model a cost estimate fell back from, for the JSON and the text. */
static const char *model_name(const am_memory *m)
{
    return m->o.config.model[0] != '\0' ? m->o.config.model : "estimate";
}

void am_memory_stats_get(const am_memory *m, am_memory_stats *s)
{
    AM__MEMORY_LOCKED_VOID(m, am_memory_stats_get_locked(m, s));
}

static am_status am_memory_stats_json_locked(const am_memory *m, am_buf *out)
{
    am_memory_stats s;
    am_status st;
    if (m == NULL || out == NULL)
        return AM_EINVAL;
    am_memory_stats_get(m, &s);
    am_buf_clear(out);
    st = am_buf_appendf(
        out,
        "{\"current_tokens\":%zu,\"total_tokens\":%zu,\"messages\":%zu,"
        "\"messages_added\":%zu,\"compression_count\":%zu,"
        "\"tokens_saved\":%zu,\"compression_cost\":%zu,"
        "\"net_savings\":%lld,\"savings_percentage\":%.2f,"
        "\"tool_results_cleared\":%zu,\"tool_tokens_cleared\":%zu,"
        "\"calibration\":%.4f,\"input_tokens_reported\":%lld,"
        "\"output_tokens_reported\":%lld,\"total_cost\":%.6f,"
        "\"compression_cost_usd\":%.6f,\"net_cost\":%.6f,"
        "\"cost_estimated\":%s,\"priced_as\":\"%s\","
        "\"strategy\":\"%s\",\"model\":",
        s.current_tokens, s.total_tokens, s.messages, s.messages_added,
        s.compressions, s.tokens_saved, s.compression_cost,
        (long long)s.net_savings, s.savings_percentage,
        s.tool_results_cleared, s.tool_tokens_cleared, s.calibration,
        (long long)s.input_tokens_reported,
        (long long)s.output_tokens_reported, s.total_cost,
        s.compression_cost_usd, s.net_cost,
        s.cost_estimated ? "true" : "false",
        s.cost_estimated ? "default" : "catalog",
        am_compress_strategy_name(m->o.config.strategy));
    /* The model name is the caller's text: escaped by jansson. */
    json_t *name = st == AM_OK ? json_string(model_name(m)) : NULL;
    if (st == AM_OK && name == NULL)
        st = am__utf8_valid(model_name(m), strlen(model_name(m)), NULL)
                 ? AM_ENOMEM
                 : AM_EFORMAT; /* config.model is not UTF-8 */
    if (st == AM_OK)
        st = am__json_dump_append(name, JSON_ENCODE_ANY, out, NULL);
    json_decref(name);
    if (st == AM_OK)
        st = am_buf_append(out, "}", 1);
    if (st != AM_OK)
        am_buf_clear(out);
    return st;
}

am_status am_memory_stats_json(const am_memory *m, am_buf *out)
{
    AM__MEMORY_LOCKED(am_status, m, am_memory_stats_json_locked(m, out));
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

static am_status am_memory_stats_text_locked(const am_memory *m, am_buf *out)
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
                          "Total cost: $%.4f%s%s%s\n",
                          total, s.compressions, net, s.savings_percentage,
                          s.total_cost,
                          s.cost_estimated ? " (estimated: model '" : "",
                          s.cost_estimated ? model_name(m) : "",
                          s.cost_estimated
                              ? "' is not in the catalog; priced at the "
                                "default $0.55/$2.19 per million tokens)"
                              : "");
}

am_status am_memory_stats_text(const am_memory *m, am_buf *out)
{
    AM__MEMORY_LOCKED(am_status, m, am_memory_stats_text_locked(m, out));
}

/* ---- Persistence ----
 *
 * One JSON engine per direction, and no round trip through another:
 * export writes the document with am_buf (each message by the message
 * core's own writer, am_msg_to_json), import walks it with the core's
 * scanner (jdom) and hands the "messages" value's own text to the message
 * core's reader. (This file used to build a jansson tree around messages
 * it had written, parsed back with jansson, and on import dump jansson's
 * tree of them to text for the message reader.)
 */

/* `v` as JSON: "%.17g" reads back as the same double, and a ".0" keeps an
 * integral value a real (as jansson wrote it). A value that is not finite
 * has no JSON form: AM_EINVAL. */
static am_status put_real(am_buf *out, const char *key, double v)
{
    char num[40];
    if (!isfinite(v))
        return AM_EINVAL;
    snprintf(num, sizeof num, "%.17g", v);
    return am_buf_appendf(out, "\"%s\":%s%s", key, num,
                          strpbrk(num, ".e") == NULL ? ".0" : "");
}

static am_status am_memory_export_locked(const am_memory *m, am_buf *out)
{
    am_buf doc = AM_BUF_INIT, one = AM_BUF_INIT;
    am_status st;

    if (m == NULL || out == NULL)
        return AM_EINVAL;
    /* Written aside and swapped in: on failure `out` is untouched. */
    doc.alloc = one.alloc = m->o.alloc;
    st = am_buf_append(&doc, "{\"version\":1,\"summary\":", 23);
    if (st == AM_OK)
        st = am__json_put_str(&doc, am_buf_str(&m->summary));
    if (st == AM_OK)
        st = am_buf_append(&doc, ",\"messages\":[", 13);
    for (size_t i = 0; st == AM_OK && i < m->n; i++) {
        st = am_msg_to_json(m->e[i].msg, &one, NULL);
        if (st == AM_OK && i > 0)
            st = am_buf_append(&doc, ",", 1);
        if (st == AM_OK)
            st = am_buf_append(&doc, one.ptr, one.len);
    }
    if (st == AM_OK)
        st = am_buf_append(&doc, "],\"entries\":[", 13);
    for (size_t i = 0; st == AM_OK && i < m->n; i++)
        st = am_buf_appendf(&doc, "%s{\"tokens\":%zu,\"cleared\":%s,"
                            "\"orphan\":%s}", i > 0 ? "," : "",
                            m->e[i].tokens, m->e[i].cleared ? "true" : "false",
                            m->e[i].orphan ? "true" : "false");
    if (st == AM_OK && m->have_record)
        st = am_buf_appendf(
            &doc, "],\"last_compression\":{\"original_tokens\":%zu,"
            "\"compressed_tokens\":%zu,\"message_count\":%zu,"
            "\"strategy\":\"%s\"}", m->rec.original_tokens,
            m->rec.compressed_tokens, m->rec.original_message_count,
            am_compress_strategy_name(m->rec.strategy));
    else if (st == AM_OK)
        st = am_buf_append(&doc, "],\"last_compression\":null", 25);
    if (st == AM_OK)
        st = am_buf_appendf(
            &doc, ",\"stats\":{\"total_tokens\":%zu,\"added\":%zu,"
            "\"compressions\":%zu,\"saved\":%zu,\"cost_tokens\":%zu,"
            "\"tool_cleared\":%zu,\"tool_tokens_cleared\":%zu,"
            "\"input_reported\":%lld,\"output_reported\":%lld,",
            m->total_tokens, m->added, m->compressions, m->saved,
            m->cost_tokens, m->tool_cleared, m->tool_tokens_cleared,
            (long long)m->in_reported, (long long)m->out_reported);
    if (st == AM_OK)
        st = put_real(&doc, "cost", m->cost);
    if (st == AM_OK)
        st = am_buf_append(&doc, ",", 1);
    if (st == AM_OK)
        st = put_real(&doc, "compress_usd", m->compress_usd);
    if (st == AM_OK)
        st = am_buf_appendf(
            &doc, ",\"calib_samples\":%zu,\"last_savings\":%lld},"
            "\"compressed_last\":%s,\"calibration_ppm\":%lld}",
            m->calib_samples, (long long)m->last_savings,
            m->compressed_last ? "true" : "false",
            (long long)(m->calib * 1e6 + 0.5));
    if (st == AM_OK) {
        am_buf t = *out;
        *out = doc;
        doc = t;
    }
    am_buf_free(&doc);
    am_buf_free(&one);
    return st;
}

am_status am_memory_export(const am_memory *m, am_buf *out)
{
    AM__MEMORY_LOCKED(am_status, m, am_memory_export_locked(m, out));
}

/* The value of number node `v` (NULL or another type: false). */
static bool num_of(const am__jnode *v, am__jnum *out)
{
    am__js js;
    if (v == NULL || v->type != AM__J_NUM)
        return false;
    am__js_init(&js, v->raw, "number", NULL, NULL);
    return am__js_number_value(&js, out) == AM_OK;
}

static bool is_int(const am__jnode *v, int64_t *out)
{
    am__jnum x;
    if (!num_of(v, &x) || !x.is_int)
        return false;
    *out = x.int_value;
    return true;
}

static bool is_bool(const am__jnode *v, bool *out)
{
    if (v == NULL || v->type != AM__J_BOOL)
        return false;
    *out = v->b;
    return true;
}

static am_status get_int(const am__jnode *obj, const char *key,
                         const char *ctx, int64_t *out, am_error *err)
{
    if (!is_int(am__jobj_get(obj, key), out) || *out < 0)
        return am__fail(err, AM_EFORMAT,
                        "memory import: %s.%s: expected a non-negative "
                        "integer", ctx, key);
    return AM_OK;
}

/* The parsed document, checked whole before anything changes. */
typedef struct doc_in {
    am_str summary;
    am_msg_list msgs;
    entry *e;              /* msgs.count entries, tokens counted again */
    int64_t x[11];         /* the stats keys below, then calibration_ppm */
    double cost, compress_usd;
    int64_t last_savings;
    bool compressed_last;
    bool have_record;
    int64_t r[3];          /* last_compression's counts */
    am_compress_strategy strategy;
} doc_in;

static const char *const stat_keys[] = {
    "total_tokens", "added", "compressions", "saved", "cost_tokens",
    "tool_cleared", "tool_tokens_cleared", "input_reported",
    "output_reported", "calib_samples"
};

/* Read the entries: as many as messages, each with its flags; the token
 * count is taken again with this manager's counter (the document may come
 * from a manager that counted for another model, or estimated). */
static am_status read_entries(am_memory *m, const am__jnode *entries,
                              doc_in *d)
{
    size_t n = d->msgs.count, i = 0;
    am_status st;

    if (entries->n != n)
        return am__fail(&AM__ERR(m), AM_EFORMAT,
                        "memory import: entries: %zu for %zu messages",
                        entries->n, n);
    d->e = am__calloc(m->o.alloc, n ? n : 1, sizeof *d->e);
    if (d->e == NULL)
        return AM_ENOMEM;
    for (const am__jnode *f = entries->first; f != NULL; f = f->next, i++) {
        char ctx[32];
        int64_t tok = 0;
        snprintf(ctx, sizeof ctx, "entries[%zu]", i);
        st = get_int(f, "tokens", ctx, &tok, &AM__ERR(m));
        if (st != AM_OK)
            return st;
        if (!is_bool(am__jobj_get(f, "cleared"), &d->e[i].cleared) ||
            !is_bool(am__jobj_get(f, "orphan"), &d->e[i].orphan))
            return am__fail(&AM__ERR(m), AM_EFORMAT,
                            "memory import: %s: cleared and orphan must be "
                            "booleans", ctx);
        st = am__count_msg_buf(&m->o.counter, d->msgs.items[i], &m->scratch,
                               &d->e[i].tokens, &AM__ERR(m));
        if (st != AM_OK)
            return st;
    }
    return AM_OK;
}

/* Read the statistics, the calibration and the last compression record. */
static am_status read_stats(am_memory *m, const am__jnode *root,
                            const am__jnode *stats, const am__jnode *rec,
                            doc_in *d)
{
    am__jnum cost = { 0 }, usd = { 0 };
    const am__jnode *uv = am__jobj_get(stats, "compress_usd");
    am_status st;

    for (size_t k = 0; k < sizeof stat_keys / sizeof stat_keys[0]; k++) {
        st = get_int(stats, stat_keys[k], "stats", &d->x[k], &AM__ERR(m));
        if (st != AM_OK)
            return st;
    }
    st = get_int(root, "calibration_ppm", "document", &d->x[10], &AM__ERR(m));
    if (st != AM_OK)
        return st;
    if (!num_of(am__jobj_get(stats, "cost"), &cost) ||
        !is_int(am__jobj_get(stats, "last_savings"), &d->last_savings) ||
        !is_bool(am__jobj_get(root, "compressed_last"), &d->compressed_last) ||
        d->x[10] == 0)
        return am__fail(&AM__ERR(m), AM_EFORMAT,
                        "memory import: stats: bad cost, last_savings, "
                        "compressed_last or calibration");
    d->cost = cost.value;
    /* Absent in documents written before compression was priced. */
    d->compress_usd = num_of(uv, &usd) ? usd.value : 0;
    d->have_record = rec->type != AM__J_NULL;
    if (d->have_record) {
        const am__jnode *sn = am__jobj_get(rec, "strategy");
        am_memory_config c;
        memset(&c, 0, sizeof c);
        if ((st = get_int(rec, "original_tokens", "last_compression",
                          &d->r[0], &AM__ERR(m))) ||
            (st = get_int(rec, "compressed_tokens", "last_compression",
                          &d->r[1], &AM__ERR(m))) ||
            (st = get_int(rec, "message_count", "last_compression", &d->r[2],
                          &AM__ERR(m))))
            return st;
        if (sn == NULL || sn->type != AM__J_STR ||
            am_memory_config_set(&c, AM_STR("MEMORY_COMPRESSION_STRATEGY"),
                                 sn->str, NULL, NULL) != AM_OK)
            return am__fail(&AM__ERR(m), AM_EFORMAT,
                            "memory import: last_compression.strategy");
        d->strategy = c.strategy;
    }
    return AM_OK;
}

/* Parse and check `json` into `d`, changing nothing in `m` but its error
 * slot and scratch buffer. Node strings point into `json` or `tmp`. */
static am_status read_doc(am_memory *m, am_str json, am__arena *tmp,
                          doc_in *d)
{
    am__jnode *root = NULL;
    const am__jnode *v, *msgs, *entries, *stats, *rec;
    int64_t version = 0;
    am__js js;
    am_msg_opts mo = am_msg_opts_default();
    am_status st;

    am__js_init(&js, json, "memory import", tmp, &AM__ERR(m));
    if ((st = am__jdom_parse(&js, &root)) != AM_OK ||
        (st = am__js_end(&js)) != AM_OK)
        return st;
    if (root->type != AM__J_OBJ ||
        !is_int(am__jobj_get(root, "version"), &version) || version != 1)
        return am__fail(&AM__ERR(m), AM_EFORMAT,
                        "memory import: expected an object with version 1");
    v = am__jobj_get(root, "summary");
    msgs = am__jobj_get(root, "messages");
    entries = am__jobj_get(root, "entries");
    stats = am__jobj_get(root, "stats");
    rec = am__jobj_get(root, "last_compression");
    if (v == NULL || v->type != AM__J_STR || msgs == NULL ||
        msgs->type != AM__J_ARR || entries == NULL ||
        entries->type != AM__J_ARR || stats == NULL ||
        stats->type != AM__J_OBJ || rec == NULL)
        return am__fail(&AM__ERR(m), AM_EFORMAT,
                        "memory import: summary, messages, entries, stats "
                        "and last_compression are required");
    d->summary = v->str;
    /* The messages' own text, through the message core's reader, with
     * the manager's allocator: the messages stay in the manager. */
    mo.alloc = m->o.alloc;
    st = am_msgs_from_json(&mo, AM_FORMAT_AGENTMEM, msgs->raw, &d->msgs,
                           &AM__ERR(m));
    if (st != AM_OK)
        return st == AM_ENOMEM ? st
                               : am__fail(&AM__ERR(m), AM_EFORMAT,
                                          "memory import: messages: %s",
                                          AM__ERR(m).msg);
    st = read_entries(m, entries, d);
    if (st == AM_OK)
        st = read_stats(m, root, stats, rec, d);
    return st;
}

static am_status am_memory_import_locked(am_memory *m, am_str json)
{
    doc_in d;
    am__arena tmp;
    am_buf summary = AM_BUF_INIT;
    am_msg *summary_msg = NULL;
    size_t summary_tokens = 0, n = 0;
    am_status st;

    if (m == NULL)
        return AM_EINVAL;
    memset(&d, 0, sizeof d);
    d.msgs.alloc = m->o.alloc;
    summary.alloc = m->o.alloc;
    am__arena_init(&tmp, m->o.alloc, 16384);
    st = read_doc(m, json, &tmp, &d);
    n = d.msgs.count;
    if (st != AM_OK)
        goto out;
    if (am_buf_append(&summary, d.summary.ptr, d.summary.len) != AM_OK)
        goto nomem;
    if (summary.len > 0) {
        st = am__summary_msg(m->o.alloc, am_buf_str(&summary), &summary_msg,
                             &AM__ERR(m));
        if (st == AM_OK)
            st = am__count_msg_buf(&m->o.counter, summary_msg, &m->scratch,
                                   &summary_tokens, &AM__ERR(m));
        if (st != AM_OK)
            goto out;
    }
    {
        /* Room for the call ids before anything changes. */
        size_t calls = 0, cap = 16;
        am_str *ids;
        for (size_t i = 0; i < n; i++)
            calls += am__memory_call_count(d.msgs.items[i]);
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
        m->e = d.e;
        m->cap = n ? n : 1;
        m->n = n;
        d.e = NULL;
        m->context_tokens = 0;
        for (size_t i = 0; i < n; i++) {
            m->e[i].msg = am_msg_ref(d.msgs.items[i]);
            if (!m->e[i].orphan)
                m->context_tokens += m->e[i].tokens;
        }
        am__memory_ids_rebuild(m);
        am_buf_free(&m->summary);
        m->summary = summary;
        summary.ptr = NULL; /* moved into m->summary */
        summary.len = summary.cap = 0;
        m->summary_tokens = 0;
        am_msg_free(m->summary_msg);
        m->summary_msg = NULL;
        if (summary_msg != NULL)
            am__memory_set_summary_msg(m, summary_msg, summary_tokens);
        summary_msg = NULL;
        m->total_tokens = (size_t)d.x[0];
        m->added = (size_t)d.x[1];
        m->compressions = (size_t)d.x[2];
        m->saved = (size_t)d.x[3];
        m->cost_tokens = (size_t)d.x[4];
        m->tool_cleared = (size_t)d.x[5];
        m->tool_tokens_cleared = (size_t)d.x[6];
        m->in_reported = d.x[7];
        m->out_reported = d.x[8];
        m->calib_samples = (size_t)d.x[9];
        m->calib = (double)d.x[10] / 1e6;
        m->cost = d.cost;
        m->compress_usd = d.compress_usd;
        m->last_savings = d.last_savings;
        m->compressed_last = d.compressed_last;
        m->have_record = d.have_record;
        if (m->have_record) {
            m->rec.original_tokens = (size_t)d.r[0];
            m->rec.compressed_tokens = (size_t)d.r[1];
            m->rec.original_message_count = (size_t)d.r[2];
            m->rec.strategy = d.strategy;
            m->rec.compression_ratio =
                m->rec.original_tokens > 0
                    ? (double)m->rec.compressed_tokens /
                          (double)m->rec.original_tokens
                    : 0.0;
        }
    }
    goto out;
nomem:
    st = AM_ENOMEM;
out:
    if (st == AM_ENOMEM)
        am__fail(&AM__ERR(m), AM_ENOMEM, "memory import: out of memory");
    am__free(m->o.alloc, d.e, (n ? n : 1) * sizeof *d.e);
    am_msg_free(summary_msg);
    am_buf_free(&summary);
    am_msg_list_free(&d.msgs);
    am__arena_free(&tmp);
    return st;
}

am_status am_memory_import(am_memory *m, am_str json)
{
    AM__MEMORY_LOCKED(am_status, m, am_memory_import_locked(m, json));
}
