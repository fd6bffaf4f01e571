/* test_tiers_promises.c -- the small promises of tiers.h that the other
 * tiers suites do not hold: every default and option limit, the names,
 * the id and tag limits, what retrieve, peek, describe, archive and
 * restore promise at their edges, the retention formula, index and policy
 * names, the policy run's arguments and the cleanup ranges. Time is a
 * test clock; nothing is timed. */
#include "tiers_fixture.h"

/* ---- Defaults and option limits ---- */

AM_TEST(defaults_and_option_limits_are_what_the_header_says)
{
    am_tiers_opts o = am_tiers_opts_default();
    am_tier_item_in in = am_tier_item_in_default();
    am_tier_query q = am_tier_query_default();
    am_tier_stats st[AM_TIER_COUNT];
    am_tiers *t = NULL;
    am_error err = { AM_OK, "" };

    CHECK(o.alloc == NULL && o.clock == NULL && o.db_path == NULL &&
          o.progress == NULL && o.progress_ctx == NULL);
    CHECK_EQ(o.capacity[AM_TIER_WORKING], 100);
    CHECK_EQ(o.capacity[AM_TIER_SHORT_TERM], 1000);
    CHECK_EQ(o.capacity[AM_TIER_LONG_TERM], 0);
    CHECK_EQ(o.capacity[AM_TIER_ARCHIVE], 0);
    CHECK_EQ(o.flush_interval_ms, 1000);
    CHECK_EQ(o.flush_max_dirty, 10000);
    CHECK_EQ(o.busy_timeout_ms, 5000);
    CHECK_EQ(o.zstd_level, -1);
    CHECK_EQ(o.move_log_cap, 4096);
    CHECK_EQ(o.move_log_keep, 100000);
    CHECK_EQ(o.move_log_keep_days, 90);
    CHECK_EQ(o.archive_step_bytes, (size_t)32 << 20);
    CHECK_EQ(o.threads, 0);
    CHECK(o.default_policies);
    CHECK_EQ(o.key.len, 0);

    CHECK_EQ(in.content.len, 0);
    CHECK_EQ(in.flags, 0);
    CHECK(in.importance == 0.5);
    CHECK_EQ(in.tier, AM_TIER_WORKING);
    CHECK(in.tags == NULL && in.tag_count == 0);
    CHECK_EQ(in.extra.len, 0);

    CHECK(q.type.ptr == NULL && q.tags == NULL && q.tag_count == 0 &&
          q.index == NULL);
    CHECK(q.min_importance == 0 && q.max_importance == 1);
    CHECK(q.created_from_ms == INT64_MIN && q.created_to_ms == INT64_MAX);
    CHECK_EQ(q.recent_days, 0);
    CHECK_EQ(q.tier_mask, 0xfu);
    CHECK_EQ(q.limit, 0);
    CHECK_EQ(q.flags, 0);

    /* NULL options are the defaults. */
    CHECK_OK(am_tiers_open(NULL, &t, &err));
    CHECK_OK(am_tiers_stats(t, st));
    CHECK_EQ(st[AM_TIER_WORKING].capacity, 100);
    CHECK_EQ(st[AM_TIER_SHORT_TERM].capacity, 1000);
    /* A fresh handle has no last error; without a database a flush has
     * nothing to do. */
    CHECK_EQ(am_tiers_last_error(t)->code, AM_OK);
    CHECK_STR_EQ(am_tiers_last_error(t)->msg, "");
    CHECK_OK(am_tiers_flush(t));
    CHECK_OK(am_tiers_close(t, NULL));

    /* The limits, at both edges. */
    t = (am_tiers *)&o;
    o.zstd_level = -7;
    CHECK_OK(am_tiers_open(&o, &t, &err));
    am_tiers_close(t, NULL);
    o.zstd_level = 19;
    CHECK_OK(am_tiers_open(&o, &t, &err));
    am_tiers_close(t, NULL);
    for (int bad = 0; bad < 3; bad++) {
        o.zstd_level = bad == 0 ? -8 : bad == 1 ? 0 : 20;
        CHECK_ST(am_tiers_open(&o, &t, &err), AM_EINVAL);
        CHECK(t == NULL);
        CHECK(strstr(err.msg, "zstd_level") != NULL);
    }
    o = am_tiers_opts_default();
    o.busy_timeout_ms = -1;
    CHECK_ST(am_tiers_open(&o, &t, &err), AM_EINVAL);
    CHECK(strstr(err.msg, "busy_timeout_ms -1") != NULL);
    o = am_tiers_opts_default();
    o.move_log_keep = 0;
    CHECK_ST(am_tiers_open(&o, &t, &err), AM_EINVAL);
    CHECK(strstr(err.msg, "move_log_keep") != NULL);
    o = am_tiers_opts_default();
    o.move_log_keep_days = -1;
    CHECK_ST(am_tiers_open(&o, &t, &err), AM_EINVAL);
    CHECK(strstr(err.msg, "move_log_keep_days -1") != NULL);
    o = am_tiers_opts_default();
    o.key = AM_STR("secret");
    CHECK_ST(am_tiers_open(&o, &t, &err), AM_EINVAL);
    CHECK(strstr(err.msg, "without db_path") != NULL);
    CHECK_ST(am_tiers_open(NULL, NULL, &err), AM_EINVAL);
}

