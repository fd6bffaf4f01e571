/* cmd_store.c -- `agentmem store ...` and `agentmem recall ...`.
 *
 * Thin clients of store.h / recall.h on one database file (--db, default
 * ./agentmem.db). A namespace is written as its parts joined by '/', e.g.
 * user_123/prefs. Items are embedded with the default offline embedder
 * (word vectors when installed, hashed n-grams otherwise) unless
 * --embedder none|hash|words says otherwise.
 */
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agentmem/conv.h"
#include "agentmem/data.h"
#include "agentmem/memtool.h"
#include "agentmem/recall.h"
#include "agentmem/encrypt.h"
#include "agentmem/store.h"
#include "cli.h"
#include "commands.h"

#define MAX_PARTS AM_STORE_MAX_NS_PARTS
/* Positional arguments: every subcommand takes at most 4, but
 * `recall index-files USER FILE...` takes a directory's worth (a larger
 * set: xargs -n 4000). */
#define MAX_FEW 5
#define MAX_POS 4002

typedef struct opts {
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
    int json;
    int quiet; /* --quiet: no progress line on a terminal */
    const char *sub;
    /* The subcommand, then its arguments: a few, or the files of
     * `recall index-files` (MAX_POS in all). */
    const char *pos[MAX_POS];
    int npos;
} opts;

static int parse_num(const char *cmd, const char *name, const char *v,
                     long long *out)
{
    return cli_parse_ll(cmd, name, v, 0, LLONG_MAX, out) ? 0
                                                         : CLI_EXIT_USAGE;
}

static int parse_opts(const char *cmd, int argc, char **argv, opts *o)
{
    memset(o, 0, sizeof *o);
    o->db = "agentmem.db";
    o->embedder = "default";
    o->limit = -1;
    for (int i = 0; i < argc; i++) {
        const char *v = NULL;
        int rc = 0;
        if (cli_opt(argc, argv, &i, "--db", &v)) {
            if ((o->db = v) == NULL)
                return cli_usage(cmd, "--db needs a file or a "
                                 "postgresql:// URI");
        } else if (cli_opt(argc, argv, &i, "--key-file", &v)) {
            if ((o->key_file = v) == NULL)
                return cli_usage(cmd, "--key-file needs a file");
        } else if (cli_opt(argc, argv, &i, "--embedder", &v)) {
            if ((o->embedder = v) == NULL)
                return cli_usage(cmd, "--embedder needs a value");
        } else if (cli_opt(argc, argv, &i, "--meta", &v)) {
            o->meta = v;
        } else if (cli_opt(argc, argv, &i, "--text", &v)) {
            o->text = v;
        } else if (cli_opt(argc, argv, &i, "--filter", &v)) {
            o->filter = v;
        } else if (cli_opt(argc, argv, &i, "--mode", &v)) {
            o->mode = v;
        } else if (cli_opt(argc, argv, &i, "--format", &v)) {
            o->format = v;
        } else if (cli_opt(argc, argv, &i, "--name", &v)) {
            o->name = v;
        } else if (cli_opt(argc, argv, &i, "--description", &v)) {
            o->description = v;
        } else if (cli_opt(argc, argv, &i, "--ns", &v)) {
            o->ns = v;
        } else if (cli_opt(argc, argv, &i, "--ttl", &v)) {
            int64_t ms = 0;
            rc = cli_parse_duration(cmd, "--ttl", v, &ms);
            o->ttl = ms;
        } else if (cli_opt(argc, argv, &i, "--limit", &v)) {
            rc = parse_num(cmd, "--limit", v, &o->limit);
        } else if (cli_opt(argc, argv, &i, "--offset", &v)) {
            rc = parse_num(cmd, "--offset", v, &o->offset);
        } else if (cli_opt(argc, argv, &i, "--depth", &v)) {
            rc = parse_num(cmd, "--depth", v, &o->depth);
        } else if (cli_opt(argc, argv, &i, "--chunk-size", &v)) {
            rc = parse_num(cmd, "--chunk-size", v, &o->chunk);
        } else if (cli_opt(argc, argv, &i, "--overlap", &v)) {
            rc = parse_num(cmd, "--overlap", v, &o->overlap);
        } else if (cli_opt(argc, argv, &i, "--min-score", &v)) {
            char *end = NULL;
            o->min_score = v != NULL ? strtod(v, &end) : 0;
            if (v == NULL || end == v || *end != '\0' ||
                !(o->min_score >= 0 && o->min_score <= 1))
                return cli_usage(cmd, "--min-score needs a number from 0 to "
                                 "1 (scores are relevance in [0, 1])");
            o->have_min_score = 1;
        } else if (cli_opt(argc, argv, &i, "--boost-field", &v)) {
            if ((o->boost_field = v) == NULL || v[0] == '\0')
                return cli_usage(cmd, "--boost-field needs a metadata field "
                                 "name, e.g. speaker");
        } else if (cli_opt(argc, argv, &i, "--boost", &v)) {
            char *end = NULL;
            o->boost = v != NULL ? strtod(v, &end) : 0;
            if (v == NULL || end == v || *end != '\0' ||
                !(o->boost > 0 && o->boost <= 1))
                return cli_usage(cmd, "--boost needs a number above 0, at "
                                 "most 1");
        } else if (strcmp(argv[i], "--json") == 0) {
            o->json = 1;
        } else if (strcmp(argv[i], "--quiet") == 0) {
            o->quiet = 1;
        } else if (argv[i][0] == '-' && argv[i][1] == '-') {
            return cli_usage(cmd, "unknown option '%s'", argv[i]);
        } else if (o->npos < MAX_POS) {
            o->pos[o->npos++] = argv[i];
        } else {
            return cli_usage(cmd, "too many arguments (at most %d files "
                             "in one call: xargs -n %d splits a longer "
                             "list)", MAX_POS - 2, MAX_POS - 2);
        }
        if (rc != 0)
            return rc;
    }
    if (o->npos == 0)
        return cli_usage(cmd, "needs a subcommand");
    /* The first positional argument is the subcommand. */
    o->sub = o->pos[0];
    for (int i = 1; i < o->npos; i++)
        o->pos[i - 1] = o->pos[i];
    o->pos[--o->npos] = NULL;
    if (o->npos >= MAX_FEW && strcmp(o->sub, "index-files") != 0)
        return cli_usage(cmd, "%s: too many arguments ('%s' and after)",
                         o->sub, o->pos[MAX_FEW - 1]);
    return 0;
}

