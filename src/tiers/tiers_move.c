/* tiers_move.c -- how items move: scores, capacity demotion, promotion,
 * the move log, optimize and statistics.
 *
 * Every move goes through am__tiers_move, which makes room in the target
 * tier first (demoting its lowest-scoring tenth, which may cascade), then
 * reserves everything that can fail, and only then relinks the item and
 * logs the move; archive moves compress, moves out of the archive
 * decompress. The item being moved is flagged T_MOVING so the demotions
 * it starts can never choose it.
 */
#include <stdlib.h>
#include <string.h>

#include "tiers_int.h"

/* ---- Scores and eviction ---- */

static double score_of(const titem *it, int64_t now)
{
    /* Times come from rows and clocks: a difference saturates. */
    double h = (double)am__sub_sat(now, it->accessed_ms) / 3600000.0;
    double freq = (double)it->access_count / (h > 1.0 ? h : 1.0);
    double s = it->importance + 0.3 / (1.0 + h / 24.0);

    s += freq * 0.2 < 0.3 ? freq * 0.2 : 0.3;
    return s;
}

double am_tiers_retention_score(const am_tier_item *item, int64_t now_ms)
{
    titem it;

    if (item == NULL)
        return 0.0;
    memset(&it, 0, sizeof it);
    it.accessed_ms = item->accessed_ms;
    it.access_count = item->access_count;
    it.importance = item->importance;
    return score_of(&it, now_ms);
}

typedef struct scored {
    double score;
    int64_t pid;
    uint32_t slot;
} scored;

static int cmp_scored(const void *a, const void *b)
{
    const scored *x = a, *y = b;

    if (x->score != y->score)
        return x->score < y->score ? -1 : 1;
    return x->pid < y->pid ? -1 : x->pid > y->pid;
}

static void swap_scored(scored *a, scored *b)
{
    scored x = *a;

    *a = *b;
    *b = x;
}

/* Put the k lowest of a[0..n) (cmp_scored order) first, sorted, and the
 * rest after them in no order: what sorting all n gives in a[0..k). A
 * full tier is cut by a tenth on every overflow, so sorting all of it
 * cost O(n log n) per eviction and was a fifth of a store's time through
 * the Python package; a quickselect (median of three, Hoare partition)
 * finds the boundary in O(n) and only the k demoted get sorted. After
 * 2 log2(n) rounds (a pathological input) it sorts the rest instead. */
static void select_lowest(scored *a, size_t n, size_t k)
{
    size_t lo = 0, hi = n;
    int budget = 2;

    for (size_t m = n; m > 1; m >>= 1)
        budget += 2;
    /* Invariant: a[0..lo) <= a[lo..hi) <= a[hi..n); the boundary k is
     * settled once it is outside (lo, hi). */
    while (lo < k && k < hi && hi - lo > 1) {
        size_t mid = lo + (hi - lo - 1) / 2, i = lo - 1, j = hi;
        scored p;

        if (budget-- == 0) {
            qsort(a + lo, hi - lo, sizeof *a, cmp_scored);
            break;
        }
        if (cmp_scored(&a[mid], &a[lo]) < 0)
            swap_scored(&a[mid], &a[lo]);
        if (cmp_scored(&a[hi - 1], &a[mid]) < 0) {
            swap_scored(&a[hi - 1], &a[mid]);
            if (cmp_scored(&a[mid], &a[lo]) < 0)
                swap_scored(&a[mid], &a[lo]);
        }
        p = a[mid];
        /* Hoare: the pivot is the lower median, so both halves are
         * non-empty and every round shrinks [lo, hi). */
        for (;;) {
            do
                i++;
            while (cmp_scored(&a[i], &p) < 0);
            do
                j--;
            while (cmp_scored(&p, &a[j]) < 0);
            if (i >= j)
                break;
            swap_scored(&a[i], &a[j]);
        }
        if (k <= j)
            hi = j + 1;
        else
            lo = j + 1;
    }
    qsort(a, k, sizeof *a, cmp_scored);
}

static am_status move_at(am_tiers *t, uint32_t slot, am_tier to,
                         am_tier_reason reason, int64_t now);

