/* memconfig.c -- memory-manager configuration: presets, files, environment.
 *
 * Every setting goes through one table of keys, so the file parser, the
 * environment overrides and the formatter cannot disagree about names or
 * value rules. Each change is made on a copy and committed at the end, so a
 * bad line leaves the caller's config untouched.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agentmem/memconfig.h"
#include "core/core.h"

/* ---- Small parsers ---- */

static bool str_eq_ci(am_str a, const char *b)
{
    size_t n = strlen(b);
    if (a.len != n)
        return false;
    for (size_t i = 0; i < n; i++)
        if (am__ascii_lower((unsigned char)a.ptr[i]) !=
            am__ascii_lower((unsigned char)b[i]))
            return false;
    return true;
}

static am_status parse_bool(am_str v, bool *out)
{
    if (str_eq_ci(v, "true") || str_eq_ci(v, "1") || str_eq_ci(v, "yes") ||
        str_eq_ci(v, "on"))
        *out = true;
    else if (str_eq_ci(v, "false") || str_eq_ci(v, "0") ||
             str_eq_ci(v, "no") || str_eq_ci(v, "off"))
        *out = false;
    else
        return AM_EFORMAT;
    return AM_OK;
}

static am_status parse_size(am_str v, size_t *out)
{
    char tmp[32];
    char *end = NULL;
    unsigned long long x;

    if (v.len == 0 || v.len >= sizeof tmp)
        return AM_EFORMAT;
    memcpy(tmp, v.ptr, v.len);
    tmp[v.len] = '\0';
    for (size_t i = 0; i < v.len; i++)
        if (!isdigit((unsigned char)tmp[i]) && tmp[i] != '_')
            return AM_EFORMAT;
    /* Allow 40_000 for readability. */
    size_t w = 0;
    for (size_t i = 0; i < v.len; i++)
        if (tmp[i] != '_')
            tmp[w++] = tmp[i];
    tmp[w] = '\0';
    if (w == 0)
        return AM_EFORMAT;
    errno = 0;
    x = strtoull(tmp, &end, 10);
    if (errno != 0 || *end != '\0' || x > (unsigned long long)SIZE_MAX / 2)
        return AM_EFORMAT;
    *out = (size_t)x;
    return AM_OK;
}

static am_status parse_real(am_str v, double *out)
{
    char tmp[64];
    char *end = NULL;
    double x;

    if (v.len == 0 || v.len >= sizeof tmp)
        return AM_EFORMAT;
    memcpy(tmp, v.ptr, v.len);
    tmp[v.len] = '\0';
    errno = 0;
    x = strtod(tmp, &end);
    if (errno != 0 || *end != '\0' || !isfinite(x))
        return AM_EFORMAT;
    *out = x;
    return AM_OK;
}

static am_str trim(am_str s)
{
    while (s.len > 0 && isspace((unsigned char)s.ptr[0])) {
        s.ptr++;
        s.len--;
    }
    while (s.len > 0 && isspace((unsigned char)s.ptr[s.len - 1]))
        s.len--;
    return s;
}

/* ---- Presets ---- */

typedef struct preset {
    const char *name;
    size_t threshold;
    double ratio;
    size_t short_term;
    am_compress_strategy strategy;
} preset;

static const preset presets[] = {
    { "aggressive", 30000, 0.2, 10, AM_COMPRESS_SLIDING_WINDOW },
    { "balanced", 40000, 0.3, 20, AM_COMPRESS_SLIDING_WINDOW },
    { "conservative", 60000, 0.5, 30, AM_COMPRESS_SELECTIVE },
};

am_memory_config am_memory_config_default(void)
{
    am_memory_config c;
    memset(&c, 0, sizeof c);
    c.enabled = true;
    c.max_context_tokens = 100000;
    c.compression_threshold = 40000;
    c.short_term_size = 20;
    c.compression_ratio = 0.3;
    c.strategy = AM_COMPRESS_SLIDING_WINDOW;
    c.preserve_system = true;
    c.preserve_tool_calls = true;
    snprintf(c.importance_markers, sizeof c.importance_markers, "%s",
             "important,critical,remember,must,decision");
    c.tool_clear_trigger = 0;
    c.tool_clear_keep = 3;
    c.tool_clear_at_least = 0;
    snprintf(c.model, sizeof c.model, "%s", AM_MEMORY_DEFAULT_MODEL);
    return c;
}