/* Split "a/b/c" into parts (borrowed from `s`). "" or "/" is the root. */
static int split_ns(const char *s, am_str parts[MAX_PARTS], am_ns *ns)
{
    size_t n = 0;
    const char *p = s != NULL ? s : "";
    while (*p != '\0') {
        const char *e = strchr(p, '/');
        size_t len = e != NULL ? (size_t)(e - p) : strlen(p);
        if (len > 0) {
            if (n == MAX_PARTS)
                return -1;
            parts[n].ptr = p;
            parts[n].len = len;
            n++;
        }
        p += len;
        if (*p == '/')
            p++;
    }
    ns->parts = parts;
    ns->count = n;
    return 0;
}


/* The context of an open error: a URI may hold a password, and the
 * library's message names the target without it. */
static const char *db_context(const char *db)
{
    return strstr(db, "://") != NULL ? "store" : db;
}

static am_status open_store(const opts *o, am_store **s, am_embedder **emb,
                            am_error *err)
{
    am_status st = AM_OK;
    *emb = NULL;
    if (strcmp(o->embedder, "default") == 0)
        st = am_embedder_default_create(NULL, emb, err);
    else if (strcmp(o->embedder, "hash") == 0)
        st = am_embedder_hash_create(256, NULL, emb, err);
    else if (strcmp(o->embedder, "words") == 0) {
        char path[4096];
        st = am_data_find(NULL, "wordvec-sg100.bin", path, sizeof path, err);
        if (st == AM_OK)
            st = am_embedder_words_create(path, NULL, emb, err);
    } else if (strcmp(o->embedder, "none") != 0) {
        snprintf(err->msg, sizeof err->msg,
                 "--embedder must be default, words, hash or none");
        err->code = AM_EINVAL;
        return AM_EINVAL;
    }
    if (st != AM_OK)
        return st;
    am_store_opts so = am_store_opts_default();
    am_buf key = AM_BUF_INIT;
    so.embedder = *emb;
    so.actor = "cli";
    /* A database appearing silently in the working directory surprises:
     * say so the first time (on stderr, so scripts' output is unchanged). */
    bool is_new = access(o->db, F_OK) != 0;
    st = cli_load_key(o->key_file, &key, err);
    if (st == AM_OK) {
        so.key = am_buf_str(&key);
        st = am_store_open(o->db, &so, s, err);
    }
    am_key_wipe(&key);
    if (st != AM_OK) {
        am_embedder_free(*emb);
        *emb = NULL;
    } else if (is_new) {
        fprintf(stderr, "agentmem: created a new store %s (choose another "
                        "with --db FILE)\n", o->db);
    }
    return st;
}

static int print_results(const am_results *r, int json, int scores)
{
    if (json) {
        am_buf b = AM_BUF_INIT;
        am_error err;
        am_status st = am_results_to_json(r, scores, &b, &err);
        if (st != AM_OK)
            return cli_fail(st, &err, "output");
        printf("%s\n", b.ptr);
        am_buf_free(&b);
        return CLI_EXIT_OK;
    }
    for (size_t i = 0; i < r->count; i++) {
        const am_item *it = &r->items[i];
        if (scores)
            printf("%.4f\t", it->score);
        for (size_t k = 0; k < it->ns_count; k++)
            printf("%s%.*s", k ? "/" : "", (int)it->ns_parts[k].len,
                   it->ns_parts[k].ptr);
        if (it->key.len > 0)
            printf("\t%.*s\t%.*s", (int)it->key.len, it->key.ptr,
                   (int)it->value.len, it->value.ptr);
        printf("\n");
    }
    return CLI_EXIT_OK;
}

static int store_fail(am_store *s, am_status st, const char *what)
{
    return cli_fail(st, am_store_last_error(s), what);
}

