/* store_io.c -- export and import of a store as JSON Lines.
 *
 * One item per line, {"namespace": [...], "key", "value", "meta",
 * "created_ms", "updated_ms", "expires_ms"?}, the same object a result
 * list gives (am_results_to_json), so an export is something a person can
 * read, grep and edit, and import takes it back.
 *
 * Import is all or nothing. Every line is parsed and checked, type by
 * type, before anything is written, and then every item goes to the
 * backend in one write transaction (am__store_write), so a bad line
 * 1,201 of 1,500 imports nothing and says which line and field is wrong
 * (it once left 1,000 items committed without a word, and a field of the
 * wrong type was read as absent: "ttl_ms":"100" imported with no expiry).
 * Both run in the front end over the backend seam, so they behave the
 * same on SQLite and PostgreSQL.
 */
#include <stdlib.h>
#include <string.h>

#include "core/json_glue.h"
#include "store_int.h"

/* ---- Import: checking one line ---- */

/* The name of a JSON value's type, for error messages. */
static const char *type_name(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "an array";
    case JSON_STRING: return "a string";
    case JSON_INTEGER: return "an integer";
    case JSON_REAL: return "a number with a fraction or exponent";
    case JSON_TRUE:
    case JSON_FALSE: return "a boolean";
    default: return "null";
    }
}

/* The fields a line may have. created_ms and updated_ms are what export
 * writes; they are checked and otherwise ignored (the import is a new
 * write, timed by the store's clock). Anything else is refused rather
 * than dropped, so that a misspelt "ttl" is not an item that never
 * expires. */
static const char *const known_fields[] = {
    "namespace", "key", "value", "meta", "text", "ttl_ms", "expires_ms",
    "created_ms", "updated_ms",
};

/* Check the fields of line `line` (parsed into `d`) and fill `it`, with
 * every string copied into `ar` (the jansson tree is freed at once).
 * `*skip` is set for an item whose absolute expiry is already past.
 * Errors: AM_EFORMAT "line N: <field> ..." or AM_ENOMEM. */
