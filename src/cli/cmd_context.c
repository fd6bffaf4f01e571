/* cmd_context.c -- `agentmem trim`, `agentmem compress`, `agentmem replay`.
 *
 *   agentmem trim FILE [--format F] [--strategy last|first|tokens]
 *                 [--max-messages N] [--max-tokens N] [--model M]
 *                 [--no-system] [--start-on-user] [--end-on ROLE]
 *                 [--partial] [--out FILE] [--out-format F]
 *   agentmem compress FILE [--format F] [--config FILE] [--preset P]
 *                 [--strategy S] [--threshold N] [--short-term N]
 *                 [--model M] [--force] [--out FILE] [--out-format F]
 *   agentmem replay FILE [--format F] [--config FILE] [--preset P]
 *                 [--strategy S] [--threshold N] [--short-term N]
 *                 [--model M] [--quiet]
 *
 * Tokens are counted for --model M (trim: default gpt-4o-mini; compress
 * and replay: MEMORY_MODEL, default gpt-4o-mini): exact for OpenAI
 * models, the catalog's rule for others; "--model estimate" counts 4
 * bytes per token.
 *
 * compress and replay summarize offline unless --llm-model M is given
 * (with --provider openai|anthropic, --base-url URL and --api-key-env VAR,
 * spelled as for `agentmem llm chat`; --model is the model whose tokens
 * are counted). compress --force compresses once more at the end, even
 * under the threshold.
 *
 * FILE is a conversation in agentmem, OpenAI or Anthropic JSON ("-" for
 * stdin). The result goes to stdout (or --out) in --out-format (default:
 * the input format); a one-line report goes to stderr. Trimming for
 * --out-format anthropic implies --start-on-user (Anthropic requires it).
 * Memory settings are built as the library builds them: defaults, then
 * --preset, then the --config file, then MEMORY_* environment variables,
 * then the flags.
 *
 * --json (all three) prints one JSON object on stdout instead of the
 * conversation and the report (docs/cli-json.md): the report's figures,
 * and the resulting conversation under "conversation" unless --out sent it
 * to a file.
 */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "agentmem/memconfig.h"
#include "agentmem/msg.h"
#include "agentmem/tokens.h"
#include "agentmem/window.h"
#include "cli.h"
#include "commands.h"

typedef struct common {
    const char *file;
    const char *out;
    am_format in_fmt, out_fmt;
    bool out_fmt_set;
    bool json;
    const char *model;
    am_tokenizer *tz;
    am_msg_list msgs;
} common;


/* Options shared by the three commands; returns 1 when consumed, 0 when
 * not ours, -1 (after printing) on a usage error. */
static int common_opt(const char *cmd, common *c, int argc, char **argv,
                      int *i)
{
    const char *v = NULL;
    am_error err = { AM_OK, "" };
    bool is_out = false;
    if (cli_opt(argc, argv, i, "--format", &v) ||
        (is_out = cli_opt(argc, argv, i, "--out-format", &v))) {
        am_format f;
        if (v == NULL || am_format_parse(am_str_c(v), &f, &err) != AM_OK) {
            cli_usage(cmd, "bad format '%s' (agentmem, openai, anthropic)",
                      v != NULL ? v : "");
            return -1;
        }
        if (is_out) {
            c->out_fmt = f;
            c->out_fmt_set = true;
        } else {
            c->in_fmt = f;
        }
        return 1;
    }
    if (cli_opt(argc, argv, i, "--out", &v)) {
        if (v == NULL) {
            cli_usage(cmd, "--out needs a file");
            return -1;
        }
        c->out = v;
        return 1;
    }
    if (cli_opt(argc, argv, i, "--model", &v)) {
        if (v == NULL) {
            cli_usage(cmd, "--model needs a name");
            return -1;
        }
        c->model = v;
        return 1;
    }
    if (strcmp(argv[*i], "--json") == 0) {
        c->json = true;
        return 1;
    }
    return 0;
}

