/* store_pg_put.c -- the puts of a write on PostgreSQL, in batches.
 *
 * A put of many items costs a few statements, not a few per item: the
 * items travel as arrays in PostgreSQL's binary format, which unnest()
 * turns back into rows inside the server. Per batch, in the write's
 * READ COMMITTED transaction:
 *
 *  1. one INSERT ... ON CONFLICT DO NOTHING of every item; a new row
 *     keeps its "add" event in itself (add_actor, schema 6), not in
 *     item_history. It waits for a concurrent insert of the same key to end, so a key
 *     it skips is committed by then;
 *  2. the rows of the skipped keys locked (SELECT ... FOR UPDATE), in key
 *     order, so that two batches touching the same keys lock them in the
 *     same order; a locked row is the newest committed version;
 *  3. those rows rewritten in one UPDATE whose CTE adds their history
 *     entries from the old versions (first the "add" a row still holds) (all parts of one statement see the
 *     same snapshot: the CTE reads the rows as they were before the
 *     UPDATE). A row that vanished between 1 and 2 (a concurrent purge)
 *     goes around again.
 *
 * So concurrent writers of one key still queue on its row, the last
 * commit wins and the history gets one entry per put, numbered in commit
 * order, exactly as when items were written one statement at a time.
 *
 * A batch that is expected to hold only new keys (the connection's last
 * batch did) first goes as a COPY straight into items in a savepoint
 * (SQL_COPY), which is cheaper than any INSERT and falls back to the
 * steps above on a unique violation.
 *
 * A batch never holds a key twice (ON CONFLICT cannot touch a row twice
 * in one statement): a write that repeats a key is cut into batches at
 * each repetition, so the later put of a key lands after the earlier one.
 * Measured with bench/bench_pg.c (docs/BENCHMARKS.md): statements per
 * item, not the server's work, were what made puts slow.
 */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "store_pg.h"

/* A batch is cut at this many items or parameter bytes: one statement's
 * arrays stay far below the protocol's 1 GB message limit. */
#define BATCH_ITEMS 1000
#define BATCH_BYTES ((size_t)16 << 20)
/* Rounds of insert-then-lock for rows purged under our feet. */
#define MAX_ROUNDS 4

/* A new row's "add" event stays in the row (add_actor, schema 6) until
 * its first write in place moves it into item_history (SQL_UPDATE,
 * store_pg_items.c's history_add): the history row cost ~3 us of a put's
 * ~34 us of CPU (bench_pg_put, docs/BENCHMARKS.md). */
#define INSERT_ROWS                                                      \
    "INSERT INTO items(ns, key, value, meta, text, doc_len,"             \
    " expires_ms, vec_model, vec, created_ms, updated_ms, add_actor)"    \
    " SELECT ns, key, value, meta, txt,"                                 \
    " doc_len, exp, vm, vec, $10::int8, $10::int8, $11::text"            \
    " FROM unnest($1::bytea[], $2::bytea[], $3::text[],"                 \
    " $4::text[], $5::text[], $6::int8[], $7::int8[], $8::text[],"       \
    " $9::bytea[]) AS u(ns, key, value, meta, txt, doc_len, exp, vm, vec)"
static const char *const SQL_INSERT =
    INSERT_ROWS " ON CONFLICT (ns, key) DO NOTHING RETURNING id, ns, key";

/* Savepoints a write takes for SQL_COPY at most: each batch's is a
 * subtransaction with an id of its own, and a transaction with more than
 * 64 of them makes every other session's snapshots slower
 * (PGPROC_MAX_CACHED_SUBXIDS). Later batches of a larger write take
 * SQL_INSERT. */
#define MAX_SAVEPOINTS 16

static const char *const SQL_LOCK =
    "SELECT u.ord, i.id FROM unnest($1::bytea[], $2::bytea[]) WITH"
    " ORDINALITY AS u(ns, key, ord) JOIN items i ON i.ns = u.ns AND"
    " i.key = u.key ORDER BY i.ns, i.key FOR UPDATE OF i";

