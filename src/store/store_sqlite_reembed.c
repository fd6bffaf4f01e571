/* store_sqlite_reembed.c -- replace every stored vector with the current
 * embedder's (am_store_reembed on the SQLite backend).
 *
 * A store's vectors all come from one embedder (store_meta 'vec_model',
 * "<id>/<dim>"): a search embeds its query with the store's embedder and
 * compares it with vectors of the same model only. When the embedder
 * changes, the old vectors are useless and block new puts ("vector from
 * X but this store's index holds Y"). Re-embedding is one transaction:
 * every vector is dropped, the live items' texts are embedded again in
 * batches and written back, and the model is recorded; a failure (the
 * embedder's too) leaves the old vectors as they were. The embedder runs
 * inside the transaction, so other writers wait for it: this is an
 * administrative operation, not one to run while serving.
 *
 * Items that are deleted (restorable by undo) or expired keep no vector:
 * an undo writes the item again through the store's embedder.
 */
#include <stdlib.h>
#include <string.h>

#include "store_sqlite.h"

#define BATCH 64

/* The live items' ids and texts, read before anything is written. */
typedef struct todo {
    int64_t *ids;
    am_str *texts;
    size_t count, cap_ids, cap_texts;
    am__arena ar;
} todo;

static am_status load_todo(am_store *s, int64_t now, todo *t)
{
    static const char sql[] =
        "SELECT id, text FROM items WHERE deleted_ms IS NULL AND"
        " (expires_ms IS NULL OR expires_ms > ?1) AND length(text) > 0"
        " ORDER BY id";
    sqlite3_stmt *q = NULL;
    am_status st = am__sqldb_prepare(SQ(s)->db, sql, &q, &AM__ERR(s));
    int rc;

    if (st != AM_OK)
        return st;
    sqlite3_bind_int64(q, 1, now);
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        const char *p = (const char *)sqlite3_column_text(q, 1);
        size_t len = (size_t)sqlite3_column_bytes(q, 1);
        if (am__grow(s->alloc, (void **)&t->ids, &t->cap_ids, t->count + 1,
                     sizeof *t->ids) != AM_OK ||
            am__grow(s->alloc, (void **)&t->texts, &t->cap_texts,
                     t->count + 1, sizeof *t->texts) != AM_OK ||
            (t->texts[t->count].ptr = am__arena_strndup(&t->ar, p, len)) ==
                NULL) {
            st = am__fail(&AM__ERR(s), AM_ENOMEM, "reembed: out of memory");
            break;
        }
        t->texts[t->count].len = len;
        t->ids[t->count++] = sqlite3_column_int64(q, 0);
    }
    if (st == AM_OK && rc != SQLITE_DONE)
        st = am__store_dberr(s, rc, "reembed: read items", q);
    sqlite3_finalize(q);
    return st;
}

am_status am__sq_reembed(am_store *s, int64_t now, am_store_progress progress,
                         void *ctx, size_t *count)
{
    const am_embedder *e = s->embedder;
    todo t;
    float *vecs = NULL;
    sqlite3_stmt *up = NULL;
    char model[160];
    am_status st;

    memset(&t, 0, sizeof t);
    am__arena_init(&t.ar, s->alloc, 0);
    st = am__store_begin(s);
    if (st != AM_OK)
        goto out;
    st = load_todo(s, now, &t);
    if (st == AM_OK)
        st = am__store_exec(s, "UPDATE items SET vec = NULL, vec_model = NULL"
                               " WHERE vec IS NOT NULL");
    /* Every vector changes, unstamped: other handles reload in full. */
    if (st == AM_OK)
        st = am__sq_vec_epoch_bump(s);
    snprintf(model, sizeof model, "%s/%zu", e->id, e->dim);
    if (st == AM_OK)
        st = am__sqldb_prepare(SQ(s)->db, "UPDATE items SET vec_model = ?1,"
                               " vec = ?2 WHERE id = ?3", &up, &AM__ERR(s));
    if (st == AM_OK) {
        vecs = am__alloc_array(s->alloc, (size_t)BATCH * e->dim,
                               sizeof *vecs);
        if (vecs == NULL)
            st = am__fail(&AM__ERR(s), AM_ENOMEM, "reembed: out of memory");
    }
    if (st == AM_OK && progress != NULL)
        progress(ctx, 0, t.count);
    for (size_t at = 0; st == AM_OK && at < t.count; at += BATCH) {
        size_t n = t.count - at < BATCH ? t.count - at : BATCH;
        am_error eerr = { AM_OK, "" };
        st = am_embedder_embed(e, t.texts + at, n, vecs, &eerr);
        if (st != AM_OK) {
            am__fail(&AM__ERR(s), st, "reembed: embedder '%s' failed on "
                     "item %zu of %zu: %s", e->id, at + 1, t.count,
                     eerr.msg[0] ? eerr.msg : am_status_str(st));
            break;
        }
        for (size_t i = 0; st == AM_OK && i < n; i++) {
            float *v = vecs + i * e->dim;
            am__vec_normalize(v, e->dim);
            sqlite3_reset(up);
            sqlite3_bind_text(up, 1, model, -1, SQLITE_STATIC);
            sqlite3_bind_blob(up, 2, v, (int)(e->dim * sizeof *v),
                              SQLITE_STATIC);
            sqlite3_bind_int64(up, 3, t.ids[at + i]);
            int rc = sqlite3_step(up);
            if (rc != SQLITE_DONE)
                st = am__store_dberr(s, rc, "reembed: write vector", up);
        }
        if (st == AM_OK && progress != NULL)
            progress(ctx, at + n, t.count);
    }
    if (st == AM_OK)
        st = am__store_exec(s, "DELETE FROM store_meta WHERE k = 'vec_model'");
    if (st == AM_OK && t.count > 0) {
        sqlite3_stmt *m = NULL;
        st = am__sqldb_prepare(SQ(s)->db, "INSERT INTO store_meta(k, v)"
                               " VALUES ('vec_model', ?1)", &m, &AM__ERR(s));
        if (st == AM_OK) {
            int rc;
            sqlite3_bind_text(m, 1, model, -1, SQLITE_STATIC);
            rc = sqlite3_step(m);
            if (rc != SQLITE_DONE)
                st = am__store_dberr(s, rc, "reembed: record the model", m);
        }
        sqlite3_finalize(m);
    }
    if (st == AM_OK)
        st = am__store_commit(s);
    if (st != AM_OK)
        am__store_rollback(s);
out:
    sqlite3_finalize(up);
    if (vecs != NULL)
        am__free(s->alloc, vecs, (size_t)BATCH * e->dim * sizeof *vecs);
    am__free(s->alloc, t.ids, t.cap_ids * sizeof *t.ids);
    am__free(s->alloc, t.texts, t.cap_texts * sizeof *t.texts);
    am__arena_free(&t.ar);
    /* Every vector changed (or a failed write may have touched the
     * cache's view): reload on the next vector search. */
    s->vc.valid = 0;
    s->own_writes++;
    if (count != NULL)
        *count = st == AM_OK ? t.count : 0;
    return st;
}
