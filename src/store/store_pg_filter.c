/* store_pg_filter.c -- a parsed search filter (filter.h) as a PostgreSQL
 * condition over the items' `metaj` column (meta as jsonb, with a GIN
 * index in jsonb_path_ops).
 *
 * Every field name and value of the filter travels in one text[]
 * parameter, referenced by position ($n::text[])[k], so a filter of any
 * size is one bound parameter and no byte of it is SQL syntax.
 *
 * Equality with a string, boolean, null or integer is written as jsonb
 * containment (metaj @> {"f": v}), which the GIN index answers; a
 * containment of a scalar is exact at that depth ({"f": ["a"]} does not
 * contain {"f": "a"}), and numbers compare by value (1 = 1.0), as on
 * SQLite. A real number compares as float8, as SQLite compares doubles:
 * jsonb would compare the filter's 17-digit spelling of 0.1 with the
 * stored 0.1 and find them different. Casts sit inside CASE on
 * jsonb_typeof, because PostgreSQL does not promise to evaluate AND in
 * order and casting a string to numeric is an error, not "false".
 */
#include <string.h>

#include "filter.h"
#include "store_pg.h"

typedef struct comp {
    am_buf *sql, *arr;
    const char *col;
    int param;
    int nelem;
    am_status st;
} comp;

static void put(comp *c, const char *s)
{
    if (c->st == AM_OK)
        c->st = am_buf_append(c->sql, s, strlen(s));
}

/* Add `v` to the array and write its reference: ($n::text[])[k]. */
static void ref(comp *c, am_str v)
{
    if (c->st != AM_OK)
        return;
    c->st = c->nelem > 0 ? am_buf_append(c->arr, ",\"", 2)
                         : am_buf_append(c->arr, "\"", 1);
    for (size_t i = 0; c->st == AM_OK && i < v.len; i++) {
        char ch = v.ptr[i];
        if (ch == '"' || ch == '\\')
            c->st = am_buf_append(c->arr, "\\", 1);
        if (c->st == AM_OK)
            c->st = am_buf_append(c->arr, &ch, 1);
    }
    if (c->st == AM_OK)
        c->st = am_buf_append(c->arr, "\"", 1);
    c->nelem++;
    if (c->st == AM_OK)
        c->st = am_buf_appendf(c->sql, "($%d::text[])[%d]", c->param,
                               c->nelem);
}

/* The jsonb value at a field: (col -> 'field'). */
static void field_of(comp *c, am_str field)
{
    put(c, "(");
    put(c, c->col);
    put(c, " -> ");
    ref(c, field);
    put(c, ")");
}

/* A jsonb value: a field, or the element `e.v` (field.ptr NULL). */
static void target(comp *c, am_str field)
{
    if (field.ptr != NULL)
        field_of(c, field);
    else
        put(c, "e.v");
}

static void num_cmp(comp *c, am_str field, const char *op, const am__fval *v)
{
    const char *type = v->kind == AM__FV_INT ? "numeric" : "float8";
    put(c, "CASE WHEN jsonb_typeof(");
    target(c, field);
    put(c, ") = 'number' THEN (");
    target(c, field);
    put(c, ")::");
    put(c, type);
    put(c, op);
    put(c, "(");
    ref(c, v->json);
    put(c, ")::");
    put(c, type);
    put(c, " ELSE false END");
}

/* The value at `field` (or e.v) equals `v`; never NULL. */
static void eq(comp *c, am_str field, const am__fval *v)
{
    if (v->kind == AM__FV_REAL) {
        num_cmp(c, field, " = ", v);
        return;
    }
    if (field.ptr != NULL) {
        /* Containment: exact at this depth, and the index answers it. */
        put(c, "(");
        put(c, c->col);
        put(c, " @> jsonb_build_object(");
        ref(c, field);
        put(c, ", (");
        ref(c, v->json);
        put(c, ")::jsonb))");
        return;
    }
    if (v->kind == AM__FV_INT) {
        num_cmp(c, field, " = ", v);
        return;
    }
    put(c, "coalesce(e.v = (");
    ref(c, v->json);
    put(c, ")::jsonb, false)");
}

