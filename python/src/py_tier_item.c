/* py_tier_item.c -- the record a tiers call hands back: _TierItem, a
 * compact object holding an item's raw C values (milliseconds, the tier
 * number, content decoded once), which agentmem.tiers.MemoryItem subclasses
 * to give the seed's dataclass fields (datetimes, MemoryTier) only when
 * asked; and the tier argument every call takes (a MemoryTier, known by
 * identity, or its value). */
#include "py_tiers.h"

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
/* agentmem.tiers.MemoryTier's members by am_tier (set with item_class):
 * an enum argument is recognised by identity, since reading .value goes
 * through Python code (a descriptor) on every call. */
static PyObject *tier_members[AM_TIER_COUNT];

/* An item can be part of a reference cycle: content is any object, and
 * it may hold the item itself (item.content = [item]). So the type takes
 * part in garbage collection (item_track says when an item is tracked).
 * Only content, or a str subclass given as a str field, can close a
 * cycle, but visiting every field is as cheap and stays right if that
 * changes. */
static int item_traverse(ItemObject *self, visitproc visit, void *arg)
{
    Py_VISIT(self->id);
    Py_VISIT(self->content);
    Py_VISIT(self->type);
    Py_VISIT(self->tags);
    Py_VISIT(self->extra);
    return 0;
}

static int item_clear(ItemObject *self)
{
    Py_CLEAR(self->id);
    Py_CLEAR(self->content);
    Py_CLEAR(self->type);
    Py_CLEAR(self->tags);
    Py_CLEAR(self->extra);
    return 0;
}

/* Freed items of item_class kept for the next amp_tier_item_new. A
 * retrieve builds one item and the caller usually drops it at once, and
 * allocating (PyType_GenericAlloc: pymalloc, clearing, tracking) and
 * freeing it again cost ~200 of the ~2,100 instructions of a retrieve
 * from Python (callgrind, #14). Only items of exactly ItemObject's size
 * (a subclass without a __dict__ or slots of its own, as MemoryItem)
 * are kept, untracked and cleared; the GIL guards the list. */
#define ITEM_FREE_MAX 16
static ItemObject *item_free[ITEM_FREE_MAX];
static int item_nfree;

static int item_reusable(PyTypeObject *tp)
{
    return tp == item_class && tp->tp_basicsize == sizeof(ItemObject) &&
           tp->tp_itemsize == 0 && !tp->tp_finalize;
}

/* Untracks and clears `self`, then keeps it on the free list or frees
 * its memory. Untracking twice is harmless. */
static void item_release(ItemObject *self)
{
    PyObject_GC_UnTrack(self);
    item_clear(self);
    if (item_nfree < ITEM_FREE_MAX && item_reusable(Py_TYPE(self))) {
        item_free[item_nfree++] = self;
        return;
    }
    Py_TYPE(self)->tp_free((PyObject *)self);
}

/* _TierItem's tp_dealloc. A subclass instance comes here from
 * subtype_dealloc, which drops the reference to its heap type after
 * this returns. */
static void item_dealloc(ItemObject *self)
{
    item_release(self);
}

/* agentmem.tiers.MemoryItem's tp_dealloc (see py_set_item_class): what
 * the generic subtype_dealloc does for a class that adds no storage,
 * without its generic checks (~110 of a retrieve's ~1,300 instructions,
 * callgrind, #14). An instance of a further subclass comes here from that
 * subclass's subtype_dealloc, which leaves the type's reference to us as
 * MemoryItem is a heap type. */
static void memitem_dealloc(ItemObject *self)
{
    PyTypeObject *tp = Py_TYPE(self);
    /* A __del__ assigned to the class after its creation runs as
     * subtype_dealloc runs it: on a tracked object, which it may
     * resurrect. */
    if (tp->tp_finalize) {
        if (!PyObject_GC_IsTracked((PyObject *)self))
            PyObject_GC_Track(self);
        if (PyObject_CallFinalizerFromDealloc((PyObject *)self) < 0)
            return;
    }
    item_release(self);
    Py_DECREF(tp);
}

/* A new item of item_class with every object field NULL, not tracked by
 * the garbage collector (see item_track). */
