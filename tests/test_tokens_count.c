/* test_tokens_count.c -- counting with tokenizers: exact for OpenAI models
 * and estimated for others, messages counted the way OpenAI bills them,
 * the token tracker, and the caller-owned token cache. */
#include <math.h>

#include "tokens_fixture.h"

/* ---- Tokenizer and messages ---- */

AM_TEST(tokenizer_is_exact_for_openai_and_estimates_others)
{
    am_tokenizer *gpt = NULL, *claude = NULL, *unknown = NULL, *forced = NULL;
    am_tokenizer_opts o = am_tokenizer_opts_default();
    am_tokens toks = AM_TOKENS_INIT;
    am_model_info info;
    am_error err = { AM_OK, "" };
    size_t n = 0;

    CHECK_OK_E(am_tokenizer_create(AM_STR("gpt-4o-2024-08-06"), NULL, &gpt,
                                 &err), &err);
    CHECK(am_tokenizer_is_exact(gpt));
    CHECK_STR_EQ(am_encoding_name(am_tokenizer_encoding(gpt)), "o200k_base");
    CHECK_EQ(am_tokenizer_context_window(gpt), 128000);
    CHECK_OK(am_tokenizer_count(gpt, AM_STR("hello world"), NULL, &n, NULL));
    CHECK_EQ(n, 2);

    /* Share gpt's table with a second tokenizer of the same encoding. */
    o.encoding = am_tokenizer_encoding(gpt);
    CHECK_OK(am_tokenizer_create(AM_STR("o4-mini"), &o, &forced, NULL));
    CHECK(am_tokenizer_encoding(forced) == am_tokenizer_encoding(gpt));
    am_tokenizer_free(forced);

    CHECK_OK(am_tokenizer_create(AM_STR("claude-sonnet-4-20250514"), NULL,
                               &claude, NULL));
    CHECK(!am_tokenizer_is_exact(claude));
    /* 7 characters / 3.5 = 2; 8 characters -> 3 (rounded up). */
    CHECK_OK(am_tokenizer_count(claude, AM_STR("abcdefg"), NULL, &n, NULL));
    CHECK_EQ(n, 2);
    CHECK_OK(am_tokenizer_count(claude, AM_STR("\xc3\xa9" "bcdefgh"), NULL,
                                &n, NULL));
    CHECK_EQ(n, 3);
    CHECK_ST(am_tokenizer_encode(claude, AM_STR("x"), NULL, &toks, &err),
             AM_EUNSUPPORTED);
    CHECK(strstr(err.msg, "estimated") != NULL);

    CHECK_OK(am_tokenizer_create(AM_STR("whatever-7b"), NULL, &unknown, NULL));
    am_tokenizer_model(unknown, &info);
    CHECK(!info.known);
    CHECK(!am_tokenizer_is_exact(unknown));

    o = am_tokenizer_opts_default();
    o.encoding_name = "cl100k_base";
    CHECK_OK(am_tokenizer_create(AM_STR("claude-3-haiku"), &o, &forced, NULL));
    CHECK(am_tokenizer_is_exact(forced));
    am_tokenizer_free(forced);

    o.encoding_name = "bogus";
    CHECK_ST(am_tokenizer_create(AM_STR(""), &o, &forced, &err), AM_ENOTFOUND);
    CHECK(forced == NULL);

    am_tokens_free(&toks);
    am_tokenizer_free(gpt);
    am_tokenizer_free(claude);
    am_tokenizer_free(unknown);
}

