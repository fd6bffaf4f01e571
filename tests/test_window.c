/* test_window.c -- trimming, summarizing and the middleware on real
 * messages: parallel tool calls, results out of order, cuts that land
 * inside a group, for every strategy and compression path. */
#include <stdlib.h>
#include <string.h>

#include "agentmem/window.h"
#include "harness.h"
#include "history_checks.h"

/* An agent history in OpenAI format:
 *  0 system, 1 user, 2 assistant calls a+b+c (parallel), 3 result b,
 *  4 result c, 5 result a (out of order), 6 assistant, 7 user,
 *  8 assistant calls d, 9 result d, 10 assistant, 11 user (long text). */
static const char *HISTORY =
    "[{\"role\":\"system\",\"content\":\"You are a careful agent.\"},"
    "{\"role\":\"user\",\"content\":\"Find flights from Oslo to Rome on "
    "May 3 for Alice Berg.\"},"
    "{\"role\":\"assistant\",\"content\":null,\"tool_calls\":["
    "{\"id\":\"a\",\"type\":\"function\",\"function\":{\"name\":\"search\","
    "\"arguments\":\"{\\\"from\\\":\\\"OSL\\\"}\"}},"
    "{\"id\":\"b\",\"type\":\"function\",\"function\":{\"name\":\"search\","
    "\"arguments\":\"{\\\"to\\\":\\\"FCO\\\"}\"}},"
    "{\"id\":\"c\",\"type\":\"function\",\"function\":{\"name\":\"prices\","
    "\"arguments\":\"{}\"}}]},"
    "{\"role\":\"tool\",\"tool_call_id\":\"b\",\"content\":\"3 flights to "
    "FCO\"},"
    "{\"role\":\"tool\",\"tool_call_id\":\"c\",\"content\":\"error: "
    "price service timeout\"},"
    "{\"role\":\"tool\",\"tool_call_id\":\"a\",\"content\":\"5 flights from "
    "OSL\"},"
    "{\"role\":\"assistant\",\"content\":\"SK4711 departs 09:40 and costs "
    "212 EUR. We decided on SK4711.\"},"
    "{\"role\":\"user\",\"content\":\"Book it please.\"},"
    "{\"role\":\"assistant\",\"content\":null,\"tool_calls\":["
    "{\"id\":\"d\",\"type\":\"function\",\"function\":{\"name\":\"book\","
    "\"arguments\":\"{\\\"flight\\\":\\\"SK4711\\\"}\"}}]},"
    "{\"role\":\"tool\",\"tool_call_id\":\"d\",\"content\":\"booked, ref "
    "QX7P2\"},"
    "{\"role\":\"assistant\",\"content\":\"Booked: reference QX7P2.\"},"
    "{\"role\":\"user\",\"content\":\"Thanks! \xc3\xa6\xc3\xb8\xc3\xa5 "
    "Could you also check hotels near Termini for three nights, under 150 "
    "EUR a night, with breakfast?\"}]";

static void load(am_msg_list *l)
{
    am_error err;
    CHECK_OK_E(am_msgs_from_json(NULL, AM_FORMAT_OPENAI, am_str_c(HISTORY),
                                 l, &err), &err);
    CHECK_EQ(l->count, 12);
}

static const am_msg *const *items(const am_msg_list *l)
{
    return (const am_msg *const *)l->items;
}

/* The index in `in` of each message of `out` ("-" for a new message). */
static void shape(const am_msg_list *in, const am_msg_list *out, char *s)
{
    size_t k = 0;
    for (size_t i = 0; i < out->count; i++) {
        int idx = -1;
        for (size_t j = 0; j < in->count; j++)
            if (in->items[j] == out->items[i])
                idx = (int)j;
        if (idx < 0)
            k += (size_t)sprintf(s + k, "%s-", i ? "," : "");
        else
            k += (size_t)sprintf(s + k, "%s%d", i ? "," : "", idx);
    }
    s[k] = '\0';
}

/* A history is valid when it never starts (after system messages) with a
 * tool result and every tool result follows its call, and every kept
 * call's results are all there. */
static void check_sendable(const am_msg_list *l)
{
    test_results_follow_calls(l);
    for (size_t i = 0; i < l->count; i++)
        for (size_t c = 0; c < am_msg_tool_call_count(l->items[i]); c++) {
            am_str id = am_msg_tool_call(l->items[i], c)->id;
            CHECK(test_answers_after(l, i, id) > 0);
        }
}

static size_t count_of(const am_msg *m)
{
    size_t n = 0;
    CHECK_OK(am_count_msg(NULL, m, &n, NULL));
    return n;
}

AM_TEST(trim_every_budget_gives_a_sendable_history)
{
    am_msg_list l = AM_MSG_LIST_INIT;
    am_trim_result r = AM_TRIM_RESULT_INIT;
    am_trim_opts o = am_trim_opts_default();
    size_t total = 0;
    load(&l);
    for (size_t i = 0; i < l.count; i++)
        total += count_of(l.items[i]);
    for (int strat = AM_TRIM_LAST; strat <= AM_TRIM_TOKENS; strat++) {
        for (size_t budget = 1; budget <= total + 2; budget++) {
            o.strategy = (am_trim_strategy)strat;
            o.max_tokens = budget;
            o.max_messages = 0;
            CHECK_OK(am_trim(items(&l), l.count, &o, &r, NULL));
            check_sendable(&r.messages);
            /* The list's count: its messages plus 3 (reply priming). */
            CHECK_EQ(r.tokens_before, total + 3);
            /* System messages are kept past the budget; otherwise fits. */
            if (budget >= count_of(l.items[0]) + 3)
                CHECK(r.tokens_after <= budget);
            CHECK_EQ(r.messages.count + r.dropped_count, l.count);
        }
        for (size_t n = 1; n <= 13; n++) {
            if (strat == AM_TRIM_TOKENS)
                break;
            o.strategy = (am_trim_strategy)strat;
            o.max_tokens = 0;
            o.max_messages = n;
            CHECK_OK(am_trim(items(&l), l.count, &o, &r, NULL));
            check_sendable(&r.messages);
            CHECK(r.messages.count <= n || n == 0);
        }
    }
    am_trim_result_free(&r);
    am_msg_list_free(&l);
}

AM_TEST(trim_last_n_keeps_the_parallel_group_whole_or_not_at_all)
{
    am_msg_list l = AM_MSG_LIST_INIT;
    am_trim_result r = AM_TRIM_RESULT_INIT;
    am_trim_opts o = am_trim_opts_default();
    char s[128];
    load(&l);
    o.max_messages = 8; /* system + 7: the cut lands inside 2..5 */
    CHECK_OK(am_trim(items(&l), l.count, &o, &r, NULL));
    shape(&l, &r.messages, s);
    CHECK_STR_EQ(s, "0,6,7,8,9,10,11");
    CHECK_EQ(r.dropped_count, 5);
    CHECK_EQ(r.dropped[0], 1);
    CHECK_EQ(r.dropped[4], 5);
    o.max_messages = 12;
    CHECK_OK(am_trim(items(&l), l.count, &o, &r, NULL));
    shape(&l, &r.messages, s);
    CHECK_STR_EQ(s, "0,1,2,3,4,5,6,7,8,9,10,11");
    o.max_messages = 11;
    o.start_on_user = true;
    CHECK_OK(am_trim(items(&l), l.count, &o, &r, NULL));
    shape(&l, &r.messages, s);
    CHECK_STR_EQ(s, "0,7,8,9,10,11");
    am_trim_result_free(&r);
    am_msg_list_free(&l);
}

