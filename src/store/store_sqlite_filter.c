/* store_sqlite_filter.c -- a parsed search filter (filter.h) as an SQLite
 * condition over the items' meta column, with json_type / json_extract.
 *
 * Types are checked with json_type, because json_extract alone maps
 * true to 1 and a missing field to NULL: {"f": 1} must not match
 * {"f": true}, and $ne must match an item without the field. Every
 * condition is wrapped so that it is 0 or 1, never NULL, so NOT means
 * "not" (NOT NULL would reject the row).
 */
#include <string.h>

#include "store_sqlite_search.h"

typedef struct comp {
    am_buf *sql;
    const char *col;
    const am__fval **vals; /* bound in this order from `first` */
    size_t n, cap;
    int first;
    const am_allocator *a;
    am_status st;
} comp;

static void put(comp *c, const char *s)
{
    if (c->st == AM_OK)
        c->st = am_buf_append(c->sql, s, strlen(s));
}

/* A placeholder for `v`: ?NNN, bound by am__sq_filter_bind. */
static void param(comp *c, const am__fval *v)
{
    if (c->st != AM_OK)
        return;
    if (c->n == c->cap)
        c->st = am__grow(c->a, (void **)&c->vals, &c->cap, c->n + 1,
                         sizeof *c->vals);
    if (c->st != AM_OK)
        return;
    c->vals[c->n] = v;
    c->st = am_buf_appendf(c->sql, "?%d", c->first + (int)c->n);
    c->n++;
}

/* The JSON path of a top-level key: '$."key"' as an SQL literal (the
 * parser refused '"', '\' and control characters in names). */
static void path(comp *c, am_str field)
{
    put(c, "'$.\"");
    for (size_t i = 0; c->st == AM_OK && i < field.len; i++)
        c->st = field.ptr[i] == '\''
                    ? am_buf_append(c->sql, "''", 2)
                    : am_buf_append(c->sql, &field.ptr[i], 1);
    put(c, "\"'");
}

/* json_type(col, path) */
static void type_of(comp *c, am_str field)
{
    put(c, "json_type(");
    put(c, c->col);
    put(c, ", ");
    path(c, field);
    put(c, ")");
}

static void value_of(comp *c, am_str field)
{
    put(c, "json_extract(");
    put(c, c->col);
    put(c, ", ");
    path(c, field);
    put(c, ")");
}

/* A JSON value, either a field (`field`) or an element of json_each
 * (field.ptr NULL: columns e.type and e.value). */
static void t_expr(comp *c, am_str field)
{
    if (field.ptr != NULL)
        type_of(c, field);
    else
        put(c, "e.type");
}

static void v_expr(comp *c, am_str field)
{
    if (field.ptr != NULL)
        value_of(c, field);
    else
        put(c, "e.value");
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

static void node(comp *c, const am__fnode *n)
{
    static const char *const cmp_ops[] = { " > ", " >= ", " < ", " <= " };
    switch (n->op) {
    case AM__F_AND:
    case AM__F_OR:
        if (n->nkid == 0) {
            put(c, "1");
            break;
        }
        put(c, "(");
        for (size_t i = 0; i < n->nkid; i++) {
            if (i > 0)
                put(c, n->op == AM__F_AND ? " AND " : " OR ");
            node(c, &n->kids[i]);
        }
        put(c, ")");
        break;
    case AM__F_NOT:
        put(c, "(NOT ");
        node(c, &n->kids[0]);
        put(c, ")");
        break;
    case AM__F_EQ:
    case AM__F_NE:
        put(c, n->op == AM__F_NE ? "(NOT coalesce(" : "coalesce(");
        eq(c, n->field, &n->vals[0]);
        put(c, n->op == AM__F_NE ? ", 0))" : ", 0)");
        break;
    case AM__F_GT:
    case AM__F_GTE:
    case AM__F_LT:
    case AM__F_LTE:
        put(c, "coalesce(");
        cmp(c, n->field, cmp_ops[n->op - AM__F_GT], &n->vals[0]);
        put(c, ", 0)");
        break;
    case AM__F_IN:
    case AM__F_NIN:
        if (n->nval == 0) { /* in nothing: false */
            put(c, n->op == AM__F_IN ? "0" : "1");
            break;
        }
        put(c, n->op == AM__F_NIN ? "(NOT coalesce(" : "coalesce(");
        put(c, "(");
        for (size_t i = 0; i < n->nval; i++) {
            if (i > 0)
                put(c, " OR ");
            eq(c, n->field, &n->vals[i]);
        }
        put(c, n->op == AM__F_NIN ? "), 0))" : "), 0)");
        break;
    case AM__F_CONTAINS:
        put(c, "coalesce(");
        contains(c, n->field, &n->vals[0]);
        put(c, ", 0)");
        break;
    case AM__F_EXISTS:
        put(c, "(");
        type_of(c, n->field);
        put(c, n->vals[0].b ? " IS NOT NULL)" : " IS NULL)");
        break;
    }
}

am_status am__sq_filter_sql(am_store *s, const am__filter *f,
                            const char *col, int first, am_buf *sql,
                            am__sqf *out)
{
    comp c = { sql, col, NULL, 0, 0, first, s->alloc, AM_OK };
    out->vals = NULL;
    out->n = out->cap = 0;
    node(&c, f->root);
    if (c.st == AM_OK)
        c.st = am_buf_reserve(sql, 0);
    if (c.st != AM_OK) {
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
