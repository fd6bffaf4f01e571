/* test_tokens_mt.c -- one encoding, tokenizer and tracker shared by
 * threads (run under TSan by `make tsan`). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agentmem/tokens.h"
#include "harness.h"
#include "tokens/tokens_int.h"

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

/* ---- Batches: am_encoding_count_batch / am_encoding_encode_batch ---- */

#define NBATCH 400

/* NBATCH texts of uneven size and script, from the texts above. */
static void batch_texts(am_str *t, char **owned)
{
    for (size_t i = 0; i < NBATCH; i++) {
        const char *s = texts[i % NTEXTS];
        size_t rep = 1 + i % 13, n = strlen(s);
        char *p;
        if (i % NTEXTS == 4) { /* the long text once, else a short one */
            t[i] = i == 4 ? am_str_c(s) : AM_STR("");
            owned[i] = NULL;
            continue;
        }
        p = malloc(n * rep + 1);
        for (size_t r = 0; r < rep; r++)
            memcpy(p + r * n, s, n);
        p[n * rep] = '\0';
        owned[i] = p;
        t[i] = (am_str){ p, n * rep };
    }
}

AM_TEST(batch_matches_one_call_per_text_on_any_thread_count)
{
    am_encoding *enc = NULL;
    am_str t[NBATCH];
    char *owned[NBATCH];
    size_t want[NBATCH], got[NBATCH];
    am_tokens wantv[NBATCH], gotv[NBATCH];
    char *big = malloc(300 * 1024 + 1);
    const size_t threads[] = { 0, 1, 2, 3, 8 };

    for (size_t i = 0; i < 300 * 1024; i++)
        big[i] = i % 1000 < 600 ? (char)('a' + i % 7) : (char)(" x,"[i % 3]);
    big[300 * 1024] = '\0';
    texts[4] = big;
    batch_texts(t, owned);
    CHECK_OK(am_encoding_create("o200k_base", NULL, &enc, NULL));
    for (size_t i = 0; i < NBATCH; i++) {
        am_tokens init = AM_TOKENS_INIT;
        wantv[i] = init;
        CHECK_OK(am_encoding_count(enc, t[i], NULL, &want[i], NULL));
        CHECK_OK(am_encoding_encode(enc, t[i], NULL, &wantv[i], NULL));
    }
    for (size_t k = 0; k < sizeof threads / sizeof threads[0]; k++) {
        am_token_cache *cache = NULL;
        am_encode_opts o = { 0, NULL, 0, NULL };
        /* Every other round with a cache: the caller's, and one per
         * extra thread made by the batch. */
        if (k % 2 == 1) {
            CHECK_OK(am_token_cache_create(enc, NULL, &cache, NULL));
            o.cache = cache;
        }
        memset(got, 0xff, sizeof got);
        CHECK_OK(am_encoding_count_batch(enc, t, NBATCH, &o, threads[k],
                                         got, NULL));
        for (size_t i = 0; i < NBATCH; i++)
            CHECK_EQ(got[i], want[i]);
        for (size_t i = 0; i < NBATCH; i++) {
            am_tokens init = AM_TOKENS_INIT;
            gotv[i] = init;
        }
        /* Appends, after what each array already holds. */
        CHECK_OK(am_encoding_encode(enc, AM_STR("x"), NULL, &gotv[7],
                                    NULL));
        CHECK_OK(am_encoding_encode_batch(enc, t, NBATCH, &o, threads[k],
                                          gotv, NULL));
        for (size_t i = 0; i < NBATCH; i++) {
            size_t skip = i == 7 ? 1 : 0;
            CHECK_EQ(gotv[i].count, wantv[i].count + skip);
            if (wantv[i].count > 0) /* an empty text has no array */
                CHECK_EQ(memcmp(gotv[i].ids + skip, wantv[i].ids,
                                wantv[i].count * sizeof(uint32_t)), 0);
            am_tokens_free(&gotv[i]);
        }
        am_token_cache_free(cache);
    }
    for (size_t i = 0; i < NBATCH; i++) {
        am_tokens_free(&wantv[i]);
        free(owned[i]);
    }
    am_encoding_free(enc);
    texts[4] = "";
    free(big);
}

