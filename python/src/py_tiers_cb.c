/* py_tiers_cb.c -- the _Tiers calls that can run Python code from C:
 * custom indexes (a Python key extractor), lifecycle policies (a Python
 * condition and action) and search over them, plus cleanup_old_items.
 * The callbacks are trampolines the C handle calls with its mutex held;
 * see pycb in py_tiers.h for why the GIL is released around these calls
 * once one is registered. */
#include "py_tiers.h"

#include <string.h>


static void keep_exc(TiersObject *self)
{
    if (!self->exc)
        PyErr_Fetch(&self->exc, &self->exc_val, &self->exc_tb);
    else
        PyErr_Clear();
}

/* Re-raise what a callback raised during the last C call (-1), or 0. */
int amp_tiers_cb_raised(TiersObject *self)
{
    if (!self->exc)
        return 0;
    PyErr_Restore(self->exc, self->exc_val, self->exc_tb);
    self->exc = self->exc_val = self->exc_tb = NULL;
    return -1;
}

/* A MemoryItem for a callback's view (content NULL when archived: None). */
static PyObject *view_item(const am_tier_item *v)
{
    if (!v->content.ptr) {
        am_tier_item copy = *v;
        copy.content = (am_str){"null", 4};
        copy.flags |= AM_TIER_JSON;
        return amp_tier_item_new(&copy, NULL, NULL);
    }
    return amp_tier_item_new(v, NULL, NULL);
}

static am_status key_tramp(void *ctx, const am_tier_item *item, am_buf *key)
{
    pycb *cb = ctx;
    am_status st = AM_OK;
    PyGILState_STATE g = PyGILState_Ensure();
    if (!cb->fn) { /* cleared by the GC: index nothing */
        PyGILState_Release(g);
        return AM_OK;
    }
    PyObject *it = view_item(item);
    PyObject *r = it ? PyObject_CallOneArg(cb->fn, it) : NULL;
    Py_XDECREF(it);
    if (r && r != Py_None) {
        PyObject *s = PyUnicode_Check(r) ? Py_NewRef(r) : PyObject_Str(r);
        Py_ssize_t n;
        const char *p = s ? PyUnicode_AsUTF8AndSize(s, &n) : NULL;
        if (p && am_buf_append(key, p, (size_t)n) != AM_OK)
            PyErr_NoMemory();
        Py_XDECREF(s);
    }
    Py_XDECREF(r);
    if (PyErr_Occurred()) {
        keep_exc(cb->owner);
        st = AM_ECANCELED;
    }
    PyGILState_Release(g);
    return st;
}

static bool cond_tramp(void *ctx, const am_tier_item *item, int64_t now_ms)
{
    pycb *cb = ctx;
    bool yes = false;
    PyGILState_STATE g = PyGILState_Ensure();
    if (cb->fn && !cb->owner->exc) { /* after a failure, match nothing */
        PyObject *it = view_item(item);
        PyObject *r = it ? PyObject_CallOneArg(cb->fn, it) : NULL;
        int t = r ? PyObject_IsTrue(r) : -1;
        Py_XDECREF(r);
        if (t > 0 && cb->action && cb->pending) {
            /* A Python action runs after the C pass (it may call the
             * handle); the match is counted now. */
            if (PyList_Append(cb->pending, it) < 0)
                t = -1;
        }
        Py_XDECREF(it);
        if (t < 0)
            keep_exc(cb->owner);
        yes = t > 0;
    }
    PyGILState_Release(g);
    return yes;
}

static am_tier_action none_action(void *ctx, const am_tier_item *item,
                                  int64_t now_ms)
{
    return AM_TIER_ACT_NONE;
}

static pycb *cb_new(TiersObject *self, PyObject *fn, PyObject *action)
{
    pycb *cb = PyMem_Calloc(1, sizeof *cb);
    if (!cb) {
        PyErr_NoMemory();
        return NULL;
    }
    cb->owner = self;
    cb->fn = Py_NewRef(fn);
    cb->action = Py_XNewRef(action);
    if (action && !(cb->pending = PyList_New(0))) {
        Py_DECREF(cb->fn);
        Py_DECREF(cb->action);
        PyMem_Free(cb);
        return NULL;
    }
    return cb;
}

