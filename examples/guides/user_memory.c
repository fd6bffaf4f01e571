/* user_memory.c -- per-user long-term memory with search and expiry.
 *
 * The guide docs/guides/user-memory.md walks through this program. Two
 * users' facts go into one store under ("user", id) namespaces; a search
 * scoped to one user never sees the other's; a fact stored with a TTL is
 * gone once its time has passed. The clock is injected so the program
 * can move time forward instead of sleeping.
 *
 *   cc user_memory.c $(pkg-config --cflags --libs agentmem) -o user_memory
 *   ./user_memory [DB]      (default: a new file in /tmp)
 *
 * Exits 0 when every step behaved as described.
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <agentmem/agentmem.h>

#define DAY_MS (24 * 3600 * 1000LL)

static int64_t fake_now(void *ctx)
{
    return *(int64_t *)ctx;
}

/* Store `value` (JSON) under ("user", user, "facts")/key. */
static am_status remember(am_store *s, const char *user, const char *key,
                          const char *value, int64_t ttl_ms)
{
    am_str parts[3];
    am_item_in it = { 0 };

    it.ns = am_ns_user(parts, am_str_c(user), AM_STR("facts"));
    it.key = am_str_c(key);
    it.value = am_str_c(value);
    it.ttl_ms = ttl_ms;
    return am_store_put(s, &it);
}

/* Search one user's facts; print the hits and return how many. */
static size_t recall(am_store *s, const char *user, const char *query)
{
    am_str parts[3];
    am_search q = { 0 };
    am_results *r = NULL;
    size_t n = 0;

    q.ns = am_ns_user(parts, am_str_c(user), AM_STR(""));
    q.query = am_str_c(query);
    q.mode = AM_SEARCH_TEXT;
    q.limit = 5;
    if (am_store_search(s, &q, &r) != AM_OK) {
        fprintf(stderr, "search: %s\n", am_store_last_error(s)->msg);
        return 0;
    }
    printf("%s asks '%s':\n", user, query);
    for (size_t i = 0; i < r->count; i++)
        printf("  %.*s = %.*s\n", (int)r->items[i].key.len,
               r->items[i].key.ptr,
               (int)r->items[i].value.len, r->items[i].value.ptr);
    n = r->count;
    am_results_free(r);
    return n;
}

int main(int argc, char **argv)
{
    int64_t now = 1767225600000LL; /* 2026-01-01, moved by hand below */
    am_clock clock = { fake_now, &now };
    am_store_opts o = am_store_opts_default();
    am_store *s = NULL;
    am_error err = { AM_OK, "" };
    char path[64];
    int ok = 1;

    snprintf(path, sizeof path, "/tmp/user_memory_%ld.db", (long)getpid());
    o.clock = &clock;
    if (am_store_open(argc > 1 ? argv[1] : path, &o, &s, &err) != AM_OK) {
        fprintf(stderr, "user_memory: %s\n", err.msg);
        return 1;
    }
    if (remember(s, "alice", "language",
                 "\"Alice codes in the Python language\"", 0) ||
        remember(s, "alice", "trip", "\"Alice flies to Lisbon on Friday\"",
                 7 * DAY_MS) ||
        remember(s, "bob", "language", "\"Bob codes in the Rust language\"",
                 0)) {
        fprintf(stderr, "put: %s\n", am_store_last_error(s)->msg);
        am_store_close(s);
        return 1;
    }
    /* Scoped: Alice's search never returns Bob's facts. */
    ok &= recall(s, "alice", "which language") == 1;
    ok &= recall(s, "alice", "Lisbon flight") == 1;
    /* Eight days later the trip has expired; the language has not. */
    now += 8 * DAY_MS;
    ok &= recall(s, "alice", "Lisbon flight") == 0;
    ok &= recall(s, "alice", "which language") == 1;
    ok &= recall(s, "bob", "which language") == 1;
    am_store_close(s);
    if (argc <= 1)
        unlink(path);
    printf("%s\n", ok ? "ok" : "unexpected results");
    return ok ? 0 : 1;
}
