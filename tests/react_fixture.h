/* react_fixture.h -- what the ReAct memory's test files share
 * (test_react.c, test_react_hooks.c, test_react_io.c, test_react_oom.c):
 * a memory on an injected clock, one filled agent turn, and the seed's
 * customer-support domain record type. */
#ifndef AM_TEST_REACT_FIXTURE_H
#define AM_TEST_REACT_FIXTURE_H

#include <stdlib.h>
#include <string.h>

#include "agentmem/react.h"
#include "harness.h"

static inline am_react *new_mem(test_clock *tc, am_clock *clk)
{
    am_react_opts o = am_react_opts_default();
    am_react *m = NULL;
    *clk = test_clock_make(tc);
    o.clock = clk;
    CHECK_OK(am_react_create(&o, &m, NULL));
    return m;
}

static inline void fill_q(am_react *m, test_clock *tc, const char *params2)
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

static inline void fill(am_react *m, test_clock *tc)
{
    fill_q(m, tc, "{\"q\":\"six times seven\"}");
}

/* The seed's customer-support domain record. */
typedef struct support {
    char customer[32];
    int satisfaction;
    int escalated;
} support;

static inline am_status sup_ser(void *ctx, const void *rec, am_buf *out,
                         am_error *err)
{
    const support *s = rec;
    (void)ctx;
    (void)err;
    return am_buf_appendf(out, "{\"customer\":\"%s\",\"satisfaction\":%d,"
                               "\"escalated\":%s}", s->customer,
                          s->satisfaction, s->escalated ? "true" : "false");
}

static inline am_status sup_de(void *ctx, am_str json, void **rec, am_error *err)
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

static inline void sup_free(void *ctx, void *rec)
{
    (void)ctx;
    free(rec);
}

static const am_react_domain_type support_type = { "support", sup_ser,
                                                   sup_de, sup_free, NULL };

#endif
