/* conv.h -- conversation memory and the multi-agent conversation manager.
 *
 * An am_conv is an ordered list of messages with an optional cap
 * (max_messages: when full, the oldest non-system message is dropped; system
 * messages are never dropped by the cap). Messages in a conversation are
 * frozen and reference counted (msg.h): reading hands out references, so a
 * reader never sees a message change or disappear under it, and building a
 * new conversation from selected messages copies nothing.
 *
 * Thread safety: every am_conv_* call is *safe*: each conversation has its
 * own mutex, and each call is atomic with respect to the others (a reader
 * sees the conversation before or after an add, never in between). The
 * last-error detail is kept per thread: am_conv_last_error() shows the
 * calling thread's own latest failure, never another thread's.
 *
 * Files. am_conv_save() writes the whole conversation atomically (temp
 * file, fsync, rename) in any of the three formats; am_conv_load() reads one
 * back and either replaces the contents or, on any error, leaves them as
 * they were and names the position (line, column, byte) of the problem.
 *
 * The manager (am_convmgr) holds one conversation per agent name, each
 * with a retention policy: SINGLE_RUN (emptied by am_convmgr_end_run),
 * SESSION (kept while the manager lives) or PERSISTENT (every change is
 * appended to a per-agent log file under the manager's directory as a
 * length + checksum framed record, fsynced, and restored by the next
 * am_convmgr_open; a torn or corrupt last record -- a crash mid-write -- is
 * dropped and truncated away, never the history before it).
 */
#ifndef AGENTMEM_CONV_H
#define AGENTMEM_CONV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "msg.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Conversations ---- */

typedef struct am_conv am_conv;

typedef struct am_conv_opts {
    const am_allocator *alloc; /* NULL: malloc */
    const am_clock *clock;     /* created_ms of new messages; NULL: system */
    const am_rng *rng;         /* ids of new messages; NULL: fast default */
    size_t max_messages;       /* 0: unlimited */
    size_t max_msg_bytes;      /* per message on input; 0: no limit */
} am_conv_opts;

/* Defaults: unlimited messages, max_msg_bytes AM_MSG_DEFAULT_MAX_BYTES,
 * NULL allocator/clock/rng. Returned by value; no errors.
 * Thread safety: safe. */
AM_API am_conv_opts am_conv_opts_default(void);

/* Create an empty conversation. `opts` may be NULL; it is copied, the
 * allocator/clock/rng it points to are borrowed for the conversation's
 * life. *out is yours: am_conv_free(). AM_OK, AM_ENOMEM.
 * Thread safety: safe. */
AM_API am_status am_conv_create(const am_conv_opts *opts, am_conv **out,
                                am_error *err);

/* Free `conv` and drop its message references (messages handed out stay
 * valid). NULL: no-op. Thread safety: unsafe (no call may be in flight). */
AM_API void am_conv_free(am_conv *conv);

/* Detail of this thread's most recent failed call on `conv` (code AM_OK
 * and "" when none), owned by `conv` and valid until this thread's next
 * call on it: other threads' failures never change it. NULL `conv`: a
 * static AM_EINVAL detail. Thread safety: safe. */
AM_API const am_error *am_conv_last_error(const am_conv *conv);

/* The options the conversation was created with (max_messages etc.),
 * by value (pointers in it are the borrowed ones given at create). No
 * errors: NULL `conv` gives am_conv_opts_default(). Thread safety: safe. */
AM_API am_conv_opts am_conv_options(const am_conv *conv);

/* Append `msg`. A frozen message is shared (its reference count goes up); a
 * mutable one is copied into a compact frozen copy, so the caller may keep
 * editing or free its own. The message must pass am_msg_validate(). If the
 * conversation is full, the oldest non-system message is dropped first (if
 * every message is a system message, AM_ELIMIT). AM_OK, AM_EINVAL,
 * AM_ELIMIT, AM_ENOMEM, or AM_EIO when a persistent log write fails; on
 * failure the conversation is unchanged. Thread safety: safe. */
AM_API am_status am_conv_add(am_conv *conv, const am_msg *msg);

/* Fast path: append a text message with a new id and the current time.
 * `text` is copied. AM_OK, AM_EINVAL (bad role; also AM_ROLE_TOOL, which
 * needs a tool_call_id: use am_msg_create), AM_EFORMAT (invalid
 * UTF-8, naming the byte offset), AM_ELIMIT, AM_ENOMEM, AM_EIO.
 * Thread safety: safe. */
AM_API am_status am_conv_add_text(am_conv *conv, am_role role, am_str text);

/* Append `count` messages (each shared or copied as in am_conv_add), all
 * or nothing. Errors as am_conv_add, the detail naming the message index;
 * on failure the conversation is unchanged. Thread safety: safe. */
AM_API am_status am_conv_add_list(am_conv *conv, const am_msg *const *msgs,
                                  size_t count);

