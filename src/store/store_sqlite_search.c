/* store_sqlite_search.c -- full-text, vector and hybrid search over items.
 *
 * Full text: FTS5 with the porter tokenizer, ranked by BM25. The user's
 * query is never handed to FTS5 as syntax: we cut it into words ourselves
 * and send each as a double-quoted string, OR-ed together, so quotes,
 * operators (AND, NEAR, *, ^, :) and punctuation are just text.
 *
 * Vectors: exact cosine over unit vectors kept in memory (am__vcache),
 * loaded from the item rows on first use and reloaded when the database
 * changed (a write through this handle, or PRAGMA data_version for other
 * connections). A scan is one dot product per vector, written with four
 * independent accumulators so the compiler keeps SIMD lanes busy.
 *
 * Hybrid: reciprocal rank fusion, score = w_text / (k + rank_text) +
 * w_vec / (k + rank_vec), over the top candidates of each.
 *
 * Candidates are checked against the live row (namespace range, not
 * deleted, not expired) and the metadata filter before they are ranked.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/json_glue.h"
#include "store_sqlite.h"

/* ---- Words ---- */

static int is_word_byte(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || c >= 0x80;
}

void am__words(const char *s, size_t len,
               void (*fn)(const char *w, size_t n, void *ctx), void *ctx)
{
    char w[64];
    size_t i = 0;
    while (i < len) {
        while (i < len && !is_word_byte((unsigned char)s[i]))
            i++;
        size_t n = 0, start = i;
        while (i < len && is_word_byte((unsigned char)s[i])) {
            if (n < sizeof w) {
                unsigned char c = (unsigned char)s[i];
                w[n++] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
            }
            i++;
        }
        if (i > start) {
            /* Do not cut a UTF-8 sequence in the middle. */
            n = am__utf8_floor(w, n);
            if (n > 0)
                fn(w, n, ctx);
        }
    }
}

/* Words too common to help BM25 and costly to look up. */
static const char *const stopwords[] = {
    "a", "about", "an", "and", "are", "as", "at", "be", "by", "did", "do",
    "does", "for", "from", "had", "has", "have", "he", "her", "his", "how",
    "i", "in", "is", "it", "its", "me", "my", "of", "on", "or", "she",
    "that", "the", "their", "them", "they", "this", "to", "was", "we",
    "were", "what", "when", "where", "which", "who", "whom", "why", "will",
    "with", "you", "your",
};

static int is_stopword(const char *w, size_t n)
{
    size_t lo = 0, hi = sizeof stopwords / sizeof stopwords[0];
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strncmp(stopwords[mid], w, n);
        if (c == 0 && stopwords[mid][n] != '\0')
            c = 1;
        if (c == 0)
            return 1;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return 0;
}

typedef struct qbuild {
    am_buf *out;
    int skip_stop;
    size_t terms;
    am_status st;
} qbuild;

static void add_term(const char *w, size_t n, void *ctx)
{
    qbuild *q = ctx;
    if (q->st != AM_OK || (q->skip_stop && is_stopword(w, n)))
        return;
    if (q->terms > 0)
        q->st = am_buf_append(q->out, " OR ", 4);
    /* Words hold no '"' (see is_word_byte), so quoting is enough. */
    if (q->st == AM_OK)
        q->st = am_buf_appendf(q->out, "\"%.*s\"", (int)n, w);
    q->terms++;
}

/* Build the FTS5 query for `text`; *terms gets the term count (0: the
 * query matches nothing). */
static am_status fts_query(am_str text, am_buf *out, size_t *terms)
{
    qbuild q = { out, 1, 0, AM_OK };
    am_buf_clear(out);
    am__words(text.ptr, text.len, add_term, &q);
    if (q.st == AM_OK && q.terms == 0) {
        /* Only stopwords: search them after all. */
        q.skip_stop = 0;
        am__words(text.ptr, text.len, add_term, &q);
    }
    *terms = q.terms;
    if (q.st == AM_OK)
        q.st = am_buf_reserve(out, 0);
    return q.st;
}

/* ---- Vectors ---- */

float am__vec_dot(const float *a, const float *b, size_t dim)
{
    float s0 = 0, s1 = 0, s2 = 0, s3 = 0, s4 = 0, s5 = 0, s6 = 0, s7 = 0;
    size_t i = 0;
    for (; i + 8 <= dim; i += 8) {
        s0 += a[i] * b[i];
        s1 += a[i + 1] * b[i + 1];
        s2 += a[i + 2] * b[i + 2];
        s3 += a[i + 3] * b[i + 3];
        s4 += a[i + 4] * b[i + 4];
        s5 += a[i + 5] * b[i + 5];
        s6 += a[i + 6] * b[i + 6];
        s7 += a[i + 7] * b[i + 7];
    }
    for (; i < dim; i++)
        s0 += a[i] * b[i];
    return ((s0 + s4) + (s1 + s5)) + ((s2 + s6) + (s3 + s7));
}

void am__vec_normalize(float *v, size_t dim)
{
    double n = 0;
    for (size_t i = 0; i < dim; i++)
        n += (double)v[i] * v[i];
    if (n <= 0)
        return;
    float inv = (float)(1.0 / sqrt(n));
    for (size_t i = 0; i < dim; i++)
        v[i] *= inv;
}

