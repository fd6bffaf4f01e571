/* models.c -- the model catalog: names to tokenizer, limits and prices.
 *
 * The catalog is data: src/tokens/models.json, compiled into the library
 * as a byte array by cmake/tokens.cmake, plus any files the user loads in
 * the same format. Lookup is an exact name first, then the longest entry
 * marked "prefix" that the name starts with, so dated snapshots
 * ("gpt-4o-2024-08-06") find their family. A later entry of the same name
 * replaces an earlier one, which is how user files override built-ins.
 *
 * The built-in catalog used when a caller passes NULL is parsed once, on
 * first use, under pthread_once; it is immutable afterwards.
 */
#include <pthread.h>
#include <string.h>

#include "core/core.h"
#include "core/errtab.h"
#include "core/json_glue.h"
#include "tokens/tokens_int.h"

#include "am_models_json.h"

typedef struct entry {
    am_model_info info;
    bool prefix;
} entry;

struct am_models {
    const am_allocator *alloc;
    am__arena arena;     /* strings */
    entry *entries;
    size_t count;
    size_t cap;
    am_model_info defaults;
    am_error err;
};

static const am_model_info fallback_defaults = {
    "default", "unknown", NULL, 4.0, 8192, 4096, 0.55, 2.19, 0, false,
    NULL, NULL, NULL, NULL
};

/* A check date is "YYYY-MM-DD", so that dates sort and compare as text. */
static bool is_date(const char *s)
{
    static const char shape[] = "dddd-dd-dd";
    for (size_t i = 0; i < sizeof shape - 1; i++) {
        if (s[i] == '\0')
            return false;
        if (shape[i] == 'd' ? (s[i] < '0' || s[i] > '9') : s[i] != '-')
            return false;
    }
    return s[sizeof shape - 1] == '\0' && !(s[5] == '0' && s[6] == '0') &&
           (s[5] < '1' || (s[5] == '1' && s[6] <= '2')) &&
           !(s[8] == '0' && s[9] == '0') && s[8] <= '3';
}

/* Parse the fields of one entry (or of "defaults") from `obj`. */
static am_status parse_info(am_models *m, const json_t *obj, const char *ctx,
                            am_model_info *info, bool *prefix, am_error *err)
{
    am_status st;
    am_str s = { NULL, 0 };
    int64_t iv;
    bool b;

    if (!json_is_object(obj))
        return am__fail(err, AM_EFORMAT, "%s: expected an object", ctx);
#define STR_FIELD(key, dst)                                                 \
    s.ptr = NULL;                                                           \
    st = am__json_opt_str(obj, key, ctx, &s, err);                          \
    if (st != AM_OK)                                                        \
        return st;                                                          \
    if (s.ptr != NULL) {                                                    \
        (dst) = am__arena_strndup(&m->arena, s.ptr, s.len);                 \
        if ((dst) == NULL)                                                  \
            return am__fail(err, AM_ENOMEM, "out of memory");               \
    }
    STR_FIELD("name", info->name);
    STR_FIELD("provider", info->provider);
    STR_FIELD("encoding", info->encoding);
    STR_FIELD("price_source", info->price_source);
    STR_FIELD("price_checked", info->price_checked);
    STR_FIELD("limits_source", info->limits_source);
    STR_FIELD("limits_checked", info->limits_checked);
#undef STR_FIELD
    if (info->price_checked != NULL && !is_date(info->price_checked))
        return am__fail(err, AM_EFORMAT, "%s: field 'price_checked' must be "
                        "a date YYYY-MM-DD, got '%s'", ctx,
                        info->price_checked);
    if (info->limits_checked != NULL && !is_date(info->limits_checked))
        return am__fail(err, AM_EFORMAT, "%s: field 'limits_checked' must "
                        "be a date YYYY-MM-DD, got '%s'", ctx,
                        info->limits_checked);
    if ((info->price_checked != NULL && info->price_source == NULL) ||
        (info->limits_checked != NULL && info->limits_source == NULL))
        return am__fail(err, AM_EFORMAT, "%s: a check date needs its source "
                        "('%s_source')", ctx,
                        info->price_checked != NULL &&
                                info->price_source == NULL ? "price"
                                                           : "limits");
#define REAL_FIELD(key, dst)                                                \
    st = am__json_opt_real(obj, key, ctx, &(dst), err);                     \
    if (st != AM_OK)                                                        \
        return st;                                                          \
    if ((dst) < 0)                                                          \
        return am__fail(err, AM_EFORMAT, "%s: field '%s' is negative", ctx, \
                        key);
    REAL_FIELD("chars_per_token", info->chars_per_token);
    REAL_FIELD("input", info->input_per_mtok);
    REAL_FIELD("output", info->output_per_mtok);
    REAL_FIELD("cached_input", info->cached_input_per_mtok);
#undef REAL_FIELD
    iv = info->context_window;
    st = am__json_opt_int(obj, "context_window", ctx, &iv, err);
    if (st != AM_OK)
        return st;
    info->context_window = iv;
    iv = info->max_output;
    st = am__json_opt_int(obj, "max_output", ctx, &iv, err);
    if (st != AM_OK)
        return st;
    info->max_output = iv;
    if (info->context_window < 0 || info->max_output < 0)
        return am__fail(err, AM_EFORMAT, "%s: negative token limit", ctx);
    if (prefix != NULL) {
        b = false;
        st = am__json_opt_bool(obj, "prefix", ctx, &b, err);
        if (st != AM_OK)
            return st;
        *prefix = b;
    }
    if (info->encoding == NULL && !(info->chars_per_token > 0))
        return am__fail(err, AM_EFORMAT, "%s: needs 'encoding' or a "
                        "positive 'chars_per_token'", ctx);
    return AM_OK;
}

