/* tiers_table.c -- where the tiers' items live: the slot array, the id
 * table, tier membership, and storing and removing an item.
 *
 * The hot path is the id look-up: hash the id, probe an open-addressing
 * table of entries holding 32 bits of hash beside the slot (so a probe
 * rarely touches an item that is not the one wanted) and where the id
 * is, so the item and its id load in parallel (tent in tiers_int.h).
 * Everything that can allocate in a store is reserved before the first
 * change, so that a failed call leaves the handle as it was (capacity
 * demotions it already made stay made: each of them is a complete,
 * logged move).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/json_glue.h"
#include "tiers_int.h"

/* ---- Id table ---- */

static inline uint64_t hash_id(const am_tiers *t, const char *id, size_t len)
{
    return am__hash64(id, len, t->seed);
}

/* The hint for the id of `it` (see tent). A heap id's is its distance
 * from the handle's base, the first heap id ever hinted: integer
 * arithmetic, since the two pointers need not point into one object. */
static int32_t hint_of(am_tiers *t, const titem *it)
{
    const char *id = am__tiers_id(it);
    intptr_t d;

    if (it->pooled) {
        size_t r = am__tiers_blob_region(id);
        uintptr_t off = (uintptr_t)id - (uintptr_t)t->blobs.regions[r];
        return (int32_t)((r << T_HINT_OFF_BITS) | (off >> 2));
    }
    if (t->hint_base == NULL)
        t->hint_base = id;
    d = (intptr_t)((uintptr_t)id - (uintptr_t)t->hint_base);
    return d > -T_HINT_HEAP && d < T_HINT_HEAP ? (int32_t)(d - T_HINT_HEAP)
                                               : T_NO_HINT;
}

/* Where a hint (not T_NO_HINT) points. */
static inline const char *hint_ptr(const am_tiers *t, int32_t hint)
{
    if (hint >= 0)
        return t->blobs.regions[hint >> T_HINT_OFF_BITS] +
               ((size_t)(hint & ((1 << T_HINT_OFF_BITS) - 1)) << 2);
    return (const char *)((uintptr_t)t->hint_base +
                          (uintptr_t)(intptr_t)(hint + T_HINT_HEAP));
}

/* Find `id` by its hash, already computed (a store hashes its id once
 * for the look-up and the insert). */
static long find_h(const am_tiers *t, const char *id, size_t len,
                   uint32_t h32)
{
    size_t mask, i;

    if (t->tcap == 0)
        return -1;
    mask = t->tcap - 1;
    for (i = h32 & mask;; i = (i + 1) & mask) {
        const tent *e = &t->table[i];
        if (e->slot1 == 0)
            return -1;
        if (e->h32 == h32) {
            uint32_t slot = e->slot1 - 1;
            const titem *it = am__tiers_item(t, slot);
#if defined(__GNUC__)
            /* The record (88 bytes: it spans two lines) and the blob
             * (id, then the content a retrieve copies) load together
             * rather than one after the other (see tent). A prefetch
             * never faults, so a stale hint is harmless. */
            __builtin_prefetch(it);
            __builtin_prefetch((const char *)(it + 1) - 1);
            if (e->hint != T_NO_HINT) {
                const char *p = hint_ptr(t, e->hint);
                __builtin_prefetch(p);
                __builtin_prefetch(p + 63);
            }
#endif
            if (it->id_len == len && memcmp(am__tiers_id(it), id, len) == 0)
                return (long)slot;
        }
    }
}

uint32_t am__tiers_find_start(const am_tiers *t, const char *id, size_t len)
{
    uint32_t h32 = (uint32_t)hash_id(t, id, len);

#if defined(__GNUC__)
    if (t->tcap != 0)
        __builtin_prefetch(&t->table[h32 & (t->tcap - 1)]);
#endif
    return h32;
}

long am__tiers_find_h(const am_tiers *t, const char *id, size_t len,
                      uint32_t h32)
{
    return find_h(t, id, len, h32);
}

static void table_put(tent *table, size_t tcap, uint32_t h32, uint32_t slot,
                      int32_t hint)
{
    size_t mask = tcap - 1, i;

    for (i = h32 & mask; table[i].slot1 != 0; i = (i + 1) & mask)
        ;
    table[i].h32 = h32;
    table[i].slot1 = slot + 1;
    table[i].hint = hint;
}