/* Demote the lowest-scoring 10% (at least one) of `tier` one tier down. */
am_status am__tiers_evict(am_tiers *t, am_tier tier)
{
    tvec32 *m = &t->members[tier];
    size_t n = m->len, k = t->capacity[tier] / 10;
    int64_t now = am__tiers_now(t);
    scored *sc;
    am_status st = AM_OK;

    if (tier == AM_TIER_ARCHIVE || n == 0)
        return AM_OK;
    if (k == 0)
        k = 1;
    /* A tier over capacity (reopened with a smaller one) comes back
     * within it in one go. */
    if (n >= t->capacity[tier] && n - t->capacity[tier] + 1 > k)
        k = n - t->capacity[tier] + 1;
    if (k > n)
        k = n;
    sc = am__alloc_array(t->alloc, n, sizeof *sc);
    if (sc == NULL)
        return AM_ENOMEM;
    {
        size_t w = 0;
        for (size_t i = 0; i < n; i++) {
            const titem *it = am__tiers_item(t, m->v[i]);
            if (it->flags & T_MOVING)
                continue; /* on its way out already */
            sc[w].score = score_of(it, now);
            sc[w].pid = it->pid;
            sc[w].slot = m->v[i];
            w++;
        }
        if (k > w)
            k = w;
        select_lowest(sc, w, k);
    }
    for (size_t i = 0; i < k && st == AM_OK; i++)
        st = move_at(t, sc[i].slot, (am_tier)(tier + 1),
                     AM_TIER_REASON_CAPACITY, now);
    am__free(t->alloc, sc, n * sizeof *sc);
    return st;
}

bool am__tiers_is_full(const am_tiers *t, am_tier tier)
{
    return t->capacity[tier] != 0 &&
           t->members[tier].len >= t->capacity[tier];
}

/* ---- Move log ---- */

/* Whether logging a move of an id of `id_len` bytes can reuse the copy of
 * the entry it pushes out of a full ring, which has the same length: then
 * move_at allocates nothing for the ring. A capacity eviction moves a
 * tenth of a tier, so on a full ring this was a malloc and a free per
 * move, ~6% of a store's instructions through the Python package
 * (callgrind, 100,000 stores). */
static bool ring_reuses(const am_tiers *t, size_t id_len)
{
    return t->ring_cap != 0 && t->ring_len == t->ring_cap &&
           t->ring[t->ring_head].id_len == id_len;
}

static void log_move(am_tiers *t, uint32_t slot, am_tier from, am_tier to,
                     am_tier_reason reason, char *ring_id, char *db_id,
                     int64_t now)
{
    const titem *it = am__tiers_item(t, slot);
    tmove mv;

    mv.id = ring_id;
    mv.id_len = it->id_len;
    mv.from = (uint8_t)from;
    mv.to = (uint8_t)to;
    mv.reason = (uint8_t)reason;
    mv.at_ms = now;
    if (t->ring_cap != 0) {
        size_t pos = (t->ring_head + t->ring_len) % t->ring_cap;
        if (t->ring_len == t->ring_cap) {
            pos = t->ring_head;
            if (ring_id == NULL) {
                /* ring_reuses said so: the oldest copy takes this id. */
                mv.id = t->ring[pos].id;
                memcpy(mv.id, am__tiers_id(it), it->id_len);
            } else {
                am__free(t->alloc, t->ring[pos].id,
                         (size_t)t->ring[pos].id_len + 1);
            }
            t->ring_head = (t->ring_head + 1) % t->ring_cap;
        } else {
            t->ring_len++;
        }
        t->ring[pos] = mv;
    }
    if (db_id != NULL) {
        mv.id = db_id;
        t->pending_moves[t->npending_moves++] = mv;
    }
    t->moves_total++;
}

/* ---- Moving ---- */

/* The move itself; `now` is the time it is logged at (an eviction moves
 * many items in one call: one clock read for all, it was ~5% of a store
 * reading it per move). */
