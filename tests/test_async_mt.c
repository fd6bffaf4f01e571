/* test_async_mt.c -- the executor and its chat/embed jobs, against the
 * loopback provider server (run under TSan by `make tsan`).
 *
 * Many overlapping calls, submitted from several threads, must each
 * complete exactly once: one callback, one reap through the completion
 * descriptor, the right text. A full queue, a cancel (queued and in the
 * middle of a hanging HTTP reply), a wait that times out and the shutdown
 * of an executor with work still queued each have their own test.
 */
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "providers_fixture.h"

#include "agentmem/async.h"

static am_llm *open_llm(mock_http *m)
{
    am_llm_opts o = am_llm_opts_default();
    am_llm *llm = NULL;
    char base[96];

    snprintf(base, sizeof base, "%s/v1", mock_http_url(m));
    o.base_url = base;
    o.model = "m";
    o.api_key = "k";
    o.http.max_retries = 0;
    o.http.timeout_ms = 20000;
    CHECK_OK(am_llm_create(&o, &llm, NULL));
    return llm;
}

static am_executor *open_executor(size_t threads, size_t max_queued)
{
    am_executor_opts o = am_executor_opts_default();
    am_executor *ex = NULL;
    am_error err = { AM_OK, "" };

    o.threads = threads;
    o.max_queued = max_queued;
    CHECK_OK_E(am_executor_create(&o, &ex, &err), &err);
    return ex;
}