/* Copy every entry of the current table into a new one of ncap. */
static am_status table_rehash(am_tiers *t, size_t ncap)
{
    tent *nt;

    if (ncap > SIZE_MAX / sizeof *nt)
        return AM_ENOMEM;
    /* From 1 MiB on (2^17 entries: 87,000+ items) on a huge page: the
     * entry is a retrieve's first cache miss, and a TLB miss on top. */
    nt = am__huge_calloc(t->alloc, ncap * sizeof *nt);
    if (nt == NULL)
        return AM_ENOMEM;
    for (size_t i = 0; i < t->tcap; i++)
        if (t->table[i].slot1 != 0)
            table_put(nt, ncap, t->table[i].h32, t->table[i].slot1 - 1,
                      t->table[i].hint);
    am__huge_free(t->alloc, t->table, t->tcap * sizeof *t->table);
    t->table = nt;
    t->tcap = ncap;
    return AM_OK;
}

/* The entry of slot (which is in the table), found by its id's hash. */
static tent *table_entry(am_tiers *t, uint32_t slot)
{
    const titem *it = am__tiers_item(t, slot);
    uint32_t h32 = (uint32_t)hash_id(t, am__tiers_id(it), it->id_len);
    size_t mask = t->tcap - 1, i;

    for (i = h32 & mask; t->table[i].slot1 != 0; i = (i + 1) & mask)
        if (t->table[i].slot1 == slot + 1)
            return &t->table[i];
    return NULL;
}

void am__tiers_table_repoint(am_tiers *t, uint32_t slot)
{
    /* A slot not linked in yet (a store compressing for the archive
     * before it links the item) has no entry: table_put sets it. */
    tent *e = t->tcap != 0 ? table_entry(t, slot) : NULL;

    if (e != NULL)
        e->hint = hint_of(t, am__tiers_item(t, slot));
}

/* The table's load factor is at most 0.8. Every retrieve's first cache
 * miss is its entry, and how long that miss takes depends on the table's
 * size (at 100,000 items, 2^17 entries of 12 bytes rather than 2^18 made
 * the C retrieve p50 30-50 ns faster on the development VM: see
 * docs/BENCHMARKS.md). Probes stay short at 0.8 with linear probing: a
 * found id looks at 3 entries on average, a missing one (a new id's
 * store) at 13, contiguous and compared by their 32 hash bits only. */
static bool table_fits(size_t n, size_t tcap)
{
    return n * 10 <= tcap * 8;
}

/* Make room for one more id. */
static am_status table_reserve(am_tiers *t)
{
    if (table_fits(t->live + 1, t->tcap))
        return AM_OK;
    return table_rehash(t, t->tcap != 0 ? t->tcap * 2 : 64);
}

/* Linear probing with backward-shift deletion: no tombstones, so probe
 * lengths stay short however many items come and go. */
static void table_erase(am_tiers *t, uint32_t slot)
{
    size_t mask = t->tcap - 1, i, j;

    i = (size_t)(table_entry(t, slot) - t->table);
    j = i;
    for (;;) {
        size_t k;
        j = (j + 1) & mask;
        if (t->table[j].slot1 == 0)
            break;
        k = t->table[j].h32 & mask;
        if ((j > i && (k <= i || k > j)) || (j < i && (k <= i && k > j))) {
            t->table[i] = t->table[j];
            i = j;
        }
    }
    t->table[i].slot1 = 0;
    t->table[i].hint = T_NO_HINT;
}

/* The next chunk of records (T_HEAP_CHUNKS in tiers_int.h says where
 * it comes from), or NULL. */
_Static_assert(T_REGION_BYTES <= ((size_t)2 << 20),
               "a region of chunks fits one 2 MiB page");
static titem *new_chunk(am_tiers *t)
{
    size_t k = t->nchunks;

    if (k < T_HEAP_CHUNKS)
        return am__alloc(t->alloc, T_CHUNK * sizeof(titem));
    if ((k - T_HEAP_CHUNKS) % T_REGION_CHUNKS != 0)
        return t->chunks[k - 1] + T_CHUNK;
    return am__huge_calloc(t->alloc, T_REGION_BYTES);
}

