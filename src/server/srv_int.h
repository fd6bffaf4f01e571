/* srv_int.h -- what the HTTP server's and the MCP server's files share.
 *
 * The server is a front door like the CLI: it uses the public headers only.
 * One srv_ctx holds the open store and everything shared by the worker
 * threads; one srv_call is one request (a route or an MCP tool call): the
 * parsed JSON body, the caller's tenant, and the reply being built.
 *
 * Tenancy is enforced here, not by clients. A tenant (from --keys) is a
 * name; every namespace a tenant names gets the tenant as an extra first
 * part, and every user, session or conversation id gets "<tenant>:" in
 * front, so no spelling of a namespace or id reaches another tenant's data.
 * Tenant names are [A-Za-z0-9_.-]+, which keeps "<tenant>:" unambiguous, and
 * never "recall", "memtool" or "memmgr", the first parts the library and
 * the memory manager routes use.
 */
#ifndef AM_SRV_INT_H
#define AM_SRV_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "agentmem/recall.h"
#include "agentmem/store.h"
#include "agentmem/tokens.h"

/* ---- Keys and tenants (srv_keys.c) ---- */

typedef struct srv_tenant {
    const char *name;   /* "" when the server runs without --keys */
    bool can_write;
} srv_tenant;

typedef struct srv_keys srv_keys;

/* Load a key file: one "KEY TENANT rw|ro" per line, '#' comments. Errors
 * name the line. */
am_status srv_keys_load(const char *path, srv_keys **out, am_error *err);
void srv_keys_free(srv_keys *keys);
/* The tenant of `key` (compared in constant time against every key), or
 * NULL. */
const srv_tenant *srv_keys_find(const srv_keys *keys, const char *key,
                                size_t key_len);

/* ---- Shared state ---- */

typedef struct srv_tz_cache srv_tz_cache;
typedef struct srv_mcp_sessions srv_mcp_sessions;

#define SRV_CONV_LOCKS 64

/* The longest X-Request-Id the HTTP server echoes (srv_http.c). */
#define SRV_REQUEST_ID_MAX 64

typedef struct srv_ctx {
    am_store *store;
    am_embedder *embedder;
    srv_keys *keys;              /* NULL: open (loopback only) */
    srv_tz_cache *tokenizers;
    srv_mcp_sessions *sessions;  /* MCP over HTTP (srv_mcp_http.c) */
    char *openapi;               /* the /openapi.json document */
    /* Serialize requests on one conversation of the memory manager
     * (srv_routes_memory.c): the id's hash picks the lock. */
    pthread_mutex_t conv_locks[SRV_CONV_LOCKS];
    /* Read handles on the same database (srv_ctx.c): a read-only route
     * takes one for its call, so gets and searches on different workers
     * do not queue on `store`'s lock, and in SQLite each has its own
     * snapshot and statement cache. Writes stay on `store` (and the put
     * batcher), where one lock orders them without busy waits. */
    pthread_mutex_t readers_mu;
    am_store **readers;          /* all of them, `reader_count` */
    am_store **readers_free;     /* a stack of the idle ones */
    size_t reader_count, readers_idle;
    size_t max_body;             /* bytes */
    size_t max_depth;            /* JSON nesting */
    /* The encryption key while handles are still to be opened (the
     * checkpointer's comes after srv_ctx_open); srv_ctx_forget_key wipes
     * it. Empty: a plaintext database. */
    am_buf key;
} srv_ctx;

/* Open the store at `db` (with the default embedder and the encryption
 * key from `key_file` or the environment, see srv_opts), `readers` more
 * handles on it for read-only routes (none for an in-memory database,
 * which a second handle would not share), the tokenizer cache and, when
 * `keys_file` is set, the keys. `manual_checkpoint`: the handles leave
 * checkpoints to a srv_ckpt (am_store_opts.manual_checkpoint). Errors are
 * printed to stderr. ctx->key keeps the key until srv_ctx_forget_key. */
struct srv_opts;
bool srv_ctx_open(srv_ctx *ctx, const struct srv_opts *o, size_t readers,
                  bool manual_checkpoint);
/* Wipe the key once every handle is open (srv_ctx_close does too). */
void srv_ctx_forget_key(srv_ctx *ctx);
void srv_ctx_close(srv_ctx *ctx);
/* `db` as logs may show it: the file itself, or "(database URL)" for a
 * URL, which may carry a password (am_store_target_kind). */
const char *srv_db_shown(const char *db);

/* The handle a call uses: for a read-only call an idle read handle
 * (ctx->store when none is idle), otherwise ctx->store. Give it back with
 * srv_store_give. Thread safety: safe. */
