/* test_providers_promises.c -- the small promises of providers.h that the
 * protocol suites (test_providers*.c) do not hold: the defaults, where the
 * API key comes from and where it goes, the headers sent with every
 * request, the status codes the mapping at the top of the header names,
 * every finish word, the result's fixed-size fields, and the aliases of
 * am_llm_kind_parse
 *
 * Against a loopback server (mock_http.c) through the real libcurl code
 * path. Retries never sleep: the clients get a recording sleep function.
 */
#include "providers_fixture.h"

#include "agentmem/version.h"

/* ---- Defaults ---- */

static void check_http_defaults(const am_http_opts *h)
{
    CHECK_EQ(h->connect_timeout_ms, 10000);
    CHECK_EQ(h->timeout_ms, 120000);
    CHECK_EQ(h->max_retries, 3);
    CHECK_EQ(h->backoff_base_ms, 500);
    CHECK_EQ(h->backoff_max_ms, 20000);
    CHECK_EQ(h->retry_after_max_ms, 60000);
    CHECK(h->max_response_bytes == (size_t)64 << 20);
    CHECK_EQ(h->deadline_ms, 0);
    CHECK(h->sleep == NULL);
    CHECK(h->sleep_ctx == NULL);
    CHECK(h->rng == NULL);
    CHECK(h->user_agent == NULL);
    CHECK(h->headers == NULL);
    CHECK_EQ(h->header_count, 0);
}

AM_TEST(defaults_are_what_the_header_says)
{
    am_http_opts h = am_http_opts_default();
    am_llm_opts o = am_llm_opts_default();
    am_openai_embed_opts eo = am_openai_embed_opts_default();
    am_llm *llm = (am_llm *)&o;
    am_embedder *e = (am_embedder *)&o;
    am_error err = { AM_OK, "" };

    check_http_defaults(&h);

    CHECK_EQ(o.kind, AM_LLM_OPENAI);
    CHECK(o.base_url == NULL && o.model == NULL && o.api_key == NULL &&
          o.api_key_env == NULL && o.anthropic_version == NULL &&
          o.alloc == NULL);
    CHECK(o.temperature == -1);
    CHECK_EQ(o.max_tokens, 0);
    CHECK(!o.max_completion_tokens);
    check_http_defaults(&o.http);

    CHECK(eo.base_url == NULL && eo.model == NULL && eo.api_key == NULL &&
          eo.api_key_env == NULL && eo.alloc == NULL);
    CHECK_EQ(eo.dim, 0);
    CHECK(!eo.send_dimensions);
    CHECK_EQ(eo.max_batch, 128);
    CHECK_EQ(eo.max_batch_bytes, 256 * 1024);
    check_http_defaults(&eo.http);

    /* NULL options are the defaults, which lack a model. */
    CHECK_ST(am_llm_create(NULL, &llm, &err), AM_EINVAL);
    CHECK(llm == NULL);
    CHECK_HAS(err.msg, "'model' is required");
    CHECK_ST(am_embedder_openai_create(NULL, &e, &err), AM_EINVAL);
    CHECK(e == NULL);
    CHECK_HAS(err.msg, "'model' is required");
}

/* The default base URLs are the providers' own: seen through a proxy
 * (the mock), which receives the CONNECT for the default host. */
static void check_default_host(am_llm_kind kind, const char *host)
{
    mock_http *m = mock_http_start(NULL);
    am_llm_opts o = am_llm_opts_default();
    am_llm *llm = NULL;
    am_buf text = AM_BUF_INIT;
    am_llm_result res;

    setenv("https_proxy", mock_http_url(m), 1);
    setenv("HTTPS_PROXY", mock_http_url(m), 1);
    unsetenv("no_proxy");
    unsetenv("NO_PROXY");
    o.kind = kind;
    o.model = "m";
    o.api_key = "k";
    o.http.max_retries = 0;
    o.http.timeout_ms = 5000;
    CHECK_OK(am_llm_create(&o, &llm, NULL));
    CHECK(am_llm_chat_msgs(llm, two_msgs, 2, &text, &res) != AM_OK);
    unsetenv("https_proxy");
    unsetenv("HTTPS_PROXY");
    CHECK_EQ(mock_http_count(m), 1);
    CHECK_STR_EQ(mock_http_request(m, 0)->method, "CONNECT");
    CHECK_STR_EQ(mock_http_request(m, 0)->path, host);
    am_buf_free(&text);
    am_llm_free(llm);
    mock_http_stop(m);
}

