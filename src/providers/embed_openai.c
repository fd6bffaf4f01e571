/* embed_openai.c -- the am_embedder over an OpenAI-compatible /embeddings
 * endpoint (OpenAI, Ollama, vLLM, llama.cpp server, LM Studio, TEI...).
 *
 * Texts go out in batches of max_batch as {"model", "input": [...]}; each
 * vector comes back with its "index", which is where we put it (servers
 * may answer out of order). A reply must answer every input of its batch
 * exactly once with `dim` numbers, or the whole call fails with AM_EPROTO:
 * a store that indexed a vector of the wrong size, or the wrong text's
 * vector, would answer searches wrongly forever after.
 *
 * The dimension is part of the embedder's id, so that shortening vectors
 * (OpenAI's "dimensions") never mixes two spaces in one index.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/json_glue.h"
#include "providers_int.h"

typedef struct openai_embed {
    const am_allocator *alloc;
    char *model, *url, *auth_header, *id;
    char key_source[96];
    bool key_missing;
    size_t dim;
    bool send_dimensions;
    size_t max_batch;
    size_t max_batch_bytes;
    am__http http;
    bool http_ready;
    am_embedder *self; /* freed with the context (see embed/embedder.c) */
} openai_embed;

am_openai_embed_opts am_openai_embed_opts_default(void)
{
    am_openai_embed_opts o;
    memset(&o, 0, sizeof o);
    o.max_batch = 128;
    o.max_batch_bytes = (size_t)256 << 10;
    o.http = am_http_opts_default();
    return o;
}

/* ---- Body and reply ---- */

am_status am__embed_build_body(const char *model, size_t dim_to_send,
                               const am_str *texts, size_t count,
                               am_buf *out, am_error *err)
{
    am_status st = AM_OK;
    json_t *root = json_object();
    json_t *input = json_array();

    if (root == NULL || input == NULL) {
        json_decref(input);
        st = am__fail(err, AM_ENOMEM, "embeddings: out of memory");
        goto out;
    }
    /* A failed json_object_set_new releases input itself. */
    if (json_object_set_new(root, "input", input) != 0) {
        st = am__fail(err, AM_ENOMEM, "embeddings: out of memory");
        goto out;
    }
    {
        json_t *m = json_string(model);
        if (m == NULL || json_object_set_new(root, "model", m) != 0) {
            st = am__fail(err, AM_ENOMEM, "embeddings: out of memory");
            goto out;
        }
    }
    for (size_t i = 0; i < count; i++) {
        json_t *t = json_stringn_nocheck(texts[i].ptr, texts[i].len);
        if (t == NULL || json_array_append_new(input, t) != 0) {
            st = am__fail(err, AM_ENOMEM, "embeddings: out of memory");
            goto out;
        }
    }
    if (dim_to_send > 0) {
        json_t *d = json_integer((json_int_t)dim_to_send);
        if (d == NULL || json_object_set_new(root, "dimensions", d) != 0) {
            st = am__fail(err, AM_ENOMEM, "embeddings: out of memory");
            goto out;
        }
    }
    {
        json_t *f = json_string("float");
        if (f == NULL || json_object_set_new(root, "encoding_format", f) != 0) {
            st = am__fail(err, AM_ENOMEM, "embeddings: out of memory");
            goto out;
        }
    }
    st = am__json_dump(root, JSON_COMPACT, out, err);
out:
    json_decref(root);
    if (st != AM_OK)
        am_buf_clear(out);
    return st;
}

/* am__embed_parse_reply lives in embed_reply.c. */

/* ---- The embedder ---- */

static void destroy(void *ctx)
{
    openai_embed *e = ctx;
    const am_allocator *a;
    if (e == NULL)
        return;
    a = e->alloc;
    if (e->http_ready)
        am__http_destroy(&e->http);
    if (e->model != NULL)
        am__free(a, e->model, strlen(e->model) + 1);
    if (e->url != NULL)
        am__free(a, e->url, strlen(e->url) + 1);
    if (e->auth_header != NULL)
        am__free(a, e->auth_header, strlen(e->auth_header) + 1);
    if (e->id != NULL)
        am__free(a, e->id, strlen(e->id) + 1);
    am__free(a, e->self, sizeof *e->self);
    am__free(a, e, sizeof *e);
}

