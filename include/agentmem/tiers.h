/* tiers.h -- hierarchical memory: four tiers, indexes, lifecycle, archive.
 *
 * An am_tiers handle is a memory system for a long-running agent. Every
 * item (an id, its content, its importance and metadata) lives in one of
 * four tiers: working, short-term, long-term and archive. Items move up
 * with use and down with neglect:
 *
 *   - storing into a full tier first demotes its lowest-scoring 10% one
 *     tier down (retention score = importance + recency + frequency, see
 *     am_tiers_retention_score);
 *   - retrieving an item records the access and promotes it one tier up
 *     when it was accessed 3 or more times in the last hour (this access
 *     included) or its importance is above 0.8;
 *   - am_tiers_optimize() demotes working and short-term items idle for
 *     more than 24 hours with fewer than 2 accesses;
 *   - lifecycle policies (a condition and an action) archive, delete or
 *     refresh items; the defaults archive items idle for 30 days with
 *     importance under 0.3, delete archived items older than 365 days and
 *     refresh important items (> 0.8) untouched for 7 days.
 *
 * Archived content is compressed with zstd (when a policy run archives
 * many items, in bounded steps after the run: see archive_step_bytes) and
 * comes back byte-identical.
 * Every move between tiers is logged (item, from, to, time, reason).
 * Items are indexed by type, importance (buckets of 0.1), creation day,
 * tag and by custom keys that a callback extracts; am_tiers_search()
 * intersects any combination of them.
 *
 * With a database path the handle persists everything in SQLite tables
 * named tier_* (the file may be shared with the long-term store; the
 * shared table am_schema records each module's schema version). Writes
 * are batched ("write-behind"); the durability rule is:
 *
 *   a change is on disk after am_tiers_flush() or am_tiers_close()
 *   returns AM_OK, and otherwise at the latest when a later call on the
 *   handle finds that flush_interval_ms have passed since the last flush
 *   or that flush_max_dirty changes are waiting. flush_interval_ms = 0
 *   writes through: every mutating call commits before it returns.
 *
 * A deleted item is gone from the file with the flush that follows its
 * deletion; when one flush carries many deletions (a policy run), the
 * space of all but 1,024 of them is reclaimed by later flushes, 1,024
 * per flush (the rows are found again after a restart).
 *
 * Everything is kept in memory (archived content compressed), so that
 * retrieval costs a hash lookup and a copy. Time comes from the clock in
 * the options, so tests move time instead of sleeping.
 *
 * Thread safety: every function taking an am_tiers is safe (each handle
 * has a mutex). Callbacks (policies, index extractors) run with that
 * mutex held and must not call back into the same handle.
 */
#ifndef AGENTMEM_TIERS_H
#define AGENTMEM_TIERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "alloc.h"
#include "buf.h"
#include "clock.h"
#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct am_tiers am_tiers;

/* The tiers, hottest first. Promotion moves toward AM_TIER_WORKING. */
typedef enum am_tier {
    AM_TIER_WORKING = 0,
    AM_TIER_SHORT_TERM = 1,
    AM_TIER_LONG_TERM = 2,
    AM_TIER_ARCHIVE = 3
} am_tier;
#define AM_TIER_COUNT 4

/* "working", "short_term", "long_term", "archive"; "?" when out of range.
 * Static text. Thread safety: safe. */
AM_API const char *am_tier_name(am_tier tier);

/* Parse a tier name (as am_tier_name spells it; "short-term" and
 * "long-term" are accepted too). AM_EINVAL naming it in `err` (may be
 * NULL) when unknown. Thread safety: safe. */
AM_API am_status am_tier_parse(am_str name, am_tier *out, am_error *err);

/* Why an item moved. */
typedef enum am_tier_reason {
    AM_TIER_REASON_PROMOTION = 0, /* retrieve: frequent or important */
    AM_TIER_REASON_CAPACITY = 1,  /* demoted to make room in a full tier */
    AM_TIER_REASON_IDLE = 2,      /* am_tiers_optimize: idle and rarely used */
    AM_TIER_REASON_ARCHIVE = 3,   /* am_tiers_archive or a policy */
    AM_TIER_REASON_RESTORE = 4,   /* am_tiers_restore: archive to short-term */
    AM_TIER_REASON_POLICY = 5     /* a policy's DEMOTE or PROMOTE action */
} am_tier_reason;