AM_TEST(default_base_urls_are_the_providers_own)
{
    check_default_host(AM_LLM_OPENAI, "api.openai.com:443");
    check_default_host(AM_LLM_ANTHROPIC, "api.anthropic.com:443");
}

/* ---- The API key ---- */

/* The auth header of the last request, or NULL when none was sent. */
static const char *last_auth(mock_http *m, am_llm_kind kind, char *hv,
                             size_t cap)
{
    const mock_request *rq = mock_http_request(m, mock_http_count(m) - 1);
    return mock_header(rq, kind == AM_LLM_OPENAI ? "authorization"
                                                 : "x-api-key", hv, cap);
}

AM_TEST(the_key_comes_from_the_option_then_the_default_variable)
{
    mock_http *m = mock_http_start(NULL);
    am_buf text = AM_BUF_INIT;
    am_llm_result res;
    char hv[64];
    am_llm *llm;
    char *old_oai = getenv("OPENAI_API_KEY"), *old_ant =
        getenv("ANTHROPIC_API_KEY");
    char keep_oai[256] = "", keep_ant[256] = "";

    if (old_oai != NULL)
        snprintf(keep_oai, sizeof keep_oai, "%s", old_oai);
    if (old_ant != NULL)
        snprintf(keep_ant, sizeof keep_ant, "%s", old_ant);
    setenv("OPENAI_API_KEY", "sk-from-env", 1);
    setenv("ANTHROPIC_API_KEY", "ak-from-env", 1);

    /* api_key_env NULL: the provider's own variable. */
    llm = new_llm_env(m, AM_LLM_OPENAI, NULL, NULL, NULL, 0);
    CHECK_OK(am_llm_chat_msgs(llm, two_msgs, 2, &text, &res));
    CHECK_STR_EQ(last_auth(m, AM_LLM_OPENAI, hv, sizeof hv),
                 "Bearer sk-from-env");
    am_llm_free(llm);
    llm = new_llm_env(m, AM_LLM_ANTHROPIC, NULL, NULL, NULL, 0);
    CHECK_OK(am_llm_chat_msgs(llm, two_msgs, 2, &text, &res));
    CHECK_STR_EQ(last_auth(m, AM_LLM_ANTHROPIC, hv, sizeof hv),
                 "ak-from-env");
    am_llm_free(llm);

    /* api_key wins over the variable. */
    llm = new_llm_env(m, AM_LLM_OPENAI, "sk-option", NULL, NULL, 0);
    CHECK_OK(am_llm_chat_msgs(llm, two_msgs, 2, &text, &res));
    CHECK_STR_EQ(last_auth(m, AM_LLM_OPENAI, hv, sizeof hv),
                 "Bearer sk-option");
    am_llm_free(llm);

    /* No key: no auth header at all, and a 401 names the empty default
     * variable. */
    unsetenv("OPENAI_API_KEY");
    unsetenv("ANTHROPIC_API_KEY");
    for (int k = 0; k < 2; k++) {
        am_llm_kind kind = k ? AM_LLM_ANTHROPIC : AM_LLM_OPENAI;
        mock_reply r401 = { .status = 401, .body = "{}" };
        llm = new_llm_env(m, kind, NULL, NULL, NULL, 0);
        CHECK_OK(am_llm_chat_msgs(llm, two_msgs, 2, &text, &res));
        CHECK(last_auth(m, kind, hv, sizeof hv) == NULL);
        CHECK(mock_header(mock_http_request(m, mock_http_count(m) - 1),
                          "authorization", hv, sizeof hv) == NULL);
        mock_http_push(m, &r401);
        CHECK_ST(am_llm_chat_msgs(llm, two_msgs, 2, &text, &res), AM_EAUTH);
        CHECK_HAS(res.error.msg, k ? "$ANTHROPIC_API_KEY is not set"
                                   : "$OPENAI_API_KEY is not set");
        am_llm_free(llm);
    }

    /* The embedder reads $OPENAI_API_KEY too, and its key option wins. */
    {
        am_openai_embed_opts eo = am_openai_embed_opts_default();
        am_embedder *e = NULL;
        am_str t = AM_STR("x");
        float v[8];

        setenv("OPENAI_API_KEY", "sk-embed-env", 1);
        eo.base_url = url_with(m, "/v1");
        eo.model = "e";
        eo.dim = 8;
        CHECK_OK(am_embedder_openai_create(&eo, &e, NULL));
        CHECK_OK(am_embedder_embed(e, &t, 1, v, NULL));
        CHECK_STR_EQ(last_auth(m, AM_LLM_OPENAI, hv, sizeof hv),
                     "Bearer sk-embed-env");
        am_embedder_free(e);
        eo.api_key = "sk-embed-option";
        CHECK_OK(am_embedder_openai_create(&eo, &e, NULL));
        CHECK_OK(am_embedder_embed(e, &t, 1, v, NULL));
        CHECK_STR_EQ(last_auth(m, AM_LLM_OPENAI, hv, sizeof hv),
                     "Bearer sk-embed-option");
        am_embedder_free(e);
    }

    if (old_oai != NULL)
        setenv("OPENAI_API_KEY", keep_oai, 1);
    else
        unsetenv("OPENAI_API_KEY");
    if (old_ant != NULL)
        setenv("ANTHROPIC_API_KEY", keep_ant, 1);
    else
        unsetenv("ANTHROPIC_API_KEY");
    am_buf_free(&text);
    mock_http_stop(m);
}

