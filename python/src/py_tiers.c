/* py_tiers.c -- hierarchical memory tiers (tiers.h) from Python: a _Tiers
 * type over one am_tiers handle and a compact _TierItem record.
 *
 * store/retrieve are hash-table operations in C, so they keep the GIL (a
 * release would cost more than the call); the slow calls (open, close,
 * flush, optimize) release it. A _TierItem holds the raw C values; the
 * Python subclass agentmem.tiers.MemoryItem turns them into datetimes and
 * enums only when asked. Content that is a str is stored as its UTF-8
 * bytes; anything else as JSON (AM_TIER_JSON) and decoded on the way back.
 */
#include "py_amp.h"

#include <string.h>

/* ---- _TierItem ---- */

typedef struct {
    PyObject_HEAD
    PyObject *id, *content, *type, *tags, *extra;
    int tier;
    long long created_ms, accessed_ms;
    unsigned long access_count;
    double importance;
} ItemObject;

static PyTypeObject ItemType;
static PyTypeObject *item_class = &ItemType; /* set by agentmem.tiers */

static void item_dealloc(ItemObject *self)
{
    Py_XDECREF(self->id);
    Py_XDECREF(self->content);
    Py_XDECREF(self->type);
    Py_XDECREF(self->tags);
    Py_XDECREF(self->extra);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

#define GET_OBJ(name)                                                   \
    static PyObject *item_##name(ItemObject *s, void *c)                \
    {                                                                   \
        return Py_NewRef(s->name ? s->name : Py_None);                  \
    }
GET_OBJ(id)
GET_OBJ(content)
GET_OBJ(type)
GET_OBJ(tags)
GET_OBJ(extra)
static PyObject *item_tier(ItemObject *s, void *c)
{
    return PyUnicode_FromString(am_tier_name((am_tier)s->tier));
}
static PyObject *item_created(ItemObject *s, void *c)
{
    return PyLong_FromLongLong(s->created_ms);
}
static PyObject *item_accessed(ItemObject *s, void *c)
{
    return PyLong_FromLongLong(s->accessed_ms);
}
static PyObject *item_count(ItemObject *s, void *c)
{
    return PyLong_FromUnsignedLong(s->access_count);
}
static PyObject *item_importance(ItemObject *s, void *c)
{
    return PyFloat_FromDouble(s->importance);
}

static PyGetSetDef item_getset[] = {
    {"id", (getter)item_id, NULL, "The item id.", NULL},
    {"content", (getter)item_content, NULL, "The content.", NULL},
    {"tier_name", (getter)item_tier, NULL, "The tier's C name.", NULL},
    {"created_ms", (getter)item_created, NULL, "Creation time (ms).", NULL},
    {"accessed_ms", (getter)item_accessed, NULL, "Last access (ms).", NULL},
    {"access_count", (getter)item_count, NULL, "Accesses so far.", NULL},
    {"importance", (getter)item_importance, NULL, "0..1.", NULL},
    {"item_type", (getter)item_type, NULL, "Metadata type.", NULL},
    {"tags", (getter)item_tags, NULL, "Tags (a tuple).", NULL},
    {"extra", (getter)item_extra, NULL, "Other metadata (JSON text).", NULL},
    {NULL, NULL, NULL, NULL, NULL}};

static PyTypeObject ItemType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "agentmem._agentmem._TierItem",
    .tp_basicsize = sizeof(ItemObject),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
    .tp_doc = "An item of the tiered memory (raw C values).",
    .tp_dealloc = (destructor)item_dealloc,
    .tp_getset = item_getset,
};

/* A record for `info`; content is `content` (borrowed; NULL: decode it
 * from info). */
static PyObject *item_new(const am_tier_item *info, PyObject *id,
                          PyObject *content)
{
    ItemObject *it = (ItemObject *)item_class->tp_alloc(item_class, 0);
    if (!it)
        return NULL;
    it->id = id ? Py_NewRef(id) : amp_pystr(info->id);
    if (content)
        it->content = Py_NewRef(content);
    else if (info->flags & AM_TIER_JSON)
        it->content = amp_json_loads(info->content);
    else
        it->content = amp_pystr(info->content);
    it->tier = (int)info->tier;
    it->created_ms = info->created_ms;
    it->accessed_ms = info->accessed_ms;
    it->access_count = info->access_count;
    it->importance = info->importance;
    if (!it->id || !it->content) {
        Py_DECREF(it);
        return NULL;
    }
    /* Metadata is rarely read: only when there is any. */
    if (info->type.len && !(info->type.len == 7 &&
                            !memcmp(info->type.ptr, "unknown", 7)))
        it->type = amp_pystr(info->type);
    if (info->tag_count) {
        it->tags = PyTuple_New((Py_ssize_t)info->tag_count);
        for (size_t i = 0; it->tags && i < info->tag_count; i++) {
            PyObject *t = amp_pystr(info->tags[i]);
            if (!t) {
                Py_CLEAR(it->tags);
                break;
            }
            PyTuple_SET_ITEM(it->tags, (Py_ssize_t)i, t);
        }
    }
    if (info->extra.len)
        it->extra = amp_pystr(info->extra);
    if (PyErr_Occurred()) {
        Py_DECREF(it);
        return NULL;
    }
    return (PyObject *)it;
}