am_store *srv_store_take(srv_ctx *ctx, bool read_only);
void srv_store_give(srv_ctx *ctx, am_store *store);

/* One JSON line on stderr (written with one write()): {"ts": ..., "event":
 * `event`, ...the members of `fields`}; steals `fields`. */
void srv_log(const char *event, json_t *fields);
/* The per-request line of srv_log's form: {"ts", "event":"request",
 * "method", "route", "status", "us", "tenant", "bytes_in", "completed"},
 * and "request_id" when the client sent one (X-Request-Id; NULL or "":
 * none). Characters outside HTTP tokens in the strings are logged as
 * '?'. */
void srv_log_request(const char *method, const char *route, int status,
                     long long us, const char *tenant, size_t bytes_in,
                     bool completed, const char *request_id);

/* Tokenizer for `model` ("" or NULL: the default model), cached; owned by
 * the cache. Errors go to `err`. */
const am_tokenizer *srv_tokenizer(srv_ctx *ctx, const char *model,
                                  am_error *err);
am_status srv_tz_cache_create(srv_tz_cache **out);
void srv_tz_cache_free(srv_tz_cache *c);

/* ---- One call ---- */

typedef struct srv_call {
    srv_ctx *ctx;
    am_store *store;    /* the handle this call uses (srv_store_take) */
    const srv_tenant *tenant;
    json_t *body;       /* the request's JSON (borrowed), NULL: none */
    int status;         /* HTTP status of the reply */
    json_t *reply;      /* yours once set; NULL: empty */
    /* The HTTP front door sets text_ok: a handler may then answer with
     * JSON text it already has (`text`, malloc'ed, yours) instead of a
     * tree, so a result list the library wrote as JSON is not parsed and
     * written again. `reply` wins when both are set; srv_fail empties
     * `text`. Free it with am_buf_free. */
    bool text_ok;
    am_buf text;
} srv_call;

/* Set an error reply {"error":{"code","message","field"?}}; returns false so
 * that handlers can `return srv_fail(...)`. `field` may be NULL. */
bool srv_fail(srv_call *c, int status, const char *field, const char *fmt,
              ...) __attribute__((format(printf, 4, 5)));
/* Reply for a library failure: status mapped from `st`, the message from
 * `err` (or the store's last error when `err` is NULL). */
bool srv_fail_status(srv_call *c, am_status st, const am_error *err,
                     const char *what);
/* Set a 200 reply (steals `reply`); NULL reply is out of memory. */
bool srv_ok(srv_call *c, json_t *reply);
int srv_http_status(am_status st);

/* Fields of c->body. Each names the field in its error and returns false
 * after setting the reply. `required` false leaves *out as it was when the
 * field is absent or null. */
bool srv_str(srv_call *c, const char *field, bool required, am_str *out);
bool srv_size(srv_call *c, const char *field, size_t max, size_t *out);
bool srv_int64(srv_call *c, const char *field, int64_t *out);
bool srv_bool(srv_call *c, const char *field, bool *out);
/* A number in [0, 1], such as a weight of am_search. */
bool srv_unit(srv_call *c, const char *field, double *out);
/* The names bonus of a search (am_search.names_field/names_bonus):
 * "names_field" and "names_bonus"; a bonus without a field is a 400. */
bool srv_names(srv_call *c, am_str *field, double *bonus);
/* Any JSON value, serialized compactly (yours: free()). */
bool srv_json_text(srv_call *c, const char *field, bool required,
                   char **out);
/* A JSON object member as compact text, or NULL when absent. */
bool srv_object_text(srv_call *c, const char *field, char **out);

/* A namespace from `field` (array of strings), with the tenant as first
 * part. `parts` has room for AM_STORE_MAX_NS_PARTS. `min` is the least
 * number of parts the caller must give. */
bool srv_ns(srv_call *c, const char *field, size_t min, am_str *parts,
            am_ns *out);
/* An id (user, session, conversation) in tenant space: "<tenant>:<id>"
 * under --keys, else the id itself. `buf` is yours (free()). `may_be_empty`
 * allows "" (e.g. the user of a session). */
bool srv_id(srv_call *c, const char *field, bool may_be_empty, char **buf,
            am_str *out);
/* Drop the tenant from a result list's namespaces (JSON from
 * am_results_to_json); steals `arr`. */
json_t *srv_strip_ns(const srv_call *c, json_t *arr);
/* Drop "<tenant>:" from an id. */
const char *srv_strip_id(const srv_call *c, const char *id);