static ItemObject *item_alloc(void)
{
    ItemObject *it;
    if (item_nfree > 0 && item_reusable(item_class)) {
        it = item_free[--item_nfree];
        /* Sets the type (a reference to it, since it is a heap type) and
         * a reference count of 1, as tp_alloc does. */
        PyObject_Init((PyObject *)it, item_class);
        return it;
    }
    it = (ItemObject *)item_class->tp_alloc(item_class, 0);
    if (it)
        PyObject_GC_UnTrack(it);
    return it;
}

/* Tracks `it` unless it is sure to stay out of reference cycles. A
 * cycle through an item needs a field that can hold references: content
 * of any type but str (a list may hold the item itself), or a str
 * subclass with a __dict__. So an item whose fields are all exact str
 * (or tuples of them) is left untracked, as CPython leaves tuples and
 * dicts of atomic values, and every setter tracks it. Most retrieved
 * items are such: tracking and untracking cost ~30 instructions of a
 * retrieve (callgrind, #14). */
static void item_track(ItemObject *it)
{
    if (!PyObject_GC_IsTracked((PyObject *)it))
        PyObject_GC_Track(it);
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

/* Setters: the seed's MemoryItem is a mutable dataclass (its manager
 * sets tier, last_accessed and access_count; users build items for
 * index_item and save_item). A changed item is still a snapshot: it
 * changes nothing in a manager until stored again. */
static int no_delete(PyObject *v, const char *name)
{
    if (v)
        return 0;
    PyErr_Format(PyExc_TypeError, "MemoryItem.%s cannot be deleted", name);
    return -1;
}

/* A str, or None when `none_ok`. */
static int set_str(PyObject **slot, PyObject *v, const char *name,
                   int none_ok)
{
    am_str s;
    if (no_delete(v, name) < 0)
        return -1;
    if (v == Py_None && none_ok) {
        Py_CLEAR(*slot);
        return 0;
    }
    if (!PyUnicode_Check(v)) {
        PyErr_Format(PyExc_TypeError, "MemoryItem.%s must be str%s, not "
                     "%.80s", name, none_ok ? " or None" : "",
                     Py_TYPE(v)->tp_name);
        return -1;
    }
    if (amp_utf8(v, name, &s) < 0)
        return -1;
    Py_XSETREF(*slot, Py_NewRef(v));
    return 0;
}

static int item_set_id(ItemObject *s, PyObject *v, void *c)
{
    item_track(s);
    return set_str(&s->id, v, "id", 0);
}
static int item_set_type(ItemObject *s, PyObject *v, void *c)
{
    item_track(s);
    return set_str(&s->type, v, "item_type", 1);
}
static int item_set_extra(ItemObject *s, PyObject *v, void *c)
{
    item_track(s);
    return set_str(&s->extra, v, "extra", 1);
}
static int item_set_content(ItemObject *s, PyObject *v, void *c)
{
    item_track(s);
    if (no_delete(v, "content") < 0)
        return -1;
    Py_XSETREF(s->content, Py_NewRef(v));
    return 0;
}
static int item_set_tags(ItemObject *s, PyObject *v, void *c)
{
    item_track(s);
    if (no_delete(v, "tags") < 0)
        return -1;
    if (v == Py_None) {
        Py_CLEAR(s->tags);
        return 0;
    }
    if (!PyList_Check(v) && !PyTuple_Check(v)) {
        PyErr_Format(PyExc_TypeError, "MemoryItem.tags must be a list of "
                     "str, not %.80s", Py_TYPE(v)->tp_name);
        return -1;
    }
    PyObject *t = PySequence_Tuple(v);
    if (!t)
        return -1;
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(t); i++) {
        am_str one;
        if (!PyUnicode_Check(PyTuple_GET_ITEM(t, i))) {
            PyErr_Format(PyExc_TypeError, "MemoryItem.tags[%zd] must be "
                         "str, not %.80s", i,
                         Py_TYPE(PyTuple_GET_ITEM(t, i))->tp_name);
            Py_DECREF(t);
            return -1;
        }
        if (amp_utf8(PyTuple_GET_ITEM(t, i), "tags", &one) < 0) {
            Py_DECREF(t);
            return -1;
        }
    }
    Py_XSETREF(s->tags, PyTuple_GET_SIZE(t) ? t : NULL);
    if (!s->tags)
        Py_DECREF(t);
    return 0;
}
static int item_set_tier(ItemObject *s, PyObject *v, void *c)
{
    am_tier t;
    if (no_delete(v, "tier_name") < 0 || amp_tier_of(v, &t) < 0)
        return -1;
    s->tier = (int)t;
    return 0;
}
static int set_ms(long long *slot, PyObject *v, const char *name)
{
    if (no_delete(v, name) < 0)
        return -1;
    if (!PyLong_Check(v) || PyBool_Check(v)) {
        PyErr_Format(PyExc_TypeError, "MemoryItem.%s must be an int (ms), "
                     "not %.80s", name, Py_TYPE(v)->tp_name);
        return -1;
    }
    long long x = PyLong_AsLongLong(v);
    if (x == -1 && PyErr_Occurred()) {
        PyErr_Clear();
        PyErr_Format(PyExc_ValueError, "MemoryItem.%s is out of range",
                     name);
        return -1;
    }
    *slot = x;
    return 0;
}
static int item_set_created(ItemObject *s, PyObject *v, void *c)
{
    return set_ms(&s->created_ms, v, "created_ms");
}
static int item_set_accessed(ItemObject *s, PyObject *v, void *c)
{
    return set_ms(&s->accessed_ms, v, "accessed_ms");
}
static int item_set_count(ItemObject *s, PyObject *v, void *c)
{
    size_t n;
    if (no_delete(v, "access_count") < 0 ||
        amp_size(v, "access_count", 0, &n) < 0)
        return -1;
    if (v == Py_None || n > UINT32_MAX) {
        PyErr_Format(PyExc_ValueError, "MemoryItem.access_count must be an "
                     "int from 0 to %lu", (unsigned long)UINT32_MAX);
        return -1;
    }
    s->access_count = (unsigned long)n;
    return 0;
}
static int item_set_importance(ItemObject *s, PyObject *v, void *c)
{
    if (no_delete(v, "importance") < 0)
        return -1;
    double d = PyFloat_AsDouble(v);
    if (d == -1.0 && PyErr_Occurred()) {
        PyErr_Clear();
        PyErr_Format(PyExc_TypeError, "MemoryItem.importance must be a "
                     "number, not %.80s", Py_TYPE(v)->tp_name);
        return -1;
    }
    if (!(d >= 0.0 && d <= 1.0)) {
        PyErr_Format(PyExc_ValueError, "MemoryItem.importance must be in "
                     "[0, 1], not %R", v);
        return -1;
    }
    s->importance = d;
    return 0;
}

