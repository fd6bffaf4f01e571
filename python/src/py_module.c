/* py_module.c -- the _agentmem module: its exception classes, the data
 * directory, the argument helpers every other file uses, and init. */
#include "py_amp.h"

#include <string.h>

/* One class per am_status (index = status); index 0 is agentmem.Error. */
static PyObject *errors[AM_ECANCELED + 1];
static char *data_dir;
static PyObject *json_dumps, *json_loads;

PyObject *amp_k_role, *amp_k_content, *amp_k_name, *amp_k_type,
    *amp_k_tool_calls, *amp_k_tool_call_id, *amp_k_id, *amp_k_function,
    *amp_k_arguments, *amp_k_args, *amp_k_text, *amp_k_image_url, *amp_k_url,
    *amp_k_images, *amp_k_structured_data, *amp_k_agent_calls,
    *amp_k_agent_name, *amp_k_request, *amp_k_input, *amp_k_tool_use_id,
    *amp_k_is_error, *amp_k_to_dict, *amp_k_message_id, *amp_k_created_ms;

/* Class name, extra builtin base (besides agentmem.Error), docstring. The
 * builtin bases let callers catch e.g. ValueError for bad input. */
static const struct {
    am_status st;
    const char *name;
    const char *doc;
} error_table[] = {
    {AM_ENOMEM, "NoMemoryError", "An allocation failed (AM_ENOMEM)."},
    {AM_EINVAL, "InvalidArgumentError",
     "A bad argument (AM_EINVAL); also a ValueError."},
    {AM_ENOTFOUND, "NotFoundError",
     "No such key, message, file or namespace (AM_ENOTFOUND); also a "
     "LookupError."},
    {AM_ELIMIT, "LimitError", "A configured limit was hit (AM_ELIMIT)."},
    {AM_EIO, "StorageError", "A file, socket or database error (AM_EIO)."},
    {AM_EFORMAT, "FormatError",
     "Malformed input: JSON, UTF-8, session file, config (AM_EFORMAT); "
     "also a ValueError."},
    {AM_EEXIST, "ExistsError", "The thing to create exists (AM_EEXIST)."},
    {AM_EBUSY, "BusyError", "A lock could not be taken in time (AM_EBUSY)."},
    {AM_ENET, "NetworkError", "Network failure talking to a provider "
                              "(AM_ENET)."},
    {AM_EAUTH, "AuthError", "A provider refused the credentials (AM_EAUTH)."},
    {AM_EPROTO, "ProtocolError",
     "A peer answered with something unusable (AM_EPROTO)."},
    {AM_ESTATE, "StateError",
     "Not valid in the object's current state (AM_ESTATE)."},
    {AM_EUNSUPPORTED, "UnsupportedError",
     "A valid request this build or backend cannot do (AM_EUNSUPPORTED)."},
    {AM_ETIMEOUT, "TimedOutError", "An operation ran out of time "
                                   "(AM_ETIMEOUT)."},
    {AM_ECANCELED, "CanceledError", "A callback asked to stop "
                                    "(AM_ECANCELED)."},
};

PyObject *amp_raise(am_status st, const char *msg)
{
    PyObject *cls = errors[0];
    if (st > 0 && st <= AM_ECANCELED && errors[st])
        cls = errors[st];
    if (!msg || !*msg)
        msg = am_status_str(st);
    PyObject *text = PyUnicode_DecodeUTF8(msg, (Py_ssize_t)strlen(msg),
                                          "replace");
    if (!text)
        return NULL;
    PyObject *exc = PyObject_CallOneArg(cls, text);
    Py_DECREF(text);
    if (!exc)
        return NULL;
    PyObject *code = PyLong_FromLong((long)st);
    if (!code || PyObject_SetAttrString(exc, "status", code) < 0) {
        Py_XDECREF(code);
        Py_DECREF(exc);
        return NULL;
    }
    Py_DECREF(code);
    PyErr_SetObject(cls, exc);
    Py_DECREF(exc);
    return NULL;
}