/* `store import FILE`: JSON Lines in export's format, all or nothing
 * (am_store_import checks every line, then writes them in one
 * transaction; its errors name the line and field). */
static int import_jsonl(am_store *s, const char *path, int json, int quiet)
{
    am_buf in = AM_BUF_INIT;
    am_error err = { AM_OK, "" };
    size_t imported = 0, expired = 0;
    cli_progress pr;
    am_status st = cli_read_input(path, &in, &err);

    if (st != AM_OK)
        return cli_fail(st, &err, path);
    cli_progress_init(&pr, "importing", "items", quiet);
    st = am_store_import(s, am_buf_str(&in), cli_progress_cb, &pr,
                            &imported, &expired);
    cli_progress_end(&pr);
    am_buf_free(&in);
    if (st != AM_OK)
        return cli_fail(st, am_store_last_error(s), path);
    if (json)
        printf("{\"imported\":%zu,\"expired\":%zu}\n", imported, expired);
    else if (expired > 0)
        printf("imported %zu (%zu already expired, skipped)\n", imported,
               expired);
    else
        printf("imported %zu\n", imported);
    return CLI_EXIT_OK;
}

/* What every store subcommand works on: the parsed options, the open
 * store, the namespace argument, and results and a buffer freed after. */
typedef struct store_run {
    opts *o;
    am_store *s;
    am_ns ns;
    am_results *r;
    am_buf buf;
} store_run;

static int st_put(void *ctx)
{
    store_run *x = ctx;
    am_buf in = AM_BUF_INIT;
    am_error err = { AM_OK, "" };
    am_str value = am_str_c(x->o->pos[2]);
    am_status st;
    if (strcmp(x->o->pos[2], "-") == 0) {
        st = cli_read_input("-", &in, &err);
        if (st != AM_OK)
            return cli_fail(st, &err, "stdin");
        value = am_buf_str(&in);
    }
    am_item_in it = { .ns = x->ns, .key = am_str_c(x->o->pos[1]),
                      .value = value, .meta = am_str_c(x->o->meta),
                      .text = am_str_c(x->o->text), .ttl_ms = x->o->ttl };
    st = am_store_put(x->s, &it);
    am_buf_free(&in);
    if (st != AM_OK)
        return store_fail(x->s, st, "put");
    if (x->o->json)
        printf("{\"ok\":true}\n");
    return CLI_EXIT_OK;
}

static int st_get(void *ctx)
{
    store_run *x = ctx;
    am_status st = am_store_get_item(x->s, x->ns, am_str_c(x->o->pos[1]),
                                     &x->r);
    if (st != AM_OK)
        return store_fail(x->s, st, "get");
    if (x->o->json)
        return print_results(x->r, 1, 0);
    printf("%.*s\n", (int)x->r->items[0].value.len, x->r->items[0].value.ptr);
    return CLI_EXIT_OK;
}

static int st_del(void *ctx)
{
    store_run *x = ctx;
    am_status st = am_store_delete(x->s, x->ns, am_str_c(x->o->pos[1]));
    return st == AM_OK ? CLI_EXIT_OK : store_fail(x->s, st, "del");
}

static int st_ls(void *ctx)
{
    store_run *x = ctx;
    am_status st = am_store_list(x->s, x->ns,
                                 x->o->limit > 0 ? (size_t)x->o->limit : 100,
                                 (size_t)x->o->offset, &x->r);
    return st == AM_OK ? print_results(x->r, x->o->json, 0)
                       : store_fail(x->s, st, "ls");
}

static int st_namespaces(void *ctx)
{
    store_run *x = ctx;
    am_status st = am_store_namespaces(
        x->s, x->ns, (size_t)x->o->depth,
        x->o->limit > 0 ? (size_t)x->o->limit : 0, &x->r);
    return st == AM_OK ? print_results(x->r, x->o->json, 0)
                       : store_fail(x->s, st, "namespaces");
}

static int st_search(void *ctx)
{
    store_run *x = ctx;
    const char *mode = x->o->mode;
    am_search q;
    am_status st;
    memset(&q, 0, sizeof q);
    q.ns = x->ns;
    q.query = am_str_c(x->o->pos[0]);
    q.limit = x->o->limit > 0 ? (size_t)x->o->limit : 10;
    q.filter = am_str_c(x->o->filter);
    q.min_score = x->o->min_score;
    q.boost_field = am_str_c(x->o->boost_field);
    q.boost = x->o->boost;
    if (x->o->boost > 0 && x->o->boost_field == NULL)
        return cli_usage("store", "--boost needs --boost-field");
    if (mode == NULL || strcmp(mode, "hybrid") == 0)
        q.mode = AM_SEARCH_HYBRID;
    else if (strcmp(mode, "text") == 0)
        q.mode = AM_SEARCH_TEXT;
    else if (strcmp(mode, "vector") == 0)
        q.mode = AM_SEARCH_VECTOR;
    else
        return cli_usage("store", "--mode must be hybrid, text or vector");
    st = am_store_search(x->s, &q, &x->r);
    return st == AM_OK ? print_results(x->r, x->o->json, 1)
                       : store_fail(x->s, st, "search");
}

