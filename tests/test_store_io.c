/* test_store_io.c -- am_store_export and am_store_import (JSON Lines). */
#include <stdlib.h>
#include <unistd.h>

#include "store_fixture.h"

#define ROOT ((am_ns){ NULL, 0 })

/* A sink that appends to an am_buf. */
static am_status to_buf(void *ctx, am_str line)
{
    return am_buf_append(ctx, line.ptr, line.len);
}

/* A sink that fails on its third line. */
static am_status fail_third(void *ctx, am_str line)
{
    int *n = ctx;
    (void)line;
    return ++*n == 3 ? AM_EIO : AM_OK;
}

static am_status import_c(am_store *s, const char *text, size_t *n)
{
    return am_store_import(s, am_str_c(text), NULL, NULL, n, NULL);
}

static void check_msg(am_store *s, const char *want)
{
    const char *msg = am_store_last_error(s)->msg;
    if (strstr(msg, want) == NULL)
        fail_msg("error \"%s\" does not contain \"%s\"", msg, want);
}

AM_TEST(export_then_import_gives_the_same_export)
{
    fixture a, b;
    am_buf e1 = AM_BUF_INIT, e2 = AM_BUF_INIT, v = AM_BUF_INIT;
    size_t n = 0, expired = 9;
    am_item_in its[3] = {
        { .ns = NS2("user_1", "prefs"), .key = AM_STR("lang"),
          .value = AM_STR("{\"value\":\"Python\"}"),
          .meta = AM_STR("{\"src\":\"chat\"}") },
        { .ns = NS2("user_1", "prefs"), .key = AM_STR("editor\nwith\"quote"),
          .value = AM_STR("\"vim\""), .ttl_ms = 60000 },
        { .ns = NS1("global"), .key = AM_STR("k"), .value = AM_STR("[1,2]") },
    };

    fx_open_named(&a, "a.db", 0);
    fx_open_named(&b, "b.db", 0);
    CHECK_OK(am_store_put_many(a.s, its, 3));
    CHECK_OK(am_store_export(a.s, ROOT, to_buf, &e1, &n));
    CHECK_EQ(n, 3);
    CHECK(strstr(e1.ptr, "\"expires_ms\":1060000") != NULL);
    CHECK_OK_E(am_store_import(b.s, am_buf_str(&e1), NULL, NULL, &n, &expired),
               am_store_last_error(b.s));
    CHECK_EQ(n, 3);
    CHECK_EQ(expired, 0);
    CHECK_OK(am_store_export(b.s, ROOT, to_buf, &e2, NULL));
    CHECK_EQ(e1.len, e2.len);
    CHECK_STR_EQ(e1.ptr, e2.ptr);
    CHECK_OK(am_store_get(b.s, NS2("user_1", "prefs"), AM_STR("lang"), &v));
    CHECK_STR_EQ(v.ptr, "{\"value\":\"Python\"}");

    /* A namespace prefix exports only what is under it. */
    am_buf_clear(&e2);
    CHECK_OK(am_store_export(b.s, NS1("global"), to_buf, &e2, &n));
    CHECK_EQ(n, 1);
    CHECK_STR_EQ(e2.ptr, "{\"namespace\":[\"global\"],\"key\":\"k\","
                         "\"value\":[1,2],\"meta\":{},\"created_ms\":1000000,"
                         "\"updated_ms\":1000000}\n");

    /* The absolute expiry came through: the item goes when it should. */
    b.tc.now_ms = 1060001;
    CHECK_ST(am_store_get(b.s, NS2("user_1", "prefs"),
                          AM_STR("editor\nwith\"quote"), &v), AM_ENOTFOUND);
    am_buf_free(&e1);
    am_buf_free(&e2);
    am_buf_free(&v);
    fx_close(&a);
    fx_close(&b);
}

/* One bad line among good ones: the message names the line and the
 * field, and nothing at all was written. */
