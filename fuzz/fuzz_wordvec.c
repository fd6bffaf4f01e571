/* fuzz_wordvec.c -- libFuzzer target for the word-vector file
 * (am_embedder_words_create).
 *
 * The input is written to a file and opened as word vectors. Refusing it
 * is fine; once accepted, embedding texts must not read outside the map
 * (ASan catches it). Inputs that start with a valid header get past the
 * first check, so the seed corpus (corpus/wordvec) holds small valid
 * files for the fuzzer to corrupt.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agentmem/embed.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char path[64];
    am_embedder *e = NULL;
    FILE *fp;

    if (path[0] == '\0')
        snprintf(path, sizeof path, "/tmp/fuzz_wordvec.%ld.bin",
                 (long)getpid());
    fp = fopen(path, "wb");
    if (fp == NULL)
        abort();
    if (size > 0 && fwrite(data, 1, size, fp) != size)
        abort();
    fclose(fp);
    if (am_embedder_words_create(path, NULL, &e, NULL) == AM_OK) {
        am_str t[3] = { { "cat dog", 7 }, { "the a of", 8 },
                        { (const char *)data, size < 64 ? size : 64 } };
        float *v = calloc(3 * e->dim, sizeof *v);
        if (v == NULL)
            abort();
        if (am_embedder_embed(e, t, 3, v, NULL) != AM_OK)
            abort();
        free(v);
        am_embedder_free(e);
    }
    return 0;
}
