/* test_react.c -- ReAct agent memory: records, queries, stats, pruning,
 * hooks, domain records and lossless export/import. */
#include <stdlib.h>
#include <string.h>

#include "agentmem/react.h"
#include "harness.h"
#include "jansson_fail.h"

static am_react *new_mem(test_clock *tc, am_clock *clk)
{
    am_react_opts o = am_react_opts_default();
    am_react *m = NULL;
    *clk = test_clock_make(tc);
    o.clock = clk;
    CHECK_OK(am_react_create(&o, &m, NULL));
    return m;
}

static void fill_q(am_react *m, test_clock *tc, const char *params2)
{
    am_react_tool_exec e;
    CHECK_OK(am_react_add_message(m, AM_STR("system"), AM_STR("Be brief.")));
    tc->now_ms += 10;
    CHECK_OK(am_react_add_message(m, AM_STR("user"), AM_STR("What is 6*7?")));
    CHECK_OK(am_react_add_step(m, AM_STEP_THINK, AM_STR("use calculator")));
    CHECK_OK(am_react_add_step(m, AM_STEP_ACT, AM_STR("calculator(6*7)")));
    memset(&e, 0, sizeof e);
    e.tool = AM_STR("calculator");
    e.params_json = AM_STR("{ \"expression\" : \"6 * 7\" }");
    e.success = true;
    e.result_json = AM_STR("{\"calculation\": 42}");
    e.duration_us = 150000;
    CHECK_OK(am_react_add_tool_exec(m, &e));
    e.tool = AM_STR("search");
    e.params_json = am_str_c(params2);
    e.success = false;
    e.result_json = AM_STR("");
    e.error = AM_STR("timeout after 30s");
    e.duration_us = 30000000;
    CHECK_OK(am_react_add_tool_exec(m, &e));
    CHECK_OK(am_react_add_step(m, AM_STEP_OBSERVE, AM_STR("42")));
    CHECK_OK(am_react_add_message(m, AM_STR("assistant"), AM_STR("42")));
    CHECK_OK(am_react_context_set(m, AM_STR("user_id"), AM_STR("\"u-17\"")));
    CHECK_OK(am_react_context_set(m, AM_STR("limits"),
                                  AM_STR("{\"max\": 3, \"f\": 0.5}")));
    am_react_todo t = { AM_STR("t1"), AM_STR("verify result"),
                        AM_TODO_PENDING, 2 };
    CHECK_OK(am_react_todo_put(m, &t));
    t.id = AM_STR("t2");
    t.content = AM_STR("report");
    t.status = AM_TODO_DONE;
    CHECK_OK(am_react_todo_put(m, &t));
}

static void fill(am_react *m, test_clock *tc)
{
    fill_q(m, tc, "{\"q\":\"six times seven\"}");
}

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

typedef struct hook_log {
    int calls;
    int fail_every;
} hook_log;

static am_status log_hook(void *ctx, const am_react *m, am_react_event ev,
                          am_error *err)
{
    hook_log *h = ctx;
    (void)m;
    (void)ev;
    h->calls++;
    if (h->fail_every > 0 && h->calls % h->fail_every == 0) {
        snprintf(err->msg, sizeof err->msg, "disk full");
        err->code = AM_EIO;
        return AM_EIO;
    }
    return AM_OK;
}

AM_TEST(react_failing_hook_is_reported_and_never_breaks_the_update)
{
    test_clock tc = { 0 };
    am_clock clk;
    am_react *m = new_mem(&tc, &clk);
    hook_log ok = { 0, 0 }, bad = { 0, 2 };
    CHECK_OK(am_react_add_hook(m, log_hook, &ok));
    CHECK_OK(am_react_add_hook(m, log_hook, &bad));
    CHECK_OK(am_react_add_message(m, AM_STR("user"), AM_STR("a")));
    CHECK_OK(am_react_add_message(m, AM_STR("user"), AM_STR("b")));
    CHECK_OK(am_react_add_step(m, AM_STEP_ACT, AM_STR("c")));
    CHECK_EQ(ok.calls, 3);
    CHECK_EQ(am_react_hook_failures(m), 1);
    CHECK(strstr(am_react_hook_error(m)->msg, "disk full") != NULL);
    CHECK_EQ(am_react_message_count(m), 2);
    /* A failed update does not run hooks. */
    CHECK_ST(am_react_add_message(m, AM_STR(""), AM_STR("x")), AM_EINVAL);
    CHECK_EQ(ok.calls, 3);
    am_react_free(m);
}

/* The seed's customer-support domain record. */
typedef struct support {
    char customer[32];
    int satisfaction;
    int escalated;
} support;

static am_status sup_ser(void *ctx, const void *rec, am_buf *out,
                         am_error *err)
{
    const support *s = rec;
    (void)ctx;
    (void)err;
    return am_buf_appendf(out, "{\"customer\":\"%s\",\"satisfaction\":%d,"
                               "\"escalated\":%s}", s->customer,
                          s->satisfaction, s->escalated ? "true" : "false");
}

