/* test_window.c -- trimming on real messages: parallel tool calls,
 * results out of order, cuts that land inside a group, for every strategy;
 * the options' defaults and the arguments trim refuses. Counting is in
 * test_window_count.c, summaries and the middleware in
 * test_window_summarize.c, randomized histories in test_window_random.c,
 * running out of memory in test_window_oom.c. */
#include "window_fixture.h"

AM_TEST(trim_every_budget_gives_a_sendable_history)
{
    am_msg_list l = AM_MSG_LIST_INIT;
    am_trim_result r = AM_TRIM_RESULT_INIT;
    am_trim_opts o = am_trim_opts_default();
    size_t total = 0;
    load(&l);
    for (size_t i = 0; i < l.count; i++)
        total += count_of(l.items[i]);
    for (int strat = AM_TRIM_LAST; strat <= AM_TRIM_TOKENS; strat++) {
        for (size_t budget = 1; budget <= total + 2; budget++) {
            o.strategy = (am_trim_strategy)strat;
            o.max_tokens = budget;
            o.max_messages = 0;
            CHECK_OK(am_trim(items(&l), l.count, &o, &r, NULL));
            check_sendable(&r.messages);
            /* The list's count: its messages plus 3 (reply priming). */
            CHECK_EQ(r.tokens_before, total + 3);
            /* System messages are kept past the budget; otherwise fits. */
            if (budget >= count_of(l.items[0]) + 3)
                CHECK(r.tokens_after <= budget);
            CHECK_EQ(r.messages.count + r.dropped_count, l.count);
        }
        for (size_t n = 1; n <= 13; n++) {
            if (strat == AM_TRIM_TOKENS)
                break;
            o.strategy = (am_trim_strategy)strat;
            o.max_tokens = 0;
            o.max_messages = n;
            CHECK_OK(am_trim(items(&l), l.count, &o, &r, NULL));
            check_sendable(&r.messages);
            CHECK(r.messages.count <= n || n == 0);
        }
    }
    am_trim_result_free(&r);
    am_msg_list_free(&l);
}

AM_TEST(trim_last_n_keeps_the_parallel_group_whole_or_not_at_all)
{
    am_msg_list l = AM_MSG_LIST_INIT;
    am_trim_result r = AM_TRIM_RESULT_INIT;
    am_trim_opts o = am_trim_opts_default();
    char s[128];
    load(&l);
    o.max_messages = 8; /* system + 7: the cut lands inside 2..5 */
    CHECK_OK(am_trim(items(&l), l.count, &o, &r, NULL));
    shape(&l, &r.messages, s);
    CHECK_STR_EQ(s, "0,6,7,8,9,10,11");
    CHECK_EQ(r.dropped_count, 5);
    CHECK_EQ(r.dropped[0], 1);
    CHECK_EQ(r.dropped[4], 5);
    o.max_messages = 12;
    CHECK_OK(am_trim(items(&l), l.count, &o, &r, NULL));
    shape(&l, &r.messages, s);
    CHECK_STR_EQ(s, "0,1,2,3,4,5,6,7,8,9,10,11");
    o.max_messages = 11;
    o.start_on_user = true;
    CHECK_OK(am_trim(items(&l), l.count, &o, &r, NULL));
    shape(&l, &r.messages, s);
    CHECK_STR_EQ(s, "0,7,8,9,10,11");
    am_trim_result_free(&r);
    am_msg_list_free(&l);
}

AM_TEST(trim_first_n_and_end_on_role)
{
    am_msg_list l = AM_MSG_LIST_INIT;
    am_trim_result r = AM_TRIM_RESULT_INIT;
    am_trim_opts o = am_trim_opts_default();
    char s[128];
    load(&l);
    o.strategy = AM_TRIM_FIRST;
    o.max_messages = 4;
    CHECK_OK(am_trim(items(&l), l.count, &o, &r, NULL));
    shape(&l, &r.messages, s);
    CHECK_STR_EQ(s, "0,1");
    o.max_messages = 9;
    o.end_on_role = AM_ROLE_USER;
    CHECK_OK(am_trim(items(&l), l.count, &o, &r, NULL));
    shape(&l, &r.messages, s);
    CHECK_STR_EQ(s, "0,1,2,3,4,5,6,7");
    am_trim_result_free(&r);
    am_msg_list_free(&l);
}

