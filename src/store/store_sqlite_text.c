/* store_sqlite_text.c -- full-text candidates for search: the FTS5 query
 * built from the user's words, the pruning of frequent terms, the counts
 * BM25 is given in a scoped search, and pseudo-relevance feedback.
 *
 * The user's query is never handed to FTS5 as syntax: we cut it into words
 * ourselves (am__words) and send each as a double-quoted string, OR-ed
 * together, so quotes, operators (AND, NEAR, *, ^, :) and punctuation are
 * just text.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "store_sqlite_search.h"

/* ---- The query ---- */


/* The most distinct words the text part of a search uses. A query is any
 * text (a pasted page, a whole message), and FTS5's time grows faster
 * than the number of OR-ed phrases: before this cap and the de-duplication
 * below, 20 KB of one repeated word took 7 s and 800 KB of distinct words
 * 9 s. 1024 words cover any question and many paragraphs. */
#define QUERY_MAX_WORDS 1024
#define QUERY_SLOTS (2 * QUERY_MAX_WORDS)

typedef struct qbuild {
    am_buf *out;
    int skip_stop;
    size_t terms;
    am_status st;
    /* Words already in the query: offset + 1 of the word in `out` (0:
     * empty slot), open addressing; a repeated word adds nothing to
     * which rows match, and PostgreSQL's tsquery keeps each lexeme once
     * too. */
    uint32_t seen[QUERY_SLOTS];
} qbuild;

static uint32_t word_hash(const char *w, size_t n)
{
    uint32_t h = 0x811c9dc5u;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)w[i]) * 0x01000193u;
    return h;
}

/* Is `w` in the query already? If not, remember that it will be at
 * offset `at` of q->out. */
static int seen_before(qbuild *q, const char *w, size_t n, size_t at)
{
    uint32_t i = word_hash(w, n) & (QUERY_SLOTS - 1);
    while (q->seen[i] != 0) {
        const char *o = q->out->ptr + q->seen[i] - 1;
        if (memcmp(o, w, n) == 0 && o[n] == '"')
            return 1;
        i = (i + 1) & (QUERY_SLOTS - 1);
    }
    q->seen[i] = (uint32_t)at + 1;
    return 0;
}

static void add_term(const char *w, size_t n, void *ctx)
{
    qbuild *q = ctx;
    if (q->st != AM_OK || q->terms >= QUERY_MAX_WORDS ||
        (q->skip_stop && am__is_stopword(w, n)))
        return;
    /* The word will start after " OR " and the opening quote. */
    size_t at = q->out->len + (q->terms > 0 ? 4 : 0) + 1;
    if (at >= UINT32_MAX - AM__WORD_MAX || seen_before(q, w, n, at))
        return;
    if (q->terms > 0)
        q->st = am_buf_append(q->out, " OR ", 4);
    /* Words hold no '"' (see am__word_byte), so quoting is enough. */
    if (q->st == AM_OK)
        q->st = am_buf_appendf(q->out, "\"%.*s\"", (int)n, w);
    q->terms++;
}

/* Build the FTS5 query for `text`: each distinct word once, at most
 * QUERY_MAX_WORDS of them; *terms gets the term count (0: the query
 * matches nothing). */
static am_status fts_query(am_str text, am_buf *out, size_t *terms)
{
    qbuild *q = am__calloc(out->alloc, 1, sizeof *q);
    am_status st;
    if (q == NULL)
        return AM_ENOMEM;
    q->out = out;
    q->skip_stop = 1;
    am_buf_clear(out);
    am__words(text.ptr, text.len, add_term, q);
    if (q->st == AM_OK && q->terms == 0) {
        /* Only stopwords: search them after all. */
        q->skip_stop = 0;
        memset(q->seen, 0, sizeof q->seen);
        am__words(text.ptr, text.len, add_term, q);
    }
    *terms = q->terms;
    st = q->st;
    if (st == AM_OK)
        st = am_buf_reserve(out, 0);
    am__free(out->alloc, q, sizeof *q);
    return st;
}


/* Forget the kept counts when the file changed since they were taken
 * (see am__sqcounts). Called once per search, inside its read snapshot,
 * so the counts and the rows ranked come from one state of the file. */
