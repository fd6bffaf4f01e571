/* pg_multi.c -- what only the PostgreSQL backend has: several processes
 * on one store, vector caches kept coherent between handles, a server
 * restart in the middle of a run, and connection errors that name the
 * target. Runs under tests/pg_run.sh (AM_TEST_STORE is the server). */
#include <math.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "agentmem/store.h"
#include "harness.h"
#include "store_events.h"

#define NS1(a) ((am_ns){ (const am_str[]){ AM_STR(a) }, 1 })

static const char *server(void)
{
    const char *t = getenv("AM_TEST_STORE");
    if (t == NULL || strncmp(t, "postgresql://", 13) != 0) {
        fprintf(stderr, "pg_multi: run me under tests/pg_run.sh\n");
        exit(1);
    }
    return t;
}

static void target(char *buf, size_t n, const char *schema)
{
    snprintf(buf, n, "%s/%s", server(), schema);
}

static am_status put_vec(am_store *s, const char *key, float x, float y)
{
    float v[2] = { x, y };
    am_item_in it = { .ns = NS1("v"), .key = am_str_c(key),
                      .value = AM_STR("1"), .vec = v, .dim = 2,
                      .vec_model = "test" };
    return am_store_put(s, &it);
}

AM_TEST(errors_name_the_target_never_the_password)
{
    char t[512];
    am_store *s = NULL;
    am_error err = { AM_OK, "" };
    const char *host = strstr(server(), "://") + 3;

    /* A database that does not exist. */
    snprintf(t, sizeof t, "postgresql://%.*s/nosuchdb",
             (int)(strchr(host, '/') - host), host);
    CHECK_ST(am_store_open(t, NULL, &s, &err), AM_EIO);
    CHECK(strstr(err.msg, "nosuchdb") != NULL);
    CHECK(s == NULL);
    /* A password in the URI never shows. */
    snprintf(t, sizeof t, "postgresql://nobody:hunter2@%.*s/amtest",
             (int)(strchr(host, '/') - host) - 9, host + 9);
    CHECK(am_store_open(t, NULL, &s, &err) != AM_OK);
    CHECK(strstr(err.msg, "hunter2") == NULL);
    CHECK(strstr(err.msg, "nobody@") != NULL);
    /* A schema name too long for PostgreSQL. */
    snprintf(t, sizeof t, "%s/%0100d", server(), 7);
    CHECK_ST(am_store_open(t, NULL, &s, &err), AM_EINVAL);
    CHECK(strstr(err.msg, "schema") != NULL);
}

/* Run `sql` on the test database with plain libpq; the first value of
 * its result (or "") into `out`. */
static void sql_on_server(const char *sql, char *out, size_t n)
{
    PGconn *c = PQconnectdb(server());
    CHECK(PQstatus(c) == CONNECTION_OK);
    PGresult *r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_COMMAND_OK &&
        PQresultStatus(r) != PGRES_TUPLES_OK)
        fprintf(stderr, "%s: %s", sql, PQerrorMessage(c));
    CHECK(PQresultStatus(r) == PGRES_COMMAND_OK ||
          PQresultStatus(r) == PGRES_TUPLES_OK);
    snprintf(out, n, "%s", PQntuples(r) > 0 && PQnfields(r) > 0
                               ? PQgetvalue(r, 0, 0)
                               : "");
    PQclear(r);
    PQfinish(c);
}

/* Wrong credentials, a refused connection, no server, a missing
 * database: each its own clear error naming the target, never the
 * password. tests/pg_run.sh makes the role am_pw log in with a password
 * (scram-sha-256) where every other role is trusted. */
AM_TEST(connection_failures_say_what_failed_and_where)
{
    char t[512], out[64];
    am_store *s = NULL;
    am_error err = { AM_OK, "" };
    const char *host = strstr(server(), "@") + 1;
    int hlen = (int)(strchr(host, '/') - host);

    sql_on_server("CREATE ROLE am_pw LOGIN PASSWORD 'right-pw'", out,
                  sizeof out);
    sql_on_server("GRANT CREATE ON DATABASE amtest TO am_pw", out,
                  sizeof out);
    /* The right password opens: the server does ask for one. */
    snprintf(t, sizeof t, "postgresql://am_pw:right-pw@%.*s/amtest/pw",
             hlen, host);
    CHECK_OK_E(am_store_open(t, NULL, &s, &err), &err);
    am_store_close(s);
    s = NULL;
    /* A wrong one, in the user part or as a parameter. */
    snprintf(t, sizeof t, "postgresql://am_pw:wrong-pw@%.*s/amtest/pw",
             hlen, host);
    CHECK_ST(am_store_open(t, NULL, &s, &err), AM_EAUTH);
    CHECK(s == NULL);
    CHECK(strstr(err.msg, "password authentication failed") != NULL);
    CHECK(strstr(err.msg, "'postgresql://am_pw@") != NULL);
    CHECK(strstr(err.msg, "/amtest'") != NULL);
    CHECK(strstr(err.msg, "wrong-pw") == NULL);
    snprintf(t, sizeof t, "postgresql://am_pw@%.*s/amtest?password=wrong-pw",
             hlen, host);
    CHECK_ST(am_store_open(t, NULL, &s, &err), AM_EAUTH);
    CHECK(strstr(err.msg, "wrong-pw") == NULL);
    CHECK(strstr(err.msg, "'postgresql://am_pw@") != NULL);
    /* A refused connection: nothing listens on port 1. */
    CHECK_ST(am_store_open("postgresql://am_pw:right-pw@127.0.0.1:1/amtest",
                           NULL, &s, &err), AM_EIO);
    CHECK(strstr(err.msg, "'postgresql://am_pw@127.0.0.1:1/amtest'") !=
          NULL);
    CHECK(strstr(err.msg, "refused") != NULL);
    CHECK(strstr(err.msg, "right-pw") == NULL);
    /* No server behind a socket directory. */
    CHECK_ST(am_store_open("postgresql://am_pw@%2Fnonexistent-am-dir/amtest",
                           NULL, &s, &err), AM_EIO);
    CHECK(strstr(err.msg, "cannot connect") != NULL);
    CHECK(strstr(err.msg, "nonexistent-am-dir") != NULL);
    /* A database that does not exist, with the right password. */
    snprintf(t, sizeof t, "postgresql://am_pw:right-pw@%.*s/nosuchdb",
             hlen, host);
    CHECK_ST(am_store_open(t, NULL, &s, &err), AM_EIO);
    CHECK(strstr(err.msg, "/nosuchdb'") != NULL);
    CHECK(strstr(err.msg, "does not exist") != NULL);
    CHECK(strstr(err.msg, "right-pw") == NULL);
    CHECK(s == NULL);
}

