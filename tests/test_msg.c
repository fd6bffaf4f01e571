/* test_msg.c -- messages: fields, validation, JSON round trips, wire
 * formats (OpenAI, Anthropic) and their errors. */
#include <stdlib.h>

#include "agentmem/conv.h"
#include "agentmem/msg.h"
#include "harness.h"
#include "msg/msg_text.h"

static am_msg_opts opts_with(test_clock *tc, am_clock *clk, test_rng *tr,
                             am_rng *rng)
{
    am_msg_opts o = am_msg_opts_default();
    *clk = test_clock_make(tc);
    *rng = test_rng_make(tr);
    o.clock = clk;
    o.rng = rng;
    return o;
}

static bool contains(const char *hay, const char *needle)
{
    return strstr(hay, needle) != NULL;
}

#define CHECK_CONTAINS(hay, needle)                                      \
    do {                                                                \
        if (!contains((hay), (needle))) {                               \
            print_error("%s:%d: \"%s\" does not contain \"%s\"\n",      \
                        __FILE__, __LINE__, (hay), (needle));           \
            fail();                                                     \
        }                                                               \
    } while (0)

/* ---- Fields ---- */

AM_TEST(text_message_has_role_text_id_and_injected_time)
{
    test_clock tc = { .now_ms = 1700000000123 };
    test_rng tr = { 1 };
    am_clock clk;
    am_rng rng;
    am_msg_opts o = opts_with(&tc, &clk, &tr, &rng);
    am_msg *a = NULL, *b = NULL;
    am_error err = { AM_OK, "" };

    CHECK_OK_E(am_msg_create_text(&o, AM_ROLE_USER, AM_STR("hello"), &a,
                                  &err), &err);
    tc.now_ms += 1;
    CHECK_OK(am_msg_create_text(&o, AM_ROLE_USER, AM_STR("again"), &b,
                                &err));
    CHECK_EQ(am_msg_role(a), AM_ROLE_USER);
    CHECK_EQ(am_msg_content_kind(a), AM_CONTENT_TEXT);
    CHECK_MEM_EQ(am_msg_content_text(a).ptr, am_msg_content_text(a).len,
                 "hello");
    CHECK_EQ(am_msg_created_ms(a), 1700000000123);
    CHECK_EQ(am_msg_id(a).len, 36);
    CHECK_EQ(am_msg_id(a).ptr[14], '7'); /* UUID version 7 */
    /* Later ids sort after earlier ones. */
    CHECK(memcmp(am_msg_id(a).ptr, am_msg_id(b).ptr, 36) < 0);
    am_msg_free(a);
    am_msg_free(b);
}

AM_TEST(unknown_role_is_rejected_by_name)
{
    am_role r;
    am_error err = { AM_OK, "" };
    CHECK_ST(am_role_parse(AM_STR("moderator"), &r, &err), AM_EINVAL);
    CHECK_CONTAINS(err.msg, "moderator");
    CHECK_OK(am_role_parse(AM_STR("tool"), &r, &err));
    CHECK_EQ(r, AM_ROLE_TOOL);
}

AM_TEST(invalid_utf8_names_the_byte_offset)
{
    am_msg *m = NULL;
    am_error err = { AM_OK, "" };
    const char bad[] = "ok \xC3\x28 rest";
    CHECK_ST(am_msg_create_text(NULL, AM_ROLE_USER, (am_str){ bad, 9 }, &m,
                                &err), AM_EFORMAT);
    CHECK(m == NULL);
    CHECK_CONTAINS(err.msg, "byte 3");
    CHECK_OK(am_msg_create(NULL, AM_ROLE_USER, &m, &err));
    CHECK_ST(am_msg_set_name(m, (am_str){ "\xFF", 1 }, &err), AM_EFORMAT);
    CHECK_CONTAINS(err.msg, "name");
    CHECK_EQ(am_msg_name(m).len, 0);
    am_msg_free(m);
}

AM_TEST(oversize_text_is_a_limit_error)
{
    am_msg_opts o = am_msg_opts_default();
    am_msg *m = NULL;
    am_error err = { AM_OK, "" };
    o.max_bytes = 8;
    CHECK_ST(am_msg_create_text(&o, AM_ROLE_USER, AM_STR("123456789"), &m,
                                &err), AM_ELIMIT);
    CHECK_CONTAINS(err.msg, "limit of 8");
    CHECK_OK(am_msg_create_text(&o, AM_ROLE_USER, AM_STR("12345678"), &m,
                                &err));
    am_msg_free(m);
}

AM_TEST(shared_message_is_frozen_and_copy_is_editable)
{
    am_msg *m = NULL, *r, *c = NULL;
    am_error err = { AM_OK, "" };
    CHECK_OK(am_msg_create_text(NULL, AM_ROLE_ASSISTANT, AM_STR("x"), &m,
                                &err));
    CHECK(!am_msg_is_frozen(m));
    r = am_msg_ref(m);
    CHECK(r == m);
    CHECK(am_msg_is_frozen(m));
    CHECK_ST(am_msg_set_text(m, AM_STR("y"), &err), AM_ESTATE);
    CHECK_OK(am_msg_copy(m, &c, &err));
    CHECK_OK(am_msg_set_text(c, AM_STR("y"), &err));
    CHECK_MEM_EQ(am_msg_content_text(m).ptr, am_msg_content_text(m).len,
                 "x");
    CHECK_MEM_EQ(am_msg_id(c).ptr, am_msg_id(c).len,
                 am_msg_id(m).ptr); /* NUL-terminated in memory */
    am_msg_free(m);
    am_msg_free(r);
    am_msg_free(c);
}

AM_TEST(tool_message_needs_tool_call_id)
{
    am_msg *m = NULL;
    am_error err = { AM_OK, "" };
    CHECK_OK(am_msg_create_text(NULL, AM_ROLE_TOOL, AM_STR("42"), &m, &err));
    CHECK_ST(am_msg_validate(m, &err), AM_EINVAL);
    CHECK_CONTAINS(err.msg, "tool_call_id");
    CHECK_OK(am_msg_set_tool_call_id(m, AM_STR("call_1"), &err));
    CHECK_OK(am_msg_validate(m, &err));
    am_msg_free(m);
    CHECK_ST(am_msg_from_json(NULL, AM_STR("{\"role\":\"tool\",\"content\":"
                                           "\"4\"}"), &m, &err), AM_EINVAL);
    CHECK_CONTAINS(err.msg, "tool_call_id");
}

