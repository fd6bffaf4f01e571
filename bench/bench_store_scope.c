/* bench_store_scope.c -- the multi-tenant case of issue 5: NA rows holding
 * "apple" and "banana" in namespace A, 5 rows in B; time a B-scoped
 * full-text search for "apple banana" (it should not grow with A).
 * Usage: bench_store_scope DIR NA. Prints "name items ms/op". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agentmem/store.h"

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: bench_store_scope DIR ROWS_IN_A\n");
        return 2;
    }
    size_t na = strtoul(argv[2], NULL, 10);
    char path[512];
    snprintf(path, sizeof path, "%s/scope_%d.db", argv[1], (int)getpid());
    am_store *s = NULL;
    if (am_store_open(path, NULL, &s, NULL) != AM_OK)
        return 1;
    am_str pa[1] = { AM_STR("A") }, pb[2] = { AM_STR("B"), AM_STR("notes") };
    enum { BATCH = 10000 };
    am_item_in *its = calloc(BATCH, sizeof *its);
    char(*keys)[24] = calloc(BATCH, sizeof *keys);
    for (size_t d = 0; d < na; d += BATCH) {
        size_t n = na - d < BATCH ? na - d : BATCH;
        for (size_t i = 0; i < n; i++) {
            snprintf(keys[i], sizeof keys[i], "a%zu", d + i);
            its[i] = (am_item_in){ .ns = { pa, 1 }, .key = am_str_c(keys[i]),
                                   .value = AM_STR("\"banana bread apple\""),
                                   .no_embed = true };
        }
        if (am_store_put_many(s, its, n) != AM_OK)
            return 1;
    }
    free(its);
    free(keys);
    static const char *const bv[] = { "\"apple banana tart\"", "\"banana\"",
                                      "\"apple\"", "\"apple cherry\"",
                                      "\"banana pie\"" };
    for (int i = 0; i < 5; i++) {
        char k[8];
        snprintf(k, sizeof k, "b%d", i);
        am_item_in it = { .ns = { pb, 2 }, .key = am_str_c(k),
                          .value = am_str_c(bv[i]), .no_embed = true };
        if (am_store_put(s, &it) != AM_OK)
            return 1;
    }
    am_search q = { .ns = { pb, 1 }, .query = AM_STR("apple banana"),
                    .mode = AM_SEARCH_TEXT, .limit = 10 };
    am_results *r = NULL;
    if (am_store_search(s, &q, &r) != AM_OK)
        return 1;
    size_t got = r->count;
    am_results_free(r);
    const int runs = 50;
    double t0 = now_ms();
    for (int i = 0; i < runs; i++) {
        if (am_store_search(s, &q, &r) != AM_OK)
            return 1;
        am_results_free(r);
    }
    printf("name items ms/op\n");
    printf("fts_scoped_small_ns_ms %zu %.3f (results %zu of 5)\n", na,
           (now_ms() - t0) / runs, got);
    am_store_close(s);
    char side[540];
    unlink(path);
    snprintf(side, sizeof side, "%s-wal", path);
    unlink(side);
    snprintf(side, sizeof side, "%s-shm", path);
    unlink(side);
    return 0;
}
