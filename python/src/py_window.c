/* py_window.c -- the context window from Python: trim, summarize and the
 * summarization middleware (window.h), with summarizers that are the
 * offline one, a Python callable (called from C with the GIL taken back)
 * or an OpenAI-compatible server (am_llm). */
#include "py_amp.h"

#include <string.h>

/* ---- Summarizers ---- */

static am_status pysum_run(void *ctx, am_str prev,
                           const am_msg *const *msgs, size_t count,
                           size_t budget, am_buf *out, am_error *err)
{
    amp_pysum *ps = ctx;
    am_status st = AM_ECANCELED;
    PyGILState_STATE g = PyGILState_Ensure();
    PyObject *list = PyList_New((Py_ssize_t)count), *r = NULL;
    for (size_t i = 0; list && i < count; i++) {
        PyObject *d = amp_msg_to_dict(msgs[i]);
        if (!d) {
            Py_CLEAR(list);
            break;
        }
        PyList_SET_ITEM(list, (Py_ssize_t)i, d);
    }
    PyObject *p = list ? amp_pystr(prev) : NULL;
    if (p)
        r = PyObject_CallFunction(ps->fn, "OOn", p, list, (Py_ssize_t)budget);
    Py_XDECREF(p);
    Py_XDECREF(list);
    if (r && !PyUnicode_Check(r)) {
        PyErr_Format(PyExc_TypeError,
                     "the summarizer must return a str, not %.80s",
                     Py_TYPE(r)->tp_name);
        Py_CLEAR(r);
    }
    if (r) {
        Py_ssize_t n;
        const char *s = PyUnicode_AsUTF8AndSize(r, &n);
        if (s) {
            out->len = 0;
            st = am_buf_append(out, s, (size_t)n);
            if (st != AM_OK)
                snprintf(err->msg, sizeof err->msg, "out of memory");
        }
        Py_DECREF(r);
    }
    if (PyErr_Occurred()) {
        if (!ps->exc)
            PyErr_Fetch(&ps->exc, &ps->exc_val, &ps->exc_tb);
        else
            PyErr_Clear();
        st = AM_ECANCELED;
        snprintf(err->msg, sizeof err->msg, "the Python summarizer raised");
    }
    if (st != AM_OK)
        err->code = st;
    PyGILState_Release(g);
    return st;
}

static const am_summarizer_vtable pysum_vt = {"python", pysum_run, NULL,
                                              NULL};

void amp_summ_free(amp_summ *sm)
{
    am_summarizer_free(sm->s);
    am_llm_free(sm->llm);
    Py_CLEAR(sm->py.fn);
    Py_CLEAR(sm->py.exc);
    Py_CLEAR(sm->py.exc_val);
    Py_CLEAR(sm->py.exc_tb);
    memset(sm, 0, sizeof *sm);
}

/* Set up `sm` from the arguments: a callable, or a base URL (+ model, key),
 * or neither (offline). */
int amp_summ_init(amp_summ *sm, PyObject *fn, const char *base_url,
                     const char *llm_model, const char *api_key,
                     size_t context_tokens)
{
    memset(sm, 0, sizeof *sm);
    am_error err = { AM_OK, "" };
    if (fn && fn != Py_None) {
        if (!PyCallable_Check(fn)) {
            PyErr_SetString(PyExc_TypeError, "summarizer must be callable");
            return -1;
        }
        sm->py.fn = Py_NewRef(fn);
        am_summarizer_opts so = am_summarizer_opts_default();
        so.input_limit = context_tokens;
        if (am_summarizer_create(&pysum_vt, &sm->py, &so, &sm->s, &err) !=
            AM_OK) {
            amp_summ_free(sm);
            amp_raise_err(&err);
            return -1;
        }
        return 0;
    }
    if (base_url) {
        am_llm_opts o = am_llm_opts_default();
        o.base_url = base_url;
        o.model = llm_model ? llm_model : "gpt-4o-mini";
        o.api_key = api_key;
        if (am_llm_create(&o, &sm->llm, &err) != AM_OK) {
            amp_raise_err(&err);
            return -1;
        }
        am_llm_summarizer_opts so = {0};
        so.context_tokens = context_tokens;
        if (am_summarizer_llm(sm->llm, &so, &sm->s, &err) != AM_OK) {
            amp_summ_free(sm);
            amp_raise_err(&err);
            return -1;
        }
    }
    return 0;
}

