/* test_tiers_oom.c -- running out of memory: sweeps over every call, and
 * a failed call changes nothing (in memory and in the database). */
#include "tiers_fixture.h"

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

/* Search results and zstd's contexts come from the handle's allocator, so
 * a user allocator sees them and the sweeps above reach them. The hits
 * outlive the handle (they are the caller's) and go back to the same
 * allocator when freed. */
AM_TEST(hits_and_zstd_contexts_use_the_handles_allocator)
{
    test_clock clk = { T0 };
    am_clock c = test_clock_make(&clk);
    test_alloc ta = { 0 };
    am_allocator a = test_alloc_make(&ta);
    am_tiers_opts o = am_tiers_opts_default();
    am_tiers *t = NULL;
    am_tier_hits h = AM_TIER_HITS_INIT;
    am_tier_query q = am_tier_query_default();
    am_buf out = AM_BUF_INIT;
    char content[2000];
    size_t before;

    o.alloc = &a;
    o.clock = &c;
    CHECK_OK(am_tiers_open(&o, &t, NULL));
    for (size_t i = 0; i < sizeof content; i++)
        content[i] = (char)('a' + i % 7);
    for (int i = 0; i < 3; i++) {
        am_tier_item_in in = am_tier_item_in_default();
        char id[8];
        snprintf(id, sizeof id, "i%d", i);
        in.content = (am_str){ content, sizeof content };
        CHECK_OK(am_tiers_store(t, am_str_c(id), &in));
    }
    /* A compression context holds tens of KiB of tables, a decompression
     * context about 100 KiB: far more than the item itself. */
    before = ta.live;
    CHECK_OK(am_tiers_archive(t, AM_STR("i1")));
    CHECK(ta.live > before + 32768);
    before = ta.live;
    CHECK_OK(am_tiers_peek(t, AM_STR("i1"), &out, NULL));
    CHECK_EQ(out.len, sizeof content);
    CHECK(memcmp(out.ptr, content, out.len) == 0);
    CHECK(ta.live > before + 32768);
    am_buf_free(&out);

    q.flags = AM_TIER_PEEK;
    CHECK_OK(am_tiers_search(t, &q, &h));
    CHECK_EQ(h.count, 3);
    CHECK_OK(am_tiers_close(t, NULL));
    CHECK(ta.live_blocks == 2); /* the hits: ids and their text */
    CHECK_MEM_EQ(h.ids[2].ptr, h.ids[2].len, "i2");
    am_tier_hits_free(&h);
    CHECK_EQ(ta.live_blocks, 0);
    CHECK_EQ(ta.live, 0);
}
