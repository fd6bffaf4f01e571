/* test_store_scope.c -- scoped full-text search stays inside its
 * namespace: FTS5 intersects with the scope's namespace token, the
 * rare-term cap counts within the scope, namespace tokens cannot be forged,
 * the version 1 -> 2 migration re-indexes existing items, and a version 3
 * file (no change stamps) is still searched by vector. */
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#include "agentmem/store.h"
#include "core/core.h"
#include "harness.h"
#include "store/store_int.h"
#include "vec_checks.h"

#define NS1(a) ((am_ns){ (const am_str[]){ AM_STR(a) }, 1 })
#define NS2(a, b) ((am_ns){ (const am_str[]){ AM_STR(a), AM_STR(b) }, 2 })

static am_results *text_search(am_store *s, am_ns ns, const char *query,
                               size_t limit)
{
    am_results *r = NULL;
    am_search q = { .ns = ns, .query = am_str_c(query),
                    .mode = AM_SEARCH_TEXT, .limit = limit };
    CHECK_OK(am_store_search(s, &q, &r));
    return r;
}

static int all_in(const am_results *r, const char *part0)
{
    for (size_t i = 0; i < r->count; i++)
        if (r->items[i].ns_count < 1 ||
            r->items[i].ns_parts[0].len != strlen(part0) ||
            memcmp(r->items[i].ns_parts[0].ptr, part0, strlen(part0)) != 0)
            return 0;
    return 1;
}

AM_TEST(scoped_search_ranks_only_the_namespace_and_caps_by_its_counts)
{
    char *dir = test_tmpdir(), path[512];
    am_store *s = NULL;
    snprintf(path, sizeof path, "%s/scope.db", dir);
    CHECK_OK(am_store_open(path, NULL, &s, NULL));
    /* 20,000 rows in A with "banana": globally the term matches far more
     * than the 1,500-row budget. */
    enum { NA = 20000, BATCH = 1000 };
    am_item_in *its = calloc(BATCH, sizeof *its);
    char (*keys)[16] = calloc(BATCH, sizeof *keys);
    const am_str pa[1] = { AM_STR("A") };
    for (int b = 0; b < NA / BATCH; b++) {
        for (int i = 0; i < BATCH; i++) {
            snprintf(keys[i], sizeof keys[i], "a%d", b * BATCH + i);
            its[i] = (am_item_in){ .ns = { pa, 1 }, .key = am_str_c(keys[i]),
                                   .value = AM_STR("\"banana bread\""),
                                   .no_embed = 1 };
        }
        CHECK_OK(am_store_put_many(s, its, BATCH));
    }
    free(its);
    free(keys);
    static const char *const bk[] = { "b0", "b1", "b2", "b3", "b4" };
    static const char *const bv[] = {
        "\"apple banana tart\"", "\"banana\"", "\"apple\"",
        "\"apple cherry plum pear fig kiwi lime\"", "\"banana pie\"" };
    for (int i = 0; i < 5; i++) {
        am_item_in it = { .ns = NS2("B", "notes"), .key = am_str_c(bk[i]),
                          .value = am_str_c(bv[i]), .no_embed = 1 };
        CHECK_OK(am_store_put(s, &it));
    }
    /* Globally "banana" (20,003 rows) is over the budget and would be
     * dropped in favour of "apple" (3 rows); within B the two match 5
     * rows, so both are kept and every B row comes back. */
    am_results *r = text_search(s, NS1("B"), "apple banana", 10);
    CHECK_EQ(r->count, 5);
    CHECK(all_in(r, "B"));
    /* IDF counted in the scope: within B "apple" and "banana" are equally
     * common (3 of 5 rows each), whatever A holds, so the row with both
     * comes first. Scores are shares of the query's weight: in [0, 1]. */
    CHECK_MEM_EQ(r->items[0].key.ptr, r->items[0].key.len, "b0");
    for (size_t i = 0; i < r->count; i++) {
        CHECK(r->items[i].fts_score > 0 && r->items[i].fts_score < 1);
        CHECK(r->items[i].score == r->items[i].fts_score);
        if (i > 0)
            CHECK(r->items[i - 1].fts_score >= r->items[i].fts_score);
    }
    am_results_free(r);
    /* The deeper scope gives the same rows. */
    r = text_search(s, NS2("B", "notes"), "banana", 10);
    CHECK_EQ(r->count, 3);
    CHECK(all_in(r, "B"));
    am_results_free(r);
    /* A-scoped: none of B's rows. */
    r = text_search(s, NS1("A"), "apple", 10);
    CHECK_EQ(r->count, 0);
    am_results_free(r);
    r = text_search(s, NS1("A"), "banana", 7);
    CHECK_EQ(r->count, 7);
    CHECK(all_in(r, "A"));
    am_results_free(r);

    /* That a B-scoped search does not pay for A's 20,000 matches is a
     * speed property: bench/bench_store_scope.c measures it (tests do not
     * time things, so that a loaded machine cannot fail them). */
    am_store_close(s);
    test_rmtree(dir);
    free(dir);
}

