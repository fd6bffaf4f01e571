/* test_convmgr.c -- the multi-agent manager: policies and the persistent
 * per-agent log with crash recovery. */
#include <stdlib.h>
#include <sys/stat.h>
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

static am_convmgr *open_mgr(const char *dir, am_retention def)
{
    am_convmgr_opts o = am_convmgr_opts_default();
    am_convmgr *m = NULL;
    am_error err = { AM_OK, "" };
    o.dir = dir;
    o.default_retention = def;
    o.no_sync = true; /* the file contents are what is tested here */
    CHECK_OK_E(am_convmgr_open(&o, &m, &err), &err);
    return m;
}

static am_conv *agent(am_convmgr *m, const char *name)
{
    am_conv *c = NULL;
    CHECK_OK_E(am_convmgr_get(m, am_str_c(name), &c),
               am_convmgr_last_error(m));
    return c;
}

static void check_last(am_conv *c, const char *want)
{
    am_msg *msg = NULL;
    CHECK_OK(am_conv_get(c, am_conv_count(c) - 1, &msg));
    CHECK_MEM_EQ(am_msg_content_text(msg).ptr, am_msg_content_text(msg).len,
                 want);
    am_msg_free(msg);
}

static char *log_file(const char *dir, const char *name)
{
    char *p = malloc(4096);
    snprintf(p, 4096, "%s/%s.amlog", dir, name);
    return p;
}

AM_TEST(get_creates_once_and_policies_clear_what_they_should)
{
    am_convmgr *m = open_mgr(NULL, AM_RETAIN_SESSION);
    am_conv *a = agent(m, "Analyzer"), *b;
    am_buf names = AM_BUF_INIT;
    size_t n = 0;

    CHECK(agent(m, "Analyzer") == a);
    CHECK(am_convmgr_has(m, AM_STR("Analyzer")));
    CHECK(!am_convmgr_has(m, AM_STR("Nobody")));
    CHECK_OK(am_convmgr_set_retention(m, AM_STR("Worker"),
                                      AM_RETAIN_SINGLE_RUN));
    b = agent(m, "Worker");
    CHECK_EQ(am_convmgr_retention(m, AM_STR("Worker")),
             AM_RETAIN_SINGLE_RUN);
    CHECK_OK(am_conv_add_text(a, AM_ROLE_USER, AM_STR("keep")));
    CHECK_OK(am_conv_add_text(b, AM_ROLE_USER, AM_STR("drop")));
    CHECK_OK(am_convmgr_end_run(m));
    CHECK_EQ(am_conv_count(a), 1);
    CHECK_EQ(am_conv_count(b), 0);
    CHECK_OK(am_convmgr_agents(m, &names, &n));
    CHECK_EQ(n, 2);
    CHECK_STR_EQ(names.ptr, "Analyzer");
    CHECK_STR_EQ(names.ptr + 9, "Worker");
    CHECK_OK(am_conv_add_text(b, AM_ROLE_USER, AM_STR("x")));
    CHECK_OK(am_convmgr_clear(m, AM_STR("Analyzer")));
    CHECK_EQ(am_conv_count(a), 0);
    CHECK_EQ(am_conv_count(b), 1);
    CHECK_OK(am_convmgr_clear_all(m));
    CHECK_EQ(am_conv_count(b), 0);
    CHECK_ST(am_convmgr_clear(m, AM_STR("Nobody")), AM_ENOTFOUND);
    CHECK_CONTAINS(am_convmgr_last_error(m)->msg, "Nobody");
    /* Persistent needs a directory; bad names are refused. */
    CHECK_ST(am_convmgr_set_retention(m, AM_STR("P"), AM_RETAIN_PERSISTENT),
             AM_EINVAL);
    CHECK_CONTAINS(am_convmgr_last_error(m)->msg, "directory");
    CHECK_ST(am_convmgr_get(m, AM_STR(""), &a), AM_EINVAL);
    am_buf_free(&names);
    am_convmgr_close(m);
}

AM_TEST(max_messages_per_agent_applies)
{
    am_convmgr_opts o = am_convmgr_opts_default();
    am_convmgr *m = NULL;
    am_conv *c;
    o.max_messages_per_agent = 2;
    CHECK_OK(am_convmgr_open(&o, &m, NULL));
    c = agent(m, "a");
    for (int i = 0; i < 5; i++)
        CHECK_OK(am_conv_add_text(c, AM_ROLE_USER, AM_STR("m")));
    CHECK_EQ(am_conv_count(c), 2);
    am_convmgr_close(m);
}

