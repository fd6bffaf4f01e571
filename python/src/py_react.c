/* py_react.c -- a ReAct agent's memory (react.h) and its session directory
 * (sessions.h) from Python: the _React and _Sessions types under
 * agentmem.react.
 *
 * Records come back as tuples of plain values; agentmem.react turns them
 * into the dataclasses the seed documents.
 *
 * Locking. am_react has its own (recursive) mutex and calls hooks with it
 * held, on the thread that made the change. A Python hook needs the GIL,
 * so a thread that waited for the C mutex while holding the GIL would
 * deadlock against a hook that dropped the GIL to let it run. Each _React
 * therefore has a Python-side lock, taken with the GIL released when
 * contended, around every C call *and* the copy of the borrowed strings
 * that follows it (am_react_*_at strings are valid only until the next
 * modifying call). Under that lock the C mutex is never contended, so the
 * C calls themselves can keep the GIL. A hook runs on the thread that
 * holds the lock; its reads re-enter (owner check) and its writes are
 * refused, because react.h forbids hooks to modify the memory.
 */
#include "py_react.h"

#include <pythread.h>
#include <string.h>
#include <strings.h>

/* ---- the Python-side lock ---- */

int amp_react_enter(ReactObject *self)
{
    unsigned long me = PyThread_get_thread_ident();
    if (!self->m) {
        PyErr_SetString(PyExc_ValueError, "the ReAct memory is closed");
        return -1;
    }
    if (self->owner == me) {
        self->depth++;
        return 0;
    }
    if (!PyThread_acquire_lock(self->lock, NOWAIT_LOCK)) {
        Py_BEGIN_ALLOW_THREADS
        PyThread_acquire_lock(self->lock, WAIT_LOCK);
        Py_END_ALLOW_THREADS
    }
    if (!self->m) { /* closed while we waited */
        PyThread_release_lock(self->lock);
        PyErr_SetString(PyExc_ValueError, "the ReAct memory is closed");
        return -1;
    }
    self->owner = me;
    self->depth = 1;
    return 0;
}

void amp_react_exit(ReactObject *self)
{
    if (--self->depth == 0) {
        self->owner = 0;
        PyThread_release_lock(self->lock);
    }
}

/* lock_enter for a call that modifies the memory: refused inside a hook. */
int amp_react_enter_write(ReactObject *self)
{
    if (amp_react_enter(self) < 0)
        return -1;
    if (self->in_hook) {
        amp_react_exit(self);
        amp_raise(AM_ESTATE, "a memory hook must not modify the memory "
                             "(it runs inside the update that called it)");
        return -1;
    }
    return 0;
}

/* Raise the memory's detail for a failed call (the lock is held). */
PyObject *amp_react_raise(ReactObject *self, am_status st)
{
    am_error e = *am_react_last_error(self->m);
    if (e.code == AM_OK)
        e.code = st;
    return amp_raise_err(&e);
}

/* Record the pending Python exception as `code` with its type and text in
 * `err`, and clear it: a callback's failure travels through the C library
 * as a status. */
am_status amp_react_exc_to_err(am_status code, am_error *err)
{
    PyObject *type, *value, *tb;
    PyErr_Fetch(&type, &value, &tb);
    PyErr_NormalizeException(&type, &value, &tb);
    PyObject *s = value ? PyObject_Str(value) : NULL;
    const char *txt = s ? PyUnicode_AsUTF8(s) : NULL;
    PyErr_Clear();
    err->code = code;
    snprintf(err->msg, sizeof err->msg, "%s: %s",
             type ? ((PyTypeObject *)type)->tp_name : "error",
             txt ? txt : "?");
    Py_XDECREF(s);
    Py_XDECREF(type);
    Py_XDECREF(value);
    Py_XDECREF(tb);
    return code;
}

/* ---- hooks ---- */

static const char *const event_names[] = {
    "message", "tool", "step", "context", "todo", "prune", "import",
    "domain", "slot"};

/* The C hook: call the Python callable as fn(memory, event). A Python
 * exception becomes a hook failure carrying its text (the update stands,
 * as react.h says). */
