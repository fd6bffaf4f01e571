/* backend.h -- the seam between the store's front end and its storage.
 *
 * The front end (store_api.c) owns everything that does not depend on
 * where items live: argument checks, namespace encoding, JSON validation,
 * text derivation and embedding (outside the lock), the handle's mutex,
 * the error slot and the in-memory vector cache. A backend owns the
 * durable state: schema, transactions, rows, history, the full-text index
 * and sessions. am_store_open picks a backend from the target string:
 *
 *   "path/to/file.db", ":memory:", "sqlite:<path>"  -> SQLite (store_sqlite*.c)
 *   "postgres://...", "postgresql://..."            -> PostgreSQL (store_pg*.c)
 *   NULL or ""                                      -> $DATABASE_URL
 *
 * Contract for every operation below:
 * - it is called with s->mu held (one call at a time per handle), after the
 *   front end checked that s is not NULL -- except on a pooled handle
 *   (enter and leave below);
 * - it reports failures with am__fail(&AM__ERR(s), ...) and returns the code;
 * - a failing write changes nothing (one transaction per operation);
 * - it must pass the same test suite (tests/test_store*.c, test_recall.c,
 *   test_memory.c), which opens stores through one helper that can point
 *   the suite at another backend (AM_TEST_STORE, see tests/test_store.c).
 * The semantics of each operation are those of the public function of the
 * same name in include/agentmem/store.h.
 */
#ifndef AM_STORE_BACKEND_H
#define AM_STORE_BACKEND_H

#include "agentmem/store.h"

typedef struct am__prepared am__prepared;
typedef struct am__write am__write;
typedef struct am__rbuild am__rbuild;
typedef struct am__filter am__filter;

/* An item's row found by undo_find (below), locked for the transaction,
 * with its last history entry. The strings point into the backend's
 * results, kept in `row` and `hist` until undo_done. */
typedef struct am__undo {
    int64_t id;
    int64_t created_ms;
    bool live;                  /* not deleted nor expired at `now` */
    am_str event;               /* the last entry's: "add", "update", ... */
    am_str old_value, old_meta; /* that entry's (len 0: SQL NULL) */
    void *row, *hist;           /* the backend's */
} am__undo;

/* Which items a hard delete removes (delete_items below). */
typedef enum am__doom {
    AM__DOOM_NS,      /* encoded namespace in [lo, hi) */
    AM__DOOM_DELETED, /* soft-deleted before `t` (ms) */
    AM__DOOM_EXPIRED  /* expired at `t`: expires_ms <= t */
} am__doom;
typedef struct am__doomed {
    am__doom kind;
    am_str lo, hi; /* AM__DOOM_NS only (borrowed) */
    int64_t t;     /* the others */
} am__doomed;

/* One session of a list (am_session_list): its id (borrowed for the
 * call), item count and times. */
typedef am_status (*am__session_row_fn)(void *ctx, am_store *s,
                                        am_str session_id, int64_t items,
                                        int64_t created_ms,
                                        int64_t updated_ms);

