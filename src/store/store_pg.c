/* store_pg.c -- the PostgreSQL backend: the connection, its errors, the
 * schema and its migrations, open/close and the operations table.
 *
 * A target is a libpq URI, "postgresql://user@host:port/db", optionally
 * followed by "/<schema>" or "?schema=<name>" naming the PostgreSQL schema
 * that holds the store's tables (default "agentmem"); several stores can
 * share one database in several schemas. Messages name the target without
 * its password.
 *
 * One connection per handle, which the handle's mutex serializes, or a
 * small pool (am_store_opts.pool_size): each public call then takes a
 * free connection for its duration (pg_enter), and the handle's shared
 * state is under its mutex only where touched. When the
 * server goes away, the statement running fails with a clear error (a
 * transaction in flight is lost as a whole: nothing half-written) and the
 * next call reconnects. Statements that are safe to repeat (reads, BEGIN)
 * are retried once on a fresh connection, so the first call after a
 * server restart does not fail needlessly.
 *
 * Items are in store_pg_items.c, retention and sessions in
 * store_pg_more.c, search in store_pg_search.c.
 */
#include <arpa/inet.h>
#include <assert.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "store_pg.h"

/* ---- Parameters and result columns ---- */

void am__pgp_int(am__pgp *p, int64_t v)
{
    uint64_t u = (uint64_t)v;
    char *b = p->ib[p->n];
    for (int i = 7; i >= 0; i--) {
        b[i] = (char)(u & 0xff);
        u >>= 8;
    }
    p->v[p->n] = b;
    p->len[p->n] = 8;
    p->fmt[p->n] = 1;
    p->n++;
}

void am__pgp_float8(am__pgp *p, double v)
{
    int64_t i;
    memcpy(&i, &v, sizeof i);
    am__pgp_int(p, i);
}

void am__pgp_bytes(am__pgp *p, const void *ptr, size_t len)
{
    p->v[p->n] = ptr != NULL ? ptr : "";
    p->len[p->n] = (int)len;
    p->fmt[p->n] = 1;
    p->n++;
}

void am__pgp_textfmt(am__pgp *p, const char *v)
{
    p->v[p->n] = v;
    p->len[p->n] = 0;
    p->fmt[p->n] = 0;
    p->n++;
}

void am__pgp_str(am__pgp *p, am_str v)
{
    am__pgp_bytes(p, v.ptr, v.len);
}

void am__pgp_null(am__pgp *p)
{
    p->v[p->n] = NULL;
    p->len[p->n] = 0;
    p->fmt[p->n] = 1;
    p->n++;
}

int64_t am__pg_int(const PGresult *r, int row, int col)
{
    const unsigned char *b = (const unsigned char *)PQgetvalue(r, row, col);
    int len = PQgetlength(r, row, col);
    uint64_t u = 0;
    if (PQgetisnull(r, row, col))
        return 0;
    for (int i = 0; i < len; i++)
        u = (u << 8) | b[i];
    if (len == 4)
        return (int32_t)(uint32_t)u;
    if (len == 1)
        return (int64_t)u;
    return (int64_t)u;
}

double am__pg_float8(const PGresult *r, int row, int col)
{
    int64_t i = am__pg_int(r, row, col);
    double d;
    memcpy(&d, &i, sizeof d);
    return d;
}

am_str am__pg_str(const PGresult *r, int row, int col)
{
    return (am_str){ PQgetvalue(r, row, col),
                     (size_t)PQgetlength(r, row, col) };
}

int am__pg_isnull(const PGresult *r, int row, int col)
{
    return PQgetisnull(r, row, col);
}

am_status am__pg_text(am_str in, am_buf *out)
{
    am_buf_clear(out);
    if (am_buf_append(out, in.ptr != NULL ? in.ptr : "", in.len) != AM_OK ||
        am_buf_reserve(out, 0) != AM_OK)
        return AM_ENOMEM;
    for (size_t i = 0; i < out->len; i++)
        if (out->ptr[i] == '\0')
            out->ptr[i] = ' ';
    out->ptr[out->len] = '\0';
    return AM_OK;
}

/* ---- Array parameters ---- */

static void put_be32(char *p, uint32_t v)
{
    p[0] = (char)(v >> 24);
    p[1] = (char)(v >> 16);
    p[2] = (char)(v >> 8);
    p[3] = (char)v;
}

static am_status append_be32(am_buf *b, uint32_t v)
{
    char w[4];
    put_be32(w, v);
    return am_buf_append(b, w, 4);
}

am_status am__pga_begin(am_buf *b, unsigned oid, size_t count)
{
    /* ndim, has-nulls flag (set by am__pga_null), element type, then
     * the one dimension: its length and lower bound. */
    char h[20];
    assert(count <= INT32_MAX);
    put_be32(h, 1);
    put_be32(h + 4, 0);
    put_be32(h + 8, oid);
    put_be32(h + 12, (uint32_t)count);
    put_be32(h + 16, 1);
    am_buf_clear(b);
    return am_buf_append(b, h, sizeof h);
}

am_status am__pga_add(am_buf *b, const void *ptr, size_t len)
{
    assert(len <= INT32_MAX);
    am_status st = append_be32(b, (uint32_t)len);
    if (st == AM_OK && len > 0)
        st = am_buf_append(b, ptr, len);
    return st;
}

