/* store.c -- namespaced JSON items in one SQLite file, with history.
 *
 * One row per (namespace, key) in `items`; the namespace is encoded (see
 * store_int.h) so that a prefix is a byte range and no crafted part can
 * reach into another namespace: every query binds ranges or equalities,
 * never LIKE. Writes run in BEGIN IMMEDIATE transactions and return only
 * after COMMIT, in WAL mode with a busy timeout, so several threads and
 * processes can share the file. Each change appends a row to
 * `item_history`; delete only stamps `deleted_ms`, so a mistake can be
 * undone until am_store_purge removes the row for good. Expiry is checked
 * in every read against the injected clock.
 *
 * Full-text search uses an external-content FTS5 table kept in step by
 * triggers; vectors live in the row as float32 blobs (see store_search.c).
 */
#include <assert.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "core/json_glue.h"
#include "store_int.h"

/* ---- Schema ---- */

#define STORE_SCHEMA_VERSION 1

static const char *const migrations[STORE_SCHEMA_VERSION] = {
    /* 1: items, history, full-text index, sessions. */
    "CREATE TABLE store_meta(k TEXT PRIMARY KEY, v TEXT NOT NULL);"
    "CREATE TABLE items("
    " id INTEGER PRIMARY KEY, ns BLOB NOT NULL, key BLOB NOT NULL,"
    " value TEXT NOT NULL, meta TEXT NOT NULL DEFAULT '{}',"
    " text TEXT NOT NULL DEFAULT '',"
    " created_ms INTEGER NOT NULL, updated_ms INTEGER NOT NULL,"
    " expires_ms INTEGER, deleted_ms INTEGER,"
    " vec_model TEXT, vec BLOB, UNIQUE(ns, key));"
    "CREATE INDEX items_expires ON items(expires_ms)"
    " WHERE expires_ms IS NOT NULL;"
    "CREATE INDEX items_deleted ON items(deleted_ms)"
    " WHERE deleted_ms IS NOT NULL;"
    "CREATE TABLE item_history("
    " id INTEGER PRIMARY KEY, item_id INTEGER NOT NULL,"
    " event TEXT NOT NULL, old_value TEXT, new_value TEXT,"
    " old_meta TEXT, new_meta TEXT, at_ms INTEGER NOT NULL,"
    " actor TEXT NOT NULL);"
    "CREATE INDEX item_history_item ON item_history(item_id, id);"
    "CREATE VIRTUAL TABLE items_fts USING fts5(text, content='items',"
    " content_rowid='id', tokenize='porter unicode61 remove_diacritics 2');"
    /* Inserts are indexed by put itself (Q_FTS_ADD): an INSERT trigger
     * would make every insert a statement transaction, and FTS5 flushes
     * its pending terms at each savepoint -- 4x slower bulk puts. */
    "CREATE TRIGGER items_ad AFTER DELETE ON items BEGIN"
    " INSERT INTO items_fts(items_fts, rowid, text)"
    " VALUES ('delete', old.id, old.text); END;"
    "CREATE TRIGGER items_au AFTER UPDATE OF text ON items BEGIN"
    " INSERT INTO items_fts(items_fts, rowid, text)"
    " VALUES ('delete', old.id, old.text);"
    " INSERT INTO items_fts(rowid, text) VALUES (new.id, new.text); END;"
    "CREATE TABLE sessions("
    " id INTEGER PRIMARY KEY, session_id BLOB NOT NULL UNIQUE,"
    " user_id BLOB NOT NULL, created_ms INTEGER NOT NULL,"
    " updated_ms INTEGER NOT NULL);"
    "CREATE INDEX sessions_user ON sessions(user_id, updated_ms);"
    "CREATE TABLE session_items("
    " id INTEGER PRIMARY KEY, sess INTEGER NOT NULL, item TEXT NOT NULL,"
    " created_ms INTEGER NOT NULL);"
    "CREATE INDEX session_items_sess ON session_items(sess, id);",
};

/* Item rows are read in one shape everywhere (see am__rb_add_row). */
#define ROW_COLS "ns, key, value, meta, text, created_ms, updated_ms, " \
                 "expires_ms"
#define LIVE "deleted_ms IS NULL AND (expires_ms IS NULL OR expires_ms > ?1)"

static const char *const sql_text[Q_COUNT_] = {
    [Q_BEGIN] = "BEGIN IMMEDIATE",
    [Q_COMMIT] = "COMMIT",
    [Q_ROLLBACK] = "ROLLBACK",
    [Q_META_GET] = "SELECT v FROM store_meta WHERE k = ?1",
    [Q_META_SET] = "INSERT INTO store_meta(k, v) VALUES (?1, ?2)"
                   " ON CONFLICT(k) DO UPDATE SET v = excluded.v",
    [Q_ITEM_FIND] = "SELECT id, value, meta, deleted_ms, expires_ms,"
                    " created_ms FROM items WHERE ns = ?1 AND key = ?2",
    [Q_ITEM_INSERT] = "INSERT INTO items(ns, key, value, meta, text,"
                      " created_ms, updated_ms, expires_ms, vec_model, vec)"
                      " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6, ?7, ?8, ?9)"
                      " ON CONFLICT(ns, key) DO NOTHING",
    [Q_FTS_ADD] = "INSERT INTO items_fts(rowid, text) VALUES (?1, ?2)",
    [Q_ITEM_UPDATE] = "UPDATE items SET value = ?2, meta = ?3, text = ?4,"
                      " created_ms = ?5, updated_ms = ?6, expires_ms = ?7,"
                      " vec_model = ?8, vec = ?9, deleted_ms = NULL"
                      " WHERE id = ?1",
    [Q_ITEM_SOFTDEL] = "UPDATE items SET deleted_ms = ?2 WHERE id = ?1",
    [Q_ITEM_GET] = "SELECT value FROM items WHERE ns = ?2 AND key = ?3"
                   " AND " LIVE,
    [Q_ITEM_ROW] = "SELECT " ROW_COLS " FROM items WHERE id = ?2 AND " LIVE,
    [Q_HIST_ADD] = "INSERT INTO item_history(item_id, event, old_value,"
                   " new_value, old_meta, new_meta, at_ms, actor)"
                   " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    [Q_HIST_LAST] = "SELECT event, old_value, old_meta FROM item_history"
                    " WHERE item_id = ?1 ORDER BY id DESC LIMIT 1",
    [Q_HIST_LIST] = "SELECT h.event, h.old_value, h.at_ms, h.actor,"
                    " h.old_meta FROM item_history h"
                    " WHERE h.item_id = ?1 ORDER BY h.id",
    [Q_LIST] = "SELECT " ROW_COLS " FROM items WHERE ns >= ?2 AND ns < ?3"
               " AND " LIVE " ORDER BY ns, key LIMIT ?4 OFFSET ?5",
    [Q_NS_LIST] = "SELECT DISTINCT ns FROM items WHERE ns >= ?2 AND ns < ?3"
                  " AND " LIVE " ORDER BY ns",
    [Q_FTS] = "SELECT i.id, -bm25(items_fts) FROM items_fts"
              " JOIN items i ON i.id = items_fts.rowid"
              " WHERE items_fts MATCH ?2 AND i.ns >= ?3 AND i.ns < ?4"
              " AND i.deleted_ms IS NULL"
              " AND (i.expires_ms IS NULL OR i.expires_ms > ?1)"
              " ORDER BY bm25(items_fts)",
    [Q_VEC_LOAD] = "SELECT id, ns, expires_ms, vec, vec_model FROM items"
                   " WHERE vec IS NOT NULL AND deleted_ms IS NULL",
    [Q_SESS_FIND] = "SELECT id, user_id FROM sessions WHERE session_id = ?1",
    [Q_SESS_NEW] = "INSERT INTO sessions(session_id, user_id, created_ms,"
                   " updated_ms) VALUES (?1, ?2, ?3, ?3)",
    [Q_SESS_TOUCH] = "UPDATE sessions SET updated_ms = ?2 WHERE id = ?1",
    [Q_SESS_ITEM_ADD] = "INSERT INTO session_items(sess, item, created_ms)"
                        " VALUES (?1, ?2, ?3)",
    [Q_SESS_ITEMS] = "SELECT item FROM (SELECT id, item FROM session_items"
                     " WHERE sess = ?1 ORDER BY id DESC LIMIT ?2)"
                     " ORDER BY id",
    [Q_SESS_LAST] = "SELECT id, item FROM session_items WHERE sess = ?1"
                    " ORDER BY id DESC LIMIT 1",
    [Q_SESS_ITEM_DEL] = "DELETE FROM session_items WHERE id = ?1",
};