PyObject *amp_raise_err(const am_error *err)
{
    return amp_raise(err->code ? err->code : AM_EINVAL, err->msg);
}

const char *amp_data_dir(void) { return data_dir; }

int amp_utf8(PyObject *o, const char *what, am_str *out)
{
    if (PyUnicode_Check(o)) {
        /* An ASCII str is its own UTF-8, stored inline: read it here
         * rather than through the call (~25 instructions of a tiers
         * retrieve, callgrind, #14). */
        if (PyUnicode_IS_COMPACT_ASCII(o)) {
            out->ptr = (const char *)PyUnicode_1BYTE_DATA(o);
            out->len = (size_t)PyUnicode_GET_LENGTH(o);
            return 0;
        }
        Py_ssize_t n;
        const char *p = PyUnicode_AsUTF8AndSize(o, &n);
        if (!p) {
            PyErr_Format(PyExc_ValueError,
                         "%s: the text cannot be encoded as UTF-8 (lone "
                         "surrogate?)", what);
            return -1;
        }
        out->ptr = p;
        out->len = (size_t)n;
        return 0;
    }
    if (PyBytes_Check(o)) {
        /* Check validity without keeping a decoded copy. */
        PyObject *dec = PyUnicode_DecodeUTF8(PyBytes_AS_STRING(o),
                                             PyBytes_GET_SIZE(o), "strict");
        if (!dec) {
            PyErr_Clear();
            PyErr_Format(PyExc_ValueError, "%s: bytes are not valid UTF-8",
                         what);
            return -1;
        }
        Py_DECREF(dec);
        out->ptr = PyBytes_AS_STRING(o);
        out->len = (size_t)PyBytes_GET_SIZE(o);
        return 0;
    }
    PyErr_Format(PyExc_TypeError, "%s must be str, not %.80s", what,
                 Py_TYPE(o)->tp_name);
    return -1;
}

int amp_size(PyObject *o, const char *what, size_t dflt, size_t *out)
{
    if (!o || o == Py_None) {
        *out = dflt;
        return 0;
    }
    if (!PyLong_Check(o) || PyBool_Check(o)) {
        PyErr_Format(PyExc_TypeError, "%s must be an int, not %.80s", what,
                     Py_TYPE(o)->tp_name);
        return -1;
    }
    Py_ssize_t v = PyLong_AsSsize_t(o);
    if (v == -1 && PyErr_Occurred()) {
        PyErr_Clear();
        PyErr_Format(PyExc_ValueError, "%s is out of range", what);
        return -1;
    }
    if (v < 0) {
        PyErr_Format(PyExc_ValueError, "%s must be >= 0, not %zd", what, v);
        return -1;
    }
    *out = (size_t)v;
    return 0;
}

int amp_fast_args(PyObject *const *args, Py_ssize_t nargs,
                  PyObject *kwnames, const char *const *names, Py_ssize_t n,
                  Py_ssize_t min, const char *usage, PyObject **out)
{
    Py_ssize_t nkw = kwnames ? PyTuple_GET_SIZE(kwnames) : 0;
    if (nargs > n)
        goto bad;
    for (Py_ssize_t i = 0; i < n; i++)
        out[i] = i < nargs ? args[i] : NULL;
    for (Py_ssize_t k = 0; k < nkw; k++) {
        PyObject *key = PyTuple_GET_ITEM(kwnames, k);
        Py_ssize_t i = 0;
        while (i < n && PyUnicode_CompareWithASCIIString(key, names[i]) != 0)
            i++;
        if (i == n) {
            PyErr_Format(PyExc_TypeError, "%s: unexpected keyword "
                         "argument %R", usage, key);
            return -1;
        }
        if (out[i]) {
            PyErr_Format(PyExc_TypeError, "%s: %s given twice", usage,
                         names[i]);
            return -1;
        }
        out[i] = args[nargs + k];
    }
    for (Py_ssize_t i = 0; i < min; i++)
        if (!out[i])
            goto bad;
    return 0;
bad:
    PyErr_Format(PyExc_TypeError, "%s takes %zd to %zd arguments", usage,
                 min, n);
    return -1;
}