AM_TEST(agent_content_is_validated)
{
    am_msg *m = NULL;
    am_error err = { AM_OK, "" };
    am_agent_content ac = { AM_STR("I should ask"), AM_ACTION_INVOKE_AGENT,
                            AM_STR("{\"task\":\"x\"}") };
    am_agent_content got;

    CHECK_OK(am_msg_create(NULL, AM_ROLE_ASSISTANT, &m, &err));
    CHECK_ST(am_msg_set_agent_content(m, &ac, &err), AM_EINVAL);
    CHECK_CONTAINS(err.msg, "agent_name");
    ac.action_input = AM_STR("[1]");
    CHECK_ST(am_msg_set_agent_content(m, &ac, &err), AM_EINVAL);
    CHECK_CONTAINS(err.msg, "object");
    ac.action_input = AM_STR("{ \"agent_name\" : \"DataAnalyzer\" }");
    CHECK_OK_E(am_msg_set_agent_content(m, &ac, &err), &err);
    CHECK(am_msg_agent_content(m, &got));
    CHECK_EQ(got.next_action, AM_ACTION_INVOKE_AGENT);
    CHECK_MEM_EQ(got.action_input.ptr, got.action_input.len,
                 "{\"agent_name\":\"DataAnalyzer\"}");
    am_msg_free(m);
    CHECK_ST(am_msg_from_json(NULL, AM_STR(
                 "{\"role\":\"assistant\",\"agent\":{\"next_action\":"
                 "\"dance\"}}"), &m, &err), AM_EFORMAT);
    CHECK_CONTAINS(err.msg, "dance");
}

AM_TEST(parts_check_their_fields)
{
    am_msg *m = NULL;
    am_error err = { AM_OK, "" };
    am_part p;

    CHECK_OK(am_msg_create_text(NULL, AM_ROLE_ASSISTANT, AM_STR("first"),
                                &m, &err));
    memset(&p, 0, sizeof p);
    p.type = AM_PART_TOOL_USE;
    p.id = AM_STR("tu_1");
    p.name = AM_STR("search");
    p.json = AM_STR("[1,2]");
    CHECK_ST(am_msg_add_part(m, &p, &err), AM_EFORMAT);
    p.json = AM_STR("{\"q\": 1.50}");
    p.text = AM_STR("stray");
    CHECK_ST(am_msg_add_part(m, &p, &err), AM_EINVAL);
    CHECK_CONTAINS(err.msg, "text");
    p.text = AM_STR("");
    CHECK_OK_E(am_msg_add_part(m, &p, &err), &err);
    /* The text content became the first part; numbers keep spelling. */
    CHECK_EQ(am_msg_content_kind(m), AM_CONTENT_PARTS);
    CHECK_EQ(am_msg_part_count(m), 2);
    CHECK_EQ(am_msg_part(m, 0)->type, AM_PART_TEXT);
    CHECK_MEM_EQ(am_msg_part(m, 1)->json.ptr, am_msg_part(m, 1)->json.len,
                 "{\"q\":1.50}");
    CHECK(am_msg_part(m, 2) == NULL);
    am_msg_free(m);
}

AM_TEST(plain_text_covers_content_tools_and_thought)
{
    am_msg *m = NULL;
    am_error err = { AM_OK, "" };
    am_buf b = AM_BUF_INIT;
    am_tool_call tc = { AM_STR("c1"), AM_STR(""), AM_STR("search"),
                        AM_STR("{\"q\":\"cats\"}"), AM_STR("") };
    am_agent_content ac = { AM_STR("think"), AM_ACTION_CALL_TOOL,
                            AM_STR("") };

    CHECK_OK(am_msg_create_text(NULL, AM_ROLE_ASSISTANT, AM_STR("Looking"),
                                &m, &err));
    CHECK_OK(am_msg_add_tool_call(m, &tc, &err));
    CHECK_OK(am_msg_set_agent_content(m, &ac, &err));
    CHECK_OK(am_msg_text(m, &b));
    CHECK_MEM_EQ(b.ptr, b.len, "Looking\nsearch({\"q\":\"cats\"})\nthink");
    CHECK_MEM_EQ(am_msg_tool_call(m, 0)->type.ptr,
                 am_msg_tool_call(m, 0)->type.len, "function");
    am_buf_free(&b);
    am_msg_free(m);
}

/* ---- JSON ---- */

static const char full_json[] =
    "{\"id\":\"m-1\",\"role\":\"assistant\",\"created_ms\":1700000000000,"
    "\"name\":\"planner\",\"content\":[{\"type\":\"thinking\",\"thinking\":"
    "\"hmm \\\"quoted\\\"\\n\",\"signature\":\"sig==\"},{\"type\":"
    "\"redacted_thinking\",\"data\":\"RED\"},{\"type\":\"reasoning\","
    "\"item\":{\"type\":\"reasoning\",\"id\":\"rs_1\",\"summary\":[],"
    "\"encrypted_content\":\"gAAA\"}},{\"type\":\"text\",\"text\":"
    "\"caf\xC3\xA9 \\u0001\"},{\"type\":\"image\",\"media_type\":"
    "\"image/png\",\"data\":\"iVBOR\"},{\"type\":\"tool_use\",\"id\":\"tu\","
    "\"name\":\"calc\",\"input\":{\"a\":1e3}}],\"tool_calls\":[{\"id\":"
    "\"call_1\",\"type\":\"function\",\"name\":\"search\",\"arguments\":"
    "\"{\\\"q\\\":\\\"AI\\\"}\"}],\"agent_calls\":[{\"agent_name\":"
    "\"Analyzer\",\"request\":\"Process the data\"}],\"structured_data\":"
    "{\"results\":[1,2,3],\"ok\":true,\"x\":null},\"images\":["
    "\"path/to/a.jpg\",\"https://e.x/b.png\"],\"agent\":{\"thought\":"
    "\"t\",\"next_action\":\"final_response\",\"action_input\":{\"answer\":"
    "42}}}";

