/* bench_store.c -- speed of the long-term store against raw SQLite.
 *
 *   bench_store [DIR] [ITEMS] [VECTORS]   (defaults: /tmp, 1000000, 100000)
 *
 * Builds ITEMS items (8-word Zipf texts over a 5,000-word vocabulary) in
 * one database with batched puts, then measures get-by-key latency (p50,
 * p99), full-text search latency (2-word queries, top 10), and exact
 * vector search over VECTORS 384-d vectors (top 10). Beside each figure,
 * "raw" is plain SQLite doing the same work with no agentmem layer: one
 * prepared INSERT per row into a table + FTS5 index in one transaction, a
 * prepared point SELECT, an FTS5 MATCH ... ORDER BY rank LIMIT 10 (the
 * same quoted OR query agentmem builds), and a
 * scan of the vector blobs with a dot product in C. Fixed seeds.
 *
 * With AM_BENCH_PUT_ONLY set, it stops after the puts (for profiling
 * and quick comparisons).
 *
 * With AM_BENCH_KEY set, agentmem's two databases are encrypted with that
 * key (encrypt.h; "raw" stays plaintext): the cost of encryption at rest.
 *
 * The search rows also give the median in this thread's CPU time
 * (*_cpu_ms_ours), which a loaded machine disturbs far less than the wall
 * clock: compare builds on those.
 */
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agentmem/store.h"
#include "bench_corpus.h"

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

/* This thread's CPU time: the get figures are also given in it, because
 * on a shared machine the wall clock of a 10 us call mostly measures the
 * other processes (the CPU figure still counts the kernel's page reads). */
