/* test_context.c -- memory config, offline summarizer, trimming, manager. */
#include <stdlib.h>
#include <string.h>

#include "agentmem/memconfig.h"
#include "agentmem/tokens.h"
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
    am_error err = { AM_OK, "" };
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
    am_error err = { AM_OK, "" };
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
    am_error err = { AM_OK, "" };
    CHECK_OK_E(am_memory_config_parse(
                   &c, AM_STR("MEMORY_SHORT_TERM_SIZE=7\n"
                              "MEMORY_PRESET=aggressive\n"), &err), &err);
    CHECK_EQ(c.short_term_size, 7);
    CHECK_EQ(c.compression_threshold, 30000);
}

AM_TEST(config_errors_name_the_line_and_change_nothing)
{
    am_memory_config c = am_memory_config_default();
    am_error err = { AM_OK, "" };
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
    am_error err = { AM_OK, "" };
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

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    fputs(text, f);
    fclose(f);
}

AM_TEST(config_is_found_from_the_variable_then_the_project_then_the_user)
{
    char *dir = test_tmpdir();
    char proj[256], home[256], xdg[256], p[600], found[1024];
    const char *env[] = { "HOME", home, NULL, NULL, NULL, NULL };
    am_memory_config_resolve_opts o;
    am_error err = { AM_OK, "" };

    snprintf(proj, sizeof proj, "%s/proj", dir);
    snprintf(home, sizeof home, "%s/home", dir);
    snprintf(xdg, sizeof xdg, "%s/xdg", dir);
    memset(&o, 0, sizeof o);
    o.getenv_fn = fake_env;
    o.getenv_ctx = env;
    o.cwd = proj;

    /* Nothing anywhere: no file, and that is not an error. */
    CHECK_OK_E(am_memory_config_find(&o, found, sizeof found, &err), &err);
    CHECK_STR_EQ(found, "");

    /* The user's directory: ~/.config/agentmem/config ... */
    snprintf(p, sizeof p, "%s/.config/agentmem", home);
    CHECK_OK(am__mkdir_p(NULL, p, NULL));
    snprintf(p, sizeof p, "%s/.config/agentmem/config", home);
    write_text(p, "MEMORY_SHORT_TERM_SIZE=7\n");
    CHECK_OK_E(am_memory_config_find(&o, found, sizeof found, &err), &err);
    CHECK_STR_EQ(found, p);
    /* ... or $XDG_CONFIG_HOME/agentmem/config when that is set. */
    env[2] = "XDG_CONFIG_HOME";
    env[3] = xdg;
    CHECK_OK(am_memory_config_find(&o, found, sizeof found, &err));
    CHECK_STR_EQ(found, "");
    snprintf(p, sizeof p, "%s/agentmem", xdg);
    CHECK_OK(am__mkdir_p(NULL, p, NULL));
    snprintf(p, sizeof p, "%s/agentmem/config", xdg);
    write_text(p, "MEMORY_SHORT_TERM_SIZE=8\n");
    CHECK_OK(am_memory_config_find(&o, found, sizeof found, &err));
    CHECK_STR_EQ(found, p);

    /* The project's ./.agentmem/config shadows the user's. */
    snprintf(p, sizeof p, "%s/.agentmem", proj);
    CHECK_OK(am__mkdir_p(NULL, p, NULL));
    snprintf(p, sizeof p, "%s/.agentmem/config", proj);
    write_text(p, "MEMORY_SHORT_TERM_SIZE=9\n");
    CHECK_OK(am_memory_config_find(&o, found, sizeof found, &err));
    CHECK_STR_EQ(found, p);

    /* $AGENTMEM_CONFIG wins over both; naming no file is an error. */
    env[0] = "AGENTMEM_CONFIG";
    snprintf(home, sizeof home, "%s/xdg/agentmem/config", dir);
    CHECK_OK(am_memory_config_find(&o, found, sizeof found, &err));
    CHECK_STR_EQ(found, home);
    snprintf(home, sizeof home, "%s/missing.conf", dir);
    CHECK_ST(am_memory_config_find(&o, found, sizeof found, &err),
             AM_ENOTFOUND);
    CHECK(strstr(err.msg, "$AGENTMEM_CONFIG names") != NULL);
    CHECK(strstr(err.msg, "missing.conf") != NULL);
    /* A buffer too small for the path is refused, not cut. */
    snprintf(home, sizeof home, "%s/xdg/agentmem/config", dir);
    CHECK_ST(am_memory_config_find(&o, found, 8, &err), AM_ELIMIT);
    test_rmtree(dir);
    free(dir);
}

