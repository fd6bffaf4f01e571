/* react.h -- structured memory for a ReAct agent.
 *
 * A ReAct agent thinks, acts (calls a tool), observes the result, and
 * repeats. am_react keeps what such an agent needs to remember about its
 * run, as plain records rather than one growing prompt:
 *
 *   - the conversation (role + content + time);
 *   - tool executions (tool, parameters JSON, success, result JSON or error
 *     text, execution time, time stamp);
 *   - the reasoning trace (THINK / ACT / OBSERVE steps);
 *   - a context dictionary (string keys, JSON values);
 *   - todos (id, content, status, priority);
 *   - an optional domain record of the caller's own type, which travels
 *     with export/import through serialize/deserialize callbacks.
 *
 * Queries return indices into the lists; records are read with the *_at
 * accessors. Statistics count messages by role, tool executions, steps,
 * todos and their sizes.
 * Hooks run after every successful update; a failing hook is counted and
 * its message kept, and never undoes or fails the update.
 *
 *     am_react *m = NULL;
 *     am_react_create(NULL, &m, NULL);
 *     am_react_add_message(m, AM_STR("user"), AM_STR("What is 6*7?"));
 *     am_react_add_step(m, AM_STEP_THINK, AM_STR("use the calculator"));
 *     am_react_tool_exec e = { .tool = AM_STR("calculator"),
 *         .params_json = AM_STR("{\"expression\":\"6 * 7\"}"),
 *         .success = true, .result_json = AM_STR("{\"calculation\":42}"),
 *         .duration_us = 150000 };
 *     am_react_add_tool_exec(m, &e);
 *     am_buf json = AM_BUF_INIT;
 *     am_react_export(m, &json);       // lossless; am_react_import reads it
 *     am_buf_free(&json);
 *     am_react_free(m);
 */
#ifndef AGENTMEM_REACT_H
#define AGENTMEM_REACT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "alloc.h"
#include "buf.h"
#include "clock.h"
#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct am_react am_react;

typedef struct am_react_opts {
    const am_allocator *alloc; /* NULL: default */
    const am_clock *clock;     /* NULL: system clock; time stamps */
    /* Automatic pruning: when an add takes
     * a list to 1.2 times its limit, the memory runs am_react_prune with
     * these limits, so it shrinks back to the limit (keeping system
     * messages, dropping duplicates) and the caller never has to. The
     * slack keeps pruning to one pass per 20% of growth. 0: no limit for
     * that list (the default; 100 messages, 50 tool executions and 200
     * steps are common choices). */
    size_t max_messages;
    size_t max_tool_execs;
    size_t max_steps;
} am_react_opts;

/* Options with defaults. Thread safety: safe. */
AM_API am_react_opts am_react_opts_default(void);

/* Create an empty memory. `opts` may be NULL; the allocator and clock are
 * borrowed and must outlive the memory. AM_OK or AM_ENOMEM.
 * Thread safety: safe. */
AM_API am_status am_react_create(const am_react_opts *opts, am_react **out,
                                 am_error *err);

/* Free the memory, its records and its domain record (through the domain
 * type's free callback). NULL: no-op. Thread safety: unsafe (ends its
 * life: no other call may be in flight). */
AM_API void am_react_free(am_react *m);

/* Detail of this thread's most recent failed call on `m` (code AM_OK and
 * "" when none), owned by `m` and valid until this thread's next call on
 * it: other threads' failures never change it. NULL `m`: a static
 * AM_EINVAL detail. Thread safety: safe. */
AM_API const am_error *am_react_last_error(const am_react *m);

/* ---- Conversation ---- */

typedef struct am_react_message {
    am_str role;     /* owned by the memory */
    am_str content;  /* owned by the memory */
    int64_t ts_ms;
} am_react_message;

/* Append a message; role and content are copied (UTF-8; role non-empty,
 * at most 32 bytes). The time stamp comes from the clock. AM_OK, AM_EINVAL
 * (empty role), AM_EFORMAT (bad UTF-8, naming the byte, or a role over 32
 * bytes) or AM_ENOMEM; the memory is unchanged on failure.
 * Thread safety: safe. */
AM_API am_status am_react_add_message(am_react *m, am_str role,
                                      am_str content);

/* Number of messages. Thread safety: safe. */
AM_API size_t am_react_message_count(const am_react *m);

