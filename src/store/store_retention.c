/* store_retention.c -- retention and sessions: the half every backend
 * shares (front end).
 *
 * Deleting a namespace, purging, pruning histories and sessions, and
 * every session write are one transaction each. The transaction, the
 * count handed back (only on success: a rolled-back delete removed
 * nothing), the vector cache's write counter and the checks of the
 * caller's input (session ids, the JSON of session items) are the same on
 * every backend, so they live here once; a backend supplies the steps
 * that run inside the transaction (backend.h) and reads its rows. The
 * session list's JSON is written here too, from the rows a backend
 * reports, so both backends answer with one shape.
 */
#include <stdio.h>
#include <string.h>

#include "core/json_glue.h"
#include "store_int.h"

/* ---- One transaction around a backend step ---- */

/* A step of a retention or session write, run inside the transaction;
 * `arg` is the call's arguments, *n counts what it removed. */
typedef am_status (*txn_step)(am_store *s, const void *arg, size_t *n);

/* Run `step` in one transaction of the backend, under the store's lock:
 * on any failure the transaction is rolled back, so nothing changed.
 * `bumps_vectors`: the step may delete rows holding vectors, so the
 * vector cache must reload (bumped on failure too: a rollback after a
 * partial delete is cheap to re-read, a stale cache is wrong). *removed
 * (may be NULL) gets the count, 0 on failure. */
static am_status in_txn(am_store *s, txn_step step, const void *arg,
                        bool bumps_vectors, size_t *removed)
{
    size_t n = 0;
    am_status st;

    st = s->be->begin(s);
    if (st == AM_OK)
        st = step(s, arg, &n);
    st = am__store_txn_end(s, st);
    if (bumps_vectors)
        am__store_wrote(s);
    if (removed != NULL)
        *removed = st == AM_OK ? n : 0;
    return st;
}

/* The checks of a call's input, under the lock (they write the error
 * slot) and before any transaction. */
typedef am_status (*txn_check)(am_store *s, const void *arg);

/* A public retention or session write: `check` (may be NULL), then `step`
 * in one transaction (in_txn), all under the store's lock. */
static am_status locked_txn(am_store *s, txn_check check, txn_step step,
                            const void *arg, bool bumps_vectors,
                            size_t *removed)
{
    am_status st;

    if (s == NULL)
        return AM_EINVAL;
    STORE_LOCK(s);
    st = check != NULL ? check(s, arg) : AM_OK;
    if (st == AM_OK)
        st = in_txn(s, step, arg, bumps_vectors, removed);
    else if (removed != NULL)
        *removed = 0;
    STORE_UNLOCK(s);
    return st;
}

/* ---- Retention ---- */

static am_status ns_check(am_store *s, const void *arg)
{
    if (((const am_ns *)arg)->count == 0)
        return am__fail(&AM__ERR(s), AM_EINVAL, "delete namespace: needs at "
                        "least one part");
    return AM_OK;
}

am_status am__store_clear_ns(am_store *s, am_ns ns, size_t *removed)
{
    am_buf lo = AM_BUF_INIT, hi = AM_BUF_INIT;
    size_t n = 0;
    am_status st;

    lo.alloc = hi.alloc = s->alloc;
    st = am__store_ns_range(s, ns, &lo, &hi);
    if (st == AM_OK) {
        am__doomed d = { AM__DOOM_NS, { lo.ptr, lo.len },
                         { hi.ptr, hi.len }, 0 };
        st = s->be->delete_items(s, &d, &n);
    }
    if (st == AM_OK)
        st = s->be->release_vec_model(s);
    if (removed != NULL)
        *removed = st == AM_OK ? n : 0;
    am_buf_free(&lo);
    am_buf_free(&hi);
    return st;
}

static am_status step_clear_ns(am_store *s, const void *arg, size_t *n)
{
    return am__store_clear_ns(s, *(const am_ns *)arg, n);
}

am_status am_store_delete_ns(am_store *s, am_ns ns, size_t *removed)
{
    return locked_txn(s, ns_check, step_clear_ns, &ns, true, removed);
}

/* Soft-deleted rows older than `arg`, then the expired ones. */
static am_status step_purge(am_store *s, const void *arg, size_t *n)
{
    am__doomed d = { AM__DOOM_DELETED, { NULL, 0 }, { NULL, 0 },
                     *(const int64_t *)arg };
    am_status st = s->be->delete_items(s, &d, n);
    if (st == AM_OK) {
        d = (am__doomed){ AM__DOOM_EXPIRED, { NULL, 0 }, { NULL, 0 },
                          am_clock_now(s->clock) };
        st = s->be->delete_items(s, &d, n);
    }
    if (st == AM_OK)
        st = s->be->release_vec_model(s);
    return st;
}

am_status am_store_purge(am_store *s, int64_t deleted_before,
                         size_t *removed)
{
    return locked_txn(s, NULL, step_purge, &deleted_before, true, removed);
}

static am_status keep_check(am_store *s, const void *arg)
{
    if (*(const size_t *)arg == 0)
        return am__fail(&AM__ERR(s), AM_EINVAL, "history prune: keep must be "
                        ">= 1 (undo needs the last entry)");
    return AM_OK;
}

static am_status step_history_prune(am_store *s, const void *arg, size_t *n)
{
    return s->be->prune_history(s, *(const size_t *)arg, n);
}

am_status am_store_history_prune(am_store *s, size_t keep, size_t *removed)
{
    return locked_txn(s, keep_check, step_history_prune, &keep, false,
                      removed);
}

