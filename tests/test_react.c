/* test_react.c -- ReAct agent memory: the records (messages, tool
 * executions, reasoning steps, context, todos), their queries and
 * accessors, statistics and pruning. Hooks are in test_react_hooks.c,
 * slots, domain records and export/import in test_react_io.c, running
 * out of memory in test_react_oom.c. */
#include "react_fixture.h"

AM_TEST(react_records_and_queries)
{
    test_clock tc = { 1700000000000 };
    am_clock clk;
    am_react *m = new_mem(&tc, &clk);
    am_react_message msg;
    am_react_tool_exec e;
    size_t idx[8];
    fill(m, &tc);

    CHECK_EQ(am_react_message_count(m), 3);
    CHECK_OK(am_react_message_at(m, 1, &msg));
    CHECK_MEM_EQ(msg.content.ptr, msg.content.len, "What is 6*7?");
    CHECK_EQ(msg.ts_ms, 1700000000010);
    CHECK_ST(am_react_message_at(m, 3, &msg), AM_ENOTFOUND);
    CHECK_EQ(am_react_messages_by_role(m, AM_STR("user"), idx, 8), 1);
    CHECK_EQ(idx[0], 1);

    CHECK_EQ(am_react_find_tool_execs(m, AM_STR(""), AM_REACT_FAILED, idx,
                                      8), 1);
    CHECK_EQ(idx[0], 1);
    CHECK_EQ(am_react_find_tool_execs(m, AM_STR("calculator"),
                                      AM_REACT_SUCCEEDED, idx, 8), 1);
    CHECK_OK(am_react_tool_exec_at(m, 0, &e));
    /* Params are stored in compact canonical form. */
    CHECK_MEM_EQ(e.params_json.ptr, e.params_json.len,
                 "{\"expression\":\"6 * 7\"}");
    CHECK_OK(am_react_tool_exec_at(m, 1, &e));
    CHECK_MEM_EQ(e.result_json.ptr, e.result_json.len, "null");
    CHECK_MEM_EQ(e.error.ptr, e.error.len, "timeout after 30s");

    CHECK_EQ(am_react_find_steps(m, AM_STEP_THINK, 0, idx, 8), 1);
    CHECK_EQ(am_react_find_steps(m, -1, 2, idx, 8), 2);
    CHECK_EQ(idx[0], 1);
    CHECK_EQ(am_react_find_steps(m, AM_STEP_THINK, 2, idx, 8), 0);

    am_buf b = AM_BUF_INIT;
    CHECK_OK(am_react_context_get(m, AM_STR("limits"), &b));
    CHECK_MEM_EQ(b.ptr, b.len, "{\"max\":3,\"f\":0.5}");
    CHECK_ST(am_react_context_get(m, AM_STR("nope"), &b), AM_ENOTFOUND);
    CHECK_OK(am_react_context_remove(m, AM_STR("limits")));
    CHECK_ST(am_react_context_remove(m, AM_STR("limits")), AM_ENOTFOUND);
    am_buf_free(&b);

    am_react_todo t;
    am_react_todo up = { AM_STR("t1"), AM_STR("verify twice"),
                         AM_TODO_IN_PROGRESS, 5 };
    CHECK_OK(am_react_todo_put(m, &up));
    CHECK_EQ(am_react_todo_count(m), 2);
    CHECK_OK(am_react_todo_at(m, 0, &t));
    CHECK_MEM_EQ(t.content.ptr, t.content.len, "verify twice");
    CHECK_EQ(t.priority, 5);
    CHECK_OK(am_react_todo_remove(m, AM_STR("t1")));
    CHECK_ST(am_react_todo_remove(m, AM_STR("t1")), AM_ENOTFOUND);
    CHECK_EQ(am_react_todo_count(m), 1);
    am_react_free(m);
}

