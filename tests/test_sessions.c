/* test_sessions.c -- the session directory (the seed's SessionManager). */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agentmem/sessions.h"
#include "harness.h"

static am_react *memory_with(const char *text)
{
    am_react *m = NULL;
    CHECK_OK(am_react_create(NULL, &m, NULL));
    CHECK_OK(am_react_add_message(m, AM_STR("system"), AM_STR("Be brief.")));
    CHECK_OK(am_react_add_message(m, AM_STR("user"), am_str_c(text)));
    CHECK_OK(am_react_add_step(m, AM_STEP_THINK, AM_STR("look it up")));
    return m;
}

/* Files in `dir` that are not sessions (temporaries left behind). */
static int stray_files(const char *dir)
{
    DIR *d = opendir(dir);
    int n = 0;
    CHECK(d != NULL);
    for (struct dirent *de; (de = readdir(d)) != NULL;)
        if (strstr(de->d_name, ".tmp") != NULL)
            n++;
    closedir(d);
    return n;
}

AM_TEST(sessions_save_load_list_and_delete)
{
    char *dir = test_tmpdir();
    char sub[512], path[600];
    am_sessions *ss = NULL;
    am_react *a = memory_with("where is my order?");
    am_react *b = memory_with("cancel it");
    am_react *back = NULL;
    am_react_message msg;
    am_buf out = AM_BUF_INIT;

    snprintf(sub, sizeof sub, "%s/deep/sessions", dir);
    CHECK_OK(am_sessions_open(sub, NULL, &ss, NULL)); /* created with parents */
    CHECK_OK(am_sessions_list(ss, &out));
    CHECK_STR_EQ(out.ptr, "[]");
    CHECK_OK(am_sessions_save(ss, AM_STR("user_123"), a));
    CHECK_OK(am_sessions_save(ss, AM_STR("agent-7.b"), b));
    CHECK_OK(am_sessions_save(ss, AM_STR("user_123"), a)); /* replaces */
    CHECK_EQ(stray_files(sub), 0);
    CHECK_OK(am_sessions_list(ss, &out));
    CHECK_STR_EQ(out.ptr, "[\"agent-7.b\",\"user_123\"]");

    CHECK_OK(am_react_create(NULL, &back, NULL));
    CHECK_OK(am_sessions_load(ss, AM_STR("user_123"), back));
    CHECK_EQ(am_react_message_count(back), 2);
    CHECK_EQ(am_react_step_count(back), 1);
    CHECK_OK(am_react_message_at(back, 1, &msg));
    CHECK_MEM_EQ(msg.content.ptr, msg.content.len, "where is my order?");

    /* Absent: AM_ENOTFOUND, the memory unchanged. */
    CHECK_ST(am_sessions_load(ss, AM_STR("nobody"), back), AM_ENOTFOUND);
    CHECK(strstr(am_sessions_last_error(ss)->msg, "nobody") != NULL);
    CHECK_EQ(am_react_message_count(back), 2);
    /* Ids cannot name a path outside the directory. */
    CHECK_ST(am_sessions_save(ss, AM_STR("../escape"), a), AM_EINVAL);
    CHECK_ST(am_sessions_load(ss, AM_STR("a/b"), back), AM_EINVAL);
    CHECK(strstr(am_sessions_last_error(ss)->msg, "byte 1") != NULL);
    CHECK_ST(am_sessions_save(ss, AM_STR(""), a), AM_EINVAL);
    /* A corrupt file is named and changes nothing. */
    snprintf(path, sizeof path, "%s/broken.json", sub);
    FILE *fp = fopen(path, "w");
    CHECK(fp != NULL);
    fputs("{\"version\":1,", fp);
    fclose(fp);
    CHECK_ST(am_sessions_load(ss, AM_STR("broken"), back), AM_EFORMAT);
    CHECK(strstr(am_sessions_last_error(ss)->msg, "broken.json") != NULL);
    CHECK_EQ(am_react_message_count(back), 2);

    CHECK_OK(am_sessions_delete(ss, AM_STR("agent-7.b")));
    CHECK_ST(am_sessions_delete(ss, AM_STR("agent-7.b")), AM_ENOTFOUND);
    CHECK_OK(am_sessions_list(ss, &out));
    CHECK_STR_EQ(out.ptr, "[\"broken\",\"user_123\"]");
    {
        am_sessions *none = ss; /* set to NULL on failure */
        CHECK_ST(am_sessions_open("", NULL, &none, NULL), AM_EINVAL);
        CHECK(none == NULL);
        CHECK_ST(am_sessions_open(sub, NULL, NULL, NULL), AM_EINVAL);
    }

    am_buf_free(&out);
    am_react_free(a);
    am_react_free(b);
    am_react_free(back);
    am_sessions_close(ss);
    test_rmtree(dir);
    free(dir);
}

