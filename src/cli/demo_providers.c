/* demo_providers.c -- the providers part of `agentmem demo`.
 *
 * The demo runs offline, so by default it shows what a failed provider
 * call looks like (a real request to a port where nothing listens). Point
 * AGENTMEM_LLM_BASE_URL and AGENTMEM_LLM_MODEL (and AGENTMEM_LLM_PROVIDER,
 * default openai) at a server to see a live call instead.
 */
#include <stdio.h>
#include <stdlib.h>

#include "agentmem/providers.h"
#include "commands.h"

void demo_providers(void)
{
    const char *base = getenv("AGENTMEM_LLM_BASE_URL");
    const char *model = getenv("AGENTMEM_LLM_MODEL");
    const char *kind = getenv("AGENTMEM_LLM_PROVIDER");
    am_llm_opts o = am_llm_opts_default();
    am_llm_msg msg = { AM_STR("user"),
                       AM_STR("In one sentence: why do agents need memory?") };
    am_buf text = AM_BUF_INIT;
    am_llm_result res;
    am_llm *llm = NULL;
    am_error err = { AM_OK, "" };
    bool live = base != NULL && model != NULL;

    printf("\n== providers: LLM chat and embeddings over HTTP ==\n");
    if (kind != NULL &&
        am_llm_kind_parse(am_str_c(kind), &o.kind, NULL) != AM_OK)
        printf("AGENTMEM_LLM_PROVIDER='%s' is not openai or anthropic; "
               "using openai\n", kind);
    if (live) {
        o.base_url = base;
        o.model = model;
        o.max_tokens = 100;
    } else {
        printf("no LLM configured (set AGENTMEM_LLM_BASE_URL and "
               "AGENTMEM_LLM_MODEL, e.g.\nhttp://localhost:11434/v1 and "
               "llama3.2, for a live call); calling a port where\nnothing "
               "listens shows the error a caller gets:\n");
        o.base_url = "http://127.0.0.1:1/v1";
        o.model = "demo";
        o.http.max_retries = 0;
    }
    if (am_llm_create(&o, &llm, &err) != AM_OK) {
        printf("  cannot create the client: %s\n", err.msg);
        return;
    }
    if (am_llm_chat_msgs(llm, &msg, 1, &text, &res) == AM_OK)
        printf("  %s\n  [%s %s] finish=%s input=%lld output=%lld "
               "cached=%lld tokens, %lld ms\n", text.ptr,
               am_llm_kind_name(o.kind), model, res.finish_reason,
               (long long)res.usage.input_tokens,
               (long long)res.usage.output_tokens,
               (long long)res.usage.cached_tokens,
               (long long)res.elapsed_ms);
    else
        printf("  %s: %s\n", am_status_str(res.error.code), res.error.msg);
    am_buf_free(&text);
    am_llm_free(llm);
}