/* Rows of events6.item_history for `key`, as text. */
static void hist_rows(const char *key, char *out, size_t n)
{
    char sql[256];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM events6.item_history"
             " WHERE item_id = (SELECT id FROM events6.items WHERE key ="
             " convert_to('%s', 'UTF8'))", key);
    sql_on_server(sql, out, n);
}

/* Where the PostgreSQL store keeps an item's first history event (schema
 * 6, as SQLite's: test_store_events.c): a new row keeps its "add" in the
 * row (no item_history row), the first write to the row in place -- by
 * a batched put, a delete or an undo -- moves it into item_history ahead
 * of its own event, and history, undo and pruning read the same events
 * as before. The history's behaviour on both backends is test_store.c's. */
AM_TEST(the_metadata_index_holds_rows_with_metadata_and_filters_use_it)
{
    /* Schema 7: items_metaj is partial (WHERE metaj <> '{}'), so a put
     * without metadata adds nothing to it; the planner uses it only for a
     * condition that says metaj <> '{}' itself, which the store's filters
     * write beside each containment (store_pg_filter.c). */
    char t[512], v[256];
    am_store *s;
    am_results *r;
    target(t, sizeof t, "metapart");
    CHECK_OK(am_store_open(t, NULL, &s, NULL));
    am_item_in it[3] = {
        { .ns = NS1("m"), .key = AM_STR("a"), .value = AM_STR("\"pear tart\""),
          .meta = AM_STR("{\"lang\":\"fr\"}") },
        { .ns = NS1("m"), .key = AM_STR("b"),
          .value = AM_STR("\"pear pie\"") },
        { .ns = NS1("m"), .key = AM_STR("c"), .value = AM_STR("\"pear jam\""),
          .meta = AM_STR("{}") },
    };
    CHECK_OK(am_store_put_many(s, it, 3));
    sql_on_server("SELECT pg_get_indexdef('metapart.items_metaj'::regclass)",
                  v, sizeof v);
    CHECK(strstr(v, "WHERE (metaj <> '{}'::jsonb)") != NULL);
    sql_on_server("SET enable_seqscan = off; EXPLAIN (COSTS OFF) SELECT id"
                  " FROM metapart.items WHERE (metaj @> jsonb_build_object("
                  "'lang', '\"fr\"'::jsonb) AND metaj <> '{}')", v, sizeof v);
    CHECK(strstr(v, "Bitmap Heap Scan") != NULL);
    sql_on_server("SET enable_seqscan = off; EXPLAIN (COSTS OFF) SELECT id"
                  " FROM metapart.items WHERE metaj @> jsonb_build_object("
                  "'lang', '\"fr\"'::jsonb)", v, sizeof v);
    CHECK(strstr(v, "Seq Scan") != NULL);
    am_search q = { .ns = NS1("m"), .query = AM_STR("pear"),
                    .mode = AM_SEARCH_TEXT, .limit = 5,
                    .filter = AM_STR("{\"lang\":\"fr\"}") };
    CHECK_OK_E(am_store_search(s, &q, &r), am_store_last_error(s));
    CHECK_EQ(r->count, 1);
    CHECK(r->items[0].key.len == 1 && r->items[0].key.ptr[0] == 'a');
    am_results_free(r);
    q.filter = AM_STR("{\"$not\":{\"lang\":\"fr\"}}");
    CHECK_OK_E(am_store_search(s, &q, &r), am_store_last_error(s));
    CHECK_EQ(r->count, 2);
    am_results_free(r);
    am_store_close(s);
}

AM_TEST(a_new_row_keeps_its_add_event_until_its_first_change)
{
    char t[512], v[64], ev[128];
    am_store *s;
    am_results *r = NULL;
    am_store_opts o = am_store_opts_default();
    const am_ns ns = NS1("n");
    o.actor = "alice";
    target(t, sizeof t, "events6");
    CHECK_OK(am_store_open(t, &o, &s, NULL));
    am_item_in in[4];
    const char *keys[4] = { "a", "b", "c", "d" };
    for (int i = 0; i < 4; i++)
        in[i] = (am_item_in){ .ns = ns, .key = am_str_c(keys[i]),
                              .value = AM_STR("1") };
    CHECK_OK(am_store_put_many(s, in, 3));
    CHECK_OK(am_store_put(s, &in[3])); /* the one-statement insert */
    sql_on_server("SELECT count(*) FROM events6.item_history", v, sizeof v);
    CHECK_STR_EQ(v, "0");
    sql_on_server("SELECT count(*) FROM events6.items WHERE add_actor ="
                  " 'alice'", v, sizeof v);
    CHECK_STR_EQ(v, "4");
    CHECK_OK(am_store_history(s, ns, AM_STR("a"), &r));
    CHECK_EQ(r->count, 1);
    CHECK(r->items[0].event.len == 3 &&
          memcmp(r->items[0].event.ptr, "add", 3) == 0);
    CHECK(r->items[0].actor.len == 5 &&
          memcmp(r->items[0].actor.ptr, "alice", 5) == 0);
    CHECK(r->items[0].at_ms > 0);
    int64_t added = r->items[0].at_ms;
    am_results_free(r);

    /* An update (the batched UPDATE) moves the event into item_history
     * first, at its own time, then appends the update. */
    in[0].value = AM_STR("2");
    CHECK_OK(am_store_put(s, &in[0]));
    hist_rows("a", v, sizeof v);
    CHECK_STR_EQ(v, "2");
    CHECK_OK(am_store_history(s, ns, AM_STR("a"), &r));
    CHECK_EQ(r->count, 2);
    CHECK_EQ(r->items[0].at_ms, added);
    CHECK(r->items[0].actor.len == 5 &&
          memcmp(r->items[0].actor.ptr, "alice", 5) == 0);
    CHECK(r->items[1].value.len == 1 && r->items[1].value.ptr[0] == '2');
    am_results_free(r);
    test_events(s, ns, "a", ev, sizeof ev);
    CHECK_STR_EQ(ev, "add update");
    sql_on_server("SELECT count(*) FROM events6.items WHERE add_actor IS"
                  " NOT NULL", v, sizeof v);
    CHECK_STR_EQ(v, "3");

    /* A delete, and an undo of an "add" (a soft delete), do the same. */
    CHECK_OK(am_store_delete(s, ns, AM_STR("b")));
    hist_rows("b", v, sizeof v);
    CHECK_STR_EQ(v, "2");
    test_events(s, ns, "b", ev, sizeof ev);
    CHECK_STR_EQ(ev, "add delete");
    CHECK_OK(am_store_undo(s, ns, AM_STR("c")));
    hist_rows("c", v, sizeof v);
    CHECK_STR_EQ(v, "2");
    test_events(s, ns, "c", ev, sizeof ev);
    CHECK_STR_EQ(ev, "add delete");
    /* Re-adding the deleted key, then undoing that. */
    CHECK_OK(am_store_put(s, &in[2]));
    test_events(s, ns, "c", ev, sizeof ev);
    CHECK_STR_EQ(ev, "add delete add");
    CHECK_OK(am_store_undo(s, ns, AM_STR("c")));
    test_events(s, ns, "c", ev, sizeof ev);
    CHECK_STR_EQ(ev, "add delete add delete");
    /* Undo of an update restores the old value (history_add before the
     * row's rewrite): a's update undone. */
    CHECK_OK(am_store_undo(s, ns, AM_STR("a")));
    test_events(s, ns, "a", ev, sizeof ev);
    CHECK_STR_EQ(ev, "add update update");
    am_buf got = AM_BUF_INIT;
    CHECK_OK(am_store_get(s, ns, AM_STR("a"), &got));
    CHECK_STR_EQ(got.ptr, "1");
    am_buf_free(&got);

    /* Pruning keeps an implicit event (an item's only one) and the last
     * of the others. */
    size_t removed = 0;
    CHECK_OK(am_store_history_prune(s, 1, &removed));
    CHECK_EQ(removed, 2 + 1 + 3); /* a: 2, b: 1, c: 3 */
    test_events(s, ns, "d", ev, sizeof ev);
    CHECK_STR_EQ(ev, "add");
    test_events(s, ns, "a", ev, sizeof ev);
    CHECK_STR_EQ(ev, "update");
    CHECK_OK(am_store_check(s));
    /* A hard delete takes the implicit event with the row. */
    CHECK_OK(am_store_delete_ns(s, ns, NULL));
    sql_on_server("SELECT count(*) FROM events6.item_history", v, sizeof v);
    CHECK_STR_EQ(v, "0");
    am_store_close(s);
}