am_status am__pga_int(am_buf *b, int64_t v)
{
    char w[8];
    put_be32(w, (uint32_t)((uint64_t)v >> 32));
    put_be32(w + 4, (uint32_t)v);
    return am__pga_add(b, w, 8);
}

am_status am__pga_null(am_buf *b)
{
    assert(b->len >= 20);
    put_be32(b->ptr + 4, 1);
    return append_be32(b, UINT32_MAX); /* length -1 */
}

am_status am__pga_text(am_buf *b, am_str in)
{
    am_status st = am__pga_add(b, in.ptr, in.len);
    if (st != AM_OK)
        return st;
    for (char *p = b->ptr + b->len - in.len; p < b->ptr + b->len; p++)
        if (*p == '\0')
            *p = ' ';
    return AM_OK;
}

am_status am__pg_rb_add_row(am__rbuild *b, const PGresult *r, int row,
                            int col, am_item **out)
{
    am__row it = {
        am__pg_str(r, row, col), am__pg_str(r, row, col + 1),
        am__pg_str(r, row, col + 2), am__pg_str(r, row, col + 3),
        am__pg_str(r, row, col + 4), am__pg_int(r, row, col + 5),
        am__pg_int(r, row, col + 6), am__pg_int(r, row, col + 7),
    };
    return am__rb_item(b, &it, out);
}

/* ---- Errors and statements ---- */

/* The server's message on one line, without the trailing newline. */
static void one_line(const char *in, char *out, size_t n)
{
    size_t o = 0;
    for (const char *p = in != NULL ? in : ""; *p != '\0' && o + 2 < n;
         p++) {
        if (*p == '\n') {
            if (p[1] == '\0')
                break;
            out[o++] = ';';
            out[o++] = ' ';
        } else {
            out[o++] = *p;
        }
    }
    out[o] = '\0';
}

static am_status code_of(const PGresult *r, PGconn *c)
{
    const char *state = r != NULL ? PQresultErrorField(r, PG_DIAG_SQLSTATE)
                                  : NULL;
    if (PQstatus(c) == CONNECTION_BAD || state == NULL)
        return AM_EIO;
    if (strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0 ||
        strcmp(state, "55P03") == 0 || strcmp(state, "57014") == 0)
        return AM_EBUSY;
    if (strcmp(state, "53200") == 0)
        return AM_ENOMEM;
    return AM_EIO;
}

static am_status fail_result(am_store *s, const PGresult *r,
                             const char *what)
{
    am__pg *g = PG(s);
    PGconn *conn = am__pg_conn(s)->conn;
    char msg[200];
    const char *m = r != NULL ? PQresultErrorMessage(r) : NULL;
    if (m == NULL || m[0] == '\0')
        m = PQerrorMessage(conn);
    one_line(m, msg, sizeof msg);
    if (PQstatus(conn) == CONNECTION_BAD)
        return am__fail(&AM__ERR(s), AM_EIO, "%s on %s: connection lost: %s",
                        what, g->display, msg);
    return am__fail(&AM__ERR(s), code_of(r, conn), "%s on %s: %s", what,
                    g->display, msg);
}

/* fail_result, and with AM__PG_UNIQUE in `flags` a unique violation
 * (SQLSTATE 23505) is AM_EEXIST: what am__pg_exec and am__pg_copy share. */
static am_status fail_flags(am_store *s, const PGresult *r,
                            const char *what, int flags)
{
    am_status st = fail_result(s, r, what);
    const char *state = r != NULL ? PQresultErrorField(r, PG_DIAG_SQLSTATE)
                                  : NULL;
    if ((flags & AM__PG_UNIQUE) && state != NULL &&
        strcmp(state, "23505") == 0)
        st = AM__ERR(s).code = AM_EEXIST;
    return st;
}

/* A connection that answers, re-made if the server went away (never in
 * the middle of a transaction: that one is lost and fails). */
static am_status ensure_conn(am_store *s, const char *what)
{
    am__pg *g = PG(s);
    am__pgc *c = am__pg_conn(s);
    if (PQstatus(c->conn) == CONNECTION_OK)
        return AM_OK;
    if (c->in_tx)
        return fail_result(s, NULL, what);
    PQreset(c->conn);
    c->nprep = 0; /* a new session has none of them */
    if (PQstatus(c->conn) != CONNECTION_OK) {
        char msg[200];
        one_line(PQerrorMessage(c->conn), msg, sizeof msg);
        return am__fail(&AM__ERR(s), AM_EIO, "%s on %s: not connected (%s)",
                        what, g->display, msg);
    }
    return AM_OK;
}

/* The name of `sql`'s prepared statement on this connection ("am<N>")
 * into `name`, preparing it first when needed: 1. When the server refused
 * it: -1, *r the failed result (or NULL). When the table is full: 0, and
 * the caller runs the statement unprepared. Statements are known by the
 * address of their text, so only string constants may be prepared. */
static int prepared(am_store *s, const char *sql, char name[16],
                    PGresult **r)
{
    am__pgc *c = am__pg_conn(s);
    *r = NULL;
    for (int i = 0; i < c->nprep; i++)
        if (c->prep[i] == sql) {
            snprintf(name, 16, "am%d", i);
            return 1;
        }
    if (c->nprep == AM__PG_MAXPREP)
        return 0;
    snprintf(name, 16, "am%d", c->nprep);
    *r = PQprepare(c->conn, name, sql, 0, NULL);
    if (*r == NULL || PQresultStatus(*r) != PGRES_COMMAND_OK)
        return -1;
    PQclear(*r);
    *r = NULL;
    c->prep[c->nprep++] = sql;
    return 1;
}

