/* embed_reply.c -- read an embeddings reply without building a JSON tree.
 *
 * An embeddings reply is mostly numbers: 64 vectors of 1536 dimensions are
 * 98,304 of them. Parsing that with a general JSON library costs a heap
 * object per number and a locale-aware strtod each (about 0.5 us per
 * number here), which for a local embedding server is a real share of the
 * call. So this file scans the reply once, validating the whole document
 * as JSON (objects, arrays, strings with their escapes and UTF-8, number
 * syntax, nesting depth), and converts only the numbers of
 * data[i].embedding straight into the caller's float rows.
 *
 * The scanning is the project's shared JSON scanner (core/jscan.h):
 * this file only walks the reply's shape. Numbers are converted by
 * am__js_number_value (exact long-double fast path, strtod otherwise), so
 * each float is the correctly rounded value or one unit in the last place
 * from it, far below what an embedding can resolve.
 *
 * The rules are those of the tree-based reader this replaces: every input
 * answered exactly once, placed by its "index" (or by position when a
 * record has no integer index), all vectors of one dimension, all numbers
 * finite floats; errors name the field and quote the reply's start.
 */
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "core/jscan.h"
#include "providers_int.h"

static bool key_is(am_str k, const char *name)
{
    return k.len == strlen(name) && memcmp(k.ptr, name, k.len) == 0;
}

typedef struct reader {
    am__js js;            /* syntax errors go to `syn` */
    am_error syn;
    am_str body;
    size_t count;
    size_t *dim;
    float *out;
    unsigned char *seen;
    am_error *err;
    am_status st;         /* set by a semantic error */
} reader;

static bool semantic(reader *r, const char *fmt, ...) AM__PRINTF(2, 3);

static bool semantic(reader *r, const char *fmt, ...)
{
    char what[160], ex[140];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    am__excerpt(r->body, 100, ex, sizeof ex);
    r->st = am__fail(r->err, AM_EPROTO, "embeddings: reply %s (reply: %s)",
                     what, ex);
    return false;
}

/* Skip any value (validated by the shared scanner). */
static bool skip(reader *r)
{
    am_str span;
    return am__js_value(&r->js, &span) == AM_OK;
}

/* After a member or element: ',' (true, *more) or `close` (true, !*more). */
static bool next(reader *r, char close, bool *more)
{
    if (am__js_accept(&r->js, ',')) {
        *more = true;
        return true;
    }
    *more = false;
    return am__js_expect(&r->js, close) == AM_OK;
}

/* A key and its ':'. */
static bool key(reader *r, am_str *k)
{
    bool esc;
    return am__js_string_raw(&r->js, k, &esc) == AM_OK &&
           am__js_expect(&r->js, ':') == AM_OK;
}

static bool is_num_start(char c)
{
    return c == '-' || (c >= '0' && c <= '9');
}

/* One element of data[]: {"index": i, "embedding": [...], ...}. */
static bool read_item(reader *r, size_t i)
{
    am__js *js = &r->js;
    size_t emb = SIZE_MAX;    /* offset of the embedding array */
    bool emb_string = false, has_index = false, more;
    long long index = 0;
    size_t n = 0, first_nan = SIZE_MAX, slot;
    am_str k;
    am__jnum num;

    if (am__js_peek(js) != '{') {
        if (!skip(r))
            return false;
        return semantic(r, "lacks array field 'data[%zu].embedding'", i);
    }
    js->pos++;
    if (!am__js_accept(js, '}'))
        for (more = true; more;) {
            char c;
            if (!key(r, &k))
                return false;
            c = am__js_peek(js);
            if (key_is(k, "index") && is_num_start(c)) {
                if (am__js_number_value(js, &num) != AM_OK)
                    return false;
                has_index = num.is_int;
                index = num.int_value;
            } else if (key_is(k, "embedding") && c == '[') {
                /* Count and check now, convert once the index is known. */
                emb = js->pos;
                emb_string = false;
                n = 0;
                first_nan = SIZE_MAX;
                js->pos++;
                if (!am__js_accept(js, ']'))
                    for (bool more2 = true; more2; n++) {
                        am_str span;
                        if (is_num_start(am__js_peek(js))) {
                            if (am__js_number(js, &span) != AM_OK)
                                return false;
                        } else {
                            if (!skip(r))
                                return false;
                            if (first_nan == SIZE_MAX)
                                first_nan = n;
                        }
                        if (!next(r, ']', &more2))
                            return false;
                    }
            } else {
                if (key_is(k, "embedding")) {
                    emb = SIZE_MAX;
                    emb_string = c == '"';
                }
                if (!skip(r))
                    return false;
            }
            if (!next(r, '}', &more))
                return false;
        }

    slot = i;
    if (has_index) {
        if (index < 0 || (unsigned long long)index >= r->count)
            return semantic(r, "field 'data[%zu].index' is %lld, outside "
                            "0..%zu", i, index, r->count - 1);
        slot = (size_t)index;
    }
    if (r->seen[slot])
        return semantic(r, "answers input %zu twice (in 'data[%zu]')", slot,
                        i);
    r->seen[slot] = 1;
    if (emb == SIZE_MAX)
        return semantic(r, "lacks array field 'data[%zu].embedding'%s", i,
                        emb_string ? " (base64 is not supported)" : "");
    if (*r->dim == 0) {
        if (n == 0)
            return semantic(r, "has an empty embedding");
        *r->dim = n;
    }
    if (n != *r->dim)
        return semantic(r, "has a vector of dimension %zu for input %zu, "
                        "expected %zu", n, slot, *r->dim);
    if (first_nan != SIZE_MAX)
        return semantic(r, "field 'data[%zu].embedding[%zu]' is not a "
                        "number", i, first_nan);
    if (r->out != NULL) {
        /* Second pass over the array checked above: numbers only. */
        am__js conv = *js;
        float *row = r->out + slot * *r->dim;
        conv.pos = emb + 1;
        for (size_t j = 0; j < n; j++) {
            (void)am__js_number_value(&conv, &num);
            if (!isfinite(num.value) || fabs(num.value) > FLT_MAX)
                return semantic(r, "field 'data[%zu].embedding[%zu]' is "
                                "not a finite float", i, j);
            row[j] = (float)num.value;
            (void)am__js_peek(&conv);
            conv.pos++; /* ',' or ']' */
        }
    }
    return true;
}