void am__tiers_chunks_free(am_tiers *t)
{
    for (size_t i = 0; i < t->nchunks; i++) {
        if (i < T_HEAP_CHUNKS)
            am__free(t->alloc, t->chunks[i], T_CHUNK * sizeof(titem));
        else if ((i - T_HEAP_CHUNKS) % T_REGION_CHUNKS == 0)
            am__huge_free(t->alloc, t->chunks[i], T_REGION_BYTES);
    }
    am__free(t->alloc, t->chunks, t->chunks_cap * sizeof(titem *));
    t->chunks = NULL;
    t->nchunks = t->chunks_cap = 0;
}

/* Grow the item array (and the parallel search keys) to hold `need`:
 * whole chunks are added, the records already there stay where they are
 * (T_CHUNK in tiers_int.h says why). The search keys are still one
 * array grown by realloc: 4 bytes a slot, read by searches, not by a
 * retrieve. */
static am_status grow_items(am_tiers *t, size_t need)
{
    uint32_t *k;

    while (t->slots_cap < need) {
        void *p = t->chunks;
        titem *c;
        if (am__grow(t->alloc, &p, &t->chunks_cap, t->nchunks + 1,
                     sizeof(titem *)) != AM_OK)
            return AM_ENOMEM;
        t->chunks = p;
        c = new_chunk(t);
        if (c == NULL)
            return AM_ENOMEM;
        t->chunks[t->nchunks++] = c;
        t->slots_cap += T_CHUNK;
    }
    if (t->skey_cap < t->slots_cap) {
        /* Doubling: the slots grow a chunk at a time. */
        size_t cap = t->skey_cap * 2 > t->slots_cap ? t->skey_cap * 2
                                                    : t->slots_cap;
        k = am__realloc(t->alloc, t->skey, t->skey_cap * sizeof *k,
                        cap * sizeof *k);
        if (k == NULL)
            return AM_ENOMEM;
        memset(k + t->skey_cap, 0, (cap - t->skey_cap) * sizeof *k);
        t->skey = k;
        t->skey_cap = cap;
    }
    return AM_OK;
}

/* Size the item array and the id table for `n` items up front (loading),
 * so that a million-item load does not rehash or copy as it grows. */
am_status am__tiers_presize(am_tiers *t, size_t n)
{
    size_t tcap = 64;

    if (grow_items(t, n) != AM_OK)
        return AM_ENOMEM;
    while (!table_fits(n + 1, tcap))
        tcap *= 2;
    if (tcap <= t->tcap)
        return AM_OK;
    return table_rehash(t, tcap);
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
    memset(am__tiers_item(t, t->nslots), 0, sizeof(titem));
    return (uint32_t)t->nslots++;
}

/* ---- Tier membership ---- */

void am__tiers_member_add(am_tiers *t, uint32_t slot, am_tier tier)
{
    tvec32 *m = &t->members[tier];

    am__tiers_item(t, slot)->tier = (uint8_t)tier;
    am__tiers_item(t, slot)->tier_pos = (uint32_t)m->len;
    m->v[m->len++] = slot;
    t->skey[slot] = am__tiers_skey(am__tiers_item(t, slot));
}

void am__tiers_member_del(am_tiers *t, uint32_t slot)
{
    titem *it = am__tiers_item(t, slot);
    tvec32 *m = &t->members[it->tier];
    uint32_t last = m->v[--m->len];

    m->v[it->tier_pos] = last;
    am__tiers_item(t, last)->tier_pos = it->tier_pos;
}

/* ---- Removal ---- */

