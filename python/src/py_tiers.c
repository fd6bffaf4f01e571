/* py_tiers.c -- hierarchical memory tiers (tiers.h) from Python: the
 * _Tiers type over one am_tiers handle (life, store, retrieve/peek, the
 * single-item calls, optimize, flush, stats). Its records are
 * py_tier_item.c's _TierItem; search, custom indexes and policies, whose
 * callbacks are Python callables, are in py_tiers_cb.c.
 *
 * store/retrieve are hash-table operations in C, so they keep the GIL (a
 * release would cost more than the call) until a Python callback is
 * registered (see pycb in py_tiers.h); the slow calls (open, close, flush,
 * optimize, apply_policies) release it. Content that is a str is stored
 * as its UTF-8 bytes; anything else as JSON (AM_TIER_JSON) and decoded on
 * the way back.
 */
#include "py_tiers.h"

#include <string.h>

/* ---- _Tiers ---- */

static PyObject *k_tags; /* "tags", interned */


/* Most of a retrieve is the C call and three cache misses; next came a
 * malloc and a free of the copy's storage on every call. So the calls
 * copy into the object's own am_tier_item, whose storage stays between
 * calls, whenever the GIL serializes them: no Python callback registered
 * (then the GIL is released around the C call) and no other call still
 * building its result from it (item_new may run Python code, json.loads,
 * which can switch threads). Otherwise they use `local`. */
static am_tier_item *info_get(TiersObject *self, am_tier_item *local)
{
    if (!self->has_cb && !self->scratch_busy) {
        self->scratch_busy = 1;
        return &self->scratch;
    }
    *local = (am_tier_item)AM_TIER_ITEM_INIT;
    return local;
}

/* Content above this is not kept in the reused copy between calls. */
#define SCRATCH_KEEP (64 * 1024)

static void info_done(TiersObject *self, am_tier_item *info)
{
    if (info != &self->scratch) {
        am_tier_item_free(info);
        return;
    }
    if (info->text.cap > SCRATCH_KEEP)
        am_tier_item_free(info);
    self->scratch_busy = 0;
}


int amp_tiers_ready(TiersObject *self)
{
    if (!self->t) {
        PyErr_SetString(PyExc_ValueError, "the memory system is closed");
        return -1;
    }
    return 0;
}

PyObject *amp_tiers_raise(TiersObject *self, am_status st)
{
    am_error e = *am_tiers_last_error(self->t);
    if (e.code == AM_OK)
        e.code = st;
    return amp_raise_err(&e);
}

static int tiers_init(TiersObject *self, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"working", "short_term", "long_term", "db_path",
                             "flush_interval_ms", "default_policies", NULL};
    PyObject *w = Py_None, *s = Py_None, *l = Py_None, *db = Py_None,
             *fl = Py_None;
    int policies = 1;
    if (self->t) {
        PyErr_SetString(PyExc_RuntimeError, "already initialized");
        return -1;
    }
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|OOOOOp", kwlist, &w, &s, &l,
                                     &db, &fl, &policies))
        return -1;
    am_tiers_opts o = am_tiers_opts_default();
    size_t flush;
    if (amp_size(w, "working_capacity", o.capacity[0], &o.capacity[0]) < 0 ||
        amp_size(s, "short_term_capacity", o.capacity[1], &o.capacity[1]) < 0 ||
        amp_size(l, "long_term_capacity", o.capacity[2], &o.capacity[2]) < 0 ||
        amp_size(fl, "flush_interval_ms", (size_t)o.flush_interval_ms,
                 &flush) < 0)
        return -1;
    o.flush_interval_ms = (int64_t)flush;
    o.default_policies = policies;
    PyObject *bytes = NULL;
    if (db != Py_None) {
        PyObject *fs = PyOS_FSPath(db);
        if (!fs)
            return -1;
        int ok = PyUnicode_FSConverter(fs, &bytes);
        Py_DECREF(fs);
        if (!ok)
            return -1;
        o.db_path = PyBytes_AS_STRING(bytes);
    }
    am_error err = { AM_OK, "" };
    am_status st;
    Py_BEGIN_ALLOW_THREADS
    st = am_tiers_open(&o, &self->t, &err);
    Py_END_ALLOW_THREADS
    Py_XDECREF(bytes);
    if (st != AM_OK) {
        amp_raise_err(&err);
        return -1;
    }
    return 0;
}

