/* test_tiers_index.c -- the indexes and search (by type, tag, importance,
 * time, key), and bad input refused without loss. */
#include "tiers_fixture.h"

/* ---- Index and search ---- */

static int count_and_check(am_tiers *t, const am_tier_query *q,
                           am_tier_hits *h)
{
    CHECK_OK_E(am_tiers_search(t, q, h), am_tiers_last_error(t));
    return (int)h->count;
}

AM_TEST(index_queries_by_each_dimension_and_their_intersection)
{
    test_clock clk = { T0 };
    am_tiers *t = search_fixture(&clk, NULL);
    am_tier_hits h = AM_TIER_HITS_INIT;
    am_tier_query q = am_tier_query_default();
    am_str five = AM_STR("five"), all[2] = { AM_STR("all"), AM_STR("five") };
    am_str nosuch = AM_STR("nosuch");

    q.flags = AM_TIER_PEEK;
    CHECK_EQ(count_and_check(t, &q, &h), 300);
    q.type = AM_STR("fact");
    CHECK_EQ(count_and_check(t, &q, &h), 100);
    CHECK_MEM_EQ(h.ids[0].ptr, h.ids[0].len, "i000");
    CHECK_MEM_EQ(h.ids[1].ptr, h.ids[1].len, "i003");
    q.tags = &five;
    q.tag_count = 1;
    CHECK_EQ(count_and_check(t, &q, &h), 20); /* i % 15 == 0 */
    q.type.ptr = NULL;
    q.type.len = 0;
    q.tags = all;
    q.tag_count = 2;
    CHECK_EQ(count_and_check(t, &q, &h), 60);
    q.tags = &nosuch;
    q.tag_count = 1;
    CHECK_EQ(count_and_check(t, &q, &h), 0);
    q.tag_count = 0;
    q.min_importance = 0.7;
    q.max_importance = 1.0;
    CHECK_EQ(count_and_check(t, &q, &h), 90); /* 0.75 0.85 0.95 */
    q.min_importance = 0.3;
    q.max_importance = 0.36;
    CHECK_EQ(count_and_check(t, &q, &h), 30);
    q.min_importance = 0.0;
    q.max_importance = 1.0;
    /* Days: T0's day holds i000..i099. */
    q.created_from_ms = T0 + DAY;
    q.created_to_ms = T0 + 2 * DAY;
    CHECK_EQ(count_and_check(t, &q, &h), 100);
    CHECK_MEM_EQ(h.ids[0].ptr, h.ids[0].len, "i100");
    q.created_from_ms = INT64_MIN;
    q.created_to_ms = INT64_MAX;
    q.recent_days = 1; /* clock is at T0 + 3 days */
    CHECK_EQ(count_and_check(t, &q, &h), 100);
    CHECK_MEM_EQ(h.ids[0].ptr, h.ids[0].len, "i200");
    q.recent_days = 0;
    q.type = AM_STR("event");
    q.min_importance = 0.5;
    q.created_from_ms = T0 + DAY;
    q.limit = 3;
    CHECK_EQ(count_and_check(t, &q, &h), 3);
    CHECK_MEM_EQ(h.ids[0].ptr, h.ids[0].len, "i106");
    /* Custom index. */
    CHECK_OK(am_tiers_add_index(t, "first_word", key_first_word, NULL));
    CHECK_ST(am_tiers_add_index(t, "first_word", key_first_word, NULL),
             AM_EEXIST);
    q = am_tier_query_default();
    q.flags = AM_TIER_PEEK;
    q.index = "first_word";
    q.index_key = AM_STR("odd");
    CHECK_EQ(count_and_check(t, &q, &h), 150);
    q.type = AM_STR("note"); /* i % 3 == 2 and odd */
    CHECK_EQ(count_and_check(t, &q, &h), 50);
    q.index = "missing";
    CHECK_ST(am_tiers_search(t, &q, &h), AM_EINVAL);
    CHECK(strstr(am_tiers_last_error(t)->msg, "missing") != NULL);
    q.index = NULL;
    q.min_importance = 0.9;
    q.max_importance = 0.1;
    CHECK_ST(am_tiers_search(t, &q, &h), AM_EINVAL);
    am_tier_hits_free(&h);
    am_tiers_close(t, NULL);
}

