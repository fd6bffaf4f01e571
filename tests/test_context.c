/* test_context.c -- memory config, offline summarizer, trimming, manager. */
#include <stdlib.h>
#include <string.h>

#include "agentmem/memconfig.h"
#include "context/context_int.h"
#include "harness.h"

/* ---- Config ---- */

AM_TEST(config_defaults_are_the_balanced_preset)
{
    am_memory_config c = am_memory_config_default();
    CHECK(c.enabled);
    CHECK_EQ(c.compression_threshold, 40000);
    CHECK_EQ(c.short_term_size, 20);
    CHECK(c.compression_ratio > 0.29 && c.compression_ratio < 0.31);
    CHECK_EQ(c.strategy, AM_COMPRESS_SLIDING_WINDOW);
    CHECK(c.preserve_system);
}

AM_TEST(config_presets_set_the_seed_values)
{
    am_memory_config c = am_memory_config_default();
    am_error err;
    CHECK_OK(am_memory_config_preset(&c, AM_STR("aggressive"), &err));
    CHECK_EQ(c.compression_threshold, 30000);
    CHECK_EQ(c.short_term_size, 10);
    CHECK_OK(am_memory_config_preset(&c, AM_STR("conservative"), &err));
    CHECK_EQ(c.compression_threshold, 60000);
    CHECK_EQ(c.strategy, AM_COMPRESS_SELECTIVE);
    CHECK_ST(am_memory_config_preset(&c, AM_STR("turbo"), &err), AM_EINVAL);
    CHECK(strstr(err.msg, "turbo") != NULL);
    CHECK_EQ(c.compression_threshold, 60000);
}

AM_TEST(config_file_parses_seed_lines_comments_quotes)
{
    const char *text =
        "# Enable memory management\n"
        "MEMORY_ENABLED=true\n"
        "\n"
        "  MEMORY_COMPRESSION_THRESHOLD = 30000  \n"
        "export MEMORY_SHORT_TERM_SIZE=12\n"
        "MEMORY_COMPRESSION_RATIO=0.25\n"
        "MEMORY_COMPRESSION_STRATEGY=\"selective\"\n"
        "MEMORY_PRESERVE_SYSTEM_PROMPTS='false'\n"
        "MEMORY_IMPORTANCE_MARKERS=CRITICAL:,urgent\n";
    am_memory_config c = am_memory_config_default();
    am_error err;
    CHECK_OK_E(am_memory_config_parse(&c, am_str_c(text), &err), &err);
    CHECK_EQ(c.compression_threshold, 30000);
    CHECK_EQ(c.short_term_size, 12);
    CHECK(c.compression_ratio > 0.24 && c.compression_ratio < 0.26);
    CHECK_EQ(c.strategy, AM_COMPRESS_SELECTIVE);
    CHECK(!c.preserve_system);
    CHECK_STR_EQ(c.importance_markers, "CRITICAL:,urgent");
}

AM_TEST(config_preset_applies_before_explicit_keys_wherever_it_is)
{
    am_memory_config c = am_memory_config_default();
    am_error err;
    CHECK_OK_E(am_memory_config_parse(
                   &c, AM_STR("MEMORY_SHORT_TERM_SIZE=7\n"
                              "MEMORY_PRESET=aggressive\n"), &err), &err);
    CHECK_EQ(c.short_term_size, 7);
    CHECK_EQ(c.compression_threshold, 30000);
}

AM_TEST(config_errors_name_the_line_and_change_nothing)
{
    am_memory_config c = am_memory_config_default();
    am_error err;
    CHECK_ST(am_memory_config_parse(
                 &c, AM_STR("MEMORY_SHORT_TERM_SIZE=5\n# ok\n"
                            "MEMORY_COMPRESION_THRESHOLD=1\n"), &err),
             AM_EINVAL);
    CHECK(strstr(err.msg, "line 3") != NULL);
    CHECK(strstr(err.msg, "MEMORY_COMPRESION_THRESHOLD") != NULL);
    CHECK_EQ(c.short_term_size, 20);

    CHECK_ST(am_memory_config_parse(
                 &c, AM_STR("MEMORY_COMPRESSION_RATIO=1.5\n"), &err),
             AM_EFORMAT);
    CHECK(strstr(err.msg, "line 1") != NULL);
    CHECK_ST(am_memory_config_parse(
                 &c, AM_STR("\nMEMORY_COMPRESSION_THRESHOLD=-4\n"), &err),
             AM_EFORMAT);
    CHECK(strstr(err.msg, "line 2") != NULL);
    CHECK_ST(am_memory_config_parse(&c, AM_STR("MEMORY_ENABLED=maybe\n"),
                                    &err), AM_EFORMAT);
    CHECK_ST(am_memory_config_parse(&c, AM_STR("just words\n"), &err),
             AM_EFORMAT);
    CHECK(strstr(err.msg, "KEY=VALUE") != NULL);
    CHECK_ST(am_memory_config_parse(
                 &c, AM_STR("MEMORY_COMPRESSION_STRATEGY=zip\n"), &err),
             AM_EFORMAT);
    CHECK_ST(am_memory_config_parse(
                 &c, AM_STR("MEMORY_COMPRESSION_THRESHOLD=500000\n"), &err),
             AM_EFORMAT);
    CHECK(strstr(err.msg, "MEMORY_MAX_CONTEXT_TOKENS") != NULL);
    CHECK_ST(am_memory_config_parse(&c, AM_STR("MEMORY_MODEL=\"gpt\n"),
                                    &err), AM_EFORMAT);
    CHECK(strstr(err.msg, "quote") != NULL);
    /* Nothing above stuck. */
    am_memory_config d = am_memory_config_default();
    CHECK(memcmp(&c, &d, sizeof c) == 0);
}