/* One request for texts[0..count); out NULL only for the probe. `stop`
 * (may be NULL) is the caller's stop hook, handed to the HTTP call. */
static am_status embed_batch(openai_embed *e, const am_str *texts,
                             size_t count, size_t *dim, float *out,
                             bool (*stop)(void *), void *stop_ctx,
                             am_error *err)
{
    am_status st;
    am_buf body = AM_BUF_INIT, reply = AM_BUF_INIT;
    am__http_outcome oc;
    am__http_call call;
    const char *headers[1];

    body.alloc = e->alloc;
    reply.alloc = e->alloc;
    st = am__embed_build_body(e->model, e->send_dimensions ? e->dim : 0,
                              texts, count, &body, err);
    if (st != AM_OK)
        goto out;
    call.provider = "embeddings";
    call.url = e->url;
    call.headers = headers;
    call.header_count = 0;
    if (e->auth_header != NULL)
        headers[call.header_count++] = e->auth_header;
    call.body = am_buf_str(&body);
    call.model = e->model;
    call.key_source = e->key_source;
    call.key_missing = e->key_missing;
    call.stop = stop;
    call.stop_ctx = stop_ctx;
    st = am__http_post(&e->http, &call, &reply, &oc, err);
    if (st != AM_OK)
        goto out;
    st = am__embed_parse_reply(e->alloc, am_buf_str(&reply), count, dim,
                               out, err);
out:
    am_buf_free(&body);
    am_buf_free(&reply);
    return st;
}

static am_status embed_stoppable(void *ctx, const am_str *texts,
                                 size_t count, float *out,
                                 bool (*stop)(void *), void *stop_ctx,
                                 am_error *err)
{
    openai_embed *e = ctx;
    am_status st;

    /* Check every text before sending anything. */
    for (size_t i = 0; i < count; i++) {
        size_t bad = 0;
        if (texts[i].len == 0)
            return am__fail(err, AM_EINVAL, "embeddings: text %zu is empty "
                            "(providers reject empty inputs)", i);
        if (texts[i].ptr == NULL)
            return am__fail(err, AM_EINVAL, "embeddings: text %zu is NULL",
                            i);
        if (!am__utf8_valid(texts[i].ptr, texts[i].len, &bad))
            return am__fail(err, AM_EINVAL, "embeddings: text %zu is not "
                            "valid UTF-8 (byte %zu)", i, bad);
    }
    for (size_t off = 0, n; off < count; off += n) {
        size_t dim = e->dim, bytes = texts[off].len;
        /* At least one text per batch, then as many as both caps allow. */
        for (n = 1; off + n < count && n < e->max_batch &&
                    bytes + texts[off + n].len <= e->max_batch_bytes;
             n++)
            bytes += texts[off + n].len;
        /* The HTTP call asks the hook too; this covers the moment
         * between two batches. */
        if (stop != NULL && stop(stop_ctx))
            return off == 0
                       ? am__fail(err, AM_ECANCELED, "embeddings: "
                                  "cancelled before anything was sent")
                       : am__fail(err, AM_ECANCELED, "embeddings: "
                                  "cancelled before texts %zu..%zu "
                                  "(earlier batches were sent)", off,
                                  count - 1);
        st = embed_batch(e, texts + off, n, &dim, out + off * e->dim, stop,
                         stop_ctx, err);
        if (st != AM_OK) {
            if (off > 0 && err != NULL) {
                char first[sizeof err->msg];
                memcpy(first, err->msg, sizeof first);
                am__fail(err, st, "%s (texts %zu..%zu; earlier batches "
                         "succeeded)", first, off, off + n - 1);
            }
            return st;
        }
    }
    return AM_OK;
}

static am_status embed(void *ctx, const am_str *texts, size_t count,
                       float *out, am_error *err)
{
    return embed_stoppable(ctx, texts, count, out, NULL, NULL, err);
}

