/* tiers_policy.c -- lifecycle policies and the compressed archive.
 *
 * A policy is a condition and an action. The action is either a callback
 * that returns what to do or a built-in verb; either way the handle does
 * the work, so that a callback never needs to call back into the (locked)
 * handle. Archived content is one zstd frame per item, held in memory and
 * in the database; restoring decompresses it into a buffer of exactly the
 * original length and checks that the frame filled it, so what comes back
 * is byte-identical or an error.
 */
#include <pthread.h>
#include <stdint.h>
#include <string.h>
/* The _advanced and static-context constructors: experimental in zstd's
 * terms, exported by the shared library and unchanged since 1.3/1.4. */
#define ZSTD_STATIC_LINKING_ONLY
#include <zstd.h>
#include <zstd_errors.h>

#include "tiers_int.h"

/* ---- Compression ---- */

/* zstd allocates through the handle's allocator, so a user allocator sees
 * that memory and the OOM sweeps reach it. zstd frees without a size,
 * which am_allocator needs: each block carries its size in a header of
 * ZHDR bytes (16, to keep malloc's alignment). */
#define ZHDR 16

static void *zalloc(void *opaque, size_t size)
{
    char *p;

    if (size > SIZE_MAX - ZHDR)
        return NULL;
    p = am__alloc(opaque, size + ZHDR);
    if (p == NULL)
        return NULL;
    memcpy(p, &(size_t){ size + ZHDR }, sizeof(size_t));
    return p + ZHDR;
}

static void zfree(void *opaque, void *addr)
{
    char *p = addr;
    size_t size;

    if (p == NULL)
        return;
    p -= ZHDR;
    memcpy(&size, p, sizeof size);
    am__free(opaque, p, size);
}

static ZSTD_customMem zmem(const am_tiers *t)
{
    /* zstd's opaque is not const; the allocator is only passed back. */
    ZSTD_customMem m = { zalloc, zfree, (void *)(uintptr_t)t->alloc };
    return m;
}

/* A zstd failure as a status: zstd running out of memory (through the
 * handle's allocator) is AM_ENOMEM, like any other allocation. */
static am_status zfail(am_tiers *t, size_t code, am_status other,
                       const char *what)
{
    if (ZSTD_getErrorCode(code) == ZSTD_error_memory_allocation)
        return am__fail(&AM__ERR(t), AM_ENOMEM, "zstd: no memory to %s",
                        what);
    return am__fail(&AM__ERR(t), other, "zstd: cannot %s: %s", what,
                    ZSTD_getErrorName(code));
}

/* Replace the content of `slot` by the zstd frame data[0..n). */
static am_status install_frame(am_tiers *t, uint32_t slot, const char *data,
                               size_t n)
{
    titem *it = am__tiers_item(t, slot);
    size_t prefix = am__tiers_blob_len(it) - it->stored_len;
    char *nb;
    uint8_t pooled;

    if (n >= UINT32_MAX)
        return am__fail(&AM__ERR(t), AM_ELIMIT, "compressed content too large");
    nb = am__tiers_blob_alloc(t, prefix + n, &pooled);
    if (nb == NULL)
        return am__fail(&AM__ERR(t), AM_ENOMEM, "no memory for %zu compressed "
                        "bytes", n);
    memcpy(nb, it->blob, prefix);
    memcpy(nb + prefix, data, n);
    am__tiers_blob_free(t, it);
    it->blob = nb;
    it->pooled = pooled;
    it->stored_len = (uint32_t)n;
    am__tiers_table_repoint(t, slot);
    return AM_OK;
}

