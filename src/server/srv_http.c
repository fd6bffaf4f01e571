/* srv_http.c -- `agentmem serve`: libmicrohttpd glue, auth, limits, logs
 * and a clean shutdown.
 *
 * libmicrohttpd runs a fixed pool of worker threads (epoll), each serving
 * its share of the connections; a handler runs on the worker that read the
 * request, so the pool bounds the work in progress. Open connections are
 * counted: past --max-conns a request is answered 503 at once (and the
 * connection closed) rather than queued without bound, and past twice that
 * libmicrohttpd refuses connections outright.
 *
 * Puts are committed in groups (srv_batch.c): the connection is suspended
 * while the writer thread stores its item together with the others that
 * arrived meanwhile, and resumed to answer once that transaction committed.
 *
 * Shutdown: SIGTERM or SIGINT stops the listener (quiesce), waits up to ten
 * seconds for requests already started to be answered, then stops the
 * workers and closes the database, so an acknowledged write is committed
 * and nothing is cut off mid-reply.
 *
 * One JSON log line per request goes to stderr from the completion
 * callback: method, route (the table's path, never the raw URL), status,
 * latency, tenant. The API key is never logged.
 *
 * X-Request-Id: a client may name its request (1 to 64 of A-Z a-z 0-9 and
 * "._:-"); the reply carries the same header back and the log line the
 * id, so that a client can match an answer, and the server's line, to the
 * request it sent. bench/wrk_mix.lua needs this: wrk's scripts do not see
 * which connection answered, and a paced run's latency is measured from
 * each request's scheduled send time, which the id carries there and
 * back. Any other value is answered 400 naming the header.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#include "server.h"
#include "srv_int.h"
#include "srv_mcp.h"

typedef struct http_srv {
    srv_ctx ctx;
    srv_batcher *batcher;    /* group commit of puts (srv_batch.c) */
    srv_ckpt *ckpt;          /* log checkpoints (srv_ckpt.c), or NULL */
    atomic_uint conns;       /* open connections */
    atomic_uint inflight;    /* requests started, not yet completed */
    unsigned max_conns;
} http_srv;

/* One request's state, from its headers to its completion. */
typedef struct req {
    struct timespec t0;
    char *body;
    size_t len, cap;
    bool too_large;
    int status;
    char method[8];
    const char *route;       /* static: a table path, "/mcp" or "-" */
    char tenant[64];
    char request_id[SRV_REQUEST_ID_MAX + 1];   /* "": none sent */
    bool bad_request_id;
    /* A route's call, kept here because a put outlives the handler: its
     * connection is suspended while the batcher commits (`waiting`). */
    srv_call call;
    srv_put put;
    srv_put_job job;
    bool waiting;
    struct MHD_Connection *con;
} req;

static const srv_tenant open_tenant = { "", true };

/* X-Request-Id's form: 1 to SRV_REQUEST_ID_MAX characters of A-Z a-z 0-9
 * and "._:-", so that it goes into a header and a log line unchanged. */
static bool request_id_ok(const char *id)
{
    size_t n = strlen(id);

    if (n == 0 || n > SRV_REQUEST_ID_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)id[i];
        if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') ||
              (ch >= 'A' && ch <= 'Z') || ch == '.' || ch == '_' ||
              ch == ':' || ch == '-'))
            return false;
    }
    return true;
}

static json_int_t us_since(const struct timespec *t0)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (json_int_t)(t.tv_sec - t0->tv_sec) * 1000000 +
           (t.tv_nsec - t0->tv_nsec) / 1000;
}

/* ---- Replies ---- */

/* Send `body`, or when it is NULL the JSON text `raw` (copied; NULL or
 * empty: an empty body). */