AM_TEST(every_field_round_trips_through_json)
{
    am_msg *m = NULL, *m2 = NULL;
    am_error err = { AM_OK, "" };
    am_buf b = AM_BUF_INIT;

    CHECK_OK_E(am_msg_from_json(NULL, AM_STR(full_json), &m, &err), &err);
    CHECK_OK(am_msg_to_json(m, &b, &err));
    CHECK_MEM_EQ(b.ptr, b.len, full_json);
    CHECK_EQ(am_msg_part_count(m), 6);
    CHECK_EQ(am_msg_part(m, 0)->type, AM_PART_THINKING);
    CHECK_MEM_EQ(am_msg_part(m, 0)->text.ptr, am_msg_part(m, 0)->text.len,
                 "hmm \"quoted\"\n");
    CHECK_MEM_EQ(am_msg_part(m, 0)->signature.ptr,
                 am_msg_part(m, 0)->signature.len, "sig==");
    CHECK_EQ(am_msg_part(m, 2)->type, AM_PART_REASONING);
    CHECK_EQ(am_msg_tool_call_count(m), 1);
    CHECK_MEM_EQ(am_msg_tool_call(m, 0)->arguments.ptr,
                 am_msg_tool_call(m, 0)->arguments.len, "{\"q\":\"AI\"}");
    CHECK_EQ(am_msg_agent_call_count(m), 1);
    CHECK_MEM_EQ(am_msg_agent_call(m, 0)->request.ptr,
                 am_msg_agent_call(m, 0)->request.len, "\"Process the data\"");
    CHECK_EQ(am_msg_image_count(m), 2);
    CHECK_MEM_EQ(am_msg_image(m, 1).ptr, am_msg_image(m, 1).len,
                 "https://e.x/b.png");
    /* Copy keeps every field too. */
    CHECK_OK(am_msg_copy(m, &m2, &err));
    CHECK_OK(am_msg_to_json(m2, &b, &err));
    CHECK_MEM_EQ(b.ptr, b.len, full_json);
    am_buf_free(&b);
    am_msg_free(m);
    am_msg_free(m2);
}

/* The one walk over a message's text (msg_text.h) that am_msg_text joins
 * and the token counter counts piece by piece: every kind of text in
 * order, and nothing that is not text (ids, signatures, redacted and
 * encrypted reasoning, images). */
typedef struct pieces_seen {
    am_buf log;
} pieces_seen;

static am_status fail_piece(void *ctx, am__piece kind, am_str s)
{
    (void)ctx;
    (void)kind;
    (void)s;
    return AM_ENOMEM;
}

static am_status note_piece(void *ctx, am__piece kind, am_str s)
{
    static const char *const kinds[] = { "T", "CN", "CA", "AN", "AR" };
    pieces_seen *p = ctx;
    return am_buf_appendf(&p->log, "%s[%.*s]", kinds[kind], (int)s.len,
                          s.ptr);
}

AM_TEST(text_is_one_walk_over_the_pieces)
{
    am_msg *m = NULL;
    am_error err = { AM_OK, "" };
    am_buf b = AM_BUF_INIT;
    pieces_seen p = { AM_BUF_INIT };

    CHECK_OK_E(am_msg_from_json(NULL, AM_STR(full_json), &m, &err), &err);
    CHECK_OK(am__msg_pieces(m, note_piece, &p));
    CHECK_MEM_EQ(p.log.ptr, p.log.len,
                 "T[hmm \"quoted\"\n]T[caf\xC3\xA9 \x01]T[calc]T[{\"a\":1e3}]"
                 "CN[search]CA[{\"q\":\"AI\"}]AN[Analyzer]"
                 "AR[\"Process the data\"]"
                 "T[{\"results\":[1,2,3],\"ok\":true,\"x\":null}]T[t]"
                 "T[{\"answer\":42}]");
    CHECK_OK(am_msg_text(m, &b));
    CHECK_MEM_EQ(b.ptr, b.len,
                 "hmm \"quoted\"\n\ncaf\xC3\xA9 \x01\ncalc\n{\"a\":1e3}\n"
                 "search({\"q\":\"AI\"})\nAnalyzer: \"Process the data\"\n"
                 "{\"results\":[1,2,3],\"ok\":true,\"x\":null}\nt\n"
                 "{\"answer\":42}");
    /* A failing visitor stops the walk with its status. */
    CHECK_ST(am__msg_pieces(m, fail_piece, NULL), AM_ENOMEM);
    am_buf_free(&p.log);
    am_buf_free(&b);
    am_msg_free(m);
}

AM_TEST(json_errors_name_field_and_position)
{
    am_msg *m = NULL;
    am_error err = { AM_OK, "" };

    CHECK_ST(am_msg_from_json(NULL, AM_STR("{\"role\":\"user\",\n"
                                           "\"name\":7}"), &m, &err),
             AM_EFORMAT);
    CHECK_CONTAINS(err.msg, "field 'name' must be a string");
    CHECK_CONTAINS(err.msg, "line 2, column 8");
    CHECK_ST(am_msg_from_json(NULL, AM_STR("{\"role\":\"boss\"}"), &m,
                              &err), AM_EFORMAT);
    CHECK_CONTAINS(err.msg, "unknown role 'boss'");
    CHECK_ST(am_msg_from_json(NULL, AM_STR("{\"role\":\"user\",\"content\":"
                                           "\"a\xC0\xAF\"}"), &m, &err),
             AM_EFORMAT);
    CHECK_CONTAINS(err.msg, "invalid UTF-8");
    CHECK_CONTAINS(err.msg, "byte 27");
    CHECK_ST(am_msg_from_json(NULL, AM_STR("{\"role\":\"user\",\"content\":"
                                           "\"abc"), &m, &err), AM_EFORMAT);
    CHECK_CONTAINS(err.msg, "unterminated string");
    CHECK_ST(am_msg_from_json(NULL, AM_STR("{\"role\":\"user\",\"colour\":"
                                           "1}"), &m, &err), AM_EFORMAT);
    CHECK_CONTAINS(err.msg, "unknown field 'colour'");
    CHECK_ST(am_msg_from_json(NULL, AM_STR("{\"role\":\"user\",\"content\":"
                                           "5}"), &m, &err), AM_EFORMAT);
    CHECK_CONTAINS(err.msg, "content");
    CHECK_ST(am_msg_from_json(NULL, AM_STR("{\"role\":\"user\"} x"), &m,
                              &err), AM_EFORMAT);
    CHECK(m == NULL);
}

AM_TEST(oversize_json_message_is_a_limit_error)
{
    am_msg_opts o = am_msg_opts_default();
    am_msg *m = NULL;
    am_error err = { AM_OK, "" };
    o.max_bytes = 32;
    CHECK_ST(am_msg_from_json(&o, AM_STR("{\"role\":\"user\",\"content\":"
                                         "\"a long long long text\"}"), &m,
                              &err), AM_ELIMIT);
    CHECK_CONTAINS(err.msg, "limit of 32");
}

/* ---- Randomized round trips ---- */

static void rand_str(test_rng *tr, char *buf, size_t cap, am_str *out)
{
    static const char *const pieces[] = {
        "a", "Z", " ", "\"", "\\", "\n", "\t", "\x01", "\x1f", "/", "{",
        "\xC3\xA9", "\xE2\x82\xAC", "\xF0\x9F\x98\x80", "0", "x y", "\x7f",
        "</script>"
    };
    size_t n = test_rng_u64(tr) % 12, len = 0;
    for (size_t i = 0; i < n; i++) {
        const char *p = pieces[test_rng_u64(tr) % (sizeof pieces /
                                                   sizeof pieces[0])];
        size_t pl = strlen(p);
        if (len + pl >= cap)
            break;
        memcpy(buf + len, p, pl);
        len += pl;
    }
    buf[len] = '\0';
    out->ptr = buf;
    out->len = len;
}

