/* test_promises_mt.c -- the thread-safety promises of the headers, held
 * under ThreadSanitizer (`make tsan`).
 *
 * Each test shares one handle between THREADS threads that make calls
 * which fail on purpose, with a failure that names something only that
 * thread used (a key, an index, a byte position). After each failure the
 * thread reads am_x_last_error() and must find its own detail: the
 * promise is that a thread's detail stays put until its next call on the
 * handle, whatever the others do. Results that outlive the handle's lock
 * (a tiers item's tags and strings) are copies the caller owns, checked
 * after other threads have reallocated the handle's buffers.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agentmem/conv.h"
#include "agentmem/providers.h"
#include "agentmem/react.h"
#include "agentmem/sessions.h"
#include "agentmem/store.h"
#include "agentmem/tiers.h"
#include "agentmem/window.h"
#include "harness.h"

#define THREADS 4
#define ROUNDS 300

typedef struct job {
    void *h;        /* the shared handle */
    int id;
    int failures;
} job;

/* Run `fn` on THREADS threads sharing `h`; the summed failure count. */
static int run_threads(void *(*fn)(void *), void *h)
{
    pthread_t th[THREADS];
    job jobs[THREADS];
    int failures = 0;

    for (int i = 0; i < THREADS; i++) {
        jobs[i] = (job){ h, i, 0 };
        CHECK_EQ(pthread_create(&th[i], NULL, fn, &jobs[i]), 0);
    }
    for (int i = 0; i < THREADS; i++) {
        pthread_join(th[i], NULL);
        failures += jobs[i].failures;
    }
    return failures;
}

/* The thread's own detail must name `want` (and keep naming it). */
static void expect_detail(job *j, const am_error *e, am_status code,
                          const char *want)
{
    if (e == NULL || e->code != code || strstr(e->msg, want) == NULL) {
        j->failures++;
        fprintf(stderr, "thread %d: wanted '%s' (%s), got '%s' (%s)\n",
                j->id, want, am_status_str(code),
                e != NULL ? e->msg : "(NULL)",
                e != NULL ? am_status_str(e->code) : "-");
    }
}

/* ---- Store ---- */

static void *store_worker(void *arg)
{
    job *j = arg;
    am_store *s = j->h;
    am_str part = AM_STR("mt");
    am_ns ns = { &part, 1 };
    am_buf v = AM_BUF_INIT;
    char key[48];

    for (int i = 0; i < ROUNDS; i++) {
        am_item_in it = { 0 };
        snprintf(key, sizeof key, "have-%d-%d", j->id, i);
        it.ns = ns;
        it.key = am_str_c(key);
        it.value = AM_STR("{\"n\":1}");
        if (am_store_put(s, &it) != AM_OK)
            j->failures++;
        snprintf(key, sizeof key, "missing-%d-%d", j->id, i);
        if (am_store_get(s, ns, am_str_c(key), &v) != AM_ENOTFOUND)
            j->failures++;
        const am_error *e = am_store_last_error(s);
        /* A success by this thread does not erase its last failure. */
        snprintf(key, sizeof key, "have-%d-%d", j->id, i);
        if (am_store_get(s, ns, am_str_c(key), &v) != AM_OK)
            j->failures++;
        snprintf(key, sizeof key, "missing-%d-%d", j->id, i);
        expect_detail(j, e, AM_ENOTFOUND, key);
    }
    am_buf_free(&v);
    return NULL;
}

AM_TEST(store_errors_are_per_thread)
{
    am_store *s = NULL;

    CHECK_OK(am_store_open(":memory:", NULL, &s, NULL));
    CHECK_EQ(run_threads(store_worker, s), 0);
    am_store_close(s);
    CHECK_EQ(am_store_last_error(NULL)->code, AM_EINVAL);
}

/* ---- Tiers ---- */

