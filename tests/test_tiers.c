/* test_tiers.c -- hierarchical memory: tiers, index, lifecycle, archive,
 * persistence. Time is a test clock; nothing sleeps. */
#include <math.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <unistd.h>

#include "agentmem/tiers.h"
#include "harness.h"
#include "jansson_fail.h"

#define HOUR 3600000LL
#define DAY (24 * HOUR)
#define T0 1700000000000LL /* 2023-11-14 22:13:20 UTC */

static am_tiers *open_t(test_clock *clk, size_t w, size_t s, size_t l,
                        const char *db)
{
    static am_clock c[64];
    static int n;
    am_tiers_opts o = am_tiers_opts_default();
    am_tiers *t = NULL;
    am_error err;

    c[n % 64] = test_clock_make(clk);
    o.clock = &c[n++ % 64];
    o.capacity[AM_TIER_WORKING] = w;
    o.capacity[AM_TIER_SHORT_TERM] = s;
    o.capacity[AM_TIER_LONG_TERM] = l;
    o.db_path = db;
    o.flush_interval_ms = 3600 * 1000; /* only explicit flushes */
    o.flush_max_dirty = 1000000;
    CHECK_OK_E(am_tiers_open(&o, &t, &err), &err);
    return t;
}

static am_status put(am_tiers *t, const char *id, const char *content,
                     double imp, am_tier tier)
{
    am_tier_item_in in = am_tier_item_in_default();

    in.content = am_str_c(content);
    in.importance = imp;
    in.tier = tier;
    return am_tiers_store(t, am_str_c(id), &in);
}

static am_tier tier_of(am_tiers *t, const char *id)
{
    am_tier_item v;
    CHECK_OK_E(am_tiers_peek(t, am_str_c(id), NULL, &v),
               am_tiers_last_error(t));
    return v.tier;
}

/* ---- Basics ---- */

AM_TEST(store_then_retrieve_returns_content_and_counts_access)
{
    test_clock clk = { T0 };
    am_tiers *t = open_t(&clk, 100, 1000, 0, NULL);
    am_buf out = AM_BUF_INIT;
    am_tier_item v;
    am_str tags[] = { AM_STR("a"), AM_STR("b"), AM_STR("a") };
    am_tier_item_in in = am_tier_item_in_default();

    in.content = AM_STR("{\"k\": 1}");
    in.flags = AM_TIER_JSON;
    in.type = AM_STR("fact");
    in.tags = tags;
    in.tag_count = 3;
    in.extra = AM_STR("{\"src\":\"unit\"}");
    CHECK_OK(am_tiers_store(t, AM_STR("x"), &in));
    clk.now_ms += 5000;
    CHECK_OK(am_tiers_retrieve(t, AM_STR("x"), &out, &v));
    CHECK_MEM_EQ(out.ptr, out.len, "{\"k\": 1}");
    CHECK_EQ(v.access_count, 1);
    CHECK_EQ(v.accessed_ms, T0 + 5000);
    CHECK_EQ(v.created_ms, T0);
    CHECK_EQ(v.tier, AM_TIER_WORKING);
    CHECK_EQ(v.tag_count, 2); /* duplicate dropped */
    CHECK_MEM_EQ(v.type.ptr, v.type.len, "fact");
    CHECK_EQ(v.flags, AM_TIER_JSON);
    CHECK_EQ(am_tiers_count(t), 1);
    am_buf_clear(&out);
    CHECK_OK(am_tiers_describe(t, AM_STR("x"), &out));
    CHECK(strstr(out.ptr, "\"tags\":[\"a\",\"b\"]") != NULL);
    CHECK(strstr(out.ptr, "\"extra\":{\"src\":\"unit\"}") != NULL);
    CHECK_ST(am_tiers_retrieve(t, AM_STR("nope"), &out, NULL), AM_ENOTFOUND);
    CHECK(strstr(am_tiers_last_error(t)->msg, "nope") != NULL);
    am_buf_free(&out);
    CHECK_OK(am_tiers_close(t, NULL));
}

AM_TEST(storing_an_existing_id_replaces_it)
{
    test_clock clk = { T0 };
    am_tiers *t = open_t(&clk, 100, 1000, 0, NULL);
    am_buf out = AM_BUF_INIT;

    CHECK_OK(put(t, "a", "one", 0.5, AM_TIER_WORKING));
    CHECK_OK(put(t, "a", "two", 0.5, AM_TIER_LONG_TERM));
    CHECK_EQ(am_tiers_count(t), 1);
    CHECK_OK(am_tiers_peek(t, AM_STR("a"), &out, NULL));
    CHECK_MEM_EQ(out.ptr, out.len, "two");
    CHECK_EQ(tier_of(t, "a"), AM_TIER_LONG_TERM);
    am_buf_free(&out);
    am_tiers_close(t, NULL);
}

/* ---- Promotion ---- */

AM_TEST(three_accesses_within_an_hour_promote_one_tier)
{
    test_clock clk = { T0 };
    am_tiers *t = open_t(&clk, 100, 1000, 0, NULL);

    CHECK_OK(put(t, "a", "x", 0.5, AM_TIER_LONG_TERM));
    CHECK_OK(am_tiers_retrieve(t, AM_STR("a"), NULL, NULL));
    clk.now_ms += 20 * 60000;
    CHECK_OK(am_tiers_retrieve(t, AM_STR("a"), NULL, NULL));
    CHECK_EQ(tier_of(t, "a"), AM_TIER_LONG_TERM);
    clk.now_ms += 20 * 60000;
    CHECK_OK(am_tiers_retrieve(t, AM_STR("a"), NULL, NULL));
    CHECK_EQ(tier_of(t, "a"), AM_TIER_SHORT_TERM);
    am_tiers_close(t, NULL);
}

AM_TEST(accesses_spread_over_more_than_an_hour_do_not_promote)
{
    test_clock clk = { T0 };
    am_tiers *t = open_t(&clk, 100, 1000, 0, NULL);

    CHECK_OK(put(t, "a", "x", 0.5, AM_TIER_SHORT_TERM));
    for (int i = 0; i < 5; i++) {
        CHECK_OK(am_tiers_retrieve(t, AM_STR("a"), NULL, NULL));
        clk.now_ms += 31 * 60000; /* the third is 62 minutes after the 1st */
    }
    CHECK_EQ(tier_of(t, "a"), AM_TIER_SHORT_TERM);
    am_tiers_close(t, NULL);
}

AM_TEST(important_items_promote_on_every_retrieve_up_to_working)
{
    test_clock clk = { T0 };
    am_tiers *t = open_t(&clk, 100, 1000, 0, NULL);
    am_buf out = AM_BUF_INIT;

    CHECK_OK(put(t, "imp", "payload", 0.81, AM_TIER_ARCHIVE));
    CHECK_OK(put(t, "mid", "payload", 0.8, AM_TIER_LONG_TERM));
    CHECK_OK(am_tiers_retrieve(t, AM_STR("imp"), &out, NULL));
    CHECK_MEM_EQ(out.ptr, out.len, "payload");
    CHECK_EQ(tier_of(t, "imp"), AM_TIER_LONG_TERM);
    CHECK_OK(am_tiers_retrieve(t, AM_STR("imp"), NULL, NULL));
    CHECK_EQ(tier_of(t, "imp"), AM_TIER_SHORT_TERM);
    CHECK_OK(am_tiers_retrieve(t, AM_STR("imp"), NULL, NULL));
    CHECK_OK(am_tiers_retrieve(t, AM_STR("imp"), NULL, NULL));
    CHECK_EQ(tier_of(t, "imp"), AM_TIER_WORKING);
    /* 0.8 is not above 0.8. */
    CHECK_OK(am_tiers_retrieve(t, AM_STR("mid"), NULL, NULL));
    CHECK_EQ(tier_of(t, "mid"), AM_TIER_LONG_TERM);
    am_buf_free(&out);
    am_tiers_close(t, NULL);
}

/* ---- Capacity ---- */

AM_TEST(full_tier_demotes_its_lowest_scoring_ten_percent)
{
    test_clock clk = { T0 };
    am_tiers *t = open_t(&clk, 20, 1000, 0, NULL);
    char id[16];

    for (int i = 0; i < 20; i++) {
        snprintf(id, sizeof id, "i%02d", i);
        /* i03 and i11 are the least important. */
        CHECK_OK(put(t, id, "c", (i == 3 || i == 11) ? 0.05 : 0.5,
                     AM_TIER_WORKING));
    }
    CHECK_EQ(tier_of(t, "i03"), AM_TIER_WORKING);
    CHECK_OK(put(t, "new", "c", 0.5, AM_TIER_WORKING));
    CHECK_EQ(tier_of(t, "i03"), AM_TIER_SHORT_TERM);
    CHECK_EQ(tier_of(t, "i11"), AM_TIER_SHORT_TERM);
    CHECK_EQ(tier_of(t, "i04"), AM_TIER_WORKING);
    CHECK_EQ(tier_of(t, "new"), AM_TIER_WORKING);
    {
        am_tier_stats s[AM_TIER_COUNT];
        CHECK_OK(am_tiers_stats(t, s));
        CHECK_EQ(s[AM_TIER_WORKING].count, 19);
        CHECK_EQ(s[AM_TIER_SHORT_TERM].count, 2);
    }
    am_tiers_close(t, NULL);
}

