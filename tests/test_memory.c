/* test_memory.c -- the memory manager's strategies: every strategy keeps
 * the context sendable, sliding window, selective, preservation callbacks,
 * deletion, calibration from provider usage, tool clearing, statistics,
 * bad configuration. The rest of the suite: test_memory_io.c (export and
 * import), test_memory_cost.c (models, counting, cost),
 * test_memory_cap.c (the hard cap) and test_memory_oom.c (failure
 * atomicity); the shared helpers are in memory_fixture.h. */
#include <jansson.h>

#include "memory_fixture.h"

AM_TEST(every_strategy_and_window_keeps_the_context_sendable)
{
    /* Exact counting (the default) and the estimate, chosen explicitly. */
    for (int est = 0; est < 2; est++)
    for (int s = AM_COMPRESS_SLIDING_WINDOW; s <= AM_COMPRESS_DELETION;
         s++) {
        /* Short-term sizes that cut inside the 4-message call group. */
        for (size_t st = 0; st <= 7; st++) {
            am_memory *mem = new_mem_model((am_compress_strategy)s, 900, st,
                                           est ? "estimate" : NULL);
            am_msg_list ctx = AM_MSG_LIST_INIT;
            add(mem, text_msg(AM_ROLE_SYSTEM, "You are a support agent."));
            for (int i = 0; i < 30; i++) {
                turn(mem, i, i % 7 == 3);
                am_msg_list_clear(&ctx);
                CHECK_OK(am_memory_context(mem, &ctx));
                check_sendable(&ctx);
                CHECK_EQ(am_msg_role(ctx.items[0]), AM_ROLE_SYSTEM);
            }
            am_memory_stats stats;
            am_memory_stats_get(mem, &stats);
            CHECK(stats.compressions > 0);
            CHECK(stats.current_tokens < 900 + 400);
            CHECK_EQ(stats.current_tokens,
                     context_tokens_with(mem, &ctx,
                                         est ? NULL : default_tz()));
            am_msg_list_free(&ctx);
            am_memory_free(mem);
        }
    }
}

AM_TEST(sliding_window_summarizes_and_reports_savings)
{
    am_memory *mem = new_mem(AM_COMPRESS_SLIDING_WINDOW, 1500, 5);
    am_msg_list ctx = AM_MSG_LIST_INIT;
    am_compressed_memory rec;
    am_memory_stats s;
    add(mem, text_msg(AM_ROLE_SYSTEM, "You are a support agent."));
    CHECK(!am_memory_compressed(mem, &rec));
    compressed_adds = 0;
    for (int i = 0; i < 40; i++)
        turn(mem, i, false);
    CHECK(compressed_adds > 0);
    CHECK(am_memory_compressed(mem, &rec));
    CHECK(rec.original_tokens > rec.compressed_tokens);
    CHECK(rec.compression_ratio > 0 && rec.compression_ratio < 1);
    CHECK(rec.original_message_count > 0);
    CHECK(strstr(rec.summary.ptr, "Summary of") != NULL);
    CHECK(strstr(rec.summary.ptr, "lookup_order") != NULL);
    am_memory_stats_get(mem, &s);
    CHECK(s.net_savings > 0);
    CHECK(s.savings_percentage > 30.0);
    CHECK_EQ(s.messages_added, 201);
    CHECK_EQ(s.compressions, (size_t)compressed_adds);
    CHECK_OK(am_memory_context(mem, &ctx));
    /* system, summary, then the recent turn */
    CHECK_EQ(am_msg_role(ctx.items[1]), AM_ROLE_SYSTEM);
    CHECK(strncmp(am_msg_content_text(ctx.items[1]).ptr,
                  "[Compressed Summary]", 20) == 0);
    /* The summary holds the running count of everything folded in. */
    char want[64];
    snprintf(want, sizeof want, "Summary of %zu earlier messages",
             s.messages_added - (ctx.count - 1));
    CHECK(strstr(rec.summary.ptr, want) != NULL);
    am_msg_list_free(&ctx);
    am_memory_free(mem);
}

