/* store_pg_items.c -- put, get, delete, undo, lists and history of items
 * on PostgreSQL.
 *
 * Same semantics as the SQLite backend (store_sqlite_items.c). Writes run
 * in one READ COMMITTED transaction each; a put of a new key is one
 * INSERT ... ON CONFLICT DO NOTHING (which waits for a concurrent insert
 * of the same key to finish), and every change of an existing row first
 * takes the row's lock (SELECT ... FOR UPDATE). So concurrent writers of
 * one key queue on its row: each reads the value the previous one
 * committed, the last commit wins, and the history gets one entry per
 * write, numbered in commit order.
 */
#include <stdlib.h>
#include <string.h>

#include "store_pg.h"

#define LIVE(n) "deleted_ms IS NULL AND (expires_ms IS NULL OR expires_ms > $" n ")"

static void count_word(const char *w, size_t n, void *ctx)
{
    (void)w;
    (void)n;
    (*(int64_t *)ctx)++;
}

/* Words of the indexed text: BM25's document length. */
static int64_t doc_len(am_str text)
{
    int64_t n = 0;
    am__words(text.ptr, text.len, count_word, &n);
    return n;
}

static am_status history_add(am_store *s, int64_t id, const char *event,
                             const PGresult *old, int64_t now,
                             const char *actor)
{
    am__pgp p = { .n = 0 };
    am__pgp_int(&p, id);
    am__pgp_bytes(&p, event, strlen(event));
    if (old != NULL && !am__pg_isnull(old, 0, 1))
        am__pgp_str(&p, am__pg_str(old, 0, 1));
    else
        am__pgp_null(&p);
    if (old != NULL && !am__pg_isnull(old, 0, 2))
        am__pgp_str(&p, am__pg_str(old, 0, 2));
    else
        am__pgp_null(&p);
    am__pgp_int(&p, now);
    am__pgp_bytes(&p, actor, strlen(actor));
    /* A row never written in place keeps its "add" event in the row
     * (add_actor, schema 6): the CTE moves it into item_history as
     * sequence 1, at created_ms, ahead of this event. The statements that
     * write the row in place run after this one (the move reads
     * created_ms and add_actor as they were) and set add_actor to NULL,
     * so an item's events are either that one implicit event or rows of
     * item_history, never both. */
    return am__pg_runp(s, "history", "WITH a AS (INSERT INTO item_history("
                       "item_id, seq, event, at_ms, actor) SELECT id, 1,"
                       " 'add', created_ms, add_actor FROM items WHERE id ="
                       " $1 AND add_actor IS NOT NULL RETURNING seq)"
                       " INSERT INTO item_history(item_id, seq, event,"
                       " old_value, old_meta, at_ms, actor) VALUES ($1,"
                       " coalesce((SELECT max(seq) FROM item_history WHERE"
                       " item_id = $1), 0) + 1 + (SELECT count(*) FROM a),"
                       " $2, $3, $4, $5, $6)", &p);
}

static int row_is_live(const PGresult *r, int del_col, int exp_col,
                       int64_t now)
{
    if (!am__pg_isnull(r, 0, del_col))
        return 0;
    return am__pg_isnull(r, 0, exp_col) || am__pg_int(r, 0, exp_col) > now;
}

/* The row of (ns, key), locked for this transaction: id, value, meta,
 * deleted_ms, expires_ms, created_ms. NULL and AM_ENOTFOUND (in *st)
 * when there is none. */
static PGresult *lock_row(am_store *s, am_str enc, am_str key, am_status *st)
{
    am__pgp p = { .n = 0 };
    am__pgp_str(&p, enc);
    am__pgp_str(&p, key);
    PGresult *r = am__pg_exec(s, "find", "SELECT id, value, meta, deleted_ms,"
                              " expires_ms, created_ms FROM items WHERE"
                              " ns = $1 AND key = $2 FOR UPDATE", &p,
                              AM__PG_PREPARE);
    if (r == NULL) {
        *st = AM__ERR(s).code;
        return NULL;
    }
    if (PQntuples(r) == 0) {
        PQclear(r);
        *st = am__fail(&AM__ERR(s), AM_ENOTFOUND, "no item '%.*s'",
                       (int)(key.len > 64 ? 64 : key.len), key.ptr);
        return NULL;
    }
    *st = AM_OK;
    return r;
}