/* Put `n` items "<prefix><i>" = "<value>" into namespace "n" in one
 * write. */
static void put_run(am_store *s, const char *prefix, int from, int n,
                    const char *value)
{
    am_item_in *in = calloc((size_t)n, sizeof *in);
    char(*keys)[24] = calloc((size_t)n, sizeof *keys);
    const am_ns ns = NS1("n"); /* a literal in the loop dies each round */
    CHECK(in != NULL && keys != NULL);
    for (int i = 0; i < n; i++) {
        snprintf(keys[i], sizeof keys[i], "%s%05d", prefix, from + i);
        in[i] = (am_item_in){ .ns = ns, .key = am_str_c(keys[i]),
                              .value = am_str_c(value) };
    }
    CHECK_OK_E(am_store_put_many(s, in, (size_t)n), am_store_last_error(s));
    CHECK_EQ(am_store_last_error(s)->code, AM_OK);
    free(in);
    free(keys);
}

/* A batch of keys expected new (the connection's last batch was) goes
 * as a plain INSERT in a savepoint (store_pg_put.c); one that meets an
 * existing key is rolled back to that savepoint alone and written the
 * usual way, so every batch before it in the same write stays, and the
 * next batch is written the usual way first. Also a write of more
 * batches than it takes savepoints for. */
AM_TEST(batches_of_new_keys_fall_back_when_a_key_exists)
{
    char t[512], v[64], ev[64];
    am_store *s;
    am_buf got = AM_BUF_INIT;
    target(t, sizeof t, "newkeys");
    CHECK_OK(am_store_open(t, NULL, &s, NULL));
    put_run(s, "b", 0, 1000, "1");       /* new keys */
    /* One write: 1,000 new "a" keys (a batch of their own, first in key
     * order), then the 1,000 "b" keys, which exist. */
    static am_item_in in[2000];
    static char keys[2000][24];
    const am_ns ns = NS1("n");
    for (int i = 0; i < 2000; i++) {
        snprintf(keys[i], sizeof keys[i], "%s%05d", i < 1000 ? "a" : "b",
                 i % 1000);
        in[i] = (am_item_in){ .ns = ns, .key = am_str_c(keys[i]),
                              .value = AM_STR("2") };
    }
    CHECK_OK_E(am_store_put_many(s, in, 2000), am_store_last_error(s));
    CHECK_EQ(am_store_last_error(s)->code, AM_OK);
    sql_on_server("SELECT count(*) FROM newkeys.items", v, sizeof v);
    CHECK_STR_EQ(v, "2000");
    sql_on_server("SELECT count(*) FROM newkeys.items WHERE value = '2'", v,
                  sizeof v);
    CHECK_STR_EQ(v, "2000");
    test_events(s, NS1("n"), "a00007", ev, sizeof ev);
    CHECK_STR_EQ(ev, "add");
    test_events(s, NS1("n"), "b00999", ev, sizeof ev);
    CHECK_STR_EQ(ev, "add update");
    /* After that, new keys again (the usual way first, then plain), a
     * write of 20 batches among them. */
    put_run(s, "c", 0, 1000, "3");
    put_run(s, "c", 1000, 20000, "3");
    sql_on_server("SELECT count(*) FROM newkeys.items", v, sizeof v);
    CHECK_STR_EQ(v, "23000");
    CHECK_OK(am_store_get(s, NS1("n"), AM_STR("c20999"), &got));
    CHECK_STR_EQ(got.ptr, "3");
    /* And a write of existing keys only. */
    put_run(s, "c", 0, 1500, "4");
    test_events(s, NS1("n"), "c01499", ev, sizeof ev);
    CHECK_STR_EQ(ev, "add update");
    CHECK_OK(am_store_check(s));
    am_buf_free(&got);
    am_store_close(s);
}

/* Migration 6 undone by hand: every row's implicit "add" event back into
 * item_history (sequence 1, as versions before 6 wrote it), the column
 * dropped. */
