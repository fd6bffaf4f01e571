/* tiers_memory.c -- hierarchical memory: working, short-term, long-term
 * and archive tiers that items move between by use and age.
 *
 * The guide docs/guides/tiers.md walks through this program. A working
 * tier of 3 items overflows into the short-term tier; an item that is
 * read is counted as used; two idle days later maintenance demotes what
 * was not used, and the move log says why each item moved. The clock is
 * injected so the program moves time instead of waiting.
 *
 *   cc tiers_memory.c $(pkg-config --cflags --libs agentmem) -o tiers_memory
 *   ./tiers_memory          (in memory; set opts.db_path to keep a file)
 *
 * Exits 0 when the tiers end as described.
 */
#include <stdio.h>

#include <agentmem/agentmem.h>

#define HOUR_MS (3600 * 1000LL)

static int64_t fake_now(void *ctx)
{
    return *(int64_t *)ctx;
}

static void print_move(void *ctx, const am_tier_move *m)
{
    (void)ctx;
    printf("  %.*s: %s -> %s (%s)\n", (int)m->id.len, m->id.ptr,
           am_tier_name(m->from), am_tier_name(m->to),
           am_tier_reason_name(m->reason));
}

static void print_stats(am_tiers *t, am_tier_stats s[AM_TIER_COUNT])
{
    am_tiers_stats(t, s);
    for (int i = 0; i < AM_TIER_COUNT; i++)
        printf("  %-10s %zu item(s)\n", am_tier_name((am_tier)i),
               s[i].count);
}

int main(void)
{
    static const char *const notes[][2] = {
        { "deploy", "Deploys happen on Fridays after 14:00." },
        { "oncall", "Dana is on call this week." },
        { "vpn", "The VPN certificate expires in March." },
        { "lunch", "The team lunch moved to Thursday." },
        { "db", "The database migration needs a replica first." },
    };
    int64_t now = 1767225600000LL; /* 2026-01-01 */
    am_clock clock = { fake_now, &now };
    am_tiers_opts o = am_tiers_opts_default();
    am_tiers *t = NULL;
    am_tier_stats s[AM_TIER_COUNT];
    am_buf content = AM_BUF_INIT;
    am_error err = { AM_OK, "" };
    size_t demoted = 0;
    int rc = 1;

    o.clock = &clock;
    o.capacity[AM_TIER_WORKING] = 3;
    if (am_tiers_open(&o, &t, &err) != AM_OK) {
        fprintf(stderr, "tiers_memory: %s\n", err.msg);
        return 1;
    }
    /* Five notes into a working tier of three: the overflow moves on. */
    for (size_t i = 0; i < sizeof notes / sizeof notes[0]; i++) {
        am_tier_item_in in = am_tier_item_in_default();
        in.content = am_str_c(notes[i][1]);
        in.importance = i == 0 ? 0.9 : 0.4;
        now += HOUR_MS;
        if (am_tiers_store(t, am_str_c(notes[i][0]), &in) != AM_OK)
            goto out;
    }
    printf("after storing 5 notes:\n");
    print_stats(t, s);
    /* Reading an item counts as a use (am_tiers_peek would not). */
    for (int k = 0; k < 3; k++)
        if (am_tiers_retrieve(t, AM_STR("deploy"), &content, NULL) != AM_OK)
            goto out;
    printf("deploy: %s\n", content.ptr);
    /* Two days on, maintenance demotes what sat idle. */
    now += 48 * HOUR_MS;
    if (am_tiers_maintain(t, &demoted, NULL, 0, NULL) != AM_OK)
        goto out;
    printf("two days later, maintenance demoted %zu:\n", demoted);
    print_stats(t, s);
    printf("moves:\n");
    if (am_tiers_moves(t, 20, print_move, NULL, NULL) != AM_OK)
        goto out;
    rc = s[AM_TIER_WORKING].count + s[AM_TIER_SHORT_TERM].count +
                     s[AM_TIER_LONG_TERM].count + s[AM_TIER_ARCHIVE].count ==
                 5 && demoted > 0
             ? 0
             : 1;
out:
    if (rc != 0 && am_tiers_last_error(t)->code != AM_OK)
        fprintf(stderr, "tiers_memory: %s\n", am_tiers_last_error(t)->msg);
    am_buf_free(&content);
    if (am_tiers_close(t, &err) != AM_OK) {
        fprintf(stderr, "tiers_memory: %s\n", err.msg);
        rc = 1;
    }
    return rc;
}
