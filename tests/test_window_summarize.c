/* test_window_summarize.c -- summaries: am_summarize keeps the last
 * messages without splitting a group, summarizers split long input and
 * keep their small promises, and the middleware triggers and keeps a
 * running summary. */
#include "window_fixture.h"

/* ---- Summarize ---- */

AM_TEST(summarize_keep_last_exact_and_never_splits_a_group)
{
    am_msg_list l = AM_MSG_LIST_INIT;
    am_summarize_result r = AM_SUMMARIZE_RESULT_INIT;
    am_summarize_opts o = am_summarize_opts_default();
    char s[128];
    load(&l);
    o.keep_last = 3; /* 9,10,11 -- but 9 answers 8: the group 8..9 stays */
    CHECK_OK(am_summarize(items(&l), l.count, &o, &r, NULL));
    shape(&l, &r.messages, s);
    CHECK_STR_EQ(s, "0,-,8,9,10,11");
    CHECK_EQ(r.kept_count, 4);
    CHECK_EQ(r.summarized_count, 7);
    CHECK_EQ(r.original_count, 12);
    check_sendable(&r.messages);
    o.keep_last = 2; /* 10, 11: exact */
    o.budget = 100;
    CHECK_OK(am_summarize(items(&l), l.count, &o, &r, NULL));
    shape(&l, &r.messages, s);
    CHECK_STR_EQ(s, "0,-,10,11");
    CHECK_EQ(r.kept_count, 2);
    /* The summary kept the facts. */
    am_str t = am_msg_content_text(r.messages.items[1]);
    CHECK(strncmp(t.ptr, "[Compressed Summary] ", 21) == 0);
    CHECK(strstr(r.summary.ptr, "SK4711") != NULL);
    CHECK(strstr(r.summary.ptr, "QX7P2") != NULL);
    CHECK(strstr(r.summary.ptr, "prices x1 (0 ok, 1 failed)") != NULL);
    CHECK(strstr(r.summary.ptr, "Alice Berg") != NULL);
    CHECK(r.tokens_after < r.tokens_before);
    for (size_t keep = 0; keep <= 12; keep++) {
        o.keep_last = keep;
        CHECK_OK(am_summarize(items(&l), l.count, &o, &r, NULL));
        check_sendable(&r.messages);
        CHECK(r.kept_count >= (keep < 11 ? keep : 11));
    }
    am_summarize_result_free(&r);
    am_msg_list_free(&l);
}

/* A summarizer that records the largest input it was given. */
typedef struct probe {
    size_t calls, max_bytes;
} probe;

static am_status probe_sum(void *ctx, am_str prev, const am_msg *const *msgs,
                           size_t count, size_t budget, am_buf *out,
                           am_error *err)
{
    probe *p = ctx;
    am_buf t = AM_BUF_INIT;
    size_t bytes = prev.len;
    (void)budget;
    (void)err;
    for (size_t i = 0; i < count; i++) {
        am_buf_clear(&t);
        am_msg_text(msgs[i], &t);
        bytes += t.len;
    }
    am_buf_free(&t);
    p->calls++;
    if (bytes > p->max_bytes)
        p->max_bytes = bytes;
    am_buf_clear(out);
    return am_buf_appendf(out, "piece %zu", p->calls);
}

static const am_summarizer_vtable probe_vt = { "probe", probe_sum, NULL,
                                               NULL, NULL };

AM_TEST(summarizer_splits_long_input_into_pieces_under_its_limit)
{
    am_msg_list l = AM_MSG_LIST_INIT;
    am_summarizer *s = NULL;
    probe p = { 0, 0 };
    am_buf out = AM_BUF_INIT;
    char big[9000];
    am_msg *m = NULL;
    memset(big, 'x', sizeof big);
    for (int i = 0; i < 40; i++) {
        CHECK_OK(am_msg_create_text(NULL, AM_ROLE_USER,
                                    (am_str){ big, 500 }, &m, NULL));
        CHECK_OK(am_msg_list_push(&l, m));
        am_msg_free(m);
    }
    /* One message larger than a whole piece. */
    CHECK_OK(am_msg_create_text(NULL, AM_ROLE_USER,
                                (am_str){ big, sizeof big }, &m, NULL));
    CHECK_OK(am_msg_list_push(&l, m));
    am_msg_free(m);
    am_summarizer_opts so = am_summarizer_opts_default();
    so.input_limit = 1000;
    CHECK_OK(am_summarizer_create(&probe_vt, &p, &so, &s, NULL));
    CHECK_OK(am_summarizer_run(s, AM_STR(""), items(&l), l.count, 100, &out,
                               NULL));
    CHECK(p.calls > 5);
    /* Never more than the limit (1000 tokens ~ 3000 bytes pessimistic). */
    CHECK(p.max_bytes <= 3000);
    CHECK(strncmp(out.ptr, "piece", 5) == 0);
    am_buf_free(&out);
    am_summarizer_free(s);
    am_msg_list_free(&l);
}

