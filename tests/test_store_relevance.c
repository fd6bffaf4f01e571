/* test_store_relevance.c -- search scores are one relevance scale in
 * [0, 1] in every mode, and min_score lets a search say "nothing
 * relevant": a question about someone a namespace has never heard of
 * returns nothing at AM_SEARCH_MIN_SCORE, while the same question asked
 * of the memory that holds the answer still finds it. */
#include <math.h>
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
        CHECK_OK(am_embedder_default_create(NULL, &emb, NULL));
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

/* ---- Entity boost (am_search.boost_field) ---- */

static const struct { const char *speaker, *text; } talk[] = {
    { "Melanie", "I painted the sunset over the lake with my kids" },
    { "Caroline", "Melanie showed me her painting of the sunset" },
    { "Carol", "a sunset painting class starts next week" },
};

/* Each talk line with its speaker in meta: as "speaker", or with `list`
 * in a "people" array beside other entries. */
static am_store *open_talk(char **dir, int list)
{
    char path[512];
    am_store *s = NULL;
    *dir = test_tmpdir();
    CHECK_OK(am_store_open(test_store_target(*dir, "boost.db", path,
                                             sizeof path),
                           NULL, &s, NULL));
    for (size_t i = 0; i < sizeof talk / sizeof talk[0]; i++) {
        char key[8], meta[128];
        snprintf(key, sizeof key, "t%zu", i);
        if (list)
            snprintf(meta, sizeof meta, "{\"people\":[42,\"%s\",\"Gina\"]}",
                     talk[i].speaker);
        else
            snprintf(meta, sizeof meta, "{\"speaker\":\"%s\"}",
                     talk[i].speaker);
        am_item_in it = { .ns = NS1("talk"), .key = am_str_c(key),
                          .value = AM_STR("{}"), .meta = am_str_c(meta),
                          .text = am_str_c(talk[i].text) };
        CHECK_OK(am_store_put(s, &it));
    }
    return s;
}

static am_results *boosted(am_store *s, const char *query, const char *field,
                           double boost)
{
    am_results *r = NULL;
    am_search q = { .ns = NS1("talk"), .query = am_str_c(query),
                    .mode = AM_SEARCH_TEXT, .limit = 10,
                    .boost_field = am_str_c(field), .boost = boost };
    CHECK_OK(am_store_search(s, &q, &r));
    return r;
}

static double score_of(const am_results *r, const char *key)
{
    for (size_t i = 0; i < r->count; i++)
        if (r->items[i].key.len == strlen(key) &&
            memcmp(r->items[i].key.ptr, key, strlen(key)) == 0)
            return r->items[i].score;
    return -1;
}

AM_TEST(boost_raises_only_the_items_whose_field_the_query_names)
{
    char *dir;
    am_store *s = open_talk(&dir, 0);
    const char *q = "What sunset did Melanie paint?";
    am_results *plain = boosted(s, q, "", 0);
    am_results *def = boosted(s, q, "speaker", 0);
    am_results *full = boosted(s, q, "speaker", 1);
    CHECK_EQ(plain->count, 3);
    CHECK_EQ(def->count, 3);
    for (size_t i = 0; i < 3; i++) {
        char key[8];
        snprintf(key, sizeof key, "t%zu", i);
        double s0 = score_of(plain, key);
        CHECK(s0 > 0 && s0 < 1);
        if (i == 0) {
            /* Melanie's own turn: s + boost (1 - s), default boost. */
            CHECK(fabs(score_of(def, key) -
                       (s0 + AM_SEARCH_BOOST * (1 - s0))) < 1e-9);
            CHECK(fabs(score_of(full, key) - 1) < 1e-9);
        } else {
            /* Caroline's turn names Melanie but is not hers; "Carol" is
             * not a whole word of the query: both unchanged. */
            CHECK(fabs(score_of(def, key) - s0) < 1e-12);
            CHECK(fabs(score_of(full, key) - s0) < 1e-12);
        }
    }
    /* At full weight Melanie's turn comes first. */
    CHECK_MEM_EQ(full->items[0].key.ptr, full->items[0].key.len, "t0");
    am_results_free(plain);
    am_results_free(def);
    am_results_free(full);
    /* Case is ignored; a name followed by "'s" is still the name. */
    am_results *r = boosted(s, "melanie's sunset painting", "speaker", 1);
    CHECK_MEM_EQ(r->items[0].key.ptr, r->items[0].key.len, "t0");
    CHECK(fabs(r->items[0].score - 1) < 1e-9);
    am_results_free(r);
    /* A field no item has changes nothing. */
    plain = boosted(s, q, "", 0);
    r = boosted(s, q, "author", 1);
    for (size_t i = 0; i < r->count; i++)
        CHECK(fabs(r->items[i].score - plain->items[i].score) < 1e-12);
    am_results_free(plain);
    am_results_free(r);
    am_store_close(s);
    test_rmtree(dir);
    free(dir);
}