AM_TEST(selective_keeps_tool_groups_errors_and_marked_messages)
{
    am_memory *mem = new_mem(AM_COMPRESS_SELECTIVE, 2000, 5);
    am_msg_list ctx = AM_MSG_LIST_INIT;
    bool marked = false, err_kept = false;
    add(mem, text_msg(AM_ROLE_SYSTEM, "You are a support agent."));
    add(mem, text_msg(AM_ROLE_USER, "IMPORTANT: the customer is allergic "
                                    "to latex; never ship latex gloves."));
    for (int i = 0; i < 30; i++)
        turn(mem, i, i == 25);
    CHECK_OK(am_memory_context(mem, &ctx));
    check_sendable(&ctx);
    for (size_t i = 0; i < ctx.count; i++) {
        am_str t = am_msg_content_text(ctx.items[i]);
        if (t.len > 9 && memcmp(t.ptr, "IMPORTANT", 9) == 0)
            marked = true;
        if (strstr(t.ptr != NULL ? t.ptr : "", "upstream timeout") != NULL)
            err_kept = true;
    }
    CHECK(marked || strstr(am_msg_content_text(ctx.items[1]).ptr,
                           "latex") != NULL);
    CHECK(err_kept);
    am_memory_stats s;
    am_memory_stats_get(mem, &s);
    CHECK(s.compressions > 0);
    am_msg_list_free(&ctx);
    am_memory_free(mem);
}

/* The seed's CustomCompressor: keep what says "CRITICAL:", and let
 * nothing else that says "IMPORTANT" count. */
static int critical_only(void *ctx, const am_msg *msg)
{
    int *calls = ctx;
    am_str t = am_msg_content_text(msg);
    (*calls)++;
    if (t.ptr != NULL && strstr(t.ptr, "CRITICAL:") != NULL)
        return 1;
    if (t.ptr != NULL && strstr(t.ptr, "IMPORTANT") != NULL)
        return -1;
    return 0;
}

AM_TEST(a_preservation_callback_keeps_and_releases_messages)
{
    for (int with = 0; with < 2; with++) {
        int calls = 0;
        am_memory_opts o = am_memory_opts_default();
        am_memory *mem = NULL;
        o.config.compression_threshold = 2000;
        o.config.short_term_size = 5;
        o.config.strategy = AM_COMPRESS_SELECTIVE;
        snprintf(o.config.importance_markers,
                 sizeof o.config.importance_markers, "important");
        o.counter.tokenizer = default_tz();
        if (with) {
            o.should_preserve = critical_only;
            o.should_preserve_ctx = &calls;
        }
        CHECK_OK(am_memory_create(&o, &mem, NULL));
        add(mem, text_msg(AM_ROLE_SYSTEM, "You are a support agent."));
        add(mem, text_msg(AM_ROLE_USER, "CRITICAL: ship to the new address "
                                        "in Porto from now on."));
        add(mem, text_msg(AM_ROLE_USER, "IMPORTANT: the customer is "
                                        "allergic to latex."));
        for (int i = 0; i < 30; i++)
            turn(mem, i, false);
        am_memory_stats s;
        am_memory_stats_get(mem, &s);
        CHECK(s.compressions > 0);
        /* The marker word keeps IMPORTANT unless the callback says no;
         * only the callback keeps CRITICAL. */
        CHECK_EQ(context_has(mem, "CRITICAL:"), with == 1);
        CHECK_EQ(context_has(mem, "IMPORTANT:"), with == 0);
        CHECK_EQ(calls > 0, with == 1);
        am_memory_free(mem);
    }
}

AM_TEST(deletion_drops_old_messages_without_summary)
{
    am_memory *mem = new_mem(AM_COMPRESS_DELETION, 800, 5);
    am_msg_list ctx = AM_MSG_LIST_INIT;
    am_compressed_memory rec;
    add(mem, text_msg(AM_ROLE_SYSTEM, "sys"));
    for (int i = 0; i < 20; i++)
        turn(mem, i, false);
    CHECK_OK(am_memory_context(mem, &ctx));
    check_sendable(&ctx);
    for (size_t i = 1; i < ctx.count; i++)
        CHECK(am_msg_role(ctx.items[i]) != AM_ROLE_SYSTEM);
    CHECK(am_memory_compressed(mem, &rec));
    CHECK_EQ(rec.compressed_tokens, 0);
    CHECK_EQ(rec.summary.len, 0);
    am_msg_list_free(&ctx);
    am_memory_free(mem);
}

