/* store_api.c -- the store's front end: the public functions.
 *
 * Everything here is independent of where items live: argument checks,
 * namespace encoding, JSON validation, text derivation and embedding
 * (done before the handle's lock is taken, so a slow embedder does not
 * hold up other threads), the lock itself, and the choice of backend at
 * open. Each public call then runs one backend operation (backend.h) with
 * the lock held.
 */
#include <assert.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "core/json_glue.h"
#include "core/jscan.h"
#include "filter.h"
#include "rank.h"
#include "store_int.h"

/* ---- Namespaces ---- */

am_status am__ns_encode(am_ns ns, int allow_root, am_buf *out, am_error *err)
{
    am_buf_clear(out);
    if (ns.count == 0 && !allow_root)
        return am__fail(err, AM_EINVAL, "namespace: needs at least one part");
    if (ns.count > AM_STORE_MAX_NS_PARTS)
        return am__fail(err, AM_EINVAL,
                        "namespace: %zu parts (at most %d)", ns.count,
                        AM_STORE_MAX_NS_PARTS);
    if (ns.count > 0 && ns.parts == NULL)
        return am__fail(err, AM_EINVAL, "namespace: NULL parts");
    if (am_buf_reserve(out, 0) != AM_OK)
        return am__fail(err, AM_ENOMEM, "namespace: out of memory");
    out->ptr[0] = '\0';
    for (size_t i = 0; i < ns.count; i++) {
        am_str p = ns.parts[i];
        if (p.len == 0 || p.ptr == NULL)
            return am__fail(err, AM_EINVAL,
                            "namespace: part %zu is empty", i);
        if (p.len > AM_STORE_MAX_PART_LEN)
            return am__fail(err, AM_EINVAL,
                            "namespace: part %zu is %zu bytes (at most %d)",
                            i, p.len, AM_STORE_MAX_PART_LEN);
        if (am_buf_reserve(out, p.len * 2 + 1) != AM_OK)
            return am__fail(err, AM_ENOMEM, "namespace: out of memory");
        for (size_t j = 0; j < p.len; j++) {
            unsigned char c = (unsigned char)p.ptr[j];
            char esc = 0;
            switch (c) {
            case 0x00: esc = '0'; break;
            case 0x1e: esc = '1'; break;
            case 0x1f: esc = '2'; break;
            case 0xfe: esc = '3'; break;
            case 0xff: esc = '4'; break;
            default: break;
            }
            if (esc != 0) {
                out->ptr[out->len++] = 0x1e;
                out->ptr[out->len++] = esc;
            } else {
                out->ptr[out->len++] = (char)c;
            }
        }
        out->ptr[out->len++] = 0x1f;
        out->ptr[out->len] = '\0';
    }
    return AM_OK;
}

am_status am__ns_upper(am_str enc, am_buf *out)
{
    am_buf_clear(out);
    if (enc.len == 0)
        return am_buf_append(out, "\xff", 1);
    if (am_buf_append(out, enc.ptr, enc.len) != AM_OK)
        return AM_ENOMEM;
    assert(out->ptr[out->len - 1] == 0x1f);
    out->ptr[out->len - 1] = 0x20;
    return AM_OK;
}

am_status am__ns_decode(am_str enc, am__arena *ar, am_str **parts,
                        size_t *count)
{
    size_t n = 0, k = 0;
    for (size_t i = 0; i < enc.len; i++)
        if (enc.ptr[i] == 0x1f)
            n++;
    am_str *p = am__arena_alloc(ar, (n > 0 ? n : 1) * sizeof *p);
    char *bytes = am__arena_alloc(ar, enc.len + 1);
    if (p == NULL || bytes == NULL)
        return AM_ENOMEM;
    size_t start = 0, o = 0;
    for (size_t i = 0; i < enc.len; i++) {
        unsigned char c = (unsigned char)enc.ptr[i];
        if (c == 0x1f) {
            p[k].ptr = bytes + start;
            p[k].len = o - start;
            k++;
            bytes[o++] = '\0';
            start = o;
        } else if (c == 0x1e && i + 1 < enc.len) {
            static const unsigned char un[] = { 0x00, 0x1e, 0x1f, 0xfe,
                                                0xff };
            unsigned idx = (unsigned)(enc.ptr[++i] - '0');
            bytes[o++] = (char)(idx < 5 ? un[idx] : '?');
        } else {
            bytes[o++] = (char)c;
        }
    }
    *parts = p;
    *count = k;
    return AM_OK;
}