/* ---- Names ---- */

AM_TEST(every_tier_and_reason_has_its_name_and_names_parse_back)
{
    static const char *const tiers[] = { "working", "short_term",
                                         "long_term", "archive" };
    static const char *const reasons[] = { "promotion", "capacity", "idle",
                                           "archive", "restore", "policy" };
    am_tier t;

    for (int i = 0; i < AM_TIER_COUNT; i++) {
        CHECK_STR_EQ(am_tier_name((am_tier)i), tiers[i]);
        t = (am_tier)((i + 1) % AM_TIER_COUNT);
        CHECK_OK(am_tier_parse(am_str_c(tiers[i]), &t, NULL));
        CHECK_EQ(t, i);
    }
    CHECK_STR_EQ(am_tier_name((am_tier)-1), "?");
    for (int i = 0; i < 6; i++)
        CHECK_STR_EQ(am_tier_reason_name((am_tier_reason)i), reasons[i]);
    CHECK_STR_EQ(am_tier_reason_name((am_tier_reason)6), "?");
    CHECK_OK(am_tier_parse(AM_STR("short-term"), &t, NULL));
    CHECK_EQ(t, AM_TIER_SHORT_TERM);
    CHECK_ST(am_tier_parse(AM_STR(""), &t, NULL), AM_EINVAL);
    CHECK_ST(am_tier_parse(AM_STR("Working"), &t, NULL), AM_EINVAL);
    CHECK_EQ(t, AM_TIER_SHORT_TERM);
}

/* ---- Store: ids, tags, type ---- */

