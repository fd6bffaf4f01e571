/* store_pg_search.c -- full-text, vector and hybrid search on PostgreSQL.
 *
 * Full text: the items' English tsvector (GIN index) finds the rows;
 * ranking is BM25 (k1 1.2, b 0.75, FTS5's IDF) computed by the server
 * from the term frequencies in the tsvector, the document lengths in
 * `doc_len` and document frequencies counted per query, so the default
 * hybrid search ranks as on SQLite. PostgreSQL's own ts_rank is not used:
 * it has no IDF. The user's query is never tsquery syntax: the server
 * cuts it into lexemes (to_tsvector) and we quote each one.
 *
 * Vectors: exact cosine over the front end's in-memory cache (am__vcache),
 * kept coherent across instances by a change sequence. Every write stamps
 * its rows with its transaction id (`chg`, xid8). A load remembers the
 * xmin of its snapshot (no transaction older than it can still commit);
 * the next load reads only rows with chg >= that xmin, so an item
 * committed by another instance is seen by the next search here, and the
 * catch-up costs the rows changed, not the table. Hard deletes bump
 * `vec_epoch`, which makes every cache reload in full.
 *
 * The plan of a search (which signals, how deep, feedback, fusion, the
 * boost) is the front end's, the same as on SQLite (store_search.c); this
 * file answers its questions (am__search_ops), each in one round trip.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "filter.h"
#include "rank.h"
#include "store_pg.h"

/* ---- The vector cache ---- */

/* Loads are one statement each, so the rows and the xmin that dates
 * them come from one snapshot (pg_current_snapshot() is the statement's):
 * no transaction, one round trip. The row with a NULL id carries the
 * snapshot's xmin and the hard-delete epoch. No ORDER BY: the server
 * would sort wide rows; the client merges the few out of order (vc_row). */
#define VC_META "SELECT NULL::int8, NULL::bytea, pg_snapshot_xmin(" \
                "pg_current_snapshot())::text::int8, NULL::bytea, (SELECT" \
                " v::int8 FROM store_meta WHERE k = 'vec_epoch') UNION ALL "
static const char *const SQL_VC_FULL =
    VC_META "SELECT id, ns, coalesce(expires_ms, 0), vec, NULL FROM items"
    " WHERE vec IS NOT NULL AND deleted_ms IS NULL";
static const char *const SQL_VC_SINCE =
    VC_META "SELECT id, ns, coalesce(expires_ms, 0), CASE WHEN deleted_ms"
    " IS NULL THEN vec END, NULL FROM items WHERE chg >= $1::xid8";

/* A load in progress. Rows go into the cache as they arrive (updates in
 * place, new ids above the cache's last appended), except a new id below
 * the last: rows come in the heap's order, not by id, and inserting such
 * a row would move the cache's tail, so it waits in `late` (its bytes in
 * `bytes`) and all of them are merged in one pass at the end. */
typedef struct vc_late {
    int64_t id, expires;
    size_t off, ns_len, vec_len;
} vc_late;

typedef struct vc_load {
    am_store *s;
    int64_t xmin, epoch;
    int meta;
    vc_late *late;
    size_t nlate, cap;
    am_buf bytes;
} vc_load;

static am_status vc_row(void *ctx, const PGresult *r)
{
    vc_load *L = ctx;
    am_store *s = L->s;
    const am__vcache *c = &s->vc;
    if (am__pg_isnull(r, 0, 0)) {
        L->xmin = am__pg_int(r, 0, 2);
        L->epoch = am__pg_int(r, 0, 4);
        L->meta = 1;
        return AM_OK;
    }
    int64_t id = am__pg_int(r, 0, 0), expires = am__pg_int(r, 0, 2);
    am_str ns = am__pg_str(r, 0, 1);
    am_str vec = am__pg_isnull(r, 0, 3) ? (am_str){ NULL, 0 }
                                        : am__pg_str(r, 0, 3);
    if (c->count == 0 || id > c->ids[c->count - 1] || am__vcache_has(s, id))
        return am__vcache_set(s, id, ns, expires, vec.ptr, vec.len);
    if (vec.len == 0)
        return AM_OK; /* gone, and never cached */
    if (am__grow(s->alloc, (void **)&L->late, &L->cap, L->nlate + 1,
                 sizeof *L->late) != AM_OK)
        return am__fail(&AM__ERR(s), AM_ENOMEM, "vector index: out of "
                        "memory");
    L->late[L->nlate] = (vc_late){ id, expires, L->bytes.len, ns.len,
                                   vec.len };
    if (am_buf_append(&L->bytes, ns.ptr, ns.len) != AM_OK ||
        am_buf_append(&L->bytes, vec.ptr, vec.len) != AM_OK)
        return am__fail(&AM__ERR(s), AM_ENOMEM, "vector index: out of "
                        "memory");
    L->nlate++;
    return AM_OK;
}

