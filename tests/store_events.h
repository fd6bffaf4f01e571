/* store_events.h -- an item's history as its event names, shared by
 * test_store_events.c (SQLite) and pg_multi.c (PostgreSQL), which check
 * where each backend keeps an item's first event (schema 6 on both). */
#ifndef AM_TEST_STORE_EVENTS_H
#define AM_TEST_STORE_EVENTS_H

#include <stdio.h>
#include <string.h>

#include "agentmem/store.h"
#include "harness.h"

/* The event names of (ns, key)'s history, oldest first, space separated,
 * into `out` (cap bytes). */
static inline void test_events(am_store *s, am_ns ns, const char *key,
                               char *out, size_t cap)
{
    am_results *r = NULL;
    CHECK_OK_E(am_store_history(s, ns, am_str_c(key), &r),
               am_store_last_error(s));
    out[0] = '\0';
    for (size_t i = 0; i < r->count; i++) {
        size_t n = strlen(out);
        snprintf(out + n, cap - n, "%s%.*s", i > 0 ? " " : "",
                 (int)r->items[i].event.len, r->items[i].event.ptr);
    }
    am_results_free(r);
}

#endif