PGresult *am__pg_exec(am_store *s, const char *what, const char *sql,
                      const am__pgp *p, int flags)
{
    am__pgc *g = am__pg_conn(s);
    for (int attempt = 0;; attempt++) {
        if (ensure_conn(s, what) != AM_OK)
            return NULL;
        PGresult *r = NULL;
        char name[16];
        int prep = (flags & AM__PG_PREPARE) ? prepared(s, sql, name, &r)
                                            : 0;
        if (prep > 0)
            r = PQexecPrepared(g->conn, name, p != NULL ? p->n : 0,
                               p != NULL ? p->v : NULL,
                               p != NULL ? p->len : NULL,
                               p != NULL ? p->fmt : NULL, 1);
        else if (prep == 0)
            r = PQexecParams(g->conn, sql, p != NULL ? p->n : 0, NULL,
                             p != NULL ? p->v : NULL,
                             p != NULL ? p->len : NULL,
                             p != NULL ? p->fmt : NULL, 1);
        ExecStatusType es = r != NULL ? PQresultStatus(r)
                                      : PGRES_FATAL_ERROR;
        if (es == PGRES_TUPLES_OK || es == PGRES_COMMAND_OK)
            return r;
        if (PQstatus(g->conn) == CONNECTION_BAD && !g->in_tx &&
            (flags & AM__PG_RETRY) && attempt == 0) {
            PQclear(r);
            continue;
        }
        fail_flags(s, r, what, flags);
        PQclear(r);
        return NULL;
    }
}

am_status am__pg_copy(am_store *s, const char *what, const char *sql,
                      const void *data, size_t len, int flags)
{
    am__pgc *g = am__pg_conn(s);
    if (ensure_conn(s, what) != AM_OK)
        return AM__ERR(s).code;
    PGresult *r = PQexec(g->conn, sql);
    if (r == NULL || PQresultStatus(r) != PGRES_COPY_IN) {
        am_status st = fail_result(s, r, what);
        PQclear(r);
        while ((r = PQgetResult(g->conn)) != NULL)
            PQclear(r);
        return st;
    }
    PQclear(r);
    /* libpq sends a large buffer in pieces; the server reads the rows
     * as they come. */
    int sent = len <= INT_MAX &&
               PQputCopyData(g->conn, data, (int)len) == 1;
    am_status st = AM_OK;
    if (PQputCopyEnd(g->conn, sent ? NULL : "the client could not send "
                     "the rows") != 1)
        st = fail_result(s, NULL, what);
    while ((r = PQgetResult(g->conn)) != NULL) {
        if (st == AM_OK && PQresultStatus(r) != PGRES_COMMAND_OK)
            st = fail_flags(s, r, what, flags);
        PQclear(r);
    }
    return st;
}

am_status am__pg_each_row(am_store *s, const char *what, const char *sql,
                          const am__pgp *p, am__pg_row_fn *row, void *ctx)
{
    am__pgc *g = am__pg_conn(s);
    for (int attempt = 0;; attempt++) {
        if (ensure_conn(s, what) != AM_OK)
            return AM__ERR(s).code;
        if (!PQsendQueryParams(g->conn, sql, p != NULL ? p->n : 0, NULL,
                               p != NULL ? p->v : NULL,
                               p != NULL ? p->len : NULL,
                               p != NULL ? p->fmt : NULL, 1)) {
            if (PQstatus(g->conn) == CONNECTION_BAD && !g->in_tx &&
                attempt == 0)
                continue;
            return fail_result(s, NULL, what);
        }
        /* One PGresult per row, freed at once: a whole result would be
         * built in fresh memory (6 MB for 10,000 rows of 128-d vectors)
         * and copied again into the cache. */
        PQsetSingleRowMode(g->conn);
        am_status st = AM_OK;
        PGresult *r, *bad = NULL;
        size_t rows = 0;
        while ((r = PQgetResult(g->conn)) != NULL) {
            ExecStatusType es = PQresultStatus(r);
            if (es == PGRES_SINGLE_TUPLE) {
                rows++;
                if (st == AM_OK)
                    st = row(ctx, r);
            } else if (es != PGRES_TUPLES_OK && bad == NULL) {
                bad = r; /* read on to the end: the connection stays usable */
                continue;
            }
            PQclear(r);
        }
        if (bad == NULL)
            return st;
        if (rows == 0 && PQstatus(g->conn) == CONNECTION_BAD && !g->in_tx &&
            attempt == 0) {
            PQclear(bad);
            continue;
        }
        st = fail_result(s, bad, what);
        PQclear(bad);
        return st;
    }
}

am_status am__pg_run(am_store *s, const char *what, const char *sql,
                     const am__pgp *p, size_t *changed)
{
    PGresult *r = am__pg_exec(s, what, sql, p, 0);
    if (r == NULL)
        return AM__ERR(s).code;
    if (changed != NULL)
        *changed += (size_t)strtoull(PQcmdTuples(r), NULL, 10);
    PQclear(r);
    return AM_OK;
}

