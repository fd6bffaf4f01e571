/* test_tiers_db.c -- persistence: reopen, durability, the move log table,
 * migrations of old databases, corrupt and locked databases. */
#include "tiers_fixture.h"

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

/* The ids a search for items created on the day of `day_ms` finds. */
static void ids_created_on(am_tiers *t, int64_t day_ms, am_buf *out)
{
    am_tier_hits h = AM_TIER_HITS_INIT;
    am_tier_query q = am_tier_query_default();

    q.flags = AM_TIER_PEEK;
    q.created_from_ms = day_ms - day_ms % DAY;
    q.created_to_ms = q.created_from_ms + DAY - 1;
    am_buf_clear(out);
    CHECK_OK_E(am_tiers_search(t, &q, &h), am_tiers_last_error(t));
    for (size_t i = 0; i < h.count; i++)
        am_buf_appendf(out, "%.*s ", (int)h.ids[i].len, h.ids[i].ptr);
    am_tier_hits_free(&h);
}

/* A store remembers the creation day it last indexed (and its key in the
 * day index) so that the next one on that day needs no look-up. A reload
 * (another handle wrote) rebuilds the day index from the rows, with other
 * keys when a day has no item left: the memory must follow it, or the
 * next store lands in another day's list. */
AM_TEST(items_keep_their_creation_day_across_day_changes_and_reloads)
{
    test_clock ca = { T0 }, cb = { T0 - 5 * DAY };
    am_clock a_clk = test_clock_make(&ca), b_clk = test_clock_make(&cb);
    char *dir = test_tmpdir();
    char db[4200];
    am_tiers *a = NULL, *b = NULL;
    am_tiers_opts o = am_tiers_opts_default();
    am_error err = { AM_OK, "" };
    am_buf ids = AM_BUF_INIT;

    snprintf(db, sizeof db, "%s/days.db", dir);
    o.db_path = db;
    o.flush_interval_ms = 0; /* every call syncs and writes through */
    o.clock = &a_clk;
    CHECK_OK_E(am_tiers_open(&o, &a, &err), &err);
    /* Days in a's index: T0 - 2 days (key 0), then T0 (key 1). */
    ca.now_ms -= 2 * DAY;
    CHECK_OK(put(a, "gone", "x", 0.5, AM_TIER_WORKING));
    ca.now_ms += 2 * DAY;
    CHECK_OK(put(a, "a0", "x", 0.5, AM_TIER_WORKING));
    ca.now_ms -= 2 * DAY; /* back a day and forward again */
    CHECK_OK(put(a, "back", "x", 0.5, AM_TIER_WORKING));
    ca.now_ms += 2 * DAY;
    CHECK_OK(put(a, "a1", "x", 0.5, AM_TIER_WORKING));
    ids_created_on(a, T0, &ids);
    CHECK_STR_EQ(ids.ptr, "a0 a1 ");
    ids_created_on(a, T0 - 2 * DAY, &ids);
    CHECK_STR_EQ(ids.ptr, "gone back ");
    CHECK_OK(am_tiers_delete(a, AM_STR("gone")));
    CHECK_OK(am_tiers_delete(a, AM_STR("back")));

    /* b writes an item five days back; a reloads on its next call and
     * rebuilds its day index from the rows in order: T0 (key 0), then
     * T0 - 5 days (key 1), where T0 was key 1 before. */
    o.clock = &b_clk;
    CHECK_OK_E(am_tiers_open(&o, &b, &err), &err);
    CHECK_OK(put(b, "b0", "x", 0.5, AM_TIER_WORKING));
    CHECK_OK(put(a, "a2", "x", 0.5, AM_TIER_WORKING));
    ids_created_on(a, T0, &ids);
    CHECK_STR_EQ(ids.ptr, "a0 a1 a2 ");
    ids_created_on(a, T0 - 5 * DAY, &ids);
    CHECK_STR_EQ(ids.ptr, "b0 ");
    ids_created_on(a, T0 - 2 * DAY, &ids);
    CHECK_STR_EQ(ids.ptr, "");
    am_tiers_close(b, NULL);
    am_tiers_close(a, NULL);
    am_buf_free(&ids);
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
    am_error err = { AM_OK, "" };
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
    am_error err = { AM_OK, "" };
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
    am_error err = { AM_OK, "" };
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
        am_tier_item v = AM_TIER_ITEM_INIT;
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
        am_tier_item_free(&v);
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
    am_error err = { AM_OK, "" };
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
    am_error err = { AM_OK, "" };
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

    /* A sound frame, but the row says it holds 1 GB: refused before any
     * room is made for it (fuzz_tier_rows allocated the whole GB). */
    t = open_t(&clk, 100, 1000, 0, db);
    CHECK_OK(put(t, "y", "some content that compresses content content",
                 0.5, AM_TIER_ARCHIVE));
    CHECK_OK(am_tiers_close(t, NULL));
    CHECK_EQ(sqlite3_open(db, &h), SQLITE_OK);
    CHECK_EQ(sqlite3_exec(h, "UPDATE tier_items SET content_len = 1000000000"
                          " WHERE id = 'y'", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(h);
    {
        test_alloc ta = { 0 };
        am_allocator a = test_alloc_make(&ta);
        am_clock c = test_clock_make(&clk);
        am_tiers_opts ao = am_tiers_opts_default();
        ao.alloc = &a;
        ao.clock = &c;
        ao.db_path = db;
        CHECK_OK(am_tiers_open(&ao, &t, NULL));
        CHECK_ST(am_tiers_peek(t, AM_STR("y"), &out, NULL), AM_EFORMAT);
        CHECK(strstr(am_tiers_last_error(t)->msg, "cannot hold") != NULL);
        CHECK_ST(am_tiers_restore(t, AM_STR("y")), AM_EFORMAT);
        CHECK(ta.peak < 64u << 20);
        am_tiers_close(t, NULL);
    }

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
    am_tier_item v = AM_TIER_ITEM_INIT;

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
    am_tier_item_free(&v);
}

/* What opts.progress was told: the steps in order, each with its
 * reports. */
typedef struct progress_log {
    const char *steps[16];
    size_t nsteps, reports, last_done[16], last_total[16];
    bool backwards; /* a report below the one before in its step */
} progress_log;

static void log_progress(void *ctx, const char *step, size_t done,
                         size_t total)
{
    progress_log *l = ctx;

    if (l->nsteps == 0 || strcmp(l->steps[l->nsteps - 1], step) != 0) {
        if (l->nsteps == 16)
            return;
        l->steps[l->nsteps++] = step;
    } else if (done < l->last_done[l->nsteps - 1]) {
        l->backwards = true;
    }
    l->last_done[l->nsteps - 1] = done;
    l->last_total[l->nsteps - 1] = total;
    l->reports++;
}

AM_TEST(long_calls_report_each_step_through_the_progress_option)
{
    test_clock clk = { T0 };
    am_clock c = test_clock_make(&clk);
    char *dir = test_tmpdir();
    char db[4200];
    am_tiers_opts o = am_tiers_opts_default();
    am_tiers *t;
    progress_log l;
    am_error err = { AM_OK, "" };
    size_t demoted = 0;
    static const char *const want[] = { "demoting", "policies",
                                        "compressing", "writing" };

    snprintf(db, sizeof db, "%s/p.db", dir);
    t = open_t(&clk, 0, 0, 0, db);
    for (int i = 0; i < 5000; i++) {
        char id[16];
        snprintf(id, sizeof id, "p%04d", i);
        CHECK_OK(put(t, id, "an idle item of low importance", 0.2,
                     AM_TIER_WORKING));
    }
    CHECK_OK(am_tiers_close(t, NULL));

    memset(&l, 0, sizeof l);
    o.clock = &c;
    o.capacity[AM_TIER_WORKING] = 0;
    o.capacity[AM_TIER_SHORT_TERM] = 0;
    o.db_path = db;
    o.progress = log_progress;
    o.progress_ctx = &l;
    CHECK_OK_E(am_tiers_open(&o, &t, &err), &err);
    /* 5,000 items: a report at 4,096 and one at the end. */
    CHECK_EQ(l.nsteps, 1);
    CHECK_STR_EQ(l.steps[0], "loading");
    CHECK_EQ(l.reports, 2);
    CHECK_EQ(l.last_done[0], 5000);
    CHECK_EQ(l.last_total[0], 5000);

    memset(&l, 0, sizeof l);
    clk.now_ms += 32 * DAY;
    CHECK_OK(am_tiers_maintain(t, &demoted, NULL, 0, NULL));
    CHECK_EQ(demoted, 5000);
    CHECK_EQ(l.nsteps, 4);
    for (size_t i = 0; i < l.nsteps && i < 4; i++) {
        CHECK_STR_EQ(l.steps[i], want[i]);
        CHECK_EQ(l.last_done[i], l.last_total[i]);
    }
    CHECK_EQ(l.last_total[1], 3 * 5000); /* three default policies */
    CHECK(!l.backwards);
    CHECK_OK(am_tiers_close(t, NULL));

    /* Without the option nothing is called (the log stays as it was). */
    o.progress = NULL;
    memset(&l, 0, sizeof l);
    CHECK_OK_E(am_tiers_open(&o, &t, &err), &err);
    CHECK_EQ(am_tiers_count(t), 5000);
    CHECK_OK(am_tiers_close(t, NULL));
    CHECK_EQ(l.reports, 0);
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


/* A big handle keeps its small blobs in regions of its own (tiers_blob.c)
 * whether it stores them, loads them at open, or reloads them when
 * another connection wrote (the reload builds a new set of items and
 * trades it for the old one): every item reads back each way. */
static void check_big(am_tiers *t, int n)
{
    char id[32], content[64];
    am_buf out = AM_BUF_INIT;

    for (int i = 0; i < n; i++) {
        snprintf(id, sizeof id, "big-%d", i);
        snprintf(content, sizeof content, "content %d of a big handle", i);
        CHECK_OK_E(am_tiers_peek(t, am_str_c(id), &out, NULL),
                   am_tiers_last_error(t));
        CHECK_MEM_EQ(out.ptr, out.len, content);
    }
    am_buf_free(&out);
}

AM_TEST(a_big_handle_s_blobs_survive_reopen_and_reload)
{
    enum { N = 15000 };
    test_clock clk = { T0 };
    char *dir = test_tmpdir();
    char db[4200], id[32], content[64];
    am_tiers *a, *b = NULL;
    am_tiers_opts o = am_tiers_opts_default();
    am_error err = { AM_OK, "" };

    snprintf(db, sizeof db, "%s/big.db", dir);
    a = open_t(&clk, 100, 1000, 0, db);
    for (int i = 0; i < N; i++) {
        snprintf(id, sizeof id, "big-%d", i);
        snprintf(content, sizeof content, "content %d of a big handle", i);
        CHECK_OK(put(a, id, content, 0.5, AM_TIER_LONG_TERM));
    }
    check_big(a, N);
    CHECK_OK(am_tiers_close(a, NULL));
    o.db_path = db;
    o.flush_interval_ms = 0; /* every call syncs and writes through */
    CHECK_OK_E(am_tiers_open(&o, &a, &err), &err);
    check_big(a, N);
    CHECK_OK_E(am_tiers_open(&o, &b, &err), &err);
    CHECK_OK(put(b, "from-b", "written by b", 0.5, AM_TIER_LONG_TERM));
    CHECK_EQ(am_tiers_count(a), (size_t)N + 1); /* a reloads */
    check_big(a, N);
    am_tiers_close(b, NULL);
    am_tiers_close(a, NULL);
    test_rmtree(dir);
    free(dir);
}