#define UNDO_6(schema)                                                       \
    "INSERT INTO " schema ".item_history(item_id, seq, event, at_ms, actor)" \
    " SELECT id, 1, 'add', created_ms, add_actor FROM " schema ".items"      \
    " WHERE add_actor IS NOT NULL;"                                          \
    "ALTER TABLE " schema ".items DROP COLUMN add_actor;"

/* Migration 7 undone by hand: tsv a plain column again, filled, and the
 * metadata index on every row again. */
#define UNDO_7(schema)                                                       \
    "ALTER TABLE " schema ".items DROP COLUMN tsv;"                          \
    "ALTER TABLE " schema ".items ADD COLUMN tsv tsvector;"                  \
    "UPDATE " schema ".items SET tsv = to_tsvector('english', text);"        \
    "ALTER TABLE " schema ".items ALTER COLUMN tsv SET NOT NULL;"            \
    "CREATE INDEX items_tsv ON " schema ".items USING gin(tsv)"              \
    " WITH (gin_pending_list_limit = 256);"                                  \
    "DROP INDEX " schema ".items_metaj;"                                     \
    "CREATE INDEX items_metaj ON " schema ".items USING gin(metaj"           \
    " jsonb_path_ops) WITH (gin_pending_list_limit = 64);"

AM_TEST(old_schemas_are_upgraded_on_open_keeping_rows)
{
    /* A store left at schema version 1 (no jsonb column for filters, GIN
     * pending lists at their default size) is brought to the current
     * version by the next open; its rows stay and filters find them. */
    char t[512], v[256];
    am_store *s;
    am_results *r;
    target(t, sizeof t, "upgrade");
    CHECK_OK(am_store_open(t, NULL, &s, NULL));
    am_item_in it = { .ns = NS1("u"), .key = AM_STR("k"),
                      .value = AM_STR("\"kept marmalade\""),
                      .meta = AM_STR("{\"lang\":\"fr\"}") };
    CHECK_OK(am_store_put(s, &it));
    am_store_close(s);
    /* Back to version 1 by hand: what migrations 2 to 7 did, undone. */
    sql_on_server(UNDO_7("upgrade") UNDO_6("upgrade")
                  "ALTER INDEX upgrade.items_tsv RESET"
                  " (gin_pending_list_limit);"
                  "ALTER TABLE upgrade.items DROP COLUMN metaj;"
                  "UPDATE upgrade.am_schema SET version = 1", v, sizeof v);
    sql_on_server("SELECT version FROM upgrade.am_schema", v, sizeof v);
    CHECK_STR_EQ(v, "1");
    CHECK_OK(am_store_open(t, NULL, &s, NULL));
    sql_on_server("SELECT version FROM upgrade.am_schema", v, sizeof v);
    CHECK_STR_EQ(v, "7");
    sql_on_server("SELECT array_to_string(reloptions, ',') FROM pg_class"
                  " WHERE oid = 'upgrade.items_tsv'::regclass", v, sizeof v);
    CHECK_STR_EQ(v, "gin_pending_list_limit=256");
    am_search q = { .ns = NS1("u"), .query = AM_STR("marmalade"),
                    .mode = AM_SEARCH_TEXT, .limit = 5,
                    .filter = AM_STR("{\"lang\":\"fr\"}") };
    CHECK_OK_E(am_store_search(s, &q, &r), am_store_last_error(s));
    CHECK_EQ(r->count, 1);
    am_results_free(r);
    q.filter = AM_STR("{\"lang\":\"en\"}");
    CHECK_OK(am_store_search(s, &q, &r));
    CHECK_EQ(r->count, 0);
    am_results_free(r);
    am_store_close(s);
    /* A version from the future is refused, naming both. */
    sql_on_server("UPDATE upgrade.am_schema SET version = 99", v, sizeof v);
    am_error err = { AM_OK, "" };
    CHECK_ST(am_store_open(t, NULL, &s, &err), AM_EUNSUPPORTED);
    CHECK(strstr(err.msg, "99") != NULL);
}

/* Every row of the store's tables as one digest, in id order; items'
 * add_actor (version 6, NULL on the rows of older versions) left out. */
#define ROWS_DIGEST(schema)                                                  \
    "SELECT md5(coalesce((SELECT string_agg((to_jsonb(i) - 'add_actor')"     \
    "::text, '|' ORDER BY i.id)"                                             \
    " FROM " schema ".items i), '') || '#' || coalesce((SELECT"              \
    " string_agg(h::text, '|' ORDER BY h.item_id, h.seq) FROM " schema       \
    ".item_history h), ''))"

