/* test_store.c -- items, namespaces, TTL, history, search, sessions. */
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "agentmem/store.h"
#include "agentmem/tiers.h"
#include "core/core.h"
#include "jansson_fail.h"
#include "harness.h"
#include "store_target.h"

typedef struct fixture {
    test_clock tc;
    am_clock clk;
    am_store *s;
    am_embedder *emb;
    char *dir;
    char path[512];
} fixture;

static void fx_open(fixture *f, int with_embedder)
{
    am_error err;
    memset(f, 0, sizeof *f);
    f->tc.now_ms = 1000000;
    f->clk = test_clock_make(&f->tc);
    f->dir = test_tmpdir();
    test_store_target(f->dir, "t.db", f->path, sizeof f->path);
    am_store_opts o = am_store_opts_default();
    o.clock = &f->clk;
    if (with_embedder) {
        CHECK_OK(am_embedder_hash_create(64, NULL, &f->emb, &err));
        o.embedder = f->emb;
    }
    CHECK_OK_E(am_store_open(f->path, &o, &f->s, &err), &err);
}

static void fx_close(fixture *f)
{
    am_store_close(f->s);
    am_embedder_free(f->emb);
    test_rmtree(f->dir);
    free(f->dir);
}

#define NS1(a) ((am_ns){ (const am_str[]){ AM_STR(a) }, 1 })
#define NS2(a, b) ((am_ns){ (const am_str[]){ AM_STR(a), AM_STR(b) }, 2 })

static am_status put(am_store *s, am_ns ns, const char *key,
                     const char *value, int64_t ttl)
{
    am_item_in it = { 0 };
    it.ns = ns;
    it.key = am_str_c(key);
    it.value = am_str_c(value);
    it.ttl_ms = ttl;
    return am_store_put(s, &it);
}

AM_TEST(put_get_roundtrip_and_update)
{
    fixture f;
    fx_open(&f, 0);
    am_buf out = AM_BUF_INIT;
    CHECK_OK(put(f.s, NS2("user_123", "prefs"), "language",
                 "{\"value\":\"Python\"}", 0));
    CHECK_OK(am_store_get(f.s, NS2("user_123", "prefs"), AM_STR("language"),
                          &out));
    CHECK_STR_EQ(out.ptr, "{\"value\":\"Python\"}");
    CHECK_OK(put(f.s, NS2("user_123", "prefs"), "language", "\"C\"", 0));
    CHECK_OK(am_store_get(f.s, NS2("user_123", "prefs"), AM_STR("language"),
                          &out));
    CHECK_STR_EQ(out.ptr, "\"C\"");
    CHECK_ST(am_store_get(f.s, NS1("user_123"), AM_STR("language"), &out),
             AM_ENOTFOUND);
    am_buf_free(&out);
    fx_close(&f);
}

AM_TEST(values_are_checked_and_texted_like_jansson)
{
    /* Puts check values with a fast scanner and fall back to jansson for
     * what it does not handle; both must accept the same documents and
     * derive the same text (the string leaves joined by spaces). */
    static const struct {
        const char *value, *text; /* text NULL: rejected (AM_EFORMAT) */
    } cases[] = {
        { "{\"a\":\"x y\",\"b\":[\"z\",1,true,null,-0.5]}", "x y z" },
        { " \"plain\" ", "plain" },
        { "[\"\",\"a\",\"\"]", "a " },
        { "{\"e\":\"t\\tq\\\"\\\\\\/n\\n\"}", "t\tq\"\\/n\n" },
        { "{\"u\":\"caf\\u00e9 \\ud83d\\ude00\"}", "caf\xc3\xa9 \xf0\x9f\x98\x80" },
        { "{\"k\":\"first\",\"k\":\"last\"}", "last" },
        { "[1e3, 2E-2, 123456789012345678901]", NULL },
        { "[1e3, 2E-2, 12345678901234567]", "" },
        { "{\"\xc3\xa9\":\"\xe2\x82\xac\"}", "\xe2\x82\xac" },
        { "\"\xc3\"", NULL },
        { "\"a\x01\"", NULL },
        { "[1,]", NULL },
        { "{\"a\" 1}", NULL },
        { "01", NULL },
        { "-", NULL },
        { "[1] x", NULL },
        { "", NULL },
        { "tru", NULL },
        { "\"\\x\"", NULL },
        { "{\"a\":1,\"b\":2,\"c\":3,\"d\":4,\"e\":5,\"f\":6,\"g\":7,\"h\":8,"
          "\"i\":9,\"j\":10,\"k\":11,\"l\":12,\"m\":13,\"n\":14,\"o\":15,"
          "\"p\":16,\"q\":\"seventeen\"}", "seventeen" },
    };
    fixture f;
    fx_open(&f, 0);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char key[16];
        snprintf(key, sizeof key, "c%zu", i);
        am_item_in it = { .ns = NS1("j"), .key = am_str_c(key),
                          .value = am_str_c(cases[i].value) };
        am_status st = am_store_put(f.s, &it);
        if (cases[i].text == NULL) {
            CHECK_ST(st, AM_EFORMAT);
            CHECK(strstr(am_store_last_error(f.s)->msg, "value") != NULL);
            continue;
        }
        CHECK_OK_E(st, am_store_last_error(f.s));
        am_results *r;
        CHECK_OK(am_store_get_item(f.s, NS1("j"), am_str_c(key), &r));
        CHECK_MEM_EQ(r->items[0].text.ptr, r->items[0].text.len,
                     cases[i].text);
        am_results_free(r);
    }
    /* meta: any JSON object, nothing else. */
    am_item_in m = { .ns = NS1("j"), .key = AM_STR("m"),
                     .value = AM_STR("1"), .meta = AM_STR(" {\"a\":[1]} ") };
    CHECK_OK(am_store_put(f.s, &m));
    m.meta = AM_STR("\"s\"");
    CHECK_ST(am_store_put(f.s, &m), AM_EFORMAT);
    m.meta = AM_STR("{\"a\":1e400}");
    CHECK_ST(am_store_put(f.s, &m), AM_EFORMAT);
    fx_close(&f);
}

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

