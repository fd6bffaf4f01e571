/* bench_tokens.c -- token counting speed, load time and memory.
 *
 * usage: bench_tokens CORPUS_DIR [SECONDS_PER_CASE [KINDS]]
 *
 * CORPUS_DIR holds prose.txt, code.txt, js.txt, json.txt, multilingual.txt
 * and emoji.txt (bench/tokens_corpus.js writes them). For cl100k_base and
 * o200k_base and each section, counts the tokens of the whole section
 * repeatedly for about SECONDS_PER_CASE (default 0.5) of CPU time on 1
 * thread, then on 2 threads sharing the one encoding, and prints
 *   count/<encoding>/<section>/t<threads> <bytes> ns/op MB/s tokens
 * (these, and the batches below, with the encoding's piece memo off, so
 * that 1 and 2 threads do the same work). Then message-sized calls: the
 * section cut into pieces of about 1,000 bytes at line ends (msg_end();
 * bench/tokens_peers.js cuts the same way), one count call per piece on
 * the default path (no caller's cache; the encoding's piece memo on, as
 * agents count), 1 thread:
 *   msg/<encoding>/<section>/t1 <bytes> ns/op MB/s tokens
 * (ns/op for the whole section, tokens summed over its pieces).
 * Then batches: the message-sized pieces of every section (one text each)
 * counted by one am_encoding_count_batch call on 1 and on 2 threads,
 * rounds alternating, best wall time of the repetitions, and the process's
 * CPU time (see bench_batch):
 *   batch/<encoding>/all/t<threads> <bytes> ns/op MB/s (wall) ... speed-up
 *   batch/<encoding>/speed-up best ..., pairs of rounds: median ...
 * and the same batch over tables built in allocated memory, the slot table
 * in 2 MB pages (batchbuilt/...), and on the default path, the piece memo
 * on (batchmemo/...; see main). Before them, the machine's own
 * scaling in the same shape, with no library code (see bench_machine):
 *   machine/<alu|rand|rand-2MB-pages>/speed-up best ..., ... per CPU-second
 * KINDS (default all) limits the run to the kinds of case it names, any of
 * whole, t2, cache, msg, batch, short and load, e.g. "msg" for quick A/B
 * runs.
 * Then the load time of each encoding (best and median of 9 opens, wall
 * and CPU time), the bytes it holds (a counting allocator), what one open
 * encoding adds to the resident set (its tables mapped from the binary
 * cache are not allocated) and the process's peak RSS, and the time
 * to count a 1 MB single-letter word. Between them, for o200k_base, short
 * messages (100, 300, 500 bytes of prose and multilingual text, one call
 * each): short/<encoding>/<section>/<size>B msgs ns/msg MB/s tokens/msg.
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "agentmem/tokens.h"
#include "core/core.h"

static const char *sections[] = { "prose", "code", "js", "json",
                                  "multilingual", "emoji" };
#define NSECTIONS (sizeof sections / sizeof sections[0])
static const char *encodings[] = { "cl100k_base", "o200k_base" };

typedef struct job {
    const am_encoding *enc;
    am_token_cache *cache; /* NULL, or this thread's cache */
    am_str text;
    double secs;
    long reps;
    size_t tokens;
    int64_t cpu_ns; /* this thread's CPU time */
} job;

static int64_t thread_cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Count the text until the thread has used `secs` of CPU time: CPU time,
 * not wall time, so that other load on the machine does not count. */
static void *run_job(void *arg)
{
    job *j = arg;
    int64_t c0 = thread_cpu_ns();
    do {
        size_t n = 0;
        am_encode_opts o = { 0, NULL, 0, j->cache };
        if (am_encoding_count(j->enc, j->text, &o, &n, NULL) != AM_OK) {
            fprintf(stderr, "count failed\n");
            exit(1);
        }
        j->tokens = n;
        j->reps++;
        j->cpu_ns = thread_cpu_ns() - c0;
    } while (j->cpu_ns < (int64_t)(j->secs * 1e9));
    return NULL;
}