/* "promotion", "capacity", "idle", "archive", "restore", "policy"; "?".
 * Static text. Thread safety: safe. */
AM_API const char *am_tier_reason_name(am_tier_reason reason);

/* ---- Opening ---- */

typedef struct am_tiers_opts {
    const am_allocator *alloc; /* NULL: malloc */
    const am_clock *clock;     /* NULL: system clock; borrowed until close */
    /* Items per tier; 0 means unbounded. Defaults: working
     * 100, short-term 1000, long-term 0, archive 0. The archive is always
     * unbounded (a non-zero archive capacity is AM_EINVAL). */
    size_t capacity[AM_TIER_COUNT];
    /* SQLite database file, created if missing; NULL keeps everything in
     * memory only. */
    const char *db_path;
    /* Write-behind rule, see the file comment. Defaults 1000 ms and
     * 10000 changes; flush_interval_ms = 0 writes through. */
    int64_t flush_interval_ms;
    size_t flush_max_dirty;
    /* How long a call waits for another connection's lock before it
     * fails with AM_EBUSY, in ms; 0 does not wait; negative is AM_EINVAL.
     * Default 5000. The same meaning as am_store_opts.busy_timeout_ms. */
    int busy_timeout_ms;
    /* Archive compression level: -7..-1 (zstd's fast modes) or 1..19.
     * Default -1: on 1 KB texts about 22% less CPU than level 1 and faster
     * to decompress, for archives about 20% larger (2.2x vs 2.7x). */
    int zstd_level;
    size_t move_log_cap;  /* moves kept in memory, default 4096 */
    /* Retention of the move log table tier_moves (the store must not grow
     * without bound): at most move_log_keep rows (default 100,000; 0 is
     * AM_EINVAL), pruned oldest first by every flush that writes moves;
     * and, when move_log_keep_days > 0 (default 90), rows older than that
     * many days are deleted by am_tiers_optimize (so by am_tiers_maintain).
     * The newest row is always kept, so the move count survives. A
     * negative move_log_keep_days is AM_EINVAL. */
    size_t move_log_keep;
    int move_log_keep_days;
    /* Deferred archive compression. am_tiers_apply_policies moves items
     * to the archive at once but compresses their content afterwards,
     * in steps: each apply_policies and optimize call (and
     * am_tiers_compact) compresses at most archive_step_bytes of content
     * (default 32 MiB, at least one item), oldest archived first, so that
     * archiving a large share of a big memory does not stall one call.
     * With a database each item counts at least 4 KiB against the step,
     * because the next flush rewrites a page for each compressed item.
     * Until compressed, an archived item holds its raw content (in memory
     * and in the database, marked as such); it reads back the same.
     * 0: no deferral, every archived item is compressed before the call
     * returns. am_tiers_archive and storing into the archive always
     * compress at once. */
    size_t archive_step_bytes;
    /* Threads that compress when many items are archived at once
     * (am_tiers_apply_policies); 0 (default): one per online CPU, at most
     * 8. Only zstd runs on them; the allocator is called from the calling
     * thread only. */
    size_t threads;
    /* Register the three default policies (true):
     * archive_old_low_importance, delete_ancient_archives and
     * refresh_important (see am_tiers_apply_policies). */
    bool default_policies;
    /* How far a long call has got on a large memory, for a progress line:
     * am_tiers_open (step "loading": items read from the database),
     * am_tiers_optimize ("demoting"), am_tiers_apply_policies
     * ("policies": items examined, once per policy), archive compression
     * ("compressing") and writing to the database ("writing": items
     * written), so am_tiers_maintain reports each in turn. `done` of
     * `total` units (total > 0); called every 4096 units and at the last
     * one, so a step shorter than that reports only its end. Called on
     * the calling thread with the handle's lock held: it must not call
     * into the handle. `step` is static text. NULL (default): no calls.
     * progress_ctx is borrowed until am_tiers_close. */
    void (*progress)(void *ctx, const char *step, size_t done,
                     size_t total);
    void *progress_ctx;
    /* Encryption at rest of db_path (see encrypt.h and
     * am_store_opts.key, which it works as): empty (default) is
     * plaintext. Borrowed for am_tiers_open only. A key without db_path
     * is AM_EINVAL (nothing would be at rest to encrypt). */
    am_str key;
} am_tiers_opts;

