/* store_results.c -- result lists: one arena per list, and their JSON;
 * the public readers (get_item, history, list, namespaces) around a
 * backend's rows.
 *
 * A result list owns everything its items point to: the strings live in an
 * arena, the item array is grown with the store's allocator, and the two
 * are freed together by am_results_free.
 */
#include <string.h>

#include "core/json_glue.h"
#include "store_int.h"

typedef struct rpriv {
    am__arena ar;
    size_t cap;
    const am_allocator *alloc;
} rpriv;

am_status am__rb_init(am__rbuild *b, const am_allocator *a)
{
    memset(b, 0, sizeof *b);
    b->alloc = am__allocator(a);
    b->r = am__calloc(b->alloc, 1, sizeof *b->r);
    if (b->r == NULL)
        return AM_ENOMEM;
    am__arena_init(&b->ar, b->alloc, 8192);
    return AM_OK;
}

am_str am__rb_str(am__rbuild *b, const void *p, size_t len)
{
    am_str r = { NULL, 0 };
    char *d = am__arena_strndup(&b->ar, p != NULL ? p : "", p ? len : 0);
    if (d != NULL) {
        r.ptr = d;
        r.len = p != NULL ? len : 0;
    }
    return r;
}

am_results *am__rb_finish(am__rbuild *b)
{
    /* The private part lives in its own arena allocation. */
    rpriv *p = am__arena_alloc(&b->ar, sizeof *p);
    if (p == NULL) {
        am__rb_abort(b);
        return NULL;
    }
    p->ar = b->ar;
    p->cap = b->cap;
    p->alloc = b->alloc;
    b->r->priv_ = p;
    am_results *r = b->r;
    b->r = NULL;
    return r;
}

void am__rb_abort(am__rbuild *b)
{
    if (b->r != NULL) {
        am__free(b->alloc, b->r->items, b->cap * sizeof(am_item));
        am__free(b->alloc, b->r, sizeof *b->r);
        b->r = NULL;
    }
    am__arena_free(&b->ar);
}

/* ---- What every backend's readers share ---- */

am_status am__rb_begin(am_store *s, am__rbuild *b, am_results **out,
                       const char *what)
{
    if (out == NULL)
        return am__fail(&AM__ERR(s), AM_EINVAL, "%s: NULL results", what);
    *out = NULL;
    if (am__rb_init(b, s->alloc) != AM_OK)
        return am__fail(&AM__ERR(s), AM_ENOMEM, "%s: out of memory", what);
    return AM_OK;
}

am_status am__rb_end(am_store *s, am__rbuild *b, am_status st,
                     am_results **out, const char *what)
{
    if (st != AM_OK) {
        am__rb_abort(b);
        return st;
    }
    *out = am__rb_finish(b);
    if (*out == NULL)
        return am__fail(&AM__ERR(s), AM_ENOMEM, "%s: out of memory", what);
    return AM_OK;
}

/* ---- The public readers: the envelope around a backend's rows ---- */

/* A backend read that appends to `b`; `arg` is the call's arguments. */
typedef am_status (*reader)(am_store *s, const void *arg, am__rbuild *b);

/* Under the store's lock: fresh results, `rd`'s rows into them, and
 * *out set (on success) or cleared, as every reader of the API does. */
static am_status read_results(am_store *s, reader rd, const void *arg,
                              am_results **out, const char *what)
{
    am__rbuild b;
    am_status st;

    if (s == NULL)
        return AM_EINVAL;
    STORE_LOCK(s);
    st = am__rb_begin(s, &b, out, what);
    if (st == AM_OK)
        st = am__rb_end(s, &b, rd(s, arg, &b), out, what);
    STORE_UNLOCK(s);
    return st;
}

typedef struct item_arg {
    am_ns ns;
    am_str key;
} item_arg;

static am_status read_item(am_store *s, const void *arg, am__rbuild *b)
{
    const item_arg *a = arg;
    return s->be->get_item(s, a->ns, a->key, b);
}

am_status am_store_get_item(am_store *s, am_ns ns, am_str key,
                            am_results **out)
{
    item_arg a = { ns, key };
    return read_results(s, read_item, &a, out, "get");
}

static am_status read_history(am_store *s, const void *arg, am__rbuild *b)
{
    const item_arg *a = arg;
    return s->be->history(s, a->ns, a->key, b);
}

am_status am_store_history(am_store *s, am_ns ns, am_str key,
                           am_results **out)
{
    item_arg a = { ns, key };
    return read_results(s, read_history, &a, out, "history");
}

/* List and namespaces: a namespace prefix (root allowed) as its encoded
 * range, and counts (0: the default). */
typedef struct range_arg {
    am_ns ns;
    size_t count, limit; /* list: offset, limit; namespaces: depth, limit */
    am_status (*op)(am_store *s, am_str lo, am_str hi, size_t count,
                    size_t limit, am__rbuild *b);
} range_arg;

