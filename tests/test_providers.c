/* test_providers.c -- the chat and embeddings clients against a loopback
 * server (mock_http.c) through the real libcurl code path: success, bad
 * keys, 429 with Retry-After, 5xx, malformed and incomplete replies,
 * timeouts, connections closed mid-reply and refused connections.
 *
 * Retries never sleep: the clients get a recording sleep function. The one
 * test that must wait for a real timeout waits 150 ms.
 */
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

static void record_sleep(void *ctx, int64_t ms)
{
    sleeps *s = ctx;
    if (s->count < 16)
        s->ms[s->count] = ms;
    s->count++;
}

static char *url_with(const mock_http *m, const char *suffix)
{
    static char buf[128];
    snprintf(buf, sizeof buf, "%s%s", mock_http_url(m), suffix);
    return buf;
}

static am_llm *new_llm(mock_http *m, am_llm_kind kind, const char *key,
                       sleeps *sl, int retries)
{
    am_llm_opts o = am_llm_opts_default();
    am_llm *llm = NULL;
    am_error err;

    o.kind = kind;
    o.base_url = kind == AM_LLM_OPENAI ? url_with(m, "/v1")
                                       : mock_http_url(m);
    o.model = "test-model";
    o.api_key = key;
    o.api_key_env = "AM_TEST_NO_SUCH_KEY_VAR";
    o.http.max_retries = retries;
    o.http.sleep = record_sleep;
    o.http.sleep_ctx = sl;
    o.http.timeout_ms = 5000;
    CHECK_OK_E(am_llm_create(&o, &llm, &err), &err);
    return llm;
}

static const am_llm_msg two_msgs[] = {
    { { "system", 6 }, { "be brief", 8 } },
    { { "user", 4 }, { "hello", 5 } },
};

static bool contains(const char *hay, const char *needle)
{
    return hay != NULL && strstr(hay, needle) != NULL;
}

#define CHECK_HAS(hay, needle)                                          \
    do {                                                                \
        if (!contains((hay), (needle)))                                 \
            fail_msg("'%s' does not contain '%s'", (hay), (needle));    \
    } while (0)

/* ---- Chat: success ---- */

AM_TEST(openai_chat_returns_text_finish_and_usage)
{
    mock_http_opts mo = { .openai_key = "sk-good" };
    mock_http *m = mock_http_start(&mo);
    sleeps sl = { { 0 }, 0 };
    am_llm *llm = new_llm(m, AM_LLM_OPENAI, "sk-good", &sl, 2);
    am_buf text = AM_BUF_INIT;
    am_llm_result res;
    const mock_request *rq;
    char hv[128];
    json_t *body, *msgs;

    CHECK_OK_E(am_llm_chat_msgs(llm, two_msgs, 2, &text, &res), &res.error);
    CHECK_STR_EQ(text.ptr, "echo: hello");
    CHECK_EQ(res.finish, AM_LLM_FINISH_STOP);
    CHECK_STR_EQ(res.finish_reason, "stop");
    CHECK(res.usage.reported);
    CHECK_EQ(res.usage.input_tokens, 8 + 5);
    CHECK_EQ(res.usage.output_tokens, 11);
    CHECK_EQ(res.usage.cached_tokens, 0);
    CHECK_EQ(res.http_status, 200);
    CHECK_EQ(res.attempts, 1);
    CHECK_STR_EQ(res.model, "test-model");
    CHECK_EQ(res.error.code, AM_OK);
    CHECK_EQ(sl.count, 0);

    /* What went over the wire. */
    CHECK_EQ(mock_http_count(m), 1);
    rq = mock_http_request(m, 0);
    CHECK_STR_EQ(rq->method, "POST");
    CHECK_STR_EQ(rq->path, "/v1/chat/completions");
    CHECK_STR_EQ(mock_header(rq, "authorization", hv, sizeof hv),
                 "Bearer sk-good");
    CHECK_STR_EQ(mock_header(rq, "content-type", hv, sizeof hv),
                 "application/json");
    body = json_loads(rq->body, 0, NULL);
    CHECK(body != NULL);
    CHECK_STR_EQ(json_string_value(json_object_get(body, "model")),
                 "test-model");
    msgs = json_object_get(body, "messages");
    CHECK_EQ(json_array_size(msgs), 2);
    CHECK_STR_EQ(json_string_value(json_object_get(json_array_get(msgs, 0),
                                                   "role")), "system");
    CHECK(json_object_get(body, "temperature") == NULL);
    CHECK(json_object_get(body, "max_tokens") == NULL);
    json_decref(body);

    /* The buffer is reused and replaced by the next call. */
    CHECK_OK(am_llm_chat_msgs(llm, two_msgs + 1, 1, &text, &res));
    CHECK_STR_EQ(text.ptr, "echo: hello");
    CHECK_EQ(text.len, 11);

    am_buf_free(&text);
    am_llm_free(llm);
    mock_http_stop(m);
}

AM_TEST(anthropic_chat_lifts_system_and_sends_headers)
{
    mock_http_opts mo = { .anthropic_key = "ak-good" };
    mock_http *m = mock_http_start(&mo);
    sleeps sl = { { 0 }, 0 };
    am_llm *llm = new_llm(m, AM_LLM_ANTHROPIC, "ak-good", &sl, 0);
    am_buf text = AM_BUF_INIT;
    am_llm_result res;
    am_llm_request req;
    const mock_request *rq;
    char hv[128];
    json_t *body, *msgs;

    memset(&req, 0, sizeof req);
    req.msgs = two_msgs;
    req.count = 2;
    req.system = AM_STR("summarize");
    req.has_temperature = true;
    req.temperature = 0.0;
    CHECK_OK_E(am_llm_chat(llm, &req, &text, &res), &res.error);
    CHECK_STR_EQ(text.ptr, "echo: hello");
    CHECK_EQ(res.finish, AM_LLM_FINISH_STOP);
    CHECK_STR_EQ(res.finish_reason, "end_turn");
    CHECK_EQ(res.usage.input_tokens, (int64_t)strlen("summarize\n\nbe brief") + 5);
    CHECK_EQ(res.usage.output_tokens, 11);

    rq = mock_http_request(m, 0);
    CHECK_STR_EQ(rq->path, "/v1/messages");
    CHECK_STR_EQ(mock_header(rq, "x-api-key", hv, sizeof hv), "ak-good");
    CHECK_STR_EQ(mock_header(rq, "anthropic-version", hv, sizeof hv),
                 "2023-06-01");
    CHECK(mock_header(rq, "authorization", hv, sizeof hv) == NULL);
    body = json_loads(rq->body, 0, NULL);
    CHECK_STR_EQ(json_string_value(json_object_get(body, "system")),
                 "summarize\n\nbe brief");
    CHECK_EQ(json_integer_value(json_object_get(body, "max_tokens")), 1024);
    CHECK(json_real_value(json_object_get(body, "temperature")) == 0.0);
    CHECK(json_object_get(body, "temperature") != NULL);
    msgs = json_object_get(body, "messages");
    CHECK_EQ(json_array_size(msgs), 1);
    CHECK_STR_EQ(json_string_value(json_object_get(json_array_get(msgs, 0),
                                                   "role")), "user");
    json_decref(body);

    am_buf_free(&text);
    am_llm_free(llm);
    mock_http_stop(m);
}

AM_TEST(max_tokens_cut_reports_length_finish)
{
    mock_http *m = mock_http_start(NULL);
    sleeps sl = { { 0 }, 0 };
    am_llm *llm = new_llm(m, AM_LLM_OPENAI, NULL, &sl, 0);
    am_llm *ant = new_llm(m, AM_LLM_ANTHROPIC, NULL, &sl, 0);
    am_buf text = AM_BUF_INIT;
    am_llm_result res;
    am_llm_request req;

    memset(&req, 0, sizeof req);
    req.msgs = two_msgs + 1;
    req.count = 1;
    req.max_tokens = 4;
    CHECK_OK(am_llm_chat(llm, &req, &text, &res));
    CHECK_STR_EQ(text.ptr, "echo");
    CHECK_EQ(res.finish, AM_LLM_FINISH_LENGTH);
    CHECK_STR_EQ(res.finish_reason, "length");
    CHECK_OK(am_llm_chat(ant, &req, &text, &res));
    CHECK_EQ(res.finish, AM_LLM_FINISH_LENGTH);
    CHECK_STR_EQ(res.finish_reason, "max_tokens");

    am_buf_free(&text);
    am_llm_free(llm);
    am_llm_free(ant);
    mock_http_stop(m);
}

AM_TEST(api_key_comes_from_the_named_environment_variable)
{
    mock_http_opts mo = { .openai_key = "sk-env" };
    mock_http *m = mock_http_start(&mo);
    am_llm_opts o = am_llm_opts_default();
    am_llm *llm = NULL;
    am_buf text = AM_BUF_INIT;
    am_llm_result res;

    setenv("AM_TEST_PROVIDER_KEY", "sk-env", 1);
    o.base_url = url_with(m, "/v1/"); /* trailing slash is fine */
    o.model = "m";
    o.api_key_env = "AM_TEST_PROVIDER_KEY";
    CHECK_OK(am_llm_create(&o, &llm, NULL));
    unsetenv("AM_TEST_PROVIDER_KEY"); /* read at create */
    CHECK_OK_E(am_llm_chat_msgs(llm, two_msgs, 2, &text, &res), &res.error);
    CHECK_STR_EQ(mock_http_request(m, 0)->path, "/v1/chat/completions");
    am_llm_free(llm);
    am_buf_free(&text);
    mock_http_stop(m);
}