static PyGetSetDef item_getset[] = {
    {"id", (getter)item_id, (setter)item_set_id, "The item id.", NULL},
    {"content", (getter)item_content, (setter)item_set_content,
     "The content.", NULL},
    {"tier_name", (getter)item_tier, (setter)item_set_tier,
     "The tier's C name.", NULL},
    {"created_ms", (getter)item_created, (setter)item_set_created,
     "Creation time (ms).", NULL},
    {"accessed_ms", (getter)item_accessed, (setter)item_set_accessed,
     "Last access (ms).", NULL},
    {"access_count", (getter)item_count, (setter)item_set_count,
     "Accesses so far.", NULL},
    {"importance", (getter)item_importance, (setter)item_set_importance,
     "0..1.", NULL},
    {"item_type", (getter)item_type, (setter)item_set_type,
     "Metadata type.", NULL},
    {"tags", (getter)item_tags, (setter)item_set_tags, "Tags (a tuple).",
     NULL},
    {"extra", (getter)item_extra, (setter)item_set_extra,
     "Other metadata (JSON text).", NULL},
    {NULL, NULL, NULL, NULL, NULL}};

static PyTypeObject ItemType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "agentmem._agentmem._TierItem",
    .tp_basicsize = sizeof(ItemObject),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC,
    .tp_doc = "An item of the tiered memory (raw C values).",
    .tp_traverse = (traverseproc)item_traverse,
    .tp_clear = (inquiry)item_clear,
    .tp_new = PyType_GenericNew, /* MemoryItem(...) builds one */
    .tp_dealloc = (destructor)item_dealloc,
    .tp_getset = item_getset,
};

