/* test_tokens_promises.c -- the small promises of tokens.h that the
 * encoding, catalog and counting suites do not hold: the option defaults,
 * am_tokens_free keeping its allocator, the errors of opening files, what
 * a tokenizer opened without a model is, special-token text in messages,
 * the tools estimate's arithmetic, and the tracker's token budget,
 * savings percentage and reset. */
#include <math.h>

#include "tokens_fixture.h"

/* ---- Defaults and the id array ---- */

AM_TEST(option_defaults_are_what_the_header_says)
{
    am_encoding_opts eo = am_encoding_opts_default();
    am_tokenizer_opts to = am_tokenizer_opts_default();
    am_tracker_opts ko = am_tracker_opts_default();

    /* Search path only, default allocator, cache and memo on, the memo's
     * default size (0: 65536). */
    CHECK(eo.rank_file == NULL && eo.data_dir == NULL && eo.alloc == NULL);
    CHECK_EQ(eo.flags, 0);
    CHECK_EQ(eo.memo_entries, 0);
    /* Catalog lookup in the built-in catalog. */
    CHECK(to.encoding_name == NULL && to.encoding == NULL &&
          to.models == NULL && to.data_dir == NULL && to.alloc == NULL);
    /* Built-in catalog, no budget. */
    CHECK(ko.models == NULL && ko.on_budget == NULL &&
          ko.on_budget_ctx == NULL && ko.alloc == NULL);
    CHECK(ko.budget == 0);
    CHECK_EQ(ko.budget_tokens, 0);
}

AM_TEST(tokens_free_resets_the_array_and_keeps_its_allocator)
{
    am_encoding *enc = open_enc("cl100k_base");
    test_alloc ta = { 0 };
    am_allocator a = test_alloc_make(&ta);
    am_tokens toks = AM_TOKENS_INIT;

    toks.alloc = &a;
    CHECK_OK(am_encoding_encode(enc, AM_STR("hello world, again"), NULL,
                                &toks, NULL));
    CHECK(toks.count > 0 && ta.live > 0); /* on the array's allocator */
    am_tokens_free(&toks);
    CHECK(toks.ids == NULL);
    CHECK_EQ(toks.count, 0);
    CHECK_EQ(toks.cap, 0);
    CHECK(toks.alloc == &a);
    CHECK_EQ(ta.live, 0);
    am_encoding_free(enc);
}

/* ---- Opening files ---- */

AM_TEST(open_errors_name_what_the_header_says)
{
    char *dir = test_tmpdir();
    am_encoding_opts o = am_encoding_opts_default();
    am_encoding *enc = (am_encoding *)&o;
    am_models_opts mo = am_models_opts_default();
    am_models *m = (am_models *)&o;
    char missing[512];
    am_error err = { AM_OK, "" };

    CHECK_ST(am_encoding_create("cl100k_base", NULL, NULL, &err),
             AM_EINVAL);
    /* An unreadable rank file (a directory) is AM_EIO. */
    o.rank_file = dir;
    o.flags = AM_ENCODING_NO_CACHE;
    CHECK_ST(am_encoding_create("cl100k_base", &o, &enc, &err), AM_EIO);
    CHECK(enc == NULL);
    CHECK(strstr(err.msg, dir) != NULL);

    /* A user catalog: missing is AM_ENOTFOUND, a directory AM_EIO, both
     * naming the file; *out stays NULL. */
    snprintf(missing, sizeof missing, "%s/none.json", dir);
    mo.user_file = missing;
    CHECK_ST(am_models_create(&mo, &m, &err), AM_ENOTFOUND);
    CHECK(m == NULL);
    CHECK(strstr(err.msg, "none.json") != NULL);
    mo.user_file = dir;
    CHECK_ST(am_models_create(&mo, &m, &err), AM_EIO);
    CHECK(m == NULL);
    CHECK(strstr(err.msg, dir) != NULL);
    CHECK_OK(am_models_create(NULL, &m, &err));
    CHECK_ST(am_models_load_file(m, NULL), AM_EINVAL);
    CHECK_ST(am_models_load_file(m, dir), AM_EIO);
    CHECK(strstr(am_models_last_error(m)->msg, dir) != NULL);
    CHECK_ST(am_models_load_file(NULL, missing), AM_EINVAL);
    am_models_free(m);
    am_models_free(NULL);
    test_rmtree(dir);
    free(dir);
}

