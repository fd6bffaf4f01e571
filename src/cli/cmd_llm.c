/* cmd_llm.c -- `agentmem llm chat` and `agentmem embed`: the provider
 * clients from the command line, for trying a base URL, a key or a model
 * before wiring it into an application. Real HTTP, no fallbacks.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "agentmem/providers.h"
#include "cli.h"
#include "commands.h"

/* Parse a non-negative integer option; false (and a usage error printed)
 * when it is not one. */
static bool parse_count(const char *cmd, const char *name, const char *v,
                        long long max, long long *out)
{
    char *end;
    long long n;
    errno = 0;
    n = strtoll(v, &end, 10);
    if (errno != 0 || *end != '\0' || end == v || n < 0 || n > max) {
        cli_usage(cmd, "%s expects an integer 0..%lld, not '%s'", name, max,
                  v);
        return false;
    }
    *out = n;
    return true;
}

/* Options shared by both commands. Returns 1 when argv[*i] was one of
 * them, 0 when not, -1 after a usage error. */
static int http_opt(const char *cmd, int argc, char **argv, int *i,
                    am_http_opts *h)
{
    const char *v = NULL;
    long long n;
    if (cli_opt(argc, argv, i, "--timeout", &v)) {
        int64_t ms = 0;
        if (cli_parse_duration(cmd, "--timeout", v, &ms) != CLI_EXIT_OK)
            return -1;
        if (ms > 86400000) {
            cli_usage(cmd, "--timeout: '%s' is more than a day", v);
            return -1;
        }
        h->timeout_ms = ms;
        return 1;
    }
    if (strncmp(argv[*i], "--timeout-ms", 12) == 0) {
        cli_usage(cmd, "'%s' is now '--timeout DURATION' (30s, 500ms; a "
                  "bare number is milliseconds, as before)", argv[*i]);
        return -1;
    }
    if (cli_opt(argc, argv, i, "--retries", &v)) {
        if (v == NULL || !parse_count(cmd, "--retries", v, 100, &n))
            return v == NULL ? (cli_usage(cmd, "--retries needs a value"), -1)
                             : -1;
        h->max_retries = (int)n;
        return 1;
    }
    return 0;
}

/* ---- llm chat: arguments, the call, the reply ---- */

typedef struct chat_args {
    am_llm_opts o;
    am_llm_request req;
    const char *prompt, *system, *messages;
    bool json;
} chat_args;

/* Read `llm chat`'s options into `a`. Returns 0, or the exit status of a
 * usage error (already reported). */
static int chat_parse(int argc, char **argv, chat_args *a)
{
    for (int i = 1; i < argc; i++) {
        const char *v = NULL;
        int h = http_opt("llm", argc, argv, &i, &a->o.http);
        if (h < 0)
            return CLI_EXIT_USAGE;
        if (h > 0)
            continue;
        if (cli_opt(argc, argv, &i, "--provider", &v)) {
            if (v == NULL ||
                am_llm_kind_parse(am_str_c(v), &a->o.kind, NULL) != AM_OK)
                return cli_usage("llm", "--provider must be openai or "
                                 "anthropic, not '%s'", v ? v : "");
        } else if (cli_opt(argc, argv, &i, "--base-url", &v)) {
            a->o.base_url = v;
        } else if (cli_opt(argc, argv, &i, "--model", &v)) {
            a->o.model = v;
        } else if (cli_opt(argc, argv, &i, "--api-key-env", &v)) {
            a->o.api_key_env = v;
        } else if (cli_opt(argc, argv, &i, "--system", &v)) {
            a->system = v;
        } else if (cli_opt(argc, argv, &i, "--messages", &v)) {
            a->messages = v;
        } else if (cli_opt(argc, argv, &i, "--max-tokens", &v)) {
            long long n;
            if (v == NULL || !parse_count("llm", "--max-tokens", v, 10000000,
                                          &n))
                return v == NULL ? cli_usage("llm", "--max-tokens needs a "
                                             "value")
                                 : CLI_EXIT_USAGE;
            a->req.max_tokens = n;
        } else if (cli_opt(argc, argv, &i, "--temperature", &v)) {
            char *end;
            if (v == NULL)
                return cli_usage("llm", "--temperature needs a value");
            a->req.temperature = strtod(v, &end);
            if (*end != '\0' || end == v || !(a->req.temperature >= 0 &&
                                              a->req.temperature <= 2))
                return cli_usage("llm", "--temperature expects a number "
                                 "0..2, not '%s'", v);
            a->req.has_temperature = true;
        } else if (strcmp(argv[i], "--json") == 0) {
            a->json = true;
        } else if (strncmp(argv[i], "--", 2) == 0) {
            return cli_usage("llm", "unknown option '%s'", argv[i]);
        } else if (a->prompt == NULL) {
            a->prompt = argv[i];
        } else {
            return cli_usage("llm", "one PROMPT only (quote it); got '%s' "
                             "too", argv[i]);
        }
        if (v == NULL && strncmp(argv[i], "--", 2) == 0 &&
            strcmp(argv[i], "--json") != 0)
            return cli_usage("llm", "%s needs a value", argv[i]);
    }
    if (a->o.model == NULL)
        return cli_usage("llm", "--model is required");
    if (a->prompt == NULL && a->messages == NULL)
        return cli_usage("llm", "a PROMPT (or - for stdin, or --messages "
                         "FILE) is required");
    if (a->prompt != NULL && a->messages != NULL)
        return cli_usage("llm", "give a PROMPT or --messages FILE, not both");
    return 0;
}

