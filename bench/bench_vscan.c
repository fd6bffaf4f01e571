/* bench_vscan.c -- the vector cache's scan at scale, without a database:
 * the part of a vector or hybrid search that grows with the store (26 ms
 * of a 33 ms hybrid search at a million items, docs/BENCHMARKS.md).
 *
 * Fills a store's cache (rank.h's am__vcache) with N random unit vectors
 * of BENCH_DIM (128) floats, then times, in CPU time, best and median of
 * Q queries: the scan as searches run it (am__vec_scores with 100 known
 * text candidates, then am__vec_top of k = 116, what a hybrid search of
 * limit 10 asks), and a plain float scan with a heap of k as the
 * reference. Every query's k best must be the reference's (the bench
 * exits 1 if not). vscan_search_ns is the same scan as a search of the
 * rows' namespace runs it (every row's namespace checked against the
 * prefix, and its expiry against a clock), with the same k best.
 *
 *   bench_vscan [ITEMS (1000000)] [QUERIES (30)]
 *
 * Prints `name items ns/op` lines; vscan_insert_max_batch is the CPU
 * time of the slowest batch of 1,000 rows put into the cache, the one
 * whose growth doubled it to hold N.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agentmem/store.h"
#include "bench_corpus.h"
#include "bench_cpu.h"
#include "embed/embed_int.h"
#include "store/rank.h"

#define K 116
#define KNOWN 100

static int by_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* The k best cosines by a full float scan, best first, into `best`. */
static void reference(const am__vcache *c, const float *q, float *best)
{
    size_t n = 0;
    for (size_t i = 0; i < c->count; i++) {
        float sc = am__vec_dot(q, c->vecs + i * c->dim, c->dim);
        if (n < K) {
            best[n++] = sc;
        } else {
            size_t m = 0;
            for (size_t j = 1; j < K; j++)
                if (best[j] < best[m])
                    m = j;
            if (sc > best[m])
                best[m] = sc;
        }
    }
    for (size_t i = 0; i < n; i++) /* best first */
        for (size_t j = i + 1; j < n; j++)
            if (best[j] > best[i]) {
                float t = best[i];
                best[i] = best[j];
                best[j] = t;
            }
}

