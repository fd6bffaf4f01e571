/* core.h -- internal helpers shared by every module (not installed).
 *
 * Allocation wrappers that take an am_allocator (NULL: default) and guard
 * against size overflow; error recording; UTF-8 validation; hashing; file
 * I/O with atomic replace; JSON glue over jansson. Modules include this and
 * their own *_int.h headers, never another module's internals.
 */
#ifndef AM_CORE_H
#define AM_CORE_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agentmem/alloc.h"
#include "agentmem/buf.h"
#include "agentmem/clock.h"
#include "agentmem/status.h"

#if defined(__GNUC__)
#define AM__PRINTF(a, b) __attribute__((format(printf, a, b)))
#define AM__UNUSED __attribute__((unused))
#else
#define AM__PRINTF(a, b)
#define AM__UNUSED
#endif

/* ---- Errors ---- */

/* Record `code` and a formatted message in `err` (may be NULL) and return
 * `code`, so that a failure is one statement: `return am__fail(...)`. */
am_status am__fail(am_error *err, am_status code, const char *fmt, ...)
    AM__PRINTF(3, 4);
am_status am__failv(am_error *err, am_status code, const char *fmt,
                    va_list ap);
/* Copy `src` into `dst` (either may be NULL); returns src->code. */
am_status am__error_copy(am_error *dst, const am_error *src);

/* ---- Public calls under a handle's lock ----
 *
 * The body of a public call that runs its `_locked` twin under the
 * handle's mutex and returns what the twin returned. A NULL handle skips
 * the lock and goes straight to the twin, which answers it (AM_EINVAL, 0 or
 * false, as its contract says). `lock`/`unlock` are the module's macros,
 * which take the handle. Used as a function's whole body:
 *     AM__CALL_LOCKED(am_status, m, LOCK, UNLOCK, add_locked(m, x)); */
#define AM__CALL_LOCKED(type, h, lock, unlock, call)                       \
    do {                                                                   \
        type r_;                                                           \
        if ((h) == NULL)                                                   \
            return call;                                                   \
        lock(h);                                                           \
        r_ = call;                                                         \
        unlock(h);                                                         \
        return r_;                                                         \
    } while (0)
/* The same for a call that returns nothing. */
#define AM__CALL_LOCKED_VOID(h, lock, unlock, call)                          \
    do {                                                                     \
        if ((h) == NULL) {                                                   \
            call;                                                            \
            return;                                                          \
        }                                                                    \
        lock(h);                                                             \
        call;                                                                \
        unlock(h);                                                           \
    } while (0)

/* ---- Checked numbers ----
 *
 * Times are int64 milliseconds, and a time plus a duration taken from a
 * user (a TTL, a window) must never wrap into the past: it saturates.
 * Numbers read from text (flags, files, rows, replies) are parsed with a
 * range, and a number too large is an error, never a wrapped value. */

/* a + b and a - b, saturated to [INT64_MIN, INT64_MAX]. */
static inline int64_t am__add_sat(int64_t a, int64_t b)
{
    int64_t r;
    if (__builtin_add_overflow(a, b, &r))
        return b > 0 ? INT64_MAX : INT64_MIN;
    return r;
}
static inline int64_t am__sub_sat(int64_t a, int64_t b)
{
    int64_t r;
    if (__builtin_sub_overflow(a, b, &r))
        return b < 0 ? INT64_MAX : INT64_MIN;
    return r;
}
/* x rounded toward zero and clamped to [lo, hi]; NaN gives lo. A plain
 * cast of a double outside int64's range is undefined (1e300 became
 * INT64_MIN on x86). */
int64_t am__i64_clamp(double x, int64_t lo, int64_t hi);
/* Parse the decimal integer `s` (an optional '-', then digits; nothing
 * else) into *out if it lies in [min, max]. AM_EFORMAT when `s` is not a
 * number, AM_ELIMIT when it is one outside the range (however many digits
 * it has). *out is untouched on failure. */