am_status am_memory_config_preset(am_memory_config *cfg, am_str name,
                                  am_error *err)
{
    if (cfg == NULL)
        return am__fail(err, AM_EINVAL, "memory config: cfg is NULL");
    name = trim(name);
    for (size_t i = 0; i < sizeof presets / sizeof presets[0]; i++) {
        if (str_eq_ci(name, presets[i].name)) {
            cfg->enabled = true;
            cfg->compression_threshold = presets[i].threshold;
            cfg->compression_ratio = presets[i].ratio;
            cfg->short_term_size = presets[i].short_term;
            cfg->strategy = presets[i].strategy;
            return AM_OK;
        }
    }
    return am__fail(err, AM_EINVAL,
                    "unknown memory preset '%.*s' (expected aggressive, "
                    "balanced or conservative)",
                    (int)(name.len > 64 ? 64 : name.len), name.ptr);
}

static const char *const strategy_names[] = {
    [AM_COMPRESS_SLIDING_WINDOW] = "sliding_window",
    [AM_COMPRESS_SELECTIVE] = "selective", [AM_COMPRESS_DELETION] = "deletion",
};
static const am__names strategies =
    AM__NAMES("compression strategy", strategy_names);

const char *am_compress_strategy_name(am_compress_strategy s)
{
    return am__name_of(&strategies, (int)s);
}

/* ---- The key table ---- */

typedef enum kind { K_BOOL, K_SIZE, K_POS, K_RATIO, K_STRATEGY, K_TEXT,
                    K_PRESET } kind;

typedef struct key_def {
    const char *name;
    kind k;
    size_t off;
    size_t cap; /* K_TEXT: array size */
} key_def;

#define OFF(f) offsetof(am_memory_config, f)
static const key_def keys[] = {
    { "MEMORY_PRESET", K_PRESET, 0, 0 },
    { "MEMORY_ENABLED", K_BOOL, OFF(enabled), 0 },
    { "MEMORY_MAX_CONTEXT_TOKENS", K_POS, OFF(max_context_tokens), 0 },
    { "MEMORY_COMPRESSION_THRESHOLD", K_POS, OFF(compression_threshold), 0 },
    { "MEMORY_SHORT_TERM_SIZE", K_SIZE, OFF(short_term_size), 0 },
    { "MEMORY_COMPRESSION_RATIO", K_RATIO, OFF(compression_ratio), 0 },
    { "MEMORY_COMPRESSION_STRATEGY", K_STRATEGY, OFF(strategy), 0 },
    { "MEMORY_PRESERVE_SYSTEM_PROMPTS", K_BOOL, OFF(preserve_system), 0 },
    { "MEMORY_PRESERVE_TOOL_CALLS", K_BOOL, OFF(preserve_tool_calls), 0 },
    { "MEMORY_IMPORTANCE_MARKERS", K_TEXT, OFF(importance_markers),
      AM_MEMCFG_TEXT_MAX },
    { "MEMORY_TOOL_CLEAR_TRIGGER", K_SIZE, OFF(tool_clear_trigger), 0 },
    { "MEMORY_TOOL_CLEAR_KEEP", K_SIZE, OFF(tool_clear_keep), 0 },
    { "MEMORY_TOOL_CLEAR_AT_LEAST", K_SIZE, OFF(tool_clear_at_least), 0 },
    { "MEMORY_TOOL_CLEAR_EXCLUDE", K_TEXT, OFF(tool_clear_exclude),
      AM_MEMCFG_TEXT_MAX },
    { "MEMORY_MODEL", K_TEXT, OFF(model), 128 },
};
#define NKEYS (sizeof keys / sizeof keys[0])
#undef OFF

static const key_def *find_key(am_str key)
{
    for (size_t i = 0; i < NKEYS; i++)
        if (strlen(keys[i].name) == key.len &&
            memcmp(keys[i].name, key.ptr, key.len) == 0)
            return &keys[i];
    return NULL;
}

