/* main.c -- the agentmem command-line tool: dispatch over one table.
 *
 * Every command is a row of `commands`: its name, handler, minimum argument
 * count, usage line, summary and, for a command with subcommands, its
 * group table (cli_group: one {name, handler, min_args, usage, summary} row
 * per subcommand, one line per option, examples). `agentmem --help`,
 * `agentmem CMD --help`, the argument checks, the manual page (`help --man`)
 * and the bash completion (`help --completion`) all read these tables, so
 * a new command is one row plus its cmd_<name>.c file.
 */
#include <stdio.h>
#include <string.h>

#include "agentmem/data.h"
#include "agentmem/version.h"
#include "cli.h"
#include "commands.h"

/* A row whose command has no subcommand table ends at its summary: its
 * group is NULL. (The pragma lets such rows stay five fields long.) */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
static const cli_command commands[] = {
    { "demo", cmd_demo, 0, "", "a short tour of agentmem on shipped data" },
    { "conv", cmd_conv, 1, "SUBCOMMAND [IN] [OPTIONS]",
      "convert, show and count conversations", &conv_group },
    { "tokens", cmd_tokens, 1, "SUBCOMMAND [FILE...] [OPTIONS]",
      "count, encode or decode tokens exactly (tiktoken-compatible)",
      &tokens_group },
    { "models", cmd_models, 0, "[MODEL] [OPTIONS]",
      "list the model catalog or resolve one model", &models_group },
    { "cost", cmd_cost, 0, "--model M --input-tokens N [OPTIONS]",
      "the price of an LLM call from the model catalog", &cost_group },
    { "trim", cmd_trim, 1, "FILE [OPTIONS]",
      "trim a conversation to a budget, keeping tool-call groups whole",
      &trim_group },
    { "compress", cmd_compress, 1, "FILE [OPTIONS]",
      "run a conversation through the memory manager, print the context",
      &compress_group },
    { "replay", cmd_replay, 1, "FILE [OPTIONS]",
      "feed a conversation message by message; print the statistics",
      &replay_group },
    { "store", cmd_store, 1, "SUBCOMMAND [ARGS] [OPTIONS]",
      "the long-term store: items, namespaces, search", &store_group },
    { "recall", cmd_recall, 1, "SUBCOMMAND [ARGS] [OPTIONS]",
      "index past conversations and search them", &recall_group },
    { "tiers", cmd_tiers, 1, "SUBCOMMAND [ARGS] [OPTIONS]",
      "hierarchical memory: tiers, index search, lifecycle, archive",
      &tiers_group },
    { "llm", cmd_llm, 1, "SUBCOMMAND [ARGS] [OPTIONS]",
      "chat with an OpenAI-compatible or Anthropic model over HTTP",
      &llm_group },
    { "embed", cmd_embed, 1, "--model M [OPTIONS] TEXT...",
      "embed texts over an OpenAI-compatible /embeddings endpoint",
      &embed_group },
    { "serve", cmd_serve, 0, "[--db FILE|URL] [OPTIONS]",
      "serve the HTTP API (and MCP at /mcp) in the foreground",
      &serve_group },
    { "mcp", cmd_mcp, 0, "[--db FILE|URL] [OPTIONS]",
      "serve MCP (Model Context Protocol) over stdin/stdout", &mcp_group },
    { "config", cmd_config, 1, "show [--config FILE] [--preset P] [--json]",
      "the effective memory configuration and where each value came "
      "from" },
    { "version", cmd_version, 0, "[--verbose]",
      "print the library version (--verbose: where each data file is)" },
};
#pragma GCC diagnostic pop

#define NCOMMANDS (sizeof commands / sizeof commands[0])

static void print_help(FILE *out)
{
    fprintf(out,
            "agentmem %s -- fast, embeddable memory for LLM agents\n\n"
            "usage: agentmem COMMAND [ARGS...]\n"
            "       agentmem COMMAND --help\n\ncommands:\n",
            am_version());
    for (size_t i = 0; i < NCOMMANDS; i++)
        fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "\noptions:\n  --help     this text\n"
                 "  --version  print the version\n\n"
                 "'agentmem help --man' prints the manual page agentmem(1), "
                 "'agentmem help --completion' a bash completion script.\n");
}

/* `version --verbose` also says where each data file was found, so that a
 * user (and tests/test_install.sh) can see which install is in use. */
int cmd_version(int argc, char **argv)
{
    static const char *const files[] = {
        "cl100k_base.tiktoken", "o200k_base.tiktoken", "p50k_base.tiktoken",
        "r50k_base.tiktoken", "wordvec-sg100.bin"
    };
    char path[4096];
    am_error err = { AM_OK, "" };

    printf("agentmem %s\n", am_version());
    if (argc < 1 || strcmp(argv[0], "--verbose") != 0)
        return CLI_EXIT_OK;
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        if (am_data_find(NULL, files[i], path, sizeof path, &err) == AM_OK)
            printf("%-22s %s\n", files[i], path);
        else
            printf("%-22s %s\n", files[i], err.msg);
    }
    return CLI_EXIT_OK;
}

int main(int argc, char **argv)
{
    const cli_command *cmd = NULL;

    if (argc < 2) {
        print_help(stderr);
        return CLI_EXIT_USAGE;
    }
    if (strcmp(argv[1], "help") == 0 && argc > 2 &&
        strcmp(argv[2], "--man") == 0) {
        cli_man(stdout, commands, NCOMMANDS);
        return cli_close_stdout(CLI_EXIT_OK);
    }
    if (strcmp(argv[1], "help") == 0 && argc > 2 &&
        strcmp(argv[2], "--completion") == 0) {
        cli_completion_bash(stdout, commands, NCOMMANDS);
        return cli_close_stdout(CLI_EXIT_OK);
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        print_help(stdout);
        return cli_close_stdout(CLI_EXIT_OK);
    }
    if (strcmp(argv[1], "--version") == 0)
        return cli_close_stdout(cmd_version(0, NULL));
    for (size_t i = 0; i < NCOMMANDS; i++)
        if (strcmp(argv[1], commands[i].name) == 0)
            cmd = &commands[i];
    if (cmd == NULL) {
        fprintf(stderr, "agentmem: unknown command '%s' (see 'agentmem "
                        "--help')\n", argv[1]);
        return CLI_EXIT_USAGE;
    }
    for (int i = 2; i < argc; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            if (cmd->group != NULL)
                cli_group_help(stdout, cmd);
            else
                printf("usage: agentmem %s %s\n%s\n", cmd->name, cmd->usage,
                       cmd->summary);
            return cli_close_stdout(CLI_EXIT_OK);
        }
    if (argc - 2 < cmd->min_args)
        return cli_usage(cmd->name, "expects at least %d argument%s: %s",
                         cmd->min_args, cmd->min_args == 1 ? "" : "s",
                         cmd->usage);
    /* Every command's result is checked for having reached stdout. */
    return cli_close_stdout(cmd->run(argc - 2, argv + 2));
}