static am_status sup_de(void *ctx, am_str json, void **rec, am_error *err)
{
    support *s = calloc(1, sizeof *s);
    char tmp[256];
    char esc[8] = "";
    (void)ctx;
    if (s == NULL)
        return AM_ENOMEM;
    snprintf(tmp, sizeof tmp, "%.*s", (int)json.len, json.ptr);
    if (sscanf(tmp, "{\"customer\":\"%31[^\"]\",\"satisfaction\":%d,"
                    "\"escalated\":%7[a-z]}", s->customer,
               &s->satisfaction, esc) != 3) {
        free(s);
        snprintf(err->msg, sizeof err->msg, "bad support record");
        return AM_EFORMAT;
    }
    s->escalated = strcmp(esc, "true") == 0;
    *rec = s;
    return AM_OK;
}

static void sup_free(void *ctx, void *rec)
{
    (void)ctx;
    free(rec);
}

static const am_react_domain_type support_type = { "support", sup_ser,
                                                   sup_de, sup_free, NULL };

static am_status count_slot_events(void *ctx, const am_react *m,
                                   am_react_event ev, am_error *err)
{
    (void)m, (void)err;
    if (ev == AM_REACT_EV_SLOT)
        ++*(int *)ctx;
    return AM_OK;
}

AM_TEST(typed_slots_keep_their_type_and_travel_in_export)
{
    test_clock tc = { .now_ms = 1000 };
    am_clock clk;
    am_react *m = new_mem(&tc, &clk), *back = NULL;
    am_buf out = AM_BUF_INIT, doc = AM_BUF_INIT;
    am_slot_type t = AM_SLOT_ANY;
    int events = 0;

    CHECK_OK(am_react_add_hook(m, count_slot_events, &events));
    CHECK_OK(am_react_slot_define(m, AM_STR("visited"), AM_SLOT_ARRAY,
                                  AM_STR("[ \"a\" ]")));
    CHECK_OK(am_react_slot_define(m, AM_STR("prefs"), AM_SLOT_OBJECT,
                                  AM_STR("{\"lang\": \"en\"}")));
    CHECK_OK(am_react_slot_define(m, AM_STR("count"), AM_SLOT_INTEGER,
                                  AM_STR("0")));
    CHECK_OK(am_react_slot_get(m, AM_STR("visited"), &out, &t));
    CHECK_MEM_EQ(out.ptr, out.len, "[\"a\"]");
    CHECK_EQ(t, AM_SLOT_ARRAY);
    CHECK_OK(am_react_slot_set(m, AM_STR("visited"), AM_STR("[\"a\",\"b\"]")));
    CHECK_OK(am_react_slot_get(m, AM_STR("visited"), &out, NULL));
    CHECK_MEM_EQ(out.ptr, out.len, "[\"a\",\"b\"]");

    /* The type holds: a value of another type is refused, naming the slot
     * and both types, and the slot keeps its value. */
    CHECK_ST(am_react_slot_set(m, AM_STR("count"), AM_STR("1.5")), AM_EINVAL);
    CHECK(strstr(am_react_last_error(m)->msg,
                 "slot 'count' is of type integer; the value is number"));
    CHECK_ST(am_react_slot_set(m, AM_STR("prefs"), AM_STR("[]")), AM_EINVAL);
    CHECK_ST(am_react_slot_set(m, AM_STR("prefs"), AM_STR("{oops")),
             AM_EFORMAT);
    CHECK_OK(am_react_slot_get(m, AM_STR("prefs"), &out, NULL));
    CHECK_MEM_EQ(out.ptr, out.len, "{\"lang\":\"en\"}");
    /* Defining again: same type sets, another type is AM_EEXIST. */
    CHECK_OK(am_react_slot_define(m, AM_STR("count"), AM_SLOT_INTEGER,
                                  AM_STR("7")));
    CHECK_ST(am_react_slot_define(m, AM_STR("count"), AM_SLOT_STRING,
                                  AM_STR("\"7\"")), AM_EEXIST);
    CHECK(strstr(am_react_last_error(m)->msg, "exists with type integer"));
    CHECK_ST(am_react_slot_set(m, AM_STR("nope"), AM_STR("1")),
             AM_ENOTFOUND);
    CHECK(strstr(am_react_last_error(m)->msg, "no slot 'nope'"));
    CHECK_ST(am_react_slot_define(m, AM_STR(""), AM_SLOT_ANY, AM_STR("1")),
             AM_EINVAL);
    CHECK_ST(am_react_slot_define(m, AM_STR("x"), (am_slot_type)42,
                                  AM_STR("1")), AM_EINVAL);
    CHECK_EQ(events, 5); /* three defines, one set, one redefine */
    CHECK_OK(am_react_slot_names(m, &out));
    CHECK_MEM_EQ(out.ptr, out.len, "[\"count\",\"prefs\",\"visited\"]");

    /* Export and import keep every slot with its type. */
    CHECK_OK(am_react_export(m, &doc));
    CHECK_OK(am_react_create(NULL, &back, NULL));
    CHECK_OK(am_react_import(back, am_buf_str(&doc)));
    CHECK_OK(am_react_slot_get(back, AM_STR("count"), &out, &t));
    CHECK_MEM_EQ(out.ptr, out.len, "7");
    CHECK_EQ(t, AM_SLOT_INTEGER);
    CHECK_ST(am_react_slot_set(back, AM_STR("count"), AM_STR("\"x\"")),
             AM_EINVAL);
    /* An import whose slot value breaks its type is refused whole. */
    {
        json_t *d = json_loads(doc.ptr, 0, NULL);
        json_t *count = json_object_get(json_object_get(d, "slots"),
                                        "count");
        char *txt;

        CHECK(count != NULL);
        json_object_set_new(count, "value", json_string("seven"));
        txt = json_dumps(d, 0);
        CHECK_ST(am_react_import(back, am_str_c(txt)), AM_EFORMAT);
        CHECK(strstr(am_react_last_error(back)->msg,
                     "slots.count.value: the slot is of type integer; the "
                     "value is string") != NULL);
        free(txt);
        json_object_set_new(count, "value", json_integer(1));
        json_object_set_new(count, "type", json_string("decimal"));
        txt = json_dumps(d, 0);
        CHECK_ST(am_react_import(back, am_str_c(txt)), AM_EFORMAT);
        CHECK(strstr(am_react_last_error(back)->msg,
                     "unknown type 'decimal'") != NULL);
        free(txt);
        json_decref(d);
    }
    CHECK_OK(am_react_slot_get(back, AM_STR("visited"), &out, NULL));

    CHECK_OK(am_react_slot_remove(m, AM_STR("visited")));
    CHECK_ST(am_react_slot_remove(m, AM_STR("visited")), AM_ENOTFOUND);
    CHECK_ST(am_react_slot_get(m, AM_STR("visited"), &out, NULL),
             AM_ENOTFOUND);
    CHECK_STR_EQ(am_slot_type_name(AM_SLOT_BOOL), "bool");
    CHECK_STR_EQ(am_slot_type_name((am_slot_type)99), "?");
    am_buf_free(&out);
    am_buf_free(&doc);
    am_react_free(back);
    am_react_free(m);
}

