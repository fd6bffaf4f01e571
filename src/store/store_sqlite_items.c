/* store_sqlite_items.c -- put, get, delete, undo, lists and history of items.
 *
 * A put validates and embeds outside the handle's lock, then writes every
 * item of the batch in one BEGIN IMMEDIATE transaction: a new key is one
 * INSERT (ON CONFLICT DO NOTHING), whose row keeps its first history
 * event (schema 6), plus its full-text row; an existing key is read (its
 * old value goes to the history) and updated. Reads check liveness (not deleted, not expired by
 * the injected clock) in the statement itself.
 */
#include <assert.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "core/json_glue.h"
#include "store_sqlite.h"


static am_status check_model(am_store *s, const am__prepared *p, size_t idx)
{
    sqlite3_stmt *q = am__store_stmt(s, Q_META_GET);
    char want[160];
    int rc;

    if (q == NULL)
        return AM__ERR(s).code;
    snprintf(want, sizeof want, "%s/%zu", p->model, p->dim);
    sqlite3_bind_text(q, 1, "vec_model", -1, SQLITE_STATIC);
    rc = sqlite3_step(q);
    if (rc == SQLITE_ROW) {
        const char *have = (const char *)sqlite3_column_text(q, 0);
        if (have != NULL && strcmp(have, want) != 0) {
            am_status st = am__fail(&AM__ERR(s), AM_EINVAL,
                                    "item %zu: vector from '%s' but this "
                                    "store's index holds '%s'",
                                    idx, want, have);
            sqlite3_reset(q);
            return st;
        }
        sqlite3_reset(q);
        return AM_OK;
    }
    sqlite3_reset(q);
    if (rc != SQLITE_DONE)
        return am__store_dberr(s, rc, "vector model", q);
    q = am__store_stmt(s, Q_META_SET);
    if (q == NULL)
        return AM__ERR(s).code;
    sqlite3_bind_text(q, 1, "vec_model", -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 2, want, -1, SQLITE_TRANSIENT);
    return am__store_step_done(s, Q_META_SET, "vector model");
}

void am__store_bind_str(sqlite3_stmt *q, int i, am_str v, int blob)
{
    if (blob)
        sqlite3_bind_blob(q, i, v.ptr != NULL ? v.ptr : "", (int)v.len,
                          SQLITE_STATIC);
    else
        sqlite3_bind_text(q, i, v.ptr != NULL ? v.ptr : "", (int)v.len,
                          SQLITE_STATIC);
}

am_str am__sq_col_str(sqlite3_stmt *q, int i)
{
    const char *p = (const char *)sqlite3_column_text(q, i);
    return (am_str){ p != NULL ? p : "", (size_t)sqlite3_column_bytes(q, i) };
}

static void bind_col_or_null(sqlite3_stmt *dst, int i, sqlite3_stmt *src,
                             int col)
{
    if (sqlite3_column_type(src, col) == SQLITE_NULL)
        sqlite3_bind_null(dst, i);
    else
        sqlite3_bind_text(dst, i,
                          (const char *)sqlite3_column_text(src, col),
                          sqlite3_column_bytes(src, col), SQLITE_TRANSIENT);
}

/* Append an event to the history of an existing row; `old_row` holds the
 * row as it was (its old value and metadata at the columns given). A new
 * row has no history entry: its "add" event is kept in the row (schema
 * 6, Q_ITEM_INSERT's add_actor) until keep_first_event moves it here. */
static am_status history_add(am_store *s, int64_t item_id, const char *event,
                             sqlite3_stmt *old_row, int old_val_col,
                             int old_meta_col, int64_t now, const char *actor)
{
    sqlite3_stmt *h = am__store_stmt(s, Q_HIST_ADD);
    if (h == NULL)
        return AM__ERR(s).code;
    sqlite3_bind_int64(h, 1, item_id);
    sqlite3_bind_text(h, 2, event, -1, SQLITE_STATIC);
    bind_col_or_null(h, 3, old_row, old_val_col);
    bind_col_or_null(h, 5, old_row, old_meta_col);
    sqlite3_bind_int64(h, 7, now);
    sqlite3_bind_text(h, 8, actor, -1, SQLITE_STATIC);
    return am__store_step_done(s, Q_HIST_ADD, "history");
}