static void *tiers_worker(void *arg)
{
    job *j = arg;
    am_tiers *t = j->h;
    am_tier_item info = AM_TIER_ITEM_INIT;
    am_str many[40];
    char names[40][16], id[48];

    for (int k = 0; k < 40; k++) {
        snprintf(names[k], sizeof names[k], "t%d-%d", j->id, k);
        many[k] = am_str_c(names[k]);
    }
    for (int i = 0; i < ROUNDS; i++) {
        /* Items with more and more tags: the handle's own tag scratch
         * grows under the other threads' feet. */
        am_tier_item_in in = am_tier_item_in_default();
        snprintf(id, sizeof id, "mine-%d-%d", j->id, i);
        in.content = AM_STR("payload");
        in.tags = many;
        in.tag_count = 1 + (size_t)(i % 40);
        if (am_tiers_store(t, am_str_c(id), &in) != AM_OK)
            j->failures++;
        if (am_tiers_retrieve(t, AM_STR("shared"), NULL, &info) != AM_OK)
            j->failures++;
        /* Other threads call in between; our copy must not change. */
        am_tiers_peek(t, am_str_c(id), NULL, NULL);
        if (info.tag_count != 3 ||
            info.tags[0].len != 5 || memcmp(info.tags[0].ptr, "alpha", 5) ||
            info.tags[2].len != 5 || memcmp(info.tags[2].ptr, "gamma", 5) ||
            info.id.len != 6 || memcmp(info.id.ptr, "shared", 6) ||
            info.content.len != 4 || memcmp(info.content.ptr, "body", 4))
            j->failures++;
        snprintf(id, sizeof id, "absent-%d-%d", j->id, i);
        if (am_tiers_retrieve(t, am_str_c(id), NULL, NULL) != AM_ENOTFOUND)
            j->failures++;
        const am_error *e = am_tiers_last_error(t);
        am_tiers_count(t);
        expect_detail(j, e, AM_ENOTFOUND, id);
    }
    am_tier_item_free(&info);
    return NULL;
}

AM_TEST(tiers_items_are_copies_and_errors_are_per_thread)
{
    am_tiers_opts o = am_tiers_opts_default();
    am_tier_item_in in = am_tier_item_in_default();
    am_str tags[] = { AM_STR("alpha"), AM_STR("beta"), AM_STR("gamma") };
    am_tier_item keep = AM_TIER_ITEM_INIT;
    am_tiers *t = NULL;

    CHECK_OK(am_tiers_open(&o, &t, NULL));
    in.content = AM_STR("body");
    in.tags = tags;
    in.tag_count = 3;
    in.importance = 1.0;
    CHECK_OK(am_tiers_store(t, AM_STR("shared"), &in));
    CHECK_EQ(run_threads(tiers_worker, t), 0);
    /* A copy outlives even the handle. */
    CHECK_OK(am_tiers_peek(t, AM_STR("shared"), NULL, &keep));
    CHECK_OK(am_tiers_close(t, NULL));
    CHECK_MEM_EQ(keep.tags[1].ptr, keep.tags[1].len, "beta");
    CHECK_MEM_EQ(keep.content.ptr, keep.content.len, "body");
    am_tier_item_free(&keep);
    CHECK_EQ(am_tiers_last_error(NULL)->code, AM_EINVAL);
}

/* ---- Conversations ---- */

static void *conv_worker(void *arg)
{
    job *j = arg;
    am_conv *c = j->h;
    am_msg *m = NULL;
    char want[48];

    for (int i = 0; i < ROUNDS; i++) {
        size_t at = 1000000u + (size_t)j->id * 10000u + (size_t)i;
        if (am_conv_add_text(c, AM_ROLE_USER, AM_STR("hi")) != AM_OK)
            j->failures++;
        if (am_conv_get(c, at, &m) != AM_ENOTFOUND)
            j->failures++;
        const am_error *e = am_conv_last_error(c);
        am_conv_count(c);
        snprintf(want, sizeof want, "message %zu", at);
        expect_detail(j, e, AM_ENOTFOUND, want);
    }
    return NULL;
}