static am_status counts_check(am_store *s)
{
    am__sqcounts *c = &SQ(s)->counts;
    int64_t dv = am__sq_data_version(s);
    int64_t changes = sqlite3_total_changes64(SQ(s)->db->conn);
    if (dv < 0)
        return AM__ERR(s).code;
    /* Inside a write transaction the counts would include changes a
     * rollback may undo without moving the stamp: count afresh. */
    c->off = sqlite3_txn_state(SQ(s)->db->conn, "main") == SQLITE_TXN_WRITE;
    if (c->off || dv != c->data_version || changes != c->changes) {
        for (size_t i = 0; i < AM__SQ_COUNTS; i++)
            c->e[i].match[0] = '\0';
        c->data_version = dv;
        c->changes = changes;
    }
    return AM_OK;
}

/* Rows of the full-text index matching `match`, counted up to cap. */
static am_status fts_rows(am_store *s, const char *match, int64_t cap,
                          int64_t *out)
{
    am__sqcounts *cc = &SQ(s)->counts;
    size_t mlen = strlen(match);
    int keep = !cc->off && mlen < sizeof cc->e[0].match;
    for (size_t i = 0; keep && i < AM__SQ_COUNTS; i++)
        if (cc->e[i].cap == cap && strcmp(cc->e[i].match, match) == 0) {
            *out = cc->e[i].n;
            return AM_OK;
        }
    sqlite3_stmt *c = am__store_stmt(s, Q_FTS_DF);
    if (c == NULL)
        return AM__ERR(s).code;
    sqlite3_bind_text(c, 1, match, -1, SQLITE_STATIC);
    sqlite3_bind_int64(c, 2, cap);
    int rc = sqlite3_step(c);
    *out = rc == SQLITE_ROW ? sqlite3_column_int64(c, 0) : 0;
    if (rc != SQLITE_ROW) {
        am_status st = am__store_dberr(s, rc, "search", c);
        sqlite3_reset(c);
        return st;
    }
    sqlite3_reset(c);
    if (keep) {
        am__sqcount *e = &cc->e[cc->next];
        cc->next = (cc->next + 1) % AM__SQ_COUNTS;
        memcpy(e->match, match, mlen + 1);
        e->cap = cap;
        e->n = *out;
    }
    return AM_OK;
}

/* Ranking is what full-text search pays for: walking a term's doclist
 * costs about a tenth of BM25-scoring the rows it matches (see
 * docs/BENCHMARKS.md, issue 5). When the terms of a query match more than
 * FTS_BUDGET rows together, the most frequent terms are dropped (rarest
 * kept first, at least one kept) until the rest match at most FTS_BUDGET:
 * like a stopword list computed from the index, and it only changes
 * queries whose frequent terms carry little weight (low IDF). */
#define FTS_BUDGET 1500

typedef struct fterm {
    const char *p;  /* the quoted term inside the query */
    size_t n;
    int64_t df;     /* matching rows, counted up to FTS_BUDGET + 1 */
} fterm;

static int fterm_by_df(const void *a, const void *b)
{
    const fterm *x = a, *y = b;
    return x->df < y->df ? -1 : x->df > y->df;
}

static am_status prune_terms(am_store *s, am_buf *fq, size_t *terms,
                             const char *scope, double *dfs, int *have_dfs)
{
    fterm t[AM__FTS_MAX_TERMS];
    char one[160];
    size_t n = 0;
    int64_t total = 0;
    am_buf out = AM_BUF_INIT;
    am_status st = AM_OK;

    *have_dfs = 0;
    if (*terms > AM__FTS_MAX_TERMS || (*terms < 2 && scope[0] == '\0'))
        return AM_OK;
    for (const char *p = fq->ptr, *end = fq->ptr + fq->len; p < end;) {
        const char *q = strstr(p, " OR ");
        if (q == NULL)
            q = end;
        t[n].p = p;
        t[n].n = (size_t)(q - p);
        n++;
        p = q < end ? q + 4 : end;
    }
    for (size_t i = 0; i < n; i++) {
        /* Counted in the text column and inside the scope only: the
         * cap follows the namespace's data, not everyone's. Terms are
         * at most AM__WORD_MAX bytes + quotes (am__words). */
        int len = snprintf(one, sizeof one, "text : %.*s%s", (int)t[i].n,
                           t[i].p, scope);
        if (len < 0 || (size_t)len >= sizeof one)
            return am__fail(&AM__ERR(s), AM_EINVAL, "search: term too long");
        am_status rst = fts_rows(s, one, FTS_BUDGET + 1, &t[i].df);
        if (rst != AM_OK)
            return rst;
        total += t[i].df;
        dfs[i] = (double)t[i].df;
    }
    *have_dfs = 1;
    if (total <= FTS_BUDGET)
        return AM_OK;
    qsort(t, n, sizeof *t, fterm_by_df);
    out.alloc = s->alloc;
    total = 0;
    size_t kept = 0;
    for (size_t i = 0; i < n && st == AM_OK; i++) {
        if (kept > 0 && total + t[i].df > FTS_BUDGET)
            break;
        total += t[i].df;
        dfs[kept] = (double)t[i].df;
        if (kept > 0)
            st = am_buf_append(&out, " OR ", 4);
        if (st == AM_OK)
            st = am_buf_append(&out, t[i].p, t[i].n);
        kept++;
    }
    if (st == AM_OK)
        st = am_buf_reserve(&out, 0);
    if (st != AM_OK) {
        am_buf_free(&out);
        return am__fail(&AM__ERR(s), AM_ENOMEM, "search: out of memory");
    }
    out.ptr[out.len] = '\0';
    am_buf_free(fq);
    *fq = out;
    *terms = kept;
    return AM_OK;
}

