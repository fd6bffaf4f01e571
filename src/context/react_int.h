/* react_int.h -- the inside of am_react, shared by the react*.c files.
 *
 * The handle is four growable arrays of records (messages, tool
 * executions, steps, todos), a jansson object for the context dictionary
 * and an optional domain record, grouped in `lists` so that an import can
 * build a complete second set and swap it in. The helpers below are the
 * ones more than one file needs: owned strings, input checks, building one
 * record from caller input (the add calls and the import share them, so
 * both check the same way), freeing records, and running the hooks.
 */
#ifndef AM_REACT_INT_H
#define AM_REACT_INT_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "agentmem/react.h"
#include "core/core.h"
#include "core/errtab.h"
#include "core/json_glue.h"

#define AM__REACT_MAX_HOOKS 16
/* Lock a (possibly const) handle: the mutex is not part of its value. */
#define AM__REACT_LOCK(m) pthread_mutex_lock(&((am_react *)(uintptr_t)(m))->mu)
#define AM__REACT_UNLOCK(m) pthread_mutex_unlock(&((am_react *)(uintptr_t)(m))->mu)
/* A public call's whole body: `call` under the lock (core.h). */
#define AM__REACT_LOCKED(type, m, call) \
    AM__CALL_LOCKED(type, m, AM__REACT_LOCK, AM__REACT_UNLOCK, call)
#define AM__REACT_LOCKED_VOID(m, call) \
    AM__CALL_LOCKED_VOID(m, AM__REACT_LOCK, AM__REACT_UNLOCK, call)
#define AM__REACT_JSON_FLAGS (JSON_COMPACT | JSON_ENCODE_ANY)

/* A string the handle owns: `len` bytes plus a NUL, or p NULL for none. */
typedef struct ostr {
    char *p;
    size_t len;
} ostr;

typedef struct rmsg {
    ostr role, content;
    int64_t ts;
} rmsg;

typedef struct rtool {
    ostr tool, params, result, error;
    bool success;
    int64_t dur_us, ts;
} rtool;

typedef struct rstep {
    am_step_type type;
    ostr content;
    int64_t ts;
} rstep;

typedef struct rtodo {
    ostr id, content;
    am_todo_status status;
    int priority;
} rtodo;

typedef struct lists {
    rmsg *msgs;
    size_t nmsgs, capmsgs;
    rtool *tools;
    size_t ntools, captools;
    rstep *steps;
    size_t nsteps, capsteps;
    rtodo *todos;
    size_t ntodos, captodos;
    json_t *context;
    /* Typed slots: name -> {"type": name, "value": JSON}; NULL until the
     * first is defined (react_slots.c). */
    json_t *slots;
    void *domain;
} lists;

typedef struct hook {
    am_react_hook_fn fn;
    void *ctx;
} hook;

struct am_react {
    const am_allocator *alloc;
    const am_clock *clock;
    am__errtab errs;    /* error detail per thread (core/errtab.h) */
    /* Held by every public call (recursive: hooks and domain callbacks
     * run under it and may call back into the memory). */
    pthread_mutex_t mu;
    lists d;
    hook hooks[AM__REACT_MAX_HOOKS];
    size_t nhooks;
    size_t hook_failures;
    am_error hook_err;
    const am_react_domain_type *dtype;
    size_t max_msgs, max_tools, max_steps; /* automatic pruning; 0: off */
};

/* ---- Strings (react.c) ---- */

/* Copy `s` into `o` (NUL-terminated). AM_OK or AM_ENOMEM. */
am_status am__react_ostr_set(const am_allocator *a, ostr *o, am_str s);
void am__react_ostr_free(const am_allocator *a, ostr *o);

static inline am_str am__react_ostr_view(const ostr *o)
{
    return (am_str){ o->p != NULL ? o->p : "", o->len };
}

static inline bool am__react_ostr_eq(const ostr *o, am_str s)
{
    return o->len == s.len && (s.len == 0 || memcmp(o->p, s.ptr, s.len) == 0);
}

/* ---- Reading one record (react.c) ----
 *
 * The one body of every record accessor (am_react_message_at / _copy,
 * tool_exec, step, todo). `view` fills `out` with views of record `i`
 * (called with the handle locked) and lists the string fields of `out`
 * in f[0..*nf) (at most AM__REACT_VIEW_MAX). With `text` NULL the views
 * stay borrowed from the handle (the _at calls); otherwise the strings
 * are copied into `text` (replaced) before the lock is released, so they
 * stay valid whatever other threads do to the handle (the _copy calls).
 * AM_OK, AM_EINVAL (NULL m or out), AM_ENOTFOUND (no record `i`) or
 * AM_ENOMEM (text could not grow; the calling thread's error slot says
 * so). */
#define AM__REACT_VIEW_MAX 4
typedef am_status (*am__react_view_fn)(const am_react *m, size_t i,
                                       void *out, am_str **f, size_t *nf);
am_status am__react_read(const am_react *m, size_t i, am__react_view_fn view,
                         void *out, am_buf *text);

/* AM_EINVAL for a NULL pointer with a length, AM_EFORMAT for invalid
 * UTF-8; `what` names the field in the message. */
am_status am__react_check_text(am_error *err, am_str s, const char *what);

/* Parse any JSON value (not only arrays and objects): tool results are
 * often bare strings or numbers. *out yours (json_decref). */
am_status am__react_parse_any(am_str text, const char *what, json_t **out,
                              am_error *err);

/* ---- Typed slots (react_slots.c) ---- */

/* Check a "slots" object of an import document (`v`, may be NULL) and
 * copy it into *out (NULL when empty). Errors name the slot: AM_EFORMAT
 * for an unknown type or a value of the wrong type. */
am_status am__react_slots_import(const json_t *v, json_t **out,
                                 am_error *err);

/* ---- Records (react.c, react_todos.c) ---- */

void am__react_msg_free(const am_allocator *a, rmsg *m);
void am__react_tool_free(const am_allocator *a, rtool *t);
void am__react_todo_free(const am_allocator *a, rtodo *t);

/* Free every record of `d` (and its domain record with `dt`); `d` is left
 * empty. */
void am__react_lists_free(const am_allocator *a, lists *d,
                          const am_react_domain_type *dt);

/* Build one record from caller input, checking it; `where` names it in
 * errors ("message", "todos[3]"). On failure `out` holds nothing. */
am_status am__react_build_msg(const am_allocator *a, am_str role,
                              am_str content, int64_t ts, rmsg *out,
                              const char *where, am_error *err);
/* A ts_ms of 0 in `e` is stamped `now`. */
am_status am__react_build_tool(const am_allocator *a,
                               const am_react_tool_exec *e, int64_t now,
                               rtool *out, const char *where, am_error *err);
am_status am__react_build_todo(const am_allocator *a, const am_react_todo *t,
                               rtodo *out, const char *where, am_error *err);

/* Index of the todo with `id` in `d`, or SIZE_MAX. */
size_t am__react_todo_find(const lists *d, am_str id);

/* The enum value named `s` (as am_step_type_name / am_todo_status_name
 * print it), or -1. */
int am__react_step_type_parse(am_str s);
int am__react_todo_status_parse(am_str s);

/* Call every hook with `ev`; a failing hook is counted and its error kept
 * in hook_err, never returned. */
void am__react_run_hooks(am_react *m, am_react_event ev);

#endif
