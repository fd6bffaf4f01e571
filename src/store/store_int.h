/* store_int.h -- internals shared by the store's files (not installed). */
#ifndef AM_STORE_INT_H
#define AM_STORE_INT_H

#include <pthread.h>
#include <stdio.h>

#include "agentmem/store.h"
#include "backend.h"
#include "core/core.h"
#include "embed/embed_int.h"
#include "core/errtab.h"

/* A row's int8 codes: vec[d] ~ scale * code[d], and the Euclidean norm
 * of the difference is at most `err`. */
typedef struct am__vq {
    float scale;
    float err;
} am__vq;

/* Vectors kept in memory for exact search; brought up to date when the
 * database changed (each backend loads only the rows changed since, see
 * store_sqlite_vec.c and store_pg_search.c). */
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
    /* The same vectors as int8 codes (count * dim), each with its scale
     * and a bound of what the codes miss: a scan reads a quarter of the
     * bytes and scores exactly only the rows that may rank (rank_vec.c). */
    int8_t *codes;
    am__vq *vq;
    am_buf ns_pool;
    size_t prefaulted; /* entries [0, this) have their pages mapped */
} am__vcache;

struct am_store {
    const am__store_backend *be;
    void *impl;          /* the backend's state */
    pthread_mutex_t mu;
    const am_allocator *alloc;
    const am_clock *clock;
    const am_embedder *embedder;
    char actor[64];
    int busy_timeout_ms;
    int sync_full;
    am__errtab errs;    /* error detail per thread (core/errtab.h) */
    am__vcache vc;
    int64_t own_writes; /* bumped by writes that touch vectors */
    int64_t vc_writes;
    int64_t vc_rows;    /* rows the loads gave the cache (tests check that
                         * a catch-up reads the changed rows only) */
    /* The backend runs this handle's calls concurrently (PostgreSQL with a
     * pool): the front end calls be->enter/leave instead of holding `mu`
     * for a call, and the handle's shared state (the vector cache,
     * own_writes, the backend's caches) is guarded by `mu` through
     * am__store_share_lock. Set by the backend's open, then constant. */
    bool pooled;
    /* The least cached rows for which a search scans the cache on a
     * thread beside the text part (rank.h: AM__SCAN_BESIDE_MIN); per
     * handle so that a test can lower it without touching other stores. */
    size_t scan_beside_min;
};

/* One item, validated and prepared outside the lock (am__store_prepare). */
struct am__prepared {
    am_buf ns;         /* encoded namespace */
    am_buf text;       /* indexed text, NUL-terminated */
    am_str meta;       /* JSON object (borrowed from the item, or "{}") */
    float *vec;        /* owned copy, unit length, or NULL */
    size_t dim;
    const char *model;
    int64_t id;        /* the row written (set by the backend) */
};

/* One write transaction (am__store_write): first hard-delete everything
 * under `clear` (when clear.count > 0), then put `puts`, then soft-delete
 * the live keys `dels` of namespace `del_ns` (AM_ENOTFOUND if one is not
 * live). All or nothing. */
struct am__write {
    am_ns clear;
    const am_item_in *puts;
    size_t nput;
    am_ns del_ns;
    const am_str *dels;
    size_t ndel;
    /* Called with (items prepared, nput) before the first and after each
     * put is checked and embedded, outside the lock; may be NULL. */
    am_store_progress progress;
    void *progress_ctx;
};

/* Validate, derive the text and embed item `idx` into `p` (free it with
 * am__store_prepared_free even on failure), touching nothing shared in
 * `s`: runs without the lock. Errors go to `err`. */
am_status am__store_prepare(am_store *s, const am_item_in *it, size_t idx,
                            am__prepared *p, am_error *err);
void am__store_prepared_free(am_store *s, am__prepared *p);

/* Run `w` as one transaction (prepares outside the lock). Errors are left
 * in AM__ERR(s). Used by put, the recall index and the memory tool. */
am_status am__store_write(am_store *s, const am__write *w);

/* Namespace encoding: each part escaped (0x00, 0x1e, 0x1f, 0xfe, 0xff
 * become 0x1e + '0'..'4') and terminated by 0x1f. The encoding of a prefix
 * is a byte prefix of the encodings under it, and no encoded byte is 0xfe
 * or above, so "under P" is the range [enc(P), enc(P) with its last byte
 * 0x1f -> 0x20), and the root is [x'', x'ff'). */
am_status am__ns_encode(am_ns ns, int allow_root, am_buf *out,
                        am_error *err);
/* Upper bound of the prefix range of an encoded namespace into `out`. */
am_status am__ns_upper(am_str enc, am_buf *out);
/* The encoded range [lo, hi) of namespace prefix `ns` (root allowed), for
 * every backend; errors in AM__ERR(s). */
