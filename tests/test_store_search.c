/* test_store_search.c -- the store's search: full text, vectors, hybrid
 * fusion, feedback, the 100 ms promise over 10,000 items, and the
 * embedders it searches with. */
#include <assert.h>
#include <math.h>
#include <time.h>
#include <unistd.h>

#include "store/rank.h"
#include "store/store_int.h"
#include "store_fixture.h"

AM_TEST(search_keeps_rare_terms_when_frequent_ones_are_dropped)
{
    /* A query whose terms match more than 1,500 rows together is cut to
     * its rarest terms (ranking them is the cost); the rare term must
     * survive, so its rows are found. */
    fixture f;
    fx_open(&f, 0);
    enum { N = 1700 };
    am_item_in *items = calloc(N, sizeof *items);
    char (*keys)[16] = calloc(N, 16);
    const am_str pp[] = { AM_STR("p") };
    CHECK(items != NULL && keys != NULL);
    for (int i = 0; i < N; i++) {
        snprintf(keys[i], 16, "k%d", i);
        items[i] = (am_item_in){ .ns = { pp, 1 }, .key = am_str_c(keys[i]),
                                 .value = AM_STR("\"common filler\"") };
    }
    items[5].value = AM_STR("\"zebra common\"");
    items[9].value = AM_STR("\"zebra alone\"");
    CHECK_OK(am_store_put_many(f.s, items, N));
    for (int mode = 0; mode < 2; mode++) {
        am_search q = { .query = AM_STR("common zebra"),
                        .mode = AM_SEARCH_TEXT, .limit = 5 };
        if (mode == 1)
            q.ns = (am_ns){ pp, 1 }; /* the namespaced path too */
        am_results *r;
        CHECK_OK_E(am_store_search(f.s, &q, &r), am_store_last_error(f.s));
        CHECK(r->count >= 2);
        int seen = 0;
        for (size_t i = 0; i < 2 && i < r->count; i++)
            seen += r->items[i].key.len == 2 &&
                    (memcmp(r->items[i].key.ptr, "k5", 2) == 0 ||
                     memcmp(r->items[i].key.ptr, "k9", 2) == 0);
        CHECK(seen == 2);
        am_results_free(r);
    }
    /* A frequent term alone is still searched. */
    am_search q1 = { .query = AM_STR("filler"), .mode = AM_SEARCH_TEXT,
                     .limit = 3 };
    am_results *r1;
    CHECK_OK(am_store_search(f.s, &q1, &r1));
    CHECK(r1->count == 3);
    am_results_free(r1);
    free(items);
    free(keys);
    fx_close(&f);
}

AM_TEST(feedback_finds_items_that_share_words_with_the_top_results)
{
    /* Pseudo-relevance feedback (prf_docs): words of the top results
     * ("orchard") expand the query, so an item without the query's word
     * but about the same thing is found; the same on both backends. */
    fixture f;
    fx_open(&f, 0);
    CHECK_OK(put(f.s, NS1("p"), "a", "\"apple orchard blossoms\"", 0));
    CHECK_OK(put(f.s, NS1("p"), "b", "\"orchard harvest festival\"", 0));
    CHECK_OK(put(f.s, NS1("p"), "c", "\"quarterly budget review\"", 0));
    CHECK_OK(put(f.s, NS1("p"), "d", "\"train timetable changes\"", 0));
    am_search q = { .ns = NS1("p"), .query = AM_STR("apple"),
                    .mode = AM_SEARCH_TEXT, .limit = 5 };
    am_results *r;
    CHECK_OK(am_store_search(f.s, &q, &r));
    CHECK_EQ(r->count, 1); /* without feedback: the apple only */
    am_results_free(r);
    q.prf_docs = 1;
    q.prf_terms = 2;
    CHECK_OK_E(am_store_search(f.s, &q, &r), am_store_last_error(f.s));
    CHECK_EQ(r->count, 2);
    CHECK_MEM_EQ(r->items[0].key.ptr, r->items[0].key.len, "a");
    CHECK_MEM_EQ(r->items[1].key.ptr, r->items[1].key.len, "b");
    am_results_free(r);
    /* Nothing matches: nothing to learn from, nothing found. */
    q.query = AM_STR("zeppelin");
    CHECK_OK(am_store_search(f.s, &q, &r));
    CHECK_EQ(r->count, 0);
    am_results_free(r);
    fx_close(&f);
}

AM_TEST(fulltext_search_is_safe_for_any_query)
{
    fixture f;
    fx_open(&f, 0);
    am_results *r;
    CHECK_OK(put(f.s, NS1("s"), "a", "\"I love running in the park\"", 0));
    CHECK_OK(put(f.s, NS1("s"), "b", "\"Cats are independent animals\"", 0));
    CHECK_OK(put(f.s, NS1("s"), "c", "{\"note\":\"the runner ran fast\"}",
                 0));
    const char *nasty[] = { "", "\"", "\"\"\"", "AND OR NOT", "NEAR(a b)",
                            "*", "run*", "text:cats", "^cats", "-", "()",
                            "'; DROP TABLE items; --", "%_%", "\x01\x02",
                            "a\"b", "{}", "cats)" };
    for (size_t i = 0; i < sizeof nasty / sizeof nasty[0]; i++) {
        am_search q = { .query = am_str_c(nasty[i]),
                        .mode = AM_SEARCH_TEXT };
        CHECK_OK_E(am_store_search(f.s, &q, &r), am_store_last_error(f.s));
        am_results_free(r);
    }
    am_search q = { .query = AM_STR("runs?"), .mode = AM_SEARCH_TEXT };
    CHECK_OK(am_store_search(f.s, &q, &r));
    CHECK_EQ(r->count, 1); /* porter: runs -> run = running */
    CHECK_MEM_EQ(r->items[0].key.ptr, r->items[0].key.len, "a");
    CHECK(r->items[0].score > 0);
    am_results_free(r);
    q.query = AM_STR("text:cats");
    CHECK_OK(am_store_search(f.s, &q, &r));
    CHECK_EQ(r->count, 1);
    am_results_free(r);
    fx_close(&f);
}