static int late_by_id(const void *x, const void *y)
{
    const vc_late *a = x, *b = y;
    return a->id < b->id ? -1 : a->id > b->id;
}

/* After the last row: the late rows merged into the cache. */
static am_status vc_finish(vc_load *L)
{
    am_store *s = L->s;
    if (!L->meta)
        return am__fail(&AM__ERR(s), AM_EIO, "vector index: no snapshot "
                        "row");
    if (L->nlate == 0)
        return AM_OK;
    qsort(L->late, L->nlate, sizeof *L->late, late_by_id);
    am__vc_new *v = am__alloc_array(s->alloc, L->nlate, sizeof *v);
    if (v == NULL)
        return am__fail(&AM__ERR(s), AM_ENOMEM, "vector index: out of "
                        "memory");
    for (size_t i = 0; i < L->nlate; i++) {
        const vc_late *e = &L->late[i];
        v[i] = (am__vc_new){ e->id, e->expires,
                             { L->bytes.ptr + e->off, e->ns_len },
                             L->bytes.ptr + e->off + e->ns_len, e->vec_len };
    }
    am_status st = am__vcache_insert(s, v, L->nlate);
    am__free(s->alloc, v, L->nlate * sizeof *v);
    return st;
}

/* One load: `sql` (with `p`, may be NULL) streamed into the cache. */
static am_status vc_run(am_store *s, const char *sql, const am__pgp *p,
                        int64_t *xmin, int64_t *epoch)
{
    vc_load L = { .s = s }; /* `bytes` empty, as AM_BUF_INIT makes it */
    L.bytes.alloc = s->alloc;
    am_status st = am__pg_each_row(s, "vector index", sql, p, vc_row, &L);
    if (st == AM_OK)
        st = vc_finish(&L);
    *xmin = L.xmin;
    *epoch = L.epoch;
    am__free(s->alloc, L.late, L.cap * sizeof *L.late);
    am_buf_free(&L.bytes);
    return st;
}

/* Bring the cache up to date: in full the first time (or after a hard
 * delete anywhere), else only the rows changed since the last load. */
static am_status vcache_load(am_store *s)
{
    am__pg *g = PG(s);
    am__vcache *c = &s->vc;
    am_status st = AM_OK;
    char since[32];
    int64_t xmin = 0, epoch = 0;

    if (c->valid) {
        am__pgp p = { .n = 0 };
        snprintf(since, sizeof since, "%lld", (long long)g->vc_xmin);
        am__pgp_textfmt(&p, since);
        st = vc_run(s, SQL_VC_SINCE, &p, &xmin, &epoch);
        /* Another epoch (a hard delete somewhere): what was applied is
         * dropped with the rest, and the cache loads in full. */
        if (st != AM_OK || epoch == g->vc_epoch)
            goto out;
    }
    am__vcache_free(s);
    st = vc_run(s, SQL_VC_FULL, NULL, &xmin, &epoch);
out:
    if (st != AM_OK) {
        am__vcache_free(s);
        return st;
    }
    c->valid = 1;
    g->vc_xmin = xmin;
    g->vc_epoch = epoch;
    return AM_OK;
}

/* ---- Candidates ---- */

/* "{1,2,3}": ids as a bigint[] literal. */
static am_status id_array(const int64_t *ids, size_t n, am_buf *out)
{
    am_status st = am_buf_append(out, "{", 1);
    for (size_t i = 0; st == AM_OK && i < n; i++)
        st = am_buf_appendf(out, i > 0 ? ",%lld" : "%lld",
                            (long long)ids[i]);
    if (st == AM_OK)
        st = am_buf_append(out, "}", 1);
    if (st == AM_OK)
        st = am_buf_reserve(out, 0);
    if (st == AM_OK)
        out->ptr[out->len] = '\0';
    return st;
}

/* The ids of candidates [base, base + m) of `c` (m <= 256) into `ids`,
 * and as the next parameter of `p`: a bigint[] literal in `arr` (with
 * the handle's allocator; the caller frees it, even on failure).
 * AM_ENOMEM. */
static am_status cand_ids(am_store *s, const am__cands *c, size_t base,
                          size_t m, int64_t *ids, am_buf *arr, am__pgp *p)
{
    for (size_t i = 0; i < m; i++)
        ids[i] = c->v[base + i].id;
    if (id_array(ids, m, arr) != AM_OK)
        return am__fail(&AM__ERR(s), AM_ENOMEM, "search: out of memory");
    am__pgp_textfmt(p, arr->ptr);
    return AM_OK;
}