am_status am__pg_runp(am_store *s, const char *what, const char *sql,
                      const am__pgp *p)
{
    PGresult *r = am__pg_exec(s, what, sql, p, AM__PG_PREPARE);
    if (r == NULL)
        return AM__ERR(s).code;
    PQclear(r);
    return AM_OK;
}

am_status am__pg_begin(am_store *s)
{
    /* READ COMMITTED: every read-modify-write locks its row first (SELECT
     * ... FOR UPDATE, INSERT ... ON CONFLICT), so no update is lost and
     * no transaction has to be retried. */
    PGresult *r = am__pg_exec(s, "begin transaction", "BEGIN", NULL,
                              AM__PG_RETRY);
    if (r == NULL)
        return AM__ERR(s).code;
    PQclear(r);
    am__pg_conn(s)->in_tx = 1;
    return AM_OK;
}

am_status am__pg_commit(am_store *s)
{
    PGresult *r = am__pg_exec(s, "commit", "COMMIT", NULL, 0);
    am__pg_conn(s)->in_tx = 0;
    if (r == NULL)
        return AM__ERR(s).code;
    PQclear(r);
    return AM_OK;
}

void am__pg_rollback(am_store *s)
{
    am__pgc *g = am__pg_conn(s);
    if (g->conn != NULL && PQstatus(g->conn) == CONNECTION_OK &&
        PQtransactionStatus(g->conn) != PQTRANS_IDLE)
        PQclear(PQexec(g->conn, "ROLLBACK"));
    g->in_tx = 0;
}

/* ---- The target ---- */

/* Percent-decode [p, p + n) into out (at most cap - 1 bytes + NUL);
 * -1 if it does not fit or holds a NUL. */
static int pct_decode(const char *p, size_t n, char *out, size_t cap)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        char c = p[i];
        if (c == '%' && i + 2 < n && am__hexval(p[i + 1]) >= 0 &&
            am__hexval(p[i + 2]) >= 0) {
            c = (char)(am__hexval(p[i + 1]) * 16 + am__hexval(p[i + 2]));
            i += 2;
        }
        if (c == '\0' || o + 1 >= cap)
            return -1;
        out[o++] = c;
    }
    out[o] = '\0';
    return (int)o;
}

/* Split `target` into what libpq connects to (g->conninfo), the display
 * form and the schema. */
static am_status parse_target(am_store *s, const char *target, am_error *err)
{
    am__pg *g = PG(s);
    const char *sep = strstr(target, "://");
    const char *auth = sep + 3;
    size_t alen = strcspn(auth, "/?");
    const char *path = auth + alen, *query = strchr(path, '?');
    size_t plen = query != NULL ? (size_t)(query - path) : strlen(path);
    const char *db = path, *schema = NULL;
    size_t dblen = 0, slen = 0;
    am_buf ci = AM_BUF_INIT, disp = AM_BUF_INIT;
    am_status st = AM_OK;

    ci.alloc = disp.alloc = s->alloc;
    snprintf(g->schema, sizeof g->schema, "agentmem");
    if (plen > 0) { /* "/db" or "/db/schema" */
        db = path + 1;
        dblen = strcspn(db, "/");
        if (dblen > plen - 1)
            dblen = plen - 1;
        if (1 + dblen < plen) {
            schema = db + dblen + 1;
            slen = plen - 2 - dblen;
        }
    }
    /* The display form: scheme, host and database, no password. */
    const char *at = memchr(auth, '@', alen);
    st = am_buf_append(&disp, target, (size_t)(auth - target));
    if (st == AM_OK && at != NULL) {
        const char *colon = memchr(auth, ':', (size_t)(at - auth));
        size_t ulen = (size_t)((colon != NULL ? colon : at) - auth);
        st = am_buf_append(&disp, auth, ulen);
        if (st == AM_OK)
            st = am_buf_append(&disp, "@", 1);
        if (st == AM_OK)
            st = am_buf_append(&disp, at + 1,
                               (size_t)(auth + alen - at - 1));
    } else if (st == AM_OK) {
        st = am_buf_append(&disp, auth, alen);
    }
    if (st == AM_OK && dblen > 0)
        st = am_buf_appendf(&disp, "/%.*s", (int)dblen, db);
    /* What libpq gets: everything but our own path part and parameter. */
    if (st == AM_OK)
        st = am_buf_append(&ci, target, (size_t)(auth + alen - target));
    if (st == AM_OK && dblen > 0)
        st = am_buf_appendf(&ci, "/%.*s", (int)dblen, db);
    if (st == AM_OK && query != NULL) {
        const char *q = query + 1;
        int first = 1;
        while (st == AM_OK && *q != '\0') {
            size_t n = strcspn(q, "&");
            if (n > 7 && strncmp(q, "schema=", 7) == 0) {
                schema = q + 7;
                slen = n - 7;
            } else if (n > 0) {
                st = am_buf_appendf(&ci, "%c%.*s", first ? '?' : '&', (int)n,
                                    q);
                first = 0;
            }
            q += n;
            if (*q == '&')
                q++;
        }
    }
    if (st == AM_OK)
        st = am_buf_reserve(&ci, 0);
    if (st == AM_OK)
        st = am_buf_reserve(&disp, 0);
    if (st != AM_OK) {
        st = am__fail(err, AM_ENOMEM, "store open: out of memory");
        goto out;
    }
    snprintf(g->display, sizeof g->display, "'%.*s'", (int)disp.len,
             disp.ptr);
    if (schema != NULL &&
        pct_decode(schema, slen, g->schema, sizeof g->schema) <= 0) {
        st = am__fail(err, AM_EINVAL, "store open %s: schema name must be "
                      "1 to %zu bytes, no NUL", g->display,
                      sizeof g->schema - 1);
        goto out;
    }
    g->conninfo = am__strndup(s->alloc, ci.ptr, ci.len);
    if (g->conninfo == NULL)
        st = am__fail(err, AM_ENOMEM, "store open: out of memory");
out:
    am_buf_free(&ci);
    am_buf_free(&disp);
    return st;
}

