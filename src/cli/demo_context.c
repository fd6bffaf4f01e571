/* demo_context.c -- the context-window part of `agentmem demo`.
 *
 * Replays the long coding-agent session shipped in examples/context/
 * through the memory manager with each compression strategy, shows where
 * compression happened and what it saved, then trims the same session to
 * a token budget and shows that tool-call groups stay whole.
 */
#include <stdio.h>
#include <string.h>

#include "agentmem/memconfig.h"
#include "agentmem/react.h"
#include "agentmem/msg.h"
#include "agentmem/window.h"
#include "cli.h"
#include "commands.h"

#define SESSION "examples/context/agent_session.json"

static am_status load_session(am_msg_list *l, am_error *err)
{
    am_buf text = AM_BUF_INIT;
    am_status st = cli_read_input(SESSION, &text, err);
    if (st != AM_OK) {
        /* Run from elsewhere than the repository root. */
        st = cli_read_input(AM_SOURCE_DATADIR "/../" SESSION, &text, err);
    }
    if (st == AM_OK)
        st = am_msgs_from_json(NULL, AM_FORMAT_AGENTMEM, am_buf_str(&text),
                               l, err);
    am_buf_free(&text);
    return st;
}

/* The same session as structured ReAct memory: messages, one ACT step
 * and one tool execution per call (matched with its result), statistics,
 * then pruning. */
static void demo_react(const am_msg_list *l)
{
    am_react *m = NULL;
    am_react_stats s;
    am_buf text = AM_BUF_INIT;
    size_t idx[64];

    if (am_react_create(NULL, &m, NULL) != AM_OK)
        return;
    for (size_t i = 0; i < l->count; i++) {
        const am_msg *x = l->items[i];
        am_buf_clear(&text);
        am_msg_text(x, &text);
        am_react_add_message(m, am_str_c(am_role_name(am_msg_role(x))),
                             am_buf_str(&text));
        for (size_t c = 0; c < am_msg_tool_call_count(x); c++) {
            const am_tool_call *tc = am_msg_tool_call(x, c);
            am_react_add_step(m, AM_STEP_ACT, tc->name);
            /* Find the result to record the execution. */
            for (size_t j = i + 1; j < l->count; j++) {
                am_str id = am_msg_tool_call_id(l->items[j]);
                if (am_msg_role(l->items[j]) != AM_ROLE_TOOL ||
                    id.len != tc->id.len ||
                    memcmp(id.ptr, tc->id.ptr, id.len) != 0)
                    continue;
                am_str out = am_msg_content_text(l->items[j]);
                bool ok = !(out.len >= 6 && memcmp(out.ptr, "error:", 6) == 0);
                am_react_tool_exec e;
                memset(&e, 0, sizeof e);
                e.tool = tc->name;
                e.params_json = tc->arguments;
                e.success = ok;
                e.error = ok ? (am_str){ "", 0 } : out;
                e.duration_us = (int64_t)(am_msg_created_ms(l->items[j]) -
                                          am_msg_created_ms(x)) * 1000;
                e.ts_ms = am_msg_created_ms(l->items[j]);
                am_react_add_tool_exec(m, &e);
                am_react_add_step(m, AM_STEP_OBSERVE, am_str_c(ok ? "ok"
                                                                  : "error"));
                break;
            }
        }
    }
    am_react_stats_get(m, &s);
    printf("\nReAct memory of the session: %zu messages, %zu tool "
           "executions (success rate %.1f%%, mean %.1f s), %zu steps, "
           "%.1f KB\n", s.messages, s.tool_executions,
           100.0 * s.tool_success_rate, s.avg_execution_us / 1e6, s.steps,
           s.total_kb);
    size_t failed = am_react_find_tool_execs(m, AM_STR(""), AM_REACT_FAILED,
                                             idx, 64);
    if (failed > 0) {
        am_react_tool_exec e;
        am_react_tool_exec_at(m, idx[0], &e);
        printf("  %zu failed executions, first: %.*s: %.60s...\n", failed,
               (int)e.tool.len, e.tool.ptr, e.error.ptr);
    }
    am_react_prune(m, 50, 25, 200);
    am_react_stats_get(m, &s);
    printf("  pruned to the last 50 messages (system kept, duplicates "
           "dropped), 25 executions, 200 steps: %zu / %zu / %zu, %.1f KB\n",
           s.messages, s.tool_executions, s.steps, s.total_kb);
    am_buf_free(&text);
    am_react_free(m);
}