AM_TEST(bad_input_is_rejected_and_names_the_problem)
{
    fixture f;
    fx_open(&f, 0);
    am_buf out = AM_BUF_INIT;
    CHECK_OK(put(f.s, NS1("a"), "keep", "1", 0));
    CHECK_ST(put(f.s, NS1("a"), "k", "{not json", 0), AM_EFORMAT);
    CHECK(strstr(am_store_last_error(f.s)->msg, "item 0: value") != NULL);
    CHECK(strstr(am_store_last_error(f.s)->msg, "column") != NULL);
    CHECK_ST(put(f.s, NS1("a"), "", "1", 0), AM_EINVAL);
    CHECK(strstr(am_store_last_error(f.s)->msg, "empty key") != NULL);
    CHECK_ST(put(f.s, (am_ns){ NULL, 0 }, "k", "1", 0), AM_EINVAL);
    CHECK_ST(put(f.s, NS2("a", ""), "k", "1", 0), AM_EINVAL);
    CHECK(strstr(am_store_last_error(f.s)->msg, "part 1") != NULL);
    am_item_in it = { .ns = NS1("a"), .key = AM_STR("k"),
                      .value = AM_STR("1"), .meta = AM_STR("[1]") };
    CHECK_ST(am_store_put(f.s, &it), AM_EFORMAT);
    CHECK(strstr(am_store_last_error(f.s)->msg, "meta") != NULL);
    /* A batch with one bad item stores nothing and names the index. */
    am_item_in batch[3] = {
        { .ns = NS1("b"), .key = AM_STR("x"), .value = AM_STR("1") },
        { .ns = NS1("b"), .key = AM_STR("y"), .value = AM_STR("2") },
        { .ns = NS1("b"), .key = AM_STR("z"), .value = AM_STR("nope") },
    };
    CHECK_ST(am_store_put_many(f.s, batch, 3), AM_EFORMAT);
    CHECK(strstr(am_store_last_error(f.s)->msg, "item 2") != NULL);
    CHECK_ST(am_store_get(f.s, NS1("b"), AM_STR("x"), &out), AM_ENOTFOUND);
    CHECK_OK(am_store_get(f.s, NS1("a"), AM_STR("keep"), &out));
    CHECK_STR_EQ(out.ptr, "1");
    CHECK_OK(am_store_put_many(f.s, batch, 2));
    CHECK_OK(am_store_get(f.s, NS1("b"), AM_STR("y"), &out));
    am_buf_free(&out);
    fx_close(&f);
}

/* now + ttl saturates, on every backend and both write paths: the
 * largest TTL keeps the item (it wrapped to a time in the past on
 * PostgreSQL, so the put was acknowledged and the item gone at once). */
AM_TEST(a_huge_ttl_saturates_instead_of_expiring_at_once)
{
    fixture f;
    fx_open(&f, 0);
    am_buf out = AM_BUF_INIT;
    am_item_in many[2];
    am_ns ns = NS1("t"); /* the parts must outlive the loop below */
    memset(many, 0, sizeof many);
    CHECK_OK(put(f.s, NS1("t"), "one", "\"kept\"", INT64_MAX));
    for (int i = 0; i < 2; i++) {
        many[i].ns = ns;
        many[i].key = i == 0 ? AM_STR("m0") : AM_STR("m1");
        many[i].value = AM_STR("\"kept too\"");
        many[i].ttl_ms = INT64_MAX - i;
    }
    CHECK_OK(am_store_put_many(f.s, many, 2));
    f.tc.now_ms += 1000LL * 3600 * 24 * 365 * 100; /* a century on */
    CHECK_OK(am_store_get(f.s, NS1("t"), AM_STR("one"), &out));
    CHECK_STR_EQ(out.ptr, "\"kept\"");
    CHECK_OK(am_store_get(f.s, NS1("t"), AM_STR("m0"), &out));
    CHECK_OK(am_store_get(f.s, NS1("t"), AM_STR("m1"), &out));
    am_buf_free(&out);
    fx_close(&f);
}

