/* bench_pg_put.c -- which way of sending a batch of puts to PostgreSQL is
 * fastest, on the store's own tables (the choice behind store_pg_put.c).
 *
 *   bench_pg_put URL [ITEMS] [ROUNDS]
 *       URL     a PostgreSQL database (bench/run_pg.sh's server, or
 *               `bash tests/pg_run.sh sh -c 'build/bench_pg_put
 *               "$AM_TEST_STORE" 50000'`)
 *       ITEMS   items per way and round (default 50000)
 *       ROUNDS  rounds, the ways taking turns (default 2)
 *
 * Every way writes the same new items (8-word Zipf texts, 128-d vectors)
 * in batches of 1,000, one transaction per batch, into a fresh schema that
 * the store itself created (so the same table, indexes and history):
 *
 *   store   am_store_put_many (binary arrays, unnest(), INSERT ... ON
 *           CONFLICT with the history in a CTE; see store_pg_put.c), then
 *           the GIN pending lists merged (counted: a put leaves up to the
 *           list's limit unmerged, which a later writer or VACUUM pays)
 *   copy    COPY FROM STDIN (BINARY) into a temporary table, then one
 *           INSERT ... SELECT ... ON CONFLICT with the same history CTE
 *   rows    one prepared single-row INSERT (with its history) per item,
 *           all of a batch sent in libpq's pipeline mode (one round trip)
 *   peer    bench_pg's plain-libpq peer: COPY (binary) into a table with
 *           only the key, the text and its GIN index (default settings)
 *   gin4m   "store" with the full-text index's pending list at 4 MB (the
 *           default) instead of the schema's 64 kB, merged at the end
 *   gin1k   as gin4m, the list merged after each batch of 1,000
 *   gin64k  "store" with the full-text pending list at 64 kB (schema
 *           version 4; version 5 has 256 kB), merged at the end
 *   store2  "store" from two handles (two connections, so two server
 *           processes) in two threads, each writing half of the items
 *           in its own batches: what two writers of one store reach on
 *           two cores (one connection cannot use both: docs/BENCHMARKS.md,
 *           bench/pg_put_floor.sh)
 *   peer2   "peer" from two connections in two threads, the same halves
 *
 * AM_BENCH_PUT_WAYS (e.g. "store,peer") runs only the ways named.
 * AM_BENCH_PUT_DROP (e.g. "items_chg items_metaj") drops those indexes
 * of the store's schema before every way that writes it: what each index
 * costs a put.
 *
 * The "store" line includes the store's own client work (namespace
 * encoding, the words counted for BM25, checks); the others do only what
 * the server needs. Wall time depends on the machine's load; the CPU
 * time of this process plus its server process (read from /proc: the
 * server must run on this machine) much less. `way items/s us` lines,
 * the best round of each.
 */
#include <libpq-fe.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agentmem/store.h"
#include "bench_corpus.h"
#include "bench_cpu.h"

#define BATCH 1000
#define NWAYS 9

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void die(const char *what, const char *msg)
{
    fprintf(stderr, "bench_pg_put: %s: %s\n", what, msg);
    exit(1);
}

/* ---- libpq helpers ---- */

static void run(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_COMMAND_OK &&
        PQresultStatus(r) != PGRES_TUPLES_OK)
        die(sql, PQerrorMessage(c));
    PQclear(r);
}

static void prepare(PGconn *c, const char *name, const char *sql)
{
    PGresult *r = PQprepare(c, name, sql, 0, NULL);
    if (PQresultStatus(r) != PGRES_COMMAND_OK)
        die(name, PQerrorMessage(c));
    PQclear(r);
}

typedef struct wbuf {
    char *p;
    size_t len, cap;
} wbuf;

static void wb_add(wbuf *b, const void *p, size_t n)
{
    if (b->len + n > b->cap) {
        b->cap = (b->len + n) * 2;
        b->p = realloc(b->p, b->cap);
        if (b->p == NULL)
            die("buffer", "out of memory");
    }
    memcpy(b->p + b->len, p, n);
    b->len += n;
}

static void wb_be(wbuf *b, uint64_t v, int bytes)
{
    unsigned char w[8];
    for (int i = 0; i < bytes; i++)
        w[i] = (unsigned char)(v >> (8 * (bytes - 1 - i)));
    wb_add(b, w, (size_t)bytes);
}

static void wb_field(wbuf *b, const void *p, size_t n)
{
    wb_be(b, (uint32_t)n, 4);
    wb_add(b, p, n);
}

static size_t doc_words(const char *t)
{
    size_t n = 1;
    for (; *t; t++)
        n += *t == ' ';
    return n;
}

