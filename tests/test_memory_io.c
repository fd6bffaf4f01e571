/* test_memory_io.c -- the memory manager's export and import: an exact
 * round trip, any input layout, bad imports that name the field and
 * change nothing, OOM, and counting with the importing manager's model. */
#include <jansson.h>

#include "memory_fixture.h"

AM_TEST(export_import_restores_the_session_exactly)
{
    am_memory *a = new_mem(AM_COMPRESS_SLIDING_WINDOW, 1500, 5);
    am_memory *b = new_mem(AM_COMPRESS_SLIDING_WINDOW, 1500, 5);
    am_buf ea = AM_BUF_INIT, eb = AM_BUF_INIT;
    am_msg_list ca = AM_MSG_LIST_INIT, cb = AM_MSG_LIST_INIT;
    am_memory_stats sa, sb;
    am_memory_usage u = { 2000, 50, 0 };
    add(a, text_msg(AM_ROLE_SYSTEM, "sys"));
    add(a, result_msg("ghost", "orphan"));
    for (int i = 0; i < 30; i++)
        turn(a, i, i == 4);
    {
        am_msg *m = text_msg(AM_ROLE_ASSISTANT, "calibrated");
        CHECK_OK(am_memory_add(a, m, &u));
        am_msg_free(m);
    }
    CHECK_OK(am_memory_export(a, &ea));
    CHECK_OK_E(am_memory_import(b, am_buf_str(&ea)), am_memory_last_error(b));
    CHECK_OK(am_memory_export(b, &eb));
    CHECK_EQ(ea.len, eb.len);
    CHECK(memcmp(ea.ptr, eb.ptr, ea.len) == 0);
    am_memory_stats_get(a, &sa);
    am_memory_stats_get(b, &sb);
    CHECK_EQ(sa.current_tokens, sb.current_tokens);
    CHECK_EQ(sa.compressions, sb.compressions);
    CHECK_EQ(sa.net_savings, sb.net_savings);
    CHECK_OK(am_memory_context(a, &ca));
    CHECK_OK(am_memory_context(b, &cb));
    CHECK_EQ(ca.count, cb.count);
    for (size_t i = 0; i < ca.count; i++) {
        am_str x = am_msg_content_text(ca.items[i]);
        am_str y = am_msg_content_text(cb.items[i]);
        CHECK_EQ(x.len, y.len);
        CHECK(x.len == 0 || memcmp(x.ptr, y.ptr, x.len) == 0);
        CHECK_EQ(am_msg_role(ca.items[i]), am_msg_role(cb.items[i]));
    }
    /* Both continue the same way. */
    for (int i = 30; i < 45; i++) {
        turn(a, i, false);
        turn(b, i, false);
    }
    am_memory_stats_get(a, &sa);
    am_memory_stats_get(b, &sb);
    CHECK_EQ(sa.current_tokens, sb.current_tokens);
    CHECK_EQ(sa.compressions, sb.compressions);
    am_msg_list_free(&ca);
    am_msg_list_free(&cb);
    am_buf_free(&ea);
    am_buf_free(&eb);
    am_memory_free(a);
    am_memory_free(b);
}

AM_TEST(import_reads_any_layout_and_export_is_one_compact_line)
{
    /* Import hands the "messages" value's own text to the message reader:
     * an indented document with reordered keys and escaped strings reads
     * the same as the compact one, and export writes it back byte for
     * byte, on one line. */
    am_memory *a = new_mem(AM_COMPRESS_SLIDING_WINDOW, 1500, 5);
    am_memory *b = new_mem(AM_COMPRESS_SLIDING_WINDOW, 1500, 5);
    am_buf ea = AM_BUF_INIT, eb = AM_BUF_INIT;
    add(a, text_msg(AM_ROLE_SYSTEM, "sys \"quoted\" \\ caf\xc3\xa9"));
    for (int i = 0; i < 6; i++)
        turn(a, i, i == 2);
    CHECK_OK(am_memory_export(a, &ea));
    CHECK(memchr(ea.ptr, '\n', ea.len) == NULL);
    json_t *doc = json_loadb(ea.ptr, ea.len, 0, NULL);
    CHECK(doc != NULL);
    char *pretty = json_dumps(doc, JSON_INDENT(3) | JSON_SORT_KEYS |
                                       JSON_ENSURE_ASCII);
    CHECK(pretty != NULL);
    CHECK(strstr(pretty, "\\u00E9") != NULL);
    CHECK_OK_E(am_memory_import(b, am_str_c(pretty)), am_memory_last_error(b));
    CHECK_OK(am_memory_export(b, &eb));
    CHECK_STR_EQ(eb.ptr, ea.ptr);
    free(pretty);
    json_decref(doc);
    am_buf_free(&ea);
    am_buf_free(&eb);
    am_memory_free(a);
    am_memory_free(b);
}