AM_TEST(config_resolve_records_where_each_value_came_from)
{
    char *dir = test_tmpdir();
    char path[512], want[600];
    const char *env[] = { "MEMORY_COMPRESSION_RATIO", "0.4",
                          "AGENTMEM_CONFIG", path, NULL, NULL };
    am_memory_config_resolve_opts o;
    am_memory_config c = am_memory_config_default(), before;
    am_memory_config_origins org;
    am_buf shown = AM_BUF_INIT;
    am_error err = { AM_OK, "" };

    snprintf(path, sizeof path, "%s/memory.conf", dir);
    write_text(path, "# team settings\nMEMORY_PRESET=conservative\n"
                     "MEMORY_MODEL=gpt-4o\nMEMORY_SHORT_TERM_SIZE=12\n");
    memset(&o, 0, sizeof o);
    o.getenv_fn = fake_env;
    o.getenv_ctx = env;
    o.preset = "aggressive";
    CHECK_OK_E(am_memory_config_resolve(&c, &o, &org, &err), &err);
    CHECK_STR_EQ(org.file, path);
    /* preset < file: the file's preset replaces the caller's. */
    CHECK_EQ(c.strategy, AM_COMPRESS_SELECTIVE);
    snprintf(want, sizeof want, "%s:2 (MEMORY_PRESET=conservative)", path);
    CHECK_STR_EQ(am_memory_config_origin_of(
                     &org, AM_STR("MEMORY_COMPRESSION_STRATEGY")), want);
    /* A key in the file after the preset wins over the preset. */
    CHECK_EQ(c.short_term_size, 12);
    snprintf(want, sizeof want, "%s:4", path);
    CHECK_STR_EQ(am_memory_config_origin_of(
                     &org, AM_STR("MEMORY_SHORT_TERM_SIZE")), want);
    CHECK_STR_EQ(c.model, "gpt-4o");
    /* file < environment. */
    CHECK(c.compression_ratio == 0.4);
    CHECK_STR_EQ(am_memory_config_origin_of(
                     &org, AM_STR("MEMORY_COMPRESSION_RATIO")),
                 "$MEMORY_COMPRESSION_RATIO");
    CHECK_STR_EQ(am_memory_config_origin_of(
                     &org, AM_STR("MEMORY_TOOL_CLEAR_KEEP")), "default");
    CHECK_STR_EQ(am_memory_config_origin_of(&org, AM_STR("NOPE")), "?");

    /* The caller's own flags are noted under their name. */
    CHECK_OK(am_memory_config_origins_note(
        &org, AM_STR("MEMORY_MODEL"), "--model", &err));
    CHECK_STR_EQ(am_memory_config_origin_of(&org, AM_STR("MEMORY_MODEL")),
                 "--model");
    CHECK_ST(am_memory_config_origins_note(&org, AM_STR("MEMORY_PRESET"),
                                           "--preset", &err), AM_EINVAL);
    CHECK(strstr(err.msg, "not a setting") != NULL);

    CHECK_OK(am_memory_config_show(&c, &org, &shown));
    snprintf(want, sizeof want, "# file: %s\n", path);
    CHECK(strncmp(shown.ptr, want, strlen(want)) == 0);
    CHECK(strstr(shown.ptr, "MEMORY_COMPRESSION_RATIO=0.4 ") != NULL);
    CHECK(strstr(shown.ptr, "# $MEMORY_COMPRESSION_RATIO\n") != NULL);
    CHECK(strstr(shown.ptr, "MEMORY_MODEL=\"gpt-4o\"") != NULL);

    /* A bad line names the file and line; nothing changes. */
    write_text(path, "MEMORY_SHORT_TERM_SIZE=7\nMEMORY_NOPE=1\n");
    before = c;
    CHECK_ST(am_memory_config_resolve(&c, &o, &org, &err), AM_EINVAL);
    CHECK(strstr(err.msg, path) != NULL);
    CHECK(strstr(err.msg, "line 2") != NULL);
    CHECK(memcmp(&c, &before, sizeof c) == 0);
    CHECK_STR_EQ(am_memory_config_origin_of(&org, AM_STR("MEMORY_MODEL")),
                 "--model");
    /* An explicit file that is missing is an error, not the defaults. */
    o.file = "/nonexistent/agentmem.conf";
    CHECK_ST(am_memory_config_resolve(&c, &o, &org, &err), AM_ENOTFOUND);
    am_buf_free(&shown);
    test_rmtree(dir);
    free(dir);
}

