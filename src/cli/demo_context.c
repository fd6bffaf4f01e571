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

void demo_context(void)
{
    am_msg_list l = AM_MSG_LIST_INIT, ctx = AM_MSG_LIST_INIT;
    am_buf text = AM_BUF_INIT;
    am_error err;
    size_t total = 0;

    printf("\n== Context window: compression of a long agent session ==\n");
    if (load_session(&l, &err) != AM_OK) {
        printf("  (cannot load %s: %s)\n", SESSION, err.msg);
        return;
    }
    for (size_t i = 0; i < l.count; i++) {
        size_t n = 0;
        am_count_msg(NULL, l.items[i], &n, NULL);
        total += n;
    }
    printf("%s: %zu messages, %zu tokens (estimate)\n", SESSION, l.count,
           total);
    for (int s = AM_COMPRESS_SLIDING_WINDOW; s <= AM_COMPRESS_DELETION; s++) {
        am_memory_opts o = am_memory_opts_default();
        am_memory *mem = NULL;
        size_t shown = 0;
        o.config.strategy = (am_compress_strategy)s;
        o.config.compression_threshold = 30000;
        if (am_memory_create(&o, &mem, &err) != AM_OK)
            continue;
        printf("\nstrategy %s (threshold %zu tokens, short-term %zu):\n",
               am_compress_strategy_name(o.config.strategy),
               o.config.compression_threshold, o.config.short_term_size);
        for (size_t i = 0; i < l.count; i++) {
            if (am_memory_add(mem, l.items[i], NULL) != AM_OK) {
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
    am_buf_free(&text);
    am_msg_list_free(&ctx);
    am_msg_list_free(&l);
}
