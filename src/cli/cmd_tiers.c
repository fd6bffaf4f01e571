/* cmd_tiers.c -- `agentmem tiers ...`: the hierarchical memory on a file.
 *
 *   agentmem tiers put ID [TEXT|--file F] [--importance X] [--tier T]
 *                  [--type T] [--tag T]... [--meta JSON] [--json-content]
 *   agentmem tiers get ID [--peek] [--describe]
 *   agentmem tiers search [--type T] [--tag T]... [--min X] [--max X]
 *                  [--recent DURATION] [--tier T]... [--limit N] [--peek]
 *   agentmem tiers delete|archive|restore ID...
 *   agentmem tiers stats | optimize | policies | maintain | compact
 *                  | moves [--last N]
 *   agentmem tiers cleanup AGE   (a duration: 30d, 12h)
 *
 * Every subcommand takes --db FILE (default ./agentmem.db), --now MS (the
 * time to act at, for scripts and tests), --capacity TIER=N and
 * --archive-step BYTES (archive compression deferred by a policy run is
 * done this many bytes per call; 0: all at once). `compact` compresses
 * everything still waiting. The handle is closed (flushed) before the
 * command exits. --json prints every subcommand's result as one JSON
 * object on one line (docs/cli-json.md).
 *
 * One grammar with the other commands: --meta JSON is metadata to store
 * (as in `store put` and `recall index`), a switch that prints metadata
 * is --describe, and a span of time is a DURATION (7d, 2h, 30m).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "agentmem/clock.h"
#include "agentmem/encrypt.h"
#include "agentmem/store.h"
#include "agentmem/tiers.h"
#include "cli.h"
#include "commands.h"

#define MAX_TAGS 64

typedef struct targs {
    const char *db;
    const char *key_file; /* --key-file: the database's encryption key */
    int64_t now;
    bool has_now;
    size_t capacity[AM_TIER_COUNT];
    bool has_cap[AM_TIER_COUNT];
    size_t archive_step;
    bool has_step;
    /* put */
    const char *file;
    double importance;
    const char *tier;
    unsigned tier_mask;
    const char *type;
    const char *tags[MAX_TAGS];
    size_t ntags;
    const char *meta; /* put: --meta JSON, the item's extra metadata */
    bool json, peek, describe;
    bool out_json; /* --json: print the result as JSON */
    bool quiet;    /* --quiet: no progress line on a terminal */
    /* search */
    double min, max;
    int64_t recent_ms; /* --recent DURATION; 0: off */
    size_t limit, last;
    /* positionals */
    const char *pos[256];
    int npos;
} targs;

static int64_t fixed_now(void *ctx)
{
    return *(int64_t *)ctx;
}

/* The time the command acts at: --now, or the system clock. */
static int64_t now_ms(const targs *a)
{
    return a->has_now ? a->now : am_clock_now(NULL);
}

static bool parse_double(const char *s, double *out)
{
    char *end;
    errno = 0;
    *out = strtod(s, &end);
    return errno == 0 && end != s && *end == '\0';
}

static bool parse_size(const char *s, size_t *out)
{
    char *end;
    unsigned long long v;
    errno = 0;
    if (*s == '-')
        return false;
    v = strtoull(s, &end, 10);
    *out = (size_t)v;
    return errno == 0 && end != s && *end == '\0';
}

/* Spellings tiers used before the CLI had one grammar: the new one, for
 * an error that says what to type, or NULL. */
static const char *renamed(const char *arg)
{
    static const cli_renamed pairs[] = {
        { "--extra", "--meta JSON" },
        { "--recent-days", "--recent DURATION (e.g. 7d)" },
    };
    return cli_renamed_find(pairs, CLI_COUNT(pairs), arg);
}

