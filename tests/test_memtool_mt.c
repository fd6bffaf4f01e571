/* test_memtool_mt.c -- memtool.h says am_memtool_exec and am_memtool_call
 * are safe: threads share one store handle, each running every command on
 * its own files (under its own user, and under one user they all share),
 * while the others list that shared directory. Every reply is the one a
 * lone thread gets, and no file is lost or mixed up. Run under TSan by
 * `make tsan` (the name ends in _mt). */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "agentmem/memtool.h"
#include "harness.h"
#include "store_target.h"

#define THREADS 4
#define ROUNDS 40

typedef struct worker {
    am_store *s;
    int id;
    int failures;
    char first_bad[512]; /* the first unexpected reply, for the report */
} worker;

/* Run one command; count a failure unless the reply starts with `want`
 * and is_error is `want_error`. */
static void run(worker *w, const char *user, const char *input,
                const char *want, int want_error)
{
    am_buf out = AM_BUF_INIT;
    int is_error = -1;
    am_status st = am_memtool_exec(w->s, am_str_c(user), am_str_c(input),
                                   &out, &is_error);
    if (st != AM_OK || is_error != want_error || out.ptr == NULL ||
        strncmp(out.ptr, want, strlen(want)) != 0) {
        if (w->failures++ == 0)
            snprintf(w->first_bad, sizeof w->first_bad,
                     "status %d is_error %d for %s: %s", (int)st, is_error,
                     input, out.ptr != NULL ? out.ptr : "(null)");
    }
    am_buf_free(&out);
}

static void *work(void *arg)
{
    worker *w = arg;
    char own[16], in[512], want[256], path[64], moved[64];
    am_buf out = AM_BUF_INIT;

    snprintf(own, sizeof own, "user%d", w->id);
    for (int r = 0; r < ROUNDS; r++) {
        /* Under its own user and under the shared one: the same life of
         * a file, whose path only this thread uses. */
        for (int u = 0; u < 2; u++) {
            const char *user = u == 0 ? own : "shared";
            snprintf(path, sizeof path, "/memories/t%d/r%d.md", w->id, r);
            snprintf(moved, sizeof moved, "/memories/t%d/done%d.md", w->id,
                     r);
            snprintf(in, sizeof in, "{\"command\":\"create\",\"path\":\"%s\","
                     "\"file_text\":\"thread %d round %d\\nline two\"}",
                     path, w->id, r);
            snprintf(want, sizeof want, "File created successfully at: %s",
                     path);
            run(w, user, in, want, 0);
            snprintf(in, sizeof in, "{\"command\":\"str_replace\",\"path\":"
                     "\"%s\",\"old_str\":\"line two\",\"new_str\":\"edited\"}",
                     path);
            run(w, user, in, "The memory file has been edited", 0);
            snprintf(in, sizeof in, "{\"command\":\"insert\",\"path\":\"%s\","
                     "\"insert_line\":0,\"insert_text\":\"top\"}", path);
            run(w, user, in, "The file ", 0);
            snprintf(in, sizeof in, "{\"command\":\"view\",\"path\":\"%s\"}",
                     path);
            snprintf(want, sizeof want, "Here's the content of %s with line "
                     "numbers:\n     1\ttop\n     2\tthread %d round %d\n"
                     "     3\tedited", path, w->id, r);
            run(w, user, in, want, 0);
            snprintf(in, sizeof in, "{\"command\":\"rename\",\"old_path\":"
                     "\"%s\",\"new_path\":\"%s\"}", path, moved);
            run(w, user, in, "Successfully renamed", 0);
            /* Every other round's file goes; the rest stay to the end. */
            if (r % 2 == 1) {
                snprintf(in, sizeof in, "{\"command\":\"delete\",\"path\":"
                         "\"%s\"}", moved);
                run(w, user, in, "Successfully deleted", 0);
            }
        }
        /* Reading what the others are writing: a listing, never an
         * error. */
        run(w, "shared", "{\"command\":\"view\",\"path\":\"/memories\"}",
            "Here're the files and directories up to 2 levels deep in "
            "/memories", 0);
        /* The whole block form, with its id carried back. */
        snprintf(in, sizeof in, "{\"type\":\"tool_use\",\"id\":\"toolu_%d_%d\","
                 "\"name\":\"memory\",\"input\":{\"command\":\"view\","
                 "\"path\":\"/memories/t%d\"}}", w->id, r, w->id);
        if (am_memtool_call(w->s, am_str_c(own), am_str_c(in), &out) !=
                AM_OK ||
            strstr(out.ptr, "\"tool_use_id\":\"toolu_") == NULL ||
            strstr(out.ptr, "\"is_error\"") != NULL)
            w->failures++;
    }
    am_buf_free(&out);
    return NULL;
}

/* The files left under `user` for thread `id`: done0, done2, ... with the
 * text they were given and edited to. */
static void check_files(am_store *s, const char *user, int id)
{
    am_buf out = AM_BUF_INIT;
    char in[256], want[256];
    for (int r = 0; r < ROUNDS; r++) {
        int is_error = -1;
        snprintf(in, sizeof in, "{\"command\":\"view\",\"path\":"
                 "\"/memories/t%d/done%d.md\"}", id, r);
        CHECK_OK(am_memtool_exec(s, am_str_c(user), am_str_c(in), &out,
                                 &is_error));
        CHECK_EQ(is_error, r % 2 == 1);
        if (r % 2 == 0) {
            snprintf(want, sizeof want, "\ttop\n     2\tthread %d round %d\n"
                     "     3\tedited", id, r);
            CHECK(strstr(out.ptr, want) != NULL);
        }
    }
    am_buf_free(&out);
}

AM_TEST(memtool_is_safe_on_one_store_shared_by_threads)
{
    char *dir = test_tmpdir(), path[512];
    am_store *s = NULL;
    pthread_t th[THREADS];
    worker w[THREADS];

    test_store_target(dir, "memtool.db", path, sizeof path);
    CHECK_OK(am_store_open(path, NULL, &s, NULL));
    for (int i = 0; i < THREADS; i++) {
        memset(&w[i], 0, sizeof w[i]);
        w[i].s = s;
        w[i].id = i;
        CHECK_EQ(pthread_create(&th[i], NULL, work, &w[i]), 0);
    }
    for (int i = 0; i < THREADS; i++) {
        CHECK_EQ(pthread_join(th[i], NULL), 0);
        if (w[i].failures > 0)
            fprintf(stderr, "thread %d: %d failures; first: %s\n", i,
                    w[i].failures, w[i].first_bad);
        CHECK_EQ(w[i].failures, 0);
    }
    for (int i = 0; i < THREADS; i++) {
        char user[16];
        snprintf(user, sizeof user, "user%d", i);
        check_files(s, user, i);
        check_files(s, "shared", i);
    }
    am_store_close(s);
    test_rmtree(dir);
    free(dir);
}