AM_TEST(persistent_agent_is_restored_on_next_open)
{
    char *dir = test_tmpdir();
    am_convmgr *m = open_mgr(dir, AM_RETAIN_SESSION);
    am_conv *c;
    am_msg *msg = NULL;
    am_error err = { AM_OK, "" };
    am_tool_call tc = { AM_STR("c1"), AM_STR("function"), AM_STR("f"),
                        AM_STR("{}"), AM_STR("") };

    CHECK_OK(am_convmgr_set_retention(m, AM_STR("Planner/Öne"),
                                      AM_RETAIN_PERSISTENT));
    c = agent(m, "Planner/Öne");
    CHECK_OK(am_conv_add_text(c, AM_ROLE_SYSTEM, AM_STR("sys")));
    CHECK_OK(am_conv_add_text(c, AM_ROLE_USER, AM_STR("one")));
    CHECK_OK(am_msg_create_text(NULL, AM_ROLE_ASSISTANT, AM_STR("calling"),
                                &msg, &err));
    CHECK_OK(am_msg_add_tool_call(msg, &tc, &err));
    CHECK_OK(am_conv_add(c, msg));
    am_msg_free(msg);
    CHECK_OK(am_conv_add_text(agent(m, "Session"), AM_ROLE_USER,
                              AM_STR("gone")));
    am_convmgr_close(m);

    m = open_mgr(dir, AM_RETAIN_SESSION);
    CHECK(am_convmgr_has(m, AM_STR("Planner/Öne")));
    CHECK(!am_convmgr_has(m, AM_STR("Session")));
    CHECK_EQ(am_convmgr_retention(m, AM_STR("Planner/Öne")),
             AM_RETAIN_PERSISTENT);
    c = agent(m, "Planner/Öne");
    CHECK_EQ(am_conv_count(c), 3);
    CHECK_OK(am_conv_get(c, 2, &msg));
    CHECK_EQ(am_msg_tool_call_count(msg), 1);
    am_msg_free(msg);
    /* Changes after a restore are logged too; clear is a change. */
    CHECK_OK(am_conv_clear(c));
    CHECK_OK(am_conv_add_text(c, AM_ROLE_USER, AM_STR("after clear")));
    am_convmgr_close(m);
    m = open_mgr(dir, AM_RETAIN_SESSION);
    c = agent(m, "Planner/Öne");
    CHECK_EQ(am_conv_count(c), 1);
    check_last(c, "after clear");
    /* Leaving persistence removes the log. */
    CHECK_OK(am_convmgr_set_retention(m, AM_STR("Planner/Öne"),
                                      AM_RETAIN_SESSION));
    am_convmgr_close(m);
    m = open_mgr(dir, AM_RETAIN_SESSION);
    CHECK(!am_convmgr_has(m, AM_STR("Planner/Öne")));
    am_convmgr_close(m);
    test_rmtree(dir);
    free(dir);
}

AM_TEST(appends_grow_the_log_without_rewriting_it)
{
    char *dir = test_tmpdir(), *path = log_file(dir, "A");
    am_convmgr *m = open_mgr(dir, AM_RETAIN_PERSISTENT);
    am_conv *c = agent(m, "A");
    struct stat s0, s1;

    CHECK_OK(am_conv_add_text(c, AM_ROLE_USER, AM_STR("first")));
    CHECK_EQ(stat(path, &s0), 0);
    for (int i = 0; i < 50; i++)
        CHECK_OK(am_conv_add_text(c, AM_ROLE_USER, AM_STR("more text")));
    CHECK_EQ(stat(path, &s1), 0);
    CHECK_EQ(s0.st_ino, s1.st_ino); /* same file: appended, not replaced */
    CHECK(s1.st_size > s0.st_size + 50 * 60);
    am_convmgr_close(m);
    free(path);
    test_rmtree(dir);
    free(dir);
}