/* A query is any text, up to a pasted page or more: each distinct word
 * counts once, and the text part uses the first 1024 distinct words.
 * Before, 20 KB of one repeated word took 7 s (FTS5's time grows faster
 * than its OR-ed phrases) and 2 MB did not finish in 10 minutes. */
AM_TEST(a_huge_query_counts_each_word_once)
{
    fixture f;
    fx_open(&f, 0);
    am_results *r;
    CHECK_OK(put(f.s, NS1("q"), "a", "\"cats are independent\"", 0));
    CHECK_OK(put(f.s, NS1("q"), "b", "\"dogs like walks\"", 0));
    am_search q = { .query = AM_STR("cats"), .mode = AM_SEARCH_TEXT };
    CHECK_OK(am_store_search(f.s, &q, &r));
    CHECK_EQ(r->count, 1);
    double one = r->items[0].score;
    am_results_free(r);
    /* 2 MB of the same word: the same one result and the same score. */
    size_t n = 2000000; /* whole "cats " runs: no other word at the end */
    char *big = malloc(n);
    CHECK(big != NULL);
    for (size_t i = 0; i < n; i++)
        big[i] = "cats "[i % 5];
    q.query = (am_str){ big, n };
    CHECK_OK(am_store_search(f.s, &q, &r));
    CHECK_EQ(r->count, 1);
    CHECK(fabs(r->items[0].score - one) < 1e-9);
    am_results_free(r);
    if (test_store_is_sqlite()) {
        /* 1024 distinct words that match nothing, then one that does:
         * past the cap, so nothing is found; within it, found. */
        size_t len = 0;
        for (int i = 0; i < 1024; i++)
            len += (size_t)snprintf(big + len, n - len, "zq%d ", i);
        len += (size_t)snprintf(big + len, n - len, "dogs");
        q.query = (am_str){ big, len };
        CHECK_OK(am_store_search(f.s, &q, &r));
        CHECK_EQ(r->count, 0);
        am_results_free(r);
        q.query = (am_str){ big + 5, len - 5 }; /* "zq0 " dropped */
        CHECK_OK(am_store_search(f.s, &q, &r));
        CHECK_EQ(r->count, 1);
        am_results_free(r);
    }
    free(big);
    fx_close(&f);
}

AM_TEST(fulltext_index_follows_updates_undo_and_deletes)
{
    fixture f;
    fx_open(&f, 0);
    am_results *r;
    size_t n;
    CHECK_OK(put(f.s, NS1("x"), "k", "\"apples and pears\"", 0));
    CHECK_OK(put(f.s, NS1("x"), "k", "\"bananas only\"", 0));
    am_search q = { .query = AM_STR("apples"), .mode = AM_SEARCH_TEXT };
    CHECK_OK(am_store_search(f.s, &q, &r));
    CHECK_EQ(r->count, 0);
    am_results_free(r);
    CHECK_OK(am_store_undo(f.s, NS1("x"), AM_STR("k")));
    CHECK_OK(am_store_search(f.s, &q, &r));
    CHECK_EQ(r->count, 1);
    am_results_free(r);
    CHECK_OK(am_store_check(f.s));
    CHECK_OK(put(f.s, NS1("y"), "k", "\"apples again\"", 1000));
    CHECK_OK(put(f.s, NS1("z"), "k", "\"apples thrice\"", 0));
    CHECK_OK(am_store_delete(f.s, NS1("z"), AM_STR("k")));
    f.tc.now_ms += 5000;
    CHECK_OK(am_store_purge(f.s, INT64_MAX, &n));
    CHECK_EQ(n, 2);
    CHECK_OK(am_store_delete_ns(f.s, NS1("x"), &n));
    CHECK_EQ(n, 1);
    CHECK_OK(am_store_check(f.s));
    CHECK_OK(am_store_search(f.s, &q, &r));
    CHECK_EQ(r->count, 0);
    am_results_free(r);
    fx_close(&f);
}