/* ---- The encoding's piece memo, shared ---- */

typedef struct memo_worker {
    const am_encoding *enc;
    const am_str *t;
    const size_t *want;
    int id;
    int failures;
} memo_worker;

/* Counts and encodes the batch texts over and over, each thread in its own
 * order, and one thread also through batches (whose calling thread takes
 * the memo too): every call either holds the memo or runs cold. */
static void *memo_run(void *arg)
{
    memo_worker *w = arg;
    am_tokens got = AM_TOKENS_INIT;

    for (int round = 0; round < 6; round++) {
        for (size_t j = 0; j < NBATCH; j++) {
            size_t i = w->id == 0 ? j : NBATCH - 1 - j, n = 0;
            if (am_encoding_count(w->enc, w->t[i], NULL, &n, NULL) != AM_OK ||
                n != w->want[i])
                w->failures++;
            got.count = 0;
            if (j % 5 == 0 &&
                (am_encoding_encode(w->enc, w->t[i], NULL, &got, NULL) !=
                     AM_OK ||
                 got.count != w->want[i]))
                w->failures++;
        }
        if (w->id == 1) {
            size_t counts[NBATCH];
            if (am_encoding_count_batch(w->enc, w->t, NBATCH, NULL, 2,
                                        counts, NULL) != AM_OK)
                w->failures++;
            for (size_t i = 0; i < NBATCH; i++)
                if (counts[i] != w->want[i])
                    w->failures++;
        }
    }
    am_tokens_free(&got);
    return NULL;
}

AM_TEST(two_threads_share_the_memo_and_count_as_without_it)
{
    am_encoding *enc = NULL, *off = NULL;
    am_encoding_opts o = am_encoding_opts_default();
    am_str t[NBATCH];
    char *owned[NBATCH];
    size_t want[NBATCH];
    memo_worker w[2];
    pthread_t tid[2];

    texts[4] = "a short text where the long one was";
    batch_texts(t, owned);
    o.memo_entries = 1024; /* small: the threads evict each other's */
    CHECK_OK(am_encoding_create("cl100k_base", &o, &enc, NULL));
    o.flags = AM_ENCODING_NO_MEMO;
    CHECK_OK(am_encoding_create("cl100k_base", &o, &off, NULL));
    for (size_t i = 0; i < NBATCH; i++)
        CHECK_OK(am_encoding_count(off, t[i], NULL, &want[i], NULL));
    for (int k = 0; k < 2; k++) {
        w[k] = (memo_worker){ enc, t, want, k, 0 };
        CHECK_EQ(pthread_create(&tid[k], NULL, memo_run, &w[k]), 0);
    }
    for (int k = 0; k < 2; k++) {
        pthread_join(tid[k], NULL);
        CHECK_EQ(w[k].failures, 0);
    }
    for (size_t i = 0; i < NBATCH; i++)
        free(owned[i]);
    texts[4] = "";
    am_encoding_free(off);
    am_encoding_free(enc);
}

/* ~1 KB texts of the first four texts above, each after a word of its own
 * (" qz" and i in letters, new to the memo) when `word`. */
static void memo_batch_texts(am_str *t, char **owned, size_t n, bool word)
{
    for (size_t i = 0; i < n; i++) {
        const char *s = texts[i % 4];
        size_t len = 0;
        if (word)
            len = (size_t)snprintf(owned[i], 1100, " qz%c%c%c\n",
                                   'a' + (int)(i / 676 % 26),
                                   'a' + (int)(i / 26 % 26),
                                   'a' + (int)(i % 26));
        while (len + strlen(s) + 2 < 1100)
            len += (size_t)snprintf(owned[i] + len, 1100 - len, "%s\n", s);
        t[i] = (am_str){ owned[i], len };
    }
}

/* Pieces stored so far by the memo's side table k (the memo taken and
 * given back around the look). */
static size_t side_stores(const am_encoding *enc, size_t k)
{
    size_t n;
    CHECK(am__memo_take(enc, 0) != NULL);
    n = am__token_cache_stores(am__memo_side(enc, k, 0));
    am__memo_release(enc);
    return n;
}