AM_TEST(raw_messages_json_is_sent_as_given)
{
    mock_http *m = mock_http_start(NULL);
    sleeps sl = { { 0 }, 0 };
    am_llm *oai = new_llm(m, AM_LLM_OPENAI, NULL, &sl, 0);
    am_llm *ant = new_llm(m, AM_LLM_ANTHROPIC, NULL, &sl, 0);
    am_buf text = AM_BUF_INIT;
    am_llm_result res;
    am_llm_request req;
    json_t *body;
    const char *raw =
        "[{\"role\":\"system\",\"content\":\"sys\"},"
        "{\"role\":\"user\",\"content\":\"hi\"},"
        "{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{\"id\":"
        "\"c1\",\"type\":\"function\",\"function\":{\"name\":\"f\","
        "\"arguments\":\"{}\"}}]},"
        "{\"role\":\"tool\",\"tool_call_id\":\"c1\",\"content\":\"42\"}]";

    memset(&req, 0, sizeof req);
    req.messages_json = am_str_c(raw);
    CHECK_OK_E(am_llm_chat(oai, &req, &text, &res), &res.error);
    CHECK_STR_EQ(text.ptr, "echo: 42");
    body = json_loads(mock_http_request(m, 0)->body, 0, NULL);
    CHECK_EQ(json_array_size(json_object_get(body, "messages")), 4);
    {
        json_t *m2 = json_array_get(json_object_get(body, "messages"), 2);
        json_t *tc = json_array_get(json_object_get(m2, "tool_calls"), 0);
        CHECK_STR_EQ(json_string_value(json_object_get(tc, "id")), "c1");
        CHECK(json_is_null(json_object_get(m2, "content")));
    }
    json_decref(body);

    CHECK_OK_E(am_llm_chat(ant, &req, &text, &res), &res.error);
    body = json_loads(mock_http_request(m, 1)->body, 0, NULL);
    CHECK_STR_EQ(json_string_value(json_object_get(body, "system")), "sys");
    CHECK_EQ(json_array_size(json_object_get(body, "messages")), 3);
    json_decref(body);

    am_buf_free(&text);
    am_llm_free(oai);
    am_llm_free(ant);
    mock_http_stop(m);
}

AM_TEST(extra_fields_raw_reply_and_completion_token_cap)
{
    mock_http *m = mock_http_start(NULL);
    am_llm_opts o = am_llm_opts_default();
    am_llm *llm = NULL;
    am_buf text = AM_BUF_INIT, raw = AM_BUF_INIT;
    am_llm_result res;
    am_llm_request req;
    json_t *body, *reply;

    o.base_url = url_with(m, "/v1");
    o.model = "m";
    o.max_tokens = 50;
    o.max_completion_tokens = true;
    o.temperature = 0.25;
    CHECK_OK(am_llm_create(&o, &llm, NULL));
    memset(&req, 0, sizeof req);
    req.msgs = two_msgs;
    req.count = 2;
    req.extra_json = AM_STR("{\"top_p\":0.5,\"temperature\":1.5}");
    req.raw_reply = &raw;
    CHECK_OK_E(am_llm_chat(llm, &req, &text, &res), &res.error);
    body = json_loads(mock_http_request(m, 0)->body, 0, NULL);
    CHECK_EQ(json_integer_value(json_object_get(body,
                                                "max_completion_tokens")),
             50);
    CHECK(json_object_get(body, "max_tokens") == NULL);
    CHECK(json_real_value(json_object_get(body, "top_p")) == 0.5);
    CHECK(json_real_value(json_object_get(body, "temperature")) == 1.5);
    json_decref(body);
    reply = json_loads(raw.ptr, 0, NULL);
    CHECK(reply != NULL);
    CHECK_STR_EQ(json_string_value(json_object_get(reply, "id")),
                 "chatcmpl-mock");
    json_decref(reply);

    req.extra_json = AM_STR("[1]");
    CHECK_ST(am_llm_chat(llm, &req, &text, &res), AM_EINVAL);
    CHECK_HAS(res.error.msg, "extra_json must be a JSON object");
    req.extra_json = AM_STR("{");
    CHECK_ST(am_llm_chat(llm, &req, &text, &res), AM_EINVAL);
    CHECK_HAS(res.error.msg, "extra_json");
    CHECK_EQ(mock_http_count(m), 1);

    am_buf_free(&text);
    am_buf_free(&raw);
    am_llm_free(llm);
    mock_http_stop(m);
}

AM_TEST(oversized_reply_is_elimit)
{
    mock_http *m = mock_http_start(NULL);
    am_llm_opts o = am_llm_opts_default();
    am_llm *llm = NULL;
    am_buf text = AM_BUF_INIT;
    am_llm_result res;
    char big[4096];
    mock_reply r = { .body = big };

    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    o.base_url = url_with(m, "/v1");
    o.model = "m";
    o.http.max_response_bytes = 1000;
    CHECK_OK(am_llm_create(&o, &llm, NULL));
    mock_http_push(m, &r);
    CHECK_ST(am_llm_chat_msgs(llm, two_msgs, 2, &text, &res), AM_ELIMIT);
    CHECK_HAS(res.error.msg, "larger than max_response_bytes (1000)");
    CHECK_EQ(res.attempts, 1);
    /* The handle still works afterwards. */
    CHECK_OK(am_llm_chat_msgs(llm, two_msgs, 2, &text, &res));
    CHECK_STR_EQ(text.ptr, "echo: hello");
    am_buf_free(&text);
    am_llm_free(llm);
    mock_http_stop(m);
}

/* ---- Chat: HTTP errors ---- */

AM_TEST(bad_key_is_eauth_naming_provider_status_and_key_source)
{
    mock_http_opts mo = { .openai_key = "sk-good",
                          .anthropic_key = "ak-good" };
    mock_http *m = mock_http_start(&mo);
    sleeps sl = { { 0 }, 0 };
    am_llm *llm = new_llm(m, AM_LLM_OPENAI, "sk-bad", &sl, 3);
    am_llm *ant = new_llm(m, AM_LLM_ANTHROPIC, "ak-bad", &sl, 3);
    am_llm *nokey = new_llm(m, AM_LLM_OPENAI, NULL, &sl, 3);
    am_buf text = AM_BUF_INIT;
    am_llm_result res;

    CHECK_ST(am_llm_chat_msgs(llm, two_msgs, 2, &text, &res), AM_EAUTH);
    CHECK_EQ(res.error.code, AM_EAUTH);
    CHECK_HAS(res.error.msg, "openai");
    CHECK_HAS(res.error.msg, "401");
    CHECK_HAS(res.error.msg, "api_key option");
    CHECK_HAS(res.error.msg, "Incorrect API key");
    CHECK_EQ(res.attempts, 1); /* never retried */
    CHECK_EQ(sl.count, 0);
    CHECK_EQ(text.len, 0);
    CHECK_STR_EQ(am_llm_last_error(llm)->msg, res.error.msg);

    CHECK_ST(am_llm_chat_msgs(ant, two_msgs, 2, &text, &res), AM_EAUTH);
    CHECK_HAS(res.error.msg, "anthropic");
    CHECK_HAS(res.error.msg, "invalid x-api-key");

    CHECK_ST(am_llm_chat_msgs(nokey, two_msgs, 2, &text, &res), AM_EAUTH);
    CHECK_HAS(res.error.msg, "$AM_TEST_NO_SUCH_KEY_VAR is not set");

    mock_reply forbidden = { .status = 403,
                             .body = "{\"error\":{\"message\":\"no access\"}}" };
    mock_http_push(m, &forbidden);
    CHECK_ST(am_llm_chat_msgs(llm, two_msgs, 2, &text, &res), AM_EAUTH);
    CHECK_HAS(res.error.msg, "403");
    CHECK_HAS(res.error.msg, "no access");

    am_buf_free(&text);
    am_llm_free(llm);
    am_llm_free(ant);
    am_llm_free(nokey);
    mock_http_stop(m);
}

AM_TEST(rate_limit_then_success_honours_retry_after)
{
    mock_http *m = mock_http_start(NULL);
    sleeps sl = { { 0 }, 0 };
    am_llm *llm = new_llm(m, AM_LLM_OPENAI, NULL, &sl, 3);
    am_buf text = AM_BUF_INIT;
    am_llm_result res;
    mock_reply r429 = { .status = 429,
                        .body = "{\"error\":{\"message\":\"slow down\"}}",
                        .headers = "Retry-After: 2\r\n" };
    mock_reply r429ms = { .status = 429, .body = "{}",
                          .headers = "retry-after-ms: 1500\r\n"
                                     "Retry-After: 2\r\n" };

    mock_http_push(m, &r429);
    mock_http_push(m, &r429ms);
    CHECK_OK_E(am_llm_chat_msgs(llm, two_msgs, 2, &text, &res), &res.error);
    CHECK_STR_EQ(text.ptr, "echo: hello");
    CHECK_EQ(res.attempts, 3);
    CHECK_EQ(sl.count, 2);
    CHECK_EQ(sl.ms[0], 2000);
    CHECK_EQ(sl.ms[1], 1500); /* the precise header wins */
    CHECK_EQ(mock_http_count(m), 3);

    am_buf_free(&text);
    am_llm_free(llm);
    mock_http_stop(m);
}

AM_TEST(rate_limit_exhausting_retries_is_elimit)
{
    mock_http *m = mock_http_start(NULL);
    sleeps sl = { { 0 }, 0 };
    am_llm *llm = new_llm(m, AM_LLM_OPENAI, NULL, &sl, 1);
    am_buf text = AM_BUF_INIT;
    am_llm_result res;
    /* An absurd Retry-After falls back to the computed backoff. */
    mock_reply r = { .status = 429, .body = "{}",
                     .headers = "Retry-After: 86400\r\n" };

    mock_http_push(m, &r);
    mock_http_push(m, &r);
    CHECK_ST(am_llm_chat_msgs(llm, two_msgs, 2, &text, &res), AM_ELIMIT);
    CHECK_HAS(res.error.msg, "429");
    CHECK_HAS(res.error.msg, "after 2 attempts");
    CHECK_EQ(sl.count, 1);
    CHECK(sl.ms[0] >= 250 && sl.ms[0] <= 500);
    am_buf_free(&text);
    am_llm_free(llm);
    mock_http_stop(m);
}

AM_TEST(server_errors_back_off_exponentially_then_fail_enet)
{
    mock_http *m = mock_http_start(NULL);
    sleeps sl = { { 0 }, 0 };
    am_llm *llm = new_llm(m, AM_LLM_ANTHROPIC, NULL, &sl, 3);
    am_buf text = AM_BUF_INIT;
    am_llm_result res;
    mock_reply r500 = { .status = 500,
                        .body = "{\"type\":\"error\",\"error\":{\"type\":"
                                "\"api_error\",\"message\":\"boom\"}}" };
    mock_reply r529 = { .status = 529, .body = "overloaded" };

    for (int i = 0; i < 3; i++)
        mock_http_push(m, &r500);
    mock_http_push(m, &r529);
    CHECK_ST(am_llm_chat_msgs(llm, two_msgs, 2, &text, &res), AM_ENET);
    CHECK_EQ(res.attempts, 4);
    CHECK_EQ(res.http_status, 529);
    CHECK_HAS(res.error.msg, "HTTP 529");
    CHECK_HAS(res.error.msg, "overloaded");
    CHECK_EQ(sl.count, 3);
    /* Equal jitter: retry n waits within [d/2, d], d = 500 * 2^(n-1). */
    CHECK(sl.ms[0] >= 250 && sl.ms[0] <= 500);
    CHECK(sl.ms[1] >= 500 && sl.ms[1] <= 1000);
    CHECK(sl.ms[2] >= 1000 && sl.ms[2] <= 2000);

    /* One 500, then the built-in reply: success on the retry. */
    mock_http_push(m, &r500);
    CHECK_OK(am_llm_chat_msgs(llm, two_msgs, 2, &text, &res));
    CHECK_EQ(res.attempts, 2);
    am_buf_free(&text);
    am_llm_free(llm);
    mock_http_stop(m);
}

