/* test_store_oom.c -- the store when memory runs out: result JSON and
 * metadata filters when jansson fails, and OOM sweeps over every store
 * entry point and the vector cache. */
#include <unistd.h>

#include <jansson.h>

#include "jansson_fail.h"
#include "store_fixture.h"

/* Whatever allocation of jansson fails, the JSON of a result list is
 * complete or an error, never AM_OK with fields missing. */
AM_TEST(results_json_is_complete_or_an_error_when_memory_runs_out)
{
    fixture f;
    am_results *r = NULL;
    am_buf js = AM_BUF_INIT;
    am_status st;
    long n;

    fx_open(&f, 0);
    for (int i = 0; i < 3; i++) {
        char key[8];
        snprintf(key, sizeof key, "k%d", i);
        CHECK_OK(put(f.s, NS2("u", "notes"), key, "{\"text\":\"x\"}", 0));
    }
    CHECK_OK(am_store_list(f.s, NS1("u"), 0, 0, &r));
    CHECK_EQ(r->count, 3);
    for (n = 1;; n++) {
        jansson_fail_begin(n);
        st = am_results_to_json(r, 1, &js, NULL);
        int all_tried = jansson_fail_end();
        if (st == AM_OK) {
            CHECK_EQ(jansson_fail_count(js.ptr, "\"updated_ms\":"), 3);
            CHECK_EQ(jansson_fail_count(js.ptr, "\"vec_score\":"), 3);
            CHECK_EQ(jansson_fail_count(js.ptr, "\"namespace\":[\"u\",\"notes\"]"), 3);
            /* Stored JSON is embedded as JSON, not as a string. */
            CHECK_EQ(jansson_fail_count(js.ptr, "\"value\":{\"text\":\"x\"}"), 3);
        } else {
            CHECK_EQ(st, AM_ENOMEM);
        }
        if (all_tried)
            break;
    }
    CHECK(n > 10);
    am_results_free(r);
    am_buf_free(&js);
    fx_close(&f);
}

/* A metadata filter jansson cannot apply for want of memory is an error,
 * not a hit left out; a value or item it cannot parse is AM_ENOMEM, not
 * "invalid". */
AM_TEST(search_filter_and_session_add_fail_whole_when_jansson_runs_out)
{
    fixture f;
    am_results *r = NULL;
    am_status st;
    long n;
    static const am_search_mode modes[] = { AM_SEARCH_TEXT, AM_SEARCH_VECTOR,
                                            AM_SEARCH_HYBRID };

    fx_open(&f, 1);
    am_item_in items[] = {
        { .ns = NS2("u", "notes"), .key = AM_STR("1"),
          .value = AM_STR("\"auth bug one\""),
          .meta = AM_STR("{\"topic\":\"bugs\",\"prio\":2}") },
        { .ns = NS2("u", "notes"), .key = AM_STR("2"),
          .value = AM_STR("\"auth bug two\""),
          .meta = AM_STR("{\"topic\":\"bugs\",\"prio\":2}") },
        { .ns = NS2("u", "notes"), .key = AM_STR("3"),
          .value = AM_STR("\"auth bug three\""),
          .meta = AM_STR("{\"topic\":\"food\"}") },
    };
    CHECK_OK(am_store_put_many(f.s, items, 3));
    for (size_t m = 0; m < sizeof modes / sizeof *modes; m++) {
        am_search q = { .ns = NS1("u"), .query = AM_STR("auth bug"),
                        .filter = AM_STR("{\"prio\":2}"), .mode = modes[m] };
        for (n = 1;; n++) {
            jansson_fail_begin(n);
            st = am_store_search(f.s, &q, &r);
            int all_tried = jansson_fail_end();
            if (st == AM_OK) {
                CHECK_EQ(r->count, 2);
                am_results_free(r);
                r = NULL;
            } else {
                CHECK_EQ(st, AM_ENOMEM);
            }
            if (all_tried)
                break;
        }
        CHECK(n > 2);
    }
    /* Values jansson decides on (not the common case) and session items. */
    const am_str sess[] = { AM_STR("{\"role\":\"user\",\"n\":1}"),
                            AM_STR("[1,2,{\"a\":null}]") };
    for (n = 1;; n++) {
        char key[24];
        snprintf(key, sizeof key, "v%ld", n);
        am_item_in it = { .ns = NS1("w"), .key = am_str_c(key),
                          .value = AM_STR(" [ 1 , {\"b\" : [true]} ] ") };
        jansson_fail_begin(n);
        st = am_store_put(f.s, &it);
        am_status st2 = am_session_add(f.s, AM_STR("u"), AM_STR("s1"), sess,
                                       2);
        int all_tried = jansson_fail_end();
        if (st2 != AM_OK && st2 != AM_ENOMEM)
            fprintf(stderr, "n=%ld: %s\n", n, am_store_last_error(f.s)->msg);
        CHECK(st == AM_OK || st == AM_ENOMEM);
        CHECK(st2 == AM_OK || st2 == AM_ENOMEM);
        if (all_tried)
            break;
    }
    CHECK(n > 2);
    fx_close(&f);
}