AM_TEST(search_results_count_as_accesses_unless_peek)
{
    test_clock clk = { T0 };
    am_tiers *t = search_fixture(&clk, NULL);
    am_tier_hits h = AM_TIER_HITS_INIT;
    am_tier_query q = am_tier_query_default();
    am_tier_item v = AM_TIER_ITEM_INIT;

    q.type = AM_STR("fact");
    q.limit = 2;
    CHECK_EQ(count_and_check(t, &q, &h), 2);
    CHECK_OK(am_tiers_peek(t, AM_STR("i000"), NULL, &v));
    CHECK_EQ(v.access_count, 1);
    q.flags = AM_TIER_PEEK;
    CHECK_EQ(count_and_check(t, &q, &h), 2);
    CHECK_OK(am_tiers_peek(t, AM_STR("i000"), NULL, &v));
    CHECK_EQ(v.access_count, 1);
    am_tier_hits_free(&h);
    am_tiers_close(t, NULL);
    am_tier_item_free(&v);
}

AM_TEST(deleted_items_leave_the_indexes_even_after_slot_reuse)
{
    test_clock clk = { T0 };
    am_tiers *t = open_t(&clk, 0, 0, 0, NULL);
    am_tier_hits h = AM_TIER_HITS_INIT;
    am_tier_query q = am_tier_query_default();
    char id[16];

    for (int i = 0; i < 10000; i++) {
        am_tier_item_in in = am_tier_item_in_default();
        snprintf(id, sizeof id, "a%d", i);
        in.type = AM_STR("old");
        CHECK_OK(am_tiers_store(t, am_str_c(id), &in));
    }
    for (int i = 0; i < 9000; i++) {
        snprintf(id, sizeof id, "a%d", i);
        CHECK_OK(am_tiers_delete(t, am_str_c(id)));
    }
    CHECK_ST(am_tiers_delete(t, AM_STR("a0")), AM_ENOTFOUND);
    for (int i = 0; i < 9000; i++) { /* reuses the dead slots */
        am_tier_item_in in = am_tier_item_in_default();
        snprintf(id, sizeof id, "b%d", i);
        in.type = am_str_c(i % 2 ? "old" : "new");
        CHECK_OK(am_tiers_store(t, am_str_c(id), &in));
    }
    q.flags = AM_TIER_PEEK;
    q.type = AM_STR("old");
    CHECK_EQ(count_and_check(t, &q, &h), 1000 + 4500);
    q.type = AM_STR("new");
    CHECK_EQ(count_and_check(t, &q, &h), 4500);
    CHECK_EQ(am_tiers_count(t), 10000);
    am_tier_hits_free(&h);
    am_tiers_close(t, NULL);
}

/* ---- Bad input ---- */