static int parse_args(const char *sub, int argc, char **argv, targs *a)
{
    memset(a, 0, sizeof *a);
    a->db = "agentmem.db";
    a->importance = 0.5;
    a->min = 0.0;
    a->max = 1.0;
    for (int i = 0; i < argc; i++) {
        const char *v = NULL;
        if (cli_opt(argc, argv, &i, "--db", &v)) {
            int rc = cli_db_arg("tiers", v, &a->db);
            if (rc != 0)
                return rc;
            /* Not echoed: a URI may hold a password. sqlite:<path> names
             * <path>, as for store and recall. */
            if (am_store_target_kind(v, &a->db) != AM_STORE_KIND_SQLITE)
                return cli_usage("tiers", "--db needs a file, not a URI: "
                                 "tiers stay on SQLite (one owner per "
                                 "file)");
            if (a->db[0] == '\0')
                return cli_usage("tiers", "--db sqlite: needs a file "
                                 "after it");
        } else if (cli_opt(argc, argv, &i, "--key-file", &v)) {
            if ((a->key_file = v) == NULL)
                return cli_usage("tiers", "--key-file needs a file");
        } else if (cli_opt(argc, argv, &i, "--now", &v)) {
            char *end;
            if (v == NULL)
                return cli_usage("tiers", "--now needs milliseconds");
            errno = 0;
            a->now = strtoll(v, &end, 10);
            if (errno != 0 || *end != '\0' || end == v)
                return cli_usage("tiers", "--now: '%s' is not a number of "
                                 "milliseconds", v);
            if (a->now < 0)
                return cli_usage("tiers", "--now: '%s' is negative (want "
                                 "milliseconds since 1970)", v);
            a->has_now = true;
        } else if (cli_opt(argc, argv, &i, "--capacity", &v)) {
            const char *eq = v != NULL ? strchr(v, '=') : NULL;
            am_tier tier;
            size_t n;
            if (eq == NULL ||
                am_tier_parse((am_str){ v, (size_t)(eq - v) }, &tier, NULL) !=
                    AM_OK ||
                !parse_size(eq + 1, &n))
                return cli_usage("tiers", "--capacity wants TIER=N, e.g. "
                                 "working=100 (got '%s')", v ? v : "");
            a->capacity[tier] = n;
            a->has_cap[tier] = true;
        } else if (cli_opt(argc, argv, &i, "--archive-step", &v)) {
            if (v == NULL || !parse_size(v, &a->archive_step))
                return cli_usage("tiers", "--archive-step wants a whole "
                                 "number of bytes (got '%s')", v ? v : "");
            a->has_step = true;
        } else if (cli_opt(argc, argv, &i, "--file", &v)) {
            if (v == NULL)
                return cli_usage("tiers", "--file needs a path ('-': stdin)");
            a->file = v;
        } else if (cli_opt(argc, argv, &i, "--importance", &v)) {
            if (v == NULL || !parse_double(v, &a->importance))
                return cli_usage("tiers", "--importance wants a number in "
                                 "[0, 1] (got '%s')", v ? v : "");
        } else if (cli_opt(argc, argv, &i, "--tier", &v)) {
            am_tier tier;
            if (v == NULL || am_tier_parse(am_str_c(v), &tier, NULL) != AM_OK)
                return cli_usage("tiers", "--tier wants working, short_term, "
                                 "long_term or archive (got '%s')",
                                 v ? v : "");
            a->tier = v;
            a->tier_mask |= 1u << tier;
        } else if (cli_opt(argc, argv, &i, "--type", &v)) {
            if (v == NULL)
                return cli_usage("tiers", "--type needs a value");
            a->type = v;
        } else if (cli_opt(argc, argv, &i, "--tag", &v)) {
            if (v == NULL)
                return cli_usage("tiers", "--tag needs a value");
            if (a->ntags == MAX_TAGS)
                return cli_usage("tiers", "too many --tag options (tag %d: "
                                 "at most %d)", MAX_TAGS + 1, MAX_TAGS);
            a->tags[a->ntags++] = v;
        } else if (cli_opt(argc, argv, &i, "--meta", &v)) {
            if (v == NULL || strncmp(v, "--", 2) == 0)
                return cli_usage("tiers", "--meta needs a JSON object to "
                                 "store with the item (to print an item's "
                                 "metadata: get ID --describe)");
            a->meta = v;
        } else if ((v = renamed(argv[i])) != NULL) {
            return cli_usage("tiers", "'%s' is now '%s' (one spelling for "
                             "every command)", argv[i], v);
        } else if (strcmp(argv[i], "--json-content") == 0) {
            a->json = true;
        } else if (strcmp(argv[i], "--json") == 0) {
            a->out_json = true;
        } else if (strcmp(argv[i], "--quiet") == 0) {
            a->quiet = true;
        } else if (strcmp(argv[i], "--peek") == 0) {
            a->peek = true;
        } else if (strcmp(argv[i], "--describe") == 0) {
            a->describe = true;
        } else if (cli_opt(argc, argv, &i, "--min", &v)) {
            if (v == NULL || !parse_double(v, &a->min))
                return cli_usage("tiers", "--min wants a number");
        } else if (cli_opt(argc, argv, &i, "--max", &v)) {
            if (v == NULL || !parse_double(v, &a->max))
                return cli_usage("tiers", "--max wants a number");
        } else if (cli_opt(argc, argv, &i, "--recent", &v)) {
            int rc = cli_parse_duration("tiers", "--recent", v,
                                        &a->recent_ms);
            if (rc != CLI_EXIT_OK)
                return rc;
            if (a->recent_ms == 0)
                return cli_usage("tiers", "--recent: '%s' is an empty span "
                                 "(give e.g. 7d, 2h or 30m)", v);
        } else if (cli_opt(argc, argv, &i, "--limit", &v)) {
            if (v == NULL || !parse_size(v, &a->limit))
                return cli_usage("tiers", "--limit wants a whole number");
        } else if (cli_opt(argc, argv, &i, "--last", &v)) {
            if (v == NULL || !parse_size(v, &a->last))
                return cli_usage("tiers", "--last wants a whole number");
        } else if (argv[i][0] == '-' && argv[i][1] == '-') {
            return cli_usage("tiers", "%s: unknown option '%s'", sub,
                             argv[i]);
        } else {
            if (a->npos == 256)
                return cli_usage("tiers", "too many arguments");
            a->pos[a->npos++] = argv[i];
        }
    }
    return CLI_EXIT_OK;
}

