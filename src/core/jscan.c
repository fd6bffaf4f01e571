/* jscan.c -- the shared cursor JSON scanner with precise error positions.
 *
 * The conversation file of 100,000 messages must load in well under half
 * a second, which a general DOM parser (allocate every node, then walk it)
 * does not reach. This scanner reads the text in place: the message parser
 * asks for "an object key", "a string", "any value", and gets views into
 * the input. Escaped strings are the only copies. Positions are byte
 * offsets; line and column are counted only when an error is reported.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jscan.h"

void am__js_init(am__js *js, am_str text, const char *what, am__arena *tmp,
                 am_error *err)
{
    js->s = text.ptr != NULL ? text.ptr : "";
    js->len = text.len;
    js->pos = 0;
    js->base = 0;
    js->what = what;
    js->err = err;
    js->tmp = tmp;
    js->depth = 0;
}

void am__js_skip_bom(am__js *js)
{
    if (js->pos == 0 && js->len >= 3 && memcmp(js->s, "\xEF\xBB\xBF", 3) == 0)
        js->pos = 3;
}

am_status am__js_fail(am__js *js, size_t pos, const char *fmt, ...)
{
    char detail[160];
    va_list ap;
    size_t line = 1, col = 1;

    if (pos > js->len)
        pos = js->len;
    for (size_t i = 0; i < pos; i++) {
        if (js->s[i] == '\n') {
            line++;
            col = 1;
        } else if (((unsigned char)js->s[i] & 0xC0) != 0x80) {
            col++;
        }
    }
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    return am__fail(js->err, AM_EFORMAT,
                    "%s: %s at line %zu, column %zu (byte %zu)", js->what,
                    detail, line, col, pos + js->base);
}

static inline void skip_ws(am__js *js)
{
    while (js->pos < js->len) {
        char c = js->s[js->pos];
        if (c != ' ' && c != '\n' && c != '\r' && c != '\t')
            break;
        js->pos++;
    }
}

char am__js_peek(am__js *js)
{
    skip_ws(js);
    return js->pos < js->len ? js->s[js->pos] : '\0';
}

static const char *describe(am__js *js)
{
    if (js->pos >= js->len)
        return "unexpected end of input";
    return "unexpected character";
}

am_status am__js_expect(am__js *js, char c)
{
    skip_ws(js);
    if (js->pos < js->len && js->s[js->pos] == c) {
        js->pos++;
        return AM_OK;
    }
    return am__js_fail(js, js->pos, "%s, expected '%c'", describe(js), c);
}

bool am__js_accept(am__js *js, char c)
{
    skip_ws(js);
    if (js->pos < js->len && js->s[js->pos] == c) {
        js->pos++;
        return true;
    }
    return false;
}

static bool hex4(const char *p, unsigned *out)
{
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        int h = am__hexval(p[i]);
        if (h < 0)
            return false;
        v = v << 4 | (unsigned)h;
    }
    *out = v;
    return true;
}

/* Scan the string starting at the opening quote; on success js->pos is
 * past the closing quote, *end the index of the closing quote, *escapes
 * whether any backslash occurred. Validates escapes, control characters
 * and UTF-8. */
