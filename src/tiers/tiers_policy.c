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
#include <string.h>
#include <zstd.h>

#include "tiers_int.h"

/* ---- Compression ---- */

am_status am__tiers_compress(am_tiers *t, uint32_t slot)
{
    titem *it = &t->items[slot];
    size_t prefix = am__tiers_blob_len(it) - it->stored_len;
    size_t bound = ZSTD_compressBound(it->stored_len), n;
    char *nb;

    if (t->zc == NULL) {
        t->zc = ZSTD_createCCtx();
        if (t->zc == NULL)
            return am__fail(&t->err, AM_ENOMEM, "cannot create a zstd "
                            "compression context");
    }
    am_buf_clear(&t->scratch);
    if (am_buf_reserve(&t->scratch, bound) != AM_OK)
        return am__fail(&t->err, AM_ENOMEM, "no memory to compress %u "
                        "bytes", it->stored_len);
    n = ZSTD_compressCCtx(t->zc, t->scratch.ptr, bound,
                          am__tiers_content(it), it->stored_len,
                          t->zstd_level);
    if (ZSTD_isError(n))
        return am__fail(&t->err, AM_EIO, "zstd: %s", ZSTD_getErrorName(n));
    if (n >= UINT32_MAX)
        return am__fail(&t->err, AM_ELIMIT, "compressed content too large");
    nb = am__alloc(t->alloc, prefix + n);
    if (nb == NULL)
        return am__fail(&t->err, AM_ENOMEM, "no memory for %zu compressed "
                        "bytes", n);
    memcpy(nb, it->blob, prefix);
    memcpy(nb + prefix, t->scratch.ptr, n);
    am__free(t->alloc, it->blob, am__tiers_blob_len(it));
    it->blob = nb;
    it->stored_len = (uint32_t)n;
    return AM_OK;
}

/* Decompress the frame at `src` into exactly `dst_len` bytes at `dst`. */
static am_status unzstd(am_tiers *t, const titem *it, char *dst)
{
    size_t n;

    if (t->zd == NULL) {
        t->zd = ZSTD_createDCtx();
        if (t->zd == NULL)
            return am__fail(&t->err, AM_ENOMEM, "cannot create a zstd "
                            "decompression context");
    }
    n = ZSTD_decompressDCtx(t->zd, dst, it->content_len,
                            am__tiers_content(it), it->stored_len);
    if (ZSTD_isError(n))
        return am__fail(&t->err, AM_EFORMAT, "archived content of '%.*s' "
                        "is corrupt: %s", (int)it->id_len, am__tiers_id(it),
                        ZSTD_getErrorName(n));
    if (n != it->content_len)
        return am__fail(&t->err, AM_EFORMAT, "archived content of '%.*s' "
                        "has %zu bytes, expected %u", (int)it->id_len,
                        am__tiers_id(it), n, it->content_len);
    return AM_OK;
}

am_status am__tiers_decompress(am_tiers *t, const titem *it, am_buf *out)
{
    am_status st;

    am_buf_clear(out);
    if (am_buf_reserve(out, it->content_len) != AM_OK)
        return am__fail(&t->err, AM_ENOMEM, "no memory for %u bytes of "
                        "content", it->content_len);
    st = unzstd(t, it, out->ptr);
    if (st != AM_OK)
        return st;
    out->len = it->content_len;
    out->ptr[out->len] = '\0';
    return AM_OK;
}

am_status am__tiers_uncompress_slot(am_tiers *t, uint32_t slot)
{
    titem *it = &t->items[slot];
    size_t prefix = am__tiers_blob_len(it) - it->stored_len;
    char *nb = am__alloc(t->alloc, prefix + it->content_len);
    am_status st;

    if (nb == NULL)
        return am__fail(&t->err, AM_ENOMEM, "no memory for %u bytes of "
                        "content", it->content_len);
    st = unzstd(t, it, nb + prefix);
    if (st != AM_OK) {
        am__free(t->alloc, nb, prefix + it->content_len);
        return st;
    }
    memcpy(nb, it->blob, prefix);
    am__free(t->alloc, it->blob, am__tiers_blob_len(it));
    it->blob = nb;
    it->stored_len = it->content_len;
    return AM_OK;
}

/* ---- Default policies (the seed's) ---- */

static int64_t days_since(int64_t now, int64_t then)
{
    return am__tiers_day(now - then); /* floor, like timedelta.days */
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
        return am__fail(&t->err, AM_EINVAL, "policy name must be 1..64 "
                        "bytes");
    if (p->condition == NULL)
        return am__fail(&t->err, AM_EINVAL, "policy '%s': condition is "
                        "NULL", p->name);
    if (p->action == NULL &&
        ((unsigned)p->builtin > AM_TIER_ACT_PROMOTE ||
         p->builtin == AM_TIER_ACT_NONE))
        return am__fail(&t->err, AM_EINVAL, "policy '%s': no action (set "
                        "action or a builtin other than NONE)", p->name);
    for (size_t i = 0; i < t->npolicies; i++)
        if (strcmp(t->policies[i].name, p->name) == 0)
            return am__fail(&t->err, AM_EEXIST, "policy '%s' exists",
                            p->name);
    v = t->policies;
    if (am__grow(t->alloc, &v, &t->policies_cap, t->npolicies + 1,
                 sizeof(tpolicy)) != AM_OK)
        return am__fail(&t->err, AM_ENOMEM, "no memory for a policy");
    t->policies = v;
    np.name = am__strndup(t->alloc, p->name, nlen);
    if (np.name == NULL)
        return am__fail(&t->err, AM_ENOMEM, "no memory for a policy");
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
    if (t->zd != NULL)
        ZSTD_freeDCtx(t->zd);
}

am_status am_tiers_add_policy(am_tiers *t, const am_tier_policy *p)
{
    am_status st;

    if (t == NULL)
        return AM_EINVAL;
    if (p == NULL)
        return am__fail(&t->err, AM_EINVAL, "policy is NULL");
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
    titem *it = &t->items[slot];
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
        st = am__fail(&t->err, AM_EINVAL, "policy action %d is not an "
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
        return am__fail(&t->err, AM_EINVAL, "out is NULL with cap %zu", cap);
    pthread_mutex_lock(&t->mu);
    now = am__tiers_now(t);
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
            if (!(t->items[s].flags & T_LIVE))
                continue;
            st = am__tiers_view(t, s, &v);
            if (st != AM_OK)
                break;
            if (!p->cond(p->ctx, &v, now))
                continue;
            act = p->action != NULL ? p->action(p->ctx, &v, now)
                                    : p->builtin;
            st = perform(t, s, act, now, &done);
            if (done)
                acted++;
        }
        if (st != AM_OK && t->err.code != st)
            am__fail(&t->err, st, "policy '%s' failed", p->name);
        if (i < cap)
            out[i].acted = acted;
    }
    if (count != NULL)
        *count = t->npolicies;
    if (st == AM_OK)
        st = am__tiers_maybe_flush(t);
    pthread_mutex_unlock(&t->mu);
    return st;
}