static double cpu_us(void)
{
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return (double)t.tv_sec * 1e6 + (double)t.tv_nsec / 1e3;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double pct(double *v, size_t n, double p)
{
    qsort(v, n, sizeof *v, cmp_d);
    size_t i = (size_t)(p * (double)(n - 1));
    return v[i];
}

static void rm_db(const char *path)
{
    char p[600];
    unlink(path);
    snprintf(p, sizeof p, "%s-wal", path);
    unlink(p);
    snprintf(p, sizeof p, "%s-shm", path);
    unlink(p);
}

static void die(const char *what, const char *msg)
{
    fprintf(stderr, "bench_store: %s: %s\n", what, msg);
    exit(1);
}

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : "/tmp";
    size_t nitems = argc > 2 ? (size_t)atol(argv[2]) : 1000000;
    size_t nvec = argc > 3 ? (size_t)atol(argv[3]) : 100000;
    char ours[512], raw[512], vecdb[512];
    const size_t batch = 10000, dim = 384;
    const int ngets = 100000, nfts = 2000, nvq = 20;

    snprintf(ours, sizeof ours, "%s/bench_store_ours.db", dir);
    snprintf(raw, sizeof raw, "%s/bench_store_raw.db", dir);
    snprintf(vecdb, sizeof vecdb, "%s/bench_store_vec.db", dir);
    rm_db(ours);
    rm_db(raw);
    rm_db(vecdb);
    bench_make_vocab();

    /* ---- ours: batched puts ---- */
    am_store *s;
    am_error err = { AM_OK, "" };
    am_store_opts so = am_store_opts_default();
    so.key = am_str_c(getenv("AM_BENCH_KEY"));
    if (am_store_open(ours, &so, &s, &err) != AM_OK)
        die("open", err.msg);
    am_item_in *items = calloc(batch, sizeof *items);
    char (*keys)[24] = calloc(batch, 24);
    char (*vals)[160] = calloc(batch, 160);
    am_str parts[2] = { AM_STR("bench"), { NULL, 0 } };
    char user[16][16];
    am_str nsparts[16][2];
    for (int u = 0; u < 16; u++) {
        snprintf(user[u], sizeof user[u], "user%02d", u);
        nsparts[u][0] = parts[0];
        nsparts[u][1] = am_str_c(user[u]);
    }
    /* ---- raw: the same rows, plain SQLite ---- */
    sqlite3 *db;
    sqlite3_stmt *ins, *fins;
    sqlite3_open(raw, &db);
    sqlite3_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
                     "CREATE TABLE items(id INTEGER PRIMARY KEY, ns BLOB,"
                     " key BLOB, value TEXT, UNIQUE(ns, key));"
                     "CREATE VIRTUAL TABLE fts USING fts5(text,"
                     " tokenize='porter unicode61');",
                 NULL, NULL, NULL);
    sqlite3_prepare_v2(db, "INSERT INTO items(ns, key, value) VALUES "
                           "(?, ?, ?)", -1, &ins, NULL);
    sqlite3_prepare_v2(db, "INSERT INTO fts(rowid, text) VALUES (?, ?)", -1,
                       &fins, NULL);

    /* Batches alternate between agentmem and raw SQLite, on the same
     * generated rows, so that both see the same machine load; only the
     * writes are timed. */
    char (*texts)[120] = calloc(batch, 120);
    double put_ms = 0, raw_put_ms = 0, put_cpu = 0, raw_put_cpu = 0;
    for (size_t done = 0; done < nitems; done += batch) {
        size_t n = nitems - done < batch ? nitems - done : batch;
        for (size_t i = 0; i < n; i++) {
            size_t id = done + i;
            bench_make_text(texts[i], 120, 8);
            snprintf(keys[i], 24, "k%zu", id);
            snprintf(vals[i], 160, "{\"text\":\"%s\"}", texts[i]);
            items[i] = (am_item_in){ .ns = { nsparts[id % 16], 2 },
                                     .key = am_str_c(keys[i]),
                                     .value = am_str_c(vals[i]) };
        }
        double t0 = now_ms(), c0 = cpu_us();
        if (am_store_put_many(s, items, n) != AM_OK)
            die("put", am_store_last_error(s)->msg);
        put_ms += now_ms() - t0;
        put_cpu += cpu_us() - c0;
        t0 = now_ms();
        c0 = cpu_us();
        sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
        for (size_t i = 0; i < n; i++) {
            size_t id = done + i;
            sqlite3_bind_blob(ins, 1, user[id % 16], 6, SQLITE_STATIC);
            sqlite3_bind_blob(ins, 2, keys[i], (int)strlen(keys[i]),
                              SQLITE_STATIC);
            sqlite3_bind_text(ins, 3, vals[i], -1, SQLITE_STATIC);
            sqlite3_step(ins);
            sqlite3_reset(ins);
            sqlite3_bind_int64(fins, 1, sqlite3_last_insert_rowid(db));
            sqlite3_bind_text(fins, 2, texts[i], -1, SQLITE_STATIC);
            sqlite3_step(fins);
            sqlite3_reset(fins);
        }
        sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
        raw_put_ms += now_ms() - t0;
        raw_put_cpu += cpu_us() - c0;
    }
    free(texts);
    printf("name items ns/op items/s\n");
    printf("put_batched_ours %zu %.0f %.0f\n", nitems, put_ms * 1e6 / nitems,
           nitems / (put_ms / 1e3));
    printf("put_batched_raw %zu %.0f %.0f\n", nitems,
           raw_put_ms * 1e6 / nitems, nitems / (raw_put_ms / 1e3));
    /* The same in the thread's CPU time (SQLite works on the caller's
     * thread): the figure to compare on a loaded machine. */
    printf("put_batched_cpu_ours %zu %.0f %.0f\n", nitems,
           put_cpu * 1e3 / nitems, nitems / (put_cpu / 1e6));
    printf("put_batched_cpu_raw %zu %.0f %.0f\n", nitems,
           raw_put_cpu * 1e3 / nitems, nitems / (raw_put_cpu / 1e6));
    if (getenv("AM_BENCH_PUT_ONLY") != NULL) {
        am_store_close(s);
        sqlite3_finalize(ins);
        sqlite3_finalize(fins);
        sqlite3_close(db);
        rm_db(ours);
        rm_db(raw);
        return 0;
    }

    /* ---- get by key (each key read by agentmem, then by raw SQLite) ---- */
    double *lat = malloc(sizeof(double) * ngets);
    double *rlat = malloc(sizeof(double) * ngets);
    am_buf out = AM_BUF_INIT;
    sqlite3_stmt *sel;
    sqlite3_prepare_v2(db, "SELECT value FROM items WHERE ns = ? AND key = ?",
                       -1, &sel, NULL);
    double *clat = malloc(sizeof(double) * ngets);
    double *crlat = malloc(sizeof(double) * ngets);
    for (int i = 0; i < ngets; i++) {
        size_t id = bench_next() % nitems;
        char key[24];
        snprintf(key, sizeof key, "k%zu", id);
        double c = cpu_us(), a = now_ms();
        if (am_store_get(s, (am_ns){ nsparts[id % 16], 2 }, am_str_c(key),
                         &out) != AM_OK)
            die("get", am_store_last_error(s)->msg);
        lat[i] = (now_ms() - a) * 1e3;
        clat[i] = cpu_us() - c;
        c = cpu_us();
        a = now_ms();
        sqlite3_bind_blob(sel, 1, user[id % 16], 6, SQLITE_STATIC);
        sqlite3_bind_blob(sel, 2, key, (int)strlen(key), SQLITE_STATIC);
        if (sqlite3_step(sel) != SQLITE_ROW)
            die("raw get", "missing");
        sqlite3_column_text(sel, 0);
        sqlite3_reset(sel);
        rlat[i] = (now_ms() - a) * 1e3;
        crlat[i] = cpu_us() - c;
    }
    printf("get_p50_us_ours %d %.1f\n", ngets, pct(lat, ngets, 0.5));
    printf("get_p99_us_ours %d %.1f\n", ngets, pct(lat, ngets, 0.99));
    printf("get_p50_us_raw %d %.1f\n", ngets, pct(rlat, ngets, 0.5));
    printf("get_p99_us_raw %d %.1f\n", ngets, pct(rlat, ngets, 0.99));
    printf("get_p50_cpu_us_ours %d %.1f\n", ngets, pct(clat, ngets, 0.5));
    printf("get_p99_cpu_us_ours %d %.1f\n", ngets, pct(clat, ngets, 0.99));
    printf("get_p50_cpu_us_raw %d %.1f\n", ngets, pct(crlat, ngets, 0.5));
    printf("get_p99_cpu_us_raw %d %.1f\n", ngets, pct(crlat, ngets, 0.99));
    free(clat);
    free(crlat);

    /* ---- full-text search: 2 words, top 10, whole store ----
     * Two query sets: "common" words (frequency ranks 50-2049, each in
     * roughly 0.1-15% of the items) and "rare" ones (ranks 2000-4999).
     * A third set, "common_scoped", runs the common words inside one of
     * the 16 user namespaces (1/16 of the rows); its raw figure is the
     * same query over the whole raw table. */
    double *fl = malloc(sizeof(double) * nfts);
    double *fc = malloc(sizeof(double) * nfts); /* the same, CPU time */
    char (*qs)[40] = malloc((size_t)nfts * 40);
    sqlite3_stmt *fq;
    sqlite3_prepare_v2(db, "SELECT rowid FROM fts WHERE fts MATCH ? ORDER BY"
                           " rank LIMIT 10", -1, &fq, NULL);
    for (int set = 0; set < 3; set++) {
        int base = set != 1 ? 50 : 2000, span = set != 1 ? 2000 : 3000;
        const char *label = set == 0   ? "common"
                            : set == 1 ? "rare"
                                       : "common_scoped";
        for (int i = 0; i < nfts; i++)
            snprintf(qs[i], 40, "%s %s",
                     bench_words[base + bench_next() % span],
                     bench_words[base + bench_next() % span]);
        double *rl = rlat; /* ngets >= nfts */
        for (int i = 0; i < nfts; i++) {
            am_search q = { .query = am_str_c(qs[i]),
                            .mode = AM_SEARCH_TEXT, .limit = 10 };
            if (set == 2)
                q.ns = (am_ns){ nsparts[i % 16], 2 };
            am_results *r;
            double c = cpu_us(), a = now_ms();
            if (am_store_search(s, &q, &r) != AM_OK)
                die("search", am_store_last_error(s)->msg);
            fl[i] = now_ms() - a;
            fc[i] = (cpu_us() - c) / 1e3;
            am_results_free(r);
            char m[64];
            char *sp = strchr(qs[i], ' ');
            snprintf(m, sizeof m, "\"%.*s\" OR \"%s\"", (int)(sp - qs[i]),
                     qs[i], sp + 1);
            a = now_ms();
            sqlite3_bind_text(fq, 1, m, -1, SQLITE_STATIC);
            while (sqlite3_step(fq) == SQLITE_ROW)
                ;
            sqlite3_reset(fq);
            rl[i] = now_ms() - a;
        }
        double f50 = pct(fl, nfts, 0.5), f99 = pct(fl, nfts, 0.99);
        for (int i = 0; i < nfts; i++)
            fl[i] = rl[i];
        printf("fts_%s_p50_ms_ours %d %.3f\n", label, nfts, f50);
        printf("fts_%s_p99_ms_ours %d %.3f\n", label, nfts, f99);
        printf("fts_%s_p50_cpu_ms_ours %d %.3f\n", label, nfts,
               pct(fc, nfts, 0.5));
        printf("fts_%s_p50_ms_raw %d %.3f\n", label, nfts,
               pct(fl, nfts, 0.5));
        printf("fts_%s_p99_ms_raw %d %.3f\n", label, nfts,
               pct(fl, nfts, 0.99));
    }
    am_store_close(s);
    sqlite3_finalize(ins);
    sqlite3_finalize(fins);
    sqlite3_finalize(sel);
    sqlite3_finalize(fq);
    sqlite3_close(db);

    /* ---- exact vector search: nvec x 384 ---- */
    if (am_store_open(vecdb, &so, &s, &err) != AM_OK)
        die("open", err.msg);
    float *vecs = malloc(sizeof(float) * batch * dim);
    for (size_t done = 0; done < nvec; done += batch) {
        size_t n = nvec - done < batch ? nvec - done : batch;
        for (size_t i = 0; i < n; i++) {
            for (size_t d = 0; d < dim; d++)
                vecs[i * dim + d] = (float)((double)(bench_next() >> 40) /
                                            16777216.0 - 0.5);
            snprintf(keys[i], 24, "v%zu", done + i);
            items[i] = (am_item_in){ .ns = { nsparts[0], 2 },
                                     .key = am_str_c(keys[i]),
                                     .value = AM_STR("1"),
                                     .vec = vecs + i * dim, .dim = dim,
                                     .vec_model = "bench" };
        }
        if (am_store_put_many(s, items, n) != AM_OK)
            die("put vec", am_store_last_error(s)->msg);
    }
    float q[384];
    double vl[64], vc[64];
    am_results *r;
    for (int i = 0; i <= nvq; i++) {
        for (size_t d = 0; d < dim; d++)
            q[d] = (float)((double)(bench_next() >> 40) / 16777216.0 - 0.5);
        am_search sq = { .vec = q, .dim = dim, .mode = AM_SEARCH_VECTOR,
                         .limit = 10 };
        double c = cpu_us(), a = now_ms();
        if (am_store_search(s, &sq, &r) != AM_OK)
            die("vector search", am_store_last_error(s)->msg);
        double t = now_ms() - a;
        if (i == 0) {
            printf("vec_first_query_ms_ours %zu %.1f (loads the index)\n",
                   nvec, t);
        } else {
            vl[i - 1] = t;
            vc[i - 1] = (cpu_us() - c) / 1e3;
        }
        am_results_free(r);
    }
    printf("vec_p50_ms_ours %zu %.2f\n", nvec, pct(vl, nvq, 0.5));
    printf("vec_p50_cpu_ms_ours %zu %.2f\n", nvec, pct(vc, nvq, 0.5));
    am_store_close(s);
    /* Raw: read every blob with SQLite and dot it in C (no cache). */
    sqlite3_open(vecdb, &db);
    sqlite3_stmt *vs;
    sqlite3_prepare_v2(db, "SELECT id, vec FROM items WHERE vec IS NOT NULL",
                       -1, &vs, NULL);
    for (int i = 0; i < nvq; i++) {
        double a = now_ms(), best = -2;
        while (sqlite3_step(vs) == SQLITE_ROW) {
            const float *v = sqlite3_column_blob(vs, 1);
            double dot = 0;
            for (size_t d = 0; d < dim; d++)
                dot += v[d] * q[d];
            if (dot > best)
                best = dot;
        }
        sqlite3_reset(vs);
        vl[i] = now_ms() - a;
    }
    printf("vec_p50_ms_raw_scan %zu %.2f\n", nvec, pct(vl, nvq, 0.5));
    sqlite3_finalize(vs);
    sqlite3_close(db);
    rm_db(ours);
    rm_db(raw);
    rm_db(vecdb);
    return 0;
}
