/* rank.h -- search ranking shared by every backend (not installed): the
 * candidate list that text and vector search fill, the exact scan of the
 * front end's vector cache (s->vc, rank_vec.c), and the fusion onto the
 * one [0, 1] score scale of am_store_search. A backend finds text
 * candidates and decides which rows qualify (live, filter); everything
 * else is here, so every backend ranks the same way.
 */
#ifndef AM_STORE_RANK_H
#define AM_STORE_RANK_H

#include <stdbool.h>
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
    int16_t *qc;      /* the query's int16 codes (dim of them) */
    double qscale;    /* their scale; 0: rows are scored in float */
    size_t dim;       /* s->vc.dim when begun */
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

/* am__vec_scores in three steps, so that the scan can run on another
 * thread while the caller's thread waits for the backend's text part
 * (store_search.c): am__vec_scan_begin allocates `v` (with s->alloc) and
 * codes the query (AM_ENOMEM; free with am__vec_scores_free, also after
 * a failure); am__vec_scan scores every row and returns how many were
 * eligible: it allocates nothing and writes only `v`, so it may run on
 * any thread while no one writes s->vc; am__vec_scan_known scores the
 * candidates `known` (may be NULL) as am__vec_scores does. */
am_status am__vec_scan_begin(am_store *s, const float *qv, am__vscan *v);
size_t am__vec_scan(const am_store *s, am__vscan *v, am_str lo, int64_t now);
void am__vec_scan_known(am_store *s, am__vscan *v, am__cands *known);

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

/* Entity boost and names bonus (am_search.boost_field, .names_field):
 * the bits of the item's verdict, from its JSON object `meta`:
 * AM__NAMED_BOOST when the object holds at q->boost_field a string, or an
 * array with a string, that q->query contains as a whole word (ASCII case
 * ignored); AM__NAMED_OTHER when it holds at q->names_field a string the
 * query does not contain so. 0 when neither or both fields are off; -1
 * when jansson ran out of memory deciding. */
#define AM__NAMED_BOOST 1
#define AM__NAMED_OTHER 2
int am__boost_named(const am_search *q, const char *meta, size_t len);

/* A backend's reader for the boost: for each of the first `span`
 * candidates of `all`, set named[i] to am__boost_named's verdict on the
 * item's metadata (left 0 for an item no longer there). */
typedef am_status (*am__boost_read_fn)(am_store *s, const am_search *q,
                                       const am__cands *all, size_t span,
                                       int *named, void *ctx);

/* The entity boost and the names bonus (am_search.boost_field,
 * .names_field) on the sorted candidates `all`: `read` reports the
 * verdicts of the best candidates -- only those whose raised score could
 * still reach the limit-th best score; the others cannot make the
 * results and are not read. Those named are raised by q's boost, then
 * those naming something else by its names bonus, and `all` is sorted
 * again. No-op with both off. Errors: AM_ENOMEM, or `read`'s. */
am_status am__boost(am_store *s, const am_search *q, size_t limit,
                    am__cands *all, am__boost_read_fn read, void *ctx);

/* ---- The search plan (store_search.c) ----
 *
 * What a backend does for one search; everything else -- which signals
 * run, how deep each looks, pseudo-relevance feedback, the vector scan
 * and its deepening, fusion and the boost -- is am__search_run's, so the
 * backends cannot drift apart. `ctx` is the backend's state for the one
 * search (its compiled filter); errors go to AM__ERR(s). */
typedef struct am__search_ops {
    /* Make the vector cache s->vc current. */
    am_status (*vcache_load)(am_store *s);
    /* The best `want` live items under the encoded namespace range
     * [lo, hi) that pass the filter and match the words of `query`, by
     * BM25 on [0, 1], into `out` (emptied first; rank_fts set). */
    am_status (*text_cands)(am_store *s, void *ctx, am_str query, am_str lo,
                            am_str hi, size_t want, int64_t now,
                            am__cands *out);
    /* Feed the texts of the first `n` candidates of `tc` to `prf`
     * (am__prf_add, in their order) and set *total to the store's item
     * count or an upper bound of it (left alone: 1000). */
    am_status (*prf_texts)(am_store *s, void *ctx, const am__cands *tc,
                           size_t n, int64_t now, am__prf *prf,
                           double *total);
    /* Documents holding a word, for the feedback (ctx: the store). */
    am__prf_df prf_df;
    /* ok[i] = 1 when item ids[i] is live at `now` and passes the filter,
     * else 0. It may stop once `want` have passed (the rest then stay 0:
     * the plan takes the first `want` that pass, in order). */
    am_status (*qualify)(am_store *s, void *ctx, const int64_t *ids,
                         size_t n, size_t want, int64_t now, int *ok);
    /* The boost's reader (am__boost_read_fn, with the search's time). */
    am_status (*boost_read)(am_store *s, void *ctx, const am_search *q,
                            const am__cands *all, size_t span, int64_t now,
                            int *named);
    /* Append the rows of the first `limit` of the ranked candidates `all`
     * that are still live to `b`, in order, each with its scores. */
    am_status (*emit)(am_store *s, void *ctx, const am__cands *all,
                      size_t limit, int64_t now, am__rbuild *b);
    /* True when text_search (text_cands, prf_texts, prf_df) never
     * touches s->vc and spends its time waiting on a server: the plan
     * may then scan the cache on a thread of its own meanwhile. */
    bool scan_beside_text;
} am__search_ops;

/* The least cached rows for which am__search_run scans the cache beside
 * the text part (ops->scan_beside_text): below it the scan takes well
 * under a millisecond and a thread would cost more than it saves. Each
 * handle starts with it (am_store.scan_beside_min); tests lower theirs to
 * run that path on small stores. */
#define AM__SCAN_BESIDE_MIN 32768

/* One search (backend.h's `search`) run on `ops`: `qemb` as there,
 * results into `b`. The caller holds s->mu and has set up `ctx`. */
am_status am__search_run(am_store *s, const am_search *q, const float *qemb,
                         const am__search_ops *ops, void *ctx,
                         am__rbuild *b);

#endif
