/* tiers_int.h -- internals shared by the files of src/tiers/.
 *
 * Items are fixed-size records in chunks of 1,024 that never move (see
 * am__tiers_item), addressed by a 32-bit slot.
 * Strings of an item (tag ids, id, extra metadata, content) sit in one
 * allocation, `blob` (in a big handle, small blobs come from regions of
 * their own: tiers_blob.c). An open-addressing table maps id -> slot; each tier
 * keeps an array of its slots (an item knows its position, so moves are
 * O(1)). Indexes are posting lists of slots that are never updated in
 * place: a deleted item leaves a stale entry behind, searches skip dead
 * slots, and a dead slot is only reused after every posting list has been
 * purged of it (so a stale entry can never point at a new item).
 */
#ifndef AM_TIERS_INT_H
#define AM_TIERS_INT_H

#include <pthread.h>
#include <sqlite3.h>

#include "agentmem/tiers.h"
#include "core/core.h"
#include "core/errtab.h"
#include "db/sqlite_db.h"

#define T_LIVE 0x01u          /* slot holds an item */
#define T_JSON 0x02u          /* content is JSON */
#define T_DIRTY_STATS 0x04u   /* tier/access columns changed */
#define T_DIRTY_ALL 0x08u     /* whole row (and content) changed */
#define T_DIRTY_CONTENT 0x40u /* content bytes and tier/access changed */
#define T_DIRTY (T_DIRTY_STATS | T_DIRTY_ALL | T_DIRTY_CONTENT)
#define T_MOVING 0x10u        /* am__tiers_move in progress: not evictable */
#define T_RAW 0x20u           /* archived, content not compressed yet */
/* Not in the database yet: its pid is tentative, and the flush that
 * writes it takes a pid from the database (see tiers_db.c). */
#define T_NEW 0x80u

#define AM__TIERS_MAX_THREADS 8

#define T_NONE INT64_MIN      /* no such access time */
#define T_HOUR_MS 3600000LL
#define T_DAY_MS 86400000LL

typedef struct titem {
    char *blob;            /* [u32 tags][id][extra][content] */
    int64_t pid;           /* database row id */
    int64_t created_ms;
    int64_t accessed_ms;
    int64_t hit1_ms;       /* last retrieve, or T_NONE */
    int64_t hit2_ms;       /* the one before, or T_NONE */
    double importance;
    uint32_t content_len;  /* original length */
    uint32_t stored_len;   /* bytes in blob (compressed when archived) */
    uint32_t access_count;
    uint32_t type;         /* id in the type dictionary */
    uint32_t tier_pos;     /* position in members[tier] */
    uint32_t extra_len;
    uint16_t id_len;
    uint8_t ntags;
    uint8_t flags;
    uint8_t tier;
    uint8_t pooled;        /* blob is in a blob region (tiers_blob.c) */
} titem;

/* An id table entry, 12 bytes. `h32` is the id's 32-bit hash (a probe
 * rarely touches an item that is not the one wanted, and a rehash needs
 * no id); `slot1` is the slot + 1, 0 empty. `hint` is where the item's id
 * is, so that a look-up can start loading the id while it loads the item
 * record (three dependent cache misses become two at 100,000 items):
 * - an id in a blob region (tiers_blob.c), hint >= 0: the region's index
 *   times 2^T_HINT_OFF_BITS plus the id's offset in it / 4 (a pooled
 *   blob is 16-byte aligned and the id follows its 4-byte tag ids);
 * - any other id, hint < 0: its distance d from the handle's `hint_base`
 *   (the first such id), as d - 2^30, for |d| < 2^30.
 * It is only a load hint: the compare reads the id through the record,
 * so a stale or missing hint (T_NO_HINT: out of those ranges) costs a
 * wasted or a later load, never a wrong answer (am__tiers_table_repoint
 * keeps it current when a blob moves). A 64-bit pointer here made the
 * table 16 bytes an entry, 16.8 more bytes per item at 1,000,000 items
 * (a table of 2^21 entries) than the 8-byte entry before it; 32 bits
 * give back half of that and keep the parallel load. */
#define T_NO_HINT INT32_MIN
#define T_HINT_OFF_BITS 19      /* 2 MiB / 4 */
#define T_HINT_HEAP ((int32_t)1 << 30)
typedef struct tent {
    uint32_t h32;
    uint32_t slot1;
    int32_t hint;
} tent;

