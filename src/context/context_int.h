/* context_int.h -- internals shared by the context-window module.
 *
 * The trimming and summarizing algorithms work on light views of messages
 * (role, tool-call ids, token count) rather than on am_msg itself, so that
 * they can be tested on their own and the adapter from the message core is
 * one small function.
 */
#ifndef AM_CONTEXT_INT_H
#define AM_CONTEXT_INT_H

#include <stdbool.h>
#include <stddef.h>

#include "agentmem/buf.h"
#include "agentmem/status.h"
#include "core/core.h"

/* Count tokens of a text. */
typedef size_t (*am__count_fn)(void *ctx, const char *s, size_t len);

/* The default estimate: one token per 4 bytes, rounded up. */
size_t am__count_estimate(void *ctx, const char *s, size_t len);

/* ---- Extractive summarizer ---- */

typedef struct am__xitem {
    const char *role;   /* "user", "assistant", "tool", "system", ... */
    am_str text;        /* content (for a tool call: its arguments) */
    am_str tool_name;   /* tool called, or tool that produced a result */
    bool is_tool_call;
    bool is_tool_result;
    bool is_error;      /* tool result flagged as an error */
    bool same_msg;      /* another piece of the previous item's message */
} am__xitem;

/* Summarize `items` (plus an optional previous summary made by this
 * function, merged incrementally) into at most `budget` tokens counted by
 * `count`, replacing the contents of `out`. Deterministic: the same input
 * gives the same bytes. `markers` is a comma-separated list of importance
 * words (may be empty). */
am_status am__xsum(const am_allocator *a, am_str prev_summary,
                   const am__xitem *items, size_t n, size_t budget,
                   am_str markers, am__count_fn count, void *cctx,
                   am_buf *out, am_error *err);

/* The same, where `count` is an exact BPE count (tiktoken-style
 * pre-tokenization): then every space-separated word of a line costs at
 * least one token, a lower bound that lets selection skip a sentence that
 * cannot fit without counting it. The bytes are the same as am__xsum's
 * whenever `words_bound` is a true lower bound of `count`. */
am_status am__xsum_ex(const am_allocator *a, am_str prev_summary,
                      const am__xitem *items, size_t n, size_t budget,
                      am_str markers, am__count_fn count, void *cctx,
                      bool words_bound, am_buf *out, am_error *err);

/* ---- Trimming on views ---- */

enum { AM__W_SYSTEM, AM__W_USER, AM__W_ASSISTANT, AM__W_TOOL, AM__W_OTHER };

typedef struct am__wview {
    int role;                /* AM__W_* */
    const am_str *call_ids;  /* assistant: ids of its tool calls */
    size_t ncalls;
    am_str result_for;       /* tool: the call id it answers */
    bool reasoning_only;     /* only thinking blocks: joins the next turn */
    bool text_only;          /* plain text content: may be cut to fit */
    size_t tokens;
} am__wview;

/* Assign every message to a turn group. group[i] is the index of the first
 * message of i's group, or SIZE_MAX for an orphan tool result (no earlier
 * call with its id) that can never be sent. */
am_status am__wgroups(const am_allocator *a, const am__wview *v, size_t n,
                      size_t *group, am_error *err);

#endif