AM_TEST(boost_reaches_past_the_limit)
{
    char *dir;
    am_store *s = open_talk(&dir, 0);
    /* Unboosted, Caroline's turn is not first (it is longer and says
     * "painted", not "painting"); with limit 1 the boost must still look
     * past the first candidate to bring hers up. */
    const char *q = "sunset painting of Caroline";
    am_results *plain = boosted(s, q, "", 0);
    CHECK(plain->count == 3);
    CHECK(!(plain->items[0].key.len == 2 &&
            memcmp(plain->items[0].key.ptr, "t1", 2) == 0));
    am_results_free(plain);
    am_results *r = NULL;
    am_search sq = { .ns = NS1("talk"), .query = am_str_c(q),
                     .mode = AM_SEARCH_TEXT, .limit = 1,
                     .boost_field = AM_STR("speaker"), .boost = 1 };
    CHECK_OK(am_store_search(s, &sq, &r));
    CHECK_EQ(r->count, 1);
    CHECK_MEM_EQ(r->items[0].key.ptr, r->items[0].key.len, "t1");
    am_results_free(r);
    am_store_close(s);
    test_rmtree(dir);
    free(dir);
}

AM_TEST(boost_field_may_hold_a_list_of_names)
{
    char *dir;
    am_store *s = open_talk(&dir, 1);
    am_results *r = boosted(s, "sunset painting by carol", "people", 1);
    /* Only t2's list names Carol. */
    CHECK(r->count == 3);
    CHECK_MEM_EQ(r->items[0].key.ptr, r->items[0].key.len, "t2");
    CHECK(fabs(r->items[0].score - 1) < 1e-9);
    CHECK(r->items[1].score < 1);
    am_results_free(r);
    am_store_close(s);
    test_rmtree(dir);
    free(dir);
}

AM_TEST(boost_outside_zero_one_is_refused)
{
    char *dir;
    am_store *s = open_talk(&dir, 0);
    static const double bad[] = { -0.1, 1.5, NAN };
    for (size_t i = 0; i < 3; i++) {
        am_results *r = NULL;
        am_search q = { .ns = NS1("talk"), .query = AM_STR("sunset"),
                        .boost_field = AM_STR("speaker"), .boost = bad[i] };
        CHECK_EQ(am_store_search(s, &q, &r), AM_EINVAL);
        CHECK(r == NULL);
        CHECK(strstr(am_store_last_error(s)->msg, "boost") != NULL);
    }
    /* Nothing stored was touched. */
    am_results *r = boosted(s, "sunset", "speaker", 0);
    CHECK_EQ(r->count, 3);
    am_results_free(r);
    am_store_close(s);
    test_rmtree(dir);
    free(dir);
}

/* store.h: a boost with no field to read is a mistake, not a no-op (it
 * was silently off); the message names both fields, and the CLI relies
 * on this one check. A field without a boost takes the default weight. */
AM_TEST(boost_without_boost_field_is_refused)
{
    char *dir;
    am_store *s = open_talk(&dir, 0);
    am_results *r = NULL;
    am_search q = { .ns = NS1("talk"), .query = AM_STR("sunset"),
                    .boost = 0.5 };
    CHECK_EQ(am_store_search(s, &q, &r), AM_EINVAL);
    CHECK(r == NULL);
    CHECK(strstr(am_store_last_error(s)->msg,
                 "boost 0.5 needs boost_field") != NULL);
    q.boost = 0;
    CHECK_OK(am_store_search(s, &q, &r));
    CHECK_EQ(r->count, 3);
    am_results_free(r);
    am_store_close(s);
    test_rmtree(dir);
    free(dir);
}

