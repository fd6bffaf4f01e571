/* budget_chat.c -- keep a chat under a token budget with summaries.
 *
 * The guide docs/guides/budget-chat.md walks through this program. It
 * feeds 40 turns of a support chat to a memory manager whose budget is
 * 600 tokens; past the budget the manager replaces the oldest turns with
 * a summary (the offline, extractive summarizer: no network), so the
 * context it hands back for the next model call stays small while the
 * recent turns stay verbatim.
 *
 *   cc budget_chat.c $(pkg-config --cflags --libs agentmem) -o budget_chat
 *   ./budget_chat
 *
 * Exits 0 when the context ended under the budget after compressing.
 */
#include <stdio.h>

#include <agentmem/agentmem.h>

#define BUDGET 600 /* tokens: compress when the context grows past it */

/* Add one message to the manager (it keeps its own reference) and say
 * when that pushed the context over the budget. */
static am_status say(am_memory *mem, am_role role, const char *text)
{
    am_msg *m = NULL;
    am_error err = { AM_OK, "" };
    am_status st = am_msg_create_text(NULL, role, am_str_c(text), &m, &err);

    if (st == AM_OK)
        st = am_memory_add(mem, m, NULL);
    am_msg_free(m);
    if (st == AM_OK && am_memory_was_compressed_last(mem))
        printf("compressed: %lld tokens saved\n",
               (long long)am_memory_last_savings(mem));
    return st;
}

int main(void)
{
    am_memory_opts o = am_memory_opts_default();
    am_memory *mem = NULL;
    am_msg_list ctx = AM_MSG_LIST_INIT;
    am_memory_stats s;
    am_buf text = AM_BUF_INIT;
    am_error err = { AM_OK, "" };
    char line[200];
    int rc = 1;

    o.config.compression_threshold = BUDGET;
    o.config.short_term_size = 6; /* the last 6 messages stay verbatim */
    if (am_memory_create(&o, &mem, &err) != AM_OK) {
        fprintf(stderr, "budget_chat: %s\n", err.msg);
        return 1;
    }
    if (say(mem, AM_ROLE_SYSTEM, "You are the support assistant of a "
                                 "bicycle shop.") != AM_OK)
        goto out;
    for (int turn = 1; turn <= 20; turn++) {
        snprintf(line, sizeof line, "Turn %d: my order #%d has not arrived "
                 "yet, and the tracking page says it left the warehouse "
                 "%d days ago.", turn, 1000 + turn, turn);
        if (say(mem, AM_ROLE_USER, line) != AM_OK)
            goto out;
        snprintf(line, sizeof line, "I checked order #%d: the carrier "
                 "scanned it yesterday, delivery is expected within two "
                 "days.", 1000 + turn);
        if (say(mem, AM_ROLE_ASSISTANT, line) != AM_OK)
            goto out;
    }
    /* What to send with the next model call: the system prompt, the
     * summary of the old turns, the recent turns. */
    if (am_memory_context(mem, &ctx) != AM_OK)
        goto out;
    am_memory_stats_get(mem, &s);
    printf("context: %zu messages, %zu tokens (budget %d); %zu messages "
           "added, %zu compressions\n", ctx.count, s.current_tokens, BUDGET,
           s.messages_added, s.compressions);
    if (am_msg_text(ctx.items[1], &text) == AM_OK)
        printf("second message: %.120s...\n", text.ptr);
    rc = s.compressions > 0 && s.current_tokens <= BUDGET ? 0 : 1;
out:
    if (rc != 0 && am_memory_last_error(mem)->code != AM_OK)
        fprintf(stderr, "budget_chat: %s\n", am_memory_last_error(mem)->msg);
    am_buf_free(&text);
    am_msg_list_free(&ctx);
    am_memory_free(mem);
    return rc;
}
