/* store_sqlite_retention.c -- keeping the store bounded: delete a namespace,
 * purge expired and soft-deleted items, prune histories, vacuum, check,
 * checkpoint.
 *
 * Hard deletes (delete_items) remove the rows' history and full-text
 * entries (FTS5 'delete' with the old text: the index has external
 * content) before the rows, all in one transaction.
 */
#include <assert.h>
#include <stdio.h>
#include <string.h>

#include "store_sqlite.h"

/* ---- Retention ---- */

/* With no vector left, the index is no longer tied to an embedder: forget
 * its model so that another embedder may start a new index. */
am_status am__sq_release_vec_model(am_store *s)
{
    static const am_str none = { NULL, 0 };
    return am__sq_exec_once(s, "DELETE FROM store_meta WHERE k = 'vec_model'"
                            " AND NOT EXISTS (SELECT 1 FROM items"
                            " WHERE vec IS NOT NULL) AND ?3 = ?3",
                         none, none, 0, NULL);
}

/* Hard-delete the items matching `cond` (an SQL condition over items; ?1,
 * ?2 and ?3 bound to b1, b2 and i3): their history, their full-text
 * entries, then the rows. *n grows by the rows deleted. */
static am_status delete_items(am_store *s, const char *cond, am_str b1,
                              am_str b2, int64_t i3, size_t *n)
{
    char sql[256];
    am_status st;

    snprintf(sql, sizeof sql, "DELETE FROM item_history WHERE item_id IN"
             " (SELECT id FROM items WHERE %s)", cond);
    st = am__sq_exec_once(s, sql, b1, b2, i3, NULL);
    if (st == AM_OK) {
        snprintf(sql, sizeof sql, "INSERT INTO items_fts(items_fts, rowid,"
                 " text, fts_ns) SELECT 'delete', id, text,"
                 " am_ns_tokens(ns) FROM items WHERE %s", cond);
        st = am__sq_exec_once(s, sql, b1, b2, i3, NULL);
    }
    if (st == AM_OK) {
        size_t before = *n;
        snprintf(sql, sizeof sql, "DELETE FROM items WHERE %s", cond);
        st = am__sq_exec_once(s, sql, b1, b2, i3, n);
        /* Their 'delete' entries; the texts' lengths are not at hand, an
         * estimate does (purges are rare and not waited on by puts). */
        am__sq_fts_wrote(s, (*n - before) * 64);
        /* No row is left to stamp: vector caches reload in full. */
        if (st == AM_OK && *n > before)
            st = am__sq_vec_epoch_bump(s);
    }
    return st;
}

/* The conditions of am__doomed's kinds over ?1 = lo, ?2 = hi, ?3 = t
 * (am__sq_exec_once binds ?3 always, so a condition without it names it
 * in "?3 = ?3"). */
static const char *const doomed_cond[] = {
    [AM__DOOM_NS] = "ns >= ?1 AND ns < ?2 AND ?3 = ?3",
    [AM__DOOM_DELETED] = "deleted_ms < ?3",
    [AM__DOOM_EXPIRED] = "expires_ms <= ?3",
};

/* Inside the front end's transaction (store_retention.c). */
am_status am__sq_delete_items(am_store *s, const am__doomed *d, size_t *n)
{
    assert((size_t)d->kind < sizeof doomed_cond / sizeof *doomed_cond);
    return delete_items(s, doomed_cond[d->kind], d->lo, d->hi, d->t, n);
}

/* Inside the front end's transaction; keep >= 1 (the front end checked). */
am_status am__sq_prune_history(am_store *s, size_t keep, size_t *n)
{
    static const am_str none = { NULL, 0 };

    assert(keep > 0);
    return am__sq_exec_once(s, "DELETE FROM item_history WHERE (item_id, seq)"
                            " IN (SELECT item_id, seq FROM (SELECT item_id,"
                            " seq, row_number() OVER (PARTITION BY item_id"
                            " ORDER BY seq DESC) AS rn FROM item_history)"
                            " WHERE rn > ?3)",
                         none, none, (int64_t)keep, n);
}

am_status am__sq_vacuum(am_store *s, int full)
{
    if (s == NULL)
        return AM_EINVAL;
    am_status st = am__store_exec(s, full ? "VACUUM"
                                          : "PRAGMA incremental_vacuum");
    if (st == AM_OK)
        st = am__store_exec(s, "PRAGMA wal_checkpoint(TRUNCATE)");
    return st;
}

