/* test_tiers.c -- hierarchical memory: storing, promotion, capacity,
 * optimize and the moves it logs, archive and restore. */
#include "tiers_fixture.h"

/* ---- Basics ---- */

AM_TEST(store_then_retrieve_returns_content_and_counts_access)
{
    test_clock clk = { T0 };
    am_tiers *t = open_t(&clk, 100, 1000, 0, NULL);
    am_buf out = AM_BUF_INIT;
    am_tier_item v = AM_TIER_ITEM_INIT;
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
    am_tier_item_free(&v);
}

/* am_tiers_store_read gives what a peek right after the store gives, in
 * the working tier, after a replacement and in the archive (no content). */
AM_TEST(store_read_returns_the_stored_item)
{
    test_clock clk = { T0 };
    am_tiers *t = open_t(&clk, 100, 1000, 0, NULL);
    am_tier_item v = AM_TIER_ITEM_INIT, p = AM_TIER_ITEM_INIT;
    am_str tags[] = { AM_STR("b"), AM_STR("a") };
    am_tier_item_in in = am_tier_item_in_default();

    in.content = AM_STR("first");
    in.type = AM_STR("fact");
    in.tags = tags;
    in.tag_count = 2;
    in.importance = 0.75;
    in.extra = AM_STR("{\"src\":\"unit\"}");
    CHECK_OK(am_tiers_store_read(t, AM_STR("x"), &in, &v));
    CHECK_OK(am_tiers_peek(t, AM_STR("x"), NULL, &p));
    CHECK_MEM_EQ(v.id.ptr, v.id.len, "x");
    CHECK_MEM_EQ(v.content.ptr, v.content.len, "first");
    CHECK_EQ(v.content_len, 5);
    CHECK_MEM_EQ(v.type.ptr, v.type.len, "fact");
    CHECK_EQ(v.tag_count, 2);
    CHECK_MEM_EQ(v.tags[0].ptr, v.tags[0].len, "b");
    CHECK_MEM_EQ(v.extra.ptr, v.extra.len, "{\"src\":\"unit\"}");
    CHECK_EQ(v.tier, p.tier);
    CHECK_EQ(v.created_ms, p.created_ms);
    CHECK_EQ(v.access_count, 0);
    CHECK(v.importance == 0.75);
    /* A replacement: the copy is the new item (reusing v's storage). */
    clk.now_ms += 1000;
    in.content = AM_STR("second, longer than the first");
    in.tag_count = 0;
    in.tier = AM_TIER_LONG_TERM;
    CHECK_OK(am_tiers_store_read(t, AM_STR("x"), &in, &v));
    CHECK_MEM_EQ(v.content.ptr, v.content.len,
                 "second, longer than the first");
    CHECK_EQ(v.tier, AM_TIER_LONG_TERM);
    CHECK_EQ(v.tag_count, 0);
    CHECK_EQ(v.created_ms, T0 + 1000);
    CHECK_EQ(am_tiers_count(t), 1);
    /* The archive holds it compressed: no content, its length. */
    in.tier = AM_TIER_ARCHIVE;
    CHECK_OK(am_tiers_store_read(t, AM_STR("y"), &in, &v));
    CHECK(v.content.ptr == NULL);
    CHECK_EQ(v.content_len, 29);
    CHECK_EQ(v.tier, AM_TIER_ARCHIVE);
    /* Bad input: NULL info, and a bad id (the message names it). */
    CHECK_ST(am_tiers_store_read(t, AM_STR("z"), &in, NULL), AM_EINVAL);
    CHECK(strstr(am_tiers_last_error(t)->msg, "info") != NULL);
    CHECK_ST(am_tiers_store_read(t, AM_STR(""), &in, &v), AM_EINVAL);
    CHECK(strstr(am_tiers_last_error(t)->msg, "id") != NULL);
    CHECK_EQ(am_tiers_count(t), 2);
    am_tier_item_free(&v);
    am_tier_item_free(&p);
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
    am_tier_item v = AM_TIER_ITEM_INIT;

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
    am_tier_item_free(&v);
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

/* The eviction selects the lowest tenth instead of sorting the tier: it
 * must still demote exactly the k lowest scores, lowest first, with ties
 * in creation order, wherever they sit in the tier. */
AM_TEST(eviction_demotes_exactly_the_lowest_tenth_lowest_first)
{
    for (int round = 0; round < 3; round++) {
        test_clock clk = { T0 };
        am_tiers *t = open_t(&clk, 300, 1000, 0, NULL);
        moves_seen ms = { 0 };
        int perm[300];
        char id[16];
        uint64_t seed = 0x9e3779b97f4a7c15ull * (uint64_t)(round + 1);

        for (int i = 0; i < 300; i++)
            perm[i] = i;
        for (int i = 299; i > 0; i--) {
            int j;
            seed = seed * 6364136223846793005ull + 1442695040888963407ull;
            j = (int)((seed >> 33) % (uint64_t)(i + 1));
            int x = perm[i];
            perm[i] = perm[j];
            perm[j] = x;
        }
        /* Item "r<v>" has importance v/1000 (round 2: v/10 rounded down,
         * so runs of ten tie and creation order decides). */
        for (int i = 0; i < 300; i++) {
            int v = perm[i];
            double imp = round == 2 ? (v / 10) / 100.0 : v / 1000.0;
            snprintf(id, sizeof id, "r%03d", v);
            CHECK_OK(put(t, id, "c", imp, AM_TIER_WORKING));
        }
        CHECK_OK(put(t, "new", "c", 0.9, AM_TIER_WORKING));
        CHECK_OK(am_tiers_moves(t, 64, on_move, &ms, NULL));
        CHECK_EQ(ms.n, 30);
        if (round < 2) {
            for (int i = 0; i < 30; i++) {
                snprintf(id, sizeof id, "r%03d", i);
                CHECK_STR_EQ(ms.ids[i], id);
                CHECK_EQ(ms.reason[i], AM_TIER_REASON_CAPACITY);
            }
        } else {
            /* The 30 lowest are v 0..29 (three tie groups); within a group
             * the item stored first goes first. */
            int seen[30] = { 0 };
            for (int i = 0; i < 30; i++) {
                int v = atoi(ms.ids[i] + 1);
                CHECK(v < 30);
                CHECK(!seen[v]);
                seen[v] = 1;
                CHECK(i / 10 == v / 10);
                if (i % 10 > 0) {
                    int pv = atoi(ms.ids[i - 1] + 1), pi = -1, ci = -1;
                    for (int k = 0; k < 300; k++) {
                        if (perm[k] == pv)
                            pi = k;
                        if (perm[k] == v)
                            ci = k;
                    }
                    CHECK(pi < ci);
                }
            }
        }
        am_tiers_close(t, NULL);
    }
}

/* A full move log reuses the copy of the entry it drops when the new id
 * has the same length, and allocates one otherwise: either way the log
 * holds the last move_log_cap moves with their own ids (a reused copy
 * that kept the old bytes, or was freed with the wrong size under ASan,
 * fails here). */
AM_TEST(a_full_move_log_keeps_the_newest_ids_whatever_their_length)
{
    test_clock clk = { T0 };
    am_clock c = test_clock_make(&clk);
    am_tiers_opts o = am_tiers_opts_default();
    am_tiers *t = NULL;
    am_error err = { AM_OK, "" };
    moves_seen ms = { 0 };
    uint64_t total = 0;
    /* Working holds one item, so each store demotes the one before it:
     * moves a1 b2 c333 d4 e55 f666; d4 reuses a1's copy, e55 does not fit
     * b2's (b2's is freed), f666 reuses c333's. */
    static const char *const ids[] = { "a1", "b2", "c333", "d4", "e55",
                                       "f666", "g7" };

    o.clock = &c;
    o.capacity[AM_TIER_WORKING] = 1;
    o.move_log_cap = 3;
    CHECK_OK_E(am_tiers_open(&o, &t, &err), &err);
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
        clk.now_ms += 10;
        CHECK_OK(put(t, ids[i], "x", 0.5, AM_TIER_WORKING));
    }
    CHECK_OK(am_tiers_moves(t, 10, on_move, &ms, &total));
    CHECK_EQ(total, 6);
    CHECK_EQ(ms.n, 3);
    CHECK_STR_EQ(ms.ids[0], "d4");
    CHECK_STR_EQ(ms.ids[1], "e55");
    CHECK_STR_EQ(ms.ids[2], "f666");
    for (int i = 0; i < 3; i++) {
        CHECK_EQ(ms.from[i], AM_TIER_WORKING);
        CHECK_EQ(ms.to[i], AM_TIER_SHORT_TERM);
        CHECK_EQ(ms.reason[i], AM_TIER_REASON_CAPACITY);
    }
    am_tiers_close(t, NULL);
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
    am_tier_item v = AM_TIER_ITEM_INIT;
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
    am_tier_item_free(&v);
}