AM_TEST(provider_usage_calibrates_where_compression_triggers)
{
    /* The estimate, chosen explicitly: calibration is what corrects it. */
    am_memory *plain =
        new_mem_model(AM_COMPRESS_SLIDING_WINDOW, 3000, 4, "estimate");
    am_memory *cal =
        new_mem_model(AM_COMPRESS_SLIDING_WINDOW, 3000, 4, "estimate");
    am_memory_usage u = { 0, 0, 0 };
    am_memory_stats s;
    int first_plain = -1, first_cal = -1;
    for (int i = 0; i < 70; i++) {
        am_msg *m = text_msg(i % 2 ? AM_ROLE_ASSISTANT : AM_ROLE_USER,
                             "The provider counts this sentence as about "
                             "twice as many tokens as we estimate it.");
        am_memory_stats_get(cal, &s);
        /* The provider reports twice our count of the context sent. */
        u.input_tokens = (int64_t)(2 * s.current_tokens / s.calibration);
        u.output_tokens = 20;
        CHECK_OK(am_memory_add(plain, m, NULL));
        CHECK_OK(am_memory_add(cal, m, i % 2 && i > 1 ? &u : NULL));
        am_msg_free(m);
        if (first_plain < 0 && am_memory_was_compressed_last(plain))
            first_plain = i;
        if (first_cal < 0 && am_memory_was_compressed_last(cal))
            first_cal = i;
    }
    am_memory_stats_get(cal, &s);
    CHECK(s.calibration > 1.9 && s.calibration < 2.1);
    CHECK(s.input_tokens_reported > 0);
    CHECK(first_cal > 0);
    CHECK(first_plain < 0 || first_cal < first_plain);
    am_memory_free(plain);
    am_memory_free(cal);
}

AM_TEST(tool_results_are_cleared_past_the_trigger_keeping_recent_and_excluded)
{
    am_memory_opts o = am_memory_opts_default();
    am_memory *mem = NULL;
    am_msg_list ctx = AM_MSG_LIST_INIT;
    am_memory_stats s;
    size_t placeholders = 0, kept_excluded = 0;
    o.config.compression_threshold = 90000;
    o.config.tool_clear_trigger = 1000;
    o.config.tool_clear_keep = 4;
    o.config.tool_clear_at_least = 50;
    snprintf(o.config.tool_clear_exclude, sizeof o.config.tool_clear_exclude,
             "shipping");
    CHECK_OK(am_memory_create(&o, &mem, NULL));
    for (int i = 0; i < 12; i++)
        turn(mem, i, false);
    CHECK_OK(am_memory_context(mem, &ctx));
    check_sendable(&ctx);
    for (size_t i = 0; i < ctx.count; i++) {
        am_str t = am_msg_content_text(ctx.items[i]);
        if (am_msg_role(ctx.items[i]) != AM_ROLE_TOOL)
            continue;
        CHECK_EQ(am_msg_created_ms(ctx.items[i]), RESULT_CREATED_MS);
        if (strncmp(t.ptr, "[tool result cleared", 20) == 0)
            placeholders++;
        else if (i + 6 < ctx.count)
            kept_excluded++; /* old but kept: must be an excluded tool */
    }
    am_memory_stats_get(mem, &s);
    CHECK(placeholders > 0);
    CHECK_EQ(s.tool_results_cleared, placeholders);
    CHECK(s.tool_tokens_cleared > 0);
    CHECK(kept_excluded > 0); /* "shipping" results are never cleared */
    /* The four most recent results are intact. */
    for (size_t i = ctx.count - 5; i < ctx.count; i++)
        if (am_msg_role(ctx.items[i]) == AM_ROLE_TOOL)
            CHECK(strncmp(am_msg_content_text(ctx.items[i]).ptr,
                          "[tool result cleared", 20) != 0);
    am_msg_list_free(&ctx);
    am_memory_free(mem);
}

AM_TEST(stats_text_matches_the_seed_block)
{
    am_memory *mem = new_mem(AM_COMPRESS_SLIDING_WINDOW, 1500, 5);
    am_buf b = AM_BUF_INIT;
    am_memory_stats s;
    for (int i = 0; i < 60; i++)
        turn(mem, i, false);
    CHECK_OK(am_memory_stats_text(mem, &b));
    am_memory_stats_get(mem, &s);
    CHECK(strncmp(b.ptr, "--- Memory Statistics ---\nTotal tokens: ",
                  40) == 0);
    CHECK(strstr(b.ptr, ",") != NULL); /* thousands separator */
    char line[64];
    snprintf(line, sizeof line, "Compressions: %zu\n", s.compressions);
    CHECK(strstr(b.ptr, line) != NULL);
    snprintf(line, sizeof line, "(%.1f%%)\nTotal cost: $",
             s.savings_percentage);
    CHECK(strstr(b.ptr, line) != NULL);
    CHECK_OK(am_memory_stats_json(mem, &b));
    CHECK(strstr(b.ptr, "\"compression_count\":") != NULL);
    CHECK(strstr(b.ptr, "\"strategy\":\"sliding_window\"") != NULL);
    am_buf_free(&b);
    am_memory_free(mem);
}

