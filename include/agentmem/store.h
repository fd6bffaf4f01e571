/* store.h -- the long-term store: namespaced items in one SQLite file, with
 * expiry, history, full-text, vector and hybrid search, and sessions.
 *
 * An item lives at (namespace, key). A namespace is a tuple of strings, e.g.
 * ("user_123", "preferences"); any bytes are allowed in its parts and in the
 * key (separators, quotes, '%', '_', NUL): they are encoded so that no
 * namespace can be read through another. The value and the metadata are
 * JSON documents. An item may expire (TTL, read through the injected clock:
 * expired items are invisible at once and removed by am_store_purge), and
 * may carry an embedding, stored with the id of the embedder that made it.
 *
 *     am_store_opts o = am_store_opts_default();
 *     am_store *s;
 *     if (am_store_open("memory.db", &o, &s, &err) != AM_OK) ...
 *     am_str ns_parts[] = { AM_STR("user_123"), AM_STR("prefs") };
 *     am_item_in it = { .ns = { ns_parts, 2 }, .key = AM_STR("language"),
 *                       .value = AM_STR("{\"value\":\"Python\"}") };
 *     am_store_put(s, &it);
 *     am_results *r;
 *     am_store_search(s, &q, &r);   ...   am_results_free(r);
 *     am_store_close(s);
 *
 * Every change is recorded in a history (add / update / delete with old and
 * new value, time and actor); delete is soft until purged, and
 * am_store_undo reverts the last change of an item.
 *
 * Durability: WAL mode, a busy timeout, every put acknowledged only after
 * its transaction committed; several threads (one handle is internally
 * locked) and several processes may use one file.
 *
 * The schema is versioned per module in the table
 * am_schema(module, version), shared with the tiers module, whose tables
 * carry the prefix tier_.
 */
#ifndef AGENTMEM_STORE_H
#define AGENTMEM_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "alloc.h"
#include "buf.h"
#include "clock.h"
#include "embed.h"
#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct am_store am_store;

/* A namespace: `count` parts (borrowed). count 0 is the root (matches
 * everything as a prefix; items cannot live at the root). */
typedef struct am_ns {
    const am_str *parts;
    size_t count;
} am_ns;

/* Scope helpers: the conventional namespaces ("user", user_id[, sub]),
 * ("session", session_id[, sub]) and ("global"[, sub]); `sub` may be
 * empty. The parts are written into `parts` (room for 3) and borrow the
 * given strings. Thread safety: safe. */
AM_API am_ns am_ns_user(am_str parts[3], am_str user_id, am_str sub);
AM_API am_ns am_ns_session(am_str parts[3], am_str session_id, am_str sub);
AM_API am_ns am_ns_global(am_str parts[3], am_str sub);

/* Limits checked on every call (AM_EINVAL past them). */
#define AM_STORE_MAX_NS_PARTS 32
#define AM_STORE_MAX_PART_LEN 1024

