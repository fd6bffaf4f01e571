/* executor.c -- worker threads, a bounded queue and completion handles.
 *
 * One mutex guards everything that changes: the queue of waiting jobs, the
 * completion queue, every job's state and reference count. Job functions
 * and callbacks always run with it released. A job moves QUEUED -> RUNNING
 * -> DONE once; whoever takes it out of QUEUED (a worker, am_job_cancel or
 * am_executor_free) is the one who completes it, which is what makes
 * completion happen exactly once.
 *
 * Lifetimes are reference counts. A job is referenced by the caller's
 * handle (when submit gave one) and by the executor until its completion
 * (callback included) is over. The executor is referenced by its owner and
 * by every live job, so a job handle freed after am_executor_free still
 * finds the mutex it needs.
 *
 * The completion descriptor is the read end of a non-blocking pipe that
 * holds exactly one byte while the completion queue is not empty, so it
 * is level-triggered for poll/epoll/asyncio, and a burst of completions
 * never fills the pipe.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agentmem/async.h"
#include "async/async_int.h"
#include "core/core.h"
#include "core/errtab.h"

enum { JOB_QUEUED, JOB_RUNNING, JOB_DONE };

struct am_job {
    am_executor *ex;
    am_job_fn fn;
    void *ctx;
    am_job_opts opts;
    int state;               /* JOB_*, under ex->lock */
    atomic_bool cancel;
    am_status status;        /* final once state is JOB_DONE */
    am_error err;
    size_t refs;             /* under ex->lock */
    bool has_handle;         /* the caller still holds it */
    bool in_done;            /* on the completion queue */
    am_job *next, *prev;     /* waiting queue or completion queue */
};

typedef struct worker {
    am_executor *ex;
    pthread_t thread;
    am_job *current;         /* under ex->lock */
} worker;

struct am_executor {
    const am_allocator *alloc;
    pthread_mutex_t lock;
    pthread_cond_t work;     /* a job was queued, or stopping */
    pthread_cond_t done;     /* some job finished */
    worker *workers;         /* `threads` of them */
    size_t threads;
    size_t nworkers;         /* started */
    size_t max_queued;
    am_job *q_head, *q_tail; /* waiting for a worker */
    size_t queued;
    am_job *d_head, *d_tail; /* done, with notify, not yet reaped */
    int fd_read, fd_write;
    bool stopping;
    size_t refs;             /* the owner + every live job */
    am__errtab errs;         /* per-thread detail of failed submits */
};

/* ---- Lists (ex->lock held) ---- */

static void list_push(am_job **head, am_job **tail, am_job *j)
{
    j->next = NULL;
    j->prev = *tail;
    if (*tail != NULL)
        (*tail)->next = j;
    else
        *head = j;
    *tail = j;
}

static void list_unlink(am_job **head, am_job **tail, am_job *j)
{
    if (j->prev != NULL)
        j->prev->next = j->next;
    else
        *head = j->next;
    if (j->next != NULL)
        j->next->prev = j->prev;
    else
        *tail = j->prev;
    j->next = j->prev = NULL;
}

/* The pipe holds one byte exactly while the completion queue is not
 * empty. EAGAIN cannot happen (one byte in a pipe) and EINTR is retried. */
static void fd_signal(am_executor *ex)
{
    char b = 1;
    while (write(ex->fd_write, &b, 1) < 0 && errno == EINTR)
        ;
}

static void fd_drain(am_executor *ex)
{
    char b;
    while (read(ex->fd_read, &b, 1) < 0 && errno == EINTR)
        ;
}

static void done_unlink(am_executor *ex, am_job *j)
{
    list_unlink(&ex->d_head, &ex->d_tail, j);
    j->in_done = false;
    if (ex->d_head == NULL)
        fd_drain(ex);
}

/* ---- References ---- */

static void executor_destroy(am_executor *ex)
{
    const am_allocator *a = ex->alloc;
    pthread_cond_destroy(&ex->work);
    pthread_cond_destroy(&ex->done);
    pthread_mutex_destroy(&ex->lock);
    am__errtab_free(&ex->errs);
    if (ex->fd_read >= 0)
        close(ex->fd_read);
    if (ex->fd_write >= 0)
        close(ex->fd_write);
    am__free(a, ex->workers, ex->threads * sizeof *ex->workers);
    am__free(a, ex, sizeof *ex);
}

/* Drop one reference to `ex`; lock not held. */
static void executor_unref(am_executor *ex)
{
    bool last;
    pthread_mutex_lock(&ex->lock);
    last = --ex->refs == 0;
    pthread_mutex_unlock(&ex->lock);
    if (last)
        executor_destroy(ex);
}