/* --json: {"text", "finish_reason", "model", "usage" (or null),
 * "attempts", "elapsed_ms"}, through the CLI's one printer. */
static int chat_print_json(am_str text, const am_llm_result *res)
{
    json_t *usage = json_null();

    if (res->usage.reported)
        usage = json_pack("{s:I,s:I,s:I}",
                          "input_tokens", (json_int_t)res->usage.input_tokens,
                          "output_tokens",
                          (json_int_t)res->usage.output_tokens,
                          "cached_tokens",
                          (json_int_t)res->usage.cached_tokens);
    /* json_pack takes `usage` (even when it fails) and checks the text
     * is UTF-8, as the library's reply reader already did. */
    return cli_print_json(json_pack("{s:s%,s:s,s:s,s:o,s:i,s:I}",
                                    "text", text.ptr, text.len,
                                    "finish_reason", res->finish_reason,
                                    "model", res->model, "usage", usage,
                                    "attempts", res->attempts, "elapsed_ms",
                                    (json_int_t)res->elapsed_ms),
                          "llm chat");
}

/* The reply on stdout, and one line about the call on stderr. */
static void chat_print_text(const am_llm_opts *o, am_str text,
                            const am_llm_result *res)
{
    fwrite(text.ptr, 1, text.len, stdout);
    if (text.len == 0 || text.ptr[text.len - 1] != '\n')
        putchar('\n');
    if (res->usage.reported)
        fprintf(stderr, "[%s %s] finish=%s input_tokens=%lld "
                "output_tokens=%lld cached_tokens=%lld attempts=%d "
                "%lld ms\n", am_llm_kind_name(o->kind),
                res->model[0] != '\0' ? res->model : o->model,
                res->finish_reason[0] != '\0' ? res->finish_reason : "?",
                (long long)res->usage.input_tokens,
                (long long)res->usage.output_tokens,
                (long long)res->usage.cached_tokens, res->attempts,
                (long long)res->elapsed_ms);
    else
        fprintf(stderr, "[%s %s] finish=%s usage not reported "
                "attempts=%d %lld ms\n", am_llm_kind_name(o->kind),
                o->model, res->finish_reason[0] ? res->finish_reason : "?",
                res->attempts, (long long)res->elapsed_ms);
}