/* Replace the whole contents with `count` messages (shared or copied as in
 * am_conv_add), all or nothing; the cap applies as if they were added in
 * order. This is how a context manager installs a compressed history.
 * AM_OK, AM_EINVAL (a message fails am_msg_validate; the detail names its
 * index), AM_ELIMIT, AM_ENOMEM, AM_EIO (persistent log); on failure the
 * conversation is unchanged. Thread safety: safe. */
AM_API am_status am_conv_replace(am_conv *conv, const am_msg *const *msgs,
                                 size_t count);

/* Number of messages (0 for NULL). No errors. Thread safety: safe. */
AM_API size_t am_conv_count(const am_conv *conv);

/* A reference to message `i` (0 = oldest) in *out: yours, am_msg_free().
 * AM_OK or AM_ENOTFOUND (i out of range). Thread safety: safe. */
AM_API am_status am_conv_get(am_conv *conv, size_t i, am_msg **out);

/* Append references to all messages, oldest first, to `out`.
 * AM_OK or AM_ENOMEM (`out` unchanged). Thread safety: safe. */
AM_API am_status am_conv_all(am_conv *conv, am_msg_list *out);

/* Append references to the `n` most recent messages (all if fewer), oldest
 * first; each reference in `out` is the list's (am_msg_list_free). AM_OK
 * or AM_ENOMEM (`out` unchanged). Thread safety: safe. */
AM_API am_status am_conv_recent(am_conv *conv, size_t n, am_msg_list *out);

/* Append references to the messages with `role`, oldest first (held by
 * `out`, as am_conv_recent). AM_OK, AM_EINVAL (role out of range) or
 * AM_ENOMEM (`out` unchanged). Thread safety: safe. */
AM_API am_status am_conv_by_role(am_conv *conv, am_role role,
                                  am_msg_list *out);

/* Remove every message. AM_OK, or AM_EIO when a persistent log write
 * fails (then nothing is removed). Thread safety: safe. */
AM_API am_status am_conv_clear(am_conv *conv);

/* Serialize the conversation in format `fmt` (see am_msgs_to_json),
 * replacing the contents of `out` (yours). AM_OK, AM_EINVAL (NULL
 * argument, or the conversation cannot be expressed in `fmt`: the detail
 * names the message index) or AM_ENOMEM. Thread safety: safe. */
AM_API am_status am_conv_to_json(am_conv *conv, am_format fmt,
                                 unsigned flags, am_buf *out);

/* Replace the contents with the conversation in `text` (format `fmt`;
 * `text` is borrowed for the call, messages are copied). On any error the
 * contents are unchanged and the detail names the position (message index
 * and field, or line/column/byte): AM_EFORMAT (malformed JSON, invalid
 * UTF-8, wrong types), AM_EINVAL (a message breaks am_msg_validate),
 * AM_ELIMIT (a message over max_msg_bytes), AM_ENOMEM, AM_EIO (persistent
 * log). Thread safety: safe. */
AM_API am_status am_conv_from_json(am_conv *conv, am_format fmt,
                                   am_str text);

/* Save to `path` atomically (path.tmp, fsync, rename, fsync of the
 * directory). AM_OK, AM_EIO, AM_EINVAL (not expressible in `fmt`),
 * AM_ENOMEM. Thread safety: safe. */
AM_API am_status am_conv_save(am_conv *conv, const char *path,
                              am_format fmt);

/* Load `path` (format `fmt`), replacing the contents. A corrupt or
 * truncated file is AM_EFORMAT naming line, column and byte; a missing
 * one AM_ENOTFOUND. On failure the contents are unchanged.
 * Thread safety: safe. */
AM_API am_status am_conv_load(am_conv *conv, const char *path,
                              am_format fmt);

typedef struct am_conv_stats {
    size_t count;                       /* messages */
    size_t by_role[AM_ROLE_COUNT];      /* messages per role */
    size_t chars_by_role[AM_ROLE_COUNT];/* plain-text characters (code
                                           points, am_msg_text) per role */
    size_t text_bytes;                  /* plain-text bytes, all roles */
    size_t bytes;                       /* am_msg_size() summed */
    size_t tool_calls;                  /* tool calls in all messages */
} am_conv_stats;

/* Fill *out with statistics of the conversation. Average length of a role
 * is chars_by_role[r] / by_role[r]. AM_OK, AM_EINVAL (NULL argument) or
 * AM_ENOMEM. Thread safety: safe. */
AM_API am_status am_conv_stats_get(am_conv *conv, am_conv_stats *out);

/* Fill *out with statistics of a list of messages (same definitions;
 * `msgs` borrowed for the call; no entry may be NULL). No errors.
 * Thread safety: safe for frozen messages. */
AM_API void am_msgs_stats(const am_msg *const *msgs, size_t count,
                          am_conv_stats *out);

/* ---- The multi-agent manager ---- */

typedef enum am_retention {
    AM_RETAIN_SESSION = 0,    /* kept while the manager lives */
    AM_RETAIN_SINGLE_RUN = 1, /* emptied by am_convmgr_end_run() */
    AM_RETAIN_PERSISTENT = 2  /* logged under opts.dir, restored on open */
} am_retention;

/* "session", "single_run", "persistent"; "?" out of range. Static text.
 * Thread safety: safe. */
