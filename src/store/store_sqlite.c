/* store_sqlite.c -- the SQLite backend: namespaced JSON items in one
 * file, with history (see backend.h for the seam).
 *
 * One row per (namespace, key) in `items`; the namespace is encoded (see
 * store_int.h) so that a prefix is a byte range and no crafted part can
 * reach into another namespace: every query binds ranges or equalities,
 * never LIKE. Writes run in BEGIN IMMEDIATE transactions and return only
 * after COMMIT, in WAL mode with a busy timeout, so several threads and
 * processes can share the file. Each change appends a row to
 * `item_history` (a new row's "add" waits in the row itself until its
 * first change, schema 6); delete only stamps `deleted_ms`, so a mistake can be
 * undone until am_store_purge removes the row for good. Expiry is checked
 * in every read against the injected clock.
 *
 * Full-text search uses an external-content FTS5 table kept in step by
 * the writers; vectors live in the row as float32 blobs (store_search.c).
 *
 * This file holds the schema and its migrations, the cached statements,
 * open/close and the operations table; items are in store_sqlite_items.c,
 * retention in store_sqlite_retention.c, search in store_sqlite_search.c
 * (and _text, _bm25, _vec),
 * sessions in store_sqlite_session.c.
 */
#include <assert.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "core/json_glue.h"
#include "store_sqlite.h"

/* ---- Schema ---- */

#define STORE_SCHEMA_VERSION 6

static const char *const migrations[STORE_SCHEMA_VERSION] = {
    /* 1: items, history, full-text index, sessions. */
    "CREATE TABLE store_meta(k TEXT PRIMARY KEY, v TEXT NOT NULL);"
    "CREATE TABLE items("
    " id INTEGER PRIMARY KEY, ns BLOB NOT NULL, key BLOB NOT NULL,"
    " value TEXT NOT NULL, meta TEXT NOT NULL DEFAULT '{}',"
    " text TEXT NOT NULL DEFAULT '',"
    " created_ms INTEGER NOT NULL, updated_ms INTEGER NOT NULL,"
    " expires_ms INTEGER, deleted_ms INTEGER,"
    " vec_model TEXT, vec BLOB, UNIQUE(ns, key));"
    "CREATE INDEX items_expires ON items(expires_ms)"
    " WHERE expires_ms IS NOT NULL;"
    "CREATE INDEX items_deleted ON items(deleted_ms)"
    " WHERE deleted_ms IS NOT NULL;"
    /* One B-tree keyed by (item, sequence): a put adds one entry, and an
     * item's history is one range. An event's new value is the next
     * event's old value (or the item's current one), so it is not
     * stored twice. */
    "CREATE TABLE item_history("
    " item_id INTEGER NOT NULL, seq INTEGER NOT NULL,"
    " event TEXT NOT NULL, old_value TEXT, old_meta TEXT,"
    " at_ms INTEGER NOT NULL, actor TEXT NOT NULL,"
    " PRIMARY KEY(item_id, seq)) WITHOUT ROWID;"
    /* Version 1 created items_fts(text) here; a new database gets the
     * version 2 index from migration 2 directly (IF EXISTS below). */
    /* The full-text index is kept in step by the code that writes items
     * (Q_FTS_ADD / Q_FTS_DEL, and 'delete' rows before hard deletes), not
     * by triggers: a trigger makes every write a statement transaction,
     * and FTS5 flushes its pending terms at each savepoint -- 4x slower
     * bulk puts. */
    "CREATE TABLE sessions("
    " id INTEGER PRIMARY KEY, session_id BLOB NOT NULL UNIQUE,"
    " user_id BLOB NOT NULL, created_ms INTEGER NOT NULL,"
    " updated_ms INTEGER NOT NULL);"
    "CREATE INDEX sessions_user ON sessions(user_id, updated_ms);"
    "CREATE TABLE session_items("
    " id INTEGER PRIMARY KEY, sess INTEGER NOT NULL, item TEXT NOT NULL,"
    " created_ms INTEGER NOT NULL);"
    "CREATE INDEX session_items_sess ON session_items(sess, id);",
    /* 2: the full-text index gets a second column, fts_ns, holding one
     * synthetic token per namespace prefix level of the row (see
     * ns_tokens_fn); a scoped search ANDs the scope's token in with a
     * column filter, so FTS5 intersects posting lists instead of ranking
     * the whole database. The column is computed, not stored: the
     * content table is a view over items. The tokens are keyed by a
     * random per-database salt. migrate() rebuilds the index after. */
    "INSERT OR IGNORE INTO store_meta(k, v)"
    " VALUES ('fts_ns_salt', printf('%lld', random()));"
    "DROP TABLE IF EXISTS items_fts;"
    "CREATE VIEW items_fts_src AS"
    " SELECT id, text, am_ns_tokens(ns) AS fts_ns FROM items;"
    "CREATE VIRTUAL TABLE items_fts USING fts5(text, fts_ns,"
    " content='items_fts_src', content_rowid='id',"
    " tokenize='porter unicode61 remove_diacritics 2');"
    /* ORDER BY rank: BM25 over the text column only. */
    "INSERT INTO items_fts(items_fts, rank) VALUES ('rank', 'bm25(1.0, 0.0)');",
    /* 3: no automatic merging of the full-text index's segments; every
     * write transaction merges a little instead (am__store_commit). FTS5's
     * automerge works in units of 64 leaf pages times the index's levels,
     * so one small commit in ~60 did 15-50 ms of merging while the HTTP
     * server's other puts waited for it. The setting lives in the index's
     * %_config table, which is why it is a migration. */
    "INSERT INTO items_fts(items_fts, rank) VALUES ('automerge', 0);",
    /* 4: a change stamp per row, so that a handle's vector cache catches
     * up on the rows changed since its last look instead of reloading
     * every vector after any write (store_sqlite_vec.c). Every write to a
     * row set `chg` to one above the largest in the table (until schema
     * 5): write transactions are serialized, so stamps grow in commit
     * order.
     * Hard deletes leave no row to stamp; they bump `vec_epoch` instead,
     * which makes every cache reload in full. Rows written before this
     * step keep 0, which a cache loaded in full has seen. */
    "ALTER TABLE items ADD COLUMN chg INTEGER NOT NULL DEFAULT 0;"
    "CREATE INDEX items_chg ON items(chg);"
    "INSERT OR IGNORE INTO store_meta(k, v) VALUES ('vec_epoch', '0');",
    /* 5: an inserted row is no longer stamped; only a write to an
     * existing row (update, soft delete, undo) is, with one stamp per
     * write transaction (am__sq_txn_stamp), and the index holds the
     * stamped rows only. A new row is found by its id instead: rowids
     * are handed out above the largest, so the rows inserted since a
     * look are those above the largest id it saw (a hard delete, which
     * could let an id be handed out again, bumps vec_epoch: a full
     * reload). Stamping inserts, with a max(chg) seek and an index entry
     * per row, cost batched puts 16-25% at 1M items (docs/BENCHMARKS.md).
     * Existing stamps are kept, so that new ones stay above those any
     * handle has seen. */
    "DROP INDEX items_chg;"
    "CREATE INDEX items_chg ON items(chg)"
    " WHERE chg > 0;", /* in three pieces: clang takes two for a lost comma */
    /* 6: a new row's first history event ("add", at its created_ms, by
     * `add_actor`) is kept in the row instead of in item_history: the
     * history row was 15% of a batched put's instructions (7,750 of
     * 51,700 per item at 100,000 items; docs/BENCHMARKS.md). The first
     * write to the row in place (update, soft delete, undo) moves the
     * event into item_history as sequence 1 and sets add_actor to NULL,
     * before created_ms can change, so an item's events are either that
     * one implicit event or rows of item_history, never both. Rows
     * written before this step have their event in item_history already
     * (add_actor NULL). */
    "ALTER TABLE items ADD COLUMN add_actor TEXT;",
};

