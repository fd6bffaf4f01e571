/* test_store_filter.c -- the metadata filter conformance suite.
 *
 * One table of filters and the items each must select, run in every
 * search mode, against whichever backend AM_TEST_STORE names (ctest runs
 * it as test_store_filter on SQLite and test_store_filter_pg on
 * PostgreSQL): both backends compile the same parsed filter (filter.h)
 * into their own SQL and must agree on every row here. Then the errors a
 * bad filter gets, and the promise that a filter is applied before the
 * LIMIT, not after it.
 */
#include <stdlib.h>

#include "store_fixture.h"

/* Every item lives in namespace ["u"] (static: the items outlive the
 * loops that fill them). */
static const am_str u_part[] = { { "u", 1 } };
#define NSU ((am_ns){ u_part, 1 })

static const am_search_mode modes[] = { AM_SEARCH_TEXT, AM_SEARCH_VECTOR,
                                        AM_SEARCH_HYBRID };
static const char *const mode_names[] = { "text", "vector", "hybrid" };

/* Keys 1..9; every value holds the word "note", so every item is a text
 * hit and has a vector: what a search returns is what the filter lets
 * through. */
static const char *const metas[] = {
    "{\"kind\":\"bug\",\"prio\":1,\"tags\":[\"auth\",\"ui\"],"
    "\"owner\":\"ann\",\"score\":0.5}",
    "{\"kind\":\"bug\",\"prio\":3,\"tags\":[\"db\"],\"owner\":\"bob\","
    "\"score\":2.25}",
    "{\"kind\":\"feat\",\"prio\":2,\"tags\":[],\"owner\":\"Ann\","
    "\"done\":true}",
    "{\"kind\":\"feat\",\"prio\":2.0,\"owner\":null,\"done\":false}",
    "{\"kind\":\"chore\",\"prio\":\"high\",\"tags\":[\"auth\"],"
    "\"title\":\"fix the login page\"}",
    "{\"prio\":10,\"done\":true,\"nested\":{\"a\":1},\"tags\":\"auth\"}",
    "{}",
    "{\"kind\":\"bug\",\"prio\":-1,\"tags\":[1,2.5,true,null,\"x\"],"
    "\"owner\":\"ann\",\"title\":\"O'Reilly \\\"quoted\\\" \\\\ %_\"}",
    "{\"kind\":\"caf\xc3\xa9\",\"owner\":\"\xc3\xa9mile\",\"prio\":1e2}",
};
#define NITEMS (sizeof metas / sizeof metas[0])

static void put_items(am_store *s)
{
    am_item_in in[NITEMS];
    char keys[NITEMS][4], values[NITEMS][64];
    for (size_t i = 0; i < NITEMS; i++) {
        snprintf(keys[i], sizeof keys[i], "%zu", i + 1);
        snprintf(values[i], sizeof values[i], "\"note %zu about item %s\"",
                 i + 1, i % 2 ? "alpha" : "beta");
        in[i] = (am_item_in){ .ns = NSU, .key = am_str_c(keys[i]),
                              .value = am_str_c(values[i]),
                              .meta = am_str_c(metas[i]) };
    }
    CHECK_OK(am_store_put_many(s, in, NITEMS));
}

/* The keys of `r`, sorted, as "1,3,8". */
static void keys_of(const am_results *r, char *out, size_t n)
{
    int seen[NITEMS + 1] = { 0 };
    for (size_t i = 0; i < r->count; i++) {
        int k = atoi(r->items[i].key.ptr);
        CHECK(k >= 1 && k <= (int)NITEMS);
        CHECK_EQ(seen[k], 0); /* no duplicates */
        seen[k] = 1;
    }
    out[0] = '\0';
    for (size_t k = 1; k <= NITEMS; k++)
        if (seen[k])
            snprintf(out + strlen(out), n - strlen(out), "%s%zu",
                     out[0] != '\0' ? "," : "", k);
}