/* Parameters of a row's content: value, meta, text, tsv text, doc_len,
 * expires, vec_model, vec (8 in all). */
static void bind_content(am__pgp *p, am_str value, am_str meta,
                         const am_buf *text, int64_t expires,
                         const am__prepared *pr)
{
    am__pgp_str(p, value);
    am__pgp_str(p, meta);
    am__pgp_bytes(p, text->ptr, text->len);
    am__pgp_int(p, doc_len((am_str){ text->ptr, text->len }));
    if (expires > 0)
        am__pgp_int(p, expires);
    else
        am__pgp_null(p);
    if (pr->vec != NULL) {
        am__pgp_bytes(p, pr->model, strlen(pr->model));
        am__pgp_bytes(p, pr->vec, pr->dim * sizeof(float));
    } else {
        am__pgp_null(p);
        am__pgp_null(p);
    }
}

/* Rewrite row `id` (locked) with new content. */
static am_status update_row(am_store *s, int64_t id, am_str value,
                            am_str meta, const am_buf *text, int64_t created,
                            int64_t now, int64_t expires,
                            const am__prepared *pr)
{
    am__pgp p = { .n = 0 };
    am__pgp_int(&p, id);
    bind_content(&p, value, meta, text, expires, pr);
    am__pgp_int(&p, created);
    am__pgp_int(&p, now);
    return am__pg_run(s, "put", "UPDATE items SET value = $2, meta = $3,"
                      " text = $4,"
                      " doc_len = $5, expires_ms = $6, vec_model = $7,"
                      " vec = $8, created_ms = $9, updated_ms = $10,"
                      " deleted_ms = NULL, add_actor = NULL,"
                      " chg = pg_current_xact_id() WHERE id = $1", &p, NULL);
}

/* The history entry first: it moves the row's implicit "add" (see
 * history_add), which the UPDATE then clears. */
static am_status soft_delete(am_store *s, const PGresult *row, int64_t now,
                             const char *actor)
{
    am__pgp p = { .n = 0 };
    int64_t id = am__pg_int(row, 0, 0);
    am_status st = history_add(s, id, "delete", row, now, actor);
    am__pgp_int(&p, id);
    am__pgp_int(&p, now);
    if (st == AM_OK)
        st = am__pg_runp(s, "delete", "UPDATE items SET deleted_ms = $2,"
                         " add_actor = NULL, chg = pg_current_xact_id()"
                         " WHERE id = $1", &p);
    return st;
}

/* Find the live row of (ns, key) for a delete, locked. */
static PGresult *live_row(am_store *s, am_ns ns, am_str key, am_buf *enc,
                          int64_t now, am_status *st)
{
    PGresult *r;
    *st = am__store_item_addr(s, ns, key, enc);
    if (*st != AM_OK)
        return NULL;
    r = lock_row(s, (am_str){ enc->ptr, enc->len }, key, st);
    if (r != NULL && !row_is_live(r, 3, 4, now)) {
        PQclear(r);
        r = NULL;
        *st = am__store_not_live(s, key);
    }
    return r;
}