#define LIVE_I "i.deleted_ms IS NULL AND (i.expires_ms IS NULL OR" \
               " i.expires_ms > $9::int8)"
/* The CTE h reads the rows as they were: a row still holding its "add"
 * event (add_actor) gets it as sequence 1, at its old created_ms, and
 * this put's event as 2; the UPDATE clears add_actor. */
static const char *const SQL_UPDATE =
    "WITH u AS (SELECT * FROM unnest($1::int8[], $2::text[], $3::text[],"
    " $4::text[], $5::int8[], $6::int8[], $7::text[], $8::bytea[])"
    " AS u(id, value, meta, txt, doc_len, exp, vm, vec)),"
    " h AS (INSERT INTO item_history(item_id, seq, event, old_value,"
    " old_meta, at_ms, actor) SELECT i.id, 1, 'add', NULL, NULL,"
    " i.created_ms, i.add_actor FROM u JOIN items i ON i.id = u.id WHERE"
    " i.add_actor IS NOT NULL UNION ALL SELECT i.id, coalesce((SELECT"
    " max(x.seq) FROM item_history x WHERE x.item_id = i.id), 0) + 1 +"
    " (i.add_actor IS NOT NULL)::int, CASE WHEN "
    LIVE_I " THEN 'update' ELSE 'add' END, i.value, i.meta, $9::int8,"
    " $10::text FROM u JOIN items i ON i.id = u.id)"
    " UPDATE items i SET value = u.value, meta = u.meta, text = u.txt,"
    " doc_len = u.doc_len,"
    " expires_ms = u.exp, vec_model = u.vm, vec = u.vec,"
    " created_ms = CASE WHEN " LIVE_I " THEN i.created_ms ELSE $9::int8"
    " END, updated_ms = $9::int8, deleted_ms = NULL, add_actor = NULL,"
    " chg = pg_current_xact_id() FROM u WHERE i.id = u.id";

static am_status check_model(am_store *s, const am__prepared *p, size_t idx)
{
    char want[160];
    am__pgp q = { .n = 0 };
    snprintf(want, sizeof want, "%s/%zu", p->model, p->dim);
    am__pgp_bytes(&q, want, strlen(want));
    PGresult *r = am__pg_exec(s, "vector model",
                              "WITH ins AS (INSERT INTO store_meta(k, v)"
                              " VALUES ('vec_model', $1::text) ON CONFLICT"
                              " (k) DO NOTHING RETURNING v) SELECT v FROM"
                              " ins UNION ALL SELECT v FROM store_meta"
                              " WHERE k = 'vec_model'",
                              &q, AM__PG_PREPARE);
    if (r == NULL)
        return AM__ERR(s).code;
    am_status st = AM_OK;
    if (PQntuples(r) > 0) {
        am_str have = am__pg_str(r, 0, 0);
        if (have.len != strlen(want) || memcmp(have.ptr, want, have.len))
            st = am__fail(&AM__ERR(s), AM_EINVAL, "item %zu: vector from '%s' "
                          "but this store's index holds '%.*s'", idx, want,
                          (int)have.len, have.ptr);
    }
    PQclear(r);
    return st;
}

static void count_word(const char *w, size_t n, void *ctx)
{
    (void)w;
    (void)n;
    (*(int64_t *)ctx)++;
}

/* Words of the indexed text: BM25's document length. */
static int64_t doc_len(const am__prepared *p)
{
    int64_t n = 0;
    am__words(p->text.ptr, p->text.len, count_word, &n);
    return n;
}

/* ---- Order and batches ---- */

typedef struct ord {
    am_str ns, key;
    size_t i;
} ord;

static int cmp_bytes(am_str a, am_str b)
{
    size_t n = a.len < b.len ? a.len : b.len;
    int c = n > 0 ? memcmp(a.ptr, b.ptr, n) : 0;
    if (c != 0)
        return c;
    return a.len < b.len ? -1 : a.len > b.len;
}