/* Raise what a summarizing call failed with: the Python summarizer's own
 * exception when it raised one, else the C error. */
PyObject *amp_summ_raise(amp_summ *sm, const am_error *err)
{
    if (sm->py.exc) {
        PyErr_Restore(sm->py.exc, sm->py.exc_val, sm->py.exc_tb);
        sm->py.exc = sm->py.exc_val = sm->py.exc_tb = NULL;
        return NULL;
    }
    return amp_raise_err(err);
}

/* ---- Counting model ---- */

/* Fill `c` for `model`: None or "estimate" leaves it empty (the estimate),
 * a name uses the module's shared tokenizer for it. */
static int counter_for(PyObject *model, am_counter *c)
{
    memset(c, 0, sizeof *c);
    if (!model || model == Py_None)
        return 0;
    if (PyUnicode_Check(model) &&
        (PyUnicode_CompareWithASCIIString(model, "estimate") == 0 ||
         PyUnicode_GET_LENGTH(model) == 0))
        return 0;
    c->tokenizer = amp_tokenizer(model);
    return c->tokenizer ? 0 : -1;
}

static int role_of(const char *name, int *out)
{
    if (!name) {
        *out = -1;
        return 0;
    }
    am_role r;
    am_error err = { AM_OK, "" };
    if (am_role_parse((am_str){name, strlen(name)}, &r, &err) != AM_OK) {
        PyErr_Format(PyExc_ValueError, "end_on_role: %s", err.msg);
        return -1;
    }
    *out = (int)r;
    return 0;
}

/* ---- trim ---- */

/* ---- Lazy trimming ----
 *
 * Converting a message from Python costs more than trimming it in C (10,000
 * OpenAI-style dicts: about 14 ms to convert, 0.5 ms to trim), and keeping
 * the newest messages rarely needs the old ones. So for the strategies that
 * keep the newest messages, messages are converted from the end until the
 * ones converted exceed a limit (their tokens, or their count), back to a
 * user message (which always starts its own turn group); of the older ones
 * only the roles are read, and only system messages are converted (they
 * are kept whatever their age). am_trim then runs on that sub-list.
 *
 * This selects what a trim of the whole list selects: am_trim keeps the
 * system groups, then the newest groups while they fit, and stops at the
 * first that does not. The groups that start in the converted tail hold
 * more than the limit, so that stop happens among them -- provided every
 * converted message belongs to a group that starts there. The one way it
 * could not is a tool result whose call is older; the sub-list trim then
 * reports it as an orphan, and the whole list is converted and trimmed
 * instead. (The old messages' other fields are not checked, and
 * tokens_before and orphans are not known: None.)
 *
 * The GIL: converting reads Python objects, so it needs the GIL; counting
 * does not. The lazy walk converts up to GIL_BATCH_BYTES of messages with
 * the GIL, then counts them with it released, so a trim of many short
 * messages leaves another thread about half of its time, and a long
 * message is counted without the GIL (an exact count of 10 MB takes 15 ms
 * of CPU). An empty release between conversions would not do: CPython
 * hands the GIL over only when the waiting thread has asked for it, and it
 * asks only after a whole switch interval with no change of holder, which
 * each release resets (on a quiet machine 50,000 short messages held it
 * for 40-60% of a 50 ms trim that way). test_gil.py checks both cases. */

/* By am_msg_size a short message is ~370 bytes, so this is ~180 of them,
 * ~0.2 ms of converting: well inside Python's own 5 ms switch interval. */
#define GIL_BATCH_BYTES (64 * 1024)

/* Count conv[lo..hi) into tok[] without the GIL (system messages kept by
 * preserve_system count 0 here: they are not trimmed). */
static am_status count_batch(const am_trim_opts *o, am_msg *const *conv,
                             size_t lo, size_t hi, size_t *tok,
                             am_error *err)
{
    am_status st = AM_OK;
    Py_BEGIN_ALLOW_THREADS
    for (size_t i = lo; i < hi && st == AM_OK; i++) {
        tok[i] = 0;
        if (!(am_msg_role(conv[i]) == AM_ROLE_SYSTEM && o->preserve_system))
            st = am_count_msg(&o->counter, conv[i], &tok[i], err);
    }
    Py_END_ALLOW_THREADS
    return st;
}

