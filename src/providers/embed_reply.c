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
 * Numbers are converted with a fast path: up to 19 significant digits go
 * into an integer and are scaled by an exact power of ten in long double,
 * which is then rounded to float. Anything else (more digits, exponents
 * beyond 10^+-27) takes strtod. Either way the float is the correctly
 * rounded value or one unit in the last place from it, far below what an
 * embedding can resolve.
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
#include <stdlib.h>
#include <string.h>

#include "providers_int.h"

#define MAX_DEPTH 512

typedef struct scan {
    const char *p, *begin, *end;
    const char *syntax;   /* first syntax error, static text */
    size_t syntax_at;
} scan;

static bool bad(scan *s, const char *why)
{
    if (s->syntax == NULL) {
        s->syntax = why;
        s->syntax_at = (size_t)(s->p - s->begin);
    }
    return false;
}

static void ws(scan *s)
{
    while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' ||
                             *s->p == '\n' || *s->p == '\r'))
        s->p++;
}

static bool at(const scan *s, char c)
{
    return s->p < s->end && *s->p == c;
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool is_hex(char c)
{
    return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* A string at s->p (the opening quote); its raw bytes in *str. */
static bool string(scan *s, am_str *str)
{
    const char *b = ++s->p;
    while (s->p < s->end) {
        unsigned char c = (unsigned char)*s->p;
        if (c == '"') {
            str->ptr = b;
            str->len = (size_t)(s->p - b);
            if (!am__utf8_valid(b, str->len, NULL))
                return bad(s, "invalid UTF-8 in a string");
            s->p++;
            return true;
        }
        if (c == '\\') {
            if (++s->p >= s->end)
                break;
            c = (unsigned char)*s->p;
            if (c == 'u') {
                if (s->end - s->p < 5 || !is_hex(s->p[1]) ||
                    !is_hex(s->p[2]) || !is_hex(s->p[3]) || !is_hex(s->p[4]))
                    return bad(s, "invalid \\u escape");
                s->p += 5;
                continue;
            }
            if (c == 0 || strchr("\"\\/bfnrt", c) == NULL)
                return bad(s, "invalid escape");
        } else if (c < 0x20) {
            return bad(s, "control character in a string");
        }
        s->p++;
    }
    return bad(s, "unterminated string");
}

static const long double pow10_exact[28] = {
    1e0L,  1e1L,  1e2L,  1e3L,  1e4L,  1e5L,  1e6L,  1e7L,  1e8L,  1e9L,
    1e10L, 1e11L, 1e12L, 1e13L, 1e14L, 1e15L, 1e16L, 1e17L, 1e18L, 1e19L,
    1e20L, 1e21L, 1e22L, 1e23L, 1e24L, 1e25L, 1e26L, 1e27L,
};

/* strtod for the rare number off the fast path. The digits are rewritten
 * as an integer with an exponent ("0.00123" -> "123e-5"), so that the
 * process's LC_NUMERIC decimal point never matters and nothing touches
 * localeconv()'s shared buffer from several threads. At most 60
 * significant digits are kept, far beyond double precision. */
static double slow_strtod(const char *b, size_t len)
{
    char buf[96];
    size_t o = 0;
    const char *q = b, *qe = b + len;
    bool point = false, nonzero = false, eneg = false;
    long adj = 0, e = 0;

    if (q < qe && *q == '-')
        buf[o++] = *q++;
    for (; q < qe && *q != 'e' && *q != 'E'; q++) {
        if (*q == '.') {
            point = true;
            continue;
        }
        if (!nonzero && *q == '0') {
            if (point)
                adj--;
            continue;
        }
        nonzero = true;
        if (o < 61) {
            buf[o++] = *q;
            if (point)
                adj--;
        } else if (!point) {
            adj++;
        }
    }
    if (!nonzero)
        buf[o++] = '0';
    if (q < qe) { /* exponent */
        q++;
        if (q < qe && (*q == '+' || *q == '-'))
            eneg = *q++ == '-';
        for (; q < qe; q++)
            if (e < 100000)
                e = e * 10 + (*q - '0');
    }
    snprintf(buf + o, sizeof buf - o, "e%ld", (eneg ? -e : e) + adj);
    return strtod(buf, NULL);
}

typedef struct number {
    double value;
    bool is_int;          /* no fraction, no exponent, fits in int64 */
    long long int_value;
} number;

/* A number at s->p; `out` NULL: check syntax only. */
static bool parse_number(scan *s, number *out)
{
    const char *b = s->p;
    bool neg = false, exact = true, is_int = true;
    uint64_t mant = 0;
    int sig = 0;          /* significant digits in mant */
    long exp10 = 0, e = 0;

    if (at(s, '-')) {
        neg = true;
        s->p++;
    }
    if (at(s, '0')) {
        s->p++;
    } else if (s->p < s->end && *s->p >= '1' && *s->p <= '9') {
        for (; s->p < s->end && is_digit(*s->p); s->p++) {
            if (sig < 19) {
                mant = mant * 10 + (uint64_t)(*s->p - '0');
                sig++;
            } else {
                exp10++;
                exact = false;
            }
        }
    } else {
        return bad(s, "invalid number");
    }
    if (at(s, '.')) {
        is_int = false;
        s->p++;
        if (s->p >= s->end || !is_digit(*s->p))
            return bad(s, "invalid number");
        for (; s->p < s->end && is_digit(*s->p); s->p++) {
            if (mant == 0 && *s->p == '0') {
                exp10--; /* leading zeros of 0.000123 */
            } else if (sig < 19) {
                mant = mant * 10 + (uint64_t)(*s->p - '0');
                sig++;
                exp10--;
            } else {
                exact = false;
            }
        }
    }
    if (at(s, 'e') || at(s, 'E')) {
        bool eneg = false;
        is_int = false;
        s->p++;
        if (at(s, '+') || at(s, '-'))
            eneg = *s->p++ == '-';
        if (s->p >= s->end || !is_digit(*s->p))
            return bad(s, "invalid number");
        for (; s->p < s->end && is_digit(*s->p); s->p++)
            if (e < 100000)
                e = e * 10 + (*s->p - '0');
        exp10 += eneg ? -e : e;
    }
    if (out == NULL)
        return true;
    out->is_int = is_int && exact && sig <= 18;
    out->int_value = neg ? -(long long)mant : (long long)mant;
    if (mant == 0) {
        out->value = neg ? -0.0 : 0.0;
    } else if (exp10 >= -27 && exp10 <= 27) {
        long double v = (long double)mant;
        v = exp10 >= 0 ? v * pow10_exact[exp10] : v / pow10_exact[-exp10];
        out->value = (double)(neg ? -v : v);
    } else {
        out->value = slow_strtod(b, (size_t)(s->p - b));
    }
    return true;
}

static bool skip_value(scan *s, int depth);

static bool skip_container(scan *s, int depth, char close, bool object)
{
    if (depth > MAX_DEPTH)
        return bad(s, "nesting too deep");
    s->p++;
    ws(s);
    if (at(s, close)) {
        s->p++;
        return true;
    }
    for (;;) {
        if (object) {
            am_str key;
            ws(s);
            if (!at(s, '"'))
                return bad(s, "expected a string key");
            if (!string(s, &key))
                return false;
            ws(s);
            if (!at(s, ':'))
                return bad(s, "expected ':'");
            s->p++;
        }
        if (!skip_value(s, depth + 1))
            return false;
        ws(s);
        if (at(s, ',')) {
            s->p++;
            continue;
        }
        if (at(s, close)) {
            s->p++;
            return true;
        }
        return bad(s, object ? "expected ',' or '}'" : "expected ',' or ']'");
    }
}

static bool literal(scan *s, const char *word)
{
    size_t n = strlen(word);
    if ((size_t)(s->end - s->p) < n || memcmp(s->p, word, n) != 0)
        return bad(s, "invalid literal");
    s->p += n;
    return true;
}

static bool skip_value(scan *s, int depth)
{
    am_str str;
    ws(s);
    if (s->p >= s->end)
        return bad(s, "unexpected end of input");
    switch (*s->p) {
    case '{':
        return skip_container(s, depth, '}', true);
    case '[':
        return skip_container(s, depth, ']', false);
    case '"':
        return string(s, &str);
    case 't':
        return literal(s, "true");
    case 'f':
        return literal(s, "false");
    case 'n':
        return literal(s, "null");
    default:
        if (*s->p == '-' || is_digit(*s->p))
            return parse_number(s, NULL);
        return bad(s, "unexpected character");
    }
}

static bool key_is(am_str k, const char *name)
{
    return k.len == strlen(name) && memcmp(k.ptr, name, k.len) == 0;
}

/* ---- The reply ---- */

typedef struct reader {
    scan s;
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

/* One element of data[]: {"index": i, "embedding": [...], ...}. */
static bool read_item(reader *r, size_t i)
{
    scan *s = &r->s;
    const char *emb = NULL;   /* start of the embedding array */
    bool emb_string = false, has_index = false;
    long long index = 0;
    size_t n = 0, first_nan = SIZE_MAX, slot;
    am_str key;

    ws(s);
    if (!at(s, '{')) {
        if (!skip_value(s, 2))
            return false;
        return semantic(r, "lacks array field 'data[%zu].embedding'", i);
    }
    s->p++;
    ws(s);
    if (at(s, '}'))
        s->p++;
    else
        for (;;) {
            ws(s);
            if (!at(s, '"'))
                return bad(s, "expected a string key");
            if (!string(s, &key))
                return false;
            ws(s);
            if (!at(s, ':'))
                return bad(s, "expected ':'");
            s->p++;
            ws(s);
            if (key_is(key, "index") && s->p < s->end &&
                (*s->p == '-' || is_digit(*s->p))) {
                number num;
                if (!parse_number(s, &num))
                    return false;
                has_index = num.is_int;
                index = num.int_value;
            } else if (key_is(key, "embedding") && at(s, '[')) {
                /* Count and check now, convert once the index is known. */
                emb = s->p;
                emb_string = false;
                n = 0;
                first_nan = SIZE_MAX;
                s->p++;
                ws(s);
                if (at(s, ']')) {
                    s->p++;
                } else {
                    for (;;) {
                        ws(s);
                        if (s->p < s->end && (*s->p == '-' ||
                                              is_digit(*s->p))) {
                            if (!parse_number(s, NULL))
                                return false;
                        } else {
                            if (!skip_value(s, 4))
                                return false;
                            if (first_nan == SIZE_MAX)
                                first_nan = n;
                        }
                        n++;
                        ws(s);
                        if (at(s, ',')) {
                            s->p++;
                            continue;
                        }
                        if (at(s, ']')) {
                            s->p++;
                            break;
                        }
                        return bad(s, "expected ',' or ']'");
                    }
                }
            } else {
                if (key_is(key, "embedding")) {
                    emb = NULL;
                    emb_string = at(s, '"');
                }
                if (!skip_value(s, 3))
                    return false;
            }
            ws(s);
            if (at(s, ',')) {
                s->p++;
                continue;
            }
            if (at(s, '}')) {
                s->p++;
                break;
            }
            return bad(s, "expected ',' or '}'");
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
    if (emb == NULL)
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
        scan conv = { emb + 1, r->s.begin, r->s.end, NULL, 0 };
        float *row = r->out + slot * *r->dim;
        for (size_t j = 0; j < n; j++) {
            number num;
            ws(&conv);
            parse_number(&conv, &num);
            if (!isfinite(num.value) || fabs(num.value) > FLT_MAX)
                return semantic(r, "field 'data[%zu].embedding[%zu]' is "
                                "not a finite float", i, j);
            row[j] = (float)num.value;
            ws(&conv);
            conv.p++; /* ',' or ']' */
        }
    }
    return true;
}

static bool read_data(reader *r)
{
    scan *s = &r->s;
    size_t i = 0;

    ws(s);
    if (!at(s, '[')) {
        if (!skip_value(s, 1))
            return false;
        return semantic(r, "field 'data' is not an array");
    }
    s->p++;
    ws(s);
    if (at(s, ']')) {
        s->p++;
    } else {
        for (;;) {
            if (i < r->count) {
                if (!read_item(r, i))
                    return false;
            } else if (!skip_value(s, 2)) {
                return false;
            }
            i++;
            ws(s);
            if (at(s, ',')) {
                s->p++;
                continue;
            }
            if (at(s, ']')) {
                s->p++;
                break;
            }
            return bad(s, "expected ',' or ']'");
        }
    }
    if (i != r->count)
        return semantic(r, "has %zu vectors in 'data' for %zu inputs", i,
                        r->count);
    return true;
}

static bool read_reply(reader *r)
{
    scan *s = &r->s;
    bool has_data = false;
    am_str key;

    ws(s);
    if (!at(s, '{')) {
        if (!skip_value(s, 0))
            return false;
        ws(s);
        if (s->p != s->end)
            return bad(s, "end of input expected");
        return semantic(r, "lacks field 'data'");
    }
    s->p++;
    ws(s);
    if (at(s, '}'))
        s->p++;
    else
        for (;;) {
            ws(s);
            if (!at(s, '"'))
                return bad(s, "expected a string key");
            if (!string(s, &key))
                return false;
            ws(s);
            if (!at(s, ':'))
                return bad(s, "expected ':'");
            s->p++;
            if (key_is(key, "data")) {
                if (has_data)
                    return semantic(r, "has field 'data' twice");
                has_data = true;
                if (!read_data(r))
                    return false;
            } else if (!skip_value(s, 1)) {
                return false;
            }
            ws(s);
            if (at(s, ',')) {
                s->p++;
                continue;
            }
            if (at(s, '}')) {
                s->p++;
                break;
            }
            return bad(s, "expected ',' or '}'");
        }
    ws(s);
    if (s->p != s->end)
        return bad(s, "end of input expected");
    if (!has_data)
        return semantic(r, "lacks field 'data'");
    return true;
}

am_status am__embed_parse_reply(am_str body, size_t count, size_t *dim,
                                float *out, am_error *err)
{
    reader r;
    bool ok;

    memset(&r, 0, sizeof r);
    r.s.p = r.s.begin = body.ptr != NULL ? body.ptr : "";
    r.s.end = r.s.p + body.len;
    r.body = body;
    r.count = count;
    r.dim = dim;
    r.out = out;
    r.err = err;
    r.seen = am__calloc(NULL, count > 0 ? count : 1, 1);
    if (r.seen == NULL)
        return am__fail(err, AM_ENOMEM, "embeddings: out of memory");
    ok = read_reply(&r);
    am__free(NULL, r.seen, count > 0 ? count : 1);
    if (ok)
        return AM_OK;
    if (r.st != AM_OK)
        return r.st;
    {
        char ex[140];
        am__excerpt(body, 100, ex, sizeof ex);
        return am__fail(err, AM_EPROTO, "embeddings: reply is not JSON: %s "
                        "at byte %zu (reply: %s)", r.s.syntax,
                        r.s.syntax_at, ex);
    }
}
