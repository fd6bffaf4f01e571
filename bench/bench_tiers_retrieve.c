/* bench_tiers_retrieve.c -- the C side of the Python tiers benchmark.
 *
 * usage: bench_tiers_retrieve [ITEMS] [PASSES]   (defaults 100000, 2)
 *
 * Stores ITEMS items into a handle opened with am_tiers_opts_default()
 * (what `agentmem.tiers.HierarchicalMemoryManager()` opens), the ids and
 * contents of bench/python/bench_python.py ("item_%d", "memory %d: the
 * user asked about order %d", importance 0.5), then retrieves every id in
 * a shuffled order, PASSES times. Each retrieve is timed alone
 * (CLOCK_MONOTONIC); each pass also reports its CPU time per call (less
 * disturbed by other processes) and its minor page faults, and the stores
 * their CPU time per store. The first pass
 * is each item's first access, the one the Python p99 is taken on.
 * Prints `name items value unit` lines.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "agentmem/tiers.h"

static int64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int64_t cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static long minflt(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_minflt;
}

static uint64_t rng_state = 1;
static uint64_t rnd(void)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static void die(am_tiers *t, am_status st, const char *what)
{
    fprintf(stderr, "bench_tiers_retrieve: %s: %s (%s)\n", what,
            am_status_str(st), t ? am_tiers_last_error(t)->msg : "");
    exit(1);
}

int main(int argc, char **argv)
{
    size_t n = argc > 1 ? strtoul(argv[1], NULL, 10) : 100000;
    int passes = argc > 2 ? atoi(argv[2]) : 2;
    am_tiers_opts o = am_tiers_opts_default();
    am_tiers *t = NULL;
    am_tier_item info = AM_TIER_ITEM_INIT;
    am_buf out = AM_BUF_INIT;
    char (*ids)[24];
    size_t *order;
    int64_t *lat;
    am_status st;
    int64_t c0;

    if (n == 0 || passes < 1) {
        fprintf(stderr, "usage: bench_tiers_retrieve [ITEMS>0] [PASSES>0]\n");
        return 2;
    }
    ids = malloc(n * sizeof *ids);
    order = malloc(n * sizeof *order);
    lat = malloc(n * sizeof *lat);
    if (ids == NULL || order == NULL || lat == NULL)
        die(NULL, AM_ENOMEM, "malloc");
    if ((st = am_tiers_open(&o, &t, NULL)) != AM_OK)
        die(NULL, st, "open");
    c0 = cpu_ns();
    for (size_t i = 0; i < n; i++) {
        char content[96];
        int len = snprintf(content, sizeof content,
                           "memory %zu: the user asked about order %zu", i,
                           i * 7);
        am_tier_item_in in = am_tier_item_in_default();
        snprintf(ids[i], sizeof ids[i], "item_%zu", i);
        in.content = (am_str){ content, (size_t)len };
        st = am_tiers_store(t, am_str_c(ids[i]), &in);
        if (st != AM_OK)
            die(t, st, "store");
        order[i] = i;
    }
    printf("store_cpu %zu %.0f ns/op\n", n,
           (double)(cpu_ns() - c0) / (double)n);
    for (size_t i = n - 1; i > 0; i--) {
        size_t j = (size_t)(rnd() % (i + 1)), x = order[i];
        order[i] = order[j];
        order[j] = x;
    }
    for (int p = 1; p <= passes; p++) {
        long f0 = minflt();
        c0 = cpu_ns();
        for (size_t i = 0; i < n; i++) {
            const char *id = ids[order[i]];
            am_str key = { id, strlen(id) };
            int64_t t0 = mono_ns();
            st = am_tiers_retrieve(t, key, &out, &info);
            lat[i] = mono_ns() - t0;
            if (st != AM_OK)
                die(t, st, "retrieve");
        }
        c0 = cpu_ns() - c0;
        qsort(lat, n, sizeof *lat, cmp_i64);
        printf("retrieve_pass%d_p50 %zu %lld ns\n", p, n,
               (long long)lat[n / 2]);
        printf("retrieve_pass%d_p99 %zu %lld ns\n", p, n,
               (long long)lat[n * 99 / 100]);
        printf("retrieve_pass%d_cpu %zu %.0f ns/op (clock reads included)\n",
               p, n, (double)c0 / (double)n);
        printf("retrieve_pass%d_minflt %zu %ld\n", p, n, minflt() - f0);
    }
    {
        am_tier_stats s[AM_TIER_COUNT];
        if ((st = am_tiers_stats(t, s)) != AM_OK)
            die(t, st, "stats");
        for (int i = 0; i < AM_TIER_COUNT; i++)
            printf("tier_%s %zu %zu items\n", am_tier_name((am_tier)i), n,
                   s[i].count);
    }
    am_buf_free(&out);
    am_tier_item_free(&info);
    am_tiers_close(t, NULL);
    free(ids);
    free(order);
    free(lat);
    return 0;
}