AM_TEST(react_bad_input_is_refused_and_changes_nothing)
{
    test_clock tc = { 1000 };
    am_clock clk;
    am_react *m = new_mem(&tc, &clk);
    am_react_tool_exec e;
    fill(m, &tc);
    CHECK_ST(am_react_add_message(m, AM_STR(""), AM_STR("x")), AM_EINVAL);
    CHECK_ST(am_react_add_message(m, AM_STR("user"), AM_STR("bad \xff")),
             AM_EFORMAT);
    CHECK(strstr(am_react_last_error(m)->msg, "byte 4") != NULL);
    memset(&e, 0, sizeof e);
    e.tool = AM_STR("calc");
    e.params_json = AM_STR("{\"a\":");
    CHECK_ST(am_react_add_tool_exec(m, &e), AM_EFORMAT);
    CHECK(strstr(am_react_last_error(m)->msg, "params") != NULL);
    e.params_json = AM_STR("{}");
    e.duration_us = -1;
    CHECK_ST(am_react_add_tool_exec(m, &e), AM_EINVAL);
    CHECK_ST(am_react_add_step(m, (am_step_type)7, AM_STR("x")), AM_EINVAL);
    CHECK_ST(am_react_context_set(m, AM_STR("k"), AM_STR("{oops}")),
             AM_EFORMAT);
    am_react_todo t = { AM_STR(""), AM_STR("x"), AM_TODO_PENDING, 0 };
    CHECK_ST(am_react_todo_put(m, &t), AM_EINVAL);
    CHECK_EQ(am_react_message_count(m), 3);
    CHECK_EQ(am_react_tool_exec_count(m), 2);
    CHECK_EQ(am_react_step_count(m), 3);
    CHECK_EQ(am_react_todo_count(m), 2);
    am_react_free(m);
}

AM_TEST(react_stats_follow_analyze_memory_usage)
{
    test_clock tc = { 0 };
    am_clock clk;
    am_react *m = new_mem(&tc, &clk);
    am_react_stats s;
    am_buf b = AM_BUF_INIT;
    fill(m, &tc);
    am_react_stats_get(m, &s);
    CHECK_EQ(s.messages, 3);
    CHECK_EQ(s.user, 1);
    CHECK_EQ(s.system, 1);
    CHECK(s.user_avg_len > 11.9 && s.user_avg_len < 12.1);
    CHECK_EQ(s.tool_executions, 2);
    CHECK(s.tool_success_rate > 0.49 && s.tool_success_rate < 0.51);
    CHECK(s.avg_execution_us > 15074999 && s.avg_execution_us < 15075001);
    CHECK_EQ(s.think_steps, 1);
    CHECK_EQ(s.observe_steps, 1);
    CHECK_EQ(s.todos_done, 1);
    CHECK(s.total_kb > 0);
    CHECK_OK(am_react_stats_json(m, &b));
    CHECK(strstr(b.ptr, "\"tool_usage\"") != NULL);
    CHECK(strstr(b.ptr, "\"calculator\": 1") != NULL);
    CHECK(strstr(b.ptr, "\"THINK\": 1") != NULL);
    CHECK(strstr(b.ptr, "\"user_avg_length\": 12.0") != NULL);
    CHECK(strstr(b.ptr, "\"analysis_timestamp\": \"1970-01-01T") != NULL);
    am_buf_free(&b);
    am_react_free(m);
}

AM_TEST(react_prune_keeps_system_last_n_and_drops_duplicates)
{
    test_clock tc = { 0 };
    am_clock clk;
    am_react *m = new_mem(&tc, &clk);
    am_react_message msg;
    CHECK_OK(am_react_add_message(m, AM_STR("system"), AM_STR("S")));
    for (int i = 0; i < 10; i++) {
        char t[16];
        snprintf(t, sizeof t, "m%d", i);
        CHECK_OK(am_react_add_message(m, AM_STR("user"), am_str_c(t)));
    }
    CHECK_OK(am_react_add_message(m, AM_STR("user"), AM_STR("m8")));
    CHECK_OK(am_react_add_message(m, AM_STR("assistant"), AM_STR("m8")));
    CHECK_OK(am_react_add_message(m, AM_STR("system"), AM_STR("S")));
    for (int i = 0; i < 300; i++)
        CHECK_OK(am_react_add_step(m, AM_STEP_THINK, AM_STR("t")));
    CHECK_OK(am_react_prune(m, 5, 0, 200));
    /* system, m8(user), m9, m8(assistant); the repeated m8/user and the
     * repeated system message are duplicates. */
    CHECK_EQ(am_react_message_count(m), 4);
    CHECK_OK(am_react_message_at(m, 0, &msg));
    CHECK_MEM_EQ(msg.content.ptr, msg.content.len, "S");
    CHECK_OK(am_react_message_at(m, 1, &msg));
    CHECK_MEM_EQ(msg.content.ptr, msg.content.len, "m8");
    CHECK_OK(am_react_message_at(m, 3, &msg));
    CHECK_MEM_EQ(msg.role.ptr, msg.role.len, "assistant");
    CHECK_EQ(am_react_step_count(m), 200);
    am_react_free(m);
}

