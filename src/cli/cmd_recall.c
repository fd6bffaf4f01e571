/* cmd_recall.c -- `agentmem recall ...`: index past conversations into
 * the store and search them, and the recall tool a model calls.
 *
 * A thin client of recall.h on the store `agentmem store` uses (options,
 * opening and errors shared in cli_store.c).
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agentmem/conv.h"
#include "agentmem/recall.h"
#include "cli_store.h"
#include "commands.h"

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
    const cli_store_opts *o;
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
    const cli_store_opts *o = x->o;
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
        rc = cli_store_fail(x->s, st, path);
        if (o->format == NULL && st == AM_EFORMAT)
            fprintf(stderr, "(a conversation in another format: give "
                            "--format openai, anthropic or agentmem)\n");
        return rc;
    }
    *chunks += n;
    return CLI_EXIT_OK;
}

/* The indexing options of index and index-files: --format, --chunk-size,
 * --overlap, --meta, --names-field. */
static int index_opts(const cli_store_opts *o, const char *sub, am_format *f,
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
    ro->names_field = am_str_c(o->names_field);
    return CLI_EXIT_OK;
}

static int rc_index(void *ctx)
{
    recall_run *x = ctx;
    const cli_store_opts *o = x->o;
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
    const cli_store_opts *o = x->o;
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
    am_recall_search_opts so = am_recall_search_opts_default();
    if (x->o->limit > 0)
        so.limit = (size_t)x->o->limit;
    so.min_score = x->o->min_score;
    so.names_field = am_str_c(x->o->names_field);
    so.names_bonus = x->o->names_bonus;
    am_status st = am_recall_search(x->s, am_str_c(x->o->pos[0]),
                                       am_str_c(x->o->pos[1]), &so,
                                       &x->buf);
    if (st != AM_OK)
        return cli_store_fail(x->s, st, "search");
    if (!x->o->json)
        return print_excerpts(am_buf_str(&x->buf));
    printf("%s\n", x->buf.ptr);
    return CLI_EXIT_OK;
}

static int rc_tool_def(void *ctx)
{
    recall_run *x = ctx;
    am_error err = { AM_OK, "" };
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
        return cli_store_fail(x->s, st, "tool-call");
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
    { "--db", "FILE|URL", "the store: a SQLite file or a postgresql:// "
                          "URI (default: $DATABASE_URL if set, else "
                          "./agentmem.db; --db wins over $DATABASE_URL)" },
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
    { "--min-score", "S", "search, tool-def, tool-call: hide excerpts "
                          "scoring below S, in [0, 1] (0: show every "
                          "excerpt; search's default)" },
    { "--names-field", "FIELD",
      "index, index-files: store each chunk's proper names in metadata "
      "FIELD; search, tool-call: raise chunks whose FIELD names what the "
      "query does not (the same FIELD)" },
    { "--names", "W", "search, tool-call: how much --names-field raises a "
                      "score s, to s + W (1 - s), W in (0, 1] (default "
                      "0.03)" },
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
    "agentmem recall index user_123 thread-3 examples/store/conversation.json "
    "--names-field names && agentmem recall search user_123 'where did we "
    "go' --names-field names",
    "agentmem recall tool-def --format anthropic --limit 3",
    NULL
};

const cli_group recall_group = { recall_subs, CLI_COUNT(recall_subs),
                                 recall_flags, CLI_COUNT(recall_flags),
                                 recall_examples };

int cmd_recall(int argc, char **argv)
{
    const cli_sub *sub = NULL;
    cli_store_opts o;
    am_embedder *emb = NULL;
    am_error err = { AM_OK, "" };
    recall_run x;
    am_status st;
    int rc = cli_store_begin("recall", &recall_group, argc, argv, &o, &sub);

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
    x.to.names_field = am_str_c(o.names_field);
    x.to.names_bonus = o.names_bonus;
    if (sub->run != rc_tool_def) {
        st = cli_store_open(&o, &x.s, &emb, &err);
        if (st != AM_OK)
            return cli_fail(st, &err, cli_store_db_context(o.db));
    }
    rc = sub->run(&x);
    am_buf_free(&x.buf);
    am_store_close(x.s);
    am_embedder_free(emb);
    return rc;
}