AM_TEST(react_export_import_is_lossless_with_domain_record)
{
    test_clock tc = { 1700000000000 };
    am_clock clk;
    am_react *m = new_mem(&tc, &clk), *n = new_mem(&tc, &clk);
    am_buf a = AM_BUF_INIT, b = AM_BUF_INIT;
    support *s = calloc(1, sizeof *s);
    snprintf(s->customer, sizeof s->customer, "cust-9");
    s->satisfaction = 4;
    s->escalated = 1;
    fill(m, &tc);
    CHECK_OK(am_react_add_message(m, AM_STR("user"),
                                  AM_STR("unicode \xc3\xa9 \"q\" \n ok")));
    CHECK_OK(am_react_set_domain_type(m, &support_type));
    CHECK_OK(am_react_set_domain(m, s));
    CHECK_OK(am_react_export(m, &a));

    /* Without the domain type the import is refused and changes nothing. */
    CHECK_OK(am_react_add_message(n, AM_STR("user"), AM_STR("keep me")));
    CHECK_ST(am_react_import(n, am_buf_str(&a)), AM_ESTATE);
    CHECK(strstr(am_react_last_error(n)->msg, "support") != NULL);
    CHECK_EQ(am_react_message_count(n), 1);

    CHECK_OK(am_react_set_domain_type(n, &support_type));
    CHECK_OK_E(am_react_import(n, am_buf_str(&a)), am_react_last_error(n));
    CHECK_OK(am_react_export(n, &b));
    CHECK_EQ(a.len, b.len);
    CHECK(memcmp(a.ptr, b.ptr, a.len) == 0);
    const support *got = am_react_domain(n);
    CHECK(got != NULL);
    CHECK_STR_EQ(got->customer, "cust-9");
    CHECK_EQ(got->escalated, 1);
    CHECK_EQ(am_react_message_count(n), 4);
    am_buf_free(&a);
    am_buf_free(&b);
    am_react_free(m);
    am_react_free(n);
}

AM_TEST(react_import_errors_name_field_and_index)
{
    test_clock tc = { 0 };
    am_clock clk;
    am_react *m = new_mem(&tc, &clk);
    static const struct { const char *doc; const char *want; } cases[] = {
        { "[1]", "expected an object" },
        { "{\"version\":2}", "version 2" },
        { "{\"messages\":[]}", "version: missing" },
        { "{\"version\":1,\"messages\":[{\"role\":\"user\","
          "\"content\":\"a\"},{\"role\":3,\"content\":\"b\"}]}",
          "messages[1].role: expected a string" },
        { "{\"version\":1,\"tool_executions\":[{\"tool\":\"x\","
          "\"success\":\"yes\"}]}",
          "tool_executions[0].success: expected a boolean" },
        { "{\"version\":1,\"reasoning\":[{\"type\":\"DREAM\","
          "\"content\":\"\"}]}", "reasoning[0].type" },
        { "{\"version\":1,\"todos\":[{\"id\":\"a\",\"content\":\"\","
          "\"status\":\"done\"},{\"id\":\"a\",\"content\":\"\","
          "\"status\":\"done\"}]}", "todos[1].id: duplicate" },
        { "{\"version\":1,\"context\":[]}", "context: expected an object" },
        /* The section walker's own checks, on every section. */
        { "{\"version\":1,\"todos\":[1]}", "todos[0]: expected an object" },
        { "{\"version\":1,\"reasoning\":{}}",
          "react import.reasoning: expected an array" },
        { "{\"version\":1,\"tool_executions\":[{\"tool\":\"x\","
          "\"success\":true},\"y\"]}",
          "tool_executions[1]: expected an object" },
        { "{\"version\":1,", "line 1" },
    };
    fill(m, &tc);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        am_status st = am_react_import(m, am_str_c(cases[i].doc));
        CHECK(st == AM_EFORMAT);
        if (strstr(am_react_last_error(m)->msg, cases[i].want) == NULL) {
            fprintf(stderr, "case %zu: got '%s'\n", i,
                    am_react_last_error(m)->msg);
            CHECK(false);
        }
        CHECK_EQ(am_react_message_count(m), 3);
        CHECK_EQ(am_react_todo_count(m), 2);
    }
    am_react_free(m);
}

