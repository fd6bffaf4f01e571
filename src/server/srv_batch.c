/* srv_batch.c -- group commit for the HTTP server's puts.
 *
 * A put on its own is one SQLite transaction: the item row, its key index
 * entry, a history row and a new full-text segment all reach the WAL at
 * COMMIT, and that per-transaction work, not the HTTP around it, bounded
 * the server at about 2,500 puts/s. So puts that arrive together commit
 * together: a request hands its item to the one writer thread and its
 * connection is suspended; the writer takes everything queued (up to
 * max_batch), stores it with one am_store_put_many, then resumes each
 * connection, which answers. A request is answered only after the
 * transaction holding its item committed, so an acknowledged write is as
 * durable as before.
 *
 * There is no waiting for a batch to fill: the writer commits what is
 * queued at once, and whatever arrives during that commit is the next
 * batch. One request alone goes straight through; under load batches grow
 * with the load.
 *
 * The log: with `agentmem serve` the store is opened with
 * manual_checkpoint, so no commit here copies the write-ahead log back
 * into the database (that checkpoint, every 8192 pages, made one batch in
 * a few hundred take 100+ ms). A checkpointer thread does it on its own
 * handle (srv_ckpt.c) and, when the log has grown, asks this thread for
 * one short checkpoint between two batches: only this handle can copy the
 * last pages while no commit adds more, which lets the log start over.
 *
 * All or nothing per request, not per batch: when a batch fails (a bad
 * item the request checks cannot see, a busy database), its items are
 * stored again one at a time so that each request gets its own answer and
 * error message.
 */
#define _GNU_SOURCE   /* pthread_setname_np */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "srv_int.h"

struct srv_batcher {
    am_store *store;
    size_t max_batch;
    am_item_in *items;       /* max_batch, reused */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    srv_put_job *head, *tail;
    bool stopping;
    bool ckpt_wanted;        /* srv_batcher_checkpoint asked for one */
    bool started;            /* the thread exists */
    pthread_t thread;
    /* Written by the writer thread only; read after it stopped. */
    size_t puts, batches, retried;
    size_t largest;                      /* items in the largest batch */
    size_t hist[SRV_COMMIT_BUCKETS];     /* commit time, see srv_int.h */
    long long max_us;
    size_t cpu_hist[SRV_COMMIT_BUCKETS]; /* ... in the thread's CPU time */
    long long cpu_max_us;
    size_t ckpts;                        /* checkpoints between batches */
    long long ckpt_max_us;
};

static long long clock_us(clockid_t c)
{
    struct timespec t;
    clock_gettime(c, &t);
    return (long long)t.tv_sec * 1000000 + t.tv_nsec / 1000;
}

static long long now_us(void)
{
    return clock_us(CLOCK_MONOTONIC);
}

/* Bucket i holds commits under 2^i ms (the last one: everything longer). */
static size_t bucket_of(long long us)
{
    size_t i = 0;
    while (i + 1 < SRV_COMMIT_BUCKETS && us >= (1000LL << i))
        i++;
    return i;
}

/* Store `n` jobs' items, then record each job's result. */
static void commit(srv_batcher *b, srv_put_job *jobs, size_t n)
{
    srv_put_job *j;
    size_t i = 0;
    am_status st;

    for (j = jobs; j != NULL && i < n; j = j->next)
        b->items[i++] = j->item;
    st = am_store_put_many(b->store, b->items, n);
    b->puts += n;
    b->batches++;
    if (st == AM_OK || n == 1) {
        const am_error *e = st != AM_OK ? am_store_last_error(b->store)
                                        : NULL;
        for (j = jobs, i = 0; i < n; j = j->next, i++) {
            j->st = st;
            if (e != NULL && e->code == st)
                j->err = *e;
        }
        return;
    }
    /* Which item failed? Each on its own, for its own answer. */
    b->retried += n;
    for (j = jobs, i = 0; i < n; j = j->next, i++) {
        j->st = am_store_put(b->store, &j->item);
        if (j->st != AM_OK) {
            const am_error *e = am_store_last_error(b->store);
            if (e != NULL && e->code == j->st)
                j->err = *e;
        }
    }
}

/* Copy what the checkpointer could not (what was committed since its last
 * run) while no batch commits; a failure (AM_EBUSY: a reader was starting
 * up) only leaves it for the next request. */
static void finish_log(srv_batcher *b)
{
    long long t0 = now_us(), us;

    (void)am_store_checkpoint(b->store, NULL, NULL);
    us = now_us() - t0;
    b->ckpts++;
    if (us > b->ckpt_max_us)
        b->ckpt_max_us = us;
}