/* Before a write in place to the row `f` holds (Q_ITEM_FIND_W): move its
 * implicit "add" event -- at created_ms (column 5), by add_actor (column
 * 7) -- into item_history as sequence 1, ahead of the event this write
 * appends; the write itself sets add_actor to NULL. Nothing to do for a
 * row whose events are in item_history already (add_actor NULL). */
static am_status keep_first_event(am_store *s, sqlite3_stmt *f)
{
    if (sqlite3_column_type(f, 7) == SQLITE_NULL)
        return AM_OK;
    sqlite3_stmt *h = am__store_stmt(s, Q_HIST_FIRST);
    if (h == NULL)
        return AM__ERR(s).code;
    sqlite3_bind_int64(h, 1, sqlite3_column_int64(f, 0));
    sqlite3_bind_text(h, 2, "add", 3, SQLITE_STATIC);
    sqlite3_bind_int64(h, 7, sqlite3_column_int64(f, 5));
    sqlite3_bind_text(h, 8, (const char *)sqlite3_column_text(f, 7),
                      sqlite3_column_bytes(f, 7), SQLITE_STATIC);
    return am__store_step_done(s, Q_HIST_FIRST, "history");
}

/* Replace row `id`'s entry in the full-text index: remove the old text
 * (column `old_col` of `old_row`), add `text`. `enc` is the row's encoded
 * namespace. */
static am_status fts_replace(am_store *s, int64_t id, am_str enc,
                             sqlite3_stmt *old_row, int old_col, am_str text)
{
    am_str toks;
    am_status st = am__sq_ns_tokens(s, enc, &toks);
    if (st != AM_OK)
        return st;
    sqlite3_stmt *d = am__store_stmt(s, Q_FTS_DEL);
    if (d == NULL)
        return AM__ERR(s).code;
    sqlite3_bind_int64(d, 1, id);
    am__store_bind_str(d, 3, toks, 0);
    sqlite3_bind_text(d, 2, (const char *)sqlite3_column_text(old_row,
                                                              old_col),
                      sqlite3_column_bytes(old_row, old_col), SQLITE_STATIC);
    st = am__store_step_done(s, Q_FTS_DEL, "put: index");
    if (st != AM_OK)
        return st;
    d = am__store_stmt(s, Q_FTS_ADD);
    if (d == NULL)
        return AM__ERR(s).code;
    sqlite3_bind_int64(d, 1, id);
    sqlite3_bind_text(d, 2, text.ptr != NULL ? text.ptr : "", (int)text.len,
                      SQLITE_STATIC);
    am__store_bind_str(d, 3, toks, 0);
    am__sq_fts_wrote(s, (size_t)sqlite3_column_bytes(old_row, old_col) +
                            text.len);
    return am__store_step_done(s, Q_FTS_ADD, "put: index");
}

static int row_is_live(sqlite3_stmt *q, int del_col, int exp_col, int64_t now)
{
    if (sqlite3_column_type(q, del_col) != SQLITE_NULL)
        return 0;
    return sqlite3_column_type(q, exp_col) == SQLITE_NULL ||
           sqlite3_column_int64(q, exp_col) > now;
}

/* Parameters 7-9 of Q_ITEM_INSERT and Q_ITEM_UPDATE: the expiry (0:
 * none) and p's vector. */
static void bind_tail(sqlite3_stmt *w, const am__prepared *p,
                      int64_t expires)
{
    if (expires > 0)
        sqlite3_bind_int64(w, 7, expires);
    if (p->vec != NULL) {
        sqlite3_bind_text(w, 8, p->model, -1, SQLITE_STATIC);
        sqlite3_bind_blob(w, 9, p->vec, (int)(p->dim * sizeof(float)),
                          SQLITE_STATIC);
    }
}

/* Rewrite row `id` with `value` and p's content, live (errors name
 * `what`). */
