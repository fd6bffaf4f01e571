/* cli_table.c -- what the command tables drive besides dispatch: finding a
 * subcommand, `--help` of a command group, the man page agentmem(1) and the
 * bash completion. All of them read the same rows (main.c's `commands` and
 * each group's cli_group), so that help, manual and completion cannot
 * drift from what the tool accepts.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agentmem/version.h"
#include "cli.h"

const cli_sub *cli_sub_find(const cli_group *g, const char *name)
{
    for (size_t i = 0; g != NULL && i < g->nsubs; i++)
        if (strcmp(g->subs[i].name, name) == 0)
            return &g->subs[i];
    return NULL;
}

int cli_sub_check(const char *cmd, const cli_group *g, const char *name,
                  int nargs, const cli_sub **out)
{
    char names[512];
    size_t len = 0;
    const cli_sub *sub = name != NULL ? cli_sub_find(g, name) : NULL;

    *out = sub;
    if (sub == NULL) {
        names[0] = '\0';
        for (size_t i = 0; i < g->nsubs && len < sizeof names; i++)
            len += (size_t)snprintf(names + len, sizeof names - len, "%s%s",
                                    i ? ", " : "", g->subs[i].name);
        if (name == NULL)
            return cli_usage(cmd, "needs a subcommand: %s (see 'agentmem "
                             "%s --help')", names, cmd);
        return cli_usage(cmd, "unknown subcommand '%s' (%s)", name, names);
    }
    if (nargs < sub->min_args)
        return cli_usage(cmd, "%s expects at least %d argument%s: %s %s %s",
                         name, sub->min_args, sub->min_args == 1 ? "" : "s",
                         cmd, name, sub->usage);
    return CLI_EXIT_OK;
}

void cli_group_help(FILE *out, const cli_command *c)
{
    const char *cmd = c->name;
    const cli_group *g = c->group;

    fprintf(out, "agentmem %s -- %s\n\nusage:\n", cmd, c->summary);
    if (g->nsubs == 0)
        fprintf(out, "  agentmem %s %s\n", cmd, c->usage);
    for (size_t i = 0; i < g->nsubs; i++)
        fprintf(out, "  agentmem %s %s%s%s\n      %s\n", cmd, g->subs[i].name,
                g->subs[i].usage[0] ? " " : "", g->subs[i].usage,
                g->subs[i].summary);
    if (g->nflags > 0)
        fprintf(out, "\noptions:\n");
    for (size_t i = 0; i < g->nflags; i++) {
        char left[64];
        snprintf(left, sizeof left, "%s%s%s", g->flags[i].name,
                 g->flags[i].arg ? " " : "",
                 g->flags[i].arg ? g->flags[i].arg : "");
        fprintf(out, "  %-22s %s\n", left, g->flags[i].help);
    }
    if (g->examples != NULL && g->examples[0] != NULL)
        fprintf(out, "\nexamples:\n");
    for (size_t i = 0; g->examples != NULL && g->examples[i] != NULL; i++)
        fprintf(out, "  %s\n", g->examples[i]);
}

/* roff needs '-' and '\' escaped and a leading '.' or '\'' defused. */
static void roff(FILE *out, const char *s)
{
    if (*s == '.' || *s == '\'')
        fputs("\\&", out);
    for (; *s != '\0'; s++) {
        if (*s == '-')
            fputs("\\-", out);
        else if (*s == '\\')
            fputs("\\e", out);
        else
            fputc(*s, out);
    }
}