static am_status scan_string(am__js *js, size_t *start, size_t *end,
                             bool *escapes)
{
    const char *s = js->s;
    size_t i, n = js->len;
    size_t run;
    bool high = false;

    skip_ws(js);
    if (js->pos >= n || s[js->pos] != '"')
        return am__js_fail(js, js->pos, "%s, expected a string",
                           describe(js));
    i = js->pos + 1;
    *start = i;
    *escapes = false;
    run = i;
    for (;;) {
        unsigned char c;
        /* Eight plain bytes at a time: no quote, backslash, control or
         * non-ASCII byte among them (the tests may report false
         * positives, which the byte loop below sorts out, never false
         * negatives). */
        while (i + 8 <= n) {
            const uint64_t ones = 0x0101010101010101ull;
            const uint64_t highs = 0x8080808080808080ull;
            uint64_t w, q, b;
            memcpy(&w, s + i, 8);
            q = w ^ (ones * '"');
            b = w ^ (ones * '\\');
            if ((((q - ones) & ~q) | ((b - ones) & ~b) |
                 (w - ones * 0x20) | w) & highs)
                break;
            i += 8;
        }
        if (i >= n)
            return am__js_fail(js, n, "unterminated string (opened at byte "
                               "%zu)", *start - 1 + js->base);
        c = (unsigned char)s[i];
        if (c == '"')
            break;
        if (c < 0x20)
            return am__js_fail(js, i, "control character U+%04X in "
                               "string", (unsigned)c);
        if (c != '\\') {
            high |= c >= 0x80;
            i++;
            continue;
        }
        /* Backslash. */
        *escapes = true;
        if (i + 1 >= n)
            return am__js_fail(js, n, "unterminated string (opened at byte "
                               "%zu)", *start - 1 + js->base);
        switch (s[i + 1]) {
        case '"': case '\\': case '/': case 'b': case 'f': case 'n':
        case 'r': case 't':
            i += 2;
            break;
        case 'u': {
            unsigned u;
            if (i + 6 > n || !hex4(s + i + 2, &u))
                return am__js_fail(js, i, "bad \\u escape in string");
            if (u >= 0xD800 && u <= 0xDBFF) {
                unsigned lo;
                if (i + 12 > n || s[i + 6] != '\\' || s[i + 7] != 'u' ||
                    !hex4(s + i + 8, &lo) || lo < 0xDC00 || lo > 0xDFFF)
                    return am__js_fail(js, i, "unpaired surrogate escape "
                                       "in string");
                i += 12;
            } else if (u >= 0xDC00 && u <= 0xDFFF) {
                return am__js_fail(js, i, "unpaired surrogate escape in "
                                   "string");
            } else {
                i += 6;
            }
            break;
        }
        default:
            return am__js_fail(js, i, "invalid escape '\\%c' in string",
                               s[i + 1]);
        }
    }
    if (high) {
        size_t bad;
        if (!am__utf8_valid(s + run, i - run, &bad))
            return am__js_fail(js, run + bad, "invalid UTF-8 in string");
    }
    *end = i;
    js->pos = i + 1;
    return AM_OK;
}

static size_t put_utf8(char *o, unsigned cp)
{
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xC0 | cp >> 6);
        o[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xE0 | cp >> 12);
        o[1] = (char)(0x80 | (cp >> 6 & 0x3F));
        o[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (char)(0xF0 | cp >> 18);
    o[1] = (char)(0x80 | (cp >> 12 & 0x3F));
    o[2] = (char)(0x80 | (cp >> 6 & 0x3F));
    o[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

am_status am__js_string(am__js *js, am_str *out)
{
    size_t start, end;
    bool esc;
    am_status st = scan_string(js, &start, &end, &esc);
    char *o;
    size_t k = 0;

    if (st != AM_OK)
        return st;
    if (!esc) {
        out->ptr = js->s + start;
        out->len = end - start;
        return AM_OK;
    }
    /* Decoded text is never longer than the escaped source. */
    o = am__arena_alloc(js->tmp, end - start + 1);
    if (o == NULL)
        return am__fail(js->err, AM_ENOMEM, "%s: out of memory", js->what);
    for (size_t i = start; i < end;) {
        char c = js->s[i];
        unsigned u = 0, lo = 0;
        if (c != '\\') {
            o[k++] = c;
            i++;
            continue;
        }
        switch (js->s[i + 1]) {
        case 'b': o[k++] = '\b'; i += 2; break;
        case 'f': o[k++] = '\f'; i += 2; break;
        case 'n': o[k++] = '\n'; i += 2; break;
        case 'r': o[k++] = '\r'; i += 2; break;
        case 't': o[k++] = '\t'; i += 2; break;
        case 'u':
            hex4(js->s + i + 2, &u);
            if (u >= 0xD800 && u <= 0xDBFF) {
                hex4(js->s + i + 8, &lo);
                u = 0x10000 + ((u - 0xD800) << 10) + (lo - 0xDC00);
                i += 12;
            } else {
                i += 6;
            }
            k += put_utf8(o + k, u);
            break;
        default: /* '"', '\\', '/' */
            o[k++] = js->s[i + 1];
            i += 2;
            break;
        }
    }
    o[k] = '\0';
    out->ptr = o;
    out->len = k;
    return AM_OK;
}

static am_status scan_number(am__js *js)
{
    const char *s = js->s;
    size_t i = js->pos, n = js->len, d;

    if (i < n && s[i] == '-')
        i++;
    if (i < n && s[i] == '0') {
        i++;
    } else {
        d = i;
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++;
        if (i == d)
            return am__js_fail(js, i, "bad number");
    }
    if (i < n && s[i] == '.') {
        i++;
        d = i;
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++;
        if (i == d)
            return am__js_fail(js, i, "bad number: digits expected after "
                               "'.'");
    }
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < n && (s[i] == '+' || s[i] == '-'))
            i++;
        d = i;
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++;
        if (i == d)
            return am__js_fail(js, i, "bad number: digits expected in "
                               "exponent");
    }
    js->pos = i;
    return AM_OK;
}

