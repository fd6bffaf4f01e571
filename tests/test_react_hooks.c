/* test_react_hooks.c -- ReAct memory hooks: a failing hook is reported
 * and never breaks the update, at most 16, domain calls run them, and a
 * hook may read the memory (prune and import run them too). */
#include "react_fixture.h"

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

static am_status count_events(void *ctx, const am_react *m,
                              am_react_event ev, am_error *err)
{
    int *counts = ctx;
    (void)m, (void)err;
    counts[ev]++;
    return AM_OK;
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
