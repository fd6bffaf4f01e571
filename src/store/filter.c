/* filter.c -- parse the metadata filter of a search into a tree.
 *
 * One parser for every backend: the front end reads the JSON once, checks
 * every operator and value, and hands the tree to the backend, which turns
 * it into SQL (so a filtered search is cut by LIMIT after the filter, not
 * before). Errors name the operator or field and where it sits in the
 * filter, as a path: "$or[1].age.$gt".
 *
 * Implicit equality with an array or an object is refused rather than
 * guessed at: SQLite and PostgreSQL disagree on what equal JSON documents
 * are (key order, number spelling), and $contains says what is usually
 * meant ("tags holds x").
 */
#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/json_glue.h"
#include "filter.h"

typedef struct parser {
    am__arena *ar;
    am_error *err;
    size_t nodes;
    char path[160];
} parser;

static const char *const op_names[] = {
    [AM__F_AND] = "$and", [AM__F_OR] = "$or", [AM__F_NOT] = "$not",
    [AM__F_EQ] = "$eq", [AM__F_NE] = "$ne", [AM__F_GT] = "$gt",
    [AM__F_GTE] = "$gte", [AM__F_LT] = "$lt", [AM__F_LTE] = "$lte",
    [AM__F_IN] = "$in", [AM__F_NIN] = "$nin",
    [AM__F_CONTAINS] = "$contains", [AM__F_EXISTS] = "$exists",
};
static const am__names ops = AM__NAMES("operator", op_names);

const char *am__fop_name(am__fop op)
{
    return am__name_of(&ops, (int)op);
}

static int find_op(const char *name, am__fop *op)
{
    int v = am__name_find(&ops, am_str_c(name));
    if (v < 0)
        return 0;
    *op = (am__fop)v;
    return 1;
}

/* ---- The path in messages ---- */

/* Append ".name" (or "name" at the root) or "[i]" to the path; returns
 * the old length to restore. A path too long for the buffer ends in
 * "...": messages stay readable, and the start locates the problem. */
static size_t path_push(parser *p, const char *name, long idx)
{
    size_t old = strlen(p->path), room = sizeof p->path - old;
    int n = name != NULL
                ? snprintf(p->path + old, room, "%s%s", old > 0 ? "." : "",
                           name)
                : snprintf(p->path + old, room, "[%ld]", idx);
    if (n < 0 || (size_t)n >= room)
        memcpy(p->path + sizeof p->path - 4, "...", 4);
    return old;
}

static void path_pop(parser *p, size_t old)
{
    p->path[old] = '\0';
}