AM_TEST(conv_errors_are_per_thread)
{
    am_conv *c = NULL;

    CHECK_OK(am_conv_create(NULL, &c, NULL));
    CHECK_EQ(run_threads(conv_worker, c), 0);
    CHECK_EQ(am_conv_count(c), (size_t)THREADS * ROUNDS);
    am_conv_free(c);
    CHECK_EQ(am_conv_last_error(NULL)->code, AM_EINVAL);
    CHECK_EQ(am_convmgr_last_error(NULL)->code, AM_EINVAL);
}

/* ---- ReAct memory ---- */

static void *react_worker(void *arg)
{
    job *j = arg;
    am_react *m = j->h;
    am_buf out = AM_BUF_INIT, copy = AM_BUF_INIT;
    char key[48];

    for (int i = 0; i < ROUNDS; i++) {
        /* Typed slots: each thread its own, the type held every time. */
        snprintf(key, sizeof key, "slot%d", j->id);
        if ((i == 0 && am_react_slot_define(m, am_str_c(key), AM_SLOT_ARRAY,
                                            AM_STR("[]")) != AM_OK) ||
            am_react_slot_set(m, am_str_c(key), AM_STR("[1,2]")) != AM_OK ||
            am_react_slot_set(m, am_str_c(key), AM_STR("{}")) != AM_EINVAL)
            j->failures++;
        expect_detail(j, am_react_last_error(m), AM_EINVAL, key);
        snprintf(key, sizeof key, "k%d", j->id);
        if (am_react_add_message(m, AM_STR("user"), AM_STR("hello")) !=
                AM_OK ||
            am_react_add_step(m, AM_STEP_THINK, AM_STR("hmm")) != AM_OK ||
            am_react_context_set(m, am_str_c(key), AM_STR("1")) != AM_OK)
            j->failures++;
        am_react_message_count(m);
        if (i % 50 == 0 && (am_react_export(m, &out) != AM_OK ||
                            am_react_stats_json(m, &out) != AM_OK))
            j->failures++;
        snprintf(key, sizeof key, "unset-%d-%d", j->id, i);
        if (am_react_context_get(m, am_str_c(key), &out) != AM_ENOTFOUND)
            j->failures++;
        const am_error *e = am_react_last_error(m);
        am_react_step_count(m);
        expect_detail(j, e, AM_ENOTFOUND, key);
        /* Each thread rewrites its own todo while the others copy it:
         * a copy is whole, one version or the other, never torn, and
         * stays readable after the todo changes again. */
        {
            char id[16], content[32];
            am_react_todo t, got;
            size_t n;
            snprintf(id, sizeof id, "todo%d", j->id);
            snprintf(content, sizeof content, "v%d-%d", j->id, i);
            t = (am_react_todo){ am_str_c(id), am_str_c(content),
                                 AM_TODO_PENDING, i };
            if (am_react_todo_put(m, &t) != AM_OK)
                j->failures++;
            n = am_react_todo_count(m);
            for (size_t k = 0; k < n; k++) {
                if (am_react_todo_copy(m, k, &got, &copy) != AM_OK)
                    j->failures++;
                else if (got.content.len < 4 || got.content.ptr[0] != 'v' ||
                         got.content.ptr[got.content.len] != '\0' ||
                         got.id.len < 5 || memcmp(got.id.ptr, "todo", 4))
                    j->failures++;
            }
        }
    }
    am_buf_free(&out);
    am_buf_free(&copy);
    return NULL;
}

AM_TEST(react_memory_is_shared_between_threads)
{
    am_react *m = NULL;

    CHECK_OK(am_react_create(NULL, &m, NULL));
    CHECK_EQ(run_threads(react_worker, m), 0);
    CHECK_EQ(am_react_message_count(m), (size_t)THREADS * ROUNDS);
    CHECK_EQ(am_react_step_count(m), (size_t)THREADS * ROUNDS);
    {
        am_buf names = AM_BUF_INIT;
        CHECK_OK(am_react_slot_names(m, &names));
        CHECK_EQ(strncmp(names.ptr, "[\"slot0\",\"slot1\",", 17), 0);
        am_buf_free(&names);
    }
    am_react_free(m);
    CHECK_EQ(am_react_last_error(NULL)->code, AM_EINVAL);
}