/* " AND <filter>" over `col` with its values in parameter $param, into
 * `sql` and `arr` (both empty without a filter). */
static am_status filter_sql(am_store *s, const am__filter *f,
                            const char *col, int param, am_buf *sql,
                            am_buf *arr)
{
    if (f == NULL)
        return AM_OK;
    if (am_buf_append(sql, " AND ", 5) != AM_OK)
        return am__fail(&AM__ERR(s), AM_ENOMEM, "search: out of memory");
    return am__pg_filter_sql(s, f, col, param, sql, arr);
}

/* Run the search statement `sql` with the parameters `p` and, last, the
 * filter's array `farr` (filter_sql's; empty without a filter). NULL on
 * failure, the detail in AM__ERR(s). */
static PGresult *run_filtered(am_store *s, const am_buf *sql, am__pgp *p,
                              const am_buf *farr)
{
    if (farr->len > 0)
        am__pgp_textfmt(p, farr->ptr);
    return am__pg_exec(s, "search", sql->ptr, p, AM__PG_RETRY);
}

/* The search plan's `ctx` (store_search.c): the search's filter (NULL:
 * none). */
typedef struct pg_search {
    const am__filter *filter;
} pg_search;

/* ok[i] = 1 when row ids[i] is live and its meta passes the filter (one
 * round trip for all of them, the filter evaluated by the server).
 * Without a filter there is nothing to ask: the ids come from the scan
 * of a cache that this search brought up to date (vcache_load, its first
 * step), which leaves out tombstones (deleted rows), expired rows and
 * other namespaces, and a row's namespace never changes. Asking again
 * cost a round trip and ~116 random heap reads per hybrid search at a
 * million items (5-18 ms under load, auto_explain). A row deleted since
 * the load is still left out by `emit`, which reads the live rows. */
static am_status qualify(am_store *s, void *ctx, const int64_t *ids,
                         size_t n, size_t want, int64_t now, int *ok)
{
    const am__filter *filter = ((const pg_search *)ctx)->filter;
    am_buf arr = AM_BUF_INIT, sql = AM_BUF_INIT, fsql = AM_BUF_INIT,
           farr = AM_BUF_INIT;
    (void)want; /* one round trip checks them all */
    am__pgp p = { .n = 0 };
    am_status st;
    PGresult *r = NULL;
    arr.alloc = sql.alloc = fsql.alloc = farr.alloc = s->alloc;
    if (n == 0)
        return AM_OK;
    if (filter == NULL) {
        for (size_t i = 0; i < n; i++)
            ok[i] = 1;
        return AM_OK;
    }
    memset(ok, 0, n * sizeof *ok);
    st = filter_sql(s, filter, "metaj", 3, &fsql, &farr);
    if (st != AM_OK)
        goto out;
    if (id_array(ids, n, &arr) != AM_OK ||
        am_buf_appendf(&sql, "SELECT id FROM items WHERE id = ANY("
                       "$1::bigint[]) AND deleted_ms IS NULL AND (expires_ms"
                       " IS NULL OR expires_ms > $2)%s",
                       fsql.len > 0 ? fsql.ptr : "") != AM_OK) {
        st = am__fail(&AM__ERR(s), AM_ENOMEM, "search: out of memory");
        goto out;
    }
    am__pgp_textfmt(&p, arr.ptr);
    am__pgp_int(&p, now);
    r = run_filtered(s, &sql, &p, &farr);
    if (r == NULL) {
        st = AM__ERR(s).code;
        goto out;
    }
    for (int row = 0; row < PQntuples(r); row++) {
        int64_t id = am__pg_int(r, row, 0);
        for (size_t i = 0; i < n; i++)
            if (ids[i] == id)
                ok[i] = 1;
    }
out:
    PQclear(r);
    am_buf_free(&arr);
    am_buf_free(&sql);
    am_buf_free(&fsql);
    am_buf_free(&farr);
    return st;
}

/* ---- Full text ---- */

/* Above this many rows, BM25's statistics are estimated, not counted. */
#define STATS_EXACT 10000

/* BM25 statistics: the table's rows and average document length. They
 * move slowly and counting a big table is not free (229 ms for 25,000
 * rows under load, bench_pg; seconds at a million), so they are kept 10
 * seconds, and only a small table (the server's live-row estimate under
 * STATS_EXACT) is counted exactly, also again after this handle's own
 * writes. A big one takes its row count from the server's statistics
 * (pg_stat_user_tables.n_live_tup, brought up to date by commits) and
 * its average length from a sample of about STATS_EXACT rows. */
