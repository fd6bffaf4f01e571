/* test_providers_mt.c -- one chat client and one embedder shared by several
 * threads, against the loopback server (run under TSan by `make tsan`).
 * Every thread must get its own reply, and the server must see exactly one
 * request per call.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "harness.h"
#include "mock_http.c"

#include "agentmem/providers.h"

#define THREADS 4
#define CALLS 15

typedef struct worker {
    am_llm *llm;
    am_embedder *emb;
    int id;
    int ok;
    int wrong;
} worker;

static void *chat_worker(void *arg)
{
    worker *w = arg;
    am_buf text = AM_BUF_INIT;
    char prompt[64], want[80];

    for (int i = 0; i < CALLS; i++) {
        am_llm_msg msg = { AM_STR("user"), { prompt, 0 } };
        am_llm_result res;
        msg.content.len = (size_t)snprintf(prompt, sizeof prompt,
                                           "thread %d call %d", w->id, i);
        snprintf(want, sizeof want, "echo: %s", prompt);
        if (am_llm_chat_msgs(w->llm, &msg, 1, &text, &res) == AM_OK &&
            strcmp(text.ptr, want) == 0 &&
            res.usage.input_tokens == (int64_t)msg.content.len)
            w->ok++;
        else
            w->wrong++;
    }
    am_buf_free(&text);
    return NULL;
}

static void *embed_worker(void *arg)
{
    worker *w = arg;
    char a[32], b[32];
    float out[2 * 16], want[16];

    for (int i = 0; i < CALLS; i++) {
        am_str texts[2];
        bool same = true;
        texts[0].ptr = a;
        texts[0].len = (size_t)snprintf(a, sizeof a, "t%d-%d-a", w->id, i);
        texts[1].ptr = b;
        texts[1].len = (size_t)snprintf(b, sizeof b, "t%d-%d-b", w->id, i);
        if (am_embedder_embed(w->emb, texts, 2, out, NULL) != AM_OK) {
            w->wrong++;
            continue;
        }
        for (int t = 0; t < 2; t++) {
            mock_embed_vector(texts[t].ptr, texts[t].len, 16, want);
            same = same && memcmp(out + t * 16, want, sizeof want) == 0;
        }
        if (same)
            w->ok++;
        else
            w->wrong++;
    }
    return NULL;
}

AM_TEST(threads_share_one_chat_client_and_one_embedder)
{
    mock_http_opts mo = { .openai_key = "k", .embed_dim = 16 };
    mock_http *m = mock_http_start(&mo);
    am_llm_opts lo = am_llm_opts_default();
    am_openai_embed_opts eo = am_openai_embed_opts_default();
    am_llm *llm = NULL;
    am_embedder *emb = NULL;
    char base[96];
    pthread_t th[2 * THREADS];
    worker w[2 * THREADS];

    CHECK(m != NULL);
    snprintf(base, sizeof base, "%s/v1", mock_http_url(m));
    lo.base_url = base;
    lo.model = "m";
    lo.api_key = "k";
    CHECK_OK(am_llm_create(&lo, &llm, NULL));
    eo.base_url = base;
    eo.model = "e";
    eo.api_key = "k";
    eo.dim = 16;
    eo.max_batch = 1; /* two requests per call */
    CHECK_OK(am_embedder_openai_create(&eo, &emb, NULL));

    for (int i = 0; i < 2 * THREADS; i++) {
        w[i] = (worker){ llm, emb, i, 0, 0 };
        CHECK_EQ(pthread_create(&th[i], NULL,
                                i < THREADS ? chat_worker : embed_worker,
                                &w[i]), 0);
    }
    for (int i = 0; i < 2 * THREADS; i++) {
        pthread_join(th[i], NULL);
        CHECK_EQ(w[i].wrong, 0);
        CHECK_EQ(w[i].ok, CALLS);
    }
    CHECK_EQ(mock_http_count(m), (size_t)(THREADS * CALLS * 3));
    am_llm_free(llm);
    am_embedder_free(emb);
    mock_http_stop(m);
}
