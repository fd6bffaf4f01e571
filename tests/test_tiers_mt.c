/* test_tiers_mt.c -- one am_tiers handle shared by several threads (run
 * under ThreadSanitizer by `make tsan`). */
#include <pthread.h>
#include <stdlib.h>

#include "agentmem/tiers.h"
#include "harness.h"

#define THREADS 4
#define PER_THREAD 2000

typedef struct worker {
    am_tiers *t;
    int id;
    int failures;
} worker;

/* Count a failure and say which call failed, so that a rare interleaving
 * that breaks an operation is reported, not only counted. */
static void failed(worker *w, const char *what, const char *id,
                   am_status st)
{
    w->failures++;
    fprintf(stderr, "thread %d: %s(%s) -> %s: %s\n", w->id, what, id,
            am_status_str(st), am_tiers_last_error(w->t)->msg);
}

static void *work(void *arg)
{
    worker *w = arg;
    char id[32];
    am_buf out = AM_BUF_INIT;
    am_tier_hits h = AM_TIER_HITS_INIT;
    am_tier_query q = am_tier_query_default();
    am_str tag = AM_STR("shared");

    q.tags = &tag;
    q.tag_count = 1;
    q.limit = 50;
    for (int i = 0; i < PER_THREAD; i++) {
        am_tier_item_in in = am_tier_item_in_default();
        snprintf(id, sizeof id, "w%d-%d", w->id, i);
        in.content = am_str_c(id);
        in.tags = &tag;
        in.tag_count = 1;
        in.importance = (i % 10) / 10.0;
        am_status st;
        if ((st = am_tiers_store(w->t, am_str_c(id), &in)) != AM_OK)
            failed(w, "store", id, st);
        if ((st = am_tiers_retrieve(w->t, am_str_c(id), &out, NULL)) !=
            AM_OK)
            failed(w, "retrieve", id, st);
        else if (out.len != strlen(id) || memcmp(out.ptr, id, out.len) != 0)
            failed(w, "retrieve content", id, AM_OK);
        if (i % 100 == 0) {
            am_tier_stats s[AM_TIER_COUNT];
            if ((st = am_tiers_search(w->t, &q, &h)) != AM_OK)
                failed(w, "search", id, st);
            if ((st = am_tiers_optimize(w->t, NULL)) != AM_OK)
                failed(w, "optimize", id, st);
            if ((st = am_tiers_stats(w->t, s)) != AM_OK)
                failed(w, "stats", id, st);
            if ((st = am_tiers_apply_policies(w->t, NULL, 0, NULL)) != AM_OK)
                failed(w, "apply_policies", id, st);
            if ((st = am_tiers_flush(w->t)) != AM_OK)
                failed(w, "flush", id, st);
        }
        if (i % 50 == 0 &&
            (st = am_tiers_archive(w->t, am_str_c(id))) != AM_OK)
            failed(w, "archive", id, st);
        /* Another thread's search counts as an access and may promote the
         * item out of the archive before we restore it: then restore says
         * AM_ESTATE, and the content must still be intact. */
        if (i % 50 == 0) {
            st = am_tiers_restore(w->t, am_str_c(id));
            if (st == AM_ESTATE)
                st = am_tiers_retrieve(w->t, am_str_c(id), &out, NULL);
            if (st != AM_OK)
                failed(w, "restore", id, st);
            else if (out.len != strlen(id) ||
                     memcmp(out.ptr, id, out.len) != 0)
                failed(w, "restore content", id, AM_OK);
        }
    }
    am_buf_free(&out);
    am_tier_hits_free(&h);
    return NULL;
}

