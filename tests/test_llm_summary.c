/* test_llm_summary.c -- the LLM summarizer against the providers' mock
 * server: OpenAI and Anthropic protocols, errors, malformed and empty
 * replies, piecewise summaries that never exceed the model's window, and
 * usage reaching the caller and the manager's statistics. */
#include <stdlib.h>
#include <string.h>

#include "agentmem/window.h"
#include "harness.h"
#include "mock_http.c"

static void no_sleep(void *ctx, int64_t ms)
{
    (void)ctx;
    (void)ms;
}

static am_llm *client(mock_http *srv, am_llm_kind kind, const char *key)
{
    am_llm_opts o = am_llm_opts_default();
    am_llm *llm = NULL;
    o.kind = kind;
    o.base_url = mock_http_url(srv);
    o.model = "gpt-4o-mini";
    o.api_key = key;
    o.http.max_retries = 0;
    o.http.sleep = no_sleep;
    CHECK_OK(am_llm_create(&o, &llm, NULL));
    return llm;
}

static void history(am_msg_list *l, int turns)
{
    am_msg *m = NULL;
    char text[256];
    CHECK_OK(am_msg_create_text(NULL, AM_ROLE_SYSTEM, AM_STR("Be helpful."),
                                &m, NULL));
    CHECK_OK(am_msg_list_push(l, m));
    am_msg_free(m);
    for (int i = 0; i < turns; i++) {
        snprintf(text, sizeof text,
                 "Message %d: the invoice INV-%04d for Acme was paid on "
                 "2025-03-%02d; remember to archive it.", i, i, 1 + i % 28);
        CHECK_OK(am_msg_create_text(NULL, i % 2 ? AM_ROLE_ASSISTANT
                                                : AM_ROLE_USER,
                                    am_str_c(text), &m, NULL));
        CHECK_OK(am_msg_list_push(l, m));
        am_msg_free(m);
    }
}

typedef struct usage_log {
    int calls;
    int64_t input, output;
} usage_log;

static void on_usage(void *ctx, const am_llm_usage *u)
{
    usage_log *l = ctx;
    l->calls++;
    l->input += u->input_tokens;
    l->output += u->output_tokens;
}

static void run_protocol(am_llm_kind kind, const char *path_part)
{
    mock_http *srv = mock_http_start(NULL);
    am_llm *llm;
    am_summarizer *s = NULL;
    am_llm_summarizer_opts so = { 0, NULL, on_usage, NULL, NULL, NULL };
    usage_log log = { 0, 0, 0 };
    am_msg_list l = AM_MSG_LIST_INIT;
    am_summarize_opts o = am_summarize_opts_default();
    am_summarize_result r = AM_SUMMARIZE_RESULT_INIT;
    const mock_request *req;

    CHECK(srv != NULL);
    llm = client(srv, kind, NULL);
    so.usage_ctx = &log;
    CHECK_OK(am_summarizer_llm(llm, &so, &s, NULL));
    CHECK_STR_EQ(am_summarizer_name(s), "llm");
    history(&l, 8);
    o.keep_last = 2;
    o.budget = 200;
    o.summarizer = s;
    CHECK_OK(am_summarize((const am_msg *const *)l.items, l.count, &o, &r,
                          NULL));
    CHECK_EQ(mock_http_count(srv), 1);
    req = mock_http_request(srv, 0);
    CHECK(req != NULL);
    {
        char path[256];
        snprintf(path, sizeof path, "%s", req->path);
        CHECK(strstr(path, path_part) != NULL);
    }
    /* The transcript went out; the system prompt says what to keep. */
    CHECK(strstr(req->body, "INV-0003") != NULL);
    CHECK(strstr(req->body, "compress the history") != NULL);
    CHECK(strstr(req->body, "INV-0006") == NULL); /* kept, not summarized */
    /* The mock echoes, cut to max_tokens characters. */
    CHECK(strncmp(r.summary.ptr, "echo:", 5) == 0);
    CHECK(r.summary.len <= 200);
    CHECK_EQ(r.summarized_count, 6);
    CHECK_EQ(r.messages.count, 4);
    CHECK_EQ(log.calls, 1);
    CHECK(log.input > 0);
    CHECK_EQ(am_summarizer_tokens_spent(s),
             (uint64_t)(log.input + log.output));
    /* Priced for the client's model, gpt-4o-mini ($0.15 / $0.60). */
    double usd = ((double)log.input * 0.15 + (double)log.output * 0.60) / 1e6;
    CHECK(am_summarizer_cost_spent(s) > usd - 1e-12 &&
          am_summarizer_cost_spent(s) < usd + 1e-12);
    am_summarize_result_free(&r);
    am_msg_list_free(&l);
    am_summarizer_free(s);
    am_llm_free(llm);
    mock_http_stop(srv);
}

