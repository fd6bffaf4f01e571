/* srv_ctx.c -- what the server opens at start and closes at exit, and its
 * log line.
 *
 * The HTTP server and MCP over stdio share this: one store handle (the
 * store is internally locked and safe to share between worker threads), the
 * default offline embedder so that hybrid search works without a provider,
 * a tokenizer cache and the keys.
 *
 * The HTTP server also opens one read handle per worker thread. A store
 * handle runs one call at a time, so with one handle every get waited for
 * the get or search before it; separate handles on one SQLite file read in
 * parallel (WAL: readers do not block each other or the writer), and a
 * read handle's statements stay prepared. Writes keep the one main handle,
 * whose lock orders them instead of SQLite's busy-wait retries.
 */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agentmem/encrypt.h"
#include "server.h"
#include "srv_mcp.h"

static bool open_readers(srv_ctx *ctx, const char *db,
                         const am_store_opts *so, size_t n)
{
    am_error err = { AM_OK, "" };

    /* A second handle on a private database would be another database. */
    if (n == 0 || srv_db_private(db))
        return true;
    ctx->readers = calloc(n, sizeof *ctx->readers);
    ctx->readers_free = calloc(n, sizeof *ctx->readers_free);
    if (ctx->readers == NULL || ctx->readers_free == NULL) {
        fprintf(stderr, "agentmem: out of memory\n");
        return false;
    }
    for (; ctx->reader_count < n; ctx->reader_count++) {
        am_error_clear(&err);
        if (am_store_open(db, so, &ctx->readers[ctx->reader_count],
                          &err) != AM_OK) {
            fprintf(stderr, "agentmem: --db: read handle %zu: %s\n",
                    ctx->reader_count + 1, err.msg);
            return false;
        }
        ctx->readers_free[ctx->readers_idle++] =
            ctx->readers[ctx->reader_count];
    }
    return true;
}

am_store *srv_store_take(srv_ctx *ctx, bool read_only)
{
    am_store *s = ctx->store;

    if (!read_only || ctx->reader_count == 0)
        return s;
    pthread_mutex_lock(&ctx->readers_mu);
    if (ctx->readers_idle > 0)
        s = ctx->readers_free[--ctx->readers_idle];
    pthread_mutex_unlock(&ctx->readers_mu);
    return s;
}

void srv_store_give(srv_ctx *ctx, am_store *s)
{
    if (s == NULL || s == ctx->store)
        return;
    pthread_mutex_lock(&ctx->readers_mu);
    assert(ctx->readers_idle < ctx->reader_count);
    ctx->readers_free[ctx->readers_idle++] = s;
    pthread_mutex_unlock(&ctx->readers_mu);
}

const char *srv_db_shown(const char *db)
{
    return am_store_target_kind(db, NULL) == AM_STORE_KIND_SQLITE
               ? db : "(database URL)";
}

bool srv_ctx_open(srv_ctx *ctx, const srv_opts *o, size_t readers,
                  bool manual_checkpoint)
{
    am_store_opts so = am_store_opts_default();
    am_error err = { AM_OK, "" };
    am_status st;

    memset(ctx, 0, sizeof *ctx);
    for (size_t i = 0; i < SRV_CONV_LOCKS; i++)
        pthread_mutex_init(&ctx->conv_locks[i], NULL);
    pthread_mutex_init(&ctx->readers_mu, NULL);
    ctx->max_body = o->max_body != 0 ? o->max_body : (size_t)1 << 20;
    ctx->max_depth = o->max_depth != 0 ? o->max_depth : 32;
    assert(o->db != NULL && o->db[0] != '\0'); /* server.h: the CLI's */
    if (o->keys_file != NULL &&
        srv_keys_load(o->keys_file, &ctx->keys, &err) != AM_OK) {
        fprintf(stderr, "agentmem: --keys: %s\n", err.msg);
        return false;
    }
    /* As the CLI: --key-file, else the environment, else no key. */
    st = am_key_load(o->key_file, &ctx->key, &err);
    if (st != AM_OK && st != AM_ENOTFOUND) {
        fprintf(stderr, "agentmem: %s: %s\n", o->key_file != NULL ?
                "--key-file" : "encryption key", err.msg);
        goto fail;
    }
    st = am_embedder_default_create(NULL, &ctx->embedder, &err);
    if (st != AM_OK) {
        fprintf(stderr, "agentmem: embedder: %s\n", err.msg);
        goto fail;
    }
    so.embedder = ctx->embedder;
    so.actor = "agentmem-server";
    so.manual_checkpoint = manual_checkpoint;
    so.key = am_buf_str(&ctx->key);
    st = am_store_open(o->db, &so, &ctx->store, &err);
    if (st != AM_OK) {
        /* A database URL may carry a password: the library's message
         * names the target without it, so print only that. */
        if (am_store_target_kind(o->db, NULL) != AM_STORE_KIND_SQLITE)
            fprintf(stderr, "agentmem: --db: %s\n", err.msg);
        else
            fprintf(stderr, "agentmem: --db %s: %s\n", o->db, err.msg);
        goto fail;
    }
    if (!open_readers(ctx, o->db, &so, readers))
        goto fail;
    if (srv_tz_cache_create(&ctx->tokenizers) != AM_OK ||
        srv_mcp_sessions_create(&ctx->sessions) != AM_OK) {
        fprintf(stderr, "agentmem: out of memory\n");
        goto fail;
    }
    {
        char missing[128] = "";
        json_t *doc = srv_openapi_build(missing, sizeof missing);
        ctx->openapi = doc != NULL ? json_dumps(doc, JSON_COMPACT) : NULL;
        json_decref(doc);
        if (ctx->openapi == NULL) {
            fprintf(stderr, "agentmem: no OpenAPI schema for route %s\n",
                    missing[0] ? missing : "(out of memory)");
            goto fail;
        }
    }
    return true;
fail:
    srv_ctx_close(ctx);
    return false;
}