static void rand_json(test_rng *tr, char *buf, size_t cap, bool object,
                      am_str *out)
{
    static const char *const vals[] = {
        "1", "-0.5e+3", "true", "null", "\"s\\u00e9\"", "[1,[2,{}]]",
        "{\"k\":[]}", "\"\"", "1.50"
    };
    size_t n = test_rng_u64(tr) % 4;
    int len = snprintf(buf, cap, "%s", object ? "{" : "[");
    for (size_t i = 0; i < n; i++)
        len += snprintf(buf + len, cap - (size_t)len, "%s%s%s%zu\":%s",
                        i ? "," : "", object ? "\"" : "",
                        object ? "k" : "", i,
                        vals[test_rng_u64(tr) % 9]);
    if (!object) {
        /* Arrays hold values only: rebuild without keys. */
        len = snprintf(buf, cap, "[");
        for (size_t i = 0; i < n; i++)
            len += snprintf(buf + len, cap - (size_t)len, "%s%s",
                            i ? "," : "", vals[test_rng_u64(tr) % 9]);
    }
    snprintf(buf + len, cap - (size_t)len, "%s", object ? "}" : "]");
    out->ptr = buf;
    out->len = strlen(buf);
}

static am_msg *random_msg(test_rng *tr, const am_msg_opts *o)
{
    char s1[256], s2[256], s3[256], s4[256];
    am_str a, b, c, d;
    am_msg *m = NULL;
    am_error err = { AM_OK, "" };
    am_role role = (am_role)(test_rng_u64(tr) % 4);
    uint64_t bits = test_rng_u64(tr);

    CHECK_OK(am_msg_create(o, role, &m, &err));
    CHECK_OK(am_msg_set_created_ms(m, (int64_t)(test_rng_u64(tr) >> 20) -
                                          ((int64_t)1 << 40), &err));
    if (role == AM_ROLE_TOOL) {
        rand_str(tr, s1, sizeof s1, &a);
        CHECK_OK(am_msg_set_tool_call_id(m, a.len ? a : AM_STR("c"), &err));
    }
    if (bits & 1) {
        rand_str(tr, s1, sizeof s1, &a);
        CHECK_OK(am_msg_set_name(m, a, &err));
    }
    switch ((bits >> 1) % 4) {
    case 1:
        rand_str(tr, s1, sizeof s1, &a);
        CHECK_OK(am_msg_set_text(m, a, &err));
        break;
    case 2:
        rand_json(tr, s1, sizeof s1, true, &a);
        CHECK_OK_E(am_msg_set_content_json(m, a, &err), &err);
        break;
    case 3: {
        size_t n = 1 + test_rng_u64(tr) % 4;
        for (size_t i = 0; i < n; i++) {
            am_part p;
            memset(&p, 0, sizeof p);
            p.type = (am_part_type)(test_rng_u64(tr) % AM_PART_TYPE_COUNT);
            rand_str(tr, s1, sizeof s1, &a);
            rand_str(tr, s2, sizeof s2, &b);
            rand_json(tr, s3, sizeof s3, true, &c);
            rand_str(tr, s4, sizeof s4, &d);
            switch (p.type) {
            case AM_PART_TEXT: p.text = a; break;
            case AM_PART_IMAGE:
                if (test_rng_u64(tr) & 1) {
                    p.url = a.len ? a : AM_STR("u");
                } else {
                    p.media_type = b;
                    p.data = d.len ? d : AM_STR("d");
                }
                break;
            case AM_PART_TOOL_USE:
                p.id = a.len ? a : AM_STR("i");
                p.name = b.len ? b : AM_STR("n");
                p.json = c;
                break;
            case AM_PART_TOOL_RESULT:
                p.id = a.len ? a : AM_STR("i");
                if (test_rng_u64(tr) & 1)
                    p.text = b;
                else
                    rand_json(tr, s3, sizeof s3, false, &p.json);
                p.is_error = test_rng_u64(tr) & 1;
                break;
            case AM_PART_THINKING: p.text = a; p.signature = b; break;
            case AM_PART_REDACTED_THINKING: p.data = a; break;
            case AM_PART_REASONING: p.json = c; break;
            }
            CHECK_OK_E(am_msg_add_part(m, &p, &err), &err);
        }
        break;
    }
    default:
        break;
    }
    if (bits & 32) {
        am_tool_call tc;
        rand_str(tr, s1, sizeof s1, &a);
        rand_str(tr, s2, sizeof s2, &b);
        rand_str(tr, s3, sizeof s3, &c);
        tc.id = a.len ? a : AM_STR("id");
        tc.type = AM_STR("function");
        tc.name = b.len ? b : AM_STR("f");
        tc.arguments = c; /* any text: models emit broken JSON too */
        tc.call_id = c.len % 2 ? a : AM_STR("");
        CHECK_OK(am_msg_add_tool_call(m, &tc, &err));
    }
    if (bits & 64) {
        am_agent_call ac;
        rand_str(tr, s1, sizeof s1, &a);
        rand_json(tr, s2, sizeof s2, test_rng_u64(tr) & 1, &b);
        ac.agent_name = a.len ? a : AM_STR("A");
        ac.request = b;
        CHECK_OK(am_msg_add_agent_call(m, &ac, &err));
    }
    if (bits & 128) {
        rand_json(tr, s1, sizeof s1, test_rng_u64(tr) & 1, &a);
        CHECK_OK(am_msg_set_structured_data(m, a, &err));
    }
    if (bits & 256) {
        rand_str(tr, s1, sizeof s1, &a);
        CHECK_OK(am_msg_add_image(m, a.len ? a : AM_STR("img.png"), &err));
    }
    if (bits & 512) {
        am_agent_content ac;
        rand_str(tr, s1, sizeof s1, &a);
        ac.thought = a;
        ac.next_action = (am_action)(test_rng_u64(tr) % 4);
        ac.action_input = AM_STR("");
        if (ac.next_action == AM_ACTION_INVOKE_AGENT)
            ac.action_input = AM_STR("{\"agent_name\":\"B\",\"n\":[1]}");
        else if (ac.next_action != AM_ACTION_NONE && (bits & 1024))
            ac.action_input = AM_STR("{\"tool\":\"x\"}");
        CHECK_OK_E(am_msg_set_agent_content(m, &ac, &err), &err);
    }
    return m;
}

