/* providers.h -- LLM chat and embeddings over HTTP (libcurl).
 *
 * Two real HTTP clients that the rest of agentmem (the LLM summarizer, the
 * store's vector search) and applications use to talk to model providers:
 *
 *   am_llm      chat: the OpenAI-compatible Chat Completions protocol
 *               (OpenAI, Ollama, vLLM, llama.cpp server, LM Studio:
 *               POST {base_url}/chat/completions) or the Anthropic Messages
 *               API (POST {base_url}/v1/messages).
 *   am_embedder the OpenAI-compatible embeddings endpoint
 *               (POST {base_url}/embeddings), behind the am_embedder
 *               interface of embed.h.
 *
 * Both retry 429, 5xx and transport failures with exponential backoff and
 * jitter (honouring Retry-After), and turn every failure into an am_status
 * with a message that names the provider, the HTTP status and what was
 * wrong (see docs/internals/providers.md for the full table):
 *
 *   AM_EAUTH     401 / 403: the key was refused (or none was set)
 *   AM_ENOTFOUND 404: unknown model or wrong base URL
 *   AM_EINVAL    400 / 422: the provider rejected the request; bad options
 *   AM_ELIMIT    429 after all retries; 413 or a context-length refusal;
 *                a reply larger than max_response_bytes
 *   AM_ENET      connection refused, DNS, reset, connection closed mid-reply
 *                or 5xx after all retries (curl's message is included)
 *   AM_ETIMEOUT  connect or total timeout of the last attempt
 *   AM_ECANCELED the request's should_stop hook asked to stop
 *   AM_EPROTO    a 2xx reply that is not JSON or lacks a field we need (the
 *                message names the field and quotes a short excerpt)
 *
 * libcurl must be initialized before threads use it; agentmem has no
 * library init call by design, so the first am_llm_create or
 * am_embedder_openai_create runs curl_global_init once (pthread_once). If
 * your program uses libcurl itself, call curl_global_init before starting
 * threads as libcurl documents; calling it twice is harmless.
 *
 * Nothing here ever fakes a reply: every call is a real HTTP request. The
 * tests run these clients against a local loopback server
 * (tests/mock_http.c).
 *
 * In short:
 *
 *     am_llm_opts o = am_llm_opts_default();
 *     o.kind = AM_LLM_ANTHROPIC;               // key from $ANTHROPIC_API_KEY
 *     o.model = "claude-3-5-haiku-latest";
 *     am_llm *llm;
 *     if (am_llm_create(&o, &llm, &err) != AM_OK) ...
 *     am_llm_msg m[] = { { AM_STR("user"), AM_STR("Summarize: ...") } };
 *     am_buf text = AM_BUF_INIT;
 *     am_llm_result res;
 *     st = am_llm_chat_msgs(llm, m, 1, &text, &res);  // res.usage, .error
 *     ...
 *     am_buf_free(&text);
 *     am_llm_free(llm);
 */
#ifndef AGENTMEM_PROVIDERS_H
#define AGENTMEM_PROVIDERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "alloc.h"
#include "buf.h"
#include "clock.h"
#include "embed.h"
#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- HTTP behaviour shared by both clients ---- */

/* Sleep `ms` milliseconds between retries. Tests inject one that records
 * the delay instead of sleeping. */
typedef void (*am_sleep_fn)(void *ctx, int64_t ms);