am_status am__tiers_compress(am_tiers *t, uint32_t slot)
{
    titem *it = am__tiers_item(t, slot);
    size_t bound = ZSTD_compressBound(it->stored_len), n;

    if (t->defer_archive) {
        /* A policy run: leave the content raw and queue it for
         * am__tiers_compact (am__tiers_move reserved the queue entry). */
        it->flags |= T_RAW;
        t->raw_queue.v[t->raw_queue.len++] = slot;
        return AM_OK;
    }
    if (t->zc == NULL) {
        t->zc = ZSTD_createCCtx_advanced(zmem(t));
        if (t->zc == NULL)
            return am__fail(&AM__ERR(t), AM_ENOMEM, "cannot create a zstd "
                            "compression context");
    }
    am_buf_clear(&t->scratch);
    if (am_buf_reserve(&t->scratch, bound) != AM_OK)
        return am__fail(&AM__ERR(t), AM_ENOMEM, "no memory to compress %u "
                        "bytes", it->stored_len);
    n = ZSTD_compressCCtx(t->zc, t->scratch.ptr, bound,
                          am__tiers_content(it), it->stored_len,
                          t->zstd_level);
    if (ZSTD_isError(n))
        return zfail(t, n, AM_EIO, "compress");
    return install_frame(t, slot, t->scratch.ptr, n);
}

/* ---- Deferred, parallel compression ----
 *
 * A policy run moves items to the archive with their content raw (T_RAW)
 * and queues them; am__tiers_compact compresses the queue in steps of a
 * bounded number of bytes. The frames are independent, so a batch is
 * split between worker threads, each with its own context, writing into
 * its own region of one output buffer; the items are only read meanwhile
 * (the calling thread holds the handle's lock and waits). Installing the
 * frames (allocation, dirty marks) stays on the calling thread, so a user
 * allocator need not be thread-safe. For the same reason the workers'
 * contexts are static (ZSTD_initStaticCCtx): a zstd context allocates
 * when it starts a frame, which would be on the worker's thread, so each
 * worker gets a workspace from the handle's allocator, sized on the
 * calling thread for the largest item of its share. */

#define ZBATCH 8192

typedef struct zjob {
    uint32_t slot;
    const char *src;
    size_t src_len;
    size_t off, len;  /* the frame in the worker's region */
} zjob;

typedef struct zworker {
    zjob *jobs;
    size_t njobs;
    char *out;
    size_t cap;
    ZSTD_CCtx *cctx;
    int level;
    size_t error;     /* a zstd error code, 0 if none */
} zworker;

static void *zwork(void *arg)
{
    zworker *w = arg;
    size_t off = 0;

    for (size_t i = 0; i < w->njobs; i++) {
        size_t n = ZSTD_compressCCtx(w->cctx, w->out + off, w->cap - off,
                                     w->jobs[i].src, w->jobs[i].src_len,
                                     w->level);
        if (ZSTD_isError(n)) {
            w->error = n;
            return NULL;
        }
        w->jobs[i].off = off;
        w->jobs[i].len = n;
        off += n;
    }
    return NULL;
}

/* Worker k's context, with a workspace large enough to compress
 * `max_src` bytes at the handle's level (reused while it is). */
static am_status worker_ctx(am_tiers *t, size_t k, size_t max_src,
                            ZSTD_CCtx **out)
{
    ZSTD_compressionParameters cp =
        ZSTD_getCParams(t->zstd_level, max_src > 0 ? max_src : 1, 0);
    size_t need = ZSTD_estimateCCtxSize_usingCParams(cp);

    if (t->zcw[k] == NULL || t->zcw_size[k] < need) {
        am__free(t->alloc, t->zcw[k], t->zcw_size[k]);
        t->zcw_size[k] = 0;
        t->zcw[k] = am__alloc(t->alloc, need);
        if (t->zcw[k] == NULL)
            return am__fail(&AM__ERR(t), AM_ENOMEM, "no memory for a zstd "
                            "compression context (%zu bytes)", need);
        t->zcw_size[k] = need;
    }
    *out = ZSTD_initStaticCCtx(t->zcw[k], t->zcw_size[k]);
    if (*out == NULL)
        return am__fail(&AM__ERR(t), AM_EIO, "cannot set up a zstd "
                        "compression context (is the allocator's memory "
                        "8-byte aligned?)");
    return AM_OK;
}

static bool is_raw(const am_tiers *t, uint32_t slot)
{
    const titem *it;

    if (slot >= t->nslots)
        return false;
    it = am__tiers_item(t, slot);
    return (it->flags & T_LIVE) && (it->flags & T_RAW) &&
           it->tier == AM_TIER_ARCHIVE;
}