/* ---- Catalog ---- */

AM_TEST(catalog_listing_ends_and_unknowns_get_every_default)
{
    am_models *m = NULL;
    am_model_info info;
    size_t n;

    CHECK_OK(am_models_create(NULL, &m, NULL));
    n = am_models_count(m);
    CHECK(am_models_at(m, n - 1, &info));
    CHECK(info.known);
    CHECK(!am_models_at(m, n, &info));
    CHECK(!am_models_at(m, (size_t)-1, &info));
    /* The documented defaults, in full. */
    CHECK(!am_models_lookup(m, AM_STR("no-such-model-9"), &info));
    CHECK(!info.known);
    CHECK(info.encoding == NULL);
    CHECK(info.chars_per_token == 4.0);
    CHECK_EQ(info.context_window, 8192);
    CHECK(info.input_per_mtok == 0.55 && info.output_per_mtok == 2.19);
    /* A prefix entry answers only names that start with it. */
    CHECK(!am_models_lookup(m, AM_STR("x-gpt-4o-mini"), &info));
    am_models_free(m);
}

/* ---- Tokenizer ---- */

AM_TEST(tokenizer_without_a_model_and_with_a_borrowed_encoding)
{
    am_encoding *cl = open_enc("cl100k_base");
    am_tokenizer_opts o = am_tokenizer_opts_default();
    am_tokenizer *tz = NULL;
    am_model_info info;
    am_tokens toks = AM_TOKENS_INIT;
    am_buf dec = AM_BUF_INIT;
    am_error err = { AM_OK, "" };

    /* No model, no encoding_name: o200k_base, exact; its name is the
     * encoding's. */
    CHECK_OK(am_tokenizer_create(AM_STR(""), NULL, &tz, NULL));
    CHECK(am_tokenizer_is_exact(tz));
    CHECK_STR_EQ(am_encoding_name(am_tokenizer_encoding(tz)), "o200k_base");
    CHECK_STR_EQ(am_tokenizer_model_name(tz), "o200k_base");
    am_tokenizer_free(tz);
    o.encoding_name = "cl100k_base";
    CHECK_OK(am_tokenizer_create(AM_STR(""), &o, &tz, NULL));
    CHECK_STR_EQ(am_tokenizer_model_name(tz), "cl100k_base");
    am_tokenizer_free(tz);

    /* A model's name is the one asked for, not its catalog entry's. */
    CHECK_OK(am_tokenizer_create(AM_STR("gpt-4o-mini-2024-07-18"), NULL,
                                 &tz, NULL));
    CHECK_STR_EQ(am_tokenizer_model_name(tz), "gpt-4o-mini-2024-07-18");
    am_tokenizer_model(tz, &info);
    CHECK_STR_EQ(info.name, "gpt-4o-mini");
    CHECK(info.known);
    CHECK_EQ(am_tokenizer_context_window(tz), info.context_window);
    am_tokenizer_free(tz);

    /* A borrowed encoding the model does not use is left alone: gpt-4o
     * opens its own o200k_base; gpt-4 borrows cl100k_base. */
    o = am_tokenizer_opts_default();
    o.encoding = cl;
    CHECK_OK(am_tokenizer_create(AM_STR("gpt-4o"), &o, &tz, NULL));
    CHECK(am_tokenizer_encoding(tz) != cl);
    CHECK_STR_EQ(am_encoding_name(am_tokenizer_encoding(tz)), "o200k_base");
    am_tokenizer_free(tz);
    CHECK_OK(am_tokenizer_create(AM_STR("gpt-4"), &o, &tz, NULL));
    CHECK(am_tokenizer_encoding(tz) == cl);
    /* Decode goes through the encoding. */
    CHECK_OK(am_tokenizer_encode(tz, AM_STR("hello world"), NULL, &toks,
                                 NULL));
    CHECK_OK(am_tokenizer_decode(tz, toks.ids, toks.count, &dec, NULL));
    CHECK_MEM_EQ(dec.ptr, dec.len, "hello world");
    am_tokenizer_free(tz); /* not the borrowed encoding */
    CHECK_EQ(count_of(cl, "hello world"), 2);

    /* An estimating tokenizer cannot decode either. */
    CHECK_OK(am_tokenizer_create(AM_STR("claude-3-opus"), NULL, &tz, NULL));
    CHECK(am_tokenizer_encoding(tz) == NULL);
    CHECK_ST(am_tokenizer_decode(tz, toks.ids, toks.count, &dec, &err),
             AM_EUNSUPPORTED);
    am_tokenizer_free(tz);
    am_tokenizer_free(NULL);
    CHECK_ST(am_tokenizer_create(AM_STR("gpt-4o"), NULL, NULL, &err),
             AM_EINVAL);
    am_tokens_free(&toks);
    am_buf_free(&dec);
    am_encoding_free(cl);
}