static const struct {
    const char *filter, *keys;
} cases[] = {
    /* Equality: type-strict, numbers by value. */
    { "{\"kind\":\"bug\"}", "1,2,8" },
    { "{\"kind\":{\"$eq\":\"bug\"}}", "1,2,8" },
    { "{\"prio\":2}", "3,4" },
    { "{\"prio\":2.0}", "3,4" },
    { "{\"prio\":100}", "9" },
    { "{\"score\":0.5}", "1" },
    { "{\"done\":true}", "3,6" },
    { "{\"done\":false}", "4" },
    { "{\"done\":1}", "" },
    { "{\"owner\":null}", "4" },
    { "{\"prio\":\"high\"}", "5" },
    { "{\"kind\":\"caf\xc3\xa9\"}", "9" },
    { "{\"title\":\"O'Reilly \\\"quoted\\\" \\\\ %_\"}", "8" },
    { "{\"tags\":\"auth\"}", "6" },
    /* $ne and $nin also select items without the field. */
    { "{\"kind\":{\"$ne\":\"bug\"}}", "3,4,5,6,7,9" },
    { "{\"owner\":{\"$ne\":null}}", "1,2,3,5,6,7,8,9" },
    { "{\"prio\":{\"$nin\":[1,3,\"high\"]}}", "3,4,6,7,8,9" },
    { "{\"prio\":{\"$in\":[1,3,\"high\"]}}", "1,2,5" },
    { "{\"kind\":{\"$in\":[]}}", "" },
    { "{\"kind\":{\"$nin\":[]}}", "1,2,3,4,5,6,7,8,9" },
    /* Ranges: numbers with numbers, strings with strings (by bytes). */
    { "{\"prio\":{\"$gt\":1}}", "2,3,4,6,9" },
    { "{\"prio\":{\"$gte\":1}}", "1,2,3,4,6,9" },
    { "{\"prio\":{\"$lt\":2}}", "1,8" },
    { "{\"prio\":{\"$lte\":2,\"$gt\":-5}}", "1,3,4,8" },
    { "{\"prio\":{\"$gt\":1.5,\"$lt\":2.5}}", "3,4" },
    { "{\"score\":{\"$gt\":1.5}}", "2" },
    { "{\"prio\":{\"$gt\":\"a\"}}", "5" },
    { "{\"owner\":{\"$gt\":\"a\"}}", "1,2,8,9" },
    { "{\"owner\":{\"$lt\":\"b\"}}", "1,3,8" },
    { "{\"owner\":{\"$gte\":\"z\"}}", "9" },
    /* $contains: a substring of a string, a member of an array. */
    { "{\"tags\":{\"$contains\":\"auth\"}}", "1,5,6" },
    { "{\"tags\":{\"$contains\":\"au\"}}", "6" },
    { "{\"title\":{\"$contains\":\"login\"}}", "5" },
    { "{\"title\":{\"$contains\":\"%_\"}}", "8" },
    { "{\"tags\":{\"$contains\":2.5}}", "8" },
    { "{\"tags\":{\"$contains\":1}}", "8" },
    { "{\"tags\":{\"$contains\":true}}", "8" },
    { "{\"tags\":{\"$contains\":null}}", "8" },
    { "{\"tags\":{\"$contains\":\"db\"}}", "2" },
    { "{\"nested\":{\"$contains\":1}}", "" },
    /* $exists: a field holding null exists. */
    { "{\"done\":{\"$exists\":true}}", "3,4,6" },
    { "{\"owner\":{\"$exists\":false}}", "5,6,7" },
    { "{\"nested\":{\"$exists\":true}}", "6" },
    /* Combinations. */
    { "{}", "1,2,3,4,5,6,7,8,9" },
    { "{\"kind\":\"bug\",\"prio\":{\"$gte\":2}}", "2" },
    { "{\"$and\":[{\"kind\":\"bug\"},{\"owner\":\"ann\"}]}", "1,8" },
    { "{\"$or\":[{\"kind\":\"feat\"},{\"prio\":{\"$gt\":5}}]}", "3,4,6,9" },
    { "{\"$not\":{\"kind\":\"bug\"}}", "3,4,5,6,7,9" },
    { "{\"$not\":{}}", "" },
    { "{\"kind\":\"bug\",\"$or\":[{\"prio\":1},{\"prio\":-1}]}", "1,8" },
    { "{\"$or\":[{\"$and\":[{\"kind\":\"bug\"},{\"$not\":{\"tags\":"
      "{\"$contains\":\"db\"}}}]},{\"done\":true}]}", "1,3,6,8" },
    { "{\"$not\":{\"$or\":[{\"kind\":\"bug\"},{\"kind\":\"feat\"}]}}",
      "5,6,7,9" },
};