static am_status update_row(am_store *s, int64_t id, am_str value,
                            const am__prepared *p, int64_t created,
                            int64_t now, int64_t expires, const char *what)
{
    int64_t stamp;
    am_status st = am__sq_txn_stamp(s, &stamp);
    if (st != AM_OK)
        return st;
    sqlite3_stmt *w = am__store_stmt(s, Q_ITEM_UPDATE);
    if (w == NULL)
        return AM__ERR(s).code;
    sqlite3_bind_int64(w, 1, id);
    am__store_bind_str(w, 2, value, 0);
    am__store_bind_str(w, 3, p->meta, 0);
    sqlite3_bind_text(w, 4, p->text.ptr, (int)p->text.len, SQLITE_STATIC);
    sqlite3_bind_int64(w, 5, created);
    sqlite3_bind_int64(w, 6, now);
    bind_tail(w, p, expires);
    sqlite3_bind_int64(w, 10, stamp);
    int rc = sqlite3_step(w);
    sqlite3_reset(w);
    return rc == SQLITE_DONE ? AM_OK : am__store_dberr(s, rc, what, w);
}

/* Insert or update one item inside the caller's transaction. New keys
 * take one statement (INSERT ... ON CONFLICT DO NOTHING); only an existing
 * key pays for reading the old row, which the history keeps. The history
 * stores old values only: an event's new value is the next event's old
 * value, or the current row's. */
static am_status put_one(am_store *s, const am_item_in *it, am__prepared *p,
                         const am__prepared *prev, size_t idx, int64_t now)
{
    am_status st;
    sqlite3_stmt *f, *w;
    int rc, live;
    int64_t id, created = now;
    am_str enc = { p->ns.ptr, p->ns.len };
    int64_t expires = it->ttl_ms > 0 ? am__add_sat(now, it->ttl_ms) : 0;

    if (p->vec != NULL && (prev == NULL || prev->dim != p->dim ||
                           strcmp(prev->model, p->model) != 0)) {
        /* Checked once per run of items from the same model. */
        st = check_model(s, p, idx);
        if (st != AM_OK)
            return st;
    }
    w = am__store_stmt(s, Q_ITEM_INSERT);
    if (w == NULL)
        return AM__ERR(s).code;
    am__store_bind_str(w, 1, enc, 1);
    am__store_bind_str(w, 2, it->key, 1);
    am__store_bind_str(w, 3, it->value, 0);
    am__store_bind_str(w, 4, p->meta, 0);
    sqlite3_bind_text(w, 5, p->text.ptr, (int)p->text.len, SQLITE_STATIC);
    sqlite3_bind_int64(w, 6, now);
    bind_tail(w, p, expires);
    sqlite3_bind_text(w, 10, s->actor, -1, SQLITE_STATIC);
    rc = sqlite3_step(w);
    sqlite3_reset(w);
    if (rc != SQLITE_DONE)
        return am__store_dberr(s, rc, "put", w);
    if (sqlite3_changes(SQ(s)->db->conn) == 1) {
        am_str toks;
        id = p->id = sqlite3_last_insert_rowid(SQ(s)->db->conn);
        st = am__sq_ns_tokens(s, enc, &toks);
        if (st != AM_OK)
            return st;
        w = am__store_stmt(s, Q_FTS_ADD);
        if (w == NULL)
            return AM__ERR(s).code;
        sqlite3_bind_int64(w, 1, id);
        sqlite3_bind_text(w, 2, p->text.ptr, (int)p->text.len,
                          SQLITE_STATIC);
        am__store_bind_str(w, 3, toks, 0);
        am__sq_fts_wrote(s, p->text.len);
        /* Its "add" event is the row's add_actor (schema 6). */
        return am__store_step_done(s, Q_FTS_ADD, "put: index");
    }

    /* The key exists (live, expired or soft-deleted): update it. */
    f = am__store_stmt(s, Q_ITEM_FIND_W);
    if (f == NULL)
        return AM__ERR(s).code;
    am__store_bind_str(f, 1, enc, 1);
    am__store_bind_str(f, 2, it->key, 1);
    rc = sqlite3_step(f);
    if (rc != SQLITE_ROW) {
        st = am__store_dberr(s, rc == SQLITE_DONE ? SQLITE_CORRUPT : rc,
                             "put", f);
        sqlite3_reset(f);
        return st;
    }
    id = p->id = sqlite3_column_int64(f, 0);
    live = row_is_live(f, 3, 4, now);
    if (live)
        created = sqlite3_column_int64(f, 5);
    st = keep_first_event(s, f);
    if (st == AM_OK)
        st = update_row(s, id, it->value, p, created, now, expires, "put");
    if (st != AM_OK) {
        sqlite3_reset(f);
        return st;
    }
    /* `f` still holds the old row for the index and the history. */
    st = fts_replace(s, id, enc, f, 6,
                     (am_str){ p->text.ptr, p->text.len });
    if (st == AM_OK)
        st = history_add(s, id, live ? "update" : "add", f, 1, 2, now,
                         s->actor);
    sqlite3_reset(f);
    return st;
}

