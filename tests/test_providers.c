/* test_providers.c -- the chat client: success, bad keys, 429 with Retry-After,
 * 5xx, malformed and incomplete replies, timeouts (one test waits 150 ms for
 * a real one), connections closed mid-reply and refused, bad input, and
 * the wire bodies under OOM
 *
 * Against a loopback server (mock_http.c) through the real libcurl code
 * path. Retries never sleep: the clients get a recording sleep function.
 */
#include "providers_fixture.h"

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
    am_error err = { AM_OK, "" };

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
    o.api_key = "del\x7fkey";
    CHECK_ST(am_llm_create(&o, &llm, &err), AM_EINVAL);
    CHECK_HAS(err.msg, "control characters");
    o.api_key = NULL;
    o.base_url = "http://a b/v1";
    CHECK_ST(am_llm_create(&o, &llm, &err), AM_EINVAL);
    CHECK_HAS(err.msg, "'base_url'");
    o.base_url = NULL;
    o.temperature = 3;
    CHECK_ST(am_llm_create(&o, &llm, &err), AM_EINVAL);
    CHECK_HAS(err.msg, "'temperature'");
    o.temperature = -1;
    CHECK_OK(am_llm_create(&o, &llm, &err));
    CHECK_STR_EQ(am_llm_model(llm), "m");
    am_llm_free(llm);
    am_llm_free(NULL);

    am_llm_kind k;
    CHECK_OK(am_llm_kind_parse(AM_STR("ollama"), &k, NULL));
    CHECK_EQ(k, AM_LLM_OPENAI);
    CHECK_OK(am_llm_kind_parse(AM_STR("anthropic"), &k, NULL));
    CHECK_EQ(k, AM_LLM_ANTHROPIC);
    CHECK_ST(am_llm_kind_parse(AM_STR("gemini"), &k, NULL), AM_EINVAL);
}

/* ---- Chat: OOM ---- */


/* OOM sweep over the request builder and the reply parser, the parts of a
 * call that allocate through the caller's allocator. */
static am_status chat_build_parse_body(void *ctx, const am_allocator *alloc)
{
    am_buf body = AM_BUF_INIT, text = AM_BUF_INIT;
    am__llm_params p = { (am_llm_kind)(intptr_t)ctx, "model", 0.5, 100,
                         false };
    am_llm_request req;
    am_llm_result res;
    am_error err = { AM_OK, "" };
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
    am_error err = { AM_OK, "" };
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

/* A token count written as a huge double is clamped, never cast: 1e300
 * became -2^63 (undefined behaviour, and a negative bill). */
AM_TEST(reply_usage_as_huge_doubles_is_clamped)
{
    static const char reply[] =
        "{\"choices\":[{\"message\":{\"role\":\"assistant\","
        "\"content\":\"hi\"},\"finish_reason\":\"stop\"}],"
        "\"usage\":{\"prompt_tokens\":12.0,\"completion_tokens\":1e300}}";
    am_buf text = AM_BUF_INIT;
    am_llm_result res;
    am_error err = { AM_OK, "" };

    memset(&res, 0, sizeof res);
    CHECK_OK_E(am__llm_parse_reply(AM_LLM_OPENAI, am_str_c(reply), &text,
                                   &res, &err), &err);
    CHECK(res.usage.input_tokens == 12);
    CHECK(res.usage.output_tokens == INT64_MAX);
    am_buf_free(&text);
}

AM_TEST(llm_kind_parse_names_the_unknown_kind)
{
    am_llm_kind k = AM_LLM_ANTHROPIC;
    am_error err = { AM_OK, "" };
    CHECK_ST(am_llm_kind_parse(AM_STR("gemini"), &k, &err), AM_EINVAL);
    CHECK(strstr(err.msg, "'gemini'") != NULL);
    CHECK_EQ(k, AM_LLM_ANTHROPIC);
    CHECK_STR_EQ(am_llm_kind_name((am_llm_kind)7), "?");
}