AM_TEST(ids_and_tags_are_refused_past_their_limits)
{
    test_clock clk = { T0 };
    am_tiers *t = open_t(&clk, 0, 0, 0, NULL);
    am_tier_item_in in = am_tier_item_in_default();
    am_tier_item v = AM_TIER_ITEM_INIT;
    char *id = malloc(65537);
    am_str tags[256];
    char names[256][8];

    /* 1..65535 bytes. */
    memset(id, 'i', 65536);
    id[65536] = '\0';
    in.content = AM_STR("c");
    CHECK_OK(am_tiers_store(t, (am_str){ id, 65535 }, &in));
    CHECK_ST(am_tiers_store(t, (am_str){ id, 65536 }, &in), AM_EINVAL);
    CHECK_OK(am_tiers_peek(t, (am_str){ id, 65535 }, NULL, &v));
    CHECK_EQ(v.id.len, 65535);
    /* No NUL inside. */
    CHECK_ST(am_tiers_store(t, (am_str){ "a\0b", 3 }, &in), AM_EINVAL);
    CHECK_EQ(am_tiers_count(t), 1);

    /* At most 255 tags; duplicates dropped; type "unknown" by default. */
    for (int i = 0; i < 256; i++) {
        snprintf(names[i], sizeof names[i], "t%d", i);
        tags[i] = am_str_c(names[i]);
    }
    in.tags = tags;
    in.tag_count = 256;
    CHECK_ST(am_tiers_store(t, AM_STR("many"), &in), AM_EINVAL);
    CHECK(strstr(am_tiers_last_error(t)->msg, "tag") != NULL);
    in.tag_count = 255;
    CHECK_OK(am_tiers_store(t, AM_STR("many"), &in));
    CHECK_OK(am_tiers_peek(t, AM_STR("many"), NULL, &v));
    CHECK_EQ(v.tag_count, 255);
    CHECK_MEM_EQ(v.type.ptr, v.type.len, "unknown");
    CHECK_EQ(v.extra.len, 0);
    tags[1] = tags[0];
    tags[2] = tags[0];
    in.tag_count = 3;
    CHECK_OK(am_tiers_store(t, AM_STR("dups"), &in));
    CHECK_OK(am_tiers_peek(t, AM_STR("dups"), NULL, &v));
    CHECK_EQ(v.tag_count, 1);
    CHECK_MEM_EQ(v.tags[0].ptr, v.tags[0].len, "t0");

    /* A type and each tag are at most 255 bytes, extra at most 1 MiB. */
    {
        char *big = malloc((1u << 20) + 3);
        am_str one;
        memset(big, 'x', (1u << 20) + 3);
        in.tag_count = 0;
        in.type = (am_str){ big, 256 };
        CHECK_ST(am_tiers_store(t, AM_STR("long"), &in), AM_EINVAL);
        CHECK(strstr(am_tiers_last_error(t)->msg, "type") != NULL);
        in.type = (am_str){ big, 255 };
        CHECK_OK(am_tiers_store(t, AM_STR("long"), &in));
        in.type = (am_str){ NULL, 0 };
        one = (am_str){ big, 256 };
        in.tags = &one;
        in.tag_count = 1;
        CHECK_ST(am_tiers_store(t, AM_STR("long"), &in), AM_EINVAL);
        CHECK(strstr(am_tiers_last_error(t)->msg, "tag 0") != NULL);
        one.len = 255;
        CHECK_OK(am_tiers_store(t, AM_STR("long"), &in));
        in.tag_count = 0;
        big[0] = '{';
        big[1] = '}';
        memset(big + 2, ' ', (1u << 20) - 2);
        in.extra = (am_str){ big, (1u << 20) + 1 };
        CHECK_ST(am_tiers_store(t, AM_STR("long"), &in), AM_EINVAL);
        CHECK(strstr(am_tiers_last_error(t)->msg, "extra") != NULL);
        in.extra = (am_str){ big, 1u << 20 };
        CHECK_OK(am_tiers_store(t, AM_STR("long"), &in));
        in.extra = (am_str){ NULL, 0 };
        in.tags = tags;
        free(big);
    }

    /* Importance 0 and 1 are inside; store_read wants its info. */
    in.tag_count = 0;
    in.importance = 0;
    CHECK_OK(am_tiers_store(t, AM_STR("zero"), &in));
    in.importance = 1;
    CHECK_OK(am_tiers_store(t, AM_STR("one"), &in));
    CHECK_ST(am_tiers_store_read(t, AM_STR("x"), &in, NULL), AM_EINVAL);
    CHECK(strstr(am_tiers_last_error(t)->msg, "info") != NULL);

    am_tier_item_free(&v);
    am_tier_item_free(&v); /* reset to INIT: freeing again is fine */
    am_tier_item_free(NULL);
    free(id);
    am_tiers_close(t, NULL);
}

/* ---- Retrieve, peek, describe, archive, restore ---- */

