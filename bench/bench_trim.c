/* bench_trim.c -- trimming a 10,000-message agent conversation.
 *
 *   bench_trim [OUT.json]
 *
 * Builds a deterministic conversation (system prompt, then agent turns:
 * user, assistant with 1-3 parallel tool calls, their results in shuffled
 * order, assistant answer) of 10,000 messages, writes it in OpenAI format
 * to OUT.json (for bench/trim_js/trim.mjs, which runs LangChain's
 * trimMessages on the same data), and times am_trim to 8k, 32k and 128k
 * tokens with the "last" strategy. Tokens are counted with one rule both
 * sides share: 3 per message + ceil((content bytes + tool name bytes +
 * argument bytes) / 4) -- the data is ASCII, so bytes = JS string length.
 *
 * Prints `name items ns/op` lines, then what was kept and whether the
 * result is valid to send (no orphan tool results, no call without its
 * results, does not begin with a tool result).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agentmem/msg.h"
#include "agentmem/window.h"

#define NMSG 10000

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint64_t next(void)
{
    uint64_t z = (rng += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static const char *const words[] = {
    "order", "invoice", "customer", "shipping", "the", "a", "to", "of",
    "status", "delivered", "pending", "refund", "warehouse", "Hamburg",
    "report", "error", "timeout", "2025-06-01", "EUR", "total", "and",
    "please", "check", "with", "for", "item", "price", "42", "1049.99",
    "tracking", "carrier", "DHL", "address", "updated", "account",
};

static void text(char *out, size_t len)
{
    size_t k = 0;
    while (k + 12 < len) {
        const char *w = words[next() % (sizeof words / sizeof words[0])];
        size_t n = strlen(w);
        memcpy(out + k, w, n);
        k += n;
        out[k++] = ' ';
    }
    out[k] = '\0';
}

static size_t count_rule(void *ctx, const am_msg *m)
{
    size_t bytes = am_msg_content_text(m).len;
    (void)ctx;
    for (size_t i = 0; i < am_msg_tool_call_count(m); i++) {
        const am_tool_call *tc = am_msg_tool_call(m, i);
        bytes += tc->name.len + tc->arguments.len;
    }
    return 3 + (bytes + 3) / 4;
}

static void push(am_msg_list *l, am_msg *m)
{
    if (am_msg_list_push(l, m) != AM_OK)
        exit(1);
    am_msg_free(m);
}

static void build(am_msg_list *l)
{
    char buf[4096];
    int call = 0;
    am_msg *m = NULL;
    am_msg_create_text(NULL, AM_ROLE_SYSTEM,
                       AM_STR("You are a support agent for Acme. Use the "
                              "tools; never guess order data."), &m, NULL);
    push(l, m);
    while (l->count < NMSG) {
        int ncalls = 1 + (int)(next() % 3);
        char ids[3][16];
        int order[3] = { 0, 1, 2 };
        text(buf, 50 + next() % 350);
        am_msg_create_text(NULL, AM_ROLE_USER, am_str_c(buf), &m, NULL);
        push(l, m);
        am_msg_create(NULL, AM_ROLE_ASSISTANT, &m, NULL);
        for (int c = 0; c < ncalls; c++) {
            char args[64];
            am_tool_call tc;
            snprintf(ids[c], sizeof ids[c], "call_%d", ++call);
            snprintf(args, sizeof args, "{\"order\":%d,\"full\":true}",
                     (int)(next() % 100000));
            tc.id = am_str_c(ids[c]);
            tc.type = AM_STR("function");
            tc.name = c % 2 ? AM_STR("get_shipping") : AM_STR("get_order");
            tc.arguments = am_str_c(args);
            tc.call_id = AM_STR("");
            am_msg_add_tool_call(m, &tc, NULL);
        }
        push(l, m);
        for (int c = ncalls - 1; c > 0; c--) { /* shuffle the results */
            int j = (int)(next() % (uint64_t)(c + 1)), t = order[c];
            order[c] = order[j];
            order[j] = t;
        }
        for (int c = 0; c < ncalls; c++) {
            text(buf, 200 + next() % 1800);
            am_msg_create_text(NULL, AM_ROLE_TOOL, am_str_c(buf), &m, NULL);
            am_msg_set_tool_call_id(m, am_str_c(ids[order[c]]), NULL);
            push(l, m);
        }
        text(buf, 100 + next() % 500);
        am_msg_create_text(NULL, AM_ROLE_ASSISTANT, am_str_c(buf), &m, NULL);
        push(l, m);
    }
}

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Validity of a trimmed list: orphans, unanswered calls, tool first. */
static void validity(const am_msg_list *l, size_t *orphans,
                     size_t *unanswered, int *tool_first)
{
    *orphans = *unanswered = 0;
    *tool_first = l->count > 1 && am_msg_role(l->items[1]) == AM_ROLE_TOOL;
    for (size_t i = 0; i < l->count; i++) {
        const am_msg *m = l->items[i];
        if (am_msg_role(m) == AM_ROLE_TOOL) {
            am_str id = am_msg_tool_call_id(m);
            int found = 0;
            for (size_t j = 0; j < i && !found; j++)
                for (size_t c = 0; c < am_msg_tool_call_count(l->items[j]);
                     c++) {
                    am_str x = am_msg_tool_call(l->items[j], c)->id;
                    found |= x.len == id.len &&
                             memcmp(x.ptr, id.ptr, id.len) == 0;
                }
            *orphans += !found;
        }
        for (size_t c = 0; c < am_msg_tool_call_count(m); c++) {
            am_str x = am_msg_tool_call(m, c)->id;
            int found = 0;
            for (size_t j = i + 1; j < l->count && !found; j++) {
                am_str id = am_msg_tool_call_id(l->items[j]);
                found |= am_msg_role(l->items[j]) == AM_ROLE_TOOL &&
                         x.len == id.len && memcmp(x.ptr, id.ptr, id.len) == 0;
            }
            *unanswered += !found;
        }
    }
}

