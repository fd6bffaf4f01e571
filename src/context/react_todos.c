/* react_todos.c -- the todo list of a ReAct memory.
 *
 * Todos are records keyed by id: putting an existing id replaces that
 * todo in place, so the list keeps its order. The record helpers here
 * (build, find, parse a status) are shared with the import in react_io.c.
 */
#include <stdio.h>
#include <string.h>

#include "react_int.h"

/* ---- Todos ---- */

static const char *const status_names[] = {
    [AM_TODO_PENDING] = "pending", [AM_TODO_IN_PROGRESS] = "in_progress",
    [AM_TODO_DONE] = "done",
};
static const am__names statuses = AM__NAMES("todo status", status_names);

const char *am_todo_status_name(am_todo_status s)
{
    return am__name_of(&statuses, (int)s);
}

int am__react_todo_status_parse(am_str s)
{
    return am__name_find(&statuses, s);
}

am_status am__react_build_todo(const am_allocator *a, const am_react_todo *t,
                               rtodo *out, const char *where, am_error *err)
{
    char what[96];
    am_status st;

    memset(out, 0, sizeof *out);
    snprintf(what, sizeof what, "%s.id", where);
    if (t->id.len == 0)
        return am__fail(err, AM_EINVAL, "%s: must not be empty", what);
    st = am__react_check_text(err, t->id, what);
    if (st != AM_OK)
        return st;
    snprintf(what, sizeof what, "%s.content", where);
    st = am__react_check_text(err, t->content, what);
    if (st != AM_OK)
        return st;
    if ((int)t->status < AM_TODO_PENDING || (int)t->status > AM_TODO_DONE)
        return am__fail(err, AM_EINVAL, "%s.status: %d out of range", where,
                        (int)t->status);
    if (am__react_ostr_set(a, &out->id, t->id) != AM_OK ||
        am__react_ostr_set(a, &out->content, t->content) != AM_OK) {
        am__react_todo_free(a, out);
        return am__fail(err, AM_ENOMEM, "%s: out of memory", where);
    }
    out->status = t->status;
    out->priority = t->priority;
    return AM_OK;
}

size_t am__react_todo_find(const lists *d, am_str id)
{
    for (size_t i = 0; i < d->ntodos; i++)
        if (am__react_ostr_eq(&d->todos[i].id, id))
            return i;
    return SIZE_MAX;
}

static am_status am_react_todo_put_locked(am_react *m, const am_react_todo *t)
{
    rtodo rec;
    size_t at;
    am_status st;

    if (m == NULL)
        return AM_EINVAL;
    if (t == NULL)
        return am__fail(&AM__ERR(m), AM_EINVAL, "todo: NULL");
    if (am__grow(m->alloc, (void **)&m->d.todos, &m->d.captodos,
                 m->d.ntodos + 1, sizeof *m->d.todos) != AM_OK)
        return am__fail(&AM__ERR(m), AM_ENOMEM, "react: out of memory");
    st = am__react_build_todo(m->alloc, t, &rec, "todo", &AM__ERR(m));
    if (st != AM_OK)
        return st;
    at = am__react_todo_find(&m->d, t->id);
    if (at != SIZE_MAX) {
        am__react_todo_free(m->alloc, &m->d.todos[at]);
        m->d.todos[at] = rec;
    } else {
        m->d.todos[m->d.ntodos++] = rec;
    }
    am__react_run_hooks(m, AM_REACT_EV_TODO);
    return AM_OK;
}

am_status am_react_todo_put(am_react *m, const am_react_todo *t)
{
    AM__REACT_LOCKED(am_status, m, am_react_todo_put_locked(m, t));
}

static am_status am_react_todo_remove_locked(am_react *m, am_str id)
{
    size_t at;
    if (m == NULL)
        return AM_EINVAL;
    at = am__react_todo_find(&m->d, id);
    if (at == SIZE_MAX)
        return am__fail(&AM__ERR(m), AM_ENOTFOUND, "todo '%.*s' not found",
                        (int)(id.len > 64 ? 64 : id.len), id.ptr);
    am__react_todo_free(m->alloc, &m->d.todos[at]);
    memmove(&m->d.todos[at], &m->d.todos[at + 1],
            (m->d.ntodos - at - 1) * sizeof *m->d.todos);
    m->d.ntodos--;
    am__react_run_hooks(m, AM_REACT_EV_TODO);
    return AM_OK;
}

am_status am_react_todo_remove(am_react *m, am_str id)
{
    AM__REACT_LOCKED(am_status, m, am_react_todo_remove_locked(m, id));
}

static size_t am_react_todo_count_locked(const am_react *m)
{
    return m != NULL ? m->d.ntodos : 0;
}

size_t am_react_todo_count(const am_react *m)
{
    AM__REACT_LOCKED(size_t, m, am_react_todo_count_locked(m));
}

static am_status todo_view(const am_react *m, size_t i, void *out_,
                           am_str **f, size_t *nf)
{
    am_react_todo *out = out_;

    if (i >= m->d.ntodos)
        return AM_ENOTFOUND;
    out->id = am__react_ostr_view(&m->d.todos[i].id);
    out->content = am__react_ostr_view(&m->d.todos[i].content);
    out->status = m->d.todos[i].status;
    out->priority = m->d.todos[i].priority;
    f[0] = &out->id;
    f[1] = &out->content;
    *nf = 2;
    return AM_OK;
}

am_status am_react_todo_at(const am_react *m, size_t i, am_react_todo *out)
{
    return am__react_read(m, i, todo_view, out, NULL);
}

am_status am_react_todo_copy(const am_react *m, size_t i, am_react_todo *out,
                             am_buf *text)
{
    return text != NULL ? am__react_read(m, i, todo_view, out, text)
                        : AM_EINVAL;
}
