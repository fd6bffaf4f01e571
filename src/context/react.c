/* react.c -- structured memory for a ReAct agent.
 *
 * Four growable arrays of records (messages, tool executions, steps,
 * todos), a jansson object for the context dictionary, and an optional
 * caller-typed domain record. Every string is copied into its own block;
 * JSON fields (tool params and results, context values) are validated and
 * stored in compact canonical form, so export -> import -> export is
 * byte-stable.
 *
 * Import builds a complete second set of lists and swaps it in only when
 * the whole document has been read, so a bad document changes nothing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agentmem/react.h"
#include "context_int.h"
#include "core/core.h"
#include "core/json_glue.h"

#define MAX_HOOKS 16
#define ROLE_MAX 32
#define JSON_FLAGS (JSON_COMPACT | JSON_ENCODE_ANY)

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
    void *domain;
} lists;

typedef struct hook {
    am_react_hook_fn fn;
    void *ctx;
} hook;

struct am_react {
    const am_allocator *alloc;
    const am_clock *clock;
    am_error err;
    lists d;
    hook hooks[MAX_HOOKS];
    size_t nhooks;
    size_t hook_failures;
    am_error hook_err;
    const am_react_domain_type *dtype;
};

/* ---- Strings ---- */

static am_status ostr_set(const am_allocator *a, ostr *o, am_str s)
{
    char *p = am__strndup(a, s.ptr != NULL ? s.ptr : "", s.len);
    if (p == NULL)
        return AM_ENOMEM;
    o->p = p;
    o->len = s.len;
    return AM_OK;
}

static void ostr_free(const am_allocator *a, ostr *o)
{
    if (o->p != NULL)
        am__free(a, o->p, o->len + 1);
    o->p = NULL;
    o->len = 0;
}

static am_str ostr_view(const ostr *o)
{
    return (am_str){ o->p != NULL ? o->p : "", o->len };
}

static bool ostr_eq(const ostr *o, am_str s)
{
    return o->len == s.len && (s.len == 0 || memcmp(o->p, s.ptr, s.len) == 0);
}

static am_status check_text(am_error *err, am_str s, const char *what)
{
    size_t bad = 0;
    if (s.ptr == NULL && s.len > 0)
        return am__fail(err, AM_EINVAL, "%s: NULL pointer", what);
    if (s.len > 0 && !am__utf8_valid(s.ptr, s.len, &bad))
        return am__fail(err, AM_EFORMAT, "%s: invalid UTF-8 at byte %zu",
                        what, bad);
    return AM_OK;
}

/* Like am__json_parse, but any JSON value (not only arrays and objects)
 * is accepted: tool results are often bare strings or numbers. */
