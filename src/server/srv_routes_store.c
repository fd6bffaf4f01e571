/* srv_routes_store.c -- the store's items, namespaces, history, undo and
 * search over HTTP.
 *
 * Each handler reads its fields from the JSON body (namespaces as arrays of
 * strings, since a part may hold any byte, '/' included), calls the public
 * store API once, and answers JSON. Namespaces go through srv_ns, which
 * puts the caller's tenant in front: that one function is what keeps
 * tenants apart on these routes.
 */
#include <stdlib.h>
#include <string.h>

#include "srv_int.h"

/* A vector field: an array of numbers, into a malloc'ed float array. */
static bool vector_of(srv_call *c, const char *field, float **vec,
                      size_t *dim)
{
    json_t *v = json_object_get(c->body, field);
    size_t i;
    json_t *x;

    *vec = NULL;
    *dim = 0;
    if (v == NULL || json_is_null(v))
        return true;
    if (!json_is_array(v) || json_array_size(v) == 0 ||
        json_array_size(v) > 65536)
        return srv_fail(c, 400, field, "field '%s' must be an array of 1 "
                        "to 65536 numbers", field);
    *vec = malloc(json_array_size(v) * sizeof **vec);
    if (*vec == NULL)
        return srv_fail(c, 503, field, "out of memory");
    json_array_foreach(v, i, x) {
        if (!json_is_number(x)) {
            free(*vec);
            *vec = NULL;
            return srv_fail(c, 400, field, "field '%s': element %zu is not "
                            "a number", field, i);
        }
        (*vec)[i] = (float)json_number_value(x);
    }
    *dim = json_array_size(v);
    return true;
}

bool srv_put_read(srv_call *c, srv_put *p)
{
    memset(p, 0, sizeof *p);
    if (!srv_ns(c, "ns", 1, p->parts, &p->it.ns) ||
        !srv_str(c, "key", true, &p->it.key) ||
        !srv_json_text(c, "value", true, &p->value) ||
        !srv_object_text(c, "meta", &p->meta) ||
        !srv_str(c, "text", false, &p->it.text) ||
        !srv_int64(c, "ttl_ms", &p->it.ttl_ms) ||
        !vector_of(c, "vector", &p->vec, &p->it.dim))
        return false;
    p->it.value = am_str_c(p->value);
    if (p->meta != NULL)
        p->it.meta = am_str_c(p->meta);
    p->it.vec = p->vec;
    return true;
}

void srv_put_free(srv_put *p)
{
    free(p->value);
    free(p->meta);
    free(p->vec);
    memset(p, 0, sizeof *p);
}

bool srv_put_reply(srv_call *c, am_status st, const am_error *err)
{
    if (st != AM_OK)
        return srv_fail_status(c, st, err, "put");
    return srv_ok(c, json_pack("{s:b}", "ok", 1));
}

bool srv_r_put(srv_call *c)
{
    srv_put p;
    bool ok = srv_put_read(c, &p) &&
              srv_put_reply(c, am_store_put(c->store, &p.it), NULL);
    srv_put_free(&p);
    return ok;
}

/* An item's address from the body: "ns" (at least one part, under the
 * caller's tenant) and "key". False when the reply is already an error. */
static bool item_addr(srv_call *c, am_str *parts, am_ns *ns, am_str *key)
{
    *key = (am_str){ 0 };
    return srv_ns(c, "ns", 1, parts, ns) && srv_str(c, "key", true, key);
}

/* Get and history: one read of one item into *r (yours on true). False
 * when the reply is already an error. */
static bool item_read(srv_call *c,
                      am_status (*op)(am_store *, am_ns, am_str,
                                      am_results **),
                      const char *what, am_results **r)
{
    am_str parts[AM_STORE_MAX_NS_PARTS], key;
    am_ns ns;
    am_status st;

    *r = NULL;
    if (!item_addr(c, parts, &ns, &key))
        return false;
    st = op(c->store, ns, key, r);
    if (st != AM_OK)
        return srv_fail_status(c, st, NULL, what);
    return true;
}

bool srv_r_get(srv_call *c)
{
    am_results *r;
    json_t *arr;

    if (!item_read(c, am_store_get_item, "get", &r))
        return false;
    if (c->text_ok) {
        /* The one item's object, as the library wrote it. */
        am_buf text = AM_BUF_INIT;
        bool ok = srv_results_text(c, r, false, NULL, NULL, true, &text) &&
                  srv_ok_text(c, &text);
        am_buf_free(&text);
        am_results_free(r);
        return ok;
    }
    arr = srv_results_json(c, r, false);
    am_results_free(r);
    if (arr == NULL)
        return false;
    {
        bool ok = srv_ok(c, json_incref(json_array_get(arr, 0)));
        json_decref(arr);
        return ok;
    }
}

/* Delete and undo: one call on one item, answered {"ok": true}. */
static bool item_write(srv_call *c,
                       am_status (*op)(am_store *, am_ns, am_str),
                       const char *what)
{
    am_str parts[AM_STORE_MAX_NS_PARTS], key;
    am_ns ns;
    am_status st;

    if (!item_addr(c, parts, &ns, &key))
        return false;
    st = op(c->store, ns, key);
    if (st != AM_OK)
        return srv_fail_status(c, st, NULL, what);
    return srv_ok(c, json_pack("{s:b}", "ok", 1));
}

bool srv_r_delete(srv_call *c)
{
    return item_write(c, am_store_delete, "delete");
}