/* The defaults listed above. Thread safety: safe. */
AM_API am_tiers_opts am_tiers_opts_default(void);

/* Open a memory system. With opts->db_path, the database is opened (WAL
 * journal, busy_timeout_ms), the tier_* tables are created or migrated
 * and every item, index and archived item is loaded.
 *
 * Several handles and processes may share one database file. Row ids and
 * move numbers are taken from the database when a flush writes them, so
 * no writer overwrites another's items; of two stores of one id, the later
 * flush wins. A handle sees other connections' writes at its next call
 * once flush_interval_ms has passed since it last looked (at every call
 * when writing through): it flushes its own changes, then reloads. `opts` is copied
 * (the clock and allocator are borrowed until close); NULL: defaults.
 *
 * Returns AM_OK and the handle in *out (yours: am_tiers_close), or
 * AM_EINVAL (bad option), AM_EIO (database cannot be opened or read),
 * AM_EAUTH (opts->key does not fit the file, as for am_store_open; the
 * file is not changed), AM_EBUSY (another connection held it locked for
 * busy_timeout_ms),
 * AM_EFORMAT (a stored row is malformed), AM_EUNSUPPORTED (the file's
 * tiers schema is newer than this library -- as for the store -- or a
 * key and a build without encryption) or AM_ENOMEM; detail in `err`.
 * Thread safety: safe (the new handle is not shared yet). */
AM_API am_status am_tiers_open(const am_tiers_opts *opts, am_tiers **out,
                               am_error *err);

/* Flush pending changes, close the database and free the handle. The
 * handle is freed even when the flush fails (then the unflushed changes
 * are lost and the status and `err` say why). NULL: no-op, AM_OK.
 * Thread safety: unsafe (no other call may be in flight). */
AM_API am_status am_tiers_close(am_tiers *t, am_error *err);

/* Detail of this thread's most recent failed call on `t` (code AM_OK and
 * "" when none), owned by `t` and valid until this thread's next call on
 * it: other threads' failures never change it. NULL `t`: a static
 * AM_EINVAL detail. Thread safety: safe. */
AM_API const am_error *am_tiers_last_error(const am_tiers *t);

/* Write every pending change to the database in one transaction. Without
 * a database: AM_OK, nothing to do. AM_EBUSY when another connection kept
 * the database locked for busy_timeout_ms, AM_EIO on other database
 * errors; either way the changes stay pending for the next flush.
 * Thread safety: safe. */
AM_API am_status am_tiers_flush(am_tiers *t);

/* ---- Items ---- */

#define AM_TIER_JSON (1u << 0) /* content is JSON text (validated) */

/* What to store. Start from am_tier_item_in_default(). */
typedef struct am_tier_item_in {
    am_str content;      /* any bytes (up to 4 GiB - 1); copied */
    unsigned flags;      /* AM_TIER_JSON */
    double importance;   /* 0..1, default 0.5 */
    am_tier tier;        /* default AM_TIER_WORKING */
    am_str type;         /* metadata type, at most 255 bytes; default
                            "unknown" */
    const am_str *tags;  /* tag_count tags of 1..255 bytes, copied;
                            duplicates dropped */
    size_t tag_count;    /* at most 255 */
    am_str extra;        /* other metadata: a JSON object of at most
                            1 MiB, or empty */
} am_tier_item_in;

/* Defaults: empty content, importance 0.5, working tier, type "unknown",
 * no tags, no extra metadata. Thread safety: safe. */
AM_API am_tier_item_in am_tier_item_in_default(void);

