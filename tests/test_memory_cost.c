/* test_memory_cost.c -- the memory manager's model: how messages are
 * counted, reported usage priced, the cost of compression calls, and a
 * tokenizer that cannot open. */
#include "memory_fixture.h"

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
    am_error err = { AM_OK, "" };
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