/* ---- Schema ---- */

#define PG_SCHEMA_VERSION 7

static const char *const migrations[PG_SCHEMA_VERSION] = {
    /* 1: items, history, sessions. `chg` is the change sequence the
     * vector caches follow: the id of the transaction that last wrote the
     * row (see store_pg_search.c). `tsv` is the English full-text vector
     * of `text`, `doc_len` its word count for BM25. */
    "CREATE TABLE store_meta(k text PRIMARY KEY, v text NOT NULL);"
    "INSERT INTO store_meta(k, v) VALUES ('vec_epoch', '0');"
    "CREATE TABLE items("
    " id bigserial PRIMARY KEY, ns bytea NOT NULL, key bytea NOT NULL,"
    " value text NOT NULL, meta text NOT NULL DEFAULT '{}',"
    " text text NOT NULL DEFAULT '', tsv tsvector NOT NULL,"
    " doc_len bigint NOT NULL,"
    " created_ms bigint NOT NULL, updated_ms bigint NOT NULL,"
    " expires_ms bigint, deleted_ms bigint,"
    " vec_model text, vec bytea,"
    " chg xid8 NOT NULL DEFAULT pg_current_xact_id(),"
    " UNIQUE(ns, key));"
    "CREATE INDEX items_tsv ON items USING gin(tsv);"
    "CREATE INDEX items_chg ON items(chg);"
    "CREATE INDEX items_expires ON items(expires_ms)"
    " WHERE expires_ms IS NOT NULL;"
    "CREATE INDEX items_deleted ON items(deleted_ms)"
    " WHERE deleted_ms IS NOT NULL;"
    "CREATE TABLE item_history("
    " item_id bigint NOT NULL, seq bigint NOT NULL,"
    " event text NOT NULL, old_value text, old_meta text,"
    " at_ms bigint NOT NULL, actor text NOT NULL,"
    " PRIMARY KEY(item_id, seq));"
    "CREATE TABLE sessions("
    " id bigserial PRIMARY KEY, session_id bytea NOT NULL UNIQUE,"
    " user_id bytea NOT NULL, created_ms bigint NOT NULL,"
    " updated_ms bigint NOT NULL);"
    "CREATE INDEX sessions_user ON sessions(user_id, updated_ms);"
    "CREATE TABLE session_items("
    " id bigserial PRIMARY KEY, sess bigint NOT NULL, item text NOT NULL,"
    " created_ms bigint NOT NULL);"
    "CREATE INDEX session_items_sess ON session_items(sess, id);",
    /* 2: meta as jsonb for search filters (store_pg_filter.c), with a GIN
     * index for their equalities (jsonb containment). A generated column,
     * so `meta` keeps the caller's exact text (jsonb reorders keys). */
    "ALTER TABLE items ADD COLUMN metaj jsonb"
    " GENERATED ALWAYS AS (meta::jsonb) STORED;"
    "CREATE INDEX items_metaj ON items USING gin(metaj jsonb_path_ops);",
    /* 3: GIN indexes keep new entries in a pending list that every
     * search scans in full until it is merged. At the default 4 MB that
     * is ~25,000 rows: a rare word took 4.8 ms in the index instead of
     * 0.04 ms after a bulk load (bench_pg, EXPLAIN ANALYZE). 64 kB (the
     * least) bounds that scan to a few hundred rows; writers merge the
     * list more often, in bulk. */
    "ALTER INDEX items_tsv SET (gin_pending_list_limit = 64);"
    "ALTER INDEX items_metaj SET (gin_pending_list_limit = 64);",
    /* 4: jsonb cannot hold U+0000, so a meta with "\u0000" in a string
     * failed the put. `meta` stays the truth; `metaj` (filters only) has
     * each such escape as "\ufffd": only an escape, that is a \u0000 after
     * an even run of backslashes ("\\u0000" is a backslash and "u0000"). */
    "ALTER TABLE items DROP COLUMN metaj;"
    "ALTER TABLE items ADD COLUMN metaj jsonb GENERATED ALWAYS AS (CASE"
    " WHEN strpos(meta, '\\u0000') = 0 THEN meta::jsonb ELSE"
    " regexp_replace(meta, '(?<!\\\\)((?:\\\\\\\\)*)\\\\u0000',"
    " '\\1\\\\ufffd', 'g')::jsonb END) STORED;"
    "CREATE INDEX items_metaj ON items USING gin(metaj jsonb_path_ops)"
    " WITH (gin_pending_list_limit = 64);",
    /* 5: the full-text pending list at 256 kB. At 64 kB the writers
     * merged it every ~400 rows, and those small merges were the largest
     * part of a put's server time: 100,000 puts in batches of 1,000, the
     * list merged at the end either way, cost 35-40 us of server CPU per
     * row at 64 kB and 27-31 us at 1 MB, and 2.8 kB of WAL per row at
     * 64 kB, 2.2 at 256 kB, 2.06 at 512 kB, 1.94 at 1 MB. Searches pay for
     * a longer list: they scan it in full once per term (the terms'
     * counts) and once more (the ranking), ~0.12 us per pending row each
     * time (EXPLAIN ANALYZE: a two-word rare query's counts took 1.08 ms
     * with 3,882 rows pending, 0.18 ms merged). 256 kB (~1,600 rows) keeps
     * that under ~0.6 ms for such a query and saved 4.5-7.7 us of 64 kB's
     * per row in each of three rounds, about what 512 kB and 1 MB saved
     * (bench/pg_put_floor.sh, docs/BENCHMARKS.md). The metadata index
     * keeps 64 kB: a put without metadata adds only the placeholder
     * entry GIN keeps for an empty '{}'. */
    "ALTER INDEX items_tsv SET (gin_pending_list_limit = 256);",
    /* 6: a new row's first history event ("add", at its created_ms, by
     * `add_actor`) is kept in the row instead of in item_history, as on
     * SQLite (its schema 6): the history row and its key were ~3 us of a
     * batched put's ~34 us of CPU per item (bench_pg_put, 200,000 items,
     * five rounds; docs/BENCHMARKS.md). The first write to the row in
     * place (update, soft delete, undo) moves the event into
     * item_history as sequence 1 and sets add_actor to NULL, so an item's
     * events are either that one implicit event or rows of item_history,
     * never both. Rows written before this version have their event in
     * item_history already (add_actor NULL). No rewrite: a new column
     * without a default. */
    "ALTER TABLE items ADD COLUMN add_actor text;",
    /* 7: tsv generated from text (STORED), so a batch of new keys can be
     * a COPY straight into items (store_pg_put.c): COPY writes its rows
     * with one WAL record per heap page and a small ring of buffers
     * (heap_multi_insert), which an INSERT ... SELECT never does: 3-5 us
     * less server CPU per row of ~26-35 (bench/pg_put_ways.sh,
     * docs/BENCHMARKS.md). PG 15 cannot turn a column into a generated
     * one: tsv is dropped and made again, which rewrites the table and
     * rebuilds its full-text index (54 s at 1M rows, under load). */
    "ALTER TABLE items DROP COLUMN tsv;"
    "ALTER TABLE items ADD COLUMN tsv tsvector NOT NULL GENERATED ALWAYS AS"
    " (to_tsvector('english', text)) STORED;"
    "CREATE INDEX items_tsv ON items USING gin(tsv)"
    " WITH (gin_pending_list_limit = 256);"
    /* And the metadata index only on rows that have metadata: GIN keeps
     * a placeholder entry for an empty '{}', which every put without
     * metadata added, 1.2-2.4 us of server CPU and a WAL record per row.
     * Filters say `metaj <> '{}'` beside each containment so the planner
     * can use it (store_pg_filter.c). */
    "DROP INDEX items_metaj;"
    "CREATE INDEX items_metaj ON items USING gin(metaj jsonb_path_ops)"
    " WITH (gin_pending_list_limit = 64) WHERE metaj <> '{}';",
};