/* ---- OOM sweep over put + search ---- */

/* A call that hands back results answers AM_OK with results or an error
 * without them, never AM_OK with none: takes the call's status and its
 * results (freed here, *r reset), answers AM_EPROTO for that case. */
static am_status answered(am_status st, am_results **r)
{
    if (st == AM_OK && *r == NULL)
        st = AM_EPROTO;
    am_results_free(*r);
    *r = NULL;
    return st;
}

static am_status oom_body(void *ctx, const am_allocator *alloc)
{
    const char *path = ctx;
    am_store_opts o = am_store_opts_default();
    am_store *s = NULL;
    am_results *r = NULL;
    o.alloc = alloc;
    am_status st = am_store_open(path, &o, &s, NULL);
    if (st != AM_OK)
        return st;
    am_item_in it = { .ns = NS2("o", "m"), .key = AM_STR("k"),
                      .value = AM_STR("{\"t\":\"memory under pressure\"}"),
                      .meta = AM_STR("{\"a\":1}") };
    am_search q = { .ns = NS1("o"), .query = AM_STR("pressure"),
                    .mode = AM_SEARCH_TEXT };
    st = am_store_put(s, &it);
    if (st == AM_OK)
        st = answered(am_store_search(s, &q, &r), &r);
    if (st == AM_OK)
        st = answered(am_store_list(s, NS1("o"), 0, 0, &r), &r);
    if (st == AM_OK)
        st = answered(am_store_namespaces(s, NS1("o"), 0, 0, &r), &r);
    if (st == AM_OK)
        st = answered(am_store_history(s, NS2("o", "m"), AM_STR("k"),
                                       &r), &r);
    /* Empty answers too (their results hold no arena block yet). */
    if (st == AM_OK)
        st = answered(am_store_list(s, NS1("empty"), 0, 0, &r), &r);
    if (st == AM_OK)
        st = answered(am_store_namespaces(s, NS1("empty"), 0, 0,
                                          &r), &r);
    am_store_close(s);
    return st;
}

/* Loading the vector cache grows its arrays (1,024 entries, then 2,048):
 * memory running out at any allocation of a vector search leaves no block
 * behind and frees every block by the size it was allocated with (the
 * sweep's allocator counts bytes). */
static am_status oom_vec_body(void *ctx, const am_allocator *alloc)
{
    const char *path = ctx;
    am_store_opts o = am_store_opts_default();
    am_store *s = NULL;
    am_results *r = NULL;
    float qv[4] = { 1, 0.5f, 0, 0 };
    o.alloc = alloc;
    am_status st = am_store_open(path, &o, &s, NULL);
    if (st != AM_OK)
        return st;
    am_search q = { .ns = NS1("v"), .vec = qv, .dim = 4,
                    .mode = AM_SEARCH_VECTOR, .limit = 3 };
    st = am_store_search(s, &q, &r);
    if (st == AM_OK && (r == NULL || r->count != 3))
        st = AM_EPROTO;
    am_results_free(r);
    am_store_close(s);
    return st;
}

AM_TEST(oom_sweep_vector_cache_growth)
{
    char *dir = test_tmpdir(), path[512];
    am_store *s;
    static am_item_in items[1100];
    static float vecs[1100][4];
    static char keys[1100][16];
    am_ns ns = NS1("v"); /* one compound literal for every item */

    snprintf(path, sizeof path, "%s/vec.db", dir);
    CHECK_OK(am_store_open(path, NULL, &s, NULL));
    for (int i = 0; i < 1100; i++) {
        vecs[i][0] = 1;
        vecs[i][1] = (float)i / 1100;
        vecs[i][2] = (float)(i % 7);
        vecs[i][3] = 0.5f;
        snprintf(keys[i], sizeof keys[i], "k%d", i);
        items[i] = (am_item_in){ .ns = ns, .key = am_str_c(keys[i]),
                                 .value = AM_STR("1"), .vec = vecs[i],
                                 .dim = 4, .vec_model = "test" };
    }
    CHECK_OK_E(am_store_put_many(s, items, 1100), am_store_last_error(s));
    am_store_close(s);
    CHECK(test_oom_sweep(oom_vec_body, path) > 5);
    test_rmtree(dir);
    free(dir);
}