AM_TEST(retrieve_peek_and_describe_keep_their_edge_promises)
{
    test_clock clk = { T0 };
    am_tiers *t = open_t(&clk, 0, 0, 0, NULL);
    am_tier_item_in in = am_tier_item_in_default();
    am_tier_item v = AM_TIER_ITEM_INIT;
    am_buf out = AM_BUF_INIT;
    am_str tags[2] = { AM_STR("a"), AM_STR("b") };
    static const char *const fields[] = {
        "\"id\":", "\"tier\":", "\"created_ms\":", "\"accessed_ms\":",
        "\"access_count\":", "\"importance\":", "\"type\":", "\"tags\":",
        "\"extra\":", "\"content_len\":", "\"json\":"
    };

    in.content = AM_STR("{\"k\":1}");
    in.flags = AM_TIER_JSON;
    in.tags = tags;
    in.tag_count = 2;
    in.tier = AM_TIER_LONG_TERM;
    CHECK_OK(am_tiers_store(t, AM_STR("x"), &in));

    /* accessed_ms is the creation time until the first access. */
    clk.now_ms += HOUR;
    CHECK_OK(am_tiers_peek(t, AM_STR("x"), NULL, &v));
    CHECK_EQ(v.accessed_ms, T0);
    CHECK_EQ(v.created_ms, T0);
    CHECK_EQ(v.access_count, 0);
    CHECK_EQ(v.flags, AM_TIER_JSON);

    /* Retrieve with neither output still records the access. */
    CHECK_OK(am_tiers_retrieve(t, AM_STR("x"), NULL, NULL));
    CHECK_OK(am_tiers_peek(t, AM_STR("x"), NULL, &v));
    CHECK_EQ(v.access_count, 1);
    CHECK_EQ(v.accessed_ms, T0 + HOUR);
    /* With only info: the content is in info's own storage. */
    CHECK_OK(am_tiers_retrieve(t, AM_STR("x"), NULL, &v));
    CHECK_MEM_EQ(v.content.ptr, v.content.len, "{\"k\":1}");

    /* Describe appends one object with every named field and records no
     * access. */
    CHECK_OK(am_buf_append(&out, "before ", 7));
    CHECK_OK(am_tiers_describe(t, AM_STR("x"), &out));
    CHECK_EQ(strncmp(out.ptr, "before {", 8), 0);
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
        CHECK(strstr(out.ptr, fields[i]) != NULL);
    CHECK(strstr(out.ptr, "\"tier\":\"long_term\"") != NULL);
    CHECK_OK(am_tiers_peek(t, AM_STR("x"), NULL, &v));
    CHECK_EQ(v.access_count, 2);
    CHECK_ST(am_tiers_describe(t, AM_STR("nope"), &out), AM_ENOTFOUND);
    CHECK_ST(am_tiers_peek(t, AM_STR("nope"), NULL, &v), AM_ENOTFOUND);
    CHECK_ST(am_tiers_delete(t, AM_STR("nope")), AM_ENOTFOUND);

    am_buf_free(&out);
    am_tier_item_free(&v);
    am_tiers_close(t, NULL);
}

AM_TEST(archive_twice_is_fine_and_restore_keeps_the_statistics)
{
    test_clock clk = { T0 };
    am_tiers *t = open_t(&clk, 0, 0, 0, NULL);
    am_tier_item v = AM_TIER_ITEM_INIT;
    am_buf out = AM_BUF_INIT;
    am_tier_item_in in = am_tier_item_in_default();
    am_tier_stats st[AM_TIER_COUNT];

    CHECK_OK(put(t, "x", "some content", 0.4, AM_TIER_LONG_TERM));
    CHECK_ST(am_tiers_restore(t, AM_STR("x")), AM_ESTATE);
    CHECK_ST(am_tiers_restore(t, AM_STR("nope")), AM_ENOTFOUND);
    clk.now_ms += HOUR;
    CHECK_OK(am_tiers_retrieve(t, AM_STR("x"), NULL, NULL));
    CHECK_OK(am_tiers_archive(t, AM_STR("x")));
    CHECK_OK(am_tiers_archive(t, AM_STR("x"))); /* already archived */
    CHECK_OK(am_tiers_peek(t, AM_STR("x"), NULL, &v));
    CHECK_EQ(v.tier, AM_TIER_ARCHIVE);
    CHECK(v.content.ptr == NULL);
    CHECK_EQ(v.content_len, 12);
    /* A peek with a content buffer gets the bytes back. */
    CHECK_OK(am_tiers_peek(t, AM_STR("x"), &out, NULL));
    CHECK_MEM_EQ(out.ptr, out.len, "some content");

    clk.now_ms += HOUR;
    CHECK_OK(am_tiers_restore(t, AM_STR("x")));
    CHECK_OK(am_tiers_peek(t, AM_STR("x"), NULL, &v));
    CHECK_EQ(v.tier, AM_TIER_SHORT_TERM);
    CHECK_EQ(v.access_count, 1);
    CHECK_EQ(v.accessed_ms, T0 + HOUR);
    CHECK(v.importance == 0.4);
    CHECK_MEM_EQ(v.content.ptr, v.content.len, "some content");

    /* Storing into the archive compresses at once (nothing deferred). */
    in.content = AM_STR("straight to the archive");
    in.tier = AM_TIER_ARCHIVE;
    CHECK_OK(am_tiers_store(t, AM_STR("y"), &in));
    CHECK_OK(am_tiers_stats(t, st));
    CHECK_EQ(st[AM_TIER_ARCHIVE].count, 1);
    CHECK_EQ(st[AM_TIER_ARCHIVE].uncompressed, 0);
    am_buf_free(&out);
    am_tier_item_free(&v);
    am_tiers_close(t, NULL);
}