typedef struct lazy_trim {
    am_msg **conv;   /* [n], converted messages (NULL: not converted) */
    size_t *map;     /* sub-list index -> input index */
    const am_msg **sub;
    size_t *tok;     /* [n], the lazy walk's counts */
    size_t nsub;
} lazy_trim;

static void lazy_free(lazy_trim *lz, size_t n)
{
    /* Freeing tens of thousands of converted messages takes as long as
     * converting them; it touches no Python object (their allocator is the
     * pool, py_pool.c, with a lock of its own), so other threads run
     * meanwhile. The arrays are PyMem memory: freed with the GIL. */
    Py_BEGIN_ALLOW_THREADS
    for (size_t i = 0; lz->conv && i < n; i++)
        am_msg_free(lz->conv[i]);
    Py_END_ALLOW_THREADS
    PyMem_Free(lz->conv);
    PyMem_Free(lz->map);
    PyMem_Free(lz->sub);
    PyMem_Free(lz->tok);
    memset(lz, 0, sizeof *lz);
}

/* Convert the tail and the old system messages of items[0..n). Returns 1
 * when the sub-list is set up, 0 when every message had to be converted
 * (the sub-list is then the whole list), -1 on error. */
static int lazy_prepare(PyObject **items, size_t n, const am_trim_opts *o,
                        lazy_trim *lz)
{
    am_error err = { AM_OK, "" };
    size_t tokens = 0, count = 0, start = 0, lo = n;
    int cut = 0;
    lz->conv = PyMem_Calloc(n ? n : 1, sizeof *lz->conv);
    lz->map = PyMem_Calloc(n ? n : 1, sizeof *lz->map);
    lz->sub = PyMem_Calloc(n ? n : 1, sizeof *lz->sub);
    lz->tok = PyMem_Calloc(n ? n : 1, sizeof *lz->tok);
    if (!lz->conv || !lz->map || !lz->sub || !lz->tok) {
        PyErr_NoMemory();
        return -1;
    }
    /* From the newest: a batch converted with the GIL, counted without,
     * then walked for the cut. */
    for (size_t hi = n; hi > 0 && !cut; hi = lo) {
        size_t bytes = 0;
        /* A message that does not convert may be older than the cut, and
         * then does not matter: its error waits until the walk reaches
         * it. */
        PyObject *et = NULL, *ev = NULL, *tb = NULL;
        while (lo > 0 && bytes < GIL_BATCH_BYTES) {
            if (amp_msg_from_py(items[lo - 1], (Py_ssize_t)(lo - 1),
                                &lz->conv[lo - 1]) < 0) {
                PyErr_Fetch(&et, &ev, &tb);
                break;
            }
            lo--;
            bytes += am_msg_size(lz->conv[lo]);
        }
        if (count_batch(o, lz->conv, lo, hi, lz->tok, &err) != AM_OK) {
            Py_XDECREF(et);
            Py_XDECREF(ev);
            Py_XDECREF(tb);
            amp_raise_err(&err);
            return -1;
        }
        for (size_t i = hi; i-- > lo;) {
            am_role r = am_msg_role(lz->conv[i]);
            if (!(r == AM_ROLE_SYSTEM && o->preserve_system)) {
                tokens += lz->tok[i];
                count++;
            }
            if (r == AM_ROLE_USER &&
                ((o->max_tokens && tokens > o->max_tokens) ||
                 (o->max_messages && count > o->max_messages))) {
                start = i;
                cut = 1;
                break;
            }
        }
        if (et != NULL) {
            if (!cut) { /* the walk needs the message that failed */
                PyErr_Restore(et, ev, tb);
                return -1;
            }
            Py_XDECREF(et);
            Py_XDECREF(ev);
            Py_XDECREF(tb);
        }
    }
    /* The batch went past the cut: what it converted there is not part of
     * the sub-list, except the system messages kept whatever their age. */
    for (size_t i = lo; cut && i < start; i++) {
        if (!(am_msg_role(lz->conv[i]) == AM_ROLE_SYSTEM &&
              o->preserve_system)) {
            am_msg_free(lz->conv[i]);
            lz->conv[i] = NULL;
        }
    }
    for (size_t i = 0; cut && i < lo; i++) {
        am_role r;
        if (amp_msg_role_of(items[i], (Py_ssize_t)i, &r) < 0)
            return -1;
        if (r == AM_ROLE_SYSTEM && o->preserve_system &&
            amp_msg_from_py(items[i], (Py_ssize_t)i, &lz->conv[i]) < 0)
            return -1;
    }
    lz->nsub = 0;
    for (size_t i = 0; i < n; i++) {
        if (!lz->conv[i])
            continue;
        lz->map[lz->nsub] = i;
        lz->sub[lz->nsub++] = lz->conv[i];
    }
    return cut;
}

