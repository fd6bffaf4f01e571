/* fuzz_recall.c -- the recall module's inputs from outside: the model's
 * tool calls (OpenAI tool_calls entries and Anthropic tool_use blocks)
 * and the conversations handed to am_recall_index.
 *
 * The first byte picks what the rest is: 0 an OpenAI call, 1 an Anthropic
 * call, 2 a conversation to index. One in-memory store is shared by all
 * inputs, so calls search what earlier inputs indexed. Rejecting input is
 * fine; crashing, leaking, answering a call with something that is not
 * JSON, or returning a status the header does not list is not.
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "agentmem/recall.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    static am_store *s;
    static am_embedder *e;
    am_buf out = AM_BUF_INIT;
    am_status st;
    am_str in;

    if (s == NULL) {
        am_store_opts o = am_store_opts_default();
        if (am_embedder_hash_create(32, NULL, &e, NULL) != AM_OK)
            abort();
        o.embedder = e;
        if (am_store_open(":memory:", &o, &s, NULL) != AM_OK)
            abort();
    }
    if (size < 1)
        return 0;
    in = (am_str){ (const char *)data + 1, size - 1 };
    switch (data[0] % 3) {
    case 0:
    case 1:
        st = am_recall_tool_call(s, AM_STR("u"), data[0] % 3 == 0
                                 ? AM_TOOL_OPENAI : AM_TOOL_ANTHROPIC,
                                 NULL, in, &out);
        if (st != AM_OK && st != AM_EFORMAT && st != AM_ENOMEM &&
            st != AM_EINVAL)
            abort();
        /* A handled call is a message the caller sends back as JSON. */
        if (st == AM_OK) {
            json_t *j = json_loadb(out.ptr, out.len, JSON_ALLOW_NUL, NULL);
            if (j == NULL || !json_is_object(j))
                abort();
            json_decref(j);
        }
        break;
    default: {
        am_recall_opts o = am_recall_opts_default();
        size_t chunks = 0;
        st = am_recall_index(s, AM_STR("u"), AM_STR("s"), in, &o, &chunks);
        if (st != AM_OK && st != AM_EFORMAT && st != AM_ENOMEM &&
            st != AM_EINVAL && st != AM_ELIMIT)
            abort();
        break;
    }
    }
    am_buf_free(&out);
    return 0;
}