static int load(const char *cmd, common *c)
{
    am_buf text = AM_BUF_INIT;
    am_error err = { AM_OK, "" };
    am_status st;

    if (c->file == NULL)
        return cli_usage(cmd, "expects a conversation FILE ('-': stdin)");
    st = cli_read_input(c->file, &text, &err);
    if (st != AM_OK)
        return cli_fail(st, &err, c->file);
    st = am_msgs_from_json(NULL, c->in_fmt, am_buf_str(&text), &c->msgs,
                           &err);
    if (st == AM_EFORMAT)
        cli_format_hint(c->in_fmt, am_buf_str(&text), &err);
    am_buf_free(&text);
    if (st != AM_OK)
        return cli_fail(st, &err, c->file);
    if (!c->out_fmt_set)
        c->out_fmt = c->in_fmt;
    return CLI_EXIT_OK;
}

/* trim counts for --model (default AM_MEMORY_DEFAULT_MODEL); "estimate":
 * 4 bytes per token. */
static int open_counter(common *c)
{
    const char *model = c->model != NULL ? c->model
                                         : AM_MEMORY_DEFAULT_MODEL;
    am_error err = { AM_OK, "" };
    am_status st;
    if (strcmp(model, "estimate") == 0 || model[0] == '\0')
        return CLI_EXIT_OK;
    st = am_tokenizer_create(am_str_c(model), NULL, &c->tz, &err);
    return st == AM_OK ? CLI_EXIT_OK : cli_fail(st, &err, "--model");
}

/* "exact, o200k_base", "estimated for claude-3-5-sonnet, 3.5 characters
 * per token" or "estimate, 4 bytes per token". */
static void counting(const am_tokenizer *tz, char *out, size_t cap)
{
    am_model_info mi;
    if (tz == NULL) {
        snprintf(out, cap, "estimate, 4 bytes per token");
        return;
    }
    if (am_tokenizer_is_exact(tz)) {
        snprintf(out, cap, "exact, %s",
                 am_encoding_name(am_tokenizer_encoding(tz)));
        return;
    }
    am_tokenizer_model(tz, &mi);
    snprintf(out, cap, "estimated for %s, %.1f characters per token",
             am_tokenizer_model_name(tz), mi.chars_per_token);
}

static void common_free(common *c)
{
    am_msg_list_free(&c->msgs);
    am_tokenizer_free(c->tz);
}

static int write_msgs(const common *c, const am_msg_list *l)
{
    am_buf out = AM_BUF_INIT;
    am_error err = { AM_OK, "" };
    am_status st = am_msgs_to_json((const am_msg *const *)l->items, l->count,
                                   c->out_fmt, 0, &out, &err);
    if (st == AM_OK && (out.len == 0 || out.ptr[out.len - 1] != '\n'))
        st = am_buf_append(&out, "\n", 1);
    if (st == AM_OK)
        st = cli_write_output(c->out, out.ptr, out.len, &err);
    am_buf_free(&out);
    return st == AM_OK ? CLI_EXIT_OK : cli_fail(st, &err, "write");
}

/* --json: add what every command's object shares and print it. The
 * conversation `l` (NULL: none, as for replay) goes, in --out-format,
 * under "conversation", or to --out, which is then named under "out".
 * Takes `o` (NULL: it could not be built). Returns the exit status. */
static int json_finish(const common *c, json_t *o, const am_msg_list *l,
                       const char *how, const char *cmd)
{
    am_buf text = AM_BUF_INIT;
    am_error err = { AM_OK, "" };
    am_status st;
    json_t *conv = NULL;
    int rc = CLI_EXIT_OK;

    if (l != NULL && c->out != NULL) {
        rc = write_msgs(c, l);
        conv = json_string(c->out);
    } else if (l != NULL) {
        st = am_msgs_to_json((const am_msg *const *)l->items, l->count,
                             c->out_fmt, 0, &text, &err);
        if (st != AM_OK)
            rc = cli_fail(st, &err, cmd);
        else
            conv = cli_json_parse(am_buf_str(&text));
    }
    am_buf_free(&text);
    if (rc == CLI_EXIT_OK && o != NULL) {
        /* A json_object_set_new takes its value even when it fails. */
        bool ok = json_object_set_new(o, "counting", json_string(how)) == 0;
        if (l != NULL) {
            ok = json_object_set_new(o, "format", json_string(am_format_name(
                                                      c->out_fmt))) == 0 &&
                 ok;
            ok = json_object_set_new(o, c->out != NULL ? "out"
                                                       : "conversation",
                                     conv) == 0 &&
                 ok;
            conv = NULL;
        }
        if (ok) {
            rc = cli_print_json(o, cmd);
            o = NULL;
        } else {
            rc = cli_fail(AM_ENOMEM, NULL, cmd);
        }
    } else if (rc == CLI_EXIT_OK) {
        rc = cli_fail(AM_ENOMEM, NULL, cmd);
    }
    json_decref(conv);
    json_decref(o);
    return rc;
}

