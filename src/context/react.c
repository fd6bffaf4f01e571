/* react.c -- structured memory for a ReAct agent: the handle and its
 * records.
 *
 * Four growable arrays of records (messages, tool executions, steps,
 * todos), a jansson object for the context dictionary, and an optional
 * caller-typed domain record (react_int.h holds the struct). Every string
 * is copied into its own block; JSON fields (tool params and results,
 * context values) are validated and stored in compact canonical form, so
 * export -> import -> export is byte-stable.
 *
 * This file holds the lifecycle, the string and record helpers the other
 * react*.c files share, and the messages, tool executions, steps, context,
 * hooks and domain record. Todos are in react_todos.c, statistics and
 * pruning in react_stats.c, export and import in react_io.c.
 */
#include <stdio.h>
#include <string.h>

#include "react_int.h"

#define ROLE_MAX 32

/* ---- Strings ---- */

am_status am__react_ostr_set(const am_allocator *a, ostr *o, am_str s)
{
    char *p = am__strndup(a, s.ptr != NULL ? s.ptr : "", s.len);
    if (p == NULL)
        return AM_ENOMEM;
    o->p = p;
    o->len = s.len;
    return AM_OK;
}

void am__react_ostr_free(const am_allocator *a, ostr *o)
{
    if (o->p != NULL)
        am__free(a, o->p, o->len + 1);
    o->p = NULL;
    o->len = 0;
}

/* ---- Reading one record ---- */

am_status am__react_read(const am_react *m, size_t i, am__react_view_fn view,
                         void *out, am_buf *text)
{
    am_str *f[AM__REACT_VIEW_MAX];
    size_t nf = 0, total = 0;
    am_status st;

    if (m == NULL || out == NULL)
        return AM_EINVAL;
    AM__REACT_LOCK(m);
    st = view(m, i, out, f, &nf);
    if (st == AM_OK && text != NULL) {
        /* One reservation, then the fields one after another, each with
         * its NUL, so that the pointers stay put while we copy. */
        for (size_t k = 0; k < nf; k++)
            total += f[k]->len + 1;
        am_buf_clear(text);
        if (am_buf_reserve(text, total) != AM_OK) {
            am_react *mm = (am_react *)(uintptr_t)m; /* its error slot */
            st = am__fail(&AM__ERR(mm), AM_ENOMEM, "no memory to copy "
                          "record %zu (%zu bytes)", i, total);
        } else {
            char *p = text->ptr;
            for (size_t k = 0; k < nf; k++) {
                if (f[k]->len > 0)
                    memcpy(p, f[k]->ptr, f[k]->len);
                p[f[k]->len] = '\0';
                f[k]->ptr = p;
                p += f[k]->len + 1;
            }
            text->len = total;
            text->ptr[total] = '\0';
        }
    }
    AM__REACT_UNLOCK(m);
    return st;
}

am_status am__react_check_text(am_error *err, am_str s, const char *what)
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
am_status am__react_parse_any(am_str text, const char *what, json_t **out,
                              am_error *err)
{
    /* jansson hides running out of memory behind other messages; the glue
     * tells it from invalid JSON. */
    return am__json_parse_flags(text, JSON_DECODE_ANY | JSON_ALLOW_NUL, what,
                                out, err);
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
    st = am__react_parse_any(s, what, &v, err);
    if (st != AM_OK)
        return st;
    st = am__json_dump(v, AM__REACT_JSON_FLAGS, &b, err);
    json_decref(v);
    if (st != AM_OK) {
        am_buf_free(&b);
        return st;
    }
    /* Hand the buffer's memory over; its size is cap, not len + 1. */
    st = am__react_ostr_set(a, out, am_buf_str(&b));
    am_buf_free(&b);
    if (st != AM_OK)
        return am__fail(err, AM_ENOMEM, "%s: out of memory", what);
    return AM_OK;
}

/* ---- Lists ---- */

void am__react_msg_free(const am_allocator *a, rmsg *m)
{
    am__react_ostr_free(a, &m->role);
    am__react_ostr_free(a, &m->content);
}

void am__react_tool_free(const am_allocator *a, rtool *t)
{
    am__react_ostr_free(a, &t->tool);
    am__react_ostr_free(a, &t->params);
    am__react_ostr_free(a, &t->result);
    am__react_ostr_free(a, &t->error);
}