static am_status line_item(json_t *d, size_t line, int64_t now,
                           am__arena *ar, am_item_in *it, int *skip,
                           am_error *err)
{
    json_t *nsv, *key, *val, *meta, *text, *ttl, *exp, *part;
    const char *k;
    json_t *v;
    size_t i;

    *skip = 0;
    if (!json_is_object(d))
        return am__fail(err, AM_EFORMAT, "line %zu: must be a JSON object "
                        "(one item per line), not %s", line, type_name(d));
    json_object_foreach(d, k, v) {
        size_t f = 0, nf = sizeof known_fields / sizeof known_fields[0];
        while (f < nf && strcmp(k, known_fields[f]) != 0)
            f++;
        if (f == nf)
            return am__fail(err, AM_EFORMAT, "line %zu: unknown field "
                            "\"%.60s\" (an item has namespace, key, value, "
                            "meta, text, ttl_ms or expires_ms)", line, k);
    }
    nsv = json_object_get(d, "namespace");
    key = json_object_get(d, "key");
    val = json_object_get(d, "value");
    meta = json_object_get(d, "meta");
    text = json_object_get(d, "text");
    ttl = json_object_get(d, "ttl_ms");
    exp = json_object_get(d, "expires_ms");

    if (nsv == NULL)
        return am__fail(err, AM_EFORMAT, "line %zu: \"namespace\" is "
                        "missing", line);
    if (!json_is_array(nsv))
        return am__fail(err, AM_EFORMAT, "line %zu: \"namespace\" must be "
                        "an array of strings, not %s", line, type_name(nsv));
    if (json_array_size(nsv) == 0 ||
        json_array_size(nsv) > AM_STORE_MAX_NS_PARTS)
        return am__fail(err, AM_EFORMAT, "line %zu: \"namespace\" must "
                        "have 1 to %d parts, not %zu", line,
                        AM_STORE_MAX_NS_PARTS, json_array_size(nsv));
    json_array_foreach(nsv, i, part) {
        if (!json_is_string(part))
            return am__fail(err, AM_EFORMAT, "line %zu: \"namespace\" part "
                            "%zu must be a string, not %s", line, i + 1,
                            type_name(part));
        if (json_string_length(part) == 0)
            return am__fail(err, AM_EFORMAT, "line %zu: \"namespace\" part "
                            "%zu is empty", line, i + 1);
        if (json_string_length(part) > AM_STORE_MAX_PART_LEN)
            return am__fail(err, AM_EFORMAT, "line %zu: \"namespace\" part "
                            "%zu is %zu bytes (at most %d)", line, i + 1,
                            json_string_length(part),
                            AM_STORE_MAX_PART_LEN);
    }
    if (key == NULL)
        return am__fail(err, AM_EFORMAT, "line %zu: \"key\" is missing",
                        line);
    if (!json_is_string(key))
        return am__fail(err, AM_EFORMAT, "line %zu: \"key\" must be a "
                        "string, not %s", line, type_name(key));
    if (json_string_length(key) == 0)
        return am__fail(err, AM_EFORMAT, "line %zu: \"key\" is empty",
                        line);
    if (val == NULL)
        return am__fail(err, AM_EFORMAT, "line %zu: \"value\" is missing",
                        line);
    if (meta != NULL && !json_is_object(meta) && !json_is_null(meta))
        return am__fail(err, AM_EFORMAT, "line %zu: \"meta\" must be an "
                        "object, not %s", line, type_name(meta));
    if (text != NULL && !json_is_string(text))
        return am__fail(err, AM_EFORMAT, "line %zu: \"text\" must be a "
                        "string, not %s", line, type_name(text));
    if (ttl != NULL && exp != NULL)
        return am__fail(err, AM_EFORMAT, "line %zu: give \"ttl_ms\" or "
                        "\"expires_ms\", not both", line);
    if (ttl != NULL && !json_is_integer(ttl))
        return am__fail(err, AM_EFORMAT, "line %zu: \"ttl_ms\" must be a "
                        "non-negative integer (milliseconds), not %s", line,
                        type_name(ttl));
    if (ttl != NULL && json_integer_value(ttl) < 0)
        return am__fail(err, AM_EFORMAT, "line %zu: \"ttl_ms\" must be a "
                        "non-negative integer (milliseconds), not %lld",
                        line, (long long)json_integer_value(ttl));
    if (exp != NULL && !json_is_integer(exp))
        return am__fail(err, AM_EFORMAT, "line %zu: \"expires_ms\" must be "
                        "an integer (milliseconds since 1970), not %s", line,
                        type_name(exp));
    static const char *const times[] = { "created_ms", "updated_ms" };
    for (i = 0; i < 2; i++) {
        json_t *t = json_object_get(d, times[i]);
        if (t != NULL && !json_is_integer(t))
            return am__fail(err, AM_EFORMAT, "line %zu: \"%s\" must be an "
                            "integer (milliseconds since 1970), not %s",
                            line, times[i], type_name(t));
    }

    memset(it, 0, sizeof *it);
    if (exp != NULL) {
        /* Export writes the absolute expiry: keep it absolute
         * (saturating: a far past or future never wraps). */
        it->ttl_ms = am__sub_sat(json_integer_value(exp), now);
        if (it->ttl_ms <= 0) {
            *skip = 1;
            return AM_OK;
        }
    } else if (ttl != NULL) {
        it->ttl_ms = json_integer_value(ttl);
    }

    /* Copy what the item borrows into the arena. */
    am_str *parts = am__arena_alloc(ar, json_array_size(nsv) * sizeof *parts);
    am_status st = parts != NULL ? AM_OK : AM_ENOMEM;
    if (st == AM_OK)
        st = am__json_dump_arena(ar, val, JSON_COMPACT | JSON_ENCODE_ANY,
                                 &it->value, NULL);
    if (st == AM_OK && json_is_object(meta))
        st = am__json_dump_arena(ar, meta, JSON_COMPACT, &it->meta, NULL);
    json_array_foreach(nsv, i, part) {
        if (st != AM_OK)
            break;
        parts[i].len = json_string_length(part);
        parts[i].ptr = am__arena_strndup(ar, json_string_value(part),
                                         parts[i].len);
        if (parts[i].ptr == NULL)
            st = AM_ENOMEM;
    }
    if (st == AM_OK) {
        it->ns = (am_ns){ parts, json_array_size(nsv) };
        it->key.len = json_string_length(key);
        it->key.ptr = am__arena_strndup(ar, json_string_value(key),
                                        it->key.len);
        if (text != NULL) {
            it->text.len = json_string_length(text);
            it->text.ptr = am__arena_strndup(ar, json_string_value(text),
                                             it->text.len);
        }
        if (it->key.ptr == NULL || (text != NULL && it->text.ptr == NULL))
            st = AM_ENOMEM;
    }
    if (st != AM_OK)
        return am__fail(err, AM_ENOMEM, "line %zu: out of memory", line);
    return AM_OK;
}