/* ---- Names bonus (am_search.names_field) and am_text_names ---- */

static void check_names(const char *text, const char *want)
{
    static const am_str speakers[] = { { "Caroline", 8 },
                                       { "Melanie", 7 } };
    am_buf out = AM_BUF_INIT;
    am_error err = { AM_OK, "" };
    CHECK_OK(am_text_names(am_str_c(text), speakers, 2, &out, &err));
    CHECK_STR_EQ(out.ptr, want);
    CHECK_STR_EQ(err.msg, "");
    am_buf_free(&out);
}

AM_TEST(text_names_are_capitals_that_open_no_sentence)
{
    /* The speaker prefix and each sentence's first word name nobody;
     * the speakers and habitual capitals ("Hey", "Thanks") are left out;
     * a repeat is listed once. */
    check_names("Caroline: Hey Mel! We went to Paris with Max. Paris was "
                "great, and then Rome, Thanks Melanie",
                "[\"Mel\",\"Paris\",\"Max\",\"Rome\"]");
    check_names("", "[]");
    check_names("all lower case, no names here", "[]");
    /* Not ASCII names: a single capital, a word going on with a digit or
     * a non-ASCII letter, a capital inside a word. */
    check_names("so I met A and R2D2 and Zo\xc3\xab and iPhone", "[]");
    /* After a quote or a colon a sentence starts; after a comma not. */
    check_names("she said \"Sweden\" or: Norway, Denmark",
                "[\"Denmark\"]");
    /* No exclusions: the speaker inside a sentence is a name too. */
    am_buf out = AM_BUF_INIT;
    CHECK_OK(am_text_names(AM_STR("ask Caroline"), NULL, 0, &out, NULL));
    CHECK_STR_EQ(out.ptr, "[\"Caroline\"]");
    am_buf_free(&out);
}

AM_TEST(text_names_lists_each_of_many_names_once_in_order)
{
    /* 20,000 distinct names ("Naaaa" ... ), each said three times: the
     * set of names seen grows many times, and each is listed once, in
     * order of first mention. */
    enum { N = 20000 };
    am_buf text = AM_BUF_INIT, want = AM_BUF_INIT, out = AM_BUF_INIT;
    char w[6] = "N";
    CHECK_OK(am_buf_append(&want, "[", 1));
    for (int round = 0; round < 3; round++)
        for (int i = 0; i < N; i++) {
            for (int k = 0, v = i; k < 4; k++, v /= 26)
                w[1 + k] = (char)('a' + v % 26);
            CHECK_OK(am_buf_appendf(&text, "met %s and ", w));
            if (round == 0)
                CHECK_OK(am_buf_appendf(&want, "%s\"%s\"", i ? "," : "",
                                        w));
        }
    CHECK_OK(am_buf_append(&want, "]", 1));
    CHECK_OK(am_text_names((am_str){ text.ptr, text.len }, NULL, 0, &out,
                           NULL));
    CHECK_EQ(out.len, want.len);
    CHECK(memcmp(out.ptr, want.ptr, want.len) == 0);
    am_buf_free(&text);
    am_buf_free(&want);
    am_buf_free(&out);
}

/* am_text_names with every allocation failing in turn: AM_ENOMEM leaves
 * `out` empty and nothing allocated; a run that gets its memory lists
 * every name. 200 names grow the set of names seen twice. */
static am_status names_oom_body(void *ctx, const am_allocator *alloc)
{
    const am_buf *text = ctx;
    am_buf out = AM_BUF_INIT;
    out.alloc = alloc;
    am_status st = am_text_names((am_str){ text->ptr, text->len }, NULL, 0,
                                 &out, NULL);
    if (st == AM_OK)
        CHECK_EQ(out.len, 200 * 6 + 1); /* ["Naa",...,"Nhr"] */
    else
        CHECK_EQ(out.len, 0);
    am_buf_free(&out);
    return st;
}

AM_TEST(text_names_out_of_memory_leaves_nothing)
{
    am_buf text = AM_BUF_INIT;
    for (int i = 0; i < 200; i++)
        CHECK_OK(am_buf_appendf(&text, "met N%c%c and ", 'a' + i % 26,
                                'a' + i / 26));
    CHECK(test_oom_sweep(names_oom_body, &text) > 3);
    am_buf_free(&text);
}