/* `pr` (may be NULL): the progress line of a long subcommand, fed by the
 * library's steps (loading, demoting, policies, compressing, writing). */
static int open_tiers(targs *a, am_clock *clk, cli_progress *pr,
                      am_tiers **t)
{
    am_tiers_opts o = am_tiers_opts_default();
    am_buf key = AM_BUF_INIT;
    am_error err = { AM_OK, "" };
    am_status st;

    if (pr != NULL && pr->on) {
        o.progress = cli_progress_step_cb;
        o.progress_ctx = pr;
    }
    if (a->has_now) {
        clk->now_ms = fixed_now;
        clk->ctx = &a->now;
        o.clock = clk;
    }
    for (int i = 0; i < AM_TIER_COUNT; i++)
        if (a->has_cap[i])
            o.capacity[i] = a->capacity[i];
    if (a->has_step)
        o.archive_step_bytes = a->archive_step;
    o.db_path = a->db;
    st = cli_load_key(a->key_file, &key, &err);
    if (st == AM_OK) {
        o.key = am_buf_str(&key);
        st = am_tiers_open(&o, t, &err);
    }
    am_key_wipe(&key);
    if (st != AM_OK)
        return cli_fail(st, &err, a->db);
    return CLI_EXIT_OK;
}

static int finish(am_tiers *t, int rc)
{
    am_error err = { AM_OK, "" };
    am_status st = am_tiers_close(t, &err);

    if (st != AM_OK && rc == CLI_EXIT_OK)
        return cli_fail(st, &err, "close");
    return rc;
}

static int do_put(am_tiers *t, const targs *a)
{
    am_tier_item_in in = am_tier_item_in_default();
    am_str tags[MAX_TAGS];
    am_buf text = AM_BUF_INIT;
    am_error err = { AM_OK, "" };
    am_status st;
    int rc = CLI_EXIT_OK;

    if (a->npos < 1 || a->npos > 2 || (a->npos == 2 && a->file != NULL))
        return cli_usage("tiers", "put ID [TEXT | --file F]");
    if (a->npos == 2) {
        in.content = am_str_c(a->pos[1]);
    } else {
        st = cli_read_input(a->file, &text, &err);
        if (st != AM_OK)
            return cli_fail(st, &err, a->file ? a->file : "stdin");
        in.content = am_buf_str(&text);
    }
    /* An empty item is almost always a forgotten argument. */
    if (in.content.len == 0) {
        am_buf_free(&text);
        return cli_usage("tiers", "put %s: the item's text is empty (give "
                         "TEXT, --file F, or pipe it on stdin)", a->pos[0]);
    }
    in.importance = a->importance;
    if (a->tier != NULL)
        am_tier_parse(am_str_c(a->tier), &in.tier, NULL);
    if (a->type != NULL)
        in.type = am_str_c(a->type);
    for (size_t i = 0; i < a->ntags; i++)
        tags[i] = am_str_c(a->tags[i]);
    in.tags = tags;
    in.tag_count = a->ntags;
    if (a->meta != NULL)
        in.extra = am_str_c(a->meta);
    if (a->json)
        in.flags |= AM_TIER_JSON;
    st = am_tiers_store(t, am_str_c(a->pos[0]), &in);
    if (st != AM_OK)
        rc = cli_fail(st, am_tiers_last_error(t), "put");
    else if (a->out_json)
        rc = cli_print_json(json_pack("{s:b,s:s}", "ok", 1, "id", a->pos[0]),
                            "put");
    am_buf_free(&text);
    return rc;
}