typedef struct am_store_opts {
    const am_allocator *alloc;   /* NULL: malloc */
    const am_clock *clock;       /* NULL: system clock; borrowed */
    /* Embedder used to embed items on put (when the item has no vector
     * and `embed` is not disabled) and queries on vector search. NULL: no
     * automatic embedding. Borrowed: keep it alive until close. */
    const am_embedder *embedder;
    const char *actor;           /* history actor, default "agentmem" */
    /* How long a call waits for another connection's lock before it
     * fails with AM_EBUSY, in ms; 0 does not wait; negative is AM_EINVAL.
     * Default 5000. The same meaning as am_tiers_opts.busy_timeout_ms.
     * SQLite only (PostgreSQL waits for its own locks). */
    int busy_timeout_ms;
    bool read_only;              /* open read-only (no migration) */
    /* false (default): synchronous=NORMAL -- a committed put survives a crash
     * of the process (tested with SIGKILL), the last commits may be lost
     * on power failure. true: synchronous=FULL -- every commit is fsync'ed
     * before the put returns (slower). */
    bool sync_full;
    /* SQLite only. false (default): the commit that grows the write-ahead
     * log past 8192 pages (32 MB) also copies it back into the database
     * file (a checkpoint, with two fsyncs) before its put returns, so
     * every few thousand puts one takes far longer than the rest. true:
     * commits leave that to am_store_checkpoint, which the application
     * calls on its own schedule -- from a background thread with its own
     * handle it does not hold up this handle's writes. As a backstop, a
     * commit still checkpoints once the log passes 65536 pages (256 MB),
     * so a forgotten am_store_checkpoint cannot grow the log without
     * bound. Durability is the same either way. */
    bool manual_checkpoint;
    /* Encryption at rest (see encrypt.h): a non-empty key encrypts a new
     * SQLite file with SQLCipher, and is needed to open an encrypted
     * one. Borrowed for the open call only (copy it nowhere; wipe it
     * after). Empty (default): plaintext. A key for a plaintext file, a
     * wrong key, or none for an encrypted file: AM_EAUTH; in a build
     * without encryption, or for PostgreSQL (which encrypts on the
     * server's side): AM_EUNSUPPORTED. */
    am_str key;
    /* PostgreSQL only: how many server connections the handle keeps.
     * 0 or 1 (default): one, and the handle's lock serializes every call,
     * so threads sharing the handle take turns. 2 to AM_STORE_MAX_POOL: a
     * small pool, opened with the handle; each call takes a free
     * connection for its duration (waiting while all are busy), so that
     * many calls of threads sharing the handle run on the server at once
     * (a call's statements and transaction stay on its connection). The
     * vector cache stays one per handle: its catch-up and scan hold the
     * handle's lock, so vector searches still take turns there while
     * their full-text parts, gets and writes run side by side. Past
     * AM_STORE_MAX_POOL: AM_EINVAL; above 1 for a SQLite file:
     * AM_EUNSUPPORTED (one connection per handle; open one handle per
     * thread instead). */
    size_t pool_size;
} am_store_opts;

/* The most connections a PostgreSQL handle may keep (pool_size). */
#define AM_STORE_MAX_POOL 16

/* Defaults as documented above. Thread safety: safe. */
AM_API am_store_opts am_store_opts_default(void);

/* Open (creating if needed) the store at `path`, migrate its schema, and
 * return the handle in `*out` (yours: am_store_close). `path` is a SQLite
 * file (":memory:" works for a private in-memory database; "sqlite:<path>"
 * too), or a PostgreSQL URI "postgresql://user@host:port/db[/schema]" (or
 * "postgres://"; the tables live in the PostgreSQL schema named by the
 * optional last path part or "?schema=", default "agentmem", created on
 * first use). NULL or "": the URI in the environment variable
 * DATABASE_URL. Errors name the target (never its password): AM_EINVAL
 * (NULL out, no target), AM_EIO (cannot open or connect, not a database),
 * AM_EAUTH (the server refused the credentials), AM_EBUSY (another
 * connection held the file locked for busy_timeout_ms), AM_EFORMAT (the
 * store's metadata is damaged), AM_EAUTH (opts->key does not fit the
 * file: wrong, missing for an encrypted file, given for a plaintext one;
 * the file is not changed), AM_EUNSUPPORTED (unknown scheme, the file's
 * store schema is newer than this library -- as for the tiers --, or a
 * key and no encryption in this build or backend),
 * AM_EINVAL also for a negative busy_timeout_ms or a pool_size past
 * AM_STORE_MAX_POOL, AM_EUNSUPPORTED for a pool_size above 1 on SQLite,
 * AM_ENOMEM. With a pool, every connection is opened here, and a failure
 * of any of them fails the open. Thread
 * safety: safe. */
AM_API am_status am_store_open(const char *path, const am_store_opts *opts,
                               am_store **out, am_error *err);