AM_TEST(text_names_refuses_bad_arguments)
{
    am_buf out = AM_BUF_INIT;
    am_error err = { AM_OK, "" };
    CHECK_EQ(am_text_names(AM_STR("x"), NULL, 0, NULL, &err), AM_EINVAL);
    CHECK(strstr(err.msg, "output") != NULL);
    CHECK_EQ(am_text_names((am_str){ NULL, 3 }, NULL, 0, &out, &err),
             AM_EINVAL);
    CHECK(strstr(err.msg, "NULL text") != NULL);
    CHECK_EQ(am_text_names(AM_STR("x"), NULL, 2, &out, &err), AM_EINVAL);
    CHECK(strstr(err.msg, "exclusion list") != NULL);
    am_str bad[] = { { "Ann", 3 }, { NULL, 4 } };
    CHECK_EQ(am_text_names(AM_STR("x"), bad, 2, &out, &err), AM_EINVAL);
    CHECK(strstr(err.msg, "exclusion 1") != NULL);
    CHECK(out.ptr == NULL);
    am_buf_free(&out);
}

static const struct { const char *text, *names; } trips[] = {
    { "travel last summer was fun", "[]" },
    { "travel last summer to Sweden", "[\"Sweden\"]" },
    { "Caroline asked about travel last summer", "[\"Caroline\"]" },
};

static am_store *open_trips(char **dir)
{
    char path[512];
    am_store *s = NULL;
    *dir = test_tmpdir();
    CHECK_OK(am_store_open(test_store_target(*dir, "names.db", path,
                                             sizeof path),
                           NULL, &s, NULL));
    for (size_t i = 0; i < sizeof trips / sizeof trips[0]; i++) {
        char key[8], meta[128];
        snprintf(key, sizeof key, "t%zu", i);
        snprintf(meta, sizeof meta, "{\"names\":%s}", trips[i].names);
        am_item_in it = { .ns = NS1("trips"), .key = am_str_c(key),
                          .value = AM_STR("{}"), .meta = am_str_c(meta),
                          .text = am_str_c(trips[i].text) };
        CHECK_OK(am_store_put(s, &it));
    }
    return s;
}

static am_results *named_search(am_store *s, const char *query,
                                const char *field, double bonus,
                                size_t limit)
{
    am_results *r = NULL;
    am_search q = { .ns = NS1("trips"), .query = am_str_c(query),
                    .mode = AM_SEARCH_TEXT, .limit = limit,
                    .names_field = am_str_c(field), .names_bonus = bonus };
    CHECK_OK(am_store_search(s, &q, &r));
    return r;
}

AM_TEST(names_bonus_raises_items_naming_what_the_query_does_not)
{
    char *dir;
    am_store *s = open_trips(&dir);
    const char *q = "where did Caroline travel last summer";
    am_results *plain = named_search(s, q, "", 0, 10);
    am_results *def = named_search(s, q, "names", 0, 10);
    CHECK_EQ(plain->count, 3);
    CHECK_EQ(def->count, 3);
    for (size_t i = 0; i < 3; i++) {
        char key[8];
        snprintf(key, sizeof key, "t%zu", i);
        double s0 = score_of(plain, key), s1 = score_of(def, key);
        CHECK(s0 > 0 && s0 < 1);
        if (i == 1) /* names Sweden, which the query does not */
            CHECK(fabs(s1 - (s0 + AM_SEARCH_NAMES_BONUS * (1 - s0))) <
                  1e-9);
        else        /* no names, or only the one the query names */
            CHECK(fabs(s1 - s0) < 1e-12);
    }
    am_results_free(plain);
    am_results_free(def);
    /* Once the query names Sweden too, nothing is raised. */
    plain = named_search(s, "travel to sweden with caroline", "", 0, 10);
    def = named_search(s, "travel to sweden with caroline", "names", 1, 10);
    for (size_t i = 0; i < plain->count; i++)
        CHECK(fabs(def->items[i].score - plain->items[i].score) < 1e-12);
    am_results_free(plain);
    am_results_free(def);
    /* The bonus never lifts an item over min_score: with min_score just
     * above Sweden's unraised score, it is dropped even at full bonus. */
    plain = named_search(s, q, "", 0, 10);
    double s1 = score_of(plain, "t1");
    am_results_free(plain);
    am_results *r = NULL;
    am_search sq = { .ns = NS1("trips"), .query = am_str_c(q),
                     .mode = AM_SEARCH_TEXT, .limit = 10,
                     .names_field = AM_STR("names"), .names_bonus = 1,
                     .min_score = s1 + 1e-6 };
    CHECK_OK(am_store_search(s, &sq, &r));
    CHECK(score_of(r, "t1") < 0);
    am_results_free(r);
    am_store_close(s);
    test_rmtree(dir);
    free(dir);
}

