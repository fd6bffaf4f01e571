/* clock.c -- the system clock, system randomness and UUIDv7 ids. */
#define _GNU_SOURCE
#include <stdio.h>
#include <sys/random.h>
#include <time.h>

#include "core.h"

static int64_t system_now_ms(void *ctx)
{
    struct timespec ts;
    (void)ctx;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static const am_clock system_clock = { system_now_ms, NULL };

const am_clock *am_clock_system(void)
{
    return &system_clock;
}

int64_t am_clock_now(const am_clock *clock)
{
    if (clock == NULL || clock->now_ms == NULL)
        clock = &system_clock;
    return clock->now_ms(clock->ctx);
}

int64_t am__mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* splitmix64 over a thread-local state, used only when getrandom fails
 * (very old kernels, seccomp sandboxes). Thread-local keeps it lock-free
 * without being shared state between handles. */
static uint64_t fallback_next(void)
{
    static _Thread_local uint64_t state;
    uint64_t z;

    if (state == 0)
        state = (uint64_t)am__mono_ns() ^ (uint64_t)(uintptr_t)&state;
    z = (state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static uint64_t system_rng_next(void *ctx)
{
    uint64_t v;
    (void)ctx;
    if (getrandom(&v, sizeof v, 0) == (ssize_t)sizeof v)
        return v;
    return fallback_next();
}

static const am_rng system_rng = { system_rng_next, NULL };

const am_rng *am_rng_system(void)
{
    return &system_rng;
}

uint64_t am_rng_next(const am_rng *rng)
{
    if (rng == NULL || rng->next == NULL)
        rng = &system_rng;
    return rng->next(rng->ctx);
}

void am_uuid7(const am_clock *clock, const am_rng *rng, char out[37])
{
    uint64_t ms = (uint64_t)am_clock_now(clock);
    uint64_t r1 = am_rng_next(rng), r2 = am_rng_next(rng);
    unsigned char b[16];
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;

    for (int i = 0; i < 6; i++)
        b[i] = (unsigned char)(ms >> (40 - 8 * i));
    b[6] = (unsigned char)(0x70 | ((r1 >> 8) & 0x0F)); /* version 7 */
    b[7] = (unsigned char)r1;
    b[8] = (unsigned char)(0x80 | ((r1 >> 16) & 0x3F)); /* variant 10 */
    for (int i = 9; i < 16; i++)
        b[i] = (unsigned char)(r2 >> (8 * (i - 9)));
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            out[o++] = '-';
        out[o++] = hex[b[i] >> 4];
        out[o++] = hex[b[i] & 15];
    }
    out[36] = '\0';
}