static am_status fail(parser *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static am_status fail(parser *p, const char *fmt, ...)
{
    char msg[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return am__fail(p->err, AM_EFORMAT, "search filter: %s at '%s'", msg,
                    p->path[0] != '\0' ? p->path : "$");
}

static const char *json_kind(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "an array";
    case JSON_STRING: return "a string";
    case JSON_INTEGER:
    case JSON_REAL: return "a number";
    case JSON_TRUE:
    case JSON_FALSE: return "a boolean";
    default: return "null";
    }
}

/* ---- Nodes ---- */

static am__fnode *new_nodes(parser *p, size_t n)
{
    if (p->nodes + n > AM__FILTER_MAX_NODES) {
        fail(p, "more than %d conditions and values",
             AM__FILTER_MAX_NODES);
        return NULL;
    }
    p->nodes += n;
    am__fnode *v = am__arena_alloc(p->ar, (n > 0 ? n : 1) * sizeof *v);
    if (v == NULL) {
        am__fail(p->err, AM_ENOMEM, "search filter: out of memory");
        return NULL;
    }
    memset(v, 0, (n > 0 ? n : 1) * sizeof *v);
    return v;
}

/* The nodes for the `count` members of one object (a field's operators,
 * a filter object's conditions), which must all hold: `n` itself when
 * there is one, else new nodes that all_of joins under `n`. NULL on
 * error (in p->err). */
static am__fnode *members(parser *p, am__fnode *n, size_t count)
{
    return count > 1 ? new_nodes(p, count) : n;
}

static void all_of(am__fnode *n, am__fnode *kids, size_t count)
{
    if (count > 1) {
        n->op = AM__F_AND;
        n->kids = kids;
        n->nkid = count;
    }
}

/* Copy the scalar `v` into `out`; `op` names the operator for messages. */
static am_status scalar(parser *p, const json_t *v, const char *op,
                        am__fval *out)
{
    memset(out, 0, sizeof *out);
    switch (json_typeof(v)) {
    case JSON_STRING:
        out->kind = AM__FV_STR;
        out->s.len = json_string_length(v);
        out->s.ptr = am__arena_strndup(p->ar, json_string_value(v),
                                       out->s.len);
        if (out->s.ptr == NULL)
            return am__fail(p->err, AM_ENOMEM, "search filter: out of memory");
        break;
    case JSON_INTEGER:
        out->kind = AM__FV_INT;
        out->i = json_integer_value(v);
        break;
    case JSON_REAL:
        out->kind = AM__FV_REAL;
        out->d = json_real_value(v);
        break;
    case JSON_TRUE:
    case JSON_FALSE:
        out->kind = AM__FV_BOOL;
        out->b = json_is_true(v);
        break;
    case JSON_NULL:
        out->kind = AM__FV_NULL;
        break;
    default:
        return fail(p, "%s compares with a string, number, boolean or "
                    "null, not %s", op, json_kind(v));
    }
    if (am__json_dump_arena(p->ar, v, JSON_ENCODE_ANY | JSON_COMPACT,
                            &out->json, NULL) != AM_OK)
        return am__fail(p->err, AM_ENOMEM, "search filter: out of memory");
    return AM_OK;
}

/* The condition `op` on `field` with the operand `v`, into `n`. */
static am_status comparison(parser *p, am_str field, am__fop op,
                            const json_t *v, am__fnode *n)
{
    const char *name = am__fop_name(op);
    am__fval *vals;
    n->op = op;
    n->field = field;
    if (op == AM__F_IN || op == AM__F_NIN) {
        if (!json_is_array(v)) {
            return fail(p, "%s takes an array, not %s", name,
                        json_kind(v));
        }
        size_t count = json_array_size(v);
        if (new_nodes(p, count) == NULL) /* counts toward the limit */
            return p->err->code;
        vals = am__arena_alloc(p->ar, (count > 0 ? count : 1) * sizeof *vals);
        if (vals == NULL)
            return am__fail(p->err, AM_ENOMEM, "search filter: out of memory");
        for (size_t i = 0; i < count; i++) {
            size_t old = path_push(p, NULL, (long)i);
            am_status st = scalar(p, json_array_get(v, i), name, &vals[i]);
            path_pop(p, old);
            if (st != AM_OK)
                return st;
        }
        n->vals = vals;
        n->nval = count;
        return AM_OK;
    }
    vals = am__arena_alloc(p->ar, sizeof *vals);
    if (vals == NULL)
        return am__fail(p->err, AM_ENOMEM, "search filter: out of memory");
    n->vals = vals;
    n->nval = 1;
    if (op == AM__F_EXISTS) {
        if (!json_is_boolean(v))
            return fail(p, "$exists takes true or false, not %s",
                        json_kind(v));
        return scalar(p, v, name, vals);
    }
    am_status st = scalar(p, v, name, vals);
    if (st == AM_OK && op >= AM__F_GT && op <= AM__F_LTE &&
        vals->kind != AM__FV_INT && vals->kind != AM__FV_REAL &&
        vals->kind != AM__FV_STR) {
        return fail(p, "%s compares with a number or a string, not %s",
                    name, json_kind(v));
    }
    return st;
}

static am_status object(parser *p, json_t *obj, size_t depth,
                        am__fnode *n);

/* A field's condition: a scalar (equality) or an operator object. */
static am_status field_cond(parser *p, const char *key, json_t *v,
                            am__fnode *n)
{
    am_str field = { key, strlen(key) };
    if (field.len == 0)
        return fail(p, "a field name is empty");
    /* SQLite's JSON paths quote a key in '"' with no escape: a field
     * holding one could not be named there. */
    for (size_t i = 0; i < field.len; i++)
        if (key[i] == '"' || key[i] == '\\' || (unsigned char)key[i] < 0x20)
            return fail(p, "a field name may not hold '\"', '\\' or "
                        "control characters");
    field.ptr = am__arena_strndup(p->ar, key, field.len);
    if (field.ptr == NULL)
        return am__fail(p->err, AM_ENOMEM, "search filter: out of memory");
    if (!json_is_object(v)) {
        if (json_is_array(v))
            return fail(p, "a field compares with a string, number, "
                        "boolean or null, not an array (use $contains or "
                        "$in)");
        return comparison(p, field, AM__F_EQ, v, n);
    }
    size_t count = json_object_size(v);
    if (count == 0)
        return fail(p, "an operator object is empty");
    const char *k;
    json_t *operand;
    am__fnode *kids = members(p, n, count);
    if (kids == NULL)
        return p->err->code;
    size_t i = 0;
    json_object_foreach(v, k, operand) {
        am__fop op;
        size_t old = path_push(p, k, 0);
        am_status st = AM_OK;
        if (k[0] != '$')
            st = fail(p, "a field compares with a string, number, "
                      "boolean or null, not an object (operators start with "
                      "'$')");
        else if (!find_op(k, &op))
            st = fail(p, "unknown operator '%s'", k);
        else if (op == AM__F_AND || op == AM__F_OR || op == AM__F_NOT)
            st = fail(p, "'%s' combines filters, it does not apply to a "
                      "field", k);
        else
            st = comparison(p, field, op, operand, &kids[i++]);
        path_pop(p, old);
        if (st != AM_OK)
            return st;
    }
    all_of(n, kids, count);
    return AM_OK;
}

/* $and / $or: a non-empty array of filter objects. */
static am_status combine(parser *p, am__fop op, json_t *v,
                         size_t depth, am__fnode *n)
{
    const char *name = am__fop_name(op);
    if (!json_is_array(v) || json_array_size(v) == 0) {
        return fail(p, "%s takes a non-empty array of filters, not %s",
                    name, json_is_array(v) ? "an empty one" : json_kind(v));
    }
    size_t count = json_array_size(v);
    am__fnode *kids = new_nodes(p, count);
    if (kids == NULL)
        return p->err->code;
    for (size_t i = 0; i < count; i++) {
        size_t old = path_push(p, NULL, (long)i);
        am_status st = object(p, json_array_get(v, i), depth + 1, &kids[i]);
        path_pop(p, old);
        if (st != AM_OK)
            return st;
    }
    n->op = op;
    n->kids = kids;
    n->nkid = count;
    return AM_OK;
}

/* A filter object: every member holds. */
static am_status object(parser *p, json_t *obj, size_t depth,
                        am__fnode *n)
{
    if (!json_is_object(obj))
        return fail(p, "expected a filter object, not %s", json_kind(obj));
    if (depth > AM__FILTER_MAX_DEPTH) {
        return fail(p, "nested more than %d levels deep",
                    AM__FILTER_MAX_DEPTH);
    }
    size_t count = json_object_size(obj);
    if (count == 0) {
        n->op = AM__F_AND; /* no condition: true */
        n->nkid = 0;
        return AM_OK;
    }
    am__fnode *kids = members(p, n, count);
    if (kids == NULL)
        return p->err->code;
    const char *k;
    json_t *v;
    size_t i = 0;
    json_object_foreach(obj, k, v) {
        am__fnode *kid = &kids[i++];
        size_t old = path_push(p, k, 0);
        am__fop op;
        am_status st;
        if (k[0] != '$') {
            st = field_cond(p, k, v, kid);
        } else if (!find_op(k, &op)) {
            st = fail(p, "unknown operator '%s'", k);
        } else if (op == AM__F_AND || op == AM__F_OR) {
            st = combine(p, op, v, depth, kid);
        } else if (op == AM__F_NOT) {
            am__fnode *inner = new_nodes(p, 1);
            st = inner == NULL ? p->err->code
                               : object(p, v, depth + 1, inner);
            kid->op = AM__F_NOT;
            kid->kids = inner;
            kid->nkid = 1;
        } else {
            st = fail(p, "'%s' applies to a field: write "
                      "{\"field\": {\"%s\": ...}}", k, k);
        }
        path_pop(p, old);
        if (st != AM_OK)
            return st;
    }
    all_of(n, kids, count);
    return AM_OK;
}

/* ---- Entry points ---- */

am_status am__filter_parse(const am_allocator *a, am_str text,
                           am__filter **out, am_error *err)
{
    json_t *j = NULL;
    am__filter *f = NULL;
    am_status st;
    *out = NULL;
    if (text.len == 0)
        return AM_OK;
    st = am__json_parse(text, "search filter", &j, err);
    if (st != AM_OK)
        return st;
    if (!json_is_object(j)) {
        json_decref(j);
        return am__fail(err, AM_EFORMAT,
                        "search filter: must be a JSON object");
    }
    if (json_object_size(j) == 0) {
        json_decref(j);
        return AM_OK;
    }
    f = am__alloc(a, sizeof *f);
    if (f == NULL) {
        json_decref(j);
        return am__fail(err, AM_ENOMEM, "search filter: out of memory");
    }
    am__arena_init(&f->ar, a, 1024);
    parser p = { &f->ar, err, 0, "" };
    am__fnode *root = new_nodes(&p, 1);
    st = root == NULL ? err->code : object(&p, j, 1, root);
    json_decref(j);
    if (st != AM_OK) {
        am__filter_free(f);
        return st;
    }
    f->root = root;
    *out = f;
    return AM_OK;
}

void am__filter_free(am__filter *f)
{
    if (f == NULL)
        return;
    const am_allocator *a = f->ar.alloc;
    am__arena_free(&f->ar);
    am__free(a, f, sizeof *f);
}

/* ---- The walk into SQL ---- */

void am__fsql_put(am__fsql *w, const char *s)
{
    if (w->st == AM_OK)
        w->st = am_buf_append(w->sql, s, strlen(s));
}

static void walk(am__fsql *w, const am__fnode *n)
{
    static const char *const cmp_ops[] = { " > ", " >= ", " < ", " <= " };
    const am__fsql_dialect *d = w->d;
    switch (n->op) {
    case AM__F_AND:
    case AM__F_OR:
        if (n->nkid == 0) { /* only {} parses to this: no condition */
            am__fsql_put(w, d->true_sql);
            break;
        }
        am__fsql_put(w, "(");
        for (size_t i = 0; i < n->nkid; i++) {
            if (i > 0)
                am__fsql_put(w, n->op == AM__F_AND ? " AND " : " OR ");
            walk(w, &n->kids[i]);
        }
        am__fsql_put(w, ")");
        break;
    case AM__F_NOT:
        assert(n->nkid == 1);
        am__fsql_put(w, "(NOT ");
        walk(w, &n->kids[0]);
        am__fsql_put(w, ")");
        break;
    case AM__F_EQ:
    case AM__F_NE:
        am__fsql_put(w, n->op == AM__F_NE ? "(NOT " : "(");
        d->eq(w, n->field, &n->vals[0]);
        am__fsql_put(w, ")");
        break;
    case AM__F_GT:
    case AM__F_GTE:
    case AM__F_LT:
    case AM__F_LTE:
        am__fsql_put(w, "(");
        d->cmp(w, n->field, cmp_ops[n->op - AM__F_GT], &n->vals[0]);
        am__fsql_put(w, ")");
        break;
    case AM__F_IN:
    case AM__F_NIN:
        if (n->nval == 0) { /* in nothing: false; not in nothing: true */
            am__fsql_put(w, n->op == AM__F_IN ? d->false_sql : d->true_sql);
            break;
        }
        am__fsql_put(w, n->op == AM__F_NIN ? "(NOT (" : "((");
        for (size_t i = 0; i < n->nval; i++) {
            if (i > 0)
                am__fsql_put(w, " OR ");
            d->eq(w, n->field, &n->vals[i]);
        }
        am__fsql_put(w, "))");
        break;
    case AM__F_CONTAINS:
        am__fsql_put(w, "(");
        d->contains(w, n->field, &n->vals[0]);
        am__fsql_put(w, ")");
        break;
    case AM__F_EXISTS:
        assert(n->nval == 1 && n->vals[0].kind == AM__FV_BOOL);
        am__fsql_put(w, "(");
        d->exists(w, n->field, n->vals[0].b != 0);
        am__fsql_put(w, ")");
        break;
    }
}

am_status am__fsql_walk(am__fsql *w, const am__fnode *root)
{
    assert(w->d != NULL && root != NULL);
    walk(w, root);
    return w->st;
}
