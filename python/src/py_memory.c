/* py_memory.c -- the compressing memory manager (window.h's am_memory)
 * from Python: a _Memory type for agentmem.compression.
 *
 * am_memory is per-handle, so a lock serializes the calls on one object;
 * adds (which may compress, possibly through an LLM) run without the GIL.
 * The summarizer is the offline one, a Python callable or an
 * OpenAI-compatible server (py_window.c's amp_summ). A Python
 * preservation predicate (a WorkingMemoryCompressor's _should_preserve)
 * is called from C during compression with the GIL taken back; what it
 * or the summarizer raises is re-raised when the C call returns. */
#include "py_amp.h"

#include <string.h>

typedef struct {
    PyObject_HEAD
    am_memory *mem;
    amp_summ sm;
    PyThread_type_lock lock;
    PyObject *preserve;  /* callable(message dict) -> True/False/None */
    PyObject *tracker;   /* a _Tracker, kept alive while mem uses it */
    /* What `preserve` raised (PyErr_Fetch), re-raised after the call. */
    PyObject *exc, *exc_val, *exc_tb;
} MemObject;

static int mem_traverse(MemObject *self, visitproc visit, void *arg)
{
    Py_VISIT(self->sm.py.fn);
    Py_VISIT(self->preserve);
    Py_VISIT(self->tracker);
    return 0;
}

/* Break cycles (a predicate that is a bound method of the object holding
 * this manager): the C manager keeps calling, so the callbacks check for
 * NULL. */
static int mem_clear(MemObject *self)
{
    Py_CLEAR(self->preserve);
    return 0;
}

static void mem_dealloc(MemObject *self)
{
    PyObject_GC_UnTrack(self);
    am_memory_free(self->mem);
    amp_summ_free(&self->sm);
    Py_CLEAR(self->preserve);
    Py_CLEAR(self->tracker);
    Py_CLEAR(self->exc);
    Py_CLEAR(self->exc_val);
    Py_CLEAR(self->exc_tb);
    if (self->lock)
        PyThread_free_lock(self->lock);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

/* The C predicate: 1 keep, -1 let it be compressed, 0 the built-in rules.
 * An exception keeps the message (the safe answer) and is re-raised. */
static int preserve_tramp(void *ctx, const am_msg *msg)
{
    MemObject *self = ctx;
    int keep = 0;
    PyGILState_STATE g = PyGILState_Ensure();
    if (self->preserve && !self->exc) {
        PyObject *d = amp_msg_to_dict(msg);
        PyObject *r = d ? PyObject_CallOneArg(self->preserve, d) : NULL;
        Py_XDECREF(d);
        if (r && r != Py_None) {
            int t = PyObject_IsTrue(r);
            keep = t > 0 ? 1 : t == 0 ? -1 : 1;
        }
        Py_XDECREF(r);
        if (PyErr_Occurred()) {
            PyErr_Fetch(&self->exc, &self->exc_val, &self->exc_tb);
            keep = 1;
        }
    }
    PyGILState_Release(g);
    return keep;
}

/* _Memory(settings: dict of MEMORY_* key -> str, base_url=None,
 *         llm_model=None, api_key=None, summarizer=None,
 *         should_preserve=None, tracker=None, compress_newest=False) */
static int mem_init(MemObject *self, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"settings", "base_url", "llm_model", "api_key",
                             "summarizer", "should_preserve", "tracker",
                             "compress_newest", NULL};
    PyObject *settings, *fn = Py_None, *pres = Py_None, *trk = Py_None;
    const char *base_url = NULL, *llm_model = NULL, *api_key = NULL;
    int newest = 0;
    if (self->mem) {
        PyErr_SetString(PyExc_RuntimeError, "already initialized");
        return -1;
    }
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O!|zzzOOOp", kwlist,
                                     &PyDict_Type, &settings, &base_url,
                                     &llm_model, &api_key, &fn, &pres, &trk,
                                     &newest))
        return -1;
    if (pres != Py_None && !PyCallable_Check(pres)) {
        PyErr_Format(PyExc_TypeError,
                     "should_preserve must be callable, not %.80s",
                     Py_TYPE(pres)->tp_name);
        return -1;
    }
    am_memory_opts o = am_memory_opts_default();
    o.compress_newest = newest;
    am_error err = { AM_OK, "" };
    PyObject *k, *v;
    Py_ssize_t pos = 0;
    while (PyDict_Next(settings, &pos, &k, &v)) {
        am_str ks, vs;
        if (amp_utf8(k, "setting name", &ks) < 0 ||
            amp_utf8(v, "setting value", &vs) < 0)
            return -1;
        if (am_memory_config_set(&o.config, ks, vs, "MemoryConfig", &err) !=
            AM_OK) {
            amp_raise_err(&err);
            return -1;
        }
    }
    /* Count with the module's shared tokenizer (it knows the package's
     * data directory); "" or "estimate" counts with the estimate. */
    if (o.config.model[0] && strcmp(o.config.model, "estimate") != 0) {
        PyObject *m = PyUnicode_FromString(o.config.model);
        if (!m)
            return -1;
        o.counter.tokenizer = amp_tokenizer(m);
        Py_DECREF(m);
        if (!o.counter.tokenizer)
            return -1;
    }
    if (amp_summ_init(&self->sm, fn, base_url, llm_model, api_key, 0) < 0)
        return -1;
    o.summarizer = self->sm.s; /* NULL: the offline one */
    if (trk != Py_None) {
        o.tracker = amp_tracker_of(trk);
        if (!o.tracker)
            return -1;
        self->tracker = Py_NewRef(trk);
    }
    if (pres != Py_None) {
        self->preserve = Py_NewRef(pres);
        o.should_preserve = preserve_tramp;
        o.should_preserve_ctx = self;
    }
    o.alloc = NULL;
    self->lock = PyThread_allocate_lock();
    if (!self->lock) {
        PyErr_NoMemory();
        return -1;
    }
    if (am_memory_create(&o, &self->mem, &err) != AM_OK) {
        amp_raise_err(&err);
        return -1;
    }
    return 0;
}

