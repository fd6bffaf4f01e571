/* harness.c -- test registration, checks, and injected clock/allocator. */
#define _GNU_SOURCE
#include "harness.h"

#include <ftw.h>
#include <stdlib.h>
#include <unistd.h>

#define MAX_TESTS 1024

static struct CMUnitTest tests[MAX_TESTS];
static size_t ntests;

void am_test_register(const char *name, am_test_fn fn)
{
    if (ntests == MAX_TESTS) {
        fprintf(stderr, "harness: too many tests\n");
        abort();
    }
    tests[ntests].name = name;
    tests[ntests].test_func = fn;
    ntests++;
}

static int by_name(const void *a, const void *b)
{
    /* Registration order follows constructor order, which the toolchain
     * does not promise; run in file order via the line-independent name is
     * not possible either, so sort by name for a stable report. */
    const struct CMUnitTest *x = a, *y = b;
    return strcmp(x->name, y->name);
}

int main(int argc, char **argv)
{
    const char *prog = strrchr(argv[0], '/');
    prog = prog != NULL ? prog + 1 : argv[0];
    qsort(tests, ntests, sizeof tests[0], by_name);
    if (argc > 1)
        cmocka_set_test_filter(argv[1]);
    return _cmocka_run_group_tests(prog, tests, ntests, NULL, NULL);
}

void am_test_check_status(am_status got, am_status want,
                          const am_error *err, const char *expr,
                          const char *file, int line)
{
    if (got == want)
        return;
    print_error("%s:%d: %s\n  returned %d (%s), expected %d (%s)%s%s\n", file,
                line, expr, (int)got, am_status_str(got), (int)want,
                am_status_str(want), err != NULL ? "\n  detail: " : "",
                err != NULL ? err->msg : "");
    _fail(file, line);
}

void am_test_check_mem(const char *ptr, size_t len, const char *want,
                       const char *file, int line)
{
    size_t wlen = strlen(want);
    if (len == wlen && (len == 0 || memcmp(ptr, want, len) == 0))
        return;
    print_error("%s:%d: got \"%.*s\" (%zu bytes), expected \"%s\" (%zu)\n",
                file, line, (int)(len > 2000 ? 2000 : len),
                ptr != NULL ? ptr : "", len, want, wlen);
    _fail(file, line);
}

static int64_t tc_now(void *ctx)
{
    return ((test_clock *)ctx)->now_ms;
}

am_clock test_clock_make(test_clock *tc)
{
    am_clock c = { tc_now, tc };
    return c;
}

uint64_t test_rng_u64(test_rng *tr)
{
    uint64_t z = (tr->state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static uint64_t tr_next(void *ctx)
{
    return test_rng_u64(ctx);
}

am_rng test_rng_make(test_rng *tr)
{
    am_rng r = { tr_next, tr };
    return r;
}

static void *ta_alloc(void *ctx, size_t size)
{
    test_alloc *ta = ctx;
    void *p;
    ta->calls++;
    if (ta->fail_at != 0 && ta->calls == ta->fail_at) {
        ta->failures++;
        return NULL;
    }
    p = malloc(size);
    if (p != NULL) {
        ta->live += size;
        ta->live_blocks++;
        if (ta->live > ta->peak)
            ta->peak = ta->live;
    }
    return p;
}

static void *ta_realloc(void *ctx, void *ptr, size_t old_size,
                        size_t new_size)
{
    test_alloc *ta = ctx;
    void *p;
    ta->calls++;
    if (ta->fail_at != 0 && ta->calls == ta->fail_at) {
        ta->failures++;
        return NULL;
    }
    p = realloc(ptr, new_size);
    if (p != NULL) {
        ta->live = ta->live - old_size + new_size;
        if (ta->live > ta->peak)
            ta->peak = ta->live;
    }
    return p;
}

static void ta_free(void *ctx, void *ptr, size_t size)
{
    test_alloc *ta = ctx;
    ta->live -= size;
    ta->live_blocks--;
    free(ptr);
}

am_allocator test_alloc_make(test_alloc *ta)
{
    am_allocator a = { ta_alloc, ta_realloc, ta_free, ta };
    return a;
}

long test_oom_sweep(test_oom_body body, void *ctx)
{
    for (long n = 1;; n++) {
        test_alloc ta = { .fail_at = n };
        am_allocator a = test_alloc_make(&ta);
        am_status st = body(ctx, &a);
        if (st != AM_OK && st != AM_ENOMEM) {
            print_error("oom sweep: run %ld returned %s\n", n,
                        am_status_str(st));
            fail();
        }
        if (ta.live_blocks != 0 || ta.live != 0) {
            print_error("oom sweep: run %ld leaked %ld blocks (%zu bytes)\n",
                        n, ta.live_blocks, ta.live);
            fail();
        }
        if (ta.failures == 0) {
            if (st != AM_OK) {
                print_error("oom sweep: clean run returned %s\n",
                            am_status_str(st));
                fail();
            }
            return n;
        }
    }
}

char *test_tmpdir(void)
{
    const char *base = getenv("TMPDIR");
    char tmpl[4096];
    char *p;
    snprintf(tmpl, sizeof tmpl, "%s/amtest.XXXXXX",
             base != NULL ? base : "/tmp");
    p = mkdtemp(tmpl);
    assert_non_null(p);
    return strdup(p);
}

static int rm_one(const char *path, const struct stat *sb, int flag,
                  struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

void test_rmtree(const char *path)
{
    if (path != NULL)
        nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}