void am__vcache_free(am_store *s)
{
    am__vcache *c = &s->vc;
    am__free(s->alloc, c->ids, c->cap * sizeof *c->ids);
    am__free(s->alloc, c->expires, c->cap * sizeof *c->expires);
    am__free(s->alloc, c->ns_off, c->cap * sizeof *c->ns_off);
    am__free(s->alloc, c->ns_len, c->cap * sizeof *c->ns_len);
    if (c->vecs != NULL)
        am__free(s->alloc, c->vecs, c->cap * c->dim * sizeof(float));
    am_buf_free(&c->ns_pool);
    memset(c, 0, sizeof *c);
    c->ns_pool.alloc = s->alloc;
}

static int64_t data_version(am_store *s)
{
    sqlite3_stmt *q = NULL;
    int64_t v = -1;
    if (sqlite3_prepare_v2(SQ(s)->db, "PRAGMA data_version", -1, &q, NULL) ==
            SQLITE_OK &&
        sqlite3_step(q) == SQLITE_ROW)
        v = sqlite3_column_int64(q, 0);
    sqlite3_finalize(q);
    return v;
}

/* Grows the cache's parallel arrays to hold `need` entries. All or
 * nothing: the new arrays are allocated first and the old ones freed only
 * when every allocation worked, so that on AM_ENOMEM every array still
 * has c->cap entries (am__vcache_free frees them by that size). */
static am_status vcache_grow(am_store *s, size_t need)
{
    am__vcache *c = &s->vc;
    if (need <= c->cap)
        return AM_OK;
    size_t cap = c->cap > 0 ? c->cap * 2 : 1024;
    while (cap < need)
        cap *= 2;
    void **arr[5] = { (void **)&c->ids, (void **)&c->expires,
                      (void **)&c->ns_off, (void **)&c->ns_len,
                      (void **)&c->vecs };
    size_t size[5] = { sizeof *c->ids, sizeof *c->expires, sizeof *c->ns_off,
                       sizeof *c->ns_len, c->dim * sizeof(float) };
    void *fresh[5] = { NULL };
    int k;
    for (k = 0; k < 5; k++) {
        if (size[k] == 0) /* no vectors yet: no dimension */
            continue;
        fresh[k] = am__alloc_array(s->alloc, cap, size[k]);
        if (fresh[k] == NULL)
            break;
    }
    if (k < 5) {
        while (k-- > 0)
            if (fresh[k] != NULL)
                am__free(s->alloc, fresh[k], cap * size[k]);
        return AM_ENOMEM;
    }
    for (k = 0; k < 5; k++) {
        if (*arr[k] != NULL) {
            if (fresh[k] != NULL)
                memcpy(fresh[k], *arr[k], c->count * size[k]);
            am__free(s->alloc, *arr[k], c->cap * size[k]);
        }
        *arr[k] = fresh[k];
    }
    c->cap = cap;
    return AM_OK;
}

void am__vcache_apply(am_store *s, int64_t id, am_str ns, int64_t expires,
                      const float *vec, size_t dim)
{
    am__vcache *c = &s->vc;
    if (!c->valid || s->vc_writes != s->own_writes)
        return; /* not loaded (or stale): the next search loads it */
    /* ids are ascending: rows are appended with growing rowids. */
    size_t lo = 0, hi = c->count;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (c->ids[mid] < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    int found = lo < c->count && c->ids[lo] == id;
    if (vec == NULL) {
        if (found)
            c->expires[lo] = 1; /* a tombstone: expired long ago */
        return;
    }
    if (c->dim == 0 && c->count == 0)
        c->dim = dim;
    if (dim != c->dim || (!found && lo != c->count)) {
        c->valid = 0; /* not an append: reload on the next search */
        return;
    }
    if (!found) {
        if (vcache_grow(s, c->count + 1) != AM_OK) {
            c->valid = 0;
            return;
        }
        c->ids[lo] = id;
        c->count++;
    }
    size_t off = c->ns_pool.len;
    if (am_buf_append(&c->ns_pool, ns.ptr, ns.len) != AM_OK) {
        c->valid = 0;
        return;
    }
    c->ns_off[lo] = off;
    c->ns_len[lo] = ns.len;
    c->expires[lo] = expires;
    memcpy(c->vecs + lo * c->dim, vec, dim * sizeof(float));
}

/* Make the cache current. */
static am_status vcache_load(am_store *s)
{
    am__vcache *c = &s->vc;
    int64_t dv = data_version(s);
    if (c->valid && c->data_version == dv && s->vc_writes == s->own_writes)
        return AM_OK;
    am__vcache_free(s);
    sqlite3_stmt *q = am__store_stmt(s, Q_VEC_LOAD);
    if (q == NULL)
        return s->err.code;
    am_status st = AM_OK;
    int rc;
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        size_t bytes = (size_t)sqlite3_column_bytes(q, 3);
        size_t dim = bytes / sizeof(float);
        if (dim == 0)
            continue;
        if (c->dim == 0)
            c->dim = dim;
        if (dim != c->dim) {
            st = am__fail(&s->err, AM_EFORMAT,
                          "vector index: item %lld has %zu dimensions, "
                          "others %zu", (long long)sqlite3_column_int64(q, 0),
                          dim, c->dim);
            break;
        }
        if (vcache_grow(s, c->count + 1) != AM_OK) {
            st = am__fail(&s->err, AM_ENOMEM, "vector index: out of memory");
            break;
        }
        size_t i = c->count;
        c->ids[i] = sqlite3_column_int64(q, 0);
        c->expires[i] = sqlite3_column_int64(q, 2);
        c->ns_off[i] = c->ns_pool.len;
        c->ns_len[i] = (size_t)sqlite3_column_bytes(q, 1);
        if (am_buf_append(&c->ns_pool, sqlite3_column_blob(q, 1),
                          c->ns_len[i]) != AM_OK) {
            st = am__fail(&s->err, AM_ENOMEM, "vector index: out of memory");
            break;
        }
        memcpy(c->vecs + i * c->dim, sqlite3_column_blob(q, 3), bytes);
        c->count++;
    }
    if (st == AM_OK && rc != SQLITE_DONE)
        st = am__store_dberr(s, rc, "vector index");
    sqlite3_reset(q);
    if (st != AM_OK) {
        am__vcache_free(s);
        return st;
    }
    c->valid = 1;
    c->data_version = dv;
    s->vc_writes = s->own_writes;
    return AM_OK;
}

