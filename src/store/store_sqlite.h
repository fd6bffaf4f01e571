/* store_sqlite.h -- internals of the SQLite backend (not installed). */
#ifndef AM_STORE_SQLITE_H
#define AM_STORE_SQLITE_H

#include <sqlite3.h>

#include "db/sqlite_db.h"
#include "store_int.h"

/* The backend's statements (sql_text in store_sqlite.c), cached by the
 * SQLite layer (src/db) and prepared on first use. */
enum {
    Q_META_GET,
    Q_META_SET,
    Q_ITEM_FIND,
    Q_ITEM_FIND_W,
    Q_ITEM_INSERT,
    Q_FTS_ADD,
    Q_FTS_DEL,
    Q_ITEM_UPDATE,
    Q_ITEM_SOFTDEL,
    Q_CHG_MAX,
    Q_ITEM_GET,
    Q_ITEM_ROW,
    Q_HIST_ADD,
    Q_HIST_FIRST,
    Q_HIST_LAST,
    Q_HIST_LIST,
    Q_HIST_LIST_5,
    Q_LIST,
    Q_NS_LIST,
    Q_FTS_TOP,
    Q_FTS_SCOPED,
    Q_FTS_DF,
    Q_VEC_FULL,
    Q_VEC_SINCE,
    Q_VEC_PLAIN,
    Q_VEC_EPOCH,
    Q_SESS_FIND,
    Q_SESS_NEW,
    Q_SESS_TOUCH,
    Q_SESS_ITEM_ADD,
    Q_SESS_ITEMS,
    Q_SESS_LAST,
    Q_SESS_ITEM_DEL,
    Q_READ_BEGIN,
    Q_DATA_VERSION,
    Q_FTS_MERGE,
    Q_COUNT_
};

/* Full-text row counts kept between searches (store_sqlite_text.c): a
 * scoped search counts the scope's rows and each term's rows in it to
 * weigh the terms, and those walks over whole doclists were about a third
 * of a hybrid search over 10,000 items. The counts stay valid while the
 * file does not change: the stamp is PRAGMA data_version (commits of other
 * connections) and sqlite3_total_changes64 (this connection's writes). */
#define AM__SQ_COUNTS 64
typedef struct am__sqcount {
    char match[168];   /* the MATCH expression counted ("" : unused) */
    int64_t cap, n;    /* counted up to cap: n */
} am__sqcount;

typedef struct am__sqcounts {
    int64_t data_version, changes;
    size_t next;       /* the entry to replace next (round robin) */
    int off;           /* this search counts without the cache */
    am__sqcount e[AM__SQ_COUNTS];
} am__sqcounts;

/* Namespace tokens remembered by a write handle (am__sq_ns_tokens): a
 * batch's items come from a few namespaces, and formatting their tokens
 * (two salted hashes as 20 digits each, for a two-level namespace) for
 * every row was 3% of a put's instructions. Direct-mapped by a hash of
 * the encoded namespace. */
#define AM__SQ_TOKSETS 32
typedef struct am__sqtoks {
    size_t ns_len;     /* the encoded namespace's length (0: unused) */
    am_buf b;          /* the encoded namespace, then its tokens */
} am__sqtoks;

/* The backend's state behind am_store.impl. */
typedef struct am__sqlite {
    am__sqldb *db;     /* the connection and its statement cache */
    am_buf get_ns;     /* am__sq_get's encoded namespace, reused */
    uint64_t ns_salt; /* keys the namespace tokens (store_meta) */
    am__sqcounts counts;
    size_t fts_bytes;  /* text added to or deleted from items_fts in the
                        * open write transaction (am__store_commit) */
    int has_chg;       /* the file has change stamps (schema 4) */
    int has_add_actor; /* new rows keep their "add" event (schema 6) */
    int64_t txn_chg;   /* the open write transaction's stamp (0: none
                        * taken yet; am__sq_txn_stamp) */
    int64_t vc_chg;    /* the vector cache has seen every stamp up to this */
    int64_t vc_id;     /* and every row inserted up to this id */
    int64_t vc_epoch;  /* the hard-delete epoch it was loaded in */
    int ckpt_synced;   /* log frames copied as of am__sq_checkpoint's last
                        * sync of the database file */
    am__sqtoks toks[AM__SQ_TOKSETS];
} am__sqlite;

/* PRAGMA data_version of the connection (changes when another connection
 * commits), or -1 with the error in AM__ERR(s). */
int64_t am__sq_data_version(am_store *s);
/* Record, inside the open write transaction, that rows with vectors were
 * hard-deleted or rewritten wholesale: every handle's vector cache then
 * reloads in full (store_sqlite_vec.c). */
am_status am__sq_vec_epoch_bump(am_store *s);

/* The change stamp of the open write transaction, into *out: one above
 * the largest in the file, taken at the first row written to in place
 * (update, soft delete) and shared by every such row of the transaction.
 * Write transactions are serialized, so stamps grow in commit order and a
 * reader that saw stamp n has seen every row stamped n. */
am_status am__sq_txn_stamp(am_store *s, int64_t *out);

/* Register the am_bm25 FTS5 ranking function on `db`
 * (store_sqlite_bm25.c). */
am_status am__sq_register_rank(sqlite3 *db);

/* Length of a namespace token (digits). */
#define AM__NS_TOKEN_LEN 20
/* The full-text token of an encoded namespace prefix (see store_sqlite.c);
 * `out` gets AM__NS_TOKEN_LEN digits and a NUL. */
void am__sq_ns_token(const am__sqlite *q, const void *enc, size_t len,
                     char out[AM__NS_TOKEN_LEN + 1]);

