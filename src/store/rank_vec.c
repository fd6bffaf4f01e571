/* rank_vec.c -- the exact scan of the front end's vector cache (s->vc),
 * shared by every backend (see rank.h).
 *
 * A full float scan of a million 128-d vectors reads 512 MB per query
 * and is bound by memory bandwidth (26 ms of a 33 ms hybrid search at 1M
 * items, docs/BENCHMARKS.md). So the cache also keeps each vector as int8
 * codes with a scale and a bound of the error (vcache.c), and a scan has
 * two steps:
 *
 * 1. am__vec_scores: every eligible row's estimate from the codes and the
 *    query's int16 codes (integer products, which the compiler turns into
 *    SIMD multiply-adds): a quarter of the bytes.
 * 2. am__vec_top: with b(i) the row's bound of |cosine - estimate|, the
 *    k-th largest lower bound (estimate - b) is a floor T that at least k
 *    rows reach with their true cosine, so the k best all have cosine >=
 *    T, and a row whose upper bound (estimate + b) is below T cannot be
 *    among them. Only the rows above the floor are scored in float (a few
 *    hundred of a million for random vectors), then ranked as before.
 *
 * The ranking is therefore that of a full float scan (the bound covers the
 * rounding of both), which tests/test_store_search.c checks against a
 * brute-force scan, near-ties included.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "embed/embed_int.h"
#include "rank.h"

/* The query as int16 codes, the largest component at the most that keeps
 * a row's sum of products within int32 (127 * qmax * dim); returns the
 * scale (0: no codes for this dimension, every row is scored in float)
 * and the norm of what the codes miss into *miss. */
static double query_codes(const float *qv, size_t dim, int16_t *qc,
                          double *miss)
{
    double m = 0, qmax = (double)INT32_MAX / (127.0 * (double)dim), e2 = 0;
    if (qmax > 32767)
        qmax = 32767;
    for (size_t d = 0; d < dim; d++)
        if (!(fabs((double)qv[d]) <= m))
            m = fabs((double)qv[d]);
    *miss = 0;
    if (!(m > 0) || !isfinite(m) || qmax < 127)
        return 0;
    double scale = m / floor(qmax);
    for (size_t d = 0; d < dim; d++) {
        double k = nearbyint((double)qv[d] / scale);
        qc[d] = (int16_t)k;
        double e = (double)qv[d] - scale * k;
        e2 += e * e;
    }
    *miss = sqrt(e2) * (1 + 1e-9);
    return scale;
}

static int32_t dot_codes(const int16_t *q, const int8_t *c, size_t dim)
{
    int32_t sum = 0;
    for (size_t d = 0; d < dim; d++)
        sum += (int32_t)q[d] * (int32_t)c[d];
    return sum;
}

/* Row i's bound of |cosine - estimate|: its codes' error against the
 * unit query, the query codes' against the unit row, their product, and
 * the float rounding of both scores. */
static float row_bound(const am__vscan *v, const am__vq *q)
{
    return (float)((double)q->err + v->qerr * (1 + (double)q->err) +
                   v->slack);
}

static float exact_score(const am_store *s, am__vscan *v, size_t i)
{
    const am__vcache *c = &s->vc;
    if (!v->exact[i]) {
        v->sc[i] = am__vec_dot(v->qv, c->vecs + i * c->dim, c->dim);
        v->exact[i] = 1;
    }
    return v->sc[i];
}

/* Set known->v[i].vec to the cosine of each candidate that has an
 * eligible vector: one binary search in the cache's ids per candidate. */
static void fill_known(am_store *s, am__vscan *v, am__cands *known)
{
    for (size_t i = 0; i < known->count; i++) {
        size_t at = am__vcache_find(s, known->v[i].id);
        known->v[i].has_vec = 0;
        if (at < v->count && v->sc[at] != -INFINITY) {
            known->v[i].vec = exact_score(s, v, at);
            known->v[i].has_vec = 1;
        }
    }
}

am_status am__vec_scan_begin(am_store *s, const float *qv, am__vscan *v)
{
    const am__vcache *c = &s->vc;
    size_t n = c->count > 0 ? c->count : 1, dim = c->dim;

    memset(v, 0, sizeof *v);
    v->qv = qv;
    v->count = c->count; /* before allocating: the free's size */
    v->dim = dim;
    v->sc = am__alloc_array(s->alloc, n, sizeof *v->sc);
    v->exact = am__calloc(s->alloc, n, sizeof *v->exact);
    v->qc = am__alloc_array(s->alloc, dim > 0 ? dim : 1, sizeof *v->qc);
    if (v->sc == NULL || v->exact == NULL || v->qc == NULL) {
        am__vec_scores_free(s, v);
        return am__fail(&AM__ERR(s), AM_ENOMEM, "search: out of memory");
    }
    if (dim > 0)
        v->qscale = query_codes(qv, dim, v->qc, &v->qerr);
    /* The float dot product rounds by at most dim units in the last
     * place of 1 (unit vectors), the estimate by less than one. */
    v->slack = 4e-7 + (double)dim * 1.2e-7;
    return AM_OK;
}