/* Compress jobs[0..nj) in parallel and install the frames. Returns the
 * number installed in *done (a prefix of jobs, in order). */
static am_status compress_jobs(am_tiers *t, zjob *jobs, size_t nj,
                               size_t *done)
{
    zworker w[AM__TIERS_MAX_THREADS];
    pthread_t th[AM__TIERS_MAX_THREADS];
    bool started[AM__TIERS_MAX_THREADS];
    size_t nw = t->threads, total = 0;
    char *out = NULL;
    am_status st = AM_OK;

    *done = 0;
    if (nj < 64 * nw)
        nw = 1;
    memset(w, 0, sizeof w);
    memset(started, 0, sizeof started);
    /* Equal shares of bytes, in order. */
    {
        size_t bytes = 0, per, k = 0, acc = 0;
        for (size_t i = 0; i < nj; i++)
            bytes += jobs[i].src_len;
        per = bytes / nw + 1;
        w[0].jobs = jobs;
        for (size_t i = 0; i < nj; i++) {
            if (acc >= per && k + 1 < nw) {
                k++;
                w[k].jobs = &jobs[i];
                acc = 0;
            }
            w[k].njobs++;
            w[k].cap += ZSTD_compressBound(jobs[i].src_len);
            acc += jobs[i].src_len;
        }
        nw = k + 1;
    }
    for (size_t k = 0; k < nw; k++)
        total += w[k].cap;
    if (am__tiers_vreserve(t, &t->dirty, nj) != AM_OK)
        return am__fail(&AM__ERR(t), AM_ENOMEM, "no memory to archive %zu "
                        "items", nj);
    out = am__alloc(t->alloc, total);
    if (out == NULL)
        return am__fail(&AM__ERR(t), AM_ENOMEM, "no memory to archive %zu "
                        "items", nj);
    for (size_t k = 0, off = 0; k < nw; k++) {
        w[k].out = out + off;
        off += w[k].cap;
        w[k].level = t->zstd_level;
        size_t max_src = 0;
        for (size_t i = 0; i < w[k].njobs; i++)
            if (w[k].jobs[i].src_len > max_src)
                max_src = w[k].jobs[i].src_len;
        st = worker_ctx(t, k, max_src, &w[k].cctx);
        if (st != AM_OK)
            goto done;
    }
    for (size_t k = 1; k < nw; k++)
        started[k] = pthread_create(&th[k], NULL, zwork, &w[k]) == 0;
    zwork(&w[0]);
    for (size_t k = 1; k < nw; k++) {
        if (started[k])
            pthread_join(th[k], NULL);
        else
            zwork(&w[k]); /* no thread: do its share here */
    }
    for (size_t k = 0; k < nw; k++)
        if (w[k].error != 0) {
            st = zfail(t, w[k].error, AM_EIO, "compress");
            goto done;
        }
    for (size_t k = 0; k < nw && st == AM_OK; k++)
        for (size_t i = 0; i < w[k].njobs && st == AM_OK; i++) {
            const zjob *j = &w[k].jobs[i];
            /* The same slot may be queued twice (archived, restored and
             * archived again): the first install wins. */
            if (is_raw(t, j->slot)) {
                st = install_frame(t, j->slot, w[k].out + j->off, j->len);
                if (st != AM_OK)
                    break;
                am__tiers_item(t, j->slot)->flags &= (uint8_t)~T_RAW;
                /* Only the bytes and the raw flag changed. */
                am__tiers_mark(t, j->slot, T_DIRTY_CONTENT);
            }
            (*done)++;
        }
done:
    am__free(t->alloc, out, total);
    return st;
}

/* What compressing `it` counts against a step's byte budget: its bytes,
 * and with a database at least one page, because the flush that follows
 * rewrites its content row, so a step costs a page write per item however
 * small the item (with items of ~1 KB, counting bytes alone let a 32 MiB
 * step rewrite ~30,000 pages, half a second of WAL and checkpoint I/O). */
