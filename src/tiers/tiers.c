/* tiers.c -- the hierarchical memory handle: items, id table, store,
 * retrieve, archive and restore (moves live in tiers_move.c).
 *
 * The hot path is retrieve: hash the id, probe an open-addressing table of
 * 64-bit entries (32 bits of hash beside the slot, so a probe rarely
 * touches an item that is not the one wanted), update three timestamps and
 * a counter, copy the content out. Everything that can allocate in a
 * mutating call is reserved before the first change, so that a failed
 * call leaves the handle as it was (capacity demotions it already made
 * stay made: each of them is a complete, logged move).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <stdio.h>
#include <unistd.h>

#include "core/json_glue.h"
#include "tiers_int.h"

/* ---- Names ---- */

static const char *const tier_names[AM_TIER_COUNT] = {
    "working", "short_term", "long_term", "archive"
};

const char *am_tier_name(am_tier tier)
{
    return (unsigned)tier < AM_TIER_COUNT ? tier_names[tier] : "?";
}

am_status am_tier_parse(am_str name, am_tier *out, am_error *err)
{
    static const char *const alt[AM_TIER_COUNT] = {
        "working", "short-term", "long-term", "archive"
    };

    if (out == NULL)
        return am__fail(err, AM_EINVAL, "tier: NULL out");
    for (int i = 0; i < AM_TIER_COUNT; i++) {
        if ((name.len == strlen(tier_names[i]) &&
             memcmp(name.ptr, tier_names[i], name.len) == 0) ||
            (name.len == strlen(alt[i]) &&
             memcmp(name.ptr, alt[i], name.len) == 0)) {
            *out = (am_tier)i;
            return AM_OK;
        }
    }
    return am__fail(err, AM_EINVAL, "unknown tier '%.*s' (expected working, "
                    "short_term, long_term or archive)",
                    (int)(name.len > 64 ? 64 : name.len),
                    name.ptr != NULL ? name.ptr : "");
}