static am_status parse_any(am_str text, const char *what, json_t **out,
                           am_error *err)
{
    json_error_t jerr;
    json_t *v = json_loadb(text.ptr != NULL ? text.ptr : "", text.len,
                           JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
    *out = v;
    if (v != NULL)
        return AM_OK;
    if (strstr(jerr.text, "out of memory") != NULL)
        return am__fail(err, AM_ENOMEM, "%s: out of memory", what);
    return am__fail(err, AM_EFORMAT, "%s: %s at line %d, column %d (byte %d)",
                    what, jerr.text, jerr.line, jerr.column, jerr.position);
}

/* Validate `s` as one JSON value and store its compact form. */
static am_status json_canon(const am_allocator *a, am_str s,
                            const char *dflt, const char *what, ostr *out,
                            am_error *err)
{
    json_t *v = NULL;
    am_buf b = AM_BUF_INIT;
    am_status st;

    if (s.len == 0)
        s = am_str_c(dflt);
    b.alloc = a;
    st = parse_any(s, what, &v, err);
    if (st != AM_OK)
        return st;
    st = am__json_dump(v, JSON_FLAGS, &b, err);
    json_decref(v);
    if (st != AM_OK) {
        am_buf_free(&b);
        return st;
    }
    /* Hand the buffer's memory over; its size is cap, not len + 1. */
    st = ostr_set(a, out, am_buf_str(&b));
    am_buf_free(&b);
    if (st != AM_OK)
        return am__fail(err, AM_ENOMEM, "%s: out of memory", what);
    return AM_OK;
}

/* ---- Lists ---- */

static void msg_free(const am_allocator *a, rmsg *m)
{
    ostr_free(a, &m->role);
    ostr_free(a, &m->content);
}

static void tool_free(const am_allocator *a, rtool *t)
{
    ostr_free(a, &t->tool);
    ostr_free(a, &t->params);
    ostr_free(a, &t->result);
    ostr_free(a, &t->error);
}

static void todo_free(const am_allocator *a, rtodo *t)
{
    ostr_free(a, &t->id);
    ostr_free(a, &t->content);
}

static void lists_free(const am_allocator *a, lists *d,
                       const am_react_domain_type *dt)
{
    for (size_t i = 0; i < d->nmsgs; i++)
        msg_free(a, &d->msgs[i]);
    am__free(a, d->msgs, d->capmsgs * sizeof *d->msgs);
    for (size_t i = 0; i < d->ntools; i++)
        tool_free(a, &d->tools[i]);
    am__free(a, d->tools, d->captools * sizeof *d->tools);
    for (size_t i = 0; i < d->nsteps; i++)
        ostr_free(a, &d->steps[i].content);
    am__free(a, d->steps, d->capsteps * sizeof *d->steps);
    for (size_t i = 0; i < d->ntodos; i++)
        todo_free(a, &d->todos[i]);
    am__free(a, d->todos, d->captodos * sizeof *d->todos);
    if (d->context != NULL)
        json_decref(d->context);
    if (d->domain != NULL && dt != NULL)
        dt->free(dt->ctx, d->domain);
    memset(d, 0, sizeof *d);
}

static void run_hooks(am_react *m, am_react_event ev)
{
    for (size_t i = 0; i < m->nhooks; i++) {
        am_error e;
        am_error_clear(&e);
        am_status st = m->hooks[i].fn(m->hooks[i].ctx, m, ev, &e);
        if (st != AM_OK) {
            m->hook_failures++;
            if (e.code == AM_OK || e.msg[0] == '\0')
                am__fail(&m->hook_err, st, "hook %zu failed: %s", i,
                         am_status_str(st));
            else
                am__fail(&m->hook_err, st, "hook %zu failed: %s", i, e.msg);
        }
    }
}

/* ---- Lifecycle ---- */

am_react_opts am_react_opts_default(void)
{
    am_react_opts o = { NULL, NULL };
    return o;
}

am_status am_react_create(const am_react_opts *opts, am_react **out,
                          am_error *err)
{
    am_react_opts o = opts != NULL ? *opts : am_react_opts_default();
    am_react *m;

    if (out == NULL)
        return am__fail(err, AM_EINVAL, "react: out is NULL");
    *out = NULL;
    m = am__calloc(o.alloc, 1, sizeof *m);
    if (m == NULL)
        return am__fail(err, AM_ENOMEM, "react: out of memory");
    m->alloc = o.alloc;
    m->clock = o.clock;
    m->d.context = json_object();
    if (m->d.context == NULL) {
        am__free(o.alloc, m, sizeof *m);
        return am__fail(err, AM_ENOMEM, "react: out of memory");
    }
    *out = m;
    return AM_OK;
}

void am_react_free(am_react *m)
{
    if (m == NULL)
        return;
    lists_free(m->alloc, &m->d, m->dtype);
    am__free(m->alloc, m, sizeof *m);
}

const am_error *am_react_last_error(const am_react *m)
{
    return m != NULL ? &m->err : NULL;
}

/* ---- Messages ---- */

static am_status build_msg(const am_allocator *a, am_str role,
                           am_str content, int64_t ts, rmsg *out,
                           const char *where, am_error *err)
{
    char what[96];
    am_status st;

    snprintf(what, sizeof what, "%s.role", where);
    if (role.len == 0 || role.len > ROLE_MAX)
        return am__fail(err, role.len == 0 ? AM_EINVAL : AM_EFORMAT,
                        "%s: must be 1 to %d bytes", what, ROLE_MAX);
    st = check_text(err, role, what);
    if (st != AM_OK)
        return st;
    snprintf(what, sizeof what, "%s.content", where);
    st = check_text(err, content, what);
    if (st != AM_OK)
        return st;
    memset(out, 0, sizeof *out);
    if (ostr_set(a, &out->role, role) != AM_OK ||
        ostr_set(a, &out->content, content) != AM_OK) {
        msg_free(a, out);
        return am__fail(err, AM_ENOMEM, "%s: out of memory", where);
    }
    out->ts = ts;
    return AM_OK;
}

am_status am_react_add_message(am_react *m, am_str role, am_str content)
{
    rmsg rec;
    am_status st;

    if (m == NULL)
        return AM_EINVAL;
    if (am__grow(m->alloc, (void **)&m->d.msgs, &m->d.capmsgs,
                 m->d.nmsgs + 1, sizeof *m->d.msgs) != AM_OK)
        return am__fail(&m->err, AM_ENOMEM, "react: out of memory");
    st = build_msg(m->alloc, role, content, am_clock_now(m->clock), &rec,
                   "message", &m->err);
    if (st != AM_OK)
        return st;
    m->d.msgs[m->d.nmsgs++] = rec;
    run_hooks(m, AM_REACT_EV_MESSAGE);
    return AM_OK;
}

size_t am_react_message_count(const am_react *m)
{
    return m != NULL ? m->d.nmsgs : 0;
}

am_status am_react_message_at(const am_react *m, size_t i,
                              am_react_message *out)
{
    if (m == NULL || out == NULL)
        return AM_EINVAL;
    if (i >= m->d.nmsgs)
        return AM_ENOTFOUND;
    out->role = ostr_view(&m->d.msgs[i].role);
    out->content = ostr_view(&m->d.msgs[i].content);
    out->ts_ms = m->d.msgs[i].ts;
    return AM_OK;
}

size_t am_react_messages_by_role(const am_react *m, am_str role,
                                 size_t *idx, size_t cap)
{
    size_t k = 0;
    if (m == NULL)
        return 0;
    for (size_t i = 0; i < m->d.nmsgs; i++)
        if (ostr_eq(&m->d.msgs[i].role, role)) {
            if (k < cap && idx != NULL)
                idx[k] = i;
            k++;
        }
    return k;
}

/* ---- Tool executions ---- */

static am_status build_tool(const am_allocator *a,
                            const am_react_tool_exec *e, int64_t now,
                            rtool *out, const char *where, am_error *err)
{
    char what[96];
    am_status st;

    memset(out, 0, sizeof *out);
    snprintf(what, sizeof what, "%s.tool", where);
    if (e->tool.len == 0)
        return am__fail(err, AM_EINVAL, "%s: must not be empty", what);
    st = check_text(err, e->tool, what);
    if (st == AM_OK) {
        snprintf(what, sizeof what, "%s.error", where);
        st = check_text(err, e->error, what);
    }
    if (st == AM_OK && (e->duration_us < 0 || e->ts_ms < 0))
        st = am__fail(err, AM_EINVAL, "%s: %s must not be negative", where,
                      e->duration_us < 0 ? "duration_us" : "ts_ms");
    if (st != AM_OK)
        return st;
    if (ostr_set(a, &out->tool, e->tool) != AM_OK ||
        ostr_set(a, &out->error, e->error) != AM_OK) {
        st = am__fail(err, AM_ENOMEM, "%s: out of memory", where);
        goto fail;
    }
    snprintf(what, sizeof what, "%s.params", where);
    st = json_canon(a, e->params_json, "{}", what, &out->params, err);
    if (st != AM_OK)
        goto fail;
    snprintf(what, sizeof what, "%s.result", where);
    st = json_canon(a, e->result_json, "null", what, &out->result, err);
    if (st != AM_OK)
        goto fail;
    out->success = e->success;
    out->dur_us = e->duration_us;
    out->ts = e->ts_ms != 0 ? e->ts_ms : now;
    return AM_OK;
fail:
    tool_free(a, out);
    return st;
}

am_status am_react_add_tool_exec(am_react *m, const am_react_tool_exec *e)
{
    rtool rec;
    am_status st;

    if (m == NULL)
        return AM_EINVAL;
    if (e == NULL)
        return am__fail(&m->err, AM_EINVAL, "tool execution: NULL");
    if (am__grow(m->alloc, (void **)&m->d.tools, &m->d.captools,
                 m->d.ntools + 1, sizeof *m->d.tools) != AM_OK)
        return am__fail(&m->err, AM_ENOMEM, "react: out of memory");
    st = build_tool(m->alloc, e, am_clock_now(m->clock), &rec,
                    "tool execution", &m->err);
    if (st != AM_OK)
        return st;
    m->d.tools[m->d.ntools++] = rec;
    run_hooks(m, AM_REACT_EV_TOOL);
    return AM_OK;
}

size_t am_react_tool_exec_count(const am_react *m)
{
    return m != NULL ? m->d.ntools : 0;
}

am_status am_react_tool_exec_at(const am_react *m, size_t i,
                                am_react_tool_exec *out)
{
    const rtool *t;
    if (m == NULL || out == NULL)
        return AM_EINVAL;
    if (i >= m->d.ntools)
        return AM_ENOTFOUND;
    t = &m->d.tools[i];
    out->tool = ostr_view(&t->tool);
    out->params_json = ostr_view(&t->params);
    out->result_json = ostr_view(&t->result);
    out->error = ostr_view(&t->error);
    out->success = t->success;
    out->duration_us = t->dur_us;
    out->ts_ms = t->ts;
    return AM_OK;
}

size_t am_react_find_tool_execs(const am_react *m, am_str tool,
                                am_react_outcome outcome, size_t *idx,
                                size_t cap)
{
    size_t k = 0;
    if (m == NULL)
        return 0;
    for (size_t i = 0; i < m->d.ntools; i++) {
        const rtool *t = &m->d.tools[i];
        if (tool.len > 0 && !ostr_eq(&t->tool, tool))
            continue;
        if ((outcome == AM_REACT_SUCCEEDED && !t->success) ||
            (outcome == AM_REACT_FAILED && t->success))
            continue;
        if (k < cap && idx != NULL)
            idx[k] = i;
        k++;
    }
    return k;
}

/* ---- Steps ---- */

const char *am_step_type_name(am_step_type t)
{
    switch (t) {
    case AM_STEP_THINK: return "THINK";
    case AM_STEP_ACT: return "ACT";
    case AM_STEP_OBSERVE: return "OBSERVE";
    }
    return "UNKNOWN";
}

static int step_type_parse(am_str s)
{
    for (int t = AM_STEP_THINK; t <= AM_STEP_OBSERVE; t++) {
        const char *n = am_step_type_name((am_step_type)t);
        if (strlen(n) == s.len && memcmp(n, s.ptr, s.len) == 0)
            return t;
    }
    return -1;
}

am_status am_react_add_step(am_react *m, am_step_type type, am_str content)
{
    rstep rec;
    am_status st;

    if (m == NULL)
        return AM_EINVAL;
    if ((int)type < AM_STEP_THINK || (int)type > AM_STEP_OBSERVE)
        return am__fail(&m->err, AM_EINVAL, "step: type %d out of range",
                        (int)type);
    st = check_text(&m->err, content, "step.content");
    if (st != AM_OK)
        return st;
    if (am__grow(m->alloc, (void **)&m->d.steps, &m->d.capsteps,
                 m->d.nsteps + 1, sizeof *m->d.steps) != AM_OK ||
        ostr_set(m->alloc, &rec.content, content) != AM_OK)
        return am__fail(&m->err, AM_ENOMEM, "react: out of memory");
    rec.type = type;
    rec.ts = am_clock_now(m->clock);
    m->d.steps[m->d.nsteps++] = rec;
    run_hooks(m, AM_REACT_EV_STEP);
    return AM_OK;
}

size_t am_react_step_count(const am_react *m)
{
    return m != NULL ? m->d.nsteps : 0;
}

am_status am_react_step_at(const am_react *m, size_t i, am_react_step *out)
{
    if (m == NULL || out == NULL)
        return AM_EINVAL;
    if (i >= m->d.nsteps)
        return AM_ENOTFOUND;
    out->type = m->d.steps[i].type;
    out->content = ostr_view(&m->d.steps[i].content);
    out->ts_ms = m->d.steps[i].ts;
    return AM_OK;
}

size_t am_react_find_steps(const am_react *m, int type, size_t recent,
                           size_t *idx, size_t cap)
{
    size_t k = 0, from = 0;
    if (m == NULL)
        return 0;
    if (recent > 0 && recent < m->d.nsteps)
        from = m->d.nsteps - recent;
    for (size_t i = from; i < m->d.nsteps; i++) {
        if (type >= 0 && (int)m->d.steps[i].type != type)
            continue;
        if (k < cap && idx != NULL)
            idx[k] = i;
        k++;
    }
    return k;
}

/* ---- Context ---- */

static am_status key_cstr(am_react *m, am_str key, char **out)
{
    am_status st = check_text(&m->err, key, "context key");
    if (st != AM_OK)
        return st;
    if (key.len == 0 || memchr(key.ptr, '\0', key.len) != NULL)
        return am__fail(&m->err, AM_EINVAL,
                        "context key: must be non-empty, without NUL");
    *out = am__strndup(m->alloc, key.ptr, key.len);
    if (*out == NULL)
        return am__fail(&m->err, AM_ENOMEM, "react: out of memory");
    return AM_OK;
}

am_status am_react_context_set(am_react *m, am_str key, am_str value_json)
{
    char *k = NULL;
    json_t *v = NULL;
    am_status st;

    if (m == NULL)
        return AM_EINVAL;
    st = key_cstr(m, key, &k);
    if (st != AM_OK)
        return st;
    st = parse_any(value_json, "context value", &v, &m->err);
    if (st == AM_OK && json_object_set_new(m->d.context, k, v) != 0)
        st = am__fail(&m->err, AM_ENOMEM, "react: out of memory");
    am__free(m->alloc, k, key.len + 1);
    if (st == AM_OK)
        run_hooks(m, AM_REACT_EV_CONTEXT);
    return st;
}

am_status am_react_context_get(am_react *m, am_str key, am_buf *out)
{
    char *k = NULL;
    json_t *v;
    am_status st;

    if (m == NULL || out == NULL)
        return AM_EINVAL;
    st = key_cstr(m, key, &k);
    if (st != AM_OK)
        return st;
    v = json_object_get(m->d.context, k);
    am__free(m->alloc, k, key.len + 1);
    if (v == NULL)
        return am__fail(&m->err, AM_ENOTFOUND, "context key '%.*s' not set",
                        (int)(key.len > 64 ? 64 : key.len), key.ptr);
    return am__json_dump(v, JSON_FLAGS, out, &m->err);
}

am_status am_react_context_remove(am_react *m, am_str key)
{
    char *k = NULL;
    am_status st;
    int rc;

    if (m == NULL)
        return AM_EINVAL;
    st = key_cstr(m, key, &k);
    if (st != AM_OK)
        return st;
    rc = json_object_del(m->d.context, k);
    am__free(m->alloc, k, key.len + 1);
    if (rc != 0)
        return am__fail(&m->err, AM_ENOTFOUND, "context key '%.*s' not set",
                        (int)(key.len > 64 ? 64 : key.len), key.ptr);
    run_hooks(m, AM_REACT_EV_CONTEXT);
    return AM_OK;
}

/* ---- Todos ---- */

const char *am_todo_status_name(am_todo_status s)
{
    switch (s) {
    case AM_TODO_PENDING: return "pending";
    case AM_TODO_IN_PROGRESS: return "in_progress";
    case AM_TODO_DONE: return "done";
    }
    return "unknown";
}

static int todo_status_parse(am_str s)
{
    for (int t = AM_TODO_PENDING; t <= AM_TODO_DONE; t++) {
        const char *n = am_todo_status_name((am_todo_status)t);
        if (strlen(n) == s.len && memcmp(n, s.ptr, s.len) == 0)
            return t;
    }
    return -1;
}

static am_status build_todo(const am_allocator *a, const am_react_todo *t,
                            rtodo *out, const char *where, am_error *err)
{
    char what[96];
    am_status st;

    memset(out, 0, sizeof *out);
    snprintf(what, sizeof what, "%s.id", where);
    if (t->id.len == 0)
        return am__fail(err, AM_EINVAL, "%s: must not be empty", what);
    st = check_text(err, t->id, what);
    if (st != AM_OK)
        return st;
    snprintf(what, sizeof what, "%s.content", where);
    st = check_text(err, t->content, what);
    if (st != AM_OK)
        return st;
    if ((int)t->status < AM_TODO_PENDING || (int)t->status > AM_TODO_DONE)
        return am__fail(err, AM_EINVAL, "%s.status: %d out of range", where,
                        (int)t->status);
    if (ostr_set(a, &out->id, t->id) != AM_OK ||
        ostr_set(a, &out->content, t->content) != AM_OK) {
        todo_free(a, out);
        return am__fail(err, AM_ENOMEM, "%s: out of memory", where);
    }
    out->status = t->status;
    out->priority = t->priority;
    return AM_OK;
}

static size_t todo_find(const lists *d, am_str id)
{
    for (size_t i = 0; i < d->ntodos; i++)
        if (ostr_eq(&d->todos[i].id, id))
            return i;
    return SIZE_MAX;
}

am_status am_react_todo_put(am_react *m, const am_react_todo *t)
{
    rtodo rec;
    size_t at;
    am_status st;

    if (m == NULL)
        return AM_EINVAL;
    if (t == NULL)
        return am__fail(&m->err, AM_EINVAL, "todo: NULL");
    if (am__grow(m->alloc, (void **)&m->d.todos, &m->d.captodos,
                 m->d.ntodos + 1, sizeof *m->d.todos) != AM_OK)
        return am__fail(&m->err, AM_ENOMEM, "react: out of memory");
    st = build_todo(m->alloc, t, &rec, "todo", &m->err);
    if (st != AM_OK)
        return st;
    at = todo_find(&m->d, t->id);
    if (at != SIZE_MAX) {
        todo_free(m->alloc, &m->d.todos[at]);
        m->d.todos[at] = rec;
    } else {
        m->d.todos[m->d.ntodos++] = rec;
    }
    run_hooks(m, AM_REACT_EV_TODO);
    return AM_OK;
}

am_status am_react_todo_remove(am_react *m, am_str id)
{
    size_t at;
    if (m == NULL)
        return AM_EINVAL;
    at = todo_find(&m->d, id);
    if (at == SIZE_MAX)
        return am__fail(&m->err, AM_ENOTFOUND, "todo '%.*s' not found",
                        (int)(id.len > 64 ? 64 : id.len), id.ptr);
    todo_free(m->alloc, &m->d.todos[at]);
    memmove(&m->d.todos[at], &m->d.todos[at + 1],
            (m->d.ntodos - at - 1) * sizeof *m->d.todos);
    m->d.ntodos--;
    run_hooks(m, AM_REACT_EV_TODO);
    return AM_OK;
}

size_t am_react_todo_count(const am_react *m)
{
    return m != NULL ? m->d.ntodos : 0;
}

am_status am_react_todo_at(const am_react *m, size_t i, am_react_todo *out)
{
    if (m == NULL || out == NULL)
        return AM_EINVAL;
    if (i >= m->d.ntodos)
        return AM_ENOTFOUND;
    out->id = ostr_view(&m->d.todos[i].id);
    out->content = ostr_view(&m->d.todos[i].content);
    out->status = m->d.todos[i].status;
    out->priority = m->d.todos[i].priority;
    return AM_OK;
}

/* ---- Statistics ---- */

static size_t tool_bytes(const rtool *t)
{
    return t->tool.len + t->params.len + t->result.len + t->error.len;
}

void am_react_stats_get(const am_react *m, am_react_stats *s)
{
    size_t ulen = 0, alen = 0, slen = 0, tlen = 0, ok = 0, mb = 0, tb = 0,
           rb = 0;
    double dur = 0;

    memset(s, 0, sizeof *s);
    if (m == NULL)
        return;
    s->messages = m->d.nmsgs;
    for (size_t i = 0; i < m->d.nmsgs; i++) {
        const rmsg *x = &m->d.msgs[i];
        am_str r = ostr_view(&x->role);
        mb += x->content.len;
        if (r.len == 4 && memcmp(r.ptr, "user", 4) == 0)
            s->user++, ulen += x->content.len;
        else if (r.len == 9 && memcmp(r.ptr, "assistant", 9) == 0)
            s->assistant++, alen += x->content.len;
        else if (r.len == 6 && memcmp(r.ptr, "system", 6) == 0)
            s->system++, slen += x->content.len;
        else if (r.len == 4 && memcmp(r.ptr, "tool", 4) == 0)
            s->tool++, tlen += x->content.len;
    }
    s->user_avg_len = s->user ? (double)ulen / (double)s->user : 0;
    s->assistant_avg_len =
        s->assistant ? (double)alen / (double)s->assistant : 0;
    s->system_avg_len = s->system ? (double)slen / (double)s->system : 0;
    s->tool_avg_len = s->tool ? (double)tlen / (double)s->tool : 0;
    s->tool_executions = m->d.ntools;
    for (size_t i = 0; i < m->d.ntools; i++) {
        ok += m->d.tools[i].success;
        dur += (double)m->d.tools[i].dur_us;
        tb += tool_bytes(&m->d.tools[i]);
    }
    if (m->d.ntools > 0) {
        s->tool_success_rate = (double)ok / (double)m->d.ntools;
        s->avg_execution_us = dur / (double)m->d.ntools;
    }
    s->steps = m->d.nsteps;
    for (size_t i = 0; i < m->d.nsteps; i++) {
        rb += m->d.steps[i].content.len;
        switch (m->d.steps[i].type) {
        case AM_STEP_THINK: s->think_steps++; break;
        case AM_STEP_ACT: s->act_steps++; break;
        case AM_STEP_OBSERVE: s->observe_steps++; break;
        }
    }
    s->todos = m->d.ntodos;
    for (size_t i = 0; i < m->d.ntodos; i++)
        s->todos_done += m->d.todos[i].status == AM_TODO_DONE;
    s->messages_kb = (double)mb / 1024.0;
    s->tools_kb = (double)tb / 1024.0;
    s->reasoning_kb = (double)rb / 1024.0;
    s->total_kb = s->messages_kb + s->tools_kb + s->reasoning_kb;
}

am_status am_react_stats_json(am_react *m, am_buf *out)
{
    am_react_stats s;
    json_t *root = NULL, *usage = NULL, *by_role = NULL, *dist = NULL;
    char ts[96];
    int64_t now;
    am_status st;

    if (m == NULL || out == NULL)
        return AM_EINVAL;
    am_react_stats_get(m, &s);
    usage = json_object();
    by_role = json_object();
    dist = json_object();
    if (usage == NULL || by_role == NULL || dist == NULL)
        goto nomem;
    for (size_t i = 0; i < m->d.ntools; i++) {
        char *name = m->d.tools[i].tool.p;
        json_t *c = json_object_get(usage, name);
        if (json_object_set_new(usage, name,
                                json_integer(c ? json_integer_value(c) + 1
                                               : 1)) != 0)
            goto nomem;
    }
    {
        static const char *const roles[] = { "user", "assistant", "system",
                                             "tool" };
        size_t counts[4] = { s.user, s.assistant, s.system, s.tool };
        double avgs[4] = { s.user_avg_len, s.assistant_avg_len,
                           s.system_avg_len, s.tool_avg_len };
        for (int i = 0; i < 4; i++) {
            char k[32];
            if (json_object_set_new(by_role, roles[i],
                                    json_integer((json_int_t)counts[i])))
                goto nomem;
            if (counts[i] == 0)
                continue;
            snprintf(k, sizeof k, "%s_avg_length", roles[i]);
            if (json_object_set_new(by_role, k,
                                    json_real((double)(long long)(avgs[i] *
                                                                  100 + 0.5) /
                                              100)))
                goto nomem;
        }
    }
    if (s.think_steps &&
        json_object_set_new(dist, "THINK",
                            json_integer((json_int_t)s.think_steps)))
        goto nomem;
    if (s.act_steps && json_object_set_new(
                           dist, "ACT", json_integer((json_int_t)s.act_steps)))
        goto nomem;
    if (s.observe_steps &&
        json_object_set_new(dist, "OBSERVE",
                            json_integer((json_int_t)s.observe_steps)))
        goto nomem;
    now = am_clock_now(m->clock);
    {
        time_t secs = (time_t)(now / 1000);
        struct tm tmv;
        gmtime_r(&secs, &tmv);
        snprintf(ts, sizeof ts, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
                 tmv.tm_year + 1900, tmv.tm_mon + 1, tmv.tm_mday,
                 tmv.tm_hour, tmv.tm_min, tmv.tm_sec, (int)(now % 1000));
    }
    root = json_pack(
        "{s:{s:I,s:O},s:{s:I,s:f,s:f,s:O},s:{s:I,s:O},"
        "s:{s:f,s:f,s:f,s:f},s:{s:I,s:I},s:s}",
        "messages", "total_messages", (json_int_t)s.messages, "by_role",
        by_role, "tools", "total_executions", (json_int_t)s.tool_executions,
        "success_rate", s.tool_success_rate, "avg_execution_time",
        s.avg_execution_us / 1e6, "tool_usage", usage, "reasoning",
        "total_steps", (json_int_t)s.steps, "step_distribution", dist,
        "memory_size", "messages_kb", s.messages_kb, "tools_kb", s.tools_kb,
        "reasoning_kb", s.reasoning_kb, "total_kb", s.total_kb, "todos",
        "total", (json_int_t)s.todos, "done", (json_int_t)s.todos_done,
        "analysis_timestamp", ts);
    if (root == NULL)
        goto nomem;
    st = am__json_dump(root, JSON_INDENT(2), out, &m->err);
    goto out;
nomem:
    st = am__fail(&m->err, AM_ENOMEM, "react: out of memory");
out:
    json_decref(root);
    json_decref(usage);
    json_decref(by_role);
    json_decref(dist);
    return st;
}

/* ---- Pruning ---- */

am_status am_react_prune(am_react *m, size_t max_messages,
                         size_t max_tool_execs, size_t max_steps)
{
    lists *d;
    unsigned char *keep = NULL;
    uint64_t *seen = NULL;
    size_t seen_cap = 0;

    if (m == NULL)
        return AM_EINVAL;
    d = &m->d;
    if (max_messages > 0 && d->nmsgs > 0) {
        size_t from = d->nmsgs > max_messages ? d->nmsgs - max_messages : 0;
        keep = am__calloc(m->alloc, d->nmsgs, 1);
        seen_cap = 16;
        while (seen_cap < d->nmsgs * 2)
            seen_cap *= 2;
        seen = am__calloc(m->alloc, seen_cap, sizeof *seen);
        if (keep == NULL || seen == NULL) {
            am__free(m->alloc, keep, d->nmsgs);
            am__free(m->alloc, seen, seen_cap * sizeof *seen);
            return am__fail(&m->err, AM_ENOMEM, "react: out of memory");
        }
        /* System messages (anywhere) plus the last N, in their order;
         * then exact duplicates of (role, content) go, first copy stays.
         * A hash set of indices finds earlier copies. */
        for (size_t i = 0; i < d->nmsgs; i++) {
            const rmsg *x = &d->msgs[i];
            bool sys = ostr_eq(&x->role, AM_STR("system"));
            uint64_t h;
            size_t slot;
            bool dup = false;
            if (!sys && i < from)
                continue;
            h = am__hash64(x->content.p, x->content.len,
                           am__hash64(x->role.p, x->role.len, 7));
            for (slot = h & (seen_cap - 1); seen[slot] != 0;
                 slot = (slot + 1) & (seen_cap - 1)) {
                const rmsg *y = &d->msgs[seen[slot] - 1];
                if (ostr_eq(&y->role, ostr_view(&x->role)) &&
                    ostr_eq(&y->content, ostr_view(&x->content))) {
                    dup = true;
                    break;
                }
            }
            if (dup)
                continue;
            seen[slot] = i + 1;
            keep[i] = 1;
        }
        size_t w = 0;
        for (size_t i = 0; i < d->nmsgs; i++) {
            if (keep[i])
                d->msgs[w++] = d->msgs[i];
            else
                msg_free(m->alloc, &d->msgs[i]);
        }
        am__free(m->alloc, keep, d->nmsgs);
        am__free(m->alloc, seen, seen_cap * sizeof *seen);
        d->nmsgs = w;
    }
    if (max_tool_execs > 0 && d->ntools > max_tool_execs) {
        size_t drop = d->ntools - max_tool_execs;
        for (size_t i = 0; i < drop; i++)
            tool_free(m->alloc, &d->tools[i]);
        memmove(d->tools, d->tools + drop, max_tool_execs * sizeof *d->tools);
        d->ntools = max_tool_execs;
    }
    if (max_steps > 0 && d->nsteps > max_steps) {
        size_t drop = d->nsteps - max_steps;
        for (size_t i = 0; i < drop; i++)
            ostr_free(m->alloc, &d->steps[i].content);
        memmove(d->steps, d->steps + drop, max_steps * sizeof *d->steps);
        d->nsteps = max_steps;
    }
    run_hooks(m, AM_REACT_EV_PRUNE);
    return AM_OK;
}

/* ---- Hooks ---- */

am_status am_react_add_hook(am_react *m, am_react_hook_fn fn, void *ctx)
{
    if (m == NULL || fn == NULL)
        return AM_EINVAL;
    if (m->nhooks == MAX_HOOKS)
        return am__fail(&m->err, AM_ELIMIT, "react: at most %d hooks",
                        MAX_HOOKS);
    m->hooks[m->nhooks].fn = fn;
    m->hooks[m->nhooks].ctx = ctx;
    m->nhooks++;
    return AM_OK;
}

size_t am_react_hook_failures(const am_react *m)
{
    return m != NULL ? m->hook_failures : 0;
}

const am_error *am_react_hook_error(const am_react *m)
{
    return m != NULL ? &m->hook_err : NULL;
}

/* ---- Domain ---- */

am_status am_react_set_domain_type(am_react *m, const am_react_domain_type *t)
{
    if (m == NULL)
        return AM_EINVAL;
    if (t != NULL && (t->name == NULL || t->serialize == NULL ||
                      t->deserialize == NULL || t->free == NULL))
        return am__fail(&m->err, AM_EINVAL,
                        "domain type: name and callbacks are required");
    if (m->d.domain != NULL && m->dtype != NULL)
        m->dtype->free(m->dtype->ctx, m->d.domain);
    m->d.domain = NULL;
    m->dtype = t;
    return AM_OK;
}

am_status am_react_set_domain(am_react *m, void *record)
{
    if (m == NULL)
        return AM_EINVAL;
    if (m->dtype == NULL)
        return am__fail(&m->err, AM_ESTATE,
                        "domain record set before a domain type");
    if (m->d.domain != NULL && m->d.domain != record)
        m->dtype->free(m->dtype->ctx, m->d.domain);
    m->d.domain = record;
    run_hooks(m, AM_REACT_EV_DOMAIN);
    return AM_OK;
}

void *am_react_domain(const am_react *m)
{
    return m != NULL ? m->d.domain : NULL;
}

void am_react_domain_touched(am_react *m)
{
    if (m != NULL)
        run_hooks(m, AM_REACT_EV_DOMAIN);
}

/* ---- Export ---- */

static json_t *str_json(const ostr *o)
{
    return json_stringn(o->p != NULL ? o->p : "", o->len);
}

static json_t *load_canon(const ostr *o)
{
    return json_loadb(o->p, o->len, JSON_DECODE_ANY, NULL);
}

am_status am_react_export(am_react *m, am_buf *out)
{
    json_t *root = NULL, *arr;
    am_buf dom = AM_BUF_INIT;
    am_status st = AM_OK;

    if (m == NULL || out == NULL)
        return AM_EINVAL;
    dom.alloc = m->alloc;
    root = json_object();
    if (root == NULL || json_object_set_new(root, "version",
                                            json_integer(1)) != 0)
        goto nomem;
    if ((arr = json_array()) == NULL ||
        json_object_set_new(root, "messages", arr) != 0)
        goto nomem;
    for (size_t i = 0; i < m->d.nmsgs; i++) {
        const rmsg *x = &m->d.msgs[i];
        if (json_array_append_new(
                arr, json_pack("{s:o,s:o,s:I}", "role", str_json(&x->role),
                               "content", str_json(&x->content), "ts",
                               (json_int_t)x->ts)) != 0)
            goto nomem;
    }
    if ((arr = json_array()) == NULL ||
        json_object_set_new(root, "tool_executions", arr) != 0)
        goto nomem;
    for (size_t i = 0; i < m->d.ntools; i++) {
        const rtool *t = &m->d.tools[i];
        if (json_array_append_new(
                arr,
                json_pack("{s:o,s:o,s:b,s:o,s:o,s:I,s:I}", "tool",
                          str_json(&t->tool), "params", load_canon(&t->params),
                          "success", t->success, "result",
                          load_canon(&t->result), "error", str_json(&t->error),
                          "duration_us", (json_int_t)t->dur_us, "ts",
                          (json_int_t)t->ts)) != 0)
            goto nomem;
    }
    if ((arr = json_array()) == NULL ||
        json_object_set_new(root, "reasoning", arr) != 0)
        goto nomem;
    for (size_t i = 0; i < m->d.nsteps; i++) {
        const rstep *x = &m->d.steps[i];
        if (json_array_append_new(
                arr, json_pack("{s:s,s:o,s:I}", "type",
                               am_step_type_name(x->type), "content",
                               str_json(&x->content), "ts",
                               (json_int_t)x->ts)) != 0)
            goto nomem;
    }
    if (json_object_set(root, "context", m->d.context) != 0)
        goto nomem;
    if ((arr = json_array()) == NULL ||
        json_object_set_new(root, "todos", arr) != 0)
        goto nomem;
    for (size_t i = 0; i < m->d.ntodos; i++) {
        const rtodo *x = &m->d.todos[i];
        if (json_array_append_new(
                arr, json_pack("{s:o,s:o,s:s,s:i}", "id", str_json(&x->id),
                               "content", str_json(&x->content), "status",
                               am_todo_status_name(x->status), "priority",
                               x->priority)) != 0)
            goto nomem;
    }
    if (m->d.domain != NULL && m->dtype != NULL) {
        json_t *data = NULL;
        am_error e;
        st = m->dtype->serialize(m->dtype->ctx, m->d.domain, &dom, &e);
        if (st != AM_OK) {
            am__fail(&m->err, st, "domain '%s': serialize failed: %s",
                     m->dtype->name, e.msg);
            goto out;
        }
        st = parse_any(am_buf_str(&dom), "domain record", &data, &m->err);
        if (st != AM_OK)
            goto out;
        if (json_object_set_new(root, "domain",
                                json_pack("{s:s,s:o}", "type",
                                          m->dtype->name, "data",
                                          data)) != 0)
            goto nomem;
    }
    st = am__json_dump(root, JSON_INDENT(1), out,
                       &m->err);
    goto out;
nomem:
    st = am__fail(&m->err, AM_ENOMEM, "react export: out of memory");
out:
    json_decref(root);
    am_buf_free(&dom);
    return st;
}

/* ---- Import ---- */

static am_status field(const json_t *obj, const char *key, json_type want,
                       bool required, const char *ctx, json_t **out,
                       am_error *err)
{
    static const char *const names[] = { "an object", "an array",
                                         "a string",  "an integer",
                                         "a number",  "a boolean",
                                         "a boolean", "null" };
    json_t *v = json_object_get(obj, key);
    *out = v;
    if (v == NULL) {
        if (required)
            return am__fail(err, AM_EFORMAT, "%s.%s: missing", ctx, key);
        return AM_OK;
    }
    if (want == JSON_TRUE ? !json_is_boolean(v) : json_typeof(v) != want)
        return am__fail(err, AM_EFORMAT, "%s.%s: expected %s", ctx, key,
                        names[want]);
    return AM_OK;
}

static am_status import_doc(am_react *m, const json_t *root, lists *d,
                            am_error *err)
{
    const am_allocator *a = m->alloc;
    json_t *arr, *it, *v;
    size_t i;
    char ctx[64];
    am_status st;

    if (!json_is_object(root))
        return am__fail(err, AM_EFORMAT, "react import: expected an object");
    st = field(root, "version", JSON_INTEGER, true, "react import", &v, err);
    if (st != AM_OK)
        return st;
    if (json_integer_value(v) != 1)
        return am__fail(err, AM_EFORMAT,
                        "react import: version %lld not supported",
                        (long long)json_integer_value(v));

    st = field(root, "messages", JSON_ARRAY, false, "react import", &arr,
               err);
    if (st != AM_OK)
        return st;
    json_array_foreach(arr, i, it) {
        json_t *role, *content, *ts;
        snprintf(ctx, sizeof ctx, "messages[%zu]", i);
        if (!json_is_object(it))
            return am__fail(err, AM_EFORMAT, "%s: expected an object", ctx);
        if ((st = field(it, "role", JSON_STRING, true, ctx, &role, err)) ||
            (st = field(it, "content", JSON_STRING, true, ctx, &content,
                        err)) ||
            (st = field(it, "ts", JSON_INTEGER, false, ctx, &ts, err)))
            return st;
        if (am__grow(a, (void **)&d->msgs, &d->capmsgs, d->nmsgs + 1,
                     sizeof *d->msgs) != AM_OK)
            return am__fail(err, AM_ENOMEM, "react import: out of memory");
        st = build_msg(a, am__json_str(role), am__json_str(content),
                       ts ? json_integer_value(ts) : 0, &d->msgs[d->nmsgs],
                       ctx, err);
        if (st != AM_OK)
            return st;
        d->nmsgs++;
    }

    st = field(root, "tool_executions", JSON_ARRAY, false, "react import",
               &arr, err);
    if (st != AM_OK)
        return st;
    json_array_foreach(arr, i, it) {
        json_t *tool, *params, *succ, *result, *error, *dur, *ts;
        am_react_tool_exec e;
        char *ptext = NULL, *rtext = NULL;
        snprintf(ctx, sizeof ctx, "tool_executions[%zu]", i);
        if (!json_is_object(it))
            return am__fail(err, AM_EFORMAT, "%s: expected an object", ctx);
        if ((st = field(it, "tool", JSON_STRING, true, ctx, &tool, err)) ||
            (st = field(it, "success", JSON_TRUE, true, ctx, &succ, err)) ||
            (st = field(it, "error", JSON_STRING, false, ctx, &error,
                        err)) ||
            (st = field(it, "duration_us", JSON_INTEGER, false, ctx, &dur,
                        err)) ||
            (st = field(it, "ts", JSON_INTEGER, false, ctx, &ts, err)))
            return st;
        params = json_object_get(it, "params");
        result = json_object_get(it, "result");
        memset(&e, 0, sizeof e);
        e.tool = am__json_str(tool);
        e.success = json_is_true(succ);
        e.error = error ? am__json_str(error) : (am_str){ "", 0 };
        e.duration_us = dur ? json_integer_value(dur) : 0;
        e.ts_ms = ts ? json_integer_value(ts) : 0;
        ptext = params ? json_dumps(params, JSON_FLAGS) : NULL;
        rtext = result ? json_dumps(result, JSON_FLAGS) : NULL;
        if ((params && !ptext) || (result && !rtext)) {
            free(ptext);
            free(rtext);
            return am__fail(err, AM_ENOMEM, "react import: out of memory");
        }
        e.params_json = am_str_c(ptext ? ptext : "{}");
        e.result_json = am_str_c(rtext ? rtext : "null");
        if (am__grow(a, (void **)&d->tools, &d->captools, d->ntools + 1,
                     sizeof *d->tools) != AM_OK)
            st = am__fail(err, AM_ENOMEM, "react import: out of memory");
        else
            st = build_tool(a, &e, 0, &d->tools[d->ntools], ctx, err);
        free(ptext);
        free(rtext);
        if (st != AM_OK)
            return st;
        /* An import keeps ts 0 as 0 (build_tool would stamp "now"). */
        d->tools[d->ntools].ts = e.ts_ms;
        d->ntools++;
    }

    st = field(root, "reasoning", JSON_ARRAY, false, "react import", &arr,
               err);
    if (st != AM_OK)
        return st;
    json_array_foreach(arr, i, it) {
        json_t *type, *content, *ts;
        int t;
        snprintf(ctx, sizeof ctx, "reasoning[%zu]", i);
        if (!json_is_object(it))
            return am__fail(err, AM_EFORMAT, "%s: expected an object", ctx);
        if ((st = field(it, "type", JSON_STRING, true, ctx, &type, err)) ||
            (st = field(it, "content", JSON_STRING, true, ctx, &content,
                        err)) ||
            (st = field(it, "ts", JSON_INTEGER, false, ctx, &ts, err)))
            return st;
        t = step_type_parse(am__json_str(type));
        if (t < 0)
            return am__fail(err, AM_EFORMAT,
                            "%s.type: expected THINK, ACT or OBSERVE", ctx);
        st = check_text(err, am__json_str(content), ctx);
        if (st != AM_OK)
            return st;
        if (am__grow(a, (void **)&d->steps, &d->capsteps, d->nsteps + 1,
                     sizeof *d->steps) != AM_OK ||
            ostr_set(a, &d->steps[d->nsteps].content,
                     am__json_str(content)) != AM_OK)
            return am__fail(err, AM_ENOMEM, "react import: out of memory");
        d->steps[d->nsteps].type = (am_step_type)t;
        d->steps[d->nsteps].ts = ts ? json_integer_value(ts) : 0;
        d->nsteps++;
    }

    st = field(root, "context", JSON_OBJECT, false, "react import", &v, err);
    if (st != AM_OK)
        return st;
    d->context = v != NULL ? json_deep_copy(v) : json_object();
    if (d->context == NULL)
        return am__fail(err, AM_ENOMEM, "react import: out of memory");

    st = field(root, "todos", JSON_ARRAY, false, "react import", &arr, err);
    if (st != AM_OK)
        return st;
    json_array_foreach(arr, i, it) {
        json_t *id, *content, *status, *prio;
        am_react_todo t;
        int s;
        snprintf(ctx, sizeof ctx, "todos[%zu]", i);
        if (!json_is_object(it))
            return am__fail(err, AM_EFORMAT, "%s: expected an object", ctx);
        if ((st = field(it, "id", JSON_STRING, true, ctx, &id, err)) ||
            (st = field(it, "content", JSON_STRING, true, ctx, &content,
                        err)) ||
            (st = field(it, "status", JSON_STRING, true, ctx, &status,
                        err)) ||
            (st = field(it, "priority", JSON_INTEGER, false, ctx, &prio,
                        err)))
            return st;
        s = todo_status_parse(am__json_str(status));
        if (s < 0)
            return am__fail(err, AM_EFORMAT,
                            "%s.status: expected pending, in_progress or "
                            "done", ctx);
        if (todo_find(d, am__json_str(id)) != SIZE_MAX)
            return am__fail(err, AM_EFORMAT, "%s.id: duplicate id", ctx);
        t.id = am__json_str(id);
        t.content = am__json_str(content);
        t.status = (am_todo_status)s;
        t.priority = prio ? (int)json_integer_value(prio) : 0;
        if (am__grow(a, (void **)&d->todos, &d->captodos, d->ntodos + 1,
                     sizeof *d->todos) != AM_OK)
            return am__fail(err, AM_ENOMEM, "react import: out of memory");
        st = build_todo(a, &t, &d->todos[d->ntodos], ctx, err);
        if (st != AM_OK)
            return st;
        d->ntodos++;
    }

    st = field(root, "domain", JSON_OBJECT, false, "react import", &v, err);
    if (st != AM_OK)
        return st;
    if (v != NULL) {
        json_t *type, *data = json_object_get(v, "data");
        char *text;
        am_error e;
        if ((st = field(v, "type", JSON_STRING, true, "domain", &type, err)))
            return st;
        if (data == NULL)
            return am__fail(err, AM_EFORMAT, "domain.data: missing");
        if (m->dtype == NULL || strcmp(m->dtype->name,
                                       json_string_value(type)) != 0)
            return am__fail(err, AM_ESTATE,
                            "domain: record of type '%s' but %s%s%s is set",
                            json_string_value(type),
                            m->dtype ? "type '" : "no domain type",
                            m->dtype ? m->dtype->name : "",
                            m->dtype ? "'" : "");
        text = json_dumps(data, JSON_FLAGS);
        if (text == NULL)
            return am__fail(err, AM_ENOMEM, "react import: out of memory");
        am_error_clear(&e);
        st = m->dtype->deserialize(m->dtype->ctx, am_str_c(text), &d->domain,
                                   &e);
        free(text);
        if (st != AM_OK)
            return am__fail(err, st, "domain '%s': %s", m->dtype->name,
                            e.msg[0] ? e.msg : am_status_str(st));
    }
    return AM_OK;
}

am_status am_react_import(am_react *m, am_str json)
{
    json_t *root = NULL;
    lists fresh;
    am_status st;

    if (m == NULL)
        return AM_EINVAL;
    memset(&fresh, 0, sizeof fresh);
    st = am__json_parse(json, "react import", &root, &m->err);
    if (st != AM_OK)
        return st;
    st = import_doc(m, root, &fresh, &m->err);
    json_decref(root);
    if (st != AM_OK) {
        lists_free(m->alloc, &fresh, m->dtype);
        return st;
    }
    lists_free(m->alloc, &m->d, m->dtype);
    m->d = fresh;
    run_hooks(m, AM_REACT_EV_IMPORT);
    return AM_OK;
}
