/* bench_pg.c -- speed of the PostgreSQL backend against plain libpq and
 * against the SQLite backend.
 *
 *   bench_pg URL [ITEMS] [CATCHUP] [DIR]
 *       URL      a PostgreSQL database (postgresql://...); bench/run_pg.sh
 *                starts a throwaway server (tests/pg_run.sh) and passes it
 *       ITEMS    items loaded (default 100000)
 *       CATCHUP  items another instance writes before the cache catch-up
 *                is timed (default 10000; 3 rounds, median)
 *       DIR      where the SQLite database goes (default /tmp)
 *
 * Items are 8-word Zipf texts over a 5,000-word vocabulary with a 128-d
 * unit vector each (the same data for every side, vectors given with the
 * item, so no embedder runs). For each operation three figures: the
 * PostgreSQL backend ("ours"), plain libpq with hand-written SQL on a
 * table of the same shape ("libpq": COPY in batches, and for puts also
 * the same rows our put writes (a new row's "add" event inside it, as
 * schema 6 keeps it), in the store's own table shapes (raw_put_same); a prepared point
 * SELECT; a tsvector @@ query ranked by ts_rank LIMIT 10, and our BM25
 * search as one hand-written statement (raw_bm25_lat); the changed rows
 * fetched by id, and by change stamp as ours reads them
 * (same_catchup), each read by a second connection, another instance's,
 * as ours is), and the SQLite backend. Hybrid search has no libpq
 * column: plain PostgreSQL 15 has no vector search (no pgvector in
 * Debian 12), which is why the store ranks vectors in the client.
 * Search figures take 200 queries, or as many as ran in 30 seconds (at
 * least 20; "#" lines say how many); AM_BENCH_PG_SEARCH_S sets those
 * seconds, and 0 skips the search figures (puts, gets and the catch-up
 * only); AM_BENCH_PG_MIN_QUERIES sets the least (at a million items 20
 * common-word queries take minutes per figure). AM_BENCH_PG_GIN_KB sets
 * the store's full-text pending list (gin_pending_list_limit, kB) before
 * the load, to compare it with the schema's (256 since version 5).
 * Fixed seeds; `name items value unit` lines.
 */
#include <libpq-fe.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "agentmem/store.h"
#include "bench_corpus.h"
#include "bench_cpu.h"

#define BATCH 1000
/* Rounds of the cache catch-up figure (its median). */
#define CU_ROUNDS 3
/* Gets timed, and queries per search figure at most. */
enum { NGET = 5000, NQ = 200 };

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double pct(double *v, size_t n, double p)
{
    qsort(v, n, sizeof *v, cmp_d);
    return v[(size_t)(p * (double)(n - 1))];
}

static void die(const char *what, const char *msg)
{
    fprintf(stderr, "bench_pg: %s: %s\n", what, msg);
    exit(1);
}

static const am_str ns_part[] = { { "bench", 5 } };
static const am_ns NS = { ns_part, 1 };
/* Holds nothing: the catch-up searches it (see main). */
static const am_str none_part[] = { { "bench-none", 10 } };
static const am_ns NS_NONE = { none_part, 1 };

/* ---- agentmem (either backend) ---- */

static double put_all(am_store *s, size_t from, size_t to)
{
    double t0 = now_ms();
    if (bench_put_items(s, NS, from, to) != AM_OK)
        die("put", am_store_last_error(s)->msg);
    return now_ms() - t0;
}

static void get_lat(am_store *s, size_t n, int count, double *lat)
{
    am_buf out = AM_BUF_INIT;
    for (int i = 0; i < count; i++) {
        size_t k = (size_t)(bench_next() % n);
        double t0 = now_ms();
        if (am_store_get(s, NS, am_str_c(bench_keys[k]), &out) != AM_OK)
            die("get", am_store_last_error(s)->msg);
        lat[i] = now_ms() - t0;
    }
    am_buf_free(&out);
}

/* A search figure stops after this many ms of queries (at least
 * min_queries of them): at a million items a common-word query takes
 * seconds, and 200 of them on three sides made the run hours long. */
static int min_queries = 20; /* AM_BENCH_PG_MIN_QUERIES */
static double query_budget_ms = 30000.0; /* AM_BENCH_PG_SEARCH_S */

/* Run up to `count` searches; returns how many ran (lat[0..that)). */
static int search_lat(am_store *s, char (*qs)[64], int count,
                      am_search_mode mode, double *lat)
{
    float qv[BENCH_DIM];
    double start = now_ms();
    for (int i = 0; i < count; i++) {
        if (i >= min_queries && now_ms() - start > query_budget_ms)
            return i;
        am_results *r = NULL;
        bench_make_vec(qv);
        am_search q = { .ns = NS, .query = am_str_c(qs[i]), .mode = mode,
                        .limit = 10 };
        if (mode != AM_SEARCH_TEXT) {
            q.vec = qv;
            q.dim = BENCH_DIM;
        }
        double t0 = now_ms();
        if (am_store_search(s, &q, &r) != AM_OK)
            die("search", am_store_last_error(s)->msg);
        lat[i] = now_ms() - t0;
        am_results_free(r);
    }
    return count;
}

