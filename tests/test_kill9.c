/* test_kill9.c -- kill -9 during writes loses nothing acknowledged: in
 * the store, the tiers and the conversation log.
 *
 * Each run forks a writer that makes one write after another and, only
 * after a write returned AM_OK, acknowledges its number through a pipe.
 * The parent waits for a number of acknowledgements drawn at random (so
 * the kill lands at a different point of a write each time: the writer
 * never pauses), sends SIGKILL, drains the acknowledgements still in the
 * pipe, then opens the file again and looks for every acknowledged write.
 *
 * AM_KILL9_RUNS sets the runs per subject (default 4, to keep the suite
 * quick; docs/RELIABILITY.md records a long run), AM_KILL9_SEED the seed.
 * Each subject prints one line: runs, runs killed mid-stream,
 * acknowledged writes checked, and lost writes (the test fails on any).
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agentmem/conv.h"
#include "agentmem/store.h"
#include "agentmem/tiers.h"
#include "harness.h"

#define NS1(a) ((am_ns){ (const am_str[]){ AM_STR(a) }, 1 })

typedef struct subject {
    const char *name;
    /* The child: open `path`, write 0, 1, 2, ... acknowledging each on
     * `fd`; never returns on its own (it is killed). */
    void (*writer)(const char *path, int fd);
    /* The parent: how many of writes 0..last are missing after reopening
     * `path` (a failure to open or check counts as all of them). */
    long (*missing)(const char *path, int last);
} subject;

static void ack(int fd, int i)
{
    if (write(fd, &i, sizeof i) != (ssize_t)sizeof i)
        _exit(5);
}

/* ---- The store ---- */

static void store_writer(const char *path, int fd)
{
    am_store *s;
    if (am_store_open(path, NULL, &s, NULL) != AM_OK)
        _exit(3);
    for (int i = 0;; i++) {
        char key[32], value[64];
        snprintf(key, sizeof key, "k%d", i);
        snprintf(value, sizeof value, "\"value of item %d\"", i);
        am_item_in it = { .ns = NS1("kill"), .key = am_str_c(key),
                          .value = am_str_c(value) };
        if (am_store_put(s, &it) != AM_OK)
            _exit(4);
        ack(fd, i);
    }
}

static long store_missing(const char *path, int last)
{
    am_store *s;
    am_buf out = AM_BUF_INIT;
    long lost = 0;
    if (am_store_open(path, NULL, &s, NULL) != AM_OK)
        return last + 1;
    if (am_store_check(s) != AM_OK)
        lost = last + 1;
    for (int i = 0; lost == 0 && i <= last; i++) {
        char key[32], want[64];
        snprintf(key, sizeof key, "k%d", i);
        snprintf(want, sizeof want, "\"value of item %d\"", i);
        if (am_store_get(s, NS1("kill"), am_str_c(key), &out) != AM_OK ||
            strcmp(out.ptr, want) != 0) {
            fprintf(stderr, "store: acknowledged k%d is gone\n", i);
            lost++;
        }
    }
    am_buf_free(&out);
    am_store_close(s);
    return lost;
}

/* ---- The tiers (written through, as the CLI does) ---- */

static am_status tiers_open(const char *path, am_tiers **t)
{
    am_tiers_opts o = am_tiers_opts_default();
    o.db_path = path;
    o.flush_interval_ms = 0;
    o.capacity[AM_TIER_WORKING] = 20; /* demotions and moves too */
    return am_tiers_open(&o, t, NULL);
}

static void tiers_writer(const char *path, int fd)
{
    am_tiers *t;
    if (tiers_open(path, &t) != AM_OK)
        _exit(3);
    for (int i = 0;; i++) {
        char id[32], content[64];
        am_tier_item_in in = am_tier_item_in_default();
        snprintf(id, sizeof id, "i%d", i);
        snprintf(content, sizeof content, "content of item %d", i);
        in.content = am_str_c(content);
        if (am_tiers_store(t, am_str_c(id), &in) != AM_OK)
            _exit(4);
        ack(fd, i);
    }
}

static long tiers_missing(const char *path, int last)
{
    am_tiers *t;
    am_buf content = AM_BUF_INIT;
    long lost = 0;
    if (tiers_open(path, &t) != AM_OK)
        return last + 1;
    for (int i = 0; i <= last; i++) {
        char id[32], want[64];
        snprintf(id, sizeof id, "i%d", i);
        snprintf(want, sizeof want, "content of item %d", i);
        if (am_tiers_peek(t, am_str_c(id), &content, NULL) != AM_OK ||
            content.len != strlen(want) ||
            memcmp(content.ptr, want, content.len) != 0) {
            fprintf(stderr, "tiers: acknowledged %s is gone\n", id);
            lost++;
        }
    }
    am_buf_free(&content);
    CHECK_OK(am_tiers_close(t, NULL));
    return lost;
}

/* ---- The conversation log (a persistent agent) ---- */

