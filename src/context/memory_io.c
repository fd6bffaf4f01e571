/* memory_io.c -- statistics and persistence of the memory manager.
 *
 * The statistics are read from counters the manager keeps as it goes, so
 * reporting them is O(entries) at most. Export writes the context messages
 * (through the message core), their counts and flags, the running summary,
 * the last compression record, the statistics and the calibration; import
 * checks the whole document before it replaces anything, and counts the
 * messages again with this manager's counter.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/json_glue.h"
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
    if (m == NULL) {
        am_memory_stats_get_locked(m, s);
        return;
    }
    AM__MEMORY_LOCK(m);
    am_memory_stats_get_locked(m, s);
    AM__MEMORY_UNLOCK(m);
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
    am_status r;

    if (m == NULL)
        return am_memory_stats_json_locked(m, out);
    AM__MEMORY_LOCK(m);
    r = am_memory_stats_json_locked(m, out);
    AM__MEMORY_UNLOCK(m);
    return r;
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
    am_status r;

    if (m == NULL)
        return am_memory_stats_text_locked(m, out);
    AM__MEMORY_LOCK(m);
    r = am_memory_stats_text_locked(m, out);
    AM__MEMORY_UNLOCK(m);
    return r;
}

/* ---- Persistence ---- */

static am_status am_memory_export_locked(const am_memory *m, am_buf *out)
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
        "s:f,s:f,s:I,s:I},s:b,s:I}",
        "version", 1, "summary", m->summary.ptr != NULL ? m->summary.ptr : "",
        m->summary.len, "messages", arr, "entries", flags, "last_compression",
        rec, "stats", "total_tokens", (json_int_t)m->total_tokens, "added",
        (json_int_t)m->added, "compressions", (json_int_t)m->compressions,
        "saved", (json_int_t)m->saved, "cost_tokens",
        (json_int_t)m->cost_tokens, "tool_cleared",
        (json_int_t)m->tool_cleared, "tool_tokens_cleared",
        (json_int_t)m->tool_tokens_cleared, "input_reported",
        (json_int_t)m->in_reported, "output_reported",
        (json_int_t)m->out_reported, "cost", m->cost, "compress_usd",
        m->compress_usd, "calib_samples",
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