static am_ns scoped(am_str parts[3], am_str kind, am_str id, am_str sub)
{
    size_t n = 0;
    parts[n++] = kind;
    if (id.ptr != NULL)
        parts[n++] = id;
    if (sub.len > 0)
        parts[n++] = sub;
    return (am_ns){ parts, n };
}

am_ns am_ns_user(am_str parts[3], am_str user_id, am_str sub)
{
    return scoped(parts, AM_STR("user"), user_id, sub);
}

am_ns am_ns_session(am_str parts[3], am_str session_id, am_str sub)
{
    return scoped(parts, AM_STR("session"), session_id, sub);
}

am_ns am_ns_global(am_str parts[3], am_str sub)
{
    return scoped(parts, AM_STR("global"), (am_str){ NULL, 0 }, sub);
}


am_store_opts am_store_opts_default(void)
{
    am_store_opts o;
    memset(&o, 0, sizeof o);
    o.actor = "agentmem";
    o.busy_timeout_ms = 5000;
    return o;
}



/* ---- Open and close ---- */

am_store_kind am_store_target_kind(const char *target, const char **file)
{
    static const char *const pg[] = { "postgres://", "postgresql://" };
    if (file != NULL)
        *file = NULL;
    if (target == NULL || target[0] == '\0')
        return AM_STORE_KIND_NONE;
    for (size_t i = 0; i < sizeof pg / sizeof pg[0]; i++)
        if (strncmp(target, pg[i], strlen(pg[i])) == 0)
            return AM_STORE_KIND_POSTGRES;
    if (strncmp(target, "sqlite:", 7) == 0)
        target += 7;
    else if (strstr(target, "://") != NULL)
        return AM_STORE_KIND_UNKNOWN;
    if (file != NULL)
        *file = target;
    return AM_STORE_KIND_SQLITE;
}

/* Pick the backend for `target` and the part of it the backend opens
 * (PostgreSQL gets the whole URI). */
static am_status pick_backend(const char *target,
                              const am__store_backend **be,
                              const char **rest, am_error *err)
{
    const char *file = NULL;

    switch (am_store_target_kind(target, &file)) {
    case AM_STORE_KIND_POSTGRES:
        *be = &am__store_backend_pg;
        *rest = target;
        return AM_OK;
    case AM_STORE_KIND_SQLITE:
        *be = &am__store_backend_sqlite;
        *rest = file;
        return AM_OK;
    default: {
        /* Only the scheme: the rest of a URL may hold a password. */
        const char *sep = strstr(target, "://");
        int scheme = sep != NULL ? (int)(sep - target) : 0;
        return am__fail(err, AM_EUNSUPPORTED,
                        "store open: unknown backend scheme '%.*s://' "
                        "(a file path, sqlite:<path> or postgresql://...)",
                        scheme < 20 ? scheme : 20, target);
    }
    }
}