typedef struct am_http_opts {
    int64_t connect_timeout_ms; /* per attempt; default 10000 */
    int64_t timeout_ms;         /* whole attempt; 0: none; default 120000 */
    int max_retries;            /* retries after the first try, 0..100;
                                   default 3 */
    int64_t backoff_base_ms;    /* first retry delay before jitter; 500 */
    int64_t backoff_max_ms;     /* cap of the computed delay; 20000 */
    /* A Retry-After (or retry-after-ms) up to this is honoured exactly;
     * a longer one falls back to the computed delay. Default 60000. */
    int64_t retry_after_max_ms;
    size_t max_response_bytes;  /* larger replies fail AM_ELIMIT; 64 MiB
                                   (0: the default) */
    /* Budget of the whole call, attempts and waits included; no retry is
     * started that would pass it, and the last attempt's timeout is cut
     * to what is left. 0: none (default). */
    int64_t deadline_ms;
    /* NULL: nanosleep. Called from the calling thread, so it must be
     * thread-safe when the client is shared between threads. */
    am_sleep_fn sleep;
    void *sleep_ctx;            /* borrowed: must outlive the client */
    const am_rng *rng;          /* jitter; NULL: system randomness;
                                   borrowed: must outlive the client */
    const char *user_agent;     /* NULL: "agentmem/<version>" */
    /* Extra "Name: value" lines sent with every request (e.g.
     * "OpenAI-Organization: org-1", a gateway's own auth header). Copied
     * at create; a line with CR/LF or without ':' is AM_EINVAL. */
    const char *const *headers;
    size_t header_count;
} am_http_opts;

/* The defaults above, by value (no pointers set). No errors.
 * Thread safety: safe. */
AM_API am_http_opts am_http_opts_default(void);

/* ---- Chat ---- */

typedef enum am_llm_kind {
    AM_LLM_OPENAI = 0, /* OpenAI-compatible Chat Completions */
    AM_LLM_ANTHROPIC   /* Anthropic Messages API */
} am_llm_kind;

typedef struct am_llm_opts {
    am_llm_kind kind;
    /* NULL: "https://api.openai.com/v1" or "https://api.anthropic.com".
     * Examples: "http://localhost:11434/v1" (Ollama), "http://host:8000/v1"
     * (vLLM, llama.cpp server, LM Studio). A trailing '/' is ignored.
     * Copied. */
    const char *base_url;
    const char *model;       /* required, e.g. "gpt-4o-mini"; copied */
    /* The key itself; wins over api_key_env when not NULL. Copied. */
    const char *api_key;
    /* Name of the environment variable holding the key, read once at
     * create. NULL: "OPENAI_API_KEY" or "ANTHROPIC_API_KEY". When there is
     * no key, no auth header is sent (local servers need none) and a 401
     * says which variable was empty. */
    const char *api_key_env;
    double temperature;      /* < 0: not sent (provider default); -1 */
    /* Output token cap. 0: not sent for OpenAI; 1024 for Anthropic, where
     * the field is required. Default 0. */
    int64_t max_tokens;
    /* OpenAI only: send the cap as "max_completion_tokens" (what OpenAI's
     * reasoning models require) instead of "max_tokens" (what local
     * servers understand). Default false. */
    bool max_completion_tokens;
    const char *anthropic_version; /* NULL: "2023-06-01" */
    am_http_opts http;
    const am_allocator *alloc;     /* NULL: default */
} am_llm_opts;

/* Defaults: kind AM_LLM_OPENAI, everything else as documented above (no
 * model: set one before am_llm_create). By value; no errors.
 * Thread safety: safe. */
AM_API am_llm_opts am_llm_opts_default(void);

typedef struct am_llm am_llm;

/* One plain chat message: role ("system", "user", "assistant"; OpenAI also
 * takes "developer") and its text. Both borrowed for the call. */
typedef struct am_llm_msg {
    am_str role;
    am_str content;
} am_llm_msg;

/* What to send. Zero-initialize, then set either `msgs`/`count` or
 * `messages_json`. */
