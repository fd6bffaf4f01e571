/* demo_tokens.c -- the tokens part of `agentmem demo`.
 *
 * Counts a few texts exactly in cl100k_base and o200k_base, counts the
 * shipped conversation (examples/tokens/conversation.json) the way three
 * providers would bill it, and prices the call with the model catalog and
 * the token tracker.
 */
#include <stdio.h>
#include <string.h>

#include "agentmem/tokens.h"
#include "cli.h"
#include "commands.h"

/* Run from the source tree (`make run`), else found beside data/. */
static const char *conv_paths[] = {
    "examples/tokens/conversation.json",
    AM_SOURCE_DATADIR "/../examples/tokens/conversation.json",
};

static const char *samples[] = {
    "Hello, world! Memory for LLM agents, counted exactly.",
    "def fib(n):\n    return n if n < 2 else fib(n - 1) + fib(n - 2)\n",
    "Les modèles comptent les jetons ; 言語モデルはトークンを数える。",
};

int demo_tokens(void)
{
    am_error err = { AM_OK, "" };
    am_tokenizer *cl = NULL, *o2 = NULL;
    am_buf conv = AM_BUF_INIT;
    am_token_tracker *tracker = NULL;
    am_tracker_stats st;
    const char *models[] = { "gpt-4o-mini", "gpt-4", "claude-sonnet-4" };
    int rc = 1;

    printf("\n== tokens: exact counts (tiktoken-compatible, Unicode %s) ==\n",
           am_tokens_unicode_version());
    if (am_tokenizer_create(AM_STR(""), &(am_tokenizer_opts){
                              .encoding_name = "cl100k_base" },
                          &cl, &err) != AM_OK ||
        am_tokenizer_create(AM_STR(""), NULL, &o2, &err) != AM_OK) {
        printf("  (skipped: %s)\n", err.msg);
        rc = 0;
        goto out;
    }
    printf("  %-46s %7s %7s %6s\n", "text", "cl100k", "o200k", "bytes");
    for (size_t i = 0; i < sizeof samples / sizeof samples[0]; i++) {
        size_t a = 0, b = 0;
        char shown[64];
        am_str s = am_str_c(samples[i]);
        am_tokenizer_count(cl, s, NULL, &a, NULL);
        am_tokenizer_count(o2, s, NULL, &b, NULL);
        size_t cut = s.len < 40 ? s.len : 40;
        while (cut > 0 && cut < s.len &&
               ((unsigned char)s.ptr[cut] & 0xC0) == 0x80)
            cut--; /* whole characters only */
        snprintf(shown, sizeof shown, "%.*s%s", (int)cut, s.ptr,
                 cut < s.len ? "..." : "");
        for (char *p = shown; *p; p++)
            if (*p == '\n')
                *p = ' ';
        printf("  %-46s %7zu %7zu %6zu\n", shown, a, b, s.len);
    }

    if (cli_read_input(conv_paths[0], &conv, &err) != AM_OK &&
        cli_read_input(conv_paths[1], &conv, &err) != AM_OK) {
        printf("  (no example conversation: %s)\n", err.msg);
        rc = 0;
        goto out;
    }
    if (am_token_tracker_create(NULL, &tracker, &err) != AM_OK)
        goto out;
    printf("  conversation (4 messages) as each provider bills it:\n");
    for (size_t i = 0; i < 3; i++) {
        am_tokenizer *tz = NULL;
        am_model_info info;
        size_t n = 0;
        am_usage_record u;
        if (am_tokenizer_create(am_str_c(models[i]), NULL, &tz, &err) != AM_OK ||
            am_tokenizer_count_messages_json(tz, am_buf_str(&conv), &n,
                                             &err) != AM_OK) {
            am_tokenizer_free(tz);
            printf("  %s: %s\n", models[i], err.msg);
            goto out;
        }
        am_tokenizer_model(tz, &info);
        memset(&u, 0, sizeof u);
        u.model = am_str_c(models[i]);
        u.input_tokens = (int64_t)n;
        u.output_tokens = 150;
        u.estimated = true;
        am_token_tracker_record(tracker, &u);
        printf("    %-16s %4zu input tokens (%s), window %lld, "
               "+150 out = $%.6f\n", models[i], n,
               am_tokenizer_is_exact(tz) ? "exact" : "estimated",
               (long long)info.context_window,
               am_model_cost(&info, (int64_t)n, 0, 150));
        am_tokenizer_free(tz);
    }
    am_token_tracker_credit_savings(tracker, AM_STR("gpt-4o-mini"), 1200);
    am_token_tracker_stats(tracker, &st);
    printf("  tracker: %lld calls, %lld tokens, $%.6f; compression saved "
           "%lld tokens ($%.6f)\n", (long long)st.calls,
           (long long)st.total_tokens, st.cost, (long long)st.tokens_saved,
           st.savings);
    rc = 0;

out:
    am_token_tracker_free(tracker);
    am_buf_free(&conv);
    am_tokenizer_free(cl);
    am_tokenizer_free(o2);
    return rc;
}
