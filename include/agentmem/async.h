/* async.h -- start calls that wait on I/O and complete them later.
 *
 * An am_executor is a small pool of worker threads with a bounded queue.
 * Submitting work returns at once with an am_job, the completion handle;
 * the call itself runs on a worker. A job's completion can be observed in
 * any of three ways, which may be mixed:
 *
 *   callback   am_job_opts.on_done runs once, on the thread that completed
 *              the job (usually a worker).
 *   wait       am_job_wait blocks the caller until the job is done or a
 *              timeout passes.
 *   poll       with am_job_opts.notify, a done job is also put on the
 *              executor's completion queue, and am_executor_fd is readable
 *              while that queue is not empty. An event loop (Python's
 *              asyncio add_reader, libuv's uv_poll) watches the descriptor
 *              and calls am_executor_reap to collect the finished jobs.
 *
 * Any blocking agentmem call can run this way through am_executor_submit
 * (summarization, compression, recall indexing and search, store calls):
 * the function runs on a worker and its result is the job's status. The
 * two provider calls have ready-made jobs that copy their inputs and hold
 * their outputs: am_llm_chat_submit and am_embed_submit.
 *
 * Cancellation: am_job_cancel removes a queued job (it completes at once
 * with AM_ECANCELED) or asks a running one to stop. A chat job aborts its
 * HTTP transfer at the next progress tick of libcurl (at most about a
 * second, usually at once), or its wait before a retry within 50 ms (a
 * backoff or a server's retry-after can be a minute), and completes with
 * AM_ECANCELED; an embed job does the same through its embedder's stop
 * hook (am_embedder.embed_stoppable: the HTTP embedder has one), and with
 * an embedder without one finishes the call, drops the result and
 * completes with AM_ECANCELED; a function of your own sees the request
 * through am_job_cancelled and decides.
 *
 * Completion happens exactly once per job: its callback runs once, it is
 * reaped at most once, and its status never changes afterwards.
 *
 *     am_executor *ex;
 *     am_executor_create(NULL, &ex, &err);            // 2 workers, 64 queued
 *     am_job *job;
 *     am_llm_chat_submit(ex, llm, &req, NULL, &job);  // returns at once
 *     ...
 *     am_job_wait(job, -1);
 *     am_str text; am_llm_result res;
 *     st = am_job_chat_result(job, &text, &res);      // text owned by job
 *     am_job_free(job);
 *     am_executor_free(ex);
 */
#ifndef AGENTMEM_ASYNC_H
#define AGENTMEM_ASYNC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "alloc.h"
#include "buf.h"
#include "embed.h"
#include "providers.h"
#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct am_executor am_executor;
typedef struct am_job am_job;

typedef struct am_executor_opts {
    size_t threads;     /* worker threads, 1..256; default 2 */
    /* Jobs waiting for a worker (running ones not counted), 1..1<<20. A
     * submit that would pass it fails with AM_ELIMIT. Default 64. */
    size_t max_queued;
    const am_allocator *alloc; /* NULL: default; borrowed, must outlive
                                  the executor and all its jobs */
} am_executor_opts;

/* The defaults above, by value. No errors. Thread safety: safe. */
AM_API am_executor_opts am_executor_opts_default(void);

/* Start an executor: its worker threads and its completion descriptor.
 * Returns AM_OK with *out yours (am_executor_free), AM_EINVAL naming the
 * option out of range, AM_ENOMEM, or AM_EIO when a thread or the
 * descriptor cannot be made (detail in `err`, may be NULL).
 * Thread safety: safe. */
AM_API am_status am_executor_create(const am_executor_opts *opts,
                                    am_executor **out, am_error *err);

/* Shut `ex` down: jobs still queued complete with AM_ECANCELED (their
 * callbacks run on this thread), running jobs are asked to stop and
 * waited for, the workers are joined. Job handles you still hold stay
 * valid (free each with am_job_free); the memory of the executor goes
 * with the last of them. NULL: no-op. Thread safety: unsafe (no other
 * thread may call anything on `ex` once this starts; only the running
 * jobs it waits for and the callbacks it runs may still submit, and get
 * AM_ESTATE). */
