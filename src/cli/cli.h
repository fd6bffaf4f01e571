/* cli.h -- shared pieces of the agentmem command-line tool.
 *
 * The CLI is an ordinary client of the public API. Each command lives in
 * cmd_<name>.c and is listed once in the table in main.c; dispatch, --help
 * and argument-count checks read that table. Exit codes map from am_status
 * so that scripts can tell bad input from I/O failure.
 */
#ifndef AM_CLI_H
#define AM_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "agentmem/buf.h"
#include "agentmem/msg.h"
#include "agentmem/status.h"

/* A command handler gets argv after the command name (argv[0] is the first
 * argument) and returns the process exit status. */
typedef int (*cli_handler)(int argc, char **argv);

/* One subcommand of a command group: a row of the group's table. `run`
 * gets the group's own context (its parsed options and open handles). */
typedef struct cli_sub {
    const char *name;
    int (*run)(void *ctx);
    int min_args;        /* positional arguments after the name */
    const char *usage;   /* those arguments, e.g. "NS KEY JSON" */
    const char *summary; /* one line of what it does */
} cli_sub;

/* One option of a command group: one line of --help and of the manual.
 * `help` names the unit of any number. */
typedef struct cli_flag {
    const char *name; /* "--ttl" */
    const char *arg;  /* "DURATION", or NULL for a switch */
    const char *help;
} cli_flag;

/* A command's table: its subcommands, its options and examples (full
 * command lines, NULL-terminated). Dispatch, the argument check,
 * `agentmem CMD --help`, agentmem(1) and the bash completion read it. A
 * command without subcommands (trim, cost, ...) has nsubs 0: its
 * arguments are the cli_command's usage line, its options the table's. */
typedef struct cli_group {
    const cli_sub *subs;
    size_t nsubs;
    const cli_flag *flags;
    size_t nflags;
    const char *const *examples;
} cli_group;

#define CLI_COUNT(a) (sizeof(a) / sizeof((a)[0]))

typedef struct cli_command {
    const char *name;
    cli_handler run;
    int min_args;
    const char *usage;   /* one line of arguments, e.g. "convert --from F" */
    const char *summary; /* one line of what it does */
    const cli_group *group; /* NULL: a single command described by usage */
} cli_command;

/* The row of `g` named `name`, or NULL. */
const cli_sub *cli_sub_find(const cli_group *g, const char *name);

/* Look `name` up in `g` and check it got `nargs` >= its min_args: sets
 * *out and returns CLI_EXIT_OK, or prints a usage error naming the known
 * subcommands (or the expected arguments) and returns CLI_EXIT_USAGE. */
int cli_sub_check(const char *cmd, const cli_group *g, const char *name,
                  int nargs, const cli_sub **out);

/* `agentmem CMD --help`: the usage of every subcommand (or, without
 * subcommands, the command's usage line), every option on one line,
 * examples. */
void cli_group_help(FILE *out, const cli_command *cmd);

/* agentmem(1) in roff, and a bash completion script, from the table. */
void cli_man(FILE *out, const cli_command *cmds, size_t n);
void cli_completion_bash(FILE *out, const cli_command *cmds, size_t n);

/* A duration flag: "30s", "2h", "7d", "1w", "500ms" or a bare number of
 * milliseconds, into *ms. Overflow and unknown units are usage errors of
 * `cmd` naming `flag`. */
int cli_parse_duration(const char *cmd, const char *flag, const char *v,
                       int64_t *ms);

/* ---- Progress on a terminal (cli_progress.c) ---- */

/* One line of progress on stderr, "WHAT: DONE of TOTAL UNIT (P%)",
 * rewritten in place at most ten times a second. Only when stderr is a
 * terminal and not `quiet` (a command's --quiet); otherwise every call
 * does nothing. `what` and `unit` are borrowed (string literals). */
typedef struct cli_progress {
    const char *what, *unit;
    bool on;         /* stderr is a terminal and not --quiet */
    bool shown;      /* a line is on the screen */
    int64_t next_ms; /* the next redraw, CLOCK_MONOTONIC */
} cli_progress;

void cli_progress_init(cli_progress *p, const char *what, const char *unit,
                       bool quiet);
/* `done` of `total` (total 0: unknown, the count alone is shown). The
 * call with done == total always draws. */
void cli_progress_show(cli_progress *p, size_t done, size_t total);
/* End the line (it stays on the screen) if one was drawn. */
void cli_progress_end(cli_progress *p);
/* cli_progress_show for a library progress callback (am_store_progress);
 * `ctx` is the cli_progress. */
void cli_progress_cb(void *ctx, size_t done, size_t total);
/* The same for a library callback that names its step (am_tiers_opts.
 * progress): each step gets its own line, titled with the step's name
 * (static text, kept). */
void cli_progress_step_cb(void *ctx, const char *step, size_t done,
                          size_t total);