AM_TEST(filters_select_the_same_items_in_every_mode)
{
    fixture f;
    char got[64];
    fx_open_named(&f, "f.db", 1);
    put_items(f.s);
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        for (size_t m = 0; m < sizeof modes / sizeof modes[0]; m++) {
            am_results *r = NULL;
            am_search q = { .ns = NSU, .query = AM_STR("note"),
                            .mode = modes[m], .limit = 50,
                            .filter = am_str_c(cases[c].filter) };
            am_status st = am_store_search(f.s, &q, &r);
            if (st != AM_OK)
                fail_msg("%s search, filter %s: %s: %s", mode_names[m],
                         cases[c].filter, am_status_str(st),
                         am_store_last_error(f.s)->msg);
            keys_of(r, got, sizeof got);
            if (strcmp(got, cases[c].keys) != 0)
                fail_msg("%s search, filter %s: got {%s}, want {%s}",
                         mode_names[m], cases[c].filter, got,
                         cases[c].keys);
            am_results_free(r);
        }
    }
    fx_close(&f);
}

static const struct {
    const char *filter, *msg; /* msg: a part of the error message */
} bad[] = {
    { "[1]", "search filter: must be a JSON object" },
    { "{\"a\":", "search filter" },
    { "{\"a\":{\"$regex\":\"x\"}}", "unknown operator '$regex' at 'a.$regex'" },
    { "{\"$nor\":[{\"a\":1}]}", "unknown operator '$nor' at '$nor'" },
    { "{\"$or\":{\"a\":1}}", "$or takes a non-empty array of filters, not an "
      "object at '$or'" },
    { "{\"$and\":[]}", "$and takes a non-empty array of filters, not an "
      "empty one" },
    { "{\"$not\":[{\"a\":1}]}", "expected a filter object, not an array at "
      "'$not'" },
    { "{\"$or\":[{\"a\":1},{\"b\":{\"$foo\":1}}]}",
      "unknown operator '$foo' at '$or[1].b.$foo'" },
    { "{\"$or\":[{\"a\":1},2]}", "not a number at '$or[1]'" },
    { "{\"a\":{\"$gt\":true}}", "$gt compares with a number or a string, "
      "not a boolean at 'a.$gt'" },
    { "{\"a\":{\"$lte\":null}}", "$lte compares with a number or a string" },
    { "{\"a\":{\"$in\":\"x\"}}", "$in takes an array, not a string at "
      "'a.$in'" },
    { "{\"a\":{\"$nin\":[1,[2]]}}", "$nin compares with a string, number, "
      "boolean or null, not an array at 'a.$nin[1]'" },
    { "{\"a\":{\"$contains\":{}}}", "$contains compares with a string" },
    { "{\"a\":{\"$eq\":[1]}}", "$eq compares with a string" },
    { "{\"a\":[1,2]}", "not an array (use $contains or $in) at 'a'" },
    { "{\"a\":{\"b\":1}}", "operators start with '$') at 'a.b'" },
    { "{\"a\":{}}", "an operator object is empty at 'a'" },
    { "{\"a\":{\"$exists\":1}}", "$exists takes true or false, not a number" },
    { "{\"a\":{\"$or\":[]}}", "'$or' combines filters" },
    { "{\"$gt\":1}", "'$gt' applies to a field" },
    { "{\"a\\\"b\":1}", "a field name may not hold" },
    { "{\"\":1}", "a field name is empty" },
};

AM_TEST(bad_filters_are_refused_naming_the_operator_and_where)
{
    fixture f;
    fx_open_named(&f, "f.db", 1);
    put_items(f.s);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        am_results *r = (am_results *)&f; /* must be reset to NULL */
        am_search q = { .ns = NSU, .query = AM_STR("note"),
                        .filter = am_str_c(bad[i].filter) };
        am_status st = am_store_search(f.s, &q, &r);
        const char *msg = am_store_last_error(f.s)->msg;
        if (st != AM_EFORMAT || strstr(msg, bad[i].msg) == NULL)
            fail_msg("filter %s: got %s '%s', want AM_EFORMAT '...%s...'",
                     bad[i].filter, am_status_str(st), msg, bad[i].msg);
        CHECK(r == NULL);
    }
    fx_close(&f);
}

