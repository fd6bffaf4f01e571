/* py_amp.h -- what the files of the _agentmem extension module share.
 *
 * The extension is a thin layer: Python objects in, libagentmem calls, Python
 * objects out. Conventions: a function returning int gives 0 on success and
 * -1 with a Python exception set; a function returning PyObject * gives a
 * new reference or NULL with an exception set. C statuses become
 * agentmem.Error subclasses carrying the C message (amp_raise).
 */
#ifndef AMP_H
#define AMP_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <agentmem/agentmem.h>

/* ---- errors (py_module.c) ---- */

/* Raise the agentmem.Error subclass for `st` with message `msg` (NULL or
 * "": the status's description). Always returns NULL. */
PyObject *amp_raise(am_status st, const char *msg);
/* The same with an am_error's code and message. */
PyObject *amp_raise_err(const am_error *err);

/* The package data directory holding the rank files (set by the package
 * at import), or NULL: the library's own search path. */
const char *amp_data_dir(void);

/* ---- argument helpers (py_module.c) ---- */

/* `o` as borrowed UTF-8: a str (strict: lone surrogates are a ValueError)
 * or bytes that are valid UTF-8. `what` names the argument in errors.
 * The bytes live as long as `o`. */
int amp_utf8(PyObject *o, const char *what, am_str *out);
/* `o` as a count: an int >= 0 that fits; None gives `dflt`. Negative or
 * huge values are a ValueError naming `what`, other types a TypeError. */
int amp_size(PyObject *o, const char *what, size_t dflt, size_t *out);
/* Match vectorcall arguments (METH_FASTCALL | METH_KEYWORDS) to `names`,
 * n positional-or-keyword parameters in order: out[i] is the argument
 * (borrowed) or NULL when not given. Fewer than `min` given, too many,
 * an unknown keyword or one given twice is a TypeError naming `usage`
 * (the call as written, e.g. "store(item_id, content, ...)"). */
int amp_fast_args(PyObject *const *args, Py_ssize_t nargs,
                  PyObject *kwnames, const char *const *names, Py_ssize_t n,
                  Py_ssize_t min, const char *usage, PyObject **out);
/* A new str from UTF-8 bytes (invalid bytes replaced). */
PyObject *amp_pystr(am_str s);
/* Interned names used for attribute and key lookups. */
extern PyObject *amp_k_role, *amp_k_content, *amp_k_name, *amp_k_type,
    *amp_k_tool_calls, *amp_k_tool_call_id, *amp_k_id, *amp_k_function,
    *amp_k_arguments, *amp_k_args, *amp_k_text, *amp_k_image_url,
    *amp_k_url, *amp_k_images, *amp_k_structured_data, *amp_k_agent_calls,
    *amp_k_agent_name, *amp_k_request, *amp_k_input, *amp_k_tool_use_id,
    *amp_k_is_error, *amp_k_to_dict, *amp_k_message_id, *amp_k_created_ms;
/* json.dumps(o, ensure_ascii=False) as a new str, or NULL. */
PyObject *amp_json_dumps(PyObject *o);
/* json.loads(text) as a new object, or NULL. */
PyObject *amp_json_loads(am_str text);

/* ---- py_tokens.c ---- */

/* Text at least this long is counted with the GIL released: below it the
 * release costs more than it gives to other threads. */
#define AMP_GIL_RELEASE_BYTES 4096

/* The shared tokenizer for `model` (opened once and cached for the life
 * of the module; NULL model: o200k_base). Borrowed; NULL with an
 * exception set. Call with the GIL held. */
const am_tokenizer *amp_tokenizer(PyObject *model);
int amp_tokens_init(PyObject *module);

/* ---- py_convert.c ---- */

/* Convert one message -- an OpenAI-style dict, an agentmem Message, or a
 * LangChain-style object (duck-typed on .type/.content) -- into a new
 * am_msg (yours). `index` is used in error messages. */
int amp_msg_from_py(PyObject *o, Py_ssize_t index, am_msg **out);

/* Only the role of message `o` (the checks of amp_msg_from_py on its
 * type and role; nothing else is read). */
int amp_msg_role_of(PyObject *o, Py_ssize_t index, am_role *out);

/* An array of converted messages, all freed by amp_msgs_free. */
typedef struct amp_msgs {
    am_msg **items;
    size_t count;
} amp_msgs;

/* Convert every item of the sequence `seq` (`what` names the argument). */
int amp_msgs_from_py(PyObject *seq, const char *what, amp_msgs *out);
void amp_msgs_free(amp_msgs *m);
/* An OpenAI-style dict for `msg` (role, content text, name,
 * tool_call_id, tool_calls). */
PyObject *amp_msg_to_dict(const am_msg *msg);

/* ---- py_pool.c ---- */

/* Message options whose allocator keeps freed small blocks for reuse
 * (see py_pool.c). Static; call once with the GIL held before threads use
 * it (module init does). */
const am_msg_opts *amp_msg_opts(void);
/* The pooling allocator itself (thread-safe). */
const am_allocator *amp_pool(void);

/* ---- summarizers (py_window.c) ---- */

/* A Python callable summarizer: fn(previous_summary, messages, budget)
 * -> str, where messages are OpenAI-style dicts. An exception it raises is
 * kept here and re-raised when the C call returns (amp_summ_raise). */
typedef struct amp_pysum {
    PyObject *fn;
    PyObject *exc, *exc_val, *exc_tb; /* what it raised (PyErr_Fetch) */
} amp_pysum;

/* What a summarizing object owns: the summarizer and what backs it. */
typedef struct amp_summ {
    am_summarizer *s; /* NULL: the built-in offline one */
    am_llm *llm;
    amp_pysum py;
} amp_summ;

/* Set up `sm` from a callable `fn`, or a base URL (+ model, key), or
 * neither (s stays NULL: offline). */
int amp_summ_init(amp_summ *sm, PyObject *fn, const char *base_url,
                  const char *llm_model, const char *api_key,
                  size_t context_tokens);
void amp_summ_free(amp_summ *sm);
/* Raise the Python summarizer's own exception if it raised one, else
 * `err`. Always returns NULL. */
PyObject *amp_summ_raise(amp_summ *sm, const am_error *err);

/* ---- py_tracker.c ---- */

/* The am_token_tracker of a _Tracker (borrowed), or NULL with a
 * TypeError. */
am_token_tracker *amp_tracker_of(PyObject *o);
int amp_tracker_init(PyObject *module);

/* ---- py_window.c, py_store.c, py_wire.c, py_tiers.c, py_react.c ---- */
int amp_window_init(PyObject *module);
int amp_wire_init(PyObject *module);
int amp_tiers_init(PyObject *module);
int amp_memory_init(PyObject *module);
int amp_react_init(PyObject *module);
int amp_store_init(PyObject *module);
/* py_async.c */
int amp_async_init(PyObject *module);

#endif
