/* test_alloc_route.c -- every allocation of a handle goes through the
 * allocator given in its options, never the default one.
 *
 * This executable is linked with -Wl,--wrap=malloc (and calloc, realloc;
 * see CMakeLists.txt): every call to those functions from the objects
 * linked statically into it -- the whole library, whose only caller of
 * malloc is the default allocator (scripts/checksrc.py holds that) -- goes
 * through the __wrap_ functions below, which count while a test has armed
 * them. The shared libraries we depend on (SQLite, jansson, zstd, libc's
 * own internals) call their malloc directly and are not counted: the
 * library does not route those (docs/RELIABILITY.md says why).
 *
 * So a test creates a handle with its own counting allocator (which calls
 * __real_malloc, unseen by the counter), arms the counter, uses the
 * handle, frees it, and checks that the default allocator was called zero
 * times while the user's allocator saw every block come back.
 */
#include <execinfo.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "agentmem/embed.h"
#include "agentmem/msg.h"
#include "agentmem/providers.h"
#include "agentmem/react.h"
#include "agentmem/sessions.h"
#include "agentmem/tokens.h"
#include "agentmem/window.h"

/* ---- The wrapped malloc: counts the default allocator's calls ---- */

void *__real_malloc(size_t size);
void *__real_calloc(size_t count, size_t size);
void *__real_realloc(void *ptr, size_t size);

static atomic_int armed;
static atomic_long raw_calls;

/* AM_ROUTE_TRACE=1 prints where each counted call came from. */
static void counted(void)
{
    void *frames[12];
    atomic_fetch_add(&raw_calls, 1);
    if (getenv("AM_ROUTE_TRACE") != NULL) {
        int n = backtrace(frames, 12);
        backtrace_symbols_fd(frames, n, 2);
        (void)!write(2, "--\n", 3);
    }
}

void *__wrap_malloc(size_t size);
void *__wrap_calloc(size_t count, size_t size);
void *__wrap_realloc(void *ptr, size_t size);

void *__wrap_malloc(size_t size)
{
    if (atomic_load(&armed))
        counted();
    return __real_malloc(size);
}

void *__wrap_calloc(size_t count, size_t size)
{
    if (atomic_load(&armed))
        counted();
    return __real_calloc(count, size);
}

void *__wrap_realloc(void *ptr, size_t size)
{
    if (atomic_load(&armed))
        counted();
    return __real_realloc(ptr, size);
}

/* ---- The user's allocator: counts blocks, never seen by the wrap ---- */

typedef struct user_alloc {
    atomic_long calls;  /* alloc + realloc */
    atomic_long blocks; /* live blocks */
} user_alloc;

static void *ua_alloc(void *ctx, size_t size)
{
    user_alloc *u = ctx;
    void *p = __real_malloc(size);
    atomic_fetch_add(&u->calls, 1);
    if (p != NULL)
        atomic_fetch_add(&u->blocks, 1);
    return p;
}

static void *ua_realloc(void *ctx, void *ptr, size_t old_size,
                        size_t new_size)
{
    user_alloc *u = ctx;
    (void)old_size;
    atomic_fetch_add(&u->calls, 1);
    return __real_realloc(ptr, new_size);
}

static void ua_free(void *ctx, void *ptr, size_t size)
{
    user_alloc *u = ctx;
    (void)size;
    atomic_fetch_sub(&u->blocks, 1);
    free(ptr); /* free is not wrapped */
}

static am_allocator ua_make(user_alloc *u)
{
    am_allocator a = { ua_alloc, ua_realloc, ua_free, u };
    atomic_store(&u->calls, 0);
    atomic_store(&u->blocks, 0);
    return a;
}

/* The one allocation that belongs to no handle: the built-in model
 * catalog (models.json), parsed once per process on first use, shared by
 * every handle and never freed. Build it before counting. */
static void warm_builtin_catalog(void)
{
    am_model_info info;
    (void)am_models_lookup(NULL, AM_STR("gpt-4o"), &info);
}

static void arm(void)
{
    warm_builtin_catalog();
    atomic_store(&raw_calls, 0);
    atomic_store(&armed, 1);
}

/* Disarm and check: the default allocator saw nothing, the user's saw
 * every block and got each one back. */
