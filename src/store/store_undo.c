/* store_undo.c -- delete and undo of one item, the same on every backend.
 *
 * A delete is a write of one soft-delete (am__store_write, so the backend
 * runs it in the write path it already has for a batch's deletes). An
 * undo reads the item's last history entry and reverts it: an "add" is
 * soft-deleted, anything else writes the entry's old value and metadata
 * back. Which of the two, the item rebuilt from the history (text derived
 * again, vector embedded again when the store has an embedder: the
 * history keeps none), the transaction and the vector cache's write
 * counter are decided here once; a backend supplies the row steps
 * (backend.h: undo_find, undo_delete, undo_restore, undo_done).
 */
#include <string.h>

#include "store_int.h"

/* The event a revert records and the actor it names. */
#define UNDO_ACTOR "undo"

am_status am_store_delete(am_store *s, am_ns ns, am_str key)
{
    am__write w;
    if (s == NULL)
        return AM_EINVAL;
    memset(&w, 0, sizeof w);
    w.del_ns = ns;
    w.dels = &key;
    w.ndel = 1;
    am_status st = am__store_write(s, &w);
    if (st != AM_OK && st != AM_ENOMEM) {
        /* One key: "delete: ...", not a batch's "delete 0: ...". The
         * slot is this thread's (core/errtab.h): no lock needed. */
        am_error *e = &AM__ERR(s);
        if (strncmp(e->msg, "delete 0: ", 10) == 0) {
            char detail[sizeof e->msg];
            memcpy(detail, e->msg + 10, sizeof detail - 10);
            am__fail(e, st, "delete: %s", detail);
        }
    }
    return st;
}

/* Write the history's old value and metadata back over u's row. */
static am_status restore(am_store *s, am_ns ns, am_str key,
                         const am__undo *u, int64_t now)
{
    am_item_in it;
    am__prepared p;

    memset(&it, 0, sizeof it);
    it.ns = ns;
    it.key = key;
    it.value = u->old_value;
    it.meta = u->old_meta;
    it.no_embed = s->embedder == NULL;
    am_status st = am__store_prepare(s, &it, 0, &p, &AM__ERR(s));
    if (st == AM_OK)
        st = s->be->undo_restore(s, u, it.value, &p,
                                 u->live ? "update" : "add", now,
                                 UNDO_ACTOR);
    am__store_prepared_free(s, &p);
    return st;
}

am_status am_store_undo(am_store *s, am_ns ns, am_str key)
{
    am_status st;
    am_buf enc = AM_BUF_INIT;
    am__undo u;

    if (s == NULL)
        return AM_EINVAL;
    STORE_LOCK(s);
    enc.alloc = s->alloc;
    memset(&u, 0, sizeof u);
    int64_t now = am_clock_now(s->clock);
    st = am__store_item_addr(s, ns, key, &enc);
    if (st == AM_OK)
        st = s->be->begin(s);
    if (st != AM_OK)
        goto out;
    st = s->be->undo_find(s, (am_str){ enc.ptr, enc.len }, key, now, &u);
    if (st == AM_OK) {
        if (u.event.len == 3 && memcmp(u.event.ptr, "add", 3) == 0)
            st = s->be->undo_delete(s, &u, now, UNDO_ACTOR);
        else
            st = restore(s, ns, key, &u, now);
    }
    s->be->undo_done(s, &u);
    st = am__store_txn_end(s, st);
    if (st == AM_OK)
        am__store_wrote(s); /* the vector cache and statistics look again */
out:
    STORE_UNLOCK(s);
    am_buf_free(&enc);
    return st;
}
