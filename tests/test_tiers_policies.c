/* test_tiers_policies.c -- the lifecycle policies: the defaults and the
 * user's, in order, with their counts. */
#include "tiers_fixture.h"

/* ---- Policies ---- */

AM_TEST(default_policies_archive_delete_and_refresh)
{
    test_clock clk = { T0 };
    am_tiers *t = open_t(&clk, 100, 1000, 0, NULL);
    am_tier_policy_count pc[8];
    size_t n = 0;
    am_tier_item v = AM_TIER_ITEM_INIT;

    CHECK_OK(put(t, "low", "low importance", 0.2, AM_TIER_LONG_TERM));
    CHECK_OK(put(t, "mid", "mid importance", 0.5, AM_TIER_LONG_TERM));
    CHECK_OK(put(t, "high", "high importance", 0.9, AM_TIER_LONG_TERM));
    CHECK_OK(put(t, "old_arch", "ancient", 0.5, AM_TIER_ARCHIVE));
    clk.now_ms += 8 * DAY;
    CHECK_OK(am_tiers_apply_policies(t, pc, 8, &n));
    CHECK_EQ(n, 3);
    CHECK_STR_EQ(pc[0].name, "archive_old_low_importance");
    CHECK_EQ(pc[0].acted, 0);
    CHECK_EQ(pc[1].acted, 0);
    CHECK_STR_EQ(pc[2].name, "refresh_important");
    CHECK_EQ(pc[2].acted, 1);
    CHECK_OK(am_tiers_peek(t, AM_STR("high"), NULL, &v));
    CHECK_EQ(v.accessed_ms, clk.now_ms);
    CHECK_EQ(v.access_count, 1);
    CHECK_EQ(v.tier, AM_TIER_LONG_TERM);

    clk.now_ms = T0 + 31 * DAY; /* 30 full days is not "more than 30" */
    CHECK_OK(am_tiers_apply_policies(t, pc, 8, &n));
    CHECK_EQ(pc[0].acted, 1);
    CHECK_EQ(tier_of(t, "low"), AM_TIER_ARCHIVE);
    CHECK_EQ(tier_of(t, "mid"), AM_TIER_LONG_TERM);
    CHECK_EQ(pc[2].acted, 1); /* high again: 23 days since refresh */

    clk.now_ms = T0 + 366 * DAY;
    CHECK_OK(am_tiers_apply_policies(t, pc, 8, &n));
    CHECK_EQ(pc[0].acted, 0);  /* low already archived, mid not < 0.3 */
    CHECK_EQ(pc[1].acted, 2);  /* low and old_arch */
    CHECK_ST(am_tiers_peek(t, AM_STR("old_arch"), NULL, NULL), AM_ENOTFOUND);
    CHECK_ST(am_tiers_peek(t, AM_STR("low"), NULL, NULL), AM_ENOTFOUND);
    CHECK_EQ(am_tiers_count(t), 2);
    am_tiers_close(t, NULL);
    am_tier_item_free(&v);
}


AM_TEST(an_item_archived_in_a_run_is_not_deleted_in_that_run)
{
    test_clock clk = { T0 };
    am_tiers *t = open_t(&clk, 100, 1000, 0, NULL);
    am_tier_policy_count pc[8];
    size_t n = 0;

    /* Idle, unimportant and old: both default conditions hold at once
     * once it is archived. */
    CHECK_OK(put(t, "low", "low importance", 0.2, AM_TIER_LONG_TERM));
    clk.now_ms = T0 + 400 * DAY;
    CHECK_OK(am_tiers_apply_policies(t, pc, 8, &n));
    CHECK_EQ(pc[0].acted, 1);
    CHECK_EQ(pc[1].acted, 0);
    CHECK_EQ(tier_of(t, "low"), AM_TIER_ARCHIVE);
    /* Restorable until a later run deletes it. */
    CHECK_OK(am_tiers_restore(t, AM_STR("low")));
    CHECK_OK(am_tiers_archive(t, AM_STR("low")));
    CHECK_OK(am_tiers_apply_policies(t, pc, 8, &n));
    CHECK_EQ(pc[1].acted, 1);
    CHECK_ST(am_tiers_peek(t, AM_STR("low"), NULL, NULL), AM_ENOTFOUND);
    am_tiers_close(t, NULL);
}

