/* test_memory_oom.c -- the memory manager when something fails: add and
 * compress under OOM, a failed add (with usage, or in tool clearing)
 * changes nothing, and the JSON outputs when jansson runs out. */
#include <jansson.h>

#include "jansson_fail.h"
#include "memory_fixture.h"

static am_status oom_body(void *ctx, const am_allocator *alloc)
{
    am_memory_opts o = am_memory_opts_default();
    am_memory *mem = NULL;
    am_msg_list msgs = AM_MSG_LIST_INIT;
    am_status st;
    (void)ctx;
    o.alloc = alloc;
    o.config.compression_threshold = 300;
    o.config.short_term_size = 3;
    st = am_memory_create(&o, &mem, NULL);
    if (st != AM_OK)
        return st;
    for (int i = 0; i < 12 && st == AM_OK; i++) {
        am_msg *m = text_msg(i % 2 ? AM_ROLE_ASSISTANT : AM_ROLE_USER,
                             "Order 1234 ships on 2025-06-01 with DHL; the "
                             "customer Dana Smith confirmed the address.");
        size_t before = 0;
        am_memory_stats s;
        am_memory_stats_get(mem, &s);
        before = s.messages_added;
        st = am_memory_add(mem, m, NULL);
        am_msg_free(m);
        if (st != AM_OK) {
            am_memory_stats_get(mem, &s);
            CHECK_EQ(s.messages_added, before);
        }
    }
    if (st == AM_OK)
        st = am_memory_context(mem, &msgs);
    am_msg_list_free(&msgs);
    am_memory_free(mem);
    return st;
}

AM_TEST(add_and_compress_survive_oom)
{
    CHECK(test_oom_sweep(oom_body, NULL) > 10);
}

/* am_memory_add promises that on failure the manager is as before the
 * call. Each add (with the provider's usage) runs under the failing
 * allocator; one that answers AM_ENOMEM is made again (the injected failure
 * is spent) and must then work. The export at the end (messages, summary,
 * statistics, calibration) must be that of a run where nothing failed. */
typedef struct retry_ctx {
    am_msg *msgs[12];
    bool clear_tools; /* no compression; tool results cleared instead */
    am_buf want;
} retry_ctx;

/* Blank the digits of every "created_ms" (the placeholders of cleared tool
 * results are stamped with the system clock). */
static void blank_created(am_buf *b)
{
    static const char key[] = "\"created_ms\":";
    char *p = b->ptr;
    while (p != NULL && (p = strstr(p, key)) != NULL) {
        p += sizeof key - 1;
        while (*p >= '0' && *p <= '9')
            *p++ = '0';
    }
}

static am_status retry_body(void *ctx, const am_allocator *alloc)
{
    retry_ctx *rc = ctx;
    test_clock tc = { 5000 };
    am_clock clk = test_clock_make(&tc);
    am_memory_opts o = am_memory_opts_default();
    am_memory *mem = NULL;
    am_token_tracker *tr = NULL;
    am_buf out = AM_BUF_INIT, trj = AM_BUF_INIT;
    am_status st;
    CHECK_OK(am_token_tracker_create(NULL, &tr, NULL));
    o.alloc = alloc;
    o.clock = &clk;
    o.tracker = tr;
    o.config.compression_threshold = 300;
    o.config.short_term_size = 3;
    if (rc->clear_tools) {
        o.config.compression_threshold = o.config.max_context_tokens;
        o.config.tool_clear_trigger = 100;
        o.config.tool_clear_keep = 1;
        o.config.tool_clear_at_least = 1;
    }
    st = am_memory_create(&o, &mem, NULL);
    if (st != AM_OK) {
        am_token_tracker_free(tr);
        return st;
    }
    for (int i = 0; i < 12 && st == AM_OK; i++) {
        am_memory_usage u = { 100 + 40 * i, 30, 10 };
        st = am_memory_add(mem, rc->msgs[i], &u);
        if (st == AM_ENOMEM)
            st = am_memory_add(mem, rc->msgs[i], &u);
    }
    /* Compressing now, whatever the threshold: commits only on success. */
    if (st == AM_OK) {
        st = am_memory_compress(mem);
        if (st == AM_ENOMEM)
            st = am_memory_compress(mem);
    }
    if (st == AM_OK) {
        st = am_memory_export(mem, &out);
        if (st == AM_ENOMEM)
            st = am_memory_export(mem, &out);
    }
    /* Importing its own export changes nothing, whether it fails or not
     * (export -> import -> export gives the same bytes). */
    if (st == AM_OK) {
        am_buf post = AM_BUF_INIT;
        st = am_memory_import(mem, am_buf_str(&out));
        if (st == AM_ENOMEM || st == AM_OK) {
            st = am_memory_export(mem, &post);
            if (st == AM_ENOMEM)
                st = am_memory_export(mem, &post);
        }
        if (st == AM_OK && (post.len != out.len ||
                            memcmp(post.ptr, out.ptr, out.len) != 0)) {
            fprintf(stderr, "import changed the manager:\n%s\n--- "
                    "before:\n%s\n", post.ptr, out.ptr);
            st = AM_EPROTO;
        }
        am_buf_free(&post);
    }
    if (st == AM_OK)
        blank_created(&out);
    /* The tracker saw each add once. */
    if (st == AM_OK)
        st = am_token_tracker_stats_json(tr, &trj);
    if (st == AM_OK)
        st = am_buf_append(&out, trj.ptr, trj.len);
    if (st == AM_OK && rc->want.len == 0) {
        st = am_buf_append(&rc->want, out.ptr, out.len);
    } else if (st == AM_OK &&
               (out.len != rc->want.len ||
                memcmp(out.ptr, rc->want.ptr, out.len) != 0)) {
        fprintf(stderr, "state after a failed add differs:\n%s\n"
                "--- want:\n%s\n", out.ptr, rc->want.ptr);
        st = AM_EPROTO;
    }
    am_buf_free(&out);
    am_buf_free(&trj);
    am_memory_free(mem);
    am_token_tracker_free(tr);
    return st;
}

