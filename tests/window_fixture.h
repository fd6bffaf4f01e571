/* window_fixture.h -- what the window test files share (test_window.c,
 * test_window_count.c, test_window_summarize.c, test_window_random.c,
 * test_window_oom.c): one real agent history with a parallel group and
 * results out of order, its loader, and the shape and sendable checks. */
#ifndef AM_TEST_WINDOW_FIXTURE_H
#define AM_TEST_WINDOW_FIXTURE_H

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

static inline void load(am_msg_list *l)
{
    am_error err = { AM_OK, "" };
    CHECK_OK_E(am_msgs_from_json(NULL, AM_FORMAT_OPENAI, am_str_c(HISTORY),
                                 l, &err), &err);
    CHECK_EQ(l->count, 12);
}

static inline const am_msg *const *items(const am_msg_list *l)
{
    return (const am_msg *const *)l->items;
}

/* The index in `in` of each message of `out` ("-" for a new message). */
static inline void shape(const am_msg_list *in, const am_msg_list *out, char *s)
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
static inline void check_sendable(const am_msg_list *l)
{
    test_results_follow_calls(l);
    for (size_t i = 0; i < l->count; i++)
        for (size_t c = 0; c < am_msg_tool_call_count(l->items[i]); c++) {
            am_str id = am_msg_tool_call(l->items[i], c)->id;
            CHECK(test_answers_after(l, i, id) > 0);
        }
}

static inline size_t count_of(const am_msg *m)
{
    size_t n = 0;
    CHECK_OK(am_count_msg(NULL, m, &n, NULL));
    return n;
}

#endif