static void bench_count(const am_encoding *enc, const char *sec, am_str text,
                        double secs, int threads, bool cached)
{
    job jobs[2];
    pthread_t tids[2];
    int64_t t0 = am__mono_ns(), wall;
    long reps = 0;
    double cpu_mbs = 0;

    for (int i = 0; i < threads; i++) {
        memset(&jobs[i], 0, sizeof jobs[i]);
        jobs[i].enc = enc;
        jobs[i].text = text;
        jobs[i].secs = secs;
        if (cached && am_token_cache_create(enc, NULL, &jobs[i].cache,
                                            NULL) != AM_OK)
            exit(1);
        pthread_create(&tids[i], NULL, run_job, &jobs[i]);
    }
    for (int i = 0; i < threads; i++) {
        pthread_join(tids[i], NULL);
        am_token_cache_free(jobs[i].cache);
        reps += jobs[i].reps;
        cpu_mbs += (double)text.len * (double)jobs[i].reps /
                   (double)jobs[i].cpu_ns * 1e3;
    }
    wall = am__mono_ns() - t0;
    /* One thread: ns/op and MB/s from its CPU time. Two threads: MB/s is
     * the sum of both threads' CPU-time rates (what the threads deliver
     * when each has a core), and the wall-clock rate beside it (which
     * depends on what else the machine runs). */
    double ns = (double)jobs[0].cpu_ns / (double)jobs[0].reps;
    if (threads == 1)
        printf("%s/%s/%s/t1 %zu %.0f ns/op %.1f MB/s %zu tokens\n",
               cached ? "countc" : "count", am_encoding_name(enc), sec,
               text.len, ns,
               (double)text.len / ns * 1e3, jobs[0].tokens);
    else
        printf("%s/%s/%s/t%d %zu %.0f ns/op %.1f MB/s (wall %.1f MB/s) "
               "%zu tokens\n", cached ? "countc" : "count",
               am_encoding_name(enc), sec, threads,
               text.len, ns, cpu_mbs,
               (double)text.len * (double)reps / (double)wall * 1e3,
               jobs[0].tokens);
}

/* Short messages, the way an agent's memory manager counts each message
 * as it is added: the section cut into `size`-byte slices (each ending on
 * a UTF-8 boundary), each counted by its own call, no cache kept across
 * calls. Prints ns per message and MB/s, from CPU time. */
static void bench_short(const am_encoding *enc, const char *sec, am_str text,
                        size_t size, double secs)
{
    int64_t c0 = thread_cpu_ns(), cpu;
    size_t msgs = 0, bytes = 0, tokens = 0, at = 0;

    do {
        for (int k = 0; k < 256; k++) {
            size_t n = size, count = 0;
            if (at + n > text.len)
                at = 0;
            while (n > 1 && at + n < text.len &&
                   ((uint8_t)text.ptr[at + n] & 0xC0) == 0x80)
                n--;
            if (am_encoding_count(enc, (am_str){ text.ptr + at, n }, NULL,
                                  &count, NULL) != AM_OK)
                exit(1);
            at += n;
            msgs++;
            bytes += n;
            tokens += count;
        }
        cpu = thread_cpu_ns() - c0;
    } while (cpu < (int64_t)(secs * 1e9));
    printf("short/%s/%s/%zuB %zu %.0f ns/msg %.1f MB/s %.1f tokens/msg\n",
           am_encoding_name(enc), sec, size, msgs, (double)cpu / msgs,
           (double)bytes / (double)cpu * 1e3, (double)tokens / msgs);
}

/* The end of the message-sized piece that starts at s[at]: after the last
 * newline in [at + 500, at + 1000), else after the first one in
 * [at + 1000, at + 1500), else at at + 1000 moved back to a UTF-8
 * character boundary. The whole rest when it is 1,000 bytes or less. */
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
    while (end > at + 1 && ((uint8_t)s[end] & 0xC0) == 0x80)
        end--;
    return end;
}

/* Message-sized calls over the whole section, no cache across calls. */
static void bench_msg(const am_encoding *enc, const char *sec, am_str text,
                      double secs)
{
    int64_t c0 = thread_cpu_ns(), cpu;
    size_t tokens = 0;
    long reps = 0;

    do {
        tokens = 0;
        for (size_t at = 0, end; at < text.len; at = end) {
            size_t n = 0;
            end = msg_end(text.ptr, text.len, at);
            if (am_encoding_count(enc, (am_str){ text.ptr + at, end - at },
                                  NULL, &n, NULL) != AM_OK)
                exit(1);
            tokens += n;
        }
        reps++;
        cpu = thread_cpu_ns() - c0;
    } while (cpu < (int64_t)(secs * 1e9));
    printf("msg/%s/%s/t1 %zu %.0f ns/op %.1f MB/s %zu tokens\n",
           am_encoding_name(enc), sec, text.len, (double)cpu / reps,
           (double)text.len * reps / (double)cpu * 1e3, tokens);
}

