/* http.c -- one JSON POST over libcurl, with retries and error mapping.
 *
 * Both provider clients come through am__http_post. It makes the request,
 * and on 408, 429, 5xx or a transport failure (refused, reset, timeout,
 * connection closed mid-reply) waits and tries again, up to max_retries
 * more times. The wait is the server's Retry-After (or OpenAI's
 * retry-after-ms) when it gives one and it is not absurd, else exponential
 * backoff with jitter. The sleep is injectable, so tests never wait.
 *
 * A call borrows a curl easy handle from a small pool in the am__http and
 * returns it afterwards: an easy handle keeps its connections alive, so
 * consecutive calls reuse one TCP/TLS connection, and because a handle is
 * only ever in one thread's hands, calls from many threads are safe with no
 * lock held during I/O.
 *
 * libcurl wants curl_global_init before any thread uses it. agentmem has no
 * library init call by design (no hidden global state for the user to
 * manage), so the first client created runs it, once, under pthread_once.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>

#include "agentmem/version.h"
#include "core/json_glue.h"
#include "providers_int.h"

/* ---- Process-wide libcurl initialization ---- */

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_code = CURLE_OK;

static void curl_init_once(void)
{
    curl_init_code = curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* ---- Options ---- */

am_http_opts am_http_opts_default(void)
{
    am_http_opts o;
    memset(&o, 0, sizeof o);
    o.connect_timeout_ms = 10000;
    o.timeout_ms = 120000;
    o.max_retries = 3;
    o.backoff_base_ms = 500;
    o.backoff_max_ms = 20000;
    o.retry_after_max_ms = 60000;
    o.max_response_bytes = (size_t)64 << 20;
    return o;
}

static void sleep_real(void *ctx, int64_t ms)
{
    struct timespec ts;
    (void)ctx;
    if (ms <= 0)
        return;
    ts.tv_sec = (time_t)(ms / 1000);
    ts.tv_nsec = (long)(ms % 1000) * 1000000L;
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

static void free_headers(const am_allocator *alloc, am__http *h)
{
    for (size_t i = 0; i < h->header_count; i++)
        am__free(alloc, h->headers[i], strlen(h->headers[i]) + 1);
    if (h->headers != NULL)
        am__free(alloc, h->headers, h->header_alloc * sizeof(char *));
    h->headers = NULL;
    h->header_alloc = 0;
    h->header_count = 0;
}

am_status am__http_init(am__http *h, const am_http_opts *o,
                        const am_allocator *alloc, am_error *err)
{
    am_http_opts opts = o != NULL ? *o : am_http_opts_default();
    char ua[64];
    const char *ua_src;

    memset(h, 0, sizeof *h);
    if (opts.connect_timeout_ms < 0 || opts.timeout_ms < 0)
        return am__fail(err, AM_EINVAL, "http: timeouts must be >= 0 "
                        "(connect_timeout_ms %lld, timeout_ms %lld)",
                        (long long)opts.connect_timeout_ms,
                        (long long)opts.timeout_ms);
    if (opts.max_retries < 0 || opts.max_retries > 100)
        return am__fail(err, AM_EINVAL, "http: max_retries must be 0..100, "
                        "not %d", opts.max_retries);
    if (opts.backoff_base_ms < 0 || opts.backoff_max_ms < 0 ||
        opts.retry_after_max_ms < 0 || opts.deadline_ms < 0)
        return am__fail(err, AM_EINVAL, "http: backoff, retry-after and "
                        "deadline limits must be >= 0");
    if (opts.max_response_bytes == 0)
        opts.max_response_bytes = am_http_opts_default().max_response_bytes;
    if (opts.sleep == NULL) {
        opts.sleep = sleep_real;
        opts.sleep_ctx = NULL;
    }

    for (size_t i = 0; i < opts.header_count; i++) {
        const char *line = opts.headers != NULL ? opts.headers[i] : NULL;
        if (line == NULL || strpbrk(line, "\r\n") != NULL ||
            strchr(line, ':') == NULL || line[0] == ':')
            return am__fail(err, AM_EINVAL, "http: headers[%zu] must be one "
                            "\"Name: value\" line", i);
    }

    pthread_once(&curl_once, curl_init_once);
    if (curl_init_code != CURLE_OK)
        return am__fail(err, AM_ENET, "http: curl_global_init failed: %s",
                        curl_easy_strerror(curl_init_code));

    snprintf(ua, sizeof ua, "agentmem/%s", am_version());
    ua_src = opts.user_agent != NULL ? opts.user_agent : ua;
    h->user_agent_len = strlen(ua_src);
    h->user_agent = am__strndup(alloc, ua_src, h->user_agent_len);
    if (h->user_agent == NULL)
        return am__fail(err, AM_ENOMEM, "http: out of memory");
    if (opts.header_count > 0) {
        h->headers = am__calloc(alloc, opts.header_count, sizeof(char *));
        if (h->headers == NULL)
            goto fail_oom;
        h->header_alloc = opts.header_count;
        for (; h->header_count < opts.header_count; h->header_count++) {
            const char *line = opts.headers[h->header_count];
            h->headers[h->header_count] = am__strndup(alloc, line,
                                                      strlen(line));
            if (h->headers[h->header_count] == NULL)
                goto fail_oom;
        }
    }
    if (pthread_mutex_init(&h->pool_lock, NULL) != 0)
        goto fail_oom;
    h->alloc = alloc;
    opts.user_agent = h->user_agent;
    opts.headers = NULL; /* the copies in h->headers are used */
    opts.header_count = 0;
    h->opts = opts;
    return AM_OK;

fail_oom:
    free_headers(alloc, h);
    am__free(alloc, h->user_agent, h->user_agent_len + 1);
    h->user_agent = NULL;
    return am__fail(err, AM_ENOMEM, "http: out of memory");
}

void am__http_destroy(am__http *h)
{
    if (h == NULL || h->user_agent == NULL)
        return;
    for (size_t i = 0; i < h->pool_count; i++)
        curl_easy_cleanup(h->pool[i]);
    h->pool_count = 0;
    pthread_mutex_destroy(&h->pool_lock);
    free_headers(h->alloc, h);
    am__free(h->alloc, h->user_agent, h->user_agent_len + 1);
    h->user_agent = NULL;
}

static CURL *pool_take(am__http *h)
{
    CURL *c = NULL;
    pthread_mutex_lock(&h->pool_lock);
    if (h->pool_count > 0)
        c = h->pool[--h->pool_count];
    pthread_mutex_unlock(&h->pool_lock);
    if (c == NULL)
        return curl_easy_init();
    curl_easy_reset(c); /* options go, live connections stay */
    return c;
}

static void pool_give(am__http *h, CURL *c)
{
    size_t cap = sizeof h->pool / sizeof h->pool[0];
    pthread_mutex_lock(&h->pool_lock);
    if (h->pool_count < cap) {
        h->pool[h->pool_count++] = c;
        c = NULL;
    }
    pthread_mutex_unlock(&h->pool_lock);
    if (c != NULL)
        curl_easy_cleanup(c);
}

/* ---- Small helpers ---- */

void am__excerpt(am_str s, size_t max, char *out, size_t cap)
{
    size_t n = s.len < max ? s.len : max;
    size_t o = 0;

    if (cap == 0)
        return;
    n = am__utf8_floor(s.ptr, n);
    for (size_t i = 0; i < n && o + 5 < cap; i++) {
        unsigned char c = (unsigned char)s.ptr[i];
        if (c == '\n' || c == '\r' || c == '\t') {
            out[o++] = ' ';
        } else if (c < 0x20 || c == 0x7f) {
            o += (size_t)snprintf(out + o, cap - o, "\\x%02x", c);
        } else {
            out[o++] = (char)c;
        }
    }
    if (n < s.len && o + 4 <= cap) {
        memcpy(out + o, "...", 3);
        o += 3;
    }
    out[o < cap ? o : cap - 1] = '\0';
}

int64_t am__backoff_ms(const am_http_opts *o, int retry)
{
    int64_t delay = o->backoff_base_ms;
    int64_t half;

    for (int i = 1; i < retry && delay < o->backoff_max_ms; i++)
        delay *= 2;
    if (delay > o->backoff_max_ms)
        delay = o->backoff_max_ms;
    /* "Equal jitter": at least half the delay, so retries never stampede
     * back at once, and never more than the delay. */
    half = delay / 2;
    return half + (int64_t)(am_rng_next(o->rng) %
                            (uint64_t)(delay - half + 1));
}

int64_t am__retry_after_ms(const char *value, int64_t now_s)
{
    char *end;
    double secs;
    time_t when;

    while (*value == ' ' || *value == '\t')
        value++;
    if (*value >= '0' && *value <= '9') {
        errno = 0;
        secs = strtod(value, &end);
        while (*end == ' ' || *end == '\t' || *end == '\r' || *end == '\n')
            end++;
        if (errno != 0 || *end != '\0' || secs < 0 || secs > 1e9)
            return -1;
        return (int64_t)(secs * 1000.0 + 0.5);
    }
    when = curl_getdate(value, NULL);
    if (when == (time_t)-1)
        return -1;
    return when > now_s ? ((int64_t)when - now_s) * 1000 : 0;
}

bool am__has_ctl(const char *s)
{
    for (; *s != '\0'; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return true;
    return false;
}

bool am__base_url_ok(const char *u)
{
    return (strncmp(u, "http://", 7) == 0 || strncmp(u, "https://", 8) == 0)
           && !am__has_ctl(u) && strchr(u, ' ') == NULL;
}

am_status am__api_key(const char *option, const char *env_name,
                      const char *who, char *source, size_t cap,
                      const char **key, am_error *err)
{
    const char *k;

    if (option != NULL) {
        k = option;
        snprintf(source, cap, "the api_key option");
    } else {
        k = env_name[0] != '\0' ? getenv(env_name) : NULL;
        snprintf(source, cap, "$%s", env_name);
    }
    if (k != NULL && k[0] == '\0')
        k = NULL; /* an empty variable counts as unset */
    *key = NULL;
    if (k != NULL && am__has_ctl(k))
        return am__fail(err, AM_EINVAL, "%s: the API key from %s contains "
                        "control characters", who, source);
    *key = k;
    return AM_OK;
}

char *am__url_join(const am_allocator *a, const char *base, const char *path)
{
    size_t blen = strlen(base), plen = strlen(path);
    char *s;

    while (blen > 0 && base[blen - 1] == '/')
        blen--;
    while (plen > 0 && *path == '/') {
        path++;
        plen--;
    }
    s = am__alloc(a, blen + 1 + plen + 1);
    if (s == NULL)
        return NULL;
    memcpy(s, base, blen);
    s[blen] = '/';
    memcpy(s + blen + 1, path, plen);
    s[blen + 1 + plen] = '\0';
    return s;
}

/* ---- Error mapping ---- */

/* The provider's own explanation in an error body: {"error": {"message"}}
 * (OpenAI, Anthropic, vLLM), {"error": "text"} (Ollama, llama.cpp), or
 * {"message": ...}; else an excerpt of the raw body. */
static void provider_message(am_str body, char *out, size_t cap)
{
    json_t *root = NULL;
    const char *msg = NULL;
    size_t len = 0;

    out[0] = '\0';
    if (body.len == 0)
        return;
    root = json_loadb(body.ptr, body.len, 0, NULL);
    if (root != NULL) {
        json_t *e = json_object_get(root, "error");
        json_t *m = NULL;
        if (json_is_object(e))
            m = json_object_get(e, "message");
        else if (json_is_string(e))
            m = e;
        if (m == NULL)
            m = json_object_get(root, "message");
        if (m == NULL)
            m = json_object_get(root, "detail");
        if (json_is_string(m)) {
            msg = json_string_value(m);
            len = json_string_length(m);
        }
    }
    if (msg != NULL)
        am__excerpt((am_str){ msg, len }, 160, out, cap);
    else
        am__excerpt(body, 120, out, cap);
    json_decref(root);
}

static bool is_context_refusal(const char *msg)
{
    return (strstr(msg, "context") != NULL &&
            (strstr(msg, "length") != NULL || strstr(msg, "window") != NULL ||
             strstr(msg, "too long") != NULL)) ||
           strstr(msg, "prompt is too long") != NULL ||
           strstr(msg, "maximum context") != NULL;
}

am_status am__http_status_error(const am__http_call *call, int status,
                                am_str body, int attempts, am_error *err)
{
    char pmsg[200];
    char tries[48] = "";

    provider_message(body, pmsg, sizeof pmsg);
    if (attempts > 1)
        snprintf(tries, sizeof tries, " after %d attempts", attempts);

    if (status == 401 || status == 403) {
        if (call->key_missing)
            return am__fail(err, AM_EAUTH, "%s: HTTP %d: no API key was "
                            "sent (%s is not set): %s", call->provider,
                            status, call->key_source, pmsg);
        return am__fail(err, AM_EAUTH, "%s: HTTP %d: the API key from %s "
                        "was refused: %s", call->provider, status,
                        call->key_source, pmsg);
    }
    if (status == 404)
        return am__fail(err, AM_ENOTFOUND, "%s: HTTP 404 from %s: model "
                        "'%s' not found or wrong base URL: %s",
                        call->provider, call->url, call->model, pmsg);
    if (status == 429)
        return am__fail(err, AM_ELIMIT, "%s: HTTP 429 rate limited%s: %s",
                        call->provider, tries, pmsg);
    if (status == 413 || ((status == 400 || status == 422) &&
                          is_context_refusal(pmsg)))
        return am__fail(err, AM_ELIMIT, "%s: HTTP %d: request too large "
                        "for the model: %s", call->provider, status, pmsg);
    if (status == 400 || status == 422)
        return am__fail(err, AM_EINVAL, "%s: HTTP %d: the provider "
                        "rejected the request: %s", call->provider, status,
                        pmsg);
    if (status >= 500 || status == 408)
        return am__fail(err, AM_ENET, "%s: HTTP %d server error%s: %s",
                        call->provider, status, tries, pmsg);
    return am__fail(err, AM_EPROTO, "%s: unexpected HTTP %d from %s: %s",
                    call->provider, status, call->url, pmsg);
}

static bool status_retryable(long status)
{
    return status == 408 || status == 429 || status >= 500;
}

/* A 429 that no wait will cure: OpenAI's "insufficient_quota" (billing),
 * as opposed to a rate limit. */
static bool quota_exhausted(long status, const am_buf *body)
{
    static const char word[] = "insufficient_quota";
    size_t n = sizeof word - 1;

    if (status != 429)
        return false;
    for (size_t i = 0; i + n <= body->len; i++)
        if (memcmp(body->ptr + i, word, n) == 0)
            return true;
    return false;
}

static bool curl_retryable(CURLcode rc)
{
    switch (rc) {
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
        return true;
    default:
        return false;
    }
}

/* ---- One attempt ---- */

static am_status cancelled(const am__http_call *call, int attempts,
                           am_error *err)
{
    if (attempts == 0)
        return am__fail(err, AM_ECANCELED, "%s: call to %s cancelled before "
                        "it was sent", call->provider, call->url);
    return am__fail(err, AM_ECANCELED, "%s: call to %s cancelled (attempt "
                    "%d)", call->provider, call->url, attempts);
}

/* The wait before a retry: up to backoff_max_ms, or a server's
 * retry-after of up to retry_after_max_ms (a minute by default). With a
 * stop hook it is cut into slices of at most STOP_POLL_MS and the hook is
 * asked before each, so a cancel during the wait is honoured within that
 * time rather than after the whole wait and another attempt. Returns
 * false when the hook said stop; *slept gets the milliseconds waited. */
#define STOP_POLL_MS 50

static bool wait_to_retry(const am__http *h, const am__http_call *call,
                          int64_t ms, int64_t *slept)
{
    *slept = 0;
    if (call->stop == NULL) {
        h->opts.sleep(h->opts.sleep_ctx, ms);
        *slept = ms;
        return true;
    }
    while (*slept < ms) {
        int64_t slice = ms - *slept < STOP_POLL_MS ? ms - *slept
                                                   : STOP_POLL_MS;
        if (call->stop(call->stop_ctx))
            return false;
        h->opts.sleep(h->opts.sleep_ctx, slice);
        *slept += slice;
    }
    return true;
}

typedef struct attempt {
    am__http *h;
    am_buf *body;
    bool too_large;
    bool oom;
    int64_t retry_after_ms; /* -1: none */
    int should_retry;       /* x-should-retry: -1 absent, 0 false, 1 true */
    const am__http_call *call; /* for its stop hook */
} attempt;

/* libcurl's progress callback: a non-zero return aborts the transfer with
 * CURLE_ABORTED_BY_CALLBACK. It runs at least about once a second even
 * while nothing arrives, which bounds how long a cancel waits. */
static int on_progress(void *ud, curl_off_t dltotal, curl_off_t dlnow,
                       curl_off_t ultotal, curl_off_t ulnow)
{
    const attempt *a = ud;
    (void)dltotal, (void)dlnow, (void)ultotal, (void)ulnow;
    return a->call->stop(a->call->stop_ctx) ? 1 : 0;
}

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *ud)
{
    attempt *a = ud;
    size_t n = size * nmemb;

    if (a->body->len + n > a->h->opts.max_response_bytes) {
        a->too_large = true;
        return 0;
    }
    if (am_buf_append(a->body, ptr, n) != AM_OK) {
        a->oom = true;
        return 0;
    }
    return n;
}

static bool header_is(const char *line, size_t len, const char *name,
                      const char **value)
{
    size_t nlen = strlen(name);
    if (len <= nlen || strncasecmp(line, name, nlen) != 0 ||
        line[nlen] != ':')
        return false;
    *value = line + nlen + 1;
    return true;
}

static size_t on_header(char *ptr, size_t size, size_t nmemb, void *ud)
{
    attempt *a = ud;
    size_t n = size * nmemb;
    const char *v;
    char val[96];
    size_t vlen;
    int64_t ms = -1;
    bool is_ms = false;

    if (header_is(ptr, n, "x-should-retry", &v)) {
        /* OpenAI and Anthropic tell their own SDKs whether to retry. */
        while (*v == ' ')
            v++;
        if (strncasecmp(v, "true", 4) == 0)
            a->should_retry = 1;
        else if (strncasecmp(v, "false", 5) == 0)
            a->should_retry = 0;
        return n;
    }
    if (header_is(ptr, n, "retry-after-ms", &v))
        is_ms = true;
    else if (!header_is(ptr, n, "retry-after", &v))
        return n;
    vlen = n - (size_t)(v - ptr);
    if (vlen >= sizeof val)
        return n;
    memcpy(val, v, vlen);
    while (vlen > 0 && (val[vlen - 1] == '\r' || val[vlen - 1] == '\n' ||
                        val[vlen - 1] == ' ' || val[vlen - 1] == '\t'))
        vlen--;
    val[vlen] = '\0';
    if (is_ms) {
        int64_t s = am__retry_after_ms(val, 0);
        ms = s >= 0 ? (s + 500) / 1000 : -1; /* parsed as "seconds" */
        if (ms >= 0)
            a->retry_after_ms = ms; /* the precise one wins */
    } else if (a->retry_after_ms < 0) {
        a->retry_after_ms = am__retry_after_ms(val, (int64_t)time(NULL));
    }
    return n;
}

static am_status transport_error(const am__http_call *call, CURLcode rc,
                                 const char *errbuf, const attempt *a,
                                 int attempts, am_error *err)
{
    const char *detail = errbuf[0] != '\0' ? errbuf : curl_easy_strerror(rc);
    char tries[48] = "";

    if (attempts > 1)
        snprintf(tries, sizeof tries, " after %d attempts", attempts);
    if (a->too_large)
        return am__fail(err, AM_ELIMIT, "%s: reply from %s is larger than "
                        "max_response_bytes (%zu)", call->provider,
                        call->url, a->h->opts.max_response_bytes);
    if (rc == CURLE_ABORTED_BY_CALLBACK)
        return cancelled(call, attempts, err);
    if (a->oom || rc == CURLE_OUT_OF_MEMORY)
        return am__fail(err, AM_ENOMEM, "%s: out of memory reading the "
                        "reply", call->provider);
    if (rc == CURLE_OPERATION_TIMEDOUT)
        return am__fail(err, AM_ETIMEOUT, "%s: %s timed out%s: %s",
                        call->provider, call->url, tries, detail);
    if (rc == CURLE_URL_MALFORMAT || rc == CURLE_UNSUPPORTED_PROTOCOL)
        return am__fail(err, AM_EINVAL, "%s: bad URL '%s': %s",
                        call->provider, call->url, detail);
    return am__fail(err, AM_ENET, "%s: cannot talk to %s%s: %s",
                    call->provider, call->url, tries, detail);
}

/* ---- A call, in steps: headers, attempts, retry decision ---- */

/* The request's header list: ours, the call's, then the client's. */
static am_status build_headers(const am__http *h, const am__http_call *call,
                               struct curl_slist **out, am_error *err)
{
    static const char *const base_headers[] = {
        "Content-Type: application/json", "Accept: application/json",
        "Expect:" /* no 100-continue round trip on large bodies */
    };
    struct curl_slist *hdrs = NULL, *tmp;

    for (size_t i = 0; i < 3 + call->header_count + h->header_count; i++) {
        const char *line =
            i < 3 ? base_headers[i]
            : i < 3 + call->header_count ? call->headers[i - 3]
                                         : h->headers[i - 3 -
                                                      call->header_count];
        tmp = curl_slist_append(hdrs, line);
        if (tmp == NULL) {
            curl_slist_free_all(hdrs);
            return am__fail(err, AM_ENOMEM, "%s: out of memory",
                            call->provider);
        }
        hdrs = tmp;
    }
    *out = hdrs;
    return AM_OK;
}

/* The time limit of the next attempt: timeout_ms, but the last attempt
 * gets only what is left of the deadline. */
static long attempt_timeout_ms(const am__http *h, int64_t spent_ms)
{
    long timeout = (long)h->opts.timeout_ms;
    if (h->opts.deadline_ms > 0) {
        int64_t left = h->opts.deadline_ms - spent_ms;
        if (left < 1)
            left = 1;
        if (timeout == 0 || left < timeout)
            timeout = (long)left;
    }
    return timeout;
}

/* Set every option of one attempt on the (pooled, reused) handle. */
static void setup_attempt(CURL *c, const am__http *h,
                          const am__http_call *call, struct curl_slist *hdrs,
                          attempt *a, char *errbuf, long timeout_ms)
{
    curl_easy_setopt(c, CURLOPT_URL, call->url);
    curl_easy_setopt(c, CURLOPT_POST, 1L);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, call->body.ptr);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE,
                     (curl_off_t)call->body.len);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(c, CURLOPT_USERAGENT, h->user_agent);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L); /* threads: no alarm */
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
                     (long)h->opts.connect_timeout_ms);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, a);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, a);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, "");
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
    /* Pooled handles are reused: set the progress hook either way. */
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, call->stop == NULL ? 1L : 0L);
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION,
                     call->stop == NULL ? NULL : on_progress);
    curl_easy_setopt(c, CURLOPT_XFERINFODATA, a);
}