AM_API void am_executor_free(am_executor *ex);

/* The job's work: runs once on a worker thread. Return its status and,
 * on failure, put the detail in `err` (it becomes am_job_error). Call
 * am_job_cancelled(job) to see whether the caller asked it to stop. */
typedef am_status (*am_job_fn)(am_job *job, void *ctx, am_error *err);

/* Completion callback: runs exactly once, after the status is final, on
 * the thread that completed the job (a worker; the canceller's thread for
 * a job cancelled while queued; am_executor_free's for one still queued
 * then). It may call am_job_status/am_job_error/result accessors and
 * am_job_free(job) if it holds the handle's ownership (see submit). It
 * must not call am_executor_free. */
typedef void (*am_job_done_fn)(am_job *job, void *ctx);

typedef struct am_job_opts {
    am_job_done_fn on_done; /* NULL: none */
    void *done_ctx;         /* borrowed, passed to on_done */
    /* Runs once when the job's memory goes (after completion, when the
     * last reference is dropped), to release the submit's `ctx`. NULL:
     * nothing. */
    void (*free_ctx)(void *ctx);
    /* true: put the job on the executor's completion queue when done
     * (am_executor_fd / am_executor_reap). Needs a job handle (`out`). */
    bool notify;
} am_job_opts;

/* Queue `fn(job, ctx, err)` to run on a worker. `ctx` is borrowed (or
 * owned by the job when opts->free_ctx is set); `opts` (may be NULL: no
 * callback, no notification) is copied.
 *
 * `out` may be NULL: the job then frees itself once done (fire and forget,
 * with a callback). Otherwise *out is yours: free it with am_job_free,
 * whether or not it has finished.
 *
 * Returns AM_OK, AM_EINVAL (NULL ex or fn; notify without out), AM_ELIMIT
 * when max_queued jobs are already waiting (nothing was queued and
 * free_ctx was not called), AM_ESTATE while am_executor_free runs, or
 * AM_ENOMEM; the detail is in am_executor_last_error.
 * Thread safety: safe (also from callbacks and jobs). */
AM_API am_status am_executor_submit(am_executor *ex, am_job_fn fn,
                                    void *ctx, const am_job_opts *opts,
                                    am_job **out);

/* Detail of this thread's most recent failed submit on `ex` (code AM_OK
 * and "" when none), owned by `ex`, valid until this thread's next call
 * on it. NULL `ex`: a static AM_EINVAL detail. Thread safety: safe. */
AM_API const am_error *am_executor_last_error(const am_executor *ex);

/* A descriptor that is readable while the completion queue holds a job
 * (level-triggered: watch it for reading; never read or close it
 * yourself). Owned by `ex`, valid until am_executor_free. No errors.
 * Thread safety: safe. */
AM_API int am_executor_fd(const am_executor *ex);

/* Take up to `cap` done jobs, in completion order, from the completion
 * queue into out[0..n) and return n (0 when none are waiting; it never
 * blocks). The pointers are the handles submit gave you, not new ones:
 * free each once, as always. Thread safety: safe. */
AM_API size_t am_executor_reap(am_executor *ex, am_job **out, size_t cap);

/* Block until `job` is done (true) or `timeout_ms` passes (false);
 * timeout_ms < 0 waits for ever, 0 only looks. NULL job: false.
 * Thread safety: safe (several threads may wait on one job). Do not wait
 * for a job from a worker of the same executor when every other worker
 * may be waiting too. */
AM_API bool am_job_wait(am_job *job, int64_t timeout_ms);

/* The job's result: AM_EBUSY while it has not finished, then its final
 * status (AM_ECANCELED when cancelled before or while it ran).
 * AM_EINVAL for NULL. Thread safety: safe. */