int main(int argc, char **argv)
{
    am_msg_list l = AM_MSG_LIST_INIT;
    static const size_t budgets[] = { 8000, 32000, 128000 };
    am_error err = { AM_OK, "" };

    build(&l);
    if (argc > 1) {
        am_buf out = AM_BUF_INIT;
        FILE *fp = fopen(argv[1], "wb");
        if (fp == NULL ||
            am_msgs_to_json((const am_msg *const *)l.items, l.count,
                            AM_FORMAT_OPENAI, 0, &out, &err) != AM_OK) {
            fprintf(stderr, "bench_trim: cannot write %s\n", argv[1]);
            return 1;
        }
        fwrite(out.ptr, 1, out.len, fp);
        fclose(fp);
        am_buf_free(&out);
    }
    for (size_t b = 0; b < sizeof budgets / sizeof budgets[0]; b++) {
        am_trim_opts o = am_trim_opts_default();
        am_trim_result r = AM_TRIM_RESULT_INIT;
        int reps = 20;
        int64_t best = INT64_MAX;
        size_t orphans, unanswered;
        int tool_first;
        o.strategy = AM_TRIM_TOKENS;
        o.max_tokens = budgets[b];
        o.counter.count_msg = count_rule;
        for (int i = 0; i < reps; i++) {
            int64_t t0 = now_ns();
            if (am_trim((const am_msg *const *)l.items, l.count, &o, &r,
                        &err) != AM_OK) {
                fprintf(stderr, "trim: %s\n", err.msg);
                return 1;
            }
            int64_t dt = now_ns() - t0;
            if (dt < best)
                best = dt;
        }
        validity(&r.messages, &orphans, &unanswered, &tool_first);
        printf("agentmem_trim_last_%zuk %zu %lld\n", budgets[b] / 1000,
               l.count, (long long)best);
        printf("  kept %zu messages, %zu of %zu tokens; orphan tool "
               "results %zu, calls without results %zu, starts on tool %s\n",
               r.messages.count, r.tokens_after, r.tokens_before, orphans,
               unanswered, tool_first ? "yes" : "no");
        am_trim_result_free(&r);
    }
    am_msg_list_free(&l);
    return 0;
}
