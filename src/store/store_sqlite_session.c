/* store_sqlite_session.c -- one persisted conversation thread per session id.
 *
 * The shape agent SDKs use: get items (optionally the last N), add items,
 * pop the last, clear, list a user's sessions. Items are JSON documents
 * stored as text in `session_items`, in insertion order (rowid order), so
 * the store needs no knowledge of the message format. The front end
 * (store_retention.c) checks ids and items and runs add, pop, clear and
 * prune in one transaction; the functions here are the steps inside.
 */
#include <string.h>

#include "store_sqlite.h"

static am_status sess_find(am_store *s, am_str sid, int64_t *id,
                           am_buf *owner)
{
    sqlite3_stmt *q = am__store_stmt(s, Q_SESS_FIND);
    if (q == NULL)
        return AM__ERR(s).code;
    sqlite3_bind_blob(q, 1, sid.ptr, (int)sid.len, SQLITE_STATIC);
    int rc = sqlite3_step(q);
    am_status st = AM_OK;
    if (rc == SQLITE_ROW) {
        *id = sqlite3_column_int64(q, 0);
        if (owner != NULL) {
            am_buf_clear(owner);
            st = am_buf_append(owner, sqlite3_column_blob(q, 1),
                               (size_t)sqlite3_column_bytes(q, 1));
            if (st != AM_OK)
                st = am__fail(&AM__ERR(s), AM_ENOMEM, "session: out of memory");
        }
    } else if (rc == SQLITE_DONE) {
        st = am__fail(&AM__ERR(s), AM_ENOTFOUND, "no session '%.*s'",
                      (int)(sid.len > 64 ? 64 : sid.len), sid.ptr);
    } else {
        st = am__store_dberr(s, rc, "session", q);
    }
    sqlite3_reset(q);
    return st;
}

static am_status step1(am_store *s, sqlite3_stmt *q, const char *what)
{
    int rc = sqlite3_step(q);
    sqlite3_reset(q);
    return rc == SQLITE_DONE ? AM_OK : am__store_dberr(s, rc, what, q);
}

am_status am__sq_session_add(am_store *s, am_str user_id, am_str session_id,
                             const am_str *items, size_t count, int64_t now)
{
    am_status st;
    am_buf owner = AM_BUF_INIT;
    int64_t id = 0;
    sqlite3_stmt *q;

    owner.alloc = s->alloc;
    st = sess_find(s, session_id, &id, &owner);
    if (st == AM_OK) {
        if (owner.len != user_id.len ||
            (owner.len > 0 && memcmp(owner.ptr, user_id.ptr, owner.len)))
            st = am__fail(&AM__ERR(s), AM_EINVAL,
                          "session add: session belongs to another user");
    } else if (st == AM_ENOTFOUND) {
        q = am__store_stmt(s, Q_SESS_NEW);
        if (q == NULL) {
            st = AM__ERR(s).code;
            goto out;
        }
        sqlite3_bind_blob(q, 1, session_id.ptr, (int)session_id.len,
                          SQLITE_STATIC);
        sqlite3_bind_blob(q, 2, user_id.ptr != NULL ? user_id.ptr : "",
                          (int)user_id.len, SQLITE_STATIC);
        sqlite3_bind_int64(q, 3, now);
        st = step1(s, q, "session add");
        id = sqlite3_last_insert_rowid(SQ(s)->db->conn);
    }
    for (size_t i = 0; st == AM_OK && i < count; i++) {
        q = am__store_stmt(s, Q_SESS_ITEM_ADD);
        if (q == NULL) {
            st = AM__ERR(s).code;
            break;
        }
        sqlite3_bind_int64(q, 1, id);
        sqlite3_bind_text(q, 2, items[i].ptr, (int)items[i].len,
                          SQLITE_STATIC);
        sqlite3_bind_int64(q, 3, now);
        st = step1(s, q, "session add");
    }
    if (st == AM_OK) {
        q = am__store_stmt(s, Q_SESS_TOUCH);
        if (q == NULL)
            st = AM__ERR(s).code;
        else {
            sqlite3_bind_int64(q, 1, id);
            sqlite3_bind_int64(q, 2, now);
            st = step1(s, q, "session add");
        }
    }
out:
    am_buf_free(&owner);
    return st;
}

am_status am__sq_session_get(am_store *s, am_str session_id, size_t limit,
                         am_buf *out)
{
    am_status st;
    int64_t id = 0;

    st = sess_find(s, session_id, &id, NULL);
    if (st == AM_ENOTFOUND) {
        st = am_buf_append(out, "[]", 2);
        goto out;
    }
    if (st != AM_OK)
        goto out;
    sqlite3_stmt *q = am__store_stmt(s, Q_SESS_ITEMS);
    if (q == NULL) {
        st = AM__ERR(s).code;
        goto out;
    }
    sqlite3_bind_int64(q, 1, id);
    sqlite3_bind_int64(q, 2, limit > 0 ? (int64_t)limit : -1);
    st = am_buf_append(out, "[", 1);
    int rc, n = 0;
    while (st == AM_OK && (rc = sqlite3_step(q)) == SQLITE_ROW) {
        if (n++ > 0)
            st = am_buf_append(out, ",", 1);
        if (st == AM_OK)
            st = am_buf_append(out, sqlite3_column_text(q, 0),
                               (size_t)sqlite3_column_bytes(q, 0));
    }
    if (st == AM_OK && rc != SQLITE_DONE)
        st = am__store_dberr(s, rc, "session get", q);
    else if (st == AM_OK)
        st = am_buf_append(out, "]", 1);
    sqlite3_reset(q);
out:
    if (st == AM_ENOMEM)
        am__fail(&AM__ERR(s), st, "session get: out of memory");
    return st;
}