/* ---- Get, delete, undo ---- */

/* The hot read. Its fixed cost over a raw prepared SELECT is kept small:
 * the namespace is encoded into a buffer the handle keeps (the store's
 * lock serializes backend calls), not a fresh allocation per get, and the
 * calling thread's error slot -- found under the error table's lock -- is
 * only looked up on failure. */
am_status am__sq_get(am_store *s, am_ns ns, am_str key, am_buf *value)
{
    am_status st;
    am_buf *enc;
    am_error e = { AM_OK, "" };
    sqlite3_stmt *q;
    int rc;

    if (s == NULL || value == NULL)
        return AM_EINVAL;
    enc = &SQ(s)->get_ns;
    st = am__ns_encode(ns, 0, enc, &e);
    if (st != AM_OK)
        return am__error_copy(&AM__ERR(s), &e);
    st = am__store_key_ok(s, key);
    if (st != AM_OK)
        return st;
    q = am__store_stmt(s, Q_ITEM_GET);
    if (q == NULL)
        return AM__ERR(s).code;
    sqlite3_bind_int64(q, 1, am_clock_now(s->clock));
    am__store_bind_str(q, 2, (am_str){ enc->ptr, enc->len }, 1);
    am__store_bind_str(q, 3, key, 1);
    rc = sqlite3_step(q);
    if (rc == SQLITE_ROW) {
        st = am__store_copy_out(s, am__sq_col_str(q, 0), value, "get");
    } else if (rc == SQLITE_DONE) {
        st = am__fail(&AM__ERR(s), AM_ENOTFOUND, "get: no item '%.*s'",
                      (int)(key.len > 64 ? 64 : key.len), key.ptr);
    } else {
        st = am__store_dberr(s, rc, "get", q);
    }
    sqlite3_reset(q);
    return st;
}

/* Find `key` in the encoded namespace `enc` with statement `which`
 * (Q_ITEM_FIND, or the writers' Q_ITEM_FIND_W); leaves it on its row in
 * *out (the caller resets it), or *out NULL on failure. */
static am_status find_enc(am_store *s, int which, am_str enc, am_str key,
                          sqlite3_stmt **out)
{
    *out = NULL;
    sqlite3_stmt *f = am__store_stmt(s, which);
    if (f == NULL)
        return AM__ERR(s).code;
    am__store_bind_str(f, 1, enc, 1);
    am__store_bind_str(f, 2, key, 1);
    int rc = sqlite3_step(f);
    if (rc == SQLITE_DONE) {
        sqlite3_reset(f);
        return am__fail(&AM__ERR(s), AM_ENOTFOUND, "no item '%.*s'",
                        (int)(key.len > 64 ? 64 : key.len), key.ptr);
    }
    if (rc != SQLITE_ROW) {
        sqlite3_reset(f);
        return am__store_dberr(s, rc, "find", f);
    }
    *out = f;
    return AM_OK;
}