/* By namespace and key as PostgreSQL orders bytea, then by position. */
static int by_key(const void *x, const void *y)
{
    const ord *a = x, *b = y;
    int c = cmp_bytes(a->ns, b->ns);
    if (c == 0)
        c = cmp_bytes(a->key, b->key);
    if (c == 0)
        c = a->i < b->i ? -1 : a->i > b->i;
    return c;
}

static int cmp_size(const void *x, const void *y)
{
    size_t a = *(const size_t *)x, b = *(const size_t *)y;
    return a < b ? -1 : a > b;
}

/* What one batch sends and gets back. */
typedef struct batch {
    am_store *s;
    const am_item_in *in;
    am__prepared *ps;
    int64_t now;
    size_t *idx;   /* the batch's items (indexes into in/ps), key order */
    size_t n;
    int *done;     /* per batch position: written */
    size_t *todo;  /* batch positions still to write (scratch) */
    am_buf a[9];   /* array parameters */
    int savepoints; /* taken by this write (MAX_SAVEPOINTS) */
} batch;

/* The content arrays of positions `pos` (count n) into b->a[from...]:
 * value, meta, text, doc_len, expires, vec_model, vec. */
static am_status content_arrays(batch *b, const size_t *pos, size_t n,
                                int from)
{
    am_buf *a = b->a + from;
    am_status st = am__pga_begin(&a[0], AM__PG_TEXT, n);
    static const unsigned oids[7] = { AM__PG_TEXT, AM__PG_TEXT, AM__PG_TEXT,
                                      AM__PG_INT8, AM__PG_INT8, AM__PG_TEXT,
                                      AM__PG_BYTEA };
    for (int k = 1; k < 7 && st == AM_OK; k++)
        st = am__pga_begin(&a[k], oids[k], n);
    for (size_t j = 0; j < n && st == AM_OK; j++) {
        size_t i = b->idx[pos[j]];
        const am_item_in *it = &b->in[i];
        const am__prepared *p = &b->ps[i];
        st = am__pga_add(&a[0], it->value.ptr, it->value.len);
        if (st == AM_OK)
            st = am__pga_add(&a[1], p->meta.ptr, p->meta.len);
        if (st == AM_OK)
            st = am__pga_text(&a[2], (am_str){ p->text.ptr, p->text.len });
        if (st == AM_OK)
            st = am__pga_int(&a[3], doc_len(p));
        if (st == AM_OK)
            st = it->ttl_ms > 0
                     ? am__pga_int(&a[4], am__add_sat(b->now, it->ttl_ms))
                     : am__pga_null(&a[4]);
        if (st == AM_OK && p->vec != NULL) {
            st = am__pga_add(&a[5], p->model, strlen(p->model));
            if (st == AM_OK)
                st = am__pga_add(&a[6], p->vec, p->dim * sizeof(float));
        } else if (st == AM_OK) {
            st = am__pga_null(&a[5]);
            if (st == AM_OK)
                st = am__pga_null(&a[6]);
        }
    }
    return st;
}

static void bind_arrays(am__pgp *p, const am_buf *a, int n)
{
    for (int k = 0; k < n; k++)
        am__pgp_bytes(p, a[k].ptr, a[k].len);
}

static am_status oom(am_store *s)
{
    return am__fail(&AM__ERR(s), AM_ENOMEM, "put: out of memory");
}

/* The encoded namespaces and keys of the `n` positions `pos` into the
 * arrays a[0] and a[1], the parameters every step looks rows up by. */
static am_status addr_arrays(batch *b, const size_t *pos, size_t n)
{
    am_status st = am__pga_begin(&b->a[0], AM__PG_BYTEA, n);
    if (st == AM_OK)
        st = am__pga_begin(&b->a[1], AM__PG_BYTEA, n);
    for (size_t j = 0; j < n && st == AM_OK; j++) {
        size_t i = b->idx[pos[j]];
        st = am__pga_add(&b->a[0], b->ps[i].ns.ptr, b->ps[i].ns.len);
        if (st == AM_OK)
            st = am__pga_add(&b->a[1], b->in[i].key.ptr, b->in[i].key.len);
    }
    return st;
}

