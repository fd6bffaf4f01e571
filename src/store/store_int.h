/* store_int.h -- internals shared by the store's files (not installed). */
#ifndef AM_STORE_INT_H
#define AM_STORE_INT_H

#include <pthread.h>
#include <stdio.h>
#include <sqlite3.h>

#include "agentmem/store.h"
#include "core/core.h"

/* Cached prepared statements, one per id, prepared on first use. */
enum {
    Q_BEGIN,
    Q_COMMIT,
    Q_ROLLBACK,
    Q_META_GET,
    Q_META_SET,
    Q_ITEM_FIND,
    Q_ITEM_INSERT,
    Q_FTS_ADD,
    Q_FTS_DEL,
    Q_ITEM_UPDATE,
    Q_ITEM_SOFTDEL,
    Q_ITEM_GET,
    Q_ITEM_ROW,
    Q_HIST_ADD,
    Q_HIST_FIRST,
    Q_HIST_LAST,
    Q_HIST_LIST,
    Q_LIST,
    Q_NS_LIST,
    Q_FTS,
    Q_FTS_TOP,
    Q_VEC_LOAD,
    Q_SESS_FIND,
    Q_SESS_NEW,
    Q_SESS_TOUCH,
    Q_SESS_ITEM_ADD,
    Q_SESS_ITEMS,
    Q_SESS_LAST,
    Q_SESS_ITEM_DEL,
    Q_COUNT_
};

/* Vectors kept in memory for exact search; reloaded when the database
 * changed (PRAGMA data_version, or a write through this handle). */
typedef struct am__vcache {
    int valid;
    int64_t data_version;
    size_t dim;
    size_t count, cap;
    int64_t *ids;
    int64_t *expires;  /* 0: never */
    size_t *ns_off;    /* into ns_pool; ns_len[i] bytes */
    size_t *ns_len;
    float *vecs;       /* count * dim, unit length */
    am_buf ns_pool;
} am__vcache;

struct am_store {
    sqlite3 *db;
    pthread_mutex_t mu;
    const am_allocator *alloc;
    const am_clock *clock;
    const am_embedder *embedder;
    char actor[64];
    int busy_timeout_ms;
    am_error err;
    sqlite3_stmt *stmts[Q_COUNT_];
    am__vcache vc;
    int64_t own_writes; /* bumped by writes that touch vectors */
    int64_t vc_writes;
};

/* A statement reset and ready for binding, or NULL (detail in s->err). */
sqlite3_stmt *am__store_stmt(am_store *s, int id);
/* Record a SQLite failure in s->err ("<what>: <sqlite message>"). */
am_status am__store_dberr(am_store *s, int rc, const char *what);
am_status am__store_exec(am_store *s, const char *sql);
/* Step cached statement `id` (bound by the caller) to completion. */
am_status am__store_step_done(am_store *s, int id, const char *what);
/* Bind `v` as a blob (blob != 0) or text; borrowed until the step. */
void am__store_bind_str(sqlite3_stmt *q, int i, am_str v, int blob);
/* The encoded range [lo, hi) of namespace prefix `ns` (root allowed). */
am_status am__store_ns_range(am_store *s, am_ns ns, am_buf *lo, am_buf *hi);
am_status am__store_begin(am_store *s);
am_status am__store_commit(am_store *s);
void am__store_rollback(am_store *s);

/* Namespace encoding: each part escaped (0x00, 0x1e, 0x1f, 0xfe, 0xff
 * become 0x1e + '0'..'4') and terminated by 0x1f. The encoding of a prefix
 * is a byte prefix of the encodings under it, and no encoded byte is 0xfe
 * or above, so "under P" is the range [enc(P), enc(P) with its last byte
 * 0x1f -> 0x20), and the root is [x'', x'ff'). */
am_status am__ns_encode(am_ns ns, int allow_root, am_buf *out,
                        am_error *err);
/* Upper bound of the prefix range of an encoded namespace into `out`. */
am_status am__ns_upper(am_str enc, am_buf *out);
/* Decode into parts allocated from `ar`. */
am_status am__ns_decode(am_str enc, am__arena *ar, am_str **parts,
                        size_t *count);

/* ---- Results ---- */

typedef struct am__rbuild {
    am_results *r;
    am__arena ar;
    size_t cap;
    const am_allocator *alloc;
} am__rbuild;

am_status am__rb_init(am__rbuild *b, const am_allocator *a);
/* Append an item from a row of Q_ITEM_ROW shape starting at column `col`:
 * ns, key, value, meta, text, created, updated, expires. */
am_status am__rb_add_row(am__rbuild *b, sqlite3_stmt *st, int col,
                         am_item **out);
am_str am__rb_str(am__rbuild *b, const void *p, size_t len);
am_results *am__rb_finish(am__rbuild *b);
void am__rb_abort(am__rbuild *b);

/* ---- Vectors ---- */

void am__vec_normalize(float *v, size_t dim);
float am__vec_dot(const float *a, const float *b, size_t dim);
void am__vcache_free(am_store *s);
/* After a committed put of row `id`: set its vector (unit, `dim` floats)
 * or, with vec NULL, drop it from the cache. Invalidates the cache when an
 * in-place update is not possible. */
void am__vcache_apply(am_store *s, int64_t id, am_str ns, int64_t expires,
                      const float *vec, size_t dim);

/* Lowercased word tokens of UTF-8 text: letters and digits of ASCII plus
 * every non-ASCII byte; calls fn(word, len, ctx) for each. */
void am__words(const char *s, size_t len,
               void (*fn)(const char *w, size_t n, void *ctx), void *ctx);

/* Locking: every public entry point holds s->mu for its duration. */
#define STORE_LOCK(s) pthread_mutex_lock(&(s)->mu)
#define STORE_UNLOCK(s) pthread_mutex_unlock(&(s)->mu)

#endif