/* Convert the rest after a lazy attempt that met an orphan. */
static int lazy_complete(PyObject **items, size_t n, lazy_trim *lz)
{
    lz->nsub = 0;
    for (size_t i = 0; i < n; i++) {
        if (!lz->conv[i] &&
            amp_msg_from_py(items[i], (Py_ssize_t)i, &lz->conv[i]) < 0)
            return -1;
        lz->map[lz->nsub] = i;
        lz->sub[lz->nsub++] = lz->conv[i];
    }
    return 0;
}

static PyObject *py_trim(PyObject *self, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"messages", "strategy", "max_messages",
                             "max_tokens", "preserve_system", "model",
                             "start_on_user", "end_on_role", "allow_partial",
                             "lazy", NULL};
    PyObject *seq, *max_msgs_o = Py_None, *max_toks_o = Py_None,
                   *model = Py_None;
    const char *strategy = "last", *end_on = NULL;
    int preserve = 1, start_user = 0, partial = 0, lazy = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O|sOOpOpzpp", kwlist, &seq,
                                     &strategy, &max_msgs_o, &max_toks_o,
                                     &preserve, &model, &start_user, &end_on,
                                     &partial, &lazy))
        return NULL;
    am_trim_opts o = am_trim_opts_default();
    if (!strcmp(strategy, "last"))
        o.strategy = AM_TRIM_LAST;
    else if (!strcmp(strategy, "first"))
        o.strategy = AM_TRIM_FIRST;
    else if (!strcmp(strategy, "token") || !strcmp(strategy, "tokens"))
        o.strategy = AM_TRIM_TOKENS;
    else
        return PyErr_Format(PyExc_ValueError,
                            "strategy must be 'last', 'first' or 'token', "
                            "not '%.40s'", strategy);
    if (amp_size(max_msgs_o, "max_messages", 0, &o.max_messages) < 0 ||
        amp_size(max_toks_o, "max_tokens", 0, &o.max_tokens) < 0 ||
        role_of(end_on, &o.end_on_role) < 0 ||
        counter_for(model, &o.counter) < 0)
        return NULL;
    if (o.strategy == AM_TRIM_TOKENS && o.max_tokens == 0)
        return PyErr_Format(PyExc_ValueError,
                            "strategy 'token' needs max_tokens > 0");
    o.preserve_system = preserve;
    o.start_on_user = start_user;
    o.allow_partial = partial;
    o.alloc = amp_pool();

    if (seq == Py_None || PyDict_Check(seq) || PyUnicode_Check(seq))
        return PyErr_Format(PyExc_TypeError,
                            "messages must be a list of messages, not %.80s",
                            Py_TYPE(seq)->tp_name);
    /* A private tuple: the GIL is released during the trim, and the
     * caller's list may change meanwhile. */
    PyObject *fast = PyList_Check(seq)
                         ? PyList_AsTuple(seq)
                         : PySequence_Fast(seq, "messages must be a sequence");
    if (!fast)
        return NULL;
    PyObject **items = PySequence_Fast_ITEMS(fast);
    size_t n = (size_t)PySequence_Fast_GET_SIZE(fast);
    lazy_trim lz = {0};
    am_trim_result res = AM_TRIM_RESULT_INIT;
    am_error err = { AM_OK, "" };
    am_status st;
    PyObject *out = NULL;
    int is_lazy = 0;
    if (lazy && o.strategy != AM_TRIM_FIRST &&
        (o.max_tokens || o.max_messages)) {
        is_lazy = lazy_prepare(items, n, &o, &lz);
        if (is_lazy < 0)
            goto done;
    } else {
        if (!(lz.conv = PyMem_Calloc(n ? n : 1, sizeof *lz.conv)) ||
            !(lz.map = PyMem_Calloc(n ? n : 1, sizeof *lz.map)) ||
            !(lz.sub = PyMem_Calloc(n ? n : 1, sizeof *lz.sub))) {
            PyErr_NoMemory();
            goto done;
        }
        if (lazy_complete(items, n, &lz) < 0)
            goto done;
    }
    for (;;) {
        Py_BEGIN_ALLOW_THREADS
        st = am_trim(lz.sub, lz.nsub, &o, &res, &err);
        Py_END_ALLOW_THREADS
        if (st != AM_OK) {
            amp_raise_err(&err);
            goto done;
        }
        if (!is_lazy || res.orphans == 0)
            break;
        /* A tool result in the tail answers an older call: do it whole. */
        is_lazy = 0;
        if (lazy_complete(items, n, &lz) < 0)
            goto done;
    }
    /* The kept messages are the sub-list minus res.dropped (ascending):
     * hand back the caller's own objects. */
    PyObject *kept = PyList_New(0);
    size_t d = 0;
    for (size_t j = 0; kept && j < lz.nsub; j++) {
        if (d < res.dropped_count && res.dropped[d] == j) {
            d++;
            continue;
        }
        if (PyList_Append(kept, items[lz.map[j]]) < 0)
            Py_CLEAR(kept);
    }
    if (!kept)
        goto done;
    PyObject *ptext = Py_None;
    Py_INCREF(ptext);
    if (res.partial_index != SIZE_MAX) {
        /* The cut message is the one in res.messages whose id is the
         * input's. */
        am_str id = am_msg_id(lz.sub[res.partial_index]);
        for (size_t k = 0; k < res.messages.count; k++) {
            am_str kid = am_msg_id(res.messages.items[k]);
            if (kid.len == id.len && !memcmp(kid.ptr, id.ptr, id.len)) {
                Py_DECREF(ptext);
                ptext = amp_pystr(am_msg_content_text(res.messages.items[k]));
                break;
            }
        }
    }
    if (!ptext) {
        Py_DECREF(kept);
        goto done;
    }
    out = Py_BuildValue(
        "{s:N,s:N,s:N,s:N,s:n,s:N}", "messages", kept, "partial_index",
        res.partial_index == SIZE_MAX
            ? Py_NewRef(Py_None)
            : PyLong_FromSize_t(lz.map[res.partial_index]),
        "partial_text", ptext, "tokens_before",
        is_lazy ? Py_NewRef(Py_None) : PyLong_FromSize_t(res.tokens_before),
        "tokens_after", (Py_ssize_t)res.tokens_after, "orphans",
        is_lazy ? Py_NewRef(Py_None) : PyLong_FromSize_t(res.orphans));
