/* names.c -- an enum's names, both ways, from one table.
 *
 * Every public enum with names (roles, formats, tiers, retention policies,
 * step types, ...) keeps one table indexed by its values, and reads it in
 * both directions here: one rule for a value out of range ("?"), one
 * exact, case-sensitive match, and one error that lists what was expected,
 * written from the table itself so that it cannot fall behind it.
 */
#include <stdio.h>
#include <string.h>

#include "core.h"

const char *am__name_of(const am__names *t, int v)
{
    if (v < 0 || (size_t)v >= t->count || t->names[v] == NULL)
        return "?";
    return t->names[v];
}

int am__name_find(const am__names *t, am_str s)
{
    if (s.ptr == NULL)
        return -1;
    for (size_t i = 0; i < t->count; i++)
        if (t->names[i] != NULL && strlen(t->names[i]) == s.len &&
            memcmp(t->names[i], s.ptr, s.len) == 0)
            return (int)i;
    return -1;
}

am_status am__name_fail(const am__names *t, am_str s, am_error *err)
{
    char expected[160];
    size_t len = 0, n = 0, last = 0;

    if (err == NULL) /* a test for membership: no message to write */
        return AM_EINVAL;
    for (size_t i = 0; i < t->count; i++)
        if (t->names[i] != NULL)
            last = i;
    expected[0] = '\0';
    for (size_t i = 0; i < t->count; i++) {
        if (t->names[i] == NULL)
            continue;
        const char *sep = n == 0 ? "" : i == last ? " or " : ", ";
        int w = snprintf(expected + len, sizeof expected - len, "%s%s", sep,
                         t->names[i]);
        if (w < 0 || (size_t)w >= sizeof expected - len)
            break; /* a long list is cut; the start still guides */
        len += (size_t)w;
        n++;
    }
    return am__fail(err, AM_EINVAL, "unknown %s '%.*s' (expected %s)",
                    t->what, (int)(s.len > 64 ? 64 : s.len),
                    s.ptr != NULL ? s.ptr : "", expected);
}

am_status am__name_parse(const am__names *t, am_str s, int *out,
                         am_error *err)
{
    int v = am__name_find(t, s);
    if (v < 0)
        return am__name_fail(t, s, err);
    *out = v;
    return AM_OK;
}
