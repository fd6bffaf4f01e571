/* store_pg.h -- internals of the PostgreSQL backend (not installed).
 *
 * The backend keeps one libpq connection per handle (the handle's mutex
 * serializes it) or a small pool of them (am_store_opts.pool_size), its
 * tables in one PostgreSQL schema, and speaks to the
 * server with parameterized statements only (binary parameters and
 * results), so no byte of a key, namespace or query is ever SQL syntax.
 * See docs/internals/postgres.md for the schema and the design.
 */
#ifndef AM_STORE_PG_H
#define AM_STORE_PG_H

#include <libpq-fe.h>
#include <pthread.h>

#include "store_int.h"

/* Statements a connection keeps prepared, at most. */
#define AM__PG_MAXPREP 48

/* Row counts of recently searched scopes (store_pg_search.c). */
#define AM__PG_SCOPES 8
typedef struct am__pg_scope {
    char lo[64];     /* the scope's encoded namespace prefix */
    size_t lo_len;
    double rows;
    double at;       /* monotonic seconds of the count; 0: empty slot */
    int64_t writes;  /* the handle's own_writes then */
} am__pg_scope;

/* One server connection and what lives in its session. */
typedef struct am__pgc {
    PGconn *conn;
    int in_tx;           /* inside BEGIN ... COMMIT */
    /* Statements prepared on this connection (AM__PG_PREPARE), by the
     * address of their SQL text; emptied when the connection is re-made. */
    const char *prep[AM__PG_MAXPREP];
    int nprep;
    /* Pooled handles: the thread whose call holds it (`depth` > 0). */
    pthread_t owner;
    int depth;
    /* The last batched put on this connection found keys that existed:
     * the next one goes straight to INSERT ... ON CONFLICT
     * (store_pg_put.c). */
    int put_conflicts;
} am__pgc;

/* The backend's state behind am_store.impl. */
typedef struct am__pg {
    /* The connections: one, used under the handle's mutex, or a pool
     * (s->pooled) whose slots calls take and give back under `pool_mu`. */
    am__pgc *conns;
    size_t nconns;
    pthread_mutex_t pool_mu;
    pthread_cond_t pool_freed;
    char *conninfo;      /* what libpq gets (may hold a password) */
    char display[256];   /* the target for messages: never the password */
    char schema[64];     /* our PostgreSQL schema */
    /* Below: the handle's shared state (s->mu on a pooled handle). */
    /* BM25 statistics (rows, average length), refreshed now and then. */
    double n_rows, avgdl;
    int64_t stats_writes;
    double stats_at;     /* monotonic seconds */
    am__pg_scope scopes[AM__PG_SCOPES];
    int scope_next;
    /* The vector cache's view of the database: the oldest transaction
     * that may still commit a change it has not seen, and the epoch of
     * hard deletes. */
    int64_t vc_xmin;
    int64_t vc_epoch;
} am__pg;

#define PG(s) ((am__pg *)(s)->impl)

/* The connection of the calling thread's call: the only one, or the pool
 * slot that am__pg_enter bound to this thread. */
am__pgc *am__pg_conn(am_store *s);

/* Parameters of one statement, sent in binary. */
#define AM__PG_MAXP 16
typedef struct am__pgp {
    const char *v[AM__PG_MAXP];
    int len[AM__PG_MAXP];
    int fmt[AM__PG_MAXP];
    char ib[AM__PG_MAXP][8];
    int n;
} am__pgp;

void am__pgp_int(am__pgp *p, int64_t v);
void am__pgp_bytes(am__pgp *p, const void *ptr, size_t len); /* bytea, text */
void am__pgp_str(am__pgp *p, am_str v);
void am__pgp_null(am__pgp *p);
void am__pgp_float8(am__pgp *p, double v);
/* A parameter in PostgreSQL's text format (arrays, xid8): NUL-terminated,
 * borrowed until the statement ran. */
void am__pgp_textfmt(am__pgp *p, const char *v);

