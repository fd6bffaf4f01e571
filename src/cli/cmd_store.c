/* cmd_store.c -- `agentmem store ...`: items, namespaces, search, history
 * and the store's files (import, export, re-embedding, check).
 *
 * A thin client of store.h on one database file (the options, opening
 * and errors shared with `agentmem recall` are in cli_store.c). A
 * namespace is written as its parts joined by '/', e.g. user_123/prefs.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agentmem/memtool.h"
#include "agentmem/store.h"
#include "cli_store.h"
#include "commands.h"

/* Split "a/b/c" into parts (borrowed from `s`). "" or "/" is the root. */
static int split_ns(const char *s, am_str parts[CLI_STORE_MAX_PARTS], am_ns *ns)
{
    size_t n = 0;
    const char *p = s != NULL ? s : "";
    while (*p != '\0') {
        const char *e = strchr(p, '/');
        size_t len = e != NULL ? (size_t)(e - p) : strlen(p);
        if (len > 0) {
            if (n == CLI_STORE_MAX_PARTS)
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


static int print_results(const am_results *r, int json, int scores)
{
    if (json) {
        am_buf b = AM_BUF_INIT;
        am_error err = { AM_OK, "" };
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
    cli_store_opts *o;
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
        return cli_store_fail(x->s, st, "put");
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
        return cli_store_fail(x->s, st, "get");
    if (x->o->json)
        return print_results(x->r, 1, 0);
    printf("%.*s\n", (int)x->r->items[0].value.len, x->r->items[0].value.ptr);
    return CLI_EXIT_OK;
}

static int st_del(void *ctx)
{
    store_run *x = ctx;
    am_status st = am_store_delete(x->s, x->ns, am_str_c(x->o->pos[1]));
    return st == AM_OK ? CLI_EXIT_OK : cli_store_fail(x->s, st, "del");
}

static int st_ls(void *ctx)
{
    store_run *x = ctx;
    am_status st = am_store_list(x->s, x->ns,
                                 x->o->limit > 0 ? (size_t)x->o->limit : 100,
                                 (size_t)x->o->offset, &x->r);
    return st == AM_OK ? print_results(x->r, x->o->json, 0)
                       : cli_store_fail(x->s, st, "ls");
}

static int st_namespaces(void *ctx)
{
    store_run *x = ctx;
    am_status st = am_store_namespaces(
        x->s, x->ns, (size_t)x->o->depth,
        x->o->limit > 0 ? (size_t)x->o->limit : 0, &x->r);
    return st == AM_OK ? print_results(x->r, x->o->json, 0)
                       : cli_store_fail(x->s, st, "namespaces");
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
    q.names_field = am_str_c(x->o->names_field);
    q.names_bonus = x->o->names_bonus;
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
                       : cli_store_fail(x->s, st, "search");
}

static int st_history(void *ctx)
{
    store_run *x = ctx;
    am_status st = am_store_history(x->s, x->ns, am_str_c(x->o->pos[1]),
                                    &x->r);
    if (st != AM_OK)
        return cli_store_fail(x->s, st, "history");
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
    return st == AM_OK ? CLI_EXIT_OK : cli_store_fail(x->s, st, "undo");
}

static int st_purge(void *ctx)
{
    store_run *x = ctx;
    size_t n = 0;
    am_status st = am_store_purge(x->s, INT64_MAX, &n);
    if (st == AM_OK)
        st = am_store_vacuum(x->s, 0);
    if (st != AM_OK)
        return cli_store_fail(x->s, st, "purge");
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
    return st == AM_OK ? CLI_EXIT_OK : cli_store_fail(x->s, st, "export");
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
        return cli_store_fail(x->s, st, "reembed");
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
        return cli_store_fail(x->s, st, "memtool");
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
        return cli_store_fail(x->s, st, "check");
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
    { "--db", "FILE|URL", "the store: a SQLite file or a postgresql:// "
                          "URI (default: $DATABASE_URL if set, else "
                          "./agentmem.db; --db wins over $DATABASE_URL)" },
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
    { "--names-field", "FIELD", "search: raise results whose metadata FIELD "
                                "lists a name the query does not name" },
    { "--names", "W", "search: how much --names-field raises a score s, to "
                      "s + W(1 - s) (default 0.03)" },
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
    cli_store_opts o;
    am_embedder *emb = NULL;
    am_error err = { AM_OK, "" };
    am_str parts[CLI_STORE_MAX_PARTS];
    store_run x;
    am_status st;
    int rc = cli_store_begin("store", &store_group, argc, argv, &o, &sub);

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
                         CLI_STORE_MAX_PARTS);
    st = cli_store_open(&o, &x.s, &emb, &err);
    if (st != AM_OK)
        return cli_fail(st, &err, cli_store_db_context(o.db));
    rc = sub->run(&x);
    am_results_free(x.r);
    am_buf_free(&x.buf);
    am_store_close(x.s);
    am_embedder_free(emb);
    return rc;
}
