/* fuzz_tokens.c -- libFuzzer target for the BPE encodings.
 *
 * Any bytes are valid input. For each encoding: encode, check that count
 * agrees, that decode gives the input back byte for byte, that encoding
 * with a cross-call cache gives the same ids, and that special-token
 * options never crash. Aborts on any disagreement. Rank files come from
 * the usual search path (run scripts/setup first).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agentmem/tokens.h"

static am_encoding *encs[4];
static am_token_cache *caches[4];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *names[4] = { "cl100k_base", "o200k_base",
                                    "p50k_base", "r50k_base" };
    am_str text = { (const char *)data, size };

    for (int e = 0; e < 4; e++) {
        am_tokens a = AM_TOKENS_INIT, b = AM_TOKENS_INIT;
        am_buf dec = AM_BUF_INIT;
        am_encode_opts o = { 0, NULL, 0, NULL };
        size_t n = 0;

        if (encs[e] == NULL) {
            if (am_encoding_create(names[e], NULL, &encs[e], NULL) != AM_OK)
                abort();
            am_token_cache_opts co = am_token_cache_opts_default();
            co.entries = 4096;
            if (am_token_cache_create(encs[e], &co, &caches[e], NULL) !=
                AM_OK)
                abort();
        }
        if (am_encoding_encode(encs[e], text, NULL, &a, NULL) != AM_OK ||
            am_encoding_count(encs[e], text, NULL, &n, NULL) != AM_OK ||
            n != a.count)
            abort();
        if (am_encoding_decode(encs[e], a.ids, a.count, &dec, NULL) !=
                AM_OK ||
            dec.len != size || (size > 0 && memcmp(dec.ptr, data, size)))
            abort();
        o.cache = caches[e];
        if (am_encoding_encode(encs[e], text, &o, &b, NULL) != AM_OK ||
            b.count != a.count ||
            (a.count > 0 &&
             memcmp(a.ids, b.ids, a.count * sizeof *a.ids) != 0))
            abort();
        o.cache = NULL;
        o.flags = AM_SPECIAL_ALLOW_ALL;
        b.count = 0;
        if (am_encoding_encode(encs[e], text, &o, &b, NULL) != AM_OK)
            abort();
        o.flags = AM_SPECIAL_DISALLOWED_ERROR;
        (void)am_encoding_count(encs[e], text, &o, &n, NULL);
        am_tokens_free(&a);
        am_tokens_free(&b);
        am_buf_free(&dec);
    }
    return 0;
}