/* ---- What every request carries ---- */

AM_TEST(options_are_copied_and_user_agent_and_version_are_sent)
{
    mock_http *m = mock_http_start(NULL);
    am_llm_opts o = am_llm_opts_default();
    am_llm *llm = NULL;
    am_buf text = AM_BUF_INIT;
    am_llm_result res;
    char hv[96], want[96];
    char model[16] = "copied-model", key[16] = "ak-copied",
         ver[16] = "2099-01-01", base[128], hdr[32] = "X-Copied: yes";
    const char *hdrs[1] = { hdr };

    /* Defaults: agentmem/<version>, anthropic-version 2023-06-01 (held by
     * test_providers); here every string is the caller's buffer, wiped
     * after create. */
    snprintf(base, sizeof base, "%s", mock_http_url(m));
    o.kind = AM_LLM_ANTHROPIC;
    o.base_url = base;
    o.model = model;
    o.api_key = key;
    o.anthropic_version = ver;
    o.http.headers = hdrs;
    o.http.header_count = 1;
    o.http.max_retries = 0;
    CHECK_OK(am_llm_create(&o, &llm, NULL));
    memset(model, 'x', sizeof model - 1);
    memset(key, 'x', sizeof key - 1);
    memset(ver, 'x', sizeof ver - 1);
    memset(base, 'x', sizeof base - 1);
    memset(hdr, 'x', sizeof hdr - 1);
    hdrs[0] = "X-Other: no";
    CHECK_OK_E(am_llm_chat_msgs(llm, two_msgs, 2, &text, &res), &res.error);
    CHECK_STR_EQ(am_llm_model(llm), "copied-model");
    {
        const mock_request *rq = mock_http_request(m, 0);
        json_t *body = json_loads(rq->body, 0, NULL);
        CHECK_STR_EQ(mock_header(rq, "x-api-key", hv, sizeof hv),
                     "ak-copied");
        CHECK_STR_EQ(mock_header(rq, "anthropic-version", hv, sizeof hv),
                     "2099-01-01");
        CHECK_STR_EQ(mock_header(rq, "x-copied", hv, sizeof hv), "yes");
        CHECK(mock_header(rq, "x-other", hv, sizeof hv) == NULL);
        snprintf(want, sizeof want, "agentmem/%s", am_version());
        CHECK_STR_EQ(mock_header(rq, "user-agent", hv, sizeof hv), want);
        CHECK_STR_EQ(json_string_value(json_object_get(body, "model")),
                     "copied-model");
        json_decref(body);
    }
    am_llm_free(llm);

    /* A user_agent of the caller's own. */
    o.kind = AM_LLM_OPENAI;
    o.base_url = url_with(m, "/v1");
    o.model = "m";
    o.http.headers = NULL;
    o.http.header_count = 0;
    o.http.user_agent = "my-agent/2.0";
    CHECK_OK(am_llm_create(&o, &llm, NULL));
    CHECK_OK(am_llm_chat_msgs(llm, two_msgs, 2, &text, &res));
    CHECK_STR_EQ(mock_header(mock_http_request(m, 1), "user-agent", hv,
                             sizeof hv), "my-agent/2.0");
    am_llm_free(llm);
    am_buf_free(&text);
    mock_http_stop(m);
}