done:
    Py_BEGIN_ALLOW_THREADS
    am_trim_result_free(&res);
    Py_END_ALLOW_THREADS
    lazy_free(&lz, n);
    Py_DECREF(fast);
    return out;
}

/* ---- summarize ---- */

/* The result dict of am_summarize / the middleware: output messages are
 * the caller's own objects where they were kept, and OpenAI-style dicts
 * for the new summary message. */
static PyObject *summary_result(PyObject *fast, const amp_msgs *m,
                                const am_summarize_result *res)
{
    PyObject *list = PyList_New((Py_ssize_t)res->messages.count);
    PyObject **items = PySequence_Fast_ITEMS(fast);
    size_t j = 0;
    for (size_t k = 0; list && k < res->messages.count; k++) {
        const am_msg *om = res->messages.items[k];
        size_t at = j;
        while (at < m->count && m->items[at] != om)
            at++;
        PyObject *v;
        if (at < m->count) {
            v = Py_NewRef(items[at]);
            j = at + 1;
        } else {
            v = amp_msg_to_dict(om);
        }
        if (!v) {
            Py_CLEAR(list);
            break;
        }
        PyList_SET_ITEM(list, (Py_ssize_t)k, v);
    }
    if (!list)
        return NULL;
    return Py_BuildValue(
        "{s:N,s:N,s:n,s:n,s:n,s:n,s:n}", "summary",
        amp_pystr(am_buf_str(&res->summary)), "messages", list,
        "original_count", (Py_ssize_t)res->original_count,
        "summarized_count", (Py_ssize_t)res->summarized_count, "kept_count",
        (Py_ssize_t)res->kept_count, "tokens_before",
        (Py_ssize_t)res->tokens_before, "tokens_after",
        (Py_ssize_t)res->tokens_after);
}