static int mem_enter(MemObject *self)
{
    if (!self->mem) {
        PyErr_SetString(PyExc_RuntimeError, "not initialized");
        return -1;
    }
    if (!PyThread_acquire_lock(self->lock, NOWAIT_LOCK)) {
        Py_BEGIN_ALLOW_THREADS
        PyThread_acquire_lock(self->lock, WAIT_LOCK);
        Py_END_ALLOW_THREADS
    }
    return 0;
}

static PyObject *mem_fail(MemObject *self, am_status st)
{
    am_error e = *am_memory_last_error(self->mem);
    if (e.code == AM_OK)
        e.code = st;
    PyThread_release_lock(self->lock);
    Py_CLEAR(self->exc); /* the summarizer's own exception wins */
    Py_CLEAR(self->exc_val);
    Py_CLEAR(self->exc_tb);
    return amp_summ_raise(&self->sm, &e);
}

/* After a successful call: re-raise what the predicate raised. */
static int mem_pending(MemObject *self)
{
    if (!self->exc)
        return 0;
    PyErr_Restore(self->exc, self->exc_val, self->exc_tb);
    self->exc = self->exc_val = self->exc_tb = NULL;
    return -1;
}

/* add(message, input_tokens=-1, output_tokens=-1) -> bool (compressed) */
static PyObject *mem_add(MemObject *self, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"message", "input_tokens", "output_tokens",
                             NULL};
    PyObject *m_o;
    long long in = -1, out = -1;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O|LL", kwlist, &m_o, &in,
                                     &out))
        return NULL;
    am_msg *msg;
    if (amp_msg_from_py(m_o, 0, &msg) < 0)
        return NULL;
    if (mem_enter(self) < 0) {
        am_msg_free(msg);
        return NULL;
    }
    am_memory_usage u = {in, out, -1};
    am_status st;
    Py_BEGIN_ALLOW_THREADS
    st = am_memory_add(self->mem, msg, (in >= 0 || out >= 0) ? &u : NULL);
    Py_END_ALLOW_THREADS
    am_msg_free(msg);
    if (st != AM_OK)
        return mem_fail(self, st);
    bool c = am_memory_was_compressed_last(self->mem);
    PyThread_release_lock(self->lock);
    if (mem_pending(self) < 0)
        return NULL;
    return PyBool_FromLong(c);
}

static PyObject *mem_context(MemObject *self, PyObject *unused)
{
    if (mem_enter(self) < 0)
        return NULL;
    am_msg_list l = AM_MSG_LIST_INIT;
    am_status st = am_memory_context(self->mem, &l);
    if (st != AM_OK) {
        am_msg_list_free(&l);
        return mem_fail(self, st);
    }
    PyThread_release_lock(self->lock);
    PyObject *list = PyList_New((Py_ssize_t)l.count);
    for (size_t i = 0; list && i < l.count; i++) {
        PyObject *d = amp_msg_to_dict(l.items[i]);
        if (!d) {
            Py_CLEAR(list);
            break;
        }
        PyList_SET_ITEM(list, (Py_ssize_t)i, d);
    }
    am_msg_list_free(&l);
    return list;
}

static PyObject *mem_compress(MemObject *self, PyObject *unused)
{
    if (mem_enter(self) < 0)
        return NULL;
    am_status st;
    Py_BEGIN_ALLOW_THREADS
    st = am_memory_compress(self->mem);
    Py_END_ALLOW_THREADS
    if (st != AM_OK)
        return mem_fail(self, st);
    PyThread_release_lock(self->lock);
    if (mem_pending(self) < 0)
        return NULL;
    Py_RETURN_NONE;
}