static int64_t process_cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* The message-sized pieces of all sections as one batch, on 1 and 2
 * threads. Wall time is what a batch is for; best of the repetitions,
 * since other load on the machine only ever adds to it. The 1- and
 * 2-thread rounds alternate, so that a change in the machine's load
 * during the run falls on both alike (run one after the other, a busy
 * spell during either moved the speed-up between 1.6x and 2.4x); the
 * median speed-up of the pairs of rounds is printed beside the ratio of
 * the bests. "busy" is the process's CPU time over wall time x threads
 * in those rounds: below 1, a thread waited (for a core, or for the
 * other thread at the end of the batch). */
static int cmp_dbl(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int64_t run_batch_once(const am_encoding *enc, const am_str *t,
                              size_t n, size_t threads, size_t *counts,
                              int64_t *cpu)
{
    int64_t a = am__mono_ns(), c = process_cpu_ns();
    if (am_encoding_count_batch(enc, t, n, NULL, threads, counts, NULL) !=
        AM_OK)
        exit(1);
    *cpu += process_cpu_ns() - c;
    return am__mono_ns() - a;
}

#define BATCH_PAIRS_MAX 200

static void bench_batch(const am_encoding *enc, const char *label,
                        const am_buf *text, size_t nsec, double secs)
{
    am_str *t = NULL;
    size_t *counts = NULL, n = 0, cap = 0, bytes = 0, tokens[3] = { 0 };
    int64_t best[3] = { 0, INT64_MAX, INT64_MAX }, wall[3] = { 0 };
    int64_t cpu[3] = { 0 }, w0;
    double ratio[BATCH_PAIRS_MAX];
    long pairs = 0;

    for (size_t s = 0; s < nsec; s++)
        for (size_t at = 0, end; at < text[s].len; at = end) {
            end = msg_end(text[s].ptr, text[s].len, at);
            if (n == cap) {
                cap = cap ? 2 * cap : 1024;
                t = realloc(t, cap * sizeof *t);
                if (t == NULL)
                    exit(1);
            }
            t[n++] = (am_str){ text[s].ptr + at, end - at };
            bytes += end - at;
        }
    counts = malloc(n * sizeof *counts);
    if (counts == NULL)
        exit(1);
    w0 = am__mono_ns();
    do {
        int64_t d[3];
        for (size_t threads = 1; threads <= 2; threads++) {
            d[threads] = run_batch_once(enc, t, n, threads, counts,
                                        &cpu[threads]);
            wall[threads] += d[threads];
            if (d[threads] < best[threads])
                best[threads] = d[threads];
            tokens[threads] = 0;
            for (size_t i = 0; i < n; i++)
                tokens[threads] += counts[i];
        }
        ratio[pairs++] = (double)d[1] / (double)d[2];
    } while (pairs < BATCH_PAIRS_MAX &&
             (pairs < 3 || am__mono_ns() - w0 < (int64_t)(secs * 3e9)));
    qsort(ratio, (size_t)pairs, sizeof ratio[0], cmp_dbl);
    for (size_t threads = 1; threads <= 2; threads++)
        printf("%s/%s/all/t%zu %zu %.0f ns/op %.1f MB/s (best wall of "
               "%ld) %.1f MB/s (CPU) busy %.2f %zu texts %zu tokens "
               "speed-up %.2fx\n",
               label, am_encoding_name(enc), threads, bytes,
               (double)best[threads],
               (double)bytes / (double)best[threads] * 1e3, pairs,
               (double)bytes * pairs / (double)cpu[threads] * 1e3,
               (double)cpu[threads] / ((double)wall[threads] * threads),
               n, tokens[threads], (double)best[1] / (double)best[threads]);
    printf("%s/%s/speed-up best %.2fx, pairs of rounds: median %.2fx "
           "(min %.2fx, max %.2fx, %ld pairs)\n", label,
           am_encoding_name(enc),
           (double)best[1] / (double)best[2], ratio[pairs / 2], ratio[0],
           ratio[pairs - 1], pairs);
    free(counts);
    free(t);
}

/* ---- The machine's own 2-core scaling, beside the batches ----
 *
 * The batches run the same instructions on 1 and 2 threads (callgrind:
 * 508.49 M and 508.47 M for a cl100k_base batch) and fault no pages, yet
 * each core did 3.5-7.5% less per CPU-second with both busy. Whether any
 * program does so on this VM is measured here with two loops of no
 * library code, in the batch's shape (fixed work, on 1 thread, or split in
 * two halves, one on a thread started and joined per round, rounds
 * alternating): "alu" is register arithmetic only; "rand" is 8
 * independent streams of random 4-byte reads from one 8 MB table shared by
 * both threads (4 KB pages), as the merge loop reads the rank table. If
 * these scale by about as much as the batches, the rest is the machine. */
typedef struct mach_job {
    int kind; /* 0: alu, 1: rand */
    uint64_t n, seed, out;
    const uint32_t *tab;
    size_t mask;
} mach_job;

static void *mach_run(void *arg)
{
    mach_job *j = arg;
    uint64_t s[8], acc = 0;

    for (int k = 0; k < 8; k++)
        s[k] = j->seed * (uint64_t)(k + 7) + (uint64_t)k + 1;
    for (uint64_t i = 0; i < j->n; i++)
        for (int k = 0; k < 8; k++) {
            s[k] = s[k] * 6364136223846793005ULL + 1442695040888963407ULL;
            if (j->kind == 1)
                acc += j->tab[(s[k] >> 33) & j->mask];
            else
                acc += s[k] >> 60;
        }
    j->out = acc;
    return NULL;
}

/* One round: n steps on 1 thread, or n / 2 on each of 2; wall ns. */
static int64_t mach_round(mach_job *tmpl, uint64_t n, int threads,
                          int64_t *cpu)
{
    mach_job j[2] = { *tmpl, *tmpl };
    pthread_t tid;
    int64_t a = am__mono_ns(), c = process_cpu_ns();

    j[0].n = threads == 1 ? n : n / 2;
    j[1].n = n - j[0].n;
    j[1].seed = tmpl->seed + 1000;
    if (threads == 2 && pthread_create(&tid, NULL, mach_run, &j[1]) != 0)
        exit(1);
    mach_run(&j[0]);
    if (threads == 2)
        pthread_join(tid, NULL);
    *cpu += process_cpu_ns() - c;
    if (j[0].out == 42 && j[1].out == 42) /* keeps the loops */
        printf(" ");
    return am__mono_ns() - a;
}

static void bench_machine(double secs)
{
    static const char *names[3] = { "alu", "rand", "rand-2MB-pages" };
    size_t words = (size_t)8 << 20 >> 2, bytes = words * sizeof(uint32_t);
    uint32_t *tab = malloc(bytes), *huge = NULL;

    if (tab == NULL || posix_memalign((void **)&huge, (size_t)2 << 20,
                                      bytes) != 0)
        exit(1);
#ifdef MADV_HUGEPAGE
    (void)madvise(huge, bytes, MADV_HUGEPAGE);
#endif
    for (size_t i = 0; i < words; i++)
        tab[i] = huge[i] = (uint32_t)(i * 2654435761u);
    for (int kind = 0; kind < 3; kind++) {
        mach_job t = { kind > 0, 0, 1, 0, kind == 2 ? huge : tab,
                       words - 1 };
        int64_t best[3] = { 0, INT64_MAX, INT64_MAX }, cpu[3] = { 0 };
        int64_t d[3], w0, c = 0;
        double ratio[BATCH_PAIRS_MAX];
        uint64_t n = 1 << 16;
        long pairs = 0;

        /* Work of about 40 ms on one thread, as a batch of the corpus. */
        while (mach_round(&t, n, 1, &c) < 40000000 &&
               n < ((uint64_t)1 << 40))
            n *= 2;
        w0 = am__mono_ns();
        do {
            for (int threads = 1; threads <= 2; threads++) {
                d[threads] = mach_round(&t, n, threads, &cpu[threads]);
                if (d[threads] < best[threads])
                    best[threads] = d[threads];
            }
            ratio[pairs++] = (double)d[1] / (double)d[2];
        } while (pairs < BATCH_PAIRS_MAX &&
                 (pairs < 3 || am__mono_ns() - w0 < (int64_t)(secs * 1e9)));
        qsort(ratio, (size_t)pairs, sizeof ratio[0], cmp_dbl);
        printf("machine/%s/speed-up best %.2fx, pairs of rounds: median "
               "%.2fx (min %.2fx, max %.2fx, %ld pairs); work per "
               "CPU-second, 2 threads / 1: %.3f\n", names[kind],
               (double)best[1] / (double)best[2], ratio[pairs / 2], ratio[0],
               ratio[pairs - 1], pairs, (double)cpu[1] / (double)cpu[2]);
    }
    free(tab);
    free(huge);
}

/* ---- A counting allocator for the memory figure ---- */

static size_t live_bytes, peak_bytes;

static void *c_alloc(void *ctx, size_t n)
{
    (void)ctx;
    live_bytes += n;
    if (live_bytes > peak_bytes)
        peak_bytes = live_bytes;
    return malloc(n);
}

static void *c_realloc(void *ctx, void *p, size_t old, size_t n)
{
    (void)ctx;
    live_bytes += n - old;
    if (live_bytes > peak_bytes)
        peak_bytes = live_bytes;
    return realloc(p, n);
}

static void c_free(void *ctx, void *p, size_t n)
{
    (void)ctx;
    live_bytes -= n;
    free(p);
}

/* Resident set size of the process, from /proc/self/statm (0 where there
 * is none). */
static double rss_mb(void)
{
    FILE *fp = fopen("/proc/self/statm", "r");
    long size = 0, resident = 0;

    if (fp == NULL)
        return 0;
    if (fscanf(fp, "%ld %ld", &size, &resident) != 2)
        resident = 0;
    fclose(fp);
    return (double)resident * (double)sysconf(_SC_PAGESIZE) / 1048576.0;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    double secs = argc > 2 ? atof(argv[2]) : 0.5;
    const char *kinds = argc > 3 ? argv[3]
                                 : "whole,t2,cache,msg,batch,short,load";
    am_buf text[NSECTIONS];
    am_error err = { AM_OK, "" };
    char path[4096];

    if (argc < 2) {
        fprintf(stderr, "usage: bench_tokens CORPUS_DIR [SECONDS]\n");
        return 2;
    }
    for (size_t s = 0; s < NSECTIONS; s++)
        text[s] = (am_buf)AM_BUF_INIT;
    for (size_t s = 0; s < NSECTIONS; s++) {
        snprintf(path, sizeof path, "%s/%s.txt", argv[1], sections[s]);
        if (am__read_file(path, &text[s], &err) != AM_OK) {
            fprintf(stderr, "%s\n", err.msg);
            return 1;
        }
    }
    if (strstr(kinds, "batch") != NULL)
        bench_machine(secs);
    for (int e = 0; e < 2; e++) {
        am_encoding *enc = NULL, *cold = NULL;
        am_encoding_opts co = am_encoding_opts_default();
        /* The scaling cases (whole/t2 against whole/t1, batches on 1 and
         * 2 threads) run without the encoding's piece memo: a call that
         * finds it taken runs cold, so with it 2 threads would not do
         * the same work as 1. */
        co.flags = AM_ENCODING_NO_MEMO;
        if (am_encoding_create(encodings[e], NULL, &enc, &err) != AM_OK ||
            am_encoding_create(encodings[e], &co, &cold, &err) != AM_OK) {
            fprintf(stderr, "%s\n", err.msg);
            return 1;
        }
        for (int t = 1; t <= 2; t++)
            for (size_t s = 0; s < NSECTIONS; s++)
                if (strstr(kinds, t == 1 ? "whole" : "t2") != NULL)
                    bench_count(cold, sections[s], am_buf_str(&text[s]),
                                secs, t, false);
        /* With a cache kept across calls, as the JS peers keep theirs. */
        for (size_t s = 0; s < NSECTIONS; s++)
            if (strstr(kinds, "cache") != NULL)
                bench_count(enc, sections[s], am_buf_str(&text[s]), secs, 1,
                            true);
        for (size_t s = 0; s < NSECTIONS; s++)
            if (strstr(kinds, "msg") != NULL)
                bench_msg(enc, sections[s], am_buf_str(&text[s]), secs);
        if (strstr(kinds, "batch") != NULL) {
            /* Then the same batch over tables built in allocated memory
             * (no binary cache), where the slot table asks for 2 MB
             * pages; mapped from the cache it lies in 4 KB pages of the
             * page cache unless the kernel's folios happen to be 2 MB
             * (FilePmdMapped in /proc/self/smaps: 8 MB of o200k_base on
             * 2026-12-06, 2 MB and after re-reading the file 0 on
             * 2026-12-07). */
            am_encoding *built = NULL;
            bench_batch(cold, "batch", text, NSECTIONS, secs);
            co.flags = AM_ENCODING_NO_MEMO | AM_ENCODING_NO_CACHE;
            if (am_encoding_create(encodings[e], &co, &built, &err) !=
                AM_OK) {
                fprintf(stderr, "%s\n", err.msg);
                return 1;
            }
            bench_batch(built, "batchbuilt", text, NSECTIONS, secs);
            am_encoding_free(built);
            /* And on the default path (the piece memo on, as agents and
             * the CLI's multi-file counts run), kept across the rounds:
             * 1 thread writes it, 2 threads both read it frozen and keep
             * what is new in side tables, so that they do about the work
             * of one (callgrind, a warm round after 1-thread rounds:
             * 2.6% fewer instructions than 1 thread with cl100k_base,
             * 1.2% fewer with o200k_base). */
            bench_batch(enc, "batchmemo", text, NSECTIONS, secs);
        }
        if (e == 1 && strstr(kinds, "short") != NULL)
            /* o200k_base, which the context module uses */
            for (size_t s = 0; s < NSECTIONS; s += 4) /* prose, multi. */
                for (size_t size = 100; size <= 500; size += 200)
                    bench_short(enc, sections[s], am_buf_str(&text[s]),
                                size, secs / 2);
        am_encoding_free(enc);
        am_encoding_free(cold);
    }

    /* Load time and memory of each encoding. */
    for (int e = 0; e < 2 && strstr(kinds, "load") != NULL; e++) {
        am_allocator ca = { c_alloc, c_realloc, c_free, NULL };
        am_encoding_opts o = am_encoding_opts_default();
        int64_t times[9], cpu[9];
        size_t held = 0;
        double rss0, rss1;
        am_encoding *kept = NULL;
        struct rusage ru;
        o.alloc = &ca;
        peak_bytes = live_bytes;
        for (int i = 0; i < 9; i++) {
            am_encoding *enc = NULL;
            int64_t t0 = am__mono_ns(), c0 = thread_cpu_ns();
            if (am_encoding_create(encodings[e], &o, &enc, &err) != AM_OK) {
                fprintf(stderr, "%s\n", err.msg);
                return 1;
            }
            times[i] = am__mono_ns() - t0;
            cpu[i] = thread_cpu_ns() - c0;
            held = live_bytes;
            am_encoding_free(enc);
        }
        qsort(times, 9, sizeof times[0], cmp_i64);
        qsort(cpu, 9, sizeof cpu[0], cmp_i64);
        /* What one open encoding adds to the resident set: the allocator
         * does not see tables mapped from the binary cache. */
        rss0 = rss_mb();
        if (am_encoding_create(encodings[e], &o, &kept, &err) != AM_OK) {
            fprintf(stderr, "%s\n", err.msg);
            return 1;
        }
        rss1 = rss_mb();
        am_encoding_free(kept);
        getrusage(RUSAGE_SELF, &ru);
        /* Wall time, and the CPU time of the loading thread, which the
         * other load on a shared machine affects much less. */
        printf("load/%s 1 %.2f ms best %.2f ms median (wall), %.2f ms best "
               "%.2f ms median (CPU)\n", encodings[e],
               (double)times[0] / 1e6, (double)times[4] / 1e6,
               (double)cpu[0] / 1e6, (double)cpu[4] / 1e6);
        printf("memory/%s held %.1f MB allocated, RSS +%.1f MB while open, "
               "peak allocated while loading %.1f MB, process max RSS "
               "%.1f MB\n", encodings[e], (double)held / 1048576.0,
               rss1 - rss0, (double)peak_bytes / 1048576.0,
               (double)ru.ru_maxrss / 1024.0);
    }

    /* A 1 MB word. */
    if (strstr(kinds, "load") != NULL) {
        am_encoding *enc = NULL;
        size_t n = 1 << 20, count = 0;
        char *w = malloc(n);
        int64_t t0;
        memset(w, 'a', n);
        if (w == NULL ||
            am_encoding_create("o200k_base", NULL, &enc, &err) != AM_OK)
            return 1;
        t0 = am__mono_ns();
        am_encoding_count(enc, (am_str){ w, n }, NULL, &count, NULL);
        printf("longword/o200k_base/1MB-a 1 %.0f ns/op %zu tokens\n",
               (double)(am__mono_ns() - t0), count);
        free(w);
        am_encoding_free(enc);
    }
    for (size_t s = 0; s < NSECTIONS; s++)
        am_buf_free(&text[s]);
    return 0;
}