/* Message `i` (0 = oldest); the strings are owned by the memory and valid
 * until the next modifying call. AM_OK, AM_EINVAL (NULL m or out) or
 * AM_ENOTFOUND (i out of range).
 * Thread safety: safe to call; the strings are borrowed from the
 * memory, so read them only while no other thread modifies it. When
 * other threads may, use am_react_message_copy. */
AM_API am_status am_react_message_at(const am_react *m, size_t i,
                                     am_react_message *out);

/* As am_react_message_at, but the strings are copied, under the memory's
 * lock, into `text` (its contents replaced; yours, reuse it across calls,
 * free with am_buf_free): out's strings point into `text` and stay valid
 * whatever other threads do to the memory, until you reuse or free
 * `text`. Each string is NUL-terminated. AM_OK, AM_EINVAL (NULL m, out
 * or text), AM_ENOTFOUND or AM_ENOMEM (`text` could not grow; detail in
 * am_react_last_error). Thread safety: safe. */
AM_API am_status am_react_message_copy(const am_react *m, size_t i,
                                       am_react_message *out, am_buf *text);

/* Indices of the messages with `role`, oldest first, written to idx[0..cap);
 * returns the total number of matches (which may exceed cap).
 * Thread safety: safe. */
AM_API size_t am_react_messages_by_role(const am_react *m, am_str role,
                                        size_t *idx, size_t cap);

/* ---- Tool executions ---- */

typedef struct am_react_tool_exec {
    am_str tool;         /* tool name, non-empty */
    am_str params_json;  /* JSON value; empty means {} */
    bool success;
    am_str result_json;  /* JSON value; empty means null */
    am_str error;        /* error text when !success (may be empty) */
    int64_t duration_us; /* execution time, >= 0 */
    int64_t ts_ms;       /* 0: now, from the clock */
} am_react_tool_exec;

/* Record one tool execution; every string is copied and each JSON field
 * validated (errors name the field and byte). AM_OK, AM_EINVAL, AM_EFORMAT
 * or AM_ENOMEM; unchanged on failure. Thread safety: safe. */
AM_API am_status am_react_add_tool_exec(am_react *m,
                                        const am_react_tool_exec *e);

/* Number of tool executions. Thread safety: safe. */
AM_API size_t am_react_tool_exec_count(const am_react *m);

/* Execution `i`; strings owned by the memory, valid until the next
 * modifying call. AM_OK, AM_EINVAL (NULL m or out) or AM_ENOTFOUND.
 * Thread safety: safe to call; the strings are borrowed from the memory,
 * so read them only while no other thread modifies it. When other
 * threads may, use am_react_tool_exec_copy. */
AM_API am_status am_react_tool_exec_at(const am_react *m, size_t i,
                                       am_react_tool_exec *out);

/* As am_react_tool_exec_at, with the four strings copied into `text`,
 * as am_react_message_copy does (same ownership and errors).
 * Thread safety: safe. */
AM_API am_status am_react_tool_exec_copy(const am_react *m, size_t i,
                                         am_react_tool_exec *out,
                                         am_buf *text);

typedef enum am_react_outcome {
    AM_REACT_ANY = 0,
    AM_REACT_SUCCEEDED,
    AM_REACT_FAILED
} am_react_outcome;

/* Indices of executions of `tool` (empty: any tool) with `outcome`, oldest
 * first, into idx[0..cap); returns the total number of matches.
 * Thread safety: safe. */
AM_API size_t am_react_find_tool_execs(const am_react *m, am_str tool,
                                       am_react_outcome outcome, size_t *idx,
                                       size_t cap);

/* ---- Reasoning trace ---- */

typedef enum am_step_type {
    AM_STEP_THINK = 0,
    AM_STEP_ACT,
    AM_STEP_OBSERVE
} am_step_type;

typedef struct am_react_step {
    am_step_type type;
    am_str content; /* owned by the memory */
    int64_t ts_ms;
} am_react_step;

/* Append a reasoning step (content copied, UTF-8). AM_OK, AM_EINVAL (type
 * out of range), AM_EFORMAT or AM_ENOMEM. Thread safety: safe. */
AM_API am_status am_react_add_step(am_react *m, am_step_type type,
                                   am_str content);

/* Number of reasoning steps. Thread safety: safe. */
AM_API size_t am_react_step_count(const am_react *m);

