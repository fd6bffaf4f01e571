/* test_store_reembed.c -- am_store_reembed: a store whose embedder
 * changed gets every vector again from the new one. */
#include <stdlib.h>
#include <unistd.h>

#include "agentmem/store.h"
#include "harness.h"
#include "store_target.h"

#define NS1(a) ((am_ns){ (const am_str[]){ AM_STR(a) }, 1 })

static am_store *open_with(const char *path, const am_embedder *e,
                           test_clock *tc, am_clock *clk)
{
    am_store_opts o = am_store_opts_default();
    am_store *s = NULL;
    am_error err = { AM_OK, "" };
    *clk = test_clock_make(tc);
    o.clock = clk;
    o.embedder = e;
    CHECK_OK_E(am_store_open(path, &o, &s, &err), &err);
    return s;
}

static am_status put(am_store *s, const char *key, const char *text,
                     int64_t ttl)
{
    am_item_in it = { .ns = NS1("u"), .key = am_str_c(key),
                      .value = am_str_c(text), .ttl_ms = ttl };
    return am_store_put(s, &it);
}

static am_status vsearch(am_store *s, const char *query, am_results **r)
{
    am_search q = { .ns = NS1("u"), .query = am_str_c(query),
                    .mode = AM_SEARCH_VECTOR, .vec_floor = 0.01 };
    return am_store_search(s, &q, r);
}

typedef struct progress_log {
    size_t calls, last_done, total;
} progress_log;

static void on_progress(void *ctx, size_t done, size_t total)
{
    progress_log *p = ctx;
    CHECK(done >= p->last_done);
    CHECK(done <= total);
    p->calls++;
    p->last_done = done;
    p->total = total;
}

/* An embedder that fails: the network went away. */
static am_status down(void *ctx, const am_str *texts, size_t count,
                      float *out, am_error *err)
{
    (void)ctx, (void)texts, (void)count, (void)out;
    am_error_clear(err);
    if (err != NULL)
        snprintf(err->msg, sizeof err->msg, "connection refused");
    return AM_ENET;
}

AM_TEST(reembed_moves_every_vector_to_the_new_embedder)
{
    char *dir = test_tmpdir(), path[512];
    test_clock tc = { .now_ms = 1000 };
    am_clock clk;
    am_embedder *h16 = NULL, *h32 = NULL;
    am_embedder bad = { "down/32", 32, down, NULL, NULL, NULL };
    am_results *r = NULL;
    progress_log pl = { 0 };
    size_t n = 99;
    am_store *s;

    test_store_target(dir, "t.db", path, sizeof path);
    CHECK_OK(am_embedder_hash_create(16, NULL, &h16, NULL));
    CHECK_OK(am_embedder_hash_create(32, NULL, &h32, NULL));
    s = open_with(path, h16, &tc, &clk);
    CHECK_OK(put(s, "a", "\"the red bicycle in the garden\"", 0));
    CHECK_OK(put(s, "b", "\"a recipe for lemon cake\"", 0));
    CHECK_OK(put(s, "c", "\"train tickets to Porto\"", 0));
    CHECK_OK(put(s, "gone", "\"soon expired\"", 10));
    CHECK_OK(put(s, "del", "\"deleted item\"", 0));
    CHECK_OK(am_store_delete(s, NS1("u"), AM_STR("del")));
    am_store_close(s);

    /* Another embedder: the old vectors block puts and vector search. */
    tc.now_ms = 2000;
    s = open_with(path, h32, &tc, &clk);
    CHECK_ST(put(s, "d", "\"blue bicycle\"", 0), AM_EINVAL);
    CHECK_ST(vsearch(s, "bicycle", &r), AM_EINVAL);

    /* A failing embedder changes nothing and names itself. */
    am_store_close(s);
    s = open_with(path, &bad, &tc, &clk);
    CHECK_ST(am_store_reembed(s, NULL, NULL, &n), AM_ENET);
    CHECK_EQ(n, 0);
    CHECK(strstr(am_store_last_error(s)->msg, "embedder 'down/32' failed "
                 "on item 1 of 3: connection refused") != NULL);
    am_store_close(s);
    s = open_with(path, h16, &tc, &clk);
    CHECK_OK(vsearch(s, "bicycle", &r)); /* the old index is intact */
    CHECK(r->count > 0);
    am_results_free(r);
    am_store_close(s);

    /* Re-embedded: the new embedder's puts and searches work. */
    s = open_with(path, h32, &tc, &clk);
    CHECK_OK_E(am_store_reembed(s, on_progress, &pl, &n),
               am_store_last_error(s));
    CHECK_EQ(n, 3); /* live items only */
    CHECK(pl.calls >= 2);
    CHECK_EQ(pl.last_done, 3);
    CHECK_EQ(pl.total, 3);
    CHECK_OK(put(s, "d", "\"blue bicycle\"", 0));
    CHECK_OK(vsearch(s, "red bicycle garden", &r));
    CHECK(r->count >= 2);
    CHECK_MEM_EQ(r->items[0].key.ptr, r->items[0].key.len, "a");
    am_results_free(r);
    /* The deleted item lost its old vector; an undo embeds it again with
     * the store's embedder, so it is found by vector again. */
    CHECK_OK(am_store_undo(s, NS1("u"), AM_STR("del")));
    CHECK_OK(vsearch(s, "deleted item", &r));
    CHECK(r->count > 0);
    CHECK_MEM_EQ(r->items[0].key.ptr, r->items[0].key.len, "del");
    am_results_free(r);
    am_store_close(s);

    /* The old embedder is now the mismatch. */
    s = open_with(path, h16, &tc, &clk);
    CHECK_ST(put(s, "e", "\"x\"", 0), AM_EINVAL);
    am_store_close(s);

    /* No embedder: nothing to re-embed with. */
    s = open_with(path, NULL, &tc, &clk);
    CHECK_ST(am_store_reembed(s, NULL, NULL, &n), AM_EINVAL);
    CHECK(strstr(am_store_last_error(s)->msg, "no embedder") != NULL);
    am_store_close(s);
    CHECK_ST(am_store_reembed(NULL, NULL, NULL, &n), AM_EINVAL);

    am_embedder_free(h16);
    am_embedder_free(h32);
    test_rmtree(dir);
    free(dir);
}
