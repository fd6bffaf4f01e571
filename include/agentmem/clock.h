/* clock.h -- injectable time and randomness.
 *
 * Anything time-based (TTL, retention, ids, statistics) reads the clock given
 * in its options, so that tests can move time instead of sleeping. NULL in an
 * options struct means the system clock / system randomness.
 */
#ifndef AGENTMEM_CLOCK_H
#define AGENTMEM_CLOCK_H

#include <stdint.h>
#include "version.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct am_clock {
    /* Milliseconds since the Unix epoch (UTC). */
    int64_t (*now_ms)(void *ctx);
    void *ctx;
} am_clock;

typedef struct am_rng {
    /* 64 random bits. Need not be cryptographic; ids use it. */
    uint64_t (*next)(void *ctx);
    void *ctx;
} am_rng;

/* The wall clock (CLOCK_REALTIME). Static object owned by the library,
 * never NULL. No errors. Thread safety: safe. */
AM_API const am_clock *am_clock_system(void);

/* Read `clock` (borrowed for the call), or the system clock when `clock`
 * is NULL: milliseconds since the epoch. No errors.
 * Thread safety: safe if the clock's callback is. */
AM_API int64_t am_clock_now(const am_clock *clock);

/* System randomness (getrandom(2), falling back to a time-seeded generator).
 * Static object owned by the library, never NULL. No errors.
 * Thread safety: safe. */
AM_API const am_rng *am_rng_system(void);

/* 64 bits from `rng` (borrowed for the call), or from am_rng_system() when
 * `rng` is NULL. No errors. Thread safety: safe if the rng's callback is. */
AM_API uint64_t am_rng_next(const am_rng *rng);

/* Write a new UUIDv7 (RFC 9562: 48-bit millisecond time, then random bits)
 * as 36 lowercase characters plus a NUL into `out` (yours, 37 bytes). Ids
 * made later sort after earlier ones as strings; within one millisecond
 * order is random. NULL clock/rng: system. No errors.
 * Thread safety: safe if the clock's and rng's callbacks are. */
AM_API void am_uuid7(const am_clock *clock, const am_rng *rng, char out[37]);

#ifdef __cplusplus
}
#endif
#endif
