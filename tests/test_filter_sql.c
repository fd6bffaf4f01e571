/* test_filter_sql.c -- the one walk from a parsed search filter to SQL
 * (filter.h, am__fsql_walk), seen through a toy dialect whose leaves write
 * their names: what AND, OR, NOT, $ne, $in, $nin and empty lists reduce to
 * is decided by the walk, whichever backend supplies the leaves. The
 * backends' leaves themselves are held by test_store_filter (SQLite) and
 * test_store_filter_pg.
 */
#include <string.h>

#include "harness.h"
#include "store/filter.h"

static void put_str(am__fsql *w, am_str s)
{
    if (w->st == AM_OK)
        w->st = am_buf_append(w->sql, s.ptr, s.len);
}

static void toy_eq(am__fsql *w, am_str field, const am__fval *v)
{
    am__fsql_put(w, "eq(");
    put_str(w, field);
    am__fsql_put(w, ",");
    put_str(w, v->json);
    am__fsql_put(w, ")");
}

static void toy_cmp(am__fsql *w, am_str field, const char *op,
                    const am__fval *v)
{
    am__fsql_put(w, "cmp(");
    put_str(w, field);
    am__fsql_put(w, op);
    put_str(w, v->json);
    am__fsql_put(w, ")");
}

static void toy_contains(am__fsql *w, am_str field, const am__fval *v)
{
    am__fsql_put(w, "has(");
    put_str(w, field);
    am__fsql_put(w, ",");
    put_str(w, v->json);
    am__fsql_put(w, ")");
}

static void toy_exists(am__fsql *w, am_str field, bool present)
{
    am__fsql_put(w, present ? "set(" : "unset(");
    put_str(w, field);
    am__fsql_put(w, ")");
}

static const am__fsql_dialect toy = {
    "T", "F", toy_eq, toy_cmp, toy_contains, toy_exists,
};

/* The toy SQL of `filter`, compared with `want`. */
static void check_sql(const char *filter, const char *want)
{
    am_error err = { AM_OK, "" };
    am__filter *f = NULL;
    am_buf sql = AM_BUF_INIT;
    CHECK_OK_E(am__filter_parse(NULL, am_str_c(filter), &f, &err), &err);
    CHECK(f != NULL);
    am__fsql w = { &sql, AM_OK, &toy };
    CHECK_OK(am__fsql_walk(&w, f->root));
    CHECK_MEM_EQ(sql.ptr, sql.len, want);
    am_buf_free(&sql);
    am__filter_free(f);
}

AM_TEST(a_field_and_its_operators_become_leaves)
{
    check_sql("{\"a\": 1}", "(eq(a,1))");
    check_sql("{\"a\": {\"$eq\": \"x\"}}", "(eq(a,\"x\"))");
    check_sql("{\"a\": {\"$gt\": 2}}", "(cmp(a > 2))");
    check_sql("{\"a\": {\"$gte\": 2}}", "(cmp(a >= 2))");
    check_sql("{\"a\": {\"$lt\": \"m\"}}", "(cmp(a < \"m\"))");
    check_sql("{\"a\": {\"$lte\": 2.5}}", "(cmp(a <= 2.5))");
    check_sql("{\"tags\": {\"$contains\": \"x\"}}", "(has(tags,\"x\"))");
    check_sql("{\"a\": {\"$exists\": true}}", "(set(a))");
    check_sql("{\"a\": {\"$exists\": false}}", "(unset(a))");
}

AM_TEST(ne_and_nin_are_not_around_the_equalities)
{
    check_sql("{\"a\": {\"$ne\": null}}", "(NOT eq(a,null))");
    check_sql("{\"a\": {\"$in\": [1, \"b\"]}}", "((eq(a,1) OR eq(a,\"b\")))");
    check_sql("{\"a\": {\"$nin\": [true]}}", "(NOT (eq(a,true)))");
}

AM_TEST(empty_lists_are_the_dialects_true_and_false)
{
    check_sql("{\"a\": {\"$in\": []}}", "F");
    check_sql("{\"a\": {\"$nin\": []}}", "T");
    check_sql("{\"$not\": {}}", "(NOT T)");
}

AM_TEST(and_or_not_nest_as_written)
{
    check_sql("{\"a\": 1, \"b\": {\"$gt\": 0, \"$lt\": 9}}",
              "((eq(a,1)) AND ((cmp(b > 0)) AND (cmp(b < 9))))");
    check_sql("{\"$or\": [{\"a\": 1}, {\"$not\": {\"b\": 2}}]}",
              "((eq(a,1)) OR (NOT (eq(b,2))))");
    check_sql("{\"$and\": [{\"a\": 1}]}", "((eq(a,1)))");
}

/* A failed write stops every later one, and the walk returns it. */
typedef struct walk_ctx {
    const am__filter *f;
} walk_ctx;

static am_status walk_body(void *ctx, const am_allocator *alloc)
{
    walk_ctx *c = ctx;
    am_buf sql = AM_BUF_INIT;
    sql.alloc = alloc;
    am__fsql w = { &sql, AM_OK, &toy };
    am_status st = am__fsql_walk(&w, c->f->root);
    if (st == AM_OK)
        CHECK_MEM_EQ(sql.ptr, sql.len,
                     "((eq(a,1)) OR ((eq(b,2) OR eq(b,3))))");
    am_buf_free(&sql);
    return st;
}

AM_TEST(a_failed_write_is_the_walks_status)
{
    am_error err = { AM_OK, "" };
    am__filter *f = NULL;
    CHECK_OK_E(am__filter_parse(NULL,
                                AM_STR("{\"$or\": [{\"a\": 1}, "
                                       "{\"b\": {\"$in\": [2, 3]}}]}"),
                                &f, &err),
               &err);
    walk_ctx c = { f };
    CHECK(test_oom_sweep(walk_body, &c) >= 2);
    am__filter_free(f);
}
