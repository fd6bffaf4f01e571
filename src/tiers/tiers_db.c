/* tiers_db.c -- persistence of the tiers in SQLite.
 *
 * Tables (schema version 3, recorded in the shared am_schema table):
 *
 *   tier_items(pid INTEGER PRIMARY KEY, id TEXT UNIQUE, created_ms,
 *              importance, type, tags BLOB, extra, json, content_len)
 *   tier_state(pid INTEGER PRIMARY KEY, tier, accessed_ms, hit1_ms,
 *              hit2_ms, access_count, raw)
 *   tier_content(pid INTEGER PRIMARY KEY, data BLOB)   -- zstd if archived
 *                                                      -- and raw = 0
 *   tier_moves(seq INTEGER PRIMARY KEY, id, from_tier, to_tier, at_ms,
 *              reason)
 *
 * An item is one row in each of the first three tables, under one pid.
 * raw = 1 marks an archived item whose compression was deferred (its
 * data is the content itself). tier_moves keeps the last move_log_keep
 * rows (pruned by each flush that writes moves) and, with
 * move_log_keep_days, none older than that (pruned by optimize); the
 * newest row always stays, so max(seq) is the number of moves ever made.
 *
 * Why three tables: after an item is stored, only its tier and access
 * statistics change, and a policy run or optimize changes them for a
 * third of a million items at once. Those columns live in tier_state,
 * about 30 bytes a row, so such a flush dirties (and copies into the WAL
 * and back) a few thousand pages instead of every page of the wide
 * metadata rows. Content, larger still, has its own table for the same
 * reason. Tags are stored as a blob of (length byte, bytes) pairs. The
 * indexes are not stored: loading rebuilds them from the items, which
 * costs less than reading them would. Loading scans the three tables in
 * pid order in lockstep.
 *
 * Several connections may write one file. A new item's pid and a move's
 * seq are taken inside the flush's write transaction (one more than the
 * largest in any table), never from a counter of the handle: two handles
 * counting on their own handed out the same numbers, and the later flush
 * replaced the other's rows. PRAGMA data_version tells a handle that
 * another connection wrote, and am__tiers_sync reloads.
 *
 * Writes are batched: mutating calls mark items dirty, and a flush writes
 * every dirty item, deletion and logged move in one transaction (WAL,
 * synchronous=NORMAL: a committed flush survives a crash of the process;
 * after a power loss the last commits may be rolled back, never torn).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db/sqlite_db.h"
#include "tiers_int.h"

#define SCHEMA_VERSION 3

/* Calls into the SQLite layer (src/db) report into a local am_error that
 * is copied into the calling thread's slot only on failure (finding the
 * slot takes the error table's lock). */

/* Record the connection's last failure, naming `q` when given. */
static am_status dbfail(am_tiers *t, const char *what, sqlite3_stmt *q)
{
    int rc = sqlite3_extended_errcode(t->db->conn);
    return am__sqldb_fail(t->db, &AM__ERR(t), rc != SQLITE_OK ? rc
                                                              : SQLITE_ERROR,
                          what, q);
}

static am_status exec(am_tiers *t, const char *sql)
{
    am_error e = { AM_OK, "" };
    am_status st = am__sqldb_exec(t->db, sql, &e);
    return st == AM_OK ? AM_OK : am__error_copy(&AM__ERR(t), &e);
}

static am_status begin(am_tiers *t)
{
    am_error e = { AM_OK, "" };
    am_status st = am__sqldb_begin(t->db, &e);
    return st == AM_OK ? AM_OK : am__error_copy(&AM__ERR(t), &e);
}

static am_status commit(am_tiers *t)
{
    am_error e = { AM_OK, "" };
    am_status st = am__sqldb_commit(t->db, &e);
    return st == AM_OK ? AM_OK : am__error_copy(&AM__ERR(t), &e);
}

static am_status prep(am_tiers *t, const char *sql, sqlite3_stmt **q)
{
    am_error e = { AM_OK, "" };
    am_status st = am__sqldb_prepare(t->db, sql, q, &e);
    return st == AM_OK ? AM_OK : am__error_copy(&AM__ERR(t), &e);
}

#define STATE_COLUMNS                                                        \
    " pid INTEGER PRIMARY KEY,"                                              \
    " tier INTEGER NOT NULL,"                                                \
    " accessed_ms INTEGER NOT NULL,"                                         \
    " hit1_ms INTEGER,"                                                      \
    " hit2_ms INTEGER,"                                                      \
    " access_count INTEGER NOT NULL,"                                        \
    " raw INTEGER NOT NULL);"
#define ITEM_COLUMNS                                                         \
    " pid INTEGER PRIMARY KEY,"                                              \
    " id TEXT NOT NULL UNIQUE,"                                              \
    " created_ms INTEGER NOT NULL,"                                          \
    " importance REAL NOT NULL,"                                             \
    " type TEXT NOT NULL,"                                                   \
    " tags BLOB NOT NULL,"                                                   \
    " extra TEXT NOT NULL,"                                                  \
    " json INTEGER NOT NULL,"                                                \
    " content_len INTEGER NOT NULL);"

