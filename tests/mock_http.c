/* mock_http.c -- the loopback provider server of mock_http.h (tests only).
 *
 * An accept thread waits on the listening socket and a self-pipe (for
 * stop); each connection gets a thread that reads requests (Content-Length
 * bodies, keep-alive), answers the next scripted reply or the built-in
 * protocol, and polls a stop flag every 20 ms so that stop never waits on
 * a client that keeps its connection open.
 */
#include "mock_http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

typedef struct mock_conn {
    pthread_t thread;
    int fd;
    mock_http *m;
} mock_conn;

typedef struct mock_script {
    mock_reply r; /* strings owned */
} mock_script;

struct mock_http {
    mock_http_opts opts;
    int listen_fd;
    int wake[2];
    pthread_t acceptor;
    char url[64];
    pthread_mutex_t lock;
    int stop; /* under lock */
    mock_conn **conns;
    size_t nconns, capconns;
    mock_script *script;
    size_t nscript, capscript, script_next;
    mock_request **reqs;
    size_t nreqs, capreqs;
};

/* libcurl honours http_proxy & co.; loopback tests must never go through
 * a proxy that the environment happens to configure. */
__attribute__((constructor)) static void mock_no_proxy(void)
{
    setenv("no_proxy", "127.0.0.1,localhost", 1);
    setenv("NO_PROXY", "127.0.0.1,localhost", 1);
}

static char *mock_strdup(const char *s)
{
    size_t n;
    char *d;
    if (s == NULL)
        return NULL;
    n = strlen(s);
    d = malloc(n + 1);
    if (d != NULL)
        memcpy(d, s, n + 1);
    return d;
}

static bool mock_stopping(mock_http *m)
{
    int s;
    pthread_mutex_lock(&m->lock);
    s = m->stop;
    pthread_mutex_unlock(&m->lock);
    return s != 0;
}

void mock_embed_vector(const char *text, size_t len, size_t dim, float *out)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < len; i++)
        h = (h ^ (unsigned char)text[i]) * 1099511628211ull;
    for (size_t j = 0; j < dim; j++) {
        h ^= h >> 29;
        h *= 0xbf58476d1ce4e5b9ull;
        h ^= h >> 32;
        /* Multiples of 1/64 in [-1, 1): exact in float and in JSON. */
        out[j] = (float)((int)(h % 128) - 64) / 64.0f;
    }
}

/* ---- Sending ---- */

static bool mock_send_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return false;
        p += w;
        n -= (size_t)w;
    }
    return true;
}

static const char *mock_reason(int status)
{
    switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    default: return "Status";
    }
}

/* Wait up to `ms` for the client to go away (or stop). True if gone. */
static bool mock_wait_gone(mock_http *m, int fd, int ms)
{
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        struct pollfd p = { fd, POLLIN, 0 };
        long waited;
        char c;
        if (poll(&p, 1, 20) > 0) {
            ssize_t r = recv(fd, &c, 1, MSG_PEEK);
            if (r <= 0)
                return true;
        }
        if (mock_stopping(m))
            return true;
        clock_gettime(CLOCK_MONOTONIC, &t);
        waited = (t.tv_sec - t0.tv_sec) * 1000 +
                 (t.tv_nsec - t0.tv_nsec) / 1000000;
        if (waited >= ms)
            return false;
    }
}

/* Send `r`; false when the connection must close afterwards. */
static bool mock_send_reply(mock_http *m, int fd, const mock_reply *r)
{
    char head[1024];
    const char *body = r->body != NULL ? r->body : "";
    size_t blen = strlen(body);
    int status = r->status != 0 ? r->status : 200;
    int n;

    if (r->hang_ms > 0 && mock_wait_gone(m, fd, r->hang_ms))
        return false;
    if (r->close_now)
        return false;
    n = snprintf(head, sizeof head,
                 "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\n"
                 "Content-Length: %zu\r\n%s\r\n",
                 status, mock_reason(status), blen,
                 r->headers != NULL ? r->headers : "");
    if (n < 0 || (size_t)n >= sizeof head || !mock_send_all(fd, head, (size_t)n))
        return false;
    if (r->truncate_at > 0 && (size_t)r->truncate_at < blen) {
        mock_send_all(fd, body, (size_t)r->truncate_at);
        return false;
    }
    return mock_send_all(fd, body, blen);
}

/* ---- Built-in protocol ---- */

static char *mock_dump(json_t *v)
{
    char *s = json_dumps(v, JSON_COMPACT);
    json_decref(v);
    return s;
}

