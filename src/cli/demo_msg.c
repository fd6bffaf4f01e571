/* demo_msg.c -- the messages-and-conversations part of `agentmem demo`.
 *
 * Loads the shipped agent conversation (examples/msg/conversation.json:
 * a research agent with thinking, two tool calls, their results, an agent
 * call and structured data), adds a turn, prints statistics and the
 * conversation as OpenAI and Anthropic requests, saves and reloads it, and
 * shows a persistent agent surviving a manager restart.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agentmem/conv.h"
#include "cli.h"
#include "commands.h"

#ifndef AM_EXAMPLES_DIR
#define AM_EXAMPLES_DIR "examples"
#endif
#ifndef AM_DATADIR
#define AM_DATADIR "/usr/local/share/agentmem"
#endif

/* The source tree's copy when run from a build, else the installed one. */
static const char *example_path(void)
{
    static const char *const candidates[] = {
        "examples/msg/conversation.json",
        AM_EXAMPLES_DIR "/msg/conversation.json",
        AM_DATADIR "/examples/msg/conversation.json",
    };
    for (size_t i = 0; i < sizeof candidates / sizeof *candidates; i++)
        if (access(candidates[i], R_OK) == 0)
            return candidates[i];
    return candidates[0];
}

static int fail_conv(am_conv *c, am_status st, const char *what)
{
    return cli_fail(st, am_conv_last_error(c), what);
}

static void print_indented(const am_buf *b)
{
    const char *p = b->ptr, *end = b->ptr + b->len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl != NULL ? (size_t)(nl - p) : (size_t)(end - p);
        size_t cut = n;
        if (cut > 150) {
            cut = 150; /* on a character boundary */
            while (cut > 0 && ((unsigned char)p[cut] & 0xC0) == 0x80)
                cut--;
        }
        if (n > 0)
            printf("    %.*s%s\n", (int)cut, p, cut < n ? " ..." : "");
        p += n + 1;
    }
}

/* A persistent agent in a temporary directory, across a restart. */
static int demo_manager(void)
{
    char dir[] = "/tmp/agentmem-demo.XXXXXX";
    char cmd[64];
    am_convmgr_opts o = am_convmgr_opts_default();
    am_convmgr *m = NULL;
    am_conv *c;
    am_error err = { AM_OK, "" };
    am_status st;

    if (mkdtemp(dir) == NULL)
        return CLI_EXIT_IO;
    o.dir = dir;
    o.default_retention = AM_RETAIN_PERSISTENT;
    if ((st = am_convmgr_open(&o, &m, &err)) != AM_OK)
        return cli_fail(st, &err, "manager");
    if ((st = am_convmgr_set_retention(m, AM_STR("Scratch"),
                                       AM_RETAIN_SINGLE_RUN)) != AM_OK ||
        (st = am_convmgr_get(m, AM_STR("Researcher"), &c)) != AM_OK) {
        int rc = cli_fail(st, am_convmgr_last_error(m), "manager");
        am_convmgr_close(m);
        return rc;
    }
    am_conv_add_text(c, AM_ROLE_USER, AM_STR("Remember: the user lives in "
                                             "Lyon."));
    am_conv_add_text(c, AM_ROLE_ASSISTANT, AM_STR("Noted."));
    am_convmgr_get(m, AM_STR("Scratch"), &c);
    am_conv_add_text(c, AM_ROLE_USER, AM_STR("temporary notes"));
    am_convmgr_end_run(m);
    printf("  manager: Researcher (persistent) 2 messages, Scratch "
           "(single_run) %zu after end of run\n", am_conv_count(c));
    am_convmgr_close(m);
    if ((st = am_convmgr_open(&o, &m, &err)) != AM_OK)
        return cli_fail(st, &err, "manager reopen");
    am_convmgr_get(m, AM_STR("Researcher"), &c);
    printf("  after a restart, Researcher has %zu messages restored from "
           "its log\n", am_conv_count(c));
    am_convmgr_close(m);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "agentmem demo: could not remove %s\n", dir);
    return CLI_EXIT_OK;
}

int demo_msg(void)
{
    am_conv_opts o = am_conv_opts_default();
    am_conv *c = NULL, *back = NULL;
    am_msg *m = NULL;
    am_conv_stats s;
    am_buf out = AM_BUF_INIT;
    am_error err = { AM_OK, "" };
    am_status st;
    const char *path = example_path();
    char saved[] = "/tmp/agentmem-demo-conv.XXXXXX";
    int fd, rc = CLI_EXIT_OK;
    am_agent_content ac = { AM_STR("The checker agreed; answer."),
                            AM_ACTION_FINAL_RESPONSE, AM_STR("") };

    printf("\n== Messages and conversations ==\n");
    o.max_messages = 100;
    if ((st = am_conv_create(&o, &c, &err)) != AM_OK)
        return cli_fail(st, &err, "conversation");
    if ((st = am_conv_load(c, path, AM_FORMAT_AGENTMEM)) != AM_OK) {
        rc = fail_conv(c, st, path);
        goto out;
    }
    printf("  loaded %zu messages from %s\n", am_conv_count(c), path);
    st = am_msg_create_text(NULL, AM_ROLE_ASSISTANT,
                            AM_STR("You're welcome!"), &m, &err);
    if (st == AM_OK)
        st = am_msg_set_agent_content(m, &ac, &err);
    if (st == AM_OK && (st = am_conv_add(c, m)) != AM_OK)
        err = *am_conv_last_error(c);
    am_msg_free(m);
    if (st != AM_OK) {
        rc = cli_fail(st, &err, "add");
        goto out;
    }
    am_conv_stats_get(c, &s);
    printf("  %zu messages: %zu system, %zu user, %zu assistant, %zu tool; "
           "%zu tool calls; %zu bytes of text\n", s.count,
           s.by_role[AM_ROLE_SYSTEM], s.by_role[AM_ROLE_USER],
           s.by_role[AM_ROLE_ASSISTANT], s.by_role[AM_ROLE_TOOL],
           s.tool_calls, s.text_bytes);
    if ((st = am_conv_to_json(c, AM_FORMAT_OPENAI, 0, &out)) != AM_OK) {
        rc = fail_conv(c, st, "openai");
        goto out;
    }
    printf("  as an OpenAI Chat Completions messages array:\n");
    print_indented(&out);
    if ((st = am_conv_to_json(c, AM_FORMAT_ANTHROPIC, 0, &out)) != AM_OK) {
        rc = fail_conv(c, st, "anthropic");
        goto out;
    }
    printf("  as an Anthropic Messages request (system hoisted, tool "
           "results in a user turn, thinking kept):\n");
    print_indented(&out);
    fd = mkstemp(saved);
    if (fd >= 0)
        close(fd);
    if ((st = am_conv_save(c, saved, AM_FORMAT_AGENTMEM)) != AM_OK ||
        (st = am_conv_create(&o, &back, &err)) != AM_OK ||
        (st = am_conv_load(back, saved, AM_FORMAT_AGENTMEM)) != AM_OK) {
        rc = cli_fail(st, back != NULL ? am_conv_last_error(back)
                                       : am_conv_last_error(c), "save/load");
        unlink(saved);
        goto out;
    }
    printf("  saved atomically and loaded back: %zu messages\n",
           am_conv_count(back));
    unlink(saved);
    rc = demo_manager();
out:
    am_buf_free(&out);
    am_conv_free(back);
    am_conv_free(c);
    return rc;
}