static void check_same(const am_msg *a, const am_msg *b)
{
    am_agent_content x, y;
    CHECK_EQ(am_msg_role(a), am_msg_role(b));
    CHECK_EQ(am_msg_created_ms(a), am_msg_created_ms(b));
    CHECK_EQ(am_msg_content_kind(a), am_msg_content_kind(b));
    CHECK_EQ(am_msg_part_count(a), am_msg_part_count(b));
    for (size_t i = 0; i < am_msg_part_count(a); i++) {
        const am_part *p = am_msg_part(a, i), *q = am_msg_part(b, i);
        CHECK_EQ(p->type, q->type);
        CHECK_EQ(p->is_error, q->is_error);
        CHECK_MEM_EQ(p->text.ptr, p->text.len, q->text.ptr);
        CHECK_MEM_EQ(p->json.ptr, p->json.len, q->json.ptr);
        CHECK_MEM_EQ(p->data.ptr, p->data.len, q->data.ptr);
        CHECK_MEM_EQ(p->signature.ptr, p->signature.len, q->signature.ptr);
    }
    CHECK_EQ(am_msg_tool_call_count(a), am_msg_tool_call_count(b));
    CHECK_EQ(am_msg_agent_call_count(a), am_msg_agent_call_count(b));
    CHECK_EQ(am_msg_image_count(a), am_msg_image_count(b));
    CHECK_EQ(am_msg_agent_content(a, &x), am_msg_agent_content(b, &y));
}

AM_TEST(randomized_messages_round_trip_losslessly)
{
    test_clock tc = { .now_ms = 1 };
    test_rng tr = { 42 }, idr = { 7 };
    am_clock clk;
    am_rng rng;
    am_msg_opts o = opts_with(&tc, &clk, &idr, &rng);
    am_buf b1 = AM_BUF_INIT, b2 = AM_BUF_INIT;
    am_error err = { AM_OK, "" };

    for (int i = 0; i < 3000; i++) {
        am_msg *m = random_msg(&tr, &o), *back = NULL;
        /* Text content (NUL-terminated test strings) must survive. */
        CHECK_OK(am_msg_to_json(m, &b1, &err));
        CHECK_OK_E(am_msg_from_json(&o, am_buf_str(&b1), &back, &err), &err);
        check_same(m, back);
        CHECK_OK(am_msg_to_json(back, &b2, &err));
        CHECK_MEM_EQ(b2.ptr, b2.len, b1.ptr);
        am_msg_free(m);
        am_msg_free(back);
    }
    am_buf_free(&b1);
    am_buf_free(&b2);
}

AM_TEST(text_with_nul_round_trips)
{
    am_msg *m = NULL, *back = NULL;
    am_buf b = AM_BUF_INIT;
    am_error err = { AM_OK, "" };
    CHECK_OK(am_msg_create_text(NULL, AM_ROLE_USER, (am_str){ "a\0b", 3 },
                                &m, &err));
    CHECK_OK(am_msg_to_json(m, &b, &err));
    CHECK_CONTAINS(b.ptr, "\"a\\u0000b\"");
    CHECK_OK(am_msg_from_json(NULL, am_buf_str(&b), &back, &err));
    CHECK_EQ(am_msg_content_text(back).len, 3);
    CHECK(memcmp(am_msg_content_text(back).ptr, "a\0b", 3) == 0);
    am_buf_free(&b);
    am_msg_free(m);
    am_msg_free(back);
}

/* ---- OOM ---- */

static am_status oom_parse_body(void *ctx, const am_allocator *alloc)
{
    am_msg_opts o = am_msg_opts_default();
    am_msg *m = NULL;
    am_buf b = AM_BUF_INIT;
    am_msg_list l = AM_MSG_LIST_INIT;
    am_error err = { AM_OK, "" };
    am_status st;
    char conv[sizeof full_json + 64];
    (void)ctx;

    o.alloc = alloc;
    b.alloc = alloc;
    l.alloc = alloc;
    st = am_msg_from_json(&o, AM_STR(full_json), &m, &err);
    if (st == AM_OK) {
        st = am_msg_to_json(m, &b, &err);
        if (st == AM_OK && strcmp(b.ptr, full_json) != 0)
            st = AM_EFORMAT;
    }
    snprintf(conv, sizeof conv, "[%s,\n%s]", full_json,
             "{\"role\":\"user\",\"content\":\"x\\ny\"}");
    if (st == AM_OK)
        st = am_msgs_from_json(&o, AM_FORMAT_AGENTMEM, am_str_c(conv), &l,
                               &err);
    if (st == AM_OK && l.count != 2)
        st = AM_EFORMAT;
    if (st == AM_OK)
        st = am_msgs_to_json((const am_msg *const *)l.items, l.count,
                             AM_FORMAT_ANTHROPIC, 0, &b, &err);
    if (st == AM_OK)
        st = am_msgs_to_json((const am_msg *const *)l.items + 1, 1,
                             AM_FORMAT_OPENAI, 0, &b, &err);
    am_msg_list_free(&l);
    am_buf_free(&b);
    am_msg_free(m);
    return st;
}

AM_TEST(parse_and_write_survive_every_allocation_failure)
{
    CHECK(test_oom_sweep(oom_parse_body, NULL) > 5);
}

AM_TEST(string_scanner_finds_every_special_byte_at_every_offset)
{
    /* Put a control byte, a bad UTF-8 byte, an escape or the closing quote
     * at each offset of a long string, so that both the 8-byte fast path
     * and the byte loop meet it. */
    char doc[200], want[64];
    am_msg *m = NULL;
    am_error err = { AM_OK, "" };
    for (int at = 0; at < 40; at++) {
        int pre = snprintf(doc, sizeof doc, "{\"role\":\"user\",\"content\":\"");
        memset(doc + pre, 'a', 60);
        doc[pre + at] = '\x01';
        memcpy(doc + pre + 60, "\"}", 3);
        CHECK_ST(am_msg_from_json(NULL, am_str_c(doc), &m, &err),
                 AM_EFORMAT);
        snprintf(want, sizeof want, "(byte %d)", pre + at);
        CHECK(strstr(err.msg, "control character U+0001") != NULL);
        CHECK(strstr(err.msg, want) != NULL);
        doc[pre + at] = '\xC3'; /* a lead byte followed by 'a' */
        CHECK_ST(am_msg_from_json(NULL, am_str_c(doc), &m, &err),
                 AM_EFORMAT);
        CHECK(strstr(err.msg, "invalid UTF-8") != NULL);
        CHECK(strstr(err.msg, want) != NULL);
        doc[pre + at] = '\\';
        doc[pre + at + 1] = 'n';
        CHECK_OK_E(am_msg_from_json(NULL, am_str_c(doc), &m, &err), &err);
        CHECK_EQ(am_msg_content_text(m).len, 59);
        CHECK_EQ(am_msg_content_text(m).ptr[at], '\n');
        am_msg_free(m);
        doc[pre + at] = '"';
        memcpy(doc + pre + at + 1, "}", 2);
        CHECK_OK_E(am_msg_from_json(NULL, am_str_c(doc), &m, &err), &err);
        CHECK_EQ(am_msg_content_text(m).len, (size_t)at);
        am_msg_free(m);
    }
}