static PyObject *py_summarize(PyObject *self, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"messages", "keep_last", "budget",
                             "preserve_system", "model", "prev_summary",
                             "summarizer", "base_url", "llm_model", "api_key",
                             "context_tokens", NULL};
    PyObject *seq, *keep_o = Py_None, *budget_o = Py_None, *model = Py_None,
                   *prev_o = NULL, *fn = Py_None, *ctx_o = Py_None;
    const char *base_url = NULL, *llm_model = NULL, *api_key = NULL;
    int preserve = 1;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O|OOpOOOzzzO", kwlist, &seq,
                                     &keep_o, &budget_o, &preserve, &model,
                                     &prev_o, &fn, &base_url, &llm_model,
                                     &api_key, &ctx_o))
        return NULL;
    am_summarize_opts o = am_summarize_opts_default();
    size_t ctx_tokens;
    if (amp_size(keep_o, "keep_last", 0, &o.keep_last) < 0 ||
        amp_size(budget_o, "budget", 0, &o.budget) < 0 ||
        amp_size(ctx_o, "context_tokens", 0, &ctx_tokens) < 0 ||
        counter_for(model, &o.counter) < 0)
        return NULL;
    if (prev_o && prev_o != Py_None &&
        amp_utf8(prev_o, "prev_summary", &o.prev_summary) < 0)
        return NULL;
    o.preserve_system = preserve;
    amp_summ sm;
    if (amp_summ_init(&sm, fn, base_url, llm_model, api_key, ctx_tokens) < 0)
        return NULL;
    o.summarizer = sm.s;
    PyObject *fast = PySequence_Fast(seq, "messages must be a sequence");
    if (!fast) {
        amp_summ_free(&sm);
        return NULL;
    }
    amp_msgs m;
    if (amp_msgs_from_py(fast, "messages", &m) < 0) {
        Py_DECREF(fast);
        amp_summ_free(&sm);
        return NULL;
    }
    am_summarize_result res = AM_SUMMARIZE_RESULT_INIT;
    am_error err = { AM_OK, "" };
    am_status st;
    Py_BEGIN_ALLOW_THREADS
    st = am_summarize((const am_msg *const *)m.items, m.count, &o, &res,
                      &err);
    Py_END_ALLOW_THREADS
    PyObject *out = st == AM_OK ? summary_result(fast, &m, &res)
                                : amp_summ_raise(&sm, &err);
    am_summarize_result_free(&res);
    amp_msgs_free(&m);
    Py_DECREF(fast);
    amp_summ_free(&sm);
    return out;
}

/* ---- SummarizationMiddleware (the C half) ---- */

typedef struct {
    PyObject_HEAD
    am_summary_mw *mw;
    amp_summ sm;
    PyThread_type_lock lock; /* the middleware is per-handle in C */
} MwObject;

static void mw_dealloc(MwObject *self)
{
    am_summary_mw_free(self->mw);
    amp_summ_free(&self->sm);
    if (self->lock)
        PyThread_free_lock(self->lock);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static int mw_init(MwObject *self, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"trigger_tokens", "trigger_messages",
                             "keep_last", "budget", "model", "summarizer",
                             "base_url", "llm_model", "api_key", NULL};
    PyObject *tt = Py_None, *tm = Py_None, *kl = Py_None, *bu = Py_None,
             *model = Py_None, *fn = Py_None;
    const char *base_url = NULL, *llm_model = NULL, *api_key = NULL;
    if (self->mw) {
        PyErr_SetString(PyExc_RuntimeError, "already initialized");
        return -1;
    }
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|$OOOOOOzzz", kwlist, &tt,
                                     &tm, &kl, &bu, &model, &fn, &base_url,
                                     &llm_model, &api_key))
        return -1;
    am_summary_mw_opts o = am_summary_mw_opts_default();
    if (amp_size(tt, "trigger_tokens", 0, &o.trigger_tokens) < 0 ||
        amp_size(tm, "trigger_messages", 0, &o.trigger_messages) < 0 ||
        amp_size(kl, "keep_last", 10, &o.keep_last) < 0 ||
        amp_size(bu, "budget", 0, &o.budget) < 0 ||
        counter_for(model, &o.counter) < 0)
        return -1;
    if (!o.trigger_tokens && !o.trigger_messages) {
        PyErr_SetString(PyExc_ValueError,
                        "set trigger_tokens or trigger_messages (> 0)");
        return -1;
    }
    if (amp_summ_init(&self->sm, fn, base_url, llm_model, api_key, 0) < 0)
        return -1;
    o.summarizer = self->sm.s;
    self->lock = PyThread_allocate_lock();
    if (!self->lock) {
        PyErr_NoMemory();
        return -1;
    }
    am_error err = { AM_OK, "" };
    if (am_summary_mw_create(&o, &self->mw, &err) != AM_OK) {
        amp_raise_err(&err);
        return -1;
    }
    return 0;
}