AM_TEST(unknown_model_is_enotfound)
{
    mock_http *m = mock_http_start(NULL);
    am_llm_opts o = am_llm_opts_default();
    am_llm *llm = NULL;
    am_buf text = AM_BUF_INIT;
    am_llm_result res;

    o.base_url = url_with(m, "/v1");
    o.model = "missing-model";
    CHECK_OK(am_llm_create(&o, &llm, NULL));
    CHECK_ST(am_llm_chat_msgs(llm, two_msgs, 2, &text, &res), AM_ENOTFOUND);
    CHECK_HAS(res.error.msg, "404");
    CHECK_HAS(res.error.msg, "'missing-model'");
    CHECK_HAS(res.error.msg, "does not exist");
    CHECK_EQ(res.attempts, 1);
    am_llm_free(llm);
    am_buf_free(&text);
    mock_http_stop(m);
}

AM_TEST(bad_request_and_context_overflow_are_told_apart)
{
    mock_http *m = mock_http_start(NULL);
    sleeps sl = { { 0 }, 0 };
    am_llm *llm = new_llm(m, AM_LLM_OPENAI, NULL, &sl, 3);
    am_buf text = AM_BUF_INIT;
    am_llm_result res;
    mock_reply bad = { .status = 400,
                       .body = "{\"error\":{\"message\":\"temperature must "
                               "be at most 2\"}}" };
    mock_reply ctx = { .status = 400,
                       .body = "{\"error\":{\"message\":\"This model's "
                               "maximum context length is 8192 tokens\"}}" };

    mock_http_push(m, &bad);
    CHECK_ST(am_llm_chat_msgs(llm, two_msgs, 2, &text, &res), AM_EINVAL);
    CHECK_HAS(res.error.msg, "rejected the request");
    CHECK_HAS(res.error.msg, "temperature must");
    mock_http_push(m, &ctx);
    CHECK_ST(am_llm_chat_msgs(llm, two_msgs, 2, &text, &res), AM_ELIMIT);
    CHECK_HAS(res.error.msg, "maximum context length");
    CHECK_EQ(sl.count, 0);
    am_buf_free(&text);
    am_llm_free(llm);
    mock_http_stop(m);
}

/* ---- Chat: replies we cannot use ---- */

static am_status chat_with_reply(mock_http *m, am_llm *llm, const char *body,
                                 am_llm_result *res)
{
    am_buf text = AM_BUF_INIT;
    mock_reply r = { .status = 200, .body = body };
    am_status st;
    mock_http_push(m, &r);
    st = am_llm_chat_msgs(llm, two_msgs, 2, &text, res);
    if (st != AM_OK)
        CHECK_EQ(text.len, 0);
    am_buf_free(&text);
    return st;
}

AM_TEST(malformed_and_incomplete_replies_are_eproto_naming_the_field)
{
    mock_http *m = mock_http_start(NULL);
    sleeps sl = { { 0 }, 0 };
    am_llm *oai = new_llm(m, AM_LLM_OPENAI, NULL, &sl, 3);
    am_llm *ant = new_llm(m, AM_LLM_ANTHROPIC, NULL, &sl, 3);
    am_llm_result res;

    CHECK_ST(chat_with_reply(m, oai, "{\"choices\": [", &res), AM_EPROTO);
    CHECK_HAS(res.error.msg, "openai: reply is not JSON");
    CHECK_HAS(res.error.msg, "{\"choices\": [");
    CHECK_EQ(res.attempts, 1); /* not retried */

    CHECK_ST(chat_with_reply(m, oai, "<html>gateway</html>", &res),
             AM_EPROTO);
    CHECK_HAS(res.error.msg, "<html>gateway");

    CHECK_ST(chat_with_reply(m, oai, "{\"id\":\"x\"}", &res), AM_EPROTO);
    CHECK_HAS(res.error.msg, "lacks field 'choices'");
    CHECK_HAS(res.error.msg, "{\"id\":\"x\"}");

    CHECK_ST(chat_with_reply(m, oai, "{\"choices\":[]}", &res), AM_EPROTO);
    CHECK_HAS(res.error.msg, "'choices' is empty");

    CHECK_ST(chat_with_reply(m, oai, "{\"choices\":[{\"index\":0}]}", &res),
             AM_EPROTO);
    CHECK_HAS(res.error.msg, "'choices[0].message'");

    CHECK_ST(chat_with_reply(m, oai,
                             "{\"choices\":[{\"message\":{\"role\":"
                             "\"assistant\"},\"finish_reason\":\"stop\"}]}",
                             &res), AM_EPROTO);
    CHECK_HAS(res.error.msg, "'choices[0].message.content'");

    CHECK_ST(chat_with_reply(m, oai, "[1,2]", &res), AM_EPROTO);
    CHECK_HAS(res.error.msg, "not a JSON object");

    CHECK_ST(chat_with_reply(m, oai, "{\"error\":{\"message\":\"quota\"}}",
                             &res), AM_EPROTO);
    CHECK_HAS(res.error.msg, "error object");
    CHECK_HAS(res.error.msg, "quota");

    CHECK_ST(chat_with_reply(m, ant, "{\"type\":\"message\"}", &res),
             AM_EPROTO);
    CHECK_HAS(res.error.msg, "anthropic: reply lacks field 'content'");

    CHECK_ST(chat_with_reply(m, ant,
                             "{\"content\":[{\"type\":\"text\"}]}", &res),
             AM_EPROTO);
    CHECK_HAS(res.error.msg, "'content[0].text'");

    CHECK_ST(chat_with_reply(m, ant, "{\"content\":{}}", &res), AM_EPROTO);
    CHECK_HAS(res.error.msg, "'content' is not an array");

    /* A tool-call-only reply is fine: empty text, finish TOOL. */
    CHECK_OK(chat_with_reply(m, oai,
                             "{\"choices\":[{\"message\":{\"content\":null,"
                             "\"tool_calls\":[]},\"finish_reason\":"
                             "\"tool_calls\"}]}", &res));
    CHECK_EQ(res.finish, AM_LLM_FINISH_TOOL);
    CHECK(!res.usage.reported);

    /* A refusal: empty text, finish FILTER, the provider's word kept. */
    CHECK_OK(chat_with_reply(m, oai,
                             "{\"choices\":[{\"message\":{\"content\":null,"
                             "\"refusal\":\"I can't help with that\"},"
                             "\"finish_reason\":\"stop\"}]}", &res));
    CHECK_EQ(res.finish, AM_LLM_FINISH_FILTER);
    CHECK_STR_EQ(res.finish_reason, "stop");

    am_llm_free(oai);
    am_llm_free(ant);
    mock_http_stop(m);
}

AM_TEST(anthropic_usage_counts_cached_prompt_tokens)
{
    mock_http *m = mock_http_start(NULL);
    sleeps sl = { { 0 }, 0 };
    am_llm *ant = new_llm(m, AM_LLM_ANTHROPIC, NULL, &sl, 0);
    am_llm *oai = new_llm(m, AM_LLM_OPENAI, NULL, &sl, 0);
    am_llm_result res;

    CHECK_OK(chat_with_reply(
        m, ant,
        "{\"content\":[{\"type\":\"thinking\",\"thinking\":\"hm\"},"
        "{\"type\":\"text\",\"text\":\"a\"},{\"type\":\"text\",\"text\":"
        "\"b\"}],\"stop_reason\":\"end_turn\",\"usage\":{\"input_tokens\":"
        "10,\"cache_read_input_tokens\":100,\"cache_creation_input_tokens\":"
        "5,\"output_tokens\":7}}", &res));
    CHECK(res.usage.reported);
    CHECK_EQ(res.usage.input_tokens, 115);
    CHECK_EQ(res.usage.cached_tokens, 100);
    CHECK_EQ(res.usage.output_tokens, 7);

    CHECK_OK(chat_with_reply(
        m, oai,
        "{\"choices\":[{\"message\":{\"content\":\"x\"},\"finish_reason\":"
        "\"stop\"}],\"usage\":{\"prompt_tokens\":50,\"completion_tokens\":3,"
        "\"prompt_tokens_details\":{\"cached_tokens\":32}}}", &res));
    CHECK_EQ(res.usage.input_tokens, 50);
    CHECK_EQ(res.usage.cached_tokens, 32);
    am_llm_free(ant);
    am_llm_free(oai);
    mock_http_stop(m);
}

/* ---- Chat: transport failures ---- */

AM_TEST(slow_reply_times_out)
{
    mock_http *m = mock_http_start(NULL);
    am_llm_opts o = am_llm_opts_default();
    am_llm *llm = NULL;
    am_buf text = AM_BUF_INIT;
    am_llm_result res;
    mock_reply slow = { .hang_ms = 5000, .body = "{}" };

    o.base_url = url_with(m, "/v1");
    o.model = "m";
    o.http.timeout_ms = 150;
    o.http.max_retries = 0;
    CHECK_OK(am_llm_create(&o, &llm, NULL));
    mock_http_push(m, &slow);
    CHECK_ST(am_llm_chat_msgs(llm, two_msgs, 2, &text, &res), AM_ETIMEOUT);
    CHECK_HAS(res.error.msg, "timed out");
    CHECK(res.elapsed_ms < 2000);
    am_llm_free(llm);
    am_buf_free(&text);
    mock_http_stop(m);
}

