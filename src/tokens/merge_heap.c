/* merge_heap.c -- byte-pair merging of long pieces in O(n log n).
 *
 * tiktoken's merge loop rescans the whole piece for the lowest-ranked pair
 * after every merge, which is quadratic: a 1 MB word would take hours.
 * encoding.c does that scan with vector minimums for pieces up to 128
 * bytes, where it is fastest; longer pieces come here, to a binary heap of
 * candidate pairs over a linked list of parts, which picks the same pair
 * at every step and so gives the same ids.
 */
#include <stdbool.h>
#include <stdint.h>

#include "tokens/merge_int.h"

/* Heap entry: (rank << 32 | left part start) orders by rank, then by
 * position, which is exactly tiktoken's choice of the pair to merge. */
typedef struct heap {
    uint64_t *v;
    size_t n;
} heap;

static void heap_push(heap *h, uint64_t x)
{
    size_t i = h->n++;
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (h->v[parent] <= x)
            break;
        h->v[i] = h->v[parent];
        i = parent;
    }
    h->v[i] = x;
}

static uint64_t heap_pop(heap *h)
{
    uint64_t top = h->v[0], x = h->v[--h->n];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= h->n)
            break;
        if (c + 1 < h->n && h->v[c + 1] < h->v[c])
            c++;
        if (x <= h->v[c])
            break;
        h->v[i] = h->v[c];
        i = c;
    }
    if (h->n > 0)
        h->v[i] = x;
    return top;
}

/* Merging for long pieces: parts are a linked list over positions (next[],
 * prev[]), candidate pairs live in a heap with stale entries skipped on
 * pop. cur[s] is the rank of the pair (s, next[s]) for a live part start s,
 * NO_RANK when that pair is not a token or s is no longer a part start. A
 * heap entry (r, s) is current exactly when cur[s] == r: the bytes of the
 * pair starting at s only ever grow, and ranks are unique per byte string,
 * so an outdated entry can never match again. */
am_status am__merge_large(const am_encoding *enc, const uint8_t *p,
                          size_t n, sink *k)
{
    const am_allocator *a = enc->alloc;
    am_status st = AM_OK;
    uint32_t *next = NULL, *prev = NULL, *cur = NULL;
    heap h = { NULL, 0 };
    /* Pieces up to SMALL_PIECE bytes work in stack buffers. */
    uint32_t s_next[SMALL_PIECE + 1], s_prev[SMALL_PIECE + 1];
    uint32_t s_cur[SMALL_PIECE + 1];
    uint64_t s_heap[3 * SMALL_PIECE];
    bool on_heap = n > SMALL_PIECE;

    if (n >= UINT32_MAX / 2)
        return AM_ENOMEM;
    if (on_heap) {
        next = am__alloc_array(a, n + 1, sizeof *next);
        prev = am__alloc_array(a, n + 1, sizeof *prev);
        cur = am__alloc_array(a, n + 1, sizeof *cur);
        /* At most n - 1 initial pairs plus two pushes per merge (n - 1). */
        h.v = am__alloc_array(a, 3 * n, sizeof *h.v);
        if (next == NULL || prev == NULL || cur == NULL || h.v == NULL) {
            st = AM_ENOMEM;
            goto out;
        }
    } else {
        next = s_next;
        prev = s_prev;
        cur = s_cur;
        h.v = s_heap;
    }
    for (size_t i = 0; i <= n; i++) {
        next[i] = (uint32_t)i + 1;
        prev[i] = i > 0 ? (uint32_t)i - 1 : 0;
        cur[i] = NO_RANK;
    }
    for (size_t i = 0; i + 1 < n; i++) {
        cur[i] = rank_of(enc, p + i, 2);
        if (cur[i] != NO_RANK)
            heap_push(&h, ((uint64_t)cur[i] << 32) | i);
    }
    while (h.n > 0) {
        uint64_t top = heap_pop(&h);
        uint32_t s = (uint32_t)top, m, e, q;

        if (cur[s] != (uint32_t)(top >> 32))
            continue; /* outdated entry */
        /* Join s and m = next[s]: s now spans [s, e). */
        m = next[s];
        e = next[m];
        next[s] = e;
        cur[m] = NO_RANK;
        if (e < n)
            prev[e] = s;
        cur[s] = e < n ? rank_of(enc, p + s, next[e] - s) : NO_RANK;
        if (cur[s] != NO_RANK)
            heap_push(&h, ((uint64_t)cur[s] << 32) | s);
        if (s > 0) {
            q = prev[s];
            cur[q] = rank_of(enc, p + q, e - q);
            if (cur[q] != NO_RANK)
                heap_push(&h, ((uint64_t)cur[q] << 32) | q);
        }
    }
    for (uint32_t s = 0; s < n; s = next[s]) {
        if (k->toks == NULL) {
            k->count++;
            continue;
        }
        st = emit(k, rank_of(enc, p + s, next[s] - s));
        if (st != AM_OK)
            goto out;
    }

out:
    if (!on_heap)
        return st;
    am__free(a, next, (n + 1) * sizeof *next);
    am__free(a, prev, (n + 1) * sizeof *prev);
    am__free(a, cur, (n + 1) * sizeof *cur);
    am__free(a, h.v, 3 * n * sizeof *h.v);
    return st;
}