am_status am_store_open(const char *path, const am_store_opts *opts,
                        am_store **out, am_error *err)
{
    am_store_opts o = opts != NULL ? *opts : am_store_opts_default();
    const am__store_backend *be = NULL;
    const char *target = NULL;
    am_store *s;
    am_status st;

    if (out == NULL)
        return am__fail(err, AM_EINVAL, "store open: NULL out");
    if (path == NULL || path[0] == '\0') {
        /* No target: the DATABASE_URL convention of hosted PostgreSQL. */
        path = getenv("DATABASE_URL");
        if (path == NULL || path[0] == '\0')
            return am__fail(err, AM_EINVAL, "store open: no target given "
                            "and DATABASE_URL is not set");
    }
    *out = NULL;
    if (o.busy_timeout_ms < 0)
        return am__fail(err, AM_EINVAL, "store open: busy_timeout_ms %d is "
                        "negative (0 does not wait for a lock)",
                        o.busy_timeout_ms);
    if (o.pool_size > AM_STORE_MAX_POOL)
        return am__fail(err, AM_EINVAL, "store open: pool_size %zu is more "
                        "than AM_STORE_MAX_POOL (%d) connections",
                        o.pool_size, AM_STORE_MAX_POOL);
    st = pick_backend(path, &be, &target, err);
    if (st != AM_OK)
        return st;
    if (o.pool_size > 1 && be == &am__store_backend_sqlite)
        return am__fail(err, AM_EUNSUPPORTED, "store open: pool_size %zu "
                        "is for PostgreSQL; a SQLite handle has one "
                        "connection (open one handle per thread instead)",
                        o.pool_size);
    if (o.key.len > 0 && be != &am__store_backend_sqlite)
        return am__fail(err, AM_EUNSUPPORTED, "store open: a key was given "
                        "for a PostgreSQL store; encryption at rest is for "
                        "SQLite files (PostgreSQL encrypts on the server's "
                        "side)");
    s = am__calloc(o.alloc, 1, sizeof *s);
    if (s == NULL)
        return am__fail(err, AM_ENOMEM, "store open: out of memory");
    s->be = be;
    s->alloc = am__allocator(o.alloc);
    s->clock = o.clock;
    s->embedder = o.embedder;
    s->busy_timeout_ms = o.busy_timeout_ms;
    s->sync_full = o.sync_full;
    s->scan_beside_min = AM__SCAN_BESIDE_MIN;
    snprintf(s->actor, sizeof s->actor, "%s",
             o.actor != NULL ? o.actor : "agentmem");
    s->vc.ns_pool.alloc = s->alloc;
    if (am__handle_sync_init(&s->errs, &s->mu, s->alloc, false) != AM_OK) {
        am__free(s->alloc, s, sizeof *s);
        return am__fail(err, AM_ENOMEM, "store open: cannot make a mutex");
    }
    st = be->open(s, target, &o, err);
    if (st != AM_OK) {
        be->close(s);
        pthread_mutex_destroy(&s->mu);
        am__errtab_free(&s->errs);
        am__free(s->alloc, s, sizeof *s);
        return st;
    }
    *out = s;
    return AM_OK;
}

void am_store_close(am_store *s)
{
    if (s == NULL)
        return;
    s->be->close(s);
    am__vcache_free(s);
    pthread_mutex_destroy(&s->mu);
    am__errtab_free(&s->errs);
    am__free(s->alloc, s, sizeof *s);
}

const am_error *am_store_last_error(const am_store *s)
{
    return s != NULL ? am__errtab_last(&s->errs) : am__errtab_null_handle();
}

/* ---- Preparing items (no lock) ---- */

/* Append the string leaves of `v` to `out`, separated by spaces. */
static am_status text_of(json_t *v, am_buf *out, int depth)
{
    am_status st = AM_OK;
    if (depth > 64)
        return AM_OK;
    if (json_is_string(v)) {
        if (out->len > 0)
            st = am_buf_append(out, " ", 1);
        if (st == AM_OK)
            st = am_buf_append(out, json_string_value(v),
                               json_string_length(v));
    } else if (json_is_object(v)) {
        const char *k;
        json_t *x;
        json_object_foreach(v, k, x) {
            st = text_of(x, out, depth + 1);
            if (st != AM_OK)
                break;
        }
    } else if (json_is_array(v)) {
        size_t i;
        json_t *x;
        json_array_foreach(v, i, x) {
            st = text_of(x, out, depth + 1);
            if (st != AM_OK)
                break;
        }
    }
    return st;
}

/* Parse any JSON value (scalars too), with am__json_parse's messages. */
static am_status parse_any(am_str text, const char *what, json_t **out,
                           am_error *err)
{
    json_error_t jerr;
    *out = json_loadb(text.ptr != NULL ? text.ptr : "", text.len,
                      JSON_DECODE_ANY, &jerr);
    if (*out != NULL)
        return AM_OK;
    if (strstr(jerr.text, "out of memory") != NULL)
        return am__fail(err, AM_ENOMEM, "%s: out of memory", what);
    return am__fail(err, AM_EFORMAT, "%s: %s at line %d, column %d (byte %d)",
                    what, jerr.text, jerr.line, jerr.column, jerr.position);
}


