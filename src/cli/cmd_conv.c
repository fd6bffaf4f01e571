/* cmd_conv.c -- `agentmem conv ...`: convert, show and count conversations.
 *
 *   agentmem conv convert --from F --to F [--pretty] [--portable] [IN]
 *                         [--out OUT]
 *   agentmem conv show [--format F] [--json] [IN]
 *   agentmem conv stats [--format F] [--json] [IN]
 *
 * F is agentmem, openai or anthropic. IN defaults to stdin and OUT to
 * stdout, so conversions compose in pipes. `--format F` sets the input
 * format (and, for convert, the output format too unless --to is given).
 * --json prints the result as one JSON value (docs/cli-json.md): `show`
 * the conversation in agentmem JSON, `stats` an object of the counts.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "agentmem/conv.h"
#include "cli.h"
#include "commands.h"

typedef struct conv_args {
    const char *in;
    const char *out;
    am_format from;
    am_format to;
    bool to_set;
    bool json;
    unsigned flags;
} conv_args;

static int parse_format(const char *cmd, const char *v, am_format *f)
{
    am_error err = { AM_OK, "" };
    if (v == NULL)
        return cli_usage(cmd, "missing format after option");
    if (am_format_parse(am_str_c(v), f, &err) != AM_OK)
        return cli_usage(cmd, "%s", err.msg);
    return 0;
}

/* Parse options shared by the subcommands; returns 0 or an exit code. */
static int parse_args(const char *cmd, int argc, char **argv, bool convert,
                      conv_args *a)
{
    memset(a, 0, sizeof *a);
    a->from = AM_FORMAT_AGENTMEM;
    a->to = AM_FORMAT_AGENTMEM;
    for (int i = 0; i < argc; i++) {
        const char *v = NULL;
        int rc;
        if (cli_opt(argc, argv, &i, "--format", &v)) {
            if ((rc = parse_format(cmd, v, &a->from)) != 0)
                return rc;
            if (!a->to_set)
                a->to = a->from;
        } else if (convert && cli_opt(argc, argv, &i, "--from", &v)) {
            if ((rc = parse_format(cmd, v, &a->from)) != 0)
                return rc;
        } else if (convert && cli_opt(argc, argv, &i, "--to", &v)) {
            if ((rc = parse_format(cmd, v, &a->to)) != 0)
                return rc;
            a->to_set = true;
        } else if (convert && cli_opt(argc, argv, &i, "--out", &v)) {
            if (v == NULL)
                return cli_usage(cmd, "--out needs a file ('-': stdout)");
            a->out = v;
        } else if (strcmp(argv[i], "-o") == 0 ||
                   strcmp(argv[i], "--output") == 0 ||
                   strncmp(argv[i], "--output=", 9) == 0) {
            /* The old spellings: every command names its output file
             * --out, so say which one to use rather than "unknown". */
            return cli_usage(cmd, "'%s' is now '--out FILE' (one spelling "
                             "for every command)", argv[i]);
        } else if (convert && strcmp(argv[i], "--pretty") == 0) {
            a->flags |= AM_JSON_PRETTY;
        } else if (convert && strcmp(argv[i], "--portable") == 0) {
            a->flags |= AM_WIRE_PORTABLE;
        } else if (!convert && strcmp(argv[i], "--json") == 0) {
            a->json = true;
        } else if (argv[i][0] == '-' && argv[i][1] != '\0') {
            return cli_usage(cmd, "unknown option '%s'", argv[i]);
        } else if (a->in == NULL) {
            a->in = argv[i];
        } else {
            return cli_usage(cmd, "unexpected argument '%s'", argv[i]);
        }
    }
    return 0;
}

/* Read and parse the input conversation into `l`. */
static int read_conv(const conv_args *a, am_msg_list *l, size_t *bytes)
{
    am_buf text = AM_BUF_INIT;
    am_error err = { AM_OK, "" };
    am_status st;
    char ctx[300];

    st = cli_read_input(a->in, &text, &err);
    snprintf(ctx, sizeof ctx, "%s", a->in != NULL ? a->in : "stdin");
    if (st != AM_OK) {
        am_buf_free(&text);
        return cli_fail(st, &err, ctx);
    }
    *bytes = text.len;
    st = am_msgs_from_json(NULL, a->from, am_buf_str(&text), l, &err);
    if (st == AM_EFORMAT)
        cli_format_hint(a->from, am_buf_str(&text), &err);
    am_buf_free(&text);
    if (st != AM_OK)
        return cli_fail(st, &err, ctx);
    return 0;
}

