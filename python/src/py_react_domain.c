/* py_react_domain.c -- a _React's domain record (react.h's custom typed
 * memory) and export/import: the record is a Python object the C memory
 * owns, turned into JSON and back by the Python serialize/deserialize the
 * caller gave set_domain_type, which the C code calls (with the GIL taken
 * back) during export, import and session save/load. */
#include "py_react.h"

#include <string.h>

/* ---- domain memory ---- */

static am_status dom_serialize(void *ctx, const void *record, am_buf *out,
                               am_error *err)
{
    ReactObject *self = ctx;
    am_status st = AM_OK;
    PyGILState_STATE g = PyGILState_Ensure();
    PyObject *data = PyObject_CallOneArg(self->dserialize,
                                         (PyObject *)record);
    PyObject *text = data ? amp_json_dumps(data) : NULL;
    Py_ssize_t n;
    const char *p = text ? PyUnicode_AsUTF8AndSize(text, &n) : NULL;
    if (!p) {
        st = amp_react_exc_to_err(AM_EINVAL, err);
    } else if (am_buf_append(out, p, (size_t)n) != AM_OK) {
        err->code = st = AM_ENOMEM;
        snprintf(err->msg, sizeof err->msg, "out of memory");
    }
    Py_XDECREF(text);
    Py_XDECREF(data);
    PyGILState_Release(g);
    return st;
}

static am_status dom_deserialize(void *ctx, am_str json, void **record,
                                 am_error *err)
{
    ReactObject *self = ctx;
    am_status st = AM_OK;
    PyGILState_STATE g = PyGILState_Ensure();
    PyObject *data = amp_json_loads(json);
    PyObject *r = data ? PyObject_CallOneArg(self->ddeserialize, data) : NULL;
    Py_XDECREF(data);
    if (!r)
        st = amp_react_exc_to_err(AM_EFORMAT, err);
    *record = r;
    PyGILState_Release(g);
    return st;
}

static void dom_free(void *ctx, void *record)
{
    PyGILState_STATE g = PyGILState_Ensure();
    Py_XDECREF((PyObject *)record);
    PyGILState_Release(g);
}

/* ---- domain memory ---- */

/* set_domain_type(name, serialize, deserialize) */
PyObject *amp_react_set_domain_type(ReactObject *self, PyObject *args)
{
    const char *name;
    PyObject *ser, *des;
    if (!PyArg_ParseTuple(args, "sOO:set_domain_type", &name, &ser, &des))
        return NULL;
    if (!*name)
        return PyErr_Format(PyExc_ValueError, "domain type name is empty");
    if (!PyCallable_Check(ser) || !PyCallable_Check(des))
        return PyErr_Format(PyExc_TypeError,
                            "serialize and deserialize must be callable");
    if (self->dname)
        return amp_raise(AM_ESTATE, "this memory already has a domain type");
    char *copy = PyMem_Malloc(strlen(name) + 1);
    if (!copy)
        return PyErr_NoMemory();
    strcpy(copy, name);
    if (amp_react_enter_write(self) < 0) {
        PyMem_Free(copy);
        return NULL;
    }
    self->dname = copy;
    self->dserialize = Py_NewRef(ser);
    self->ddeserialize = Py_NewRef(des);
    self->dtype.name = copy;
    self->dtype.serialize = dom_serialize;
    self->dtype.deserialize = dom_deserialize;
    self->dtype.free = dom_free;
    self->dtype.ctx = self;
    am_status st = am_react_set_domain_type(self->m, &self->dtype);
    PyObject *r = st == AM_OK ? Py_NewRef(Py_None) : amp_react_raise(self, st);
    amp_react_exit(self);
    return r;
}

PyObject *amp_react_set_domain(ReactObject *self, PyObject *rec)
{
    if (amp_react_enter_write(self) < 0)
        return NULL;
    /* The memory takes the reference (and frees it even on failure). */
    am_status st = am_react_set_domain(self->m, Py_NewRef(rec));
    PyObject *r = st == AM_OK ? Py_NewRef(Py_None) : amp_react_raise(self, st);
    amp_react_exit(self);
    return r;
}

PyObject *amp_react_domain(ReactObject *self, PyObject *unused)
{
    if (amp_react_enter(self) < 0)
        return NULL;
    PyObject *rec = am_react_domain(self->m);
    PyObject *r = Py_NewRef(rec ? rec : Py_None);
    amp_react_exit(self);
    return r;
}

PyObject *amp_react_domain_touched(ReactObject *self, PyObject *unused)
{
    if (amp_react_enter_write(self) < 0)
        return NULL;
    am_react_domain_touched(self->m);
    amp_react_exit(self);
    Py_RETURN_NONE;
}

/* ---- export / import ---- */

PyObject *amp_react_export(ReactObject *self, PyObject *unused)
{
    if (amp_react_enter(self) < 0)
        return NULL;
    am_buf out = AM_BUF_INIT;
    am_status st = am_react_export(self->m, &out);
    PyObject *r = st == AM_OK ? amp_pystr(am_buf_str(&out))
                              : amp_react_raise(self, st);
    amp_react_exit(self);
    am_buf_free(&out);
    return r;
}

PyObject *amp_react_import(ReactObject *self, PyObject *o)
{
    am_str text;
    if (amp_utf8(o, "memory document", &text) < 0)
        return NULL;
    if (amp_react_enter_write(self) < 0)
        return NULL;
    am_status st = am_react_import(self->m, text);
    PyObject *r = st == AM_OK ? Py_NewRef(Py_None) : amp_react_raise(self, st);
    amp_react_exit(self);
    return r;
}