static am_status react_oom_body(void *ctx, const am_allocator *alloc)
{
    const am_buf *doc = ctx;
    am_react_opts o = am_react_opts_default();
    am_react *m = NULL;
    am_status st;
    o.alloc = alloc;
    st = am_react_create(&o, &m, NULL);
    if (st != AM_OK)
        return st;
    st = am_react_add_message(m, AM_STR("user"), AM_STR("before"));
    if (st == AM_OK) {
        st = am_react_import(m, am_buf_str(doc));
        if (st != AM_OK)
            CHECK_EQ(am_react_message_count(m), 1);
    }
    am_react_free(m);
    return st;
}

AM_TEST(react_import_survives_oom)
{
    test_clock tc = { 0 };
    am_clock clk;
    am_react *m = new_mem(&tc, &clk);
    am_buf doc = AM_BUF_INIT;
    fill(m, &tc);
    CHECK_OK(am_react_export(m, &doc));
    CHECK(test_oom_sweep(react_oom_body, &doc) > 10);
    am_buf_free(&doc);
    am_react_free(m);
}

static am_status export_oom_body(void *ctx, const am_allocator *alloc)
{
    am_react_opts o = am_react_opts_default();
    am_react *m = NULL;
    am_buf out = AM_BUF_INIT;
    am_react_tool_exec e;
    am_status st;
    (void)ctx;
    o.alloc = alloc;
    out.alloc = alloc;
    memset(&e, 0, sizeof e);
    e.tool = AM_STR("calculator");
    e.params_json = AM_STR("{\"expression\":\"6 * 7\",\"exact\":true}");
    e.success = true;
    e.result_json = AM_STR("{\"calculation\":42,\"steps\":[1,2,3]}");
    st = am_react_create(&o, &m, NULL);
    if (st == AM_OK)
        st = am_react_add_message(m, AM_STR("user"),
                                  AM_STR("What is six times seven?"));
    if (st == AM_OK)
        st = am_react_add_tool_exec(m, &e);
    if (st == AM_OK)
        st = am_react_export(m, &out);
    if (st == AM_OK) {
        /* Never a truncated document. */
        am_react *n = NULL;
        CHECK_OK(am_react_create(NULL, &n, NULL));
        CHECK_OK(am_react_import(n, am_buf_str(&out)));
        CHECK_EQ(am_react_tool_exec_count(n), 1);
        am_react_tool_exec got;
        CHECK_OK(am_react_tool_exec_at(n, 0, &got));
        CHECK_MEM_EQ(got.result_json.ptr, got.result_json.len,
                     "{\"calculation\":42,\"steps\":[1,2,3]}");
        am_react_free(n);
    }
    am_buf_free(&out);
    am_react_free(m);
    return st;
}

AM_TEST(react_export_under_oom_fails_cleanly_or_round_trips)
{
    CHECK(test_oom_sweep(export_oom_body, NULL) > 5);
}

/* Every modifying call under the failing allocator; one that answers
 * AM_ENOMEM is called again (the injected failure is spent) and must then
 * work. If each failed call left the memory as it was, the export at the
 * end is the same as that of a run where nothing failed. */
typedef struct retry_ctx {
    const am_buf *doc; /* an export to import (NULL: none) */
    am_buf want;
} retry_ctx;

#define RETRY(call)                                                     \
    do {                                                                \
        if (st == AM_OK && (st = (call)) == AM_ENOMEM)                  \
            st = (call);                                                \
    } while (0)

