/* async_jobs.c -- chat and embedding calls as executor jobs.
 *
 * Each job owns a copy of its inputs (one arena, freed with the job) and
 * its outputs, so the caller's request may go as soon as submit returns
 * and the results stay readable until am_job_free. A chat job passes a
 * stop hook to am_llm_chat that reads the job's cancel flag, which is how
 * am_job_cancel reaches into a running HTTP transfer.
 */
#include <string.h>

#include "agentmem/async.h"
#include "async/async_int.h"
#include "core/core.h"

/* Copy `s` into the arena; an empty string stays {NULL, 0} or {"", 0}. */
static bool copy_str(am__arena *ar, am_str s, am_str *out)
{
    if (s.len == 0) {
        *out = (am_str){ s.ptr != NULL ? "" : NULL, 0 };
        return true;
    }
    out->ptr = am__arena_strndup(ar, s.ptr, s.len);
    out->len = s.len;
    return out->ptr != NULL;
}

/* ---- Chat ---- */

typedef struct chat_job {
    const am_allocator *alloc;
    am_llm *llm;
    am__arena ar;
    am_llm_request req;     /* every pointer into `ar` */
    bool (*user_stop)(void *ctx);
    void *user_stop_ctx;
    am_job *job;            /* set by chat_run, for the stop hook */
    am_buf text;
    am_buf raw;
    am_llm_result res;
} chat_job;

static bool chat_should_stop(void *ctx)
{
    const chat_job *c = ctx;
    return am_job_cancelled(c->job) ||
           (c->user_stop != NULL && c->user_stop(c->user_stop_ctx));
}

static am_status chat_run(am_job *job, void *ctx, am_error *err)
{
    chat_job *c = ctx;
    am_status st;

    c->job = job;
    c->req.should_stop = chat_should_stop;
    c->req.stop_ctx = c;
    c->req.raw_reply = &c->raw;
    st = am_llm_chat(c->llm, &c->req, &c->text, &c->res);
    if (st != AM_OK)
        am__error_copy(err, &c->res.error);
    return st;
}

static void chat_free(void *ctx)
{
    chat_job *c = ctx;
    if (c == NULL)
        return;
    am_buf_free(&c->text);
    am_buf_free(&c->raw);
    am__arena_free(&c->ar);
    am__free(c->alloc, c, sizeof *c);
}

/* Deep-copy `req` into c->req. */
static bool chat_copy(chat_job *c, const am_llm_request *req)
{
    am_llm_msg *msgs = NULL;

    c->req.count = req->count;
    if (req->count > 0) {
        if (req->count > SIZE_MAX / sizeof *msgs)
            return false;
        msgs = am__arena_alloc(&c->ar, req->count * sizeof *msgs);
        if (msgs == NULL)
            return false;
        for (size_t i = 0; i < req->count; i++)
            if (!copy_str(&c->ar, req->msgs[i].role, &msgs[i].role) ||
                !copy_str(&c->ar, req->msgs[i].content, &msgs[i].content))
                return false;
    }
    c->req.msgs = msgs;
    c->req.max_tokens = req->max_tokens;
    c->req.has_temperature = req->has_temperature;
    c->req.temperature = req->temperature;
    c->user_stop = req->should_stop;
    c->user_stop_ctx = req->stop_ctx;
    return copy_str(&c->ar, req->messages_json, &c->req.messages_json) &&
           copy_str(&c->ar, req->system, &c->req.system) &&
           copy_str(&c->ar, req->extra_json, &c->req.extra_json);
}

static am_status submit_owned(am_executor *ex, am_job_fn fn, void *ctx,
                              void (*free_ctx)(void *),
                              const am_job_opts *opts, am_job **out)
{
    am_job_opts o;
    am_status st;

    if (opts != NULL)
        o = *opts;
    else
        memset(&o, 0, sizeof o);
    o.free_ctx = free_ctx;
    st = am_executor_submit(ex, fn, ctx, &o, out);
    if (st != AM_OK)
        free_ctx(ctx); /* never queued: the job did not take it */
    return st;
}

