/* tokens_fixture.h -- what the tokens test files share (test_tokens.c,
 * test_tokens_files.c, test_tokens_catalog.c, test_tokens_count.c,
 * test_tokens_oom.c): opening an encoding, counting a C string, and
 * writing a small file. */
#ifndef AM_TEST_TOKENS_FIXTURE_H
#define AM_TEST_TOKENS_FIXTURE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agentmem/tokens.h"
#include "core/core.h"
#include "harness.h"
#include "tokens/tokens_int.h"

/* The encoding `name` with default options; fails the test if it cannot
 * open. Free it with am_encoding_free. */
static inline am_encoding *open_enc(const char *name)
{
    am_encoding *enc = NULL;
    am_error err = { AM_OK, "" };
    CHECK_OK_E(am_encoding_create(name, NULL, &enc, &err), &err);
    return enc;
}

static inline size_t count_of(const am_encoding *enc, const char *text)
{
    size_t n = 0;
    CHECK_OK(am_encoding_count(enc, am_str_c(text), NULL, &n, NULL));
    return n;
}

/* A tracker's on_budget callback that records its calls and the cost and
 * total tokens it was told. */
typedef struct budget_seen {
    int calls;
    double cost;
    int64_t total;
} budget_seen;

static inline void on_budget(void *ctx, const am_tracker_stats *s)
{
    budget_seen *b = ctx;
    b->calls++;
    b->cost = s->cost;
    b->total = s->total_tokens;
}

/* Write `text` to <dir>/<name>; the path is yours (free()). */
static inline char *write_tmp(const char *dir, const char *name,
                              const char *text)
{
    char *path = malloc(strlen(dir) + strlen(name) + 2);
    FILE *fp;
    sprintf(path, "%s/%s", dir, name);
    fp = fopen(path, "w");
    CHECK(fp != NULL);
    fputs(text, fp);
    fclose(fp);
    return path;
}

#endif
