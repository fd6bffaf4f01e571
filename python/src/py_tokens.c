/* py_tokens.c -- token counting from Python: count_tokens (exact, a text or a
 * message list), count_tokens_approximate, get_context_limit, model_info,
 * and the module's cache of shared tokenizers (one per model name; an
 * am_tokenizer is immutable, so every thread may use it at once). */
#include "py_amp.h"

#include <string.h>

/* model name (str) -> capsule holding an am_tokenizer *. Touched only with
 * the GIL held. */
static PyObject *cache;
static PyObject *default_model; /* "gpt-4o" */

static void tokenizer_capsule_free(PyObject *cap)
{
    am_tokenizer_free(PyCapsule_GetPointer(cap, "am_tokenizer"));
}

const am_tokenizer *amp_tokenizer(PyObject *model)
{
    if (!model || model == Py_None)
        model = default_model;
    if (!PyUnicode_CheckExact(model)) {
        if (!PyUnicode_Check(model)) {
            PyErr_Format(PyExc_TypeError, "model must be str, not %.80s",
                         Py_TYPE(model)->tp_name);
            return NULL;
        }
    }
    PyObject *cap = PyDict_GetItemWithError(cache, model);
    if (cap)
        return PyCapsule_GetPointer(cap, "am_tokenizer");
    if (PyErr_Occurred())
        return NULL;
    am_str name;
    if (amp_utf8(model, "model", &name) < 0)
        return NULL;
    am_tokenizer_opts o = am_tokenizer_opts_default();
    o.data_dir = amp_data_dir();
    am_tokenizer *tz = NULL;
    am_error err = { AM_OK, "" };
    am_status st;
    /* Opening reads a rank file: let other threads run meanwhile. */
    Py_BEGIN_ALLOW_THREADS
    st = am_tokenizer_create(name, &o, &tz, &err);
    Py_END_ALLOW_THREADS
    if (st != AM_OK)
        return amp_raise_err(&err), NULL;
    /* Another thread may have opened the same model meanwhile. */
    cap = PyDict_GetItemWithError(cache, model);
    if (cap) {
        am_tokenizer_free(tz);
        return PyCapsule_GetPointer(cap, "am_tokenizer");
    }
    cap = PyCapsule_New(tz, "am_tokenizer", tokenizer_capsule_free);
    if (!cap) {
        am_tokenizer_free(tz);
        return NULL;
    }
    int rc = PyDict_SetItem(cache, model, cap);
    Py_DECREF(cap);
    return rc < 0 ? NULL : tz;
}

/* The sum of am_count_msg over converted messages (tokenizer NULL: the
 * estimate), with the GIL released. */
static PyObject *count_msgs(PyObject *seq, const am_tokenizer *tz)
{
    amp_msgs m = {0};
    if (amp_msgs_from_py(seq, "messages", &m) < 0)
        return NULL;
    am_counter c = {0};
    c.tokenizer = tz;
    size_t total = 0;
    am_status st = AM_OK;
    am_error err = { AM_OK, "" };
    Py_BEGIN_ALLOW_THREADS
    for (size_t i = 0; i < m.count && st == AM_OK; i++) {
        size_t n = 0;
        st = am_count_msg(tz ? &c : NULL, m.items[i], &n, &err);
        total += n;
    }
    Py_END_ALLOW_THREADS
    amp_msgs_free(&m);
    if (st != AM_OK)
        return amp_raise_err(&err);
    return PyLong_FromSize_t(total);
}

static PyObject *count_text(const am_tokenizer *tz, am_str text)
{
    size_t n = 0;
    am_error err = { AM_OK, "" };
    am_status st;
    if (text.len >= AMP_GIL_RELEASE_BYTES) {
        Py_BEGIN_ALLOW_THREADS
        st = am_tokenizer_count(tz, text, NULL, &n, &err);
        Py_END_ALLOW_THREADS
    } else {
        st = am_tokenizer_count(tz, text, NULL, &n, &err);
    }
    if (st != AM_OK)
        return amp_raise_err(&err);
    return PyLong_FromSize_t(n);
}

/* count_tokens(messages_or_text, model="gpt-4o") -- vectorcall, because
 * its per-call overhead is part of the benchmark. */
static PyObject *py_count_tokens(PyObject *self, PyObject *const *args,
                                 Py_ssize_t nargs, PyObject *kwnames)
{
    PyObject *what = NULL, *model = NULL;
    Py_ssize_t nkw = kwnames ? PyTuple_GET_SIZE(kwnames) : 0;
    if (nargs < 1 || nargs > 2)
        goto usage;
    what = args[0];
    if (nargs == 2)
        model = args[1];
    for (Py_ssize_t i = 0; i < nkw; i++) {
        PyObject *k = PyTuple_GET_ITEM(kwnames, i);
        if (PyUnicode_CompareWithASCIIString(k, "model") != 0 || model)
            goto usage;
        model = args[nargs + i];
    }
    const am_tokenizer *tz = amp_tokenizer(model);
    if (!tz)
        return NULL;
    if (PyUnicode_Check(what) || PyBytes_Check(what)) {
        am_str text;
        if (amp_utf8(what, "text", &text) < 0)
            return NULL;
        return count_text(tz, text);
    }
    return count_msgs(what, tz);
usage:
    PyErr_SetString(PyExc_TypeError,
                    "count_tokens(messages_or_text, model=None) takes one "
                    "text or message list and an optional model name");
    return NULL;
}

