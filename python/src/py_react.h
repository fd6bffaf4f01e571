/* py_react.h -- what the ReAct binding's files share: py_react.c (the
 * _React type: its Python-side lock, messages, tools, reasoning, keyed
 * values, hooks; the lock is explained there), py_react_domain.c (the
 * domain record and export/import, the calls that run the record's Python
 * serializers) and py_sessions.c (the _Sessions type). Internal to the
 * extension module. */
#ifndef PY_REACT_H
#define PY_REACT_H

#include "py_amp.h"

#include <pythread.h>

#define MAX_HOOKS 16 /* am_react_add_hook's limit */

typedef struct ReactObject ReactObject;

typedef struct {
    ReactObject *self; /* borrowed: the hook lives inside it */
    PyObject *fn;      /* NULL once cleared by the GC */
} hook_slot;

struct ReactObject {
    PyObject_HEAD
    am_react *m;
    PyThread_type_lock lock;
    unsigned long owner; /* thread holding `lock`, 0: none */
    int depth;
    int in_hook;
    hook_slot hooks[MAX_HOOKS];
    int nhooks;
    /* Domain memory: the type's callbacks call these Python objects. */
    am_react_domain_type dtype;
    char *dname;
    PyObject *dserialize, *ddeserialize;
};

/* ---- py_react.c ---- */

/* Take the memory's Python-side lock (re-entrant for its owner thread;
 * waits with the GIL released): 0, or -1 with ValueError set when the
 * memory is closed. _write also refuses (AM_ESTATE) inside a hook. */
int amp_react_enter(ReactObject *self);
int amp_react_enter_write(ReactObject *self);
void amp_react_exit(ReactObject *self);
/* Raise the memory's detail for a failed call (the lock is held); NULL. */
PyObject *amp_react_raise(ReactObject *self, am_status st);
/* The pending Python exception as `code` in `err` (cleared); `code`. */
am_status amp_react_exc_to_err(am_status code, am_error *err);
/* `o` as a _React (borrowed): 0, or -1 with TypeError set. */
int amp_react_arg(PyObject *o, ReactObject **out);

/* ---- py_react_domain.c: _React methods ---- */

PyObject *amp_react_set_domain_type(ReactObject *self, PyObject *args);
PyObject *amp_react_set_domain(ReactObject *self, PyObject *rec);
PyObject *amp_react_domain(ReactObject *self, PyObject *unused);
PyObject *amp_react_domain_touched(ReactObject *self, PyObject *unused);
PyObject *amp_react_export(ReactObject *self, PyObject *unused);
PyObject *amp_react_import(ReactObject *self, PyObject *o);

/* ---- py_sessions.c ---- */

/* Adds _Sessions to the module. */
int amp_sessions_init(PyObject *module);

#endif