static int do_get(am_tiers *t, const targs *a)
{
    am_buf out = AM_BUF_INIT;
    am_status st;
    am_error err = { AM_OK, "" };
    int rc = CLI_EXIT_OK;

    if (a->npos != 1)
        return cli_usage("tiers", "get ID [--peek] [--describe]");
    if (!a->peek) {
        st = am_tiers_retrieve(t, am_str_c(a->pos[0]), &out, NULL);
        if (st == AM_OK && a->describe) {
            am_buf_clear(&out);
            st = am_tiers_describe(t, am_str_c(a->pos[0]), &out);
        }
    } else if (a->describe) {
        st = am_tiers_describe(t, am_str_c(a->pos[0]), &out);
    } else {
        st = am_tiers_peek(t, am_str_c(a->pos[0]), &out, NULL);
    }
    if (st != AM_OK) {
        rc = cli_fail(st, am_tiers_last_error(t), "get");
    } else if (a->out_json) {
        /* {"id", "content"} or, with --describe, {"id", "meta": {...}} */
        json_t *v = a->describe ? cli_json_parse(am_buf_str(&out))
                            : json_stringn(out.ptr != NULL ? out.ptr : "",
                                           out.len);
        rc = cli_print_json(json_pack("{s:s,s:o}", "id", a->pos[0],
                                      a->describe ? "meta" : "content", v),
                            "get");
    } else {
        if (a->describe)
            am_buf_append(&out, "\n", 1);
        st = cli_write_output(NULL, out.ptr, out.len, &err);
        if (st != AM_OK)
            rc = cli_fail(st, &err, "get");
    }
    am_buf_free(&out);
    return rc;
}

static int do_search(am_tiers *t, const targs *a)
{
    am_tier_query q = am_tier_query_default();
    am_tier_hits h = AM_TIER_HITS_INIT;
    am_str tags[MAX_TAGS];
    am_status st;

    if (a->npos != 0)
        return cli_usage("tiers", "search takes options only");
    if (a->type != NULL)
        q.type = am_str_c(a->type);
    for (size_t i = 0; i < a->ntags; i++)
        tags[i] = am_str_c(a->tags[i]);
    q.tags = tags;
    q.tag_count = a->ntags;
    q.min_importance = a->min;
    q.max_importance = a->max;
    if (a->recent_ms > 0) /* a sliding window ending now */
        q.created_from_ms = now_ms(a) - a->recent_ms;
    if (a->tier_mask != 0)
        q.tier_mask = a->tier_mask;
    q.limit = a->limit;
    q.flags = a->peek ? AM_TIER_PEEK : 0;
    st = am_tiers_search(t, &q, &h);
    if (st != AM_OK) {
        am_tier_hits_free(&h);
        return cli_fail(st, am_tiers_last_error(t), "search");
    }
    if (a->out_json) { /* {"ids": [...]} */
        json_t *ids = json_array();
        for (size_t i = 0; ids != NULL && i < h.count; i++)
            if (json_array_append_new(ids, json_stringn(h.ids[i].ptr,
                                                        h.ids[i].len)) != 0) {
                json_decref(ids);
                ids = NULL;
            }
        am_tier_hits_free(&h);
        return cli_print_json(json_pack("{s:o}", "ids", ids), "search");
    }
    for (size_t i = 0; i < h.count; i++)
        printf("%.*s\n", (int)h.ids[i].len, h.ids[i].ptr);
    am_tier_hits_free(&h);
    return CLI_EXIT_OK;
}