/* The first row of a vector cache load: the newest stamp, the largest row
 * id and the hard-delete epoch, read by the same statement -- in the same
 * snapshot -- as the rows after it; its NULL id sorts first. "chg > 0"
 * lets SQLite use the partial index (schema 5) for the max(). */
#define VC_META "SELECT NULL, (SELECT max(id) FROM items)," \
                " (SELECT max(chg) FROM items WHERE chg > 0), NULL," \
                " (SELECT CAST(v AS INTEGER) FROM store_meta" \
                " WHERE k = 'vec_epoch') UNION ALL "
/* The vector cache's columns of an item row; a deleted row comes without
 * its vector (a tombstone in the cache). */
#define VC_ROW "SELECT id, ns, expires_ms, CASE WHEN deleted_ms IS NULL" \
               " THEN vec END, NULL FROM items"

/* Item rows are read in one shape everywhere (see am__rb_add_row). */
#define ROW_COLS "ns, key, value, meta, text, created_ms, updated_ms, " \
                 "expires_ms"
#define LIVE "deleted_ms IS NULL AND (expires_ms IS NULL OR expires_ms > ?1)"

static const char *const sql_text[Q_COUNT_] = {
    /* Deferred: a read snapshot, taken by the first SELECT. */
    [Q_READ_BEGIN] = "BEGIN",
    [Q_DATA_VERSION] = "PRAGMA data_version",
    [Q_FTS_MERGE] = "INSERT INTO items_fts(items_fts, rank) VALUES ('merge', ?1)",
    [Q_META_GET] = "SELECT v FROM store_meta WHERE k = ?1",
    [Q_META_SET] = "INSERT INTO store_meta(k, v) VALUES (?1, ?2)"
                   " ON CONFLICT(k) DO UPDATE SET v = excluded.v",
    [Q_ITEM_FIND] = "SELECT id, value, meta, deleted_ms, expires_ms,"
                    " created_ms, text FROM items WHERE ns = ?1 AND key = ?2",
    /* The writers' Q_ITEM_FIND: column 7 is the implicit first event's
     * actor (schema 6; NULL: none), which a write in place moves into
     * item_history. Readers keep Q_ITEM_FIND, which a read-only handle
     * on an older file can prepare. */
    [Q_ITEM_FIND_W] = "SELECT id, value, meta, deleted_ms, expires_ms,"
                      " created_ms, text, add_actor FROM items"
                      " WHERE ns = ?1 AND key = ?2",
    /* ?10: the actor of the row's implicit "add" event (schema 6). */
    [Q_ITEM_INSERT] = "INSERT INTO items(ns, key, value, meta, text,"
                      " created_ms, updated_ms, expires_ms, vec_model, vec,"
                      " add_actor)"
                      " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6, ?7, ?8, ?9, ?10)"
                      " ON CONFLICT(ns, key) DO NOTHING",
    /* ?3 is the row's namespace tokens (am__sq_ns_tokens), from the
     * encoded namespace the writer has at hand (it just wrote or found
     * the row by it; a row's namespace never changes). Looking it up by
     * id instead cost a B-tree search per put, and am_ns_tokens() in the
     * statement formatted the same tokens again for every row. */
    [Q_FTS_ADD] = "INSERT INTO items_fts(rowid, text, fts_ns) VALUES (?1, ?2,"
                  " ?3)",
    [Q_FTS_DEL] = "INSERT INTO items_fts(items_fts, rowid, text, fts_ns)"
                  " VALUES ('delete', ?1, ?2, ?3)",
    [Q_ITEM_UPDATE] = "UPDATE items SET value = ?2, meta = ?3, text = ?4,"
                      " created_ms = ?5, updated_ms = ?6, expires_ms = ?7,"
                      " vec_model = ?8, vec = ?9, deleted_ms = NULL,"
                      " chg = ?10, add_actor = NULL WHERE id = ?1",
    [Q_ITEM_SOFTDEL] = "UPDATE items SET deleted_ms = ?2, chg = ?3,"
                       " add_actor = NULL WHERE id = ?1",
    /* The largest stamp, by one seek to the end of items_chg (in
     * coalesce() SQLite would scan: the caller maps NULL to 0). */
    [Q_CHG_MAX] = "SELECT max(chg) FROM items WHERE chg > 0",
    [Q_ITEM_GET] = "SELECT value FROM items WHERE ns = ?2 AND key = ?3"
                   " AND " LIVE,
    [Q_ITEM_ROW] = "SELECT " ROW_COLS " FROM items WHERE id = ?2 AND " LIVE,
    [Q_HIST_ADD] = "INSERT INTO item_history(item_id, seq, event, old_value,"
                   " old_meta, at_ms, actor) VALUES (?1, coalesce((SELECT"
                   " max(seq) FROM item_history WHERE item_id = ?1), 0) + 1,"
                   " ?2, ?3, ?5, ?7, ?8)",
    [Q_HIST_FIRST] = "INSERT INTO item_history(item_id, seq, event,"
                     " old_value, old_meta, at_ms, actor)"
                     " VALUES (?1, 1, ?2, ?3, ?5, ?7, ?8)",
    /* An item's events: the implicit "add" kept in its row (schema 6,
     * sequence 0) or its rows in item_history -- never both. */
    [Q_HIST_LAST] = "SELECT event, old_value, old_meta FROM (SELECT 'add'"
                    " AS event, NULL AS old_value, NULL AS old_meta, 0 AS seq"
                    " FROM items WHERE id = ?1 AND add_actor IS NOT NULL"
                    " UNION ALL SELECT event, old_value, old_meta, seq"
                    " FROM item_history WHERE item_id = ?1)"
                    " ORDER BY seq DESC LIMIT 1",
    [Q_HIST_LIST] = "SELECT 'add', NULL, created_ms, add_actor, NULL, 0"
                    " FROM items WHERE id = ?1 AND add_actor IS NOT NULL"
                    " UNION ALL SELECT h.event, h.old_value, h.at_ms, h.actor,"
                    " h.old_meta, h.seq FROM item_history h"
                    " WHERE h.item_id = ?1 ORDER BY 6",
    /* Q_HIST_LIST for a read-only handle on a file before schema 6. */
    [Q_HIST_LIST_5] = "SELECT h.event, h.old_value, h.at_ms, h.actor,"
                      " h.old_meta FROM item_history h"
                      " WHERE h.item_id = ?1 ORDER BY h.seq",
    [Q_LIST] = "SELECT " ROW_COLS " FROM items WHERE ns >= ?2 AND ns < ?3"
               " AND " LIVE " ORDER BY ns, key LIMIT ?4 OFFSET ?5",
    [Q_NS_LIST] = "SELECT DISTINCT ns FROM items WHERE ns >= ?2 AND ns < ?3"
                  " AND " LIVE " ORDER BY ns",
    /* Let FTS5 rank and cut (ORDER BY rank LIMIT; rank is BM25 over the
     * text column, see migration 2); dead rows and, in a scoped search,
     * rows outside the namespace are dropped after (the query ANDs in the
     * scope's namespace token, so only a token collision could bring
     * one: it costs time, never returns a foreign row), and the caller
     * deepens the limit if too few remain. */
    [Q_FTS_TOP] = "SELECT f.rowid, -f.rank, i.ns, i.deleted_ms IS NULL AND"
                  " (i.expires_ms IS NULL OR i.expires_ms > ?1) FROM"
                  " (SELECT rowid, rank FROM items_fts WHERE items_fts"
                  " MATCH ?2 ORDER BY rank LIMIT ?3) f"
                  " LEFT JOIN items i ON i.id = f.rowid ORDER BY f.rank",
    /* Scoped search: ranked by am_bm25 with IDFs counted in the scope
     * (?4), cut by LIMIT like Q_FTS_TOP. */
    [Q_FTS_SCOPED] = "SELECT f.rowid, f.sc, i.ns, i.deleted_ms IS NULL AND"
                     " (i.expires_ms IS NULL OR i.expires_ms > ?1) FROM"
                     " (SELECT rowid, am_bm25(items_fts, ?4) AS sc"
                     " FROM items_fts WHERE items_fts MATCH ?2"
                     " ORDER BY sc DESC LIMIT ?3) f"
                     " LEFT JOIN items i ON i.id = f.rowid ORDER BY f.sc DESC",
    /* Matching rows of one term, counted up to ?2 (no ranking: cheap). */
    [Q_FTS_DF] = "SELECT count(*) FROM (SELECT 1 FROM items_fts"
                 " WHERE items_fts MATCH ?1 LIMIT ?2)",
    /* The vector cache (store_sqlite_vec.c): every live vector; the rows
     * inserted (id above ?2) or stamped (chg above ?1) since a look, in
     * id order; and every live vector of a file older than migration 4,
     * opened read-only (no stamps to catch up by). INDEXED BY: to save
     * sorting the few changed rows by id, the planner would scan the
     * whole table in id order instead. The same statement serves a
     * schema 4 file opened read-only, whose inserts are stamped too (and
     * come once, by their id). */
    [Q_VEC_FULL] = VC_META "SELECT id, ns, expires_ms, vec, NULL FROM items"
                   " WHERE vec IS NOT NULL AND deleted_ms IS NULL",
    [Q_VEC_SINCE] = VC_META VC_ROW " WHERE id > ?2 UNION ALL " VC_ROW
                    " INDEXED BY items_chg WHERE chg > ?1 AND chg > 0"
                    " AND id <= ?2 ORDER BY 1",
    [Q_VEC_PLAIN] = "SELECT id, ns, expires_ms, vec FROM items"
                    " WHERE vec IS NOT NULL AND deleted_ms IS NULL",
    [Q_VEC_EPOCH] = "UPDATE store_meta SET v = CAST(v AS INTEGER) + 1"
                    " WHERE k = 'vec_epoch'",
    [Q_SESS_FIND] = "SELECT id, user_id FROM sessions WHERE session_id = ?1",
    [Q_SESS_NEW] = "INSERT INTO sessions(session_id, user_id, created_ms,"
                   " updated_ms) VALUES (?1, ?2, ?3, ?3)",
    [Q_SESS_TOUCH] = "UPDATE sessions SET updated_ms = ?2 WHERE id = ?1",
    [Q_SESS_ITEM_ADD] = "INSERT INTO session_items(sess, item, created_ms)"
                        " VALUES (?1, ?2, ?3)",
    [Q_SESS_ITEMS] = "SELECT item FROM (SELECT id, item FROM session_items"
                     " WHERE sess = ?1 ORDER BY id DESC LIMIT ?2)"
                     " ORDER BY id",
    [Q_SESS_LAST] = "SELECT id, item FROM session_items WHERE sess = ?1"
                    " ORDER BY id DESC LIMIT 1",
    [Q_SESS_ITEM_DEL] = "DELETE FROM session_items WHERE id = ?1",
};

