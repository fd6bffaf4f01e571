/* test_providers_http.c -- what chat and embeddings share over HTTP: retry
 * arithmetic, excerpts, extra headers, byte caps, Retry-After dates,
 * deadlines and quotas, and OOM through the real HTTP path
 *
 * Against a loopback server (mock_http.c) through the real libcurl code
 * path. Retries never sleep: the clients get a recording sleep function.
 */
#include "providers_fixture.h"

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
    am_error err = { AM_OK, "" };
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
    am_error err = { AM_OK, "" };
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

/* A stop hook that says stop once a wait to retry has begun: the cancel
 * arriving while the call waits out a server's retry-after. */
typedef struct stop_in_wait {
    sleeps *sl;
    int polls;
} stop_in_wait;

static bool stop_once_waiting(void *ctx)
{
    stop_in_wait *s = ctx;
    s->polls++;
    return s->sl->count > 0;
}

static bool never_stop(void *ctx)
{
    stop_in_wait *s = ctx;
    s->polls++;
    return false;
}

AM_TEST(a_cancel_during_a_wait_to_retry_ends_the_wait)
{
    mock_http *m = mock_http_start(NULL);
    sleeps sl = { { 0 }, 0 };
    stop_in_wait stop = { &sl, 0 };
    am_llm *llm = new_llm(m, AM_LLM_OPENAI, NULL, &sl, 3);
    am_buf text = AM_BUF_INIT;
    am_llm_result res;
    am_llm_request req;
    mock_reply busy = { .status = 503, .body = "{}",
                        .headers = "Retry-After: 60\r\n" };

    memset(&req, 0, sizeof req);
    req.msgs = two_msgs;
    req.count = 2;
    req.should_stop = stop_once_waiting;
    req.stop_ctx = &stop;
    mock_http_push(m, &busy);
    CHECK_ST(am_llm_chat(llm, &req, &text, &res), AM_ECANCELED);
    /* One slice of the minute was waited, then the hook was heard: no
     * second attempt, and the message says where the call was. */
    CHECK_EQ(sl.count, 1);
    CHECK_EQ(sl.ms[0], 50);
    CHECK_EQ(res.attempts, 1);
    CHECK_EQ(mock_http_count(m), 1);
    CHECK_HAS(res.error.msg, "cancelled while waiting 60000 ms to retry "
                             "(attempt 1 failed, 50 ms waited)");

    /* A hook that never stops: the whole minute in 1,200 slices of 50 ms,
     * the hook asked before each, then the retry that succeeds. */
    req.should_stop = never_stop;
    req.stop_ctx = &stop;
    stop.polls = 0;
    sl.count = 0;
    mock_http_push(m, &busy);
    CHECK_OK(am_llm_chat(llm, &req, &text, &res));
    CHECK_EQ(res.attempts, 2);
    CHECK_EQ(sl.count, 1200);
    CHECK(stop.polls >= 1200);
    /* No hook: one wait of the whole minute, as before. */
    req.should_stop = NULL;
    sl.count = 0;
    mock_http_push(m, &busy);
    CHECK_OK(am_llm_chat(llm, &req, &text, &res));
    CHECK_EQ(sl.count, 1);
    CHECK_EQ(sl.ms[0], 60000);
    am_buf_free(&text);
    am_llm_free(llm);
    mock_http_stop(m);
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
