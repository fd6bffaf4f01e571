/* store_pg_reembed.c -- replace every stored vector with the current
 * embedder's (am_store_reembed on PostgreSQL).
 *
 * The same operation as store_sqlite_reembed.c, in one transaction: the
 * live items are read and locked (FOR UPDATE: a concurrent put of one of
 * them waits, and then writes through its own embedder), every vector is
 * dropped, the texts are embedded again in batches and written back one
 * UPDATE per batch (ids and vectors as arrays), and the model is recorded.
 * A failure, the embedder's too, rolls it all back. The vectors change
 * dimension, so the hard-delete epoch is bumped: every instance's cache
 * reloads in full instead of mixing old and new vectors.
 */
#include <stdlib.h>
#include <string.h>

#include "store_pg.h"

#define BATCH 64

am_status am__pg_reembed(am_store *s, int64_t now, am_store_progress progress,
                         void *ctx, size_t *count)
{
    const am_embedder *e = s->embedder;
    am_buf ids = AM_BUF_INIT, vs = AM_BUF_INIT;
    am_str texts[BATCH];
    float *vecs = NULL;
    PGresult *r = NULL;
    char model[160];
    size_t total = 0;
    am__pgp p = { .n = 0 };
    am_status st;

    ids.alloc = vs.alloc = s->alloc;
    snprintf(model, sizeof model, "%s/%zu", e->id, e->dim);
    vecs = am__alloc_array(s->alloc, (size_t)BATCH * e->dim, sizeof *vecs);
    if (vecs == NULL)
        return am__fail(&AM__ERR(s), AM_ENOMEM, "reembed: out of memory");
    st = am__pg_begin(s);
    if (st != AM_OK)
        goto out;
    am__pgp_int(&p, now);
    r = am__pg_exec(s, "reembed: read items", "SELECT id, text FROM items"
                    " WHERE deleted_ms IS NULL AND (expires_ms IS NULL OR"
                    " expires_ms > $1) AND length(text) > 0 ORDER BY id"
                    " FOR UPDATE", &p, 0);
    if (r == NULL) {
        st = AM__ERR(s).code;
        goto out;
    }
    total = (size_t)PQntuples(r);
    st = am__pg_run(s, "reembed", "UPDATE items SET vec = NULL, vec_model"
                    " = NULL, chg = pg_current_xact_id() WHERE vec IS NOT"
                    " NULL", NULL, NULL);
    if (st == AM_OK && progress != NULL)
        progress(ctx, 0, total);
    for (size_t at = 0; st == AM_OK && at < total; at += BATCH) {
        size_t n = total - at < BATCH ? total - at : BATCH;
        am_error eerr = { AM_OK, "" };
        for (size_t i = 0; i < n; i++)
            texts[i] = am__pg_str(r, (int)(at + i), 1);
        st = am_embedder_embed(e, texts, n, vecs, &eerr);
        if (st != AM_OK) {
            am__fail(&AM__ERR(s), st, "reembed: embedder '%s' failed on "
                     "item %zu of %zu: %s", e->id, at + 1, total,
                     eerr.msg[0] ? eerr.msg : am_status_str(st));
            break;
        }
        st = am__pga_begin(&ids, AM__PG_INT8, n);
        if (st == AM_OK)
            st = am__pga_begin(&vs, AM__PG_BYTEA, n);
        for (size_t i = 0; st == AM_OK && i < n; i++) {
            float *v = vecs + i * e->dim;
            am__vec_normalize(v, e->dim);
            st = am__pga_int(&ids, am__pg_int(r, (int)(at + i), 0));
            if (st == AM_OK)
                st = am__pga_add(&vs, v, e->dim * sizeof *v);
        }
        if (st != AM_OK) {
            st = am__fail(&AM__ERR(s), AM_ENOMEM, "reembed: out of memory");
            break;
        }
        p.n = 0;
        am__pgp_bytes(&p, model, strlen(model));
        am__pgp_bytes(&p, ids.ptr, ids.len);
        am__pgp_bytes(&p, vs.ptr, vs.len);
        st = am__pg_runp(s, "reembed: write vectors", "UPDATE items i SET"
                         " vec_model = $1::text, vec = u.vec, chg ="
                         " pg_current_xact_id() FROM unnest($2::int8[],"
                         " $3::bytea[]) AS u(id, vec) WHERE i.id = u.id",
                         &p);
        if (st == AM_OK && progress != NULL)
            progress(ctx, at + n, total);
    }
    if (st == AM_OK)
        st = am__pg_run(s, "reembed", "DELETE FROM store_meta WHERE k ="
                        " 'vec_model'", NULL, NULL);
    if (st == AM_OK && total > 0) {
        p.n = 0;
        am__pgp_bytes(&p, model, strlen(model));
        st = am__pg_run(s, "reembed: record the model", "INSERT INTO"
                        " store_meta(k, v) VALUES ('vec_model', $1::text)",
                        &p, NULL);
    }
    if (st == AM_OK)
        st = am__pg_run(s, "reembed", "UPDATE store_meta SET v ="
                        " (v::bigint + 1)::text WHERE k = 'vec_epoch'",
                        NULL, NULL);
    if (st == AM_OK)
        st = am__pg_commit(s);
out:
    if (st != AM_OK)
        am__pg_rollback(s);
    PQclear(r);
    am__free(s->alloc, vecs, (size_t)BATCH * e->dim * sizeof *vecs);
    am_buf_free(&ids);
    am_buf_free(&vs);
    /* Every vector changed: reload on the next vector search. */
    am__store_share_lock(s);
    s->vc.valid = 0;
    s->own_writes++;
    am__store_share_unlock(s);
    if (count != NULL)
        *count = st == AM_OK ? total : 0;
    return st;
}