/* `llm chat`; argv[0] is "chat". */
static int llm_chat(int argc, char **argv)
{
    chat_args a;
    am_llm_result res;
    am_llm_msg msg;
    am_llm *llm = NULL;
    am_buf text = AM_BUF_INIT, input = AM_BUF_INIT;
    am_error err = { AM_OK, "" };
    bool from_stdin = false;
    int rc;

    memset(&a, 0, sizeof a);
    a.o = am_llm_opts_default();
    if ((rc = chat_parse(argc, argv, &a)) != 0)
        return rc;
    if (a.messages != NULL) {
        if (cli_read_input(a.messages, &input, &err) != AM_OK)
            return cli_fail(err.code, &err, "reading --messages");
        a.req.messages_json = am_buf_str(&input);
    } else if (strcmp(a.prompt, "-") == 0) {
        from_stdin = true;
        if (cli_read_input("-", &input, &err) != AM_OK)
            return cli_fail(err.code, &err, "reading the prompt");
        a.prompt = input.ptr != NULL ? input.ptr : "";
    }
    if (a.messages == NULL && a.prompt[0] == '\0') {
        am_buf_free(&input);
        return cli_usage("llm", "the PROMPT is empty%s",
                         from_stdin ? " (read from stdin)" : "");
    }
    if (am_llm_create(&a.o, &llm, &err) != AM_OK) {
        am_buf_free(&input);
        return cli_fail(err.code, &err, "llm chat");
    }
    if (a.messages == NULL) {
        msg.role = AM_STR("user");
        msg.content = am_str_c(a.prompt);
        a.req.msgs = &msg;
        a.req.count = 1;
    }
    if (a.system != NULL)
        a.req.system = am_str_c(a.system);
    if (am_llm_chat(llm, &a.req, &text, &res) != AM_OK) {
        /* Problems in a --messages file are named with the file. */
        rc = cli_fail(res.error.code, &res.error,
                      a.messages != NULL && res.http_status == 0 &&
                              res.error.code != AM_ENET
                          ? a.messages
                          : "llm chat");
    } else {
        if (a.json) {
            rc = chat_print_json(am_buf_str(&text), &res);
        } else {
            chat_print_text(&a.o, am_buf_str(&text), &res);
            rc = CLI_EXIT_OK;
        }
    }
    am_llm_free(llm);
    am_buf_free(&text);
    am_buf_free(&input);
    return rc;
}

/* ---- The command tables ---- */

typedef struct llm_run {
    int argc;
    char **argv;
} llm_run;

static int lr_chat(void *ctx)
{
    llm_run *x = ctx;
    return llm_chat(x->argc, x->argv);
}

static const cli_sub llm_subs[] = {
    { "chat", lr_chat, 0, "PROMPT|-|--messages FILE",
      "send one chat request and print the reply (usage on stderr)" },
};

/* The options both commands share come first in both tables. */
#define HTTP_FLAGS                                                          \
    { "--model", "M", "the provider's model name (required)" },            \
    { "--base-url", "URL", "the API's base URL (default: the provider's)" },\
    { "--api-key-env", "VAR", "read the API key from environment variable " \
                              "VAR (default OPENAI_API_KEY or "            \
                              "ANTHROPIC_API_KEY)" },                      \
    { "--timeout", "DURATION", "give up on a request after 30s, 500ms, 2m " \
                               "(a bare number: milliseconds)" },          \
    { "--retries", "N", "retries after a failed try, 0..100 (default 3)" }

static const cli_flag llm_flags[] = {
    HTTP_FLAGS,
    { "--provider", "P", "openai (default; any OpenAI-compatible API) or "
                         "anthropic" },
    { "--system", "TEXT", "the system prompt" },
    { "--messages", "FILE", "send the conversation in FILE (OpenAI JSON) "
                            "instead of a PROMPT" },
    { "--max-tokens", "N", "at most N tokens in the reply" },
    { "--temperature", "T", "sampling temperature, 0..2" },
    { "--json", NULL, "print the reply, finish reason and usage as JSON" },
};

static const char *const llm_examples[] = {
    "agentmem llm chat --model gpt-4o-mini 'Say hi in French'",
    "agentmem llm chat --provider anthropic --model claude-3-5-haiku-latest "
    "--messages examples/providers/history.json --json",
    NULL
};

const cli_group llm_group = { llm_subs, CLI_COUNT(llm_subs), llm_flags,
                              CLI_COUNT(llm_flags), llm_examples };

static const cli_flag embed_flags[] = {
    HTTP_FLAGS,
    { "--dim", "N", "ask for N dimensions (models that support it)" },
    { "--batch", "N", "at most N texts per request, 1..100000 (default 128)" },
};

static const char *const embed_examples[] = {
    "agentmem embed --model text-embedding-3-small 'hello' 'world'",
    NULL
};