typedef struct am__store_backend {
    const char *name;
    /* Open or create the store at `target` (the part after any scheme the
     * front end stripped) and migrate it; set s->impl. Errors go to `err`
     * with the target named. */
    am_status (*open)(am_store *s, const char *target,
                      const am_store_opts *o, am_error *err);
    /* Release s->impl (may be NULL after a failed open). */
    void (*close)(am_store *s);

    /* One write transaction: clear a namespace prefix, put prepared items,
     * soft-delete live keys (see am__write). All or nothing. */
    am_status (*write)(am_store *s, const am__write *w, am__prepared *ps,
                       int64_t now);
    am_status (*get)(am_store *s, am_ns ns, am_str key, am_buf *value);
    /* The readers that hand back results append to `b`; the front end
     * (store_results.c) begins and ends the results around them. */
    am_status (*get_item)(am_store *s, am_ns ns, am_str key,
                          am__rbuild *b);
    /* Live items in the encoded namespace range [lo, hi) in (ns, key)
     * order, `limit` (never 0) of them from `offset`. */
    am_status (*list)(am_store *s, am_str lo, am_str hi, size_t limit,
                      size_t offset, am__rbuild *b);
    /* The namespaces of live items in [lo, hi), sorted, each through
     * am__rb_namespace(b, ns, max_depth) until b holds `limit` (never
     * 0). */
    am_status (*namespaces)(am_store *s, am_str lo, am_str hi,
                            size_t max_depth, size_t limit, am__rbuild *b);
    am_status (*history)(am_store *s, am_ns ns, am_str key, am__rbuild *b);
    /* Search with the query's vector already embedded (`qemb`, the
     * store's embedder dimension, or NULL) and its metadata filter parsed
     * (`filter`, filter.h; NULL: none), which the backend applies in its
     * queries before any LIMIT; results go to `b`. */
    am_status (*search)(am_store *s, const am_search *q,
                        const am__filter *filter, const float *qemb,
                        am__rbuild *b);
    /* The embedder of the stored vectors, "<id>/<dim>" as recorded by the
     * first put with a vector, into `out` (replacing it; empty: none yet).
     * Used by the front end's query-vector check (rank.c). */
    am_status (*vec_model)(am_store *s, am_buf *out);

    /* The backend's write transaction, for the front end's retention and
     * session writes (store_retention.c), which run the steps below
     * between begin and commit and roll back on any failure. */
    am_status (*begin)(am_store *s);
    am_status (*commit)(am_store *s);
    void (*rollback)(am_store *s);
    /* Steps inside that transaction. Each adds what it removed to *n. */
    /* Hard-delete the items `which` selects, with their history and
     * full-text entries. Deleting a namespace and purging are these and
     * release_vec_model, composed by the front end (store_retention.c). */
    am_status (*delete_items)(am_store *s, const am__doomed *which,
                              size_t *n);
    /* Forget the embedder of the stored vectors (see vec_model) when no
     * item holds a vector any more, so that another embedder may start
     * a new index. */
    am_status (*release_vec_model)(am_store *s);
    am_status (*prune_history)(am_store *s, size_t keep, size_t *n);
    am_status (*prune_sessions)(am_store *s, int64_t older_than_ms,
                                size_t keep_last, size_t *n);
    /* Undo (am_store_undo) is composed by the front end (store_undo.c)
     * from these steps inside that transaction. undo_find locks the row
     * of `key` in the encoded namespace `enc` and reads its last history
     * entry into *u (AM_ENOTFOUND "no item '<key>'", or "undo: no
     * history"); undo_done releases what it holds, called once after
     * undo_find whatever it returned. */
    am_status (*undo_find)(am_store *s, am_str enc, am_str key, int64_t now,
                           am__undo *u);
    void (*undo_done)(am_store *s, am__undo *u);
    /* Soft-delete u's row, its history entry "delete" by `actor`. */
    am_status (*undo_delete)(am_store *s, const am__undo *u, int64_t now,
                             const char *actor);
    /* Write `value` with p's meta, text and vector over u's row (live
     * again, no expiry, its creation time kept), its full-text entry
     * with it, and the history entry `event` by `actor` (the old value
     * and meta are the row's before). */
    am_status (*undo_restore)(am_store *s, const am__undo *u, am_str value,
                              const am__prepared *p, const char *event,
                              int64_t now, const char *actor);
    am_status (*vacuum)(am_store *s, int full);
    am_status (*check)(am_store *s);
    /* Optional (NULL: nothing to checkpoint, both counts 0): see
     * am_store_checkpoint; the front end passes non-NULL counts. */
    am_status (*checkpoint)(am_store *s, size_t *wal_pages,
                            size_t *left_pages);

    /* Sessions. The front end checked the session id (non-empty, at most
     * 1024 bytes) and that every item is JSON; add, pop and clear run
     * inside its transaction (above). */
    am_status (*session_add)(am_store *s, am_str user_id, am_str session_id,
                             const am_str *items, size_t count, int64_t now);
    am_status (*session_get)(am_store *s, am_str session_id, size_t limit,
                             am_buf *out);
    am_status (*session_pop)(am_store *s, am_str session_id, am_buf *out);
    am_status (*session_clear)(am_store *s, am_str session_id);
    /* Report each of the user's sessions to `row`, newest update first;
     * a non-AM_OK return from `row` stops the list and is its result. */
    am_status (*session_list)(am_store *s, am_str user_id,
                              am__session_row_fn row, void *ctx);

    /* Optional (NULL: AM_EUNSUPPORTED): replace every stored vector with
     * s->embedder's (never NULL here), live items' texts embedded again,
     * one transaction; `progress` (may be NULL) as in am_store_reembed.
     * The front end's vector cache must be invalidated. */
    am_status (*reembed)(am_store *s, int64_t now, am_store_progress progress,
                         void *ctx, size_t *count);

    /* Optional, used only when the backend's open set s->pooled (a
     * PostgreSQL pool): the front end calls enter(s) where it would take
     * s->mu for a call, and leave(s) after, so that calls of several
     * threads run at once. enter binds a free connection to the calling
     * thread (waiting while all are busy; a thread that already holds one
     * nests); every operation between them runs on it. The contract's
     * "called with s->mu held" then does not hold: the backend takes it
     * (am__store_share_lock, store_int.h) around the handle's shared
     * state. */
    void (*enter)(am_store *s);
    void (*leave)(am_store *s);
} am__store_backend;

/* The SQLite backend (store_sqlite.c and friends). */
extern const am__store_backend am__store_backend_sqlite;
/* The PostgreSQL backend (store_pg*.c). */
extern const am__store_backend am__store_backend_pg;

#endif
