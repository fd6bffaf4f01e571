/* filter.h -- the metadata filter of am_store_search, parsed once by the
 * front end into a small tree, and walked once (am__fsql_walk) into SQL
 * whose leaves each backend writes in its own dialect
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

#include <stdbool.h>
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

/* ---- Compiling a filter to SQL ----
 *
 * What a filter means -- AND, OR and NOT over the conditions, $ne as NOT
 * $eq, $in as an OR of $eq, $nin as NOT $in, an empty list as true or false
 * -- is written once, in am__fsql_walk. A backend supplies only the leaves:
 * how its SQL tests one field against one value.
 *
 * Every leaf writes a self-contained condition that is true or false and
 * never NULL (an absent field is "false", not "unknown"), so that the NOT
 * the walk puts around $ne and $nin means "not": NOT NULL would reject the
 * row, and {"f": {"$ne": 1}} must match an item without `f`. */

typedef struct am__fsql am__fsql;

typedef struct am__fsql_dialect {
    const char *true_sql, *false_sql; /* the literals: "1"/"0", "true"/... */
    /* `field` equals `v` (a scalar of any kind). */
    void (*eq)(am__fsql *w, am_str field, const am__fval *v);
    /* `field` compares with `v` (a number or a string) by `op`, which is
     * the SQL operator with spaces around it: " > ", " >= ", " < ", " <= ".
     */
    void (*cmp)(am__fsql *w, am_str field, const char *op,
                const am__fval *v);
    /* `field` is an array holding `v`, or a string holding the string `v`. */
    void (*contains)(am__fsql *w, am_str field, const am__fval *v);
    /* `field` is present (`present`) or absent (!`present`). */
    void (*exists)(am__fsql *w, am_str field, bool present);
} am__fsql_dialect;

/* The writer the walk and the leaves share. A backend keeps its own state
 * in a struct whose FIRST member is this one, so a leaf gets back to it by
 * casting `w`. After the first failure (`st`), every write does nothing,
 * so a leaf need not check after each piece. */
struct am__fsql {
    am_buf *sql;                 /* the condition is appended here */
    am_status st;                /* AM_OK, or the first failure */
    const am__fsql_dialect *d;
};

/* Append `s` (NUL-terminated) to w->sql, unless w->st is already set. */
void am__fsql_put(am__fsql *w, const char *s);

/* Append the condition of the tree `root` to w->sql, its leaves in the
 * dialect w->d. Returns w->st: AM_OK, or the first failure of a write
 * (AM_ENOMEM), after which w->sql holds an incomplete condition. The tree
 * is at most AM__FILTER_MAX_DEPTH deep (the parser sees to it), which
 * bounds the recursion. Thread safety: safe (touches only `w`). */
am_status am__fsql_walk(am__fsql *w, const am__fnode *root);

#endif