AM_TEST(vector_search_ranks_by_cosine_and_checks_dimensions)
{
    fixture f;
    fx_open(&f, 0);
    am_results *r;
    float v[3][4] = { { 1, 0, 0, 0 }, { 0.7f, 0.7f, 0, 0 }, { 0, 0, 1, 0 } };
    const char *keys[3] = { "x", "xy", "z" };
    for (int i = 0; i < 3; i++) {
        am_item_in it = { .ns = NS1("v"), .key = am_str_c(keys[i]),
                          .value = AM_STR("1"), .vec = v[i], .dim = 4,
                          .vec_model = "test" };
        CHECK_OK(am_store_put(f.s, &it));
    }
    float bad[3] = { 1, 0, 0 };
    am_item_in it = { .ns = NS1("v"), .key = AM_STR("bad"),
                      .value = AM_STR("1"), .vec = bad, .dim = 3,
                      .vec_model = "test" };
    CHECK_ST(am_store_put(f.s, &it), AM_EINVAL);
    it.dim = 4;
    float four[4] = { 1, 0, 0, 0 };
    it.vec = four;
    it.vec_model = "other-model";
    CHECK_ST(am_store_put(f.s, &it), AM_EINVAL);
    CHECK(strstr(am_store_last_error(f.s)->msg, "other-model") != NULL);
    float qv[4] = { 1, 0.1f, 0, 0 };
    am_search q = { .ns = NS1("v"), .vec = qv, .dim = 4,
                    .mode = AM_SEARCH_VECTOR };
    CHECK_OK(am_store_search(f.s, &q, &r));
    CHECK_EQ(r->count, 3);
    CHECK_MEM_EQ(r->items[0].key.ptr, r->items[0].key.len, "x");
    CHECK_MEM_EQ(r->items[1].key.ptr, r->items[1].key.len, "xy");
    CHECK(fabs(r->items[2].vec_score) < 1e-6);
    CHECK(r->items[0].vec_score > 0.99);
    am_results_free(r);
    q.dim = 3;
    CHECK_ST(am_store_search(f.s, &q, &r), AM_EINVAL);
    /* A store whose embedder differs from the index's refuses to embed
     * queries against it, even at the same dimension. */
    {
        am_embedder *e4;
        am_store *s2;
        am_store_opts o = am_store_opts_default();
        CHECK_OK(am_embedder_hash_create(4, NULL, &e4, NULL));
        o.embedder = e4;
        CHECK_OK(am_store_open(f.path, &o, &s2, NULL));
        am_search tq = { .ns = NS1("v"), .query = AM_STR("anything") };
        CHECK_ST(am_store_search(s2, &tq, &r), AM_EINVAL);
        CHECK(strstr(am_store_last_error(s2)->msg, "hash-ngram-v1/4") !=
              NULL);
        tq.mode = AM_SEARCH_TEXT;
        CHECK_OK(am_store_search(s2, &tq, &r));
        am_results_free(r);
        am_store_close(s2);
        am_embedder_free(e4);
    }
    /* Puts after the index is loaded update it in place. */
    {
        float nv[4] = { 0, 0, 0, 1 };
        am_item_in add = { .ns = NS1("v"), .key = AM_STR("w"),
                           .value = AM_STR("1"), .vec = nv, .dim = 4,
                           .vec_model = "test" };
        CHECK_OK(am_store_put(f.s, &add));
        float wq[4] = { 0, 0, 0.1f, 1 };
        am_search q2 = { .ns = NS1("v"), .vec = wq, .dim = 4,
                         .mode = AM_SEARCH_VECTOR, .limit = 1 };
        CHECK_OK(am_store_search(f.s, &q2, &r));
        CHECK_EQ(r->count, 1);
        CHECK_MEM_EQ(r->items[0].key.ptr, r->items[0].key.len, "w");
        am_results_free(r);
        /* Re-put without a vector: it leaves the vector index. */
        add.vec = NULL;
        add.dim = 0;
        CHECK_OK(am_store_put(f.s, &add));
        CHECK_OK(am_store_search(f.s, &q2, &r));
        CHECK_EQ(r->count, 1);
        CHECK(r->items[0].key.ptr[0] != 'w');
        am_results_free(r);
        /* Moving it to the old direction again brings it back. */
        add.vec = nv;
        add.dim = 4;
        CHECK_OK(am_store_put(f.s, &add));
        CHECK_OK(am_store_search(f.s, &q2, &r));
        CHECK_MEM_EQ(r->items[0].key.ptr, r->items[0].key.len, "w");
        am_results_free(r);
        CHECK_OK(am_store_delete(f.s, NS1("v"), AM_STR("w")));
    }
    /* Another connection's write is seen (PRAGMA data_version). */
    {
        am_store *s2;
        float ov[4] = { 0, 1, 0, 0 };
        CHECK_OK(am_store_open(f.path, NULL, &s2, NULL));
        am_item_in other = { .ns = NS1("v"), .key = AM_STR("other"),
                             .value = AM_STR("1"), .vec = ov, .dim = 4,
                             .vec_model = "test" };
        CHECK_OK(am_store_put(s2, &other));
        am_store_close(s2);
        am_search q3 = { .ns = NS1("v"), .vec = ov, .dim = 4,
                         .mode = AM_SEARCH_VECTOR, .limit = 1 };
        CHECK_OK(am_store_search(f.s, &q3, &r));
        CHECK_MEM_EQ(r->items[0].key.ptr, r->items[0].key.len, "other");
        am_results_free(r);
        CHECK_OK(am_store_delete(f.s, NS1("v"), AM_STR("other")));
    }
    /* A deleted item leaves the vector index at once. */
    CHECK_OK(am_store_delete(f.s, NS1("v"), AM_STR("x")));
    q.dim = 4;
    CHECK_OK(am_store_search(f.s, &q, &r));
    CHECK_EQ(r->count, 2);
    CHECK_MEM_EQ(r->items[0].key.ptr, r->items[0].key.len, "xy");
    am_results_free(r);
    fx_close(&f);
}

/* The vector score of `key` for the query text `text` (-1: not found). */
static double vec_score_of(am_store *s, const char *text, const char *key)
{
    am_results *r;
    double score = -1;
    am_search q = { .query = am_str_c(text), .mode = AM_SEARCH_VECTOR,
                    .limit = 10 };
    CHECK_OK_E(am_store_search(s, &q, &r), am_store_last_error(s));
    for (size_t i = 0; i < r->count; i++)
        if (r->items[i].key.len == strlen(key) &&
            memcmp(r->items[i].key.ptr, key, strlen(key)) == 0)
            score = r->items[i].vec_score;
    am_results_free(r);
    return score;
}

/* Undo writes the item again through the embedder (the history keeps no
 * vectors), and the vector index follows each revert at once: an undone
 * update is found by its old text's vector, an undone add is not found,
 * and undoing that brings it back, without its old expiry. */
AM_TEST(undo_reembeds_and_the_vector_index_follows)
{
    fixture f;
    fx_open(&f, 1);
    am_buf out = AM_BUF_INIT;
    am_results *r;
    CHECK_OK(put(f.s, NS1("u"), "k", "\"apple orchard blossoms\"", 5000));
    CHECK_OK(put(f.s, NS1("u"), "other", "\"quarterly budget\"", 0));
    CHECK(vec_score_of(f.s, "apple orchard blossoms", "k") > 0.99);
    f.tc.now_ms += 10;
    CHECK_OK(put(f.s, NS1("u"), "k", "\"train timetable changes\"", 0));
    CHECK(vec_score_of(f.s, "train timetable changes", "k") > 0.99);
    CHECK(vec_score_of(f.s, "apple orchard blossoms", "k") < 0.5);

    /* An update undone: the old text's vector again. */
    CHECK_OK(am_store_undo(f.s, NS1("u"), AM_STR("k")));
    CHECK(vec_score_of(f.s, "apple orchard blossoms", "k") > 0.99);
    CHECK(vec_score_of(f.s, "train timetable changes", "k") < 0.5);

    /* The add of "other" undone: deleted, out of the index. */
    CHECK_OK(am_store_undo(f.s, NS1("u"), AM_STR("other")));
    CHECK_ST(am_store_get(f.s, NS1("u"), AM_STR("other"), &out),
             AM_ENOTFOUND);
    CHECK(vec_score_of(f.s, "quarterly budget", "other") < 0);
    /* ... and that undone: live again, recorded as an add by "undo". */
    CHECK_OK(am_store_undo(f.s, NS1("u"), AM_STR("other")));
    CHECK(vec_score_of(f.s, "quarterly budget", "other") > 0.99);
    CHECK_OK(am_store_history(f.s, NS1("u"), AM_STR("other"), &r));
    CHECK_EQ(r->count, 3);
    CHECK_MEM_EQ(r->items[1].event.ptr, r->items[1].event.len, "delete");
    CHECK_MEM_EQ(r->items[2].event.ptr, r->items[2].event.len, "add");
    CHECK_MEM_EQ(r->items[2].actor.ptr, r->items[2].actor.len, "undo");
    am_results_free(r);

    /* The restored "k" keeps no expiry (the history keeps none). */
    f.tc.now_ms += 10000;
    CHECK_OK(am_store_get(f.s, NS1("u"), AM_STR("k"), &out));
    CHECK_STR_EQ(out.ptr, "\"apple orchard blossoms\"");
    CHECK(vec_score_of(f.s, "apple orchard blossoms", "k") > 0.99);
    am_buf_free(&out);
    fx_close(&f);
}