static void sleep_ms(int ms)
{
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

/* ---- Many overlapping chats ---- */

#define SUBMITTERS 4
#define PER_SUBMITTER 16
#define TOTAL (SUBMITTERS * PER_SUBMITTER)

typedef struct overlap {
    am_executor *ex;
    am_llm *llm;
    atomic_int callbacks[TOTAL];
    atomic_int submit_failures;
} overlap;

typedef struct submitter {
    overlap *o;
    int id;
} submitter;

static void count_callback(am_job *job, void *ctx)
{
    atomic_int *slot = ctx;
    (void)job;
    atomic_fetch_add(slot, 1);
}

static void *submit_chats(void *arg)
{
    submitter *s = arg;
    char prompt[32];

    for (int i = 0; i < PER_SUBMITTER; i++) {
        int k = s->id * PER_SUBMITTER + i;
        am_llm_msg msg = { AM_STR("user"), { prompt, 0 } };
        am_llm_request req;
        am_job_opts jo = { count_callback, &s->o->callbacks[k], NULL,
                           true };
        am_job *job;

        msg.content.len = (size_t)snprintf(prompt, sizeof prompt,
                                           "call %d", k);
        memset(&req, 0, sizeof req);
        req.msgs = &msg;
        req.count = 1;
        /* The request is copied: `prompt` is rewritten at once. */
        if (am_llm_chat_submit(s->o->ex, s->o->llm, &req, &jo, &job) !=
            AM_OK)
            atomic_fetch_add(&s->o->submit_failures, 1);
    }
    return NULL;
}

AM_TEST(overlapping_chats_each_complete_once_through_fd_and_callback)
{
    mock_http *m = mock_http_start(NULL);
    overlap o;
    submitter subs[SUBMITTERS];
    pthread_t th[SUBMITTERS];
    int seen[TOTAL] = { 0 };
    int reaped = 0;

    CHECK(m != NULL);
    memset(&o, 0, sizeof o);
    o.llm = open_llm(m);
    o.ex = open_executor(4, TOTAL);
    for (int i = 0; i < TOTAL; i++)
        atomic_init(&o.callbacks[i], 0);
    atomic_init(&o.submit_failures, 0);
    for (int i = 0; i < SUBMITTERS; i++) {
        subs[i] = (submitter){ &o, i };
        CHECK_EQ(pthread_create(&th[i], NULL, submit_chats, &subs[i]), 0);
    }

    /* An event loop: poll the descriptor, reap what is done. */
    while (reaped < TOTAL) {
        struct pollfd pfd = { am_executor_fd(o.ex), POLLIN, 0 };
        am_job *done[8];
        size_t n;

        CHECK_EQ(poll(&pfd, 1, 20000), 1);
        n = am_executor_reap(o.ex, done, 8);
        CHECK(n > 0); /* readable means something to reap */
        for (size_t i = 0; i < n; i++) {
            am_str text;
            am_llm_result res;
            int k = -1;

            CHECK_OK_E(am_job_chat_result(done[i], &text, &res), &res.error);
            CHECK(sscanf(text.ptr, "echo: call %d", &k) == 1);
            CHECK(k >= 0 && k < TOTAL);
            seen[k]++;
            CHECK_EQ(res.finish, AM_LLM_FINISH_STOP);
            am_job_free(done[i]);
        }
        reaped += (int)n;
    }
    for (int i = 0; i < SUBMITTERS; i++)
        pthread_join(th[i], NULL);
    CHECK_EQ(atomic_load(&o.submit_failures), 0);
    /* Nothing left: the descriptor is no longer readable. */
    {
        struct pollfd pfd = { am_executor_fd(o.ex), POLLIN, 0 };
        am_job *none;
        CHECK_EQ(poll(&pfd, 1, 0), 0);
        CHECK_EQ(am_executor_reap(o.ex, &none, 1), 0);
    }
    am_executor_free(o.ex); /* joins the workers: callbacks are over */
    for (int i = 0; i < TOTAL; i++) {
        CHECK_EQ(seen[i], 1);
        CHECK_EQ(atomic_load(&o.callbacks[i]), 1);
    }
    CHECK_EQ(mock_http_count(m), (size_t)TOTAL);
    am_llm_free(o.llm);
    mock_http_stop(m);
}

/* ---- A job that holds its worker until released ---- */

typedef struct gate {
    atomic_bool started;
    atomic_bool release;
    atomic_int runs;
} gate;

static void gate_init(gate *g)
{
    atomic_init(&g->started, false);
    atomic_init(&g->release, false);
    atomic_init(&g->runs, 0);
}

static am_status gate_run(am_job *job, void *ctx, am_error *err)
{
    gate *g = ctx;
    atomic_fetch_add(&g->runs, 1);
    atomic_store(&g->started, true);
    while (!atomic_load(&g->release)) {
        if (am_job_cancelled(job))
            return am__fail(err, AM_ECANCELED, "gate: cancelled");
        sleep_ms(1);
    }
    return AM_OK;
}

static void wait_started(gate *g)
{
    for (int i = 0; i < 20000 && !atomic_load(&g->started); i++)
        sleep_ms(1);
    CHECK(atomic_load(&g->started));
}

AM_TEST(a_full_queue_is_refused_with_its_size_and_nothing_is_queued)
{
    am_executor *ex = open_executor(1, 2);
    gate g[4];
    am_job *job[4];
    const am_error *e;

    for (int i = 0; i < 4; i++)
        gate_init(&g[i]);
    CHECK_OK(am_executor_submit(ex, gate_run, &g[0], NULL, &job[0]));
    wait_started(&g[0]); /* the worker is busy; the queue is empty */
    CHECK_OK(am_executor_submit(ex, gate_run, &g[1], NULL, &job[1]));
    CHECK_OK(am_executor_submit(ex, gate_run, &g[2], NULL, &job[2]));
    CHECK_ST(am_executor_submit(ex, gate_run, &g[3], NULL, &job[3]),
             AM_ELIMIT);
    CHECK(job[3] == NULL);
    e = am_executor_last_error(ex);
    CHECK_EQ(e->code, AM_ELIMIT);
    CHECK_HAS(e->msg, "queue full: 2 jobs");

    for (int i = 0; i < 3; i++)
        atomic_store(&g[i].release, true);
    for (int i = 0; i < 3; i++) {
        CHECK(am_job_wait(job[i], 20000));
        CHECK_OK(am_job_status(job[i]));
        am_job_free(job[i]);
    }
    CHECK_EQ(atomic_load(&g[3].runs), 0);
    am_executor_free(ex);
}

AM_TEST(wait_times_out_and_results_wait_for_the_end)
{
    am_executor *ex = open_executor(1, 4);
    gate g;
    am_job *job;
    am_str text;

    gate_init(&g);
    CHECK_OK(am_executor_submit(ex, gate_run, &g, NULL, &job));
    CHECK(!am_job_wait(job, 0));
    CHECK(!am_job_wait(job, 20));
    CHECK_EQ(am_job_status(job), AM_EBUSY);
    CHECK_EQ(am_job_error(job)->code, AM_OK);
    /* Not a chat job: the typed accessor refuses it. */
    CHECK_ST(am_job_chat_result(job, &text, NULL), AM_EINVAL);
    CHECK(am_job_ctx(job) == &g);
    atomic_store(&g.release, true);
    CHECK(am_job_wait(job, -1));
    CHECK_OK(am_job_status(job));
    CHECK_ST(am_job_cancel(job), AM_ESTATE); /* done: unchanged */
    CHECK_OK(am_job_status(job));
    am_job_free(job);
    am_executor_free(ex);
}

/* ---- Cancellation ---- */

AM_TEST(cancel_aborts_a_hanging_chat_and_drops_a_queued_job)
{
    mock_http *m = mock_http_start(NULL);
    mock_reply slow = { .hang_ms = 15000, .body = "{}" };
    am_llm *llm;
    am_executor *ex = open_executor(1, 4);
    am_llm_msg msg = { AM_STR("user"), AM_STR("hello") };
    am_llm_request req;
    gate g;
    am_job *chat, *queued;
    atomic_int cb;
    am_job_opts jo = { count_callback, &cb, NULL, false };
    am_llm_result res;
    int64_t t0;

    CHECK(m != NULL);
    llm = open_llm(m);
    gate_init(&g);
    atomic_init(&cb, 0);
    mock_http_push(m, &slow);
    memset(&req, 0, sizeof req);
    req.msgs = &msg;
    req.count = 1;
    CHECK_OK(am_llm_chat_submit(ex, llm, &req, NULL, &chat));
    CHECK_OK(am_executor_submit(ex, gate_run, &g, &jo, &queued));
    for (int i = 0; i < 20000 && mock_http_count(m) == 0; i++)
        sleep_ms(1);
    CHECK_EQ(mock_http_count(m), 1); /* the chat is in its transfer */

    /* The queued job completes before cancel returns, never having run. */
    CHECK_OK(am_job_cancel(queued));
    CHECK(am_job_wait(queued, 0));
    CHECK_EQ(am_job_status(queued), AM_ECANCELED);
    CHECK_EQ(atomic_load(&cb), 1);
    CHECK_EQ(atomic_load(&g.runs), 0);

    t0 = am__mono_ns();
    CHECK_OK(am_job_cancel(chat));
    CHECK(am_job_cancelled(chat));
    CHECK(am_job_wait(chat, 10000));
    /* The server would have answered after 15 s; the progress hook runs
     * at least about once a second. */
    CHECK((am__mono_ns() - t0) / 1000000 < 5000);
    CHECK_ST(am_job_chat_result(chat, NULL, &res), AM_ECANCELED);
    CHECK_HAS(res.error.msg, "cancelled (attempt 1)");
    CHECK_EQ(am_job_error(chat)->code, AM_ECANCELED);
    am_job_free(chat);
    am_job_free(queued);
    CHECK_EQ(atomic_load(&cb), 1);
    am_executor_free(ex);
    am_llm_free(llm);
    mock_http_stop(m);
}

/* A cancel that arrives while the chat waits to retry (the server said
 * "retry after 30 s") ends the wait instead of sitting it out. */
AM_TEST(cancel_ends_a_chat_waiting_to_retry)
{
    mock_http *m = mock_http_start(NULL);
    mock_reply busy = { .status = 503, .body = "{}",
                        .headers = "Retry-After: 30\r\n" };
    am_llm_opts o = am_llm_opts_default();
    am_llm *llm = NULL;
    am_executor *ex = open_executor(1, 4);
    am_llm_msg msg = { AM_STR("user"), AM_STR("hello") };
    am_llm_request req;
    am_job *chat;
    am_llm_result res;
    char base[96];
    int64_t t0;

    CHECK(m != NULL);
    snprintf(base, sizeof base, "%s/v1", mock_http_url(m));
    o.base_url = base;
    o.model = "m";
    o.api_key = "k";
    o.http.max_retries = 3;
    CHECK_OK(am_llm_create(&o, &llm, NULL));
    mock_http_push(m, &busy);
    memset(&req, 0, sizeof req);
    req.msgs = &msg;
    req.count = 1;
    CHECK_OK(am_llm_chat_submit(ex, llm, &req, NULL, &chat));
    for (int i = 0; i < 20000 && mock_http_count(m) == 0; i++)
        sleep_ms(1);
    CHECK_EQ(mock_http_count(m), 1);
    sleep_ms(200); /* the 503 is read: the job is in its 30 s wait */

    t0 = am__mono_ns();
    CHECK_OK(am_job_cancel(chat));
    CHECK(am_job_wait(chat, 10000));
    CHECK((am__mono_ns() - t0) / 1000000 < 5000);
    CHECK_ST(am_job_chat_result(chat, NULL, &res), AM_ECANCELED);
    CHECK_EQ(mock_http_count(m), 1); /* no second attempt */
    am_job_free(chat);
    am_executor_free(ex);
    am_llm_free(llm);
    mock_http_stop(m);
}

AM_TEST(freeing_the_executor_cancels_queued_jobs_and_keeps_handles)
{
    am_executor *ex = open_executor(1, 8);
    gate g[3];
    am_job *job[3];
    atomic_int cb[3];

    for (int i = 0; i < 3; i++) {
        am_job_opts jo = { count_callback, &cb[i], NULL, i == 2 };
        gate_init(&g[i]);
        atomic_init(&cb[i], 0);
        CHECK_OK(am_executor_submit(ex, gate_run, &g[i], &jo, &job[i]));
        if (i == 0)
            wait_started(&g[0]);
    }
    /* Fire and forget: no handle; the job frees itself when done. */
    CHECK_OK(am_executor_submit(ex, gate_run, &g[1], NULL, NULL));

    /* The running job sees the cancel flag; the queued ones never run. */
    am_executor_free(ex);
    for (int i = 0; i < 3; i++) {
        CHECK(am_job_wait(job[i], 0));
        CHECK_EQ(am_job_status(job[i]), AM_ECANCELED);
        CHECK_EQ(atomic_load(&cb[i]), 1);
    }
    CHECK_HAS(am_job_error(job[1])->msg, "executor was freed");
    CHECK_EQ(atomic_load(&g[1].runs), 0);
    CHECK_EQ(atomic_load(&g[2].runs), 0);
    /* Handles outlive the executor (job 2 is still on the completion
     * queue: freeing it takes it off). */
    for (int i = 0; i < 3; i++)
        am_job_free(job[i]);
}

/* ---- Embeddings ---- */

AM_TEST(embed_jobs_return_the_servers_vectors)
{
    mock_http_opts mo = { .embed_dim = 8 };
    mock_http *m = mock_http_start(&mo);
    am_openai_embed_opts eo = am_openai_embed_opts_default();
    am_embedder *emb = NULL;
    am_executor *ex = open_executor(2, 16);
    char base[96];
    am_job *job[6];
    char bufs[6][2][24];

    CHECK(m != NULL);
    snprintf(base, sizeof base, "%s/v1", mock_http_url(m));
    eo.base_url = base;
    eo.model = "e";
    eo.dim = 8;
    CHECK_OK(am_embedder_openai_create(&eo, &emb, NULL));
    for (int i = 0; i < 6; i++) {
        am_str texts[2];
        for (int t = 0; t < 2; t++) {
            texts[t].ptr = bufs[i][t];
            texts[t].len = (size_t)snprintf(bufs[i][t], sizeof bufs[i][t],
                                            "job %d text %d", i, t);
        }
        CHECK_OK(am_embed_submit(ex, emb, texts, 2, NULL, &job[i]));
    }
    for (int i = 0; i < 6; i++) {
        const float *v;
        size_t count, dim;
        float want[8];

        CHECK(am_job_wait(job[i], 20000));
        CHECK_OK_E(am_job_embed_result(job[i], &v, &count, &dim),
                   am_job_error(job[i]));
        CHECK_EQ(count, 2);
        CHECK_EQ(dim, 8);
        for (int t = 0; t < 2; t++) {
            mock_embed_vector(bufs[i][t], strlen(bufs[i][t]), 8, want);
            CHECK(memcmp(v + t * 8, want, sizeof want) == 0);
        }
        /* A chat accessor on an embed job is refused. */
        CHECK_ST(am_job_chat_result(job[i], NULL, NULL), AM_EINVAL);
        am_job_free(job[i]);
    }
    am_executor_free(ex);
    am_embedder_free(emb);
    mock_http_stop(m);
}

/* A cancel reaches a running embed through the embedder's stop hook:
 * the HTTP transfer ends within about a second, not when the server
 * answers (15 s here). An embedder without the hook runs to its end and
 * its result is dropped. */
static am_status slow_embed(void *ctx, const am_str *texts, size_t count,
                            float *out, am_error *err)
{
    (void)texts;
    (void)err;
    atomic_store((atomic_int *)ctx, 1);
    sleep_ms(300);
    for (size_t i = 0; i < count * 4; i++)
        out[i] = 1.0f;
    return AM_OK;
}

AM_TEST(cancel_stops_a_running_embed_through_the_embedders_hook)
{
    mock_http_opts mo = { .embed_dim = 8 };
    mock_http *m = mock_http_start(&mo);
    mock_reply slow = { .hang_ms = 15000, .body = "{}" };
    am_openai_embed_opts eo = am_openai_embed_opts_default();
    am_embedder *emb = NULL;
    am_executor *ex = open_executor(1, 4);
    am_str text = AM_STR("a text that will not be embedded");
    atomic_int started;
    am_embedder plain = { "slow/4", 4, slow_embed, NULL, &started, NULL };
    char base[96];
    am_job *job;
    int64_t t0;

    CHECK(m != NULL);
    snprintf(base, sizeof base, "%s/v1", mock_http_url(m));
    eo.base_url = base;
    eo.model = "e";
    eo.dim = 8;
    eo.http.max_retries = 0;
    eo.http.timeout_ms = 20000;
    CHECK_OK(am_embedder_openai_create(&eo, &emb, NULL));
    CHECK(emb->embed_stoppable != NULL);
    mock_http_push(m, &slow);
    CHECK_OK(am_embed_submit(ex, emb, &text, 1, NULL, &job));
    for (int i = 0; i < 20000 && mock_http_count(m) == 0; i++)
        sleep_ms(1);
    CHECK_EQ(mock_http_count(m), 1); /* the embed is in its transfer */
    t0 = am__mono_ns();
    CHECK_OK(am_job_cancel(job));
    CHECK(am_job_wait(job, 10000));
    CHECK((am__mono_ns() - t0) / 1000000 < 5000);
    CHECK_ST(am_job_embed_result(job, NULL, NULL, NULL), AM_ECANCELED);
    CHECK_HAS(am_job_error(job)->msg, "cancelled (attempt 1)");
    am_job_free(job);

    /* Without a hook: the call ends by itself, the result is dropped. */
    atomic_init(&started, 0);
    CHECK_OK(am_embed_submit(ex, &plain, &text, 1, NULL, &job));
    for (int i = 0; i < 20000 && atomic_load(&started) == 0; i++)
        sleep_ms(1);
    CHECK_OK(am_job_cancel(job));
    CHECK(am_job_wait(job, 10000));
    CHECK_ST(am_job_embed_result(job, NULL, NULL, NULL), AM_ECANCELED);
    CHECK_HAS(am_job_error(job)->msg, "its result was dropped");
    am_job_free(job);
    am_executor_free(ex);
    am_embedder_free(emb);
    mock_http_stop(m);
}

/* ---- Bad input ---- */

AM_TEST(bad_input_is_refused_with_a_reason)
{
    am_executor_opts o = am_executor_opts_default();
    am_executor *ex = NULL;
    am_error err = { AM_OK, "" };
    am_job *job = (am_job *)&err; /* must be reset to NULL */
    am_job_opts notify = { NULL, NULL, NULL, true };
    am_llm_request req;
    am_str one = AM_STR("x");
    am_buf raw = AM_BUF_INIT;

    o.threads = 0;
    CHECK_ST(am_executor_create(&o, &ex, &err), AM_EINVAL);
    CHECK_HAS(err.msg, "threads is 0");
    o = am_executor_opts_default();
    o.max_queued = 0;
    CHECK_ST(am_executor_create(&o, &ex, &err), AM_EINVAL);
    CHECK_HAS(err.msg, "max_queued is 0");
    CHECK(ex == NULL);

    ex = open_executor(1, 4);
    CHECK_ST(am_executor_submit(ex, NULL, NULL, NULL, &job), AM_EINVAL);
    CHECK(job == NULL);
    CHECK_HAS(am_executor_last_error(ex)->msg, "NULL job function");
    CHECK_ST(am_executor_submit(ex, gate_run, NULL, &notify, NULL),
             AM_EINVAL);
    CHECK_HAS(am_executor_last_error(ex)->msg, "notify needs a job handle");
    memset(&req, 0, sizeof req);
    req.msgs = NULL;
    req.count = 0;
    CHECK_ST(am_llm_chat_submit(ex, NULL, &req, NULL, &job), AM_EINVAL);
    CHECK_HAS(am_executor_last_error(ex)->msg, "NULL llm");
    req.raw_reply = &raw;
    CHECK_ST(am_llm_chat_submit(ex, (am_llm *)&err, &req, NULL, &job),
             AM_EINVAL);
    CHECK_HAS(am_executor_last_error(ex)->msg, "raw_reply must be NULL");
    CHECK_ST(am_embed_submit(ex, NULL, &one, 1, NULL, &job), AM_EINVAL);
    CHECK_HAS(am_executor_last_error(ex)->msg, "NULL embedder");
    CHECK_ST(am_job_status(NULL), AM_EINVAL);
    CHECK_ST(am_job_cancel(NULL), AM_EINVAL);
    CHECK(!am_job_wait(NULL, 0));
    am_job_free(NULL);
    am_executor_free(NULL);
    am_executor_free(ex);
}

/* ---- The stop hook on a blocking call ---- */

static bool stop_now(void *ctx)
{
    atomic_int *polls = ctx;
    atomic_fetch_add(polls, 1);
    return true;
}

AM_TEST(a_stop_hook_cancels_a_blocking_chat_before_anything_is_sent)
{
    mock_http *m = mock_http_start(NULL);
    am_llm *llm;
    am_llm_msg msg = { AM_STR("user"), AM_STR("hello") };
    am_llm_request req;
    am_llm_result res;
    am_buf text = AM_BUF_INIT;
    atomic_int polls;

    CHECK(m != NULL);
    llm = open_llm(m);
    atomic_init(&polls, 0);
    memset(&req, 0, sizeof req);
    req.msgs = &msg;
    req.count = 1;
    req.should_stop = stop_now;
    req.stop_ctx = &polls;
    CHECK_ST(am_llm_chat(llm, &req, &text, &res), AM_ECANCELED);
    CHECK_HAS(res.error.msg, "cancelled before it was sent");
    CHECK_EQ(atomic_load(&polls), 1);
    CHECK_EQ(mock_http_count(m), 0);
    /* Without the hook the same request goes through. */
    req.should_stop = NULL;
    CHECK_OK(am_llm_chat(llm, &req, &text, &res));
    CHECK_MEM_EQ(text.ptr, text.len, "echo: hello");
    am_buf_free(&text);
    am_llm_free(llm);
    mock_http_stop(m);
}

/* ---- The rest of async.h's promises on the executor ---- */

static atomic_int freed_ctx;
static void count_free(void *ctx)
{
    (void)ctx;
    atomic_fetch_add(&freed_ctx, 1);
}

/* The worker drops its own reference just after the job is done, so the
 * job's memory (and free_ctx) may go a moment after am_job_free. */
static int wait_freed(int n)
{
    for (int i = 0; i < 20000 && atomic_load(&freed_ctx) < n; i++)
        sleep_ms(1);
    return atomic_load(&freed_ctx);
}

static am_status quick_run(am_job *job, void *ctx, am_error *err)
{
    (void)job;
    (void)ctx;
    (void)err;
    return AM_OK;
}

static bool fd_readable(am_executor *ex)
{
    struct pollfd pfd = { am_executor_fd(ex), POLLIN, 0 };
    return poll(&pfd, 1, 0) == 1 && (pfd.revents & POLLIN) != 0;
}

AM_TEST(executor_limits_defaults_free_ctx_and_the_completion_queue)
{
    am_executor_opts o = am_executor_opts_default();
    am_executor *ex = NULL;
    am_error err = { AM_OK, "" };
    am_job *job[4], *got[4];
    am_job_opts jo = { NULL, NULL, count_free, true };
    gate g[3];
    am_str one = AM_STR("x");

    /* Defaults and the documented ranges, both ends. */
    CHECK_EQ(o.threads, 2);
    CHECK_EQ(o.max_queued, 64);
    CHECK(o.alloc == NULL);
    o.threads = 257;
    CHECK_ST(am_executor_create(&o, &ex, &err), AM_EINVAL);
    CHECK_HAS(err.msg, "threads is 257");
    o.threads = 1;
    o.max_queued = ((size_t)1 << 20) + 1;
    CHECK_ST(am_executor_create(&o, &ex, &err), AM_EINVAL);
    CHECK_HAS(err.msg, "max_queued is 1048577");
    CHECK(ex == NULL);
    o.max_queued = (size_t)1 << 20;
    CHECK_OK_E(am_executor_create(&o, &ex, &err), &err);
    am_executor_free(ex);
    o.threads = 256;
    o.max_queued = 1;
    CHECK_OK_E(am_executor_create(&o, &ex, &err), &err);
    am_executor_free(ex);
    CHECK_EQ(am_executor_last_error(NULL)->code, AM_EINVAL);
    CHECK(!am_job_cancelled(NULL));
    CHECK(am_job_ctx(NULL) == NULL);

    /* free_ctx: not called for a refused submit, once for each job when
     * its memory goes (after am_job_free of a done job). */
    atomic_store(&freed_ctx, 0);
    ex = open_executor(1, 1);
    for (int i = 0; i < 3; i++)
        gate_init(&g[i]);
    CHECK_OK(am_executor_submit(ex, gate_run, &g[0], &jo, &job[0]));
    wait_started(&g[0]);
    CHECK_OK(am_executor_submit(ex, gate_run, &g[1], &jo, &job[1]));
    CHECK_ST(am_executor_submit(ex, gate_run, &g[2], &jo, &job[2]),
             AM_ELIMIT);
    CHECK_EQ(atomic_load(&freed_ctx), 0);
    /* Nothing done yet: nothing to reap, and reap does not block. */
    CHECK_EQ(am_executor_reap(ex, got, 4), 0);
    CHECK(!fd_readable(ex));
    atomic_store(&g[0].release, true);
    atomic_store(&g[1].release, true);
    CHECK(am_job_wait(job[0], 20000) && am_job_wait(job[1], 20000));
    /* Both on the completion queue, in completion order; the descriptor
     * stays readable until the queue is empty (level-triggered). */
    CHECK(fd_readable(ex));
    CHECK_EQ(am_executor_reap(ex, got, 1), 1);
    CHECK(got[0] == job[0]);
    CHECK(fd_readable(ex));
    CHECK_EQ(am_executor_reap(ex, got, 4), 1);
    CHECK(got[0] == job[1]);
    CHECK(!fd_readable(ex));
    CHECK_EQ(am_executor_reap(ex, got, 4), 0);
    am_job_free(job[0]);
    CHECK_EQ(wait_freed(1), 1);
    am_job_free(job[1]);
    CHECK_EQ(wait_freed(2), 2);

    /* am_job_free takes a done, unreaped job off the completion queue. */
    CHECK_OK(am_executor_submit(ex, quick_run, NULL, &jo, &job[3]));
    CHECK(am_job_wait(job[3], 20000));
    CHECK(fd_readable(ex));
    am_job_free(job[3]);
    CHECK_EQ(wait_freed(3), 3);
    CHECK(!fd_readable(ex));
    CHECK_EQ(am_executor_reap(ex, got, 4), 0);

    /* am_embed_submit: count 0, and NULL texts with a count. */
    am_embedder *h = NULL;
    CHECK_OK(am_embedder_hash_create(8, NULL, &h, NULL));
    CHECK_ST(am_embed_submit(ex, h, &one, 0, NULL, &job[0]), AM_EINVAL);
    CHECK(job[0] == NULL);
    CHECK_ST(am_embed_submit(ex, h, NULL, 1, NULL, &job[0]), AM_EINVAL);
    CHECK(job[0] == NULL);
    am_embedder_free(h);
    am_executor_free(ex);
}

/* ---- Submits while am_executor_free runs ---- */

/* What a submit made from inside the shutdown got back. */
typedef struct late_submit {
    am_executor *ex;
    gate g;              /* the running job's: started, never released */
    atomic_int status;   /* of the submit; -1: none made */
    char msg[256];       /* am_executor_last_error's, on that thread */
} late_submit;

static void submit_late(late_submit *l)
{
    am_job *job = NULL;
    am_status st = am_executor_submit(l->ex, quick_run, NULL, NULL, &job);
    snprintf(l->msg, sizeof l->msg, "%s", am_executor_last_error(l->ex)->msg);
    if (st == AM_OK)
        am_job_free(job);
    atomic_store(&l->status, (int)st);
}

/* A running job that submits once it is asked to stop: only
 * am_executor_free asks, so the submit is made while free runs (free waits
 * for this job), with no timing involved. */
static am_status submit_when_cancelled(am_job *job, void *ctx, am_error *err)
{
    late_submit *l = ctx;
    atomic_store(&l->g.started, true);
    while (!am_job_cancelled(job))
        sleep_ms(1);
    submit_late(l);
    return am__fail(err, AM_ECANCELED, "stopped");
}

/* The callback of a job still queued: am_executor_free runs it on its own
 * thread, after it has begun. */
static void submit_from_callback(am_job *job, void *ctx)
{
    (void)job;
    submit_late(ctx);
}

/* async.h: am_executor_submit answers AM_ESTATE while am_executor_free
 * runs, from the running jobs free waits for and from the callbacks of the
 * queued jobs it cancels; nothing is queued, and the executor's memory
 * outlives both. */
AM_TEST(submits_while_the_executor_is_freed_are_refused_with_estate)
{
    am_executor *ex = open_executor(1, 8);
    late_submit in_job, in_cb;
    am_job *running = NULL, *queued = NULL;

    memset(&in_job, 0, sizeof in_job);
    memset(&in_cb, 0, sizeof in_cb);
    in_job.ex = in_cb.ex = ex;
    gate_init(&in_job.g);
    gate_init(&in_cb.g);
    atomic_init(&in_job.status, -1);
    atomic_init(&in_cb.status, -1);
    CHECK_OK(am_executor_submit(ex, submit_when_cancelled, &in_job, NULL,
                                &running));
    wait_started(&in_job.g);
    /* One worker, busy: this one waits in the queue. */
    am_job_opts jo = { submit_from_callback, &in_cb, NULL, false };
    CHECK_OK(am_executor_submit(ex, quick_run, NULL, &jo, &queued));

    am_executor_free(ex);
    CHECK_EQ(atomic_load(&in_job.status), AM_ESTATE);
    CHECK_HAS(in_job.msg, "while the executor is being freed");
    CHECK_EQ(atomic_load(&in_cb.status), AM_ESTATE);
    CHECK_HAS(in_cb.msg, "while the executor is being freed");
    CHECK(am_job_wait(running, 0));
    CHECK_EQ(am_job_status(running), AM_ECANCELED);
    CHECK_EQ(am_job_status(queued), AM_ECANCELED);
    am_job_free(running);
    am_job_free(queued);
}