static bool read_data(reader *r)
{
    am__js *js = &r->js;
    size_t i = 0;
    bool more;

    if (am__js_peek(js) != '[') {
        if (!skip(r))
            return false;
        return semantic(r, "field 'data' is not an array");
    }
    js->pos++;
    if (!am__js_accept(js, ']'))
        for (more = true; more; i++) {
            if (i < r->count) {
                if (!read_item(r, i))
                    return false;
            } else if (!skip(r)) {
                return false;
            }
            if (!next(r, ']', &more))
                return false;
        }
    if (i != r->count)
        return semantic(r, "has %zu vectors in 'data' for %zu inputs", i,
                        r->count);
    return true;
}

/* Trailing text: the message names the byte, as it always did. */
static bool at_end(reader *r)
{
    if (am__js_peek(&r->js) == '\0' && r->js.pos == r->js.len)
        return true;
    am__fail(&r->syn, AM_EPROTO, "embeddings: reply is not JSON: end of "
             "input expected at byte %zu", r->js.pos);
    return false;
}

static bool read_reply(reader *r)
{
    am__js *js = &r->js;
    bool has_data = false, more;
    am_str k;

    if (am__js_peek(js) != '{') {
        if (!skip(r) || !at_end(r))
            return false;
        return semantic(r, "lacks field 'data'");
    }
    js->pos++;
    if (!am__js_accept(js, '}'))
        for (more = true; more;) {
            if (!key(r, &k))
                return false;
            if (key_is(k, "data")) {
                if (has_data)
                    return semantic(r, "has field 'data' twice");
                has_data = true;
                if (!read_data(r))
                    return false;
            } else if (!skip(r)) {
                return false;
            }
            if (!next(r, '}', &more))
                return false;
        }
    if (!at_end(r))
        return false;
    if (!has_data)
        return semantic(r, "lacks field 'data'");
    return true;
}

am_status am__embed_parse_reply(const am_allocator *a, am_str body,
                                size_t count, size_t *dim, float *out,
                                am_error *err)
{
    reader r;
    bool ok;

    memset(&r, 0, sizeof r);
    am__js_init(&r.js, body, "embeddings: reply is not JSON", NULL, &r.syn);
    r.body = body;
    r.count = count;
    r.dim = dim;
    r.out = out;
    r.err = err;
    r.seen = am__calloc(a, count > 0 ? count : 1, 1);
    if (r.seen == NULL)
        return am__fail(err, AM_ENOMEM, "embeddings: out of memory");
    ok = read_reply(&r);
    am__free(a, r.seen, count > 0 ? count : 1);
    if (ok)
        return AM_OK;
    if (r.st != AM_OK)
        return r.st;
    {
        char ex[140];
        am__excerpt(body, 100, ex, sizeof ex);
        return am__fail(err, AM_EPROTO, "%s (reply: %s)", r.syn.msg, ex);
    }
}