/* A record for `info`; content is `content` (borrowed; NULL: decode it
 * from info). */
PyObject *amp_tier_item_new(const am_tier_item *info, PyObject *id,
                          PyObject *content)
{
    ItemObject *it = item_alloc();
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
    if (!PyUnicode_CheckExact(it->id) || !PyUnicode_CheckExact(it->content))
        item_track(it);
    return (PyObject *)it;
}

/* A tier given as a MemoryTier or its value ("working", "short_term",
 * "long_term", "archive"). */
int amp_tier_of(PyObject *o, am_tier *out)
{
    am_str name;
    for (int i = 0; i < AM_TIER_COUNT; i++) {
        if (o == tier_members[i]) {
            *out = (am_tier)i;
            return 0;
        }
    }
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

/* Whether `tp`, a Python subclass of _TierItem, adds nothing an
 * instance must free or finalize (no __dict__, __weakref__, slots or
 * __del__), so that memitem_dealloc can stand in for subtype_dealloc. */
static int adds_nothing(PyTypeObject *tp)
{
    return PyType_HasFeature(tp, Py_TPFLAGS_HEAPTYPE) &&
           tp->tp_base == &ItemType &&
           tp->tp_basicsize == sizeof(ItemObject) && tp->tp_itemsize == 0 &&
           tp->tp_dictoffset == 0 && tp->tp_weaklistoffset == 0 &&
           !PyType_HasFeature(tp, Py_TPFLAGS_MANAGED_DICT) &&
           !tp->tp_finalize && !tp->tp_del;
}

/* _set_tier_item_class(MemoryItem, MemoryTier): the classes
 * agentmem.tiers defines, set once at its import. */
static PyObject *py_set_item_class(PyObject *mod, PyObject *args)
{
    PyObject *cls, *tiers;
    if (!PyArg_ParseTuple(args, "OO:_set_tier_item_class", &cls, &tiers))
        return NULL;
    if (!PyType_Check(cls) ||
        !PyType_IsSubtype((PyTypeObject *)cls, &ItemType))
        return PyErr_Format(PyExc_TypeError, "not a _TierItem subclass");
    PyObject *members[AM_TIER_COUNT];
    for (int i = 0; i < AM_TIER_COUNT; i++) {
        PyObject *m = PyObject_GetAttrString(
            tiers, i == 0 ? "WORKING" : i == 1 ? "SHORT_TERM"
                   : i == 2 ? "LONG_TERM" : "ARCHIVE");
        PyObject *v = m ? PyObject_GetAttrString(m, "value") : NULL;
        am_tier t;
        int ok = v && amp_tier_of(v, &t) == 0 && t == (am_tier)i;
        Py_XDECREF(v);
        if (!ok) {
            for (int j = 0; j < i; j++)
                Py_DECREF(members[j]);
            Py_XDECREF(m);
            if (!PyErr_Occurred())
                PyErr_SetString(PyExc_ValueError,
                                "MemoryTier's values do not match am_tier");
            return NULL;
        }
        members[i] = m;
    }
    for (int i = 0; i < AM_TIER_COUNT; i++)
        Py_XSETREF(tier_members[i], members[i]);
    Py_INCREF(cls);
    item_class = (PyTypeObject *)cls;
    if (adds_nothing(item_class))
        item_class->tp_dealloc = (destructor)memitem_dealloc;
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"_set_tier_item_class", py_set_item_class, METH_VARARGS, NULL},
    {NULL, NULL, 0, NULL}};

int amp_tier_item_init(PyObject *module)
{
    if (PyType_Ready(&ItemType) < 0 ||
        PyModule_AddObjectRef(module, "_TierItem", (PyObject *)&ItemType) < 0)
        return -1;
    return PyModule_AddFunctions(module, methods);
}
