/* fuzz_store_query.c -- untrusted text through the store's entry points.
 *
 * The input is split at the first two NUL bytes into a namespace part, a
 * key and a payload; the payload is used as a JSON value, as metadata, as
 * a search query (all three modes) and as a filter. Every call must return
 * a status (never crash), and an item put under one namespace must never
 * be listed under another.
 */
#include <stdlib.h>
#include <string.h>

#include "agentmem/store.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    static am_store *s;
    static am_embedder *e;
    const char *p = (const char *)data, *end = p + size;
    const char *z1 = memchr(p, 0, size);
    if (s == NULL) {
        am_store_opts o = am_store_opts_default();
        if (am_embedder_hash_create(32, NULL, &e, NULL) != AM_OK)
            abort();
        o.embedder = e;
        if (am_store_open(":memory:", &o, &s, NULL) != AM_OK)
            abort();
    }
    am_str part = { p, z1 != NULL ? (size_t)(z1 - p) : size };
    const char *k = z1 != NULL ? z1 + 1 : end;
    const char *z2 = k < end ? memchr(k, 0, (size_t)(end - k)) : NULL;
    am_str key = { k, z2 != NULL ? (size_t)(z2 - k) : (size_t)(end - k) };
    const char *pl = z2 != NULL ? z2 + 1 : end;
    am_str payload = { pl, (size_t)(end - pl) };

    am_ns ns = { &part, 1 };
    am_item_in it = { .ns = ns, .key = key, .value = payload,
                      .meta = payload, .ttl_ms = 0 };
    (void)am_store_put(s, &it);
    it.meta = (am_str){ NULL, 0 };
    (void)am_store_put(s, &it);
    am_results *r = NULL;
    for (int mode = 0; mode < 3; mode++) {
        am_search q = { .ns = ns, .query = payload,
                        .mode = (am_search_mode)mode, .filter = payload };
        if (am_store_search(s, &q, &r) == AM_OK)
            am_results_free(r);
        q.filter = (am_str){ NULL, 0 };
        if (am_store_search(s, &q, &r) == AM_OK) {
            /* Every hit lives in `ns` exactly. */
            for (size_t i = 0; i < r->count; i++)
                if (r->items[i].ns_count != 1 ||
                    r->items[i].ns_parts[0].len != part.len ||
                    memcmp(r->items[i].ns_parts[0].ptr, part.ptr,
                           part.len) != 0)
                    abort();
            am_results_free(r);
        }
    }
    if (am_store_list(s, ns, 50, 0, &r) == AM_OK) {
        for (size_t i = 0; i < r->count; i++)
            if (r->items[i].ns_parts[0].len != part.len ||
                memcmp(r->items[i].ns_parts[0].ptr, part.ptr, part.len) != 0)
                abort();
        am_results_free(r);
    }
    return 0;
}