AM_TEST(connection_closed_mid_reply_is_retried_then_enet)
{
    mock_http *m = mock_http_start(NULL);
    sleeps sl = { { 0 }, 0 };
    am_llm *llm = new_llm(m, AM_LLM_OPENAI, NULL, &sl, 1);
    am_buf text = AM_BUF_INIT;
    am_llm_result res;
    mock_reply cut = { .body = "{\"choices\":[{\"message\":{\"content\":"
                               "\"a long answer\"}}]}",
                       .truncate_at = 10 };
    mock_reply gone = { .close_now = true };

    mock_http_push(m, &cut);
    mock_http_push(m, &cut);
    CHECK_ST(am_llm_chat_msgs(llm, two_msgs, 2, &text, &res), AM_ENET);
    CHECK_EQ(res.attempts, 2);
    CHECK_HAS(res.error.msg, "cannot talk to");
    CHECK_EQ(text.len, 0);

    mock_http_push(m, &gone);
    CHECK_OK(am_llm_chat_msgs(llm, two_msgs, 2, &text, &res));
    CHECK_EQ(res.attempts, 2);
    am_llm_free(llm);

    /* On a fresh handle (libcurl itself silently retries a request once
     * when a kept-alive connection turns out to be dead). */
    llm = new_llm(m, AM_LLM_OPENAI, NULL, &sl, 1);
    mock_http_push(m, &gone);
    mock_http_push(m, &gone);
    CHECK_ST(am_llm_chat_msgs(llm, two_msgs, 2, &text, &res), AM_ENET);
    CHECK_EQ(res.attempts, 2);
    CHECK_HAS(res.error.msg, "Empty reply");
    am_buf_free(&text);
    am_llm_free(llm);
    mock_http_stop(m);
}

AM_TEST(connection_refused_is_enet_with_curl_message)
{
    char dead[64];
    am_llm_opts o = am_llm_opts_default();
    sleeps sl = { { 0 }, 0 };
    am_llm *llm = NULL;
    am_buf text = AM_BUF_INIT;
    am_llm_result res;

    mock_http_dead_url(dead, sizeof dead);
    o.base_url = dead;
    o.model = "m";
    o.http.max_retries = 2;
    o.http.sleep = record_sleep;
    o.http.sleep_ctx = &sl;
    CHECK_OK(am_llm_create(&o, &llm, NULL));
    CHECK_ST(am_llm_chat_msgs(llm, two_msgs, 2, &text, &res), AM_ENET);
    CHECK_EQ(res.http_status, 0);
    CHECK_EQ(res.attempts, 3);
    CHECK_EQ(sl.count, 2);
    CHECK_HAS(res.error.msg, "openai: cannot talk to");
    CHECK_HAS(res.error.msg, "after 3 attempts");
    CHECK_HAS(res.error.msg, "onnect"); /* curl: "Failed to connect ..." */
    CHECK_EQ(am_llm_last_error(llm)->code, AM_ENET);
    am_llm_free(llm);
    am_buf_free(&text);
}

/* ---- Chat: bad input ---- */

AM_TEST(bad_requests_are_einval_naming_the_message)
{
    mock_http *m = mock_http_start(NULL);
    sleeps sl = { { 0 }, 0 };
    am_llm *oai = new_llm(m, AM_LLM_OPENAI, NULL, &sl, 0);
    am_llm *ant = new_llm(m, AM_LLM_ANTHROPIC, NULL, &sl, 0);
    am_buf text = AM_BUF_INIT;
    am_llm_result res;
    am_llm_request req;
    am_llm_msg tool[] = { { AM_STR("user"), AM_STR("a") },
                          { AM_STR("tool"), AM_STR("b") } };
    am_llm_msg bad_utf8[] = { { AM_STR("user"), AM_STR("ok \xff no") } };
    am_llm_msg dev[] = { { AM_STR("developer"), AM_STR("x") },
                         { AM_STR("user"), AM_STR("y") } };
    am_llm_msg only_sys[] = { { AM_STR("system"), AM_STR("x") } };

    CHECK_ST(am_llm_chat_msgs(oai, tool, 2, &text, &res), AM_EINVAL);
    CHECK_HAS(res.error.msg, "message 1: role 'tool'");
    CHECK_ST(am_llm_chat_msgs(oai, bad_utf8, 1, &text, &res), AM_EINVAL);
    CHECK_HAS(res.error.msg, "message 0: content is not valid UTF-8 "
                             "(byte 3)");
    memset(&req, 0, sizeof req);
    req.msgs = two_msgs;
    req.count = 2;
    req.system = AM_STR("bad \xc0\xaf");
    CHECK_ST(am_llm_chat(oai, &req, &text, &res), AM_EINVAL);
    CHECK_HAS(res.error.msg, "request: system prompt is not valid UTF-8 "
                             "(byte 4)");
    CHECK_ST(am_llm_chat_msgs(oai, NULL, 0, &text, &res), AM_EINVAL);
    CHECK_HAS(res.error.msg, "no messages");
    CHECK_OK(am_llm_chat_msgs(oai, dev, 2, &text, &res));
    CHECK_ST(am_llm_chat_msgs(ant, dev, 2, &text, &res), AM_EINVAL);
    CHECK_HAS(res.error.msg, "role 'developer'");
    CHECK_ST(am_llm_chat_msgs(ant, only_sys, 1, &text, &res), AM_EINVAL);
    CHECK_HAS(res.error.msg, "Anthropic needs a user message");

    memset(&req, 0, sizeof req);
    req.messages_json = AM_STR("{\"role\":\"user\"}");
    CHECK_ST(am_llm_chat(oai, &req, &text, &res), AM_EINVAL);
    CHECK_HAS(res.error.msg, "must be a JSON array");
    req.messages_json = AM_STR("[{\"role\":\"user\",");
    CHECK_ST(am_llm_chat(oai, &req, &text, &res), AM_EINVAL);
    CHECK_HAS(res.error.msg, "messages_json");
    req.messages_json = AM_STR("[{\"content\":\"x\"}]");
    CHECK_ST(am_llm_chat(oai, &req, &text, &res), AM_EINVAL);
    CHECK_HAS(res.error.msg, "messages_json[0]");
    memset(&req, 0, sizeof req);
    CHECK_ST(am_llm_chat(oai, &req, &text, &res), AM_EINVAL);
    req.msgs = two_msgs;
    req.count = 2;
    req.has_temperature = true;
    req.temperature = 7;
    CHECK_ST(am_llm_chat(oai, &req, &text, &res), AM_EINVAL);
    CHECK_HAS(res.error.msg, "temperature");
    CHECK_ST(am_llm_chat(NULL, &req, &text, &res), AM_EINVAL);
    CHECK_ST(am_llm_chat(oai, &req, NULL, &res), AM_EINVAL);

    /* Only the developer call went out; bad input sent nothing. */
    CHECK_EQ(mock_http_count(m), 1);
    am_buf_free(&text);
    am_llm_free(oai);
    am_llm_free(ant);
    mock_http_stop(m);
}

AM_TEST(create_rejects_bad_options_by_name)
{
    am_llm_opts o = am_llm_opts_default();
    am_llm *llm = (am_llm *)&o; /* must be reset to NULL */
    am_error err;

    CHECK_ST(am_llm_create(&o, &llm, &err), AM_EINVAL);
    CHECK(llm == NULL);
    CHECK_HAS(err.msg, "'model' is required");
    o.model = "m";
    o.base_url = "ftp://x";
    CHECK_ST(am_llm_create(&o, &llm, &err), AM_EINVAL);
    CHECK_HAS(err.msg, "'base_url'");
    o.base_url = NULL;
    o.http.timeout_ms = -1;
    CHECK_ST(am_llm_create(&o, &llm, &err), AM_EINVAL);
    CHECK_HAS(err.msg, "timeout");
    o.http.timeout_ms = 1000;
    o.http.max_retries = -1;
    CHECK_ST(am_llm_create(&o, &llm, &err), AM_EINVAL);
    CHECK_HAS(err.msg, "max_retries");
    o.http.max_retries = 0;
    o.kind = (am_llm_kind)7;
    CHECK_ST(am_llm_create(&o, &llm, &err), AM_EINVAL);
    CHECK_HAS(err.msg, "kind");
    o.kind = AM_LLM_ANTHROPIC;
    o.api_key = "line\nbreak";
    CHECK_ST(am_llm_create(&o, &llm, &err), AM_EINVAL);
    CHECK_HAS(err.msg, "control characters");
    o.api_key = NULL;
    o.temperature = 3;
    CHECK_ST(am_llm_create(&o, &llm, &err), AM_EINVAL);
    CHECK_HAS(err.msg, "'temperature'");
    o.temperature = -1;
    CHECK_OK(am_llm_create(&o, &llm, &err));
    CHECK_STR_EQ(am_llm_model(llm), "m");
    am_llm_free(llm);
    am_llm_free(NULL);

    am_llm_kind k;
    CHECK_OK(am_llm_kind_parse(AM_STR("ollama"), &k));
    CHECK_EQ(k, AM_LLM_OPENAI);
    CHECK_OK(am_llm_kind_parse(AM_STR("anthropic"), &k));
    CHECK_EQ(k, AM_LLM_ANTHROPIC);
    CHECK_ST(am_llm_kind_parse(AM_STR("gemini"), &k), AM_EINVAL);
}

/* ---- Pieces ---- */

AM_TEST(retry_after_and_backoff_arithmetic)
{
    am_http_opts o = am_http_opts_default();
    test_rng tr = { 42 };
    am_rng rng = test_rng_make(&tr);

    CHECK_EQ(am__retry_after_ms("2", 0), 2000);
    CHECK_EQ(am__retry_after_ms(" 1.5\r\n", 0), 1500);
    CHECK_EQ(am__retry_after_ms("0", 0), 0);
    CHECK_EQ(am__retry_after_ms("soon", 0), -1);
    CHECK_EQ(am__retry_after_ms("3x", 0), -1);
    /* Sun, 06 Nov 1994 08:49:37 GMT = 784111777 */
    CHECK_EQ(am__retry_after_ms("Sun, 06 Nov 1994 08:49:37 GMT", 784111770),
             7000);
    CHECK_EQ(am__retry_after_ms("Sun, 06 Nov 1994 08:49:37 GMT", 784111999),
             0);

    o.rng = &rng;
    for (int i = 0; i < 200; i++) {
        int64_t d1 = am__backoff_ms(&o, 1), d6 = am__backoff_ms(&o, 6);
        int64_t d30 = am__backoff_ms(&o, 30);
        CHECK(d1 >= 250 && d1 <= 500);
        CHECK(d6 >= 8000 && d6 <= 16000);
        CHECK(d30 >= 10000 && d30 <= 20000); /* capped at backoff_max */
    }
}