/* What a new database gets: the current schema in one step. */
static const char schema_v3[] =
    "CREATE TABLE tier_items(" ITEM_COLUMNS
    "CREATE TABLE tier_state(" STATE_COLUMNS
    "CREATE TABLE tier_content("
    " pid INTEGER PRIMARY KEY,"
    " data BLOB NOT NULL);"
    "CREATE TABLE tier_moves("
    " seq INTEGER PRIMARY KEY,"
    " id TEXT NOT NULL,"
    " from_tier TEXT NOT NULL,"
    " to_tier TEXT NOT NULL,"
    " at_ms INTEGER NOT NULL,"
    " reason TEXT NOT NULL);";

/* Version 2 -> 3: the columns that change move out of tier_items into
 * tier_state (see the top of the file). tier_items is rebuilt rather
 * than altered (each DROP COLUMN would rewrite the table once). */
static const char migrate_v3[] =
    "ALTER TABLE tier_items RENAME TO tier_items_v2;"
    "CREATE TABLE tier_state(" STATE_COLUMNS
    "INSERT INTO tier_state SELECT pid, tier, accessed_ms, hit1_ms, hit2_ms,"
    " access_count, raw FROM tier_items_v2;"
    "CREATE TABLE tier_items(" ITEM_COLUMNS
    "INSERT INTO tier_items SELECT pid, id, created_ms, importance, type,"
    " tags, extra, json, content_len FROM tier_items_v2;"
    "DROP TABLE tier_items_v2;";

/* steps[v] takes version v to v + 1; a new database gets schema_v3. */
static const char *const schema_steps[SCHEMA_VERSION] = {
    NULL,
    "ALTER TABLE tier_items ADD COLUMN raw INTEGER NOT NULL DEFAULT 0;",
    migrate_v3,
};

/* Moves are written MOVES_PER_INSERT rows per INSERT statement: a
 * policy run logs hundreds of thousands, and one statement per row costs
 * its fixed setup and teardown each time. */
#define MOVES_PER_INSERT 64
#define MOVE_ROW ",(?,?,?,?,?,?)"
#define MOVE_ROWS4 MOVE_ROW MOVE_ROW MOVE_ROW MOVE_ROW
#define MOVE_ROWS16 MOVE_ROWS4 MOVE_ROWS4 MOVE_ROWS4 MOVE_ROWS4
#define MOVE_ROWS63 MOVE_ROWS16 MOVE_ROWS16 MOVE_ROWS16 MOVE_ROWS4 \
                    MOVE_ROWS4 MOVE_ROWS4 MOVE_ROW MOVE_ROW MOVE_ROW

/* The statements of the tiers, by the TQ_* ids of tiers_int.h; all are
 * prepared when the database opens (TQ(t, id) is then never NULL). */
static const char *const tiers_sql[TQ_COUNT_] = {
    [TQ_INS_ITEM] = "INSERT OR REPLACE INTO tier_items(pid, id, created_ms,"
                    " importance, type, tags, extra, json, content_len)"
                    " VALUES(?,?,?,?,?,?,?,?,?)",
    [TQ_INS_STATE] = "INSERT OR REPLACE INTO tier_state(tier, accessed_ms,"
                     " hit1_ms, hit2_ms, access_count, raw, pid)"
                     " VALUES(?,?,?,?,?,?,?)",
    [TQ_INS_CONTENT] = "INSERT OR REPLACE INTO tier_content(pid, data)"
                       " VALUES(?,?)",
    [TQ_UPD_STATS] = "UPDATE tier_state SET tier=?, accessed_ms=?,"
                     " hit1_ms=?, hit2_ms=?, access_count=?, raw=?"
                     " WHERE pid=?",
    [TQ_UPD_CONTENT] = "UPDATE tier_content SET data=? WHERE pid=?",
    [TQ_DEL_ITEM] = "DELETE FROM tier_items WHERE pid=?",
    [TQ_DEL_STATE] = "DELETE FROM tier_state WHERE pid=?",
    [TQ_DEL_CONTENT] = "DELETE FROM tier_content WHERE pid=?",
    [TQ_INS_MOVE] = "INSERT INTO tier_moves(id, from_tier, to_tier, at_ms,"
                    " reason, seq) VALUES(?,?,?,?,?,?)",
    [TQ_INS_MOVES_N] = "INSERT INTO tier_moves(id, from_tier, to_tier,"
                       " at_ms, reason, seq) VALUES(?,?,?,?,?,?)"
                       MOVE_ROWS63,
    [TQ_PRUNE_MOVES] = "DELETE FROM tier_moves WHERE seq <="
                       " (SELECT max(seq) FROM tier_moves) - ?",
    [TQ_DATA_VERSION] = "PRAGMA data_version",
    /* A pid is free when no table holds it: a deleted item's rows can
     * outlive its tier_items row (tiers_db.c's purge queue, or another
     * process replacing the id). */
    [TQ_MAX_PID] = "SELECT max(coalesce((SELECT max(pid) FROM tier_items),"
                   " 0), coalesce((SELECT max(pid) FROM tier_state), 0),"
                   " coalesce((SELECT max(pid) FROM tier_content), 0))",
    [TQ_MAX_SEQ] = "SELECT coalesce(max(seq), 0) FROM tier_moves",
};