static enum MHD_Result send_json(struct MHD_Connection *con, req *rq,
                                 int status, json_t *body, const am_buf *raw,
                                 const char *extra_name,
                                 const char *extra_value)
{
    char *text = body != NULL ? json_dumps(body, JSON_COMPACT) : NULL;
    bool is_raw = body == NULL && raw != NULL && raw->len > 0;
    struct MHD_Response *resp;
    enum MHD_Result ret;

    if (is_raw) {
        resp = MHD_create_response_from_buffer(raw->len, raw->ptr,
                                               MHD_RESPMEM_MUST_COPY);
    } else if (body != NULL && text == NULL) {
        static const char oom[] =
            "{\"error\":{\"code\":\"unavailable\",\"message\":\"out of "
            "memory\"}}";
        status = 503;
        resp = MHD_create_response_from_buffer(sizeof oom - 1, (void *)(uintptr_t)oom,
                                               MHD_RESPMEM_PERSISTENT);
    } else if (text != NULL) {
        resp = MHD_create_response_from_buffer(strlen(text), text,
                                               MHD_RESPMEM_MUST_FREE);
    } else {
        resp = MHD_create_response_from_buffer(0, NULL,
                                               MHD_RESPMEM_PERSISTENT);
    }
    if (resp == NULL) {
        free(text);
        return MHD_NO;
    }
    if (is_raw || body != NULL || text != NULL)
        MHD_add_response_header(resp, "Content-Type", "application/json");
    if (extra_name != NULL)
        MHD_add_response_header(resp, extra_name, extra_value);
    if (rq->request_id[0] != '\0')
        MHD_add_response_header(resp, "X-Request-Id", rq->request_id);
    rq->status = status;
    ret = MHD_queue_response(con, (unsigned)status, resp);
    MHD_destroy_response(resp);
    return ret;
}

static enum MHD_Result send_error(struct MHD_Connection *con, req *rq,
                                  int status, const char *msg,
                                  const char *extra_name,
                                  const char *extra_value)
{
    srv_call c = { 0 };
    enum MHD_Result ret;
    srv_fail(&c, status, NULL, "%s", msg);
    ret = send_json(con, rq, status, c.reply, NULL, extra_name,
                    extra_value);
    json_decref(c.reply);
    return ret;
}

/* ---- Auth ---- */

/* The caller's tenant, or NULL after queuing a 401. */
static const srv_tenant *authenticate(http_srv *s, struct MHD_Connection *con,
                                      req *rq, enum MHD_Result *ret)
{
    const char *auth, *key = NULL;
    const srv_tenant *t;

    if (s->ctx.keys == NULL)
        return &open_tenant;
    auth = MHD_lookup_connection_value(con, MHD_HEADER_KIND,
                                       MHD_HTTP_HEADER_AUTHORIZATION);
    if (auth != NULL && strncasecmp(auth, "Bearer ", 7) == 0)
        key = auth + 7;
    if (key == NULL)
        key = MHD_lookup_connection_value(con, MHD_HEADER_KIND, "X-API-Key");
    t = key != NULL ? srv_keys_find(s->ctx.keys, key, strlen(key)) : NULL;
    if (t == NULL) {
        *ret = send_error(con, rq, 401, key == NULL ? "an API key is "
                          "required (Authorization: Bearer KEY)" :
                          "unknown API key", "WWW-Authenticate",
                          "Bearer realm=\"agentmem\"");
        return NULL;
    }
    snprintf(rq->tenant, sizeof rq->tenant, "%s", t->name);
    return t;
}

/* ---- Dispatch ---- */

/* Answer the route's call and release what it held. */
static enum MHD_Result finish_call(struct MHD_Connection *con, req *rq)
{
    srv_call *c = &rq->call;
    enum MHD_Result ret = send_json(con, rq, c->status, c->reply, &c->text,
                                    NULL, NULL);
    json_decref(c->reply);
    c->reply = NULL;
    am_buf_free(&c->text);
    json_decref(c->body);
    c->body = NULL;
    srv_put_free(&rq->put);
    return ret;
}

/* The batcher committed this request's put (on its thread). */
static void put_done(void *arg)
{
    req *rq = arg;
    MHD_resume_connection(rq->con);
}