am_status am__sq_check(am_store *s)
{
    sqlite3_stmt *q = NULL;
    am_status st = AM_OK;
    if (s == NULL)
        return AM_EINVAL;
    int rc = sqlite3_prepare_v2(SQ(s)->db->conn, "PRAGMA integrity_check",
                                -1, &q, NULL);
    if (rc != SQLITE_OK) {
        st = am__sqldb_fail_sql(SQ(s)->db, &AM__ERR(s), rc, "integrity check",
                                "PRAGMA integrity_check");
    } else {
        rc = sqlite3_step(q);
        const char *r = rc == SQLITE_ROW
                            ? (const char *)sqlite3_column_text(q, 0)
                            : NULL;
        if (r == NULL || strcmp(r, "ok") != 0)
            st = am__fail(&AM__ERR(s), AM_EIO, "integrity check: %s",
                          r != NULL ? r : sqlite3_errmsg(SQ(s)->db->conn));
    }
    sqlite3_finalize(q);
    /* The full-text index must match the items' text exactly. */
    if (st == AM_OK &&
        am__store_exec(s, "INSERT INTO items_fts(items_fts, rank)"
                          " VALUES ('integrity-check', 1)") != AM_OK) {
        char detail[sizeof AM__ERR(s).msg];
        memcpy(detail, AM__ERR(s).msg, sizeof detail);
        st = am__fail(&AM__ERR(s), AM_EIO, "full-text index: %s", detail);
    }
    return st;
}

/* Write back the database file's pages that a checkpoint copied and
 * SQLite did not sync. SQLite syncs the database file only in the
 * checkpoint that copies the log to its end, and under continuous writes
 * that is the one the writing handle runs between two of its commits
 * (see am_store_checkpoint): its fsync then wrote back every page the
 * background passes had copied since the log last started over, tens of
 * MB, while no put could commit (the HTTP server's writer checkpoints
 * took up to 47 ms on the quiet machine). Synced here, on the caller's
 * background thread, that last checkpoint finds little left to write.
 * Through SQLite's own file handle: a descriptor we opened and closed
 * ourselves would drop the process's POSIX locks on the file. */
static am_status sync_db_file(am_store *s)
{
    sqlite3_file *f = NULL;
    int rc = sqlite3_file_control(SQ(s)->db->conn, "main",
                                  SQLITE_FCNTL_FILE_POINTER, &f);

    if (rc == SQLITE_OK && f != NULL && f->pMethods != NULL)
        rc = f->pMethods->xSync(f, SQLITE_SYNC_NORMAL);
    if (rc != SQLITE_OK)
        return am__sqldb_fail_sql(SQ(s)->db, &AM__ERR(s), rc,
                                  "checkpoint: sync of the database file",
                                  NULL);
    return AM_OK;
}

/* A PASSIVE checkpoint: SQLite copies what no reader still needs and
 * neither takes nor waits for the writer's lock, so another handle's
 * commits go on meanwhile (the HTTP server runs this on its own thread
 * and handle, srv_ckpt.c). */
am_status am__sq_checkpoint(am_store *s, size_t *wal_pages,
                            size_t *left_pages)
{
    sqlite3 *db = SQ(s)->db->conn;
    int log = 0, copied = 0, rc;

    if (sqlite3_db_readonly(db, "main") == 1)
        return am__fail(&AM__ERR(s), AM_EINVAL, "checkpoint: the handle "
                        "was opened read-only");
    rc = sqlite3_wal_checkpoint_v2(db, "main", SQLITE_CHECKPOINT_PASSIVE,
                                   &log, &copied);
    if (rc != SQLITE_OK)
        return am__sqldb_fail_sql(SQ(s)->db, &AM__ERR(s), rc, "checkpoint",
                                  NULL);
    /* Pages copied, but not to the log's end (that checkpoint SQLite
     * syncs itself). `copied` counts from the log's start: a count other
     * than last time's is new pages, or a log that started over. */
    if (copied > 0 && copied < log && copied != SQ(s)->ckpt_synced) {
        am_status st = sync_db_file(s);
        if (st != AM_OK)
            return st;
        SQ(s)->ckpt_synced = copied;
    }
    /* Not in WAL mode (an in-memory database): -1, nothing to copy. */
    *wal_pages = log > 0 ? (size_t)log : 0;
    *left_pages = log > copied && copied >= 0 ? (size_t)(log - copied) : 0;
    return AM_OK;
}
