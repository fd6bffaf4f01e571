/* status.c -- status texts, error recording and the version.
 *
 * Messages are formatted into the fixed 256-byte am_error so that recording
 * an error never allocates: an out-of-memory failure can still be explained.
 */
#include <stdio.h>
#include <string.h>

#include "core.h"

static const char *const status_text[] = {
    [AM_OK] = "success",
    [AM_ENOMEM] = "out of memory",
    [AM_EINVAL] = "invalid argument",
    [AM_ENOTFOUND] = "not found",
    [AM_ELIMIT] = "limit exceeded",
    [AM_EIO] = "input/output error",
    [AM_EFORMAT] = "malformed input",
    [AM_EEXIST] = "already exists",
    [AM_EBUSY] = "resource busy",
    [AM_ENET] = "network error",
    [AM_EAUTH] = "authentication failed",
    [AM_EPROTO] = "protocol error",
    [AM_ESTATE] = "invalid state",
    [AM_EUNSUPPORTED] = "not supported",
    [AM_ETIMEOUT] = "timed out",
    [AM_ECANCELED] = "canceled",
};

const char *am_status_str(am_status st)
{
    if ((unsigned)st < sizeof status_text / sizeof status_text[0] &&
        status_text[st] != NULL)
        return status_text[st];
    return "unknown error";
}

void am_error_clear(am_error *err)
{
    if (err == NULL)
        return;
    err->code = AM_OK;
    err->msg[0] = '\0';
}

/* Callers pass literal formats through am__fail, whose printf attribute
 * checks them; here the format is necessarily a variable. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
am_status am__failv(am_error *err, am_status code, const char *fmt,
                    va_list ap)
{
    if (err != NULL) {
        err->code = code;
        if (fmt == NULL || vsnprintf(err->msg, sizeof err->msg, fmt, ap) < 0)
            snprintf(err->msg, sizeof err->msg, "%s", am_status_str(code));
    }
    return code;
}
#pragma GCC diagnostic pop

am_status am__fail(am_error *err, am_status code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    am__failv(err, code, fmt, ap);
    va_end(ap);
    return code;
}

am_status am__error_copy(am_error *dst, const am_error *src)
{
    if (src == NULL)
        return AM_OK;
    if (dst != NULL && dst != src)
        memcpy(dst, src, sizeof *dst);
    return src->code;
}

const char *am_version(void)
{
    return AM_VERSION_STRING;
}

int am_version_number(void)
{
    return AM_VERSION_NUMBER;
}