/* ---- Candidates ---- */

typedef struct cand {
    int64_t id;
    double fts, vec;     /* raw scores */
    int rank_fts, rank_vec; /* 1-based, 0: absent */
    double score;
} cand;

typedef struct cands {
    cand *v;
    size_t count, cap;
} cands;

static int by_score_desc(const void *a, const void *b)
{
    const cand *x = a, *y = b;
    if (x->score != y->score)
        return x->score < y->score ? 1 : -1;
    return x->id < y->id ? -1 : x->id > y->id ? 1 : 0;
}

/* Does the item's meta satisfy the filter object? -1: jansson ran out of
 * memory parsing it (no answer, not "no"). */
static int meta_matches(json_t *filter, const char *meta, size_t len)
{
    if (filter == NULL)
        return 1;
    json_t *m = NULL;
    am_error perr;
    am_str text = { meta, len };
    if (am__json_parse_flags(text, 0, "meta", &m, &perr) == AM_ENOMEM)
        return -1;
    int ok = m != NULL;
    const char *k;
    json_t *want;
    json_object_foreach(filter, k, want) {
        if (!ok)
            break;
        json_t *have = json_object_get(m, k);
        ok = have != NULL && json_equal(have, want);
    }
    json_decref(m);
    return ok;
}

/* Check an item id against filters; returns 1 when it qualifies, -1
 * when jansson ran out of memory deciding. */
static int qualifies(am_store *s, int64_t id, json_t *filter,
                     int64_t now)
{
    sqlite3_stmt *q = am__store_stmt(s, Q_ITEM_ROW);
    if (q == NULL)
        return 0;
    sqlite3_bind_int64(q, 1, now);
    sqlite3_bind_int64(q, 2, id);
    int ok = sqlite3_step(q) == SQLITE_ROW
                 ? meta_matches(filter,
                                (const char *)sqlite3_column_text(q, 3),
                                (size_t)sqlite3_column_bytes(q, 3))
                 : 0;
    sqlite3_reset(q);
    return ok;
}

static am_status cands_push(am_store *s, cands *c, int64_t id)
{
    if (am__grow(s->alloc, (void **)&c->v, &c->cap, c->count + 1,
                 sizeof(cand)) != AM_OK)
        return am__fail(&s->err, AM_ENOMEM, "search: out of memory");
    memset(&c->v[c->count], 0, sizeof(cand));
    c->v[c->count].id = id;
    c->count++;
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
    fterm t[64];
    char one[160];
    size_t n = 0;
    int64_t total = 0;
    am_buf out = AM_BUF_INIT;
    am_status st = AM_OK;

    *have_dfs = 0;
    if (*terms > 64 || (*terms < 2 && scope[0] == '\0'))
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
        sqlite3_stmt *c = am__store_stmt(s, Q_FTS_DF);
        if (c == NULL)
            return s->err.code;
        /* Counted in the text column and inside the scope only: the
         * cap follows the namespace's data, not everyone's. Terms are
         * at most 64 bytes + quotes (am__words). */
        int len = snprintf(one, sizeof one, "text : %.*s%s", (int)t[i].n,
                           t[i].p, scope);
        if (len < 0 || (size_t)len >= sizeof one)
            return am__fail(&s->err, AM_EINVAL, "search: term too long");
        sqlite3_bind_text(c, 1, one, len, SQLITE_STATIC);
        sqlite3_bind_int64(c, 2, FTS_BUDGET + 1);
        int rc = sqlite3_step(c);
        t[i].df = rc == SQLITE_ROW ? sqlite3_column_int64(c, 0) : 0;
        sqlite3_reset(c);
        if (rc != SQLITE_ROW)
            return am__store_dberr(s, rc, "search");
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
        return am__fail(&s->err, AM_ENOMEM, "search: out of memory");
    }
    out.ptr[out.len] = '\0';
    am_buf_free(fq);
    *fq = out;
    *terms = kept;
    return AM_OK;
}

#define GLOBAL_DF_CAP 4096