AM_TEST(torn_last_record_is_dropped_and_history_kept)
{
    char *dir = test_tmpdir(), *path = log_file(dir, "A");
    am_convmgr *m = open_mgr(dir, AM_RETAIN_PERSISTENT);
    am_conv *c = agent(m, "A");
    struct stat st;
    off_t good;

    CHECK_OK(am_conv_add_text(c, AM_ROLE_USER, AM_STR("one")));
    CHECK_OK(am_conv_add_text(c, AM_ROLE_USER, AM_STR("two")));
    CHECK_EQ(stat(path, &st), 0);
    good = st.st_size;
    CHECK_OK(am_conv_add_text(c, AM_ROLE_USER, AM_STR("three")));
    am_convmgr_close(m);
    /* A crash in the middle of writing record "three". */
    CHECK_EQ(stat(path, &st), 0);
    CHECK_EQ(truncate(path, good + (st.st_size - good) / 2), 0);
    m = open_mgr(dir, AM_RETAIN_PERSISTENT);
    c = agent(m, "A");
    CHECK_EQ(am_conv_count(c), 2);
    check_last(c, "two");
    CHECK_EQ(stat(path, &st), 0);
    CHECK_EQ(st.st_size, good); /* truncated away */
    CHECK_OK(am_conv_add_text(c, AM_ROLE_USER, AM_STR("three again")));
    am_convmgr_close(m);
    m = open_mgr(dir, AM_RETAIN_PERSISTENT);
    c = agent(m, "A");
    CHECK_EQ(am_conv_count(c), 3);
    check_last(c, "three again");
    am_convmgr_close(m);
    free(path);
    test_rmtree(dir);
    free(dir);
}

static void flip_byte(const char *path, off_t at)
{
    FILE *fp = fopen(path, "r+b");
    int ch;
    CHECK(fp != NULL);
    fseeko(fp, at, SEEK_SET);
    ch = fgetc(fp);
    fseeko(fp, at, SEEK_SET);
    fputc(ch ^ 0x20, fp);
    fclose(fp);
}

AM_TEST(corrupt_last_record_is_dropped_but_damage_before_it_is_an_error)
{
    char *dir = test_tmpdir(), *path = log_file(dir, "A");
    am_convmgr *m = open_mgr(dir, AM_RETAIN_PERSISTENT);
    am_convmgr_opts o = am_convmgr_opts_default();
    am_conv *c = agent(m, "A");
    struct stat st;
    off_t mid, end;
    am_error err = { AM_OK, "" };

    CHECK_OK(am_conv_add_text(c, AM_ROLE_USER, AM_STR("one")));
    CHECK_EQ(stat(path, &st), 0);
    mid = st.st_size;
    CHECK_OK(am_conv_add_text(c, AM_ROLE_USER, AM_STR("two")));
    CHECK_EQ(stat(path, &st), 0);
    end = st.st_size;
    am_convmgr_close(m);
    /* A flipped bit in the last record's payload: dropped. */
    flip_byte(path, end - 5);
    m = open_mgr(dir, AM_RETAIN_PERSISTENT);
    c = agent(m, "A");
    CHECK_EQ(am_conv_count(c), 1);
    check_last(c, "one");
    CHECK_OK(am_conv_add_text(c, AM_ROLE_USER, AM_STR("two")));
    am_convmgr_close(m);
    /* A flipped bit in an earlier record: refuse, name the offset. */
    flip_byte(path, mid - 5);
    o.dir = dir;
    o.no_sync = true;
    CHECK_ST(am_convmgr_open(&o, &m, &err), AM_EFORMAT);
    CHECK_CONTAINS(err.msg, "corrupt record at byte");
    CHECK_CONTAINS(err.msg, "refusing");
    CHECK_EQ(stat(path, &st), 0);
    CHECK(st.st_size > mid); /* nothing was cut */
    free(path);
    test_rmtree(dir);
    free(dir);
}

/* Regression (fuzz_convlog): a log whose agent record names an agent that
 * am_convmgr_get would refuse (here "A\0\0", checksum valid) was restored,
 * after which the agent could not be reached and its log was orphaned. */