void am__store_prepared_free(am_store *s, am__prepared *p)
{
    am_buf_free(&p->ns);
    am_buf_free(&p->text);
    if (p->vec != NULL)
        am__free(s->alloc, p->vec, p->dim * sizeof(float));
    p->vec = NULL;
}

/* Validate, derive the text and embed, touching nothing shared in `s`
 * (only its allocator and embedder, which never change): callers run it
 * without the store's lock, so a slow embedder does not block others.
 * Errors go to `err`. */
/* ---- A fast JSON check for the common case ----
 *
 * Puts validate every value and derive its text from the string leaves.
 * Building a jansson tree for that costs more than the SQLite insert of a
 * small item, so values are first checked by this scanner, which accepts
 * a strict subset of what jansson accepts (and derives the same text):
 * anything it does not handle -- \u escapes, exponents, integers over 18
 * digits, more than 16 keys in one object or a repeated key, nesting past
 * 64 levels, or any error -- sends the value through jansson, which gives
 * the answer and the error message. */

typedef struct vscan {
    am__js js;     /* the shared scanner (core/jscan.h) */
    am_buf *out;   /* string leaves go here (NULL: validate only) */
    int oom;
} vscan;

#define JS_MAX_KEYS 16
#define JS_MAX_DEPTH 64

/* Append a string leaf's value (raw bytes between the quotes, escapes
 * other than \u) to j->out, space-separated. 0 on OOM. */
static int js_emit(vscan *j, am_str raw, bool esc)
{
    am_buf *o = j->out;
    if (o->len > 0 && am_buf_append(o, " ", 1) != AM_OK)
        return j->oom = 1, 0;
    if (!esc) {
        if (am_buf_append(o, raw.ptr, raw.len) != AM_OK)
            return j->oom = 1, 0;
        return 1;
    }
    if (am_buf_reserve(o, raw.len) != AM_OK)
        return j->oom = 1, 0;
    for (size_t i = 0; i < raw.len; i++) {
        char c = raw.ptr[i];
        if (c == '\\') {
            switch (raw.ptr[++i]) {
            case 'b': c = '\b'; break;
            case 'f': c = '\f'; break;
            case 'n': c = '\n'; break;
            case 'r': c = '\r'; break;
            case 't': c = '\t'; break;
            default: c = raw.ptr[i]; break; /* " \ / */
            }
        }
        o->ptr[o->len++] = c;
    }
    return 1;
}

/* A string (validated by the shared scanner); \u escapes are left to
 * jansson. `emit`: append its value to j->out. */
static int js_string(vscan *j, int emit, am_str *raw, bool *esc)
{
    if (am__js_string_raw(&j->js, raw, esc) != AM_OK)
        return 0;
    if (*esc) {
        for (size_t i = 0; i + 1 < raw->len; i++) {
            if (raw->ptr[i] == '\\') {
                if (raw->ptr[i + 1] == 'u')
                    return 0; /* \u: jansson's business */
                i++;
            }
        }
    }
    if (!emit || j->out == NULL)
        return 1;
    return js_emit(j, *raw, *esc);
}

static int js_value(vscan *j, int depth)
{
    am_str raw;
    bool esc;
    char c;

    if (depth > JS_MAX_DEPTH)
        return 0;
    c = am__js_peek(&j->js);
    switch (c) {
    case '"':
        return js_string(j, 1, &raw, &esc);
    case '{': {
        am_str keys[JS_MAX_KEYS];
        size_t n = 0;
        j->js.pos++;
        if (am__js_accept(&j->js, '}'))
            return 1;
        for (;;) {
            if (am__js_peek(&j->js) != '"' || n == JS_MAX_KEYS ||
                !js_string(j, 0, &raw, &esc) || esc)
                return 0;
            for (size_t i = 0; i < n; i++)
                if (keys[i].len == raw.len &&
                    memcmp(keys[i].ptr, raw.ptr, raw.len) == 0)
                    return 0; /* jansson keeps the last: let it */
            keys[n++] = raw;
            if (!am__js_accept(&j->js, ':') || !js_value(j, depth + 1))
                return 0;
            if (am__js_accept(&j->js, ','))
                continue;
            return am__js_accept(&j->js, '}');
        }
    }
    case '[':
        j->js.pos++;
        if (am__js_accept(&j->js, ']'))
            return 1;
        for (;;) {
            if (!js_value(j, depth + 1))
                return 0;
            if (am__js_accept(&j->js, ','))
                continue;
            return am__js_accept(&j->js, ']');
        }
    case 't':
    case 'f': {
        bool b;
        return am__js_bool(&j->js, &b) == AM_OK;
    }
    case 'n':
        return am__js_null(&j->js);
    default: {
        size_t i = 0, d = 0;
        if (am__js_number(&j->js, &raw) != AM_OK)
            return 0;
        if (raw.ptr[0] == '-')
            i++;
        while (i + d < raw.len && raw.ptr[i + d] >= '0' &&
               raw.ptr[i + d] <= '9')
            d++;
        if (d > 18)
            return 0; /* jansson checks the integer range */
        if (memchr(raw.ptr, 'e', raw.len) != NULL ||
            memchr(raw.ptr, 'E', raw.len) != NULL)
            return 0; /* exponents may overflow: jansson decides */
        return 1;
    }
    }
}