/* Step `i`; content owned by the memory, valid until the next modifying
 * call. AM_OK, AM_EINVAL (NULL m or out) or AM_ENOTFOUND.
 * Thread safety: safe to call; the content is borrowed from the memory,
 * so read it only while no other thread modifies it. When other threads
 * may, use am_react_step_copy. */
AM_API am_status am_react_step_at(const am_react *m, size_t i,
                                  am_react_step *out);

/* As am_react_step_at, with the content copied into `text`, as
 * am_react_message_copy does (same ownership and errors).
 * Thread safety: safe. */
AM_API am_status am_react_step_copy(const am_react *m, size_t i,
                                    am_react_step *out, am_buf *text);

/* Indices of the steps of `type` (-1: any), oldest first, considering only
 * the last `recent` steps (0: all); returns the total number of matches.
 * Thread safety: safe. */
AM_API size_t am_react_find_steps(const am_react *m, int type, size_t recent,
                                  size_t *idx, size_t cap);

/* "THINK", "ACT" or "OBSERVE"; "?" out of range (static).
 * Thread safety: safe. */
AM_API const char *am_step_type_name(am_step_type t);

/* ---- Context dictionary ---- */

/* Set `key` (non-empty UTF-8) to the JSON value `value_json` (validated,
 * copied). AM_OK, AM_EINVAL, AM_EFORMAT or AM_ENOMEM.
 * Thread safety: safe. */
AM_API am_status am_react_context_set(am_react *m, am_str key,
                                      am_str value_json);

/* The value of `key` as compact JSON, replacing the contents of `out`.
 * AM_OK, AM_ENOTFOUND or AM_ENOMEM. Thread safety: safe. */
AM_API am_status am_react_context_get(am_react *m, am_str key, am_buf *out);

/* Remove `key`. AM_OK or AM_ENOTFOUND. Thread safety: safe. */
AM_API am_status am_react_context_remove(am_react *m, am_str key);

/* ---- Todos ---- */

typedef enum am_todo_status {
    AM_TODO_PENDING = 0,
    AM_TODO_IN_PROGRESS,
    AM_TODO_DONE
} am_todo_status;

typedef struct am_react_todo {
    am_str id;       /* non-empty */
    am_str content;
    am_todo_status status;
    int priority;    /* higher is more urgent */
} am_react_todo;

/* Insert the todo, or replace the one with the same id (keeping its place).
 * Strings copied. AM_OK, AM_EINVAL, AM_EFORMAT or AM_ENOMEM.
 * Thread safety: safe. */
AM_API am_status am_react_todo_put(am_react *m, const am_react_todo *t);

/* Remove the todo `id`. AM_OK or AM_ENOTFOUND. Thread safety: safe. */
AM_API am_status am_react_todo_remove(am_react *m, am_str id);

/* Number of todos. Thread safety: safe. */
AM_API size_t am_react_todo_count(const am_react *m);

/* Todo `i` in insertion order; strings owned by the memory, valid until
 * the next modifying call. AM_OK, AM_EINVAL (NULL m or out) or
 * AM_ENOTFOUND. Thread safety: safe to call; the strings are borrowed
 * from the memory, so read them only while no other thread modifies it.
 * When other threads may, use am_react_todo_copy. */
AM_API am_status am_react_todo_at(const am_react *m, size_t i,
                                  am_react_todo *out);

/* As am_react_todo_at, with the strings copied into `text`, as
 * am_react_message_copy does (same ownership and errors).
 * Thread safety: safe. */
AM_API am_status am_react_todo_copy(const am_react *m, size_t i,
                                    am_react_todo *out, am_buf *text);

/* "pending", "in_progress" or "done"; "?" out of range (static).
 * Thread safety: safe. */
AM_API const char *am_todo_status_name(am_todo_status s);

/* ---- Statistics ---- */

typedef struct am_react_stats {
    size_t messages;
    size_t user, assistant, system, tool;   /* messages by role */
    double user_avg_len, assistant_avg_len, system_avg_len, tool_avg_len;
    size_t tool_executions;
    double tool_success_rate;               /* 0..1; 0 when none */
    double avg_execution_us;
    size_t steps, think_steps, act_steps, observe_steps;
    size_t todos, todos_done;
    double messages_kb, tools_kb, reasoning_kb, total_kb;
} am_react_stats;

