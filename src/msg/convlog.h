/* convlog.h -- the append-only log of one persistent conversation
 * (internal to src/msg; used by the manager in convmgr.c).
 */
#ifndef AM_CONVLOG_H
#define AM_CONVLOG_H

#include "msg_int.h"

typedef struct am__convlog am__convlog;

/* Open the log at `path` and replay it into `conv` (which has no hook;
 * the log uses its allocator). A torn or corrupt last record is dropped
 * and truncated away (*dropped set to its byte offset + 1, else 0); damage
 * before the last record is AM_EFORMAT naming the byte offset. */
am_status am__convlog_open(const char *path, am_conv *conv, bool sync,
                           am__convlog **out, size_t *dropped,
                           am_error *err);

/* Create (or replace) the log at `path` for `agent`, holding `count`
 * messages as its first snapshot. */
am_status am__convlog_create(const am_allocator *alloc, const char *path,
                             am_str agent, am_msg *const *msgs, size_t count,
                             bool sync, am__convlog **out, am_error *err);

/* The agent name recorded in the log (owned by the log). */
am_str am__convlog_agent(const am__convlog *log);

/* Durably record one change (one framed record, one write, one fsync).
 * On failure the file is cut back to where it was. */
am_status am__convlog_append(am__convlog *log, am__conv_op op,
                             am_msg *const *msgs, size_t count,
                             am_error *err);

/* True when the log has grown well past its live contents; the caller
 * then rewrites it with am__convlog_compact and the current messages. */
bool am__convlog_wants_compact(const am__convlog *log);

/* Rewrite the log atomically as one snapshot of `msgs`. */
am_status am__convlog_compact(am__convlog *log, am_msg *const *msgs,
                              size_t count, am_error *err);

/* Close; with `unlink_file`, also delete the file. NULL: no-op. */
void am__convlog_close(am__convlog *log, bool unlink_file);

/* Current size of the log file in bytes. */
size_t am__convlog_size(const am__convlog *log);

#endif