#define SHOWN(s) (int)((s).len > 80 ? 80 : (s).len), (s).ptr

am_status am_memory_config_set(am_memory_config *cfg, am_str key,
                               am_str value, const char *where,
                               am_error *err)
{
    am_memory_config c;
    const key_def *kd;
    const char *w = where != NULL ? where : "memory config";
    am_status st = AM_OK;

    if (cfg == NULL || (key.ptr == NULL && key.len > 0) ||
        (value.ptr == NULL && value.len > 0))
        return am__fail(err, AM_EINVAL, "%s: NULL argument", w);
    key = trim(key);
    value = trim(value);
    kd = find_key(key);
    if (kd == NULL)
        return am__fail(err, AM_EINVAL, "%s: unknown key '%.*s'", w,
                        SHOWN(key));
    c = *cfg;
    switch (kd->k) {
    case K_PRESET:
        st = am_memory_config_preset(&c, value, NULL);
        if (st != AM_OK)
            return am__fail(err, AM_EFORMAT,
                            "%s: %s: unknown preset '%.*s' (expected "
                            "aggressive, balanced or conservative)",
                            w, kd->name, SHOWN(value));
        break;
    case K_BOOL:
        if (parse_bool(value, (bool *)((char *)&c + kd->off)) != AM_OK)
            return am__fail(err, AM_EFORMAT,
                            "%s: %s: expected true or false, got '%.*s'", w,
                            kd->name, SHOWN(value));
        break;
    case K_SIZE:
    case K_POS: {
        size_t x = 0;
        if (parse_size(value, &x) != AM_OK || (kd->k == K_POS && x == 0))
            return am__fail(err, AM_EFORMAT,
                            "%s: %s: expected a %s integer, got '%.*s'", w,
                            kd->name,
                            kd->k == K_POS ? "positive" : "non-negative",
                            SHOWN(value));
        *(size_t *)((char *)&c + kd->off) = x;
        break;
    }
    case K_RATIO: {
        double x = 0;
        if (parse_real(value, &x) != AM_OK || !(x > 0.0 && x <= 1.0))
            return am__fail(err, AM_EFORMAT,
                            "%s: %s: expected a number in (0, 1], got "
                            "'%.*s'", w, kd->name, SHOWN(value));
        c.compression_ratio = x;
        break;
    }
    case K_STRATEGY:
        if (str_eq_ci(value, "sliding_window"))
            c.strategy = AM_COMPRESS_SLIDING_WINDOW;
        else if (str_eq_ci(value, "selective"))
            c.strategy = AM_COMPRESS_SELECTIVE;
        else if (str_eq_ci(value, "deletion"))
            c.strategy = AM_COMPRESS_DELETION;
        else
            return am__fail(err, AM_EFORMAT,
                            "%s: %s: expected sliding_window, selective or "
                            "deletion, got '%.*s'", w, kd->name,
                            SHOWN(value));
        break;
    case K_TEXT: {
        char *dst = (char *)&c + kd->off;
        if (value.len >= kd->cap)
            return am__fail(err, AM_EFORMAT,
                            "%s: %s: value longer than %zu bytes", w,
                            kd->name, kd->cap - 1);
        for (size_t i = 0; i < value.len; i++)
            if ((unsigned char)value.ptr[i] < 0x20 ||
                value.ptr[i] == 0x7f)
                return am__fail(err, AM_EFORMAT,
                                "%s: %s: control character at byte %zu", w,
                                kd->name, i);
        if (!am__utf8_valid(value.ptr, value.len, NULL))
            return am__fail(err, AM_EFORMAT,
                            "%s: %s: value is not valid UTF-8 text", w,
                            kd->name);
        /* Clear the whole field so that equal settings compare equal. */
        memset(dst, 0, kd->cap);
        memcpy(dst, value.ptr, value.len);
        dst[value.len] = '\0';
        break;
    }
    }
    *cfg = c;
    return AM_OK;
}

/* The threshold can only be checked against the maximum once every key
 * is read, since either may come first. */
