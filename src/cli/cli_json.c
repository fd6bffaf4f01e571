/* cli_json.c -- the one way commands print `--json` results.
 *
 * Every command that prints a result takes --json and then prints exactly
 * one JSON value on one line of stdout (docs/cli-json.md lists each
 * command's shape). Commands build the value with jansson and hand it
 * here, so the encoding (compact, keys in the order they were set, UTF-8
 * checked) is the same everywhere and an allocation failure while
 * building it is reported instead of printing "null".
 */
#include <stdio.h>
#include <stdlib.h>

#include <jansson.h>

#include "cli.h"

int cli_print_json(json_t *v, const char *context)
{
    /* 12 significant digits: prices print as 0.15, not 0.1499999... */
    char *text = v != NULL ? json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER |
                                               JSON_ENCODE_ANY |
                                               JSON_REAL_PRECISION(12))
                           : NULL;
    json_decref(v);
    if (text == NULL)
        return cli_fail(AM_ENOMEM, NULL, context);
    puts(text);
    free(text);
    return CLI_EXIT_OK;
}

json_t *cli_json_parse(am_str text)
{
    return json_loadb(text.ptr, text.len, JSON_DECODE_ANY, NULL);
}

bool cli_print_json_str(am_str s)
{
    json_t *v = json_stringn(s.ptr, s.len);
    int rc = v != NULL ? json_dumpf(v, stdout, JSON_ENCODE_ANY) : -1;

    json_decref(v);
    return rc == 0;
}
