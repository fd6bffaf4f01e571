/* test_wire.c -- the OpenAI and Anthropic wire formats, both directions. */
#include <stdlib.h>

#include "agentmem/msg.h"
#include "harness.h"

#define CHECK_CONTAINS(hay, needle)                                      \
    do {                                                                \
        if (strstr((hay), (needle)) == NULL) {                          \
            print_error("%s:%d: \"%s\" does not contain \"%s\"\n",      \
                        __FILE__, __LINE__, (hay), (needle));           \
            fail();                                                     \
        }                                                               \
    } while (0)

static const char agent_conv[] =
    "[{\"id\":\"1\",\"role\":\"system\",\"created_ms\":1,\"content\":\"Be "
    "brief\"},\n"
    "{\"id\":\"2\",\"role\":\"user\",\"created_ms\":2,\"content\":\"hi\"},\n"
    "{\"id\":\"3\",\"role\":\"assistant\",\"created_ms\":3,\"content\":[{"
    "\"type\":\"thinking\",\"thinking\":\"hmm\",\"signature\":\"S\"},{"
    "\"type\":\"text\",\"text\":\"let me look\"}],\"tool_calls\":[{\"id\":"
    "\"c1\",\"type\":\"function\",\"name\":\"search\",\"arguments\":"
    "\"{\\\"q\\\":1}\"}]},\n"
    "{\"id\":\"4\",\"role\":\"tool\",\"created_ms\":4,\"content\":\"found\","
    "\"tool_call_id\":\"c1\"},\n"
    "{\"id\":\"5\",\"role\":\"user\",\"created_ms\":5,\"content\":\"and?\","
    "\"images\":[\"data:image/png;base64,AAAA\"]},\n"
    "{\"id\":\"6\",\"role\":\"assistant\",\"created_ms\":6,\"content\":"
    "\"done\"}\n]\n";

static void load(am_format fmt, const char *text, am_msg_list *l)
{
    am_error err = { AM_OK, "" };
    CHECK_OK_E(am_msgs_from_json(NULL, fmt, am_str_c(text), l, &err), &err);
}

static void dump(const am_msg_list *l, am_format fmt, unsigned flags,
                 am_buf *b)
{
    am_error err = { AM_OK, "" };
    CHECK_OK_E(am_msgs_to_json((const am_msg *const *)l->items, l->count,
                               fmt, flags, b, &err), &err);
}

AM_TEST(tool_call_id_and_call_id_stay_distinct_through_every_format)
{
    static const am_format fmts[] = { AM_FORMAT_AGENTMEM, AM_FORMAT_OPENAI,
                                       AM_FORMAT_ANTHROPIC };
    am_msg *m = NULL, *u = NULL, *r = NULL;
    am_msg_list l = AM_MSG_LIST_INIT;
    am_buf b = AM_BUF_INIT;
    am_error err = { AM_OK, "" };
    /* The Responses API's shape: item id fc_..., call id call_... */
    am_tool_call tc = { AM_STR("fc_1"), AM_STR("function"), AM_STR("search"),
                        AM_STR("{\"q\":1}"), AM_STR("call_1") };
    CHECK_OK(am_msg_create_text(NULL, AM_ROLE_USER, AM_STR("find"), &u,
                                NULL));
    CHECK_OK(am_msg_create(NULL, AM_ROLE_ASSISTANT, &m, NULL));
    CHECK_OK(am_msg_add_tool_call(m, &tc, NULL));
    CHECK_OK(am_msg_create_text(NULL, AM_ROLE_TOOL, AM_STR("found"), &r,
                                NULL));
    CHECK_OK(am_msg_set_tool_call_id(r, AM_STR("fc_1"), NULL));
    const am_msg *const three[] = { u, m, r };
    for (size_t i = 0; i < 3; i++) {
        CHECK_OK_E(am_msgs_to_json(three, 3, fmts[i], 0, &b, &err), &err);
        CHECK_CONTAINS(b.ptr, "\"call_id\":\"call_1\"");
        am_msg_list_clear(&l);
        load(fmts[i], b.ptr, &l);
        const am_tool_call *back = NULL;
        for (size_t k = 0; k < l.count; k++)
            if (am_msg_tool_call_count(l.items[k]) == 1)
                back = am_msg_tool_call(l.items[k], 0);
        CHECK(back != NULL);
        CHECK_STR_EQ(back->id.ptr, "fc_1");
        CHECK_EQ(back->call_id.len, 6);
        CHECK(memcmp(back->call_id.ptr, "call_1", 6) == 0);
        /* PORTABLE leaves the extension out for the provider's API. */
        if (fmts[i] != AM_FORMAT_AGENTMEM) {
            CHECK_OK(am_msgs_to_json(three, 3, fmts[i], AM_WIRE_PORTABLE, &b,
                                     NULL));
            CHECK(strstr(b.ptr, "call_id\":\"call_1") == NULL);
        }
    }
    /* Without a call id nothing extra is written. */
    am_msg_list_clear(&l);
    load(AM_FORMAT_AGENTMEM, agent_conv, &l);
    CHECK_EQ(am_msg_tool_call(l.items[2], 0)->call_id.len, 0);
    dump(&l, AM_FORMAT_AGENTMEM, 0, &b);
    CHECK(strstr(b.ptr, "\"call_id\"") == NULL);
    /* A call id that is not a string is named. */
    am_msg_list_clear(&l);
    CHECK_ST(am_msgs_from_json(NULL, AM_FORMAT_OPENAI,
                               AM_STR("[{\"role\":\"assistant\","
                                      "\"tool_calls\":[{\"id\":\"a\","
                                      "\"call_id\":1,\"function\":{"
                                      "\"name\":\"f\"}}]}]"),
                               &l, &err),
             AM_EFORMAT);
    CHECK_CONTAINS(err.msg, "call_id");
    am_msg_list_free(&l);
    am_buf_free(&b);
    am_msg_free(u);
    am_msg_free(m);
    am_msg_free(r);
}