/* Rows whose text holds the quoted term [p, p + n), counted up to cap. */
static am_status term_rows(am_store *s, const char *p, size_t n, int64_t cap,
                           int64_t *out)
{
    char m[96];
    snprintf(m, sizeof m, "text : %.*s", (int)(n < 80 ? n : 80), p);
    return fts_rows(s, m, cap, out);
}

/* Rows under the scope (`scope`: the " AND fts_ns : ..." suffix). */
static am_status scope_rows(am_store *s, const char *scope, int64_t *n)
{
    return fts_rows(s, scope + 5 /* drop " AND " */, INT64_MAX, n);
}

/* ---- Text candidates, in steps: terms, BM25 arguments, statement,
 * passes ---- */

/* idf[] (the scoped term counts prune_terms left) becomes pairs (n, N) per
 * phrase for am_bm25_fn: in a scoped search the term's count in the scope
 * (counted up to FTS_BUDGET + 1 by prune_terms) and the scope's row count;
 * in an unscoped one the term's exact count and N = 0 (the table's row
 * count), as FTS5's bm25() would. The namespace token closes the list
 * with weight 0. */
static am_status bm25_pairs(am_store *s, am_str fq, size_t terms, am_str lo,
                            const char *scope, double *idf)
{
    double pairs[2 * AM__FTS_MAX_PHRASES];
    int64_t nrows = 0;
    am_status st = AM_OK;
    size_t i = 0;

    if (lo.len > 0)
        st = scope_rows(s, scope, &nrows);
    for (const char *p = fq.ptr, *end = fq.ptr + fq.len;
         st == AM_OK && p < end && i < terms; i++) {
        const char *e = strstr(p, " OR ");
        int64_t g = 0;
        if (e == NULL)
            e = end;
        if (lo.len > 0) {
            pairs[2 * i] = idf[i];
            pairs[2 * i + 1] = (double)(nrows > 0 ? nrows : 1);
        } else {
            st = term_rows(s, p, (size_t)(e - p), INT64_MAX, &g);
            pairs[2 * i] = (double)g;
            pairs[2 * i + 1] = 0;
        }
        p = e < end ? e + 4 : end;
    }
    /* The namespace token: weight 0 (unscoped: no such phrase). */
    pairs[2 * terms] = 0;
    pairs[2 * terms + 1] = -1;
    if (st == AM_OK)
        memcpy(idf, pairs, (2 * terms + 2) * sizeof *idf);
    return st;
}

/* A filter is part of the statement, so the LIMIT counts only rows that
 * pass it: a filtered search still returns `want` rows when that many
 * match, however rare they are among the text's hits. *out is the
 * caller's to finalize. */
static am_status filtered_stmt(am_store *s, const am__sqflt *filter,
                               int own_rank, sqlite3_stmt **out)
{
    am_buf sql = AM_BUF_INIT;
    am_status st;
    int rc;

    sql.alloc = s->alloc;
    st = am_buf_appendf(&sql, "SELECT items_fts.rowid, %s, i.ns,"
                        " i.deleted_ms IS NULL AND (i.expires_ms IS NULL"
                        " OR i.expires_ms > ?1) FROM items_fts JOIN"
                        " items i ON i.id = items_fts.rowid WHERE"
                        " items_fts MATCH ?2%s ORDER BY %s LIMIT ?3",
                        own_rank ? "am_bm25(items_fts, ?4) AS sc"
                                 : "-items_fts.rank",
                        filter->where.ptr,
                        own_rank ? "sc DESC" : "items_fts.rank");
    rc = st == AM_OK ? sqlite3_prepare_v2(SQ(s)->db->conn, sql.ptr,
                                          (int)sql.len, out, NULL)
                     : SQLITE_NOMEM;
    am_buf_free(&sql);
    if (rc != SQLITE_OK)
        return am__store_dberr(s, rc, "search", NULL);
    am__sq_filter_bind(*out, &filter->binds);
    return AM_OK;
}

