/* bench_corpus.h -- the synthetic corpus the store benchmarks share
 * (bench_store, bench_pg, bench_pg_put): a fixed-seed splitmix64 stream,
 * 5,000 made-up words drawn by Zipf's law, and items of 8 such words with
 * a random unit vector. One definition, so every benchmark measures the
 * same data and their figures can be set side by side.
 *
 * Include it once per benchmark program; BENCH_DIM (default 128) is the
 * vector dimension.
 */
#ifndef AM_BENCH_CORPUS_H
#define AM_BENCH_CORPUS_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "agentmem/store.h"

#ifndef BENCH_DIM
#define BENCH_DIM 128
#endif

static uint64_t bench_rng = 0x9e3779b97f4a7c15ull;

/* splitmix64: the next number of the fixed stream. */
static inline uint64_t bench_next(void)
{
    uint64_t z = (bench_rng += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Uniform in [0, 1). */
static inline double bench_unit(void)
{
    return (double)(bench_next() >> 11) / 9007199254740992.0;
}

#define BENCH_VOCAB 5000
static char bench_words[BENCH_VOCAB][16];
static double bench_zipf_cdf[BENCH_VOCAB];

/* Words from syllables (word i spells i + 12 in base 12) and the
 * cumulative Zipf weights 1 / rank. */
static inline void bench_make_vocab(void)
{
    static const char syl[][4] = { "ka", "lo", "mi", "ne", "ru", "ta", "shi",
                                   "po", "va", "de", "zu", "fe" };
    double h = 0;
    for (int i = 0; i < BENCH_VOCAB; i++) {
        int x = i + 12;
        char *p = bench_words[i];
        while (x > 0) {
            p += sprintf(p, "%s", syl[x % 12]);
            x /= 12;
        }
        h += 1.0 / (i + 1);
        bench_zipf_cdf[i] = h;
    }
    for (int i = 0; i < BENCH_VOCAB; i++)
        bench_zipf_cdf[i] /= h;
}

/* A word drawn by Zipf's law (bench_make_vocab first). */
static inline const char *bench_zipf_word(void)
{
    double u = bench_unit();
    int lo = 0, hi = BENCH_VOCAB - 1;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (bench_zipf_cdf[mid] < u)
            lo = mid + 1;
        else
            hi = mid;
    }
    return bench_words[lo];
}

/* `nwords` Zipf words separated by spaces into buf (n bytes). */
static inline void bench_make_text(char *buf, size_t n, int nwords)
{
    size_t o = 0;
    for (int w = 0; w < nwords; w++)
        o += (size_t)snprintf(buf + o, n - o, "%s%s", w ? " " : "",
                              bench_zipf_word());
}

/* A random unit vector of BENCH_DIM floats. */
static inline void bench_make_vec(float *v)
{
    double n = 0;
    for (int i = 0; i < BENCH_DIM; i++) {
        v[i] = (float)(bench_unit() * 2 - 1);
        n += (double)v[i] * v[i];
    }
    for (int i = 0; i < BENCH_DIM; i++)
        v[i] = (float)(v[i] / sqrt(n));
}

/* The items: item i has key keys[i] ("k<i>"), text texts[i] (8 words),
 * JSON value vals[i] (the text as a string) and vector
 * bench_vecs + i * BENCH_DIM. */
static char (*bench_texts)[128];
static char (*bench_vals)[160];
static char (*bench_keys)[24];
static float *bench_vecs;

static inline void bench_make_items(size_t n)
{
    bench_texts = calloc(n, sizeof *bench_texts);
    bench_vals = calloc(n, sizeof *bench_vals);
    bench_keys = calloc(n, sizeof *bench_keys);
    bench_vecs = calloc(n * BENCH_DIM, sizeof(float));
    if (bench_texts == NULL || bench_vals == NULL || bench_keys == NULL ||
        bench_vecs == NULL) {
        fprintf(stderr, "bench: out of memory for %zu items\n", n);
        exit(1);
    }
    for (size_t i = 0; i < n; i++) {
        bench_make_text(bench_texts[i], sizeof bench_texts[i], 8);
        snprintf(bench_vals[i], sizeof bench_vals[i], "\"%s\"",
                 bench_texts[i]);
        snprintf(bench_keys[i], sizeof bench_keys[i], "k%zu", i);
        bench_make_vec(bench_vecs + i * BENCH_DIM);
    }
}

/* Put items [from, to) into `s` under `ns` with their vectors, 1,000 per
 * am_store_put_many call (one transaction each). Returns AM_OK or the
 * first failure, whose detail is am_store_last_error(s). */
#define BENCH_PUT_BATCH 1000
static inline am_status bench_put_items(am_store *s, am_ns ns, size_t from,
                                        size_t to)
{
    am_item_in in[BENCH_PUT_BATCH];
    for (size_t i = from; i < to; i += BENCH_PUT_BATCH) {
        size_t m = to - i < BENCH_PUT_BATCH ? to - i : BENCH_PUT_BATCH;
        for (size_t j = 0; j < m; j++)
            in[j] = (am_item_in){ .ns = ns,
                                  .key = am_str_c(bench_keys[i + j]),
                                  .value = am_str_c(bench_vals[i + j]),
                                  .vec = bench_vecs + (i + j) * BENCH_DIM,
                                  .dim = BENCH_DIM };
        am_status st = am_store_put_many(s, in, m);
        if (st != AM_OK)
            return st;
    }
    return AM_OK;
}

#endif