static am_status read_range(am_store *s, const void *arg, am__rbuild *b)
{
    const range_arg *a = arg;
    am_buf lo = AM_BUF_INIT, hi = AM_BUF_INIT;
    lo.alloc = hi.alloc = s->alloc;
    am_status st = am__store_ns_range(s, a->ns, &lo, &hi);
    if (st == AM_OK)
        st = a->op(s, (am_str){ lo.ptr, lo.len }, (am_str){ hi.ptr, hi.len },
                   a->count, a->limit, b);
    am_buf_free(&lo);
    am_buf_free(&hi);
    return st;
}

/* The backend's list with the arguments in range_arg's order. */
static am_status list_op(am_store *s, am_str lo, am_str hi, size_t offset,
                         size_t limit, am__rbuild *b)
{
    return s->be->list(s, lo, hi, limit, offset, b);
}

am_status am_store_list(am_store *s, am_ns ns, size_t limit, size_t offset,
                        am_results **out)
{
    range_arg a = { ns, am__store_count_cap(offset),
                    limit == 0 ? 100 : am__store_count_cap(limit), list_op };
    return read_results(s, read_range, &a, out, "list");
}

am_status am_store_namespaces(am_store *s, am_ns prefix, size_t max_depth,
                              size_t limit, am_results **out)
{
    range_arg a = { prefix, am__store_count_cap(max_depth),
                    limit == 0 ? 1000 : am__store_count_cap(limit), NULL };
    if (s != NULL)
        a.op = s->be->namespaces;
    return read_results(s, read_range, &a, out, "namespaces");
}

/* A fresh zeroed item at the end of the list (not counted yet). */
static am_item *next_item(am__rbuild *b)
{
    if (am__grow(b->alloc, (void **)&b->r->items, &b->cap, b->r->count + 1,
                 sizeof(am_item)) != AM_OK)
        return NULL;
    am_item *it = &b->r->items[b->r->count];
    memset(it, 0, sizeof *it);
    it->key = it->value = it->meta = it->text = (am_str){ "", 0 };
    it->event = it->old_value = it->actor = (am_str){ "", 0 };
    return it;
}

am_status am__rb_item(am__rbuild *b, const am__row *row, am_item **out)
{
    am_item *it = next_item(b);
    if (it == NULL ||
        am__ns_decode(row->ns, &b->ar, &it->ns_parts, &it->ns_count) !=
            AM_OK)
        return AM_ENOMEM;
    it->key = am__rb_str(b, row->key.ptr, row->key.len);
    it->value = am__rb_str(b, row->value.ptr, row->value.len);
    it->meta = am__rb_str(b, row->meta.ptr, row->meta.len);
    it->text = am__rb_str(b, row->text.ptr, row->text.len);
    if (it->key.ptr == NULL || it->value.ptr == NULL ||
        it->meta.ptr == NULL || it->text.ptr == NULL)
        return AM_ENOMEM;
    it->created_ms = row->created_ms;
    it->updated_ms = row->updated_ms;
    it->expires_ms = row->expires_ms;
    b->r->count++;
    if (out != NULL)
        *out = it;
    return AM_OK;
}

am_status am__rb_event(am__rbuild *b, am_str ns, am_str key, am_str event,
                       am_str old_value, am_str old_meta, int64_t at_ms,
                       am_str actor)
{
    am_item *it = next_item(b);
    if (it == NULL)
        return AM_ENOMEM;
    it->event = am__rb_str(b, event.ptr, event.len);
    it->old_value = am__rb_str(b, old_value.ptr, old_value.len);
    /* The old meta for now; am__rb_events_end puts the new one. */
    it->meta = am__rb_str(b, old_meta.ptr, old_meta.len);
    it->actor = am__rb_str(b, actor.ptr, actor.len);
    it->key = am__rb_str(b, key.ptr, key.len);
    it->at_ms = at_ms;
    if (it->event.ptr == NULL || it->old_value.ptr == NULL ||
        it->meta.ptr == NULL || it->actor.ptr == NULL ||
        it->key.ptr == NULL ||
        am__ns_decode(ns, &b->ar, &it->ns_parts, &it->ns_count) != AM_OK)
        return AM_ENOMEM;
    b->r->count++;
    return AM_OK;
}

am_status am__rb_events_end(am__rbuild *b, am_str cur_value,
                            am_str cur_meta)
{
    am_str value = am__rb_str(b, cur_value.ptr, cur_value.len);
    am_str meta = am__rb_str(b, cur_meta.ptr, cur_meta.len);
    if (value.ptr == NULL || meta.ptr == NULL)
        return AM_ENOMEM;
    for (size_t i = 0; i < b->r->count; i++) {
        am_item *it = &b->r->items[i];
        if (it->event.len == 6 && memcmp(it->event.ptr, "delete", 6) == 0) {
            it->value = it->meta = (am_str){ "", 0 };
        } else if (i + 1 < b->r->count) {
            it->value = b->r->items[i + 1].old_value;
            it->meta = b->r->items[i + 1].meta;
        } else {
            it->value = value;
            it->meta = meta;
        }
    }
    return AM_OK;
}

