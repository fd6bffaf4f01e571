/* harness.h -- thin project macros over cmocka.
 *
 * A test file writes `AM_TEST(name) { ... }` blocks; each registers itself at
 * load time and harness.c's main() runs them all through cmocka, so there is
 * no list to keep in sync. CHECK_* macros print the file, the line and both
 * values (and the handle's error message for statuses).
 */
#ifndef AM_TEST_HARNESS_H
#define AM_TEST_HARNESS_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "agentmem/alloc.h"
#include "agentmem/buf.h"
#include "agentmem/clock.h"
#include "agentmem/status.h"

typedef void (*am_test_fn)(void **state);
void am_test_register(const char *name, am_test_fn fn);

#define AM_TEST(name)                                                   \
    static void name(void **state);                                     \
    __attribute__((constructor)) static void register_##name(void)      \
    {                                                                   \
        am_test_register(#name, name);                                  \
    }                                                                   \
    static void name(void **state AM_TEST_UNUSED)

#define AM_TEST_UNUSED __attribute__((unused))

#define CHECK(cond) assert_true(cond)
#define CHECK_EQ(a, b) assert_int_equal((a), (b))
#define CHECK_NE(a, b) assert_int_not_equal((a), (b))
#define CHECK_STR_EQ(a, b) assert_string_equal((a), (b))
/* Compare an am_str / am_buf content with a C string. */
#define CHECK_MEM_EQ(ptr, len, cstr)                                    \
    am_test_check_mem((ptr), (len), (cstr), __FILE__, __LINE__)
/* `expr` must return AM_OK; otherwise print the status and `errp` detail. */
#define CHECK_OK(expr) am_test_check_status((expr), AM_OK, NULL, #expr,   \
                                            __FILE__, __LINE__)
#define CHECK_OK_E(expr, errp) am_test_check_status((expr), AM_OK, (errp),\
                                                    #expr, __FILE__,     \
                                                    __LINE__)
#define CHECK_ST(expr, want) am_test_check_status((expr), (want), NULL,   \
                                                  #expr, __FILE__, __LINE__)

void am_test_check_status(am_status got, am_status want,
                          const am_error *err, const char *expr,
                          const char *file, int line);
void am_test_check_mem(const char *ptr, size_t len, const char *want,
                       const char *file, int line);

/* ---- Injected time ---- */

typedef struct test_clock {
    int64_t now_ms;
} test_clock;
am_clock test_clock_make(test_clock *tc);

/* A deterministic rng (splitmix64) for reproducible ids and data. */
typedef struct test_rng {
    uint64_t state;
} test_rng;
am_rng test_rng_make(test_rng *tr);
uint64_t test_rng_u64(test_rng *tr);

/* ---- Failing, accounting allocator ---- */

typedef struct test_alloc {
    long fail_at;    /* fail the n-th allocation (1-based); 0: never */
    long calls;      /* allocations attempted so far */
    long failures;   /* allocations refused so far */
    size_t live;     /* bytes allocated and not freed */
    size_t peak;
    long live_blocks;
} test_alloc;
am_allocator test_alloc_make(test_alloc *ta);

/* OOM sweep: run `body(ctx, alloc)` with the n-th allocation failing for
 * n = 1, 2, ... until a run completes without an injected failure. Each
 * run must return AM_OK or AM_ENOMEM and leave no live blocks. Returns the
 * number of runs. */
typedef am_status (*test_oom_body)(void *ctx, const am_allocator *alloc);
long test_oom_sweep(test_oom_body body, void *ctx);

/* A fresh temporary directory (under $TMPDIR), removed by test_rmtree. */
char *test_tmpdir(void);
void test_rmtree(const char *path);

#endif
