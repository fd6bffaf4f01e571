/* fuzz_tier_rows.c -- tier rows read back from a database.
 *
 * The tiers trust nothing they read from their database: another process,
 * an older version or a damaged file may have written it. The input is a
 * list of rows, one per line, written with SQLite straight into a fresh
 * tiers database (schema made by am_tiers_open); then the tiers open it.
 *
 *   line  = TABLE FIELD* ("\n")      fields separated by "\t"
 *   TABLE = 'I' tier_items (pid, id, created_ms, importance, type, tags,
 *               extra, json, content_len)
 *           'S' tier_state (pid, tier, accessed_ms, hit1_ms, hit2_ms,
 *               access_count, raw)
 *           'C' tier_content (pid, data)
 *           'M' tier_moves (seq, id, from_tier, to_tier, at_ms, reason)
 *   FIELD = 'n' (NULL) | 'i' decimal integer | 'r' real | 't' text (the
 *           rest of the field) | 'x' hex bytes (a blob); missing: NULL
 *
 * Refusing to open is fine if it says why (a non-empty message). A handle
 * that opens must answer for every item it loaded: peek, retrieve,
 * describe, restore, search, statistics, the move log, the policies and
 * optimize, with ASan and UBSan watching (times from the rows meet the
 * clock's arithmetic here). Its close flushes; a database the tiers wrote
 * themselves must open again, or the target aborts.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sqlite3.h>
#include <unistd.h>

#include "agentmem/tiers.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[256], db[300];
static unsigned char *tmpl;   /* an empty tiers database, made once */
static size_t tmpl_len;

static int64_t fixed_now(void *ctx)
{
    (void)ctx;
    return 1700000000000;
}

static const am_clock clk = { fixed_now, NULL };

static void remove_db(void)
{
    char p[320];
    unlink(db);
    snprintf(p, sizeof p, "%s-wal", db);
    unlink(p);
    snprintf(p, sizeof p, "%s-shm", db);
    unlink(p);
}

static am_status open_tiers(am_tiers **t, am_error *err)
{
    am_tiers_opts o = am_tiers_opts_default();
    o.clock = &clk;
    o.db_path = db;
    o.capacity[AM_TIER_WORKING] = 4;
    o.capacity[AM_TIER_SHORT_TERM] = 8;
    o.busy_timeout_ms = 0;
    o.threads = 1;
    return am_tiers_open(&o, t, err);
}