/* Rows of the full-text index matching `match`, counted up to cap. */
static am_status fts_rows(am_store *s, const char *match, int64_t cap,
                          int64_t *out)
{
    sqlite3_stmt *c = am__store_stmt(s, Q_FTS_DF);
    if (c == NULL)
        return s->err.code;
    sqlite3_bind_text(c, 1, match, -1, SQLITE_STATIC);
    sqlite3_bind_int64(c, 2, cap);
    int rc = sqlite3_step(c);
    *out = rc == SQLITE_ROW ? sqlite3_column_int64(c, 0) : 0;
    sqlite3_reset(c);
    return rc == SQLITE_ROW ? AM_OK : am__store_dberr(s, rc, "search");
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

/* am_bm25(items_fts, counts BLOB): BM25 as FTS5's (k1 1.2, b 0.75) over
 * the text column, with each phrase's document count given by the caller
 * (doubles n, N per phrase in phrase order; N 0: the table's row count,
 * N < 0: ignore the phrase) instead of counted by walking its whole
 * doclist. Higher is better. */
static void am_bm25_fn(const Fts5ExtensionApi *api, Fts5Context *fts,
                       sqlite3_context *ctx, int nval, sqlite3_value **val)
{
    const double k1 = 1.2, b = 0.75;
    double freq[66] = { 0 }, score = 0;
    int nphrase = api->xPhraseCount(fts), ninst = 0, dl = 0;
    sqlite3_int64 nrow = 0, total = 0;
    const double *pr = nval > 0 ? sqlite3_value_blob(val[0]) : NULL;
    int nidf = nval > 0 ? sqlite3_value_bytes(val[0]) /
                              (int)(2 * sizeof(double))
                        : 0;
    if (pr == NULL || nphrase > nidf || nphrase > 66) {
        sqlite3_result_error(ctx, "am_bm25: bad IDF argument", -1);
        return;
    }
    int rc = api->xInstCount(fts, &ninst);
    for (int i = 0; rc == SQLITE_OK && i < ninst; i++) {
        int ph, col, off;
        rc = api->xInst(fts, i, &ph, &col, &off);
        if (rc == SQLITE_OK && col == 0)
            freq[ph] += 1;
    }
    if (rc == SQLITE_OK)
        rc = api->xColumnSize(fts, 0, &dl);
    if (rc == SQLITE_OK)
        rc = api->xRowCount(fts, &nrow);
    if (rc == SQLITE_OK)
        rc = api->xColumnTotalSize(fts, 0, &total);
    if (rc != SQLITE_OK) {
        sqlite3_result_error_code(ctx, rc);
        return;
    }
    double avgdl = nrow > 0 && total > 0 ? (double)total / (double)nrow : 1;
    for (int i = 0; i < nphrase; i++) {
        if (freq[i] <= 0 || pr[2 * i + 1] < 0)
            continue;
        /* FTS5's IDF: N rows (0: the table's), n of them with the term. */
        double N = pr[2 * i + 1] > 0 ? pr[2 * i + 1] : (double)nrow;
        double n = pr[2 * i];
        double idf = log((N - n + 0.5) / (n + 0.5));
        if (idf <= 1e-6)
            idf = 1e-6;
        score += idf * (freq[i] * (k1 + 1)) /
                 (freq[i] + k1 * (1 - b + b * (double)dl / avgdl));
    }
    sqlite3_result_double(ctx, score);
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

static am_status text_cands(am_store *s, am_str query, am_str lo,
                            json_t *filter, size_t want,
                            int64_t now, cands *out)
{
    am_buf fq = AM_BUF_INIT;
    size_t terms = 0;
    am_status st;
    fq.alloc = s->alloc;
    st = fts_query(query, &fq, &terms);
    if (st != AM_OK) {
        am_buf_free(&fq);
        return am__fail(&s->err, AM_ENOMEM, "search: out of memory");
    }
    if (terms == 0) {
        am_buf_free(&fq);
        return AM_OK;
    }
    /* A scoped search ANDs in the scope's namespace token (column
     * fts_ns); user terms only match the text column. */
    char scope[48] = "";
    if (lo.len > 0) {
        char tok[AM__NS_TOKEN_LEN + 1];
        am__sq_ns_token(SQ(s), lo.ptr, lo.len, tok);
        snprintf(scope, sizeof scope, " AND fts_ns : \"%s\"", tok);
    }
    /* In a scoped search BM25's IDF comes from the counts within the
     * scope (see am_bm25_fn): FTS5's own bm25() walks every query
     * term's whole doclist to count it, which is as slow as the database
     * is big. */
    double idf[132];
    int have_dfs = 0;
    st = prune_terms(s, &fq, &terms, scope, idf, &have_dfs);
    if (st == AM_OK && have_dfs && lo.len > 0) {
        /* idf[] becomes pairs (n, N) per phrase for am_bm25_fn. A term's
         * count over the whole table is used when it is small (cheap to
         * count: at most GLOBAL_DF_CAP rows walked), as FTS5's bm25()
         * would; a term more common than that gets the scope's count
         * scaled to the table (N = 0 tells the function to use the
         * table's row count). */
        double pairs[132];
        int64_t nrows = 0;
        st = scope_rows(s, scope, &nrows);
        size_t i = 0;
        for (const char *p = fq.ptr, *end = fq.ptr + fq.len;
             st == AM_OK && p < end && i < terms; i++) {
            const char *e = strstr(p, " OR ");
            if (e == NULL)
                e = end;
            int64_t g = 0;
            st = term_rows(s, p, (size_t)(e - p), GLOBAL_DF_CAP + 1, &g);
            if (g <= GLOBAL_DF_CAP) {
                pairs[2 * i] = (double)g;
                pairs[2 * i + 1] = 0;
            } else {
                pairs[2 * i] = idf[i];
                pairs[2 * i + 1] = (double)(nrows > 0 ? nrows : 1);
            }
            p = e < end ? e + 4 : end;
        }
        pairs[2 * terms] = 0; /* the namespace token: weight 0 */
        pairs[2 * terms + 1] = -1;
        memcpy(idf, pairs, (2 * terms + 2) * sizeof *idf);
    }
    if (st != AM_OK) {
        am_buf_free(&fq);
        return st;
    }
    int own_rank = lo.len > 0 && have_dfs;
    {
        am_buf w = AM_BUF_INIT;
        w.alloc = s->alloc;
        st = am_buf_appendf(&w, "text : (%s)%s", fq.ptr, scope);
        if (st == AM_OK)
            st = am_buf_reserve(&w, 0);
        am_buf_free(&fq);
        fq = w;
        if (st != AM_OK) {
            am_buf_free(&fq);
            return am__fail(&s->err, AM_ENOMEM, "search: out of memory");
        }
    }
    /* FTS5 ranks and cuts at `lim`; rows that are dead (or, after a
     * token collision, outside the scope) are rare, so a small margin over
     * `want` is enough (the loop deepens otherwise). */
    int64_t lim = (int64_t)want + 8;
    for (;;) {
        sqlite3_stmt *f = am__store_stmt(s, own_rank ? Q_FTS_SCOPED
                                                       : Q_FTS_TOP);
        size_t seen = 0;
        int rc = SQLITE_DONE;
        if (f == NULL) {
            am_buf_free(&fq);
            return s->err.code;
        }
        out->count = 0;
        sqlite3_bind_int64(f, 1, now);
        sqlite3_bind_text(f, 2, fq.ptr, (int)fq.len, SQLITE_STATIC);
        sqlite3_bind_int64(f, 3, lim);
        if (own_rank)
            sqlite3_bind_blob(f, 4, idf, (int)((2 * terms + 2) * sizeof *idf),
                              SQLITE_STATIC);
        while (out->count < want && (rc = sqlite3_step(f)) == SQLITE_ROW) {
            int64_t id = sqlite3_column_int64(f, 0);
            double sc = sqlite3_column_double(f, 1);
            const char *ns = sqlite3_column_blob(f, 2);
            size_t nslen = (size_t)sqlite3_column_bytes(f, 2);
            seen++;
            /* Under the scope: its encoding is a byte prefix. */
            if (ns == NULL || !sqlite3_column_int(f, 3) || nslen < lo.len ||
                memcmp(ns, lo.ptr, lo.len) != 0)
                continue;
            int ok = filter != NULL ? qualifies(s, id, filter, now) : 1;
            if (ok < 0) {
                st = am__fail(&s->err, AM_ENOMEM, "search: out of memory");
                break;
            }
            if (!ok)
                continue;
            st = cands_push(s, out, id);
            if (st != AM_OK)
                break;
            out->v[out->count - 1].fts = sc;
            out->v[out->count - 1].rank_fts = (int)out->count;
        }
        if (st == AM_OK && out->count < want && rc != SQLITE_DONE)
            st = am__store_dberr(s, rc, "search");
        sqlite3_reset(f);
        /* Too few survived the cut and FTS5 had more: look deeper. */
        if (st != AM_OK || out->count >= want || lim < 0 ||
            (rc == SQLITE_DONE && seen < (size_t)lim))
            break;
        lim = lim > (1 << 20) ? -1 : lim * 8;
    }
    am_buf_free(&fq);
    return st;
}

/* Top `want` qualifying vectors by cosine with the unit vector `qv`. */
/* A min-heap of (score, index) holding the best `cap` scores seen. */
typedef struct hent {
    float score;
    uint32_t idx;
} hent;

static void heap_sift_down(hent *h, size_t n, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < n && h[l].score < h[m].score)
            m = l;
        if (r < n && h[r].score < h[m].score)
            m = r;
        if (m == i)
            return;
        hent t = h[i];
        h[i] = h[m];
        h[m] = t;
        i = m;
    }
}