typedef struct am_llm_request {
    const am_llm_msg *msgs; /* borrowed */
    size_t count;
    /* Instead of msgs: a raw JSON array of messages in the provider's own
     * format (tool calls, content parts...), sent as given. For Anthropic,
     * top-level messages with role "system" are lifted into the request's
     * `system` field. Borrowed. */
    am_str messages_json;
    /* Optional system prompt put before the messages (Anthropic: the
     * top-level `system` field). Borrowed. */
    am_str system;
    int64_t max_tokens;      /* > 0: overrides the handle's option */
    bool has_temperature;    /* true: send `temperature` below */
    double temperature;
    /* Optional JSON object whose members are added to the request body,
     * replacing ours on a clash: e.g. {"top_p":0.9,"stop":["\n\n"]} or
     * "tools". Borrowed. */
    am_str extra_json;
    /* Optional output: when not NULL, receives the provider's whole reply
     * body (replaced) on success, for callers that need more than the text
     * (tool calls, logprobs). Caller-owned. */
    am_buf *raw_reply;
    /* Optional stop hook, polled on the calling thread before each attempt,
     * during the transfer (libcurl's progress callback: at least about
     * once a second, more often while data flows) and every 50 ms of a
     * wait to retry (so a cancel never waits out a backoff or a server's
     * retry-after). Returning true aborts the call with AM_ECANCELED. Lets another thread cancel a blocking
     * call (am_llm_chat_submit in async.h uses it). NULL: none. */
    bool (*should_stop)(void *ctx);
    void *stop_ctx;          /* borrowed, passed to should_stop */
} am_llm_request;

typedef enum am_llm_finish {
    AM_LLM_FINISH_UNKNOWN = 0, /* absent or a reason we do not know */
    AM_LLM_FINISH_STOP,        /* "stop", "end_turn", "stop_sequence" */
    AM_LLM_FINISH_LENGTH,      /* "length", "max_tokens": cut short */
    AM_LLM_FINISH_TOOL,        /* "tool_calls", "tool_use" */
    AM_LLM_FINISH_FILTER       /* "content_filter", "refusal", or an
                                  OpenAI message.refusal */
} am_llm_finish;

/* Token usage as the provider reported it. input_tokens counts every
 * prompt token, cached ones included (Anthropic: input_tokens +
 * cache_read_input_tokens + cache_creation_input_tokens); cached_tokens
 * is the part read from the provider's prompt cache. */
typedef struct am_llm_usage {
    int64_t input_tokens;
    int64_t output_tokens;
    int64_t cached_tokens;
    bool reported;           /* false: the reply had no usage object */
} am_llm_usage;

/* Everything about a call except the text. Filled on success and on
 * failure (as far as the call got). */
typedef struct am_llm_result {
    am_llm_finish finish;
    char finish_reason[32];  /* the provider's own word, "" if none */
    am_llm_usage usage;
    char model[96];          /* model named in the reply (truncated) */
    int http_status;         /* of the last attempt; 0: no HTTP reply */
    int attempts;            /* HTTP attempts made (1 + retries) */
    int64_t elapsed_ms;      /* wall time of the whole call, sleeps too */
    am_error error;          /* this call's own error detail */
} am_llm_result;

/* Create a chat client. Copies every string in `opts` (NULL: defaults,
 * which lack a model and so fail). Reads the API key environment variable
 * now. Initializes libcurl once per process (see the top of this file).
 * No network traffic happens here.
 *
 * Returns AM_OK with *out yours (am_llm_free), AM_EINVAL naming the bad
 * option (no model, bad kind, negative timeout, base URL not http(s),
 * temperature above 2, a key or anthropic_version with a control
 * character, a header with a line break) or AM_ENOMEM.
 * Thread safety: safe. */
AM_API am_status am_llm_create(const am_llm_opts *opts, am_llm **out,
                               am_error *err);

/* Free `llm`. NULL: no-op. Thread safety: unsafe (no call may be in
 * flight). */
AM_API void am_llm_free(am_llm *llm);

/* Send one chat request and wait for the reply, retrying as configured.
 * On AM_OK `text` holds the assistant's text (replaced, NUL-terminated;
 * several text blocks are concatenated; empty when the model only called
 * tools). `res` (may be NULL) gets finish reason, usage and the call's
 * own error detail; the handle's last error gets the detail too.
 *
 * Errors: AM_EINVAL for a bad request (no messages, unknown role with the
 * message index, invalid UTF-8 with index and byte, raw JSON that is not an
 * array), then the HTTP mapping at the top of this file. On failure `text`
 * is emptied. Thread safety: safe (each call borrows a curl easy handle
 * from the client's small pool, so no two threads ever share one and
 * kept-alive connections are reused; the pool's mutex is held only to take
 * or return a handle, never during I/O). */