typedef struct tpost {
    uint32_t *v;
    size_t len, cap;
} tpost;

/* A dictionary of interned keys, each with a posting list. */
typedef struct tkey {
    const char *s;
    uint32_t len;
    uint32_t hash;
    tpost post;
} tkey;

typedef struct tdict {
    uint32_t *table;  /* key index + 1, 0 empty */
    size_t tcap;      /* power of two */
    tkey *keys;
    size_t count, cap;
    am__arena strings;
} tdict;

typedef struct tindex {
    char *name;
    am_tier_key_fn fn;
    void *ctx;
    tdict keys;
    uint32_t *key_of;     /* per slot: key index + 1, 0 none */
    size_t key_of_cap;
} tindex;

typedef struct tpolicy {
    char *name;
    am_tier_cond_fn cond;
    am_tier_action_fn action;
    am_tier_action builtin;
    void *ctx;
} tpolicy;

typedef struct tmove {
    char *id;
    uint16_t id_len;
    uint8_t from, to, reason;
    int64_t at_ms;
} tmove;

typedef struct tvec32 {
    uint32_t *v;
    size_t len, cap;
} tvec32;

/* Small blobs of a big handle (tiers_blob.c): up to T_BLOB_MAX bytes, in
 * classes of T_BLOB_GRAIN bytes, carved from 2 MiB regions. */
#define T_BLOB_GRAIN 16
#define T_BLOB_MAX 512
#define T_BLOB_CLASSES (T_BLOB_MAX / T_BLOB_GRAIN)
/* Every region must be nameable by a hint (tent): 8 GiB of small blobs. */
#define T_BLOB_MAX_REGIONS ((size_t)1 << (31 - T_HINT_OFF_BITS))
typedef struct tblobs {
    char **regions;                 /* each 2 MiB, 2 MiB aligned */
    size_t nregions, regions_cap;
    char *bump;                     /* the uncarved rest of the last one */
    size_t left;
    char *free[T_BLOB_CLASSES];     /* freed blobs, linked through them */
} tblobs;

struct am_tiers {
    pthread_mutex_t mu;
    am__errtab errs;    /* error detail per thread (core/errtab.h) */
    const am_allocator *alloc;
    am_clock clock;
    bool has_clock;
    size_t capacity[AM_TIER_COUNT];
    int64_t flush_interval_ms;
    size_t flush_max_dirty;
    int zstd_level;
    int busy_timeout_ms;

    /* Items: chunks of T_CHUNK records, allocated once and never moved
     * (am__tiers_item). `chunks` itself is a small array of pointers
     * that may be reallocated. */
    titem **chunks;
    size_t nchunks, chunks_cap;
    size_t nslots, slots_cap;  /* slots in use (high water), allocated */
    /* Per slot, what most searches test, packed so that checking a
     * candidate rarely touches its record: bit 0 live, bits 1-2 tier,
     * bits 3-6 importance bucket, bits 7-31 type id (am__tiers_skey). */
    uint32_t *skey;
    size_t skey_cap;
    tvec32 free_slots;         /* dead slots safe to reuse */
    tvec32 pending_free;       /* dead slots still in posting lists */
    size_t live;
    uint64_t seed;
    tent *table;               /* id -> slot, open addressing */
    size_t tcap;
    const char *hint_base;     /* a heap tent.hint is relative to it */
    tblobs blobs;
    tvec32 members[AM_TIER_COUNT];
    int64_t next_pid;

    /* Indexes. */
    tdict types, tags, days;
    tpost imp[11];
    tindex *indexes;
    size_t nindexes, indexes_cap;

    /* Lifecycle. */
    tpolicy *policies;
    size_t npolicies, policies_cap;
    void *zc, *zd;             /* ZSTD_CCtx, ZSTD_DCtx, made on first use */
    /* Workspaces of the archiving workers' static zstd contexts (see
     * tiers_policy.c) and their sizes. */
    void *zcw[AM__TIERS_MAX_THREADS];
    size_t zcw_size[AM__TIERS_MAX_THREADS];
    size_t threads;            /* archiving workers, 1..MAX */
    bool defer_archive;        /* set: archive moves leave content raw */
    size_t archive_step;       /* bytes compressed per step, 0: no defer */
    /* opts.progress and its ctx (see am__tiers_progress). */
    void (*progress)(void *ctx, const char *step, size_t done,
                     size_t total);
    void *progress_ctx;
    tvec32 raw_queue;          /* T_RAW slots, oldest first (may be stale) */
    size_t raw_head;           /* raw_queue entries before it are done */
    size_t nraw;               /* live items with T_RAW */