static am_status hook_tramp(void *ctx, const am_react *m, am_react_event ev,
                            am_error *err)
{
    hook_slot *h = ctx;
    am_status st = AM_OK;
    PyGILState_STATE g = PyGILState_Ensure();
    if (h->fn) {
        const char *name = (unsigned)ev < sizeof event_names /
                                              sizeof event_names[0]
                               ? event_names[ev] : "?";
        PyObject *fn = Py_NewRef(h->fn);
        h->self->in_hook++;
        PyObject *r = PyObject_CallFunction(fn, "Os", (PyObject *)h->self,
                                            name);
        h->self->in_hook--;
        Py_DECREF(fn);
        if (r) {
            Py_DECREF(r);
        } else {
            st = amp_react_exc_to_err(AM_ECANCELED, err);
        }
    }
    PyGILState_Release(g);
    return st;
}

/* ---- _React: life ---- */

static int react_init(ReactObject *self, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"max_messages", "max_tool_executions",
                             "max_steps", NULL};
    PyObject *mm = Py_None, *mt = Py_None, *ms = Py_None;
    if (self->m) {
        PyErr_SetString(PyExc_RuntimeError, "already initialized");
        return -1;
    }
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|OOO", kwlist, &mm, &mt, &ms))
        return -1;
    am_react_opts o = am_react_opts_default();
    if (amp_size(mm, "max_messages", 0, &o.max_messages) < 0 ||
        amp_size(mt, "max_tool_executions", 0, &o.max_tool_execs) < 0 ||
        amp_size(ms, "max_steps", 0, &o.max_steps) < 0)
        return -1;
    if (!self->lock && !(self->lock = PyThread_allocate_lock())) {
        PyErr_NoMemory();
        return -1;
    }
    am_error err = { AM_OK, "" };
    if (am_react_create(&o, &self->m, &err) != AM_OK) {
        amp_raise_err(&err);
        return -1;
    }
    return 0;
}

static int react_traverse(ReactObject *self, visitproc visit, void *arg)
{
    for (int i = 0; i < self->nhooks; i++)
        Py_VISIT(self->hooks[i].fn);
    Py_VISIT(self->dserialize);
    Py_VISIT(self->ddeserialize);
    /* The domain record is owned by the C memory: visiting it lets the GC
     * see cycles through it (a record that refers back to the memory). */
    if (self->m && self->dname && self->owner == 0) {
        PyObject *rec = am_react_domain(self->m);
        Py_VISIT(rec);
    }
    return 0;
}

static int react_clear(ReactObject *self)
{
    for (int i = 0; i < self->nhooks; i++)
        Py_CLEAR(self->hooks[i].fn);
    return 0;
}

static void react_free_handle(ReactObject *self)
{
    /* am_react_free frees the domain record through dom_free, which
     * needs the callbacks' objects no more. */
    am_react_free(self->m);
    self->m = NULL;
    Py_CLEAR(self->dserialize);
    Py_CLEAR(self->ddeserialize);
    PyMem_Free(self->dname);
    self->dname = NULL;
}