static void *writer(void *arg)
{
    srv_batcher *b = arg;

    for (;;) {
        srv_put_job *jobs, *j, *next;
        size_t n = 0;

        pthread_mutex_lock(&b->mu);
        while (b->head == NULL && !b->stopping && !b->ckpt_wanted)
            pthread_cond_wait(&b->cv, &b->mu);
        if (b->ckpt_wanted) {
            b->ckpt_wanted = false;
            pthread_mutex_unlock(&b->mu);
            finish_log(b);
            continue;
        }
        if (b->head == NULL) {           /* stopping, nothing left */
            pthread_mutex_unlock(&b->mu);
            break;
        }
        jobs = b->head;
        for (j = jobs; j != NULL && n < b->max_batch; j = j->next)
            n++;
        /* Detach the first n jobs. */
        {
            srv_put_job *last = jobs;
            for (size_t i = 1; i < n; i++)
                last = last->next;
            b->head = last->next;
            if (b->head == NULL)
                b->tail = NULL;
            last->next = NULL;
        }
        pthread_mutex_unlock(&b->mu);

        {
            long long t0 = now_us(), us;
            long long c0 = clock_us(CLOCK_THREAD_CPUTIME_ID), cpu;
            commit(b, jobs, n);
            us = now_us() - t0;
            cpu = clock_us(CLOCK_THREAD_CPUTIME_ID) - c0;
            b->hist[bucket_of(us)]++;
            if (us > b->max_us)
                b->max_us = us;
            b->cpu_hist[bucket_of(cpu)]++;
            if (cpu > b->cpu_max_us)
                b->cpu_max_us = cpu;
            if (n > b->largest)
                b->largest = n;
        }
        /* done() resumes the request, which may free its job at once on
         * another thread: read `next` first. */
        for (j = jobs; j != NULL; j = next) {
            next = j->next;
            j->done(j->arg);
        }
    }
    return NULL;
}

am_status srv_batcher_start(am_store *store, size_t max_batch,
                            srv_batcher **out)
{
    srv_batcher *b;

    *out = NULL;
    if (store == NULL || max_batch == 0)
        return AM_EINVAL;
    b = calloc(1, sizeof *b);
    if (b == NULL)
        return AM_ENOMEM;
    b->store = store;
    b->max_batch = max_batch;
    b->items = calloc(max_batch, sizeof *b->items);
    if (b->items == NULL)
        goto fail_items;
    if (pthread_mutex_init(&b->mu, NULL) != 0)
        goto fail_mu;
    if (pthread_cond_init(&b->cv, NULL) != 0)
        goto fail_cv;
    if (pthread_create(&b->thread, NULL, writer, b) != 0)
        goto fail_thread;
    (void)pthread_setname_np(b->thread, "am-writer");   /* top -H */
    b->started = true;
    *out = b;
    return AM_OK;
fail_thread:
    pthread_cond_destroy(&b->cv);
fail_cv:
    pthread_mutex_destroy(&b->mu);
fail_mu:
    free(b->items);
fail_items:
    free(b);
    return AM_ENOMEM;
}

bool srv_batcher_submit(srv_batcher *b, srv_put_job *job)
{
    bool taken = false;

    job->next = NULL;
    job->st = AM_OK;
    memset(&job->err, 0, sizeof job->err);
    pthread_mutex_lock(&b->mu);
    if (!b->stopping) {
        if (b->tail != NULL)
            b->tail->next = job;
        else
            b->head = job;
        b->tail = job;
        taken = true;
        pthread_cond_signal(&b->cv);
    }
    pthread_mutex_unlock(&b->mu);
    return taken;
}

void srv_batcher_checkpoint(srv_batcher *b)
{
    pthread_mutex_lock(&b->mu);
    if (!b->stopping) {
        b->ckpt_wanted = true;
        pthread_cond_signal(&b->cv);
    }
    pthread_mutex_unlock(&b->mu);
}

void srv_batcher_stop(srv_batcher *b)
{
    if (b == NULL)
        return;
    pthread_mutex_lock(&b->mu);
    b->stopping = true;
    pthread_cond_signal(&b->cv);
    pthread_mutex_unlock(&b->mu);
    if (b->started)
        pthread_join(b->thread, NULL);
    b->started = false;
}

void srv_batcher_stats(const srv_batcher *b, srv_batch_stats *out)
{
    out->puts = b->puts;
    out->batches = b->batches;
    out->retried = b->retried;
    out->largest = b->largest;
    out->max_us = b->max_us;
    out->ckpts = b->ckpts;
    out->ckpt_max_us = b->ckpt_max_us;
    memcpy(out->hist, b->hist, sizeof out->hist);
    out->cpu_max_us = b->cpu_max_us;
    memcpy(out->cpu_hist, b->cpu_hist, sizeof out->cpu_hist);
}

void srv_batcher_free(srv_batcher *b)
{
    if (b == NULL)
        return;
    srv_batcher_stop(b);
    pthread_cond_destroy(&b->cv);
    pthread_mutex_destroy(&b->mu);
    free(b->items);
    free(b);
}