static am_status react_retry_body(void *ctx, const am_allocator *alloc)
{
    retry_ctx *rc = ctx;
    test_clock tc = { 1000 };
    am_clock clk = test_clock_make(&tc);
    am_react_opts o = am_react_opts_default();
    am_react *m = NULL;
    am_buf out = AM_BUF_INIT, val = AM_BUF_INIT;
    am_react_tool_exec e;
    am_status st;
    char text[32];
    o.alloc = alloc;
    o.clock = &clk;
    memset(&e, 0, sizeof e);
    e.tool = AM_STR("calculator");
    e.params_json = AM_STR("{\"expression\":\"6 * 7\"}");
    e.success = true;
    e.result_json = AM_STR("{\"calculation\":42}");
    st = am_react_create(&o, &m, NULL);
    if (st != AM_OK)
        return st;
    RETRY(am_react_add_message(m, AM_STR("system"), AM_STR("be brief")));
    for (int i = 0; i < 12 && st == AM_OK; i++) {
        snprintf(text, sizeof text, "turn %d", i % 5);
        RETRY(am_react_add_message(m, am_str_c(i % 2 ? "assistant" : "user"),
                                   am_str_c(text)));
        RETRY(am_react_add_step(m, (am_step_type)(i % 3), am_str_c(text)));
        e.success = i % 3 != 0;
        e.error = e.success ? AM_STR("") : AM_STR("division by zero");
        RETRY(am_react_add_tool_exec(m, &e));
        tc.now_ms += 10;
    }
    for (int i = 0; i < 6 && st == AM_OK; i++) {
        am_react_todo td = { .content = AM_STR("do it"),
                             .status = (am_todo_status)(i % 3),
                             .priority = i };
        snprintf(text, sizeof text, "todo%d", i % 4);
        td.id = am_str_c(text);
        RETRY(am_react_todo_put(m, &td));
        snprintf(text, sizeof text, "key%d", i % 4);
        RETRY(am_react_context_set(m, am_str_c(text),
                                   AM_STR("{\"a\":[1,2,{\"b\":null}]}")));
    }
    RETRY(am_react_todo_remove(m, AM_STR("todo1")));
    RETRY(am_react_context_remove(m, AM_STR("key2")));
    RETRY(am_react_context_get(m, AM_STR("key1"), &val));
    RETRY(am_react_stats_json(m, &val));
    /* Prune promises AM_ENOMEM leaves everything unchanged; retrying an
     * idempotent prune would hide it, so compare the exports. */
    if (st == AM_OK) {
        am_buf pre = AM_BUF_INIT, post = AM_BUF_INIT;
        RETRY(am_react_export(m, &pre));
        if (st == AM_OK &&
            (st = am_react_prune(m, 6, 5, 4)) == AM_ENOMEM) {
            st = am_react_export(m, &post); /* the failure is spent */
            if (st == AM_OK && (pre.len != post.len ||
                                memcmp(pre.ptr, post.ptr, pre.len) != 0)) {
                fprintf(stderr, "a failed prune changed the memory:\n%s\n"
                        "--- before:\n%s\n", post.ptr, pre.ptr);
                st = AM_EPROTO;
            }
            if (st == AM_OK)
                st = am_react_prune(m, 6, 5, 4);
        }
        am_buf_free(&pre);
        am_buf_free(&post);
    }
    /* A failed import leaves everything as it was (the export says so);
     * then the import is made again. */
    if (st == AM_OK && rc->doc != NULL) {
        am_buf pre = AM_BUF_INIT, post = AM_BUF_INIT;
        RETRY(am_react_export(m, &pre));
        if (st == AM_OK &&
            (st = am_react_import(m, am_buf_str(rc->doc))) == AM_ENOMEM) {
            st = am_react_export(m, &post); /* the failure is spent */
            if (st == AM_OK && (pre.len != post.len ||
                                memcmp(pre.ptr, post.ptr, pre.len) != 0)) {
                fprintf(stderr, "a failed import changed the memory:\n%s\n"
                        "--- before:\n%s\n", post.ptr, pre.ptr);
                st = AM_EPROTO;
            }
            if (st == AM_OK)
                st = am_react_import(m, am_buf_str(rc->doc));
        }
        am_buf_free(&pre);
        am_buf_free(&post);
        RETRY(am_react_add_message(m, AM_STR("user"), AM_STR("after")));
    }
    RETRY(am_react_export(m, &out));
    if (st == AM_OK && rc->want.len == 0) {
        st = am_buf_append(&rc->want, out.ptr, out.len);
    } else if (st == AM_OK &&
               (out.len != rc->want.len ||
                memcmp(out.ptr, rc->want.ptr, out.len) != 0)) {
        fprintf(stderr, "state after a failed call differs:\n%s\n"
                "--- want:\n%s\n", out.ptr, rc->want.ptr);
        st = AM_EPROTO;
    }
    am_buf_free(&out);
    am_buf_free(&val);
    am_react_free(m);
    return st;
}

AM_TEST(react_failed_calls_change_nothing)
{
    retry_ctx rc = { NULL, AM_BUF_INIT };
    test_clock tc = { 0 };
    am_clock clk;
    am_react *m = new_mem(&tc, &clk);
    am_buf doc = AM_BUF_INIT;
    CHECK_OK(react_retry_body(&rc, NULL));
    CHECK(rc.want.len > 0);
    CHECK(test_oom_sweep(react_retry_body, &rc) > 20);
    am_buf_free(&rc.want);
    /* With an import of another memory's export in the middle. */
    fill(m, &tc);
    CHECK_OK(am_react_export(m, &doc));
    rc.doc = &doc;
    rc.want = (am_buf)AM_BUF_INIT;
    CHECK_OK(react_retry_body(&rc, NULL));
    CHECK(test_oom_sweep(react_retry_body, &rc) > 20);
    am_buf_free(&rc.want);
    am_buf_free(&doc);
    am_react_free(m);
}