/* find_enc of (ns, key), encoding the namespace into `enc`. */
static am_status find_row(am_store *s, int which, am_ns ns, am_str key,
                          am_buf *enc, sqlite3_stmt **out)
{
    am_status st = am__store_item_addr(s, ns, key, enc);
    if (st != AM_OK)
        return st;
    return find_enc(s, which, (am_str){ enc->ptr, enc->len }, key, out);
}

/* Soft-delete the row `f` holds (Q_ITEM_FIND_W). */
static am_status soft_delete(am_store *s, sqlite3_stmt *f, int64_t now,
                             const char *actor)
{
    int64_t id = sqlite3_column_int64(f, 0), stamp;
    am_status st = am__sq_txn_stamp(s, &stamp);
    if (st == AM_OK)
        st = keep_first_event(s, f);
    if (st != AM_OK)
        return st;
    sqlite3_stmt *d = am__store_stmt(s, Q_ITEM_SOFTDEL);
    if (d == NULL)
        return AM__ERR(s).code;
    sqlite3_bind_int64(d, 1, id);
    sqlite3_bind_int64(d, 2, now);
    sqlite3_bind_int64(d, 3, stamp);
    st = am__store_step_done(s, Q_ITEM_SOFTDEL, "delete");
    if (st == AM_OK)
        st = history_add(s, id, "delete", f, 1, 2, now, actor);
    return st;
}

/* One write transaction (backend.h): clear a prefix, put, soft-delete.
 * Afterwards the in-memory vector index is patched in place (a clear
 * makes the next search reload it). */
am_status am__sq_write(am_store *s, const am__write *w, am__prepared *ps,
                       int64_t now)
{
    am_buf enc = AM_BUF_INIT;
    int64_t *gone = NULL;
    size_t ngone = 0;
    am_status st = am__store_begin(s);

    enc.alloc = s->alloc;
    if (st == AM_OK && w->ndel > 0) {
        gone = am__alloc_array(s->alloc, w->ndel, sizeof *gone);
        if (gone == NULL)
            st = am__fail(&AM__ERR(s), AM_ENOMEM, "write: out of memory");
    }
    if (st == AM_OK && w->clear.count > 0) {
        st = am__store_clear_ns(s, w->clear, NULL);
        am__store_wrote(s); /* the next search reloads the cache */
    }
    const am__prepared *checked = NULL; /* last item whose model passed */
    for (size_t i = 0; i < w->nput && st == AM_OK; i++) {
        st = put_one(s, &w->puts[i], &ps[i], checked, i, now);
        if (ps[i].vec != NULL)
            checked = &ps[i];
    }
    for (size_t i = 0; i < w->ndel && st == AM_OK; i++) {
        sqlite3_stmt *f = NULL;
        am_str key = w->dels[i];
        st = find_row(s, Q_ITEM_FIND_W, w->del_ns, key, &enc, &f);
        if (st == AM_OK && !row_is_live(f, 3, 4, now))
            st = am__store_not_live(s, key);
        if (st != AM_OK)
            st = am__store_fail_at(s, st, "delete", i);
        if (st == AM_OK) {
            gone[ngone++] = sqlite3_column_int64(f, 0);
            st = soft_delete(s, f, now, s->actor);
        }
        if (f != NULL)
            sqlite3_reset(f);
    }
    st = am__store_txn_end(s, st);
    for (size_t i = 0; st == AM_OK && i < w->nput; i++)
        am__vcache_apply(s, ps[i].id, (am_str){ ps[i].ns.ptr, ps[i].ns.len },
                         w->puts[i].ttl_ms > 0
                             ? am__add_sat(now, w->puts[i].ttl_ms)
                             : 0,
                         ps[i].vec, ps[i].dim);
    for (size_t i = 0; st == AM_OK && i < ngone; i++)
        am__vcache_apply(s, gone[i], (am_str){ NULL, 0 }, 0, NULL, 0);
    if (gone != NULL)
        am__free(s->alloc, gone, w->ndel * sizeof *gone);
    am_buf_free(&enc);
    return st;
}

/* ---- Undo's steps (composed in store_undo.c) ---- */