int main(int argc, char **argv)
{
    size_t n = argc > 1 ? strtoul(argv[1], NULL, 10) : 1000000;
    int nq = argc > 2 ? atoi(argv[2]) : 30;
    am_store *s;
    am_error err = { AM_OK, "" };
    if (n < KNOWN || nq < 1) {
        fprintf(stderr, "usage: bench_vscan [ITEMS >= %d] [QUERIES >= 1]\n",
                KNOWN);
        return 2;
    }
    if (am_store_open(":memory:", NULL, &s, &err) != AM_OK) {
        fprintf(stderr, "bench_vscan: %s\n", err.msg);
        return 1;
    }
    /* The cache, in batches (ids ascending), as a load fills it. */
    float *vec = malloc(1000 * BENCH_DIM * sizeof(float));
    am__vc_new *rows = malloc(1000 * sizeof *rows);
    if (vec == NULL || rows == NULL)
        return 1;
    double t0 = bench_cpu_s(), grow = 0, fill = 0;
    for (size_t base = 0; base < n; base += 1000) {
        size_t m = n - base < 1000 ? n - base : 1000;
        for (size_t j = 0; j < m; j++) {
            bench_make_vec(vec + j * BENCH_DIM);
            rows[j] = (am__vc_new){ (int64_t)(base + j + 1), 0,
                                    { "\x01ns\x1f", 4 }, vec + j * BENCH_DIM,
                                    BENCH_DIM * sizeof(float) };
        }
        /* The cache's own work; a batch that doubles it also grows it. */
        double a = bench_cpu_s();
        if (am__vcache_insert(s, rows, m) != AM_OK) {
            fprintf(stderr, "bench_vscan: cache: out of memory\n");
            return 1;
        }
        double took = bench_cpu_s() - a;
        fill += took;
        if (took > grow)
            grow = took;
    }
    printf("vscan_load %zu %.0f\n", n, (bench_cpu_s() - t0) * 1e9 / n);
    printf("vscan_insert_per_row %zu %.0f\n", n, fill * 1e9 / n);
    printf("vscan_insert_max_batch %zu %.0f\n", n, grow * 1e9);
    double *ours = calloc((size_t)nq, sizeof *ours),
           *ref = calloc((size_t)nq, sizeof *ref),
           *ours_ns = calloc((size_t)nq, sizeof *ours_ns);
    size_t exact_rows = 0;
    for (int qi = 0; qi < nq; qi++) {
        float q[BENCH_DIM], want[K];
        bench_make_vec(q);
        am__cands known = { NULL, 0, 0 };
        for (int j = 0; j < KNOWN; j++)
            am__cands_push(s, &known, (int64_t)(1 + (size_t)rand() % n));
        am__vscan vs;
        am__vhit *h = NULL;
        size_t hcap = 0, got = 0, eligible = 0;
        double a = bench_cpu_s();
        if (am__vec_scores(s, q, (am_str){ "", 0 }, 0, &known, &vs,
                           &eligible) != AM_OK ||
            am__vec_top(s, &vs, K, &h, &hcap, &got) != AM_OK)
            return 1;
        double b = bench_cpu_s();
        ours[qi] = b - a;
        for (size_t i = 0; i < vs.count; i++)
            exact_rows += vs.exact[i];
        reference(&s->vc, q, want);
        ref[qi] = bench_cpu_s() - b;
        {
            /* The namespace every row was put under (see the fill). */
            am__vscan vn;
            am__vhit *hn = NULL;
            size_t hncap = 0, gotn = 0, el = 0;
            double c0 = bench_cpu_s();
            if (am__vec_scores(s, q, (am_str){ "\x01ns\x1f", 4 }, 1, NULL,
                               &vn, &el) != AM_OK ||
                am__vec_top(s, &vn, K, &hn, &hncap, &gotn) != AM_OK)
                return 1;
            ours_ns[qi] = bench_cpu_s() - c0;
            if (el != n || gotn != K) {
                fprintf(stderr, "bench_vscan: %zu eligible, %zu best\n",
                        el, gotn);
                return 1;
            }
            for (size_t i = 0; i < gotn; i++)
                if (hn[i].score != want[i]) {
                    fprintf(stderr, "bench_vscan: query %d rank %zu in the"
                            " namespace: %.9g, not %.9g\n", qi, i,
                            (double)hn[i].score, (double)want[i]);
                    return 1;
                }
            am__vec_scores_free(s, &vn);
            am__free(s->alloc, hn, hncap * sizeof *hn);
        }
        if (got != K) {
            fprintf(stderr, "bench_vscan: %zu best, not %d\n", got, K);
            return 1;
        }
        for (size_t i = 0; i < got; i++)
            if (h[i].score != want[i]) {
                fprintf(stderr, "bench_vscan: query %d rank %zu: %.9g, "
                        "the float scan's %.9g\n", qi, i,
                        (double)h[i].score, (double)want[i]);
                return 1;
            }
        for (size_t j = 0; j < known.count; j++) {
            size_t at = am__vcache_find(s, known.v[j].id);
            float sc = am__vec_dot(q, s->vc.vecs + at * s->vc.dim,
                                   s->vc.dim);
            if (!known.v[j].has_vec || known.v[j].vec != sc) {
                fprintf(stderr, "bench_vscan: known %zu wrong\n", j);
                return 1;
            }
        }
        am__vec_scores_free(s, &vs);
        am__free(s->alloc, h, hcap * sizeof *h);
        am__cands_free(s, &known);
    }
    qsort(ours, (size_t)nq, sizeof *ours, by_double);
    qsort(ref, (size_t)nq, sizeof *ref, by_double);
    qsort(ours_ns, (size_t)nq, sizeof *ours_ns, by_double);
    printf("vscan_search_best %zu %.0f\n", n, ours[0] * 1e9);
    printf("vscan_search_p50 %zu %.0f\n", n, ours[nq / 2] * 1e9);
    printf("vscan_search_ns_best %zu %.0f\n", n, ours_ns[0] * 1e9);
    printf("vscan_search_ns_p50 %zu %.0f\n", n, ours_ns[nq / 2] * 1e9);
    printf("vscan_float_best %zu %.0f\n", n, ref[0] * 1e9);
    printf("vscan_float_p50 %zu %.0f\n", n, ref[nq / 2] * 1e9);
    printf("vscan_rows_scored_in_float_per_query %zu %.1f\n", n,
           (double)exact_rows / nq);
    am_store_close(s);
    return 0;
}
