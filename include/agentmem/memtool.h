/* memtool.h -- Anthropic's file-style memory tool, executed on the store.
 *
 * Models given the memory tool (type "memory_20250818") send commands --
 * view, create, str_replace, insert, delete, rename -- on paths under
 * /memories. agentmem runs them against the store: one virtual tree per
 * user, kept as items in the namespace ("memtool", user_id) whose keys are
 * normalized paths and whose values are the file texts. Nothing touches
 * the host file system, so no reply can reveal a host path.
 *
 * Paths are normalized ("//" and "." collapse) and confined: "..", paths
 * outside /memories (including "/memories_backup/..."), NUL and control
 * bytes, backslashes, URL-encoded dots or slashes and paths over 1024
 * bytes are answered with "The path P does not exist. Please provide a
 * valid path." Input that is not valid UTF-8 anywhere (a path included:
 * JSON is UTF-8 text) is answered with "Error: the tool input is not
 * valid UTF-8 (byte N)", N its first bad byte. Replies follow the texts
 * of Anthropic's documentation for the tool.
 */
#ifndef AGENTMEM_MEMTOOL_H
#define AGENTMEM_MEMTOOL_H

#include "store.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Execute one command: `input` is the tool_use block's "input" object
 * ({"command": ..., "path": ...}). The reply text goes into `out`
 * (replacing it) and *is_error (may be NULL) is set to 1 when the reply is
 * an error for the model. Malformed commands (not JSON, unknown command,
 * missing or mistyped fields) are error replies, not failures: the call
 * returns AM_OK. AM_EINVAL is the caller's bug: NULL `s` or `out`, an
 * empty user id. Other statuses are store failures (AM_EIO, AM_EBUSY,
 * AM_ENOMEM), with detail in am_store_last_error. Thread safety: safe. */
AM_API am_status am_memtool_exec(am_store *s, am_str user_id, am_str input,
                                 am_buf *out, int *is_error);

/* Execute a whole tool_use block ({"type":"tool_use","id","name","input"})
 * and write the tool_result block {"type":"tool_result","tool_use_id",
 * "content", "is_error"?} into `out` ("is_error":true only for an error
 * reply). AM_EFORMAT when `call` is not JSON or has no string "id";
 * otherwise as am_memtool_exec. Thread safety: safe. */
AM_API am_status am_memtool_call(am_store *s, am_str user_id, am_str call,
                                 am_buf *out);

/* The tool entry for a request's "tools" list:
 * {"type":"memory_20250818","name":"memory"}, into `out` (replacing it).
 * AM_EINVAL for NULL `out`, AM_ENOMEM. Thread safety: safe. */
AM_API am_status am_memtool_def(am_buf *out);

#ifdef __cplusplus
}
#endif
#endif