/* Parse catalog JSON `text` into `m`, appending entries. On failure the
 * entries added are dropped again (strings stay in the arena). */
static am_status parse_catalog(am_models *m, am_str text, const char *what,
                               am_error *err)
{
    am_status st;
    json_t *root = NULL, *arr, *v;
    size_t old = m->count, i;
    am_model_info defaults = m->defaults;
    char ctx[300];

    st = am__json_parse(text, what, &root, err);
    if (st != AM_OK)
        return st;
    if (!json_is_object(root)) {
        st = am__fail(err, AM_EFORMAT, "%s: expected a JSON object", what);
        goto out;
    }
    if ((v = json_object_get(root, "defaults")) != NULL) {
        snprintf(ctx, sizeof ctx, "%s: defaults", what);
        st = parse_info(m, v, ctx, &defaults, NULL, err);
        if (st != AM_OK)
            goto out;
    }
    arr = json_object_get(root, "models");
    if (!json_is_array(arr)) {
        st = am__fail(err, AM_EFORMAT, "%s: field 'models' must be an array",
                      what);
        goto out;
    }
    json_array_foreach(arr, i, v) {
        entry e;
        memset(&e, 0, sizeof e);
        e.info.chars_per_token = 0;
        snprintf(ctx, sizeof ctx, "%s: models[%zu]", what, i);
        st = parse_info(m, v, ctx, &e.info, &e.prefix, err);
        if (st == AM_OK && e.info.name == NULL)
            st = am__fail(err, AM_EFORMAT, "%s: missing field 'name'", ctx);
        if (st != AM_OK)
            goto out;
        if (e.info.provider == NULL)
            e.info.provider = defaults.provider;
        if (e.info.chars_per_token <= 0)
            e.info.chars_per_token = e.info.encoding != NULL ? 4.0 : 4.0;
        if (e.info.encoding != NULL) {
            const char *ok[] = { "cl100k_base", "o200k_base", "p50k_base",
                                 "r50k_base" };
            bool found = false;
            for (size_t k = 0; k < 4; k++)
                found |= strcmp(ok[k], e.info.encoding) == 0;
            if (!found) {
                st = am__fail(err, AM_EFORMAT, "%s: unknown encoding '%s'",
                              ctx, e.info.encoding);
                goto out;
            }
        }
        e.info.known = true;
        if (m->count == m->cap) {
            st = am__grow(m->alloc, (void **)&m->entries, &m->cap,
                          m->count + 1, sizeof *m->entries);
            if (st != AM_OK) {
                am__fail(err, st, "out of memory");
                goto out;
            }
        }
        m->entries[m->count++] = e;
    }
    defaults.known = false;
    defaults.name = "default";
    m->defaults = defaults;

out:
    if (st != AM_OK)
        m->count = old;
    json_decref(root);
    return st;
}

am_models_opts am_models_opts_default(void)
{
    am_models_opts o = { NULL, NULL };
    return o;
}