am_status am__sq_undo_find(am_store *s, am_str enc, am_str key, int64_t now,
                           am__undo *u)
{
    sqlite3_stmt *f;
    am_status st = find_enc(s, Q_ITEM_FIND_W, enc, key, &f);
    if (st != AM_OK)
        return st;
    u->row = f; /* reset by undo_done */
    u->id = sqlite3_column_int64(f, 0);
    u->created_ms = sqlite3_column_int64(f, 5);
    u->live = row_is_live(f, 3, 4, now);

    sqlite3_stmt *h = am__store_stmt(s, Q_HIST_LAST);
    if (h == NULL)
        return AM__ERR(s).code;
    sqlite3_bind_int64(h, 1, u->id);
    int rc = sqlite3_step(h);
    u->hist = h;
    if (rc != SQLITE_ROW)
        return rc == SQLITE_DONE
                   ? am__fail(&AM__ERR(s), AM_ENOTFOUND, "undo: no history")
                   : am__store_dberr(s, rc, "undo", h);
    u->event = am__sq_col_str(h, 0);
    u->old_value = am__sq_col_str(h, 1);
    u->old_meta = am__sq_col_str(h, 2);
    return AM_OK;
}

void am__sq_undo_done(am_store *s, am__undo *u)
{
    (void)s;
    if (u->hist != NULL)
        sqlite3_reset(u->hist);
    if (u->row != NULL)
        sqlite3_reset(u->row);
    u->row = u->hist = NULL;
}

am_status am__sq_undo_delete(am_store *s, const am__undo *u, int64_t now,
                             const char *actor)
{
    return soft_delete(s, u->row, now, actor);
}

am_status am__sq_undo_restore(am_store *s, const am__undo *u, am_str value,
                              const am__prepared *p, const char *event,
                              int64_t now, const char *actor)
{
    sqlite3_stmt *f = u->row;
    am_status st = keep_first_event(s, f);
    if (st == AM_OK)
        st = update_row(s, u->id, value, p, u->created_ms, now, 0, "undo");
    if (st == AM_OK)
        st = fts_replace(s, u->id, (am_str){ p->ns.ptr, p->ns.len }, f, 6,
                         (am_str){ p->text.ptr, p->text.len });
    if (st == AM_OK)
        st = history_add(s, u->id, event, f, 1, 2, now, actor);
    return st;
}

/* ---- Reading lists (the front end's envelope: store_results.c) ---- */

am_status am__sq_get_item(am_store *s, am_ns ns, am_str key, am__rbuild *b)
{
    am_status st;
    am_buf enc = AM_BUF_INIT;
    sqlite3_stmt *f = NULL, *q;
    int rc, began = 0;

    enc.alloc = s->alloc;
    /* Both statements in one read transaction: the row found is the row
     * read, and the pair takes the file's locks once, not twice (the lock
     * calls were a sixth of a server get's CPU time). */
    st = am__store_read_begin(s, &began);
    if (st == AM_OK)
        st = find_row(s, Q_ITEM_FIND, ns, key, &enc, &f);
    if (st != AM_OK)
        goto out;
    int64_t id = sqlite3_column_int64(f, 0);
    sqlite3_reset(f);
    q = am__store_stmt(s, Q_ITEM_ROW);
    if (q == NULL) {
        st = AM__ERR(s).code;
        goto out;
    }
    sqlite3_bind_int64(q, 1, am_clock_now(s->clock));
    sqlite3_bind_int64(q, 2, id);
    rc = sqlite3_step(q);
    if (rc == SQLITE_ROW)
        st = am__rb_add_row(b, q, 0, NULL);
    else if (rc == SQLITE_DONE)
        st = am__fail(&AM__ERR(s), AM_ENOTFOUND, "get: no live item");
    else
        st = am__store_dberr(s, rc, "get", q);
    sqlite3_reset(q);
    if (st == AM_ENOMEM)
        am__fail(&AM__ERR(s), st, "get: out of memory");
out:
    am__store_read_end(s, began);
    am_buf_free(&enc);
    return st;
}

/* A cached range statement (list, namespaces) with the time and the
 * encoded range [lo, hi) bound as ?1, ?2, ?3; NULL on error. */