AM_TEST(bad_config_and_bad_messages_are_refused)
{
    am_memory_opts o = am_memory_opts_default();
    am_memory *mem = NULL;
    am_error err = { AM_OK, "" };
    am_msg *m = NULL;
    o.config.compression_threshold = o.config.max_context_tokens + 1;
    CHECK_ST(am_memory_create(&o, &mem, &err), AM_EINVAL);
    CHECK(strstr(err.msg, "compression_threshold") != NULL);
    o = am_memory_opts_default();
    o.config.compression_ratio = 0;
    CHECK_ST(am_memory_create(&o, &mem, &err), AM_EINVAL);
    o = am_memory_opts_default();
    CHECK_OK(am_memory_create(&o, &mem, &err));
    /* A tool message without tool_call_id is invalid. */
    CHECK_OK(am_msg_create_text(NULL, AM_ROLE_TOOL, AM_STR("x"), &m, NULL));
    CHECK_ST(am_memory_add(mem, m, NULL), AM_EINVAL);
    am_msg_free(m);
    am_memory_stats s;
    am_memory_stats_get(mem, &s);
    CHECK_EQ(s.messages_added, 0);
    am_memory_free(mem);
}

AM_TEST(disabled_memory_never_compresses_and_stats_json_parses)
{
    am_memory_opts o = am_memory_opts_default();
    am_memory *mem = NULL;
    am_memory_stats s;
    am_buf b = AM_BUF_INIT;
    o.config.enabled = false;
    o.config.compression_threshold = 100;
    CHECK_OK(am_memory_create(&o, &mem, NULL));
    for (int i = 0; i < 10; i++)
        turn(mem, i, false);
    am_memory_stats_get(mem, &s);
    CHECK_EQ(s.compressions, 0);
    CHECK_EQ(s.messages, 50);
    CHECK_EQ(s.current_tokens, s.total_tokens);
    CHECK_OK(am_memory_compress(mem)); /* explicit compression still works */
    am_memory_stats_get(mem, &s);
    CHECK_EQ(s.compressions, 1);
    CHECK(s.current_tokens < s.total_tokens);
    CHECK_OK(am_memory_stats_json(mem, &b));
    {
        json_error_t e;
        json_t *v = json_loads(b.ptr, 0, &e);
        CHECK(v != NULL);
        CHECK_EQ(json_integer_value(json_object_get(v, "compression_count")),
                 1);
        json_decref(v);
    }
    am_buf_free(&b);
    am_memory_free(mem);
}

/* compress_newest: with short_term_size 0 an explicit compression folds
 * every message, the newest group too; without it the newest group (here
 * the last answer) stays; with a short-term window the option changes
 * nothing. */
AM_TEST(compress_newest_folds_the_last_group_too)
{
    for (int variant = 0; variant < 3; variant++) {
        am_memory_opts o = am_memory_opts_default();
        am_memory *mem = NULL;
        am_msg_list ctx = AM_MSG_LIST_INIT;
        am_compressed_memory rec;
        o.config.enabled = false;
        o.config.short_term_size = variant == 2 ? 2 : 0;
        o.config.strategy = AM_COMPRESS_SLIDING_WINDOW;
        o.compress_newest = variant != 1;
        o.counter.tokenizer = default_tz();
        CHECK_OK(am_memory_create(&o, &mem, NULL));
        add(mem, text_msg(AM_ROLE_SYSTEM, "sys"));
        add(mem, text_msg(AM_ROLE_USER, "Ship order 7 to Porto."));
        add(mem, call_msg("c1", NULL, "lookup"));
        add(mem, result_msg("c1", "order 7: paid"));
        add(mem, text_msg(AM_ROLE_ASSISTANT, "Done."));
        add(mem, text_msg(AM_ROLE_USER, "And order 8?"));
        add(mem, text_msg(AM_ROLE_ASSISTANT, "Also shipped."));
        CHECK_OK(am_memory_compress(mem));
        CHECK(am_memory_compressed(mem, &rec));
        CHECK_OK(am_memory_context(mem, &ctx));
        check_sendable(&ctx);
        CHECK_EQ(am_msg_role(ctx.items[0]), AM_ROLE_SYSTEM);
        if (variant == 0) {
            /* system + summary: all six others folded */
            CHECK_EQ(rec.original_message_count, 6);
            CHECK_EQ(ctx.count, 2);
            CHECK(!context_has(mem, "And order 8?"));
        } else if (variant == 1) {
            /* the newest group (the last answer) is still there */
            CHECK_EQ(rec.original_message_count, 5);
            CHECK_EQ(ctx.count, 3);
            CHECK(context_has(mem, "Also shipped."));
        } else {
            /* the short-term window: the last two */
            CHECK_EQ(rec.original_message_count, 4);
            CHECK_EQ(ctx.count, 4);
            CHECK(context_has(mem, "And order 8?"));
            CHECK(context_has(mem, "Also shipped."));
        }
        am_msg_list_free(&ctx);
        am_memory_free(mem);
    }
}