am_status am__parse_i64(am_str s, int64_t min, int64_t max, int64_t *out);
/* Write `v` in decimal, left-padded with '0' to `width` digits (0: no
 * padding), and a NUL; returns the digits written. `out` must hold
 * max(width, 20) + 1 bytes; a width over 20 is treated as 20. The same
 * text as snprintf's "%0*llu", without its cost (~1,000 instructions a
 * call, which a put paid three times). */
size_t am__u64_dec(uint64_t v, size_t width, char *out);

/* ---- Allocation ---- */

const am_allocator *am__allocator(const am_allocator *a); /* NULL: default */
void *am__alloc(const am_allocator *a, size_t size);     /* size 0 -> 1 */
void *am__calloc(const am_allocator *a, size_t count, size_t size);
void *am__alloc_array(const am_allocator *a, size_t count, size_t size);
void *am__realloc(const am_allocator *a, void *ptr, size_t old_size,
                  size_t new_size);
/* Grow an array to hold at least `need` elements: doubles `*cap`. */
am_status am__grow(const am_allocator *a, void **ptr, size_t *cap,
                   size_t need, size_t elem_size);
void am__free(const am_allocator *a, void *ptr, size_t size); /* NULL ok */
/* Copy `len` bytes plus a NUL; free with am__free(a, p, len + 1). */
char *am__strndup(const am_allocator *a, const char *s, size_t len);

/* ---- Large blocks on huge pages (huge.c) ---- */

/* Blocks from this size on may be placed on 2 MiB huge pages. */
#define AM__HUGE_MIN ((size_t)1 << 20)
/* `size` zeroed bytes, or NULL. With the default allocator on Linux and
 * size >= AM__HUGE_MIN: mapped at a 2 MiB boundary, rounded up to whole
 * 2 MiB pages and advised MADV_HUGEPAGE (all of it becomes resident at
 * the first touch of each 2 MiB); otherwise am__calloc. Free with
 * am__huge_free and the same `a` and `size`. Thread safety: as `a`. */
void *am__huge_calloc(const am_allocator *a, size_t size);
void am__huge_free(const am_allocator *a, void *ptr, size_t size); /* NULL ok */
/* Whether am__huge_calloc maps blocks of AM__HUGE_MIN and more with `a`
 * (then each is 2 MiB aligned and advised MADV_HUGEPAGE). */
bool am__huge_on(const am_allocator *a);

/* ---- Arena: blocks freed together ---- */

typedef struct am__arena_block am__arena_block;
typedef struct am__arena {
    const am_allocator *alloc;
    am__arena_block *head;
    size_t block_size;
} am__arena;

void am__arena_init(am__arena *ar, const am_allocator *a, size_t block_size);
void *am__arena_alloc(am__arena *ar, size_t size); /* 16-byte aligned */
char *am__arena_strndup(am__arena *ar, const char *s, size_t len);
void am__arena_free(am__arena *ar); /* frees every block; reusable after */

/* ---- UTF-8 ---- */

/* True when [s, s+len) is valid UTF-8 (no overlongs, no surrogates, nothing
 * above U+10FFFF). On false, *bad_offset (if not NULL) is the byte offset of
 * the first invalid sequence. */
bool am__utf8_valid(const char *s, size_t len, size_t *bad_offset);
/* The largest n <= len such that s[0..n) ends on a character boundary. */
size_t am__utf8_floor(const char *s, size_t len);
/* Characters in `s`: its UTF-8 lead bytes (a stray continuation byte is
 * not counted, a stray lead byte counts as one). Never fails. */
size_t am__utf8_count(const char *s, size_t len);

/* ---- Text ---- */

/* ASCII lower-casing, byte by byte: every other byte (UTF-8 included) is
 * returned unchanged, so it is safe on any text and needs no locale. */
static inline unsigned char am__ascii_lower(unsigned char c)
{
    return c >= 'A' && c <= 'Z' ? (unsigned char)(c + ('a' - 'A')) : c;
}

/* The token estimate used wherever no tokenizer is given: one token per
 * AM__BYTES_PER_TOKEN bytes, rounded up (the usual rule of thumb for
 * English under the GPT encodings; am_tokens_approx is the public face). */