am_status am__js_string_raw(am__js *js, am_str *raw, bool *escapes)
{
    size_t start, end;
    am_status st = scan_string(js, &start, &end, escapes);
    if (st != AM_OK)
        return st;
    raw->ptr = js->s + start;
    raw->len = end - start;
    return AM_OK;
}

am_status am__js_number(am__js *js, am_str *raw)
{
    size_t start;
    char c = am__js_peek(js);
    am_status st;

    if (c != '-' && (c < '0' || c > '9'))
        return am__js_fail(js, js->pos, "%s, expected a number",
                           describe(js));
    start = js->pos;
    st = scan_number(js);
    if (st != AM_OK)
        return st;
    raw->ptr = js->s + start;
    raw->len = js->pos - start;
    return AM_OK;
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

am_status am__js_number_value(am__js *js, am__jnum *out)
{
    const char *s = js->s;
    size_t i, n = js->len, b;
    bool neg = false, exact = true, is_int = true;
    uint64_t mant = 0;
    int sig = 0;          /* significant digits in mant */
    long exp10 = 0, e = 0;
    char c = am__js_peek(js);

    if (c != '-' && (c < '0' || c > '9'))
        return am__js_fail(js, js->pos, "%s, expected a number",
                           describe(js));
    i = b = js->pos;
    if (s[i] == '-') {
        neg = true;
        i++;
    }
    if (i < n && s[i] == '0') {
        i++;
    } else if (i < n && s[i] >= '1' && s[i] <= '9') {
        for (; i < n && s[i] >= '0' && s[i] <= '9'; i++) {
            if (sig < 19) {
                mant = mant * 10 + (uint64_t)(s[i] - '0');
                sig++;
            } else {
                exp10++;
                exact = false;
            }
        }
    } else {
        return am__js_fail(js, i, "bad number");
    }
    if (i < n && s[i] == '.') {
        is_int = false;
        i++;
        if (i >= n || s[i] < '0' || s[i] > '9')
            return am__js_fail(js, i, "bad number: digits expected after "
                               "'.'");
        for (; i < n && s[i] >= '0' && s[i] <= '9'; i++) {
            if (mant == 0 && s[i] == '0') {
                exp10--; /* leading zeros of 0.000123 */
            } else if (sig < 19) {
                mant = mant * 10 + (uint64_t)(s[i] - '0');
                sig++;
                exp10--;
            } else {
                exact = false;
            }
        }
    }
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        bool eneg = false;
        is_int = false;
        i++;
        if (i < n && (s[i] == '+' || s[i] == '-'))
            eneg = s[i++] == '-';
        if (i >= n || s[i] < '0' || s[i] > '9')
            return am__js_fail(js, i, "bad number: digits expected in "
                               "exponent");
        for (; i < n && s[i] >= '0' && s[i] <= '9'; i++)
            if (e < 100000)
                e = e * 10 + (s[i] - '0');
        exp10 += eneg ? -e : e;
    }
    js->pos = i;
    out->is_int = is_int && exact && sig <= 18;
    out->int_value = !out->is_int ? 0 : neg ? -(int64_t)mant : (int64_t)mant;
    if (mant == 0) {
        out->value = neg ? -0.0 : 0.0;
    } else if (exp10 >= -27 && exp10 <= 27) {
        long double v = (long double)mant;
        v = exp10 >= 0 ? v * pow10_exact[exp10] : v / pow10_exact[-exp10];
        out->value = (double)(neg ? -v : v);
    } else {
        out->value = slow_strtod(s + b, i - b);
    }
    return AM_OK;
}

