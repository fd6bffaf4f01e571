/* store_target.h -- where the store tests open their stores.
 *
 * Every test that exercises store behaviour (not SQLite file specifics)
 * opens its store through test_store_target(), so the same suite can run
 * against another backend: with AM_TEST_STORE unset or "sqlite" the store
 * is the file <dir>/<name> (SQLite); otherwise AM_TEST_STORE is a backend
 * URI prefix (e.g. "postgresql://localhost/amtest") and the store is
 * "<AM_TEST_STORE>/<name>_<dir basename>", one fresh store per fixture.
 * Tests of SQLite files themselves (corrupt files, crash recovery, schema
 * versions, the file shared with the tiers module) open paths directly
 * and keep testing the SQLite backend.
 */
#ifndef AM_TEST_STORE_TARGET_H
#define AM_TEST_STORE_TARGET_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static inline int test_store_is_sqlite(void)
{
    const char *t = getenv("AM_TEST_STORE");
    return t == NULL || t[0] == '\0' || strcmp(t, "sqlite") == 0;
}

static inline const char *test_store_target(const char *dir,
                                            const char *name, char *buf,
                                            size_t n)
{
    if (test_store_is_sqlite()) {
        snprintf(buf, n, "%s/%s", dir, name);
    } else {
        const char *base = strrchr(dir, '/');
        snprintf(buf, n, "%s/%s_%s", getenv("AM_TEST_STORE"), name,
                 base != NULL ? base + 1 : dir);
    }
    return buf;
}

#endif
