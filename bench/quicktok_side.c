/* quicktok_side.c -- agentmem's token counting beside quicktok's, in one
 * process: a side-by-side check, not part of the build.
 *
 * usage: quicktok_side CORPUS_DIR QUICKTOK_DATA_DIR [SECONDS [KINDS]]
 *
 * quicktok (github.com/dmatth1/quicktok, C++20, MIT) is the fastest exact
 * tiktoken-compatible tokenizer we know. It is in neither Debian nor npm,
 * so it cannot be a dependency of the benchmark: bench/run_quicktok.sh
 * compiles this file against a local build of it (its C ABI, quicktok.h)
 * when one is given, and against nothing else. Only public calls of
 * either library are used.
 *
 * For cl100k_base and o200k_base and each section of CORPUS_DIR
 * (bench/tokens_corpus.js: prose, code, js, json, multilingual, emoji),
 * five kinds of case:
 *   whole     one count call over the whole section, the default path
 *             (the encoding's piece memo on, no caller's cache);
 *   msg       the section cut into pieces of about 1,000 bytes at line
 *             ends, the same cut as bench_tokens.c and tokens_peers.js
 *             (msg_end()), one count call per piece, the default path;
 *   wholecold, msgcold  the same with an encoding opened with
 *             AM_ENCODING_NO_MEMO: every call starts cold, as every call
 *             without a caller's cache did before the memo;
 *   msgfirst  the msg pieces counted once, in one pass, by an encoding
 *             and a quicktok tokenizer both freshly loaded for the round
 *             (their memos empty): a stream of messages never seen
 *             before, where neither library has learned anything yet;
 *   msgcache  the msg pieces with an am_token_cache (default size) kept
 *             across all calls and rounds. quicktok keeps a memo of its
 *             pair checks inside the tokenizer, filled by every call and
 *             shared by all of them (its src/bpe.hpp: a `mutable` table
 *             written with relaxed stores); our encoding holds no such
 *             state, and the caller's token cache is its counterpart, so
 *             this kind compares both with memory across calls (the
 *             default path has the encoding's own memo since).
 * Before timing, every piece of every case is encoded by both libraries
 * and the ids compared; any difference stops the run with the piece's
 * offset. A round counts the case repeatedly for SECONDS (default 0.3) of
 * this thread's CPU time; the two libraries take turns, three rounds each,
 * and the best round of each is printed:
 *   side/<encoding>/<section>/<kind> <bytes> am <MB/s> qt <MB/s> <ratio>x
 *   <tokens> tokens
 * KINDS, a comma-separated list (default "whole,msg"), limits the run.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agentmem/tokens.h"
#include "quicktok.h"

static const char *sections[] = { "prose", "code", "js", "json",
                                  "multilingual", "emoji" };
#define NSECTIONS (sizeof sections / sizeof sections[0])
static const char *encodings[] = { "cl100k_base", "o200k_base" };

typedef struct piece {
    const char *ptr;
    size_t len;
} piece;

static int64_t thread_cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static char *read_all(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    char *buf = NULL;
    long n;

    if (fp == NULL || fseek(fp, 0, SEEK_END) != 0 || (n = ftell(fp)) < 0 ||
        fseek(fp, 0, SEEK_SET) != 0 || (buf = malloc((size_t)n + 1)) == NULL ||
        fread(buf, 1, (size_t)n, fp) != (size_t)n) {
        fprintf(stderr, "cannot read '%s'\n", path);
        exit(1);
    }
    fclose(fp);
    *len = (size_t)n;
    return buf;
}

/* The end of the message-sized piece that starts at s[at]; the same rule
 * as msg_end() in bench_tokens.c. */
static size_t msg_end(const char *s, size_t len, size_t at)
{
    size_t end;

    if (len - at <= 1000)
        return len;
    for (end = at + 1000; end > at + 500; end--)
        if (s[end - 1] == '\n')
            return end;
    for (end = at + 1000; end < at + 1500 && end < len; end++)
        if (s[end] == '\n')
            return end + 1;
    end = at + 1000;
    while (end > at + 1 && ((unsigned char)s[end] & 0xC0) == 0x80)
        end--;
    return end;
}

/* The same ids from both, for every piece (ours with `opts`); exits on
 * the first difference. Returns the total token count. */