am_status am__store_ns_range(am_store *s, am_ns ns, am_buf *lo, am_buf *hi);
/* Hard-delete everything under namespace prefix `ns` (root allowed):
 * the backend's delete_items and release_vec_model, inside the caller's
 * transaction; *removed (may be NULL) gets the count, 0 on failure.
 * Used by am_store_delete_ns and by a write's `clear` step. */
am_status am__store_clear_ns(am_store *s, am_ns ns, size_t *removed);
/* Item `i`'s failure in a write of several (AM__ERR(s) holds its detail):
 * the detail prefixed with "<what> <i>: ", unless `st` is AM_ENOMEM.
 * Returns `st`. */
am_status am__store_fail_at(am_store *s, am_status st, const char *what,
                            size_t i);
/* An item's address for a backend: namespace `ns` (at least one part)
 * encoded into `enc`, and `key` checked (AM_EINVAL "empty key"); errors
 * in AM__ERR(s). */
am_status am__store_item_addr(am_store *s, am_ns ns, am_str key,
                              am_buf *enc);
/* A value read from a row (`v`, borrowed) copied into the caller's `out`,
 * replacing it, NUL-terminated; AM_ENOMEM "<what>: out of memory" in
 * AM__ERR(s). */
am_status am__store_copy_out(am_store *s, am_str v, am_buf *out,
                             const char *what);
/* AM_ENOTFOUND "no live item '<key>'" (in AM__ERR(s)): the row of a
 * delete is deleted or expired. */
am_status am__store_not_live(am_store *s, am_str key);
/* AM_EINVAL "empty key" (in AM__ERR(s)) unless `key` has a byte. */
am_status am__store_key_ok(am_store *s, am_str key);
/* A count from a caller, capped where SQL's int64 arithmetic (a search
 * looks at 4x limit candidates) would wrap: past it means "all". */
size_t am__store_count_cap(size_t n);
/* Decode into parts allocated from `ar`. */
am_status am__ns_decode(am_str enc, am__arena *ar, am_str **parts,
                        size_t *count);

/* ---- Results ---- */

struct am__rbuild {
    am_results *r;
    am__arena ar;
    size_t cap;
    const am_allocator *alloc;
    am_str last_ns;   /* am__rb_namespace's last entry, encoded */
};

am_status am__rb_init(am__rbuild *b, const am_allocator *a);
am_str am__rb_str(am__rbuild *b, const void *p, size_t len);
am_results *am__rb_finish(am__rbuild *b);
void am__rb_abort(am__rbuild *b);

/* What every backend's readers share, so that a backend only reads rows
 * (store_results.c). Errors name the call (`what`) in AM__ERR(s). */

/* The start of a call that hands back results: *out cleared, `b` ready.
 * AM_EINVAL (out NULL) or AM_ENOMEM. */
am_status am__rb_begin(am_store *s, am__rbuild *b, am_results **out,
                       const char *what);
/* The end: on st == AM_OK the results become the caller's in *out, else
 * they go. Finishing allocates, so a success can still end in AM_ENOMEM;
 * returns the call's status. */
am_status am__rb_end(am_store *s, am__rbuild *b, am_status st,
                     am_results **out, const char *what);

/* An item row as the backends read it (strings borrowed). */
typedef struct am__row {
    am_str ns; /* encoded */
    am_str key, value, meta, text;
    int64_t created_ms, updated_ms, expires_ms; /* expires 0: never */
} am__row;
/* Append the item of `row` (copied); *out (may be NULL) points at it.
 * AM_ENOMEM. */
am_status am__rb_item(am__rbuild *b, const am__row *row, am_item **out);

/* Append one history entry of the item (`ns` encoded, `key`), oldest
 * first: its event, the value and meta before it, time and actor
 * (copied). AM_ENOMEM. */
am_status am__rb_event(am__rbuild *b, am_str ns, am_str key, am_str event,
                       am_str old_value, am_str old_meta, int64_t at_ms,
                       am_str actor);
/* After the last entry: each event's new value and meta are the next
 * entry's old ones, the last one's the row's current ones (copied); a
 * delete has none. AM_ENOMEM. */
am_status am__rb_events_end(am__rbuild *b, am_str cur_value,
                            am_str cur_meta);

/* Append the namespace `ns` (encoded) cut to its first `max_depth` parts
 * (0: all), unless it equals the last one appended (rows come sorted, so
 * a cut's duplicates are adjacent). AM_ENOMEM. */
am_status am__rb_namespace(am__rbuild *b, am_str ns, size_t max_depth);

/* ---- Vectors ---- */

void am__vcache_free(am_store *s);
/* After a committed put of row `id`: set its vector (unit, `dim` floats)
 * or, with vec NULL, drop it from the cache. Invalidates the cache when an
 * in-place update is not possible. */
