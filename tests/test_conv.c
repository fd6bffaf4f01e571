/* test_conv.c -- conversations: cap, queries, replace, JSON, files. */
#include <stdlib.h>
#include <unistd.h>

#include "agentmem/conv.h"
#include "harness.h"

#define CHECK_CONTAINS(hay, needle)                                      \
    do {                                                                \
        if (strstr((hay), (needle)) == NULL) {                          \
            print_error("%s:%d: \"%s\" does not contain \"%s\"\n",      \
                        __FILE__, __LINE__, (hay), (needle));           \
            fail();                                                     \
        }                                                               \
    } while (0)

static am_conv *new_conv(size_t max, test_clock *tc, am_clock *clk)
{
    am_conv_opts o = am_conv_opts_default();
    am_conv *c = NULL;
    am_error err = { AM_OK, "" };
    if (tc != NULL) {
        *clk = test_clock_make(tc);
        o.clock = clk;
    }
    o.max_messages = max;
    CHECK_OK_E(am_conv_create(&o, &c, &err), &err);
    return c;
}

static void check_text(am_conv *c, size_t i, const char *want)
{
    am_msg *m = NULL;
    CHECK_OK(am_conv_get(c, i, &m));
    CHECK_MEM_EQ(am_msg_content_text(m).ptr, am_msg_content_text(m).len,
                 want);
    am_msg_free(m);
}

AM_TEST(cap_drops_oldest_non_system_first)
{
    am_conv *c = new_conv(3, NULL, NULL);
    CHECK_OK(am_conv_add_text(c, AM_ROLE_SYSTEM, AM_STR("sys")));
    CHECK_OK(am_conv_add_text(c, AM_ROLE_USER, AM_STR("u1")));
    CHECK_OK(am_conv_add_text(c, AM_ROLE_ASSISTANT, AM_STR("a1")));
    CHECK_OK(am_conv_add_text(c, AM_ROLE_USER, AM_STR("u2")));
    CHECK_EQ(am_conv_count(c), 3);
    check_text(c, 0, "sys");
    check_text(c, 1, "a1");
    check_text(c, 2, "u2");
    for (int i = 0; i < 100; i++)
        CHECK_OK(am_conv_add_text(c, AM_ROLE_USER, AM_STR("more")));
    CHECK_EQ(am_conv_count(c), 3);
    check_text(c, 0, "sys");
    am_conv_free(c);
}

AM_TEST(cap_full_of_system_messages_refuses_another)
{
    am_conv *c = new_conv(2, NULL, NULL);
    CHECK_OK(am_conv_add_text(c, AM_ROLE_SYSTEM, AM_STR("s1")));
    CHECK_OK(am_conv_add_text(c, AM_ROLE_SYSTEM, AM_STR("s2")));
    CHECK_ST(am_conv_add_text(c, AM_ROLE_SYSTEM, AM_STR("s3")), AM_ELIMIT);
    CHECK_CONTAINS(am_conv_last_error(c)->msg, "max_messages");
    /* A user message cannot get in either: nothing can be dropped. */
    CHECK_OK(am_conv_add_text(c, AM_ROLE_USER, AM_STR("u")));
    CHECK_EQ(am_conv_count(c), 2);
    check_text(c, 1, "s2");
    am_conv_free(c);
}

AM_TEST(recent_by_role_and_get_hand_out_references)
{
    am_conv *c = new_conv(0, NULL, NULL);
    am_msg_list l = AM_MSG_LIST_INIT;
    am_msg *m = NULL;

    CHECK_OK(am_conv_add_text(c, AM_ROLE_USER, AM_STR("u1")));
    CHECK_OK(am_conv_add_text(c, AM_ROLE_ASSISTANT, AM_STR("a1")));
    CHECK_OK(am_conv_add_text(c, AM_ROLE_USER, AM_STR("u2")));
    CHECK_OK(am_conv_recent(c, 2, &l));
    CHECK_EQ(l.count, 2);
    CHECK_MEM_EQ(am_msg_content_text(l.items[0]).ptr, 2, "a1");
    am_msg_list_clear(&l);
    CHECK_OK(am_conv_recent(c, 10, &l));
    CHECK_EQ(l.count, 3);
    am_msg_list_clear(&l);
    CHECK_OK(am_conv_by_role(c, AM_ROLE_USER, &l));
    CHECK_EQ(l.count, 2);
    CHECK_MEM_EQ(am_msg_content_text(l.items[1]).ptr, 2, "u2");
    CHECK_ST(am_conv_get(c, 3, &m), AM_ENOTFOUND);
    CHECK_CONTAINS(am_conv_last_error(c)->msg, "message 3");
    /* References outlive a clear. */
    CHECK_OK(am_conv_clear(c));
    CHECK_EQ(am_conv_count(c), 0);
    CHECK_MEM_EQ(am_msg_content_text(l.items[0]).ptr, 2, "u1");
    am_msg_list_free(&l);
    am_conv_free(c);
}