/* ---- Retention score, moves, stats ---- */

AM_TEST(retention_score_is_the_formula_of_the_header)
{
    am_tier_item it = AM_TIER_ITEM_INIT;
    int64_t now = T0 + 48 * HOUR;
    double want;

    it.importance = 0.5;
    it.accessed_ms = T0;
    it.access_count = 4;
    /* h = 48: 0.5 + 0.3 / 3 + min(0.2 * 4 / 48, 0.3). */
    want = 0.5 + 0.3 / 3 + 0.2 * 4 / 48;
    CHECK(fabs(am_tiers_retention_score(&it, now) - want) < 1e-12);
    /* h under an hour: max(1, h) = 1, and the frequency part caps at 0.3. */
    it.accessed_ms = now - HOUR / 2;
    it.access_count = 10;
    want = 0.5 + 0.3 / (1 + 0.5 / 24) + 0.3;
    CHECK(fabs(am_tiers_retention_score(&it, now) - want) < 1e-12);
    /* h = 2, one access: 0.2 * 1 / 2 = 0.1, under the cap. */
    it.accessed_ms = now - 2 * HOUR;
    it.access_count = 1;
    want = 0.5 + 0.3 / (1 + 2.0 / 24) + 0.1;
    CHECK(fabs(am_tiers_retention_score(&it, now) - want) < 1e-12);
}

static void count_moves(void *ctx, const am_tier_move *m)
{
    (void)m;
    ++*(int *)ctx;
}

AM_TEST(moves_and_stats_of_empty_and_unbounded_tiers)
{
    test_clock clk = { T0 };
    am_tiers *t = open_t(&clk, 0, 0, 0, NULL);
    am_tier_stats st[AM_TIER_COUNT];
    uint64_t total = 99;
    int seen = 0;

    CHECK_OK(am_tiers_stats(t, st));
    for (int i = 0; i < AM_TIER_COUNT; i++) {
        CHECK_EQ(st[i].count, 0);
        CHECK_EQ(st[i].capacity, 0);
        CHECK(st[i].utilization == 0);
        CHECK(st[i].avg_importance == 0 && st[i].avg_age_hours == 0);
    }
    CHECK_OK(am_tiers_moves(t, 10, count_moves, &seen, &total));
    CHECK_EQ(total, 0);
    CHECK_EQ(seen, 0);

    CHECK_OK(put(t, "x", "c", 0.9, AM_TIER_LONG_TERM));
    CHECK_OK(am_tiers_archive(t, AM_STR("x")));
    CHECK_OK(am_tiers_restore(t, AM_STR("x")));
    /* Unbounded: utilization stays 0 however full. */
    CHECK_OK(am_tiers_stats(t, st));
    CHECK_EQ(st[AM_TIER_SHORT_TERM].count, 1);
    CHECK(st[AM_TIER_SHORT_TERM].utilization == 0);
    /* total may be NULL; last_n 0 calls nothing; a larger last_n gives
     * what there is. */
    CHECK_OK(am_tiers_moves(t, 0, count_moves, &seen, NULL));
    CHECK_EQ(seen, 0);
    CHECK_OK(am_tiers_moves(t, 1000, count_moves, &seen, &total));
    CHECK_EQ(seen, 2);
    CHECK_EQ(total, 2);
    am_tiers_close(t, NULL);
}