/* What the library reports about an item.
 *
 * Filled by am_tiers_retrieve / am_tiers_peek, it is a copy: the strings
 * point into `text` and `tag_store` (or into the content buffer you
 * passed), which are yours. Start from AM_TIER_ITEM_INIT, reuse it across
 * calls, and free it with am_tier_item_free; other threads' calls on the
 * handle never touch it.
 *
 * Passed to a callback (index key, policy condition and action), it is a
 * view: the strings are owned by the handle, valid during the callback,
 * and the storage fields are empty. */
typedef struct am_tier_item {
    am_str id;
    am_str content;       /* ptr NULL for archived items (compressed) */
    size_t content_len;   /* original length, also for archived items */
    am_tier tier;
    unsigned flags;       /* AM_TIER_JSON */
    int64_t created_ms;
    int64_t accessed_ms;  /* creation time until the first access */
    uint32_t access_count;
    double importance;
    am_str type;
    const am_str *tags;
    size_t tag_count;
    am_str extra;         /* "" when none */
    /* Storage of a copy (see above); never set these yourself. */
    am_buf text;
    am_str *tag_store;
    size_t tag_cap;
} am_tier_item;
#define AM_TIER_ITEM_INIT { { NULL, 0 }, { NULL, 0 }, 0, AM_TIER_WORKING, \
    0, 0, 0, 0, 0.0, { NULL, 0 }, NULL, 0, { NULL, 0 }, AM_BUF_INIT, NULL, 0 }

/* Release the storage of a copied item and reset it to AM_TIER_ITEM_INIT.
 * NULL: no-op. Thread safety: per-handle (per item). */
AM_API void am_tier_item_free(am_tier_item *item);

/* Store `in` under `id` (1..65535 bytes of UTF-8 without NUL; copied) in
 * in->tier. If the tier is full, its lowest-scoring 10% (at least one
 * item) are first demoted one tier (and so on down). An existing item with
 * this id is replaced (new creation time, zero accesses).
 *
 * Returns AM_OK, AM_EINVAL (bad id, importance outside [0, 1], bad tier,
 * tag, type or extra; the message names the field), AM_ELIMIT (the
 * handle already holds 2^25 distinct types) or AM_ENOMEM; on failure
 * nothing changes. Thread safety: safe. */
AM_API am_status am_tiers_store(am_tiers *t, am_str id,
                                const am_tier_item_in *in);

/* As am_tiers_store, then fill `info` with a copy of the stored item, as
 * am_tiers_peek(t, id, NULL, info) would right after (content NULL when
 * the item went to the archive), in one call and one id look-up. `info`
 * is yours (start from AM_TIER_ITEM_INIT, reuse it, am_tier_item_free).
 *
 * Returns what am_tiers_store returns, AM_EINVAL when `info` is NULL, or
 * AM_ENOMEM when the copy cannot be made (the item is stored then). On
 * failure info's fields are unspecified (its storage stays freeable).
 * Thread safety: safe (`info` is per caller). */
AM_API am_status am_tiers_store_read(am_tiers *t, am_str id,
                                     const am_tier_item_in *in,
                                     am_tier_item *info);

/* Retrieve `id`: record the access (time, count) and promote the item one
 * tier when the rule in the file comment holds. The content (decompressed
 * for archived items, byte-identical) replaces the contents of `content`
 * (may be NULL); `info` (may be NULL; initialized with AM_TIER_ITEM_INIT
 * or used before) gets a copy of the item after the access, with
 * info->content pointing into `content` when given, else into info's own
 * storage (NULL for an archived item). Everything both hold is yours:
 * another thread's call cannot change or free it.
 *
 * Returns AM_OK, AM_ENOTFOUND, AM_EINVAL or AM_ENOMEM.
 * Thread safety: safe. */
AM_API am_status am_tiers_retrieve(am_tiers *t, am_str id, am_buf *content,
                                   am_tier_item *info);

/* As am_tiers_retrieve, but no access is recorded and nothing moves.
 * Thread safety: safe. */
AM_API am_status am_tiers_peek(am_tiers *t, am_str id, am_buf *content,
                               am_tier_item *info);