size_t am__vec_scan(const am_store *s, am__vscan *v, am_str lo, int64_t now)
{
    const am__vcache *c = &s->vc;
    size_t dim = v->dim, eligible = 0;
    for (size_t i = 0; i < v->count; i++) {
        /* (A search of the root has an empty prefix: no call per row.) */
        if ((lo.len > 0 &&
             (c->ns_len[i] < lo.len ||
              memcmp(c->ns_pool.ptr + c->ns_off[i], lo.ptr, lo.len) != 0)) ||
            (c->expires[i] != 0 && c->expires[i] <= now)) {
            v->sc[i] = -INFINITY;
            continue;
        }
        eligible++;
        if (v->qscale > 0) {
            v->sc[i] = (float)((double)c->vq[i].scale * v->qscale *
                               dot_codes(v->qc, c->codes + i * dim, dim));
        } else {
            v->sc[i] = am__vec_dot(v->qv, c->vecs + i * dim, dim);
            v->exact[i] = 1;
        }
    }
    return eligible;
}

void am__vec_scan_known(am_store *s, am__vscan *v, am__cands *known)
{
    if (known != NULL)
        fill_known(s, v, known);
}

am_status am__vec_scores(am_store *s, const float *qv, am_str lo,
                         int64_t now, am__cands *known, am__vscan *v,
                         size_t *eligible)
{
    *eligible = 0;
    am_status st = am__vec_scan_begin(s, qv, v);
    if (st != AM_OK)
        return st;
    *eligible = am__vec_scan(s, v, lo, now);
    am__vec_scan_known(s, v, known);
    return AM_OK;
}

void am__vec_scores_free(am_store *s, am__vscan *v)
{
    size_t n = v->count > 0 ? v->count : 1;
    /* Allocated for max(s->vc.count, 1) rows, which v->count records. */
    am__free(s->alloc, v->sc, n * sizeof *v->sc);
    am__free(s->alloc, v->exact, n * sizeof *v->exact);
    am__free(s->alloc, v->qc, (v->dim > 0 ? v->dim : 1) * sizeof *v->qc);
    v->sc = NULL;
    v->exact = NULL;
    v->qc = NULL;
}

/* ---- The k best ---- */

static void heap_sift_down(am__vhit *h, size_t n, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < n && h[l].score < h[m].score)
            m = l;
        if (r < n && h[r].score < h[m].score)
            m = r;
        if (m == i)
            return;
        am__vhit t = h[i];
        h[i] = h[m];
        h[m] = t;
        i = m;
    }
}

/* A min-heap of k floats: the least of the k largest seen at [0]. */
static void float_sift_down(float *h, size_t n, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < n && h[l] < h[m])
            m = l;
        if (r < n && h[r] < h[m])
            m = r;
        if (m == i)
            return;
        float t = h[i];
        h[i] = h[m];
        h[m] = t;
        i = m;
    }
}

static int vhit_desc(const void *a, const void *b)
{
    float x = ((const am__vhit *)a)->score, y = ((const am__vhit *)b)->score;
    return x < y ? 1 : x > y ? -1 : 0;
}

/* The k-th largest lower bound of the eligible rows' cosines, or
 * -INFINITY when fewer than k rows are eligible. `lh` has room for k. */
static float floor_of_k(const am_store *s, const am__vscan *v, size_t k,
                        float *lh)
{
    const am__vcache *c = &s->vc;
    size_t ln = 0;
    for (size_t i = 0; i < v->count; i++) {
        float sc = v->sc[i];
        if (sc == -INFINITY)
            continue;
        float low = v->exact[i] ? sc : sc - row_bound(v, &c->vq[i]);
        if (ln < k) {
            lh[ln] = low;
            if (++ln == k)
                for (size_t j = k / 2 + 1; j-- > 0;)
                    float_sift_down(lh, k, j);
        } else if (low > lh[0]) {
            lh[0] = low;
            float_sift_down(lh, k, 0);
        }
    }
    return ln == k ? lh[0] : -INFINITY;
}

am_status am__vec_top(am_store *s, am__vscan *v, size_t k, am__vhit **h,
                      size_t *hcap, size_t *n)
{
    const am__vcache *c = &s->vc;
    *n = 0;
    if (k == 0)
        return AM_OK;
    if (k > *hcap) {
        am__free(s->alloc, *h, *hcap * sizeof **h);
        *h = am__alloc_array(s->alloc, k, sizeof **h);
        *hcap = *h != NULL ? k : 0;
        if (*h == NULL)
            return am__fail(&AM__ERR(s), AM_ENOMEM, "search: out of memory");
    }
    float *lh = am__alloc_array(s->alloc, k, sizeof *lh);
    if (lh == NULL)
        return am__fail(&AM__ERR(s), AM_ENOMEM, "search: out of memory");
    float floor = floor_of_k(s, v, k, lh);
    am__free(s->alloc, lh, k * sizeof *lh);
    am__vhit *hp = *h;
    for (size_t i = 0; i < v->count; i++) {
        float sc = v->sc[i];
        if (sc == -INFINITY)
            continue;
        if (!v->exact[i]) {
            if (sc + row_bound(v, &c->vq[i]) < floor)
                continue; /* cannot reach the k best */
            sc = exact_score(s, v, i);
        }
        if (sc < floor)
            continue;
        if (*n < k) {
            hp[*n].score = sc;
            hp[*n].idx = (uint32_t)i;
            if (++*n == k)
                for (size_t j = k / 2 + 1; j-- > 0;)
                    heap_sift_down(hp, k, j);
        } else if (sc > hp[0].score) {
            hp[0].score = sc;
            hp[0].idx = (uint32_t)i;
            heap_sift_down(hp, k, 0);
        }
    }
    if (*n > 1)
        qsort(hp, *n, sizeof *hp, vhit_desc);
    return AM_OK;
}
