/* sqlite_db.h -- the one SQLite layer of the library (not installed).
 *
 * Every module that keeps its data in SQLite (the store's SQLite backend,
 * the tiers) opens its file, caches its statements, migrates its schema
 * and reports SQLite's failures through this layer, so that one option
 * means one thing everywhere and one failure gets one status:
 *
 *   open       WAL journal (retried while another process sets the file
 *              up), synchronous NORMAL or FULL, incremental auto-vacuum
 *              (chosen before the first table exists, so whichever module
 *              creates a shared file chooses the same), a busy timeout.
 *   statements each module lists its SQL in one table indexed by its own
 *              ids; a statement is prepared (persistent) on first use and
 *              kept until close.
 *   schema     one am_schema(module, version) table per file, one row per
 *              module; the runner applies the module's steps from the
 *              stored version to its current one in one write transaction.
 *   errors     SQLITE_BUSY and SQLITE_LOCKED are AM_EBUSY, SQLITE_NOMEM
 *              AM_ENOMEM, everything else AM_EIO; the message names what
 *              was being done, SQLite's own message and the SQL.
 *
 * Option meanings, the same for every module (documented in store.h and
 * tiers.h):
 *   busy_timeout_ms  how long a call waits for another connection's lock
 *                    before it fails with AM_EBUSY; 0 does not wait, a
 *                    negative value is AM_EINVAL. The public defaults are
 *                    5000.
 *   a newer schema   a file whose module version is newer than this
 *                    library knows is AM_EUNSUPPORTED ("the <module>
 *                    schema is version N, newer than this library's M").
 *
 * A PostgreSQL backend sits beside this layer, not on it (src/store/
 * store_pg*.c): the names here say SQLite.
 *
 * Thread safety: an am__sqldb is per-handle. The connection is opened with
 * SQLITE_OPEN_NOMUTEX: the owning module serializes every call on it
 * (the store and the tiers each hold their handle's mutex).
 */
#ifndef AM_SQLITE_DB_H
#define AM_SQLITE_DB_H

#include <sqlite3.h>
#include <stdbool.h>

#include "core/core.h"

typedef struct am__sqldb_opts {
    /* Names the module in messages and its am_schema row ("store"). Static
     * text, borrowed until close. */
    const char *module;
    /* The module's statements, indexed by the module's ids (0..nsql-1),
     * for am__sqldb_stmt. Static, borrowed until close; may be NULL with
     * nsql 0. */
    const char *const *sql;
    size_t nsql;
    int busy_timeout_ms; /* >= 0; see the top of the file */
    bool read_only;      /* no journal change, no migration */
    bool sync_full;      /* synchronous=FULL instead of NORMAL */
    int cache_kib;       /* page cache in KiB; 0: SQLite's default */
    int64_t mmap_bytes;  /* memory-mapped I/O limit; 0: none */
    int wal_autocheckpoint; /* pages; 0: SQLite's default (1000) */
    /* Encryption key (SQLCipher passphrase); empty: a plaintext file.
     * Borrowed for the open call only. See sqlite_crypt.c. */
    am_str key;
} am__sqldb_opts;

typedef struct am__sqldb {
    sqlite3 *conn;
    const am_allocator *alloc;
    const char *module;
    const char *const *sql;
    sqlite3_stmt **stmts;    /* nsql entries, NULL until first use */
    size_t nsql;
    int busy_timeout_ms;
    sqlite3_stmt *tx[3];     /* BEGIN IMMEDIATE, COMMIT, ROLLBACK */
} am__sqldb;

/* Open (creating unless read-only) the SQLite file `path` and set it up as
 * described at the top; with o->key, the file is encrypted with it (new)
 * or must be (existing), see sqlite_crypt.c. The handle is yours
 * (am__sqldb_close); `alloc` (NULL: default) is borrowed until close.
 * Errors, detail in `err` naming the path: AM_EINVAL (negative busy
 * timeout, key too long), AM_EIO (cannot open, not a database), AM_EAUTH
 * (wrong key, key for a plaintext file, encrypted file without a key),
 * AM_EUNSUPPORTED (a key, and this build has no SQLCipher), AM_EBUSY (the
 * journal mode could not be set within the busy timeout), AM_ENOMEM. On
 * failure *out is NULL and the file is unchanged. */
am_status am__sqldb_open(const char *path, const am__sqldb_opts *o,
                         const am_allocator *alloc, am__sqldb **out,
                         am_error *err);

/* Finalize every cached statement and close. NULL: no-op. */
void am__sqldb_close(am__sqldb *d);

/* Record SQLite result `rc` in `err` and return its am_status (see the
 * top): "<what>: <SQLite's message> (SQL: <start of the SQL>)". `q` is the
 * statement that failed, or NULL when none (then no SQL is named). */
