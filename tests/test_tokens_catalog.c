/* test_tokens_catalog.c -- the model catalog: sources and check dates of
 * its figures, name resolution, user catalogs, cached-input prices, and
 * the allocator taken through options. */
#include <math.h>

#include "tokens_fixture.h"

/* ---- Model catalog ---- */

/* Every figure says where it comes from; the ones compared with the
 * provider's page say when. gpt-4 is 8,192 tokens (the 128,000 some
 * tables give is gpt-4-turbo's). */
AM_TEST(catalog_records_the_source_and_check_date_of_its_figures)
{
    am_models *m = NULL;
    am_model_info info;
    am_error err = { AM_OK, "" };
    char *dir = test_tmpdir();
    char path[512];
    FILE *f;
    size_t checked = 0, sourced = 0;

    CHECK_OK_E(am_models_create(NULL, &m, &err), &err);
    CHECK(am_models_lookup(m, AM_STR("gpt-4-0613"), &info));
    CHECK_EQ(info.context_window, 8192);
    CHECK(info.input_per_mtok == 30.0 && info.output_per_mtok == 60.0);
    CHECK_STR_EQ(info.limits_source,
                 "https://developers.openai.com/api/docs/models/gpt-4");
    CHECK_STR_EQ(info.limits_checked, "2026-12-06");
    CHECK_STR_EQ(info.price_checked, "2026-12-06");
    CHECK(am_models_lookup(m, AM_STR("gpt-4-turbo"), &info));
    CHECK_EQ(info.context_window, 128000);
    /* Prices compared with Anthropic's pricing page; limits not yet. */
    CHECK(am_models_lookup(m, AM_STR("claude-3-5-haiku-20241022"), &info));
    CHECK(info.input_per_mtok == 0.8 && info.cached_input_per_mtok == 0.08);
    CHECK(strstr(info.price_source, "docs.anthropic.com") != NULL);
    CHECK_STR_EQ(info.price_checked, "2026-12-06");
    CHECK(info.limits_source != NULL && info.limits_checked == NULL);
    /* Self-hosted weights have no price page. */
    CHECK(am_models_lookup(m, AM_STR("llama-3.3-70b"), &info));
    CHECK(info.price_source == NULL && info.price_checked == NULL);
    /* Unknown models carry no provenance at all. */
    CHECK(!am_models_lookup(m, AM_STR("my-local-model"), &info));
    CHECK(info.price_source == NULL && info.limits_checked == NULL);
    for (size_t i = 0; am_models_at(m, i, &info); i++) {
        if (strcmp(info.provider, "openai") == 0 ||
            strcmp(info.provider, "anthropic") == 0 ||
            strcmp(info.provider, "google") == 0)
            sourced += info.price_source != NULL;
        checked += info.price_checked != NULL;
        /* A date never comes without its source. */
        CHECK(info.price_checked == NULL || info.price_source != NULL);
        CHECK(info.limits_checked == NULL || info.limits_source != NULL);
    }
    CHECK_EQ(sourced, 49);  /* every hosted model of the three */
    /* gpt-4 and eight Claude entries (2026-12-06); gpt-5-mini,
     * gpt-5-nano, gpt-4.1-nano and the two DeepSeek entries
     * (2026-12-07). */
    CHECK_EQ(checked, 14);
    /* DeepSeek's page: deepseek-reasoner writes at most 8K tokens of
     * answer (its 32K of reasoning are separate); the catalog said 32K. */
    CHECK(am_models_lookup(m, AM_STR("deepseek-reasoner"), &info));
    CHECK_EQ(info.max_output, 8192);
    CHECK(info.input_per_mtok == 0.55 && info.cached_input_per_mtok == 0.14);
    CHECK_STR_EQ(info.limits_checked, "2026-12-07");
    CHECK(am_models_lookup(m, AM_STR("gpt-5-nano-2025-08-07"), &info));
    CHECK_EQ(info.context_window, 400000);
    CHECK_STR_EQ(info.price_source,
                 "https://developers.openai.com/api/docs/models/gpt-5-nano");
    CHECK_STR_EQ(info.price_checked, "2026-12-07");

    /* A user file: a date that is not YYYY-MM-DD is refused, naming the
     * entry; so is a date without its source; a good one is kept. */
    snprintf(path, sizeof path, "%s/models.json", dir);
    f = fopen(path, "w");
    CHECK(f != NULL);
    fputs("{\"models\": [{\"name\": \"mine\", \"chars_per_token\": 4,"
          " \"price_source\": \"https://example.org/p\","
          " \"price_checked\": \"Aug 2025\"}]}", f);
    fclose(f);
    CHECK_ST(am_models_load_file(m, path), AM_EFORMAT);
    CHECK(strstr(am_models_last_error(m)->msg, "models[0]") != NULL);
    CHECK(strstr(am_models_last_error(m)->msg, "YYYY-MM-DD") != NULL);
    f = fopen(path, "w");
    fputs("{\"models\": [{\"name\": \"mine\", \"chars_per_token\": 4,"
          " \"limits_checked\": \"2026-01-31\"}]}", f);
    fclose(f);
    CHECK_ST(am_models_load_file(m, path), AM_EFORMAT);
    CHECK(strstr(am_models_last_error(m)->msg, "limits_source") != NULL);
    f = fopen(path, "w");
    fputs("{\"models\": [{\"name\": \"mine\", \"chars_per_token\": 4,"
          " \"price_source\": \"https://example.org/p\","
          " \"price_checked\": \"2026-01-31\"}]}", f);
    fclose(f);
    CHECK_OK(am_models_load_file(m, path));
    CHECK(am_models_lookup(m, AM_STR("mine"), &info));
    CHECK_STR_EQ(info.price_checked, "2026-01-31");
    CHECK(info.limits_source == NULL);
    am_models_free(m);
    test_rmtree(dir);
    free(dir);
}

