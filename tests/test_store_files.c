/* test_store_files.c -- the store's database file: the backend a target
 * picks, garbage and newer-schema files refused, one file shared with the
 * tiers module, acknowledged writes that survive SIGKILL. */
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agentmem/tiers.h"
#include "store_fixture.h"

AM_TEST(open_picks_backend_from_target)
{
    char *dir = test_tmpdir();
    char path[512], uri[600];
    am_error err = { AM_OK, "" };
    am_store *s = NULL;
    am_buf out = AM_BUF_INIT;

    /* PostgreSQL URIs go to the PostgreSQL backend: a server that is not
     * there is a clear error naming the target, never the password. */
    CHECK_ST(am_store_open("postgresql://u:s3cret@127.0.0.1:1/agentmem",
                           NULL, &s, &err), AM_EIO);
    CHECK(strstr(err.msg, "postgresql://u@127.0.0.1:1/agentmem") != NULL);
    CHECK(strstr(err.msg, "s3cret") == NULL);
    CHECK(s == NULL);
    CHECK_ST(am_store_open("postgres://u:s3cret@127.0.0.1:1/db?sslmode=disable",
                           NULL, &s, &err), AM_EIO);
    CHECK(strstr(err.msg, "s3cret") == NULL);
    CHECK_ST(am_store_open("redis://h/0", NULL, &s, &err), AM_EUNSUPPORTED);
    CHECK(strstr(err.msg, "redis://") != NULL);
    CHECK(s == NULL);
    /* "sqlite:<path>" and the bare path are the same SQLite file. */
    snprintf(path, sizeof path, "%s/b.db", dir);
    snprintf(uri, sizeof uri, "sqlite:%s", path);
    CHECK_OK_E(am_store_open(uri, NULL, &s, &err), &err);
    CHECK_OK(put(s, NS1("n"), "k", "\"v\"", 0));
    am_store_close(s);
    CHECK_OK(am_store_open(path, NULL, &s, &err));
    CHECK_OK(am_store_get(s, NS1("n"), AM_STR("k"), &out));
    CHECK_STR_EQ(out.ptr, "\"v\"");
    am_store_close(s);
    am_buf_free(&out);
    test_rmtree(dir);
    free(dir);
}

AM_TEST(open_rejects_garbage_and_newer_schema)
{
    char *dir = test_tmpdir();
    char path[512];
    am_error err = { AM_OK, "" };
    am_store *s = NULL;
    snprintf(path, sizeof path, "%s/garbage.db", dir);
    FILE *fp = fopen(path, "wb");
    for (int i = 0; i < 200; i++)
        fputs("not a database at all ", fp);
    fclose(fp);
    CHECK_ST(am_store_open(path, NULL, &s, &err), AM_EIO);
    CHECK(strstr(err.msg, "garbage.db") != NULL);
    CHECK(s == NULL);
    snprintf(path, sizeof path, "%s/new.db", dir);
    CHECK_OK(am_store_open(path, NULL, &s, &err));
    am_store_close(s);
    /* Pretend a future version wrote the file. */
    {
        char cmd[700];
        snprintf(cmd, sizeof cmd, "sqlite3 '%s' \"UPDATE am_schema SET "
                 "version = 99 WHERE module = 'store'\" 2>/dev/null", path);
        if (system(cmd) == 0) {
            CHECK_ST(am_store_open(path, NULL, &s, &err), AM_EUNSUPPORTED);
            CHECK(strstr(err.msg, "newer") != NULL);
        }
    }
    test_rmtree(dir);
    free(dir);
}

AM_TEST(store_and_tiers_share_one_database_file)
{
    char *dir = test_tmpdir(), path[512];
    am_buf out = AM_BUF_INIT;
    snprintf(path, sizeof path, "%s/shared.db", dir);
    for (int order = 0; order < 2; order++) {
        /* Either module may create the file first. */
        unlink(path);
        am_tiers_opts to = am_tiers_opts_default();
        to.db_path = path;
        to.flush_interval_ms = 0;
        am_tiers *t = NULL;
        am_store *s = NULL;
        if (order == 0)
            CHECK_OK(am_store_open(path, NULL, &s, NULL));
        CHECK_OK(am_tiers_open(&to, &t, NULL));
        if (order == 1)
            CHECK_OK(am_store_open(path, NULL, &s, NULL));
        am_tier_item_in ti = am_tier_item_in_default();
        ti.content = AM_STR("tier content");
        CHECK_OK(am_tiers_store(t, AM_STR("t1"), &ti));
        CHECK_OK(put(s, NS1("n"), "k", "\"store content\"", 0));
        CHECK_OK(am_tiers_close(t, NULL));
        am_store_close(s);
        CHECK_OK(am_store_open(path, NULL, &s, NULL));
        CHECK_OK(am_store_get(s, NS1("n"), AM_STR("k"), &out));
        CHECK_STR_EQ(out.ptr, "\"store content\"");
        CHECK_OK(am_store_check(s));
        am_store_close(s);
        CHECK_OK(am_tiers_open(&to, &t, NULL));
        CHECK_OK(am_tiers_peek(t, AM_STR("t1"), &out, NULL));
        CHECK_MEM_EQ(out.ptr, out.len, "tier content");
        CHECK_OK(am_tiers_close(t, NULL));
    }
    am_buf_free(&out);
    test_rmtree(dir);
    free(dir);
}

/* ---- Durability: SIGKILL a writer mid-stream ---- */

AM_TEST(acknowledged_writes_survive_sigkill)
{
    char *dir = test_tmpdir(), path[512], ack[512];
    snprintf(path, sizeof path, "%s/kill.db", dir);
    snprintf(ack, sizeof ack, "%s/acks", dir);
    int fds[2];
    CHECK(pipe(fds) == 0);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        am_store *s;
        close(fds[0]);
        if (am_store_open(path, NULL, &s, NULL) != AM_OK)
            _exit(3);
        for (int i = 0;; i++) {
            char key[32];
            snprintf(key, sizeof key, "k%d", i);
            am_item_in it = { .ns = NS1("kill"), .key = am_str_c(key),
                              .value = AM_STR("\"payload payload\"") };
            if (am_store_put(s, &it) != AM_OK)
                _exit(4);
            /* Acknowledge only after the put returned. */
            if (write(fds[1], &i, sizeof i) != sizeof i)
                _exit(5);
        }
    }
    close(fds[1]);
    int last = -1, got = 0, v;
    while (got < 300 && read(fds[0], &v, sizeof v) == sizeof v) {
        last = v;
        got++;
    }
    kill(pid, SIGKILL);
    /* Drain acknowledgements already in the pipe. */
    while (read(fds[0], &v, sizeof v) == sizeof v)
        last = v;
    close(fds[0]);
    int status;
    waitpid(pid, &status, 0);
    CHECK(WIFSIGNALED(status));
    CHECK(last >= 299);
    am_store *s;
    am_buf out = AM_BUF_INIT;
    am_store_opts so = am_store_opts_default();
    so.sync_full = 1;
    CHECK_OK(am_store_open(path, &so, &s, NULL));
    CHECK_OK(am_store_check(s));
    for (int i = 0; i <= last; i++) {
        char key[32];
        snprintf(key, sizeof key, "k%d", i);
        CHECK_OK(am_store_get(s, NS1("kill"), am_str_c(key), &out));
    }
    am_buf_free(&out);
    am_store_close(s);
    test_rmtree(dir);
    free(dir);
}