void am__vcache_apply(am_store *s, int64_t id, am_str ns, int64_t expires,
                      const float *vec, size_t dim);
/* Set row `id`'s entry from a backend's load: `bytes` of float32 unit
 * vector at `vec`, namespace `ns` (copied), expiry (0: never); vec NULL
 * or empty: the row has no live vector any more (a tombstone if cached).
 * AM_EFORMAT (a dimension other than the cache's), AM_ENOMEM (the cache
 * is then marked invalid). In vcache.c with free and apply. */
am_status am__vcache_set(am_store *s, int64_t id, am_str ns, int64_t expires,
                         const void *vec, size_t bytes);
/* 1 when row `id` has an entry (live or a tombstone). */
int am__vcache_has(const am_store *s, int64_t id);
/* The position of row `id`'s entry, or s->vc.count when it has none. */
size_t am__vcache_find(const am_store *s, int64_t id);
/* A row new to the cache for am__vcache_insert; everything borrowed. */
typedef struct am__vc_new {
    int64_t id;
    int64_t expires;   /* 0: never */
    am_str ns;
    const void *vec;   /* `bytes` of float32 unit vector, any alignment */
    size_t bytes;
} am__vc_new;
/* Add `n` rows that have no entry yet, ids ascending and distinct, in
 * one pass over the cache however they interleave with its ids (where
 * am__vcache_set moves the tail once per row). AM_EFORMAT (a dimension
 * other than the cache's; nothing added), AM_ENOMEM (the cache is then
 * marked invalid). */
am_status am__vcache_insert(am_store *s, const am__vc_new *rows, size_t n);

/* ---- Pseudo-relevance feedback (prf.c) ---- */

/* 1 when the ASCII word [w, w + n) is one of the store's stopwords. */
int am__is_stopword(const char *w, size_t n);

#define AM__PRF_CAP 256
typedef struct am__prf_term {
    char w[32];
    size_t n;      /* occurrences in the texts fed */
    double score;
} am__prf_term;
/* The candidate words of one expansion (on the caller's stack). */
typedef struct am__prf {
    am__prf_term t[AM__PRF_CAP];
    size_t count;
    am_str query;  /* borrowed: its words are never candidates */
} am__prf;
/* Documents holding `w` (NUL-terminated), counted up to `cap`, into *df;
 * not AM_OK when it cannot say (the word then counts as `cap`). */
typedef am_status (*am__prf_df)(void *ctx, const char *w, int64_t cap,
                                double *df);
void am__prf_begin(am__prf *p, am_str query);
/* Count the words of one top result's text. */
void am__prf_add(am__prf *p, const char *text, size_t len);
/* Append the query, then the `nterms` words that best characterize the
 * texts fed (count in them times log(total / documents)), to `out`.
 * `total` is the store's item count (or an upper bound). AM_ENOMEM. */
am_status am__prf_expand(am__prf *p, double total, size_t nterms,
                         am__prf_df df, void *ctx, am_buf *out);

/* Locking: every public entry point is inside STORE_LOCK for its
 * duration: it holds s->mu, or, on a pooled handle, a connection of the
 * pool bound to the calling thread (be->enter). Backend code that touches
 * the handle's shared state does it between am__store_share_lock and
 * am__store_share_unlock, which take s->mu on a pooled handle only (on
 * any other the caller holds it already). */
static inline void am__store_enter(am_store *s)
{
    if (s->pooled)
        s->be->enter(s);
    else
        pthread_mutex_lock(&s->mu);
}
static inline void am__store_leave(am_store *s)
{
    if (s->pooled)
        s->be->leave(s);
    else
        pthread_mutex_unlock(&s->mu);
}
#define STORE_LOCK(s) am__store_enter(s)
#define STORE_UNLOCK(s) am__store_leave(s)
static inline void am__store_share_lock(am_store *s)
{
    if (s->pooled)
        pthread_mutex_lock(&s->mu);
}
static inline void am__store_share_unlock(am_store *s)
{
    if (s->pooled)
        pthread_mutex_unlock(&s->mu);
}
/* The end of a write transaction of the backend: committed when `st`
 * is AM_OK, else (or when the commit fails) rolled back. Returns the
 * outcome. */
static inline am_status am__store_txn_end(am_store *s, am_status st)
{
    if (st == AM_OK)
        st = s->be->commit(s);
    if (st != AM_OK)
        s->be->rollback(s);
    return st;
}
/* A committed write that may have changed vectors: caches keyed by
 * own_writes (the vector cache, search statistics) look again. */
static inline void am__store_wrote(am_store *s)
{
    am__store_share_lock(s);
    s->own_writes++;
    am__store_share_unlock(s);
}

#endif
