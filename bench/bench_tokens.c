/* bench_tokens.c -- token counting speed, load time and memory.
 *
 * usage: bench_tokens CORPUS_DIR [SECONDS_PER_CASE]
 *
 * CORPUS_DIR holds prose.txt, code.txt, json.txt and multilingual.txt
 * (bench/tokens_corpus.js writes them). For cl100k_base and o200k_base and
 * each section, counts the tokens of the whole section repeatedly for about
 * SECONDS_PER_CASE (default 0.5) on 1 thread, then on 2 threads sharing
 * the one encoding, and prints
 *   count/<encoding>/<section>/t<threads> <bytes> ns/op MB/s tokens
 * Then the load time of o200k_base (best and median of 9 opens), the bytes
 * it holds (a counting allocator) and the process's peak RSS, and the time
 * to count a 1 MB single-letter word.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "agentmem/tokens.h"
#include "core/core.h"

static const char *sections[] = { "prose", "code", "json", "multilingual" };
static const char *encodings[] = { "cl100k_base", "o200k_base" };

typedef struct job {
    const am_encoding *enc;
    am_str text;
    int64_t deadline_ns;
    long reps;
    size_t tokens;
} job;

static void *run_job(void *arg)
{
    job *j = arg;
    do {
        size_t n = 0;
        if (am_encoding_count(j->enc, j->text, NULL, &n, NULL) != AM_OK) {
            fprintf(stderr, "count failed\n");
            exit(1);
        }
        j->tokens = n;
        j->reps++;
    } while (am__mono_ns() < j->deadline_ns);
    return NULL;
}

static void bench_count(const am_encoding *enc, const char *sec, am_str text,
                        double secs, int threads)
{
    job jobs[2];
    pthread_t tids[2];
    int64_t t0 = am__mono_ns(), t1;
    long reps = 0;

    for (int i = 0; i < threads; i++) {
        jobs[i].enc = enc;
        jobs[i].text = text;
        jobs[i].deadline_ns = t0 + (int64_t)(secs * 1e9);
        jobs[i].reps = 0;
        pthread_create(&tids[i], NULL, run_job, &jobs[i]);
    }
    for (int i = 0; i < threads; i++) {
        pthread_join(tids[i], NULL);
        reps += jobs[i].reps;
    }
    t1 = am__mono_ns();
    /* ns per op is wall time per whole-section count, over all threads. */
    double ns = (double)(t1 - t0) / (double)reps;
    printf("count/%s/%s/t%d %zu %.0f ns/op %.1f MB/s %zu tokens\n",
           am_encoding_name(enc), sec, threads, text.len, ns,
           (double)text.len / ns * 1e3, jobs[0].tokens);
}

/* ---- A counting allocator for the memory figure ---- */

static size_t live_bytes, peak_bytes;

static void *c_alloc(void *ctx, size_t n)
{
    (void)ctx;
    live_bytes += n;
    if (live_bytes > peak_bytes)
        peak_bytes = live_bytes;
    return malloc(n);
}

static void *c_realloc(void *ctx, void *p, size_t old, size_t n)
{
    (void)ctx;
    live_bytes += n - old;
    if (live_bytes > peak_bytes)
        peak_bytes = live_bytes;
    return realloc(p, n);
}

static void c_free(void *ctx, void *p, size_t n)
{
    (void)ctx;
    live_bytes -= n;
    free(p);
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    double secs = argc > 2 ? atof(argv[2]) : 0.5;
    am_buf text[4] = { AM_BUF_INIT, AM_BUF_INIT, AM_BUF_INIT, AM_BUF_INIT };
    am_error err;
    char path[4096];

    if (argc < 2) {
        fprintf(stderr, "usage: bench_tokens CORPUS_DIR [SECONDS]\n");
        return 2;
    }
    for (int s = 0; s < 4; s++) {
        snprintf(path, sizeof path, "%s/%s.txt", argv[1], sections[s]);
        if (am__read_file(path, &text[s], &err) != AM_OK) {
            fprintf(stderr, "%s\n", err.msg);
            return 1;
        }
    }
    for (int e = 0; e < 2; e++) {
        am_encoding *enc = NULL;
        if (am_encoding_open(encodings[e], NULL, &enc, &err) != AM_OK) {
            fprintf(stderr, "%s\n", err.msg);
            return 1;
        }
        for (int t = 1; t <= 2; t++)
            for (int s = 0; s < 4; s++)
                bench_count(enc, sections[s], am_buf_str(&text[s]), secs, t);
        am_encoding_free(enc);
    }

    /* Load time and memory of o200k_base. */
    {
        am_allocator ca = { c_alloc, c_realloc, c_free, NULL };
        am_encoding_opts o = am_encoding_opts_default();
        int64_t times[9];
        size_t held = 0;
        struct rusage ru;
        o.alloc = &ca;
        for (int i = 0; i < 9; i++) {
            am_encoding *enc = NULL;
            int64_t t0 = am__mono_ns();
            if (am_encoding_open("o200k_base", &o, &enc, &err) != AM_OK) {
                fprintf(stderr, "%s\n", err.msg);
                return 1;
            }
            times[i] = am__mono_ns() - t0;
            held = live_bytes;
            am_encoding_free(enc);
        }
        qsort(times, 9, sizeof times[0], cmp_i64);
        getrusage(RUSAGE_SELF, &ru);
        printf("load/o200k_base 1 %.2f ms best %.2f ms median\n",
               (double)times[0] / 1e6, (double)times[4] / 1e6);
        printf("memory/o200k_base held %.1f MB, peak while loading %.1f MB, "
               "process max RSS %.1f MB\n", (double)held / 1048576.0,
               (double)peak_bytes / 1048576.0, (double)ru.ru_maxrss / 1024.0);
    }

    /* A 1 MB word. */
    {
        am_encoding *enc = NULL;
        size_t n = 1 << 20, count = 0;
        char *w = malloc(n);
        int64_t t0;
        memset(w, 'a', n);
        if (w == NULL ||
            am_encoding_open("o200k_base", NULL, &enc, &err) != AM_OK)
            return 1;
        t0 = am__mono_ns();
        am_encoding_count(enc, (am_str){ w, n }, NULL, &count, NULL);
        printf("longword/o200k_base/1MB-a 1 %.0f ns/op %zu tokens\n",
               (double)(am__mono_ns() - t0), count);
        free(w);
        am_encoding_free(enc);
    }
    for (int s = 0; s < 4; s++)
        am_buf_free(&text[s]);
    return 0;
}