AM_TEST(openai_messages_carry_tools_names_images_and_reasoning)
{
    am_msg_list l = AM_MSG_LIST_INIT, back = AM_MSG_LIST_INIT;
    am_buf b = AM_BUF_INIT, b2 = AM_BUF_INIT;

    load(AM_FORMAT_AGENTMEM, agent_conv, &l);
    dump(&l, AM_FORMAT_OPENAI, 0, &b);
    CHECK_MEM_EQ(b.ptr, b.len,
        "[{\"role\":\"system\",\"content\":\"Be brief\"},\n"
        "{\"role\":\"user\",\"content\":\"hi\"},\n"
        "{\"role\":\"assistant\",\"content\":\"let me look\",\"tool_calls\":"
        "[{\"id\":\"c1\",\"type\":\"function\",\"function\":{\"name\":"
        "\"search\",\"arguments\":\"{\\\"q\\\":1}\"}}],\"reasoning_items\":"
        "[{\"type\":\"thinking\",\"thinking\":\"hmm\",\"signature\":\"S\"}]}"
        ",\n{\"role\":\"tool\",\"content\":\"found\",\"tool_call_id\":"
        "\"c1\"},\n{\"role\":\"user\",\"content\":[{\"type\":\"text\","
        "\"text\":\"and?\"},{\"type\":\"image_url\",\"image_url\":{\"url\":"
        "\"data:image/png;base64,AAAA\"}}]},\n{\"role\":\"assistant\","
        "\"content\":\"done\"}]\n");
    /* Read back and write again: stable, thinking signature kept. */
    load(AM_FORMAT_OPENAI, b.ptr, &back);
    CHECK_EQ(back.count, 6);
    CHECK_EQ(am_msg_part(back.items[2], 0)->type, AM_PART_THINKING);
    CHECK_MEM_EQ(am_msg_part(back.items[2], 0)->signature.ptr,
                 am_msg_part(back.items[2], 0)->signature.len, "S");
    dump(&back, AM_FORMAT_OPENAI, 0, &b2);
    CHECK_MEM_EQ(b2.ptr, b2.len, b.ptr);
    /* Portable output leaves the extension out. */
    dump(&l, AM_FORMAT_OPENAI, AM_WIRE_PORTABLE, &b);
    CHECK(strstr(b.ptr, "reasoning_items") == NULL);
    am_msg_list_free(&l);
    am_msg_list_free(&back);
    am_buf_free(&b);
    am_buf_free(&b2);
}