/* A domain record allocated with the sweep's allocator: a record the
 * memory takes and fails to keep, or one an import builds and then drops,
 * must be freed (the sweep counts live blocks). */
typedef struct dom_rec {
    int n;
} dom_rec;

static am_status dom_ser(void *ctx, const void *record, am_buf *out,
                         am_error *err)
{
    (void)ctx;
    (void)err;
    return am_buf_appendf(out, "{\"n\":%d}", ((const dom_rec *)record)->n);
}

static am_status dom_de(void *ctx, am_str json, void **record, am_error *err)
{
    const am_allocator *a = *(const am_allocator *const *)ctx;
    dom_rec *r;
    int n = 0;
    char text[64];
    (void)err;
    if (json.len >= sizeof text)
        return AM_EFORMAT;
    memcpy(text, json.ptr, json.len);
    text[json.len] = '\0'; /* json need not end in a NUL */
    if (sscanf(text, "{\"n\":%d}", &n) != 1)
        return AM_EFORMAT;
    r = a->alloc(a->ctx, sizeof *r);
    if (r == NULL)
        return AM_ENOMEM;
    r->n = n;
    *record = r;
    return AM_OK;
}

static void dom_free(void *ctx, void *record)
{
    const am_allocator *a = *(const am_allocator *const *)ctx;
    if (record != NULL)
        a->free(a->ctx, record, sizeof(dom_rec));
}

static am_status domain_oom_body(void *ctx, const am_allocator *alloc)
{
    const am_allocator *cur = alloc;
    am_react_domain_type dt = { "counter", dom_ser, dom_de, dom_free, &cur };
    am_react_opts o = am_react_opts_default();
    am_react *m = NULL, *n = NULL;
    am_buf doc = AM_BUF_INIT, pre = AM_BUF_INIT, post = AM_BUF_INIT;
    dom_rec *r;
    am_status st;
    (void)ctx;
    o.alloc = alloc;
    st = am_react_create(&o, &m, NULL);
    if (st == AM_OK)
        st = am_react_create(&o, &n, NULL);
    if (st == AM_OK)
        st = am_react_set_domain_type(m, &dt);
    if (st == AM_OK)
        st = am_react_set_domain_type(n, &dt);
    if (st == AM_OK) {
        r = alloc->alloc(alloc->ctx, sizeof *r);
        if (r == NULL)
            st = AM_ENOMEM;
        else {
            r->n = 41;
            st = am_react_set_domain(m, r);
        }
    }
    if (st == AM_OK)
        st = am_react_add_message(m, AM_STR("user"), AM_STR("count"));
    if (st == AM_OK)
        st = am_react_export(m, &doc);
    /* n holds its own record; a failed import keeps it. */
    if (st == AM_OK) {
        r = alloc->alloc(alloc->ctx, sizeof *r);
        if (r == NULL)
            st = AM_ENOMEM;
        else {
            r->n = 7;
            st = am_react_set_domain(n, r);
        }
    }
    if (st == AM_OK)
        st = am_react_export(n, &pre);
    if (st == AM_OK &&
        (st = am_react_import(n, am_buf_str(&doc))) == AM_ENOMEM) {
        st = am_react_export(n, &post);
        if (st == AM_OK && (pre.len != post.len ||
                            memcmp(pre.ptr, post.ptr, pre.len) != 0))
            st = AM_EPROTO;
        if (st == AM_OK)
            st = AM_ENOMEM;
    }
    if (st == AM_OK &&
        ((r = am_react_domain(n)) == NULL || r->n != 41))
        st = AM_EPROTO;
    am_buf_free(&doc);
    am_buf_free(&pre);
    am_buf_free(&post);
    am_react_free(m);
    am_react_free(n);
    return st;
}

AM_TEST(react_domain_records_survive_oom)
{
    CHECK(test_oom_sweep(domain_oom_body, NULL) > 5);
}

/* Every failing jansson allocation: AM_OK means the exact output of an
 * unhooked run, anything else is AM_ENOMEM (never "invalid JSON"). */