static am_status bm25_stats(am_store *s)
{
    am__pg *g = PG(s);
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    double now = (double)ts.tv_sec + ts.tv_nsec / 1e9;
    if (g->stats_at > 0 && now - g->stats_at < 10 &&
        (g->stats_writes == s->own_writes || g->n_rows >= STATS_EXACT))
        return AM_OK;
    PGresult *r = am__pg_exec(s, "search", "SELECT coalesce((SELECT"
                              " n_live_tup FROM pg_stat_user_tables WHERE"
                              " relid = 'items'::regclass), 0)", NULL,
                              AM__PG_RETRY | AM__PG_PREPARE);
    if (r == NULL)
        return AM__ERR(s).code;
    double est = (double)am__pg_int(r, 0, 0);
    PQclear(r);
    if (est < STATS_EXACT) {
        r = am__pg_exec(s, "search", "SELECT count(*), coalesce(avg("
                        "doc_len), 0)::float8 FROM items", NULL,
                        AM__PG_RETRY | AM__PG_PREPARE);
        if (r == NULL)
            return AM__ERR(s).code;
        g->n_rows = (double)am__pg_int(r, 0, 0);
    } else {
        am__pgp p = { .n = 0 };
        am__pgp_float8(&p, 100.0 * STATS_EXACT / est);
        r = am__pg_exec(s, "search", "SELECT count(*), coalesce(avg("
                        "doc_len), 0)::float8 FROM items TABLESAMPLE"
                        " SYSTEM ($1::float8)", &p, AM__PG_RETRY);
        if (r == NULL)
            return AM__ERR(s).code;
        g->n_rows = est;
    }
    g->avgdl = am__pg_float8(r, 0, 1);
    PQclear(r);
    g->stats_at = now;
    g->stats_writes = s->own_writes;
    return AM_OK;
}

/* Append `lex` as a quoted tsquery lexeme, itself quoted as an array
 * element: "'it''s'" in {...}. */
static am_status append_lexeme(am_buf *out, am_str lex, int in_array)
{
    am_status st = am_buf_append(out, in_array ? "\"'" : "'",
                                 in_array ? 2 : 1);
    for (size_t i = 0; st == AM_OK && i < lex.len; i++) {
        char c = lex.ptr[i];
        if (c == '\'')
            st = am_buf_append(out, "''", 2);
        else if (c == '\\')
            st = am_buf_append(out, in_array ? "\\\\\\\\" : "\\\\",
                               in_array ? 4 : 2);
        else if (c == '"' && in_array)
            st = am_buf_append(out, "\\\"", 2);
        else
            st = am_buf_append(out, &c, 1);
    }
    if (st == AM_OK)
        st = am_buf_append(out, in_array ? "'\"" : "'", in_array ? 2 : 1);
    return st;
}

#define FTS_BUDGET 1500
#define MAX_TERMS 64

typedef struct term {
    am_str lex;
    /* Rows holding the term in the scope (counted up to FTS_BUDGET + 1
     * when scoped, exactly when not). */
    int64_t df_scope;
} term;

static int term_by_df(const void *a, const void *b)
{
    const term *x = a, *y = b;
    return x->df_scope < y->df_scope ? -1 : x->df_scope > y->df_scope;
}

/* The lexemes of $1 (at most MAX_TERMS) and their rows in [$2, $3):
 * up to FTS_BUDGET + 1 of them in a scope, all of them unscoped. Each
 * lexeme becomes a one-term tsquery quoted as append_lexeme() does
 * (chr(39) a quote, chr(92) a backslash). */
#define TERMS_FROM "FROM (SELECT lexeme AS lex, (chr(39) || replace(" \
    "replace(lexeme, chr(92), chr(92) || chr(92)), chr(39), chr(39) ||" \
    " chr(39)) || chr(39))::tsquery AS tq FROM unnest(to_tsvector(" \
    "'english', $1)) ORDER BY lexeme LIMIT 64) x ORDER BY lex"
static const char *const SQL_TERMS_SCOPED =
    "SELECT lex, (SELECT count(*) FROM (SELECT 1 FROM items WHERE tsv @@"
    " tq AND ns >= $2 AND ns < $3 LIMIT 1501) a) " TERMS_FROM;
static const char *const SQL_TERMS_ALL =
    "SELECT lex, (SELECT count(*) FROM items WHERE tsv @@ tq AND ns >= $2"
    " AND ns < $3) " TERMS_FROM;

/* Rows under the scope [lo, hi) (BM25's N in a scoped search), from the
 * handle's cache when fresh enough. Counting walks the scope's part of
 * the (ns, key) index, as slow as the scope is big (28 ms for 25,000
 * rows under load, bench_pg), and N moves slowly: a count is kept 10
 * seconds, and a small scope (under 10,000 rows, a few ms to count) is
 * counted again after this handle's own writes, so a namespace that has
 * just been filled ranks with its true size. */