AM_TEST(schema_4_stores_upgrade_to_7_keeping_every_row)
{
    /* Version 5 only enlarges the full-text index's pending list, and
     * version 6 adds items.add_actor (NULL: the row's events are all in
     * item_history): a version-4 store (the list at 64 kB, every "add" in
     * item_history) opened by this library gets both and keeps every
     * row, history entry, stamp and vector as it was, its history reads
     * the same, and its full-text search still finds them. */
    enum { N = 600 };
    char t[512], v[256], before[64], after[64];
    am_store *s;
    am_results *r;
    am_item_in *items = calloc(N, sizeof *items);
    char(*keys)[16] = calloc(N, sizeof *keys);
    char(*vals)[48] = calloc(N, sizeof *vals);
    float(*vecs)[2] = calloc(N, sizeof *vecs);
    /* One namespace for all items: NS1's compound literal lives only as
     * long as the block it is written in. */
    const am_ns ns = NS1("u");
    CHECK(items != NULL && keys != NULL && vals != NULL && vecs != NULL);
    target(t, sizeof t, "upgrade4");
    CHECK_OK(am_store_open(t, NULL, &s, NULL));
    for (int i = 0; i < N; i++) {
        snprintf(keys[i], sizeof keys[i], "k%d", i);
        snprintf(vals[i], sizeof vals[i], "\"quince w%d%s\"", i % 37,
                 i == 123 ? " gooseberry" : "");
        vecs[i][0] = (float)cos(i);
        vecs[i][1] = (float)sin(i);
        items[i] = (am_item_in){ .ns = ns, .key = am_str_c(keys[i]),
                                 .value = am_str_c(vals[i]),
                                 .ttl_ms = i % 5 == 0 ? 3600000 : 0,
                                 .vec = vecs[i], .dim = 2,
                                 .vec_model = "test" };
    }
    CHECK_OK_E(am_store_put_many(s, items, N), am_store_last_error(s));
    CHECK_OK(am_store_put_many(s, items, 50)); /* history: updates */
    CHECK_OK(am_store_delete(s, NS1("u"), AM_STR("k7")));
    am_store_close(s);
    /* Back to version 4 by hand: what migrations 5 to 7 did, undone. */
    sql_on_server(UNDO_7("upgrade4") UNDO_6("upgrade4")
                  "ALTER INDEX upgrade4.items_tsv SET"
                  " (gin_pending_list_limit = 64);"
                  "UPDATE upgrade4.am_schema SET version = 4", v, sizeof v);
    sql_on_server(ROWS_DIGEST("upgrade4"), before, sizeof before);
    sql_on_server("SELECT count(*) FROM upgrade4.items", v, sizeof v);
    CHECK_STR_EQ(v, "600");
    sql_on_server("SELECT count(*) FROM upgrade4.item_history", v, sizeof v);
    CHECK_STR_EQ(v, "651");
    CHECK_OK(am_store_open(t, NULL, &s, NULL));
    sql_on_server("SELECT version FROM upgrade4.am_schema", v, sizeof v);
    CHECK_STR_EQ(v, "7");
    /* tsv is generated from text now (version 7), its index made again. */
    sql_on_server("SELECT attgenerated FROM pg_attribute WHERE attrelid ="
                  " 'upgrade4.items'::regclass AND attname = 'tsv'", v,
                  sizeof v);
    CHECK_STR_EQ(v, "s");
    sql_on_server("SELECT array_to_string(reloptions, ',') FROM pg_class"
                  " WHERE oid = 'upgrade4.items_tsv'::regclass", v, sizeof v);
    CHECK_STR_EQ(v, "gin_pending_list_limit=256");
    sql_on_server(ROWS_DIGEST("upgrade4"), after, sizeof after);
    CHECK_STR_EQ(after, before);
    /* An old row's "add" is in item_history already (add_actor NULL): a
     * write in place appends its own event and moves nothing. */
    char ev[64];
    test_events(s, NS1("u"), "k300", ev, sizeof ev);
    CHECK_STR_EQ(ev, "add");
    CHECK_OK(am_store_put(s, &items[300]));
    test_events(s, NS1("u"), "k300", ev, sizeof ev);
    CHECK_STR_EQ(ev, "add update");
    sql_on_server("SELECT count(*) FROM upgrade4.item_history", v, sizeof v);
    CHECK_STR_EQ(v, "652");
    am_search q = { .ns = NS1("u"), .query = AM_STR("gooseberry"),
                    .mode = AM_SEARCH_TEXT, .limit = 5 };
    CHECK_OK_E(am_store_search(s, &q, &r), am_store_last_error(s));
    CHECK_EQ(r->count, 1);
    CHECK_EQ(r->items[0].key.len, 4);
    CHECK(memcmp(r->items[0].key.ptr, "k123", 4) == 0);
    am_results_free(r);
    /* Vectors came through too: the nearest to item 42's is item 42. */
    q = (am_search){ .ns = NS1("u"), .mode = AM_SEARCH_VECTOR, .limit = 1,
                     .vec = vecs[42], .dim = 2 };
    CHECK_OK_E(am_store_search(s, &q, &r), am_store_last_error(s));
    CHECK_EQ(r->count, 1);
    CHECK_EQ(r->items[0].key.len, 3);
    CHECK(memcmp(r->items[0].key.ptr, "k42", 3) == 0);
    am_results_free(r);
    am_store_close(s);
    free(items);
    free(keys);
    free(vals);
    free(vecs);
}

AM_TEST(schemas_keep_stores_apart)
{
    char a[512], b[512];
    am_store *sa, *sb;
    am_buf out = AM_BUF_INIT;
    target(a, sizeof a, "apart_a");
    snprintf(b, sizeof b, "%s?schema=apart_b", server());
    CHECK_OK(am_store_open(a, NULL, &sa, NULL));
    CHECK_OK(am_store_open(b, NULL, &sb, NULL));
    am_item_in it = { .ns = NS1("n"), .key = AM_STR("k"),
                      .value = AM_STR("\"a\"") };
    CHECK_OK(am_store_put(sa, &it));
    CHECK_ST(am_store_get(sb, NS1("n"), AM_STR("k"), &out), AM_ENOTFOUND);
    CHECK_OK(am_store_get(sa, NS1("n"), AM_STR("k"), &out));
    CHECK_STR_EQ(out.ptr, "\"a\"");
    am_store_close(sa);
    am_store_close(sb);
    am_buf_free(&out);
}

AM_TEST(vector_caches_follow_other_handles)
{
    char t[512];
    am_store *a, *b;
    am_results *r;
    target(t, sizeof t, "coherence");
    CHECK_OK(am_store_open(t, NULL, &a, NULL));
    CHECK_OK(am_store_open(t, NULL, &b, NULL));
    CHECK_OK(put_vec(a, "x", 1, 0));
    float q[2] = { 0, 1 };
    am_search s = { .ns = NS1("v"), .vec = q, .dim = 2,
                    .mode = AM_SEARCH_VECTOR, .limit = 1 };
    CHECK_OK(am_store_search(b, &s, &r)); /* b's cache: x only */
    CHECK_MEM_EQ(r->items[0].key.ptr, r->items[0].key.len, "x");
    am_results_free(r);
    /* Written by a, found by b's very next search. */
    CHECK_OK(put_vec(a, "y", 0, 1));
    CHECK_OK(am_store_search(b, &s, &r));
    CHECK_EQ(r->count, 1);
    CHECK_MEM_EQ(r->items[0].key.ptr, r->items[0].key.len, "y");
    am_results_free(r);
    /* Deleted by a: gone from b's results. */
    CHECK_OK(am_store_delete(a, NS1("v"), AM_STR("y")));
    CHECK_OK(am_store_search(b, &s, &r));
    CHECK_MEM_EQ(r->items[0].key.ptr, r->items[0].key.len, "x");
    am_results_free(r);
    /* Purged (a hard delete): b reloads and still answers. */
    size_t n = 0;
    CHECK_OK(am_store_purge(a, INT64_MAX, &n));
    CHECK_EQ(n, 1);
    CHECK_OK(am_store_search(b, &s, &r));
    CHECK_MEM_EQ(r->items[0].key.ptr, r->items[0].key.len, "x");
    am_results_free(r);
    am_store_close(a);
    am_store_close(b);
}