/* Drop one reference to `j`; lock not held. */
static void job_unref(am_job *j)
{
    am_executor *ex = j->ex;
    bool last;

    pthread_mutex_lock(&ex->lock);
    last = --j->refs == 0;
    pthread_mutex_unlock(&ex->lock);
    if (!last)
        return;
    if (j->opts.free_ctx != NULL)
        j->opts.free_ctx(j->ctx);
    am__free(ex->alloc, j, sizeof *j);
    executor_unref(ex);
}

/* ---- Completion ---- */

/* Make `j` DONE with `st`, queue its notification, wake the waiters, run
 * its callback and drop the executor's reference. The caller took `j` out
 * of QUEUED or ran it, so nobody else completes it. Lock not held. */
static void complete(am_job *j, am_status st, const am_error *err)
{
    am_executor *ex = j->ex;

    pthread_mutex_lock(&ex->lock);
    j->status = st;
    if (st != AM_OK)
        am__error_copy(&j->err, err);
    j->state = JOB_DONE;
    if (j->opts.notify && j->has_handle) {
        bool was_empty = ex->d_head == NULL;
        list_push(&ex->d_head, &ex->d_tail, j);
        j->in_done = true;
        if (was_empty)
            fd_signal(ex);
    }
    pthread_cond_broadcast(&ex->done);
    pthread_mutex_unlock(&ex->lock);
    if (j->opts.on_done != NULL)
        j->opts.on_done(j, j->opts.done_ctx);
    job_unref(j);
}

static void complete_cancelled(am_job *j, const char *when)
{
    am_error e = { AM_OK, "" };
    am__fail(&e, AM_ECANCELED, "job cancelled %s", when);
    complete(j, AM_ECANCELED, &e);
}

static void *worker_main(void *arg)
{
    worker *w = arg;
    am_executor *ex = w->ex;

    for (;;) {
        am_job *j;
        am_error e = { AM_OK, "" };
        am_status st;

        pthread_mutex_lock(&ex->lock);
        while (ex->q_head == NULL && !ex->stopping)
            pthread_cond_wait(&ex->work, &ex->lock);
        if (ex->q_head == NULL) {
            pthread_mutex_unlock(&ex->lock);
            return NULL;
        }
        j = ex->q_head;
        list_unlink(&ex->q_head, &ex->q_tail, j);
        ex->queued--;
        j->state = JOB_RUNNING;
        w->current = j;
        pthread_mutex_unlock(&ex->lock);

        st = j->fn(j, j->ctx, &e);
        if (st != AM_OK && e.code == AM_OK)
            am__fail(&e, st, "job failed: %s", am_status_str(st));

        pthread_mutex_lock(&ex->lock);
        w->current = NULL;
        pthread_mutex_unlock(&ex->lock);
        complete(j, st, &e);
    }
}

/* ---- Executor ---- */

am_executor_opts am_executor_opts_default(void)
{
    am_executor_opts o;
    memset(&o, 0, sizeof o);
    o.threads = 2;
    o.max_queued = 64;
    return o;
}

static am_status make_pipe(am_executor *ex, am_error *err)
{
    int fds[2];
    if (pipe(fds) != 0)
        return am__fail(err, AM_EIO, "executor: cannot make the completion "
                        "pipe: %s", strerror(errno));
    ex->fd_read = fds[0];
    ex->fd_write = fds[1];
    for (int i = 0; i < 2; i++) {
        int fl = fcntl(fds[i], F_GETFL);
        if (fl < 0 || fcntl(fds[i], F_SETFL, fl | O_NONBLOCK) != 0 ||
            fcntl(fds[i], F_SETFD, FD_CLOEXEC) != 0)
            return am__fail(err, AM_EIO, "executor: cannot set up the "
                            "completion pipe: %s", strerror(errno));
    }
    return AM_OK;
}

static void stop_workers(am_executor *ex)
{
    pthread_mutex_lock(&ex->lock);
    ex->stopping = true;
    pthread_cond_broadcast(&ex->work);
    pthread_mutex_unlock(&ex->lock);
    for (size_t i = 0; i < ex->nworkers; i++)
        pthread_join(ex->workers[i].thread, NULL);
}

