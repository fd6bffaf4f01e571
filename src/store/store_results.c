/* store_results.c -- result lists: one arena per list, and their JSON.
 *
 * A result list owns everything its items point to: the strings live in an
 * arena, the item array is grown with the store's allocator, and the two
 * are freed together by am_results_free.
 */
#include <string.h>

#include "core/json_glue.h"
#include "store_sqlite.h"

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

am_status am__rb_add_row(am__rbuild *b, sqlite3_stmt *st, int col,
                         am_item **out)
{
    if (am__grow(b->alloc, (void **)&b->r->items, &b->cap, b->r->count + 1,
                 sizeof(am_item)) != AM_OK)
        return AM_ENOMEM;
    am_item *it = &b->r->items[b->r->count];
    memset(it, 0, sizeof *it);
    if (am__ns_decode((am_str){ sqlite3_column_blob(st, col),
                                (size_t)sqlite3_column_bytes(st, col) },
                      &b->ar, &it->ns_parts, &it->ns_count) != AM_OK)
        return AM_ENOMEM;
    it->key = am__rb_str(b, sqlite3_column_blob(st, col + 1),
                         (size_t)sqlite3_column_bytes(st, col + 1));
    it->value = am__rb_str(b, sqlite3_column_text(st, col + 2),
                           (size_t)sqlite3_column_bytes(st, col + 2));
    it->meta = am__rb_str(b, sqlite3_column_text(st, col + 3),
                          (size_t)sqlite3_column_bytes(st, col + 3));
    it->text = am__rb_str(b, sqlite3_column_text(st, col + 4),
                          (size_t)sqlite3_column_bytes(st, col + 4));
    it->event = it->old_value = it->actor = (am_str){ "", 0 };
    if (it->key.ptr == NULL || it->value.ptr == NULL ||
        it->meta.ptr == NULL || it->text.ptr == NULL)
        return AM_ENOMEM;
    it->created_ms = sqlite3_column_int64(st, col + 5);
    it->updated_ms = sqlite3_column_int64(st, col + 6);
    it->expires_ms = sqlite3_column_int64(st, col + 7);
    b->r->count++;
    if (out != NULL)
        *out = it;
    return AM_OK;
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
    am_error perr;
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
