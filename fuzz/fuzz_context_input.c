/* fuzz_context_input.c -- the context module's parsers on arbitrary bytes:
 * memory config files (KEY=VALUE lines), ReAct memory imports and memory
 * manager imports. A config
 * that parses must format and parse back to the same struct; an import
 * that succeeds must export -> import -> export to the same bytes.
 * Rejecting input is fine; crashing, leaking or drifting is not.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agentmem/memconfig.h"
#include "agentmem/react.h"
#include "agentmem/window.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    am_str in = { (const char *)data, size };
    am_memory_config c = am_memory_config_default(), d;
    am_buf a = AM_BUF_INIT, b = AM_BUF_INIT;
    am_react *m = NULL, *n = NULL;
    am_error err = { AM_OK, "" };

    if (am_memory_config_parse(&c, in, &err) == AM_OK) {
        if (am_memory_config_format(&c, &a) != AM_OK)
            abort();
        d = am_memory_config_default();
        if (am_memory_config_parse(&d, am_buf_str(&a), &err) != AM_OK ||
            memcmp(&c, &d, sizeof c) != 0)
            abort();
    }
    if (am_react_create(NULL, &m, NULL) == AM_OK &&
        am_react_import(m, in) == AM_OK) {
        if (am_react_export(m, &a) != AM_OK ||
            am_react_create(NULL, &n, NULL) != AM_OK ||
            am_react_import(n, am_buf_str(&a)) != AM_OK ||
            am_react_export(n, &b) != AM_OK || a.len != b.len ||
            memcmp(a.ptr, b.ptr, a.len) != 0)
            abort();
    }
    {
        am_memory *x = NULL, *y = NULL;
        /* The estimate: import and export do not count, and opening a
         * tokenizer per input would slow the fuzzer a hundredfold. */
        am_memory_opts mo = am_memory_opts_default();
        snprintf(mo.config.model, sizeof mo.config.model, "estimate");
        if (am_memory_create(&mo, &x, NULL) == AM_OK &&
            am_memory_import(x, in) == AM_OK) {
            if (am_memory_export(x, &a) != AM_OK ||
                am_memory_create(&mo, &y, NULL) != AM_OK ||
                am_memory_import(y, am_buf_str(&a)) != AM_OK ||
                am_memory_export(y, &b) != AM_OK || a.len != b.len ||
                memcmp(a.ptr, b.ptr, a.len) != 0)
                abort();
        }
        am_memory_free(x);
        am_memory_free(y);
    }
    am_react_free(m);
    am_react_free(n);
    am_buf_free(&a);
    am_buf_free(&b);
    return 0;
}
