/* sqlite_db.c -- the one SQLite layer: open, statement cache, schema
 * migrations and error mapping for every module that stores in SQLite.
 *
 * See sqlite_db.h for what each part promises. The idea is that the
 * store and the tiers differ in their tables and queries only: how a
 * file is opened, how long a lock is waited for, what a newer schema or a
 * busy database answers, are decided here once.
 */
#include <stdio.h>
#include <string.h>

#include "db/sqlite_db.h"

/* ---- Errors ---- */

/* SQL in messages is cut to this many bytes: enough to tell which
 * statement it was, short enough to leave room for SQLite's message. */
#define SQL_SHOWN 72

static am_status status_of(int rc)
{
    switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return AM_EBUSY;
    case SQLITE_NOMEM:
        return AM_ENOMEM;
    default:
        return AM_EIO;
    }
}

/* "<what>: <msg> (SQL: <start of sql>)" into `err`, code from `rc`. */
static am_status fail_msg(am_error *err, int rc, const char *what,
                          const char *msg, const char *sql)
{
    char shown[SQL_SHOWN + 1];
    size_t n = 0;

    if (sql == NULL)
        return am__fail(err, status_of(rc), "%s: %s", what, msg);
    /* Messages are one line: the SQL's line breaks become spaces. */
    for (; sql[n] != '\0' && n < SQL_SHOWN; n++)
        shown[n] = sql[n] == '\n' || sql[n] == '\t' ? ' ' : sql[n];
    shown[n] = '\0';
    return am__fail(err, status_of(rc), "%s: %s (SQL: %s%s)", what, msg,
                    shown, sql[n] != '\0' ? "..." : "");
}

am_status am__sqldb_fail_sql(const am__sqldb *d, am_error *err, int rc,
                             const char *what, const char *sql)
{
    return fail_msg(err, rc, what,
                    d != NULL && d->conn != NULL ? sqlite3_errmsg(d->conn)
                                                 : sqlite3_errstr(rc),
                    sql);
}

am_status am__sqldb_fail(const am__sqldb *d, am_error *err, int rc,
                         const char *what, sqlite3_stmt *q)
{
    return am__sqldb_fail_sql(d, err, rc, what,
                              q != NULL ? sqlite3_sql(q) : NULL);
}

/* ---- Statements ---- */

am_status am__sqldb_exec(am__sqldb *d, const char *sql, am_error *err)
{
    char *msg = NULL;
    int rc = sqlite3_exec(d->conn, sql, NULL, NULL, &msg);
    am_status st;

    if (rc == SQLITE_OK)
        return AM_OK;
    /* sqlite3_exec's message is the failed statement's own. */
    st = fail_msg(err, rc, "database",
                  msg != NULL ? msg : sqlite3_errstr(rc), sql);
    sqlite3_free(msg);
    return st;
}

am_status am__sqldb_prepare(am__sqldb *d, const char *sql,
                            sqlite3_stmt **out, am_error *err)
{
    int rc = sqlite3_prepare_v2(d->conn, sql, -1, out, NULL);
    if (rc != SQLITE_OK) {
        sqlite3_finalize(*out);
        *out = NULL;
        return am__sqldb_fail_sql(d, err, rc, "prepare", sql);
    }
    return AM_OK;
}

sqlite3_stmt *am__sqldb_stmt(am__sqldb *d, size_t id, am_error *err)
{
    sqlite3_stmt *q;

    if (id >= d->nsql) {
        am__fail(err, AM_EINVAL, "%s: no statement %zu", d->module, id);
        return NULL;
    }
    q = d->stmts[id];
    if (q == NULL) {
        int rc = sqlite3_prepare_v3(d->conn, d->sql[id], -1,
                                    SQLITE_PREPARE_PERSISTENT, &q, NULL);
        if (rc != SQLITE_OK) {
            am__sqldb_fail_sql(d, err, rc, "prepare", d->sql[id]);
            sqlite3_finalize(q);
            return NULL;
        }
        d->stmts[id] = q;
        return q;
    }
    sqlite3_reset(q);
    sqlite3_clear_bindings(q);
    return q;
}

am_status am__sqldb_step_done(am__sqldb *d, sqlite3_stmt *q,
                              const char *what, am_error *err)
{
    int rc = sqlite3_step(q);
    am_status st = AM_OK;

    if (rc != SQLITE_DONE)
        st = am__sqldb_fail(d, err, rc, what, q);
    sqlite3_reset(q);
    return st;
}

/* Transactions run on statements of their own, prepared once: a put is
 * a transaction, and parsing BEGIN and COMMIT each time costs more than
 * the rest of a small get. */
static const char *const tx_sql[3] = { "BEGIN IMMEDIATE", "COMMIT",
                                       "ROLLBACK" };

static am_status tx_step(am__sqldb *d, int which, am_error *err)
{
    if (d->tx[which] == NULL) {
        int rc = sqlite3_prepare_v3(d->conn, tx_sql[which], -1,
                                    SQLITE_PREPARE_PERSISTENT,
                                    &d->tx[which], NULL);
        if (rc != SQLITE_OK)
            return am__sqldb_fail_sql(d, err, rc, "prepare", tx_sql[which]);
    }
    return am__sqldb_step_done(d, d->tx[which], "transaction", err);
}