/* Create or upgrade the schema in one transaction, under an advisory
 * lock keyed by the schema's name: two instances starting together
 * migrate one after the other, and the second finds nothing to do. */
static am_status migrate(am_store *s, int read_only)
{
    am__pg *g = PG(s);
    am__pgp p = { .n = 0 };
    PGresult *r;
    int version = 0;
    am_status st;
    char sql[256];

    if (read_only) {
        r = am__pg_exec(s, "schema", "SELECT version FROM am_schema"
                        " WHERE module = 'store'", NULL, 0);
        if (r == NULL)
            return AM__ERR(s).code;
        version = PQntuples(r) > 0 ? (int)am__pg_int(r, 0, 0) : 0;
        PQclear(r);
        if (version != PG_SCHEMA_VERSION)
            return am__fail(&AM__ERR(s), AM_EFORMAT, "schema on %s: store "
                            "version %d, this library's %d (read-only: "
                            "cannot migrate)", g->display, version,
                            PG_SCHEMA_VERSION);
        return AM_OK;
    }
    st = am__pg_begin(s);
    if (st != AM_OK)
        return st;
    am__pgp_bytes(&p, g->schema, strlen(g->schema));
    r = am__pg_exec(s, "schema lock", "SELECT pg_advisory_xact_lock("
                    "hashtextextended('agentmem schema ' ||"
                    " convert_from($1, 'UTF8'), 0))", &p, 0);
    if (r == NULL)
        goto fail;
    PQclear(r);
    char *ident = PQescapeIdentifier(am__pg_conn(s)->conn, g->schema,
                                     strlen(g->schema));
    if (ident == NULL) {
        am__fail(&AM__ERR(s), AM_ENOMEM, "schema on %s: out of memory",
                 g->display);
        goto fail;
    }
    snprintf(sql, sizeof sql, "CREATE SCHEMA IF NOT EXISTS %s", ident);
    PQfreemem(ident);
    if (am__pg_run(s, "schema", sql, NULL, NULL) != AM_OK ||
        am__pg_run(s, "schema", "CREATE TABLE IF NOT EXISTS am_schema("
                   "module text PRIMARY KEY, version integer NOT NULL)",
                   NULL, NULL) != AM_OK)
        goto fail;
    r = am__pg_exec(s, "schema", "SELECT version::bigint FROM am_schema"
                    " WHERE module = 'store'", NULL, 0);
    if (r == NULL)
        goto fail;
    version = PQntuples(r) > 0 ? (int)am__pg_int(r, 0, 0) : 0;
    PQclear(r);
    if (version > PG_SCHEMA_VERSION) {
        am__fail(&AM__ERR(s), AM_EUNSUPPORTED, "schema on %s: store version "
                 "%d is newer than this library's %d", g->display, version,
                 PG_SCHEMA_VERSION);
        goto fail;
    }
    for (int v = version; v < PG_SCHEMA_VERSION; v++) {
        /* Several statements: the simple query protocol. */
        r = PQexec(am__pg_conn(s)->conn, migrations[v]);
        if (PQresultStatus(r) != PGRES_COMMAND_OK) {
            fail_result(s, r, "schema migration");
            PQclear(r);
            goto fail;
        }
        PQclear(r);
    }
    if (version < PG_SCHEMA_VERSION) {
        snprintf(sql, sizeof sql, "INSERT INTO am_schema(module, version)"
                 " VALUES ('store', %d) ON CONFLICT(module) DO UPDATE SET"
                 " version = %d", PG_SCHEMA_VERSION, PG_SCHEMA_VERSION);
        if (am__pg_run(s, "schema", sql, NULL, NULL) != AM_OK)
            goto fail;
    }
    return am__pg_commit(s);
fail:
    am__pg_rollback(s);
    return AM__ERR(s).code;
}

