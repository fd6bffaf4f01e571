/* mock_http.h -- a loopback HTTP server that speaks the provider protocols,
 * for tests only.
 *
 * It listens on 127.0.0.1 on an ephemeral port, in its own thread, with one
 * thread per connection (keep-alive supported), and answers:
 *
 *   POST .../chat/completions  OpenAI Chat Completions
 *   POST .../v1/messages       Anthropic Messages
 *   POST .../embeddings        OpenAI embeddings
 *
 * with deterministic replies computed from the request (see "Built-in
 * protocol" below), after checking the API key when one is configured.
 * Scripted replies pushed with mock_http_push are served first, in order,
 * then the test's own handler (if any), then the built-in protocol.
 * one per request: any status, body and headers, a reply that hangs (for
 * timeouts), one cut off mid-body, or a connection closed with no reply.
 * Every request is recorded for the test to inspect.
 *
 * Use: tests/CMakeLists compiles each test_*.c with harness.c only, so a
 * test program that needs the server includes the implementation directly:
 *
 *     #include "mock_http.c"
 *
 * It needs pthreads and jansson, both linked into every test program.
 */
#ifndef AM_TEST_MOCK_HTTP_H
#define AM_TEST_MOCK_HTTP_H

#include <stdbool.h>
#include <stddef.h>

typedef struct mock_http mock_http;
typedef struct mock_reply mock_reply;
typedef struct mock_request mock_request;

/* A test's own responder: fill `out` and return true, or return false to
 * let the built-in protocol answer. out->body and out->headers must be
 * malloc'd (or NULL); the server frees them. Called from connection
 * threads, so it must be thread-safe if requests can overlap. */
typedef bool (*mock_handler)(void *ctx, const mock_request *req,
                             mock_reply *out);

typedef struct mock_http_opts {
    const char *openai_key;    /* expected "Bearer <key>"; NULL: no check */
    const char *anthropic_key; /* expected x-api-key; NULL: no check */
    size_t embed_dim;          /* 0: 8 */
    bool embed_reverse;        /* list embedding data in reverse order */
    mock_handler handler;      /* NULL: built-in protocol only */
    void *handler_ctx;
} mock_http_opts;

struct mock_reply {
    int status;          /* 0: 200 */
    const char *body;    /* copied; NULL: empty */
    const char *headers; /* extra lines, each ending in "\r\n"; copied */
    int hang_ms;         /* > 0: wait this long (or until the client goes
                            away) before answering */
    int truncate_at;     /* > 0: announce the whole body, send only this
                            many bytes of it, then close */
    bool close_now;      /* close the connection without any reply */
};

struct mock_request {
    char method[16];
    char path[256];
    char *headers;       /* raw header lines, NUL-terminated */
    char *body;          /* NUL-terminated */
    size_t body_len;
};

/* Start the server (NULL opts: no key checks, dim 8). NULL on failure. */
mock_http *mock_http_start(const mock_http_opts *opts);
/* Stop it: closes every connection, joins every thread, frees all. */
void mock_http_stop(mock_http *m);
/* "http://127.0.0.1:PORT" (owned by m). */
const char *mock_http_url(const mock_http *m);
/* A URL on which nothing listens (a port that was just free). */
void mock_http_dead_url(char *out, size_t cap);
/* Queue a scripted reply for the next request without one. */
void mock_http_push(mock_http *m, const mock_reply *r);
/* Requests received so far. */
size_t mock_http_count(mock_http *m);
/* The i-th request (0-based; owned by m, valid until stop), or NULL. */
const mock_request *mock_http_request(mock_http *m, size_t i);
/* Value of header `name` (case-insensitive) copied into buf, or NULL. */
const char *mock_header(const mock_request *r, const char *name, char *buf,
                        size_t cap);

/* The vector the built-in embeddings protocol returns for a text. */
void mock_embed_vector(const char *text, size_t len, size_t dim, float *out);

/* ---- Built-in protocol ----
 * chat/completions: reply content "echo: <last message's content>",
 *   cut to max_tokens characters (finish_reason "length") when max_tokens
 *   is given and shorter, else finish_reason "stop"; usage prompt_tokens =
 *   total length of all message contents, completion_tokens = reply length.
 *   Model "missing-model": 404 with OpenAI's error body. Bad key: 401.
 * v1/messages: the same text as one text block; requires the
 *   anthropic-version header and max_tokens (else 400); usage
 *   input_tokens = total length of system + message contents.
 * embeddings: one mock_embed_vector per input (a string or an array),
 *   usage prompt_tokens = total input length.
 */

#endif
