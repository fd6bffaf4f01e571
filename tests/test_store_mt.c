/* test_store_mt.c -- one store handle shared by threads (with one
 * connection, or a pool on PostgreSQL), several handles (and processes)
 * on one file: no lost writes, no torn reads. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agentmem/store.h"
#include "harness.h"
#include "store_target.h"

#define THREADS 4
#define PER_THREAD 150

typedef struct job {
    am_store *s;        /* shared handle, or NULL: open our own */
    const char *path;
    int id;
    int failures;
} job;

static void *writer(void *arg)
{
    job *j = arg;
    am_store *s = j->s;
    if (s == NULL && am_store_open(j->path, NULL, &s, NULL) != AM_OK) {
        j->failures++;
        return NULL;
    }
    char tpart[16];
    snprintf(tpart, sizeof tpart, "t%d", j->id);
    am_str parts[2] = { AM_STR("mt"), am_str_c(tpart) };
    am_buf out = AM_BUF_INIT;
    for (int i = 0; i < PER_THREAD; i++) {
        char key[32], val[64];
        snprintf(key, sizeof key, "k%d", i);
        snprintf(val, sizeof val, "\"thread %d item %d shared words\"",
                 j->id, i);
        am_item_in it = { .ns = { parts, 2 }, .key = am_str_c(key),
                          .value = am_str_c(val) };
        if (am_store_put(s, &it) != AM_OK)
            j->failures++;
        /* Read back our own write and search while others write. */
        if (am_store_get(s, it.ns, it.key, &out) != AM_OK ||
            strcmp(out.ptr, val) != 0)
            j->failures++;
        if (i % 25 == 0) {
            am_results *r = NULL;
            am_search q = { .query = AM_STR("shared words"),
                            .mode = AM_SEARCH_TEXT, .limit = 5 };
            if (am_store_search(s, &q, &r) != AM_OK)
                j->failures++;
            am_results_free(r);
        }
    }
    am_buf_free(&out);
    if (j->s == NULL)
        am_store_close(s);
    return NULL;
}

static void count_all(const char *path, size_t want)
{
    am_store *s;
    am_results *r;
    am_str p = AM_STR("mt");
    CHECK_OK(am_store_open(path, NULL, &s, NULL));
    CHECK_OK(am_store_list(s, (am_ns){ &p, 1 }, 100000, 0, &r));
    CHECK_EQ(r->count, want);
    am_results_free(r);
    CHECK_OK(am_store_check(s));
    am_store_close(s);
}

AM_TEST(threads_share_one_handle_without_losing_writes)
{
    char *dir = test_tmpdir(), path[512];
    test_store_target(dir, "mt1.db", path, sizeof path);
    am_store *s;
    CHECK_OK(am_store_open(path, NULL, &s, NULL));
    pthread_t th[THREADS];
    job jobs[THREADS];
    for (int i = 0; i < THREADS; i++) {
        jobs[i] = (job){ s, path, i, 0 };
        CHECK_EQ(pthread_create(&th[i], NULL, writer, &jobs[i]), 0);
    }
    for (int i = 0; i < THREADS; i++) {
        pthread_join(th[i], NULL);
        CHECK_EQ(jobs[i].failures, 0);
    }
    am_store_close(s);
    count_all(path, THREADS * PER_THREAD);
    test_rmtree(dir);
    free(dir);
}

AM_TEST(threads_with_own_handles_on_one_file)
{
    char *dir = test_tmpdir(), path[512];
    test_store_target(dir, "mt2.db", path, sizeof path);
    am_store *s;
    CHECK_OK(am_store_open(path, NULL, &s, NULL)); /* create the schema */
    am_store_close(s);
    pthread_t th[THREADS];
    job jobs[THREADS];
    for (int i = 0; i < THREADS; i++) {
        jobs[i] = (job){ NULL, path, i, 0 };
        CHECK_EQ(pthread_create(&th[i], NULL, writer, &jobs[i]), 0);
    }
    for (int i = 0; i < THREADS; i++) {
        pthread_join(th[i], NULL);
        CHECK_EQ(jobs[i].failures, 0);
    }
    count_all(path, THREADS * PER_THREAD);
    test_rmtree(dir);
    free(dir);
}