/* The store's calls into the SQLite layer (src/db). The layer reports
 * into a local am_error that is copied into the calling thread's slot
 * only on failure: finding the slot takes the error table's lock, which
 * a successful get should not pay. */

am_status am__store_dberr(am_store *s, int rc, const char *what,
                          sqlite3_stmt *q)
{
    return am__sqldb_fail(SQ(s)->db, &AM__ERR(s), rc, what, q);
}

sqlite3_stmt *am__store_stmt(am_store *s, int id)
{
    am_error e = { AM_OK, "" };
    sqlite3_stmt *q = am__sqldb_stmt(SQ(s)->db, (size_t)id, &e);
    if (q == NULL)
        am__error_copy(&AM__ERR(s), &e);
    return q;
}

am_status am__store_exec(am_store *s, const char *sql)
{
    am_error e = { AM_OK, "" };
    am_status st = am__sqldb_exec(SQ(s)->db, sql, &e);
    return st == AM_OK ? AM_OK : am__error_copy(&AM__ERR(s), &e);
}

am_status am__sq_exec_once(am_store *s, const char *sql, am_str b1,
                           am_str b2, int64_t i3, size_t *changed)
{
    sqlite3_stmt *q = NULL;
    int rc = sqlite3_prepare_v2(SQ(s)->db->conn, sql, -1, &q, NULL);
    am_status st = AM_OK;

    if (rc != SQLITE_OK)
        return am__sqldb_fail_sql(SQ(s)->db, &AM__ERR(s), rc, "prepare",
                                  sql);
    if (b1.ptr != NULL)
        am__store_bind_str(q, 1, b1, 1);
    if (b2.ptr != NULL)
        am__store_bind_str(q, 2, b2, 1);
    sqlite3_bind_int64(q, 3, i3);
    rc = sqlite3_step(q);
    if (rc != SQLITE_DONE)
        st = am__store_dberr(s, rc, "write", q);
    else if (changed != NULL)
        *changed += (size_t)sqlite3_changes(SQ(s)->db->conn);
    sqlite3_finalize(q);
    return st;
}

