/* fuzz_conv_json.c -- libFuzzer target for the conversation readers.
 *
 * The first byte picks the input format (agentmem, openai, anthropic); the
 * rest is the document. Rejecting input is fine. Accepted input is written
 * back in agentmem JSON, read again and written again: the two outputs
 * must be identical (the lossless promise), or we abort. The wire writers
 * run too, for crashes and sanitizer reports.
 */
#include <stdlib.h>
#include <string.h>

#include "agentmem/msg.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    am_msg_list l = AM_MSG_LIST_INIT, l2 = AM_MSG_LIST_INIT;
    am_buf a = AM_BUF_INIT, b = AM_BUF_INIT;
    am_error err = { AM_OK, "" };
    am_format fmt;

    if (size < 1)
        return 0;
    fmt = (am_format)(data[0] % 3);
    if (am_msgs_from_json(NULL, fmt, (am_str){ (const char *)data + 1,
                                               size - 1 }, &l, &err) != AM_OK) {
        am_msg_list_free(&l); /* count unchanged, capacity may have grown */
        return 0;
    }
    if (am_msgs_to_json((const am_msg *const *)l.items, l.count,
                        AM_FORMAT_AGENTMEM, 0, &a, &err) != AM_OK)
        abort();
    if (am_msgs_from_json(NULL, AM_FORMAT_AGENTMEM, am_buf_str(&a), &l2,
                          &err) != AM_OK)
        abort();
    if (am_msgs_to_json((const am_msg *const *)l2.items, l2.count,
                        AM_FORMAT_AGENTMEM, 0, &b, &err) != AM_OK)
        abort();
    if (a.len != b.len || memcmp(a.ptr, b.ptr, a.len) != 0)
        abort();
    (void)am_msgs_to_json((const am_msg *const *)l.items, l.count,
                          AM_FORMAT_OPENAI, 0, &b, &err);
    (void)am_msgs_to_json((const am_msg *const *)l.items, l.count,
                          AM_FORMAT_ANTHROPIC, AM_JSON_PRETTY, &b, &err);
    am_msg_list_free(&l);
    am_msg_list_free(&l2);
    am_buf_free(&a);
    am_buf_free(&b);
    return 0;
}