/* Setters promise that on failure the message is unchanged. Each runs
 * under the failing allocator; on AM_ENOMEM the message's JSON must be
 * what it was before the call, and the call is made again (the injected
 * failure is spent). The final JSON must be that of a run where nothing
 * failed. */
typedef struct setter_ctx {
    am_buf want;
} setter_ctx;

static am_status msg_json(const am_msg *m, am_buf *b)
{
    am_error err = { AM_OK, "" };
    return am_msg_to_json(m, b, &err); /* default allocator */
}

#define SET(call)                                                       \
    do {                                                                \
        if (st == AM_OK) {                                              \
            st = msg_json(m, &pre);                                     \
            if (st == AM_OK && (st = (call)) == AM_ENOMEM) {            \
                st = msg_json(m, &post);                                \
                if (st == AM_OK &&                                      \
                    (pre.len != post.len ||                             \
                     memcmp(pre.ptr, post.ptr, pre.len) != 0)) {        \
                    fprintf(stderr, "%s changed the message:\n%s\n"     \
                            "--- before:\n%s\n", #call, post.ptr,       \
                            pre.ptr);                                   \
                    st = AM_EPROTO;                                     \
                }                                                       \
                if (st == AM_OK)                                        \
                    st = (call);                                        \
            }                                                           \
        }                                                               \
    } while (0)

static am_status setter_body(void *ctx, const am_allocator *alloc)
{
    setter_ctx *c = ctx;
    am_msg_opts o = am_msg_opts_default();
    am_msg *m = NULL, *t = NULL;
    am_buf pre = AM_BUF_INIT, post = AM_BUF_INIT, fin = AM_BUF_INIT;
    am_error err = { AM_OK, "" };
    am_status st;
    am_tool_call tc = { AM_STR("call_1"), AM_STR("function"),
                        AM_STR("lookup"), AM_STR("{\"q\":\"x\"}"), AM_STR("") };
    am_agent_call ag = { AM_STR("planner"), AM_STR("{\"goal\":\"plan\"}") };
    am_agent_content ac = { AM_STR("thinking it over"),
                            AM_ACTION_CALL_TOOL, AM_STR("{\"a\":1}") };
    am_part parts[3];

    memset(parts, 0, sizeof parts);
    parts[0].type = AM_PART_THINKING;
    parts[0].text = AM_STR("hmm, long thought about the order");
    parts[0].signature = AM_STR("sig");
    parts[1].type = AM_PART_TOOL_USE;
    parts[1].id = AM_STR("tu1");
    parts[1].name = AM_STR("search");
    parts[1].json = AM_STR("{\"q\":[1,2,3]}");
    parts[2].type = AM_PART_IMAGE;
    parts[2].media_type = AM_STR("image/png");
    parts[2].data = AM_STR("AAAABBBB");
    o.alloc = alloc;
    st = am_msg_create(&o, AM_ROLE_USER, &m, &err);
    if (st != AM_OK)
        return st;
    SET(am_msg_set_id(m, AM_STR("fixed-id"), &err));
    SET(am_msg_set_created_ms(m, 42, &err));
    SET(am_msg_set_name(m, AM_STR("dana"), &err));
    SET(am_msg_set_text(m, AM_STR("first text"), &err));
    SET(am_msg_set_content_json(m, AM_STR("{\"k\": [1, 2]}"), &err));
    SET(am_msg_set_text(m, AM_STR("text again, a bit longer this time"),
                        &err));
    SET(am_msg_set_role(m, AM_ROLE_ASSISTANT, &err));
    for (int i = 0; i < 3; i++)
        SET(am_msg_add_part(m, &parts[i], &err));
    for (int i = 0; i < 3; i++) {
        char id[16];
        snprintf(id, sizeof id, "call_%d", i);
        tc.id = am_str_c(id);
        SET(am_msg_add_tool_call(m, &tc, &err));
        SET(am_msg_add_image(m, AM_STR("https://example.com/x.png"), &err));
    }
    SET(am_msg_add_agent_call(m, &ag, &err));
    SET(am_msg_set_structured_data(m, AM_STR("{\"s\":true}"), &err));
    SET(am_msg_set_agent_content(m, &ac, &err));
    SET(am_msg_set_name(m, AM_STR("dana again"), &err));
    if (st == AM_OK) {
        st = am_msg_copy(m, &t, &err);
        if (st == AM_ENOMEM)
            st = am_msg_copy(m, &t, &err);
    }
    if (st == AM_OK)
        st = msg_json(t, &fin);
    if (st == AM_OK && c->want.len == 0) {
        st = am_buf_append(&c->want, fin.ptr, fin.len);
    } else if (st == AM_OK && (fin.len != c->want.len ||
                               memcmp(fin.ptr, c->want.ptr, fin.len) != 0)) {
        fprintf(stderr, "after failed setters:\n%s\n--- want:\n%s\n",
                fin.ptr, c->want.ptr);
        st = AM_EPROTO;
    }
    am_buf_free(&pre);
    am_buf_free(&post);
    am_buf_free(&fin);
    am_msg_free(t);
    am_msg_free(m);
    return st;
}

AM_TEST(failed_setters_leave_the_message_unchanged)
{
    setter_ctx c = { AM_BUF_INIT };
    CHECK_OK(setter_body(&c, NULL));
    CHECK(c.want.len > 0);
    CHECK(test_oom_sweep(setter_body, &c) > 5); /* arena blocks: few */
    am_buf_free(&c.want);
}

AM_TEST(enum_names_out_of_range_are_a_question_mark)
{
    CHECK_STR_EQ(am_role_name((am_role)99), "?");
    CHECK_STR_EQ(am_part_type_name((am_part_type)99), "?");
    CHECK_STR_EQ(am_action_name(AM_ACTION_NONE), "");
    CHECK_STR_EQ(am_action_name((am_action)99), "?");
    CHECK_STR_EQ(am_action_name(AM_ACTION_CALL_TOOL), "call_tool");
    CHECK_STR_EQ(am_format_name((am_format)99), "?");
    CHECK_STR_EQ(am_retention_name((am_retention)-1), "?");
    CHECK_STR_EQ(am_retention_name(AM_RETAIN_SINGLE_RUN), "single_run");
}