static size_t check_same(const am_encoding *enc, const am_encode_opts *opts,
                         const qt_tokenizer *qt, const piece *p, size_t n,
                         const char *what)
{
    am_tokens toks = AM_TOKENS_INIT;
    size_t total = 0;

    for (size_t i = 0; i < n; i++) {
        uint32_t *ids = NULL;
        size_t count = 0;
        toks.count = 0;
        if (am_encoding_encode(enc, (am_str){ p[i].ptr, p[i].len }, opts,
                               &toks, NULL) != AM_OK ||
            qt_encode(qt, p[i].ptr, p[i].len, &ids, &count) != 0) {
            fprintf(stderr, "%s: encoding piece %zu failed\n", what, i);
            exit(1);
        }
        if (count != toks.count ||
            memcmp(ids, toks.ids, count * sizeof *ids) != 0) {
            size_t k = 0;
            while (k < count && k < toks.count && ids[k] == toks.ids[k])
                k++;
            fprintf(stderr, "%s: piece %zu (%zu bytes) differs at token %zu:"
                    " %zu tokens (agentmem) vs %zu (quicktok)\n", what, i,
                    p[i].len, k, toks.count, count);
            exit(1);
        }
        qt_ids_free(ids);
        total += count;
    }
    am_tokens_free(&toks);
    return total;
}

/* One round: count all pieces repeatedly for `secs` of CPU time. Returns
 * MB/s. */
static double round_am(const am_encoding *enc, const am_encode_opts *opts,
                       const piece *p, size_t n, size_t bytes, double secs)
{
    int64_t c0 = thread_cpu_ns(), cpu;
    long reps = 0;

    do {
        for (size_t i = 0; i < n; i++) {
            size_t count = 0;
            if (am_encoding_count(enc, (am_str){ p[i].ptr, p[i].len }, opts,
                                  &count, NULL) != AM_OK)
                exit(1);
        }
        reps++;
        cpu = thread_cpu_ns() - c0;
    } while (cpu < (int64_t)(secs * 1e9));
    return (double)bytes * (double)reps / (double)cpu * 1e3;
}

static double round_qt(const qt_tokenizer *qt, const piece *p, size_t n,
                       size_t bytes, double secs)
{
    int64_t c0 = thread_cpu_ns(), cpu;
    long reps = 0;

    do {
        for (size_t i = 0; i < n; i++)
            if (qt_count(qt, p[i].ptr, p[i].len) == (size_t)-1)
                exit(1);
        reps++;
        cpu = thread_cpu_ns() - c0;
    } while (cpu < (int64_t)(secs * 1e9));
    return (double)bytes * (double)reps / (double)cpu * 1e3;
}

/* One pass over all pieces with a freshly created encoding (its piece
 * memo empty), timed alone: the first time a stream of messages is seen.
 * Returns MB/s. */
static double first_am(const char *name, const piece *p, size_t n,
                       size_t bytes)
{
    am_encoding *e = NULL;
    int64_t c0, cpu;

    if (am_encoding_create(name, NULL, &e, NULL) != AM_OK)
        exit(1);
    c0 = thread_cpu_ns();
    for (size_t i = 0; i < n; i++) {
        size_t count = 0;
        if (am_encoding_count(e, (am_str){ p[i].ptr, p[i].len }, NULL, &count,
                              NULL) != AM_OK)
            exit(1);
    }
    cpu = thread_cpu_ns() - c0;
    am_encoding_free(e);
    return (double)bytes / (double)cpu * 1e3;
}

/* first_am for quicktok: a freshly loaded tokenizer, its memo empty. */
static double first_qt(const char *dir, const char *name, const piece *p,
                       size_t n, size_t bytes)
{
    char errbuf[256];
    qt_tokenizer *t = qt_load_dir(dir, name, errbuf, sizeof errbuf);
    int64_t c0, cpu;

    if (t == NULL) {
        fprintf(stderr, "quicktok: %s\n", errbuf);
        exit(1);
    }
    c0 = thread_cpu_ns();
    for (size_t i = 0; i < n; i++)
        if (qt_count(t, p[i].ptr, p[i].len) == (size_t)-1)
            exit(1);
    cpu = thread_cpu_ns() - c0;
    qt_tokenizer_free(t);
    return (double)bytes / (double)cpu * 1e3;
}

/* Whether the comma-separated list `kinds` names `kind`. */
static bool has_kind(const char *kinds, const char *kind)
{
    size_t n = strlen(kind);

    for (const char *k = kinds; *k != '\0';) {
        size_t len = strcspn(k, ",");
        if (len == n && strncmp(k, kind, n) == 0)
            return true;
        k += len + (k[len] == ',');
    }
    return false;
}

