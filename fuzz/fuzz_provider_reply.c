/* fuzz_provider_reply.c -- the provider reply parsers on arbitrary bytes:
 * OpenAI and Anthropic chat replies, and embeddings replies (with a known
 * and an unknown dimension). Rejecting input is fine; crashing, leaking or
 * accepting a reply without filling every vector is not.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "providers/providers_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    am_str body = { (const char *)data, size };
    am_buf text = AM_BUF_INIT;
    am_llm_result res;
    am_error err = { AM_OK, "" };
    float out[4 * 8];
    size_t dim;

    memset(&res, 0, sizeof res);
    if (am__llm_parse_reply(AM_LLM_OPENAI, body, &text, &res, &err) == AM_OK
        && text.ptr != NULL && strlen(text.ptr) > text.len)
        abort();
    memset(&res, 0, sizeof res);
    am__llm_parse_reply(AM_LLM_ANTHROPIC, body, &text, &res, &err);
    am_buf_free(&text);

    for (size_t count = 1; count <= 4; count++) {
        /* Every slot must be written on success: poison, then check. */
        for (size_t i = 0; i < sizeof out / sizeof out[0]; i++)
            out[i] = NAN; /* a parsed value never is */
        dim = 8;
        if (am__embed_parse_reply(NULL, body, count, &dim, out, &err) == AM_OK)
            for (size_t i = 0; i < count * 8; i++)
                if (isnan(out[i]))
                    abort();
        dim = 0;
        if (am__embed_parse_reply(NULL, body, count, &dim, NULL, &err) ==
                AM_OK &&
            dim == 0)
            abort();
    }
    return 0;
}
