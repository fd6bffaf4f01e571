/* huge.c -- large zeroed blocks on transparent huge pages.
 *
 * A random read of a structure of a few megabytes mostly misses the TLB,
 * and under a hypervisor a TLB miss is a nested page walk. On this
 * project's VM a dependent random load over 8 MB took ~100 ns on 4 KiB
 * pages and ~20 ns on 2 MiB pages (quiet machine; docs/BENCHMARKS.md,
 * issue #14). The kernel's transparent huge pages are often in `madvise`
 * mode, so a block gets them only when it sits at a 2 MiB boundary and
 * is advised to. This file does exactly that, and nothing else.
 *
 * Only with the default allocator, on a system with MADV_HUGEPAGE, and
 * for blocks of at least AM__HUGE_MIN bytes: the block is mapped directly
 * (rounded up to whole 2 MiB pages, so that the kernel can back all of it
 * with huge pages). A caller's allocator gets an ordinary zeroed block,
 * as do small blocks: a huge page makes all of its 2 MiB resident at the
 * first touch, which a small structure must not pay.
 */
#include <stdint.h>

#include "core.h"

#if defined(__linux__)
#include <sys/mman.h>
#endif

#define HUGE_PAGE ((size_t)2 << 20)

#if defined(__linux__) && defined(MADV_HUGEPAGE)
static bool use_huge(const am_allocator *a, size_t size)
{
    return am__allocator(a) == am_allocator_default() &&
           size >= AM__HUGE_MIN && size <= SIZE_MAX - 2 * HUGE_PAGE;
}

bool am__huge_on(const am_allocator *a)
{
    return use_huge(a, AM__HUGE_MIN);
}

static size_t round_up(size_t size)
{
    return (size + HUGE_PAGE - 1) & ~(HUGE_PAGE - 1);
}

void *am__huge_calloc(const am_allocator *a, size_t size)
{
    size_t len, head, tail;
    uintptr_t raw, at;
    void *m;

    if (!use_huge(a, size))
        return am__calloc(a, 1, size);
    /* Map one huge page more than needed and unmap what lies before the
     * first 2 MiB boundary and after the block. */
    len = round_up(size);
    m = mmap(NULL, len + HUGE_PAGE, PROT_READ | PROT_WRITE,
             MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED)
        return NULL;
    raw = (uintptr_t)m;
    at = (raw + HUGE_PAGE - 1) & ~(uintptr_t)(HUGE_PAGE - 1);
    head = at - raw;
    tail = HUGE_PAGE - head;
    if (head != 0)
        (void)munmap(m, head);
    if (tail != 0)
        (void)munmap((void *)(at + len), tail);
    /* A hint: refused (no THP in this kernel), the block still works. */
    (void)madvise((void *)at, len, MADV_HUGEPAGE);
    return (void *)at;
}

void am__huge_free(const am_allocator *a, void *ptr, size_t size)
{
    if (ptr == NULL)
        return;
    if (!use_huge(a, size)) {
        am__free(a, ptr, size);
        return;
    }
    (void)munmap(ptr, round_up(size));
}

#else /* no huge pages: the portable fallback */

bool am__huge_on(const am_allocator *a)
{
    (void)a;
    return false;
}

void *am__huge_calloc(const am_allocator *a, size_t size)
{
    return am__calloc(a, 1, size);
}

void am__huge_free(const am_allocator *a, void *ptr, size_t size)
{
    am__free(a, ptr, size);
}

#endif