static sqlite3_stmt *range_stmt(am_store *s, int which, am_str lo,
                                am_str hi)
{
    sqlite3_stmt *q = am__store_stmt(s, which);
    if (q == NULL)
        return NULL;
    sqlite3_bind_int64(q, 1, am_clock_now(s->clock));
    am__store_bind_str(q, 2, lo, 1);
    am__store_bind_str(q, 3, hi, 1);
    return q;
}

am_status am__sq_list(am_store *s, am_str lo, am_str hi, size_t limit,
                      size_t offset, am__rbuild *b)
{
    am_status st = AM_OK;
    sqlite3_stmt *q = range_stmt(s, Q_LIST, lo, hi);
    int rc;

    if (q == NULL)
        return AM__ERR(s).code;
    sqlite3_bind_int64(q, 4, (int64_t)(limit > INT64_MAX ? INT64_MAX
                                                         : limit));
    sqlite3_bind_int64(q, 5, (int64_t)(offset > INT64_MAX ? INT64_MAX
                                                          : offset));
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        st = am__rb_add_row(b, q, 0, NULL);
        if (st != AM_OK) {
            am__fail(&AM__ERR(s), st, "list: out of memory");
            break;
        }
    }
    if (st == AM_OK && rc != SQLITE_DONE)
        st = am__store_dberr(s, rc, "list", q);
    sqlite3_reset(q);
    return st;
}

am_status am__sq_namespaces(am_store *s, am_str lo, am_str hi,
                            size_t max_depth, size_t limit, am__rbuild *b)
{
    am_status st = AM_OK;
    sqlite3_stmt *q = range_stmt(s, Q_NS_LIST, lo, hi);
    int rc = SQLITE_DONE;

    if (q == NULL)
        return AM__ERR(s).code;
    while (b->r->count < limit && (rc = sqlite3_step(q)) == SQLITE_ROW) {
        am_str e = { sqlite3_column_blob(q, 0),
                     (size_t)sqlite3_column_bytes(q, 0) };
        if (am__rb_namespace(b, e, max_depth) != AM_OK) {
            st = am__fail(&AM__ERR(s), AM_ENOMEM, "namespaces: out of memory");
            break;
        }
    }
    if (st == AM_OK && b->r->count < limit && rc != SQLITE_DONE)
        st = am__store_dberr(s, rc, "namespaces", q);
    sqlite3_reset(q);
    return st;
}

am_status am__sq_history(am_store *s, am_ns ns, am_str key, am__rbuild *b)
{
    am_status st;
    am_buf enc = AM_BUF_INIT;
    sqlite3_stmt *f = NULL, *h;
    int rc;

    enc.alloc = s->alloc;
    st = find_row(s, Q_ITEM_FIND, ns, key, &enc, &f);
    if (st != AM_OK)
        goto out;
    int64_t id = sqlite3_column_int64(f, 0);
    h = am__store_stmt(s, SQ(s)->has_add_actor ? Q_HIST_LIST
                                               : Q_HIST_LIST_5);
    if (h == NULL) {
        sqlite3_reset(f);
        st = AM__ERR(s).code;
        goto out;
    }
    sqlite3_bind_int64(h, 1, id);
    while ((rc = sqlite3_step(h)) == SQLITE_ROW) {
        st = am__rb_event(b, (am_str){ enc.ptr, enc.len }, key,
                          am__sq_col_str(h, 0), am__sq_col_str(h, 1), am__sq_col_str(h, 4),
                          sqlite3_column_int64(h, 2), am__sq_col_str(h, 3));
        if (st != AM_OK)
            break;
    }
    if (st == AM_OK && rc == SQLITE_DONE)
        st = am__rb_events_end(b, am__sq_col_str(f, 1), am__sq_col_str(f, 2));
    sqlite3_reset(f);
    if (st == AM_ENOMEM)
        am__fail(&AM__ERR(s), st, "history: out of memory");
    else if (rc != SQLITE_DONE)
        st = am__store_dberr(s, rc, "history", h);
    sqlite3_reset(h);
out:
    am_buf_free(&enc);
    return st;
}

