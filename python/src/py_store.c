/* py_store.c -- the long-term store (store.h) and conversation recall
 * (recall.h) from Python: a _Store type over one am_store handle.
 *
 * am_store is thread-safe, so every call releases the GIL. close() may race
 * with calls from other threads: a read-write lock lets calls run together
 * and makes close wait until none is in flight. */
#include "py_amp.h"

#include <pthread.h>
#include <string.h>

typedef struct {
    PyObject_HEAD
    am_store *s;
    am_embedder *emb;
    pthread_rwlock_t rw;
    int rw_ready;
} StoreObject;

/* ---- namespaces ---- */

typedef struct ns_buf {
    am_str parts[AM_STORE_MAX_NS_PARTS];
    am_ns ns;
} ns_buf;

/* A tuple/list of str (or one str) as a namespace; the strings borrow from
 * `o`. allow_root: the empty tuple (every namespace) is accepted. */
static int ns_of(PyObject *o, int allow_root, ns_buf *nb)
{
    if (PyUnicode_Check(o)) {
        if (amp_utf8(o, "namespace", &nb->parts[0]) < 0)
            return -1;
        nb->ns.parts = nb->parts;
        nb->ns.count = 1;
        return 0;
    }
    if (!PyTuple_Check(o) && !PyList_Check(o)) {
        PyErr_Format(PyExc_TypeError,
                     "namespace must be a tuple of str, not %.80s",
                     Py_TYPE(o)->tp_name);
        return -1;
    }
    Py_ssize_t n = PySequence_Fast_GET_SIZE(o);
    if (n > AM_STORE_MAX_NS_PARTS) {
        PyErr_Format(PyExc_ValueError,
                     "namespace has %zd parts (at most %d)", n,
                     AM_STORE_MAX_NS_PARTS);
        return -1;
    }
    if (n == 0 && !allow_root) {
        PyErr_SetString(PyExc_ValueError,
                        "namespace must have at least one part");
        return -1;
    }
    PyObject **items = PySequence_Fast_ITEMS(o);
    for (Py_ssize_t i = 0; i < n; i++) {
        char what[32];
        snprintf(what, sizeof what, "namespace[%zd]", i);
        if (amp_utf8(items[i], what, &nb->parts[i]) < 0)
            return -1;
    }
    nb->ns.parts = nb->parts;
    nb->ns.count = (size_t)n;
    return 0;
}

/* ---- life cycle ---- */

static int store_ready(StoreObject *self)
{
    if (!self->s) {
        PyErr_SetString(PyExc_ValueError, "the store is closed");
        return -1;
    }
    return 0;
}

/* Enter a call: the read lock, taken without the GIL. Returns -1 (with
 * ValueError) when the store is closed. */
static int enter(StoreObject *self)
{
    if (store_ready(self) < 0)
        return -1;
    Py_BEGIN_ALLOW_THREADS
    pthread_rwlock_rdlock(&self->rw);
    Py_END_ALLOW_THREADS
    if (!self->s) {
        pthread_rwlock_unlock(&self->rw);
        return store_ready(self);
    }
    return 0;
}

static void leave(StoreObject *self) { pthread_rwlock_unlock(&self->rw); }

static void store_close_now(StoreObject *self)
{
    am_store_close(self->s);
    self->s = NULL;
    am_embedder_free(self->emb);
    self->emb = NULL;
}

static PyObject *store_close(StoreObject *self, PyObject *unused)
{
    if (self->rw_ready) {
        Py_BEGIN_ALLOW_THREADS
        pthread_rwlock_wrlock(&self->rw);
        Py_END_ALLOW_THREADS
        store_close_now(self);
        pthread_rwlock_unlock(&self->rw);
    }
    Py_RETURN_NONE;
}