AM_TEST(recency_and_frequency_count_in_the_retention_score)
{
    test_clock clk = { T0 };
    am_tiers *t = open_t(&clk, 10, 1000, 0, NULL);
    char id[16];
    am_tier_item v;

    for (int i = 0; i < 10; i++) {
        snprintf(id, sizeof id, "i%d", i);
        CHECK_OK(put(t, id, "c", 0.5, AM_TIER_WORKING));
    }
    clk.now_ms += 48 * HOUR;
    /* Everything is equally old; touching all but i7 leaves i7 lowest. */
    for (int i = 0; i < 10; i++) {
        if (i == 7)
            continue;
        snprintf(id, sizeof id, "i%d", i);
        CHECK_OK(am_tiers_retrieve(t, am_str_c(id), NULL, NULL));
    }
    CHECK_OK(am_tiers_peek(t, AM_STR("i7"), NULL, &v));
    CHECK(am_tiers_retention_score(&v, clk.now_ms) < 0.5 + 0.3 / 3 + 1e-9);
    CHECK_OK(put(t, "new", "c", 0.5, AM_TIER_WORKING));
    CHECK_EQ(tier_of(t, "i7"), AM_TIER_SHORT_TERM);
    am_tiers_close(t, NULL);
}

AM_TEST(demotion_cascades_into_full_lower_tiers)
{
    test_clock clk = { T0 };
    am_tiers *t = open_t(&clk, 10, 10, 10, NULL);
    char id[16];
    am_tier_stats s[AM_TIER_COUNT];

    for (int i = 0; i < 100; i++) {
        snprintf(id, sizeof id, "i%03d", i);
        CHECK_OK(put(t, id, "content", 0.5, AM_TIER_WORKING));
        clk.now_ms += 1000;
    }
    CHECK_OK(am_tiers_stats(t, s));
    for (int i = 0; i < 3; i++)
        CHECK(s[i].count <= 10);
    CHECK_EQ(s[0].count + s[1].count + s[2].count + s[3].count, 100);
    CHECK(s[AM_TIER_ARCHIVE].count >= 70);
    CHECK(s[AM_TIER_ARCHIVE].stored_bytes > 0);
    CHECK_EQ(s[AM_TIER_ARCHIVE].content_bytes,
             7 * (uint64_t)s[AM_TIER_ARCHIVE].count);
    am_tiers_close(t, NULL);
}

/* ---- Optimize and moves ---- */

typedef struct moves_seen {
    int n;
    char ids[64][16];
    am_tier from[64], to[64];
    am_tier_reason reason[64];
} moves_seen;

static void on_move(void *ctx, const am_tier_move *m)
{
    moves_seen *ms = ctx;
    if (ms->n < 64) {
        snprintf(ms->ids[ms->n], 16, "%.*s", (int)m->id.len, m->id.ptr);
        ms->from[ms->n] = m->from;
        ms->to[ms->n] = m->to;
        ms->reason[ms->n] = m->reason;
        ms->n++;
    }
}

AM_TEST(optimize_demotes_idle_rarely_used_items_once)
{
    test_clock clk = { T0 };
    am_tiers *t = open_t(&clk, 100, 1000, 0, NULL);
    size_t n = 99;
    moves_seen ms = { 0 };
    uint64_t total = 0;

    CHECK_OK(put(t, "idle_w", "x", 0.5, AM_TIER_WORKING));
    CHECK_OK(put(t, "idle_s", "x", 0.5, AM_TIER_SHORT_TERM));
    CHECK_OK(put(t, "used", "x", 0.5, AM_TIER_WORKING));
    CHECK_OK(put(t, "fresh", "x", 0.5, AM_TIER_WORKING));
    CHECK_OK(put(t, "long", "x", 0.5, AM_TIER_LONG_TERM));
    CHECK_OK(am_tiers_retrieve(t, AM_STR("used"), NULL, NULL));
    CHECK_OK(am_tiers_retrieve(t, AM_STR("used"), NULL, NULL));
    clk.now_ms += 24 * HOUR; /* exactly 24 h: not yet */
    CHECK_OK(am_tiers_optimize(t, &n));
    CHECK_EQ(n, 0);
    clk.now_ms += 1;
    CHECK_OK(put(t, "fresh", "x", 0.5, AM_TIER_WORKING));
    CHECK_OK(am_tiers_optimize(t, &n));
    CHECK_EQ(n, 2);
    CHECK_EQ(tier_of(t, "idle_w"), AM_TIER_SHORT_TERM);
    CHECK_EQ(tier_of(t, "idle_s"), AM_TIER_LONG_TERM);
    CHECK_EQ(tier_of(t, "used"), AM_TIER_WORKING);
    CHECK_EQ(tier_of(t, "fresh"), AM_TIER_WORKING);
    CHECK_EQ(tier_of(t, "long"), AM_TIER_LONG_TERM);
    CHECK_OK(am_tiers_moves(t, 10, on_move, &ms, &total));
    CHECK_EQ(total, 2);
    CHECK_EQ(ms.n, 2);
    CHECK_EQ(ms.reason[0], AM_TIER_REASON_IDLE);
    CHECK_EQ(ms.from[0] + 1, ms.to[0]);
    am_tiers_close(t, NULL);
}

AM_TEST(optimize_moves_an_item_at_most_once_even_with_cascades)
{
    test_clock clk = { T0 };
    am_tiers *t = open_t(&clk, 10, 10, 0, NULL);
    char id[16];
    am_tier_stats s[AM_TIER_COUNT];
    size_t n = 0;

    for (int i = 0; i < 20; i++) {
        snprintf(id, sizeof id, "i%02d", i);
        CHECK_OK(put(t, id, "x", 0.5, i < 10 ? AM_TIER_SHORT_TERM
                                             : AM_TIER_WORKING));
    }
    clk.now_ms += 25 * HOUR;
    CHECK_OK(am_tiers_optimize(t, &n));
    CHECK_OK(am_tiers_stats(t, s));
    CHECK_EQ(s[AM_TIER_ARCHIVE].count, 0);
    CHECK_EQ(s[AM_TIER_WORKING].count, 0);
    CHECK_EQ(s[AM_TIER_SHORT_TERM].count, 10);
    CHECK_EQ(s[AM_TIER_LONG_TERM].count, 10);
    am_tiers_close(t, NULL);
}

AM_TEST(every_move_is_logged_with_its_reason)
{
    test_clock clk = { T0 };
    am_tiers *t = open_t(&clk, 1, 1000, 0, NULL);
    moves_seen ms = { 0 };

    CHECK_OK(put(t, "a", "x", 0.5, AM_TIER_WORKING));
    clk.now_ms += 10;
    CHECK_OK(put(t, "b", "x", 0.5, AM_TIER_WORKING)); /* a: capacity */
    CHECK_OK(am_tiers_archive(t, AM_STR("a")));
    CHECK_OK(am_tiers_restore(t, AM_STR("a")));
    CHECK_OK(put(t, "c", "x", 0.9, AM_TIER_LONG_TERM));
    CHECK_OK(am_tiers_retrieve(t, AM_STR("c"), NULL, NULL));
    CHECK_OK(am_tiers_moves(t, 100, on_move, &ms, NULL));
    CHECK_EQ(ms.n, 4);
    CHECK_STR_EQ(ms.ids[0], "a");
    CHECK_EQ(ms.reason[0], AM_TIER_REASON_CAPACITY);
    CHECK_EQ(ms.to[0], AM_TIER_SHORT_TERM);
    CHECK_EQ(ms.reason[1], AM_TIER_REASON_ARCHIVE);
    CHECK_EQ(ms.from[1], AM_TIER_SHORT_TERM);
    CHECK_EQ(ms.to[1], AM_TIER_ARCHIVE);
    CHECK_EQ(ms.reason[2], AM_TIER_REASON_RESTORE);
    CHECK_EQ(ms.to[2], AM_TIER_SHORT_TERM);
    CHECK_STR_EQ(ms.ids[3], "c");
    CHECK_EQ(ms.reason[3], AM_TIER_REASON_PROMOTION);
    CHECK_STR_EQ(am_tier_reason_name(AM_TIER_REASON_IDLE), "idle");
    am_tiers_close(t, NULL);
}

AM_TEST(stats_report_count_capacity_utilization_importance_age)
{
    test_clock clk = { T0 };
    am_tiers *t = open_t(&clk, 4, 1000, 0, NULL);
    am_tier_stats s[AM_TIER_COUNT];

    CHECK_OK(put(t, "a", "xx", 0.2, AM_TIER_WORKING));
    clk.now_ms += 2 * HOUR;
    CHECK_OK(put(t, "b", "yyyy", 0.6, AM_TIER_WORKING));
    CHECK_OK(am_tiers_stats(t, s));
    CHECK_EQ(s[0].count, 2);
    CHECK_EQ(s[0].capacity, 4);
    CHECK(s[0].utilization == 0.5);
    CHECK(fabs(s[0].avg_importance - 0.4) < 1e-12);
    CHECK(fabs(s[0].avg_age_hours - 1.0) < 1e-12);
    CHECK_EQ(s[0].content_bytes, 6);
    CHECK_EQ(s[2].capacity, 0);
    CHECK(s[2].utilization == 0.0);
    CHECK_EQ(s[3].count, 0);
    am_tiers_close(t, NULL);
}

/* ---- Policies ---- */

AM_TEST(default_policies_archive_delete_and_refresh)
{
    test_clock clk = { T0 };
    am_tiers *t = open_t(&clk, 100, 1000, 0, NULL);
    am_tier_policy_count pc[8];
    size_t n = 0;
    am_tier_item v;

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
}