/* ---- Messages ---- */

AM_TEST(messages_count_special_text_as_text_and_estimate_alike)
{
    am_tokenizer *tz = NULL, *est = NULL;
    am_token_msg msg = { AM_STR("user"), AM_STR("a <|endoftext|> b"),
                         { NULL, 0 } };
    am_encode_opts ordinary = { 0, NULL, 0, NULL };
    size_t n = 0, role = 0, content = 0;
    am_error err = { AM_OK, "" };

    CHECK_OK(am_tokenizer_create(AM_STR("gpt-4o"), NULL, &tz, NULL));
    CHECK_OK(am_tokenizer_count(tz, msg.role, &ordinary, &role, NULL));
    CHECK_OK(am_tokenizer_count(tz, msg.content, &ordinary, &content, NULL));
    CHECK(content > 3); /* the special token's text is several tokens */
    CHECK_OK(am_tokenizer_count_messages(tz, &msg, 1, &n, NULL));
    CHECK_EQ(n, 3 + role + content + 3);

    /* An estimated model: the same structure on estimated counts
     * (claude, 3.5 characters a token): 3 + ceil(4/3.5) + ceil(17/3.5)
     * + 3 for the reply. */
    CHECK_OK(am_tokenizer_create(AM_STR("claude-3-opus"), NULL, &est, NULL));
    CHECK_OK(am_tokenizer_count_messages(est, &msg, 1, &n, NULL));
    CHECK_EQ(n, 3 + 2 + 5 + 3);
    msg.name = AM_STR("bob"); /* + 1 + ceil(3/3.5) */
    CHECK_OK(am_tokenizer_count_messages(est, &msg, 1, &n, NULL));
    CHECK_EQ(n, 3 + 2 + 5 + 1 + 1 + 3);

    /* A tool message without tool_call_id is AM_EINVAL; NULL is too. */
    CHECK_ST(am_tokenizer_count_messages_json(tz,
                 AM_STR("[{\"role\":\"tool\",\"content\":\"42\"}]"), &n,
                 &err), AM_EINVAL);
    CHECK_ST(am_tokenizer_count_messages_json(NULL, AM_STR("[]"), &n, &err),
             AM_EINVAL);
    CHECK_ST(am_tokenizer_count_messages_json(tz, AM_STR("[]"), NULL, &err),
             AM_EINVAL);
    am_tokenizer_free(tz);
    am_tokenizer_free(est);
}

/* Each tool: 8 + its name + its description + its compact parameters;
 * the list: 12. An empty list costs nothing (no tools are sent). */