/* One vector search of the empty namespace: ms of wall time, *cpu_ms
 * of this process's CPU. */
static double none_search(am_store *s, double *cpu_ms)
{
    float qv[BENCH_DIM];
    am_results *r = NULL;
    bench_make_vec(qv);
    am_search q = { .ns = NS_NONE, .mode = AM_SEARCH_VECTOR, .limit = 10,
                    .vec = qv, .dim = BENCH_DIM };
    double c0 = bench_cpu_s(), t0 = now_ms();
    if (am_store_search(s, &q, &r) != AM_OK)
        die("search", am_store_last_error(s)->msg);
    double t = now_ms() - t0;
    *cpu_ms = (bench_cpu_s() - c0) * 1e3;
    am_results_free(r);
    return t;
}

/* ---- Plain libpq ---- */

static void run(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_COMMAND_OK &&
        PQresultStatus(r) != PGRES_TUPLES_OK)
        die(sql, PQerrorMessage(c));
    PQclear(r);
}

static void raw_schema(PGconn *c)
{
    run(c, "DROP SCHEMA IF EXISTS bench_raw CASCADE");
    run(c, "CREATE SCHEMA bench_raw");
    run(c, "CREATE TABLE bench_raw.items(id bigserial PRIMARY KEY,"
           " ns bytea NOT NULL, key bytea NOT NULL, value text NOT NULL,"
           " text text NOT NULL, tsv tsvector GENERATED ALWAYS AS"
           " (to_tsvector('english', text)) STORED, vec bytea,"
           " UNIQUE(ns, key))");
    run(c, "CREATE INDEX ON bench_raw.items USING gin(tsv)");
}

/* COPY rows [from, to) in batches of BATCH, one transaction each. */
static double raw_put(PGconn *c, size_t from, size_t to)
{
    static char line[128 + 160 + 2 * BENCH_DIM * 4 + 64];
    double t0 = now_ms();
    for (size_t i = from; i < to; i += BATCH) {
        size_t m = to - i < BATCH ? to - i : BATCH;
        run(c, "BEGIN");
        PGresult *cr = PQexec(c, "COPY bench_raw.items(ns, key, value,"
                              " text, vec) FROM STDIN");
        if (PQresultStatus(cr) != PGRES_COPY_IN)
            die("COPY", PQerrorMessage(c));
        PQclear(cr);
        for (size_t j = i; j < i + m; j++) {
            /* Texts and values hold no tab, newline or backslash. */
            int o = snprintf(line, sizeof line, "\\\\x62656e6368\t%s\t%s\t%s\t"
                             "\\\\x", bench_keys[j], bench_vals[j],
                             bench_texts[j]);
            const unsigned char *b =
                (const unsigned char *)(bench_vecs + j * BENCH_DIM);
            for (size_t k = 0; k < BENCH_DIM * sizeof(float); k++)
                o += snprintf(line + o, sizeof line - (size_t)o, "%02x", b[k]);
            line[o++] = '\n';
            if (PQputCopyData(c, line, o) != 1)
                die("COPY", PQerrorMessage(c));
        }
        if (PQputCopyEnd(c, NULL) != 1)
            die("COPY end", PQerrorMessage(c));
        PGresult *r;
        while ((r = PQgetResult(c)) != NULL) {
            if (PQresultStatus(r) != PGRES_COMMAND_OK)
                die("COPY", PQerrorMessage(c));
            PQclear(r);
        }
        run(c, "COMMIT");
    }
    return now_ms() - t0;
}

/* The same rows our put writes, as hand-written SQL would write them:
 * the store's own table shapes (copied with LIKE: tsv generated from text
 * (schema 7) and its GIN index, doc_len, the metaj column and its GIN
 * index, chg, the partial indexes) with each row's "add" event in the row
 * (add_actor, as the store since schema 6: no history row for a new key);
 * per batch one transaction of one COPY straight into items, as ours
 * sends a batch of new keys. The bare COPY above writes none of the
 * history, chg, metaj or doc_len. */
static void same_schema(PGconn *c)
{
    run(c, "DROP SCHEMA IF EXISTS bench_same CASCADE");
    run(c, "CREATE SCHEMA bench_same");
    run(c, "CREATE TABLE bench_same.items (LIKE agentmem.items INCLUDING"
           " ALL)");
    run(c, "CREATE TABLE bench_same.item_history (LIKE"
           " agentmem.item_history INCLUDING ALL)");
}