/* Step 1: insert the `n` positions `pos` that are new keys with
 * SQL_INSERT (a key that exists is skipped); mark those written. */
static am_status insert_new(batch *b, const size_t *pos, size_t n)
{
    am_store *s = b->s;
    am__pgp p = { .n = 0 };
    am_status st = addr_arrays(b, pos, n);
    if (st == AM_OK)
        st = content_arrays(b, pos, n, 2);
    if (st != AM_OK)
        return oom(s);
    bind_arrays(&p, b->a, 9);
    am__pgp_int(&p, b->now);
    am__pgp_bytes(&p, s->actor, strlen(s->actor));
    PGresult *r = am__pg_exec(s, "put", SQL_INSERT, &p, AM__PG_PREPARE);
    if (r == NULL)
        return AM__ERR(s).code;
    /* Rows come back in insertion order, a subsequence of `pos`; the
     * search restarts from the top should the server ever reorder. */
    size_t j = 0;
    for (int row = 0; row < PQntuples(r); row++) {
        am_str ns = am__pg_str(r, row, 1), key = am__pg_str(r, row, 2);
        for (size_t tries = 0; tries < n; tries++, j = (j + 1) % n) {
            size_t i = b->idx[pos[j]];
            if (cmp_bytes(ns, (am_str){ b->ps[i].ns.ptr, b->ps[i].ns.len })
                    == 0 && cmp_bytes(key, b->in[i].key) == 0) {
                b->ps[i].id = am__pg_int(r, row, 0);
                b->done[pos[j]] = 1;
                j = (j + 1) % n;
                break;
            }
        }
    }
    PQclear(r);
    return AM_OK;
}

/* The columns a COPY of new rows fills; tsv is generated from text
 * (schema 7), id and chg come from their defaults. */
static const char *const SQL_COPY =
    "COPY items(ns, key, value, meta, text, doc_len, expires_ms, vec_model,"
    " vec, created_ms, updated_ms, add_actor) FROM STDIN (FORMAT binary)";
#define COPY_FIELDS 12

static am_status copy_null(am_buf *c)
{
    return am_buf_append(c, "\xff\xff\xff\xff", 4); /* length -1 */
}

/* The `n` positions `pos` as rows of a binary COPY into `c`. */
static am_status copy_data(batch *b, const size_t *pos, size_t n, am_buf *c)
{
    static const char head[19] = "PGCOPY\n\377\r\n"; /* then 0, flags, ext */
    static const char nfields[2] = { 0, COPY_FIELDS };
    am_buf_clear(c);
    am_status st = am_buf_append(c, head, sizeof head);
    for (size_t j = 0; j < n && st == AM_OK; j++) {
        size_t i = b->idx[pos[j]];
        const am_item_in *it = &b->in[i];
        const am__prepared *p = &b->ps[i];
        st = am_buf_append(c, nfields, 2);
        if (st == AM_OK)
            st = am__pga_add(c, p->ns.ptr, p->ns.len);
        if (st == AM_OK)
            st = am__pga_add(c, it->key.ptr, it->key.len);
        if (st == AM_OK)
            st = am__pga_add(c, it->value.ptr, it->value.len);
        if (st == AM_OK)
            st = am__pga_add(c, p->meta.ptr, p->meta.len);
        if (st == AM_OK)
            st = am__pga_text(c, (am_str){ p->text.ptr, p->text.len });
        if (st == AM_OK)
            st = am__pga_int(c, doc_len(p));
        if (st == AM_OK)
            st = it->ttl_ms > 0 ? am__pga_int(c, am__add_sat(b->now,
                                                              it->ttl_ms))
                                : copy_null(c);
        if (st == AM_OK && p->vec != NULL) {
            st = am__pga_add(c, p->model, strlen(p->model));
            if (st == AM_OK)
                st = am__pga_add(c, p->vec, p->dim * sizeof(float));
        } else if (st == AM_OK) {
            st = copy_null(c);
            if (st == AM_OK)
                st = copy_null(c);
        }
        if (st == AM_OK)
            st = am__pga_int(c, b->now);
        if (st == AM_OK)
            st = am__pga_int(c, b->now);
        if (st == AM_OK)
            st = am__pga_add(c, b->s->actor, strlen(b->s->actor));
    }
    if (st == AM_OK)
        st = am_buf_append(c, "\xff\xff", 2); /* the trailer: -1 fields */
    return st;
}