AM_TEST(cleanup_old_items_deletes_by_age_in_every_tier)
{
    test_clock clk = { T0 };
    am_tiers *t = open_t(&clk, 100, 1000, 0, NULL);
    size_t n = 99;

    CHECK_OK(put(t, "old_w", "old working", 0.9, AM_TIER_WORKING));
    CHECK_OK(put(t, "old_a", "old archived", 0.9, AM_TIER_ARCHIVE));
    clk.now_ms = T0 + 20 * DAY;
    CHECK_OK(put(t, "new", "new", 0.9, AM_TIER_LONG_TERM));
    clk.now_ms = T0 + 40 * DAY;
    CHECK_OK(am_tiers_cleanup_old_items(t, 30, &n));
    CHECK_EQ(n, 2);
    CHECK_ST(am_tiers_peek(t, AM_STR("old_w"), NULL, NULL), AM_ENOTFOUND);
    CHECK_ST(am_tiers_peek(t, AM_STR("old_a"), NULL, NULL), AM_ENOTFOUND);
    CHECK_OK(am_tiers_peek(t, AM_STR("new"), NULL, NULL));
    CHECK_OK(am_tiers_cleanup_old_items(t, 30, &n));
    CHECK_EQ(n, 0);
    CHECK_ST(am_tiers_cleanup_old_items(t, -1, &n), AM_EINVAL);
    CHECK(strstr(am_tiers_last_error(t)->msg, "days -1") != NULL);
    am_tiers_close(t, NULL);
}

AM_TEST(cleanup_older_than_takes_an_age_in_ms)
{
    test_clock clk = { T0 };
    am_tiers *t = open_t(&clk, 100, 1000, 0, NULL);
    size_t n = 99;

    CHECK_OK(put(t, "a", "three hours old", 0.5, AM_TIER_WORKING));
    clk.now_ms = T0 + 2 * 3600000;
    CHECK_OK(put(t, "b", "one hour old", 0.5, AM_TIER_ARCHIVE));
    clk.now_ms = T0 + 3 * 3600000;
    /* Exactly three hours old is not older than three hours. */
    CHECK_OK(am_tiers_cleanup_older_than(t, 3 * 3600000, &n));
    CHECK_EQ(n, 0);
    CHECK_OK(am_tiers_cleanup_older_than(t, 2 * 3600000, &n));
    CHECK_EQ(n, 1);
    CHECK_ST(am_tiers_peek(t, AM_STR("a"), NULL, NULL), AM_ENOTFOUND);
    CHECK_OK(am_tiers_peek(t, AM_STR("b"), NULL, NULL));
    CHECK_OK(am_tiers_cleanup_older_than(t, 0, &n));
    CHECK_EQ(n, 1);
    CHECK_ST(am_tiers_cleanup_older_than(t, -1, &n), AM_EINVAL);
    CHECK(strstr(am_tiers_last_error(t)->msg, "age -1 ms") != NULL);
    CHECK_ST(am_tiers_cleanup_older_than(t, INT64_MAX, &n), AM_EINVAL);
    CHECK_EQ(n, 0);
    CHECK_ST(am_tiers_cleanup_older_than(NULL, 0, &n), AM_EINVAL);
    am_tiers_close(t, NULL);
}

static am_tier_action act_demote_unless_tagged(void *ctx,
                                               const am_tier_item *it,
                                               int64_t now)
{
    (void)ctx;
    (void)now;
    return it->tag_count > 0 ? AM_TIER_ACT_NONE : AM_TIER_ACT_DEMOTE;
}

AM_TEST(user_policies_run_after_the_defaults_with_their_counts)
{
    test_clock clk = { T0 };
    am_tiers *t = open_t(&clk, 100, 1000, 0, NULL);
    int calls = 0;
    am_tier_policy p = { "demote_scratch", cond_type_scratch,
                         act_demote_unless_tagged, AM_TIER_ACT_NONE,
                         &calls };
    am_tier_policy bad = p;
    am_tier_policy_count pc[4];
    size_t n;
    am_tier_item_in in = am_tier_item_in_default();
    am_str tag = AM_STR("keep");

    in.type = AM_STR("scratch");
    CHECK_OK(am_tiers_store(t, AM_STR("s1"), &in));
    CHECK_OK(am_tiers_store(t, AM_STR("s2"), &in));
    in.tags = &tag;
    in.tag_count = 1;
    CHECK_OK(am_tiers_store(t, AM_STR("s3"), &in));
    in.type = AM_STR("fact");
    CHECK_OK(am_tiers_store(t, AM_STR("f1"), &in));
    CHECK_OK(am_tiers_add_policy(t, &p));
    CHECK_ST(am_tiers_add_policy(t, &p), AM_EEXIST);
    bad.name = "x";
    bad.condition = NULL;
    CHECK_ST(am_tiers_add_policy(t, &bad), AM_EINVAL);
    CHECK(strstr(am_tiers_last_error(t)->msg, "condition") != NULL);
    CHECK_OK(am_tiers_apply_policies(t, pc, 4, &n));
    CHECK_EQ(n, 4);
    CHECK_STR_EQ(pc[3].name, "demote_scratch");
    CHECK_EQ(pc[3].acted, 2);
    CHECK_EQ(calls, 4);
    CHECK_EQ(tier_of(t, "s1"), AM_TIER_SHORT_TERM);
    CHECK_EQ(tier_of(t, "s3"), AM_TIER_WORKING);
    CHECK_EQ(tier_of(t, "f1"), AM_TIER_WORKING);
    am_tiers_close(t, NULL);
}