AM_TEST(bad_imports_name_the_field_and_change_nothing)
{
    am_memory *m = new_mem(AM_COMPRESS_SLIDING_WINDOW, 1500, 5);
    am_buf good = AM_BUF_INIT;
    am_memory_stats s;
    static const struct { const char *doc, *want; } cases[] = {
        { "[]", "version 1" },
        { "{\"version\":1}", "required" },
        { "{\"version\":1,\"summary\":\"\",\"messages\":[{\"role\":\"x\"}],"
          "\"entries\":[],\"stats\":{},\"last_compression\":null}",
          "messages" },
        { "{\"version\":1,\"summary\":\"\",\"messages\":[],\"entries\":[{}],"
          "\"stats\":{},\"last_compression\":null}", "entries: 1 for 0" },
        { "{\"version\":1,\"summary\":\"\",\"messages\":[],\"entries\":[],"
          "\"stats\":{\"total_tokens\":-1},\"last_compression\":null}",
          "stats.total_tokens" },
        { "{\"version\":1,", "line 1" },
    };
    turn(m, 0, false);
    CHECK_OK(am_memory_export(m, &good));
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        CHECK_ST(am_memory_import(m, am_str_c(cases[i].doc)), AM_EFORMAT);
        if (strstr(am_memory_last_error(m)->msg, cases[i].want) == NULL) {
            fprintf(stderr, "case %zu: %s\n", i, am_memory_last_error(m)->msg);
            CHECK(false);
        }
        am_memory_stats_get(m, &s);
        CHECK_EQ(s.messages_added, 5);
    }
    am_buf_free(&good);
    am_memory_free(m);
}

static am_status import_oom(void *ctx, const am_allocator *alloc)
{
    const am_buf *doc = ctx;
    am_memory_opts o = am_memory_opts_default();
    am_memory *m = NULL;
    am_status st;
    o.alloc = alloc;
    o.config.compression_threshold = 1500;
    st = am_memory_create(&o, &m, NULL);
    if (st != AM_OK)
        return st;
    st = am_memory_import(m, am_buf_str(doc));
    if (st != AM_OK && st != AM_ENOMEM)
        fprintf(stderr, "import: %s\n", am_memory_last_error(m)->msg);
    if (st != AM_OK) {
        am_memory_stats s;
        am_memory_stats_get(m, &s);
        CHECK_EQ(s.messages_added, 0);
    }
    am_memory_free(m);
    return st;
}

AM_TEST(import_survives_oom)
{
    am_memory *a = new_mem(AM_COMPRESS_SLIDING_WINDOW, 1500, 5);
    am_buf doc = AM_BUF_INIT;
    for (int i = 0; i < 20; i++)
        turn(a, i, false);
    CHECK_OK(am_memory_export(a, &doc));
    CHECK(test_oom_sweep(import_oom, &doc) > 3);
    am_buf_free(&doc);
    am_memory_free(a);
}

AM_TEST(import_counts_with_the_importing_managers_model)
{
    am_memory *est = new_mem_model(AM_COMPRESS_SLIDING_WINDOW, 900, 3,
                                   "estimate");
    am_memory *exact = NULL;
    am_memory_opts o = am_memory_opts_default();
    am_msg_list ctx = AM_MSG_LIST_INIT;
    am_memory_stats s1, s2;
    am_buf doc = AM_BUF_INIT;
    add(est, text_msg(AM_ROLE_SYSTEM, "You are a support agent."));
    for (int i = 0; i < 12; i++)
        turn(est, i, false);
    CHECK_OK(am_memory_export(est, &doc));
    o.config.compression_threshold = 900;
    CHECK_OK(am_memory_create(&o, &exact, NULL)); /* gpt-4o-mini */
    CHECK_OK(am_memory_import(exact, am_buf_str(&doc)));
    am_memory_stats_get(est, &s1);
    am_memory_stats_get(exact, &s2);
    CHECK_EQ(s2.messages, s1.messages);
    CHECK(s2.current_tokens != s1.current_tokens);
    CHECK_EQ(s1.current_tokens, context_tokens_with(est, &ctx, NULL));
    CHECK_EQ(s2.current_tokens, context_tokens(exact, &ctx));
    am_msg_list_free(&ctx);
    am_buf_free(&doc);
    am_memory_free(est);
    am_memory_free(exact);
}