/* Step 1 for a batch of keys that are all expected new (see
 * SQL_COPY): AM_OK with *tried set when it ran and wrote every
 * row, AM_OK with *tried clear when it did not run or a key existed
 * (nothing written: back at the savepoint), or a failure. */
static am_status insert_all_new(batch *b, const size_t *pos, size_t n,
                                int *tried)
{
    am_store *s = b->s;
    am__pgc *c = am__pg_conn(s);
    *tried = 0;
    if (c->put_conflicts || !c->in_tx || b->savepoints >= MAX_SAVEPOINTS)
        return AM_OK;
    am_status st = am__pg_run(s, "put", "SAVEPOINT am_put", NULL, NULL);
    if (st != AM_OK)
        return st;
    b->savepoints++;
    st = copy_data(b, pos, n, &b->a[0]) == AM_OK
             ? am__pg_copy(s, "put", SQL_COPY, b->a[0].ptr, b->a[0].len,
                           AM__PG_UNIQUE)
             : oom(s);
    for (size_t j = 0; j < n && st == AM_OK; j++)
        b->done[pos[j]] = 1;
    if (st == AM_EEXIST) {
        c->put_conflicts = 1;
        st = am__pg_run(s, "put", "ROLLBACK TO SAVEPOINT am_put", NULL,
                        NULL);
        if (st == AM_OK) /* not a failure: the detail would mislead */
            AM__ERR(s) = (am_error){ .code = AM_OK };
        return st;
    }
    *tried = st == AM_OK;
    return st;
}

/* Steps 2 and 3: lock the existing rows of the positions `pos` not yet
 * written, then rewrite them with their history. */
static am_status update_old(batch *b, const size_t *pos, size_t n)
{
    am_store *s = b->s;
    am__pgp p = { .n = 0 };
    size_t m = 0;
    am_status st = addr_arrays(b, pos, n);
    if (st != AM_OK)
        return oom(s);
    bind_arrays(&p, b->a, 2);
    PGresult *r = am__pg_exec(s, "put", SQL_LOCK, &p, AM__PG_PREPARE);
    if (r == NULL)
        return AM__ERR(s).code;
    /* The locked rows, as batch positions with their ids. */
    size_t *locked = b->todo + n; /* the scratch's second half */
    for (int row = 0; row < PQntuples(r); row++) {
        int64_t k = am__pg_int(r, row, 0) - 1;
        if (k < 0 || (size_t)k >= n)
            continue;
        size_t i = b->idx[pos[k]];
        b->ps[i].id = am__pg_int(r, row, 1);
        locked[m++] = pos[k];
    }
    PQclear(r);
    if (m == 0)
        return AM_OK;
    st = am__pga_begin(&b->a[0], AM__PG_INT8, m);
    for (size_t j = 0; j < m && st == AM_OK; j++)
        st = am__pga_int(&b->a[0], b->ps[b->idx[locked[j]]].id);
    if (st == AM_OK)
        st = content_arrays(b, locked, m, 1);
    if (st != AM_OK)
        return oom(s);
    p.n = 0;
    bind_arrays(&p, b->a, 8);
    am__pgp_int(&p, b->now);
    am__pgp_bytes(&p, s->actor, strlen(s->actor));
    r = am__pg_exec(s, "put", SQL_UPDATE, &p, AM__PG_PREPARE);
    if (r == NULL)
        return AM__ERR(s).code;
    PQclear(r);
    for (size_t j = 0; j < m; j++)
        b->done[locked[j]] = 1;
    return AM_OK;
}

