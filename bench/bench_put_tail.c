/* bench_put_tail.c -- the CPU time of each small write transaction, the
 * part of the HTTP server's put latency that the store sets: COMMITS
 * batches of BATCH short items (as the server's group commit makes them
 * under load), one transaction each, on a handle with manual_checkpoint,
 * checkpointed every 200 commits outside the timing (as the server's
 * checkpointer thread does). Each commit is timed with the thread's CPU
 * clock, so a loaded machine changes the figures little: what it prints
 * is work, not waiting.
 *
 * Usage: bench_put_tail DIR [COMMITS [BATCH]]   (default 15000 12)
 * Prints "put_tail commits batch total_cpu_ms p50 p99 max" and how many
 * commits took 4, 8 and 16 ms of CPU or more. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agentmem/store.h"

static long long cpu_us(void)
{
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return (long long)t.tv_sec * 1000000 + t.tv_nsec / 1000;
}

static int cmp_ll(const void *a, const void *b)
{
    long long x = *(const long long *)a, y = *(const long long *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    static const char *const words[] = {
        "apple", "river", "garden", "python", "coffee", "music", "travel",
        "budget", "meeting", "doctor", "football", "rain" };
    if (argc < 2) {
        fprintf(stderr, "usage: bench_put_tail DIR [COMMITS [BATCH]]\n");
        return 2;
    }
    int commits = argc > 2 ? atoi(argv[2]) : 15000;
    int batch = argc > 3 ? atoi(argv[3]) : 12;
    if (commits <= 0 || batch <= 0 || batch > 10000) {
        fprintf(stderr, "bench_put_tail: COMMITS and BATCH must be > 0 "
                "(BATCH <= 10000)\n");
        return 2;
    }
    char path[512];
    snprintf(path, sizeof path, "%s/put_tail_%d.db", argv[1], (int)getpid());
    am_store_opts o = am_store_opts_default();
    am_store *s = NULL;
    am_error err = { AM_OK, "" };
    o.manual_checkpoint = true;
    if (am_store_open(path, &o, &s, &err) != AM_OK) {
        fprintf(stderr, "bench_put_tail: %s\n", err.msg);
        return 1;
    }
    am_item_in *items = calloc((size_t)batch, sizeof *items);
    char (*keys)[32] = calloc((size_t)batch, sizeof *keys);
    char (*texts)[96] = calloc((size_t)batch, sizeof *texts);
    long long *took = calloc((size_t)commits, sizeof *took);
    if (items == NULL || keys == NULL || texts == NULL || took == NULL) {
        fprintf(stderr, "bench_put_tail: out of memory\n");
        return 1;
    }
    const am_str part = AM_STR("put");
    const am_ns ns = { &part, 1 };
    long long total = 0;
    int rc = 0;
    for (int c = 0; c < commits && rc == 0; c++) {
        for (int i = 0; i < batch; i++) {
            long k = (long)c * batch + i;
            snprintf(keys[i], sizeof keys[i], "k%ld", k);
            snprintf(texts[i], sizeof texts[i], "note %ld about %s and %s",
                     k, words[k % 12], words[(k * 7) % 12]);
            items[i] = (am_item_in){ .ns = ns, .key = am_str_c(keys[i]),
                                     .value = AM_STR("1"),
                                     .text = am_str_c(texts[i]) };
        }
        long long t0 = cpu_us();
        if (am_store_put_many(s, items, (size_t)batch) != AM_OK) {
            fprintf(stderr, "bench_put_tail: put: %s\n",
                    am_store_last_error(s)->msg);
            rc = 1;
        }
        took[c] = cpu_us() - t0;
        total += took[c];
        if (c % 200 == 199)
            (void)am_store_checkpoint(s, NULL, NULL);
    }
    if (rc == 0) {
        int over[3] = { 0, 0, 0 };
        for (int c = 0; c < commits; c++)
            for (int b = 0; b < 3; b++)
                over[b] += took[c] >= (4000LL << b);
        qsort(took, (size_t)commits, sizeof *took, cmp_ll);
        printf("put_tail commits=%d batch=%d total_cpu_ms=%.1f p50=%.3fms "
               "p99=%.3fms max=%.2fms at_least_4ms=%d 8ms=%d 16ms=%d\n",
               commits, batch, total / 1000.0,
               took[commits / 2] / 1000.0,
               took[(size_t)commits * 99 / 100] / 1000.0,
               took[commits - 1] / 1000.0, over[0], over[1], over[2]);
    }
    am_store_close(s);
    free(items);
    free(keys);
    free(texts);
    free(took);
    char side[600];
    const char *const ext[] = { "", "-wal", "-shm" };
    for (int i = 0; i < 3; i++) {
        snprintf(side, sizeof side, "%s%s", path, ext[i]);
        unlink(side);
    }
    return rc;
}