const char *am_tier_reason_name(am_tier_reason reason)
{
    static const char *const names[] = {
        "promotion", "capacity", "idle", "archive", "restore", "policy"
    };
    return (unsigned)reason < sizeof names / sizeof names[0]
               ? names[reason]
               : "?";
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
    titem *it = &t->items[slot];

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

/* ---- Id table ---- */

static inline uint64_t hash_id(const am_tiers *t, const char *id, size_t len)
{
    return am__hash64(id, len, t->seed);
}

long am__tiers_find(const am_tiers *t, const char *id, size_t len)
{
    uint32_t h32;
    size_t mask, i;

    if (t->tcap == 0)
        return -1;
    h32 = (uint32_t)hash_id(t, id, len);
    mask = t->tcap - 1;
    for (i = h32 & mask;; i = (i + 1) & mask) {
        uint64_t e = t->table[i];
        if (e == 0)
            return -1;
        if ((uint32_t)(e >> 32) == h32) {
            uint32_t slot = (uint32_t)e - 1;
            const titem *it = &t->items[slot];
            if (it->id_len == len && memcmp(am__tiers_id(it), id, len) == 0)
                return (long)slot;
        }
    }
}

static void table_put(uint64_t *table, size_t tcap, uint32_t h32,
                      uint32_t slot)
{
    size_t mask = tcap - 1, i;

    for (i = h32 & mask; table[i] != 0; i = (i + 1) & mask)
        ;
    table[i] = ((uint64_t)h32 << 32) | (uint64_t)(slot + 1);
}

/* Make room for one more id at a load factor of at most 0.7. */
static am_status table_reserve(am_tiers *t)
{
    size_t ncap;
    uint64_t *nt;

    if ((t->live + 1) * 10 <= t->tcap * 7)
        return AM_OK;
    ncap = t->tcap != 0 ? t->tcap * 2 : 64;
    nt = am__calloc(t->alloc, ncap, sizeof *nt);
    if (nt == NULL)
        return AM_ENOMEM;
    for (size_t i = 0; i < t->tcap; i++)
        if (t->table[i] != 0)
            table_put(nt, ncap, (uint32_t)(t->table[i] >> 32),
                      (uint32_t)t->table[i] - 1);
    am__free(t->alloc, t->table, t->tcap * sizeof *t->table);
    t->table = nt;
    t->tcap = ncap;
    return AM_OK;
}

/* Linear probing with backward-shift deletion: no tombstones, so probe
 * lengths stay short however many items come and go. */
static void table_erase(am_tiers *t, uint32_t slot)
{
    const titem *it = &t->items[slot];
    uint32_t h32 = (uint32_t)hash_id(t, am__tiers_id(it), it->id_len);
    size_t mask = t->tcap - 1, i, j;

    for (i = h32 & mask; (uint32_t)t->table[i] != slot + 1;
         i = (i + 1) & mask)
        ;
    j = i;
    for (;;) {
        size_t k;
        j = (j + 1) & mask;
        if (t->table[j] == 0)
            break;
        k = (uint32_t)(t->table[j] >> 32) & mask;
        if ((j > i && (k <= i || k > j)) || (j < i && (k <= i && k > j))) {
            t->table[i] = t->table[j];
            i = j;
        }
    }
    t->table[i] = 0;
}

/* Grow the item array (and the parallel search keys) to hold `need`. */
static am_status grow_items(am_tiers *t, size_t need)
{
    void *p = t->items;
    uint32_t *k;

    if (am__grow(t->alloc, &p, &t->slots_cap, need, sizeof(titem)) != AM_OK)
        return AM_ENOMEM;
    t->items = p;
    if (t->skey_cap < t->slots_cap) {
        k = am__realloc(t->alloc, t->skey, t->skey_cap * sizeof *k,
                        t->slots_cap * sizeof *k);
        if (k == NULL)
            return AM_ENOMEM;
        memset(k + t->skey_cap, 0,
               (t->slots_cap - t->skey_cap) * sizeof *k);
        t->skey = k;
        t->skey_cap = t->slots_cap;
    }
    return AM_OK;
}

/* Size the item array and the id table for `n` items up front (loading),
 * so that a million-item load does not rehash or copy as it grows. */
am_status am__tiers_presize(am_tiers *t, size_t n)
{
    size_t tcap = 64;
    uint64_t *nt;

    if (grow_items(t, n) != AM_OK)
        return AM_ENOMEM;
    while ((n + 1) * 10 > tcap * 7)
        tcap *= 2;
    if (tcap <= t->tcap)
        return AM_OK;
    nt = am__calloc(t->alloc, tcap, sizeof *nt);
    if (nt == NULL)
        return AM_ENOMEM;
    for (size_t i = 0; i < t->tcap; i++)
        if (t->table[i] != 0)
            table_put(nt, tcap, (uint32_t)(t->table[i] >> 32),
                      (uint32_t)t->table[i] - 1);
    am__free(t->alloc, t->table, t->tcap * sizeof *t->table);
    t->table = nt;
    t->tcap = tcap;
    return AM_OK;
}

/* ---- Slots ---- */

/* Reserve a slot for a new item without using it yet. */
static am_status slot_reserve(am_tiers *t)
{
    am_status st;

    if (t->free_slots.len > 0)
        return AM_OK;
    if (t->pending_free.len >= 4096 && t->pending_free.len >= t->live / 8) {
        st = am__tiers_vreserve(t, &t->free_slots, t->pending_free.len);
        if (st != AM_OK)
            return st;
        am__tiers_purge_postings(t);
        memcpy(t->free_slots.v, t->pending_free.v,
               t->pending_free.len * sizeof(uint32_t));
        t->free_slots.len = t->pending_free.len;
        t->pending_free.len = 0;
        return AM_OK;
    }
    if (t->nslots >= UINT32_MAX - 1)
        return AM_ELIMIT;
    return grow_items(t, t->nslots + 1);
}

static uint32_t slot_take(am_tiers *t)
{
    if (t->free_slots.len > 0)
        return t->free_slots.v[--t->free_slots.len];
    memset(&t->items[t->nslots], 0, sizeof(titem));
    return (uint32_t)t->nslots++;
}

/* ---- Tier membership ---- */

void am__tiers_member_add(am_tiers *t, uint32_t slot, am_tier tier)
{
    tvec32 *m = &t->members[tier];

    t->items[slot].tier = (uint8_t)tier;
    t->items[slot].tier_pos = (uint32_t)m->len;
    m->v[m->len++] = slot;
    t->skey[slot] = am__tiers_skey(&t->items[slot]);
}

void am__tiers_member_del(am_tiers *t, uint32_t slot)
{
    titem *it = &t->items[slot];
    tvec32 *m = &t->members[it->tier];
    uint32_t last = m->v[--m->len];

    m->v[it->tier_pos] = last;
    t->items[last].tier_pos = it->tier_pos;
}

/* ---- Removal ---- */

am_status am__tiers_remove(am_tiers *t, uint32_t slot)
{
    titem *it = &t->items[slot];

    if (am__tiers_vreserve(t, &t->pending_free, 1) != AM_OK)
        return AM_ENOMEM;
    /* An item never written has no rows to delete (and its tentative
     * pid may be another process's row). */
    if (t->db != NULL && !(it->flags & T_NEW)) {
        void *p = t->deleted_pids.v;
        am_status st = am__grow(t->alloc, &p, &t->deleted_pids.cap,
                                t->deleted_pids.len + 1, sizeof(int64_t));
        t->deleted_pids.v = p;
        if (st != AM_OK)
            return st;
        t->deleted_pids.v[t->deleted_pids.len++] = it->pid;
    }
    table_erase(t, slot);
    am__tiers_member_del(t, slot);
    t->skey[slot] = 0;
    am__tiers_custom_drop(t, slot);
    am__free(t->alloc, it->blob, am__tiers_blob_len(it));
    it->blob = NULL;
    it->flags = 0;
    t->pending_free.v[t->pending_free.len++] = slot;
    t->live--;
    return AM_OK;
}

/* ---- Views ---- */

static am_status view_rec(am_tiers *t, const titem *it, am_tier_item *v)
{
    const uint32_t *tags = am__tiers_tags(it);
    void *p;

    if (it->ntags > t->view_tags_cap) {
        p = t->view_tags;
        if (am__grow(t->alloc, &p, &t->view_tags_cap, it->ntags,
                     sizeof(am_str)) != AM_OK)
            return AM_ENOMEM;
        t->view_tags = p;
    }
    for (size_t i = 0; i < it->ntags; i++) {
        const tkey *k = &t->tags.keys[tags[i]];
        t->view_tags[i].ptr = k->s;
        t->view_tags[i].len = k->len;
    }
    v->id.ptr = am__tiers_id(it);
    v->id.len = it->id_len;
    if (it->tier == AM_TIER_ARCHIVE) {
        v->content.ptr = NULL;
        v->content.len = 0;
    } else {
        v->content.ptr = am__tiers_content(it);
        v->content.len = it->stored_len;
    }
    v->content_len = it->content_len;
    v->tier = (am_tier)it->tier;
    v->flags = (it->flags & T_JSON) ? AM_TIER_JSON : 0;
    v->created_ms = it->created_ms;
    v->accessed_ms = it->accessed_ms;
    v->access_count = it->access_count;
    v->importance = it->importance;
    v->type.ptr = t->types.keys[it->type].s;
    v->type.len = t->types.keys[it->type].len;
    v->tags = t->view_tags;
    v->tag_count = it->ntags;
    v->extra.ptr = am__tiers_extra(it);
    v->extra.len = it->extra_len;
    v->text = (am_buf)AM_BUF_INIT;  /* a view owns no storage */
    v->tag_store = NULL;
    v->tag_cap = 0;
    return AM_OK;
}

am_status am__tiers_view(am_tiers *t, uint32_t slot, am_tier_item *v)
{
    return view_rec(t, &t->items[slot], v);
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
    if (am__errtab_init(&t->errs, o.alloc) != AM_OK) {
        am__free(o.alloc, t, sizeof *t);
        return am__fail(err, AM_ENOMEM, "cannot create the handle's mutex");
    }
    if (pthread_mutex_init(&t->mu, NULL) != 0) {
        am__errtab_free(&t->errs);
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
        st = am__tiers_db_open(t, o.db_path);
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
    for (size_t i = 0; i < t->nslots; i++)
        if (t->items[i].flags & T_LIVE)
            am__free(a, t->items[i].blob, am__tiers_blob_len(&t->items[i]));
    am__free(a, t->items, t->slots_cap * sizeof(titem));
    am__free(a, t->skey, t->skey_cap * sizeof(uint32_t));
    am__free(a, t->table, t->tcap * sizeof(uint64_t));
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
    if (am__errtab_init(&f->errs, t->alloc) != AM_OK) {
        am__free(t->alloc, f, sizeof *f);
        return AM_ENOMEM;
    }
    if (pthread_mutex_init(&f->mu, NULL) != 0) {
        am__errtab_free(&f->errs);
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
    SWAPT(titem *, items);
    SWAPT(size_t, nslots);
    SWAPT(size_t, slots_cap);
    SWAPT(uint32_t *, skey);
    SWAPT(size_t, skey_cap);
    SWAPT(tvec32, free_slots);
    SWAPT(tvec32, pending_free);
    SWAPT(size_t, live);
    SWAPT(uint64_t *, table);
    SWAPT(size_t, tcap);
    for (int i = 0; i < AM_TIER_COUNT; i++)
        SWAPT(tvec32, members[i]);
    SWAPT(int64_t, next_pid);
    SWAPT(tdict, types);
    SWAPT(tdict, tags);
    SWAPT(tdict, days);
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

/* ---- Store ---- */

am_tier_item_in am_tier_item_in_default(void)
{
    am_tier_item_in in;

    memset(&in, 0, sizeof in);
    in.importance = 0.5;
    in.tier = AM_TIER_WORKING;
    in.type = AM_STR("unknown");
    return in;
}

static am_status check_text(am_tiers *t, am_str s, const char *what,
                            size_t max)
{
    size_t bad;

    if (s.len > 0 && s.ptr == NULL)
        return am__fail(&AM__ERR(t), AM_EINVAL, "%s: NULL pointer with length "
                        "%zu", what, s.len);
    if (s.len > max)
        return am__fail(&AM__ERR(t), AM_EINVAL, "%s is %zu bytes, the limit is "
                        "%zu", what, s.len, max);
    if (!am__utf8_valid(s.ptr, s.len, &bad))
        return am__fail(&AM__ERR(t), AM_EINVAL, "%s is not valid UTF-8 (byte "
                        "%zu)", what, bad);
    if (s.len > 0 && memchr(s.ptr, '\0', s.len) != NULL)
        return am__fail(&AM__ERR(t), AM_EINVAL, "%s contains a NUL byte (byte "
                        "%zu)", what,
                        (size_t)((const char *)memchr(s.ptr, '\0', s.len) -
                                 s.ptr));
    return AM_OK;
}

am_status am__tiers_check_id(am_tiers *t, am_str id)
{
    if (id.len == 0)
        return am__fail(&AM__ERR(t), AM_EINVAL, "id is empty");
    return check_text(t, id, "id", 65535);
}

static am_status check_input(am_tiers *t, am_str id,
                             const am_tier_item_in *in)
{
    am_status st = am__tiers_check_id(t, id);

    if (st != AM_OK)
        return st;
    if (!(in->importance >= 0.0 && in->importance <= 1.0))
        return am__fail(&AM__ERR(t), AM_EINVAL, "importance %g is outside "
                        "[0, 1]", in->importance);
    if ((unsigned)in->tier >= AM_TIER_COUNT)
        return am__fail(&AM__ERR(t), AM_EINVAL, "tier %d is not a tier",
                        (int)in->tier);
    if (in->content.len > 0 && in->content.ptr == NULL)
        return am__fail(&AM__ERR(t), AM_EINVAL, "content: NULL pointer with "
                        "length %zu", in->content.len);
    if (in->content.len >= UINT32_MAX)
        return am__fail(&AM__ERR(t), AM_EINVAL, "content is %zu bytes, the "
                        "limit is 4 GiB - 1", in->content.len);
    if (in->flags & ~AM_TIER_JSON)
        return am__fail(&AM__ERR(t), AM_EINVAL, "unknown flags 0x%x",
                        in->flags);
    if ((st = check_text(t, in->type, "type", 255)) != AM_OK)
        return st;
    if (in->tag_count > 255)
        return am__fail(&AM__ERR(t), AM_EINVAL, "%zu tags, the limit is 255",
                        in->tag_count);
    if (in->tag_count > 0 && in->tags == NULL)
        return am__fail(&AM__ERR(t), AM_EINVAL, "tags is NULL with tag_count "
                        "%zu", in->tag_count);
    for (size_t i = 0; i < in->tag_count; i++) {
        char what[32];
        snprintf(what, sizeof what, "tag %zu", i);
        if (in->tags[i].len == 0)
            return am__fail(&AM__ERR(t), AM_EINVAL, "tag %zu is empty", i);
        if ((st = check_text(t, in->tags[i], what, 255)) != AM_OK)
            return st;
    }
    if ((st = check_text(t, in->extra, "extra", 1u << 20)) != AM_OK)
        return st;
    if (in->extra.len > 0) {
        json_t *v = NULL;
        am_error e;
        st = am__json_parse(in->extra, "extra", &v, &e);
        if (st == AM_OK && !json_is_object(v))
            st = am__fail(&e, AM_EINVAL, "extra must be a JSON object");
        json_decref(v);
        if (st != AM_OK)
            return am__fail(&AM__ERR(t), st == AM_ENOMEM ? AM_ENOMEM : AM_EINVAL,
                            "%s", e.msg);
    }
    if (in->flags & AM_TIER_JSON) {
        json_t *v = NULL;
        am_error e;
        st = am__json_parse(in->content, "content", &v, &e);
        json_decref(v);
        if (st != AM_OK)
            return am__fail(&AM__ERR(t), st == AM_ENOMEM ? AM_ENOMEM : AM_EINVAL,
                            "%s", e.msg);
    }
    return AM_OK;
}

/* Build the record for a new item in `rec` (blob allocated). */
static am_status build_record(am_tiers *t, am_str id,
                              const am_tier_item_in *in, int64_t now,
                              titem *rec)
{
    uint32_t tagids[255];
    size_t ntags = 0, blen;
    am_status st;
    am_str type = in->type.len > 0 ? in->type : AM_STR("unknown");

    memset(rec, 0, sizeof *rec);
    st = am__tdict_intern(t->alloc, &t->types, type.ptr, type.len,
                          &rec->type);
    if (st != AM_OK)
        return st;
    if (rec->type >= T_MAX_TYPES)
        return AM_ELIMIT; /* 33 million distinct types */
    for (size_t i = 0; i < in->tag_count; i++) {
        uint32_t tid;
        bool dup = false;
        st = am__tdict_intern(t->alloc, &t->tags, in->tags[i].ptr,
                              in->tags[i].len, &tid);
        if (st != AM_OK)
            return st;
        for (size_t j = 0; j < ntags; j++)
            dup = dup || tagids[j] == tid;
        if (!dup)
            tagids[ntags++] = tid;
    }
    rec->ntags = (uint8_t)ntags;
    rec->id_len = (uint16_t)id.len;
    rec->extra_len = (uint32_t)in->extra.len;
    rec->content_len = (uint32_t)in->content.len;
    rec->stored_len = (uint32_t)in->content.len;
    blen = am__tiers_blob_len(rec);
    rec->blob = am__alloc(t->alloc, blen);
    if (rec->blob == NULL)
        return AM_ENOMEM;
    if (ntags > 0)
        memcpy(rec->blob, tagids, 4 * ntags);
    memcpy(rec->blob + 4 * ntags, id.ptr, id.len);
    if (in->extra.len > 0)
        memcpy(rec->blob + 4 * ntags + id.len, in->extra.ptr, in->extra.len);
    if (in->content.len > 0)
        memcpy(am__tiers_content(rec), in->content.ptr, in->content.len);
    rec->created_ms = now;
    rec->accessed_ms = now;
    rec->hit1_ms = T_NONE;
    rec->hit2_ms = T_NONE;
    rec->importance = in->importance;
    rec->flags = (uint8_t)(T_LIVE | ((in->flags & AM_TIER_JSON) ? T_JSON : 0));
    rec->tier = (uint8_t)in->tier;
    return AM_OK;
}

/* Reserve room in every structure an insert touches, so that linking the
 * item in cannot fail. */
static am_status reserve_insert(am_tiers *t, const titem *rec)
{
    am_status st;
    const uint32_t *tags = am__tiers_tags(rec);
    uint32_t did;
    int64_t day = am__tiers_day(rec->created_ms);
    int b = (int)(rec->importance * 10.0);

    if ((st = slot_reserve(t)) != AM_OK ||
        (st = table_reserve(t)) != AM_OK ||
        (st = am__tiers_vreserve(t, &t->members[rec->tier], 1)) != AM_OK ||
        (st = am__tiers_vreserve(t, &t->dirty, 1)) != AM_OK ||
        (st = am__tiers_vreserve(t, &t->pending_free, 2)) != AM_OK)
        return st;
    if (t->db != NULL) {
        void *p = t->deleted_pids.v;
        st = am__grow(t->alloc, &p, &t->deleted_pids.cap,
                      t->deleted_pids.len + 1, sizeof(int64_t));
        t->deleted_pids.v = p;
        if (st != AM_OK)
            return st;
    }
    if ((st = am__tdict_intern(t->alloc, &t->days, (const char *)&day,
                               sizeof day, &did)) != AM_OK)
        return st;
    b = b < 0 ? 0 : b > 10 ? 10 : b;
    /* A push that succeeds now and is rolled back would leave a stale
     * entry; instead grow each list by one without adding. */
    {
        tpost *lists[3 + 255];
        size_t n = 0;
        lists[n++] = &t->types.keys[rec->type].post;
        lists[n++] = &t->days.keys[did].post;
        lists[n++] = &t->imp[b];
        for (size_t i = 0; i < rec->ntags; i++)
            lists[n++] = &t->tags.keys[tags[i]].post;
        for (size_t i = 0; i < n; i++) {
            void *p = lists[i]->v;
            st = am__grow(t->alloc, &p, &lists[i]->cap, lists[i]->len + 1,
                          sizeof(uint32_t));
            lists[i]->v = p;
            if (st != AM_OK)
                return st;
        }
    }
    return AM_OK;
}

am_status am_tiers_store(am_tiers *t, am_str id, const am_tier_item_in *in)
{
    am_status st;
    titem rec;
    long old;
    uint32_t slot = 0;
    int64_t now;

    if (t == NULL || in == NULL)
        return t != NULL ? am__fail(&AM__ERR(t), AM_EINVAL, "item is NULL")
                         : AM_EINVAL;
    pthread_mutex_lock(&t->mu);
    st = am__tiers_sync(t);
    if (st == AM_OK)
        st = check_input(t, id, in);
    if (st != AM_OK)
        goto out;
    now = am__tiers_now(t);
    st = build_record(t, id, in, now, &rec);
    if (st != AM_OK) {
        am__fail(&AM__ERR(t), st, "no memory to store '%.*s'", (int)id.len,
                 id.ptr);
        goto out;
    }
    st = reserve_insert(t, &rec);
    if (st != AM_OK) {
        am__free(t->alloc, rec.blob, am__tiers_blob_len(&rec));
        am__fail(&AM__ERR(t), st, "no memory to store '%.*s'", (int)id.len,
                 id.ptr);
        goto out;
    }
    /* The new item gets its slot first (nothing points at it yet), so the
     * custom extractors can see it. On any failure from here on the slot
     * goes to pending_free (reserved), never straight back to the free
     * list, since a custom posting list may already hold it. */
    slot = slot_take(t);
    rec.pid = t->next_pid; /* tentative: the flush takes the real one */
    if (t->db != NULL)
        rec.flags |= T_NEW;
    t->items[slot] = rec;
    t->items[slot].flags &= (uint8_t)~T_LIVE;
    st = am__tiers_custom_add(t, slot);
    if (st != AM_OK) {
        if (AM__ERR(t).code != st)
            am__fail(&AM__ERR(t), st, "custom index failed for '%.*s'",
                     (int)id.len, id.ptr);
        goto undo;
    }
    old = am__tiers_find(t, id.ptr, id.len);
    /* Make room before the old item goes, so a failure loses nothing. */
    if ((old < 0 || t->items[old].tier != rec.tier) &&
        am__tiers_is_full(t, (am_tier)rec.tier)) {
        st = am__tiers_evict(t, (am_tier)rec.tier);
        if (st != AM_OK) {
            am__fail(&AM__ERR(t), st, "no memory to make room for '%.*s'",
                     (int)id.len, id.ptr);
            goto undo;
        }
        old = am__tiers_find(t, id.ptr, id.len);
    }
    /* Demotions above may have used the room reserved for the dirty
     * list; take it again. */
    if (t->db != NULL && am__tiers_vreserve(t, &t->dirty, 1) != AM_OK) {
        st = am__fail(&AM__ERR(t), AM_ENOMEM, "no memory to store '%.*s'",
                      (int)id.len, id.ptr);
        goto undo;
    }
    if (rec.tier == AM_TIER_ARCHIVE) {
        st = am__tiers_compress(t, slot);
        if (st != AM_OK) {
            am__fail(&AM__ERR(t), st, "cannot compress '%.*s' for the archive",
                     (int)id.len, id.ptr);
            goto undo;
        }
    }
    if (old >= 0)
        am__tiers_remove(t, (uint32_t)old); /* reserved: cannot fail */
    t->next_pid++;
    t->items[slot].flags |= T_LIVE;
    table_put(t->table, t->tcap,
              (uint32_t)hash_id(t, id.ptr, id.len), slot);
    t->live++;
    am__tiers_member_add(t, slot, (am_tier)rec.tier);
    am__tiers_index_add(t, slot); /* reserved: cannot fail */
    am__tiers_mark(t, slot, T_DIRTY_ALL);
    st = am__tiers_maybe_flush(t);
    goto out;
undo:
    am__tiers_custom_drop(t, slot);
    am__free(t->alloc, t->items[slot].blob,
             am__tiers_blob_len(&t->items[slot]));
    t->items[slot].blob = NULL;
    t->items[slot].flags = 0;
    t->pending_free.v[t->pending_free.len++] = slot;
out:
    pthread_mutex_unlock(&t->mu);
    return st;
}

/* The loading path: no undo is needed (a failed load drops the handle),
 * so this skips the reservations a store makes and remembers the last
 * creation day, since rows arrive in creation order. Takes ownership of
 * rec->blob, also on failure. */
am_status am__tiers_insert_loaded(am_tiers *t, const titem *rec,
                                  uint32_t *slot_out)
{
    int64_t day = am__tiers_day(rec->created_ms);
    const uint32_t *tags = am__tiers_tags(rec);
    uint32_t slot;
    am_status st = grow_items(t, t->nslots + 1);

    if (st == AM_OK)
        st = table_reserve(t);
    if (st == AM_OK)
        st = am__tiers_vreserve(t, &t->members[rec->tier], 1);
    if (st == AM_OK && (t->load_day_id == 0 || t->load_day != day)) {
        uint32_t did;
        st = am__tdict_intern(t->alloc, &t->days, (const char *)&day,
                              sizeof day, &did);
        t->load_day = day;
        t->load_day_id = did + 1;
    }
    if (st != AM_OK) {
        am__free(t->alloc, rec->blob, am__tiers_blob_len(rec));
        return st;
    }
    slot = (uint32_t)t->nslots++;
    t->items[slot] = *rec;
    table_put(t->table, t->tcap,
              (uint32_t)hash_id(t, am__tiers_id(rec), rec->id_len), slot);
    t->live++;
    am__tiers_member_add(t, slot, (am_tier)rec->tier);
    if (rec->pid >= t->next_pid)
        t->next_pid = rec->pid + 1;
    *slot_out = slot;
    st = am__tpost_push(t->alloc, &t->types.keys[rec->type].post, slot);
    if (st == AM_OK)
        st = am__tpost_push(t->alloc, &t->days.keys[t->load_day_id - 1].post,
                            slot);
    if (st == AM_OK) {
        int b = (int)(rec->importance * 10.0);
        st = am__tpost_push(t->alloc, &t->imp[b < 0 ? 0 : b > 10 ? 10 : b],
                            slot);
    }
    for (size_t i = 0; st == AM_OK && i < rec->ntags; i++)
        st = am__tpost_push(t->alloc, &t->tags.keys[tags[i]].post, slot);
    return st;
}

/* ---- Retrieve, peek, describe, delete ---- */

static am_status lookup(am_tiers *t, am_str id, uint32_t *slot)
{
    long s;
    am_status st = am__tiers_check_id(t, id);

    if (st == AM_OK)
        st = am__tiers_sync(t);
    if (st != AM_OK)
        return st;
    s = am__tiers_find(t, id.ptr, id.len);
    if (s < 0)
        return am__fail(&AM__ERR(t), AM_ENOTFOUND, "no item '%.*s'",
                        (int)(id.len > 200 ? 200 : id.len), id.ptr);
    *slot = (uint32_t)s;
    return AM_OK;
}

/* ---- Copies for the caller ---- */

void am_tier_item_free(am_tier_item *item)
{
    const am_allocator *a;

    if (item == NULL)
        return;
    a = item->text.alloc;
    am__free(a, item->tag_store, item->tag_cap * sizeof(am_str));
    am_buf_free(&item->text);
    *item = (am_tier_item)AM_TIER_ITEM_INIT;
    item->text.alloc = a;
}

/* Fill `info` with a copy of `it` (caller holds t->mu): the strings go
 * into info's own storage, so nothing in it points into the handle once
 * the lock is released; the content points into `content` when the
 * caller asked for it (already filled). On failure `info` keeps its
 * storage (freeable) and its other fields are unspecified. */
static am_status copy_out(am_tiers *t, const titem *it, const am_buf *content,
                          am_tier_item *info)
{
    am_tier_item v;
    am_buf *text = &info->text;
    bool own_content = content == NULL && it->tier != AM_TIER_ARCHIVE;
    size_t total;
    am_status st;
    char *p;

    if (text->ptr == NULL && text->alloc == NULL)
        text->alloc = t->alloc;
    st = view_rec(t, it, &v);
    if (st != AM_OK)
        return am__fail(&AM__ERR(t), st, "no memory to describe an item");
    if (v.tag_count > info->tag_cap) {
        void *q = info->tag_store;
        st = am__grow(text->alloc, &q, &info->tag_cap, v.tag_count,
                      sizeof(am_str));
        if (st != AM_OK)
            return am__fail(&AM__ERR(t), st, "no memory to copy %zu tags",
                            v.tag_count);
        info->tag_store = q;
    }
    /* One reservation, so the pointers below stay put while we copy.
     * Sizes are bounded (ids 64 KiB, 255 tags of 255 bytes, content and
     * extra under 4 GiB each), so the sum cannot wrap. */
    total = v.id.len + v.type.len + v.extra.len +
            (own_content ? v.content.len : 0);
    for (size_t i = 0; i < v.tag_count; i++)
        total += v.tags[i].len;
    am_buf_clear(text);
    if (am_buf_reserve(text, total) != AM_OK)
        return am__fail(&AM__ERR(t), AM_ENOMEM,
                        "no memory to copy an item out (%zu bytes)", total);
    p = text->ptr;
#define COPY(dst, src) \
    do { \
        if ((src).len > 0) \
            memcpy(p, (src).ptr, (src).len); \
        (dst) = (am_str){ p, (src).len }; \
        p += (src).len; \
    } while (0)
    COPY(info->id, v.id);
    COPY(info->type, v.type);
    COPY(info->extra, v.extra);
    for (size_t i = 0; i < v.tag_count; i++)
        COPY(info->tag_store[i], v.tags[i]);
    if (content != NULL)
        info->content = (am_str){ content->ptr, content->len };
    else if (own_content)
        COPY(info->content, v.content);
    else
        info->content = (am_str){ NULL, 0 };
#undef COPY
    text->len = (size_t)(p - text->ptr);
    text->ptr[text->len] = '\0';
    info->tags = v.tag_count > 0 ? info->tag_store : NULL;
    info->tag_count = v.tag_count;
    info->content_len = v.content_len;
    info->tier = v.tier;
    info->flags = v.flags;
    info->created_ms = v.created_ms;
    info->accessed_ms = v.accessed_ms;
    info->access_count = v.access_count;
    info->importance = v.importance;
    return AM_OK;
}

static am_status read_out(am_tiers *t, uint32_t slot, am_buf *content,
                          am_tier_item *info)
{
    const titem *it = &t->items[slot];
    am_status st = AM_OK;

    if (content != NULL) {
        if (it->tier == AM_TIER_ARCHIVE) {
            st = am__tiers_decompress(t, it, content);
        } else {
            am_buf_clear(content);
            st = am_buf_append(content, am__tiers_content(it),
                               it->stored_len);
            if (st != AM_OK)
                am__fail(&AM__ERR(t), st, "no memory for %u bytes of content",
                         it->stored_len);
        }
        if (st != AM_OK)
            return st;
    }
    if (info != NULL)
        st = copy_out(t, it, content, info);
    return st;
}

am_status am_tiers_retrieve(am_tiers *t, am_str id, am_buf *content,
                            am_tier_item *info)
{
    am_status st;
    uint32_t slot = 0;

    if (t == NULL)
        return AM_EINVAL;
    pthread_mutex_lock(&t->mu);
    st = lookup(t, id, &slot);
    if (st == AM_OK) {
        st = am__tiers_touch(t, slot, am__tiers_now(t));
        if (st != AM_OK)
            am__fail(&AM__ERR(t), st, "no memory to record the access");
    }
    if (st == AM_OK)
        st = read_out(t, slot, content, info);
    if (st == AM_OK)
        st = am__tiers_maybe_flush(t);
    pthread_mutex_unlock(&t->mu);
    return st;
}

am_status am_tiers_peek(am_tiers *t, am_str id, am_buf *content,
                        am_tier_item *info)
{
    am_status st;
    uint32_t slot = 0;

    if (t == NULL)
        return AM_EINVAL;
    pthread_mutex_lock(&t->mu);
    st = lookup(t, id, &slot);
    if (st == AM_OK)
        st = read_out(t, slot, content, info);
    pthread_mutex_unlock(&t->mu);
    return st;
}

static am_status json_str(am_buf *out, const char *s, size_t len)
{
    json_t *v = json_stringn(s, len);
    am_status st;

    if (v == NULL)
        return AM_ENOMEM;
    st = am__json_dump_append(v, JSON_ENCODE_ANY, out, NULL);
    json_decref(v);
    return st;
}

am_status am_tiers_describe(am_tiers *t, am_str id, am_buf *out)
{
    am_status st;
    uint32_t slot = 0;
    am_tier_item v;

    if (t == NULL || out == NULL)
        return AM_EINVAL;
    pthread_mutex_lock(&t->mu);
    st = lookup(t, id, &slot);
    if (st == AM_OK)
        st = view_rec(t, &t->items[slot], &v);
    if (st != AM_OK)
        goto out;
    st = am_buf_append(out, "{\"id\":", 6);
    if (st == AM_OK)
        st = json_str(out, v.id.ptr, v.id.len);
    if (st == AM_OK) {
        /* Shortest text that reads back as the same double. */
        char imp[32];
        snprintf(imp, sizeof imp, "%.15g", v.importance);
        if (strtod(imp, NULL) != v.importance)
            snprintf(imp, sizeof imp, "%.17g", v.importance);
        st = am_buf_appendf(out, ",\"tier\":\"%s\",\"created_ms\":%lld,"
                            "\"accessed_ms\":%lld,\"access_count\":%u,"
                            "\"importance\":%s,\"type\":",
                            am_tier_name(v.tier), (long long)v.created_ms,
                            (long long)v.accessed_ms, v.access_count, imp);
    }
    if (st == AM_OK)
        st = json_str(out, v.type.ptr, v.type.len);
    if (st == AM_OK)
        st = am_buf_append(out, ",\"tags\":[", 9);
    for (size_t i = 0; st == AM_OK && i < v.tag_count; i++) {
        if (i > 0)
            st = am_buf_append(out, ",", 1);
        if (st == AM_OK)
            st = json_str(out, v.tags[i].ptr, v.tags[i].len);
    }
    if (st == AM_OK)
        st = am_buf_append(out, "],\"extra\":", 10);
    if (st == AM_OK)
        st = v.extra.len > 0 ? am_buf_append(out, v.extra.ptr, v.extra.len)
                             : am_buf_append(out, "{}", 2);
    if (st == AM_OK)
        st = am_buf_appendf(out, ",\"content_len\":%zu,\"stored_len\":%u,"
                            "\"json\":%s}", v.content_len,
                            t->items[slot].stored_len,
                            (v.flags & AM_TIER_JSON) ? "true" : "false");
    if (st != AM_OK)
        am__fail(&AM__ERR(t), st, "no memory to describe the item");
out:
    pthread_mutex_unlock(&t->mu);
    return st;
}

am_status am_tiers_delete(am_tiers *t, am_str id)
{
    am_status st;
    uint32_t slot = 0;

    if (t == NULL)
        return AM_EINVAL;
    pthread_mutex_lock(&t->mu);
    st = lookup(t, id, &slot);
    if (st == AM_OK) {
        st = am__tiers_remove(t, slot);
        if (st != AM_OK)
            am__fail(&AM__ERR(t), st, "no memory to delete the item");
    }
    if (st == AM_OK)
        st = am__tiers_maybe_flush(t);
    pthread_mutex_unlock(&t->mu);
    return st;
}

size_t am_tiers_count(am_tiers *t)
{
    size_t n;

    if (t == NULL)
        return 0;
    pthread_mutex_lock(&t->mu);
    (void)am__tiers_sync(t); /* on failure: the count as last loaded */
    n = t->live;
    pthread_mutex_unlock(&t->mu);
    return n;
}

/* ---- Archive and restore ---- */

am_status am_tiers_archive(am_tiers *t, am_str id)
{
    am_status st;
    uint32_t slot = 0;

    if (t == NULL)
        return AM_EINVAL;
    pthread_mutex_lock(&t->mu);
    st = lookup(t, id, &slot);
    if (st == AM_OK && t->items[slot].tier != AM_TIER_ARCHIVE) {
        st = am__tiers_move(t, slot, AM_TIER_ARCHIVE, AM_TIER_REASON_ARCHIVE);
        if (st != AM_OK && AM__ERR(t).code != st)
            am__fail(&AM__ERR(t), st, "cannot archive '%.*s'", (int)id.len,
                     id.ptr);
    }
    if (st == AM_OK)
        st = am__tiers_maybe_flush(t);
    pthread_mutex_unlock(&t->mu);
    return st;
}

am_status am_tiers_restore(am_tiers *t, am_str id)
{
    am_status st;
    uint32_t slot = 0;

    if (t == NULL)
        return AM_EINVAL;
    pthread_mutex_lock(&t->mu);
    st = lookup(t, id, &slot);
    if (st == AM_OK && t->items[slot].tier != AM_TIER_ARCHIVE)
        st = am__fail(&AM__ERR(t), AM_ESTATE, "'%.*s' is not archived (it is "
                      "in %s)", (int)id.len, id.ptr,
                      am_tier_name((am_tier)t->items[slot].tier));
    if (st == AM_OK) {
        st = am__tiers_move(t, slot, AM_TIER_SHORT_TERM,
                            AM_TIER_REASON_RESTORE);
        if (st != AM_OK && AM__ERR(t).code != st)
            am__fail(&AM__ERR(t), st, "cannot restore '%.*s'", (int)id.len,
                     id.ptr);
    }
    if (st == AM_OK)
        st = am__tiers_maybe_flush(t);
    pthread_mutex_unlock(&t->mu);
    return st;
}