AM_TEST(request_fields_go_where_the_header_says)
{
    mock_http *m = mock_http_start(NULL);
    am_llm_opts o = am_llm_opts_default();
    am_llm *llm = NULL;
    am_buf text = AM_BUF_INIT, raw = AM_BUF_INIT;
    am_llm_result res;
    am_llm_request req;
    am_llm_msg user = { AM_STR("user"), AM_STR("hi") };
    json_t *body, *first;

    /* OpenAI: the system prompt is a first "system" message; the
     * handle's max_tokens goes as "max_tokens"; temperature 2 is the
     * edge that is still accepted. */
    o.base_url = url_with(m, "/v1");
    o.model = "m";
    o.max_tokens = 77;
    o.temperature = 2;
    o.http.max_retries = 0;
    CHECK_OK(am_llm_create(&o, &llm, NULL));
    memset(&req, 0, sizeof req);
    req.msgs = &user;
    req.count = 1;
    req.system = AM_STR("be terse");
    req.raw_reply = &raw;
    CHECK_OK(am_buf_append(&raw, "stale", 5));
    CHECK_OK_E(am_llm_chat(llm, &req, &text, &res), &res.error);
    body = json_loads(mock_http_request(m, 0)->body, 0, NULL);
    first = json_array_get(json_object_get(body, "messages"), 0);
    CHECK_STR_EQ(json_string_value(json_object_get(first, "role")),
                 "system");
    CHECK_STR_EQ(json_string_value(json_object_get(first, "content")),
                 "be terse");
    CHECK_EQ(json_array_size(json_object_get(body, "messages")), 2);
    CHECK_EQ(json_integer_value(json_object_get(body, "max_tokens")), 77);
    CHECK(json_real_value(json_object_get(body, "temperature")) == 2.0);
    json_decref(body);
    /* raw_reply is replaced, not appended to. */
    CHECK(raw.len > 0 && raw.ptr[0] == '{');
    am_llm_free(llm);

    /* Anthropic ignores max_completion_tokens (OpenAI only): the cap is
     * still "max_tokens", the field its API requires. */
    o.kind = AM_LLM_ANTHROPIC;
    o.base_url = mock_http_url(m);
    o.max_completion_tokens = true;
    CHECK_OK(am_llm_create(&o, &llm, NULL));
    CHECK_OK_E(am_llm_chat_msgs(llm, &user, 1, &text, &res), &res.error);
    body = json_loads(mock_http_request(m, 1)->body, 0, NULL);
    CHECK_EQ(json_integer_value(json_object_get(body, "max_tokens")), 77);
    CHECK(json_object_get(body, "max_completion_tokens") == NULL);
    json_decref(body);
    am_llm_free(llm);

    /* More bad options by name: a negative connect timeout, an
     * anthropic_version with a line break. */
    {
        am_error err = { AM_OK, "" };
        o.http.connect_timeout_ms = -1;
        CHECK_ST(am_llm_create(&o, &llm, &err), AM_EINVAL);
        CHECK(llm == NULL);
        CHECK_HAS(err.msg, "connect_timeout_ms -1");
        o.http.connect_timeout_ms = 1000;
        o.http.max_retries = 101;
        CHECK_ST(am_llm_create(&o, &llm, &err), AM_EINVAL);
        CHECK_HAS(err.msg, "max_retries must be 0..100");
        o.http.max_retries = 100;
        /* max_response_bytes 0 is the default, not "no reply at all". */
        o.http.max_response_bytes = 0;
        CHECK_OK(am_llm_create(&o, &llm, &err));
        CHECK_OK(am_llm_chat_msgs(llm, &user, 1, &text, &res));
        am_llm_free(llm);
        o.anthropic_version = "2023\r\nX: y";
        CHECK_ST(am_llm_create(&o, &llm, &err), AM_EINVAL);
        CHECK_HAS(err.msg, "anthropic_version");
    }
    am_buf_free(&text);
    am_buf_free(&raw);
    mock_http_stop(m);
}

