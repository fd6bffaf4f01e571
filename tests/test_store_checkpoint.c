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

#include <sqlite3.h>
#include <stdint.h>

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
    am_error err = { AM_OK, "" };
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

/* The writer's puts meet the checkpointer's lock only for an instant, if
 * at all. A PASSIVE checkpoint holds no lock a commit needs while it
 * copies; it takes the writer's lock only when it read the log's index
 * header while a commit was rewriting it, to read the header again under
 * that lock (SQLite's walIndexReadHdr), for microseconds. With
 * busy_timeout_ms 0 a put that meets that instant fails with AM_EBUSY
 * (one run in 27 did, 2026-12-07), so such puts are counted and retried:
 * a checkpoint that holds the lock while it copies (FULL mode, tried)
 * keeps the first put busy through all its 1,000 tries. */
AM_TEST(checkpoints_on_another_handle_do_not_block_writes)
{
    char *dir = test_tmpdir(), path[512];
    snprintf(path, sizeof path, "%s/c.db", dir);
    am_store_opts o = am_store_opts_default();
    am_store *w = NULL;
    am_error err = { AM_OK, "" };
    size_t busy = 0;
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
        for (int again = 0; st == AM_EBUSY && again < 1000; again++) {
            busy++;
            st = am_store_put(w, &it);
        }
        if (st != AM_OK)
            fprintf(stderr, "put %d: %s\n", i, am_store_last_error(w)->msg);
        CHECK_OK(st);
    }
    j.stop = 1;
    pthread_join(t, NULL);
    CHECK_OK(j.st);
    CHECK(j.done > 0);
    if (busy > 20)
        fprintf(stderr, "%zu busy puts\n", busy);
    CHECK(busy <= 20);   /* 1% of the puts */
    am_store_close(j.s);
    am_store_close(w);
    test_rmtree(dir);
    free(dir);
}

/* ---- Syncs of the database file ---- */

/* A VFS over the default one that counts xSync calls on files whose name
 * ends in ".db" (the database file, not its "-wal" log). */
typedef struct cnt_file {
    sqlite3_file base;
    sqlite3_file *real;   /* the default VFS's file, allocated after us */
    bool is_db;
} cnt_file;

static sqlite3_vfs *real_vfs;
static int db_syncs;

#define REAL(f) (((cnt_file *)(f))->real)
static int c_close(sqlite3_file *f)
{
    int rc = REAL(f)->pMethods->xClose(REAL(f));
    return rc;
}
static int c_read(sqlite3_file *f, void *b, int n, sqlite3_int64 o)
{ return REAL(f)->pMethods->xRead(REAL(f), b, n, o); }
static int c_write(sqlite3_file *f, const void *b, int n, sqlite3_int64 o)
{ return REAL(f)->pMethods->xWrite(REAL(f), b, n, o); }
static int c_truncate(sqlite3_file *f, sqlite3_int64 n)
{ return REAL(f)->pMethods->xTruncate(REAL(f), n); }
static int c_sync(sqlite3_file *f, int flags)
{
    if (((cnt_file *)f)->is_db)
        __atomic_add_fetch(&db_syncs, 1, __ATOMIC_SEQ_CST);
    return REAL(f)->pMethods->xSync(REAL(f), flags);
}
static int c_size(sqlite3_file *f, sqlite3_int64 *n)
{ return REAL(f)->pMethods->xFileSize(REAL(f), n); }
static int c_lock(sqlite3_file *f, int l)
{ return REAL(f)->pMethods->xLock(REAL(f), l); }
static int c_unlock(sqlite3_file *f, int l)
{ return REAL(f)->pMethods->xUnlock(REAL(f), l); }
static int c_reserved(sqlite3_file *f, int *out)
{ return REAL(f)->pMethods->xCheckReservedLock(REAL(f), out); }
static int c_fcntl(sqlite3_file *f, int op, void *arg)
{ return REAL(f)->pMethods->xFileControl(REAL(f), op, arg); }
static int c_sector(sqlite3_file *f)
{ return REAL(f)->pMethods->xSectorSize(REAL(f)); }
static int c_devchar(sqlite3_file *f)
{ return REAL(f)->pMethods->xDeviceCharacteristics(REAL(f)); }
static int c_shmmap(sqlite3_file *f, int i, int sz, int ext, void volatile **p)
{ return REAL(f)->pMethods->xShmMap(REAL(f), i, sz, ext, p); }
static int c_shmlock(sqlite3_file *f, int off, int n, int flags)
{ return REAL(f)->pMethods->xShmLock(REAL(f), off, n, flags); }
static void c_shmbarrier(sqlite3_file *f)
{ REAL(f)->pMethods->xShmBarrier(REAL(f)); }
static int c_shmunmap(sqlite3_file *f, int del)
{ return REAL(f)->pMethods->xShmUnmap(REAL(f), del); }
static int c_fetch(sqlite3_file *f, sqlite3_int64 o, int n, void **p)
{ return REAL(f)->pMethods->xFetch(REAL(f), o, n, p); }
static int c_unfetch(sqlite3_file *f, sqlite3_int64 o, void *p)
{ return REAL(f)->pMethods->xUnfetch(REAL(f), o, p); }