static am_status put_batch(batch *b)
{
    am_store *s = b->s;
    am_status st = AM_OK;
    size_t n = b->n, left = n;
    size_t *pos = b->todo;

    for (size_t j = 0; j < n; j++) {
        pos[j] = j;
        b->done[j] = 0;
    }
    int tried = 0;
    st = insert_all_new(b, pos, n, &tried);
    if (tried)
        return AM_OK;
    for (int round = 0; left > 0 && st == AM_OK; round++) {
        if (round == MAX_ROUNDS)
            return am__fail(&AM__ERR(s), AM_EBUSY, "put: keys deleted and "
                            "written again by others %d times in a row; "
                            "try again", MAX_ROUNDS);
        st = insert_new(b, pos, left);
        if (round == 0 && st == AM_OK) {
            /* Whether the next batch may expect only new keys. */
            size_t wrote = 0;
            for (size_t j = 0; j < left; j++)
                wrote += b->done[pos[j]] != 0;
            am__pg_conn(s)->put_conflicts = wrote < left;
        }
        size_t k = 0;
        for (size_t j = 0; j < left; j++)
            if (!b->done[pos[j]])
                pos[k++] = pos[j];
        left = k;
        if (st == AM_OK && left > 0)
            st = update_old(b, pos, left);
        k = 0;
        for (size_t j = 0; j < left; j++)
            if (!b->done[pos[j]])
                pos[k++] = pos[j];
        left = k;
    }
    return st;
}

/* ---- The write's puts ---- */

static am_status check_models(am_store *s, const am__write *w,
                              am__prepared *ps)
{
    const am__prepared *checked = NULL;
    for (size_t i = 0; i < w->nput; i++) {
        if (ps[i].vec == NULL)
            continue;
        if (checked == NULL || checked->dim != ps[i].dim ||
            strcmp(checked->model, ps[i].model) != 0) {
            am_status st = check_model(s, &ps[i], i);
            if (st != AM_OK)
                return st;
        }
        checked = &ps[i];
    }
    return AM_OK;
}

static size_t item_bytes(const am_item_in *it, const am__prepared *p)
{
    return p->ns.len + it->key.len + it->value.len + p->meta.len +
           2 * p->text.len + p->dim * sizeof(float) + 64;
}

