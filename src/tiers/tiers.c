/* tiers.c -- the hierarchical memory handle: names, open and close, and
 * keeping in step with other writers of the database.
 *
 * The handle is split by purpose: where items live and how they are
 * stored (tiers_table.c), the calls on one item by id (tiers_item.c),
 * moves between tiers (tiers_move.c), policies (tiers_policy.c), the
 * indexes (tiers_index.c) and persistence (tiers_db.c). This file holds
 * what ties them together: the options, the handle's life, and the sync
 * that reloads when another connection wrote.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tiers_int.h"

/* ---- Names ---- */

static const char *const tier_names[AM_TIER_COUNT] = {
    [AM_TIER_WORKING] = "working", [AM_TIER_SHORT_TERM] = "short_term",
    [AM_TIER_LONG_TERM] = "long_term", [AM_TIER_ARCHIVE] = "archive",
};
static const am__names tiers = AM__NAMES("tier", tier_names);
/* The spelling with hyphens, accepted as well (the seed writes both). */
static const char *const tier_alt_names[AM_TIER_COUNT] = {
    [AM_TIER_SHORT_TERM] = "short-term", [AM_TIER_LONG_TERM] = "long-term",
};
static const am__names tiers_alt = AM__NAMES("tier", tier_alt_names);

const char *am_tier_name(am_tier tier)
{
    return am__name_of(&tiers, (int)tier);
}

am_status am_tier_parse(am_str name, am_tier *out, am_error *err)
{
    int v;

    if (out == NULL)
        return am__fail(err, AM_EINVAL, "tier: NULL out");
    if ((v = am__name_find(&tiers, name)) < 0 &&
        (v = am__name_find(&tiers_alt, name)) < 0)
        return am__name_fail(&tiers, name, err);
    *out = (am_tier)v;
    return AM_OK;
}

static const char *const reason_names[] = {
    [AM_TIER_REASON_PROMOTION] = "promotion",
    [AM_TIER_REASON_CAPACITY] = "capacity", [AM_TIER_REASON_IDLE] = "idle",
    [AM_TIER_REASON_ARCHIVE] = "archive",
    [AM_TIER_REASON_RESTORE] = "restore", [AM_TIER_REASON_POLICY] = "policy",
};
static const am__names reasons = AM__NAMES("tier reason", reason_names);

const char *am_tier_reason_name(am_tier_reason reason)
{
    return am__name_of(&reasons, (int)reason);
}

/* ---- Small helpers ---- */

int64_t am__tiers_now(const am_tiers *t)
{
    return am_clock_now(t->has_clock ? &t->clock : NULL);
}

am_status am__tiers_vreserve(am_tiers *t, tvec32 *v, size_t extra)
{
    void *p = v->v;
    am_status st = am__grow(t->alloc, &p, &v->cap, v->len + extra,
                            sizeof(uint32_t));
    v->v = p;
    return st;
}

am_status am__tiers_vpush(am_tiers *t, tvec32 *v, uint32_t x)
{
    am_status st = am__tiers_vreserve(t, v, 1);
    if (st == AM_OK)
        v->v[v->len++] = x;
    return st;
}

static void vfree(am_tiers *t, tvec32 *v)
{
    am__free(t->alloc, v->v, v->cap * sizeof(uint32_t));
    v->v = NULL;
    v->len = v->cap = 0;
}

void am__tiers_mark(am_tiers *t, uint32_t slot, unsigned what)
{
    titem *it = am__tiers_item(t, slot);

    if (t->db == NULL)
        return;
    if ((it->flags & T_DIRTY) == 0) {
        /* Every caller reserved room for this push before its first
         * change, so it cannot fail here. */
        if (am__tiers_vpush(t, &t->dirty, slot) != AM_OK)
            return;
    }
    it->flags |= (uint8_t)what;
}

/* ---- Open and close ---- */

am_tiers_opts am_tiers_opts_default(void)
{
    am_tiers_opts o;

    memset(&o, 0, sizeof o);
    o.capacity[AM_TIER_WORKING] = 100;
    o.capacity[AM_TIER_SHORT_TERM] = 1000;
    o.flush_interval_ms = 1000;
    o.flush_max_dirty = 10000;
    o.busy_timeout_ms = 5000;
    o.zstd_level = -1;
    o.move_log_cap = 4096;
    o.move_log_keep = 100000;
    o.move_log_keep_days = 90;
    o.archive_step_bytes = (size_t)32 << 20;
    o.default_policies = true;
    return o;
}

static void free_all(am_tiers *t);