AM_TEST(failed_add_with_usage_changes_nothing)
{
    retry_ctx rc = { { NULL }, false, AM_BUF_INIT };
    for (int i = 0; i < 12; i++)
        rc.msgs[i] = text_msg(i % 2 ? AM_ROLE_ASSISTANT : AM_ROLE_USER,
                              "Order 1234 ships on 2025-06-01 with DHL; the "
                              "customer Dana Smith confirmed the address.");
    CHECK_OK(retry_body(&rc, NULL));
    CHECK(rc.want.len > 0);
    CHECK(test_oom_sweep(retry_body, &rc) > 10);
    am_buf_free(&rc.want);
    for (int i = 0; i < 12; i++)
        am_msg_free(rc.msgs[i]);
}

/* The same with tool results cleared past the trigger (no compression): a
 * clearing pass that runs out of memory fails the add, which must then
 * leave the manager as before the call, as the header promises. */
AM_TEST(failed_tool_clearing_undoes_the_add)
{
    retry_ctx rc = { { NULL }, true, AM_BUF_INIT };
    char id[16], text[160];
    for (int i = 0; i < 12; i += 2) {
        snprintf(id, sizeof id, "call%d", i);
        rc.msgs[i] = call_msg(id, NULL, "lookup");
        snprintf(text, sizeof text, "Result %d: order 1234 ships on "
                 "2025-06-01 with DHL to Dana Smith, 12 Long Road, "
                 "Springfield; tracking JD0141 pending.", i);
        rc.msgs[i + 1] = result_msg(id, text);
    }
    CHECK_OK(retry_body(&rc, NULL));
    CHECK(strstr(rc.want.ptr, "\"tool_results_cleared\":0") == NULL);
    CHECK(strstr(rc.want.ptr, "\"summary\":\"\"") == NULL); /* compressed */
    CHECK(test_oom_sweep(retry_body, &rc) > 10);
    am_buf_free(&rc.want);
    for (int i = 0; i < 12; i++)
        am_msg_free(rc.msgs[i]);
}

/* Every failing jansson allocation: export and stats are the unhooked
 * bytes or AM_ENOMEM; import is whole (export again gives the document)
 * or AM_ENOMEM with the manager unchanged -- up to the byte jansson 2.14
 * itself may lose (see jansson_fail_same_or_byte_lost). */
AM_TEST(memory_json_is_complete_or_an_error_when_jansson_runs_out)
{
    am_memory *a = new_mem(AM_COMPRESS_SLIDING_WINDOW, 100000, 4);
    am_memory *b = new_mem(AM_COMPRESS_SLIDING_WINDOW, 100000, 4);
    am_buf want = AM_BUF_INIT, stats = AM_BUF_INIT, got = AM_BUF_INIT;
    am_buf before = AM_BUF_INIT;
    am_status st;
    long n;

    add(a, text_msg(AM_ROLE_SYSTEM, "sys"));
    add(a, text_msg(AM_ROLE_USER, "hi"));
    add(a, text_msg(AM_ROLE_ASSISTANT, "hello"));
    add(b, text_msg(AM_ROLE_USER, "old"));
    CHECK_OK(am_memory_export(a, &want));
    CHECK_OK(am_memory_stats_json(a, &stats));
    for (int what = 0; what < 2; what++) {
        for (n = 1;; n++) {
            jansson_fail_begin(n);
            st = what == 0 ? am_memory_export(a, &got)
                           : am_memory_stats_json(a, &got);
            int all_tried = jansson_fail_end();
            const char *w = what ? stats.ptr : want.ptr;
            if (st == AM_OK && !jansson_fail_same_or_byte_lost(got.ptr, w))
                fprintf(stderr, "n=%ld what=%d:\n%s\n", n, what, got.ptr);
            if (st == AM_OK)
                CHECK(jansson_fail_same_or_byte_lost(got.ptr, w));
            else
                CHECK_EQ(st, AM_ENOMEM);
            if (all_tried)
                break;
        }
        /* Export writes with am_buf alone (#11: one JSON path per job),
         * so no jansson allocation is there to fail. */
        CHECK(what == 1 || n == 1);
    }
    CHECK_OK(am_memory_export(b, &before));
    for (n = 1;; n++) {
        jansson_fail_begin(n);
        st = am_memory_import(b, am_buf_str(&want));
        int all_tried = jansson_fail_end();
        if (st != AM_OK && st != AM_ENOMEM)
            fprintf(stderr, "n=%ld import: %s\n", n,
                    am_memory_last_error(b)->msg);
        CHECK_OK(am_memory_export(b, &got));
        if (st == AM_OK) {
            if (!jansson_fail_same_or_byte_lost(got.ptr, want.ptr))
                fprintf(stderr, "n=%ld import:\n%s\n", n, got.ptr);
            CHECK(jansson_fail_same_or_byte_lost(got.ptr, want.ptr));
            CHECK_OK(am_memory_import(b, am_buf_str(&before)));
        } else {
            CHECK_EQ(st, AM_ENOMEM);
            CHECK_STR_EQ(got.ptr, before.ptr);
        }
        if (all_tried)
            break;
    }
    CHECK_EQ(n, 1); /* import reads with the core's scanner alone */
    am_buf_free(&want);
    am_buf_free(&stats);
    am_buf_free(&got);
    am_buf_free(&before);
    am_memory_free(a);
    am_memory_free(b);
}