static void store_dealloc(StoreObject *self)
{
    store_close_now(self);
    if (self->rw_ready)
        pthread_rwlock_destroy(&self->rw);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

/* am_embedder_default_create, with the package's data directory (where
 * setup.py copies the word vectors) tried first: an installed package
 * must not depend on the clone it was built from, whose data/ is the last
 * place the library looks. */
static am_status default_embedder(am_embedder **out, am_error *err)
{
    char path[4096];
    am_error e = { AM_OK, "" };
    am_status st = am_data_find(amp_data_dir(), "wordvec-sg100.bin", path,
                                sizeof path, &e);
    if (st == AM_OK)
        st = am_embedder_words_create(path, NULL, out, &e);
    if (st != AM_OK) {
        err->code = st;
        /* e.msg lists every place tried; the package's own comes first. */
        snprintf(err->msg, sizeof err->msg, "default embedder: %.200s; "
                 "see python/README.md", e.msg);
    }
    return st;
}

/* _Store(path, embedder="default"): embedder is "default" (the word
 * vectors; an error when they are missing), "hash" or "none". */
static int store_init(StoreObject *self, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"path", "embedder", NULL};
    PyObject *path_o;
    const char *emb = "default";
    if (self->rw_ready) {
        PyErr_SetString(PyExc_RuntimeError, "already initialized");
        return -1;
    }
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O|s", kwlist, &path_o, &emb))
        return -1;
    PyObject *fs = PyOS_FSPath(path_o);
    if (!fs)
        return -1;
    PyObject *bytes = NULL;
    if (!PyUnicode_FSConverter(fs, &bytes)) {
        Py_DECREF(fs);
        return -1;
    }
    Py_DECREF(fs);
    am_error err = { AM_OK, "" };
    am_status st = AM_OK;
    if (!strcmp(emb, "default"))
        st = default_embedder(&self->emb, &err);
    else if (!strcmp(emb, "hash"))
        st = am_embedder_hash_create(0, NULL, &self->emb, &err);
    else if (strcmp(emb, "none") != 0) {
        Py_DECREF(bytes);
        PyErr_Format(PyExc_ValueError,
                     "embedder must be 'default', 'hash' or 'none', not "
                     "'%.40s'", emb);
        return -1;
    }
    if (st != AM_OK) {
        Py_DECREF(bytes);
        amp_raise_err(&err);
        return -1;
    }
    am_store_opts o = am_store_opts_default();
    o.embedder = self->emb;
    const char *path = PyBytes_AS_STRING(bytes);
    Py_BEGIN_ALLOW_THREADS
    st = am_store_open(path, &o, &self->s, &err);
    Py_END_ALLOW_THREADS
    Py_DECREF(bytes);
    if (st != AM_OK) {
        am_embedder_free(self->emb);
        self->emb = NULL;
        amp_raise_err(&err);
        return -1;
    }
    pthread_rwlock_init(&self->rw, NULL);
    self->rw_ready = 1;
    return 0;
}

/* The handle's last error, copied while the read lock is still held. */
static PyObject *raise_store(StoreObject *self, am_status st)
{
    am_error e = *am_store_last_error(self->s);
    if (e.code == AM_OK)
        e.code = st;
    leave(self);
    return amp_raise_err(&e);
}

/* ---- results ---- */

static PyObject *json_or_none(am_str s)
{
    if (!s.len)
        Py_RETURN_NONE;
    return amp_json_loads(s);
}

static PyObject *item_dict(const am_item *it)
{
    PyObject *ns = PyTuple_New((Py_ssize_t)it->ns_count);
    for (size_t i = 0; ns && i < it->ns_count; i++) {
        PyObject *p = amp_pystr(it->ns_parts[i]);
        if (!p) {
            Py_CLEAR(ns);
            break;
        }
        PyTuple_SET_ITEM(ns, (Py_ssize_t)i, p);
    }
    if (!ns)
        return NULL;
    return Py_BuildValue(
        "{s:N,s:N,s:N,s:N,s:N,s:L,s:L,s:L,s:d,s:d,s:d}", "namespace", ns,
        "key", amp_pystr(it->key), "value", json_or_none(it->value), "meta",
        json_or_none(it->meta), "text", amp_pystr(it->text), "created_ms",
        (long long)it->created_ms, "updated_ms", (long long)it->updated_ms,
        "expires_ms", (long long)it->expires_ms, "score", it->score,
        "fts_score", it->fts_score, "vec_score", it->vec_score);
}

static PyObject *results_list(am_results *r)
{
    PyObject *list = PyList_New((Py_ssize_t)r->count);
    for (size_t i = 0; list && i < r->count; i++) {
        PyObject *d = item_dict(&r->items[i]);
        if (!d) {
            Py_CLEAR(list);
            break;
        }
        PyList_SET_ITEM(list, (Py_ssize_t)i, d);
    }
    am_results_free(r);
    return list;
}

