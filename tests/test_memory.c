/* test_memory.c -- the memory manager: strategies, calibration, tool
 * clearing, statistics, failure atomicity. */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "agentmem/window.h"
#include "harness.h"
#include "jansson_fail.h"
#include "history_checks.h"

static am_msg *text_msg(am_role role, const char *text)
{
    am_msg *m = NULL;
    CHECK_OK(am_msg_create_text(NULL, role, am_str_c(text), &m, NULL));
    return m;
}

static am_msg *call_msg(const char *id1, const char *id2, const char *tool)
{
    am_msg *m = NULL;
    am_tool_call tc = { am_str_c(id1), AM_STR("function"), am_str_c(tool),
                        AM_STR("{\"q\":\"status of the order\"}"), AM_STR("") };
    CHECK_OK(am_msg_create(NULL, AM_ROLE_ASSISTANT, &m, NULL));
    CHECK_OK(am_msg_add_tool_call(m, &tc, NULL));
    if (id2 != NULL) {
        tc.id = am_str_c(id2);
        CHECK_OK(am_msg_add_tool_call(m, &tc, NULL));
    }
    return m;
}

/* Tool results carry a fixed creation time, which their placeholders
 * must keep (they stand for the same message). */
#define RESULT_CREATED_MS 1700000000000LL

static am_msg *result_msg(const char *id, const char *text)
{
    am_msg *m = text_msg(AM_ROLE_TOOL, text);
    CHECK_OK(am_msg_set_tool_call_id(m, am_str_c(id), NULL));
    CHECK_OK(am_msg_set_created_ms(m, RESULT_CREATED_MS, NULL));
    return m;
}

static int compressed_adds; /* adds that reported a compression */

static void add(am_memory *mem, am_msg *m)
{
    CHECK_OK_E(am_memory_add(mem, m, NULL), am_memory_last_error(mem));
    am_msg_free(m);
    if (am_memory_was_compressed_last(mem)) {
        compressed_adds++;
        CHECK(am_memory_last_savings(mem) > 0);
    }
}

/* One agent turn: user asks, assistant calls two tools in parallel, the
 * results come back in reverse order, the assistant answers. */
static void turn(am_memory *mem, int i, bool fail)
{
    char a[32], b[32], text[512];
    snprintf(a, sizeof a, "c%da", i);
    snprintf(b, sizeof b, "c%db", i);
    snprintf(text, sizeof text,
             "Turn %d: please check order %d for customer Dana Smith and "
             "tell me the delivery date, then summarize the shipping "
             "options and their prices in a short table.", i, 1000 + i);
    add(mem, text_msg(AM_ROLE_USER, text));
    add(mem, call_msg(a, b, i % 2 ? "lookup_order" : "shipping"));
    snprintf(text, sizeof text,
             "{\"order\":%d,\"status\":\"shipped\",\"carrier\":\"DHL\","
             "\"eta\":\"2025-06-%02d\",\"items\":[\"lamp\",\"desk\","
             "\"chair\"],\"notes\":\"left warehouse in Hamburg\"}",
             1000 + i, 1 + i % 28);
    add(mem, result_msg(b, fail ? "error: upstream timeout" : text));
    add(mem, result_msg(a, text));
    snprintf(text, sizeof text,
             "Order %d shipped with DHL and arrives on 2025-06-%02d. The "
             "cheapest option is standard at 4.99 EUR.", 1000 + i,
             1 + i % 28);
    add(mem, text_msg(AM_ROLE_ASSISTANT, text));
}

/* Sendable, and every call answered exactly once. */
static void check_sendable(const am_msg_list *l)
{
    test_results_follow_calls(l);
    for (size_t i = 0; i < l->count; i++)
        for (size_t c = 0; c < am_msg_tool_call_count(l->items[i]); c++) {
            am_str id = am_msg_tool_call(l->items[i], c)->id;
            CHECK_EQ(test_answers_after(l, i, id), 1);
        }
}