am_status am__store_step_done(am_store *s, int id, const char *what)
{
    am_error e = { AM_OK, "" };
    am_status st = am__sqldb_step_done(SQ(s)->db, SQ(s)->db->stmts[id],
                                       what, &e);
    return st == AM_OK ? AM_OK : am__error_copy(&AM__ERR(s), &e);
}

am_status am__store_begin(am_store *s)
{
    am_error e = { AM_OK, "" };
    am_status st = am__sqldb_begin(SQ(s)->db, &e);
    SQ(s)->fts_bytes = 0;
    SQ(s)->txn_chg = 0;
    return st == AM_OK ? AM_OK : am__error_copy(&AM__ERR(s), &e);
}

am_status am__sq_txn_stamp(am_store *s, int64_t *out)
{
    am__sqlite *db = SQ(s);
    assert(!sqlite3_get_autocommit(db->db->conn)); /* inside the write */
    if (db->txn_chg == 0) {
        sqlite3_stmt *q = am__store_stmt(s, Q_CHG_MAX);
        if (q == NULL)
            return AM__ERR(s).code;
        int rc = sqlite3_step(q);
        if (rc != SQLITE_ROW) {
            am_status st = am__store_dberr(s, rc, "change stamp", q);
            sqlite3_reset(q);
            return st;
        }
        db->txn_chg = sqlite3_column_int64(q, 0) + 1; /* NULL: 0 */
        sqlite3_reset(q);
    }
    *out = db->txn_chg;
    return AM_OK;
}