am_status am__pg_write(am_store *s, const am__write *w, am__prepared *ps,
                       int64_t now)
{
    am_buf enc = AM_BUF_INIT;
    am_status st;

    enc.alloc = s->alloc;
    /* One item without a vector: its INSERT (its "add" event in the row) is
     * atomic on its own, so it runs without BEGIN and COMMIT, one round
     * trip. When the key exists that statement wrote nothing, and the
     * transaction below updates the row. */
    if (w->nput == 1 && w->ndel == 0 && w->clear.count == 0 &&
        ps[0].vec == NULL) {
        int written = 0;
        st = am__pg_put_new(s, w, ps, now, &written);
        if (st == AM_OK && written)
            am__store_wrote(s);
        if (st != AM_OK || written)
            return st;
    }
    st = am__pg_begin(s);
    if (st == AM_OK && w->clear.count > 0)
        st = am__store_clear_ns(s, w->clear, NULL);
    if (st == AM_OK)
        st = am__pg_put(s, w, ps, now);
    for (size_t i = 0; i < w->ndel && st == AM_OK; i++) {
        PGresult *r = live_row(s, w->del_ns, w->dels[i], &enc, now, &st);
        if (r == NULL)
            st = am__store_fail_at(s, st, "delete", i);
        if (r != NULL) {
            st = soft_delete(s, r, now, s->actor);
            PQclear(r);
        }
    }
    st = am__store_txn_end(s, st);
    if (st == AM_OK)
        am__store_wrote(s);
    am_buf_free(&enc);
    return st;
}

am_status am__pg_get(am_store *s, am_ns ns, am_str key, am_buf *value)
{
    am_status st;
    am_buf enc = AM_BUF_INIT;
    am__pgp p = { .n = 0 };

    if (value == NULL)
        return AM_EINVAL;
    enc.alloc = s->alloc;
    st = am__store_item_addr(s, ns, key, &enc);
    if (st != AM_OK)
        goto out;
    am__pgp_bytes(&p, enc.ptr, enc.len);
    am__pgp_str(&p, key);
    am__pgp_int(&p, am_clock_now(s->clock));
    PGresult *r = am__pg_exec(s, "get", "SELECT value FROM items WHERE ns ="
                              " $1 AND key = $2 AND " LIVE("3"), &p,
                              AM__PG_RETRY | AM__PG_PREPARE);
    if (r == NULL) {
        st = AM__ERR(s).code;
        goto out;
    }
    if (PQntuples(r) == 0) {
        st = am__fail(&AM__ERR(s), AM_ENOTFOUND, "get: no item '%.*s'",
                      (int)(key.len > 64 ? 64 : key.len), key.ptr);
    } else {
        st = am__store_copy_out(s, am__pg_str(r, 0, 0), value, "get");
    }
    PQclear(r);
out:
    am_buf_free(&enc);
    return st;
}

/* ---- Undo's steps (composed in store_undo.c) ---- */

am_status am__pg_undo_find(am_store *s, am_str enc, am_str key, int64_t now,
                           am__undo *u)
{
    am_status st;
    PGresult *f = lock_row(s, enc, key, &st);
    if (f == NULL)
        return st;
    u->row = f; /* cleared by undo_done */
    u->id = am__pg_int(f, 0, 0);
    u->created_ms = am__pg_int(f, 0, 5);
    u->live = row_is_live(f, 3, 4, now);

    am__pgp p = { .n = 0 };
    am__pgp_int(&p, u->id);
    /* The last event: a row's implicit "add" (schema 6, sequence 0) or
     * its last row of item_history -- an item has one or the other. */
    PGresult *h = am__pg_exec(s, "undo", "SELECT event, old_value, old_meta"
                              " FROM (SELECT 'add' AS event, NULL::text AS"
                              " old_value, NULL::text AS old_meta, 0::bigint"
                              " AS seq FROM items WHERE id = $1 AND"
                              " add_actor IS NOT NULL UNION ALL SELECT event,"
                              " old_value, old_meta, seq FROM item_history"
                              " WHERE item_id = $1) e ORDER BY seq DESC"
                              " LIMIT 1", &p, 0);
    if (h == NULL)
        return AM__ERR(s).code;
    u->hist = h;
    if (PQntuples(h) == 0)
        return am__fail(&AM__ERR(s), AM_ENOTFOUND, "undo: no history");
    u->event = am__pg_str(h, 0, 0);
    u->old_value = am__pg_str(h, 0, 1);
    u->old_meta = am__pg_str(h, 0, 2);
    return AM_OK;
}

