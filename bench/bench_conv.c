/* bench_conv.c -- conversation speed: in-memory appends, file load/save.
 *
 *   bench_conv                 all cases, in one process
 *   bench_conv append [N]      N short messages appended (default 1e6)
 *   bench_conv gen FILE [N]    write an N-message file (default 1e5)
 *   bench_conv load FILE       time am_conv_load of FILE
 *   bench_conv save FILE [N]   build N messages in memory, time the save
 *   bench_conv jansson FILE    for comparison: jansson's json_loadb + dump
 *
 * The run script calls load and save in separate processes under
 * /usr/bin/time -v for their peak RSS. Data is generated from a fixed
 * seed: ~500-byte messages with newlines, quotes, non-ASCII text and a
 * tool call every tenth message, so the file exercises escapes and UTF-8.
 * Prints `name items ns/op` lines plus throughput.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "agentmem/conv.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t rng_state = 0x1234567;

static uint64_t next(void)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static int die(const char *what, am_status st, const am_error *e)
{
    fprintf(stderr, "bench_conv: %s: %s (%s)\n", what, am_status_str(st),
            e != NULL ? e->msg : "");
    return 1;
}

static int bench_append(long n)
{
    am_conv *c = NULL;
    am_conv_opts o = am_conv_opts_default();
    static const char *const texts[] = { "hi", "ok, looking into it",
                                         "done.", "what next?" };
    double t0, dt;
    am_status st;

    if ((st = am_conv_create(&o, &c, NULL)) != AM_OK)
        return die("create", st, NULL);
    t0 = now_s();
    for (long i = 0; i < n; i++) {
        st = am_conv_add_text(c, (i & 1) ? AM_ROLE_ASSISTANT : AM_ROLE_USER,
                              am_str_c(texts[i & 3]));
        if (st != AM_OK)
            return die("add", st, am_conv_last_error(c));
    }
    dt = now_s() - t0;
    printf("conv_append_short %ld %.1f ns/op  (%.2f M msgs/s)\n", n,
           dt * 1e9 / (double)n, (double)n / dt / 1e6);
    am_conv_free(c);
    return 0;
}

static const char *const words[] = {
    "the", "agent", "memory", "tool", "result", "context", "window",
    "token", "summary", "caf\xC3\xA9", "na\xC3\xAFve", "\xE6\x97\xA5\xE6\x9C\xAC",
    "\"quoted\"", "path\\to", "line\n", "value", "search", "answer", "plan",
    "step", "\xF0\x9F\x98\x80", "data", "query", "report"
};

/* Fill the conversation with n generated messages (~500 bytes each). */
static int build(am_conv *c, long n)
{
    char text[1024];
    am_status st;

    for (long i = 0; i < n; i++) {
        size_t len = 0, want = 300 + next() % 200;
        am_msg *m = NULL;
        am_error e = { AM_OK, "" };
        am_role role = i == 0 ? AM_ROLE_SYSTEM
                       : (i % 10 == 2) ? AM_ROLE_TOOL
                       : (i & 1) ? AM_ROLE_ASSISTANT : AM_ROLE_USER;
        while (len < want) {
            const char *w = words[next() % (sizeof words / sizeof *words)];
            size_t wl = strlen(w);
            memcpy(text + len, w, wl);
            len += wl;
            text[len++] = ' ';
        }
        st = am_msg_create_text(NULL, role, (am_str){ text, len }, &m, &e);
        if (st == AM_OK && role == AM_ROLE_TOOL)
            st = am_msg_set_tool_call_id(m, AM_STR("call_abc123"), &e);
        if (st == AM_OK && i % 10 == 1) {
            am_tool_call tc = { AM_STR("call_abc123"), AM_STR("function"),
                                AM_STR("search"),
                                AM_STR("{\"query\":\"agent memory\","
                                       "\"limit\":10}"), AM_STR("") };
            st = am_msg_add_tool_call(m, &tc, &e);
        }
        if (st == AM_OK) {
            st = am_conv_add(c, m);
            if (st != AM_OK)
                e = *am_conv_last_error(c);
        }
        am_msg_free(m);
        if (st != AM_OK)
            return die("build", st, &e);
    }
    return 0;
}

static double file_mb(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 ? (double)sb.st_size / 1e6 : 0;
}

