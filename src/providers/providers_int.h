/* providers_int.h -- internals shared by the providers module (not
 * installed). The HTTP layer (http.c) does one JSON POST with retries and
 * maps failures to am_status; llm.c and embed_openai.c build bodies and read
 * replies. The body builders and reply parsers are exposed here so that the
 * tests can drive them directly (OOM sweeps, malformed replies).
 */
#ifndef AM_PROVIDERS_INT_H
#define AM_PROVIDERS_INT_H

#include <pthread.h>

#include "agentmem/providers.h"
#include "core/core.h"

/* ---- HTTP client with retries (http.c) ---- */

typedef struct am__http {
    const am_allocator *alloc;
    am_http_opts opts;       /* user_agent points into `user_agent` */
    char *user_agent;        /* owned, NUL-terminated */
    size_t user_agent_len;
    char **headers;          /* owned copies of opts.headers */
    size_t header_count;     /* copied so far */
    size_t header_alloc;     /* length of the headers array */
    /* Idle curl easy handles. A call takes one (or makes a new one) and
     * gives it back, so connections stay alive between calls while no
     * easy handle is ever used by two threads at once. */
    pthread_mutex_t pool_lock;
    void *pool[4];
    size_t pool_count;
} am__http;

/* Check and copy `o` (NULL: defaults). Runs curl_global_init once. */
am_status am__http_init(am__http *h, const am_http_opts *o,
                        const am_allocator *alloc, am_error *err);
void am__http_destroy(am__http *h);

typedef struct am__http_call {
    const char *provider;       /* "openai", "anthropic", for messages */
    const char *url;            /* full URL */
    const char *const *headers; /* extra "Name: value" lines */
    size_t header_count;
    am_str body;                /* JSON request body */
    const char *model;          /* for the 404 message */
    const char *key_source;     /* "$OPENAI_API_KEY", "the api_key option" */
    bool key_missing;           /* no key was sent */
    /* NULL, or polled during each transfer (libcurl's progress callback)
     * and before each attempt: true aborts with AM_ECANCELED. */
    bool (*stop)(void *ctx);
    void *stop_ctx;
} am__http_call;

typedef struct am__http_outcome {
    int http_status;            /* last attempt; 0 if none */
    int attempts;
} am__http_outcome;

/* POST call->body to call->url, retrying 408/429/5xx and transport errors
 * as h->opts says. On a 2xx reply returns AM_OK with the body in `reply`
 * (replaced). Otherwise the mapped status with a message in `err`. */
am_status am__http_post(am__http *h, const am__http_call *call,
                        am_buf *reply, am__http_outcome *outcome,
                        am_error *err);

/* Map a final non-2xx HTTP reply to a status and message (no retries). */
am_status am__http_status_error(const am__http_call *call, int status,
                                am_str body, int attempts, am_error *err);

/* Write a printable excerpt of `s` (at most `max` bytes of it, control
 * characters escaped, "..." when cut) into out[cap]. */
void am__excerpt(am_str s, size_t max, char *out, size_t cap);

/* The delay before retry number `retry` (1-based) without Retry-After:
 * min(max, base * 2^(retry-1)), then jitter to [delay/2, delay]. */
int64_t am__backoff_ms(const am_http_opts *o, int retry);

/* Parse a Retry-After value: delta seconds (may be fractional) or an
 * HTTP-date relative to `now_s`. -1 if unparsable. */
int64_t am__retry_after_ms(const char *value, int64_t now_s);

/* Join base and path without doubling the '/': new string (alloc, free
 * with am__free(alloc, p, strlen(p) + 1)). NULL on OOM. */
char *am__url_join(const am_allocator *a, const char *base,
                   const char *path);

/* Whether `s` holds a control character (below 0x20, or DEL): what the
 * clients refuse in anything that goes into a header or a URL. */
bool am__has_ctl(const char *s);
/* Whether `u` can be a base URL: http:// or https://, then no control
 * character and no space. */
bool am__base_url_ok(const char *u);

/* The API key a client sends: `option` when not NULL, else $env_name
 * (env_name "" reads nothing). An empty key counts as none: *key NULL.
 * `source` (cap bytes) gets where the key came from, for messages ("the
 * api_key option", "$OPENAI_API_KEY"). A key holding any control
 * character (it would break the header line) is AM_EINVAL, the message
 * starting with `who` and naming the source but never the key. */
am_status am__api_key(const char *option, const char *env_name,
                      const char *who, char *source, size_t cap,
                      const char **key, am_error *err);

/* ---- Chat bodies and replies (llm.c) ---- */

typedef struct am__llm_params {
    am_llm_kind kind;
    const char *model;
    double temperature;   /* < 0: not sent */
    int64_t max_tokens;   /* <= 0: not sent (OpenAI) / 1024 (Anthropic) */
    bool max_completion_tokens; /* OpenAI: name of the cap field */
} am__llm_params;

am_status am__llm_build_body(const am__llm_params *p,
                             const am_llm_request *req, am_buf *out,
                             am_error *err);
/* Read a 2xx reply body. `text` replaced; res fields filled. */
am_status am__llm_parse_reply(am_llm_kind kind, am_str body, am_buf *text,
                              am_llm_result *res, am_error *err);

/* ---- Embeddings bodies and replies (embed_openai.c) ---- */

am_status am__embed_build_body(const char *model, size_t dim_to_send,
                               const am_str *texts, size_t count,
                               am_buf *out, am_error *err);
/* Parse a reply for `count` inputs into out[count * *dim]. *dim == 0:
 * learn it from the first vector (out must then be NULL and only the
 * dimension is returned). Scratch memory comes from `a` (NULL: default),
 * the embedder's allocator. */
am_status am__embed_parse_reply(const am_allocator *a, am_str body,
                                size_t count, size_t *dim, float *out,
                                am_error *err);

#endif
