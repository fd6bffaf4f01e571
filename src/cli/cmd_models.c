/* cmd_models.c -- `agentmem models` and `agentmem cost`.
 *
 *   agentmem models [--file F] [--json] [MODEL]
 *       list the model catalog (built in, plus a user catalog file F), or
 *       show what MODEL resolves to;
 *   agentmem cost --model M --input-tokens N [--cached-tokens N]
 *                 [--output-tokens N] [--file F]
 *                 [--json]
 *       the price of one call, from the catalog (--json: one object,
 *       docs/cli-json.md).
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "agentmem/tokens.h"
#include "cli.h"
#include "commands.h"

/* One catalog entry, as a table row or a JSON object; AM_ENOMEM when
 * the JSON could not be built (nothing is printed then). */
static am_status print_info(const am_model_info *m, bool json, bool first)
{
    if (json) {
        /* jansson escapes whatever a user catalog put in the names. */
        json_t *o = json_pack("{s:s,s:s,s:I,s:I,s:f,s:f,s:f,s:b}", "name",
                              m->name, "provider", m->provider,
                              "context_window", (json_int_t)m->context_window,
                              "max_output", (json_int_t)m->max_output,
                              "input", m->input_per_mtok, "output",
                              m->output_per_mtok, "cached_input",
                              m->cached_input_per_mtok, "known", m->known);
        char *text;
        if (o == NULL)
            return AM_ENOMEM;
        /* Provenance: null where nothing is recorded. */
        json_t *prov = json_pack("{s:s?,s:s?,s:s?,s:s?}", "price_source",
                                 m->price_source, "price_checked",
                                 m->price_checked, "limits_source",
                                 m->limits_source, "limits_checked",
                                 m->limits_checked);
        if ((m->encoding != NULL
                 ? json_object_set_new(o, "encoding",
                                       json_string(m->encoding))
                 : json_object_set_new(o, "chars_per_token",
                                       json_real(m->chars_per_token))) != 0 ||
            prov == NULL || json_object_update(o, prov) != 0)
            text = NULL;
        else
            text = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER |
                                     JSON_REAL_PRECISION(10));
        if (text != NULL)
            printf("%s%s", first ? "" : ",\n", text);
        free(text);
        json_decref(prov);
        json_decref(o);
        return text != NULL ? AM_OK : AM_ENOMEM;
    }
    char tok[32];
    if (m->encoding != NULL)
        snprintf(tok, sizeof tok, "%s", m->encoding);
    else
        snprintf(tok, sizeof tok, "~%.1f chars/tok", m->chars_per_token);
    printf("%-24s %-10s %-16s %9lld %8lld %8.3f %8.3f %8.3f\n", m->name,
           m->provider, tok, (long long)m->context_window,
           (long long)m->max_output, m->input_per_mtok, m->output_per_mtok,
           m->cached_input_per_mtok);
    return AM_OK;
}

/* Where the prices and limits come from, and whether anyone checked. */
static void print_provenance(const am_model_info *m)
{
    const char *what[2] = { "prices", "limits" };
    const char *src[2] = { m->price_source, m->limits_source };
    const char *when[2] = { m->price_checked, m->limits_checked };

    for (int i = 0; i < 2; i++) {
        if (src[i] == NULL)
            printf("%s: no published source recorded (approximate)\n",
                   what[i]);
        else if (when[i] == NULL)
            printf("%s: not yet checked against %s (approximate)\n",
                   what[i], src[i]);
        else
            printf("%s: checked %s against %s\n", what[i], when[i],
                   src[i]);
    }
}

static void print_header(void)
{
    printf("%-24s %-10s %-16s %9s %8s %8s %8s %8s\n", "model", "provider",
           "tokenizer", "context", "max_out", "in/M$", "out/M$",
           "cached/M$");
}

int cmd_models(int argc, char **argv)
{
    const char *file = NULL, *model = NULL, *v;
    bool json = false;
    am_models *models = NULL;
    am_model_info info;
    am_error err = { AM_OK, "" };
    am_status st;

    for (int i = 0; i < argc; i++) {
        if (cli_opt(argc, argv, &i, "--file", &v)) {
            if (v == NULL)
                return cli_usage("models", "--file needs a value");
            file = v;
        } else if (strcmp(argv[i], "--json") == 0) {
            json = true;
        } else if (argv[i][0] == '-') {
            return cli_usage("models", "unknown option '%s'", argv[i]);
        } else if (model == NULL) {
            model = argv[i];
        } else {
            return cli_usage("models", "one MODEL at most");
        }
    }
    st = am_models_create(&(am_models_opts){ file, NULL }, &models, &err);
    if (st != AM_OK)
        return cli_fail(st, &err, "models");
    if (model != NULL) {
        bool known = am_models_lookup(models, am_str_c(model), &info);
        if (!json) {
            print_header();
            st = print_info(&info, false, true);
            if (!known)
                printf("(unknown model '%s': catalog defaults, counts and "
                       "cost are estimated)\n", model);
            else
                print_provenance(&info);
        } else {
            st = print_info(&info, true, true);
            printf("\n");
        }
    } else {
        size_t n = am_models_count(models);
        if (json)
            printf("[");
        else
            print_header();
        for (size_t i = 0; i < n && st == AM_OK; i++)
            if (am_models_at(models, i, &info))
                st = print_info(&info, json, i == 0);
        if (json)
            printf("]\n");
    }
    am_models_free(models);
    if (st != AM_OK)
        return cli_fail(st, NULL, "models: out of memory");
    return CLI_EXIT_OK;
}