#define T_PAGE_BYTES 4096u

static size_t step_cost(const am_tiers *t, const titem *it)
{
    return t->db != NULL && it->stored_len < T_PAGE_BYTES ? T_PAGE_BYTES
                                                          : it->stored_len;
}

am_status am__tiers_compact(am_tiers *t, size_t max_bytes)
{
    zjob *jobs = NULL;
    size_t bytes = 0;
    am_status st = AM_OK;
    /* Progress counts queue entries (stale ones included) of the queue
     * as it stands; an item archived meanwhile is not added. */
    const size_t head0 = t->raw_head, total = t->raw_queue.len - head0;

    while (t->raw_head < t->raw_queue.len &&
           (max_bytes == 0 || bytes < max_bytes) && st == AM_OK) {
        size_t nj = 0, done = 0, h = t->raw_head;
        if (jobs == NULL) {
            jobs = am__alloc_array(t->alloc, ZBATCH, sizeof *jobs);
            if (jobs == NULL)
                return am__fail(&AM__ERR(t), AM_ENOMEM, "no memory to "
                                "compress the archive");
        }
        /* Collect a batch; stale entries are dropped on the way. */
        while (h < t->raw_queue.len && nj < ZBATCH &&
               (max_bytes == 0 || bytes < max_bytes)) {
            uint32_t slot = t->raw_queue.v[h++];
            const titem *it;
            if (!is_raw(t, slot))
                continue;
            it = am__tiers_item(t, slot);
            jobs[nj].slot = slot;
            jobs[nj].src = am__tiers_content(it);
            jobs[nj].src_len = it->stored_len;
            bytes += step_cost(t, it);
            nj++;
        }
        st = compress_jobs(t, jobs, nj, &done);
        (void)done;
        /* On failure the queue is left as it was: entries installed
         * already are no longer raw and are skipped next time. */
        if (st == AM_OK)
            t->raw_head = h;
        /* A batch is up to ZBATCH items: report every batch, not only
         * at multiples of 4096 that a batch boundary may step over. */
        if (st == AM_OK && t->progress != NULL && total > 0)
            t->progress(t->progress_ctx, "compressing",
                        h - head0 < total ? h - head0 : total, total);
    }
    am__free(t->alloc, jobs, ZBATCH * sizeof *jobs);
    if (t->raw_head == t->raw_queue.len) {
        t->raw_queue.len = 0;
        t->raw_head = 0;
    } else if (t->raw_head > t->raw_queue.len / 2) {
        memmove(t->raw_queue.v, t->raw_queue.v + t->raw_head,
                (t->raw_queue.len - t->raw_head) * sizeof(uint32_t));
        t->raw_queue.len -= t->raw_head;
        t->raw_head = 0;
    }
    return st;
}

static size_t count_raw(const am_tiers *t)
{
    const tvec32 *m = &t->members[AM_TIER_ARCHIVE];
    size_t n = 0;

    if (t->raw_head == t->raw_queue.len)
        return 0;
    for (size_t i = 0; i < m->len; i++)
        if (am__tiers_item(t, m->v[i])->flags & T_RAW)
            n++;
    return n;
}

am_status am_tiers_compact(am_tiers *t, size_t max_bytes, size_t *left)
{
    am_status st;

    if (t == NULL)
        return AM_EINVAL;
    pthread_mutex_lock(&t->mu);
    st = am__tiers_compact(t, max_bytes);
    if (left != NULL)
        *left = count_raw(t);
    if (st == AM_OK)
        st = am__tiers_maybe_flush(t);
    pthread_mutex_unlock(&t->mu);
    return st;
}

/* Before room for the content is allocated: does the stored frame
 * declare content_len bytes, and could a frame of its size hold that
 * many? The length comes from a database row, which anyone may have
 * written: a 20-byte frame with a content_len of 1 GB made a read
 * allocate 1 GB before zstd could notice (found by fuzz_tier_rows). A
 * zstd block has a header of 3 bytes and yields at most 128 KiB (an RLE
 * block of 4 bytes), so n bytes of frame decompress to at most
 * n * 32768 bytes. */
