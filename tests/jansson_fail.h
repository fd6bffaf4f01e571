/* jansson_fail.h -- make jansson run out of memory in tests.
 *
 * jansson allocates through its own global hooks (json_set_alloc_funcs),
 * not through agentmem's allocator, so test_oom_sweep never fails a
 * jansson allocation. These helpers fail jansson's n-th malloc:
 *
 *     for (long n = 1;; n++) {
 *         jansson_fail_begin(n);
 *         st = entry_point(...);
 *         int all_tried = jansson_fail_end();   // hook restored here
 *         ... CHECKs on st and the output ...
 *         if (all_tried) break;
 *     }
 *
 * jansson_fail_end() always restores malloc/free, so CHECKs placed after
 * it never leave the hook installed when they fail.
 */
#ifndef AM_TEST_JANSSON_FAIL_H
#define AM_TEST_JANSSON_FAIL_H

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

static long jansson_fail_at_, jansson_fail_calls_;

static inline void *jansson_fail_malloc_(size_t n)
{
    return ++jansson_fail_calls_ == jansson_fail_at_ ? NULL : malloc(n);
}

/* Install the hook: jansson's n-th allocation from now on fails. */
static inline void jansson_fail_begin(long n)
{
    jansson_fail_calls_ = 0;
    jansson_fail_at_ = n;
    json_set_alloc_funcs(jansson_fail_malloc_, free);
}

/* Restore malloc/free. Returns 1 when the n-th allocation was never
 * reached (nothing failed: every allocation has been tried). */
static inline int jansson_fail_end(void)
{
    json_set_alloc_funcs(malloc, free);
    return jansson_fail_calls_ < jansson_fail_at_;
}

/* How many times `needle` occurs in the NUL-terminated `hay` (NULL: 0). */
static inline size_t jansson_fail_count(const char *hay, const char *needle)
{
    size_t n = 0;
    if (hay == NULL)
        return 0;
    for (const char *p = strstr(hay, needle); p != NULL;
         p = strstr(p + 1, needle))
        n++;
    return n;
}

/* 1 when `got` is `want`, or `want` with one byte removed inside a
 * string: the one corruption jansson 2.14 itself causes when an
 * allocation fails while it parses (load.c lex_save ignores a failed
 * token-buffer growth, upstream akheron/jansson#362; no caller can detect
 * it). Anything else -- a field, element or flag missing -- is 0. */
static inline int jansson_fail_same_or_byte_lost(const char *got,
                                                 const char *want)
{
    size_t g = strlen(got), w = strlen(want), i = 0;
    if (g == w)
        return strcmp(got, want) == 0;
    if (g + 1 != w)
        return 0;
    while (i < g && got[i] == want[i])
        i++;
    return strcmp(got + i, want + i + 1) == 0;
}

#endif
