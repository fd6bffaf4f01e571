/* test_context_mt.c -- what window.h calls "safe": one offline summarizer
 * and one set of frozen messages shared by several threads that trim and
 * summarize at once, each with its own result. Run under TSan by
 * `make tsan`. */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "agentmem/window.h"
#include "harness.h"

#define THREADS 4

typedef struct shared {
    am_msg_list msgs;
    am_summarizer *sum;
    size_t want_kept[3];
    char want_summary[4096];
} shared;

typedef struct job {
    shared *s;
    int failures;
} job;

static void *worker(void *arg)
{
    job *j = arg;
    shared *s = j->s;
    for (int round = 0; round < 20; round++) {
        am_trim_opts o = am_trim_opts_default();
        am_trim_result r = AM_TRIM_RESULT_INIT;
        am_summarize_opts so = am_summarize_opts_default();
        am_summarize_result sr = AM_SUMMARIZE_RESULT_INIT;
        static const size_t budgets[3] = { 200, 800, 3000 };
        for (int b = 0; b < 3; b++) {
            o.max_tokens = budgets[b];
            if (am_trim((const am_msg *const *)s->msgs.items, s->msgs.count,
                        &o, &r, NULL) != AM_OK ||
                r.messages.count != s->want_kept[b])
                j->failures++;
        }
        so.keep_last = 4;
        so.budget = 200;
        so.summarizer = s->sum;
        if (am_summarize((const am_msg *const *)s->msgs.items,
                         s->msgs.count, &so, &sr, NULL) != AM_OK ||
            strcmp(sr.summary.ptr, s->want_summary) != 0)
            j->failures++;
        am_trim_result_free(&r);
        am_summarize_result_free(&sr);
    }
    return NULL;
}

AM_TEST(shared_messages_and_summarizer_across_threads)
{
    shared s;
    pthread_t th[THREADS];
    job jobs[THREADS];
    am_msg *m = NULL;
    memset(&s, 0, sizeof s);
    for (int i = 0; i < 60; i++) {
        char text[200];
        snprintf(text, sizeof text, "Message %d: ticket T-%d was escalated "
                 "to Maria Lopez on 2025-02-%02d. Decided to refund.", i,
                 100 + i, 1 + i % 28);
        CHECK_OK(am_msg_create_text(NULL, i % 2 ? AM_ROLE_ASSISTANT
                                                : AM_ROLE_USER,
                                    am_str_c(text), &m, NULL));
        CHECK_OK(am_msg_list_push(&s.msgs, m));
        am_msg_free(m);
    }
    CHECK_OK(am_summarizer_offline(NULL, &s.sum, NULL));
    /* Expected results, computed once on this thread. */
    {
        am_trim_opts o = am_trim_opts_default();
        am_trim_result r = AM_TRIM_RESULT_INIT;
        am_summarize_opts so = am_summarize_opts_default();
        am_summarize_result sr = AM_SUMMARIZE_RESULT_INIT;
        static const size_t budgets[3] = { 200, 800, 3000 };
        for (int b = 0; b < 3; b++) {
            o.max_tokens = budgets[b];
            CHECK_OK(am_trim((const am_msg *const *)s.msgs.items,
                             s.msgs.count, &o, &r, NULL));
            s.want_kept[b] = r.messages.count;
        }
        so.keep_last = 4;
        so.budget = 200;
        so.summarizer = s.sum;
        CHECK_OK(am_summarize((const am_msg *const *)s.msgs.items,
                              s.msgs.count, &so, &sr, NULL));
        snprintf(s.want_summary, sizeof s.want_summary, "%s", sr.summary.ptr);
        am_trim_result_free(&r);
        am_summarize_result_free(&sr);
    }
    for (int i = 0; i < THREADS; i++) {
        jobs[i].s = &s;
        jobs[i].failures = 0;
        CHECK_EQ(pthread_create(&th[i], NULL, worker, &jobs[i]), 0);
    }
    for (int i = 0; i < THREADS; i++) {
        pthread_join(th[i], NULL);
        CHECK_EQ(jobs[i].failures, 0);
    }
    am_summarizer_free(s.sum);
    am_msg_list_free(&s.msgs);
}