/* The long-term store may share the file: the SQLite layer gives both the
 * same journal, vacuum mode and lock waiting. The tiers add a 64 MB page
 * cache and memory-mapped reads for loading a million items. */
am_status am__tiers_db_open(am_tiers *t, const char *path, am_str key)
{
    const am__sqldb_opts o = {
        .module = "tiers",
        .sql = tiers_sql,
        .nsql = TQ_COUNT_,
        .busy_timeout_ms = t->busy_timeout_ms,
        .cache_kib = 65536,
        .mmap_bytes = 2147418112, /* SQLCipher maps nothing when keyed */
        .key = key,
    };
    const am__sqldb_schema schema = {
        .module = "tiers",
        .version = SCHEMA_VERSION,
        .steps = schema_steps,
        .fresh = schema_v3,
    };
    am_error e = { AM_OK, "" };
    am_status st;

    st = am__sqldb_open(path, &o, t->alloc, &t->db, &e);
    if (st == AM_OK)
        st = am__sqldb_migrate(t->db, &schema, &e);
    for (size_t i = 0; i < TQ_COUNT_ && st == AM_OK; i++)
        if (am__sqldb_stmt(t->db, i, &e) == NULL)
            st = e.code;
    if (st != AM_OK)
        return am__error_copy(&AM__ERR(t), &e);
    return am__tiers_db_version(t, &t->db_version);
}

am_status am__tiers_db_version(am_tiers *t, int64_t *out)
{
    sqlite3_stmt *q = TQ(t, TQ_DATA_VERSION);
    int rc = sqlite3_step(q);
    am_status st = AM_OK;

    if (rc == SQLITE_ROW)
        *out = sqlite3_column_int64(q, 0);
    else
        st = dbfail(t, "reading data_version", q);
    sqlite3_reset(q);
    return st;
}

/* The one-integer result of q (max pid, max seq) into *out. */
static am_status query_max(am_tiers *t, sqlite3_stmt *q, const char *what,
                           int64_t *out)
{
    int rc = sqlite3_step(q);
    am_status st = AM_OK;

    if (rc == SQLITE_ROW)
        *out = sqlite3_column_int64(q, 0);
    else
        st = dbfail(t, what, q);
    sqlite3_reset(q);
    if (st != AM_OK || (*out >= 0 && *out < INT64_MAX / 2))
        return st;
    return am__fail(&AM__ERR(t), AM_EFORMAT, "database: %s %lld is out of "
                    "range", what, (long long)*out);
}

void am__tiers_db_close(am_tiers *t)
{
    am__sqldb_close(t->db);
    t->db = NULL;
}

/* ---- Loading ---- */

static void bind_time(sqlite3_stmt *s, int i, int64_t v)
{
    if (v == T_NONE)
        sqlite3_bind_null(s, i);
    else
        sqlite3_bind_int64(s, i, v);
}

static int64_t col_time(sqlite3_stmt *s, int i)
{
    return sqlite3_column_type(s, i) == SQLITE_NULL
               ? T_NONE
               : sqlite3_column_int64(s, i);
}

/* One item from the current rows of the three lockstep scans: qi over
 * tier_items, qs over tier_state, qc over tier_content (see
 * am__tiers_db_load for the columns). */