AM_TEST(messages_are_counted_the_way_openai_bills_them)
{
    am_tokenizer *tz = NULL;
    am_token_msg msgs[3] = {
        { AM_STR("system"), AM_STR("You are a helpful assistant."),
          { NULL, 0 } },
        { AM_STR("user"), AM_STR("hello world"), AM_STR("bob") },
        { AM_STR("assistant"), AM_STR("Hi!"), { NULL, 0 } },
    };
    const char *json =
        "[{\"role\":\"system\",\"content\":\"You are a helpful assistant.\"},"
        " {\"role\":\"user\",\"content\":[{\"type\":\"text\","
        "\"text\":\"hello world\"}],\"name\":\"bob\"},"
        " {\"role\":\"assistant\",\"content\":\"Hi!\"}]";
    size_t want = 0, got = 0, n;
    am_error err = { AM_OK, "" };

    CHECK_OK(am_tokenizer_create(AM_STR("gpt-4o"), NULL, &tz, NULL));
    for (int i = 0; i < 3; i++) {
        want += 3;
        CHECK_OK(am_tokenizer_count(tz, msgs[i].role, NULL, &n, NULL));
        want += n;
        CHECK_OK(am_tokenizer_count(tz, msgs[i].content, NULL, &n, NULL));
        want += n;
    }
    want += 1 + 1 + 3; /* name overhead, "bob", reply priming */
    CHECK_OK(am_tokenizer_count_messages(tz, msgs, 3, &got, NULL));
    CHECK_EQ(got, want);
    CHECK_OK(am_tokenizer_count_messages_json(tz, am_str_c(json), &got,
                                              NULL));
    CHECK_EQ(got, want);
    CHECK_OK(am_tokenizer_count_messages(tz, NULL, 0, &got, NULL));
    CHECK_EQ(got, 3);

    CHECK_ST(am_tokenizer_count_messages_json(tz,
                 AM_STR("[{\"role\":\"user\",\"content\":\"x\"},"
                        "{\"content\":\"y\"}]"), &got, &err), AM_EFORMAT);
    CHECK(strstr(err.msg, "message 1") != NULL);
    CHECK(strstr(err.msg, "role") != NULL);
    CHECK_ST(am_tokenizer_count_messages_json(tz, AM_STR("[1,"), &got, &err),
             AM_EFORMAT);
    CHECK_ST(am_tokenizer_count_messages_json(tz,
                 AM_STR("[{\"role\":\"user\",\"content\":7}]"), &got, &err),
             AM_EFORMAT);
    CHECK(strstr(err.msg, "content") != NULL);

    CHECK_OK(am_tokenizer_count_tools_json(tz,
        AM_STR("[{\"type\":\"function\",\"function\":{\"name\":\"get_weather"
               "\",\"description\":\"Weather for a city\",\"parameters\":"
               "{\"type\":\"object\",\"properties\":{\"city\":{\"type\":"
               "\"string\"}}}}}]"), &got, NULL));
    CHECK(got > 20 && got < 60);
    CHECK_ST(am_tokenizer_count_tools_json(tz, AM_STR("[{\"x\":1}]"), &got,
                                           &err), AM_EFORMAT);
    CHECK(strstr(err.msg, "tools[0]") != NULL);
    am_tokenizer_free(tz);
}

/* The JSON counter reads its messages with the message module's OpenAI
 * reader (am_msgs_from_json): what that reader keeps as text is counted
 * (reasoning_content as a thinking part, a refusal part), what it refuses
 * is refused with its detail, and an estimating model counts the same
 * pieces. */
AM_TEST(messages_json_is_read_by_the_message_reader)
{
    am_tokenizer *tz = NULL, *est = NULL;
    am_error err = { AM_OK, "" };
    size_t plain = 0, with = 0, n = 0;
    const char *reasoning = "First check the order, then the invoice.";
    const char *refusal = "I cannot share that.";

    CHECK_OK(am_tokenizer_create(AM_STR("gpt-4o"), NULL, &tz, NULL));
    CHECK_OK(am_tokenizer_count_messages_json(tz,
                 AM_STR("[{\"role\":\"assistant\",\"content\":\"ok\"}]"),
                 &plain, &err));
    CHECK_OK_E(am_tokenizer_count_messages_json(tz,
                   AM_STR("[{\"role\":\"assistant\",\"content\":\"ok\","
                          "\"reasoning_content\":\"First check the order, "
                          "then the invoice.\"}]"), &with, &err), &err);
    CHECK_OK(am_tokenizer_count(tz, am_str_c(reasoning), NULL, &n, NULL));
    CHECK_EQ(with, plain + n);
    CHECK_OK_E(am_tokenizer_count_messages_json(tz,
                   AM_STR("[{\"role\":\"assistant\",\"content\":[{\"type\":"
                          "\"text\",\"text\":\"ok\"},{\"type\":\"refusal\","
                          "\"refusal\":\"I cannot share that.\"}]}]"),
                   &with, &err), &err);
    CHECK_OK(am_tokenizer_count(tz, am_str_c(refusal), NULL, &n, NULL));
    CHECK_EQ(with, plain + n);

    /* The reader's refusals, with the message index and the field. */
    CHECK_ST(am_tokenizer_count_messages_json(tz,
                 AM_STR("[{\"role\":\"user\",\"content\":\"x\"},"
                        "{\"role\":\"user\",\"content\":\"y\",\"colour\":1}]"),
                 &n, &err), AM_EFORMAT);
    CHECK(strstr(err.msg, "message 1") != NULL);
    CHECK(strstr(err.msg, "colour") != NULL);
    CHECK_ST(am_tokenizer_count_messages_json(tz,
                 AM_STR("[{\"role\":\"wizard\",\"content\":\"x\"}]"), &n,
                 &err), AM_EFORMAT);
    CHECK(strstr(err.msg, "wizard") != NULL);
    CHECK_ST(am_tokenizer_count_messages_json(tz,
                 AM_STR("{\"model\":\"gpt-4o\"}"), &n, &err), AM_EFORMAT);
    CHECK(strstr(err.msg, "messages") != NULL);
    CHECK_ST(am_tokenizer_count_messages_json(tz, (am_str){ NULL, 3 }, &n,
                                              &err), AM_EINVAL);
    /* A response's message as it came: its annotations hold no text. */
    CHECK_OK_E(am_tokenizer_count_messages_json(tz,
                   AM_STR("[{\"role\":\"assistant\",\"content\":\"ok\","
                          "\"refusal\":null,\"annotations\":[]}]"), &n,
                   &err), &err);
    CHECK_EQ(n, plain);
    /* A request object counts its "messages". */
    CHECK_OK(am_tokenizer_count_messages_json(tz,
                 AM_STR("{\"model\":\"gpt-4o\",\"messages\":[{\"role\":"
                        "\"assistant\",\"content\":\"ok\"}]}"), &n, &err));
    CHECK_EQ(n, plain);

    /* An estimating model: the same pieces, at its characters per token
     * (claude: 3.5): 3 + ceil(9/3.5) for the role + ceil(2/3.5) + 3. */
    CHECK_OK(am_tokenizer_create(AM_STR("claude-3-opus"), NULL, &est, NULL));
    CHECK_OK(am_tokenizer_count_messages_json(est,
                 AM_STR("[{\"role\":\"assistant\",\"content\":\"ok\"}]"), &n,
                 &err));
    CHECK_EQ(n, 3 + 3 + 1 + 3);
    am_tokenizer_free(est);
    am_tokenizer_free(tz);
}