static int bench_gen(const char *path, long n)
{
    am_conv *c = NULL;
    am_status st;
    if ((st = am_conv_create(NULL, &c, NULL)) != AM_OK)
        return die("create", st, NULL);
    if (build(c, n) != 0)
        return 1;
    if ((st = am_conv_save(c, path, AM_FORMAT_AGENTMEM)) != AM_OK)
        return die("save", st, am_conv_last_error(c));
    printf("generated %s: %ld messages, %.1f MB\n", path, n, file_mb(path));
    am_conv_free(c);
    return 0;
}

static int bench_load(const char *path)
{
    am_conv *c = NULL;
    double t0, dt, mb = file_mb(path);
    am_status st;

    if ((st = am_conv_create(NULL, &c, NULL)) != AM_OK)
        return die("create", st, NULL);
    t0 = now_s();
    if ((st = am_conv_load(c, path, AM_FORMAT_AGENTMEM)) != AM_OK)
        return die("load", st, am_conv_last_error(c));
    dt = now_s() - t0;
    printf("conv_load %zu %.0f ns/op  (%.3f s, %.1f MB, %.0f MB/s)\n",
           am_conv_count(c), dt * 1e9 / (double)am_conv_count(c), dt, mb,
           mb / dt);
    am_conv_free(c);
    return 0;
}

static int bench_save(const char *path, long n)
{
    am_conv *c = NULL;
    double t0, dt, mb;
    am_status st;

    if ((st = am_conv_create(NULL, &c, NULL)) != AM_OK)
        return die("create", st, NULL);
    if (build(c, n) != 0)
        return 1;
    t0 = now_s();
    if ((st = am_conv_save(c, path, AM_FORMAT_AGENTMEM)) != AM_OK)
        return die("save", st, am_conv_last_error(c));
    dt = now_s() - t0;
    mb = file_mb(path);
    printf("conv_save %ld %.0f ns/op  (%.3f s, %.1f MB, %.0f MB/s)\n", n,
           dt * 1e9 / (double)n, dt, mb, mb / dt);
    am_conv_free(c);
    return 0;
}

/* The general-purpose DOM parser on the same file, for the record: the
 * reason the conversation path has its own scanner and writer. */
static int bench_jansson(const char *path)
{
    json_error_t je;
    json_t *v;
    double t0, dt, mb = file_mb(path);
    char *text;

    t0 = now_s();
    v = json_load_file(path, 0, &je);
    dt = now_s() - t0;
    if (v == NULL) {
        fprintf(stderr, "jansson: %s\n", je.text);
        return 1;
    }
    printf("jansson_load %zu %.0f ns/op  (%.3f s, %.1f MB, %.0f MB/s)\n",
           json_array_size(v), dt * 1e9 / (double)json_array_size(v), dt,
           mb, mb / dt);
    t0 = now_s();
    text = json_dumps(v, JSON_COMPACT);
    dt = now_s() - t0;
    printf("jansson_dump %zu %.0f ns/op  (%.3f s, %.0f MB/s)\n",
           json_array_size(v), dt * 1e9 / (double)json_array_size(v), dt,
           mb / dt);
    free(text);
    json_decref(v);
    return 0;
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "all";

    if (strcmp(mode, "append") == 0)
        return bench_append(argc > 2 ? atol(argv[2]) : 1000000);
    if (strcmp(mode, "gen") == 0 && argc > 2)
        return bench_gen(argv[2], argc > 3 ? atol(argv[3]) : 100000);
    if (strcmp(mode, "load") == 0 && argc > 2)
        return bench_load(argv[2]);
    if (strcmp(mode, "save") == 0 && argc > 2)
        return bench_save(argv[2], argc > 3 ? atol(argv[3]) : 100000);
    if (strcmp(mode, "jansson") == 0 && argc > 2)
        return bench_jansson(argv[2]);
    if (strcmp(mode, "all") == 0) {
        char path[] = "/tmp/bench_conv.XXXXXX";
        int fd = mkstemp(path), rc;
        if (fd < 0)
            return 1;
        close(fd);
        rc = bench_append(1000000) || bench_gen(path, 100000) ||
             bench_load(path) || bench_save(path, 100000);
        unlink(path);
        return rc;
    }
    fprintf(stderr, "usage: bench_conv [append [N] | gen FILE [N] | "
                    "load FILE | save FILE [N] | jansson FILE]\n");
    return 2;
}