AM_TEST(a_log_with_an_unusable_agent_name_is_refused)
{
    static const unsigned char rec[] = { 0x03, 0x00, 0x00, 0x00, 0x1f, 0x8e,
                                         0x6e, 0x5e, 0x01, 'A',  0x00, 0x00 };
    char *dir = test_tmpdir(), *path = log_file(dir, "A");
    am_convmgr_opts o = am_convmgr_opts_default();
    am_convmgr *m = NULL;
    am_error err = { AM_OK, "" };
    FILE *fp = fopen(path, "wb");

    CHECK(fp != NULL);
    fwrite("AMCLOG1\n", 1, 8, fp);
    fwrite(rec, 1, sizeof rec, fp);
    fclose(fp);
    o.dir = dir;
    o.no_sync = true;
    CHECK_ST(am_convmgr_open(&o, &m, &err), AM_EFORMAT);
    CHECK(m == NULL);
    CHECK_CONTAINS(err.msg, "A.amlog");
    CHECK_CONTAINS(err.msg, "agent name in the record at byte 8 contains a "
                            "NUL byte");
    {
        struct stat st;
        CHECK_EQ(stat(path, &st), 0);
        CHECK_EQ(st.st_size, 8 + (off_t)sizeof rec); /* left as it was */
    }
    free(path);
    test_rmtree(dir);
    free(dir);
}

AM_TEST(compaction_keeps_the_contents)
{
    char *dir = test_tmpdir(), *path = log_file(dir, "A");
    am_convmgr_opts o = am_convmgr_opts_default();
    am_convmgr *m = NULL;
    am_conv *c;
    struct stat st;
    char text[600];

    o.dir = dir;
    o.no_sync = true;
    o.default_retention = AM_RETAIN_PERSISTENT;
    o.max_messages_per_agent = 10;
    CHECK_OK(am_convmgr_open(&o, &m, NULL));
    c = agent(m, "A");
    memset(text, 'x', sizeof text - 1);
    text[sizeof text - 1] = '\0';
    for (int i = 0; i < 3000; i++) {
        snprintf(text, 16, "msg %05d", i);
        text[9] = 'x';
        CHECK_OK(am_conv_add_text(c, AM_ROLE_USER, am_str_c(text)));
    }
    CHECK_EQ(stat(path, &st), 0);
    /* 3000 records of ~700 bytes would be 2 MB; compaction bounds it. */
    CHECK(st.st_size < 1200 * 1024);
    am_convmgr_close(m);
    CHECK_OK(am_convmgr_open(&o, &m, NULL));
    c = agent(m, "A");
    CHECK_EQ(am_conv_count(c), 10);
    {
        am_msg *msg = NULL;
        CHECK_OK(am_conv_get(c, 9, &msg));
        CHECK(memcmp(am_msg_content_text(msg).ptr, "msg 02999", 9) == 0);
        am_msg_free(msg);
    }
    am_convmgr_close(m);
    free(path);
    test_rmtree(dir);
    free(dir);
}

static am_status oom_mgr_body(void *ctx, const am_allocator *alloc)
{
    am_convmgr_opts o = am_convmgr_opts_default();
    am_convmgr *m = NULL;
    am_conv *c = NULL;
    am_status st;

    /* Every run starts from the same files: one log for agent "A" with
     * one message, so that restore is swept as well. */
    test_rmtree(ctx);
    {
        am_convmgr_opts p = am_convmgr_opts_default();
        p.dir = ctx;
        p.no_sync = true;
        p.default_retention = AM_RETAIN_PERSISTENT;
        if (am_convmgr_open(&p, &m, NULL) != AM_OK ||
            am_convmgr_get(m, AM_STR("A"), &c) != AM_OK ||
            am_conv_add_text(c, AM_ROLE_USER, AM_STR("before")) != AM_OK)
            return AM_EIO;
        am_convmgr_close(m);
        m = NULL;
    }
    o.dir = ctx;
    o.alloc = alloc;
    o.no_sync = true;
    o.default_retention = AM_RETAIN_PERSISTENT;
    st = am_convmgr_open(&o, &m, NULL);
    if (st == AM_OK)
        st = am_convmgr_get(m, AM_STR("A"), &c);
    if (st == AM_OK)
        st = am_convmgr_set_retention(m, AM_STR("B"), AM_RETAIN_SINGLE_RUN);
    for (int i = 0; st == AM_OK && i < 3; i++)
        st = am_conv_add_text(c, AM_ROLE_USER, AM_STR("hello"));
    if (st == AM_OK)
        st = am_convmgr_end_run(m);
    if (st == AM_OK)
        st = am_conv_clear(c);
    am_convmgr_close(m);
    return st;
}