/* ---- Sessions ----
 *
 * sessions.h: every call but close is safe, and two savers of one id
 * leave one whole document. Four threads save their own session and one
 * shared id over and over; every load of the shared id finds a whole
 * session (one message, from some thread), a missing id is AM_ENOTFOUND
 * for whoever asks, and each thread's own session reads back as saved. */
#define SESSION_ROUNDS 25

static void *sessions_worker(void *arg)
{
    job *j = arg;
    am_sessions *ss = j->h;
    am_react *mine = NULL, *got = NULL;
    am_react_message msg;
    am_buf list = AM_BUF_INIT, text = AM_BUF_INIT;
    char id[32], content[48], missing[32];

    if (am_react_create(NULL, &mine, NULL) != AM_OK ||
        am_react_create(NULL, &got, NULL) != AM_OK) {
        j->failures++;
        goto out;
    }
    snprintf(id, sizeof id, "s%d", j->id);
    for (int i = 0; i < SESSION_ROUNDS; i++) {
        am_react_free(mine);
        mine = NULL;
        snprintf(content, sizeof content, "thread %d round %d", j->id, i);
        if (am_react_create(NULL, &mine, NULL) != AM_OK ||
            am_react_add_message(mine, AM_STR("user"), am_str_c(content)) !=
                AM_OK ||
            am_sessions_save(ss, am_str_c(id), mine) != AM_OK ||
            am_sessions_save(ss, AM_STR("shared"), mine) != AM_OK)
            j->failures++;
        if (am_sessions_load(ss, AM_STR("shared"), got) != AM_OK ||
            am_react_message_count(got) != 1 ||
            am_react_message_copy(got, 0, &msg, &text) != AM_OK ||
            strncmp(msg.content.ptr, "thread ", 7) != 0)
            j->failures++;
        if (am_sessions_load(ss, am_str_c(id), got) != AM_OK ||
            am_react_message_copy(got, 0, &msg, &text) != AM_OK ||
            strcmp(msg.content.ptr, content) != 0)
            j->failures++;
        snprintf(missing, sizeof missing, "none-%d-%d", j->id, i);
        if (am_sessions_load(ss, am_str_c(missing), got) != AM_ENOTFOUND ||
            am_sessions_last_error(ss) == NULL)
            j->failures++;
        if (am_sessions_list(ss, &list) != AM_OK ||
            strstr(list.ptr, "\"shared\"") == NULL)
            j->failures++;
    }
    if (am_sessions_delete(ss, am_str_c(id)) != AM_OK ||
        am_sessions_delete(ss, am_str_c(id)) != AM_ENOTFOUND)
        j->failures++;
out:
    am_react_free(mine);
    am_react_free(got);
    am_buf_free(&list);
    am_buf_free(&text);
    return NULL;
}

AM_TEST(sessions_are_shared_between_threads)
{
    char *dir = test_tmpdir();
    am_sessions *ss = NULL;
    am_buf list = AM_BUF_INIT;

    CHECK_OK(am_sessions_open(dir, NULL, &ss, NULL));
    CHECK_EQ(run_threads(sessions_worker, ss), 0);
    CHECK_OK(am_sessions_list(ss, &list));
    CHECK_STR_EQ(list.ptr, "[\"shared\"]");
    am_buf_free(&list);
    am_sessions_close(ss);
    test_rmtree(dir);
    free(dir);
}

/* ---- Memory manager ---- */