static enum MHD_Result run_route(http_srv *s, struct MHD_Connection *con,
                                 req *rq, const srv_route *r,
                                 const srv_tenant *t)
{
    srv_call *c = &rq->call;

    c->ctx = &s->ctx;
    c->store = s->ctx.store;
    c->tenant = t;
    c->status = 200;
    c->text_ok = true;
    if (r->writes && !srv_need_write(c))
        goto reply;
    if (r->needs_body) {
        c->body = srv_parse_body(c, rq->body, rq->len);
        if (c->body == NULL)
            goto reply;
    }
    if (r->run == srv_r_put && s->batcher != NULL) {
        if (!srv_put_read(c, &rq->put))
            goto reply;
        rq->job.item = rq->put.it;
        rq->job.done = put_done;
        rq->job.arg = rq;
        rq->con = con;
        rq->waiting = true;
        /* Suspend before queuing: the writer may resume at once. On
         * resumption on_request is called again and answers. */
        MHD_suspend_connection(con);
        if (!srv_batcher_submit(s->batcher, &rq->job)) {
            /* Shutting down: store it here. */
            rq->job.st = am_store_put(s->ctx.store, &rq->put.it);
            if (rq->job.st != AM_OK)
                rq->job.err = *am_store_last_error(s->ctx.store);
            MHD_resume_connection(con);
        }
        return MHD_YES;
    }
    c->store = srv_store_take(&s->ctx, srv_reads_only(r->run));
    r->run(c);
    srv_store_give(&s->ctx, c->store);
reply:
    return finish_call(con, rq);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *con,
                                  const char *url, const char *method,
                                  const char *version,
                                  const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    http_srv *s = cls;
    req *rq = *con_cls;
    const srv_route *r;
    const srv_tenant *t;
    bool known;
    enum MHD_Result ret = MHD_YES;

    if (rq == NULL) {
        const char *cl, *id;
        rq = calloc(1, sizeof *rq);
        if (rq == NULL)
            return MHD_NO;
        clock_gettime(CLOCK_MONOTONIC, &rq->t0);
        rq->route = "-";
        snprintf(rq->method, sizeof rq->method, "%s", method);
        rq->status = 500;
        atomic_fetch_add(&s->inflight, 1);
        *con_cls = rq;
        cl = MHD_lookup_connection_value(con, MHD_HEADER_KIND,
                                         MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (cl != NULL && strtoull(cl, NULL, 10) > s->ctx.max_body)
            rq->too_large = true;
        id = MHD_lookup_connection_value(con, MHD_HEADER_KIND,
                                         "X-Request-Id");
        if (id != NULL && request_id_ok(id))
            memcpy(rq->request_id, id, strlen(id) + 1);
        else if (id != NULL)
            rq->bad_request_id = true;
        return MHD_YES;
    }
    if (rq->waiting) {
        /* Resumed: the batcher has committed (or refused) the put. */
        rq->waiting = false;
        srv_put_reply(&rq->call, rq->job.st, &rq->job.err);
        return finish_call(con, rq);
    }
    if (*upload_data_size > 0) {
        /* Past the limit the rest is read and dropped: the client gets
         * its 413 once it has sent everything. */
        if (!rq->too_large && rq->len + *upload_data_size > s->ctx.max_body)
            rq->too_large = true;
        if (!rq->too_large) {
            if (rq->len + *upload_data_size > rq->cap) {
                size_t cap = rq->cap ? rq->cap * 2 : 4096;
                char *grown;
                while (cap < rq->len + *upload_data_size)
                    cap *= 2;
                if (cap > s->ctx.max_body)
                    cap = s->ctx.max_body;
                grown = realloc(rq->body, cap);
                if (grown == NULL)
                    return MHD_NO;
                rq->body = grown;
                rq->cap = cap;
            }
            memcpy(rq->body + rq->len, upload_data, *upload_data_size);
            rq->len += *upload_data_size;
        }
        *upload_data_size = 0;
        return MHD_YES;
    }

    /* The whole request is in. */
    r = srv_route_find(method, url, &known);
    if (r != NULL)
        rq->route = r->path;
    else if (strcmp(url, "/mcp") == 0)
        rq->route = "/mcp";
    if (atomic_load(&s->conns) > s->max_conns)
        return send_error(con, rq, 503, "server overloaded; retry later",
                          "Retry-After", "1");
    if (rq->too_large) {
        char msg[96];
        snprintf(msg, sizeof msg, "request body exceeds %zu bytes",
                 s->ctx.max_body);
        return send_error(con, rq, 413, msg, NULL, NULL);
    }
    if (rq->bad_request_id) {
        char msg[128];
        snprintf(msg, sizeof msg, "header X-Request-Id: expected 1 to %d "
                 "characters of A-Z a-z 0-9 . _ : -", SRV_REQUEST_ID_MAX);
        return send_error(con, rq, 400, msg, NULL, NULL);
    }
    if (strcmp(url, "/mcp") == 0) {
        if ((t = authenticate(s, con, rq, &ret)) == NULL)
            return ret;
        return srv_mcp_http(&s->ctx, t, con, method, rq->body, rq->len,
                            &rq->status);
    }
    if (r == NULL && strcmp(url, "/openapi.json") == 0 &&
        strcmp(method, "GET") == 0) {
        struct MHD_Response *resp = MHD_create_response_from_buffer(
            strlen(s->ctx.openapi), s->ctx.openapi, MHD_RESPMEM_PERSISTENT);
        rq->route = "/openapi.json";
        if (resp == NULL)
            return MHD_NO;
        MHD_add_response_header(resp, "Content-Type", "application/json");
        if (rq->request_id[0] != '\0')
            MHD_add_response_header(resp, "X-Request-Id", rq->request_id);
        rq->status = 200;
        ret = MHD_queue_response(con, MHD_HTTP_OK, resp);
        MHD_destroy_response(resp);
        return ret;
    }
    if (r == NULL) {
        if (known)
            return send_error(con, rq, 405, "method not allowed on this "
                              "route", "Allow", strcmp(method, "GET") == 0 ?
                              "POST" : "GET");
        return send_error(con, rq, 404, "no such route", NULL, NULL);
    }
    if (r->run == srv_r_healthz)
        t = &open_tenant;   /* probes carry no key */
    else if ((t = authenticate(s, con, rq, &ret)) == NULL)
        return ret;
    return run_route(s, con, rq, r, t);
}

static void on_completed(void *cls, struct MHD_Connection *con,
                         void **con_cls, enum MHD_RequestTerminationCode toe)
{
    http_srv *s = cls;
    req *rq = *con_cls;

    if (rq == NULL)
        return;
    srv_log_request(rq->method, rq->route, rq->status,
                    (long long)us_since(&rq->t0), rq->tenant, rq->len,
                    toe == MHD_REQUEST_TERMINATED_COMPLETED_OK,
                    rq->request_id);
    json_decref(rq->call.reply);
    am_buf_free(&rq->call.text);
    json_decref(rq->call.body);
    srv_put_free(&rq->put);
    free(rq->body);
    free(rq);
    *con_cls = NULL;
    atomic_fetch_sub(&s->inflight, 1);
}

static void on_connection(void *cls, struct MHD_Connection *con,
                          void **socket_context,
                          enum MHD_ConnectionNotificationCode toe)
{
    http_srv *s = cls;
    if (toe == MHD_CONNECTION_NOTIFY_STARTED)
        atomic_fetch_add(&s->conns, 1);
    else
        atomic_fetch_sub(&s->conns, 1);
}

/* ---- Start and stop ---- */

static bool parse_listen(const char *spec, struct sockaddr_in *sa)
{
    char host[64];
    const char *colon = strrchr(spec, ':');
    char *end = NULL;
    unsigned long port;

    if (colon == NULL || (size_t)(colon - spec) >= sizeof host)
        return false;
    memcpy(host, spec, (size_t)(colon - spec));
    host[colon - spec] = '\0';
    port = strtoul(colon + 1, &end, 10);
    if (colon[1] == '\0' || *end != '\0' || port > 65535)
        return false;
    memset(sa, 0, sizeof *sa);
    sa->sin_family = AF_INET;
    sa->sin_port = htons((uint16_t)port);
    if (strcmp(host, "localhost") == 0)
        memcpy(host, "127.0.0.1", sizeof "127.0.0.1");
    return inet_pton(AF_INET, host, &sa->sin_addr) == 1;
}

/* {"<1": n, "<2": n, ... ">=128": n} of a srv_batch_stats histogram
 * (NULL when out of memory: the log line then goes without it). */
static json_t *commit_histogram(const size_t *hist)
{
    json_t *h = json_object();
    for (size_t i = 0; h != NULL && i < SRV_COMMIT_BUCKETS; i++) {
        char name[16];
        if (i + 1 < SRV_COMMIT_BUCKETS)
            snprintf(name, sizeof name, "<%d", 1 << i);
        else
            snprintf(name, sizeof name, ">=%d", 1 << (i - 1));
        json_object_set_new(h, name, json_integer((json_int_t)hist[i]));
    }
    return h;
}

int srv_serve(const srv_opts *o)
{
    static http_srv s;     /* one server per process: the signal's target */
    struct sockaddr_in sa;
    const char *listen_spec = o->listen != NULL ? o->listen :
                              "127.0.0.1:8080";
    unsigned threads = o->threads != 0 ? o->threads : 4;
    struct MHD_Daemon *d;
    const union MHD_DaemonInfo *di;
    sigset_t sigs;
    int sig = 0;
    MHD_socket ls;
    srv_ckpt_stats cs;
    char url[96], addr[INET_ADDRSTRLEN];
    bool loopback, with_ckpt;

    if (!parse_listen(listen_spec, &sa)) {
        fprintf(stderr, "agentmem serve: --listen '%s': expected "
                "IPV4:PORT, e.g. 127.0.0.1:8080\n", listen_spec);
        return 2;
    }
    loopback = (ntohl(sa.sin_addr.s_addr) >> 24) == 127;
    if (o->keys_file == NULL && !loopback) {
        fprintf(stderr, "agentmem serve: without --keys the server listens "
                "on loopback only (127.0.0.0/8); give --keys FILE to listen "
                "on %s\n", listen_spec);
        return 2;
    }
    memset(&s, 0, sizeof s);
    s.max_conns = o->max_conns != 0 ? o->max_conns : 256;
    /* A SQLite file gets its log checkpointed off the writer's path
     * (srv_ckpt.c). */
    with_ckpt = srv_db_has_log(o->db);
    if (!srv_ctx_open(&s.ctx, o, threads, with_ckpt))
        return 1;
    if (srv_batcher_start(s.ctx.store, 256, &s.batcher) != AM_OK) {
        fprintf(stderr, "agentmem serve: cannot start the writer thread\n");
        srv_ctx_close(&s.ctx);
        return 1;
    }
    if (with_ckpt) {
        am_error err = { AM_OK, "" };
        if (srv_ckpt_start(o->db, am_buf_str(&s.ctx.key), s.batcher,
                           &s.ckpt, &err) != AM_OK) {
            fprintf(stderr, "agentmem serve: %s\n", err.msg);
            srv_batcher_free(s.batcher);
            srv_ctx_close(&s.ctx);
            return 1;
        }
    }
    srv_ctx_forget_key(&s.ctx);     /* every handle is open */

    /* Workers inherit this mask: only the main thread takes the signals. */
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    d = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ITC |
            MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG,
        0, NULL, NULL, on_request, &s,
        MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
        MHD_OPTION_THREAD_POOL_SIZE, threads,
        MHD_OPTION_CONNECTION_LIMIT, s.max_conns * 2 + threads,
        MHD_OPTION_CONNECTION_TIMEOUT,
        (unsigned)(o->timeout_s != 0 ? o->timeout_s : 30),
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)64 * 1024,
        MHD_OPTION_LISTEN_BACKLOG_SIZE, 1024,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, &s,
        MHD_OPTION_NOTIFY_CONNECTION, on_connection, &s,
        MHD_OPTION_END);
    if (d == NULL) {
        fprintf(stderr, "agentmem serve: cannot listen on %s: %s\n",
                listen_spec, strerror(errno));
        srv_ckpt_free(s.ckpt, NULL);
        srv_batcher_free(s.batcher);
        srv_ctx_close(&s.ctx);
        return 1;
    }
    di = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    inet_ntop(AF_INET, &sa.sin_addr, addr, sizeof addr);
    snprintf(url, sizeof url, "http://%s:%u", addr,
             di != NULL ? (unsigned)di->port : ntohs(sa.sin_port));
    /* A database URL may carry a password: log its scheme only. */
    srv_log("listening", json_pack("{s:s, s:s, s:i, s:i, s:s}", "url", url,
                                   "db", srv_db_shown(o->db),
                                   "threads", (int)threads,
                                   "read_handles", (int)s.ctx.reader_count,
                                   "auth", s.ctx.keys != NULL ?
                                   "api keys" : "none: loopback only"));

    while (sigwait(&sigs, &sig) != 0 || (sig != SIGTERM && sig != SIGINT))
        ;
    srv_log("stopping", json_pack("{s:s, s:i}", "signal",
                                  sig == SIGTERM ? "SIGTERM" : "SIGINT",
                                  "in_flight",
                                  (int)atomic_load(&s.inflight)));
    /* The listening socket MHD hands back is ours to close, but only
     * after MHD_stop_daemon: a worker thread may still be taking it out
     * of its epoll set (TSan caught the close racing that epoll_ctl). */
    ls = MHD_quiesce_daemon(d);
    {
        struct timespec nap = { 0, 10 * 1000 * 1000 };
        for (int i = 0; i < 1000 && atomic_load(&s.inflight) > 0; i++)
            nanosleep(&nap, NULL);
    }
    /* Commit and answer queued puts while the daemon still runs (they
     * are in flight, so normally none is left); later puts on open
     * connections are stored by their own thread. */
    srv_ckpt_free(s.ckpt, &cs);
    srv_batcher_stop(s.batcher);
    MHD_stop_daemon(d);
    if (ls != MHD_INVALID_SOCKET)
        close(ls);
    {
        srv_batch_stats bs;
        srv_batcher_stats(s.batcher, &bs);
        srv_batcher_free(s.batcher);
        srv_ctx_close(&s.ctx);
        /* Where put latency comes from: the commits' times, and the
         * checkpoints (the background ones do not hold up the writer;
         * those between batches do, for ckpt_writer_max_ms at most). */
        srv_log("stopped", json_pack(
            "{s:I, s:I, s:I, s:I, s:f, s:o?, s:f, s:o?, s:I, s:I, s:I, s:f,"
            " s:I, s:f, s:i}",
            "batched_puts", (json_int_t)bs.puts,
            "put_transactions", (json_int_t)bs.batches,
            "puts_retried_alone", (json_int_t)bs.retried,
            "largest_batch", (json_int_t)bs.largest,
            "commit_max_ms", bs.max_us / 1000.0,
            "commit_ms_histogram", commit_histogram(bs.hist),
            "commit_cpu_max_ms", bs.cpu_max_us / 1000.0,
            "commit_cpu_ms_histogram", commit_histogram(bs.cpu_hist),
            "ckpt_background", (json_int_t)cs.runs,
            "ckpt_background_busy", (json_int_t)cs.busy,
            "ckpt_asked_writer", (json_int_t)cs.asked,
            "ckpt_background_max_ms", cs.max_us / 1000.0,
            "ckpt_writer", (json_int_t)bs.ckpts,
            "ckpt_writer_max_ms", bs.ckpt_max_us / 1000.0,
            "ckpt_nice", cs.nice));
    }
    return 0;
}
