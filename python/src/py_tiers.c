/* py_tiers.c -- hierarchical memory tiers (tiers.h) from Python: a _Tiers
 * type over one am_tiers handle and a compact _TierItem record, with
 * search, custom indexes and lifecycle policies whose callbacks are
 * Python callables.
 *
 * store/retrieve are hash-table operations in C, so they keep the GIL (a
 * release would cost more than the call) until a Python callback is
 * registered (see pycb below); the slow calls (open, close, flush,
 * optimize, apply_policies) release it. A _TierItem holds the raw C values; the
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
/* agentmem.tiers.MemoryTier's members by am_tier (set with item_class):
 * an enum argument is recognised by identity, since reading .value goes
 * through Python code (a descriptor) on every call. */
static PyObject *tier_members[AM_TIER_COUNT];
static PyObject *k_tags; /* "tags", interned */
static int tier_of(PyObject *o, am_tier *out);

/* An item can be part of a reference cycle: content is any object, and
 * it may hold the item itself (item.content = [item]). So the type takes
 * part in garbage collection. Only content can close a cycle (the other
 * fields are str or tuples of str), but visiting them all is as cheap and
 * stays right if that changes. */
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

static void item_dealloc(ItemObject *self)
{
    /* A subclass instance comes here from subtype_dealloc, which has
     * untracked it already (untracking twice is harmless). */
    PyObject_GC_UnTrack(self);
    item_clear(self);
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
    return set_str(&s->id, v, "id", 0);
}
static int item_set_type(ItemObject *s, PyObject *v, void *c)
{
    return set_str(&s->type, v, "item_type", 1);
}
static int item_set_extra(ItemObject *s, PyObject *v, void *c)
{
    return set_str(&s->extra, v, "extra", 1);
}
static int item_set_content(ItemObject *s, PyObject *v, void *c)
{
    if (no_delete(v, "content") < 0)
        return -1;
    Py_XSETREF(s->content, Py_NewRef(v));
    return 0;
}
static int item_set_tags(ItemObject *s, PyObject *v, void *c)
{
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
    if (no_delete(v, "tier_name") < 0 || tier_of(v, &t) < 0)
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

struct pycb;

typedef struct {
    PyObject_HEAD
    am_tiers *t;
    /* Python callbacks (custom indexes, policies), kept until close. */
    struct pycb *cbs;
    int has_cb;
    /* What a callback raised (PyErr_Fetch), re-raised after the call. */
    PyObject *exc, *exc_val, *exc_tb;
    /* The copy store/retrieve/peek read an item into, reused (see
     * info_get); busy while a call builds its result from it. */
    am_tier_item scratch;
    int scratch_busy;
} TiersObject;

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

static void cb_free_all(TiersObject *self);
static int cb_raised(TiersObject *self);

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
    cb_free_all(self);
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
    cb_free_all(self); /* the handle used them until close */
    am_tier_item_free(&self->scratch);
    Py_CLEAR(self->exc);
    Py_CLEAR(self->exc_val);
    Py_CLEAR(self->exc_tb);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

/* A tier given as a MemoryTier or its value ("working", "short_term",
 * "long_term", "archive"). */
static int tier_of(PyObject *o, am_tier *out)
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
        tiers_ready(self) < 0)
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
    if (a[3] && a[3] != Py_None && tier_of(a[3], &in.tier) < 0)
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
    if (cb_raised(self) < 0)
        ;
    else if (st != AM_OK)
        raise_tiers(self, st);
    else
        r = item_new(info, a[0], content);
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
    if (tiers_ready(self) < 0 || amp_utf8(id_o, "item_id", &id) < 0)
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
    if (cb_raised(self) < 0)
        ;
    else if (st == AM_ENOTFOUND)
        r = Py_NewRef(Py_None);
    else if (st != AM_OK)
        raise_tiers(self, st);
    else if (!info->content.ptr && info->content_len) {
        /* Archived: the record does not carry the content; decompress. */
        am_buf b = AM_BUF_INIT;
        Py_BEGIN_ALLOW_THREADS
        st = am_tiers_peek(self->t, id, &b, info);
        Py_END_ALLOW_THREADS
        if (st != AM_OK) {
            raise_tiers(self, st);
        } else {
            info->content = am_buf_str(&b);
            r = item_new(info, id_o, NULL);
        }
        am_buf_free(&b);
    } else {
        r = item_new(info, id_o, NULL);
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
    if (tiers_ready(self) < 0 || amp_utf8(id_o, "item_id", &id) < 0)
        return NULL;
    am_status st;
    Py_BEGIN_ALLOW_THREADS
    st = fn(self->t, id);
    Py_END_ALLOW_THREADS
    if (cb_raised(self) < 0)
        return NULL;
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
    if (cb_raised(self) < 0)
        return NULL;
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

/* ---- Search, custom indexes, policies (Python callbacks) ---- */

/* A Python callback the C handle calls: a custom index's key extractor
 * or a policy's condition/action. The C code calls it with the handle's
 * mutex held; it takes the GIL back. Once the first is registered the
 * calls that may run one (store, search, apply_policies) release the GIL
 * first, so that no thread ever waits for the mutex while holding the
 * GIL (a callback that let the GIL go would deadlock against it). An
 * exception is kept and re-raised when the C call returns. */
typedef struct pycb {
    TiersObject *owner;
    PyObject *fn;       /* key extractor or condition */
    PyObject *action;   /* policy: a Python action (NULL: builtin) */
    PyObject *pending;  /* policy with a Python action: the matched items */
    PyObject *name;     /* policy name (str), NULL for an index */
    struct pycb *next;
} pycb;

static void keep_exc(TiersObject *self)
{
    if (!self->exc)
        PyErr_Fetch(&self->exc, &self->exc_val, &self->exc_tb);
    else
        PyErr_Clear();
}

/* Re-raise what a callback raised during the last C call (-1), or 0. */
static int cb_raised(TiersObject *self)
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
        return item_new(&copy, NULL, NULL);
    }
    return item_new(v, NULL, NULL);
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