AM_TEST(catalog_resolves_exact_names_prefixes_and_unknowns)
{
    am_models *m = NULL;
    am_model_info info;
    am_error err = { AM_OK, "" };

    CHECK_OK_E(am_models_create(NULL, &m, &err), &err);
    CHECK(am_models_count(m) > 40);
    CHECK(am_models_lookup(m, AM_STR("gpt-4o"), &info));
    CHECK_STR_EQ(info.encoding, "o200k_base");
    CHECK_EQ(info.context_window, 128000);
    /* Longest prefix: the mini entry, not gpt-4o, not gpt-4. */
    CHECK(am_models_lookup(m, AM_STR("gpt-4o-mini-2024-07-18"), &info));
    CHECK_STR_EQ(info.name, "gpt-4o-mini");
    CHECK(am_models_lookup(m, AM_STR("gpt-4-0613"), &info));
    CHECK_STR_EQ(info.encoding, "cl100k_base");
    CHECK_EQ(info.context_window, 8192);
    CHECK(am_models_lookup(m, AM_STR("claude-3-opus-20240229"), &info));
    CHECK_STR_EQ(info.provider, "anthropic");
    CHECK(info.encoding == NULL);
    CHECK(info.chars_per_token == 3.5);
    CHECK_EQ(info.context_window, 200000);
    CHECK(am_models_lookup(m, AM_STR("gemini-2.5-pro"), &info));
    CHECK(info.chars_per_token == 4.0);
    CHECK(!am_models_lookup(m, AM_STR("my-local-model"), &info));
    CHECK(!info.known);
    CHECK_EQ(info.context_window, 8192);
    CHECK(info.input_per_mtok == 0.55 && info.output_per_mtok == 2.19);
    /* NULL: the built-in catalog. */
    CHECK(am_models_lookup(NULL, AM_STR("o3-mini"), &info));
    CHECK_STR_EQ(info.name, "o3-mini");
    am_models_free(m);
}