/* Append the item's description as one JSON object (id, tier, created_ms,
 * accessed_ms, access_count, importance, type, tags, extra, content_len,
 * json) to `out`. No access is recorded. AM_ENOTFOUND, AM_ENOMEM.
 * Thread safety: safe. */
AM_API am_status am_tiers_describe(am_tiers *t, am_str id, am_buf *out);

/* Delete `id` from whatever tier holds it. AM_OK or AM_ENOTFOUND.
 * Thread safety: safe. */
AM_API am_status am_tiers_delete(am_tiers *t, am_str id);

/* Move `id` to the archive, compressing its content (logged as
 * "archive"). AM_OK (also when already archived), AM_ENOTFOUND, AM_ENOMEM.
 * Thread safety: safe. */
AM_API am_status am_tiers_archive(am_tiers *t, am_str id);

/* Move an archived item back to the short-term tier with its content
 * decompressed byte-identical (logged as "restore"). Access statistics
 * are kept. AM_ESTATE when the item is not archived, AM_ENOTFOUND,
 * AM_EFORMAT (corrupt compressed data), AM_ENOMEM.
 * Thread safety: safe. */
AM_API am_status am_tiers_restore(am_tiers *t, am_str id);

/* Number of items in all tiers. Thread safety: safe. */
AM_API size_t am_tiers_count(am_tiers *t);

/* The retention score of `item` at `now_ms`: importance
 * + 0.3 / (1 + h / 24) + min(0.2 * access_count / max(1, h), 0.3), where
 * h is hours since the last access. Thread safety: safe. */
AM_API double am_tiers_retention_score(const am_tier_item *item,
                                       int64_t now_ms);

/* ---- Moves, optimize, statistics ---- */

typedef struct am_tier_move {
    am_str id;           /* owned by the handle, valid during the callback */
    am_tier from, to;
    int64_t at_ms;
    am_tier_reason reason;
} am_tier_move;

typedef void (*am_tier_move_fn)(void *ctx, const am_tier_move *move);

/* Call `fn` for each of the last `last_n` moves kept in memory (at most
 * move_log_cap; with a database every move is also written to the table
 * tier_moves, which keeps the last move_log_keep / move_log_keep_days of
 * them), oldest first.
 * Returns the number of moves ever logged in *total (may be NULL).
 * Thread safety: safe (fn runs with the handle locked). */
AM_API am_status am_tiers_moves(am_tiers *t, size_t last_n,
                                am_tier_move_fn fn, void *ctx,
                                uint64_t *total);

/* Demote every working and short-term item idle for more than 24 hours
 * with fewer than 2 accesses by one tier (each item moves at most once per
 * call). *demoted (may be NULL) gets the count. Then, housekeeping: one
 * bounded step of deferred archive compression (archive_step_bytes) and,
 * with a database and move_log_keep_days, the deletion of older tier_moves
 * rows. AM_OK, AM_ENOMEM, AM_EIO (zstd or database), AM_EBUSY (database
 * locked past busy_timeout_ms). Thread safety: safe. */
AM_API am_status am_tiers_optimize(am_tiers *t, size_t *demoted);

typedef struct am_tier_stats {
    size_t count;
    size_t capacity;       /* 0: unbounded */
    double utilization;    /* count / capacity; 0 when unbounded */
    double avg_importance; /* 0 when empty */
    double avg_age_hours;  /* since creation; 0 when empty */
    uint64_t content_bytes; /* original content bytes */
    uint64_t stored_bytes;  /* bytes held (compressed in the archive) */
    size_t uncompressed;    /* archive: items whose compression is still
                             * deferred (see archive_step_bytes); 0 for
                             * the other tiers */
} am_tier_stats;

/* Fill out[tier] for the four tiers. Thread safety: safe. */
AM_API am_status am_tiers_stats(am_tiers *t,
                                am_tier_stats out[AM_TIER_COUNT]);

/* ---- Index and search ---- */

/* A custom index key extractor: append the key of `item` to `key` (left
 * empty: the item is not in this index). A non-OK status aborts the store
 * (or am_tiers_add_index) with that status. item->content is NULL for
 * archived items. */
typedef am_status (*am_tier_key_fn)(void *ctx, const am_tier_item *item,
                                    am_buf *key);