AM_TEST(react_json_is_complete_or_an_error_when_jansson_runs_out)
{
    test_clock tc = { 1700000000000 };
    am_clock clk;
    am_react *m = new_mem(&tc, &clk);
    am_buf want_exp = AM_BUF_INIT, want_stats = AM_BUF_INIT;
    am_buf got = AM_BUF_INIT;
    am_status st;
    long n;

    /* JSON strings under 14 bytes: jansson 2.14 may drop a byte of a
     * longer one when growing its token buffer fails, and still succeed
     * (load.c lex_save ignores the error); no caller can detect that. */
    fill_q(m, &tc, "{\"q\":\"6 x 7\"}");
    CHECK_OK(am_react_export(m, &want_exp));
    CHECK_OK(am_react_stats_json(m, &want_stats));
    for (n = 1;; n++) {
        jansson_fail_begin(n);
        st = am_react_export(m, &got);
        int all_tried = jansson_fail_end();
        if (st == AM_OK && strcmp(got.ptr, want_exp.ptr) != 0)
            fprintf(stderr, "n=%ld export:\n%s\n", n, got.ptr);
        if (st == AM_OK)
            CHECK_STR_EQ(got.ptr, want_exp.ptr);
        else
            CHECK_EQ(st, AM_ENOMEM);
        if (all_tried)
            break;
    }
    CHECK(n > 10);
    for (n = 1;; n++) {
        jansson_fail_begin(n);
        st = am_react_stats_json(m, &got);
        int all_tried = jansson_fail_end();
        if (st == AM_OK && strcmp(got.ptr, want_stats.ptr) != 0)
            fprintf(stderr, "n=%ld stats:\n%s\n", n, got.ptr);
        if (st == AM_OK)
            CHECK_STR_EQ(got.ptr, want_stats.ptr);
        else
            CHECK_EQ(st, AM_ENOMEM);
        if (all_tried)
            break;
    }
    CHECK(n > 10);
    /* Import: AM_OK or AM_ENOMEM, never "invalid". (Not compared with the
     * export: jansson 2.14 may drop a byte of a key such as
     * "tool_executions" when growing its token buffer fails and still
     * succeed; no caller can detect that.) Then JSON values of tool calls
     * and context entries. */
    /* A tool call whose params and result re-serialize to more than
     * jansson's first buffer (16 bytes), keys and all. */
    am_buf big = AM_BUF_INIT;
    {
        am_react *m3 = new_mem(&tc, &clk);
        am_react_tool_exec e;
        memset(&e, 0, sizeof e);
        e.tool = AM_STR("calc");
        e.params_json = AM_STR("{\"aa\":1,\"bb\":2,\"cc\":3,\"dd\":4,"
                               "\"ee\":5,\"ff\":[6,7,8]}");
        e.success = true;
        e.result_json = AM_STR("{\"r1\":1,\"r2\":2,\"r3\":3,\"r4\":4}");
        CHECK_OK(am_react_add_tool_exec(m3, &e));
        CHECK_OK(am_react_export(m3, &big));
        am_react_free(m3);
    }
    for (int what = 0; what < 4; what++) {
        for (n = 1;; n++) {
            am_react *m2 = new_mem(&tc, &clk);
            am_react_tool_exec e;
            memset(&e, 0, sizeof e);
            e.tool = AM_STR("calc");
            e.params_json = AM_STR("{ \"x\" : [1, 2] }");
            e.success = true;
            e.result_json = AM_STR("{\"r\": 3}");
            jansson_fail_begin(n);
            st = what == 3   ? am_react_import(m2, am_buf_str(&big))
                 : what == 0 ? am_react_import(m2, am_buf_str(&want_exp))
                 : what == 1 ? am_react_context_set(m2, AM_STR("k"),
                                                    AM_STR("{\"a\": [1]}"))
                             : am_react_add_tool_exec(m2, &e);
            int all_tried = jansson_fail_end();
            if (st != AM_OK && st != AM_ENOMEM)
                fprintf(stderr, "n=%ld what=%d: %d %s\n", n, what, (int)st, am_react_last_error(m2)->msg);
            CHECK(st == AM_OK || st == AM_ENOMEM);
            if (st == AM_OK && what == 1) {
                CHECK_OK(am_react_context_get(m2, AM_STR("k"), &got));
                CHECK(strstr(got.ptr, "[") != NULL);
            }
            am_react_free(m2);
            if (all_tried)
                break;
        }
        CHECK(n > 1);
    }
    am_buf_free(&big);
    am_buf_free(&want_exp);
    am_buf_free(&want_stats);
    am_buf_free(&got);
    am_react_free(m);
}

/* The domain record is re-serialized for its type's deserializer: running
 * out of memory there is AM_ENOMEM, never a record the type rejects. */