static am_status frame_fits(am_tiers *t, const titem *it)
{
    const void *src = am__tiers_content(it);
    unsigned long long declared = ZSTD_getFrameContentSize(src,
                                                           it->stored_len);

    if ((uint64_t)it->content_len > (uint64_t)it->stored_len * 32768u ||
        declared != it->content_len)
        return am__fail(&AM__ERR(t), AM_EFORMAT, "archived content of '%.*s' "
                        "is corrupt: a %u-byte zstd frame cannot hold the "
                        "%u bytes recorded", (int)it->id_len,
                        am__tiers_id(it), it->stored_len, it->content_len);
    return AM_OK;
}

/* Decompress the frame at `src` into exactly `dst_len` bytes at `dst`. */
static am_status unzstd(am_tiers *t, const titem *it, char *dst)
{
    size_t n;

    if (t->zd == NULL) {
        t->zd = ZSTD_createDCtx_advanced(zmem(t));
        if (t->zd == NULL)
            return am__fail(&AM__ERR(t), AM_ENOMEM, "cannot create a zstd "
                            "decompression context");
    }
    n = ZSTD_decompressDCtx(t->zd, dst, it->content_len,
                            am__tiers_content(it), it->stored_len);
    if (ZSTD_isError(n) &&
        ZSTD_getErrorCode(n) == ZSTD_error_memory_allocation)
        return zfail(t, n, AM_ENOMEM, "decompress");
    if (ZSTD_isError(n))
        return am__fail(&AM__ERR(t), AM_EFORMAT, "archived content of '%.*s' "
                        "is corrupt: %s", (int)it->id_len, am__tiers_id(it),
                        ZSTD_getErrorName(n));
    if (n != it->content_len)
        return am__fail(&AM__ERR(t), AM_EFORMAT, "archived content of '%.*s' "
                        "has %zu bytes, expected %u", (int)it->id_len,
                        am__tiers_id(it), n, it->content_len);
    return AM_OK;
}

am_status am__tiers_decompress(am_tiers *t, const titem *it, am_buf *out)
{
    am_status st;

    am_buf_clear(out);
    if (!(it->flags & T_RAW) && (st = frame_fits(t, it)) != AM_OK)
        return st;
    if (am_buf_reserve(out, it->content_len) != AM_OK)
        return am__fail(&AM__ERR(t), AM_ENOMEM, "no memory for %u bytes of "
                        "content", it->content_len);
    if (it->flags & T_RAW) {
        if (it->content_len > 0)
            memcpy(out->ptr, am__tiers_content(it), it->content_len);
        out->len = it->content_len;
        out->ptr[out->len] = '\0';
        return AM_OK;
    }
    st = unzstd(t, it, out->ptr);
    if (st != AM_OK)
        return st;
    out->len = it->content_len;
    out->ptr[out->len] = '\0';
    return AM_OK;
}

am_status am__tiers_uncompress_slot(am_tiers *t, uint32_t slot)
{
    titem *it = am__tiers_item(t, slot);
    size_t prefix = am__tiers_blob_len(it) - it->stored_len;
    char *nb;
    uint8_t pooled;
    am_status st;

    if (it->flags & T_RAW) {
        /* Never compressed: nothing to undo (its queue entry goes stale). */
        it->flags &= (uint8_t)~T_RAW;
        return AM_OK;
    }
    if ((st = frame_fits(t, it)) != AM_OK)
        return st;
    nb = am__tiers_blob_alloc(t, prefix + it->content_len, &pooled);
    if (nb == NULL)
        return am__fail(&AM__ERR(t), AM_ENOMEM, "no memory for %u bytes of "
                        "content", it->content_len);
    st = unzstd(t, it, nb + prefix);
    if (st != AM_OK) {
        am__tiers_blob_release(t, nb, prefix + it->content_len, pooled);
        return st;
    }
    memcpy(nb, it->blob, prefix);
    am__tiers_blob_free(t, it);
    it->blob = nb;
    it->pooled = pooled;
    it->stored_len = it->content_len;
    am__tiers_table_repoint(t, slot);
    return AM_OK;
}