AM_TEST(anthropic_request_hoists_system_and_groups_tool_results)
{
    am_msg_list l = AM_MSG_LIST_INIT, back = AM_MSG_LIST_INIT;
    am_buf b = AM_BUF_INIT, b2 = AM_BUF_INIT;

    load(AM_FORMAT_AGENTMEM, agent_conv, &l);
    dump(&l, AM_FORMAT_ANTHROPIC, 0, &b);
    CHECK_MEM_EQ(b.ptr, b.len,
        "{\"system\":\"Be brief\",\n\"messages\":[\n"
        "{\"role\":\"user\",\"content\":\"hi\"},\n"
        "{\"role\":\"assistant\",\"content\":[{\"type\":\"thinking\","
        "\"thinking\":\"hmm\",\"signature\":\"S\"},{\"type\":\"text\","
        "\"text\":\"let me look\"},{\"type\":\"tool_use\",\"id\":\"c1\","
        "\"name\":\"search\",\"input\":{\"q\":1}}]},\n"
        "{\"role\":\"user\",\"content\":[{\"type\":\"tool_result\","
        "\"tool_use_id\":\"c1\",\"content\":\"found\"},{\"type\":\"text\","
        "\"text\":\"and?\"},{\"type\":\"image\",\"source\":{\"type\":"
        "\"base64\",\"media_type\":\"image/png\",\"data\":\"AAAA\"}}]},\n"
        "{\"role\":\"assistant\",\"content\":\"done\"}]}\n");
    load(AM_FORMAT_ANTHROPIC, b.ptr, &back);
    /* system, user, assistant(+tool call), tool, user, assistant */
    CHECK_EQ(back.count, 6);
    CHECK_EQ(am_msg_role(back.items[0]), AM_ROLE_SYSTEM);
    CHECK_EQ(am_msg_role(back.items[3]), AM_ROLE_TOOL);
    CHECK_MEM_EQ(am_msg_tool_call_id(back.items[3]).ptr,
                 am_msg_tool_call_id(back.items[3]).len, "c1");
    CHECK_MEM_EQ(am_msg_tool_call(back.items[2], 0)->arguments.ptr,
                 am_msg_tool_call(back.items[2], 0)->arguments.len,
                 "{\"q\":1}");
    dump(&back, AM_FORMAT_ANTHROPIC, 0, &b2);
    CHECK_MEM_EQ(b2.ptr, b2.len, b.ptr);
    am_msg_list_free(&l);
    am_msg_list_free(&back);
    am_buf_free(&b);
    am_buf_free(&b2);
}

AM_TEST(anthropic_merges_same_role_turns_and_keeps_all_systems)
{
    am_msg_list l = AM_MSG_LIST_INIT;
    am_buf b = AM_BUF_INIT;

    load(AM_FORMAT_AGENTMEM,
         "[{\"role\":\"system\",\"content\":\"A\"},"
         "{\"role\":\"user\",\"content\":\"one\"},"
         "{\"role\":\"user\",\"content\":\"two\"},"
         "{\"role\":\"system\",\"content\":\"B\"},"
         "{\"role\":\"assistant\",\"content\":\"ok\"}]", &l);
    dump(&l, AM_FORMAT_ANTHROPIC, 0, &b);
    CHECK_MEM_EQ(b.ptr, b.len,
        "{\"system\":[{\"type\":\"text\",\"text\":\"A\"},{\"type\":\"text\","
        "\"text\":\"B\"}],\n\"messages\":[\n{\"role\":\"user\",\"content\":"
        "[{\"type\":\"text\",\"text\":\"one\"},{\"type\":\"text\",\"text\":"
        "\"two\"}]},\n{\"role\":\"assistant\",\"content\":\"ok\"}]}\n");
    am_msg_list_free(&l);
    am_buf_free(&b);
}

