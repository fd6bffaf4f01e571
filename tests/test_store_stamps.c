/* test_store_stamps.c -- how the SQLite store dates row changes for the
 * vector cache's catch-up (store_sqlite_vec.c): an inserted row is found
 * by its id and gets no stamp (no index entry), the rows a write
 * transaction changes in place share one stamp above every earlier one,
 * and a version 4 file (every write stamped, every row in the index) is
 * migrated to version 5 keeping every row, while a handle opened on it
 * before the migration still catches up. The catch-up itself, on both
 * backends, is in test_store_search.c. */
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#include "agentmem/store.h"
#include "harness.h"
#include "store/store_int.h"
#include "vec_checks.h"

#define NS1(a) ((am_ns){ (const am_str[]){ AM_STR(a) }, 1 })

/* An item of namespace "v" (static: the item keeps pointing at it). */
static const am_str ns_v[1] = { { "v", 1 } };

static am_item_in vec_item(const char *key, const char *value,
                           const float *v)
{
    return (am_item_in){ .ns = { ns_v, 1 }, .key = am_str_c(key),
                         .value = am_str_c(value), .vec = v, .dim = 2,
                         .vec_model = "test" };
}

static void put_vec2(am_store *s, const char *key, float x, float y)
{
    float v[2] = { x, y };
    am_item_in it = vec_item(key, "\"apple\"", v);
    CHECK_OK(am_store_put(s, &it));
}

/* The first column of the first row of `sql` on the file, as text
 * (malloc'd; "" for NULL). */
static char *sql_text(const char *path, const char *sql)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *q = NULL;
    CHECK_EQ(sqlite3_open(path, &db), SQLITE_OK);
    CHECK_EQ(sqlite3_prepare_v2(db, sql, -1, &q, NULL), SQLITE_OK);
    CHECK_EQ(sqlite3_step(q), SQLITE_ROW);
    const char *t = (const char *)sqlite3_column_text(q, 0);
    char *out = strdup(t != NULL ? t : "");
    sqlite3_finalize(q);
    sqlite3_close(db);
    return out;
}

static int64_t chg_of(const char *path, const char *key)
{
    char sql[128];
    snprintf(sql, sizeof sql, "SELECT chg FROM items"
             " WHERE key = CAST('%s' AS BLOB)", key);
    return sql_int(path, sql);
}

/* Entries in the stamp index (INDEXED BY: the index itself is counted). */
#define INDEX_ENTRIES "SELECT count(*) FROM items INDEXED BY items_chg" \
                      " WHERE chg > 0"

AM_TEST(inserts_are_not_stamped_and_a_transaction_stamps_once)
{
    char *dir = test_tmpdir(), path[512];
    am_store *s = NULL;
    const float v[2] = { 1, 0 };
    snprintf(path, sizeof path, "%s/stamps.db", dir);
    CHECK_OK(am_store_open(path, NULL, &s, NULL));
    am_item_in three[3] = { vec_item("a", "1", v), vec_item("b", "1", v),
                            vec_item("c", "1", v) };
    CHECK_OK(am_store_put_many(s, three, 3));
    /* New rows: no stamp, nothing in the index. */
    CHECK_EQ(chg_of(path, "a"), 0);
    CHECK_EQ(chg_of(path, "c"), 0);
    CHECK_EQ(sql_int(path, INDEX_ENTRIES), 0);

    /* One batch: two updates and an insert. The updated rows share one
     * stamp; the new row has none. */
    am_item_in mixed[3] = { vec_item("a", "2", v), vec_item("d", "1", v),
                            vec_item("b", "2", v) };
    CHECK_OK(am_store_put_many(s, mixed, 3));
    int64_t first = chg_of(path, "a");
    CHECK(first > 0);
    CHECK_EQ(chg_of(path, "b"), first);
    CHECK_EQ(chg_of(path, "d"), 0);
    CHECK_EQ(sql_int(path, INDEX_ENTRIES), 2);

    /* The next transaction's stamp is above it: a soft delete, then an
     * undo of it (which restores the row in place). */
    CHECK_OK(am_store_delete(s, NS1("v"), AM_STR("c")));
    CHECK_EQ(chg_of(path, "c"), first + 1);
    CHECK_OK(am_store_undo(s, NS1("v"), AM_STR("c")));
    CHECK_EQ(chg_of(path, "c"), first + 2);
    CHECK_EQ(chg_of(path, "a"), first);
    CHECK_EQ(sql_int(path, INDEX_ENTRIES), 3);
    CHECK_OK(am_store_check(s));
    am_store_close(s);
    test_rmtree(dir);
    free(dir);
}

