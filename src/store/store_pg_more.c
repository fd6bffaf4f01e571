/* store_pg_more.c -- retention (delete a namespace, purge, prune
 * histories, vacuum, check) and sessions on PostgreSQL.
 *
 * Same semantics as store_sqlite_retention.c and store_sqlite_session.c.
 * A hard delete bumps the store's `vec_epoch`, which tells every handle's
 * vector cache to reload (rows that are gone cannot announce themselves
 * through the change sequence). Session writes lock the session's row
 * first, so items added by several instances to one session keep one
 * order and a pop takes exactly one item. The transactions, the count
 * reported and the input checks are the front end's (store_retention.c):
 * the functions here are the steps inside.
 */
#include <assert.h>
#include <string.h>

#include "store_pg.h"

/* ---- Retention ---- */

/* Hard-delete the items matching `cond` (SQL over items, parameters
 * $1..$n of `p`) and their history; *n grows by the rows deleted. */
static am_status delete_items(am_store *s, const char *cond,
                              const am__pgp *p, size_t *n)
{
    char sql[256];
    size_t gone = 0;
    snprintf(sql, sizeof sql, "DELETE FROM item_history WHERE item_id IN"
             " (SELECT id FROM items WHERE %s)", cond);
    am_status st = am__pg_run(s, "delete", sql, p, NULL);
    if (st == AM_OK) {
        snprintf(sql, sizeof sql, "DELETE FROM items WHERE %s", cond);
        st = am__pg_run(s, "delete", sql, p, &gone);
    }
    if (st == AM_OK && gone > 0)
        st = am__pg_run(s, "delete", "UPDATE store_meta SET v ="
                        " (v::bigint + 1)::text WHERE k = 'vec_epoch'",
                        NULL, NULL);
    if (n != NULL)
        *n += gone;
    return st;
}

/* With no vector left, the index is no longer tied to an embedder. */
am_status am__pg_release_vec_model(am_store *s)
{
    return am__pg_run(s, "delete", "DELETE FROM store_meta WHERE k ="
                      " 'vec_model' AND NOT EXISTS (SELECT 1 FROM items"
                      " WHERE vec IS NOT NULL)", NULL, NULL);
}

/* Inside the front end's transaction (store_retention.c). */
am_status am__pg_delete_items(am_store *s, const am__doomed *d, size_t *n)
{
    am__pgp p = { .n = 0 };
    const char *cond;
    switch (d->kind) {
    case AM__DOOM_NS:
        am__pgp_bytes(&p, d->lo.ptr, d->lo.len);
        am__pgp_bytes(&p, d->hi.ptr, d->hi.len);
        cond = "ns >= $1 AND ns < $2";
        break;
    case AM__DOOM_DELETED:
        am__pgp_int(&p, d->t);
        cond = "deleted_ms < $1";
        break;
    default:
        assert(d->kind == AM__DOOM_EXPIRED);
        am__pgp_int(&p, d->t);
        cond = "expires_ms <= $1";
        break;
    }
    return delete_items(s, cond, &p, n);
}

/* Inside the front end's transaction; keep >= 1 (the front end checked). */
am_status am__pg_prune_history(am_store *s, size_t keep, size_t *n)
{
    am__pgp p = { .n = 0 };

    assert(keep > 0);
    am__pgp_int(&p, (int64_t)(keep > INT64_MAX ? INT64_MAX : keep));
    return am__pg_run(s, "history prune", "DELETE FROM item_history WHERE"
                      " (item_id, seq) IN (SELECT item_id, seq FROM"
                      " (SELECT item_id, seq, row_number() OVER (PARTITION"
                      " BY item_id ORDER BY seq DESC) AS rn FROM"
                      " item_history) h WHERE rn > $1)", &p, n);
}

am_status am__pg_vacuum(am_store *s, int full)
{
    static const char *const tables[] = { "items", "item_history",
                                          "sessions", "session_items" };
    char sql[64];
    am_status st = AM_OK;
    for (size_t i = 0; st == AM_OK && i < 4; i++) {
        snprintf(sql, sizeof sql, "VACUUM %s%s", full ? "FULL ANALYZE "
                                                      : "ANALYZE ",
                 tables[i]);
        st = am__pg_run(s, "vacuum", sql, NULL, NULL);
    }
    return st;
}