/* The key of the best vector match for (x, y) in namespace "v". */
static void best_match(am_store *s, float x, float y, char *key, size_t n)
{
    float q[2] = { x, y };
    am_search sq = { .ns = NS1("v"), .vec = q, .dim = 2,
                     .mode = AM_SEARCH_VECTOR, .limit = 1 };
    am_results *r = NULL;
    CHECK_OK(am_store_search(s, &sq, &r));
    CHECK_EQ(r->count, 1);
    snprintf(key, n, "%.*s", (int)r->items[0].key.len, r->items[0].key.ptr);
    am_results_free(r);
}

/* Rows reach a cache in the heap's order, not by id: a re-put row's new
 * version sits after newer rows (a full load), and a transaction that took
 * its id before another but commits after it shows up in a catch-up below
 * the cache's last id. Each must land at its id with its own vector. */
AM_TEST(vector_caches_take_rows_in_any_id_order)
{
    char t[512], key[32], want[32];
    am_store *a, *b, *c;
    enum { N = 40 };
    target(t, sizeof t, "idorder");
    CHECK_OK(am_store_open(t, NULL, &a, NULL));
    /* Direction i * 9 degrees for key i; every third one re-put later
     * with the direction of i + N (tuples move to the heap's end). */
    for (int i = 0; i < N; i++) {
        snprintf(key, sizeof key, "k%d", i);
        double th = i * 3.14159265 / (2 * N);
        CHECK_OK(put_vec(a, key, (float)cos(th), (float)sin(th)));
    }
    for (int i = 0; i < N; i += 3) {
        snprintf(key, sizeof key, "k%d", i);
        double th = (i + N) * 3.14159265 / (2 * N);
        CHECK_OK(put_vec(a, key, (float)cos(th), (float)sin(th)));
    }
    CHECK_OK(am_store_open(t, NULL, &b, NULL)); /* loads in full */
    for (int i = 0; i < 2 * N; i++) {
        double th = i * 3.14159265 / (2 * N);
        int k = i < N ? (i % 3 == 0 ? -1 : i) : (i - N) % 3 == 0 ? i - N : -1;
        if (k < 0)
            continue;
        best_match(b, (float)cos(th), (float)sin(th), key, sizeof key);
        snprintf(want, sizeof want, "k%d", k);
        CHECK_STR_EQ(key, want);
    }
    /* A late commit: plain libpq copies k1 as "late" in an open
     * transaction (taking the next id), a later id commits through `a`,
     * `b` catches up past it, then the transaction commits. */
    PGconn *raw = PQconnectdb(server());
    CHECK(PQstatus(raw) == CONNECTION_OK);
    PQclear(PQexec(raw, "BEGIN"));
    PGresult *r = PQexec(raw, "INSERT INTO idorder.items(ns, key, value, "
                         "text, doc_len, created_ms, updated_ms, "
                         "vec_model, vec) SELECT ns, 'late', value, text, "
                         "doc_len, created_ms, updated_ms, vec_model, "
                         "vec FROM idorder.items WHERE key = 'k1'");
    CHECK(PQresultStatus(r) == PGRES_COMMAND_OK);
    PQclear(r);
    CHECK_OK(put_vec(a, "after", -1, 0));
    best_match(b, -1, 0, key, sizeof key);
    CHECK_STR_EQ(key, "after");
    r = PQexec(raw, "COMMIT");
    CHECK(PQresultStatus(r) == PGRES_COMMAND_OK);
    PQclear(r);
    PQfinish(raw);
    /* "late" and k1 share a vector: both answer it, and nothing moved. */
    double th = 1 * 3.14159265 / (2 * N);
    float q[2] = { (float)cos(th), (float)sin(th) };
    am_search sq = { .ns = NS1("v"), .vec = q, .dim = 2,
                     .mode = AM_SEARCH_VECTOR, .limit = 2 };
    am_results *res = NULL;
    CHECK_OK(am_store_search(b, &sq, &res));
    CHECK_EQ(res->count, 2);
    int seen = 0;
    for (size_t i = 0; i < res->count; i++) {
        snprintf(key, sizeof key, "%.*s", (int)res->items[i].key.len,
                 res->items[i].key.ptr);
        seen |= strcmp(key, "late") == 0 ? 1 : strcmp(key, "k1") == 0 ? 2 : 0;
    }
    CHECK_EQ(seen, 3);
    am_results_free(res);
    /* A fresh handle agrees with the caught-up one everywhere. */
    CHECK_OK(am_store_open(t, NULL, &c, NULL));
    for (int i = 0; i < 2 * N; i++) {
        double ti = i * 3.14159265 / (2 * N);
        char kb[32], kc[32];
        best_match(b, (float)cos(ti), (float)sin(ti), kb, sizeof kb);
        best_match(c, (float)cos(ti), (float)sin(ti), kc, sizeof kc);
        if (strcmp(kb, "late") != 0 && strcmp(kb, "k1") != 0)
            CHECK_STR_EQ(kb, kc);
    }
    am_store_close(a);
    am_store_close(b);
    am_store_close(c);
}

#define PROCS 4
#define PUTS 250

AM_TEST(processes_writing_one_key_lose_nothing)
{
    char t[512];
    am_store *s;
    am_results *r;
    target(t, sizeof t, "procs");
    CHECK_OK(am_store_open(t, NULL, &s, NULL)); /* the schema */
    am_store_close(s);
    pid_t kids[PROCS];
    for (int p = 0; p < PROCS; p++) {
        kids[p] = fork();
        if (kids[p] == 0) {
            am_store *c;
            int bad = am_store_open(t, NULL, &c, NULL) != AM_OK;
            for (int i = 0; !bad && i < PUTS; i++) {
                char v[32], k[32];
                snprintf(v, sizeof v, "\"p%d-%d\"", p, i);
                snprintf(k, sizeof k, "own-%d-%d", p, i);
                am_item_in one = { .ns = NS1("c"), .key = AM_STR("shared"),
                                   .value = am_str_c(v) };
                am_item_in mine = { .ns = NS1("c"), .key = am_str_c(k),
                                    .value = am_str_c(v) };
                bad = am_store_put(c, &one) != AM_OK ||
                      am_store_put(c, &mine) != AM_OK;
                if (!bad && i % 5 == 4)
                    bad = am_store_delete(c, NS1("c"), am_str_c(k)) !=
                          AM_OK;
            }
            am_store_close(c);
            _exit(bad);
        }
    }
    for (int p = 0; p < PROCS; p++) {
        int ws = 0;
        CHECK(waitpid(kids[p], &ws, 0) == kids[p]);
        CHECK(WIFEXITED(ws) && WEXITSTATUS(ws) == 0);
    }
    /* Every put to the shared key is one history entry, and the value is
     * the last one of some process. */
    CHECK_OK(am_store_open(t, NULL, &s, NULL));
    CHECK_OK(am_store_history(s, NS1("c"), AM_STR("shared"), &r));
    CHECK_EQ(r->count, PROCS * PUTS);
    size_t adds = 0;
    for (size_t i = 0; i < r->count; i++)
        adds += r->items[i].event.len == 3;
    CHECK_EQ(adds, 1);
    am_results_free(r);
    am_buf out = AM_BUF_INIT;
    CHECK_OK(am_store_get(s, NS1("c"), AM_STR("shared"), &out));
    CHECK(strstr(out.ptr, "-249\"") != NULL);
    /* Own keys: 4/5 of them live, as the replay says. */
    CHECK_OK(am_store_list(s, NS1("c"), 10000, 0, &r));
    CHECK_EQ(r->count, 1 + PROCS * PUTS * 4 / 5);
    am_results_free(r);
    am_buf_free(&out);
    am_store_close(s);
}