static int st_history(void *ctx)
{
    store_run *x = ctx;
    am_status st = am_store_history(x->s, x->ns, am_str_c(x->o->pos[1]),
                                    &x->r);
    if (st != AM_OK)
        return store_fail(x->s, st, "history");
    if (x->o->json)
        return print_results(x->r, 1, 0);
    for (size_t i = 0; i < x->r->count; i++) {
        const am_item *it = &x->r->items[i];
        printf("%lld\t%.*s\t%.*s\t%.*s\n", (long long)it->at_ms,
               (int)it->event.len, it->event.ptr, (int)it->actor.len,
               it->actor.ptr, (int)it->value.len, it->value.ptr);
    }
    return CLI_EXIT_OK;
}

static int st_undo(void *ctx)
{
    store_run *x = ctx;
    am_status st = am_store_undo(x->s, x->ns, am_str_c(x->o->pos[1]));
    return st == AM_OK ? CLI_EXIT_OK : store_fail(x->s, st, "undo");
}

static int st_purge(void *ctx)
{
    store_run *x = ctx;
    size_t n = 0;
    am_status st = am_store_purge(x->s, INT64_MAX, &n);
    if (st == AM_OK)
        st = am_store_vacuum(x->s, 0);
    if (st != AM_OK)
        return store_fail(x->s, st, "purge");
    printf(x->o->json ? "{\"purged\":%zu}\n" : "purged %zu\n", n);
    return CLI_EXIT_OK;
}

static int st_import(void *ctx)
{
    store_run *x = ctx;
    return import_jsonl(x->s, x->o->pos[0], x->o->json, x->o->quiet);
}

/* Export's sink: a line that does not reach stdout stops the export
 * (a backup to a full disk must fail, not end early with exit 0). The
 * progress line counts the items written (the total is not known before
 * the end). */
typedef struct export_ctx {
    cli_progress pr;
    size_t lines;
} export_ctx;

static am_status export_line(void *ctx, am_str line)
{
    export_ctx *e = ctx;
    if (fwrite(line.ptr, 1, line.len, stdout) != line.len)
        return AM_EIO;
    cli_progress_show(&e->pr, ++e->lines, 0);
    return AM_OK;
}

/* JSON Lines, one item per line, in list order. */
static int st_export(void *ctx)
{
    store_run *x = ctx;
    export_ctx e = { .lines = 0 };
    am_status st;

    /* The lines go to stdout: on the same terminal they would tear a
     * progress line, so it is only for an export sent elsewhere. */
    cli_progress_init(&e.pr, "exported", "items",
                      x->o->quiet || isatty(STDOUT_FILENO));
    st = am_store_export(x->s, x->ns, export_line, &e, NULL);
    if (st == AM_OK && e.lines > 0) /* the final count, drawn for sure */
        cli_progress_show(&e.pr, e.lines, e.lines);
    cli_progress_end(&e.pr);
    if (st == AM_EIO && ferror(stdout))
        return CLI_EXIT_IO; /* cli_close_stdout says what and why */
    return st == AM_OK ? CLI_EXIT_OK : store_fail(x->s, st, "export");
}

/* `store reembed`: after a change of embedder, every item's vector again
 * from --embedder, in one transaction. */
static int st_reembed(void *ctx)
{
    store_run *x = ctx;
    size_t n = 0;
    cli_progress pr;
    am_status st;

    cli_progress_init(&pr, "re-embedding", "items", x->o->quiet);
    st = am_store_reembed(x->s, pr.on ? cli_progress_cb : NULL, &pr, &n);
    cli_progress_end(&pr);
    if (st != AM_OK)
        return store_fail(x->s, st, "reembed");
    printf(x->o->json ? "{\"reembedded\":%zu}\n" : "re-embedded %zu\n", n);
    return CLI_EXIT_OK;
}

/* store memtool USER '{"command":"view","path":"/memories"}' */
static int st_memtool(void *ctx)
{
    store_run *x = ctx;
    int is_error = 0;
    am_status st = am_memtool_exec(x->s, am_str_c(x->o->pos[0]),
                                   am_str_c(x->o->pos[1]), &x->buf,
                                   &is_error);
    if (st != AM_OK)
        return store_fail(x->s, st, "memtool");
    if (x->o->json) {
        return cli_print_json(json_pack("{s:s%,s:b}", "content", x->buf.ptr,
                                        x->buf.len, "is_error", is_error),
                              "memtool");
    } else {
        printf("%s\n", x->buf.ptr);
    }
    return CLI_EXIT_OK;
}

static int st_check(void *ctx)
{
    store_run *x = ctx;
    am_status st = am_store_check(x->s);
    if (st != AM_OK)
        return store_fail(x->s, st, "check");
    printf(x->o->json ? "{\"ok\":true}\n" : "ok\n");
    return CLI_EXIT_OK;
}

/* A usage starting with "NS" or "[NS]" takes the namespace as its first
 * argument; the others take it from --ns. */