/* ---- Sessions ---- */

static am_status sid_ok(am_store *s, am_str sid)
{
    if (sid.ptr == NULL || sid.len == 0)
        return am__fail(&AM__ERR(s), AM_EINVAL, "session: empty session id");
    if (sid.len > 1024)
        return am__fail(&AM__ERR(s), AM_EINVAL, "session: id too long");
    return AM_OK;
}

/* Every item is stored as its JSON text: check that it is JSON first, so
 * a session never holds a document that a later get cannot return. */
static am_status items_ok(am_store *s, const am_str *items, size_t count)
{
    am_status st = AM_OK;

    if (items == NULL && count > 0)
        return am__fail(&AM__ERR(s), AM_EINVAL, "session add: NULL items");
    for (size_t i = 0; st == AM_OK && i < count; i++) {
        json_t *v = NULL;
        char what[48];
        snprintf(what, sizeof what, "session item %zu", i);
        /* AM_ENOMEM when jansson ran out of memory on a valid item. */
        st = am__json_parse_flags(items[i], JSON_DECODE_ANY, what, &v,
                                  &AM__ERR(s));
        json_decref(v);
    }
    return st;
}

typedef struct add_arg {
    am_str user_id, session_id;
    const am_str *items;
    size_t count;
} add_arg;

static am_status add_check(am_store *s, const void *arg)
{
    const add_arg *a = arg;
    am_status st = sid_ok(s, a->session_id);
    return st != AM_OK ? st : items_ok(s, a->items, a->count);
}

static am_status step_session_add(am_store *s, const void *arg, size_t *n)
{
    const add_arg *a = arg;
    (void)n;
    return s->be->session_add(s, a->user_id, a->session_id, a->items,
                              a->count, am_clock_now(s->clock));
}

am_status am_session_add(am_store *s, am_str user_id, am_str session_id,
                         const am_str *items, size_t count)
{
    add_arg a = { user_id, session_id, items, count };
    return locked_txn(s, add_check, step_session_add, &a, false, NULL);
}

am_status am_session_get(am_store *s, am_str session_id, size_t limit,
                         am_buf *out)
{
    am_status st;

    if (s == NULL || out == NULL)
        return AM_EINVAL;
    STORE_LOCK(s);
    am_buf_clear(out);
    st = sid_ok(s, session_id);
    if (st == AM_OK)
        st = s->be->session_get(s, session_id,
                                am__store_count_cap(limit), out);
    STORE_UNLOCK(s);
    return st;
}

/* Pop and clear take the session id first in their arguments. */
typedef struct pop_arg {
    am_str session_id;
    am_buf *out;
} pop_arg;

static am_status sid_check(am_store *s, const void *arg)
{
    return sid_ok(s, *(const am_str *)arg);
}

static am_status step_session_pop(am_store *s, const void *arg, size_t *n)
{
    const pop_arg *a = arg;
    (void)n;
    return s->be->session_pop(s, a->session_id, a->out);
}

am_status am_session_pop(am_store *s, am_str session_id, am_buf *out)
{
    pop_arg a = { session_id, out };
    return locked_txn(s, sid_check, step_session_pop, &a, false, NULL);
}

static am_status step_session_clear(am_store *s, const void *arg, size_t *n)
{
    (void)n;
    return s->be->session_clear(s, *(const am_str *)arg);
}

am_status am_session_clear(am_store *s, am_str session_id)
{
    return locked_txn(s, sid_check, step_session_clear, &session_id, false,
                      NULL);
}

/* The list as [{"session_id","items","created_ms","updated_ms"}, ...],
 * built from the rows the backend reports. */
static am_status list_row(void *ctx, am_store *s, am_str session_id,
                          int64_t items, int64_t created_ms,
                          int64_t updated_ms)
{
    json_t *o = json_pack("{s:s%,s:I,s:I,s:I}", "session_id",
                          session_id.ptr != NULL ? session_id.ptr : "",
                          session_id.len, "items", (json_int_t)items,
                          "created_ms", (json_int_t)created_ms,
                          "updated_ms", (json_int_t)updated_ms);
    if (o == NULL || json_array_append_new(ctx, o) != 0)
        return am__fail(&AM__ERR(s), AM_ENOMEM, "session list: out of "
                        "memory");
    return AM_OK;
}

am_status am_session_list(am_store *s, am_str user_id, am_buf *out)
{
    json_t *arr;
    am_status st;

    if (s == NULL || out == NULL)
        return AM_EINVAL;
    STORE_LOCK(s);
    arr = json_array();
    st = arr != NULL ? s->be->session_list(s, user_id, list_row, arr)
                     : am__fail(&AM__ERR(s), AM_ENOMEM, "session list: out "
                                "of memory");
    if (st == AM_OK)
        st = am__json_dump(arr, JSON_COMPACT, out, &AM__ERR(s));
    json_decref(arr);
    STORE_UNLOCK(s);
    return st;
}

typedef struct prune_arg {
    int64_t older_than_ms;
    size_t keep_last;
} prune_arg;

static am_status step_session_prune(am_store *s, const void *arg, size_t *n)
{
    const prune_arg *a = arg;
    return s->be->prune_sessions(s, a->older_than_ms, a->keep_last, n);
}

am_status am_session_prune(am_store *s, int64_t older_than_ms,
                           size_t keep_last, size_t *removed)
{
    prune_arg a = { older_than_ms, keep_last };
    return locked_txn(s, NULL, step_session_prune, &a, false, removed);
}