/* ---- trim ---- */

int cmd_trim(int argc, char **argv)
{
    common c;
    am_trim_opts o = am_trim_opts_default();
    am_trim_result r = AM_TRIM_RESULT_INIT;
    am_error err = { AM_OK, "" };
    int rc;

    memset(&c, 0, sizeof c);
    for (int i = 0; i < argc; i++) {
        const char *v = NULL;
        int k = common_opt("trim", &c, argc, argv, &i);
        if (k < 0)
            return CLI_EXIT_USAGE;
        if (k > 0)
            continue;
        if (cli_opt(argc, argv, &i, "--strategy", &v)) {
            if (v != NULL && strcmp(v, "last") == 0)
                o.strategy = AM_TRIM_LAST;
            else if (v != NULL && strcmp(v, "first") == 0)
                o.strategy = AM_TRIM_FIRST;
            else if (v != NULL && strcmp(v, "tokens") == 0)
                o.strategy = AM_TRIM_TOKENS;
            else
                return cli_usage("trim", "--strategy: last, first or tokens");
        } else if (cli_opt(argc, argv, &i, "--max-messages", &v)) {
            if (!cli_parse_size("trim", "--max-messages", v, SIZE_MAX,
                                &o.max_messages))
                return CLI_EXIT_USAGE;
        } else if (cli_opt(argc, argv, &i, "--max-tokens", &v)) {
            long long n = 0;
            if (!cli_parse_ll("trim", "--max-tokens", v, 1, LLONG_MAX, &n))
                return CLI_EXIT_USAGE;
            o.max_tokens = (size_t)n;
        } else if (cli_opt(argc, argv, &i, "--end-on", &v)) {
            am_role role;
            if (v == NULL || am_role_parse(am_str_c(v), &role, &err) != AM_OK)
                return cli_usage("trim", "--end-on: a role (user, ...)");
            o.end_on_role = (int)role;
        } else if (strcmp(argv[i], "--no-system") == 0) {
            o.preserve_system = false;
        } else if (strcmp(argv[i], "--start-on-user") == 0) {
            o.start_on_user = true;
        } else if (strcmp(argv[i], "--partial") == 0) {
            o.allow_partial = true;
        } else if (argv[i][0] == '-' && argv[i][1] != '\0') {
            return cli_usage("trim", "unknown option '%s'", argv[i]);
        } else if (c.file == NULL) {
            c.file = argv[i];
        } else {
            return cli_usage("trim", "one FILE only");
        }
    }
    rc = load("trim", &c);
    if (rc == CLI_EXIT_OK)
        rc = open_counter(&c);
    if (rc != CLI_EXIT_OK) {
        common_free(&c);
        return rc;
    }
    /* Anthropic requires the first message to be a user turn. */
    if (c.out_fmt == AM_FORMAT_ANTHROPIC)
        o.start_on_user = true;
    o.counter.tokenizer = c.tz;
    am_status st = am_trim((const am_msg *const *)c.msgs.items, c.msgs.count,
                           &o, &r, &err);
    if (st != AM_OK) {
        common_free(&c);
        return cli_fail(st, &err, "trim");
    }
    {
        char how[128];
        counting(c.tz, how, sizeof how);
        if (c.json) {
            /* {"kept", "total", "tokens_before", "tokens_after", "dropped",
             * "orphans", "partial", "counting", "format", "conversation" |
             * "out"} */
            rc = json_finish(&c, json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:b}",
                                           "kept",
                                           (json_int_t)r.messages.count,
                                           "total", (json_int_t)c.msgs.count,
                                           "tokens_before",
                                           (json_int_t)r.tokens_before,
                                           "tokens_after",
                                           (json_int_t)r.tokens_after,
                                           "dropped",
                                           (json_int_t)r.dropped_count,
                                           "orphans", (json_int_t)r.orphans,
                                           "partial",
                                           r.partial_index != SIZE_MAX),
                             &r.messages, how, "trim");
            goto trimmed;
        }
        rc = write_msgs(&c, &r.messages);
        fprintf(stderr,
                "trim: kept %zu of %zu messages, %zu -> %zu tokens (%s), "
                "dropped %zu (%zu orphan tool results)%s\n",
                r.messages.count, c.msgs.count, r.tokens_before,
                r.tokens_after, how, r.dropped_count, r.orphans,
                r.partial_index != SIZE_MAX ? ", boundary message cut" : "");
    }