am_status am_models_create(const am_models_opts *opts, am_models **out,
                           am_error *err)
{
    am_models_opts o = opts != NULL ? *opts : am_models_opts_default();
    const char *user_file = o.user_file;
    const am_allocator *alloc = o.alloc;
    am_status st;
    am_models *m;

    if (out == NULL)
        return am__fail(err, AM_EINVAL, "am_models_create: NULL out");
    *out = NULL;
    m = am__calloc(alloc, 1, sizeof *m);
    if (m == NULL)
        return am__fail(err, AM_ENOMEM, "out of memory");
    m->alloc = alloc;
    am__arena_init(&m->arena, alloc, 4096);
    m->defaults = fallback_defaults;
    st = parse_catalog(m, (am_str){ (const char *)am_embedded,
                                    am_embedded_len },
                       "built-in models.json", err);
    if (st == AM_OK && user_file != NULL) {
        st = am_models_load_file(m, user_file);
        if (st != AM_OK)
            am__error_copy(err, &m->err);
    }
    if (st != AM_OK) {
        am_models_free(m);
        return st;
    }
    *out = m;
    return AM_OK;
}

am_status am_models_load_file(am_models *m, const char *path)
{
    am_status st;
    am_buf text = AM_BUF_INIT;

    if (m == NULL || path == NULL)
        return m != NULL ? am__fail(&m->err, AM_EINVAL, "NULL path")
                         : AM_EINVAL;
    am_error_clear(&m->err);
    text.alloc = m->alloc;
    st = am__read_file(path, &text, &m->err);
    if (st == AM_OK)
        st = parse_catalog(m, am_buf_str(&text), path, &m->err);
    am_buf_free(&text);
    return st;
}

void am_models_free(am_models *m)
{
    if (m == NULL)
        return;
    am__arena_free(&m->arena);
    am__free(m->alloc, m->entries, m->cap * sizeof *m->entries);
    am__free(m->alloc, m, sizeof *m);
}

const am_error *am_models_last_error(const am_models *m)
{
    return m != NULL ? &m->err : am__errtab_null_handle();
}

/* ---- The built-in catalog ---- */

static pthread_once_t builtin_once = PTHREAD_ONCE_INIT;
static am_models *builtin;

static void builtin_init(void)
{
    if (am_models_create(NULL, &builtin, NULL) != AM_OK)
        builtin = NULL;
}

static const am_models *resolve(const am_models *m)
{
    if (m != NULL)
        return m;
    pthread_once(&builtin_once, builtin_init);
    return builtin;
}

bool am_models_lookup(const am_models *models, am_str model,
                      am_model_info *out)
{
    const am_models *m = resolve(models);
    const entry *best = NULL;
    size_t best_len = 0;

    if (out == NULL)
        return false;
    if (m == NULL) {
        *out = fallback_defaults;
        return false;
    }
    if (model.ptr == NULL)
        model.len = 0;
    /* Later entries win, so scan backwards and keep the first hit. */
    for (size_t i = m->count; i-- > 0;) {
        const entry *e = &m->entries[i];
        size_t n = strlen(e->info.name);
        if (n == model.len && memcmp(e->info.name, model.ptr, n) == 0) {
            best = e;
            break;
        }
        if (e->prefix && n > best_len && n < model.len &&
            memcmp(e->info.name, model.ptr, n) == 0) {
            best = e;
            best_len = n;
        }
    }
    if (best == NULL) {
        *out = m->defaults;
        return false;
    }
    *out = best->info;
    return true;
}

size_t am_models_count(const am_models *models)
{
    const am_models *m = resolve(models);
    return m != NULL ? m->count : 0;
}

bool am_models_at(const am_models *models, size_t i, am_model_info *out)
{
    const am_models *m = resolve(models);
    if (m == NULL || out == NULL || i >= m->count)
        return false;
    *out = m->entries[i].info;
    return true;
}

double am_model_cost(const am_model_info *info, int64_t input,
                     int64_t cached_input, int64_t output)
{
    double cost;

    if (info == NULL)
        return 0;
    if (cached_input > input)
        cached_input = input;
    if (cached_input < 0)
        cached_input = 0;
    cost = (double)(input - cached_input) * info->input_per_mtok +
           (double)cached_input * (info->cached_input_per_mtok > 0
                                       ? info->cached_input_per_mtok
                                       : info->input_per_mtok) +
           (double)output * info->output_per_mtok;
    return cost / 1e6;
}
