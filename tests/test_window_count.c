/* test_window_count.c -- how the window functions count: one count for a
 * message list (trim's figures equal the billed count), the reply priming,
 * a named model's tokenizer, and the offline summary's budget. */
#include "window_fixture.h"

AM_TEST(offline_summary_budget_is_counted_with_the_counters_tokenizer)
{
    am_msg_list l = AM_MSG_LIST_INIT;
    am_tokenizer *tz = NULL;
    am_summarize_opts o = am_summarize_opts_default();
    am_summarize_result r = AM_SUMMARIZE_RESULT_INIT;
    size_t n = 0;
    if (am_tokenizer_create(AM_STR("gpt-4o"), NULL, &tz, NULL) != AM_OK) {
        fprintf(stderr, "o200k rank file not installed: skipped\n");
        return;
    }
    load(&l);
    o.keep_last = 2;
    o.counter.tokenizer = tz;
    for (size_t budget = 90; budget <= 200; budget += 10) {
        o.budget = budget;
        CHECK_OK(am_summarize(items(&l), l.count, &o, &r, NULL));
        CHECK_OK(am_tokenizer_count(tz, am_buf_str(&r.summary), NULL, &n,
                                    NULL));
        /* Lines are costed as printed (exactly); never over. */
        if (n > budget)
            fprintf(stderr, "budget %zu got %zu\n", budget, n);
        CHECK(n <= budget);
    }
    am_summarize_result_free(&r);
    am_tokenizer_free(tz);
    am_msg_list_free(&l);
}

AM_TEST(trim_summarize_and_middleware_count_for_a_named_model)
{
    am_msg_list l = AM_MSG_LIST_INIT;
    am_tokenizer *tz = NULL;
    am_counter c;
    am_trim_opts o = am_trim_opts_default();
    am_trim_result r = AM_TRIM_RESULT_INIT;
    am_summarize_opts so = am_summarize_opts_default();
    am_summarize_result sr = AM_SUMMARIZE_RESULT_INIT;
    am_summary_mw_opts mo = am_summary_mw_opts_default();
    am_summary_mw *mw = NULL;
    size_t exact = 0, est = 0;

    load(&l);
    CHECK_OK(am_tokenizer_create(AM_STR("gpt-4o"), NULL, &tz, NULL));
    memset(&c, 0, sizeof c);
    c.tokenizer = tz;
    for (size_t i = 0; i < l.count; i++) {
        size_t n = 0;
        CHECK_OK(am_count_msg(&c, l.items[i], &n, NULL));
        exact += n;
        CHECK_OK(am_count_msg(NULL, l.items[i], &n, NULL));
        est += n;
    }
    CHECK(exact != est);
    /* No model: the estimate; "estimate" too; a model: exact. */
    /* A list counts its messages plus 3 (reply priming). */
    CHECK_OK(am_trim(items(&l), l.count, &o, &r, NULL));
    CHECK_EQ(r.tokens_before, est + 3);
    o.model = "estimate";
    CHECK_OK(am_trim(items(&l), l.count, &o, &r, NULL));
    CHECK_EQ(r.tokens_before, est + 3);
    o.model = "gpt-4o";
    CHECK_OK(am_trim(items(&l), l.count, &o, &r, NULL));
    CHECK_EQ(r.tokens_before, exact + 3);
    am_trim_result_free(&r);

    so.keep_last = 2;
    so.model = "gpt-4o-2024-08-06";
    CHECK_OK(am_summarize(items(&l), l.count, &so, &sr, NULL));
    CHECK_EQ(sr.tokens_before, exact + 3);
    am_summarize_result_free(&sr);

    /* Exact counts cross a trigger set at the estimate; the estimate
     * does not. */
    CHECK(exact > est);
    mo.trigger_tokens = est;
    CHECK_OK(am_summary_mw_create(&mo, &mw, NULL));
    CHECK(!am_summary_mw_should(mw, items(&l), l.count));
    am_summary_mw_free(mw);
    mo.model = "gpt-4o";
    CHECK_OK(am_summary_mw_create(&mo, &mw, NULL));
    CHECK(am_summary_mw_should(mw, items(&l), l.count));
    am_summary_mw_free(mw);
    am_tokenizer_free(tz);
    am_msg_list_free(&l);
}

/* ---- One count for a message list ---- */

/* trim once reported 7,924 tokens for a result that `tokens count
 * --messages` counted as 7,984. The count of a list (trim's figures,
 * am_count_msgs) equals the billed count of the same messages in OpenAI
 * JSON (am_tokenizer_count_messages_json), with tool calls, names and
 * images. */