static void disarm_and_check(const char *what, const user_alloc *u)
{
    atomic_store(&armed, 0);
    long raw = atomic_load(&raw_calls);
    if (raw != 0 || atomic_load(&u->calls) == 0 ||
        atomic_load(&u->blocks) != 0)
        fail_msg("%s: %ld allocations bypassed the user's allocator; the "
                 "user's saw %ld, %ld blocks not returned", what, raw,
                 atomic_load(&u->calls), atomic_load(&u->blocks));
}

/* The wrap itself works: a direct malloc here is counted (else every
 * other test in this file would pass without looking). */
AM_TEST(the_wrap_sees_the_default_allocator)
{
    am_buf b = AM_BUF_INIT; /* NULL alloc: the default allocator */
    arm();
    CHECK_OK(am_buf_append(&b, "x", 1));
    atomic_store(&armed, 0);
    CHECK(atomic_load(&raw_calls) >= 1);
    am_buf_free(&b);
}

/* ---- The embedders ---- */

AM_TEST(built_in_embedders_allocate_through_the_given_allocator)
{
    user_alloc u;
    am_allocator a = ua_make(&u);
    am_embed_opts o = am_embed_opts_default();
    am_embedder *e = NULL;
    am_str t[2] = { AM_STR("the cat sat"), AM_STR("on the mat") };
    float v[2 * 64];

    o.alloc = &a;
    arm();
    CHECK_OK(am_embedder_hash_create(64, &o, &e, NULL));
    CHECK_OK(am_embedder_embed(e, t, 2, v, NULL));
    am_embedder_free(e);
    disarm_and_check("hash embedder", &u);
}

AM_TEST(the_default_embedder_allocates_through_the_given_allocator)
{
    user_alloc u;
    am_allocator a = ua_make(&u);
    am_embed_opts o = am_embed_opts_default();
    am_embedder *e = NULL;
    am_error err = { AM_OK, "" };
    am_str t[1] = { AM_STR("a quiet walk by the river") };
    float v[100];

    o.alloc = &a;
    arm();
    CHECK_OK_E(am_embedder_default_create(&o, &e, &err), &err);
    CHECK(e->dim <= 100);
    CHECK_OK(am_embedder_embed(e, t, 1, v, NULL));
    am_embedder_free(e);
    disarm_and_check("default (word-vector) embedder", &u);
}

AM_TEST(the_http_embedder_allocates_through_the_given_allocator)
{
    user_alloc u;
    am_allocator a = ua_make(&u);
    am_openai_embed_opts o = am_openai_embed_opts_default();
    am_embedder *e = NULL;
    am_error err = { AM_OK, "" };

    o.alloc = &a;
    o.base_url = "http://127.0.0.1:9/v1"; /* never called: dim is given */
    o.model = "m";
    o.api_key = "k";
    o.dim = 8;
    arm();
    CHECK_OK_E(am_embedder_openai_create(&o, &e, &err), &err);
    am_embedder_free(e);
    disarm_and_check("HTTP embedder", &u);
}

/* ---- Sessions ---- */

AM_TEST(sessions_allocate_through_the_given_allocator)
{
    char *dir = test_tmpdir();
    char sub[600];
    user_alloc u;
    am_allocator a = ua_make(&u);
    am_sessions_opts so = am_sessions_opts_default();
    am_react_opts ro = am_react_opts_default();
    am_sessions *ss = NULL;
    am_react *mem = NULL, *back = NULL;
    am_buf list = AM_BUF_INIT;

    snprintf(sub, sizeof sub, "%s/a/b", dir); /* made with its parents */
    so.alloc = ro.alloc = list.alloc = &a;
    arm();
    CHECK_OK(am_sessions_open(sub, &so, &ss, NULL));
    CHECK_OK(am_react_create(&ro, &mem, NULL));
    CHECK_OK(am_react_create(&ro, &back, NULL));
    CHECK_OK(am_react_add_message(mem, AM_STR("user"), AM_STR("hello")));
    CHECK_OK_E(am_sessions_save(ss, AM_STR("s1"), mem),
               am_sessions_last_error(ss));
    CHECK_OK(am_sessions_save(ss, AM_STR("s2"), mem));
    CHECK_OK(am_sessions_list(ss, &list));
    CHECK_MEM_EQ(list.ptr, list.len, "[\"s1\",\"s2\"]");
    CHECK_OK(am_sessions_load(ss, AM_STR("s1"), back));
    CHECK_EQ(am_react_message_count(back), 1);
    CHECK_ST(am_sessions_load(ss, AM_STR("none"), back), AM_ENOTFOUND);
    CHECK_OK(am_sessions_delete(ss, AM_STR("s2")));
    am_buf_free(&list);
    am_react_free(back);
    am_react_free(mem);
    am_sessions_close(ss);
    disarm_and_check("sessions", &u);
    test_rmtree(dir);
    free(dir);
}