AM_TEST(react_prunes_itself_at_1_2_times_the_limit)
{
    test_clock tc = { 0 };
    am_clock clk = test_clock_make(&tc);
    am_react_opts o = am_react_opts_default();
    am_react *m = NULL;
    am_react_message msg;
    o.clock = &clk;
    o.max_messages = 10;
    o.max_tool_execs = 5;
    o.max_steps = 20;
    CHECK_OK(am_react_create(&o, &m, NULL));
    CHECK_OK(am_react_add_message(m, AM_STR("system"), AM_STR("S")));
    for (int i = 0; i < 11; i++) {
        char t[16];
        snprintf(t, sizeof t, "m%d", i);
        CHECK_OK(am_react_add_message(m, AM_STR("user"), am_str_c(t)));
    }
    /* 12 messages = 1.2 x 10: pruned back to the system message plus the
     * last 10 (the system message is not counted twice). */
    CHECK_EQ(am_react_message_count(m), 11);
    CHECK_OK(am_react_message_at(m, 0, &msg));
    CHECK_MEM_EQ(msg.role.ptr, msg.role.len, "system");
    CHECK_OK(am_react_message_at(m, 1, &msg));
    CHECK_MEM_EQ(msg.content.ptr, msg.content.len, "m1");
    /* A repeat takes it to 12 again: system + the last 10 (m2..m10 and the
     * repeat), and the repeat is a duplicate of m10. */
    CHECK_OK(am_react_add_message(m, AM_STR("user"), AM_STR("m10")));
    CHECK_EQ(am_react_message_count(m), 10);
    CHECK_OK(am_react_message_at(m, 1, &msg));
    CHECK_MEM_EQ(msg.content.ptr, msg.content.len, "m2");
    /* Below the slack nothing happens. */
    CHECK_OK(am_react_add_message(m, AM_STR("user"), AM_STR("m11")));
    CHECK_EQ(am_react_message_count(m), 11);
    for (int i = 0; i < 6; i++) {
        am_react_tool_exec e;
        memset(&e, 0, sizeof e);
        e.tool = AM_STR("search");
        e.success = true;
        CHECK_OK(am_react_add_tool_exec(m, &e));
    }
    CHECK_EQ(am_react_tool_exec_count(m), 5);
    for (int i = 0; i < 24; i++)
        CHECK_OK(am_react_add_step(m, AM_STEP_THINK, AM_STR("t")));
    CHECK_EQ(am_react_step_count(m), 20);
    am_react_free(m);
}

AM_TEST(enum_names_out_of_range_are_a_question_mark)
{
    CHECK_STR_EQ(am_step_type_name((am_step_type)99), "?");
    CHECK_STR_EQ(am_todo_status_name((am_todo_status)99), "?");
    CHECK_STR_EQ(am_todo_status_name(AM_TODO_DONE), "done");
}

/* The _copy accessors hand out strings that are the caller's: they stay
 * valid after the records change and after the memory is freed (ASan
 * would catch a borrowed one), and they equal what _at shows. */
AM_TEST(copied_records_outlive_the_memory)
{
    test_clock tc = { 0 };
    am_clock clk;
    am_react *m = new_mem(&tc, &clk);
    am_react_tool_exec in = { AM_STR("search"), AM_STR("{\"q\":1}"), false,
                              AM_STR("null"), AM_STR("timed out"), 5, 0 };
    am_react_todo todo = { AM_STR("t1"), AM_STR("first"), AM_TODO_PENDING,
                           2 };
    am_react_message msg, view;
    am_react_tool_exec te;
    am_react_step step;
    am_react_todo td;
    am_error herr = { AM_OK, "" };
    am_buf b1 = AM_BUF_INIT, b2 = AM_BUF_INIT, b3 = AM_BUF_INIT,
           b4 = AM_BUF_INIT;

    CHECK_OK(am_react_add_message(m, AM_STR("user"), AM_STR("hello")));
    CHECK_OK(am_react_add_tool_exec(m, &in));
    CHECK_OK(am_react_add_step(m, AM_STEP_OBSERVE, AM_STR("saw it")));
    CHECK_OK(am_react_todo_put(m, &todo));

    CHECK_OK(am_react_message_copy(m, 0, &msg, &b1));
    CHECK_OK(am_react_message_at(m, 0, &view));
    CHECK(msg.role.ptr != view.role.ptr);
    CHECK_EQ(msg.ts_ms, view.ts_ms);
    CHECK_OK(am_react_tool_exec_copy(m, 0, &te, &b2));
    CHECK_OK(am_react_step_copy(m, 0, &step, &b3));
    CHECK_OK(am_react_todo_copy(m, 0, &td, &b4));
    CHECK_OK(am_react_hook_error_copy(m, &herr));
    CHECK_EQ(herr.code, AM_OK);

    /* Replace the todo (its old strings are freed), then free it all. */
    todo.content = AM_STR("second");
    CHECK_OK(am_react_todo_put(m, &todo));
    am_react_free(m);

    CHECK_MEM_EQ(msg.role.ptr, msg.role.len, "user");
    CHECK_MEM_EQ(msg.content.ptr, msg.content.len, "hello");
    CHECK_STR_EQ(msg.content.ptr, "hello"); /* NUL-terminated */
    CHECK_MEM_EQ(te.tool.ptr, te.tool.len, "search");
    CHECK_MEM_EQ(te.params_json.ptr, te.params_json.len, "{\"q\":1}");
    CHECK_MEM_EQ(te.result_json.ptr, te.result_json.len, "null");
    CHECK_MEM_EQ(te.error.ptr, te.error.len, "timed out");
    CHECK(!te.success);
    CHECK_EQ(te.duration_us, 5);
    CHECK_EQ(step.type, AM_STEP_OBSERVE);
    CHECK_MEM_EQ(step.content.ptr, step.content.len, "saw it");
    CHECK_MEM_EQ(td.id.ptr, td.id.len, "t1");
    CHECK_MEM_EQ(td.content.ptr, td.content.len, "first");
    CHECK_EQ(td.priority, 2);
    am_buf_free(&b1);
    am_buf_free(&b2);
    am_buf_free(&b3);
    am_buf_free(&b4);
}