AM_TEST(import_refuses_wrong_types_naming_line_and_field)
{
    static const struct {
        const char *line;
        am_status st;
        const char *msg;
    } bad[] = {
        { "{\"namespace\":[\"a\"],\"key\":\"k\",\"value\":1,\"ttl_ms\":\"100\"}",
          AM_EFORMAT, "line 3: \"ttl_ms\" must be a non-negative integer "
                      "(milliseconds), not a string" },
        { "{\"namespace\":[\"a\"],\"key\":\"k\",\"value\":1,\"ttl_ms\":-5}",
          AM_EFORMAT, "line 3: \"ttl_ms\" must be a non-negative integer "
                      "(milliseconds), not -5" },
        { "{\"namespace\":[\"a\"],\"key\":\"k\",\"value\":1,\"meta\":\"s\"}",
          AM_EFORMAT, "line 3: \"meta\" must be an object, not a string" },
        { "{\"namespace\":[\"a\",7],\"key\":\"k\",\"value\":1}",
          AM_EFORMAT, "line 3: \"namespace\" part 2 must be a string, not "
                      "an integer" },
        { "{\"namespace\":[\"a\",\"\"],\"key\":\"k\",\"value\":1}",
          AM_EFORMAT, "line 3: \"namespace\" part 2 is empty" },
        { "{\"namespace\":\"a\",\"key\":\"k\",\"value\":1}",
          AM_EFORMAT, "line 3: \"namespace\" must be an array of strings, "
                      "not a string" },
        { "{\"namespace\":[],\"key\":\"k\",\"value\":1}",
          AM_EFORMAT, "line 3: \"namespace\" must have 1 to 32 parts, not 0" },
        { "{\"namespace\":[\"a\"],\"key\":5,\"value\":1}",
          AM_EFORMAT, "line 3: \"key\" must be a string, not an integer" },
        { "{\"namespace\":[\"a\"],\"key\":\"\",\"value\":1}",
          AM_EFORMAT, "line 3: \"key\" is empty" },
        { "{\"namespace\":[\"a\"],\"key\":\"k\"}",
          AM_EFORMAT, "line 3: \"value\" is missing" },
        { "{\"namespace\":[\"a\"],\"key\":\"k\",\"value\":1,\"ttl\":5}",
          AM_EFORMAT, "line 3: unknown field \"ttl\"" },
        { "{\"namespace\":[\"a\"],\"key\":\"k\",\"value\":1,\"ttl_ms\":1,"
          "\"expires_ms\":2}",
          AM_EFORMAT, "line 3: give \"ttl_ms\" or \"expires_ms\", not both" },
        { "{\"namespace\":[\"a\"],\"key\":\"k\",\"value\":1,"
          "\"expires_ms\":1.5}",
          AM_EFORMAT, "line 3: \"expires_ms\" must be an integer" },
        { "{\"namespace\":[\"a\"],\"key\":\"k\",\"value\":1,"
          "\"created_ms\":\"x\"}",
          AM_EFORMAT, "line 3: \"created_ms\" must be an integer" },
        { "{\"namespace\":[\"a\"],\"key\":\"k\",\"value\":1,\"text\":[]}",
          AM_EFORMAT, "line 3: \"text\" must be a string, not an array" },
        { "[1,2]", AM_EFORMAT, "line 3: must be a JSON object" },
        { "{\"namespace\":[\"a\"],", AM_EFORMAT, "line 3: " },
    };
    fixture f;
    am_buf v = AM_BUF_INIT;
    fx_open(&f, 0);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char text[512];
        size_t n = 7;
        snprintf(text, sizeof text,
                 "{\"namespace\":[\"a\"],\"key\":\"k1\",\"value\":1}\n"
                 "\n%s\n{\"namespace\":[\"a\"],\"key\":\"k2\",\"value\":2}\n",
                 bad[i].line);
        CHECK_ST(import_c(f.s, text, &n), bad[i].st);
        CHECK_EQ(n, 0);
        check_msg(f.s, bad[i].msg);
        check_msg(f.s, "; nothing was imported");
        CHECK_ST(am_store_get(f.s, NS1("a"), AM_STR("k1"), &v),
                 AM_ENOTFOUND);
    }
    am_buf_free(&v);
    fx_close(&f);
}

/* What the store itself refuses (a key too long) is named by line too,
 * and a failure in the one write leaves nothing behind. */