AM_TEST(bad_input_is_refused_with_detail_and_loses_nothing)
{
    test_clock clk = { T0 };
    am_tiers *t = open_t(&clk, 100, 1000, 0, NULL);
    am_tier_item_in in = am_tier_item_in_default();
    am_str empty_tag = AM_STR("");
    am_buf out = AM_BUF_INIT;
    am_tiers_opts o = am_tiers_opts_default();
    am_tiers *t2 = NULL;
    am_error err = { AM_OK, "" };

    CHECK_OK(put(t, "keep", "precious", 0.5, AM_TIER_WORKING));
    in.content = AM_STR("new");
    CHECK_ST(am_tiers_store(t, AM_STR(""), &in), AM_EINVAL);
    CHECK(strstr(am_tiers_last_error(t)->msg, "id is empty") != NULL);
    CHECK_ST(am_tiers_store(t, AM_STR("ke\xffp"), &in), AM_EINVAL);
    CHECK(strstr(am_tiers_last_error(t)->msg, "byte 2") != NULL);
    in.importance = 1.5;
    CHECK_ST(am_tiers_store(t, AM_STR("keep"), &in), AM_EINVAL);
    CHECK(strstr(am_tiers_last_error(t)->msg, "importance 1.5") != NULL);
    in.importance = NAN;
    CHECK_ST(am_tiers_store(t, AM_STR("keep"), &in), AM_EINVAL);
    in.importance = 0.5;
    in.tags = &empty_tag;
    in.tag_count = 1;
    CHECK_ST(am_tiers_store(t, AM_STR("keep"), &in), AM_EINVAL);
    CHECK(strstr(am_tiers_last_error(t)->msg, "tag 0") != NULL);
    in.tag_count = 0;
    in.extra = AM_STR("[1,2]");
    CHECK_ST(am_tiers_store(t, AM_STR("keep"), &in), AM_EINVAL);
    CHECK(strstr(am_tiers_last_error(t)->msg, "object") != NULL);
    in.extra = AM_STR("{\"a\":");
    CHECK_ST(am_tiers_store(t, AM_STR("keep"), &in), AM_EINVAL);
    CHECK(strstr(am_tiers_last_error(t)->msg, "extra") != NULL);
    in.extra = AM_STR("");
    in.flags = AM_TIER_JSON;
    in.content = AM_STR("{\"a\" 1}");
    CHECK_ST(am_tiers_store(t, AM_STR("keep"), &in), AM_EINVAL);
    CHECK(strstr(am_tiers_last_error(t)->msg, "column") != NULL);
    in.flags = 0;
    in.tier = (am_tier)7;
    CHECK_ST(am_tiers_store(t, AM_STR("keep"), &in), AM_EINVAL);
    CHECK_ST(am_tiers_store(t, AM_STR("keep"), NULL), AM_EINVAL);
    CHECK_ST(am_tiers_store(NULL, AM_STR("keep"), &in), AM_EINVAL);
    CHECK_OK(am_tiers_peek(t, AM_STR("keep"), &out, NULL));
    CHECK_MEM_EQ(out.ptr, out.len, "precious");
    CHECK_EQ(am_tiers_count(t), 1);
    /* Search ranges: out of [0, 1] and empty are told apart. */
    {
        am_tier_query q = am_tier_query_default();
        am_tier_hits h = AM_TIER_HITS_INIT;
        q.min_importance = 0.9;
        q.max_importance = 0.1;
        CHECK_ST(am_tiers_search(t, &q, &h), AM_EINVAL);
        CHECK(strstr(am_tiers_last_error(t)->msg,
                     "min_importance 0.9 > max_importance 0.1") != NULL);
        q.min_importance = -1.0;
        q.max_importance = 0.5;
        CHECK_ST(am_tiers_search(t, &q, &h), AM_EINVAL);
        CHECK(strstr(am_tiers_last_error(t)->msg, "not inside [0, 1]") !=
              NULL);
        q = am_tier_query_default();
        q.recent_days = -2;
        CHECK_ST(am_tiers_search(t, &q, &h), AM_EINVAL);
        CHECK(strstr(am_tiers_last_error(t)->msg, "recent_days -2") != NULL);
        am_tier_hits_free(&h);
    }
    /* Options. */
    o.capacity[AM_TIER_ARCHIVE] = 5;
    CHECK_ST(am_tiers_open(&o, &t2, &err), AM_EINVAL);
    CHECK(strstr(err.msg, "archive") != NULL);
    o = am_tiers_opts_default();
    o.zstd_level = 99;
    CHECK_ST(am_tiers_open(&o, &t2, &err), AM_EINVAL);
    CHECK(strstr(err.msg, "zstd_level 99") != NULL);
    o = am_tiers_opts_default();
    o.flush_interval_ms = -1;
    CHECK_ST(am_tiers_open(&o, &t2, &err), AM_EINVAL);
    CHECK(strstr(err.msg, "flush_interval_ms -1") != NULL);
    o = am_tiers_opts_default();
    o.capacity[AM_TIER_WORKING] = (size_t)UINT32_MAX + 1;
    CHECK_ST(am_tiers_open(&o, &t2, &err), AM_EINVAL);
    CHECK(strstr(err.msg, "capacity[working]") != NULL);
    o = am_tiers_opts_default();
    o.db_path = "/nonexistent-dir/x.db";
    CHECK_ST(am_tiers_open(&o, &t2, &err), AM_EIO);
    CHECK(strstr(err.msg, "/nonexistent-dir/x.db") != NULL);
    CHECK(t2 == NULL);
    {
        am_tier name;
        CHECK_OK(am_tier_parse(AM_STR("long-term"), &name, NULL));
        CHECK_EQ(name, AM_TIER_LONG_TERM);
        CHECK_ST(am_tier_parse(AM_STR("attic"), &name, NULL), AM_EINVAL);
    }
    am_buf_free(&out);
    am_tiers_close(t, NULL);
    CHECK_OK(am_tiers_close(NULL, NULL));
}

