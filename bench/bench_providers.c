/* bench_providers.c -- the cost agentmem's HTTP clients add per call,
 * measured against the loopback server of tests/mock_http.c (so the
 * figures are client + loopback + mock, an upper bound on our overhead; a
 * real provider's latency is orders of magnitude larger).
 *
 *   chat_openai      one Chat Completions call, keep-alive connection
 *   chat_anthropic   one Messages call
 *   embed_batch64    64 short texts embedded in one request (dim 384)
 *   embed_parse64    the client's share of that: parsing the 64 x 384
 *                    reply (no HTTP, no server)
 */
#include <stdio.h>
#include <string.h>

#include "../tests/mock_http.c"

#include "agentmem/providers.h"
#include "core/core.h"
#include "providers/providers_int.h"

static void bench_chat(mock_http *m, am_llm_kind kind, const char *name,
                       int n)
{
    am_llm_opts o = am_llm_opts_default();
    am_llm *llm = NULL;
    am_buf text = AM_BUF_INIT;
    am_llm_result res;
    char base[96];
    am_llm_msg msgs[2] = {
        { AM_STR("system"), AM_STR("You summarize conversations.") },
        { AM_STR("user"), AM_STR("Alice met Bob on 2024-05-01 and agreed to "
                                 "ship the parser by Friday.") },
    };
    int64_t t0;

    snprintf(base, sizeof base, "%s%s", mock_http_url(m),
             kind == AM_LLM_OPENAI ? "/v1" : "");
    o.kind = kind;
    o.base_url = base;
    o.model = "bench";
    if (am_llm_create(&o, &llm, NULL) != AM_OK)
        return;
    am_llm_chat_msgs(llm, msgs, 2, &text, &res); /* connect once */
    t0 = am__mono_ns();
    for (int i = 0; i < n; i++)
        if (am_llm_chat_msgs(llm, msgs, 2, &text, &res) != AM_OK) {
            fprintf(stderr, "%s: %s\n", name, res.error.msg);
            break;
        }
    printf("%-16s %8d %10.0f ns/op\n", name, n,
           (double)(am__mono_ns() - t0) / n);
    am_buf_free(&text);
    am_llm_free(llm);
}

static void bench_embed(mock_http *m, int n)
{
    am_openai_embed_opts o = am_openai_embed_opts_default();
    am_embedder *e = NULL;
    am_str texts[64];
    char bufs[64][32];
    static float out[64 * 384];
    char base[96];
    int64_t t0;

    for (int i = 0; i < 64; i++) {
        texts[i].ptr = bufs[i];
        texts[i].len = (size_t)snprintf(bufs[i], sizeof bufs[i],
                                        "memory item number %d", i);
    }
    snprintf(base, sizeof base, "%s/v1", mock_http_url(m));
    o.base_url = base;
    o.model = "bench";
    o.dim = 384;
    if (am_embedder_openai_create(&o, &e, NULL) != AM_OK)
        return;
    am_embedder_embed(e, texts, 64, out, NULL);
    t0 = am__mono_ns();
    for (int i = 0; i < n; i++)
        if (am_embedder_embed(e, texts, 64, out, NULL) != AM_OK)
            break;
    printf("%-16s %8d %10.0f ns/op\n", "embed_batch64", n,
           (double)(am__mono_ns() - t0) / n);
    am_embedder_free(e);

    {
        /* The same reply body the server sent, parsed alone. */
        const mock_request *rq = mock_http_request(m, mock_http_count(m) - 1);
        mock_reply rep;
        size_t dim = 384;
        mock_builtin(m, rq, &rep);
        t0 = am__mono_ns();
        for (int i = 0; i < n; i++)
            if (am__embed_parse_reply(NULL, am_str_c(rep.body), 64, &dim, out,
                                      NULL) != AM_OK)
                break;
        printf("%-16s %8d %10.0f ns/op (%zu reply bytes)\n",
               "embed_parse64", n, (double)(am__mono_ns() - t0) / n,
               strlen(rep.body));
        free((char *)(uintptr_t)rep.body);
    }
}

int main(void)
{
    mock_http_opts mo = { .embed_dim = 384 };
    mock_http *m = mock_http_start(&mo);
    if (m == NULL) {
        fprintf(stderr, "cannot start the loopback server\n");
        return 1;
    }
    bench_chat(m, AM_LLM_OPENAI, "chat_openai", 2000);
    bench_chat(m, AM_LLM_ANTHROPIC, "chat_anthropic", 2000);
    bench_embed(m, 200);
    mock_http_stop(m);
    return 0;
}