AM_TEST(import_store_refusal_names_the_line)
{
    fixture f;
    am_buf text = AM_BUF_INIT, v = AM_BUF_INIT;
    fx_open(&f, 0);
    for (int i = 0; i < 1500; i++)
        CHECK_OK(am_buf_appendf(&text, "{\"namespace\":[\"many\"],"
                                "\"key\":\"k%d\",\"value\":%d}\n", i, i));
    CHECK_OK(am_buf_appendf(&text, "{\"namespace\":[\"many\"],\"key\":\""));
    for (int i = 0; i < 5000; i++)
        CHECK_OK(am_buf_append(&text, "x", 1));
    CHECK_OK(am_buf_appendf(&text, "\",\"value\":1}\n"));
    CHECK_ST(am_store_import(f.s, am_buf_str(&text), NULL, NULL,
                             NULL, NULL), AM_EINVAL);
    check_msg(f.s, "import: line 1501: key is 5000 bytes");
    check_msg(f.s, "nothing was imported");
    CHECK_ST(am_store_get(f.s, NS1("many"), AM_STR("k0"), &v), AM_ENOTFOUND);
    am_buf_free(&text);
    am_buf_free(&v);
    fx_close(&f);
}

AM_TEST(import_keeps_expiry_skips_the_expired_and_later_lines_win)
{
    fixture f;
    am_buf v = AM_BUF_INIT;
    size_t n = 0, expired = 0;
    const char *text =
        "\xEF\xBB\xBF{\"namespace\":[\"a\"],\"key\":\"ttl\",\"value\":1,"
        "\"ttl_ms\":500}\r\n"
        "  \t\r\n"
        "{\"namespace\":[\"a\"],\"key\":\"past\",\"value\":1,"
        "\"expires_ms\":999999}\n"
        "{\"namespace\":[\"a\"],\"key\":\"min\",\"value\":1,"
        "\"expires_ms\":-9223372036854775808}\n"
        "{\"namespace\":[\"a\"],\"key\":\"max\",\"value\":1,"
        "\"expires_ms\":9223372036854775807}\n"
        "{\"namespace\":[\"a\"],\"key\":\"dup\",\"value\":\"first\"}\n"
        "{\"namespace\":[\"a\"],\"key\":\"dup\",\"value\":\"second\","
        "\"meta\":null,\"text\":\"indexed words\",\"created_ms\":5}";
    fx_open(&f, 0);
    CHECK_OK_E(am_store_import(f.s, am_str_c(text), NULL, NULL, &n, &expired),
               am_store_last_error(f.s));
    CHECK_EQ(n, 4);
    CHECK_EQ(expired, 2);
    CHECK_ST(am_store_get(f.s, NS1("a"), AM_STR("past"), &v), AM_ENOTFOUND);
    CHECK_ST(am_store_get(f.s, NS1("a"), AM_STR("min"), &v), AM_ENOTFOUND);
    CHECK_OK(am_store_get(f.s, NS1("a"), AM_STR("dup"), &v));
    CHECK_STR_EQ(v.ptr, "\"second\"");
    f.tc.now_ms += 499;
    CHECK_OK(am_store_get(f.s, NS1("a"), AM_STR("ttl"), &v));
    f.tc.now_ms += 1;
    CHECK_ST(am_store_get(f.s, NS1("a"), AM_STR("ttl"), &v), AM_ENOTFOUND);
    CHECK_OK(am_store_get(f.s, NS1("a"), AM_STR("max"), &v));

    /* "text" is what is indexed. */
    am_search q = { .ns = NS1("a"), .query = AM_STR("indexed"),
                    .mode = AM_SEARCH_TEXT };
    am_results *r = NULL;
    CHECK_OK(am_store_search(f.s, &q, &r));
    CHECK_EQ(r->count, 1);
    CHECK_MEM_EQ(r->items[0].key.ptr, r->items[0].key.len, "dup");
    am_results_free(r);

    /* Empty input: nothing to do. */
    CHECK_OK(am_store_import(f.s, (am_str){ NULL, 0 }, NULL, NULL, &n, NULL));
    CHECK_EQ(n, 0);
    am_buf_free(&v);
    fx_close(&f);
}

