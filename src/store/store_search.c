/* store_search.c -- the plan of one search, the same on every backend.
 *
 * A search is text candidates (BM25, optionally twice with the query
 * expanded by pseudo-relevance feedback), vector candidates (an exact
 * scan of the front end's vector cache), their fusion onto one score,
 * the entity boost and the rows of the best. Which of these run, how deep
 * each looks and in what order is decided here once; a backend only
 * answers the questions that need its rows (am__search_ops in rank.h):
 * which items match these words, which of these ids are live and pass
 * the filter, what do these items hold.
 *
 * Depth: with one signal alone the plan asks for `limit` candidates; when
 * two are fused, or the boost may lift one from below the limit, it asks
 * each for depth = max(100, 4 * limit), so that an item strong on one
 * signal and weak on the other still gets both scores.
 */
#include <pthread.h>
#include <string.h>

#include "rank.h"

/* The default of am_search.prf_terms. */
#define PRF_TERMS 5

/* The default of am_search.limit. */
#define LIMIT 10

/* ---- Text ---- */

/* `q->query` expanded with the words that best characterize the first
 * `q->prf_docs` text candidates `tc` (prf.c), into `out`. */
static am_status prf_query(am_store *s, const am__search_ops *ops,
                           void *ctx, const am_search *q,
                           const am__cands *tc, int64_t now, am_buf *out)
{
    am__prf prf;
    double total = 1000;
    size_t n = tc->count < (size_t)q->prf_docs ? tc->count
                                                : (size_t)q->prf_docs;
    am__prf_begin(&prf, q->query);
    am_status st = ops->prf_texts(s, ctx, tc, n, now, &prf, &total);
    if (st != AM_OK)
        return st;
    st = am__prf_expand(&prf, total,
                        q->prf_terms > 0 ? (size_t)q->prf_terms : PRF_TERMS,
                        ops->prf_df, s, out);
    return st == AM_OK ? AM_OK
                       : am__fail(&AM__ERR(s), st, "search: out of memory");
}

/* Text candidates for the query, then, with feedback asked for, again
 * for the query expanded from the first ones. */
static am_status text_search(am_store *s, const am__search_ops *ops,
                             void *ctx, const am_search *q, am_str lo,
                             am_str hi, size_t want, int64_t now,
                             am__cands *tc)
{
    am_status st = ops->text_cands(s, ctx, q->query, lo, hi, want, now, tc);
    if (st != AM_OK || q->prf_docs <= 0 || tc->count == 0)
        return st;
    am_buf xq = AM_BUF_INIT;
    xq.alloc = s->alloc;
    st = prf_query(s, ops, ctx, q, tc, now, &xq);
    if (st == AM_OK) {
        tc->count = 0;
        st = ops->text_cands(s, ctx, am_buf_str(&xq), lo, hi, want, now,
                             tc);
    }
    am_buf_free(&xq);
    return st;
}

/* ---- Vectors ---- */

/* Top `want` qualifying vectors by cosine with the unit vector `qv` (the
 * scan and the heap are rank_vec.c's). K starts a little above `want` and
 * grows when rows fail the backend's check (dead, or filtered out); each
 * round checks the round's K rows in one call. The cosine of each of
 * `known` (may be NULL) that has a vector goes into its `vec`. */