am_status am__pg_put(am_store *s, const am__write *w, am__prepared *ps,
                     int64_t now)
{
    size_t n = w->nput;
    am_status st = AM_OK;
    ord *o = NULL;
    size_t *prev = NULL, *pos_of = NULL;
    batch b;

    if (n == 0)
        return AM_OK;
    memset(&b, 0, sizeof b);
    b.s = s;
    b.in = w->puts;
    b.ps = ps;
    b.now = now;
    for (int k = 0; k < 9; k++)
        b.a[k].alloc = s->alloc;
    st = check_models(s, w, ps);
    if (st != AM_OK)
        return st;
    size_t cap = n < BATCH_ITEMS ? n : BATCH_ITEMS;
    o = am__alloc_array(s->alloc, n, sizeof *o);
    prev = am__alloc_array(s->alloc, n, sizeof *prev);
    pos_of = am__alloc_array(s->alloc, n, sizeof *pos_of);
    b.idx = am__alloc_array(s->alloc, cap, sizeof *b.idx);
    b.done = am__alloc_array(s->alloc, cap, sizeof *b.done);
    b.todo = am__alloc_array(s->alloc, 2 * cap, sizeof *b.todo);
    if (o == NULL || prev == NULL || pos_of == NULL || b.idx == NULL ||
        b.done == NULL || b.todo == NULL) {
        st = oom(s);
        goto out;
    }
    /* Key order, and for each item the previous put of its key (n: none),
     * which must land in an earlier batch. */
    for (size_t i = 0; i < n; i++)
        o[i] = (ord){ { ps[i].ns.ptr, ps[i].ns.len }, w->puts[i].key, i };
    if (n > 1)
        qsort(o, n, sizeof *o, by_key);
    for (size_t k = 0; k < n; k++) {
        prev[o[k].i] = n;
        if (k > 0 && cmp_bytes(o[k].ns, o[k - 1].ns) == 0 &&
            cmp_bytes(o[k].key, o[k - 1].key) == 0)
            prev[o[k].i] = o[k - 1].i;
        pos_of[o[k].i] = k;
    }
    /* Without a repeated key, batches are cut from the key order: the
     * whole write then locks its rows in one global order, so two large
     * writes of the same keys queue instead of deadlocking (each batch
     * locked its own range first: a 3,000-item write against the same
     * keys in reverse failed with "deadlock detected", pg_multi). */
    int repeats = 0;
    for (size_t i = 0; i < n; i++)
        repeats |= prev[i] != n;
    for (size_t lo = 0; lo < n && !repeats && st == AM_OK;) {
        size_t hi = lo, bytes = 0;
        while (hi < n && hi - lo < BATCH_ITEMS &&
               (hi == lo || bytes < BATCH_BYTES)) {
            bytes += item_bytes(&w->puts[o[hi].i], &ps[o[hi].i]);
            hi++;
        }
        for (b.n = 0; lo < hi; lo++)
            b.idx[b.n++] = o[lo].i;
        st = put_batch(&b);
    }
    /* Otherwise batches are runs [lo, hi) of the write's items without a
     * repeated key, each sent in key order (two such writes of more than
     * one batch over the same keys can still deadlock: the server then
     * fails one of them whole, AM_EBUSY). */
    for (size_t lo = 0; lo < n && repeats && st == AM_OK;) {
        size_t hi = lo, bytes = 0;
        while (hi < n && hi - lo < BATCH_ITEMS &&
               (hi == lo || bytes < BATCH_BYTES) &&
               (prev[hi] == n || prev[hi] < lo)) {
            bytes += item_bytes(&w->puts[hi], &ps[hi]);
            hi++;
        }
        b.n = 0;
        if (hi - lo == n) {
            for (size_t k = 0; k < n; k++)
                b.idx[b.n++] = o[k].i;
        } else {
            /* Pick the run's items out of the key order: sort positions. */
            for (size_t i = lo; i < hi; i++)
                b.idx[b.n++] = pos_of[i];
            qsort(b.idx, b.n, sizeof *b.idx, cmp_size);
            for (size_t k = 0; k < b.n; k++)
                b.idx[k] = o[b.idx[k]].i;
        }
        st = put_batch(&b);
        lo = hi;
    }
out:
    am__free(s->alloc, o, n * sizeof *o);
    am__free(s->alloc, prev, n * sizeof *prev);
    am__free(s->alloc, pos_of, n * sizeof *pos_of);
    am__free(s->alloc, b.idx, cap * sizeof *b.idx);
    am__free(s->alloc, b.done, cap * sizeof *b.done);
    am__free(s->alloc, b.todo, 2 * cap * sizeof *b.todo);
    for (int k = 0; k < 9; k++)
        am_buf_free(&b.a[k]);
    return st;
}

am_status am__pg_put_new(am_store *s, const am__write *w, am__prepared *ps,
                         int64_t now, int *written)
{
    size_t idx = 0, pos = 0;
    int done = 0;
    batch b;
    am_status st;

    assert(w->nput == 1 && ps[0].vec == NULL);
    memset(&b, 0, sizeof b);
    b.s = s;
    b.in = w->puts;
    b.ps = ps;
    b.now = now;
    b.idx = &idx;
    b.n = 1;
    b.done = &done;
    for (int k = 0; k < 9; k++)
        b.a[k].alloc = s->alloc;
    st = insert_new(&b, &pos, 1);
    for (int k = 0; k < 9; k++)
        am_buf_free(&b.a[k]);
    *written = done;
    return st;
}
