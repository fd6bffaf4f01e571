/* store_sqlite_filter.c -- the leaves of a search filter (filter.h) in
 * SQLite's SQL, over the items' meta column with json_type / json_extract;
 * am__fsql_walk writes the rest.
 *
 * Types are checked with json_type, because json_extract alone maps
 * true to 1 and a missing field to NULL: {"f": 1} must not match
 * {"f": true}, and $ne must match an item without the field. Every leaf
 * is wrapped in coalesce(..., 0) so that it is 0 or 1, never NULL, as the
 * walk requires.
 */
#include <string.h>

#include "store_sqlite_search.h"

typedef struct comp {
    am__fsql w; /* first: a leaf's am__fsql * is this comp */
    const char *col;
    const am__fval **vals; /* bound in this order from `first` */
    size_t n, cap;
    int first;
    const am_allocator *a;
} comp;

static void put(comp *c, const char *s)
{
    am__fsql_put(&c->w, s);
}

/* A placeholder for `v`: ?NNN, bound by am__sq_filter_bind. */
static void param(comp *c, const am__fval *v)
{
    if (c->w.st != AM_OK)
        return;
    if (c->n == c->cap)
        c->w.st = am__grow(c->a, (void **)&c->vals, &c->cap, c->n + 1,
                           sizeof *c->vals);
    if (c->w.st != AM_OK)
        return;
    c->vals[c->n] = v;
    c->w.st = am_buf_appendf(c->w.sql, "?%d", c->first + (int)c->n);
    c->n++;
}

/* The JSON path of a top-level key: '$."key"' as an SQL literal (the
 * parser refused '"', '\' and control characters in names). */
static void path(comp *c, am_str field)
{
    put(c, "'$.\"");
    for (size_t i = 0; c->w.st == AM_OK && i < field.len; i++)
        c->w.st = field.ptr[i] == '\''
                      ? am_buf_append(c->w.sql, "''", 2)
                      : am_buf_append(c->w.sql, &field.ptr[i], 1);
    put(c, "\"'");
}

/* fn(col, path): json_type or json_extract of a field. */
static void of_field(comp *c, const char *fn, am_str field)
{
    put(c, fn);
    put(c, "(");
    put(c, c->col);
    put(c, ", ");
    path(c, field);
    put(c, ")");
}

static void type_of(comp *c, am_str field)
{
    of_field(c, "json_type", field);
}

static void value_of(comp *c, am_str field)
{
    of_field(c, "json_extract", field);
}

/* A JSON value, either a field (`field`) or an element of json_each
 * (field.ptr NULL: columns e.type and e.value): its type (`value` 0) or
 * its value (1). */
static void elem_or_field(comp *c, am_str field, int value)
{
    if (field.ptr != NULL)
        of_field(c, value ? "json_extract" : "json_type", field);
    else
        put(c, value ? "e.value" : "e.type");
}

static void t_expr(comp *c, am_str field)
{
    elem_or_field(c, field, 0);
}

static void v_expr(comp *c, am_str field)
{
    elem_or_field(c, field, 1);
}

static int is_num(const am__fval *v)
{
    return v->kind == AM__FV_INT || v->kind == AM__FV_REAL;
}

/* The value at `field` equals `v` (may be NULL when absent). */
static void eq(comp *c, am_str field, const am__fval *v)
{
    put(c, "(");
    t_expr(c, field);
    switch (v->kind) {
    case AM__FV_STR:
    case AM__FV_INT:
    case AM__FV_REAL:
        put(c, is_num(v) ? " IN ('integer', 'real') AND " : " = 'text' AND ");
        v_expr(c, field);
        put(c, " = ");
        param(c, v);
        break;
    case AM__FV_BOOL:
        put(c, v->b ? " = 'true'" : " = 'false'");
        break;
    case AM__FV_NULL:
        put(c, " = 'null'");
        break;
    }
    put(c, ")");
}