static am_status check_consistent(const am_memory_config *c,
                                  const char *where, am_error *err)
{
    if (c->compression_threshold > c->max_context_tokens)
        return am__fail(err, AM_EFORMAT,
                        "%s: MEMORY_COMPRESSION_THRESHOLD (%zu) exceeds "
                        "MEMORY_MAX_CONTEXT_TOKENS (%zu)", where,
                        c->compression_threshold, c->max_context_tokens);
    return AM_OK;
}

/* ---- Where values come from ---- */

/* Records, while a layer is applied, which keys it set. `prefix` is the
 * file path (sources "path:LINE") or NULL for the environment (sources
 * "$KEY"). NULL tracker: nothing recorded. */
typedef struct tracker {
    am_memory_config_origins *o;
    const char *prefix;
} tracker;

/* Keys a preset sets (am_memory_config_preset). */
static const char *const preset_keys[] = {
    "MEMORY_ENABLED", "MEMORY_COMPRESSION_THRESHOLD",
    "MEMORY_COMPRESSION_RATIO", "MEMORY_SHORT_TERM_SIZE",
    "MEMORY_COMPRESSION_STRATEGY",
};

/* keys[0] is MEMORY_PRESET: origins index i is keys[i + 1]. */
static am_memory_config_origin *origin_slot(am_memory_config_origins *o,
                                            am_str key)
{
    for (size_t i = 1; i < NKEYS; i++)
        if (strlen(keys[i].name) == key.len &&
            memcmp(keys[i].name, key.ptr, key.len) == 0)
            return &o->keys[i - 1];
    return NULL;
}

static void source_set(am_memory_config_origins *o, const char *key,
                       const char *fmt, ...) AM__PRINTF(3, 4);
static void source_set(am_memory_config_origins *o, const char *key,
                       const char *fmt, ...)
{
    am_memory_config_origin *slot = origin_slot(o, am_str_c(key));
    va_list ap;
    if (slot == NULL)
        return;
    va_start(ap, fmt);
    vsnprintf(slot->source, sizeof slot->source, fmt, ap);
    va_end(ap);
}

/* Key `key` was set to `value` by this layer (line `lineno`, 0: env). */
static void track(const tracker *t, am_str key, am_str value, size_t lineno)
{
    char where[AM_MEMCFG_SOURCE_MAX];
    bool is_preset = key.len == 13 &&
                     memcmp(key.ptr, "MEMORY_PRESET", 13) == 0;

    if (t == NULL || t->o == NULL)
        return;
    if (t->prefix != NULL)
        snprintf(where, sizeof where, "%s:%zu", t->prefix, lineno);
    else
        snprintf(where, sizeof where, "$%.*s", (int)key.len, key.ptr);
    if (!is_preset) {
        am_memory_config_origin *slot = origin_slot(t->o, key);
        if (slot != NULL)
            snprintf(slot->source, sizeof slot->source, "%s", where);
        return;
    }
    for (size_t i = 0; i < sizeof preset_keys / sizeof preset_keys[0]; i++) {
        if (t->prefix != NULL)
            source_set(t->o, preset_keys[i], "%s (MEMORY_PRESET=%.*s)",
                       where, (int)(value.len > 40 ? 40 : value.len),
                       value.ptr);
        else
            source_set(t->o, preset_keys[i], "$MEMORY_PRESET=%.*s",
                       (int)(value.len > 40 ? 40 : value.len), value.ptr);
    }
}

/* ---- Files ---- */

typedef struct line {
    am_str key, value;
    size_t lineno;
} line;