am_status am__sqldb_begin(am__sqldb *d, am_error *err)
{
    return tx_step(d, 0, err);
}

am_status am__sqldb_commit(am__sqldb *d, am_error *err)
{
    return tx_step(d, 1, err);
}

void am__sqldb_rollback(am__sqldb *d)
{
    am_error ignored = { AM_OK, "" };
    if (d != NULL && !sqlite3_get_autocommit(d->conn))
        (void)tx_step(d, 2, &ignored);
}

/* ---- Open and close ---- */

/* Set the journal to WAL. Switching the mode does not wait in the busy
 * handler: while another process creates and migrates the file it
 * answers BUSY at once, so it is retried for up to the busy timeout. */
static am_status set_wal(am__sqldb *d, am_error *err)
{
    am_status st = am__sqldb_exec(d, "PRAGMA journal_mode = WAL", err);
    for (int waited = 0; st == AM_EBUSY && waited < d->busy_timeout_ms;
         waited += 5) {
        sqlite3_sleep(5);
        st = am__sqldb_exec(d, "PRAGMA journal_mode = WAL", err);
    }
    return st;
}

static am_status auto_vacuum_is_incremental(am__sqldb *d, bool *out,
                                            am_error *err)
{
    sqlite3_stmt *q = NULL;
    int rc = sqlite3_prepare_v2(d->conn, "PRAGMA auto_vacuum", -1, &q, NULL);

    if (rc == SQLITE_OK) {
        rc = sqlite3_step(q);
        *out = rc == SQLITE_ROW && sqlite3_column_int(q, 0) == 2;
        if (rc == SQLITE_ROW)
            rc = SQLITE_OK;
    }
    sqlite3_finalize(q);
    return rc == SQLITE_OK ? AM_OK
                           : am__sqldb_fail_sql(d, err, rc, "open",
                                                "PRAGMA auto_vacuum");
}

static am_status configure(am__sqldb *d, const am__sqldb_opts *o,
                           am_error *err)
{
    char sql[96];
    am_status st = AM_OK;
    bool incremental = false;

    if (o->cache_kib > 0) {
        snprintf(sql, sizeof sql, "PRAGMA cache_size = -%d", o->cache_kib);
        st = am__sqldb_exec(d, sql, err);
    }
    if (st == AM_OK && o->mmap_bytes > 0) {
        snprintf(sql, sizeof sql, "PRAGMA mmap_size = %lld",
                 (long long)o->mmap_bytes);
        st = am__sqldb_exec(d, sql, err);
    }
    if (st != AM_OK || o->read_only)
        return st;
    /* auto_vacuum only takes effect before the first table exists;
     * whichever module creates a shared file chooses the same. Set only
     * when it differs: setting it, even to the value it has, rewrites the
     * header page, so every open of an unchanged file wrote a log frame
     * (and its close a checkpoint with fsyncs). */
    st = auto_vacuum_is_incremental(d, &incremental, err);
    if (st == AM_OK && !incremental)
        st = am__sqldb_exec(d, "PRAGMA auto_vacuum = INCREMENTAL", err);
    if (st == AM_OK)
        st = set_wal(d, err);
    if (st == AM_OK)
        st = am__sqldb_exec(d, o->sync_full ? "PRAGMA synchronous = FULL"
                                            : "PRAGMA synchronous = NORMAL",
                            err);
    if (st == AM_OK && o->wal_autocheckpoint > 0) {
        snprintf(sql, sizeof sql, "PRAGMA wal_autocheckpoint = %d",
                 o->wal_autocheckpoint);
        st = am__sqldb_exec(d, sql, err);
    }
    return st;
}

am_status am__sqldb_open(const char *path, const am__sqldb_opts *o,
                         const am_allocator *alloc, am__sqldb **out,
                         am_error *err)
{
    am__sqldb *d;
    am_error detail = { AM_OK, "" };
    am_status st;
    int rc, flags;

    *out = NULL;
    if (o->busy_timeout_ms < 0)
        return am__fail(err, AM_EINVAL, "%s open '%s': busy_timeout_ms %d is "
                        "negative (0 does not wait for a lock)", o->module,
                        path, o->busy_timeout_ms);
    /* Before the file is opened: a key this build cannot use must not
     * leave a plaintext file behind. */
    if (o->key.len > 0) {
        st = am__sqldb_key_check(path, o->key, &detail);
        if (st != AM_OK)
            return am__fail(err, st, "%s open '%s': %s", o->module, path,
                            detail.msg);
    }
    d = am__calloc(alloc, 1, sizeof *d);
    if (d == NULL)
        return am__fail(err, AM_ENOMEM, "%s open: out of memory", o->module);
    d->alloc = alloc;
    d->module = o->module;
    d->sql = o->sql;
    d->nsql = o->nsql;
    d->busy_timeout_ms = o->busy_timeout_ms;
    if (o->nsql > 0) {
        d->stmts = am__calloc(alloc, o->nsql, sizeof *d->stmts);
        if (d->stmts == NULL) {
            am__free(alloc, d, sizeof *d);
            return am__fail(err, AM_ENOMEM, "%s open: out of memory",
                            o->module);
        }
    }
    flags = o->read_only ? SQLITE_OPEN_READONLY
                         : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
    flags |= SQLITE_OPEN_NOMUTEX; /* the module serializes the handle */
    rc = sqlite3_open_v2(path, &d->conn, flags, NULL);
    if (rc != SQLITE_OK) {
        st = am__sqldb_fail_sql(d, &detail, rc, "open", NULL);
        goto fail;
    }
    sqlite3_extended_result_codes(d->conn, 1);
    sqlite3_busy_timeout(d->conn, d->busy_timeout_ms);
    st = o->key.len > 0 ? am__sqldb_key_apply(d, o->key, &detail)
                        : am__sqldb_keyless_probe(d, path, &detail);
    if (st == AM_OK)
        st = configure(d, o, &detail);
    if (st == AM_OK) {
        *out = d;
        return AM_OK;
    }
fail:
    am__sqldb_close(d);
    return am__fail(err, st, "%s open '%s': %s", o->module, path,
                    detail.msg);
}

