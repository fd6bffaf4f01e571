/* buf.c -- growable caller-owned output buffers. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core.h"

am_status am_buf_reserve(am_buf *buf, size_t extra)
{
    size_t need, ncap;
    char *np;

    if (buf == NULL)
        return AM_EINVAL;
    if (extra > SIZE_MAX - buf->len - 1)
        return AM_ENOMEM;
    need = buf->len + extra + 1;
    if (need <= buf->cap)
        return AM_OK;
    ncap = buf->cap != 0 ? buf->cap : 64;
    while (ncap < need)
        ncap = ncap > SIZE_MAX / 2 ? need : ncap * 2;
    np = am__realloc(buf->alloc, buf->ptr, buf->cap, ncap);
    if (np == NULL)
        return AM_ENOMEM;
    /* A first allocation holds junk: buf.h promises a terminated ptr. */
    np[buf->len] = '\0';
    buf->ptr = np;
    buf->cap = ncap;
    return AM_OK;
}

am_status am_buf_append(am_buf *buf, const void *ptr, size_t len)
{
    am_status st = am_buf_reserve(buf, len);

    if (st != AM_OK)
        return st;
    if (len != 0)
        memcpy(buf->ptr + buf->len, ptr, len);
    buf->len += len;
    buf->ptr[buf->len] = '\0';
    return AM_OK;
}

am_status am_buf_appendf(am_buf *buf, const char *fmt, ...)
{
    va_list ap;
    int n;
    am_status st;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return AM_EINVAL;
    st = am_buf_reserve(buf, (size_t)n);
    if (st != AM_OK)
        return st;
    va_start(ap, fmt);
    vsnprintf(buf->ptr + buf->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    buf->len += (size_t)n;
    return AM_OK;
}

void am_buf_clear(am_buf *buf)
{
    if (buf == NULL)
        return;
    buf->len = 0;
    if (buf->ptr != NULL)
        buf->ptr[0] = '\0';
}

void am_buf_free(am_buf *buf)
{
    if (buf == NULL)
        return;
    am__free(buf->alloc, buf->ptr, buf->cap);
    buf->ptr = NULL;
    buf->len = 0;
    buf->cap = 0;
}
