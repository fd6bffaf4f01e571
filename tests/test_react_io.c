/* test_react_io.c -- what travels in a ReAct memory's export: typed
 * slots, the domain record, and import errors that name the field and
 * index. */
#include <jansson.h>

#include "react_fixture.h"

static am_status count_slot_events(void *ctx, const am_react *m,
                                   am_react_event ev, am_error *err)
{
    (void)m, (void)err;
    if (ev == AM_REACT_EV_SLOT)
        ++*(int *)ctx;
    return AM_OK;
}

AM_TEST(typed_slots_keep_their_type_and_travel_in_export)
{
    test_clock tc = { .now_ms = 1000 };
    am_clock clk;
    am_react *m = new_mem(&tc, &clk), *back = NULL;
    am_buf out = AM_BUF_INIT, doc = AM_BUF_INIT;
    am_slot_type t = AM_SLOT_ANY;
    int events = 0;

    CHECK_OK(am_react_add_hook(m, count_slot_events, &events));
    CHECK_OK(am_react_slot_define(m, AM_STR("visited"), AM_SLOT_ARRAY,
                                  AM_STR("[ \"a\" ]")));
    CHECK_OK(am_react_slot_define(m, AM_STR("prefs"), AM_SLOT_OBJECT,
                                  AM_STR("{\"lang\": \"en\"}")));
    CHECK_OK(am_react_slot_define(m, AM_STR("count"), AM_SLOT_INTEGER,
                                  AM_STR("0")));
    CHECK_OK(am_react_slot_get(m, AM_STR("visited"), &out, &t));
    CHECK_MEM_EQ(out.ptr, out.len, "[\"a\"]");
    CHECK_EQ(t, AM_SLOT_ARRAY);
    CHECK_OK(am_react_slot_set(m, AM_STR("visited"), AM_STR("[\"a\",\"b\"]")));
    CHECK_OK(am_react_slot_get(m, AM_STR("visited"), &out, NULL));
    CHECK_MEM_EQ(out.ptr, out.len, "[\"a\",\"b\"]");

    /* The type holds: a value of another type is refused, naming the slot
     * and both types, and the slot keeps its value. */
    CHECK_ST(am_react_slot_set(m, AM_STR("count"), AM_STR("1.5")), AM_EINVAL);
    CHECK(strstr(am_react_last_error(m)->msg,
                 "slot 'count' is of type integer; the value is number"));
    CHECK_ST(am_react_slot_set(m, AM_STR("prefs"), AM_STR("[]")), AM_EINVAL);
    CHECK_ST(am_react_slot_set(m, AM_STR("prefs"), AM_STR("{oops")),
             AM_EFORMAT);
    CHECK_OK(am_react_slot_get(m, AM_STR("prefs"), &out, NULL));
    CHECK_MEM_EQ(out.ptr, out.len, "{\"lang\":\"en\"}");
    /* Defining again: same type sets, another type is AM_EEXIST. */
    CHECK_OK(am_react_slot_define(m, AM_STR("count"), AM_SLOT_INTEGER,
                                  AM_STR("7")));
    CHECK_ST(am_react_slot_define(m, AM_STR("count"), AM_SLOT_STRING,
                                  AM_STR("\"7\"")), AM_EEXIST);
    CHECK(strstr(am_react_last_error(m)->msg, "exists with type integer"));
    CHECK_ST(am_react_slot_set(m, AM_STR("nope"), AM_STR("1")),
             AM_ENOTFOUND);
    CHECK(strstr(am_react_last_error(m)->msg, "no slot 'nope'"));
    CHECK_ST(am_react_slot_define(m, AM_STR(""), AM_SLOT_ANY, AM_STR("1")),
             AM_EINVAL);
    CHECK_ST(am_react_slot_define(m, AM_STR("x"), (am_slot_type)42,
                                  AM_STR("1")), AM_EINVAL);
    CHECK_EQ(events, 5); /* three defines, one set, one redefine */
    CHECK_OK(am_react_slot_names(m, &out));
    CHECK_MEM_EQ(out.ptr, out.len, "[\"count\",\"prefs\",\"visited\"]");

    /* Export and import keep every slot with its type. */
    CHECK_OK(am_react_export(m, &doc));
    CHECK_OK(am_react_create(NULL, &back, NULL));
    CHECK_OK(am_react_import(back, am_buf_str(&doc)));
    CHECK_OK(am_react_slot_get(back, AM_STR("count"), &out, &t));
    CHECK_MEM_EQ(out.ptr, out.len, "7");
    CHECK_EQ(t, AM_SLOT_INTEGER);
    CHECK_ST(am_react_slot_set(back, AM_STR("count"), AM_STR("\"x\"")),
             AM_EINVAL);
    /* An import whose slot value breaks its type is refused whole. */
    {
        json_t *d = json_loads(doc.ptr, 0, NULL);
        json_t *count = json_object_get(json_object_get(d, "slots"),
                                        "count");
        char *txt;

        CHECK(count != NULL);
        json_object_set_new(count, "value", json_string("seven"));
        txt = json_dumps(d, 0);
        CHECK_ST(am_react_import(back, am_str_c(txt)), AM_EFORMAT);
        CHECK(strstr(am_react_last_error(back)->msg,
                     "slots.count.value: the slot is of type integer; the "
                     "value is string") != NULL);
        free(txt);
        json_object_set_new(count, "value", json_integer(1));
        json_object_set_new(count, "type", json_string("decimal"));
        txt = json_dumps(d, 0);
        CHECK_ST(am_react_import(back, am_str_c(txt)), AM_EFORMAT);
        CHECK(strstr(am_react_last_error(back)->msg,
                     "unknown type 'decimal'") != NULL);
        free(txt);
        json_decref(d);
    }
    CHECK_OK(am_react_slot_get(back, AM_STR("visited"), &out, NULL));

    CHECK_OK(am_react_slot_remove(m, AM_STR("visited")));
    CHECK_ST(am_react_slot_remove(m, AM_STR("visited")), AM_ENOTFOUND);
    CHECK_ST(am_react_slot_get(m, AM_STR("visited"), &out, NULL),
             AM_ENOTFOUND);
    CHECK_STR_EQ(am_slot_type_name(AM_SLOT_BOOL), "bool");
    CHECK_STR_EQ(am_slot_type_name((am_slot_type)99), "?");
    am_buf_free(&out);
    am_buf_free(&doc);
    am_react_free(back);
    am_react_free(m);
}