/* ---- Import ---- */

/* A write error names "item N" (its index in the batch); say "line L"
 * instead, which is what the person holding the file can find. */
static void name_line(am_error *e, const size_t *lines, size_t count)
{
    char rest[sizeof e->msg];
    char *end;
    unsigned long long idx;

    if (strncmp(e->msg, "item ", 5) != 0)
        return;
    idx = strtoull(e->msg + 5, &end, 10);
    if (end == e->msg + 5 || *end != ':' || idx >= count)
        return;
    snprintf(rest, sizeof rest, "%s", end);
    snprintf(e->msg, sizeof e->msg, "line %zu%.200s", lines[idx], rest);
}

am_status am_store_import(am_store *s, am_str jsonl,
                          am_store_progress progress, void *ctx,
                          size_t *imported, size_t *expired)
{
    am_status st = AM_OK;
    am_error err = { AM_OK, "" };
    am__arena ar;
    am_item_in *items = NULL;
    size_t *lines = NULL;
    size_t n = 0, cap = 0, lcap = 0, line = 0, gone = 0;
    const char *p, *end;
    int64_t now;

    if (imported != NULL)
        *imported = 0;
    if (expired != NULL)
        *expired = 0;
    if (s == NULL)
        return AM_EINVAL;
    if (jsonl.ptr == NULL && jsonl.len > 0)
        return am__fail(&AM__ERR(s), AM_EINVAL, "import: NULL text");
    am__arena_init(&ar, s->alloc, 0);
    now = am_clock_now(s->clock);
    p = jsonl.ptr != NULL ? jsonl.ptr : "";
    end = p + jsonl.len;
    while (st == AM_OK && p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *ls = p, *le = nl != NULL ? nl : end;
        json_t *d = NULL;
        int skip = 0;
        char what[32];

        line++;
        p = nl != NULL ? nl + 1 : end;
        if (line == 1 && le - ls >= 3 && memcmp(ls, "\xEF\xBB\xBF", 3) == 0)
            ls += 3; /* a byte order mark some editors write */
        while (ls < le && (*ls == ' ' || *ls == '\t' || *ls == '\r'))
            ls++;
        while (le > ls && (le[-1] == ' ' || le[-1] == '\t' || le[-1] == '\r'))
            le--;
        if (ls == le)
            continue; /* blank lines are allowed anywhere */
        snprintf(what, sizeof what, "line %zu", line);
        st = am__json_parse((am_str){ ls, (size_t)(le - ls) }, what, &d,
                            &err);
        if (st != AM_OK)
            break;
        if (am__grow(s->alloc, (void **)&items, &cap, n + 1,
                     sizeof *items) != AM_OK ||
            am__grow(s->alloc, (void **)&lines, &lcap, n + 1,
                     sizeof *lines) != AM_OK) {
            json_decref(d);
            st = am__fail(&err, AM_ENOMEM, "line %zu: out of memory", line);
            break;
        }
        st = line_item(d, line, now, &ar, &items[n], &skip, &err);
        json_decref(d);
        if (st == AM_OK && skip)
            gone++;
        else if (st == AM_OK)
            lines[n++] = line;
    }
    if (st == AM_OK && n > 0) {
        am__write w;
        memset(&w, 0, sizeof w);
        w.puts = items;
        w.nput = n;
        w.progress = progress;
        w.progress_ctx = ctx;
        st = am__store_write(s, &w);
        if (st != AM_OK)
            am__error_copy(&err, &AM__ERR(s));
    }
    if (st != AM_OK) {
        name_line(&err, lines, n);
        am__fail(&AM__ERR(s), st, "import: %s; nothing was imported",
                 err.msg);
    } else {
        if (imported != NULL)
            *imported = n;
        if (expired != NULL)
            *expired = gone;
    }
    am__free(s->alloc, items, cap * sizeof *items);
    am__free(s->alloc, lines, lcap * sizeof *lines);
    am__arena_free(&ar);
    return st;
}