AM_TEST(anthropic_thinking_and_errors_survive_a_round_trip)
{
    static const char req[] =
        "{\"system\":\"S\",\"messages\":[{\"role\":\"user\",\"content\":"
        "[{\"type\":\"text\",\"text\":\"look\"},{\"type\":\"image\","
        "\"source\":{\"type\":\"url\",\"url\":\"https://x/y.png\"}}]},\n"
        "{\"role\":\"assistant\",\"content\":[{\"type\":\"thinking\","
        "\"thinking\":\"t1\",\"signature\":\"EqQB\"},{\"type\":"
        "\"redacted_thinking\",\"data\":\"ENC\"},{\"type\":\"tool_use\","
        "\"id\":\"tu1\",\"name\":\"calc\",\"input\":{\"x\": 2.50}}]},\n"
        "{\"role\":\"user\",\"content\":[{\"type\":\"tool_result\","
        "\"tool_use_id\":\"tu1\",\"content\":\"boom\",\"is_error\":true}]}]}";
    am_msg_list l = AM_MSG_LIST_INIT, l2 = AM_MSG_LIST_INIT;
    am_buf agent = AM_BUF_INIT, a1 = AM_BUF_INIT, a2 = AM_BUF_INIT;

    load(AM_FORMAT_ANTHROPIC, req, &l);
    CHECK_EQ(l.count, 4);
    CHECK_EQ(am_msg_part(l.items[2], 1)->type, AM_PART_REDACTED_THINKING);
    CHECK_MEM_EQ(am_msg_part(l.items[2], 0)->signature.ptr,
                 am_msg_part(l.items[2], 0)->signature.len, "EqQB");
    CHECK(am_msg_part(l.items[3], 0)->is_error);
    dump(&l, AM_FORMAT_ANTHROPIC, 0, &a1);
    /* Through agentmem JSON and back: identical Anthropic output. */
    dump(&l, AM_FORMAT_AGENTMEM, 0, &agent);
    load(AM_FORMAT_AGENTMEM, agent.ptr, &l2);
    dump(&l2, AM_FORMAT_ANTHROPIC, 0, &a2);
    CHECK_MEM_EQ(a2.ptr, a2.len, a1.ptr);
    CHECK_CONTAINS(a1.ptr, "\"input\":{\"x\":2.50}");
    CHECK_CONTAINS(a1.ptr, "\"is_error\":true");
    CHECK_CONTAINS(a1.ptr, "\"redacted_thinking\",\"data\":\"ENC\"");
    /* And through OpenAI (reasoning in the extension field) too. */
    dump(&l, AM_FORMAT_OPENAI, 0, &agent);
    am_msg_list_clear(&l2);
    load(AM_FORMAT_OPENAI, agent.ptr, &l2);
    CHECK_EQ(am_msg_part(l2.items[2], 1)->type, AM_PART_REDACTED_THINKING);
    am_msg_list_free(&l);
    am_msg_list_free(&l2);
    am_buf_free(&agent);
    am_buf_free(&a1);
    am_buf_free(&a2);
}

AM_TEST(tool_result_without_its_call_is_an_error_naming_the_index)
{
    am_msg_list l = AM_MSG_LIST_INIT;
    am_buf b = AM_BUF_INIT;
    am_error err = { AM_OK, "" };

    load(AM_FORMAT_AGENTMEM,
         "[{\"role\":\"user\",\"content\":\"q\"},"
         "{\"role\":\"assistant\",\"content\":\"a\"},"
         "{\"role\":\"tool\",\"tool_call_id\":\"ghost\",\"content\":\"r\"}]",
         &l);
    CHECK_ST(am_msgs_to_json((const am_msg *const *)l.items, l.count,
                             AM_FORMAT_ANTHROPIC, 0, &b, &err), AM_EINVAL);
    CHECK_CONTAINS(err.msg, "message 2");
    CHECK_CONTAINS(err.msg, "ghost");
    CHECK_ST(am_msgs_to_json((const am_msg *const *)l.items, l.count,
                             AM_FORMAT_OPENAI, 0, &b, &err), AM_EINVAL);
    CHECK_CONTAINS(err.msg, "message 2");
    /* The agentmem format can hold it. */
    CHECK_OK(am_msgs_to_json((const am_msg *const *)l.items, l.count,
                             AM_FORMAT_AGENTMEM, 0, &b, &err));
    am_msg_list_free(&l);
    am_buf_free(&b);
}