/* What every pass of one text search binds and keeps. */
typedef struct text_match {
    am_str fq;          /* the MATCH expression, scope included */
    const double *idf;  /* am_bm25's pairs (own_rank) */
    size_t terms;
    int own_rank;       /* ranked by am_bm25, else by FTS5's bm25() */
    am_str lo;          /* the scope's namespace prefix ("": none) */
    int64_t now;
    size_t want;
} text_match;

/* One pass over FTS5's best `lim` rows: the live ones under the scope
 * become candidates, at most `want`. *seen counts the rows read and *rc
 * is SQLite's last step. */
static am_status text_pass(am_store *s, sqlite3_stmt *f,
                           const text_match *m, int64_t lim,
                           am__cands *out, size_t *seen, int *rc)
{
    am_status st = AM_OK;

    *seen = 0;
    *rc = SQLITE_DONE;
    out->count = 0;
    sqlite3_bind_int64(f, 1, m->now);
    sqlite3_bind_text(f, 2, m->fq.ptr, (int)m->fq.len, SQLITE_STATIC);
    sqlite3_bind_int64(f, 3, lim);
    if (m->own_rank)
        sqlite3_bind_blob(f, 4, m->idf,
                          (int)((2 * m->terms + 2) * sizeof *m->idf),
                          SQLITE_STATIC);
    while (out->count < m->want && (*rc = sqlite3_step(f)) == SQLITE_ROW) {
        int64_t id = sqlite3_column_int64(f, 0);
        double sc = sqlite3_column_double(f, 1);
        const char *ns = sqlite3_column_blob(f, 2);
        size_t nslen = (size_t)sqlite3_column_bytes(f, 2);
        (*seen)++;
        /* Under the scope: its encoding is a byte prefix. */
        if (ns == NULL || !sqlite3_column_int(f, 3) || nslen < m->lo.len ||
            memcmp(ns, m->lo.ptr, m->lo.len) != 0)
            continue;
        st = am__cands_push(s, out, id);
        if (st != AM_OK)
            break;
        /* FTS5's own bm25() (a query of more words than am_bm25 takes)
         * is unbounded: squashed into [0, 1). */
        out->v[out->count - 1].fts = m->own_rank ? sc : sc / (1 + sc);
        out->v[out->count - 1].rank_fts = (int)out->count;
    }
    if (st == AM_OK && out->count < m->want && *rc != SQLITE_DONE)
        st = am__store_dberr(s, *rc, "search", f);
    sqlite3_reset(f);
    return st;
}