static am_status load_row(am_tiers *t, sqlite3_stmt *qi, sqlite3_stmt *qs,
                          sqlite3_stmt *qc)
{
    int64_t pid = sqlite3_column_int64(qi, 0);
    const char *id = (const char *)sqlite3_column_text(qi, 1);
    size_t id_len = (size_t)sqlite3_column_bytes(qi, 1);
    int tier = sqlite3_column_int(qs, 1);
    const char *type = (const char *)sqlite3_column_text(qi, 4);
    size_t type_len = (size_t)sqlite3_column_bytes(qi, 4);
    const unsigned char *tags = sqlite3_column_blob(qi, 5);
    size_t tags_len = (size_t)sqlite3_column_bytes(qi, 5);
    const char *extra = (const char *)sqlite3_column_text(qi, 6);
    size_t extra_len = (size_t)sqlite3_column_bytes(qi, 6);
    int64_t clen = sqlite3_column_int64(qi, 8);
    bool raw = sqlite3_column_int(qs, 6) != 0;
    const void *data;
    size_t data_len;
    uint32_t tagids[255];
    size_t ntags = 0;
    titem rec;
    uint32_t slot = 0;
    am_status st;

    data = sqlite3_column_blob(qc, 1);
    data_len = (size_t)sqlite3_column_bytes(qc, 1);
    if (id == NULL || id_len == 0 || id_len > 65535 || tier < 0 ||
        tier >= AM_TIER_COUNT || clen < 0 || clen >= UINT32_MAX ||
        ((tier != AM_TIER_ARCHIVE || raw) && (size_t)clen != data_len))
        return am__fail(&AM__ERR(t), AM_EFORMAT, "database: tier_items row pid "
                        "%lld is malformed (id, tier or content_len)",
                        (long long)pid);
    memset(&rec, 0, sizeof rec);
    rec.importance = sqlite3_column_double(qi, 3);
    if (!(rec.importance >= 0.0 && rec.importance <= 1.0))
        return am__fail(&AM__ERR(t), AM_EFORMAT, "database: row pid %lld: "
                        "importance %g outside [0, 1]", (long long)pid,
                        rec.importance);
    st = am__tdict_intern(t->alloc, &t->types, type != NULL ? type : "",
                          type_len, &rec.type);
    if (st == AM_OK && rec.type >= T_MAX_TYPES)
        return am__fail(&AM__ERR(t), AM_ELIMIT, "database: more than %u types",
                        T_MAX_TYPES);
    for (size_t off = 0; st == AM_OK && off < tags_len;) {
        size_t n = tags[off];
        if (off + 1 + n > tags_len || n == 0 || ntags == 255)
            return am__fail(&AM__ERR(t), AM_EFORMAT, "database: row pid %lld: "
                            "malformed tags at byte %zu", (long long)pid,
                            off);
        st = am__tdict_intern(t->alloc, &t->tags,
                              (const char *)tags + off + 1, n,
                              &tagids[ntags++]);
        off += 1 + n;
    }
    if (st != AM_OK)
        return am__fail(&AM__ERR(t), st, "no memory to load the tiers");
    rec.pid = pid;
    rec.created_ms = sqlite3_column_int64(qi, 2);
    rec.accessed_ms = sqlite3_column_int64(qs, 2);
    rec.hit1_ms = col_time(qs, 3);
    rec.hit2_ms = col_time(qs, 4);
    rec.access_count = (uint32_t)sqlite3_column_int64(qs, 5);
    rec.ntags = (uint8_t)ntags;
    rec.id_len = (uint16_t)id_len;
    rec.extra_len = (uint32_t)extra_len;
    rec.content_len = (uint32_t)clen;
    rec.stored_len = (uint32_t)data_len;
    rec.tier = (uint8_t)tier;
    rec.flags = (uint8_t)(T_LIVE | (sqlite3_column_int(qi, 7) ? T_JSON : 0) |
                          (raw && tier == AM_TIER_ARCHIVE ? T_RAW : 0));
    rec.blob = am__tiers_blob_alloc(t, am__tiers_blob_len(&rec), &rec.pooled);
    if (rec.blob == NULL)
        return am__fail(&AM__ERR(t), AM_ENOMEM, "no memory to load the tiers");
    if (ntags > 0)
        memcpy(rec.blob, tagids, 4 * ntags);
    memcpy(rec.blob + 4 * ntags, id, id_len);
    if (extra_len > 0)
        memcpy(rec.blob + 4 * ntags + id_len, extra, extra_len);
    if (data_len > 0)
        memcpy(am__tiers_content(&rec), data, data_len);
    /* Custom indexes are registered after open, so none exist here. */
    st = am__tiers_insert_loaded(t, &rec, &slot);
    if (st == AM_OK && (rec.flags & T_RAW))
        st = am__tiers_vpush(t, &t->raw_queue, slot); /* compress later */
    if (st != AM_OK)
        return am__fail(&AM__ERR(t), st, "no memory to load the tiers");
    return AM_OK;
}

static am_status load_moves(am_tiers *t)
{
    sqlite3_stmt *q = NULL;
    am_status st;
    int rc;

    st = prep(t, "SELECT coalesce(max(seq), 0) FROM tier_moves", &q);
    if (st != AM_OK)
        return st;
    if (sqlite3_step(q) == SQLITE_ROW)
        t->moves_total = (uint64_t)sqlite3_column_int64(q, 0);
    sqlite3_finalize(q);
    if (t->ring_cap == 0)
        return AM_OK;
    st = prep(t, "SELECT id, from_tier, to_tier, at_ms, reason FROM "
                 "(SELECT * FROM tier_moves ORDER BY seq DESC LIMIT ?) "
                 "ORDER BY seq", &q);
    if (st != AM_OK)
        return st;
    sqlite3_bind_int64(q, 1, (sqlite3_int64)t->ring_cap);
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        tmove *m = &t->ring[t->ring_len];
        const char *id = (const char *)sqlite3_column_text(q, 0);
        size_t len = (size_t)sqlite3_column_bytes(q, 0);
        const char *r = (const char *)sqlite3_column_text(q, 4);
        am_tier from = AM_TIER_WORKING, to = AM_TIER_WORKING;
        am_tier_reason reason = AM_TIER_REASON_PROMOTION;
        if (len > 65535 || id == NULL || r == NULL ||
            am_tier_parse(am_str_c((const char *)sqlite3_column_text(q, 1)),
                          &from, NULL) != AM_OK ||
            am_tier_parse(am_str_c((const char *)sqlite3_column_text(q, 2)),
                          &to, NULL) != AM_OK) {
            st = am__fail(&AM__ERR(t), AM_EFORMAT, "database: malformed "
                          "tier_moves row");
            break;
        }
        for (int k = 0; k <= AM_TIER_REASON_POLICY; k++)
            if (strcmp(r, am_tier_reason_name((am_tier_reason)k)) == 0)
                reason = (am_tier_reason)k;
        m->id = am__strndup(t->alloc, id, len);
        if (m->id == NULL) {
            st = am__fail(&AM__ERR(t), AM_ENOMEM, "no memory for the move log");
            break;
        }
        m->id_len = (uint16_t)len;
        m->from = (uint8_t)from;
        m->to = (uint8_t)to;
        m->reason = (uint8_t)reason;
        m->at_ms = sqlite3_column_int64(q, 3);
        t->ring_len++;
    }
    if (st == AM_OK && rc != SQLITE_DONE)
        st = dbfail(t, "reading tier_moves", q);
    sqlite3_finalize(q);
    return st;
}