static PyObject *tiers_close(TiersObject *self, PyObject *unused)
{
    if (!self->t)
        Py_RETURN_NONE;
    am_error err = { AM_OK, "" };
    am_status st;
    am_tiers *t = self->t;
    self->t = NULL;
    Py_BEGIN_ALLOW_THREADS
    st = am_tiers_close(t, &err);
    Py_END_ALLOW_THREADS
    amp_tiers_cb_free_all(self);
    if (!self->scratch_busy) /* else another call still reads it */
        am_tier_item_free(&self->scratch);
    if (st != AM_OK)
        return amp_raise_err(&err);
    Py_RETURN_NONE;
}

static int tiers_traverse(TiersObject *self, visitproc visit, void *arg);
static int tiers_clear(TiersObject *self);

static void tiers_dealloc(TiersObject *self)
{
    PyObject_GC_UnTrack(self);
    am_tiers_close(self->t, NULL);
    self->t = NULL;
    amp_tiers_cb_free_all(self); /* the handle used them until close */
    am_tier_item_free(&self->scratch);
    Py_CLEAR(self->exc);
    Py_CLEAR(self->exc_val);
    Py_CLEAR(self->exc_tb);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

/* metadata (a dict or None) into `in`: "type" and "tags" are indexed by
 * C, anything else goes in as JSON text (*json: a new str, yours). The
 * dumps runs first: it is Python code, and the strings `in` borrows from
 * the dict must not change after they are read. */
static int meta_of(PyObject *md, am_tier_item_in *in, am_str *tags,
                   PyObject **json)
{
    *json = NULL;
    if (md == NULL || md == Py_None)
        return 0;
    if (!PyDict_Check(md)) {
        PyErr_Format(PyExc_TypeError, "metadata must be a dict, not %.80s",
                     Py_TYPE(md)->tp_name);
        return -1;
    }
    PyObject *type = PyDict_GetItemWithError(md, amp_k_type);
    PyObject *tl = type || !PyErr_Occurred()
                       ? PyDict_GetItemWithError(md, k_tags) : NULL;
    if (PyErr_Occurred())
        return -1;
    if (PyDict_GET_SIZE(md) > (type != NULL) + (tl != NULL)) {
        PyObject *rest = PyDict_Copy(md);
        if (!rest || (type && PyDict_DelItem(rest, amp_k_type) < 0) ||
            (tl && PyDict_DelItem(rest, k_tags) < 0)) {
            Py_XDECREF(rest);
            return -1;
        }
        *json = amp_json_dumps(rest); /* its TypeError names the value */
        Py_DECREF(rest);
        if (!*json)
            return -1;
        if (amp_utf8(*json, "metadata", &in->extra) < 0)
            goto fail;
        /* dumps ran Python code: read type and tags again. */
        type = PyDict_GetItemWithError(md, amp_k_type);
        tl = type || !PyErr_Occurred()
                 ? PyDict_GetItemWithError(md, k_tags) : NULL;
        if (PyErr_Occurred())
            goto fail;
    }
    if (type && type != Py_None &&
        amp_utf8(type, "metadata['type']", &in->type) < 0)
        goto fail;
    if (tl && tl != Py_None) {
        if (!PyTuple_Check(tl) && !PyList_Check(tl)) {
            PyErr_Format(PyExc_TypeError,
                         "metadata['tags'] must be a list of str, not %.80s",
                         Py_TYPE(tl)->tp_name);
            goto fail;
        }
        Py_ssize_t n = PySequence_Fast_GET_SIZE(tl);
        if (n > 255) {
            PyErr_Format(PyExc_ValueError,
                         "metadata['tags']: at most 255 tags, not %zd", n);
            goto fail;
        }
        for (Py_ssize_t i = 0; i < n; i++)
            if (amp_utf8(PySequence_Fast_ITEMS(tl)[i], "metadata['tags']",
                         &tags[i]) < 0)
                goto fail;
        in->tags = tags;
        in->tag_count = (size_t)n;
    }
    return 0;
fail:
    Py_CLEAR(*json);
    return -1;
}

/* store(item_id, content, importance=0.5, tier=WORKING, metadata=None)
 * -> MemoryItem: the seed's signature, called straight from Python
 * (HierarchicalMemoryManager binds it: a Python frame in between cost
 * ~200 ns of a ~1.5 us store). */
static PyObject *tiers_store(TiersObject *self, PyObject *const *args,
                             Py_ssize_t nargs, PyObject *kwnames)
{
    static const char *const names[] = {"item_id", "content", "importance",
                                        "tier", "metadata"};
    PyObject *a[5];
    if (amp_fast_args(args, nargs, kwnames, names, 5, 2,
                      "store(item_id, content, importance=0.5, "
                      "tier=MemoryTier.WORKING, metadata=None)", a) < 0 ||
        amp_tiers_ready(self) < 0)
        return NULL;
    am_tier_item_in in = am_tier_item_in_default();
    am_str id, tags[255];
    PyObject *content = a[1], *json = NULL, *meta = NULL;
    if (amp_utf8(a[0], "item_id", &id) < 0)
        return NULL;
    if (a[2] && a[2] != Py_None) {
        in.importance = PyFloat_AsDouble(a[2]);
        if (in.importance == -1.0 && PyErr_Occurred()) {
            PyErr_Clear();
            return PyErr_Format(PyExc_TypeError,
                                "importance must be a number, not %.80s",
                                Py_TYPE(a[2])->tp_name);
        }
    }
    if (a[3] && a[3] != Py_None && amp_tier_of(a[3], &in.tier) < 0)
        return NULL;
    if (meta_of(a[4], &in, tags, &meta) < 0)
        return NULL;
    if (PyUnicode_Check(content)) {
        if (amp_utf8(content, "content", &in.content) < 0)
            goto fail;
    } else {
        json = amp_json_dumps(content);
        if (!json) {
            PyErr_Clear();
            PyErr_Format(PyExc_TypeError,
                         "content must be a str or JSON-serializable, not "
                         "%.80s", Py_TYPE(content)->tp_name);
            goto fail;
        }
        if (amp_utf8(json, "content", &in.content) < 0)
            goto fail;
        in.flags = AM_TIER_JSON;
    }
    am_tier_item local, *info = info_get(self, &local);
    am_status st;
    if (self->has_cb) {
        /* A key extractor may run: never wait for the mutex with the GIL
         * (see pycb). */
        Py_BEGIN_ALLOW_THREADS
        st = am_tiers_store_read(self->t, id, &in, info);
        Py_END_ALLOW_THREADS
    } else {
        st = am_tiers_store_read(self->t, id, &in, info);
    }
    PyObject *r = NULL;
    if (amp_tiers_cb_raised(self) < 0)
        ;
    else if (st != AM_OK)
        amp_tiers_raise(self, st);
    else
        r = amp_tier_item_new(info, a[0], content);
    info_done(self, info);
    Py_XDECREF(json);
    Py_XDECREF(meta);
    return r;
fail:
    Py_XDECREF(json);
    Py_XDECREF(meta);
    return NULL;
}

/* Shared by retrieve and peek: None when absent. */
static PyObject *get_item(TiersObject *self, PyObject *id_o, int record)
{
    am_str id;
    if (amp_tiers_ready(self) < 0 || amp_utf8(id_o, "item_id", &id) < 0)
        return NULL;
    am_tier_item local, *info = info_get(self, &local);
    PyObject *r = NULL;
    am_status st;
    if (self->has_cb) {
        Py_BEGIN_ALLOW_THREADS
        st = record ? am_tiers_retrieve(self->t, id, NULL, info)
                    : am_tiers_peek(self->t, id, NULL, info);
        Py_END_ALLOW_THREADS
    } else {
        st = record ? am_tiers_retrieve(self->t, id, NULL, info)
                    : am_tiers_peek(self->t, id, NULL, info);
    }
    if (amp_tiers_cb_raised(self) < 0)
        ;
    else if (st == AM_ENOTFOUND)
        r = Py_NewRef(Py_None);
    else if (st != AM_OK)
        amp_tiers_raise(self, st);
    else if (!info->content.ptr && info->content_len) {
        /* Archived: the record does not carry the content; decompress. */
        am_buf b = AM_BUF_INIT;
        Py_BEGIN_ALLOW_THREADS
        st = am_tiers_peek(self->t, id, &b, info);
        Py_END_ALLOW_THREADS
        if (st != AM_OK) {
            amp_tiers_raise(self, st);
        } else {
            info->content = am_buf_str(&b);
            r = amp_tier_item_new(info, id_o, NULL);
        }
        am_buf_free(&b);
    } else {
        r = amp_tier_item_new(info, id_o, NULL);
    }
    info_done(self, info);
    return r;
}

static PyObject *tiers_retrieve(TiersObject *self, PyObject *id)
{
    return get_item(self, id, 1);
}

static PyObject *tiers_peek(TiersObject *self, PyObject *id)
{
    return get_item(self, id, 0);
}

/* delete / archive / restore: one id, a status. */
static PyObject *id_call(TiersObject *self, PyObject *id_o,
                         am_status (*fn)(am_tiers *, am_str), int missing_ok)
{
    am_str id;
    if (amp_tiers_ready(self) < 0 || amp_utf8(id_o, "item_id", &id) < 0)
        return NULL;
    am_status st;
    Py_BEGIN_ALLOW_THREADS
    st = fn(self->t, id);
    Py_END_ALLOW_THREADS
    if (amp_tiers_cb_raised(self) < 0)
        return NULL;
    if (st == AM_ENOTFOUND && missing_ok)
        Py_RETURN_FALSE;
    if (st != AM_OK)
        return amp_tiers_raise(self, st);
    Py_RETURN_TRUE;
}

static PyObject *tiers_delete(TiersObject *self, PyObject *id)
{
    return id_call(self, id, am_tiers_delete, 1);
}
static PyObject *tiers_archive(TiersObject *self, PyObject *id)
{
    return id_call(self, id, am_tiers_archive, 0);
}
static PyObject *tiers_restore(TiersObject *self, PyObject *id)
{
    return id_call(self, id, am_tiers_restore, 0);
}

static PyObject *tiers_optimize(TiersObject *self, PyObject *unused)
{
    if (amp_tiers_ready(self) < 0)
        return NULL;
    size_t demoted = 0;
    am_status st;
    Py_BEGIN_ALLOW_THREADS
    st = am_tiers_optimize(self->t, &demoted);
    Py_END_ALLOW_THREADS
    if (amp_tiers_cb_raised(self) < 0)
        return NULL;
    if (st != AM_OK)
        return amp_tiers_raise(self, st);
    return PyLong_FromSize_t(demoted);
}

static PyObject *tiers_flush(TiersObject *self, PyObject *unused)
{
    if (amp_tiers_ready(self) < 0)
        return NULL;
    am_status st;
    Py_BEGIN_ALLOW_THREADS
    st = am_tiers_flush(self->t);
    Py_END_ALLOW_THREADS
    if (st != AM_OK)
        return amp_tiers_raise(self, st);
    Py_RETURN_NONE;
}

static PyObject *tiers_count(TiersObject *self, PyObject *unused)
{
    if (amp_tiers_ready(self) < 0)
        return NULL;
    return PyLong_FromSize_t(am_tiers_count(self->t));
}

static PyObject *tiers_stats(TiersObject *self, PyObject *unused)
{
    if (amp_tiers_ready(self) < 0)
        return NULL;
    am_tier_stats s[AM_TIER_COUNT];
    am_status st = am_tiers_stats(self->t, s);
    if (st != AM_OK)
        return amp_tiers_raise(self, st);
    PyObject *d = PyDict_New();
    for (int i = 0; d && i < AM_TIER_COUNT; i++) {
        PyObject *one = Py_BuildValue(
            "{s:n,s:n,s:d,s:d,s:d,s:K,s:K}", "count", (Py_ssize_t)s[i].count,
            "capacity", (Py_ssize_t)s[i].capacity, "utilization",
            s[i].utilization, "avg_importance", s[i].avg_importance,
            "avg_age_hours", s[i].avg_age_hours, "content_bytes",
            (unsigned long long)s[i].content_bytes, "stored_bytes",
            (unsigned long long)s[i].stored_bytes);
        if (!one || PyDict_SetItemString(d, am_tier_name((am_tier)i), one) < 0) {
            Py_XDECREF(one);
            Py_CLEAR(d);
            break;
        }
        Py_DECREF(one);
    }
    return d;
}


static PyMethodDef tiers_methods[] = {
    {"store", (PyCFunction)(void (*)(void))tiers_store,
     METH_FASTCALL | METH_KEYWORDS,
     "store(item_id, content, importance=0.5, tier=MemoryTier.WORKING, "
     "metadata=None) -> MemoryItem"},
    {"retrieve", (PyCFunction)tiers_retrieve, METH_O, NULL},
    {"peek", (PyCFunction)tiers_peek, METH_O, NULL},
    {"delete", (PyCFunction)tiers_delete, METH_O, NULL},
    {"archive", (PyCFunction)tiers_archive, METH_O, NULL},
    {"restore", (PyCFunction)tiers_restore, METH_O, NULL},
    {"optimize", (PyCFunction)tiers_optimize, METH_NOARGS, NULL},
    {"flush", (PyCFunction)tiers_flush, METH_NOARGS, NULL},
    {"count", (PyCFunction)tiers_count, METH_NOARGS, NULL},
    {"stats", (PyCFunction)tiers_stats, METH_NOARGS, NULL},
    {"close", (PyCFunction)tiers_close, METH_NOARGS, NULL},
    {"search", (PyCFunction)(void (*)(void))amp_tiers_search,
     METH_VARARGS | METH_KEYWORDS,
     "search(*, type, tags, min_importance, max_importance, "
     "created_from_ms, created_to_ms, recent_days, index, index_key, tiers, "
     "limit, peek) -> [ids]"},
    {"add_index", (PyCFunction)amp_tiers_add_index, METH_VARARGS,
     "add_index(name, key_fn)"},
    {"add_policy", (PyCFunction)amp_tiers_add_policy, METH_VARARGS,
     "add_policy(name, condition, action)"},
    {"apply_policies", (PyCFunction)amp_tiers_apply_policies, METH_NOARGS,
     "apply_policies() -> {name: count}"},
    {"cleanup_old_items", (PyCFunction)amp_tiers_cleanup, METH_O,
     "cleanup_old_items(days) -> deleted"},
    {NULL, NULL, 0, NULL}};

static int tiers_traverse(TiersObject *self, visitproc visit, void *arg)
{
    for (pycb *cb = self->cbs; cb; cb = cb->next) {
        Py_VISIT(cb->fn);
        Py_VISIT(cb->action);
        Py_VISIT(cb->pending);
    }
    return 0;
}

/* Break cycles through callbacks; the handle keeps calling them until
 * close, so the trampolines treat a cleared one as "no key" / "no
 * match". */
static int tiers_clear(TiersObject *self)
{
    for (pycb *cb = self->cbs; cb; cb = cb->next) {
        Py_CLEAR(cb->fn);
        Py_CLEAR(cb->action);
        Py_CLEAR(cb->pending);
    }
    return 0;
}

static PyTypeObject TiersType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "agentmem._agentmem._Tiers",
    .tp_basicsize = sizeof(TiersObject),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC,
    .tp_doc = "One am_tiers handle (thread-safe).",
    .tp_traverse = (traverseproc)tiers_traverse,
    .tp_clear = (inquiry)tiers_clear,
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)tiers_init,
    .tp_dealloc = (destructor)tiers_dealloc,
    .tp_methods = tiers_methods,
};

int amp_tiers_init(PyObject *module)
{
    if (!(k_tags = PyUnicode_InternFromString("tags")) ||
        amp_tier_item_init(module) < 0 || PyType_Ready(&TiersType) < 0 ||
        PyModule_AddObjectRef(module, "_Tiers", (PyObject *)&TiersType) < 0)
        return -1;
    return 0;
}