/* An independent exact count for the default model. */
static const am_tokenizer *default_tz(void)
{
    static am_tokenizer *tz;
    if (tz == NULL)
        CHECK_OK(am_tokenizer_create(AM_STR(AM_MEMORY_DEFAULT_MODEL), NULL,
                                   &tz, NULL));
    return tz;
}

static am_memory *new_mem_model(am_compress_strategy s, size_t threshold,
                                size_t short_term, const char *model)
{
    am_memory_opts o = am_memory_opts_default();
    am_memory *mem = NULL;
    o.config.compression_threshold = threshold;
    o.config.short_term_size = short_term;
    o.config.strategy = s;
    if (model != NULL)
        snprintf(o.config.model, sizeof o.config.model, "%s", model);
    else
        o.counter.tokenizer = default_tz(); /* shared: what it would open */
    CHECK_OK(am_memory_create(&o, &mem, NULL));
    return mem;
}

/* The default config: counted exactly for AM_MEMORY_DEFAULT_MODEL. */
static am_memory *new_mem(am_compress_strategy s, size_t threshold,
                          size_t short_term)
{
    return new_mem_model(s, threshold, short_term, NULL);
}

static size_t context_tokens_with(am_memory *mem, am_msg_list *ctx,
                                  const am_tokenizer *tz)
{
    am_counter c;
    size_t total = 0;
    memset(&c, 0, sizeof c);
    c.tokenizer = tz;
    am_msg_list_clear(ctx);
    CHECK_OK(am_memory_context(mem, ctx));
    for (size_t i = 0; i < ctx->count; i++) {
        size_t n = 0;
        CHECK_OK(am_count_msg(&c, ctx->items[i], &n, NULL));
        total += n;
    }
    return total;
}

static size_t context_tokens(am_memory *mem, am_msg_list *ctx)
{
    return context_tokens_with(mem, ctx, default_tz());
}

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