static void check_batch(const am_encoding *enc, const am_encoding *off,
                        const am_str *t, size_t n, size_t *got)
{
    memset(got, 0xff, n * sizeof *got);
    CHECK_OK(am_encoding_count_batch(enc, t, n, NULL, 2, got, NULL));
    for (size_t i = 0; i < n; i++) {
        size_t want;
        CHECK_OK(am_encoding_count(off, t[i], NULL, &want, NULL));
        CHECK_EQ(got[i], want);
    }
}

/* A 2-thread batch on a fresh memo fills it (the calling thread writes
 * it, the second thread its side, copied in at the end); the next batch
 * freezes it, and both threads find there what the first batch learned:
 * of the second batch's pieces only each text's own new word is stored
 * (in the side of the thread that counted it), and the second thread did
 * count some of the texts. Sides stay within an eighth of memo_entries,
 * and while another thread holds the memo a batch still counts right. */
AM_TEST(batch_threads_share_the_memo_the_last_batch_filled)
{
    am_encoding *enc = NULL, *off = NULL;
    am_encoding_opts o = am_encoding_opts_default();
    enum { N = 3000 };
    static am_str t[N];
    static char *owned[N];
    static size_t got[N];
    bool worked = false;

    for (size_t i = 0; i < N; i++)
        owned[i] = malloc(1100);
    o.flags = AM_ENCODING_NO_MEMO;
    CHECK_OK(am_encoding_create("cl100k_base", &o, &off, NULL));
    CHECK(am__memo_take(off, 0) == NULL); /* no memo, no side */
    CHECK(am__memo_side(off, 0, 0) == NULL);
    /* 3,000 texts of ~1 KB: enough bytes for 2 threads, and enough work
     * (~30 ms) that the worker gets some even when it starts late; when
     * it got none, both batches run again on a fresh encoding (up to 50
     * times). */
    for (int round = 0; round < 50 && !worked; round++) {
        size_t s0, s1, d0, d1;
        o = am_encoding_opts_default();
        o.memo_entries = 16384;
        am_encoding_free(enc);
        CHECK_OK(am_encoding_create("cl100k_base", &o, &enc, NULL));
        memo_batch_texts(t, owned, N, false);
        check_batch(enc, off, t, N, got);
        memo_batch_texts(t, owned, N, true);
        s0 = side_stores(enc, 0);
        s1 = side_stores(enc, 1);
        check_batch(enc, off, t, N, got);
        d0 = side_stores(enc, 0) - s0;
        d1 = side_stores(enc, 1) - s1;
        CHECK_EQ(d0 + d1, (size_t)N); /* the new words, nothing else */
        worked = d1 > 0;
    }
    CHECK(worked);
    CHECK(am__memo_take(enc, 0) != NULL);
    CHECK(am__token_cache_entries(am__memo_side(enc, 0, 0)) <= 16384 / 8);
    CHECK(am__token_cache_entries(am__memo_side(enc, 1, 0)) <= 16384 / 8);
    /* Held elsewhere (here): the batch runs without it, still exact. */
    check_batch(enc, off, t, N, got);
    am__memo_release(enc);
    for (size_t i = 0; i < N; i++)
        free(owned[i]);
    am_encoding_free(off);
    am_encoding_free(enc);
}

/* How a batch is shared out: blocks shrink to single texts at the end, so
 * no thread is left with a long block while the other idles, and a short
 * batch does not start threads it cannot use. */