AM_TEST(middleware_triggers_and_updates_running_summary_incrementally)
{
    am_msg_list l = AM_MSG_LIST_INIT, next = AM_MSG_LIST_INIT;
    am_summary_mw *mw = NULL;
    am_summary_mw_opts o = am_summary_mw_opts_default();
    am_summarize_result r = AM_SUMMARIZE_RESULT_INIT;
    am_error err = { AM_OK, "" };
    load(&l);
    CHECK_ST(am_summary_mw_create(&o, &mw, &err), AM_EINVAL);
    o.trigger_messages = 8;
    o.keep_last = 2;
    o.budget = 300;
    CHECK_OK(am_summary_mw_create(&o, &mw, NULL));
    CHECK(!am_summary_mw_should(mw, items(&l), 8));
    CHECK(am_summary_mw_should(mw, items(&l), 9));
    CHECK_OK(am_summary_mw_process(mw, items(&l), 6, &r, NULL));
    CHECK_EQ(r.messages.count, 6); /* under the trigger: unchanged */
    CHECK_OK(am_summary_mw_process(mw, items(&l), l.count, &r, NULL));
    CHECK_EQ(r.messages.count, 4);
    CHECK(strstr(am_summary_mw_summary(mw).ptr,
                 "Summary of 9 earlier messages") != NULL);
    /* Continue from the output plus new turns: only the new evictions are
     * summarized and merged; the counts add up. */
    for (size_t i = 0; i < r.messages.count; i++)
        CHECK_OK(am_msg_list_push(&next, r.messages.items[i]));
    for (size_t i = 1; i < 8; i++)
        CHECK_OK(am_msg_list_push(&next, l.items[i]));
    CHECK_OK(am_summary_mw_process(mw, items(&next), next.count, &r, NULL));
    CHECK(strstr(am_summary_mw_summary(mw).ptr,
                 "Summary of 16 earlier messages") != NULL);
    check_sendable(&r.messages);
    am_summarize_result_free(&r);
    am_summary_mw_free(mw);

    /* The token trigger. */
    o.trigger_messages = 0;
    o.trigger_tokens = 100;
    CHECK_OK(am_summary_mw_create(&o, &mw, NULL));
    CHECK(!am_summary_mw_should(mw, items(&l), 3));
    CHECK(am_summary_mw_should(mw, items(&l), l.count));
    CHECK_OK(am_summary_mw_process(mw, items(&l), l.count, &r, NULL));
    CHECK_EQ(r.kept_count, 2);
    check_sendable(&r.messages);
    am_summarize_result_free(&r);
    am_summary_mw_free(mw);
    am_msg_list_free(&next);
    am_msg_list_free(&l);
}

/* ---- window.h promises not held elsewhere (audit, session 13) ---- */

static am_status fixed_summary(void *ctx, am_str prev,
                               const am_msg *const *msgs, size_t count,
                               size_t budget, am_buf *out, am_error *err)
{
    (void)ctx, (void)prev, (void)msgs, (void)count, (void)budget, (void)err;
    am_buf_clear(out);
    return am_buf_append(out, "fixed", 5);
}

/* Summarizers: the checks of create and offline, the names, 0 spent when
 * a vtable does not say; the summary message's shape; nothing to
 * summarize gives the input back. */
AM_TEST(summarizers_and_the_summary_message_keep_their_small_promises)
{
    static const am_summarizer_vtable none = { "none", NULL, NULL, NULL,
                                               NULL };
    static const am_summarizer_vtable fixed = { "fixed-one", fixed_summary,
                                                NULL, NULL, NULL };
    am_summarizer_opts so = am_summarizer_opts_default();
    am_summarizer *s = NULL;
    am_summarize_opts o = am_summarize_opts_default();
    am_summarize_result r = AM_SUMMARIZE_RESULT_INIT;
    am_msg_list l = AM_MSG_LIST_INIT;
    char markers[AM_MEMCFG_TEXT_MAX + 1];
    am_str text;
    am_error err = { AM_OK, "" };

    CHECK_ST(am_summarizer_create(NULL, NULL, NULL, &s, &err), AM_EINVAL);
    CHECK_ST(am_summarizer_create(&none, NULL, NULL, &s, &err), AM_EINVAL);
    CHECK_OK(am_summarizer_create(&fixed, NULL, NULL, &s, &err));
    CHECK_STR_EQ(am_summarizer_name(s), "fixed-one");
    CHECK_EQ(am_summarizer_tokens_spent(s), 0);
    CHECK(am_summarizer_cost_spent(s) == 0.0);

    load(&l);
    o.summarizer = s;
    o.keep_last = 2;
    CHECK_OK_E(am_summarize(items(&l), l.count, &o, &r, &err), &err);
    /* system message 0, the summary, the last two. */
    CHECK_EQ(r.messages.count, 4);
    CHECK(r.messages.items[0] == l.items[0]);
    CHECK_EQ(am_msg_role(r.messages.items[1]), AM_ROLE_SYSTEM);
    CHECK_MEM_EQ(am_msg_name(r.messages.items[1]).ptr,
                 am_msg_name(r.messages.items[1]).len, "summary");
    text = am_msg_content_text(r.messages.items[1]);
    CHECK(text.len >= 20 && memcmp(text.ptr, "[Compressed Summary]", 20) == 0);
    CHECK(strstr(text.ptr, "fixed") != NULL);
    /* keep_last covering everything: the input back, unchanged. */
    o.keep_last = l.count;
    CHECK_OK(am_summarize(items(&l), l.count, &o, &r, &err));
    CHECK_EQ(r.messages.count, l.count);
    for (size_t i = 0; i < l.count; i++)
        CHECK(r.messages.items[i] == l.items[i]);
    CHECK_EQ(r.summarized_count, 0);
    am_summarize_result_free(&r);
    am_summarizer_free(s);
    am_summarizer_free(NULL);

    memset(markers, 'm', sizeof markers);
    so.markers = (am_str){ markers, sizeof markers };
    CHECK_ST(am_summarizer_offline(&so, &s, &err), AM_EINVAL);
    CHECK(strstr(err.msg, "markers") != NULL);
    CHECK_OK(am_summarizer_offline(NULL, &s, &err));
    CHECK_STR_EQ(am_summarizer_name(s), "offline");
    CHECK_EQ(am_summarizer_tokens_spent(s), 0);
    am_summarizer_free(s);
    am_msg_list_free(&l);
}
