/* py_pool.c -- the allocator for the messages the extension converts.
 *
 * A trim of 10,000 dicts creates and frees 10,000 small messages per call.
 * With malloc, glibc hands the freed heap top back to the kernel after each
 * call and the next call page-faults it in again, which costs more than
 * the trim itself. This allocator keeps freed small blocks on per-size
 * free lists (32-byte classes up to 4 KiB, at most POOL_MAX_CACHED bytes
 * in all) so that steady-state conversion touches no new pages. Blocks
 * larger than 4 KiB go straight to malloc. Thread-safe (one mutex; held
 * for a list push or pop only).
 */
#include "py_amp.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define POOL_GRAIN 32
#define POOL_CLASSES 128 /* up to 4 KiB */
#define POOL_MAX_CACHED ((size_t)64 << 20)

typedef struct block { struct block *next; } block;

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static block *lists[POOL_CLASSES + 1];
static size_t cached;

static size_t class_of(size_t size) { return (size + POOL_GRAIN - 1) / POOL_GRAIN; }

static void *pool_alloc(void *ctx, size_t size)
{
    size_t c = class_of(size);
    if (c > POOL_CLASSES)
        return malloc(size);
    pthread_mutex_lock(&mu);
    block *b = lists[c];
    if (b) {
        lists[c] = b->next;
        cached -= c * POOL_GRAIN;
    }
    pthread_mutex_unlock(&mu);
    return b ? (void *)b : malloc(c * POOL_GRAIN);
}

static void pool_free(void *ctx, void *ptr, size_t size)
{
    size_t c = class_of(size);
    if (c > POOL_CLASSES) {
        free(ptr);
        return;
    }
    pthread_mutex_lock(&mu);
    if (cached + c * POOL_GRAIN <= POOL_MAX_CACHED) {
        block *b = ptr;
        b->next = lists[c];
        lists[c] = b;
        cached += c * POOL_GRAIN;
        ptr = NULL;
    }
    pthread_mutex_unlock(&mu);
    free(ptr);
}

static void *pool_realloc(void *ctx, void *ptr, size_t old_size,
                          size_t new_size)
{
    size_t oc = class_of(old_size), nc = class_of(new_size);
    if (oc > POOL_CLASSES && nc > POOL_CLASSES)
        return realloc(ptr, new_size);
    if (oc == nc)
        return ptr;
    void *p = pool_alloc(ctx, new_size);
    if (!p)
        return NULL;
    memcpy(p, ptr, old_size < new_size ? old_size : new_size);
    pool_free(ctx, ptr, old_size);
    return p;
}

static const am_allocator pool = {pool_alloc, pool_realloc, pool_free, NULL};

const am_allocator *amp_pool(void) { return &pool; }

const am_msg_opts *amp_msg_opts(void)
{
    static am_msg_opts o;
    static int ready;
    if (!ready) { /* first call is made with the GIL held (module init) */
        o = am_msg_opts_default();
        o.alloc = &pool;
        ready = 1;
    }
    return &o;
}
