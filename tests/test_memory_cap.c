/* test_memory_cap.c -- the memory manager's hard cap (max_context_tokens):
 * never exceeded, the user turn kept, a message that cannot fit refused
 * without change, and the cap under OOM. */
#include "memory_fixture.h"

/* ---- The hard cap ---- */

static char *big_text(size_t words)
{
    static const char *const w[] = { "alpha", "beta", "gamma", "delta" };
    am_buf b = AM_BUF_INIT;
    CHECK_OK(am_buf_append(&b, "HEAD ", 5));
    for (size_t i = 0; i < words; i++)
        CHECK_OK(am_buf_appendf(&b, "%s ", w[i % 4]));
    CHECK_OK(am_buf_append(&b, "TAIL", 4));
    return b.ptr; /* the default allocator's: free() */
}

static bool str_has(am_str t, const char *needle)
{
    size_t n = strlen(needle);
    for (size_t i = 0; i + n <= t.len; i++)
        if (memcmp(t.ptr + i, needle, n) == 0)
            return true;
    return false;
}

static size_t count_text_tokens(const char *t)
{
    size_t n = 0;
    CHECK_OK(am_tokenizer_count(default_tz(), am_str_c(t), NULL, &n, NULL));
    return n;
}

/* One tool result of ~7,000 tokens in a 4,000-token budget once sent
 * 8,924 tokens and evicted the user turn it answered. */
AM_TEST(the_context_never_exceeds_max_context_tokens_and_keeps_the_user_turn)
{
    for (int enabled = 0; enabled < 2; enabled++) {
        am_memory_opts o = am_memory_opts_default();
        am_memory *mem = NULL;
        am_msg_list ctx = AM_MSG_LIST_INIT;
        char *big = big_text(7000);
        bool cut_seen = false;

        CHECK(count_text_tokens(big) > 6500);
        o.config.enabled = enabled;
        o.config.max_context_tokens = 4000;
        o.config.compression_threshold = 3000;
        o.counter.tokenizer = default_tz();
        CHECK_OK(am_memory_create(&o, &mem, NULL));
        add(mem, text_msg(AM_ROLE_SYSTEM, "You are a careful analyst."));
        for (int i = 0; i < 3; i++)
            turn(mem, i, false);
        add(mem, text_msg(AM_ROLE_USER, "Fetch the Q3 report and tell me "
                                        "what changed."));
        add(mem, call_msg("r1", NULL, "fetch_report"));
        add(mem, result_msg("r1", big));
        CHECK(context_tokens(mem, &ctx) <= 4000);
        CHECK(context_has(mem, "Fetch the Q3 report"));
        CHECK(context_has(mem, "You are a careful analyst."));
        check_sendable(&ctx);
        for (size_t i = 0; i < ctx.count; i++) {
            am_str t = am_msg_content_text(ctx.items[i]);
            if (am_msg_role(ctx.items[i]) != AM_ROLE_TOOL ||
                strncmp(t.ptr, "HEAD alpha", 10) != 0)
                continue;
            CHECK(str_has(t, "tokens cut to fit the context budget ...]"));
            CHECK(t.len > 1000); /* cut to fit, not to nothing */
            CHECK_MEM_EQ(t.ptr + t.len - 10, 10, "delta TAIL");
            CHECK_STR_EQ(am_msg_tool_call_id(ctx.items[i]).ptr, "r1");
            CHECK_EQ(am_msg_created_ms(ctx.items[i]), RESULT_CREATED_MS);
            cut_seen = true;
        }
        CHECK(cut_seen);
        /* The answer arrives: still within the cap, the turn still there. */
        add(mem, text_msg(AM_ROLE_ASSISTANT, "Revenue rose 4%."));
        CHECK(context_tokens(mem, &ctx) <= 4000);
        CHECK(context_has(mem, "Fetch the Q3 report"));
        /* A single user message larger than the budget is cut too. */
        add(mem, text_msg(AM_ROLE_USER, big));
        CHECK(context_tokens(mem, &ctx) <= 4000);
        CHECK(context_has(mem, "HEAD alpha"));
        am_msg_list_free(&ctx);
        am_memory_free(mem);
        free(big);
    }
}

/* What cannot be cut (a message of parts) and does not fit is refused
 * with both figures, and the manager is as it was. */
AM_TEST(a_message_that_cannot_fit_the_cap_is_refused_and_changes_nothing)
{
    am_memory_opts o = am_memory_opts_default();
    am_memory *mem = NULL;
    am_msg_list ctx = AM_MSG_LIST_INIT;
    am_msg *m = NULL;
    char *big = big_text(3000);
    am_part p;

    o.config.max_context_tokens = 1000;
    o.config.compression_threshold = 800;
    o.counter.tokenizer = default_tz();
    CHECK_OK(am_memory_create(&o, &mem, NULL));
    add(mem, text_msg(AM_ROLE_USER, "hello"));
    memset(&p, 0, sizeof p);
    p.type = AM_PART_TEXT;
    p.text = am_str_c(big);
    CHECK_OK(am_msg_create(NULL, AM_ROLE_USER, &m, NULL));
    CHECK_OK(am_msg_add_part(m, &p, NULL));
    CHECK_ST(am_memory_add(mem, m, NULL), AM_ELIMIT);
    CHECK(strstr(am_memory_last_error(mem)->msg, "max_context_tokens is "
                 "1000") != NULL);
    am_msg_free(m);
    CHECK_OK(am_memory_context(mem, &ctx));
    CHECK_EQ(ctx.count, 1);
    CHECK(context_has(mem, "hello"));
    am_msg_list_free(&ctx);
    am_memory_free(mem);
    free(big);
}

/* The cap's drops and cuts under a failing allocator: every run answers
 * AM_OK or AM_ENOMEM, leaks nothing, and an AM_OK context fits. */
static am_status cap_oom_body(void *ctx, const am_allocator *alloc)
{
    const char *big = ctx;
    am_memory_opts o = am_memory_opts_default();
    am_memory *mem = NULL;
    am_msg_list l = AM_MSG_LIST_INIT;
    am_msg *ms[4];
    am_status st;

    o.alloc = alloc;
    o.config.max_context_tokens = 600;
    o.config.compression_threshold = 500;
    o.config.strategy = AM_COMPRESS_DELETION;
    o.counter.tokenizer = default_tz();
    st = am_memory_create(&o, &mem, NULL);
    if (st != AM_OK)
        return st;
    ms[0] = text_msg(AM_ROLE_USER, "old question");
    ms[1] = text_msg(AM_ROLE_USER, "Fetch the report.");
    ms[2] = call_msg("r1", NULL, "fetch_report");
    ms[3] = result_msg("r1", big);
    for (int i = 0; i < 4; i++) {
        if (st == AM_OK)
            st = am_memory_add(mem, ms[i], NULL);
        am_msg_free(ms[i]);
    }
    l.alloc = alloc;
    if (st == AM_OK)
        st = am_memory_context(mem, &l);
    if (st == AM_OK) {
        am_counter c = { default_tz(), NULL, NULL };
        size_t total = 0, n = 0;
        for (size_t i = 0; i < l.count; i++) {
            CHECK_OK(am_count_msg(&c, l.items[i], &n, NULL));
            total += n;
        }
        CHECK(total <= 600);
    }
    am_msg_list_free(&l);
    am_memory_free(mem);
    return st;
}

AM_TEST(the_cap_survives_oom)
{
    char *big = big_text(2000);
    CHECK(test_oom_sweep(cap_oom_body, big) > 10);
    free(big);
}
