/* vcache.c -- the front end's in-memory vector cache (am__vcache), the
 * same for every backend: parallel arrays sorted by row id (each vector
 * also as int8 codes for the scan's first pass, see quantize), grown all
 * or nothing, set row by row by a backend's loader (am__vcache_set) and
 * patched after this handle's own writes (am__vcache_apply). How a
 * backend knows the cache is stale, and which rows changed, is its own
 * business (SQLite: PRAGMA data_version and change stamps,
 * store_sqlite_vec.c; PostgreSQL: a change sequence, store_pg_search.c);
 * the scan over it is rank_vec.c's.
 */
#include <assert.h>
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

#include "store_int.h"

void am__vcache_free(am_store *s)
{
    am__vcache *c = &s->vc;
    am__free(s->alloc, c->ids, c->cap * sizeof *c->ids);
    am__free(s->alloc, c->expires, c->cap * sizeof *c->expires);
    am__free(s->alloc, c->ns_off, c->cap * sizeof *c->ns_off);
    am__free(s->alloc, c->ns_len, c->cap * sizeof *c->ns_len);
    if (c->vecs != NULL)
        am__free(s->alloc, c->vecs, c->cap * c->dim * sizeof(float));
    if (c->codes != NULL)
        am__free(s->alloc, c->codes, c->cap * c->dim);
    am__free(s->alloc, c->vq, c->cap * sizeof *c->vq);
    am_buf_free(&c->ns_pool);
    memset(c, 0, sizeof *c);
    c->ns_pool.alloc = s->alloc;
}

/* Drops every array after a failed shrink (see vcache_grow): arrays
 * [0, grown) have `cap` entries, the others c->cap. The cache is a cache:
 * the next search loads it again. */
static void drop_arrays(am_store *s, void **arr[], const size_t size[],
                        int n, int grown, size_t cap)
{
    am__vcache *c = &s->vc;
    for (int k = 0; k < n; k++) {
        if (*arr[k] != NULL)
            am__free(s->alloc, *arr[k], (k < grown ? cap : c->cap) * size[k]);
        *arr[k] = NULL;
    }
    c->count = 0;
    c->cap = 0;
    c->prefaulted = 0;
    c->valid = 0;
}

/* Grows the cache's parallel arrays to hold `need` entries, doubling.
 * Each array is reallocated in place of a fresh array and a copy: at a
 * million 128-d vectors a doubling copied ~330 MB and faulted in every
 * page of the new arrays (~325 ms of CPU at 131,072 entries in bench_pg),
 * where the C library's realloc of a block this large moves its pages'
 * mappings (mremap) and copies nothing (bench_vscan's vscan_grow_max).
 * All or nothing: if one array cannot grow, those already grown are
 * shrunk back, so on AM_ENOMEM every array still has c->cap entries
 * (am__vcache_free frees them by that size); should a shrink fail too,
 * the whole cache is dropped (empty, invalid) rather than left with
 * arrays of unknown size. */
static am_status vcache_grow(am_store *s, size_t need)
{
    am__vcache *c = &s->vc;
    if (need <= c->cap)
        return AM_OK;
    size_t cap = c->cap > 0 ? c->cap * 2 : 1024;
    while (cap < need)
        cap *= 2;
    enum { NARR = 7 };
    void **arr[NARR] = { (void **)&c->ids, (void **)&c->expires,
                         (void **)&c->ns_off, (void **)&c->ns_len,
                         (void **)&c->vecs, (void **)&c->codes,
                         (void **)&c->vq };
    size_t size[NARR] = { sizeof *c->ids, sizeof *c->expires,
                          sizeof *c->ns_off, sizeof *c->ns_len,
                          c->dim * sizeof(float), c->dim, sizeof *c->vq };
    int k;
    for (k = 0; k < NARR; k++) {
        if (size[k] == 0) /* no vectors yet: no dimension */
            continue;
        if (cap > SIZE_MAX / size[k])
            break;
        void *p = am__realloc(s->alloc, *arr[k], c->cap * size[k],
                              cap * size[k]);
        if (p == NULL)
            break;
        *arr[k] = p;
    }
    if (k < NARR) {
        while (k-- > 0) {
            if (size[k] == 0)
                continue;
            if (c->cap == 0) { /* nothing to go back to */
                am__free(s->alloc, *arr[k], cap * size[k]);
                *arr[k] = NULL;
                continue;
            }
            void *p = am__realloc(s->alloc, *arr[k], cap * size[k],
                                  c->cap * size[k]);
            if (p == NULL) {
                drop_arrays(s, arr, size, NARR, k + 1, cap);
                return AM_ENOMEM;
            }
            *arr[k] = p;
        }
        return AM_ENOMEM;
    }
    c->cap = cap;
    return AM_OK;
}