AM_TEST(expired_items_are_invisible_then_purged)
{
    fixture f;
    fx_open(&f, 0);
    am_buf out = AM_BUF_INIT;
    am_results *r;
    size_t n = 0;
    CHECK_OK(put(f.s, NS1("t"), "short", "\"bye soon\"", 1000));
    CHECK_OK(put(f.s, NS1("t"), "long", "\"stays\"", 0));
    f.tc.now_ms += 999;
    CHECK_OK(am_store_get(f.s, NS1("t"), AM_STR("short"), &out));
    f.tc.now_ms += 1;
    CHECK_ST(am_store_get(f.s, NS1("t"), AM_STR("short"), &out),
             AM_ENOTFOUND);
    CHECK_OK(am_store_list(f.s, NS1("t"), 0, 0, &r));
    CHECK_EQ(r->count, 1);
    am_results_free(r);
    am_search q = { .ns = NS1("t"), .query = AM_STR("bye soon stays"),
                    .mode = AM_SEARCH_TEXT };
    CHECK_OK(am_store_search(f.s, &q, &r));
    CHECK_EQ(r->count, 1);
    CHECK_MEM_EQ(r->items[0].key.ptr, r->items[0].key.len, "long");
    am_results_free(r);
    CHECK_OK(am_store_purge(f.s, 0, &n));
    CHECK_EQ(n, 1);
    CHECK_OK(am_store_vacuum(f.s, 0));
    CHECK_OK(am_store_check(f.s));
    am_buf_free(&out);
    fx_close(&f);
}

AM_TEST(namespaces_cannot_be_crossed_by_crafted_parts)
{
    fixture f;
    fx_open(&f, 1);
    am_buf out = AM_BUF_INIT;
    am_results *r;
    /* Parts holding separators, escapes, quotes, LIKE wildcards, NUL. */
    static const char nul_a[] = { 'u', 0, 'x' };
    static const char nul_b[] = { 'u' };
    am_str victims[] = { AM_STR("alice"), AM_STR("a%"), AM_STR("a_ice"),
                         { nul_a, 3 }, AM_STR("q\"'"),
                         AM_STR("x\x1f" "y"), AM_STR("x\x1e" "2y"),
                         AM_STR("\xff\xfe") };
    for (size_t i = 0; i < sizeof victims / sizeof victims[0]; i++) {
        am_ns ns = { &victims[i], 1 };
        CHECK_OK(put(f.s, ns, "secret", "\"victim secret words\"", 0));
    }
    am_str attackers[] = { AM_STR("a"), AM_STR("%"), AM_STR("_"),
                           AM_STR("a_"), { nul_b, 1 }, AM_STR("x"),
                           AM_STR("x\x1e"), AM_STR("\xff"), AM_STR("q\"") };
    for (size_t i = 0; i < sizeof attackers / sizeof attackers[0]; i++) {
        am_ns ns = { &attackers[i], 1 };
        CHECK_ST(am_store_get(f.s, ns, AM_STR("secret"), &out),
                 AM_ENOTFOUND);
        CHECK_OK(am_store_list(f.s, ns, 0, 0, &r));
        CHECK_EQ(r->count, 0);
        am_results_free(r);
        CHECK_OK(am_store_namespaces(f.s, ns, 0, 0, &r));
        CHECK_EQ(r->count, 0);
        am_results_free(r);
        for (int mode = 0; mode < 3; mode++) {
            am_search q = { .ns = ns, .query = AM_STR("victim secret"),
                            .mode = (am_search_mode)mode };
            CHECK_OK(am_store_search(f.s, &q, &r));
            CHECK_EQ(r->count, 0);
            am_results_free(r);
        }
        CHECK_ST(am_store_delete(f.s, ns, AM_STR("secret")), AM_ENOTFOUND);
        size_t removed = 9;
        CHECK_OK(am_store_delete_ns(f.s, ns, &removed));
        CHECK_EQ(removed, 0);
    }
    /* Two-part namespace vs a one-part one holding the separator. */
    CHECK_ST(am_store_get(f.s, NS2("x", "y"), AM_STR("secret"), &out),
             AM_ENOTFOUND);
    /* Each victim still reads back its own item, exactly once. */
    for (size_t i = 0; i < sizeof victims / sizeof victims[0]; i++) {
        am_ns ns = { &victims[i], 1 };
        CHECK_OK(am_store_get(f.s, ns, AM_STR("secret"), &out));
        CHECK_OK(am_store_list(f.s, ns, 0, 0, &r));
        CHECK_EQ(r->count, 1);
        CHECK_EQ(r->items[0].ns_count, 1);
        CHECK_EQ(r->items[0].ns_parts[0].len, victims[i].len);
        CHECK(memcmp(r->items[0].ns_parts[0].ptr, victims[i].ptr,
                     victims[i].len) == 0);
        am_results_free(r);
    }
    am_buf_free(&out);
    fx_close(&f);
}

