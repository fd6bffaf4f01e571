/* alloc.h -- pluggable memory allocation.
 *
 * Every object that allocates takes an optional am_allocator in its options;
 * NULL means malloc/realloc/free (and calloc for zeroed blocks, so that
 * pages never touched cost nothing). realloc and free are told the old size, so
 * an arena or an accounting allocator needs no per-block header.
 */
#ifndef AGENTMEM_ALLOC_H
#define AGENTMEM_ALLOC_H

#include <stddef.h>
#include "version.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct am_allocator {
    /* Return `size` bytes (size > 0) or NULL. */
    void *(*alloc)(void *ctx, size_t size);
    /* Resize `ptr` (of `old_size` bytes) to `new_size` > 0, or return NULL
     * and leave `ptr` valid. */
    void *(*realloc)(void *ctx, void *ptr, size_t old_size, size_t new_size);
    /* Release `ptr` (of `size` bytes). `ptr` is never NULL. */
    void (*free)(void *ctx, void *ptr, size_t size);
    void *ctx;
} am_allocator;

/* The malloc-based allocator used when an options struct leaves its
 * allocator NULL. Static object owned by the library, never NULL. No
 * errors. Thread safety: safe (malloc is). */
AM_API const am_allocator *am_allocator_default(void);

#ifdef __cplusplus
}
#endif
#endif