AM_TEST(copy_accessors_refuse_bad_arguments_and_report_oom)
{
    test_clock tc = { 0 };
    am_clock clk;
    am_react *m = new_mem(&tc, &clk);
    test_alloc ta = { .fail_at = 1 };
    am_allocator a = test_alloc_make(&ta);
    am_buf text = AM_BUF_INIT;
    am_react_message msg;
    am_react_step step;

    CHECK_OK(am_react_add_message(m, AM_STR("user"), AM_STR("hello")));
    CHECK_ST(am_react_message_copy(m, 0, &msg, NULL), AM_EINVAL);
    CHECK_ST(am_react_message_copy(NULL, 0, &msg, &text), AM_EINVAL);
    CHECK_ST(am_react_message_copy(m, 0, NULL, &text), AM_EINVAL);
    CHECK_ST(am_react_message_copy(m, 1, &msg, &text), AM_ENOTFOUND);
    CHECK_ST(am_react_step_copy(m, 0, &step, &text), AM_ENOTFOUND);
    CHECK_ST(am_react_hook_error_copy(m, NULL), AM_EINVAL);
    CHECK_ST(am_react_hook_error_copy(NULL, &(am_error){ 0 }), AM_EINVAL);
    text.alloc = &a;
    CHECK_ST(am_react_message_copy(m, 0, &msg, &text), AM_ENOMEM);
    CHECK(strstr(am_react_last_error(m)->msg, "no memory to copy record 0")
          != NULL);
    CHECK_OK(am_react_message_copy(m, 0, &msg, &text));
    CHECK_MEM_EQ(msg.content.ptr, msg.content.len, "hello");
    am_buf_free(&text);
    CHECK_EQ(ta.live_blocks, 0);
    am_react_free(m);
}

/* ---- react.h promises not held elsewhere (audit, session 13) ---- */

/* The _at accessors: AM_EINVAL for a NULL memory or out, AM_ENOTFOUND
 * past the end; step_at reads what add_step wrote. */