AM_TEST(trim_first_n_and_end_on_role)
{
    am_msg_list l = AM_MSG_LIST_INIT;
    am_trim_result r = AM_TRIM_RESULT_INIT;
    am_trim_opts o = am_trim_opts_default();
    char s[128];
    load(&l);
    o.strategy = AM_TRIM_FIRST;
    o.max_messages = 4;
    CHECK_OK(am_trim(items(&l), l.count, &o, &r, NULL));
    shape(&l, &r.messages, s);
    CHECK_STR_EQ(s, "0,1");
    o.max_messages = 9;
    o.end_on_role = AM_ROLE_USER;
    CHECK_OK(am_trim(items(&l), l.count, &o, &r, NULL));
    shape(&l, &r.messages, s);
    CHECK_STR_EQ(s, "0,1,2,3,4,5,6,7");
    am_trim_result_free(&r);
    am_msg_list_free(&l);
}

AM_TEST(trim_partial_cuts_on_a_utf8_boundary_and_keeps_input)
{
    am_msg_list l = AM_MSG_LIST_INIT;
    am_trim_result r = AM_TRIM_RESULT_INIT;
    am_trim_opts o = am_trim_opts_default();
    size_t sys, last;
    am_str before;
    load(&l);
    before = am_msg_content_text(l.items[11]);
    sys = count_of(l.items[0]);
    last = count_of(l.items[11]);
    o.max_tokens = sys + last - 5;
    o.allow_partial = true;
    CHECK_OK(am_trim(items(&l), l.count, &o, &r, NULL));
    CHECK_EQ(r.messages.count, 2);
    CHECK_EQ(r.partial_index, 11);
    am_str cut = am_msg_content_text(r.messages.items[1]);
    CHECK(cut.len < before.len);
    CHECK(cut.len > 0);
    /* The tail of the text, starting on a character boundary. */
    CHECK(memcmp(cut.ptr, before.ptr + before.len - cut.len, cut.len) == 0);
    CHECK(((unsigned char)cut.ptr[0] & 0xC0) != 0x80);
    CHECK(r.tokens_after <= o.max_tokens);
    /* The input message is untouched. */
    CHECK_EQ(am_msg_content_text(l.items[11]).len, before.len);
    CHECK(am_msg_id(r.messages.items[1]).len == am_msg_id(l.items[11]).len);

    /* FIRST keeps the head; a cut would land in the group 2..5: none. */
    o.strategy = AM_TRIM_FIRST;
    o.max_tokens = sys + count_of(l.items[1]) + 6;
    CHECK_OK(am_trim(items(&l), l.count, &o, &r, NULL));
    CHECK_EQ(r.messages.count, 2);
    CHECK_EQ(r.partial_index, SIZE_MAX);
    am_trim_result_free(&r);
    am_msg_list_free(&l);
}

AM_TEST(trim_orphans_are_dropped_and_reported)
{
    am_msg_list l = AM_MSG_LIST_INIT;
    am_trim_result r = AM_TRIM_RESULT_INIT;
    am_trim_opts o = am_trim_opts_default();
    am_error err;
    CHECK_OK(am_msgs_from_json(
        NULL, AM_FORMAT_AGENTMEM,
        AM_STR("[{\"role\":\"tool\",\"tool_call_id\":\"zz\",\"content\":"
               "\"stale\"},{\"role\":\"user\",\"content\":\"hi\"}]"),
        &l, &err));
    CHECK_OK(am_trim(items(&l), l.count, &o, &r, NULL));
    CHECK_EQ(r.orphans, 1);
    CHECK_EQ(r.messages.count, 1);
    CHECK_EQ(am_msg_role(r.messages.items[0]), AM_ROLE_USER);
    o.strategy = AM_TRIM_TOKENS;
    CHECK_ST(am_trim(items(&l), l.count, &o, &r, &err), AM_EINVAL);
    CHECK(strstr(err.msg, "max_tokens") != NULL);
    o.strategy = AM_TRIM_LAST;
    o.end_on_role = 9;
    CHECK_ST(am_trim(items(&l), l.count, &o, &r, &err), AM_EINVAL);
    am_trim_result_free(&r);
    am_msg_list_free(&l);
}

/* ---- Summarize ---- */

AM_TEST(summarize_keep_last_exact_and_never_splits_a_group)
{
    am_msg_list l = AM_MSG_LIST_INIT;
    am_summarize_result r = AM_SUMMARIZE_RESULT_INIT;
    am_summarize_opts o = am_summarize_opts_default();
    char s[128];
    load(&l);
    o.keep_last = 3; /* 9,10,11 -- but 9 answers 8: the group 8..9 stays */
    CHECK_OK(am_summarize(items(&l), l.count, &o, &r, NULL));
    shape(&l, &r.messages, s);
    CHECK_STR_EQ(s, "0,-,8,9,10,11");
    CHECK_EQ(r.kept_count, 4);
    CHECK_EQ(r.summarized_count, 7);
    CHECK_EQ(r.original_count, 12);
    check_sendable(&r.messages);
    o.keep_last = 2; /* 10, 11: exact */
    o.budget = 100;
    CHECK_OK(am_summarize(items(&l), l.count, &o, &r, NULL));
    shape(&l, &r.messages, s);
    CHECK_STR_EQ(s, "0,-,10,11");
    CHECK_EQ(r.kept_count, 2);
    /* The summary kept the facts. */
    am_str t = am_msg_content_text(r.messages.items[1]);
    CHECK(strncmp(t.ptr, "[Compressed Summary] ", 21) == 0);
    CHECK(strstr(r.summary.ptr, "SK4711") != NULL);
    CHECK(strstr(r.summary.ptr, "QX7P2") != NULL);
    CHECK(strstr(r.summary.ptr, "prices x1 (0 ok, 1 failed)") != NULL);
    CHECK(strstr(r.summary.ptr, "Alice Berg") != NULL);
    CHECK(r.tokens_after < r.tokens_before);
    for (size_t keep = 0; keep <= 12; keep++) {
        o.keep_last = keep;
        CHECK_OK(am_summarize(items(&l), l.count, &o, &r, NULL));
        check_sendable(&r.messages);
        CHECK(r.kept_count >= (keep < 11 ? keep : 11));
    }
    am_summarize_result_free(&r);
    am_msg_list_free(&l);
}

/* A summarizer that records the largest input it was given. */
typedef struct probe {
    size_t calls, max_bytes;
} probe;