static am_status conv_open(const char *dir, am_convmgr **m, am_conv **c)
{
    am_convmgr_opts o = am_convmgr_opts_default();
    am_status st;
    o.dir = dir;
    o.default_retention = AM_RETAIN_PERSISTENT;
    st = am_convmgr_open(&o, m, NULL);
    if (st == AM_OK) {
        st = am_convmgr_get(*m, AM_STR("agent"), c);
        if (st != AM_OK)
            am_convmgr_close(*m);
    }
    return st;
}

static void conv_writer(const char *dir, int fd)
{
    am_convmgr *m;
    am_conv *c;
    if (conv_open(dir, &m, &c) != AM_OK)
        _exit(3);
    for (int i = 0;; i++) {
        char text[64];
        snprintf(text, sizeof text, "message %d", i);
        if (am_conv_add_text(c, AM_ROLE_USER, am_str_c(text)) != AM_OK)
            _exit(4);
        ack(fd, i);
    }
}

static long conv_missing(const char *dir, int last)
{
    am_convmgr *m;
    am_conv *c;
    long lost = 0;
    if (conv_open(dir, &m, &c) != AM_OK)
        return last + 1;
    for (int i = 0; i <= last; i++) {
        char want[64];
        am_msg *msg = NULL;
        am_str got = { NULL, 0 };
        snprintf(want, sizeof want, "message %d", i);
        if ((size_t)i < am_conv_count(c) &&
            am_conv_get(c, (size_t)i, &msg) == AM_OK)
            got = am_msg_content_text(msg);
        if (got.len != strlen(want) || memcmp(got.ptr, want, got.len) != 0) {
            fprintf(stderr, "conversation log: acknowledged message %d is "
                    "gone\n", i);
            lost++;
        }
        am_msg_free(msg);
    }
    am_convmgr_close(m);
    return lost;
}

/* ---- The runs ---- */

static long env_long(const char *name, long def)
{
    const char *v = getenv(name);
    char *end;
    long n;
    if (v == NULL || *v == '\0')
        return def;
    n = strtol(v, &end, 10);
    return *end == '\0' && n > 0 ? n : def;
}

static void run_subject(const subject *sj, test_rng *rng)
{
    long runs = env_long("AM_KILL9_RUNS", 4), killed = 0, checked = 0,
         lost = 0;
    char *dir = test_tmpdir();

    for (long r = 0; r < runs; r++) {
        char path[600];
        int fds[2], v, last = -1, status = 0;
        /* 1 to 400 acknowledgements before the kill. */
        int want = 1 + (int)(test_rng_u64(rng) % 400);
        long got = 0;
        pid_t pid;

        snprintf(path, sizeof path, "%s/%s-%ld", dir, sj->name, r);
        CHECK_EQ(pipe(fds), 0);
        pid = fork();
        CHECK(pid >= 0);
        if (pid == 0) {
            close(fds[0]);
            sj->writer(path, fds[1]);
            _exit(6);
        }
        close(fds[1]);
        while (got < want && read(fds[0], &v, sizeof v) == sizeof v) {
            last = v;
            got++;
        }
        kill(pid, SIGKILL);
        while (read(fds[0], &v, sizeof v) == sizeof v)
            last = v;
        close(fds[0]);
        CHECK_EQ(waitpid(pid, &status, 0), pid);
        if (!WIFSIGNALED(status))
            fail_msg("%s run %ld: the writer exited with %d before the "
                     "kill", sj->name, r, WEXITSTATUS(status));
        killed++;
        CHECK(last + 1 >= want);
        checked += last + 1;
        lost += sj->missing(path, last);
    }
    printf("kill9 %s: %ld runs, %ld killed mid-stream, %ld acknowledged "
           "writes checked, %ld lost\n", sj->name, runs, killed, checked,
           lost);
    fflush(stdout);
    CHECK_EQ(lost, 0);
    test_rmtree(dir);
    free(dir);
}

/* The seed, mixed with the subject's name so that each subject is
 * killed at its own points. */
static test_rng seeded(const char *name)
{
    test_rng r = { (uint64_t)env_long("AM_KILL9_SEED", 9) };
    for (; *name != '\0'; name++)
        r.state = r.state * 31 + (unsigned char)*name;
    return r;
}

AM_TEST(kill9_loses_no_acknowledged_store_write)
{
    static const subject sj = { "store", store_writer, store_missing };
    test_rng rng = seeded(sj.name);
    run_subject(&sj, &rng);
}

AM_TEST(kill9_loses_no_acknowledged_tiers_write)
{
    static const subject sj = { "tiers", tiers_writer, tiers_missing };
    test_rng rng = seeded(sj.name);
    run_subject(&sj, &rng);
}

AM_TEST(kill9_loses_no_acknowledged_conversation_log_write)
{
    static const subject sj = { "convlog", conv_writer, conv_missing };
    test_rng rng = seeded(sj.name);
    run_subject(&sj, &rng);
}
