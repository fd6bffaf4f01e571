/* py_tiers.h -- what the three files of the tiers binding share:
 * py_tier_item.c (the _TierItem record and the tier argument), py_tiers.c
 * (the _Tiers type over one am_tiers handle) and py_tiers_cb.c (search,
 * custom indexes and lifecycle policies, the calls that can run Python
 * callbacks). Internal to the extension module. */
#ifndef PY_TIERS_H
#define PY_TIERS_H

#include "py_amp.h"

struct pycb;

typedef struct {
    PyObject_HEAD
    am_tiers *t;
    /* Python callbacks (custom indexes, policies), kept until close. */
    struct pycb *cbs;
    int has_cb;
    /* What a callback raised (PyErr_Fetch), re-raised after the call. */
    PyObject *exc, *exc_val, *exc_tb;
    /* The copy store/retrieve/peek read an item into, reused (see
     * info_get); busy while a call builds its result from it. */
    am_tier_item scratch;
    int scratch_busy;
} TiersObject;

/* A Python callback the C handle calls: a custom index's key extractor
 * or a policy's condition/action. The C code calls it with the handle's
 * mutex held; it takes the GIL back. Once the first is registered the
 * calls that may run one (store, search, apply_policies) release the GIL
 * first, so that no thread ever waits for the mutex while holding the
 * GIL (a callback that let the GIL go would deadlock against it). An
 * exception is kept and re-raised when the C call returns. */
typedef struct pycb {
    TiersObject *owner;
    PyObject *fn;       /* key extractor or condition */
    PyObject *action;   /* policy: a Python action (NULL: builtin) */
    PyObject *pending;  /* policy with a Python action: the matched items */
    PyObject *name;     /* policy name (str), NULL for an index */
    struct pycb *next;
} pycb;

/* ---- py_tier_item.c ---- */

/* A new MemoryItem (agentmem.tiers' subclass of _TierItem once it is
 * imported) for `info`, whose strings are copied; `id` and `content` are
 * borrowed and used as they are when not NULL (else made from info; JSON
 * content is decoded). NULL with an exception set. */
PyObject *amp_tier_item_new(const am_tier_item *info, PyObject *id,
                            PyObject *content);
/* A tier given as a MemoryTier or its value ("working", ...): 0, or -1
 * with TypeError/ValueError set. */
int amp_tier_of(PyObject *o, am_tier *out);
/* Adds _TierItem and _set_tier_item_class to the module. */
int amp_tier_item_init(PyObject *module);

/* ---- py_tiers.c ---- */

/* 0, or -1 with ValueError set when the handle is closed. */
int amp_tiers_ready(TiersObject *self);
/* Raise the handle's last error (code `st` when it has none); NULL. */
PyObject *amp_tiers_raise(TiersObject *self, am_status st);

/* ---- py_tiers_cb.c ---- */

/* Re-raise what a callback raised during the last C call (-1), or 0. */
int amp_tiers_cb_raised(TiersObject *self);
/* Drop every registered callback (after the handle is closed). */
void amp_tiers_cb_free_all(TiersObject *self);
/* The _Tiers methods, as tiers_methods lists them. */
PyObject *amp_tiers_add_index(TiersObject *self, PyObject *args);
PyObject *amp_tiers_add_policy(TiersObject *self, PyObject *args);
PyObject *amp_tiers_apply_policies(TiersObject *self, PyObject *unused);
PyObject *amp_tiers_search(TiersObject *self, PyObject *args, PyObject *kw);
PyObject *amp_tiers_cleanup(TiersObject *self, PyObject *arg);

#endif
