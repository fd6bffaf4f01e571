/* store_sqlite_search.c -- full-text, vector and hybrid search over items
 * on SQLite: the entry point, candidate checks and rows. The plan (which
 * signals, how deep, feedback, fusion, boost) is the front end's
 * (store_search.c); this file answers its questions (am__search_ops).
 *
 * Full text: FTS5 with the porter tokenizer, ranked by BM25
 * (store_sqlite_text.c, store_sqlite_bm25.c). Vectors: exact cosine over
 * the in-memory vector cache (store_sqlite_vec.c, rank.c).
 *
 * Candidates are checked against the live row (namespace range, not
 * deleted, not expired) and the metadata filter before they are ranked:
 * the filter is compiled into the SQL (store_sqlite_filter.c), so the
 * full-text LIMIT counts only rows that pass it.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "store_sqlite_search.h"

/* ---- Candidates ---- */

/* The filter, compiled once per search. */
am_status am__sqflt_init(am_store *s, const am__filter *f, am__sqflt *out)
{
    memset(out, 0, sizeof *out);
    out->where.alloc = s->alloc;
    if (f == NULL)
        return AM_OK;
    if (am_buf_append(&out->where, " AND ", 5) != AM_OK)
        return am__fail(&AM__ERR(s), AM_ENOMEM, "search: out of memory");
    return am__sq_filter_sql(s, f, "i.meta", AM__SQ_FILTER_P, &out->where,
                             &out->binds);
}

void am__sqflt_free(am_store *s, am__sqflt *f)
{
    sqlite3_finalize(f->check);
    f->check = NULL;
    am__sqf_free(s, &f->binds);
    am_buf_free(&f->where);
}

int am__sq_qualifies(am_store *s, int64_t id, am__sqflt *f, int64_t now)
{
    sqlite3_stmt *q;
    if (f == NULL || f->where.len == 0) {
        q = am__store_stmt(s, Q_ITEM_ROW);
    } else {
        if (f->check == NULL) {
            am_buf sql = AM_BUF_INIT;
            sql.alloc = s->alloc;
            am_status st = am_buf_appendf(&sql, "SELECT 1 FROM items i WHERE"
                                          " i.id = ?2 AND i.deleted_ms IS"
                                          " NULL AND (i.expires_ms IS NULL"
                                          " OR i.expires_ms > ?1)%s",
                                          f->where.ptr);
            int rc = st == AM_OK
                         ? sqlite3_prepare_v2(SQ(s)->db->conn, sql.ptr,
                                              (int)sql.len, &f->check, NULL)
                         : SQLITE_NOMEM;
            am_buf_free(&sql);
            if (rc != SQLITE_OK) {
                am__store_dberr(s, rc, "search filter", NULL);
                return -1;
            }
            am__sq_filter_bind(f->check, &f->binds);
        }
        q = f->check;
    }
    if (q == NULL)
        return -1;
    sqlite3_bind_int64(q, 1, now);
    sqlite3_bind_int64(q, 2, id);
    int rc = sqlite3_step(q);
    int ok = rc == SQLITE_ROW ? 1 : 0;
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        am__store_dberr(s, rc, "search filter", q);
        ok = -1;
    }
    sqlite3_reset(q);
    return ok;
}

am_status am__sq_vec_model(am_store *s, am_buf *out)
{
    sqlite3_stmt *m = am__store_stmt(s, Q_META_GET);
    if (m == NULL)
        return AM__ERR(s).code;
    am_status st = AM_OK;
    am_buf_clear(out);
    sqlite3_bind_text(m, 1, "vec_model", -1, SQLITE_STATIC);
    int rc = sqlite3_step(m);
    if (rc == SQLITE_ROW)
        st = am_buf_append(out, sqlite3_column_text(m, 0),
                           (size_t)sqlite3_column_bytes(m, 0));
    else if (rc != SQLITE_DONE)
        st = am__store_dberr(s, rc, "search", m);
    sqlite3_reset(m);
    if (st == AM_ENOMEM)
        st = am__fail(&AM__ERR(s), st, "search: out of memory");
    return st;
}