bool srv_r_undo(srv_call *c)
{
    return item_write(c, am_store_undo, "undo");
}

bool srv_r_history(srv_call *c)
{
    am_results *r;
    json_t *arr;

    if (!item_read(c, am_store_history, "history", &r))
        return false;
    arr = srv_results_json(c, r, false);
    am_results_free(r);
    return arr != NULL && srv_ok(c, json_pack("{s:o}", "history", arr));
}

bool srv_r_list(srv_call *c)
{
    am_str parts[AM_STORE_MAX_NS_PARTS];
    am_ns ns;
    size_t limit = 100, offset = 0;
    am_results *r = NULL;
    json_t *arr, *reply;
    am_status st;

    if (!srv_ns(c, "ns", 0, parts, &ns) ||
        !srv_size(c, "limit", 1000, &limit) ||
        !srv_size(c, "offset", (size_t)1 << 40, &offset))
        return false;
    if (limit == 0)
        limit = 100;
    /* One more than asked tells whether a next page exists. */
    st = am_store_list(c->store, ns, limit + 1, offset, &r);
    if (st != AM_OK)
        return srv_fail_status(c, st, NULL, "list");
    arr = srv_results_json(c, r, false);
    am_results_free(r);
    if (arr == NULL)
        return false;
    reply = json_object();
    if (reply != NULL && json_array_size(arr) > limit) {
        json_array_remove(arr, limit);
        json_object_set_new(reply, "next_offset",
                            json_integer((json_int_t)(offset + limit)));
    }
    if (reply != NULL)
        json_object_set_new(reply, "items", arr);
    else
        json_decref(arr);
    return srv_ok(c, reply);
}

bool srv_r_namespaces(srv_call *c)
{
    am_str parts[AM_STORE_MAX_NS_PARTS];
    am_ns ns;
    size_t depth = 0, limit = 1000;
    am_results *r = NULL;
    json_t *arr, *out;
    size_t i;
    json_t *it;
    am_status st;

    if (!srv_ns(c, "prefix", 0, parts, &ns) ||
        !srv_size(c, "max_depth", AM_STORE_MAX_NS_PARTS, &depth) ||
        !srv_size(c, "limit", 10000, &limit))
        return false;
    /* The tenant's own part does not count towards the client's depth. */
    if (depth > 0 && c->tenant->name[0] != '\0')
        depth++;
    st = am_store_namespaces(c->store, ns, depth, limit, &r);
    if (st != AM_OK)
        return srv_fail_status(c, st, NULL, "namespaces");
    arr = srv_results_json(c, r, false);
    am_results_free(r);
    if (arr == NULL)
        return false;
    out = json_array();
    json_array_foreach(arr, i, it)
        json_array_append(out, json_object_get(it, "namespace"));
    json_decref(arr);
    return srv_ok(c, json_pack("{s:o}", "namespaces", out));
}

static bool mode_of(srv_call *c, am_search_mode *mode)
{
    am_str m = { 0 };
    if (!srv_str(c, "mode", false, &m))
        return false;
    if (m.ptr == NULL || (m.len == 6 && memcmp(m.ptr, "hybrid", 6) == 0))
        *mode = AM_SEARCH_HYBRID;
    else if (m.len == 4 && memcmp(m.ptr, "text", 4) == 0)
        *mode = AM_SEARCH_TEXT;
    else if (m.len == 6 && memcmp(m.ptr, "vector", 6) == 0)
        *mode = AM_SEARCH_VECTOR;
    else
        return srv_fail(c, 400, "mode", "field 'mode' must be \"hybrid\", "
                        "\"text\" or \"vector\"");
    return true;
}

bool srv_r_search(srv_call *c)
{
    am_str parts[AM_STORE_MAX_NS_PARTS];
    am_search q;
    char *filter = NULL;
    float *vec = NULL;
    am_results *r = NULL;
    json_t *arr;
    bool ok = false;
    am_status st;

    memset(&q, 0, sizeof q);
    if (!srv_ns(c, "ns", 0, parts, &q.ns) ||
        !srv_str(c, "query", false, &q.query) ||
        !mode_of(c, &q.mode) ||
        !srv_size(c, "limit", 1000, &q.limit) ||
        !srv_object_text(c, "filter", &filter) ||
        !vector_of(c, "vector", &vec, &q.dim) ||
        !srv_names(c, &q.names_field, &q.names_bonus) ||
        !srv_unit(c, "min_score", &q.min_score))
        goto out;
    if (q.query.ptr == NULL && vec == NULL) {
        srv_fail(c, 400, "query", "field 'query' (or 'vector') is required");
        goto out;
    }
    if (filter != NULL)
        q.filter = am_str_c(filter);
    q.vec = vec;
    st = am_store_search(c->store, &q, &r);
    if (st != AM_OK) {
        srv_fail_status(c, st, NULL, "search");
        goto out;
    }
    if (c->text_ok) {
        am_buf text = AM_BUF_INIT;
        ok = srv_results_text(c, r, true, "{\"results\":", "}", false,
                              &text) && srv_ok_text(c, &text);
        am_buf_free(&text);
        am_results_free(r);
        goto out;
    }
    arr = srv_results_json(c, r, true);
    am_results_free(r);
    ok = arr != NULL && srv_ok(c, json_pack("{s:o}", "results", arr));
out:
    free(filter);
    free(vec);
    return ok;
}