AM_TEST(excerpt_escapes_and_cuts_on_utf8_boundaries)
{
    char out[64];
    am__excerpt(AM_STR("a\nb\x01" "c"), 100, out, sizeof out);
    CHECK_STR_EQ(out, "a b\\x01c");
    am__excerpt(AM_STR("h\xc3\xa9llo world"), 2, out, sizeof out);
    CHECK_STR_EQ(out, "h...");
    am__excerpt(AM_STR("abcdef"), 3, out, sizeof out);
    CHECK_STR_EQ(out, "abc...");
    am__excerpt(AM_STR("abcdef"), 100, out, 4);
    CHECK(strlen(out) < 4);
}

/* OOM sweep over the request builder and the reply parser, the parts of a
 * call that allocate through the caller's allocator. */
static am_status chat_build_parse_body(void *ctx, const am_allocator *alloc)
{
    am_buf body = AM_BUF_INIT, text = AM_BUF_INIT;
    am__llm_params p = { (am_llm_kind)(intptr_t)ctx, "model", 0.5, 100,
                         false };
    am_llm_request req;
    am_llm_result res;
    am_error err;
    am_status st;
    const char *reply =
        (intptr_t)ctx == AM_LLM_OPENAI
            ? "{\"choices\":[{\"message\":{\"content\":\"summary\"},"
              "\"finish_reason\":\"stop\"}]}"
            : "{\"content\":[{\"type\":\"text\",\"text\":\"sum\"},"
              "{\"type\":\"text\",\"text\":\"mary\"}]}";

    memset(&req, 0, sizeof req);
    memset(&res, 0, sizeof res);
    req.msgs = two_msgs;
    req.count = 2;
    req.system = AM_STR("sys");
    body.alloc = alloc;
    text.alloc = alloc;
    st = am__llm_build_body(&p, &req, &body, &err);
    if (st == AM_OK) {
        CHECK(strstr(body.ptr, "\"model\":\"model\"") != NULL);
        st = am__llm_parse_reply(p.kind, am_str_c(reply), &text, &res, &err);
    }
    if (st == AM_OK)
        CHECK_STR_EQ(text.ptr, "summary");
    am_buf_free(&body);
    am_buf_free(&text);
    return st;
}

AM_TEST(chat_build_and_parse_survive_oom)
{
    CHECK(test_oom_sweep(chat_build_parse_body,
                         (void *)(intptr_t)AM_LLM_OPENAI) > 1);
    CHECK(test_oom_sweep(chat_build_parse_body,
                         (void *)(intptr_t)AM_LLM_ANTHROPIC) > 1);
}

/* ---- Embeddings ---- */

static am_embedder *new_embedder(mock_http *m, size_t dim, size_t batch,
                                 const char *key, sleeps *sl, am_error *err)
{
    am_openai_embed_opts o = am_openai_embed_opts_default();
    am_embedder *e = NULL;

    o.base_url = url_with(m, "/v1");
    o.model = "embed-model";
    o.api_key = key;
    o.api_key_env = "AM_TEST_NO_SUCH_KEY_VAR";
    o.dim = dim;
    o.max_batch = batch;
    o.http.max_retries = 2;
    o.http.sleep = record_sleep;
    o.http.sleep_ctx = sl;
    if (am_embedder_openai_create(&o, &e, err) != AM_OK)
        return NULL;
    return e;
}

AM_TEST(embeddings_batch_and_place_vectors_by_index)
{
    mock_http_opts mo = { .openai_key = "sk-e", .embed_dim = 6,
                          .embed_reverse = true };
    mock_http *m = mock_http_start(&mo);
    sleeps sl = { { 0 }, 0 };
    am_error err;
    am_embedder *e = new_embedder(m, 6, 3, "sk-e", &sl, &err);
    am_str texts[7] = { AM_STR("alpha"), AM_STR("beta"), AM_STR("gamma"),
                        AM_STR("delta"), AM_STR("epsilon"), AM_STR("zeta"),
                        AM_STR("h\xc3\xa9llo") };
    float out[7 * 6], want[6];
    json_t *body;
    char hv[64];

    CHECK(e != NULL);
    CHECK_STR_EQ(e->id, "openai-compat/embed-model/6");
    CHECK_EQ(e->dim, 6);
    CHECK_EQ(mock_http_count(m), 0); /* dim given: no probe */
    CHECK_OK_E(am_embedder_embed(e, texts, 7, out, &err), &err);
    CHECK_EQ(mock_http_count(m), 3); /* 3 + 3 + 1 */
    for (size_t i = 0; i < 7; i++) {
        mock_embed_vector(texts[i].ptr, texts[i].len, 6, want);
        for (size_t j = 0; j < 6; j++)
            CHECK(out[i * 6 + j] == want[j]);
    }
    CHECK_STR_EQ(mock_http_request(m, 0)->path, "/v1/embeddings");
    CHECK_STR_EQ(mock_header(mock_http_request(m, 0), "authorization", hv,
                             sizeof hv), "Bearer sk-e");
    body = json_loads(mock_http_request(m, 2)->body, 0, NULL);
    CHECK_STR_EQ(json_string_value(json_object_get(body, "model")),
                 "embed-model");
    CHECK_EQ(json_array_size(json_object_get(body, "input")), 1);
    CHECK_STR_EQ(json_string_value(json_array_get(json_object_get(body,
                                                                  "input"),
                                                  0)), "h\xc3\xa9llo");
    CHECK(json_object_get(body, "dimensions") == NULL);
    json_decref(body);
    CHECK_OK(am_embedder_embed(e, texts, 0, NULL, &err));
    am_embedder_free(e);
    mock_http_stop(m);
}

AM_TEST(embeddings_learn_dimension_from_a_probe)
{
    mock_http_opts mo = { .embed_dim = 5 };
    mock_http *m = mock_http_start(&mo);
    sleeps sl = { { 0 }, 0 };
    am_error err;
    am_embedder *e = new_embedder(m, 0, 128, NULL, &sl, &err);
    am_str t = AM_STR("x");
    float out[5], want[5];

    CHECK(e != NULL);
    CHECK_EQ(e->dim, 5);
    CHECK_STR_EQ(e->id, "openai-compat/embed-model/5");
    CHECK_EQ(mock_http_count(m), 1);
    CHECK_OK(am_embedder_embed(e, &t, 1, out, &err));
    mock_embed_vector("x", 1, 5, want);
    CHECK(memcmp(out, want, sizeof out) == 0);
    am_embedder_free(e);
    mock_http_stop(m);
}

/* Queue one 200 reply with `body` and embed `n` texts against it. */
static am_status embed_with_reply(mock_http *m, am_embedder *e,
                                  const char *body, const am_str *texts,
                                  size_t n, float *out, am_error *err)
{
    mock_reply r = { .status = 200, .body = body };
    mock_http_push(m, &r);
    return am_embedder_embed(e, texts, n, out, err);
}

AM_TEST(embeddings_reject_wrong_dimension_and_bad_replies)
{
    mock_http_opts mo = { .embed_dim = 4 };
    mock_http *m = mock_http_start(&mo);
    sleeps sl = { { 0 }, 0 };
    am_error err;
    am_embedder *e = new_embedder(m, 8, 128, NULL, &sl, &err);
    am_str two[2] = { AM_STR("a"), AM_STR("b") };
    float out[16];
    const char *body;

    CHECK(e != NULL);
    CHECK_ST(am_embedder_embed(e, two, 2, out, &err), AM_EPROTO);
    CHECK_HAS(err.msg, "dimension 4 for input");
    CHECK_HAS(err.msg, "expected 8");

    body = "{\"data\":[{\"index\":0,\"embedding\":[1,2,3,4,5,6,7,8]}]}";
    CHECK_ST(embed_with_reply(m, e, body, two, 2, out, &err), AM_EPROTO);
    CHECK_HAS(err.msg, "1 vectors in 'data' for 2 inputs");

    body = "{\"data\":[{\"index\":0,\"embedding\":[1,2,3,4,5,6,7,8]},"
           "{\"index\":0,\"embedding\":[1,2,3,4,5,6,7,8]}]}";
    CHECK_ST(embed_with_reply(m, e, body, two, 2, out, &err), AM_EPROTO);
    CHECK_HAS(err.msg, "answers input 0 twice");

    body = "{\"data\":[{\"index\":0,\"embedding\":[1,2,3,4,5,6,7,8]},"
           "{\"index\":5,\"embedding\":[1,2,3,4,5,6,7,8]}]}";
    CHECK_ST(embed_with_reply(m, e, body, two, 2, out, &err), AM_EPROTO);
    CHECK_HAS(err.msg, "'data[1].index' is 5");

    body = "{\"data\":[{\"index\":0,\"embedding\":[1,2,3,4,5,6,7,8]},"
           "{\"index\":1,\"embedding\":[1,2,3,\"x\",5,6,7,8]}]}";
    CHECK_ST(embed_with_reply(m, e, body, two, 2, out, &err), AM_EPROTO);
    CHECK_HAS(err.msg, "'data[1].embedding[3]' is not a number");

    body = "{\"data\":[{\"index\":0,\"embedding\":\"AAAA\"},"
           "{\"index\":1,\"embedding\":\"AAAA\"}]}";
    CHECK_ST(embed_with_reply(m, e, body, two, 2, out, &err), AM_EPROTO);
    CHECK_HAS(err.msg, "base64");

    body = "{\"object\":\"list\"}";
    CHECK_ST(embed_with_reply(m, e, body, two, 2, out, &err), AM_EPROTO);
    CHECK_HAS(err.msg, "lacks field 'data'");

    body = "not json";
    CHECK_ST(embed_with_reply(m, e, body, two, 2, out, &err), AM_EPROTO);
    CHECK_HAS(err.msg, "is not JSON");
    CHECK_HAS(err.msg, "not json");
    am_embedder_free(e);
    mock_http_stop(m);
}

