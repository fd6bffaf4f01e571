/* filter.h -- the metadata filter of am_store_search, parsed once by the
 * front end into a small tree that every backend compiles into its own SQL
 * (store_sqlite_filter.c, store_pg_filter.c). Not installed.
 *
 * The language (documented for users in store.h, am_search.filter):
 *
 *   {"f": v}                     f equals v (v a string, number, boolean
 *                                or null)
 *   {"f": {"$op": v, ...}}       every operator holds ($eq $ne $gt $gte
 *                                $lt $lte $in $nin $contains $exists)
 *   {"$and": [F, ...]}, {"$or": [F, ...]}, {"$not": F}
 *   several members              all of them hold (AND)
 *
 * `f` is a top-level key of the item's meta object. The tree is what both
 * backends must agree on; tests/test_store_filter.c is the one conformance
 * suite they both run.
 */
#ifndef AM_STORE_FILTER_H
#define AM_STORE_FILTER_H

#include <stdint.h>

#include "core/core.h"

/* Limits that keep the SQL a filter compiles to small (SQLite allows
 * 32766 bound values; a filter is a hand-written query, not a data set). */
#define AM__FILTER_MAX_NODES 1000
#define AM__FILTER_MAX_DEPTH 32

typedef enum am__fop {
    AM__F_AND, AM__F_OR, AM__F_NOT,   /* kids */
    AM__F_EQ, AM__F_NE,               /* one value, any kind */
    AM__F_GT, AM__F_GTE, AM__F_LT, AM__F_LTE, /* a number or a string */
    AM__F_IN, AM__F_NIN,              /* `nval` values, any kind */
    AM__F_CONTAINS,                   /* one value, any kind */
    AM__F_EXISTS                      /* one value, a boolean */
} am__fop;

typedef enum am__fkind {
    AM__FV_NULL, AM__FV_BOOL, AM__FV_INT, AM__FV_REAL, AM__FV_STR
} am__fkind;

/* A scalar from the filter. `json` is its JSON text (for backends that
 * compare JSON values, e.g. PostgreSQL's jsonb), NUL-terminated. */
typedef struct am__fval {
    am__fkind kind;
    int b;        /* AM__FV_BOOL */
    int64_t i;    /* AM__FV_INT */
    double d;     /* AM__FV_REAL */
    am_str s;     /* AM__FV_STR: UTF-8, NUL-terminated, may hold no NUL */
    am_str json;
} am__fval;

typedef struct am__fnode am__fnode;
struct am__fnode {
    am__fop op;
    am_str field;          /* comparisons: the meta key, NUL-terminated */
    const am__fval *vals;  /* comparisons: `nval` values */
    size_t nval;
    const am__fnode *kids; /* AND, OR (nkid >= 1), NOT (nkid == 1) */
    size_t nkid;
};

/* A parsed filter: the tree and the arena that holds it. */
typedef struct am__filter {
    am__arena ar;
    const am__fnode *root;
} am__filter;

/* Parse the filter text `text` (JSON) into *out (yours: am__filter_free;
 * NULL when `text` is empty or "{}", which filter nothing). Errors go to
 * `err`, prefixed "search filter: ", naming the operator or field and
 * where it is ("at '$or[1].age'"): AM_EFORMAT for anything the language
 * does not allow, AM_ENOMEM. Thread safety: safe (touches only `out`). */
am_status am__filter_parse(const am_allocator *a, am_str text,
                           am__filter **out, am_error *err);
void am__filter_free(am__filter *f); /* NULL: no-op */

/* The operator's name as written in a filter ("$gt"); "$and" etc. */
const char *am__fop_name(am__fop op);

#endif