AM_TEST(config_format_round_trips)
{
    am_memory_config c = am_memory_config_default(), d;
    am_buf b = AM_BUF_INIT;
    am_error err = { AM_OK, "" };
    c.compression_ratio = 0.37;
    c.strategy = AM_COMPRESS_DELETION;
    c.tool_clear_trigger = 9000;
    snprintf(c.tool_clear_exclude, sizeof c.tool_clear_exclude, "memory");
    memset(c.model, 0, sizeof c.model);
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
    am_error err = { AM_OK, "" };
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
      false, false },
    { "assistant", { "Hello Alice. How can I help?", 28 }, { NULL, 0 },
      false, false, false, false },
    { "user", { "We decided to migrate billing to PostgreSQL 15 by "
                "March 14, 2025. ok. Can you check the current schema?",
                104 }, { NULL, 0 }, false, false, false, false },
    { "assistant", { "{\"table\":\"invoices\"}", 20 },
      { "describe_table", 14 }, true, false, false, false },
    { "tool", { "error: permission denied for table invoices\nmore", 48 },
      { "describe_table", 14 }, false, true, true, false },
    { "assistant", { "The schema lookup failed with a permission error.",
                     49 }, { NULL, 0 }, false, false, false, false },
    { "user", { "Should we ask Bob for read access?", 34 }, { NULL, 0 },
      false, false, false, false },
};