/* Create the custom index `name` (1..64 bytes) and index every item with
 * `fn` (ctx borrowed until close). Custom indexes are code, so they are
 * not stored: register them again after each open (the index is rebuilt
 * from the items). AM_EEXIST, AM_EINVAL, AM_ENOMEM or fn's status (then
 * no index is created). Thread safety: safe. */
AM_API am_status am_tiers_add_index(am_tiers *t, const char *name,
                                    am_tier_key_fn fn, void *ctx);

#define AM_TIER_PEEK (1u << 0) /* search: results are not accesses */

/* A search. Every filter that is set must hold (intersection). Start from
 * am_tier_query_default(), which sets none. */
typedef struct am_tier_query {
    am_str type;             /* ptr NULL: any type */
    const am_str *tags;      /* every one of tag_count tags */
    size_t tag_count;        /* at most 64 */
    double min_importance;   /* inclusive; default 0 */
    double max_importance;   /* inclusive; default 1 */
    int64_t created_from_ms; /* inclusive; default INT64_MIN */
    int64_t created_to_ms;   /* exclusive; default INT64_MAX */
    /* Items created on a UTC day >= the day of (now - recent_days days),
     * (whole days, not a sliding window); 0: off. */
    int recent_days;
    const char *index;       /* custom index name, NULL: none */
    am_str index_key;        /* key in that index */
    unsigned tier_mask;      /* bit (1u << tier); default all four */
    size_t limit;            /* at most this many results; 0: all */
    unsigned flags;          /* AM_TIER_PEEK */
} am_tier_query;

/* No filters, all tiers, no limit. Thread safety: safe. */
AM_API am_tier_query am_tier_query_default(void);

/* Search results: ids[0..count) point into `text`. Yours; reuse across
 * searches; free with am_tier_hits_free. The first search that fills an
 * empty AM_TIER_HITS_INIT takes its memory from the handle's allocator
 * (or from text.alloc if you set it), and later searches and
 * am_tier_hits_free use that same allocator, so free the hits before the
 * allocator goes away. */
typedef struct am_tier_hits {
    am_str *ids;
    size_t count;
    size_t cap;
    am_buf text;
} am_tier_hits;
#define AM_TIER_HITS_INIT { NULL, 0, 0, AM_BUF_INIT }

/* Release `hits` (NULL: no-op). Thread safety: per-handle. */
AM_API void am_tier_hits_free(am_tier_hits *hits);

/* Find the items matching every filter of `q`, in index order (creation
 * order within each index list), at most q->limit. Unless AM_TIER_PEEK,
 * each returned item counts as an access (and may be promoted). `out` is
 * overwritten. AM_OK (possibly zero hits), AM_EINVAL (bad range, unknown
 * custom index, more than 64 tags, unknown flags), AM_ENOMEM.
 * Thread safety: safe. */
AM_API am_status am_tiers_search(am_tiers *t, const am_tier_query *q,
                                 am_tier_hits *out);

/* ---- Lifecycle policies ---- */

typedef enum am_tier_action {
    AM_TIER_ACT_NONE = 0,   /* nothing (not counted) */
    AM_TIER_ACT_ARCHIVE,    /* move to the archive, compressed */
    AM_TIER_ACT_DELETE,     /* delete the item */
    AM_TIER_ACT_REFRESH,    /* last access = now, access count + 1 */
    AM_TIER_ACT_DEMOTE,     /* one tier down */
    AM_TIER_ACT_PROMOTE     /* one tier up */
} am_tier_action;

typedef bool (*am_tier_cond_fn)(void *ctx, const am_tier_item *item,
                                int64_t now_ms);
typedef am_tier_action (*am_tier_action_fn)(void *ctx,
                                            const am_tier_item *item,
                                            int64_t now_ms);

/* A policy: for every item where condition() is true, the action runs:
 * action() (if not NULL) returns what to do, else `builtin` is done. */
typedef struct am_tier_policy {
    const char *name;          /* 1..64 bytes; copied */
    am_tier_cond_fn condition; /* required */
    am_tier_action_fn action;  /* NULL: builtin */
    am_tier_action builtin;
    void *ctx;                 /* borrowed until close */
} am_tier_policy;