static am_status key_fail_on_bad(void *ctx, const am_tier_item *it,
                                  am_buf *key)
{
    (void)ctx;
    if (it->content.ptr != NULL && it->content.len == 3 &&
        memcmp(it->content.ptr, "bad", 3) == 0)
        return AM_EFORMAT;
    return am_buf_append(key, "k", 1);
}

AM_TEST(a_failing_extractor_rejects_the_store_and_keeps_the_old_item)
{
    test_clock clk = { T0 };
    am_tiers *t = open_t(&clk, 100, 1000, 0, NULL);
    am_buf out = AM_BUF_INIT;
    am_tier_hits h = AM_TIER_HITS_INIT;
    am_tier_query q = am_tier_query_default();
    am_tier_policy p = { "noop", NULL, NULL, AM_TIER_ACT_NONE, NULL };

    CHECK_OK(put(t, "x", "good", 0.5, AM_TIER_WORKING));
    CHECK_OK(am_tiers_add_index(t, "k", key_fail_on_bad, NULL));
    CHECK_ST(put(t, "x", "bad", 0.5, AM_TIER_WORKING), AM_EFORMAT);
    CHECK(strstr(am_tiers_last_error(t)->msg, "index 'k'") != NULL);
    CHECK_ST(put(t, "y", "bad", 0.5, AM_TIER_WORKING), AM_EFORMAT);
    CHECK_OK(am_tiers_peek(t, AM_STR("x"), &out, NULL));
    CHECK_MEM_EQ(out.ptr, out.len, "good");
    CHECK_EQ(am_tiers_count(t), 1);
    q.index = "k";
    q.index_key = AM_STR("k");
    q.flags = AM_TIER_PEEK;
    CHECK_OK(am_tiers_search(t, &q, &h));
    CHECK_EQ(h.count, 1);
    /* More bad arguments. */
    CHECK_ST(am_tiers_add_index(t, "", key_fail_on_bad, NULL), AM_EINVAL);
    CHECK_ST(am_tiers_add_index(t, "z", NULL, NULL), AM_EINVAL);
    q = am_tier_query_default();
    q.tags = NULL;
    q.tag_count = 2;
    CHECK_ST(am_tiers_search(t, &q, &h), AM_EINVAL);
    CHECK(strstr(am_tiers_last_error(t)->msg, "tags") != NULL);
    q.tag_count = 0;
    q.recent_days = -1;
    CHECK_ST(am_tiers_search(t, &q, &h), AM_EINVAL);
    p.condition = cond_type_scratch;
    CHECK_ST(am_tiers_add_policy(t, &p), AM_EINVAL);
    CHECK(strstr(am_tiers_last_error(t)->msg, "no action") != NULL);
    CHECK_ST(am_tiers_retrieve(t, AM_STR(""), NULL, NULL), AM_EINVAL);
    CHECK_ST(am_tiers_archive(t, AM_STR("nope")), AM_ENOTFOUND);
    am_tier_hits_free(&h);
    am_buf_free(&out);
    am_tiers_close(t, NULL);
}


AM_TEST(tier_parse_names_the_unknown_tier_and_names_use_one_rule)
{
    am_tier t = AM_TIER_WORKING;
    am_error err = { AM_OK, "" };
    CHECK_ST(am_tier_parse(AM_STR("attic"), &t, &err), AM_EINVAL);
    CHECK(strstr(err.msg, "'attic'") != NULL);
    CHECK_EQ(t, AM_TIER_WORKING);
    CHECK_OK(am_tier_parse(AM_STR("short_term"), &t, &err));
    CHECK_EQ(t, AM_TIER_SHORT_TERM);
    CHECK_STR_EQ(am_tier_name((am_tier)99), "?");
    CHECK_STR_EQ(am_tier_reason_name((am_tier_reason)99), "?");
}