/* Queues `pid`, a deleted item whose rows are still in the database, for
 * purging, and keeps new items off its pid. */
static am_status queue_purge(am_tiers *t, int64_t pid)
{
    void *p = t->purge_pids.v;

    if (am__grow(t->alloc, &p, &t->purge_pids.cap, t->purge_pids.len + 1,
                 sizeof(int64_t)) != AM_OK)
        return am__fail(&AM__ERR(t), AM_ENOMEM, "no memory to load the tiers");
    t->purge_pids.v = p;
    t->purge_pids.v[t->purge_pids.len++] = pid;
    if (pid >= t->next_pid)
        t->next_pid = pid + 1;
    return AM_OK;
}

/* One of the lockstep scans of am__tiers_db_load: a table in pid order
 * and its current row (pid INT64_MAX past the end). */
typedef struct {
    sqlite3_stmt *q;
    int64_t pid;
    const char *table;
} scan;

static am_status scan_next(am_tiers *t, scan *s)
{
    int rc = sqlite3_step(s->q);

    if (rc == SQLITE_ROW) {
        s->pid = sqlite3_column_int64(s->q, 0);
        return AM_OK;
    }
    s->pid = INT64_MAX;
    if (rc == SQLITE_DONE)
        return AM_OK;
    char what[48];
    snprintf(what, sizeof what, "database: reading %s", s->table);
    return am__sqldb_fail(t->db, &AM__ERR(t), rc, what, s->q);
}

/* Moves s to its first row at or after `pid`. The rows passed over have
 * no live item (a deleted item's rows not purged yet): they are queued
 * for purging. *at says whether s stopped at `pid`. */
static am_status scan_to(am_tiers *t, scan *s, int64_t pid, bool *at)
{
    am_status st = AM_OK;

    while (st == AM_OK && s->pid < pid) {
        st = queue_purge(t, s->pid);
        if (st == AM_OK)
            st = scan_next(t, s);
    }
    *at = s->pid == pid;
    return st;
}

/* An item lives when it has a tier_state row (deleting an item deletes
 * that row first, see am__tiers_db_flush); a live item without its
 * content row is a malformed database. */
static am_status load_rows(am_tiers *t, scan *si, scan *ss, scan *sc,
                           size_t total)
{
    am_status st;
    bool has_state, has_content;
    size_t loaded = 0;

    if ((st = scan_next(t, si)) != AM_OK || (st = scan_next(t, ss)) != AM_OK ||
        (st = scan_next(t, sc)) != AM_OK)
        return st;
    while (si->pid != INT64_MAX) {
        int64_t pid = si->pid;
        if ((st = scan_to(t, ss, pid, &has_state)) != AM_OK ||
            (st = scan_to(t, sc, pid, &has_content)) != AM_OK)
            return st;
        if (has_state && !has_content)
            return am__fail(&AM__ERR(t), AM_EFORMAT, "database: item pid %lld "
                            "has no tier_content row", (long long)pid);
        st = has_state ? load_row(t, si->q, ss->q, sc->q)
                       : queue_purge(t, pid);
        /* The count read before the scan is the total; it only caps the
         * report (another process may have added rows since). */
        if (st == AM_OK && has_state && ++loaded <= total)
            am__tiers_progress(t, "loading", loaded, total);
        if (st != AM_OK ||
            (has_state && (st = scan_next(t, ss)) != AM_OK) ||
            (has_content && (st = scan_next(t, sc)) != AM_OK) ||
            (st = scan_next(t, si)) != AM_OK)
            return st;
    }
    /* Rows past the last item's pid belong to no item either. */
    if ((st = scan_to(t, ss, INT64_MAX, &has_state)) != AM_OK)
        return st;
    return scan_to(t, sc, INT64_MAX, &has_content);
}

am_status am__tiers_db_load(am_tiers *t)
{
    scan si = { NULL, 0, "tier_items" }, ss = { NULL, 0, "tier_state" },
         sc = { NULL, 0, "tier_content" };
    sqlite3_stmt *q = NULL;
    am_status st = AM_OK;
    size_t total = 0;

    st = exec(t, "BEGIN");
    if (st != AM_OK)
        return st;
    if ((st = prep(t, "SELECT count(*) FROM tier_state", &q)) != AM_OK)
        goto out;
    if (sqlite3_step(q) == SQLITE_ROW)
        total = (size_t)sqlite3_column_int64(q, 0);
    if (total > 0 && am__tiers_presize(t, total) != AM_OK) {
        st = am__fail(&AM__ERR(t), AM_ENOMEM, "no memory to load %zu items",
                      total);
        goto out;
    }
    /* Column numbers are load_row's. */
    if ((st = prep(t, "SELECT pid, id, created_ms, importance, type, tags, "
                      "extra, json, content_len FROM tier_items ORDER BY pid",
                   &si.q)) != AM_OK ||
        (st = prep(t, "SELECT pid, tier, accessed_ms, hit1_ms, hit2_ms, "
                      "access_count, raw FROM tier_state ORDER BY pid",
                   &ss.q)) != AM_OK ||
        (st = prep(t, "SELECT pid, data FROM tier_content ORDER BY pid",
                   &sc.q)) != AM_OK)
        goto out;
    st = load_rows(t, &si, &ss, &sc, total);
    if (st == AM_OK)
        st = load_moves(t);
out:
    sqlite3_finalize(q);
    sqlite3_finalize(si.q);
    sqlite3_finalize(ss.q);
    sqlite3_finalize(sc.q);
    sqlite3_exec(t->db->conn, "COMMIT", NULL, NULL, NULL);
    return st;
}