static int conv_convert(int argc, char **argv)
{
    conv_args a;
    am_msg_list l = AM_MSG_LIST_INIT;
    am_buf out = AM_BUF_INIT;
    am_error err = { AM_OK, "" };
    size_t bytes;
    int rc = parse_args("conv convert", argc, argv, true, &a);
    am_status st;

    if (rc != 0)
        return rc;
    if ((rc = read_conv(&a, &l, &bytes)) != 0)
        goto done;
    st = am_msgs_to_json(am_msg_list_items(&l), l.count, a.to,
                         a.flags, &out, &err);
    if (st != AM_OK) {
        rc = cli_fail(st, &err, "convert");
        goto done;
    }
    st = cli_write_output(a.out, out.ptr, out.len, &err);
    if (st != AM_OK)
        rc = cli_fail(st, &err, a.out != NULL ? a.out : "stdout");
done:
    am_msg_list_free(&l);
    am_buf_free(&out);
    return rc;
}

/* One message, readable: "[i] role name: text" then tool calls etc. */
static void show_msg(size_t i, const am_msg *m, am_buf *text)
{
    am_str name = am_msg_name(m), id = am_msg_id(m);
    am_agent_content ac;

    printf("[%zu] %s", i, am_role_name(am_msg_role(m)));
    if (name.len != 0)
        printf(" (%.*s)", (int)name.len, name.ptr);
    if (am_msg_tool_call_id(m).len != 0)
        printf(" -> %.*s", (int)am_msg_tool_call_id(m).len,
               am_msg_tool_call_id(m).ptr);
    printf("  id=%.*s\n", (int)id.len, id.ptr);
    switch (am_msg_content_kind(m)) {
    case AM_CONTENT_TEXT:
    case AM_CONTENT_JSON: {
        am_str t = am_msg_content_kind(m) == AM_CONTENT_TEXT
                       ? am_msg_content_text(m) : am_msg_content_json(m);
        printf("    %.*s\n", (int)t.len, t.ptr);
        break;
    }
    case AM_CONTENT_PARTS:
        for (size_t k = 0; k < am_msg_part_count(m); k++) {
            const am_part *p = am_msg_part(m, k);
            am_str s = p->text.len != 0 ? p->text
                       : p->json.len != 0 ? p->json
                       : p->url.len != 0 ? p->url
                       : p->data.len != 0 ? p->data : p->media_type;
            printf("    <%s> %.*s\n", am_part_type_name(p->type),
                   (int)(s.len > 400 ? 400 : s.len), s.ptr);
        }
        break;
    default:
        break;
    }
    for (size_t k = 0; k < am_msg_tool_call_count(m); k++) {
        const am_tool_call *t = am_msg_tool_call(m, k);
        printf("    call %.*s: %.*s(%.*s)\n", (int)t->id.len, t->id.ptr,
               (int)t->name.len, t->name.ptr, (int)t->arguments.len,
               t->arguments.ptr);
    }
    for (size_t k = 0; k < am_msg_agent_call_count(m); k++) {
        const am_agent_call *c = am_msg_agent_call(m, k);
        printf("    invoke %.*s: %.*s\n", (int)c->agent_name.len,
               c->agent_name.ptr, (int)c->request.len, c->request.ptr);
    }
    for (size_t k = 0; k < am_msg_image_count(m); k++)
        printf("    image %.*s\n", (int)am_msg_image(m, k).len,
               am_msg_image(m, k).ptr);
    if (am_msg_structured_data(m).len != 0)
        printf("    data %.*s\n", (int)am_msg_structured_data(m).len,
               am_msg_structured_data(m).ptr);
    if (am_msg_agent_content(m, &ac))
        printf("    thought: %.*s | next: %s %.*s\n", (int)ac.thought.len,
               ac.thought.ptr, am_action_name(ac.next_action),
               (int)ac.action_input.len, ac.action_input.ptr);
    (void)text;
}

static int conv_show(int argc, char **argv)
{
    conv_args a;
    am_msg_list l = AM_MSG_LIST_INIT;
    am_buf text = AM_BUF_INIT;
    size_t bytes;
    int rc = parse_args("conv show", argc, argv, false, &a);

    if (rc != 0)
        return rc;
    if ((rc = read_conv(&a, &l, &bytes)) == 0 && a.json) {
        am_error err = { AM_OK, "" };
        am_status st = am_msgs_to_json(am_msg_list_items(&l), l.count,
                                       AM_FORMAT_AGENTMEM, 0, &text, &err);
        if (st != AM_OK)
            rc = cli_fail(st, &err, "conv show");
        else /* on one line, as every --json result */
            rc = cli_print_json(cli_json_parse(am_buf_str(&text)),
                                "conv show");
    } else if (rc == 0) {
        for (size_t i = 0; i < l.count; i++)
            show_msg(i, l.items[i], &text);
        printf("%zu message%s\n", l.count, l.count == 1 ? "" : "s");
    }
    am_buf_free(&text);
    am_msg_list_free(&l);
    return rc;
}

/* {"messages", "input_bytes", "format", "memory_bytes", "text_bytes",
 * "tool_calls", "roles": {ROLE: {"count", "avg_chars"}}} */
