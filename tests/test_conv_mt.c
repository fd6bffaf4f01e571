/* test_conv_mt.c -- one conversation and one manager shared by 8 threads.
 * Run under ThreadSanitizer by `make tsan`; here the checks are that the
 * counts add up and that every reader sees a consistent conversation. */
#include <pthread.h>
#include <stdlib.h>

#include "agentmem/conv.h"
#include "harness.h"

#define THREADS 8
#define ROUNDS 400

typedef struct shared {
    am_conv *conv;
    am_convmgr *mgr;
    int id;
    int failures;
} shared;

static void *conv_worker(void *arg)
{
    shared *s = arg;
    am_msg_list l = AM_MSG_LIST_INIT;
    am_buf b = AM_BUF_INIT;
    char text[32];

    for (int i = 0; i < ROUNDS; i++) {
        am_msg *m = NULL;
        am_conv_stats st;
        snprintf(text, sizeof text, "t%d-%d", s->id, i);
        if (am_conv_add_text(s->conv, i % 2 ? AM_ROLE_ASSISTANT
                                            : AM_ROLE_USER,
                             am_str_c(text)) != AM_OK)
            s->failures++;
        if (am_conv_get(s->conv, 0, &m) != AM_OK ||
            am_msg_role(m) != AM_ROLE_SYSTEM)
            s->failures++;
        am_msg_free(m);
        if (i % 16 == 0) {
            am_msg_list_clear(&l);
            if (am_conv_recent(s->conv, 5, &l) != AM_OK || l.count != 5)
                s->failures++;
            am_msg_list_clear(&l);
            if (am_conv_by_role(s->conv, AM_ROLE_SYSTEM, &l) != AM_OK ||
                l.count != 1)
                s->failures++;
            if (am_conv_stats_get(s->conv, &st) != AM_OK ||
                st.by_role[AM_ROLE_SYSTEM] != 1)
                s->failures++;
        }
        if (i % 64 == 0 &&
            am_conv_to_json(s->conv, AM_FORMAT_OPENAI, 0, &b) != AM_OK)
            s->failures++;
    }
    am_msg_list_free(&l);
    am_buf_free(&b);
    return NULL;
}

AM_TEST(eight_threads_share_one_conversation)
{
    am_conv_opts o = am_conv_opts_default();
    shared sh[THREADS];
    pthread_t th[THREADS];
    am_conv *c = NULL;

    o.max_messages = 1000;
    CHECK_OK(am_conv_create(&o, &c, NULL));
    CHECK_OK(am_conv_add_text(c, AM_ROLE_SYSTEM, AM_STR("rules")));
    for (int i = 0; i < 8; i++)
        CHECK_OK(am_conv_add_text(c, AM_ROLE_USER, AM_STR("seed")));
    for (int i = 0; i < THREADS; i++) {
        sh[i] = (shared){ c, NULL, i, 0 };
        CHECK_EQ(pthread_create(&th[i], NULL, conv_worker, &sh[i]), 0);
    }
    for (int i = 0; i < THREADS; i++) {
        CHECK_EQ(pthread_join(th[i], NULL), 0);
        CHECK_EQ(sh[i].failures, 0);
    }
    /* 9 + 8 * 400 added, capped at 1000 with the system message kept. */
    CHECK_EQ(am_conv_count(c), 1000);
    am_conv_free(c);
}

static void *mgr_worker(void *arg)
{
    shared *s = arg;
    static const char *const names[] = { "alpha", "beta", "gamma", "delta" };

    for (int i = 0; i < ROUNDS; i++) {
        const char *name = names[(i + s->id) % 4];
        am_conv *c = NULL;
        if (am_convmgr_get(s->mgr, am_str_c(name), &c) != AM_OK) {
            s->failures++;
            continue;
        }
        if (am_conv_add_text(c, AM_ROLE_USER, AM_STR("hello")) != AM_OK)
            s->failures++;
        switch (i % 50) {
        case 7:
            if (am_convmgr_end_run(s->mgr) != AM_OK)
                s->failures++;
            break;
        case 19:
            if (am_convmgr_clear(s->mgr, am_str_c(name)) != AM_OK)
                s->failures++;
            break;
        case 31:
            if (am_convmgr_set_retention(s->mgr, AM_STR("beta"),
                                         (s->id + i) % 2
                                             ? AM_RETAIN_SINGLE_RUN
                                             : AM_RETAIN_SESSION) != AM_OK)
                s->failures++;
            break;
        case 43:
            if (am_convmgr_clear_all(s->mgr) != AM_OK)
                s->failures++;
            break;
        default:
            (void)am_conv_count(c);
            (void)am_convmgr_retention(s->mgr, am_str_c(name));
        }
    }
    return NULL;
}

AM_TEST(eight_threads_share_one_manager_with_a_persistent_agent)
{
    char *dir = test_tmpdir();
    am_convmgr_opts o = am_convmgr_opts_default();
    shared sh[THREADS];
    pthread_t th[THREADS];
    am_convmgr *m = NULL;
    am_conv *c;
    size_t before;

    o.dir = dir;
    o.no_sync = true;
    o.max_messages_per_agent = 200;
    CHECK_OK(am_convmgr_open(&o, &m, NULL));
    CHECK_OK(am_convmgr_set_retention(m, AM_STR("gamma"),
                                      AM_RETAIN_PERSISTENT));
    for (int i = 0; i < THREADS; i++) {
        sh[i] = (shared){ NULL, m, i, 0 };
        CHECK_EQ(pthread_create(&th[i], NULL, mgr_worker, &sh[i]), 0);
    }
    for (int i = 0; i < THREADS; i++) {
        CHECK_EQ(pthread_join(th[i], NULL), 0);
        CHECK_EQ(sh[i].failures, 0);
    }
    CHECK_OK(am_convmgr_get(m, AM_STR("gamma"), &c));
    before = am_conv_count(c);
    am_convmgr_close(m);
    /* The persistent agent's log replays to the same contents. */
    CHECK_OK(am_convmgr_open(&o, &m, NULL));
    CHECK_OK(am_convmgr_get(m, AM_STR("gamma"), &c));
    CHECK_EQ(am_conv_count(c), before);
    am_convmgr_close(m);
    test_rmtree(dir);
    free(dir);
}