/* Fill `out`. Average lengths are in bytes of content. Sizes count the
 * bytes of message contents, of tool executions (names, params, results,
 * errors) and of step contents. Thread safety: safe. */
AM_API void am_react_stats_get(const am_react *m, am_react_stats *out);

/* The statistics as JSON ({"messages": {"total_messages",
 * "by_role": {...}}, "tools": {..., "tool_usage": {name: count}},
 * "reasoning": {"total_steps", "step_distribution"}, "memory_size": {...},
 * "analysis_timestamp"}), replacing `out`. AM_OK or AM_ENOMEM.
 * Thread safety: safe. */
AM_API am_status am_react_stats_json(am_react *m, am_buf *out);

/* ---- Pruning ---- */

/* Keep the last `max_messages` messages plus every system message, then
 * drop exact duplicates (same role and content; the first copy stays);
 * keep the last `max_tool_execs` executions and the last `max_steps`
 * steps. A limit of 0 leaves that list alone. Never allocates more than a
 * scratch table; AM_OK or AM_ENOMEM (unchanged). Runs the hooks.
 * Thread safety: safe. */
AM_API am_status am_react_prune(am_react *m, size_t max_messages,
                                size_t max_tool_execs, size_t max_steps);

/* ---- Hooks ---- */

typedef enum am_react_event {
    AM_REACT_EV_MESSAGE = 0,
    AM_REACT_EV_TOOL,
    AM_REACT_EV_STEP,
    AM_REACT_EV_CONTEXT,
    AM_REACT_EV_TODO,
    AM_REACT_EV_PRUNE,
    AM_REACT_EV_IMPORT,
    AM_REACT_EV_DOMAIN,
    AM_REACT_EV_SLOT         /* a slot was defined, set or removed */
} am_react_event;

/* Called after each successful update, on the thread that made it, with
 * the memory locked (other threads wait; this thread may read the memory
 * through the API). Returning non-AM_OK (with detail in `err`) counts as
 * a hook failure; the update stands. A hook must not modify the memory. */
typedef am_status (*am_react_hook_fn)(void *ctx, const am_react *m,
                                      am_react_event ev, am_error *err);

/* Add a hook (at most 16). `ctx` is borrowed. AM_OK or AM_ELIMIT.
 * Thread safety: safe. */
AM_API am_status am_react_add_hook(am_react *m, am_react_hook_fn fn,
                                   void *ctx);

/* Number of hook failures so far, and the detail of the latest one (owned
 * by `m`; code AM_OK when none; NULL for a NULL `m`). Thread safety: safe
 * to call; the detail is rewritten by any thread's next hook failure, so
 * read it while no other thread modifies the memory, or copy it with
 * am_react_hook_error_copy. */
AM_API size_t am_react_hook_failures(const am_react *m);
AM_API const am_error *am_react_hook_error(const am_react *m);

/* Copy the detail of the latest hook failure into `out` (yours), under
 * the memory's lock, so no other thread's failure can change it while it
 * is copied. AM_OK or AM_EINVAL (NULL m or out). Thread safety: safe. */
AM_API am_status am_react_hook_error_copy(const am_react *m, am_error *out);

/* ---- Typed slots ----
 *
 * Named values with a declared type, beside the context dictionary (whose
 * values may be anything) and the one domain record: e.g. a "visited"
 * slot of type array, a "preferences" slot of type object. A slot is
 * defined once with its type and first value; every later set must give a
 * value of that type, so code reading the slot can rely on its shape.
 * Values are JSON, stored in compact canonical form and copied out.
 * Slots travel in am_react_export/am_react_import ("slots": {name:
 * {"type", "value"}}), and an import checks each value against its type.
 * Every call holds the memory's lock (thread safety: safe); define, set
 * and remove run the hooks with AM_REACT_EV_SLOT. */

typedef enum am_slot_type {
    AM_SLOT_ANY = 0, /* any JSON value */
    AM_SLOT_OBJECT,
    AM_SLOT_ARRAY,
    AM_SLOT_STRING,
    AM_SLOT_NUMBER,  /* integer or real */
    AM_SLOT_INTEGER,
    AM_SLOT_BOOL
} am_slot_type;

/* "any", "object", "array", "string", "number", "integer", "bool"; "?"
 * out of range. Static text. Thread safety: safe. */