static bool context_has(am_memory *mem, const char *prefix)
{
    am_msg_list ctx = AM_MSG_LIST_INIT;
    bool found = false;
    CHECK_OK(am_memory_context(mem, &ctx));
    for (size_t i = 0; i < ctx.count; i++) {
        am_str t = am_msg_content_text(ctx.items[i]);
        if (t.len >= strlen(prefix) &&
            memcmp(t.ptr, prefix, strlen(prefix)) == 0)
            found = true;
    }
    am_msg_list_free(&ctx);
    return found;
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
    am_error err;
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

static size_t count_one(const am_tokenizer *tz, const am_msg *m)
{
    am_counter c;
    size_t n = 0;
    memset(&c, 0, sizeof c);
    c.tokenizer = tz;
    CHECK_OK(am_count_msg(tz != NULL ? &c : NULL, m, &n, NULL));
    return n;
}

static size_t one_per_message(void *ctx, const am_msg *m)
{
    (void)ctx;
    (void)m;
    return 1;
}

AM_TEST(the_configured_model_decides_how_messages_are_counted)
{
    /* Text where the estimate and o200k disagree. */
    static const char *const texts[] = {
        "Order 1234 ships on 2025-06-01 with DHL to Dana Smith.",
        "int main(void) { return printf(\"%d\\n\", 42) < 0; }",
        /* "Let's meet in Tokyo" in Japanese. */
        ("\xe6\x9d\xb1\xe4\xba\xac\xe3\x81\xa7\xe4\xbc\x9a"
         "\xe3\x81\x84\xe3\x81\xbe\xe3\x81\x97\xe3\x82\x87\xe3\x81\x86"),
    };
    am_tokenizer *claude = NULL;
    am_memory_config d = am_memory_config_default();
    am_memory *exact = NULL;
    am_memory *est =
        new_mem_model(AM_COMPRESS_SLIDING_WINDOW, 90000, 10, "EsTiMaTe");
    am_memory *empty = new_mem_model(AM_COMPRESS_SLIDING_WINDOW, 90000, 10,
                                     "");
    am_memory *cl = new_mem_model(AM_COMPRESS_SLIDING_WINDOW, 90000, 10,
                                  "claude-3-5-sonnet");
    am_memory *cb = NULL;
    am_memory_opts o = am_memory_opts_default();
    size_t want_exact = 0, want_est = 0, want_cl = 0;
    am_memory_stats s;

    CHECK_STR_EQ(d.model, AM_MEMORY_DEFAULT_MODEL);
    CHECK_OK(am_tokenizer_create(AM_STR("claude-3-5-sonnet"), NULL, &claude,
                               NULL));
    CHECK(!am_tokenizer_is_exact(claude));
    o.config.compression_threshold = 90000;
    CHECK_OK(am_memory_create(&o, &exact, NULL)); /* opens gpt-4o-mini */
    CHECK(am_tokenizer_is_exact(am_memory_tokenizer(exact)));
    CHECK_STR_EQ(am_tokenizer_model_name(am_memory_tokenizer(exact)),
                 AM_MEMORY_DEFAULT_MODEL);
    CHECK(am_memory_tokenizer(est) == NULL);
    o.counter.count_msg = one_per_message; /* a caller's counter wins */
    CHECK_OK(am_memory_create(&o, &cb, NULL));
    CHECK(am_memory_tokenizer(cb) == NULL);
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        am_msg *m = text_msg(AM_ROLE_USER, texts[i]);
        add(exact, am_msg_ref(m));
        add(est, am_msg_ref(m));
        add(empty, am_msg_ref(m));
        add(cl, am_msg_ref(m));
        add(cb, am_msg_ref(m));
        want_exact += count_one(default_tz(), m);
        want_est += count_one(NULL, m);
        want_cl += count_one(claude, m);
        am_msg_free(m);
    }
    CHECK(want_exact != want_est);
    CHECK(want_cl != want_est && want_cl != want_exact);
    am_memory_stats_get(exact, &s);
    CHECK_EQ(s.current_tokens, want_exact);
    am_memory_stats_get(est, &s);
    CHECK_EQ(s.current_tokens, want_est);
    am_memory_stats_get(empty, &s);
    CHECK_EQ(s.current_tokens, want_est);
    am_memory_stats_get(cl, &s);
    CHECK_EQ(s.current_tokens, want_cl);
    am_memory_stats_get(cb, &s);
    CHECK_EQ(s.current_tokens, 3);
    am_tokenizer_free(claude);
    am_memory_free(exact);
    am_memory_free(est);
    am_memory_free(empty);
    am_memory_free(cl);
    am_memory_free(cb);
}

AM_TEST(reported_usage_is_priced_for_the_default_model)
{
    am_memory *mem = new_mem(AM_COMPRESS_SLIDING_WINDOW, 90000, 10);
    am_memory *est = new_mem_model(AM_COMPRESS_SLIDING_WINDOW, 90000, 10,
                                   "estimate");
    am_memory_usage u = { 1000000, 1000000, 0 };
    am_memory_stats s;
    am_msg *m = text_msg(AM_ROLE_ASSISTANT, "Done.");
    CHECK_OK(am_memory_add(mem, m, &u));
    CHECK_OK(am_memory_add(est, m, &u));
    am_msg_free(m);
    am_memory_stats_get(mem, &s);
    /* gpt-4o-mini: $0.15 in + $0.60 out per million tokens. */
    CHECK(s.total_cost > 0.7499 && s.total_cost < 0.7501);
    CHECK(!s.cost_estimated);
    am_memory_stats_get(est, &s);
    /* Not in the catalog: the seed's default price, marked estimated. */
    CHECK(s.total_cost > 2.7399 && s.total_cost < 2.7401);
    CHECK(s.cost_estimated);
    am_buf b = AM_BUF_INIT;
    CHECK_OK(am_memory_stats_json(est, &b));
    CHECK(strstr(b.ptr, "\"cost_estimated\":true,\"priced_as\":"
                        "\"default\"") != NULL);
    CHECK(strstr(b.ptr, "\"model\":\"estimate\"") != NULL);
    CHECK_OK(am_memory_stats_text(est, &b));
    CHECK(strstr(b.ptr, "Total cost: $2.7400 (estimated: model 'estimate' "
                        "is not in the catalog; priced at the default "
                        "$0.55/$2.19 per million tokens)") != NULL);
    am_buf_free(&b);
    am_memory_free(mem);
    am_memory_free(est);
}

