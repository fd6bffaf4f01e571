/* window_int.h -- am_msg-level internals of the context-window module. */
#ifndef AM_WINDOW_INT_H
#define AM_WINDOW_INT_H

#include "agentmem/window.h"
#include "context_int.h"

/* Count `m` under `c` with the billed rule (trim.c; `scratch` is unused
 * and may be NULL). */
am_status am__count_msg_buf(const am_counter *c, const am_msg *m,
                            am_buf *scratch, size_t *out, am_error *err);

/* What a message list costs beyond its messages under `c`: the reply
 * priming of the billed rule (3), or 0 with a caller's callback (whose
 * rule is the caller's). */
size_t am__count_list_overhead(const am_counter *c);

/* True when `model` asks for the estimate: NULL, "" or "estimate"
 * (any case). */
bool am__model_is_estimate(const char *model);

/* The counter to use: `given` when it has a tokenizer or a callback;
 * otherwise, for a model that is not the estimate, a tokenizer opened for
 * it (*own, yours: am_tokenizer_free) -- exact for models with an
 * encoding, the catalog's rule for others; otherwise the estimate.
 * `who` prefixes the error ("memory", "trim"), which names the model and
 * the tokenizer's detail (e.g. the rank file not found). */
am_status am__counter_for_model(const am_counter *given, const char *model,
                                const am_models *models,
                                const am_allocator *a, const char *who,
                                am_counter *out, am_tokenizer **own,
                                am_error *err);

/* Whether am__cut_middle can cut `m`: plain text content (any role), no
 * parts. */
bool am__cut_middle_possible(const am_msg *m);

/* `m` with the middle of its text replaced by a visible marker
 * ("[... N tokens cut to fit the context budget ...]", N what the whole
 * message counted), head and tail kept, as long as its count under `c`
 * fits `budget`; role, id, name, time, answered call id and tool calls
 * are kept. *out (yours) is NULL when `m` cannot be cut (see
 * am__cut_middle_possible) or not even the marker alone fits; *tokens
 * gets the count of *out. */
am_status am__cut_middle(const am_msg *m, size_t budget, const am_counter *c,
                         const am_allocator *a, am_msg **out, size_t *tokens,
                         am_error *err);

/* Views of a message list, with their tool-call id storage. */
typedef struct am__views {
    am__wview *v;
    am_str *ids;
    size_t n, nids;
    size_t total; /* tokens of all messages */
    const am_allocator *alloc;
} am__views;

/* Fill `v` from `m`; ids receives its call ids (room for every tool call
 * and tool_use part), *nids how many. */
void am__view_of(const am_msg *m, am__wview *v, am_str *ids, size_t *nids);

am_status am__views_build(const am_allocator *a, const am_msg *const *msgs,
                          size_t count, const am_counter *c,
                          am__views *out, am_error *err);
void am__views_free(am__views *v);

/* Extractive summary of messages (the offline summarizer's body). */
am_status am__xsum_msgs(const am_allocator *a, am_str prev,
                        const am_msg *const *msgs, size_t count,
                        size_t budget, am_str markers, const am_counter *c,
                        am_buf *out, am_error *err);

/* The summary message: system role, name "summary", text
 * "[Compressed Summary] <summary>". *out yours. */
am_status am__summary_msg(const am_allocator *a, am_str summary,
                          am_msg **out, am_error *err);

/* am_summarizer_create and am_summarizer_offline with the allocator of
 * the summarizer and of its calls' scratch (NULL: default): the memory
 * manager and am_summarize make their built-in offline summarizer with
 * their own allocator. */
am_status am__summarizer_create(const am_allocator *a,
                                const am_summarizer_vtable *vt, void *ctx,
                                size_t input_limit, am_summarizer **out,
                                am_error *err);
am_status am__summarizer_offline(const am_allocator *a,
                                 const am_counter *counter, am_str markers,
                                 am_summarizer **out, am_error *err);

/* First index of the kept tail holding the last `keep_last` non-system
 * messages, moved earlier so no turn group is split (group from
 * am__wgroups). */
size_t am__keep_boundary(const am__wview *v, const size_t *group, size_t n,
                         size_t keep_last);

#endif