am_status am__store_dberr(am_store *s, int rc, const char *what)
{
    int base = rc & 0xff;
    am_status code = AM_EIO;
    if (base == SQLITE_BUSY || base == SQLITE_LOCKED)
        code = AM_EBUSY;
    else if (base == SQLITE_NOMEM)
        code = AM_ENOMEM;
    return am__fail(&s->err, code, "%s: %s", what,
                    s->db != NULL ? sqlite3_errmsg(s->db)
                                  : sqlite3_errstr(rc));
}

sqlite3_stmt *am__store_stmt(am_store *s, int id)
{
    sqlite3_stmt *st = s->stmts[id];
    if (st == NULL) {
        int rc = sqlite3_prepare_v3(s->db, sql_text[id], -1,
                                    SQLITE_PREPARE_PERSISTENT, &st, NULL);
        if (rc != SQLITE_OK) {
            am__store_dberr(s, rc, "prepare");
            return NULL;
        }
        s->stmts[id] = st;
    }
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return st;
}

am_status am__store_exec(am_store *s, const char *sql)
{
    char *msg = NULL;
    int rc = sqlite3_exec(s->db, sql, NULL, NULL, &msg);
    if (rc != SQLITE_OK) {
        am_status st = am__fail(&s->err,
                                (rc & 0xff) == SQLITE_BUSY ? AM_EBUSY
                                                           : AM_EIO,
                                "database: %s", msg != NULL ? msg : "?");
        sqlite3_free(msg);
        return st;
    }
    return AM_OK;
}

static am_status step_done(am_store *s, int id, const char *what)
{
    sqlite3_stmt *st = s->stmts[id];
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        return am__store_dberr(s, rc, what);
    return AM_OK;
}

am_status am__store_begin(am_store *s)
{
    if (am__store_stmt(s, Q_BEGIN) == NULL)
        return s->err.code;
    return step_done(s, Q_BEGIN, "begin transaction");
}

am_status am__store_commit(am_store *s)
{
    if (am__store_stmt(s, Q_COMMIT) == NULL)
        return s->err.code;
    return step_done(s, Q_COMMIT, "commit");
}

void am__store_rollback(am_store *s)
{
    if (sqlite3_get_autocommit(s->db))
        return;
    if (am__store_stmt(s, Q_ROLLBACK) != NULL) {
        sqlite3_step(s->stmts[Q_ROLLBACK]);
        sqlite3_reset(s->stmts[Q_ROLLBACK]);
    }
}

/* ---- Namespaces ---- */

am_status am__ns_encode(am_ns ns, int allow_root, am_buf *out, am_error *err)
{
    am_buf_clear(out);
    if (ns.count == 0 && !allow_root)
        return am__fail(err, AM_EINVAL, "namespace: needs at least one part");
    if (ns.count > AM_STORE_MAX_NS_PARTS)
        return am__fail(err, AM_EINVAL,
                        "namespace: %zu parts (at most %d)", ns.count,
                        AM_STORE_MAX_NS_PARTS);
    if (ns.count > 0 && ns.parts == NULL)
        return am__fail(err, AM_EINVAL, "namespace: NULL parts");
    if (am_buf_reserve(out, 0) != AM_OK)
        return am__fail(err, AM_ENOMEM, "namespace: out of memory");
    out->ptr[0] = '\0';
    for (size_t i = 0; i < ns.count; i++) {
        am_str p = ns.parts[i];
        if (p.len == 0 || p.ptr == NULL)
            return am__fail(err, AM_EINVAL,
                            "namespace: part %zu is empty", i);
        if (p.len > AM_STORE_MAX_PART_LEN)
            return am__fail(err, AM_EINVAL,
                            "namespace: part %zu is %zu bytes (at most %d)",
                            i, p.len, AM_STORE_MAX_PART_LEN);
        if (am_buf_reserve(out, p.len * 2 + 1) != AM_OK)
            return am__fail(err, AM_ENOMEM, "namespace: out of memory");
        for (size_t j = 0; j < p.len; j++) {
            unsigned char c = (unsigned char)p.ptr[j];
            char esc = 0;
            switch (c) {
            case 0x00: esc = '0'; break;
            case 0x1e: esc = '1'; break;
            case 0x1f: esc = '2'; break;
            case 0xfe: esc = '3'; break;
            case 0xff: esc = '4'; break;
            default: break;
            }
            if (esc != 0) {
                out->ptr[out->len++] = 0x1e;
                out->ptr[out->len++] = esc;
            } else {
                out->ptr[out->len++] = (char)c;
            }
        }
        out->ptr[out->len++] = 0x1f;
        out->ptr[out->len] = '\0';
    }
    return AM_OK;
}

am_status am__ns_upper(am_str enc, am_buf *out)
{
    am_buf_clear(out);
    if (enc.len == 0)
        return am_buf_append(out, "\xff", 1);
    if (am_buf_append(out, enc.ptr, enc.len) != AM_OK)
        return AM_ENOMEM;
    assert(out->ptr[out->len - 1] == 0x1f);
    out->ptr[out->len - 1] = 0x20;
    return AM_OK;
}

am_status am__ns_decode(am_str enc, am__arena *ar, am_str **parts,
                        size_t *count)
{
    size_t n = 0, k = 0;
    for (size_t i = 0; i < enc.len; i++)
        if (enc.ptr[i] == 0x1f)
            n++;
    am_str *p = am__arena_alloc(ar, (n > 0 ? n : 1) * sizeof *p);
    char *bytes = am__arena_alloc(ar, enc.len + 1);
    if (p == NULL || bytes == NULL)
        return AM_ENOMEM;
    size_t start = 0, o = 0;
    for (size_t i = 0; i < enc.len; i++) {
        unsigned char c = (unsigned char)enc.ptr[i];
        if (c == 0x1f) {
            p[k].ptr = bytes + start;
            p[k].len = o - start;
            k++;
            bytes[o++] = '\0';
            start = o;
        } else if (c == 0x1e && i + 1 < enc.len) {
            static const unsigned char un[] = { 0x00, 0x1e, 0x1f, 0xfe,
                                                0xff };
            unsigned idx = (unsigned)(enc.ptr[++i] - '0');
            bytes[o++] = (char)(idx < 5 ? un[idx] : '?');
        } else {
            bytes[o++] = (char)c;
        }
    }
    *parts = p;
    *count = k;
    return AM_OK;
}

static am_ns scoped(am_str parts[3], am_str kind, am_str id, am_str sub)
{
    size_t n = 0;
    parts[n++] = kind;
    if (id.ptr != NULL)
        parts[n++] = id;
    if (sub.len > 0)
        parts[n++] = sub;
    return (am_ns){ parts, n };
}