/* ---- items ---- */

/* put(namespace, key, value_json, text=None, ttl_ms=0, meta_json=None) */
static PyObject *store_put(StoreObject *self, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"namespace", "key", "value", "text", "ttl_ms",
                             "meta", NULL};
    PyObject *ns_o, *key_o, *val_o, *text_o = Py_None, *ttl_o = Py_None,
                                    *meta_o = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "OOO|OOO", kwlist, &ns_o,
                                     &key_o, &val_o, &text_o, &ttl_o,
                                     &meta_o))
        return NULL;
    am_item_in it;
    memset(&it, 0, sizeof it);
    ns_buf nb;
    size_t ttl;
    if (ns_of(ns_o, 0, &nb) < 0 || amp_utf8(key_o, "key", &it.key) < 0 ||
        amp_utf8(val_o, "value", &it.value) < 0 ||
        amp_size(ttl_o, "ttl_ms", 0, &ttl) < 0)
        return NULL;
    if (text_o != Py_None && amp_utf8(text_o, "text", &it.text) < 0)
        return NULL;
    if (meta_o != Py_None && amp_utf8(meta_o, "meta", &it.meta) < 0)
        return NULL;
    if (ttl > (size_t)INT64_MAX)
        return PyErr_Format(PyExc_ValueError, "ttl_ms is out of range");
    it.ns = nb.ns;
    it.ttl_ms = (int64_t)ttl;
    if (enter(self) < 0)
        return NULL;
    am_status st;
    Py_BEGIN_ALLOW_THREADS
    st = am_store_put(self->s, &it);
    Py_END_ALLOW_THREADS
    if (st != AM_OK)
        return raise_store(self, st);
    leave(self);
    Py_RETURN_NONE;
}

static PyObject *store_get(StoreObject *self, PyObject *args)
{
    PyObject *ns_o, *key_o;
    ns_buf nb;
    am_str key;
    if (!PyArg_ParseTuple(args, "OO", &ns_o, &key_o) ||
        ns_of(ns_o, 0, &nb) < 0 || amp_utf8(key_o, "key", &key) < 0 ||
        enter(self) < 0)
        return NULL;
    am_results *r = NULL;
    am_status st;
    Py_BEGIN_ALLOW_THREADS
    st = am_store_get_item(self->s, nb.ns, key, &r);
    Py_END_ALLOW_THREADS
    if (st == AM_ENOTFOUND) {
        leave(self);
        Py_RETURN_NONE;
    }
    if (st != AM_OK)
        return raise_store(self, st);
    leave(self);
    PyObject *list = results_list(r);
    if (!list)
        return NULL;
    PyObject *one = PyList_GET_SIZE(list) ? Py_NewRef(PyList_GET_ITEM(list, 0))
                                          : Py_NewRef(Py_None);
    Py_DECREF(list);
    return one;
}

static PyObject *store_delete(StoreObject *self, PyObject *args)
{
    PyObject *ns_o, *key_o;
    ns_buf nb;
    am_str key;
    if (!PyArg_ParseTuple(args, "OO", &ns_o, &key_o) ||
        ns_of(ns_o, 0, &nb) < 0 || amp_utf8(key_o, "key", &key) < 0 ||
        enter(self) < 0)
        return NULL;
    am_status st;
    Py_BEGIN_ALLOW_THREADS
    st = am_store_delete(self->s, nb.ns, key);
    Py_END_ALLOW_THREADS
    if (st != AM_OK && st != AM_ENOTFOUND)
        return raise_store(self, st);
    leave(self);
    return PyBool_FromLong(st == AM_OK);
}