/* Two processes write the same 3,000 keys (three batches each) in
 * opposite orders, three times over. Batches that lock their own key
 * ranges in turn deadlock (the server fails one write whole); both writes
 * lock in one global key order, so each waits for the other instead. */
#define BIG_KEYS 3000
#define BIG_ROUNDS 3

AM_TEST(large_writes_of_the_same_keys_in_opposite_orders_both_succeed)
{
    char t[512];
    am_store *s;
    am_results *r;
    target(t, sizeof t, "bigputs");
    CHECK_OK(am_store_open(t, NULL, &s, NULL)); /* the schema */
    am_store_close(s);
    pid_t kids[2];
    for (int p = 0; p < 2; p++) {
        kids[p] = fork();
        if (kids[p] == 0) {
            static char keys[BIG_KEYS][16], vals[BIG_KEYS][32];
            static am_item_in in[BIG_KEYS];
            static const am_str part[] = { { "big", 3 } };
            const am_ns ns = { part, 1 };
            am_store *c;
            int bad = am_store_open(t, NULL, &c, NULL) != AM_OK;
            for (int round = 0; !bad && round < BIG_ROUNDS; round++) {
                for (int i = 0; i < BIG_KEYS; i++) {
                    int k = p == 0 ? i : BIG_KEYS - 1 - i;
                    snprintf(keys[i], sizeof keys[i], "b%04d", k);
                    snprintf(vals[i], sizeof vals[i], "\"p%d r%d\"", p,
                             round);
                    in[i] = (am_item_in){ .ns = ns,
                                          .key = am_str_c(keys[i]),
                                          .value = am_str_c(vals[i]) };
                }
                if (am_store_put_many(c, in, BIG_KEYS) != AM_OK) {
                    fprintf(stderr, "process %d round %d: %s\n", p, round,
                            am_store_last_error(c)->msg);
                    bad = 1;
                }
            }
            am_store_close(c);
            _exit(bad);
        }
    }
    for (int p = 0; p < 2; p++) {
        int ws = 0;
        CHECK(waitpid(kids[p], &ws, 0) == kids[p]);
        CHECK(WIFEXITED(ws) && WEXITSTATUS(ws) == 0);
    }
    /* Every put is one history entry; each key's value is a last round's. */
    CHECK_OK(am_store_open(t, NULL, &s, NULL));
    am_buf out = AM_BUF_INIT;
    for (int k = 0; k < BIG_KEYS; k += 499) {
        char key[16];
        snprintf(key, sizeof key, "b%04d", k);
        CHECK_OK(am_store_history(s, NS1("big"), am_str_c(key), &r));
        CHECK_EQ(r->count, 2 * BIG_ROUNDS);
        am_results_free(r);
        CHECK_OK(am_store_get(s, NS1("big"), am_str_c(key), &out));
        CHECK(strstr(out.ptr, " r2\"") != NULL);
    }
    CHECK_OK(am_store_list(s, NS1("big"), 10000, 0, &r));
    CHECK_EQ(r->count, BIG_KEYS);
    am_results_free(r);
    am_buf_free(&out);
    am_store_close(s);
}

/* ---- 4 processes x 1,000 mixed operations, checked against a replay ----
 *
 * Each process runs a fixed pseudo-random sequence over its own 50 keys
 * (puts, deletes, text searches) and the one shared key. Its own keys are
 * written by nobody else, so the process knows what a search must find
 * at every step (read-your-writes across the handle's connection); the
 * parent replays every sequence and checks the final counts, values,
 * histories and searches. */
#define MIX_OPS 1000
#define MIX_KEYS 50

typedef struct mix_state {
    int live[MIX_KEYS];
    int events[MIX_KEYS]; /* history entries: puts and deletes */
    int last[MIX_KEYS];   /* op index of the last put */
    int shared;           /* puts to the shared key */
} mix_state;