/* Whether s[0..len) is all ASCII, 8 bytes at a time (the last word
 * overlaps the one before it rather than ending in a byte loop). */
static int is_ascii(const char *s, size_t len)
{
    uint64_t acc = 0, w;
    size_t i;
    if (len < 8) {
        for (i = 0; i < len; i++)
            acc |= (uint8_t)s[i];
        return acc < 0x80;
    }
    for (i = 0; i + 8 < len; i += 8) {
        memcpy(&w, s + i, 8);
        acc |= w;
    }
    memcpy(&w, s + len - 8, 8);
    return ((acc | w) & 0x8080808080808080ull) == 0;
}

/* ASCII text, the common case, is copied straight into a new str:
 * PyUnicode_DecodeUTF8 took ~210 instructions for a retrieve's 45-byte
 * content, this ~110 (callgrind, #14). The result is the same compact
 * ASCII str. */
PyObject *amp_pystr(am_str s)
{
    const char *p = s.ptr ? s.ptr : "";
    if (s.len > 1 && s.len <= PY_SSIZE_T_MAX && is_ascii(p, s.len)) {
        PyObject *o = PyUnicode_New((Py_ssize_t)s.len, 127);
        if (o)
            memcpy(PyUnicode_1BYTE_DATA(o), p, s.len);
        return o;
    }
    return PyUnicode_DecodeUTF8(p, (Py_ssize_t)s.len, "replace");
}

PyObject *amp_json_dumps(PyObject *o)
{
    PyObject *args = PyTuple_Pack(1, o);
    PyObject *kw = Py_BuildValue("{s:O}", "ensure_ascii", Py_False);
    PyObject *r = NULL;
    if (args && kw)
        r = PyObject_Call(json_dumps, args, kw);
    Py_XDECREF(args);
    Py_XDECREF(kw);
    return r;
}

PyObject *amp_json_loads(am_str text)
{
    PyObject *s = amp_pystr(text);
    if (!s)
        return NULL;
    PyObject *r = PyObject_CallOneArg(json_loads, s);
    Py_DECREF(s);
    return r;
}

static PyObject *py_set_data_dir(PyObject *self, PyObject *arg)
{
    if (arg != Py_None && !PyUnicode_Check(arg))
        return PyErr_Format(PyExc_TypeError, "data_dir must be str or None");
    char *copy = NULL;
    if (arg != Py_None) {
        const char *p = PyUnicode_AsUTF8(arg);
        if (!p)
            return NULL;
        copy = strdup(p);
        if (!copy)
            return PyErr_NoMemory();
    }
    free(data_dir);
    data_dir = copy;
    Py_RETURN_NONE;
}

static PyObject *py_status_str(PyObject *self, PyObject *arg)
{
    long v = PyLong_AsLong(arg);
    if (v == -1 && PyErr_Occurred())
        return NULL;
    return PyUnicode_FromString(am_status_str((am_status)v));
}

static PyObject *py_raise_status(PyObject *self, PyObject *args)
{
    int st;
    const char *msg;
    if (!PyArg_ParseTuple(args, "is", &st, &msg))
        return NULL;
    return amp_raise((am_status)st, msg);
}

static PyMethodDef methods[] = {
    {"_set_data_dir", py_set_data_dir, METH_O,
     "Set the directory searched first for rank files (None: the "
     "library's search path)."},
    {"status_str", py_status_str, METH_O,
     "status_str(code) -> the C library's description of a status code."},
    {"_raise_status", py_raise_status, METH_VARARGS,
     "Raise the exception class of a status code (for tests)."},
    {NULL, NULL, 0, NULL}};