const cli_group embed_group = { NULL, 0, embed_flags, CLI_COUNT(embed_flags),
                                embed_examples };

int cmd_llm(int argc, char **argv)
{
    const cli_sub *sub = NULL;
    llm_run x = { argc, argv };
    int rc = cli_sub_check("llm", &llm_group, argv[0], argc - 1, &sub);

    return rc != CLI_EXIT_OK ? rc : sub->run(&x);
}

int cmd_embed(int argc, char **argv)
{
    am_openai_embed_opts o = am_openai_embed_opts_default();
    am_embedder *e = NULL;
    am_error err = { AM_OK, "" };
    am_str *texts = NULL;
    float *vecs = NULL;
    size_t n = 0;
    int rc = CLI_EXIT_OK;

    texts = calloc((size_t)argc, sizeof *texts);
    if (texts == NULL)
        return cli_fail(AM_ENOMEM, NULL, "embed");
    for (int i = 0; i < argc; i++) {
        const char *v = NULL;
        long long num;
        int h = http_opt("embed", argc, argv, &i, &o.http);
        if (h < 0) {
            rc = CLI_EXIT_USAGE;
            goto out;
        }
        if (h > 0)
            continue;
        if (cli_opt(argc, argv, &i, "--base-url", &v)) {
            o.base_url = v;
        } else if (cli_opt(argc, argv, &i, "--model", &v)) {
            o.model = v;
        } else if (cli_opt(argc, argv, &i, "--api-key-env", &v)) {
            o.api_key_env = v;
        } else if (cli_opt(argc, argv, &i, "--dim", &v)) {
            if (v != NULL && !parse_count("embed", "--dim", v, 65536, &num)) {
                rc = CLI_EXIT_USAGE;
                goto out;
            }
            o.dim = v != NULL ? (size_t)num : 0;
        } else if (cli_opt(argc, argv, &i, "--batch", &v)) {
            if (v != NULL && !parse_count("embed", "--batch", v, 100000,
                                          &num)) {
                rc = CLI_EXIT_USAGE;
                goto out;
            }
            if (v != NULL && num == 0) {
                rc = cli_usage("embed", "--batch must be at least 1");
                goto out;
            }
            o.max_batch = v != NULL ? (size_t)num : o.max_batch;
        } else if (strncmp(argv[i], "--", 2) == 0) {
            rc = cli_usage("embed", "unknown option '%s'", argv[i]);
            goto out;
        } else {
            texts[n++] = am_str_c(argv[i]);
            continue;
        }
        if (v == NULL) {
            rc = cli_usage("embed", "%s needs a value", argv[i]);
            goto out;
        }
    }
    if (o.model == NULL) {
        rc = cli_usage("embed", "--model is required");
        goto out;
    }
    if (n == 0) {
        rc = cli_usage("embed", "at least one TEXT is required");
        goto out;
    }
    if (am_embedder_openai_create(&o, &e, &err) != AM_OK) {
        rc = cli_fail(err.code, &err, "embed");
        goto out;
    }
    vecs = calloc(n * e->dim, sizeof *vecs);
    if (vecs == NULL) {
        rc = cli_fail(AM_ENOMEM, NULL, "embed");
        goto out;
    }
    if (am_embedder_embed(e, texts, n, vecs, &err) != AM_OK) {
        rc = cli_fail(err.code, &err, "embed");
        goto out;
    }
    /* One vector a line at float precision (9 digits: the CLI's printer
     * writes 12, which only adds noise to a float): printed here, with
     * the id through the CLI's JSON string encoder. */
    printf("{\"embedder\":");
    if (!cli_print_json_str(am_str_c(e->id))) {
        rc = cli_fail(AM_ENOMEM, NULL, "embed");
        goto out;
    }
    printf(",\"dim\":%zu,\"vectors\":[", e->dim);
    for (size_t i = 0; i < n; i++) {
        printf(i > 0 ? ",\n[" : "\n[");
        for (size_t j = 0; j < e->dim; j++)
            printf(j > 0 ? ",%.9g" : "%.9g", (double)vecs[i * e->dim + j]);
        putchar(']');
    }
    printf("]}\n");
out:
    am_embedder_free(e);
    free(vecs);
    free(texts);
    return rc;
}
