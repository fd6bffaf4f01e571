/* rank.h -- search ranking shared by every backend (not installed): the
 * candidate list that text and vector search fill, the exact scan of the
 * front end's vector cache (s->vc, rank_vec.c), and the fusion onto the
 * one [0, 1] score scale of am_store_search. A backend finds text
 * candidates and decides which rows qualify (live, filter); everything
 * else is here, so every backend ranks the same way.
 */
#ifndef AM_STORE_RANK_H
#define AM_STORE_RANK_H

#include <stdint.h>

#include "store_int.h"

/* One candidate item of a search, from text, vectors or both. */
typedef struct am__cand {
    int64_t id;
    double fts, vec;        /* text relevance in [0, 1]; raw cosine */
    int rank_fts, rank_vec; /* 1-based, 0: absent */
    int has_vec;            /* `vec` is known (the item has a vector) */
    double score;
} am__cand;

typedef struct am__cands {
    am__cand *v;
    size_t count, cap;
} am__cands;

/* Append a zeroed candidate for item `id` (AM_ENOMEM in s's error). */
am_status am__cands_push(am_store *s, am__cands *c, int64_t id);
void am__cands_free(am_store *s, am__cands *c);

/* The unit query vector of `q` into *qv (*qdim floats, yours, freed with
 * max(*qdim, 1) floats; NULL when the search has none): the caller's
 * vector, or `qemb`, the query embedded by the store's embedder before the
 * lock was taken (am_store_search), checked against the index's dimension
 * and embedder (s->be->vec_model). Needs a current vector cache.
 * AM_EINVAL naming the mismatch, AM_ENOMEM. */
am_status am__query_vector(am_store *s, const am_search *q,
                           const float *qemb, float **qv, size_t *qdim);

/* One cache row and its cosine with the query. */
typedef struct am__vhit {
    float score;
    uint32_t idx; /* row of s->vc */
} am__vhit;

/* One scan of s->vc for one query. Rows are scored in two passes: the
 * first over the int8 codes (a quarter of the bytes of the floats, and
 * the scan is bound by memory bandwidth) gives each eligible row an
 * estimate and a bound of its error; am__vec_top then scores in float
 * only the rows whose bound reaches the k best (a few hundred of a
 * million), so the ranking is exactly that of a full float scan. */
typedef struct am__vscan {
    const float *qv;  /* the unit query vector (borrowed) */
    float *sc;        /* per row: the cosine if exact[i], else its
                       * estimate; -INFINITY: not eligible */
    uint8_t *exact;
    size_t count;     /* rows (s->vc.count when scanned) */
    double qerr;      /* what the query's int16 codes miss (a norm) */
    double slack;     /* float rounding of the estimate and the cosine */
} am__vscan;

/* Score the unit vector `qv` against every row of s->vc under the encoded
 * namespace prefix `lo` and live at `now` into `v` (free with
 * am__vec_scores_free, also after a failure); *eligible gets how many rows
 * were scored. The cosine of each of `known` (may be NULL) that has a
 * vector goes into its `vec` and `has_vec`, so hybrid search scores every
 * candidate on both signals. AM_ENOMEM. */
am_status am__vec_scores(am_store *s, const float *qv, am_str lo,
                         int64_t now, am__cands *known, am__vscan *v,
                         size_t *eligible);
void am__vec_scores_free(am_store *s, am__vscan *v);

/* The best `k` scored rows of `v` by cosine, best first, into *h (grown
 * as needed; *hcap its capacity, free with am__free(alloc, *h, *hcap *
 * sizeof **h)), *n their count. Scores in float the rows that may rank
 * (marking them exact in `v`), with heaps of K: no sort of everything. */
am_status am__vec_top(am_store *s, am__vscan *v, size_t k, am__vhit **h,
                      size_t *hcap, size_t *n);

/* The text candidates `tc`, then the vector candidates `vc` not among
 * them, into `all`, scored on the [0, 1] scale of am_item.score and sorted
 * best first (ties by id). With both signals in use (`fused`) the score
 * is their weighted mean (q's weights, default 1 and 0.2) with the cosine
 * rescaled from q's floor; else the one signal's score. */
am_status am__fuse(am_store *s, const am_search *q, const am__cands *tc,
                   const am__cands *vc, int fused, am__cands *all);

/* Entity boost (am_search.boost_field): 1 when the JSON object `meta`
 * holds at q->boost_field a string, or an array with a string, that
 * q->query contains as a whole word (ASCII case ignored); 0 when not or
 * when the field is off; -1 when jansson ran out of memory deciding. */
int am__boost_named(const am_search *q, const char *meta, size_t len);

/* A backend's reader for the boost: for each of the first `span`
 * candidates of `all`, set named[i] to am__boost_named's verdict on the
 * item's metadata (left 0 for an item no longer there). */
typedef am_status (*am__boost_read_fn)(am_store *s, const am_search *q,
                                       const am__cands *all, size_t span,
                                       int *named, void *ctx);

/* The entity boost (am_search.boost_field) on the sorted candidates
 * `all`: `read` reports which of the best candidates the query names --
 * only those whose raised score could still reach the limit-th best
 * score; the others cannot make the results and are not read. Those
 * named are raised by q's boost and `all` is sorted again. No-op with
 * the boost off. Errors: AM_ENOMEM, or `read`'s. */
am_status am__boost(am_store *s, const am_search *q, size_t limit,
                    am__cands *all, am__boost_read_fn read, void *ctx);

#endif