static const sqlite3_io_methods cnt_io = {
    3, c_close, c_read, c_write, c_truncate, c_sync, c_size, c_lock,
    c_unlock, c_reserved, c_fcntl, c_sector, c_devchar, c_shmmap,
    c_shmlock, c_shmbarrier, c_shmunmap, c_fetch, c_unfetch,
};

static int c_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *f,
                  int flags, int *out_flags)
{
    cnt_file *c = (cnt_file *)f;
    size_t n = name != NULL ? strlen(name) : 0;
    (void)vfs;
    c->real = (sqlite3_file *)(c + 1);
    c->is_db = n > 3 && strcmp(name + n - 3, ".db") == 0;
    int rc = real_vfs->xOpen(real_vfs, name, c->real, flags, out_flags);
    c->base.pMethods = c->real->pMethods != NULL ? &cnt_io : NULL;
    return rc;
}

/* A checkpoint that copies only part of the log (a reader's snapshot
 * holds the rest back) leaves the copied pages unsynced in SQLite;
 * am_store_checkpoint syncs them, so that the writer's own checkpoint,
 * which copies the log to its end and syncs, finds little to write back
 * (see sync_db_file in store_sqlite_retention.c). A second call with
 * nothing new copied does not sync again. */
AM_TEST(a_partial_checkpoint_syncs_the_pages_it_copied)
{
    char *dir = test_tmpdir(), path[512];
    sqlite3_vfs cnt;
    sqlite3 *reader = NULL;
    sqlite3_stmt *q = NULL;
    size_t wal = 0, left = 0;

    snprintf(path, sizeof path, "%s/c.db", dir);
    real_vfs = sqlite3_vfs_find(NULL);
    CHECK(real_vfs != NULL);
    cnt = *real_vfs;
    cnt.zName = "am-count-syncs";
    cnt.szOsFile = (int)sizeof(cnt_file) + real_vfs->szOsFile;
    cnt.xOpen = c_open;
    cnt.pNext = NULL;
    CHECK_EQ(sqlite3_vfs_register(&cnt, 1), SQLITE_OK);

    am_store *w = open_at(path, true, false);
    am_store *c = open_at(path, true, false);
    for (int i = 0; i < 20; i++) {
        char key[16];
        snprintf(key, sizeof key, "a%d", i);
        CHECK_OK(am_store_put(w, &(am_item_in){ .ns = NS1("s"),
                                                .key = am_str_c(key),
                                                .value = AM_STR("1") }));
    }
    /* A reader's snapshot holds the checkpoint at the log's end so far. */
    CHECK_EQ(sqlite3_open_v2(path, &reader, SQLITE_OPEN_READONLY, NULL),
             SQLITE_OK);
    CHECK_EQ(sqlite3_exec(reader, "BEGIN", NULL, NULL, NULL), SQLITE_OK);
    CHECK_EQ(sqlite3_prepare_v2(reader, "SELECT count(*) FROM items", -1,
                                &q, NULL), SQLITE_OK);
    CHECK_EQ(sqlite3_step(q), SQLITE_ROW);
    for (int i = 0; i < 20; i++) {
        char key[16];
        snprintf(key, sizeof key, "b%d", i);
        CHECK_OK(am_store_put(w, &(am_item_in){ .ns = NS1("s"),
                                                .key = am_str_c(key),
                                                .value = AM_STR("2") }));
    }
    __atomic_store_n(&db_syncs, 0, __ATOMIC_SEQ_CST);
    CHECK_OK(am_store_checkpoint(c, &wal, &left));
    CHECK(left > 0 && left < wal);  /* copied part of the log */
    CHECK_EQ(__atomic_load_n(&db_syncs, __ATOMIC_SEQ_CST), 1);
    CHECK_OK(am_store_checkpoint(c, &wal, &left));
    CHECK_EQ(__atomic_load_n(&db_syncs, __ATOMIC_SEQ_CST), 1);

    sqlite3_finalize(q);
    sqlite3_close(reader);
    /* Nothing holds the log back now: SQLite copies it all and syncs. */
    CHECK_OK(am_store_checkpoint(c, &wal, &left));
    CHECK_EQ(left, 0);
    CHECK_EQ(__atomic_load_n(&db_syncs, __ATOMIC_SEQ_CST), 2);
    am_store_close(c);
    am_store_close(w);
    CHECK_EQ(sqlite3_vfs_unregister(&cnt), SQLITE_OK);
    CHECK_EQ(sqlite3_vfs_register(real_vfs, 1), SQLITE_OK);
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

/* ---- The full-text index's merging ---- */

/* SQLite's varint (FTS5 writes its structure record with it). */
static size_t get_varint(const unsigned char *p, size_t len, uint64_t *v)
{
    size_t i = 0;
    *v = 0;
    while (i < len && i < 8) {
        *v = (*v << 7) | (p[i] & 0x7f);
        if ((p[i++] & 0x80) == 0)
            return i;
    }
    if (i < len) {
        *v = (*v << 8) | p[i];
        return i + 1;
    }
    return 0;
}

/* The most segments on one level of the store's full-text index, from
 * FTS5's structure record (row 10 of items_fts_data): a 4-byte cookie,
 * then varints nLevel, nSegment, the write counter, and per level the
 * segments in its ongoing merge, its segment count and three varints per
 * segment. (A contentless-delete table writes a longer format, marked
 * after the cookie; ours is an external-content table.) Also the
 * index's automerge setting. */
static uint64_t fts_widest_level(const char *path, char automerge[16])
{
    sqlite3 *db = NULL;
    sqlite3_stmt *q = NULL;
    uint64_t v, levels, widest = 0;
    size_t i = 4, n;
    CHECK_EQ(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL),
             SQLITE_OK);
    CHECK_EQ(sqlite3_prepare_v2(db, "SELECT block FROM items_fts_data"
                                    " WHERE id = 10", -1, &q, NULL),
             SQLITE_OK);
    CHECK_EQ(sqlite3_step(q), SQLITE_ROW);
    const unsigned char *p = sqlite3_column_blob(q, 0);
    size_t len = (size_t)sqlite3_column_bytes(q, 0);
    CHECK(len > 8);
    CHECK(!(p[4] == 0xff && p[5] == 0 && p[6] == 0 && p[7] == 0));
#define NEXT(out) do { n = get_varint(p + i, len - i, &(out)); \
                       CHECK(n > 0); i += n; } while (0)
    NEXT(levels);
    NEXT(v);                         /* segments */
    NEXT(v);                         /* write counter */
    CHECK(levels > 0);
    for (uint64_t l = 0; l < levels; l++) {
        uint64_t segs;
        NEXT(v);                     /* in the ongoing merge */
        NEXT(segs);
        if (segs > widest)
            widest = segs;
        for (uint64_t k = 0; k < 3 * segs; k++)
            NEXT(v);
    }