/* ---- Flushing ---- */

/* Every caller binds all parameters of its statement, so the bindings
 * are not cleared (SQLITE_STATIC pointers are never read after reset
 * because the next use rebinds them first). */
static int step_reset(sqlite3_stmt *s)
{
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* Binds an item's tier_state columns to s, st_ins_state or st_upd_stats
 * (both take tier, accessed_ms, hit1_ms, hit2_ms, access_count, raw,
 * pid in that order), then runs it. */
static int write_state(sqlite3_stmt *s, const titem *it)
{
    sqlite3_bind_int(s, 1, it->tier);
    sqlite3_bind_int64(s, 2, it->accessed_ms);
    bind_time(s, 3, it->hit1_ms);
    bind_time(s, 4, it->hit2_ms);
    sqlite3_bind_int64(s, 5, it->access_count);
    sqlite3_bind_int(s, 6, (it->flags & T_RAW) ? 1 : 0);
    sqlite3_bind_int64(s, 7, it->pid);
    return step_reset(s);
}

static am_status write_item(am_tiers *t, const titem *it)
{
    sqlite3_stmt *s;
    const uint32_t *tags = am__tiers_tags(it);
    const tkey *type = &t->types.keys[it->type];

    if (it->flags & T_DIRTY_ALL) {
        am_buf_clear(&t->keybuf);
        for (size_t i = 0; i < it->ntags; i++) {
            const tkey *k = &t->tags.keys[tags[i]];
            unsigned char n = (unsigned char)k->len;
            if (am_buf_append(&t->keybuf, &n, 1) != AM_OK ||
                am_buf_append(&t->keybuf, k->s, k->len) != AM_OK)
                return am__fail(&AM__ERR(t), AM_ENOMEM, "no memory to flush");
        }
        s = TQ(t, TQ_INS_ITEM);
        sqlite3_bind_int64(s, 1, it->pid);
        sqlite3_bind_text(s, 2, am__tiers_id(it), it->id_len, SQLITE_STATIC);
        sqlite3_bind_int64(s, 3, it->created_ms);
        sqlite3_bind_double(s, 4, it->importance);
        sqlite3_bind_text(s, 5, type->s, (int)type->len, SQLITE_STATIC);
        sqlite3_bind_blob(s, 6, t->keybuf.ptr != NULL ? t->keybuf.ptr : "",
                          (int)t->keybuf.len, SQLITE_STATIC);
        sqlite3_bind_text(s, 7, am__tiers_extra(it), (int)it->extra_len,
                          SQLITE_STATIC);
        sqlite3_bind_int(s, 8, (it->flags & T_JSON) ? 1 : 0);
        sqlite3_bind_int64(s, 9, it->content_len);
        if (step_reset(s) != SQLITE_OK)
            return dbfail(t, "writing tier_items", s);
        if (write_state(TQ(t, TQ_INS_STATE), it) != SQLITE_OK)
            return dbfail(t, "writing tier_state", TQ(t, TQ_INS_STATE));
        s = TQ(t, TQ_INS_CONTENT);
        sqlite3_bind_int64(s, 1, it->pid);
        sqlite3_bind_blob(s, 2, am__tiers_content(it), (int)it->stored_len,
                          SQLITE_STATIC);
        if (step_reset(s) != SQLITE_OK)
            return dbfail(t, "writing tier_content", s);
        return AM_OK;
    }
    if (it->flags & T_DIRTY_CONTENT) {
        /* Compressed or decompressed: the bytes change, and the state
         * row in its tier and raw columns (updated below). */
        s = TQ(t, TQ_UPD_CONTENT);
        sqlite3_bind_blob(s, 1, am__tiers_content(it), (int)it->stored_len,
                          SQLITE_STATIC);
        sqlite3_bind_int64(s, 2, it->pid);
        if (step_reset(s) != SQLITE_OK)
            return dbfail(t, "updating tier_content", s);
    }
    if (write_state(TQ(t, TQ_UPD_STATS), it) != SQLITE_OK)
        return dbfail(t, "updating tier_state", TQ(t, TQ_UPD_STATS));
    return AM_OK;
}

typedef struct {
    int64_t pid;
    uint32_t slot;
} pidslot;

static int pidslot_cmp(const void *a, const void *b)
{
    int64_t x = ((const pidslot *)a)->pid, y = ((const pidslot *)b)->pid;
    return (x > y) - (x < y);
}

/* Orders the dirty slots by row id, so consecutive writes touch
 * neighbouring B-tree pages (fewer distinct pages to copy into the WAL
 * and a warm page cache). Without memory for the sort the order stays
 * as it is: only speed depends on it. */
static void sort_dirty(am_tiers *t)
{
    size_t n = t->dirty.len;
    pidslot *v;

    if (n < 2)
        return;
    v = am__alloc_array(t->alloc, n, sizeof *v);
    if (v == NULL)
        return;
    for (size_t i = 0; i < n; i++) {
        v[i].pid = am__tiers_item(t, t->dirty.v[i])->pid;
        v[i].slot = t->dirty.v[i];
    }
    qsort(v, n, sizeof *v, pidslot_cmp);
    for (size_t i = 0; i < n; i++)
        t->dirty.v[i] = v[i].slot;
    am__free(t->alloc, v, n * sizeof *v);
}

/* Gives each new item among the dirty ones (in creation order, as
 * sort_dirty left them) the next pid no table holds. Inside the flush's
 * transaction; if it rolls back, the items stay T_NEW and the next flush
 * assigns again. */
static am_status assign_pids(am_tiers *t)
{
    int64_t pid = 0;
    bool any = false;
    am_status st = AM_OK;

    for (size_t i = 0; i < t->dirty.len && !any; i++)
        any = (am__tiers_item(t, t->dirty.v[i])->flags & (T_LIVE | T_NEW)) ==
              (T_LIVE | T_NEW);
    if (!any)
        return AM_OK;
    st = query_max(t, TQ(t, TQ_MAX_PID), "reading max(pid)", &pid);
    for (size_t i = 0; i < t->dirty.len && st == AM_OK; i++) {
        titem *it = am__tiers_item(t, t->dirty.v[i]);
        if ((it->flags & (T_LIVE | T_NEW)) == (T_LIVE | T_NEW))
            it->pid = ++pid;
    }
    if (st == AM_OK && pid >= t->next_pid)
        t->next_pid = pid + 1;
    return st;
}

/* Deletes the tier_items and tier_content rows of a deleted item. */
static am_status purge_rows(am_tiers *t, int64_t pid)
{
    sqlite3_bind_int64(TQ(t, TQ_DEL_ITEM), 1, pid);
    sqlite3_bind_int64(TQ(t, TQ_DEL_CONTENT), 1, pid);
    if (step_reset(TQ(t, TQ_DEL_ITEM)) != SQLITE_OK)
        return dbfail(t, "deleting", TQ(t, TQ_DEL_ITEM));
    if (step_reset(TQ(t, TQ_DEL_CONTENT)) != SQLITE_OK)
        return dbfail(t, "deleting", TQ(t, TQ_DEL_CONTENT));
    return AM_OK;
}

/* Deletions. Each deleted item loses its tier_state row in the flush
 * that follows the deletion (from then on it is gone, also for a later
 * load). Its other two rows go in the same flush for up to PURGE_STEP
 * items per flush, queued ones first; the rest wait in purge_pids for
 * later flushes. Content rows are large and scattered, so deleting
 * 20,000 of them at once rewrites ~20,000 pages (half of a policy run's
 * flush over 1,000,000 items); the narrow state rows of the same items
 * share a few pages. Purged counts go to *old and *new for the caller to
 * retire once the transaction commits. */
#define PURGE_STEP 1024

static am_status delete_rows(am_tiers *t, size_t *old, size_t *new_)
{
    size_t budget = PURGE_STEP;
    am_status st = AM_OK;

    *old = *new_ = 0;
    for (size_t i = 0; i < t->deleted_pids.len && st == AM_OK; i++) {
        sqlite3_bind_int64(TQ(t, TQ_DEL_STATE), 1, t->deleted_pids.v[i]);
        if (step_reset(TQ(t, TQ_DEL_STATE)) != SQLITE_OK)
            st = dbfail(t, "deleting", TQ(t, TQ_DEL_STATE));
    }
    /* The queue is worked from its end (any order will do). */
    for (; *old < t->purge_pids.len && *old < budget && st == AM_OK; (*old)++)
        st = purge_rows(t, t->purge_pids.v[t->purge_pids.len - 1 - *old]);
    budget -= *old;
    for (; *new_ < t->deleted_pids.len && *new_ < budget && st == AM_OK;
         (*new_)++)
        st = purge_rows(t, t->deleted_pids.v[*new_]);
    return st;
}

am_status am__tiers_db_flush(am_tiers *t)
{
    am_status st = AM_OK;
    size_t purged_old = 0, purged_new = 0;
    int64_t seq0 = 0;

    if (t->db == NULL)
        return AM_OK;
    if (t->dirty.len == 0 && t->deleted_pids.len == 0 &&
        t->npending_moves == 0 && t->purge_pids.len == 0)
        return AM_OK;
    /* Room to queue every deletion this flush may leave unpurged, taken
     * now so that nothing can fail after the commit. */
    {
        void *p = t->purge_pids.v;
        if (am__grow(t->alloc, &p, &t->purge_pids.cap,
                     t->purge_pids.len + t->deleted_pids.len,
                     sizeof(int64_t)) != AM_OK)
            return am__fail(&AM__ERR(t), AM_ENOMEM, "no memory to flush");
        t->purge_pids.v = p;
    }
    sort_dirty(t);
    st = begin(t);
    if (st != AM_OK)
        return st;
    /* Several processes may write one file: row ids and move numbers are
     * taken from the database under its write lock, never from a count
     * this handle kept since it loaded (two handles would hand out the
     * same numbers and overwrite each other's rows). */
    if (t->npending_moves > 0)
        st = query_max(t, TQ(t, TQ_MAX_SEQ), "reading max(seq)", &seq0);
    if (st == AM_OK)
        st = assign_pids(t);
    if (st == AM_OK)
        st = delete_rows(t, &purged_old, &purged_new);
    for (size_t i = 0; i < t->dirty.len && st == AM_OK; i++) {
        const titem *it = am__tiers_item(t, t->dirty.v[i]);
        if ((it->flags & T_LIVE) && (it->flags & T_DIRTY))
            st = write_item(t, it);
        am__tiers_progress(t, "writing", i + 1, t->dirty.len);
    }
    /* Move i of the pending ones is move number seq0 + i + 1 (its seq),
     * seq0 being the last number the database handed out. Moves the retention would delete at once (all but
     * the last move_keep) are not written at all. */
    for (size_t i = t->npending_moves > t->move_keep
                        ? t->npending_moves - t->move_keep
                        : 0;
         i < t->npending_moves && st == AM_OK;) {
        size_t n = t->npending_moves - i >= MOVES_PER_INSERT
                       ? MOVES_PER_INSERT
                       : 1;
        sqlite3_stmt *s = n > 1 ? TQ(t, TQ_INS_MOVES_N) : TQ(t, TQ_INS_MOVE);
        for (size_t k = 0; k < n; k++, i++) {
            const tmove *m = &t->pending_moves[i];
            const char *r = am_tier_reason_name((am_tier_reason)m->reason);
            int b = (int)k * 6;
            sqlite3_bind_text(s, b + 1, m->id, m->id_len, SQLITE_STATIC);
            sqlite3_bind_text(s, b + 2, am_tier_name((am_tier)m->from), -1,
                              SQLITE_STATIC);
            sqlite3_bind_text(s, b + 3, am_tier_name((am_tier)m->to), -1,
                              SQLITE_STATIC);
            sqlite3_bind_int64(s, b + 4, m->at_ms);
            sqlite3_bind_text(s, b + 5, r, -1, SQLITE_STATIC);
            sqlite3_bind_int64(s, b + 6, seq0 + (int64_t)i + 1);
        }
        if (step_reset(s) != SQLITE_OK)
            st = dbfail(t, "writing tier_moves", s);
    }
    /* Retention by count: rowids are consecutive, so the newest
     * move_keep rows are those above max(seq) - move_keep. */
    if (st == AM_OK && t->npending_moves > 0) {
        sqlite3_stmt *s = TQ(t, TQ_PRUNE_MOVES);
        sqlite3_bind_int64(s, 1, (sqlite3_int64)t->move_keep);
        if (step_reset(s) != SQLITE_OK)
            st = dbfail(t, "pruning tier_moves", s);
    }
    if (st == AM_OK)
        st = commit(t);
    if (st != AM_OK) {
        am__sqldb_rollback(t->db);
        return st;
    }
    for (size_t i = 0; i < t->dirty.len; i++)
        am__tiers_item(t, t->dirty.v[i])->flags &= (uint8_t)~(T_DIRTY | T_NEW);
    if (t->npending_moves > 0)
        t->moves_total = (uint64_t)seq0 + t->npending_moves;
    t->dirty.len = 0;
    t->purge_pids.len -= purged_old;
    if (t->deleted_pids.len > purged_new)
        memcpy(t->purge_pids.v + t->purge_pids.len,
               t->deleted_pids.v + purged_new,
               (t->deleted_pids.len - purged_new) * sizeof(int64_t));
    t->purge_pids.len += t->deleted_pids.len - purged_new;
    t->deleted_pids.len = 0;
    for (size_t i = 0; i < t->npending_moves; i++)
        am__free(t->alloc, t->pending_moves[i].id,
                 (size_t)t->pending_moves[i].id_len + 1);
    t->npending_moves = 0;
    t->last_flush_ns = am__mono_ns();
    return AM_OK;
}

am_status am__tiers_db_prune_moves_age(am_tiers *t, int64_t now_ms)
{
    sqlite3_stmt *q = NULL;
    am_status st;
    int rc;

    if (t->db == NULL || t->move_keep_days <= 0)
        return AM_OK;
    /* Pending moves are all newer than any row, so they need no flush
     * first. The newest row stays: max(seq) counts every move made. */
    st = prep(t, "DELETE FROM tier_moves WHERE at_ms < ? AND seq < "
                 "(SELECT max(seq) FROM tier_moves)", &q);
    if (st != AM_OK)
        return st;
    sqlite3_bind_int64(q, 1, am__sub_sat(now_ms, (int64_t)t->move_keep_days *
                                                  T_DAY_MS));
    rc = sqlite3_step(q);
    st = rc == SQLITE_DONE ? AM_OK : dbfail(t, "pruning tier_moves", q);
    sqlite3_finalize(q);
    return st;
}