AM_API am_status am_llm_chat(am_llm *llm, const am_llm_request *req,
                             am_buf *text, am_llm_result *res);

/* Shorthand for am_llm_chat with only msgs/count set: `msgs` borrowed for
 * the call, `text` and `res` as am_llm_chat, same errors.
 * Thread safety: safe. */
AM_API am_status am_llm_chat_msgs(am_llm *llm, const am_llm_msg *msgs,
                                  size_t count, am_buf *text,
                                  am_llm_result *res);

/* "openai" or "anthropic" ("?" out of range). Static text owned by
 * the library; no errors. Thread safety: safe. */
AM_API const char *am_llm_kind_name(am_llm_kind kind);

/* Parse "openai" / "anthropic" (also "openai-compatible", "ollama",
 * "vllm", "llamacpp", "lmstudio" as OpenAI) into *out; `name` borrowed for
 * the call. AM_EINVAL naming it in `err` (may be NULL) for anything else
 * (*out unchanged). Thread safety: safe. */
AM_API am_status am_llm_kind_parse(am_str name, am_llm_kind *out,
                                   am_error *err);

/* The model this handle asks for: owned by llm, valid until am_llm_free;
 * no errors. Thread safety: safe. */
AM_API const char *am_llm_model(const am_llm *llm);

/* Detail of this thread's most recent failed call on `llm` (code AM_OK
 * and "" when none), owned by llm and valid until this thread's next call
 * on it; each call's own detail is also in its am_llm_result. NULL `llm`:
 * a static AM_EINVAL detail. Thread safety: safe. */
AM_API const am_error *am_llm_last_error(const am_llm *llm);

/* ---- Embeddings ---- */

typedef struct am_openai_embed_opts {
    const char *base_url;    /* NULL: "https://api.openai.com/v1"; copied */
    const char *model;       /* required, e.g. "text-embedding-3-small" */
    const char *api_key;     /* wins over api_key_env; copied */
    const char *api_key_env; /* NULL: "OPENAI_API_KEY" */
    /* Vector dimension. 0: learnt at create from one probe request that
     * embeds the text "dimension probe" (so create needs the server).
     * > 0: no probe; every reply must have this dimension. */
    size_t dim;
    /* true: also send "dimensions": dim in every request (OpenAI
     * text-embedding-3 models can shorten their vectors; many local
     * servers reject the field). Default false. */
    bool send_dimensions;
    size_t max_batch;        /* inputs per request; default 128 */
    /* Text bytes per request; a batch closes before it would pass this
     * (a longer single text goes alone). Default 256 KiB. */
    size_t max_batch_bytes;
    am_http_opts http;
    const am_allocator *alloc; /* NULL: default */
} am_openai_embed_opts;

/* Defaults as documented above, by value (no model: set one). No errors.
 * Thread safety: safe. */
AM_API am_openai_embed_opts am_openai_embed_opts_default(void);

/* Create an embedder over an OpenAI-compatible /embeddings endpoint. Its
 * id is "openai-compat/<model>/<dim>" (e.g.
 * "openai-compat/text-embedding-3-small/1536"), so vectors from another
 * model or dimension never mix with these in one index.
 *
 * Its embed call splits the texts into batches of max_batch, sends
 * {"model", "input": [...]} per batch, places each returned vector by its
 * "index", and checks that every batch answers each input exactly once
 * with `dim` numbers (else AM_EPROTO naming the index). Empty texts and
 * invalid UTF-8 are AM_EINVAL naming the text's index (and byte), before
 * any request. Errors otherwise follow the HTTP mapping above.
 *
 * Returns AM_OK with *out yours (am_embedder_free), AM_EINVAL (no model,
 * bad option, a key with a control character, as for am_llm_create),
 * AM_ENOMEM, or the probe's error when dim is 0.
 * Thread safety: safe; the embedder's embed is safe too. */
AM_API am_status am_embedder_openai_create(const am_openai_embed_opts *opts,
                                           am_embedder **out,
                                           am_error *err);

#ifdef __cplusplus
}
#endif
#endif
