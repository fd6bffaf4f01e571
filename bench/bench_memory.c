/* bench_memory.c -- the memory manager's own overhead per add_message.
 *
 *   bench_memory [N [estimate]]   (default 2000 messages; "estimate":
 *                                  skip the exact-counting run)
 *
 * Feeds N messages of a deterministic agent conversation (user turns,
 * assistant turns with parallel tool calls, tool results of 200-2000
 * bytes) into am_memory with the balanced preset and the offline
 * summarizer, timing every am_memory_add (no LLM is involved, so this is
 * all manager time: counting, bookkeeping and the compressions it
 * triggers). Prints the mean (the promise: under 20 us at 2,000 messages),
 * the mean of adds that did not compress, p99 and the maximum, once with
 * the 4-bytes-per-token estimate (MEMORY_MODEL "estimate") and once with
 * the default config (exact o200k_base counting for gpt-4o-mini). Then
 * the counting part alone: am_count_msg over every message, a first pass
 * and re-counts, with the encoding's piece memo and without it.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agentmem/msg.h"
#include "agentmem/tokens.h"
#include "agentmem/window.h"

static uint64_t rng = 0x1234567ull;
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

static void build(am_msg_list *l, size_t n)
{
    char buf[4096];
    int call = 0;
    am_msg *m = NULL;
    while (l->count < n) {
        char ids[3][16];
        int ncalls = 1 + (int)(next() % 3);
        text(buf, 50 + next() % 350);
        am_msg_create_text(NULL, AM_ROLE_USER, am_str_c(buf), &m, NULL);
        am_msg_list_push(l, m);
        am_msg_free(m);
        am_msg_create(NULL, AM_ROLE_ASSISTANT, &m, NULL);
        for (int c = 0; c < ncalls; c++) {
            am_tool_call tc = { { NULL, 0 }, AM_STR("function"),
                                AM_STR("get_order"),
                                AM_STR("{\"order\":42}"), AM_STR("") };
            snprintf(ids[c], sizeof ids[c], "call_%d", ++call);
            tc.id = am_str_c(ids[c]);
            am_msg_add_tool_call(m, &tc, NULL);
        }
        am_msg_list_push(l, m);
        am_msg_free(m);
        for (int c = ncalls; c-- > 0;) {
            text(buf, 200 + next() % 1800);
            am_msg_create_text(NULL, AM_ROLE_TOOL, am_str_c(buf), &m, NULL);
            am_msg_set_tool_call_id(m, am_str_c(ids[c]), NULL);
            am_msg_list_push(l, m);
            am_msg_free(m);
        }
        text(buf, 100 + next() % 500);
        am_msg_create_text(NULL, AM_ROLE_ASSISTANT, am_str_c(buf), &m, NULL);
        am_msg_list_push(l, m);
        am_msg_free(m);
    }
    l->count = n < l->count ? n : l->count;
}

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int cmp64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static void run(const char *name, const am_msg_list *l, const char *model)
{
    am_memory_opts o = am_memory_opts_default();
    am_memory *mem = NULL;
    int64_t *t = calloc(l->count, sizeof *t), sum = 0, plain = 0;
    size_t nplain = 0;
    am_memory_stats s;
    am_error err = { AM_OK, "" };
    /* "estimate", or the default model (the manager's own tokenizer). */
    if (model != NULL)
        snprintf(o.config.model, sizeof o.config.model, "%s", model);
    if (am_memory_create(&o, &mem, &err) != AM_OK) {
        fprintf(stderr, "%s: %s\n", name, err.msg);
        exit(1);
    }
    for (size_t i = 0; i < l->count; i++) {
        int64_t t0 = now_ns();
        if (am_memory_add(mem, l->items[i], NULL) != AM_OK) {
            fprintf(stderr, "add: %s\n", am_memory_last_error(mem)->msg);
            exit(1);
        }
        t[i] = now_ns() - t0;
        sum += t[i];
        if (!am_memory_was_compressed_last(mem)) {
            plain += t[i];
            nplain++;
        }
    }
    am_memory_stats_get(mem, &s);
    qsort(t, l->count, sizeof *t, cmp64);
    printf("%s %zu %lld\n", name, l->count,
           (long long)(sum / (int64_t)l->count));
    printf("  without compressing %lld ns, p99 %lld ns, max %lld ns; "
           "%zu compressions, %zu tokens added, context %zu tokens\n",
           (long long)(nplain ? plain / (int64_t)nplain : 0),
           (long long)t[l->count * 99 / 100], (long long)t[l->count - 1],
           s.compressions, s.total_tokens, s.current_tokens);
    am_memory_free(mem);
    free(t);
}