am_ns am_ns_user(am_str parts[3], am_str user_id, am_str sub)
{
    return scoped(parts, AM_STR("user"), user_id, sub);
}

am_ns am_ns_session(am_str parts[3], am_str session_id, am_str sub)
{
    return scoped(parts, AM_STR("session"), session_id, sub);
}

am_ns am_ns_global(am_str parts[3], am_str sub)
{
    return scoped(parts, AM_STR("global"), (am_str){ NULL, 0 }, sub);
}

/* ---- Open and close ---- */

am_store_opts am_store_opts_default(void)
{
    am_store_opts o;
    memset(&o, 0, sizeof o);
    o.actor = "agentmem";
    o.busy_timeout_ms = 5000;
    return o;
}

static am_status migrate(am_store *s)
{
    am_status st;
    sqlite3_stmt *q = NULL;
    int version = 0, rc;

    /* auto_vacuum must be chosen before the first table exists. */
    st = am__store_exec(s, "PRAGMA auto_vacuum = INCREMENTAL");
    if (st != AM_OK)
        return st;
    st = am__store_exec(s, "BEGIN IMMEDIATE");
    if (st != AM_OK)
        return st;
    st = am__store_exec(s, "CREATE TABLE IF NOT EXISTS am_schema("
                           "module TEXT PRIMARY KEY,"
                           " version INTEGER NOT NULL)");
    if (st != AM_OK)
        goto out;
    rc = sqlite3_prepare_v2(s->db, "SELECT version FROM am_schema"
                                   " WHERE module = 'store'", -1, &q, NULL);
    if (rc != SQLITE_OK) {
        st = am__store_dberr(s, rc, "schema");
        goto out;
    }
    rc = sqlite3_step(q);
    if (rc == SQLITE_ROW)
        version = sqlite3_column_int(q, 0);
    else if (rc != SQLITE_DONE) {
        st = am__store_dberr(s, rc, "schema");
        goto out;
    }
    sqlite3_finalize(q);
    q = NULL;
    if (version > STORE_SCHEMA_VERSION) {
        st = am__fail(&s->err, AM_EFORMAT,
                      "schema: store version %d is newer than this "
                      "library's %d", version, STORE_SCHEMA_VERSION);
        goto out;
    }
    for (int v = version; v < STORE_SCHEMA_VERSION; v++) {
        st = am__store_exec(s, migrations[v]);
        if (st != AM_OK)
            goto out;
    }
    if (version < STORE_SCHEMA_VERSION) {
        char sql[128];
        snprintf(sql, sizeof sql,
                 "INSERT INTO am_schema(module, version) VALUES ('store', %d)"
                 " ON CONFLICT(module) DO UPDATE SET version = %d",
                 STORE_SCHEMA_VERSION, STORE_SCHEMA_VERSION);
        st = am__store_exec(s, sql);
        if (st != AM_OK)
            goto out;
    }
    st = am__store_exec(s, "COMMIT");
out:
    sqlite3_finalize(q);
    if (st != AM_OK && !sqlite3_get_autocommit(s->db))
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    return st;
}

am_status am_store_open(const char *path, const am_store_opts *opts,
                        am_store **out, am_error *err)
{
    am_store_opts o = opts != NULL ? *opts : am_store_opts_default();
    am_store *s;
    am_status st;
    int rc, flags;

    if (out == NULL || path == NULL)
        return am__fail(err, AM_EINVAL, "store open: NULL path or out");
    *out = NULL;
    s = am__calloc(o.alloc, 1, sizeof *s);
    if (s == NULL)
        return am__fail(err, AM_ENOMEM, "store open: out of memory");
    s->alloc = am__allocator(o.alloc);
    s->clock = o.clock;
    s->embedder = o.embedder;
    s->busy_timeout_ms = o.busy_timeout_ms > 0 ? o.busy_timeout_ms : 5000;
    snprintf(s->actor, sizeof s->actor, "%s",
             o.actor != NULL ? o.actor : "agentmem");
    s->vc.ns_pool.alloc = s->alloc;
    if (pthread_mutex_init(&s->mu, NULL) != 0) {
        am__free(s->alloc, s, sizeof *s);
        return am__fail(err, AM_ENOMEM, "store open: cannot make a mutex");
    }
    flags = o.read_only ? SQLITE_OPEN_READONLY
                        : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
    flags |= SQLITE_OPEN_NOMUTEX; /* s->mu serializes the handle */
    rc = sqlite3_open_v2(path, &s->db, flags, NULL);
    if (rc != SQLITE_OK) {
        st = am__fail(err, rc == SQLITE_NOMEM ? AM_ENOMEM : AM_EIO,
                      "store open '%s': %s", path,
                      s->db != NULL ? sqlite3_errmsg(s->db)
                                    : sqlite3_errstr(rc));
        goto fail;
    }
    sqlite3_extended_result_codes(s->db, 1);
    sqlite3_busy_timeout(s->db, s->busy_timeout_ms);
    if (!o.read_only) {
        st = am__store_exec(s, "PRAGMA journal_mode = WAL");
        if (st == AM_OK)
            st = am__store_exec(s, "PRAGMA synchronous = NORMAL");
        if (st == AM_OK)
            st = migrate(s);
        if (st != AM_OK) {
            am__error_copy(err, &s->err);
            if (st == AM_EIO)
                am__fail(err, AM_EIO, "store open '%s': %s", path,
                         s->err.msg);
            goto fail;
        }
    }
    *out = s;
    return AM_OK;
fail:
    sqlite3_close(s->db);
    pthread_mutex_destroy(&s->mu);
    am__free(s->alloc, s, sizeof *s);
    return st;
}

void am_store_close(am_store *s)
{
    if (s == NULL)
        return;
    for (int i = 0; i < Q_COUNT_; i++)
        sqlite3_finalize(s->stmts[i]);
    am__vcache_free(s);
    sqlite3_close(s->db);
    pthread_mutex_destroy(&s->mu);
    am__free(s->alloc, s, sizeof *s);
}

const am_error *am_store_last_error(const am_store *s)
{
    static const am_error none = { AM_EINVAL, "no store" };
    return s != NULL ? &s->err : &none;
}

/* ---- Put ---- */

/* Append the string leaves of `v` to `out`, separated by spaces. */
static am_status text_of(json_t *v, am_buf *out, int depth)
{
    am_status st = AM_OK;
    if (depth > 64)
        return AM_OK;
    if (json_is_string(v)) {
        if (out->len > 0)
            st = am_buf_append(out, " ", 1);
        if (st == AM_OK)
            st = am_buf_append(out, json_string_value(v),
                               json_string_length(v));
    } else if (json_is_object(v)) {
        const char *k;
        json_t *x;
        json_object_foreach(v, k, x) {
            st = text_of(x, out, depth + 1);
            if (st != AM_OK)
                break;
        }
    } else if (json_is_array(v)) {
        size_t i;
        json_t *x;
        json_array_foreach(v, i, x) {
            st = text_of(x, out, depth + 1);
            if (st != AM_OK)
                break;
        }
    }
    return st;
}

/* Parse any JSON value (scalars too), with am__json_parse's messages. */
static am_status parse_any(am_str text, const char *what, json_t **out,
                           am_error *err)
{
    json_error_t jerr;
    *out = json_loadb(text.ptr != NULL ? text.ptr : "", text.len,
                      JSON_DECODE_ANY, &jerr);
    if (*out != NULL)
        return AM_OK;
    if (strstr(jerr.text, "out of memory") != NULL)
        return am__fail(err, AM_ENOMEM, "%s: out of memory", what);
    return am__fail(err, AM_EFORMAT, "%s: %s at line %d, column %d (byte %d)",
                    what, jerr.text, jerr.line, jerr.column, jerr.position);
}