/* Flags of am__pg_exec. */
#define AM__PG_RETRY 1 /* safe to run again after a reconnect (a read or
                        * BEGIN outside a transaction) */
#define AM__PG_PREPARE 2 /* `sql` is a string constant run often: parse
                          * and plan it once per connection (a named
                          * prepared statement), saving both on every
                          * later call */
#define AM__PG_UNIQUE 4 /* a unique violation (SQLSTATE 23505) fails with
                         * AM_EEXIST instead of AM_EIO, so the caller can
                         * roll back to a savepoint and go another way */

/* Run `sql` with `p` (may be NULL); binary results. Returns the result on
 * success (free with PQclear) or NULL with AM__ERR(s) set to "<what> on
 * <target>: <server message>". Reconnects first when the connection was
 * lost and no transaction is open. */
PGresult *am__pg_exec(am_store *s, const char *what, const char *sql,
                      const am__pgp *p, int flags);
/* Run `sql`, a COPY ... FROM STDIN, sending it `len` bytes of `data` in
 * the COPY's format (for binary: header, rows, trailer). AM_OK once the
 * server took every row, else AM__ERR(s) as in am__pg_exec (flags: only
 * AM__PG_UNIQUE). Never retried: run it inside a transaction. */
am_status am__pg_copy(am_store *s, const char *what, const char *sql,
                      const void *data, size_t len, int flags);
/* Run the read `sql` with `p` (may be NULL), handing each result row to
 * `row` as it arrives (single-row mode: the result as a whole is never in
 * memory; `r` holds one row, row 0, and is freed after the call). A
 * non-AM_OK from `row` stops the calls (the remaining rows are read and
 * dropped) and is returned. A statement that fails before its first row
 * on a lost connection is run once more on a fresh one; any other failure
 * is AM__ERR(s) as in am__pg_exec, after some rows may have been given. */
typedef am_status am__pg_row_fn(void *ctx, const PGresult *r);
am_status am__pg_each_row(am_store *s, const char *what, const char *sql,
                          const am__pgp *p, am__pg_row_fn *row, void *ctx);
/* am__pg_exec for statements whose rows are not needed; *changed (may be
 * NULL) grows by the rows affected. */
am_status am__pg_run(am_store *s, const char *what, const char *sql,
                     const am__pgp *p, size_t *changed);
/* am__pg_run of a string constant, prepared (AM__PG_PREPARE). */
am_status am__pg_runp(am_store *s, const char *what, const char *sql,
                      const am__pgp *p);
am_status am__pg_begin(am_store *s);
am_status am__pg_commit(am_store *s);
void am__pg_rollback(am_store *s);

/* ---- Array parameters ----
 * A one-dimensional array in PostgreSQL's binary format, so that a whole
 * batch of rows travels as a few parameters of one statement (unnest()
 * turns them back into rows). Begin with the element type and count,
 * then add exactly `count` elements. Each call returns AM_OK or
 * AM_ENOMEM (the buffer is then unusable until the next begin). */
#define AM__PG_BYTEA 17
#define AM__PG_INT8 20
#define AM__PG_TEXT 25
am_status am__pga_begin(am_buf *b, unsigned oid, size_t count);
am_status am__pga_add(am_buf *b, const void *ptr, size_t len);
am_status am__pga_int(am_buf *b, int64_t v);
am_status am__pga_null(am_buf *b);
/* A text element from `in` with NUL bytes replaced by spaces (text
 * cannot hold them, see am__pg_text). */
am_status am__pga_text(am_buf *b, am_str in);

/* Binary result columns. */
int64_t am__pg_int(const PGresult *r, int row, int col);
double am__pg_float8(const PGresult *r, int row, int col);
am_str am__pg_str(const PGresult *r, int row, int col);
int am__pg_isnull(const PGresult *r, int row, int col);

/* Append an item from a row holding ns, key, value, meta, text, created,
 * updated, expires from column `col`. */
am_status am__pg_rb_add_row(am__rbuild *b, const PGresult *r, int row,
                            int col, am_item **out);