AM_API const char *am_slot_type_name(am_slot_type t);

/* Define slot `name` (non-empty UTF-8, no NUL; copied) of type `type`
 * holding `value_json` (copied). Returns AM_OK; AM_EEXIST when the slot
 * exists (defining it again with the same type just sets the value);
 * AM_EINVAL for a bad name or type; AM_EFORMAT for text that is not JSON;
 * AM_EINVAL naming the slot and both types when the value does not have
 * the type; AM_ENOMEM. On failure the memory is unchanged.
 * Thread safety: safe. */
AM_API am_status am_react_slot_define(am_react *m, am_str name,
                                      am_slot_type type, am_str value_json);

/* Replace the value of slot `name` with `value_json` (copied).
 * AM_ENOTFOUND when no such slot is defined, AM_EFORMAT for text that is
 * not JSON, AM_EINVAL naming the slot, its type and the value's when the
 * types differ, AM_ENOMEM; the slot is unchanged on failure.
 * Thread safety: safe. */
AM_API am_status am_react_slot_set(am_react *m, am_str name,
                                   am_str value_json);

/* Copy slot `name`'s value into `out` as compact JSON (replaced) and its
 * type into *type (may be NULL). AM_ENOTFOUND, AM_EINVAL, AM_ENOMEM.
 * Thread safety: safe. */
AM_API am_status am_react_slot_get(am_react *m, am_str name, am_buf *out,
                                   am_slot_type *type);

/* Remove slot `name`. AM_OK or AM_ENOTFOUND. Thread safety: safe. */
AM_API am_status am_react_slot_remove(am_react *m, am_str name);

/* The names of every slot, sorted, as a JSON array of strings in `out`
 * (replaced). AM_OK, AM_EINVAL or AM_ENOMEM. Thread safety: safe. */
AM_API am_status am_react_slot_names(am_react *m, am_buf *out);

/* ---- Domain memory ---- */

typedef struct am_react_domain_type {
    const char *name; /* stored in the export; must match on import */
    /* Append the record as one JSON value to `out`. */
    am_status (*serialize)(void *ctx, const void *record, am_buf *out,
                           am_error *err);
    /* Build a record from a JSON value; *record yours to keep. */
    am_status (*deserialize)(void *ctx, am_str json, void **record,
                             am_error *err);
    void (*free)(void *ctx, void *record);
    void *ctx;
} am_react_domain_type;

/* Set the domain type (borrowed; must outlive the memory). Frees any
 * current record. AM_OK or AM_EINVAL (a callback missing).
 * Thread safety: safe. */
AM_API am_status am_react_set_domain_type(am_react *m,
                                          const am_react_domain_type *t);

/* Attach `record`: the memory takes it and frees it with the type's free
 * callback (when replaced, or with the memory). AM_OK; AM_ESTATE when no
 * domain type is set, and then, with no free callback to call, `record`
 * stays yours; AM_EINVAL for a NULL `m`. Thread safety: safe. */
AM_API am_status am_react_set_domain(am_react *m, void *record);

/* The attached record (owned by the memory) or NULL. Thread safety: safe
 * to call; the record itself is yours to guard: change it in place only
 * while no other thread uses it, then call am_react_domain_touched. */
AM_API void *am_react_domain(const am_react *m);

/* Run the hooks for a change the caller made to the domain record in
 * place. Thread safety: safe. */
AM_API void am_react_domain_touched(am_react *m);

/* ---- Export / import ---- */

/* The whole memory as one JSON document (format version 1), replacing the
 * contents of `out`. Lossless: importing it gives back the same records,
 * times, context values, todos and domain record (through the domain
 * type). AM_OK, AM_ENOMEM or the serialize callback's status.
 * Thread safety: safe. */
AM_API am_status am_react_export(am_react *m, am_buf *out);

/* Replace the memory's contents with an export. The document is checked
 * completely first; on any error (AM_EFORMAT naming the field and index,
 * e.g. "tool_executions[2].success: expected a boolean"; AM_ESTATE when it
 * holds a domain record of a type not set on `m`) the memory is unchanged.
 * Hooks are kept. Runs the hooks. Thread safety: safe. */
AM_API am_status am_react_import(am_react *m, am_str json);

#ifdef __cplusplus
}
#endif
#endif