static int hent_desc(const void *a, const void *b)
{
    float x = ((const hent *)a)->score, y = ((const hent *)b)->score;
    return x < y ? 1 : x > y ? -1 : 0;
}

/* Top `want` qualifying vectors by cosine with the unit vector `qv`. The
 * scan keeps only the best K in a heap (no sort of everything); K starts
 * a little above `want` and grows when filters reject too many. */
static am_status vec_cands(am_store *s, const float *qv, am_str lo,
                           json_t *filter, size_t want, int64_t now,
                           cands *out)
{
    am__vcache *c = &s->vc;
    am_status st = AM_OK;
    float *sc = NULL;
    hent *h = NULL;
    size_t eligible = 0, k = want + 16, hcap = 0;

    sc = am__alloc_array(s->alloc, c->count > 0 ? c->count : 1,
                         sizeof(float));
    if (sc == NULL)
        return am__fail(&s->err, AM_ENOMEM, "search: out of memory");
    for (size_t i = 0; i < c->count; i++) {
        if ((c->ns_len[i] < lo.len ||
             memcmp(c->ns_pool.ptr + c->ns_off[i], lo.ptr, lo.len) != 0) ||
            (c->expires[i] != 0 && c->expires[i] <= now)) {
            sc[i] = -INFINITY;
            continue;
        }
        sc[i] = am__vec_dot(qv, c->vecs + i * c->dim, c->dim);
        eligible++;
    }
    for (;;) {
        size_t n = 0;
        if (k > eligible)
            k = eligible;
        if (k > hcap) {
            am__free(s->alloc, h, hcap * sizeof *h);
            h = am__alloc_array(s->alloc, k, sizeof *h);
            hcap = h != NULL ? k : 0;
            if (h == NULL) {
                st = am__fail(&s->err, AM_ENOMEM, "search: out of memory");
                break;
            }
        }
        for (size_t i = 0; i < c->count && k > 0; i++) {
            if (sc[i] == -INFINITY)
                continue;
            if (n < k) {
                h[n].score = sc[i];
                h[n].idx = (uint32_t)i;
                if (++n == k)
                    for (size_t j = k / 2 + 1; j-- > 0;)
                        heap_sift_down(h, k, j);
            } else if (sc[i] > h[0].score) {
                h[0].score = sc[i];
                h[0].idx = (uint32_t)i;
                heap_sift_down(h, k, 0);
            }
        }
        if (n > 1)
            qsort(h, n, sizeof *h, hent_desc);
        out->count = 0;
        for (size_t i = 0; i < n && out->count < want; i++) {
            int64_t id = c->ids[h[i].idx];
            int ok = qualifies(s, id, filter, now);
            if (ok < 0) {
                st = am__fail(&s->err, AM_ENOMEM, "search: out of memory");
                break;
            }
            if (!ok)
                continue;
            st = cands_push(s, out, id);
            if (st != AM_OK)
                break;
            out->v[out->count - 1].vec = h[i].score;
            out->v[out->count - 1].rank_vec = (int)out->count;
        }
        if (st != AM_OK || out->count >= want || k >= eligible)
            break;
        k *= 4; /* filters rejected too many: look deeper */
    }
    am__free(s->alloc, sc, (c->count > 0 ? c->count : 1) * sizeof(float));
    am__free(s->alloc, h, hcap * sizeof *h);
    return st;
}