static void cb_free_all(TiersObject *self)
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
static PyObject *tiers_add_index(TiersObject *self, PyObject *args)
{
    const char *name;
    PyObject *fn;
    if (!PyArg_ParseTuple(args, "sO:add_index", &name, &fn) ||
        tiers_ready(self) < 0)
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
    if (cb_raised(self) < 0)
        return NULL;
    if (st != AM_OK)
        return raise_tiers(self, st);
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
static PyObject *tiers_add_policy(TiersObject *self, PyObject *args)
{
    const char *name;
    PyObject *cond, *act;
    if (!PyArg_ParseTuple(args, "sOO:add_policy", &name, &cond, &act) ||
        tiers_ready(self) < 0)
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
        return raise_tiers(self, st);
    Py_RETURN_NONE;
}

/* apply_policies() -> {name: count}; Python actions run afterwards. */
static PyObject *tiers_apply_policies(TiersObject *self, PyObject *unused)
{
    if (tiers_ready(self) < 0)
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
    if (!todo || cb_raised(self) < 0) {
        Py_XDECREF(todo);
        return NULL;
    }
    if (st != AM_OK) {
        Py_DECREF(todo);
        return raise_tiers(self, st);
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
static PyObject *tiers_search(TiersObject *self, PyObject *args,
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
        tiers_ready(self) < 0)
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
            if (tier_of(PySequence_Fast_ITEMS(fast)[i], &t) < 0) {
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
        return raise_tiers(self, st);
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
static PyObject *tiers_cleanup(TiersObject *self, PyObject *arg)
{
    size_t days, deleted = 0;
    if (tiers_ready(self) < 0 || amp_size(arg, "days", 0, &days) < 0)
        return NULL;
    if (days > 1000000)
        return PyErr_Format(PyExc_ValueError,
                            "days must be between 0 and 1000000");
    am_status st;
    Py_BEGIN_ALLOW_THREADS
    st = am_tiers_cleanup_old_items(self->t, (int64_t)days, &deleted);
    Py_END_ALLOW_THREADS
    if (st != AM_OK)
        return raise_tiers(self, st);
    return PyLong_FromSize_t(deleted);
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
        int ok = v && tier_of(v, &t) == 0 && t == (am_tier)i;
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
    Py_RETURN_NONE;
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
    {"search", (PyCFunction)(void (*)(void))tiers_search,
     METH_VARARGS | METH_KEYWORDS,
     "search(*, type, tags, min_importance, max_importance, "
     "created_from_ms, created_to_ms, recent_days, index, index_key, tiers, "
     "limit, peek) -> [ids]"},
    {"add_index", (PyCFunction)tiers_add_index, METH_VARARGS,
     "add_index(name, key_fn)"},
    {"add_policy", (PyCFunction)tiers_add_policy, METH_VARARGS,
     "add_policy(name, condition, action)"},
    {"apply_policies", (PyCFunction)tiers_apply_policies, METH_NOARGS,
     "apply_policies() -> {name: count}"},
    {"cleanup_old_items", (PyCFunction)tiers_cleanup, METH_O,
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

static PyMethodDef methods[] = {
    {"_set_tier_item_class", py_set_item_class, METH_VARARGS, NULL},
    {NULL, NULL, 0, NULL}};

int amp_tiers_init(PyObject *module)
{
    if (!(k_tags = PyUnicode_InternFromString("tags")) ||
        PyType_Ready(&ItemType) < 0 || PyType_Ready(&TiersType) < 0 ||
        PyModule_AddObjectRef(module, "_TierItem", (PyObject *)&ItemType) < 0 ||
        PyModule_AddObjectRef(module, "_Tiers", (PyObject *)&TiersType) < 0)
        return -1;
    return PyModule_AddFunctions(module, methods);
}