AM_TEST(add_copies_a_mutable_message_and_shares_a_frozen_one)
{
    am_conv *c = new_conv(0, NULL, NULL), *c2 = new_conv(0, NULL, NULL);
    am_msg *m = NULL, *got = NULL;
    am_msg_list l = AM_MSG_LIST_INIT;
    am_error err = { AM_OK, "" };

    CHECK_OK(am_msg_create_text(NULL, AM_ROLE_USER, AM_STR("v1"), &m, &err));
    CHECK_OK(am_conv_add(c, m));
    CHECK_OK(am_msg_set_text(m, AM_STR("v2"), &err)); /* still mine */
    check_text(c, 0, "v1");
    am_msg_free(m);
    /* A new conversation from selected messages shares them. */
    CHECK_OK(am_conv_all(c, &l));
    CHECK_OK(am_conv_replace(c2, (const am_msg *const *)l.items, l.count));
    CHECK_OK(am_conv_get(c2, 0, &got));
    CHECK(got == l.items[0]);
    am_msg_free(got);
    am_msg_list_free(&l);
    /* Invalid messages are refused and nothing changes. */
    CHECK_OK(am_msg_create_text(NULL, AM_ROLE_TOOL, AM_STR("r"), &m, &err));
    CHECK_ST(am_conv_add(c, m), AM_EINVAL);
    CHECK_CONTAINS(am_conv_last_error(c)->msg, "tool_call_id");
    CHECK_EQ(am_conv_count(c), 1);
    am_msg_free(m);
    CHECK_ST(am_conv_add_text(c, AM_ROLE_USER, (am_str){ "\xC0", 1 }),
             AM_EFORMAT);
    CHECK_CONTAINS(am_conv_last_error(c)->msg, "byte 0");
    am_conv_free(c);
    am_conv_free(c2);
}

AM_TEST(add_list_is_all_or_nothing)
{
    am_conv *c = new_conv(0, NULL, NULL);
    am_msg *ms[3] = { NULL, NULL, NULL };
    am_error err = { AM_OK, "" };

    CHECK_OK(am_msg_create_text(NULL, AM_ROLE_USER, AM_STR("a"), &ms[0],
                                &err));
    CHECK_OK(am_msg_create_text(NULL, AM_ROLE_USER, AM_STR("b"), &ms[1],
                                &err));
    CHECK_OK(am_msg_create_text(NULL, AM_ROLE_TOOL, AM_STR("c"), &ms[2],
                                &err));
    CHECK_ST(am_conv_add_list(c, (const am_msg *const *)ms, 3), AM_EINVAL);
    CHECK_CONTAINS(am_conv_last_error(c)->msg, "message 2");
    CHECK_EQ(am_conv_count(c), 0);
    CHECK_OK(am_conv_add_list(c, (const am_msg *const *)ms, 2));
    CHECK_EQ(am_conv_count(c), 2);
    for (int i = 0; i < 3; i++)
        am_msg_free(ms[i]);
    am_conv_free(c);
}

AM_TEST(stats_count_roles_lengths_and_bytes)
{
    am_conv *c = new_conv(0, NULL, NULL);
    am_conv_stats s;

    CHECK_OK(am_conv_add_text(c, AM_ROLE_USER, AM_STR("hello")));
    CHECK_OK(am_conv_add_text(c, AM_ROLE_USER, AM_STR("caf\xC3\xA9")));
    CHECK_OK(am_conv_add_text(c, AM_ROLE_ASSISTANT, AM_STR("hi")));
    CHECK_OK(am_conv_stats_get(c, &s));
    CHECK_EQ(s.count, 3);
    CHECK_EQ(s.by_role[AM_ROLE_USER], 2);
    CHECK_EQ(s.chars_by_role[AM_ROLE_USER], 9);
    CHECK_EQ(s.chars_by_role[AM_ROLE_ASSISTANT], 2);
    CHECK_EQ(s.text_bytes, 12);
    CHECK(s.bytes > 12);
    am_conv_free(c);
}