AM_TEST(manager_survives_every_allocation_failure)
{
    char *dir = test_tmpdir();
    CHECK(test_oom_sweep(oom_mgr_body, dir) > 10);
    test_rmtree(dir);
    free(dir);
}

AM_TEST(replace_on_a_persistent_agent_is_logged)
{
    char *dir = test_tmpdir();
    am_convmgr *m = open_mgr(dir, AM_RETAIN_PERSISTENT);
    am_conv *c = agent(m, "ctx");
    am_msg_list l = AM_MSG_LIST_INIT;

    for (int i = 0; i < 5; i++)
        CHECK_OK(am_conv_add_text(c, i ? AM_ROLE_USER : AM_ROLE_SYSTEM,
                                  AM_STR("turn")));
    CHECK_OK(am_conv_add_text(c, AM_ROLE_ASSISTANT, AM_STR("latest")));
    /* A context manager keeps the system message and the last turn. */
    CHECK_OK(am_conv_by_role(c, AM_ROLE_SYSTEM, &l));
    CHECK_OK(am_conv_recent(c, 1, &l));
    CHECK_OK(am_conv_replace(c, (const am_msg *const *)l.items, l.count));
    CHECK_EQ(am_conv_count(c), 2);
    am_msg_list_free(&l);
    am_convmgr_close(m);
    m = open_mgr(dir, AM_RETAIN_PERSISTENT);
    c = agent(m, "ctx");
    CHECK_EQ(am_conv_count(c), 2);
    check_last(c, "latest");
    am_convmgr_close(m);
    test_rmtree(dir);
    free(dir);
}

AM_TEST(a_second_manager_on_the_same_logs_is_refused)
{
    char *dir = test_tmpdir();
    am_convmgr *m = open_mgr(dir, AM_RETAIN_PERSISTENT), *m2 = NULL;
    am_convmgr_opts o = am_convmgr_opts_default();
    am_error err = { AM_OK, "" };

    CHECK_OK(am_conv_add_text(agent(m, "A"), AM_ROLE_USER, AM_STR("x")));
    o.dir = dir;
    o.no_sync = true;
    CHECK_ST(am_convmgr_open(&o, &m2, &err), AM_EBUSY);
    CHECK_CONTAINS(err.msg, "in use");
    CHECK(m2 == NULL);
    am_convmgr_close(m);
    CHECK_OK(am_convmgr_open(&o, &m2, &err));
    CHECK_EQ(am_conv_count(agent(m2, "A")), 1);
    am_convmgr_close(m2);
    test_rmtree(dir);
    free(dir);
}

AM_TEST(a_crash_at_any_byte_of_the_last_record_keeps_the_rest)
{
    char *dir = test_tmpdir(), *path = log_file(dir, "A");
    am_convmgr *m = open_mgr(dir, AM_RETAIN_PERSISTENT);
    am_conv *c = agent(m, "A");
    struct stat st;
    off_t good, full;
    am_buf copy = AM_BUF_INIT;
    FILE *fp;

    CHECK_OK(am_conv_add_text(c, AM_ROLE_USER, AM_STR("one")));
    CHECK_EQ(stat(path, &st), 0);
    good = st.st_size;
    CHECK_OK(am_conv_add_text(c, AM_ROLE_USER, AM_STR("two")));
    am_convmgr_close(m);
    CHECK_EQ(stat(path, &st), 0);
    full = st.st_size;
    fp = fopen(path, "rb");
    CHECK_OK(am_buf_reserve(&copy, (size_t)full));
    CHECK_EQ(fread(copy.ptr, 1, (size_t)full, fp), (size_t)full);
    fclose(fp);
    /* Every cut inside the last record: header or payload. */
    for (off_t cut = good + 1; cut < full; cut++) {
        fp = fopen(path, "wb");
        fwrite(copy.ptr, 1, (size_t)cut, fp);
        fclose(fp);
        m = open_mgr(dir, AM_RETAIN_PERSISTENT);
        c = agent(m, "A");
        CHECK_EQ(am_conv_count(c), 1);
        check_last(c, "one");
        am_convmgr_close(m);
        CHECK_EQ(stat(path, &st), 0);
        CHECK_EQ(st.st_size, good);
    }
    am_buf_free(&copy);
    free(path);
    test_rmtree(dir);
    free(dir);
}

