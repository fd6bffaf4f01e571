/* store_sqlite_search.h -- what the SQLite backend's search files share
 * (not installed): the candidate lists that text and vector search fill
 * and fusion (store_sqlite_search.c) ranks.
 *
 *   store_sqlite_text.c    full-text candidates, term pruning, feedback
 *   store_sqlite_bm25.c    am_bm25, the ranking function of scoped search
 *   store_sqlite_vec.c     the in-memory vector cache, vector candidates
 *   store_sqlite_search.c  filters, fusion and the search entry point
 */
#ifndef AM_STORE_SQLITE_SEARCH_H
#define AM_STORE_SQLITE_SEARCH_H

#include <jansson.h>

#include "rank.h"
#include "store_sqlite.h"

/* The most query terms a scoped full-text search counts and ranks itself
 * (a longer query is ranked by FTS5's own bm25()). am_bm25 sees these
 * terms plus the namespace token as phrases, and takes two doubles
 * (n, N) per phrase. */
#define AM__FTS_MAX_TERMS 64
#define AM__FTS_MAX_PHRASES (AM__FTS_MAX_TERMS + 2)


/* Is item `id` live at `now` and does its meta match `filter` (NULL: any)?
 * 1 yes, 0 no, -1 jansson ran out of memory deciding. */
int am__sq_qualifies(am_store *s, int64_t id, json_t *filter, int64_t now);

/* The best `want` live items under the encoded namespace prefix `lo`
 * matching the words of `query`, by BM25, into `out` (emptied first). */
am_status am__sq_text_cands(am_store *s, am_str query, am_str lo,
                            json_t *filter, size_t want, int64_t now,
                            am__cands *out);

/* `query` followed by the `nterms` words that best characterize the first
 * `ndocs` text candidates `tc` (term count in them times log inverse
 * document frequency), appended to `out`. */
am_status am__sq_prf_expand(am_store *s, am_str query, const am__cands *tc,
                            size_t ndocs, size_t nterms, int64_t now,
                            am_buf *out);

/* Make the vector cache s->vc current (reload it when the database
 * changed). */
am_status am__sq_vcache_load(am_store *s);

/* The best `want` qualifying vectors by cosine with the unit vector `qv`
 * (dimension s->vc.dim) into `out`; the cosine of each of `known` (may
 * be NULL) that has a vector goes into its `vec` (and `has_vec`). */
am_status am__sq_vec_cands(am_store *s, const float *qv, am_str lo,
                           json_t *filter, size_t want, int64_t now,
                           am__cands *known, am__cands *out);

#endif
