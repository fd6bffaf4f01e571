/* py_tracker.c -- the token and cost tracker (tokens.h's am_token_tracker)
 * from Python: the _Tracker type under agentmem.compression.TokenTracker.
 *
 * The tracker has its own mutex and every call is short, so the calls keep
 * the GIL. A budget callback is a Python callable, called from inside the
 * record that crossed the budget (on the recording thread, GIL held); an
 * exception it raises is re-raised by that record call, which has still
 * been recorded.
 */
#include "py_amp.h"

#include <string.h>

typedef struct {
    PyObject_HEAD
    am_token_tracker *t;
    PyObject *on_budget;
    /* What on_budget raised, re-raised when the record call returns. */
    PyObject *exc, *exc_val, *exc_tb;
} TrackerObject;

static PyObject *stats_dict(const am_tracker_stats *s)
{
    return Py_BuildValue(
        "{s:L,s:L,s:L,s:L,s:L,s:L,s:L,s:L,s:d,s:L,s:d,s:L,s:d,s:L,s:d,"
        "s:d,s:d,s:L,s:O,s:d}",
        "calls", (long long)s->calls, "reported_calls",
        (long long)s->reported_calls, "estimated_calls",
        (long long)s->estimated_calls, "unknown_model_calls",
        (long long)s->unknown_model_calls, "input_tokens",
        (long long)s->input_tokens, "cached_input_tokens",
        (long long)s->cached_input_tokens, "output_tokens",
        (long long)s->output_tokens, "total_tokens",
        (long long)s->total_tokens, "cost", s->cost, "tokens_saved",
        (long long)s->tokens_saved, "savings", s->savings,
        "compression_tokens", (long long)s->compression_tokens,
        "compression_cost", s->compression_cost, "net_tokens_saved",
        (long long)s->net_tokens_saved, "net_savings", s->net_savings,
        "savings_percent", s->savings_percent, "budget", s->budget,
        "budget_tokens", (long long)s->budget_tokens, "over_budget",
        s->over_budget ? Py_True : Py_False, "estimated_cost",
        s->estimated_cost);
}

static void budget_tramp(void *ctx, const am_tracker_stats *stats)
{
    TrackerObject *self = ctx;
    PyGILState_STATE g = PyGILState_Ensure();
    PyObject *d = stats_dict(stats);
    PyObject *r = d ? PyObject_CallOneArg(self->on_budget, d) : NULL;
    Py_XDECREF(d);
    if (r)
        Py_DECREF(r);
    else if (!self->exc)
        PyErr_Fetch(&self->exc, &self->exc_val, &self->exc_tb);
    else
        PyErr_Clear();
    PyGILState_Release(g);
}

/* _Tracker(budget=0.0, budget_tokens=0, on_budget=None) */
static int tracker_init(TrackerObject *self, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"budget", "budget_tokens", "on_budget", NULL};
    double budget = 0;
    PyObject *bt = Py_None, *cb = Py_None;
    if (self->t) {
        PyErr_SetString(PyExc_RuntimeError, "already initialized");
        return -1;
    }
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|dOO", kwlist, &budget, &bt,
                                     &cb))
        return -1;
    am_tracker_opts o = am_tracker_opts_default();
    size_t tokens;
    if (amp_size(bt, "budget_tokens", 0, &tokens) < 0)
        return -1;
    if (tokens > (size_t)INT64_MAX) {
        PyErr_SetString(PyExc_ValueError, "budget_tokens is out of range");
        return -1;
    }
    if (cb != Py_None) {
        if (!PyCallable_Check(cb)) {
            PyErr_Format(PyExc_TypeError,
                         "on_budget must be callable, not %.80s",
                         Py_TYPE(cb)->tp_name);
            return -1;
        }
        self->on_budget = Py_NewRef(cb);
        o.on_budget = budget_tramp;
        o.on_budget_ctx = self;
    }
    o.budget = budget;
    o.budget_tokens = (int64_t)tokens;
    am_error err = { AM_OK, "" };
    if (am_token_tracker_create(&o, &self->t, &err) != AM_OK) {
        amp_raise_err(&err);
        return -1;
    }
    return 0;
}