static int do_each(am_tiers *t, const targs *a, const char *sub,
                   am_status (*fn)(am_tiers *, am_str))
{
    if (a->npos < 1)
        return cli_usage("tiers", "%s ID...", sub);
    for (int i = 0; i < a->npos; i++) {
        am_status st = fn(t, am_str_c(a->pos[i]));
        if (st != AM_OK)
            return cli_fail(st, am_tiers_last_error(t), sub);
    }
    if (a->out_json) /* {"done": "delete", "items": N} */
        return cli_print_json(json_pack("{s:s,s:i}", "done", sub, "items",
                                        a->npos), sub);
    printf("%s: %d item%s\n", sub, a->npos, a->npos == 1 ? "" : "s");
    return CLI_EXIT_OK;
}

/* {"tiers": [{"tier", "count", "capacity" (null: unbounded),
 * "utilization" (0..1), "avg_importance", "avg_age_hours",
 * "content_bytes", "stored_bytes"}], "archive_uncompressed"} */
static int stats_json(const am_tier_stats *s)
{
    json_t *tiers = json_array();

    for (int i = 0; tiers != NULL && i < AM_TIER_COUNT; i++) {
        json_t *row = json_pack(
            "{s:s,s:I,s:o,s:f,s:f,s:f,s:I,s:I}", "tier",
            am_tier_name((am_tier)i), "count", (json_int_t)s[i].count,
            "capacity", s[i].capacity != 0
                            ? json_integer((json_int_t)s[i].capacity)
                            : json_null(),
            "utilization", s[i].utilization, "avg_importance",
            s[i].avg_importance, "avg_age_hours", s[i].avg_age_hours,
            "content_bytes", (json_int_t)s[i].content_bytes, "stored_bytes",
            (json_int_t)s[i].stored_bytes);
        if (json_array_append_new(tiers, row) != 0) {
            json_decref(tiers);
            tiers = NULL;
        }
    }
    return cli_print_json(json_pack("{s:o,s:I}", "tiers", tiers,
                                    "archive_uncompressed",
                                    (json_int_t)s[AM_TIER_ARCHIVE]
                                        .uncompressed),
                          "stats");
}

static int do_stats(am_tiers *t, bool json)
{
    am_tier_stats s[AM_TIER_COUNT];
    am_status st = am_tiers_stats(t, s);

    if (st != AM_OK)
        return cli_fail(st, am_tiers_last_error(t), "stats");
    if (json)
        return stats_json(s);
    printf("%-11s %9s %9s %7s %8s %10s %12s %12s\n", "tier", "count",
           "capacity", "util", "avg_imp", "avg_age_h", "content_B",
           "stored_B");
    for (int i = 0; i < AM_TIER_COUNT; i++) {
        char cap[32];
        if (s[i].capacity != 0)
            snprintf(cap, sizeof cap, "%zu", s[i].capacity);
        else
            snprintf(cap, sizeof cap, "-");
        printf("%-11s %9zu %9s %6.1f%% %8.3f %10.2f %12llu %12llu\n",
               am_tier_name((am_tier)i), s[i].count, cap,
               s[i].utilization * 100.0, s[i].avg_importance,
               s[i].avg_age_hours, (unsigned long long)s[i].content_bytes,
               (unsigned long long)s[i].stored_bytes);
    }
    if (s[AM_TIER_ARCHIVE].uncompressed > 0)
        printf("archive: %zu item%s not compressed yet (agentmem tiers "
               "compact)\n", s[AM_TIER_ARCHIVE].uncompressed,
               s[AM_TIER_ARCHIVE].uncompressed == 1 ? "" : "s");
    return CLI_EXIT_OK;
}

/* moves: a line each, or (ctx: a JSON array) an object each. */
static void print_move(void *ctx, const am_tier_move *m)
{
    if (ctx != NULL) {
        json_array_append_new(
            ctx, json_pack("{s:I,s:s%,s:s,s:s,s:s}", "at_ms",
                           (json_int_t)m->at_ms, "id", m->id.ptr, m->id.len,
                           "from", am_tier_name(m->from), "to",
                           am_tier_name(m->to), "reason",
                           am_tier_reason_name(m->reason)));
        return;
    }
    printf("%lld %.*s %s -> %s (%s)\n", (long long)m->at_ms, (int)m->id.len,
           m->id.ptr, am_tier_name(m->from), am_tier_name(m->to),
           am_tier_reason_name(m->reason));
}

