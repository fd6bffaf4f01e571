/* memory_int.h -- the inside of am_memory, shared by the memory*.c files.
 *
 * The manager is an array of entries (a message reference and its local
 * token count) plus one running summary, a hash set of the tool-call ids
 * in the context, and its statistics. memory.c adds messages and keeps the
 * id set; memory_compress.c compresses, enforces max_context_tokens and
 * clears old tool results; memory_io.c reports statistics and exports and
 * imports the whole state.
 */
#ifndef AM_MEMORY_INT_H
#define AM_MEMORY_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agentmem/window.h"
#include "core/core.h"
#include "core/errtab.h"

/* Lock a (possibly const) handle: the mutex is not part of its value. */
#define AM__MEMORY_LOCK(m) pthread_mutex_lock(&((am_memory *)(uintptr_t)(m))->mu)
#define AM__MEMORY_UNLOCK(m) pthread_mutex_unlock(&((am_memory *)(uintptr_t)(m))->mu)
/* A public call's whole body: `call` under the lock (core.h). */
#define AM__MEMORY_LOCKED(type, m, call) \
    AM__CALL_LOCKED(type, m, AM__MEMORY_LOCK, AM__MEMORY_UNLOCK, call)
#define AM__MEMORY_LOCKED_VOID(m, call) \
    AM__CALL_LOCKED_VOID(m, AM__MEMORY_LOCK, AM__MEMORY_UNLOCK, call)

typedef struct entry {
    am_msg *msg;   /* one reference */
    size_t tokens; /* local count */
    bool cleared;  /* tool result replaced by a placeholder */
    /* A tool result answering no call in the context: never sent, not
     * counted in the context, folded into the next summary. */
    bool orphan;
} entry;

struct am_memory {
    am_memory_opts o;
    am__errtab errs;    /* error detail per thread (core/errtab.h) */
    /* Held by every public call (recursive: the summarizer runs under it
     * and may call back into the manager). */
    pthread_mutex_t mu;
    entry *e;
    size_t n, cap;
    am_buf summary;         /* running summary ("" none) */
    am_msg *summary_msg;    /* NULL when no summary */
    size_t summary_tokens;
    size_t context_tokens;  /* sum of entries + summary (local count) */
    double calib;
    size_t calib_samples;
    am_summarizer *own;     /* the offline summarizer when none given */
    am_tokenizer *tz;       /* opened for config.model when no counter */
    am_model_info model;
    am_buf scratch;
    /* Tool-call ids of the entries (borrowed from their frozen messages),
     * open addressing; rebuilt whenever entries go away. */
    am_str *ids;
    size_t ids_n, ids_cap;
    /* Statistics. */
    size_t total_tokens, added, compressions, saved, cost_tokens;
    size_t tool_cleared, tool_tokens_cleared;
    int64_t in_reported, out_reported;
    double cost;
    double compress_usd; /* what the summarizer's calls cost */
    bool compressed_last;
    int64_t last_savings;
    bool have_record;
    am_compressed_memory rec;
};

/* `tokens` scaled by the calibration factor: what the provider would
 * count. Every comparison with a configured limit goes through this. */
static inline size_t am__memory_effective(const am_memory *m, size_t tokens)
{
    return (size_t)((double)tokens * m->calib + 0.5);
}

/* ---- The set of call ids in the context (memory.c) ---- */

/* Tool calls `x` makes (tool_calls and tool_use parts). */
size_t am__memory_call_count(const am_msg *x);

/* After entries went away: the set again holds exactly their ids. The
 * table keeps its size, so this cannot fail. */
void am__memory_ids_rebuild(am_memory *m);

/* ---- Compression (memory_compress.c) ---- */

/* Replace the summary message (NULL: none) and its count in the context
 * tokens; `msg` becomes the manager's. */
void am__memory_set_summary_msg(am_memory *m, am_msg *msg, size_t tokens);

/* Compress the entries once with the configured strategy. *did says
 * whether anything changed; on failure nothing did. */
am_status am__memory_compress_once(am_memory *m, bool *did);

/* Past max_context_tokens: drop the oldest groups (never system
 * messages, the last group or the newest user turn's), then cut the
 * largest plain-text messages; AM_ELIMIT (nothing changed) when what
 * must stay cannot fit. */
am_status am__memory_enforce_max(am_memory *m);

/* Replace old tool results by placeholders, all at once and only when
 * that clears at least tool_clear_at_least tokens. */
am_status am__memory_clear_tools(am_memory *m);

#endif