/* 1 if `text` is a JSON value this scanner accepts (its string leaves
 * appended to `out` unless NULL; *is_object tells the top-level kind),
 * 0 if jansson must decide (out may then hold a partial text; *oom set
 * on allocation failure). The shared scanner's error text is not used:
 * jansson gives the message. */
static int js_check(am_str text, am_buf *out, int *is_object, int *oom)
{
    vscan j;
    am_error scratch = { AM_OK, "" };
    int ok;

    *oom = 0;
    if (text.ptr == NULL)
        return 0;
    am__js_init(&j.js, text, "value", NULL, &scratch);
    j.out = out;
    j.oom = 0;
    *is_object = am__js_peek(&j.js) == '{';
    ok = js_value(&j, 0);
    *oom = j.oom;
    return ok && am__js_end(&j.js) == AM_OK;
}

am_status am__store_prepare(am_store *s, const am_item_in *it, size_t idx,
                            am__prepared *p, am_error *err)
{
    am_status st;
    json_t *v = NULL;
    char where[48];

    /* "item <idx>", for the messages below; not snprintf, which cost a
     * put more than its namespace encoding. */
    memcpy(where, "item ", 5);
    am__u64_dec(idx, 0, where + 5);
    memset(p, 0, sizeof *p);
    p->ns.alloc = s->alloc;
    p->text.alloc = s->alloc;
    st = am__ns_encode(it->ns, 0, &p->ns, err);
    if (st != AM_OK) {
        char detail[sizeof err->msg];
        memcpy(detail, err->msg, sizeof detail);
        return am__fail(err, st, "%s: %s", where, detail);
    }
    if (it->key.len == 0 || it->key.ptr == NULL)
        return am__fail(err, AM_EINVAL, "%s: empty key", where);
    if (it->key.len > 4096)
        return am__fail(err, AM_EINVAL, "%s: key is %zu bytes (at most "
                        "4096)", where, it->key.len);
    if (it->ttl_ms < 0)
        return am__fail(err, AM_EINVAL, "%s: negative ttl_ms", where);
    char what[64];
    int is_obj, oom;
    if (js_check(it->value, it->text.len > 0 ? NULL : &p->text, &is_obj,
                 &oom)) {
        st = it->text.len > 0
                 ? am_buf_append(&p->text, it->text.ptr, it->text.len)
                 : AM_OK;
    } else if (oom) {
        st = AM_ENOMEM;
    } else {
        /* Not the common case (or not JSON): jansson decides. */
        am_buf_clear(&p->text);
        snprintf(what, sizeof what, "%s: value", where);
        st = parse_any(it->value, what, &v, err);
        if (st != AM_OK)
            return st;
        if (it->text.len > 0)
            st = am_buf_append(&p->text, it->text.ptr, it->text.len);
        else
            st = text_of(v, &p->text, 0);
        json_decref(v);
        v = NULL;
    }
    if (st == AM_OK)
        st = am_buf_reserve(&p->text, 0);
    if (st != AM_OK)
        return am__fail(err, AM_ENOMEM, "%s: out of memory", where);
    p->text.ptr[p->text.len] = '\0';
    if (!am__utf8_valid(p->text.ptr, p->text.len, NULL))
        return am__fail(err, AM_EFORMAT, "%s: text is not UTF-8",
                        where);
    p->meta = it->meta.len > 0 ? it->meta : AM_STR("{}");
    if (it->meta.len > 0 && js_check(it->meta, NULL, &is_obj, &oom) &&
        is_obj) {
        /* a JSON object: fine */
    } else if (it->meta.len > 0) {
        snprintf(what, sizeof what, "%s: meta", where);
        st = am__json_parse(p->meta, what, &v, err);
        if (st != AM_OK)
            return st;
        if (!json_is_object(v)) {
            json_decref(v);
            return am__fail(err, AM_EFORMAT, "%s: meta must be a JSON "
                            "object", where);
        }
        json_decref(v);
    }

    if (it->vec != NULL) {
        if (it->dim == 0)
            return am__fail(err, AM_EINVAL, "%s: vector with dim 0",
                            where);
        p->dim = it->dim;
        p->model = it->vec_model != NULL ? it->vec_model : "caller";
        p->vec = am__alloc_array(s->alloc, p->dim, sizeof(float));
        if (p->vec == NULL)
            return am__fail(err, AM_ENOMEM, "%s: out of memory", where);
        memcpy(p->vec, it->vec, p->dim * sizeof(float));
    } else if (s->embedder != NULL && !it->no_embed && p->text.len > 0) {
        am_str t = { p->text.ptr, p->text.len };
        p->dim = s->embedder->dim;
        p->model = s->embedder->id;
        p->vec = am__alloc_array(s->alloc, p->dim, sizeof(float));
        if (p->vec == NULL)
            return am__fail(err, AM_ENOMEM, "%s: out of memory", where);
        st = am_embedder_embed(s->embedder, &t, 1, p->vec, err);
        if (st != AM_OK)
            return st;
    }
    if (p->vec != NULL)
        am__vec_normalize(p->vec, p->dim);
    return AM_OK;
}

