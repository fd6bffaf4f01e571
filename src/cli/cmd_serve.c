/* cmd_serve.c -- `agentmem serve` (HTTP API, MCP at /mcp) and `agentmem
 * mcp` (MCP over stdio).
 *
 *   agentmem serve [--db FILE|URL] [--key-file FILE] [--listen HOST:PORT]
 *                  [--keys FILE]
 *                  [--threads N] [--max-conns N] [--max-body BYTES]
 *                  [--max-depth N] [--timeout DURATION]
 *
 *   agentmem mcp [--db FILE|URL] [--key-file FILE] [--max-body BYTES]
 *                [--max-depth N]
 *
 * Without --db, the store is what DATABASE_URL names (cli_db_default).
 * The options only fill srv_opts; the server itself lives in src/server.
 */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "commands.h"
#include "server.h"

static bool number(const char *v, unsigned long long max,
                   unsigned long long *out)
{
    char *end = NULL;
    if (v == NULL || *v == '\0' || *v == '-')
        return false;
    *out = strtoull(v, &end, 10);
    return *end == '\0' && *out <= max;
}

static int parse(const char *cmd, int argc, char **argv, srv_opts *o,
                 bool http)
{
    memset(o, 0, sizeof *o);
    for (int i = 0; i < argc; i++) {
        const char *v = NULL;
        unsigned long long n;
        if (cli_opt(argc, argv, &i, "--db", &v)) {
            int rc = cli_db_arg(cmd, v, &o->db);
            if (rc != 0)
                return rc;
        } else if (http && cli_opt(argc, argv, &i, "--listen", &v)) {
            if (v == NULL)
                return cli_usage(cmd, "--listen needs HOST:PORT");
            o->listen = v;
        } else if (cli_opt(argc, argv, &i, "--key-file", &v)) {
            if (v == NULL)
                return cli_usage(cmd, "--key-file needs a file");
            o->key_file = v;
        } else if (http && cli_opt(argc, argv, &i, "--keys", &v)) {
            if (v == NULL)
                return cli_usage(cmd, "--keys needs a file");
            o->keys_file = v;
        } else if (http && cli_opt(argc, argv, &i, "--threads", &v)) {
            if (!number(v, 256, &n) || n == 0)
                return cli_usage(cmd, "--threads: 1 to 256");
            o->threads = (unsigned)n;
        } else if (http && cli_opt(argc, argv, &i, "--max-conns", &v)) {
            if (!number(v, 100000, &n) || n == 0)
                return cli_usage(cmd, "--max-conns: 1 to 100000");
            o->max_conns = (unsigned)n;
        } else if (cli_opt(argc, argv, &i, "--max-body", &v)) {
            if (!number(v, (unsigned long long)1 << 30, &n) || n < 64)
                return cli_usage(cmd, "--max-body: 64 bytes to 1 GiB");
            o->max_body = (size_t)n;
        } else if (cli_opt(argc, argv, &i, "--max-depth", &v)) {
            if (!number(v, 1000, &n) || n == 0)
                return cli_usage(cmd, "--max-depth: 1 to 1000");
            o->max_depth = (size_t)n;
        } else if (http && cli_opt(argc, argv, &i, "--timeout", &v)) {
            /* A duration as everywhere (30s, 2m). It used to be a bare
             * number of seconds: such a number now reads as milliseconds,
             * which is under the minimum, so the error below catches old
             * command lines instead of shortening their timeout. */
            int64_t ms = 0;
            int rc = cli_parse_duration(cmd, "--timeout", v, &ms);
            if (rc != CLI_EXIT_OK)
                return rc;
            if (ms < 1000 || ms > 3600000)
                return cli_usage(cmd, "--timeout: '%s' is outside 1s to 1h "
                                 "(a bare number is milliseconds: write "
                                 "30s)", v);
            o->timeout_s = (unsigned)(ms / 1000);
        } else {
            return cli_usage(cmd, "unknown argument '%s'", argv[i]);
        }
    }
    if (o->db == NULL && (o->db = cli_db_default(NULL)) == NULL)
        return cli_usage(cmd, "--db FILE|URL is required (or set "
                         "DATABASE_URL)");
    return CLI_EXIT_OK;
}

int cmd_serve(int argc, char **argv)
{
    srv_opts o;
    int rc = parse("serve", argc, argv, &o, true);
    return rc != CLI_EXIT_OK ? rc : srv_serve(&o);
}

int cmd_mcp(int argc, char **argv)
{
    srv_opts o;
    int rc = parse("mcp", argc, argv, &o, false);
    return rc != CLI_EXIT_OK ? rc : srv_mcp_stdio(&o);
}

/* ---- The option tables (agentmem CMD --help, agentmem(1), completion) */

#define STORE_FLAGS                                                         \
    { "--db", "FILE|URL", "the store: a SQLite file or a postgresql:// "   \
                          "URI (default: $DATABASE_URL; one of the two "   \
                          "is required; --db wins)" },                      \
    { "--key-file", "FILE", "the SQLite file's encryption key (default: "  \
                            "$AGENTMEM_KEY_FILE, else $AGENTMEM_KEY; "      \
                            "none: plaintext)" },                           \
    { "--max-body", "BYTES", "largest request body, 64 B to 1 GiB "        \
                             "(default 1 MiB)" },                          \
    { "--max-depth", "N", "deepest JSON nesting accepted, 1..1000 "        \
                          "(default 32)" }

static const cli_flag serve_flags[] = {
    STORE_FLAGS,
    { "--listen", "HOST:PORT", "where to listen (default 127.0.0.1:8080)" },
    { "--keys", "FILE", "API keys, lines of 'KEY TENANT rw|ro' (without: "
                        "no auth, loopback only)" },
    { "--threads", "N", "worker threads, 1..256 (default 4)" },
    { "--max-conns", "N", "open connections before 503, 1..100000 "
                          "(default 256)" },
    { "--timeout", "DURATION", "close idle connections after 30s, 2m; 1s "
                               "to 1h (default 30s)" },
};

static const char *const serve_examples[] = {
    "agentmem serve --db memory.db --listen 127.0.0.1:8080", NULL
};

static const cli_flag mcp_flags[] = { STORE_FLAGS };

static const char *const mcp_examples[] = {
    "agentmem mcp --db memory.db", NULL
};

const cli_group serve_group = { NULL, 0, serve_flags, CLI_COUNT(serve_flags),
                                serve_examples };
const cli_group mcp_group = { NULL, 0, mcp_flags, CLI_COUNT(mcp_flags),
                              mcp_examples };