/* ---- The id table's load hint ---- */

/* An allocator that hands out memory from two regions far apart (16 GiB
 * or more), alternating, so that about half of the ids sit farther from
 * the table's hint base than a 32-bit distance reaches (see tent in
 * tiers_int.h): those entries have no hint, and their look-ups must still
 * find the item through its record. Bump allocation; free is a no-op. */
#include <sys/mman.h>

#define FAR_REGION ((size_t)64 << 20)

typedef struct far_alloc {
    char *base[2];
    size_t used[2];
    unsigned next;
} far_alloc;

static void *far_get(void *ctx, size_t size)
{
    far_alloc *f = ctx;
    unsigned r = f->next++ & 1u;
    size_t at = (f->used[r] + 15) & ~(size_t)15;

    if (at + size > FAR_REGION)
        return NULL;
    f->used[r] = at + size;
    return f->base[r] + at;
}

static void *far_reget(void *ctx, void *p, size_t old, size_t size)
{
    void *q = far_get(ctx, size);

    if (q != NULL)
        memcpy(q, p, old < size ? old : size);
    return q;
}

static void far_put(void *ctx, void *p, size_t size)
{
    (void)ctx;
    (void)p;
    (void)size;
}

/* Store n items "<prefix>-<i>" into `tier`, delete every `every`-th
 * (i % every == 0), then check that each deleted one is gone and every
 * other one reads back its content. */
