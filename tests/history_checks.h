/* history_checks.h -- checks that a message history could be sent to a
 * provider, shared by the window tests (window_fixture.h) and test_memory.c.
 *
 * A provider rejects a history whose first message (system messages
 * aside) is a tool result, or where a tool result comes before, or
 * without, a call carrying its id. Each file adds its own rule for the
 * calls' answers (test_memory.c: exactly one each).
 */
#ifndef AM_TEST_HISTORY_CHECKS_H
#define AM_TEST_HISTORY_CHECKS_H

#include <stdbool.h>
#include <string.h>

#include "agentmem/msg.h"
#include "harness.h"

/* No tool result opens `l` (system messages aside), and every tool result
 * follows a call with its id. */
static inline void test_results_follow_calls(const am_msg_list *l)
{
    bool started = false;
    for (size_t i = 0; i < l->count; i++) {
        const am_msg *m = l->items[i];
        if (!started && am_msg_role(m) != AM_ROLE_SYSTEM) {
            CHECK(am_msg_role(m) != AM_ROLE_TOOL);
            started = true;
        }
        if (am_msg_role(m) == AM_ROLE_TOOL) {
            am_str id = am_msg_tool_call_id(m);
            bool found = false;
            for (size_t j = 0; j < i && !found; j++)
                for (size_t c = 0; c < am_msg_tool_call_count(l->items[j]);
                     c++) {
                    am_str cid = am_msg_tool_call(l->items[j], c)->id;
                    found |= cid.len == id.len &&
                             memcmp(cid.ptr, id.ptr, id.len) == 0;
                }
            CHECK(found);
        }
    }
}

/* How many tool results after message `i` of `l` answer the call `cid`. */
static inline size_t test_answers_after(const am_msg_list *l, size_t i,
                                        am_str cid)
{
    size_t answered = 0;
    for (size_t j = i + 1; j < l->count; j++) {
        am_str id = am_msg_tool_call_id(l->items[j]);
        answered += am_msg_role(l->items[j]) == AM_ROLE_TOOL &&
                    id.len == cid.len &&
                    memcmp(id.ptr, cid.ptr, id.len) == 0;
    }
    return answered;
}

#endif
