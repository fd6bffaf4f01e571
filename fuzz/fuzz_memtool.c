/* fuzz_memtool.c -- the memory tool's command parser and path confinement.
 *
 * Each input is one tool "input" object run against an in-memory store
 * (files persist across inputs, so sequences of commands are explored).
 * Rejecting input is fine; crashing, leaking or answering with a path
 * outside /memories is not.
 */
#include <stdlib.h>
#include <string.h>

#include "agentmem/memtool.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

/* Does `s` name a path with a ".." component or an empty one ("//")?
 * A name that merely starts with two dots ("/memories/a/..Rt",
 * "/memories/a/..:Rt", "/memories/a/.. x") is a name like any other. The
 * replies are text with one path per line or at the end of a sentence,
 * so only "/.." followed by "/", a tab, a line end or the end of the text
 * is a step up. */
static int escapes(const char *s)
{
    if (strstr(s, "//") != NULL)
        return 1;
    for (const char *p = strstr(s, "/.."); p != NULL;
         p = strstr(p + 1, "/..")) {
        char c = p[3];
        if (c == '/' || c == '\t' || c == '\n' || c == '\r' || c == '\0')
            return 1;
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    static am_store *s;
    am_buf out = AM_BUF_INIT;
    int is_error = 0;
    if (s == NULL && am_store_open(":memory:", NULL, &s, NULL) != AM_OK)
        abort();
    am_status st = am_memtool_exec(s, AM_STR("fuzz"),
                                   (am_str){ (const char *)data, size }, &out,
                                   &is_error);
    if (st != AM_OK && st != AM_ENOMEM && st != AM_EFORMAT)
        abort();
    /* Successful replies name only normalized paths under /memories. */
    if (st == AM_OK && !is_error && out.ptr != NULL && escapes(out.ptr))
        abort();
    am_buf_free(&out);
    return 0;
}
