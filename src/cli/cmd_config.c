/* cmd_config.c -- `agentmem config show`: the memory manager's effective
 * configuration and the source of every value.
 *
 *   agentmem config show [--config FILE] [--preset P] [--json]
 *
 * It resolves exactly as compress and replay do (am_memory_config_resolve:
 * defaults < preset < the file found or named < MEMORY_* environment), so
 * what it prints is what those commands run with before their own flags.
 */
#include <string.h>

#include <jansson.h>

#include "agentmem/memconfig.h"
#include "cli.h"
#include "commands.h"

/* One JSON object: {"file": PATH|null, "settings": [{"key", "value",
 * "source"}...]} with values as they appear in the config file. */
static int show_json(const am_memory_config *cfg,
                     const am_memory_config_origins *o)
{
    am_buf text = AM_BUF_INIT;
    json_t *root, *arr;
    size_t pos = 0;

    if (am_memory_config_format(cfg, &text) != AM_OK)
        return cli_fail(AM_ENOMEM, NULL, "config show");
    arr = json_array();
    root = json_pack("{s:s?,s:o}", "file", o->file[0] != '\0' ? o->file
                                                               : NULL,
                     "settings", arr);
    while (root != NULL && pos < text.len) {
        const char *nl = memchr(text.ptr + pos, '\n', text.len - pos);
        size_t end = nl != NULL ? (size_t)(nl - text.ptr) : text.len;
        const char *eq = memchr(text.ptr + pos, '=', end - pos);
        am_str key = { text.ptr + pos, (size_t)(eq - (text.ptr + pos)) };
        am_str val = { eq + 1, (size_t)(text.ptr + end - (eq + 1)) };

        /* format quotes text values; the JSON value is the text itself. */
        if (val.len >= 2 && val.ptr[0] == '"') {
            val.ptr++;
            val.len -= 2;
        }
        if (json_array_append_new(
                arr, json_pack("{s:s%,s:s%,s:s}", "key", key.ptr, key.len,
                               "value", val.ptr, val.len, "source",
                               am_memory_config_origin_of(o, key))) != 0) {
            json_decref(root);
            root = NULL;
        }
        pos = end + 1;
    }
    am_buf_free(&text);
    return cli_print_json(root, "config show");
}

int cmd_config(int argc, char **argv)
{
    am_memory_config_resolve_opts ro;
    am_memory_config cfg;
    am_memory_config_origins o;
    am_buf out = AM_BUF_INIT;
    am_error err = { AM_OK, "" };
    am_status st;
    bool json = false;
    int rc;

    if (strcmp(argv[0], "show") != 0)
        return cli_usage("config", "unknown subcommand '%s' (expected "
                         "show)", argv[0]);
    memset(&ro, 0, sizeof ro);
    for (int i = 1; i < argc; i++) {
        const char *v = NULL;
        if (cli_opt(argc, argv, &i, "--config", &v)) {
            if (v == NULL)
                return cli_usage("config", "--config needs a file");
            ro.file = v;
        } else if (cli_opt(argc, argv, &i, "--preset", &v)) {
            if (v == NULL)
                return cli_usage("config", "--preset needs a name");
            ro.preset = v;
        } else if (strcmp(argv[i], "--json") == 0) {
            json = true;
        } else {
            return cli_usage("config", "unknown argument '%s'", argv[i]);
        }
    }
    st = am_memory_config_resolve(&cfg, &ro, &o, &err);
    if (st != AM_OK)
        return cli_fail(st, &err, "config show");
    if (json)
        return show_json(&cfg, &o);
    st = am_memory_config_show(&cfg, &o, &out);
    if (st != AM_OK) {
        rc = cli_fail(st, NULL, "config show");
    } else {
        fwrite(out.ptr, 1, out.len, stdout);
        rc = CLI_EXIT_OK;
    }
    am_buf_free(&out);
    return rc;
}