static am_status scope_count(am_store *s, am_str lo, am_str hi,
                             double *rows)
{
    am__pg *g = PG(s);
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    double now = (double)ts.tv_sec + ts.tv_nsec / 1e9;
    am__pg_scope *e = NULL;
    for (int i = 0; i < AM__PG_SCOPES; i++) {
        am__pg_scope *c = &g->scopes[i];
        if (c->at > 0 && c->lo_len == lo.len &&
            memcmp(c->lo, lo.ptr, lo.len) == 0) {
            e = c;
            break;
        }
    }
    if (e != NULL && now - e->at < 10 &&
        (e->writes == s->own_writes || e->rows >= 10000)) {
        *rows = e->rows;
        return AM_OK;
    }
    am__pgp p = { .n = 0 };
    am__pgp_str(&p, lo);
    am__pgp_str(&p, hi);
    PGresult *r = am__pg_exec(s, "search", "SELECT count(*) FROM items"
                              " WHERE ns >= $1 AND ns < $2", &p,
                              AM__PG_RETRY);
    if (r == NULL)
        return AM__ERR(s).code;
    *rows = (double)am__pg_int(r, 0, 0);
    PQclear(r);
    if (lo.len > sizeof e->lo)
        return AM_OK; /* too long to keep: counted every time */
    if (e == NULL) {
        e = &g->scopes[g->scope_next];
        g->scope_next = (g->scope_next + 1) % AM__PG_SCOPES;
    }
    memcpy(e->lo, lo.ptr, lo.len);
    e->lo_len = lo.len;
    e->rows = *rows;
    e->at = now;
    e->writes = s->own_writes;
    return AM_OK;
}

/* ---- Text candidates, in steps: terms, budget, query, ranking ---- */

/* Terms matching more than FTS_BUDGET rows together: drop the most
 * frequent ones (the rarest always stays), as on SQLite. */
static void keep_budget(term *t, size_t *n)
{
    int64_t total = 0;
    size_t kept = 0;

    for (size_t i = 0; i < *n; i++)
        total += t[i].df_scope;
    if (total <= FTS_BUDGET)
        return;
    qsort(t, *n, sizeof *t, term_by_df);
    total = 0;
    while (kept < *n &&
           (kept == 0 || total + t[kept].df_scope <= FTS_BUDGET))
        total += t[kept++].df_scope;
    *n = kept;
}

/* The ranking statement's term arguments, each NUL-terminated: the
 * tsquery (lexemes OR-ed), the lexemes as a text[] literal and their IDFs
 * as a float8[] literal; *best is the most the query can score. */
typedef struct term_args {
    am_buf tsq, lexs, idfs;
    double best;
} term_args;

static am_status term_args_build(const term *t, size_t n, double scope_rows,
                                 term_args *ta)
{
    am_status st = am_buf_append(&ta->lexs, "{", 1);

    if (st == AM_OK)
        st = am_buf_append(&ta->idfs, "{", 1);
    ta->best = 0;
    for (size_t i = 0; st == AM_OK && i < n; i++) {
        /* The IDF of store_sqlite_bm25.c (Lucene's, positive for every
         * count), with the counts of the searched namespace (see
         * store_sqlite_text.c: a word the scope never saw weighs most). */
        double df = (double)t[i].df_scope;
        double N = scope_rows > df ? scope_rows : df;
        double idf = log(1 + (N - df + 0.5) / (df + 0.5));
        ta->best += idf * 2.2;
        if (i > 0) {
            st = am_buf_append(&ta->tsq, " | ", 3);
            if (st == AM_OK)
                st = am_buf_append(&ta->lexs, ",", 1);
            if (st == AM_OK)
                st = am_buf_append(&ta->idfs, ",", 1);
        }
        if (st == AM_OK)
            st = append_lexeme(&ta->tsq, t[i].lex, 0);
        if (st == AM_OK) {
            /* The lexeme as a text[] element: quoted, \ and " escaped. */
            st = am_buf_append(&ta->lexs, "\"", 1);
            for (size_t k = 0; st == AM_OK && k < t[i].lex.len; k++) {
                char ch = t[i].lex.ptr[k];
                if (ch == '"' || ch == '\\')
                    st = am_buf_append(&ta->lexs, "\\", 1);
                if (st == AM_OK)
                    st = am_buf_append(&ta->lexs, &ch, 1);
            }
            if (st == AM_OK)
                st = am_buf_append(&ta->lexs, "\"", 1);
        }
        if (st == AM_OK)
            st = am_buf_appendf(&ta->idfs, "%.17g", idf);
    }
    if (st == AM_OK)
        st = am_buf_append(&ta->lexs, "}", 1);
    if (st == AM_OK)
        st = am_buf_append(&ta->idfs, "}", 1);
    if (st == AM_OK)
        st = am_buf_reserve(&ta->tsq, 0);
    if (st == AM_OK)
        st = am_buf_reserve(&ta->lexs, 0);
    if (st == AM_OK)
        st = am_buf_reserve(&ta->idfs, 0);
    if (st == AM_OK)
        ta->tsq.ptr[ta->tsq.len] = ta->lexs.ptr[ta->lexs.len] =
            ta->idfs.ptr[ta->idfs.len] = '\0';
    return st;
}