/* ---- The HTTP mapping: the statuses the protocol suites leave out ---- */

AM_TEST(statuses_422_413_and_408_map_as_the_header_says)
{
    mock_http *m = mock_http_start(NULL);
    sleeps sl = { { 0 }, 0 };
    am_llm *llm = new_llm(m, AM_LLM_OPENAI, NULL, &sl, 2);
    am_buf text = AM_BUF_INIT;
    am_llm_result res;
    mock_reply r422 = { .status = 422,
                        .body = "{\"detail\":\"field required: model\"}" };
    mock_reply r422ctx = { .status = 422,
                           .body = "{\"error\":\"prompt is too long for "
                                   "the context window\"}" };
    mock_reply r413 = { .status = 413, .body = "Payload Too Large" };
    mock_reply r408 = { .status = 408, .body = "timeout" };

    mock_http_push(m, &r422);
    CHECK_ST(am_llm_chat_msgs(llm, two_msgs, 2, &text, &res), AM_EINVAL);
    CHECK_HAS(res.error.msg, "422");
    CHECK_HAS(res.error.msg, "field required: model");
    CHECK_EQ(res.attempts, 1);

    mock_http_push(m, &r422ctx);
    CHECK_ST(am_llm_chat_msgs(llm, two_msgs, 2, &text, &res), AM_ELIMIT);
    CHECK_HAS(res.error.msg, "prompt is too long");
    CHECK_EQ(res.attempts, 1);

    mock_http_push(m, &r413);
    CHECK_ST(am_llm_chat_msgs(llm, two_msgs, 2, &text, &res), AM_ELIMIT);
    CHECK_HAS(res.error.msg, "413");
    CHECK_EQ(res.attempts, 1);
    CHECK_EQ(sl.count, 0);

    /* 408 is retried like a 5xx, then AM_ENET. */
    for (int i = 0; i < 3; i++)
        mock_http_push(m, &r408);
    CHECK_ST(am_llm_chat_msgs(llm, two_msgs, 2, &text, &res), AM_ENET);
    CHECK_EQ(res.attempts, 3);
    CHECK_EQ(res.http_status, 408);
    CHECK_HAS(res.error.msg, "HTTP 408");
    CHECK_EQ(sl.count, 2);
    am_buf_free(&text);
    am_llm_free(llm);
    mock_http_stop(m);
}

AM_TEST(retry_after_up_to_its_cap_is_honoured_exactly)
{
    mock_http *m = mock_http_start(NULL);
    am_llm_opts o = am_llm_opts_default();
    sleeps sl = { { 0 }, 0 };
    am_llm *llm = NULL;
    am_buf text = AM_BUF_INIT;
    am_llm_result res;
    mock_reply at_cap = { .status = 429, .body = "{}",
                          .headers = "Retry-After: 3\r\n" };
    mock_reply over = { .status = 429, .body = "{}",
                        .headers = "Retry-After: 4\r\n" };

    o.base_url = url_with(m, "/v1");
    o.model = "m";
    o.http.retry_after_max_ms = 3000;
    o.http.backoff_base_ms = 100;
    o.http.backoff_max_ms = 100;
    o.http.sleep = record_sleep;
    o.http.sleep_ctx = &sl;
    CHECK_OK(am_llm_create(&o, &llm, NULL));
    mock_http_push(m, &at_cap);
    mock_http_push(m, &over);
    CHECK_OK(am_llm_chat_msgs(llm, two_msgs, 2, &text, &res));
    CHECK_EQ(res.attempts, 3);
    CHECK_EQ(sl.count, 2);
    CHECK_EQ(sl.ms[0], 3000);                    /* honoured */
    CHECK(sl.ms[1] >= 50 && sl.ms[1] <= 100);    /* computed instead */
    am_buf_free(&text);
    am_llm_free(llm);
    mock_http_stop(m);
}

/* ---- The reply: finish words, fixed-size fields ---- */

