/* store_sqlite_vec.c -- vector candidates for search: exact cosine over
 * unit vectors kept in memory (am__vcache).
 *
 * The cache is loaded from the item rows on first use and reloaded when
 * the database changed (a write through this handle, or PRAGMA
 * data_version for other connections). A scan is one dot product per
 * vector (am__vec_dot), and a heap keeps the best few.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "store_sqlite_search.h"

/* ---- The cache ---- */

void am__vcache_free(am_store *s)
{
    am__vcache *c = &s->vc;
    am__free(s->alloc, c->ids, c->cap * sizeof *c->ids);
    am__free(s->alloc, c->expires, c->cap * sizeof *c->expires);
    am__free(s->alloc, c->ns_off, c->cap * sizeof *c->ns_off);
    am__free(s->alloc, c->ns_len, c->cap * sizeof *c->ns_len);
    if (c->vecs != NULL)
        am__free(s->alloc, c->vecs, c->cap * c->dim * sizeof(float));
    am_buf_free(&c->ns_pool);
    memset(c, 0, sizeof *c);
    c->ns_pool.alloc = s->alloc;
}

static int64_t data_version(am_store *s)
{
    sqlite3_stmt *q = NULL;
    int64_t v = -1;
    if (sqlite3_prepare_v2(SQ(s)->db->conn, "PRAGMA data_version", -1, &q,
                           NULL) == SQLITE_OK &&
        sqlite3_step(q) == SQLITE_ROW)
        v = sqlite3_column_int64(q, 0);
    sqlite3_finalize(q);
    return v;
}

/* Grows the cache's parallel arrays to hold `need` entries. All or
 * nothing: the new arrays are allocated first and the old ones freed only
 * when every allocation worked, so that on AM_ENOMEM every array still
 * has c->cap entries (am__vcache_free frees them by that size). */
static am_status vcache_grow(am_store *s, size_t need)
{
    am__vcache *c = &s->vc;
    if (need <= c->cap)
        return AM_OK;
    size_t cap = c->cap > 0 ? c->cap * 2 : 1024;
    while (cap < need)
        cap *= 2;
    void **arr[5] = { (void **)&c->ids, (void **)&c->expires,
                      (void **)&c->ns_off, (void **)&c->ns_len,
                      (void **)&c->vecs };
    size_t size[5] = { sizeof *c->ids, sizeof *c->expires, sizeof *c->ns_off,
                       sizeof *c->ns_len, c->dim * sizeof(float) };
    void *fresh[5] = { NULL };
    int k;
    for (k = 0; k < 5; k++) {
        if (size[k] == 0) /* no vectors yet: no dimension */
            continue;
        fresh[k] = am__alloc_array(s->alloc, cap, size[k]);
        if (fresh[k] == NULL)
            break;
    }
    if (k < 5) {
        while (k-- > 0)
            if (fresh[k] != NULL)
                am__free(s->alloc, fresh[k], cap * size[k]);
        return AM_ENOMEM;
    }
    for (k = 0; k < 5; k++) {
        if (*arr[k] != NULL) {
            if (fresh[k] != NULL)
                memcpy(fresh[k], *arr[k], c->count * size[k]);
            am__free(s->alloc, *arr[k], c->cap * size[k]);
        }
        *arr[k] = fresh[k];
    }
    c->cap = cap;
    return AM_OK;
}