/* What every tiers subcommand works on. */
typedef struct tiers_run {
    am_tiers *t;
    const targs *a;
    const char *sub;
    cli_progress pr; /* the long subcommands' progress line */
} tiers_run;

static int tr_put(void *ctx)
{
    tiers_run *x = ctx;
    return do_put(x->t, x->a);
}

static int tr_get(void *ctx)
{
    tiers_run *x = ctx;
    return do_get(x->t, x->a);
}

static int tr_search(void *ctx)
{
    tiers_run *x = ctx;
    return do_search(x->t, x->a);
}

static int tr_delete(void *ctx)
{
    tiers_run *x = ctx;
    return do_each(x->t, x->a, "delete", am_tiers_delete);
}

static int tr_archive(void *ctx)
{
    tiers_run *x = ctx;
    return do_each(x->t, x->a, "archive", am_tiers_archive);
}

static int tr_restore(void *ctx)
{
    tiers_run *x = ctx;
    return do_each(x->t, x->a, "restore", am_tiers_restore);
}

static int tr_stats(void *ctx)
{
    tiers_run *x = ctx;
    return do_stats(x->t, x->a->out_json);
}

static int tr_optimize(void *ctx)
{
    tiers_run *x = ctx;
    size_t n = 0;
    am_status st = am_tiers_optimize(x->t, &n);
    cli_progress_end(&x->pr);
    if (st != AM_OK)
        return cli_fail(st, am_tiers_last_error(x->t), "optimize");
    if (x->a->out_json)
        return cli_print_json(json_pack("{s:I}", "demoted", (json_int_t)n),
                              "optimize");
    printf("optimize: demoted %zu item%s\n", n, n == 1 ? "" : "s");
    return CLI_EXIT_OK;
}

static int tr_compact(void *ctx)
{
    tiers_run *x = ctx;
    am_tier_stats s[AM_TIER_COUNT];
    size_t left = 0;
    am_status st = am_tiers_stats(x->t, s);
    if (st == AM_OK)
        st = am_tiers_compact(x->t, 0, &left);
    cli_progress_end(&x->pr);
    if (st != AM_OK)
        return cli_fail(st, am_tiers_last_error(x->t), "compact");
    if (x->a->out_json)
        return cli_print_json(
            json_pack("{s:I,s:I}", "compressed",
                      (json_int_t)(s[AM_TIER_ARCHIVE].uncompressed - left),
                      "left", (json_int_t)left),
            "compact");
    printf("compact: compressed %zu item%s, %zu left\n",
           s[AM_TIER_ARCHIVE].uncompressed - left,
           s[AM_TIER_ARCHIVE].uncompressed - left == 1 ? "" : "s", left);
    return CLI_EXIT_OK;
}

/* policies: run the lifecycle policies; maintain: optimize, then them. */
static int tr_policies(void *ctx)
{
    tiers_run *x = ctx;
    am_tier_policy_count pc[16];
    size_t n = 0, demoted = 0;
    am_status st;
    bool maintain = strcmp(x->sub, "maintain") == 0;
    if (maintain) {
        st = am_tiers_maintain(x->t, &demoted, pc, 16, &n);
        cli_progress_end(&x->pr);
        if (st == AM_OK && !x->a->out_json)
            printf("optimize: demoted %zu item%s\n", demoted,
                   demoted == 1 ? "" : "s");
    } else {
        st = am_tiers_apply_policies(x->t, pc, 16, &n);
    }
    cli_progress_end(&x->pr);
    if (st != AM_OK)
        return cli_fail(st, am_tiers_last_error(x->t), x->sub);
    if (x->a->out_json) {
        /* {["demoted" (maintain),] "policies": {NAME: items acted on}} */
        json_t *o = maintain ? json_pack("{s:I}", "demoted",
                                         (json_int_t)demoted)
                             : json_object();
        json_t *p = json_object();
        for (size_t i = 0; p != NULL && i < n && i < 16; i++)
            if (json_object_set_new(p, pc[i].name,
                                    json_integer((json_int_t)pc[i].acted))) {
                json_decref(p);
                p = NULL;
            }
        if (o != NULL && json_object_set_new(o, "policies", p) != 0) {
            json_decref(o);
            o = NULL;
        } else if (o == NULL) {
            json_decref(p);
        }
        return cli_print_json(o, x->sub);
    }
    for (size_t i = 0; i < n && i < 16; i++)
        printf("%s: %zu\n", pc[i].name, pc[i].acted);
    return CLI_EXIT_OK;
}

