/* test_db.c -- the SQLite layer (src/db) and the one meaning of its
 * options in both modules that use it (store, tiers). */
#include <sqlite3.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <string.h>
#include <time.h>

#include "agentmem/store.h"
#include "agentmem/tiers.h"
#include "db/sqlite_db.h"
#include "harness.h"

static am__sqldb *open_db(const char *path, int busy_ms)
{
    am__sqldb_opts o = { .module = "test", .busy_timeout_ms = busy_ms };
    am__sqldb *d = NULL;
    am_error err = { AM_OK, "" };
    CHECK_OK_E(am__sqldb_open(path, &o, NULL, &d, &err), &err);
    return d;
}

static int64_t count_rows(am__sqldb *d, const char *sql)
{
    sqlite3_stmt *q = NULL;
    int64_t n = -1;
    if (sqlite3_prepare_v2(d->conn, sql, -1, &q, NULL) == SQLITE_OK &&
        sqlite3_step(q) == SQLITE_ROW)
        n = sqlite3_column_int64(q, 0);
    sqlite3_finalize(q);
    return n;
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- Open ---- */

AM_TEST(open_sets_wal_and_refuses_a_negative_busy_timeout)
{
    char *dir = test_tmpdir(), path[512];
    am__sqldb_opts o = { .module = "test", .busy_timeout_ms = -1 };
    am__sqldb *d = NULL;
    am_error err = { AM_OK, "" };
    sqlite3_stmt *q = NULL;

    snprintf(path, sizeof path, "%s/a.db", dir);
    CHECK_ST(am__sqldb_open(path, &o, NULL, &d, &err), AM_EINVAL);
    CHECK(d == NULL);
    CHECK(strstr(err.msg, "busy_timeout_ms -1") != NULL);
    d = open_db(path, 0);
    CHECK_EQ(sqlite3_prepare_v2(d->conn, "PRAGMA journal_mode", -1, &q, NULL),
             SQLITE_OK);
    CHECK_EQ(sqlite3_step(q), SQLITE_ROW);
    CHECK_STR_EQ((const char *)sqlite3_column_text(q, 0), "wal");
    sqlite3_finalize(q);
    CHECK_EQ(count_rows(d, "PRAGMA auto_vacuum"), 2); /* incremental */
    am__sqldb_close(d);
    am__sqldb_close(NULL);
    test_rmtree(dir);
    free(dir);
}

/* Bytes in the file at `path` (0 when there is none). */
static long long file_bytes(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (long long)st.st_size : 0;
}

/* Opening a file that needs no migration reads it only: setting
 * auto_vacuum (even to the value the file has) rewrote the header page,
 * so every open wrote a log frame, and every close copied it back. */
AM_TEST(opening_an_unchanged_store_writes_nothing)
{
    char *dir = test_tmpdir(), path[512], wal[520];
    am_str parts[1] = { AM_STR("a") };
    am_item_in it = { .ns = { parts, 1 }, .key = AM_STR("k"),
                      .value = AM_STR("\"v\"") };
    am_buf out = AM_BUF_INIT;
    am_store *s = NULL;
    am_error err = { AM_OK, "" };

    snprintf(path, sizeof path, "%s/s.db", dir);
    snprintf(wal, sizeof wal, "%s-wal", path);
    CHECK_OK_E(am_store_open(path, NULL, &s, &err), &err);
    CHECK_OK(am_store_put(s, &it));
    am_store_close(s); /* the last connection: the log is copied back */
    CHECK_EQ(file_bytes(wal), 0);

    CHECK_OK_E(am_store_open(path, NULL, &s, &err), &err);
    CHECK_OK(am_store_get(s, it.ns, it.key, &out));
    CHECK_EQ(file_bytes(wal), 0);
    CHECK_STR_EQ(out.ptr, "\"v\"");
    am_store_close(s);
    am_buf_free(&out);
    test_rmtree(dir);
    free(dir);
}

AM_TEST(open_of_a_file_that_is_not_a_database_names_it)
{
    char *dir = test_tmpdir(), path[512];
    am__sqldb_opts o = { .module = "test", .busy_timeout_ms = 0 };
    am__sqldb *d = NULL;
    am_error err = { AM_OK, "" };
    FILE *fp;

    snprintf(path, sizeof path, "%s/junk.db", dir);
    fp = fopen(path, "wb");
    for (int i = 0; i < 100; i++)
        fputs("this is not a database ", fp);
    fclose(fp);
    CHECK_ST(am__sqldb_open(path, &o, NULL, &d, &err), AM_EIO);
    CHECK(d == NULL);
    CHECK(strstr(err.msg, "test open") != NULL);
    CHECK(strstr(err.msg, "junk.db") != NULL);
    CHECK(strstr(err.msg, "not a database") != NULL);
    test_rmtree(dir);
    free(dir);
}

/* ---- Statements and errors ---- */

static const char *const two_sql[] = {
    "SELECT ?1 + 1",
    "SELECT * FROM no_such_table",
};

AM_TEST(statement_cache_prepares_once_and_resets)
{
    char *dir = test_tmpdir(), path[512];
    am__sqldb_opts o = { .module = "test", .sql = two_sql, .nsql = 2 };
    am__sqldb *d = NULL;
    am_error err = { AM_OK, "" };
    sqlite3_stmt *q, *again;

    snprintf(path, sizeof path, "%s/s.db", dir);
    CHECK_OK(am__sqldb_open(path, &o, NULL, &d, &err));
    q = am__sqldb_stmt(d, 0, &err);
    CHECK(q != NULL);
    sqlite3_bind_int(q, 1, 41);
    CHECK_EQ(sqlite3_step(q), SQLITE_ROW);
    CHECK_EQ(sqlite3_column_int(q, 0), 42);
    /* The same statement, reset and with its bindings cleared. */
    again = am__sqldb_stmt(d, 0, &err);
    CHECK(again == q);
    CHECK_EQ(sqlite3_step(again), SQLITE_ROW);
    CHECK_EQ(sqlite3_column_type(again, 0), SQLITE_NULL); /* NULL + 1 */
    /* A statement that cannot be prepared: EIO, naming the SQL. */
    CHECK(am__sqldb_stmt(d, 1, &err) == NULL);
    CHECK_EQ(err.code, AM_EIO);
    CHECK(strstr(err.msg, "no such table") != NULL);
    CHECK(strstr(err.msg, "SELECT * FROM no_such_table") != NULL);
    /* An id outside the table. */
    CHECK(am__sqldb_stmt(d, 2, &err) == NULL);
    CHECK_EQ(err.code, AM_EINVAL);
    am__sqldb_close(d);
    test_rmtree(dir);
    free(dir);
}

AM_TEST(exec_errors_name_the_sql_and_long_sql_is_cut)
{
    char *dir = test_tmpdir(), path[512], sql[400];
    am__sqldb *d;
    am_error err = { AM_OK, "" };

    snprintf(path, sizeof path, "%s/e.db", dir);
    d = open_db(path, 0);
    CHECK_ST(am__sqldb_exec(d, "CREATE TABLE t(x); CREATE TABLE t(y)", &err),
             AM_EIO);
    CHECK(strstr(err.msg, "already exists") != NULL);
    CHECK(strstr(err.msg, "CREATE TABLE t(x)") != NULL);
    memset(sql, ' ', sizeof sql);
    memcpy(sql, "SELECT nope", 11);
    sql[sizeof sql - 1] = '\0';
    CHECK_ST(am__sqldb_exec(d, sql, &err), AM_EIO);
    CHECK(strstr(err.msg, "...") != NULL);
    CHECK(strlen(err.msg) < 200);
    am__sqldb_close(d);
    test_rmtree(dir);
    free(dir);
}

AM_TEST(a_lock_held_elsewhere_is_ebusy_and_zero_does_not_wait)
{
    char *dir = test_tmpdir(), path[512];
    am__sqldb *d, *other;
    am_error err = { AM_OK, "" };
    int64_t t0;

    snprintf(path, sizeof path, "%s/b.db", dir);
    d = open_db(path, 0);
    other = open_db(path, 0);
    CHECK_OK(am__sqldb_begin(other, &err));
    t0 = now_ms();
    CHECK_ST(am__sqldb_begin(d, &err), AM_EBUSY);
    CHECK(now_ms() - t0 < 1000);
    CHECK(strstr(err.msg, "locked") != NULL);
    CHECK(strstr(err.msg, "BEGIN IMMEDIATE") != NULL);
    am__sqldb_rollback(other);
    CHECK_OK(am__sqldb_begin(d, &err));
    CHECK_OK(am__sqldb_commit(d, &err));
    am__sqldb_rollback(d); /* no transaction: nothing to do */
    am__sqldb_close(other);
    am__sqldb_close(d);
    test_rmtree(dir);
    free(dir);
}

/* ---- Migrations ---- */

typedef struct {
    int calls[8];
    int ncalls;
    int fail_at; /* after() fails when it reaches this version */
} hook_log;

static am_status after_hook(void *ctx, int reached, am_error *err)
{
    hook_log *h = ctx;
    h->calls[h->ncalls++] = reached;
    if (reached == h->fail_at)
        return am__fail(err, AM_EIO, "hook refused version %d", reached);
    return AM_OK;
}

static const char *const steps3[] = {
    "CREATE TABLE m(a);",
    "ALTER TABLE m ADD COLUMN b;",
    "CREATE TABLE m3(c);",
};

AM_TEST(migrations_run_each_step_once_in_order)
{
    char *dir = test_tmpdir(), path[512];
    am__sqldb *d;
    am_error err = { AM_OK, "" };
    hook_log h = { .fail_at = 0 };
    am__sqldb_schema sc = { .module = "mod", .version = 2, .steps = steps3,
                            .after = after_hook, .ctx = &h };
    int v = -1;

    snprintf(path, sizeof path, "%s/m.db", dir);
    d = open_db(path, 0);
    CHECK_OK(am__sqldb_schema_version(d, "mod", &v, &err));
    CHECK_EQ(v, 0); /* no am_schema table yet */
    CHECK_OK_E(am__sqldb_migrate(d, &sc, &err), &err);
    CHECK_EQ(h.ncalls, 2);
    CHECK_EQ(h.calls[0], 1);
    CHECK_EQ(h.calls[1], 2);
    CHECK_OK(am__sqldb_schema_version(d, "mod", &v, &err));
    CHECK_EQ(v, 2);
    /* Again: nothing to do. */
    CHECK_OK(am__sqldb_migrate(d, &sc, &err));
    CHECK_EQ(h.ncalls, 2);
    /* One version more: only the new step runs. */
    sc.version = 3;
    CHECK_OK(am__sqldb_migrate(d, &sc, &err));
    CHECK_EQ(h.ncalls, 3);
    CHECK_EQ(h.calls[2], 3);
    CHECK_EQ(count_rows(d, "SELECT count(*) FROM m3"), 0);
    /* Another module's row is its own. */
    CHECK_OK(am__sqldb_schema_version(d, "other", &v, &err));
    CHECK_EQ(v, 0);
    am__sqldb_close(d);
    test_rmtree(dir);
    free(dir);
}

AM_TEST(a_fresh_schema_skips_the_steps_for_a_new_file)
{
    char *dir = test_tmpdir(), path[512];
    am__sqldb *d;
    am_error err = { AM_OK, "" };
    hook_log h = { .fail_at = 0 };
    am__sqldb_schema sc = { .module = "mod", .version = 3, .steps = steps3,
                            .fresh = "CREATE TABLE f(a, b, c);",
                            .after = after_hook, .ctx = &h };

    snprintf(path, sizeof path, "%s/f.db", dir);
    d = open_db(path, 0);
    CHECK_OK(am__sqldb_migrate(d, &sc, &err));
    CHECK_EQ(h.ncalls, 1);
    CHECK_EQ(h.calls[0], 3);
    CHECK_EQ(count_rows(d, "SELECT count(*) FROM f"), 0);
    CHECK_EQ(count_rows(d, "SELECT count(*) FROM sqlite_master"
                           " WHERE name = 'm'"), 0);
    am__sqldb_close(d);
    test_rmtree(dir);
    free(dir);
}

AM_TEST(a_failed_step_leaves_the_file_unchanged)
{
    char *dir = test_tmpdir(), path[512];
    am__sqldb *d;
    am_error err = { AM_OK, "" };
    hook_log h = { .fail_at = 2 };
    am__sqldb_schema sc = { .module = "mod", .version = 3, .steps = steps3,
                            .after = after_hook, .ctx = &h };
    int v = -1;

    snprintf(path, sizeof path, "%s/x.db", dir);
    d = open_db(path, 0);
    CHECK_ST(am__sqldb_migrate(d, &sc, &err), AM_EIO);
    CHECK(strstr(err.msg, "hook refused version 2") != NULL);
    CHECK_OK(am__sqldb_schema_version(d, "mod", &v, &err));
    CHECK_EQ(v, 0);
    CHECK_EQ(count_rows(d, "SELECT count(*) FROM sqlite_master"
                           " WHERE name = 'm'"), 0);
    CHECK(sqlite3_get_autocommit(d->conn)); /* rolled back */
    am__sqldb_close(d);
    test_rmtree(dir);
    free(dir);
}

AM_TEST(a_newer_schema_is_unsupported)
{
    char *dir = test_tmpdir(), path[512];
    am__sqldb *d;
    am_error err = { AM_OK, "" };
    am__sqldb_schema sc = { .module = "mod", .version = 2, .steps = steps3 };

    snprintf(path, sizeof path, "%s/n.db", dir);
    d = open_db(path, 0);
    CHECK_OK(am__sqldb_migrate(d, &sc, &err));
    sc.version = 1;
    CHECK_ST(am__sqldb_migrate(d, &sc, &err), AM_EUNSUPPORTED);
    CHECK(strstr(err.msg, "the mod schema is version 2, newer than this "
                          "library's 1") != NULL);
    am__sqldb_close(d);
    test_rmtree(dir);
    free(dir);
}

/* ---- One meaning in both modules ---- */

/* Hold the write lock of `path` from another connection. */
static sqlite3 *lock_file(const char *path)
{
    sqlite3 *h = NULL;
    CHECK_EQ(sqlite3_open(path, &h), SQLITE_OK);
    CHECK_EQ(sqlite3_exec(h, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
    return h;
}

static void unlock_file(sqlite3 *h)
{
    CHECK_EQ(sqlite3_exec(h, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(h);
}

AM_TEST(busy_timeout_zero_does_not_wait_in_store_or_tiers)
{
    char *dir = test_tmpdir(), path[512];
    am_store_opts so = am_store_opts_default();
    am_tiers_opts to = am_tiers_opts_default();
    am_store *s = NULL;
    am_tiers *t = NULL;
    am_item_in it = { 0 };
    am_tier_item_in ti = am_tier_item_in_default();
    const am_str ns1[] = { AM_STR("ns") };
    sqlite3 *h;
    int64_t t0;

    snprintf(path, sizeof path, "%s/shared.db", dir);
    CHECK_EQ(so.busy_timeout_ms, 5000);
    CHECK_EQ(to.busy_timeout_ms, 5000);
    so.busy_timeout_ms = 0;
    to.busy_timeout_ms = 0;
    to.db_path = path;
    to.flush_interval_ms = 3600000; /* flush only when asked */
    CHECK_OK(am_store_open(path, &so, &s, NULL));
    CHECK_OK(am_tiers_open(&to, &t, NULL));

    h = lock_file(path);
    it.ns = (am_ns){ ns1, 1 };
    it.key = AM_STR("k");
    it.value = AM_STR("\"v\"");
    t0 = now_ms();
    /* Before this layer, 0 meant 5000 ms in the store. */
    CHECK_ST(am_store_put(s, &it), AM_EBUSY);
    CHECK(now_ms() - t0 < 2500);
    CHECK(strstr(am_store_last_error(s)->msg, "locked") != NULL);
    ti.content = AM_STR("x");
    t0 = now_ms();
    CHECK_ST(am_tiers_store(t, AM_STR("a"), &ti), AM_OK);
    CHECK_ST(am_tiers_flush(t), AM_EBUSY);
    CHECK(now_ms() - t0 < 2500);
    unlock_file(h);
    CHECK_OK(am_store_put(s, &it));
    CHECK_OK(am_tiers_flush(t));
    am_store_close(s);
    CHECK_OK(am_tiers_close(t, NULL));
    test_rmtree(dir);
    free(dir);
}

AM_TEST(negative_busy_timeout_is_einval_in_store_and_tiers)
{
    char *dir = test_tmpdir(), path[512];
    am_store_opts so = am_store_opts_default();
    am_tiers_opts to = am_tiers_opts_default();
    am_store *s = NULL;
    am_tiers *t = NULL;
    am_error err = { AM_OK, "" };

    snprintf(path, sizeof path, "%s/neg.db", dir);
    so.busy_timeout_ms = -5;
    to.busy_timeout_ms = -5;
    to.db_path = path;
    CHECK_ST(am_store_open(path, &so, &s, &err), AM_EINVAL);
    CHECK(strstr(err.msg, "busy_timeout_ms -5") != NULL);
    CHECK(s == NULL);
    CHECK_ST(am_tiers_open(&to, &t, &err), AM_EINVAL);
    CHECK(strstr(err.msg, "busy_timeout_ms -5") != NULL);
    CHECK(t == NULL);
    test_rmtree(dir);
    free(dir);
}

AM_TEST(a_newer_schema_is_unsupported_in_store_and_tiers)
{
    char *dir = test_tmpdir(), path[512];
    am_tiers_opts to = am_tiers_opts_default();
    am_store *s = NULL;
    am_tiers *t = NULL;
    am_error err = { AM_OK, "" };
    sqlite3 *h;

    snprintf(path, sizeof path, "%s/new.db", dir);
    to.db_path = path;
    CHECK_OK(am_store_open(path, NULL, &s, NULL));
    am_store_close(s);
    CHECK_OK(am_tiers_open(&to, &t, NULL));
    CHECK_OK(am_tiers_close(t, NULL));
    CHECK_EQ(sqlite3_open(path, &h), SQLITE_OK);
    CHECK_EQ(sqlite3_exec(h, "UPDATE am_schema SET version = 99", NULL, NULL,
                          NULL), SQLITE_OK);
    sqlite3_close(h);
    s = NULL;
    t = NULL;
    CHECK_ST(am_store_open(path, NULL, &s, &err), AM_EUNSUPPORTED);
    CHECK(strstr(err.msg, "the store schema is version 99, newer") != NULL);
    CHECK(s == NULL);
    CHECK_ST(am_tiers_open(&to, &t, &err), AM_EUNSUPPORTED);
    CHECK(strstr(err.msg, "the tiers schema is version 99, newer") != NULL);
    CHECK(t == NULL);
    test_rmtree(dir);
    free(dir);
}