am_status am__store_read_begin(am_store *s, int *began)
{
    *began = 0;
    if (!sqlite3_get_autocommit(SQ(s)->db->conn))
        return AM_OK;   /* already inside a transaction: read in it */
    if (am__store_stmt(s, Q_READ_BEGIN) == NULL)
        return AM__ERR(s).code;
    am_status st = am__store_step_done(s, Q_READ_BEGIN,
                                       "begin read transaction");
    *began = st == AM_OK;
    return st;
}

void am__store_read_end(am_store *s, int began)
{
    am_error e = { AM_OK, "" };
    if (!began || sqlite3_get_autocommit(SQ(s)->db->conn))
        return;
    /* A read transaction has nothing to commit; COMMIT only releases the
     * snapshot. Should it fail, ROLLBACK does the same, so that the next
     * write does not find a transaction still open. */
    if (am__sqldb_commit(SQ(s)->db, &e) != AM_OK)
        am__sqldb_rollback(SQ(s)->db);
}

/* The full-text index's merging, which migration 3 took from FTS5's
 * automerge: before a transaction that wrote to the index commits, merge
 * up to FTS_MERGE_PAGES(bytes) pages of segments on any level holding 4
 * or more (FTS5's default usermerge), `bytes` being the text indexed or
 * removed. FTS5 itself merges about as many pages per leaf written as
 * the index has levels (under ~10), but all of it in every 64th leaf's
 * commit: 15-50 ms of CPU in one small commit in ~60, while the HTTP
 * server's other puts waited. Here every commit does its share: a leaf
 * page holds ~4 KB of index (about as much text), so 8 pages plus one
 * per 256 bytes keeps up with twice the need, and a commit of a few
 * short items merges at most ~10 pages. Should the merging still fall
 * behind, FTS5's crisis merge (16 segments on a level) bounds the index.
 * Measured in docs/BENCHMARKS.md ("The put tail: full-text merges"). */
#define FTS_MERGE_PAGES(bytes) (8 + (int64_t)((bytes) / 256))