am_status am__rb_namespace(am__rbuild *b, am_str ns, size_t max_depth)
{
    size_t parts = 0, cut = ns.len;
    if (max_depth > 0)
        for (size_t i = 0; i < ns.len; i++)
            if (ns.ptr[i] == 0x1f && ++parts == max_depth) {
                cut = i + 1;
                break;
            }
    if (b->last_ns.ptr != NULL && b->last_ns.len == cut &&
        memcmp(b->last_ns.ptr, ns.ptr, cut) == 0)
        return AM_OK;
    b->last_ns = am__rb_str(b, ns.ptr, cut);
    am_item *it = next_item(b);
    if (b->last_ns.ptr == NULL || it == NULL ||
        am__ns_decode(b->last_ns, &b->ar, &it->ns_parts, &it->ns_count) !=
            AM_OK)
        return AM_ENOMEM;
    b->r->count++;
    return AM_OK;
}

void am_results_free(am_results *r)
{
    if (r == NULL)
        return;
    rpriv *p = r->priv_;
    if (p == NULL)
        return;
    const am_allocator *a = p->alloc;
    am__arena ar = p->ar; /* `p` lives inside the arena */
    am__free(a, r->items, p->cap * sizeof(am_item));
    am__free(a, r, sizeof *r);
    am__arena_free(&ar);
}

static json_t *str_json(am_str s)
{
    return json_stringn_nocheck(s.ptr, s.len);
}

/* Embed a stored JSON document, or fall back to its text. NULL when
 * jansson ran out of memory (then the text is no fallback). */
static json_t *embed_json(am_str s)
{
    json_t *v = NULL;
    am_error perr = { AM_OK, "" };
    am_status st = am__json_parse_flags(s, JSON_DECODE_ANY, "value", &v,
                                        &perr);
    if (st == AM_ENOMEM)
        return NULL;
    return v != NULL ? v : str_json(s);
}

am_status am_results_to_json(const am_results *r, bool with_scores,
                             am_buf *out, am_error *err)
{
    json_t *arr = json_array();
    am_status st = AM_OK;
    if (arr == NULL)
        return am__fail(err, AM_ENOMEM, "results: out of memory");
    for (size_t i = 0; r != NULL && i < r->count && st == AM_OK; i++) {
        const am_item *it = &r->items[i];
        json_t *o = json_object(), *ns = json_array();
        int bad = 0;
        if (o == NULL || ns == NULL) {
            json_decref(o);
            json_decref(ns);
            st = am__fail(err, AM_ENOMEM, "results: out of memory");
            break;
        }
        for (size_t k = 0; k < it->ns_count; k++)
            bad |= json_array_append_new(ns, str_json(it->ns_parts[k]));
        bad |= json_object_set_new(o, "namespace", ns);
        if (it->event.len > 0) {
            bad |= json_object_set_new(o, "event", str_json(it->event));
            bad |= json_object_set_new(o, "at_ms", json_integer(it->at_ms));
            bad |= json_object_set_new(o, "actor", str_json(it->actor));
            if (it->old_value.len > 0)
                bad |= json_object_set_new(o, "old_value",
                                           embed_json(it->old_value));
            if (it->value.len > 0)
                bad |= json_object_set_new(o, "value", embed_json(it->value));
        } else if (it->key.len > 0) {
            bad |= json_object_set_new(o, "key", str_json(it->key));
            bad |= json_object_set_new(o, "value", embed_json(it->value));
            bad |= json_object_set_new(o, "meta", embed_json(it->meta));
            bad |= json_object_set_new(o, "created_ms",
                                       json_integer(it->created_ms));
            bad |= json_object_set_new(o, "updated_ms",
                                       json_integer(it->updated_ms));
            if (it->expires_ms > 0)
                bad |= json_object_set_new(o, "expires_ms",
                                           json_integer(it->expires_ms));
            if (with_scores) {
                bad |= json_object_set_new(o, "score", json_real(it->score));
                bad |= json_object_set_new(o, "fts_score",
                                           json_real(it->fts_score));
                bad |= json_object_set_new(o, "vec_score",
                                           json_real(it->vec_score));
            }
        }
        /* jansson answers -1 when it runs out of memory (also when the
         * value could not be made); an incomplete object is no answer. */
        if (bad != 0) {
            json_decref(o);
            st = am__fail(err, AM_ENOMEM, "results: out of memory");
            break;
        }
        if (json_array_append_new(arr, o) != 0)
            st = am__fail(err, AM_ENOMEM, "results: out of memory");
    }
    if (st == AM_OK)
        st = am__json_dump(arr, JSON_COMPACT, out, err);
    json_decref(arr);
    return st;
}