am_status am_tiers_open(const am_tiers_opts *opts, am_tiers **out,
                        am_error *err)
{
    am_tiers_opts o = opts != NULL ? *opts : am_tiers_opts_default();
    am_tiers *t;
    am_status st;

    if (out == NULL)
        return am__fail(err, AM_EINVAL, "tiers_open: out is NULL");
    *out = NULL;
    if (o.capacity[AM_TIER_ARCHIVE] != 0)
        return am__fail(err, AM_EINVAL,
                        "capacity[archive] must be 0: the archive is "
                        "unbounded");
    if (o.flush_interval_ms < 0)
        return am__fail(err, AM_EINVAL, "flush_interval_ms %lld is negative",
                        (long long)o.flush_interval_ms);
    if (o.zstd_level < -7 || o.zstd_level > 19 || o.zstd_level == 0)
        return am__fail(err, AM_EINVAL, "zstd_level %d is outside -7..-1, "
                        "1..19", o.zstd_level);
    if (o.move_log_keep == 0)
        return am__fail(err, AM_EINVAL, "move_log_keep must be at least 1 "
                        "(the move log table keeps that many rows)");
    if ((uint64_t)o.move_log_keep > (uint64_t)INT64_MAX)
        return am__fail(err, AM_EINVAL, "move_log_keep is too large");
    if (o.busy_timeout_ms < 0)
        return am__fail(err, AM_EINVAL, "busy_timeout_ms %d is negative (0 "
                        "does not wait for a lock)", o.busy_timeout_ms);
    if (o.key.len > 0 && o.db_path == NULL)
        return am__fail(err, AM_EINVAL, "a key was given without db_path: "
                        "a memory-only system has nothing at rest to "
                        "encrypt");
    if (o.move_log_keep_days < 0)
        return am__fail(err, AM_EINVAL, "move_log_keep_days %d is negative",
                        o.move_log_keep_days);
    for (int i = 0; i < AM_TIER_COUNT; i++)
        if (o.capacity[i] > UINT32_MAX)
            return am__fail(err, AM_EINVAL, "capacity[%s] is too large",
                            am_tier_name((am_tier)i));
    t = am__calloc(o.alloc, 1, sizeof *t);
    if (t == NULL)
        return am__fail(err, AM_ENOMEM, "no memory for the tiers handle");
    if (am__handle_sync_init(&t->errs, &t->mu, o.alloc, false) != AM_OK) {
        am__free(o.alloc, t, sizeof *t);
        return am__fail(err, AM_ENOMEM, "cannot create the handle's mutex");
    }
    t->alloc = o.alloc;
    if (o.clock != NULL) {
        t->clock = *o.clock;
        t->has_clock = true;
    }
    memcpy(t->capacity, o.capacity, sizeof t->capacity);
    t->flush_interval_ms = o.flush_interval_ms;
    t->flush_max_dirty = o.flush_max_dirty != 0 ? o.flush_max_dirty : 1;
    t->zstd_level = o.zstd_level;
    t->archive_step = o.archive_step_bytes;
    t->progress = o.progress;
    t->progress_ctx = o.progress_ctx;
    t->move_keep = o.move_log_keep;
    t->move_keep_days = o.move_log_keep_days;
    t->busy_timeout_ms = o.busy_timeout_ms;
    t->threads = o.threads;
    if (t->threads == 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        t->threads = n > 0 ? (size_t)n : 1;
    }
    if (t->threads > AM__TIERS_MAX_THREADS)
        t->threads = AM__TIERS_MAX_THREADS;
    t->seed = 0x9e3779b97f4a7c15ull;
    t->next_pid = 1;
    t->scratch.alloc = o.alloc;
    t->keybuf.alloc = o.alloc;
    am__arena_init(&t->types.strings, o.alloc, 4096);
    am__arena_init(&t->tags.strings, o.alloc, 4096);
    am__arena_init(&t->days.strings, o.alloc, 4096);
    t->ring_cap = o.move_log_cap;
    if (t->ring_cap != 0) {
        t->ring = am__calloc(o.alloc, t->ring_cap, sizeof(tmove));
        if (t->ring == NULL) {
            st = am__fail(err, AM_ENOMEM, "no memory for the move log");
            goto fail;
        }
    }
    /* Type 0 is "unknown", so that a zeroed record is meaningful. */
    {
        uint32_t id;
        st = am__tdict_intern(t->alloc, &t->types, "unknown", 7, &id);
        if (st != AM_OK) {
            am__fail(err, st, "no memory for the type dictionary");
            goto fail;
        }
    }
    if (o.default_policies) {
        st = am__tiers_default_policies(t);
        if (st != AM_OK) {
            am__fail(err, st, "no memory for the default policies");
            goto fail;
        }
    }
    if (o.db_path != NULL) {
        st = am__tiers_db_open(t, o.db_path, o.key);
        if (st == AM_OK)
            st = am__tiers_db_load(t);
        if (st != AM_OK) {
            am__error_copy(err, &AM__ERR(t));
            goto fail;
        }
    }
    t->last_flush_ns = am__mono_ns();
    *out = t;
    return AM_OK;
fail:
    free_all(t);
    return st;
}