/* An age for the text result: "30 days", "12 hours", else ms. */
static void age_text(int64_t ms, char *out, size_t cap)
{
    static const struct { int64_t ms; const char *unit; } units[] = {
        { 86400000, "day" }, { 3600000, "hour" }, { 60000, "minute" },
        { 1000, "second" }, { 1, "millisecond" },
    };
    for (size_t i = 0; i < CLI_COUNT(units); i++)
        if (ms % units[i].ms == 0 || units[i].ms == 1) {
            long long n = (long long)(ms / units[i].ms);
            snprintf(out, cap, "%lld %s%s", n, units[i].unit,
                     n == 1 ? "" : "s");
            return;
        }
}

/* cleanup AGE: delete every item created more than AGE ago. AGE is a
 * duration like every other span of time (30d, 12h, 90m); a bare number
 * is refused, not guessed: it meant days here before durations had
 * units, and milliseconds in every duration flag, so either reading
 * would surprise someone, and the wrong one deletes everything. */
static int tr_cleanup(void *ctx)
{
    tiers_run *x = ctx;
    const char *arg = x->a->pos[0];
    int64_t age = 0;
    size_t n = 0;
    char text[64];
    am_status st;
    int rc;

    if (arg[0] != '\0' && strspn(arg, "0123456789") == strlen(arg))
        return cli_usage("tiers", "cleanup: AGE '%s' has no unit: write "
                         "%sd for %s days (or 12h, 90m, 1w)", arg, arg,
                         arg);
    rc = cli_parse_duration("tiers", "cleanup AGE", arg, &age);
    if (rc != CLI_EXIT_OK)
        return rc;
    st = am_tiers_cleanup_older_than(x->t, age, &n);
    cli_progress_end(&x->pr);
    if (st != AM_OK)
        return cli_fail(st, am_tiers_last_error(x->t), "cleanup");
    if (x->a->out_json)
        return cli_print_json(json_pack("{s:I,s:I}", "deleted", (json_int_t)n,
                                        "age_ms", (json_int_t)age),
                              "cleanup");
    age_text(age, text, sizeof text);
    printf("cleanup: deleted %zu item%s older than %s\n", n,
           n == 1 ? "" : "s", text);
    return CLI_EXIT_OK;
}

static int tr_moves(void *ctx)
{
    tiers_run *x = ctx;
    uint64_t total = 0;
    json_t *moves = x->a->out_json ? json_array() : NULL;
    am_status st;
    if (x->a->out_json && moves == NULL)
        return cli_fail(AM_ENOMEM, NULL, "moves");
    st = am_tiers_moves(x->t, x->a->last != 0 ? x->a->last : 20, print_move,
                        moves, &total);
    if (st != AM_OK) {
        json_decref(moves);
        return cli_fail(st, am_tiers_last_error(x->t), "moves");
    }
    if (moves != NULL) /* {"moves": [{"at_ms", "id", "from", "to",
                          "reason"}], "total"} */
        return cli_print_json(json_pack("{s:o,s:I}", "moves", moves,
                                        "total", (json_int_t)total),
                              "moves");
    printf("(%llu moves in all)\n", (unsigned long long)total);
    return CLI_EXIT_OK;
}

static const cli_sub tiers_subs[] = {
    { "put", tr_put, 1, "ID [TEXT]",
      "store an item (text from TEXT, --file F or stdin; never empty)" },
    { "get", tr_get, 1, "ID", "print an item (a retrieve: may promote it)" },
    { "search", tr_search, 0, "", "ids of the items matching the filters" },
    { "delete", tr_delete, 1, "ID...", "delete items" },
    { "archive", tr_archive, 1, "ID...", "move items to the archive tier" },
    { "restore", tr_restore, 1, "ID...", "bring archived items back" },
    { "stats", tr_stats, 0, "", "count, capacity and usage of every tier" },
    { "optimize", tr_optimize, 0, "", "demote items not used for a day" },
    { "policies", tr_policies, 0, "", "run the lifecycle policies" },
    { "maintain", tr_policies, 0, "", "optimize, then run the policies" },
    { "compact", tr_compact, 0, "",
      "compress archive items a policy run deferred" },
    { "cleanup", tr_cleanup, 1, "AGE",
      "delete every item created more than AGE ago, in any tier: a "
      "duration with its unit (30d, 12h, 90m, 1w)" },
    { "moves", tr_moves, 0, "", "the latest moves: time, item, from, to, why" },
};