void cli_man(FILE *out, const cli_command *cmds, size_t n)
{
    fprintf(out, ".TH AGENTMEM 1 \"\" \"agentmem %s\" \"User Commands\"\n",
            am_version());
    fputs(".SH NAME\nagentmem \\- fast, embeddable memory for LLM agents\n"
          ".SH SYNOPSIS\n.B agentmem\n.I COMMAND\n[\n.I ARGS\n\\&...]\n"
          ".br\n.B agentmem\n.I COMMAND\n.B \\-\\-help\n"
          ".SH DESCRIPTION\nThe command-line tool of the agentmem library: "
          "conversations, exact token counts, context-window trimming and "
          "compression, a long-term store with search and recall, and "
          "hierarchical memory tiers. Exit status: 0 success, 1 failure, 2 "
          "usage, 3 malformed input, 4 not found, 5 I/O or network, 6 a "
          "limit was hit.\n.SH COMMANDS\n", out);
    for (size_t i = 0; i < n; i++) {
        const cli_group *g = cmds[i].group;
        fputs(".SS ", out);
        roff(out, cmds[i].name);
        fputs("\n", out);
        roff(out, cmds[i].summary);
        fputs(".\n", out);
        if (g == NULL || g->nsubs == 0) {
            fputs(".TP\n.B agentmem ", out);
            roff(out, cmds[i].name);
            fputs(" ", out);
            roff(out, cmds[i].usage);
            fputs("\n", out);
        }
        if (g == NULL)
            continue;
        for (size_t k = 0; k < g->nsubs; k++) {
            fputs(".TP\n.B agentmem ", out);
            roff(out, cmds[i].name);
            fputs(" ", out);
            roff(out, g->subs[k].name);
            fputs(" ", out);
            roff(out, g->subs[k].usage);
            fputs("\n", out);
            roff(out, g->subs[k].summary);
            fputs("\n", out);
        }
        if (g->nflags > 0)
            fputs(".PP\nOptions:\n", out);
        for (size_t k = 0; k < g->nflags; k++) {
            fputs(".TP\n.B ", out);
            roff(out, g->flags[k].name);
            if (g->flags[k].arg != NULL) {
                fputs(" \" \"\n.I ", out);
                roff(out, g->flags[k].arg);
            }
            fputs("\n", out);
            roff(out, g->flags[k].help);
            fputs("\n", out);
        }
        if (g->examples != NULL && g->examples[0] != NULL)
            fputs(".PP\nExamples:\n.nf\n", out);
        for (size_t k = 0; g->examples != NULL && g->examples[k] != NULL; k++) {
            roff(out, g->examples[k]);
            fputs("\n", out);
        }
        if (g->examples != NULL && g->examples[0] != NULL)
            fputs(".fi\n", out);
    }
    fputs(".SH FILES\nData files (tokenizer rank files, word vectors) are "
          "found next to the installed library, then in "
          ".B AGENTMEM_DATA_DIR\\fR,\nthen in the install prefix; "
          "\\fBagentmem version \\-\\-verbose\\fR shows where.\n"
          ".SH ENVIRONMENT\n.TP\n.B AGENTMEM_DATA_DIR\nA directory of "
          "data files.\n.TP\n.B OPENAI_API_KEY\\fR, \\fBANTHROPIC_API_KEY\n"
          "Keys of the model providers (llm, embed).\n", out);
}

void cli_completion_bash(FILE *out, const cli_command *cmds, size_t n)
{
    fputs("# bash completion for agentmem (generated by `agentmem help "
          "--completion`)\n_agentmem() {\n"
          "    local cur=${COMP_WORDS[COMP_CWORD]} words=\n"
          "    if [ \"$COMP_CWORD\" -eq 1 ]; then\n        words=\"", out);
    for (size_t i = 0; i < n; i++)
        fprintf(out, "%s%s", i ? " " : "", cmds[i].name);
    fputs(" help\"\n    else\n        case ${COMP_WORDS[1]} in\n", out);
    for (size_t i = 0; i < n; i++) {
        const cli_group *g = cmds[i].group;
        if (g == NULL)
            continue;
        /* The subcommand comes first; a command without any takes its
         * options anywhere. */
        fprintf(out, "        %s)\n            if [ \"$COMP_CWORD\" -eq 2 ] "
                     "&& [ %zu -gt 0 ]; then words=\"", cmds[i].name,
                g->nsubs);
        for (size_t k = 0; k < g->nsubs; k++)
            fprintf(out, "%s%s", k ? " " : "", g->subs[k].name);
        fputs("\"; else words=\"", out);
        for (size_t k = 0; k < g->nflags; k++)
            fprintf(out, "%s%s", k ? " " : "", g->flags[k].name);
        fputs(" --help\"; fi ;;\n", out);
    }
    fputs("        *) words=\"--help\" ;;\n        esac\n    fi\n"
          "    COMPREPLY=($(compgen -W \"$words\" -- \"$cur\"))\n"
          "    case $cur in -*|'') ;; *) [ \"$COMP_CWORD\" -gt 2 ] && "
          "COMPREPLY+=($(compgen -f -- \"$cur\")) ;; esac\n}\n"
          "complete -F _agentmem agentmem\n", out);
}

int cli_parse_duration(const char *cmd, const char *flag, const char *v,
                       int64_t *ms)
{
    static const struct { const char *unit; int64_t ms; } units[] = {
        { "", 1 }, { "ms", 1 }, { "s", 1000 }, { "m", 60000 },
        { "h", 3600000 }, { "d", 86400000 }, { "w", 604800000 },
    };
    char *end = NULL;
    long long n;

    if (v == NULL || *v == '\0')
        return cli_usage(cmd, "%s needs a duration, e.g. 30s, 2h, 7d or a "
                         "number of milliseconds", flag);
    errno = 0;
    n = strtoll(v, &end, 10);
    if (end == v || n < 0 || *v == '-' || *v == '+')
        return cli_usage(cmd, "%s: '%s' is not a duration (a positive "
                         "number with a unit: ms, s, m, h, d, w; none: ms)",
                         flag, v);
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        if (strcmp(end, units[i].unit) != 0)
            continue;
        if (errno == ERANGE || n > INT64_MAX / units[i].ms)
            return cli_usage(cmd, "%s: '%s' is too large a duration", flag,
                             v);
        *ms = (int64_t)n * units[i].ms;
        return CLI_EXIT_OK;
    }
    return cli_usage(cmd, "%s: '%s': unknown unit '%s' (ms, s, m, h, d or w)",
                     flag, v, end);
}
