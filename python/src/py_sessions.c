/* py_sessions.c -- a directory of saved ReAct memories (sessions.h) from
 * Python: the _Sessions type under agentmem.react.SessionManager. Saving
 * and loading hold the memory's Python-side lock (py_react.c) and run
 * without the GIL. */
#include "py_react.h"

typedef struct {
    PyObject_HEAD
    am_sessions *ss;
} SessionsObject;

static int sessions_init(SessionsObject *self, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"storage_path", NULL};
    PyObject *bytes = NULL;
    if (self->ss) {
        PyErr_SetString(PyExc_RuntimeError, "already initialized");
        return -1;
    }
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O&", kwlist,
                                     PyUnicode_FSConverter, &bytes))
        return -1;
    am_error err = { AM_OK, "" };
    am_status st;
    Py_BEGIN_ALLOW_THREADS
    st = am_sessions_open(PyBytes_AS_STRING(bytes), NULL, &self->ss, &err);
    Py_END_ALLOW_THREADS
    Py_DECREF(bytes);
    if (st != AM_OK) {
        amp_raise_err(&err);
        return -1;
    }
    return 0;
}

static void sessions_dealloc(SessionsObject *self)
{
    am_sessions_close(self->ss);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static int sessions_ready(SessionsObject *self)
{
    if (!self->ss) {
        PyErr_SetString(PyExc_ValueError, "the session manager is closed");
        return -1;
    }
    return 0;
}

static PyObject *raise_sessions(SessionsObject *self, am_status st)
{
    am_error e = *am_sessions_last_error(self->ss);
    if (e.code == AM_OK)
        e.code = st;
    return amp_raise_err(&e);
}

/* save(id, memory) */
static PyObject *sessions_save(SessionsObject *self, PyObject *args)
{
    PyObject *io, *mo;
    ReactObject *mem;
    am_str id;
    if (!PyArg_ParseTuple(args, "OO:save", &io, &mo) ||
        amp_utf8(io, "session_id", &id) < 0 || amp_react_arg(mo, &mem) < 0 ||
        sessions_ready(self) < 0 || amp_react_enter(mem) < 0)
        return NULL;
    am_status st;
    /* The export calls Python only for a domain record (it takes the GIL
     * back itself), so the file write can run without the GIL. */
    Py_BEGIN_ALLOW_THREADS
    st = am_sessions_save(self->ss, id, mem->m);
    Py_END_ALLOW_THREADS
    amp_react_exit(mem);
    if (st != AM_OK)
        return raise_sessions(self, st);
    Py_RETURN_NONE;
}

/* load(id, memory) -> bool (False: no such session) */
static PyObject *sessions_load(SessionsObject *self, PyObject *args)
{
    PyObject *io, *mo;
    ReactObject *mem;
    am_str id;
    if (!PyArg_ParseTuple(args, "OO:load", &io, &mo) ||
        amp_utf8(io, "session_id", &id) < 0 || amp_react_arg(mo, &mem) < 0 ||
        sessions_ready(self) < 0 || amp_react_enter_write(mem) < 0)
        return NULL;
    am_status st;
    Py_BEGIN_ALLOW_THREADS
    st = am_sessions_load(self->ss, id, mem->m);
    Py_END_ALLOW_THREADS
    amp_react_exit(mem);
    if (st == AM_ENOTFOUND)
        Py_RETURN_FALSE;
    if (st != AM_OK)
        return raise_sessions(self, st);
    Py_RETURN_TRUE;
}

static PyObject *sessions_list(SessionsObject *self, PyObject *unused)
{
    if (sessions_ready(self) < 0)
        return NULL;
    am_buf out = AM_BUF_INIT;
    am_status st;
    Py_BEGIN_ALLOW_THREADS
    st = am_sessions_list(self->ss, &out);
    Py_END_ALLOW_THREADS
    PyObject *r = st == AM_OK ? amp_json_loads(am_buf_str(&out))
                              : raise_sessions(self, st);
    am_buf_free(&out);
    return r;
}

static PyObject *sessions_delete(SessionsObject *self, PyObject *io)
{
    am_str id;
    if (amp_utf8(io, "session_id", &id) < 0 || sessions_ready(self) < 0)
        return NULL;
    am_status st;
    Py_BEGIN_ALLOW_THREADS
    st = am_sessions_delete(self->ss, id);
    Py_END_ALLOW_THREADS
    if (st == AM_ENOTFOUND)
        Py_RETURN_FALSE;
    if (st != AM_OK)
        return raise_sessions(self, st);
    Py_RETURN_TRUE;
}

static PyObject *sessions_close(SessionsObject *self, PyObject *unused)
{
    am_sessions_close(self->ss);
    self->ss = NULL;
    Py_RETURN_NONE;
}

static PyMethodDef sessions_methods[] = {
    {"save", (PyCFunction)sessions_save, METH_VARARGS,
     "save(session_id, memory): write atomically"},
    {"load", (PyCFunction)sessions_load, METH_VARARGS,
     "load(session_id, memory) -> bool"},
    {"list", (PyCFunction)sessions_list, METH_NOARGS,
     "list() -> sorted session ids"},
    {"delete", (PyCFunction)sessions_delete, METH_O,
     "delete(session_id) -> bool"},
    {"close", (PyCFunction)sessions_close, METH_NOARGS, "Close the handle."},
    {NULL, NULL, 0, NULL}};

static PyTypeObject SessionsType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "agentmem._agentmem._Sessions",
    .tp_basicsize = sizeof(SessionsObject),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
    .tp_doc = "A directory of saved ReAct memories (am_sessions).",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)sessions_init,
    .tp_dealloc = (destructor)sessions_dealloc,
    .tp_methods = sessions_methods,
};

int amp_sessions_init(PyObject *module)
{
    if (PyType_Ready(&SessionsType) < 0 ||
        PyModule_AddObjectRef(module, "_Sessions",
                              (PyObject *)&SessionsType) < 0)
        return -1;
    return 0;
}
