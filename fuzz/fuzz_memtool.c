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

/* Does the line [p, end) name a path with a ".." component or an empty
 * one ("//")? A name that merely starts with two dots
 * ("/memories/a/..Rt", "/memories/a/..:Rt", "/memories/a/.. x") is a
 * name like any other: only "/.." followed by "/", a tab, a line end or
 * the end of the line is a step up. */
static int line_escapes(const char *p, const char *end)
{
    for (const char *q = p; q + 1 < end; q++) {
        if (q[0] != '/')
            continue;
        if (q[1] == '/')
            return 1;
        if (q + 2 < end && q[1] == '.' && q[2] == '.' &&
            (q + 3 == end || q[3] == '/' || q[3] == '\t' || q[3] == '\r'))
            return 1;
    }
    return 0;
}

/* A file's own text is quoted in replies as numbered lines ("     3\t...",
 * as `cat -n` prints them): what the user wrote there may hold "//" (a
 * URL) and is not a path. Every other line must not name an escape. */
static int escapes(const char *s)
{
    while (*s != '\0') {
        const char *end = strchr(s, '\n');
        if (end == NULL)
            end = s + strlen(s);
        const char *q = s;
        while (q < end && *q == ' ')
            q++;
        const char *d = q;
        while (q < end && *q >= '0' && *q <= '9')
            q++;
        int numbered = q > d && q < end && *q == '\t';
        if (!numbered && line_escapes(s, end))
            return 1;
        s = *end == '\n' ? end + 1 : end;
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