void am__react_todo_free(const am_allocator *a, rtodo *t)
{
    am__react_ostr_free(a, &t->id);
    am__react_ostr_free(a, &t->content);
}

void am__react_lists_free(const am_allocator *a, lists *d,
                          const am_react_domain_type *dt)
{
    for (size_t i = 0; i < d->nmsgs; i++)
        am__react_msg_free(a, &d->msgs[i]);
    am__free(a, d->msgs, d->capmsgs * sizeof *d->msgs);
    for (size_t i = 0; i < d->ntools; i++)
        am__react_tool_free(a, &d->tools[i]);
    am__free(a, d->tools, d->captools * sizeof *d->tools);
    for (size_t i = 0; i < d->nsteps; i++)
        am__react_ostr_free(a, &d->steps[i].content);
    am__free(a, d->steps, d->capsteps * sizeof *d->steps);
    for (size_t i = 0; i < d->ntodos; i++)
        am__react_todo_free(a, &d->todos[i]);
    am__free(a, d->todos, d->captodos * sizeof *d->todos);
    if (d->context != NULL)
        json_decref(d->context);
    if (d->slots != NULL)
        json_decref(d->slots);
    if (d->domain != NULL && dt != NULL)
        dt->free(dt->ctx, d->domain);
    memset(d, 0, sizeof *d);
}