#undef NEXT
    CHECK_EQ(i, len);
    sqlite3_finalize(q);
    CHECK_EQ(sqlite3_prepare_v2(db, "SELECT v FROM items_fts_config"
                                    " WHERE k = 'automerge'", -1, &q, NULL),
             SQLITE_OK);
    automerge[0] = '\0';
    if (sqlite3_step(q) == SQLITE_ROW)
        snprintf(automerge, 16, "%s", (const char *)sqlite3_column_text(q, 0));
    sqlite3_finalize(q);
    sqlite3_close(db);
    return widest;
}

/* `commits` puts, one per transaction as the HTTP server's smallest
 * batches (each commit adds a segment to the full-text index), of texts
 * of about `words` words; then the widest level of the index. */
static uint64_t widest_after_puts(int commits, int words, const char *path)
{
    static const char *const vocab[] = { "apple", "river", "garden",
                                         "python", "coffee", "music" };
    char automerge[16];
    am_buf text = AM_BUF_INIT;
    am_store *w = open_at(path, true, false);
    for (int i = 0; i < commits; i++) {
        char key[16];
        snprintf(key, sizeof key, "k%d", i);
        am_buf_clear(&text);
        for (int k = 0; k < words; k++)
            CHECK_OK(am_buf_appendf(&text, "%s%s %d", k > 0 ? " " : "",
                                    vocab[(i + k) % 6], i * words + k));
        am_item_in it = { .ns = NS1("m"), .key = am_str_c(key),
                          .value = AM_STR("1"),
                          .text = { text.ptr, text.len } };
        CHECK_OK(am_store_put(w, &it));
    }
    am_buf_free(&text);
    CHECK_OK(am_store_check(w));
    am_results *res = NULL;
    am_search q = { .ns = NS1("m"), .query = AM_STR("coffee"),
                    .mode = AM_SEARCH_TEXT };
    CHECK_OK(am_store_search(w, &q, &res));
    CHECK(res->count > 0);
    am_results_free(res);
    am_store_close(w);
    uint64_t widest = fts_widest_level(path, automerge);
    fprintf(stderr, "full-text index after %d commits of %d words: at most "
            "%llu segments on a level, automerge %s\n", commits, words,
            (unsigned long long)widest, automerge);
    /* FTS5 does not merge on its own (migration 3)... */
    CHECK_STR_EQ(automerge, "0");
    return widest;
}

AM_TEST(small_writes_keep_the_full_text_index_merged)
{
    char *dir = test_tmpdir(), path[512];
    /* The store's merge step keeps every level at a few segments (it
     * merges a level at 4): without it only FTS5's crisis merge, at 16
     * on a level, would act (10 or more on a level here). Short texts,
     * then long ones, whose commits need more merging. */
    snprintf(path, sizeof path, "%s/short.db", dir);
    CHECK(widest_after_puts(3000, 8, path) <= 5);
    snprintf(path, sizeof path, "%s/long.db", dir);
    CHECK(widest_after_puts(400, 400, path) <= 5);
    test_rmtree(dir);
    free(dir);
}
