/* fuzz_rank_file.c -- libFuzzer target for tiktoken rank files and their
 * binary cache (am_encoding_create with opts.rank_file).
 *
 * The input is a rank file for r50k_base (256 single bytes at least are
 * required, so most inputs are refused; the seed corpus in
 * corpus/rank_file starts from small valid ones). An accepted file is
 * opened a second time, from the cache the first open wrote, and text is
 * encoded and decoded with both: the two must agree and round-trip.
 * Aborts on any disagreement.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agentmem/tokens.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char text[] = "hello world, fuzzing the rank file \xff\x00!";

static void check(am_encoding *enc, const am_tokens *want)
{
    am_str s = { text, sizeof text - 1 };
    am_tokens t = AM_TOKENS_INIT;
    am_buf dec = AM_BUF_INIT;

    if (am_encoding_encode(enc, s, NULL, &t, NULL) != AM_OK)
        abort();
    if (am_encoding_decode(enc, t.ids, t.count, &dec, NULL) != AM_OK ||
        dec.len != s.len || memcmp(dec.ptr, s.ptr, s.len) != 0)
        abort();
    if (want != NULL && (want->count != t.count ||
                         memcmp(want->ids, t.ids, t.count * 4) != 0))
        abort();
    am_buf_free(&dec);
    am_tokens_free(&t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char path[64], bin[80];
    am_encoding_opts o = am_encoding_opts_default();
    am_encoding *a = NULL, *b = NULL;
    FILE *fp;

    if (path[0] == '\0') {
        snprintf(path, sizeof path, "/tmp/fuzz_rank.%ld.tiktoken",
                 (long)getpid());
        snprintf(bin, sizeof bin, "%s.bin", path);
    }
    unlink(bin);
    fp = fopen(path, "wb");
    if (fp == NULL)
        abort();
    if (size > 0 && fwrite(data, 1, size, fp) != size)
        abort();
    fclose(fp);
    o.rank_file = path;
    if (am_encoding_create("r50k_base", &o, &a, NULL) == AM_OK) {
        am_tokens ref = AM_TOKENS_INIT;
        am_str s = { text, sizeof text - 1 };
        if (am_encoding_encode(a, s, NULL, &ref, NULL) != AM_OK)
            abort();
        check(a, NULL);
        /* Second open reads the cache the first one wrote. */
        if (am_encoding_create("r50k_base", &o, &b, NULL) != AM_OK)
            abort();
        check(b, &ref);
        am_tokens_free(&ref);
        am_encoding_free(a);
        am_encoding_free(b);
    }
    return 0;
}
