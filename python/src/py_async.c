/* py_async.c -- chat calls run by libagentmem's executor (async.h), for
 * agentmem.aio: an _LLM (one am_llm client), an _Executor (one
 * am_executor: C worker threads and a completion descriptor) and the
 * _Job handles it returns.
 *
 * The point is that an LLM call neither blocks the event loop nor needs a
 * Python thread: the request is copied into the job, a C worker does the
 * HTTP call without the GIL, and the finished job lands on the executor's
 * completion queue, whose descriptor asyncio watches (loop.add_reader) and
 * reaps. A job submitted here always asks for that notification, so the
 * executor keeps the Python _Job in `pending` until reap() hands it back
 * (or close() drops them all); a _Job never refers back to its executor,
 * so there is no reference cycle.
 */
#include "py_amp.h"

#include <agentmem/async.h>

#include <string.h>

/* ---- _LLM ---- */

typedef struct {
    PyObject_HEAD
    am_llm *llm;
} LLMObject;

/* _LLM(base_url, model, api_key=None) */
static int llm_init(LLMObject *self, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"base_url", "model", "api_key", NULL};
    const char *url, *model, *key = NULL;
    if (self->llm) {
        PyErr_SetString(PyExc_RuntimeError, "already initialized");
        return -1;
    }
    if (!PyArg_ParseTupleAndKeywords(args, kw, "ss|z", kwlist, &url, &model,
                                     &key))
        return -1;
    am_llm_opts o = am_llm_opts_default();
    am_error err = { AM_OK, "" };
    o.base_url = url;
    o.model = model;
    o.api_key = key;
    if (am_llm_create(&o, &self->llm, &err) != AM_OK) {
        amp_raise_err(&err);
        return -1;
    }
    return 0;
}

static void llm_dealloc(LLMObject *self)
{
    /* Jobs hold a reference to their _LLM, so none still uses it. */
    am_llm_free(self->llm);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyTypeObject LLMType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "agentmem._agentmem._LLM",
    .tp_basicsize = sizeof(LLMObject),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "One am_llm chat client (thread-safe).",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)llm_init,
    .tp_dealloc = (destructor)llm_dealloc,
};

/* ---- _Job ---- */

typedef struct {
    PyObject_HEAD
    am_job *job;
    PyObject *llm; /* the _LLM the job borrows: kept alive until free */
} JobObject;

static PyTypeObject JobType;

static void job_dealloc(JobObject *self)
{
    if (self->job) {
        /* Nobody can read its result any more: stop it. */
        am_job_cancel(self->job);
        am_job_free(self->job);
    }
    Py_XDECREF(self->llm);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *job_done(JobObject *self, PyObject *unused)
{
    return PyBool_FromLong(am_job_status(self->job) != AM_EBUSY);
}

/* wait(timeout=None) -> bool (done); the GIL is released meanwhile. */
static PyObject *job_wait(JobObject *self, PyObject *args)
{
    PyObject *t = Py_None;
    if (!PyArg_ParseTuple(args, "|O:wait", &t))
        return NULL;
    int64_t ms = -1;
    if (t != Py_None) {
        double s = PyFloat_AsDouble(t);
        if (s == -1.0 && PyErr_Occurred())
            return NULL;
        if (!(s >= 0.0 && s < 1e9))
            return PyErr_Format(PyExc_ValueError,
                                "timeout must be None or seconds >= 0, "
                                "not %R", t);
        ms = (int64_t)(s * 1000.0);
    }
    bool done;
    Py_BEGIN_ALLOW_THREADS
    done = am_job_wait(self->job, ms);
    Py_END_ALLOW_THREADS
    return PyBool_FromLong(done);
}

/* cancel() -> bool: False when the job had already finished. */
static PyObject *job_cancel(JobObject *self, PyObject *unused)
{
    am_status st = am_job_cancel(self->job);
    if (st == AM_ESTATE)
        Py_RETURN_FALSE;
    if (st != AM_OK)
        return amp_raise(st, "cannot cancel the job");
    Py_RETURN_TRUE;
}

/* result() -> (text, info): info is a dict of the call's am_llm_result.
 * Raises the job's error (CanceledError, NetworkError, ...), or
 * StateError while it runs. */
static PyObject *job_result(JobObject *self, PyObject *unused)
{
    am_str text = {NULL, 0};
    am_llm_result res;
    memset(&res, 0, sizeof res);
    am_status st = am_job_chat_result(self->job, &text, &res);
    if (st == AM_EBUSY)
        return amp_raise(AM_ESTATE, "the job has not finished (wait for "
                                    "it or await it)");
    if (st != AM_OK) {
        am_error e = *am_job_error(self->job);
        if (e.code == AM_OK)
            e.code = st;
        return amp_raise_err(&e);
    }
    return Py_BuildValue(
        "(N{s:s,s:L,s:L,s:L,s:O,s:s,s:i,s:i,s:L})", amp_pystr(text),
        "finish_reason", res.finish_reason, "input_tokens",
        (long long)res.usage.input_tokens, "output_tokens",
        (long long)res.usage.output_tokens, "cached_tokens",
        (long long)res.usage.cached_tokens, "usage_reported",
        res.usage.reported ? Py_True : Py_False, "model", res.model,
        "http_status", res.http_status, "attempts", res.attempts,
        "elapsed_ms", (long long)res.elapsed_ms);
}

static PyMethodDef job_methods[] = {
    {"done", (PyCFunction)job_done, METH_NOARGS, "done() -> bool"},
    {"wait", (PyCFunction)job_wait, METH_VARARGS,
     "wait(timeout=None) -> bool: block (GIL released) until done"},
    {"cancel", (PyCFunction)job_cancel, METH_NOARGS,
     "cancel() -> bool: False when it had already finished"},
    {"result", (PyCFunction)job_result, METH_NOARGS,
     "result() -> (text, info), or raise the job's error"},
    {NULL, NULL, 0, NULL}};

static PyTypeObject JobType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "agentmem._agentmem._Job",
    .tp_basicsize = sizeof(JobObject),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "One chat job of an _Executor (thread-safe).",
    .tp_dealloc = (destructor)job_dealloc,
    .tp_methods = job_methods,
};