void am__react_run_hooks(am_react *m, am_react_event ev)
{
    for (size_t i = 0; i < m->nhooks; i++) {
        am_error e = { AM_OK, "" };
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
    am_react_opts o;
    memset(&o, 0, sizeof o);
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
    if (am__handle_sync_init(&m->errs, &m->mu, o.alloc, true) != AM_OK) {
        am__free(o.alloc, m, sizeof *m);
        return am__fail(err, AM_ENOMEM, "react: cannot make a mutex");
    }
    m->max_msgs = o.max_messages;
    m->max_tools = o.max_tool_execs;
    m->max_steps = o.max_steps;
    m->d.context = json_object();
    if (m->d.context == NULL) {
        pthread_mutex_destroy(&m->mu);
        am__errtab_free(&m->errs);
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
    am__react_lists_free(m->alloc, &m->d, m->dtype);
    pthread_mutex_destroy(&m->mu);
    am__errtab_free(&m->errs);
    am__free(m->alloc, m, sizeof *m);
}

const am_error *am_react_last_error(const am_react *m)
{
    return m != NULL ? am__errtab_last(&m->errs) : am__errtab_null_handle();
}

/* ---- Automatic pruning ---- */

/* `n` has reached 1.2 times `limit`: limit + ceil(limit / 5). */
static bool over_slack(size_t n, size_t limit)
{
    return limit > 0 && n >= limit + (limit + 4) / 5;
}

/* After an add: prune back to the limits once a list reaches its slack.
 * A prune that runs out of memory changes nothing; the add stands and the
 * next add tries again. */
static void auto_prune(am_react *m)
{
    if (over_slack(m->d.nmsgs, m->max_msgs) ||
        over_slack(m->d.ntools, m->max_tools) ||
        over_slack(m->d.nsteps, m->max_steps))
        (void)am_react_prune(m, m->max_msgs, m->max_tools, m->max_steps);
}

/* ---- Messages ---- */

am_status am__react_build_msg(const am_allocator *a, am_str role,
                              am_str content, int64_t ts, rmsg *out,
                              const char *where, am_error *err)
{
    char what[96];
    am_status st;

    snprintf(what, sizeof what, "%s.role", where);
    if (role.len == 0 || role.len > ROLE_MAX)
        return am__fail(err, role.len == 0 ? AM_EINVAL : AM_EFORMAT,
                        "%s: must be 1 to %d bytes", what, ROLE_MAX);
    st = am__react_check_text(err, role, what);
    if (st != AM_OK)
        return st;
    snprintf(what, sizeof what, "%s.content", where);
    st = am__react_check_text(err, content, what);
    if (st != AM_OK)
        return st;
    memset(out, 0, sizeof *out);
    if (am__react_ostr_set(a, &out->role, role) != AM_OK ||
        am__react_ostr_set(a, &out->content, content) != AM_OK) {
        am__react_msg_free(a, out);
        return am__fail(err, AM_ENOMEM, "%s: out of memory", where);
    }
    out->ts = ts;
    return AM_OK;
}

static am_status am_react_add_message_locked(am_react *m, am_str role, am_str content)
{
    rmsg rec;
    am_status st;

    if (m == NULL)
        return AM_EINVAL;
    if (am__grow(m->alloc, (void **)&m->d.msgs, &m->d.capmsgs,
                 m->d.nmsgs + 1, sizeof *m->d.msgs) != AM_OK)
        return am__fail(&AM__ERR(m), AM_ENOMEM, "react: out of memory");
    st = am__react_build_msg(m->alloc, role, content, am_clock_now(m->clock),
                             &rec, "message", &AM__ERR(m));
    if (st != AM_OK)
        return st;
    m->d.msgs[m->d.nmsgs++] = rec;
    am__react_run_hooks(m, AM_REACT_EV_MESSAGE);
    auto_prune(m);
    return AM_OK;
}

am_status am_react_add_message(am_react *m, am_str role, am_str content)
{
    AM__REACT_LOCKED(am_status, m,
                     am_react_add_message_locked(m, role, content));
}

static size_t am_react_message_count_locked(const am_react *m)
{
    return m != NULL ? m->d.nmsgs : 0;
}

size_t am_react_message_count(const am_react *m)
{
    AM__REACT_LOCKED(size_t, m, am_react_message_count_locked(m));
}

static am_status message_view(const am_react *m, size_t i, void *out_,
                              am_str **f, size_t *nf)
{
    am_react_message *out = out_;

    if (i >= m->d.nmsgs)
        return AM_ENOTFOUND;
    out->role = am__react_ostr_view(&m->d.msgs[i].role);
    out->content = am__react_ostr_view(&m->d.msgs[i].content);
    out->ts_ms = m->d.msgs[i].ts;
    f[0] = &out->role;
    f[1] = &out->content;
    *nf = 2;
    return AM_OK;
}

am_status am_react_message_at(const am_react *m, size_t i,
                              am_react_message *out)
{
    return am__react_read(m, i, message_view, out, NULL);
}

am_status am_react_message_copy(const am_react *m, size_t i,
                                am_react_message *out, am_buf *text)
{
    return text != NULL ? am__react_read(m, i, message_view, out, text)
                        : AM_EINVAL;
}

static size_t am_react_messages_by_role_locked(const am_react *m, am_str role,
                                 size_t *idx, size_t cap)
{
    size_t k = 0;
    if (m == NULL)
        return 0;
    for (size_t i = 0; i < m->d.nmsgs; i++)
        if (am__react_ostr_eq(&m->d.msgs[i].role, role)) {
            if (k < cap && idx != NULL)
                idx[k] = i;
            k++;
        }
    return k;
}

size_t am_react_messages_by_role(const am_react *m, am_str role,
                                 size_t *idx, size_t cap)
{
    AM__REACT_LOCKED(size_t, m,
                     am_react_messages_by_role_locked(m, role, idx, cap));
}

/* ---- Tool executions ---- */

am_status am__react_build_tool(const am_allocator *a,
                               const am_react_tool_exec *e, int64_t now,
                               rtool *out, const char *where, am_error *err)
{
    char what[96];
    am_status st;

    memset(out, 0, sizeof *out);
    snprintf(what, sizeof what, "%s.tool", where);
    if (e->tool.len == 0)
        return am__fail(err, AM_EINVAL, "%s: must not be empty", what);
    st = am__react_check_text(err, e->tool, what);
    if (st == AM_OK) {
        snprintf(what, sizeof what, "%s.error", where);
        st = am__react_check_text(err, e->error, what);
    }
    if (st == AM_OK && (e->duration_us < 0 || e->ts_ms < 0))
        st = am__fail(err, AM_EINVAL, "%s: %s must not be negative", where,
                      e->duration_us < 0 ? "duration_us" : "ts_ms");
    if (st != AM_OK)
        return st;
    if (am__react_ostr_set(a, &out->tool, e->tool) != AM_OK ||
        am__react_ostr_set(a, &out->error, e->error) != AM_OK) {
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
    am__react_tool_free(a, out);
    return st;
}

static am_status am_react_add_tool_exec_locked(am_react *m, const am_react_tool_exec *e)
{
    rtool rec;
    am_status st;

    if (m == NULL)
        return AM_EINVAL;
    if (e == NULL)
        return am__fail(&AM__ERR(m), AM_EINVAL, "tool execution: NULL");
    if (am__grow(m->alloc, (void **)&m->d.tools, &m->d.captools,
                 m->d.ntools + 1, sizeof *m->d.tools) != AM_OK)
        return am__fail(&AM__ERR(m), AM_ENOMEM, "react: out of memory");
    st = am__react_build_tool(m->alloc, e, am_clock_now(m->clock), &rec,
                              "tool execution", &AM__ERR(m));
    if (st != AM_OK)
        return st;
    m->d.tools[m->d.ntools++] = rec;
    am__react_run_hooks(m, AM_REACT_EV_TOOL);
    auto_prune(m);
    return AM_OK;
}

am_status am_react_add_tool_exec(am_react *m, const am_react_tool_exec *e)
{
    AM__REACT_LOCKED(am_status, m, am_react_add_tool_exec_locked(m, e));
}

static size_t am_react_tool_exec_count_locked(const am_react *m)
{
    return m != NULL ? m->d.ntools : 0;
}

size_t am_react_tool_exec_count(const am_react *m)
{
    AM__REACT_LOCKED(size_t, m, am_react_tool_exec_count_locked(m));
}

static am_status tool_exec_view(const am_react *m, size_t i, void *out_,
                                am_str **f, size_t *nf)
{
    am_react_tool_exec *out = out_;
    const rtool *t;

    if (i >= m->d.ntools)
        return AM_ENOTFOUND;
    t = &m->d.tools[i];
    out->tool = am__react_ostr_view(&t->tool);
    out->params_json = am__react_ostr_view(&t->params);
    out->result_json = am__react_ostr_view(&t->result);
    out->error = am__react_ostr_view(&t->error);
    out->success = t->success;
    out->duration_us = t->dur_us;
    out->ts_ms = t->ts;
    f[0] = &out->tool;
    f[1] = &out->params_json;
    f[2] = &out->result_json;
    f[3] = &out->error;
    *nf = 4;
    return AM_OK;
}

am_status am_react_tool_exec_at(const am_react *m, size_t i,
                                am_react_tool_exec *out)
{
    return am__react_read(m, i, tool_exec_view, out, NULL);
}

am_status am_react_tool_exec_copy(const am_react *m, size_t i,
                                  am_react_tool_exec *out, am_buf *text)
{
    return text != NULL ? am__react_read(m, i, tool_exec_view, out, text)
                        : AM_EINVAL;
}

static size_t am_react_find_tool_execs_locked(const am_react *m, am_str tool,
                                am_react_outcome outcome, size_t *idx,
                                size_t cap)
{
    size_t k = 0;
    if (m == NULL)
        return 0;
    for (size_t i = 0; i < m->d.ntools; i++) {
        const rtool *t = &m->d.tools[i];
        if (tool.len > 0 && !am__react_ostr_eq(&t->tool, tool))
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

size_t am_react_find_tool_execs(const am_react *m, am_str tool,
                                am_react_outcome outcome, size_t *idx,
                                size_t cap)
{
    AM__REACT_LOCKED(size_t, m,
                     am_react_find_tool_execs_locked(m, tool, outcome, idx,
                                                     cap));
}

/* ---- Steps ---- */

static const char *const step_names[] = {
    [AM_STEP_THINK] = "THINK", [AM_STEP_ACT] = "ACT",
    [AM_STEP_OBSERVE] = "OBSERVE",
};
static const am__names steps = AM__NAMES("step type", step_names);

const char *am_step_type_name(am_step_type t)
{
    return am__name_of(&steps, (int)t);
}

int am__react_step_type_parse(am_str s)
{
    return am__name_find(&steps, s);
}

static am_status am_react_add_step_locked(am_react *m, am_step_type type, am_str content)
{
    rstep rec;
    am_status st;

    if (m == NULL)
        return AM_EINVAL;
    if ((int)type < AM_STEP_THINK || (int)type > AM_STEP_OBSERVE)
        return am__fail(&AM__ERR(m), AM_EINVAL, "step: type %d out of range",
                        (int)type);
    st = am__react_check_text(&AM__ERR(m), content, "step.content");
    if (st != AM_OK)
        return st;
    if (am__grow(m->alloc, (void **)&m->d.steps, &m->d.capsteps,
                 m->d.nsteps + 1, sizeof *m->d.steps) != AM_OK ||
        am__react_ostr_set(m->alloc, &rec.content, content) != AM_OK)
        return am__fail(&AM__ERR(m), AM_ENOMEM, "react: out of memory");
    rec.type = type;
    rec.ts = am_clock_now(m->clock);
    m->d.steps[m->d.nsteps++] = rec;
    am__react_run_hooks(m, AM_REACT_EV_STEP);
    auto_prune(m);
    return AM_OK;
}

am_status am_react_add_step(am_react *m, am_step_type type, am_str content)
{
    AM__REACT_LOCKED(am_status, m, am_react_add_step_locked(m, type, content));
}

static size_t am_react_step_count_locked(const am_react *m)
{
    return m != NULL ? m->d.nsteps : 0;
}

size_t am_react_step_count(const am_react *m)
{
    AM__REACT_LOCKED(size_t, m, am_react_step_count_locked(m));
}

static am_status step_view(const am_react *m, size_t i, void *out_,
                           am_str **f, size_t *nf)
{
    am_react_step *out = out_;

    if (i >= m->d.nsteps)
        return AM_ENOTFOUND;
    out->type = m->d.steps[i].type;
    out->content = am__react_ostr_view(&m->d.steps[i].content);
    out->ts_ms = m->d.steps[i].ts;
    f[0] = &out->content;
    *nf = 1;
    return AM_OK;
}

am_status am_react_step_at(const am_react *m, size_t i, am_react_step *out)
{
    return am__react_read(m, i, step_view, out, NULL);
}

am_status am_react_step_copy(const am_react *m, size_t i, am_react_step *out,
                             am_buf *text)
{
    return text != NULL ? am__react_read(m, i, step_view, out, text)
                        : AM_EINVAL;
}

static size_t am_react_find_steps_locked(const am_react *m, int type, size_t recent,
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

size_t am_react_find_steps(const am_react *m, int type, size_t recent,
                           size_t *idx, size_t cap)
{
    AM__REACT_LOCKED(size_t, m,
                     am_react_find_steps_locked(m, type, recent, idx, cap));
}

/* ---- Context ---- */

static am_status key_cstr(am_react *m, am_str key, char **out)
{
    am_status st = am__react_check_text(&AM__ERR(m), key, "context key");
    if (st != AM_OK)
        return st;
    if (key.len == 0 || memchr(key.ptr, '\0', key.len) != NULL)
        return am__fail(&AM__ERR(m), AM_EINVAL,
                        "context key: must be non-empty, without NUL");
    *out = am__strndup(m->alloc, key.ptr, key.len);
    if (*out == NULL)
        return am__fail(&AM__ERR(m), AM_ENOMEM, "react: out of memory");
    return AM_OK;
}

static am_status am_react_context_set_locked(am_react *m, am_str key, am_str value_json)
{
    char *k = NULL;
    json_t *v = NULL;
    am_status st;

    if (m == NULL)
        return AM_EINVAL;
    st = key_cstr(m, key, &k);
    if (st != AM_OK)
        return st;
    st = am__react_parse_any(value_json, "context value", &v, &AM__ERR(m));
    if (st == AM_OK && json_object_set_new(m->d.context, k, v) != 0)
        st = am__fail(&AM__ERR(m), AM_ENOMEM, "react: out of memory");
    am__free(m->alloc, k, key.len + 1);
    if (st == AM_OK)
        am__react_run_hooks(m, AM_REACT_EV_CONTEXT);
    return st;
}

am_status am_react_context_set(am_react *m, am_str key, am_str value_json)
{
    AM__REACT_LOCKED(am_status, m,
                     am_react_context_set_locked(m, key, value_json));
}

static am_status am_react_context_get_locked(am_react *m, am_str key, am_buf *out)
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
        return am__fail(&AM__ERR(m), AM_ENOTFOUND, "context key '%.*s' not set",
                        (int)(key.len > 64 ? 64 : key.len), key.ptr);
    return am__json_dump(v, AM__REACT_JSON_FLAGS, out, &AM__ERR(m));
}

am_status am_react_context_get(am_react *m, am_str key, am_buf *out)
{
    AM__REACT_LOCKED(am_status, m, am_react_context_get_locked(m, key, out));
}

static am_status am_react_context_remove_locked(am_react *m, am_str key)
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
        return am__fail(&AM__ERR(m), AM_ENOTFOUND, "context key '%.*s' not set",
                        (int)(key.len > 64 ? 64 : key.len), key.ptr);
    am__react_run_hooks(m, AM_REACT_EV_CONTEXT);
    return AM_OK;
}

am_status am_react_context_remove(am_react *m, am_str key)
{
    AM__REACT_LOCKED(am_status, m, am_react_context_remove_locked(m, key));
}

/* ---- Hooks ---- */

static am_status am_react_add_hook_locked(am_react *m, am_react_hook_fn fn, void *ctx)
{
    if (m == NULL || fn == NULL)
        return AM_EINVAL;
    if (m->nhooks == AM__REACT_MAX_HOOKS)
        return am__fail(&AM__ERR(m), AM_ELIMIT, "react: at most %d hooks",
                        AM__REACT_MAX_HOOKS);
    m->hooks[m->nhooks].fn = fn;
    m->hooks[m->nhooks].ctx = ctx;
    m->nhooks++;
    return AM_OK;
}

am_status am_react_add_hook(am_react *m, am_react_hook_fn fn, void *ctx)
{
    AM__REACT_LOCKED(am_status, m, am_react_add_hook_locked(m, fn, ctx));
}

static size_t am_react_hook_failures_locked(const am_react *m)
{
    return m != NULL ? m->hook_failures : 0;
}

size_t am_react_hook_failures(const am_react *m)
{
    AM__REACT_LOCKED(size_t, m, am_react_hook_failures_locked(m));
}

const am_error *am_react_hook_error(const am_react *m)
{
    const am_error *r;

    if (m == NULL)
        return NULL;
    AM__REACT_LOCK(m);
    r = &m->hook_err;
    AM__REACT_UNLOCK(m);
    return r;
}

am_status am_react_hook_error_copy(const am_react *m, am_error *out)
{
    if (m == NULL || out == NULL)
        return AM_EINVAL;
    AM__REACT_LOCK(m);
    *out = m->hook_err;
    AM__REACT_UNLOCK(m);
    return AM_OK;
}

/* ---- Domain ---- */

static am_status am_react_set_domain_type_locked(am_react *m, const am_react_domain_type *t)
{
    if (m == NULL)
        return AM_EINVAL;
    if (t != NULL && (t->name == NULL || t->serialize == NULL ||
                      t->deserialize == NULL || t->free == NULL))
        return am__fail(&AM__ERR(m), AM_EINVAL,
                        "domain type: name and callbacks are required");
    if (m->d.domain != NULL && m->dtype != NULL)
        m->dtype->free(m->dtype->ctx, m->d.domain);
    m->d.domain = NULL;
    m->dtype = t;
    return AM_OK;
}

am_status am_react_set_domain_type(am_react *m, const am_react_domain_type *t)
{
    AM__REACT_LOCKED(am_status, m, am_react_set_domain_type_locked(m, t));
}

static am_status am_react_set_domain_locked(am_react *m, void *record)
{
    if (m == NULL)
        return AM_EINVAL;
    if (m->dtype == NULL)
        return am__fail(&AM__ERR(m), AM_ESTATE,
                        "domain record set before a domain type");
    if (m->d.domain != NULL && m->d.domain != record)
        m->dtype->free(m->dtype->ctx, m->d.domain);
    m->d.domain = record;
    am__react_run_hooks(m, AM_REACT_EV_DOMAIN);
    return AM_OK;
}

am_status am_react_set_domain(am_react *m, void *record)
{
    AM__REACT_LOCKED(am_status, m, am_react_set_domain_locked(m, record));
}

static void *am_react_domain_locked(const am_react *m)
{
    return m != NULL ? m->d.domain : NULL;
}

void *am_react_domain(const am_react *m)
{
    AM__REACT_LOCKED(void *, m, am_react_domain_locked(m));
}

static void am_react_domain_touched_locked(am_react *m)
{
    if (m != NULL)
        am__react_run_hooks(m, AM_REACT_EV_DOMAIN);
}

void am_react_domain_touched(am_react *m)
{
    AM__REACT_LOCKED_VOID(m, am_react_domain_touched_locked(m));
}
