/* num.c -- checked conversions: numbers from text and from doubles.
 *
 * One place decides what "too large" means, so that a flag, a file, a
 * database row and a provider reply are all held to the same rule: a
 * number outside the range asked for is refused (or, for a double we
 * must turn into a count, clamped), never wrapped.
 */
#include <math.h>
#include <string.h>

#include "core.h"

int64_t am__i64_clamp(double x, int64_t lo, int64_t hi)
{
    if (isnan(x) || x <= (double)lo)
        return lo;
    /* (double)INT64_MAX rounds up to 2^63, which no int64 holds. */
    if (x >= (double)hi)
        return hi;
    return (int64_t)x;
}

am_status am__parse_i64(am_str s, int64_t min, int64_t max, int64_t *out)
{
    size_t i = 0;
    bool neg = false;
    uint64_t mag = 0, limit;
    bool over = false;

    if (s.ptr == NULL || s.len == 0)
        return AM_EFORMAT;
    if (s.ptr[0] == '-' || s.ptr[0] == '+') {
        neg = s.ptr[0] == '-';
        i = 1;
    }
    if (i == s.len)
        return AM_EFORMAT;
    for (; i < s.len; i++) {
        unsigned d = (unsigned char)s.ptr[i] - '0';
        if (d > 9)
            return AM_EFORMAT;
        if (mag > (UINT64_MAX - d) / 10)
            over = true; /* keep scanning: a letter later is EFORMAT */
        else
            mag = mag * 10 + d;
    }
    limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    if (over || mag > limit)
        return AM_ELIMIT;
    {
        int64_t v = neg ? (mag == (uint64_t)INT64_MAX + 1
                               ? INT64_MIN
                               : -(int64_t)mag)
                        : (int64_t)mag;
        if (v < min || v > max)
            return AM_ELIMIT;
        *out = v;
    }
    return AM_OK;
}

size_t am__u64_dec(uint64_t v, size_t width, char *out)
{
    char tmp[20];
    size_t n = 0, len;

    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    if (width > sizeof tmp)
        width = sizeof tmp;
    len = n > width ? n : width;
    memset(out, '0', len - n);
    for (size_t i = 0; i < n; i++)
        out[len - 1 - i] = tmp[i];
    out[len] = '\0';
    return len;
}