void am__sq_fts_wrote(am_store *s, size_t bytes)
{
    /* At least a token's worth: an empty text still adds a row entry. */
    SQ(s)->fts_bytes += bytes > 16 ? bytes : 16;
}

static am_status fts_merge_step(am_store *s)
{
    sqlite3_stmt *q;
    size_t bytes = SQ(s)->fts_bytes;

    SQ(s)->fts_bytes = 0;
    if (bytes == 0)
        return AM_OK;
    q = am__store_stmt(s, Q_FTS_MERGE);
    if (q == NULL)
        return AM__ERR(s).code;
    /* FTS5 reads the page count as an int. */
    sqlite3_bind_int64(q, 1, FTS_MERGE_PAGES(bytes < ((size_t)1 << 30)
                                                 ? bytes
                                                 : ((size_t)1 << 30)));
    return am__store_step_done(s, Q_FTS_MERGE, "full-text merge");
}

am_status am__store_commit(am_store *s)
{
    am_error e = { AM_OK, "" };
    am_status st = fts_merge_step(s);
    if (st != AM_OK)
        return st;
    st = am__sqldb_commit(SQ(s)->db, &e);
    return st == AM_OK ? AM_OK : am__error_copy(&AM__ERR(s), &e);
}

void am__store_rollback(am_store *s)
{
    SQ(s)->fts_bytes = 0;
    SQ(s)->txn_chg = 0;
    am__sqldb_rollback(SQ(s)->db);
}

/* ---- Namespace tokens ---- */

/* The token of the encoded namespace prefix [enc, enc + len): 20 decimal
 * digits of a salted 64-bit hash. Digits only, so the porter stemmer
 * leaves it alone; it is indexed in the fts_ns column only, and user
 * terms are filtered to the text column, so no user text can produce or
 * match it. */
void am__sq_ns_token(const am__sqlite *q, const void *enc, size_t len,
                     char out[AM__NS_TOKEN_LEN + 1])
{
    am__u64_dec(am__hash64(enc, len, q->ns_salt), AM__NS_TOKEN_LEN, out);
}

/* The number of prefix levels of an encoded namespace: each part ends
 * with 0x1f (escapes never produce 0x1f). */
static size_t ns_levels(const unsigned char *ns, size_t len)
{
    size_t levels = 0;
    for (size_t i = 0; i < len; i++)
        levels += ns[i] == 0x1f;
    return levels;
}

/* The tokens of every prefix level of the encoded namespace [ns, ns +
 * len), space separated, into `out` (room for ns_levels() *
 * (AM__NS_TOKEN_LEN + 1) bytes); returns their length. */
static size_t ns_tokens_into(const am__sqlite *q, const unsigned char *ns,
                             size_t len, char *out)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        if (ns[i] != 0x1f)
            continue;
        char tok[AM__NS_TOKEN_LEN + 1];
        am__sq_ns_token(q, ns, i + 1, tok);
        if (n > 0)
            out[n++] = ' ';
        memcpy(out + n, tok, AM__NS_TOKEN_LEN);
        n += AM__NS_TOKEN_LEN;
    }
    return n;
}

/* am_ns_tokens(ns BLOB): the tokens of every prefix level of an encoded
 * namespace. The writers bind the same text from am__sq_ns_tokens; this
 * function serves the statements that read namespaces from the table
 * (the content view items_fts_src, purges). */
static void ns_tokens_fn(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    const am__sqlite *q = sqlite3_user_data(ctx);
    const unsigned char *ns = sqlite3_value_blob(argv[0]);
    size_t len = (size_t)sqlite3_value_bytes(argv[0]);
    size_t levels = ns_levels(ns, len);
    (void)argc;
    if (levels == 0) {
        sqlite3_result_text(ctx, "", 0, SQLITE_STATIC);
        return;
    }
    char *out = sqlite3_malloc64(levels * (AM__NS_TOKEN_LEN + 1));
    if (out == NULL) {
        sqlite3_result_error_nomem(ctx);
        return;
    }
    size_t n = ns_tokens_into(q, ns, len, out);
    sqlite3_result_text(ctx, out, (int)n, sqlite3_free);
}

am_status am__sq_ns_tokens(am_store *s, am_str enc, am_str *out)
{
    am__sqlite *q = SQ(s);
    const unsigned char *ns = (const unsigned char *)enc.ptr;
    size_t levels = ns_levels(ns, enc.len);

    *out = (am_str){ "", 0 };
    if (levels == 0)
        return AM_OK;
    am__sqtoks *e = &q->toks[am__hash64(ns, enc.len, 0) % AM__SQ_TOKSETS];
    if (e->ns_len == enc.len && memcmp(e->b.ptr, ns, enc.len) == 0) {
        *out = (am_str){ e->b.ptr + enc.len, e->b.len - enc.len };
        return AM_OK;
    }
    e->ns_len = 0;
    e->b.alloc = s->alloc;
    am_buf_clear(&e->b);
    if (am_buf_reserve(&e->b, enc.len + levels * (AM__NS_TOKEN_LEN + 1)) !=
        AM_OK)
        return am__fail(&AM__ERR(s), AM_ENOMEM, "namespace tokens: out "
                        "of memory");
    memcpy(e->b.ptr, ns, enc.len);
    e->b.len = enc.len + ns_tokens_into(q, ns, enc.len, e->b.ptr + enc.len);
    e->ns_len = enc.len;
    *out = (am_str){ e->b.ptr + enc.len, e->b.len - enc.len };
    return AM_OK;
}