static void react_dealloc(ReactObject *self)
{
    PyObject_GC_UnTrack(self);
    react_clear(self);
    react_free_handle(self);
    if (self->lock)
        PyThread_free_lock(self->lock);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *react_close(ReactObject *self, PyObject *unused)
{
    if (!self->m)
        Py_RETURN_NONE;
    if (amp_react_enter_write(self) < 0)
        return NULL;
    if (self->depth > 1) {
        amp_react_exit(self);
        return amp_raise(AM_ESTATE, "cannot close the memory from inside "
                                    "one of its own calls");
    }
    react_free_handle(self);
    amp_react_exit(self);
    Py_RETURN_NONE;
}

static PyObject *react_closed(ReactObject *self, void *c)
{
    return PyBool_FromLong(self->m == NULL);
}

/* ---- conversation ---- */

static PyObject *react_add_message(ReactObject *self, PyObject *args)
{
    PyObject *ro, *co;
    am_str role, content;
    if (!PyArg_ParseTuple(args, "OO:add_message", &ro, &co) ||
        amp_utf8(ro, "role", &role) < 0 ||
        amp_utf8(co, "content", &content) < 0)
        return NULL;
    if (amp_react_enter_write(self) < 0)
        return NULL;
    am_status st = am_react_add_message(self->m, role, content);
    PyObject *r = st == AM_OK ? Py_NewRef(Py_None) : amp_react_raise(self, st);
    amp_react_exit(self);
    return r;
}

static PyObject *msg_tuple(const am_react_message *x)
{
    PyObject *role = amp_pystr(x->role), *content = amp_pystr(x->content);
    PyObject *t = role && content
                      ? Py_BuildValue("(OOL)", role, content,
                                      (long long)x->ts_ms)
                      : NULL;
    Py_XDECREF(role);
    Py_XDECREF(content);
    return t;
}

/* Indices from one of the find calls, sized by a first counting call
 * (the lock is held, so the count cannot change in between). */
typedef size_t (*find_fn)(ReactObject *self, const void *q, size_t *idx,
                          size_t cap);

static PyObject *collect(ReactObject *self, find_fn find, const void *q,
                         PyObject *(*get)(ReactObject *, size_t))
{
    size_t n = find(self, q, NULL, 0);
    size_t *idx = n ? PyMem_Malloc(n * sizeof *idx) : NULL;
    if (n && !idx)
        return PyErr_NoMemory();
    find(self, q, idx, n);
    PyObject *list = PyList_New((Py_ssize_t)n);
    for (size_t i = 0; list && i < n; i++) {
        PyObject *t = get(self, idx[i]);
        if (!t) {
            Py_CLEAR(list);
            break;
        }
        PyList_SET_ITEM(list, (Py_ssize_t)i, t);
    }
    PyMem_Free(idx);
    return list;
}

static PyObject *get_msg(ReactObject *self, size_t i)
{
    am_react_message x;
    am_status st = am_react_message_at(self->m, i, &x);
    return st == AM_OK ? msg_tuple(&x) : amp_react_raise(self, st);
}

static size_t find_role(ReactObject *self, const void *q, size_t *idx,
                        size_t cap)
{
    return am_react_messages_by_role(self->m, *(const am_str *)q, idx, cap);
}

static size_t find_all_msgs(ReactObject *self, const void *q, size_t *idx,
                            size_t cap)
{
    size_t n = am_react_message_count(self->m);
    for (size_t i = 0; i < n && i < cap; i++)
        idx[i] = i;
    return n;
}

/* messages(role=None) -> [(role, content, ts_ms)] */
static PyObject *react_messages(ReactObject *self, PyObject *args)
{
    PyObject *ro = Py_None;
    am_str role = {0};
    if (!PyArg_ParseTuple(args, "|O:messages", &ro))
        return NULL;
    if (ro != Py_None && amp_utf8(ro, "role", &role) < 0)
        return NULL;
    if (amp_react_enter(self) < 0)
        return NULL;
    PyObject *r = ro == Py_None ? collect(self, find_all_msgs, NULL, get_msg)
                                : collect(self, find_role, &role, get_msg);
    amp_react_exit(self);
    return r;
}

/* ---- counts ---- */

static PyObject *react_counts(ReactObject *self, PyObject *unused)
{
    if (amp_react_enter(self) < 0)
        return NULL;
    PyObject *r = Py_BuildValue(
        "(nnnn)", (Py_ssize_t)am_react_message_count(self->m),
        (Py_ssize_t)am_react_tool_exec_count(self->m),
        (Py_ssize_t)am_react_step_count(self->m),
        (Py_ssize_t)am_react_todo_count(self->m));
    amp_react_exit(self);
    return r;
}

/* ---- tool executions ---- */

/* add_tool_exec(tool, params_json, success, result_json, error,
 *               duration_us, ts_ms) */
static PyObject *react_add_tool_exec(ReactObject *self, PyObject *args)
{
    PyObject *to, *po, *ro, *eo;
    int success;
    long long dur, ts;
    am_react_tool_exec e = {0};
    if (!PyArg_ParseTuple(args, "OOpOOLL:add_tool_exec", &to, &po, &success,
                          &ro, &eo, &dur, &ts))
        return NULL;
    if (amp_utf8(to, "tool_name", &e.tool) < 0 ||
        amp_utf8(po, "params", &e.params_json) < 0 ||
        amp_utf8(ro, "result", &e.result_json) < 0 ||
        (eo != Py_None && amp_utf8(eo, "error", &e.error) < 0))
        return NULL;
    if (dur < 0)
        return PyErr_Format(PyExc_ValueError,
                            "execution_time must be >= 0, not %lld us", dur);
    e.success = success;
    e.duration_us = dur;
    e.ts_ms = ts;
    if (amp_react_enter_write(self) < 0)
        return NULL;
    am_status st = am_react_add_tool_exec(self->m, &e);
    PyObject *r = st == AM_OK ? Py_NewRef(Py_None) : amp_react_raise(self, st);
    amp_react_exit(self);
    return r;
}

static PyObject *get_tool(ReactObject *self, size_t i)
{
    am_react_tool_exec x;
    am_status st = am_react_tool_exec_at(self->m, i, &x);
    if (st != AM_OK)
        return amp_react_raise(self, st);
    PyObject *tool = amp_pystr(x.tool), *params = amp_pystr(x.params_json),
             *result = amp_pystr(x.result_json), *error = amp_pystr(x.error);
    PyObject *t = tool && params && result && error
                      ? Py_BuildValue("(OONOOLL)", tool, params,
                                      PyBool_FromLong(x.success), result,
                                      error, (long long)x.duration_us,
                                      (long long)x.ts_ms)
                      : NULL;
    Py_XDECREF(tool);
    Py_XDECREF(params);
    Py_XDECREF(result);
    Py_XDECREF(error);
    return t;
}

typedef struct {
    am_str tool;
    am_react_outcome outcome;
} tool_query;

static size_t find_tools(ReactObject *self, const void *q, size_t *idx,
                         size_t cap)
{
    const tool_query *tq = q;
    return am_react_find_tool_execs(self->m, tq->tool, tq->outcome, idx, cap);
}

/* tool_execs(tool=None, success=None) -> [(tool, params_json, success,
 * result_json, error, duration_us, ts_ms)] */
static PyObject *react_tool_execs(ReactObject *self, PyObject *args)
{
    PyObject *to = Py_None, *so = Py_None;
    tool_query q = {{"", 0}, AM_REACT_ANY};
    if (!PyArg_ParseTuple(args, "|OO:tool_execs", &to, &so))
        return NULL;
    if (to != Py_None && amp_utf8(to, "tool_name", &q.tool) < 0)
        return NULL;
    if (so != Py_None) {
        int b = PyObject_IsTrue(so);
        if (b < 0)
            return NULL;
        q.outcome = b ? AM_REACT_SUCCEEDED : AM_REACT_FAILED;
    }
    if (amp_react_enter(self) < 0)
        return NULL;
    PyObject *r = collect(self, find_tools, &q, get_tool);
    amp_react_exit(self);
    return r;
}

/* ---- reasoning ---- */

static int step_type_of(PyObject *o, am_step_type *out)
{
    am_str s;
    if (amp_utf8(o, "step_type", &s) < 0)
        return -1;
    for (int t = AM_STEP_THINK; t <= AM_STEP_OBSERVE; t++) {
        const char *n = am_step_type_name((am_step_type)t);
        if (s.len == strlen(n) && !strncasecmp(s.ptr, n, s.len)) {
            *out = (am_step_type)t;
            return 0;
        }
    }
    PyErr_Format(PyExc_ValueError,
                 "step_type must be THINK, ACT or OBSERVE, not %.40R", o);
    return -1;
}

static PyObject *react_add_step(ReactObject *self, PyObject *args)
{
    PyObject *to, *co;
    am_step_type type;
    am_str content;
    if (!PyArg_ParseTuple(args, "OO:add_step", &to, &co) ||
        step_type_of(to, &type) < 0 ||
        amp_utf8(co, "content", &content) < 0)
        return NULL;
    if (amp_react_enter_write(self) < 0)
        return NULL;
    am_status st = am_react_add_step(self->m, type, content);
    PyObject *r = st == AM_OK ? Py_NewRef(Py_None) : amp_react_raise(self, st);
    amp_react_exit(self);
    return r;
}

static PyObject *get_step(ReactObject *self, size_t i)
{
    am_react_step x;
    am_status st = am_react_step_at(self->m, i, &x);
    if (st != AM_OK)
        return amp_react_raise(self, st);
    PyObject *c = amp_pystr(x.content);
    PyObject *t = c ? Py_BuildValue("(sOL)", am_step_type_name(x.type), c,
                                    (long long)x.ts_ms)
                    : NULL;
    Py_XDECREF(c);
    return t;
}

typedef struct {
    int type;
    size_t recent;
} step_query;

static size_t find_steps(ReactObject *self, const void *q, size_t *idx,
                         size_t cap)
{
    const step_query *sq = q;
    return am_react_find_steps(self->m, sq->type, sq->recent, idx, cap);
}

/* steps(step_type=None, recent=0) -> [(type, content, ts_ms)] */
static PyObject *react_steps(ReactObject *self, PyObject *args)
{
    PyObject *to = Py_None, *ro = Py_None;
    step_query q = {-1, 0};
    if (!PyArg_ParseTuple(args, "|OO:steps", &to, &ro))
        return NULL;
    if (to != Py_None) {
        am_step_type t;
        if (step_type_of(to, &t) < 0)
            return NULL;
        q.type = (int)t;
    }
    if (amp_size(ro, "recent", 0, &q.recent) < 0)
        return NULL;
    if (amp_react_enter(self) < 0)
        return NULL;
    PyObject *r = collect(self, find_steps, &q, get_step);
    amp_react_exit(self);
    return r;
}

/* ---- keyed values: context, slots, todos ---- */

/* The index of `o` (a str) in names[0..n), or a ValueError "WHAT must be
 * CHOICES, not 'x'". */
static int name_index(PyObject *o, const char *what,
                      const char *const *names, int n, const char *choices,
                      int *out)
{
    am_str s;
    if (amp_utf8(o, what, &s) < 0)
        return -1;
    for (int i = 0; i < n; i++) {
        if (s.len == strlen(names[i]) && !memcmp(s.ptr, names[i], s.len)) {
            *out = i;
            return 0;
        }
    }
    PyErr_Format(PyExc_ValueError, "%s must be %s, not %.40R", what,
                 choices, o);
    return -1;
}

/* fn(m, key, value_json) for context_set/slot_set: args (key, json). */
static PyObject *set_call(ReactObject *self, PyObject *args,
                          const char *fmt, const char *key_what,
                          const char *value_what,
                          am_status (*fn)(am_react *, am_str, am_str))
{
    PyObject *ko, *vo;
    am_str key, value;
    if (!PyArg_ParseTuple(args, fmt, &ko, &vo) ||
        amp_utf8(ko, key_what, &key) < 0 ||
        amp_utf8(vo, value_what, &value) < 0)
        return NULL;
    if (amp_react_enter_write(self) < 0)
        return NULL;
    am_status st = fn(self->m, key, value);
    PyObject *r = st == AM_OK ? Py_NewRef(Py_None) : amp_react_raise(self, st);
    amp_react_exit(self);
    return r;
}

/* fn(m, key) for the removes: True, or False when absent. */
static PyObject *remove_call(ReactObject *self, PyObject *ko,
                             const char *what,
                             am_status (*fn)(am_react *, am_str))
{
    am_str key;
    if (amp_utf8(ko, what, &key) < 0 || amp_react_enter_write(self) < 0)
        return NULL;
    am_status st = fn(self->m, key);
    PyObject *r = st == AM_OK ? Py_NewRef(Py_True)
                  : st == AM_ENOTFOUND ? Py_NewRef(Py_False)
                                       : amp_react_raise(self, st);
    amp_react_exit(self);
    return r;
}

/* ---- context ---- */

static PyObject *react_context_set(ReactObject *self, PyObject *args)
{
    return set_call(self, args, "OO:context_set", "context key",
                    "context value", am_react_context_set);
}

/* context_get(key) -> JSON text, or None when absent */
static PyObject *react_context_get(ReactObject *self, PyObject *ko)
{
    am_str key;
    if (amp_utf8(ko, "context key", &key) < 0)
        return NULL;
    if (amp_react_enter(self) < 0)
        return NULL;
    am_buf out = AM_BUF_INIT;
    am_status st = am_react_context_get(self->m, key, &out);
    PyObject *r;
    if (st == AM_OK)
        r = amp_pystr(am_buf_str(&out));
    else if (st == AM_ENOTFOUND)
        r = Py_NewRef(Py_None);
    else
        r = amp_react_raise(self, st);
    amp_react_exit(self);
    am_buf_free(&out);
    return r;
}

/* context_remove(key) -> bool (False: absent) */
static PyObject *react_context_remove(ReactObject *self, PyObject *ko)
{
    return remove_call(self, ko, "context key", am_react_context_remove);
}

/* ---- typed slots ---- */

static int slot_type_of(PyObject *o, am_slot_type *out)
{
    const char *names[AM_SLOT_BOOL + 1];
    int t;
    for (t = 0; t <= AM_SLOT_BOOL; t++)
        names[t] = am_slot_type_name((am_slot_type)t);
    if (name_index(o, "slot type", names, AM_SLOT_BOOL + 1,
                   "any, object, array, string, number, integer or bool",
                   &t) < 0)
        return -1;
    *out = (am_slot_type)t;
    return 0;
}

/* slot_define(name, type, json) / slot_set(name, json) */
static PyObject *react_slot_define(ReactObject *self, PyObject *args)
{
    PyObject *no, *to, *vo;
    am_str name, value;
    am_slot_type type;
    if (!PyArg_ParseTuple(args, "OOO:slot_define", &no, &to, &vo) ||
        amp_utf8(no, "slot name", &name) < 0 || slot_type_of(to, &type) < 0 ||
        amp_utf8(vo, "slot value", &value) < 0)
        return NULL;
    if (amp_react_enter_write(self) < 0)
        return NULL;
    am_status st = am_react_slot_define(self->m, name, type, value);
    PyObject *r = st == AM_OK ? Py_NewRef(Py_None) : amp_react_raise(self, st);
    amp_react_exit(self);
    return r;
}

static PyObject *react_slot_set(ReactObject *self, PyObject *args)
{
    return set_call(self, args, "OO:slot_set", "slot name", "slot value",
                    am_react_slot_set);
}

/* slot_get(name) -> (JSON text, type name), or None when undefined */
static PyObject *react_slot_get(ReactObject *self, PyObject *no)
{
    am_str name;
    if (amp_utf8(no, "slot name", &name) < 0 || amp_react_enter(self) < 0)
        return NULL;
    am_buf out = AM_BUF_INIT;
    am_slot_type type = AM_SLOT_ANY;
    am_status st = am_react_slot_get(self->m, name, &out, &type);
    PyObject *r;
    if (st == AM_OK)
        r = Py_BuildValue("(s#s)", out.ptr ? out.ptr : "",
                          (Py_ssize_t)out.len, am_slot_type_name(type));
    else if (st == AM_ENOTFOUND)
        r = Py_NewRef(Py_None);
    else
        r = amp_react_raise(self, st);
    amp_react_exit(self);
    am_buf_free(&out);
    return r;
}

/* slot_remove(name) -> bool (False: undefined) */
static PyObject *react_slot_remove(ReactObject *self, PyObject *no)
{
    return remove_call(self, no, "slot name", am_react_slot_remove);
}

/* slot_names() -> JSON array text */
static PyObject *react_slot_names(ReactObject *self, PyObject *unused)
{
    if (amp_react_enter(self) < 0)
        return NULL;
    am_buf out = AM_BUF_INIT;
    am_status st = am_react_slot_names(self->m, &out);
    PyObject *r = st == AM_OK ? amp_pystr(am_buf_str(&out))
                              : amp_react_raise(self, st);
    amp_react_exit(self);
    am_buf_free(&out);
    return r;
}

/* ---- todos ---- */

static int todo_status_of(PyObject *o, am_todo_status *out)
{
    const char *names[AM_TODO_DONE + 1];
    int t;
    for (t = 0; t <= AM_TODO_DONE; t++)
        names[t] = am_todo_status_name((am_todo_status)t);
    if (name_index(o, "todo status", names, AM_TODO_DONE + 1,
                   "pending, in_progress or done", &t) < 0)
        return -1;
    *out = (am_todo_status)t;
    return 0;
}

/* todo_put(id, content, status, priority) */
static PyObject *react_todo_put(ReactObject *self, PyObject *args)
{
    PyObject *io, *co, *so;
    int prio;
    am_react_todo t;
    if (!PyArg_ParseTuple(args, "OOOi:todo_put", &io, &co, &so, &prio) ||
        amp_utf8(io, "todo id", &t.id) < 0 ||
        amp_utf8(co, "todo content", &t.content) < 0 ||
        todo_status_of(so, &t.status) < 0)
        return NULL;
    t.priority = prio;
    if (amp_react_enter_write(self) < 0)
        return NULL;
    am_status st = am_react_todo_put(self->m, &t);
    PyObject *r = st == AM_OK ? Py_NewRef(Py_None) : amp_react_raise(self, st);
    amp_react_exit(self);
    return r;
}

static PyObject *react_todo_remove(ReactObject *self, PyObject *io)
{
    return remove_call(self, io, "todo id", am_react_todo_remove);
}

/* todos() -> [(id, content, status, priority)] in insertion order */
static PyObject *react_todos(ReactObject *self, PyObject *unused)
{
    if (amp_react_enter(self) < 0)
        return NULL;
    size_t n = am_react_todo_count(self->m);
    PyObject *list = PyList_New((Py_ssize_t)n);
    for (size_t i = 0; list && i < n; i++) {
        am_react_todo t;
        am_status st = am_react_todo_at(self->m, i, &t);
        PyObject *id = NULL, *c = NULL, *x = NULL;
        if (st != AM_OK)
            amp_react_raise(self, st);
        else if ((id = amp_pystr(t.id)) && (c = amp_pystr(t.content)))
            x = Py_BuildValue("(OOsi)", id, c, am_todo_status_name(t.status),
                              t.priority);
        Py_XDECREF(id);
        Py_XDECREF(c);
        if (!x) {
            Py_CLEAR(list);
            break;
        }
        PyList_SET_ITEM(list, (Py_ssize_t)i, x);
    }
    amp_react_exit(self);
    return list;
}

/* ---- statistics, pruning ---- */

static PyObject *react_stats_json(ReactObject *self, PyObject *unused)
{
    if (amp_react_enter(self) < 0)
        return NULL;
    am_buf out = AM_BUF_INIT;
    am_status st = am_react_stats_json(self->m, &out);
    PyObject *r = st == AM_OK ? amp_json_loads(am_buf_str(&out))
                              : amp_react_raise(self, st);
    amp_react_exit(self);
    am_buf_free(&out);
    return r;
}

static PyObject *react_prune(ReactObject *self, PyObject *args)
{
    PyObject *a = Py_None, *b = Py_None, *c = Py_None;
    size_t mm, mt, ms;
    if (!PyArg_ParseTuple(args, "|OOO:prune", &a, &b, &c) ||
        amp_size(a, "max_messages", 0, &mm) < 0 ||
        amp_size(b, "max_tool_executions", 0, &mt) < 0 ||
        amp_size(c, "max_steps", 0, &ms) < 0)
        return NULL;
    if (amp_react_enter_write(self) < 0)
        return NULL;
    am_status st = am_react_prune(self->m, mm, mt, ms);
    PyObject *r = st == AM_OK ? Py_NewRef(Py_None) : amp_react_raise(self, st);
    amp_react_exit(self);
    return r;
}

/* ---- hooks ---- */

static PyObject *react_add_hook(ReactObject *self, PyObject *fn)
{
    if (!PyCallable_Check(fn))
        return PyErr_Format(PyExc_TypeError,
                            "a memory hook must be callable, not %.80s",
                            Py_TYPE(fn)->tp_name);
    if (amp_react_enter_write(self) < 0)
        return NULL;
    PyObject *r;
    if (self->nhooks == MAX_HOOKS) {
        r = amp_raise(AM_ELIMIT, "at most 16 memory hooks");
    } else {
        hook_slot *h = &self->hooks[self->nhooks];
        h->self = self;
        h->fn = Py_NewRef(fn);
        am_status st = am_react_add_hook(self->m, hook_tramp, h);
        if (st == AM_OK) {
            self->nhooks++;
            r = Py_NewRef(Py_None);
        } else {
            Py_CLEAR(h->fn);
            r = amp_react_raise(self, st);
        }
    }
    amp_react_exit(self);
    return r;
}

static PyObject *react_hook_failures(ReactObject *self, void *c)
{
    if (amp_react_enter(self) < 0)
        return NULL;
    size_t n = am_react_hook_failures(self->m);
    amp_react_exit(self);
    return PyLong_FromSize_t(n);
}

static PyObject *react_hook_error(ReactObject *self, void *c)
{
    if (amp_react_enter(self) < 0)
        return NULL;
    const am_error *e = am_react_hook_error(self->m);
    PyObject *r = e->code == AM_OK ? Py_NewRef(Py_None)
                                   : PyUnicode_DecodeUTF8(
                                         e->msg, (Py_ssize_t)strlen(e->msg),
                                         "replace");
    amp_react_exit(self);
    return r;
}

static PyMethodDef react_methods[] = {
    {"close", (PyCFunction)react_close, METH_NOARGS,
     "Free the C memory now (also done on garbage collection)."},
    {"add_message", (PyCFunction)react_add_message, METH_VARARGS,
     "add_message(role, content)"},
    {"messages", (PyCFunction)react_messages, METH_VARARGS,
     "messages(role=None) -> [(role, content, ts_ms)]"},
    {"counts", (PyCFunction)react_counts, METH_NOARGS,
     "counts() -> (messages, tool_executions, steps, todos)"},
    {"add_tool_exec", (PyCFunction)react_add_tool_exec, METH_VARARGS,
     "add_tool_exec(tool, params_json, success, result_json, error, "
     "duration_us, ts_ms)"},
    {"tool_execs", (PyCFunction)react_tool_execs, METH_VARARGS,
     "tool_execs(tool=None, success=None) -> [(tool, params_json, "
     "success, result_json, error, duration_us, ts_ms)]"},
    {"add_step", (PyCFunction)react_add_step, METH_VARARGS,
     "add_step(step_type, content)"},
    {"steps", (PyCFunction)react_steps, METH_VARARGS,
     "steps(step_type=None, recent=0) -> [(type, content, ts_ms)]"},
    {"context_set", (PyCFunction)react_context_set, METH_VARARGS,
     "context_set(key, value_json)"},
    {"context_get", (PyCFunction)react_context_get, METH_O,
     "context_get(key) -> JSON text or None"},
    {"context_remove", (PyCFunction)react_context_remove, METH_O,
     "context_remove(key) -> bool"},
    {"slot_define", (PyCFunction)react_slot_define, METH_VARARGS,
     "slot_define(name, type, value_json)"},
    {"slot_set", (PyCFunction)react_slot_set, METH_VARARGS,
     "slot_set(name, value_json)"},
    {"slot_get", (PyCFunction)react_slot_get, METH_O,
     "slot_get(name) -> (value_json, type) or None"},
    {"slot_remove", (PyCFunction)react_slot_remove, METH_O,
     "slot_remove(name) -> bool"},
    {"slot_names", (PyCFunction)react_slot_names, METH_NOARGS,
     "slot_names() -> JSON array text"},
    {"todo_put", (PyCFunction)react_todo_put, METH_VARARGS,
     "todo_put(id, content, status, priority)"},
    {"todo_remove", (PyCFunction)react_todo_remove, METH_O,
     "todo_remove(id) -> bool"},
    {"_todos", (PyCFunction)react_todos, METH_NOARGS,
     "_todos() -> [(id, content, status, priority)]"},
    {"stats_json", (PyCFunction)react_stats_json, METH_NOARGS,
     "stats_json() -> dict (am_react_stats_json)"},
    {"prune", (PyCFunction)react_prune, METH_VARARGS,
     "prune(max_messages=0, max_tool_executions=0, max_steps=0)"},
    {"add_hook", (PyCFunction)react_add_hook, METH_O,
     "add_hook(fn): fn(memory, event) after every update"},
    {"set_domain_type", (PyCFunction)amp_react_set_domain_type, METH_VARARGS,
     "set_domain_type(name, serialize, deserialize)"},
    {"set_domain", (PyCFunction)amp_react_set_domain, METH_O,
     "set_domain(record)"},
    {"_domain", (PyCFunction)amp_react_domain, METH_NOARGS,
     "_domain() -> the record or None"},
    {"domain_touched", (PyCFunction)amp_react_domain_touched, METH_NOARGS,
     "Run the hooks for an in-place change of the domain record."},
    {"export", (PyCFunction)amp_react_export, METH_NOARGS,
     "export() -> JSON document (lossless)"},
    {"import_", (PyCFunction)amp_react_import, METH_O,
     "import_(json_text): replace the contents (unchanged on error)"},
    {NULL, NULL, 0, NULL}};

static PyGetSetDef react_getset[] = {
    {"closed", (getter)react_closed, NULL, "True after close().", NULL},
    {"hook_failures", (getter)react_hook_failures, NULL,
     "Number of hook calls that raised so far.", NULL},
    {"hook_error", (getter)react_hook_error, NULL,
     "The latest hook failure's message, or None.", NULL},
    {NULL, NULL, NULL, NULL, NULL}};

static PyTypeObject ReactType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "agentmem._agentmem._React",
    .tp_basicsize = sizeof(ReactObject),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC,
    .tp_doc = "A ReAct agent's memory (am_react).",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)react_init,
    .tp_dealloc = (destructor)react_dealloc,
    .tp_traverse = (traverseproc)react_traverse,
    .tp_clear = (inquiry)react_clear,
    .tp_methods = react_methods,
    .tp_getset = react_getset,
};

int amp_react_arg(PyObject *o, ReactObject **out)
{
    if (!PyObject_TypeCheck(o, &ReactType)) {
        PyErr_Format(PyExc_TypeError,
                     "expected an agentmem.react.ReactMemory, not %.80s",
                     Py_TYPE(o)->tp_name);
        return -1;
    }
    *out = (ReactObject *)o;
    return 0;
}

int amp_react_init(PyObject *module)
{
    if (PyType_Ready(&ReactType) < 0 ||
        PyModule_AddObjectRef(module, "_React", (PyObject *)&ReactType) < 0)
        return -1;
    return amp_sessions_init(module);
}
