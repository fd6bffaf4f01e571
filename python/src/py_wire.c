/* py_wire.c -- messages to and from JSON text in agentmem's own format and
 * the OpenAI and Anthropic wire formats (am_msgs_to_json /
 * am_msgs_from_json), for agentmem.conversation. */
#include "py_amp.h"

#include <string.h>

static int parse_format(const char *name, am_format *fmt)
{
    am_error err = { AM_OK, "" };
    if (am_format_parse((am_str){name, strlen(name)}, fmt, &err) != AM_OK) {
        PyErr_Format(PyExc_ValueError, "format: %s", err.msg);
        return -1;
    }
    return 0;
}

/* to_json(messages, format="agentmem", pretty=False, portable=False)
 * -> str */
static PyObject *py_to_json(PyObject *self, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"messages", "format", "pretty", "portable",
                             NULL};
    PyObject *seq;
    const char *fname = "agentmem";
    int pretty = 0, portable = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O|spp", kwlist, &seq, &fname,
                                     &pretty, &portable))
        return NULL;
    am_format fmt;
    amp_msgs m;
    if (parse_format(fname, &fmt) < 0 ||
        amp_msgs_from_py(seq, "messages", &m) < 0)
        return NULL;
    unsigned flags = (pretty ? AM_JSON_PRETTY : 0u) |
                     (portable ? AM_WIRE_PORTABLE : 0u);
    am_buf out = AM_BUF_INIT;
    am_error err = { AM_OK, "" };
    am_status st;
    Py_BEGIN_ALLOW_THREADS
    st = am_msgs_to_json((const am_msg *const *)m.items, m.count, fmt, flags,
                         &out, &err);
    Py_END_ALLOW_THREADS
    amp_msgs_free(&m);
    PyObject *r = st == AM_OK ? amp_pystr(am_buf_str(&out))
                              : amp_raise_err(&err);
    am_buf_free(&out);
    return r;
}

/* from_json(text, format="agentmem") -> list of agentmem-format dicts
 * (the lossless form: id, role, created_ms, content, ...). */
static PyObject *py_from_json(PyObject *self, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"text", "format", NULL};
    PyObject *text_o;
    const char *fname = "agentmem";
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O|s", kwlist, &text_o,
                                     &fname))
        return NULL;
    am_format fmt;
    am_str text;
    if (parse_format(fname, &fmt) < 0 || amp_utf8(text_o, "text", &text) < 0)
        return NULL;
    am_msg_list list = AM_MSG_LIST_INIT;
    am_buf out = AM_BUF_INIT;
    am_error err = { AM_OK, "" };
    am_status st;
    Py_BEGIN_ALLOW_THREADS
    st = am_msgs_from_json(NULL, fmt, text, &list, &err);
    if (st == AM_OK)
        st = am_msgs_to_json(am_msg_list_items(&list), list.count,
                             AM_FORMAT_AGENTMEM, 0, &out, &err);
    Py_END_ALLOW_THREADS
    am_msg_list_free(&list);
    PyObject *r = st == AM_OK ? amp_json_loads(am_buf_str(&out))
                              : amp_raise_err(&err);
    am_buf_free(&out);
    return r;
}

/* message_json(message) -> the agentmem JSON object of one message, as a
 * dict (validating it the way the C library does). */
static PyObject *py_message_dict(PyObject *self, PyObject *o)
{
    am_msg *msg;
    if (amp_msg_from_py(o, 0, &msg) < 0)
        return NULL;
    am_buf out = AM_BUF_INIT;
    am_error err = { AM_OK, "" };
    am_status st = am_msg_validate(msg, &err);
    if (st == AM_OK)
        st = am_msg_to_json(msg, &out, &err);
    am_msg_free(msg);
    PyObject *r = st == AM_OK ? amp_json_loads(am_buf_str(&out))
                              : amp_raise_err(&err);
    am_buf_free(&out);
    return r;
}

static PyMethodDef methods[] = {
    {"to_json", (PyCFunction)(void (*)(void))py_to_json,
     METH_VARARGS | METH_KEYWORDS, NULL},
    {"from_json", (PyCFunction)(void (*)(void))py_from_json,
     METH_VARARGS | METH_KEYWORDS, NULL},
    {"message_dict", py_message_dict, METH_O, NULL},
    {NULL, NULL, 0, NULL}};

int amp_wire_init(PyObject *module)
{
    return PyModule_AddFunctions(module, methods);
}
