/* msg_int.h -- the inside of am_msg and am_conv, shared by src/msg (internal).
 *
 * A message is its fields (am__msg_fields: plain am_str views and arrays)
 * plus the arena that owns their bytes. A message built in one go (parsed,
 * copied into a conversation) is "compact": am__msg_build sizes the arena's
 * first block to hold the struct and every byte, so it is one allocation.
 * A message edited with setters grows its arena in small blocks.
 */
#ifndef AM_MSG_INT_H
#define AM_MSG_INT_H

#include <pthread.h>
#include <stdatomic.h>

#include "agentmem/conv.h"
#include "agentmem/msg.h"
#include "core/core.h"
#include "core/errtab.h"

typedef struct am__msg_fields {
    am_role role;
    am_content_kind kind;
    bool has_agent;
    am_action action;
    int64_t created_ms;
    am_str id;
    am_str name;
    am_str content;      /* TEXT: the text; JSON: compact JSON text */
    am_str tool_call_id;
    am_str structured;   /* compact JSON or empty */
    am_str thought;
    am_str action_input; /* compact JSON object or empty */
    am_part *parts;
    size_t nparts;
    am_tool_call *tcs;
    size_t ntcs;
    am_agent_call *acs;
    size_t nacs;
    am_str *images;
    size_t nimages;
} am__msg_fields;

/* What a message needs from its creator to make ids, times and checks. */
typedef struct am__msg_env {
    const am_allocator *alloc;
    const am_clock *clock;
    const am_rng *rng;
    size_t max_bytes;
} am__msg_env;

/* The environment of `opts` (NULL: am_msg_opts_default()'s). */
am__msg_env am__msg_env_of(const am_msg_opts *opts);

struct am_msg {
    atomic_uint refs;
    atomic_bool frozen;
    size_t max_bytes;  /* for setters; the allocator is ar.alloc */
    am__arena ar;
    size_t cap_parts, cap_tcs, cap_acs, cap_images; /* mutable growth */
    am__msg_fields f;
};

/* Build a compact frozen-or-not message from `f` (every string and array
 * copied). AM_OK or AM_ENOMEM. */
am_status am__msg_build(const am__msg_fields *f, const am__msg_env *env,
                        am_msg **out);

/* A new UUIDv7 from env's clock and rng (or the fast per-thread rng). */
void am__msg_new_id(const am__msg_env *env, char out[37]);

/* Read the clock once: a new id for that time into `out`, and the time
 * (for created_ms) returned. */
int64_t am__msg_stamp(const am__msg_env *env, char out[37]);

/* The environment a message's setters check against. */
#define AM__MSG_ENV(m)                                                       \
    (&(am__msg_env){ (m)->ar.alloc, NULL, NULL, (m)->max_bytes })

/* Copy `s` (a part) into `ar`; on failure set *oom and return "" (the
 * caller checks *oom once after a series of copies). */
am_str am__msg_str_copy(am__arena *ar, am_str s, bool *oom);
void am__msg_part_copy(am__arena *ar, am_part *d, const am_part *s,
                       bool *oom);

/* Check `s` is valid UTF-8 and within env->max_bytes; `field` names it. */
am_status am__msg_check_str(const am__msg_env *env, am_str s,
                            const char *field, am_error *err);

/* Check a part: type, UTF-8 and size of each string, fields its type
 * uses (others must be empty), required fields. JSON is not checked. */
am_status am__msg_check_part(const am__msg_env *env, const am_part *p,
                             am_error *err);

/* The rules of structured agent content (msg.h, am_agent_content);
 * `input` is compact JSON or empty. AM_OK or AM_EINVAL naming the field. */
am_status am__msg_agent_validate(am_action action, am_str input,
                                 am_error *err);

/* ---- Conversations ---- */

/* A change about to be made to a conversation, offered to its hook (the
 * manager's persistent log) before it is applied. */
typedef enum am__conv_op {
    AM__CONV_ADD = 1,     /* msgs[0..count) appended */
    AM__CONV_CLEAR = 2,   /* everything removed */
    AM__CONV_REPLACE = 3  /* contents replaced by msgs[0..count) */
} am__conv_op;

/* Called with the conversation locked. A non-OK return vetoes the change
 * (the hook has put the detail in `err`). */
typedef am_status (*am__conv_hook)(void *ctx, am__conv_op op,
                                   am_msg *const *msgs, size_t count,
                                   am_error *err);

struct am_conv {
    pthread_mutex_t mu;
    am_conv_opts opts;
    am__msg_env env;
    am_msg **items;   /* live messages are items[start .. start + count) */
    size_t start;
    size_t count;
    size_t cap;
    am__errtab errs;    /* error detail per thread (core/errtab.h) */
    am__conv_hook hook;
    void *hook_ctx;
};

/* Install (or remove, hook NULL) the change hook. Takes the lock. */
void am__conv_set_hook(am_conv *conv, am__conv_hook hook, void *ctx);

/* Parse a conversation (agentmem format) from text, appending frozen
 * messages to `out`. The fast path behind am_conv_load. */
am_status am__conv_parse(const am__msg_env *env, am_str text,
                         const char *what, am_msg_list *out, am_error *err);

#endif