/* Progress of am_store_import: every call recorded. */
typedef struct progress_log {
    size_t done[16], total[16];
    size_t n;
} progress_log;

static void record(void *ctx, size_t done, size_t total)
{
    progress_log *c = ctx;
    if (c->n < 16) {
        c->done[c->n] = done;
        c->total[c->n] = total;
    }
    c->n++;
}

/* Progress counts the items to write (an expired line is not one), from 0
 * up to all of them; a refused import never reaches the total, and an
 * input refused while it is read reports nothing. */
AM_TEST(import_reports_progress_from_zero_to_every_item)
{
    fixture f;
    progress_log c = { .n = 0 };
    size_t n = 0, expired = 0;
    am_buf long_key = AM_BUF_INIT;
    const char *text =
        "{\"namespace\":[\"a\"],\"key\":\"k1\",\"value\":1}\n"
        "{\"namespace\":[\"a\"],\"key\":\"gone\",\"value\":1,"
        "\"expires_ms\":5}\n"
        "{\"namespace\":[\"a\"],\"key\":\"k2\",\"value\":2}\n"
        "{\"namespace\":[\"a\"],\"key\":\"k3\",\"value\":3}\n";
    fx_open(&f, 0);
    CHECK_OK_E(am_store_import(f.s, am_str_c(text), record, &c, &n,
                                  &expired), am_store_last_error(f.s));
    CHECK_EQ(n, 3);
    CHECK_EQ(expired, 1);
    CHECK_EQ(c.n, 4);
    for (size_t i = 0; i < 4; i++) {
        CHECK_EQ(c.done[i], i);
        CHECK_EQ(c.total[i], 3);
    }

    /* Line 2 is not JSON: refused while reading, before any item. */
    c.n = 0;
    CHECK_ST(am_store_import(f.s, AM_STR("{\"namespace\":[\"b\"],"
                                            "\"key\":\"x\",\"value\":1}\n"
                                            "{oops\n"),
                                record, &c, &n, NULL), AM_EFORMAT);
    CHECK_EQ(c.n, 0);
    CHECK_EQ(n, 0);

    /* Item 2 of 3 is refused by the store: progress stops at 1 of 3. */
    c.n = 0;
    CHECK_OK(am_buf_appendf(&long_key, "{\"namespace\":[\"b\"],\"key\":"
                            "\"x\",\"value\":1}\n{\"namespace\":[\"b\"],"
                            "\"key\":\""));
    for (int i = 0; i < 5000; i++)
        CHECK_OK(am_buf_append(&long_key, "y", 1));
    CHECK_OK(am_buf_appendf(&long_key, "\",\"value\":1}\n{\"namespace\":"
                            "[\"b\"],\"key\":\"z\",\"value\":1}\n"));
    CHECK_ST(am_store_import(f.s, am_buf_str(&long_key), record, &c, &n,
                                NULL), AM_EINVAL);
    CHECK_EQ(c.n, 2);
    CHECK_EQ(c.done[1], 1);
    CHECK_EQ(c.total[1], 3);

    /* No callback. */
    CHECK_OK(am_store_import(f.s, am_str_c(text), NULL, NULL, &n, NULL));
    CHECK_EQ(n, 3);
    am_buf_free(&long_key);
    fx_close(&f);
}