/* The kind of store a target names, as am_store_open reads it. */
typedef enum am_store_kind {
    AM_STORE_KIND_NONE = 0, /* NULL or "": am_store_open reads DATABASE_URL */
    AM_STORE_KIND_SQLITE,   /* a file path, ":memory:" or "sqlite:<path>" */
    AM_STORE_KIND_POSTGRES, /* "postgres://..." or "postgresql://..." */
    AM_STORE_KIND_UNKNOWN   /* another "scheme://": am_store_open refuses it
                               with AM_EUNSUPPORTED */
} am_store_kind;

/* Which backend am_store_open would pick for `target`, without opening
 * anything (NULL or "" is AM_STORE_KIND_NONE: DATABASE_URL is not read
 * here). For AM_STORE_KIND_SQLITE, `*file` (if `file` is not NULL) gets
 * the file part of `target` (after "sqlite:"; borrowed from `target`);
 * otherwise NULL. Only AM_STORE_KIND_SQLITE names a file whose name is
 * safe to show: a URL may hold a password. Thread safety: safe. */
AM_API am_store_kind am_store_target_kind(const char *target,
                                          const char **file);

/* Close the database and free the handle. NULL: no-op.
 * Thread safety: unsafe (no call may be in flight). */
AM_API void am_store_close(am_store *s);

/* Detail of this thread's most recent failed call on `s` (code AM_OK and
 * "" when none); owned by the store and valid until this thread's next
 * call on `s`: other threads' failures never change it. NULL `s`: a
 * static AM_EINVAL detail. Thread safety: safe. */
AM_API const am_error *am_store_last_error(const am_store *s);

/* ---- Items ---- */

/* One item to store. All strings are borrowed for the call. */
typedef struct am_item_in {
    am_ns ns;           /* 1..AM_STORE_MAX_NS_PARTS parts */
    am_str key;         /* non-empty, any bytes */
    am_str value;       /* JSON (required) */
    am_str meta;        /* JSON object, or empty for {} */
    /* Text indexed for search. Empty: the string leaves of `value`,
     * joined by spaces (a JSON string value is its own text). */
    am_str text;
    int64_t ttl_ms;     /* > 0: expires ttl_ms after the put; 0: never */
    /* Caller's own vector (dim floats, borrowed) and the id of what made
     * it (NULL: "caller"); vec NULL: the store's embedder embeds `text`
     * (if there is one). */
    const float *vec;
    size_t dim;
    const char *vec_model;
    bool no_embed;      /* true: store no vector even with an embedder */
} am_item_in;

/* Insert or replace the item at (ns, key) and record the change in the
 * history. Returns once the change is committed. Errors: AM_EINVAL (bad
 * namespace, empty key, dimension or embedder mismatch with the vectors
 * already stored), AM_EFORMAT (value or meta not JSON, meta not an object;
 * the message names the field), AM_EBUSY, AM_EIO. On failure nothing
 * changed. Thread safety: safe. */
AM_API am_status am_store_put(am_store *s, const am_item_in *item);

/* Put `count` items in one transaction: all or none. Errors name the
 * index of the failing item. Values are parsed and embedded before the
 * handle's lock is taken, so a slow embedder does not hold up other
 * threads. Thread safety: safe. */
AM_API am_status am_store_put_many(am_store *s, const am_item_in *items,
                                   size_t count);

/* Copy the value of (ns, key) into `value` (replacing its contents).
 * AM_ENOTFOUND when absent, deleted or expired. Thread safety: safe. */
AM_API am_status am_store_get(am_store *s, am_ns ns, am_str key,
                              am_buf *value);

/* Soft-delete (ns, key): invisible at once, recorded in the history,
 * restorable with am_store_undo until purged. AM_ENOTFOUND when there is
 * no live item. Thread safety: safe. */
AM_API am_status am_store_delete(am_store *s, am_ns ns, am_str key);

/* Revert the last change of (ns, key): an update gets its old value and
 * metadata back, a delete is undone, an add is deleted. The revert is
 * itself recorded (event "update", "add" or "delete", actor "undo").
 * AM_ENOTFOUND when the item has no history. Thread safety: safe. */
AM_API am_status am_store_undo(am_store *s, am_ns ns, am_str key);

/* ---- Results ---- */