AM_TEST(embeddings_errors_name_the_text_and_the_status)
{
    mock_http_opts mo = { .openai_key = "sk-e", .embed_dim = 4 };
    mock_http *m = mock_http_start(&mo);
    sleeps sl = { { 0 }, 0 };
    am_error err;
    am_embedder *e = new_embedder(m, 4, 1, "sk-e", &sl, &err);
    am_embedder *bad = new_embedder(m, 4, 1, "sk-wrong", &sl, &err);
    am_str texts[3] = { AM_STR("a"), AM_STR(""), AM_STR("c") };
    am_str utf[2] = { AM_STR("a"), AM_STR("b\xc3") };
    am_str ok[3] = { AM_STR("a"), AM_STR("b"), AM_STR("c") };
    float out[12];
    mock_reply r500 = { .status = 500, .body = "{\"error\":\"gpu fell over\"}" };

    CHECK_ST(am_embedder_embed(e, texts, 3, out, &err), AM_EINVAL);
    CHECK_HAS(err.msg, "text 1 is empty");
    CHECK_ST(am_embedder_embed(e, utf, 2, out, &err), AM_EINVAL);
    CHECK_HAS(err.msg, "text 1 is not valid UTF-8 (byte 1)");
    CHECK_EQ(mock_http_count(m), 0);

    CHECK_ST(am_embedder_embed(bad, ok, 3, out, &err), AM_EAUTH);
    CHECK_HAS(err.msg, "embeddings: HTTP 401");

    /* Batch 2 of 3 fails for good: the error says which texts. */
    mock_reply first = { .body = "{\"data\":[{\"index\":0,\"embedding\":"
                                 "[0,0,0,0]}]}" };
    sl.count = 0;
    mock_http_push(m, &first);
    for (int i = 0; i < 3; i++)
        mock_http_push(m, &r500);
    CHECK_ST(am_embedder_embed(e, ok, 3, out, &err), AM_ENET);
    CHECK_HAS(err.msg, "HTTP 500");
    CHECK_HAS(err.msg, "gpu fell over");
    CHECK_HAS(err.msg, "after 3 attempts");
    CHECK_HAS(err.msg, "texts 1..1; earlier batches succeeded");
    CHECK_EQ(sl.count, 2);
    am_embedder_free(e);
    am_embedder_free(bad);
    mock_http_stop(m);
}

AM_TEST(embeddings_send_dimensions_and_check_options)
{
    mock_http_opts mo = { .embed_dim = 3 };
    mock_http *m = mock_http_start(&mo);
    am_openai_embed_opts o = am_openai_embed_opts_default();
    am_embedder *e = NULL;
    am_error err;
    am_str t = AM_STR("q");
    float out[3];
    json_t *body;
    char dead[64];

    CHECK_ST(am_embedder_openai_create(&o, &e, &err), AM_EINVAL);
    CHECK_HAS(err.msg, "'model' is required");
    o.model = "m";
    o.max_batch = 0;
    CHECK_ST(am_embedder_openai_create(&o, &e, &err), AM_EINVAL);
    CHECK_HAS(err.msg, "max_batch");
    o.max_batch = 10;
    o.send_dimensions = true;
    CHECK_ST(am_embedder_openai_create(&o, &e, &err), AM_EINVAL);
    CHECK_HAS(err.msg, "send_dimensions needs option 'dim'");
    o.dim = 3;
    o.base_url = "localhost:1234";
    CHECK_ST(am_embedder_openai_create(&o, &e, &err), AM_EINVAL);
    CHECK_HAS(err.msg, "'base_url'");
    o.base_url = url_with(m, "/v1");
    CHECK_OK(am_embedder_openai_create(&o, &e, &err));
    CHECK_OK(am_embedder_embed(e, &t, 1, out, &err));
    body = json_loads(mock_http_request(m, 0)->body, 0, NULL);
    CHECK_EQ(json_integer_value(json_object_get(body, "dimensions")), 3);
    json_decref(body);
    am_embedder_free(e);

    /* The probe of a dim-less embedder fails when nobody listens. */
    mock_http_dead_url(dead, sizeof dead);
    o.base_url = dead;
    o.dim = 0;
    o.send_dimensions = false;
    o.http.max_retries = 0;
    e = (am_embedder *)&o;
    CHECK_ST(am_embedder_openai_create(&o, &e, &err), AM_ENET);
    CHECK(e == NULL);
    CHECK_HAS(err.msg, "embeddings: cannot talk to");
    mock_http_stop(m);
}

static am_status embed_build_parse_body(void *ctx, const am_allocator *alloc)
{
    am_buf body = AM_BUF_INIT;
    am_str texts[2] = { AM_STR("a"), AM_STR("b") };
    float out[4];
    size_t dim = 2;
    am_error err;
    am_status st;
    (void)ctx;

    body.alloc = alloc;
    st = am__embed_build_body("m", 2, texts, 2, &body, &err);
    if (st == AM_OK)
        st = am__embed_parse_reply(
            AM_STR("{\"data\":[{\"index\":1,\"embedding\":[3,4]},"
                   "{\"index\":0,\"embedding\":[1,2]}]}"),
            2, &dim, out, &err);
    if (st == AM_OK) {
        CHECK(out[0] == 1 && out[1] == 2 && out[2] == 3 && out[3] == 4);
        CHECK(strstr(body.ptr, "\"dimensions\":2") != NULL);
    }
    am_buf_free(&body);
    return st;
}

AM_TEST(embed_build_and_parse_survive_oom)
{
    CHECK(test_oom_sweep(embed_build_parse_body, NULL) >= 1);
}

/* ---- Options: extra headers, batch bytes, OOM in create ---- */

AM_TEST(extra_headers_go_with_every_request)
{
    mock_http *m = mock_http_start(NULL);
    const char *hdrs[] = { "OpenAI-Organization: org-7", "X-Gateway: a:b" };
    const char *bad[] = { "X-Evil: a\r\nHost: b" };
    const char *nocolon[] = { "NoColon" };
    am_llm_opts o = am_llm_opts_default();
    am_openai_embed_opts eo = am_openai_embed_opts_default();
    am_llm *llm = NULL;
    am_embedder *e = NULL;
    am_buf text = AM_BUF_INIT;
    am_llm_result res;
    am_error err;
    char hv[64];
    am_str t = AM_STR("x");
    float v[8];

    o.base_url = url_with(m, "/v1");
    o.model = "m";
    o.http.headers = bad;
    o.http.header_count = 1;
    CHECK_ST(am_llm_create(&o, &llm, &err), AM_EINVAL);
    CHECK_HAS(err.msg, "headers[0]");
    o.http.headers = nocolon;
    CHECK_ST(am_llm_create(&o, &llm, &err), AM_EINVAL);
    o.http.headers = hdrs;
    o.http.header_count = 2;
    CHECK_OK(am_llm_create(&o, &llm, &err));
    CHECK_OK(am_llm_chat_msgs(llm, two_msgs, 2, &text, &res));
    CHECK_STR_EQ(mock_header(mock_http_request(m, 0), "openai-organization",
                             hv, sizeof hv), "org-7");
    CHECK_STR_EQ(mock_header(mock_http_request(m, 0), "x-gateway", hv,
                             sizeof hv), "a:b");

    eo.base_url = o.base_url;
    eo.model = "e";
    eo.dim = 8;
    eo.http.headers = hdrs;
    eo.http.header_count = 1;
    CHECK_OK(am_embedder_openai_create(&eo, &e, &err));
    CHECK_OK(am_embedder_embed(e, &t, 1, v, &err));
    CHECK_STR_EQ(mock_header(mock_http_request(m, 1), "openai-organization",
                             hv, sizeof hv), "org-7");
    am_embedder_free(e);
    am_llm_free(llm);
    am_buf_free(&text);
    mock_http_stop(m);
}

AM_TEST(embedding_batches_respect_the_byte_cap)
{
    mock_http_opts mo = { .embed_dim = 2 };
    mock_http *m = mock_http_start(&mo);
    am_openai_embed_opts o = am_openai_embed_opts_default();
    am_embedder *e = NULL;
    am_error err;
    /* 10-byte texts, cap 25 bytes: batches of 2, 2, 1; the 40-byte text
     * goes alone although it is over the cap. */
    am_str texts[6] = { AM_STR("aaaaaaaaaa"), AM_STR("bbbbbbbbbb"),
                        AM_STR("cccccccccc"), AM_STR("dddddddddd"),
                        AM_STR("0123456789012345678901234567890123456789"),
                        AM_STR("eeeeeeeeee") };
    size_t want_sizes[4] = { 2, 2, 1, 1 };
    float out[12], want[2];

    o.base_url = url_with(m, "/v1");
    o.model = "e";
    o.dim = 2;
    o.max_batch_bytes = 25;
    CHECK_OK(am_embedder_openai_create(&o, &e, &err));
    CHECK_OK_E(am_embedder_embed(e, texts, 6, out, &err), &err);
    CHECK_EQ(mock_http_count(m), 4);
    for (size_t i = 0; i < 4; i++) {
        json_t *b = json_loads(mock_http_request(m, i)->body, 0, NULL);
        CHECK_EQ(json_array_size(json_object_get(b, "input")),
                 want_sizes[i]);
        json_decref(b);
    }
    for (size_t i = 0; i < 6; i++) {
        mock_embed_vector(texts[i].ptr, texts[i].len, 2, want);
        CHECK(out[2 * i] == want[0] && out[2 * i + 1] == want[1]);
    }
    am_embedder_free(e);
    mock_http_stop(m);
}

AM_TEST(retry_after_as_http_date)
{
    mock_http *m = mock_http_start(NULL);
    sleeps sl = { { 0 }, 0 };
    am_llm *llm = new_llm(m, AM_LLM_OPENAI, NULL, &sl, 1);
    am_buf text = AM_BUF_INIT;
    am_llm_result res;
    char hdr[96];
    time_t when = time(NULL) + 5;
    struct tm tm;
    mock_reply r = { .status = 503, .body = "{}", .headers = hdr };

    gmtime_r(&when, &tm);
    strftime(hdr, sizeof hdr, "Retry-After: %a, %d %b %Y %H:%M:%S GMT\r\n",
             &tm);
    mock_http_push(m, &r);
    CHECK_OK(am_llm_chat_msgs(llm, two_msgs, 2, &text, &res));
    CHECK_EQ(sl.count, 1);
    CHECK(sl.ms[0] >= 3000 && sl.ms[0] <= 5000);
    am_buf_free(&text);
    am_llm_free(llm);
    mock_http_stop(m);
}

