/* bench_py_peer.c -- the C side of bench/python: the calls the Python
 * benchmark makes, made from C on the same inputs, so that the Python
 * figures can be read as "C plus the binding's cost".
 *
 *   bench_py_peer TEXT_FILE MESSAGES_JSON
 *
 * Prints `name value unit` lines:
 *   c_count_short   ns per am_tokenizer_count("hello world"), gpt-4o
 *   c_count_1mb     ms to count TEXT_FILE (about 1 MB), gpt-4o
 *   c_trim_10k      ms per am_trim of MESSAGES_JSON (OpenAI format) to
 *                   8,000 tokens, strategy last, the default estimate --
 *                   what agentmem.context.trim_messages(strategy="token",
 *                   max_tokens=8000) asks for.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agentmem/agentmem.h"

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *p = n >= 0 ? malloc((size_t)n + 1) : NULL;
    if (p && fread(p, 1, (size_t)n, f) != (size_t)n) {
        free(p);
        p = NULL;
    }
    fclose(f);
    if (p) {
        p[n] = '\0';
        *len = (size_t)n;
    }
    return p;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: bench_py_peer TEXT_FILE MESSAGES_JSON\n");
        return 2;
    }
    am_error err = { AM_OK, "" };
    am_tokenizer *tz = NULL;
    if (am_tokenizer_create((am_str){"gpt-4o", 6}, NULL, &tz, &err) != AM_OK) {
        fprintf(stderr, "tokenizer: %s\n", err.msg);
        return 1;
    }
    size_t n = 0, sink = 0;
    const int reps = 2000000;
    double t0 = now_ns();
    for (int i = 0; i < reps; i++) {
        am_tokenizer_count(tz, (am_str){"hello world", 11}, NULL, &n, &err);
        sink += n;
    }
    printf("c_count_short %.1f ns\n", (now_ns() - t0) / reps);

    size_t len = 0;
    char *text = slurp(argv[1], &len);
    if (!text) {
        fprintf(stderr, "cannot read %s\n", argv[1]);
        return 1;
    }
    double best = 1e300;
    for (int r = 0; r < 5; r++) {
        t0 = now_ns();
        am_tokenizer_count(tz, (am_str){text, len}, NULL, &n, &err);
        double dt = now_ns() - t0;
        if (dt < best)
            best = dt;
    }
    printf("c_count_1mb %.2f ms (%zu bytes, %zu tokens)\n", best / 1e6, len,
           n);
    free(text);

    char *json = slurp(argv[2], &len);
    am_msg_list msgs = AM_MSG_LIST_INIT;
    if (!json || am_msgs_from_json(NULL, AM_FORMAT_OPENAI, (am_str){json, len},
                                   &msgs, &err) != AM_OK) {
        fprintf(stderr, "messages: %s\n", json ? err.msg : "unreadable");
        return 1;
    }
    free(json);
    am_trim_opts o = am_trim_opts_default();
    o.strategy = AM_TRIM_TOKENS;
    o.max_tokens = 8000;
    am_trim_result res = AM_TRIM_RESULT_INIT;
    best = 1e300;
    for (int r = 0; r < 20; r++) {
        t0 = now_ns();
        if (am_trim(am_msg_list_items(&msgs), msgs.count, &o, &res, &err) !=
            AM_OK) {
            fprintf(stderr, "trim: %s\n", err.msg);
            return 1;
        }
        double dt = now_ns() - t0;
        if (dt < best)
            best = dt;
    }
    printf("c_trim_10k %.3f ms (%zu messages -> %zu)\n", best / 1e6,
           msgs.count, res.messages.count);
    am_trim_result_free(&res);
    am_msg_list_free(&msgs);
    am_tokenizer_free(tz);
    return sink == 0;
}