am_status am__tiers_remove(am_tiers *t, uint32_t slot)
{
    titem *it = am__tiers_item(t, slot);

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
    am__tiers_blob_free(t, it);
    it->blob = NULL;
    it->flags = 0;
    t->pending_free.v[t->pending_free.len++] = slot;
    t->live--;
    return AM_OK;
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
    return check_text(t, id, "id", T_ID_MAX);
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
        am_error e = { AM_OK, "" };
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
        am_error e = { AM_OK, "" };
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
    am_status st = AM_OK;
    am_str type = in->type.len > 0 ? in->type : AM_STR("unknown");

    memset(rec, 0, sizeof *rec);
    /* Type 0 is "unknown" in every handle (see am_tiers_open), and most
     * items have no type: that one needs no hashing. */
    if (type.len == 7 && memcmp(type.ptr, "unknown", 7) == 0)
        rec->type = 0;
    else
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
    rec->blob = am__tiers_blob_alloc(t, blen, &rec->pooled);
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
    if ((st = am__tiers_day_id(t, day, &did)) != AM_OK)
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

/* Store, and copy the stored item into info when it is not NULL. */
static am_status store(am_tiers *t, am_str id, const am_tier_item_in *in,
                       am_tier_item *info)
{
    am_status st;
    titem rec;
    long old;
    uint32_t slot = 0, h32;
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
    h32 = (uint32_t)hash_id(t, id.ptr, id.len);
    now = am__tiers_now(t);
    st = build_record(t, id, in, now, &rec);
    if (st != AM_OK) {
        am__fail(&AM__ERR(t), st, st == AM_ELIMIT
                 ? "cannot store '%.*s': the handle holds the most distinct "
                   "types it can (2^25)"
                 : "no memory to store '%.*s'", (int)id.len, id.ptr);
        goto out;
    }
    st = reserve_insert(t, &rec);
    if (st != AM_OK) {
        am__tiers_blob_free(t, &rec);
        am__fail(&AM__ERR(t), st, st == AM_ELIMIT
                 ? "cannot store '%.*s': the handle holds the most items it "
                   "can (2^32 - 2 slots)"
                 : "no memory to store '%.*s'", (int)id.len, id.ptr);
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
    *am__tiers_item(t, slot) = rec;
    am__tiers_item(t, slot)->flags &= (uint8_t)~T_LIVE;
    st = am__tiers_custom_add(t, slot);
    if (st != AM_OK) {
        if (AM__ERR(t).code != st)
            am__fail(&AM__ERR(t), st, "custom index failed for '%.*s'",
                     (int)id.len, id.ptr);
        goto undo;
    }
    old = find_h(t, id.ptr, id.len, h32);
    /* Make room before the old item goes, so a failure loses nothing. */
    if ((old < 0 || am__tiers_item(t, old)->tier != rec.tier) &&
        am__tiers_is_full(t, (am_tier)rec.tier)) {
        st = am__tiers_evict(t, (am_tier)rec.tier);
        if (st != AM_OK) {
            am__fail(&AM__ERR(t), st, "no memory to make room for '%.*s'",
                     (int)id.len, id.ptr);
            goto undo;
        }
        old = find_h(t, id.ptr, id.len, h32);
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
    am__tiers_item(t, slot)->flags |= T_LIVE;
    table_put(t->table, t->tcap, h32, slot,
              hint_of(t, am__tiers_item(t, slot)));
    t->live++;
    am__tiers_member_add(t, slot, (am_tier)rec.tier);
    am__tiers_index_add(t, slot); /* reserved: cannot fail */
    am__tiers_mark(t, slot, T_DIRTY_ALL);
    st = info != NULL ? am__tiers_read_out(t, slot, NULL, info) : AM_OK;
    if (st == AM_OK)
        st = am__tiers_maybe_flush(t);
    goto out;
undo:
    am__tiers_custom_drop(t, slot);
    am__tiers_blob_free(t, am__tiers_item(t, slot));
    am__tiers_item(t, slot)->blob = NULL;
    am__tiers_item(t, slot)->flags = 0;
    t->pending_free.v[t->pending_free.len++] = slot;
out:
    pthread_mutex_unlock(&t->mu);
    return st;
}

am_status am_tiers_store(am_tiers *t, am_str id, const am_tier_item_in *in)
{
    return store(t, id, in, NULL);
}

am_status am_tiers_store_read(am_tiers *t, am_str id,
                              const am_tier_item_in *in, am_tier_item *info)
{
    if (t != NULL && info == NULL)
        return am__fail(&AM__ERR(t), AM_EINVAL, "info is NULL");
    return store(t, id, in, info);
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
    if (st == AM_OK) {
        uint32_t did;
        st = am__tiers_day_id(t, day, &did);
    }
    if (st != AM_OK) {
        am__tiers_blob_free(t, rec);
        return st;
    }
    slot = (uint32_t)t->nslots++;
    *am__tiers_item(t, slot) = *rec;
    table_put(t->table, t->tcap,
              (uint32_t)hash_id(t, am__tiers_id(rec), rec->id_len), slot,
              hint_of(t, rec));
    t->live++;
    am__tiers_member_add(t, slot, (am_tier)rec->tier);
    if (rec->pid >= t->next_pid)
        t->next_pid = rec->pid + 1;
    *slot_out = slot;
    st = am__tpost_push(t->alloc, &t->types.keys[rec->type].post, slot);
    if (st == AM_OK)
        st = am__tpost_push(t->alloc, &t->days.keys[t->day_id - 1].post,
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
