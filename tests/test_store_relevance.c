/* test_store_relevance.c -- search scores are one relevance scale in
 * [0, 1] in every mode, and min_score lets a search say "nothing
 * relevant": a question about someone a namespace has never heard of
 * returns nothing at AM_SEARCH_MIN_SCORE, while the same question asked
 * of the memory that holds the answer still finds it. */
#include <stdlib.h>
#include <string.h>

#include "agentmem/store.h"
#include "harness.h"
#include "store_target.h"

#define NS1(a) ((am_ns){ (const am_str[]){ AM_STR(a) }, 1 })

static const char *const caro[] = {
    "Caroline: I went to the LGBTQ support group yesterday, it was powerful",
    "Melanie: I painted a sunrise over the lake last weekend",
    "Caroline: I am researching adoption agencies for my future family",
    "Melanie: the kids loved the pottery class we took together",
    "Caroline: the transgender stories at the group were so inspiring",
};
static const char *const jon[] = {
    "Jon: I lost my job at the bank so I am opening a dance studio",
    "Gina: my clothing store online is finally getting customers",
    "Jon: we rehearsed the contemporary piece for the competition",
};

static am_embedder *emb;

/* Both namespaces in one store, embedded by the default embedder. */
static am_store *open_filled(char **dir)
{
    char path[512];
    am_store *s = NULL;
    am_store_opts o = am_store_opts_default();
    *dir = test_tmpdir();
    if (emb == NULL)
        CHECK_OK(am_embedder_default_create(&emb, NULL));
    o.embedder = emb;
    CHECK_OK(am_store_open(test_store_target(*dir, "rel.db", path,
                                             sizeof path),
                           &o, &s, NULL));
    for (size_t i = 0; i < sizeof caro / sizeof caro[0]; i++) {
        char key[8];
        snprintf(key, sizeof key, "c%zu", i);
        am_item_in it = { .ns = NS1("caroline"), .key = am_str_c(key),
                          .value = AM_STR("{}"), .text = am_str_c(caro[i]) };
        CHECK_OK(am_store_put(s, &it));
    }
    for (size_t i = 0; i < sizeof jon / sizeof jon[0]; i++) {
        char key[8];
        snprintf(key, sizeof key, "j%zu", i);
        am_item_in it = { .ns = NS1("jon"), .key = am_str_c(key),
                          .value = AM_STR("{}"), .text = am_str_c(jon[i]) };
        CHECK_OK(am_store_put(s, &it));
    }
    return s;
}

static am_results *search(am_store *s, am_ns ns, const char *query,
                          am_search_mode mode, double min_score)
{
    am_results *r = NULL;
    am_search q = { .ns = ns, .query = am_str_c(query), .mode = mode,
                    .limit = 10, .min_score = min_score };
    CHECK_OK(am_store_search(s, &q, &r));
    return r;
}

AM_TEST(every_mode_scores_in_zero_one_best_first)
{
    char *dir;
    am_store *s = open_filled(&dir);
    static const am_search_mode modes[] = { AM_SEARCH_TEXT, AM_SEARCH_VECTOR,
                                            AM_SEARCH_HYBRID };
    for (size_t m = 0; m < 3; m++) {
        am_results *r = search(s, NS1("caroline"),
                               "What did Caroline do at the support group?",
                               modes[m], 0);
        CHECK(r->count > 0);
        for (size_t i = 0; i < r->count; i++) {
            CHECK(r->items[i].score >= 0 && r->items[i].score <= 1);
            CHECK(r->items[i].fts_score >= 0 && r->items[i].fts_score <= 1);
            if (i > 0)
                CHECK(r->items[i - 1].score >= r->items[i].score);
        }
        if (modes[m] != AM_SEARCH_VECTOR)
            CHECK_MEM_EQ(r->items[0].key.ptr, r->items[0].key.len, "c0");
        am_results_free(r);
    }
    am_store_close(s);
    test_rmtree(dir);
    free(dir);
}

AM_TEST(text_score_is_the_share_of_the_query_matched)
{
    char *dir;
    am_store *s = open_filled(&dir);
    /* "support group" matches c0 fully; "adoption" only c2: each row
     * matches about half of the query's weight, and neither all of it. */
    am_results *r = search(s, NS1("caroline"), "support group adoption",
                           AM_SEARCH_TEXT, 0);
    CHECK_EQ(r->count, 3); /* c0, c2, c4 ("group") */
    for (size_t i = 0; i < r->count; i++)
        CHECK(r->items[i].score > 0 && r->items[i].score < 0.9);
    am_results_free(r);
    /* A word the namespace has never seen lowers every score: the same
     * rows match a smaller share of the query. */
    am_results *a = search(s, NS1("caroline"), "support group",
                           AM_SEARCH_TEXT, 0);
    am_results *b = search(s, NS1("caroline"), "support group zeppelin",
                           AM_SEARCH_TEXT, 0);
    CHECK(a->count > 0 && b->count == a->count);
    CHECK(b->items[0].score < a->items[0].score);
    am_results_free(a);
    am_results_free(b);
    am_store_close(s);
    test_rmtree(dir);
    free(dir);
}

AM_TEST(min_score_answers_nothing_relevant_for_a_foreign_question)
{
    char *dir;
    am_store *s = open_filled(&dir);
    const char *q = "What did Caroline do at the LGBTQ support group?";
    /* Asked of the memory that holds the answer: found. */
    am_results *r = search(s, NS1("caroline"), q, AM_SEARCH_HYBRID,
                           AM_SEARCH_MIN_SCORE);
    CHECK(r->count > 0);
    CHECK_MEM_EQ(r->items[0].key.ptr, r->items[0].key.len, "c0");
    for (size_t i = 0; i < r->count; i++)
        CHECK(r->items[i].score >= AM_SEARCH_MIN_SCORE);
    am_results_free(r);
    /* Asked of Jon's memory: without a threshold something always comes
     * back; at the default threshold nothing does. */
    r = search(s, NS1("jon"), q, AM_SEARCH_HYBRID, 0);
    CHECK(r->count > 0);
    am_results_free(r);
    r = search(s, NS1("jon"), q, AM_SEARCH_HYBRID, AM_SEARCH_MIN_SCORE);
    CHECK_EQ(r->count, 0);
    am_results_free(r);
    r = search(s, NS1("jon"), q, AM_SEARCH_TEXT, AM_SEARCH_MIN_SCORE);
    CHECK_EQ(r->count, 0);
    am_results_free(r);
    am_store_close(s);
    test_rmtree(dir);
    free(dir);
}