AM_TEST(trim_figure_equals_the_billed_count)
{
    static const char *const convs[] = {
        "[{\"role\":\"system\",\"content\":\"You are terse.\"},"
        "{\"role\":\"user\",\"name\":\"dana_s\",\"content\":\"What is the "
        "weather in Lisbon and in Porto?\"},"
        "{\"role\":\"assistant\",\"content\":null,\"tool_calls\":["
        "{\"id\":\"c1\",\"type\":\"function\",\"function\":{\"name\":"
        "\"weather\",\"arguments\":\"{\\\"city\\\":\\\"Lisbon\\\"}\"}},"
        "{\"id\":\"c2\",\"type\":\"function\",\"function\":{\"name\":"
        "\"weather\",\"arguments\":\"{\\\"city\\\":\\\"Porto\\\"}\"}}]},"
        "{\"role\":\"tool\",\"tool_call_id\":\"c1\",\"content\":\"21C "
        "sunny\"},"
        "{\"role\":\"tool\",\"tool_call_id\":\"c2\",\"content\":\"17C, "
        "rain later\"},"
        "{\"role\":\"assistant\",\"name\":\"helper\",\"content\":\"Lisbon: "
        "21C and sunny. Porto: 17C, rain later.\"}]",
        "[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":"
        "\"What is in this picture?\"},{\"type\":\"image_url\","
        "\"image_url\":{\"url\":\"https://example.com/cat.png\"}},"
        "{\"type\":\"text\",\"text\":\"Answer in one word.\"}]},"
        "{\"role\":\"assistant\",\"content\":\"Cat.\"}]",
        /* Reasoning and a refusal are text on both paths (the JSON
         * counter reads with the same reader, #11). */
        "[{\"role\":\"developer\",\"content\":\"Be exact.\"},"
        "{\"role\":\"user\",\"content\":\"Can I get a refund?\"},"
        "{\"role\":\"assistant\",\"reasoning_content\":\"Check the "
        "policy first.\",\"content\":[{\"type\":\"text\",\"text\":"
        "\"No.\"},{\"type\":\"refusal\",\"refusal\":\"I cannot "
        "refund that.\"}]}]",
        "[]",
    };
    am_tokenizer *tz = NULL;
    CHECK_OK(am_tokenizer_create(AM_STR("gpt-4o"), NULL, &tz, NULL));
    for (size_t i = 0; i < sizeof convs / sizeof convs[0]; i++) {
        am_msg_list l = AM_MSG_LIST_INIT;
        am_trim_result r = AM_TRIM_RESULT_INIT;
        am_trim_opts o = am_trim_opts_default();
        am_counter c = { tz, NULL, NULL };
        am_error err = { AM_OK, "" };
        size_t billed = 0, listed = 0;

        CHECK_OK_E(am_msgs_from_json(NULL, AM_FORMAT_OPENAI,
                                     am_str_c(convs[i]), &l, &err), &err);
        CHECK_OK(am_tokenizer_count_messages_json(tz, am_str_c(convs[i]),
                                                  &billed, NULL));
        CHECK_OK(am_count_msgs(&c, items(&l), l.count, &listed, NULL));
        CHECK_EQ(listed, l.count > 0 ? billed : 0);
        o.counter = c;
        CHECK_OK(am_trim(items(&l), l.count, &o, &r, NULL));
        CHECK_EQ(r.tokens_before, listed);
        CHECK_EQ(r.tokens_after, listed);
        /* A budget is on the same count: the whole list fits exactly
         * its own figure, and one token less drops something. */
        if (l.count > 2) {
            o.max_tokens = listed;
            CHECK_OK(am_trim(items(&l), l.count, &o, &r, NULL));
            CHECK_EQ(r.dropped_count, 0);
            o.max_tokens = listed - 1;
            CHECK_OK(am_trim(items(&l), l.count, &o, &r, NULL));
            CHECK(r.dropped_count > 0);
            CHECK(r.tokens_after <= listed - 1);
        }
        am_trim_result_free(&r);
        am_msg_list_free(&l);
    }
    am_tokenizer_free(tz);
}

/* ---- window.h promises not held elsewhere (audit, session 13) ---- */

static size_t count_seven(void *ctx, const am_msg *m)
{
    (void)ctx, (void)m;
    return 7;
}

/* The list count: 0 for nothing, 3 of priming over the messages' sum,
 * none with a count_msg callback; NULL arguments refused. */
AM_TEST(count_msgs_primes_the_reply_except_for_a_callback)
{
    am_msg_list l = AM_MSG_LIST_INIT;
    am_counter cb = { NULL, count_seven, NULL };
    size_t n = 99, one = 0, two = 0;
    am_error err = { AM_OK, "" };

    load(&l);
    CHECK_OK(am_count_msgs(NULL, items(&l), 0, &n, &err));
    CHECK_EQ(n, 0);
    CHECK_OK(am_count_msg(NULL, l.items[0], &one, &err));
    CHECK_OK(am_count_msg(NULL, l.items[1], &two, &err));
    CHECK_OK(am_count_msgs(NULL, items(&l), 2, &n, &err));
    CHECK_EQ(n, one + two + 3);
    CHECK_OK(am_count_msgs(&cb, items(&l), 2, &n, &err));
    CHECK_EQ(n, 14);
    CHECK_OK(am_count_msg(&cb, l.items[0], &n, &err));
    CHECK_EQ(n, 7);
    CHECK_ST(am_count_msgs(NULL, items(&l), 2, NULL, &err), AM_EINVAL);
    CHECK_ST(am_count_msgs(NULL, NULL, 2, &n, &err), AM_EINVAL);
    am_msg_list_free(&l);
}