static bool cond_type_scratch(void *ctx, const am_tier_item *it, int64_t now)
{
    (void)now;
    ++*(int *)ctx;
    return it->type.len == 7 && memcmp(it->type.ptr, "scratch", 7) == 0;
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

/* ---- Archive ---- */

AM_TEST(archive_and_restore_are_byte_identical)
{
    test_clock clk = { T0 };
    am_tiers *t = open_t(&clk, 100, 1000, 0, NULL);
    test_rng rng = { 42 };
    size_t n = 100000;
    char *bin = malloc(n);
    am_tier_item_in in = am_tier_item_in_default();
    am_buf out = AM_BUF_INIT;
    am_tier_item v;
    am_tier_stats s[AM_TIER_COUNT];

    for (size_t i = 0; i < n; i++) /* half random, half repetitive */
        bin[i] = i < n / 2 ? (char)test_rng_u64(&rng) : (char)(i % 7);
    in.content.ptr = bin;
    in.content.len = n;
    CHECK_OK(am_tiers_store(t, AM_STR("bin"), &in));
    in.content = AM_STR("");
    CHECK_OK(am_tiers_store(t, AM_STR("empty"), &in));
    CHECK_OK(am_tiers_archive(t, AM_STR("bin")));
    CHECK_OK(am_tiers_archive(t, AM_STR("bin"))); /* already: fine */
    CHECK_OK(am_tiers_archive(t, AM_STR("empty")));
    CHECK_OK(am_tiers_stats(t, s));
    CHECK_EQ(s[AM_TIER_ARCHIVE].count, 2);
    CHECK_EQ(s[AM_TIER_ARCHIVE].content_bytes, n);
    CHECK(s[AM_TIER_ARCHIVE].stored_bytes < n * 3 / 4);
    CHECK_OK(am_tiers_peek(t, AM_STR("bin"), NULL, &v));
    CHECK(v.content.ptr == NULL);
    CHECK_EQ(v.content_len, n);
    /* Peek decompresses without moving it. */
    CHECK_OK(am_tiers_peek(t, AM_STR("bin"), &out, NULL));
    CHECK_EQ(out.len, n);
    CHECK(memcmp(out.ptr, bin, n) == 0);
    CHECK_OK(am_tiers_restore(t, AM_STR("bin")));
    CHECK_OK(am_tiers_restore(t, AM_STR("empty")));
    CHECK_ST(am_tiers_restore(t, AM_STR("bin")), AM_ESTATE);
    CHECK(strstr(am_tiers_last_error(t)->msg, "not archived") != NULL);
    CHECK_OK(am_tiers_peek(t, AM_STR("bin"), &out, &v));
    CHECK_EQ(v.tier, AM_TIER_SHORT_TERM);
    CHECK_EQ(out.len, n);
    CHECK(memcmp(out.ptr, bin, n) == 0);
    CHECK_OK(am_tiers_peek(t, AM_STR("empty"), &out, NULL));
    CHECK_EQ(out.len, 0);
    am_buf_free(&out);
    free(bin);
    am_tiers_close(t, NULL);
}

/* ---- Index and search ---- */

static am_status key_first_word(void *ctx, const am_tier_item *it,
                                am_buf *key)
{
    size_t n = 0;
    (void)ctx;
    if (it->content.ptr == NULL)
        return AM_OK;
    while (n < it->content.len && it->content.ptr[n] != ' ')
        n++;
    return am_buf_append(key, it->content.ptr, n);
}

static am_tiers *search_fixture(test_clock *clk, const char *db)
{
    am_tiers *t = open_t(clk, 0, 0, 0, db);
    static const char *types[] = { "fact", "event", "note" };
    char id[16], content[64];

    for (int i = 0; i < 300; i++) {
        am_tier_item_in in = am_tier_item_in_default();
        am_str tags[2];
        snprintf(id, sizeof id, "i%03d", i);
        snprintf(content, sizeof content, "%s item %d",
                 i % 2 ? "odd" : "even", i);
        in.content = am_str_c(content);
        in.type = am_str_c(types[i % 3]);
        in.importance = (i % 10) / 10.0 + 0.05; /* buckets 0..9 */
        tags[0] = (i % 5 == 0) ? AM_STR("five") : AM_STR("other");
        tags[1] = AM_STR("all");
        in.tags = tags;
        in.tag_count = 2;
        CHECK_OK(am_tiers_store(t, am_str_c(id), &in));
        if (i % 100 == 99)
            clk->now_ms += DAY; /* 100 items per day */
    }
    return t;
}

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
    am_tier_item v;

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
    am_error err;

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
        CHECK_OK(am_tier_parse(AM_STR("long-term"), &name));
        CHECK_EQ(name, AM_TIER_LONG_TERM);
        CHECK_ST(am_tier_parse(AM_STR("attic"), &name), AM_EINVAL);
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

/* ---- Persistence ---- */

static void dump_all(am_tiers *t, am_buf *out)
{
    am_tier_hits h = AM_TIER_HITS_INIT;
    am_tier_query q = am_tier_query_default();
    am_buf c = AM_BUF_INIT;

    q.flags = AM_TIER_PEEK;
    am_buf_clear(out);
    CHECK_OK(am_tiers_search(t, &q, &h));
    for (size_t i = 0; i < h.count; i++) {
        CHECK_OK(am_tiers_describe(t, h.ids[i], out));
        CHECK_OK(am_tiers_peek(t, h.ids[i], &c, NULL));
        am_buf_appendf(out, " %zu:", c.len);
        am_buf_append(out, c.ptr, c.len);
        am_buf_append(out, "\n", 1);
    }
    am_tier_hits_free(&h);
    am_buf_free(&c);
}

static void dump_moves(void *ctx, const am_tier_move *m)
{
    am_buf_appendf(ctx, "%.*s %d>%d %lld %d\n", (int)m->id.len, m->id.ptr,
                   m->from, m->to, (long long)m->at_ms, m->reason);
}

AM_TEST(reopen_restores_every_tier_index_archive_and_move)
{
    test_clock clk = { T0 };
    char *dir = test_tmpdir();
    char db[4200];
    am_tiers *t;
    am_buf before = AM_BUF_INIT, after = AM_BUF_INIT;
    am_buf mb = AM_BUF_INIT, ma = AM_BUF_INIT;
    am_tier_hits h1 = AM_TIER_HITS_INIT, h2 = AM_TIER_HITS_INIT;
    am_tier_query q = am_tier_query_default();
    am_str five = AM_STR("five");
    uint64_t tot1 = 0, tot2 = 0;

    snprintf(db, sizeof db, "%s/t.db", dir);
    t = search_fixture(&clk, db);
    /* Spread over the tiers, touch, archive, delete, replace. */
    for (int i = 0; i < 300; i += 7) {
        char id[16];
        snprintf(id, sizeof id, "i%03d", i);
        if (i % 2)
            CHECK_OK(am_tiers_archive(t, am_str_c(id)));
        else
            CHECK_OK(am_tiers_retrieve(t, am_str_c(id), NULL, NULL));
    }
    CHECK_OK(am_tiers_delete(t, AM_STR("i001")));
    CHECK_OK(put(t, "i002", "replaced", 0.33, AM_TIER_LONG_TERM));
    CHECK_OK(am_tiers_retrieve(t, AM_STR("i004"), NULL, NULL));
    dump_all(t, &before);
    q.flags = AM_TIER_PEEK;
    q.tags = &five;
    q.tag_count = 1;
    q.min_importance = 0.3;
    CHECK_OK(am_tiers_search(t, &q, &h1));
    CHECK_OK(am_tiers_moves(t, 1000, dump_moves, &mb, &tot1));
    CHECK_OK(am_tiers_close(t, NULL));

    t = open_t(&clk, 0, 0, 0, db);
    dump_all(t, &after);
    CHECK_EQ(before.len, after.len);
    CHECK_MEM_EQ(after.ptr, after.len, before.ptr);
    CHECK_OK(am_tiers_search(t, &q, &h2));
    CHECK_EQ(h1.count, h2.count);
    for (size_t i = 0; i < h1.count; i++) {
        CHECK_EQ(h2.ids[i].len, h1.ids[i].len);
        CHECK(memcmp(h2.ids[i].ptr, h1.ids[i].ptr, h1.ids[i].len) == 0);
    }
    CHECK_OK(am_tiers_moves(t, 1000, dump_moves, &ma, &tot2));
    CHECK_EQ(tot1, tot2);
    CHECK_MEM_EQ(ma.ptr, ma.len, mb.ptr);
    CHECK_EQ(am_tiers_count(t), 299);
    am_tiers_close(t, NULL);
    am_buf_free(&before);
    am_buf_free(&after);
    am_buf_free(&mb);
    am_buf_free(&ma);
    am_tier_hits_free(&h1);
    am_tier_hits_free(&h2);
    test_rmtree(dir);
    free(dir);
}

AM_TEST(cascading_promotions_with_a_database_survive_reopen)
{
    test_clock clk = { T0 };
    char *dir = test_tmpdir();
    char db[4200], id[16];
    am_tiers *t;
    am_buf before = AM_BUF_INIT, after = AM_BUF_INIT;
    am_tier_stats s[AM_TIER_COUNT];

    snprintf(db, sizeof db, "%s/cascade.db", dir);
    t = open_t(&clk, 2, 2, 2, db);
    for (int i = 0; i < 40; i++) {
        snprintf(id, sizeof id, "c%02d", i);
        CHECK_OK(put(t, id, "cascading content", i % 4 ? 0.3 : 0.9,
                     AM_TIER_WORKING));
        clk.now_ms += 1000;
    }
    /* Each retrieve of an important item promotes it into a full tier,
     * whose demotions cascade down through full tiers. */
    for (int r = 0; r < 3; r++)
        for (int i = 0; i < 40; i += 4) {
            snprintf(id, sizeof id, "c%02d", i);
            CHECK_OK(am_tiers_retrieve(t, am_str_c(id), NULL, NULL));
            clk.now_ms += 1000;
        }
    CHECK_OK(am_tiers_stats(t, s));
    CHECK(s[0].count <= 2 && s[1].count <= 2 && s[2].count <= 2);
    CHECK_EQ(s[0].count + s[1].count + s[2].count + s[3].count, 40);
    dump_all(t, &before);
    CHECK_OK(am_tiers_close(t, NULL));
    t = open_t(&clk, 2, 2, 2, db);
    dump_all(t, &after);
    CHECK_MEM_EQ(after.ptr, after.len, before.ptr);
    am_tiers_close(t, NULL);
    am_buf_free(&before);
    am_buf_free(&after);
    test_rmtree(dir);
    free(dir);
}

AM_TEST(reopening_with_a_smaller_capacity_trims_on_the_next_store)
{
    test_clock clk = { T0 };
    char *dir = test_tmpdir();
    char db[4200], id[16];
    am_tiers *t;
    am_tier_stats s[AM_TIER_COUNT];

    snprintf(db, sizeof db, "%s/trim.db", dir);
    t = open_t(&clk, 0, 0, 0, db);
    for (int i = 0; i < 50; i++) {
        snprintf(id, sizeof id, "t%02d", i);
        CHECK_OK(put(t, id, "x", 0.5, AM_TIER_WORKING));
    }
    CHECK_OK(am_tiers_close(t, NULL));
    t = open_t(&clk, 10, 0, 0, db);
    CHECK_OK(am_tiers_stats(t, s));
    CHECK_EQ(s[AM_TIER_WORKING].count, 50); /* kept as stored */
    CHECK_OK(put(t, "new", "x", 0.5, AM_TIER_WORKING));
    CHECK_OK(am_tiers_stats(t, s));
    CHECK_EQ(s[AM_TIER_WORKING].count, 10);
    CHECK_EQ(s[AM_TIER_SHORT_TERM].count, 41);
    am_tiers_close(t, NULL);
    test_rmtree(dir);
    free(dir);
}

static int count_rows(const char *db, const char *sql)
{
    sqlite3 *h = NULL;
    sqlite3_stmt *s = NULL;
    int n = -1;

    CHECK_EQ(sqlite3_open(db, &h), SQLITE_OK);
    if (sqlite3_prepare_v2(h, sql, -1, &s, NULL) == SQLITE_OK &&
        sqlite3_step(s) == SQLITE_ROW)
        n = sqlite3_column_int(s, 0);
    sqlite3_finalize(s);
    sqlite3_close(h);
    return n;
}

AM_TEST(changes_are_durable_after_flush_and_write_through_when_asked)
{
    test_clock clk = { T0 };
    char *dir = test_tmpdir();
    char db[4200];
    am_tiers *t;
    am_tiers_opts o = am_tiers_opts_default();
    am_clock c = test_clock_make(&clk);

    snprintf(db, sizeof db, "%s/d.db", dir);
    t = open_t(&clk, 100, 1000, 0, db);
    CHECK_OK(put(t, "a", "x", 0.5, AM_TIER_WORKING));
    /* Write-behind: another connection does not see it yet. */
    CHECK_EQ(count_rows(db, "SELECT count(*) FROM tier_items"), 0);
    CHECK_OK(am_tiers_flush(t));
    CHECK_EQ(count_rows(db, "SELECT count(*) FROM tier_items"), 1);
    CHECK_OK(am_tiers_retrieve(t, AM_STR("a"), NULL, NULL));
    CHECK_OK(am_tiers_flush(t));
    CHECK_EQ(count_rows(db, "SELECT access_count FROM tier_state"), 1);
    CHECK_OK(am_tiers_delete(t, AM_STR("a")));
    CHECK_OK(am_tiers_close(t, NULL));
    CHECK_EQ(count_rows(db, "SELECT count(*) FROM tier_items"), 0);
    CHECK_EQ(count_rows(db, "SELECT count(*) FROM tier_state"), 0);
    CHECK_EQ(count_rows(db, "SELECT count(*) FROM tier_content"), 0);
    CHECK_EQ(count_rows(db, "SELECT version FROM am_schema WHERE "
                            "module = 'tiers'"), 3);

    o.clock = &c;
    o.db_path = db;
    o.flush_interval_ms = 0;
    CHECK_OK(am_tiers_open(&o, &t, NULL));
    CHECK_OK(put(t, "b", "y", 0.5, AM_TIER_WORKING));
    CHECK_EQ(count_rows(db, "SELECT count(*) FROM tier_items"), 1);
    CHECK_OK(am_tiers_archive(t, AM_STR("b")));
    CHECK_EQ(count_rows(db, "SELECT tier FROM tier_state"), 3);
    CHECK_EQ(count_rows(db, "SELECT count(*) FROM tier_moves"), 1);
    am_tiers_close(t, NULL);
    test_rmtree(dir);
    free(dir);
}

static void count_move(void *ctx, const am_tier_move *m)
{
    (void)m;
    (*(size_t *)ctx)++;
}

/* Moves are written many rows per INSERT and a compressed or restored
 * item rewrites its content row only: 150 moves of one item (two full
 * batches and a tail), each a second apart, land in order with their
 * sequence numbers, and the content survives the round trips. */
AM_TEST(a_long_move_log_and_content_rewrites_survive_a_reopen)
{
    test_clock clk = { T0 };
    char *dir = test_tmpdir();
    char db[4200], sql[256];
    am_tiers *t = NULL;
    am_tiers_opts o = am_tiers_opts_default();
    am_clock c = test_clock_make(&clk);
    am_error err;
    am_buf out = AM_BUF_INIT;
    char content[3000];
    uint64_t total = 0;

    for (size_t i = 0; i < sizeof content - 1; i++)
        content[i] = "abcdefgh "[(i * 7 + i / 13) % 9];
    content[sizeof content - 1] = '\0';
    snprintf(db, sizeof db, "%s/b.db", dir);
    o.clock = &c;
    o.db_path = db;
    o.flush_interval_ms = 3600 * 1000;
    o.flush_max_dirty = 1000000;
    o.move_log_keep = 1000;
    CHECK_OK_E(am_tiers_open(&o, &t, &err), &err);
    CHECK_OK(put(t, "a", content, 0.5, AM_TIER_LONG_TERM));
    CHECK_OK(put(t, "b", "bystander", 0.5, AM_TIER_LONG_TERM));
    CHECK_OK(am_tiers_flush(t));
    for (int i = 0; i < 75; i++) {
        clk.now_ms += 1000;
        CHECK_OK(am_tiers_archive(t, AM_STR("a")));
        clk.now_ms += 1000;
        CHECK_OK(am_tiers_restore(t, AM_STR("a")));
    }
    clk.now_ms += 1000;
    CHECK_OK(am_tiers_archive(t, AM_STR("a"))); /* 151 moves */
    CHECK_OK(am_tiers_close(t, NULL));
    CHECK_EQ(count_rows(db, "SELECT count(*) FROM tier_moves"), 151);
    CHECK_EQ(count_rows(db, "SELECT min(seq) FROM tier_moves"), 1);
    CHECK_EQ(count_rows(db, "SELECT max(seq) FROM tier_moves"), 151);
    snprintf(sql, sizeof sql, "SELECT count(*) FROM tier_moves WHERE "
             "(seq %% 2 = 1) != (to_tier = '%s') OR id != 'a'",
             am_tier_name(AM_TIER_ARCHIVE));
    CHECK_EQ(count_rows(db, sql), 0);
    CHECK_EQ(count_rows(db, "SELECT count(*) FROM tier_moves x JOIN "
                            "tier_moves y ON y.seq = x.seq + 1 WHERE "
                            "y.at_ms != x.at_ms + 1000"), 0);
    CHECK_OK_E(am_tiers_open(&o, &t, &err), &err);
    CHECK_OK(am_tiers_moves(t, 0, NULL, NULL, &total));
    CHECK_EQ(total, 151);
    CHECK_EQ(tier_of(t, "a"), AM_TIER_ARCHIVE);
    CHECK_OK(am_tiers_retrieve(t, AM_STR("a"), &out, NULL));
    CHECK_MEM_EQ(out.ptr, out.len, content);
    CHECK_EQ(out.len, sizeof content - 1);
    CHECK_OK(am_tiers_retrieve(t, AM_STR("b"), &out, NULL));
    CHECK_MEM_EQ(out.ptr, out.len, "bystander");
    am_tiers_close(t, NULL);
    am_buf_free(&out);
    test_rmtree(dir);
    free(dir);
}

AM_TEST(the_move_log_table_keeps_the_last_n_rows_and_recent_days)
{
    test_clock clk = { T0 };
    char *dir = test_tmpdir();
    char db[4200];
    am_tiers *t = NULL;
    am_tiers_opts o = am_tiers_opts_default();
    am_clock c = test_clock_make(&clk);
    am_error err;
    uint64_t total = 0;
    size_t seen = 0;

    snprintf(db, sizeof db, "%s/m.db", dir);
    o.clock = &c;
    o.db_path = db;
    o.flush_interval_ms = 3600 * 1000;
    o.flush_max_dirty = 1000000;
    /* Bad retention options are refused, naming the field. */
    o.move_log_keep = 0;
    CHECK_ST(am_tiers_open(&o, &t, &err), AM_EINVAL);
    CHECK(strstr(err.msg, "move_log_keep") != NULL);
    o.move_log_keep = 5;
    o.move_log_keep_days = -1;
    CHECK_ST(am_tiers_open(&o, &t, &err), AM_EINVAL);
    CHECK(strstr(err.msg, "move_log_keep_days") != NULL);
    o.move_log_keep_days = 10;
    CHECK_OK_E(am_tiers_open(&o, &t, &err), &err);

    CHECK_OK(put(t, "a", "some content", 0.5, AM_TIER_LONG_TERM));
    for (int i = 0; i < 6; i++) { /* 12 moves */
        CHECK_OK(am_tiers_archive(t, AM_STR("a")));
        CHECK_OK(am_tiers_restore(t, AM_STR("a")));
    }
    CHECK_OK(am_tiers_flush(t));
    CHECK_EQ(count_rows(db, "SELECT count(*) FROM tier_moves"), 5);
    CHECK_EQ(count_rows(db, "SELECT max(seq) FROM tier_moves"), 12);
    CHECK_EQ(count_rows(db, "SELECT min(seq) FROM tier_moves"), 8);
    CHECK_OK(am_tiers_moves(t, 100, count_move, &seen, &total));
    CHECK_EQ(total, 12);
    CHECK_EQ(seen, 12); /* the in-memory ring is separate (move_log_cap) */

    /* Eleven days later: optimize drops rows older than 10 days but
     * keeps the newest, so the count of moves survives a reopen. */
    clk.now_ms += 11 * DAY;
    CHECK_OK(am_tiers_archive(t, AM_STR("a"))); /* pending, not flushed */
    CHECK_OK(am_tiers_optimize(t, NULL));
    CHECK_EQ(count_rows(db, "SELECT count(*) FROM tier_moves"), 1);
    CHECK_EQ(count_rows(db, "SELECT max(seq) FROM tier_moves"), 12);
    CHECK_OK(am_tiers_close(t, NULL));
    CHECK_EQ(count_rows(db, "SELECT count(*) FROM tier_moves"), 2);
    CHECK_OK_E(am_tiers_open(&o, &t, &err), &err);
    CHECK_OK(am_tiers_moves(t, 0, NULL, NULL, &total));
    CHECK_EQ(total, 13);
    CHECK_EQ(tier_of(t, "a"), AM_TIER_ARCHIVE);
    am_tiers_close(t, NULL);
    test_rmtree(dir);
    free(dir);
}

static void fill_text(char *buf, size_t n, int seed)
{
    static const char *w[] = { "memory ", "tier ", "archive ", "agent ",
                               "policy ", "zstd ", "index " };
    size_t off = 0;
    uint32_t k = (uint32_t)seed;

    while (off + 8 < n) {
        const char *x;
        k = k * 1103515245u + 12345u;
        x = w[(k >> 16) % 7];
        size_t l = strlen(x);
        memcpy(buf + off, x, l);
        off += l;
    }
    buf[off] = '\0';
}

AM_TEST(policy_archiving_compresses_in_bounded_steps_and_survives_reopen)
{
    test_clock clk = { T0 };
    char *dir = test_tmpdir();
    char db[4200], id[16];
    static char text[6][2000];
    am_tiers *t = NULL;
    am_tiers_opts o = am_tiers_opts_default();
    am_clock c = test_clock_make(&clk);
    am_error err;
    am_tier_policy_count pc[4];
    am_tier_stats s[AM_TIER_COUNT];
    am_buf out = AM_BUF_INIT;
    size_t left = 99;

    snprintf(db, sizeof db, "%s/z.db", dir);
    o.clock = &c;
    o.db_path = db;
    o.flush_interval_ms = 3600 * 1000;
    o.flush_max_dirty = 1000000;
    o.archive_step_bytes = 1; /* one item per step */
    CHECK_OK_E(am_tiers_open(&o, &t, &err), &err);
    for (int i = 0; i < 6; i++) {
        fill_text(text[i], sizeof text[i], i + 1);
        snprintf(id, sizeof id, "i%d", i);
        CHECK_OK(put(t, id, text[i], 0.1, AM_TIER_LONG_TERM));
    }
    clk.now_ms += 31 * DAY;
    CHECK_OK(am_tiers_apply_policies(t, pc, 4, NULL));
    CHECK_EQ(pc[0].acted, 6);
    CHECK_OK(am_tiers_stats(t, s));
    CHECK_EQ(s[AM_TIER_ARCHIVE].count, 6);
    CHECK_EQ(s[AM_TIER_ARCHIVE].uncompressed, 5); /* one step done */
    CHECK_EQ(s[AM_TIER_LONG_TERM].uncompressed, 0);
    CHECK_OK(am_tiers_optimize(t, NULL)); /* one more step */
    CHECK_OK(am_tiers_stats(t, s));
    CHECK_EQ(s[AM_TIER_ARCHIVE].uncompressed, 4);
    /* Raw or compressed, archived items read back the same. */
    for (int i = 0; i < 6; i++) {
        snprintf(id, sizeof id, "i%d", i);
        CHECK_OK(am_tiers_peek(t, am_str_c(id), &out, NULL));
        CHECK_EQ(out.len, strlen(text[i]));
        CHECK(memcmp(out.ptr, text[i], out.len) == 0);
    }
    /* Restoring a raw item needs no decompression. */
    CHECK_OK(am_tiers_restore(t, AM_STR("i5")));
    CHECK_OK(am_tiers_peek(t, AM_STR("i5"), &out, NULL));
    CHECK(out.len == strlen(text[5]) && memcmp(out.ptr, text[5], out.len) == 0);
    CHECK_OK(am_tiers_archive(t, AM_STR("i5"))); /* compressed at once */
    CHECK_OK(am_tiers_close(t, NULL));
    CHECK_EQ(count_rows(db, "SELECT count(*) FROM tier_state WHERE raw = 1"),
             3);

    CHECK_OK_E(am_tiers_open(&o, &t, &err), &err);
    CHECK_OK(am_tiers_stats(t, s));
    CHECK_EQ(s[AM_TIER_ARCHIVE].uncompressed, 3);
    CHECK_OK(am_tiers_compact(t, 0, &left));
    CHECK_EQ(left, 0);
    CHECK_OK(am_tiers_stats(t, s));
    CHECK_EQ(s[AM_TIER_ARCHIVE].uncompressed, 0);
    CHECK(s[AM_TIER_ARCHIVE].stored_bytes <
          s[AM_TIER_ARCHIVE].content_bytes / 2);
    CHECK_OK(am_tiers_flush(t));
    CHECK_EQ(count_rows(db, "SELECT count(*) FROM tier_state WHERE raw = 1"),
             0);
    for (int i = 0; i < 6; i++) {
        snprintf(id, sizeof id, "i%d", i);
        CHECK_OK(am_tiers_retrieve(t, am_str_c(id), &out, NULL));
        CHECK(out.len == strlen(text[i]) &&
              memcmp(out.ptr, text[i], out.len) == 0);
    }
    CHECK_OK(am_tiers_close(t, NULL));
    /* archive_step_bytes = 0: everything compressed within the call. */
    o.archive_step_bytes = 0;
    o.db_path = NULL;
    CHECK_OK_E(am_tiers_open(&o, &t, &err), &err);
    for (int i = 0; i < 6; i++) {
        snprintf(id, sizeof id, "i%d", i);
        CHECK_OK(put(t, id, text[i], 0.1, AM_TIER_LONG_TERM));
    }
    clk.now_ms += 31 * DAY;
    CHECK_OK(am_tiers_apply_policies(t, pc, 4, NULL));
    CHECK_OK(am_tiers_stats(t, s));
    CHECK_EQ(s[AM_TIER_ARCHIVE].count, 6);
    CHECK_EQ(s[AM_TIER_ARCHIVE].uncompressed, 0);
    am_tiers_close(t, NULL);
    am_buf_free(&out);
    test_rmtree(dir);
    free(dir);
}

/* What versions 1 and 2 wrote (version 1 had no raw column): the tier
 * and access columns sat in tier_items beside the metadata. Two items:
 * "w" (working, 2 accesses, a tag) and "z" (archived raw in version 2,
 * long-term in version 1, where raw archives did not exist). */
static void write_old_database(const char *db, int version)
{
    sqlite3 *h;
    char sql[2048];

    snprintf(sql, sizeof sql,
             "CREATE TABLE am_schema(module TEXT PRIMARY KEY,"
             " version INTEGER NOT NULL);"
             "INSERT INTO am_schema VALUES('tiers', %d);"
             "CREATE TABLE tier_items(pid INTEGER PRIMARY KEY,"
             " id TEXT NOT NULL UNIQUE, tier INTEGER NOT NULL,"
             " created_ms INTEGER NOT NULL, accessed_ms INTEGER NOT NULL,"
             " hit1_ms INTEGER, hit2_ms INTEGER,"
             " access_count INTEGER NOT NULL, importance REAL NOT NULL,"
             " type TEXT NOT NULL, tags BLOB NOT NULL, extra TEXT NOT NULL,"
             " json INTEGER NOT NULL, content_len INTEGER NOT NULL%s);"
             "CREATE TABLE tier_content(pid INTEGER PRIMARY KEY,"
             " data BLOB NOT NULL);"
             "CREATE TABLE tier_moves(seq INTEGER PRIMARY KEY,"
             " id TEXT NOT NULL, from_tier TEXT NOT NULL,"
             " to_tier TEXT NOT NULL, at_ms INTEGER NOT NULL,"
             " reason TEXT NOT NULL);"
             "INSERT INTO tier_items VALUES(1, 'w', 0, %lld, %lld, %lld,"
             " NULL, 2, 0.25, 'note', x'03666f6f', '', 0, 12%s);"
             "INSERT INTO tier_items VALUES(2, 'z', %d, %lld, %lld, NULL,"
             " NULL, 0, 0.75, '', x'', '{\"k\":1}', 0, 27%s);"
             "INSERT INTO tier_content VALUES(1, 'working item');"
             "INSERT INTO tier_content VALUES(2, 'archived item archived item');"
             "INSERT INTO tier_moves VALUES(7, 'z', 'working', 'long_term',"
             " %lld, 'demotion');",
             version, version >= 2 ? ", raw INTEGER NOT NULL DEFAULT 0" : "",
             (long long)T0, (long long)T0 + 5, (long long)T0 + 5,
             version >= 2 ? ", 0" : "",
             version >= 2 ? AM_TIER_ARCHIVE : AM_TIER_LONG_TERM,
             (long long)T0, (long long)T0, version >= 2 ? ", 1" : "",
             (long long)T0);
    CHECK_EQ(sqlite3_open(db, &h), SQLITE_OK);
    CHECK_EQ(sqlite3_exec(h, sql, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(h);
}

AM_TEST(version_1_and_2_databases_are_migrated_with_their_items)
{
    test_clock clk = { T0 };
    char *dir = test_tmpdir();

    for (int version = 1; version <= 2; version++) {
        char db[4200];
        am_tiers *t;
        am_buf out = AM_BUF_INIT;
        am_tier_item v;
        am_tier_stats s[AM_TIER_COUNT];
        uint64_t moves = 0;

        snprintf(db, sizeof db, "%s/v%d.db", dir, version);
        write_old_database(db, version);
        t = open_t(&clk, 100, 1000, 0, db);
        CHECK_EQ(am_tiers_count(t), 2);
        CHECK_OK(am_tiers_peek(t, AM_STR("w"), &out, &v));
        CHECK_MEM_EQ(out.ptr, out.len, "working item");
        CHECK_EQ(v.tier, AM_TIER_WORKING);
        CHECK_EQ(v.access_count, 2);
        CHECK_EQ(v.accessed_ms, T0 + 5);
        CHECK(v.importance == 0.25);
        CHECK_EQ(v.tag_count, 1);
        CHECK_MEM_EQ(v.tags[0].ptr, v.tags[0].len, "foo");
        CHECK_MEM_EQ(v.type.ptr, v.type.len, "note");
        CHECK_OK(am_tiers_peek(t, AM_STR("z"), &out, &v));
        CHECK_MEM_EQ(out.ptr, out.len, "archived item archived item");
        CHECK_MEM_EQ(v.extra.ptr, v.extra.len, "{\"k\":1}");
        CHECK_EQ(v.tier, version >= 2 ? AM_TIER_ARCHIVE : AM_TIER_LONG_TERM);
        CHECK_OK(am_tiers_stats(t, s));
        CHECK_EQ(s[AM_TIER_ARCHIVE].uncompressed, version >= 2 ? 1 : 0);
        am_tiers_moves(t, 0, NULL, NULL, &moves);
        CHECK_EQ(moves, 7);
        /* A change after the migration lands in the new tables. */
        CHECK_OK(am_tiers_retrieve(t, AM_STR("w"), NULL, NULL));
        CHECK_OK(am_tiers_close(t, NULL));
        CHECK_EQ(count_rows(db, "SELECT version FROM am_schema WHERE "
                                "module = 'tiers'"), 3);
        CHECK_EQ(count_rows(db, "SELECT access_count FROM tier_state "
                                "WHERE pid = 1"), 3);
        CHECK_EQ(count_rows(db, "SELECT count(*) FROM tier_state WHERE "
                                "raw = 1"), version >= 2 ? 1 : 0);
        /* The moved columns are gone from tier_items. */
        CHECK_EQ(count_rows(db, "SELECT tier FROM tier_items"), -1);
        CHECK_EQ(count_rows(db, "SELECT count(*) FROM sqlite_master WHERE "
                                "name LIKE 'tier_items_v%'"), 0);
        t = open_t(&clk, 100, 1000, 0, db);
        CHECK_OK(am_tiers_peek(t, AM_STR("w"), NULL, &v));
        CHECK_EQ(v.access_count, 3);
        am_tiers_close(t, NULL);
        am_buf_free(&out);
    }
    test_rmtree(dir);
    free(dir);
}

AM_TEST(a_live_item_without_its_content_row_is_reported)
{
    test_clock clk = { T0 };
    char *dir = test_tmpdir();
    char db[4200];
    am_tiers *t;
    am_tiers_opts o = am_tiers_opts_default();
    am_error err;
    sqlite3 *h;

    snprintf(db, sizeof db, "%s/s.db", dir);
    t = open_t(&clk, 100, 1000, 0, db);
    CHECK_OK(put(t, "a", "x", 0.5, AM_TIER_WORKING));
    CHECK_OK(put(t, "b", "y", 0.5, AM_TIER_WORKING));
    CHECK_OK(am_tiers_close(t, NULL));
    CHECK_EQ(sqlite3_open(db, &h), SQLITE_OK);
    CHECK_EQ(sqlite3_exec(h, "DELETE FROM tier_content WHERE pid = (SELECT "
                          "pid FROM tier_items WHERE id = 'b')", NULL, NULL,
                          NULL), SQLITE_OK);
    sqlite3_close(h);
    o.db_path = db;
    CHECK_ST(am_tiers_open(&o, &t, &err), AM_EFORMAT);
    CHECK(strstr(err.msg, "no tier_content row") != NULL);
    /* Nothing else was touched. */
    CHECK_EQ(count_rows(db, "SELECT count(*) FROM tier_items"), 2);
    CHECK_EQ(count_rows(db, "SELECT count(*) FROM tier_state"), 2);
    test_rmtree(dir);
    free(dir);
}

static am_tiers *open_batched(test_clock *clk, am_clock *c, const char *db)
{
    am_tiers_opts o = am_tiers_opts_default();
    am_tiers *t = NULL;

    *c = test_clock_make(clk);
    o.clock = c;
    o.db_path = db;
    o.capacity[AM_TIER_WORKING] = 10000;
    o.flush_interval_ms = 3600000;
    o.flush_max_dirty = 100000;
    CHECK_OK(am_tiers_open(&o, &t, NULL));
    return t;
}

/* Deleting many items at once leaves most of their rows to later flushes
 * (a bounded number per flush); the items are gone at once, also for a
 * reopened handle, and new items never collide with rows left behind. */
AM_TEST(rows_of_many_deleted_items_are_purged_by_later_flushes)
{
    test_clock clk = { T0 };
    char *dir = test_tmpdir();
    char db[4200], id[32], text[64];
    am_tiers *t;
    am_clock c;
    am_buf out = AM_BUF_INIT;
    int items, flushes = 0;

    snprintf(db, sizeof db, "%s/p.db", dir);
    t = open_batched(&clk, &c, db);
    for (int i = 0; i < 3000; i++) {
        snprintf(id, sizeof id, "i%d", i);
        snprintf(text, sizeof text, "content of item %d", i);
        CHECK_OK(put(t, id, text, 0.5, AM_TIER_WORKING));
    }
    CHECK_OK(am_tiers_flush(t));
    for (int i = 500; i < 3000; i++) {
        snprintf(id, sizeof id, "i%d", i);
        CHECK_OK(am_tiers_delete(t, am_str_c(id)));
    }
    CHECK_OK(am_tiers_flush(t));
    CHECK_EQ(count_rows(db, "SELECT count(*) FROM tier_state"), 500);
    items = count_rows(db, "SELECT count(*) FROM tier_items");
    CHECK(items > 500 && items < 3000);
    /* Replace a deleted id whose rows may still be there, then reopen. */
    CHECK_OK(put(t, "i2999", "new content", 0.5, AM_TIER_WORKING));
    CHECK_OK(am_tiers_close(t, NULL));
    t = open_batched(&clk, &c, db);
    CHECK_EQ(am_tiers_count(t), 501);
    CHECK_ST(am_tiers_peek(t, AM_STR("i1000"), NULL, NULL), AM_ENOTFOUND);
    CHECK_OK(am_tiers_peek(t, AM_STR("i2999"), &out, NULL));
    CHECK_MEM_EQ(out.ptr, out.len, "new content");
    /* New items after a reopen with rows left behind. */
    for (int i = 0; i < 100; i++) {
        snprintf(id, sizeof id, "n%d", i);
        snprintf(text, sizeof text, "new item %d", i);
        CHECK_OK(put(t, id, text, 0.5, AM_TIER_WORKING));
    }
    while (count_rows(db, "SELECT count(*) FROM tier_items") != 601 &&
           flushes++ < 10)
        CHECK_OK(am_tiers_flush(t));
    CHECK(flushes < 10);
    CHECK_EQ(count_rows(db, "SELECT count(*) FROM tier_content"), 601);
    CHECK_EQ(count_rows(db, "SELECT count(*) FROM tier_state"), 601);
    CHECK_OK(am_tiers_close(t, NULL));
    t = open_batched(&clk, &c, db);
    CHECK_EQ(am_tiers_count(t), 601);
    for (int i = 0; i < 100; i++) {
        snprintf(id, sizeof id, "n%d", i);
        snprintf(text, sizeof text, "new item %d", i);
        CHECK_OK(am_tiers_peek(t, am_str_c(id), &out, NULL));
        CHECK_MEM_EQ(out.ptr, out.len, text);
    }
    CHECK_OK(am_tiers_peek(t, AM_STR("i499"), &out, NULL));
    CHECK_MEM_EQ(out.ptr, out.len, "content of item 499");
    am_tiers_close(t, NULL);
    am_buf_free(&out);
    test_rmtree(dir);
    free(dir);
}

AM_TEST(newer_schema_and_corrupt_archive_are_reported)
{
    test_clock clk = { T0 };
    char *dir = test_tmpdir();
    char db[4200];
    am_tiers *t;
    am_tiers_opts o = am_tiers_opts_default();
    am_error err;
    sqlite3 *h;
    am_buf out = AM_BUF_INIT;

    snprintf(db, sizeof db, "%s/c.db", dir);
    t = open_t(&clk, 100, 1000, 0, db);
    CHECK_OK(put(t, "z", "some content that compresses content content",
                 0.5, AM_TIER_ARCHIVE));
    CHECK_OK(am_tiers_close(t, NULL));
    CHECK_EQ(sqlite3_open(db, &h), SQLITE_OK);
    CHECK_EQ(sqlite3_exec(h, "UPDATE tier_content SET data = x'28b52ffd00'",
                          NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(h);
    t = open_t(&clk, 100, 1000, 0, db);
    CHECK_ST(am_tiers_restore(t, AM_STR("z")), AM_EFORMAT);
    CHECK(strstr(am_tiers_last_error(t)->msg, "corrupt") != NULL);
    CHECK_ST(am_tiers_retrieve(t, AM_STR("z"), &out, NULL), AM_EFORMAT);
    CHECK_EQ(am_tiers_count(t), 1);
    am_tiers_close(t, NULL);

    CHECK_EQ(sqlite3_open(db, &h), SQLITE_OK);
    CHECK_EQ(sqlite3_exec(h, "UPDATE am_schema SET version = 9 WHERE "
                          "module = 'tiers'", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(h);
    o.db_path = db;
    CHECK_ST(am_tiers_open(&o, &t, &err), AM_EUNSUPPORTED);
    CHECK(strstr(err.msg, "version 9") != NULL);
    am_buf_free(&out);
    test_rmtree(dir);
    free(dir);
}

AM_TEST(maintain_is_optimize_then_policies_then_flush)
{
    test_clock clk = { T0 };
    char *dir = test_tmpdir();
    char db[4200];
    am_tiers *t;
    am_tier_policy_count pc[4];
    size_t demoted = 0, n = 0;
    am_tier_item v;

    snprintf(db, sizeof db, "%s/m.db", dir);
    t = open_t(&clk, 100, 1000, 0, db);
    CHECK_OK(put(t, "w", "x", 0.2, AM_TIER_WORKING));
    CHECK_OK(put(t, "l", "x", 0.2, AM_TIER_LONG_TERM));
    clk.now_ms += 32 * DAY;
    CHECK_OK(am_tiers_maintain(t, &demoted, pc, 4, &n));
    CHECK_EQ(demoted, 1);   /* w: working -> short-term */
    CHECK_EQ(n, 3);
    CHECK_EQ(pc[0].acted, 2); /* both idle 32 days, importance 0.2 */
    CHECK_OK(am_tiers_peek(t, AM_STR("w"), NULL, &v));
    CHECK_EQ(v.tier, AM_TIER_ARCHIVE);
    /* Flushed: another connection sees both archived. */
    CHECK_EQ(count_rows(db, "SELECT count(*) FROM tier_state WHERE tier = 3"),
             2);
    am_tiers_close(t, NULL);
    t = open_t(&clk, 100, 1000, 0, db);
    CHECK_EQ(tier_of(t, "l"), AM_TIER_ARCHIVE);
    am_tiers_close(t, NULL);
    test_rmtree(dir);
    free(dir);
}

AM_TEST(a_locked_database_makes_flush_busy_and_keeps_the_changes)
{
    test_clock clk = { T0 };
    char *dir = test_tmpdir();
    char db[4200];
    am_tiers *t;
    sqlite3 *h;

    am_tiers_opts o = am_tiers_opts_default();
    am_clock c = test_clock_make(&clk);

    snprintf(db, sizeof db, "%s/busy.db", dir);
    o.clock = &c;
    o.db_path = db;
    o.flush_interval_ms = 3600000;
    o.busy_timeout_ms = 20;
    CHECK_OK(am_tiers_open(&o, &t, NULL));
    CHECK_OK(put(t, "a", "x", 0.5, AM_TIER_WORKING));
    CHECK_EQ(sqlite3_open(db, &h), SQLITE_OK);
    CHECK_EQ(sqlite3_exec(h, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
    CHECK_ST(am_tiers_flush(t), AM_EBUSY);
    CHECK(strstr(am_tiers_last_error(t)->msg, "locked") != NULL);
    CHECK_EQ(sqlite3_exec(h, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(h);
    CHECK_OK(am_tiers_flush(t));
    CHECK_EQ(count_rows(db, "SELECT count(*) FROM tier_items"), 1);
    am_tiers_close(t, NULL);
    test_rmtree(dir);
    free(dir);
}

/* ---- OOM ---- */

static const char *oom_db; /* NULL: memory only */

static am_status oom_body(void *ctx, const am_allocator *a)
{
    test_clock *clk = ctx;
    am_clock c = test_clock_make(clk);
    am_tiers_opts o = am_tiers_opts_default();
    am_tiers *t = NULL;
    am_status st;
    char id[16];
    am_str tags[2] = { AM_STR("t1"), AM_STR("t2") };
    am_tier_hits h = AM_TIER_HITS_INIT;
    am_tier_query q = am_tier_query_default();
    am_buf out = AM_BUF_INIT;
    am_tier_policy_count pc[4];

    o.alloc = a;
    o.clock = &c;
    o.capacity[AM_TIER_WORKING] = 4;
    o.capacity[AM_TIER_SHORT_TERM] = 4;
    o.move_log_cap = 8;
    o.move_log_keep = 6;       /* prunes at every flush */
    o.archive_step_bytes = 16; /* leaves archived items raw */
    if (oom_db != NULL) {
        char p[4300];
        unlink(oom_db);
        snprintf(p, sizeof p, "%s-wal", oom_db);
        unlink(p);
        snprintf(p, sizeof p, "%s-shm", oom_db);
        unlink(p);
        o.db_path = oom_db;
        o.flush_interval_ms = 3600000; /* flushes at close only */
    }
    st = am_tiers_open(&o, &t, NULL);
    if (st != AM_OK)
        return st;
    for (int i = 0; i < 20 && st == AM_OK; i++) {
        am_tier_item_in in = am_tier_item_in_default();
        snprintf(id, sizeof id, "k%d", i);
        in.content = AM_STR("content content content");
        in.tags = tags;
        in.tag_count = (size_t)(i % 3);
        in.type = am_str_c(i % 2 ? "a" : "b");
        in.importance = i % 2 ? 0.1 : 0.5; /* half get archived */
        st = am_tiers_store(t, am_str_c(id), &in);
        if (st == AM_OK)
            CHECK_EQ(am_tiers_count(t), (size_t)i + 1);
    }
    if (st == AM_OK)
        st = am_tiers_archive(t, AM_STR("k3"));
    if (st == AM_OK)
        st = am_tiers_restore(t, AM_STR("k3"));
    if (st == AM_OK)
        st = am_tiers_retrieve(t, AM_STR("k5"), &out, NULL);
    q.tags = tags;
    q.tag_count = 1;
    if (st == AM_OK)
        st = am_tiers_search(t, &q, &h);
    if (st == AM_OK)
        st = am_tiers_delete(t, AM_STR("k7"));
    if (st == AM_OK) {
        clk->now_ms += 40 * DAY;
        st = am_tiers_apply_policies(t, pc, 4, NULL);
        clk->now_ms -= 40 * DAY;
        if (st == AM_OK)
            CHECK(pc[0].acted >= 8);
    }
    if (st == AM_OK)
        st = am_tiers_optimize(t, NULL);
    /* Whatever failed, the handle still answers. */
    (void)am_tiers_peek(t, AM_STR("k0"), NULL, NULL);
    am_tier_hits_free(&h);
    am_buf_free(&out);
    {
        am_status cst = am_tiers_close(t, NULL);
        if (st == AM_OK)
            st = cst;
    }
    /* With a database: load what was written (three tables in lockstep,
     * raw archive items re-queued), under the same failing allocator. */
    if (st == AM_OK && oom_db != NULL) {
        st = am_tiers_open(&o, &t, NULL);
        if (st == AM_OK) {
            CHECK_EQ(am_tiers_count(t), 19); /* k7 was deleted */
            am_tiers_close(t, NULL);
        }
    }
    return st;
}

AM_TEST(oom_sweep_over_store_search_archive_and_policies)
{
    test_clock clk = { T0 };
    long runs;

    oom_db = NULL;
    runs = test_oom_sweep(oom_body, &clk);
    CHECK(runs > 50);
}

AM_TEST(oom_sweep_with_a_database)
{
    test_clock clk = { T0 };
    char tmpl[] = "/dev/shm/amtest.XXXXXX";
    char *dir, db[4200];
    long runs;

    /* Hundreds of runs each create and close a database: on tmpfs the
     * fsyncs cost nothing, elsewhere they take seconds. */
    dir = access("/dev/shm", W_OK) == 0 && mkdtemp(tmpl) != NULL
              ? strdup(tmpl)
              : test_tmpdir();
    snprintf(db, sizeof db, "%s/oom.db", dir);
    oom_db = db;
    runs = test_oom_sweep(oom_body, &clk);
    oom_db = NULL;
    CHECK(runs > 50);
    test_rmtree(dir);
    free(dir);
}

/* ---- OOM: a failed call changes nothing ---- */

/* Each mutating call runs under the failing allocator; one that answers
 * AM_ENOMEM is called again (the injected failure is spent) and must then
 * succeed. If every failed call left the handle as it was, the final state
 * -- counts, tier statistics, every item's description, search answers,
 * the custom index -- is the same as a run where nothing failed. */
typedef struct retry_ctx {
    test_clock clk;
    const char *db; /* NULL: memory only */
    am_buf want;    /* the fingerprint of the run without failures */
} retry_ctx;

#define RETRY(call)                                                     \
    do {                                                                \
        if (st == AM_OK && (st = (call)) == AM_ENOMEM)                  \
            st = (call);                                                \
    } while (0)

static am_status fingerprint(am_tiers *t, am_buf *fp)
{
    am_tier_stats ts[AM_TIER_COUNT];
    am_tier_hits h = AM_TIER_HITS_INIT;
    am_tier_query q = am_tier_query_default();
    am_str tag = AM_STR("t1");
    char id[16];
    am_status st;

    am_buf_clear(fp);
    st = am_tiers_stats(t, ts);
    if (st == AM_OK)
        st = am_buf_appendf(fp, "count %zu\n", am_tiers_count(t));
    for (int i = 0; st == AM_OK && i < AM_TIER_COUNT; i++)
        st = am_buf_appendf(fp, "tier %d: %zu\n", i, ts[i].count);
    for (int i = 0; st == AM_OK && i < 16; i++) {
        snprintf(id, sizeof id, "k%d", i);
        st = am_tiers_describe(t, am_str_c(id), fp);
        if (st == AM_ENOTFOUND)
            st = am_buf_appendf(fp, "%s gone", id);
        if (st == AM_OK)
            st = am_buf_append(fp, "\n", 1);
    }
    q.flags = AM_TIER_PEEK;
    q.tags = &tag;
    q.tag_count = 1;
    for (int pass = 0; pass < 2 && st == AM_OK; pass++) {
        if (pass == 1) {
            q.tags = NULL;
            q.tag_count = 0;
            q.index = "first_word";
            q.index_key = AM_STR("beta");
        }
        st = am_tiers_search(t, &q, &h);
        for (size_t i = 0; st == AM_OK && i < h.count; i++)
            st = am_buf_appendf(fp, "hit %.*s\n", (int)h.ids[i].len,
                                h.ids[i].ptr);
    }
    am_tier_hits_free(&h);
    return st;
}

static bool older_than_a_week(void *ctx, const am_tier_item *it,
                              int64_t now_ms)
{
    (void)ctx;
    return now_ms - it->created_ms > 7 * DAY;
}

static am_status retry_body(void *ctx, const am_allocator *a)
{
    retry_ctx *rc = ctx;
    test_clock clk = rc->clk;
    am_clock c = test_clock_make(&clk);
    am_tiers_opts o = am_tiers_opts_default();
    am_tiers *t = NULL;
    am_buf fp = AM_BUF_INIT, before = AM_BUF_INIT;
    am_str tags[3] = { AM_STR("t1"), AM_STR("t2"), AM_STR("t3") };
    am_tier_policy pol = { .name = "old_to_archive",
                           .condition = older_than_a_week,
                           .builtin = AM_TIER_ACT_ARCHIVE };
    static const char *words[] = { "alpha", "beta", "gamma" };
    char id[16], text[64];
    am_status st;

    o.alloc = a;
    o.clock = &c;
    o.capacity[AM_TIER_WORKING] = 4;
    o.capacity[AM_TIER_SHORT_TERM] = 4;
    o.move_log_cap = 8;
    o.move_log_keep = 6;
    o.archive_step_bytes = 16;
    if (rc->db != NULL) {
        char p[4300];
        unlink(rc->db);
        snprintf(p, sizeof p, "%s-wal", rc->db);
        unlink(p);
        snprintf(p, sizeof p, "%s-shm", rc->db);
        unlink(p);
        o.db_path = rc->db;
        o.flush_interval_ms = 3600000; /* flushes when told, and at close */
    }
    st = am_tiers_open(&o, &t, NULL);
    if (st != AM_OK)
        return st;
    RETRY(am_tiers_add_index(t, "first_word", key_first_word, NULL));
    for (int i = 0; i < 16 && st == AM_OK; i++) {
        am_tier_item_in in = am_tier_item_in_default();
        snprintf(id, sizeof id, "k%d", i);
        snprintf(text, sizeof text, "%s item %d of sixteen",
                 words[i % 3], i);
        in.content = am_str_c(text);
        in.tags = tags + i % 2;
        in.tag_count = (size_t)(i % 3);
        in.type = am_str_c(i % 2 ? "a" : "b");
        in.importance = i % 2 ? 0.1 : 0.6;
        in.extra = i % 4 ? AM_STR("") : AM_STR("{\"n\":1}");
        RETRY(am_tiers_store(t, am_str_c(id), &in));
        clk.now_ms += HOUR;
    }
    /* Replace an item (new tags, type and tier). */
    if (st == AM_OK) {
        am_tier_item_in in = am_tier_item_in_default();
        in.content = AM_STR("beta replaced");
        in.tags = tags + 2;
        in.tag_count = 1;
        in.type = AM_STR("c");
        in.tier = AM_TIER_LONG_TERM;
        /* A failed replace leaves the old item (and everything else). */
        st = fingerprint(t, &fp);
        if (st == AM_ENOMEM)
            st = fingerprint(t, &fp);
        if (st == AM_OK &&
            (st = am_tiers_store(t, AM_STR("k5"), &in)) == AM_ENOMEM) {
            am_buf post = AM_BUF_INIT;
            st = fingerprint(t, &post); /* the failure is spent */
            if (st == AM_OK && (post.len != fp.len ||
                                memcmp(post.ptr, fp.ptr, fp.len) != 0)) {
                print_error("a failed replace changed the tiers:\n%s\n"
                            "--- before:\n%s\n", post.ptr, fp.ptr);
                st = AM_EPROTO;
            }
            am_buf_free(&post);
            if (st == AM_OK)
                st = am_tiers_store(t, AM_STR("k5"), &in);
        }
    }
    RETRY(am_tiers_archive(t, AM_STR("k2")));
    RETRY(am_tiers_archive(t, AM_STR("k9")));
    RETRY(am_tiers_restore(t, AM_STR("k2")));
    RETRY(am_tiers_delete(t, AM_STR("k7")));
    if (rc->db != NULL)
        RETRY(am_tiers_flush(t));
    if (st == AM_OK) { /* the state before the policies */
        st = fingerprint(t, &fp);
        if (st == AM_ENOMEM)
            st = fingerprint(t, &fp);
        if (st == AM_OK)
            st = am_buf_append(&before, fp.ptr, fp.len);
    }
    RETRY(am_tiers_add_policy(t, &pol));
    if (st == AM_OK)
        clk.now_ms += 10 * DAY;
    RETRY(am_tiers_apply_policies(t, NULL, 0, NULL));
    RETRY(am_tiers_optimize(t, NULL));
    RETRY(am_tiers_compact(t, 0, NULL));
    if (st == AM_OK) {
        st = fingerprint(t, &fp);
        if (st == AM_ENOMEM)
            st = fingerprint(t, &fp);
        if (st == AM_OK)
            st = am_buf_append(&before, fp.ptr, fp.len);
        if (st == AM_OK) {
            am_buf tmp = fp;
            fp = before;
            before = tmp;
        }
    }
    if (rc->db != NULL) {
        /* What the database holds, read back without failures. */
        RETRY(am_tiers_flush(t));
        am_tiers_close(t, NULL);
        t = NULL;
        o.alloc = NULL;
        if (st == AM_OK)
            st = am_tiers_open(&o, &t, NULL);
        if (st == AM_OK)
            st = am_tiers_add_index(t, "first_word", key_first_word, NULL);
        if (st == AM_OK)
            st = am_buf_append(&fp, "--- reopened\n", 13);
        if (st == AM_OK) {
            am_buf tmp = AM_BUF_INIT;
            st = fingerprint(t, &tmp);
            if (st == AM_OK)
                st = am_buf_append(&fp, tmp.ptr, tmp.len);
            am_buf_free(&tmp);
        }
    }
    if (st == AM_OK && rc->want.len == 0) {
        st = am_buf_append(&rc->want, fp.ptr, fp.len);
    } else if (st == AM_OK &&
               (fp.len != rc->want.len ||
                memcmp(fp.ptr, rc->want.ptr, fp.len) != 0)) {
        print_error("state after a failed call differs:\n%s\n--- want:\n"
                    "%s\n", fp.ptr, rc->want.ptr);
        st = AM_EPROTO;
    }
    am_buf_free(&fp);
    am_buf_free(&before);
    am_tiers_close(t, NULL);
    return st;
}

AM_TEST(oom_failed_calls_change_nothing)
{
    retry_ctx rc = { { T0 }, NULL, AM_BUF_INIT };
    CHECK_OK(retry_body(&rc, NULL)); /* the reference run */
    CHECK(rc.want.len > 0);
    CHECK(test_oom_sweep(retry_body, &rc) > 50);
    am_buf_free(&rc.want);
}

/* The same with a database, flushed (retried) before the policies and at
 * the end, then reopened without failures: the database holds the same. */
AM_TEST(oom_failed_calls_change_nothing_in_the_database)
{
    char tmpl[] = "/dev/shm/amtest.XXXXXX";
    char *dir, db[4200];
    dir = access("/dev/shm", W_OK) == 0 && mkdtemp(tmpl) != NULL
              ? strdup(tmpl)
              : test_tmpdir();
    snprintf(db, sizeof db, "%s/retry.db", dir);
    retry_ctx rc = { { T0 }, db, AM_BUF_INIT };
    CHECK_OK(retry_body(&rc, NULL));
    CHECK(strstr(rc.want.ptr, "reopened") != NULL);
    CHECK(test_oom_sweep(retry_body, &rc) > 50);
    am_buf_free(&rc.want);
    test_rmtree(dir);
    free(dir);
}

/* Every failing jansson allocation: storing is AM_OK or AM_ENOMEM with
 * nothing stored (never "invalid" for valid JSON), describing gives the
 * unhooked document or AM_ENOMEM. */
AM_TEST(tiers_json_paths_are_whole_or_an_error_when_jansson_runs_out)
{
    test_clock clk = { T0 };
    am_tiers *t = open_t(&clk, 100, 1000, 0, NULL);
    am_buf want = AM_BUF_INIT, got = AM_BUF_INIT;
    am_str tags[] = { AM_STR("a"), AM_STR("b") };
    am_tier_item_in in = am_tier_item_in_default();
    am_status st;
    long n;

    in.content = AM_STR("{\"k\": [1, {\"j\": null}]}");
    in.flags = AM_TIER_JSON;
    in.type = AM_STR("fact");
    in.tags = tags;
    in.tag_count = 2;
    in.extra = AM_STR("{\"src\":\"unit\",\"n\":[1,2]}");
    CHECK_OK(am_tiers_store(t, AM_STR("x"), &in));
    CHECK_OK(am_tiers_describe(t, AM_STR("x"), &want));
    for (n = 1;; n++) {
        char id[32];
        size_t before = am_tiers_count(t);
        snprintf(id, sizeof id, "y%ld", n);
        jansson_fail_begin(n);
        st = am_tiers_store(t, am_str_c(id), &in);
        int all_tried = jansson_fail_end();
        if (st != AM_OK && st != AM_ENOMEM)
            fprintf(stderr, "n=%ld store: %s\n", n,
                    am_tiers_last_error(t)->msg);
        if (st == AM_OK) {
            CHECK_EQ(am_tiers_count(t), before + 1);
        } else {
            CHECK_EQ(st, AM_ENOMEM);
            CHECK_EQ(am_tiers_count(t), before);
        }
        if (all_tried)
            break;
    }
    CHECK(n > 2);
    for (n = 1;; n++) {
        am_buf_clear(&got);
        jansson_fail_begin(n);
        st = am_tiers_describe(t, AM_STR("x"), &got);
        int all_tried = jansson_fail_end();
        if (st == AM_OK)
            CHECK_STR_EQ(got.ptr, want.ptr);
        else
            CHECK_EQ(st, AM_ENOMEM);
        if (all_tried)
            break;
    }
    CHECK(n > 2);
    am_buf_free(&want);
    am_buf_free(&got);
    CHECK_OK(am_tiers_close(t, NULL));
}