/* A summarizer whose every call costs one cent (and 100 tokens). */
static uint64_t cent_calls;
static am_status cent_summarize(void *ctx, am_str prev,
                                const am_msg *const *msgs, size_t count,
                                size_t budget, am_buf *out, am_error *err)
{
    (void)ctx;
    (void)prev;
    (void)msgs;
    (void)budget;
    (void)err;
    cent_calls++;
    am_buf_clear(out);
    return am_buf_appendf(out, "%zu messages about orders.", count);
}
static uint64_t cent_tokens(void *ctx)
{
    (void)ctx;
    return cent_calls * 100;
}
static double cent_cost(void *ctx)
{
    (void)ctx;
    return (double)cent_calls * 0.01;
}

AM_TEST(total_cost_includes_compression_calls_and_net_cost_is_reported)
{
    static const am_summarizer_vtable vt = { "cent", cent_summarize, NULL,
                                             cent_tokens, cent_cost };
    am_summarizer *sum = NULL;
    am_memory *mem = NULL;
    am_memory_stats s;
    am_buf b = AM_BUF_INIT;
    cent_calls = 0;
    CHECK_OK(am_summarizer_create(&vt, NULL, NULL, &sum, NULL));
    am_memory_opts o = am_memory_opts_default();
    o.config.compression_threshold = 1500;
    o.config.short_term_size = 5;
    o.counter.tokenizer = default_tz();
    o.summarizer = sum;
    CHECK_OK(am_memory_create(&o, &mem, NULL));
    for (int i = 0; i < 30; i++)
        turn(mem, i, false);
    am_memory_usage u = { 1000000, 0, 0 };
    am_msg *m = text_msg(AM_ROLE_ASSISTANT, "Done.");
    CHECK_OK(am_memory_add(mem, m, &u));
    am_msg_free(m);
    am_memory_stats_get(mem, &s);
    CHECK(cent_calls > 0);
    CHECK_EQ(s.compression_cost, (size_t)(cent_calls * 100));
    CHECK(s.compression_cost_usd > 0.01 * (double)cent_calls - 1e-9 &&
          s.compression_cost_usd < 0.01 * (double)cent_calls + 1e-9);
    /* gpt-4o-mini input: $0.15 per million for the reported call, plus
     * the compression calls' own cost. */
    CHECK(s.total_cost > 0.15 + s.compression_cost_usd - 1e-9 &&
          s.total_cost < 0.15 + s.compression_cost_usd + 1e-9);
    double saved_usd = (double)s.tokens_saved * 0.15 / 1e6;
    CHECK(s.net_cost > saved_usd - s.compression_cost_usd - 1e-9 &&
          s.net_cost < saved_usd - s.compression_cost_usd + 1e-9);
    CHECK_OK(am_memory_stats_json(mem, &b));
    CHECK(strstr(b.ptr, "\"net_cost\":") != NULL);
    CHECK(strstr(b.ptr, "\"cost_estimated\":false") != NULL);
    /* Export and import keep the compression calls' cost. */
    am_memory *back = NULL;
    CHECK_OK(am_memory_export(mem, &b));
    o.summarizer = NULL;
    CHECK_OK(am_memory_create(&o, &back, NULL));
    CHECK_OK(am_memory_import(back, am_buf_str(&b)));
    am_memory_stats s2;
    am_memory_stats_get(back, &s2);
    CHECK(s2.total_cost == s.total_cost);
    am_buf_free(&b);
    am_memory_free(back);
    am_memory_free(mem);
    am_summarizer_free(sum);
}