static PyObject *store_list(StoreObject *self, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"namespace", "limit", "offset", NULL};
    PyObject *ns_o, *lim_o = Py_None, *off_o = Py_None;
    ns_buf nb;
    size_t limit, offset;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O|OO", kwlist, &ns_o, &lim_o,
                                     &off_o) ||
        ns_of(ns_o, 1, &nb) < 0 ||
        amp_size(lim_o, "limit", 100, &limit) < 0 ||
        amp_size(off_o, "offset", 0, &offset) < 0 || enter(self) < 0)
        return NULL;
    am_results *r = NULL;
    am_status st;
    Py_BEGIN_ALLOW_THREADS
    st = am_store_list(self->s, nb.ns, limit, offset, &r);
    Py_END_ALLOW_THREADS
    if (st != AM_OK)
        return raise_store(self, st);
    leave(self);
    return results_list(r);
}

/* The names field of a search, recall search or tool call (None: off).
 * The library checks the bonus (outside [0, 1], or without a field: its
 * AM_EINVAL, an InvalidArgumentError and so a ValueError). */
static int names_opts(PyObject *names_o, am_str *field)
{
    *field = (am_str){ NULL, 0 };
    return names_o != Py_None ? amp_utf8(names_o, "names_field", field) : 0;
}

/* search(namespace, query, limit=10, mode="hybrid", filter=None,
 *        names_field=None, names_bonus=0.0) */
static PyObject *store_search(StoreObject *self, PyObject *args,
                              PyObject *kw)
{
    static char *kwlist[] = {"namespace", "query", "limit", "mode", "filter",
                             "names_field", "names_bonus", NULL};
    PyObject *ns_o, *q_o, *lim_o = Py_None, *filter_o = Py_None;
    PyObject *names_o = Py_None;
    const char *mode = "hybrid";
    am_search q;
    memset(&q, 0, sizeof q);
    ns_buf nb;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "OO|OsOOd", kwlist, &ns_o,
                                     &q_o, &lim_o, &mode, &filter_o,
                                     &names_o, &q.names_bonus) ||
        ns_of(ns_o, 1, &nb) < 0 || amp_utf8(q_o, "query", &q.query) < 0 ||
        amp_size(lim_o, "limit", 10, &q.limit) < 0)
        return NULL;
    if (filter_o != Py_None && amp_utf8(filter_o, "filter", &q.filter) < 0)
        return NULL;
    if (names_opts(names_o, &q.names_field) < 0)
        return NULL;
    if (!strcmp(mode, "hybrid"))
        q.mode = AM_SEARCH_HYBRID;
    else if (!strcmp(mode, "text"))
        q.mode = AM_SEARCH_TEXT;
    else if (!strcmp(mode, "vector"))
        q.mode = AM_SEARCH_VECTOR;
    else
        return PyErr_Format(PyExc_ValueError,
                            "mode must be 'hybrid', 'text' or 'vector', not "
                            "'%.40s'", mode);
    q.ns = nb.ns;
    if (enter(self) < 0)
        return NULL;
    am_results *r = NULL;
    am_status st;
    Py_BEGIN_ALLOW_THREADS
    st = am_store_search(self->s, &q, &r);
    Py_END_ALLOW_THREADS
    if (st != AM_OK)
        return raise_store(self, st);
    leave(self);
    return results_list(r);
}

static PyObject *store_purge(StoreObject *self, PyObject *unused)
{
    if (enter(self) < 0)
        return NULL;
    size_t removed = 0;
    am_status st;
    Py_BEGIN_ALLOW_THREADS
    st = am_store_purge(self->s, INT64_MAX, &removed);
    Py_END_ALLOW_THREADS
    if (st != AM_OK)
        return raise_store(self, st);
    leave(self);
    return PyLong_FromSize_t(removed);
}

/* ---- conversation recall ---- */

/* A Python chunk summarizer: fn(chunk_text) -> str, called from C with
 * the GIL taken back; what it raises is kept and re-raised. */
typedef struct pychunk {
    PyObject *fn;
    PyObject *exc, *exc_val, *exc_tb;
} pychunk;