static void mock_error_reply(mock_reply *out, int status, const char *type,
                        const char *msg)
{
    out->status = status;
    out->body = mock_dump(json_pack("{s:{s:s,s:s}}", "error", "message", msg,
                               "type", type));
}

static size_t mock_content_len(const json_t *content)
{
    size_t n = 0, i;
    json_t *b;
    if (json_is_string(content))
        return json_string_length(content);
    json_array_foreach(content, i, b) {
        json_t *t = json_object_get(b, "text");
        if (json_is_string(t))
            n += json_string_length(t);
    }
    return n;
}

/* "echo: " + the last message's text, cut to max_tokens characters. */
static char *mock_echo_text(const json_t *msgs, const json_t *max_tokens,
                       bool *cut)
{
    json_t *last = json_array_get(msgs, json_array_size(msgs) - 1);
    json_t *c = json_object_get(last, "content");
    const char *t = json_is_string(c) ? json_string_value(c) : "";
    size_t len = strlen(t) + 6;
    char *s = malloc(len + 1);
    if (s == NULL)
        return NULL;
    snprintf(s, len + 1, "echo: %s", t);
    *cut = false;
    if (json_is_integer(max_tokens) &&
        (size_t)json_integer_value(max_tokens) < len) {
        s[json_integer_value(max_tokens)] = '\0';
        *cut = true;
    }
    return s;
}

static void mock_builtin(mock_http *m, const mock_request *req,
                         mock_reply *out)
{
    json_t *body = json_loads(req->body, 0, NULL);
    char hv[256];
    const char *p = req->path;
    size_t plen = strlen(p);
    bool chat = plen >= 17 && strcmp(p + plen - 17, "/chat/completions") == 0;
    bool anth = plen >= 12 && strcmp(p + plen - 12, "/v1/messages") == 0;
    bool emb = plen >= 11 && strcmp(p + plen - 11, "/embeddings") == 0;
    json_t *model = json_object_get(body, "model");

    memset(out, 0, sizeof *out);
    if (!chat && !anth && !emb) {
        out->status = 404;
        out->body = mock_strdup("{\"error\":\"no such route\"}");
        goto done;
    }
    if (anth) {
        const char *k = mock_header(req, "x-api-key", hv, sizeof hv);
        if (m->opts.anthropic_key != NULL &&
            (k == NULL || strcmp(k, m->opts.anthropic_key) != 0)) {
            out->status = 401;
            out->body = mock_dump(json_pack("{s:s,s:{s:s,s:s}}", "type", "error",
                                       "error", "type",
                                       "authentication_error", "message",
                                       "invalid x-api-key"));
            goto done;
        }
        if (mock_header(req, "anthropic-version", hv, sizeof hv) == NULL) {
            mock_error_reply(out, 400, "invalid_request_error",
                        "anthropic-version: header is required");
            goto done;
        }
    } else if (m->opts.openai_key != NULL) {
        const char *k = mock_header(req, "authorization", hv, sizeof hv);
        if (k == NULL || strncmp(k, "Bearer ", 7) != 0 ||
            strcmp(k + 7, m->opts.openai_key) != 0) {
            mock_error_reply(out, 401, "invalid_request_error",
                        "Incorrect API key provided");
            goto done;
        }
    }
    if (!json_is_object(body) || !json_is_string(model)) {
        mock_error_reply(out, 400, "invalid_request_error",
                    "body must be JSON with a model");
        goto done;
    }
    if (strcmp(json_string_value(model), "missing-model") == 0) {
        mock_error_reply(out, 404, "invalid_request_error",
                    "The model `missing-model` does not exist");
        goto done;
    }

    if (emb) {
        json_t *input = json_object_get(body, "input");
        json_t *data = json_array();
        size_t dim = m->opts.embed_dim != 0 ? m->opts.embed_dim : 8;
        size_t n = json_is_array(input) ? json_array_size(input) : 1;
        size_t total = 0;
        float *v = malloc(dim * sizeof *v);
        for (size_t i = 0; i < n; i++) {
            size_t idx = m->opts.embed_reverse ? n - 1 - i : i;
            json_t *t = json_is_array(input) ? json_array_get(input, idx)
                                             : input;
            json_t *vec = json_array();
            if (!json_is_string(t)) {
                json_decref(vec);
                json_decref(data);
                free(v);
                mock_error_reply(out, 400, "invalid_request_error",
                            "input must be strings");
                goto done;
            }
            total += json_string_length(t);
            mock_embed_vector(json_string_value(t), json_string_length(t),
                              dim, v);
            for (size_t j = 0; j < dim; j++)
                json_array_append_new(vec, json_real(v[j]));
            json_array_append_new(data, json_pack("{s:s,s:I,s:o}", "object",
                                                  "embedding", "index",
                                                  (json_int_t)idx,
                                                  "embedding", vec));
        }
        free(v);
        out->body = mock_dump(json_pack("{s:s,s:o,s:O,s:{s:I,s:I}}", "object",
                                   "list", "data", data, "model", model,
                                   "usage", "prompt_tokens",
                                   (json_int_t)total, "total_tokens",
                                   (json_int_t)total));
        goto done;
    }

    {
        json_t *msgs = json_object_get(body, "messages");
        json_t *mt = json_object_get(body, "max_tokens");
        size_t in_tokens = 0, i;
        json_t *msg;
        bool cut = false;
        char *text;

        if (!json_is_array(msgs) || json_array_size(msgs) == 0) {
            mock_error_reply(out, 400, "invalid_request_error",
                        "messages: at least one message is required");
            goto done;
        }
        if (anth && !json_is_integer(mt)) {
            mock_error_reply(out, 400, "invalid_request_error",
                        "max_tokens: Field required");
            goto done;
        }
        json_array_foreach(msgs, i, msg)
            in_tokens += mock_content_len(json_object_get(msg, "content"));
        if (anth)
            in_tokens += mock_content_len(json_object_get(body, "system"));
        text = mock_echo_text(msgs, mt, &cut);
        if (chat)
            out->body = mock_dump(json_pack(
                "{s:s,s:s,s:O,s:[{s:i,s:{s:s,s:s},s:s}],"
                "s:{s:I,s:I,s:I,s:{s:i}}}",
                "id", "chatcmpl-mock", "object", "chat.completion", "model",
                model, "choices", "index", 0, "message", "role", "assistant",
                "content", text, "finish_reason", cut ? "length" : "stop",
                "usage", "prompt_tokens", (json_int_t)in_tokens,
                "completion_tokens", (json_int_t)strlen(text),
                "total_tokens", (json_int_t)(in_tokens + strlen(text)),
                "prompt_tokens_details", "cached_tokens", 0));
        else
            out->body = mock_dump(json_pack(
                "{s:s,s:s,s:s,s:O,s:[{s:s,s:s}],s:s,s:{s:I,s:I}}", "id",
                "msg_mock", "type", "message", "role", "assistant", "model",
                model, "content", "type", "text", "text", text,
                "stop_reason", cut ? "max_tokens" : "end_turn", "usage",
                "input_tokens", (json_int_t)in_tokens, "output_tokens",
                (json_int_t)strlen(text)));
        free(text);
    }
done:
    json_decref(body);
}