static am_status probe_sum(void *ctx, am_str prev, const am_msg *const *msgs,
                           size_t count, size_t budget, am_buf *out,
                           am_error *err)
{
    probe *p = ctx;
    am_buf t = AM_BUF_INIT;
    size_t bytes = prev.len;
    (void)budget;
    (void)err;
    for (size_t i = 0; i < count; i++) {
        am_buf_clear(&t);
        am_msg_text(msgs[i], &t);
        bytes += t.len;
    }
    am_buf_free(&t);
    p->calls++;
    if (bytes > p->max_bytes)
        p->max_bytes = bytes;
    am_buf_clear(out);
    return am_buf_appendf(out, "piece %zu", p->calls);
}

static const am_summarizer_vtable probe_vt = { "probe", probe_sum, NULL,
                                               NULL, NULL };

AM_TEST(summarizer_splits_long_input_into_pieces_under_its_limit)
{
    am_msg_list l = AM_MSG_LIST_INIT;
    am_summarizer *s = NULL;
    probe p = { 0, 0 };
    am_buf out = AM_BUF_INIT;
    char big[9000];
    am_msg *m = NULL;
    memset(big, 'x', sizeof big);
    for (int i = 0; i < 40; i++) {
        CHECK_OK(am_msg_create_text(NULL, AM_ROLE_USER,
                                    (am_str){ big, 500 }, &m, NULL));
        CHECK_OK(am_msg_list_push(&l, m));
        am_msg_free(m);
    }
    /* One message larger than a whole piece. */
    CHECK_OK(am_msg_create_text(NULL, AM_ROLE_USER,
                                (am_str){ big, sizeof big }, &m, NULL));
    CHECK_OK(am_msg_list_push(&l, m));
    am_msg_free(m);
    am_summarizer_opts so = am_summarizer_opts_default();
    so.input_limit = 1000;
    CHECK_OK(am_summarizer_create(&probe_vt, &p, &so, &s, NULL));
    CHECK_OK(am_summarizer_run(s, AM_STR(""), items(&l), l.count, 100, &out,
                               NULL));
    CHECK(p.calls > 5);
    /* Never more than the limit (1000 tokens ~ 3000 bytes pessimistic). */
    CHECK(p.max_bytes <= 3000);
    CHECK(strncmp(out.ptr, "piece", 5) == 0);
    am_buf_free(&out);
    am_summarizer_free(s);
    am_msg_list_free(&l);
}

AM_TEST(middleware_triggers_and_updates_running_summary_incrementally)
{
    am_msg_list l = AM_MSG_LIST_INIT, next = AM_MSG_LIST_INIT;
    am_summary_mw *mw = NULL;
    am_summary_mw_opts o = am_summary_mw_opts_default();
    am_summarize_result r = AM_SUMMARIZE_RESULT_INIT;
    am_error err;
    load(&l);
    CHECK_ST(am_summary_mw_create(&o, &mw, &err), AM_EINVAL);
    o.trigger_messages = 8;
    o.keep_last = 2;
    o.budget = 300;
    CHECK_OK(am_summary_mw_create(&o, &mw, NULL));
    CHECK(!am_summary_mw_should(mw, items(&l), 8));
    CHECK(am_summary_mw_should(mw, items(&l), 9));
    CHECK_OK(am_summary_mw_process(mw, items(&l), 6, &r, NULL));
    CHECK_EQ(r.messages.count, 6); /* under the trigger: unchanged */
    CHECK_OK(am_summary_mw_process(mw, items(&l), l.count, &r, NULL));
    CHECK_EQ(r.messages.count, 4);
    CHECK(strstr(am_summary_mw_summary(mw).ptr,
                 "Summary of 9 earlier messages") != NULL);
    /* Continue from the output plus new turns: only the new evictions are
     * summarized and merged; the counts add up. */
    for (size_t i = 0; i < r.messages.count; i++)
        CHECK_OK(am_msg_list_push(&next, r.messages.items[i]));
    for (size_t i = 1; i < 8; i++)
        CHECK_OK(am_msg_list_push(&next, l.items[i]));
    CHECK_OK(am_summary_mw_process(mw, items(&next), next.count, &r, NULL));
    CHECK(strstr(am_summary_mw_summary(mw).ptr,
                 "Summary of 16 earlier messages") != NULL);
    check_sendable(&r.messages);
    am_summarize_result_free(&r);
    am_summary_mw_free(mw);

    /* The token trigger. */
    o.trigger_messages = 0;
    o.trigger_tokens = 100;
    CHECK_OK(am_summary_mw_create(&o, &mw, NULL));
    CHECK(!am_summary_mw_should(mw, items(&l), 3));
    CHECK(am_summary_mw_should(mw, items(&l), l.count));
    CHECK_OK(am_summary_mw_process(mw, items(&l), l.count, &r, NULL));
    CHECK_EQ(r.kept_count, 2);
    check_sendable(&r.messages);
    am_summarize_result_free(&r);
    am_summary_mw_free(mw);
    am_msg_list_free(&next);
    am_msg_list_free(&l);
}

/* An OpenAI-Responses-style reasoning item as its own message, before the
 * assistant turn that calls tools: the three travel together. */
AM_TEST(trim_keeps_reasoning_items_with_their_turn)
{
    am_msg_list l = AM_MSG_LIST_INIT;
    am_trim_result r = AM_TRIM_RESULT_INIT;
    am_trim_opts o = am_trim_opts_default();
    am_msg *m = NULL;
    am_part p;
    am_tool_call tc = { AM_STR("r1"), AM_STR("function"), AM_STR("search"),
                        AM_STR("{}"), AM_STR("") };
    CHECK_OK(am_msg_create_text(NULL, AM_ROLE_USER, AM_STR("Find it."), &m,
                                NULL));
    CHECK_OK(am_msg_list_push(&l, m));
    am_msg_free(m);
    CHECK_OK(am_msg_create(NULL, AM_ROLE_ASSISTANT, &m, NULL));
    memset(&p, 0, sizeof p);
    p.type = AM_PART_REASONING;
    p.json = AM_STR("{\"type\":\"reasoning\",\"id\":\"rs_1\",\"summary\":[]}");
    CHECK_OK(am_msg_add_part(m, &p, NULL));
    CHECK_OK(am_msg_list_push(&l, m));
    am_msg_free(m);
    CHECK_OK(am_msg_create(NULL, AM_ROLE_ASSISTANT, &m, NULL));
    CHECK_OK(am_msg_add_tool_call(m, &tc, NULL));
    CHECK_OK(am_msg_list_push(&l, m));
    am_msg_free(m);
    CHECK_OK(am_msg_create_text(NULL, AM_ROLE_TOOL, AM_STR("found"), &m,
                                NULL));
    CHECK_OK(am_msg_set_tool_call_id(m, AM_STR("r1"), NULL));
    CHECK_OK(am_msg_list_push(&l, m));
    am_msg_free(m);
    for (size_t n = 1; n <= 4; n++) {
        o.max_messages = n;
        CHECK_OK(am_trim(items(&l), l.count, &o, &r, NULL));
        /* 1-2: nothing fits (the group is 3 messages); 3: the group;
         * 4: everything. */
        CHECK_EQ(r.messages.count, n < 3 ? 0 : n);
        if (n == 3)
            CHECK(r.messages.items[0] == l.items[1]);
    }
    am_trim_result_free(&r);
    am_msg_list_free(&l);
}