static am_status move_at(am_tiers *t, uint32_t slot, am_tier to,
                         am_tier_reason reason, int64_t now)
{
    titem *it = am__tiers_item(t, slot);
    am_tier from = (am_tier)it->tier;
    char *ring_id = NULL, *db_id = NULL;
    size_t id_len = it->id_len;
    am_status st = AM_OK;
    bool was_raw, content_changed;
    void *p;

    if (to == from)
        return AM_OK;
    /* Make room first. The item is flagged so that the demotions this
     * starts (which may cascade back into its own tier) never pick it. */
    it->flags |= T_MOVING;
    if (am__tiers_is_full(t, to)) {
        st = am__tiers_evict(t, to);
        if (st != AM_OK)
            goto fail;
    }
    it = am__tiers_item(t, slot);
    /* Everything that can fail comes before the first change. */
    if (am__tiers_vreserve(t, &t->members[to], 1) != AM_OK ||
        am__tiers_vreserve(t, &t->dirty, 1) != AM_OK ||
        (to == AM_TIER_ARCHIVE && t->defer_archive &&
         am__tiers_vreserve(t, &t->raw_queue, 1) != AM_OK)) {
        st = AM_ENOMEM;
        goto fail;
    }
    if (t->ring_cap != 0 && !ring_reuses(t, id_len)) {
        ring_id = am__strndup(t->alloc, am__tiers_id(it), id_len);
        if (ring_id == NULL) {
            st = AM_ENOMEM;
            goto fail;
        }
    }
    if (t->db != NULL) {
        p = t->pending_moves;
        st = am__grow(t->alloc, &p, &t->pending_moves_cap,
                      t->npending_moves + 1, sizeof(tmove));
        t->pending_moves = p;
        if (st == AM_OK) {
            db_id = am__strndup(t->alloc, am__tiers_id(it), id_len);
            if (db_id == NULL)
                st = AM_ENOMEM;
        }
        if (st != AM_OK)
            goto fail;
    }
    was_raw = (it->flags & T_RAW) != 0;
    if (to == AM_TIER_ARCHIVE)
        st = am__tiers_compress(t, slot);
    else if (from == AM_TIER_ARCHIVE)
        st = am__tiers_uncompress_slot(t, slot);
    if (st != AM_OK)
        goto fail;
    it = am__tiers_item(t, slot);
    /* The content row changes only when the bytes did: an archive move
     * that defers compression, or a raw item leaving the archive, keeps
     * its content and rewrites the short row only (tier and raw flag). */
    content_changed = to == AM_TIER_ARCHIVE ? !(it->flags & T_RAW)
                      : from == AM_TIER_ARCHIVE ? !was_raw
                                                : false;
    it->flags &= (uint8_t)~T_MOVING;
    am__tiers_member_del(t, slot);
    am__tiers_member_add(t, slot, to);
    log_move(t, slot, from, to, reason, ring_id, db_id, now);
    am__tiers_mark(t, slot,
                  content_changed ? T_DIRTY_CONTENT : T_DIRTY_STATS);
    return AM_OK;
fail:
    am__tiers_item(t, slot)->flags &= (uint8_t)~T_MOVING;
    am__free(t->alloc, ring_id, id_len + 1);
    am__free(t->alloc, db_id, id_len + 1);
    return st;
}

am_status am__tiers_move(am_tiers *t, uint32_t slot, am_tier to,
                         am_tier_reason reason)
{
    return move_at(t, slot, to, reason, am__tiers_now(t));
}

/* ---- Access ---- */

void am__tiers_access(am_tiers *t, uint32_t slot, int64_t now)
{
    titem *it = am__tiers_item(t, slot);

    it->hit2_ms = it->hit1_ms;
    it->hit1_ms = now;
    it->accessed_ms = now;
    if (it->access_count != UINT32_MAX)
        it->access_count++;
    am__tiers_mark(t, slot, T_DIRTY_STATS);
}

/* Record an access and apply the promotion rule. */
am_status am__tiers_touch(am_tiers *t, uint32_t slot, int64_t now)
{
    titem *it = am__tiers_item(t, slot);
    int recent = 1;

    if (it->hit1_ms != T_NONE && am__sub_sat(now, it->hit1_ms) < T_HOUR_MS)
        recent++;
    if (it->hit2_ms != T_NONE && am__sub_sat(now, it->hit2_ms) < T_HOUR_MS)
        recent++;
    /* Only a handle with a database keeps a dirty list. */
    if (t->db != NULL && am__tiers_vreserve(t, &t->dirty, 1) != AM_OK)
        return AM_ENOMEM;
    am__tiers_access(t, slot, now);
    if (it->tier != AM_TIER_WORKING &&
        (recent >= 3 || it->importance > 0.8))
        return am__tiers_move(t, slot, (am_tier)(it->tier - 1),
                              AM_TIER_REASON_PROMOTION);
    return AM_OK;
}


/* ---- Moves, optimize, stats ---- */

am_status am_tiers_moves(am_tiers *t, size_t last_n, am_tier_move_fn fn,
                         void *ctx, uint64_t *total)
{
    size_t start;

    if (t == NULL || (fn == NULL && last_n > 0))
        return AM_EINVAL;
    pthread_mutex_lock(&t->mu);
    if (last_n > t->ring_len)
        last_n = t->ring_len;
    start = t->ring_len - last_n;
    for (size_t i = start; i < t->ring_len; i++) {
        const tmove *m = &t->ring[(t->ring_head + i) % t->ring_cap];
        am_tier_move mv;
        mv.id.ptr = m->id;
        mv.id.len = m->id_len;
        mv.from = (am_tier)m->from;
        mv.to = (am_tier)m->to;
        mv.at_ms = m->at_ms;
        mv.reason = (am_tier_reason)m->reason;
        fn(ctx, &mv);
    }
    if (total != NULL)
        *total = t->moves_total;
    pthread_mutex_unlock(&t->mu);
    return AM_OK;
}