/* Read the per-database salt of the namespace tokens (0 before the
 * version 2 migration ran). From version 2 on the row is part of the
 * store: without it (or with a value that is not a number) every scoped
 * text search would silently find nothing, so the store refuses to open
 * and says what is missing. */
static am_status load_salt(am_store *s)
{
    sqlite3_stmt *q = NULL;
    int64_t salt = 0;
    am_status bad = AM_OK;
    int version = 0;
    int rc = sqlite3_prepare_v2(SQ(s)->db->conn, "SELECT v FROM store_meta"
                                " WHERE k = 'fts_ns_salt'", -1, &q, NULL);
    if (rc == SQLITE_OK) {
        rc = sqlite3_step(q);
        if (rc == SQLITE_ROW) {
            const char *v = (const char *)sqlite3_column_text(q, 0);
            bad = v != NULL ? am__parse_i64(am_str_c(v), INT64_MIN,
                                            INT64_MAX, &salt)
                            : AM_EFORMAT;
            rc = SQLITE_OK;
        } else if (rc == SQLITE_DONE) {
            am_error e = { AM_OK, "" };
            if (am__sqldb_schema_version(SQ(s)->db, "store", &version,
                                         &e) == AM_OK &&
                version >= 2)
                bad = AM_ENOTFOUND;
            rc = SQLITE_OK;
        }
    }
    if (rc != SQLITE_OK && rc != SQLITE_ERROR) { /* ERROR: no table yet */
        am_status st = am__store_dberr(s, rc, "schema", q);
        sqlite3_finalize(q);
        return st;
    }
    sqlite3_finalize(q);
    if (bad != AM_OK)
        return am__fail(&AM__ERR(s), AM_EFORMAT, "store metadata: the row "
                        "'fts_ns_salt' of table store_meta is %s (the file "
                        "was changed outside agentmem); without it scoped "
                        "text search cannot find anything, so the store "
                        "will not open. Restore the file from a backup",
                        bad == AM_ENOTFOUND ? "missing" : "not a number");
    SQ(s)->ns_salt = (uint64_t)salt;
    return AM_OK;
}

/* ---- Open and close ---- */

/* After migration step 2 (the namespace tokens): index every row, with
 * its tokens, again. */
static am_status after_step(void *ctx, int reached, am_error *err)
{
    am_store *s = ctx;
    am_status st = AM_OK;

    if (reached != 2)
        return AM_OK;
    st = load_salt(s);
    if (st == AM_OK)
        st = am__store_exec(s, "INSERT INTO items_fts(items_fts)"
                               " VALUES ('rebuild')");
    if (st != AM_OK)
        am__error_copy(err, &AM__ERR(s));
    return st;
}

/* The store's settings on top of the layer's: a 32 MB page cache
 * (SQLite's default is 2 MB: at a million items the key index and the
 * full-text index's doc-size table no longer fit in 2 MB, and every put
 * and every BM25 score paid for re-reading their pages; measured in
 * docs/BENCHMARKS.md, issue 5), and a WAL checkpoint every 8192 pages
 * (32 MB) instead of 1000, so that index pages rewritten by many batches
 * are copied back once, not per batch. Reads of the database file are
 * memory-mapped (up to 2 GB, as the tiers' database): a get that misses
 * the page cache then costs a page fault, not a pread() and a copy per
 * page. bench_store, 1,000,000 items, CPU time per get under load: p99
 * 1.24x raw SQLite -> 1.14x, p50 1.08x -> 0.74x (issue 11). Writes still
 * go through write(), so durability is unchanged. With manual_checkpoint
 * the threshold is a backstop only: am_store_checkpoint does the work. */