AM_TEST(save_and_load_round_trip_in_every_format)
{
    test_clock tc = { .now_ms = 1000 };
    am_clock clk;
    am_conv *c = new_conv(0, &tc, &clk), *d = new_conv(0, NULL, NULL);
    char *dir = test_tmpdir();
    char path[4096];
    am_buf a = AM_BUF_INIT, b = AM_BUF_INIT;

    snprintf(path, sizeof path, "%s/conv.json", dir);
    CHECK_OK(am_conv_add_text(c, AM_ROLE_SYSTEM, AM_STR("be nice")));
    CHECK_OK(am_conv_add_text(c, AM_ROLE_USER, AM_STR("line1\nline2 \"q\"")));
    CHECK_OK(am_conv_add_text(c, AM_ROLE_ASSISTANT, AM_STR("ok")));
    for (int f = 0; f < 3; f++) {
        CHECK_OK(am_conv_save(c, path, (am_format)f));
        CHECK_OK_E(am_conv_load(d, path, (am_format)f),
                   am_conv_last_error(d));
        CHECK_EQ(am_conv_count(d), 3);
        CHECK_OK(am_conv_to_json(c, (am_format)f, 0, &a));
        CHECK_OK(am_conv_to_json(d, (am_format)f, 0, &b));
        if (f == AM_FORMAT_AGENTMEM) /* ids and times too */
            CHECK_MEM_EQ(b.ptr, b.len, a.ptr);
        check_text(d, 1, "line1\nline2 \"q\"");
    }
    CHECK(access(path, F_OK) == 0);
    am_buf_free(&a);
    am_buf_free(&b);
    am_conv_free(c);
    am_conv_free(d);
    test_rmtree(dir);
    free(dir);
}

AM_TEST(corrupt_or_truncated_file_names_position_and_keeps_memory)
{
    am_conv *c = new_conv(0, NULL, NULL);
    char *dir = test_tmpdir();
    char path[4096];
    am_buf text = AM_BUF_INIT;
    FILE *fp;

    snprintf(path, sizeof path, "%s/conv.json", dir);
    CHECK_OK(am_conv_add_text(c, AM_ROLE_USER, AM_STR("one")));
    CHECK_OK(am_conv_add_text(c, AM_ROLE_ASSISTANT, AM_STR("two")));
    CHECK_OK(am_conv_add_text(c, AM_ROLE_USER, AM_STR("three")));
    CHECK_OK(am_conv_save(c, path, AM_FORMAT_AGENTMEM));
    CHECK_OK(am_conv_to_json(c, AM_FORMAT_AGENTMEM, 0, &text));
    /* Truncated in the middle of message 2 (line 4). */
    fp = fopen(path, "wb");
    fwrite(text.ptr, 1, text.len - 20, fp);
    fclose(fp);
    CHECK_OK(am_conv_add_text(c, AM_ROLE_USER, AM_STR("four")));
    CHECK_ST(am_conv_load(c, path, AM_FORMAT_AGENTMEM), AM_EFORMAT);
    CHECK_CONTAINS(am_conv_last_error(c)->msg, "line 4");
    CHECK_CONTAINS(am_conv_last_error(c)->msg, "byte");
    CHECK_EQ(am_conv_count(c), 4);
    check_text(c, 3, "four");
    /* A corrupt byte inside message 1. */
    text.ptr[text.len / 2] = '\x01';
    fp = fopen(path, "wb");
    fwrite(text.ptr, 1, text.len, fp);
    fclose(fp);
    CHECK_ST(am_conv_load(c, path, AM_FORMAT_AGENTMEM), AM_EFORMAT);
    CHECK_CONTAINS(am_conv_last_error(c)->msg, "line 3");
    CHECK_EQ(am_conv_count(c), 4);
    /* Missing file. */
    snprintf(path, sizeof path, "%s/none.json", dir);
    CHECK_ST(am_conv_load(c, path, AM_FORMAT_AGENTMEM), AM_ENOTFOUND);
    CHECK_EQ(am_conv_count(c), 4);
    CHECK_ST(am_conv_from_json(c, AM_FORMAT_AGENTMEM, AM_STR("")),
             AM_EFORMAT);
    CHECK_CONTAINS(am_conv_last_error(c)->msg, "empty input");
    CHECK_ST(am_conv_from_json(c, AM_FORMAT_AGENTMEM,
                               AM_STR("[{\"role\":\"user\"}]]")),
             AM_EFORMAT);
    CHECK_EQ(am_conv_count(c), 4);
    am_buf_free(&text);
    am_conv_free(c);
    test_rmtree(dir);
    free(dir);
}

