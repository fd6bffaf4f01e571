/* bench_count_json.c -- counting an OpenAI messages array
 * (am_tokenizer_count_messages_json): reading the JSON plus the billed
 * rule, on one document.
 *
 *   bench_count_json FILE [ROUNDS]
 *
 * FILE is a Chat Completions `messages` array, for instance the
 * 10,000-message agent conversation `bench_trim FILE` writes. Each case
 * counts the whole document ROUNDS times (default 7) and prints the best
 * round in this thread's CPU time, so the figure holds on a shared
 * machine:
 *   count_json/exact/o200k   gpt-4o's exact count (tokenizing dominates)
 *   count_json/estimate      an estimating model (claude-3-opus): almost
 *                            all of the time is reading the document.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "agentmem/tokens.h"
#include "core/core.h"

static int64_t thread_cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int run(const char *name, const char *model, am_str doc, int rounds)
{
    am_tokenizer *tz = NULL;
    am_error err = { AM_OK, "" };
    int64_t best = INT64_MAX;
    size_t total = 0;

    if (am_tokenizer_create(am_str_c(model), NULL, &tz, &err) != AM_OK) {
        fprintf(stderr, "bench_count_json: %s\n", err.msg);
        return 1;
    }
    for (int r = 0; r < rounds; r++) {
        int64_t t0 = thread_cpu_ns(), d;
        if (am_tokenizer_count_messages_json(tz, doc, &total, &err) !=
            AM_OK) {
            fprintf(stderr, "bench_count_json: %s\n", err.msg);
            am_tokenizer_free(tz);
            return 1;
        }
        d = thread_cpu_ns() - t0;
        if (d < best)
            best = d;
    }
    printf("%s %zu %.0f ns/op %.1f MB/s %zu tokens (best of %d, CPU "
           "time)\n", name, doc.len, (double)best,
           (double)doc.len / (double)best * 1e3, total, rounds);
    am_tokenizer_free(tz);
    return 0;
}

int main(int argc, char **argv)
{
    am_buf doc = AM_BUF_INIT;
    am_error err = { AM_OK, "" };
    int rounds = argc > 2 ? atoi(argv[2]) : 7;
    int rc;

    if (argc < 2 || rounds < 1) {
        fprintf(stderr, "usage: bench_count_json FILE [ROUNDS]\n");
        return 2;
    }
    if (am__read_file(argv[1], &doc, &err) != AM_OK) {
        fprintf(stderr, "bench_count_json: %s\n", err.msg);
        return 1;
    }
    rc = run("count_json/exact/o200k", "gpt-4o", am_buf_str(&doc), rounds);
    if (rc == 0)
        rc = run("count_json/estimate", "claude-3-opus", am_buf_str(&doc),
                 rounds);
    am_buf_free(&doc);
    return rc;
}