/* ---- Token tracker ---- */

AM_TEST(tracker_sums_usage_cost_savings_and_reports_the_budget_once)
{
    am_tracker_opts o = am_tracker_opts_default();
    am_token_tracker *t = NULL;
    am_tracker_stats s;
    am_usage_record u;
    budget_seen seen = { 0, 0, 0 };
    am_buf json = AM_BUF_INIT;
    am_tokenizer *tz = NULL;

    o.budget = 0.01;
    o.on_budget = on_budget;
    o.on_budget_ctx = &seen;
    CHECK_OK(am_token_tracker_create(&o, &t, NULL));
    memset(&u, 0, sizeof u);
    u.model = AM_STR("gpt-4o-mini");
    u.input_tokens = 12000;
    u.cached_input_tokens = 2000;
    u.output_tokens = 800;
    CHECK_OK(am_token_tracker_record(t, &u));
    am_token_tracker_stats(t, &s);
    CHECK_EQ(s.calls, 1);
    CHECK_EQ(s.reported_calls, 1);
    CHECK_EQ(s.total_tokens, 12800);
    CHECK(fabs(s.cost - 0.00213) < 1e-12);
    CHECK(!s.over_budget);
    CHECK_EQ(seen.calls, 0);

    /* A compression call on gpt-4o: 1000 in, 200 out = $0.0045. */
    u.model = AM_STR("gpt-4o");
    u.input_tokens = 1000;
    u.cached_input_tokens = 0;
    u.output_tokens = 200;
    u.compression = true;
    u.estimated = true;
    CHECK_OK(am_token_tracker_record(t, &u));
    CHECK_OK(am_token_tracker_credit_savings(t, AM_STR("gpt-4o"), 5000));
    am_token_tracker_stats(t, &s);
    CHECK_EQ(s.estimated_calls, 1);
    CHECK_EQ(s.compression_tokens, 1200);
    CHECK_EQ(s.tokens_saved, 5000);
    CHECK_EQ(s.net_tokens_saved, 3800);
    CHECK(fabs(s.savings - 0.0125) < 1e-12);
    CHECK(fabs(s.net_savings - (0.0125 - 0.0045)) < 1e-12);
    CHECK(!s.over_budget);

    /* Go over the $0.01 budget: reported once. */
    u.compression = false;
    u.estimated = false;
    u.input_tokens = 2000;
    CHECK_OK(am_token_tracker_record(t, &u));
    CHECK_OK(am_token_tracker_record(t, &u));
    am_token_tracker_stats(t, &s);
    CHECK(s.over_budget);
    CHECK_EQ(seen.calls, 1);
    CHECK(seen.cost > 0.01);

    /* Bad usage leaves the tracker unchanged. */
    u.cached_input_tokens = 5000;
    CHECK_ST(am_token_tracker_record(t, &u), AM_EINVAL);
    CHECK(strstr(am_token_tracker_last_error(t)->msg, "cached") != NULL);
    u.cached_input_tokens = 0;
    u.output_tokens = -1;
    CHECK_ST(am_token_tracker_record(t, &u), AM_EINVAL);
    u.model = AM_STR("");
    CHECK_ST(am_token_tracker_record(t, &u), AM_EINVAL);
    CHECK_ST(am_token_tracker_credit_savings(t, AM_STR("gpt-4o"), -1),
             AM_EINVAL);
    am_tracker_stats s2;
    am_token_tracker_stats(t, &s2);
    CHECK_EQ(s2.calls, s.calls);

    /* Unknown models are priced with defaults and flagged. */
    CHECK_OK(am_tokenizer_create(AM_STR("mystery-1"), NULL, &tz, NULL));
    CHECK_OK(am_token_tracker_record_text(t, tz, AM_STR("12345678"),
                                          AM_STR("1234")));
    am_token_tracker_stats(t, &s);
    CHECK_EQ(s.unknown_model_calls, 1);
    CHECK_EQ(s.estimated_calls, 2);
    /* 2 tokens in, 1 out at the default $0.55 / $2.19 per million. */
    CHECK(s.estimated_cost > (2 * 0.55 + 2.19) / 1e6 - 1e-12 &&
          s.estimated_cost < (2 * 0.55 + 2.19) / 1e6 + 1e-12);

    CHECK_OK(am_token_tracker_stats_json(t, &json));
    CHECK(strstr(json.ptr, "\"calls\":5") != NULL);
    CHECK(strstr(json.ptr, "\"over_budget\":true") != NULL);
    CHECK(strstr(json.ptr, "\"model\":\"gpt-4o-mini\"") != NULL);
    CHECK(strstr(json.ptr, "\"known\":false,\"priced_as\":\"default\"") !=
          NULL);
    CHECK(strstr(json.ptr, "\"estimated_cost\":") != NULL);
    CHECK(strstr(json.ptr, "\"model\":\"mystery-1\"") != NULL);

    am_token_tracker_reset(t);
    am_token_tracker_stats(t, &s);
    CHECK_EQ(s.calls, 0);
    CHECK(s.budget == 0.01);
    o.budget = -1;
    am_token_tracker *bad = NULL;
    CHECK_ST(am_token_tracker_create(&o, &bad, NULL), AM_EINVAL);
    am_buf_free(&json);
    am_tokenizer_free(tz);
    am_token_tracker_free(t);
}