static am_llm_result parse(am_llm_kind kind, const char *reply)
{
    am_buf text = AM_BUF_INIT;
    am_llm_result res;
    am_error err = { AM_OK, "" };

    memset(&res, 0, sizeof res);
    CHECK_OK_E(am__llm_parse_reply(kind, am_str_c(reply), &text, &res,
                                   &err), &err);
    am_buf_free(&text);
    return res;
}

static am_llm_result openai_finish(const char *word)
{
    char reply[256];
    snprintf(reply, sizeof reply,
             "{\"choices\":[{\"message\":{\"content\":\"x\"},"
             "\"finish_reason\":\"%s\"}]}", word);
    return parse(AM_LLM_OPENAI, reply);
}

static am_llm_result anthropic_finish(const char *word)
{
    char reply[256];
    snprintf(reply, sizeof reply,
             "{\"content\":[{\"type\":\"text\",\"text\":\"x\"}],"
             "\"stop_reason\":\"%s\"}", word);
    return parse(AM_LLM_ANTHROPIC, reply);
}

AM_TEST(every_finish_word_of_the_header_maps_and_others_are_unknown)
{
    static const struct {
        const char *word;
        am_llm_finish want;
    } words[] = {
        { "stop", AM_LLM_FINISH_STOP },
        { "end_turn", AM_LLM_FINISH_STOP },
        { "stop_sequence", AM_LLM_FINISH_STOP },
        { "length", AM_LLM_FINISH_LENGTH },
        { "max_tokens", AM_LLM_FINISH_LENGTH },
        { "tool_calls", AM_LLM_FINISH_TOOL },
        { "tool_use", AM_LLM_FINISH_TOOL },
        { "content_filter", AM_LLM_FINISH_FILTER },
        { "refusal", AM_LLM_FINISH_FILTER },
        { "something_new", AM_LLM_FINISH_UNKNOWN },
    };
    am_llm_result res;

    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++) {
        res = openai_finish(words[i].word);
        CHECK_EQ(res.finish, words[i].want);
        CHECK_STR_EQ(res.finish_reason, words[i].word);
        res = anthropic_finish(words[i].word);
        CHECK_EQ(res.finish, words[i].want);
        CHECK_STR_EQ(res.finish_reason, words[i].word);
    }

    /* Absent: UNKNOWN and "". */
    res = parse(AM_LLM_OPENAI, "{\"choices\":[{\"message\":{\"content\":"
                               "\"x\"}}]}");
    CHECK_EQ(res.finish, AM_LLM_FINISH_UNKNOWN);
    CHECK_STR_EQ(res.finish_reason, "");
    CHECK_STR_EQ(res.model, "");
    res = parse(AM_LLM_ANTHROPIC, "{\"content\":[]}");
    CHECK_EQ(res.finish, AM_LLM_FINISH_UNKNOWN);
    CHECK_STR_EQ(res.finish_reason, "");
}

AM_TEST(long_model_and_finish_reason_are_cut_to_their_fields)
{
    char reply[1024], model[300], word[100];
    am_llm_result res;

    memset(model, 'm', sizeof model - 1);
    model[sizeof model - 1] = '\0';
    memset(word, 'w', sizeof word - 1);
    word[sizeof word - 1] = '\0';
    snprintf(reply, sizeof reply,
             "{\"model\":\"%s\",\"choices\":[{\"message\":{\"content\":"
             "\"x\"},\"finish_reason\":\"%s\"}]}", model, word);
    res = parse(AM_LLM_OPENAI, reply);
    CHECK(strlen(res.model) > 0 && strlen(res.model) < sizeof res.model);
    CHECK(strncmp(res.model, model, 32) == 0);
    CHECK(strlen(res.finish_reason) > 0 &&
          strlen(res.finish_reason) < sizeof res.finish_reason);
    CHECK(strncmp(res.finish_reason, word, 16) == 0);
    CHECK_EQ(res.finish, AM_LLM_FINISH_UNKNOWN);
}

/* ---- res may be NULL; the last error ---- */