void amp_tiers_cb_free_all(TiersObject *self)
{
    while (self->cbs) {
        pycb *n = self->cbs->next;
        Py_XDECREF(self->cbs->fn);
        Py_XDECREF(self->cbs->action);
        Py_XDECREF(self->cbs->pending);
        Py_XDECREF(self->cbs->name);
        PyMem_Free(self->cbs);
        self->cbs = n;
    }
}

/* add_index(name, key_fn): key_fn(item) -> str key, or None (not
 * indexed). */
PyObject *amp_tiers_add_index(TiersObject *self, PyObject *args)
{
    const char *name;
    PyObject *fn;
    if (!PyArg_ParseTuple(args, "sO:add_index", &name, &fn) ||
        amp_tiers_ready(self) < 0)
        return NULL;
    if (!PyCallable_Check(fn))
        return PyErr_Format(PyExc_TypeError,
                            "key_extractor must be callable, not %.80s",
                            Py_TYPE(fn)->tp_name);
    pycb *cb = cb_new(self, fn, NULL);
    if (!cb)
        return NULL;
    self->has_cb = 1; /* before the GIL goes: see pycb */
    am_status st;
    Py_BEGIN_ALLOW_THREADS
    st = am_tiers_add_index(self->t, name, key_tramp, cb);
    Py_END_ALLOW_THREADS
    /* The handle keeps cb until close, even when this failed. */
    cb->next = self->cbs;
    self->cbs = cb;
    if (amp_tiers_cb_raised(self) < 0)
        return NULL;
    if (st != AM_OK)
        return amp_tiers_raise(self, st);
    Py_RETURN_NONE;
}

static const struct {
    const char *name;
    am_tier_action act;
} actions[] = {{"archive", AM_TIER_ACT_ARCHIVE}, {"delete", AM_TIER_ACT_DELETE},
               {"refresh", AM_TIER_ACT_REFRESH}, {"demote", AM_TIER_ACT_DEMOTE},
               {"promote", AM_TIER_ACT_PROMOTE}};

/* add_policy(name, condition, action): action is "archive", "delete",
 * "refresh", "demote", "promote", or a callable(item) run after the C
 * pass for every match. */
PyObject *amp_tiers_add_policy(TiersObject *self, PyObject *args)
{
    const char *name;
    PyObject *cond, *act;
    if (!PyArg_ParseTuple(args, "sOO:add_policy", &name, &cond, &act) ||
        amp_tiers_ready(self) < 0)
        return NULL;
    if (!PyCallable_Check(cond))
        return PyErr_Format(PyExc_TypeError,
                            "condition must be callable, not %.80s",
                            Py_TYPE(cond)->tp_name);
    am_tier_policy p = {0};
    p.name = name;
    p.condition = cond_tramp;
    if (PyUnicode_Check(act)) {
        const char *a = PyUnicode_AsUTF8(act);
        if (!a)
            return NULL;
        for (size_t i = 0; i < sizeof actions / sizeof actions[0]; i++)
            if (!strcmp(a, actions[i].name))
                p.builtin = actions[i].act;
        if (p.builtin == AM_TIER_ACT_NONE)
            return PyErr_Format(PyExc_ValueError,
                                "action must be archive, delete, refresh, "
                                "demote, promote or a callable, not %R", act);
        act = NULL;
    } else if (PyCallable_Check(act)) {
        p.action = none_action;
    } else {
        return PyErr_Format(PyExc_TypeError,
                            "action must be a str or callable, not %.80s",
                            Py_TYPE(act)->tp_name);
    }
    pycb *cb = cb_new(self, cond, act);
    if (!cb)
        return NULL;
    if (!(cb->name = PyUnicode_FromString(name))) {
        Py_DECREF(cb->fn);
        Py_XDECREF(cb->action);
        Py_XDECREF(cb->pending);
        PyMem_Free(cb);
        return NULL;
    }
    p.ctx = cb;
    self->has_cb = 1;
    am_status st = am_tiers_add_policy(self->t, &p);
    cb->next = self->cbs;
    self->cbs = cb;
    if (st != AM_OK)
        return amp_tiers_raise(self, st);
    Py_RETURN_NONE;
}