/* ---- Reading requests ---- */

const char *mock_header(const mock_request *r, const char *name, char *buf,
                        size_t cap)
{
    size_t nlen = strlen(name);
    const char *line = r->headers;
    while (line != NULL && *line != '\0') {
        const char *eol = strstr(line, "\r\n");
        size_t llen = eol != NULL ? (size_t)(eol - line) : strlen(line);
        if (llen > nlen && strncasecmp(line, name, nlen) == 0 &&
            line[nlen] == ':') {
            const char *v = line + nlen + 1;
            size_t vlen;
            while (*v == ' ')
                v++;
            vlen = llen - (size_t)(v - line);
            if (vlen >= cap)
                vlen = cap - 1;
            memcpy(buf, v, vlen);
            buf[vlen] = '\0';
            return buf;
        }
        line = eol != NULL ? eol + 2 : NULL;
    }
    return NULL;
}

/* Read more bytes into *buf; 0 on EOF/error/stop. */
static ssize_t mock_read_more(mock_http *m, int fd, char **buf, size_t *len,
                         size_t *cap)
{
    for (;;) {
        struct pollfd p = { fd, POLLIN, 0 };
        int pr = poll(&p, 1, 20);
        ssize_t r;
        if (mock_stopping(m))
            return 0;
        if (pr <= 0)
            continue;
        if (*len + 4096 > *cap) {
            size_t ncap = (*cap + 4096) * 2;
            char *n = realloc(*buf, ncap);
            if (n == NULL)
                return 0;
            *buf = n;
            *cap = ncap;
        }
        r = recv(fd, *buf + *len, *cap - *len - 1, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return 0;
        *len += (size_t)r;
        (*buf)[*len] = '\0';
        return r;
    }
}

static bool mock_take_script(mock_http *m, mock_reply *out)
{
    bool got = false;
    pthread_mutex_lock(&m->lock);
    if (m->script_next < m->nscript) {
        *out = m->script[m->script_next++].r;
        got = true;
    }
    pthread_mutex_unlock(&m->lock);
    return got;
}

static void *mock_conn_main(void *arg)
{
    mock_conn *c = arg;
    mock_http *m = c->m;
    char *buf = NULL;
    size_t len = 0, cap = 0;

    for (;;) {
        char *end;
        size_t head_len, clen = 0;
        mock_request *req;
        mock_reply reply;
        char hv[64];
        bool scripted, keep;
        const char *cl;

        while ((end = buf != NULL ? strstr(buf, "\r\n\r\n") : NULL) == NULL)
            if (mock_read_more(m, c->fd, &buf, &len, &cap) <= 0)
                goto out;
        head_len = (size_t)(end - buf) + 4;
        req = calloc(1, sizeof *req);
        if (req == NULL)
            goto out;
        sscanf(buf, "%15s %255s", req->method, req->path);
        {
            const char *h = strstr(buf, "\r\n");
            size_t hl = head_len - (size_t)(h + 2 - buf);
            req->headers = malloc(hl + 1);
            if (req->headers != NULL) {
                memcpy(req->headers, h + 2, hl);
                req->headers[hl] = '\0';
            }
        }
        cl = mock_header(req, "content-length", hv, sizeof hv);
        if (cl != NULL)
            clen = (size_t)strtoul(cl, NULL, 10);
        if (mock_header(req, "expect", hv, sizeof hv) != NULL)
            mock_send_all(c->fd, "HTTP/1.1 100 Continue\r\n\r\n", 25);
        while (len < head_len + clen)
            if (mock_read_more(m, c->fd, &buf, &len, &cap) <= 0) {
                free(req->headers);
                free(req);
                goto out;
            }
        req->body = malloc(clen + 1);
        if (req->body != NULL) {
            memcpy(req->body, buf + head_len, clen);
            req->body[clen] = '\0';
            req->body_len = clen;
        }
        memmove(buf, buf + head_len + clen, len - head_len - clen);
        len -= head_len + clen;
        buf[len] = '\0';

        pthread_mutex_lock(&m->lock);
        if (m->nreqs == m->capreqs) {
            size_t ncap = m->capreqs * 2 + 8;
            mock_request **n = realloc(m->reqs, ncap * sizeof *n);
            if (n != NULL) {
                m->reqs = n;
                m->capreqs = ncap;
            }
        }
        if (m->nreqs < m->capreqs)
            m->reqs[m->nreqs++] = req;
        pthread_mutex_unlock(&m->lock);

        scripted = mock_take_script(m, &reply);
        if (!scripted) {
            memset(&reply, 0, sizeof reply);
            if (m->opts.handler == NULL ||
                !m->opts.handler(m->opts.handler_ctx, req, &reply))
                mock_builtin(m, req, &reply);
        }
        keep = mock_send_reply(m, c->fd, &reply);
        if (!scripted) {
            free((char *)(uintptr_t)reply.body);
            free((char *)(uintptr_t)reply.headers);
        }
        if (!keep)
            break;
    }
out:
    free(buf);
    shutdown(c->fd, SHUT_RDWR);
    close(c->fd);
    return NULL;
}

static void *mock_accept_main(void *arg)
{
    mock_http *m = arg;
    for (;;) {
        struct pollfd p[2] = { { m->listen_fd, POLLIN, 0 },
                               { m->wake[0], POLLIN, 0 } };
        mock_conn *c;
        int fd;

        if (poll(p, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        if (p[1].revents != 0 || mock_stopping(m))
            break;
        fd = accept(m->listen_fd, NULL, NULL);
        if (fd < 0)
            continue;
        {
            int one = 1; /* no Nagle delay between head and body */
            setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        }
        c = calloc(1, sizeof *c);
        if (c == NULL) {
            close(fd);
            continue;
        }
        c->fd = fd;
        c->m = m;
        pthread_mutex_lock(&m->lock);
        if (m->nconns == m->capconns) {
            size_t ncap = m->capconns * 2 + 8;
            mock_conn **n = realloc(m->conns, ncap * sizeof *n);
            if (n != NULL) {
                m->conns = n;
                m->capconns = ncap;
            }
        }
        if (m->nconns < m->capconns &&
            pthread_create(&c->thread, NULL, mock_conn_main, c) == 0) {
            m->conns[m->nconns++] = c;
            c = NULL;
        }
        pthread_mutex_unlock(&m->lock);
        if (c != NULL) {
            close(fd);
            free(c);
        }
    }
    return NULL;
}

/* ---- Life cycle ---- */

static int mock_listen_loopback(int *port)
{
    struct sockaddr_in a;
    socklen_t alen = sizeof a;
    int one = 1;
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    if (fd < 0)
        return -1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = 0;
    if (bind(fd, (struct sockaddr *)&a, sizeof a) != 0 ||
        listen(fd, 64) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &alen) != 0) {
        close(fd);
        return -1;
    }
    *port = ntohs(a.sin_port);
    return fd;
}

mock_http *mock_http_start(const mock_http_opts *opts)
{
    mock_http *m = calloc(1, sizeof *m);
    int port = 0;

    if (m == NULL)
        return NULL;
    if (opts != NULL)
        m->opts = *opts;
    m->listen_fd = mock_listen_loopback(&port);
    if (m->listen_fd < 0 || pipe(m->wake) != 0) {
        if (m->listen_fd >= 0)
            close(m->listen_fd);
        free(m);
        return NULL;
    }
    snprintf(m->url, sizeof m->url, "http://127.0.0.1:%d", port);
    pthread_mutex_init(&m->lock, NULL);
    if (pthread_create(&m->acceptor, NULL, mock_accept_main, m) != 0) {
        close(m->listen_fd);
        close(m->wake[0]);
        close(m->wake[1]);
        pthread_mutex_destroy(&m->lock);
        free(m);
        return NULL;
    }
    return m;
}

void mock_http_stop(mock_http *m)
{
    if (m == NULL)
        return;
    pthread_mutex_lock(&m->lock);
    m->stop = 1;
    pthread_mutex_unlock(&m->lock);
    if (write(m->wake[1], "x", 1) != 1) {
        /* the acceptor also sees the stop flag on its next wakeup */
    }
    pthread_join(m->acceptor, NULL);
    for (size_t i = 0; i < m->nconns; i++) {
        pthread_join(m->conns[i]->thread, NULL);
        free(m->conns[i]);
    }
    free(m->conns);
    for (size_t i = 0; i < m->nscript; i++) {
        free((char *)(uintptr_t)m->script[i].r.body);
        free((char *)(uintptr_t)m->script[i].r.headers);
    }
    free(m->script);
    for (size_t i = 0; i < m->nreqs; i++) {
        free(m->reqs[i]->headers);
        free(m->reqs[i]->body);
        free(m->reqs[i]);
    }
    free(m->reqs);
    close(m->listen_fd);
    close(m->wake[0]);
    close(m->wake[1]);
    pthread_mutex_destroy(&m->lock);
    free(m);
}

const char *mock_http_url(const mock_http *m)
{
    return m->url;
}

void mock_http_dead_url(char *out, size_t cap)
{
    int port = 0;
    int fd = mock_listen_loopback(&port);
    if (fd >= 0)
        close(fd); /* free again: connecting now is refused */
    snprintf(out, cap, "http://127.0.0.1:%d", port);
}

void mock_http_push(mock_http *m, const mock_reply *r)
{
    pthread_mutex_lock(&m->lock);
    if (m->nscript == m->capscript) {
        size_t ncap = m->capscript * 2 + 8;
        mock_script *n = realloc(m->script, ncap * sizeof *n);
        if (n == NULL) {
            pthread_mutex_unlock(&m->lock);
            return;
        }
        m->script = n;
        m->capscript = ncap;
    }
    m->script[m->nscript].r = *r;
    m->script[m->nscript].r.body = mock_strdup(r->body);
    m->script[m->nscript].r.headers = mock_strdup(r->headers);
    m->nscript++;
    pthread_mutex_unlock(&m->lock);
}

size_t mock_http_count(mock_http *m)
{
    size_t n;
    pthread_mutex_lock(&m->lock);
    n = m->nreqs;
    pthread_mutex_unlock(&m->lock);
    return n;
}

const mock_request *mock_http_request(mock_http *m, size_t i)
{
    const mock_request *r = NULL;
    pthread_mutex_lock(&m->lock);
    if (i < m->nreqs)
        r = m->reqs[i];
    pthread_mutex_unlock(&m->lock);
    return r;
}
