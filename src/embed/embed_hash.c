/* embed_hash.c -- the embedder that needs no files: hashed n-grams.
 *
 * Each word, each pair of neighbouring words, and each character 3-, 4- and
 * 5-gram of " word " is hashed to a bucket and a sign (the "hashing trick"),
 * so texts that share words or word pieces get similar vectors. It knows no
 * synonyms, but it is deterministic, fast and always available.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "embed_int.h"

typedef struct hash_emb {
    size_t dim;
    char id[40];
    am_embedder *self; /* freed with the context (see embedder.c) */
    const am_allocator *alloc; /* of `self` and this context */
} hash_emb;

typedef struct hctx {
    float *out;
    size_t dim;
    uint64_t prev;
    int have_prev;
} hctx;

static void bump(hctx *h, uint64_t x, float w)
{
    size_t b = (size_t)(x % h->dim);
    h->out[b] += (x >> 63) ? -w : w;
}

static void on_word(const char *w, size_t n, void *ctx)
{
    hctx *h = ctx;
    uint64_t hw = am__hash64(w, n, 0x9e3779b97f4a7c15ull);
    bump(h, hw, 1.0f);
    if (h->have_prev)
        bump(h, am__hash64(&h->prev, sizeof h->prev, hw), 0.5f);
    h->prev = hw;
    h->have_prev = 1;
    char pad[66];
    size_t m = n < 64 ? n : 64;
    pad[0] = ' ';
    memcpy(pad + 1, w, m);
    pad[m + 1] = ' ';
    for (size_t g = 3; g <= 5; g++)
        for (size_t i = 0; i + g <= m + 2; i++)
            bump(h, am__hash64(pad + i, g, g), 0.25f);
}

static am_status hash_embed(void *ctx, const am_str *texts, size_t count,
                            float *out, am_error *err)
{
    hash_emb *e = ctx;
    (void)err;
    for (size_t t = 0; t < count; t++) {
        hctx h = { out + t * e->dim, e->dim, 0, 0 };
        memset(h.out, 0, e->dim * sizeof(float));
        am__words(texts[t].ptr, texts[t].len, on_word, &h);
        am__vec_normalize(h.out, e->dim);
    }
    return AM_OK;
}

static void hash_destroy(void *ctx)
{
    hash_emb *h = ctx;
    if (h == NULL)
        return;
    const am_allocator *a = h->alloc;
    am__free(a, h->self, sizeof *h->self);
    am__free(a, h, sizeof *h);
}

am_status am_embedder_hash_create(size_t dim, const am_embed_opts *opts,
                                  am_embedder **out, am_error *err)
{
    const am_allocator *a = opts != NULL ? opts->alloc : NULL;
    if (out == NULL)
        return am__fail(err, AM_EINVAL, "hash embedder: NULL out");
    *out = NULL;
    if (dim == 0)
        dim = 256;
    if (dim > 65536)
        return am__fail(err, AM_EINVAL, "hash embedder: dim %zu too large",
                        dim);
    am_embedder *e = am__calloc(a, 1, sizeof *e);
    hash_emb *h = am__calloc(a, 1, sizeof *h);
    if (e == NULL || h == NULL) {
        am__free(a, e, sizeof *e);
        am__free(a, h, sizeof *h);
        return am__fail(err, AM_ENOMEM, "hash embedder: out of memory");
    }
    h->dim = dim;
    h->alloc = a;
    snprintf(h->id, sizeof h->id, "hash-ngram-v1/%zu", dim);
    e->id = h->id;
    e->dim = dim;
    e->embed = hash_embed;
    e->destroy = hash_destroy;
    e->ctx = h;
    h->self = e;
    *out = e;
    return AM_OK;
}