/* The vector model and dimension fixed by the first stored vector. */

/* ---- Writes ---- */

am_status am__store_write(am_store *s, const am__write *w)
{
    am_status st = AM_OK;
    am__prepared one, *ps = &one;
    size_t done = 0, count = w->nput;
    am_error err = { AM_OK, "" };

    if (w->puts == NULL && count > 0) {
        st = am__fail(&err, AM_EINVAL, "put: NULL items");
        count = 0;
    } else if (w->dels == NULL && w->ndel > 0) {
        st = am__fail(&err, AM_EINVAL, "delete: NULL keys");
        count = 0;
    } else if (count > 1) {
        ps = am__alloc_array(s->alloc, count, sizeof *ps);
        if (ps == NULL) {
            st = am__fail(&err, AM_ENOMEM, "put: out of memory");
            count = 0;
        }
    }
    /* Parse and embed before taking the lock. */
    if (st == AM_OK && w->progress != NULL)
        w->progress(w->progress_ctx, 0, count);
    for (; st == AM_OK && done < count; done++) {
        st = am__store_prepare(s, &w->puts[done], done, &ps[done], &err);
        if (st != AM_OK) {
            done++;
            break;
        }
        if (w->progress != NULL)
            w->progress(w->progress_ctx, done + 1, count);
    }
    STORE_LOCK(s);
    if (st == AM_OK && (w->nput > 0 || w->ndel > 0 || w->clear.count > 0))
        st = s->be->write(s, w, ps, am_clock_now(s->clock));
    else if (st != AM_OK)
        am__error_copy(&AM__ERR(s), &err);
    STORE_UNLOCK(s);
    for (size_t i = 0; i < done; i++)
        am__store_prepared_free(s, &ps[i]);
    if (ps != &one)
        am__free(s->alloc, ps, count * sizeof *ps);
    return st;
}

am_status am_store_put_many(am_store *s, const am_item_in *items,
                            size_t count)
{
    am__write w;
    if (s == NULL)
        return AM_EINVAL;
    if (count == 0)
        return AM_OK;
    memset(&w, 0, sizeof w);
    w.puts = items;
    w.nput = count;
    return am__store_write(s, &w);
}