static int print_stats_json(const am_conv_stats *s, size_t bytes,
                            am_format from)
{
    json_t *roles = json_object();
    json_t *o = json_pack("{s:I,s:I,s:s,s:I,s:I,s:I}",
                          "messages", (json_int_t)s->count,
                          "input_bytes", (json_int_t)bytes,
                          "format", am_format_name(from),
                          "memory_bytes", (json_int_t)s->bytes,
                          "text_bytes", (json_int_t)s->text_bytes,
                          "tool_calls", (json_int_t)s->tool_calls);

    for (int r = 0; r < AM_ROLE_COUNT && roles != NULL; r++) {
        double avg = s->by_role[r] != 0 ? (double)s->chars_by_role[r] /
                                              (double)s->by_role[r]
                                        : 0.0;
        if (json_object_set_new(roles, am_role_name((am_role)r),
                                json_pack("{s:I,s:f}", "count",
                                          (json_int_t)s->by_role[r],
                                          "avg_chars", avg)) != 0) {
            json_decref(roles);
            roles = NULL;
        }
    }
    /* set_new takes `roles` even when it fails; a NULL makes it fail. */
    if (o != NULL && json_object_set_new(o, "roles", roles) != 0) {
        json_decref(o);
        o = NULL;
    } else if (o == NULL) {
        json_decref(roles);
    }
    return cli_print_json(o, "conv stats");
}

static int conv_stats(int argc, char **argv)
{
    conv_args a;
    am_msg_list l = AM_MSG_LIST_INIT;
    am_conv_stats s;
    size_t bytes = 0;
    int rc = parse_args("conv stats", argc, argv, false, &a);

    if (rc != 0)
        return rc;
    if ((rc = read_conv(&a, &l, &bytes)) == 0 && a.json) {
        am_msgs_stats(am_msg_list_items(&l), l.count, &s);
        rc = print_stats_json(&s, bytes, a.from);
    } else if (rc == 0) {
        am_msgs_stats(am_msg_list_items(&l), l.count, &s);
        printf("messages    %zu\n", s.count);
        printf("input size  %zu bytes (%s)\n", bytes, am_format_name(a.from));
        printf("memory      %zu bytes\n", s.bytes);
        printf("text        %zu bytes\n", s.text_bytes);
        printf("tool calls  %zu\n", s.tool_calls);
        printf("%-10s %8s %12s\n", "role", "count", "avg chars");
        for (int r = 0; r < AM_ROLE_COUNT; r++)
            printf("%-10s %8zu %12.1f\n", am_role_name((am_role)r),
                   s.by_role[r],
                   s.by_role[r] != 0 ? (double)s.chars_by_role[r] /
                                           (double)s.by_role[r]
                                     : 0.0);
    }
    am_msg_list_free(&l);
    return rc;
}

/* ---- The command table ---- */

/* A subcommand's arguments: argv after its name. */
typedef struct conv_run {
    int argc;
    char **argv;
} conv_run;

static int cv_convert(void *ctx)
{
    conv_run *x = ctx;
    return conv_convert(x->argc, x->argv);
}

static int cv_show(void *ctx)
{
    conv_run *x = ctx;
    return conv_show(x->argc, x->argv);
}

static int cv_stats(void *ctx)
{
    conv_run *x = ctx;
    return conv_stats(x->argc, x->argv);
}

static const cli_sub conv_subs[] = {
    { "convert", cv_convert, 0, "[IN]",
      "convert a conversation between formats (IN: a file, default stdin)" },
    { "show", cv_show, 0, "[IN]", "print a conversation for reading" },
    { "stats", cv_stats, 0, "[IN]",
      "count messages, bytes, tool calls and characters per role" },
};

static const cli_flag conv_flags[] = {
    { "--format", "F", "the input format: agentmem (default), openai or "
                       "anthropic; convert: the output format too, unless "
                       "--to" },
    { "--from", "F", "convert: the input format" },
    { "--to", "F", "convert: the output format" },
    { "--out", "FILE", "convert: write to FILE (replaced atomically; "
                       "default stdout)" },
    { "--pretty", NULL, "convert: indent the JSON" },
    { "--portable", NULL, "convert: leave out what the target provider's "
                          "API would reject (the other provider's "
                          "reasoning, agentmem extensions)" },
    { "--json", NULL, "show, stats: print the result as JSON "
                      "(docs/cli-json.md)" },
};

static const char *const conv_examples[] = {
    "agentmem conv convert --from openai --to anthropic "
    "examples/msg/openai.json --out claude.json",
    "agentmem conv stats --format anthropic claude.json --json",
    "agentmem conv show examples/msg/conversation.json",
    NULL
};

const cli_group conv_group = { conv_subs, CLI_COUNT(conv_subs), conv_flags,
                               CLI_COUNT(conv_flags), conv_examples };

int cmd_conv(int argc, char **argv)
{
    const cli_sub *sub = NULL;
    conv_run x = { argc - 1, argv + 1 };
    int rc = cli_sub_check("conv", &conv_group, argv[0], argc - 1, &sub);

    return rc != CLI_EXIT_OK ? rc : sub->run(&x);
}