AM_TEST(at_accessors_read_records_and_refuse_bad_arguments)
{
    test_clock tc = { 500 };
    am_clock clk;
    am_react *m = new_mem(&tc, &clk);
    am_react_message msg;
    am_react_tool_exec e;
    am_react_step s;
    am_react_todo t;
    am_react_todo in = { AM_STR("t1"), AM_STR("x"), AM_TODO_PENDING, 0 };
    am_react_opts d = am_react_opts_default();

    CHECK(d.alloc == NULL && d.clock == NULL);
    CHECK_EQ(d.max_messages, 0);
    CHECK_EQ(d.max_tool_execs, 0);
    CHECK_EQ(d.max_steps, 0);
    CHECK_EQ(am_react_last_error(m)->code, AM_OK);
    CHECK_STR_EQ(am_react_last_error(m)->msg, "");
    CHECK_OK(am_react_add_step(m, AM_STEP_THINK, AM_STR("first")));
    tc.now_ms = 600;
    CHECK_OK(am_react_add_step(m, AM_STEP_ACT, AM_STR("second")));
    CHECK_OK(am_react_step_at(m, 1, &s));
    CHECK_EQ(s.type, AM_STEP_ACT);
    CHECK_MEM_EQ(s.content.ptr, s.content.len, "second");
    CHECK_EQ(s.ts_ms, 600);
    CHECK_ST(am_react_step_at(m, 2, &s), AM_ENOTFOUND);
    CHECK_ST(am_react_step_at(m, 0, NULL), AM_EINVAL);
    CHECK_ST(am_react_step_at(NULL, 0, &s), AM_EINVAL);
    CHECK_OK(am_react_add_message(m, AM_STR("user"), AM_STR("hi")));
    CHECK_ST(am_react_message_at(m, 0, NULL), AM_EINVAL);
    CHECK_ST(am_react_message_at(NULL, 0, &msg), AM_EINVAL);
    CHECK_ST(am_react_tool_exec_at(m, 0, &e), AM_ENOTFOUND);
    CHECK_ST(am_react_tool_exec_at(m, 0, NULL), AM_EINVAL);
    CHECK_ST(am_react_tool_exec_at(NULL, 0, &e), AM_EINVAL);
    CHECK_OK(am_react_todo_put(m, &in));
    CHECK_ST(am_react_todo_at(m, 1, &t), AM_ENOTFOUND);
    CHECK_ST(am_react_todo_at(m, 0, NULL), AM_EINVAL);
    CHECK_ST(am_react_todo_at(NULL, 0, &t), AM_EINVAL);
    am_react_free(m);
    am_react_free(NULL);
}

/* Role limits; tool execution defaults (params {}, the clock's time when
 * ts_ms is 0, a given ts_ms kept); the query functions return the total
 * even when it exceeds cap, and write only cap indices. */
AM_TEST(records_keep_their_limits_and_defaults_and_queries_count_past_cap)
{
    test_clock tc = { 1000 };
    am_clock clk;
    am_react *m = new_mem(&tc, &clk);
    am_react_tool_exec e, got;
    am_react_message msg;
    size_t idx[2] = { 77, 77 };
    char role[33];

    memset(role, 'r', sizeof role);
    CHECK_OK(am_react_add_message(m, (am_str){ role, 32 }, AM_STR("ok")));
    CHECK_ST(am_react_add_message(m, (am_str){ role, 33 }, AM_STR("long")),
             AM_EFORMAT);
    CHECK(strstr(am_react_last_error(m)->msg, "32") != NULL);
    CHECK_EQ(am_react_message_count(m), 1);
    CHECK_OK(am_react_message_at(m, 0, &msg));
    CHECK_EQ(msg.role.len, 32);

    memset(&e, 0, sizeof e);
    CHECK_ST(am_react_add_tool_exec(m, &e), AM_EINVAL);   /* no tool */
    e.tool = AM_STR("search");
    e.success = true;
    CHECK_OK(am_react_add_tool_exec(m, &e));
    e.ts_ms = 42;
    CHECK_OK(am_react_add_tool_exec(m, &e));
    CHECK_OK(am_react_add_tool_exec(m, &e));
    CHECK_OK(am_react_tool_exec_at(m, 0, &got));
    CHECK_MEM_EQ(got.params_json.ptr, got.params_json.len, "{}");
    CHECK_MEM_EQ(got.result_json.ptr, got.result_json.len, "null");
    CHECK_EQ(got.ts_ms, 1000);
    CHECK_OK(am_react_tool_exec_at(m, 1, &got));
    CHECK_EQ(got.ts_ms, 42);

    CHECK_EQ(am_react_find_tool_execs(m, AM_STR("search"), AM_REACT_ANY,
                                      idx, 1), 3);
    CHECK_EQ(idx[0], 0);
    CHECK_EQ(idx[1], 77);
    CHECK_EQ(am_react_find_tool_execs(m, AM_STR("other"), AM_REACT_ANY,
                                      NULL, 0), 0);
    for (int i = 0; i < 3; i++)
        CHECK_OK(am_react_add_message(m, AM_STR("user"), AM_STR("q")));
    CHECK_EQ(am_react_messages_by_role(m, AM_STR("user"), NULL, 0), 3);
    CHECK_EQ(am_react_messages_by_role(m, AM_STR("user"), idx, 1), 3);
    CHECK_EQ(idx[0], 1);
    CHECK_EQ(idx[1], 77);
    for (int i = 0; i < 3; i++)
        CHECK_OK(am_react_add_step(m, AM_STEP_THINK, AM_STR("t")));
    CHECK_EQ(am_react_find_steps(m, -1, 0, idx, 1), 3);
    CHECK_EQ(idx[1], 77);
    am_react_free(m);
}