/* Every row of items and item_history, in a comparable text form. */
#define ALL_ROWS \
    "SELECT group_concat(r, char(10)) FROM (SELECT quote(id) || '|' ||" \
    " quote(ns) || '|' || quote(key) || '|' || quote(value) || '|' ||" \
    " quote(meta) || '|' || quote(text) || '|' || quote(created_ms) ||" \
    " '|' || quote(updated_ms) || '|' || quote(expires_ms) || '|' ||" \
    " quote(deleted_ms) || '|' || quote(vec_model) || '|' || quote(vec)" \
    " || '|' || quote(chg) AS r FROM items UNION ALL SELECT" \
    " quote(item_id) || '|' || quote(seq) || '|' || quote(event) || '|'" \
    " || quote(old_value) || '|' || quote(old_meta) || '|' ||" \
    " quote(at_ms) || '|' || quote(actor) FROM item_history ORDER BY 1)"

AM_TEST(a_version_4_file_is_migrated_keeping_every_row)
{
    char *dir = test_tmpdir(), path[512], top[32];
    am_store *s = NULL, *ro = NULL, *w = NULL;
    am_store_opts o = am_store_opts_default();
    am_results *r = NULL;
    sqlite3 *db = NULL;
    snprintf(path, sizeof path, "%s/v4.db", dir);
    CHECK_OK(am_store_open(path, NULL, &s, NULL));
    put_vec2(s, "a", 1, 0);
    put_vec2(s, "b", 0, 1);
    put_vec2(s, "gone", 0.5f, 0.5f);
    put_vec2(s, "b", 0.1f, 1); /* an update: history */
    CHECK_OK(am_store_delete(s, NS1("v"), AM_STR("gone")));
    am_store_close(s);
    /* What version 4 left: every row stamped, in write order, and every
     * row in a full index. */
    CHECK_EQ(sqlite3_open(path, &db), SQLITE_OK);
    CHECK_EQ(sqlite3_exec(db, AS_SCHEMA_5 "DROP INDEX items_chg;"
                              "CREATE INDEX items_chg ON items(chg);"
                              "UPDATE items SET chg = id + 10"
                              " WHERE chg = 0;"
                              "UPDATE am_schema SET version = 4"
                              " WHERE module = 'store';",
                          NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    char *before = sql_text(path, ALL_ROWS);
    CHECK(strstr(before, "X'676F6E65'") != NULL); /* "gone" is there */
    int64_t max4 = sql_int(path, "SELECT max(chg) FROM items");
    CHECK(max4 > 10);

    /* A read-only handle opened on the version 4 file. */
    o.read_only = 1;
    CHECK_OK(am_store_open(path, &o, &ro, NULL));
    CHECK_EQ(vec_hits(ro, 1, 0.1f, top, sizeof top), 2);
    CHECK_STR_EQ(top, "a");

    /* A writer migrates: every row and history entry as it was, stamps
     * included; the index keeps only stamped rows. */
    CHECK_OK(am_store_open(path, NULL, &w, NULL));
    CHECK_EQ(sql_int(path, "SELECT version FROM am_schema"
                           " WHERE module = 'store'"), 6);
    char *after = sql_text(path, ALL_ROWS);
    CHECK_STR_EQ(after, before);
    free(after);
    free(before);
    char *idx = sql_text(path, "SELECT sql FROM sqlite_master"
                               " WHERE name = 'items_chg'");
    CHECK(strstr(idx, "WHERE chg > 0") != NULL);
    free(idx);
    CHECK_OK(am_store_check(w));
    am_search tq = { .ns = NS1("v"), .query = AM_STR("apple"),
                     .mode = AM_SEARCH_TEXT, .limit = 10 };
    CHECK_OK(am_store_search(w, &tq, &r)); /* the full-text index too */
    CHECK_EQ(r->count, 2);
    am_results_free(r);

    /* The new writer's insert is unstamped, its update stamped above
     * every version 4 stamp; the handle from before the migration finds
     * both, reading only those rows. */
    int64_t rows = ro->vc_rows;
    put_vec2(w, "c", -1, 0);
    CHECK_EQ(chg_of(path, "c"), 0);
    CHECK_EQ(vec_hits(ro, -1, 0.1f, top, sizeof top), 3);
    CHECK_STR_EQ(top, "c");
    CHECK_EQ(ro->vc_rows - rows, 1);
    rows = ro->vc_rows;
    put_vec2(w, "a", 0, -1);
    CHECK_EQ(chg_of(path, "a"), max4 + 1);
    CHECK_EQ(vec_hits(ro, 0, -1, top, sizeof top), 3);
    CHECK_STR_EQ(top, "a");
    CHECK_EQ(ro->vc_rows - rows, 1);
    am_store_close(w);
    am_store_close(ro);
    test_rmtree(dir);
    free(dir);
}