am_status am__pg_check(am_store *s)
{
    /* What the server does not check itself: the full-text vectors match
     * the items' text, and no history or session item is orphaned. */
    static const struct {
        const char *what, *sql;
    } checks[] = {
        { "full-text index: items whose index differs from their text",
          "SELECT count(*) FROM items"
          " WHERE tsv <> to_tsvector('english', text)" },
        { "history: entries of items that do not exist",
          "SELECT count(*) FROM item_history h WHERE NOT EXISTS"
          " (SELECT 1 FROM items i WHERE i.id = h.item_id)" },
        { "sessions: items of sessions that do not exist",
          "SELECT count(*) FROM session_items t WHERE NOT EXISTS"
          " (SELECT 1 FROM sessions x WHERE x.id = t.sess)" },
    };
    for (size_t i = 0; i < sizeof checks / sizeof checks[0]; i++) {
        PGresult *r = am__pg_exec(s, "integrity check", checks[i].sql, NULL,
                                  AM__PG_RETRY);
        if (r == NULL)
            return AM__ERR(s).code;
        long long bad = (long long)am__pg_int(r, 0, 0);
        PQclear(r);
        if (bad != 0)
            return am__fail(&AM__ERR(s), AM_EIO, "integrity check on %s: %s "
                            "(%lld)", PG(s)->display, checks[i].what, bad);
    }
    return AM_OK;
}

/* ---- Sessions ---- */

/* The session's id (locked for the transaction when `lock`). */
static am_status sess_find(am_store *s, am_str sid, int lock, int64_t *id,
                           PGresult **row)
{
    am__pgp p = { .n = 0 };
    am__pgp_str(&p, sid);
    PGresult *r = am__pg_exec(s, "session",
                              lock ? "SELECT id, user_id FROM sessions"
                                     " WHERE session_id = $1 FOR UPDATE"
                                   : "SELECT id, user_id FROM sessions"
                                     " WHERE session_id = $1",
                              &p, lock ? 0 : AM__PG_RETRY);
    if (r == NULL)
        return AM__ERR(s).code;
    if (PQntuples(r) == 0) {
        PQclear(r);
        return am__fail(&AM__ERR(s), AM_ENOTFOUND, "no session '%.*s'",
                        (int)(sid.len > 64 ? 64 : sid.len), sid.ptr);
    }
    *id = am__pg_int(r, 0, 0);
    if (row != NULL)
        *row = r;
    else
        PQclear(r);
    return AM_OK;
}

am_status am__pg_session_add(am_store *s, am_str user_id, am_str session_id,
                             const am_str *items, size_t count, int64_t now)
{
    am_status st;
    int64_t id = 0;
    PGresult *row = NULL;
    am__pgp p = { .n = 0 };

    am__pgp_str(&p, session_id);
    am__pgp_bytes(&p, user_id.ptr, user_id.len);
    am__pgp_int(&p, now);
    st = am__pg_run(s, "session add", "INSERT INTO sessions(session_id,"
                    " user_id, created_ms, updated_ms) VALUES ($1, $2, $3,"
                    " $3) ON CONFLICT (session_id) DO NOTHING", &p, NULL);
    if (st == AM_OK)
        st = sess_find(s, session_id, 1, &id, &row);
    if (st == AM_OK) {
        am_str owner = am__pg_str(row, 0, 1);
        if (owner.len != user_id.len ||
            (owner.len > 0 && memcmp(owner.ptr, user_id.ptr, owner.len)))
            st = am__fail(&AM__ERR(s), AM_EINVAL,
                          "session add: session belongs to another user");
    }
    for (size_t i = 0; st == AM_OK && i < count; i++) {
        am__pgp q = { .n = 0 };
        am__pgp_int(&q, id);
        am__pgp_str(&q, items[i]);
        am__pgp_int(&q, now);
        st = am__pg_run(s, "session add", "INSERT INTO session_items(sess,"
                        " item, created_ms) VALUES ($1, $2, $3)", &q, NULL);
    }
    if (st == AM_OK) {
        am__pgp q = { .n = 0 };
        am__pgp_int(&q, id);
        am__pgp_int(&q, now);
        st = am__pg_run(s, "session add", "UPDATE sessions SET updated_ms ="
                        " $2 WHERE id = $1", &q, NULL);
    }
    PQclear(row);
    return st;
}