trimmed:
    am_trim_result_free(&r);
    common_free(&c);
    return rc;
}

/* ---- compress / replay ---- */

typedef struct mem_cli {
    common c;
    am_memory_config cfg;
    const char *config_file;
    const char *preset;
    const char *strategy;
    size_t threshold, short_term;
    bool force, quiet;
    const char *llm_model, *llm_provider, *llm_base_url, *llm_key_env;
} mem_cli;

/* The spellings compress and replay used before the CLI had one grammar:
 * the new one, for an error that says what to type, or NULL. */
static const char *renamed(const char *arg)
{
    static const cli_renamed pairs[] = {
        { "--now", "--force" }, /* tiers' --now MS is a time */
        { "--llm-provider", "--provider" },
        { "--llm-base-url", "--base-url" },
        { "--llm-api-key-env", "--api-key-env" },
    };
    return cli_renamed_find(pairs, CLI_COUNT(pairs), arg);
}

static int mem_args(const char *cmd, bool replay, mem_cli *m, int argc,
                    char **argv)
{
    for (int i = 0; i < argc; i++) {
        const char *v = NULL;
        int k = common_opt(cmd, &m->c, argc, argv, &i);
        if (k < 0)
            return CLI_EXIT_USAGE;
        if (k > 0)
            continue;
        if (cli_opt(argc, argv, &i, "--config", &v)) {
            if (v == NULL)
                return cli_usage(cmd, "--config needs a file");
            m->config_file = v;
        } else if (cli_opt(argc, argv, &i, "--preset", &v)) {
            if (v == NULL)
                return cli_usage(cmd, "--preset needs a name");
            m->preset = v;
        } else if (cli_opt(argc, argv, &i, "--strategy", &v)) {
            if (v == NULL)
                return cli_usage(cmd, "--strategy needs a name");
            m->strategy = v;
        } else if (cli_opt(argc, argv, &i, "--threshold", &v)) {
            long long n = 0;
            if (!cli_parse_ll(cmd, "--threshold", v, 1, LLONG_MAX, &n))
                return CLI_EXIT_USAGE;
            m->threshold = (size_t)n;
        } else if (cli_opt(argc, argv, &i, "--short-term", &v)) {
            if (!cli_parse_size(cmd, "--short-term", v, SIZE_MAX - 1,
                                &m->short_term))
                return CLI_EXIT_USAGE;
            m->short_term++; /* 0 means unset below */
        } else if (cli_opt(argc, argv, &i, "--llm-model", &v)) {
            if (v == NULL)
                return cli_usage(cmd, "--llm-model needs a model name");
            m->llm_model = v;
        } else if (cli_opt(argc, argv, &i, "--provider", &v)) {
            if (v == NULL)
                return cli_usage(cmd, "--provider: openai or anthropic");
            m->llm_provider = v;
        } else if (cli_opt(argc, argv, &i, "--base-url", &v)) {
            if (v == NULL)
                return cli_usage(cmd, "--base-url needs a URL");
            m->llm_base_url = v;
        } else if (cli_opt(argc, argv, &i, "--api-key-env", &v)) {
            if (v == NULL)
                return cli_usage(cmd, "--api-key-env needs the name of an "
                                 "environment variable");
            m->llm_key_env = v;
        } else if (!replay && strcmp(argv[i], "--force") == 0) {
            m->force = true;
        } else if ((v = renamed(argv[i])) != NULL) {
            return cli_usage(cmd, "'%s' is now '%s' (one spelling for every "
                             "command)", argv[i], v);
        } else if (strcmp(argv[i], "--quiet") == 0) {
            m->quiet = true;
        } else if (argv[i][0] == '-' && argv[i][1] != '\0') {
            return cli_usage(cmd, "unknown option '%s'", argv[i]);
        } else if (m->c.file == NULL) {
            m->c.file = argv[i];
        } else {
            return cli_usage(cmd, "one FILE only");
        }
    }
    return CLI_EXIT_OK;
}