    /* Move log: ring in memory, pending rows for the database. */
    tmove *ring;
    size_t ring_cap, ring_len, ring_head;
    tmove *pending_moves;
    size_t npending_moves, pending_moves_cap;
    uint64_t moves_total;
    size_t move_keep;          /* rows kept in tier_moves */
    int move_keep_days;        /* 0: no age limit */

    /* Persistence. */
    am__sqldb *db;    /* NULL: memory only; statements by TQ_* id */
    /* PRAGMA data_version as of the last load: when it moves, another
     * connection wrote (see am__tiers_sync). */
    int64_t db_version;
    int64_t last_sync_ns;
    tvec32 dirty;
    struct { int64_t *v; size_t len, cap; } deleted_pids;
    /* Deleted items whose tier_items and tier_content rows are still in
     * the database (their tier_state row is gone): see tiers_db.c. */
    struct { int64_t *v; size_t len, cap; } purge_pids;
    int64_t last_flush_ns;
    /* The last creation day interned (am__tiers_day_id) and its key
     * index + 1, 0 none: items arrive in creation order, so a store or a
     * load almost always repeats it. */
    int64_t day;
    uint32_t day_id;

    /* Scratch for am_tier_item views (reused, owned by the handle). */
    am_str *view_tags;
    size_t view_tags_cap;
    am_buf scratch;
    am_buf keybuf;
};

/* ---- tiers.c, tiers_table.c, tiers_item.c ---- */

/* Records per chunk of the item array: 1,024 (88 KiB, under glibc's
 * default mmap threshold). Why chunks and not one array grown by realloc:
 * glibc grows a large block with mremap, which moves its pages, and under
 * this project's hypervisor (shadow page tables) the first read of each
 * moved page then costs ~6-12 us -- the whole tail of a first retrieve
 * pass over 100,000 items (docs/BENCHMARKS.md, "The first-pass tail").
 * A chunk is allocated once and never moves, so a record's address is
 * stable for the life of the handle (the slot array's last chunk is at
 * most 88 KiB larger than needed; a doubling array wasted up to half). */
/* The longest id, in bytes (tiers.h: 1..65535; id_len is 16 bits). */
#define T_ID_MAX 65535

#define T_CHUNK_SHIFT 10
#define T_CHUNK ((size_t)1 << T_CHUNK_SHIFT)

/* Where chunks come from. The first T_HEAP_CHUNKS (12,288 records, ~1 MiB)
 * are allocated one at a time, so a small handle costs only what it
 * uses. Every later chunk is one of T_REGION_CHUNKS in a region, one
 * am__huge_calloc block of 2 MiB (23 chunks, 1.98 MiB): with the default
 * allocator it sits on a transparent huge page, so that a retrieve's
 * record load does not also pay a TLB miss (a nested page walk under a
 * hypervisor; docs/BENCHMARKS.md, #14). Chunk T_HEAP_CHUNKS +
 * k * T_REGION_CHUNKS is the start of region k, so the regions need no
 * list of their own. */
#define T_HEAP_CHUNKS ((size_t)12)
#define T_REGION_CHUNKS ((size_t)23)
#define T_REGION_BYTES (T_REGION_CHUNKS * T_CHUNK * sizeof(titem))

/* The record in `slot` (< t->slots_cap). */
static inline titem *am__tiers_item(const am_tiers *t, size_t slot)
{
    return &t->chunks[slot >> T_CHUNK_SHIFT][slot & (T_CHUNK - 1)];
}

static inline const uint32_t *am__tiers_tags(const titem *it)
{
    return (const uint32_t *)(const void *)it->blob;
}
static inline const char *am__tiers_id(const titem *it)
{
    return it->blob + 4u * it->ntags;
}
static inline const char *am__tiers_extra(const titem *it)
{
    return am__tiers_id(it) + it->id_len;
}
static inline char *am__tiers_content(const titem *it)
{
    return it->blob + 4u * it->ntags + it->id_len + it->extra_len;
}
static inline size_t am__tiers_blob_len(const titem *it)
{
    return 4u * it->ntags + it->id_len + it->extra_len + it->stored_len;
}