void am__pg_undo_done(am_store *s, am__undo *u)
{
    (void)s;
    PQclear(u->hist);
    PQclear(u->row);
    u->row = u->hist = NULL;
}

am_status am__pg_undo_delete(am_store *s, const am__undo *u, int64_t now,
                             const char *actor)
{
    return soft_delete(s, u->row, now, actor);
}

am_status am__pg_undo_restore(am_store *s, const am__undo *u, am_str value,
                              const am__prepared *p, const char *event,
                              int64_t now, const char *actor)
{
    am_buf text = AM_BUF_INIT;
    text.alloc = s->alloc;
    am_status st = am__pg_text((am_str){ p->text.ptr, p->text.len }, &text);
    if (st != AM_OK)
        st = am__fail(&AM__ERR(s), AM_ENOMEM, "undo: out of memory");
    /* The history entry first, as in soft_delete. */
    if (st == AM_OK)
        st = history_add(s, u->id, event, u->row, now, actor);
    if (st == AM_OK)
        st = update_row(s, u->id, value, p->meta, &text, u->created_ms, now,
                        0, p);
    am_buf_free(&text);
    return st;
}

/* ---- Reading lists (the front end's envelope: store_results.c) ---- */

am_status am__pg_get_item(am_store *s, am_ns ns, am_str key, am__rbuild *b)
{
    am_status st;
    am_buf enc = AM_BUF_INIT;
    am__pgp p = { .n = 0 };

    enc.alloc = s->alloc;
    st = am__store_item_addr(s, ns, key, &enc);
    if (st != AM_OK)
        goto out;
    am__pgp_bytes(&p, enc.ptr, enc.len);
    am__pgp_str(&p, key);
    am__pgp_int(&p, am_clock_now(s->clock));
    PGresult *r = am__pg_exec(s, "get", "SELECT " AM__PG_ROW ", "
                              LIVE("3") " FROM items WHERE ns = $1 AND"
                              " key = $2", &p,
                              AM__PG_RETRY | AM__PG_PREPARE);
    if (r == NULL) {
        st = AM__ERR(s).code;
        goto out;
    }
    if (PQntuples(r) == 0)
        st = am__fail(&AM__ERR(s), AM_ENOTFOUND, "no item '%.*s'",
                      (int)(key.len > 64 ? 64 : key.len), key.ptr);
    else if (!am__pg_int(r, 0, 8))
        st = am__fail(&AM__ERR(s), AM_ENOTFOUND, "get: no live item");
    else if (am__pg_rb_add_row(b, r, 0, 0, NULL) != AM_OK)
        st = am__fail(&AM__ERR(s), AM_ENOMEM, "get: out of memory");
    PQclear(r);
out:
    am_buf_free(&enc);
    return st;
}

/* The range [lo, hi) and the time as $1, $2, $3 of a list or a
 * namespaces query. */
static void range_params(am_store *s, am_str lo, am_str hi, am__pgp *p)
{
    am__pgp_bytes(p, lo.ptr, lo.len);
    am__pgp_bytes(p, hi.ptr, hi.len);
    am__pgp_int(p, am_clock_now(s->clock));
}

am_status am__pg_list(am_store *s, am_str lo, am_str hi, size_t limit,
                      size_t offset, am__rbuild *b)
{
    am_status st = AM_OK;
    am__pgp p = { .n = 0 };

    range_params(s, lo, hi, &p);
    am__pgp_int(&p, (int64_t)(limit > INT64_MAX ? INT64_MAX : limit));
    am__pgp_int(&p, (int64_t)(offset > INT64_MAX ? INT64_MAX : offset));
    PGresult *r = am__pg_exec(s, "list", "SELECT " AM__PG_ROW " FROM items"
                              " WHERE ns >= $1 AND ns < $2 AND " LIVE("3")
                              " ORDER BY ns, key LIMIT $4 OFFSET $5", &p,
                              AM__PG_RETRY);
    if (r == NULL)
        return AM__ERR(s).code;
    for (int i = 0; i < PQntuples(r) && st == AM_OK; i++)
        if (am__pg_rb_add_row(b, r, i, 0, NULL) != AM_OK)
            st = am__fail(&AM__ERR(s), AM_ENOMEM, "list: out of memory");
    PQclear(r);
    return st;
}

