/* test_window_random.c -- randomized agent histories: the invariants
 * hold for every trim and summarize option, and through the memory
 * manager the context stays sendable. */
#include "window_fixture.h"

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