#define AM__BYTES_PER_TOKEN 4
static inline size_t am__tokens_estimate(size_t len)
{
    return len / AM__BYTES_PER_TOKEN + (len % AM__BYTES_PER_TOKEN != 0);
}

/* Tokens the chat format adds around every message (OpenAI's counting
 * rule for its chat models: <|start|>role ... <|end|>). */
#define AM__TOKENS_PER_MESSAGE 3
/* The rest of that rule: a name, a tool call, the reply's priming. */
#define AM__TOKENS_PER_NAME 1
#define AM__TOKENS_PER_TOOL_CALL 3
#define AM__REPLY_PRIMING 3

/* ---- Enum names (names.c) ----
 *
 * One table per enum, indexed by value, read both ways:
 *
 *     static const char *const role_names[] = {
 *         [AM_ROLE_SYSTEM] = "system", [AM_ROLE_USER] = "user", ... };
 *     static const am__names roles = AM__NAMES("role", role_names);
 *     const char *am_role_name(am_role r) { return am__name_of(&roles, r); }
 */
typedef struct am__names {
    const char *what;         /* names the enum in errors: "role", "tier" */
    const char *const *names; /* names[v] for each value v; NULL: a gap */
    size_t count;
} am__names;
#define AM__NAMES(what, arr) { (what), (arr), sizeof(arr) / sizeof((arr)[0]) }

/* names[v]; "?" when `v` is out of range (the one rule for every enum). */
const char *am__name_of(const am__names *t, int v);
/* The value whose name is exactly `s` (case matters), or -1. */
int am__name_find(const am__names *t, am_str s);
/* AM_EINVAL with "unknown <what> '<s>' (expected a, b or c)", the list
 * written from the table. */
am_status am__name_fail(const am__names *t, am_str s, am_error *err);
/* am__name_find, and am__name_fail when nothing matches. */
am_status am__name_parse(const am__names *t, am_str s, int *out,
                         am_error *err);
/* Defines the public parse function `fn` of enum `type` over table `t`
 * (am__name_parse, the value cast to the enum), so that every enum's
 * parse is the same code: AM__NAME_PARSE_FN(am_role_parse, am_role, roles) */
#define AM__NAME_PARSE_FN(fn, type, t)                                       \
    am_status fn(am_str name, type *out, am_error *err)                      \
    {                                                                        \
        int v;                                                               \
        am_status st = am__name_parse(&(t), name, &v, err);                  \
        if (st == AM_OK)                                                     \
            *out = (type)v;                                                  \
        return st;                                                           \
    }

/* The value of hex digit `c` (either case), or -1: \u escapes and URL
 * percent-escapes. */
static inline int am__hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* ---- Hashing ---- */

uint64_t am__hash64(const void *p, size_t len, uint64_t seed);

/* ---- Files ---- */

/* Read the whole file into `out` (replacing its contents). */
am_status am__read_file(const char *path, am_buf *out, am_error *err);
/* am__read_file with a size limit: AM_ELIMIT ("larger than N bytes")
 * as soon as more than `max` bytes arrive, so that a file that never ends
 * (/dev/zero, a FIFO) or is far too large for its purpose fails fast
 * instead of hanging or exhausting memory. am__read_file's limit is
 * AM__READ_FILE_MAX. */
#define AM__READ_FILE_MAX ((size_t)1 << 30)
am_status am__read_file_max(const char *path, size_t max, am_buf *out,
                            am_error *err);
/* Write `len` bytes to `path` atomically: a unique temporary beside it,
 * fsync, rename, fsync of the directory. On failure the old file is
 * untouched and the temporary is unlinked. The temporary's name comes from
 * `a` (NULL: default), so the OOM sweeps reach it. */
am_status am__write_file_atomic(const am_allocator *a, const char *path,
                                const void *data, size_t len, am_error *err);
/* mkdir -p; the scratch copy of `path` comes from `a` (NULL: default). */
am_status am__mkdir_p(const am_allocator *a, const char *path, am_error *err);

/* ---- Timing for statistics ---- */

/* Monotonic nanoseconds (CLOCK_MONOTONIC), for durations only. */
int64_t am__mono_ns(void);

#endif