static struct PyModuleDef moddef = {
    PyModuleDef_HEAD_INIT, "agentmem._agentmem",
    "The C core of the agentmem package (libagentmem, linked in).", -1,
    methods, NULL, NULL, NULL, NULL};

static int intern_keys(void)
{
#define K(var, s) if (!(var = PyUnicode_InternFromString(s))) return -1
    K(amp_k_role, "role");
    K(amp_k_content, "content");
    K(amp_k_name, "name");
    K(amp_k_type, "type");
    K(amp_k_tool_calls, "tool_calls");
    K(amp_k_tool_call_id, "tool_call_id");
    K(amp_k_id, "id");
    K(amp_k_function, "function");
    K(amp_k_arguments, "arguments");
    K(amp_k_args, "args");
    K(amp_k_text, "text");
    K(amp_k_image_url, "image_url");
    K(amp_k_url, "url");
    K(amp_k_images, "images");
    K(amp_k_structured_data, "structured_data");
    K(amp_k_agent_calls, "agent_calls");
    K(amp_k_agent_name, "agent_name");
    K(amp_k_request, "request");
    K(amp_k_input, "input");
    K(amp_k_tool_use_id, "tool_use_id");
    K(amp_k_is_error, "is_error");
    K(amp_k_to_dict, "to_dict");
    K(amp_k_message_id, "message_id");
    K(amp_k_created_ms, "created_ms");
#undef K
    return 0;
}

static int add_errors(PyObject *m)
{
    errors[0] = PyErr_NewExceptionWithDoc(
        "agentmem.Error",
        "Base class of every error the C library reports. `status` is the "
        "C status code; str(e) is the C library's message.",
        NULL, NULL);
    if (!errors[0] || PyModule_AddObjectRef(m, "Error", errors[0]) < 0)
        return -1;
    for (size_t i = 0; i < sizeof error_table / sizeof error_table[0]; i++) {
        PyObject *extra = NULL;
        switch (error_table[i].st) {
        case AM_ENOMEM: extra = PyExc_MemoryError; break;
        case AM_EINVAL: extra = PyExc_ValueError; break;
        case AM_EFORMAT: extra = PyExc_ValueError; break;
        case AM_ENOTFOUND: extra = PyExc_LookupError; break;
        default: break;
        }
        PyObject *bases = extra ? PyTuple_Pack(2, errors[0], extra)
                                : PyTuple_Pack(1, errors[0]);
        if (!bases)
            return -1;
        char qual[96];
        snprintf(qual, sizeof qual, "agentmem.%s", error_table[i].name);
        PyObject *cls = PyErr_NewExceptionWithDoc(qual, error_table[i].doc,
                                                  bases, NULL);
        Py_DECREF(bases);
        if (!cls)
            return -1;
        errors[error_table[i].st] = cls;
        if (PyModule_AddObjectRef(m, error_table[i].name, cls) < 0)
            return -1;
    }
    return 0;
}

PyMODINIT_FUNC PyInit__agentmem(void)
{
    PyObject *m = PyModule_Create(&moddef);
    if (!m)
        return NULL;
    PyObject *json = PyImport_ImportModule("json");
    if (!json)
        goto fail;
    json_dumps = PyObject_GetAttrString(json, "dumps");
    json_loads = PyObject_GetAttrString(json, "loads");
    Py_DECREF(json);
    amp_msg_opts(); /* initialize before any thread can race on it */
    if (!json_dumps || !json_loads || intern_keys() < 0 ||
        add_errors(m) < 0 ||
        PyModule_AddStringConstant(m, "library_version", am_version()) < 0 ||
        amp_tokens_init(m) < 0 || amp_window_init(m) < 0 ||
        amp_wire_init(m) < 0 || amp_store_init(m) < 0 ||
        amp_tiers_init(m) < 0 || amp_memory_init(m) < 0 ||
        amp_react_init(m) < 0 || amp_tracker_init(m) < 0 ||
        amp_async_init(m) < 0)
        goto fail;
    return m;
fail:
    Py_DECREF(m);
    return NULL;
}