/* ---- Default policies (the seed's) ---- */

static int64_t days_since(int64_t now, int64_t then)
{
    return am__tiers_day(am__sub_sat(now, then)); /* floor, like timedelta.days */
}

static bool cond_archive_old(void *ctx, const am_tier_item *it, int64_t now)
{
    (void)ctx;
    return days_since(now, it->accessed_ms) > 30 && it->importance < 0.3;
}

static bool cond_delete_ancient(void *ctx, const am_tier_item *it,
                                int64_t now)
{
    (void)ctx;
    return it->tier == AM_TIER_ARCHIVE &&
           days_since(now, it->created_ms) > 365;
}

static bool cond_refresh(void *ctx, const am_tier_item *it, int64_t now)
{
    (void)ctx;
    return it->importance > 0.8 && days_since(now, it->accessed_ms) > 7;
}

static am_status add_policy(am_tiers *t, const am_tier_policy *p)
{
    size_t nlen = p->name != NULL ? strlen(p->name) : 0;
    tpolicy np;
    void *v;

    if (nlen == 0 || nlen > 64)
        return am__fail(&AM__ERR(t), AM_EINVAL, "policy name must be 1..64 "
                        "bytes");
    if (p->condition == NULL)
        return am__fail(&AM__ERR(t), AM_EINVAL, "policy '%s': condition is "
                        "NULL", p->name);
    if (p->action == NULL &&
        ((unsigned)p->builtin > AM_TIER_ACT_PROMOTE ||
         p->builtin == AM_TIER_ACT_NONE))
        return am__fail(&AM__ERR(t), AM_EINVAL, "policy '%s': no action (set "
                        "action or a builtin other than NONE)", p->name);
    for (size_t i = 0; i < t->npolicies; i++)
        if (strcmp(t->policies[i].name, p->name) == 0)
            return am__fail(&AM__ERR(t), AM_EEXIST, "policy '%s' exists",
                            p->name);
    v = t->policies;
    if (am__grow(t->alloc, &v, &t->policies_cap, t->npolicies + 1,
                 sizeof(tpolicy)) != AM_OK)
        return am__fail(&AM__ERR(t), AM_ENOMEM, "no memory for a policy");
    t->policies = v;
    np.name = am__strndup(t->alloc, p->name, nlen);
    if (np.name == NULL)
        return am__fail(&AM__ERR(t), AM_ENOMEM, "no memory for a policy");
    np.cond = p->condition;
    np.action = p->action;
    np.builtin = p->builtin;
    np.ctx = p->ctx;
    t->policies[t->npolicies++] = np;
    return AM_OK;
}

am_status am__tiers_default_policies(am_tiers *t)
{
    am_tier_policy p[3] = {
        { "archive_old_low_importance", cond_archive_old, NULL,
          AM_TIER_ACT_ARCHIVE, NULL },
        { "delete_ancient_archives", cond_delete_ancient, NULL,
          AM_TIER_ACT_DELETE, NULL },
        { "refresh_important", cond_refresh, NULL, AM_TIER_ACT_REFRESH,
          NULL },
    };
    am_status st = AM_OK;

    for (int i = 0; i < 3 && st == AM_OK; i++)
        st = add_policy(t, &p[i]);
    return st;
}

void am__tiers_policy_free(am_tiers *t)
{
    for (size_t i = 0; i < t->npolicies; i++)
        am__free(t->alloc, t->policies[i].name,
                 strlen(t->policies[i].name) + 1);
    am__free(t->alloc, t->policies, t->policies_cap * sizeof(tpolicy));
    if (t->zc != NULL)
        ZSTD_freeCCtx(t->zc);
    for (int k = 0; k < AM__TIERS_MAX_THREADS; k++)
        am__free(t->alloc, t->zcw[k], t->zcw_size[k]); /* static contexts */
    if (t->zd != NULL)
        ZSTD_freeDCtx(t->zd);
}