/* Split one line into key and value. Returns false for blank/comment. */
static am_status split_line(am_str raw, size_t lineno, line *out,
                            bool *is_setting, am_error *err)
{
    am_str s = trim(raw);
    const char *eq;

    *is_setting = false;
    if (s.len == 0 || s.ptr[0] == '#')
        return AM_OK;
    if (s.len > 7 && memcmp(s.ptr, "export", 6) == 0 &&
        isspace((unsigned char)s.ptr[6])) {
        s.ptr += 7;
        s.len -= 7;
        s = trim(s);
    }
    eq = memchr(s.ptr, '=', s.len);
    if (eq == NULL || eq == s.ptr)
        return am__fail(err, AM_EFORMAT,
                        "config line %zu: expected KEY=VALUE, got '%.*s'",
                        lineno, SHOWN(s));
    out->key = trim((am_str){ s.ptr, (size_t)(eq - s.ptr) });
    out->value = trim((am_str){ eq + 1, s.len - (size_t)(eq - s.ptr) - 1 });
    if (out->value.len >= 2 &&
        (out->value.ptr[0] == '"' || out->value.ptr[0] == '\'')) {
        if (out->value.ptr[out->value.len - 1] != out->value.ptr[0])
            return am__fail(err, AM_EFORMAT,
                            "config line %zu: %.*s: unterminated quote",
                            lineno, SHOWN(out->key));
        out->value.ptr++;
        out->value.len -= 2;
    } else if (out->value.len == 1 && (out->value.ptr[0] == '"' ||
                                       out->value.ptr[0] == '\'')) {
        return am__fail(err, AM_EFORMAT,
                        "config line %zu: %.*s: unterminated quote", lineno,
                        SHOWN(out->key));
    }
    out->lineno = lineno;
    *is_setting = true;
    return AM_OK;
}

static am_status parse_tracked(am_memory_config *cfg, am_str text,
                               const tracker *t, am_error *err)
{
    am_memory_config c;
    char where[48];
    am_status st;
    int pass;

    if (cfg == NULL || (text.ptr == NULL && text.len > 0))
        return am__fail(err, AM_EINVAL, "memory config: NULL argument");
    c = *cfg;
    /* Pass 0 applies MEMORY_PRESET, pass 1 everything else, so that a
     * preset never silently undoes an explicit setting above it. */
    for (pass = 0; pass < 2; pass++) {
        size_t pos = 0, lineno = 0;
        while (pos < text.len) {
            const char *nl = memchr(text.ptr + pos, '\n', text.len - pos);
            size_t end = nl != NULL ? (size_t)(nl - text.ptr) : text.len;
            am_str raw = { text.ptr + pos, end - pos };
            line ln;
            bool is_setting = false;
            bool is_preset;

            lineno++;
            pos = end + 1;
            st = split_line(raw, lineno, &ln, &is_setting, err);
            if (st != AM_OK)
                return st;
            if (!is_setting)
                continue;
            is_preset = ln.key.len == 13 &&
                        memcmp(ln.key.ptr, "MEMORY_PRESET", 13) == 0;
            if (is_preset != (pass == 0))
                continue;
            snprintf(where, sizeof where, "config line %zu", lineno);
            st = am_memory_config_set(&c, ln.key, ln.value, where, err);
            if (st != AM_OK)
                return st;
            track(t, trim(ln.key), trim(ln.value), lineno);
        }
    }
    st = check_consistent(&c, "config", err);
    if (st != AM_OK)
        return st;
    *cfg = c;
    return AM_OK;
}

am_status am_memory_config_parse(am_memory_config *cfg, am_str text,
                                 am_error *err)
{
    return parse_tracked(cfg, text, NULL, err);
}

static am_status load_tracked(am_memory_config *cfg, const char *path,
                              const tracker *t, am_error *err)
{
    /* A config is a plain struct with no allocator: the file's text is
     * read with the default one. checksrc: allow AM_BUF_INIT */
    am_buf text = AM_BUF_INIT;
    am_error e = { AM_OK, "" };
    am_status st;

    if (cfg == NULL || path == NULL)
        return am__fail(err, AM_EINVAL, "memory config: NULL argument");
    st = am__read_file(path, &text, err);
    if (st != AM_OK)
        goto out;
    st = parse_tracked(cfg, am_buf_str(&text), t, &e);
    if (st != AM_OK)
        am__fail(err, st, "%s: %s", path, e.msg);
out:
    am_buf_free(&text);
    return st;
}

am_status am_memory_config_load(am_memory_config *cfg, const char *path,
                                am_error *err)
{
    return load_tracked(cfg, path, NULL, err);
}

static const char *sys_getenv(void *ctx, const char *name)
{
    (void)ctx;
    return getenv(name);
}

