/* store_sqlite_search.h -- what the SQLite backend's search files share
 * (not installed): the candidate lists that text and vector search fill
 * and fusion (store_sqlite_search.c) ranks.
 *
 *   store_sqlite_text.c    full-text candidates, term pruning, feedback
 *   store_sqlite_bm25.c    am_bm25, the ranking function of scoped search
 *   store_sqlite_vec.c     the in-memory vector cache, vector candidates
 *   store_sqlite_filter.c  the metadata filter (filter.h) as SQL
 *   store_sqlite_search.c  candidate checks and the search entry point
 */
#ifndef AM_STORE_SQLITE_SEARCH_H
#define AM_STORE_SQLITE_SEARCH_H

#include "filter.h"
#include "rank.h"
#include "store_sqlite.h"

/* The most query terms a scoped full-text search counts and ranks itself
 * (a longer query is ranked by FTS5's own bm25()). am_bm25 sees these
 * terms plus the namespace token as phrases, and takes two doubles
 * (n, N) per phrase. */
#define AM__FTS_MAX_TERMS 64
#define AM__FTS_MAX_PHRASES (AM__FTS_MAX_TERMS + 2)


/* The values a compiled filter binds, in placeholder order from `first`. */
typedef struct am__sqf {
    const am__fval **vals;
    size_t n, cap;
    int first;
} am__sqf;

/* Append the SQLite condition for `f` over the meta JSON column `col` to
 * `sql` (NUL-terminated after), with placeholders ?first, ?first+1, ...
 * whose values `out` lists (free with am__sqf_free). AM_ENOMEM. */
am_status am__sq_filter_sql(am_store *s, const am__filter *f,
                            const char *col, int first, am_buf *sql,
                            am__sqf *out);
/* Bind the values of `f` into `q` (strings borrowed from the filter). */
void am__sq_filter_bind(sqlite3_stmt *q, const am__sqf *f);
void am__sqf_free(am_store *s, am__sqf *f);

/* A search's filter, compiled once: " AND (<condition>)" over i.meta with
 * placeholders from AM__SQ_FILTER_P, and the statement that checks one
 * item (prepared on first use). `where` is empty without a filter. */
#define AM__SQ_FILTER_P 5
typedef struct am__sqflt {
    am_buf where;
    am__sqf binds;
    sqlite3_stmt *check;
} am__sqflt;

am_status am__sqflt_init(am_store *s, const am__filter *f, am__sqflt *out);
void am__sqflt_free(am_store *s, am__sqflt *f);

/* Is item `id` live at `now` and does its meta pass `f`? 1 yes, 0 no, -1
 * error (in AM__ERR(s)). */
int am__sq_qualifies(am_store *s, int64_t id, am__sqflt *f, int64_t now);

/* The best `want` live items under the encoded namespace prefix `lo`
 * matching the words of `query`, by BM25, into `out` (emptied first). */
am_status am__sq_text_cands(am_store *s, am_str query, am_str lo,
                            am__sqflt *filter, size_t want, int64_t now,
                            am__cands *out);

/* Pseudo-relevance feedback's questions (am__search_ops' prf_texts and
 * prf_df): the texts of the first `n` text candidates (and, when they
 * gave words, the table's size), and FTS5's count of a word's rows. */
am_status am__sq_prf_texts(am_store *s, void *ctx, const am__cands *tc,
                           size_t n, int64_t now, am__prf *p, double *total);
am_status am__sq_doc_freq(void *ctx, const char *w, int64_t cap, double *df);

/* Make the vector cache s->vc current (reload it when the database
 * changed). */
am_status am__sq_vcache_load(am_store *s);

#endif