/* One item of a result list. Everything is owned by the am_results. */
typedef struct am_item {
    am_str *ns_parts;
    size_t ns_count;
    am_str key;
    am_str value;       /* JSON */
    am_str meta;        /* JSON object */
    am_str text;        /* the indexed text */
    int64_t created_ms, updated_ms;
    int64_t expires_ms; /* 0: never */
    double score;       /* search: relevance in [0, 1], see am_search;
                           0 otherwise */
    double fts_score;   /* text relevance in [0, 1], 0 if not matched */
    double vec_score;   /* cosine similarity, 0 if not compared */
    /* History entries only: */
    am_str event;       /* "add", "update", "delete" */
    am_str old_value;   /* empty for "add" */
    am_str actor;
    int64_t at_ms;
} am_item;

/* A result list: `count` items, read-only, all owned by the list (one
 * block freed by am_results_free). It stays a visible struct rather than
 * an opaque handle with accessors on purpose: callers walk `items` as a
 * plain array (the CLI, the recall tool, bindings that map the struct),
 * and an accessor per field of am_item would add a call per field for
 * nothing a reader could get wrong. `priv_` is the library's: never read
 * or change it; its meaning may change in any release. */
typedef struct am_results {
    am_item *items;
    size_t count;
    void *priv_;        /* private: the memory behind it all */
} am_results;

/* Free a result list. NULL: no-op. Thread safety: per-handle. */
AM_API void am_results_free(am_results *r);

/* Write a result list as a JSON array of objects (namespace as an array,
 * value and meta embedded as JSON, scores when `with_scores`) into `out`
 * (replacing its contents). Thread safety: safe. */
AM_API am_status am_results_to_json(const am_results *r, bool with_scores,
                                    am_buf *out, am_error *err);

/* The live item at (ns, key) as a one-item list (yours). AM_ENOTFOUND.
 * Thread safety: safe. */
AM_API am_status am_store_get_item(am_store *s, am_ns ns, am_str key,
                                   am_results **out);

/* Live items under the namespace prefix `ns` (all depths), ordered by
 * namespace then key (stable), skipping `offset` and returning at most
 * `limit` (0: 100). Thread safety: safe. */
AM_API am_status am_store_list(am_store *s, am_ns ns, size_t limit,
                               size_t offset, am_results **out);

/* Distinct namespaces holding live items under `prefix`, truncated to
 * `max_depth` parts (0: no truncation), sorted, at most `limit` (0: 1000).
 * Each result carries the namespace only. Thread safety: safe. */
AM_API am_status am_store_namespaces(am_store *s, am_ns prefix,
                                     size_t max_depth, size_t limit,
                                     am_results **out);

/* The history of (ns, key), oldest first: `event`, `value` (the new
 * value, empty for delete), `old_value`, `at_ms`, `actor`. Kept for
 * soft-deleted items until purged. Thread safety: safe. */
AM_API am_status am_store_history(am_store *s, am_ns ns, am_str key,
                                  am_results **out);

/* ---- Search ---- */

typedef enum am_search_mode {
    AM_SEARCH_HYBRID = 0, /* full-text and vector, weighted (default);
                             full-text only when no vectors are possible */
    AM_SEARCH_TEXT,       /* FTS5 BM25 */
    AM_SEARCH_VECTOR      /* exact cosine */
} am_search_mode;