/* Bytes that PostgreSQL's text type cannot hold (NUL) replaced by spaces,
 * into `out`. */
am_status am__pg_text(am_str in, am_buf *out);

/* Item rows are read in one shape everywhere (see am__pg_rb_add_row). */
#define AM__PG_ROW "ns, key, value, meta, text, created_ms, updated_ms, " \
                   "coalesce(expires_ms, 0)"

/* The backend's operations (see backend.h). */
am_status am__pg_write(am_store *s, const am__write *w, am__prepared *ps,
                       int64_t now);
/* The puts of `w` inside the caller's transaction (store_pg_put.c). */
am_status am__pg_put(am_store *s, const am__write *w, am__prepared *ps,
                     int64_t now);
/* The one put of `w` if its key is new, in one statement of its own (no
 * transaction needed); *written 0 (nothing done) when the key exists. */
am_status am__pg_put_new(am_store *s, const am__write *w, am__prepared *ps,
                         int64_t now, int *written);
am_status am__pg_get(am_store *s, am_ns ns, am_str key, am_buf *value);
am_status am__pg_get_item(am_store *s, am_ns ns, am_str key, am__rbuild *b);
am_status am__pg_undo_find(am_store *s, am_str enc, am_str key, int64_t now,
                           am__undo *u);
void am__pg_undo_done(am_store *s, am__undo *u);
am_status am__pg_undo_delete(am_store *s, const am__undo *u, int64_t now,
                             const char *actor);
am_status am__pg_undo_restore(am_store *s, const am__undo *u, am_str value,
                              const am__prepared *p, const char *event,
                              int64_t now, const char *actor);
am_status am__pg_list(am_store *s, am_str lo, am_str hi, size_t limit,
                      size_t offset, am__rbuild *b);
am_status am__pg_namespaces(am_store *s, am_str lo, am_str hi,
                            size_t max_depth, size_t limit, am__rbuild *b);
am_status am__pg_history(am_store *s, am_ns ns, am_str key, am__rbuild *b);
am_status am__pg_search(am_store *s, const am_search *q,
                        const am__filter *filter, const float *qemb,
                        am__rbuild *b);
am_status am__pg_vec_model(am_store *s, am_buf *out);
/* Append the condition for the search filter `f` over the jsonb column
 * `col` to `sql`, its field names and values into the text[] literal
 * `arr` that the statement binds as parameter $param (both NUL-terminated
 * after; `arr` is left empty, and must not be bound, when the condition
 * refers to nothing). AM_ENOMEM. */
am_status am__pg_filter_sql(am_store *s, const am__filter *f,
                            const char *col, int param, am_buf *sql,
                            am_buf *arr);
/* Retention and session steps: inside the transaction the front end
 * opened (store_retention.c, backend.h), which also checked the input. */
am_status am__pg_delete_items(am_store *s, const am__doomed *d, size_t *n);
am_status am__pg_release_vec_model(am_store *s);
am_status am__pg_prune_history(am_store *s, size_t keep, size_t *n);
am_status am__pg_vacuum(am_store *s, int full);
am_status am__pg_check(am_store *s);
am_status am__pg_session_add(am_store *s, am_str user_id, am_str session_id,
                             const am_str *items, size_t count, int64_t now);
am_status am__pg_session_get(am_store *s, am_str session_id, size_t limit,
                             am_buf *out);
am_status am__pg_session_pop(am_store *s, am_str session_id, am_buf *out);
am_status am__pg_session_clear(am_store *s, am_str session_id);
am_status am__pg_session_list(am_store *s, am_str user_id,
                              am__session_row_fn row, void *ctx);
am_status am__pg_prune_sessions(am_store *s, int64_t older_than_ms,
                                size_t keep_last, size_t *n);
/* am_store_reembed (store_pg_reembed.c). */
am_status am__pg_reembed(am_store *s, int64_t now, am_store_progress progress,
                         void *ctx, size_t *count);

#endif