static const cli_sub store_subs[] = {
    { "put", st_put, 3, "NS KEY JSON|-",
      "store a JSON value under NS/KEY ('-': read it from stdin)" },
    { "get", st_get, 2, "NS KEY", "print the value of NS/KEY" },
    { "del", st_del, 2, "NS KEY", "delete NS/KEY" },
    { "ls", st_ls, 0, "[NS]", "list the items of a namespace" },
    { "namespaces", st_namespaces, 0, "[NS]",
      "list the namespaces under NS" },
    { "search", st_search, 1, "QUERY", "search items (text, vector, hybrid)" },
    { "history", st_history, 2, "NS KEY",
      "every version of NS/KEY: time, event, actor, value" },
    { "undo", st_undo, 2, "NS KEY", "restore the previous version of NS/KEY" },
    { "purge", st_purge, 0, "", "delete expired items and reclaim space" },
    { "check", st_check, 0, "", "check the database's integrity" },
    { "import", st_import, 1, "FILE",
      "add items from JSON Lines (export's format; '-': stdin)" },
    { "export", st_export, 0, "[NS]", "print items as JSON Lines" },
    { "reembed", st_reembed, 0, "",
      "embed every item again with --embedder (after changing embedders)" },
    { "memtool", st_memtool, 2, "USER INPUT_JSON",
      "run one command of the Anthropic memory tool for USER" },
};

static const cli_flag store_flags[] = {
    { "--db", "FILE", "the database file (default ./agentmem.db)" },
    { "--key-file", "FILE", "encrypt the database with the key in FILE "
                            "(default: $AGENTMEM_KEY_FILE, else "
                            "$AGENTMEM_KEY; none: plaintext)" },
    { "--embedder", "E",
      "default (word vectors), words, hash or none (default: default)" },
    { "--ns", "NS", "search: the namespace to search under (a/b/c)" },
    { "--mode", "M", "search: hybrid (default), text or vector" },
    { "--filter", "JSON", "search: only items whose meta matches, e.g. "
                          "'{\"lang\":\"fr\"}' or '{\"prio\":"
                          "{\"$gte\":2}}' (operators: store.h)" },
    { "--limit", "N", "search, ls, namespaces: at most N results" },
    { "--min-score", "S", "search: drop results scoring below S (scores "
                          "are relevance in [0, 1]; 0.25 is a measured "
                          "default for 'nothing relevant')" },
    { "--boost-field", "FIELD", "search: raise results whose metadata FIELD "
                                "(e.g. speaker) the query names" },
    { "--boost", "W", "search: how much --boost-field raises a score s, to "
                      "s + W(1 - s) (default 0.1)" },
    { "--offset", "N", "ls: skip the first N items" },
    { "--depth", "N", "namespaces: cut namespaces to N parts (0: whole)" },
    { "--ttl", "DURATION", "put: expire after 30s, 2h, 7d, 1w, 500ms or a "
                           "bare number of milliseconds" },
    { "--meta", "JSON", "put: a JSON object stored beside the value" },
    { "--text", "TEXT", "put: the text to index (default: the value's)" },
    { "--quiet", NULL, "import, export, reembed: no progress line (shown "
                       "only on a terminal's stderr; export: when stdout "
                       "is not one)" },
    { "--json", NULL, "print the result as JSON" },
};

static const char *const store_examples[] = {
    "agentmem store put user_123/prefs language '{\"value\":\"Python\"}' "
    "--ttl 7d",
    "agentmem store get user_123/prefs language",
    "agentmem store search 'which language?' --ns user_123 --limit 5 --json",
    "agentmem store export user_123 > mem.jsonl",
    NULL
};

const cli_group store_group = { store_subs, CLI_COUNT(store_subs),
                                store_flags, CLI_COUNT(store_flags),
                                store_examples };

int cmd_store(int argc, char **argv)
{
    const cli_sub *sub = NULL;
    opts o;
    am_embedder *emb = NULL;
    am_error err = { AM_OK, "" };
    am_str parts[MAX_PARTS];
    store_run x;
    am_status st;
    int rc = parse_opts("store", argc, argv, &o);
    if (rc != 0)
        return rc;
    rc = cli_sub_check("store", &store_group, o.sub, o.npos, &sub);
    if (rc != CLI_EXIT_OK)
        return rc;
    memset(&x, 0, sizeof x);
    x.o = &o;
    x.ns.parts = parts;
    x.buf = (am_buf)AM_BUF_INIT;
    const char *nsarg = strncmp(sub->usage, "NS", 2) == 0 ||
                                strncmp(sub->usage, "[NS]", 4) == 0
                            ? o.pos[0]
                            : o.ns;
    if (split_ns(nsarg, parts, &x.ns) != 0)
        return cli_usage("store", "namespace has more than %d parts",
                         MAX_PARTS);
    st = open_store(&o, &x.s, &emb, &err);
    if (st != AM_OK)
        return cli_fail(st, &err, db_context(o.db));
    rc = sub->run(&x);
    am_results_free(x.r);
    am_buf_free(&x.buf);
    am_store_close(x.s);
    am_embedder_free(emb);
    return rc;
}

/* recall search without --json: each excerpt as a heading (rank, score,
 * session, message range) and its lines indented, then its summary and
 * metadata when it has them. `hits` is am_recall_search's array. */