static am_status env_tracked(am_memory_config *cfg, am_getenv_fn getenv_fn,
                             void *ctx, const tracker *t, am_error *err)
{
    am_memory_config c;
    char where[64];

    if (cfg == NULL)
        return am__fail(err, AM_EINVAL, "memory config: cfg is NULL");
    if (getenv_fn == NULL)
        getenv_fn = sys_getenv;
    c = *cfg;
    /* keys[0] is MEMORY_PRESET, so the preset goes first here too. */
    for (size_t i = 0; i < NKEYS; i++) {
        const char *v = getenv_fn(ctx, keys[i].name);
        am_status st;
        if (v == NULL)
            continue;
        snprintf(where, sizeof where, "environment");
        st = am_memory_config_set(&c, am_str_c(keys[i].name), am_str_c(v),
                                  where, err);
        if (st != AM_OK)
            return st;
        track(t, am_str_c(keys[i].name), trim(am_str_c(v)), 0);
    }
    if (check_consistent(&c, "environment", err) != AM_OK)
        return AM_EFORMAT;
    *cfg = c;
    return AM_OK;
}

am_status am_memory_config_apply_env(am_memory_config *cfg,
                                     am_getenv_fn getenv_fn, void *ctx,
                                     am_error *err)
{
    return env_tracked(cfg, getenv_fn, ctx, NULL, err);
}

am_status am_memory_config_format(const am_memory_config *cfg, am_buf *out)
{
    am_status st;
    char ratio[32];

    if (cfg == NULL || out == NULL)
        return AM_EINVAL;
    /* The shortest text that reads back exactly: 0.4, not
     * 0.40000000000000002 (15 digits always do for a short decimal). */
    snprintf(ratio, sizeof ratio, "%.15g", cfg->compression_ratio);
    if (strtod(ratio, NULL) != cfg->compression_ratio)
        snprintf(ratio, sizeof ratio, "%.17g", cfg->compression_ratio);
    am_buf_clear(out);
    st = am_buf_appendf(
        out,
        "MEMORY_ENABLED=%s\n"
        "MEMORY_MAX_CONTEXT_TOKENS=%zu\n"
        "MEMORY_COMPRESSION_THRESHOLD=%zu\n"
        "MEMORY_SHORT_TERM_SIZE=%zu\n"
        "MEMORY_COMPRESSION_RATIO=%s\n"
        "MEMORY_COMPRESSION_STRATEGY=%s\n"
        "MEMORY_PRESERVE_SYSTEM_PROMPTS=%s\n"
        "MEMORY_PRESERVE_TOOL_CALLS=%s\n"
        "MEMORY_IMPORTANCE_MARKERS=\"%s\"\n"
        "MEMORY_TOOL_CLEAR_TRIGGER=%zu\n"
        "MEMORY_TOOL_CLEAR_KEEP=%zu\n"
        "MEMORY_TOOL_CLEAR_AT_LEAST=%zu\n"
        "MEMORY_TOOL_CLEAR_EXCLUDE=\"%s\"\n"
        "MEMORY_MODEL=\"%s\"\n",
        cfg->enabled ? "true" : "false", cfg->max_context_tokens,
        cfg->compression_threshold, cfg->short_term_size,
        ratio, am_compress_strategy_name(cfg->strategy),
        cfg->preserve_system ? "true" : "false",
        cfg->preserve_tool_calls ? "true" : "false", cfg->importance_markers,
        cfg->tool_clear_trigger, cfg->tool_clear_keep,
        cfg->tool_clear_at_least, cfg->tool_clear_exclude, cfg->model);
    return st;
}

/* ---- Origins, resolution, show ---- */

void am_memory_config_origins_init(am_memory_config_origins *o)
{
    if (o == NULL)
        return;
    memset(o, 0, sizeof *o);
    for (size_t i = 1; i < NKEYS; i++) {
        o->keys[i - 1].key = keys[i].name;
        snprintf(o->keys[i - 1].source, sizeof o->keys[i - 1].source, "%s",
                 "default");
    }
}

am_status am_memory_config_origins_note(am_memory_config_origins *o,
                                        am_str key, const char *source,
                                        am_error *err)
{
    am_memory_config_origin *slot;

    if (o == NULL || source == NULL || (key.ptr == NULL && key.len > 0))
        return am__fail(err, AM_EINVAL, "memory config origins: NULL "
                        "argument");
    slot = origin_slot(o, trim(key));
    if (slot == NULL)
        return am__fail(err, AM_EINVAL, "memory config origins: '%.*s' is "
                        "not a setting (MEMORY_PRESET: note the keys it "
                        "set)", SHOWN(key));
    snprintf(slot->source, sizeof slot->source, "%s", source);
    return AM_OK;
}