typedef struct am_search {
    am_ns ns;             /* namespace prefix (root: everything) */
    am_str query;         /* any text: quoted term by term, never syntax */
    const float *vec;     /* query vector (dim floats), NULL: embed query */
    size_t dim;
    am_search_mode mode;
    size_t limit;         /* 0: 10 */
    /* Metadata filter (borrowed for the call): a JSON object over the
     * top-level fields of each item's meta. Empty or {}: none.
     *   {"f": v}                 f equals v (a string, number, boolean
     *                            or null; 1 equals 1.0, never true)
     *   {"f": {"$eq": v}}        likewise; "$ne": not equal, or no f
     *   "$gt" "$gte" "$lt" "$lte": v a number (compared with numbers) or
     *                            a string (with strings, by bytes)
     *   "$in": [v, ...]          equal to one of them; "$nin": to none,
     *                            or no f
     *   "$contains": v           f is an array holding v, or (v a
     *                            string) a string holding it
     *   "$exists": true/false    f is present (a null counts)
     *   {"$and": [F, ...]}, {"$or": [F, ...]}, {"$not": F}
     * Several members, and several operators on one field, all hold. The
     * filter is part of the backend's query, so `limit` results come
     * back whenever that many items match it. A field of another type
     * than the operand never matches (except for $ne/$nin). */
    am_str filter;
    double w_text, w_vec; /* hybrid weights; both 0: 1 and 0.2 */
    /* Cosine at which vector similarity starts to count (0: the default,
     * AM_SEARCH_VEC_FLOOR, measured for the default embedder; set it for
     * another embedder, whose unrelated texts score differently). */
    double vec_floor;
    /* Pseudo-relevance feedback for the text part: expand the query with
     * `prf_terms` (0: 5) words from the top `prf_docs` results and search
     * again. 0: off. */
    int prf_docs, prf_terms;
    /* Drop results whose `score` is below this (0: keep every result). */
    double min_score;
    /* Entity boost: the name of a top-level metadata field that says who
     * or what an item is about, e.g. "speaker" for conversation turns.
     * A result whose field holds a string (or an array with a string)
     * that the query names as a whole word, ASCII case ignored, has its
     * score s raised to s + boost * (1 - s): "What did Caroline paint?"
     * ranks Caroline's own turns above turns that only mention her. An
     * item that matches nothing of the query (s = 0) is not raised.
     * Empty: off (then a `boost` above 0 is AM_EINVAL). */
    am_str boost_field;
    double boost;         /* in [0, 1]; 0: AM_SEARCH_BOOST */
    /* Names bonus: the name of a top-level metadata field listing the
     * proper names the item's own text mentions (a string or an array of
     * strings, e.g. as am_text_names writes it). A result whose field
     * holds a name that the query does not name as a whole word (ASCII
     * case ignored) has its score s raised to s + names_bonus * (1 - s),
     * after the entity boost: a turn that names a place, a title or a
     * person the question does not is the likelier answer ("Where did
     * Caroline travel?" -> "we spent a week in Sweden"). An item that
     * matches nothing of the query (s = 0), or scores below `min_score`
     * before the bonus, is not raised. Empty: off (then a `names_bonus`
     * above 0 is AM_EINVAL). */
    am_str names_field;
    double names_bonus;   /* in [0, 1]; 0: AM_SEARCH_NAMES_BONUS */
} am_search;

/* Cosine similarity below which two texts count as unrelated, for the
 * default embedder (static word vectors). */
#define AM_SEARCH_VEC_FLOOR 0.65
/* A `min_score` that keeps what is relevant and drops what is not: on
 * the LoCoMo dev split with the default embedder, the speaker boost and
 * the names bonus, at 0.25, 98.0% of the evidence found in the top 10
 * still comes back, while 86.0% of questions asked of an unrelated
 * conversation's memory return nothing (bench/locomo/relevance,
 * docs/BENCHMARKS.md). */
#define AM_SEARCH_MIN_SCORE 0.25
/* The entity boost's default weight: on the LoCoMo dev split, with each
 * turn's speaker as the boost field, it takes recall@10 from 76.4 to 78.8
 * and no category of questions lower (docs/BENCHMARKS.md). */
#define AM_SEARCH_BOOST 0.1
/* The names bonus's default weight (am_search.names_field): measured on
 * the LoCoMo dev split with am_text_names over each turn's own text
 * (docs/BENCHMARKS.md, "Proper names"). */
#define AM_SEARCH_NAMES_BONUS 0.03

