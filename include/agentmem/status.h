/* status.h -- one error model for the whole library.
 *
 * Every fallible call returns an am_status; zero means success. The code says
 * what kind of failure it was; the detail (what was wrong and where: field,
 * index, line, byte offset) is held by the handle the call was made on
 * (am_<object>_last_error), or written to a trailing `am_error *err` argument
 * when there is no handle yet (create, open, parse). `err` may be NULL.
 */
#ifndef AGENTMEM_STATUS_H
#define AGENTMEM_STATUS_H

#include "version.h"

#ifdef __cplusplus
extern "C" {
#endif

/* These values are ABI: new codes are added at the end, never renumbered or
 * removed. Treat a code you don't know as a generic failure. */
typedef enum am_status {
    AM_OK = 0,
    AM_ENOMEM,       /* allocation failed; the object is unchanged */
    AM_EINVAL,       /* bad argument: a caller bug (NULL, out of range) */
    AM_ENOTFOUND,    /* no such key, message, file or namespace (or expired) */
    AM_ELIMIT,       /* a configured limit (items, bytes, tokens) was hit */
    AM_EIO,          /* file, socket or database error */
    AM_EFORMAT,      /* malformed input: JSON, UTF-8, session file, config */
    AM_EEXIST,       /* the thing to create exists already */
    AM_EBUSY,        /* a lock could not be taken in time */
    AM_ENET,         /* network failure talking to a provider */
    AM_EAUTH,        /* a provider refused our credentials */
    AM_EPROTO,       /* a peer answered with something we cannot use */
    AM_ESTATE,       /* the call is not valid in the object's current state */
    AM_EUNSUPPORTED, /* valid request that this build or backend cannot do */
    AM_ETIMEOUT,     /* an operation ran out of time */
    AM_ECANCELED     /* a callback asked to stop */
} am_status;

/* Error detail for calls without a handle, and the type handles keep.
 * Calls write it only on failure, so one of your own starts as "no
 * error": `am_error err = { AM_OK, "" };` (what am_error_clear writes;
 * the library's own code is held to this form by scripts/checksrc.py). */
typedef struct am_error {
    am_status code;
    char msg[256]; /* NUL-terminated English; "" when AM_OK */
} am_error;

/* A short description of `st`, e.g. "malformed input": static text owned
 * by the library, never NULL; an unknown code gives "unknown error". No
 * errors. Thread safety: safe. */
AM_API const char *am_status_str(am_status st);

/* Reset `err` (yours) to AM_OK with an empty message. NULL: no-op. No
 * errors. Thread safety: per-handle. */
AM_API void am_error_clear(am_error *err);

#ifdef __cplusplus
}
#endif
#endif