static am_status pychunk_run(void *ctx, am_str text, am_buf *summary,
                             am_error *err)
{
    pychunk *pc = ctx;
    am_status st = AM_ECANCELED;
    PyGILState_STATE g = PyGILState_Ensure();
    PyObject *t = amp_pystr(text), *r = NULL;
    if (t)
        r = PyObject_CallOneArg(pc->fn, t);
    Py_XDECREF(t);
    if (r && !PyUnicode_Check(r)) {
        PyErr_Format(PyExc_TypeError,
                     "the chunk summarizer must return a str, not %.80s",
                     Py_TYPE(r)->tp_name);
        Py_CLEAR(r);
    }
    if (r) {
        Py_ssize_t n;
        const char *p = PyUnicode_AsUTF8AndSize(r, &n);
        if (p)
            st = am_buf_append(summary, p, (size_t)n);
        Py_DECREF(r);
    }
    if (PyErr_Occurred()) {
        if (!pc->exc)
            PyErr_Fetch(&pc->exc, &pc->exc_val, &pc->exc_tb);
        else
            PyErr_Clear();
        st = AM_ECANCELED;
    }
    if (st != AM_OK && err) {
        err->code = st;
        snprintf(err->msg, sizeof err->msg, "the chunk summarizer failed");
    }
    PyGILState_Release(g);
    return st;
}

static PyObject *store_recall_index(StoreObject *self, PyObject *args,
                                    PyObject *kw)
{
    static char *kwlist[] = {"user_id", "session_id", "messages_json",
                             "chunk_size", "chunk_overlap", "meta",
                             "summarize", "names_field", NULL};
    PyObject *u_o, *s_o, *m_o, *cs_o = Py_None, *co_o = Py_None,
                               *meta_o = Py_None, *sum_o = Py_None,
                               *names_o = Py_None;
    am_str user, session, msgs;
    am_recall_opts o = am_recall_opts_default();
    pychunk pc = {0};
    if (!PyArg_ParseTupleAndKeywords(args, kw, "OOO|OOOOO", kwlist, &u_o,
                                     &s_o, &m_o, &cs_o, &co_o, &meta_o,
                                     &sum_o, &names_o) ||
        amp_utf8(u_o, "user_id", &user) < 0 ||
        amp_utf8(s_o, "session_id", &session) < 0 ||
        amp_utf8(m_o, "messages", &msgs) < 0 ||
        amp_size(cs_o, "chunk_size", o.chunk_size, &o.chunk_size) < 0 ||
        amp_size(co_o, "chunk_overlap", o.chunk_overlap,
                 &o.chunk_overlap) < 0)
        return NULL;
    if (meta_o != Py_None && amp_utf8(meta_o, "metadata", &o.meta) < 0)
        return NULL;
    if (names_o != Py_None &&
        amp_utf8(names_o, "names_field", &o.names_field) < 0)
        return NULL;
    if (sum_o != Py_None) {
        if (!PyCallable_Check(sum_o))
            return PyErr_Format(PyExc_TypeError, "summarize must be callable");
        pc.fn = sum_o;
        o.summarize = pychunk_run;
        o.summarize_ctx = &pc;
    }
    if (enter(self) < 0)
        return NULL;
    size_t chunks = 0;
    am_status st;
    Py_BEGIN_ALLOW_THREADS
    st = am_recall_index(self->s, user, session, msgs, &o, &chunks);
    Py_END_ALLOW_THREADS
    if (pc.exc) {
        leave(self);
        PyErr_Restore(pc.exc, pc.exc_val, pc.exc_tb);
        return NULL;
    }
    if (st != AM_OK)
        return raise_store(self, st);
    leave(self);
    return PyLong_FromSize_t(chunks);
}

/* recall_search(user_id, query, limit=5, names_field=None,
 *               names_bonus=0.0) */
static PyObject *store_recall_search(StoreObject *self, PyObject *args,
                                     PyObject *kw)
{
    static char *kwlist[] = {"user_id", "query", "limit", "names_field",
                             "names_bonus", NULL};
    PyObject *u_o, *q_o, *lim_o = Py_None, *names_o = Py_None;
    am_str user, query;
    am_recall_search_opts so = am_recall_search_opts_default();
    if (!PyArg_ParseTupleAndKeywords(args, kw, "OO|OOd", kwlist, &u_o, &q_o,
                                     &lim_o, &names_o, &so.names_bonus) ||
        amp_utf8(u_o, "user_id", &user) < 0 ||
        amp_utf8(q_o, "query", &query) < 0 ||
        amp_size(lim_o, "limit", 5, &so.limit) < 0 ||
        names_opts(names_o, &so.names_field) < 0 ||
        enter(self) < 0)
        return NULL;
    am_buf out = AM_BUF_INIT;
    am_status st;
    Py_BEGIN_ALLOW_THREADS
    st = am_recall_search(self->s, user, query, &so, &out);
    Py_END_ALLOW_THREADS
    if (st != AM_OK) {
        am_buf_free(&out);
        return raise_store(self, st);
    }
    leave(self);
    PyObject *r = amp_json_loads(am_buf_str(&out));
    am_buf_free(&out);
    return r;
}