am_status am_embedder_openai_create(const am_openai_embed_opts *opts,
                                    am_embedder **out, am_error *err)
{
    am_openai_embed_opts o = opts != NULL ? *opts
                                          : am_openai_embed_opts_default();
    const am_allocator *a = am__allocator(o.alloc);
    const char *base = o.base_url != NULL ? o.base_url
                                          : "https://api.openai.com/v1";
    const char *env = o.api_key_env != NULL ? o.api_key_env
                                            : "OPENAI_API_KEY";
    const char *key;
    openai_embed *e;
    am_embedder *emb = NULL;
    am_status st;
    char idbuf[320];

    if (out == NULL)
        return am__fail(err, AM_EINVAL, "embeddings: NULL out");
    *out = NULL;
    if (o.model == NULL || o.model[0] == '\0')
        return am__fail(err, AM_EINVAL, "embeddings: option 'model' is "
                        "required");
    if (strlen(o.model) > 200 ||
        !am__utf8_valid(o.model, strlen(o.model), NULL) ||
        am__has_ctl(o.model))
        return am__fail(err, AM_EINVAL, "embeddings: option 'model' must be "
                        "printable UTF-8 of at most 200 bytes");
    if (!am__base_url_ok(base))
        return am__fail(err, AM_EINVAL, "embeddings: option 'base_url' must "
                        "start with http:// or https://, got '%s'", base);
    if (o.max_batch == 0)
        return am__fail(err, AM_EINVAL, "embeddings: option 'max_batch' "
                        "must be > 0");
    if (o.dim > 65536)
        return am__fail(err, AM_EINVAL, "embeddings: option 'dim' %zu is "
                        "too large", o.dim);
    if (o.send_dimensions && o.dim == 0)
        return am__fail(err, AM_EINVAL, "embeddings: send_dimensions needs "
                        "option 'dim'");

    e = am__calloc(a, 1, sizeof *e);
    if (e == NULL)
        return am__fail(err, AM_ENOMEM, "embeddings: out of memory");
    e->alloc = a;
    e->max_batch = o.max_batch;
    e->max_batch_bytes = o.max_batch_bytes != 0 ? o.max_batch_bytes
                                                : (size_t)256 << 10;
    e->send_dimensions = o.send_dimensions;
    e->dim = o.dim;
    st = am__api_key(o.api_key, env, "embeddings", e->key_source,
                     sizeof e->key_source, &key, err);
    if (st != AM_OK)
        goto fail;
    e->key_missing = key == NULL;
    e->model = am__strndup(a, o.model, strlen(o.model));
    e->url = am__url_join(a, base, "embeddings");
    if (e->model == NULL || e->url == NULL)
        goto fail_oom;
    if (key != NULL) {
        size_t klen = strlen(key);
        e->auth_header = am__alloc(a, klen + 23);
        if (e->auth_header == NULL)
            goto fail_oom;
        memcpy(e->auth_header, "Authorization: Bearer ", 22);
        memcpy(e->auth_header + 22, key, klen + 1);
    }
    st = am__http_init(&e->http, &o.http, a, err);
    if (st != AM_OK)
        goto fail;
    e->http_ready = true;

    if (e->dim == 0) {
        am_str probe = AM_STR("dimension probe");
        size_t dim = 0;
        st = embed_batch(e, &probe, 1, &dim, NULL, NULL, NULL, err);
        if (st != AM_OK)
            goto fail;
        e->dim = dim;
    }
    snprintf(idbuf, sizeof idbuf, "openai-compat/%s/%zu", e->model, e->dim);
    e->id = am__strndup(a, idbuf, strlen(idbuf));
    emb = am__calloc(a, 1, sizeof *emb);
    if (e->id == NULL || emb == NULL)
        goto fail_oom;
    emb->id = e->id;
    emb->dim = e->dim;
    emb->embed = embed;
    emb->embed_stoppable = embed_stoppable;
    emb->destroy = destroy;
    emb->ctx = e;
    e->self = emb;
    *out = emb;
    return AM_OK;

fail_oom:
    st = am__fail(err, AM_ENOMEM, "embeddings: out of memory");
fail:
    am__free(a, emb, sizeof *emb);
    destroy(e);
    return st;
}