#define T_MAX_TYPES (1u << 25)

static inline int am__tiers_bucket(double importance)
{
    int b = (int)(importance * 10.0);
    return b < 0 ? 0 : b > 10 ? 10 : b;
}

static inline uint32_t am__tiers_skey(const titem *it)
{
    return 1u | ((uint32_t)it->tier << 1) |
           ((uint32_t)am__tiers_bucket(it->importance) << 3) |
           (it->type << 7);
}

int64_t am__tiers_now(const am_tiers *t);
am_status am__tiers_vpush(am_tiers *t, tvec32 *v, uint32_t x);
/* Room for `extra` more elements without storing any. */
am_status am__tiers_vreserve(am_tiers *t, tvec32 *v, size_t extra);
/* Link slot into members[tier] (reserved) / unlink it from its tier. */
void am__tiers_member_add(am_tiers *t, uint32_t slot, am_tier tier);
void am__tiers_member_del(am_tiers *t, uint32_t slot);
void am__tiers_mark(am_tiers *t, uint32_t slot, unsigned what);
/* A find in two halves: the id's hash, with the table entry it starts at
 * prefetched, then the find with that hash. Work in between overlaps the
 * entry's cache miss (see lookup in tiers_item.c). The hash stays good
 * across a reload (the seed does not change). */
uint32_t am__tiers_find_start(const am_tiers *t, const char *id, size_t len);
long am__tiers_find_h(const am_tiers *t, const char *id, size_t len,
                      uint32_t h32);
/* The item in slot got a new blob: point its table entry at the new id. */
void am__tiers_table_repoint(am_tiers *t, uint32_t slot);
/* Copy slot out for the caller (caller holds t->mu): content, when not
 * NULL, gets the content (decompressed if archived); info, when not NULL,
 * a copy of the item as am_tiers_peek gives it. */
am_status am__tiers_read_out(am_tiers *t, uint32_t slot, am_buf *content,
                             am_tier_item *info);
/* Fill a view of slot (tags in the handle's scratch array). */
am_status am__tiers_view(am_tiers *t, uint32_t slot, am_tier_item *v);
/* Move slot one tier (to = tier +/- 1 or archive), making room first. */
am_status am__tiers_move(am_tiers *t, uint32_t slot, am_tier to,
                         am_tier_reason reason);
am_status am__tiers_remove(am_tiers *t, uint32_t slot);
void am__tiers_access(am_tiers *t, uint32_t slot, int64_t now);
/* Record an access and apply the promotion rule. */
am_status am__tiers_touch(am_tiers *t, uint32_t slot, int64_t now);
am_status am__tiers_check_id(am_tiers *t, am_str id);
am_status am__tiers_maybe_flush(am_tiers *t);
/* See other connections' writes: at most once per flush interval (every
 * call when writing through), when the database changed since the last
 * load, flush and reload. Called first by every public call that reads
 * or changes items. */
am_status am__tiers_sync(am_tiers *t);
/* Take t->mu and am__tiers_sync: AM_OK with the lock held, or the sync's
 * failure with the lock released. */
am_status am__tiers_lock_synced(am_tiers *t);
am_status am__tiers_presize(am_tiers *t, size_t n);
/* Free the record chunks (not the blobs in them) and the chunk array. */
void am__tiers_chunks_free(am_tiers *t);
/* Insert a fully built record (loading): hash, tier, indexes. Owns
 * rec->blob from the call on. */
am_status am__tiers_insert_loaded(am_tiers *t, const titem *rec,
                                  uint32_t *slot_out);

/* ---- tiers_blob.c ---- */
/* A blob of `len` bytes, or NULL: from a blob region when the handle is
 * big and uses the default allocator and len <= T_BLOB_MAX (*pooled set
 * to 1), else from the allocator (*pooled 0). Free with
 * am__tiers_blob_release and the same len and *pooled. */
char *am__tiers_blob_alloc(am_tiers *t, size_t len, uint8_t *pooled);
void am__tiers_blob_release(am_tiers *t, char *blob, size_t len,
                            uint8_t pooled);