/* One item, validated and prepared outside the transaction. */
typedef struct prepared {
    am_buf ns;
    am_buf text;
    am_str meta;
    float *vec;        /* owned copy, unit length */
    size_t dim;
    const char *model;
} prepared;

static void prepared_free(am_store *s, prepared *p)
{
    am_buf_free(&p->ns);
    am_buf_free(&p->text);
    if (p->vec != NULL)
        am__free(s->alloc, p->vec, p->dim * sizeof(float));
    p->vec = NULL;
}

static am_status prepare_item(am_store *s, const am_item_in *it, size_t idx,
                              prepared *p)
{
    am_status st;
    json_t *v = NULL;
    char where[48];

    snprintf(where, sizeof where, "item %zu", idx);
    memset(p, 0, sizeof *p);
    p->ns.alloc = s->alloc;
    p->text.alloc = s->alloc;
    st = am__ns_encode(it->ns, 0, &p->ns, &s->err);
    if (st != AM_OK)
        return am__fail(&s->err, st, "%s: %s", where, s->err.msg);
    if (it->key.len == 0 || it->key.ptr == NULL)
        return am__fail(&s->err, AM_EINVAL, "%s: empty key", where);
    if (it->key.len > 4096)
        return am__fail(&s->err, AM_EINVAL, "%s: key is %zu bytes (at most "
                        "4096)", where, it->key.len);
    if (it->ttl_ms < 0)
        return am__fail(&s->err, AM_EINVAL, "%s: negative ttl_ms", where);
    char what[64];
    snprintf(what, sizeof what, "%s: value", where);
    st = parse_any(it->value, what, &v, &s->err);
    if (st != AM_OK)
        return st;
    if (it->text.len > 0)
        st = am_buf_append(&p->text, it->text.ptr, it->text.len);
    else
        st = text_of(v, &p->text, 0);
    json_decref(v);
    v = NULL;
    if (st == AM_OK)
        st = am_buf_reserve(&p->text, 0);
    if (st != AM_OK)
        return am__fail(&s->err, AM_ENOMEM, "%s: out of memory", where);
    p->text.ptr[p->text.len] = '\0';
    if (!am__utf8_valid(p->text.ptr, p->text.len, NULL))
        return am__fail(&s->err, AM_EFORMAT, "%s: text is not UTF-8",
                        where);
    p->meta = it->meta.len > 0 ? it->meta : AM_STR("{}");
    if (it->meta.len > 0) {
        snprintf(what, sizeof what, "%s: meta", where);
        st = am__json_parse(p->meta, what, &v, &s->err);
        if (st != AM_OK)
            return st;
        if (!json_is_object(v)) {
            json_decref(v);
            return am__fail(&s->err, AM_EFORMAT, "%s: meta must be a JSON "
                            "object", where);
        }
        json_decref(v);
    }

    if (it->vec != NULL) {
        if (it->dim == 0)
            return am__fail(&s->err, AM_EINVAL, "%s: vector with dim 0",
                            where);
        p->dim = it->dim;
        p->model = it->vec_model != NULL ? it->vec_model : "caller";
        p->vec = am__alloc_array(s->alloc, p->dim, sizeof(float));
        if (p->vec == NULL)
            return am__fail(&s->err, AM_ENOMEM, "%s: out of memory", where);
        memcpy(p->vec, it->vec, p->dim * sizeof(float));
    } else if (s->embedder != NULL && !it->no_embed && p->text.len > 0) {
        am_str t = { p->text.ptr, p->text.len };
        p->dim = s->embedder->dim;
        p->model = s->embedder->id;
        p->vec = am__alloc_array(s->alloc, p->dim, sizeof(float));
        if (p->vec == NULL)
            return am__fail(&s->err, AM_ENOMEM, "%s: out of memory", where);
        st = am_embedder_embed(s->embedder, &t, 1, p->vec, &s->err);
        if (st != AM_OK)
            return st;
    }
    if (p->vec != NULL)
        am__vec_normalize(p->vec, p->dim);
    return AM_OK;
}

