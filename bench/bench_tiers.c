/* bench_tiers.c -- hierarchical memory at a million items.
 *
 * usage: bench_tiers [ITEMS] [DB_DIR] [ZSTD_LEVEL]
 *        (defaults 1000000, /tmp, the library's default level)
 *
 * Phases, each printing `name items value unit` lines:
 *   1. memory only: store ITEMS items (64 B..2 KB of text-like content,
 *      8 types, 0..3 of 50 tags, importance uniform, creation spread over
 *      400 days), RSS overhead per item beyond content;
 *   2. retrieve latency (p50/p99/p99.9) on random ids, in-memory tiers and
 *      archive separately; the seed's own target (10,000 retrievals over
 *      10,000+ items under 100 ms);
 *   3. index queries returning 1,000 ids;
 *   4. optimize and apply_policies over all items;
 *   5. SQLite: write everything (flush), reopen time, retrieve after
 *      reopen, and the raw SQLite by-id SELECT on the same tables.
 * Fixed seeds; bounded runtime (a few minutes at 1,000,000 items).
 */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "agentmem/tiers.h"

#define DAY 86400000LL

static int64_t fake_now;
static int64_t clock_cb(void *ctx)
{
    (void)ctx;
    return fake_now;
}

static uint64_t rng_state = 12345;
static uint64_t rnd(void)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static int64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int64_t cpu_ns(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ((int64_t)ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000000 +
           ((int64_t)ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000;
}

static long rss_kb(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    long pages = 0, res = 0;
    if (f != NULL) {
        if (fscanf(f, "%ld %ld", &pages, &res) != 2)
            res = 0;
        fclose(f);
    }
    return res * (sysconf(_SC_PAGESIZE) / 1024);
}

static const char *words[] = {
    "agent", "memory", "tool", "call", "user", "asked", "about", "the",
    "weather", "in", "paris", "result", "was", "sunny", "and", "warm",
    "token", "budget", "context", "window", "summary", "of", "previous",
    "turns", "plan", "step", "observation", "error", "retry", "success",
    "file", "read", "write", "search", "found", "three", "items", "cost"
};

static size_t make_content(char *buf, size_t len)
{
    size_t n = 0;
    while (n < len) {
        const char *w = words[rnd() % (sizeof words / sizeof words[0])];
        size_t wl = strlen(w);
        if (n + wl + 1 > len)
            break;
        memcpy(buf + n, w, wl);
        n += wl;
        buf[n++] = ' ';
    }
    while (n < len)
        buf[n++] = '.';
    return n;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static void pct(const char *name, size_t items, int64_t *lat, size_t n)
{
    qsort(lat, n, sizeof *lat, cmp_i64);
    printf("%s_p50 %zu %lld ns\n", name, items, (long long)lat[n / 2]);
    printf("%s_p99 %zu %lld ns\n", name, items,
           (long long)lat[n * 99 / 100]);
    printf("%s_p999 %zu %lld ns\n", name, items,
           (long long)lat[n * 999 / 1000]);
}

static const char *types[8] = { "fact", "event", "note", "tool_result",
                                "plan", "summary", "preference", "error" };
static char tagnames[50][8];

static am_status fill(am_tiers *t, size_t n, int64_t start,
                      uint64_t *content_bytes)
{
    char *buf = malloc(2048);
    char id[32];
    am_status st = AM_OK;

    rng_state = 12345;
    *content_bytes = 0;
    for (size_t i = 0; i < n && st == AM_OK; i++) {
        am_tier_item_in in = am_tier_item_in_default();
        am_str tags[3];
        size_t len = 64 + rnd() % (2048 - 64 + 1);
        int nt = (int)(rnd() % 4);
        fake_now = start + (int64_t)((400 * DAY) * (double)i / (double)n);
        snprintf(id, sizeof id, "item-%07zu", i);
        in.content.ptr = buf;
        in.content.len = make_content(buf, len);
        in.type = am_str_c(types[rnd() % 8]);
        in.importance = (double)(rnd() % 1001) / 1000.0;
        for (int k = 0; k < nt; k++)
            tags[k] = am_str_c(tagnames[rnd() % 50]);
        in.tags = tags;
        in.tag_count = (size_t)nt;
        in.tier = AM_TIER_LONG_TERM;
        /* A tenth go through the working tier (capacity demotions). */
        if (i % 10 == 0)
            in.tier = AM_TIER_WORKING;
        *content_bytes += in.content.len;
        st = am_tiers_store(t, am_str_c(id), &in);
    }
    free(buf);
    return st;
}

static void die(am_tiers *t, am_status st, const char *what)
{
    fprintf(stderr, "bench_tiers: %s: %s (%s)\n", what, am_status_str(st),
            t != NULL ? am_tiers_last_error(t)->msg : "");
    exit(1);
}

static void retrieve_bench(am_tiers *t, size_t n, const char *prefix)
{
    size_t reps = n < 200000 ? n : 200000;
    int64_t *lat_mem = malloc(reps * sizeof(int64_t));
    int64_t *lat_arc = malloc(reps * sizeof(int64_t));
    size_t nm = 0, na = 0;
    am_buf out = AM_BUF_INIT;
    am_tier_item info = AM_TIER_ITEM_INIT;
    char id[32], name[64];

    for (size_t r = 0; r < reps; r++) {
        int64_t t0, t1;
        am_status st;
        am_tier before;
        snprintf(id, sizeof id, "item-%07zu", (size_t)(rnd() % n));
        /* The tier before the access (outside the timing): an archived
         * item that this retrieve promotes was still decompressed. */
        st = am_tiers_peek(t, am_str_c(id), NULL, &info);
        if (st == AM_ENOTFOUND)
            continue;
        if (st != AM_OK)
            die(t, st, "peek");
        before = info.tier;
        t0 = mono_ns();
        st = am_tiers_retrieve(t, am_str_c(id), &out, &info);
        t1 = mono_ns();
        if (st != AM_OK)
            die(t, st, "retrieve");
        if (info.content_len != out.len)
            die(t, AM_EFORMAT, "content length");
        if (before == AM_TIER_ARCHIVE)
            lat_arc[na++] = t1 - t0;
        else
            lat_mem[nm++] = t1 - t0;
    }
    snprintf(name, sizeof name, "%sretrieve_memory_tiers", prefix);
    if (nm > 0)
        pct(name, n, lat_mem, nm);
    snprintf(name, sizeof name, "%sretrieve_archive", prefix);
    if (na > 0)
        pct(name, n, lat_arc, na);
    am_buf_free(&out);
    am_tier_item_free(&info);
    free(lat_mem);
    free(lat_arc);
}

static void query_bench(am_tiers *t, size_t n, int64_t now, unsigned flags,
                        const char *suffix)
{
    am_tier_hits h = AM_TIER_HITS_INIT;
    struct {
        const char *name;
        am_tier_query q;
    } qs[6];
    am_str tag0 = am_str_c(tagnames[0]);
    am_str tag2[2] = { am_str_c(tagnames[1]), am_str_c(tagnames[2]) };
    int nq = 0;

    for (int i = 0; i < 6; i++) {
        qs[i].q = am_tier_query_default();
        qs[i].q.limit = 1000;
        qs[i].q.flags = flags;
    }
    qs[nq].name = "query_type";
    qs[nq++].q.type = AM_STR("fact");
    qs[nq].name = "query_tag";
    qs[nq].q.tags = &tag0;
    qs[nq++].q.tag_count = 1;
    qs[nq].name = "query_importance_0.42_0.55";
    qs[nq].q.min_importance = 0.42;
    qs[nq++].q.max_importance = 0.55;
    qs[nq].name = "query_recent_7_days";
    qs[nq++].q.recent_days = 7;
    qs[nq].name = "query_type+tag+importance";
    qs[nq].q.type = AM_STR("event");
    qs[nq].q.tags = tag2;
    qs[nq].q.tag_count = 1;
    qs[nq].q.min_importance = 0.5;
    nq++;
    qs[nq].name = "query_custom_index";
    qs[nq].q.index = "len_class";
    qs[nq++].q.index_key = AM_STR("long");
    fake_now = now;
    for (int i = 0; i < nq; i++) {
        int reps = 200;
        int64_t t0 = mono_ns();
        size_t got = 0;
        for (int r = 0; r < reps; r++) {
            am_status st = am_tiers_search(t, &qs[i].q, &h);
            if (st != AM_OK)
                die(t, st, qs[i].name);
            got = h.count;
        }
        printf("%s%s %zu %.0f ns/query (%zu ids)\n", qs[i].name, suffix, n,
               (double)(mono_ns() - t0) / reps, got);
    }
    am_tier_hits_free(&h);
}

static am_status key_len_class(void *ctx, const am_tier_item *it,
                               am_buf *key)
{
    (void)ctx;
    if (it->content_len >= 1024)
        return am_buf_append(key, "long", 4);
    return am_buf_append(key, "short", 5);
}

static void raw_sqlite(const char *db, size_t n)
{
    sqlite3 *h;
    sqlite3_stmt *s;
    size_t reps = 100000;
    int64_t *lat = malloc(reps * sizeof(int64_t));
    char id[32];

    if (sqlite3_open(db, &h) != SQLITE_OK)
        return;
    sqlite3_exec(h, "PRAGMA cache_size=-65536", NULL, NULL, NULL);
    sqlite3_prepare_v2(h, "SELECT s.tier, s.accessed_ms, s.access_count, "
                          "i.importance, i.type, i.tags, c.data FROM "
                          "tier_items i JOIN tier_state s ON s.pid = i.pid "
                          "JOIN tier_content c ON c.pid = i.pid "
                          "WHERE i.id = ?", -1, &s, NULL);
    for (size_t r = 0; r < reps; r++) {
        int64_t t0;
        snprintf(id, sizeof id, "item-%07zu", (size_t)(rnd() % n));
        t0 = mono_ns();
        sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
        if (sqlite3_step(s) == SQLITE_ROW)
            (void)sqlite3_column_blob(s, 6);
        sqlite3_reset(s);
        lat[r] = mono_ns() - t0;
    }
    pct("raw_sqlite_select_by_id", n, lat, reps);
    sqlite3_finalize(s);
    sqlite3_close(h);
    free(lat);
}

int main(int argc, char **argv)
{
    size_t n = argc > 1 ? strtoull(argv[1], NULL, 10) : 1000000;
    const char *dir = argc > 2 ? argv[2] : "/tmp";
    am_clock clk = { clock_cb, NULL };
    am_tiers_opts o = am_tiers_opts_default();
    am_tiers *t = NULL;
    am_status st;
    uint64_t cbytes;
    long rss0, rss1;
    int64_t t0, c0, start = 1700000000000LL, end;
    char db[4096];
    am_tier_stats s[AM_TIER_COUNT];
    am_tier_policy_count pc[8];
    size_t moved = 0;

    for (int i = 0; i < 50; i++)
        snprintf(tagnames[i], sizeof tagnames[i], "tag%02d", i);
    {
        double la[3];
        if (getloadavg(la, 3) == 3)
            printf("# load average at start: %.2f %.2f %.2f (2 cores, "
                   "shared)\n", la[0], la[1], la[2]);
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    o.clock = &clk;
    if (argc > 3)
        o.zstd_level = atoi(argv[3]);
    printf("# zstd level %d, %zu archiving threads requested (0: CPUs)\n",
           o.zstd_level, o.threads);
    o.capacity[AM_TIER_WORKING] = 10000;
    o.capacity[AM_TIER_SHORT_TERM] = 100000;
    o.move_log_cap = 4096;

    /* ---- 1. Memory only ---- */
    rss0 = rss_kb();
    if ((st = am_tiers_open(&o, &t, NULL)) != AM_OK)
        die(NULL, st, "open");
    t0 = mono_ns();
    if ((st = fill(t, n, start, &cbytes)) != AM_OK)
        die(t, st, "store");
    printf("store_memory %zu %.0f ns/op\n", n,
           (double)(mono_ns() - t0) / (double)n);
    rss1 = rss_kb();
    printf("content_bytes %zu %llu bytes\n", n, (unsigned long long)cbytes);
    printf("rss_growth %zu %ld kB\n", n, rss1 - rss0);
    printf("overhead_per_item %zu %.1f bytes\n", n,
           ((double)(rss1 - rss0) * 1024.0 - (double)cbytes) / (double)n);
    end = fake_now;
    if ((st = am_tiers_add_index(t, "len_class", key_len_class, NULL)) !=
        AM_OK)
        die(t, st, "add_index");

    /* ---- 2. Retrieve ---- */
    fake_now = end + 1000;
    retrieve_bench(t, n, "");
    {
        size_t m = n < 10000 ? n : 10000;
        char id[32];
        int64_t t1 = mono_ns();
        for (size_t i = 0; i < m; i++) {
            snprintf(id, sizeof id, "item-%07zu", (size_t)(rnd() % n));
            st = am_tiers_retrieve(t, am_str_c(id), NULL, NULL);
            if (st != AM_OK)
                die(t, st, "retrieve");
        }
        printf("seed_target_10000_retrievals %zu %.3f ms total (target "
               "< 100 ms)\n", n, (double)(mono_ns() - t1) / 1e6);
    }

    /* ---- 3. Index queries ---- */
    query_bench(t, n, end, AM_TIER_PEEK, "_peek");
    query_bench(t, n, end, 0, "");

    /* ---- 4. Optimize and policies ---- */
    fake_now = end + 2 * DAY;
    t0 = mono_ns();
    c0 = cpu_ns();
    if ((st = am_tiers_optimize(t, &moved)) != AM_OK)
        die(t, st, "optimize");
    printf("optimize %zu %.1f ms wall, %.1f ms cpu (%zu demoted)\n", n,
           (double)(mono_ns() - t0) / 1e6, (double)(cpu_ns() - c0) / 1e6,
           moved);
    t0 = mono_ns();
    if ((st = am_tiers_optimize(t, &moved)) != AM_OK)
        die(t, st, "optimize");
    printf("optimize_again %zu %.1f ms (%zu demoted)\n", n,
           (double)(mono_ns() - t0) / 1e6, moved);
    for (int round = 0; round < 3; round++) {
        size_t np = 0;
        static const char *label[] = { "", "_again_same_time",
                                       "_next_day" };
        if (round == 2)
            fake_now += DAY;
        t0 = mono_ns();
        c0 = cpu_ns();
        if ((st = am_tiers_apply_policies(t, pc, 8, &np)) != AM_OK)
            die(t, st, "apply_policies");
        printf("apply_policies%s %zu %.1f ms wall, %.1f ms cpu (",
               label[round], n, (double)(mono_ns() - t0) / 1e6,
               (double)(cpu_ns() - c0) / 1e6);
        for (size_t i = 0; i < np; i++)
            printf("%s%s=%zu", i ? ", " : "", pc[i].name, pc[i].acted);
        printf(")\n");
    }
    /* The archive compression the policy runs deferred, in the default
     * bounded steps (each apply_policies/optimize call does one). */
    {
        size_t left = 1, steps = 0;
        double worst = 0.0;
        int64_t cw = cpu_ns(), tw = mono_ns();
        if ((st = am_tiers_stats(t, s)) != AM_OK)
            die(t, st, "stats");
        printf("archive_uncompressed_after_policies %zu %zu items\n", n,
               s[AM_TIER_ARCHIVE].uncompressed);
        while (left > 0) {
            int64_t t1 = mono_ns();
            if ((st = am_tiers_compact(t, (size_t)32 << 20, &left)) != AM_OK)
                die(t, st, "compact");
            if ((double)(mono_ns() - t1) / 1e6 > worst)
                worst = (double)(mono_ns() - t1) / 1e6;
            steps++;
        }
        printf("compact_deferred_archive %zu %zu steps of 32 MiB, worst "
               "%.1f ms wall, total %.1f ms wall, %.1f ms cpu\n", n, steps,
               worst, (double)(mono_ns() - tw) / 1e6,
               (double)(cpu_ns() - cw) / 1e6);
    }
    if ((st = am_tiers_stats(t, s)) != AM_OK)
        die(t, st, "stats");
    for (int i = 0; i < AM_TIER_COUNT; i++)
        printf("tier_%s %zu count=%zu stored=%llu content=%llu\n",
               am_tier_name((am_tier)i), n, s[i].count,
               (unsigned long long)s[i].stored_bytes,
               (unsigned long long)s[i].content_bytes);
    fake_now = end + 1000;
    retrieve_bench(t, n, "after_policies_");
    am_tiers_close(t, NULL);

    /* ---- 5. SQLite ---- */
    snprintf(db, sizeof db, "%s/bench_tiers_%d.db", dir, (int)getpid());
    unlink(db);
    o.db_path = db;
    o.flush_interval_ms = 60000;
    o.flush_max_dirty = 20000;
    if ((st = am_tiers_open(&o, &t, NULL)) != AM_OK)
        die(NULL, st, "open db");
    t0 = mono_ns();
    if ((st = fill(t, n, start, &cbytes)) != AM_OK ||
        (st = am_tiers_flush(t)) != AM_OK)
        die(t, st, "store db");
    printf("store_sqlite_write_behind %zu %.0f ns/op\n", n,
           (double)(mono_ns() - t0) / (double)n);
    fake_now = end + 1000;
    retrieve_bench(t, n, "sqlite_handle_");
    t0 = mono_ns();
    if ((st = am_tiers_close(t, NULL)) != AM_OK)
        die(NULL, st, "close");
    printf("close_flush %zu %.1f ms\n", n, (double)(mono_ns() - t0) / 1e6);
    t0 = mono_ns();
    c0 = cpu_ns();
    if ((st = am_tiers_open(&o, &t, NULL)) != AM_OK)
        die(NULL, st, "reopen");
    printf("reopen %zu %.1f ms wall, %.1f ms cpu (%zu items)\n", n,
           (double)(mono_ns() - t0) / 1e6, (double)(cpu_ns() - c0) / 1e6,
           am_tiers_count(t));
    retrieve_bench(t, n, "after_reopen_");
    raw_sqlite(db, n); /* its own connection, before anything is deleted */
    /* Lifecycle on the SQLite-backed handle: the policy run logs ~225k
     * moves; the flush writes them and prunes tier_moves to the default
     * move_log_keep (100,000 rows). */
    {
        size_t np = 0, dem = 0;
        uint64_t total = 0;
        fake_now = end + 2 * DAY;
        t0 = mono_ns();
        c0 = cpu_ns();
        if ((st = am_tiers_optimize(t, &dem)) != AM_OK)
            die(t, st, "optimize db");
        printf("sqlite_optimize %zu %.1f ms wall, %.1f ms cpu (%zu demoted)\n",
               n, (double)(mono_ns() - t0) / 1e6,
               (double)(cpu_ns() - c0) / 1e6, dem);
        t0 = mono_ns();
        c0 = cpu_ns();
        if ((st = am_tiers_apply_policies(t, pc, 8, &np)) != AM_OK)
            die(t, st, "apply_policies db");
        printf("sqlite_apply_policies %zu %.1f ms wall, %.1f ms cpu (",
               n, (double)(mono_ns() - t0) / 1e6,
               (double)(cpu_ns() - c0) / 1e6);
        for (size_t i = 0; i < np; i++)
            printf("%s%s=%zu", i ? ", " : "", pc[i].name, pc[i].acted);
        printf(")\n");
        t0 = mono_ns();
        c0 = cpu_ns();
        if ((st = am_tiers_flush(t)) != AM_OK)
            die(t, st, "flush db");
        am_tiers_moves(t, 0, NULL, NULL, &total);
        printf("sqlite_flush_after_policies %zu %.1f ms wall, %.1f ms cpu "
               "(%llu moves logged in all)\n", n,
               (double)(mono_ns() - t0) / 1e6,
               (double)(cpu_ns() - c0) / 1e6, (unsigned long long)total);
    }
    /* The policy run deleted ~18k items: their state rows went with it,
     * their item and content rows go a bounded number per flush. Flush
     * until the file holds no rows of deleted items, timing each flush. */
    {
        sqlite3 *h = NULL;
        sqlite3_stmt *q = NULL;
        double worst = 0, sum = 0;
        int flushes = 0;
        if (sqlite3_open(db, &h) == SQLITE_OK &&
            sqlite3_prepare_v2(h, "SELECT count(*) FROM tier_items", -1, &q,
                               NULL) == SQLITE_OK) {
            for (;;) {
                long long rows = -1;
                if (sqlite3_step(q) == SQLITE_ROW)
                    rows = sqlite3_column_int64(q, 0);
                sqlite3_reset(q);
                if (rows == (long long)am_tiers_count(t) || flushes == 1000)
                    break;
                t0 = mono_ns();
                if ((st = am_tiers_flush(t)) != AM_OK)
                    die(t, st, "flush db");
                double ms = (double)(mono_ns() - t0) / 1e6;
                worst = ms > worst ? ms : worst;
                sum += ms;
                flushes++;
            }
            printf("sqlite_purge_deleted_rows %zu %d flushes, worst %.1f ms "
                   "wall, total %.1f ms wall\n", n, flushes, worst, sum);
        }
        sqlite3_finalize(q);
        sqlite3_close(h);
    }
    am_tiers_close(t, NULL);
    {
        sqlite3 *h = NULL;
        sqlite3_stmt *q = NULL;
        if (sqlite3_open(db, &h) == SQLITE_OK &&
            sqlite3_prepare_v2(h, "SELECT count(*), min(seq), max(seq) "
                               "FROM tier_moves", -1, &q, NULL) ==
                SQLITE_OK &&
            sqlite3_step(q) == SQLITE_ROW)
            printf("sqlite_tier_moves_rows %zu %lld rows (seq %lld..%lld)\n",
                   n, (long long)sqlite3_column_int64(q, 0),
                   (long long)sqlite3_column_int64(q, 1),
                   (long long)sqlite3_column_int64(q, 2));
        sqlite3_finalize(q);
        sqlite3_close(h);
    }
    {
        struct rusage ru;
        getrusage(RUSAGE_SELF, &ru);
        printf("peak_rss %zu %ld kB\n", n, ru.ru_maxrss);
    }
    unlink(db);
    {
        char p[4200];
        snprintf(p, sizeof p, "%s-wal", db);
        unlink(p);
        snprintf(p, sizeof p, "%s-shm", db);
        unlink(p);
    }
    return 0;
}
