/* hash.c -- a fast 64-bit hash for in-memory tables.
 *
 * A small multiply-mix hash in the style of wyhash: 8 bytes per round with a
 * 128-bit multiply. It is not cryptographic; tables that face untrusted keys
 * take a per-table random seed.
 */
#include <string.h>

#include "core.h"

static inline uint64_t mix(uint64_t a, uint64_t b)
{
    __uint128_t r = (__uint128_t)a * b;
    return (uint64_t)r ^ (uint64_t)(r >> 64);
}

static inline uint64_t rd64(const unsigned char *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

uint64_t am__hash64(const void *data, size_t len, uint64_t seed)
{
    const unsigned char *p = data;
    const uint64_t k0 = 0xa0761d6478bd642full, k1 = 0xe7037ed1a0b428dbull;
    uint64_t h = seed ^ mix(seed ^ k0, k1) ^ (uint64_t)len;

    while (len >= 16) {
        h = mix(rd64(p) ^ k1 ^ h, rd64(p + 8) ^ k0);
        p += 16;
        len -= 16;
    }
    if (len >= 8) {
        h = mix(rd64(p) ^ k1, h ^ k0);
        p += 8;
        len -= 8;
    }
    if (len > 0) {
        uint64_t t = 0;
        memcpy(&t, p, len);
        h = mix(t ^ k1, h ^ k0 ^ (uint64_t)len);
    }
    return mix(h ^ k0, h ^ k1);
}