/* Put `key` in namespace "v" with the 4-dimension vector `v` (NULL: no
 * vector). */
static void put_vec4(am_store *s, const char *key, const float *v)
{
    am_item_in it = { .ns = NS1("v"), .key = am_str_c(key),
                      .value = AM_STR("1"), .vec = v, .dim = v ? 4 : 0,
                      .vec_model = v ? "test" : NULL };
    CHECK_OK(am_store_put(s, &it));
}

/* The key of the best vector match for `v` in namespace "v" ("" when
 * nothing matches). */
static const char *top_vec4(am_store *s, const float *v)
{
    static char key[32];
    am_results *r;
    am_search q = { .ns = NS1("v"), .vec = v, .dim = 4,
                    .mode = AM_SEARCH_VECTOR, .limit = 1 };
    CHECK_OK(am_store_search(s, &q, &r));
    snprintf(key, sizeof key, "%.*s",
             r->count > 0 ? (int)r->items[0].key.len : 0,
             r->count > 0 ? r->items[0].key.ptr : "");
    am_results_free(r);
    return key;
}

/* Another handle's puts, updates, vector removals and deletes are found
 * by this handle's next vector search, and catching up reads only the
 * rows they changed, not the 200 others (this is what the HTTP server's
 * read handles do after every put); a hard delete reloads in full.
 *
 * The row counts are checked on SQLite only. PostgreSQL re-reads every row
 * stamped since the oldest transaction still open anywhere on the server
 * (its snapshot's xmin, which is cluster-wide): the suites of other
 * databases in ctest's shared cluster hold it back at will, so how many
 * rows a catch-up reads there is not this test's to know (it read 3 more
 * than changed once under ctest -j2). What it finds is checked on both. */
#define CATCHUP_ROWS(h, before, lo, hi) \
    CHECK(!test_store_is_sqlite() || \
          ((h)->vc_rows - (before) >= (lo) && (h)->vc_rows - (before) <= (hi)))
AM_TEST(vector_cache_catches_up_on_another_handles_changed_rows)
{
    fixture f;
    am_store *b;
    size_t purged = 0;
    const float east[4] = { 0, 0, 0, 1 }, up[4] = { 0, 0, 1, 0 },
                north[4] = { 0, 1, 0, 0 }; /* k199 is nearest */
    fx_open(&f, 0);
    for (int i = 0; i < 200; i++) {
        char key[16];
        float v[4] = { 1, (float)i / 200, 0, 0 };
        snprintf(key, sizeof key, "k%d", i);
        put_vec4(f.s, key, v);
    }
    CHECK_OK(am_store_open(f.path, NULL, &b, NULL));
    CHECK_STR_EQ(top_vec4(f.s, north), "k199"); /* the first load: all */
    int64_t rows = f.s->vc_rows;
    CHECK(rows >= 200);

    put_vec4(b, "new", east);
    CHECK_STR_EQ(top_vec4(f.s, east), "new");
    CATCHUP_ROWS(f.s, rows, 1, 3);
    rows = f.s->vc_rows;

    put_vec4(b, "k5", up); /* an update moves an item */
    CHECK_STR_EQ(top_vec4(f.s, up), "k5");
    CATCHUP_ROWS(f.s, rows, 1, 3);
    rows = f.s->vc_rows;

    put_vec4(b, "k5", NULL); /* re-put without a vector */
    CHECK(strcmp(top_vec4(f.s, up), "k5") != 0);
    CATCHUP_ROWS(f.s, rows, 0, 3);
    rows = f.s->vc_rows;

    put_vec4(b, "k5", up); /* and with one again */
    CHECK_STR_EQ(top_vec4(f.s, up), "k5");
    CATCHUP_ROWS(f.s, rows, 1, 3);
    rows = f.s->vc_rows;

    CHECK_OK(am_store_delete(b, NS1("v"), AM_STR("new")));
    CHECK(strcmp(top_vec4(f.s, east), "new") != 0);
    CATCHUP_ROWS(f.s, rows, 0, 3);
    rows = f.s->vc_rows;

    /* Nothing changed: no load at all (SQLite). */
    CHECK_STR_EQ(top_vec4(f.s, north), "k199");
    CATCHUP_ROWS(f.s, rows, 0, 0);

    /* A hard delete leaves no changed row behind: a full reload. */
    CHECK_OK(am_store_delete(b, NS1("v"), AM_STR("k199")));
    CHECK_OK(am_store_purge(b, INT64_MAX, &purged));
    CHECK_EQ(purged, 2);
    CHECK_STR_EQ(top_vec4(f.s, north), "k198");
    CHECK(f.s->vc_rows - rows >= 199);

    /* This handle's own writes, seen by the other handle the same way. */
    CHECK_STR_EQ(top_vec4(b, up), "k5");
    rows = b->vc_rows;
    put_vec4(f.s, "k7", up);
    CHECK_OK(am_store_delete(f.s, NS1("v"), AM_STR("k5")));
    CHECK_STR_EQ(top_vec4(b, up), "k7");
    CATCHUP_ROWS(b, rows, 1, 4);
    am_store_close(b);
    fx_close(&f);
}

