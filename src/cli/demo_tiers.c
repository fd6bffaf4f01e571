/* demo_tiers.c -- the hierarchical memory part of `agentmem demo`.
 *
 * Loads examples/tiers/memories.tsv into a small memory system (working
 * tier of 4, short-term of 6) on a pretend clock, then shows promotion on
 * use, capacity demotion, optimize after a quiet day, the lifecycle
 * policies after a quiet month, the zstd archive and an index search.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agentmem/tiers.h"
#include "cli.h"
#include "commands.h"

#define HOUR 3600000LL
#define DAY (24 * HOUR)

static int64_t demo_now;

static int64_t demo_clock(void *ctx)
{
    (void)ctx;
    return demo_now;
}

/* The examples ship in the source tree: try the working directory, then
 * $AM_SOURCE_DIR, then the source directory the build was configured in
 * (AM_SOURCE_DATADIR is <source>/data). */
static FILE *open_examples(void)
{
    static const char rel[] = "examples/tiers/memories.tsv";
    char path[4096];
    const char *env = getenv("AM_SOURCE_DIR");
    FILE *f = fopen(rel, "r");
    size_t n;

    if (f != NULL)
        return f;
    if (env != NULL) {
        snprintf(path, sizeof path, "%s/%s", env, rel);
        if ((f = fopen(path, "r")) != NULL)
            return f;
    }
    snprintf(path, sizeof path, "%s", AM_SOURCE_DATADIR);
    n = strlen(path);
    if (n >= 5 && strcmp(path + n - 5, "/data") == 0)
        path[n - 5] = '\0';
    n = strlen(path);
    snprintf(path + n, sizeof path - n, "/%s", rel);
    return fopen(path, "r");
}

static int load(am_tiers *t)
{
    FILE *f = open_examples();
    char line[1024];
    int n = 0, lineno = 0;

    if (f == NULL) {
        fprintf(stderr, "demo: examples/tiers/memories.tsv not found\n");
        return -1;
    }
    while (fgets(line, sizeof line, f) != NULL) {
        char *field[5], *p = line, *save = NULL;
        am_tier_item_in in = am_tier_item_in_default();
        am_str tags[8];
        int nf = 0;
        char *end;
        lineno++;
        if (line[0] == '#' || line[0] == '\n')
            continue;
        line[strcspn(line, "\n")] = '\0';
        while (nf < 5 && (field[nf] = strtok_r(p, "\t", &save)) != NULL) {
            nf++;
            p = NULL;
        }
        if (nf != 5)
            continue;
        in.type = am_str_c(field[1]);
        in.importance = strtod(field[2], &end);
        if (end == field[2] || *end != '\0') {
            fprintf(stderr, "demo: examples/tiers/memories.tsv line %d: "
                    "importance '%s' is not a number\n", lineno, field[2]);
            fclose(f);
            return -1;
        }
        in.content = am_str_c(field[4]);
        for (char *tg = strtok_r(field[3], ",", &save); tg && in.tag_count < 8;
             tg = strtok_r(NULL, ",", &save))
            tags[in.tag_count++] = am_str_c(tg);
        in.tags = tags;
        if (am_tiers_store(t, am_str_c(field[0]), &in) != AM_OK) {
            fprintf(stderr, "demo: %s\n", am_tiers_last_error(t)->msg);
            fclose(f);
            return -1;
        }
        demo_now += 60000;
        n++;
    }
    fclose(f);
    return n;
}

static void show_tiers(am_tiers *t, const char *when)
{
    am_tier_stats s[AM_TIER_COUNT];
    am_tiers_stats(t, s);
    printf("  %-28s working %zu/%zu  short_term %zu/%zu  long_term %zu  "
           "archive %zu\n", when, s[0].count, s[0].capacity, s[1].count,
           s[1].capacity, s[2].count, s[3].count);
}

static void show_move(void *ctx, const am_tier_move *m)
{
    (void)ctx;
    printf("    %-12.*s %s -> %s (%s)\n", (int)m->id.len, m->id.ptr,
           am_tier_name(m->from), am_tier_name(m->to),
           am_tier_reason_name(m->reason));
}

int demo_tiers(void)
{
    am_clock clk = { demo_clock, NULL };
    am_tiers_opts o = am_tiers_opts_default();
    am_tiers *t = NULL;
    am_error err = { AM_OK, "" };
    am_tier_policy_count pc[8];
    size_t n = 0, np = 0;
    am_tier_hits hits = AM_TIER_HITS_INIT;
    am_tier_query q = am_tier_query_default();
    am_str task = AM_STR("task");
    am_buf out = AM_BUF_INIT;
    uint64_t before = 0, total = 0;
    int loaded;

    printf("\n== Hierarchical memory tiers ==\n");
    demo_now = 1767225600000LL; /* 2026-01-01 */
    o.clock = &clk;
    o.capacity[AM_TIER_WORKING] = 4;
    o.capacity[AM_TIER_SHORT_TERM] = 6;
    if (am_tiers_open(&o, &t, &err) != AM_OK)
        return cli_fail(err.code, &err, "demo tiers");
    loaded = load(t);
    if (loaded < 0) {
        am_tiers_close(t, NULL);
        return CLI_EXIT_FAIL;
    }
    printf("  stored %d memories from examples/tiers/memories.tsv "
           "(working holds 4, short-term 6)\n", loaded);
    show_tiers(t, "after storing:");
    am_tiers_moves(t, 0, NULL, NULL, &before);
    printf("  %llu capacity demotions so far (lowest retention score "
           "first)\n", (unsigned long long)before);

    /* Frequent use promotes. */
    for (int i = 0; i < 3; i++) {
        demo_now += 10 * 60000;
        am_tiers_retrieve(t, AM_STR("fact-db"), NULL, NULL);
    }
    am_tiers_retrieve(t, AM_STR("summary-1"), &out, NULL);
    printf("  retrieved fact-db 3 times in 30 min and summary-1 once:\n");
    am_tiers_moves(t, 3, show_move, NULL, &total);

    demo_now += 25 * HOUR;
    am_tiers_optimize(t, &n);
    printf("  a quiet day later, optimize demoted %zu idle item%s\n", n,
           n == 1 ? "" : "s");
    show_tiers(t, "after optimize:");

    demo_now += 31 * DAY;
    am_tiers_apply_policies(t, pc, 8, &np);
    printf("  a quiet month later, the lifecycle policies did:\n");
    for (size_t i = 0; i < np; i++)
        printf("    %-28s %zu\n", pc[i].name, pc[i].acted);
    show_tiers(t, "after policies:");

    if (am_tiers_restore(t, AM_STR("weather")) == AM_OK &&
        am_tiers_peek(t, AM_STR("weather"), &out, NULL) == AM_OK)
        printf("  restored 'weather' from the zstd archive: \"%s\"\n",
               out.ptr);

    q.tags = &task;
    q.tag_count = 1;
    q.min_importance = 0.7;
    q.flags = AM_TIER_PEEK;
    if (am_tiers_search(t, &q, &hits) == AM_OK) {
        printf("  search tag=task, importance >= 0.7:");
        for (size_t i = 0; i < hits.count; i++)
            printf(" %.*s", (int)hits.ids[i].len, hits.ids[i].ptr);
        printf("\n");
    }
    am_tier_hits_free(&hits);
    am_buf_free(&out);
    am_tiers_close(t, NULL);
    return CLI_EXIT_OK;
}
