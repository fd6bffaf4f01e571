/* cli_store.c -- the option grammar, store opening and error report that
 * `agentmem store` and `agentmem recall` share (cli_store.h).
 *
 * Both are thin clients of store.h / recall.h on one store (--db: a SQLite
 * file or a postgresql:// URI; without it, what DATABASE_URL names, else
 * ./agentmem.db). Items are embedded with the default offline
 * embedder (word vectors when installed, hashed n-grams otherwise) unless
 * --embedder none|hash|words says otherwise.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agentmem/data.h"
#include "agentmem/encrypt.h"
#include "cli_store.h"

static int parse_num(const char *cmd, const char *name, const char *v,
                     long long *out)
{
    return cli_parse_ll(cmd, name, v, 0, LLONG_MAX, out) ? 0
                                                         : CLI_EXIT_USAGE;
}

static int cli_store_args(const char *cmd, int argc, char **argv,
                          cli_store_opts *o)
{
    memset(o, 0, sizeof *o);
    o->db = cli_db_default("agentmem.db");
    o->embedder = "default";
    o->limit = -1;
    for (int i = 0; i < argc; i++) {
        const char *v = NULL;
        int rc = 0;
        if (cli_opt(argc, argv, &i, "--db", &v)) {
            if ((rc = cli_db_arg(cmd, v, &o->db)) != 0)
                return rc;
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
        } else if (cli_opt(argc, argv, &i, "--names-field", &v)) {
            if ((o->names_field = v) == NULL || v[0] == '\0')
                return cli_usage(cmd, "--names-field needs a metadata field "
                                 "name, e.g. names");
        } else if (cli_opt(argc, argv, &i, "--names", &v)) {
            char *end = NULL;
            o->names_bonus = v != NULL ? strtod(v, &end) : 0;
            if (v == NULL || end == v || *end != '\0' ||
                !(o->names_bonus > 0 && o->names_bonus <= 1))
                return cli_usage(cmd, "--names needs a number above 0, at "
                                 "most 1");
        } else if (strcmp(argv[i], "--json") == 0) {
            o->json = 1;
        } else if (strcmp(argv[i], "--quiet") == 0) {
            o->quiet = 1;
        } else if (argv[i][0] == '-' && argv[i][1] == '-') {
            return cli_usage(cmd, "unknown option '%s'", argv[i]);
        } else if (o->npos < CLI_STORE_MAX_POS) {
            o->pos[o->npos++] = argv[i];
        } else {
            return cli_usage(cmd, "too many arguments (at most %d files "
                             "in one call: xargs -n %d splits a longer "
                             "list)", CLI_STORE_MAX_POS - 2,
                             CLI_STORE_MAX_POS - 2);
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
    if (o->npos >= CLI_STORE_MAX_FEW && strcmp(o->sub, "index-files") != 0)
        return cli_usage(cmd, "%s: too many arguments ('%s' and after)",
                         o->sub, o->pos[CLI_STORE_MAX_FEW - 1]);
    return 0;
}

int cli_store_begin(const char *cmd, const struct cli_group *g, int argc,
                    char **argv, cli_store_opts *o, const cli_sub **sub)
{
    int rc = cli_store_args(cmd, argc, argv, o);

    if (rc != 0)
        return rc;
    return cli_sub_check(cmd, g, o->sub, o->npos, sub);
}

const char *cli_store_db_context(const char *db)
{
    return am_store_target_kind(db, NULL) == AM_STORE_KIND_SQLITE ? db
                                                                  : "store";
}

am_status cli_store_open(const cli_store_opts *o, am_store **s,
                         am_embedder **emb, am_error *err)
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
    /* Not for a URI: it is no file, and its password must not be shown. */
    const char *file = NULL;
    bool sqlite = am_store_target_kind(o->db, &file) == AM_STORE_KIND_SQLITE;
    /* "sqlite:" with no file part: SQLite opens a private temporary
     * database, which is no new file and is gone when the command ends. */
    bool is_temp = sqlite && file[0] == '\0';
    bool is_new = sqlite && !is_temp && strcmp(file, ":memory:") != 0 &&
                  access(file, F_OK) != 0;
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
    } else if (is_temp) {
        fprintf(stderr, "agentmem: opened a temporary store: --db %s names "
                        "no file, so it is deleted when this command ends "
                        "(keep one with --db sqlite:FILE)\n", o->db);
    }
    return st;
}

int cli_store_fail(am_store *s, am_status st, const char *what)
{
    return cli_fail(st, am_store_last_error(s), what);
}
