/* test_tokens_mt.c -- one encoding, tokenizer and tracker shared by
 * threads (run under TSan by `make tsan`). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agentmem/tokens.h"
#include "harness.h"

#define NTHREADS 4
#define NTEXTS 6

static const char *texts[NTEXTS] = {
    "hello world, this is a shared encoding",
    "Привет, мир! 中文文本 😀👍🏽 don't WON'T 12345",
    "int main(void) { return 0; }\n\n\n   ",
    "<|endoftext|> stays text",
    "", /* filled with a long text */
    "\xc5\xbf'S x\xc2\x85y",
};

typedef struct worker {
    const am_tokenizer *tz;
    am_token_tracker *tracker;
    am_tokens want[NTEXTS];
    int failures;
} worker;

static void *run(void *arg)
{
    worker *w = arg;
    am_tokens got = AM_TOKENS_INIT;
    am_model_info info;

    for (int round = 0; round < 20; round++)
        for (int i = 0; i < NTEXTS; i++) {
            size_t n = 0;
            am_usage_record u = { AM_STR("gpt-4o"), 10, 0, 5, false, false };
            got.count = 0;
            if (am_tokenizer_encode(w->tz, am_str_c(texts[i]), NULL, &got,
                                    NULL) != AM_OK ||
                got.count != w->want[i].count ||
                memcmp(got.ids, w->want[i].ids,
                       got.count * sizeof *got.ids) != 0)
                w->failures++;
            if (am_tokenizer_count(w->tz, am_str_c(texts[i]), NULL, &n,
                                   NULL) != AM_OK ||
                n != w->want[i].count)
                w->failures++;
            if (am_token_tracker_record(w->tracker, &u) != AM_OK)
                w->failures++;
            if (!am_models_lookup(NULL, AM_STR("claude-3-haiku"), &info))
                w->failures++;
        }
    am_tokens_free(&got);
    return NULL;
}

AM_TEST(threads_share_one_tokenizer_and_tracker)
{
    am_tokenizer *tz = NULL;
    am_token_tracker *tracker = NULL;
    worker w[NTHREADS];
    pthread_t tid[NTHREADS];
    am_tracker_stats st;
    char *big = malloc(300 * 1024 + 1);

    /* A long text takes the heap piece cache and the long-piece merge. */
    for (size_t i = 0; i < 300 * 1024; i++)
        big[i] = i % 1000 < 600 ? (char)('a' + i % 7) : (char)(" x,"[i % 3]);
    big[300 * 1024] = '\0';
    texts[4] = big;
    CHECK_OK(am_tokenizer_create(AM_STR("gpt-4o"), NULL, &tz, NULL));
    CHECK_OK(am_token_tracker_create(NULL, &tracker, NULL));
    for (int t = 0; t < NTHREADS; t++) {
        w[t].tz = tz;
        w[t].tracker = tracker;
        w[t].failures = 0;
        for (int i = 0; i < NTEXTS; i++) {
            am_tokens init = AM_TOKENS_INIT;
            w[t].want[i] = init;
            CHECK_OK(am_tokenizer_encode(tz, am_str_c(texts[i]), NULL,
                                         &w[t].want[i], NULL));
        }
    }
    for (int t = 0; t < NTHREADS; t++)
        CHECK_EQ(pthread_create(&tid[t], NULL, run, &w[t]), 0);
    for (int t = 0; t < NTHREADS; t++) {
        pthread_join(tid[t], NULL);
        CHECK_EQ(w[t].failures, 0);
        for (int i = 0; i < NTEXTS; i++)
            am_tokens_free(&w[t].want[i]);
    }
    am_token_tracker_stats(tracker, &st);
    CHECK_EQ(st.calls, NTHREADS * 20 * NTEXTS);
    CHECK_EQ(st.input_tokens, NTHREADS * 20 * NTEXTS * 10);
    am_token_tracker_free(tracker);
    am_tokenizer_free(tz);
    free(big);
}