AM_TEST(res_may_be_null_and_the_last_error_starts_empty)
{
    mock_http *m = mock_http_start(NULL);
    sleeps sl = { { 0 }, 0 };
    am_llm *llm = new_llm(m, AM_LLM_OPENAI, NULL, &sl, 0);
    am_buf text = AM_BUF_INIT;
    am_llm_msg bad = { AM_STR("wizard"), AM_STR("x") };
    const am_error *last = am_llm_last_error(llm);

    CHECK_EQ(last->code, AM_OK);
    CHECK_STR_EQ(last->msg, "");
    CHECK_OK(am_llm_chat_msgs(llm, two_msgs, 2, &text, NULL));
    CHECK_STR_EQ(text.ptr, "echo: hello");
    CHECK_ST(am_llm_chat_msgs(llm, &bad, 1, &text, NULL), AM_EINVAL);
    CHECK_EQ(text.len, 0);
    last = am_llm_last_error(llm);
    CHECK_EQ(last->code, AM_EINVAL);
    CHECK_HAS(last->msg, "role 'wizard'");

    last = am_llm_last_error(NULL);
    CHECK_EQ(last->code, AM_EINVAL);
    am_buf_free(&text);
    am_llm_free(llm);
    mock_http_stop(m);
}

/* ---- Kinds ---- */

AM_TEST(kind_names_and_every_alias_parse)
{
    static const char *const openai[] = { "openai", "openai-compatible",
                                          "ollama", "vllm", "llamacpp",
                                          "lmstudio" };
    am_llm_kind k;

    CHECK_STR_EQ(am_llm_kind_name(AM_LLM_OPENAI), "openai");
    CHECK_STR_EQ(am_llm_kind_name(AM_LLM_ANTHROPIC), "anthropic");
    CHECK_STR_EQ(am_llm_kind_name((am_llm_kind)-1), "?");
    for (size_t i = 0; i < sizeof openai / sizeof openai[0]; i++) {
        k = AM_LLM_ANTHROPIC;
        CHECK_OK(am_llm_kind_parse(am_str_c(openai[i]), &k, NULL));
        CHECK_EQ(k, AM_LLM_OPENAI);
    }
    k = AM_LLM_OPENAI;
    CHECK_OK(am_llm_kind_parse(AM_STR("anthropic"), &k, NULL));
    CHECK_EQ(k, AM_LLM_ANTHROPIC);
    /* Empty, a prefix and a longer word are not kinds. */
    CHECK_ST(am_llm_kind_parse(AM_STR(""), &k, NULL), AM_EINVAL);
    CHECK_ST(am_llm_kind_parse(AM_STR("open"), &k, NULL), AM_EINVAL);
    CHECK_ST(am_llm_kind_parse(AM_STR("openai2"), &k, NULL), AM_EINVAL);
    CHECK_EQ(k, AM_LLM_ANTHROPIC);
}

/* ---- Embeddings ---- */

AM_TEST(embedder_probe_and_default_batch_are_what_the_header_says)
{
    mock_http_opts mo = { .embed_dim = 3 };
    mock_http *m = mock_http_start(&mo);
    am_openai_embed_opts o = am_openai_embed_opts_default();
    am_embedder *e = NULL;
    am_str texts[130];
    float out[130 * 3];
    json_t *body;

    o.base_url = url_with(m, "/v1");
    o.model = "e";
    o.api_key_env = "AM_TEST_NO_SUCH_KEY_VAR";
    CHECK_OK(am_embedder_openai_create(&o, &e, NULL));
    /* dim 0: one probe that embeds "dimension probe". */
    CHECK_EQ(mock_http_count(m), 1);
    body = json_loads(mock_http_request(m, 0)->body, 0, NULL);
    CHECK_STR_EQ(json_string_value(json_array_get(json_object_get(body,
                                                                  "input"),
                                                  0)), "dimension probe");
    CHECK_EQ(json_array_size(json_object_get(body, "input")), 1);
    json_decref(body);
    CHECK_STR_EQ(e->id, "openai-compat/e/3");

    /* max_batch 128 by default: 130 texts are two requests. */
    for (size_t i = 0; i < 130; i++)
        texts[i] = AM_STR("t");
    CHECK_OK(am_embedder_embed(e, texts, 130, out, NULL));
    CHECK_EQ(mock_http_count(m), 3);
    body = json_loads(mock_http_request(m, 1)->body, 0, NULL);
    CHECK_EQ(json_array_size(json_object_get(body, "input")), 128);
    json_decref(body);
    am_embedder_free(e);
    mock_http_stop(m);
}