am_status am_executor_create(const am_executor_opts *opts, am_executor **out,
                             am_error *err)
{
    am_executor_opts o = opts != NULL ? *opts : am_executor_opts_default();
    am_executor *ex = NULL;
    pthread_condattr_t ca;
    am_status st;
    int rc;

    if (out == NULL)
        return am__fail(err, AM_EINVAL, "executor: NULL out");
    *out = NULL;
    if (o.threads < 1 || o.threads > 256)
        return am__fail(err, AM_EINVAL, "executor: threads is %zu; it must "
                        "be 1..256", o.threads);
    if (o.max_queued < 1 || o.max_queued > ((size_t)1 << 20))
        return am__fail(err, AM_EINVAL, "executor: max_queued is %zu; it "
                        "must be 1..1048576", o.max_queued);

    ex = am__calloc(o.alloc, 1, sizeof *ex);
    if (ex == NULL)
        return am__fail(err, AM_ENOMEM, "executor: out of memory");
    ex->alloc = o.alloc;
    ex->max_queued = o.max_queued;
    ex->refs = 1;
    ex->fd_read = ex->fd_write = -1;
    ex->threads = o.threads;
    ex->workers = am__calloc(o.alloc, o.threads, sizeof *ex->workers);
    if (ex->workers == NULL || am__errtab_init(&ex->errs, o.alloc) != AM_OK) {
        am__free(o.alloc, ex->workers, o.threads * sizeof *ex->workers);
        am__free(o.alloc, ex, sizeof *ex);
        return am__fail(err, AM_ENOMEM, "executor: out of memory");
    }
    /* Waits measure time on the monotonic clock, so that a change of the
     * wall clock neither cuts nor stretches am_job_wait's timeout. */
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_mutex_init(&ex->lock, NULL);
    pthread_cond_init(&ex->work, NULL);
    pthread_cond_init(&ex->done, &ca);
    pthread_condattr_destroy(&ca);

    st = make_pipe(ex, err);
    if (st != AM_OK)
        goto fail;
    for (size_t i = 0; i < o.threads; i++) {
        ex->workers[i].ex = ex;
        rc = pthread_create(&ex->workers[i].thread, NULL, worker_main,
                            &ex->workers[i]);
        if (rc != 0) {
            st = am__fail(err, AM_EIO, "executor: cannot start worker %zu "
                          "of %zu: %s", i + 1, o.threads, strerror(rc));
            goto fail;
        }
        ex->nworkers++;
    }
    *out = ex;
    return AM_OK;

fail:
    stop_workers(ex); /* joins the nworkers that did start */
    executor_destroy(ex);
    return st;
}

void am_executor_free(am_executor *ex)
{
    am_job *pending;

    if (ex == NULL)
        return;
    pthread_mutex_lock(&ex->lock);
    ex->stopping = true;
    pending = ex->q_head;
    ex->q_head = ex->q_tail = NULL;
    ex->queued = 0;
    for (am_job *j = pending; j != NULL; j = j->next)
        j->state = JOB_RUNNING; /* ours to complete now */
    for (size_t i = 0; i < ex->nworkers; i++)
        if (ex->workers[i].current != NULL)
            atomic_store(&ex->workers[i].current->cancel, true);
    pthread_cond_broadcast(&ex->work);
    pthread_mutex_unlock(&ex->lock);

    while (pending != NULL) {
        am_job *j = pending;
        pending = j->next;
        atomic_store(&j->cancel, true);
        complete_cancelled(j, "before it started: the executor was freed");
    }
    for (size_t i = 0; i < ex->nworkers; i++)
        pthread_join(ex->workers[i].thread, NULL);
    executor_unref(ex);
}

int am_executor_fd(const am_executor *ex)
{
    return ex != NULL ? ex->fd_read : -1;
}

size_t am_executor_reap(am_executor *ex, am_job **out, size_t cap)
{
    size_t n = 0;

    if (ex == NULL || out == NULL)
        return 0;
    pthread_mutex_lock(&ex->lock);
    while (n < cap && ex->d_head != NULL) {
        am_job *j = ex->d_head;
        done_unlink(ex, j);
        out[n++] = j;
    }
    pthread_mutex_unlock(&ex->lock);
    return n;
}

/* ---- Jobs ---- */