/* cost's spellings before the CLI had one grammar: the new one, or
 * NULL. */
static const char *cost_renamed(const char *arg)
{
    static const cli_renamed pairs[] = {
        { "--input", "--input-tokens" },
        { "--output", "--output-tokens" },
        { "--cached", "--cached-tokens" },
    };
    return cli_renamed_find(pairs, CLI_COUNT(pairs), arg);
}

int cmd_cost(int argc, char **argv)
{
    const char *file = NULL, *model = NULL, *v;
    long long in = -1, out = 0, cached = 0;
    bool json = false;
    double usd;
    am_models *models = NULL;
    am_model_info info;
    am_error err = { AM_OK, "" };
    am_status st;
    bool known;

    for (int i = 0; i < argc; i++) {
        if (cli_opt(argc, argv, &i, "--file", &v)) {
            file = v;
        } else if (cli_opt(argc, argv, &i, "--model", &v)) {
            model = v;
        } else if (cli_opt(argc, argv, &i, "--input-tokens", &v)) {
            if (!cli_parse_ll("cost", "--input-tokens", v, 0, LLONG_MAX,
                              &in))
                return CLI_EXIT_USAGE;
        } else if (cli_opt(argc, argv, &i, "--output-tokens", &v)) {
            if (!cli_parse_ll("cost", "--output-tokens", v, 0, LLONG_MAX,
                              &out))
                return CLI_EXIT_USAGE;
        } else if (cli_opt(argc, argv, &i, "--cached-tokens", &v)) {
            if (!cli_parse_ll("cost", "--cached-tokens", v, 0, LLONG_MAX,
                              &cached))
                return CLI_EXIT_USAGE;
        } else if (strcmp(argv[i], "--json") == 0) {
            json = true;
        } else if ((v = cost_renamed(argv[i])) != NULL) {
            /* --output is a file everywhere else: the counts say so. */
            return cli_usage("cost", "'%s' is now '%s' (a number of "
                             "tokens; one spelling for every command)",
                             argv[i], v);
        } else {
            return cli_usage("cost", "unknown argument '%s'", argv[i]);
        }
    }
    if (model == NULL || in < 0)
        return cli_usage("cost", "needs --model M and --input-tokens N");
    if (cached > in)
        return cli_usage("cost", "--cached-tokens %lld exceeds "
                         "--input-tokens %lld", cached, in);
    st = am_models_create(&(am_models_opts){ file, NULL }, &models, &err);
    if (st != AM_OK)
        return cli_fail(st, &err, "cost");
    known = am_models_lookup(models, am_str_c(model), &info);
    usd = am_model_cost(&info, in, cached, out);
    if (json) {
        /* "catalog_entry" is null for an unknown model: then the prices
         * are the catalog's defaults and "estimated" is true. */
        json_t *o = json_pack("{s:s,s:s?,s:b,s:I,s:I,s:I,s:f,s:f,s:f,s:f}",
                              "model", model,
                              "catalog_entry", known ? info.name : NULL,
                              "estimated", !known,
                              "input_tokens", (json_int_t)in,
                              "cached_tokens", (json_int_t)cached,
                              "output_tokens", (json_int_t)out,
                              "input_per_mtok", info.input_per_mtok,
                              "cached_input_per_mtok",
                              info.cached_input_per_mtok,
                              "output_per_mtok", info.output_per_mtok,
                              "cost_usd", usd);
        am_models_free(models);
        return cli_print_json(o, "cost");
    }
    printf("model %s (%s%s)\n", model, known ? "catalog entry " : "unknown, "
           "defaults", known ? info.name : "");
    printf("input %lld (cached %lld) x $%g/M, output %lld x $%g/M\n", in,
           cached, info.input_per_mtok, out, info.output_per_mtok);
    printf("cost $%.6f%s\n", usd, known ? "" : " (estimated: unknown model)");
    am_models_free(models);
    return CLI_EXIT_OK;
}

/* ---- The option tables (agentmem CMD --help, agentmem(1), completion) */

static const cli_flag models_flags[] = {
    { "--file", "F", "add the models of catalog file F to the built-in "
                     "ones" },
    { "--json", NULL, "print the entries as JSON (docs/cli-json.md)" },
};

static const char *const models_examples[] = {
    "agentmem models", "agentmem models --json claude-3-5-sonnet", NULL
};

static const cli_flag cost_flags[] = {
    { "--model", "M", "the model priced (required)" },
    { "--input-tokens", "N", "tokens sent to the model (required)" },
    { "--cached-tokens", "N", "of which read from the provider's prompt "
                              "cache (default 0)" },
    { "--output-tokens", "N", "tokens the model wrote (default 0)" },
    { "--file", "F", "add the models of catalog file F to the built-in "
                     "ones" },
    { "--json", NULL, "print the result as JSON (docs/cli-json.md)" },
};

static const char *const cost_examples[] = {
    "agentmem cost --model gpt-4o-mini --input-tokens 12000 "
    "--cached-tokens 2000 --output-tokens 800",
    NULL
};

const cli_group models_group = { NULL, 0, models_flags,
                                 CLI_COUNT(models_flags), models_examples };
const cli_group cost_group = { NULL, 0, cost_flags, CLI_COUNT(cost_flags),
                               cost_examples };