/* A persistent agent's log and its conversation stay in step when calls
 * fail: every modifying call runs under the failing allocator, one that
 * answers AM_ENOMEM is made again (the injected failure is spent) and must
 * then work. Reopening the logs (default allocator) must then give the
 * conversation of a run where nothing failed, and so must the handle. */
typedef struct mgr_retry_ctx {
    const char *dir;
    am_msg *shared[4]; /* frozen, fixed ids */
    am_buf want;
} mgr_retry_ctx;

#define RETRY(call)                                                     \
    do {                                                                \
        if (st == AM_OK && (st = (call)) == AM_ENOMEM)                  \
            st = (call);                                                \
    } while (0)

static am_status mgr_dump(am_convmgr *m, am_buf *out)
{
    am_conv *c = NULL;
    am_buf b = AM_BUF_INIT;
    am_status st = am_convmgr_get(m, AM_STR("P"), &c);
    if (st == AM_OK)
        st = am_conv_to_json(c, AM_FORMAT_AGENTMEM, 0, &b);
    if (st == AM_OK)
        st = am_buf_append(out, b.ptr, b.len);
    am_buf_free(&b);
    return st;
}

static am_status mgr_retry_body(void *ctx, const am_allocator *alloc)
{
    mgr_retry_ctx *rc = ctx;
    am_convmgr_opts o = am_convmgr_opts_default();
    am_convmgr *m = NULL;
    am_conv *c = NULL;
    am_buf fp = AM_BUF_INIT;
    const am_msg *const *sh = (const am_msg *const *)rc->shared;
    am_status st;

    test_rmtree(rc->dir);
    o.dir = rc->dir;
    o.alloc = alloc;
    o.no_sync = true;
    o.max_messages_per_agent = 5;
    st = am_convmgr_open(&o, &m, NULL);
    if (st != AM_OK)
        return st;
    RETRY(am_convmgr_get(m, AM_STR("P"), &c));
    RETRY(am_conv_add_list(c, sh, 2));
    /* A failed switch to PERSISTENT keeps the old policy (a retry would
     * hide a half-done switch). */
    if (st == AM_OK && (st = am_convmgr_set_retention(
                            m, AM_STR("P"), AM_RETAIN_PERSISTENT)) ==
                           AM_ENOMEM) {
        if (am_convmgr_retention(m, AM_STR("P")) != AM_RETAIN_SESSION) {
            fprintf(stderr, "a failed set_retention changed the policy\n");
            st = AM_EPROTO;
        } else {
            st = am_convmgr_set_retention(m, AM_STR("P"),
                                          AM_RETAIN_PERSISTENT);
        }
    }
    for (int i = 0; i < 4; i++)
        RETRY(am_conv_add(c, rc->shared[i]));
    RETRY(am_conv_replace(c, sh + 1, 3));
    RETRY(am_conv_add_list(c, sh, 4));
    RETRY(am_convmgr_set_retention(m, AM_STR("Q"), AM_RETAIN_PERSISTENT));
    RETRY(am_convmgr_clear(m, AM_STR("Q")));
    if (st == AM_OK)
        st = mgr_dump(m, &fp);
    am_convmgr_close(m);
    m = NULL;
    if (st == AM_OK) {
        o.alloc = NULL;
        st = am_convmgr_open(&o, &m, NULL);
        if (st == AM_OK)
            st = am_buf_append(&fp, "\n--- reopened\n", 14);
        if (st == AM_OK)
            st = mgr_dump(m, &fp);
        am_convmgr_close(m);
    }
    if (st == AM_OK && rc->want.len == 0) {
        st = am_buf_append(&rc->want, fp.ptr, fp.len);
    } else if (st == AM_OK && (fp.len != rc->want.len ||
                               memcmp(fp.ptr, rc->want.ptr, fp.len) != 0)) {
        fprintf(stderr, "after a failed call:\n%s\n--- want:\n%s\n", fp.ptr,
                rc->want.ptr);
        st = AM_EPROTO;
    }
    am_buf_free(&fp);
    return st;
}