/* Each parse reads its enum's one table: every name round-trips, and the
 * error lists the names from the table. */
AM_TEST(enum_names_parse_back_and_errors_list_the_table)
{
    am_error err = { AM_OK, "" };
    for (int r = 0; r < AM_ROLE_COUNT; r++) {
        am_role got;
        CHECK_OK(am_role_parse(am_str_c(am_role_name((am_role)r)), &got,
                               &err));
        CHECK_EQ(got, r);
    }
    for (int f = AM_FORMAT_AGENTMEM; f <= AM_FORMAT_ANTHROPIC; f++) {
        am_format got;
        CHECK_OK(am_format_parse(am_str_c(am_format_name((am_format)f)),
                                 &got, &err));
        CHECK_EQ(got, f);
    }
    for (int p = AM_RETAIN_SESSION; p <= AM_RETAIN_PERSISTENT; p++) {
        am_retention got;
        CHECK_OK(am_retention_parse(
            am_str_c(am_retention_name((am_retention)p)), &got, &err));
        CHECK_EQ(got, p);
    }
    am_role role;
    CHECK_ST(am_role_parse(AM_STR("robot"), &role, &err), AM_EINVAL);
    CHECK_STR_EQ(err.msg, "unknown role 'robot' (expected system, user, "
                          "assistant or tool)");
    am_format fmt;
    CHECK_ST(am_format_parse(AM_STR("xml"), &fmt, &err), AM_EINVAL);
    CHECK_STR_EQ(err.msg, "unknown format 'xml' (expected agentmem, openai "
                          "or anthropic)");
    am_retention ret;
    CHECK_ST(am_retention_parse(AM_STR("forever"), &ret, &err), AM_EINVAL);
    CHECK_STR_EQ(err.msg, "unknown retention policy 'forever' (expected "
                          "session, single_run or persistent)");
}

/* ---- msg.h promises not held elsewhere (audit, session 13) ---- */

/* JSON content and structured data read back compact through their own
 * accessors; each kind of content empties the other accessors. */
AM_TEST(json_content_and_structured_data_read_back_compact)
{
    am_msg *m = NULL;
    am_error err = { AM_OK, "" };
    am_part p;

    CHECK_OK(am_msg_create(NULL, AM_ROLE_ASSISTANT, &m, &err));
    CHECK_EQ(am_msg_content_kind(m), AM_CONTENT_NONE);
    CHECK_EQ(am_msg_structured_data(m).len, 0);
    CHECK_OK(am_msg_set_content_json(m, AM_STR("{ \"k\" : [1, 2.50] }"),
                                     &err));
    CHECK_EQ(am_msg_content_kind(m), AM_CONTENT_JSON);
    CHECK_MEM_EQ(am_msg_content_json(m).ptr, am_msg_content_json(m).len,
                 "{\"k\":[1,2.50]}");
    CHECK_EQ(am_msg_content_text(m).len, 0);
    /* Parts cannot follow JSON content. */
    memset(&p, 0, sizeof p);
    p.type = AM_PART_TEXT;
    p.text = AM_STR("t");
    CHECK_ST(am_msg_add_part(m, &p, &err), AM_ESTATE);
    CHECK_EQ(am_msg_content_kind(m), AM_CONTENT_JSON);
    CHECK_OK(am_msg_set_text(m, AM_STR("now text"), &err));
    CHECK_EQ(am_msg_content_kind(m), AM_CONTENT_TEXT);
    CHECK_EQ(am_msg_content_json(m).len, 0);
    CHECK_OK(am_msg_set_structured_data(m, AM_STR("[ 1, {\"a\" : null} ]"),
                                        &err));
    CHECK_MEM_EQ(am_msg_structured_data(m).ptr,
                 am_msg_structured_data(m).len, "[1,{\"a\":null}]");
    CHECK_ST(am_msg_set_structured_data(m, AM_STR("{"), &err), AM_EFORMAT);
    CHECK_MEM_EQ(am_msg_structured_data(m).ptr,
                 am_msg_structured_data(m).len, "[1,{\"a\":null}]");
    CHECK_OK(am_msg_set_structured_data(m, AM_STR(""), &err));
    CHECK_EQ(am_msg_structured_data(m).len, 0);
    am_msg_free(m);
}

/* The AM_EINVAL cases the setters and create list; out-of-range indexes
 * read as NULL or empty; the NULL cases. */
AM_TEST(setters_refuse_what_the_header_says_and_indexes_past_the_end_are_empty)
{
    am_msg *m = (am_msg *)&m, *c = (am_msg *)&c;
    am_error err = { AM_OK, "" };
    am_tool_call tc = { AM_STR("call_1"), AM_STR(""), AM_STR("search"),
                        AM_STR("{}"), AM_STR("") };
    am_agent_call ac = { AM_STR(""), AM_STR("\"do it\"") };
    am_msg_opts d = am_msg_opts_default();

    CHECK(d.alloc == NULL && d.clock == NULL && d.rng == NULL);
    CHECK_EQ(d.max_bytes, AM_MSG_DEFAULT_MAX_BYTES);
    CHECK_ST(am_msg_create(NULL, (am_role)AM_ROLE_COUNT, &m, &err),
             AM_EINVAL);
    CHECK_ST(am_msg_create(NULL, AM_ROLE_USER, NULL, &err), AM_EINVAL);
    /* create_text: *out is NULL on failure. */
    CHECK_ST(am_msg_create_text(NULL, AM_ROLE_USER, (am_str){ "\xFF", 1 },
                                &m, &err), AM_EFORMAT);
    CHECK(m == NULL);
    CHECK_ST(am_msg_copy(NULL, &c, &err), AM_EINVAL);
    CHECK(!am_msg_is_frozen(NULL));
    am_msg_free(NULL);
    am_msg_list_free(NULL);

    CHECK_OK(am_msg_create_text(NULL, AM_ROLE_ASSISTANT, AM_STR("x"), &m,
                                &err));
    CHECK_ST(am_msg_set_role(m, (am_role)AM_ROLE_COUNT, &err), AM_EINVAL);
    CHECK_EQ(am_msg_role(m), AM_ROLE_ASSISTANT);
    CHECK_ST(am_msg_set_id(m, AM_STR(""), &err), AM_EINVAL);
    CHECK(am_msg_id(m).len > 0);
    CHECK_ST(am_msg_add_image(m, AM_STR(""), &err), AM_EINVAL);
    CHECK_EQ(am_msg_image_count(m), 0);
    /* Tool calls need an id and a name; the type defaults to function. */
    tc.name = AM_STR("");
    CHECK_ST(am_msg_add_tool_call(m, &tc, &err), AM_EINVAL);
    tc.name = AM_STR("search");
    tc.id = AM_STR("");
    CHECK_ST(am_msg_add_tool_call(m, &tc, &err), AM_EINVAL);
    tc.id = AM_STR("call_1");
    CHECK_OK(am_msg_add_tool_call(m, &tc, &err));
    CHECK_EQ(am_msg_tool_call_count(m), 1);
    CHECK_MEM_EQ(am_msg_tool_call(m, 0)->type.ptr,
                 am_msg_tool_call(m, 0)->type.len, "function");
    /* Agent calls need a name and JSON text. */
    CHECK_ST(am_msg_add_agent_call(m, &ac, &err), AM_EINVAL);
    ac.agent_name = AM_STR("Analyzer");
    ac.request = AM_STR("do it");
    CHECK_ST(am_msg_add_agent_call(m, &ac, &err), AM_EFORMAT);
    CHECK_EQ(am_msg_agent_call_count(m), 0);
    CHECK_OK(am_msg_add_image(m, AM_STR("a.png"), &err));
    /* Past the end: NULL or empty. */
    CHECK(am_msg_tool_call(m, 1) == NULL);
    CHECK(am_msg_agent_call(m, 0) == NULL);
    CHECK(am_msg_part(m, 0) == NULL);
    CHECK_EQ(am_msg_image(m, 1).len, 0);
    CHECK_EQ(am_msg_image(m, (size_t)-1).len, 0);
    am_msg_free(m);
}