/* ---- Pseudo-relevance feedback ---- */

typedef struct fbterm {
    char w[32];
    size_t n;
    double score;
} fbterm;

typedef struct fbctx {
    fbterm *t;
    size_t count, cap;
    const am_str *query;
} fbctx;

static int in_query(const am_str *q, const char *w, size_t n)
{
    /* Is `w` one of the query's words (case-folded)? */
    size_t i = 0;
    while (i < q->len) {
        while (i < q->len && !is_word_byte((unsigned char)q->ptr[i]))
            i++;
        size_t st = i;
        while (i < q->len && is_word_byte((unsigned char)q->ptr[i]))
            i++;
        if (i - st == n) {
            size_t k = 0;
            while (k < n) {
                unsigned char c = (unsigned char)q->ptr[st + k];
                if ((char)(c >= 'A' && c <= 'Z' ? c + 32 : c) != w[k])
                    break;
                k++;
            }
            if (k == n)
                return 1;
        }
    }
    return 0;
}

static void fb_word(const char *w, size_t n, void *ctx)
{
    fbctx *c = ctx;
    if (n < 3 || n >= sizeof c->t[0].w || is_stopword(w, n) ||
        in_query(c->query, w, n))
        return;
    for (size_t i = 0; i < c->count; i++)
        if (strlen(c->t[i].w) == n && memcmp(c->t[i].w, w, n) == 0) {
            c->t[i].n++;
            return;
        }
    if (c->count == c->cap)
        return; /* enough distinct candidates */
    memcpy(c->t[c->count].w, w, n);
    c->t[c->count].w[n] = '\0';
    c->t[c->count].n = 1;
    c->count++;
}

static int fb_by_n(const void *a, const void *b)
{
    const fbterm *x = a, *y = b;
    return x->n < y->n ? 1 : x->n > y->n ? -1 : 0;
}

static int fb_by_score(const void *a, const void *b)
{
    const fbterm *x = a, *y = b;
    return x->score < y->score ? 1 : x->score > y->score ? -1 : 0;
}