static int print_excerpts(am_str hits)
{
    json_t *arr = json_loadb(hits.ptr, hits.len, 0, NULL);
    json_t *h;
    size_t i;

    if (!json_is_array(arr)) {
        json_decref(arr);
        return cli_fail(AM_EFORMAT, NULL, "recall search: unreadable result");
    }
    json_array_foreach(arr, i, h) {
        const char *text = json_string_value(json_object_get(h, "text"));
        const char *sum = json_string_value(json_object_get(h, "summary"));
        json_t *meta = json_object_get(h, "metadata");

        printf("[%zu] score %.4f  session %s, messages %lld-%lld\n", i + 1,
               json_number_value(json_object_get(h, "score")),
               json_string_value(json_object_get(h, "session_id")),
               (long long)json_integer_value(json_object_get(h, "first")),
               (long long)json_integer_value(json_object_get(h, "last")));
        for (const char *p = text; p != NULL && *p != '\0';) {
            const char *nl = strchr(p, '\n');
            int n = nl != NULL ? (int)(nl - p) : (int)strlen(p);
            printf("    %.*s\n", n, p);
            p = nl != NULL ? nl + 1 : NULL;
        }
        if (sum != NULL && *sum != '\0')
            printf("    summary: %s\n", sum);
        if (json_object_size(meta) > 0) {
            char *d = json_dumps(meta, JSON_COMPACT);
            printf("    metadata: %s\n", d != NULL ? d : "?");
            free(d);
        }
    }
    if (json_array_size(arr) == 0)
        printf("no matching conversations\n");
    json_decref(arr);
    return CLI_EXIT_OK;
}

/* What every recall subcommand works on. */
typedef struct recall_run {
    const opts *o;
    am_store *s;             /* NULL for tool-def, which needs no store */
    am_recall_tool_opts to;
    am_tool_format fmt;      /* tool-def, tool-call: --format */
    am_buf buf;
} recall_run;

/* index --format F: the conversation through the converters (so an
 * Anthropic request body, an object, works), handed to the indexer as
 * the OpenAI array of {role, content} it reads. Without --format the
 * file goes to the indexer as it is. */
static am_status index_input(am_format f, am_str text, am_buf *out,
                             am_error *err)
{
    am_msg_list l = AM_MSG_LIST_INIT;
    am_status st = am_msgs_from_json(NULL, f, text, &l, err);

    if (st == AM_OK)
        st = am_msgs_to_json(am_msg_list_items(&l), l.count,
                             AM_FORMAT_OPENAI, 0, out, err);
    am_msg_list_free(&l);
    return st;
}

/* Index the conversation in file `path` ("-": stdin) as `session` of
 * `user`, adding its chunks to *chunks. Prints the error (naming the
 * file) and returns the exit status on failure. */
static int index_file(recall_run *x, am_format f, const char *user,
                      const char *session, const char *path,
                      const am_recall_opts *ro, size_t *chunks)
{
    const opts *o = x->o;
    am_buf in = AM_BUF_INIT;
    am_error err = { AM_OK, "" };
    size_t n = 0;
    am_status st = cli_read_input(path, &in, &err);
    int rc;

    if (st == AM_OK && o->format != NULL)
        st = index_input(f, am_buf_str(&in), &x->buf, &err);
    if (st != AM_OK) {
        am_buf_free(&in);
        return cli_fail(st, &err, path);
    }
    st = am_recall_index(x->s, am_str_c(user), am_str_c(session),
                         o->format != NULL ? am_buf_str(&x->buf)
                                           : am_buf_str(&in),
                         ro, &n);
    am_buf_free(&in);
    if (st != AM_OK) {
        rc = store_fail(x->s, st, path);
        if (o->format == NULL && st == AM_EFORMAT)
            fprintf(stderr, "(a conversation in another format: give "
                            "--format openai, anthropic or agentmem)\n");
        return rc;
    }
    *chunks += n;
    return CLI_EXIT_OK;
}

/* The indexing options of index and index-files: --format, --chunk-size,
 * --overlap, --meta. */
static int index_opts(const opts *o, const char *sub, am_format *f,
                      am_recall_opts *ro)
{
    am_error err = { AM_OK, "" };

    *f = AM_FORMAT_AGENTMEM;
    if (o->format != NULL &&
        am_format_parse(am_str_c(o->format), f, &err) != AM_OK)
        return cli_usage("recall", "%s: --format: %s", sub, err.msg);
    *ro = am_recall_opts_default();
    if (o->chunk > 0)
        ro->chunk_size = (size_t)o->chunk;
    if (o->overlap > 0 || o->chunk > 0)
        ro->chunk_overlap = (size_t)o->overlap;
    ro->meta = am_str_c(o->meta);
    return CLI_EXIT_OK;
}

static int rc_index(void *ctx)
{
    recall_run *x = ctx;
    const opts *o = x->o;
    am_recall_opts ro;
    am_format f;
    size_t chunks = 0;
    int rc = index_opts(o, "index", &f, &ro);

    if (rc == CLI_EXIT_OK && o->npos > 3)
        return cli_usage("recall", "index takes one FILE, not '%s' too (for "
                         "many: index-files USER FILE...)", o->pos[3]);
    if (rc == CLI_EXIT_OK)
        rc = index_file(x, f, o->pos[0], o->pos[1], o->pos[2], &ro, &chunks);
    if (rc != CLI_EXIT_OK)
        return rc;
    printf(o->json ? "{\"chunks\":%zu}\n" : "indexed %zu chunks\n", chunks);
    return CLI_EXIT_OK;
}