AM_TEST(user_catalog_overrides_and_bad_files_name_the_problem)
{
    char *dir = test_tmpdir();
    char *good = write_tmp(dir, "good.json",
        "{\"defaults\": {\"chars_per_token\": 3.0, \"context_window\": 4096},"
        " \"models\": [{\"name\": \"gpt-4o\", \"provider\": \"openai\","
        " \"encoding\": \"o200k_base\", \"context_window\": 1000,"
        " \"input\": 1, \"output\": 2},"
        " {\"name\": \"acme-\", \"prefix\": true, \"chars_per_token\": 2.5,"
        " \"context_window\": 32000}]}");
    char *bad = write_tmp(dir, "bad.json",
        "{\"models\": [{\"name\": \"x\", \"chars_per_token\": 2},"
        " {\"name\": \"y\", \"context_window\": \"big\","
        " \"chars_per_token\": 2}]}");
    char *bad_enc = write_tmp(dir, "bad_enc.json",
        "{\"models\": [{\"name\": \"x\", \"encoding\": \"zz_base\"}]}");
    am_models *m = NULL;
    am_model_info info;
    am_error err = { AM_OK, "" };
    size_t before;

    CHECK_OK_E(am_models_create(&(am_models_opts){ good, NULL }, &m, &err), &err);
    CHECK(am_models_lookup(m, AM_STR("gpt-4o"), &info));
    CHECK_EQ(info.context_window, 1000);
    CHECK(am_models_lookup(m, AM_STR("acme-7b"), &info));
    CHECK(info.chars_per_token == 2.5);
    CHECK(!am_models_lookup(m, AM_STR("zzz"), &info));
    CHECK_EQ(info.context_window, 4096);
    before = am_models_count(m);
    CHECK_ST(am_models_load_file(m, bad), AM_EFORMAT);
    CHECK(strstr(am_models_last_error(m)->msg, "models[1]") != NULL);
    CHECK(strstr(am_models_last_error(m)->msg, "context_window") != NULL);
    CHECK_EQ(am_models_count(m), before); /* nothing half-added */
    CHECK_ST(am_models_load_file(m, bad_enc), AM_EFORMAT);
    CHECK(strstr(am_models_last_error(m)->msg, "zz_base") != NULL);
    CHECK_ST(am_models_load_file(m, "/nonexistent.json"), AM_ENOTFOUND);
    am_models_free(m);
    CHECK_ST(am_models_create(&(am_models_opts){ bad, NULL }, &m, &err), AM_EFORMAT);
    CHECK(m == NULL);
    free(good);
    free(bad);
    free(bad_enc);
    test_rmtree(dir);
    free(dir);
}

AM_TEST(cost_uses_cached_price_for_cached_input)
{
    am_model_info info;
    CHECK(am_models_lookup(NULL, AM_STR("gpt-4o-mini"), &info));
    /* 10000 x 0.15 + 2000 x 0.075 + 800 x 0.6 per million. */
    CHECK(fabs(am_model_cost(&info, 12000, 2000, 800) - 0.00213) < 1e-12);
    CHECK(am_model_cost(NULL, 1, 0, 1) == 0);
}

AM_TEST(models_and_token_cache_take_their_allocator_through_options)
{
    am_models_opts mo = am_models_opts_default();
    am_token_cache_opts co = am_token_cache_opts_default();
    am_models *m = NULL;
    am_error err = { AM_OK, "" };
    CHECK(mo.user_file == NULL && mo.alloc == NULL);
    CHECK(co.entries == 0 && co.alloc == NULL);
    CHECK_OK_E(am_models_create(&mo, &m, &err), &err);
    CHECK(am_models_count(m) > 0);
    am_models_free(m);
    CHECK_ST(am_models_create(NULL, NULL, &err), AM_EINVAL);
    co.entries = ((size_t)1 << 24) + 1;
    am_token_cache *c = NULL;
    CHECK_ST(am_token_cache_create(NULL, &co, &c, &err), AM_EINVAL);
}