/* ---- Re-embedding ---- */

am_status am_store_reembed(am_store *s, am_store_progress progress,
                           void *ctx, size_t *count)
{
    am_status st;

    if (count != NULL)
        *count = 0;
    if (s == NULL)
        return AM_EINVAL;
    if (s->embedder == NULL)
        return am__fail(&AM__ERR(s), AM_EINVAL, "reembed: the store has no "
                        "embedder to re-embed with (open it with one)");
    if (s->be->reembed == NULL)
        return am__fail(&AM__ERR(s), AM_EUNSUPPORTED, "reembed: the %s "
                        "backend cannot re-embed yet", s->be->name);
    STORE_LOCK(s);
    st = s->be->reembed(s, am_clock_now(s->clock), progress, ctx, count);
    STORE_UNLOCK(s);
    return st;
}

/* ---- Export ---- */

am_status am_store_export(am_store *s, am_ns ns, am_store_sink sink,
                          void *ctx, size_t *exported)
{
    enum { PAGE = 1000 };
    am_status st = AM_OK;
    am_buf line = AM_BUF_INIT;
    am_error err = { AM_OK, "" };
    size_t off = 0, total = 0;

    if (exported != NULL)
        *exported = 0;
    if (s == NULL)
        return AM_EINVAL;
    if (sink == NULL)
        return am__fail(&AM__ERR(s), AM_EINVAL, "export: NULL sink");
    line.alloc = s->alloc;
    for (;;) {
        am_results *r = NULL;
        size_t count;
        st = am_store_list(s, ns, PAGE, off, &r);
        if (st != AM_OK)
            break;
        for (size_t i = 0; st == AM_OK && i < r->count; i++) {
            am_results one = { &r->items[i], 1, NULL };
            st = am_results_to_json(&one, false, &line, &err);
            if (st != AM_OK) {
                am__error_copy(&AM__ERR(s), &err);
                break;
            }
            /* "[{...}]" -> "{...}\n" */
            line.ptr[line.len - 1] = '\n';
            st = sink(ctx, (am_str){ line.ptr + 1, line.len - 1 });
            if (st != AM_OK)
                am__fail(&AM__ERR(s), st, "export: the output failed after "
                         "%zu items", total);
            else
                total++;
        }
        count = r->count;
        am_results_free(r);
        if (st != AM_OK || count < PAGE)
            break;
        off += count;
    }
    am_buf_free(&line);
    if (exported != NULL)
        *exported = total;
    return st;
}