/* ---- _Tiers ---- */

typedef struct {
    PyObject_HEAD
    am_tiers *t;
} TiersObject;

static int tiers_ready(TiersObject *self)
{
    if (!self->t) {
        PyErr_SetString(PyExc_ValueError, "the memory system is closed");
        return -1;
    }
    return 0;
}

static PyObject *raise_tiers(TiersObject *self, am_status st)
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
    am_error err = {0};
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
    am_error err = {0};
    am_status st;
    am_tiers *t = self->t;
    self->t = NULL;
    Py_BEGIN_ALLOW_THREADS
    st = am_tiers_close(t, &err);
    Py_END_ALLOW_THREADS
    if (st != AM_OK)
        return amp_raise_err(&err);
    Py_RETURN_NONE;
}

static void tiers_dealloc(TiersObject *self)
{
    am_tiers_close(self->t, NULL);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static int tier_of(PyObject *o, am_tier *out)
{
    am_str name;
    if (amp_utf8(o, "tier", &name) < 0)
        return -1;
    if (am_tier_parse(name, out, NULL) != AM_OK) {
        PyErr_Format(PyExc_ValueError,
                     "tier must be working, short_term, long_term or "
                     "archive, not %.40R", o);
        return -1;
    }
    return 0;
}

/* store(id, content, importance=0.5, tier="working", type=None, tags=None,
 *       extra_json=None) -> _TierItem (positional for speed). */
static PyObject *tiers_store(TiersObject *self, PyObject *const *args,
                             Py_ssize_t nargs)
{
    if (nargs < 2 || nargs > 7)
        return PyErr_Format(PyExc_TypeError,
                            "store(id, content, importance, tier, type, "
                            "tags, extra) takes 2 to 7 arguments");
    if (tiers_ready(self) < 0)
        return NULL;
    am_tier_item_in in = am_tier_item_in_default();
    am_str id;
    PyObject *content = args[1], *json = NULL;
    if (amp_utf8(args[0], "item_id", &id) < 0)
        return NULL;
    if (nargs > 2 && args[2] != Py_None) {
        in.importance = PyFloat_AsDouble(args[2]);
        if (in.importance == -1.0 && PyErr_Occurred()) {
            PyErr_Clear();
            return PyErr_Format(PyExc_TypeError, "importance must be a number");
        }
    }
    if (nargs > 3 && args[3] != Py_None && tier_of(args[3], &in.tier) < 0)
        return NULL;
    if (nargs > 4 && args[4] != Py_None &&
        amp_utf8(args[4], "metadata['type']", &in.type) < 0)
        return NULL;
    am_str tags[255];
    if (nargs > 5 && args[5] != Py_None) {
        PyObject *t = args[5];
        if (!PyTuple_Check(t) && !PyList_Check(t))
            return PyErr_Format(PyExc_TypeError,
                                "metadata['tags'] must be a list of str");
        Py_ssize_t n = PySequence_Fast_GET_SIZE(t);
        if (n > 255)
            return PyErr_Format(PyExc_ValueError,
                                "metadata['tags']: at most 255 tags");
        for (Py_ssize_t i = 0; i < n; i++)
            if (amp_utf8(PySequence_Fast_ITEMS(t)[i], "metadata['tags']",
                         &tags[i]) < 0)
                return NULL;
        in.tags = tags;
        in.tag_count = (size_t)n;
    }
    if (nargs > 6 && args[6] != Py_None &&
        amp_utf8(args[6], "metadata", &in.extra) < 0)
        return NULL;
    if (PyUnicode_Check(content)) {
        if (amp_utf8(content, "content", &in.content) < 0)
            return NULL;
    } else {
        json = amp_json_dumps(content);
        if (!json) {
            PyErr_Clear();
            return PyErr_Format(PyExc_TypeError,
                                "content must be a str or JSON-serializable, "
                                "not %.80s", Py_TYPE(content)->tp_name);
        }
        if (amp_utf8(json, "content", &in.content) < 0) {
            Py_DECREF(json);
            return NULL;
        }
        in.flags = AM_TIER_JSON;
    }
    am_status st = am_tiers_store(self->t, id, &in);
    Py_XDECREF(json);
    if (st != AM_OK)
        return raise_tiers(self, st);
    am_tier_item info = AM_TIER_ITEM_INIT;
    st = am_tiers_peek(self->t, id, NULL, &info);
    if (st != AM_OK) {
        am_tier_item_free(&info);
        return raise_tiers(self, st);
    }
    PyObject *r = item_new(&info, args[0], content);
    am_tier_item_free(&info);
    return r;
}

/* Shared by retrieve and peek: None when absent. */
static PyObject *get_item(TiersObject *self, PyObject *id_o, int record)
{
    am_str id;
    if (tiers_ready(self) < 0 || amp_utf8(id_o, "item_id", &id) < 0)
        return NULL;
    am_tier_item info = AM_TIER_ITEM_INIT;
    PyObject *r;
    am_status st = record ? am_tiers_retrieve(self->t, id, NULL, &info)
                          : am_tiers_peek(self->t, id, NULL, &info);
    if (st == AM_ENOTFOUND) {
        am_tier_item_free(&info);
        Py_RETURN_NONE;
    }
    if (st != AM_OK) {
        am_tier_item_free(&info);
        return raise_tiers(self, st);
    }
    if (!info.content.ptr && info.content_len) {
        /* Archived: the record does not carry the content; decompress. */
        am_buf b = AM_BUF_INIT;
        st = am_tiers_peek(self->t, id, &b, &info);
        if (st != AM_OK) {
            am_buf_free(&b);
            am_tier_item_free(&info);
            return raise_tiers(self, st);
        }
        info.content = am_buf_str(&b);
        r = item_new(&info, id_o, NULL);
        am_buf_free(&b);
        am_tier_item_free(&info);
        return r;
    }
    r = item_new(&info, id_o, NULL);
    am_tier_item_free(&info);
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
    if (tiers_ready(self) < 0 || amp_utf8(id_o, "item_id", &id) < 0)
        return NULL;
    am_status st;
    Py_BEGIN_ALLOW_THREADS
    st = fn(self->t, id);
    Py_END_ALLOW_THREADS
    if (st == AM_ENOTFOUND && missing_ok)
        Py_RETURN_FALSE;
    if (st != AM_OK)
        return raise_tiers(self, st);
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
    if (tiers_ready(self) < 0)
        return NULL;
    size_t demoted = 0;
    am_status st;
    Py_BEGIN_ALLOW_THREADS
    st = am_tiers_optimize(self->t, &demoted);
    Py_END_ALLOW_THREADS
    if (st != AM_OK)
        return raise_tiers(self, st);
    return PyLong_FromSize_t(demoted);
}

static PyObject *tiers_flush(TiersObject *self, PyObject *unused)
{
    if (tiers_ready(self) < 0)
        return NULL;
    am_status st;
    Py_BEGIN_ALLOW_THREADS
    st = am_tiers_flush(self->t);
    Py_END_ALLOW_THREADS
    if (st != AM_OK)
        return raise_tiers(self, st);
    Py_RETURN_NONE;
}

static PyObject *tiers_count(TiersObject *self, PyObject *unused)
{
    if (tiers_ready(self) < 0)
        return NULL;
    return PyLong_FromSize_t(am_tiers_count(self->t));
}

static PyObject *tiers_stats(TiersObject *self, PyObject *unused)
{
    if (tiers_ready(self) < 0)
        return NULL;
    am_tier_stats s[AM_TIER_COUNT];
    am_status st = am_tiers_stats(self->t, s);
    if (st != AM_OK)
        return raise_tiers(self, st);
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

static PyObject *py_set_item_class(PyObject *mod, PyObject *cls)
{
    if (!PyType_Check(cls) ||
        !PyType_IsSubtype((PyTypeObject *)cls, &ItemType))
        return PyErr_Format(PyExc_TypeError, "not a _TierItem subclass");
    Py_INCREF(cls);
    item_class = (PyTypeObject *)cls;
    Py_RETURN_NONE;
}

static PyMethodDef tiers_methods[] = {
    {"store", (PyCFunction)(void (*)(void))tiers_store, METH_FASTCALL, NULL},
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
    {NULL, NULL, 0, NULL}};

static PyTypeObject TiersType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "agentmem._agentmem._Tiers",
    .tp_basicsize = sizeof(TiersObject),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
    .tp_doc = "One am_tiers handle (thread-safe).",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)tiers_init,
    .tp_dealloc = (destructor)tiers_dealloc,
    .tp_methods = tiers_methods,
};

static PyMethodDef methods[] = {
    {"_set_tier_item_class", py_set_item_class, METH_O, NULL},
    {NULL, NULL, 0, NULL}};

int amp_tiers_init(PyObject *module)
{
    if (PyType_Ready(&ItemType) < 0 || PyType_Ready(&TiersType) < 0 ||
        PyModule_AddObjectRef(module, "_TierItem", (PyObject *)&ItemType) < 0 ||
        PyModule_AddObjectRef(module, "_Tiers", (PyObject *)&TiersType) < 0)
        return -1;
    return PyModule_AddFunctions(module, methods);
}