/* The session a file of index-files is indexed as: its name without the
 * directory and the last extension ("logs/2024-05-01.json":
 * "2024-05-01"), into `out`; false when nothing is left. */
static bool session_of(const char *path, char *out, size_t cap)
{
    const char *base = strrchr(path, '/');
    const char *dot;
    size_t len;

    base = base != NULL ? base + 1 : path;
    dot = strrchr(base, '.');
    len = dot != NULL && dot != base ? (size_t)(dot - base) : strlen(base);
    if (len == 0 || len >= cap)
        return false;
    memcpy(out, base, len);
    out[len] = '\0';
    return true;
}

/* index-files USER FILE...: each file its own session, named after the
 * file, with a progress line on a terminal. Every name is checked before
 * anything is indexed: two files that would be one session (a/x.json,
 * b/x.json) are refused rather than the second silently replacing the
 * first. A failure stops the run; the files before it stay indexed, and
 * a rerun is safe because indexing a session replaces its old index. */
static int rc_index_files(void *ctx)
{
    recall_run *x = ctx;
    const opts *o = x->o;
    const char *const *files = &o->pos[1];
    size_t nfiles = (size_t)o->npos - 1, chunks = 0, done = 0;
    char a[256], b[256];
    am_recall_opts ro;
    am_format f;
    cli_progress pr;
    int rc = index_opts(o, "index-files", &f, &ro);

    if (rc != CLI_EXIT_OK)
        return rc;
    for (size_t i = 0; i < nfiles; i++) {
        if (strcmp(files[i], "-") == 0)
            return cli_usage("recall", "index-files: '-' (stdin) has no "
                             "name to be a session: use index USER "
                             "SESSION -");
        if (!session_of(files[i], a, sizeof a))
            return cli_usage("recall", "index-files: '%s' gives no "
                             "session name (its name without the "
                             "extension is empty or over 255 bytes)",
                             files[i]);
    }
    /* Quadratic, but in comparisons of short names: 4,000 files is 8
     * million strcmp, well under a second. */
    for (size_t i = 0; i < nfiles; i++) {
        session_of(files[i], a, sizeof a);
        for (size_t k = i + 1; k < nfiles; k++) {
            session_of(files[k], b, sizeof b);
            if (strcmp(a, b) == 0)
                return cli_usage("recall", "index-files: '%s' and '%s' "
                                 "would both be session '%s' (rename one, "
                                 "or index it with index USER SESSION "
                                 "FILE)", files[i], files[k], a);
        }
    }
    cli_progress_init(&pr, "indexing", "files", o->quiet);
    for (; done < nfiles; done++) {
        session_of(files[done], a, sizeof a);
        rc = index_file(x, f, o->pos[0], a, files[done], &ro, &chunks);
        if (rc != CLI_EXIT_OK)
            break;
        cli_progress_show(&pr, done + 1, nfiles);
    }
    cli_progress_end(&pr);
    if (rc != CLI_EXIT_OK && done == 0) {
        fprintf(stderr, "agentmem recall: index-files: stopped at '%s'; "
                "nothing was indexed\n", files[done]);
        return rc;
    }
    if (rc != CLI_EXIT_OK) {
        fprintf(stderr, "agentmem recall: index-files: stopped at '%s'; "
                "the %zu file%s before it %s indexed (running again is "
                "safe: each session's index is replaced)\n", files[done],
                done, done == 1 ? "" : "s", done == 1 ? "is" : "are");
        return rc;
    }
    if (o->json)
        printf("{\"files\":%zu,\"chunks\":%zu}\n", nfiles, chunks);
    else
        printf("indexed %zu file%s, %zu chunk%s\n", nfiles,
               nfiles == 1 ? "" : "s", chunks, chunks == 1 ? "" : "s");
    return CLI_EXIT_OK;
}

static int rc_search(void *ctx)
{
    recall_run *x = ctx;
    am_status st = am_recall_search(x->s, am_str_c(x->o->pos[0]),
                                    am_str_c(x->o->pos[1]),
                                    x->o->limit > 0 ? (size_t)x->o->limit
                                                    : 5,
                                    &x->buf);
    if (st != AM_OK)
        return store_fail(x->s, st, "search");
    if (!x->o->json)
        return print_excerpts(am_buf_str(&x->buf));
    printf("%s\n", x->buf.ptr);
    return CLI_EXIT_OK;
}

static int rc_tool_def(void *ctx)
{
    recall_run *x = ctx;
    am_error err;
    am_status st = am_recall_tool_def(x->fmt, &x->to, &x->buf, &err);
    if (st != AM_OK)
        return cli_fail(st, &err, "tool-def");
    printf("%s\n", x->buf.ptr);
    return CLI_EXIT_OK;
}