/* compressed() -> dict of the last compression (summary, original_tokens,
 * compressed_tokens, compression_ratio, original_message_count, strategy)
 * or None before the first. */
static PyObject *mem_compressed(MemObject *self, PyObject *unused)
{
    if (mem_enter(self) < 0)
        return NULL;
    am_compressed_memory cm;
    PyObject *r;
    if (!am_memory_compressed(self->mem, &cm)) {
        r = Py_NewRef(Py_None);
    } else {
        PyObject *sum = amp_pystr(cm.summary);
        r = sum ? Py_BuildValue("{s:O,s:n,s:n,s:d,s:n,s:s}", "summary", sum,
                                "original_tokens",
                                (Py_ssize_t)cm.original_tokens,
                                "compressed_tokens",
                                (Py_ssize_t)cm.compressed_tokens,
                                "compression_ratio", cm.compression_ratio,
                                "original_message_count",
                                (Py_ssize_t)cm.original_message_count,
                                "strategy",
                                am_compress_strategy_name(cm.strategy))
                : NULL;
        Py_XDECREF(sum);
    }
    PyThread_release_lock(self->lock);
    return r;
}

/* stats() -> dict (am_memory_stats_json); stats_text() -> str */
static PyObject *mem_stats_as(MemObject *self, int text)
{
    if (mem_enter(self) < 0)
        return NULL;
    am_buf b = AM_BUF_INIT;
    am_status st = text ? am_memory_stats_text(self->mem, &b)
                        : am_memory_stats_json(self->mem, &b);
    if (st != AM_OK) {
        am_buf_free(&b);
        return mem_fail(self, st);
    }
    PyThread_release_lock(self->lock);
    PyObject *r = text ? amp_pystr(am_buf_str(&b))
                       : amp_json_loads(am_buf_str(&b));
    am_buf_free(&b);
    return r;
}

static PyObject *mem_stats(MemObject *self, PyObject *u)
{
    return mem_stats_as(self, 0);
}

static PyObject *mem_stats_text(MemObject *self, PyObject *u)
{
    return mem_stats_as(self, 1);
}

static PyMethodDef mem_methods[] = {
    {"add", (PyCFunction)(void (*)(void))mem_add,
     METH_VARARGS | METH_KEYWORDS, NULL},
    {"context", (PyCFunction)mem_context, METH_NOARGS, NULL},
    {"compress", (PyCFunction)mem_compress, METH_NOARGS, NULL},
    {"compressed", (PyCFunction)mem_compressed, METH_NOARGS, NULL},
    {"stats", (PyCFunction)mem_stats, METH_NOARGS, NULL},
    {"stats_text", (PyCFunction)mem_stats_text, METH_NOARGS, NULL},
    {NULL, NULL, 0, NULL}};

static PyTypeObject MemType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "agentmem._agentmem._Memory",
    .tp_basicsize = sizeof(MemObject),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC,
    .tp_doc = "One am_memory manager (calls serialized by a lock).",
    .tp_traverse = (traverseproc)mem_traverse,
    .tp_clear = (inquiry)mem_clear,
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)mem_init,
    .tp_dealloc = (destructor)mem_dealloc,
    .tp_methods = mem_methods,
};

/* ---- Config discovery (am_memory_config_resolve) ---- */

/* getenv over a Python mapping: the value's UTF-8 stays valid while the
 * mapping holds it, which is the length of the resolve call (made with
 * the GIL held). A lookup that raises or gives a non-str reads as unset
 * and leaves the exception for the caller to raise. */
static const char *dict_getenv(void *ctx, const char *name)
{
    PyObject *env = ctx, *v;
    if (PyErr_Occurred())
        return NULL;
    v = PyMapping_GetItemString(env, name);
    if (!v) {
        if (PyErr_ExceptionMatches(PyExc_KeyError))
            PyErr_Clear();
        return NULL;
    }
    const char *s = NULL;
    if (!PyUnicode_Check(v))
        PyErr_Format(PyExc_TypeError, "env['%s'] must be str, not %.80s",
                     name, Py_TYPE(v)->tp_name);
    else if (PyDict_Check(env))
        s = PyUnicode_AsUTF8(v); /* the dict keeps v alive */
    else
        PyErr_SetString(PyExc_TypeError, "env must be a dict");
    Py_DECREF(v);
    return s;
}

/* memory_config_resolve(file=None, preset=None, cwd=None, env=None,
 *                       use_env=True) -> (settings, sources, file):
 * settings {MEMORY_*: value text} for every key, sources {MEMORY_*:
 * where it came from}, the config file read or None. */