/* ---- Indexes, search, policies ---- */

static am_status key_const(void *ctx, const am_tier_item *it, am_buf *key)
{
    (void)ctx;
    /* A view: the storage fields are empty. */
    if (it->text.ptr != NULL || it->tag_store != NULL)
        return AM_EFORMAT;
    return am_buf_append(key, "k", 1);
}

AM_TEST(index_names_search_masks_and_limits)
{
    test_clock clk = { T0 };
    am_tiers *t = open_t(&clk, 0, 0, 0, NULL);
    am_tier_query q = am_tier_query_default();
    am_tier_hits h = AM_TIER_HITS_INIT;
    char name[66];
    am_str tags[65];

    memset(name, 'n', 65);
    name[65] = '\0';
    CHECK_ST(am_tiers_add_index(t, name, key_const, NULL), AM_EINVAL);
    name[64] = '\0';
    CHECK_OK(am_tiers_add_index(t, name, key_const, NULL));
    CHECK_ST(am_tiers_add_index(t, name, key_const, NULL), AM_EEXIST);

    CHECK_OK(put(t, "w", "c", 0.5, AM_TIER_WORKING));
    CHECK_OK(put(t, "s", "c", 0.5, AM_TIER_SHORT_TERM));
    CHECK_OK(put(t, "l", "c", 0.5, AM_TIER_LONG_TERM));
    clk.now_ms += 1;
    CHECK_OK(put(t, "later", "c", 0.5, AM_TIER_LONG_TERM));

    q.flags = AM_TIER_PEEK;
    q.tier_mask = 1u << AM_TIER_SHORT_TERM | 1u << AM_TIER_LONG_TERM;
    CHECK_OK(am_tiers_search(t, &q, &h));
    CHECK_EQ(h.count, 3);
    q.limit = 2;
    CHECK_OK(am_tiers_search(t, &q, &h));
    CHECK_EQ(h.count, 2);
    /* The creation window: from inclusive, to exclusive. */
    q = am_tier_query_default();
    q.flags = AM_TIER_PEEK;
    q.created_from_ms = T0;
    q.created_to_ms = T0 + 1;
    CHECK_OK(am_tiers_search(t, &q, &h));
    CHECK_EQ(h.count, 3);
    q.created_from_ms = T0 + 1;
    q.created_to_ms = T0 + 2;
    CHECK_OK(am_tiers_search(t, &q, &h));
    CHECK_EQ(h.count, 1);
    CHECK_MEM_EQ(h.ids[0].ptr, h.ids[0].len, "later");
    /* The custom index, then one that does not exist. */
    q = am_tier_query_default();
    q.flags = AM_TIER_PEEK;
    q.index = name;
    q.index_key = AM_STR("k");
    CHECK_OK(am_tiers_search(t, &q, &h));
    CHECK_EQ(h.count, 4);
    q.index = "missing";
    CHECK_ST(am_tiers_search(t, &q, &h), AM_EINVAL);
    CHECK(strstr(am_tiers_last_error(t)->msg, "missing") != NULL);
    /* At most 64 tags in a query, and no unknown flags. */
    q = am_tier_query_default();
    for (int i = 0; i < 65; i++)
        tags[i] = AM_STR("x");
    q.tags = tags;
    q.tag_count = 65;
    CHECK_ST(am_tiers_search(t, &q, &h), AM_EINVAL);
    q.tag_count = 64;
    CHECK_OK(am_tiers_search(t, &q, &h));
    CHECK_EQ(h.count, 0);
    q.tag_count = 0;
    q.flags = 1u << 5;
    CHECK_ST(am_tiers_search(t, &q, &h), AM_EINVAL);

    am_tier_hits_free(&h);
    am_tier_hits_free(NULL);
    am_tiers_close(t, NULL);
}

static bool always(void *ctx, const am_tier_item *it, int64_t now)
{
    (void)ctx, (void)it, (void)now;
    return true;
}

static am_tier_action bogus_action(void *ctx, const am_tier_item *it,
                                   int64_t now)
{
    (void)ctx, (void)it, (void)now;
    return (am_tier_action)42;
}