am_status am_tiers_add_policy(am_tiers *t, const am_tier_policy *p)
{
    am_status st;

    if (t == NULL)
        return AM_EINVAL;
    if (p == NULL)
        return am__fail(&AM__ERR(t), AM_EINVAL, "policy is NULL");
    pthread_mutex_lock(&t->mu);
    st = add_policy(t, p);
    pthread_mutex_unlock(&t->mu);
    return st;
}

/* ---- Applying ---- */

/* Do `act` on `slot`. *done says whether anything happened. */
static am_status perform(am_tiers *t, uint32_t slot, am_tier_action act,
                         int64_t now, bool *done)
{
    titem *it = am__tiers_item(t, slot);
    am_status st = AM_OK;

    *done = false;
    switch (act) {
    case AM_TIER_ACT_NONE:
        break;
    case AM_TIER_ACT_ARCHIVE:
        if (it->tier != AM_TIER_ARCHIVE) {
            st = am__tiers_move(t, slot, AM_TIER_ARCHIVE,
                                AM_TIER_REASON_ARCHIVE);
            *done = st == AM_OK;
        }
        break;
    case AM_TIER_ACT_DELETE:
        st = am__tiers_remove(t, slot);
        *done = st == AM_OK;
        break;
    case AM_TIER_ACT_REFRESH:
        if (am__tiers_vpush(t, &t->dirty, slot) != AM_OK)
            return AM_ENOMEM;
        t->dirty.len--; /* reserved one, mark pushes it if needed */
        it->accessed_ms = now;
        if (it->access_count != UINT32_MAX)
            it->access_count++;
        am__tiers_mark(t, slot, T_DIRTY_STATS);
        *done = true;
        break;
    case AM_TIER_ACT_DEMOTE:
        if (it->tier != AM_TIER_ARCHIVE) {
            st = am__tiers_move(t, slot, (am_tier)(it->tier + 1),
                                AM_TIER_REASON_POLICY);
            *done = st == AM_OK;
        }
        break;
    case AM_TIER_ACT_PROMOTE:
        if (it->tier != AM_TIER_WORKING) {
            st = am__tiers_move(t, slot, (am_tier)(it->tier - 1),
                                AM_TIER_REASON_POLICY);
            *done = st == AM_OK;
        }
        break;
    default:
        st = am__fail(&AM__ERR(t), AM_EINVAL, "policy action %d is not an "
                      "action", (int)act);
    }
    return st;
}

am_status am_tiers_apply_policies(am_tiers *t, am_tier_policy_count *out,
                                  size_t cap, size_t *count)
{
    am_status st = AM_OK;
    int64_t now;

    if (t == NULL)
        return AM_EINVAL;
    if (out == NULL && cap > 0)
        return am__fail(&AM__ERR(t), AM_EINVAL, "out is NULL with cap %zu", cap);
    if ((st = am__tiers_lock_synced(t)) != AM_OK)
        return st;
    now = am__tiers_now(t);
    /* Items moved into the archive by this run: no DELETE of the same run
     * touches them, so an item is always restorable for at least one run
     * after it was archived (the seed deletes in the same pass). */
    unsigned char *fresh = am__calloc(t->alloc, t->nslots ? t->nslots : 1, 1);
    if (fresh == NULL) {
        pthread_mutex_unlock(&t->mu);
        return am__fail(&AM__ERR(t), AM_ENOMEM, "policies: out of memory");
    }
    size_t nfresh = t->nslots ? t->nslots : 1;
    /* Archive actions leave the content raw; it is compressed below, at
     * most archive_step bytes of it per call (all of it when 0). */
    t->defer_archive = true;
    for (size_t i = 0; i < t->npolicies && i < cap; i++) {
        out[i].name = t->policies[i].name;
        out[i].acted = 0;
    }
    for (size_t i = 0; i < t->npolicies && st == AM_OK; i++) {
        const tpolicy *p = &t->policies[i];
        size_t acted = 0;
        for (uint32_t s = 0; s < t->nslots && st == AM_OK; s++) {
            am_tier_item v;
            am_tier_action act;
            bool done;
            am__tiers_progress(t, "policies", i * t->nslots + s + 1,
                               t->npolicies * t->nslots);
            if (!(am__tiers_item(t, s)->flags & T_LIVE))
                continue;
            st = am__tiers_view(t, s, &v);
            if (st != AM_OK)
                break;
            if (!p->cond(p->ctx, &v, now))
                continue;
            act = p->action != NULL ? p->action(p->ctx, &v, now)
                                    : p->builtin;
            if (act == AM_TIER_ACT_DELETE && fresh[s])
                continue;
            bool was_archived = am__tiers_item(t, s)->tier == AM_TIER_ARCHIVE;
            st = perform(t, s, act, now, &done);
            if (done)
                acted++;
            if (done && act != AM_TIER_ACT_DELETE && !was_archived &&
                am__tiers_item(t, s)->tier == AM_TIER_ARCHIVE)
                fresh[s] = 1;
        }
        if (st != AM_OK && AM__ERR(t).code != st)
            am__fail(&AM__ERR(t), st, "policy '%s' failed", p->name);
        if (i < cap)
            out[i].acted = acted;
    }
    t->defer_archive = false;
    am__free(t->alloc, fresh, nfresh);
    if (count != NULL)
        *count = t->npolicies;
    if (st == AM_OK)
        st = am__tiers_compact(t, t->archive_step);
    if (st == AM_OK)
        st = am__tiers_maybe_flush(t);
    pthread_mutex_unlock(&t->mu);
    return st;
}