am_status am_llm_chat_submit(am_executor *ex, am_llm *llm,
                             const am_llm_request *req,
                             const am_job_opts *opts, am_job **out)
{
    chat_job *c;
    const am_allocator *a = NULL;

    if (out != NULL)
        *out = NULL;
    if (ex == NULL)
        return AM_EINVAL;
    if (llm == NULL || req == NULL)
        return am__executor_fail(ex, AM_EINVAL, "chat job: NULL %s",
                                 llm == NULL ? "llm" : "request");
    if (req->raw_reply != NULL)
        return am__executor_fail(ex, AM_EINVAL, "chat job: raw_reply must "
                                 "be NULL (read it with am_job_chat_raw)");
    if (req->count > 0 && req->msgs == NULL)
        return am__executor_fail(ex, AM_EINVAL, "chat job: %zu messages "
                                 "but msgs is NULL", req->count);
    for (size_t i = 0; i < req->count; i++)
        if ((req->msgs[i].role.ptr == NULL && req->msgs[i].role.len > 0) ||
            (req->msgs[i].content.ptr == NULL &&
             req->msgs[i].content.len > 0))
            return am__executor_fail(ex, AM_EINVAL, "chat job: message %zu "
                                     "has a NULL %s with a length", i,
                                     req->msgs[i].role.ptr == NULL
                                         ? "role" : "content");
    if (opts != NULL && opts->free_ctx != NULL)
        return am__executor_fail(ex, AM_EINVAL, "chat job: free_ctx must "
                                 "be NULL (the job owns its context)");
    c = am__calloc(a, 1, sizeof *c);
    if (c == NULL)
        return am__executor_fail(ex, AM_ENOMEM, "chat job: out of memory");
    c->alloc = a;
    c->llm = llm;
    am__arena_init(&c->ar, a, 0);
    if (!chat_copy(c, req)) {
        chat_free(c);
        return am__executor_fail(ex, AM_ENOMEM, "chat job: out of memory "
                                 "copying the request");
    }
    return submit_owned(ex, chat_run, c, chat_free, opts, out);
}

static const chat_job *chat_of(const am_job *job, am_status *st)
{
    if (job == NULL || am__job_fn(job) != chat_run) {
        *st = AM_EINVAL;
        return NULL;
    }
    *st = am_job_status(job);
    return *st == AM_EBUSY ? NULL : am_job_ctx(job);
}

am_status am_job_chat_result(const am_job *job, am_str *text,
                             am_llm_result *res)
{
    am_status st;
    const chat_job *c = chat_of(job, &st);

    if (text != NULL)
        *text = (am_str){ "", 0 };
    if (c == NULL)
        return st;
    if (text != NULL && st == AM_OK)
        *text = am_buf_str(&c->text);
    if (res != NULL)
        *res = c->res;
    return st;
}

am_status am_job_chat_raw(const am_job *job, am_str *raw)
{
    am_status st;
    const chat_job *c = chat_of(job, &st);

    if (raw != NULL)
        *raw = (am_str){ "", 0 };
    if (c != NULL && raw != NULL && st == AM_OK)
        *raw = am_buf_str(&c->raw);
    return st;
}

/* ---- Embeddings ---- */

typedef struct embed_job {
    const am_allocator *alloc;
    const am_embedder *emb;
    am__arena ar;
    am_str *texts;          /* in `ar` */
    size_t count;
    float *vecs;            /* count * emb->dim, allocated by the run */
    size_t nvecs;           /* floats in vecs */
} embed_job;

/* The embedder's stop hook: the job was cancelled. */
static bool job_stop(void *job)
{
    return am_job_cancelled(job);
}