/* The ranking statement: BM25 in the server over the matching live rows
 * under the scope, cut at $8. The metadata filter is part of the WHERE
 * clause (its array bound as $9), so the LIMIT counts only rows that pass
 * it. */
static am_status rank_sql(am_store *s, const am__filter *filter,
                          am_buf *fsql, am_buf *farr, am_buf *sql)
{
    am_status st = filter_sql(s, filter, "i.metaj", 9, fsql, farr);
    if (st == AM_OK &&
        am_buf_appendf(sql, "SELECT i.id, sum(t.idf * (c.tf * 2.2)"
                       " / (c.tf + 1.2 * (0.25 + 0.75 * i.doc_len /"
                       " $7::float8)))::float8 AS sc FROM items i"
                       " CROSS JOIN LATERAL unnest(i.tsv) u"
                       " JOIN unnest($5::text[], $6::float8[]) t(lex, idf)"
                       " ON t.lex = u.lexeme"
                       " CROSS JOIN LATERAL (SELECT coalesce(array_length("
                       "u.positions, 1), 1)::float8 AS tf) c"
                       " WHERE i.tsv @@ $1::tsquery AND i.ns >= $2 AND"
                       " i.ns < $3 AND i.deleted_ms IS NULL AND"
                       " (i.expires_ms IS NULL OR i.expires_ms > $4)%s"
                       " GROUP BY i.id ORDER BY sc DESC, i.id LIMIT $8",
                       fsql->len > 0 ? fsql->ptr : "") != AM_OK)
        st = am__fail(&AM__ERR(s), AM_ENOMEM, "search: out of memory");
    return st;
}

static am_status text_cands(am_store *s, void *ctx, am_str query, am_str lo,
                            am_str hi, size_t want, int64_t now,
                            am__cands *out)
{
    const am__filter *filter = ((const pg_search *)ctx)->filter;
    am__pg *g = PG(s);
    am_status st;
    am__pgp p = { .n = 0 };
    PGresult *lx = NULL, *r = NULL;
    am_buf qtext = AM_BUF_INIT, sql = AM_BUF_INIT, fsql = AM_BUF_INIT,
           farr = AM_BUF_INIT;
    term_args ta = { AM_BUF_INIT, AM_BUF_INIT, AM_BUF_INIT, 0 };
    term t[MAX_TERMS];
    size_t n = 0;
    double scope_rows = 0;
    int64_t lim;
    char avg[40];

    qtext.alloc = ta.tsq.alloc = ta.lexs.alloc = ta.idfs.alloc = s->alloc;
    sql.alloc = fsql.alloc = farr.alloc = s->alloc;
    if (am__pg_text(query, &qtext) != AM_OK)
        return am__fail(&AM__ERR(s), AM_ENOMEM, "search: out of memory");
    /* The query's lexemes, as the items' text was cut, each with its
     * rows in the scope (counted up to the budget) or, unscoped, in the
     * table (exactly, as FTS5's BM25 counts them): one round trip. */
    am__pgp_bytes(&p, qtext.ptr, qtext.len);
    am__pgp_str(&p, lo);
    am__pgp_str(&p, hi);
    lx = am__pg_exec(s, "search", lo.len > 0 ? SQL_TERMS_SCOPED
                                             : SQL_TERMS_ALL,
                     &p, AM__PG_RETRY);
    if (lx == NULL) {
        st = AM__ERR(s).code;
        goto out;
    }
    for (int i = 0; i < PQntuples(lx) && n < MAX_TERMS; i++) {
        t[n].lex = am__pg_str(lx, i, 0);
        t[n++].df_scope = am__pg_int(lx, i, 1);
    }
    if (n == 0) {
        st = AM_OK;
        goto out;
    }
    /* The statistics are the handle's, shared by a pool's calls. */
    am__store_share_lock(s);
    st = bm25_stats(s);
    if (st == AM_OK && lo.len > 0)
        st = scope_count(s, lo, hi, &scope_rows);
    else
        scope_rows = g->n_rows;
    snprintf(avg, sizeof avg, "%.17g", g->avgdl > 0 ? g->avgdl : 1.0);
    am__store_share_unlock(s);
    if (st != AM_OK)
        goto out;
    keep_budget(t, &n);
    if (term_args_build(t, n, scope_rows, &ta) != AM_OK) {
        st = am__fail(&AM__ERR(s), AM_ENOMEM, "search: out of memory");
        goto out;
    }
    st = rank_sql(s, filter, &fsql, &farr, &sql);
    if (st != AM_OK)
        goto out;
    lim = (int64_t)want + 8;
    for (;;) {
        p.n = 0;
        am__pgp_textfmt(&p, ta.tsq.ptr);
        am__pgp_str(&p, lo);
        am__pgp_str(&p, hi);
        am__pgp_int(&p, now);
        am__pgp_textfmt(&p, ta.lexs.ptr);
        am__pgp_textfmt(&p, ta.idfs.ptr);
        am__pgp_textfmt(&p, avg);
        am__pgp_int(&p, lim);
        r = run_filtered(s, &sql, &p, &farr);
        if (r == NULL) {
            st = AM__ERR(s).code;
            goto out;
        }
        out->count = 0;
        int rows = PQntuples(r);
        for (int i = 0; st == AM_OK && i < rows && out->count < want; i++) {
            /* Divided by the most the query can score: in [0, 1), BM25's
             * order (am_item.fts_score). */
            st = am__cands_push(s, out, am__pg_int(r, i, 0));
            if (st == AM_OK) {
                out->v[out->count - 1].fts =
                    ta.best > 0 ? am__pg_float8(r, i, 1) / ta.best : 0;
                out->v[out->count - 1].rank_fts = (int)out->count;
            }
        }
        PQclear(r);
        r = NULL;
        if (st != AM_OK || out->count >= want || rows < lim ||
            lim > (1 << 20))
            break;
        lim *= 8;
    }
out:
    PQclear(lx);
    PQclear(r);
    am_buf_free(&qtext);
    am_buf_free(&ta.tsq);
    am_buf_free(&ta.lexs);
    am_buf_free(&ta.idfs);
    am_buf_free(&sql);
    am_buf_free(&fsql);
    am_buf_free(&farr);
    return st;
}