/* A result list as JSON with the tenant stripped, or NULL (reply set). */
json_t *srv_results_json(srv_call *c, const am_results *r, bool scores);
/* The same list as JSON text "<pre>[...]<post>" in `out` (replacing its
 * contents), written by am_results_to_json from a copy of the items whose
 * namespaces skip the tenant. `pre`/`post` wrap it (NULL: nothing); with
 * `unwrap` the array's brackets are left out (a one-item list becomes the
 * bare object). False with an error reply set. */
bool srv_results_text(srv_call *c, const am_results *r, bool scores,
                      const char *pre, const char *post, bool unwrap,
                      am_buf *out);
/* Answer 200 with `buf`'s text (moved into c->text: `buf` is left
 * empty). */
bool srv_ok_text(srv_call *c, am_buf *buf);

/* Require write rights; false with 403 otherwise. */
bool srv_need_write(srv_call *c);

/* ---- Puts: reading one, and committing many together ---- */

/* One put request's fields (srv_routes_store.c): `it` borrows from the
 * request body and from the buffers here. */
typedef struct srv_put {
    am_str parts[AM_STORE_MAX_NS_PARTS];
    am_item_in it;
    char *value, *meta;   /* yours: free() */
    float *vec;
} srv_put;

/* Read c->body into `p` (free it with srv_put_free either way); false with
 * the error reply set (each error names its field). */
bool srv_put_read(srv_call *c, srv_put *p);
void srv_put_free(srv_put *p);
/* The reply to a put that ended with `st` (`err`: its detail, or NULL for
 * the store's last error on this thread). */
bool srv_put_reply(srv_call *c, am_status st, const am_error *err);

/* Group commit (srv_batch.c). A job is one request's item; the writer
 * thread stores queued jobs with one transaction, sets `st` and `err`,
 * and then calls done(arg) on its own thread. */
typedef struct srv_put_job {
    am_item_in item;            /* borrowed until done() */
    am_status st;
    am_error err;               /* detail when st != AM_OK */
    void (*done)(void *arg);
    void *arg;
    struct srv_put_job *next;   /* the batcher's */
} srv_put_job;

typedef struct srv_batcher srv_batcher;

/* Start the writer thread over `store` (borrowed; close it only after
 * srv_batcher_stop), at most `max_batch` items per transaction. AM_EINVAL
 * or AM_ENOMEM. */
am_status srv_batcher_start(am_store *store, size_t max_batch,
                            srv_batcher **out);
/* Queue `job` (borrowed until its done()). False once the batcher is
 * stopping: the caller stores the item itself. Thread safety: safe. */
bool srv_batcher_submit(srv_batcher *b, srv_put_job *job);
/* Ask the writer thread for one checkpoint of its store before its next
 * batch (see srv_batch.c; no-op once stopping). Thread safety: safe. */
void srv_batcher_checkpoint(srv_batcher *b);
/* Commit everything queued, call its done()s and stop the thread; from
 * then on submit refuses. The batcher stays valid for late submitters.
 * NULL: no-op. */
void srv_batcher_stop(srv_batcher *b);
/* What the writer did, for the server's last log line: where put latency
 * comes from is the time a batch takes to commit (every request in it
 * waits for all of it). hist[i] counts commits that took under 2^i ms
 * (1, 2, 4 ... 128 ms) of wall time, cpu_hist[i] of the writer's CPU
 * time; the last bucket, everything longer. */
#define SRV_COMMIT_BUCKETS 9
typedef struct srv_batch_stats {
    size_t puts;       /* items stored */
    size_t batches;    /* transactions used */
    size_t retried;    /* items stored again alone after their batch failed */
    size_t largest;    /* items in the largest batch */
    long long max_us;  /* the longest commit */
    size_t hist[SRV_COMMIT_BUCKETS];
    /* The same by the writer thread's CPU time: a commit slow in `hist`
     * but not here waited (for a CPU, the disk), one slow in both worked
     * (FTS5's merging, say). Apart on a loaded machine. */
    long long cpu_max_us;
    size_t cpu_hist[SRV_COMMIT_BUCKETS];
    size_t ckpts;      /* checkpoints run between batches */
    long long ckpt_max_us;
} srv_batch_stats;
/* Call only after srv_batcher_stop. */
void srv_batcher_stats(const srv_batcher *b, srv_batch_stats *out);
/* Stop (if not yet) and free. Call only when no thread can submit any
 * more. NULL: no-op. */
void srv_batcher_free(srv_batcher *b);