/* am_msg_size counts the strings a message holds: more text, more bytes;
 * a copy holds the same. */
AM_TEST(size_counts_the_bytes_the_message_holds)
{
    static char big[4096];
    am_msg *a = NULL, *b = NULL, *c = NULL;
    am_error err = { AM_OK, "" };
    am_tool_call tc = { AM_STR("call_1"), AM_STR("function"),
                        AM_STR("search"), AM_STR(""), AM_STR("") };

    memset(big, 'x', sizeof big);
    CHECK_OK(am_msg_create_text(NULL, AM_ROLE_USER, AM_STR("hi"), &a, &err));
    CHECK_OK(am_msg_create_text(NULL, AM_ROLE_USER,
                                (am_str){ big, sizeof big }, &b, &err));
    CHECK(am_msg_size(a) >= 2);
    CHECK(am_msg_size(b) >= sizeof big);
    CHECK(am_msg_size(b) - am_msg_size(a) >= sizeof big - 2);
    CHECK(am_msg_size(b) < 2 * sizeof big);   /* an estimate, not a copy */
    tc.arguments = (am_str){ big, 1000 };
    CHECK_OK(am_msg_copy(a, &c, &err));
    CHECK_EQ(am_msg_size(c), am_msg_size(a));
    CHECK_OK(am_msg_add_tool_call(c, &tc, &err));
    CHECK(am_msg_size(c) >= am_msg_size(a) + 1000);
    am_msg_free(a);
    am_msg_free(b);
    am_msg_free(c);
}

/* am_msg_text appends; am_msg_to_json replaces; a list push freezes the
 * message and clear keeps the list's memory. */
AM_TEST(text_appends_to_json_replaces_and_lists_freeze)
{
    am_msg *m = NULL, *back = NULL;
    am_msg_list l = AM_MSG_LIST_INIT;
    am_buf b = AM_BUF_INIT;
    am_error err = { AM_OK, "" };
    size_t cap;

    CHECK_OK(am_msg_create_text(NULL, AM_ROLE_USER, AM_STR("hello"), &m,
                                &err));
    CHECK_OK(am_buf_append(&b, "before:", 7));
    CHECK_OK(am_msg_text(m, &b));
    CHECK_MEM_EQ(b.ptr, b.len, "before:hello");
    CHECK_OK(am_msg_to_json(m, &b, &err));
    CHECK(b.ptr[0] == '{');
    CHECK_OK_E(am_msg_from_json(NULL, am_buf_str(&b), &back, &err), &err);
    CHECK_MEM_EQ(am_msg_content_text(back).ptr,
                 am_msg_content_text(back).len, "hello");
    CHECK(!am_msg_is_frozen(back));   /* from_json: yours, mutable */

    CHECK(!am_msg_is_frozen(m));
    CHECK_OK(am_msg_list_push(&l, m));
    CHECK(am_msg_is_frozen(m));
    CHECK_ST(am_msg_set_text(m, AM_STR("x"), &err), AM_ESTATE);
    cap = l.cap;
    am_msg_list_clear(&l);
    CHECK_EQ(l.count, 0);
    CHECK_EQ(l.cap, cap);
    CHECK(l.items != NULL);
    /* The list's reference is gone; ours still reads. */
    CHECK_MEM_EQ(am_msg_content_text(m).ptr, am_msg_content_text(m).len,
                 "hello");
    am_msg_list_free(&l);
    am_buf_free(&b);
    am_msg_free(back);
    am_msg_free(m);
}

/* am_msgs_to_json out of memory: the detail says so, whatever the
 * caller's am_error held before. The wire writers read err->code to tell
 * whether a failure was recorded already; a caller's stale AM_ENOMEM
 * there once left its old text (or stack junk) as the detail. */
AM_TEST(to_json_out_of_memory_detail_ignores_what_err_held_before)
{
    static const am_format fmts[] = { AM_FORMAT_OPENAI,
                                      AM_FORMAT_ANTHROPIC };
    am_msg_list l = AM_MSG_LIST_INIT;
    am_error err = { AM_OK, "" };

    CHECK_OK(am_msgs_from_json(NULL, AM_FORMAT_AGENTMEM, AM_STR(
        "[{\"role\":\"system\",\"content\":\"s\"},{\"role\":\"user\","
        "\"content\":\"u\"}]"), &l, NULL));
    for (size_t f = 0; f < 2; f++) {
        test_alloc ta = { .fail_at = 1 };
        am_allocator a = test_alloc_make(&ta);
        am_buf out = AM_BUF_INIT;
        out.alloc = &a;
        err.code = AM_ENOMEM;
        memset(err.msg, 'J', sizeof err.msg - 1);
        err.msg[sizeof err.msg - 1] = '\0';
        CHECK_ST(am_msgs_to_json(am_msg_list_items(&l), l.count, fmts[f], 0,
                                 &out, &err), AM_ENOMEM);
        CHECK_EQ(err.code, AM_ENOMEM);
        CHECK(strstr(err.msg, "memory") != NULL);
        am_buf_free(&out);
        CHECK_EQ(ta.live_blocks, 0);
    }
    am_msg_list_free(&l);
}