void demo_context(void)
{
    am_msg_list l = AM_MSG_LIST_INIT, ctx = AM_MSG_LIST_INIT;
    am_buf text = AM_BUF_INIT;
    am_error err = { AM_OK, "" };
    am_tokenizer *tz = NULL;
    am_counter counter;
    am_model_info mi;
    size_t total = 0;
    double full_cost = 0.0;

    printf("\n== Context window: compression of a long agent session ==\n");
    if (load_session(&l, &err) != AM_OK) {
        printf("  (cannot load %s: %s)\n", SESSION, err.msg);
        return;
    }
    /* Count exactly for the model the session is sent to (the manager's
     * default model), one tokenizer shared by every manager below. */
    if (am_tokenizer_create(AM_STR(AM_MEMORY_DEFAULT_MODEL), NULL, &tz,
                          &err) != AM_OK) {
        printf("  (cannot count for %s: %s)\n", AM_MEMORY_DEFAULT_MODEL,
               err.msg);
        am_msg_list_free(&l);
        return;
    }
    memset(&counter, 0, sizeof counter);
    counter.tokenizer = tz;
    am_tokenizer_model(tz, &mi);
    {
        /* Every assistant message is one LLM call whose input is the
         * history before it: what the session costs uncompressed. */
        size_t so_far = 0;
        for (size_t i = 0; i < l.count; i++) {
            size_t n = 0;
            am_count_msg(&counter, l.items[i], &n, NULL);
            if (am_msg_role(l.items[i]) == AM_ROLE_ASSISTANT)
                full_cost += am_model_cost(&mi, (int64_t)so_far, 0,
                                           (int64_t)n);
            so_far += n;
        }
        total = so_far;
    }
    printf("%s: %zu messages, %zu tokens (exact, %s, model %s)\n", SESSION,
           l.count, total, am_encoding_name(am_tokenizer_encoding(tz)),
           AM_MEMORY_DEFAULT_MODEL);
    printf("each assistant message is billed as one call whose input is the "
           "context before it,\npriced from the catalog (%s: $%.2f in, "
           "$%.2f out per million tokens);\nwithout compression the "
           "session costs $%.4f\n", AM_MEMORY_DEFAULT_MODEL,
           mi.input_per_mtok, mi.output_per_mtok, full_cost);
    for (int s = AM_COMPRESS_SLIDING_WINDOW; s <= AM_COMPRESS_DELETION; s++) {
        am_memory_opts o = am_memory_opts_default();
        am_memory *mem = NULL;
        size_t shown = 0;
        o.config.strategy = (am_compress_strategy)s;
        o.config.compression_threshold = 30000;
        o.counter = counter; /* the shared tokenizer, for config.model */
        if (am_memory_create(&o, &mem, &err) != AM_OK)
            continue;
        printf("\nstrategy %s (threshold %zu tokens, short-term %zu):\n",
               am_compress_strategy_name(o.config.strategy),
               o.config.compression_threshold, o.config.short_term_size);
        for (size_t i = 0; i < l.count; i++) {
            am_memory_usage u = { -1, -1, -1 };
            const am_memory_usage *up = NULL;
            if (am_msg_role(l.items[i]) == AM_ROLE_ASSISTANT) {
                /* The call that produced this message: its input is the
                 * context the manager would have sent (counted here; a
                 * provider would report it). */
                am_memory_stats st;
                size_t n = 0;
                am_memory_stats_get(mem, &st);
                am_count_msg(&counter, l.items[i], &n, NULL);
                u.input_tokens = (int64_t)st.current_tokens;
                u.output_tokens = (int64_t)n;
                u.cached_input_tokens = 0;
                up = &u;
            }
            if (am_memory_add(mem, l.items[i], up) != AM_OK) {
                printf("  add failed: %s\n", am_memory_last_error(mem)->msg);
                break;
            }
            if (am_memory_was_compressed_last(mem) && shown++ < 3) {
                am_compressed_memory rec;
                am_memory_compressed(mem, &rec);
                printf("  [message %zu] compressed %zu messages: %zu -> %zu "
                       "tokens\n", i + 1, rec.original_message_count,
                       rec.original_tokens, rec.compressed_tokens);
            }
        }
        am_memory_stats_text(mem, &text);
        printf("%s", text.ptr);
        if (s == AM_COMPRESS_SLIDING_WINDOW) {
            am_compressed_memory rec;
            if (am_memory_compressed(mem, &rec)) {
                /* The first lines of the running summary. */
                const char *p = rec.summary.ptr;
                printf("  summary begins:\n");
                for (int k = 0; k < 6 && p != NULL && *p; k++) {
                    const char *nl = strchr(p, '\n');
                    int len = nl ? (int)(nl - p) : (int)strlen(p);
                    printf("    %.*s%s\n", len > 100 ? 100 : len, p,
                           len > 100 ? "..." : "");
                    p = nl ? nl + 1 : NULL;
                }
            }
        }
        am_memory_free(mem);
    }

    {
        am_trim_opts o = am_trim_opts_default();
        am_trim_result r = AM_TRIM_RESULT_INIT;
        o.strategy = AM_TRIM_TOKENS;
        o.max_tokens = 8000;
        o.counter = counter;
        if (am_trim((const am_msg *const *)l.items, l.count, &o, &r, &err) ==
            AM_OK) {
            printf("\ntrim to %zu tokens: kept %zu of %zu messages (%zu "
                   "tokens); first kept after the system prompt: %s\n",
                   o.max_tokens, r.messages.count, l.count, r.tokens_after,
                   r.messages.count > 1
                       ? am_role_name(am_msg_role(r.messages.items[1]))
                       : "-");
        }
        am_trim_result_free(&r);
    }
    demo_react(&l);
    am_tokenizer_free(tz);
    am_buf_free(&text);
    am_msg_list_free(&ctx);
    am_msg_list_free(&l);
}
