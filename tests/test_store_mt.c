/* test_store_mt.c -- one store handle shared by threads, several handles
 * (and processes) on one file: no lost writes, no torn reads. */
#include <pthread.h>
#include <stdlib.h>
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