am_status am_tiers_optimize(am_tiers *t, size_t *demoted)
{
    am_status st = AM_OK;
    uint32_t *pick;
    uint8_t *pick_tier;
    size_t n = 0, cap, done = 0;
    int64_t now;

    if (t == NULL)
        return AM_EINVAL;
    if ((st = am__tiers_lock_synced(t)) != AM_OK)
        return st;
    now = am__tiers_now(t);
    cap = t->members[AM_TIER_WORKING].len +
          t->members[AM_TIER_SHORT_TERM].len;
    /* Pick first, move after: an item demoted from working into short-term
     * is not looked at again in the same pass. */
    pick = am__alloc_array(t->alloc, cap, sizeof *pick);
    pick_tier = am__alloc_array(t->alloc, cap, 1);
    if (pick == NULL || pick_tier == NULL) {
        am__free(t->alloc, pick, cap * sizeof *pick);
        am__free(t->alloc, pick_tier, cap);
        st = am__fail(&AM__ERR(t), AM_ENOMEM, "no memory to optimize");
        goto out;
    }
    for (int tier = AM_TIER_WORKING; tier <= AM_TIER_SHORT_TERM; tier++) {
        const tvec32 *m = &t->members[tier];
        for (size_t i = 0; i < m->len; i++) {
            const titem *it = am__tiers_item(t, m->v[i]);
            if (am__sub_sat(now, it->accessed_ms) > 24 * T_HOUR_MS &&
                it->access_count < 2) {
                pick_tier[n] = (uint8_t)tier;
                pick[n++] = m->v[i];
            }
        }
    }
    for (size_t i = 0; i < n && st == AM_OK; i++) {
        const titem *it = am__tiers_item(t, pick[i]);
        am__tiers_progress(t, "demoting", i + 1, n);
        /* A capacity demotion made by an earlier move of this pass may
         * have moved it already; it counts as its one move. */
        if (it->tier > AM_TIER_SHORT_TERM ||
            am__sub_sat(now, it->accessed_ms) <= 24 * T_HOUR_MS)
            continue;
        if (pick_tier[i] != it->tier)
            continue;
        st = am__tiers_move(t, pick[i], (am_tier)(it->tier + 1),
                            AM_TIER_REASON_IDLE);
        if (st == AM_OK)
            done++;
        else
            am__fail(&AM__ERR(t), st, "no memory to demote (after %zu)", done);
    }
    am__free(t->alloc, pick, cap * sizeof *pick);
    am__free(t->alloc, pick_tier, cap);
    /* One bounded step of deferred archive compression, and the age
     * retention of the move log table. */
    if (st == AM_OK && t->archive_step != 0)
        st = am__tiers_compact(t, t->archive_step);
    if (st == AM_OK)
        st = am__tiers_db_prune_moves_age(t, now);
    if (st == AM_OK)
        st = am__tiers_maybe_flush(t);
out:
    if (demoted != NULL)
        *demoted = done;
    pthread_mutex_unlock(&t->mu);
    return st;
}

am_status am_tiers_stats(am_tiers *t, am_tier_stats out[AM_TIER_COUNT])
{
    int64_t now;

    if (t == NULL || out == NULL)
        return AM_EINVAL;
    pthread_mutex_lock(&t->mu);
    if (am__tiers_sync(t) != AM_OK) {
        pthread_mutex_unlock(&t->mu);
        return AM__ERR(t).code;
    }
    now = am__tiers_now(t);
    for (int tier = 0; tier < AM_TIER_COUNT; tier++) {
        const tvec32 *m = &t->members[tier];
        am_tier_stats *s = &out[tier];
        double imp = 0.0, age = 0.0;
        memset(s, 0, sizeof *s);
        s->count = m->len;
        s->capacity = t->capacity[tier];
        s->utilization = s->capacity != 0
                             ? (double)s->count / (double)s->capacity
                             : 0.0;
        for (size_t i = 0; i < m->len; i++) {
            const titem *it = am__tiers_item(t, m->v[i]);
            imp += it->importance;
            age += (double)am__sub_sat(now, it->created_ms) / 3600000.0;
            s->content_bytes += it->content_len;
            s->stored_bytes += it->stored_len;
            if (it->flags & T_RAW)
                s->uncompressed++;
        }
        if (m->len > 0) {
            s->avg_importance = imp / (double)m->len;
            s->avg_age_hours = age / (double)m->len;
        }
    }
    pthread_mutex_unlock(&t->mu);
    return AM_OK;
}