am_status am__pg_namespaces(am_store *s, am_str lo, am_str hi,
                            size_t max_depth, size_t limit, am__rbuild *b)
{
    am_status st = AM_OK;
    am__pgp p = { .n = 0 };

    range_params(s, lo, hi, &p);
    PGresult *r = am__pg_exec(s, "namespaces", "SELECT DISTINCT ns FROM"
                              " items WHERE ns >= $1 AND ns < $2 AND "
                              LIVE("3") " ORDER BY ns", &p, AM__PG_RETRY);
    if (r == NULL)
        return AM__ERR(s).code;
    for (int row = 0; row < PQntuples(r) && b->r->count < limit; row++) {
        if (am__rb_namespace(b, am__pg_str(r, row, 0), max_depth) !=
            AM_OK) {
            st = am__fail(&AM__ERR(s), AM_ENOMEM, "namespaces: out of memory");
            break;
        }
    }
    PQclear(r);
    return st;
}

am_status am__pg_history(am_store *s, am_ns ns, am_str key, am__rbuild *b)
{
    am_status st;
    am_buf enc = AM_BUF_INIT;
    am__pgp p = { .n = 0 };
    PGresult *r = NULL;

    enc.alloc = s->alloc;
    st = am__store_item_addr(s, ns, key, &enc);
    if (st != AM_OK)
        goto out;
    am__pgp_bytes(&p, enc.ptr, enc.len);
    am__pgp_str(&p, key);
    /* One statement: the row and its history in one snapshot. Row 0
     * carries the current value and meta (event NULL); then the row's
     * implicit "add" (schema 6) or its rows of item_history. */
    r = am__pg_exec(s, "history", "WITH i AS (SELECT id, value, meta,"
                    " created_ms, add_actor FROM items WHERE ns = $1 AND"
                    " key = $2)"
                    " SELECT NULL::text, value, 0::bigint, NULL::text, meta,"
                    " -1::bigint FROM i UNION ALL"
                    " SELECT 'add', NULL, created_ms, add_actor, NULL,"
                    " 0::bigint FROM i WHERE add_actor IS NOT NULL UNION ALL"
                    " SELECT h.event, h.old_value, h.at_ms, h.actor,"
                    " h.old_meta, h.seq FROM item_history h, i"
                    " WHERE h.item_id = i.id ORDER BY 6", &p, AM__PG_RETRY);
    if (r == NULL) {
        st = AM__ERR(s).code;
        goto out;
    }
    if (PQntuples(r) == 0) {
        st = am__fail(&AM__ERR(s), AM_ENOTFOUND, "no item '%.*s'",
                      (int)(key.len > 64 ? 64 : key.len), key.ptr);
        goto out;
    }
    for (int row = 1; st == AM_OK && row < PQntuples(r); row++)
        st = am__rb_event(b, (am_str){ enc.ptr, enc.len }, key,
                          am__pg_str(r, row, 0), am__pg_str(r, row, 1),
                          am__pg_str(r, row, 4), am__pg_int(r, row, 2),
                          am__pg_str(r, row, 3));
    if (st == AM_OK)
        st = am__rb_events_end(b, am__pg_str(r, 0, 1), am__pg_str(r, 0, 4));
    if (st == AM_ENOMEM)
        am__fail(&AM__ERR(s), st, "history: out of memory");
out:
    PQclear(r);
    am_buf_free(&enc);
    return st;
}