static void free_all(am_tiers *t)
{
    const am_allocator *a = t->alloc;

    am__tiers_db_close(t);
    for (size_t i = 0; i < t->nslots; i++) {
        const titem *it = am__tiers_item(t, i);
        if ((it->flags & T_LIVE) && !it->pooled)
            am__free(a, it->blob, am__tiers_blob_len(it));
    }
    am__tiers_blobs_free(t); /* every pooled blob at once */
    am__tiers_chunks_free(t);
    am__free(a, t->skey, t->skey_cap * sizeof(uint32_t));
    am__huge_free(a, t->table, t->tcap * sizeof(tent));
    vfree(t, &t->free_slots);
    vfree(t, &t->pending_free);
    vfree(t, &t->dirty);
    vfree(t, &t->raw_queue);
    for (int i = 0; i < AM_TIER_COUNT; i++)
        vfree(t, &t->members[i]);
    am__free(a, t->deleted_pids.v, t->deleted_pids.cap * sizeof(int64_t));
    am__free(a, t->purge_pids.v, t->purge_pids.cap * sizeof(int64_t));
    am__tiers_index_free(t);
    am__tiers_policy_free(t);
    for (size_t i = 0; i < t->ring_len; i++) {
        tmove *m = &t->ring[(t->ring_head + i) % t->ring_cap];
        am__free(a, m->id, (size_t)m->id_len + 1);
    }
    am__free(a, t->ring, t->ring_cap * sizeof(tmove));
    for (size_t i = 0; i < t->npending_moves; i++)
        am__free(a, t->pending_moves[i].id,
                 (size_t)t->pending_moves[i].id_len + 1);
    am__free(a, t->pending_moves, t->pending_moves_cap * sizeof(tmove));
    am__free(a, t->view_tags, t->view_tags_cap * sizeof(am_str));
    am_buf_free(&t->scratch);
    am_buf_free(&t->keybuf);
    pthread_mutex_destroy(&t->mu);
    am__errtab_free(&t->errs);
    am__free(a, t, sizeof *t);
}

am_status am_tiers_close(am_tiers *t, am_error *err)
{
    am_status st = AM_OK;

    if (t == NULL)
        return AM_OK;
    if (t->db != NULL) {
        st = am__tiers_db_flush(t);
        if (st != AM_OK)
            am__error_copy(err, &AM__ERR(t));
    }
    free_all(t);
    return st;
}

const am_error *am_tiers_last_error(const am_tiers *t)
{
    return t != NULL ? am__errtab_last(&t->errs) : am__errtab_null_handle();
}

am_status am__tiers_maybe_flush(am_tiers *t)
{
    int64_t now;

    if (t->db == NULL ||
        (t->dirty.len == 0 && t->deleted_pids.len == 0 &&
         t->npending_moves == 0))
        return AM_OK;
    if (t->flush_interval_ms != 0 && t->dirty.len < t->flush_max_dirty &&
        t->deleted_pids.len < t->flush_max_dirty) {
        now = am__mono_ns();
        if ((now - t->last_flush_ns) / 1000000 < t->flush_interval_ms)
            return AM_OK;
    }
    return am__tiers_db_flush(t);
}

/* ---- Other writers ---- */

/* A handle made only to load the database into (see reload). */
static am_status fresh_handle(const am_tiers *t, am_tiers **out)
{
    am_tiers *f = am__calloc(t->alloc, 1, sizeof *f);
    uint32_t id;

    *out = NULL;
    if (f == NULL)
        return AM_ENOMEM;
    if (am__handle_sync_init(&f->errs, &f->mu, t->alloc, false) != AM_OK) {
        am__free(t->alloc, f, sizeof *f);
        return AM_ENOMEM;
    }
    f->alloc = t->alloc;
    f->seed = t->seed;
    f->next_pid = 1;
    f->scratch.alloc = t->alloc;
    f->keybuf.alloc = t->alloc;
    am__arena_init(&f->types.strings, t->alloc, 4096);
    am__arena_init(&f->tags.strings, t->alloc, 4096);
    am__arena_init(&f->days.strings, t->alloc, 4096);
    *out = f;
    f->ring_cap = t->ring_cap;
    if (f->ring_cap != 0) {
        f->ring = am__calloc(t->alloc, f->ring_cap, sizeof(tmove));
        if (f->ring == NULL)
            return AM_ENOMEM;
    }
    return am__tdict_intern(t->alloc, &f->types, "unknown", 7, &id);
}