/* Document frequency of `w`, counted up to `cap`. */
static double doc_freq(am_store *s, const char *w, int64_t cap)
{
    sqlite3_stmt *q = NULL;
    char m[48];
    double df = (double)cap;
    snprintf(m, sizeof m, "text : \"%.31s\"", w);
    if (sqlite3_prepare_v2(SQ(s)->db, "SELECT count(*) FROM (SELECT 1 FROM"
                           " items_fts WHERE items_fts MATCH ?1 LIMIT ?2)",
                           -1, &q, NULL) == SQLITE_OK) {
        sqlite3_bind_text(q, 1, m, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(q, 2, cap);
        if (sqlite3_step(q) == SQLITE_ROW)
            df = (double)sqlite3_column_int64(q, 0);
    }
    sqlite3_finalize(q);
    return df;
}

/* Expand `query` with the `nterms` words that best characterize the top
 * `ndocs` text results (term count in them times log inverse document
 * frequency), appended to `out`. */
static am_status prf_expand(am_store *s, am_str query, const cands *tc,
                            size_t ndocs, size_t nterms, int64_t now,
                            am_buf *out)
{
    fbterm terms[256];
    fbctx c = { terms, 0, 256, &query };
    am_status st = am_buf_append(out, query.ptr, query.len);
    if (st != AM_OK)
        return st;
    for (size_t i = 0; i < tc->count && i < ndocs; i++) {
        sqlite3_stmt *r = am__store_stmt(s, Q_ITEM_ROW);
        if (r == NULL)
            return s->err.code;
        sqlite3_bind_int64(r, 1, now);
        sqlite3_bind_int64(r, 2, tc->v[i].id);
        if (sqlite3_step(r) == SQLITE_ROW)
            am__words((const char *)sqlite3_column_text(r, 4),
                      (size_t)sqlite3_column_bytes(r, 4), fb_word, &c);
        sqlite3_reset(r);
    }
    if (c.count == 0)
        return AM_OK;
    /* Score the most frequent candidates by tf * idf. */
    qsort(terms, c.count, sizeof *terms, fb_by_n);
    size_t nc = c.count < 24 ? c.count : 24;
    sqlite3_stmt *mx = NULL;
    double total = 1000;
    if (sqlite3_prepare_v2(SQ(s)->db, "SELECT max(id) FROM items", -1, &mx,
                           NULL) == SQLITE_OK &&
        sqlite3_step(mx) == SQLITE_ROW)
        total = (double)sqlite3_column_int64(mx, 0) + 1;
    sqlite3_finalize(mx);
    int64_t cap = (int64_t)(total / 10 > 50 ? total / 10 : 50);
    for (size_t i = 0; i < nc; i++) {
        double df = doc_freq(s, terms[i].w, cap);
        terms[i].score = (double)terms[i].n * log((total + 1) / (df + 1));
    }
    qsort(terms, nc, sizeof *terms, fb_by_score);
    for (size_t i = 0; i < nc && i < nterms && st == AM_OK; i++)
        if (terms[i].score > 0)
            st = am_buf_appendf(out, " %s", terms[i].w);
    return st;
}

/* ---- Search ---- */

am_status am__sq_search(am_store *s, const am_search *q, const float *qemb,
                        am__rbuild *b)
{
    am_status st;
    am_buf lo = AM_BUF_INIT, hi = AM_BUF_INIT;
    json_t *filter = NULL;
    float *qv = NULL;
    size_t qdim = 0;
    cands tc = { NULL, 0, 0 }, vc = { NULL, 0, 0 }, all = { NULL, 0, 0 };
    int64_t now = am_clock_now(s->clock);
    size_t limit = q->limit > 0 ? q->limit : 10;
    size_t depth = limit * 4 < 100 ? 100 : limit * 4;
    int use_text = q->mode != AM_SEARCH_VECTOR;
    int use_vec = q->mode != AM_SEARCH_TEXT;

    lo.alloc = hi.alloc = s->alloc;
    st = am__ns_encode(q->ns, 1, &lo, &s->err);
    if (st != AM_OK)
        goto out;
    if (am__ns_upper((am_str){ lo.ptr, lo.len }, &hi) != AM_OK) {
        st = am__fail(&s->err, AM_ENOMEM, "search: out of memory");
        goto out;
    }
    if (q->filter.len > 0) {
        st = am__json_parse(q->filter, "search filter", &filter, &s->err);
        if (st != AM_OK)
            goto out;
        if (!json_is_object(filter)) {
            st = am__fail(&s->err, AM_EFORMAT,
                          "search filter: must be a JSON object");
            goto out;
        }
    }

    if (use_vec) {
        st = vcache_load(s);
        if (st != AM_OK)
            goto out;
        if (q->vec != NULL) {
            qdim = q->dim;
            if (s->vc.count > 0 && qdim != s->vc.dim) {
                st = am__fail(&s->err, AM_EINVAL,
                              "search: query vector has %zu dimensions, "
                              "the index %zu", qdim, s->vc.dim);
                goto out;
            }
            qv = am__alloc_array(s->alloc, qdim > 0 ? qdim : 1,
                                 sizeof(float));
            if (qv == NULL) {
                st = am__fail(&s->err, AM_ENOMEM, "search: out of memory");
                goto out;
            }
            memcpy(qv, q->vec, qdim * sizeof(float));
        } else if (s->embedder != NULL && q->query.len > 0) {
            qdim = s->embedder->dim;
            if (s->vc.count > 0 && qdim != s->vc.dim) {
                st = am__fail(&s->err, AM_EINVAL,
                              "search: embedder '%s' makes %zu dimensions, "
                              "the index holds %zu", s->embedder->id, qdim,
                              s->vc.dim);
                goto out;
            }
            if (s->vc.count > 0) {
                /* Same dimension is not enough: the vectors must come
                 * from the same embedder as the query's. */
                char want[160];
                snprintf(want, sizeof want, "%s/%zu", s->embedder->id, qdim);
                sqlite3_stmt *m = am__store_stmt(s, Q_META_GET);
                if (m == NULL) {
                    st = s->err.code;
                    goto out;
                }
                sqlite3_bind_text(m, 1, "vec_model", -1, SQLITE_STATIC);
                if (sqlite3_step(m) == SQLITE_ROW &&
                    strcmp((const char *)sqlite3_column_text(m, 0), want) !=
                        0)
                    st = am__fail(&s->err, AM_EINVAL,
                                  "search: the index holds vectors of '%s', "
                                  "the query would be embedded by '%s'",
                                  (const char *)sqlite3_column_text(m, 0),
                                  want);
                sqlite3_reset(m);
                if (st != AM_OK)
                    goto out;
            }
            qv = am__alloc_array(s->alloc, qdim, sizeof(float));
            if (qv == NULL) {
                st = am__fail(&s->err, AM_ENOMEM, "search: out of memory");
                goto out;
            }
            /* Embedded before the lock was taken (am_store_search). */
            memcpy(qv, qemb, qdim * sizeof(float));
        } else if (q->mode == AM_SEARCH_VECTOR) {
            st = am__fail(&s->err, AM_EINVAL,
                          "search: vector mode needs a query vector or an "
                          "embedder");
            goto out;
        }
        if (qv != NULL)
            am__vec_normalize(qv, qdim);
        else
            use_vec = 0;
    }

    if (use_text) {
        st = text_cands(s, q->query, (am_str){ lo.ptr, lo.len }, filter,
                        use_vec ? depth : limit, now, &tc);
        if (st != AM_OK)
            goto out;
        if (q->prf_docs > 0 && tc.count > 0) {
            am_buf xq = AM_BUF_INIT;
            xq.alloc = s->alloc;
            st = prf_expand(s, q->query, &tc, (size_t)q->prf_docs,
                            q->prf_terms > 0 ? (size_t)q->prf_terms : 5,
                            now, &xq);
            if (st == AM_OK) {
                tc.count = 0;
                st = text_cands(s, am_buf_str(&xq), (am_str){ lo.ptr, lo.len },
                                filter,
                                use_vec ? depth : limit, now, &tc);
            }
            am_buf_free(&xq);
            if (st != AM_OK)
                goto out;
        }
    }
    if (use_vec && s->vc.count > 0) {
        st = vec_cands(s, qv, (am_str){ lo.ptr, lo.len }, filter,
                       use_text ? depth : limit, now, &vc);
        if (st != AM_OK)
            goto out;
    }

    /* Fuse: RRF over both lists (a single list keeps its own order). */
    double wt = q->w_text, wv = q->w_vec;
    if (wt == 0 && wv == 0) {
        /* Measured on LoCoMo dev (docs/BENCHMARKS.md): static word vectors
         * are a weaker signal than BM25, so they get a fifth of its vote;
         * equal weights cost 6 points of R@10. */
        wt = 1;
        wv = 0.2;
    }
    double k = q->rrf_k > 0 ? q->rrf_k : 60;
    for (size_t i = 0; i < tc.count; i++) {
        st = cands_push(s, &all, tc.v[i].id);
        if (st != AM_OK)
            goto out;
        all.v[all.count - 1] = tc.v[i];
    }
    for (size_t i = 0; i < vc.count; i++) {
        size_t j = 0;
        while (j < tc.count && all.v[j].id != vc.v[i].id)
            j++;
        if (j == tc.count) {
            st = cands_push(s, &all, vc.v[i].id);
            if (st != AM_OK)
                goto out;
            j = all.count - 1;
        }
        all.v[j].vec = vc.v[i].vec;
        all.v[j].rank_vec = vc.v[i].rank_vec;
    }
    int fused = tc.count > 0 && use_vec && vc.count > 0;
    for (size_t i = 0; i < all.count; i++) {
        cand *c = &all.v[i];
        if (!fused)
            c->score = c->rank_fts > 0 ? c->fts : c->vec;
        else
            c->score = (c->rank_fts > 0 ? wt / (k + c->rank_fts) : 0) +
                       (c->rank_vec > 0 ? wv / (k + c->rank_vec) : 0);
    }
    if (all.count > 0)
        qsort(all.v, all.count, sizeof(cand), by_score_desc);

    for (size_t i = 0; i < all.count && b->r->count < limit; i++) {
        sqlite3_stmt *r = am__store_stmt(s, Q_ITEM_ROW);
        if (r == NULL) {
            st = s->err.code;
            goto out;
        }
        sqlite3_bind_int64(r, 1, now);
        sqlite3_bind_int64(r, 2, all.v[i].id);
        int rc = sqlite3_step(r);
        if (rc == SQLITE_ROW) {
            am_item *it;
            st = am__rb_add_row(b, r, 0, &it);
            if (st != AM_OK) {
                sqlite3_reset(r);
                st = am__fail(&s->err, st, "search: out of memory");
                goto out;
            }
            it->score = all.v[i].score;
            it->fts_score = all.v[i].fts;
            it->vec_score = all.v[i].vec;
        }
        sqlite3_reset(r);
    }
out:
    am__free(s->alloc, tc.v, tc.cap * sizeof(cand));
    am__free(s->alloc, vc.v, vc.cap * sizeof(cand));
    am__free(s->alloc, all.v, all.cap * sizeof(cand));
    if (qv != NULL)
        am__free(s->alloc, qv, (qdim > 0 ? qdim : 1) * sizeof(float));
    json_decref(filter);
    am_buf_free(&lo);
    am_buf_free(&hi);
    return st;
}