static void cmp(comp *c, am_str field, const char *op, const am__fval *v)
{
    put(c, "(");
    type_of(c, field);
    put(c, is_num(v) ? " IN ('integer', 'real') AND " : " = 'text' AND ");
    value_of(c, field);
    put(c, op);
    param(c, v);
    put(c, ")");
}

static void contains(comp *c, am_str field, const am__fval *v)
{
    put(c, "(");
    if (v->kind == AM__FV_STR) {
        put(c, "(");
        type_of(c, field);
        put(c, " = 'text' AND instr(");
        value_of(c, field);
        put(c, ", ");
        param(c, v);
        put(c, ") > 0) OR ");
    }
    put(c, "(");
    type_of(c, field);
    put(c, " = 'array' AND EXISTS (SELECT 1 FROM json_each(");
    put(c, c->col);
    put(c, ", ");
    path(c, field);
    put(c, ") e WHERE ");
    eq(c, (am_str){ NULL, 0 }, v);
    put(c, ")))");
}

/* ---- The leaves (filter.h's am__fsql_dialect) ---- */

static void leaf_eq(am__fsql *w, am_str field, const am__fval *v)
{
    comp *c = (comp *)w;
    put(c, "coalesce(");
    eq(c, field, v);
    put(c, ", 0)");
}

static void leaf_cmp(am__fsql *w, am_str field, const char *op,
                     const am__fval *v)
{
    comp *c = (comp *)w;
    put(c, "coalesce(");
    cmp(c, field, op, v);
    put(c, ", 0)");
}

static void leaf_contains(am__fsql *w, am_str field, const am__fval *v)
{
    comp *c = (comp *)w;
    put(c, "coalesce(");
    contains(c, field, v);
    put(c, ", 0)");
}

static void leaf_exists(am__fsql *w, am_str field, bool present)
{
    comp *c = (comp *)w;
    type_of(c, field);
    put(c, present ? " IS NOT NULL" : " IS NULL");
}

static const am__fsql_dialect sqlite_dialect = {
    "1", "0", leaf_eq, leaf_cmp, leaf_contains, leaf_exists,
};

am_status am__sq_filter_sql(am_store *s, const am__filter *f,
                            const char *col, int first, am_buf *sql,
                            am__sqf *out)
{
    comp c = { { sql, AM_OK, &sqlite_dialect }, col, NULL, 0, 0, first,
               s->alloc };
    out->vals = NULL;
    out->n = out->cap = 0;
    am_status st = am__fsql_walk(&c.w, f->root);
    if (st == AM_OK)
        st = am_buf_reserve(sql, 0);
    if (st != AM_OK) {
        am__free(s->alloc, c.vals, c.cap * sizeof *c.vals);
        return am__fail(&AM__ERR(s), AM_ENOMEM, "search: out of memory");
    }
    sql->ptr[sql->len] = '\0';
    out->vals = c.vals;
    out->n = c.n;
    out->cap = c.cap;
    out->first = first;
    return AM_OK;
}

void am__sq_filter_bind(sqlite3_stmt *q, const am__sqf *f)
{
    for (size_t i = 0; i < f->n; i++) {
        const am__fval *v = f->vals[i];
        int idx = f->first + (int)i;
        switch (v->kind) {
        case AM__FV_STR:
            sqlite3_bind_text(q, idx, v->s.ptr, (int)v->s.len, SQLITE_STATIC);
            break;
        case AM__FV_INT:
            sqlite3_bind_int64(q, idx, v->i);
            break;
        case AM__FV_REAL:
            sqlite3_bind_double(q, idx, v->d);
            break;
        default: /* booleans and null are written into the SQL */
            break;
        }
    }
}

void am__sqf_free(am_store *s, am__sqf *f)
{
    am__free(s->alloc, f->vals, f->cap * sizeof *f->vals);
    f->vals = NULL;
    f->n = f->cap = 0;
}
