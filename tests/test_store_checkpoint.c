/* test_store_checkpoint.c -- manual_checkpoint and am_store_checkpoint:
 * with manual_checkpoint a commit no longer copies the write-ahead log
 * back (the slow put of the HTTP server's put tail), a checkpoint from
 * another handle copies it without blocking that handle's writes, and
 * nothing committed is lost either way. Always a SQLite file: the log is
 * SQLite's. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agentmem/store.h"
#include "harness.h"

/* 40 values of 1 MiB: about 10,300 log pages, past the default's
 * checkpoint at 8192. */
#define BIG_ITEMS 40
#define BIG_LEN ((size_t)1 << 20)

#define NS1(a) ((am_ns){ (const am_str[]){ AM_STR(a) }, 1 })

static am_store *open_at(const char *path, bool manual, bool read_only)
{
    am_store_opts o = am_store_opts_default();
    am_store *s = NULL;
    am_error err;
    o.manual_checkpoint = manual;
    o.read_only = read_only;
    CHECK_OK_E(am_store_open(path, &o, &s, &err), &err);
    return s;
}

/* A JSON string of BIG_LEN bytes: '"', then 'x'..., then '"'. */
static char *big_value(void)
{
    char *v = malloc(BIG_LEN);
    CHECK(v != NULL);
    memset(v, 'x', BIG_LEN);
    v[0] = '"';
    v[BIG_LEN - 1] = '"';
    return v;
}

static void put_big(am_store *s, const char *value, int i)
{
    char key[16], text[32];
    snprintf(key, sizeof key, "k%d", i);
    snprintf(text, sizeof text, "big item %d", i);
    am_item_in it = { .ns = NS1("big"), .key = am_str_c(key),
                      .value = { value, BIG_LEN }, .text = am_str_c(text) };
    CHECK_OK(am_store_put(s, &it));
}

/* Pages in the log after BIG_ITEMS big puts through a handle opened with
 * `manual`, as another handle's checkpoint reports them; then checks that
 * every item is there after a reopen. */
static size_t log_pages_after_big_puts(bool manual)
{
    char *dir = test_tmpdir(), path[512];
    char *v = big_value();
    size_t wal = 0, left = 1;
    snprintf(path, sizeof path, "%s/c.db", dir);
    am_store *w = open_at(path, manual, false);
    am_store *c = open_at(path, true, false);
    for (int i = 0; i < BIG_ITEMS; i++)
        put_big(w, v, i);
    CHECK_OK(am_store_checkpoint(c, &wal, &left));
    /* No reader holds a snapshot and nobody writes: all of it copied. */
    CHECK_EQ(left, 0);
    if (manual) {
        /* The next write starts the log over, so the log is small. */
        size_t wal2 = 0;
        put_big(w, v, BIG_ITEMS);
        CHECK_OK(am_store_checkpoint(c, &wal2, &left));
        CHECK(wal2 < 1000);
        CHECK_EQ(left, 0);
    }
    am_store_close(c);
    am_store_close(w);

    am_store *r = open_at(path, false, false);
    am_buf out = AM_BUF_INIT;
    CHECK_OK(am_store_check(r));
    for (int i = 0; i < BIG_ITEMS; i++) {
        char key[16];
        snprintf(key, sizeof key, "k%d", i);
        CHECK_OK(am_store_get(r, NS1("big"), am_str_c(key), &out));
        CHECK_EQ(out.len, BIG_LEN);
    }
    am_buf_free(&out);
    am_store_close(r);
    free(v);
    test_rmtree(dir);
    free(dir);
    return wal;
}

AM_TEST(manual_checkpoint_leaves_the_log_to_am_store_checkpoint)
{
    /* Default: the commit that passed 8192 pages copied the log back, and
     * the log started over, so fewer than 8192 pages are in it now. */
    size_t automatic = log_pages_after_big_puts(false);
    /* manual_checkpoint: no commit copied anything, every page is still
     * in the log until am_store_checkpoint. */
    size_t manual = log_pages_after_big_puts(true);
    CHECK(automatic < 8192);
    CHECK(manual > 9000);
}

typedef struct ckpt_job {
    am_store *s;
    volatile int stop;
    size_t done, busy;
    am_status st;      /* the first failure other than AM_EBUSY */
} ckpt_job;

/* AM_EBUSY is an answer, not a failure: the writer was starting the log
 * over at that moment, and the next call copies what this one could not. */
static void *checkpointer(void *arg)
{
    ckpt_job *j = arg;
    while (!j->stop && j->st == AM_OK) {
        size_t wal, left;
        am_status st = am_store_checkpoint(j->s, &wal, &left);
        if (st == AM_OK)
            j->done++;
        else if (st == AM_EBUSY)
            j->busy++;
        else
            j->st = st;
    }
    return NULL;
}

AM_TEST(checkpoints_on_another_handle_do_not_block_writes)
{
    char *dir = test_tmpdir(), path[512];
    snprintf(path, sizeof path, "%s/c.db", dir);
    am_store_opts o = am_store_opts_default();
    am_store *w = NULL;
    am_error err;
    o.manual_checkpoint = true;
    o.busy_timeout_ms = 0; /* a write that had to wait fails at once */
    CHECK_OK_E(am_store_open(path, &o, &w, &err), &err);
    ckpt_job j = { .s = open_at(path, true, false) };
    pthread_t t;
    CHECK_EQ(pthread_create(&t, NULL, checkpointer, &j), 0);
    for (int i = 0; i < 2000; i++) {
        char key[16], val[64];
        snprintf(key, sizeof key, "k%d", i);
        snprintf(val, sizeof val, "\"item %d with some words\"", i);
        am_item_in it = { .ns = NS1("w"), .key = am_str_c(key),
                          .value = am_str_c(val) };
        am_status st = am_store_put(w, &it);
        if (st != AM_OK)
            fprintf(stderr, "put %d: %s\n", i, am_store_last_error(w)->msg);
        CHECK_OK(st);
    }
    j.stop = 1;
    pthread_join(t, NULL);
    CHECK_OK(j.st);
    CHECK(j.done > 0);
    am_store_close(j.s);
    am_store_close(w);
    test_rmtree(dir);
    free(dir);
}

AM_TEST(checkpoint_refuses_bad_handles_and_has_nothing_to_do_in_memory)
{
    char *dir = test_tmpdir(), path[512];
    size_t wal = 7, left = 7;
    snprintf(path, sizeof path, "%s/c.db", dir);

    CHECK_ST(am_store_checkpoint(NULL, &wal, &left), AM_EINVAL);

    am_store *m = open_at(":memory:", true, false);
    CHECK_OK(am_store_checkpoint(m, &wal, &left));
    CHECK_EQ(wal, 0);
    CHECK_EQ(left, 0);
    CHECK_OK(am_store_checkpoint(m, NULL, NULL));
    am_store_close(m);

    am_store *w = open_at(path, false, false);
    CHECK_OK(am_store_put(w, &(am_item_in){ .ns = NS1("a"),
                                            .key = AM_STR("k"),
                                            .value = AM_STR("1") }));
    am_store *ro = open_at(path, false, true);
    CHECK_ST(am_store_checkpoint(ro, &wal, &left), AM_EINVAL);
    CHECK(strstr(am_store_last_error(ro)->msg, "read-only") != NULL);
    CHECK_EQ(wal, 0);
    am_store_close(ro);
    am_store_close(w);
    test_rmtree(dir);
    free(dir);
}