AM_TEST(oom_sweep_open_put_search)
{
    char *dir = test_tmpdir(), path[512];
    snprintf(path, sizeof path, "%s/oom.db", dir);
    long runs = test_oom_sweep(oom_body, path);
    CHECK(runs > 5);
    test_rmtree(dir);
    free(dir);
}

/* The rest of the entry points under the failing allocator: put_many with
 * an embedder, get, get_item, update, delete, undo, results_to_json, hybrid
 * search with a filter and feedback, sessions and retention. Every run
 * answers AM_OK or AM_ENOMEM, every AM_OK carries its results, and no block
 * is left behind (or freed by a wrong size). */
static am_status oom_more_body(void *ctx, const am_allocator *alloc)
{
    const char *dir = ctx;
    char path[512];
    am_store_opts o = am_store_opts_default();
    am_store *s = NULL;
    am_results *r = NULL;
    am_embedder *emb = NULL;
    am_buf b = { 0 };
    size_t removed = 0;
    static int run;

    snprintf(path, sizeof path, "%s/more%d.db", dir, run++);
    am_status st = am_embedder_hash_create(16, NULL, &emb, NULL);
    if (st != AM_OK)
        return st;
    o.alloc = alloc;
    o.embedder = emb;
    st = am_store_open(path, &o, &s, NULL);
    if (st != AM_OK) {
        am_embedder_free(emb);
        unlink(path);
        return st;
    }
    am_item_in its[3] = {
        { .ns = NS2("u", "a"), .key = AM_STR("k1"),
          .value = AM_STR("{\"t\":\"apples and pears\"}"),
          .meta = AM_STR("{\"c\":1}") },
        { .ns = NS2("u", "a"), .key = AM_STR("k2"),
          .value = AM_STR("{\"t\":\"pears in the rain\"}"),
          .meta = AM_STR("{\"c\":2}") },
        { .ns = NS2("u", "b"), .key = AM_STR("k3"),
          .value = AM_STR("\"apples again\"") },
    };
    am_item_in upd = its[0];
    upd.value = AM_STR("{\"t\":\"apples only\"}");
    am_search q = { .ns = NS1("u"), .query = AM_STR("apples pears"),
                    .filter = AM_STR("{\"c\":1}"), .prf_docs = 2 };
    am_search q2 = { .ns = NS1("u"), .query = AM_STR("apples") };
    am_str sess[2] = { AM_STR("{\"role\":\"user\",\"content\":\"hi\"}"),
                       AM_STR("{\"role\":\"assistant\",\"content\":\"yo\"}") };

    st = am_store_put_many(s, its, 3);
    if (st == AM_OK)
        st = am_store_put(s, &upd);
    if (st == AM_OK)
        st = am_store_get(s, NS2("u", "a"), AM_STR("k1"), &b);
    if (st == AM_OK)
        st = answered(am_store_get_item(s, NS2("u", "a"), AM_STR("k2"),
                                        &r), &r);
    if (st == AM_OK)
        st = am_store_search(s, &q, &r);
    if (st == AM_OK && r == NULL)
        st = AM_EPROTO;
    if (st == AM_OK)
        st = am_results_to_json(r, 1, &b, NULL);
    am_results_free(r);
    r = NULL;
    if (st == AM_OK)
        st = answered(am_store_search(s, &q2, &r), &r);
    if (st == AM_OK)
        st = am_store_delete(s, NS2("u", "a"), AM_STR("k2"));
    if (st == AM_OK)
        st = am_store_undo(s, NS2("u", "a"), AM_STR("k2"));
    if (st == AM_OK)
        st = am_store_undo(s, NS2("u", "a"), AM_STR("k1"));
    if (st == AM_OK)
        st = am_session_add(s, AM_STR("usr"), AM_STR("s1"), sess, 2);
    if (st == AM_OK)
        st = am_session_get(s, AM_STR("s1"), 0, &b);
    if (st == AM_OK)
        st = am_session_list(s, AM_STR("usr"), &b);
    if (st == AM_OK)
        st = am_session_pop(s, AM_STR("s1"), &b);
    if (st == AM_OK)
        st = am_session_prune(s, 0, 1, &removed);
    if (st == AM_OK)
        st = am_session_clear(s, AM_STR("s1"));
    if (st == AM_OK)
        st = am_store_history_prune(s, 1, &removed);
    if (st == AM_OK)
        st = am_store_delete(s, NS2("u", "b"), AM_STR("k3"));
    if (st == AM_OK)
        st = am_store_purge(s, INT64_MAX, &removed);
    if (st == AM_OK)
        st = am_store_delete_ns(s, NS1("u"), &removed);
    am_buf_free(&b);
    am_store_close(s);
    am_embedder_free(emb);
    unlink(path);
    return st;
}

