/* test_store_events.c -- where the SQLite store keeps an item's first
 * history event (schema 6): a new row keeps its "add" in the row itself
 * (no item_history row, the put's largest saving), the first write to the
 * row in place moves it into item_history ahead of its own event, and the
 * history, undo and pruning read the same events as before. A version 5
 * file (every "add" in item_history) is migrated keeping every row and
 * event, and a read-only handle reads its history unmigrated. The history's
 * behaviour on both backends is in test_store.c. */
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#include "agentmem/store.h"
#include "harness.h"
#include "store_events.h"
#include "vec_checks.h"

#define NS1(a) ((am_ns){ (const am_str[]){ AM_STR(a) }, 1 })

static int str_is(am_str s, const char *want)
{
    return s.len == strlen(want) && memcmp(s.ptr, want, s.len) == 0;
}

/* Rows of item_history for `key` of namespace "n". */
static int64_t hist_rows(const char *path, const char *key)
{
    char sql[160];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM item_history"
             " WHERE item_id = (SELECT id FROM items"
             " WHERE key = CAST('%s' AS BLOB))", key);
    return sql_int(path, sql);
}

static void put(am_store *s, const char *key, const char *value)
{
    am_item_in it = { .ns = NS1("n"), .key = am_str_c(key),
                      .value = am_str_c(value) };
    CHECK_OK(am_store_put(s, &it));
}

/* The history of `key` in namespace "n" as JSON (malloc'd). */
static char *history(am_store *s, const char *key)
{
    am_results *r = NULL;
    am_buf b = AM_BUF_INIT;
    CHECK_OK(am_store_history(s, NS1("n"), am_str_c(key), &r));
    CHECK_OK(am_results_to_json(r, false, &b, NULL));
    am_results_free(r);
    char *out = strdup(b.ptr);
    am_buf_free(&b);
    return out;
}

/* The event names of `key`'s history in namespace "n". */
static void events(am_store *s, const char *key, char *out, size_t cap)
{
    test_events(s, NS1("n"), key, out, cap);
}

AM_TEST(a_new_row_keeps_its_add_event_until_its_first_change)
{
    char *dir = test_tmpdir(), path[512], ev[128];
    am_store *s = NULL;
    am_store_opts o = am_store_opts_default();
    am_results *r = NULL;
    snprintf(path, sizeof path, "%s/events.db", dir);
    o.actor = "alice";
    CHECK_OK(am_store_open(path, &o, &s, NULL));
    put(s, "a", "1");
    put(s, "b", "1");
    put(s, "c", "1");
    /* No history rows: the events are in the rows. */
    CHECK_EQ(sql_int(path, "SELECT count(*) FROM item_history"), 0);
    CHECK_EQ(sql_int(path, "SELECT count(*) FROM items"
                           " WHERE add_actor = 'alice'"), 3);
    CHECK_OK(am_store_history(s, NS1("n"), AM_STR("a"), &r));
    CHECK_EQ(r->count, 1);
    CHECK(str_is(r->items[0].event, "add"));
    CHECK(str_is(r->items[0].actor, "alice"));
    CHECK(str_is(r->items[0].value, "1"));
    CHECK(r->items[0].at_ms > 0);
    int64_t added = r->items[0].at_ms;
    am_results_free(r);

    /* An update moves the event into item_history first, at its own
     * time, then appends the update. */
    put(s, "a", "2");
    CHECK_EQ(hist_rows(path, "a"), 2);
    CHECK_EQ(sql_int(path, "SELECT count(*) FROM items"
                           " WHERE add_actor IS NOT NULL"), 2);
    CHECK_OK(am_store_history(s, NS1("n"), AM_STR("a"), &r));
    CHECK_EQ(r->count, 2);
    CHECK(str_is(r->items[0].event, "add"));
    CHECK(str_is(r->items[0].actor, "alice"));
    CHECK_EQ(r->items[0].at_ms, added);
    CHECK(str_is(r->items[0].value, "1"));
    CHECK(str_is(r->items[1].event, "update"));
    CHECK(str_is(r->items[1].value, "2"));
    am_results_free(r);

    /* A delete, and an undo of an "add" (a soft delete), do the same. */
    CHECK_OK(am_store_delete(s, NS1("n"), AM_STR("b")));
    CHECK_EQ(hist_rows(path, "b"), 2);
    events(s, "b", ev, sizeof ev);
    CHECK_STR_EQ(ev, "add delete");
    CHECK_OK(am_store_undo(s, NS1("n"), AM_STR("c")));
    CHECK_EQ(hist_rows(path, "c"), 2);
    events(s, "c", ev, sizeof ev);
    CHECK_STR_EQ(ev, "add delete");
    am_buf got = AM_BUF_INIT;
    CHECK_ST(am_store_get(s, NS1("n"), AM_STR("c"), &got), AM_ENOTFOUND);
    am_buf_free(&got);
    /* Re-adding the deleted key, then undoing that, restores nothing
     * live: the events stay in order. */
    put(s, "c", "3");
    events(s, "c", ev, sizeof ev);
    CHECK_STR_EQ(ev, "add delete add");
    CHECK_OK(am_store_undo(s, NS1("n"), AM_STR("c")));
    events(s, "c", ev, sizeof ev);
    CHECK_STR_EQ(ev, "add delete add delete");

    /* Pruning keeps an implicit event (it is an item's only one) and
     * keeps the last of the others. */
    put(s, "d", "1");
    size_t removed = 0;
    CHECK_OK(am_store_history_prune(s, 1, &removed));
    CHECK_EQ(removed, 1 + 1 + 3); /* a: 1, b: 1, c: 3 */
    events(s, "d", ev, sizeof ev);
    CHECK_STR_EQ(ev, "add");
    events(s, "a", ev, sizeof ev);
    CHECK_STR_EQ(ev, "update");
    /* A hard delete takes the implicit event with the row. */
    CHECK_OK(am_store_delete_ns(s, NS1("n"), NULL));
    CHECK_EQ(sql_int(path, "SELECT count(*) FROM item_history"), 0);
    CHECK_OK(am_store_check(s));
    am_store_close(s);
    test_rmtree(dir);
    free(dir);
}