AM_TEST(llm_summarizer_speaks_openai)
{
    run_protocol(AM_LLM_OPENAI, "chat/completions");
}

AM_TEST(llm_summarizer_speaks_anthropic)
{
    run_protocol(AM_LLM_ANTHROPIC, "v1/messages");
}

AM_TEST(llm_summarizer_errors_reach_the_caller_and_change_nothing)
{
    mock_http_opts mo = { "sk-right", NULL, 0, false, NULL, NULL };
    mock_http *srv = mock_http_start(&mo);
    am_llm *bad = client(srv, AM_LLM_OPENAI, "sk-wrong");
    am_llm *good = client(srv, AM_LLM_OPENAI, "sk-right");
    am_summarizer *s = NULL;
    am_msg_list l = AM_MSG_LIST_INIT;
    am_summarize_opts o = am_summarize_opts_default();
    am_summarize_result r = AM_SUMMARIZE_RESULT_INIT;
    am_error err = { AM_OK, "" };
    mock_reply reply;

    history(&l, 6);
    o.keep_last = 2;
    o.budget = 100;
    CHECK_OK(am_summarizer_llm(bad, NULL, &s, NULL));
    o.summarizer = s;
    CHECK_ST(am_summarize((const am_msg *const *)l.items, l.count, &o, &r,
                          &err), AM_EAUTH);
    CHECK(strstr(err.msg, "llm summarizer") != NULL);
    CHECK_EQ(r.messages.count, 0);
    am_summarizer_free(s);

    CHECK_OK(am_summarizer_llm(good, NULL, &s, NULL));
    o.summarizer = s;
    memset(&reply, 0, sizeof reply);
    reply.body = "{\"choices\": [ {\"message\": ";
    mock_http_push(srv, &reply);
    CHECK_ST(am_summarize((const am_msg *const *)l.items, l.count, &o, &r,
                          &err), AM_EPROTO);
    reply.body = "{\"id\":\"x\",\"choices\":[{\"index\":0,\"message\":{"
                 "\"role\":\"assistant\",\"content\":\"  \"},"
                 "\"finish_reason\":\"stop\"}],\"usage\":{"
                 "\"prompt_tokens\":5,\"completion_tokens\":1}}";
    mock_http_push(srv, &reply);
    CHECK_ST(am_summarize((const am_msg *const *)l.items, l.count, &o, &r,
                          &err), AM_EPROTO);
    CHECK(strstr(err.msg, "empty summary") != NULL);
    reply.body = "{\"error\":{\"message\":\"overloaded\"}}";
    reply.status = 503;
    mock_http_push(srv, &reply);
    CHECK(am_summarize((const am_msg *const *)l.items, l.count, &o, &r,
                       &err) != AM_OK);
    /* And then it works again. */
    CHECK_OK(am_summarize((const am_msg *const *)l.items, l.count, &o, &r,
                          &err));
    am_summarize_result_free(&r);
    am_summarizer_free(s);
    am_msg_list_free(&l);
    am_llm_free(bad);
    am_llm_free(good);
    mock_http_stop(srv);
}

AM_TEST(llm_summarizer_splits_input_larger_than_its_window)
{
    mock_http *srv = mock_http_start(NULL);
    am_llm *llm = client(srv, AM_LLM_OPENAI, NULL);
    am_llm_summarizer_opts so = { 700, NULL, NULL, NULL, NULL, NULL };
    am_summarizer *s = NULL;
    am_msg_list l = AM_MSG_LIST_INIT;
    am_summarize_opts o = am_summarize_opts_default();
    am_summarize_result r = AM_SUMMARIZE_RESULT_INIT;

    CHECK_OK(am_summarizer_llm(llm, &so, &s, NULL));
    history(&l, 80);
    o.keep_last = 4;
    o.budget = 100;
    o.summarizer = s;
    CHECK_OK(am_summarize((const am_msg *const *)l.items, l.count, &o, &r,
                          NULL));
    CHECK(mock_http_count(srv) > 3);
    for (size_t i = 0; i < mock_http_count(srv); i++) {
        const mock_request *q = mock_http_request(srv, i);
        /* 700 tokens is at most ~2800 bytes of text at 4 bytes/token;
         * the request JSON adds the prompt and escaping. */
        CHECK(q->body_len < 700 * 4 + 1200);
        if (i > 0) /* each piece carries the running summary */
            CHECK(strstr(q->body, "Previous summary") != NULL);
    }
    CHECK_EQ(r.summarized_count, 76);
    am_summarize_result_free(&r);
    am_summarizer_free(s);
    am_msg_list_free(&l);
    am_llm_free(llm);
    mock_http_stop(srv);
}