/* ---- The backend's part of the search plan (store_search.c) ---- */

static am_status text_cands(am_store *s, void *ctx, am_str query, am_str lo,
                            am_str hi, size_t want, int64_t now,
                            am__cands *out)
{
    (void)hi; /* FTS5 scopes by the namespace token of `lo` */
    return am__sq_text_cands(s, query, lo, ctx, want, now, out);
}

/* One point lookup per id, until `want` have passed. */
static am_status qualify(am_store *s, void *ctx, const int64_t *ids,
                         size_t n, size_t want, int64_t now, int *ok)
{
    size_t passed = 0;
    memset(ok, 0, n * sizeof *ok);
    for (size_t i = 0; i < n && passed < want; i++) {
        ok[i] = am__sq_qualifies(s, ids[i], ctx, now);
        if (ok[i] < 0) {
            ok[i] = 0;
            return AM__ERR(s).code;
        }
        passed += (size_t)ok[i];
    }
    return AM_OK;
}

/* The entity boost's reader: each candidate's metadata, one row at a
 * time (a point lookup by rowid). */
static am_status boost_read(am_store *s, void *ctx, const am_search *q,
                            const am__cands *all, size_t span, int64_t now,
                            int *named)
{
    (void)ctx;
    for (size_t i = 0; i < span; i++) {
        sqlite3_stmt *r = am__store_stmt(s, Q_ITEM_ROW);
        if (r == NULL)
            return AM__ERR(s).code;
        sqlite3_bind_int64(r, 1, now);
        sqlite3_bind_int64(r, 2, all->v[i].id);
        if (sqlite3_step(r) == SQLITE_ROW)
            named[i] = am__boost_named(q,
                                       (const char *)sqlite3_column_text(r, 3),
                                       (size_t)sqlite3_column_bytes(r, 3));
        sqlite3_reset(r);
        if (named[i] < 0)
            break;
    }
    return AM_OK;
}

/* The first `limit` of the ranked candidates that are still live, as
 * results with their scores. */
static am_status emit(am_store *s, void *ctx, const am__cands *all,
                      size_t limit, int64_t now, am__rbuild *b)
{
    (void)ctx;
    for (size_t i = 0; i < all->count && b->r->count < limit; i++) {
        sqlite3_stmt *r = am__store_stmt(s, Q_ITEM_ROW);
        if (r == NULL)
            return AM__ERR(s).code;
        sqlite3_bind_int64(r, 1, now);
        sqlite3_bind_int64(r, 2, all->v[i].id);
        int rc = sqlite3_step(r);
        if (rc == SQLITE_ROW) {
            am_item *it;
            am_status st = am__rb_add_row(b, r, 0, &it);
            if (st != AM_OK) {
                sqlite3_reset(r);
                return am__fail(&AM__ERR(s), st, "search: out of memory");
            }
            it->score = all->v[i].score;
            it->fts_score = all->v[i].fts;
            it->vec_score = all->v[i].vec;
        }
        sqlite3_reset(r);
    }
    return AM_OK;
}

static const am__search_ops sq_search_ops = {
    .vcache_load = am__sq_vcache_load,
    .text_cands = text_cands,
    .prf_texts = am__sq_prf_texts,
    .prf_df = am__sq_doc_freq,
    .qualify = qualify,
    .boost_read = boost_read,
    .emit = emit,
};

/* ---- Search ---- */

am_status am__sq_search(am_store *s, const am_search *q,
                        const am__filter *flt, const float *qemb,
                        am__rbuild *b)
{
    am__sqflt filter;
    int began = 0;
    am_status st = am__sqflt_init(s, flt, &filter);
    /* One snapshot for the whole search: the candidates, the vector
     * cache's catch-up and the rows come from one state of the file, and
     * the dozens of statements share one set of lock calls. */
    if (st == AM_OK)
        st = am__store_read_begin(s, &began);
    if (st == AM_OK)
        st = am__search_run(s, q, qemb, &sq_search_ops, &filter, b);
    am__store_read_end(s, began);
    am__sqflt_free(s, &filter);
    return st;
}