/* The proper names `text` mentions, as a JSON array of distinct strings in
 * order of first mention (["Sweden","Max"]; [] when none), written into
 * `out` (its contents replaced; yours). A name is a word of ASCII letters,
 * a capital and at least one more letter ("Zoë" and "R2D2" are not), that
 * does not open a sentence (the text's first word, or the first after
 * '.', '!', '?', '"' or ':', so "Caroline: Hey" names nobody), is not a
 * word chat capitalises by habit ("Yeah", "Thanks", "The", ...) and is
 * none of the `exclude_count` strings of `exclude` (compared exactly;
 * borrowed for the call; pass the speakers, whose names are everywhere).
 * Meant for am_search.names_field: store the array in each item's
 * metadata. A heuristic for English chat: capitals are the only cue.
 * Errors: AM_EINVAL (NULL `out`, a NULL pointer with a length, or a NULL
 * `exclude` with a count; the message names which), AM_ENOMEM (`out`
 * then empty). `err` may be NULL. Thread safety: safe (no shared
 * state). */
AM_API am_status am_text_names(am_str text, const am_str *exclude,
                               size_t exclude_count, am_buf *out,
                               am_error *err);

/* Search live items under `q->ns`. Results are best first by `score`, a
 * relevance in [0, 1] that means the same in every mode:
 * - text: the share of the query's weight the item matches, BM25 with
 *   each word weighted by its rarity in the searched namespace (a word
 *   the namespace has never seen weighs the most) and its frequency
 *   saturated, so 1 is every word matched many times; a query of more
 *   than 64 words is ranked by FTS5's bm25 squashed by x / (1 + x);
 * - vector: the cosine c rescaled from [vec_floor, 1] to [0, 1] (0 below);
 * - hybrid: the weighted mean of both (an item found by one signal is
 *   still scored on the other).
 * The text part counts each distinct word of the query once and, on
 * SQLite, uses its first 1024 distinct words (a pasted page searches as
 * fast as a question; beyond that FTS5's time grows faster than the
 * query). `fts_score` is the text part, `vec_score` the raw cosine. With
 * `min_score` > 0 results scoring below it are dropped, so a search can
 * answer "nothing relevant" (AM_SEARCH_MIN_SCORE is a measured default). An empty
 * or punctuation-only query matches nothing in text mode. Errors:
 * AM_EINVAL (NULL `s`, `q` or `out`, an unknown mode, dimension
 * mismatch, vector mode with no vector and no embedder, or nothing to
 * embed, boost or names_bonus outside [0, 1], a boost above 0 without a
 * boost_field or a names_bonus above 0 without a names_field: the message
 * names both fields), AM_EFORMAT (a filter that is not JSON or breaks the rules
 * of am_search.filter: the message names the operator or field and where
 * it is, e.g. "unknown operator '$regex' at '$or[1].age.$regex'"; at most
 * 1000 conditions and values, nested at most 32 deep). Thread safety:
 * safe. */
AM_API am_status am_store_search(am_store *s, const am_search *q,
                                 am_results **out);

/* ---- Retention ---- */

/* Hard-delete every item (and its history) under the namespace prefix
 * `ns` (at least one part). *removed (may be NULL) gets the item count.
 * Thread safety: safe. */
AM_API am_status am_store_delete_ns(am_store *s, am_ns ns, size_t *removed);

/* Hard-delete expired items and items soft-deleted before `deleted_before`
 * (ms; use INT64_MAX for all), with their history. *removed may be NULL.
 * Thread safety: safe. */
AM_API am_status am_store_purge(am_store *s, int64_t deleted_before,
                                size_t *removed);

/* Keep only the last `keep` history entries of every item (at least 1).
 * *removed (may be NULL) gets the number of entries dropped.
 * Thread safety: safe. */
AM_API am_status am_store_history_prune(am_store *s, size_t keep,
                                        size_t *removed);

/* Give free pages back to the file system (incremental vacuum, or a full
 * VACUUM when `full`). Thread safety: safe. */
AM_API am_status am_store_vacuum(am_store *s, bool full);

/* Run SQLite's integrity check; AM_OK only if it answers "ok".
 * Thread safety: safe. */
AM_API am_status am_store_check(am_store *s);