AM_TEST(processes_write_one_file_concurrently)
{
    char *dir = test_tmpdir(), path[512];
    snprintf(path, sizeof path, "%s/mp.db", dir);
    pid_t pids[3];
    for (int p = 0; p < 3; p++) {
        pids[p] = fork();
        CHECK(pids[p] >= 0);
        if (pids[p] == 0) {
            job j = { NULL, path, 10 + p, 0 };
            writer(&j);
            _exit(j.failures == 0 ? 0 : 1);
        }
    }
    for (int p = 0; p < 3; p++) {
        int status;
        waitpid(pids[p], &status, 0);
        CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
    count_all(path, 3 * PER_THREAD);
    test_rmtree(dir);
    free(dir);
}

/* Threads embedding (outside the lock) while others search with vectors. */
static void *embed_worker(void *arg)
{
    job *j = arg;
    char tpart[16];
    snprintf(tpart, sizeof tpart, "e%d", j->id);
    am_str parts[2] = { AM_STR("emb"), am_str_c(tpart) };
    for (int i = 0; i < 60; i++) {
        char key[32], val[96];
        snprintf(key, sizeof key, "k%d", i);
        snprintf(val, sizeof val, "\"note %d of worker %d about gardens "
                 "and rivers\"", i, j->id);
        am_item_in it = { .ns = { parts, 2 }, .key = am_str_c(key),
                          .value = am_str_c(val) };
        if (am_store_put(j->s, &it) != AM_OK)
            j->failures++;
        am_results *r = NULL;
        am_search q = { .query = AM_STR("river garden notes"), .limit = 3 };
        if (am_store_search(j->s, &q, &r) != AM_OK || r->count == 0)
            j->failures++;
        am_results_free(r);
    }
    return NULL;
}

AM_TEST(threads_embed_and_hybrid_search_on_one_handle)
{
    char *dir = test_tmpdir(), path[512];
    am_embedder *e;
    am_store *s;
    test_store_target(dir, "emb.db", path, sizeof path);
    CHECK_OK(am_embedder_hash_create(64, NULL, &e, NULL));
    am_store_opts o = am_store_opts_default();
    o.embedder = e;
    CHECK_OK(am_store_open(path, &o, &s, NULL));
    pthread_t th[THREADS];
    job jobs[THREADS];
    for (int i = 0; i < THREADS; i++) {
        jobs[i] = (job){ s, path, i, 0 };
        CHECK_EQ(pthread_create(&th[i], NULL, embed_worker, &jobs[i]), 0);
    }
    for (int i = 0; i < THREADS; i++) {
        pthread_join(th[i], NULL);
        CHECK_EQ(jobs[i].failures, 0);
    }
    am_search q = { .query = AM_STR("gardens"), .mode = AM_SEARCH_VECTOR,
                    .limit = 1000 };
    am_results *r;
    CHECK_OK(am_store_search(s, &q, &r));
    CHECK_EQ(r->count, THREADS * 60);
    am_results_free(r);
    am_store_close(s);
    am_embedder_free(e);
    test_rmtree(dir);
    free(dir);
}

/* ---- A pool of connections (PostgreSQL) ---- */

AM_TEST(pool_size_is_checked_at_open)
{
    char *dir = test_tmpdir(), path[512];
    am_store *s = NULL;
    am_error err = { AM_OK, "" };
    test_store_target(dir, "poolcheck.db", path, sizeof path);
    am_store_opts o = am_store_opts_default();
    o.pool_size = AM_STORE_MAX_POOL + 1;
    CHECK_ST(am_store_open(path, &o, &s, &err), AM_EINVAL);
    CHECK(strstr(err.msg, "pool_size 17") != NULL);
    CHECK(s == NULL);
    o.pool_size = 2;
    if (test_store_is_sqlite()) {
        CHECK_ST(am_store_open(path, &o, &s, &err), AM_EUNSUPPORTED);
        CHECK(strstr(err.msg, "PostgreSQL") != NULL);
        CHECK(s == NULL);
    } else {
        CHECK_OK(am_store_open(path, &o, &s, &err));
        am_store_close(s);
    }
    test_rmtree(dir);
    free(dir);
}

/* An embedder that, once armed, stops the armed thread inside its next
 * call until the gate opens: a re-embed waiting there holds its
 * connection in an open transaction. */
typedef struct gate {
    am_embedder *inner;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t who;
    int armed, inside, open;
} gate;

static am_status gate_embed(void *ctx, const am_str *texts, size_t count,
                            float *out, am_error *err)
{
    gate *g = ctx;
    pthread_mutex_lock(&g->mu);
    if (g->armed && pthread_equal(g->who, pthread_self())) {
        g->inside = 1;
        pthread_cond_broadcast(&g->cv);
        while (!g->open)
            pthread_cond_wait(&g->cv, &g->mu);
    }
    pthread_mutex_unlock(&g->mu);
    return g->inner->embed(g->inner->ctx, texts, count, out, err);
}

/* Wait (30 s at most) until *flag is set; 0 on time out. */
static int gate_wait(gate *g, const int *flag)
{
    struct timespec until;
    int ok = 1;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 30;
    pthread_mutex_lock(&g->mu);
    while (!*flag && ok)
        ok = pthread_cond_timedwait(&g->cv, &g->mu, &until) == 0 || *flag;
    pthread_mutex_unlock(&g->mu);
    return ok;
}

typedef struct pool_job {
    am_store *s;
    gate *g;
    am_status st;
    int done, failures;
} pool_job;

static void *blocked_reembed(void *arg)
{
    pool_job *j = arg;
    size_t n = 0;
    pthread_mutex_lock(&j->g->mu);
    j->g->who = pthread_self();
    j->g->armed = 1;
    pthread_mutex_unlock(&j->g->mu);
    j->st = am_store_reembed(j->s, NULL, NULL, &n);
    return NULL;
}

/* Calls that must not wait for the blocked re-embed's connection. */
static void *side_calls(void *arg)
{
    pool_job *j = arg;
    am_str parts[1] = { AM_STR("pool") };
    am_ns ns = { parts, 1 };
    am_buf out = AM_BUF_INIT;
    am_results *r = NULL;
    am_search q = { .query = AM_STR("orchard"), .limit = 10 };
    am_item_in it = { .ns = ns, .key = AM_STR("k9"),
                      .value = AM_STR("\"a new orchard note\"") };
    if (am_store_get(j->s, ns, AM_STR("k1"), &out) != AM_OK ||
        strcmp(out.ptr, "\"orchard note 1\"") != 0)
        j->failures++;
    if (am_store_search(j->s, &q, &r) != AM_OK || r->count < 3)
        j->failures++;
    am_results_free(r);
    if (am_store_put(j->s, &it) != AM_OK)
        j->failures++;
    am_buf_free(&out);
    pthread_mutex_lock(&j->g->mu);
    j->done = 1;
    pthread_cond_broadcast(&j->g->cv);
    pthread_mutex_unlock(&j->g->mu);
    return NULL;
}

/* With pool_size 2, a call that sits in a long transaction on one
 * connection (a re-embed waiting for its embedder) leaves the other to
 * the handle's other threads: a get, a hybrid search and a put finish
 * meanwhile. With one connection they would wait for the re-embed. */
AM_TEST(a_pool_serves_other_threads_while_a_call_waits)
{
    char *dir = test_tmpdir(), path[512];
    am_store *s;
    gate g = { .armed = 0 };
    if (test_store_is_sqlite()) { /* one connection per SQLite handle */
        free(dir);
        return;
    }
    CHECK_OK(am_embedder_hash_create(32, NULL, &g.inner, NULL));
    pthread_mutex_init(&g.mu, NULL);
    pthread_cond_init(&g.cv, NULL);
    am_embedder e = { .id = g.inner->id, .dim = g.inner->dim,
                      .embed = gate_embed, .ctx = &g };
    am_store_opts o = am_store_opts_default();
    o.embedder = &e;
    o.pool_size = 2;
    test_store_target(dir, "pool.db", path, sizeof path);
    CHECK_OK(am_store_open(path, &o, &s, NULL));
    am_str parts[1] = { AM_STR("pool") };
    for (int i = 0; i < 3; i++) {
        char key[8], val[32];
        snprintf(key, sizeof key, "k%d", i);
        snprintf(val, sizeof val, "\"orchard note %d\"", i);
        am_item_in it = { .ns = { parts, 1 }, .key = am_str_c(key),
                          .value = am_str_c(val) };
        CHECK_OK(am_store_put(s, &it));
    }
    pool_job rj = { .s = s, .g = &g }, sj = { .s = s, .g = &g };
    pthread_t rt, st;
    CHECK_EQ(pthread_create(&rt, NULL, blocked_reembed, &rj), 0);
    int entered = gate_wait(&g, &g.inside);
    int side_done = 0;
    if (entered) {
        CHECK_EQ(pthread_create(&st, NULL, side_calls, &sj), 0);
        side_done = gate_wait(&g, &sj.done);
    }
    /* Open the gate before any check, so that every thread ends. */
    pthread_mutex_lock(&g.mu);
    g.open = 1;
    pthread_cond_broadcast(&g.cv);
    pthread_mutex_unlock(&g.mu);
    pthread_join(rt, NULL);
    if (entered)
        pthread_join(st, NULL);
    CHECK(entered);
    CHECK(side_done); /* finished while the re-embed held a connection */
    CHECK_EQ(sj.failures, 0);
    CHECK_OK(rj.st);
    am_results *r;
    CHECK_OK(am_store_list(s, (am_ns){ parts, 1 }, 100, 0, &r));
    CHECK_EQ(r->count, 4);
    am_results_free(r);
    am_store_close(s);
    pthread_cond_destroy(&g.cv);
    pthread_mutex_destroy(&g.mu);
    am_embedder_free(g.inner);
    test_rmtree(dir);
    free(dir);
}

/* Threads writing, reading and searching (text and hybrid) through one
 * pooled handle: its shared state (the vector cache, search statistics,
 * the write counter) under the handle's lock; run under TSan too. */
AM_TEST(threads_share_a_pooled_handle)
{
    char *dir = test_tmpdir(), path[512];
    am_embedder *e;
    am_store *s;
    if (test_store_is_sqlite()) {
        free(dir);
        return;
    }
    test_store_target(dir, "poolmt.db", path, sizeof path);
    CHECK_OK(am_embedder_hash_create(64, NULL, &e, NULL));
    am_store_opts o = am_store_opts_default();
    o.embedder = e;
    o.pool_size = 3;
    CHECK_OK(am_store_open(path, &o, &s, NULL));
    pthread_t th[THREADS];
    job jobs[THREADS];
    for (int i = 0; i < THREADS; i++) {
        jobs[i] = (job){ s, path, i, 0 };
        CHECK_EQ(pthread_create(&th[i], NULL,
                                i % 2 == 0 ? writer : embed_worker,
                                &jobs[i]), 0);
    }
    for (int i = 0; i < THREADS; i++) {
        pthread_join(th[i], NULL);
        CHECK_EQ(jobs[i].failures, 0);
    }
    am_search q = { .query = AM_STR("gardens"), .mode = AM_SEARCH_VECTOR,
                    .limit = 1000 };
    am_results *r;
    CHECK_OK(am_store_search(s, &q, &r));
    /* Every item has a vector: the writers' and the embed workers'. */
    CHECK_EQ(r->count, (THREADS / 2) * (PER_THREAD + 60));
    am_results_free(r);
    am_store_close(s);
    count_all(path, (THREADS / 2) * PER_THREAD);
    am_embedder_free(e);
    test_rmtree(dir);
    free(dir);
}