static int64_t cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* am_count_msg over every message of `l`, five passes on one tokenizer:
 * the first pass (what an add costs) and the best of the four after it
 * (a re-count), in ns per message. */
static void count_passes(const am_msg_list *l, int memo)
{
    am_encoding_opts eo = am_encoding_opts_default();
    am_tokenizer_opts to = am_tokenizer_opts_default();
    am_encoding *enc = NULL;
    am_tokenizer *tz = NULL;
    am_model_info info;
    am_counter c;
    int64_t first = 0, best = INT64_MAX;
    size_t total = 0;

    am_models_lookup(NULL, AM_STR(AM_MEMORY_DEFAULT_MODEL), &info);
    if (!memo)
        eo.flags = AM_ENCODING_NO_MEMO;
    if (info.encoding == NULL ||
        am_encoding_create(info.encoding, &eo, &enc, NULL) != AM_OK)
        return;
    to.encoding = enc;
    if (am_tokenizer_create(AM_STR(AM_MEMORY_DEFAULT_MODEL), &to, &tz,
                            NULL) != AM_OK) {
        am_encoding_free(enc);
        return;
    }
    memset(&c, 0, sizeof c);
    c.tokenizer = tz;
    for (int pass = 0; pass < 5; pass++) {
        int64_t t0 = cpu_ns(), t;
        total = 0;
        for (size_t i = 0; i < l->count; i++) {
            size_t k = 0;
            am_count_msg(&c, l->items[i], &k, NULL);
            total += k;
        }
        t = cpu_ns() - t0;
        if (pass == 0)
            first = t;
        else if (t < best)
            best = t;
    }
    printf("count_msg_%s_" AM_MEMORY_DEFAULT_MODEL " %zu %lld\n"
           "  (%zu tokens: the counting part of each add, CPU ns)\n"
           "count_msg_%s_recount_" AM_MEMORY_DEFAULT_MODEL " %zu %lld\n"
           "  (the same messages again, best of 4 passes)\n",
           memo ? "exact" : "exact_nomemo", l->count,
           (long long)(first / (int64_t)l->count), total,
           memo ? "exact" : "exact_nomemo", l->count,
           (long long)(best / (int64_t)l->count));
    am_tokenizer_free(tz);
    am_encoding_free(enc);
}

int main(int argc, char **argv)
{
    size_t n = argc > 1 ? (size_t)atol(argv[1]) : 2000;
    am_msg_list l = AM_MSG_LIST_INIT;
    build(&l, n);
    run("memory_add_estimate", &l, "estimate");
    if (!(argc > 2 && strcmp(argv[2], "estimate") == 0)) {
        run("memory_add_exact_" AM_MEMORY_DEFAULT_MODEL, &l, NULL);
        /* The tokenizer's share: counting each message exactly, as the
         * manager does when it is added, and again, as every turn that
         * re-counts the context does; with the encoding's piece memo (the
         * default) and without it (AM_ENCODING_NO_MEMO), CPU time of
         * this thread. */
        for (int memo = 1; memo >= 0; memo--)
            count_passes(&l, memo);
    }
    am_msg_list_free(&l);
    return 0;
}
