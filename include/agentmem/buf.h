/* buf.h -- borrowed strings and caller-owned output buffers.
 *
 * Inputs are an am_str: pointer plus length, borrowed for the call, with no
 * NUL terminator required. Output that the caller keeps goes into an am_buf
 * that the caller owns; the library appends or overwrites as each function
 * documents, and a buffer can be reused across calls so that steady-state use
 * does not allocate. On success a buffer's `ptr` is NUL-terminated (the NUL
 * is not counted in `len`).
 */
#ifndef AGENTMEM_BUF_H
#define AGENTMEM_BUF_H

#include <stddef.h>
#include <string.h>
#include "alloc.h"
#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct am_str {
    const char *ptr;
    size_t len;
} am_str; /* never owns its bytes */

#ifdef __cplusplus
#define AM_STR(lit) (am_str{ (lit), sizeof(lit) - 1 })
#else
#define AM_STR(lit) ((am_str){ (lit), sizeof(lit) - 1 }) /* literals only */
#endif

/* An am_str over a NUL-terminated string (NULL gives the empty string).
 * Borrowed. Thread safety: safe. */
static inline am_str am_str_c(const char *s)
{
    am_str r;
    r.ptr = s != NULL ? s : "";
    r.len = s != NULL ? strlen(s) : 0;
    return r;
}

typedef struct am_buf {
    char *ptr;                  /* NULL until the first write */
    size_t len;                 /* bytes used, not counting the NUL */
    size_t cap;                 /* bytes allocated */
    const am_allocator *alloc;  /* NULL: am_allocator_default() */
} am_buf;

#define AM_BUF_INIT { NULL, 0, 0, NULL }

/* Make room for `extra` more bytes plus a NUL. Returns AM_OK or AM_ENOMEM
 * (the buffer unchanged). Thread safety: per-handle. */
AM_API am_status am_buf_reserve(am_buf *buf, size_t extra);

/* Append `len` bytes (copied). AM_OK or AM_ENOMEM (buffer unchanged).
 * Thread safety: per-handle. */
AM_API am_status am_buf_append(am_buf *buf, const void *ptr, size_t len);

/* Append printf-formatted text (arguments read during the call). AM_OK,
 * AM_ENOMEM or AM_EINVAL (bad format); on failure the buffer is unchanged.
 * Thread safety: per-handle. */
AM_API am_status am_buf_appendf(am_buf *buf, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* Set len to 0 (and *ptr to NUL), keeping the memory for reuse. NULL:
 * no-op. No errors. Thread safety: per-handle. */
AM_API void am_buf_clear(am_buf *buf);

/* Release the memory and reset to AM_BUF_INIT (keeping `alloc`). NULL: no-op.
 * Thread safety: per-handle. */
AM_API void am_buf_free(am_buf *buf);

/* The buffer's contents as a borrowed am_str (the buffer keeps owning the
 * bytes), valid until the next write; "" when nothing was written. No
 * errors. Thread safety: per-handle. */
static inline am_str am_buf_str(const am_buf *buf)
{
    am_str r;
    r.ptr = buf->ptr != NULL ? buf->ptr : "";
    r.len = buf->len;
    return r;
}

#ifdef __cplusplus
}
#endif
#endif