static void tracker_dealloc(TrackerObject *self)
{
    am_token_tracker_free(self->t);
    Py_CLEAR(self->on_budget);
    Py_CLEAR(self->exc);
    Py_CLEAR(self->exc_val);
    Py_CLEAR(self->exc_tb);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

/* After a call that may have run on_budget: re-raise what it raised. */
static PyObject *done(TrackerObject *self, am_status st)
{
    if (st != AM_OK) {
        am_error e = *am_token_tracker_last_error(self->t);
        if (e.code == AM_OK)
            e.code = st;
        return amp_raise_err(&e);
    }
    if (self->exc) {
        PyErr_Restore(self->exc, self->exc_val, self->exc_tb);
        self->exc = self->exc_val = self->exc_tb = NULL;
        return NULL;
    }
    Py_RETURN_NONE;
}

static int int64_arg(PyObject *o, const char *what, int64_t *out)
{
    size_t v;
    if (amp_size(o, what, 0, &v) < 0)
        return -1;
    if (v > (size_t)INT64_MAX) {
        PyErr_Format(PyExc_ValueError, "%s is out of range", what);
        return -1;
    }
    *out = (int64_t)v;
    return 0;
}

/* record(model, input_tokens, output_tokens, cached_input_tokens=0,
 *        estimated=False, compression=False) */
static PyObject *tracker_record(TrackerObject *self, PyObject *args,
                                PyObject *kw)
{
    static char *kwlist[] = {"model", "input_tokens", "output_tokens",
                             "cached_input_tokens", "estimated",
                             "compression", NULL};
    PyObject *mo, *io, *oo, *co = Py_None;
    int est = 0, comp = 0;
    am_usage_record u = {0};
    if (!PyArg_ParseTupleAndKeywords(args, kw, "OOO|Opp", kwlist, &mo, &io,
                                     &oo, &co, &est, &comp) ||
        amp_utf8(mo, "model", &u.model) < 0 ||
        int64_arg(io, "input_tokens", &u.input_tokens) < 0 ||
        int64_arg(oo, "output_tokens", &u.output_tokens) < 0 ||
        int64_arg(co, "cached_input_tokens", &u.cached_input_tokens) < 0)
        return NULL;
    u.estimated = est;
    u.compression = comp;
    return done(self, am_token_tracker_record(self->t, &u));
}

/* record_text(model, input_text, output_text): count both with the
 * model's tokenizer and record them as an estimated call. */
static PyObject *tracker_record_text(TrackerObject *self, PyObject *args)
{
    PyObject *mo, *io, *oo;
    am_str in, out;
    if (!PyArg_ParseTuple(args, "OOO:record_text", &mo, &io, &oo) ||
        amp_utf8(io, "input", &in) < 0 || amp_utf8(oo, "output", &out) < 0)
        return NULL;
    const am_tokenizer *tz = amp_tokenizer(mo);
    if (!tz)
        return NULL;
    return done(self, am_token_tracker_record_text(self->t, tz, in, out));
}

/* credit_savings(model, tokens) */
static PyObject *tracker_credit(TrackerObject *self, PyObject *args)
{
    PyObject *mo, *no;
    am_str model;
    int64_t n;
    if (!PyArg_ParseTuple(args, "OO:credit_savings", &mo, &no) ||
        amp_utf8(mo, "model", &model) < 0 || int64_arg(no, "tokens", &n) < 0)
        return NULL;
    return done(self, am_token_tracker_credit_savings(self->t, model, n));
}

static PyObject *tracker_stats(TrackerObject *self, PyObject *unused)
{
    am_tracker_stats s;
    am_token_tracker_stats(self->t, &s);
    return stats_dict(&s);
}

static PyObject *tracker_stats_json(TrackerObject *self, PyObject *unused)
{
    am_buf b = AM_BUF_INIT;
    am_status st = am_token_tracker_stats_json(self->t, &b);
    PyObject *r = st == AM_OK ? amp_json_loads(am_buf_str(&b))
                              : done(self, st);
    am_buf_free(&b);
    return r;
}

static PyObject *tracker_reset(TrackerObject *self, PyObject *unused)
{
    am_token_tracker_reset(self->t);
    Py_RETURN_NONE;
}

static PyMethodDef tracker_methods[] = {
    {"record", (PyCFunction)(void (*)(void))tracker_record,
     METH_VARARGS | METH_KEYWORDS,
     "record(model, input_tokens, output_tokens, cached_input_tokens=0, "
     "estimated=False, compression=False)"},
    {"record_text", (PyCFunction)tracker_record_text, METH_VARARGS,
     "record_text(model, input, output): count and record (estimated)"},
    {"credit_savings", (PyCFunction)tracker_credit, METH_VARARGS,
     "credit_savings(model, tokens)"},
    {"stats", (PyCFunction)tracker_stats, METH_NOARGS, "stats() -> dict"},
    {"stats_json", (PyCFunction)tracker_stats_json, METH_NOARGS,
     "stats_json() -> dict with per-model rows"},
    {"reset", (PyCFunction)tracker_reset, METH_NOARGS,
     "Forget everything recorded (the budget stays)."},
    {NULL, NULL, 0, NULL}};

static PyTypeObject TrackerType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "agentmem._agentmem._Tracker",
    .tp_basicsize = sizeof(TrackerObject),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
    .tp_doc = "An am_token_tracker (thread-safe).",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)tracker_init,
    .tp_dealloc = (destructor)tracker_dealloc,
    .tp_methods = tracker_methods,
};

am_token_tracker *amp_tracker_of(PyObject *o)
{
    if (!PyObject_TypeCheck(o, &TrackerType) ||
        !((TrackerObject *)o)->t) {
        PyErr_Format(PyExc_TypeError,
                     "tracker must be an agentmem.compression.TokenTracker, "
                     "not %.80s", Py_TYPE(o)->tp_name);
        return NULL;
    }
    return ((TrackerObject *)o)->t;
}

int amp_tracker_init(PyObject *module)
{
    if (PyType_Ready(&TrackerType) < 0)
        return -1;
    return PyModule_AddObjectRef(module, "_Tracker",
                                 (PyObject *)&TrackerType);
}