int main(int argc, char **argv)
{
    static const char *const knames[] = { "whole", "msg", "msgcache",
                                          "wholecold", "msgcold",
                                          "msgfirst" };
    double secs = argc > 3 ? atof(argv[3]) : 0.3;
    const char *kinds = argc > 4 ? argv[4] : "whole,msg";
    char *text[NSECTIONS];
    size_t text_len[NSECTIONS];
    char path[4096], errbuf[256];
    piece *p = NULL;
    size_t cap = 0;

    if (argc < 3) {
        fprintf(stderr, "usage: quicktok_side CORPUS_DIR QUICKTOK_DATA_DIR "
                "[SECONDS [KINDS]]\n");
        return 2;
    }
    for (size_t s = 0; s < NSECTIONS; s++) {
        snprintf(path, sizeof path, "%s/%s.txt", argv[1], sections[s]);
        text[s] = read_all(path, &text_len[s]);
    }
    for (int e = 0; e < 2; e++) {
        am_encoding *enc = NULL, *cold = NULL;
        am_encoding_opts co = am_encoding_opts_default();
        am_token_cache *cache = NULL;
        am_encode_opts cached = { 0, NULL, 0, NULL };
        am_error err = { AM_OK, "" };
        qt_tokenizer *qt = qt_load_dir(argv[2], encodings[e], errbuf,
                                       sizeof errbuf);
        if (qt == NULL) {
            fprintf(stderr, "quicktok: %s\n", errbuf);
            return 1;
        }
        if (am_encoding_create(encodings[e], NULL, &enc, &err) != AM_OK) {
            fprintf(stderr, "agentmem: %s\n", err.msg);
            return 1;
        }
        co.flags = AM_ENCODING_NO_MEMO;
        if (am_encoding_create(encodings[e], &co, &cold, &err) != AM_OK) {
            fprintf(stderr, "agentmem: %s\n", err.msg);
            return 1;
        }
        if (am_token_cache_create(enc, NULL, &cache, &err) != AM_OK) {
            fprintf(stderr, "agentmem: %s\n", err.msg);
            return 1;
        }
        cached.cache = cache;
        for (int kind = 0; kind < 6; kind++) {
            const char *kname = knames[kind];
            const am_encode_opts *opts = kind == 2 ? &cached : NULL;
            const am_encoding *ke = kind >= 3 ? cold : enc;
            bool whole = kind == 0 || kind == 3;
            if (!has_kind(kinds, kname))
                continue;
            for (size_t s = 0; s < NSECTIONS; s++) {
                size_t n = 0, tokens;
                double best_am = 0, best_qt = 0;
                char what[128];

                for (size_t at = 0, end; at < text_len[s]; at = end) {
                    end = whole ? text_len[s]
                                    : msg_end(text[s], text_len[s], at);
                    if (n == cap) {
                        cap = cap ? 2 * cap : 1024;
                        p = realloc(p, cap * sizeof *p);
                        if (p == NULL)
                            return 1;
                    }
                    p[n++] = (piece){ text[s] + at, end - at };
                }
                snprintf(what, sizeof what, "%s/%s/%s", encodings[e],
                         sections[s], kname);
                tokens = check_same(ke, opts, qt, p, n, what);
                for (int r = 0; r < 3; r++) {
                    double a = kind == 5
                                   ? first_am(encodings[e], p, n, text_len[s])
                                   : round_am(ke, opts, p, n, text_len[s],
                                              secs);
                    double q = kind == 5 ? first_qt(argv[2], encodings[e], p,
                                                    n, text_len[s])
                                         : round_qt(qt, p, n, text_len[s],
                                                    secs);
                    best_am = a > best_am ? a : best_am;
                    best_qt = q > best_qt ? q : best_qt;
                }
                printf("side/%s %zu am %.1f MB/s qt %.1f MB/s %.2fx %zu "
                       "tokens\n", what, text_len[s], best_am, best_qt,
                       best_am / best_qt, tokens);
                fflush(stdout);
            }
        }
        am_token_cache_free(cache);
        am_encoding_free(enc);
        am_encoding_free(cold);
        qt_tokenizer_free(qt);
    }
    free(p);
    for (size_t s = 0; s < NSECTIONS; s++)
        free(text[s]);
    return 0;
}