am_status am__pg_session_get(am_store *s, am_str session_id, size_t limit,
                             am_buf *out)
{
    am_status st;
    am__pgp p = { .n = 0 };

    am__pgp_str(&p, session_id);
    if (limit > 0)
        am__pgp_int(&p, (int64_t)(limit > INT64_MAX ? INT64_MAX : limit));
    else
        am__pgp_null(&p);
    PGresult *r = am__pg_exec(s, "session get", "SELECT item FROM (SELECT"
                              " t.id, t.item FROM session_items t JOIN"
                              " sessions x ON x.id = t.sess WHERE"
                              " x.session_id = $1 ORDER BY t.id DESC LIMIT"
                              " $2::bigint) y ORDER BY id", &p, AM__PG_RETRY);
    if (r == NULL)
        return AM__ERR(s).code;
    st = am_buf_append(out, "[", 1);
    for (int i = 0; st == AM_OK && i < PQntuples(r); i++) {
        am_str v = am__pg_str(r, i, 0);
        if (i > 0)
            st = am_buf_append(out, ",", 1);
        if (st == AM_OK)
            st = am_buf_append(out, v.ptr, v.len);
    }
    if (st == AM_OK)
        st = am_buf_append(out, "]", 1);
    PQclear(r);
    if (st != AM_OK)
        return am__fail(&AM__ERR(s), st, "session get: out of memory");
    return AM_OK;
}

am_status am__pg_session_pop(am_store *s, am_str session_id, am_buf *out)
{
    am_status st;
    int64_t id = 0;
    am__pgp p = { .n = 0 };
    PGresult *r = NULL;

    st = sess_find(s, session_id, 1, &id, NULL);
    if (st != AM_OK)
        goto out;
    am__pgp_int(&p, id);
    r = am__pg_exec(s, "session pop", "DELETE FROM session_items WHERE id ="
                    " (SELECT id FROM session_items WHERE sess = $1 ORDER BY"
                    " id DESC LIMIT 1) RETURNING item", &p, 0);
    if (r == NULL) {
        st = AM__ERR(s).code;
        goto out;
    }
    if (PQntuples(r) == 0) {
        st = am__fail(&AM__ERR(s), AM_ENOTFOUND, "session pop: empty");
        goto out;
    }
    if (out != NULL)
        st = am__store_copy_out(s, am__pg_str(r, 0, 0), out, "session pop");
out:
    PQclear(r);
    return st;
}

am_status am__pg_session_clear(am_store *s, am_str session_id)
{
    am_status st;
    int64_t id = 0;
    am__pgp p = { .n = 0 };

    st = sess_find(s, session_id, 1, &id, NULL);
    am__pgp_int(&p, id);
    if (st == AM_OK)
        st = am__pg_run(s, "session clear", "DELETE FROM session_items"
                        " WHERE sess = $1", &p, NULL);
    if (st == AM_OK)
        st = am__pg_run(s, "session clear", "DELETE FROM sessions WHERE"
                        " id = $1", &p, NULL);
    return st;
}

am_status am__pg_session_list(am_store *s, am_str user_id,
                              am__session_row_fn row, void *ctx)
{
    am_status st = AM_OK;
    am__pgp p = { .n = 0 };

    am__pgp_bytes(&p, user_id.ptr, user_id.len);
    PGresult *r = am__pg_exec(s, "session list", "SELECT x.session_id,"
                              " (SELECT count(*) FROM session_items t WHERE"
                              " t.sess = x.id), x.created_ms, x.updated_ms"
                              " FROM sessions x WHERE x.user_id = $1"
                              " ORDER BY x.updated_ms DESC, x.id DESC", &p,
                              AM__PG_RETRY);
    if (r == NULL)
        return AM__ERR(s).code;
    for (int i = 0; st == AM_OK && i < PQntuples(r); i++)
        st = row(ctx, s, am__pg_str(r, i, 0), am__pg_int(r, i, 1),
                 am__pg_int(r, i, 2), am__pg_int(r, i, 3));
    PQclear(r);
    return st;
}

am_status am__pg_prune_sessions(am_store *s, int64_t older_than_ms,
                                size_t keep_last, size_t *n)
{
    am_status st = AM_OK;
    am__pgp a = { .n = 0 }, b = { .n = 0 };

    am__pgp_int(&a, older_than_ms);
    am__pgp_int(&b, (int64_t)(keep_last > INT64_MAX ? INT64_MAX
                                                    : keep_last));
    if (older_than_ms > 0) {
        st = am__pg_run(s, "session prune", "DELETE FROM session_items"
                        " WHERE sess IN (SELECT id FROM sessions WHERE"
                        " updated_ms < $1)", &a, n);
        if (st == AM_OK)
            st = am__pg_run(s, "session prune", "DELETE FROM sessions WHERE"
                            " updated_ms < $1", &a, NULL);
    }
    if (st == AM_OK && keep_last > 0)
        st = am__pg_run(s, "session prune", "DELETE FROM session_items WHERE"
                        " id IN (SELECT id FROM (SELECT id, row_number()"
                        " OVER (PARTITION BY sess ORDER BY id DESC) AS rn"
                        " FROM session_items) t WHERE rn > $1)", &b, n);
    return st;
}