am_status am_executor_submit(am_executor *ex, am_job_fn fn, void *ctx,
                             const am_job_opts *opts, am_job **out)
{
    am_job *j;

    if (out != NULL)
        *out = NULL;
    if (ex == NULL)
        return AM_EINVAL;
    if (fn == NULL)
        return am__fail(&AM__ERR(ex), AM_EINVAL, "executor: submit with a "
                        "NULL job function");
    if (opts != NULL && opts->notify && out == NULL)
        return am__fail(&AM__ERR(ex), AM_EINVAL, "executor: notify needs a "
                        "job handle (out is NULL): nobody could reap it");
    j = am__calloc(ex->alloc, 1, sizeof *j);
    if (j == NULL)
        return am__fail(&AM__ERR(ex), AM_ENOMEM, "executor: out of memory");
    j->ex = ex;
    j->fn = fn;
    j->ctx = ctx;
    if (opts != NULL)
        j->opts = *opts;
    j->state = JOB_QUEUED;
    atomic_init(&j->cancel, false);
    j->status = AM_EBUSY;
    j->has_handle = out != NULL;
    j->refs = out != NULL ? 2 : 1;

    pthread_mutex_lock(&ex->lock);
    if (ex->stopping || ex->queued >= ex->max_queued) {
        bool full = !ex->stopping;
        pthread_mutex_unlock(&ex->lock);
        am__free(ex->alloc, j, sizeof *j);
        if (!full)
            return am__fail(&AM__ERR(ex), AM_ESTATE, "executor: submit "
                            "while the executor is being freed");
        return am__fail(&AM__ERR(ex), AM_ELIMIT, "executor: queue full: "
                        "%zu jobs already wait for a worker (max_queued); "
                        "wait for some to finish or raise max_queued",
                        ex->max_queued);
    }
    list_push(&ex->q_head, &ex->q_tail, j);
    ex->queued++;
    ex->refs++;
    pthread_cond_signal(&ex->work);
    pthread_mutex_unlock(&ex->lock);
    if (out != NULL)
        *out = j;
    return AM_OK;
}

bool am_job_wait(am_job *job, int64_t timeout_ms)
{
    am_executor *ex;
    struct timespec until;
    bool done;

    if (job == NULL)
        return false;
    ex = job->ex;
    if (timeout_ms > 0) {
        int64_t ns;
        clock_gettime(CLOCK_MONOTONIC, &until);
        ns = (int64_t)until.tv_nsec + (timeout_ms % 1000) * 1000000;
        until.tv_sec += (time_t)(timeout_ms / 1000 + ns / 1000000000);
        until.tv_nsec = (long)(ns % 1000000000);
    }
    pthread_mutex_lock(&ex->lock);
    while (job->state != JOB_DONE && timeout_ms != 0) {
        if (timeout_ms < 0) {
            pthread_cond_wait(&ex->done, &ex->lock);
        } else if (pthread_cond_timedwait(&ex->done, &ex->lock, &until) ==
                   ETIMEDOUT) {
            break;
        }
    }
    done = job->state == JOB_DONE;
    pthread_mutex_unlock(&ex->lock);
    return done;
}

am_status am_job_status(const am_job *job)
{
    am_status st;
    if (job == NULL)
        return AM_EINVAL;
    pthread_mutex_lock(&job->ex->lock);
    st = job->state == JOB_DONE ? job->status : AM_EBUSY;
    pthread_mutex_unlock(&job->ex->lock);
    return st;
}

const am_error *am_job_error(const am_job *job)
{
    static const am_error none = { AM_OK, "" };
    static const am_error null_job = { AM_EINVAL, "NULL job" };
    bool done;

    if (job == NULL)
        return &null_job;
    pthread_mutex_lock(&job->ex->lock);
    done = job->state == JOB_DONE;
    pthread_mutex_unlock(&job->ex->lock);
    return done ? &job->err : &none;
}

am_status am_job_cancel(am_job *job)
{
    am_executor *ex;
    int state;

    if (job == NULL)
        return AM_EINVAL;
    ex = job->ex;
    pthread_mutex_lock(&ex->lock);
    state = job->state;
    if (state == JOB_DONE) {
        pthread_mutex_unlock(&ex->lock);
        return AM_ESTATE;
    }
    atomic_store(&job->cancel, true);
    if (state == JOB_QUEUED) {
        list_unlink(&ex->q_head, &ex->q_tail, job);
        ex->queued--;
        job->state = JOB_RUNNING; /* ours to complete now */
    }
    pthread_mutex_unlock(&ex->lock);
    if (state == JOB_QUEUED)
        complete_cancelled(job, "before it started");
    return AM_OK;
}

bool am_job_cancelled(const am_job *job)
{
    return job != NULL && atomic_load(&job->cancel);
}

void *am_job_ctx(const am_job *job)
{
    return job != NULL ? job->ctx : NULL;
}

void am_job_free(am_job *job)
{
    am_executor *ex;

    if (job == NULL)
        return;
    ex = job->ex;
    pthread_mutex_lock(&ex->lock);
    job->has_handle = false;
    if (job->in_done)
        done_unlink(ex, job);
    pthread_mutex_unlock(&ex->lock);
    job_unref(job);
}

const am_error *am_executor_last_error(const am_executor *ex)
{
    if (ex == NULL)
        return am__errtab_null_handle();
    return am__errtab_last(&ex->errs);
}

am_status am__executor_fail(am_executor *ex, am_status code,
                            const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    am__failv(&AM__ERR(ex), code, fmt, ap);
    va_end(ap);
    return code;
}

am_job_fn am__job_fn(const am_job *job)
{
    return job != NULL ? job->fn : NULL;
}