static double raw_put_same(PGconn *c, size_t from, size_t to)
{
    static char line[128 + 160 + 2 * BENCH_DIM * 4 + 128];
    double t0 = now_ms();
    long long at = (long long)time(NULL) * 1000;
    for (size_t i = from; i < to; i += BATCH) {
        size_t m = to - i < BATCH ? to - i : BATCH;
        run(c, "BEGIN");
        PGresult *cr = PQexec(c, "COPY bench_same.items(ns, key, value, meta,"
                              " text, doc_len, created_ms, updated_ms,"
                              " add_actor, vec_model, vec) FROM STDIN");
        if (PQresultStatus(cr) != PGRES_COPY_IN)
            die("COPY", PQerrorMessage(c));
        PQclear(cr);
        for (size_t j = i; j < i + m; j++) {
            int words = 1;
            for (const char *t = bench_texts[j]; *t != '\0'; t++)
                words += *t == ' ';
            /* The namespace as the store encodes it ("bench" + 0x1f). */
            int o = snprintf(line, sizeof line, "\\\\x62656e63681f\t%s\t%s\t"
                             "{}\t%s\t%d\t%lld\t%lld\tbench\tcaller\t\\\\x",
                             bench_keys[j], bench_vals[j], bench_texts[j],
                             words, at, at);
            const unsigned char *b =
                (const unsigned char *)(bench_vecs + j * BENCH_DIM);
            for (size_t k = 0; k < BENCH_DIM * sizeof(float); k++)
                o += snprintf(line + o, sizeof line - (size_t)o, "%02x", b[k]);
            line[o++] = '\n';
            if (PQputCopyData(c, line, o) != 1)
                die("COPY", PQerrorMessage(c));
        }
        if (PQputCopyEnd(c, NULL) != 1)
            die("COPY end", PQerrorMessage(c));
        PGresult *r;
        while ((r = PQgetResult(c)) != NULL) {
            if (PQresultStatus(r) != PGRES_COMMAND_OK ||
                strtoul(PQcmdTuples(r), NULL, 10) != m)
                die("COPY", PQerrorMessage(c));
            PQclear(r);
        }
        run(c, "COMMIT");
    }
    return now_ms() - t0;
}

static void raw_get_lat(PGconn *c, size_t n, int count, double *lat)
{
    PGresult *r = PQprepare(c, "get", "SELECT value FROM bench_raw.items"
                            " WHERE ns = $1::bytea AND key = $2::bytea", 2,
                            NULL);
    if (PQresultStatus(r) != PGRES_COMMAND_OK)
        die("prepare", PQerrorMessage(c));
    PQclear(r);
    for (int i = 0; i < count; i++) {
        size_t k = (size_t)(bench_next() % n);
        const char *v[2] = { "bench", bench_keys[k] };
        int len[2] = { 5, (int)strlen(bench_keys[k]) }, fmt[2] = { 1, 1 };
        double t0 = now_ms();
        r = PQexecPrepared(c, "get", 2, v, len, fmt, 1);
        if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1)
            die("get", PQerrorMessage(c));
        PQclear(r);
        lat[i] = now_ms() - t0;
    }
}

static int raw_fts_lat(PGconn *c, char (*qs)[64], int count, double *lat)
{
    double start = now_ms();
    static int prepared;
    PGresult *r;
    if (!prepared) {
        /* The words OR-ed, as the store asks (any word matches). */
        r = PQprepare(c, "fts", "SELECT id, ts_rank(tsv, q) AS rk FROM"
                      " bench_raw.items, to_tsquery('english', replace("
                      "plainto_tsquery('english', $1)::text, '&', '|')) q"
                      " WHERE tsv @@ q ORDER BY rk DESC LIMIT 10", 1, NULL);
        if (PQresultStatus(r) != PGRES_COMMAND_OK)
            die("prepare", PQerrorMessage(c));
        PQclear(r);
        prepared = 1;
    }
    for (int i = 0; i < count; i++) {
        if (i >= min_queries && now_ms() - start > query_budget_ms)
            return i;
        const char *v[1] = { qs[i] };
        double t0 = now_ms();
        r = PQexecPrepared(c, "fts", 1, v, NULL, NULL, 1);
        if (PQresultStatus(r) != PGRES_TUPLES_OK)
            die("fts", PQerrorMessage(c));
        PQclear(r);
        lat[i] = now_ms() - t0;
    }
    return count;
}

/* The store's full-text search as one hand-written statement on the
 * same rows in the store's table shapes (bench_same): the query's
 * lexemes (to_tsvector, at most 64), each one's rows in the scope
 * counted up to 1,501, the most frequent dropped while they match more
 * than 1,500 rows together (the rarest stays), BM25 (k1 1.2, b 0.75,
 * FTS5's IDF) from each matching row's positions and doc_len, the 10 best
 * live rows with their key, value and metadata. N and the average length
 * come in as $2 and $3, counted once before (the store keeps them too);
 * the scope is the store's encoding of "bench". */