/* Trade every item-related field of t for f's: the items, their id table,
 * tier lists and built-in indexes, the archive queue and the move log. */
static void swap_items(am_tiers *t, am_tiers *f)
{
#define SWAPT(type, field)                                                   \
    do {                                                                     \
        type tmp_ = t->field;                                                \
        t->field = f->field;                                                 \
        f->field = tmp_;                                                     \
    } while (0)
    SWAPT(titem **, chunks);
    SWAPT(size_t, nchunks);
    SWAPT(size_t, chunks_cap);
    SWAPT(size_t, nslots);
    SWAPT(size_t, slots_cap);
    SWAPT(uint32_t *, skey);
    SWAPT(size_t, skey_cap);
    SWAPT(tvec32, free_slots);
    SWAPT(tvec32, pending_free);
    SWAPT(size_t, live);
    SWAPT(tent *, table);
    SWAPT(size_t, tcap);
    SWAPT(const char *, hint_base);
    SWAPT(tblobs, blobs);
    for (int i = 0; i < AM_TIER_COUNT; i++)
        SWAPT(tvec32, members[i]);
    SWAPT(int64_t, next_pid);
    SWAPT(tdict, types);
    SWAPT(tdict, tags);
    SWAPT(tdict, days);
    SWAPT(int64_t, day); /* remembers a key of the days just swapped */
    SWAPT(uint32_t, day_id);
    for (int i = 0; i <= 10; i++)
        SWAPT(tpost, imp[i]);
    SWAPT(tvec32, raw_queue);
    SWAPT(size_t, raw_head);
    SWAPT(size_t, nraw);
    SWAPT(tmove *, ring);
    SWAPT(size_t, ring_len);
    SWAPT(size_t, ring_head);
    SWAPT(uint64_t, moves_total);
    SWAPT(tvec32, dirty);
#undef SWAPT
    /* The purge queue is the database's state, which f just read. */
    {
        int64_t *v = t->purge_pids.v;
        size_t len = t->purge_pids.len, cap = t->purge_pids.cap;
        t->purge_pids.v = f->purge_pids.v;
        t->purge_pids.len = f->purge_pids.len;
        t->purge_pids.cap = f->purge_pids.cap;
        f->purge_pids.v = v;
        f->purge_pids.len = len;
        f->purge_pids.cap = cap;
    }
}
/* Replace the items with what the database holds now. Only called with
 * nothing pending (right after a flush). All or nothing: on failure the
 * handle keeps its items. */
static am_status reload(am_tiers *t)
{
    am_tiers *f = NULL;
    am_status st = fresh_handle(t, &f);

    if (st != AM_OK) {
        st = am__fail(&AM__ERR(t), st, "no memory to reload the tiers");
        goto out;
    }
    f->db = t->db;
    st = am__tiers_db_load(f);
    f->db = NULL;
    if (st != AM_OK) {
        am__error_copy(&AM__ERR(t), &AM__ERR(f));
        goto out;
    }
    swap_items(t, f);
    st = am__tiers_custom_rebuild(t);
    if (st != AM_OK)
        am__fail(&AM__ERR(t), st, "no memory to rebuild the custom indexes");
out:
    if (f != NULL)
        free_all(f);
    return st;
}

am_status am__tiers_lock_synced(am_tiers *t)
{
    am_status st;

    pthread_mutex_lock(&t->mu);
    st = am__tiers_sync(t);
    if (st != AM_OK)
        pthread_mutex_unlock(&t->mu);
    return st;
}

am_status am__tiers_sync(am_tiers *t)
{
    int64_t now, v = 0;
    am_status st;

    if (t->db == NULL)
        return AM_OK;
    now = am__mono_ns();
    if (t->flush_interval_ms != 0 &&
        (now - t->last_sync_ns) / 1000000 < t->flush_interval_ms)
        return AM_OK;
    t->last_sync_ns = now;
    st = am__tiers_db_version(t, &v);
    if (st != AM_OK || v == t->db_version)
        return st;
    /* Our own pending changes go first, so the reload reads them back. */
    st = am__tiers_db_flush(t);
    if (st == AM_OK)
        st = reload(t);
    if (st == AM_OK)
        t->db_version = v;
    return st;
}

am_status am_tiers_flush(am_tiers *t)
{
    am_status st;

    if (t == NULL)
        return AM_EINVAL;
    pthread_mutex_lock(&t->mu);
    st = t->db != NULL ? am__tiers_db_flush(t) : AM_OK;
    pthread_mutex_unlock(&t->mu);
    return st;
}