static am_status scan_word(am__js *js, const char *w)
{
    size_t wl = strlen(w);
    if (js->len - js->pos >= wl && memcmp(js->s + js->pos, w, wl) == 0) {
        js->pos += wl;
        return AM_OK;
    }
    return am__js_fail(js, js->pos, "unexpected character, expected a "
                       "value");
}

static am_status skip_value(am__js *js)
{
    am_status st = AM_OK;
    char c = am__js_peek(js);
    size_t a, b;
    bool e;

    switch (c) {
    case '"':
        return scan_string(js, &a, &b, &e);
    case '{':
    case '[':
        if (++js->depth > AM__JS_MAX_DEPTH)
            return am__js_fail(js, js->pos, "nesting deeper than %d",
                               AM__JS_MAX_DEPTH);
        js->pos++;
        if (am__js_accept(js, c == '{' ? '}' : ']')) {
            js->depth--;
            return AM_OK;
        }
        for (;;) {
            if (c == '{') {
                if ((st = scan_string(js, &a, &b, &e)) != AM_OK ||
                    (st = am__js_expect(js, ':')) != AM_OK)
                    return st;
            }
            if ((st = skip_value(js)) != AM_OK)
                return st;
            if (am__js_accept(js, ','))
                continue;
            if (am__js_accept(js, c == '{' ? '}' : ']'))
                break;
            return am__js_fail(js, js->pos, "%s, expected ',' or '%c'",
                               describe(js), c == '{' ? '}' : ']');
        }
        js->depth--;
        return AM_OK;
    case 't':
        return scan_word(js, "true");
    case 'f':
        return scan_word(js, "false");
    case 'n':
        return scan_word(js, "null");
    default:
        if (c == '-' || (c >= '0' && c <= '9'))
            return scan_number(js);
        return am__js_fail(js, js->pos, "%s, expected a value",
                           describe(js));
    }
}

am_status am__js_value(am__js *js, am_str *span)
{
    size_t start;
    am_status st;

    skip_ws(js);
    start = js->pos;
    st = skip_value(js);
    if (st != AM_OK)
        return st;
    span->ptr = js->s + start;
    span->len = js->pos - start;
    return AM_OK;
}

am_status am__js_int(am__js *js, int64_t *out)
{
    size_t start;
    am_status st;
    int64_t v = 0;
    bool neg = false;
    size_t i;

    skip_ws(js);
    start = js->pos;
    if (js->pos >= js->len ||
        (js->s[js->pos] != '-' &&
         (js->s[js->pos] < '0' || js->s[js->pos] > '9')))
        return am__js_fail(js, start, "%s, expected an integer",
                           describe(js));
    st = scan_number(js);
    if (st != AM_OK)
        return st;
    i = start;
    if (js->s[i] == '-') {
        neg = true;
        i++;
    }
    for (; i < js->pos; i++) {
        char c = js->s[i];
        if (c < '0' || c > '9')
            return am__js_fail(js, start, "expected an integer");
        if (v > (INT64_MAX - (c - '0')) / 10)
            return am__js_fail(js, start, "integer out of range");
        v = v * 10 + (c - '0');
    }
    *out = neg ? -v : v;
    return AM_OK;
}

am_status am__js_bool(am__js *js, bool *out)
{
    char c = am__js_peek(js);
    if (c == 't' && scan_word(js, "true") == AM_OK) {
        *out = true;
        return AM_OK;
    }
    if (c == 'f' && scan_word(js, "false") == AM_OK) {
        *out = false;
        return AM_OK;
    }
    return am__js_fail(js, js->pos, "expected true or false");
}

bool am__js_null(am__js *js)
{
    if (am__js_peek(js) == 'n' && js->len - js->pos >= 4 &&
        memcmp(js->s + js->pos, "null", 4) == 0) {
        js->pos += 4;
        return true;
    }
    return false;
}