static void *memory_worker(void *arg)
{
    job *j = arg;
    am_memory *mem = j->h;
    am_buf out = AM_BUF_INIT;
    char bad[64], want[32];

    for (int i = 0; i < ROUNDS / 3; i++) {
        am_msg *msg = NULL;
        am_msg_list ctx = AM_MSG_LIST_INIT;
        am_memory_stats st;
        if (am_msg_create_text(NULL, i % 2 ? AM_ROLE_ASSISTANT : AM_ROLE_USER,
                               AM_STR("a few words of conversation"), &msg,
                               NULL) != AM_OK ||
            am_memory_add(mem, msg, NULL) != AM_OK ||
            am_memory_context(mem, &ctx) != AM_OK)
            j->failures++;
        am_memory_stats_get(mem, &st);
        if (i % 20 == 0 && am_memory_export(mem, &out) != AM_OK)
            j->failures++;
        am_msg_free(msg);
        am_msg_list_free(&ctx);
        /* An import that fails at a column only this thread uses. */
        int pad = 10 + j->id * 7;
        snprintf(bad, sizeof bad, "%*s{", pad, "");
        if (am_memory_import(mem, am_str_c(bad)) == AM_OK)
            j->failures++;
        const am_error *e = am_memory_last_error(mem);
        am_memory_compress(mem);
        /* The input ends after the '{', at this thread's own column
         * (pad + 2, 1-based; jansson, which read imports before #11,
         * named the '{' itself, pad + 1). */
        snprintf(want, sizeof want, "column %d ", pad + 2);
        if (e == NULL || strstr(e->msg, want) == NULL) {
            j->failures++;
            fprintf(stderr, "thread %d: wanted '%s', got '%s'\n", j->id,
                    want, e != NULL ? e->msg : "(NULL)");
        }
    }
    am_buf_free(&out);
    return NULL;
}

AM_TEST(memory_manager_is_shared_between_threads)
{
    am_memory_opts o = am_memory_opts_default();
    am_memory *mem = NULL;

    o.config.max_context_tokens = 400;
    o.config.compression_threshold = 300;
    CHECK_OK(am_memory_create(&o, &mem, NULL));
    CHECK_EQ(run_threads(memory_worker, mem), 0);
    am_memory_free(mem);
    CHECK_EQ(am_memory_last_error(NULL)->code, AM_EINVAL);
}


/* ---- Chat client (providers.h) ---- */

/* Calls refused before anything is sent (an unknown role, named in the
 * detail), so no server is needed: the detail is the thread's own. */
static void *llm_worker(void *arg)
{
    job *j = arg;
    am_llm *llm = j->h;
    am_buf text = AM_BUF_INIT;
    char role[32];

    for (int i = 0; i < ROUNDS; i++) {
        am_llm_msg msg = { { role, 0 }, AM_STR("hi") };
        am_llm_result res;
        msg.role.len = (size_t)snprintf(role, sizeof role, "r%d-%d", j->id,
                                        i);
        if (am_llm_chat_msgs(llm, &msg, 1, &text, &res) != AM_EINVAL ||
            strstr(res.error.msg, role) == NULL)
            j->failures++;
        const am_error *e = am_llm_last_error(llm);
        am_llm_model(llm);
        expect_detail(j, e, AM_EINVAL, role);
    }
    am_buf_free(&text);
    return NULL;
}

AM_TEST(llm_errors_are_per_thread)
{
    am_llm_opts o = am_llm_opts_default();
    am_llm *llm = NULL;

    o.model = "m";
    o.base_url = "http://127.0.0.1:9/v1"; /* never reached */
    CHECK_OK(am_llm_create(&o, &llm, NULL));
    CHECK_EQ(am_llm_last_error(llm)->code, AM_OK);
    CHECK_EQ(run_threads(llm_worker, llm), 0);
    /* This thread made no call: still nothing. */
    CHECK_EQ(am_llm_last_error(llm)->code, AM_OK);
    CHECK_STR_EQ(am_llm_last_error(llm)->msg, "");
    am_llm_free(llm);
}