static int tool_opts(PyObject *name_o, PyObject *desc_o, PyObject *lim_o,
                     am_recall_tool_opts *o)
{
    *o = am_recall_tool_opts_default();
    if (name_o != Py_None && amp_utf8(name_o, "name", &o->name) < 0)
        return -1;
    if (desc_o != Py_None && amp_utf8(desc_o, "description",
                                      &o->description) < 0)
        return -1;
    return amp_size(lim_o, "limit", o->limit, &o->limit);
}

static int tool_format(const char *f, am_tool_format *out)
{
    if (!strcmp(f, "openai"))
        *out = AM_TOOL_OPENAI;
    else if (!strcmp(f, "anthropic"))
        *out = AM_TOOL_ANTHROPIC;
    else {
        PyErr_Format(PyExc_ValueError,
                     "format must be 'openai' or 'anthropic', not '%.40s'",
                     f);
        return -1;
    }
    return 0;
}

/* recall_tool_def(format, name=None, description=None, limit=None,
 *                 names_field=None, names_bonus=0.0) -> dict (a
 * module-level function: needs no store; the names only validate). */
static PyObject *py_recall_tool_def(PyObject *mod, PyObject *args,
                                    PyObject *kw)
{
    static char *kwlist[] = {"format", "name", "description", "limit",
                             "names_field", "names_bonus", NULL};
    const char *f = "openai";
    PyObject *n = Py_None, *d = Py_None, *l = Py_None, *names_o = Py_None;
    double bonus = 0;
    am_recall_tool_opts o;
    am_tool_format fmt;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|sOOOOd", kwlist, &f, &n,
                                     &d, &l, &names_o, &bonus) ||
        tool_format(f, &fmt) < 0 || tool_opts(n, d, l, &o) < 0 ||
        names_opts(names_o, &o.names_field) < 0)
        return NULL;
    o.names_bonus = bonus;
    am_buf out = AM_BUF_INIT;
    am_error err = { AM_OK, "" };
    am_status st = am_recall_tool_def(fmt, &o, &out, &err);
    PyObject *r = st == AM_OK ? amp_json_loads(am_buf_str(&out))
                              : amp_raise_err(&err);
    am_buf_free(&out);
    return r;
}

/* text_names(text, exclude=()) -> list of str: am_text_names, the proper
 * names a text mentions, for a search's names_field. */
static PyObject *py_text_names(PyObject *mod, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"text", "exclude", NULL};
    PyObject *t_o, *ex_o = NULL, *seq = NULL, *r = NULL;
    am_str text, *ex = NULL;
    size_t n = 0;
    am_buf out = AM_BUF_INIT;
    am_error err = { AM_OK, "" };
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O|O", kwlist, &t_o, &ex_o) ||
        amp_utf8(t_o, "text", &text) < 0)
        return NULL;
    if (ex_o != NULL && ex_o != Py_None) {
        seq = PySequence_Fast(ex_o, "exclude must be a sequence of str");
        if (seq == NULL)
            return NULL;
        n = (size_t)PySequence_Fast_GET_SIZE(seq);
        ex = PyMem_Calloc(n != 0 ? n : 1, sizeof *ex);
        if (ex == NULL) {
            Py_DECREF(seq);
            return PyErr_NoMemory();
        }
        for (size_t i = 0; i < n; i++)
            if (amp_utf8(PySequence_Fast_GET_ITEM(seq, i), "exclude",
                         &ex[i]) < 0)
                goto done;
    }
    if (am_text_names(text, ex, n, &out, &err) == AM_OK)
        r = amp_json_loads(am_buf_str(&out));
    else
        r = amp_raise_err(&err);
    am_buf_free(&out);
done:
    PyMem_Free(ex);
    Py_XDECREF(seq);
    return r;
}