static int rc_tool_call(void *ctx)
{
    recall_run *x = ctx;
    am_status st = am_recall_tool_call(x->s, am_str_c(x->o->pos[0]), x->fmt,
                                       &x->to, am_str_c(x->o->pos[1]),
                                       &x->buf);
    if (st != AM_OK)
        return store_fail(x->s, st, "tool-call");
    printf("%s\n", x->buf.ptr);
    return CLI_EXIT_OK;
}

static const cli_sub recall_subs[] = {
    { "index", rc_index, 3, "USER SESSION FILE",
      "index a conversation ('-': stdin) for USER's searches, replacing "
      "an earlier index of SESSION" },
    { "index-files", rc_index_files, 2, "USER FILE...",
      "index each FILE as its own session of USER, named after the file "
      "without its directory and extension (progress on a terminal)" },
    { "search", rc_search, 2, "USER QUERY",
      "search USER's indexed conversations, best excerpt first" },
    { "tool-def", rc_tool_def, 0, "",
      "the recall tool's definition for a model (JSON)" },
    { "tool-call", rc_tool_call, 2, "USER CALL_JSON",
      "answer a model's recall tool call for USER with the tool-result "
      "message (JSON)" },
};

static const cli_flag recall_flags[] = {
    { "--db", "FILE", "the database file (default ./agentmem.db)" },
    { "--key-file", "FILE", "encrypt the database with the key in FILE "
                            "(default: $AGENTMEM_KEY_FILE, else "
                            "$AGENTMEM_KEY; none: plaintext)" },
    { "--embedder", "E",
      "default (word vectors), words, hash or none (default: default)" },
    { "--format", "F", "index, index-files: the conversation's format, agentmem, openai "
                       "or anthropic (default: an array of {role, "
                       "content}); tool-def, tool-call: openai (default) "
                       "or anthropic" },
    { "--chunk-size", "N", "index, index-files: messages per chunk (default 10)" },
    { "--overlap", "N", "index, index-files: messages shared by neighbouring chunks "
                        "(default 2)" },
    { "--meta", "JSON", "index, index-files: an object stored with every chunk, "
                        "returned as each hit's metadata" },
    { "--limit", "N", "search: at most N excerpts (default 5); tool-def, "
                      "tool-call: the tool's default limit" },
    { "--min-score", "S", "tool-def, tool-call: hide excerpts scoring "
                          "below S, in [0, 1] (0: show every excerpt)" },
    { "--name", "N", "tool-def, tool-call: the tool's name" },
    { "--description", "D", "tool-def, tool-call: the tool's description" },
    { "--json", NULL, "index, index-files, search: print the result as "
                      "JSON (docs/cli-json.md)" },
    { "--quiet", NULL, "index-files: no progress line (shown only when "
                       "stderr is a terminal)" },
};

static const char *const recall_examples[] = {
    "agentmem recall index user_123 thread-1 "
    "examples/store/conversation.json",
    "agentmem recall index user_123 thread-2 examples/msg/anthropic.json "
    "--format anthropic",
    "agentmem recall index-files user_123 examples/msg/conversation.json "
    "--format agentmem",
    "agentmem recall search user_123 'how did we fix the login bug'",
    "agentmem recall tool-def --format anthropic --limit 3",
    NULL
};

const cli_group recall_group = { recall_subs, CLI_COUNT(recall_subs),
                                 recall_flags, CLI_COUNT(recall_flags),
                                 recall_examples };

int cmd_recall(int argc, char **argv)
{
    const cli_sub *sub = NULL;
    opts o;
    am_embedder *emb = NULL;
    am_error err = { AM_OK, "" };
    recall_run x;
    am_status st;
    int rc = parse_opts("recall", argc, argv, &o);

    if (rc != 0)
        return rc;
    rc = cli_sub_check("recall", &recall_group, o.sub, o.npos, &sub);
    if (rc != CLI_EXIT_OK)
        return rc;
    memset(&x, 0, sizeof x);
    x.o = &o;
    x.buf = (am_buf)AM_BUF_INIT;
    x.fmt = AM_TOOL_OPENAI;
    if (sub->run != rc_index && sub->run != rc_index_files &&
        o.format != NULL) {
        if (strcmp(o.format, "anthropic") == 0)
            x.fmt = AM_TOOL_ANTHROPIC;
        else if (strcmp(o.format, "openai") != 0)
            return cli_usage("recall", "%s: --format must be openai or "
                             "anthropic (the tool's format), not '%s'",
                             sub->name, o.format);
    }
    x.to = am_recall_tool_opts_default();
    if (o.name != NULL)
        x.to.name = am_str_c(o.name);
    if (o.description != NULL)
        x.to.description = am_str_c(o.description);
    if (o.limit > 0)
        x.to.limit = (size_t)o.limit;
    if (o.have_min_score) /* 0: every excerpt (the library's 0: default) */
        x.to.min_score = o.min_score > 0 ? o.min_score : -1;
    if (sub->run != rc_tool_def) {
        st = open_store(&o, &x.s, &emb, &err);
        if (st != AM_OK)
            return cli_fail(st, &err, db_context(o.db));
    }
    rc = sub->run(&x);
    am_buf_free(&x.buf);
    am_store_close(x.s);
    am_embedder_free(emb);
    return rc;
}
