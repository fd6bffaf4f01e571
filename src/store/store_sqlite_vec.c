/* store_sqlite_vec.c -- the in-memory vector cache (am__vcache) loaded
 * from the SQLite rows, for exact cosine search.
 *
 * The cache is loaded from the item rows on first use. When the database
 * changed since (PRAGMA data_version for other connections' commits, or a
 * write through this handle that could not patch the cache in place), it
 * catches up on the rows changed since: those inserted since have ids
 * above the largest it saw (rowids are handed out above the largest), and
 * every write to an existing row stamps it with a change number larger
 * than any before it (`chg`, one per write transaction, migrations 4 and
 * 5 in store_sqlite.c), so the rows stamped above the newest number the
 * cache has seen are the others. A hard delete leaves no row behind (and
 * could let an id be handed out again); it bumps the epoch in store_meta,
 * and a cache from another epoch reloads in full. The HTTP
 * server's read handles see a commit after almost every put; before, each
 * of them reloaded all the vectors for its next search.
 *
 * The scan over it and the candidates are the search plan's
 * (store_search.c, rank_vec.c).
 */
#include "store_sqlite_search.h"

/* ---- The cache ---- */

int64_t am__sq_data_version(am_store *s)
{
    sqlite3_stmt *q = am__store_stmt(s, Q_DATA_VERSION);
    int64_t v = -1;
    if (q == NULL)
        return -1;
    int rc = sqlite3_step(q);
    if (rc == SQLITE_ROW)
        v = sqlite3_column_int64(q, 0);
    else
        am__store_dberr(s, rc, "data version", q);
    sqlite3_reset(q);
    return v;
}

am_status am__sq_vec_epoch_bump(am_store *s)
{
    if (am__store_stmt(s, Q_VEC_EPOCH) == NULL)
        return AM__ERR(s).code;
    return am__store_step_done(s, Q_VEC_EPOCH, "vector index epoch");
}

/* One load: the rows of `q` into the cache. The first row of Q_VEC_FULL
 * and Q_VEC_SINCE (NULL id) is the snapshot's: its largest row id into
 * *id, its newest stamp into *chg and its epoch into *epoch. With
 * `want_epoch` >= 0 (a catch-up), another epoch stops the load with
 * *stale set: rows hard-deleted since are not among the changed ones, so
 * the caller loads in full. */
static am_status vc_run(am_store *s, sqlite3_stmt *q, int64_t want_epoch,
                        int64_t *id, int64_t *chg, int64_t *epoch,
                        int *stale)
{
    am_status st = AM_OK;
    int rc;
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        if (sqlite3_column_type(q, 0) == SQLITE_NULL) {
            *id = sqlite3_column_int64(q, 1);
            *chg = sqlite3_column_int64(q, 2);
            *epoch = sqlite3_column_int64(q, 4);
            if (want_epoch >= 0 && *epoch != want_epoch) {
                *stale = 1;
                break;
            }
            continue;
        }
        st = am__vcache_set(s, sqlite3_column_int64(q, 0),
                            (am_str){ sqlite3_column_blob(q, 1),
                                      (size_t)sqlite3_column_bytes(q, 1) },
                            sqlite3_column_int64(q, 2),
                            sqlite3_column_blob(q, 3),
                            (size_t)sqlite3_column_bytes(q, 3));
        if (st != AM_OK)
            break;
    }
    if (st == AM_OK && !*stale && rc != SQLITE_DONE)
        st = am__store_dberr(s, rc, "vector index", q);
    sqlite3_reset(q);
    return st;
}

/* Make the cache current: nothing to do when the file did not change, the
 * changed rows when it did, everything the first time, after a hard
 * delete anywhere, or on a file without stamps. */
am_status am__sq_vcache_load(am_store *s)
{
    am__sqlite *db = SQ(s);
    am__vcache *c = &s->vc;
    int64_t dv = am__sq_data_version(s), id = 0, chg = 0, epoch = 0;
    int stale = 0;
    am_status st = AM_OK;
    sqlite3_stmt *q;

    if (c->valid && c->data_version == dv && s->vc_writes == s->own_writes)
        return AM_OK;
    if (c->valid && db->has_chg) {
        q = am__store_stmt(s, Q_VEC_SINCE);
        if (q == NULL)
            return AM__ERR(s).code;
        sqlite3_bind_int64(q, 1, db->vc_chg);
        sqlite3_bind_int64(q, 2, db->vc_id);
        st = vc_run(s, q, db->vc_epoch, &id, &chg, &epoch, &stale);
        if (st != AM_OK || !stale)
            goto out;
    }
    am__vcache_free(s);
    stale = 0;
    q = am__store_stmt(s, db->has_chg ? Q_VEC_FULL : Q_VEC_PLAIN);
    if (q == NULL)
        return AM__ERR(s).code;
    st = vc_run(s, q, -1, &id, &chg, &epoch, &stale);
out:
    if (st != AM_OK) {
        am__vcache_free(s);
        return st;
    }
    c->valid = 1;
    c->data_version = dv;
    db->vc_chg = chg;
    db->vc_id = id;
    db->vc_epoch = epoch;
    s->vc_writes = s->own_writes;
    return AM_OK;
}