static PyObject *py_config_resolve(PyObject *mod, PyObject *args,
                                   PyObject *kw)
{
    static char *kwlist[] = {"file", "preset", "cwd", "env", "use_env",
                             NULL};
    PyObject *file_o = Py_None, *cwd_o = Py_None, *env = Py_None;
    const char *preset = NULL;
    int use_env = 1;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|OzOOp", kwlist, &file_o,
                                     &preset, &cwd_o, &env, &use_env))
        return NULL;
    if (env != Py_None && !PyDict_Check(env))
        return PyErr_Format(PyExc_TypeError, "env must be a dict, not %.80s",
                            Py_TYPE(env)->tp_name);
    PyObject *file_b = NULL, *cwd_b = NULL, *r = NULL;
    PyObject *settings = NULL, *sources = NULL;
    am_memory_config_resolve_opts o = {0};
    am_memory_config cfg = am_memory_config_default();
    am_memory_config_origins *orig = NULL;
    am_error err = { AM_OK, "" };
    am_buf text = AM_BUF_INIT;
    am_status st;
    if ((file_o != Py_None && !PyUnicode_FSConverter(file_o, &file_b)) ||
        (cwd_o != Py_None && !PyUnicode_FSConverter(cwd_o, &cwd_b)))
        goto out;
    o.file = file_b ? PyBytes_AS_STRING(file_b) : NULL;
    o.cwd = cwd_b ? PyBytes_AS_STRING(cwd_b) : NULL;
    o.preset = preset;
    o.skip_env = !use_env;
    if (env != Py_None) {
        o.getenv_fn = dict_getenv;
        o.getenv_ctx = env;
    }
    orig = PyMem_Malloc(sizeof *orig);
    if (!orig) {
        PyErr_NoMemory();
        goto out;
    }
    am_memory_config_origins_init(orig);
    st = am_memory_config_resolve(&cfg, &o, orig, &err);
    if (PyErr_Occurred()) /* from the env mapping */
        goto done;
    if (st != AM_OK) {
        amp_raise_err(&err);
        goto done;
    }
    if (am_memory_config_format(&cfg, &text) != AM_OK) {
        PyErr_NoMemory();
        goto done;
    }
    settings = PyDict_New();
    sources = PyDict_New();
    /* One KEY=value per line; comments and blank lines skipped. */
    for (const char *p = text.ptr, *end = text.ptr + text.len;
         settings && p < end;) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *eol = nl ? nl : end, *eq = memchr(p, '=', (size_t)(eol - p));
        if (*p != '#' && eq) {
            /* Text values are quoted, without escapes (a config file
             * strips the quotes the same way). */
            const char *v0 = eq + 1, *v1 = eol;
            if (v1 - v0 >= 2 && (*v0 == '"' || *v0 == '\'') &&
                v1[-1] == *v0) {
                v0++;
                v1--;
            }
            PyObject *k = PyUnicode_DecodeUTF8(p, eq - p, "strict");
            PyObject *v = PyUnicode_DecodeUTF8(v0, v1 - v0, "strict");
            if (!k || !v || PyDict_SetItem(settings, k, v) < 0)
                Py_CLEAR(settings);
            Py_XDECREF(k);
            Py_XDECREF(v);
        }
        p = eol + 1;
    }
    for (int i = 0; sources && i < AM_MEMCFG_NKEYS; i++) {
        PyObject *v = PyUnicode_DecodeUTF8(orig->keys[i].source,
                                           strlen(orig->keys[i].source),
                                           "replace");
        if (!v || PyDict_SetItemString(sources, orig->keys[i].key, v) < 0)
            Py_CLEAR(sources);
        Py_XDECREF(v);
    }
    if (settings && sources) {
        PyObject *f = orig->file[0]
                          ? PyUnicode_DecodeFSDefault(orig->file)
                          : Py_NewRef(Py_None);
        if (f)
            r = PyTuple_Pack(3, settings, sources, f);
        Py_XDECREF(f);
    }
done:
    Py_XDECREF(settings);
    Py_XDECREF(sources);
    am_buf_free(&text);
out:
    PyMem_Free(orig);
    Py_XDECREF(file_b);
    Py_XDECREF(cwd_b);
    return r;
}

static PyMethodDef methods[] = {
    {"memory_config_resolve", (PyCFunction)(void (*)(void))py_config_resolve,
     METH_VARARGS | METH_KEYWORDS,
     "memory_config_resolve(file=None, preset=None, cwd=None, env=None, "
     "use_env=True) -> (settings, sources, file)"},
    {NULL, NULL, 0, NULL}};

int amp_memory_init(PyObject *module)
{
    if (PyType_Ready(&MemType) < 0 ||
        PyModule_AddObjectRef(module, "_Memory", (PyObject *)&MemType) < 0)
        return -1;
    return PyModule_AddFunctions(module, methods);
}