/* Exit statuses: 0 ok, 1 generic failure, 2 usage, then one per class. */
enum {
    CLI_EXIT_OK = 0,
    CLI_EXIT_FAIL = 1,
    CLI_EXIT_USAGE = 2,
    CLI_EXIT_INPUT = 3,    /* malformed input: AM_EFORMAT, AM_EINVAL */
    CLI_EXIT_NOTFOUND = 4, /* AM_ENOTFOUND */
    CLI_EXIT_IO = 5,       /* AM_EIO and network errors */
    CLI_EXIT_LIMIT = 6     /* AM_ELIMIT */
};

/* Map a status to an exit code. */
int cli_exit_code(am_status st);

/* Print "agentmem: <context>: <detail or status text>" to stderr and return
 * the mapped exit code. `err` may be NULL. */
int cli_fail(am_status st, const am_error *err, const char *context);

/* Print a usage error for `cmd` to stderr; returns CLI_EXIT_USAGE. */
int cli_usage(const char *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* The database key: the file `key_file` (--key-file) when not NULL,
 * else $AGENTMEM_KEY_FILE or $AGENTMEM_KEY (am_key_load), into `key`
 * (yours: am_key_wipe once the database is open). Empty and AM_OK when
 * none is set. Never from the command line itself, where other users
 * see it (ps). Errors as am_key_load. */
am_status cli_load_key(const char *key_file, am_buf *key, am_error *err);

/* The store a command opens when --db is not given: what DATABASE_URL
 * names when it is set and not empty (the hosted-PostgreSQL convention,
 * as am_store_open's NULL target), else `fallback`. --db always wins. */
const char *cli_db_default(const char *fallback);

/* Take --db's value `v` (NULL: the value is missing) into `*db`. An empty
 * value is a usage error, not a way to reach DATABASE_URL: `--db "$DB"`
 * with DB unset must not open some other database. 0, or the usage exit
 * code after printing why. */
int cli_db_arg(const char *cmd, const char *v, const char **db);

/* Read a whole file ("-" or NULL: stdin) into `out`. */
am_status cli_read_input(const char *path, am_buf *out, am_error *err);

/* After a conversation in `text` failed to parse as `fmt` (detail in
 * `err`): when the fix is a flag, append it to the message ("a request
 * object: use --format openai or --format anthropic"). */
void cli_format_hint(am_format fmt, am_str text, am_error *err);

/* Write `len` bytes to a file (atomically) or, for "-"/NULL, to stdout. */
am_status cli_write_output(const char *path, const char *data, size_t len,
                           am_error *err);

/* Parse `v`, the value of option `name` of command `cmd`, as a decimal
 * integer in [min, max] into *out. Returns true, or false after printing
 * a usage error that says whether `v` is missing, not a number, or out
 * of range (a number too large for any integer type included: strtoll's
 * ERANGE is never taken for its clamped value). */
bool cli_parse_ll(const char *cmd, const char *name, const char *v,
                  long long min, long long max, long long *out);
/* The same for a count (size_t) in [0, max]. */
bool cli_parse_size(const char *cmd, const char *name, const char *v,
                    size_t max, size_t *out);

/* Close standard output, where commands write their results, and return
 * `rc`, or CLI_EXIT_IO after printing why when anything written to it
 * was lost (a full disk, /dev/full, a closed pipe): a backup written to
 * stdout that silently is not one must not exit 0. main() calls it once
 * for every command. */
int cli_close_stdout(int rc);

/* ---- --json (cli_json.c) ---- */

struct json_t;

/* Print `v` as one line of compact JSON (keys in the order they were set)
 * on stdout, for a command's --json, and release it (json_decref): `v` is
 * yours to give. NULL `v` (a json_pack that ran out of memory) prints an
 * error naming `context`. Returns the exit status. */
int cli_print_json(struct json_t *v, const char *context);

/* Parse `text` (a JSON value the library produced, e.g. a conversation or
 * stats) to embed it in a --json result; yours (json_decref). NULL when it
 * does not parse or memory ran out. */
struct json_t *cli_json_parse(am_str text);

/* Print `s` as one JSON string (no newline) on stdout with the encoder of
 * cli_print_json, for a reply that cannot be one jansson value (embed's
 * vectors, one a line). False when `s` is not UTF-8 or memory ran out. */
bool cli_print_json_str(am_str s);

/* Option parsing helper: if argv[*i] is `name`, take its value from
 * argv[*i+1] (advancing *i) or from "name=value". Returns true when it
 * matched; *value is NULL if the value was missing. */
bool cli_opt(int argc, char **argv, int *i, const char *name,
             const char **value);

/* An option spelled the old way and what to type now, for an error that
 * says so ("'--input' is now '--input-tokens'"). */
typedef struct cli_renamed {
    const char *old;
    const char *now;
} cli_renamed;

/* The new spelling of `arg` ("--old" or "--old=value") in `t`, or NULL. */
const char *cli_renamed_find(const cli_renamed *t, size_t n,
                             const char *arg);

#endif