am_status am__sq_text_cands(am_store *s, am_str query, am_str lo,
                            am__sqflt *filter, size_t want,
                            int64_t now, am__cands *out)
{
    am_buf fq = AM_BUF_INIT, w = AM_BUF_INIT;
    size_t terms = 0;
    am_status st;
    char scope[48] = "";
    double idf[2 * AM__FTS_MAX_PHRASES];
    int have_dfs = 0, own_rank;
    sqlite3_stmt *dyn = NULL;
    text_match m;
    int64_t lim;

    fq.alloc = s->alloc;
    w.alloc = s->alloc;
    st = fts_query(query, &fq, &terms);
    if (st != AM_OK) {
        st = am__fail(&AM__ERR(s), AM_ENOMEM, "search: out of memory");
        goto out;
    }
    if (terms == 0)
        goto out;
    st = counts_check(s);
    if (st != AM_OK)
        goto out;
    /* A scoped search ANDs in the scope's namespace token (column
     * fts_ns); user terms only match the text column. */
    if (lo.len > 0) {
        char tok[AM__NS_TOKEN_LEN + 1];
        am__sq_ns_token(SQ(s), lo.ptr, lo.len, tok);
        snprintf(scope, sizeof scope, " AND fts_ns : \"%s\"", tok);
    }
    /* IDF comes from the counts within the scope (see am_bm25_fn): the
     * score then says how much of the query this namespace's memory
     * matches, and a word the scope has never seen (a name from someone
     * else's memory) weighs the most, whatever other namespaces hold.
     * Measured on LoCoMo dev (docs/BENCHMARKS.md): table-wide counts gave
     * the same ranking but told "nothing relevant here" far worse. It is
     * also cheaper: FTS5's own bm25() walks every query term's whole
     * doclist to count it, which is as slow as the database is big. */
    st = prune_terms(s, &fq, &terms, scope, idf, &have_dfs);
    /* Every query of at most AM__FTS_MAX_TERMS terms is ranked by am_bm25,
     * whose score is on the [0, 1] scale of am_item.fts_score. */
    own_rank = terms <= AM__FTS_MAX_TERMS && (lo.len == 0 || have_dfs);
    if (st == AM_OK && own_rank)
        st = bm25_pairs(s, am_buf_str(&fq), terms, lo, scope, idf);
    if (st != AM_OK)
        goto out;
    st = am_buf_appendf(&w, "text : (%s)%s", fq.ptr, scope);
    if (st == AM_OK)
        st = am_buf_reserve(&w, 0);
    if (st != AM_OK) {
        st = am__fail(&AM__ERR(s), AM_ENOMEM, "search: out of memory");
        goto out;
    }
    if (filter != NULL && filter->where.len > 0 &&
        (st = filtered_stmt(s, filter, own_rank, &dyn)) != AM_OK)
        goto out;
    m = (text_match){ am_buf_str(&w), idf, terms, own_rank, lo, now, want };
    /* FTS5 ranks and cuts at `lim`; rows that are dead (or, after a
     * token collision, outside the scope) are rare, so a small margin over
     * `want` is enough (the loop deepens otherwise). */
    lim = (int64_t)want + 8;
    for (;;) {
        sqlite3_stmt *f = dyn != NULL ? dyn
                                      : am__store_stmt(s, own_rank
                                                              ? Q_FTS_SCOPED
                                                              : Q_FTS_TOP);
        size_t seen = 0;
        int rc = SQLITE_DONE;
        if (f == NULL) {
            st = AM__ERR(s).code;
            break;
        }
        st = text_pass(s, f, &m, lim, out, &seen, &rc);
        /* Too few survived the cut and FTS5 had more: look deeper. */
        if (st != AM_OK || out->count >= want || lim < 0 ||
            (rc == SQLITE_DONE && seen < (size_t)lim))
            break;
        lim = lim > (1 << 20) ? -1 : lim * 8;
    }
out:
    sqlite3_finalize(dyn);
    am_buf_free(&w);
    am_buf_free(&fq);
    return st;
}

/* ---- Pseudo-relevance feedback ---- */

/* Documents holding `w`, counted by FTS5 up to `cap` (prf.c asks). */
am_status am__sq_doc_freq(void *ctx, const char *w, int64_t cap, double *df)
{
    char m[48];
    int64_t n = cap;
    snprintf(m, sizeof m, "text : \"%.31s\"", w);
    am_status st = fts_rows(ctx, m, cap, &n);
    *df = (double)n;
    return st;
}

am_status am__sq_prf_texts(am_store *s, void *ctx, const am__cands *tc,
                           size_t n, int64_t now, am__prf *p, double *total)
{
    (void)ctx;
    for (size_t i = 0; i < tc->count && i < n; i++) {
        sqlite3_stmt *r = am__store_stmt(s, Q_ITEM_ROW);
        if (r == NULL)
            return AM__ERR(s).code;
        sqlite3_bind_int64(r, 1, now);
        sqlite3_bind_int64(r, 2, tc->v[i].id);
        if (sqlite3_step(r) == SQLITE_ROW)
            am__prf_add(p, (const char *)sqlite3_column_text(r, 4),
                        (size_t)sqlite3_column_bytes(r, 4));
        sqlite3_reset(r);
    }
    if (p->count == 0)
        return AM_OK; /* no words: the query stays as it is, no total */
    sqlite3_stmt *mx = NULL;
    if (sqlite3_prepare_v2(SQ(s)->db->conn, "SELECT max(id) FROM items", -1,
                           &mx, NULL) == SQLITE_OK &&
        sqlite3_step(mx) == SQLITE_ROW)
        *total = (double)sqlite3_column_int64(mx, 0) + 1;
    sqlite3_finalize(mx);
    return AM_OK;
}
