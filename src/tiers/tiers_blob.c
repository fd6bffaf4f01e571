/* tiers_blob.c -- where a big handle's small blobs live: 2 MiB regions
 * on transparent huge pages.
 *
 * A retrieve at 100,000 items loads the item's blob (id, then content)
 * from memory, in parallel with its record. From the allocator that blob
 * sits on a 4 KiB page, so the load also pays a TLB miss (a nested page
 * walk under a hypervisor); the records and the id table already sit on
 * huge pages (huge.c). So, once a handle is big (past its first
 * T_HEAP_CHUNKS chunks of records, the threshold of the record regions)
 * and uses the default allocator, a blob of up to T_BLOB_MAX bytes is
 * carved from a region of its own: size classes of T_BLOB_GRAIN bytes,
 * a freed blob goes on its class's free list for the next blob of that
 * class, and the regions are released only when the handle closes. A
 * caller's allocator, a small handle and a large blob get exactly what
 * they ask the allocator for, as before.
 *
 * Each region starts with its index in t->blobs.regions, so that the
 * id-table hint (hint_of in tiers_table.c) can name a pooled id by
 * region and offset without a search.
 */
#include <string.h>

#include "tiers_int.h"

#define REGION ((size_t)2 << 20)
/* The region's index, then the first blob at the next cache line, so
 * that a blob of 64 bytes (the common class) never spans two lines. */
#define HEAD ((size_t)64)

_Static_assert(REGION >= AM__HUGE_MIN, "a region is a huge.c block");
_Static_assert(T_BLOB_GRAIN >= sizeof(void *), "a free blob holds a link");

static size_t class_of(size_t len)
{
    return (len + T_BLOB_GRAIN - 1) / T_BLOB_GRAIN - 1;
}

/* Start a new region for the bump pointer. */
static bool new_region(am_tiers *t)
{
    tblobs *b = &t->blobs;
    void *p = b->regions;
    char *r;

    if (b->nregions >= T_BLOB_MAX_REGIONS ||
        am__grow(t->alloc, &p, &b->regions_cap, b->nregions + 1,
                 sizeof(char *)) != AM_OK)
        return false;
    b->regions = p;
    r = am__huge_calloc(t->alloc, REGION);
    if (r == NULL)
        return false;
    *(uint32_t *)(void *)r = (uint32_t)b->nregions;
    b->regions[b->nregions++] = r;
    b->bump = r + HEAD;
    b->left = REGION - HEAD;
    return true;
}

char *am__tiers_blob_alloc(am_tiers *t, size_t len, uint8_t *pooled)
{
    tblobs *b = &t->blobs;
    size_t c, size;
    char *p;

    *pooled = 0;
    if (len == 0 || len > T_BLOB_MAX || t->nchunks <= T_HEAP_CHUNKS ||
        !am__huge_on(t->alloc))
        return am__alloc(t->alloc, len);
    c = class_of(len);
    size = (c + 1) * T_BLOB_GRAIN;
    if (b->free[c] != NULL) {
        p = b->free[c];
        memcpy(&b->free[c], p, sizeof(char *));
    } else {
        /* The end of a full region (under T_BLOB_MAX bytes) is left. */
        if (b->left < size && !new_region(t))
            return am__alloc(t->alloc, len);
        p = b->bump;
        b->bump += size;
        b->left -= size;
    }
    *pooled = 1;
    return p;
}

void am__tiers_blob_release(am_tiers *t, char *blob, size_t len,
                            uint8_t pooled)
{
    size_t c;

    if (!pooled) {
        am__free(t->alloc, blob, len);
        return;
    }
    c = class_of(len);
    memcpy(blob, &t->blobs.free[c], sizeof(char *));
    t->blobs.free[c] = blob;
}

void am__tiers_blobs_free(am_tiers *t)
{
    tblobs *b = &t->blobs;

    for (size_t i = 0; i < b->nregions; i++)
        am__huge_free(t->alloc, b->regions[i], REGION);
    am__free(t->alloc, b->regions, b->regions_cap * sizeof(char *));
    memset(b, 0, sizeof *b);
}

size_t am__tiers_blob_region(const char *p)
{
    uintptr_t base = (uintptr_t)p & ~(uintptr_t)(REGION - 1);

    return *(const uint32_t *)(const void *)base;
}
