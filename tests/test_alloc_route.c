/* test_alloc_route.c -- every allocation of a handle goes through the
 * allocator given in its options, never the default one.
 *
 * This executable is linked with -Wl,--wrap=malloc (and calloc, realloc;
 * see CMakeLists.txt): every call to those functions from the objects
 * linked statically into it -- the whole library, whose only caller of
 * malloc is the default allocator (scripts/checksrc.py holds that) -- goes
 * through the __wrap_ functions below, which count while a test has armed
 * them. The shared libraries we depend on (SQLite, jansson, zstd, libc's
 * own internals) call their malloc directly and are not counted: the
 * library does not route those (docs/RELIABILITY.md says why).
 *
 * So a test creates a handle with its own counting allocator (which calls
 * __real_malloc, unseen by the counter), arms the counter, uses the
 * handle, frees it, and checks that the default allocator was called zero
 * times while the user's allocator saw every block come back.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "agentmem/embed.h"
#include "agentmem/providers.h"

/* ---- The wrapped malloc: counts the default allocator's calls ---- */

void *__real_malloc(size_t size);
void *__real_calloc(size_t count, size_t size);
void *__real_realloc(void *ptr, size_t size);

static atomic_int armed;
static atomic_long raw_calls;

void *__wrap_malloc(size_t size);
void *__wrap_calloc(size_t count, size_t size);
void *__wrap_realloc(void *ptr, size_t size);

void *__wrap_malloc(size_t size)
{
    if (atomic_load(&armed))
        atomic_fetch_add(&raw_calls, 1);
    return __real_malloc(size);
}

void *__wrap_calloc(size_t count, size_t size)
{
    if (atomic_load(&armed))
        atomic_fetch_add(&raw_calls, 1);
    return __real_calloc(count, size);
}

void *__wrap_realloc(void *ptr, size_t size)
{
    if (atomic_load(&armed))
        atomic_fetch_add(&raw_calls, 1);
    return __real_realloc(ptr, size);
}

/* ---- The user's allocator: counts blocks, never seen by the wrap ---- */

typedef struct user_alloc {
    atomic_long calls;  /* alloc + realloc */
    atomic_long blocks; /* live blocks */
} user_alloc;

static void *ua_alloc(void *ctx, size_t size)
{
    user_alloc *u = ctx;
    void *p = __real_malloc(size);
    atomic_fetch_add(&u->calls, 1);
    if (p != NULL)
        atomic_fetch_add(&u->blocks, 1);
    return p;
}

static void *ua_realloc(void *ctx, void *ptr, size_t old_size,
                        size_t new_size)
{
    user_alloc *u = ctx;
    (void)old_size;
    atomic_fetch_add(&u->calls, 1);
    return __real_realloc(ptr, new_size);
}

static void ua_free(void *ctx, void *ptr, size_t size)
{
    user_alloc *u = ctx;
    (void)size;
    atomic_fetch_sub(&u->blocks, 1);
    free(ptr); /* free is not wrapped */
}

static am_allocator ua_make(user_alloc *u)
{
    am_allocator a = { ua_alloc, ua_realloc, ua_free, u };
    atomic_store(&u->calls, 0);
    atomic_store(&u->blocks, 0);
    return a;
}

static void arm(void)
{
    atomic_store(&raw_calls, 0);
    atomic_store(&armed, 1);
}

/* Disarm and check: the default allocator saw nothing, the user's saw
 * every block and got each one back. */
static void disarm_and_check(const char *what, const user_alloc *u)
{
    atomic_store(&armed, 0);
    long raw = atomic_load(&raw_calls);
    if (raw != 0 || atomic_load(&u->calls) == 0 ||
        atomic_load(&u->blocks) != 0)
        fail_msg("%s: %ld allocations bypassed the user's allocator; the "
                 "user's saw %ld, %ld blocks not returned", what, raw,
                 atomic_load(&u->calls), atomic_load(&u->blocks));
}

/* The wrap itself works: a direct malloc here is counted (else every
 * other test in this file would pass without looking). */
AM_TEST(the_wrap_sees_the_default_allocator)
{
    am_buf b = AM_BUF_INIT; /* NULL alloc: the default allocator */
    arm();
    CHECK_OK(am_buf_append(&b, "x", 1));
    atomic_store(&armed, 0);
    CHECK(atomic_load(&raw_calls) >= 1);
    am_buf_free(&b);
}

/* ---- The embedders ---- */

AM_TEST(built_in_embedders_allocate_through_the_given_allocator)
{
    user_alloc u;
    am_allocator a = ua_make(&u);
    am_embed_opts o = am_embed_opts_default();
    am_embedder *e = NULL;
    am_str t[2] = { AM_STR("the cat sat"), AM_STR("on the mat") };
    float v[2 * 64];

    o.alloc = &a;
    arm();
    CHECK_OK(am_embedder_hash_create(64, &o, &e, NULL));
    CHECK_OK(am_embedder_embed(e, t, 2, v, NULL));
    am_embedder_free(e);
    disarm_and_check("hash embedder", &u);
}

AM_TEST(the_default_embedder_allocates_through_the_given_allocator)
{
    user_alloc u;
    am_allocator a = ua_make(&u);
    am_embed_opts o = am_embed_opts_default();
    am_embedder *e = NULL;
    am_error err;
    am_str t[1] = { AM_STR("a quiet walk by the river") };
    float v[100];

    o.alloc = &a;
    arm();
    CHECK_OK_E(am_embedder_default_create(&o, &e, &err), &err);
    CHECK(e->dim <= 100);
    CHECK_OK(am_embedder_embed(e, t, 1, v, NULL));
    am_embedder_free(e);
    disarm_and_check("default (word-vector) embedder", &u);
}

AM_TEST(the_http_embedder_allocates_through_the_given_allocator)
{
    user_alloc u;
    am_allocator a = ua_make(&u);
    am_openai_embed_opts o = am_openai_embed_opts_default();
    am_embedder *e = NULL;
    am_error err;

    o.alloc = &a;
    o.base_url = "http://127.0.0.1:9/v1"; /* never called: dim is given */
    o.model = "m";
    o.api_key = "k";
    o.dim = 8;
    arm();
    CHECK_OK_E(am_embedder_openai_create(&o, &e, &err), &err);
    am_embedder_free(e);
    disarm_and_check("HTTP embedder", &u);
}
