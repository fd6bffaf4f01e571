/* store_sqlite_bm25.c -- am_bm25, the FTS5 ranking function of scoped
 * full-text search (BM25 with document counts given by the caller).
 */
#include <math.h>

#include "store_sqlite_search.h"


/* What am_bm25 computes once per query rather than per row: the average
 * text length and each phrase's IDF. FTS5's xRowCount and
 * xColumnTotalSize read the totals record anew on every call, and two of
 * those per matching row were two fifths of the function's cost. Kept as
 * the cursor's auxiliary data, which FTS5 frees when the statement is
 * reset; the snapshot and the bound counts do not change before then. */
typedef struct bm25_query {
    double avgdl;
    double idf[AM__FTS_MAX_PHRASES];   /* < 0: the phrase is ignored */
    double best;
} bm25_query;

static const double k1 = 1.2, b = 0.75;

static int bm25_prepare(const Fts5ExtensionApi *api, Fts5Context *fts,
                        const double *pr, int nphrase, bm25_query *q)
{
    sqlite3_int64 nrow = 0, total = 0;
    int rc = api->xRowCount(fts, &nrow);
    if (rc == SQLITE_OK)
        rc = api->xColumnTotalSize(fts, 0, &total);
    if (rc != SQLITE_OK)
        return rc;
    q->avgdl = nrow > 0 && total > 0 ? (double)total / (double)nrow : 1;
    q->best = 0; /* the most this query can score: see am_bm25_fn */
    for (int i = 0; i < nphrase; i++) {
        if (pr[2 * i + 1] < 0) {
            q->idf[i] = -1;
            continue;
        }
        /* N rows (0: the table's), n of them with the term. */
        double N = pr[2 * i + 1] > 0 ? pr[2 * i + 1] : (double)nrow;
        double n = pr[2 * i];
        /* Lucene's form, log(1 + (N - n + 0.5) / (n + 0.5)): positive for
         * every n. FTS5's own, log((N - n + 0.5) / (n + 0.5)), is 0 for a
         * word in half the rows, so in a namespace of two conversations a
         * matched word weighed nothing and a question scored ~0. */
        q->idf[i] = log(1 + (N - n + 0.5) / (n + 0.5));
        q->best += q->idf[i] * (k1 + 1);
    }
    return SQLITE_OK;
}

/* am_bm25(items_fts, counts BLOB): BM25 as FTS5's (k1 1.2, b 0.75) over
 * the text column, with each phrase's document count given by the caller
 * (doubles n, N per phrase in phrase order; N 0: the table's row count,
 * N < 0: ignore the phrase) instead of counted by walking its whole
 * doclist. Higher is better. */
static void am_bm25_fn(const Fts5ExtensionApi *api, Fts5Context *fts,
                       sqlite3_context *ctx, int nval, sqlite3_value **val)
{
    double freq[AM__FTS_MAX_PHRASES] = { 0 }, score = 0;
    int nphrase = api->xPhraseCount(fts), dl = 0;
    const double *pr = nval > 0 ? sqlite3_value_blob(val[0]) : NULL;
    int nidf = nval > 0 ? sqlite3_value_bytes(val[0]) /
                              (int)(2 * sizeof(double))
                        : 0;
    if (pr == NULL || nphrase > nidf || nphrase > AM__FTS_MAX_PHRASES) {
        sqlite3_result_error(ctx, "am_bm25: bad IDF argument", -1);
        return;
    }
    int rc = SQLITE_OK;
    bm25_query *q = api->xGetAuxdata(fts, 0);
    if (q == NULL) {
        q = sqlite3_malloc(sizeof *q);
        if (q == NULL) {
            sqlite3_result_error_nomem(ctx);
            return;
        }
        rc = bm25_prepare(api, fts, pr, nphrase, q);
        if (rc == SQLITE_OK)
            rc = api->xSetAuxdata(fts, q, sqlite3_free); /* frees q on error */
        else
            sqlite3_free(q);
        if (rc != SQLITE_OK) {
            sqlite3_result_error_code(ctx, rc);
            return;
        }
    }
    /* Each weighed phrase's hits in the text column, read from its own
     * position list: xInstCount would first merge every phrase's list,
     * the namespace token's included, into one sorted array. */
    for (int i = 0; rc == SQLITE_OK && i < nphrase; i++) {
        Fts5PhraseIter it;
        int col = 0, off = 0;
        if (q->idf[i] < 0)
            continue;
        rc = api->xPhraseFirst(fts, i, &it, &col, &off);
        for (; rc == SQLITE_OK && col >= 0;
             api->xPhraseNext(fts, &it, &col, &off))
            if (col == 0)
                freq[i] += 1;
    }
    if (rc == SQLITE_OK)
        rc = api->xColumnSize(fts, 0, &dl);
    if (rc != SQLITE_OK) {
        sqlite3_result_error_code(ctx, rc);
        return;
    }
    for (int i = 0; i < nphrase; i++)
        if (q->idf[i] >= 0 && freq[i] > 0)
            score += q->idf[i] * (freq[i] * (k1 + 1)) /
                     (freq[i] + k1 * (1 - b + b * (double)dl / q->avgdl));
    /* Each term's part is below idf * (k1 + 1), whatever its frequency
     * and the row's length, so score / best is in [0, 1): the share of
     * the query's weight (its rare words weigh most, words the scope has
     * never seen the most of all) that this row matches. Dividing by a
     * per-query constant keeps BM25's order. */
    sqlite3_result_double(ctx, q->best > 0 ? score / q->best : 0);
}

am_status am__sq_register_rank(sqlite3 *db)
{
    fts5_api *api = NULL;
    sqlite3_stmt *q = NULL;
    if (sqlite3_prepare_v2(db, "SELECT fts5(?1)", -1, &q, NULL) == SQLITE_OK) {
        sqlite3_bind_pointer(q, 1, (void *)&api, "fts5_api_ptr", NULL);
        sqlite3_step(q);
    }
    sqlite3_finalize(q);
    if (api == NULL || api->iVersion < 2)
        return AM_EUNSUPPORTED;
    return api->xCreateFunction(api, "am_bm25", NULL, am_bm25_fn, NULL) ==
                   SQLITE_OK
               ? AM_OK
               : AM_EIO;
}