static void store_delete_check(am_tiers *t, const char *prefix, int n,
                               int every, am_tier tier)
{
    char id[32], content[64];
    am_buf out = AM_BUF_INIT;

    for (int i = 0; i < n; i++) {
        snprintf(id, sizeof id, "%s-%d", prefix, i);
        snprintf(content, sizeof content, "content of item %d", i);
        CHECK_OK(put(t, id, content, 0.5, tier));
    }
    for (int i = 0; i < n; i += every) {
        snprintf(id, sizeof id, "%s-%d", prefix, i);
        CHECK_OK(am_tiers_delete(t, am_str_c(id)));
    }
    for (int i = 0; i < n; i++) {
        snprintf(id, sizeof id, "%s-%d", prefix, i);
        snprintf(content, sizeof content, "content of item %d", i);
        if (i % every == 0) {
            CHECK_ST(am_tiers_retrieve(t, am_str_c(id), &out, NULL),
                     AM_ENOTFOUND);
            continue;
        }
        CHECK_OK(am_tiers_retrieve(t, am_str_c(id), &out, NULL));
        CHECK_EQ(out.len, strlen(content));
        CHECK(memcmp(out.ptr, content, out.len) == 0);
    }
    am_buf_free(&out);
}

AM_TEST(ids_out_of_the_hint_range_are_still_found)
{
    far_alloc f = { { NULL, NULL }, { 0, 0 }, 0 };
    am_allocator a = { far_get, far_reget, far_put, &f };
    am_tiers_opts o = am_tiers_opts_default();
    am_tiers *t = NULL;
    am_buf out = AM_BUF_INIT;
    uintptr_t d;

    f.base[0] = mmap(NULL, FAR_REGION, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(f.base[0] != MAP_FAILED);
    /* A hint only: wherever the kernel puts it, check the distance. */
    f.base[1] = mmap(f.base[0] + ((size_t)16 << 30), FAR_REGION,
                     PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1,
                     0);
    CHECK(f.base[1] != MAP_FAILED);
    d = (uintptr_t)f.base[1] > (uintptr_t)f.base[0]
            ? (uintptr_t)f.base[1] - (uintptr_t)f.base[0]
            : (uintptr_t)f.base[0] - (uintptr_t)f.base[1];
    CHECK(d > ((uintptr_t)4 << 30));
    o.alloc = &a;
    o.capacity[AM_TIER_WORKING] = 100;
    o.capacity[AM_TIER_SHORT_TERM] = 1000;
    CHECK_OK(am_tiers_open(&o, &t, NULL));
    /* Enough items to grow (rehash) the table several times. */
    store_delete_check(t, "far", 3000, 3, AM_TIER_WORKING);
    CHECK_ST(am_tiers_retrieve(t, AM_STR("far-3000"), &out, NULL),
             AM_ENOTFOUND);
    am_buf_free(&out);
    am_tiers_close(t, NULL);
    munmap(f.base[0], FAR_REGION);
    munmap(f.base[1], FAR_REGION);
}

/* Past the first T_HEAP_CHUNKS chunks (12,288 records) the records come
 * 23 chunks at a time in 2 MiB regions, and from 1 MiB on the id table
 * too (huge.c; on huge pages with the default allocator). 100,000 items
 * cross four regions and two table sizes on both paths: every item reads
 * back, a deleted slot is reused, and closing frees exactly what was
 * allocated (a caller's allocator ends with no live block). */
AM_TEST(items_past_the_first_chunks_live_in_regions_and_are_freed)
{
    enum { N = 100000 };

    for (int path = 0; path < 2; path++) {
        test_alloc ta = { 0 };
        am_allocator a = test_alloc_make(&ta);
        am_tiers_opts o = am_tiers_opts_default();
        am_tiers *t = NULL;
        am_buf out = AM_BUF_INIT;

        o.alloc = path == 0 ? NULL : &a;
        o.capacity[AM_TIER_WORKING] = 2 * N;
        o.capacity[AM_TIER_SHORT_TERM] = 2 * N;
        o.capacity[AM_TIER_LONG_TERM] = 2 * N;
        CHECK_OK(am_tiers_open(&o, &t, NULL));
        store_delete_check(t, "r", N, 7, AM_TIER_LONG_TERM);
        CHECK_OK(put(t, "r-new", "a new item", 0.5, AM_TIER_LONG_TERM));
        CHECK_OK(am_tiers_retrieve(t, AM_STR("r-new"), &out, NULL));
        CHECK_EQ(out.len, 10);
        CHECK_EQ(am_tiers_count(t), (size_t)(N - (N + 6) / 7 + 1));
        am_buf_free(&out);
        am_tiers_close(t, NULL);
        CHECK_EQ(ta.live_blocks, 0);
    }
}

/* A big handle's small blobs (up to 512 bytes: tag ids, id, extra and
 * content) come from 2 MiB regions of their own with the default
 * allocator (tiers_blob.c), and the id table's hint names them by region
 * and offset. Items of every size class and beyond it, with 0-3 tags (the
 * id then starts 4-12 bytes into its blob), go through both paths:
 * archived (a compressed blob replaces the raw one), restored, deleted
 * and stored again (a freed blob is reused), and every one reads back;
 * a caller's allocator still gets every block back at close. */
static void blob_item(int i, int gen, char *id, size_t idcap, char *content,
                      size_t ccap)
{
    size_t len = (size_t)((i * 37 + gen * 11) % 700), n;

    snprintf(id, idcap, "%.*s-%d", 1 + i % 9, "blobblobb", i);
    n = (size_t)snprintf(content, ccap, "%d/%d:", i, gen);
    for (; n < len && n + 1 < ccap; n++)
        content[n] = (char)('a' + (i + (int)n) % 26);
    content[n] = '\0';
}

static void blob_check(am_tiers *t, int n, int every_del, int gen_of_del)
{
    char id[32], content[800];
    am_buf out = AM_BUF_INIT;
    am_tier_item v = AM_TIER_ITEM_INIT;

    for (int i = 0; i < n; i++) {
        blob_item(i, i % every_del == 0 ? gen_of_del : 0, id, sizeof id,
                  content, sizeof content);
        CHECK_OK_E(am_tiers_peek(t, am_str_c(id), &out, &v),
                   am_tiers_last_error(t));
        CHECK_MEM_EQ(out.ptr, out.len, content);
        CHECK_MEM_EQ(v.id.ptr, v.id.len, id);
        CHECK_EQ(v.tag_count, (size_t)(i % 4));
    }
    am_tier_item_free(&v);
    am_buf_free(&out);
}

AM_TEST(small_blobs_of_a_big_handle_come_from_regions_and_read_back)
{
    enum { N = 20000 };
    am_str tags[] = { AM_STR("t0"), AM_STR("t1"), AM_STR("t2") };

    for (int path = 0; path < 2; path++) {
        test_alloc ta = { 0 };
        am_allocator a = test_alloc_make(&ta);
        am_tiers_opts o = am_tiers_opts_default();
        am_tiers *t = NULL;
        char id[32], content[800];

        o.alloc = path == 0 ? NULL : &a;
        o.capacity[AM_TIER_WORKING] = 2 * N;
        o.capacity[AM_TIER_SHORT_TERM] = 2 * N;
        o.capacity[AM_TIER_LONG_TERM] = 2 * N;
        CHECK_OK(am_tiers_open(&o, &t, NULL));
        for (int i = 0; i < N; i++) {
            am_tier_item_in in = am_tier_item_in_default();
            blob_item(i, 0, id, sizeof id, content, sizeof content);
            in.content = am_str_c(content);
            in.tier = AM_TIER_LONG_TERM;
            in.tags = tags;
            in.tag_count = (size_t)(i % 4);
            if (i % 5 == 0)
                in.extra = AM_STR("{\"k\":1}");
            CHECK_OK(am_tiers_store(t, am_str_c(id), &in));
        }
        /* Archive every 3rd (compressed in place), restore every 6th. */
        for (int i = 0; i < N; i += 3) {
            blob_item(i, 0, id, sizeof id, content, sizeof content);
            CHECK_OK(am_tiers_archive(t, am_str_c(id)));
            if (i % 6 == 0)
                CHECK_OK(am_tiers_restore(t, am_str_c(id)));
        }
        blob_check(t, N, 1, 0);
        /* Delete every 4th and store it again with another size. */
        for (int i = 0; i < N; i += 4) {
            am_tier_item_in in = am_tier_item_in_default();
            blob_item(i, 0, id, sizeof id, content, sizeof content);
            CHECK_OK(am_tiers_delete(t, am_str_c(id)));
            blob_item(i, 1, id, sizeof id, content, sizeof content);
            in.content = am_str_c(content);
            in.tier = AM_TIER_LONG_TERM;
            in.tags = tags;
            in.tag_count = (size_t)(i % 4);
            CHECK_OK(am_tiers_store(t, am_str_c(id), &in));
        }
        blob_check(t, N, 4, 1);
        am_tiers_close(t, NULL);
        CHECK_EQ(ta.live_blocks, 0);
    }
}