am_status am_memory_export(const am_memory *m, am_buf *out)
{
    am_status r;

    if (m == NULL)
        return am_memory_export_locked(m, out);
    AM__MEMORY_LOCK(m);
    r = am_memory_export_locked(m, out);
    AM__MEMORY_UNLOCK(m);
    return r;
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

static am_status am_memory_import_locked(am_memory *m, am_str json)
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
    st = am__json_parse(json, "memory import", &root, &AM__ERR(m));
    if (st != AM_OK)
        return st;
    if (!json_is_object(root) ||
        json_integer_value(json_object_get(root, "version")) != 1) {
        st = am__fail(&AM__ERR(m), AM_EFORMAT,
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
        st = am__fail(&AM__ERR(m), AM_EFORMAT,
                      "memory import: summary, messages, entries, stats "
                      "and last_compression are required");
        goto out;
    }
    /* Messages through the message core's own reader. Not json_dumps:
     * it writes through a callback into jansson's own buffer, and jansson
     * 2.14 ignores that callback's failure on some paths (object keys),
     * so running out of memory there gave a document with keys missing.
     * am__json_dump checks every append itself. */
    {
        am_buf t = AM_BUF_INIT;
        t.alloc = m->o.alloc;
        st = am__json_dump(json_object_get(root, "messages"), JSON_COMPACT,
                           &t, &AM__ERR(m));
        if (st == AM_OK)
            st = am_msgs_from_json(NULL, AM_FORMAT_AGENTMEM, am_buf_str(&t),
                                   &msgs, &AM__ERR(m));
        am_buf_free(&t);
    }
    if (st != AM_OK) {
        if (st != AM_ENOMEM)
            st = am__fail(&AM__ERR(m), AM_EFORMAT, "memory import: messages: %s",
                          AM__ERR(m).msg);
        goto out;
    }
    n = msgs.count;
    if (json_array_size(entries) != n) {
        st = am__fail(&AM__ERR(m), AM_EFORMAT,
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
        st = get_int(f, "tokens", ctx, &tok, &AM__ERR(m));
        if (st != AM_OK)
            goto out;
        if (!json_is_boolean(json_object_get(f, "cleared")) ||
            !json_is_boolean(json_object_get(f, "orphan"))) {
            st = am__fail(&AM__ERR(m), AM_EFORMAT,
                          "memory import: %s: cleared and orphan must be "
                          "booleans", ctx);
            goto out;
        }
        /* Counted again with this manager's counter: the document may
         * come from a manager that counted for another model (or
         * estimated); with the same counter the number is the same. */
        (void)tok;
        st = am__count_msg_buf(&m->o.counter, msgs.items[i], &m->scratch,
                               &e[i].tokens, &AM__ERR(m));
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
            st = get_int(stats, keys[k], "stats", &x[k], &AM__ERR(m));
            if (st != AM_OK)
                goto out;
        }
        st = get_int(root, "calibration_ppm", "document", &x[10], &AM__ERR(m));
        if (st != AM_OK)
            goto out;
        if (!json_is_number(json_object_get(stats, "cost")) ||
            !json_is_integer(json_object_get(stats, "last_savings")) ||
            !json_is_boolean(json_object_get(root, "compressed_last")) ||
            x[10] == 0) {
            st = am__fail(&AM__ERR(m), AM_EFORMAT,
                          "memory import: stats: bad cost, last_savings, "
                          "compressed_last or calibration");
            goto out;
        }
    }
    if (!json_is_null(rec)) {
        int64_t r[3];
        const char *sn;
        if ((st = get_int(rec, "original_tokens", "last_compression", &r[0],
                          &AM__ERR(m))) ||
            (st = get_int(rec, "compressed_tokens", "last_compression",
                          &r[1], &AM__ERR(m))) ||
            (st = get_int(rec, "message_count", "last_compression", &r[2],
                          &AM__ERR(m))))
            goto out;
        sn = json_string_value(json_object_get(rec, "strategy"));
        if (sn == NULL ||
            am_memory_config_set(&(am_memory_config){ 0 },
                                 AM_STR("MEMORY_COMPRESSION_STRATEGY"),
                                 am_str_c(sn), NULL, NULL) != AM_OK) {
            st = am__fail(&AM__ERR(m), AM_EFORMAT,
                          "memory import: last_compression.strategy");
            goto out;
        }
    }
    if (am_buf_append(&summary, json_string_value(v),
                      json_string_length(v)) != AM_OK)
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
            calls += am__memory_call_count(msgs.items[i]);
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
        am__memory_ids_rebuild(m);
        am_buf_free(&m->summary);
        m->summary = summary;
        summary = (am_buf)AM_BUF_INIT;
        m->summary_tokens = 0;
        am_msg_free(m->summary_msg);
        m->summary_msg = NULL;
        if (summary_msg != NULL)
            am__memory_set_summary_msg(m, summary_msg, summary_tokens);
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
        /* Absent in documents written before compression was priced. */
        m->compress_usd =
            json_number_value(json_object_get(stats, "compress_usd"));
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
    st = am__fail(&AM__ERR(m), AM_ENOMEM, "memory import: out of memory");
out:
    am__free(m->o.alloc, e, (n ? n : 1) * sizeof *e);
    am_msg_free(summary_msg);
    am_buf_free(&summary);
    am_msg_list_free(&msgs);
    json_decref(root);
    return st;
}

am_status am_memory_import(am_memory *m, am_str json)
{
    am_status r;

    if (m == NULL)
        return am_memory_import_locked(m, json);
    AM__MEMORY_LOCK(m);
    r = am_memory_import_locked(m, json);
    AM__MEMORY_UNLOCK(m);
    return r;
}