AM_TEST(batch_blocks_shrink_to_one_text_and_threads_follow_the_bytes)
{
    size_t at = 0, claims = 0, last = 0;

    CHECK_EQ(am__batch_claim(6631, 2), 256); /* capped */
    CHECK_EQ(am__batch_claim(800, 2), 100);  /* 1/8 of what is left */
    CHECK_EQ(am__batch_claim(7, 2), 1);
    CHECK_EQ(am__batch_claim(1, 1), 1);
    CHECK_EQ(am__batch_claim(5, 0), 1);
    /* One thread claiming the whole of a 6,631-text batch: the claims cover
     * it exactly, are few, and end with single texts. */
    while (at < 6631) {
        last = am__batch_claim(6631 - at, 2);
        at += last;
        claims++;
    }
    CHECK_EQ(at, 6631);
    CHECK_EQ(last, 1);
    CHECK(claims < 120);
    CHECK_EQ(am__batch_threads(2, 6631, 6 << 20), 2);
    CHECK_EQ(am__batch_threads(8, 3, 6 << 20), 3);      /* texts */
    CHECK_EQ(am__batch_threads(8, 400, 10 * 1024), 1);  /* bytes */
    CHECK_EQ(am__batch_threads(8, 400, 200 * 1024), 4); /* 1 + 3 x 64 KB */
    CHECK_EQ(am__batch_threads(2, 0, 0), 1);
}

AM_TEST(batch_failure_names_the_lowest_failing_text_and_rolls_back)
{
    am_encoding *enc = NULL;
    am_str t[64];
    size_t counts[64];
    am_tokens outs[64];
    am_error err = { AM_OK, "" };
    am_encode_opts o = { AM_SPECIAL_DISALLOWED_ERROR, NULL, 0, NULL };
    /* 2,600-byte texts, 166 KB in all: enough for the batch to use both
     * threads (one per 64 KB beyond the first), so failures are recorded
     * from two. */
    static char pad[2600];
    size_t want = 0;

    for (size_t i = 0; i < sizeof pad; i++)
        pad[i] = "hello world, "[i % 13];
    CHECK_OK(am_encoding_create("cl100k_base", NULL, &enc, NULL));
    CHECK_OK(am_encoding_count(enc, (am_str){ pad, sizeof pad }, NULL, &want,
                               NULL));
    CHECK_EQ(am__batch_threads(2, 64, 62 * sizeof pad), 2);
    for (size_t i = 0; i < 64; i++) {
        am_tokens init = AM_TOKENS_INIT;
        outs[i] = init;
        t[i] = i == 21 || i == 50 ? AM_STR("a <|endoftext|> b")
                                  : (am_str){ pad, sizeof pad };
        CHECK_OK(am_encoding_encode(enc, AM_STR("x"), NULL, &outs[i],
                                    NULL));
    }
    CHECK_ST(am_encoding_count_batch(enc, t, 64, &o, 2, counts, &err),
             AM_EINVAL);
    CHECK_EQ(err.code, AM_EINVAL);
    CHECK_EQ(strncmp(err.msg, "texts[21]: disallowed special token", 35), 0);
    CHECK_EQ(counts[0], want);
    CHECK_EQ(counts[63], want);
    CHECK_EQ(counts[21], 0);
    CHECK_ST(am_encoding_encode_batch(enc, t, 64, &o, 2, outs, &err),
             AM_EINVAL);
    CHECK_EQ(strncmp(err.msg, "texts[21]: ", 11), 0);
    for (size_t i = 0; i < 64; i++) {
        CHECK_EQ(outs[i].count, 1); /* as it was */
        am_tokens_free(&outs[i]);
    }
    /* Bad arguments. */
    CHECK_ST(am_encoding_count_batch(NULL, t, 64, NULL, 2, counts, &err),
             AM_EINVAL);
    CHECK_ST(am_encoding_count_batch(enc, NULL, 1, NULL, 2, counts, &err),
             AM_EINVAL);
    CHECK_ST(am_encoding_count_batch(enc, t, 64, NULL, 2, NULL, &err),
             AM_EINVAL);
    CHECK_ST(am_encoding_count_batch(enc, t, 64, NULL, 100000, counts, &err),
             AM_EINVAL);
    CHECK_EQ(strncmp(err.msg, "100000 threads is too many", 26), 0);
    t[3] = (am_str){ NULL, 5 };
    CHECK_ST(am_encoding_count_batch(enc, t, 64, NULL, 2, counts, &err),
             AM_EINVAL);
    CHECK_STR_EQ(err.msg, "texts[3].ptr is NULL");
    /* Nothing to do is fine. */
    CHECK_OK(am_encoding_count_batch(enc, NULL, 0, NULL, 2, counts, NULL));
    am_encoding_free(enc);
}
