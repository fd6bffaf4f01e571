/* providers_fixture.h -- what the provider tests share: the loopback
 * server (mock_http.c, compiled into each test program), a recording sleep
 * so that retries never sleep, and a chat client on the server.
 */
#ifndef AM_PROVIDERS_FIXTURE_H
#define AM_PROVIDERS_FIXTURE_H

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "harness.h"
#include "jansson_fail.h"
#include "mock_http.c"

#include "agentmem/providers.h"
#include "providers/providers_int.h"

/* ---- Fixtures ---- */

typedef struct sleeps {
    int64_t ms[16];
    int count;
} sleeps;

static inline void record_sleep(void *ctx, int64_t ms)
{
    sleeps *s = ctx;
    if (s->count < 16)
        s->ms[s->count] = ms;
    s->count++;
}

static inline char *url_with(const mock_http *m, const char *suffix)
{
    static char buf[128];
    snprintf(buf, sizeof buf, "%s%s", mock_http_url(m), suffix);
    return buf;
}

/* A chat client on the mock with the key `key` (NULL: from the variable
 * `key_env`, NULL: the provider's own) and a recording sleep (`sl` NULL:
 * the real one). */
static inline am_llm *new_llm_env(mock_http *m, am_llm_kind kind,
                                  const char *key, const char *key_env,
                                  sleeps *sl, int retries)
{
    am_llm_opts o = am_llm_opts_default();
    am_llm *llm = NULL;
    am_error err = { AM_OK, "" };

    o.kind = kind;
    o.base_url = kind == AM_LLM_OPENAI ? url_with(m, "/v1")
                                       : mock_http_url(m);
    o.model = "test-model";
    o.api_key = key;
    o.api_key_env = key_env;
    o.http.max_retries = retries;
    if (sl != NULL) {
        o.http.sleep = record_sleep;
        o.http.sleep_ctx = sl;
    }
    o.http.timeout_ms = 5000;
    CHECK_OK_E(am_llm_create(&o, &llm, &err), &err);
    return llm;
}

/* The same with no key anywhere unless `key` is given. */
static inline am_llm *new_llm(mock_http *m, am_llm_kind kind, const char *key,
                       sleeps *sl, int retries)
{
    return new_llm_env(m, kind, key, "AM_TEST_NO_SUCH_KEY_VAR", sl, retries);
}

static const am_llm_msg two_msgs[] = {
    { { "system", 6 }, { "be brief", 8 } },
    { { "user", 4 }, { "hello", 5 } },
};

static inline bool contains(const char *hay, const char *needle)
{
    return hay != NULL && strstr(hay, needle) != NULL;
}

#define CHECK_HAS(hay, needle)                                          \
    do {                                                                \
        if (!contains((hay), (needle)))                                 \
            fail_msg("'%s' does not contain '%s'", (hay), (needle));    \
    } while (0)


#endif