/* The vector scan estimates cosines from int8 codes first and scores in
 * float only the rows whose error bound reaches the best (rank_vec.c).
 * Here 300 vectors sit within 0.05 of the query, their cosines 2e-5 to
 * 3e-4 apart where the codes' estimates err by about 5e-3, among 1,000
 * random others: the ranking and the scores must still be the exact
 * ones, in any insertion order. */
AM_TEST(vector_search_is_exact_among_near_ties)
{
    enum { DIM = 32, NEAR = 300, FAR = 1000, ALL = NEAR + FAR };
    fixture f;
    fx_open(&f, 0);
    static float vec[ALL][DIM];
    static char keys[ALL][16];
    static am_item_in items[ALL];
    double b[DIM], u[DIM], nb = 0, bu = 0, nu = 0;
    int perm[NEAR];
    am_ns ns = NS1("ties"); /* one namespace, alive for the whole test */
    srand(7);
    for (int d = 0; d < DIM; d++) {
        b[d] = rand() / (double)RAND_MAX - 0.5;
        u[d] = rand() / (double)RAND_MAX - 0.5;
        nb += b[d] * b[d];
    }
    for (int d = 0; d < DIM; d++) {
        b[d] /= sqrt(nb);
        bu += b[d] * u[d];
    }
    for (int d = 0; d < DIM; d++) { /* u: unit, orthogonal to b */
        u[d] -= bu * b[d];
        nu += u[d] * u[d];
    }
    for (int d = 0; d < DIM; d++)
        u[d] /= sqrt(nu);
    for (int i = 0; i < NEAR; i++)
        perm[i] = i;
    for (int i = NEAR - 1; i > 0; i--) {
        int j = rand() % (i + 1), t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
    for (int i = 0; i < ALL; i++) {
        /* Item i near the query: b + delta u, delta growing with its
         * rank perm[i] (key "n<rank>"); the others random. */
        double delta = 0.01 + 0.001 * (i < NEAR ? perm[i] : 0);
        for (int d = 0; d < DIM; d++)
            vec[i][d] = i < NEAR ? (float)(b[d] + delta * u[d])
                                 : (float)(rand() / (double)RAND_MAX - 0.5);
        if (i < NEAR)
            snprintf(keys[i], sizeof keys[i], "n%d", perm[i]);
        else
            snprintf(keys[i], sizeof keys[i], "far%d", i);
        items[i] = (am_item_in){ .ns = ns, .key = am_str_c(keys[i]),
                                 .value = AM_STR("1"), .vec = vec[i],
                                 .dim = DIM, .vec_model = "test" };
    }
    CHECK_OK(am_store_put_many(f.s, items, ALL));
    float qv[DIM];
    for (int d = 0; d < DIM; d++)
        qv[d] = (float)b[d];
    am_search q = { .ns = NS1("ties"), .vec = qv, .dim = DIM,
                    .mode = AM_SEARCH_VECTOR, .limit = 40 };
    am_results *r;
    CHECK_OK(am_store_search(f.s, &q, &r));
    CHECK_EQ(r->count, 40);
    for (size_t i = 0; i < r->count; i++) {
        char want[32];
        snprintf(want, sizeof want, "n%zu", i);
        CHECK_MEM_EQ(r->items[i].key.ptr, r->items[i].key.len, want);
        double delta = 0.01 + 0.001 * (double)i;
        CHECK(fabs(r->items[i].vec_score - 1 / sqrt(1 + delta * delta)) <
              1e-5);
    }
    am_results_free(r);
    fx_close(&f);
}

/* An allocator that counts big allocations and reallocations, keeps its
 * live bytes and fails every call from the `fail_from`-th on (0: never),
 * or only that call with `fail_once`. */
typedef struct grow_alloc {
    long calls, fail_from, big_allocs, big_reallocs;
    int fail_once;
    size_t live;
} grow_alloc;

enum { GROW_BIG = 64 * 1024 };

static int grow_fails(grow_alloc *g)
{
    g->calls++;
    return g->fail_from != 0 &&
           (g->fail_once ? g->calls == g->fail_from
                         : g->calls >= g->fail_from);
}

static void *grow_alloc_fn(void *ctx, size_t size)
{
    grow_alloc *g = ctx;
    if (grow_fails(g))
        return NULL;
    void *p = malloc(size);
    if (p != NULL) {
        g->live += size;
        g->big_allocs += size >= GROW_BIG;
    }
    return p;
}

static void *grow_realloc_fn(void *ctx, void *ptr, size_t old_size,
                             size_t new_size)
{
    grow_alloc *g = ctx;
    if (grow_fails(g))
        return NULL;
    void *p = realloc(ptr, new_size);
    if (p != NULL) {
        g->live = g->live - old_size + new_size;
        g->big_reallocs += new_size >= GROW_BIG;
    }
    return p;
}

static void grow_free_fn(void *ctx, void *ptr, size_t size)
{
    grow_alloc *g = ctx;
    if (ptr != NULL)
        g->live -= size;
    free(ptr);
}

enum { GROW_DIM = 32 };

/* Rows [from, to) of the cache: id i + 1, vector (i, i, ...). */
static am_status grow_insert(am_store *s, size_t from, size_t to)
{
    static float v[4096][GROW_DIM];
    static am__vc_new rows[4096];
    assert(to - from <= 4096);
    for (size_t i = from; i < to; i++) {
        for (int d = 0; d < GROW_DIM; d++)
            v[i - from][d] = (float)i;
        rows[i - from] = (am__vc_new){ (int64_t)i + 1, 0, { "n", 1 },
                                       v[i - from], sizeof v[0] };
    }
    return am__vcache_insert(s, rows, to - from);
}

static int grow_intact(const am_store *s, size_t n)
{
    const am__vcache *c = &s->vc;
    if (c->count != n || c->cap < n)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (c->ids[i] != (int64_t)i + 1 || c->vecs[i * GROW_DIM] != (float)i ||
            c->vecs[i * GROW_DIM + GROW_DIM - 1] != (float)i)
            return 0;
    return 1;
}

AM_TEST(vector_cache_grows_in_place_and_all_or_nothing)
{
    /* Doubling reallocates each array instead of a fresh array and a
     * copy of every vector (a million-row cache copied ~330 MB). */
    grow_alloc g = { 0 };
    am_allocator a = { grow_alloc_fn, grow_realloc_fn, grow_free_fn, &g };
    am_store_opts o = am_store_opts_default();
    o.alloc = &a;
    am_store *s;
    am_error err = { AM_OK, "" };
    CHECK_OK(am_store_open(":memory:", &o, &s, &err));
    CHECK_OK(grow_insert(s, 0, 2048)); /* capacity 2,048: 256 kB of floats */
    CHECK_EQ(s->vc.cap, 2048);
    long allocs = g.big_allocs, reallocs = g.big_reallocs;
    CHECK_OK(grow_insert(s, 2048, 2049));
    CHECK_EQ(s->vc.cap, 4096);
    CHECK_EQ(g.big_allocs, allocs);      /* no fresh array... */
    CHECK(g.big_reallocs >= reallocs + 2); /* ...the floats and codes grew */
    CHECK(grow_intact(s, 2049));
    am_store_close(s);
    CHECK_EQ(g.live, 0);

    /* A failure anywhere in a growth: AM_ENOMEM with every entry kept
     * (one refused call: the grown arrays shrink back), or, when the
     * shrinks are refused too, an empty, invalid cache; never a leak or a
     * half-grown array. */
    for (int once = 1; once >= 0; once--) {
        int kept = 0, dropped = 0;
        for (long n = 1;; n++) {
            g = (grow_alloc){ 0 };
            CHECK_OK(am_store_open(":memory:", &o, &s, &err));
            CHECK_OK(grow_insert(s, 0, 2048));
            g.fail_from = g.calls + n;
            g.fail_once = once;
            am_status st = grow_insert(s, 2048, 2049);
            long failed = g.calls >= g.fail_from;
            g.fail_from = 0;
            if (st == AM_OK) {
                CHECK(grow_intact(s, 2049));
            } else {
                CHECK_EQ(st, AM_ENOMEM);
                CHECK_EQ(s->vc.valid, 0);
                if (s->vc.count == 0 && s->vc.cap == 0) {
                    dropped++;
                } else {
                    CHECK(grow_intact(s, 2048));
                    kept++;
                }
                /* Usable after: the next growth works. */
                s->vc.count = 0;
                CHECK_OK(grow_insert(s, 0, 2049));
                CHECK(grow_intact(s, 2049));
            }
            am_store_close(s);
            CHECK_EQ(g.live, 0);
            if (!failed)
                break;
        }
        CHECK(kept > 0);
        if (!once)
            CHECK(dropped > 0);
    }
}

AM_TEST(vector_cache_codes_bound_what_they_miss)
{
    /* The scan's first pass is exact only if every row's int8 codes miss
     * no more than their bound: checked here for ordinary, huge, tiny,
     * zero and non-finite vectors (the last always scored in full). */
    enum { DIM = 37, ROWS = 8 };
    static float v[ROWS][DIM];
    am__vc_new rows[ROWS];
    srand(11);
    for (int r = 0; r < ROWS; r++)
        for (int d = 0; d < DIM; d++) {
            float x = (float)rand() / (float)RAND_MAX - 0.5f;
            v[r][d] = r == 1 ? x * 3e38f : r == 2 ? x * 1e-40f
                    : r == 3 ? 0 : x;
        }
    v[4][5] = NAN;
    v[5][DIM - 1] = INFINITY;
    v[6][0] = -INFINITY;
    v[7][3] = -1.0f; /* the largest magnitude negative */
    for (int r = 0; r < ROWS; r++)
        rows[r] = (am__vc_new){ r + 1, 0, { "n", 1 }, v[r], sizeof v[0] };
    am_store *s;
    am_error err = { AM_OK, "" };
    CHECK_OK(am_store_open(":memory:", NULL, &s, &err));
    CHECK_OK(am__vcache_insert(s, rows, ROWS));
    const am__vcache *c = &s->vc;
    for (int r = 0; r < ROWS; r++) {
        const am__vq *q = &c->vq[r];
        const int8_t *code = c->codes + (size_t)r * DIM;
        if (r >= 4 && r <= 6) {
            CHECK(isinf(q->err));
            continue;
        }
        double miss = 0;
        int top = 0;
        for (int d = 0; d < DIM; d++) {
            CHECK(code[d] >= -127 && code[d] <= 127);
            top = abs(code[d]) > top ? abs(code[d]) : top;
            double e = (double)v[r][d] - (double)q->scale * code[d];
            miss += e * e;
        }
        CHECK(isfinite(q->err));
        CHECK(sqrt(miss) <= (double)q->err);
        if (r != 3)
            CHECK_EQ(top, 127); /* the largest component uses the range */
    }
    CHECK_EQ(c->codes[7 * DIM + 3], -127);
    am_store_close(s);
}

AM_TEST(emptied_vector_index_accepts_another_embedder)
{
    fixture f;
    fx_open(&f, 0);
    float v4[4] = { 1, 0, 0, 0 }, v3[3] = { 0, 1, 0 };
    am_item_in a = { .ns = NS1("m"), .key = AM_STR("a"), .value = AM_STR("1"),
                     .vec = v4, .dim = 4, .vec_model = "one" };
    am_item_in b = { .ns = NS1("n"), .key = AM_STR("b"), .value = AM_STR("1"),
                     .vec = v3, .dim = 3, .vec_model = "two" };
    CHECK_OK(am_store_put(f.s, &a));
    CHECK_ST(am_store_put(f.s, &b), AM_EINVAL);
    CHECK_OK(am_store_delete_ns(f.s, NS1("m"), NULL));
    CHECK_OK(am_store_put(f.s, &b));
    am_results *r;
    am_search q = { .vec = v3, .dim = 3, .mode = AM_SEARCH_VECTOR };
    CHECK_OK(am_store_search(f.s, &q, &r));
    CHECK_EQ(r->count, 1);
    am_results_free(r);
    fx_close(&f);
}

/* Purging is the same hard delete as deleting a namespace: the last
 * vector purged frees the index for another embedder too. */
AM_TEST(purged_vector_index_accepts_another_embedder)
{
    fixture f;
    fx_open(&f, 0);
    float v4[4] = { 1, 0, 0, 0 }, v3[3] = { 0, 1, 0 };
    am_item_in a = { .ns = NS1("m"), .key = AM_STR("a"), .value = AM_STR("1"),
                     .vec = v4, .dim = 4, .vec_model = "one" };
    am_item_in b = { .ns = NS1("n"), .key = AM_STR("b"), .value = AM_STR("1"),
                     .vec = v3, .dim = 3, .vec_model = "two" };
    size_t n = 99;
    CHECK_OK(am_store_put(f.s, &a));
    CHECK_OK(am_store_delete(f.s, NS1("m"), AM_STR("a")));
    /* Soft-deleted, the row still holds its vector. */
    CHECK_ST(am_store_put(f.s, &b), AM_EINVAL);
    CHECK_OK(am_store_purge(f.s, INT64_MAX, &n));
    CHECK_EQ(n, 1);
    CHECK_OK(am_store_put(f.s, &b));
    fx_close(&f);
}

AM_TEST(hybrid_search_fuses_and_filters_on_metadata)
{
    fixture f;
    fx_open(&f, 1);
    am_results *r;
    am_item_in items[4] = {
        { .ns = NS2("u", "notes"), .key = AM_STR("1"),
          .value = AM_STR("\"the auth bug was a stale token\""),
          .meta = AM_STR("{\"topic\":\"bugs\",\"prio\":1}") },
        { .ns = NS2("u", "notes"), .key = AM_STR("2"),
          .value = AM_STR("\"lunch was pasta\""),
          .meta = AM_STR("{\"topic\":\"food\"}") },
        { .ns = NS2("u", "notes"), .key = AM_STR("3"),
          .value = AM_STR("\"token refresh fixed the login bug\""),
          .meta = AM_STR("{\"topic\":\"bugs\",\"prio\":2}") },
        { .ns = NS2("v", "notes"), .key = AM_STR("4"),
          .value = AM_STR("\"another user's auth bug\""),
          .meta = AM_STR("{\"topic\":\"bugs\"}") },
    };
    CHECK_OK(am_store_put_many(f.s, items, 4));
    am_search q = { .ns = NS1("u"), .query = AM_STR("auth bug") };
    CHECK_OK(am_store_search(f.s, &q, &r));
    CHECK(r->count >= 2);
    CHECK_MEM_EQ(r->items[0].key.ptr, r->items[0].key.len, "1");
    CHECK(r->items[0].fts_score > 0 && r->items[0].vec_score > 0);
    for (size_t i = 0; i < r->count; i++)
        CHECK(r->items[i].key.ptr[0] != '4');
    am_results_free(r);
    q.filter = AM_STR("{\"prio\":2}");
    CHECK_OK(am_store_search(f.s, &q, &r));
    CHECK_EQ(r->count, 1);
    CHECK_MEM_EQ(r->items[0].key.ptr, r->items[0].key.len, "3");
    am_results_free(r);
    q.filter = AM_STR("[1]");
    CHECK_ST(am_store_search(f.s, &q, &r), AM_EFORMAT);
    q.filter = AM_STR("{\"topic\":\"food\"}");
    q.mode = AM_SEARCH_VECTOR;
    CHECK_OK(am_store_search(f.s, &q, &r));
    CHECK_EQ(r->count, 1);
    am_results_free(r);
    am_buf js = AM_BUF_INIT;
    CHECK_OK(am_store_search(f.s, &q, &r));
    CHECK_OK(am_results_to_json(r, 1, &js, NULL));
    CHECK(strstr(js.ptr, "\"key\":\"2\"") != NULL);
    CHECK(strstr(js.ptr, "\"namespace\":[\"u\",\"notes\"]") != NULL);
    am_results_free(r);
    am_buf_free(&js);
    fx_close(&f);
}

/* A hybrid search whose vector scan runs on a thread beside the text
 * part (PostgreSQL, AM__SCAN_BESIDE_MIN rows and up: 32768, lowered here
 * to every size) returns what the same search does with the scan after
 * it: the same items in the same order with the same scores, tombstones,
 * expired rows and other namespaces left out alike. On SQLite both runs
 * take the one path. */
AM_TEST(hybrid_scan_beside_the_text_part_ranks_as_after_it)
{
    enum { N = 600, DIM = 16 };
    static const char *const words[] = { "amber", "basalt", "cobalt",
                                         "dune", "ember", "fjord" };
    fixture f;
    fx_open(&f, 0);
    static float vec[N][DIM];
    static char keys[N][16], vals[N][64];
    static am_item_in items[N];
    am_ns here = NS1("here"), other = NS1("other"); /* alive to the end */
    srand(11);
    for (int i = 0; i < N; i++) {
        for (int d = 0; d < DIM; d++)
            vec[i][d] = (float)(rand() / (double)RAND_MAX - 0.5);
        snprintf(keys[i], sizeof keys[i], "k%d", i);
        /* Few rows match the words: most results are the scan's. */
        if (i % 20 == 0)
            snprintf(vals[i], sizeof vals[i], "\"%s %s\"", words[i % 6],
                     words[(i / 6) % 6]);
        else
            snprintf(vals[i], sizeof vals[i], "\"plain row %d\"", i);
        items[i] = (am_item_in){ .ns = i % 10 == 9 ? other : here,
                                 .key = am_str_c(keys[i]),
                                 .value = am_str_c(vals[i]), .vec = vec[i],
                                 .dim = DIM, .vec_model = "test",
                                 .ttl_ms = i % 10 == 8 ? 10 : 0 };
    }
    CHECK_OK(am_store_put_many(f.s, items, N));
    for (int i = 0; i < N; i += 7)
        CHECK_OK(am_store_delete(f.s, items[i].ns, items[i].key));
    f.tc.now_ms += 20; /* the 10 ms TTLs run out */
    for (int k = 0; k < 6; k++) {
        am_results *r[2];
        char query[32];
        snprintf(query, sizeof query, "%s %s", words[k], words[(k + 2) % 6]);
        am_search q = { .ns = NS1("here"), .query = am_str_c(query),
                        .vec = vec[k * 31], .dim = DIM,
                        .mode = AM_SEARCH_HYBRID, .limit = 20 };
        for (int way = 0; way < 2; way++) {
            f.s->scan_beside_min = way == 0 ? SIZE_MAX : 1;
            CHECK_OK(am_store_search(f.s, &q, &r[way]));
        }
        CHECK_EQ(r[0]->count, 20);
        CHECK_EQ(r[1]->count, r[0]->count);
        for (size_t i = 0; i < r[0]->count; i++) {
            const am_item *a = &r[0]->items[i], *b = &r[1]->items[i];
            char key[16];
            snprintf(key, sizeof key, "%.*s", (int)a->key.len, a->key.ptr);
            CHECK_MEM_EQ(b->key.ptr, b->key.len, key);
            CHECK(a->score == b->score && a->vec_score == b->vec_score &&
                  a->fts_score == b->fts_score);
            int id = atoi(key + 1);
            CHECK(id % 7 != 0 && id % 10 != 8 && id % 10 != 9);
        }
        am_results_free(r[0]);
        am_results_free(r[1]);
    }
    fx_close(&f);
}

/* The seed's promise, held by a test and not only by the benchmark:
 * retrieval over 10,000 items answers in under 100 ms. Measured as this
 * thread's CPU time, best of three, so that a loaded machine (or a
 * sanitizer build, several times slower) does not make it flaky: the
 * figure is typically a few ms. */
static int64_t thread_cpu_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

AM_TEST(search_over_10000_items_answers_under_100_ms)
{
    static const char *const words[] = {
        "auth", "token", "login", "deploy", "friday", "pasta", "garden",
        "invoice", "meeting", "flight", "lisbon", "budget", "report",
        "python", "rust", "editor", "coffee", "backup", "server", "bug",
    };
    static const am_search_mode modes[] = { AM_SEARCH_HYBRID,
                                            AM_SEARCH_TEXT,
                                            AM_SEARCH_VECTOR };
    fixture f;
    am_item_in items[500];
    char keys[500][16], vals[500][96];
    am_results *r;

    fx_open(&f, 1);
    for (int b = 0; b < 20; b++) {
        for (int i = 0; i < 500; i++) {
            int n = b * 500 + i;
            items[i] = (am_item_in){ .ns = NS2("u", "notes") };
            items[i].key.len = (size_t)snprintf(keys[i], sizeof keys[i],
                                                "k%d", n);
            items[i].key.ptr = keys[i];
            items[i].value.len = (size_t)snprintf(
                vals[i], sizeof vals[i], "\"note %d: %s %s %s\"", n,
                words[n % 20], words[(n / 20) % 20], words[(n / 400) % 20]);
            items[i].value.ptr = vals[i];
        }
        CHECK_OK(am_store_put_many(f.s, items, 500));
    }
    for (size_t m = 0; m < 3; m++) {
        am_search q = { .ns = NS1("u"), .query = AM_STR("auth token bug"),
                        .mode = modes[m], .limit = 10 };
        int64_t best = INT64_MAX;
        for (int run = 0; run < 3; run++) {
            int64_t t0 = thread_cpu_ns(), dt;
            CHECK_OK(am_store_search(f.s, &q, &r));
            dt = thread_cpu_ns() - t0;
            CHECK(r->count == 10);
            am_results_free(r);
            if (dt < best)
                best = dt;
        }
        if (best >= 100000000)
            fprintf(stderr, "mode %zu: best %lld ns\n", m, (long long)best);
        CHECK(best < 100000000);
    }
    fx_close(&f);
}

AM_TEST(hash_embedder_is_deterministic_and_similar_for_shared_words)
{
    am_embedder *e;
    CHECK_OK(am_embedder_hash_create(128, NULL, &e, NULL));
    CHECK_STR_EQ(e->id, "hash-ngram-v1/128");
    am_str t[3] = { AM_STR("the login bug"), AM_STR("a login bugs"),
                    AM_STR("pasta recipes") };
    float v[3][128];
    CHECK_OK(am_embedder_embed(e, t, 3, &v[0][0], NULL));
    float ab = 0, ac = 0;
    for (int i = 0; i < 128; i++) {
        ab += v[0][i] * v[1][i];
        ac += v[0][i] * v[2][i];
    }
    CHECK(ab > ac + 0.2f);
    am_embedder_free(e);
}

AM_TEST(word_vectors_load_when_installed_and_reject_garbage)
{
    am_error err = { AM_OK, "" };
    am_embedder *e = NULL;
    char *dir = test_tmpdir(), path[512];
    snprintf(path, sizeof path, "%s/bad.bin", dir);
    FILE *fp = fopen(path, "wb");
    fputs("AMWV\x01\0\0\0garbage-garbage-garbage", fp);
    fclose(fp);
    CHECK_ST(am_embedder_words_create(path, NULL, &e, &err), AM_EFORMAT);
    CHECK_ST(am_embedder_words_create("/nonexistent/x.bin", NULL, &e, &err),
             AM_ENOTFOUND);
    test_rmtree(dir);
    free(dir);
    const char *src = getenv("AM_SOURCE_DIR");
    snprintf(path, sizeof path, "%s/data/wordvec-sg100.bin",
             src != NULL ? src : ".");
    if (access(path, R_OK) != 0)
        return; /* not installed: the hashed fallback is tested above */
    CHECK_OK(am_embedder_words_create(path, NULL, &e, &err));
    CHECK_EQ(e->dim, 100);
    am_str t[3] = { AM_STR("my dog loves long walks"),
                    AM_STR("the puppy enjoys walking"),
                    AM_STR("quarterly tax revenue report") };
    float v[3][100];
    CHECK_OK(am_embedder_embed(e, t, 3, &v[0][0], NULL));
    float ab = 0, ac = 0;
    for (int i = 0; i < 100; i++) {
        ab += v[0][i] * v[1][i];
        ac += v[0][i] * v[2][i];
    }
    CHECK(ab > ac + 0.1f); /* synonyms, no shared words */
    am_embedder_free(e);
}