/* Nesting and size are bounded, with the bound in the message. */
AM_TEST(deep_or_huge_filters_are_refused_with_the_limit)
{
    fixture f;
    am_buf b = AM_BUF_INIT;
    am_results *r = NULL;
    fx_open_named(&f, "f.db", 1);
    for (int i = 0; i < 40; i++)
        am_buf_append(&b, "{\"$not\":", 8);
    am_buf_append(&b, "{\"a\":1}", 7);
    for (int i = 0; i < 40; i++)
        am_buf_append(&b, "}", 1);
    am_search q = { .ns = NSU, .query = AM_STR("note"),
                    .filter = am_buf_str(&b) };
    CHECK_ST(am_store_search(f.s, &q, &r), AM_EFORMAT);
    CHECK(strstr(am_store_last_error(f.s)->msg,
                 "nested more than 32 levels deep") != NULL);
    am_buf_clear(&b);
    am_buf_append(&b, "{\"a\":{\"$in\":[0", 14);
    for (int i = 1; i < 1200; i++)
        am_buf_appendf(&b, ",%d", i);
    am_buf_append(&b, "]}}", 3);
    q.filter = am_buf_str(&b);
    CHECK_ST(am_store_search(f.s, &q, &r), AM_EFORMAT);
    CHECK(strstr(am_store_last_error(f.s)->msg,
                 "more than 1000 conditions and values") != NULL);
    /* 900 values are fine, and one of them selects. */
    am_buf_clear(&b);
    am_buf_append(&b, "{\"prio\":{\"$in\":[3", 17);
    for (int i = 1000; i < 1900; i++)
        am_buf_appendf(&b, ",%d", i);
    am_buf_append(&b, "]}}", 3);
    put_items(f.s);
    q.filter = am_buf_str(&b);
    CHECK_OK(am_store_search(f.s, &q, &r));
    CHECK_EQ(r->count, 1);
    CHECK_MEM_EQ(r->items[0].key.ptr, r->items[0].key.len, "2");
    am_results_free(r);
    am_buf_free(&b);
    fx_close(&f);
}

/* A rare filter among many text and vector hits still fills `limit`, with
 * the items an unfiltered search ranks first among those that pass: the
 * filter is applied before the LIMIT, not to what survived it. */
AM_TEST(filtered_search_returns_its_full_limit_in_rank_order)
{
    fixture f;
    enum { N = 300 };
    static const char *const words[] = { "apple", "river", "stone",
                                         "cloud", "ember" };
    am_item_in in[N];
    char keys[N][8], values[N][96], metas_[N][48];
    fx_open_named(&f, "f.db", 1);
    for (int i = 0; i < N; i++) {
        snprintf(keys[i], sizeof keys[i], "k%03d", i);
        /* Varying lengths and word counts give the items distinct
         * ranks. */
        snprintf(values[i], sizeof values[i],
                 "\"report %s %s report %s\"", words[i % 5],
                 words[(i / 5) % 5], i % 3 ? "daily" : "report weekly");
        snprintf(metas_[i], sizeof metas_[i], "{\"grp\":%d,\"n\":%d}",
                 i % 20, i);
        in[i] = (am_item_in){ .ns = NSU, .key = am_str_c(keys[i]),
                              .value = am_str_c(values[i]),
                              .meta = am_str_c(metas_[i]) };
    }
    for (int i = 0; i < N; i += 100) {
        am_status st = am_store_put_many(f.s, in + i, 100);
        if (st != AM_OK)
            fail_msg("put: %s", am_store_last_error(f.s)->msg);
    }
    for (size_t m = 0; m < sizeof modes / sizeof modes[0]; m++) {
        am_results *all = NULL, *r = NULL;
        am_search q = { .ns = NSU, .query = AM_STR("report river"),
                        .mode = modes[m], .limit = N };
        CHECK_OK(am_store_search(f.s, &q, &all));
        CHECK_EQ(all->count, N);
        q.limit = 10;
        q.filter = AM_STR("{\"grp\":{\"$in\":[7,13]},\"n\":{\"$gte\":20}}");
        CHECK_OK(am_store_search(f.s, &q, &r));
        if (r->count != 10)
            fail_msg("%s search: %zu results, want 10", mode_names[m],
                     r->count);
        /* The unfiltered order, filtered here. */
        size_t j = 0;
        for (size_t i = 0; i < all->count && j < r->count; i++) {
            int n = atoi(all->items[i].key.ptr + 1);
            if ((n % 20 != 7 && n % 20 != 13) || n < 20)
                continue;
            if (all->items[i].key.len != r->items[j].key.len ||
                memcmp(all->items[i].key.ptr, r->items[j].key.ptr,
                       r->items[j].key.len) != 0)
                fail_msg("%s search: result %zu is %.*s, want %.*s",
                         mode_names[m], j, (int)r->items[j].key.len,
                         r->items[j].key.ptr, (int)all->items[i].key.len,
                         all->items[i].key.ptr);
            j++;
        }
        CHECK_EQ(j, 10);
        am_results_free(all);
        am_results_free(r);
    }
    fx_close(&f);
}