/* Copy the pages committed to SQLite's write-ahead log back into the
 * database file, without waiting for or blocking other connections'
 * reads and writes (a PASSIVE checkpoint): pages that a reader's snapshot
 * still needs, or that a writer adds meanwhile, stay in the log for the
 * next call. *wal_pages gets the pages in the log, *left_pages those not
 * copied yet; either may be NULL. Once every page is copied, the next
 * write starts the log over from its beginning. While another handle
 * writes without pause, each call copies only what was committed when it
 * began, so the log may never be all copied; a call on the writing handle
 * itself, between its writes, then copies the (small) rest and lets the
 * log start over (`agentmem serve` does both). A call that copies pages
 * but not to the log's end syncs the database file itself (SQLite syncs
 * only the checkpoint that reaches the end), so that the rest's sync has
 * little left to write back while the writer waits. It is what
 * manual_checkpoint leaves to the application; with the default it is
 * never needed. PostgreSQL, and a SQLite database without a log (in
 * memory): nothing to copy, AM_OK with both counts 0. Errors: AM_EINVAL
 * (NULL `s`, a read-only handle); AM_EBUSY when another connection was
 * checkpointing or starting the log over at that moment (nothing was
 * copied: call again later; the call never waits); AM_EIO. Thread safety:
 * safe (a call on this handle waits for the handle's other calls). */
AM_API am_status am_store_checkpoint(am_store *s, size_t *wal_pages,
                                     size_t *left_pages);

/* ---- Export and import: JSON Lines ----
 *
 * One item per line, the object am_results_to_json writes for it:
 *   {"namespace":["user_1","prefs"],"key":"lang","value":"Python",
 *    "meta":{},"created_ms":...,"updated_ms":...,"expires_ms":...}
 * expires_ms only when the item expires. Vectors are not exported: import
 * embeds the items again with the importing store's embedder. */

/* Where am_store_export writes: called once per line, with the line and
 * its '\n' in `line` (borrowed for the call). Return AM_OK to go on; any
 * other status stops the export, which returns it. */
typedef am_status (*am_store_sink)(void *ctx, am_str line);

/* Write every live item under the namespace prefix `ns` (the root: all)
 * to `sink`, ordered by namespace then key. *exported (may be NULL) gets
 * the number of lines written, also on failure (a partial export is
 * then `*exported` whole lines). Items are read in pages of 1000, each
 * its own read: an export taken while other handles or processes write
 * is not one snapshot (an item written meanwhile may or may not appear).
 * `sink` is called without the store's lock held, so it may use the
 * store. Errors: AM_EINVAL (NULL sink, bad namespace), the sink's status,
 * the store's read errors (AM_EIO...), AM_ENOMEM. Thread safety: safe. */
AM_API am_status am_store_export(am_store *s, am_ns ns, am_store_sink sink,
                                 void *ctx, size_t *exported);

/* ---- Long operations with progress: import, re-embedding ---- */

/* Called by am_store_import and am_store_reembed: `done` of `total`
 * items embedded so far (first with done 0, last with done == total).
 * It must not call the store (am_store_reembed runs it under the store's
 * lock). */
typedef void (*am_store_progress)(void *ctx, size_t done, size_t total);