AM_TEST(load_applies_the_cap)
{
    am_conv *c = new_conv(2, NULL, NULL);
    CHECK_OK(am_conv_from_json(c, AM_FORMAT_AGENTMEM, AM_STR(
        "[{\"role\":\"system\",\"content\":\"s\"},{\"role\":\"user\","
        "\"content\":\"a\"},{\"role\":\"user\",\"content\":\"b\"}]")));
    CHECK_EQ(am_conv_count(c), 2);
    check_text(c, 0, "s");
    check_text(c, 1, "b");
    am_conv_free(c);
}

static am_status oom_conv_body(void *ctx, const am_allocator *alloc)
{
    am_conv_opts o = am_conv_opts_default();
    am_conv *c = NULL;
    am_buf b = AM_BUF_INIT;
    am_status st;
    (void)ctx;

    o.alloc = alloc;
    o.max_messages = 3;
    b.alloc = alloc;
    st = am_conv_create(&o, &c, NULL);
    for (int i = 0; st == AM_OK && i < 5; i++)
        st = am_conv_add_text(c, i ? AM_ROLE_USER : AM_ROLE_SYSTEM,
                              AM_STR("text"));
    if (st == AM_OK && am_conv_count(c) != 3)
        st = AM_EFORMAT;
    if (st == AM_OK) {
        st = am_conv_from_json(c, AM_FORMAT_AGENTMEM, AM_STR(
            "[{\"role\":\"user\",\"content\":\"x\\ty\"},{\"role\":"
            "\"assistant\",\"content\":\"z\"}]"));
        /* A failed load leaves the old contents, a good one the new. */
        if (am_conv_count(c) != (st == AM_OK ? 2u : 3u))
            st = AM_EFORMAT;
    }
    if (st == AM_OK)
        st = am_conv_to_json(c, AM_FORMAT_ANTHROPIC, 0, &b);
    am_buf_free(&b);
    am_conv_free(c);
    return st;
}

AM_TEST(conversation_survives_every_allocation_failure)
{
    CHECK(test_oom_sweep(oom_conv_body, NULL) > 5);
}

AM_TEST(failed_save_keeps_the_old_file_and_names_the_path)
{
    am_conv *c = new_conv(0, NULL, NULL), *d = new_conv(0, NULL, NULL);
    char *dir = test_tmpdir();
    char path[4096], bad[4200];

    snprintf(path, sizeof path, "%s/conv.json", dir);
    CHECK_OK(am_conv_add_text(c, AM_ROLE_USER, AM_STR("v1")));
    CHECK_OK(am_conv_save(c, path, AM_FORMAT_AGENTMEM));
    /* Not expressible in Anthropic: the file is left alone. */
    {
        am_msg *m = NULL;
        am_error err = { AM_OK, "" };
        CHECK_OK(am_msg_create_text(NULL, AM_ROLE_TOOL, AM_STR("r"), &m,
                                    &err));
        CHECK_OK(am_msg_set_tool_call_id(m, AM_STR("nope"), &err));
        CHECK_OK(am_conv_add(c, m));
        am_msg_free(m);
    }
    CHECK_ST(am_conv_save(c, path, AM_FORMAT_ANTHROPIC), AM_EINVAL);
    CHECK_CONTAINS(am_conv_last_error(c)->msg, "message 1");
    CHECK_OK(am_conv_load(d, path, AM_FORMAT_AGENTMEM));
    CHECK_EQ(am_conv_count(d), 1);
    snprintf(bad, sizeof bad, "%s/missing/dir/conv.json", dir);
    CHECK_ST(am_conv_save(c, bad, AM_FORMAT_AGENTMEM), AM_EIO);
    CHECK_CONTAINS(am_conv_last_error(c)->msg, "missing/dir");
    am_conv_free(c);
    am_conv_free(d);
    test_rmtree(dir);
    free(dir);
}