AM_TEST(xsum_keeps_names_numbers_decisions_errors_questions)
{
    am_buf out = AM_BUF_INIT;
    am_error err = { AM_OK, "" };
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

static size_t count_o200k(void *ctx, const char *s, size_t len)
{
    size_t n = 0;
    CHECK_OK(am_tokenizer_count(ctx, (am_str){ s, len }, NULL, &n, NULL));
    return n;
}

/* Counts every call, to see that the word bound saves counting. */
static size_t counted_calls;
static size_t count_o200k_calls(void *ctx, const char *s, size_t len)
{
    counted_calls++;
    return count_o200k(ctx, s, len);
}

AM_TEST(xsum_word_bound_gives_the_same_bytes_with_less_counting)
{
    am_tokenizer *tz = NULL;
    am_buf a = AM_BUF_INIT, b = AM_BUF_INIT;
    size_t n = sizeof sample_items / sizeof sample_items[0];
    size_t with = 0, without = 0;
    CHECK_OK(am_tokenizer_create(AM_STR("gpt-4o"), NULL, &tz, NULL));
    for (size_t budget = 20; budget < 300; budget += 3) {
        counted_calls = 0;
        CHECK_OK(am__xsum_ex(NULL, (am_str){ NULL, 0 }, sample_items, n,
                             budget, AM_STR(""), count_o200k_calls, tz,
                             false, &a, NULL));
        without += counted_calls;
        counted_calls = 0;
        CHECK_OK(am__xsum_ex(NULL, (am_str){ NULL, 0 }, sample_items, n,
                             budget, AM_STR(""), count_o200k_calls, tz,
                             true, &b, NULL));
        with += counted_calls;
        CHECK_EQ(a.len, b.len);
        CHECK(memcmp(a.ptr, b.ptr, a.len) == 0);
        /* Exact: past the header, the summary fits the budget. */
        if (budget >= 60)
            CHECK(count_o200k(tz, b.ptr, b.len) <= budget);
    }
    CHECK(with < without);
    am_buf_free(&a);
    am_buf_free(&b);
    am_tokenizer_free(tz);
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
        /* The header alone may exceed a tiny budget; past it, the whole
         * summary fits (counted with the same estimate). */
        if (budget >= 60)
            CHECK(am__count_estimate(NULL, a.ptr, a.len) <= budget);
        if (budget >= 150)
            CHECK(strstr(a.ptr, "Key points:") != NULL);
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

/* ---- Trimming on views ---- */

#include "context/trim_int.h"

/* A compact history spec: one char per message.
 *   S system, U user, A assistant (plain), R reasoning-only,
 *   C assistant with calls (ids given in calls[]), T tool result. */
typedef struct vhist {
    am__wview v[32];
    am_str ids[32][4];
    size_t n;
} vhist;

static void vh_add(vhist *h, int role, size_t tokens)
{
    am__wview *m = &h->v[h->n++];
    memset(m, 0, sizeof *m);
    m->role = role;
    m->tokens = tokens;
    m->text_only = true;
}

static void vh_call(vhist *h, size_t tokens, const char *a, const char *b,
                    const char *c)
{
    size_t i = h->n, k = 0;
    vh_add(h, AM__W_ASSISTANT, tokens);
    if (a != NULL) h->ids[i][k++] = am_str_c(a);
    if (b != NULL) h->ids[i][k++] = am_str_c(b);
    if (c != NULL) h->ids[i][k++] = am_str_c(c);
    h->v[i].call_ids = h->ids[i];
    h->v[i].ncalls = k;
}

static void vh_result(vhist *h, size_t tokens, const char *id)
{
    vh_add(h, AM__W_TOOL, tokens);
    h->v[h->n - 1].result_for = am_str_c(id);
}

static void kept_string(const unsigned char *keep, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++)
        out[i] = keep[i] ? '1' : '0';
    out[n] = '\0';
}

/* Validity: never start on a tool result; every kept tool result has its
 * kept caller before it; every kept caller has all its kept results. */
static void check_valid(const vhist *h, const unsigned char *keep)
{
    bool seen_non_system = false;
    for (size_t i = 0; i < h->n; i++) {
        if (!keep[i])
            continue;
        if (!seen_non_system && h->v[i].role != AM__W_SYSTEM) {
            CHECK(h->v[i].role != AM__W_TOOL);
            seen_non_system = true;
        }
        if (h->v[i].role == AM__W_TOOL) {
            bool found = false;
            for (size_t j = 0; j < i && !found; j++)
                for (size_t c = 0; c < h->v[j].ncalls; c++)
                    if (keep[j] && h->v[j].call_ids[c].len ==
                                       h->v[i].result_for.len &&
                        memcmp(h->v[j].call_ids[c].ptr,
                               h->v[i].result_for.ptr,
                               h->v[i].result_for.len) == 0)
                        found = true;
            CHECK(found);
        }
        for (size_t c = 0; c < h->v[i].ncalls; c++)
            for (size_t j = i + 1; j < h->n; j++)
                if (h->v[j].role == AM__W_TOOL &&
                    h->v[j].result_for.len == h->v[i].call_ids[c].len &&
                    memcmp(h->v[j].result_for.ptr, h->v[i].call_ids[c].ptr,
                           h->v[j].result_for.len) == 0)
                    CHECK(keep[j]);
    }
}

static void agent_history(vhist *h)
{
    memset(h, 0, sizeof *h);
    vh_add(h, AM__W_SYSTEM, 10);         /* 0 */
    vh_add(h, AM__W_USER, 10);           /* 1 */
    vh_add(h, AM__W_ASSISTANT, 5);       /* 2: reasoning */
    h->v[2].reasoning_only = true;
    vh_call(h, 10, "a", "b", "c");       /* 3: parallel calls */
    vh_result(h, 10, "b");               /* 4: out of order */
    vh_result(h, 10, "c");               /* 5 */
    vh_result(h, 10, "a");               /* 6 */
    vh_add(h, AM__W_ASSISTANT, 10);      /* 7 */
    vh_add(h, AM__W_USER, 10);           /* 8 */
    vh_call(h, 10, "d", NULL, NULL);     /* 9 */
    vh_result(h, 10, "d");               /* 10 */
    vh_add(h, AM__W_ASSISTANT, 10);      /* 11 */
}

static void run_trim(const vhist *h, am__wtrim_opts o, char *got,
                     am__wtrim_out *res)
{
    static unsigned char keep[32];
    res->keep = keep;
    CHECK_OK(am__wtrim(NULL, h->v, h->n, &o, res, NULL));
    kept_string(keep, h->n, got);
    check_valid(h, keep);
}

static am__wtrim_opts topts(void)
{
    am__wtrim_opts o;
    memset(&o, 0, sizeof o);
    o.preserve_system = true;
    o.end_on_role = -1;
    return o;
}

AM_TEST(trim_tokens_keeps_parallel_calls_and_reasoning_as_one_group)
{
    vhist h;
    char got[40];
    am__wtrim_out r;
    am__wtrim_opts o = topts();
    agent_history(&h);
    /* 10 system + budget for the last 5 (40 tokens) -> the group 2..6 (45
     * tokens) does not fit and is dropped whole. */
    for (size_t budget = 10; budget <= 120; budget++) {
        o.max_tokens = budget;
        run_trim(&h, o, got, &r);
        CHECK(r.kept_tokens <= budget || budget < 10);
        /* 2..6 are all kept or all dropped. */
        CHECK(got[2] == got[3] && got[3] == got[4] && got[4] == got[5] &&
              got[5] == got[6]);
    }
    o.max_tokens = 60;
    run_trim(&h, o, got, &r);
    CHECK_STR_EQ(got, "100000011111");
    o.max_tokens = 104;
    run_trim(&h, o, got, &r);
    CHECK_STR_EQ(got, "100000011111");
    o.max_tokens = 105;
    run_trim(&h, o, got, &r);
    CHECK_STR_EQ(got, "101111111111");
    o.max_tokens = 115;
    run_trim(&h, o, got, &r);
    CHECK_STR_EQ(got, "111111111111");
}

AM_TEST(trim_last_n_counts_groups_and_system)
{
    vhist h;
    char got[40];
    am__wtrim_out r;
    am__wtrim_opts o = topts();
    agent_history(&h);
    o.max_messages = 4; /* system + 3: 9,10,11 */
    run_trim(&h, o, got, &r);
    CHECK_STR_EQ(got, "100000000111");
    o.max_messages = 3; /* group 9-10 does not fit with 11 in 2 slots */
    run_trim(&h, o, got, &r);
    CHECK_STR_EQ(got, "100000000001");
    o.preserve_system = false;
    run_trim(&h, o, got, &r);
    CHECK_STR_EQ(got, "000000000111");
}

AM_TEST(trim_first_n_never_ends_inside_a_group)
{
    vhist h;
    char got[40];
    am__wtrim_out r;
    am__wtrim_opts o = topts();
    agent_history(&h);
    o.first = true;
    o.max_messages = 5; /* 0,1 then group 2..6 (5 msgs) cannot fit */
    run_trim(&h, o, got, &r);
    CHECK_STR_EQ(got, "110000000000");
    o.max_messages = 7;
    run_trim(&h, o, got, &r);
    CHECK_STR_EQ(got, "111111100000");
    o.max_messages = 0;
    o.max_tokens = 50; /* a cut inside the group by tokens */
    run_trim(&h, o, got, &r);
    CHECK_STR_EQ(got, "110000000000");
}

AM_TEST(trim_drops_orphan_results_and_never_starts_on_tool)
{
    vhist h;
    char got[40];
    am__wtrim_out r;
    am__wtrim_opts o = topts();
    memset(&h, 0, sizeof h);
    vh_result(&h, 5, "zz");          /* orphan at the start */
    vh_add(&h, AM__W_USER, 5);
    vh_call(&h, 5, "x", NULL, NULL);
    vh_add(&h, AM__W_USER, 5);       /* user in between call and result */
    vh_result(&h, 5, "x");
    vh_result(&h, 5, "nope");        /* orphan in the middle */
    vh_add(&h, AM__W_ASSISTANT, 5);
    o.max_tokens = 1000;
    run_trim(&h, o, got, &r);
    CHECK_STR_EQ(got, "0111101");
    CHECK_EQ(r.orphans, 2);
    o.max_tokens = 15; /* the call group 2+4 is not contiguous with 3 */
    run_trim(&h, o, got, &r);
    CHECK_STR_EQ(got, "0001001");
}

AM_TEST(trim_start_on_user_and_end_on_role)
{
    vhist h;
    char got[40];
    am__wtrim_out r;
    am__wtrim_opts o = topts();
    agent_history(&h);
    o.max_tokens = 60; /* would keep 0,7..11: starts on assistant 7 */
    o.start_on_user = true;
    run_trim(&h, o, got, &r);
    CHECK_STR_EQ(got, "100000001111");
    o.end_on_role = AM__W_USER;
    run_trim(&h, o, got, &r);
    CHECK_STR_EQ(got, "100000001000");
}

AM_TEST(trim_partial_cuts_only_a_plain_boundary_message)
{
    vhist h;
    char got[40];
    am__wtrim_out r;
    am__wtrim_opts o = topts();
    agent_history(&h);
    o.allow_partial = true;
    o.max_tokens = 55; /* 10 sys + 40 for 8..11 + 5 left: boundary is 7 */
    run_trim(&h, o, got, &r);
    CHECK_STR_EQ(got, "100000011111");
    CHECK_EQ(r.partial_index, 7);
    CHECK_EQ(r.partial_budget, 5);
    o.max_tokens = 35; /* boundary is the group 9..10: never cut */
    run_trim(&h, o, got, &r);
    CHECK_STR_EQ(got, "100000000001");
    CHECK_EQ(r.partial_index, SIZE_MAX);
}

AM_TEST(config_text_values_reject_control_characters_and_compare_equal)
{
    am_memory_config c = am_memory_config_default(), d;
    am_error err = { AM_OK, "" };
    CHECK_ST(am_memory_config_set(&c, AM_STR("MEMORY_TOOL_CLEAR_EXCLUDE"),
                                  AM_STR("a\nb"), "env", &err), AM_EFORMAT);
    CHECK(strstr(err.msg, "byte 1") != NULL);
    /* A long value then a short one: the struct equals a fresh short. */
    CHECK_OK(am_memory_config_set(&c, AM_STR("MEMORY_TOOL_CLEAR_EXCLUDE"),
                                  AM_STR("search,calculator"), NULL, &err));
    CHECK_OK(am_memory_config_set(&c, AM_STR("MEMORY_TOOL_CLEAR_EXCLUDE"),
                                  AM_STR("x"), NULL, &err));
    d = am_memory_config_default();
    CHECK_OK(am_memory_config_set(&d, AM_STR("MEMORY_TOOL_CLEAR_EXCLUDE"),
                                  AM_STR("x"), NULL, &err));
    CHECK(memcmp(&c, &d, sizeof c) == 0);
}

/* Dialogue: what a later question asks about is a speaker's own facts,
 * not greetings under a date stamp, answered questions or guesses. */
static const am__xitem dialogue_items[] = {
    { "user", { "[1:56 pm on 8 May, 2023] Caroline: Hey Mel, long time!",
                55 }, { NULL, 0 }, false, false, false, false },
    { "user", { "Did you paint anything new?", 27 }, { NULL, 0 }, false,
      false, false, false },
    { "assistant", { "Melanie: That must have been so important to you.",
                     50 }, { NULL, 0 }, false, false, false, false },
    { "assistant", { "I joined a pottery class yesterday and made a bowl.",
                     51 }, { NULL, 0 }, false, false, false, false },
    { "user", { "Which glaze did you use for it?", 31 }, { NULL, 0 },
      false, false, false, false },
};

AM_TEST(xsum_prefers_a_speakers_facts_in_dialogue)
{
    am_buf out = AM_BUF_INIT;
    size_t n = sizeof dialogue_items / sizeof dialogue_items[0];
    /* Room for the header and about two lines. */
    CHECK_OK(am__xsum(NULL, (am_str){ NULL, 0 }, dialogue_items, n, 70,
                      AM_STR("important,must"), NULL, NULL, &out, NULL));
    CHECK(strstr(out.ptr, "pottery class yesterday") != NULL);
    /* The last question is open: listed under Questions. */
    CHECK(strstr(out.ptr, "Questions:\n- [user] Which glaze") != NULL);
    /* The answered one is not an open question; the date-stamped
     * greeting and the guess (markers or not) lose to the fact. */
    CHECK(strstr(out.ptr, "Questions:\n- [user] Did you") == NULL);
    CHECK(strstr(out.ptr, "Hey Mel") == NULL);
    CHECK(strstr(out.ptr, "must have been") == NULL);
    am_buf_free(&out);
}

/* ---- memconfig.h promises not held elsewhere (audit, session 13) ---- */

/* The rest of the defaults the header lists, and that a preset keeps
 * every field outside its five (the model included). */
AM_TEST(config_defaults_in_full_and_presets_keep_other_fields)
{
    am_memory_config c = am_memory_config_default();
    am_error err = { AM_OK, "" };

    CHECK_EQ(c.max_context_tokens, 100000);
    CHECK(c.preserve_tool_calls);
    CHECK_STR_EQ(c.importance_markers,
                 "important,critical,remember,must,decision");
    CHECK_EQ(c.tool_clear_trigger, 0);
    CHECK_STR_EQ(c.model, AM_MEMORY_DEFAULT_MODEL);
    CHECK_STR_EQ(c.model, "gpt-4o-mini");

    c.enabled = false;
    c.preserve_system = false;
    c.max_context_tokens = 77777;
    c.tool_clear_keep = 5;
    snprintf(c.model, sizeof c.model, "claude-sonnet-4");
    CHECK_OK(am_memory_config_preset(&c, AM_STR("aggressive"), &err));
    CHECK(c.enabled);                          /* a preset field */
    CHECK(c.compression_ratio > 0.19 && c.compression_ratio < 0.21);
    CHECK_EQ(c.strategy, AM_COMPRESS_SLIDING_WINDOW);
    CHECK(!c.preserve_system);                 /* kept */
    CHECK_EQ(c.max_context_tokens, 77777);
    CHECK_EQ(c.tool_clear_keep, 5);
    CHECK_STR_EQ(c.model, "claude-sonnet-4");
    CHECK_OK(am_memory_config_preset(&c, AM_STR("conservative"), &err));
    CHECK(c.compression_ratio > 0.49 && c.compression_ratio < 0.51);
    CHECK_EQ(c.short_term_size, 30);
    CHECK_OK(am_memory_config_preset(&c, AM_STR("balanced"), &err));
    CHECK_EQ(c.compression_threshold, 40000);
    CHECK_EQ(c.short_term_size, 20);
    CHECK(c.compression_ratio > 0.29 && c.compression_ratio < 0.31);
    CHECK_EQ(c.strategy, AM_COMPRESS_SLIDING_WINDOW);
    CHECK_STR_EQ(c.model, "claude-sonnet-4");
}

/* set: AM_EINVAL for an unknown key, AM_EFORMAT for a bad value, `where`
 * at the front of the message (a default when NULL), nothing changed. */
AM_TEST(config_set_errors_start_with_where_and_change_nothing)
{
    am_memory_config c = am_memory_config_default(), d = c;
    am_error err = { AM_OK, "" };

    CHECK_ST(am_memory_config_set(&c, AM_STR("MEMORY_NOPE"), AM_STR("1"),
                                  "flag --x", &err), AM_EINVAL);
    CHECK(strncmp(err.msg, "flag --x", 8) == 0);
    CHECK(strstr(err.msg, "MEMORY_NOPE") != NULL);
    CHECK_ST(am_memory_config_set(&c, AM_STR("MEMORY_SHORT_TERM_SIZE"),
                                  AM_STR("-1"), NULL, &err), AM_EFORMAT);
    CHECK(err.msg[0] != '\0');
    CHECK_ST(am_memory_config_set(&c, AM_STR("MEMORY_COMPRESSION_RATIO"),
                                  AM_STR("0"), "here", &err), AM_EFORMAT);
    CHECK(strncmp(err.msg, "here", 4) == 0);
    CHECK(memcmp(&c, &d, sizeof c) == 0);
    CHECK_OK(am_memory_config_set(&c, AM_STR("MEMORY_COMPRESSION_RATIO"),
                                  AM_STR("1"), NULL, &err));
    CHECK(c.compression_ratio == 1.0);
}

/* apply_env with a NULL lookup reads the process environment. */
AM_TEST(config_apply_env_without_a_lookup_reads_the_process_environment)
{
    am_memory_config c = am_memory_config_default();
    am_error err = { AM_OK, "" };

    CHECK_EQ(setenv("MEMORY_SHORT_TERM_SIZE", "3", 1), 0);
    CHECK_OK_E(am_memory_config_apply_env(&c, NULL, NULL, &err), &err);
    CHECK_EQ(c.short_term_size, 3);
    unsetenv("MEMORY_SHORT_TERM_SIZE");
}

/* load: a path that exists but cannot be read as a file is AM_EIO naming
 * it, not AM_ENOTFOUND. */
AM_TEST(config_load_of_an_unreadable_path_is_an_io_error)
{
    char *dir = test_tmpdir();
    am_memory_config c = am_memory_config_default(), d = c;
    am_error err = { AM_OK, "" };

    CHECK_ST(am_memory_config_load(&c, dir, &err), AM_EIO);
    CHECK(strstr(err.msg, dir) != NULL);
    CHECK(memcmp(&c, &d, sizeof c) == 0);
    test_rmtree(dir);
    free(dir);
}

/* origins_init, origin_of, origins_note, find, show and the strategy
 * names: the defaults, NULL cases and limits the header states. */
AM_TEST(config_origins_find_show_and_names_keep_their_small_promises)
{
    am_memory_config_origins o;
    am_memory_config c = am_memory_config_default();
    am_memory_config_resolve_opts ro;
    const char *env[] = { NULL, NULL, NULL }; /* a name, its value, the end */
    char longsrc[AM_MEMCFG_SOURCE_MAX + 100], path[64];
    am_buf out = AM_BUF_INIT;
    am_error err = { AM_OK, "" };

    memset(&o, 0x5A, sizeof o);
    am_memory_config_origins_init(&o);
    am_memory_config_origins_init(NULL);
    CHECK_STR_EQ(o.file, "");
    for (size_t i = 0; i < AM_MEMCFG_NKEYS; i++) {
        CHECK(o.keys[i].key != NULL);
        CHECK_STR_EQ(o.keys[i].source, "default");
        CHECK_STR_EQ(am_memory_config_origin_of(&o, am_str_c(o.keys[i].key)),
                     "default");
    }
    CHECK_STR_EQ(am_memory_config_origin_of(NULL, AM_STR("MEMORY_MODEL")),
                 "?");
    /* A source longer than the field is cut, NUL-terminated. */
    memset(longsrc, 's', sizeof longsrc - 1);
    longsrc[sizeof longsrc - 1] = '\0';
    CHECK_OK(am_memory_config_origins_note(&o, AM_STR("MEMORY_MODEL"),
                                           longsrc, &err));
    CHECK_EQ(strlen(am_memory_config_origin_of(&o, AM_STR("MEMORY_MODEL"))),
             AM_MEMCFG_SOURCE_MAX - 1);
    CHECK_ST(am_memory_config_origins_note(&o, AM_STR("MEMORY_NOPE"), "x",
                                           &err), AM_EINVAL);
    CHECK(strstr(err.msg, "MEMORY_NOPE") != NULL);

    /* find: a NULL path is AM_EINVAL. */
    memset(&ro, 0, sizeof ro);
    ro.getenv_fn = fake_env;
    ro.getenv_ctx = env;
    ro.cwd = "/nonexistent";
    CHECK_ST(am_memory_config_find(&ro, NULL, 64, &err), AM_EINVAL);
    CHECK_OK_E(am_memory_config_find(&ro, path, sizeof path, &err), &err);
    CHECK_STR_EQ(path, "");

    /* resolve with skip_env ignores MEMORY_*; origins may be NULL. */
    env[0] = "MEMORY_SHORT_TERM_SIZE";
    env[1] = "4";
    ro.skip_env = true;
    CHECK_OK_E(am_memory_config_resolve(&c, &ro, NULL, &err), &err);
    CHECK_EQ(c.short_term_size, 20);
    ro.skip_env = false;
    CHECK_OK_E(am_memory_config_resolve(&c, &ro, &o, &err), &err);
    CHECK_EQ(c.short_term_size, 4);

    /* show: "# file: none" first when no file was read; NULLs refused. */
    CHECK_OK(am_memory_config_show(&c, &o, &out));
    CHECK(strncmp(out.ptr, "# file: none\n", 13) == 0);
    CHECK_ST(am_memory_config_show(NULL, &o, &out), AM_EINVAL);
    CHECK_ST(am_memory_config_show(&c, NULL, &out), AM_EINVAL);
    CHECK_ST(am_memory_config_show(&c, &o, NULL), AM_EINVAL);
    am_buf_free(&out);

    CHECK_STR_EQ(am_compress_strategy_name(AM_COMPRESS_SLIDING_WINDOW),
                 "sliding_window");
    CHECK_STR_EQ(am_compress_strategy_name(AM_COMPRESS_SELECTIVE),
                 "selective");
    CHECK_STR_EQ(am_compress_strategy_name(AM_COMPRESS_DELETION),
                 "deletion");
    CHECK_STR_EQ(am_compress_strategy_name((am_compress_strategy)3), "?");
    CHECK_STR_EQ(am_compress_strategy_name((am_compress_strategy)-1), "?");
}