/* ---- Open and close ---- */

/* `-c search_path="schema"` in libpq's options syntax (spaces and
 * backslashes escaped by a backslash): kept across PQreset. */
static am_status search_path_option(am_store *s, am_buf *out, int read_only)
{
    am__pg *g = PG(s);
    am_status st = am_buf_append(out, "-c search_path=\"", 16);
    for (const char *p = g->schema; st == AM_OK && *p != '\0'; p++) {
        if (*p == '"')
            st = am_buf_append(out, "\"\"", 2);
        else if (*p == ' ' || *p == '\\')
            st = am_buf_appendf(out, "\\%c", *p);
        else
            st = am_buf_append(out, p, 1);
    }
    if (st == AM_OK)
        st = am_buf_append(out, "\" -c client_min_messages=warning", 33);
    if (st == AM_OK && read_only)
        st = am_buf_append(out, " -c default_transaction_read_only=on", 36);
    if (st == AM_OK)
        st = am_buf_reserve(out, 0);
    if (st == AM_OK)
        out->ptr[out->len] = '\0';
    return st;
}

/* ---- The pool ---- */

am__pgc *am__pg_conn(am_store *s)
{
    am__pg *g = PG(s);
    am__pgc *c = NULL;
    if (!s->pooled)
        return &g->conns[0];
    pthread_t me = pthread_self();
    pthread_mutex_lock(&g->pool_mu);
    for (size_t i = 0; i < g->nconns && c == NULL; i++)
        if (g->conns[i].depth > 0 && pthread_equal(g->conns[i].owner, me))
            c = &g->conns[i];
    pthread_mutex_unlock(&g->pool_mu);
    /* The front end enters before every backend call (store_int.h). */
    assert(c != NULL);
    return c;
}

/* Bind a free connection to the calling thread for one public call; a
 * thread that holds one already nests on it. Waits while all are busy:
 * a call takes a few round trips, and a caller who wants more at once
 * asks for a bigger pool. */
static void pg_enter(am_store *s)
{
    am__pg *g = PG(s);
    pthread_t me = pthread_self();
    pthread_mutex_lock(&g->pool_mu);
    for (;;) {
        am__pgc *idle = NULL;
        for (size_t i = 0; i < g->nconns; i++) {
            am__pgc *c = &g->conns[i];
            if (c->depth > 0 && pthread_equal(c->owner, me)) {
                c->depth++;
                pthread_mutex_unlock(&g->pool_mu);
                return;
            }
            if (c->depth == 0 && idle == NULL)
                idle = c;
        }
        if (idle != NULL) {
            idle->owner = me;
            idle->depth = 1;
            pthread_mutex_unlock(&g->pool_mu);
            return;
        }
        pthread_cond_wait(&g->pool_freed, &g->pool_mu);
    }
}

static void pg_leave(am_store *s)
{
    am__pg *g = PG(s);
    pthread_t me = pthread_self();
    pthread_mutex_lock(&g->pool_mu);
    for (size_t i = 0; i < g->nconns; i++) {
        am__pgc *c = &g->conns[i];
        if (c->depth > 0 && pthread_equal(c->owner, me)) {
            if (--c->depth == 0)
                pthread_cond_signal(&g->pool_freed);
            break;
        }
    }
    pthread_mutex_unlock(&g->pool_mu);
}

/* ---- Open and close ---- */

/* Open connection `i` of the handle; errors name the target (and which
 * connection of a pool failed). */