typedef struct oom_ctx {
    am_msg_list *l;
} oom_ctx;

static am_status trim_oom(void *ctx, const am_allocator *alloc)
{
    oom_ctx *c = ctx;
    am_trim_opts o = am_trim_opts_default();
    am_trim_result r = AM_TRIM_RESULT_INIT;
    am_status st;
    o.alloc = alloc;
    o.max_tokens = 120;
    o.allow_partial = true;
    st = am_trim(items(c->l), c->l->count, &o, &r, NULL);
    am_trim_result_free(&r);
    return st;
}

static am_status summarize_oom(void *ctx, const am_allocator *alloc)
{
    oom_ctx *c = ctx;
    am_summarize_opts o = am_summarize_opts_default();
    am_summarize_result r = AM_SUMMARIZE_RESULT_INIT;
    am_status st;
    o.alloc = alloc;
    o.keep_last = 3;
    st = am_summarize(items(c->l), c->l->count, &o, &r, NULL);
    am_summarize_result_free(&r);
    return st;
}

AM_TEST(trim_and_summarize_survive_oom)
{
    am_msg_list l = AM_MSG_LIST_INIT;
    oom_ctx c = { &l };
    load(&l);
    CHECK(test_oom_sweep(trim_oom, &c) > 3);
    CHECK(test_oom_sweep(summarize_oom, &c) > 3);
    am_msg_list_free(&l);
}

AM_TEST(offline_summary_budget_is_counted_with_the_counters_tokenizer)
{
    am_msg_list l = AM_MSG_LIST_INIT;
    am_tokenizer *tz = NULL;
    am_summarize_opts o = am_summarize_opts_default();
    am_summarize_result r = AM_SUMMARIZE_RESULT_INIT;
    size_t n = 0;
    if (am_tokenizer_create(AM_STR("gpt-4o"), NULL, &tz, NULL) != AM_OK) {
        fprintf(stderr, "o200k rank file not installed: skipped\n");
        return;
    }
    load(&l);
    o.keep_last = 2;
    o.counter.tokenizer = tz;
    for (size_t budget = 90; budget <= 200; budget += 10) {
        o.budget = budget;
        CHECK_OK(am_summarize(items(&l), l.count, &o, &r, NULL));
        CHECK_OK(am_tokenizer_count(tz, am_buf_str(&r.summary), NULL, &n,
                                    NULL));
        /* Lines are costed as printed (exactly); never over. */
        if (n > budget)
            fprintf(stderr, "budget %zu got %zu\n", budget, n);
        CHECK(n <= budget);
    }
    am_summarize_result_free(&r);
    am_tokenizer_free(tz);
    am_msg_list_free(&l);
}

/* ---- Randomized histories: the invariants hold for every option ---- */