/* ---- Summaries and the memory manager ---- */

static am_msg *text_msg(const am_allocator *a, am_role role, const char *t)
{
    am_msg_opts mo = am_msg_opts_default();
    am_msg *m = NULL;
    mo.alloc = a;
    CHECK_OK(am_msg_create_text(&mo, role, am_str_c(t), &m, NULL));
    return m;
}

/* The memory manager's built-in offline summarizer, its compressions,
 * its context, its export and import, all with the manager's allocator;
 * and am_summarize's own offline summarizer with the call's. */
AM_TEST(memory_manager_and_summaries_allocate_through_the_given_allocator)
{
    user_alloc u;
    am_allocator a = ua_make(&u);
    am_memory_opts o = am_memory_opts_default();
    am_memory *mem = NULL, *copy = NULL;
    am_msg_list ctx = AM_MSG_LIST_INIT;
    am_buf doc = AM_BUF_INIT;
    am_msg *ms[24];
    am_summarize_opts so = am_summarize_opts_default();
    am_summarize_result res;
    char text[200];

    memset(&res, 0, sizeof res);
    o.alloc = &a;
    o.config.compression_threshold = 300;
    o.config.short_term_size = 4;
    o.config.strategy = AM_COMPRESS_SLIDING_WINDOW;
    ctx.alloc = &a;
    doc.alloc = &a;
    res.summary.alloc = &a;
    res.messages.alloc = &a;
    so.alloc = &a;
    so.keep_last = 4;
    arm();
    CHECK_OK(am_memory_create(&o, &mem, NULL));
    for (int i = 0; i < 24; i++) {
        snprintf(text, sizeof text, "Message %d: the order 10%d for Alice "
                 "ships on 2024-03-%02d from Berlin, decided by Bob.", i,
                 i, i + 1);
        ms[i] = text_msg(&a, i % 2 ? AM_ROLE_ASSISTANT : AM_ROLE_USER,
                         text);
        CHECK_OK_E(am_memory_add(mem, ms[i], NULL), am_memory_last_error(mem));
    }
    CHECK(am_memory_stats_json(mem, &doc) == AM_OK);
    CHECK_OK(am_memory_context(mem, &ctx));
    CHECK(ctx.count > 0 && ctx.count < 24); /* it compressed */
    CHECK_OK(am_memory_export(mem, &doc));
    CHECK_OK(am_memory_create(&o, &copy, NULL));
    CHECK_OK_E(am_memory_import(copy, am_buf_str(&doc)),
               am_memory_last_error(copy));
    CHECK_OK(am_summarize((const am_msg *const *)ms, 24, &so, &res, NULL));
    CHECK(res.summarized_count > 0);
    am_summarize_result_free(&res);
    for (int i = 0; i < 24; i++)
        am_msg_free(ms[i]);
    am_msg_list_free(&ctx);
    am_buf_free(&doc);
    am_memory_free(copy);
    am_memory_free(mem);
    disarm_and_check("memory manager", &u);
}

/* A summarizer made with am_summarizer_offline / am_summarizer_create
 * and the user's allocator: the handle and each run's scratch. */
static am_status echo_summary(void *ctx, am_str previous,
                              const am_msg *const *msgs, size_t count,
                              size_t budget, am_buf *out, am_error *err)
{
    (void)ctx; (void)previous; (void)msgs; (void)budget; (void)err;
    return am_buf_appendf(out, "%zu messages", count);
}