/* ---- _Executor ---- */

typedef struct {
    PyObject_HEAD
    am_executor *ex;
    PyObject *pending; /* {job address: _Job} until reaped */
} ExecObject;

/* _Executor(threads=2, max_queued=64) */
static int exec_init(ExecObject *self, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"threads", "max_queued", NULL};
    PyObject *th = Py_None, *mq = Py_None;
    if (self->ex) {
        PyErr_SetString(PyExc_RuntimeError, "already initialized");
        return -1;
    }
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|OO", kwlist, &th, &mq))
        return -1;
    am_executor_opts o = am_executor_opts_default();
    if (amp_size(th, "threads", o.threads, &o.threads) < 0 ||
        amp_size(mq, "max_queued", o.max_queued, &o.max_queued) < 0)
        return -1;
    if (!(self->pending = PyDict_New()))
        return -1;
    am_error err = { AM_OK, "" };
    am_status st;
    Py_BEGIN_ALLOW_THREADS
    st = am_executor_create(&o, &self->ex, &err);
    Py_END_ALLOW_THREADS
    if (st != AM_OK) {
        amp_raise_err(&err);
        return -1;
    }
    return 0;
}

static int exec_ready(ExecObject *self)
{
    if (!self->ex) {
        PyErr_SetString(PyExc_ValueError, "the executor is closed");
        return -1;
    }
    return 0;
}

/* Shut down: queued jobs complete cancelled, running ones are asked to
 * stop and waited for (GIL released); unreaped jobs are dropped. */
static PyObject *exec_close(ExecObject *self, PyObject *unused)
{
    am_executor *ex = self->ex;
    self->ex = NULL;
    if (ex) {
        Py_BEGIN_ALLOW_THREADS
        am_executor_free(ex);
        Py_END_ALLOW_THREADS
    }
    if (self->pending)
        PyDict_Clear(self->pending);
    Py_RETURN_NONE;
}