AM_TEST(export_stops_when_the_sink_fails_and_checks_arguments)
{
    fixture f;
    size_t n = 9;
    int calls = 0;
    fx_open(&f, 0);
    CHECK_OK(import_c(f.s,
        "{\"namespace\":[\"a\"],\"key\":\"1\",\"value\":1}\n"
        "{\"namespace\":[\"a\"],\"key\":\"2\",\"value\":2}\n"
        "{\"namespace\":[\"a\"],\"key\":\"3\",\"value\":3}\n"
        "{\"namespace\":[\"a\"],\"key\":\"4\",\"value\":4}\n", &n));
    CHECK_EQ(n, 4);
    CHECK_ST(am_store_export(f.s, ROOT, fail_third, &calls, &n), AM_EIO);
    CHECK_EQ(calls, 3);
    CHECK_EQ(n, 2);
    check_msg(f.s, "export: the output failed after 2 items");
    CHECK_ST(am_store_export(f.s, ROOT, NULL, NULL, &n), AM_EINVAL);
    check_msg(f.s, "NULL sink");
    CHECK_ST(am_store_export(NULL, ROOT, to_buf, NULL, &n), AM_EINVAL);
    CHECK_ST(am_store_import(NULL, AM_STR("{}"), NULL, NULL,
                             &n, NULL), AM_EINVAL);
    CHECK_ST(am_store_import(f.s, (am_str){ NULL, 3 }, NULL, NULL,
                             &n, NULL), AM_EINVAL);
    fx_close(&f);
}

/* Export pages through the store 1000 items at a time: 2,500 come out
 * whole and in order. */
AM_TEST(export_covers_more_than_one_page)
{
    fixture f;
    am_buf text = AM_BUF_INIT, out = AM_BUF_INIT;
    size_t n = 0;
    fx_open(&f, 0);
    for (int i = 0; i < 2500; i++)
        CHECK_OK(am_buf_appendf(&text, "{\"namespace\":[\"p\"],"
                                "\"key\":\"k%05d\",\"value\":%d}\n", i, i));
    CHECK_OK(am_store_import(f.s, am_buf_str(&text), NULL, NULL, &n, NULL));
    CHECK_EQ(n, 2500);
    CHECK_OK(am_store_export(f.s, NS1("p"), to_buf, &out, &n));
    CHECK_EQ(n, 2500);
    CHECK(strstr(out.ptr, "\"key\":\"k02499\",\"value\":2499") != NULL);
    CHECK(strstr(out.ptr, "\"key\":\"k00999\"") <
          strstr(out.ptr, "\"key\":\"k01000\""));
    am_buf_free(&text);
    am_buf_free(&out);
    fx_close(&f);
}

/* Under a failing allocator, import and export answer AM_OK or AM_ENOMEM,
 * leak nothing, and a failed import leaves nothing behind. */
static am_status oom_body(void *ctx, const am_allocator *alloc)
{
    const char *dir = ctx;
    static int run;
    char path[512];
    am_store_opts o = am_store_opts_default();
    am_store *s = NULL;
    am_buf out = AM_BUF_INIT;
    size_t n = 0;
    const char *text =
        "{\"namespace\":[\"a\",\"b\"],\"key\":\"1\",\"value\":{\"x\":[1]},"
        "\"meta\":{\"m\":1}}\n"
        "{\"namespace\":[\"a\"],\"key\":\"2\",\"value\":\"two\","
        "\"ttl_ms\":100}\n"
        "{\"namespace\":[\"c\"],\"key\":\"3\",\"value\":3,\"text\":\"t\"}\n";

    snprintf(path, sizeof path, "%s/oom%d.db", dir, run++);
    o.alloc = alloc;
    out.alloc = alloc;
    am_status st = am_store_open(path, &o, &s, NULL);
    if (st == AM_OK) {
        st = am_store_import(s, am_str_c(text), NULL, NULL, &n, NULL);
        if (st != AM_OK) {
            am_results *r = NULL;
            /* All or nothing, also when memory ran out. */
            if (am_store_list(s, (am_ns){ NULL, 0 }, 10, 0, &r) == AM_OK &&
                r->count != 0)
                st = AM_EPROTO;
            am_results_free(r);
        } else if (n != 3) {
            st = AM_EPROTO;
        }
    }
    if (st == AM_OK)
        st = am_store_export(s, (am_ns){ NULL, 0 }, to_buf, &out, &n);
    if (st == AM_OK && n != 3)
        st = AM_EPROTO;
    am_buf_free(&out);
    am_store_close(s);
    unlink(path);
    return st;
}

AM_TEST(oom_sweep_import_and_export)
{
    char *dir = test_tmpdir();
    CHECK(test_oom_sweep(oom_body, dir) > 10);
    test_rmtree(dir);
    free(dir);
}