AM_TEST(threads_share_one_handle)
{
    test_clock clk = { 1700000000000LL };
    am_clock c = test_clock_make(&clk);
    am_tiers_opts o = am_tiers_opts_default();
    am_tiers *t = NULL;
    pthread_t th[THREADS];
    worker w[THREADS];
    char *dir = test_tmpdir();
    char db[4200];
    am_tier_hits h = AM_TIER_HITS_INIT;
    am_tier_query q = am_tier_query_default();

    snprintf(db, sizeof db, "%s/mt.db", dir);
    o.clock = &c;
    o.db_path = db;
    o.capacity[AM_TIER_WORKING] = 50;
    o.capacity[AM_TIER_SHORT_TERM] = 500;
    CHECK_OK(am_tiers_open(&o, &t, NULL));
    for (int i = 0; i < THREADS; i++) {
        w[i].t = t;
        w[i].id = i;
        w[i].failures = 0;
        CHECK_EQ(pthread_create(&th[i], NULL, work, &w[i]), 0);
    }
    for (int i = 0; i < THREADS; i++) {
        pthread_join(th[i], NULL);
        CHECK_EQ(w[i].failures, 0);
    }
    CHECK_EQ(am_tiers_count(t), THREADS * PER_THREAD);
    CHECK_OK(am_tiers_close(t, NULL));

    CHECK_OK(am_tiers_open(&o, &t, NULL));
    CHECK_EQ(am_tiers_count(t), THREADS * PER_THREAD);
    q.flags = AM_TIER_PEEK;
    CHECK_OK(am_tiers_search(t, &q, &h));
    CHECK_EQ(h.count, THREADS * PER_THREAD);
    am_tier_hits_free(&h);
    am_tiers_close(t, NULL);
    test_rmtree(dir);
    free(dir);
}

/* Archiving many items at once compresses on worker threads. */
AM_TEST(mass_archive_on_worker_threads_is_byte_identical)
{
    test_clock clk = { 1700000000000LL };
    am_clock c = test_clock_make(&clk);
    am_tiers_opts o = am_tiers_opts_default();
    am_tiers *t = NULL;
    am_tier_policy_count pc[4];
    am_tier_stats s[AM_TIER_COUNT];
    am_buf out = AM_BUF_INIT;
    char id[32], content[600];
    uint64_t moves = 0;
    /* The test allocator is not thread-safe: under TSan, a worker that
     * called it (a zstd context allocating on its thread) would race with
     * the calling thread. Its books must also balance at the end. */
    test_alloc ta = { 0 };
    am_allocator a = test_alloc_make(&ta);

    o.alloc = &a;
    o.clock = &c;
    o.capacity[AM_TIER_WORKING] = 0;
    o.capacity[AM_TIER_SHORT_TERM] = 0;
    o.threads = 4;
    CHECK_OK(am_tiers_open(&o, &t, NULL));
    for (int i = 0; i < 3000; i++) {
        am_tier_item_in in = am_tier_item_in_default();
        snprintf(id, sizeof id, "m%04d", i);
        for (int k = 0; k < (int)sizeof content; k++)
            content[k] = (char)('a' + (i * 7 + k * (k % 5)) % 26);
        in.content.ptr = content;
        in.content.len = 100 + (size_t)i % 500;
        in.importance = i % 3 == 0 ? 0.5 : 0.1;
        CHECK_OK(am_tiers_store(t, am_str_c(id), &in));
    }
    clk.now_ms += 31LL * 86400000;
    CHECK_OK(am_tiers_apply_policies(t, pc, 4, NULL));
    CHECK_EQ(pc[0].acted, 2000);
    CHECK_OK(am_tiers_stats(t, s));
    CHECK_EQ(s[AM_TIER_ARCHIVE].count, 2000);
    CHECK(s[AM_TIER_ARCHIVE].stored_bytes < s[AM_TIER_ARCHIVE].content_bytes);
    CHECK_OK(am_tiers_moves(t, 0, NULL, NULL, &moves));
    CHECK_EQ(moves, 2000);
    for (int i = 0; i < 3000; i++) {
        snprintf(id, sizeof id, "m%04d", i);
        for (int k = 0; k < (int)sizeof content; k++)
            content[k] = (char)('a' + (i * 7 + k * (k % 5)) % 26);
        CHECK_OK(am_tiers_peek(t, am_str_c(id), &out, NULL));
        CHECK_EQ(out.len, 100 + (size_t)i % 500);
        CHECK(memcmp(out.ptr, content, out.len) == 0);
    }
    am_buf_free(&out);
    CHECK_OK(am_tiers_close(t, NULL));
    CHECK_EQ(ta.live_blocks, 0);
}