AM_TEST(oom_sweep_every_store_entry_point)
{
    char *dir = test_tmpdir();
    CHECK(test_oom_sweep(oom_more_body, dir) > 20);
    test_rmtree(dir);
    free(dir);
}

/* A loaded vector cache that is full (1,024 entries) grows when a put adds
 * one more vector: memory running out there or in the searches leaves the
 * next search right (the new item is the best match) and no block behind. */
static am_status oom_vec_apply_body(void *ctx, const am_allocator *alloc)
{
    const char *path = ctx;
    am_store_opts o = am_store_opts_default();
    am_store *s = NULL;
    am_results *r = NULL;
    float qv[4] = { 0, 0, 1, 0 };
    am_status st;
    o.alloc = alloc;
    st = am_store_open(path, &o, &s, NULL);
    if (st != AM_OK)
        return st;
    am_search q = { .ns = NS1("v"), .vec = qv, .dim = 4,
                    .mode = AM_SEARCH_VECTOR, .limit = 2 };
    am_item_in it = { .ns = NS1("v"), .key = AM_STR("new"),
                      .value = AM_STR("2"), .vec = qv, .dim = 4,
                      .vec_model = "test" };
    st = am_store_search(s, &q, &r); /* loads the cache */
    am_results_free(r);
    r = NULL;
    if (st == AM_OK)
        st = am_store_put(s, &it);
    if (st == AM_OK)
        st = am_store_search(s, &q, &r);
    if (st == AM_OK &&
        (r == NULL || r->count != 2 || r->items[0].key.len != 3 ||
         memcmp(r->items[0].key.ptr, "new", 3) != 0))
        st = AM_EPROTO;
    am_results_free(r);
    am_store_close(s);
    return st;
}

AM_TEST(oom_sweep_vector_cache_grows_on_put)
{
    char *dir = test_tmpdir(), path[512], base[512];
    static am_item_in items[1024];
    static float vecs[1024][4];
    static char keys[1024][16];
    am_ns ns = NS1("v");
    am_store *s;

    snprintf(base, sizeof base, "%s/base.db", dir);
    CHECK_OK(am_store_open(base, NULL, &s, NULL));
    for (int i = 0; i < 1024; i++) {
        vecs[i][0] = 1;
        vecs[i][1] = (float)i / 1024;
        vecs[i][2] = 0.1f;
        vecs[i][3] = 0.5f;
        snprintf(keys[i], sizeof keys[i], "k%d", i);
        items[i] = (am_item_in){ .ns = ns, .key = am_str_c(keys[i]),
                                 .value = AM_STR("1"), .vec = vecs[i],
                                 .dim = 4, .vec_model = "test" };
    }
    CHECK_OK_E(am_store_put_many(s, items, 1024), am_store_last_error(s));
    am_store_close(s);
    {
        /* Everything is in the main file (no WAL left to copy). */
        char wal[600];
        snprintf(wal, sizeof wal, "%s-wal", base);
        CHECK(access(wal, F_OK) != 0);
    }
    snprintf(path, sizeof path, "%s/run.db", dir);
    /* Each run starts from a copy of the base file. */
    for (long n = 1;; n++) {
        test_alloc ta = { .fail_at = n };
        am_allocator a = test_alloc_make(&ta);
        am_buf b = AM_BUF_INIT;
        am_status st;
        char side[600];
        snprintf(side, sizeof side, "%s-wal", path);
        unlink(side);
        snprintf(side, sizeof side, "%s-shm", path);
        unlink(side);
        CHECK_OK(am__read_file(base, &b, NULL));
        CHECK_OK(am__write_file_atomic(NULL, path, b.ptr, b.len, NULL));
        am_buf_free(&b);
        st = oom_vec_apply_body(path, &a);
        if (st != AM_OK && st != AM_ENOMEM)
            fail_msg("run %ld returned %s", n, am_status_str(st));
        if (ta.live_blocks != 0 || ta.live != 0)
            fail_msg("run %ld leaked %ld blocks (%zu bytes)", n,
                     ta.live_blocks, ta.live);
        if (ta.failures == 0) {
            CHECK_OK(st);
            CHECK(n > 10);
            break;
        }
    }
    test_rmtree(dir);
    free(dir);
}