/* Every modifying call under the failing allocator, with a cap so that
 * adds drop old messages; one that answers AM_ENOMEM is made again (the
 * injected failure is spent) and must then work. The conversation at the
 * end must be that of a run where nothing failed. */
typedef struct conv_retry_ctx {
    am_msg *shared[3]; /* frozen, made once: same ids in every run */
    const char *path;  /* a file to save to and load from */
    am_buf want;
} conv_retry_ctx;

#define RETRY(call)                                                     \
    do {                                                                \
        if (st == AM_OK && (st = (call)) == AM_ENOMEM)                  \
            st = (call);                                                \
    } while (0)

/* As RETRY, and a call answering AM_ENOMEM must have left the
 * conversation as it was (its JSON, written with the default allocator). */
#define KEEP(call)                                                      \
    do {                                                                \
        if (st == AM_OK) {                                              \
            am_buf pre_ = AM_BUF_INIT, post_ = AM_BUF_INIT;             \
            st = am_conv_to_json(c, AM_FORMAT_AGENTMEM, 0, &pre_);      \
            if (st == AM_OK && (st = (call)) == AM_ENOMEM) {            \
                st = am_conv_to_json(c, AM_FORMAT_AGENTMEM, 0, &post_); \
                if (st == AM_OK &&                                      \
                    (pre_.len != post_.len ||                           \
                     memcmp(pre_.ptr, post_.ptr, pre_.len) != 0)) {     \
                    fprintf(stderr, "%s changed the conversation:\n%s\n" \
                            "--- before:\n%s\n", #call, post_.ptr,       \
                            pre_.ptr);                                  \
                    st = AM_EPROTO;                                     \
                }                                                       \
                if (st == AM_OK)                                        \
                    st = (call);                                        \
            }                                                           \
            am_buf_free(&pre_);                                         \
            am_buf_free(&post_);                                        \
        }                                                               \
    } while (0)

static am_status conv_retry_body(void *ctx, const am_allocator *alloc)
{
    conv_retry_ctx *rc = ctx;
    am_conv_opts o = am_conv_opts_default();
    am_conv *c = NULL;
    am_msg_list l = AM_MSG_LIST_INIT;
    am_buf b = AM_BUF_INIT;
    am_status st;
    const am_msg *const *sh = (const am_msg *const *)rc->shared;

    o.alloc = alloc;
    o.max_messages = 6;
    st = am_conv_create(&o, &c, NULL);
    if (st != AM_OK)
        return st;
    l.alloc = alloc;
    KEEP(am_conv_add_list(c, sh, 3));
    for (int i = 0; i < 3; i++)
        KEEP(am_conv_add(c, rc->shared[i]));
    KEEP(am_conv_from_json(c, AM_FORMAT_AGENTMEM, AM_STR(
        "[{\"id\":\"a\",\"role\":\"system\",\"created_ms\":1,\"content\":"
        "\"s\"},{\"id\":\"b\",\"role\":\"user\",\"created_ms\":2,"
        "\"content\":\"x\\ty\"},{\"id\":\"c\",\"role\":\"assistant\","
        "\"created_ms\":3,\"content\":\"z\"}]")));
    KEEP(am_conv_add_list(c, sh, 3));
    RETRY(am_conv_recent(c, 4, &l));
    RETRY(am_conv_by_role(c, AM_ROLE_USER, &l));
    KEEP(am_conv_replace(c, am_msg_list_items(&l), l.count));
    KEEP(am_conv_add(c, rc->shared[1]));
    if (rc->path != NULL) {
        RETRY(am_conv_save(c, rc->path, AM_FORMAT_AGENTMEM));
        KEEP(am_conv_add_list(c, sh, 3));
        KEEP(am_conv_load(c, rc->path, AM_FORMAT_AGENTMEM));
    }
    RETRY(am_conv_to_json(c, AM_FORMAT_AGENTMEM, 0, &b));
    if (st == AM_OK && rc->want.len == 0) {
        st = am_buf_append(&rc->want, b.ptr, b.len);
    } else if (st == AM_OK && (b.len != rc->want.len ||
                               memcmp(b.ptr, rc->want.ptr, b.len) != 0)) {
        fprintf(stderr, "after a failed call:\n%s\n--- want:\n%s\n", b.ptr,
                rc->want.ptr);
        st = AM_EPROTO;
    }
    am_buf_free(&b);
    am_msg_list_free(&l);
    am_conv_free(c);
    return st;
}