void am__vcache_apply(am_store *s, int64_t id, am_str ns, int64_t expires,
                      const float *vec, size_t dim)
{
    am__vcache *c = &s->vc;
    if (!c->valid || s->vc_writes != s->own_writes)
        return; /* not loaded (or stale): the next search loads it */
    /* ids are ascending: rows are appended with growing rowids. */
    size_t lo = 0, hi = c->count;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (c->ids[mid] < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    int found = lo < c->count && c->ids[lo] == id;
    if (vec == NULL) {
        if (found)
            c->expires[lo] = 1; /* a tombstone: expired long ago */
        return;
    }
    if (c->dim == 0 && c->count == 0)
        c->dim = dim;
    if (dim != c->dim || (!found && lo != c->count)) {
        c->valid = 0; /* not an append: reload on the next search */
        return;
    }
    if (!found) {
        if (vcache_grow(s, c->count + 1) != AM_OK) {
            c->valid = 0;
            return;
        }
        c->ids[lo] = id;
        c->count++;
    }
    size_t off = c->ns_pool.len;
    if (am_buf_append(&c->ns_pool, ns.ptr, ns.len) != AM_OK) {
        c->valid = 0;
        return;
    }
    c->ns_off[lo] = off;
    c->ns_len[lo] = ns.len;
    c->expires[lo] = expires;
    memcpy(c->vecs + lo * c->dim, vec, dim * sizeof(float));
}

/* Make the cache current. */
am_status am__sq_vcache_load(am_store *s)
{
    am__vcache *c = &s->vc;
    int64_t dv = data_version(s);
    if (c->valid && c->data_version == dv && s->vc_writes == s->own_writes)
        return AM_OK;
    am__vcache_free(s);
    sqlite3_stmt *q = am__store_stmt(s, Q_VEC_LOAD);
    if (q == NULL)
        return AM__ERR(s).code;
    am_status st = AM_OK;
    int rc;
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        size_t bytes = (size_t)sqlite3_column_bytes(q, 3);
        size_t dim = bytes / sizeof(float);
        if (dim == 0)
            continue;
        if (c->dim == 0)
            c->dim = dim;
        if (dim != c->dim) {
            st = am__fail(&AM__ERR(s), AM_EFORMAT,
                          "vector index: item %lld has %zu dimensions, "
                          "others %zu", (long long)sqlite3_column_int64(q, 0),
                          dim, c->dim);
            break;
        }
        if (vcache_grow(s, c->count + 1) != AM_OK) {
            st = am__fail(&AM__ERR(s), AM_ENOMEM, "vector index: out of memory");
            break;
        }
        size_t i = c->count;
        c->ids[i] = sqlite3_column_int64(q, 0);
        c->expires[i] = sqlite3_column_int64(q, 2);
        c->ns_off[i] = c->ns_pool.len;
        c->ns_len[i] = (size_t)sqlite3_column_bytes(q, 1);
        if (am_buf_append(&c->ns_pool, sqlite3_column_blob(q, 1),
                          c->ns_len[i]) != AM_OK) {
            st = am__fail(&AM__ERR(s), AM_ENOMEM, "vector index: out of memory");
            break;
        }
        memcpy(c->vecs + i * c->dim, sqlite3_column_blob(q, 3), bytes);
        c->count++;
    }
    if (st == AM_OK && rc != SQLITE_DONE)
        st = am__store_dberr(s, rc, "vector index", q);
    sqlite3_reset(q);
    if (st != AM_OK) {
        am__vcache_free(s);
        return st;
    }
    c->valid = 1;
    c->data_version = dv;
    s->vc_writes = s->own_writes;
    return AM_OK;
}

/* ---- Candidates ---- */

/* Top `want` qualifying vectors by cosine with the unit vector `qv` (the
 * scan and the heap are rank.c's); K starts a little above `want` and
 * grows when filters reject too many. */
am_status am__sq_vec_cands(am_store *s, const float *qv, am_str lo,
                           am__sqflt *filter, size_t want, int64_t now,
                           am__cands *known, am__cands *out)
{
    am__vcache *c = &s->vc;
    am__vhit *h = NULL;
    float *sc = NULL;
    size_t eligible = 0, k = want + 16, hcap = 0;
    am_status st = am__vec_scores(s, qv, lo, now, known, &sc, &eligible);
    if (st != AM_OK)
        return st;
    for (;;) {
        size_t n = 0;
        if (k > eligible)
            k = eligible;
        st = am__vec_top(s, sc, k, &h, &hcap, &n);
        if (st != AM_OK)
            break;
        out->count = 0;
        for (size_t i = 0; i < n && out->count < want; i++) {
            int64_t id = c->ids[h[i].idx];
            int ok = am__sq_qualifies(s, id, filter, now);
            if (ok < 0) {
                st = AM__ERR(s).code;
                break;
            }
            if (!ok)
                continue;
            st = am__cands_push(s, out, id);
            if (st != AM_OK)
                break;
            out->v[out->count - 1].vec = h[i].score;
            out->v[out->count - 1].has_vec = 1;
            out->v[out->count - 1].rank_vec = (int)out->count;
        }
        if (st != AM_OK || out->count >= want || k >= eligible)
            break;
        k *= 4; /* filters rejected too many: look deeper */
    }
    am__vec_scores_free(s, sc);
    am__free(s->alloc, h, hcap * sizeof *h);
    return st;
}