AM_API am_status am_job_status(const am_job *job);

/* Detail of a failed job (code AM_OK and "" while running or on success),
 * owned by the job, valid until am_job_free. Thread safety: safe once
 * the job is done. */
AM_API const am_error *am_job_error(const am_job *job);

/* Ask the job to stop. A queued job is removed from the queue and
 * completes with AM_ECANCELED before this returns (its callback runs on
 * this thread); a running one is flagged and completes when its function
 * notices (chat jobs abort their transfer). Returns AM_OK when the
 * request was registered, AM_ESTATE when the job had already finished
 * (its status is unchanged), AM_EINVAL for NULL. Thread safety: safe. */
AM_API am_status am_job_cancel(am_job *job);

/* True once am_job_cancel was called on `job`: for job functions that
 * check now and then. NULL: false. Thread safety: safe. */
AM_API bool am_job_cancelled(const am_job *job);

/* The `ctx` given at submit, borrowed. NULL for NULL. Thread safety: safe. */
AM_API void *am_job_ctx(const am_job *job);

/* Drop your handle. A job that has not finished goes on running (cancel it
 * first if you want it to stop) and its memory goes when it is done; it is
 * also taken off the completion queue. NULL: no-op. Thread safety: safe,
 * but each handle is freed once and not used afterwards. */
AM_API void am_job_free(am_job *job);

/* ---- Ready-made jobs for the provider clients ---- */

/* am_llm_chat on a worker. The request is copied (messages, system,
 * messages_json, extra_json), so `req` may go as soon as this returns;
 * `llm` is borrowed and must outlive the job. req->raw_reply must be NULL:
 * the job keeps the raw reply itself (am_job_chat_raw). Cancelling a
 * running chat job aborts its HTTP transfer; it completes AM_ECANCELED.
 *
 * Returns as am_executor_submit, plus AM_EINVAL for a NULL llm/req or a
 * raw_reply set. The chat's own errors arrive as the job's status.
 * Thread safety: safe. */
AM_API am_status am_llm_chat_submit(am_executor *ex, am_llm *llm,
                                    const am_llm_request *req,
                                    const am_job_opts *opts, am_job **out);

/* The result of a chat job: returns the job's status (AM_EBUSY while not
 * done; AM_EINVAL when `job` is not a chat job). On AM_OK *text is the
 * assistant's text, owned by the job until am_job_free. `res` (may be
 * NULL) gets the call's am_llm_result on success and failure alike.
 * Thread safety: safe once the job is done. */
AM_API am_status am_job_chat_result(const am_job *job, am_str *text,
                                    am_llm_result *res);

/* The provider's whole reply body of a finished chat job (owned by the
 * job; empty unless it succeeded). AM_EINVAL / AM_EBUSY as above. */
AM_API am_status am_job_chat_raw(const am_job *job, am_str *raw);

/* am_embedder_embed on a worker: the `count` texts are copied; `emb` is
 * borrowed and must outlive the job. A job cancelled while queued never
 * calls the embedder; a running one is asked to stop through the
 * embedder's embed_stoppable (the HTTP embedder ends its transfer within
 * about a second) or, without one, runs to its end; either way it
 * completes with AM_ECANCELED.
 * Returns as am_executor_submit, plus AM_EINVAL for NULL emb or texts
 * with count > 0, or count 0. Thread safety: safe. */
AM_API am_status am_embed_submit(am_executor *ex, const am_embedder *emb,
                                 const am_str *texts, size_t count,
                                 const am_job_opts *opts, am_job **out);

/* The result of an embed job: the job's status (AM_EBUSY, AM_EINVAL as
 * am_job_chat_result); on AM_OK *vecs is count * *dim floats, row-major,
 * owned by the job until am_job_free. Thread safety: safe once done. */
AM_API am_status am_job_embed_result(const am_job *job, const float **vecs,
                                     size_t *count, size_t *dim);

#ifdef __cplusplus
}
#endif
#endif