static am_status vec_cands(am_store *s, const am__search_ops *ops,
                           void *ctx, const float *qv, am_str lo,
                           size_t want, int64_t now, am__cands *known,
                           am__vscan *scanned, size_t scanned_eligible,
                           am__cands *out)
{
    am__vcache *c = &s->vc;
    am__vhit *h = NULL;
    am__vscan vs;
    int64_t *ids = NULL;
    int *ok = NULL;
    size_t eligible = 0, k = want + 16, hcap = 0, icap = 0;
    am_status st = AM_OK;
    if (scanned != NULL) { /* scanned beside the text part: ours now */
        vs = *scanned;
        memset(scanned, 0, sizeof *scanned);
        eligible = scanned_eligible;
        am__vec_scan_known(s, &vs, known);
    } else {
        st = am__vec_scores(s, qv, lo, now, known, &vs, &eligible);
    }
    if (st != AM_OK)
        return st;
    for (;;) {
        size_t n = 0;
        if (k > eligible)
            k = eligible;
        st = am__vec_top(s, &vs, k, &h, &hcap, &n);
        if (st == AM_OK && hcap > icap) {
            am__free(s->alloc, ids, icap * sizeof *ids);
            am__free(s->alloc, ok, icap * sizeof *ok);
            ids = am__alloc_array(s->alloc, hcap, sizeof *ids);
            ok = am__alloc_array(s->alloc, hcap, sizeof *ok);
            icap = hcap;
            if (ids == NULL || ok == NULL)
                st = am__fail(&AM__ERR(s), AM_ENOMEM,
                              "search: out of memory");
        }
        if (st != AM_OK)
            break;
        for (size_t i = 0; i < n; i++)
            ids[i] = c->ids[h[i].idx];
        if (n > 0)
            st = ops->qualify(s, ctx, ids, n, want, now, ok);
        if (st != AM_OK)
            break;
        out->count = 0;
        for (size_t i = 0; i < n && out->count < want; i++) {
            if (!ok[i])
                continue;
            st = am__cands_push(s, out, ids[i]);
            if (st != AM_OK)
                break;
            out->v[out->count - 1].vec = h[i].score;
            out->v[out->count - 1].has_vec = 1;
            out->v[out->count - 1].rank_vec = (int)out->count;
        }
        if (st != AM_OK || out->count >= want || k >= eligible)
            break;
        k *= 4; /* too many failed the check: look deeper */
    }
    am__vec_scores_free(s, &vs);
    am__free(s->alloc, h, hcap * sizeof *h);
    am__free(s->alloc, ids, icap * sizeof *ids);
    am__free(s->alloc, ok, icap * sizeof *ok);
    return st;
}

/* ---- The scan beside the text part ----
 *
 * In a hybrid search the text part is the backend's (on PostgreSQL: a
 * few round trips during which this process waits) and the vector scan
 * is this process's CPU (~12 ms at a million 128-d vectors, bound by
 * memory bandwidth): neither needs the other until fusion, so on a
 * backend that says so (scan_beside_text) and a cache big enough to pay
 * for a thread, the scan runs on a thread of its own while this thread
 * asks for the text candidates. Everything is allocated before the
 * thread starts (a caller's allocator need not be thread-safe) and
 * nothing writes s->vc until it is joined: the caller holds s->mu for
 * the whole search. Not on a pooled handle, where another call could
 * load the cache meanwhile (the share lock would have to be held across
 * the text part, which takes it itself). */

typedef struct scan_job {
    const am_store *s;
    am__vscan *vs;
    am_str lo;
    int64_t now;
    size_t eligible;
} scan_job;

static void *scan_thread(void *arg)
{
    scan_job *j = arg;
    j->eligible = am__vec_scan(j->s, j->vs, j->lo, j->now);
    return NULL;
}

/* ---- The plan ---- */

/* The boost's reader (rank.h's am__boost_read_fn) over the backend's. */
typedef struct boost_ctx {
    const am__search_ops *ops;
    void *ctx;
    int64_t now;
} boost_ctx;

static am_status boost_read(am_store *s, const am_search *q,
                            const am__cands *all, size_t span, int *named,
                            void *ctx)
{
    const boost_ctx *bc = ctx;
    return bc->ops->boost_read(s, bc->ctx, q, all, span, bc->now, named);
}

