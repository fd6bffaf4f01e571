/* test_react_oom.c -- the ReAct memory when memory runs out: import,
 * export and domain records under the failing allocator, failed calls
 * change nothing, and JSON is whole or AM_ENOMEM when jansson runs out. */
#include "jansson_fail.h"
#include "react_fixture.h"

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
