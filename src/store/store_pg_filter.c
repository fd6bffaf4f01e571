/* store_pg_filter.c -- the leaves of a search filter (filter.h) in
 * PostgreSQL's SQL, over the items' `metaj` column (meta as jsonb, with a
 * GIN index in jsonb_path_ops); am__fsql_walk writes the rest. Every leaf
 * here is true or false, never NULL, as the walk requires.
 *
 * Every field name and value of the filter travels in one text[]
 * parameter, referenced by position ($n::text[])[k], so a filter of any
 * size is one bound parameter and no byte of it is SQL syntax.
 *
 * Equality with a string, boolean, null or integer is written as jsonb
 * containment (metaj @> {"f": v} AND metaj <> '{}': the GIN index holds
 * only rows with metadata, schema 7), which the GIN index answers; a
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
    am__fsql w; /* first: a leaf's am__fsql * is this comp */
    am_buf *arr;
    const char *col;
    int param;
    int nelem;
} comp;

static void put(comp *c, const char *s)
{
    am__fsql_put(&c->w, s);
}

/* Add `v` to the array and write its reference: ($n::text[])[k]. */
static void ref(comp *c, am_str v)
{
    if (c->w.st != AM_OK)
        return;
    c->w.st = c->nelem > 0 ? am_buf_append(c->arr, ",\"", 2)
                           : am_buf_append(c->arr, "\"", 1);
    for (size_t i = 0; c->w.st == AM_OK && i < v.len; i++) {
        char ch = v.ptr[i];
        if (ch == '"' || ch == '\\')
            c->w.st = am_buf_append(c->arr, "\\", 1);
        if (c->w.st == AM_OK)
            c->w.st = am_buf_append(c->arr, &ch, 1);
    }
    if (c->w.st == AM_OK)
        c->w.st = am_buf_append(c->arr, "\"", 1);
    c->nelem++;
    if (c->w.st == AM_OK)
        c->w.st = am_buf_appendf(c->w.sql, "($%d::text[])[%d]", c->param,
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
        /* Containment: exact at this depth, and the index answers it.
         * The index holds only rows with metadata (schema 7): the
         * planner uses it only where the query says so itself, and a
         * one-field object is never contained in '{}'. */
        put(c, "(");
        put(c, c->col);
        put(c, " @> jsonb_build_object(");
        ref(c, field);
        put(c, ", (");
        ref(c, v->json);
        put(c, ")::jsonb) AND ");
        put(c, c->col);
        put(c, " <> '{}')");
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

/* ---- The leaves (filter.h's am__fsql_dialect) ---- */

static void leaf_eq(am__fsql *w, am_str field, const am__fval *v)
{
    eq((comp *)w, field, v);
}

static void leaf_cmp(am__fsql *w, am_str field, const char *op,
                     const am__fval *v)
{
    cmp((comp *)w, field, op, v);
}

static void leaf_contains(am__fsql *w, am_str field, const am__fval *v)
{
    contains((comp *)w, field, v);
}

static void leaf_exists(am__fsql *w, am_str field, bool present)
{
    comp *c = (comp *)w;
    if (!present)
        put(c, "NOT ");
    put(c, c->col);
    put(c, " ? ");
    ref(c, field);
}

static const am__fsql_dialect pg_dialect = {
    "true", "false", leaf_eq, leaf_cmp, leaf_contains, leaf_exists,
};

am_status am__pg_filter_sql(am_store *s, const am__filter *f,
                            const char *col, int param, am_buf *sql,
                            am_buf *arr)
{
    comp c = { { sql, AM_OK, &pg_dialect }, arr, col, param, 0 };
    c.w.st = am_buf_append(arr, "{", 1);
    am_status st = am__fsql_walk(&c.w, f->root);
    if (st == AM_OK)
        st = am_buf_append(arr, "}", 1);
    if (st == AM_OK)
        st = am_buf_reserve(sql, 0);
    if (st == AM_OK)
        st = am_buf_reserve(arr, 0);
    if (st != AM_OK)
        return am__fail(&AM__ERR(s), AM_ENOMEM, "search: out of memory");
    if (c.nelem == 0)
        arr->len = 0; /* nothing refers to it: not a parameter */
    sql->ptr[sql->len] = '\0';
    arr->ptr[arr->len] = '\0';
    return AM_OK;
}