static const cli_flag tiers_flags[] = {
    { "--db", "FILE", "the database file (default ./agentmem.db; not "
                      "$DATABASE_URL: tiers stay on SQLite, one owner "
                      "per file)" },
    { "--key-file", "FILE", "encrypt the database with the key in FILE "
                            "(default: $AGENTMEM_KEY_FILE, else "
                            "$AGENTMEM_KEY; none: plaintext)" },
    { "--now", "MS", "act at this time, milliseconds since 1970 (scripts, "
                     "tests)" },
    { "--capacity", "TIER=N", "items a tier holds, e.g. working=100" },
    { "--archive-step", "BYTES", "archive bytes compressed per call by a "
                                 "policy run (0: all at once)" },
    { "--file", "F", "put: read the item's text from F ('-': stdin)" },
    { "--json-content", NULL, "put: the text is JSON (checked, kept as is)" },
    { "--importance", "X", "put: importance in [0, 1] (default 0.5)" },
    { "--tier", "T", "put: the tier to store in; search: only this tier "
                     "(repeatable): working, short_term, long_term, archive" },
    { "--type", "T", "put: the item's type; search: only this type" },
    { "--tag", "T", "put: a tag; search: items with this tag (repeatable)" },
    { "--meta", "JSON", "put: a JSON object kept with the item (its "
                        "extra metadata)" },
    { "--peek", NULL, "get, search: read without counting an access" },
    { "--describe", NULL, "get: print the item's metadata (tier, times, "
                          "accesses, tags, extra) as JSON" },
    { "--min", "X", "search: lowest importance (default 0)" },
    { "--max", "X", "search: highest importance (default 1)" },
    { "--recent", "DURATION", "search: created in the last 30m, 2h, 7d, "
                              "1w, or a bare number of milliseconds" },
    { "--limit", "N", "search: at most N ids" },
    { "--last", "N", "moves: the last N moves (default 20)" },
    { "--json", NULL, "print the result as one JSON object (the shapes: "
                      "docs/cli-json.md)" },
    { "--quiet", NULL, "maintain, optimize, policies, compact, cleanup: no "
                       "progress line (shown only when stderr is a "
                       "terminal)" },
};

static const char *const tiers_examples[] = {
    "agentmem tiers put note-1 \"Deploy is on Friday\" --type event --tag "
    "ops --importance 0.7",
    "agentmem tiers search --tag ops --min 0.5",
    "agentmem tiers moves --last 10",
    "agentmem tiers cleanup 90d",
    NULL
};

const cli_group tiers_group = { tiers_subs, CLI_COUNT(tiers_subs),
                                tiers_flags, CLI_COUNT(tiers_flags),
                                tiers_examples };

int cmd_tiers(int argc, char **argv)
{
    const cli_sub *sub = NULL;
    targs a;
    am_clock clk;
    tiers_run x;
    int rc;

    rc = parse_args(argv[0], argc - 1, argv + 1, &a);
    if (rc != CLI_EXIT_OK)
        return rc;
    rc = cli_sub_check("tiers", &tiers_group, argv[0], a.npos, &sub);
    if (rc != CLI_EXIT_OK)
        return rc;
    if (a.meta != NULL && sub->run != tr_put)
        return cli_usage("tiers", "%s: --meta JSON is put's, the metadata "
                         "to store (to print an item's metadata: get ID "
                         "--describe)", sub->name);
    x.sub = sub->name;
    x.a = &a;
    /* The subcommands that walk the whole memory show their progress;
     * the others touch a few items once the memory is loaded. */
    cli_progress_init(&x.pr, "loading", "items",
                      a.quiet || !(sub->run == tr_policies ||
                                   sub->run == tr_optimize ||
                                   sub->run == tr_compact ||
                                   sub->run == tr_cleanup));
    rc = open_tiers(&a, &clk, &x.pr, &x.t);
    cli_progress_end(&x.pr);
    if (rc != CLI_EXIT_OK)
        return rc;
    rc = finish(x.t, sub->run(&x));
    cli_progress_end(&x.pr); /* the close's "writing" */
    return rc;
}