AM_TEST(conversation_failed_calls_change_nothing)
{
    char *dir = test_tmpdir(), path[512];
    conv_retry_ctx rc = { { NULL }, path, AM_BUF_INIT };
    am_msg_list l = AM_MSG_LIST_INIT;
    snprintf(path, sizeof path, "%s/conv.json", dir);
    CHECK_OK(am_msgs_from_json(NULL, AM_FORMAT_AGENTMEM, AM_STR(
        "[{\"id\":\"u1\",\"role\":\"user\",\"created_ms\":5,\"content\":"
        "\"one\"},{\"id\":\"a1\",\"role\":\"assistant\",\"created_ms\":6,"
        "\"content\":\"two\",\"tool_calls\":[{\"id\":\"t\",\"type\":"
        "\"function\",\"name\":\"f\",\"arguments\":\"{}\"}]},{\"id\":\"r1\","
        "\"role\":\"tool\",\"created_ms\":7,\"content\":\"three\","
        "\"tool_call_id\":\"t\"}]"), &l, NULL));
    for (int i = 0; i < 3; i++)
        rc.shared[i] = am_msg_ref(l.items[i]);
    am_msg_list_free(&l);
    CHECK_OK(conv_retry_body(&rc, NULL));
    CHECK(test_oom_sweep(conv_retry_body, &rc) > 10);
    am_buf_free(&rc.want);
    for (int i = 0; i < 3; i++)
        am_msg_free(rc.shared[i]);
    test_rmtree(dir);
    free(dir);
}

/* ---- conv.h promises not held elsewhere (audit, session 13) ---- */

/* Defaults as conv.h states them; am_conv_options hands back what create
 * was given, with the borrowed pointers as they were. */
AM_TEST(defaults_and_options_are_what_the_header_says)
{
    test_clock tc = { .now_ms = 7 };
    am_clock clk = test_clock_make(&tc);
    am_conv_opts d = am_conv_opts_default(), o, got;
    am_conv *c = NULL;
    am_error err = { AM_OK, "" };

    CHECK_EQ(d.max_messages, 0);
    CHECK_EQ(d.max_msg_bytes, AM_MSG_DEFAULT_MAX_BYTES);
    CHECK(d.alloc == NULL && d.clock == NULL && d.rng == NULL);
    /* NULL opts: the defaults. */
    CHECK_OK_E(am_conv_create(NULL, &c, &err), &err);
    got = am_conv_options(c);
    CHECK_EQ(got.max_messages, 0);
    CHECK_EQ(got.max_msg_bytes, AM_MSG_DEFAULT_MAX_BYTES);
    /* No failure yet: AM_OK and "". */
    CHECK_EQ(am_conv_last_error(c)->code, AM_OK);
    CHECK_STR_EQ(am_conv_last_error(c)->msg, "");
    am_conv_free(c);
    o = d;
    o.max_messages = 7;
    o.max_msg_bytes = 99;
    o.clock = &clk;
    CHECK_OK_E(am_conv_create(&o, &c, &err), &err);
    got = am_conv_options(c);
    CHECK_EQ(got.max_messages, 7);
    CHECK_EQ(got.max_msg_bytes, 99);
    CHECK(got.clock == &clk);
    am_conv_free(c);
    am_conv_free(NULL);
    CHECK_EQ(am_conv_count(NULL), 0);
    /* "No errors", so NULL is answered too: the defaults. */
    got = am_conv_options(NULL);
    CHECK_EQ(got.max_messages, 0);
    CHECK_EQ(got.max_msg_bytes, AM_MSG_DEFAULT_MAX_BYTES);
    CHECK(got.alloc == NULL && got.clock == NULL && got.rng == NULL);
}

/* The AM_EINVAL and AM_ELIMIT cases conv.h lists, each leaving the
 * conversation as it was. */