/* defaults < preset < config file (--config, or the one found as
 * memconfig.h says: $AGENTMEM_CONFIG, ./.agentmem/config, the user's
 * config directory) < environment < flags. `agentmem config show` prints
 * the same resolution. */
static int mem_config(mem_cli *m)
{
    am_memory_config_resolve_opts ro;
    am_error err = { AM_OK, "" };
    am_status st;

    memset(&ro, 0, sizeof ro);
    ro.file = m->config_file;
    ro.preset = m->preset;
    st = am_memory_config_resolve(&m->cfg, &ro, NULL, &err);
    if (st != AM_OK)
        return cli_fail(st, &err, m->config_file != NULL ? "--config"
                                                         : "config");
    if (m->strategy != NULL) {
        st = am_memory_config_set(&m->cfg,
                                  AM_STR("MEMORY_COMPRESSION_STRATEGY"),
                                  am_str_c(m->strategy), "--strategy", &err);
        if (st != AM_OK)
            return cli_fail(st, &err, "--strategy");
    }
    if (m->threshold > 0) {
        m->cfg.compression_threshold = m->threshold;
        if (m->cfg.max_context_tokens < m->threshold)
            m->cfg.max_context_tokens = m->threshold * 2;
    }
    if (m->short_term > 0)
        m->cfg.short_term_size = m->short_term - 1;
    if (m->c.model != NULL)
        snprintf(m->cfg.model, sizeof m->cfg.model, "%s", m->c.model);
    return CLI_EXIT_OK;
}

/* One compression replay saw, as a line or (--json) an object. */
static void replay_event(const mem_cli *m, am_memory *mem, size_t i,
                         json_t *events)
{
    am_compressed_memory rec;
    am_memory_stats s;

    am_memory_compressed(mem, &rec);
    am_memory_stats_get(mem, &s);
    if (events != NULL) {
        json_array_append_new(
            events, json_pack("{s:I,s:s,s:I,s:I,s:I,s:f,s:I}", "message",
                              (json_int_t)(i + 1), "strategy",
                              am_compress_strategy_name(rec.strategy),
                              "messages",
                              (json_int_t)rec.original_message_count,
                              "tokens_before", (json_int_t)rec.original_tokens,
                              "tokens_after",
                              (json_int_t)rec.compressed_tokens, "ratio",
                              rec.compression_ratio, "context_tokens",
                              (json_int_t)s.current_tokens));
        return;
    }
    if (!m->quiet)
        printf("[message %zu] %s: compressed %zu messages, %zu -> %zu "
               "tokens (ratio %.2f); context now %zu tokens\n",
               i + 1, am_compress_strategy_name(rec.strategy),
               rec.original_message_count, rec.original_tokens,
               rec.compressed_tokens, rec.compression_ratio,
               s.current_tokens);
}

/* --json of compress and replay: {"stats": am_memory_stats_json (which
 * names the model), replay: "input_messages", "messages", "tokens",
 * "compressions": [...]} then json_finish's members. Takes `events`. */
static int memory_json(const mem_cli *m, am_memory *mem,
                       const am_msg_list *ctx, json_t *events,
                       const char *how, bool replay)
{
    am_buf text = AM_BUF_INIT;
    json_t *o = NULL;
    am_memory_stats s;

    am_memory_stats_get(mem, &s);
    if (am_memory_stats_json(mem, &text) == AM_OK)
        o = json_pack("{s:o}", "stats", cli_json_parse(am_buf_str(&text)));
    am_buf_free(&text);
    if (o != NULL && replay &&
        json_object_update_new(o, json_pack(
                                      "{s:I,s:I,s:I,s:O}", "input_messages",
                                      (json_int_t)m->c.msgs.count,
                                      "messages", (json_int_t)ctx->count,
                                      "tokens", (json_int_t)s.current_tokens,
                                      "compressions", events)) != 0) {
        json_decref(o);
        o = NULL;
    }
    json_decref(events);
    return json_finish(&m->c, o, replay ? NULL : ctx, how,
                       replay ? "replay" : "compress");
}