/* Rows are appended into pages not touched before, and a page's first
 * write traps into the kernel: on this machine's VM those faults were
 * most of a catch-up's client CPU (10,000 new 128-d rows: ~1,670 faults,
 * ~3 us of ~4 per row). MADV_POPULATE_WRITE maps a range of them in one
 * call, without a trap per page. Rows are prefaulted in chunks of
 * PREFAULT_ROWS as appends pass c->prefaulted (at most a chunk touched
 * ahead of need; a realloc moves mapped pages with the block). A hint:
 * where the call is missing or refused (Linux before 5.14) the pages
 * fault in as before. */
#define PREFAULT_ROWS 1024

static void prefault(void *base, size_t from, size_t to)
{
#ifdef MADV_POPULATE_WRITE
    uintptr_t a = ((uintptr_t)base + from) & ~(uintptr_t)4095,
              e = (uintptr_t)base + to;
    if (base != NULL && e > a)
        (void)madvise((void *)a, e - a, MADV_POPULATE_WRITE);
#else
    (void)base;
    (void)from;
    (void)to;
#endif
}

/* Prefault the arrays' entries [from, to) (to <= c->cap). */
static void prefault_rows(am__vcache *c, size_t from, size_t to)
{
    if (to <= from)
        return;
    prefault(c->ids, from * sizeof *c->ids, to * sizeof *c->ids);
    prefault(c->expires, from * sizeof *c->expires,
             to * sizeof *c->expires);
    prefault(c->ns_off, from * sizeof *c->ns_off, to * sizeof *c->ns_off);
    prefault(c->ns_len, from * sizeof *c->ns_len, to * sizeof *c->ns_len);
    prefault(c->vecs, from * c->dim * sizeof(float),
             to * c->dim * sizeof(float));
    prefault(c->codes, from * c->dim, to * c->dim);
    prefault(c->vq, from * sizeof *c->vq, to * sizeof *c->vq);
}

/* Before rows up to `need` (<= c->cap) are written: prefault what is not
 * yet, and at least a chunk ahead, so one-row appends make one call per
 * PREFAULT_ROWS rows. */
static void prefault_for(am__vcache *c, size_t need)
{
    size_t from = c->count > c->prefaulted ? c->count : c->prefaulted;
    size_t to = c->count + PREFAULT_ROWS;

    if (need <= c->prefaulted)
        return;
    if (to < need)
        to = need;
    if (to > c->cap)
        to = c->cap;
    prefault_rows(c, from, to);
    c->prefaulted = to;
}

/* Row i's int8 codes from its float vector (set first). The scale maps
 * the largest component to 127, so the codes keep as much of the vector
 * as 8 bits can; `err` is the norm of what they miss, rounded up, which
 * rank_vec.c's first pass adds to its estimates to stay exact. A vector
 * with a non-finite component gets an infinite bound: always scored in
 * full. */
