/* memory_fixture.h -- what the memory manager's test files share
 * (test_memory.c, test_memory_io.c, test_memory_cost.c, test_memory_cap.c,
 * test_memory_oom.c): message makers, one agent turn, the sendable check,
 * managers on the default model, and context token counts. */
#ifndef AM_TEST_MEMORY_FIXTURE_H
#define AM_TEST_MEMORY_FIXTURE_H

#include <stdlib.h>
#include <string.h>

#include "agentmem/window.h"
#include "harness.h"
#include "history_checks.h"

static inline am_msg *text_msg(am_role role, const char *text)
{
    am_msg *m = NULL;
    CHECK_OK(am_msg_create_text(NULL, role, am_str_c(text), &m, NULL));
    return m;
}

static inline am_msg *call_msg(const char *id1, const char *id2,
                               const char *tool)
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

static inline am_msg *result_msg(const char *id, const char *text)
{
    am_msg *m = text_msg(AM_ROLE_TOOL, text);
    CHECK_OK(am_msg_set_tool_call_id(m, am_str_c(id), NULL));
    CHECK_OK(am_msg_set_created_ms(m, RESULT_CREATED_MS, NULL));
    return m;
}

static int compressed_adds; /* adds that reported a compression */

static inline void add(am_memory *mem, am_msg *m)
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
static inline void turn(am_memory *mem, int i, bool fail)
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
static inline void check_sendable(const am_msg_list *l)
{
    test_results_follow_calls(l);
    for (size_t i = 0; i < l->count; i++)
        for (size_t c = 0; c < am_msg_tool_call_count(l->items[i]); c++) {
            am_str id = am_msg_tool_call(l->items[i], c)->id;
            CHECK_EQ(test_answers_after(l, i, id), 1);
        }
}

/* An independent exact count for the default model. */
static inline const am_tokenizer *default_tz(void)
{
    static am_tokenizer *tz;
    if (tz == NULL)
        CHECK_OK(am_tokenizer_create(AM_STR(AM_MEMORY_DEFAULT_MODEL), NULL,
                                   &tz, NULL));
    return tz;
}

static inline am_memory *new_mem_model(am_compress_strategy s,
                                       size_t threshold, size_t short_term,
                                       const char *model)
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
static inline am_memory *new_mem(am_compress_strategy s, size_t threshold,
                                 size_t short_term)
{
    return new_mem_model(s, threshold, short_term, NULL);
}

static inline size_t context_tokens_with(am_memory *mem, am_msg_list *ctx,
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

static inline size_t context_tokens(am_memory *mem, am_msg_list *ctx)
{
    return context_tokens_with(mem, ctx, default_tz());
}

/* Whether a message of `mem`'s context starts with `prefix`. */
static inline bool context_has(am_memory *mem, const char *prefix)
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

#endif