AM_TEST(tools_estimate_is_the_sum_the_header_gives)
{
    am_tokenizer *tz = NULL;
    size_t n = 0, name = 0, desc = 0, params = 0, name2 = 0;
    am_error err = { AM_OK, "" };
    const char *p = "{\"properties\":{\"city\":{\"type\":\"string\"}},"
                    "\"type\":\"object\"}";

    CHECK_OK(am_tokenizer_create(AM_STR("gpt-4o"), NULL, &tz, NULL));
    CHECK_OK(am_tokenizer_count(tz, AM_STR("get_weather"), NULL, &name,
                                NULL));
    CHECK_OK(am_tokenizer_count(tz, AM_STR("Weather for a city"), NULL,
                                &desc, NULL));
    CHECK_OK(am_tokenizer_count(tz, am_str_c(p), NULL, &params, NULL));
    CHECK_OK(am_tokenizer_count(tz, AM_STR("ping"), NULL, &name2, NULL));
    CHECK_OK_E(am_tokenizer_count_tools_json(tz,
        AM_STR("[{\"type\":\"function\",\"function\":{\"name\":"
               "\"get_weather\",\"description\":\"Weather for a city\","
               "\"parameters\":{\"type\":\"object\",\"properties\":{"
               "\"city\":{\"type\":\"string\"}}}}},"
               "{\"type\":\"function\",\"function\":{\"name\":\"ping\"}}]"),
        &n, &err), &err);
    CHECK_EQ(n, 12 + 8 + name + desc + params + 8 + name2);
    CHECK_OK(am_tokenizer_count_tools_json(tz, AM_STR("[]"), &n, NULL));
    CHECK_EQ(n, 0);
    CHECK_ST(am_tokenizer_count_tools_json(tz, AM_STR("{}"), &n, &err),
             AM_EFORMAT);
    CHECK_ST(am_tokenizer_count_tools_json(tz, AM_STR("[{"), &n, &err),
             AM_EFORMAT);
    am_tokenizer_free(tz);
}

/* ---- Tracker ---- */

AM_TEST(tracker_token_budget_savings_percent_and_reset)
{
    am_tracker_opts o = am_tracker_opts_default();
    am_token_tracker *t = NULL;
    am_tracker_stats s;
    am_usage_record u;
    budget_seen f = { 0, 0, 0 };

    o.budget_tokens = 1000;
    o.on_budget = on_budget;
    o.on_budget_ctx = &f;
    CHECK_OK(am_token_tracker_create(&o, &t, NULL));
    memset(&u, 0, sizeof u);
    u.model = AM_STR("gpt-4o-mini");
    u.input_tokens = 600;
    u.output_tokens = 400; /* 1000: at the budget, not over it */
    CHECK_OK(am_token_tracker_record(t, &u));
    am_token_tracker_stats(t, &s);
    CHECK(!s.over_budget);
    CHECK_EQ(f.calls, 0);
    u.input_tokens = 1;
    u.output_tokens = 0;
    CHECK_OK(am_token_tracker_record(t, &u));
    CHECK_OK(am_token_tracker_record(t, &u));
    am_token_tracker_stats(t, &s);
    CHECK(s.over_budget);
    CHECK_EQ(s.budget_tokens, 1000);
    CHECK_EQ(f.calls, 1); /* once, with the totals of that moment */
    CHECK_EQ(f.total, 1001);

    /* savings_percent: 100 * net saved / (input + saved). */
    CHECK_OK(am_token_tracker_credit_savings(t, AM_STR("gpt-4o-mini"),
                                             398));
    am_token_tracker_stats(t, &s);
    CHECK(fabs(s.savings_percent - 100.0 * 398 / (602 + 398)) < 1e-9);

    /* Reset forgets everything but the budgets, and the callback may
     * fire again. */
    am_token_tracker_reset(t);
    am_token_tracker_stats(t, &s);
    CHECK_EQ(s.calls, 0);
    CHECK_EQ(s.total_tokens, 0);
    CHECK_EQ(s.tokens_saved, 0);
    CHECK(s.savings_percent == 0);
    CHECK(!s.over_budget);
    CHECK_EQ(s.budget_tokens, 1000);
    u.input_tokens = 2000;
    CHECK_OK(am_token_tracker_record(t, &u));
    CHECK_EQ(f.calls, 2);
    am_token_tracker_free(t);
    am_token_tracker_free(NULL);

    o.budget_tokens = -1;
    t = (am_token_tracker *)&o;
    CHECK_ST(am_token_tracker_create(&o, &t, NULL), AM_EINVAL);
}