am_status am_store_put(am_store *s, const am_item_in *item)
{
    if (s == NULL)
        return AM_EINVAL;
    if (item == NULL) {
        STORE_LOCK(s);
        am__fail(&AM__ERR(s), AM_EINVAL, "put: NULL item");
        STORE_UNLOCK(s);
        return AM_EINVAL;
    }
    return am_store_put_many(s, item, 1);
}

/* ---- Everything else: one backend operation under the lock ---- */

#define CALL(s, op, ...)                                                     \
    do {                                                                     \
        if ((s) == NULL)                                                     \
            return AM_EINVAL;                                                \
        STORE_LOCK(s);                                                       \
        am_status st_ = (s)->be->op((s), __VA_ARGS__);                       \
        STORE_UNLOCK(s);                                                     \
        return st_;                                                          \
    } while (0)

am_status am_store_get(am_store *s, am_ns ns, am_str key, am_buf *value)
{
    CALL(s, get, ns, key, value);
}

am_status am__store_fail_at(am_store *s, am_status st, const char *what,
                            size_t i)
{
    if (st == AM_ENOMEM)
        return st;
    char detail[sizeof AM__ERR(s).msg];
    memcpy(detail, AM__ERR(s).msg, sizeof detail);
    return am__fail(&AM__ERR(s), st, "%s %zu: %s", what, i, detail);
}

am_status am__store_copy_out(am_store *s, am_str v, am_buf *out,
                             const char *what)
{
    am_buf_clear(out);
    if (am_buf_append(out, v.ptr != NULL ? v.ptr : "", v.len) != AM_OK)
        return am__fail(&AM__ERR(s), AM_ENOMEM, "%s: out of memory", what);
    return AM_OK; /* am_buf_append leaves it NUL-terminated */
}

am_status am__store_not_live(am_store *s, am_str key)
{
    return am__fail(&AM__ERR(s), AM_ENOTFOUND, "no live item '%.*s'",
                    (int)(key.len > 64 ? 64 : key.len), key.ptr);
}

am_status am__store_key_ok(am_store *s, am_str key)
{
    if (key.len == 0 || key.ptr == NULL)
        return am__fail(&AM__ERR(s), AM_EINVAL, "empty key");
    return AM_OK;
}

am_status am__store_item_addr(am_store *s, am_ns ns, am_str key,
                              am_buf *enc)
{
    am_status st = am__ns_encode(ns, 0, enc, &AM__ERR(s));
    return st == AM_OK ? am__store_key_ok(s, key) : st;
}

am_status am__store_ns_range(am_store *s, am_ns ns, am_buf *lo, am_buf *hi)
{
    am_status st = am__ns_encode(ns, 1, lo, &AM__ERR(s));
    if (st != AM_OK)
        return st;
    if (am__ns_upper((am_str){ lo->ptr, lo->len }, hi) != AM_OK)
        return am__fail(&AM__ERR(s), AM_ENOMEM, "namespace: out of memory");
    return AM_OK;
}

/* Counts from callers reach SQL as int64 and are multiplied (a search
 * looks at 4x limit candidates): a count past this means "all", which
 * no store can hold anyway, and nothing downstream wraps. */
#define MAX_COUNT ((size_t)(INT64_MAX / 8))
size_t am__store_count_cap(size_t n)
{
    return n > MAX_COUNT ? MAX_COUNT : n;
}


am_status am_store_vacuum(am_store *s, bool full)
{
    CALL(s, vacuum, full);
}

am_status am_store_check(am_store *s)
{
    if (s == NULL)
        return AM_EINVAL;
    STORE_LOCK(s);
    am_status st = s->be->check(s);
    STORE_UNLOCK(s);
    return st;
}

am_status am_store_checkpoint(am_store *s, size_t *wal_pages,
                              size_t *left_pages)
{
    size_t wal = 0, left = 0;
    am_status st = AM_OK;

    if (s == NULL)
        return AM_EINVAL;
    STORE_LOCK(s);
    if (s->be->checkpoint != NULL)
        st = s->be->checkpoint(s, &wal, &left);
    STORE_UNLOCK(s);
    if (wal_pages != NULL)
        *wal_pages = wal;
    if (left_pages != NULL)
        *left_pages = left;
    return st;
}

