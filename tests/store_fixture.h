/* store_fixture.h -- what the store's test files share (test_store.c,
 * test_store_search.c, test_store_files.c, test_store_oom.c,
 * test_store_filter.c, test_store_io.c): a store on a test clock, opened
 * through store_target.h so that the same suites run on SQLite and on
 * PostgreSQL, short-hand namespaces and a one-call put. Time is a test
 * clock; nothing sleeps. */
#ifndef AM_TEST_STORE_FIXTURE_H
#define AM_TEST_STORE_FIXTURE_H

#include <stdlib.h>
#include <string.h>

#include "agentmem/store.h"
#include "core/core.h"
#include "harness.h"
#include "store_target.h"

typedef struct fixture {
    test_clock tc;
    am_clock clk;
    am_store *s;
    am_embedder *emb;
    char *dir;
    char path[512];
} fixture;

/* Open a fresh store `name` in a new temporary directory (or on the
 * backend AM_TEST_STORE names), its clock at 1,000,000 ms; with
 * `with_embedder`, a 64-dimension hash embedder too. */
static inline void fx_open_named(fixture *f, const char *name,
                                 int with_embedder)
{
    am_error err = { AM_OK, "" };
    memset(f, 0, sizeof *f);
    f->tc.now_ms = 1000000;
    f->clk = test_clock_make(&f->tc);
    f->dir = test_tmpdir();
    test_store_target(f->dir, name, f->path, sizeof f->path);
    am_store_opts o = am_store_opts_default();
    o.clock = &f->clk;
    if (with_embedder) {
        CHECK_OK(am_embedder_hash_create(64, NULL, &f->emb, &err));
        o.embedder = f->emb;
    }
    CHECK_OK_E(am_store_open(f->path, &o, &f->s, &err), &err);
}

static inline void fx_open(fixture *f, int with_embedder)
{
    fx_open_named(f, "t.db", with_embedder);
}

static inline void fx_close(fixture *f)
{
    am_store_close(f->s);
    am_embedder_free(f->emb);
    test_rmtree(f->dir);
    free(f->dir);
}

#define NS1(a) ((am_ns){ (const am_str[]){ AM_STR(a) }, 1 })
#define NS2(a, b) ((am_ns){ (const am_str[]){ AM_STR(a), AM_STR(b) }, 2 })

static inline am_status put(am_store *s, am_ns ns, const char *key,
                            const char *value, int64_t ttl)
{
    am_item_in it = { 0 };
    it.ns = ns;
    it.key = am_str_c(key);
    it.value = am_str_c(value);
    it.ttl_ms = ttl;
    return am_store_put(s, &it);
}

#endif
