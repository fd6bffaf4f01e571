/* sessions.h -- a session manager: agents' ReAct memories saved
 * under session ids in a directory of files.
 *
 * Each session is one file, <dir>/<id>.json, holding am_react_export's
 * document. A save writes a unique temporary file (O_EXCL), fsyncs it and
 * renames it over the old one, then fsyncs the directory: after a crash a
 * session is its old or its new version, never a torn mix, and two
 * processes saving the same id leave one whole document.
 *
 *     am_sessions *ss = NULL;
 *     am_sessions_open("./sessions", NULL, &ss, NULL);
 *     am_sessions_save(ss, AM_STR("user_123"), mem);
 *     st = am_sessions_load(ss, AM_STR("user_123"), mem);  // AM_ENOTFOUND
 *     am_sessions_close(ss);
 */
#ifndef AGENTMEM_SESSIONS_H
#define AGENTMEM_SESSIONS_H

#include "alloc.h"
#include "buf.h"
#include "react.h"
#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct am_sessions am_sessions;

typedef struct am_sessions_opts {
    /* Allocator of the handle and of every call's buffers (the document
     * read or written, the path, the id list). NULL: the default.
     * Borrowed: it must outlive the handle and be thread-safe if threads
     * share the handle. */
    const am_allocator *alloc;
} am_sessions_opts;

/* The defaults (the default allocator), by value. No errors.
 * Thread safety: safe. */
AM_API am_sessions_opts am_sessions_opts_default(void);

/* Open the session directory `dir` (read during the call), creating it
 * (and its parents) when absent. `opts` NULL: am_sessions_opts_default().
 * *out is yours (am_sessions_close). AM_EINVAL (NULL out, empty path),
 * AM_EIO naming the directory, AM_ENOMEM; on failure *out is NULL.
 * Thread safety: safe. */
AM_API am_status am_sessions_open(const char *dir,
                                  const am_sessions_opts *opts,
                                  am_sessions **out, am_error *err);

/* NULL: no-op. Thread safety: unsafe (ends its life). */
AM_API void am_sessions_close(am_sessions *ss);

/* Save `mem` (am_react_export) under `id`, replacing an earlier save
 * atomically. An id is 1..128 bytes of letters, digits, '_', '-' and '.',
 * not starting with '.': AM_EINVAL naming the byte otherwise (so an id
 * can never name a path outside the directory). AM_EIO naming the file,
 * AM_ENOMEM. Thread safety: safe (`mem` must not change meanwhile). */
AM_API am_status am_sessions_save(am_sessions *ss, am_str id, am_react *mem);

/* Replace `mem`'s contents with the session saved under `id`
 * (am_react_import: checked whole first, `mem` unchanged on failure).
 * AM_ENOTFOUND when there is no such session, AM_EINVAL (bad id),
 * AM_EIO, AM_EFORMAT naming the file and field, AM_ENOMEM.
 * Thread safety: safe (`mem` per-handle). */
AM_API am_status am_sessions_load(am_sessions *ss, am_str id, am_react *mem);

/* The saved session ids, sorted, as a JSON array of strings, replacing
 * `out`. AM_EIO, AM_ENOMEM. Thread safety: safe. */
AM_API am_status am_sessions_list(am_sessions *ss, am_buf *out);

/* Delete the session `id`. AM_ENOTFOUND when absent, AM_EINVAL, AM_EIO.
 * Thread safety: safe. */
AM_API am_status am_sessions_delete(am_sessions *ss, am_str id);

/* Detail of the most recent failed call on `ss` (owned by `ss`; another
 * thread's when threads share it; your am_status is always your own).
 * NULL `ss`: a static AM_EINVAL detail, as for every handle.
 * Thread safety: safe. */
AM_API const am_error *am_sessions_last_error(const am_sessions *ss);

#ifdef __cplusplus
}
#endif
#endif