AM_TEST(summarizers_allocate_through_the_given_allocator)
{
    user_alloc u;
    am_allocator a = ua_make(&u);
    am_summarizer_opts so = am_summarizer_opts_default();
    am_summarizer_vtable vt = { .summarize = echo_summary };
    am_summarizer *off = NULL, *mine = NULL;
    am_msg *ms[6];
    am_buf out = AM_BUF_INIT;
    out.alloc = &a;
    so.alloc = &a;
    so.markers = AM_STR("urgent");
    so.input_limit = 600; /* small pieces: the piecewise driver runs */
    arm();
    for (int i = 0; i < 6; i++)
        ms[i] = text_msg(&a, i % 2 ? AM_ROLE_ASSISTANT : AM_ROLE_USER,
                         "Alice ships order 1042 to Berlin on 2024-03-02; "
                         "urgent, decided by Bob.");
    CHECK_OK(am_summarizer_offline(&so, &off, NULL));
    CHECK_OK(am_summarizer_create(&vt, NULL, &so, &mine, NULL));
    CHECK_OK(am_summarizer_run(off, AM_STR(""), (const am_msg *const *)ms,
                               6, 200, &out, NULL));
    CHECK(out.len > 0);
    am_buf_clear(&out);
    CHECK_OK(am_summarizer_run(mine, AM_STR(""), (const am_msg *const *)ms,
                               6, 100, &out, NULL));
    CHECK(out.len > 0);
    am_summarizer_free(off);
    am_summarizer_free(mine);
    for (int i = 0; i < 6; i++)
        am_msg_free(ms[i]);
    am_buf_free(&out);
    disarm_and_check("summarizers", &u);
}

AM_TEST(the_llm_summarizer_allocates_through_the_given_allocator)
{
    user_alloc u;
    am_allocator a = ua_make(&u);
    am_llm_opts lo = am_llm_opts_default();
    am_llm_summarizer_opts so;
    am_llm *llm = NULL;
    am_summarizer *s = NULL;

    memset(&so, 0, sizeof so);
    lo.alloc = &a;
    lo.base_url = "http://127.0.0.1:9/v1"; /* never called */
    lo.model = "gpt-4o-mini";
    lo.api_key = "k";
    so.alloc = &a;
    so.instructions = "Summarize.";
    arm();
    CHECK_OK(am_llm_create(&lo, &llm, NULL));
    CHECK_OK(am_summarizer_llm(llm, &so, &s, NULL));
    am_summarizer_free(s);
    am_llm_free(llm);
    disarm_and_check("LLM summarizer", &u);
}

/* ---- Tokens ---- */

/* Batch counting on two threads makes a cache per extra thread: with the
 * encoding's allocator (thread-safe here: atomics and malloc). */
AM_TEST(token_batches_and_tool_counts_allocate_through_the_given_allocator)
{
    user_alloc u;
    am_allocator a = ua_make(&u);
    am_encoding_opts eo = am_encoding_opts_default();
    am_tokenizer_opts to = am_tokenizer_opts_default();
    am_token_cache_opts co = am_token_cache_opts_default();
    am_encode_opts xo;
    am_encoding *enc = NULL;
    am_token_cache *cache = NULL;
    am_tokenizer *tz = NULL;
    am_str texts[64];
    size_t counts[64], total = 0;
    char buf[64][40];

    memset(&xo, 0, sizeof xo);
    eo.alloc = to.alloc = co.alloc = &a;
    co.entries = 64;
    for (int i = 0; i < 64; i++) {
        snprintf(buf[i], sizeof buf[i], "text number %d, counted twice", i);
        texts[i] = am_str_c(buf[i]);
    }
    arm();
    CHECK_OK(am_encoding_create("o200k_base", &eo, &enc, NULL));
    CHECK_OK(am_token_cache_create(enc, &co, &cache, NULL));
    xo.cache = cache;
    CHECK_OK(am_encoding_count_batch(enc, texts, 64, &xo, 2, counts, NULL));
    CHECK(counts[0] > 0);
    CHECK_OK(am_tokenizer_create(AM_STR("gpt-4o"), &to, &tz, NULL));
    CHECK_OK(am_tokenizer_count_tools_json(tz, AM_STR(
        "[{\"type\":\"function\",\"function\":{\"name\":\"f\","
        "\"parameters\":{\"type\":\"object\",\"properties\":"
        "{\"q\":{\"type\":\"string\"}}}}}]"), &total, NULL));
    CHECK(total > 0);
    am_tokenizer_free(tz);
    am_token_cache_free(cache);
    am_encoding_free(enc);
    disarm_and_check("tokens", &u);
}