AM_TEST(trim_partial_cuts_on_a_utf8_boundary_and_keeps_input)
{
    am_msg_list l = AM_MSG_LIST_INIT;
    am_trim_result r = AM_TRIM_RESULT_INIT;
    am_trim_opts o = am_trim_opts_default();
    size_t sys, last;
    am_str before;
    load(&l);
    before = am_msg_content_text(l.items[11]);
    sys = count_of(l.items[0]);
    last = count_of(l.items[11]);
    o.max_tokens = sys + last - 5;
    o.allow_partial = true;
    CHECK_OK(am_trim(items(&l), l.count, &o, &r, NULL));
    CHECK_EQ(r.messages.count, 2);
    CHECK_EQ(r.partial_index, 11);
    am_str cut = am_msg_content_text(r.messages.items[1]);
    CHECK(cut.len < before.len);
    CHECK(cut.len > 0);
    /* The tail of the text, starting on a character boundary. */
    CHECK(memcmp(cut.ptr, before.ptr + before.len - cut.len, cut.len) == 0);
    CHECK(((unsigned char)cut.ptr[0] & 0xC0) != 0x80);
    CHECK(r.tokens_after <= o.max_tokens);
    /* The input message is untouched. */
    CHECK_EQ(am_msg_content_text(l.items[11]).len, before.len);
    CHECK(am_msg_id(r.messages.items[1]).len == am_msg_id(l.items[11]).len);

    /* FIRST keeps the head; a cut would land in the group 2..5: none. */
    o.strategy = AM_TRIM_FIRST;
    o.max_tokens = sys + count_of(l.items[1]) + 6;
    CHECK_OK(am_trim(items(&l), l.count, &o, &r, NULL));
    CHECK_EQ(r.messages.count, 2);
    CHECK_EQ(r.partial_index, SIZE_MAX);
    am_trim_result_free(&r);
    am_msg_list_free(&l);
}

AM_TEST(trim_orphans_are_dropped_and_reported)
{
    am_msg_list l = AM_MSG_LIST_INIT;
    am_trim_result r = AM_TRIM_RESULT_INIT;
    am_trim_opts o = am_trim_opts_default();
    am_error err = { AM_OK, "" };
    CHECK_OK(am_msgs_from_json(
        NULL, AM_FORMAT_AGENTMEM,
        AM_STR("[{\"role\":\"tool\",\"tool_call_id\":\"zz\",\"content\":"
               "\"stale\"},{\"role\":\"user\",\"content\":\"hi\"}]"),
        &l, &err));
    CHECK_OK(am_trim(items(&l), l.count, &o, &r, NULL));
    CHECK_EQ(r.orphans, 1);
    CHECK_EQ(r.messages.count, 1);
    CHECK_EQ(am_msg_role(r.messages.items[0]), AM_ROLE_USER);
    o.strategy = AM_TRIM_TOKENS;
    CHECK_ST(am_trim(items(&l), l.count, &o, &r, &err), AM_EINVAL);
    CHECK(strstr(err.msg, "max_tokens") != NULL);
    o.strategy = AM_TRIM_LAST;
    o.end_on_role = 9;
    CHECK_ST(am_trim(items(&l), l.count, &o, &r, &err), AM_EINVAL);
    am_trim_result_free(&r);
    am_msg_list_free(&l);
}

/* An OpenAI-Responses-style reasoning item as its own message, before the
 * assistant turn that calls tools: the three travel together. */
AM_TEST(trim_keeps_reasoning_items_with_their_turn)
{
    am_msg_list l = AM_MSG_LIST_INIT;
    am_trim_result r = AM_TRIM_RESULT_INIT;
    am_trim_opts o = am_trim_opts_default();
    am_msg *m = NULL;
    am_part p;
    am_tool_call tc = { AM_STR("r1"), AM_STR("function"), AM_STR("search"),
                        AM_STR("{}"), AM_STR("") };
    CHECK_OK(am_msg_create_text(NULL, AM_ROLE_USER, AM_STR("Find it."), &m,
                                NULL));
    CHECK_OK(am_msg_list_push(&l, m));
    am_msg_free(m);
    CHECK_OK(am_msg_create(NULL, AM_ROLE_ASSISTANT, &m, NULL));
    memset(&p, 0, sizeof p);
    p.type = AM_PART_REASONING;
    p.json = AM_STR("{\"type\":\"reasoning\",\"id\":\"rs_1\",\"summary\":[]}");
    CHECK_OK(am_msg_add_part(m, &p, NULL));
    CHECK_OK(am_msg_list_push(&l, m));
    am_msg_free(m);
    CHECK_OK(am_msg_create(NULL, AM_ROLE_ASSISTANT, &m, NULL));
    CHECK_OK(am_msg_add_tool_call(m, &tc, NULL));
    CHECK_OK(am_msg_list_push(&l, m));
    am_msg_free(m);
    CHECK_OK(am_msg_create_text(NULL, AM_ROLE_TOOL, AM_STR("found"), &m,
                                NULL));
    CHECK_OK(am_msg_set_tool_call_id(m, AM_STR("r1"), NULL));
    CHECK_OK(am_msg_list_push(&l, m));
    am_msg_free(m);
    for (size_t n = 1; n <= 4; n++) {
        o.max_messages = n;
        CHECK_OK(am_trim(items(&l), l.count, &o, &r, NULL));
        /* 1-2: nothing fits (the group is 3 messages); 3: the group;
         * 4: everything. */
        CHECK_EQ(r.messages.count, n < 3 ? 0 : n);
        if (n == 3)
            CHECK(r.messages.items[0] == l.items[1]);
    }
    am_trim_result_free(&r);
    am_msg_list_free(&l);
}