static uint64_t prng(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Valid-looking agent traffic with noise: parallel calls, shuffled and
 * late results, results for unknown ids, reused ids, system messages in
 * the middle, reasoning-only turns, empty texts. */
static void random_history(uint64_t *seed, am_msg_list *l)
{
    size_t n = 1 + prng(seed) % 40;
    int next_id = 0;
    char pending[8][16];
    size_t npending = 0;
    am_msg *m = NULL;
    am_msg_list_clear(l);
    for (size_t i = 0; i < n; i++) {
        unsigned r = (unsigned)(prng(seed) % 100);
        char text[64];
        snprintf(text, sizeof text, "m%zu %.*s", i, (int)(prng(seed) % 40),
                 "lorem ipsum dolor sit amet consectetur adipiscing");
        if (r < 8) {
            am_msg_create_text(NULL, AM_ROLE_SYSTEM, am_str_c(text), &m,
                               NULL);
        } else if (r < 35) {
            am_msg_create_text(NULL, AM_ROLE_USER, am_str_c(text), &m, NULL);
        } else if (r < 50) {
            am_msg_create_text(NULL, AM_ROLE_ASSISTANT, am_str_c(text), &m,
                               NULL);
        } else if (r < 55) {
            am_part p;
            memset(&p, 0, sizeof p);
            p.type = AM_PART_REASONING;
            p.json = AM_STR("{\"type\":\"reasoning\",\"id\":\"rs\"}");
            am_msg_create(NULL, AM_ROLE_ASSISTANT, &m, NULL);
            am_msg_add_part(m, &p, NULL);
        } else if (r < 72) {
            size_t k = 1 + prng(seed) % 3;
            am_msg_create(NULL, AM_ROLE_ASSISTANT, &m, NULL);
            for (size_t c = 0; c < k && npending < 8; c++) {
                am_tool_call tc = { { NULL, 0 }, AM_STR("function"),
                                    AM_STR("f"), AM_STR("{}"), AM_STR("") };
                /* Sometimes reuse an old id. */
                int id = prng(seed) % 10 == 0 && next_id > 0
                             ? (int)(prng(seed) % (uint64_t)next_id)
                             : next_id++;
                snprintf(pending[npending], 16, "id%d", id);
                tc.id = am_str_c(pending[npending]);
                am_msg_add_tool_call(m, &tc, NULL);
                npending++;
            }
        } else {
            char id[16];
            if (npending > 0 && prng(seed) % 10 != 0) {
                size_t k = prng(seed) % npending;
                snprintf(id, sizeof id, "%s", pending[k]);
                memmove(pending[k], pending[k + 1],
                        (npending - k - 1) * sizeof pending[0]);
                npending--;
            } else {
                snprintf(id, sizeof id, "ghost%d", (int)(prng(seed) % 5));
            }
            am_msg_create_text(NULL, AM_ROLE_TOOL, am_str_c(text), &m, NULL);
            am_msg_set_tool_call_id(m, am_str_c(id), NULL);
        }
        am_msg_list_push(l, m);
        am_msg_free(m);
    }
}

/* Weaker than check_sendable: histories may contain calls that were never
 * answered in the input, which no trimming can fix. What must hold: no
 * orphan result, nothing before its call, no leading tool result, and a
 * kept call keeps every result the input had for it. */
static void check_invariants_x(const am_msg_list *in,
                               const am_msg_list *out, bool by_id);

static void check_invariants(const am_msg_list *in, const am_msg_list *out)
{
    check_invariants_x(in, out, false);
}

/* by_id: a result counts as kept when a tool message with its call id is
 * there (the manager may swap it for a cleared placeholder). */
static void check_invariants_x(const am_msg_list *in,
                               const am_msg_list *out, bool by_id)
{
    test_results_follow_calls(out);
    /* Results of kept calls (that follow the call in the input and that
     * no later call with the same id claims) are kept. */
    for (size_t i = 0; i < in->count; i++) {
        const am_msg *call = in->items[i];
        bool kept = false;
        for (size_t k = 0; k < out->count && !kept; k++)
            kept = out->items[k] == call;
        if (!kept)
            continue;
        for (size_t c = 0; c < am_msg_tool_call_count(call); c++) {
            am_str x = am_msg_tool_call(call, c)->id;
            for (size_t j = i + 1; j < in->count; j++) {
                const am_msg *r = in->items[j];
                bool reclaimed = false;
                for (size_t q = i + 1; q < j && !reclaimed; q++)
                    for (size_t d = 0; d < am_msg_tool_call_count(in->items[q]);
                         d++) {
                        am_str y = am_msg_tool_call(in->items[q], d)->id;
                        reclaimed |= y.len == x.len &&
                                     memcmp(y.ptr, x.ptr, x.len) == 0;
                    }
                am_str id = am_msg_tool_call_id(r);
                if (reclaimed || am_msg_role(r) != AM_ROLE_TOOL ||
                    id.len != x.len || memcmp(id.ptr, x.ptr, x.len) != 0)
                    continue;
                bool rk = false;
                for (size_t k = 0; k < out->count && !rk; k++) {
                    am_str oid = am_msg_tool_call_id(out->items[k]);
                    rk = out->items[k] == r ||
                         (by_id && am_msg_role(out->items[k]) ==
                                       AM_ROLE_TOOL &&
                          oid.len == id.len &&
                          memcmp(oid.ptr, id.ptr, id.len) == 0);
                }
                CHECK(rk);
            }
        }
    }
}

AM_TEST(random_histories_keep_the_invariants_for_every_option)
{
    uint64_t seed = 42;
    am_msg_list l = AM_MSG_LIST_INIT;
    am_trim_result r = AM_TRIM_RESULT_INIT;
    am_summarize_result sr = AM_SUMMARIZE_RESULT_INIT;
    for (int iter = 0; iter < 400; iter++) {
        am_trim_opts o = am_trim_opts_default();
        am_summarize_opts so = am_summarize_opts_default();
        random_history(&seed, &l);
        o.strategy = (am_trim_strategy)(prng(&seed) % 3);
        o.max_tokens = prng(&seed) % 300 + (o.strategy == AM_TRIM_TOKENS);
        o.max_messages = prng(&seed) % 20;
        o.preserve_system = prng(&seed) % 2;
        o.start_on_user = prng(&seed) % 2;
        o.end_on_role = (int)(prng(&seed) % 5) - 1;
        o.allow_partial = prng(&seed) % 2;
        CHECK_OK(am_trim(items(&l), l.count, &o, &r, NULL));
        check_invariants(&l, &r.messages);
        CHECK_EQ(r.messages.count + r.dropped_count, l.count);
        if (o.max_messages > 0 && o.preserve_system) {
            size_t sys = 0;
            for (size_t i = 0; i < l.count; i++)
                sys += am_msg_role(l.items[i]) == AM_ROLE_SYSTEM;
            CHECK(r.messages.count <= (o.max_messages > sys ? o.max_messages
                                                             : sys));
        }
        so.keep_last = prng(&seed) % 12;
        so.budget = 64 + prng(&seed) % 200;
        so.preserve_system = prng(&seed) % 2;
        CHECK_OK(am_summarize(items(&l), l.count, &so, &sr, NULL));
        check_invariants(&l, &sr.messages);
        if (sr.summarized_count > 0)
            CHECK(sr.kept_count >= so.keep_last ||
                  sr.kept_count + sr.summarized_count <= l.count);
    }
    am_trim_result_free(&r);
    am_summarize_result_free(&sr);
    am_msg_list_free(&l);
}

AM_TEST(random_histories_through_the_manager_stay_sendable)
{
    uint64_t seed = 7;
    am_msg_list l = AM_MSG_LIST_INIT, ctx = AM_MSG_LIST_INIT;
    am_tokenizer *tz = NULL;
    /* One exact tokenizer for the default model, shared by the 150
     * managers (what the manager would open for itself each time). */
    CHECK_OK(am_tokenizer_create(AM_STR(AM_MEMORY_DEFAULT_MODEL), NULL, &tz,
                               NULL));
    for (int iter = 0; iter < 150; iter++) {
        am_memory_opts o = am_memory_opts_default();
        am_memory *mem = NULL;
        o.counter.tokenizer = tz;
        random_history(&seed, &l);
        o.config.strategy = (am_compress_strategy)(prng(&seed) % 3);
        o.config.compression_threshold = 40 + prng(&seed) % 200;
        o.config.short_term_size = prng(&seed) % 8;
        o.config.preserve_system = prng(&seed) % 2;
        o.config.tool_clear_trigger = prng(&seed) % 2 ? 60 : 0;
        o.config.tool_clear_keep = prng(&seed) % 3;
        CHECK_OK(am_memory_create(&o, &mem, NULL));
        for (size_t i = 0; i < l.count; i++) {
            /* Tool results whose call was never made are invalid input
             * for the message core; skip what am_msg_validate refuses. */
            am_status st = am_memory_add(mem, l.items[i], NULL);
            am_msg_list prefix = l; /* shallow: the first i+1 messages */
            CHECK(st == AM_OK || st == AM_EINVAL);
            prefix.count = i + 1;
            am_msg_list_clear(&ctx);
            CHECK_OK(am_memory_context(mem, &ctx));
            check_invariants_x(&prefix, &ctx, true);
        }
        am_memory_free(mem);
    }
    am_tokenizer_free(tz);
    am_msg_list_free(&ctx);
    am_msg_list_free(&l);
}

AM_TEST(bad_arguments_are_named)
{
    am_msg_list l = AM_MSG_LIST_INIT;
    am_trim_result r = AM_TRIM_RESULT_INIT;
    am_summarize_result sr = AM_SUMMARIZE_RESULT_INIT;
    const am_msg *with_null[3];
    am_error err;
    load(&l);
    with_null[0] = l.items[0];
    with_null[1] = NULL;
    with_null[2] = l.items[1];
    CHECK_ST(am_trim(with_null, 3, NULL, &r, &err), AM_EINVAL);
    CHECK(strstr(err.msg, "message 1") != NULL);
    CHECK_ST(am_summarize(with_null, 3, NULL, &sr, &err), AM_EINVAL);
    CHECK(strstr(err.msg, "message 1") != NULL);
    CHECK_ST(am_trim(NULL, 2, NULL, &r, &err), AM_EINVAL);
    CHECK_ST(am_trim(items(&l), l.count, NULL, NULL, &err), AM_EINVAL);
    /* Nothing at all is fine. */
    CHECK_OK(am_trim(NULL, 0, NULL, &r, &err));
    CHECK_EQ(r.messages.count, 0);
    CHECK_OK(am_summarize(NULL, 0, NULL, &sr, &err));
    CHECK_EQ(sr.messages.count, 0);
    am_trim_result_free(&r);
    am_summarize_result_free(&sr);
    am_msg_list_free(&l);
}

AM_TEST(trim_summarize_and_middleware_count_for_a_named_model)
{
    am_msg_list l = AM_MSG_LIST_INIT;
    am_tokenizer *tz = NULL;
    am_counter c;
    am_trim_opts o = am_trim_opts_default();
    am_trim_result r = AM_TRIM_RESULT_INIT;
    am_summarize_opts so = am_summarize_opts_default();
    am_summarize_result sr = AM_SUMMARIZE_RESULT_INIT;
    am_summary_mw_opts mo = am_summary_mw_opts_default();
    am_summary_mw *mw = NULL;
    size_t exact = 0, est = 0;

    load(&l);
    CHECK_OK(am_tokenizer_create(AM_STR("gpt-4o"), NULL, &tz, NULL));
    memset(&c, 0, sizeof c);
    c.tokenizer = tz;
    for (size_t i = 0; i < l.count; i++) {
        size_t n = 0;
        CHECK_OK(am_count_msg(&c, l.items[i], &n, NULL));
        exact += n;
        CHECK_OK(am_count_msg(NULL, l.items[i], &n, NULL));
        est += n;
    }
    CHECK(exact != est);
    /* No model: the estimate; "estimate" too; a model: exact. */
    /* A list counts its messages plus 3 (reply priming). */
    CHECK_OK(am_trim(items(&l), l.count, &o, &r, NULL));
    CHECK_EQ(r.tokens_before, est + 3);
    o.model = "estimate";
    CHECK_OK(am_trim(items(&l), l.count, &o, &r, NULL));
    CHECK_EQ(r.tokens_before, est + 3);
    o.model = "gpt-4o";
    CHECK_OK(am_trim(items(&l), l.count, &o, &r, NULL));
    CHECK_EQ(r.tokens_before, exact + 3);
    am_trim_result_free(&r);

    so.keep_last = 2;
    so.model = "gpt-4o-2024-08-06";
    CHECK_OK(am_summarize(items(&l), l.count, &so, &sr, NULL));
    CHECK_EQ(sr.tokens_before, exact + 3);
    am_summarize_result_free(&sr);

    /* Exact counts cross a trigger set at the estimate; the estimate
     * does not. */
    CHECK(exact > est);
    mo.trigger_tokens = est;
    CHECK_OK(am_summary_mw_create(&mo, &mw, NULL));
    CHECK(!am_summary_mw_should(mw, items(&l), l.count));
    am_summary_mw_free(mw);
    mo.model = "gpt-4o";
    CHECK_OK(am_summary_mw_create(&mo, &mw, NULL));
    CHECK(am_summary_mw_should(mw, items(&l), l.count));
    am_summary_mw_free(mw);
    am_tokenizer_free(tz);
    am_msg_list_free(&l);
}

/* The middleware under the failing allocator, the token trigger (counting
 * allocates) and two rounds (the second merges into the running summary):
 * round 1 gets the first `first` messages, round 2 its output plus
 * messages [from, to). A call that answers AM_ENOMEM is made again (the
 * injected failure is spent); the running summary and what each round
 * answered must then be those of a run where nothing failed. */
typedef struct mw_retry_ctx {
    am_msg_list *l;
    size_t first, from, to;
    am_buf want;
} mw_retry_ctx;

static am_status mw_round(am_summary_mw *mw, const am_msg_list *in,
                          am_summarize_result *r, am_buf *fp)
{
    am_status st = am_summary_mw_process(mw, items(in), in->count, r, NULL);
    if (st == AM_ENOMEM) {
        am_summarize_result_free(r);
        st = am_summary_mw_process(mw, items(in), in->count, r, NULL);
    }
    if (st == AM_OK)
        st = am_buf_appendf(fp, "in %zu out %zu summarized %zu kept %zu\n"
                            "%s\n", in->count, r->messages.count,
                            r->summarized_count, r->kept_count,
                            am_summary_mw_summary(mw).ptr);
    return st;
}

static am_status mw_retry_body(void *ctx, const am_allocator *alloc)
{
    mw_retry_ctx *c = ctx;
    am_summary_mw_opts o = am_summary_mw_opts_default();
    am_summary_mw *mw = NULL;
    am_summarize_result r = AM_SUMMARIZE_RESULT_INIT;
    am_msg_list next = AM_MSG_LIST_INIT;
    am_buf fp = AM_BUF_INIT;
    am_status st;

    o.trigger_tokens = 60;
    o.keep_last = 2;
    o.budget = 300;
    o.alloc = alloc;
    st = am_summary_mw_create(&o, &mw, NULL);
    if (st != AM_OK)
        return st;
    for (size_t i = 0; st == AM_OK && i < c->first; i++)
        st = am_msg_list_push(&next, c->l->items[i]);
    if (st == AM_OK)
        st = mw_round(mw, &next, &r, &fp);
    am_msg_list_clear(&next);
    for (size_t i = 0; st == AM_OK && i < r.messages.count; i++)
        st = am_msg_list_push(&next, r.messages.items[i]);
    for (size_t i = c->from; st == AM_OK && i < c->to; i++)
        st = am_msg_list_push(&next, c->l->items[i]);
    if (st == AM_OK)
        st = mw_round(mw, &next, &r, &fp);
    if (st == AM_OK && c->want.len == 0) {
        st = am_buf_append(&c->want, fp.ptr, fp.len);
    } else if (st == AM_OK && (fp.len != c->want.len ||
                               memcmp(fp.ptr, c->want.ptr, fp.len) != 0)) {
        fprintf(stderr, "after a failed call:\n%s--- want:\n%s", fp.ptr,
                c->want.ptr);
        st = AM_EPROTO;
    }
    am_buf_free(&fp);
    am_msg_list_free(&next);
    am_summarize_result_free(&r);
    am_summary_mw_free(mw);
    return st;
}

static void mw_retry_sweep(am_msg_list *l, size_t first, size_t from,
                           size_t to)
{
    mw_retry_ctx c = { l, first, from, to, AM_BUF_INIT };
    CHECK_OK(mw_retry_body(&c, NULL));
    CHECK(strstr(c.want.ptr, "summarized 0") == NULL);
    CHECK(test_oom_sweep(mw_retry_body, &c) > 5);
    am_buf_free(&c.want);
}

/* A count for the token trigger that runs out of memory is AM_ENOMEM, not
 * AM_OK with the input passed through unsummarized. */
AM_TEST(middleware_failed_trigger_count_is_an_error)
{
    am_msg_list l = AM_MSG_LIST_INIT;
    load(&l);
    mw_retry_sweep(&l, l.count, 1, 8);
    am_msg_list_free(&l);
}

/* A short first summary (of the first 5 messages), then a longer one, so
 * the running summary's buffer has to grow when it is replaced: memory
 * running out there must not lose the running summary. */
AM_TEST(middleware_failed_call_keeps_the_running_summary)
{
    am_msg_list l = AM_MSG_LIST_INIT;
    load(&l);
    mw_retry_sweep(&l, 5, 5, l.count);
    am_msg_list_free(&l);
}

/* am_trim promises an empty result on failure, whatever `res` held before
 * (here the result of an earlier trim), and a good answer otherwise: under
 * the failing allocator, every strategy with a partial cut either fails
 * with `res` empty or gives what a trim without failures gives. */
typedef struct trim_ctx {
    am_msg_list *l;
    am_trim_strategy strategy;
    size_t want_count, want_dropped, want_tokens;
} trim_ctx;

static am_status trim_empty_body(void *ctx, const am_allocator *alloc)
{
    trim_ctx *c = ctx;
    am_trim_opts o = am_trim_opts_default();
    am_trim_result r = AM_TRIM_RESULT_INIT;
    am_status st;

    o.alloc = alloc;
    o.strategy = c->strategy;
    o.max_tokens = 120;
    o.allow_partial = true;
    /* The second trim releases what the first left in `r` (either may be
     * the one that meets the injected failure). */
    st = am_trim(items(c->l), c->l->count, &o, &r, NULL);
    if (st == AM_OK)
        st = am_trim(items(c->l), c->l->count, &o, &r, NULL);
    if (st != AM_OK && (r.messages.count != 0 || r.dropped_count != 0 ||
                        r.tokens_after != 0))
        st = AM_EPROTO; /* not empty on failure */
    if (st == AM_OK &&
        (r.messages.count != c->want_count ||
         r.dropped_count != c->want_dropped ||
         r.tokens_after != c->want_tokens))
        st = AM_EPROTO;
    am_trim_result_free(&r);
    return st;
}

AM_TEST(failed_trim_leaves_an_empty_result)
{
    am_msg_list l = AM_MSG_LIST_INIT;
    load(&l);
    for (int s = AM_TRIM_LAST; s <= AM_TRIM_TOKENS; s++) {
        trim_ctx c = { &l, (am_trim_strategy)s, 0, 0, 0 };
        am_trim_opts o = am_trim_opts_default();
        am_trim_result r = AM_TRIM_RESULT_INIT;
        o.strategy = c.strategy;
        o.max_tokens = 120;
        o.allow_partial = true;
        CHECK_OK(am_trim(items(&l), l.count, &o, &r, NULL));
        c.want_count = r.messages.count;
        c.want_dropped = r.dropped_count;
        c.want_tokens = r.tokens_after;
        CHECK(c.want_dropped > 0);
        am_trim_result_free(&r);
        CHECK(test_oom_sweep(trim_empty_body, &c) > 3);
    }
    am_msg_list_free(&l);
}

/* ---- One count for a message list ---- */

/* trim once reported 7,924 tokens for a result that `tokens count
 * --messages` counted as 7,984. The count of a list (trim's figures,
 * am_count_msgs) equals the billed count of the same messages in OpenAI
 * JSON (am_tokenizer_count_messages_json), with tool calls, names and
 * images. */
AM_TEST(trim_figure_equals_the_billed_count)
{
    static const char *const convs[] = {
        "[{\"role\":\"system\",\"content\":\"You are terse.\"},"
        "{\"role\":\"user\",\"name\":\"dana_s\",\"content\":\"What is the "
        "weather in Lisbon and in Porto?\"},"
        "{\"role\":\"assistant\",\"content\":null,\"tool_calls\":["
        "{\"id\":\"c1\",\"type\":\"function\",\"function\":{\"name\":"
        "\"weather\",\"arguments\":\"{\\\"city\\\":\\\"Lisbon\\\"}\"}},"
        "{\"id\":\"c2\",\"type\":\"function\",\"function\":{\"name\":"
        "\"weather\",\"arguments\":\"{\\\"city\\\":\\\"Porto\\\"}\"}}]},"
        "{\"role\":\"tool\",\"tool_call_id\":\"c1\",\"content\":\"21C "
        "sunny\"},"
        "{\"role\":\"tool\",\"tool_call_id\":\"c2\",\"content\":\"17C, "
        "rain later\"},"
        "{\"role\":\"assistant\",\"name\":\"helper\",\"content\":\"Lisbon: "
        "21C and sunny. Porto: 17C, rain later.\"}]",
        "[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":"
        "\"What is in this picture?\"},{\"type\":\"image_url\","
        "\"image_url\":{\"url\":\"https://example.com/cat.png\"}},"
        "{\"type\":\"text\",\"text\":\"Answer in one word.\"}]},"
        "{\"role\":\"assistant\",\"content\":\"Cat.\"}]",
        /* Reasoning and a refusal are text on both paths (the JSON
         * counter reads with the same reader, #11). */
        "[{\"role\":\"developer\",\"content\":\"Be exact.\"},"
        "{\"role\":\"user\",\"content\":\"Can I get a refund?\"},"
        "{\"role\":\"assistant\",\"reasoning_content\":\"Check the "
        "policy first.\",\"content\":[{\"type\":\"text\",\"text\":"
        "\"No.\"},{\"type\":\"refusal\",\"refusal\":\"I cannot "
        "refund that.\"}]}]",
        "[]",
    };
    am_tokenizer *tz = NULL;
    CHECK_OK(am_tokenizer_create(AM_STR("gpt-4o"), NULL, &tz, NULL));
    for (size_t i = 0; i < sizeof convs / sizeof convs[0]; i++) {
        am_msg_list l = AM_MSG_LIST_INIT;
        am_trim_result r = AM_TRIM_RESULT_INIT;
        am_trim_opts o = am_trim_opts_default();
        am_counter c = { tz, NULL, NULL };
        am_error err;
        size_t billed = 0, listed = 0;

        CHECK_OK_E(am_msgs_from_json(NULL, AM_FORMAT_OPENAI,
                                     am_str_c(convs[i]), &l, &err), &err);
        CHECK_OK(am_tokenizer_count_messages_json(tz, am_str_c(convs[i]),
                                                  &billed, NULL));
        CHECK_OK(am_count_msgs(&c, items(&l), l.count, &listed, NULL));
        CHECK_EQ(listed, l.count > 0 ? billed : 0);
        o.counter = c;
        CHECK_OK(am_trim(items(&l), l.count, &o, &r, NULL));
        CHECK_EQ(r.tokens_before, listed);
        CHECK_EQ(r.tokens_after, listed);
        /* A budget is on the same count: the whole list fits exactly
         * its own figure, and one token less drops something. */
        if (l.count > 2) {
            o.max_tokens = listed;
            CHECK_OK(am_trim(items(&l), l.count, &o, &r, NULL));
            CHECK_EQ(r.dropped_count, 0);
            o.max_tokens = listed - 1;
            CHECK_OK(am_trim(items(&l), l.count, &o, &r, NULL));
            CHECK(r.dropped_count > 0);
            CHECK(r.tokens_after <= listed - 1);
        }
        am_trim_result_free(&r);
        am_msg_list_free(&l);
    }
    am_tokenizer_free(tz);
}

/* ---- window.h promises not held elsewhere (audit, session 13) ---- */

static size_t count_seven(void *ctx, const am_msg *m)
{
    (void)ctx, (void)m;
    return 7;
}

static am_status fixed_summary(void *ctx, am_str prev,
                               const am_msg *const *msgs, size_t count,
                               size_t budget, am_buf *out, am_error *err)
{
    (void)ctx, (void)prev, (void)msgs, (void)count, (void)budget, (void)err;
    am_buf_clear(out);
    return am_buf_append(out, "fixed", 5);
}

/* The list count: 0 for nothing, 3 of priming over the messages' sum,
 * none with a count_msg callback; NULL arguments refused. */
AM_TEST(count_msgs_primes_the_reply_except_for_a_callback)
{
    am_msg_list l = AM_MSG_LIST_INIT;
    am_counter cb = { NULL, count_seven, NULL };
    size_t n = 99, one = 0, two = 0;
    am_error err;

    load(&l);
    CHECK_OK(am_count_msgs(NULL, items(&l), 0, &n, &err));
    CHECK_EQ(n, 0);
    CHECK_OK(am_count_msg(NULL, l.items[0], &one, &err));
    CHECK_OK(am_count_msg(NULL, l.items[1], &two, &err));
    CHECK_OK(am_count_msgs(NULL, items(&l), 2, &n, &err));
    CHECK_EQ(n, one + two + 3);
    CHECK_OK(am_count_msgs(&cb, items(&l), 2, &n, &err));
    CHECK_EQ(n, 14);
    CHECK_OK(am_count_msg(&cb, l.items[0], &n, &err));
    CHECK_EQ(n, 7);
    CHECK_ST(am_count_msgs(NULL, items(&l), 2, NULL, &err), AM_EINVAL);
    CHECK_ST(am_count_msgs(NULL, NULL, 2, &n, &err), AM_EINVAL);
    am_msg_list_free(&l);
}

/* Defaults of the three option structs; trim's AM_EINVAL cases, which
 * release what `res` held and leave it empty. */
AM_TEST(window_defaults_and_bad_trim_options_are_what_the_header_says)
{
    am_trim_opts t = am_trim_opts_default();
    am_summarize_opts s = am_summarize_opts_default();
    am_summary_mw_opts w = am_summary_mw_opts_default();
    am_summarizer_opts so = am_summarizer_opts_default();
    am_msg_list l = AM_MSG_LIST_INIT;
    am_trim_result r = AM_TRIM_RESULT_INIT;
    am_summary_mw *mw = (am_summary_mw *)&mw;
    am_error err;

    CHECK_EQ(t.strategy, AM_TRIM_LAST);
    CHECK_EQ(t.max_messages, 0);
    CHECK_EQ(t.max_tokens, 0);
    CHECK(t.preserve_system);
    CHECK(!t.start_on_user);
    CHECK_EQ(t.end_on_role, -1);
    CHECK(!t.allow_partial);
    CHECK(t.model == NULL);
    CHECK_EQ(s.keep_last, 0);
    CHECK_EQ(s.budget, 0);
    CHECK(s.preserve_system);
    CHECK(s.summarizer == NULL && s.model == NULL);
    CHECK_EQ(w.trigger_tokens, 0);
    CHECK_EQ(w.trigger_messages, 0);
    CHECK_EQ(w.keep_last, 10);
    CHECK(w.summarizer == NULL && w.model == NULL);
    CHECK_EQ(so.input_limit, 0);
    CHECK(so.counter == NULL && so.alloc == NULL);
    CHECK_EQ(so.markers.len, 0);
    /* No trigger: the middleware is refused. */
    CHECK_ST(am_summary_mw_create(&w, &mw, &err), AM_EINVAL);
    am_summary_mw_free(NULL);

    load(&l);
    CHECK_OK(am_trim(items(&l), l.count, &t, &r, &err));
    CHECK(r.messages.count > 0);
    t.strategy = AM_TRIM_TOKENS;               /* without max_tokens */
    CHECK_ST(am_trim(items(&l), l.count, &t, &r, &err), AM_EINVAL);
    CHECK_EQ(r.messages.count, 0);
    CHECK_EQ(r.dropped_count, 0);
    t = am_trim_opts_default();
    t.end_on_role = AM_ROLE_COUNT;
    CHECK_ST(am_trim(items(&l), l.count, &t, &r, &err), AM_EINVAL);
    CHECK(strstr(err.msg, "end_on_role") != NULL);
    t.end_on_role = -2;
    CHECK_ST(am_trim(items(&l), l.count, &t, &r, &err), AM_EINVAL);
    CHECK_EQ(r.messages.count, 0);
    am_trim_result_free(&r);
    am_trim_result_free(NULL);
    am_summarize_result_free(NULL);
    am_msg_list_free(&l);
}

/* Summarizers: the checks of create and offline, the names, 0 spent when
 * a vtable does not say; the summary message's shape; nothing to
 * summarize gives the input back. */
AM_TEST(summarizers_and_the_summary_message_keep_their_small_promises)
{
    static const am_summarizer_vtable none = { "none", NULL, NULL, NULL,
                                               NULL };
    static const am_summarizer_vtable fixed = { "fixed-one", fixed_summary,
                                                NULL, NULL, NULL };
    am_summarizer_opts so = am_summarizer_opts_default();
    am_summarizer *s = NULL;
    am_summarize_opts o = am_summarize_opts_default();
    am_summarize_result r = AM_SUMMARIZE_RESULT_INIT;
    am_msg_list l = AM_MSG_LIST_INIT;
    char markers[AM_MEMCFG_TEXT_MAX + 1];
    am_str text;
    am_error err;

    CHECK_ST(am_summarizer_create(NULL, NULL, NULL, &s, &err), AM_EINVAL);
    CHECK_ST(am_summarizer_create(&none, NULL, NULL, &s, &err), AM_EINVAL);
    CHECK_OK(am_summarizer_create(&fixed, NULL, NULL, &s, &err));
    CHECK_STR_EQ(am_summarizer_name(s), "fixed-one");
    CHECK_EQ(am_summarizer_tokens_spent(s), 0);
    CHECK(am_summarizer_cost_spent(s) == 0.0);

    load(&l);
    o.summarizer = s;
    o.keep_last = 2;
    CHECK_OK_E(am_summarize(items(&l), l.count, &o, &r, &err), &err);
    /* system message 0, the summary, the last two. */
    CHECK_EQ(r.messages.count, 4);
    CHECK(r.messages.items[0] == l.items[0]);
    CHECK_EQ(am_msg_role(r.messages.items[1]), AM_ROLE_SYSTEM);
    CHECK_MEM_EQ(am_msg_name(r.messages.items[1]).ptr,
                 am_msg_name(r.messages.items[1]).len, "summary");
    text = am_msg_content_text(r.messages.items[1]);
    CHECK(text.len >= 20 && memcmp(text.ptr, "[Compressed Summary]", 20) == 0);
    CHECK(strstr(text.ptr, "fixed") != NULL);
    /* keep_last covering everything: the input back, unchanged. */
    o.keep_last = l.count;
    CHECK_OK(am_summarize(items(&l), l.count, &o, &r, &err));
    CHECK_EQ(r.messages.count, l.count);
    for (size_t i = 0; i < l.count; i++)
        CHECK(r.messages.items[i] == l.items[i]);
    CHECK_EQ(r.summarized_count, 0);
    am_summarize_result_free(&r);
    am_summarizer_free(s);
    am_summarizer_free(NULL);

    memset(markers, 'm', sizeof markers);
    so.markers = (am_str){ markers, sizeof markers };
    CHECK_ST(am_summarizer_offline(&so, &s, &err), AM_EINVAL);
    CHECK(strstr(err.msg, "markers") != NULL);
    CHECK_OK(am_summarizer_offline(NULL, &s, &err));
    CHECK_STR_EQ(am_summarizer_name(s), "offline");
    CHECK_EQ(am_summarizer_tokens_spent(s), 0);
    am_summarizer_free(s);
    am_msg_list_free(&l);
}