AM_TEST(persistent_log_and_memory_agree_after_failed_calls)
{
    char *dir = test_tmpdir();
    mgr_retry_ctx rc = { dir, { NULL }, AM_BUF_INIT };
    am_msg_list l = AM_MSG_LIST_INIT;
    CHECK_OK(am_msgs_from_json(NULL, AM_FORMAT_AGENTMEM, AM_STR(
        "[{\"id\":\"s\",\"role\":\"system\",\"created_ms\":4,\"content\":"
        "\"sys\"},{\"id\":\"u1\",\"role\":\"user\",\"created_ms\":5,"
        "\"content\":\"one\"},{\"id\":\"a1\",\"role\":\"assistant\","
        "\"created_ms\":6,\"content\":\"two\"},{\"id\":\"u2\",\"role\":"
        "\"user\",\"created_ms\":7,\"content\":\"three\"}]"), &l, NULL));
    for (int i = 0; i < 4; i++)
        rc.shared[i] = am_msg_ref(l.items[i]);
    am_msg_list_free(&l);
    CHECK_OK(mgr_retry_body(&rc, NULL));
    CHECK(strstr(rc.want.ptr, "reopened") != NULL);
    CHECK(test_oom_sweep(mgr_retry_body, &rc) > 10);
    am_buf_free(&rc.want);
    for (int i = 0; i < 4; i++)
        am_msg_free(rc.shared[i]);
    test_rmtree(dir);
    free(dir);
}

/* Listing the agents into a buffer that runs out of memory answers
 * AM_ENOMEM with the buffer and the count as they were, or every name. */
AM_TEST(agents_listing_is_all_or_nothing)
{
    am_convmgr *m = open_mgr(NULL, AM_RETAIN_SESSION);
    char name[160];

    for (int i = 0; i < 3; i++) {
        memset(name, 'a' + i, 150); /* each name makes the buffer grow */
        name[150] = '\0';
        (void)agent(m, name);
    }
    for (long n = 1; n <= 6; n++) {
        test_alloc ta = { .fail_at = n };
        am_allocator a = test_alloc_make(&ta);
        am_buf names = AM_BUF_INIT;
        size_t count = 99;
        am_status st;
        names.alloc = &a;
        st = am_convmgr_agents(m, &names, &count);
        if (st == AM_OK) {
            CHECK_EQ(count, 3);
            CHECK_EQ(names.len, 3 * 151);
        } else {
            CHECK_EQ(st, AM_ENOMEM);
            CHECK_EQ(names.len, 0);
            CHECK_EQ(count, 99);
        }
        am_buf_free(&names);
    }
    am_convmgr_close(m);
}

/* The persistent log builds its records with the manager's allocator
 * (it used malloc, out of reach of a user allocator and of the sweep
 * above): while a 64 KiB message is appended, the allocator holds the
 * message and its record at once. */
AM_TEST(the_log_writes_with_the_managers_allocator)
{
    char *dir = test_tmpdir();
    test_alloc ta = { 0 };
    am_allocator a = test_alloc_make(&ta);
    am_convmgr_opts o = am_convmgr_opts_default();
    am_convmgr *m = NULL;
    am_conv *c = NULL;
    static char big[65536];
    size_t before;

    memset(big, 'x', sizeof big);
    o.dir = dir;
    o.alloc = &a;
    o.no_sync = true;
    o.default_retention = AM_RETAIN_PERSISTENT;
    CHECK_OK(am_convmgr_open(&o, &m, NULL));
    CHECK_OK(am_convmgr_get(m, AM_STR("A"), &c));
    before = ta.live;
    ta.peak = ta.live;
    CHECK_OK(am_conv_add_text(c, AM_ROLE_USER,
                              (am_str){ big, sizeof big }));
    CHECK(ta.peak >= before + 2 * sizeof big);
    am_convmgr_close(m);
    CHECK_EQ(ta.live_blocks, 0);
    test_rmtree(dir);
    free(dir);
}

/* ---- conv.h manager promises not held elsewhere (audit, session 13) -- */

