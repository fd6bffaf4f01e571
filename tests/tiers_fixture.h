/* tiers_fixture.h -- what the tiers tests share: a tiers handle on a test
 * clock, short-hand stores, and the fixtures more than one file uses.
 * Time is a test clock; nothing sleeps. */
#ifndef AM_TIERS_FIXTURE_H
#define AM_TIERS_FIXTURE_H

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

static inline am_tiers *open_t(test_clock *clk, size_t w, size_t s, size_t l,
                        const char *db)
{
    static am_clock c[64];
    static int n;
    am_tiers_opts o = am_tiers_opts_default();
    am_tiers *t = NULL;
    am_error err = { AM_OK, "" };

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

static inline am_status put(am_tiers *t, const char *id, const char *content,
                     double imp, am_tier tier)
{
    am_tier_item_in in = am_tier_item_in_default();

    in.content = am_str_c(content);
    in.importance = imp;
    in.tier = tier;
    return am_tiers_store(t, am_str_c(id), &in);
}

static inline am_tier tier_of(am_tiers *t, const char *id)
{
    am_tier_item v = AM_TIER_ITEM_INIT;
    am_tier tier;
    CHECK_OK_E(am_tiers_peek(t, am_str_c(id), NULL, &v),
               am_tiers_last_error(t));
    tier = v.tier;
    am_tier_item_free(&v);
    return tier;
}

static inline bool cond_type_scratch(void *ctx, const am_tier_item *it, int64_t now)
{
    (void)now;
    ++*(int *)ctx;
    return it->type.len == 7 && memcmp(it->type.ptr, "scratch", 7) == 0;
}

static inline am_status key_first_word(void *ctx, const am_tier_item *it,
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

static inline am_tiers *search_fixture(test_clock *clk, const char *db)
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

static inline int count_rows(const char *db, const char *sql)
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

#endif