/* The error of a failed attempt that is not retried (the retries are
 * spent, or waiting would pass the deadline, which the message then
 * says). */
static am_status last_attempt_error(const am__http *h,
                                    const am__http_call *call, CURLcode rc,
                                    long status, const char *errbuf,
                                    const attempt *a, int attempts,
                                    const am_buf *reply, am_error *err)
{
    am_status st = rc != CURLE_OK
                       ? transport_error(call, rc, errbuf, a, attempts, err)
                       : am__http_status_error(call, (int)status,
                                               am_buf_str(reply), attempts,
                                               err);
    if (attempts <= h->opts.max_retries && err != NULL) {
        char first[sizeof err->msg];
        memcpy(first, err->msg, sizeof first);
        am__fail(err, st, "%s (no retry: the %lld ms deadline would pass)",
                 first, (long long)h->opts.deadline_ms);
    }
    return st;
}

am_status am__http_post(am__http *h, const am__http_call *call,
                        am_buf *reply, am__http_outcome *outcome,
                        am_error *err)
{
    am_status st;
    struct curl_slist *hdrs = NULL;
    CURL *c = NULL;
    char errbuf[CURL_ERROR_SIZE];
    int attempts = 0;
    long status = 0;
    int64_t spent_ms = 0; /* attempts plus requested waits */
    int64_t slept = 0;    /* of the current wait to retry */

    outcome->http_status = 0;
    outcome->attempts = 0;
    am_buf_clear(reply);
    st = build_headers(h, call, &hdrs, err);
    if (st != AM_OK)
        goto out;
    c = pool_take(h);
    if (c == NULL) {
        st = am__fail(err, AM_ENOMEM, "%s: cannot create a curl handle",
                      call->provider);
        goto out;
    }

    for (;;) {
        attempt a = { h, reply, false, false, -1, -1, call };
        CURLcode rc;
        int64_t delay;
        int64_t t_attempt = am__mono_ns();
        long timeout_ms = attempt_timeout_ms(h, spent_ms);

        if (call->stop != NULL && call->stop(call->stop_ctx)) {
            st = cancelled(call, attempts, err);
            break;
        }
        attempts++;
        am_buf_clear(reply);
        errbuf[0] = '\0';
        status = 0;
        setup_attempt(c, h, call, hdrs, &a, errbuf, timeout_ms);
        rc = curl_easy_perform(c);
        if (rc == CURLE_OK)
            curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
        outcome->http_status = (int)status;
        outcome->attempts = attempts;

        if (rc == CURLE_OK && status >= 200 && status < 300) {
            st = AM_OK;
            break;
        }
        if (rc != CURLE_OK && !curl_retryable(rc)) {
            st = transport_error(call, rc, errbuf, &a, attempts, err);
            break;
        }
        if (rc == CURLE_OK &&
            !(a.should_retry >= 0 ? a.should_retry == 1
                                  : status_retryable(status) &&
                                        !quota_exhausted(status, reply))) {
            st = am__http_status_error(call, (int)status, am_buf_str(reply),
                                       attempts, err);
            break;
        }
        spent_ms += (am__mono_ns() - t_attempt) / 1000000;
        delay = a.retry_after_ms;
        if (delay < 0 || delay > h->opts.retry_after_max_ms)
            delay = am__backoff_ms(&h->opts, attempts);
        if (attempts > h->opts.max_retries ||
            (h->opts.deadline_ms > 0 &&
             spent_ms + delay >= h->opts.deadline_ms)) {
            st = last_attempt_error(h, call, rc, status, errbuf, &a,
                                    attempts, reply, err);
            break;
        }
        /* Waits are counted as requested, so that an injected sleep
         * that returns at once still uses up the deadline. */
        if (!wait_to_retry(h, call, delay, &slept)) {
            st = am__fail(err, AM_ECANCELED, "%s: call to %s cancelled "
                          "while waiting %lld ms to retry (attempt %d "
                          "failed, %lld ms waited)", call->provider,
                          call->url, (long long)delay, attempts,
                          (long long)slept);
            break;
        }
        spent_ms += delay;
    }

out:
    if (c != NULL) {
        /* The error buffer lives on this stack frame. */
        curl_easy_setopt(c, CURLOPT_ERRORBUFFER, NULL);
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
        pool_give(h, c);
    }
    curl_slist_free_all(hdrs);
    if (st != AM_OK)
        am_buf_clear(reply);
    else if (am_buf_reserve(reply, 0) == AM_OK)
        reply->ptr[reply->len] = '\0';
    else
        st = am__fail(err, AM_ENOMEM, "%s: out of memory", call->provider);
    return st;
}