AM_TEST(react_export_import_is_lossless_with_domain_record)
{
    test_clock tc = { 1700000000000 };
    am_clock clk;
    am_react *m = new_mem(&tc, &clk), *n = new_mem(&tc, &clk);
    am_buf a = AM_BUF_INIT, b = AM_BUF_INIT;
    support *s = calloc(1, sizeof *s);
    snprintf(s->customer, sizeof s->customer, "cust-9");
    s->satisfaction = 4;
    s->escalated = 1;
    fill(m, &tc);
    CHECK_OK(am_react_add_message(m, AM_STR("user"),
                                  AM_STR("unicode \xc3\xa9 \"q\" \n ok")));
    CHECK_OK(am_react_set_domain_type(m, &support_type));
    CHECK_OK(am_react_set_domain(m, s));
    CHECK_OK(am_react_export(m, &a));

    /* Without the domain type the import is refused and changes nothing. */
    CHECK_OK(am_react_add_message(n, AM_STR("user"), AM_STR("keep me")));
    CHECK_ST(am_react_import(n, am_buf_str(&a)), AM_ESTATE);
    CHECK(strstr(am_react_last_error(n)->msg, "support") != NULL);
    CHECK_EQ(am_react_message_count(n), 1);

    CHECK_OK(am_react_set_domain_type(n, &support_type));
    CHECK_OK_E(am_react_import(n, am_buf_str(&a)), am_react_last_error(n));
    CHECK_OK(am_react_export(n, &b));
    CHECK_EQ(a.len, b.len);
    CHECK(memcmp(a.ptr, b.ptr, a.len) == 0);
    const support *got = am_react_domain(n);
    CHECK(got != NULL);
    CHECK_STR_EQ(got->customer, "cust-9");
    CHECK_EQ(got->escalated, 1);
    CHECK_EQ(am_react_message_count(n), 4);
    am_buf_free(&a);
    am_buf_free(&b);
    am_react_free(m);
    am_react_free(n);
}

AM_TEST(react_import_errors_name_field_and_index)
{
    test_clock tc = { 0 };
    am_clock clk;
    am_react *m = new_mem(&tc, &clk);
    static const struct { const char *doc; const char *want; } cases[] = {
        { "[1]", "expected an object" },
        { "{\"version\":2}", "version 2" },
        { "{\"messages\":[]}", "version: missing" },
        { "{\"version\":1,\"messages\":[{\"role\":\"user\","
          "\"content\":\"a\"},{\"role\":3,\"content\":\"b\"}]}",
          "messages[1].role: expected a string" },
        { "{\"version\":1,\"tool_executions\":[{\"tool\":\"x\","
          "\"success\":\"yes\"}]}",
          "tool_executions[0].success: expected a boolean" },
        { "{\"version\":1,\"reasoning\":[{\"type\":\"DREAM\","
          "\"content\":\"\"}]}", "reasoning[0].type" },
        { "{\"version\":1,\"todos\":[{\"id\":\"a\",\"content\":\"\","
          "\"status\":\"done\"},{\"id\":\"a\",\"content\":\"\","
          "\"status\":\"done\"}]}", "todos[1].id: duplicate" },
        { "{\"version\":1,\"context\":[]}", "context: expected an object" },
        /* The section walker's own checks, on every section. */
        { "{\"version\":1,\"todos\":[1]}", "todos[0]: expected an object" },
        { "{\"version\":1,\"reasoning\":{}}",
          "react import.reasoning: expected an array" },
        { "{\"version\":1,\"tool_executions\":[{\"tool\":\"x\","
          "\"success\":true},\"y\"]}",
          "tool_executions[1]: expected an object" },
        { "{\"version\":1,", "line 1" },
    };
    fill(m, &tc);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        am_status st = am_react_import(m, am_str_c(cases[i].doc));
        CHECK(st == AM_EFORMAT);
        if (strstr(am_react_last_error(m)->msg, cases[i].want) == NULL) {
            fprintf(stderr, "case %zu: got '%s'\n", i,
                    am_react_last_error(m)->msg);
            CHECK(false);
        }
        CHECK_EQ(am_react_message_count(m), 3);
        CHECK_EQ(am_react_todo_count(m), 2);
    }
    am_react_free(m);
}
