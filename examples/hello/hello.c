/* hello.c -- the smallest agentmem program: a conversation, sent in
 * Anthropic's format, and its exact token count.
 *
 *   cc hello.c $(pkg-config --cflags --libs agentmem) -o hello && ./hello
 */
#include <stdio.h>

#include <agentmem/agentmem.h>

int main(void)
{
    am_conv *conv = NULL;
    am_encoding *enc = NULL;
    am_buf out = AM_BUF_INIT;
    am_error err = { AM_OK, "" };
    size_t n = 0;
    int rc = 1;

    if (am_conv_create(NULL, &conv, &err) != AM_OK ||
        am_conv_add_text(conv, AM_ROLE_SYSTEM, AM_STR("Be brief.")) != AM_OK ||
        am_conv_add_text(conv, AM_ROLE_USER, AM_STR("Hello, agentmem!")) !=
            AM_OK ||
        am_conv_to_json(conv, AM_FORMAT_ANTHROPIC, 0, &out) != AM_OK)
        goto out;
    printf("%s\n", out.ptr);
    if (am_encoding_create("o200k_base", NULL, &enc, &err) != AM_OK ||
        am_encoding_count(enc, am_buf_str(&out), NULL, &n, &err) != AM_OK) {
        fprintf(stderr, "hello: %s\n", err.msg);
        goto out;
    }
    printf("%zu tokens (o200k_base)\n", n);
    rc = 0;
out:
    am_encoding_free(enc);
    am_buf_free(&out);
    am_conv_free(conv);
    return rc;
}