static const char *const BM25_PEER =
    "WITH q AS (SELECT lexeme AS lex, (chr(39) || replace(replace(lexeme,"
    " chr(92), chr(92) || chr(92)), chr(39), chr(39) || chr(39)) ||"
    " chr(39))::tsquery AS tq FROM unnest(to_tsvector('english', $1))"
    " ORDER BY lexeme LIMIT 64),"
    " d AS MATERIALIZED (SELECT lex, tq, (SELECT count(*) FROM (SELECT 1"
    " FROM bench_same.items WHERE tsv @@ q.tq AND ns >= '\\x62656e63681f'"
    " AND ns < '\\x62656e636820' LIMIT 1501) a) AS df FROM q),"
    " k AS (SELECT lex, tq, df, row_number() OVER (ORDER BY df, lex) AS rn,"
    " sum(df) OVER (ORDER BY df, lex) AS cum, sum(df) OVER () AS total"
    " FROM d),"
    " t AS MATERIALIZED (SELECT lex, tq, ln(1 + (greatest($2::float8, df)"
    " - df + 0.5) / (df + 0.5)) AS idf FROM k WHERE total <= 1500 OR"
    " rn = 1 OR cum <= 1500),"
    " top AS (SELECT i.id, sum(t.idf * (c.tf * 2.2) / (c.tf + 1.2 * (0.25"
    " + 0.75 * i.doc_len / $3::float8)))::float8 AS sc"
    " FROM bench_same.items i CROSS JOIN LATERAL unnest(i.tsv) u"
    " JOIN t ON t.lex = u.lexeme CROSS JOIN LATERAL (SELECT coalesce("
    "array_length(u.positions, 1), 1)::float8 AS tf) c"
    " WHERE i.tsv @@ (SELECT string_agg(tq::text, ' | ')::tsquery FROM t)"
    " AND i.ns >= '\\x62656e63681f' AND i.ns < '\\x62656e636820' AND"
    " i.deleted_ms IS NULL AND (i.expires_ms IS NULL OR i.expires_ms >"
    " $4::int8) GROUP BY i.id ORDER BY sc DESC, i.id LIMIT 10)"
    " SELECT i.id, i.ns, i.key, i.value, i.meta, i.created_ms,"
    " i.updated_ms, top.sc FROM top JOIN bench_same.items i ON i.id ="
    " top.id ORDER BY top.sc DESC, i.id";

static int raw_bm25_lat(PGconn *c, char (*qs)[64], int count, double *lat)
{
    static int prepared;
    static char n_rows[32], avgdl[32];
    double start = now_ms();
    PGresult *r;
    if (!prepared) {
        r = PQprepare(c, "bm25", BM25_PEER, 4, NULL);
        if (PQresultStatus(r) != PGRES_COMMAND_OK)
            die("prepare bm25", PQerrorMessage(c));
        PQclear(r);
        r = PQexec(c, "SELECT count(*), avg(doc_len)::float8 FROM"
                   " bench_same.items WHERE ns >= '\\x62656e63681f' AND"
                   " ns < '\\x62656e636820'");
        if (PQresultStatus(r) != PGRES_TUPLES_OK)
            die("bm25 statistics", PQerrorMessage(c));
        snprintf(n_rows, sizeof n_rows, "%s", PQgetvalue(r, 0, 0));
        snprintf(avgdl, sizeof avgdl, "%s", PQgetvalue(r, 0, 1));
        PQclear(r);
        prepared = 1;
    }
    char now[32];
    snprintf(now, sizeof now, "%lld", (long long)time(NULL) * 1000);
    for (int i = 0; i < count; i++) {
        if (i >= min_queries && now_ms() - start > query_budget_ms)
            return i;
        const char *v[4] = { qs[i], n_rows, avgdl, now };
        double t0 = now_ms();
        r = PQexecPrepared(c, "bm25", 4, v, NULL, NULL, 1);
        if (PQresultStatus(r) != PGRES_TUPLES_OK)
            die("bm25", PQerrorMessage(c));
        PQclear(r);
        lat[i] = now_ms() - t0;
    }
    return count;
}

/* The store's catch-up as hand-written SQL on bench_same (the store's
 * table shapes, its change stamps and their index): the rows stamped at
 * or after the `xmin` of the previous read, with the new snapshot's xmin,
 * in one statement, each vector copied into a plain float array as a
 * cache would (no quantization, no tombstones, no id order): at `ids`
 * and `cache`, room for `cap` rows that the caller keeps, as a cache
 * keeps its rows. A scratch array freed after each read would hand the
 * next read pages already mapped, which no cache that keeps its rows
 * gets: on this machine's VM the first write to a page costs ~13 us
 * (docs/BENCHMARKS.md), most of a catch-up's client CPU. */
static double same_catchup(PGconn *c, const char *xmin, int *rows,
                           int64_t *ids, float *cache, size_t cap)
{
    const char *v[1] = { xmin };
    double t0 = now_ms();
    PGresult *r = PQexecParams(c, "SELECT id, ns, expires_ms, vec,"
                               " pg_snapshot_xmin(pg_current_snapshot())"
                               "::text FROM bench_same.items WHERE chg >="
                               " $1::xid8", 1, NULL, v, NULL, NULL, 1);
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        die("catch-up", PQerrorMessage(c));
    *rows = PQntuples(r);
    if ((size_t)*rows > cap)
        die("catch-up", "more rows than the peer's cache has room for");
    for (int i = 0; i < *rows; i++) {
        const unsigned char *p = (const unsigned char *)PQgetvalue(r, i, 0);
        uint64_t id = 0;
        for (int k = 0; k < 8; k++)
            id = id << 8 | p[k];
        ids[i] = (int64_t)id;
        if (PQgetlength(r, i, 3) == BENCH_DIM * (int)sizeof(float))
            memcpy(cache + (size_t)i * BENCH_DIM, PQgetvalue(r, i, 3),
                   BENCH_DIM * sizeof(float));
    }
    PQclear(r);
    return now_ms() - t0;
}