/* ---- The ways ---- */

static const am_str ns_part[] = { { "bench", 5 } };
static const am_ns NS = { ns_part, 1 };

static void way_store(am_store *s, size_t from, size_t to)
{
    if (bench_put_items(s, NS, from, to) != AM_OK)
        die("store put", am_store_last_error(s)->msg);
}

static void way_store_clean(am_store *s, PGconn *c, size_t from, size_t to)
{
    for (size_t i = from; i < to; i += BATCH) {
        way_store(s, i, to - i < BATCH ? to : i + BATCH);
        run(c, "SELECT gin_clean_pending_list('items_tsv')");
    }
}

/* The namespace as the store encodes it (the part, then a 0 byte). */
static const char ENC_NS[] = "bench\x1f";
#define ENC_NS_LEN 6
#define MODEL "caller"

/* A new row's "add" event in the row (add_actor), as the store writes it
 * since schema 6; tsv generated from text (schema 7). */
static const char *const COPY_INSERT =
    "INSERT INTO items(ns, key, value, meta, text, doc_len,"
    " expires_ms, vec_model, vec, created_ms, updated_ms, add_actor)"
    " SELECT ns, key, value, meta, txt, doc_len, exp, vm, vec, $1::int8,"
    " $1::int8, 'bench' FROM put_tmp"
    " ON CONFLICT (ns, key) DO NOTHING RETURNING id, ns, key";

/* Send items [i, i + m) through `copy_sql`, a COPY ... FROM STDIN
 * (FORMAT binary), inside the caller's transaction; `b` is the reused
 * buffer. A `full` row is put_tmp's nine columns (ns, key, value, meta,
 * text, doc_len, expires, vec_model, vec); otherwise the peer's five (ns,
 * key, value, text, vec). */
static void copy_rows(PGconn *c, const char *copy_sql, wbuf *b, size_t i,
                      size_t m, int full)
{
    static const char head[19] = "PGCOPY\n\377\r\n\0\0\0\0\0\0\0\0\0";
    PGresult *r = PQexec(c, copy_sql);
    if (PQresultStatus(r) != PGRES_COPY_IN)
        die("COPY", PQerrorMessage(c));
    PQclear(r);
    b->len = 0;
    wb_add(b, head, sizeof head);
    for (size_t j = i; j < i + m; j++) {
        wb_be(b, full ? 9 : 5, 2);
        wb_field(b, ENC_NS, ENC_NS_LEN);
        wb_field(b, bench_keys[j], strlen(bench_keys[j]));
        wb_field(b, bench_vals[j], strlen(bench_vals[j]));
        if (full)
            wb_field(b, "{}", 2);
        wb_field(b, bench_texts[j], strlen(bench_texts[j]));
        if (full) {
            wb_be(b, 8, 4);
            wb_be(b, doc_words(bench_texts[j]), 8);
            wb_be(b, UINT32_MAX, 4); /* expires: NULL */
            wb_field(b, MODEL, strlen(MODEL));
        }
        wb_field(b, bench_vecs + j * BENCH_DIM, BENCH_DIM * sizeof(float));
    }
    wb_be(b, 0xffff, 2);
    if (PQputCopyData(c, b->p, (int)b->len) != 1 ||
        PQputCopyEnd(c, NULL) != 1)
        die("COPY", PQerrorMessage(c));
    while ((r = PQgetResult(c)) != NULL) {
        if (PQresultStatus(r) != PGRES_COMMAND_OK)
            die("COPY", PQerrorMessage(c));
        PQclear(r);
    }
}

static void way_copy(PGconn *c, size_t from, size_t to)
{
    wbuf b = { 0 };
    for (size_t i = from; i < to; i += BATCH) {
        size_t m = to - i < BATCH ? to - i : BATCH;
        run(c, "BEGIN");
        copy_rows(c, "COPY put_tmp FROM STDIN (FORMAT binary)", &b, i, m, 1);
        char now[8];
        for (int k = 0; k < 8; k++)
            now[k] = (char)(k == 7);
        const char *v[1] = { now };
        int len[1] = { 8 }, fmt[1] = { 1 };
        PGresult *r = PQexecPrepared(c, "copy_ins", 1, v, len, fmt, 1);
        if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != (int)m)
            die("copy insert", PQerrorMessage(c));
        PQclear(r);
        run(c, "COMMIT");
    }
    free(b.p);
}