/* The log checkpointer (srv_ckpt.c): a thread with its own handle on the
 * SQLite file `db` that copies the write-ahead log back into the database
 * every SRV_CKPT_PERIOD_MS, so that commits never do (the writer's handle
 * is opened with manual_checkpoint), and asks `batcher` for the rest once
 * the log has grown past SRV_CKPT_RESTART_PAGES. */
#define SRV_CKPT_PERIOD_MS 100
/* 16384 pages (64 MB of log at 4 KB) rather than 4096: each restart
 * stops the writer for a checkpoint with two fsyncs, 43-86 ms under load
 * even when 64 pages or fewer were left to copy (measured: running more
 * passes here first did not shorten it), so the log grows 4x longer
 * between two of them. */
#define SRV_CKPT_RESTART_PAGES 16384
/* How much lower than the server's the checkpointer thread's priority is
 * (nice, on Linux; srv_ckpt.c says why). */
#define SRV_CKPT_NICE 10
typedef struct srv_ckpt srv_ckpt;
typedef struct srv_ckpt_stats {
    size_t runs;          /* checkpoints that ran */
    size_t busy;          /* ... that found the log busy and did nothing */
    size_t asked;         /* times the batcher was asked to finish */
    long long max_us;     /* the longest one (the writer went on meanwhile) */
    int nice;             /* the thread's nice value (srv_ckpt.c) */
} srv_ckpt_stats;
/* `key`: the database's encryption key (borrowed for the call; empty:
 * none). Errors (opening the handle, starting the thread) go to `err`. */
am_status srv_ckpt_start(const char *db, am_str key, srv_batcher *batcher,
                         srv_ckpt **out, am_error *err);
/* Stop the thread, close its handle, report and free. NULL: no-op. */
void srv_ckpt_free(srv_ckpt *c, srv_ckpt_stats *stats);
/* True when every handle opened on `db` gets a database of its own
 * (SQLite ":memory:", or "" after "sqlite:": a private temporary file),
 * so a second handle would not see the first one's items. */
bool srv_db_private(const char *db);
/* True when `db` names a SQLite file (a write-ahead log to checkpoint):
 * not a private database, not a PostgreSQL URL. */
bool srv_db_has_log(const char *db);

/* ---- Routes (srv_routes*.c) ---- */

typedef bool (*srv_handler)(srv_call *c);

typedef struct srv_route {
    const char *method;   /* "GET", "POST" */
    const char *path;
    srv_handler run;
    bool writes;          /* needs write rights */
    bool needs_body;      /* a JSON object body is required */
    const char *summary;
} srv_route;

/* All routes (NULL-terminated path), and lookup. */
extern const srv_route srv_routes[];
/* True for handlers that only read the store (get, list, search, ...):
 * they may run on a read handle. */
bool srv_reads_only(srv_handler fn);
const srv_route *srv_route_find(const char *method, const char *path,
                                bool *path_known);

bool srv_r_put(srv_call *c);
bool srv_r_get(srv_call *c);
bool srv_r_delete(srv_call *c);
bool srv_r_list(srv_call *c);
bool srv_r_namespaces(srv_call *c);
bool srv_r_history(srv_call *c);
bool srv_r_undo(srv_call *c);
bool srv_r_search(srv_call *c);
bool srv_r_session_add(srv_call *c);
bool srv_r_session_get(srv_call *c);
bool srv_r_session_pop(srv_call *c);
bool srv_r_session_clear(srv_call *c);
bool srv_r_session_list(srv_call *c);
bool srv_r_tokens_count(srv_call *c);
bool srv_r_trim(srv_call *c);
bool srv_r_convert(srv_call *c);
bool srv_r_price(srv_call *c);
bool srv_r_recall_index(srv_call *c);
bool srv_r_recall_search(srv_call *c);
bool srv_r_recall_tool(srv_call *c);
bool srv_r_memtool(srv_call *c);
bool srv_r_healthz(srv_call *c);
bool srv_r_memory_add(srv_call *c);
bool srv_r_memory_context(srv_call *c);
bool srv_r_memory_stats(srv_call *c);

/* The OpenAPI 3.1 document of every route (srv_openapi.c), or NULL with
 * the path of the route lacking a valid schema row in `missing`. */
json_t *srv_openapi_build(char *missing, size_t cap);

/* ---- JSON bodies (srv_json.c) ---- */

/* Nesting depth of the JSON text (strings skipped), counted up to just
 * past `limit`. */
size_t srv_json_depth(const char *data, size_t len, size_t limit);

/* Parse a request body: at most ctx->max_depth nesting, an object at the
 * top. NULL with an error reply set. */
json_t *srv_parse_body(srv_call *c, const char *data, size_t len);

#endif