AM_TEST(a_version_5_file_is_migrated_keeping_every_row_and_event)
{
    char *dir = test_tmpdir(), path[512];
    static const char *const keys[] = { "new", "updated", "deleted",
                                        "undone" };
    char *before[4];
    am_store *s = NULL, *ro = NULL;
    am_store_opts o = am_store_opts_default();
    sqlite3 *db = NULL;
    snprintf(path, sizeof path, "%s/v5.db", dir);
    CHECK_OK(am_store_open(path, NULL, &s, NULL));
    put(s, "new", "1");
    put(s, "updated", "1");
    put(s, "updated", "2");
    put(s, "deleted", "1");
    CHECK_OK(am_store_delete(s, NS1("n"), AM_STR("deleted")));
    put(s, "undone", "1");
    put(s, "undone", "2");
    CHECK_OK(am_store_undo(s, NS1("n"), AM_STR("undone")));
    for (size_t i = 0; i < 4; i++)
        before[i] = history(s, keys[i]);
    am_store_close(s);
    /* What version 5 left: every "add" in item_history. */
    CHECK_EQ(sqlite3_open(path, &db), SQLITE_OK);
    CHECK_EQ(sqlite3_exec(db, AS_SCHEMA_5 "UPDATE am_schema SET version = 5"
                              " WHERE module = 'store';",
                          NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    int64_t rows5 = sql_int(path, "SELECT count(*) FROM item_history");
    CHECK_EQ(rows5, 1 + 2 + 2 + 3);

    /* Read-only, unmigrated: the same histories. */
    o.read_only = 1;
    CHECK_OK(am_store_open(path, &o, &ro, NULL));
    for (size_t i = 0; i < 4; i++) {
        char *h = history(ro, keys[i]);
        CHECK_STR_EQ(h, before[i]);
        free(h);
    }
    am_store_close(ro);

    /* A writer migrates: every row and event kept, and the old rows'
     * first events stay in item_history. */
    CHECK_OK(am_store_open(path, NULL, &s, NULL));
    CHECK_EQ(sql_int(path, "SELECT version FROM am_schema"
                           " WHERE module = 'store'"), 6);
    CHECK_EQ(sql_int(path, "SELECT count(*) FROM item_history"), rows5);
    CHECK_EQ(sql_int(path, "SELECT count(*) FROM items"), 4);
    CHECK_EQ(sql_int(path, "SELECT count(*) FROM items"
                           " WHERE add_actor IS NOT NULL"), 0);
    for (size_t i = 0; i < 4; i++) {
        char *h = history(s, keys[i]);
        CHECK_STR_EQ(h, before[i]);
        free(h);
        free(before[i]);
    }
    /* An old row's update appends after its events. */
    put(s, "new", "2");
    CHECK_EQ(hist_rows(path, "new"), 2);
    char ev[64];
    events(s, "new", ev, sizeof ev);
    CHECK_STR_EQ(ev, "add update");
    CHECK_OK(am_store_check(s));
    am_store_close(s);
    test_rmtree(dir);
    free(dir);
}