static am_status sq_open(am_store *s, const char *path,
                         const am_store_opts *o, am_error *err)
{
    am__sqldb_opts dbo = {
        .module = "store",
        .sql = sql_text,
        .nsql = Q_COUNT_,
        .busy_timeout_ms = s->busy_timeout_ms,
        .read_only = o->read_only,
        .sync_full = o->sync_full,
        .cache_kib = 32768,
        .mmap_bytes = 2147418112,
        .wal_autocheckpoint = o->manual_checkpoint ? 65536 : 8192,
        .key = o->key,
    };
    const am__sqldb_schema schema = {
        .module = "store",
        .version = STORE_SCHEMA_VERSION,
        .steps = migrations,
        .after = after_step,
        .ctx = s,
    };
    am__sqlite *q;
    am_error e = { AM_OK, "" };
    am_status st;
    int rc;

    q = am__calloc(s->alloc, 1, sizeof *q);
    if (q == NULL)
        return am__fail(err, AM_ENOMEM, "store open: out of memory");
    s->impl = q;
    q->get_ns.alloc = s->alloc;
    st = am__sqldb_open(path, &dbo, s->alloc, &q->db, err);
    if (st != AM_OK)
        return st;
    rc = sqlite3_create_function(q->db->conn, "am_ns_tokens", 1,
                                 SQLITE_UTF8 | SQLITE_DETERMINISTIC |
                                     SQLITE_INNOCUOUS,
                                 q, ns_tokens_fn, NULL, NULL);
    if (rc != SQLITE_OK)
        return am__fail(err, rc == SQLITE_NOMEM ? AM_ENOMEM : AM_EIO,
                        "store open '%s': %s", path,
                        sqlite3_errmsg(q->db->conn));
    if (o->read_only) {
        st = am__sq_register_rank(q->db->conn);
        if (st != AM_OK)
            return am__fail(err, st, "store open '%s': FTS5 ranking "
                            "function", path);
        st = load_salt(s);
        if (st != AM_OK) {
            am__error_copy(err, &AM__ERR(s));
            return st;
        }
        /* Not migrated: a file from before the change stamps is read
         * without them (the vector cache reloads in full). */
        int version = 0;
        st = am__sqldb_schema_version(q->db, "store", &version, &e);
        if (st != AM_OK)
            return am__fail(err, st, "store open '%s': %s", path, e.msg);
        q->has_chg = version >= 4;
        q->has_add_actor = version >= 6;
        return AM_OK;
    }
    st = am__sqldb_migrate(q->db, &schema, &e);
    if (st != AM_OK)
        return am__fail(err, st, "store open '%s': %s", path, e.msg);
    q->has_chg = 1;
    q->has_add_actor = 1;
    st = load_salt(s);
    /* After the journal mode and the migration: a statement here must
     * not hold a read lock while another process sets up the file. */
    if (st == AM_OK && am__sq_register_rank(q->db->conn) != AM_OK)
        st = am__fail(&AM__ERR(s), AM_EIO, "FTS5 ranking function");
    if (st != AM_OK) {
        am__error_copy(err, &AM__ERR(s));
        if (st == AM_EIO)
            am__fail(err, AM_EIO, "store open '%s': %s", path, AM__ERR(s).msg);
    }
    return st;
}

am_status am__rb_add_row(am__rbuild *b, sqlite3_stmt *st, int col,
                         am_item **out)
{
    am__row row;
    am_str *str[5] = { &row.ns, &row.key, &row.value, &row.meta, &row.text };
    for (int i = 0; i < 5; i++) {
        const char *p = sqlite3_column_blob(st, col + i);
        *str[i] = (am_str){ p != NULL ? p : "",
                            (size_t)sqlite3_column_bytes(st, col + i) };
    }
    row.created_ms = sqlite3_column_int64(st, col + 5);
    row.updated_ms = sqlite3_column_int64(st, col + 6);
    row.expires_ms = sqlite3_column_int64(st, col + 7);
    return am__rb_item(b, &row, out);
}

static void sq_close(am_store *s)
{
    am__sqlite *q = SQ(s);
    if (q == NULL)
        return;
    am__sqldb_close(q->db);
    am_buf_free(&q->get_ns);
    for (size_t i = 0; i < AM__SQ_TOKSETS; i++)
        am_buf_free(&q->toks[i].b);
    am__free(s->alloc, q, sizeof *q);
    s->impl = NULL;
}

const am__store_backend am__store_backend_sqlite = {
    .name = "sqlite",
    .open = sq_open,
    .close = sq_close,
    .write = am__sq_write,
    .get = am__sq_get,
    .get_item = am__sq_get_item,
    .list = am__sq_list,
    .namespaces = am__sq_namespaces,
    .history = am__sq_history,
    .search = am__sq_search,
    .vec_model = am__sq_vec_model,
    .begin = am__store_begin,
    .commit = am__store_commit,
    .rollback = am__store_rollback,
    .delete_items = am__sq_delete_items,
    .release_vec_model = am__sq_release_vec_model,
    .prune_history = am__sq_prune_history,
    .prune_sessions = am__sq_prune_sessions,
    .undo_find = am__sq_undo_find,
    .undo_done = am__sq_undo_done,
    .undo_delete = am__sq_undo_delete,
    .undo_restore = am__sq_undo_restore,
    .vacuum = am__sq_vacuum,
    .check = am__sq_check,
    .checkpoint = am__sq_checkpoint,
    .session_add = am__sq_session_add,
    .session_get = am__sq_session_get,
    .session_pop = am__sq_session_pop,
    .session_clear = am__sq_session_clear,
    .session_list = am__sq_session_list,
    .reembed = am__sq_reembed,
};