static am_status connect_one(am_store *s, size_t i, const char *options,
                             am_error *err)
{
    am__pg *g = PG(s);
    char which[80] = "";
    const char *const keys[] = { "dbname", "options", "client_encoding",
                                 "application_name", NULL };
    const char *const vals[] = { g->conninfo, options, "UTF8", "agentmem",
                                 NULL };
    PGconn *conn = PQconnectdbParams(keys, vals, 1);

    g->conns[i].conn = conn;
    if (g->nconns > 1)
        snprintf(which, sizeof which, " (connection %zu of the pool's %zu)",
                 i + 1, g->nconns);
    if (conn == NULL)
        return am__fail(err, AM_ENOMEM, "store open %s: out of memory",
                        g->display);
    if (PQstatus(conn) != CONNECTION_OK) {
        char msg[200];
        const char *m = PQerrorMessage(conn);
        one_line(m, msg, sizeof msg);
        return am__fail(err, strstr(m, "authentication failed") != NULL
                                 ? AM_EAUTH
                                 : AM_EIO,
                        "store open %s: cannot connect%s: %s", g->display,
                        which, msg);
    }
    if (PQserverVersion(conn) < 130000)
        return am__fail(err, AM_EUNSUPPORTED, "store open %s: PostgreSQL "
                        "%d.%d is too old (13 or later)", g->display,
                        PQserverVersion(conn) / 10000,
                        PQserverVersion(conn) % 10000);
    return AM_OK;
}

static am_status pg_open(am_store *s, const char *target,
                         const am_store_opts *o, am_error *err)
{
    am__pg *g;
    am_status st;
    am_buf opt = AM_BUF_INIT;
    size_t n = o->pool_size > 1 ? o->pool_size : 1;

    g = am__calloc(s->alloc, 1, sizeof *g);
    if (g == NULL)
        return am__fail(err, AM_ENOMEM, "store open: out of memory");
    s->impl = g;
    g->conns = am__calloc(s->alloc, n, sizeof *g->conns);
    if (g->conns == NULL)
        return am__fail(err, AM_ENOMEM, "store open: out of memory");
    g->nconns = n;
    st = parse_target(s, target, err);
    if (st != AM_OK)
        return st;
    opt.alloc = s->alloc;
    if (search_path_option(s, &opt, o->read_only) != AM_OK) {
        am_buf_free(&opt);
        return am__fail(err, AM_ENOMEM, "store open: out of memory");
    }
    for (size_t i = 0; st == AM_OK && i < n; i++)
        st = connect_one(s, i, opt.ptr, err);
    am_buf_free(&opt);
    if (st != AM_OK)
        return st;
    /* Migrate on the first connection, before the pool is in use. */
    st = migrate(s, o->read_only);
    if (st != AM_OK) {
        am__error_copy(err, &AM__ERR(s));
        return st;
    }
    if (n > 1) {
        if (pthread_mutex_init(&g->pool_mu, NULL) != 0)
            return am__fail(err, AM_ENOMEM, "store open: cannot make a "
                            "mutex");
        if (pthread_cond_init(&g->pool_freed, NULL) != 0) {
            pthread_mutex_destroy(&g->pool_mu);
            return am__fail(err, AM_ENOMEM, "store open: cannot make a "
                            "condition variable");
        }
        s->pooled = true;
    }
    return AM_OK;
}

static void pg_close(am_store *s)
{
    am__pg *g = PG(s);
    if (g == NULL)
        return;
    for (size_t i = 0; g->conns != NULL && i < g->nconns; i++)
        if (g->conns[i].conn != NULL)
            PQfinish(g->conns[i].conn);
    if (g->conns != NULL)
        am__free(s->alloc, g->conns, g->nconns * sizeof *g->conns);
    if (s->pooled) {
        pthread_cond_destroy(&g->pool_freed);
        pthread_mutex_destroy(&g->pool_mu);
        s->pooled = false;
    }
    if (g->conninfo != NULL)
        am__free(s->alloc, g->conninfo, strlen(g->conninfo) + 1);
    am__free(s->alloc, g, sizeof *g);
    s->impl = NULL;
}

const am__store_backend am__store_backend_pg = {
    .name = "postgresql",
    .open = pg_open,
    .close = pg_close,
    .write = am__pg_write,
    .get = am__pg_get,
    .get_item = am__pg_get_item,
    .list = am__pg_list,
    .namespaces = am__pg_namespaces,
    .history = am__pg_history,
    .search = am__pg_search,
    .vec_model = am__pg_vec_model,
    .begin = am__pg_begin,
    .commit = am__pg_commit,
    .rollback = am__pg_rollback,
    .delete_items = am__pg_delete_items,
    .release_vec_model = am__pg_release_vec_model,
    .prune_history = am__pg_prune_history,
    .prune_sessions = am__pg_prune_sessions,
    .undo_find = am__pg_undo_find,
    .undo_done = am__pg_undo_done,
    .undo_delete = am__pg_undo_delete,
    .undo_restore = am__pg_undo_restore,
    .vacuum = am__pg_vacuum,
    .check = am__pg_check,
    .session_add = am__pg_session_add,
    .session_get = am__pg_session_get,
    .session_pop = am__pg_session_pop,
    .session_clear = am__pg_session_clear,
    .session_list = am__pg_session_list,
    .reembed = am__pg_reembed,
    .enter = pg_enter,
    .leave = pg_leave,
};