static int run_memory(const char *cmd, int argc, char **argv, bool replay)
{
    mem_cli m;
    am_memory_opts o = am_memory_opts_default();
    am_memory *mem = NULL;
    am_llm *llm = NULL;
    am_summarizer *sum = NULL;
    am_msg_list ctx = AM_MSG_LIST_INIT;
    am_buf text = AM_BUF_INIT;
    json_t *events = NULL; /* replay --json: the compressions */
    am_error err = { AM_OK, "" };
    am_status st;
    int rc;

    memset(&m, 0, sizeof m);
    rc = mem_args(cmd, replay, &m, argc, argv);
    if (rc == CLI_EXIT_OK && replay && m.c.json &&
        (events = json_array()) == NULL)
        rc = cli_fail(AM_ENOMEM, NULL, cmd);
    if (rc == CLI_EXIT_OK)
        rc = mem_config(&m);
    if (rc == CLI_EXIT_OK)
        rc = load(cmd, &m.c);
    if (rc != CLI_EXIT_OK)
        goto out;
    /* The manager counts for cfg.model (MEMORY_MODEL or --model). */
    o.config = m.cfg;
    if (m.llm_model != NULL) {
        /* Summarize with a chat model instead of the offline summarizer. */
        am_llm_opts lo = am_llm_opts_default();
        lo.model = m.llm_model;
        lo.base_url = m.llm_base_url;
        lo.api_key_env = m.llm_key_env;
        if (m.llm_provider != NULL &&
            am_llm_kind_parse(am_str_c(m.llm_provider), &lo.kind, NULL) !=
                AM_OK) {
            rc = cli_usage(cmd, "--provider: openai or anthropic");
            goto out;
        }
        st = am_llm_create(&lo, &llm, &err);
        if (st == AM_OK)
            st = am_summarizer_llm(llm, NULL, &sum, &err);
        if (st != AM_OK) {
            rc = cli_fail(st, &err, "--llm-model");
            goto out;
        }
        o.summarizer = sum;
    }
    st = am_memory_create(&o, &mem, &err);
    if (st != AM_OK) {
        rc = cli_fail(st, &err, cmd);
        goto out;
    }
    for (size_t i = 0; i < m.c.msgs.count; i++) {
        st = am_memory_add(mem, m.c.msgs.items[i], NULL);
        if (st != AM_OK) {
            char where[64];
            snprintf(where, sizeof where, "message %zu", i);
            rc = cli_fail(st, am_memory_last_error(mem), where);
            goto out;
        }
        if (replay && am_memory_was_compressed_last(mem))
            replay_event(&m, mem, i, events);
    }
    if (m.force) {
        st = am_memory_compress(mem);
        if (st != AM_OK) {
            rc = cli_fail(st, am_memory_last_error(mem), cmd);
            goto out;
        }
    }
    st = am_memory_context(mem, &ctx);
    if (st != AM_OK) {
        rc = cli_fail(st, am_memory_last_error(mem), cmd);
        goto out;
    }
    {
        char how[128];
        counting(am_memory_tokenizer(mem), how, sizeof how);
        if (m.c.json) {
            rc = memory_json(&m, mem, &ctx, events, how, replay);
            events = NULL;
            goto out;
        }
        if (!replay)
            rc = write_msgs(&m.c, &ctx);
        am_memory_stats_text(mem, &text);
        if (replay) {
            am_memory_stats s;
            am_memory_stats_get(mem, &s);
            printf("%sContext now: %zu messages, %zu tokens (%s, model "
                   "%s; from %zu messages)\n",
                   text.ptr, ctx.count, s.current_tokens, how,
                   m.cfg.model[0] ? m.cfg.model : "none", m.c.msgs.count);
        } else {
            fprintf(stderr, "%sCounting: %s, model %s\n", text.ptr, how,
                    m.cfg.model[0] ? m.cfg.model : "none");
        }
    }
out:
    json_decref(events);
    am_buf_free(&text);
    am_msg_list_free(&ctx);
    am_memory_free(mem);
    am_summarizer_free(sum);
    am_llm_free(llm);
    common_free(&m.c);
    return rc;
}