/* ---- Pseudo-relevance feedback ---- */

/* Items holding `w`, counted up to `cap` by the tsvector index (prf.c
 * asks); a word the English configuration drops (a stopword of its own)
 * counts as `cap`: it would add nothing to the expanded query. */
static am_status prf_df(void *ctx, const char *w, int64_t cap, double *df)
{
    am_store *s = ctx;
    am__pgp p = { .n = 0 };
    am__pgp_bytes(&p, w, strlen(w));
    am__pgp_int(&p, cap);
    PGresult *r = am__pg_exec(s, "search", "SELECT CASE WHEN numnode(q) = 0"
                              " THEN $2::int8 ELSE (SELECT count(*) FROM"
                              " (SELECT 1 FROM items WHERE tsv @@ q LIMIT"
                              " $2::int8) x) END FROM plainto_tsquery("
                              "'english', $1::text) q", &p,
                              AM__PG_RETRY | AM__PG_PREPARE);
    if (r == NULL)
        return AM__ERR(s).code;
    *df = (double)am__pg_int(r, 0, 0);
    PQclear(r);
    return AM_OK;
}

/* The texts of the first `n` (at most 256) text candidates, for the
 * feedback (prf.c), and the table's size for its IDFs (max(id) + 1, as
 * on SQLite: an index lookup, not a count); one query. */
static am_status prf_texts(am_store *s, void *ctx, const am__cands *tc,
                           size_t n, int64_t now, am__prf *prf, double *total)
{
    int64_t ids[256];
    am_buf arr = AM_BUF_INIT;
    am__pgp p = { .n = 0 };

    (void)ctx;
    (void)now;
    arr.alloc = s->alloc;
    if (n > 256)
        n = 256;
    if (cand_ids(s, tc, 0, n, ids, &arr, &p) != AM_OK) {
        am_buf_free(&arr);
        return AM_ENOMEM;
    }
    PGresult *r = am__pg_exec(s, "search", "SELECT id, text, (SELECT"
                              " coalesce(max(id), 0) + 1 FROM items) FROM"
                              " items WHERE id = ANY($1::bigint[])", &p,
                              AM__PG_RETRY);
    am_buf_free(&arr);
    if (r == NULL)
        return AM__ERR(s).code;
    if (PQntuples(r) > 0)
        *total = (double)am__pg_int(r, 0, 2);
    for (size_t i = 0; i < n; i++)
        for (int row = 0; row < PQntuples(r); row++)
            if (am__pg_int(r, row, 0) == ids[i]) {
                am__prf_add(prf, PQgetvalue(r, row, 1),
                            (size_t)PQgetlength(r, row, 1));
                break;
            }
    PQclear(r);
    return AM_OK;
}

/* ---- Vectors ---- */