AM_TEST(policy_names_arguments_and_the_promote_action)
{
    test_clock clk = { T0 };
    am_tiers *t = open_t(&clk, 0, 0, 0, NULL);
    am_tier_policy p = { "up", always, NULL, AM_TIER_ACT_PROMOTE, NULL };
    am_tier_policy_count counts[2];
    size_t n = 0;
    char name[66];

    CHECK_OK(put(t, "x", "c", 0.5, AM_TIER_LONG_TERM));
    /* A default policy's name is taken; names are 1..64 bytes; a
     * condition is required. */
    p.name = "refresh_important";
    CHECK_ST(am_tiers_add_policy(t, &p), AM_EEXIST);
    memset(name, 'p', 65);
    name[65] = '\0';
    p.name = name;
    CHECK_ST(am_tiers_add_policy(t, &p), AM_EINVAL);
    p.name = "";
    CHECK_ST(am_tiers_add_policy(t, &p), AM_EINVAL);
    name[64] = '\0';
    p.name = name;
    p.condition = NULL;
    CHECK_ST(am_tiers_add_policy(t, &p), AM_EINVAL);
    p.condition = always;
    CHECK_OK(am_tiers_add_policy(t, &p)); /* the 4th policy */

    /* out NULL with cap > 0 is refused; counts beyond cap are not
     * written; *count is the number of policies. */
    CHECK_ST(am_tiers_apply_policies(t, NULL, 1, NULL), AM_EINVAL);
    counts[1].acted = 777;
    CHECK_OK(am_tiers_apply_policies(t, counts, 1, &n));
    CHECK_EQ(n, 4);
    CHECK_STR_EQ(counts[0].name, "archive_old_low_importance");
    CHECK_EQ(counts[1].acted, 777);
    CHECK_EQ(tier_of(t, "x"), AM_TIER_SHORT_TERM); /* promoted */
    CHECK_OK(am_tiers_apply_policies(t, NULL, 0, NULL));
    CHECK_EQ(tier_of(t, "x"), AM_TIER_WORKING);

    /* An action that is not an am_tier_action. */
    p.name = "bogus";
    p.action = bogus_action;
    CHECK_OK(am_tiers_add_policy(t, &p));
    CHECK_ST(am_tiers_apply_policies(t, NULL, 0, NULL), AM_EINVAL);
    am_tiers_close(t, NULL);
}

AM_TEST(cleanup_ranges_and_null_outputs)
{
    test_clock clk = { T0 };
    am_tiers *t = open_t(&clk, 0, 0, 0, NULL);
    size_t left = 99;

    CHECK_OK(put(t, "x", "c", 0.5, AM_TIER_WORKING));
    CHECK_ST(am_tiers_cleanup_old_items(t, -1, NULL), AM_EINVAL);
    CHECK_ST(am_tiers_cleanup_old_items(t, 1000001, NULL), AM_EINVAL);
    CHECK_OK(am_tiers_cleanup_old_items(t, 1000000, NULL));
    CHECK_OK(am_tiers_cleanup_old_items(t, 0, NULL)); /* not older */
    CHECK_EQ(am_tiers_count(t), 1);
    CHECK_ST(am_tiers_cleanup_older_than(t, -1, NULL), AM_EINVAL);
    CHECK_ST(am_tiers_cleanup_older_than(t, 1000001 * DAY, NULL),
             AM_EINVAL);
    CHECK_OK(am_tiers_cleanup_older_than(t, 1000000 * DAY, NULL));
    clk.now_ms += 2;
    CHECK_OK(am_tiers_cleanup_older_than(t, 1, NULL));
    CHECK_EQ(am_tiers_count(t), 0);

    /* Outputs that may be NULL. */
    CHECK_OK(am_tiers_optimize(t, NULL));
    CHECK_OK(am_tiers_compact(t, 0, NULL));
    CHECK_OK(am_tiers_compact(t, 0, &left));
    CHECK_EQ(left, 0);
    CHECK_OK(am_tiers_maintain(t, NULL, NULL, 0, NULL));
    am_tiers_close(t, NULL);
}