int cmd_compress(int argc, char **argv)
{
    return run_memory("compress", argc, argv, false);
}

int cmd_replay(int argc, char **argv)
{
    return run_memory("replay", argc, argv, true);
}

/* ---- The option tables (agentmem CMD --help, agentmem(1), completion) */

#define IO_FLAGS                                                            \
    { "--format", "F", "the input's format: agentmem (default), openai or "\
                       "anthropic" },                                       \
    { "--model", "M", "count tokens as model M (default gpt-4o-mini; "     \
                      "'estimate': 4 bytes per token)" },                   \
    { "--json", NULL, "print the result as one JSON object "               \
                      "(docs/cli-json.md)" }

#define OUT_FLAGS                                                           \
    { "--out", "FILE", "write the conversation to FILE (default stdout)" },\
    { "--out-format", "F", "the output's format (default: the input's)" }

static const cli_flag trim_flags[] = {
    IO_FLAGS,
    OUT_FLAGS,
    { "--strategy", "S", "last (keep the newest, default), first (keep "
                         "the oldest) or tokens (last, with --max-tokens "
                         "required)" },
    { "--max-messages", "N", "keep at most N messages" },
    { "--max-tokens", "N", "keep at most N tokens" },
    { "--no-system", NULL, "let the system prompt be dropped too" },
    { "--start-on-user", NULL, "start the result on a user message "
                               "(implied by --out-format anthropic)" },
    { "--end-on", "ROLE", "end the result on a message of ROLE" },
    { "--partial", NULL, "cut the boundary message instead of dropping "
                         "it" },
};

#define MEMORY_FLAGS                                                        \
    { "--config", "FILE", "memory settings, KEY=VALUE lines "              \
                          "(include/agentmem/memconfig.h)" },              \
    { "--preset", "P", "aggressive, balanced (default) or conservative" }, \
    { "--strategy", "S", "sliding_window, selective or deletion" },        \
    { "--threshold", "N", "compress when the context exceeds N tokens" },  \
    { "--short-term", "N", "recent messages always kept verbatim" },       \
    { "--llm-model", "M", "summarize with chat model M (default: the "     \
                          "offline summarizer)" },                          \
    { "--provider", "P", "--llm-model's provider: openai or anthropic" },  \
    { "--base-url", "URL", "--llm-model's API base URL" },                 \
    { "--api-key-env", "VAR", "--llm-model's key is in environment "       \
                              "variable VAR" }

static const cli_flag compress_flags[] = {
    IO_FLAGS,
    OUT_FLAGS,
    MEMORY_FLAGS,
    { "--force", NULL, "compress once more at the end, even under the "
                       "threshold" },
};

static const cli_flag replay_flags[] = {
    IO_FLAGS,
    MEMORY_FLAGS,
    { "--quiet", NULL, "print only the statistics, not each compression" },
};

static const char *const trim_examples[] = {
    "agentmem trim examples/msg/conversation.json --max-tokens 150 "
    "--out-format openai",
    "agentmem trim examples/msg/openai.json --format openai --max-messages "
    "3 --json",
    NULL
};

static const char *const compress_examples[] = {
    "agentmem compress examples/context/agent_session.json --threshold "
    "4000 > context.json",
    "agentmem compress examples/msg/conversation.json --short-term 2 "
    "--force --json",
    NULL
};

static const char *const replay_examples[] = {
    "agentmem replay examples/context/agent_session.json --preset "
    "aggressive",
    NULL
};

const cli_group trim_group = { NULL, 0, trim_flags, CLI_COUNT(trim_flags),
                               trim_examples };
const cli_group compress_group = { NULL, 0, compress_flags,
                                   CLI_COUNT(compress_flags),
                                   compress_examples };
const cli_group replay_group = { NULL, 0, replay_flags,
                                 CLI_COUNT(replay_flags), replay_examples };