static am_status embed_run(am_job *job, void *ctx, am_error *err)
{
    embed_job *e = ctx;
    am_status st;
    size_t dim = e->emb->dim;

    if (dim == 0 || e->count > SIZE_MAX / dim / sizeof(float))
        return am__fail(err, AM_EINVAL, "embed job: embedder dimension %zu "
                        "cannot hold %zu vectors", dim, e->count);
    e->vecs = am__alloc_array(e->alloc, e->count * dim, sizeof(float));
    if (e->vecs == NULL)
        return am__fail(err, AM_ENOMEM, "embed job: out of memory for %zu "
                        "vectors of %zu", e->count, dim);
    e->nvecs = e->count * dim;
    /* An embedder with a stop hook ends early when the job is cancelled;
     * one without runs to its end, and the cancel is honoured when it
     * returns, so the caller never gets a result it gave up on. */
    if (e->emb->embed_stoppable != NULL)
        st = e->emb->embed_stoppable(e->emb->ctx, e->texts, e->count,
                                     e->vecs, job_stop, job, err);
    else
        st = am_embedder_embed(e->emb, e->texts, e->count, e->vecs, err);
    if (st == AM_OK && am_job_cancelled(job))
        st = am__fail(err, AM_ECANCELED, "embed job cancelled while the "
                      "embedder ran (its result was dropped)");
    return st;
}

static void embed_free(void *ctx)
{
    embed_job *e = ctx;
    if (e == NULL)
        return;
    am__free(e->alloc, e->vecs, e->nvecs * sizeof(float));
    am__arena_free(&e->ar);
    am__free(e->alloc, e, sizeof *e);
}

am_status am_embed_submit(am_executor *ex, const am_embedder *emb,
                          const am_str *texts, size_t count,
                          const am_job_opts *opts, am_job **out)
{
    embed_job *e;
    const am_allocator *a = NULL;

    if (out != NULL)
        *out = NULL;
    if (ex == NULL)
        return AM_EINVAL;
    if (emb == NULL || texts == NULL || count == 0)
        return am__executor_fail(ex, AM_EINVAL, "embed job: %s",
                                 emb == NULL ? "NULL embedder"
                                 : count == 0 ? "no texts (count is 0)"
                                              : "NULL texts");
    if (opts != NULL && opts->free_ctx != NULL)
        return am__executor_fail(ex, AM_EINVAL, "embed job: free_ctx must "
                                 "be NULL (the job owns its context)");
    if (count > SIZE_MAX / sizeof *e->texts)
        return am__executor_fail(ex, AM_ELIMIT, "embed job: %zu texts is "
                                 "too many", count);
    e = am__calloc(a, 1, sizeof *e);
    if (e == NULL)
        return am__executor_fail(ex, AM_ENOMEM, "embed job: out of memory");
    e->alloc = a;
    e->emb = emb;
    e->count = count;
    am__arena_init(&e->ar, a, 0);
    e->texts = am__arena_alloc(&e->ar, count * sizeof *e->texts);
    for (size_t i = 0; e->texts != NULL && i < count; i++) {
        if (texts[i].ptr == NULL && texts[i].len > 0) {
            embed_free(e);
            return am__executor_fail(ex, AM_EINVAL, "embed job: text %zu "
                                     "is NULL with length %zu", i,
                                     texts[i].len);
        }
        if (!copy_str(&e->ar, texts[i], &e->texts[i])) {
            embed_free(e);
            return am__executor_fail(ex, AM_ENOMEM, "embed job: out of "
                                     "memory copying text %zu", i);
        }
    }
    if (e->texts == NULL) {
        embed_free(e);
        return am__executor_fail(ex, AM_ENOMEM, "embed job: out of memory");
    }
    return submit_owned(ex, embed_run, e, embed_free, opts, out);
}

am_status am_job_embed_result(const am_job *job, const float **vecs,
                              size_t *count, size_t *dim)
{
    am_status st;
    const embed_job *e;

    if (vecs != NULL)
        *vecs = NULL;
    if (job == NULL || am__job_fn(job) != embed_run)
        return AM_EINVAL;
    st = am_job_status(job);
    if (st == AM_EBUSY)
        return st;
    e = am_job_ctx(job);
    if (vecs != NULL && st == AM_OK)
        *vecs = e->vecs;
    if (count != NULL)
        *count = e->count;
    if (dim != NULL)
        *dim = e->emb->dim;
    return st;
}