AM_TEST(namespace_tokens_cannot_be_forged_by_text_or_namespaces)
{
    char *dir = test_tmpdir(), path[512];
    am_store *s = NULL;
    snprintf(path, sizeof path, "%s/forge.db", dir);
    CHECK_OK(am_store_open(path, NULL, &s, NULL));
    am_item_in it = { .ns = NS1("victim"), .key = AM_STR("k"),
                      .value = AM_STR("\"secret plans\""), .no_embed = 1 };
    CHECK_OK(am_store_put(s, &it));
    /* Compute the victim's token the way the store does (salt included),
     * then put it as text, as namespace parts and as a query. */
    sqlite3 *db = NULL;
    char salt[32] = "";
    CHECK_EQ(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL),
                 SQLITE_OK);
    sqlite3_stmt *q = NULL;
    CHECK_EQ(sqlite3_prepare_v2(db, "SELECT v FROM store_meta WHERE"
                                    " k = 'fts_ns_salt'", -1, &q, NULL),
                 SQLITE_OK);
    CHECK_EQ(sqlite3_step(q), SQLITE_ROW);
    snprintf(salt, sizeof salt, "%s", (const char *)sqlite3_column_text(q, 0));
    sqlite3_finalize(q);
    sqlite3_close(db);
    const char enc[] = "victim\x1f";
    char tok[32];
    snprintf(tok, sizeof tok, "%020llu",
             (unsigned long long)am__hash64(enc, sizeof enc - 1,
                                            (uint64_t)strtoll(salt, NULL,
                                                              10)));
    char val[64];
    snprintf(val, sizeof val, "\"secret %s\"", tok);
    am_item_in ev = { .ns = NS1("evil"), .key = AM_STR("k"),
                      .value = am_str_c(val), .no_embed = 1 };
    CHECK_OK(am_store_put(s, &ev));
    /* Parts that spell the victim's bytes, its token, separators. */
    const char *parts[] = { tok, "victim\x1f", "victim", "\x1fvictim",
                            "fts_ns", "fts_ns : x" };
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) {
        am_str p[2] = { AM_STR("evil2"), am_str_c(parts[i]) };
        am_item_in e2 = { .ns = { p, 2 }, .key = AM_STR("k"),
                          .value = AM_STR("\"secret\""), .no_embed = 1 };
        CHECK_OK(am_store_put(s, &e2));
        am_str p1[1] = { am_str_c(parts[i]) };
        am_item_in e3 = { .ns = { p1, 1 }, .key = AM_STR("k"),
                          .value = AM_STR("\"secret\""), .no_embed = 1 };
        CHECK_OK(am_store_put(s, &e3));
    }
    am_results *r = text_search(s, NS1("victim"), "secret", 50);
    CHECK_EQ(r->count, 1);
    CHECK(all_in(r, "victim"));
    am_results_free(r);
    /* The token as a query matches only the text that holds it. */
    r = text_search(s, NS1("victim"), tok, 50);
    CHECK_EQ(r->count, 0);
    am_results_free(r);
    r = text_search(s, (am_ns){ NULL, 0 }, tok, 50);
    CHECK_EQ(r->count, 1);
    CHECK(all_in(r, "evil"));
    am_results_free(r);
    /* The full-text index agrees with the rows. */
    CHECK_OK(am_store_check(s));
    am_store_close(s);
    test_rmtree(dir);
    free(dir);
}

