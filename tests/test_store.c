/* test_store.c -- items, namespaces, TTL, lists, history, sessions.
 * Search is in test_store_search.c, the SQLite file itself in
 * test_store_files.c, failure injection in test_store_oom.c. */
#include "store_fixture.h"

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

/* The four readers that hand back results share one envelope (the
 * front end's, store_results.c): a NULL results pointer is refused, a
 * failure leaves *out NULL and names the problem, and a zero count means
 * the default. */
AM_TEST(readers_share_one_envelope_on_every_backend)
{
    fixture f;
    fx_open(&f, 0);
    am_results *r = NULL;
    CHECK_OK(put(f.s, NS2("a", "b"), "k", "1", 0));
    CHECK_ST(am_store_list(f.s, NS1("a"), 0, 0, NULL), AM_EINVAL);
    CHECK(strstr(am_store_last_error(f.s)->msg, "list: NULL results") !=
          NULL);
    CHECK_ST(am_store_namespaces(f.s, NS1("a"), 0, 0, NULL), AM_EINVAL);
    CHECK_ST(am_store_get_item(f.s, NS1("a"), AM_STR("k"), NULL), AM_EINVAL);
    CHECK_ST(am_store_history(f.s, NS1("a"), AM_STR("k"), NULL), AM_EINVAL);
    CHECK(strstr(am_store_last_error(f.s)->msg, "history: NULL results") !=
          NULL);
    CHECK_ST(am_store_get_item(f.s, NS2("a", "b"), AM_STR(""), &r),
             AM_EINVAL);
    CHECK(r == NULL);
    CHECK(strstr(am_store_last_error(f.s)->msg, "empty key") != NULL);
    CHECK_ST(am_store_history(f.s, NS2("a", ""), AM_STR("k"), &r),
             AM_EINVAL);
    CHECK(r == NULL);
    CHECK(strstr(am_store_last_error(f.s)->msg, "part 1") != NULL);
    CHECK_ST(am_store_list(f.s, NS2("a", ""), 0, 0, &r), AM_EINVAL);
    CHECK(r == NULL);
    CHECK_ST(am_store_get_item(f.s, NS2("a", "b"), AM_STR("nope"), &r),
             AM_ENOTFOUND);
    CHECK(r == NULL);
    /* Limit 0: the default (100 items, 1000 namespaces), not none. */
    CHECK_OK(am_store_list(f.s, NS1("a"), 0, 0, &r));
    CHECK_EQ(r->count, 1);
    am_results_free(r);
    CHECK_OK(am_store_namespaces(f.s, (am_ns){ NULL, 0 }, 0, 0, &r));
    CHECK_EQ(r->count, 1);
    am_results_free(r);
    CHECK_OK(am_store_get_item(f.s, NS2("a", "b"), AM_STR("k"), &r));
    CHECK_EQ(r->count, 1);
    am_results_free(r);
    CHECK_OK(am_store_history(f.s, NS2("a", "b"), AM_STR("k"), &r));
    CHECK_EQ(r->count, 1);
    am_results_free(r);
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

/* A delete's and an undo's errors name the key and what is missing. */
AM_TEST(delete_and_undo_errors_name_the_key)
{
    fixture f;
    fx_open(&f, 0);
    CHECK_ST(am_store_delete(f.s, NS1("h"), AM_STR("nope")), AM_ENOTFOUND);
    CHECK_STR_EQ(am_store_last_error(f.s)->msg, "delete: no item 'nope'");
    CHECK_ST(am_store_undo(f.s, NS1("h"), AM_STR("nope")), AM_ENOTFOUND);
    CHECK_STR_EQ(am_store_last_error(f.s)->msg, "no item 'nope'");
    CHECK_OK(put(f.s, NS1("h"), "k", "1", 0));
    CHECK_OK(am_store_delete(f.s, NS1("h"), AM_STR("k")));
    CHECK_ST(am_store_delete(f.s, NS1("h"), AM_STR("k")), AM_ENOTFOUND);
    CHECK_STR_EQ(am_store_last_error(f.s)->msg, "delete: no live item 'k'");
    CHECK_ST(am_store_delete(f.s, NS1("h"), AM_STR("")), AM_EINVAL);
    CHECK_STR_EQ(am_store_last_error(f.s)->msg, "delete: empty key");
    CHECK_ST(am_store_undo(f.s, NS1("h"), AM_STR("")), AM_EINVAL);
    CHECK_STR_EQ(am_store_last_error(f.s)->msg, "empty key");
    CHECK_ST(am_store_delete(f.s, (am_ns){ NULL, 0 }, AM_STR("k")),
             AM_EINVAL);
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

/* store.h: "NULL or "": the URI in the environment variable DATABASE_URL"
 * -- the hosted-PostgreSQL convention. Run on SQLite the variable names
 * the fixture's file; run under pg_run.sh (test_store_pg) it names the
 * fixture's PostgreSQL store, so both backends are opened through it. */
AM_TEST(no_target_opens_the_store_database_url_names)
{
    fixture f;
    fx_open(&f, 0);
    am_buf out = AM_BUF_INIT;
    am_store *s = NULL;
    am_error err = { AM_OK, "" };
    const char *was = getenv("DATABASE_URL");
    char *saved = was != NULL ? strdup(was) : NULL;

    CHECK_OK(put(f.s, NS1("env"), "k", "\"from the fixture\"", 0));
    am_store_close(f.s);
    f.s = NULL;
    CHECK(unsetenv("DATABASE_URL") == 0);
    CHECK_ST(am_store_open(NULL, NULL, &s, &err), AM_EINVAL);
    CHECK(s == NULL);
    CHECK(strstr(err.msg, "DATABASE_URL is not set") != NULL);
    CHECK_ST(am_store_open("", NULL, &s, &err), AM_EINVAL);
    CHECK(setenv("DATABASE_URL", "", 1) == 0); /* empty: not set */
    CHECK_ST(am_store_open(NULL, NULL, &s, &err), AM_EINVAL);
    CHECK(setenv("DATABASE_URL", f.path, 1) == 0);
    const char *targets[] = { NULL, "" };
    for (size_t i = 0; i < 2; i++) {
        CHECK_OK_E(am_store_open(targets[i], NULL, &s, &err), &err);
        CHECK_OK(am_store_get(s, NS1("env"), AM_STR("k"), &out));
        CHECK_STR_EQ(out.ptr, "\"from the fixture\"");
        CHECK_OK(put(s, NS1("env"), i == 0 ? "null" : "empty", "1", 0));
        am_store_close(s);
        s = NULL;
    }
    /* An explicit target wins over the variable, and saw both writes. */
    CHECK(setenv("DATABASE_URL", "postgresql://nobody@127.0.0.1:1/none",
                 1) == 0);
    CHECK_OK(am_store_open(f.path, NULL, &f.s, NULL));
    CHECK_OK(am_store_get(f.s, NS1("env"), AM_STR("null"), &out));
    CHECK_OK(am_store_get(f.s, NS1("env"), AM_STR("empty"), &out));
    if (saved != NULL)
        CHECK(setenv("DATABASE_URL", saved, 1) == 0);
    else
        CHECK(unsetenv("DATABASE_URL") == 0);
    free(saved);
    am_buf_free(&out);
    fx_close(&f);
}

/* store.h: am_store_target_kind says which backend am_store_open picks,
 * and names the file only for SQLite; am_store_open's errors "name the
 * target (never its password)", also for a scheme it does not know. */
AM_TEST(target_kind_picks_the_backend_open_picks)
{
    const char *file = "junk";
    am_store *s = NULL;
    am_error err = { AM_OK, "" };

    CHECK_EQ(am_store_target_kind(NULL, &file), AM_STORE_KIND_NONE);
    CHECK(file == NULL);
    CHECK_EQ(am_store_target_kind("", NULL), AM_STORE_KIND_NONE);
    CHECK_EQ(am_store_target_kind("memory.db", &file), AM_STORE_KIND_SQLITE);
    CHECK_STR_EQ(file, "memory.db");
    CHECK_EQ(am_store_target_kind(":memory:", &file), AM_STORE_KIND_SQLITE);
    CHECK_STR_EQ(file, ":memory:");
    CHECK_EQ(am_store_target_kind("sqlite:dir/m.db", &file),
             AM_STORE_KIND_SQLITE);
    CHECK_STR_EQ(file, "dir/m.db");
    CHECK_EQ(am_store_target_kind("postgresql://u:pw@h/db", &file),
             AM_STORE_KIND_POSTGRES);
    CHECK(file == NULL);
    CHECK_EQ(am_store_target_kind("postgres://h/db", NULL),
             AM_STORE_KIND_POSTGRES);
    CHECK_EQ(am_store_target_kind("mysql://u:secret@h/db", &file),
             AM_STORE_KIND_UNKNOWN);
    CHECK(file == NULL);
    CHECK_ST(am_store_open("mysql://u:secret@h/db", NULL, &s, &err),
             AM_EUNSUPPORTED);
    CHECK(s == NULL);
    CHECK(strstr(err.msg, "'mysql://'") != NULL);
    CHECK(strstr(err.msg, "secret") == NULL);
}

/* Put keys k000, k001, ... (`n` of them, each `value`) under `ns`. */
static void put_keys(am_store *s, am_ns ns, int n, const char *value)
{
    for (int i = 0; i < n; i++) {
        char k[16];
        snprintf(k, sizeof k, "k%03d", i);
        CHECK_OK(put(s, ns, k, value, 0));
    }
}

/* store.h: the options' defaults, the namespace limits "checked on every
 * call", the history's default actor, am_store_list's limit 0 (100) and
 * am_search's (10), and the NULL no-ops. */
AM_TEST(defaults_namespace_limits_default_actor_and_null_frees)
{
    fixture f;
    fx_open(&f, 0);
    am_store_opts o = am_store_opts_default();
    am_str parts[AM_STORE_MAX_NS_PARTS + 1];
    char part[AM_STORE_MAX_PART_LEN + 1];
    am_buf out = AM_BUF_INIT;
    am_results *r = NULL;
    am_item_in it = { 0 };

    CHECK(o.alloc == NULL && o.clock == NULL && o.embedder == NULL);
    CHECK_STR_EQ(o.actor, "agentmem");
    CHECK_EQ(o.busy_timeout_ms, 5000);
    CHECK(!o.read_only && !o.sync_full && !o.manual_checkpoint);
    CHECK(o.key.len == 0 && o.pool_size == 0);

    for (size_t i = 0; i <= AM_STORE_MAX_NS_PARTS; i++)
        parts[i] = AM_STR("p");
    memset(part, 'x', sizeof part);
    it.key = AM_STR("k");
    it.value = AM_STR("1");
    it.ns = (am_ns){ parts, AM_STORE_MAX_NS_PARTS };
    CHECK_OK(am_store_put(f.s, &it));
    CHECK_OK(am_store_get(f.s, it.ns, it.key, &out));
    it.ns.count = AM_STORE_MAX_NS_PARTS + 1;
    CHECK_ST(am_store_put(f.s, &it), AM_EINVAL);
    CHECK_ST(am_store_get(f.s, it.ns, it.key, &out), AM_EINVAL);
    it.ns.count = 0; /* the root holds no items */
    CHECK_ST(am_store_put(f.s, &it), AM_EINVAL);
    parts[0] = (am_str){ part, AM_STORE_MAX_PART_LEN };
    it.ns.count = 1;
    CHECK_OK(am_store_put(f.s, &it));
    parts[0].len++;
    CHECK_ST(am_store_put(f.s, &it), AM_EINVAL);
    CHECK_ST(am_store_get(f.s, it.ns, it.key, &out), AM_EINVAL);
    CHECK_ST(am_store_delete(f.s, it.ns, it.key), AM_EINVAL);
    it.ns = NS1("ok");
    it.key = (am_str){ "", 0 };
    CHECK_ST(am_store_put(f.s, &it), AM_EINVAL);

    /* The fixture's store was opened with the default actor. */
    CHECK_OK(put(f.s, NS1("a"), "k", "1", 0));
    CHECK_OK(am_store_history(f.s, NS1("a"), AM_STR("k"), &r));
    CHECK_EQ(r->count, 1);
    CHECK_MEM_EQ(r->items[0].actor.ptr, r->items[0].actor.len, "agentmem");
    am_results_free(r);

    put_keys(f.s, NS1("many"), 101, "1");
    CHECK_OK(am_store_list(f.s, NS1("many"), 0, 0, &r));
    CHECK_EQ(r->count, 100);
    am_results_free(r);
    CHECK_OK(am_store_list(f.s, NS1("many"), 0, 100, &r));
    CHECK_EQ(r->count, 1);
    CHECK_MEM_EQ(r->items[0].key.ptr, r->items[0].key.len, "k100");
    am_results_free(r);
    /* am_search.limit 0: 10. */
    put_keys(f.s, NS1("fruit"), 12, "\"apple pie\"");
    am_search q = { .ns = NS1("fruit"), .query = AM_STR("apple"),
                    .mode = AM_SEARCH_TEXT };
    CHECK_OK(am_store_search(f.s, &q, &r));
    CHECK_EQ(r->count, 10);
    am_results_free(r);

    am_results_free(NULL);
    am_store_close(NULL);
    am_buf_free(&out);
    fx_close(&f);
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

/* The session functions' smaller promises: ids of 1..1024 bytes, items
 * of any JSON, an unknown session's [], pop without an output, the list's
 * fields, and a prune that keeps everything. */
AM_TEST(sessions_refuse_bad_ids_and_keep_their_small_promises)
{
    fixture f;
    fx_open(&f, 0);
    am_buf out = AM_BUF_INIT;
    am_str docs[3] = { AM_STR("42"), AM_STR("\"text\""),
                       AM_STR("{\"role\":\"user\"}") };
    am_str bad[2] = { AM_STR("[]"), AM_STR("nope") };
    char *long_id = malloc(1025);
    size_t n = 99;

    memset(long_id, 's', 1025);
    /* Ids: empty and over 1024 bytes are refused by every call. */
    CHECK_ST(am_session_add(f.s, AM_STR("u"), AM_STR(""), docs, 1),
             AM_EINVAL);
    CHECK_ST(am_session_get(f.s, AM_STR(""), 0, &out), AM_EINVAL);
    CHECK_ST(am_session_pop(f.s, AM_STR(""), &out), AM_EINVAL);
    CHECK_ST(am_session_clear(f.s, AM_STR("")), AM_EINVAL);
    CHECK_ST(am_session_add(f.s, AM_STR("u"), (am_str){ long_id, 1025 },
                            docs, 1), AM_EINVAL);
    CHECK_OK(am_session_add(f.s, AM_STR("u"), (am_str){ long_id, 1024 },
                            docs, 1));
    CHECK_ST(am_session_add(f.s, AM_STR("u"), AM_STR("s"), NULL, 2),
             AM_EINVAL);

    /* Any JSON document is an item; the first that is not is named, and
     * nothing of the call is kept. */
    CHECK_ST(am_session_add(f.s, AM_STR("u"), AM_STR("s"), bad, 2),
             AM_EFORMAT);
    CHECK(strstr(am_store_last_error(f.s)->msg, "session item 1") != NULL);
    CHECK_OK(am_session_get(f.s, AM_STR("s"), 0, &out));
    CHECK_STR_EQ(out.ptr, "[]"); /* unknown session */
    CHECK_OK(am_session_add(f.s, AM_STR(""), AM_STR("s"), docs, 3));
    CHECK_OK(am_session_get(f.s, AM_STR("s"), 0, &out));
    CHECK_STR_EQ(out.ptr, "[42,\"text\",{\"role\":\"user\"}]");
    CHECK_OK(am_session_get(f.s, AM_STR("s"), 2, &out));
    CHECK_STR_EQ(out.ptr, "[\"text\",{\"role\":\"user\"}]");

    /* Pop without an output still removes the last item. */
    CHECK_OK(am_session_pop(f.s, AM_STR("s"), NULL));
    CHECK_OK(am_session_get(f.s, AM_STR("s"), 0, &out));
    CHECK_STR_EQ(out.ptr, "[42,\"text\"]");

    /* The list of an empty user id, with every field. */
    f.tc.now_ms += 10;
    CHECK_OK(am_session_add(f.s, AM_STR(""), AM_STR("s"), docs, 1));
    CHECK_OK(am_session_list(f.s, AM_STR(""), &out));
    CHECK_STR_EQ(out.ptr, "[{\"session_id\":\"s\",\"items\":3,"
                          "\"created_ms\":1000000,\"updated_ms\":1000010}]");

    /* older_than 0 and keep_last 0: nothing goes; removed may be NULL. */
    CHECK_OK(am_session_prune(f.s, 0, 0, &n));
    CHECK_EQ(n, 0);
    CHECK_OK(am_session_prune(f.s, 0, 2, NULL));
    CHECK_OK(am_session_get(f.s, AM_STR("s"), 0, &out));
    CHECK_STR_EQ(out.ptr, "[\"text\",42]");
    free(long_id);
    am_buf_free(&out);
    fx_close(&f);
}