static am_status create_free_body(void *ctx, const am_allocator *alloc)
{
    const char *hdrs[] = { "A: 1", "B: 2" };
    am_llm_opts o = am_llm_opts_default();
    am_openai_embed_opts eo = am_openai_embed_opts_default();
    am_llm *llm = NULL;
    am_embedder *e = NULL;
    am_status st;
    (void)ctx;

    o.kind = AM_LLM_ANTHROPIC;
    o.model = "m";
    o.api_key = "k";
    o.alloc = alloc;
    o.http.headers = hdrs;
    o.http.header_count = 2;
    st = am_llm_create(&o, &llm, NULL);
    if (st != AM_OK)
        return st;
    am_llm_free(llm);
    eo.model = "e";
    eo.api_key = "k";
    eo.dim = 4;
    eo.alloc = alloc;
    eo.http.headers = hdrs;
    eo.http.header_count = 2;
    st = am_embedder_openai_create(&eo, &e, NULL);
    if (st == AM_OK) {
        CHECK_STR_EQ(e->id, "openai-compat/e/4");
        am_embedder_free(e);
    }
    return st;
}

AM_TEST(create_survives_oom)
{
    CHECK(test_oom_sweep(create_free_body, NULL) > 5);
}

/* The mock's custom handler (for other modules' tests): answers what it
 * wants and passes the rest to the built-in protocol. */
static bool summary_handler(void *ctx, const mock_request *req,
                            mock_reply *out)
{
    int *calls = ctx;
    if (strstr(req->body, "SUMMARIZE") == NULL)
        return false;
    (*calls)++;
    out->body = mock_strdup("{\"choices\":[{\"message\":{\"content\":"
                            "\"the summary\"},\"finish_reason\":\"stop\"}],"
                            "\"usage\":{\"prompt_tokens\":9,"
                            "\"completion_tokens\":2}}");
    out->headers = mock_strdup("X-Mock: 1\r\n");
    return true;
}

AM_TEST(mock_handler_answers_before_the_builtin_protocol)
{
    int calls = 0;
    mock_http_opts mo = { .handler = summary_handler, .handler_ctx = &calls };
    mock_http *m = mock_http_start(&mo);
    sleeps sl = { { 0 }, 0 };
    am_llm *llm = new_llm(m, AM_LLM_OPENAI, NULL, &sl, 0);
    am_llm_msg sum = { AM_STR("user"), AM_STR("SUMMARIZE this") };
    am_buf text = AM_BUF_INIT;
    am_llm_result res;

    CHECK_OK(am_llm_chat_msgs(llm, &sum, 1, &text, &res));
    CHECK_STR_EQ(text.ptr, "the summary");
    CHECK_EQ(res.usage.input_tokens, 9);
    CHECK_OK(am_llm_chat_msgs(llm, two_msgs, 2, &text, &res));
    CHECK_STR_EQ(text.ptr, "echo: hello");
    CHECK_EQ(calls, 1);
    am_buf_free(&text);
    am_llm_free(llm);
    mock_http_stop(m);
}

/* ---- The embeddings reply scanner against jansson ---- */

static double rnd_unit(test_rng *tr)
{
    return (double)(test_rng_u64(tr) >> 11) / 9007199254740992.0;
}

/* A valid reply for `count` vectors of `dim` random numbers, built with
 * jansson (reals printed with 17 significant digits) and the values it
 * holds, in index order. */
static char *random_reply(test_rng *tr, size_t count, size_t dim,
                          double *values)
{
    json_t *data = json_array();
    json_t *root;
    char *s;
    for (size_t k = 0; k < count; k++) {
        size_t idx = count - 1 - k; /* reversed order */
        json_t *vec = json_array();
        for (size_t j = 0; j < dim; j++) {
            int scale = (int)(test_rng_u64(tr) % 9);
            double v = (rnd_unit(tr) * 2 - 1) *
                       (scale == 0 ? 1e-40 : scale == 1 ? 1e30
                        : scale == 2 ? 1.0 / (1 << 20) : 1.0);
            if (scale >= 3 && test_rng_u64(tr) % 16 == 0)
                v = (double)(int)(v * 1000); /* integers too */
            values[idx * dim + j] = v;
            json_array_append_new(vec, json_real(v));
        }
        json_array_append_new(data, json_pack("{s:s,s:I,s:o}", "object",
                                              "embedding", "index",
                                              (json_int_t)idx, "embedding",
                                              vec));
    }
    root = json_pack("{s:s,s:o,s:s,s:{s:i}}", "object", "list", "data",
                     data, "model", "m\\u00e9", "usage", "prompt_tokens", 5);
    s = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    return s;
}

static bool within_ulp(float got, double want)
{
    float w = (float)want;
    return got == w || got == nextafterf(w, INFINITY) ||
           got == nextafterf(w, -INFINITY);
}

AM_TEST(embed_reply_scanner_matches_jansson_values)
{
    test_rng tr = { 7 };
    double values[5 * 24];
    float out[5 * 24];
    am_error err;

    for (int round = 0; round < 300; round++) {
        size_t count = 1 + test_rng_u64(&tr) % 5;
        size_t dim = 1 + test_rng_u64(&tr) % 24;
        size_t got_dim = round % 2 == 0 ? dim : 0;
        char *body = random_reply(&tr, count, dim, values);
        CHECK_OK_E(am__embed_parse_reply(am_str_c(body), count, &got_dim,
                                         got_dim == 0 ? NULL : out, &err),
                   &err);
        CHECK_EQ(got_dim, dim);
        if (round % 2 == 0)
            for (size_t i = 0; i < count * dim; i++)
                if (!within_ulp(out[i], values[i]))
                    fail_msg("value %zu: got %.9g, want %.17g in %s", i,
                             (double)out[i], values[i], body);
        free(body);
    }
}

AM_TEST(embed_reply_scanner_number_forms)
{
    static const struct {
        const char *text;
        double want;
    } cases[] = {
        { "0", 0 },          { "-0", -0.0 },          { "1E2", 100 },
        { "1e+2", 100 },     { "-2.5e-3", -2.5e-3 },  { "0.000123", 1.23e-4 },
        { "123456789012345678901234", 1.2345678901234568e23 },
        { "0.12345678901234567890123", 0.12345678901234568 },
        { "1e-300", 1e-300 }, { "3.4e38", 3.4e38 },
        { "0.1e1", 1 },      { "100", 100 },
        { "0.000000000000000000000000000000012345", 1.2345e-32 },
        { "-1234567890123456789012345678901234567890.5e-10", -1.2345678901234568e29 },
        { "12345678901234567890123456789012345678901234567890123456789012345", 1.2345678901234568e64 },
        { "1e100000", INFINITY }, { "0.0e5", 0 },
        { "1.5e-35", 1.5e-35 }, { "-2.5e35", -2.5e35 },
        { "0.00000000000000000000000000000000000000000000001", 1e-47 },
    };
    char body[256];
    float out[1];
    am_error err;

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t dim = 1;
        snprintf(body, sizeof body, "{\"data\":[{\"embedding\":[%s]}]}",
                 cases[i].text);
        if (fabs(cases[i].want) > FLT_MAX) {
            CHECK_ST(am__embed_parse_reply(am_str_c(body), 1, &dim, out,
                                           &err), AM_EPROTO);
            CHECK_HAS(err.msg, "not a finite float");
            continue;
        }
        CHECK_OK_E(am__embed_parse_reply(am_str_c(body), 1, &dim, out, &err),
                   &err);
        if (!within_ulp(out[0], cases[i].want))
            fail_msg("%s: got %.9g", cases[i].text, (double)out[0]);
    }
    {
        size_t dim = 1;
        CHECK_ST(am__embed_parse_reply(
                     AM_STR("{\"data\":[{\"embedding\":[1e39]}]}"), 1, &dim,
                     out, &err), AM_EPROTO);
        CHECK_HAS(err.msg, "'data[0].embedding[0]' is not a finite float");
    }
}

AM_TEST(embed_reply_scanner_rejects_what_jansson_rejects)
{
    test_rng tr = { 99 };
    double values[3 * 4];
    char *body = random_reply(&tr, 3, 4, values);
    size_t len = strlen(body);
    char *mut = malloc(len + 1);
    static const char bytes[] = "{}[],:\"\\-+.eE0123456789 tfnx\x01\xff";
    float out[12];
    am_error err;
    int rejected = 0;

    /* Every proper prefix is malformed. */
    for (size_t n = 0; n < len; n++) {
        size_t dim = 4;
        CHECK_ST(am__embed_parse_reply((am_str){ body, n }, 3, &dim, out,
                                       &err), AM_EPROTO);
    }
    /* One-byte mutations: whatever jansson refuses, we refuse. */
    for (int round = 0; round < 3000; round++) {
        size_t dim = 4;
        json_t *j;
        am_status st;
        memcpy(mut, body, len + 1);
        mut[test_rng_u64(&tr) % len] =
            bytes[test_rng_u64(&tr) % (sizeof bytes - 1)];
        j = json_loadb(mut, len, JSON_ALLOW_NUL, NULL);
        st = am__embed_parse_reply((am_str){ mut, len }, 3, &dim, out, &err);
        if (j == NULL) {
            if (st == AM_OK)
                fail_msg("accepted malformed JSON: %s", mut);
            CHECK_EQ(st, AM_EPROTO);
            rejected++;
        }
        json_decref(j);
    }
    CHECK(rejected > 100);
    {
        size_t dim = 0;
        CHECK_ST(am__embed_parse_reply(
                     AM_STR("{\"data\":[{\"embedding\":[1]}]} x"), 1, &dim,
                     NULL, &err), AM_EPROTO);
        CHECK_HAS(err.msg, "end of input expected at byte");
        CHECK_ST(am__embed_parse_reply(
                     AM_STR("{\"data\":[{\"embedding\":[1,]}]}"), 1, &dim,
                     NULL, &err), AM_EPROTO);
        CHECK_ST(am__embed_parse_reply(
                     AM_STR("{\"data\":[{\"embedding\":[01]}]}"), 1, &dim,
                     NULL, &err), AM_EPROTO);
        CHECK_ST(am__embed_parse_reply(
                     AM_STR("{\"data\":[{\"x\":\"\\q\",\"embedding\":[1]}]}"),
                     1, &dim, NULL, &err), AM_EPROTO);
        CHECK_HAS(err.msg, "invalid escape");
        CHECK_ST(am__embed_parse_reply(
                     AM_STR("{\"data\":[{\"x\":\"\xc3\",\"embedding\":[1]}]}"),
                     1, &dim, NULL, &err), AM_EPROTO);
        CHECK_HAS(err.msg, "UTF-8");
        CHECK_OK(am__embed_parse_reply(
                     AM_STR(" {\"x\":{\"y\":[true,false,null,\"\\u00e9\\n\"]},"
                            "\"data\":[{\"embedding\":[1],\"index\":0}]} "),
                     1, &dim, NULL, &err));
        CHECK_EQ(dim, 1);
    }
    free(mut);
    free(body);
}