static const char *const ROW_INSERT =
    "INSERT INTO items(ns, key, value, meta, text, doc_len,"
    " vec_model, vec, created_ms, updated_ms, add_actor) VALUES ($1::bytea,"
    " $2::bytea, $3::text, '{}', $4::text, $5::int8, $6::text, $7::bytea,"
    " 1, 1, 'bench') ON CONFLICT (ns, key)"
    " DO NOTHING RETURNING id";

static void way_rows(PGconn *c, size_t from, size_t to)
{
    if (PQenterPipelineMode(c) != 1)
        die("pipeline", PQerrorMessage(c));
    for (size_t i = from; i < to; i += BATCH) {
        size_t m = to - i < BATCH ? to - i : BATCH;
        char dl[BATCH][8];
        if (PQsendQueryParams(c, "BEGIN", 0, NULL, NULL, NULL, NULL, 1) != 1)
            die("pipeline", PQerrorMessage(c));
        for (size_t j = i; j < i + m; j++) {
            uint64_t w = doc_words(bench_texts[j]);
            for (int k = 0; k < 8; k++)
                dl[j - i][k] = (char)(w >> (56 - 8 * k));
            const char *v[7] = { ENC_NS, bench_keys[j], bench_vals[j],
                                 bench_texts[j],
                                 dl[j - i], MODEL,
                                 (const char *)(bench_vecs + j * BENCH_DIM) };
            int len[7] = { ENC_NS_LEN, (int)strlen(bench_keys[j]),
                           (int)strlen(bench_vals[j]),
                           (int)strlen(bench_texts[j]), 8,
                           (int)strlen(MODEL), BENCH_DIM * sizeof(float) };
            int fmt[7] = { 1, 1, 1, 1, 1, 1, 1 };
            if (PQsendQueryPrepared(c, "row_ins", 7, v, len, fmt, 1) != 1)
                die("pipeline", PQerrorMessage(c));
        }
        if (PQsendQueryParams(c, "COMMIT", 0, NULL, NULL, NULL, NULL, 1) !=
                1 || PQpipelineSync(c) != 1)
            die("pipeline", PQerrorMessage(c));
        /* m + 2 results, each followed by a NULL, then the sync. */
        for (size_t k = 0; k < m + 2; k++) {
            PGresult *r = PQgetResult(c);
            ExecStatusType es = PQresultStatus(r);
            if (es != PGRES_COMMAND_OK && es != PGRES_TUPLES_OK)
                die("pipeline", PQerrorMessage(c));
            PQclear(r);
            if ((r = PQgetResult(c)) != NULL)
                die("pipeline", "more results than statements");
        }
        PGresult *r = PQgetResult(c);
        if (PQresultStatus(r) != PGRES_PIPELINE_SYNC)
            die("pipeline", "no sync");
        PQclear(r);
    }
    if (PQexitPipelineMode(c) != 1)
        die("pipeline", PQerrorMessage(c));
}

/* bench_pg's plain-libpq peer: COPY (binary here) into a table with
 * only the unique key and the full-text index (default GIN settings), no
 * history. */
static void way_peer(PGconn *c, size_t from, size_t to)
{
    wbuf b = { 0 };
    for (size_t i = from; i < to; i += BATCH) {
        size_t m = to - i < BATCH ? to - i : BATCH;
        run(c, "BEGIN");
        copy_rows(c, "COPY peer(ns, key, value, text, vec) FROM STDIN"
                  " (FORMAT binary)", &b, i, m, 0);
        run(c, "COMMIT");
    }
    free(b.p);
}

/* ---- Two writers ---- */

typedef struct half {
    am_store *s;   /* store2 */
    PGconn *c;     /* peer2 */
    size_t from, to;
} half;

static void *half_store(void *arg)
{
    half *h = arg;
    way_store(h->s, h->from, h->to);
    return NULL;
}

static void *half_peer(void *arg)
{
    half *h = arg;
    way_peer(h->c, h->from, h->to);
    return NULL;
}

/* Items [0, n) written by two threads, each half through its own handle
 * (store2) or connection (peer2). */
static void two_writers(half h[2], size_t n, int peer)
{
    pthread_t t[2];
    h[0].from = 0;
    h[0].to = h[1].from = n / 2;
    h[1].to = n;
    for (int k = 0; k < 2; k++)
        if (pthread_create(&t[k], NULL, peer ? half_peer : half_store,
                           &h[k]) != 0)
            die("two writers", "pthread_create failed");
    for (int k = 0; k < 2; k++)
        pthread_join(t[k], NULL);
}

/* Whether comma-separated `list` names `way`. */
static int listed(const char *list, const char *way)
{
    size_t n = strlen(way);
    for (const char *p = list; *p != '\0';) {
        const char *e = strchr(p, ',');
        size_t len = e != NULL ? (size_t)(e - p) : strlen(p);
        if (len == n && memcmp(p, way, n) == 0)
            return 1;
        p += len + (e != NULL);
    }
    return 0;
}