am_status am__sqldb_fail(const am__sqldb *d, am_error *err, int rc,
                         const char *what, sqlite3_stmt *q);

/* The same for a failed sqlite3_exec of `sql` (SQL may be NULL). */
am_status am__sqldb_fail_sql(const am__sqldb *d, am_error *err, int rc,
                             const char *what, const char *sql);

/* Run `sql` (one or more statements, no results). Errors as
 * am__sqldb_fail, naming the SQL. */
am_status am__sqldb_exec(am__sqldb *d, const char *sql, am_error *err);

/* Prepare a one-off statement; *out is yours (sqlite3_finalize) and NULL
 * on failure. Errors as am__sqldb_fail, naming the SQL. */
am_status am__sqldb_prepare(am__sqldb *d, const char *sql,
                            sqlite3_stmt **out, am_error *err);

/* Cached statement `id` of the module's table, prepared on first use,
 * ready for binding: reset, with its bindings of the previous use
 * cleared. Owned by `d` (never finalize it). NULL on failure, detail in
 * `err`. */
sqlite3_stmt *am__sqldb_stmt(am__sqldb *d, size_t id, am_error *err);

/* Step `q` (bound by the caller) to completion and reset it; any result
 * but SQLITE_DONE is recorded as am__sqldb_fail(d, err, rc, what, q). */
am_status am__sqldb_step_done(am__sqldb *d, sqlite3_stmt *q,
                              const char *what, am_error *err);

/* BEGIN IMMEDIATE / COMMIT, and ROLLBACK when a transaction is open
 * (failures of the rollback are ignored: SQLite has then rolled back on
 * its own). */
am_status am__sqldb_begin(am__sqldb *d, am_error *err);
am_status am__sqldb_commit(am__sqldb *d, am_error *err);
void am__sqldb_rollback(am__sqldb *d);

/* ---- Encryption (sqlite_crypt.c) ---- */

/* What the first bytes of a database file say, before SQLite opens it. */
typedef enum am__sqldb_kind {
    AM__SQLDB_NEW,       /* absent, empty, or not a file we can read */
    AM__SQLDB_PLAIN,     /* starts with SQLite's "SQLite format 3" */
    AM__SQLDB_OPAQUE     /* anything else: encrypted, or not a database */
} am__sqldb_kind;

am__sqldb_kind am__sqldb_kind_of(const char *path, int64_t *size);

/* Check a key request before the file is touched: AM_EUNSUPPORTED when
 * this build has no SQLCipher, AM_EINVAL for a NULL pointer with a length
 * or a key longer than AM_KEY_MAX, AM_EAUTH for a plaintext file. */
am_status am__sqldb_key_check(const char *path, am_str key, am_error *err);

/* Key the open connection `d` and prove the key reads the file: AM_EAUTH
 * ("wrong key") when it does not. */
am_status am__sqldb_key_apply(am__sqldb *d, am_str key, am_error *err);

/* After a failed open without a key: AM_EAUTH with a message that says
 * the file looks encrypted, when it does; otherwise `st` unchanged. */
am_status am__sqldb_keyless_fail(const char *path, am_status st,
                                 am_error *err);

/* Without a key, prove an opaque file (see am__sqldb_kind_of) reads:
 * the error of am__sqldb_keyless_fail when it does not. AM_OK at once for
 * a new or plaintext file. */
am_status am__sqldb_keyless_probe(am__sqldb *d, const char *path,
                                  am_error *err);

/* ---- Schema ---- */

/* A module's schema history. steps[v] takes version v to v + 1 (steps[0]
 * creates version 1 from nothing); `version` is the current one. When
 * `fresh` is set, a new database (version 0) gets it instead of every
 * step (then steps[0] may be NULL). `after`, when set, runs inside the
 * migration's transaction after each step with the version reached
 * (after `fresh` too, with `version`), for work SQL alone cannot do. */
typedef struct am__sqldb_schema {
    const char *module;
    int version;
    const char *const *steps;
    const char *fresh;
    am_status (*after)(void *ctx, int reached, am_error *err);
    void *ctx;
} am__sqldb_schema;

/* Bring the module's tables to sc->version in one write transaction
 * (BEGIN IMMEDIATE: two processes opening one new file migrate it once).
 * AM_EUNSUPPORTED when the file's version is newer; the errors of
 * am__sqldb_fail otherwise. On failure the file is unchanged. */
am_status am__sqldb_migrate(am__sqldb *d, const am__sqldb_schema *sc,
                            am_error *err);

/* The version of `module` recorded in the file (0: none, or no am_schema
 * table yet) into *out. */
am_status am__sqldb_schema_version(am__sqldb *d, const char *module,
                                   int *out, am_error *err);

#endif