/* The fts_score of `key` in a text search of `query` under `ns`, or -1
 * when it is not found. */
/* The writers bind each row's namespace tokens from a memo of 32 slots
 * (am__sq_ns_tokens): a batch over more namespaces than that, at two
 * depths, then updates of some of its rows, must still scope every row to
 * its own namespaces and no other. */
AM_TEST(a_batch_over_many_namespaces_is_scoped_row_by_row)
{
    char *dir = test_tmpdir(), path[512];
    am_store *s = NULL;
    enum { NNS = 80, PER = 3 };
    char users[NNS][8], keys[NNS * PER][16];
    am_str parts[NNS][2];
    am_item_in its[NNS * PER];
    snprintf(path, sizeof path, "%s/many.db", dir);
    CHECK_OK(am_store_open(path, NULL, &s, NULL));
    for (int u = 0; u < NNS; u++) {
        snprintf(users[u], sizeof users[u], "u%d", u);
        parts[u][0] = u % 2 == 0 ? AM_STR("even") : AM_STR("odd");
        parts[u][1] = am_str_c(users[u]);
    }
    /* Rows go round the namespaces, so neighbours never share one. */
    for (int i = 0; i < NNS * PER; i++) {
        snprintf(keys[i], sizeof keys[i], "k%d", i);
        its[i] = (am_item_in){ .ns = { parts[i % NNS], 2 },
                               .key = am_str_c(keys[i]),
                               .value = AM_STR("\"plum jam\""),
                               .no_embed = 1 };
    }
    CHECK_OK(am_store_put_many(s, its, NNS * PER));
    /* Rewrite the first round: old entries out, new ones in, by the same
     * tokens. */
    for (int i = 0; i < NNS; i++)
        its[i].value = AM_STR("\"plum tart\"");
    CHECK_OK(am_store_put_many(s, its, NNS));
    for (int u = 0; u < NNS; u++) {
        am_results *r = text_search(s, (am_ns){ parts[u], 2 }, "plum",
                                    100);
        CHECK_EQ(r->count, PER);
        for (size_t i = 0; i < r->count; i++)
            CHECK_MEM_EQ(r->items[i].ns_parts[1].ptr,
                         r->items[i].ns_parts[1].len, users[u]);
        am_results_free(r);
        r = text_search(s, (am_ns){ parts[u], 2 }, "tart", 100);
        CHECK_EQ(r->count, 1);
        am_results_free(r);
    }
    am_results *r = text_search(s, NS1("even"), "plum", 1000);
    CHECK_EQ(r->count, NNS / 2 * PER);
    CHECK(all_in(r, "even"));
    am_results_free(r);
    r = text_search(s, NS1("odd"), "jam", 1000);
    CHECK_EQ(r->count, NNS / 2 * (PER - 1));
    CHECK(all_in(r, "odd"));
    am_results_free(r);
    am_store_close(s);
    test_rmtree(dir);
    free(dir);
}

static double score_of(am_store *s, am_ns ns, const char *query,
                       const char *key)
{
    am_results *r = text_search(s, ns, query, 50);
    double sc = -1;
    for (size_t i = 0; i < r->count; i++)
        if (r->items[i].key.len == strlen(key) &&
            memcmp(r->items[i].key.ptr, key, strlen(key)) == 0)
            sc = r->items[i].fts_score;
    am_results_free(r);
    return sc;
}

/* What a handle that never searched before says: no counts kept. */
static double fresh_score(const char *path, am_ns ns, const char *query,
                          const char *key)
{
    am_store *s = NULL;
    CHECK_OK(am_store_open(path, NULL, &s, NULL));
    double sc = score_of(s, ns, query, key);
    am_store_close(s);
    return sc;
}