/* Defaults as conv.h states them, and the refusals it lists. */
AM_TEST(manager_defaults_and_refusals_are_what_the_header_says)
{
    am_convmgr_opts d = am_convmgr_opts_default();
    am_convmgr *m = NULL;
    am_conv *c = NULL;
    am_buf names = AM_BUF_INIT;
    size_t n = 99;
    am_error err = { AM_OK, "" };

    CHECK_EQ(d.default_retention, AM_RETAIN_SESSION);
    CHECK_EQ(d.max_messages_per_agent, 1000);
    CHECK_EQ(d.max_msg_bytes, AM_MSG_DEFAULT_MAX_BYTES);
    CHECK(d.dir == NULL);
    CHECK(!d.no_sync);
    CHECK_ST(am_convmgr_open(&d, NULL, &err), AM_EINVAL);
    /* NULL opts: the defaults, which reach each agent's conversation. */
    CHECK_OK_E(am_convmgr_open(NULL, &m, &err), &err);
    CHECK_OK(am_convmgr_get(m, AM_STR("a"), &c));
    CHECK_EQ(am_conv_options(c).max_messages, 1000);
    CHECK_EQ(am_conv_options(c).max_msg_bytes, AM_MSG_DEFAULT_MAX_BYTES);
    CHECK_EQ(am_convmgr_retention(m, AM_STR("a")), AM_RETAIN_SESSION);
    CHECK_EQ(am_convmgr_retention(m, AM_STR("unknown")), AM_RETAIN_SESSION);
    /* Names: empty or invalid UTF-8. */
    c = NULL;
    CHECK_ST(am_convmgr_get(m, AM_STR(""), &c), AM_EINVAL);
    CHECK_ST(am_convmgr_get(m, (am_str){ "a\xFF", 2 }, &c), AM_EINVAL);
    CHECK(c == NULL);
    /* PERSISTENT needs a directory. */
    CHECK_ST(am_convmgr_set_retention(m, AM_STR("a"), AM_RETAIN_PERSISTENT),
             AM_EINVAL);
    CHECK_EQ(am_convmgr_retention(m, AM_STR("a")), AM_RETAIN_SESSION);
    CHECK_ST(am_convmgr_end_run(NULL), AM_EINVAL);
    /* agents: NULL mgr or out; a NULL count is allowed. */
    CHECK_ST(am_convmgr_agents(NULL, &names, &n), AM_EINVAL);
    CHECK_ST(am_convmgr_agents(m, NULL, &n), AM_EINVAL);
    CHECK_EQ(n, 99);
    CHECK_OK(am_convmgr_agents(m, &names, NULL));
    CHECK_EQ(names.len, 2);
    CHECK_MEM_EQ(names.ptr, 1, "a");
    am_buf_free(&names);
    am_convmgr_close(m);
    am_convmgr_close(NULL);
}

/* Becoming PERSISTENT logs the messages the agent already had; a
 * directory that cannot be made is AM_EIO with *out NULL. */
AM_TEST(becoming_persistent_logs_the_existing_messages)
{
    char *dir = test_tmpdir(), bad[600];
    am_convmgr *m = open_mgr(dir, AM_RETAIN_SESSION), *m2 = NULL;
    am_convmgr_opts o = am_convmgr_opts_default();
    am_conv *c = agent(m, "late");
    am_error err = { AM_OK, "" };
    FILE *fp;

    CHECK_OK(am_conv_add_text(c, AM_ROLE_USER, AM_STR("before")));
    CHECK_OK(am_conv_add_text(c, AM_ROLE_ASSISTANT, AM_STR("also before")));
    CHECK_OK(am_convmgr_set_retention(m, AM_STR("late"),
                                      AM_RETAIN_PERSISTENT));
    CHECK_OK(am_conv_add_text(c, AM_ROLE_USER, AM_STR("after")));
    am_convmgr_close(m);
    m = open_mgr(dir, AM_RETAIN_SESSION);
    c = agent(m, "late");
    CHECK_EQ(am_conv_count(c), 3);
    check_last(c, "after");
    am_convmgr_close(m);

    snprintf(bad, sizeof bad, "%s/file", dir);
    fp = fopen(bad, "w");
    CHECK(fp != NULL);
    fclose(fp);
    snprintf(bad, sizeof bad, "%s/file/logs", dir);
    o.dir = bad;
    m2 = (am_convmgr *)&m2;
    CHECK_ST(am_convmgr_open(&o, &m2, &err), AM_EIO);
    CHECK(m2 == NULL);
    test_rmtree(dir);
    free(dir);
}