AM_TEST(deadline_stops_retrying_before_it_passes)
{
    mock_http *m = mock_http_start(NULL);
    am_llm_opts o = am_llm_opts_default();
    sleeps sl = { { 0 }, 0 };
    am_llm *llm = NULL;
    am_buf text = AM_BUF_INIT;
    am_llm_result res;
    mock_reply busy = { .status = 503, .body = "{}",
                        .headers = "Retry-After: 0.4\r\n" };

    o.base_url = url_with(m, "/v1");
    o.model = "m";
    o.http.max_retries = 10;
    o.http.deadline_ms = 1000;
    o.http.sleep = record_sleep;
    o.http.sleep_ctx = &sl;
    CHECK_OK(am_llm_create(&o, &llm, NULL));
    for (int i = 0; i < 10; i++)
        mock_http_push(m, &busy);
    CHECK_ST(am_llm_chat_msgs(llm, two_msgs, 2, &text, &res), AM_ENET);
    CHECK_EQ(res.attempts, 3); /* waits 400 + 400; a third would pass 1 s */
    CHECK_EQ(sl.count, 2);
    CHECK_HAS(res.error.msg, "HTTP 503");
    CHECK_HAS(res.error.msg, "1000 ms deadline");
    am_buf_free(&text);
    am_llm_free(llm);
    mock_http_stop(m);

    o.http.deadline_ms = -5;
    CHECK_ST(am_llm_create(&o, &llm, NULL), AM_EINVAL);
}

AM_TEST(quota_exhaustion_and_x_should_retry_decide_retries)
{
    mock_http *m = mock_http_start(NULL);
    sleeps sl = { { 0 }, 0 };
    am_llm *llm = new_llm(m, AM_LLM_OPENAI, NULL, &sl, 3);
    am_buf text = AM_BUF_INIT;
    am_llm_result res;
    mock_reply quota = { .status = 429,
                         .body = "{\"error\":{\"message\":\"You exceeded "
                                 "your current quota\",\"type\":"
                                 "\"insufficient_quota\"}}" };
    mock_reply no = { .status = 500, .body = "{}",
                      .headers = "x-should-retry: false\r\n" };
    mock_reply yes = { .status = 409, .body = "{}",
                       .headers = "X-Should-Retry: true\r\n" };

    mock_http_push(m, &quota);
    CHECK_ST(am_llm_chat_msgs(llm, two_msgs, 2, &text, &res), AM_ELIMIT);
    CHECK_EQ(res.attempts, 1); /* billing does not heal by waiting */
    CHECK_HAS(res.error.msg, "exceeded your current quota");
    mock_http_push(m, &no);
    CHECK_ST(am_llm_chat_msgs(llm, two_msgs, 2, &text, &res), AM_ENET);
    CHECK_EQ(res.attempts, 1);
    mock_http_push(m, &yes);
    CHECK_OK(am_llm_chat_msgs(llm, two_msgs, 2, &text, &res));
    CHECK_EQ(res.attempts, 2);
    CHECK_EQ(sl.count, 1);
    am_buf_free(&text);
    am_llm_free(llm);
    mock_http_stop(m);
}

/* ---- OOM through the real HTTP path ---- */

/* A long chat reply (the reply buffer grows many times). */
static bool long_reply(void *ctx, const mock_request *req, mock_reply *out)
{
    static const char head[] =
        "{\"id\":\"x\",\"object\":\"chat.completion\",\"model\":\"test-model\","
        "\"choices\":[{\"index\":0,\"finish_reason\":\"stop\",\"message\":{"
        "\"role\":\"assistant\",\"content\":\"";
    static const char tail[] =
        "\"}}],\"usage\":{\"prompt_tokens\":7,\"completion_tokens\":9}}";
    size_t n = 40000;
    char *b;
    (void)ctx;
    if (strstr(req->path, "/chat/completions") == NULL)
        return false;
    b = malloc(sizeof head + n + sizeof tail);
    if (b == NULL)
        return false;
    memcpy(b, head, sizeof head - 1);
    memset(b + sizeof head - 1, 'w', n);
    memcpy(b + sizeof head - 1 + n, tail, sizeof tail);
    out->status = 200;
    out->body = b;
    return true;
}

static am_status http_oom_body(void *ctx, const am_allocator *a)
{
    mock_http *m = ctx;
    am_llm_opts o = am_llm_opts_default();
    am_openai_embed_opts eo = am_openai_embed_opts_default();
    am_llm *llm = NULL;
    am_embedder *emb = NULL;
    am_buf text = AM_BUF_INIT, raw = AM_BUF_INIT;
    am_llm_result res;
    am_llm_request req;
    am_str texts[3] = { AM_STR("one"), AM_STR("two two"),
                        AM_STR("three three three") };
    float vec[3 * 8];
    am_status st;

    o.kind = AM_LLM_OPENAI;
    o.base_url = url_with(m, "/v1");
    o.model = "test-model";
    o.api_key = "k";
    o.http.max_retries = 0;
    o.http.timeout_ms = 5000;
    o.alloc = a;
    text.alloc = a;
    raw.alloc = a;
    st = am_llm_create(&o, &llm, NULL);
    if (st != AM_OK)
        return st;
    memset(&req, 0, sizeof req);
    req.msgs = two_msgs;
    req.count = 2;
    req.raw_reply = &raw;
    st = am_llm_chat(llm, &req, &text, &res);
    if (st == AM_OK && text.len != 40000)
        st = AM_EPROTO;
    if (st != AM_OK && text.len != 0)
        st = AM_EPROTO; /* text is emptied on failure */
    am_llm_free(llm);
    eo.base_url = url_with(m, "/v1");
    eo.model = "test-embed";
    eo.api_key = "k";
    eo.dim = 8;
    eo.max_batch = 2; /* two requests */
    eo.alloc = a;
    if (st == AM_OK)
        st = am_embedder_openai_create(&eo, &emb, NULL);
    if (st == AM_OK)
        st = am_embedder_embed(emb, texts, 3, vec, NULL);
    am_embedder_free(emb);
    am_buf_free(&text);
    am_buf_free(&raw);
    return st;
}

AM_TEST(chat_and_embed_over_http_survive_every_allocation_failure)
{
    mock_http_opts mo = { .handler = long_reply };
    mock_http *m = mock_http_start(&mo);
    CHECK(m != NULL);
    CHECK(test_oom_sweep(http_oom_body, m) > 10);
    mock_http_stop(m);
}

/* Every failing jansson allocation: a request body is the unhooked body
 * or AM_ENOMEM, a reply's text the unhooked text or AM_ENOMEM (never
 * "invalid"/EPROTO for valid JSON, never a field missing). Strings stay
 * under 14 bytes (jansson 2.14 may drop a byte of a longer one while
 * parsing and still succeed). */
static am_status wire_once(am_llm_kind kind, int with_raw, am_buf *body,
                           am_buf *text)
{
    am__llm_params p = { kind, "model", 0.5, 100, false };
    am_llm_request req;
    am_llm_result res;
    am_error err;
    am_status st;
    const char *reply =
        kind == AM_LLM_OPENAI
            ? "{\"choices\":[{\"message\":{\"content\":\"summary\"},"
              "\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":3}}"
            : "{\"content\":[{\"type\":\"text\",\"text\":\"sum\"},"
              "{\"type\":\"text\",\"text\":\"mary\"}],\"stop_reason\":"
              "\"end_turn\"}";

    memset(&req, 0, sizeof req);
    memset(&res, 0, sizeof res);
    if (with_raw) {
        req.messages_json = AM_STR("[{\"role\":\"system\",\"content\":\"s\"},"
                                   "{\"role\":\"user\",\"content\":\"hi\"}]");
    } else {
        req.msgs = two_msgs;
        req.count = 2;
    }
    req.system = AM_STR("sys");
    req.extra_json = AM_STR("{\"top_p\":0.5,\"stop\":[\"x\",\"y\"]}");
    am_buf_clear(body);
    am_buf_clear(text);
    st = am__llm_build_body(&p, &req, body, &err);
    if (st == AM_OK)
        st = am__llm_parse_reply(kind, am_str_c(reply), text, &res, &err);
    if (st != AM_OK && st != AM_ENOMEM)
        fprintf(stderr, "wire: %s\n", err.msg);
    return st;
}

AM_TEST(wire_bodies_and_replies_are_whole_or_an_error_when_jansson_runs_out)
{
    am_buf wb = AM_BUF_INIT, wt = AM_BUF_INIT, gb = AM_BUF_INIT,
           gt = AM_BUF_INIT;
    for (int k = 0; k < 2; k++) {
        am_llm_kind kind = k ? AM_LLM_ANTHROPIC : AM_LLM_OPENAI;
        for (int raw = 0; raw < 2; raw++) {
            long n;
            CHECK_OK(wire_once(kind, raw, &wb, &wt));
            for (n = 1;; n++) {
                jansson_fail_begin(n);
                am_status st = wire_once(kind, raw, &gb, &gt);
                int all_tried = jansson_fail_end();
                if (st == AM_OK) {
                    CHECK_STR_EQ(gb.ptr, wb.ptr);
                    CHECK_STR_EQ(gt.ptr, wt.ptr);
                } else {
                    CHECK_EQ(st, AM_ENOMEM);
                }
                if (all_tried)
                    break;
            }
            CHECK(n > 5);
        }
    }
    am_buf_free(&wb);
    am_buf_free(&wt);
    am_buf_free(&gb);
    am_buf_free(&gt);
}

/* The embeddings request body: the unhooked body or AM_ENOMEM. */
AM_TEST(embed_body_is_whole_or_an_error_when_jansson_runs_out)
{
    am_str texts[3] = { AM_STR("a"), AM_STR("bc"), AM_STR("") };
    am_buf want = AM_BUF_INIT, got = AM_BUF_INIT;
    am_error err;
    long n;
    CHECK_OK(am__embed_build_body("m", 2, texts, 3, &want, &err));
    for (n = 1;; n++) {
        am_buf_clear(&got);
        jansson_fail_begin(n);
        am_status st = am__embed_build_body("m", 2, texts, 3, &got, &err);
        int all_tried = jansson_fail_end();
        if (st == AM_OK)
            CHECK_STR_EQ(got.ptr, want.ptr);
        else
            CHECK_EQ(st, AM_ENOMEM);
        if (all_tried)
            break;
    }
    CHECK(n > 5);
    am_buf_free(&want);
    am_buf_free(&got);
}