static void cmp(comp *c, am_str field, const char *op, const am__fval *v)
{
    if (v->kind != AM__FV_STR) {
        num_cmp(c, field, op, v);
        return;
    }
    /* Strings compare by bytes (code points), whatever the database's
     * collation, as on SQLite. */
    put(c, "CASE WHEN jsonb_typeof(");
    field_of(c, field);
    put(c, ") = 'string' THEN (");
    put(c, c->col);
    put(c, " ->> ");
    ref(c, field);
    put(c, ") COLLATE \"C\"");
    put(c, op);
    ref(c, v->s);
    put(c, " ELSE false END");
}

static void contains(comp *c, am_str field, const am__fval *v)
{
    put(c, "CASE jsonb_typeof(");
    field_of(c, field);
    put(c, ")");
    if (v->kind == AM__FV_STR) {
        put(c, " WHEN 'string' THEN strpos(");
        put(c, c->col);
        put(c, " ->> ");
        ref(c, field);
        put(c, ", ");
        ref(c, v->s);
        put(c, ") > 0");
    }
    put(c, " WHEN 'array' THEN EXISTS (SELECT 1 FROM jsonb_array_elements(");
    field_of(c, field);
    put(c, ") e(v) WHERE ");
    eq(c, (am_str){ NULL, 0 }, v);
    put(c, ") ELSE false END");
}

static void node(comp *c, const am__fnode *n)
{
    static const char *const cmp_ops[] = { " > ", " >= ", " < ", " <= " };
    switch (n->op) {
    case AM__F_AND:
    case AM__F_OR:
        if (n->nkid == 0) {
            put(c, "true");
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
        put(c, n->op == AM__F_NE ? "(NOT " : "(");
        eq(c, n->field, &n->vals[0]);
        put(c, ")");
        break;
    case AM__F_GT:
    case AM__F_GTE:
    case AM__F_LT:
    case AM__F_LTE:
        put(c, "(");
        cmp(c, n->field, cmp_ops[n->op - AM__F_GT], &n->vals[0]);
        put(c, ")");
        break;
    case AM__F_IN:
    case AM__F_NIN:
        if (n->nval == 0) {
            put(c, n->op == AM__F_IN ? "false" : "true");
            break;
        }
        put(c, n->op == AM__F_NIN ? "(NOT (" : "((");
        for (size_t i = 0; i < n->nval; i++) {
            if (i > 0)
                put(c, " OR ");
            eq(c, n->field, &n->vals[i]);
        }
        put(c, "))");
        break;
    case AM__F_CONTAINS:
        put(c, "(");
        contains(c, n->field, &n->vals[0]);
        put(c, ")");
        break;
    case AM__F_EXISTS:
        put(c, n->vals[0].b ? "(" : "(NOT ");
        put(c, c->col);
        put(c, " ? ");
        ref(c, n->field);
        put(c, ")");
        break;
    }
}

am_status am__pg_filter_sql(am_store *s, const am__filter *f,
                            const char *col, int param, am_buf *sql,
                            am_buf *arr)
{
    comp c = { sql, arr, col, param, 0, AM_OK };
    c.st = am_buf_append(arr, "{", 1);
    node(&c, f->root);
    if (c.st == AM_OK)
        c.st = am_buf_append(arr, "}", 1);
    if (c.st == AM_OK)
        c.st = am_buf_reserve(sql, 0);
    if (c.st == AM_OK)
        c.st = am_buf_reserve(arr, 0);
    if (c.st != AM_OK)
        return am__fail(&AM__ERR(s), AM_ENOMEM, "search: out of memory");
    if (c.nelem == 0)
        arr->len = 0; /* nothing refers to it: not a parameter */
    sql->ptr[sql->len] = '\0';
    arr->ptr[arr->len] = '\0';
    return AM_OK;
}