static void quantize(am__vcache *c, size_t i)
{
    const float *v = c->vecs + i * c->dim;
    int8_t *code = c->codes + i * c->dim;
    size_t dim = c->dim;
    /* The largest magnitude from the bits: for finite floats without
     * their sign, integer order is float order, and infinities and NaNs
     * are above every finite one. Integer-only, so the loop vectorizes
     * (a float max with NaN checks did not); a quarter of a catch-up's
     * CPU was this function (perf, docs/BENCHMARKS.md). */
    uint32_t top = 0;
    for (size_t d = 0; d < dim; d++) {
        uint32_t u;
        memcpy(&u, &v[d], sizeof u);
        u &= 0x7fffffffu;
        top = u > top ? u : top;
    }
    if (top >= 0x7f800000u) { /* a NaN or an infinity */
        memset(code, 0, dim);
        c->vq[i] = (am__vq){ 0, INFINITY };
        return;
    }
    float m;
    memcpy(&m, &top, sizeof m);
    float scale = m / 127, inv = m > 0 ? 127 / m : 0;
    /* A subnormal largest magnitude overflows 127/m: divide then (and a
     * scale that rounded to 0 gives zero codes, missing everything). */
    int by_div = !(inv <= FLT_MAX);
    /* Any rounding will do: `err` is measured, not assumed. Half away
     * from zero by copysignf, without a branch: a branch on the sign of
     * each component (random for embeddings) was mispredicted half the
     * time and kept the loop scalar, most of this function's time (perf
     * annotate). The common case multiplies, in a loop that vectorizes. */
    if (scale > 0 && !by_div) {
        /* |v[d]| <= m, so |x| <= 127 within a rounding or two of inv:
         * no clamp (whose branches kept this loop scalar too). */
        for (size_t d = 0; d < dim; d++) {
            float x = v[d] * inv;
            code[d] = (int8_t)(int)(x + copysignf(0.5f, x));
        }
    } else {
        for (size_t d = 0; d < dim; d++) {
            float x = scale > 0 ? v[d] / scale : 0;
            x = x > 127 ? 127 : x < -127 ? -127 : x;
            code[d] = (int8_t)(int)(x + copysignf(0.5f, x));
        }
    }
    /* Four partial sums: one sum is a chain of dim dependent additions
     * (~4 cycles each), the largest part of this function at 128-d; the
     * order of the additions moves the sum by ~1e-16 of itself, far
     * inside the 1e-6 the bound adds. */
    double m4[4] = { 0, 0, 0, 0 };
    size_t d = 0;
    for (; d + 4 <= dim; d += 4)
        for (size_t l = 0; l < 4; l++) {
            double e = (double)v[d + l] - (double)scale * (double)code[d + l];
            m4[l] += e * e;
        }
    for (; d < dim; d++) {
        double e = (double)v[d] - (double)scale * (double)code[d];
        m4[0] += e * e;
    }
    double miss = (m4[0] + m4[1]) + (m4[2] + m4[3]);
    c->vq[i] = (am__vq){ scale, (float)(sqrt(miss) * (1 + 1e-6)) + 1e-7f };
}