/* The full-text tokens of the encoded namespace `enc` -- the text
 * am_ns_tokens(enc) returns in SQL -- into *out, borrowed from the
 * handle's memo until the next call on it (the writers bind them for one
 * step). AM_OK or AM_ENOMEM (detail in AM__ERR(s)). Per-handle, under the
 * store's lock like every backend call. */
am_status am__sq_ns_tokens(am_store *s, am_str enc, am_str *out);

#define SQ(s) ((am__sqlite *)(s)->impl)

/* A statement reset and ready for binding, or NULL (detail in AM__ERR(s)). */
sqlite3_stmt *am__store_stmt(am_store *s, int id);
/* Record a SQLite failure in AM__ERR(s) ("<what>: <sqlite message> (SQL:
 * ...)"), `q` being the statement that failed (NULL: none to name). */
am_status am__store_dberr(am_store *s, int rc, const char *what,
                          sqlite3_stmt *q);
am_status am__store_exec(am_store *s, const char *sql);
/* Prepare, run and finalize the one-off write `sql` (retention and
 * session deletes, not worth a cached statement): ?1 and ?2 bound to the
 * blobs b1 and b2 (a NULL ptr leaves them unbound), ?3 to i3; *changed
 * (may be NULL) grows by the rows changed. Errors name the SQL. */
am_status am__sq_exec_once(am_store *s, const char *sql, am_str b1,
                           am_str b2, int64_t i3, size_t *changed);
/* Step cached statement `id` (bound by the caller) to completion. */
am_status am__store_step_done(am_store *s, int id, const char *what);
/* Bind `v` as a blob (blob != 0) or text; borrowed until the step. */
void am__store_bind_str(sqlite3_stmt *q, int i, am_str v, int blob);
/* Column `i` of the current row as text ("" for NULL), borrowed until the
 * next step or reset. */
am_str am__sq_col_str(sqlite3_stmt *q, int i);
am_status am__store_begin(am_store *s);
/* Commit the write transaction; first a share of the full-text index's
 * merging, in proportion to what am__sq_fts_wrote counted. */
am_status am__store_commit(am_store *s);
/* Count `bytes` of text written to (or deleted from) items_fts in the open
 * write transaction: the merge step at commit grows with it. */
void am__sq_fts_wrote(am_store *s, size_t bytes);
/* A read transaction around several statements, so that they see one
 * snapshot and SQLite takes and drops its file locks once instead of per
 * statement (each costs fcntl and fstat calls: 57 of them per hybrid
 * search before). *began says whether one was started (not when already
 * inside a transaction); pass it to am__store_read_end. */
am_status am__store_read_begin(am_store *s, int *began);
void am__store_read_end(am_store *s, int began);
void am__store_rollback(am_store *s);

/* Append an item from a row of Q_ITEM_ROW shape starting at column `col`:
 * ns, key, value, meta, text, created, updated, expires. */
am_status am__rb_add_row(am__rbuild *b, sqlite3_stmt *st, int col,
                         am_item **out);
/* The backend's operations (see backend.h). */
am_status am__sq_write(am_store *s, const am__write *w, am__prepared *ps,
                       int64_t now);
am_status am__sq_get(am_store *s, am_ns ns, am_str key, am_buf *value);
am_status am__sq_get_item(am_store *s, am_ns ns, am_str key, am__rbuild *b);
am_status am__sq_undo_find(am_store *s, am_str enc, am_str key, int64_t now,
                           am__undo *u);
void am__sq_undo_done(am_store *s, am__undo *u);
am_status am__sq_undo_delete(am_store *s, const am__undo *u, int64_t now,
                             const char *actor);
am_status am__sq_undo_restore(am_store *s, const am__undo *u, am_str value,
                              const am__prepared *p, const char *event,
                              int64_t now, const char *actor);
am_status am__sq_list(am_store *s, am_str lo, am_str hi, size_t limit,
                      size_t offset, am__rbuild *b);
am_status am__sq_namespaces(am_store *s, am_str lo, am_str hi,
                            size_t max_depth, size_t limit, am__rbuild *b);
am_status am__sq_history(am_store *s, am_ns ns, am_str key, am__rbuild *b);
am_status am__sq_search(am_store *s, const am_search *q,
                        const am__filter *filter, const float *qemb,
                        am__rbuild *b);
am_status am__sq_vec_model(am_store *s, am_buf *out);
/* store_sqlite_reembed.c */
am_status am__sq_reembed(am_store *s, int64_t now, am_store_progress progress,
                         void *ctx, size_t *count);
/* Retention and session steps: inside the transaction the front end
 * opened (store_retention.c, backend.h), which also checked the input. */
am_status am__sq_delete_items(am_store *s, const am__doomed *d, size_t *n);
am_status am__sq_release_vec_model(am_store *s);
am_status am__sq_prune_history(am_store *s, size_t keep, size_t *n);
am_status am__sq_vacuum(am_store *s, int full);
am_status am__sq_check(am_store *s);
am_status am__sq_checkpoint(am_store *s, size_t *wal_pages,
                            size_t *left_pages);
am_status am__sq_session_add(am_store *s, am_str user_id, am_str session_id,
                             const am_str *items, size_t count, int64_t now);
am_status am__sq_session_get(am_store *s, am_str session_id, size_t limit,
                             am_buf *out);
am_status am__sq_session_pop(am_store *s, am_str session_id, am_buf *out);
am_status am__sq_session_clear(am_store *s, am_str session_id);
am_status am__sq_session_list(am_store *s, am_str user_id,
                              am__session_row_fn row, void *ctx);
am_status am__sq_prune_sessions(am_store *s, int64_t older_than_ms,
                                size_t keep_last, size_t *n);

#endif