/* ---- Search ---- */

am_status am_store_search(am_store *s, const am_search *q, am_results **out)
{
    am__rbuild b;
    am_status st = AM_OK;
    am_error err = { AM_OK, "" };
    float *qemb = NULL;
    size_t edim = 0;
    am__filter *filter = NULL;

    if (s == NULL || out == NULL)
        return AM_EINVAL;
    *out = NULL;
    if (q == NULL)
        st = am__fail(&err, AM_EINVAL, "search: NULL query");
    else if (q->mode > AM_SEARCH_VECTOR)
        st = am__fail(&err, AM_EINVAL, "search: unknown mode %d",
                      (int)q->mode);
    else if (!(q->boost >= 0 && q->boost <= 1)) /* also NaN */
        st = am__fail(&err, AM_EINVAL, "search: boost %g is outside [0, 1]",
                      q->boost);
    else if (!(q->names_bonus >= 0 && q->names_bonus <= 1))
        st = am__fail(&err, AM_EINVAL, "search: names_bonus %g is outside "
                      "[0, 1]", q->names_bonus);
    /* A weight with nothing to weigh is a mistake, not a no-op. The one
     * place this is said: the CLI and Python rely on it. */
    else if (q->boost > 0 && q->boost_field.len == 0)
        st = am__fail(&err, AM_EINVAL, "search: boost %g needs boost_field "
                      "(the metadata field saying who or what each item is "
                      "about)", q->boost);
    else if (q->names_bonus > 0 && q->names_field.len == 0)
        st = am__fail(&err, AM_EINVAL, "search: names_bonus %g needs "
                      "names_field (the metadata field listing each "
                      "item's names)", q->names_bonus);
    else if (q->mode == AM_SEARCH_VECTOR && q->vec == NULL &&
             s->embedder == NULL)
        st = am__fail(&err, AM_EINVAL, "search: vector mode needs a query "
                      "vector (am_search.vec) or a store opened with an "
                      "embedder to embed the query");
    else if (q->mode == AM_SEARCH_VECTOR && q->vec == NULL &&
             q->query.len == 0)
        st = am__fail(&err, AM_EINVAL, "search: vector mode has nothing to "
                      "embed: the query is empty (give a query text, or a "
                      "query vector in am_search.vec)");
    /* One parser for every backend (filter.c); each compiles the tree
     * into its own SQL. */
    if (st == AM_OK)
        st = am__filter_parse(s->alloc, q->filter, &filter, &err);
    /* Embed the query before taking the lock: an embedder may be slow (a
     * network call) and must not hold up the other threads. */
    if (st == AM_OK && q->mode != AM_SEARCH_TEXT && q->vec == NULL &&
        s->embedder != NULL && q->query.len > 0) {
        edim = s->embedder->dim;
        qemb = am__alloc_array(s->alloc, edim, sizeof(float));
        if (qemb == NULL)
            st = am__fail(&err, AM_ENOMEM, "search: out of memory");
        else
            st = am_embedder_embed(s->embedder, &q->query, 1, qemb, &err);
    }
    STORE_LOCK(s);
    if (st != AM_OK) {
        am__error_copy(&AM__ERR(s), &err);
    } else {
        st = am__rb_init(&b, s->alloc);
        if (st != AM_OK)
            st = am__fail(&AM__ERR(s), AM_ENOMEM, "search: out of memory");
        else {
            am_search capped = *q;
            capped.limit = am__store_count_cap(q->limit);
            st = s->be->search(s, &capped, filter, qemb, &b);
        }
        if (st == AM_OK) {
            /* Best first: what falls below the threshold is a tail. */
            while (b.r->count > 0 &&
                   b.r->items[b.r->count - 1].score < q->min_score)
                b.r->count--;
            *out = am__rb_finish(&b);
            if (*out == NULL)
                st = am__fail(&AM__ERR(s), AM_ENOMEM, "search: out of memory");
        } else if (b.r != NULL) {
            am__rb_abort(&b);
        }
    }
    STORE_UNLOCK(s);
    am__filter_free(filter);
    if (qemb != NULL)
        am__free(s->alloc, qemb, edim * sizeof(float));
    return st;
}