/* apply_policies() -> {name: count}; Python actions run afterwards. */
PyObject *amp_tiers_apply_policies(TiersObject *self, PyObject *unused)
{
    if (amp_tiers_ready(self) < 0)
        return NULL;
    am_tier_policy_count counts[64];
    size_t n = 0;
    am_status st;
    Py_BEGIN_ALLOW_THREADS
    st = am_tiers_apply_policies(self->t, counts, 64, &n);
    Py_END_ALLOW_THREADS
    /* Collect the pending Python actions whatever happened, so that a
     * failed run does not leave them for the next one. */
    PyObject *todo = PyList_New(0);
    for (pycb *cb = self->cbs; todo && cb; cb = cb->next) {
        if (!cb->pending || !PyList_GET_SIZE(cb->pending))
            continue;
        PyObject *pair = Py_BuildValue("(OOO)", cb->action, cb->pending,
                                       cb->name);
        if (!pair || PyList_Append(todo, pair) < 0)
            Py_CLEAR(todo);
        Py_XDECREF(pair);
        Py_SETREF(cb->pending, PyList_New(0));
        if (!cb->pending)
            Py_CLEAR(todo);
    }
    if (!todo || amp_tiers_cb_raised(self) < 0) {
        Py_XDECREF(todo);
        return NULL;
    }
    if (st != AM_OK) {
        Py_DECREF(todo);
        return amp_tiers_raise(self, st);
    }
    PyObject *d = PyDict_New();
    for (size_t i = 0; d && i < n && i < 64; i++) {
        PyObject *c = PyLong_FromSize_t(counts[i].acted);
        if (!c || PyDict_SetItemString(d, counts[i].name, c) < 0)
            Py_CLEAR(d);
        Py_XDECREF(c);
    }
    /* Oldest registered first: the list is newest first. A policy with
     * a Python action counts its matches (C counted none: its action
     * there is "nothing"). */
    for (Py_ssize_t i = PyList_GET_SIZE(todo) - 1; d && i >= 0; i--) {
        PyObject *pair = PyList_GET_ITEM(todo, i);
        PyObject *fn = PyTuple_GET_ITEM(pair, 0),
                 *items = PyTuple_GET_ITEM(pair, 1);
        PyObject *c = PyLong_FromSsize_t(PyList_GET_SIZE(items));
        if (!c || PyDict_SetItem(d, PyTuple_GET_ITEM(pair, 2), c) < 0)
            Py_CLEAR(d);
        Py_XDECREF(c);
        for (Py_ssize_t j = 0; d && j < PyList_GET_SIZE(items); j++) {
            PyObject *r = PyObject_CallOneArg(fn, PyList_GET_ITEM(items, j));
            if (!r)
                Py_CLEAR(d);
            Py_XDECREF(r);
        }
    }
    Py_DECREF(todo);
    return d;
}

/* search(type, tags, min_importance, max_importance, created_from_ms,
 *        created_to_ms, recent_days, index, index_key, tiers, limit,
 *        peek) -> [ids], all keyword arguments. */