/* ---- Caller-owned cache ---- */

AM_TEST(token_cache_gives_identical_results_across_calls)
{
    am_encoding *cl = open_enc("cl100k_base");
    am_encoding *o2 = open_enc("o200k_base");
    am_token_cache *cache = NULL;
    am_encode_opts o = { 0, NULL, 0, NULL };
    am_tokens a = AM_TOKENS_INIT, b = AM_TOKENS_INIT;
    const char *texts[] = {
        "the cat sat on the mat, the cat sat on the mat",
        "Привет мир! Привет мир! 中文文本 中文文本",
        "the cat sat on the mat, with antidisestablishmentarianism",
        "<|endoftext|> the cat",
    };
    am_error err = { AM_OK, "" };
    size_t n1, n2;

    CHECK_OK(am_token_cache_create(cl, NULL, &cache, NULL));
    o.cache = cache;
    for (int round = 0; round < 3; round++)
        for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
            am_str t = am_str_c(texts[i]);
            /* Count first (stores counts only), then encode. */
            CHECK_OK(am_encoding_count(cl, t, &o, &n1, NULL));
            CHECK_OK(am_encoding_count(cl, t, NULL, &n2, NULL));
            CHECK_EQ(n1, n2);
            a.count = b.count = 0;
            CHECK_OK(am_encoding_encode(cl, t, &o, &a, NULL));
            CHECK_OK(am_encoding_encode(cl, t, NULL, &b, NULL));
            CHECK_EQ(a.count, b.count);
            CHECK(memcmp(a.ids, b.ids, a.count * sizeof *a.ids) == 0);
        }
    /* A cache belongs to one encoding. */
    CHECK_ST(am_encoding_count(o2, AM_STR("x"), &o, &n1, &err), AM_EINVAL);
    CHECK(strstr(err.msg, "another encoding") != NULL);
    CHECK_ST(am_token_cache_create(NULL, NULL, &cache, &err), AM_EINVAL);
    am_token_cache_free(o.cache);
    am_token_cache_free(NULL);
    am_tokens_free(&a);
    am_tokens_free(&b);
    am_encoding_free(cl);
    am_encoding_free(o2);
}