const char *am_memory_config_origin_of(const am_memory_config_origins *o,
                                       am_str key)
{
    if (o == NULL || (key.ptr == NULL && key.len > 0))
        return "?";
    key = trim(key);
    for (size_t i = 0; i < AM_MEMCFG_NKEYS; i++)
        if (o->keys[i].key != NULL && strlen(o->keys[i].key) == key.len &&
            memcmp(o->keys[i].key, key.ptr, key.len) == 0)
            return o->keys[i].source;
    return "?";
}

am_status am_memory_config_resolve(am_memory_config *cfg,
                                   const am_memory_config_resolve_opts *opts,
                                   am_memory_config_origins *origins,
                                   am_error *err)
{
    am_memory_config_resolve_opts o;
    am_memory_config c = am_memory_config_default();
    am_memory_config_origins org;
    char found[sizeof org.file];
    const char *file;
    tracker t;
    am_status st;

    if (cfg == NULL)
        return am__fail(err, AM_EINVAL, "memory config: cfg is NULL");
    if (opts != NULL)
        o = *opts;
    else
        memset(&o, 0, sizeof o);
    am_memory_config_origins_init(&org);
    if (o.preset != NULL) {
        st = am_memory_config_preset(&c, am_str_c(o.preset), err);
        if (st != AM_OK)
            return st;
        for (size_t i = 0; i < sizeof preset_keys / sizeof preset_keys[0];
             i++)
            source_set(&org, preset_keys[i], "preset %s", o.preset);
    }
    file = o.file;
    if (file == NULL) {
        st = am_memory_config_find(&o, found, sizeof found, err);
        if (st != AM_OK)
            return st;
        file = found[0] != '\0' ? found : NULL;
    }
    if (file != NULL) {
        if (strlen(file) >= sizeof org.file)
            return am__fail(err, AM_ELIMIT, "memory config: the path of the "
                            "config file is longer than %zu bytes",
                            sizeof org.file - 1);
        snprintf(org.file, sizeof org.file, "%s", file);
        t.o = &org;
        t.prefix = org.file;
        st = load_tracked(&c, file, &t, err);
        if (st != AM_OK)
            return st;
    }
    if (!o.skip_env) {
        t.o = &org;
        t.prefix = NULL;
        st = env_tracked(&c, o.getenv_fn, o.getenv_ctx, &t, err);
        if (st != AM_OK)
            return st;
    }
    *cfg = c;
    if (origins != NULL)
        *origins = org;
    return AM_OK;
}

am_status am_memory_config_show(const am_memory_config *cfg,
                                const am_memory_config_origins *o,
                                am_buf *out)
{
    am_buf text = AM_BUF_INIT;
    am_status st;
    size_t pos = 0;

    if (cfg == NULL || o == NULL || out == NULL)
        return AM_EINVAL;
    text.alloc = out->alloc; /* the caller's, as the result's */
    st = am_memory_config_format(cfg, &text);
    if (st != AM_OK)
        goto out;
    am_buf_clear(out);
    st = am_buf_appendf(out, "# file: %s\n",
                        o->file[0] != '\0' ? o->file : "none");
    /* One line per key, in the table's order (format writes them so). */
    while (st == AM_OK && pos < text.len) {
        const char *nl = memchr(text.ptr + pos, '\n', text.len - pos);
        size_t end = nl != NULL ? (size_t)(nl - text.ptr) : text.len;
        am_str ln = { text.ptr + pos, end - pos };
        const char *eq = memchr(ln.ptr, '=', ln.len);
        am_str key = { ln.ptr, eq != NULL ? (size_t)(eq - ln.ptr) : 0 };

        st = am_buf_appendf(out, "%-46.*s  # %s\n", (int)ln.len, ln.ptr,
                            am_memory_config_origin_of(o, key));
        pos = end + 1;
    }
out:
    am_buf_free(&text);
    return st;
}