static uint64_t mix_next(uint64_t *r)
{
    uint64_t z = (*r += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Word for key j of process p: a token no other key's text holds, ending
 * in 'x' so that English stemming leaves it whole ("...as" and "...ae"
 * would both become "...a"). */
static void mix_word(char *w, size_t n, int p, int j)
{
    snprintf(w, n, "tok%cq%c%cx", 'a' + p, 'a' + j / 26, 'a' + j % 26);
}

/* Run (c != NULL) or only replay (c NULL) process p's sequence. Returns
 * the number of failed operations or wrong search answers. */
static int mix_run(am_store *c, int p, mix_state *st)
{
    uint64_t r = 1000 + (uint64_t)p;
    int bad = 0;
    memset(st, 0, sizeof *st);
    for (int i = 0; i < MIX_OPS; i++) {
        int op = (int)(mix_next(&r) % 10);
        int j = (int)(mix_next(&r) % MIX_KEYS);
        char k[16], w[16], v[64];
        snprintf(k, sizeof k, "k%d-%d", p, j);
        mix_word(w, sizeof w, p, j);
        if (op < 5 || (op < 7 && !st->live[j])) {
            snprintf(v, sizeof v, "\"%s op%d\"", w, i);
            am_item_in it = { .ns = NS1("mix"), .key = am_str_c(k),
                              .value = am_str_c(v) };
            if (c != NULL && am_store_put(c, &it) != AM_OK) {
                bad++;
                fprintf(stderr, "p%d op %d put: %s\n", p, i,
                        am_store_last_error(c)->msg);
            }
            st->live[j] = 1;
            st->events[j]++;
            st->last[j] = i;
        } else if (op < 7) {
            if (c != NULL &&
                am_store_delete(c, NS1("mix"), am_str_c(k)) != AM_OK) {
                bad++;
                fprintf(stderr, "p%d op %d delete: %s\n", p, i,
                        am_store_last_error(c)->msg);
            }
            st->live[j] = 0;
            st->events[j]++;
        } else if (op < 8) {
            snprintf(v, sizeof v, "\"shared p%d op%d\"", p, i);
            am_item_in it = { .ns = NS1("mix"), .key = AM_STR("shared"),
                              .value = am_str_c(v) };
            if (c != NULL && am_store_put(c, &it) != AM_OK) {
                bad++;
                fprintf(stderr, "p%d op %d shared put: %s\n", p, i,
                        am_store_last_error(c)->msg);
            }
            st->shared++;
        } else if (c != NULL) {
            am_results *res = NULL;
            am_search q = { .ns = NS1("mix"), .query = am_str_c(w),
                            .mode = AM_SEARCH_TEXT, .limit = 5 };
            if (am_store_search(c, &q, &res) != AM_OK) {
                bad++;
                fprintf(stderr, "p%d op %d search: %s\n", p, i,
                        am_store_last_error(c)->msg);
                continue;
            }
            int found = res->count == 1 &&
                        res->items[0].key.len == strlen(k) &&
                        memcmp(res->items[0].key.ptr, k, strlen(k)) == 0;
            if (found != st->live[j] || res->count > (size_t)st->live[j]) {
                bad++;
                fprintf(stderr, "p%d op %d search '%s': %zu results, "
                        "want %d\n", p, i, w, res->count, st->live[j]);
            }
            am_results_free(res);
        }
    }
    return bad;
}

AM_TEST(four_processes_of_mixed_operations_match_a_replay)
{
    enum { P = 4 };
    char t[512];
    am_store *s;
    am_results *r;
    mix_state st[P];
    target(t, sizeof t, "mix");
    CHECK_OK(am_store_open(t, NULL, &s, NULL)); /* the schema */
    am_store_close(s);
    pid_t kids[P];
    for (int p = 0; p < P; p++) {
        kids[p] = fork();
        if (kids[p] == 0) {
            am_store *c;
            mix_state mine;
            int bad = am_store_open(t, NULL, &c, NULL) != AM_OK;
            if (!bad)
                bad = mix_run(c, p, &mine);
            if (bad)
                fprintf(stderr, "process %d: %d operations failed or "
                        "searched wrong\n", p, bad);
            am_store_close(c);
            _exit(bad != 0);
        }
    }
    for (int p = 0; p < P; p++) {
        int ws = 0;
        CHECK(waitpid(kids[p], &ws, 0) == kids[p]);
        CHECK(WIFEXITED(ws) && WEXITSTATUS(ws) == 0);
    }
    CHECK_OK(am_store_open(t, NULL, &s, NULL));
    size_t live = 0;
    int shared = 0;
    am_buf out = AM_BUF_INIT;
    for (int p = 0; p < P; p++) {
        CHECK_EQ(mix_run(NULL, p, &st[p]), 0);
        shared += st[p].shared;
        for (int j = 0; j < MIX_KEYS; j++) {
            char k[16], w[16], want[64];
            snprintf(k, sizeof k, "k%d-%d", p, j);
            mix_word(w, sizeof w, p, j);
            live += (size_t)st[p].live[j];
            am_status gs = am_store_get(s, NS1("mix"), am_str_c(k), &out);
            if (st[p].live[j]) {
                CHECK_OK(gs);
                snprintf(want, sizeof want, "\"%s op%d\"", w, st[p].last[j]);
                CHECK_STR_EQ(out.ptr, want);
            } else {
                CHECK_EQ(gs, AM_ENOTFOUND);
            }
            if (st[p].events[j] > 0) {
                CHECK_OK(am_store_history(s, NS1("mix"), am_str_c(k), &r));
                CHECK_EQ(r->count, (size_t)st[p].events[j]);
                am_results_free(r);
            }
            am_search q = { .ns = NS1("mix"), .query = am_str_c(w),
                            .mode = AM_SEARCH_TEXT, .limit = 5 };
            CHECK_OK(am_store_search(s, &q, &r));
            CHECK_EQ(r->count, (size_t)st[p].live[j]);
            am_results_free(r);
        }
    }
    CHECK_OK(am_store_list(s, NS1("mix"), 10000, 0, &r));
    CHECK_EQ(r->count, live + (shared > 0));
    am_results_free(r);
    CHECK_OK(am_store_history(s, NS1("mix"), AM_STR("shared"), &r));
    CHECK_EQ(r->count, (size_t)shared);
    am_results_free(r);
    am_buf_free(&out);
    am_store_close(s);
}

AM_TEST(server_restart_fails_clearly_then_recovers)
{
    char t[512], cmd[1024];
    am_store *s;
    am_buf out = AM_BUF_INIT;
    const char *run = getenv("AM_TEST_PG_RUN");
    CHECK(run != NULL);
    target(t, sizeof t, "restart");
    CHECK_OK(am_store_open(t, NULL, &s, NULL));
    am_item_in it = { .ns = NS1("r"), .key = AM_STR("k"),
                      .value = AM_STR("\"acked\"") };
    CHECK_OK(am_store_put(s, &it));
    snprintf(cmd, sizeof cmd, "bash '%s' --ctl stop", run);
    CHECK_EQ(system(cmd), 0);
    CHECK_ST(am_store_get(s, NS1("r"), AM_STR("k"), &out), AM_EIO);
    CHECK(strstr(am_store_last_error(s)->msg, "postgresql://") != NULL);
    CHECK(am_store_put(s, &it) == AM_EIO);
    snprintf(cmd, sizeof cmd, "bash '%s' --ctl start", run);
    CHECK_EQ(system(cmd), 0);
    CHECK_OK(am_store_get(s, NS1("r"), AM_STR("k"), &out));
    CHECK_STR_EQ(out.ptr, "\"acked\"");
    it.value = AM_STR("\"after\"");
    CHECK_OK(am_store_put(s, &it));
    am_store_close(s);
    am_buf_free(&out);
}