static int mw_ready(MwObject *self)
{
    if (!self->mw) {
        PyErr_SetString(PyExc_RuntimeError,
                        "the middleware was not initialized");
        return -1;
    }
    return 0;
}

static void mw_lock(MwObject *self)
{
    if (!PyThread_acquire_lock(self->lock, NOWAIT_LOCK)) {
        Py_BEGIN_ALLOW_THREADS
        PyThread_acquire_lock(self->lock, WAIT_LOCK);
        Py_END_ALLOW_THREADS
    }
}

static PyObject *mw_should(MwObject *self, PyObject *seq)
{
    amp_msgs m;
    if (mw_ready(self) < 0 || amp_msgs_from_py(seq, "messages", &m) < 0)
        return NULL;
    bool yes;
    mw_lock(self);
    Py_BEGIN_ALLOW_THREADS
    yes = am_summary_mw_should(self->mw, (const am_msg *const *)m.items,
                               m.count);
    Py_END_ALLOW_THREADS
    PyThread_release_lock(self->lock);
    amp_msgs_free(&m);
    return PyBool_FromLong(yes);
}

static PyObject *mw_process(MwObject *self, PyObject *seq)
{
    if (mw_ready(self) < 0)
        return NULL;
    PyObject *fast = PySequence_Fast(seq, "messages must be a sequence");
    if (!fast)
        return NULL;
    amp_msgs m;
    if (amp_msgs_from_py(fast, "messages", &m) < 0) {
        Py_DECREF(fast);
        return NULL;
    }
    am_summarize_result res = AM_SUMMARIZE_RESULT_INIT;
    am_error err = { AM_OK, "" };
    am_status st;
    mw_lock(self);
    Py_BEGIN_ALLOW_THREADS
    st = am_summary_mw_process(self->mw, (const am_msg *const *)m.items,
                               m.count, &res, &err);
    Py_END_ALLOW_THREADS
    PyThread_release_lock(self->lock);
    PyObject *out = st == AM_OK ? summary_result(fast, &m, &res)
                                : amp_summ_raise(&self->sm, &err);
    am_summarize_result_free(&res);
    amp_msgs_free(&m);
    Py_DECREF(fast);
    return out;
}

static PyObject *mw_summary(MwObject *self, void *closure)
{
    if (mw_ready(self) < 0)
        return NULL;
    mw_lock(self);
    PyObject *s = amp_pystr(am_summary_mw_summary(self->mw));
    PyThread_release_lock(self->lock);
    return s;
}

static PyMethodDef mw_methods[] = {
    {"should_summarize", (PyCFunction)mw_should, METH_O,
     "True when the messages cross a trigger."},
    {"_process", (PyCFunction)mw_process, METH_O,
     "Summarize if a trigger is crossed; a result dict."},
    {NULL, NULL, 0, NULL}};

static PyGetSetDef mw_getset[] = {
    {"summary", (getter)mw_summary, NULL, "The running summary.", NULL},
    {NULL, NULL, NULL, NULL, NULL}};

static PyTypeObject MwType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "agentmem._agentmem._Middleware",
    .tp_basicsize = sizeof(MwObject),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
    .tp_doc = "The C summarization middleware (am_summary_mw).",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)mw_init,
    .tp_dealloc = (destructor)mw_dealloc,
    .tp_methods = mw_methods,
    .tp_getset = mw_getset,
};

static PyMethodDef methods[] = {
    {"trim", (PyCFunction)(void (*)(void))py_trim,
     METH_VARARGS | METH_KEYWORDS, NULL},
    {"summarize", (PyCFunction)(void (*)(void))py_summarize,
     METH_VARARGS | METH_KEYWORDS, NULL},
    {NULL, NULL, 0, NULL}};

int amp_window_init(PyObject *module)
{
    if (PyType_Ready(&MwType) < 0 ||
        PyModule_AddObjectRef(module, "_Middleware", (PyObject *)&MwType) < 0)
        return -1;
    return PyModule_AddFunctions(module, methods);
}