AM_TEST(names_bonus_reaches_past_the_limit)
{
    char *dir;
    am_store *s = open_trips(&dir);
    /* Unraised, the short turn without names is first; with limit 1 the
     * bonus must still look past it to bring Sweden's up. */
    const char *q = "travel last summer fun";
    am_results *plain = named_search(s, q, "", 0, 10);
    CHECK(plain->count == 3);
    CHECK_MEM_EQ(plain->items[0].key.ptr, plain->items[0].key.len, "t0");
    am_results_free(plain);
    am_results *r = named_search(s, q, "names", 1, 1);
    CHECK_EQ(r->count, 1);
    CHECK_MEM_EQ(r->items[0].key.ptr, r->items[0].key.len, "t1");
    CHECK(fabs(r->items[0].score - 1) < 1e-9);
    am_results_free(r);
    am_store_close(s);
    test_rmtree(dir);
    free(dir);
}

AM_TEST(names_bonus_outside_zero_one_is_refused)
{
    char *dir;
    am_store *s = open_trips(&dir);
    static const double bad[] = { -0.1, 1.5, NAN };
    for (size_t i = 0; i < 3; i++) {
        am_results *r = NULL;
        am_search q = { .ns = NS1("trips"), .query = AM_STR("travel"),
                        .names_field = AM_STR("names"),
                        .names_bonus = bad[i] };
        CHECK_EQ(am_store_search(s, &q, &r), AM_EINVAL);
        CHECK(r == NULL);
        CHECK(strstr(am_store_last_error(s)->msg, "names_bonus") != NULL);
    }
    /* store.h: a bonus with no field to read is a mistake, not a no-op;
     * the CLI and Python rely on this one check. */
    am_results *r = NULL;
    am_search q = { .ns = NS1("trips"), .query = AM_STR("travel"),
                    .names_bonus = 0.5 };
    CHECK_EQ(am_store_search(s, &q, &r), AM_EINVAL);
    CHECK(r == NULL);
    CHECK(strstr(am_store_last_error(s)->msg,
                 "names_bonus 0.5 needs names_field") != NULL);
    am_store_close(s);
    test_rmtree(dir);
    free(dir);
}

AM_TEST(a_tiny_namespace_still_scores_a_natural_question)
{
    /* Two conversations: every word of the answer is in half the rows.
     * FTS5's IDF gave such words no weight at all, so the question scored
     * ~5e-7 and fell under AM_SEARCH_MIN_SCORE: the recall tool answered
     * "nothing relevant" in a user's first days. */
    char *dir = test_tmpdir(), path[512];
    am_store *s = NULL;
    CHECK_OK(am_store_open(test_store_target(dir, "tiny.db", path,
                                             sizeof path),
                           NULL, &s, NULL));
    static const char *const texts[] = {
        "user: I keep getting 401 errors on login\nassistant: your API "
        "token expired; rotate it and the login 401 errors stop",
        "user: a good pasta recipe?\nassistant: cacio e pepe",
    };
    for (size_t i = 0; i < 2; i++) {
        char key[8];
        snprintf(key, sizeof key, "s%zu", i);
        am_item_in it = { .ns = NS1("tiny"), .key = am_str_c(key),
                          .value = AM_STR("{}"), .text = am_str_c(texts[i]) };
        CHECK_OK(am_store_put(s, &it));
    }
    am_results *r = search(s, NS1("tiny"),
                           "how did we fix the login 401 errors",
                           AM_SEARCH_TEXT, AM_SEARCH_MIN_SCORE);
    CHECK_EQ(r->count, 1);
    CHECK_MEM_EQ(r->items[0].key.ptr, r->items[0].key.len, "s0");
    am_results_free(r);
    am_store_close(s);
    test_rmtree(dir);
    free(dir);
}