AM_TEST(scope_helpers_keep_users_sessions_and_global_apart)
{
    fixture f;
    fx_open(&f, 0);
    am_str p1[3], p2[3], p3[3];
    am_buf out = AM_BUF_INIT;
    am_ns u = am_ns_user(p1, AM_STR("42"), AM_STR("prefs"));
    am_ns se = am_ns_session(p2, AM_STR("42"), AM_STR("prefs"));
    am_ns g = am_ns_global(p3, AM_STR(""));
    CHECK_EQ(u.count, 3);
    CHECK_EQ(g.count, 1);
    CHECK_OK(put(f.s, u, "k", "\"user\"", 0));
    CHECK_OK(put(f.s, se, "k", "\"session\"", 0));
    CHECK_OK(put(f.s, g, "k", "\"global\"", 0));
    CHECK_OK(am_store_get(f.s, u, AM_STR("k"), &out));
    CHECK_STR_EQ(out.ptr, "\"user\"");
    CHECK_OK(am_store_get(f.s, se, AM_STR("k"), &out));
    CHECK_STR_EQ(out.ptr, "\"session\"");
    CHECK_OK(am_store_get(f.s, g, AM_STR("k"), &out));
    CHECK_STR_EQ(out.ptr, "\"global\"");
    am_buf_free(&out);
    fx_close(&f);
}

AM_TEST(put_many_lands_as_puts_one_by_one_across_batches)
{
    /* A put of many items is written as if its items were put one by
     * one, in order: a repeated key ends with its last value and has one
     * history entry per put; existing, deleted and new keys mix; expiry
     * and the full-text index follow; and the write is longer than one
     * statement's batch (PostgreSQL sends up to 1,000 items per statement,
     * a repeated key in another). */
    fixture f;
    fx_open(&f, 0);
    enum { N = 2500 };
    const am_str pa[] = { AM_STR("a") }, pb[] = { AM_STR("b") };
    const am_ns a = { pa, 1 }, b = { pb, 1 };
    am_item_in *items = calloc(N, sizeof *items);
    char (*keys)[16] = calloc(N, 16), (*vals)[16] = calloc(N, 16);
    am_buf out = AM_BUF_INIT;
    am_results *r;
    CHECK(items != NULL && keys != NULL && vals != NULL);
    CHECK_OK(put(f.s, a, "old", "\"before\"", 0));
    CHECK_OK(put(f.s, a, "gone", "\"before\"", 0));
    CHECK_OK(am_store_delete(f.s, a, AM_STR("gone")));
    f.tc.now_ms += 10;
    for (int i = 0; i < N; i++) {
        snprintf(keys[i], 16, "k%d", N - i); /* against key order */
        snprintf(vals[i], 16, "%d", 100000 + i);
        items[i] = (am_item_in){ .ns = a, .key = am_str_c(keys[i]),
                                 .value = am_str_c(vals[i]) };
    }
    items[10].key = items[500].key = items[900].key = AM_STR("rep");
    items[11].ns = b;
    items[11].key = AM_STR("rep");
    items[700].key = AM_STR("old");
    items[2000].key = AM_STR("gone");
    items[500].value = AM_STR("\"marmalade\"");
    items[900].value = AM_STR("\"tangerine\"");
    items[5].ttl_ms = 50;
    CHECK_OK_E(am_store_put_many(f.s, items, N), am_store_last_error(f.s));

    CHECK_OK(am_store_get(f.s, a, AM_STR("rep"), &out));
    CHECK_STR_EQ(out.ptr, "\"tangerine\"");
    CHECK_OK(am_store_get(f.s, b, AM_STR("rep"), &out));
    CHECK_STR_EQ(out.ptr, "100011");
    CHECK_OK(am_store_history(f.s, a, AM_STR("rep"), &r));
    CHECK_EQ(r->count, 3);
    CHECK_MEM_EQ(r->items[0].event.ptr, r->items[0].event.len, "add");
    CHECK_MEM_EQ(r->items[0].value.ptr, r->items[0].value.len, "100010");
    CHECK_MEM_EQ(r->items[1].event.ptr, r->items[1].event.len, "update");
    CHECK_MEM_EQ(r->items[1].old_value.ptr, r->items[1].old_value.len,
                 "100010");
    CHECK_MEM_EQ(r->items[2].old_value.ptr, r->items[2].old_value.len,
                 "\"marmalade\"");
    CHECK_MEM_EQ(r->items[2].value.ptr, r->items[2].value.len,
                 "\"tangerine\"");
    am_results_free(r);
    CHECK_OK(am_store_history(f.s, a, AM_STR("old"), &r));
    CHECK_EQ(r->count, 2);
    CHECK_MEM_EQ(r->items[1].event.ptr, r->items[1].event.len, "update");
    CHECK_MEM_EQ(r->items[1].old_value.ptr, r->items[1].old_value.len,
                 "\"before\"");
    CHECK_MEM_EQ(r->items[1].value.ptr, r->items[1].value.len, "100700");
    am_results_free(r);
    CHECK_OK(am_store_history(f.s, a, AM_STR("gone"), &r));
    CHECK_EQ(r->count, 3);
    CHECK_MEM_EQ(r->items[1].event.ptr, r->items[1].event.len, "delete");
    CHECK_MEM_EQ(r->items[2].event.ptr, r->items[2].event.len, "add");
    CHECK_MEM_EQ(r->items[2].value.ptr, r->items[2].value.len, "102000");
    am_results_free(r);
    /* N items, one in b, "rep" three times in a. */
    CHECK_OK(am_store_list(f.s, a, N + 10, 0, &r));
    CHECK_EQ(r->count, N - 3);
    am_results_free(r);
    /* The overwritten value left the full-text index, the last came in. */
    am_search q = { .ns = a, .query = AM_STR("marmalade"),
                    .mode = AM_SEARCH_TEXT, .limit = 5 };
    CHECK_OK(am_store_search(f.s, &q, &r));
    CHECK_EQ(r->count, 0);
    am_results_free(r);
    q.query = AM_STR("tangerine");
    CHECK_OK(am_store_search(f.s, &q, &r));
    CHECK_EQ(r->count, 1);
    CHECK_MEM_EQ(r->items[0].key.ptr, r->items[0].key.len, "rep");
    am_results_free(r);
    f.tc.now_ms += 100;
    CHECK_ST(am_store_get(f.s, a, items[5].key, &out), AM_ENOTFOUND);
    CHECK_OK(am_store_get(f.s, a, items[6].key, &out));
    am_buf_free(&out);
    free(items);
    free(keys);
    free(vals);
    fx_close(&f);
}