AM_TEST(broken_tool_arguments_cannot_become_anthropic_input)
{
    am_msg_list l = AM_MSG_LIST_INIT;
    am_buf b = AM_BUF_INIT;
    am_error err = { AM_OK, "" };

    load(AM_FORMAT_OPENAI,
         "{\"model\":\"x\",\"messages\":[{\"role\":\"user\",\"content\":"
         "\"q\"},{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{"
         "\"id\":\"c\",\"type\":\"function\",\"function\":{\"name\":\"f\","
         "\"arguments\":\"{not json\"}}]}]}", &l);
    CHECK_EQ(l.count, 2);
    CHECK_EQ(am_msg_content_kind(l.items[1]), AM_CONTENT_NONE);
    CHECK_ST(am_msgs_to_json((const am_msg *const *)l.items, l.count,
                             AM_FORMAT_ANTHROPIC, 0, &b, &err), AM_EINVAL);
    CHECK_CONTAINS(err.msg, "message 1");
    CHECK_CONTAINS(err.msg, "arguments");
    am_msg_list_free(&l);
    am_buf_free(&b);
}

AM_TEST(openai_reader_maps_developer_and_rejects_unknown_roles)
{
    am_msg_list l = AM_MSG_LIST_INIT;
    am_error err = { AM_OK, "" };

    load(AM_FORMAT_OPENAI,
         "[{\"role\":\"developer\",\"content\":\"rules\"},{\"role\":"
         "\"assistant\",\"reasoning_content\":\"why\",\"content\":\"x\"}]",
         &l);
    CHECK_EQ(am_msg_role(l.items[0]), AM_ROLE_SYSTEM);
    CHECK_EQ(am_msg_part_count(l.items[1]), 2);
    CHECK_EQ(am_msg_part(l.items[1], 0)->type, AM_PART_THINKING);
    /* A Chat Completions response's message, appended as it came. */
    load(AM_FORMAT_OPENAI,
         "[{\"role\":\"assistant\",\"content\":\"Paris.\",\"refusal\":"
         "null,\"annotations\":[{\"type\":\"url_citation\",\"url_citation\":"
         "{\"url\":\"https://example.com\",\"title\":\"t\"}}]}]", &l);
    CHECK_EQ(l.count, 3);
    CHECK_MEM_EQ(am_msg_content_text(l.items[2]).ptr,
                 am_msg_content_text(l.items[2]).len, "Paris.");
    CHECK_ST(am_msgs_from_json(NULL, AM_FORMAT_OPENAI,
                               AM_STR("[{\"role\":\"user\",\"content\":\"a\"},"
                                      "\n{\"role\":\"wizard\"}]"), &l, &err),
             AM_EFORMAT);
    CHECK_CONTAINS(err.msg, "message 1");
    CHECK_CONTAINS(err.msg, "wizard");
    CHECK_CONTAINS(err.msg, "line 2");
    CHECK_EQ(l.count, 3); /* unchanged on failure */
    CHECK_ST(am_msgs_from_json(NULL, AM_FORMAT_OPENAI,
                               AM_STR("[{\"role\":\"tool\",\"content\":"
                                      "\"a\"}]"), &l, &err), AM_EINVAL);
    CHECK_CONTAINS(err.msg, "tool_call_id");
    CHECK_ST(am_msgs_from_json(NULL, AM_FORMAT_ANTHROPIC,
                               AM_STR("{\"messages\":[{\"role\":\"system\","
                                      "\"content\":\"a\"}]}"), &l, &err),
             AM_EFORMAT);
    CHECK_CONTAINS(err.msg, "message 0");
    CHECK_EQ(l.count, 3);
    am_msg_list_free(&l);
}

/* Both readers share one frame (wire.c): the messages array is the
 * document or its "messages", nothing may follow the document, and a
 * failure leaves the list as it was. */