AM_TEST(react_import_with_domain_is_whole_or_an_error_when_jansson_runs_out)
{
    test_clock tc = { 1700000000000 };
    am_clock clk;
    am_react *m = new_mem(&tc, &clk);
    am_buf a = AM_BUF_INIT;
    support *s = calloc(1, sizeof *s);
    long n;
    snprintf(s->customer, sizeof s->customer, "cust-9");
    s->satisfaction = 4;
    s->escalated = 1;
    CHECK_OK(am_react_add_message(m, AM_STR("user"), AM_STR("hi")));
    CHECK_OK(am_react_set_domain_type(m, &support_type));
    CHECK_OK(am_react_set_domain(m, s));
    CHECK_OK(am_react_export(m, &a));
    for (n = 1;; n++) {
        am_react *r = new_mem(&tc, &clk);
        CHECK_OK(am_react_set_domain_type(r, &support_type));
        jansson_fail_begin(n);
        am_status st = am_react_import(r, am_buf_str(&a));
        int all_tried = jansson_fail_end();
        if (st != AM_OK && st != AM_ENOMEM)
            fprintf(stderr, "n=%ld: %s\n", n, am_react_last_error(r)->msg);
        if (st == AM_OK) {
            const support *got = am_react_domain(r);
            CHECK(got != NULL);
            CHECK_STR_EQ(got->customer, "cust-9");
            CHECK_EQ(got->satisfaction, 4);
        } else {
            CHECK_EQ(st, AM_ENOMEM);
        }
        am_react_free(r);
        if (all_tried)
            break;
    }
    CHECK(n > 5);
    am_buf_free(&a);
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
    am_error herr;
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

static am_status count_events(void *ctx, const am_react *m,
                              am_react_event ev, am_error *err)
{
    int *counts = ctx;
    (void)m, (void)err;
    counts[ev]++;
    return AM_OK;
}

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

/* Hooks: at most 16; domain_touched and set_domain run them; a domain
 * type needs every callback; a record without a type is refused with
 * AM_ESTATE; stats of a memory without executions have rate 0. */
AM_TEST(hooks_limit_domain_calls_and_empty_stats)
{
    test_clock tc = { 0 };
    am_clock clk;
    am_react *m = new_mem(&tc, &clk);
    int counts[16] = { 0 };
    am_react_domain_type half = support_type;
    am_react_stats st;
    support *rec;

    CHECK(am_react_hook_error(NULL) == NULL);
    CHECK_EQ(am_react_hook_failures(m), 0);
    CHECK_EQ(am_react_hook_error(m)->code, AM_OK);
    for (int i = 0; i < 16; i++)
        CHECK_OK(am_react_add_hook(m, count_events, counts));
    CHECK_ST(am_react_add_hook(m, count_events, counts), AM_ELIMIT);

    rec = calloc(1, sizeof *rec);
    CHECK_ST(am_react_set_domain(m, rec), AM_ESTATE);   /* still ours */
    CHECK(am_react_domain(m) == NULL);
    half.free = NULL;
    CHECK_ST(am_react_set_domain_type(m, &half), AM_EINVAL);
    CHECK_OK(am_react_set_domain_type(m, &support_type));
    CHECK_OK(am_react_set_domain(m, rec));
    CHECK(am_react_domain(m) == rec);
    CHECK_EQ(counts[AM_REACT_EV_DOMAIN], 16);
    rec->satisfaction = 5;
    am_react_domain_touched(m);
    CHECK_EQ(counts[AM_REACT_EV_DOMAIN], 32);
    am_react_domain_touched(NULL);

    memset(&st, 0xAB, sizeof st);
    am_react_stats_get(m, &st);
    CHECK_EQ(st.tool_executions, 0);
    CHECK(st.tool_success_rate == 0.0);
    CHECK_EQ(st.messages, 0);
    am_react_free(m);   /* frees rec through the type */
}

/* A hook that reads the memory through the API, as react.h allows (the
 * lock is held by this thread: it must not deadlock), and records what it
 * saw. */
typedef struct reader_hook {
    int events[16];
    size_t last_count;
    char last_content[16];
} reader_hook;

static am_status reading_hook(void *ctx, const am_react *m,
                              am_react_event ev, am_error *err)
{
    reader_hook *h = ctx;
    am_react_message msg;
    am_buf text = AM_BUF_INIT;
    am_react_stats st;
    (void)err;
    h->events[ev]++;
    h->last_count = am_react_message_count(m);
    am_react_stats_get(m, &st);
    if (h->last_count > 0 && st.messages == h->last_count &&
        am_react_message_copy(m, h->last_count - 1, &msg, &text) == AM_OK)
        snprintf(h->last_content, sizeof h->last_content, "%s",
                 msg.content.ptr);
    am_buf_free(&text);
    return AM_OK;
}

/* Hooks may read the memory; prune and import run them (EV_PRUNE,
 * EV_IMPORT) and an import keeps them. */
AM_TEST(hooks_read_the_memory_and_survive_prune_and_import)
{
    test_clock tc = { 0 };
    am_clock clk;
    am_react *m = new_mem(&tc, &clk);
    reader_hook h;
    am_buf doc = AM_BUF_INIT;

    memset(&h, 0, sizeof h);
    CHECK_OK(am_react_add_hook(m, reading_hook, &h));
    CHECK_OK(am_react_add_message(m, AM_STR("user"), AM_STR("one")));
    CHECK_OK(am_react_add_message(m, AM_STR("user"), AM_STR("two")));
    CHECK_EQ(h.events[AM_REACT_EV_MESSAGE], 2);
    CHECK_EQ(h.last_count, 2);
    CHECK_STR_EQ(h.last_content, "two");
    CHECK_OK(am_react_export(m, &doc));
    CHECK_OK(am_react_add_message(m, AM_STR("user"), AM_STR("three")));
    CHECK_OK(am_react_prune(m, 1, 0, 0));
    CHECK_EQ(h.events[AM_REACT_EV_PRUNE], 1);
    CHECK_EQ(h.last_count, 1);
    CHECK_STR_EQ(h.last_content, "three");
    CHECK_OK(am_react_import(m, am_buf_str(&doc)));
    CHECK_EQ(h.events[AM_REACT_EV_IMPORT], 1);
    CHECK_EQ(h.last_count, 2);
    CHECK_STR_EQ(h.last_content, "two");
    /* The hook is still there after the import. */
    CHECK_OK(am_react_context_set(m, AM_STR("k"), AM_STR("1")));
    CHECK_EQ(h.events[AM_REACT_EV_CONTEXT], 1);
    CHECK_ST(am_react_context_set(m, AM_STR(""), AM_STR("1")), AM_EINVAL);
    CHECK_EQ(h.events[AM_REACT_EV_CONTEXT], 1);
    am_buf_free(&doc);
    am_react_free(m);
}