AM_TEST(bad_arguments_are_named)
{
    am_msg_list l = AM_MSG_LIST_INIT;
    am_trim_result r = AM_TRIM_RESULT_INIT;
    am_summarize_result sr = AM_SUMMARIZE_RESULT_INIT;
    const am_msg *with_null[3];
    am_error err = { AM_OK, "" };
    load(&l);
    with_null[0] = l.items[0];
    with_null[1] = NULL;
    with_null[2] = l.items[1];
    CHECK_ST(am_trim(with_null, 3, NULL, &r, &err), AM_EINVAL);
    CHECK(strstr(err.msg, "message 1") != NULL);
    CHECK_ST(am_summarize(with_null, 3, NULL, &sr, &err), AM_EINVAL);
    CHECK(strstr(err.msg, "message 1") != NULL);
    CHECK_ST(am_trim(NULL, 2, NULL, &r, &err), AM_EINVAL);
    CHECK_ST(am_trim(items(&l), l.count, NULL, NULL, &err), AM_EINVAL);
    /* Nothing at all is fine. */
    CHECK_OK(am_trim(NULL, 0, NULL, &r, &err));
    CHECK_EQ(r.messages.count, 0);
    CHECK_OK(am_summarize(NULL, 0, NULL, &sr, &err));
    CHECK_EQ(sr.messages.count, 0);
    am_trim_result_free(&r);
    am_summarize_result_free(&sr);
    am_msg_list_free(&l);
}

/* ---- window.h promises not held elsewhere (audit, session 13) ---- */

/* Defaults of the three option structs; trim's AM_EINVAL cases, which
 * release what `res` held and leave it empty. */
AM_TEST(window_defaults_and_bad_trim_options_are_what_the_header_says)
{
    am_trim_opts t = am_trim_opts_default();
    am_summarize_opts s = am_summarize_opts_default();
    am_summary_mw_opts w = am_summary_mw_opts_default();
    am_summarizer_opts so = am_summarizer_opts_default();
    am_msg_list l = AM_MSG_LIST_INIT;
    am_trim_result r = AM_TRIM_RESULT_INIT;
    am_summary_mw *mw = (am_summary_mw *)&mw;
    am_error err = { AM_OK, "" };

    CHECK_EQ(t.strategy, AM_TRIM_LAST);
    CHECK_EQ(t.max_messages, 0);
    CHECK_EQ(t.max_tokens, 0);
    CHECK(t.preserve_system);
    CHECK(!t.start_on_user);
    CHECK_EQ(t.end_on_role, -1);
    CHECK(!t.allow_partial);
    CHECK(t.model == NULL);
    CHECK_EQ(s.keep_last, 0);
    CHECK_EQ(s.budget, 0);
    CHECK(s.preserve_system);
    CHECK(s.summarizer == NULL && s.model == NULL);
    CHECK_EQ(w.trigger_tokens, 0);
    CHECK_EQ(w.trigger_messages, 0);
    CHECK_EQ(w.keep_last, 10);
    CHECK(w.summarizer == NULL && w.model == NULL);
    CHECK_EQ(so.input_limit, 0);
    CHECK(so.counter == NULL && so.alloc == NULL);
    CHECK_EQ(so.markers.len, 0);
    /* No trigger: the middleware is refused. */
    CHECK_ST(am_summary_mw_create(&w, &mw, &err), AM_EINVAL);
    am_summary_mw_free(NULL);

    load(&l);
    CHECK_OK(am_trim(items(&l), l.count, &t, &r, &err));
    CHECK(r.messages.count > 0);
    t.strategy = AM_TRIM_TOKENS;               /* without max_tokens */
    CHECK_ST(am_trim(items(&l), l.count, &t, &r, &err), AM_EINVAL);
    CHECK_EQ(r.messages.count, 0);
    CHECK_EQ(r.dropped_count, 0);
    t = am_trim_opts_default();
    t.end_on_role = AM_ROLE_COUNT;
    CHECK_ST(am_trim(items(&l), l.count, &t, &r, &err), AM_EINVAL);
    CHECK(strstr(err.msg, "end_on_role") != NULL);
    t.end_on_role = -2;
    CHECK_ST(am_trim(items(&l), l.count, &t, &r, &err), AM_EINVAL);
    CHECK_EQ(r.messages.count, 0);
    am_trim_result_free(&r);
    am_trim_result_free(NULL);
    am_summarize_result_free(NULL);
    am_msg_list_free(&l);
}