AM_TEST(readers_find_the_messages_array_and_refuse_anything_else)
{
    static const am_format fmts[] = { AM_FORMAT_OPENAI, AM_FORMAT_ANTHROPIC };
    static const char *const fmt_names[] = { "openai", "anthropic" };
    am_msg_list l = AM_MSG_LIST_INIT;
    am_error err = { AM_OK, "" };

    for (size_t i = 0; i < 2; i++) {
        load(fmts[i], "[{\"role\":\"user\",\"content\":\"a\"}]", &l);
        load(fmts[i], "{\"model\":\"m\",\"messages\":[{\"role\":\"user\","
             "\"content\":\"b\"}]}", &l);
        CHECK_EQ(l.count, 2 * (i + 1));
        static const char *const bad[] = {
            "{\"msgs\":[]}", "{\"messages\":{}}", "\"text\"", "3",
        };
        for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
            CHECK_ST(am_msgs_from_json(NULL, fmts[i], am_str_c(bad[k]), &l,
                                       &err), AM_EFORMAT);
            CHECK_CONTAINS(err.msg, fmt_names[i]);
            CHECK_CONTAINS(err.msg, "expected");
            CHECK_CONTAINS(err.msg, "\"messages\"");
        }
        CHECK_ST(am_msgs_from_json(NULL, fmts[i],
                                   AM_STR("[{\"role\":\"user\",\"content\":"
                                          "\"c\"}] []"), &l, &err),
                 AM_EFORMAT);
        CHECK_EQ(l.count, 2 * (i + 1)); /* unchanged on failure */
    }
    /* Anthropic's top-level system comes first, then the turns. */
    am_msg_list_free(&l);
    load(AM_FORMAT_ANTHROPIC, "{\"system\":\"rules\",\"messages\":[{\"role\":"
         "\"user\",\"content\":\"hi\"}]}", &l);
    CHECK_EQ(l.count, 2);
    CHECK_EQ(am_msg_role(l.items[0]), AM_ROLE_SYSTEM);
    CHECK_EQ(am_msg_role(l.items[1]), AM_ROLE_USER);
    am_msg_list_free(&l);
}

AM_TEST(anthropic_reader_takes_user_and_assistant_turns_only)
{
    /* The role names come from the role table; Anthropic's turns are two
     * of them, and the others are refused by name. */
    static const char *const bad[] = { "tool", "system", "User", "" };
    am_msg_list l = AM_MSG_LIST_INIT;
    am_error err = { AM_OK, "" };
    load(AM_FORMAT_ANTHROPIC,
         "[{\"role\":\"user\",\"content\":\"q\"},"
         "{\"role\":\"assistant\",\"content\":\"a\"}]",
         &l);
    CHECK_EQ(am_msg_role(l.items[0]), AM_ROLE_USER);
    CHECK_EQ(am_msg_role(l.items[1]), AM_ROLE_ASSISTANT);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char in[96], want[64];
        snprintf(in, sizeof in, "[{\"role\":\"%s\",\"content\":\"x\"}]",
                 bad[i]);
        snprintf(want, sizeof want, "unknown role '%s'", bad[i]);
        CHECK_ST(am_msgs_from_json(NULL, AM_FORMAT_ANTHROPIC, am_str_c(in),
                                   &l, &err), AM_EFORMAT);
        CHECK_CONTAINS(err.msg, want);
        CHECK_CONTAINS(err.msg, "expected user or assistant");
    }
    CHECK_ST(am_msgs_from_json(NULL, AM_FORMAT_ANTHROPIC,
                               AM_STR("[{\"role\":1,\"content\":\"x\"}]"),
                               &l, &err), AM_EFORMAT);
    CHECK_CONTAINS(err.msg, "'role' must be a string");
    CHECK_EQ(l.count, 2);
    am_msg_list_free(&l);
}

AM_TEST(format_names_parse_and_reject_unknown)
{
    am_format f;
    am_error err = { AM_OK, "" };
    CHECK_OK(am_format_parse(AM_STR("anthropic"), &f, &err));
    CHECK_EQ(f, AM_FORMAT_ANTHROPIC);
    CHECK_ST(am_format_parse(AM_STR("gemini"), &f, &err), AM_EINVAL);
    CHECK_CONTAINS(err.msg, "gemini");
    CHECK_STR_EQ(am_format_name(AM_FORMAT_OPENAI), "openai");
}

