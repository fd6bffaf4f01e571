/* vec_checks.h -- what test_store_scope.c, test_store_stamps.c and
 * test_store_events.c share: a vector search check (their tests put 2-d
 * vectors into namespace "v" and ask what another handle finds after a
 * write), a look at the file through SQLite itself, and the SQL that
 * turns a file this library wrote into what schema 5 left, which their
 * older-file tests start from. */
#ifndef AM_TEST_VEC_CHECKS_H
#define AM_TEST_VEC_CHECKS_H

#include <stdint.h>
#include <stdio.h>
#include <sqlite3.h>

#include "agentmem/store.h"
#include "harness.h"

/* The key of the best vector match for (x, y) in namespace "v" into
 * `top`; returns the number of matches. */
static inline size_t vec_hits(am_store *s, float x, float y, char *top,
                              size_t cap)
{
    float v[2] = { x, y };
    am_results *r = NULL;
    am_search q = { .ns = { (const am_str[]){ AM_STR("v") }, 1 }, .vec = v,
                    .dim = 2, .mode = AM_SEARCH_VECTOR, .limit = 10 };
    CHECK_OK(am_store_search(s, &q, &r));
    size_t n = r->count;
    snprintf(top, cap, "%.*s", n > 0 ? (int)r->items[0].key.len : 0,
             n > 0 ? r->items[0].key.ptr : "");
    am_results_free(r);
    return n;
}

/* The first column of the first row of `sql` on the file, as an integer
 * (NULL: -1). */
static inline int64_t sql_int(const char *path, const char *sql)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *q = NULL;
    int64_t v = -1;
    CHECK_EQ(sqlite3_open(path, &db), SQLITE_OK);
    CHECK_EQ(sqlite3_prepare_v2(db, sql, -1, &q, NULL), SQLITE_OK);
    CHECK_EQ(sqlite3_step(q), SQLITE_ROW);
    if (sqlite3_column_type(q, 0) != SQLITE_NULL)
        v = sqlite3_column_int64(q, 0);
    sqlite3_finalize(q);
    sqlite3_close(db);
    return v;
}

/* SQL making a file this library wrote look as schema 5 left it: every
 * row's "add" event in item_history (sequence 1, at its created_ms), and
 * no add_actor column. Run it before setting an older version in
 * am_schema. */
#define AS_SCHEMA_5                                             \
    "INSERT INTO item_history(item_id, seq, event, at_ms, actor)" \
    " SELECT id, 1, 'add', created_ms, add_actor FROM items"     \
    " WHERE add_actor IS NOT NULL;"                              \
    "ALTER TABLE items DROP COLUMN add_actor;"

#endif