static void exec_dealloc(ExecObject *self)
{
    if (self->ex) {
        Py_BEGIN_ALLOW_THREADS
        am_executor_free(self->ex);
        Py_END_ALLOW_THREADS
    }
    Py_XDECREF(self->pending);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *exec_fileno(ExecObject *self, PyObject *unused)
{
    if (exec_ready(self) < 0)
        return NULL;
    return PyLong_FromLong(am_executor_fd(self->ex));
}

/* chat(llm, messages, system=None, max_tokens=None, temperature=None,
 *      notify=True) -> _Job. `messages` as everywhere in the package
 * (dicts, Messages, LangChain-style objects), sent in OpenAI form;
 * returns at once. With notify the job goes on the completion queue and
 * stays in `pending` until reaped; without, it is only waited for. */
static PyObject *exec_chat(ExecObject *self, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"llm", "messages", "system", "max_tokens",
                             "temperature", "notify", NULL};
    PyObject *llm_o, *msgs_o, *sys_o = Py_None, *mt_o = Py_None,
                                 *temp_o = Py_None;
    int notify = 1;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O!O|OOOp:chat", kwlist,
                                     &LLMType, &llm_o, &msgs_o, &sys_o,
                                     &mt_o, &temp_o, &notify) ||
        exec_ready(self) < 0)
        return NULL;
    if (!((LLMObject *)llm_o)->llm)
        return PyErr_Format(PyExc_ValueError, "the LLM client is not set up");
    am_llm_request req;
    memset(&req, 0, sizeof req);
    size_t mt = 0;
    if (amp_size(mt_o, "max_tokens", 0, &mt) < 0)
        return NULL;
    req.max_tokens = (int64_t)mt;
    if (temp_o != Py_None) {
        req.temperature = PyFloat_AsDouble(temp_o);
        if (req.temperature == -1.0 && PyErr_Occurred())
            return NULL;
        if (!(req.temperature >= 0.0 && req.temperature <= 2.0))
            return PyErr_Format(PyExc_ValueError,
                                "temperature must be in [0, 2], not %R",
                                temp_o);
        req.has_temperature = true;
    }
    if (sys_o != Py_None && amp_utf8(sys_o, "system", &req.system) < 0)
        return NULL;
    /* Convert (checking every message) and send as OpenAI JSON. */
    amp_msgs msgs = {0};
    if (amp_msgs_from_py(msgs_o, "messages", &msgs) < 0)
        return NULL;
    if (msgs.count == 0 && req.system.len == 0) {
        amp_msgs_free(&msgs);
        return PyErr_Format(PyExc_ValueError,
                            "messages is empty and there is no system "
                            "prompt: nothing to send");
    }
    PyObject *list = PyList_New((Py_ssize_t)msgs.count);
    for (size_t i = 0; list && i < msgs.count; i++) {
        PyObject *d = amp_msg_to_dict(msgs.items[i]);
        if (!d) {
            Py_CLEAR(list);
            break;
        }
        PyList_SET_ITEM(list, (Py_ssize_t)i, d);
    }
    amp_msgs_free(&msgs);
    PyObject *json = list ? amp_json_dumps(list) : NULL;
    Py_XDECREF(list);
    if (!json || amp_utf8(json, "messages", &req.messages_json) < 0) {
        Py_XDECREF(json);
        return NULL;
    }
    JobObject *job = PyObject_New(JobObject, &JobType);
    if (!job) {
        Py_DECREF(json);
        return NULL;
    }
    job->job = NULL;
    job->llm = Py_NewRef(llm_o);
    am_job_opts jo = {0};
    jo.notify = notify != 0;
    am_status st;
    /* The request is copied by the submit, so `json` may go after it. */
    Py_BEGIN_ALLOW_THREADS
    st = am_llm_chat_submit(self->ex, ((LLMObject *)llm_o)->llm, &req, &jo,
                            &job->job);
    Py_END_ALLOW_THREADS
    Py_DECREF(json);
    if (st != AM_OK) {
        am_error e = *am_executor_last_error(self->ex);
        if (e.code == AM_OK)
            e.code = st;
        Py_DECREF(job);
        return amp_raise_err(&e);
    }
    if (!notify)
        return (PyObject *)job;
    PyObject *key = PyLong_FromVoidPtr(job->job);
    if (!key || PyDict_SetItem(self->pending, key, (PyObject *)job) < 0) {
        Py_XDECREF(key);
        Py_DECREF(job);
        return NULL;
    }
    Py_DECREF(key);
    return (PyObject *)job;
}

/* reap() -> [_Job]: the finished jobs, in completion order; never
 * blocks. */
static PyObject *exec_reap(ExecObject *self, PyObject *unused)
{
    if (exec_ready(self) < 0)
        return NULL;
    PyObject *out = PyList_New(0);
    am_job *done[64];
    size_t n;
    while (out && (n = am_executor_reap(self->ex, done, 64)) > 0) {
        for (size_t i = 0; out && i < n; i++) {
            PyObject *key = PyLong_FromVoidPtr(done[i]);
            PyObject *job = key ? PyDict_GetItemWithError(self->pending, key)
                                : NULL;
            if (job && PyList_Append(out, job) < 0)
                Py_CLEAR(out);
            else if (job && PyDict_DelItem(self->pending, key) < 0)
                Py_CLEAR(out);
            else if (!job && PyErr_Occurred())
                Py_CLEAR(out);
            Py_XDECREF(key);
        }
        if (n < 64)
            break;
    }
    return out;
}

static PyObject *exec_pending(ExecObject *self, PyObject *unused)
{
    return PyLong_FromSsize_t(self->pending ? PyDict_GET_SIZE(self->pending)
                                            : 0);
}

static PyMethodDef exec_methods[] = {
    {"chat", (PyCFunction)(void (*)(void))exec_chat,
     METH_VARARGS | METH_KEYWORDS,
     "chat(llm, messages, system=None, max_tokens=None, temperature=None) "
     "-> _Job"},
    {"reap", (PyCFunction)exec_reap, METH_NOARGS, "reap() -> [_Job]"},
    {"fileno", (PyCFunction)exec_fileno, METH_NOARGS,
     "fileno() -> the completion descriptor (watch it for reading)"},
    {"pending", (PyCFunction)exec_pending, METH_NOARGS,
     "pending() -> jobs submitted and not yet reaped"},
    {"close", (PyCFunction)exec_close, METH_NOARGS, "close()"},
    {NULL, NULL, 0, NULL}};

static PyTypeObject ExecType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "agentmem._agentmem._Executor",
    .tp_basicsize = sizeof(ExecObject),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "One am_executor (thread-safe calls, GIL-serialized state).",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)exec_init,
    .tp_dealloc = (destructor)exec_dealloc,
    .tp_methods = exec_methods,
};

int amp_async_init(PyObject *module)
{
    if (PyType_Ready(&LLMType) < 0 || PyType_Ready(&JobType) < 0 ||
        PyType_Ready(&ExecType) < 0 ||
        PyModule_AddObjectRef(module, "_LLM", (PyObject *)&LLMType) < 0 ||
        PyModule_AddObjectRef(module, "_Executor", (PyObject *)&ExecType) < 0)
        return -1;
    return 0;
}