static const char *fake_env(void *ctx, const char *name)
{
    const char *const *kv = ctx;
    for (; kv[0] != NULL; kv += 2)
        if (strcmp(kv[0], name) == 0)
            return kv[1];
    return NULL;
}

AM_TEST(config_environment_overrides_file)
{
    const char *env[] = { "MEMORY_COMPRESSION_THRESHOLD", "50000",
                          "MEMORY_PRESET", "conservative", NULL, NULL };
    const char *bad[] = { "MEMORY_SHORT_TERM_SIZE", "lots", NULL, NULL };
    am_memory_config c = am_memory_config_default();
    am_error err;
    CHECK_OK(am_memory_config_parse(
        &c, AM_STR("MEMORY_COMPRESSION_THRESHOLD=30000\n"), &err));
    CHECK_OK_E(am_memory_config_apply_env(&c, fake_env, env, &err), &err);
    CHECK_EQ(c.compression_threshold, 50000);
    CHECK_EQ(c.strategy, AM_COMPRESS_SELECTIVE);
    CHECK_ST(am_memory_config_apply_env(&c, fake_env, bad, &err),
             AM_EFORMAT);
    CHECK(strstr(err.msg, "MEMORY_SHORT_TERM_SIZE") != NULL);
    CHECK(strstr(err.msg, "environment") != NULL);
    CHECK_EQ(c.short_term_size, 30);
}

AM_TEST(config_format_round_trips)
{
    am_memory_config c = am_memory_config_default(), d;
    am_buf b = AM_BUF_INIT;
    am_error err;
    c.compression_ratio = 0.37;
    c.strategy = AM_COMPRESS_DELETION;
    c.tool_clear_trigger = 9000;
    snprintf(c.tool_clear_exclude, sizeof c.tool_clear_exclude, "memory");
    snprintf(c.model, sizeof c.model, "gpt-4o");
    CHECK_OK(am_memory_config_format(&c, &b));
    d = am_memory_config_default();
    CHECK_OK_E(am_memory_config_parse(&d, am_buf_str(&b), &err), &err);
    CHECK(memcmp(&c, &d, sizeof c) == 0);
    am_buf_free(&b);
}

AM_TEST(config_load_names_the_file)
{
    char *dir = test_tmpdir();
    char path[512];
    am_memory_config c = am_memory_config_default();
    am_error err;
    snprintf(path, sizeof path, "%s/config", dir);
    FILE *fp = fopen(path, "w");
    CHECK(fp != NULL);
    fputs("MEMORY_ENABLED=true\nMEMORY_SHORT_TERM_SIZE=x\n", fp);
    fclose(fp);
    CHECK_ST(am_memory_config_load(&c, path, &err), AM_EFORMAT);
    CHECK(strstr(err.msg, path) != NULL);
    CHECK(strstr(err.msg, "line 2") != NULL);
    snprintf(path, sizeof path, "%s/missing", dir);
    CHECK_ST(am_memory_config_load(&c, path, &err), AM_ENOTFOUND);
    test_rmtree(dir);
    free(dir);
}

/* ---- Offline summarizer ---- */