AM_TEST(meta_with_nul_escapes_is_stored_exactly_and_filters_work)
{
    /* JSON allows "\u0000" in a string; PostgreSQL's jsonb does not. The
     * meta is kept exactly as given and filters still see the item. */
    fixture f;
    fx_open(&f, 0);
    am_results *r;
    static const char meta[] = "{\"note\":\"a\\u0000b \\\\u0000\","
                               "\"lang\":\"fr\"}";
    am_item_in it = { .ns = NS1("z"), .key = AM_STR("k"),
                      .value = AM_STR("\"zero byte\""),
                      .meta = AM_STR(meta) };
    CHECK_OK_E(am_store_put(f.s, &it), am_store_last_error(f.s));
    CHECK_OK(am_store_get_item(f.s, NS1("z"), AM_STR("k"), &r));
    CHECK_EQ(r->count, 1);
    CHECK_MEM_EQ(r->items[0].meta.ptr, r->items[0].meta.len, meta);
    am_results_free(r);
    am_search q = { .ns = NS1("z"), .query = AM_STR("zero"),
                    .mode = AM_SEARCH_TEXT, .limit = 5,
                    .filter = AM_STR("{\"lang\":\"fr\"}") };
    CHECK_OK_E(am_store_search(f.s, &q, &r), am_store_last_error(f.s));
    CHECK_EQ(r->count, 1);
    am_results_free(r);
    q.filter = AM_STR("{\"lang\":\"en\"}");
    CHECK_OK(am_store_search(f.s, &q, &r));
    CHECK_EQ(r->count, 0);
    am_results_free(r);
    fx_close(&f);
}

AM_TEST(list_is_stable_with_limit_offset_and_namespaces_depth)
{
    fixture f;
    fx_open(&f, 0);
    am_results *r;
    char key[16];
    for (int i = 0; i < 25; i++) {
        snprintf(key, sizeof key, "k%02d", i);
        am_str parts[2] = { AM_STR("u1"), am_str_c(i % 2 ? "odd" : "even") };
        CHECK_OK(put(f.s, (am_ns){ parts, 2 }, key, "1", 0));
    }
    CHECK_OK(put(f.s, NS1("u2"), "k", "1", 0));
    CHECK_OK(am_store_list(f.s, NS1("u1"), 10, 0, &r));
    CHECK_EQ(r->count, 10);
    CHECK_MEM_EQ(r->items[0].ns_parts[1].ptr, r->items[0].ns_parts[1].len,
                 "even");
    CHECK_MEM_EQ(r->items[0].key.ptr, r->items[0].key.len, "k00");
    am_results_free(r);
    CHECK_OK(am_store_list(f.s, NS1("u1"), 10, 20, &r));
    CHECK_EQ(r->count, 5);
    CHECK_MEM_EQ(r->items[4].key.ptr, r->items[4].key.len, "k23");
    am_results_free(r);
    CHECK_OK(am_store_namespaces(f.s, (am_ns){ NULL, 0 }, 0, 0, &r));
    CHECK_EQ(r->count, 3);
    am_results_free(r);
    CHECK_OK(am_store_namespaces(f.s, (am_ns){ NULL, 0 }, 1, 0, &r));
    CHECK_EQ(r->count, 2);
    CHECK_MEM_EQ(r->items[1].ns_parts[0].ptr, r->items[1].ns_parts[0].len,
                 "u2");
    am_results_free(r);
    fx_close(&f);
}