/* Both cleanup calls share one limit, a million days: an age beyond it
 * is a caller's mistake (a count of milliseconds passed as days). */
#define CLEANUP_MAX_DAYS 1000000LL

am_status am_tiers_cleanup_older_than(am_tiers *t, int64_t age_ms,
                                      size_t *deleted)
{
    am_status st = AM_OK;
    size_t n = 0;
    int64_t cutoff;

    if (deleted != NULL)
        *deleted = 0;
    if (t == NULL)
        return AM_EINVAL;
    if (age_ms < 0 || age_ms > CLEANUP_MAX_DAYS * T_DAY_MS)
        return am__fail(&AM__ERR(t), AM_EINVAL,
                        "cleanup: age %lld ms is not in 0..%lld days",
                        (long long)age_ms, CLEANUP_MAX_DAYS);
    pthread_mutex_lock(&t->mu);
    st = am__tiers_sync(t);
    cutoff = am__sub_sat(am__tiers_now(t), age_ms);
    for (uint32_t s = 0; s < t->nslots && st == AM_OK; s++) {
        const titem *it = am__tiers_item(t, s);
        bool done;
        if (!(it->flags & T_LIVE) || it->created_ms >= cutoff)
            continue;
        st = perform(t, s, AM_TIER_ACT_DELETE, cutoff, &done);
        if (done)
            n++;
    }
    if (st == AM_OK)
        st = am__tiers_maybe_flush(t);
    pthread_mutex_unlock(&t->mu);
    if (deleted != NULL)
        *deleted = n;
    return st;
}

am_status am_tiers_cleanup_old_items(am_tiers *t, int64_t days,
                                     size_t *deleted)
{
    if (deleted != NULL)
        *deleted = 0;
    if (t == NULL)
        return AM_EINVAL;
    if (days < 0 || days > CLEANUP_MAX_DAYS)
        return am__fail(&AM__ERR(t), AM_EINVAL,
                        "cleanup_old_items: days %lld is not in 0..1000000",
                        (long long)days);
    return am_tiers_cleanup_older_than(t, days * T_DAY_MS, deleted);
}

am_status am_tiers_maintain(am_tiers *t, size_t *demoted,
                            am_tier_policy_count *out, size_t cap,
                            size_t *count)
{
    am_status st = am_tiers_optimize(t, demoted);

    if (st == AM_OK)
        st = am_tiers_apply_policies(t, out, cap, count);
    if (st == AM_OK)
        st = am_tiers_flush(t);
    return st;
}