/* sessions.h's promises about ids and opening that the test above leaves
 * out: 128 bytes is the longest id, a leading '.' is refused (no hidden
 * or "." and ".." files), delete checks ids as save does, an open that
 * cannot make its directory is AM_EIO naming it, and close takes NULL. */
AM_TEST(sessions_id_limits_and_open_errors)
{
    char *dir = test_tmpdir();
    char path[600], id[129];
    am_sessions *ss = NULL;
    am_react *m = memory_with("hello");
    am_buf out = AM_BUF_INIT;
    am_error err = { AM_OK, "" };

    CHECK_OK(am_sessions_open(dir, NULL, &ss, NULL));
    memset(id, 'a', sizeof id);
    CHECK_OK(am_sessions_save(ss, (am_str){ id, 128 }, m));
    CHECK_ST(am_sessions_save(ss, (am_str){ id, 129 }, m), AM_EINVAL);
    CHECK_ST(am_sessions_load(ss, (am_str){ id, 129 }, m), AM_EINVAL);
    CHECK_ST(am_sessions_save(ss, AM_STR(".hidden"), m), AM_EINVAL);
    CHECK_ST(am_sessions_save(ss, AM_STR("."), m), AM_EINVAL);
    CHECK_ST(am_sessions_save(ss, AM_STR(".."), m), AM_EINVAL);
    CHECK_OK(am_sessions_save(ss, AM_STR("a.b"), m)); /* a dot inside */
    CHECK_ST(am_sessions_save(ss, AM_STR("a\0b"), m), AM_EINVAL);
    CHECK_ST(am_sessions_save(ss, AM_STR("caf\xc3\xa9"), m), AM_EINVAL);
    CHECK(strstr(am_sessions_last_error(ss)->msg, "byte 3") != NULL);
    CHECK_ST(am_sessions_delete(ss, AM_STR("../a.b")), AM_EINVAL);
    CHECK_ST(am_sessions_delete(ss, AM_STR("")), AM_EINVAL);
    CHECK_OK(am_sessions_list(ss, &out));
    snprintf(path, sizeof path, "[\"a.b\",\"%.128s\"]", id);
    CHECK_STR_EQ(out.ptr, path); /* only the two saved */
    am_sessions_close(ss);
    am_sessions_close(NULL);

    /* A directory that cannot be made: below a regular file. */
    snprintf(path, sizeof path, "%s/file", dir);
    FILE *fp = fopen(path, "w");
    CHECK(fp != NULL);
    fclose(fp);
    snprintf(path, sizeof path, "%s/file/sessions", dir);
    ss = (am_sessions *)1; /* set to NULL on failure */
    CHECK_ST(am_sessions_open(path, NULL, &ss, &err), AM_EIO);
    CHECK(ss == NULL);
    CHECK(strstr(err.msg, path) != NULL);

    am_buf_free(&out);
    am_react_free(m);
    test_rmtree(dir);
    free(dir);
}