AM_TEST(history_records_changes_and_undo_reverts)
{
    fixture f;
    fx_open(&f, 0);
    am_buf out = AM_BUF_INIT;
    am_results *r;
    CHECK_OK(put(f.s, NS1("h"), "k", "\"v1\"", 0));
    f.tc.now_ms += 10;
    CHECK_OK(put(f.s, NS1("h"), "k", "\"v2 mistake\"", 0));
    CHECK_OK(am_store_undo(f.s, NS1("h"), AM_STR("k")));
    CHECK_OK(am_store_get(f.s, NS1("h"), AM_STR("k"), &out));
    CHECK_STR_EQ(out.ptr, "\"v1\"");
    CHECK_OK(am_store_delete(f.s, NS1("h"), AM_STR("k")));
    CHECK_ST(am_store_get(f.s, NS1("h"), AM_STR("k"), &out), AM_ENOTFOUND);
    CHECK_ST(am_store_delete(f.s, NS1("h"), AM_STR("k")), AM_ENOTFOUND);
    CHECK_OK(am_store_undo(f.s, NS1("h"), AM_STR("k")));
    CHECK_OK(am_store_get(f.s, NS1("h"), AM_STR("k"), &out));
    CHECK_STR_EQ(out.ptr, "\"v1\"");
    CHECK_OK(am_store_history(f.s, NS1("h"), AM_STR("k"), &r));
    CHECK_EQ(r->count, 5);
    CHECK_MEM_EQ(r->items[0].event.ptr, r->items[0].event.len, "add");
    CHECK_MEM_EQ(r->items[1].event.ptr, r->items[1].event.len, "update");
    CHECK_MEM_EQ(r->items[1].old_value.ptr, r->items[1].old_value.len,
                 "\"v1\"");
    CHECK_MEM_EQ(r->items[1].value.ptr, r->items[1].value.len,
                 "\"v2 mistake\"");
    CHECK_EQ(r->items[1].at_ms, 1000010);
    CHECK_MEM_EQ(r->items[2].actor.ptr, r->items[2].actor.len, "undo");
    CHECK_MEM_EQ(r->items[3].event.ptr, r->items[3].event.len, "delete");
    CHECK_MEM_EQ(r->items[4].event.ptr, r->items[4].event.len, "add");
    am_results_free(r);
    /* Retention of the history: keep the last two entries per item. */
    size_t dropped = 0;
    CHECK_ST(am_store_history_prune(f.s, 0, &dropped), AM_EINVAL);
    CHECK_OK(am_store_history_prune(f.s, 2, &dropped));
    CHECK_EQ(dropped, 3);
    CHECK_OK(am_store_history(f.s, NS1("h"), AM_STR("k"), &r));
    CHECK_EQ(r->count, 2);
    CHECK_MEM_EQ(r->items[1].value.ptr, r->items[1].value.len, "\"v1\"");
    am_results_free(r);
    /* Purge removes soft-deleted items for good. */
    CHECK_OK(am_store_delete(f.s, NS1("h"), AM_STR("k")));
    size_t n = 0;
    CHECK_OK(am_store_purge(f.s, INT64_MAX, &n));
    CHECK_EQ(n, 1);
    CHECK_ST(am_store_undo(f.s, NS1("h"), AM_STR("k")), AM_ENOTFOUND);
    am_buf_free(&out);
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

AM_TEST(delete_namespace_and_reopen_keeps_data)
{
    fixture f;
    fx_open(&f, 0);
    am_buf out = AM_BUF_INIT;
    size_t n = 0;
    CHECK_OK(put(f.s, NS2("u", "a"), "k", "1", 0));
    CHECK_OK(put(f.s, NS2("u", "b"), "k", "2", 0));
    CHECK_OK(put(f.s, NS1("uu"), "k", "3", 0));
    CHECK_OK(am_store_delete_ns(f.s, NS1("u"), &n));
    CHECK_EQ(n, 2);
    CHECK_ST(am_store_delete_ns(f.s, (am_ns){ NULL, 0 }, &n), AM_EINVAL);
    am_store_close(f.s);
    am_store_opts o = am_store_opts_default();
    o.clock = &f.clk;
    CHECK_OK(am_store_open(f.path, &o, &f.s, NULL));
    CHECK_OK(am_store_get(f.s, NS1("uu"), AM_STR("k"), &out));
    CHECK_STR_EQ(out.ptr, "3");
    CHECK_ST(am_store_get(f.s, NS2("u", "a"), AM_STR("k"), &out),
             AM_ENOTFOUND);
    am_buf_free(&out);
    fx_close(&f);
}

AM_TEST(open_picks_backend_from_target)
{
    char *dir = test_tmpdir();
    char path[512], uri[600];
    am_error err;
    am_store *s = NULL;
    am_buf out = AM_BUF_INIT;

    /* PostgreSQL URIs go to the PostgreSQL backend: a server that is not
     * there is a clear error naming the target, never the password. */
    CHECK_ST(am_store_open("postgresql://u:s3cret@127.0.0.1:1/agentmem",
                           NULL, &s, &err), AM_EIO);
    CHECK(strstr(err.msg, "postgresql://u@127.0.0.1:1/agentmem") != NULL);
    CHECK(strstr(err.msg, "s3cret") == NULL);
    CHECK(s == NULL);
    CHECK_ST(am_store_open("postgres://u:s3cret@127.0.0.1:1/db?sslmode=disable",
                           NULL, &s, &err), AM_EIO);
    CHECK(strstr(err.msg, "s3cret") == NULL);
    CHECK_ST(am_store_open("redis://h/0", NULL, &s, &err), AM_EUNSUPPORTED);
    CHECK(strstr(err.msg, "redis://") != NULL);
    CHECK(s == NULL);
    /* "sqlite:<path>" and the bare path are the same SQLite file. */
    snprintf(path, sizeof path, "%s/b.db", dir);
    snprintf(uri, sizeof uri, "sqlite:%s", path);
    CHECK_OK_E(am_store_open(uri, NULL, &s, &err), &err);
    CHECK_OK(put(s, NS1("n"), "k", "\"v\"", 0));
    am_store_close(s);
    CHECK_OK(am_store_open(path, NULL, &s, &err));
    CHECK_OK(am_store_get(s, NS1("n"), AM_STR("k"), &out));
    CHECK_STR_EQ(out.ptr, "\"v\"");
    am_store_close(s);
    am_buf_free(&out);
    test_rmtree(dir);
    free(dir);
}

AM_TEST(open_rejects_garbage_and_newer_schema)
{
    char *dir = test_tmpdir();
    char path[512];
    am_error err;
    am_store *s = NULL;
    snprintf(path, sizeof path, "%s/garbage.db", dir);
    FILE *fp = fopen(path, "wb");
    for (int i = 0; i < 200; i++)
        fputs("not a database at all ", fp);
    fclose(fp);
    CHECK_ST(am_store_open(path, NULL, &s, &err), AM_EIO);
    CHECK(strstr(err.msg, "garbage.db") != NULL);
    CHECK(s == NULL);
    snprintf(path, sizeof path, "%s/new.db", dir);
    CHECK_OK(am_store_open(path, NULL, &s, &err));
    am_store_close(s);
    /* Pretend a future version wrote the file. */
    {
        char cmd[700];
        snprintf(cmd, sizeof cmd, "sqlite3 '%s' \"UPDATE am_schema SET "
                 "version = 99 WHERE module = 'store'\" 2>/dev/null", path);
        if (system(cmd) == 0) {
            CHECK_ST(am_store_open(path, NULL, &s, &err), AM_EUNSUPPORTED);
            CHECK(strstr(err.msg, "newer") != NULL);
        }
    }
    test_rmtree(dir);
    free(dir);
}

AM_TEST(store_and_tiers_share_one_database_file)
{
    char *dir = test_tmpdir(), path[512];
    am_buf out = AM_BUF_INIT;
    snprintf(path, sizeof path, "%s/shared.db", dir);
    for (int order = 0; order < 2; order++) {
        /* Either module may create the file first. */
        unlink(path);
        am_tiers_opts to = am_tiers_opts_default();
        to.db_path = path;
        to.flush_interval_ms = 0;
        am_tiers *t = NULL;
        am_store *s = NULL;
        if (order == 0)
            CHECK_OK(am_store_open(path, NULL, &s, NULL));
        CHECK_OK(am_tiers_open(&to, &t, NULL));
        if (order == 1)
            CHECK_OK(am_store_open(path, NULL, &s, NULL));
        am_tier_item_in ti = am_tier_item_in_default();
        ti.content = AM_STR("tier content");
        CHECK_OK(am_tiers_store(t, AM_STR("t1"), &ti));
        CHECK_OK(put(s, NS1("n"), "k", "\"store content\"", 0));
        CHECK_OK(am_tiers_close(t, NULL));
        am_store_close(s);
        CHECK_OK(am_store_open(path, NULL, &s, NULL));
        CHECK_OK(am_store_get(s, NS1("n"), AM_STR("k"), &out));
        CHECK_STR_EQ(out.ptr, "\"store content\"");
        CHECK_OK(am_store_check(s));
        am_store_close(s);
        CHECK_OK(am_tiers_open(&to, &t, NULL));
        CHECK_OK(am_tiers_peek(t, AM_STR("t1"), &out, NULL));
        CHECK_MEM_EQ(out.ptr, out.len, "tier content");
        CHECK_OK(am_tiers_close(t, NULL));
    }
    am_buf_free(&out);
    test_rmtree(dir);
    free(dir);
}

AM_TEST(sessions_add_get_pop_clear_list_prune)
{
    fixture f;
    fx_open(&f, 0);
    am_buf out = AM_BUF_INIT;
    am_str msgs[3] = { AM_STR("{\"role\":\"user\",\"content\":\"hi\"}"),
                       AM_STR("{\"role\":\"assistant\",\"content\":\"yo\"}"),
                       AM_STR("{\"role\":\"user\",\"content\":\"bye\"}") };
    CHECK_OK(am_session_add(f.s, AM_STR("bob"), AM_STR("t1"), msgs, 3));
    CHECK_OK(am_session_get(f.s, AM_STR("t1"), 0, &out));
    CHECK(strstr(out.ptr, "\"hi\"") != NULL && strstr(out.ptr, "bye"));
    CHECK_OK(am_session_get(f.s, AM_STR("t1"), 1, &out));
    CHECK_STR_EQ(out.ptr, "[{\"role\":\"user\",\"content\":\"bye\"}]");
    CHECK_OK(am_session_pop(f.s, AM_STR("t1"), &out));
    CHECK_STR_EQ(out.ptr, "{\"role\":\"user\",\"content\":\"bye\"}");
    CHECK_OK(am_session_get(f.s, AM_STR("t1"), 0, &out));
    CHECK(strstr(out.ptr, "bye") == NULL);
    am_str bad = AM_STR("{oops");
    CHECK_ST(am_session_add(f.s, AM_STR("bob"), AM_STR("t1"), &bad, 1),
             AM_EFORMAT);
    CHECK_ST(am_session_add(f.s, AM_STR("eve"), AM_STR("t1"), msgs, 1),
             AM_EINVAL);
    f.tc.now_ms += 5000;
    CHECK_OK(am_session_add(f.s, AM_STR("bob"), AM_STR("t2"), msgs, 3));
    CHECK_OK(am_session_list(f.s, AM_STR("bob"), &out));
    CHECK(strstr(out.ptr, "\"session_id\":\"t2\"") < strstr(out.ptr, "t1"));
    CHECK_OK(am_session_list(f.s, AM_STR("eve"), &out));
    CHECK_STR_EQ(out.ptr, "[]");
    size_t n = 0;
    CHECK_OK(am_session_prune(f.s, 0, 1, &n));
    CHECK_EQ(n, 3); /* t1: 2 -> 1, t2: 3 -> 1 */
    CHECK_OK(am_session_prune(f.s, f.tc.now_ms - 1, 0, &n));
    CHECK_EQ(n, 1);
    CHECK_OK(am_session_get(f.s, AM_STR("t1"), 0, &out));
    CHECK_STR_EQ(out.ptr, "[]");
    CHECK_OK(am_session_clear(f.s, AM_STR("t2")));
    CHECK_ST(am_session_clear(f.s, AM_STR("t2")), AM_ENOTFOUND);
    CHECK_ST(am_session_pop(f.s, AM_STR("t2"), &out), AM_ENOTFOUND);
    am_buf_free(&out);
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
    am_error err;
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

/* ---- Durability: SIGKILL a writer mid-stream ---- */

AM_TEST(acknowledged_writes_survive_sigkill)
{
    char *dir = test_tmpdir(), path[512], ack[512];
    snprintf(path, sizeof path, "%s/kill.db", dir);
    snprintf(ack, sizeof ack, "%s/acks", dir);
    int fds[2];
    CHECK(pipe(fds) == 0);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        am_store *s;
        close(fds[0]);
        if (am_store_open(path, NULL, &s, NULL) != AM_OK)
            _exit(3);
        for (int i = 0;; i++) {
            char key[32];
            snprintf(key, sizeof key, "k%d", i);
            am_item_in it = { .ns = NS1("kill"), .key = am_str_c(key),
                              .value = AM_STR("\"payload payload\"") };
            if (am_store_put(s, &it) != AM_OK)
                _exit(4);
            /* Acknowledge only after the put returned. */
            if (write(fds[1], &i, sizeof i) != sizeof i)
                _exit(5);
        }
    }
    close(fds[1]);
    int last = -1, got = 0, v;
    while (got < 300 && read(fds[0], &v, sizeof v) == sizeof v) {
        last = v;
        got++;
    }
    kill(pid, SIGKILL);
    /* Drain acknowledgements already in the pipe. */
    while (read(fds[0], &v, sizeof v) == sizeof v)
        last = v;
    close(fds[0]);
    int status;
    waitpid(pid, &status, 0);
    CHECK(WIFSIGNALED(status));
    CHECK(last >= 299);
    am_store *s;
    am_buf out = AM_BUF_INIT;
    am_store_opts so = am_store_opts_default();
    so.sync_full = 1;
    CHECK_OK(am_store_open(path, &so, &s, NULL));
    CHECK_OK(am_store_check(s));
    for (int i = 0; i <= last; i++) {
        char key[32];
        snprintf(key, sizeof key, "k%d", i);
        CHECK_OK(am_store_get(s, NS1("kill"), am_str_c(key), &out));
    }
    am_buf_free(&out);
    am_store_close(s);
    test_rmtree(dir);
    free(dir);
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