/* The first position whose id is not below `id` (ids are ascending). */
static size_t lower_bound(const am__vcache *c, int64_t id)
{
    size_t lo = 0, hi = c->count;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (c->ids[mid] < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

void am__vcache_apply(am_store *s, int64_t id, am_str ns, int64_t expires,
                      const float *vec, size_t dim)
{
    am__vcache *c = &s->vc;
    if (!c->valid || s->vc_writes != s->own_writes)
        return; /* not loaded (or stale): the next search loads it */
    /* ids are ascending: rows are appended with growing rowids. */
    size_t lo = lower_bound(c, id);
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
    quantize(c, lo);
}

/* Rows of other instances (or of a load without ORDER BY) may arrive out
 * of order: ids stay sorted, a new id in the middle moves the tail. */
am_status am__vcache_set(am_store *s, int64_t id, am_str ns, int64_t expires,
                         const void *vec, size_t bytes)
{
    am__vcache *c = &s->vc;
    /* A new row above the last (most of a catch-up) needs no search: a
     * binary search of a million ids misses the CPU cache a dozen times. */
    size_t lo = c->count > 0 && id > c->ids[c->count - 1] ? c->count
                                                          : lower_bound(c, id),
           dim = bytes / sizeof(float);
    s->vc_rows++;
    int found = lo < c->count && c->ids[lo] == id;
    if (vec == NULL || dim == 0) {
        if (found)
            c->expires[lo] = 1; /* a tombstone: expired long ago */
        return AM_OK;
    }
    if (c->dim == 0)
        c->dim = dim;
    if (dim != c->dim)
        return am__fail(&AM__ERR(s), AM_EFORMAT, "vector index: item %lld has "
                        "%zu dimensions, others %zu", (long long)id, dim,
                        c->dim);
    if (!found) {
        if (vcache_grow(s, c->count + 1) != AM_OK)
            return am__fail(&AM__ERR(s), AM_ENOMEM,
                            "vector index: out of memory");
        prefault_for(c, c->count + 1);
        size_t tail = c->count - lo;
        if (tail > 0) {
            memmove(c->ids + lo + 1, c->ids + lo, tail * sizeof *c->ids);
            memmove(c->expires + lo + 1, c->expires + lo,
                    tail * sizeof *c->expires);
            memmove(c->ns_off + lo + 1, c->ns_off + lo,
                    tail * sizeof *c->ns_off);
            memmove(c->ns_len + lo + 1, c->ns_len + lo,
                    tail * sizeof *c->ns_len);
            memmove(c->vecs + (lo + 1) * c->dim, c->vecs + lo * c->dim,
                    tail * c->dim * sizeof(float));
            memmove(c->codes + (lo + 1) * c->dim, c->codes + lo * c->dim,
                    tail * c->dim);
            memmove(c->vq + lo + 1, c->vq + lo, tail * sizeof *c->vq);
        }
        c->ids[lo] = id;
        c->count++;
    }
    /* A namespace never changes for a row id: reuse its bytes. */
    if (!found) {
        c->ns_off[lo] = c->ns_pool.len;
        c->ns_len[lo] = ns.len;
        if (am_buf_append(&c->ns_pool, ns.ptr, ns.len) != AM_OK) {
            c->valid = 0;
            return am__fail(&AM__ERR(s), AM_ENOMEM,
                            "vector index: out of memory");
        }
    }
    c->expires[lo] = expires;
    memcpy(c->vecs + lo * c->dim, vec, dim * sizeof(float));
    quantize(c, lo);
    return AM_OK;
}

size_t am__vcache_find(const am_store *s, int64_t id)
{
    const am__vcache *c = &s->vc;
    size_t lo = lower_bound(c, id);
    return lo < c->count && c->ids[lo] == id ? lo : c->count;
}

int am__vcache_has(const am_store *s, int64_t id)
{
    return am__vcache_find(s, id) < s->vc.count;
}

/* One merge from the back, as in merge sort: every entry moves at most
 * once, where inserting the rows one by one would move the tail for
 * each (at a million entries, half a gigabyte per row). */
am_status am__vcache_insert(am_store *s, const am__vc_new *rows, size_t n)
{
    am__vcache *c = &s->vc;
    if (n == 0)
        return AM_OK;
    s->vc_rows += (int64_t)n;
    if (c->dim == 0)
        c->dim = rows[0].bytes / sizeof(float);
    for (size_t j = 0; j < n; j++) {
        if (rows[j].bytes != c->dim * sizeof(float))
            return am__fail(&AM__ERR(s), AM_EFORMAT, "vector index: item "
                            "%lld has %zu dimensions, others %zu",
                            (long long)rows[j].id,
                            rows[j].bytes / sizeof(float), c->dim);
        assert(j == 0 || rows[j - 1].id < rows[j].id);
    }
    size_t pool = c->ns_pool.len;
    if (vcache_grow(s, c->count + n) != AM_OK)
        goto nomem;
    prefault_for(c, c->count + n);
    for (size_t j = 0; j < n; j++)
        if (am_buf_append(&c->ns_pool, rows[j].ns.ptr, rows[j].ns.len) !=
            AM_OK)
            goto nomem;
    size_t i = c->count, j = n, k = c->count + n, d = c->dim;
    size_t off = c->ns_pool.len;
    while (j > 0) {
        k--;
        if (i > 0 && c->ids[i - 1] > rows[j - 1].id) {
            i--;
            c->ids[k] = c->ids[i];
            c->expires[k] = c->expires[i];
            c->ns_off[k] = c->ns_off[i];
            c->ns_len[k] = c->ns_len[i];
            memcpy(c->vecs + k * d, c->vecs + i * d, d * sizeof(float));
            memcpy(c->codes + k * d, c->codes + i * d, d);
            c->vq[k] = c->vq[i];
        } else {
            j--;
            off -= rows[j].ns.len;
            c->ids[k] = rows[j].id;
            c->expires[k] = rows[j].expires;
            c->ns_off[k] = off;
            c->ns_len[k] = rows[j].ns.len;
            memcpy(c->vecs + k * d, rows[j].vec, d * sizeof(float));
            quantize(c, k);
        }
    }
    c->count += n;
    return AM_OK;
nomem:
    c->ns_pool.len = pool;
    c->valid = 0;
    return am__fail(&AM__ERR(s), AM_ENOMEM, "vector index: out of memory");
}