am_status am__sq_session_pop(am_store *s, am_str session_id, am_buf *out)
{
    am_status st;
    int64_t id = 0;

    st = sess_find(s, session_id, &id, NULL);
    if (st != AM_OK)
        return st;
    sqlite3_stmt *q = am__store_stmt(s, Q_SESS_LAST);
    if (q == NULL) {
        st = AM__ERR(s).code;
        goto out;
    }
    sqlite3_bind_int64(q, 1, id);
    int rc = sqlite3_step(q);
    if (rc != SQLITE_ROW) {
        st = rc == SQLITE_DONE
                 ? am__fail(&AM__ERR(s), AM_ENOTFOUND, "session pop: empty")
                 : am__store_dberr(s, rc, "session pop", q);
        sqlite3_reset(q);
        goto out;
    }
    int64_t item = sqlite3_column_int64(q, 0);
    if (out != NULL)
        st = am__store_copy_out(s, am__sq_col_str(q, 1), out, "session pop");
    sqlite3_reset(q);
    if (st != AM_OK)
        goto out;
    q = am__store_stmt(s, Q_SESS_ITEM_DEL);
    if (q == NULL) {
        st = AM__ERR(s).code;
        goto out;
    }
    sqlite3_bind_int64(q, 1, item);
    st = step1(s, q, "session pop");
out:
    return st;
}

/* One int parameter, ?3 (am__sq_exec_once's). */
static am_status exec_id(am_store *s, const char *sql, int64_t id,
                         size_t *changed)
{
    static const am_str none = { NULL, 0 };
    return am__sq_exec_once(s, sql, none, none, id, changed);
}

am_status am__sq_session_clear(am_store *s, am_str session_id)
{
    am_status st;
    int64_t id = 0;

    st = sess_find(s, session_id, &id, NULL);
    if (st == AM_OK)
        st = exec_id(s, "DELETE FROM session_items WHERE sess = ?3", id,
                     NULL);
    if (st == AM_OK)
        st = exec_id(s, "DELETE FROM sessions WHERE id = ?3", id, NULL);
    return st;
}

am_status am__sq_session_list(am_store *s, am_str user_id,
                              am__session_row_fn row, void *ctx)
{
    sqlite3_stmt *q = NULL;
    am_status st = AM_OK;
    int rc = sqlite3_prepare_v2(
        SQ(s)->db->conn,
        "SELECT s.session_id, (SELECT count(*) FROM session_items i"
        " WHERE i.sess = s.id), s.created_ms, s.updated_ms FROM sessions s"
        " WHERE s.user_id = ?1 ORDER BY s.updated_ms DESC, s.id DESC",
        -1, &q, NULL);
    if (rc != SQLITE_OK)
        return am__sqldb_fail_sql(SQ(s)->db, &AM__ERR(s), rc, "session list",
                                  "SELECT s.session_id, ... FROM sessions s");
    sqlite3_bind_blob(q, 1, user_id.ptr != NULL ? user_id.ptr : "",
                      (int)user_id.len, SQLITE_STATIC);
    while (st == AM_OK && (rc = sqlite3_step(q)) == SQLITE_ROW)
        st = row(ctx, s,
                 (am_str){ (const char *)sqlite3_column_blob(q, 0),
                           (size_t)sqlite3_column_bytes(q, 0) },
                 sqlite3_column_int64(q, 1), sqlite3_column_int64(q, 2),
                 sqlite3_column_int64(q, 3));
    if (st == AM_OK && rc != SQLITE_DONE)
        st = am__store_dberr(s, rc, "session list", q);
    sqlite3_finalize(q);
    return st;
}

am_status am__sq_prune_sessions(am_store *s, int64_t older_than_ms,
                                size_t keep_last, size_t *n)
{
    am_status st = AM_OK;

    if (older_than_ms > 0) {
        st = exec_id(s, "DELETE FROM session_items WHERE sess IN (SELECT id"
                        " FROM sessions WHERE updated_ms < ?3)",
                     older_than_ms, n);
        if (st == AM_OK)
            st = exec_id(s, "DELETE FROM sessions WHERE updated_ms < ?3",
                         older_than_ms, NULL);
    }
    if (st == AM_OK && keep_last > 0)
        st = exec_id(s, "DELETE FROM session_items WHERE id IN (SELECT id"
                        " FROM (SELECT id, row_number() OVER (PARTITION BY"
                        " sess ORDER BY id DESC) AS rn FROM session_items)"
                        " WHERE rn > ?3)",
                     (int64_t)keep_last, n);
    return st;
}