/* A fresh schema `name` made by the store (its exact tables), and a
 * connection whose search_path is that schema. */
static am_store *fresh(const char *url, const char *name, PGconn *admin,
                       PGconn **conn)
{
    char sql[256], u[1024];
    am_error err = { AM_OK, "" };
    am_store *s = NULL;
    am_store_opts o = am_store_opts_default();
    snprintf(sql, sizeof sql, "DROP SCHEMA IF EXISTS %s CASCADE", name);
    run(admin, sql);
    snprintf(u, sizeof u, "%s%cschema=%s", url,
             strchr(url, '?') != NULL ? '&' : '?', name);
    if (am_store_open(u, &o, &s, &err) != AM_OK)
        die("open", err.msg);
    *conn = PQconnectdb(url);
    if (PQstatus(*conn) != CONNECTION_OK)
        die("connect", PQerrorMessage(*conn));
    snprintf(sql, sizeof sql, "SET search_path = %s", name);
    run(*conn, sql);
    /* The store records its vectors' model on the first put. */
    snprintf(sql, sizeof sql, "INSERT INTO store_meta(k, v) VALUES "
             "('vec_model', '%s/%d') ON CONFLICT DO NOTHING", MODEL,
             BENCH_DIM);
    run(*conn, sql);
    run(*conn, "CREATE TEMP TABLE put_tmp(ns bytea, key bytea, value text,"
               " meta text, txt text, doc_len int8, exp int8, vm text,"
               " vec bytea) ON COMMIT DELETE ROWS");
    run(*conn, "CREATE TABLE peer(id bigserial PRIMARY KEY, ns bytea NOT"
               " NULL, key bytea NOT NULL, value text NOT NULL, text text NOT"
               " NULL, tsv tsvector GENERATED ALWAYS AS (to_tsvector("
               "'english', text)) STORED, vec bytea, UNIQUE(ns, key));"
               "CREATE INDEX ON peer USING gin(tsv)");
    /* A name ending in _pkey is its table's primary key. */
    const char *drop = getenv("AM_BENCH_PUT_DROP");
    for (const char *p = drop; p != NULL && *p != '\0';) {
        size_t len = strcspn(p, " ,");
        if (len > 5 && memcmp(p + len - 5, "_pkey", 5) == 0)
            snprintf(sql, sizeof sql, "ALTER TABLE %.*s DROP CONSTRAINT"
                     " %.*s", (int)len - 5, p, (int)len, p);
        else
            snprintf(sql, sizeof sql, "DROP INDEX %.*s", (int)len, p);
        if (len > 0)
            run(*conn, sql);
        p += len + (p[len] != '\0');
    }
    prepare(*conn, "copy_ins", COPY_INSERT);
    prepare(*conn, "row_ins", ROW_INSERT);
    return s;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: bench_pg_put URL [ITEMS] [ROUNDS]\n");
        return 2;
    }
    const char *url = argv[1];
    size_t n = argc > 2 ? (size_t)atol(argv[2]) : 50000;
    int rounds = argc > 3 ? atoi(argv[3]) : 2;
    static const char *const names[NWAYS] = { "store", "copy", "rows",
                                              "peer", "gin4m", "gin1k",
                                              "gin64k", "store2", "peer2" };
    double best[NWAYS], cpu[NWAYS];

    if (n == 0 || rounds <= 0)
        die("arguments", "ITEMS and ROUNDS must be positive");
    for (int w = 0; w < NWAYS; w++) {
        best[w] = 0;
        cpu[w] = 1e30;
    }
    bench_make_vocab();
    bench_make_items(n);
    PGconn *admin = PQconnectdb(url);
    if (PQstatus(admin) != CONNECTION_OK)
        die("connect", PQerrorMessage(admin));
    run(admin, "SET client_min_messages = warning");
    const char *only = getenv("AM_BENCH_PUT_WAYS");
    const char *drop = getenv("AM_BENCH_PUT_DROP");
    printf("# bench_pg_put: %zu items per way and round, batches of %d, "
           "%d rounds; indexes dropped: %s\n", n, BATCH, rounds,
           drop != NULL && *drop != '\0' ? drop : "none");
    for (int round = 0; round < rounds; round++) {
        for (int w = 0; w < NWAYS; w++) {
            if (only != NULL && !listed(only, names[w]))
                continue;
            PGconn *c = NULL;
            char schema[64], u2sql[128];
            snprintf(schema, sizeof schema, "put_%s", names[w]);
            am_store *s = fresh(url, schema, admin, &c);
            /* The server process doing the work: the store's own
             * connection (the newest "agentmem" one) or ours. */
            int pid = PQbackendPID(c);
            if (w == 4 || w == 5)
                run(c, "ALTER INDEX items_tsv SET (gin_pending_list_limit"
                       " = 4096)");
            if (w == 6)
                run(c, "ALTER INDEX items_tsv SET (gin_pending_list_limit"
                       " = 64)");
            /* The second writer of store2 (a handle) or peer2 (a
             * connection), and its server process. */
            half h[2] = { { s, c, 0, 0 }, { NULL, NULL, 0, 0 } };
            int pid3 = 0;
            if (w == 7) {
                char u[1024];
                am_error err = { AM_OK, "" };
                snprintf(u, sizeof u, "%s%cschema=%s", url,
                         strchr(url, '?') != NULL ? '&' : '?', schema);
                if (am_store_open(u, NULL, &h[1].s, &err) != AM_OK)
                    die("open", err.msg);
            }
            if (w == 8) {
                h[1].c = PQconnectdb(url);
                if (PQstatus(h[1].c) != CONNECTION_OK)
                    die("connect", PQerrorMessage(h[1].c));
                snprintf(u2sql, sizeof u2sql, "SET search_path = %s",
                         schema);
                run(h[1].c, u2sql);
                pid3 = PQbackendPID(h[1].c);
            }
            if (w == 0 || (w >= 4 && w != 8)) {
                PGresult *r = PQexec(admin, "SELECT pid FROM "
                                     "pg_stat_activity WHERE application_name"
                                     " = 'agentmem' ORDER BY backend_start"
                                     " DESC LIMIT 2");
                if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) < 1)
                    die("store's server process", PQerrorMessage(admin));
                pid = atoi(PQgetvalue(r, 0, 0));
                if (w == 7 && PQntuples(r) == 2)
                    pid3 = atoi(PQgetvalue(r, 1, 0));
                PQclear(r);
            }
            int pid2 = PQbackendPID(c);
            double t0 = now_s(), c0 = bench_cpu_s();
            double s0 = bench_proc_cpu_s(pid);
            if (pid2 != pid)
                s0 += bench_proc_cpu_s(pid2);
            if (pid3 != 0)
                s0 += bench_proc_cpu_s(pid3);
            if (w == 0 || w == 6) { /* the store's puts, lists merged */
                way_store(s, 0, n);
                run(c, "SELECT gin_clean_pending_list('items_tsv'),"
                       " gin_clean_pending_list('items_metaj')");
            }
            else if (w == 1)
                way_copy(c, 0, n);
            else if (w == 2)
                way_rows(c, 0, n);
            else if (w == 3)
                way_peer(c, 0, n);
            if (w == 4) { /* the store's puts, then the list merged */
                way_store(s, 0, n);
                run(c, "SELECT gin_clean_pending_list('items_tsv')");
            }
            if (w == 5) /* the list merged after each batch */
                way_store_clean(s, c, 0, n);
            if (w == 7 || w == 8) {
                two_writers(h, n, w == 8);
                if (w == 7)
                    run(c, "SELECT gin_clean_pending_list('items_tsv'),"
                           " gin_clean_pending_list('items_metaj')");
            }
            double rate = (double)n / (now_s() - t0);
            double s1 = bench_proc_cpu_s(pid) +
                        (pid2 != pid ? bench_proc_cpu_s(pid2) : 0) +
                        (pid3 != 0 ? bench_proc_cpu_s(pid3) : 0);
            double cl = (bench_cpu_s() - c0) / (double)n * 1e6;
            double us = cl + (s1 - s0) / (double)n * 1e6;
            printf("# round %d %-5s %9.0f items/s  %7.1f us CPU per item "
                   "(client %.1f + server %.1f)\n", round + 1, names[w], rate,
                   us, cl, us - cl);
            fflush(stdout);
            if (rate > best[w])
                best[w] = rate;
            if (us < cpu[w])
                cpu[w] = us;
            PQfinish(c);
            PQfinish(h[1].c);
            am_store_close(s);
            am_store_close(h[1].s);
            snprintf(schema, sizeof schema, "DROP SCHEMA put_%s CASCADE",
                     names[w]);
            run(admin, schema);
        }
    }
    for (int w = 0; w < NWAYS; w++)
        if (only == NULL || listed(only, names[w]))
            printf("%-5s %9.0f items/s  %7.1f us CPU per item\n", names[w],
                   best[w], cpu[w]);
    PQfinish(admin);
    return 0;
}