AM_TEST(anthropic_puts_tool_results_first_in_a_merged_user_turn)
{
    am_msg_list l = AM_MSG_LIST_INIT;
    am_buf b = AM_BUF_INIT;

    load(AM_FORMAT_AGENTMEM,
         "[{\"role\":\"user\",\"content\":\"q\"},"
         "{\"role\":\"assistant\",\"tool_calls\":[{\"id\":\"c1\","
         "\"name\":\"f\",\"arguments\":\"{}\"}]},"
         "{\"role\":\"user\",\"content\":\"hm\"},"
         "{\"role\":\"tool\",\"name\":\"f\",\"tool_call_id\":\"c1\","
         "\"content\":\"r\"}]", &l);
    dump(&l, AM_FORMAT_ANTHROPIC, 0, &b);
    CHECK_CONTAINS(b.ptr, "{\"role\":\"user\",\"content\":[{\"type\":"
                   "\"tool_result\",\"tool_use_id\":\"c1\",\"content\":"
                   "\"r\"},{\"type\":\"text\",\"text\":\"hm\"}]}");
    /* Portable OpenAI output has no name on the tool message. */
    dump(&l, AM_FORMAT_OPENAI, 0, &b);
    CHECK_CONTAINS(b.ptr, "{\"role\":\"tool\",\"name\":\"f\"");
    dump(&l, AM_FORMAT_OPENAI, AM_WIRE_PORTABLE, &b);
    CHECK_CONTAINS(b.ptr, "{\"role\":\"tool\",\"content\":\"r\"");
    am_msg_list_free(&l);
    am_buf_free(&b);
}

AM_TEST(a_byte_order_mark_is_skipped_in_every_format)
{
    am_msg_list l = AM_MSG_LIST_INIT;
    load(AM_FORMAT_AGENTMEM, "\xEF\xBB\xBF[{\"role\":\"user\",\"content\":"
         "\"a\"}]", &l);
    load(AM_FORMAT_OPENAI, "\xEF\xBB\xBF[{\"role\":\"user\",\"content\":"
         "\"b\"}]", &l);
    load(AM_FORMAT_ANTHROPIC, "\xEF\xBB\xBF{\"messages\":[{\"role\":"
         "\"user\",\"content\":\"c\"}]}", &l);
    CHECK_EQ(l.count, 3);
    am_msg_list_free(&l);
}

/* Both wire formats, each direction, under the failing allocator: the
 * agentmem conversation (thinking, tool call, tool result, image) written
 * as OpenAI and Anthropic JSON and read back appending to a list that
 * already holds one message. Every run answers AM_OK or AM_ENOMEM, leaves
 * no block behind, and a failed read leaves the list as it was. */
static am_status wire_oom_body(void *ctx, const am_allocator *alloc)
{
    static const am_format fmts[2] = { AM_FORMAT_OPENAI,
                                       AM_FORMAT_ANTHROPIC };
    am_msg_opts o = am_msg_opts_default();
    am_msg_list src = AM_MSG_LIST_INIT, back = AM_MSG_LIST_INIT;
    am_buf b = { 0 };
    am_error err = { AM_OK, "" };
    am_status st;
    (void)ctx;
    o.alloc = alloc;
    src.alloc = alloc;
    back.alloc = alloc;
    b.alloc = alloc;
    st = am_msgs_from_json(&o, AM_FORMAT_AGENTMEM, am_str_c(agent_conv),
                           &src, &err);
    if (st == AM_OK && src.count != 6)
        st = AM_EFORMAT;
    if (st == AM_OK)
        st = am_msgs_from_json(&o, AM_FORMAT_AGENTMEM,
                               AM_STR("[{\"role\":\"user\",\"content\":"
                                      "\"first\"}]"),
                               &back, &err);
    for (int f = 0; f < 2 && st == AM_OK; f++) {
        for (unsigned flags = 0; flags <= AM_WIRE_PORTABLE && st == AM_OK;
             flags += AM_WIRE_PORTABLE) {
            size_t before = back.count;
            st = am_msgs_to_json(am_msg_list_items(&src), src.count, fmts[f],
                                 flags, &b, &err);
            if (st == AM_OK)
                st = am_msgs_from_json(&o, fmts[f],
                                       (am_str){ b.ptr, b.len }, &back,
                                       &err);
            if (st == AM_ENOMEM && back.count != before)
                st = AM_EPROTO; /* the list changed on failure */
            if (st == AM_OK && back.count <= before)
                st = AM_EPROTO;
        }
    }
    am_buf_free(&b);
    am_msg_list_free(&src);
    am_msg_list_free(&back);
    return st;
}

AM_TEST(wire_formats_survive_every_allocation_failure)
{
    CHECK(test_oom_sweep(wire_oom_body, NULL) > 20);
}