static const am__xitem sample_items[] = {
    { "user", { "Hi there, my name is Alice Johnson and I run the billing "
                "team at Acme. Thanks!", 79 }, { NULL, 0 }, false, false,
      false },
    { "assistant", { "Hello Alice. How can I help?", 28 }, { NULL, 0 },
      false, false, false },
    { "user", { "We decided to migrate billing to PostgreSQL 15 by "
                "March 14, 2025. ok. Can you check the current schema?",
                104 }, { NULL, 0 }, false, false, false },
    { "assistant", { "{\"table\":\"invoices\"}", 20 },
      { "describe_table", 14 }, true, false, false },
    { "tool", { "error: permission denied for table invoices\nmore", 48 },
      { "describe_table", 14 }, false, true, true },
    { "assistant", { "The schema lookup failed with a permission error.",
                     49 }, { NULL, 0 }, false, false, false },
    { "user", { "Should we ask Bob for read access?", 34 }, { NULL, 0 },
      false, false, false },
};

AM_TEST(xsum_keeps_names_numbers_decisions_errors_questions)
{
    am_buf out = AM_BUF_INIT;
    am_error err;
    size_t n = sizeof sample_items / sizeof sample_items[0];
    CHECK_OK_E(am__xsum(NULL, (am_str){ NULL, 0 }, sample_items, n, 400,
                        AM_STR("important"), NULL, NULL, &out, &err), &err);
    CHECK(strstr(out.ptr, "Summary of 7 earlier messages") != NULL);
    CHECK(strstr(out.ptr, "describe_table x1 (0 ok, 1 failed)") != NULL);
    CHECK(strstr(out.ptr, "PostgreSQL 15") != NULL);
    CHECK(strstr(out.ptr, "March 14, 2025") != NULL);
    CHECK(strstr(out.ptr, "Alice Johnson") != NULL);
    CHECK(strstr(out.ptr, "permission denied") != NULL);
    CHECK(strstr(out.ptr, "Questions:\n- [user] Should we ask Bob") != NULL);
    /* A bare "ok." is not worth keeping. */
    CHECK(strstr(out.ptr, "] ok.") == NULL);
    am_buf_free(&out);
}

AM_TEST(xsum_respects_budget_and_is_deterministic)
{
    am_buf a = AM_BUF_INIT, b = AM_BUF_INIT;
    size_t n = sizeof sample_items / sizeof sample_items[0];
    for (size_t budget = 20; budget < 300; budget += 7) {
        CHECK_OK(am__xsum(NULL, (am_str){ NULL, 0 }, sample_items, n, budget,
                          AM_STR(""), NULL, NULL, &a, NULL));
        CHECK_OK(am__xsum(NULL, (am_str){ NULL, 0 }, sample_items, n, budget,
                          AM_STR(""), NULL, NULL, &b, NULL));
        CHECK_EQ(a.len, b.len);
        CHECK(memcmp(a.ptr, b.ptr, a.len) == 0);
        /* The header alone may exceed a tiny budget; bullets never do. */
        size_t header = 0;
        const char *kp = strstr(a.ptr, "Key points:");
        if (kp != NULL)
            CHECK(am__count_estimate(NULL, a.ptr, a.len) <=
                  budget + 8 + header);
    }
    am_buf_free(&a);
    am_buf_free(&b);
}

AM_TEST(xsum_running_summary_merges_counts)
{
    am_buf first = AM_BUF_INIT, second = AM_BUF_INIT;
    CHECK_OK(am__xsum(NULL, (am_str){ NULL, 0 }, sample_items, 5, 300,
                      AM_STR(""), NULL, NULL, &first, NULL));
    CHECK_OK(am__xsum(NULL, am_buf_str(&first), sample_items + 5, 2, 300,
                      AM_STR(""), NULL, NULL, &second, NULL));
    CHECK(strstr(second.ptr, "Summary of 7 earlier messages (3 user, 3 "
                             "assistant, 1 tool, 0 system, 0 other)") !=
          NULL);
    CHECK(strstr(second.ptr, "describe_table x1 (0 ok, 1 failed)") != NULL);
    CHECK(strstr(second.ptr, "PostgreSQL 15") != NULL);
    CHECK(strstr(second.ptr, "Should we ask Bob") != NULL);
    am_buf_free(&first);
    am_buf_free(&second);
}

static am_status xsum_oom_body(void *ctx, const am_allocator *alloc)
{
    am_buf out = AM_BUF_INIT;
    am_status st;
    (void)ctx;
    out.alloc = alloc;
    st = am__xsum(alloc, (am_str){ NULL, 0 }, sample_items,
                  sizeof sample_items / sizeof sample_items[0], 200,
                  AM_STR("x"), NULL, NULL, &out, NULL);
    am_buf_free(&out);
    return st;
}

AM_TEST(xsum_survives_oom)
{
    CHECK(test_oom_sweep(xsum_oom_body, NULL) > 3);
}