AM_TEST(manager_counts_llm_compression_cost)
{
    mock_http *srv = mock_http_start(NULL);
    am_llm *llm = client(srv, AM_LLM_ANTHROPIC, NULL);
    am_summarizer *s = NULL;
    am_memory_opts o = am_memory_opts_default();
    am_memory *mem = NULL;
    am_msg_list l = AM_MSG_LIST_INIT;
    am_memory_stats st;
    am_token_tracker *tr = NULL;
    am_tracker_stats ts;
    am_llm_summarizer_opts so = { 0, NULL, NULL, NULL, NULL, NULL };
    am_memory_usage u = { 900, 40, 0 };

    CHECK_OK(am_token_tracker_create(NULL, &tr, NULL));
    so.tracker = tr;
    CHECK_OK(am_summarizer_llm(llm, &so, &s, NULL));
    o.summarizer = s;
    o.tracker = tr;
    o.config.compression_threshold = 600;
    o.config.short_term_size = 4;
    snprintf(o.config.model, sizeof o.config.model, "gpt-4o-mini");
    CHECK_OK(am_memory_create(&o, &mem, NULL));
    history(&l, 40);
    for (size_t i = 0; i < l.count; i++)
        CHECK_OK_E(am_memory_add(mem, l.items[i], i == 3 ? &u : NULL),
                   am_memory_last_error(mem));
    am_memory_stats_get(mem, &st);
    CHECK(st.compressions > 0);
    CHECK(st.compression_cost > 0);
    CHECK_EQ(st.net_savings,
             (int64_t)st.tokens_saved - (int64_t)st.compression_cost);
    CHECK(st.total_cost > 0); /* 900 in + 40 out at gpt-4o-mini prices */
    /* The tracker saw the agent's call, every summarizer call (flagged as
     * compression) and the savings the manager credited. */
    am_token_tracker_stats(tr, &ts);
    CHECK_EQ(ts.calls, 1 + (int64_t)mock_http_count(srv));
    CHECK(ts.compression_tokens > 0);
    CHECK_EQ(ts.compression_tokens, (int64_t)st.compression_cost);
    CHECK(ts.tokens_saved > 0);
    am_memory_free(mem);
    am_summarizer_free(s);
    am_token_tracker_free(tr);
    am_msg_list_free(&l);
    am_llm_free(llm);
    mock_http_stop(srv);
}

AM_TEST(llm_summarizer_retries_429_and_5xx_with_the_client_policy)
{
    mock_http *srv = mock_http_start(NULL);
    am_llm_opts lo = am_llm_opts_default();
    am_llm *llm = NULL;
    am_summarizer *s = NULL;
    am_msg_list l = AM_MSG_LIST_INIT;
    am_summarize_opts o = am_summarize_opts_default();
    am_summarize_result r = AM_SUMMARIZE_RESULT_INIT;
    mock_reply busy, down;

    lo.base_url = mock_http_url(srv);
    lo.model = "gpt-4o-mini";
    lo.http.max_retries = 2;
    lo.http.sleep = no_sleep;
    CHECK_OK(am_llm_create(&lo, &llm, NULL));
    CHECK_OK(am_summarizer_llm(llm, NULL, &s, NULL));
    memset(&busy, 0, sizeof busy);
    busy.status = 429;
    busy.body = "{\"error\":{\"message\":\"rate limited\",\"type\":"
                "\"rate_limit_error\"}}";
    busy.headers = "Retry-After: 1\r\n";
    memset(&down, 0, sizeof down);
    down.status = 502;
    down.body = "bad gateway";
    mock_http_push(srv, &busy);
    mock_http_push(srv, &down);
    history(&l, 6);
    o.keep_last = 2;
    o.budget = 80;
    o.summarizer = s;
    CHECK_OK(am_summarize((const am_msg *const *)l.items, l.count, &o, &r,
                          NULL));
    CHECK_EQ(mock_http_count(srv), 3); /* 429, 502, then the answer */
    CHECK(strncmp(r.summary.ptr, "echo:", 5) == 0);
    am_summarize_result_free(&r);
    am_summarizer_free(s);
    am_msg_list_free(&l);
    am_llm_free(llm);
    mock_http_stop(srv);
}