am_status am__js_end(am__js *js)
{
    skip_ws(js);
    if (js->pos != js->len)
        return am__js_fail(js, js->pos, "unexpected text after the JSON "
                           "value");
    return AM_OK;
}

am_status am__js_compact_span(am_str span, am__arena *ar, am_str *out)
{
    bool in_str = false, any = false;
    char *o;
    size_t k = 0;

    for (size_t i = 0; i < span.len; i++) {
        char c = span.ptr[i];
        if (in_str) {
            if (c == '\\')
                i++;
            else if (c == '"')
                in_str = false;
        } else if (c == '"') {
            in_str = true;
        } else if (c == ' ' || c == '\n' || c == '\r' || c == '\t') {
            any = true;
            break;
        }
    }
    if (!any) {
        *out = span;
        return AM_OK;
    }
    o = am__arena_alloc(ar, span.len + 1);
    if (o == NULL)
        return AM_ENOMEM;
    in_str = false;
    for (size_t i = 0; i < span.len; i++) {
        char c = span.ptr[i];
        if (in_str) {
            o[k++] = c;
            if (c == '\\') {
                o[k++] = span.ptr[++i];
            } else if (c == '"') {
                in_str = false;
            }
        } else if (c == '"') {
            in_str = true;
            o[k++] = c;
        } else if (c != ' ' && c != '\n' && c != '\r' && c != '\t') {
            o[k++] = c;
        }
    }
    o[k] = '\0';
    out->ptr = o;
    out->len = k;
    return AM_OK;
}

am_status am__json_compact(am_str text, const char *what, am__arena *ar,
                           am_str *out, am_error *err)
{
    am__js js;
    am_str span;
    am_status st;

    am__js_init(&js, text, what, ar, err);
    st = am__js_value(&js, &span);
    if (st == AM_OK)
        st = am__js_end(&js);
    if (st != AM_OK)
        return st;
    if (am__js_compact_span(span, ar, out) != AM_OK)
        return am__fail(err, AM_ENOMEM, "%s: out of memory", what);
    return AM_OK;
}

am_status am__json_put_str(am_buf *out, am_str s)
{
    static const char hex[] = "0123456789abcdef";
    size_t i = 0, run = 0;
    am_status st;

    /* Worst case grows 6x (\u00XX); reserve the common case up front. */
    st = am_buf_reserve(out, s.len + 2);
    if (st != AM_OK)
        return st;
    out->ptr[out->len++] = '"';
    while (i < s.len) {
        unsigned char c;
        char esc[6];
        size_t elen = 2;
        /* Eight bytes at a time while none needs escaping (the test may
         * stop early on a false positive, never skip a real one). */
        while (i + 8 <= s.len) {
            const uint64_t ones = 0x0101010101010101ull;
            const uint64_t highs = 0x8080808080808080ull;
            uint64_t w, q, b;
            memcpy(&w, s.ptr + i, 8);
            q = w ^ (ones * '"');
            b = w ^ (ones * '\\');
            if ((((q - ones) & ~q) | ((b - ones) & ~b) |
                 ((w - ones * 0x20) & ~w)) & highs)
                break;
            i += 8;
        }
        if (i >= s.len)
            break;
        c = (unsigned char)s.ptr[i];
        if (c >= 0x20 && c != '"' && c != '\\') {
            i++;
            continue;
        }
        if (i > run && (st = am_buf_append(out, s.ptr + run, i - run)) !=
                           AM_OK)
            return st;
        esc[0] = '\\';
        switch (c) {
        case '"': esc[1] = '"'; break;
        case '\\': esc[1] = '\\'; break;
        case '\n': esc[1] = 'n'; break;
        case '\r': esc[1] = 'r'; break;
        case '\t': esc[1] = 't'; break;
        case '\b': esc[1] = 'b'; break;
        case '\f': esc[1] = 'f'; break;
        default:
            esc[1] = 'u';
            esc[2] = '0';
            esc[3] = '0';
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 15];
            elen = 6;
        }
        if ((st = am_buf_append(out, esc, elen)) != AM_OK)
            return st;
        i++;
        run = i;
    }
    if (i > run && (st = am_buf_append(out, s.ptr + run, i - run)) != AM_OK)
        return st;
    return am_buf_append(out, "\"", 1);
}
