/* embedder.c -- the thin, shared part of the embedder interface.
 *
 * Concrete embedders: the HTTP client in providers/, the offline word
 * vector and hashed n-gram embedders beside this file. Each allocates its
 * am_embedder and keeps a pointer to it in its context, and its `destroy`
 * frees both: am_embedder_free only calls `destroy`, so a struct a caller
 * filled in itself (on the stack, say) stays the caller's, as embed.h
 * promises.
 */
#include "agentmem/embed.h"
#include "core/core.h"

am_embed_opts am_embed_opts_default(void)
{
    am_embed_opts o = { NULL };
    return o;
}

am_status am_embedder_embed(const am_embedder *e, const am_str *texts,
                            size_t count, float *out, am_error *err)
{
    if (e == NULL || e->embed == NULL)
        return am__fail(err, AM_EINVAL, "embed: no embedder");
    if (count == 0)
        return AM_OK;
    if (texts == NULL || out == NULL)
        return am__fail(err, AM_EINVAL, "embed: NULL texts or output");
    return e->embed(e->ctx, texts, count, out, err);
}

void am_embedder_free(am_embedder *e)
{
    if (e == NULL)
        return;
    /* The built-in embedders' destroy frees `e` too; a caller's own
     * struct is not ours to free. */
    if (e->destroy != NULL)
        e->destroy(e->ctx);
}