/* Release every region (closing: pooled blobs need no release each). */
void am__tiers_blobs_free(am_tiers *t);
/* The index of the region holding pooled pointer p. */
size_t am__tiers_blob_region(const char *p);

static inline void am__tiers_blob_free(am_tiers *t, const titem *it)
{
    am__tiers_blob_release(t, it->blob, am__tiers_blob_len(it), it->pooled);
}

/* ---- tiers_move.c ---- */
bool am__tiers_is_full(const am_tiers *t, am_tier tier);
/* Demote the lowest-scoring 10% (at least one; enough to fit) of `tier`. */
am_status am__tiers_evict(am_tiers *t, am_tier tier);

/* ---- tiers_index.c ---- */
void am__tdict_free(const am_allocator *a, tdict *d);
am_status am__tdict_intern(const am_allocator *a, tdict *d, const char *s,
                           size_t len, uint32_t *id);
long am__tdict_find(const tdict *d, const char *s, size_t len);
am_status am__tpost_push(const am_allocator *a, tpost *p, uint32_t slot);
/* Add slot to the built-in indexes (type is interned already). */
am_status am__tiers_index_add(am_tiers *t, uint32_t slot);
/* Add slot to every custom index. */
am_status am__tiers_custom_add(am_tiers *t, uint32_t slot);
void am__tiers_custom_drop(am_tiers *t, uint32_t slot);
/* Rebuild every custom index over the live items (after a reload). */
am_status am__tiers_custom_rebuild(am_tiers *t);
/* Remove dead slots from every posting list. */
void am__tiers_purge_postings(am_tiers *t);
void am__tiers_index_free(am_tiers *t);
int64_t am__tiers_day(int64_t ms);
/* The key index of `day` in t->days, interned if new (the only failure is
 * AM_ENOMEM then); the last one is remembered in t->day. */
am_status am__tiers_day_id(am_tiers *t, int64_t day, uint32_t *id);

/* ---- tiers_policy.c ---- */
am_status am__tiers_compress(am_tiers *t, uint32_t slot);
am_status am__tiers_decompress(am_tiers *t, const titem *it, am_buf *out);
am_status am__tiers_uncompress_slot(am_tiers *t, uint32_t slot);
am_status am__tiers_default_policies(am_tiers *t);
/* Compress deferred archive items until max_bytes (0: all) are done. */
am_status am__tiers_compact(am_tiers *t, size_t max_bytes);
void am__tiers_policy_free(am_tiers *t);

/* ---- tiers_db.c ---- */

/* The tiers' statements (tiers_sql in tiers_db.c), prepared when the
 * database opens and cached by the SQLite layer. */
enum {
    TQ_INS_ITEM,
    TQ_INS_STATE,
    TQ_INS_CONTENT,
    TQ_UPD_STATS,
    TQ_UPD_CONTENT,
    TQ_DEL_ITEM,
    TQ_DEL_STATE,
    TQ_DEL_CONTENT,
    TQ_INS_MOVE,
    TQ_INS_MOVES_N,
    TQ_PRUNE_MOVES,
    TQ_DATA_VERSION,
    TQ_MAX_PID,
    TQ_MAX_SEQ,
    TQ_COUNT_
};
#define TQ(t, id) ((t)->db->stmts[(id)])

am_status am__tiers_db_open(am_tiers *t, const char *path, am_str key);
am_status am__tiers_db_load(am_tiers *t);
am_status am__tiers_db_flush(am_tiers *t);
/* Delete tier_moves rows older than move_keep_days (keeps the newest). */
am_status am__tiers_db_prune_moves_age(am_tiers *t, int64_t now_ms);
/* PRAGMA data_version of the connection into *out. */
am_status am__tiers_db_version(am_tiers *t, int64_t *out);
void am__tiers_db_close(am_tiers *t);

/* Report `done` of `total` units of `step` to opts.progress: every
 * 4096th unit and the last, so that a call per item costs a test and a
 * branch. Lock held (the callback is told not to call back in). */
static inline void am__tiers_progress(const am_tiers *t, const char *step,
                                      size_t done, size_t total)
{
    if (t->progress != NULL && (done % 4096 == 0 || done == total))
        t->progress(t->progress_ctx, step, done, total);
}

#endif