/* Add a policy after the existing ones. AM_EEXIST (name taken), AM_EINVAL,
 * AM_ENOMEM. Thread safety: safe. */
AM_API am_status am_tiers_add_policy(am_tiers *t, const am_tier_policy *p);

typedef struct am_tier_policy_count {
    const char *name;   /* owned by the handle, valid until close */
    size_t acted;       /* items the policy acted on */
} am_tier_policy_count;

/* Apply every policy in order over every item (an item deleted by one
 * policy is not seen by the later ones). An item moved into the archive
 * during a run (ARCHIVE, or DEMOTE from long-term) is not deleted by a
 * DELETE policy of the same run: archived items stay restorable
 * (am_tiers_restore) until a later run in which a DELETE policy's
 * condition holds for them -- with the defaults, the first run after
 * their creation is more than 365 days old -- or until am_tiers_delete or
 * am_tiers_cleanup_old_items removes them. out[i] gets policy i's count for
 * i < cap; *count (may be NULL) the number of policies. Defaults, in
 * order: "archive_old_low_importance", "delete_ancient_archives",
 * "refresh_important". Items archived here are compressed afterwards, at
 * most archive_step_bytes per call (see the option). AM_OK, AM_EINVAL
 * (out NULL with cap > 0, or an action callback returned a value that is
 * not an am_tier_action), AM_ENOMEM, AM_EIO (zstd or database). Unlike
 * most calls, a failure does not undo the actions already taken: each
 * action is complete (an item is moved, deleted or refreshed, or not),
 * the others are left, and a later call takes them up.
 * Thread safety: safe. */
AM_API am_status am_tiers_apply_policies(am_tiers *t,
                                         am_tier_policy_count *out,
                                         size_t cap, size_t *count);

/* Age-based cleanup (cleanup_old_items(days) in Python tier managers):
 * delete every item, in any tier
 * (the archive included), created more than `days` days before now (the
 * handle's clock). *deleted (may be NULL) gets the count. AM_OK,
 * AM_EINVAL (days outside 0..1000000), AM_ENOMEM, AM_EIO (database); as
 * for policies, deletions already done stay done on failure.
 * Thread safety: safe. */
AM_API am_status am_tiers_cleanup_old_items(am_tiers *t, int64_t days,
                                            size_t *deleted);

/* am_tiers_cleanup_old_items with the age in milliseconds (the CLI's
 * `tiers cleanup 12h`): delete every item, in any tier, created more than
 * `age_ms` before now (the handle's clock). *deleted (may be NULL) gets
 * the count. AM_OK, AM_EINVAL (age_ms outside 0..1000000 days), AM_ENOMEM,
 * AM_EIO (database); deletions already done stay done on failure.
 * Thread safety: safe. */
AM_API am_status am_tiers_cleanup_older_than(am_tiers *t, int64_t age_ms,
                                             size_t *deleted);

/* Compress archived items whose compression was deferred (see
 * archive_step_bytes), oldest first, until at least max_bytes of content
 * were compressed (0: all of them). *left (may be NULL) gets the number of
 * items still waiting. Compression runs on the archiving threads; the
 * compressed frames replace the raw content in memory and, at the next
 * flush, in the database. AM_OK, AM_ENOMEM, AM_EIO (zstd failed); on
 * failure the items not yet done stay raw and readable.
 * Thread safety: safe. */
AM_API am_status am_tiers_compact(am_tiers *t, size_t max_bytes,
                                  size_t *left);

/* ---- Maintenance in one call ---- */

/* Periodic maintenance in one call:
 * am_tiers_optimize, then am_tiers_apply_policies, then am_tiers_flush.
 * *demoted, out/cap/count as for those calls (each may be NULL/0).
 * Returns the first failure. Thread safety: safe (each step locks; other
 * threads' calls may run between the steps). */
AM_API am_status am_tiers_maintain(am_tiers *t, size_t *demoted,
                                   am_tier_policy_count *out, size_t cap,
                                   size_t *count);

#ifdef __cplusplus
}
#endif
#endif