AM_TEST(a_tool_result_without_its_call_is_never_sent)
{
    am_memory *mem = new_mem(AM_COMPRESS_SLIDING_WINDOW, 700, 3);
    am_msg_list ctx = AM_MSG_LIST_INIT;
    am_memory_stats s;
    add(mem, text_msg(AM_ROLE_SYSTEM, "sys"));
    add(mem, result_msg("ghost", "a result nobody asked for"));
    add(mem, text_msg(AM_ROLE_USER, "hello"));
    CHECK_OK(am_memory_context(mem, &ctx));
    CHECK_EQ(ctx.count, 2);
    CHECK_EQ(am_msg_role(ctx.items[1]), AM_ROLE_USER);
    am_memory_stats_get(mem, &s);
    CHECK_EQ(s.messages, 2);
    CHECK_EQ(s.current_tokens, context_tokens(mem, &ctx));
    /* It goes into the summary at the next compression. */
    for (int i = 0; i < 10; i++)
        turn(mem, i, false);
    am_memory_stats_get(mem, &s);
    CHECK(s.compressions > 0);
    CHECK_EQ(s.current_tokens, context_tokens(mem, &ctx));
    check_sendable(&ctx);
    am_msg_list_free(&ctx);
    am_memory_free(mem);
}

/* ---- window.h manager promises not held elsewhere (audit, s13) ---- */

static size_t count_one_token(void *ctx, const am_msg *m)
{
    (void)ctx, (void)m;
    return 1;
}

/* Defaults; the state of a new manager (no error, no compression, an
 * estimate counts with no tokenizer); a NULL manager's stats are zeros;
 * compress with nothing old is AM_OK; stats_json refuses a model that is
 * not UTF-8. */
AM_TEST(a_new_manager_keeps_the_small_promises)
{
    am_memory_opts o = am_memory_opts_default();
    am_memory_config d = am_memory_config_default();
    am_memory *mem = NULL;
    am_memory_stats s;
    am_compressed_memory cm;
    am_buf b = AM_BUF_INIT;
    am_error err = { AM_OK, "" };

    CHECK(memcmp(&o.config, &d, sizeof d) == 0);
    CHECK(o.counter.tokenizer == NULL && o.counter.count_msg == NULL);
    CHECK(o.summarizer == NULL && o.models == NULL && o.tracker == NULL);
    CHECK(o.should_preserve == NULL);
    CHECK(!o.compress_newest);

    snprintf(o.config.model, sizeof o.config.model, "estimate");
    CHECK_OK_E(am_memory_create(&o, &mem, &err), &err);
    CHECK(am_memory_tokenizer(mem) == NULL);
    CHECK_EQ(am_memory_last_error(mem)->code, AM_OK);
    CHECK_STR_EQ(am_memory_last_error(mem)->msg, "");
    CHECK(!am_memory_compressed(mem, &cm));
    CHECK_OK(am_memory_compress(mem));
    CHECK(!am_memory_was_compressed_last(mem));
    CHECK_EQ(am_memory_last_savings(mem), 0);
    am_memory_free(mem);
    am_memory_free(NULL);

    memset(&s, 0xAB, sizeof s);
    am_memory_stats_get(NULL, &s);
    CHECK_EQ(s.current_tokens, 0);
    CHECK_EQ(s.messages_added, 0);
    CHECK_EQ(s.net_savings, 0);
    CHECK(s.total_cost == 0.0);
    CHECK(!s.cost_estimated);

    /* A model that is not UTF-8 counts with the catalog default rule, but
     * the JSON cannot carry its name. */
    o = am_memory_opts_default();
    snprintf(o.config.model, sizeof o.config.model, "m\xFF");
    o.counter.count_msg = count_one_token;
    CHECK_OK_E(am_memory_create(&o, &mem, &err), &err);
    CHECK_ST(am_memory_stats_json(mem, &b), AM_EFORMAT);
    am_buf_free(&b);
    am_memory_free(mem);
}