static void put_text(am_store *s, am_ns ns, const char *key,
                     const char *value)
{
    am_item_in it = { .ns = ns, .key = am_str_c(key),
                      .value = am_str_c(value), .no_embed = 1 };
    CHECK_OK(am_store_put(s, &it));
}

/* A handle keeps the scope's row count and the terms' counts between
 * searches (they weigh the terms); a write through it, or through another
 * connection to the file, must make it count again. */
AM_TEST(scoped_counts_kept_between_searches_follow_every_write)
{
    char *dir = test_tmpdir(), path[512];
    am_store *s = NULL, *other = NULL;
    snprintf(path, sizeof path, "%s/counts.db", dir);
    CHECK_OK(am_store_open(path, NULL, &s, NULL));
    CHECK_OK(am_store_open(path, NULL, &other, NULL));
    put_text(s, NS1("S"), "x1", "\"kiwi apple\"");
    put_text(s, NS1("S"), "x2", "\"apple pie\"");
    put_text(s, NS1("S"), "x3", "\"plum tart\"");
    double first = score_of(s, NS1("S"), "kiwi apple", "x1");
    CHECK(first > 0);
    CHECK(first == fresh_score(path, NS1("S"), "kiwi apple", "x1"));
    /* Another connection makes "kiwi" common in S: its weight drops. */
    put_text(other, NS1("S"), "y1", "\"kiwi\"");
    put_text(other, NS1("S"), "y2", "\"kiwi jam\"");
    put_text(other, NS1("S"), "y3", "\"kiwi salad\"");
    double second = score_of(s, NS1("S"), "kiwi apple", "x1");
    CHECK(second != first);
    CHECK(second == fresh_score(path, NS1("S"), "kiwi apple", "x1"));
    /* This handle's own write: rows without either word raise N. (Search
     * first: opening the fresh handle above wrote to the file, which this
     * handle would notice as another connection's commit.) */
    CHECK(score_of(s, NS1("S"), "kiwi apple", "x1") == second);
    for (int i = 0; i < 6; i++) {
        char k[8];
        snprintf(k, sizeof k, "z%d", i);
        put_text(s, NS1("S"), k, "\"fig\"");
    }
    double third = score_of(s, NS1("S"), "kiwi apple", "x1");
    CHECK(third != second);
    CHECK(third == fresh_score(path, NS1("S"), "kiwi apple", "x1"));
    /* And an update through the other connection that drops the word. */
    put_text(other, NS1("S"), "y1", "\"fig\"");
    double fourth = score_of(s, NS1("S"), "kiwi apple", "x1");
    CHECK(fourth != third);
    CHECK(fourth == fresh_score(path, NS1("S"), "kiwi apple", "x1"));
    am_store_close(other);
    am_store_close(s);
    test_rmtree(dir);
    free(dir);
}

/* The version 1 schema, as the previous library created it. */
static const char v1_schema[] =
    "PRAGMA auto_vacuum = INCREMENTAL;"
    "CREATE TABLE am_schema(module TEXT PRIMARY KEY, version INTEGER NOT NULL);"
    "INSERT INTO am_schema VALUES ('store', 1);"
    "CREATE TABLE store_meta(k TEXT PRIMARY KEY, v TEXT NOT NULL);"
    "CREATE TABLE items("
    " id INTEGER PRIMARY KEY, ns BLOB NOT NULL, key BLOB NOT NULL,"
    " value TEXT NOT NULL, meta TEXT NOT NULL DEFAULT '{}',"
    " text TEXT NOT NULL DEFAULT '',"
    " created_ms INTEGER NOT NULL, updated_ms INTEGER NOT NULL,"
    " expires_ms INTEGER, deleted_ms INTEGER,"
    " vec_model TEXT, vec BLOB, UNIQUE(ns, key));"
    "CREATE TABLE item_history("
    " item_id INTEGER NOT NULL, seq INTEGER NOT NULL,"
    " event TEXT NOT NULL, old_value TEXT, old_meta TEXT,"
    " at_ms INTEGER NOT NULL, actor TEXT NOT NULL,"
    " PRIMARY KEY(item_id, seq)) WITHOUT ROWID;"
    "CREATE VIRTUAL TABLE items_fts USING fts5(text, content='items',"
    " content_rowid='id', tokenize='porter unicode61 remove_diacritics 2');"
    "CREATE TABLE sessions("
    " id INTEGER PRIMARY KEY, session_id BLOB NOT NULL UNIQUE,"
    " user_id BLOB NOT NULL, created_ms INTEGER NOT NULL,"
    " updated_ms INTEGER NOT NULL);"
    "CREATE TABLE session_items("
    " id INTEGER PRIMARY KEY, sess INTEGER NOT NULL, item TEXT NOT NULL,"
    " created_ms INTEGER NOT NULL);"
    "INSERT INTO items(ns, key, value, text, created_ms, updated_ms)"
    " VALUES (x'751f61311f', x'6b31', '\"red kite\"', 'red kite', 1, 1),"
    " (x'751f61321f', x'6b32', '\"red fox\"', 'red fox', 1, 1),"
    " (x'761f', x'6b33', '\"red sky\"', 'red sky', 1, 1);"
    "INSERT INTO items_fts(items_fts) VALUES ('rebuild');";