/* Import `jsonl` (export's format; copied, need not be NUL-terminated)
 * into the store, all or nothing: every line is checked first, then every
 * item is put in one transaction, so on any failure nothing was imported.
 * Each line needs "namespace" (1..AM_STORE_MAX_NS_PARTS non-empty
 * strings), "key" (non-empty string) and "value" (any JSON); it may have
 * "meta" (object or null), "text" (string: the text to index), and either
 * "ttl_ms" (integer >= 0, from now; 0: never) or "expires_ms" (integer,
 * absolute: an item already expired is skipped and counted in *expired).
 * "created_ms" and "updated_ms" (integers) are accepted and ignored: the
 * import is a new write, timed by the store's clock. Any other field is
 * an error, so a misspelt one is not silently dropped. Blank lines are
 * skipped. A later line for the same (namespace, key) replaces an earlier
 * one. *imported and *expired (either may be NULL) are 0 on failure.
 * Errors, with the message naming the line and field ("line 12: \"ttl_ms\"
 * must be an integer (milliseconds), not a string; nothing was
 * imported"): AM_EFORMAT (not JSON, wrong type, unknown field, value or
 * meta the store refuses), AM_EINVAL (key or namespace the store refuses,
 * vector dimension mismatch), AM_EIO, AM_EBUSY, AM_ENOMEM.
 * `progress` (may be NULL; ctx borrowed for the call) is told how far it
 * got: once with done 0, then after each item is checked and embedded
 * (embedding is the slow part), with total the items to write; the
 * transaction that writes them follows the call with done == total.
 * Nothing is called when no line holds an item to import. It runs on the
 * calling thread without the store's lock, but must not call the store.
 * Thread safety: safe. */
AM_API am_status am_store_import(am_store *s, am_str jsonl,
                                 am_store_progress progress, void *ctx,
                                 size_t *imported, size_t *expired);

/* After the embedder changed (a search says "vector from X but this
 * store's index holds Y", a put is refused): give every live item a
 * vector from the store's embedder, all in one transaction, and make the
 * embedder the store's vector model. Deleted and expired items lose
 * their vectors (an undo embeds the item again).
 * On failure (the embedder's included) nothing changed. The embedder
 * runs inside the transaction, so other writers of the store wait until
 * it is done. *count (may be NULL) gets the items re-embedded, 0 on
 * failure. On PostgreSQL the items are locked for the transaction (a
 * concurrent put of one of them waits) and every instance's vector cache
 * reloads in full once. Errors: AM_EINVAL (no embedder), AM_EUNSUPPORTED
 * (a backend that cannot; both built-in ones can), the embedder's status
 * naming it and the item, AM_EIO, AM_EBUSY, AM_ENOMEM. Thread safety:
 * safe. */
AM_API am_status am_store_reembed(am_store *s, am_store_progress progress,
                                  void *ctx, size_t *count);

/* ---- Sessions: one conversation thread per session id ----
 *
 * A session id is 1..1024 bytes; every call below refuses an empty or
 * longer one with AM_EINVAL. */

/* Append `count` items (each a JSON document of any type, typically a
 * message) to session `session_id` of `user_id` (created on first use;
 * user_id may be empty). One transaction: on failure none is added.
 * Errors: AM_EFORMAT (item i not JSON, naming "session item i"),
 * AM_EINVAL (bad session id, NULL items with count > 0, session owned by
 * another user). Thread safety: safe. */
AM_API am_status am_session_add(am_store *s, am_str user_id,
                                am_str session_id, const am_str *items,
                                size_t count);

/* The session's items, oldest first, as a JSON array in `out`; with
 * `limit` > 0 only the last `limit` items. An unknown session gives [].
 * Thread safety: safe. */
AM_API am_status am_session_get(am_store *s, am_str session_id,
                                size_t limit, am_buf *out);

/* Remove the last item and copy it into `out` (may be NULL).
 * AM_ENOTFOUND when the session is empty. Thread safety: safe. */
AM_API am_status am_session_pop(am_store *s, am_str session_id, am_buf *out);

/* Remove the session and its items. AM_ENOTFOUND if unknown.
 * Thread safety: safe. */
AM_API am_status am_session_clear(am_store *s, am_str session_id);

/* The sessions of `user_id` as a JSON array of {"session_id", "items",
 * "created_ms", "updated_ms"}, most recently updated first.
 * Thread safety: safe. */
AM_API am_status am_session_list(am_store *s, am_str user_id, am_buf *out);

/* Retention: remove sessions not updated since `older_than_ms` (0: keep
 * all), and in the others keep only the last `keep_last` items (0: all).
 * *removed (may be NULL) counts removed items. Thread safety: safe. */
AM_API am_status am_session_prune(am_store *s, int64_t older_than_ms,
                                  size_t keep_last, size_t *removed);

#ifdef __cplusplus
}
#endif
#endif