am_status am__pg_vec_model(am_store *s, am_buf *out)
{
    PGresult *r = am__pg_exec(s, "search", "SELECT v FROM store_meta WHERE"
                              " k = 'vec_model'", NULL, AM__PG_RETRY);
    if (r == NULL)
        return AM__ERR(s).code;
    am_status st = AM_OK;
    am_buf_clear(out);
    if (PQntuples(r) > 0) {
        am_str v = am__pg_str(r, 0, 0);
        st = am_buf_append(out, v.ptr, v.len);
    }
    PQclear(r);
    return st == AM_OK ? AM_OK
                       : am__fail(&AM__ERR(s), st, "search: out of memory");
}

/* Append the live rows of the best candidates, in their order. */
static am_status emit(am_store *s, void *ctx, const am__cands *all,
                      size_t limit, int64_t now, am__rbuild *b)
{
    size_t n = all->count < limit ? all->count : limit, base = 0;
    am_status st = AM_OK;
    (void)ctx;
    while (n > 0 && b->r->count < limit) {
        am_buf arr = AM_BUF_INIT;
        am__pgp p = { .n = 0 };
        int64_t ids[256];
        arr.alloc = s->alloc;
        size_t m = n < 256 ? n : 256;
        if (cand_ids(s, all, base, m, ids, &arr, &p) != AM_OK) {
            am_buf_free(&arr);
            return AM_ENOMEM;
        }
        am__pgp_int(&p, now);
        PGresult *r = am__pg_exec(s, "search", "SELECT id, " AM__PG_ROW
                                  " FROM items WHERE id = ANY($1::bigint[])"
                                  " AND deleted_ms IS NULL AND (expires_ms"
                                  " IS NULL OR expires_ms > $2)", &p,
                                  AM__PG_RETRY);
        am_buf_free(&arr);
        if (r == NULL)
            return AM__ERR(s).code;
        for (size_t i = 0; st == AM_OK && i < m && b->r->count < limit;
             i++) {
            for (int row = 0; row < PQntuples(r); row++) {
                if (am__pg_int(r, row, 0) != ids[i])
                    continue;
                am_item *it;
                if (am__pg_rb_add_row(b, r, row, 1, &it) != AM_OK) {
                    st = am__fail(&AM__ERR(s), AM_ENOMEM,
                                  "search: out of memory");
                    break;
                }
                it->score = all->v[base + i].score;
                it->fts_score = all->v[base + i].fts;
                it->vec_score = all->v[base + i].vec;
                break;
            }
        }
        PQclear(r);
        if (st != AM_OK)
            return st;
        n -= m;
        base += m;
    }
    return AM_OK;
}

/* The entity boost's reader: the candidates' metadata in batches of 256
 * ids, one query each. */
static am_status boost_read(am_store *s, void *ctx, const am_search *q,
                            const am__cands *all, size_t span, int64_t now,
                            int *named)
{
    (void)ctx;
    (void)now;
    for (size_t base = 0; base < span; base += 256) {
        am_buf arr = AM_BUF_INIT;
        am__pgp p = { .n = 0 };
        int64_t ids[256];
        arr.alloc = s->alloc;
        size_t m = span - base < 256 ? span - base : 256;
        if (cand_ids(s, all, base, m, ids, &arr, &p) != AM_OK) {
            am_buf_free(&arr);
            return AM_ENOMEM;
        }
        PGresult *r = am__pg_exec(s, "search", "SELECT id, meta FROM items"
                                  " WHERE id = ANY($1::bigint[])", &p,
                                  AM__PG_RETRY);
        am_buf_free(&arr);
        if (r == NULL)
            return AM__ERR(s).code;
        for (int row = 0; row < PQntuples(r); row++) {
            int64_t id = am__pg_int(r, row, 0);
            for (size_t i = 0; i < m; i++) {
                if (ids[i] == id) {
                    named[base + i] = am__boost_named(
                        q, PQgetvalue(r, row, 1),
                        (size_t)PQgetlength(r, row, 1));
                    break;
                }
            }
        }
        PQclear(r);
    }
    return AM_OK;
}

static const am__search_ops pg_search_ops = {
    .vcache_load = vcache_load,
    .text_cands = text_cands,
    .prf_texts = prf_texts,
    .prf_df = prf_df,
    .qualify = qualify,
    .boost_read = boost_read,
    .emit = emit,
    /* The text part is round trips; only vcache_load writes the cache. */
    .scan_beside_text = true,
};

am_status am__pg_search(am_store *s, const am_search *q,
                        const am__filter *filter, const float *qemb,
                        am__rbuild *b)
{
    pg_search ps = { filter };
    return am__search_run(s, q, qemb, &pg_search_ops, &ps, b);
}