/* The vector model and dimension fixed by the first stored vector. */
static am_status check_model(am_store *s, const prepared *p, size_t idx)
{
    sqlite3_stmt *q = am__store_stmt(s, Q_META_GET);
    char want[160];
    int rc;

    if (q == NULL)
        return s->err.code;
    snprintf(want, sizeof want, "%s/%zu", p->model, p->dim);
    sqlite3_bind_text(q, 1, "vec_model", -1, SQLITE_STATIC);
    rc = sqlite3_step(q);
    if (rc == SQLITE_ROW) {
        const char *have = (const char *)sqlite3_column_text(q, 0);
        if (have != NULL && strcmp(have, want) != 0) {
            am_status st = am__fail(&s->err, AM_EINVAL,
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
        return am__store_dberr(s, rc, "vector model");
    q = am__store_stmt(s, Q_META_SET);
    if (q == NULL)
        return s->err.code;
    sqlite3_bind_text(q, 1, "vec_model", -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 2, want, -1, SQLITE_TRANSIENT);
    return step_done(s, Q_META_SET, "vector model");
}

static void bind_str(sqlite3_stmt *q, int i, am_str v, int blob)
{
    if (blob)
        sqlite3_bind_blob(q, i, v.ptr != NULL ? v.ptr : "", (int)v.len,
                          SQLITE_STATIC);
    else
        sqlite3_bind_text(q, i, v.ptr != NULL ? v.ptr : "", (int)v.len,
                          SQLITE_STATIC);
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

static am_status history_add(am_store *s, int64_t item_id, const char *event,
                             sqlite3_stmt *old_row, int old_val_col,
                             int old_meta_col, int64_t now, const char *actor)
{
    sqlite3_stmt *h = am__store_stmt(s, Q_HIST_ADD);
    if (h == NULL)
        return s->err.code;
    sqlite3_bind_int64(h, 1, item_id);
    sqlite3_bind_text(h, 2, event, -1, SQLITE_STATIC);
    if (old_row != NULL) {
        bind_col_or_null(h, 3, old_row, old_val_col);
        bind_col_or_null(h, 5, old_row, old_meta_col);
    }
    sqlite3_bind_int64(h, 7, now);
    sqlite3_bind_text(h, 8, actor, -1, SQLITE_STATIC);
    return step_done(s, Q_HIST_ADD, "history");
}

static int row_is_live(sqlite3_stmt *q, int del_col, int exp_col, int64_t now)
{
    if (sqlite3_column_type(q, del_col) != SQLITE_NULL)
        return 0;
    return sqlite3_column_type(q, exp_col) == SQLITE_NULL ||
           sqlite3_column_int64(q, exp_col) > now;
}

static void bind_item(sqlite3_stmt *w, const am_item_in *it,
                      const prepared *p, int64_t now)
{
    if (it->ttl_ms > 0)
        sqlite3_bind_int64(w, 7, now + it->ttl_ms);
    if (p->vec != NULL) {
        sqlite3_bind_text(w, 8, p->model, -1, SQLITE_STATIC);
        sqlite3_bind_blob(w, 9, p->vec, (int)(p->dim * sizeof(float)),
                          SQLITE_STATIC);
    }
}

/* Insert or update one item inside the caller's transaction. New keys
 * take one statement (INSERT ... ON CONFLICT DO NOTHING); only an existing
 * key pays for reading the old row, which the history keeps. The history
 * stores old values only: an event's new value is the next event's old
 * value, or the current row's. */
static am_status put_one(am_store *s, const am_item_in *it, prepared *p,
                         size_t idx, int64_t now)
{
    am_status st;
    sqlite3_stmt *f, *w;
    int rc, live;
    int64_t id, created = now;
    am_str enc = { p->ns.ptr, p->ns.len };

    if (p->vec != NULL) {
        st = check_model(s, p, idx);
        if (st != AM_OK)
            return st;
        s->own_writes++;
    }
    w = am__store_stmt(s, Q_ITEM_INSERT);
    if (w == NULL)
        return s->err.code;
    bind_str(w, 1, enc, 1);
    bind_str(w, 2, it->key, 1);
    bind_str(w, 3, it->value, 0);
    bind_str(w, 4, p->meta, 0);
    sqlite3_bind_text(w, 5, p->text.ptr, (int)p->text.len, SQLITE_STATIC);
    sqlite3_bind_int64(w, 6, now);
    bind_item(w, it, p, now);
    rc = sqlite3_step(w);
    sqlite3_reset(w);
    if (rc != SQLITE_DONE)
        return am__store_dberr(s, rc, "put");
    if (sqlite3_changes(s->db) == 1) {
        id = sqlite3_last_insert_rowid(s->db);
        w = am__store_stmt(s, Q_FTS_ADD);
        if (w == NULL)
            return s->err.code;
        sqlite3_bind_int64(w, 1, id);
        sqlite3_bind_text(w, 2, p->text.ptr, (int)p->text.len,
                          SQLITE_STATIC);
        st = step_done(s, Q_FTS_ADD, "put: index");
        if (st != AM_OK)
            return st;
        return history_add(s, id, "add", NULL, 1, 2, now, s->actor);
    }

    /* The key exists (live, expired or soft-deleted): update it. */
    f = am__store_stmt(s, Q_ITEM_FIND);
    if (f == NULL)
        return s->err.code;
    bind_str(f, 1, enc, 1);
    bind_str(f, 2, it->key, 1);
    rc = sqlite3_step(f);
    if (rc != SQLITE_ROW) {
        st = am__store_dberr(s, rc == SQLITE_DONE ? SQLITE_CORRUPT : rc,
                             "put");
        sqlite3_reset(f);
        return st;
    }
    id = sqlite3_column_int64(f, 0);
    live = row_is_live(f, 3, 4, now);
    if (live)
        created = sqlite3_column_int64(f, 5);
    s->own_writes++; /* the row may have lost its vector */
    w = am__store_stmt(s, Q_ITEM_UPDATE);
    if (w == NULL) {
        sqlite3_reset(f);
        return s->err.code;
    }
    sqlite3_bind_int64(w, 1, id);
    bind_str(w, 2, it->value, 0);
    bind_str(w, 3, p->meta, 0);
    sqlite3_bind_text(w, 4, p->text.ptr, (int)p->text.len, SQLITE_STATIC);
    sqlite3_bind_int64(w, 5, created);
    sqlite3_bind_int64(w, 6, now);
    bind_item(w, it, p, now);
    rc = sqlite3_step(w);
    sqlite3_reset(w);
    if (rc != SQLITE_DONE) {
        st = am__store_dberr(s, rc, "put");
        sqlite3_reset(f);
        return st;
    }
    /* `f` still holds the old row for the history. */
    st = history_add(s, id, live ? "update" : "add", f, 1, 2, now, s->actor);
    sqlite3_reset(f);
    return st;
}

static am_status put_many_locked(am_store *s, const am_item_in *items,
                                 size_t count)
{
    am_status st = AM_OK;
    prepared one, *ps = &one;
    size_t done = 0;
    int64_t now = am_clock_now(s->clock);

    if (items == NULL && count > 0)
        return am__fail(&s->err, AM_EINVAL, "put: NULL items");
    if (count == 0)
        return AM_OK;
    if (count > 1) {
        ps = am__alloc_array(s->alloc, count, sizeof *ps);
        if (ps == NULL)
            return am__fail(&s->err, AM_ENOMEM, "put: out of memory");
    }
    /* Parse and embed before taking the write lock. */
    for (; done < count; done++) {
        st = prepare_item(s, &items[done], done, &ps[done]);
        if (st != AM_OK) {
            done++;
            goto out;
        }
    }
    st = am__store_begin(s);
    if (st != AM_OK)
        goto out;
    for (size_t i = 0; i < count && st == AM_OK; i++)
        st = put_one(s, &items[i], &ps[i], i, now);
    if (st == AM_OK)
        st = am__store_commit(s);
    if (st != AM_OK)
        am__store_rollback(s);
out:
    for (size_t i = 0; i < done; i++)
        prepared_free(s, &ps[i]);
    if (ps != &one)
        am__free(s->alloc, ps, count * sizeof *ps);
    return st;
}

am_status am_store_put_many(am_store *s, const am_item_in *items,
                            size_t count)
{
    if (s == NULL)
        return AM_EINVAL;
    STORE_LOCK(s);
    am_status st = put_many_locked(s, items, count);
    STORE_UNLOCK(s);
    return st;
}

am_status am_store_put(am_store *s, const am_item_in *item)
{
    if (s == NULL)
        return AM_EINVAL;
    if (item == NULL)
        return am__fail(&s->err, AM_EINVAL, "put: NULL item");
    return am_store_put_many(s, item, 1);
}

/* ---- Get, delete, undo ---- */

static am_status key_ok(am_store *s, am_str key)
{
    if (key.len == 0 || key.ptr == NULL)
        return am__fail(&s->err, AM_EINVAL, "empty key");
    return AM_OK;
}

am_status am_store_get(am_store *s, am_ns ns, am_str key, am_buf *value)
{
    am_status st;
    am_buf enc = AM_BUF_INIT;
    sqlite3_stmt *q;
    int rc;

    if (s == NULL || value == NULL)
        return AM_EINVAL;
    STORE_LOCK(s);
    enc.alloc = s->alloc;
    st = am__ns_encode(ns, 0, &enc, &s->err);
    if (st == AM_OK)
        st = key_ok(s, key);
    if (st != AM_OK)
        goto out;
    q = am__store_stmt(s, Q_ITEM_GET);
    if (q == NULL) {
        st = s->err.code;
        goto out;
    }
    sqlite3_bind_int64(q, 1, am_clock_now(s->clock));
    bind_str(q, 2, (am_str){ enc.ptr, enc.len }, 1);
    bind_str(q, 3, key, 1);
    rc = sqlite3_step(q);
    if (rc == SQLITE_ROW) {
        am_buf_clear(value);
        st = am_buf_append(value, sqlite3_column_text(q, 0),
                           (size_t)sqlite3_column_bytes(q, 0));
        if (st == AM_OK)
            st = am_buf_reserve(value, 0);
        if (st != AM_OK)
            st = am__fail(&s->err, AM_ENOMEM, "get: out of memory");
        else
            value->ptr[value->len] = '\0';
    } else if (rc == SQLITE_DONE) {
        st = am__fail(&s->err, AM_ENOTFOUND, "get: no item '%.*s'",
                      (int)(key.len > 64 ? 64 : key.len), key.ptr);
    } else {
        st = am__store_dberr(s, rc, "get");
    }
    sqlite3_reset(q);
out:
    am_buf_free(&enc);
    STORE_UNLOCK(s);
    return st;
}

/* Find (ns, key) inside a transaction; leaves Q_ITEM_FIND on its row. */
static am_status find_row(am_store *s, am_ns ns, am_str key, am_buf *enc,
                          sqlite3_stmt **out)
{
    am_status st = am__ns_encode(ns, 0, enc, &s->err);
    if (st == AM_OK)
        st = key_ok(s, key);
    if (st != AM_OK)
        return st;
    sqlite3_stmt *f = am__store_stmt(s, Q_ITEM_FIND);
    if (f == NULL)
        return s->err.code;
    bind_str(f, 1, (am_str){ enc->ptr, enc->len }, 1);
    bind_str(f, 2, key, 1);
    int rc = sqlite3_step(f);
    if (rc == SQLITE_DONE) {
        sqlite3_reset(f);
        return am__fail(&s->err, AM_ENOTFOUND, "no item '%.*s'",
                        (int)(key.len > 64 ? 64 : key.len), key.ptr);
    }
    if (rc != SQLITE_ROW) {
        sqlite3_reset(f);
        return am__store_dberr(s, rc, "find");
    }
    *out = f;
    return AM_OK;
}

static am_status soft_delete(am_store *s, sqlite3_stmt *f, int64_t now,
                             const char *actor)
{
    int64_t id = sqlite3_column_int64(f, 0);
    sqlite3_stmt *d = am__store_stmt(s, Q_ITEM_SOFTDEL);
    if (d == NULL)
        return s->err.code;
    sqlite3_bind_int64(d, 1, id);
    sqlite3_bind_int64(d, 2, now);
    am_status st = step_done(s, Q_ITEM_SOFTDEL, "delete");
    if (st == AM_OK)
        st = history_add(s, id, "delete", f, 1, 2, now, actor);
    s->own_writes++;
    return st;
}

am_status am_store_delete(am_store *s, am_ns ns, am_str key)
{
    am_status st;
    am_buf enc = AM_BUF_INIT;
    sqlite3_stmt *f = NULL;
    int64_t now;

    if (s == NULL)
        return AM_EINVAL;
    STORE_LOCK(s);
    enc.alloc = s->alloc;
    now = am_clock_now(s->clock);
    st = am__store_begin(s);
    if (st == AM_OK)
        st = find_row(s, ns, key, &enc, &f);
    if (st == AM_OK && !row_is_live(f, 3, 4, now))
        st = am__fail(&s->err, AM_ENOTFOUND, "delete: no live item '%.*s'",
                      (int)(key.len > 64 ? 64 : key.len), key.ptr);
    if (st == AM_OK)
        st = soft_delete(s, f, now, s->actor);
    if (f != NULL)
        sqlite3_reset(f);
    if (st == AM_OK)
        st = am__store_commit(s);
    if (st != AM_OK)
        am__store_rollback(s);
    am_buf_free(&enc);
    STORE_UNLOCK(s);
    return st;
}

am_status am_store_undo(am_store *s, am_ns ns, am_str key)
{
    am_status st;
    am_buf enc = AM_BUF_INIT;
    sqlite3_stmt *f = NULL, *h = NULL;
    int64_t now, id;
    int rc;

    if (s == NULL)
        return AM_EINVAL;
    STORE_LOCK(s);
    enc.alloc = s->alloc;
    now = am_clock_now(s->clock);
    st = am__store_begin(s);
    if (st == AM_OK)
        st = find_row(s, ns, key, &enc, &f);
    if (st != AM_OK)
        goto out;
    id = sqlite3_column_int64(f, 0);
    h = am__store_stmt(s, Q_HIST_LAST);
    if (h == NULL) {
        st = s->err.code;
        goto out;
    }
    sqlite3_bind_int64(h, 1, id);
    rc = sqlite3_step(h);
    if (rc != SQLITE_ROW) {
        st = rc == SQLITE_DONE
                 ? am__fail(&s->err, AM_ENOTFOUND, "undo: no history")
                 : am__store_dberr(s, rc, "undo");
        goto out;
    }
    const char *event = (const char *)sqlite3_column_text(h, 0);
    if (strcmp(event, "add") == 0) {
        /* Undoing an add deletes the item. */
        st = soft_delete(s, f, now, "undo");
    } else {
        /* update or delete: restore the old value and metadata. The text
         * is re-derived from the value; the vector is dropped (re-put to
         * embed again) because the history keeps no vectors. */
        am_item_in it;
        prepared p;
        memset(&it, 0, sizeof it);
        it.ns = ns;
        it.key = key;
        it.value = (am_str){ (const char *)sqlite3_column_text(h, 1),
                             (size_t)sqlite3_column_bytes(h, 1) };
        it.meta = (am_str){ (const char *)sqlite3_column_text(h, 2),
                            (size_t)sqlite3_column_bytes(h, 2) };
        it.no_embed = s->embedder == NULL;
        int was_live = row_is_live(f, 3, 4, now);
        sqlite3_stmt *w;
        st = prepare_item(s, &it, 0, &p);
        if (st != AM_OK) {
            prepared_free(s, &p);
            goto out;
        }
        w = am__store_stmt(s, Q_ITEM_UPDATE);
        if (w == NULL) {
            st = s->err.code;
            prepared_free(s, &p);
            goto out;
        }
        sqlite3_bind_int64(w, 1, id);
        bind_str(w, 2, it.value, 0);
        bind_str(w, 3, p.meta, 0);
        sqlite3_bind_text(w, 4, p.text.ptr, (int)p.text.len, SQLITE_STATIC);
        sqlite3_bind_int64(w, 5, sqlite3_column_int64(f, 5));
        sqlite3_bind_int64(w, 6, now);
        if (p.vec != NULL) {
            sqlite3_bind_text(w, 8, p.model, -1, SQLITE_STATIC);
            sqlite3_bind_blob(w, 9, p.vec, (int)(p.dim * sizeof(float)),
                              SQLITE_STATIC);
        }
        rc = sqlite3_step(w);
        sqlite3_reset(w);
        s->own_writes++;
        if (rc != SQLITE_DONE)
            st = am__store_dberr(s, rc, "undo");
        else
            st = history_add(s, id, was_live ? "update" : "add", f, 1, 2,
                             now, "undo");
        prepared_free(s, &p);
    }
out:
    if (h != NULL)
        sqlite3_reset(h);
    if (f != NULL)
        sqlite3_reset(f);
    if (st == AM_OK)
        st = am__store_commit(s);
    if (st != AM_OK)
        am__store_rollback(s);
    am_buf_free(&enc);
    STORE_UNLOCK(s);
    return st;
}

/* ---- Reading lists ---- */

am_status am_store_get_item(am_store *s, am_ns ns, am_str key,
                            am_results **out)
{
    am_status st;
    am_buf enc = AM_BUF_INIT;
    am__rbuild b;
    sqlite3_stmt *f = NULL, *q;
    int rc;

    if (s == NULL || out == NULL)
        return AM_EINVAL;
    *out = NULL;
    STORE_LOCK(s);
    enc.alloc = s->alloc;
    st = am__rb_init(&b, s->alloc);
    if (st != AM_OK) {
        STORE_UNLOCK(s);
        return am__fail(&s->err, st, "get: out of memory");
    }
    st = find_row(s, ns, key, &enc, &f);
    if (st != AM_OK)
        goto out;
    int64_t id = sqlite3_column_int64(f, 0);
    sqlite3_reset(f);
    q = am__store_stmt(s, Q_ITEM_ROW);
    if (q == NULL) {
        st = s->err.code;
        goto out;
    }
    sqlite3_bind_int64(q, 1, am_clock_now(s->clock));
    sqlite3_bind_int64(q, 2, id);
    rc = sqlite3_step(q);
    if (rc == SQLITE_ROW)
        st = am__rb_add_row(&b, q, 0, NULL);
    else if (rc == SQLITE_DONE)
        st = am__fail(&s->err, AM_ENOTFOUND, "get: no live item");
    else
        st = am__store_dberr(s, rc, "get");
    sqlite3_reset(q);
    if (st == AM_ENOMEM)
        am__fail(&s->err, st, "get: out of memory");
out:
    if (st == AM_OK)
        *out = am__rb_finish(&b);
    else
        am__rb_abort(&b);
    am_buf_free(&enc);
    STORE_UNLOCK(s);
    return st;
}

static am_status ns_range(am_store *s, am_ns ns, am_buf *lo, am_buf *hi)
{
    am_status st = am__ns_encode(ns, 1, lo, &s->err);
    if (st != AM_OK)
        return st;
    if (am__ns_upper((am_str){ lo->ptr, lo->len }, hi) != AM_OK)
        return am__fail(&s->err, AM_ENOMEM, "namespace: out of memory");
    return AM_OK;
}

am_status am_store_list(am_store *s, am_ns ns, size_t limit, size_t offset,
                        am_results **out)
{
    am_status st;
    am_buf lo = AM_BUF_INIT, hi = AM_BUF_INIT;
    am__rbuild b;
    sqlite3_stmt *q;
    int rc;

    if (s == NULL || out == NULL)
        return AM_EINVAL;
    *out = NULL;
    STORE_LOCK(s);
    lo.alloc = hi.alloc = s->alloc;
    if (am__rb_init(&b, s->alloc) != AM_OK) {
        STORE_UNLOCK(s);
        return am__fail(&s->err, AM_ENOMEM, "list: out of memory");
    }
    st = ns_range(s, ns, &lo, &hi);
    if (st != AM_OK)
        goto out;
    q = am__store_stmt(s, Q_LIST);
    if (q == NULL) {
        st = s->err.code;
        goto out;
    }
    sqlite3_bind_int64(q, 1, am_clock_now(s->clock));
    bind_str(q, 2, (am_str){ lo.ptr, lo.len }, 1);
    bind_str(q, 3, (am_str){ hi.ptr, hi.len }, 1);
    sqlite3_bind_int64(q, 4, limit == 0 ? 100 : (int64_t)(limit > INT64_MAX
                                                     ? INT64_MAX : limit));
    sqlite3_bind_int64(q, 5, (int64_t)(offset > INT64_MAX ? INT64_MAX
                                                          : offset));
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        st = am__rb_add_row(&b, q, 0, NULL);
        if (st != AM_OK) {
            am__fail(&s->err, st, "list: out of memory");
            break;
        }
    }
    if (st == AM_OK && rc != SQLITE_DONE)
        st = am__store_dberr(s, rc, "list");
    sqlite3_reset(q);
out:
    if (st == AM_OK)
        *out = am__rb_finish(&b);
    else
        am__rb_abort(&b);
    am_buf_free(&lo);
    am_buf_free(&hi);
    STORE_UNLOCK(s);
    return st;
}

am_status am_store_namespaces(am_store *s, am_ns prefix, size_t max_depth,
                              size_t limit, am_results **out)
{
    am_status st;
    am_buf lo = AM_BUF_INIT, hi = AM_BUF_INIT, prev = AM_BUF_INIT;
    am__rbuild b;
    sqlite3_stmt *q;
    int rc, have_prev = 0;

    if (s == NULL || out == NULL)
        return AM_EINVAL;
    *out = NULL;
    if (limit == 0)
        limit = 1000;
    STORE_LOCK(s);
    lo.alloc = hi.alloc = prev.alloc = s->alloc;
    if (am__rb_init(&b, s->alloc) != AM_OK) {
        STORE_UNLOCK(s);
        return am__fail(&s->err, AM_ENOMEM, "namespaces: out of memory");
    }
    st = ns_range(s, prefix, &lo, &hi);
    if (st != AM_OK)
        goto out;
    q = am__store_stmt(s, Q_NS_LIST);
    if (q == NULL) {
        st = s->err.code;
        goto out;
    }
    sqlite3_bind_int64(q, 1, am_clock_now(s->clock));
    bind_str(q, 2, (am_str){ lo.ptr, lo.len }, 1);
    bind_str(q, 3, (am_str){ hi.ptr, hi.len }, 1);
    while (b.r->count < limit && (rc = sqlite3_step(q)) == SQLITE_ROW) {
        const char *e = sqlite3_column_blob(q, 0);
        size_t n = (size_t)sqlite3_column_bytes(q, 0), parts = 0, cut = n;
        if (max_depth > 0)
            for (size_t i = 0; i < n; i++)
                if (e[i] == 0x1f && ++parts == max_depth) {
                    cut = i + 1;
                    break;
                }
        /* Sorted input: truncated duplicates are adjacent. */
        if (have_prev && prev.len == cut && memcmp(prev.ptr, e, cut) == 0)
            continue;
        am_buf_clear(&prev);
        if (am_buf_append(&prev, e, cut) != AM_OK) {
            st = am__fail(&s->err, AM_ENOMEM, "namespaces: out of memory");
            break;
        }
        have_prev = 1;
        if (am__grow(s->alloc, (void **)&b.r->items, &b.cap,
                     b.r->count + 1, sizeof(am_item)) != AM_OK) {
            st = am__fail(&s->err, AM_ENOMEM, "namespaces: out of memory");
            break;
        }
        am_item *it = &b.r->items[b.r->count];
        memset(it, 0, sizeof *it);
        if (am__ns_decode((am_str){ e, cut }, &b.ar, &it->ns_parts,
                          &it->ns_count) != AM_OK) {
            st = am__fail(&s->err, AM_ENOMEM, "namespaces: out of memory");
            break;
        }
        it->key = it->value = it->meta = it->text = (am_str){ "", 0 };
        it->event = it->old_value = it->actor = (am_str){ "", 0 };
        b.r->count++;
    }
    if (st == AM_OK && b.r->count < limit && rc != SQLITE_DONE)
        st = am__store_dberr(s, rc, "namespaces");
    sqlite3_reset(q);
out:
    if (st == AM_OK)
        *out = am__rb_finish(&b);
    else
        am__rb_abort(&b);
    am_buf_free(&lo);
    am_buf_free(&hi);
    am_buf_free(&prev);
    STORE_UNLOCK(s);
    return st;
}

am_status am_store_history(am_store *s, am_ns ns, am_str key,
                           am_results **out)
{
    am_status st;
    am_buf enc = AM_BUF_INIT;
    am__rbuild b;
    sqlite3_stmt *f = NULL, *h;
    int rc;

    if (s == NULL || out == NULL)
        return AM_EINVAL;
    *out = NULL;
    STORE_LOCK(s);
    enc.alloc = s->alloc;
    if (am__rb_init(&b, s->alloc) != AM_OK) {
        STORE_UNLOCK(s);
        return am__fail(&s->err, AM_ENOMEM, "history: out of memory");
    }
    st = find_row(s, ns, key, &enc, &f);
    if (st != AM_OK)
        goto out;
    int64_t id = sqlite3_column_int64(f, 0);
    am_str cur_value = am__rb_str(&b, sqlite3_column_text(f, 1),
                                  (size_t)sqlite3_column_bytes(f, 1));
    am_str cur_meta = am__rb_str(&b, sqlite3_column_text(f, 2),
                                 (size_t)sqlite3_column_bytes(f, 2));
    sqlite3_reset(f);
    if (cur_value.ptr == NULL || cur_meta.ptr == NULL) {
        st = am__fail(&s->err, AM_ENOMEM, "history: out of memory");
        goto out;
    }
    h = am__store_stmt(s, Q_HIST_LIST);
    if (h == NULL) {
        st = s->err.code;
        goto out;
    }
    sqlite3_bind_int64(h, 1, id);
    while ((rc = sqlite3_step(h)) == SQLITE_ROW) {
        if (am__grow(s->alloc, (void **)&b.r->items, &b.cap,
                     b.r->count + 1, sizeof(am_item)) != AM_OK) {
            st = AM_ENOMEM;
            break;
        }
        am_item *it = &b.r->items[b.r->count];
        memset(it, 0, sizeof *it);
        it->event = am__rb_str(&b, sqlite3_column_text(h, 0),
                               (size_t)sqlite3_column_bytes(h, 0));
        it->old_value = am__rb_str(&b, sqlite3_column_text(h, 1),
                                   (size_t)sqlite3_column_bytes(h, 1));
        it->at_ms = sqlite3_column_int64(h, 2);
        it->actor = am__rb_str(&b, sqlite3_column_text(h, 3),
                               (size_t)sqlite3_column_bytes(h, 3));
        /* Old meta for now; replaced by the new meta below. */
        it->meta = am__rb_str(&b, sqlite3_column_text(h, 4),
                              (size_t)sqlite3_column_bytes(h, 4));
        it->key = am__rb_str(&b, key.ptr, key.len);
        it->text = (am_str){ "", 0 };
        if (it->event.ptr == NULL || it->old_value.ptr == NULL ||
            it->actor.ptr == NULL || it->meta.ptr == NULL ||
            it->key.ptr == NULL ||
            am__ns_decode((am_str){ enc.ptr, enc.len }, &b.ar,
                          &it->ns_parts, &it->ns_count) != AM_OK) {
            st = AM_ENOMEM;
            break;
        }
        b.r->count++;
    }
    /* An event's new value is the next event's old value, or the row's
     * current value for the last one; a delete has none. */
    for (size_t i = 0; st == AM_OK && i < b.r->count; i++) {
        am_item *it = &b.r->items[i];
        if (it->event.len == 6 && memcmp(it->event.ptr, "delete", 6) == 0) {
            it->value = it->meta = (am_str){ "", 0 };
        } else if (i + 1 < b.r->count) {
            it->value = b.r->items[i + 1].old_value;
            it->meta = b.r->items[i + 1].meta;
        } else {
            it->value = cur_value;
            it->meta = cur_meta;
        }
    }
    if (st == AM_ENOMEM)
        am__fail(&s->err, st, "history: out of memory");
    else if (rc != SQLITE_DONE)
        st = am__store_dberr(s, rc, "history");
    sqlite3_reset(h);
out:
    if (st == AM_OK)
        *out = am__rb_finish(&b);
    else
        am__rb_abort(&b);
    am_buf_free(&enc);
    STORE_UNLOCK(s);
    return st;
}

/* ---- Retention ---- */

/* Run a write statement with bound blobs/ints in a transaction; count rows. */
static am_status exec_prepared(am_store *s, const char *sql, am_str b1,
                               am_str b2, int64_t i3, size_t *changed)
{
    sqlite3_stmt *q = NULL;
    int rc = sqlite3_prepare_v2(s->db, sql, -1, &q, NULL);
    if (rc != SQLITE_OK)
        return am__store_dberr(s, rc, "prepare");
    if (b1.ptr != NULL)
        bind_str(q, 1, b1, 1);
    if (b2.ptr != NULL)
        bind_str(q, 2, b2, 1);
    sqlite3_bind_int64(q, 3, i3);
    rc = sqlite3_step(q);
    sqlite3_finalize(q);
    if (rc != SQLITE_DONE)
        return am__store_dberr(s, rc, "write");
    if (changed != NULL)
        *changed += (size_t)sqlite3_changes(s->db);
    return AM_OK;
}

am_status am_store_delete_ns(am_store *s, am_ns ns, size_t *removed)
{
    am_status st;
    am_buf lo = AM_BUF_INIT, hi = AM_BUF_INIT;
    size_t n = 0;

    if (s == NULL)
        return AM_EINVAL;
    STORE_LOCK(s);
    lo.alloc = hi.alloc = s->alloc;
    if (ns.count == 0) {
        st = am__fail(&s->err, AM_EINVAL,
                      "delete namespace: needs at least one part");
        goto out;
    }
    st = ns_range(s, ns, &lo, &hi);
    if (st == AM_OK)
        st = am__store_begin(s);
    if (st == AM_OK)
        st = exec_prepared(s, "DELETE FROM item_history WHERE item_id IN"
                              " (SELECT id FROM items WHERE ns >= ?1"
                              " AND ns < ?2) AND ?3 = ?3",
                           (am_str){ lo.ptr, lo.len },
                           (am_str){ hi.ptr, hi.len }, 0, NULL);
    if (st == AM_OK)
        st = exec_prepared(s, "DELETE FROM items WHERE ns >= ?1 AND ns < ?2"
                              " AND ?3 = ?3",
                           (am_str){ lo.ptr, lo.len },
                           (am_str){ hi.ptr, hi.len }, 0, &n);
    if (st == AM_OK)
        st = am__store_commit(s);
    if (st != AM_OK)
        am__store_rollback(s);
    s->own_writes++;
out:
    if (removed != NULL)
        *removed = st == AM_OK ? n : 0;
    am_buf_free(&lo);
    am_buf_free(&hi);
    STORE_UNLOCK(s);
    return st;
}

am_status am_store_purge(am_store *s, int64_t deleted_before,
                         size_t *removed)
{
    am_status st;
    size_t n = 0;
    static const am_str none = { NULL, 0 };

    if (s == NULL)
        return AM_EINVAL;
    STORE_LOCK(s);
    int64_t now = am_clock_now(s->clock);
    st = am__store_begin(s);
    if (st == AM_OK)
        st = exec_prepared(s, "DELETE FROM item_history WHERE item_id IN"
                              " (SELECT id FROM items WHERE deleted_ms < ?3)",
                           none, none, deleted_before, NULL);
    if (st == AM_OK)
        st = exec_prepared(s, "DELETE FROM items WHERE deleted_ms < ?3",
                           none, none, deleted_before, &n);
    if (st == AM_OK)
        st = exec_prepared(s, "DELETE FROM item_history WHERE item_id IN"
                              " (SELECT id FROM items"
                              " WHERE expires_ms <= ?3)",
                           none, none, now, NULL);
    if (st == AM_OK)
        st = exec_prepared(s, "DELETE FROM items WHERE expires_ms <= ?3",
                           none, none, now, &n);
    if (st == AM_OK)
        st = am__store_commit(s);
    if (st != AM_OK)
        am__store_rollback(s);
    s->own_writes++;
    if (removed != NULL)
        *removed = st == AM_OK ? n : 0;
    STORE_UNLOCK(s);
    return st;
}

am_status am_store_vacuum(am_store *s, int full)
{
    if (s == NULL)
        return AM_EINVAL;
    STORE_LOCK(s);
    am_status st = am__store_exec(s, full ? "VACUUM"
                                          : "PRAGMA incremental_vacuum");
    if (st == AM_OK)
        st = am__store_exec(s, "PRAGMA wal_checkpoint(TRUNCATE)");
    STORE_UNLOCK(s);
    return st;
}

am_status am_store_check(am_store *s)
{
    sqlite3_stmt *q = NULL;
    am_status st = AM_OK;
    if (s == NULL)
        return AM_EINVAL;
    STORE_LOCK(s);
    int rc = sqlite3_prepare_v2(s->db, "PRAGMA integrity_check", -1, &q,
                                NULL);
    if (rc != SQLITE_OK) {
        st = am__store_dberr(s, rc, "integrity check");
    } else {
        rc = sqlite3_step(q);
        const char *r = rc == SQLITE_ROW
                            ? (const char *)sqlite3_column_text(q, 0)
                            : NULL;
        if (r == NULL || strcmp(r, "ok") != 0)
            st = am__fail(&s->err, AM_EIO, "integrity check: %s",
                          r != NULL ? r : sqlite3_errmsg(s->db));
    }
    sqlite3_finalize(q);
    STORE_UNLOCK(s);
    return st;
}