AM_API const char *am_retention_name(am_retention r);
/* Parse a retention name (as am_retention_name spells it). AM_OK or
 * AM_EINVAL naming it in `err`. Thread safety: safe. */
AM_API am_status am_retention_parse(am_str name, am_retention *out,
                                    am_error *err);

typedef struct am_convmgr am_convmgr;

typedef struct am_convmgr_opts {
    const am_allocator *alloc;
    const am_clock *clock;
    const am_rng *rng;
    am_retention default_retention; /* for agents first seen by get */
    size_t max_messages_per_agent;  /* 0: unlimited */
    size_t max_msg_bytes;           /* 0: no limit */
    const char *dir;   /* directory of persistent logs (created if missing;
                          copied). NULL: PERSISTENT is refused. */
    bool no_sync;      /* true: skip fsync per record (tests, bulk loads);
                          a crash may then lose recent records */
} am_convmgr_opts;

/* Defaults: SESSION, 1000 messages per agent,
 * AM_MSG_DEFAULT_MAX_BYTES, no dir, fsync on. Returned by value; no
 * errors. Thread safety: safe. */
AM_API am_convmgr_opts am_convmgr_opts_default(void);

/* Open a manager. `opts` may be NULL (defaults); it is copied (dir too),
 * the allocator/clock/rng are borrowed until close. With opts->dir, every
 * agent log found there is restored (as PERSISTENT); a torn or corrupt
 * last record of a log is dropped and truncated away; corruption before
 * the last record is AM_EFORMAT naming the file and byte offset. Each log
 * is locked (flock) while the manager is open: a second manager on the
 * same directory, in this process or another, gets AM_EBUSY. Other
 * errors: AM_EINVAL (NULL out), AM_EIO (directory or log unreadable),
 * AM_ENOMEM. *out is yours: am_convmgr_close(); NULL on failure.
 * Thread safety: safe. */
AM_API am_status am_convmgr_open(const am_convmgr_opts *opts,
                                 am_convmgr **out, am_error *err);

/* Close the manager and free its conversations (references to messages
 * handed out stay valid). NULL: no-op. Thread safety: unsafe (no call may
 * be in flight, and no conversation it returned may be in use). */
AM_API void am_convmgr_close(am_convmgr *mgr);

/* Detail of this thread's most recent failed call on `mgr`, as
 * am_conv_last_error (per thread; NULL `mgr`: a static AM_EINVAL detail).
 * Thread safety: safe. */
AM_API const am_error *am_convmgr_last_error(const am_convmgr *mgr);

/* The conversation of `agent` (created empty with the default retention if
 * new) in *out: owned by the manager, valid until am_convmgr_close(). For
 * a PERSISTENT agent, every change made through it is logged. AM_OK,
 * AM_EINVAL (empty name or invalid UTF-8), AM_ENOMEM, AM_EIO.
 * Thread safety: safe. */
AM_API am_status am_convmgr_get(am_convmgr *mgr, am_str agent,
                                am_conv **out);

/* True when the manager has a conversation for `agent` (`agent` borrowed
 * for the call). No errors. Thread safety: safe. */
AM_API bool am_convmgr_has(am_convmgr *mgr, am_str agent);

/* Set the retention policy of `agent` (created if new). Becoming
 * PERSISTENT writes the current messages to a fresh log; leaving it
 * removes the log. AM_OK, AM_EINVAL (PERSISTENT without a dir), AM_EIO,
 * AM_ENOMEM. Thread safety: safe. */
AM_API am_status am_convmgr_set_retention(am_convmgr *mgr, am_str agent,
                                          am_retention r);

/* The policy of `agent` (the default for unknown agents). No errors.
 * Thread safety: safe. */
AM_API am_retention am_convmgr_retention(am_convmgr *mgr, am_str agent);

/* Empty the conversation of `agent` (logged for PERSISTENT). AM_OK,
 * AM_ENOTFOUND, AM_EIO. Thread safety: safe. */
AM_API am_status am_convmgr_clear(am_convmgr *mgr, am_str agent);

/* Empty every conversation (logged for PERSISTENT agents). AM_OK or the
 * first failure, AM_EIO when a log write failed (that conversation keeps
 * its messages; every other one is still emptied).
 * Thread safety: safe. */
AM_API am_status am_convmgr_clear_all(am_convmgr *mgr);

/* End of an agent run: empty every SINGLE_RUN conversation. AM_OK, or
 * AM_EINVAL for a NULL manager. Thread safety: safe. */
AM_API am_status am_convmgr_end_run(am_convmgr *mgr);

/* Append the agent names, sorted, as NUL-separated strings to `out`
 * (yours; "a\0b\0"), and their number to *count (may be NULL). AM_OK,
 * AM_EINVAL (NULL mgr/out) or AM_ENOMEM (`out` and *count unchanged).
 * Thread safety: safe. */
AM_API am_status am_convmgr_agents(am_convmgr *mgr, am_buf *out,
                                   size_t *count);

#ifdef __cplusplus
}
#endif
#endif