static void setup(void)
{
    const char *base = getenv("TMPDIR");
    am_tiers *t = NULL;
    FILE *fp;
    long n;

    if (access("/dev/shm", W_OK) == 0)
        base = "/dev/shm"; /* no disk writes per input */
    snprintf(dir, sizeof dir, "%s/fuzz_tier_rows.XXXXXX",
             base != NULL ? base : "/tmp");
    if (mkdtemp(dir) == NULL)
        abort();
    snprintf(db, sizeof db, "%s/t.db", dir);
    if (open_tiers(&t, NULL) != AM_OK || am_tiers_close(t, NULL) != AM_OK)
        abort();
    fp = fopen(db, "rb");
    if (fp == NULL || fseek(fp, 0, SEEK_END) != 0 || (n = ftell(fp)) <= 0)
        abort();
    rewind(fp);
    tmpl_len = (size_t)n;
    tmpl = malloc(tmpl_len);
    if (tmpl == NULL || fread(tmpl, 1, tmpl_len, fp) != tmpl_len)
        abort();
    fclose(fp);
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Bind field f[0..n) (type byte first) to parameter i of q. */
static void bind_field(sqlite3_stmt *q, int i, const char *f, size_t n)
{
    char num[64];
    unsigned char *blob;
    size_t len = 0;

    if (n == 0) {
        sqlite3_bind_null(q, i);
        return;
    }
    switch (f[0]) {
    case 'i':
    case 'r':
        len = n - 1 < sizeof num - 1 ? n - 1 : sizeof num - 1;
        memcpy(num, f + 1, len);
        num[len] = '\0';
        if (f[0] == 'i')
            sqlite3_bind_int64(q, i, strtoll(num, NULL, 10));
        else
            sqlite3_bind_double(q, i, strtod(num, NULL));
        break;
    case 't':
        sqlite3_bind_text(q, i, f + 1, (int)(n - 1), SQLITE_TRANSIENT);
        break;
    case 'x':
        blob = malloc(n / 2 + 1);
        if (blob == NULL)
            abort();
        for (size_t k = 1; k + 1 < n; k += 2) {
            int hi = hexval(f[k]), lo = hexval(f[k + 1]);
            if (hi < 0 || lo < 0)
                break;
            blob[len++] = (unsigned char)(hi << 4 | lo);
        }
        sqlite3_bind_blob(q, i, blob, (int)len, SQLITE_TRANSIENT);
        free(blob);
        break;
    default:
        sqlite3_bind_null(q, i);
        break;
    }
}

/* Write the rows of the input into the database (a row SQLite refuses,
 * e.g. a NULL where the schema says NOT NULL, is skipped). */
static void write_rows(const char *in, size_t size)
{
    static const char *const sql[4] = {
        "INSERT OR REPLACE INTO tier_items(pid, id, created_ms, importance,"
        " type, tags, extra, json, content_len) VALUES(?,?,?,?,?,?,?,?,?)",
        "INSERT OR REPLACE INTO tier_state(pid, tier, accessed_ms, hit1_ms,"
        " hit2_ms, access_count, raw) VALUES(?,?,?,?,?,?,?)",
        "INSERT OR REPLACE INTO tier_content(pid, data) VALUES(?,?)",
        "INSERT OR REPLACE INTO tier_moves(seq, id, from_tier, to_tier,"
        " at_ms, reason) VALUES(?,?,?,?,?,?)",
    };
    static const int ncols[4] = { 9, 7, 2, 6 };
    sqlite3 *conn = NULL;
    sqlite3_stmt *q[4] = { NULL };
    FILE *fp;

    remove_db();
    fp = fopen(db, "wb");
    if (fp == NULL || fwrite(tmpl, 1, tmpl_len, fp) != tmpl_len)
        abort();
    fclose(fp);
    if (sqlite3_open(db, &conn) != SQLITE_OK)
        abort();
    for (int k = 0; k < 4; k++)
        if (sqlite3_prepare_v2(conn, sql[k], -1, &q[k], NULL) != SQLITE_OK)
            abort();
    sqlite3_exec(conn, "BEGIN", NULL, NULL, NULL);
    for (size_t pos = 0; pos < size;) {
        const char *line = in + pos;
        const char *nl = memchr(line, '\n', size - pos);
        size_t len = nl != NULL ? (size_t)(nl - line) : size - pos;
        const char *tables = "ISCM", *tab = memchr(tables, line[0], 4);
        pos += len + 1;
        if (len == 0 || line[0] == '\0' || tab == NULL)
            continue;
        int k = (int)(tab - tables);
        size_t off = 1;
        for (int col = 1; col <= ncols[k]; col++) {
            const char *f = off < len && line[off] == '\t' ? line + off + 1
                                                           : NULL;
            size_t n = 0;
            if (f != NULL) {
                const char *end = memchr(f, '\t', len - off - 1);
                n = end != NULL ? (size_t)(end - f) : len - off - 1;
                off += 1 + n;
            }
            if (f != NULL)
                bind_field(q[k], col, f, n);
            else
                sqlite3_bind_null(q[k], col);
        }
        sqlite3_step(q[k]);
        sqlite3_reset(q[k]);
        sqlite3_clear_bindings(q[k]);
    }
    sqlite3_exec(conn, "COMMIT", NULL, NULL, NULL);
    for (int k = 0; k < 4; k++)
        sqlite3_finalize(q[k]);
    if (sqlite3_close(conn) != SQLITE_OK)
        abort();
}

static void count_move(void *ctx, const am_tier_move *m)
{
    if (m->id.len > 65535)
        abort();
    ++*(size_t *)ctx;
}

/* Every call on every loaded item; failures are fine, crashes are not. */
static void exercise(am_tiers *t)
{
    am_tier_hits h = AM_TIER_HITS_INIT;
    am_tier_query q = am_tier_query_default();
    am_tier_item info = AM_TIER_ITEM_INIT;
    am_tier_stats stats[AM_TIER_COUNT];
    am_tier_policy_count pc[8];
    am_buf content = AM_BUF_INIT, desc = AM_BUF_INIT;
    size_t n = 0, moves = 0, left = 0;
    uint64_t total = 0;

    q.flags = AM_TIER_PEEK;
    if (am_tiers_search(t, &q, &h) == AM_OK) {
        if (h.count != am_tiers_count(t))
            abort(); /* a search for everything finds every item */
        for (size_t i = 0; i < h.count; i++) {
            am_str id = h.ids[i];
            if (am_tiers_peek(t, id, &content, &info) == AM_OK &&
                info.content_len != content.len)
                abort(); /* what comes back has the length recorded */
            (void)am_tiers_retention_score(&info, fixed_now(NULL));
            am_buf_clear(&desc);
            (void)am_tiers_describe(t, id, &desc);
            (void)am_tiers_retrieve(t, id, &content, NULL);
            if (info.tier == AM_TIER_ARCHIVE)
                (void)am_tiers_restore(t, id);
        }
    }
    (void)am_tiers_stats(t, stats);
    (void)am_tiers_moves(t, 0, count_move, &moves, &total);
    q = am_tier_query_default();
    q.created_from_ms = fixed_now(NULL) - 86400000;
    (void)am_tiers_search(t, &q, &h);
    (void)am_tiers_apply_policies(t, pc, 8, &n);
    (void)am_tiers_compact(t, 0, &left);
    (void)am_tiers_optimize(t, &n);
    (void)am_tiers_cleanup_old_items(t, 1, &n);
    am_tier_hits_free(&h);
    am_tier_item_free(&info);
    am_buf_free(&content);
    am_buf_free(&desc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    am_tiers *t = NULL;
    am_error err = { AM_OK, "" };
    am_status st;

    if (tmpl == NULL)
        setup();
    write_rows((const char *)data, size);
    st = open_tiers(&t, &err);
    if (st != AM_OK) {
        if (err.msg[0] == '\0')
            abort(); /* a refusal says why */
        return 0;
    }
    exercise(t);
    st = am_tiers_close(t, &err);
    if (st != AM_OK) {
        if (err.msg[0] == '\0')
            abort();
        return 0;
    }
    /* The tiers wrote this database last: it must load again. */
    t = NULL;
    st = open_tiers(&t, &err);
    if (st != AM_OK) {
        fprintf(stderr, "fuzz_tier_rows: own database refused: %s\n",
                err.msg);
        abort();
    }
    exercise(t);
    if (am_tiers_close(t, &err) != AM_OK && err.msg[0] == '\0')
        abort();
    return 0;
}