static PyObject *py_count_tokens_approximate(PyObject *self, PyObject *what)
{
    if (PyUnicode_Check(what) || PyBytes_Check(what)) {
        am_str text;
        if (amp_utf8(what, "text", &text) < 0)
            return NULL;
        return PyLong_FromSize_t(am_tokens_approx(text));
    }
    return count_msgs(what, NULL);
}

static int lookup(PyObject *model, am_model_info *info)
{
    am_str name;
    if (amp_utf8(model, "model", &name) < 0)
        return -1;
    am_models_lookup(NULL, name, info);
    return 0;
}

static PyObject *py_get_context_limit(PyObject *self, PyObject *model)
{
    am_model_info info;
    if (lookup(model, &info) < 0)
        return NULL;
    return PyLong_FromLongLong(info.context_window);
}

static PyObject *py_model_info(PyObject *self, PyObject *model)
{
    am_model_info info;
    if (lookup(model, &info) < 0)
        return NULL;
    /* The provenance fields: None when the catalog records no source. */
    return Py_BuildValue(
        "{s:s,s:s,s:z,s:d,s:L,s:L,s:d,s:d,s:d,s:O,s:z,s:z,s:z,s:z}", "name",
        info.name ? info.name : "", "provider",
        info.provider ? info.provider : "", "encoding", info.encoding,
        "chars_per_token", info.chars_per_token, "context_window",
        (long long)info.context_window, "max_output",
        (long long)info.max_output, "input_per_mtok", info.input_per_mtok,
        "output_per_mtok", info.output_per_mtok, "cached_input_per_mtok",
        info.cached_input_per_mtok, "known",
        info.known ? Py_True : Py_False, "price_source", info.price_source,
        "price_checked", info.price_checked, "limits_source",
        info.limits_source, "limits_checked", info.limits_checked);
}

static PyObject *py_encode(PyObject *self, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"text", "model", NULL};
    PyObject *text_o, *model = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O|O", kwlist, &text_o,
                                     &model))
        return NULL;
    const am_tokenizer *tz = amp_tokenizer(model);
    am_str text;
    if (!tz || amp_utf8(text_o, "text", &text) < 0)
        return NULL;
    am_tokens toks = AM_TOKENS_INIT;
    am_error err = { AM_OK, "" };
    am_status st;
    Py_BEGIN_ALLOW_THREADS
    st = am_tokenizer_encode(tz, text, NULL, &toks, &err);
    Py_END_ALLOW_THREADS
    if (st != AM_OK) {
        am_tokens_free(&toks);
        return amp_raise_err(&err);
    }
    PyObject *list = PyList_New((Py_ssize_t)toks.count);
    for (size_t i = 0; list && i < toks.count; i++) {
        PyObject *v = PyLong_FromUnsignedLong(toks.ids[i]);
        if (!v) {
            Py_CLEAR(list);
            break;
        }
        PyList_SET_ITEM(list, (Py_ssize_t)i, v);
    }
    am_tokens_free(&toks);
    return list;
}

static PyMethodDef methods[] = {
    {"count_tokens", (PyCFunction)(void (*)(void))py_count_tokens,
     METH_FASTCALL | METH_KEYWORDS,
     "count_tokens(messages_or_text, model=None) -> int\n\n"
     "Exact token count of a text, or of a message list, for model "
     "(default gpt-4o): OpenAI models with their tiktoken encoding, others "
     "by the catalog's rule. A message costs 3 + tokens(role) + "
     "tokens(text), the measure trim_messages uses. TypeError/ValueError "
     "for bad input; agentmem.Error subclasses from the C library. "
     "Thread-safe; the GIL is released for large input."},
    {"count_tokens_approximate", py_count_tokens_approximate, METH_O,
     "count_tokens_approximate(messages_or_text) -> int\n\n"
     "About one token per 4 bytes (ceil); a message adds 3. Thread-safe."},
    {"get_context_limit", py_get_context_limit, METH_O,
     "get_context_limit(model) -> int: the model's context window from the "
     "built-in catalog (exact name, else longest prefix, else the default)."},
    {"model_info", py_model_info, METH_O,
     "model_info(model) -> dict: the model's catalog entry."},
    {"encode", (PyCFunction)(void (*)(void))py_encode,
     METH_VARARGS | METH_KEYWORDS,
     "encode(text, model=None) -> list[int]: token ids (tiktoken's)."},
    {NULL, NULL, 0, NULL}};

int amp_tokens_init(PyObject *module)
{
    cache = PyDict_New();
    default_model = PyUnicode_InternFromString("gpt-4o");
    if (!cache || !default_model)
        return -1;
    return PyModule_AddFunctions(module, methods);
}