am_status am__search_run(am_store *s, const am_search *q, const float *qemb,
                         const am__search_ops *ops, void *ctx,
                         am__rbuild *b)
{
    am_status st;
    am_buf lo = AM_BUF_INIT, hi = AM_BUF_INIT;
    am_str lo_s, hi_s; /* the namespace range, as the backends take it */
    float *qv = NULL;
    size_t qdim = 0;
    am__cands tc = { NULL, 0, 0 }, vc = { NULL, 0, 0 }, all = { NULL, 0, 0 };
    int64_t now = am_clock_now(s->clock);
    size_t limit = q->limit > 0 ? q->limit : LIMIT;
    size_t depth = limit * 4 < 100 ? 100 : limit * 4;
    int use_text = q->mode != AM_SEARCH_VECTOR;
    int use_vec = q->mode != AM_SEARCH_TEXT;
    /* The boost and the names bonus can lift a candidate from below the
     * limit: look deeper, as when two signals are fused. */
    int boosting = q->boost_field.len > 0 || q->names_field.len > 0;
    boost_ctx bc = { ops, ctx, now };
    am__vscan pre; /* scanned beside the text part when have_pre */
    scan_job job = { NULL, NULL, { NULL, 0 }, 0, 0 };
    pthread_t scan_tid;
    int have_pre = 0, scanning = 0;

    lo.alloc = hi.alloc = s->alloc;
    st = am__store_ns_range(s, q->ns, &lo, &hi);
    if (st != AM_OK)
        goto out;
    lo_s = (am_str){ lo.ptr, lo.len };
    hi_s = (am_str){ hi.ptr, hi.len };
    /* The vector cache is the handle's: on a pooled handle, calls take
     * turns for it (am__store_share_lock) but not for the full-text part
     * between. */
    if (use_vec) {
        am__store_share_lock(s);
        st = ops->vcache_load(s);
        if (st == AM_OK)
            st = am__query_vector(s, q, qemb, &qv, &qdim);
        am__store_share_unlock(s);
        if (st != AM_OK)
            goto out;
        use_vec = qv != NULL;
    }
    /* The scan beside the text part (see scan_thread). */
    if (use_text && use_vec && ops->scan_beside_text && !s->pooled &&
        s->vc.count >= s->scan_beside_min && s->vc.dim == qdim) {
        st = am__vec_scan_begin(s, qv, &pre);
        if (st != AM_OK)
            goto out;
        job = (scan_job){ s, &pre, lo_s, now, 0 };
        if (pthread_create(&scan_tid, NULL, scan_thread, &job) == 0)
            scanning = 1;
        else
            job.eligible = am__vec_scan(s, &pre, lo_s, now);
        have_pre = 1;
    }
    if (use_text) {
        st = text_search(s, ops, ctx, q, lo_s, hi_s,
                         use_vec || boosting ? depth : limit, now, &tc);
        if (scanning) {
            pthread_join(scan_tid, NULL);
            scanning = 0;
        }
        if (st != AM_OK)
            goto out;
    }
    /* An empty cache has no vector candidates (and scores none). */
    am__store_share_lock(s);
    use_vec = use_vec && s->vc.count > 0;
    if (use_vec && s->vc.dim != qdim)
        /* Only a pool's other call can have changed the cache since the
         * check above: a re-embed to another dimension. */
        st = am__fail(&AM__ERR(s), AM_EINVAL, "search: query vector has %zu "
                      "dimensions, the index %zu (re-embedded during the "
                      "search)", qdim, s->vc.dim);
    else if (use_vec)
        st = vec_cands(s, ops, ctx, qv, lo_s,
                       use_text || boosting ? depth : limit, now,
                       use_text ? &tc : NULL, have_pre ? &pre : NULL,
                       job.eligible, &vc);
    am__store_share_unlock(s);
    if (st != AM_OK)
        goto out;
    /* Both signals in use: every candidate is scored on both, even when
     * one of them found nothing (it then adds nothing to the score). */
    st = am__fuse(s, q, &tc, &vc, use_text && use_vec, &all);
    if (st == AM_OK)
        st = am__boost(s, q, limit, &all, boost_read, &bc);
    if (st == AM_OK)
        st = ops->emit(s, ctx, &all, limit, now, b);
out:
    if (have_pre)
        am__vec_scores_free(s, &pre); /* vec_cands took it, or not run */
    am__cands_free(s, &tc);
    am__cands_free(s, &vc);
    am__cands_free(s, &all);
    if (qv != NULL)
        am__free(s->alloc, qv, (qdim > 0 ? qdim : 1) * sizeof(float));
    am_buf_free(&lo);
    am_buf_free(&hi);
    return st;
}