AM_TEST(conversation_refuses_what_the_header_says_and_changes_nothing)
{
    am_conv_opts o = am_conv_opts_default();
    am_conv *c = NULL;
    am_msg_list l = AM_MSG_LIST_INIT;
    am_buf b = AM_BUF_INIT;
    am_conv_stats s;
    am_error err = { AM_OK, "" };

    o.max_msg_bytes = 64;
    CHECK_OK_E(am_conv_create(&o, &c, &err), &err);
    CHECK_OK(am_conv_add_text(c, AM_ROLE_USER, AM_STR("kept")));
    /* add_text: a tool result needs a tool_call_id; a role out of range. */
    CHECK_ST(am_conv_add_text(c, AM_ROLE_TOOL, AM_STR("r")), AM_EINVAL);
    CHECK_ST(am_conv_add_text(c, (am_role)AM_ROLE_COUNT, AM_STR("r")),
             AM_EINVAL);
    /* A message over max_msg_bytes, by add_text and by from_json. */
    CHECK_ST(am_conv_add_text(c, AM_ROLE_USER, AM_STR(
        "0123456789012345678901234567890123456789012345678901234567890123"
        "4")), AM_ELIMIT);
    CHECK_ST(am_conv_from_json(c, AM_FORMAT_AGENTMEM, AM_STR(
        "[{\"id\":\"a\",\"role\":\"user\",\"created_ms\":1,\"content\":"
        "\"0123456789012345678901234567890123456789012345678901234567890"
        "1234\"}]")), AM_ELIMIT);
    CHECK_EQ(am_conv_count(c), 1);
    check_text(c, 0, "kept");
    /* by_role: a role out of range, `out` untouched. */
    CHECK_ST(am_conv_by_role(c, (am_role)AM_ROLE_COUNT, &l), AM_EINVAL);
    CHECK_EQ(l.count, 0);
    /* to_json and stats_get: NULL arguments. */
    CHECK_ST(am_conv_to_json(NULL, AM_FORMAT_AGENTMEM, 0, &b), AM_EINVAL);
    CHECK_ST(am_conv_to_json(c, AM_FORMAT_AGENTMEM, 0, NULL), AM_EINVAL);
    CHECK_ST(am_conv_stats_get(NULL, &s), AM_EINVAL);
    CHECK_ST(am_conv_stats_get(c, NULL), AM_EINVAL);
    CHECK_EQ(am_conv_count(c), 1);
    am_buf_free(&b);
    am_msg_list_free(&l);
    am_conv_free(c);
}

/* am_msgs_stats counts a plain list exactly as am_conv_stats_get counts
 * the conversation holding it; an empty list is all zeros. */
AM_TEST(msgs_stats_of_a_list_match_the_conversations)
{
    am_conv *c = new_conv(0, NULL, NULL);
    am_msg_list l = AM_MSG_LIST_INIT;
    am_conv_stats a, b;

    CHECK_OK(am_conv_from_json(c, AM_FORMAT_AGENTMEM, AM_STR(
        "[{\"id\":\"u\",\"role\":\"user\",\"created_ms\":1,\"content\":"
        "\"caf\\u00e9\"},{\"id\":\"a\",\"role\":\"assistant\","
        "\"created_ms\":2,\"content\":\"ok\",\"tool_calls\":[{\"id\":\"t\","
        "\"type\":\"function\",\"name\":\"f\",\"arguments\":\"{}\"},"
        "{\"id\":\"t2\",\"type\":\"function\",\"name\":\"g\","
        "\"arguments\":\"{}\"}]},{\"id\":\"r\",\"role\":\"tool\","
        "\"created_ms\":3,\"content\":\"done\",\"tool_call_id\":\"t\"}]")));
    CHECK_OK(am_conv_stats_get(c, &a));
    CHECK_OK(am_conv_all(c, &l));
    memset(&b, 0xAB, sizeof b);
    am_msgs_stats((const am_msg *const *)l.items, l.count, &b);
    CHECK_EQ(b.count, 3);
    CHECK_EQ(b.tool_calls, 2);
    CHECK_EQ(b.chars_by_role[AM_ROLE_USER], 4);
    /* The tool calls' "name(arguments)" count as text too. */
    CHECK(b.text_bytes > 5 + 2 + 4);
    CHECK(memcmp(&a, &b, sizeof a) == 0);
    memset(&b, 0xAB, sizeof b);
    am_msgs_stats(NULL, 0, &b);
    CHECK_EQ(b.count, 0);
    CHECK_EQ(b.bytes, 0);
    CHECK_EQ(b.by_role[AM_ROLE_USER], 0);
    am_msg_list_free(&l);
    am_conv_free(c);
}