/* recall_tool_call(user_id, call_json, format, name, description, limit)
 * -> the tool-result message as a dict. */
static PyObject *store_recall_tool_call(StoreObject *self, PyObject *args,
                                        PyObject *kw)
{
    static char *kwlist[] = {"user_id", "call", "format", "name",
                             "description", "limit", "names_field",
                             "names_bonus", NULL};
    PyObject *u_o, *c_o, *n = Py_None, *d = Py_None, *l = Py_None;
    PyObject *names_o = Py_None;
    double bonus = 0;
    const char *f = "openai";
    am_str user, call;
    am_recall_tool_opts o;
    am_tool_format fmt;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "OO|sOOOOd", kwlist, &u_o,
                                     &c_o, &f, &n, &d, &l, &names_o,
                                     &bonus) ||
        amp_utf8(u_o, "user_id", &user) < 0 ||
        amp_utf8(c_o, "call", &call) < 0 || tool_format(f, &fmt) < 0 ||
        tool_opts(n, d, l, &o) < 0 ||
        names_opts(names_o, &o.names_field) < 0 || enter(self) < 0)
        return NULL;
    o.names_bonus = bonus;
    am_buf out = AM_BUF_INIT;
    am_status st;
    Py_BEGIN_ALLOW_THREADS
    st = am_recall_tool_call(self->s, user, fmt, &o, call, &out);
    Py_END_ALLOW_THREADS
    if (st != AM_OK) {
        am_buf_free(&out);
        return raise_store(self, st);
    }
    leave(self);
    PyObject *r = amp_json_loads(am_buf_str(&out));
    am_buf_free(&out);
    return r;
}

static PyMethodDef store_methods[] = {
    {"close", (PyCFunction)store_close, METH_NOARGS,
     "Close the store (waits for calls in flight). Idempotent."},
    {"put", (PyCFunction)(void (*)(void))store_put,
     METH_VARARGS | METH_KEYWORDS, NULL},
    {"get", (PyCFunction)store_get, METH_VARARGS, NULL},
    {"delete", (PyCFunction)store_delete, METH_VARARGS, NULL},
    {"list", (PyCFunction)(void (*)(void))store_list,
     METH_VARARGS | METH_KEYWORDS, NULL},
    {"search", (PyCFunction)(void (*)(void))store_search,
     METH_VARARGS | METH_KEYWORDS, NULL},
    {"purge", (PyCFunction)store_purge, METH_NOARGS, NULL},
    {"recall_index", (PyCFunction)(void (*)(void))store_recall_index,
     METH_VARARGS | METH_KEYWORDS, NULL},
    {"recall_search", (PyCFunction)(void (*)(void))store_recall_search,
     METH_VARARGS | METH_KEYWORDS, NULL},
    {"recall_tool_call", (PyCFunction)(void (*)(void))store_recall_tool_call,
     METH_VARARGS | METH_KEYWORDS, NULL},
    {NULL, NULL, 0, NULL}};

static PyObject *store_closed(StoreObject *self, void *c)
{
    return PyBool_FromLong(self->s == NULL);
}

static PyGetSetDef store_getset[] = {
    {"closed", (getter)store_closed, NULL, "True once closed.", NULL},
    {NULL, NULL, NULL, NULL, NULL}};

static PyTypeObject StoreType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "agentmem._agentmem._Store",
    .tp_basicsize = sizeof(StoreObject),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
    .tp_doc = "One am_store handle (thread-safe).",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)store_init,
    .tp_dealloc = (destructor)store_dealloc,
    .tp_methods = store_methods,
    .tp_getset = store_getset,
};

static PyMethodDef methods[] = {
    {"recall_tool_def", (PyCFunction)(void (*)(void))py_recall_tool_def,
     METH_VARARGS | METH_KEYWORDS, NULL},
    {"text_names", (PyCFunction)(void (*)(void))py_text_names,
     METH_VARARGS | METH_KEYWORDS, NULL},
    {NULL, NULL, 0, NULL}};

int amp_store_init(PyObject *module)
{
    if (PyType_Ready(&StoreType) < 0 ||
        PyModule_AddObjectRef(module, "_Store", (PyObject *)&StoreType) < 0)
        return -1;
    return PyModule_AddFunctions(module, methods);
}