void srv_ctx_forget_key(srv_ctx *ctx)
{
    am_key_wipe(&ctx->key);
}

void srv_ctx_close(srv_ctx *ctx)
{
    srv_ctx_forget_key(ctx);
    for (size_t i = 0; i < ctx->reader_count; i++)
        am_store_close(ctx->readers[i]);
    free(ctx->readers);
    free(ctx->readers_free);
    am_store_close(ctx->store);
    am_embedder_free(ctx->embedder);
    srv_tz_cache_free(ctx->tokenizers);
    srv_mcp_sessions_free(ctx->sessions);
    free(ctx->openapi);
    srv_keys_free(ctx->keys);
    memset(ctx, 0, sizeof *ctx);
}

/* The log's timestamp: UTC with milliseconds, "2026-01-02T03:04:05.678Z". */
static void log_time(char *when, size_t cap)
{
    struct timespec ts;
    struct tm tm;
    char base[24];

    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    strftime(base, sizeof base, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(when, cap, "%s.%03dZ", base, (int)(ts.tv_nsec / 1000000));
}

/* One write per line keeps lines from several threads whole. */
static void log_write(char *text, size_t n)
{
    ssize_t w;
    text[n] = '\n';
    w = write(STDERR_FILENO, text, n + 1);
    (void)w;
    text[n] = '\0';
}

void srv_log(const char *event, json_t *fields)
{
    char when[40];
    json_t *line = json_object();
    char *text;

    log_time(when, sizeof when);
    if (line == NULL) {
        json_decref(fields);
        return;
    }
    json_object_set_new(line, "ts", json_string(when));
    json_object_set_new(line, "event", json_string(event));
    if (fields != NULL)
        json_object_update(line, fields);
    json_decref(fields);
    text = json_dumps(line, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(line);
    if (text == NULL)
        return;
    log_write(text, strlen(text));
    free(text);
}

/* Copy `s` into `out` keeping only HTTP token characters, so that the
 * line needs no JSON escaping ('?' stands for anything else). */
static void token_copy(char *out, size_t cap, const char *s)
{
    size_t n = 0;
    for (; s != NULL && s[n] != '\0' && n + 1 < cap; n++) {
        unsigned char ch = (unsigned char)s[n];
        out[n] = (ch > 0x20 && ch < 0x7f && ch != '"' && ch != '\\') ?
                 (char)ch : '?';
    }
    out[n] = '\0';
}

void srv_log_request(const char *method, const char *route, int status,
                     long long us, const char *tenant, size_t bytes_in,
                     bool completed, const char *request_id)
{
    char when[40], m[16], r[96], t[96], id[96], line[480];
    int n;

    /* snprintf, not a jansson tree: this runs once per request, and the
     * tree and its dump cost as much as a small get's database lookup. */
    log_time(when, sizeof when);
    token_copy(m, sizeof m, method);
    token_copy(r, sizeof r, route);
    token_copy(t, sizeof t, tenant);
    id[0] = '\0';
    if (request_id != NULL && request_id[0] != '\0') {
        char v[68];
        token_copy(v, sizeof v, request_id);
        snprintf(id, sizeof id, ",\"request_id\":\"%s\"", v);
    }
    n = snprintf(line, sizeof line - 1, "{\"ts\":\"%s\",\"event\":\"request\","
                 "\"method\":\"%s\",\"route\":\"%s\",\"status\":%d,"
                 "\"us\":%lld,\"tenant\":\"%s\",\"bytes_in\":%zu,"
                 "\"completed\":%s%s}", when, m, r, status, us, t, bytes_in,
                 completed ? "true" : "false", id);
    if (n > 0 && (size_t)n < sizeof line - 1)
        log_write(line, (size_t)n);
}