/* What the peer's instance B does before its catch-ups, as ours does on
 * its first search: every vector of bench_same read once (one row at a
 * time, so a million rows are never one result; the rows are dropped:
 * only the catch-ups are timed, see main). */
static void same_load(PGconn *c)
{
    if (!PQsendQueryParams(c, "SELECT id, ns, expires_ms, vec FROM"
                           " bench_same.items WHERE vec IS NOT NULL AND"
                           " deleted_ms IS NULL", 0, NULL, NULL, NULL, NULL,
                           1) ||
        !PQsetSingleRowMode(c))
        die("load", PQerrorMessage(c));
    PGresult *r;
    while ((r = PQgetResult(c)) != NULL) {
        ExecStatusType st = PQresultStatus(r);
        if (st != PGRES_SINGLE_TUPLE && st != PGRES_TUPLES_OK)
            die("load", PQerrorMessage(c));
        PQclear(r);
    }
}

/* The snapshot xmin of now, as text (where a catch-up starts from). */
static void snapshot_xmin(PGconn *c, char *out, size_t cap)
{
    PGresult *r = PQexec(c, "SELECT pg_snapshot_xmin(pg_current_snapshot())"
                         "::text");
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        die("xmin", PQerrorMessage(c));
    snprintf(out, cap, "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
}

/* Fetch the rows with id > `after` (what a cache catching up reads). */
static double raw_catchup(PGconn *c, long long after, int *rows)
{
    char arg[32];
    snprintf(arg, sizeof arg, "%lld", after);
    const char *v[1] = { arg };
    double t0 = now_ms();
    PGresult *r = PQexecParams(c, "SELECT id, ns, vec FROM bench_raw.items"
                               " WHERE id > $1::bigint", 1, NULL, v, NULL,
                               NULL, 1);
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        die("catch-up", PQerrorMessage(c));
    *rows = PQntuples(r);
    PQclear(r);
    return now_ms() - t0;
}

/* ---- Main ---- */



static void line3(const char *name, size_t n, double ours, double raw,
                  double lite, const char *unit_)
{
    printf("%-18s %7zu  ours %9.3f  libpq ", name, n, ours);
    if (raw > 0)
        printf("%9.3f", raw);
    else
        printf("%9s", "n/a");
    printf("  sqlite %9.3f  %s", lite, unit_);
    /* One reading for every line: our time over libpq's (above 1: we
     * are slower), so a rate is inverted. */
    if (raw > 0) {
        size_t ul = strlen(unit_);
        bool rate = ul >= 2 && strcmp(unit_ + ul - 2, "/s") == 0;
        printf("  (ours/libpq time %.2fx)", rate ? raw / ours : ours / raw);
    }
    printf("\n");
}

/* How many queries a search figure took (fewer than asked when the time
 * budget ran out). */
static void queries(const char *name, int ours, int raw, int lite)
{
    printf("#   %s: %d queries ours, %d libpq, %d sqlite\n", name, ours, raw,
           lite);
}

/* CPU seconds of this process and of server process `pid` (0: none). */
static double cpu_with(int pid)
{
    return bench_cpu_s() + (pid > 0 ? bench_proc_cpu_s(pid) : 0);
}

/* One full-text figure: our search, the two libpq peers and SQLite, in
 * wall time (p50) and in CPU per query of the client plus its server
 * process (far less stretched by a loaded machine than wall time, where
 * every round trip waits for a core). */
static void fts_figure(const char *name, am_store *pg, int pg_pid,
                       am_store *lite, PGconn *c, size_t n, char (*qs)[64],
                       double *a, double *b, double *l)
{
    int raw_pid = PQbackendPID(c);
    double t0 = cpu_with(pg_pid);
    int na = search_lat(pg, qs, NQ, AM_SEARCH_TEXT, a);
    double ours = (cpu_with(pg_pid) - t0) / na * 1e3;
    t0 = cpu_with(raw_pid);
    int nb = raw_fts_lat(c, qs, NQ, b);
    double simple = (cpu_with(raw_pid) - t0) / nb * 1e3;
    double p_simple = pct(b, nb, .5);
    t0 = cpu_with(0);
    int nl = search_lat(lite, qs, NQ, AM_SEARCH_TEXT, l);
    double lcpu = (cpu_with(0) - t0) / nl * 1e3;
    char label[64];
    snprintf(label, sizeof label, "%s p50", name);
    line3(label, n, pct(a, na, .5), p_simple, pct(l, nl, .5), "ms");
    queries(name, na, nb, nl);
    printf("#   libpq column: ts_rank over the words OR-ed (a simpler "
           "ranking than ours)\n");
    t0 = cpu_with(raw_pid);
    nb = raw_bm25_lat(c, qs, NQ, b);
    double same = (cpu_with(raw_pid) - t0) / nb * 1e3;
    snprintf(label, sizeof label, "%s p50 bm25", name);
    line3(label, n, pct(a, na, .5), pct(b, nb, .5), pct(l, nl, .5), "ms");
    printf("#   libpq column: our BM25 search as one hand-written "
           "statement (%d queries)\n", nb);
    snprintf(label, sizeof label, "%s cpu bm25", name);
    line3(label, n, ours, same, lcpu, "ms");
    printf("#   CPU per query, client + server process (ts_rank peer "
           "%.3f ms)\n", simple);
}

/* Full-text and hybrid search, rare and common words, on every side. */
static void search_figures(am_store *pg, int pg_pid, am_store *lite,
                           PGconn *c, size_t n, char (*rare)[64],
                           char (*common)[64], double *a, double *b,
                           double *l)
{
    int na, nl;
    fts_figure("fts rare", pg, pg_pid, lite, c, n, rare, a, b, l);
    fts_figure("fts common", pg, pg_pid, lite, c, n, common, a, b, l);

    na = search_lat(pg, rare, NQ, AM_SEARCH_HYBRID, a);
    nl = search_lat(lite, rare, NQ, AM_SEARCH_HYBRID, l);
    line3("hybrid rare p50", n, pct(a, na, .5), 0, pct(l, nl, .5), "ms");
    queries("hybrid rare", na, 0, nl);
    na = search_lat(pg, common, NQ, AM_SEARCH_HYBRID, a);
    nl = search_lat(lite, common, NQ, AM_SEARCH_HYBRID, l);
    line3("hybrid common p50", n, pct(a, na, .5), 0, pct(l, nl, .5), "ms");
    queries("hybrid common", na, 0, nl);
}

/* The server process of the newest agentmem connection (0: unknown). */
static int store_pid(PGconn *c)
{
    int pid = 0;
    PGresult *r = PQexec(c, "SELECT pid FROM pg_stat_activity WHERE "
                         "application_name = 'agentmem' ORDER BY "
                         "backend_start DESC LIMIT 1");
    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1)
        pid = atoi(PQgetvalue(r, 0, 0));
    PQclear(r);
    return pid;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: bench_pg URL [ITEMS] [CATCHUP] [DIR]\n");
        return 2;
    }
    const char *url = argv[1];
    size_t n = argc > 2 ? (size_t)atol(argv[2]) : 100000;
    size_t nc = argc > 3 ? (size_t)atol(argv[3]) : 10000;
    const char *dir = argc > 4 ? argv[4] : "/tmp";
    static double a[NGET], b[NGET], l[NGET];
    static char rare[NQ][64], common[NQ][64];
    char lite_path[512];
    am_error err = { AM_OK, "" };
    am_store *pg = NULL, *pg2 = NULL, *lite = NULL;

    bench_make_vocab();
    bench_make_items(n + CU_ROUNDS * nc);
    /* Rare: two words from the tail of the Zipf curve (a few dozen rows
     * each at 100,000 items); common: two of the ten most frequent. */
    for (int i = 0; i < NQ; i++) {
        snprintf(rare[i], sizeof rare[i], "%s %s",
                 bench_words[3000 + bench_next() % 2000],
                 bench_words[3000 + bench_next() % 2000]);
        snprintf(common[i], sizeof common[i], "%s %s",
                 bench_words[bench_next() % 10],
                 bench_words[bench_next() % 10]);
    }
    /* Per process: two runs sharing DIR must not share the file. */
    snprintf(lite_path, sizeof lite_path, "%s/bench_pg_sqlite.%ld.db", dir,
             (long)getpid());
    unlink(lite_path);

    PGconn *c = PQconnectdb(url);
    if (PQstatus(c) != CONNECTION_OK)
        die("connect", PQerrorMessage(c));
    run(c, "SET client_min_messages = warning");
    run(c, "DROP SCHEMA IF EXISTS agentmem CASCADE");
    raw_schema(c);
    am_store_opts o = am_store_opts_default();
    if (am_store_open(url, &o, &pg, &err) != AM_OK)
        die("open", err.msg);
    if (am_store_open(lite_path, &o, &lite, &err) != AM_OK)
        die("open", err.msg);

    const char *gin_kb = getenv("AM_BENCH_PG_GIN_KB");
    if (gin_kb != NULL && *gin_kb != '\0') {
        char sql[128];
        int kb = atoi(gin_kb);
        if (kb < 64)
            die("AM_BENCH_PG_GIN_KB", "a size in kB, at least 64");
        snprintf(sql, sizeof sql, "ALTER INDEX agentmem.items_tsv SET"
                 " (gin_pending_list_limit = %d)", kb);
        run(c, sql);
    }
    printf("# bench_pg: %zu items (8 words, %d-d vectors), batches of %d,"
           " full-text pending list %s%s\n", n, BENCH_DIM, BATCH,
           gin_kb != NULL && *gin_kb != '\0' ? gin_kb : "the schema's",
           gin_kb != NULL && *gin_kb != '\0' ? " kB" : "");
    same_schema(c);
    double tp = put_all(pg, 0, n), tr = raw_put(c, 0, n),
           ts = raw_put_same(c, 0, n), tl = put_all(lite, 0, n);
    /* Both tables analyzed alike: right after a bulk load autovacuum has
     * not run yet, and without statistics the planner may scan the
     * namespace range instead of the GIN index. */
    run(c, "ANALYZE bench_raw.items");
    run(c, "ANALYZE agentmem.items");
    run(c, "ANALYZE bench_same.items");
    line3("put", n, n / tp * 1e3, n / tr * 1e3, n / tl * 1e3, "items/s");
    printf("#   libpq column: a bare COPY (no history, chg, metaj, doc_len)\n");
    line3("put (same rows)", n, n / tp * 1e3, n / ts * 1e3, n / tl * 1e3,
          "items/s");
    printf("#   libpq column: the rows our put writes (a new row's history "
           "event in the row), by one COPY per batch straight into the "
           "store's table shape (tsv generated)\n");

    get_lat(pg, n, NGET, a);
    raw_get_lat(c, n, NGET, b);
    get_lat(lite, n, NGET, l);
    line3("get p50", n, pct(a, NGET, .5) * 1e3, pct(b, NGET, .5) * 1e3,
          pct(l, NGET, .5) * 1e3, "us");
    line3("get p99", n, pct(a, NGET, .99) * 1e3, pct(b, NGET, .99) * 1e3,
          pct(l, NGET, .99) * 1e3, "us");

    const char *budget = getenv("AM_BENCH_PG_SEARCH_S");
    if (budget != NULL && *budget != '\0')
        query_budget_ms = atof(budget) * 1e3;
    const char *least = getenv("AM_BENCH_PG_MIN_QUERIES");
    if (least != NULL && atoi(least) > 0)
        min_queries = atoi(least) < NQ ? atoi(least) : NQ;
    if (query_budget_ms > 0)
        search_figures(pg, store_pid(c), lite, c, n, rare, common, a, b,
                       l);
    else
        printf("# search figures skipped (AM_BENCH_PG_SEARCH_S=0)\n");

    /* Cache catch-up: instance B (pg2) has a warm cache; instance A (pg)
     * writes `nc` items; B's next search pays for reading them. B
     * searches a namespace that holds nothing, so the figure is the
     * catch-up, not the exact scan of every cached vector that any search
     * of B pays before and after alike (the namespace test skips the
     * arithmetic, not the walk). Reported: that search minus B's steady
     * search, the median of CU_ROUNDS rounds, and the CPU of the catch-up
     * in this process and in B's server process (/proc). */
    double cu_wall[CU_ROUNDS], cu_cli[CU_ROUNDS], cu_srv[CU_ROUNDS];
    if (am_store_open(url, &o, &pg2, &err) != AM_OK)
        die("open", err.msg);
    int pid2 = store_pid(c);
    search_lat(pg2, rare, 20, AM_SEARCH_VECTOR, a); /* loads in full */
    search_lat(pg2, rare, 20, AM_SEARCH_VECTOR, a);
    double steady = pct(a, 20, .5);
    for (int k = 0; k < CU_ROUNDS; k++) {
        /* The CPU of the search's walk of the cache and of its other
         * statements is subtracted too, here and in the server process:
         * the median of the same 5 searches. */
        double cpu, st[5], stc[5], sts[5];
        for (int i = 0; i < 5; i++) {
            double s0 = pid2 > 0 ? bench_proc_cpu_s(pid2) : 0;
            st[i] = none_search(pg2, &stc[i]);
            sts[i] = pid2 > 0 ? (bench_proc_cpu_s(pid2) - s0) * 1e3 : 0;
        }
        double base = pct(st, 5, .5), base_cpu = pct(stc, 5, .5),
               base_srv = pct(sts, 5, .5);
        put_all(pg, n + (size_t)k * nc, n + (size_t)(k + 1) * nc);
        double s0 = pid2 > 0 ? bench_proc_cpu_s(pid2) : 0;
        cu_wall[k] = none_search(pg2, &cpu) - base;
        cu_cli[k] = cpu - base_cpu;
        cu_srv[k] = pid2 > 0 ? (bench_proc_cpu_s(pid2) - s0) * 1e3 - base_srv
                             : 0;
        printf("#   catch-up round %d: %.1f ms (search %.1f ms before), CPU "
               "%.1f ms here (search %.1f ms before) + %.1f ms server "
               "(search %.1f ms before)\n", k + 1, cu_wall[k], base,
               cu_cli[k], base_cpu, cu_srv[k], base_srv);
    }
    double cu = pct(cu_wall, CU_ROUNDS, .5);
    /* SQLite: another connection's write makes the cache reload in full
     * (PRAGMA data_version); the same measure with two handles, once. */
    am_store *lite2 = NULL;
    if (am_store_open(lite_path, &o, &lite2, &err) != AM_OK)
        die("open", err.msg);
    search_lat(lite2, rare, 20, AM_SEARCH_VECTOR, l);
    search_lat(lite2, rare, 20, AM_SEARCH_VECTOR, l);
    double lsteady = pct(l, 20, .5), lcpu, lbase[5];
    for (int i = 0; i < 5; i++)
        lbase[i] = none_search(lite2, &lcpu);
    double lb = pct(lbase, 5, .5);
    put_all(lite, n, n + nc);
    double lcu = none_search(lite2, &lcpu) - lb;
    /* The peer's instance B: its own connection, as ours has. The
     * writer's connection would read back rows its server process has
     * just written, from shared-buffer pages that process has already
     * mapped; another process maps them on first touch (~13 us a page
     * on this machine's VM, ~20 ms of server CPU per 10,000 rows). */
    PGconn *c2 = PQconnectdb(url);
    if (PQstatus(c2) != CONNECTION_OK)
        die("connect", PQerrorMessage(c2));
    int rows = 0;
    /* B's connection has run statements before (its searches): the
     * peer's reads each statement once first, returning no rows, so the
     * server process has its catalog caches and no data page mapped. */
    raw_catchup(c2, 1LL << 62, &rows);
    raw_put(c, n, n + nc);
    double rcu = raw_catchup(c2, (long long)n, &rows);
    if ((size_t)rows != nc)
        die("catch-up", "libpq read another number of rows");
    line3("cache catch-up", nc, cu, rcu, lcu, "ms");
    printf("#   libpq column: the rows with id > the last, read by another "
           "connection (one buffered result, nothing else)\n");
    /* The same operation as ours: rows by change stamp since the last
     * read's xmin, written by `c`, read by `c2` into an array that keeps
     * them (room for every round, its pages untouched until written, as
     * a growing cache's are); the median of CU_ROUNDS rounds. */
    double scu[CU_ROUNDS], scpu[CU_ROUNDS], ocpu[CU_ROUNDS];
    double scli[CU_ROUNDS], ssrv[CU_ROUNDS];
    size_t pcap = CU_ROUNDS * nc;
    /* Fresh pages (mmap), whatever this process freed before. */
    size_t pbytes = (pcap > 0 ? pcap : 1) * (sizeof(int64_t) +
                                             BENCH_DIM * sizeof(float));
    void *parr = mmap(NULL, pbytes, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (parr == MAP_FAILED)
        die("catch-up", "out of memory");
    float *pvecs = parr;
    int64_t *pids = (int64_t *)(pvecs + (pcap > 0 ? pcap : 1) * BENCH_DIM);
    int spid = PQbackendPID(c2);
    char now_xmin[32];
    same_load(c2);
    snapshot_xmin(c, now_xmin, sizeof now_xmin);
    same_catchup(c2, now_xmin, &rows, pids, pvecs, pcap); /* no rows */
    for (int k = 0; k < CU_ROUNDS; k++) {
        char xmin[32];
        size_t at = (size_t)k * nc;
        snapshot_xmin(c, xmin, sizeof xmin);
        raw_put_same(c, n + (size_t)k * nc, n + (size_t)(k + 1) * nc);
        double c0 = bench_cpu_s(), s0 = bench_proc_cpu_s(spid);
        scu[k] = same_catchup(c2, xmin, &rows, pids + at,
                              pvecs + at * BENCH_DIM, pcap - at);
        scli[k] = (bench_cpu_s() - c0) * 1e3;
        ssrv[k] = (bench_proc_cpu_s(spid) - s0) * 1e3;
        scpu[k] = scli[k] + ssrv[k];
        ocpu[k] = cu_cli[k] + cu_srv[k];
        printf("#   libpq catch-up round %d: %.1f ms, CPU %.1f ms here + "
               "%.1f ms server\n", k + 1, scu[k], scli[k], ssrv[k]);
        if ((size_t)rows != nc)
            die("catch-up", "libpq read another number of rows");
    }
    munmap(parr, pbytes);
    line3("cache catch-up chg", nc, cu, pct(scu, CU_ROUNDS, .5), lcu, "ms");
    printf("#   libpq column: rows by change stamp since the last read, "
           "read by another connection into an array that keeps them "
           "(what ours reads), median of %d\n", CU_ROUNDS);
    line3("cache catch-up cpu", nc, pct(ocpu, CU_ROUNDS, .5),
          pct(scpu, CU_ROUNDS, .5), 0, "ms");
    printf("#   CPU, client + server process, median of %d; no sqlite "
           "figure\n", CU_ROUNDS);
    printf("#   catch-up CPU (median of %d): ours %.1f ms here + %.1f ms in "
           "the server process, libpq %.1f + %.1f ms\n", CU_ROUNDS,
           pct(cu_cli, CU_ROUNDS, .5), pct(cu_srv, CU_ROUNDS, .5),
           pct(scli, CU_ROUNDS, .5), pct(ssrv, CU_ROUNDS, .5));
    printf("# vector search p50 (warm, %zu items): ours %.3f ms, sqlite "
           "%.3f ms\n", n, steady, lsteady);

    am_store_close(lite2);
    am_store_close(pg2);
    am_store_close(pg);
    am_store_close(lite);
    PQfinish(c2);
    PQfinish(c);
    unlink(lite_path);
    return 0;
}
