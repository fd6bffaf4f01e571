/* alloc.c -- the default allocator, overflow-checked wrappers and an arena.
 *
 * Library code never calls malloc directly: it goes through these wrappers so
 * that a user allocator (and the tests' failing allocator) sees every
 * allocation, and so that count*size overflow is caught in one place.
 */
#include <stdlib.h>
#include <string.h>

#include "core.h"

static void *std_alloc(void *ctx, size_t size)
{
    (void)ctx;
    return malloc(size);
}

static void *std_realloc(void *ctx, void *ptr, size_t old_size,
                         size_t new_size)
{
    (void)ctx;
    (void)old_size;
    return realloc(ptr, new_size);
}

static void std_free(void *ctx, void *ptr, size_t size)
{
    (void)ctx;
    (void)size;
    free(ptr);
}

static const am_allocator default_allocator = {
    std_alloc, std_realloc, std_free, NULL
};

const am_allocator *am_allocator_default(void)
{
    return &default_allocator;
}

const am_allocator *am__allocator(const am_allocator *a)
{
    return a != NULL ? a : &default_allocator;
}

void *am__alloc(const am_allocator *a, size_t size)
{
    a = am__allocator(a);
    return a->alloc(a->ctx, size != 0 ? size : 1);
}

void *am__alloc_array(const am_allocator *a, size_t count, size_t size)
{
    if (size != 0 && count > SIZE_MAX / size)
        return NULL;
    return am__alloc(a, count * size);
}

/* Zeroed memory. With the default allocator this is calloc, which hands
 * back fresh pages from the kernel without writing them (they are zero
 * already), so a large table costs only the pages that are touched. The
 * first 6 MB am_token_cache of a process took 20-23 ms of CPU to memset
 * on this VM, nearly all of it 1,537 first-touch page faults, for a count
 * that touches a dozen pages; with calloc it takes 0.7-1.1 ms (12
 * faults). A block malloc recycles is cleared by calloc as memset did,
 * so this is never slower. A caller's allocator has no calloc, so its
 * block is cleared here. */
void *am__calloc(const am_allocator *a, size_t count, size_t size)
{
    void *p;

    /* Overflow is caught here, not left to calloc: a sanitizer's calloc
     * aborts on it instead of returning NULL. */
    if (size != 0 && count > SIZE_MAX / size)
        return NULL;
    if (a == NULL || a == &default_allocator) {
        if (count == 0 || size == 0)
            count = size = 1; /* as am__alloc: size 0 -> 1 */
        return calloc(count, size);
    }
    p = am__alloc_array(a, count, size);
    if (p != NULL)
        memset(p, 0, count * size != 0 ? count * size : 1);
    return p;
}

void *am__realloc(const am_allocator *a, void *ptr, size_t old_size,
                  size_t new_size)
{
    a = am__allocator(a);
    if (ptr == NULL)
        return am__alloc(a, new_size);
    return a->realloc(a->ctx, ptr, old_size, new_size != 0 ? new_size : 1);
}

am_status am__grow(const am_allocator *a, void **ptr, size_t *cap,
                   size_t need, size_t elem_size)
{
    size_t ncap;
    void *np;

    if (need <= *cap)
        return AM_OK;
    ncap = *cap != 0 ? *cap : 8;
    while (ncap < need) {
        if (ncap > SIZE_MAX / 2)
            return AM_ENOMEM;
        ncap *= 2;
    }
    if (elem_size != 0 && ncap > SIZE_MAX / elem_size)
        return AM_ENOMEM;
    np = am__realloc(a, *ptr, *cap * elem_size, ncap * elem_size);
    if (np == NULL)
        return AM_ENOMEM;
    *ptr = np;
    *cap = ncap;
    return AM_OK;
}

void am__free(const am_allocator *a, void *ptr, size_t size)
{
    if (ptr == NULL)
        return;
    a = am__allocator(a);
    a->free(a->ctx, ptr, size != 0 ? size : 1);
}

/* Copy `len` bytes of `s` and a NUL into `p` (len + 1 bytes, or NULL when
 * the allocation failed); returns p. */
static char *nul_copy(char *p, const char *s, size_t len)
{
    if (p == NULL)
        return NULL;
    if (len != 0)
        memcpy(p, s, len);
    p[len] = '\0';
    return p;
}

char *am__strndup(const am_allocator *a, const char *s, size_t len)
{
    if (len == SIZE_MAX)
        return NULL;
    return nul_copy(am__alloc(a, len + 1), s, len);
}

/* ---- Arena ---- */

struct am__arena_block {
    am__arena_block *next;
    size_t size;
    size_t used;
    /* Data follows, aligned by the header size (a multiple of 16 below). */
};

#define ARENA_HDR ((sizeof(am__arena_block) + 15u) & ~(size_t)15u)

void am__arena_init(am__arena *ar, const am_allocator *a, size_t block_size)
{
    ar->alloc = a;
    ar->head = NULL;
    ar->block_size = block_size != 0 ? block_size : 4096;
}

void *am__arena_alloc(am__arena *ar, size_t size)
{
    am__arena_block *b = ar->head;
    size_t need = (size + 15u) & ~(size_t)15u;

    if (need < size)
        return NULL;
    if (b == NULL || b->size - b->used < need) {
        size_t bsize = need > ar->block_size ? need : ar->block_size;
        if (bsize > SIZE_MAX - ARENA_HDR)
            return NULL;
        b = am__alloc(ar->alloc, ARENA_HDR + bsize);
        if (b == NULL)
            return NULL;
        b->size = bsize;
        b->used = 0;
        /* A block that is bigger than the standard size goes behind the
         * current head so the head's free space is not wasted. */
        if (ar->head != NULL && bsize > ar->block_size) {
            b->next = ar->head->next;
            ar->head->next = b;
        } else {
            b->next = ar->head;
            ar->head = b;
        }
    }
    {
        char *p = (char *)b + ARENA_HDR + b->used;
        b->used += need;
        return p;
    }
}

char *am__arena_strndup(am__arena *ar, const char *s, size_t len)
{
    if (len == SIZE_MAX)
        return NULL;
    return nul_copy(am__arena_alloc(ar, len + 1), s, len);
}

void am__arena_free(am__arena *ar)
{
    am__arena_block *b = ar->head;

    while (b != NULL) {
        am__arena_block *next = b->next;
        am__free(ar->alloc, b, ARENA_HDR + b->size);
        b = next;
    }
    ar->head = NULL;
}