AM_TEST(migration_from_version_1_reindexes_items_with_namespace_tokens)
{
    char *dir = test_tmpdir(), path[512];
    sqlite3 *db = NULL;
    snprintf(path, sizeof path, "%s/v1.db", dir);
    CHECK_EQ(sqlite3_open(path, &db), SQLITE_OK);
    CHECK_EQ(sqlite3_exec(db, v1_schema, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    am_store *s = NULL;
    CHECK_OK(am_store_open(path, NULL, &s, NULL));
    CHECK_OK(am_store_check(s));
    /* ("u", "a1"), ("u", "a2"), ("v"). */
    am_results *r = text_search(s, NS1("u"), "red", 10);
    CHECK_EQ(r->count, 2);
    CHECK(all_in(r, "u"));
    am_results_free(r);
    r = text_search(s, NS2("u", "a2"), "red", 10);
    CHECK_EQ(r->count, 1);
    am_results_free(r);
    r = text_search(s, (am_ns){ NULL, 0 }, "red", 10);
    CHECK_EQ(r->count, 3);
    am_results_free(r);
    /* Writes after the migration keep the index consistent. */
    am_item_in it = { .ns = NS2("u", "a1"), .key = AM_STR("k1"),
                      .value = AM_STR("\"blue kite\""), .no_embed = 1 };
    CHECK_OK(am_store_put(s, &it));
    CHECK_OK(am_store_delete(s, NS1("v"), AM_STR("k3")));
    CHECK_OK(am_store_purge(s, INT64_MAX, NULL));
    CHECK_OK(am_store_check(s));
    r = text_search(s, NS1("u"), "red", 10);
    CHECK_EQ(r->count, 1);
    am_results_free(r);
    am_store_close(s);
    /* Reopening does not migrate again. */
    CHECK_OK(am_store_open(path, NULL, &s, NULL));
    r = text_search(s, NS1("u"), "kite", 10);
    CHECK_EQ(r->count, 1);
    am_results_free(r);
    am_store_close(s);
    test_rmtree(dir);
    free(dir);
}

/* Without its namespace salt a store would answer every scoped text
 * search with nothing (only `store check` noticed): it refuses to open,
 * and says which row is missing. A value that is not a number is the
 * same. */
AM_TEST(a_store_missing_its_metadata_refuses_to_open)
{
    char *dir = test_tmpdir(), path[512];
    am_store *s = NULL;
    am_error err = { AM_OK, "" };
    sqlite3 *db = NULL;
    am_store_opts ro = am_store_opts_default();

    snprintf(path, sizeof path, "%s/meta.db", dir);
    CHECK_OK(am_store_open(path, NULL, &s, NULL));
    am_item_in it = { .ns = NS1("a"), .key = AM_STR("k"),
                      .value = AM_STR("\"findable text\""), .no_embed = 1 };
    CHECK_OK(am_store_put(s, &it));
    am_store_close(s);
    CHECK_EQ(sqlite3_open(path, &db), SQLITE_OK);
    CHECK_EQ(sqlite3_exec(db, "UPDATE store_meta SET v = 'x12' WHERE k = "
                              "'fts_ns_salt'", NULL, NULL, NULL), SQLITE_OK);
    CHECK_ST(am_store_open(path, NULL, &s, &err), AM_EFORMAT);
    CHECK(strstr(err.msg, "not a number") != NULL);
    CHECK_EQ(sqlite3_exec(db, "DELETE FROM store_meta WHERE k = "
                              "'fts_ns_salt'", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    s = NULL;
    CHECK_ST(am_store_open(path, NULL, &s, &err), AM_EFORMAT);
    CHECK(s == NULL);
    CHECK(strstr(err.msg, "fts_ns_salt") != NULL);
    CHECK(strstr(err.msg, "missing") != NULL);
    ro.read_only = 1;
    CHECK_ST(am_store_open(path, &ro, &s, &err), AM_EFORMAT);
    test_rmtree(dir);
    free(dir);
}

static void put_vec2(am_store *s, const char *key, float x, float y)
{
    float v[2] = { x, y };
    am_item_in it = { .ns = NS1("v"), .key = am_str_c(key),
                      .value = AM_STR("1"), .vec = v, .dim = 2,
                      .vec_model = "test" };
    CHECK_OK(am_store_put(s, &it));
}

/* A file from before the change stamps (schema 3) opened read-only is
 * searched by vector as before, reloading in full; a writer's open adds
 * the stamps (migration 4), after which another handle catches up on the
 * changed rows only. */
AM_TEST(a_version_3_file_is_searched_by_vector_and_migrated_to_stamps)
{
    char *dir = test_tmpdir(), path[512], top[32];
    am_store *s = NULL, *ro = NULL, *w = NULL;
    am_store_opts o = am_store_opts_default();
    sqlite3 *db = NULL;
    snprintf(path, sizeof path, "%s/v3.db", dir);
    CHECK_OK(am_store_open(path, NULL, &s, NULL));
    put_vec2(s, "a", 1, 0);
    put_vec2(s, "b", 0, 1);
    am_store_close(s);
    /* What version 3 of the library left: no stamps, no epoch. */
    CHECK_EQ(sqlite3_open(path, &db), SQLITE_OK);
    CHECK_EQ(sqlite3_exec(db, AS_SCHEMA_5 "DROP INDEX items_chg;"
                              "ALTER TABLE items DROP COLUMN chg;"
                              "DELETE FROM store_meta WHERE k = 'vec_epoch';"
                              "UPDATE am_schema SET version = 3"
                              " WHERE module = 'store';",
                          NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    o.read_only = 1;
    CHECK_OK(am_store_open(path, &o, &ro, NULL));
    CHECK_EQ(vec_hits(ro, 1, 0.1f, top, sizeof top), 2);
    CHECK_STR_EQ(top, "a");
    /* A writer migrates; the read-only handle keeps reading in full. */
    CHECK_OK(am_store_open(path, NULL, &w, NULL));
    put_vec2(w, "c", -1, 0);
    CHECK_EQ(vec_hits(ro, -1, 0.1f, top, sizeof top), 3);
    CHECK_STR_EQ(top, "c");
    /* A handle opened on the migrated file catches up row by row. */
    CHECK_OK(am_store_open(path, &o, &s, NULL));
    CHECK_EQ(vec_hits(s, 0, 1, top, sizeof top), 3);
    int64_t rows = s->vc_rows;
    put_vec2(w, "d", 0, -1);
    CHECK_EQ(vec_hits(s, 0, -1, top, sizeof top), 4);
    CHECK_STR_EQ(top, "d");
    CHECK_EQ(s->vc_rows - rows, 1);
    CHECK_OK(am_store_check(w));
    am_store_close(s);
    am_store_close(w);
    am_store_close(ro);
    test_rmtree(dir);
    free(dir);
}