PyObject *amp_tiers_search(TiersObject *self, PyObject *args,
                              PyObject *kw)
{
    static char *kwlist[] = {"type", "tags", "min_importance",
                             "max_importance", "created_from_ms",
                             "created_to_ms", "recent_days", "index",
                             "index_key", "tiers", "limit", "peek", NULL};
    PyObject *type = Py_None, *tags = Py_None, *mn = Py_None, *mx = Py_None,
             *from = Py_None, *to = Py_None, *recent = Py_None,
             *index = Py_None, *ikey = Py_None, *tiers = Py_None,
             *limit = Py_None;
    int peek = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|$OOOOOOOOOOOp", kwlist,
                                     &type, &tags, &mn, &mx, &from, &to,
                                     &recent, &index, &ikey, &tiers, &limit,
                                     &peek) ||
        amp_tiers_ready(self) < 0)
        return NULL;
    am_tier_query q = am_tier_query_default();
    am_str tagv[64];
    if (type != Py_None && amp_utf8(type, "type", &q.type) < 0)
        return NULL;
    if (tags != Py_None) {
        if (!PyList_Check(tags) && !PyTuple_Check(tags))
            return PyErr_Format(PyExc_TypeError,
                                "tags must be a list of str, not %.80s",
                                Py_TYPE(tags)->tp_name);
        Py_ssize_t n = PySequence_Fast_GET_SIZE(tags);
        if (n > 64)
            return PyErr_Format(PyExc_ValueError, "at most 64 tags");
        for (Py_ssize_t i = 0; i < n; i++)
            if (amp_utf8(PySequence_Fast_ITEMS(tags)[i], "tags", &tagv[i]) <
                0)
                return NULL;
        q.tags = tagv;
        q.tag_count = (size_t)n;
    }
    if (mn != Py_None && ((q.min_importance = PyFloat_AsDouble(mn)) == -1.0 &&
                          PyErr_Occurred()))
        return NULL;
    if (mx != Py_None && ((q.max_importance = PyFloat_AsDouble(mx)) == -1.0 &&
                          PyErr_Occurred()))
        return NULL;
    if (from != Py_None &&
        ((q.created_from_ms = PyLong_AsLongLong(from)) == -1 &&
         PyErr_Occurred()))
        return NULL;
    if (to != Py_None && ((q.created_to_ms = PyLong_AsLongLong(to)) == -1 &&
                          PyErr_Occurred()))
        return NULL;
    size_t rd = 0, lim = 0;
    if (amp_size(recent, "days", 0, &rd) < 0 ||
        amp_size(limit, "limit", 0, &lim) < 0)
        return NULL;
    if (rd > 1000000)
        return PyErr_Format(PyExc_ValueError, "days must be <= 1000000");
    q.recent_days = (int)rd;
    q.limit = lim;
    if (index != Py_None) {
        q.index = PyUnicode_Check(index) ? PyUnicode_AsUTF8(index) : NULL;
        if (!q.index)
            return PyErr_Occurred()
                       ? NULL
                       : PyErr_Format(PyExc_TypeError,
                                      "index name must be str");
        if (amp_utf8(ikey == Py_None ? index : ikey, "key", &q.index_key) < 0)
            return NULL;
    }
    if (tiers != Py_None) {
        PyObject *fast = PySequence_Fast(tiers, "tiers must be a list");
        if (!fast)
            return NULL;
        q.tier_mask = 0;
        for (Py_ssize_t i = 0; i < PySequence_Fast_GET_SIZE(fast); i++) {
            am_tier t;
            if (amp_tier_of(PySequence_Fast_ITEMS(fast)[i], &t) < 0) {
                Py_DECREF(fast);
                return NULL;
            }
            q.tier_mask |= 1u << t;
        }
        Py_DECREF(fast);
    }
    if (peek)
        q.flags |= AM_TIER_PEEK;
    am_tier_hits hits = AM_TIER_HITS_INIT;
    am_status st;
    if (self->has_cb) {
        Py_BEGIN_ALLOW_THREADS
        st = am_tiers_search(self->t, &q, &hits);
        Py_END_ALLOW_THREADS
    } else {
        st = am_tiers_search(self->t, &q, &hits);
    }
    if (st != AM_OK) {
        am_tier_hits_free(&hits);
        return amp_tiers_raise(self, st);
    }
    PyObject *list = PyList_New((Py_ssize_t)hits.count);
    for (size_t i = 0; list && i < hits.count; i++) {
        PyObject *s = amp_pystr(hits.ids[i]);
        if (!s) {
            Py_CLEAR(list);
            break;
        }
        PyList_SET_ITEM(list, (Py_ssize_t)i, s);
    }
    am_tier_hits_free(&hits);
    return list;
}

/* cleanup_old_items(days) -> deleted count */
PyObject *amp_tiers_cleanup(TiersObject *self, PyObject *arg)
{
    size_t days, deleted = 0;
    if (amp_tiers_ready(self) < 0 || amp_size(arg, "days", 0, &days) < 0)
        return NULL;
    if (days > 1000000)
        return PyErr_Format(PyExc_ValueError,
                            "days must be between 0 and 1000000");
    am_status st;
    Py_BEGIN_ALLOW_THREADS
    st = am_tiers_cleanup_old_items(self->t, (int64_t)days, &deleted);
    Py_END_ALLOW_THREADS
    if (st != AM_OK)
        return amp_tiers_raise(self, st);
    return PyLong_FromSize_t(deleted);
}
