/* cli_store.h -- what `agentmem store` (cmd_store.c) and `agentmem recall`
 * (cmd_recall.c) share: one option grammar, one way to open the store
 * with its embedder and key, one way to report a store's error.
 */
#ifndef AM_CLI_STORE_H
#define AM_CLI_STORE_H

#include "agentmem/store.h"
#include "cli.h"

#define CLI_STORE_MAX_PARTS AM_STORE_MAX_NS_PARTS
/* Positional arguments: every subcommand takes at most 4, but
 * `recall index-files USER FILE...` takes a directory's worth (a larger
 * set: xargs -n 4000). */
#define CLI_STORE_MAX_FEW 5
#define CLI_STORE_MAX_POS 4002

typedef struct cli_store_opts {
    const char *db;
    const char *key_file; /* --key-file: the database's encryption key */
    const char *embedder;
    const char *meta, *text, *filter, *mode, *ns, *format;
    const char *name, *description; /* the recall tool's */
    long long ttl, limit, offset, depth, chunk, overlap;
    double min_score; /* --min-score, when have_min_score */
    int have_min_score;
    const char *boost_field; /* --boost-field */
    double boost;            /* --boost (0: the library's default) */
    const char *names_field; /* --names-field */
    double names_bonus;      /* --names (0: the library's default) */
    int json;
    int quiet; /* --quiet: no progress line on a terminal */
    const char *sub;
    /* The subcommand, then its arguments: a few, or the files of
     * `recall index-files` (CLI_STORE_MAX_POS in all). */
    const char *pos[CLI_STORE_MAX_POS];
    int npos;
} cli_store_opts;

/* Parse `cmd`'s arguments into *o (the subcommand first, then options and
 * positional arguments in any order) and find the subcommand in `g`:
 * CLI_EXIT_OK with *sub set, or the exit code of a usage error already
 * printed. */
int cli_store_begin(const char *cmd, const struct cli_group *g, int argc,
                    char **argv, cli_store_opts *o, const cli_sub **sub);

/* The context of an open error: `db` itself, or "store" for a URI, which
 * may hold a password (the library's message names the target without
 * it). */
const char *cli_store_db_context(const char *db);

/* Open the store o->db with the embedder --embedder names and the key
 * --key-file (or the environment) gives. On success *s and *emb are yours
 * (am_store_close, am_embedder_free; *emb may be NULL); on failure both
 * are NULL and `err` says why. Says on stderr when it created the file. */
am_status cli_store_open(const cli_store_opts *o, am_store **s,
                         am_embedder **emb, am_error *err);

/* Report `st` with the store's last error, in the context `what`; returns
 * the exit code. */
int cli_store_fail(am_store *s, am_status st, const char *what);

#endif
