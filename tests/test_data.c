/* test_data.c -- am_data_find (data.h): the caller's directory first,
 * then AGENTMEM_DATA_DIR, and each error data.h names (AM_EINVAL,
 * AM_ELIMIT, AM_ENOTFOUND listing the places tried). The places after
 * AGENTMEM_DATA_DIR are the build's own (install prefix, build and
 * source trees); a name none of them holds shows the order above them. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agentmem/data.h"
#include "core/core.h"
#include "harness.h"

/* A name no install, build or source tree holds. */
#define NAME "test-data-find.bin"

static void put(const char *dir, const char *sub)
{
    char path[PATH_MAX];
    am_error err = { AM_OK, "" };
    snprintf(path, sizeof path, "%s/%s", dir, sub);
    CHECK_OK_E(am__mkdir_p(NULL, path, &err), &err);
    snprintf(path, sizeof path, "%s/%s/" NAME, dir, sub);
    CHECK_OK_E(am__write_file_atomic(NULL, path, sub, strlen(sub), &err),
               &err);
}

static void check_found(const char *out, const char *dir, const char *sub)
{
    char want[PATH_MAX + 64], real[PATH_MAX];
    CHECK(realpath(dir, real) != NULL);
    snprintf(want, sizeof want, "%s/%s/" NAME, real, sub);
    CHECK_STR_EQ(out, want);
}

AM_TEST(data_find_tries_the_given_directory_then_the_environment)
{
    char *dir = test_tmpdir();
    char given[PATH_MAX], env[PATH_MAX], out[PATH_MAX];
    am_error err = { AM_OK, "" };

    put(dir, "given");
    put(dir, "env");
    snprintf(given, sizeof given, "%s/given", dir);
    snprintf(env, sizeof env, "%s/env", dir);
    CHECK_EQ(setenv("AGENTMEM_DATA_DIR", env, 1), 0);
    /* The caller's directory wins over the environment. */
    CHECK_OK_E(am_data_find(given, NAME, out, sizeof out, &err), &err);
    check_found(out, dir, "given");
    /* Without one (NULL or empty), or when it lacks the file: the
     * environment's. */
    CHECK_OK_E(am_data_find(NULL, NAME, out, sizeof out, &err), &err);
    check_found(out, dir, "env");
    CHECK_OK_E(am_data_find("", NAME, out, sizeof out, &err), &err);
    check_found(out, dir, "env");
    CHECK_OK_E(am_data_find(dir, NAME, out, sizeof out, NULL), NULL);
    check_found(out, dir, "env");
    /* The exact size fits (the path and its NUL); one byte less is
     * AM_ELIMIT, naming the file. */
    size_t need = strlen(out) + 1;
    CHECK_OK_E(am_data_find(NULL, NAME, out, need, &err), &err);
    CHECK_ST(am_data_find(NULL, NAME, out, need - 1, &err), AM_ELIMIT);
    CHECK(strstr(err.msg, NAME) != NULL);
    CHECK_ST(am_data_find(NULL, NAME, out, need - 1, NULL), AM_ELIMIT);
    unsetenv("AGENTMEM_DATA_DIR");
    test_rmtree(dir);
    free(dir);
}

AM_TEST(data_find_not_found_lists_every_place_tried)
{
    char *dir = test_tmpdir();
    char out[PATH_MAX] = "unchanged";
    am_error err = { AM_OK, "" };

    CHECK_EQ(setenv("AGENTMEM_DATA_DIR", "/nonexistent/am-env", 1), 0);
    CHECK_ST(am_data_find(dir, NAME, out, sizeof out, &err), AM_ENOTFOUND);
    CHECK_EQ(err.code, AM_ENOTFOUND);
    CHECK(strstr(err.msg, NAME) != NULL);
    CHECK(strstr(err.msg, dir) != NULL);                   /* given */
    CHECK(strstr(err.msg, "/nonexistent/am-env") != NULL); /* environment */
    CHECK(strstr(err.msg, "next to the library") != NULL);
    CHECK(strstr(err.msg, "install prefix") != NULL);
    CHECK(strstr(err.msg, "AGENTMEM_DATA_DIR") != NULL); /* what to do */
    /* In that order: the given directory first. */
    CHECK(strstr(err.msg, dir) < strstr(err.msg, "/nonexistent/am-env"));
    CHECK_ST(am_data_find(dir, NAME, out, sizeof out, NULL), AM_ENOTFOUND);
    unsetenv("AGENTMEM_DATA_DIR");
    test_rmtree(dir);
    free(dir);
}

/* data.h: with AGENTMEM_DATA_ONLY, the given directory and
 * AGENTMEM_DATA_DIR are the only places: a rank file the build tree holds
 * is found without it and not found with it, and the message lists only
 * the named places. */
AM_TEST(data_only_searches_the_places_the_caller_named)
{
    char *dir = test_tmpdir();
    char env[PATH_MAX], out[PATH_MAX];
    am_error err = { AM_OK, "" };

    put(dir, "env");
    snprintf(env, sizeof env, "%s/env", dir);
    CHECK_EQ(setenv("AGENTMEM_DATA_DIR", env, 1), 0);
    CHECK_OK_E(am_data_find(NULL, "cl100k_base.tiktoken", out, sizeof out,
                            &err), &err);
    CHECK_EQ(setenv("AGENTMEM_DATA_ONLY", "1", 1), 0);
    CHECK_ST(am_data_find(NULL, "cl100k_base.tiktoken", out, sizeof out,
                          &err), AM_ENOTFOUND);
    CHECK(strstr(err.msg, env) != NULL);
    CHECK(strstr(err.msg, "install prefix") == NULL);
    CHECK(strstr(err.msg, "next to the library") == NULL);
    /* The named places still work, the given directory first. */
    CHECK_OK_E(am_data_find(NULL, NAME, out, sizeof out, &err), &err);
    check_found(out, dir, "env");
    put(dir, "given");
    snprintf(env, sizeof env, "%s/given", dir);
    CHECK_OK_E(am_data_find(env, NAME, out, sizeof out, &err), &err);
    check_found(out, dir, "given");
    /* Empty is unset. */
    CHECK_EQ(setenv("AGENTMEM_DATA_ONLY", "", 1), 0);
    CHECK_OK_E(am_data_find(NULL, "cl100k_base.tiktoken", out, sizeof out,
                            &err), &err);
    unsetenv("AGENTMEM_DATA_ONLY");
    unsetenv("AGENTMEM_DATA_DIR");
    test_rmtree(dir);
    free(dir);
}

AM_TEST(data_find_refuses_null_and_paths_as_names)
{
    char out[64];
    am_error err = { AM_OK, "" };

    CHECK_ST(am_data_find(NULL, NULL, out, sizeof out, &err), AM_EINVAL);
    CHECK_EQ(err.code, AM_EINVAL);
    CHECK_ST(am_data_find(NULL, NAME, NULL, sizeof out, &err), AM_EINVAL);
    CHECK_ST(am_data_find(NULL, NAME, out, 0, &err), AM_EINVAL);
    /* A name is a file name: no directory part, nothing to escape with. */
    CHECK_ST(am_data_find("/tmp", "../etc/passwd", out, sizeof out, &err),
             AM_EINVAL);
    CHECK(strstr(err.msg, "../etc/passwd") != NULL);
    CHECK_ST(am_data_find(NULL, "/etc/passwd", out, sizeof out, &err),
             AM_EINVAL);
    CHECK_ST(am_data_find(NULL, "", out, sizeof out, &err), AM_EINVAL);
    CHECK_ST(am_data_find(NULL, NULL, out, sizeof out, NULL), AM_EINVAL);
}