void am__sqldb_close(am__sqldb *d)
{
    if (d == NULL)
        return;
    for (size_t i = 0; i < d->nsql && d->stmts != NULL; i++)
        sqlite3_finalize(d->stmts[i]);
    for (size_t i = 0; i < 3; i++)
        sqlite3_finalize(d->tx[i]);
    sqlite3_close(d->conn);
    if (d->stmts != NULL)
        am__free(d->alloc, d->stmts, d->nsql * sizeof *d->stmts);
    am__free(d->alloc, d, sizeof *d);
}

/* ---- Schema ---- */

am_status am__sqldb_schema_version(am__sqldb *d, const char *module,
                                   int *out, am_error *err)
{
    sqlite3_stmt *q = NULL;
    int rc;

    *out = 0;
    rc = sqlite3_prepare_v2(d->conn, "SELECT version FROM am_schema"
                            " WHERE module = ?1", -1, &q, NULL);
    if (rc != SQLITE_OK) {
        sqlite3_finalize(q);
        /* No am_schema table yet: nothing was ever migrated. */
        if ((rc & 0xff) == SQLITE_ERROR)
            return AM_OK;
        return am__sqldb_fail_sql(d, err, rc, "schema",
                                  "SELECT version FROM am_schema");
    }
    sqlite3_bind_text(q, 1, module, -1, SQLITE_STATIC);
    rc = sqlite3_step(q);
    if (rc == SQLITE_ROW)
        *out = sqlite3_column_int(q, 0);
    am_status st = rc == SQLITE_ROW || rc == SQLITE_DONE
                       ? AM_OK
                       : am__sqldb_fail(d, err, rc, "schema", q);
    sqlite3_finalize(q);
    return st;
}

am_status am__sqldb_migrate(am__sqldb *d, const am__sqldb_schema *sc,
                            am_error *err)
{
    am_status st;
    int version = 0;
    char sql[160];

    st = am__sqldb_begin(d, err);
    if (st != AM_OK)
        return st;
    st = am__sqldb_exec(d, "CREATE TABLE IF NOT EXISTS am_schema("
                           "module TEXT PRIMARY KEY,"
                           " version INTEGER NOT NULL)", err);
    if (st == AM_OK)
        st = am__sqldb_schema_version(d, sc->module, &version, err);
    if (st != AM_OK)
        goto out;
    if (version > sc->version) {
        st = am__fail(err, AM_EUNSUPPORTED, "schema: the %s schema is "
                      "version %d, newer than this library's %d",
                      sc->module, version, sc->version);
        goto out;
    }
    if (version < 0) {
        st = am__fail(err, AM_EFORMAT, "schema: the %s schema version %d "
                      "is negative (table am_schema was changed outside "
                      "agentmem)", sc->module, version);
        goto out;
    }
    if (version == sc->version)
        goto out; /* nothing to do: commit the empty transaction */
    if (version == 0 && sc->fresh != NULL) {
        st = am__sqldb_exec(d, sc->fresh, err);
        if (st == AM_OK && sc->after != NULL)
            st = sc->after(sc->ctx, sc->version, err);
    } else {
        for (int v = version; v < sc->version && st == AM_OK; v++) {
            st = am__sqldb_exec(d, sc->steps[v], err);
            if (st == AM_OK && sc->after != NULL)
                st = sc->after(sc->ctx, v + 1, err);
        }
    }
    if (st != AM_OK)
        goto out;
    /* module names are the modules' own static text, never input. */
    snprintf(sql, sizeof sql,
             "INSERT INTO am_schema(module, version) VALUES ('%s', %d)"
             " ON CONFLICT(module) DO UPDATE SET version = excluded.version",
             sc->module, sc->version);
    st = am__sqldb_exec(d, sql, err);
out:
    if (st == AM_OK)
        st = am__sqldb_commit(d, err);
    if (st != AM_OK)
        am__sqldb_rollback(d);
    return st;
}