AM_TEST(a_tokenizer_that_cannot_open_fails_create_naming_the_model)
{
    test_alloc ta;
    am_allocator a;
    am_memory_opts o = am_memory_opts_default();
    am_memory *mem = NULL;
    am_error err;
    memset(&ta, 0, sizeof ta);
    /* The first allocation is the manager, the second the tokenizer. */
    ta.fail_at = 2;
    a = test_alloc_make(&ta);
    o.alloc = &a;
    CHECK_ST(am_memory_create(&o, &mem, &err), AM_ENOMEM);
    CHECK(mem == NULL);
    CHECK(strstr(err.msg, "memory: cannot count tokens for model "
                          "'gpt-4o-mini'") != NULL);
    CHECK_EQ(ta.live_blocks, 0);
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

/* ---- The hard cap ---- */

static char *big_text(size_t words)
{
    static const char *const w[] = { "alpha", "beta", "gamma", "delta" };
    am_buf b = AM_BUF_INIT;
    CHECK_OK(am_buf_append(&b, "HEAD ", 5));
    for (size_t i = 0; i < words; i++)
        CHECK_OK(am_buf_appendf(&b, "%s ", w[i % 4]));
    CHECK_OK(am_buf_append(&b, "TAIL", 4));
    return b.ptr; /* the default allocator's: free() */
}

static bool str_has(am_str t, const char *needle)
{
    size_t n = strlen(needle);
    for (size_t i = 0; i + n <= t.len; i++)
        if (memcmp(t.ptr + i, needle, n) == 0)
            return true;
    return false;
}

static size_t count_text_tokens(const char *t)
{
    size_t n = 0;
    CHECK_OK(am_tokenizer_count(default_tz(), am_str_c(t), NULL, &n, NULL));
    return n;
}

/* One tool result of ~7,000 tokens in a 4,000-token budget once sent
 * 8,924 tokens and evicted the user turn it answered. */
AM_TEST(the_context_never_exceeds_max_context_tokens_and_keeps_the_user_turn)
{
    for (int enabled = 0; enabled < 2; enabled++) {
        am_memory_opts o = am_memory_opts_default();
        am_memory *mem = NULL;
        am_msg_list ctx = AM_MSG_LIST_INIT;
        char *big = big_text(7000);
        bool cut_seen = false;

        CHECK(count_text_tokens(big) > 6500);
        o.config.enabled = enabled;
        o.config.max_context_tokens = 4000;
        o.config.compression_threshold = 3000;
        o.counter.tokenizer = default_tz();
        CHECK_OK(am_memory_create(&o, &mem, NULL));
        add(mem, text_msg(AM_ROLE_SYSTEM, "You are a careful analyst."));
        for (int i = 0; i < 3; i++)
            turn(mem, i, false);
        add(mem, text_msg(AM_ROLE_USER, "Fetch the Q3 report and tell me "
                                        "what changed."));
        add(mem, call_msg("r1", NULL, "fetch_report"));
        add(mem, result_msg("r1", big));
        CHECK(context_tokens(mem, &ctx) <= 4000);
        CHECK(context_has(mem, "Fetch the Q3 report"));
        CHECK(context_has(mem, "You are a careful analyst."));
        check_sendable(&ctx);
        for (size_t i = 0; i < ctx.count; i++) {
            am_str t = am_msg_content_text(ctx.items[i]);
            if (am_msg_role(ctx.items[i]) != AM_ROLE_TOOL ||
                strncmp(t.ptr, "HEAD alpha", 10) != 0)
                continue;
            CHECK(str_has(t, "tokens cut to fit the context budget ...]"));
            CHECK(t.len > 1000); /* cut to fit, not to nothing */
            CHECK_MEM_EQ(t.ptr + t.len - 10, 10, "delta TAIL");
            CHECK_STR_EQ(am_msg_tool_call_id(ctx.items[i]).ptr, "r1");
            CHECK_EQ(am_msg_created_ms(ctx.items[i]), RESULT_CREATED_MS);
            cut_seen = true;
        }
        CHECK(cut_seen);
        /* The answer arrives: still within the cap, the turn still there. */
        add(mem, text_msg(AM_ROLE_ASSISTANT, "Revenue rose 4%."));
        CHECK(context_tokens(mem, &ctx) <= 4000);
        CHECK(context_has(mem, "Fetch the Q3 report"));
        /* A single user message larger than the budget is cut too. */
        add(mem, text_msg(AM_ROLE_USER, big));
        CHECK(context_tokens(mem, &ctx) <= 4000);
        CHECK(context_has(mem, "HEAD alpha"));
        am_msg_list_free(&ctx);
        am_memory_free(mem);
        free(big);
    }
}

/* What cannot be cut (a message of parts) and does not fit is refused
 * with both figures, and the manager is as it was. */
AM_TEST(a_message_that_cannot_fit_the_cap_is_refused_and_changes_nothing)
{
    am_memory_opts o = am_memory_opts_default();
    am_memory *mem = NULL;
    am_msg_list ctx = AM_MSG_LIST_INIT;
    am_msg *m = NULL;
    char *big = big_text(3000);
    am_part p;

    o.config.max_context_tokens = 1000;
    o.config.compression_threshold = 800;
    o.counter.tokenizer = default_tz();
    CHECK_OK(am_memory_create(&o, &mem, NULL));
    add(mem, text_msg(AM_ROLE_USER, "hello"));
    memset(&p, 0, sizeof p);
    p.type = AM_PART_TEXT;
    p.text = am_str_c(big);
    CHECK_OK(am_msg_create(NULL, AM_ROLE_USER, &m, NULL));
    CHECK_OK(am_msg_add_part(m, &p, NULL));
    CHECK_ST(am_memory_add(mem, m, NULL), AM_ELIMIT);
    CHECK(strstr(am_memory_last_error(mem)->msg, "max_context_tokens is "
                 "1000") != NULL);
    am_msg_free(m);
    CHECK_OK(am_memory_context(mem, &ctx));
    CHECK_EQ(ctx.count, 1);
    CHECK(context_has(mem, "hello"));
    am_msg_list_free(&ctx);
    am_memory_free(mem);
    free(big);
}

/* The cap's drops and cuts under a failing allocator: every run answers
 * AM_OK or AM_ENOMEM, leaks nothing, and an AM_OK context fits. */
static am_status cap_oom_body(void *ctx, const am_allocator *alloc)
{
    const char *big = ctx;
    am_memory_opts o = am_memory_opts_default();
    am_memory *mem = NULL;
    am_msg_list l = AM_MSG_LIST_INIT;
    am_msg *ms[4];
    am_status st;

    o.alloc = alloc;
    o.config.max_context_tokens = 600;
    o.config.compression_threshold = 500;
    o.config.strategy = AM_COMPRESS_DELETION;
    o.counter.tokenizer = default_tz();
    st = am_memory_create(&o, &mem, NULL);
    if (st != AM_OK)
        return st;
    ms[0] = text_msg(AM_ROLE_USER, "old question");
    ms[1] = text_msg(AM_ROLE_USER, "Fetch the report.");
    ms[2] = call_msg("r1", NULL, "fetch_report");
    ms[3] = result_msg("r1", big);
    for (int i = 0; i < 4; i++) {
        if (st == AM_OK)
            st = am_memory_add(mem, ms[i], NULL);
        am_msg_free(ms[i]);
    }
    l.alloc = alloc;
    if (st == AM_OK)
        st = am_memory_context(mem, &l);
    if (st == AM_OK) {
        am_counter c = { default_tz(), NULL, NULL };
        size_t total = 0, n = 0;
        for (size_t i = 0; i < l.count; i++) {
            CHECK_OK(am_count_msg(&c, l.items[i], &n, NULL));
            total += n;
        }
        CHECK(total <= 600);
    }
    am_msg_list_free(&l);
    am_memory_free(mem);
    return st;
}

AM_TEST(the_cap_survives_oom)
{
    char *big = big_text(2000);
    CHECK(test_oom_sweep(cap_oom_body, big) > 10);
    free(big);
}
