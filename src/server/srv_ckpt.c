/* srv_ckpt.c -- copy SQLite's write-ahead log back into the database on a
 * thread of its own, so that no put waits for it.
 *
 * With the store's default, the commit that grows the log past 8192
 * pages checkpoints before it returns: the pages are copied into the
 * database file and both files are fsync'ed. In the HTTP server that
 * commit is a batch of up to 256 puts (srv_batch.c), and every connection
 * waiting on the writer waits with it: in a put run, one batch in a few
 * hundred took 100-400 ms, which set the put tail. The server therefore
 * opens its writer with manual_checkpoint and runs the checkpoints here,
 * on a separate handle: a PASSIVE checkpoint neither takes nor waits for
 * the writer's lock, so commits go on meanwhile.
 *
 * What a checkpoint from here cannot do under continuous writes is finish:
 * it copies what was committed when it began, the writer has added more
 * by the time it ends, and the log only starts over from its beginning
 * once every page in it was copied. So once the log has grown past
 * SRV_CKPT_RESTART_PAGES with pages left, the batcher is asked to run one
 * checkpoint on its own handle between two batches: only what was
 * committed since this thread's last run is left to copy, and no commit
 * adds more meanwhile, so the log starts over at the next batch.
 *
 * Durability does not change: a put is answered after its commit reached
 * the log, as before; a checkpoint only moves committed pages.
 *
 * Priority: the thread runs SRV_CKPT_NICE steps nicer than the rest of
 * the server (Linux: setpriority on its thread id changes that thread
 * only). Its work can wait and the puts' cannot: on 2 cores a checkpoint
 * copying for 100 ms took one core from the writer and the workers, and
 * the server's own account of its slow commits was time spent waiting
 * for a CPU, not for I/O or locks. At nice +10 a busy core gives it about
 * a tenth of the time a nice-0 thread gets, and an idle core all of it,
 * so the log is still copied under load (the writer is asked to finish
 * only once it has grown past SRV_CKPT_RESTART_PAGES). Elsewhere, and
 * when the call fails, the thread runs at the server's priority. It is
 * named "am-ckpt" (top -H, /proc/PID/task/TID/comm).
 */
#define _GNU_SOURCE   /* pthread_setname_np */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#ifdef __linux__
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

#include "srv_int.h"

struct srv_ckpt {
    am_store *store;          /* our own handle on the file */
    srv_batcher *batcher;     /* borrowed */
    pthread_mutex_t mu;
    pthread_cond_t cv;        /* CLOCK_MONOTONIC */
    bool stopping;
    pthread_t thread;
    srv_ckpt_stats stats;     /* written by the thread; read after join */
};

bool srv_db_private(const char *db)
{
    const char *file = NULL;
    return am_store_target_kind(db, &file) == AM_STORE_KIND_SQLITE &&
           (strcmp(file, ":memory:") == 0 || file[0] == '\0');
}

bool srv_db_has_log(const char *db)
{
    return am_store_target_kind(db, NULL) == AM_STORE_KIND_SQLITE &&
           !srv_db_private(db);
}

static long long now_us(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long long)t.tv_sec * 1000000 + t.tv_nsec / 1000;
}

static void run_once(srv_ckpt *c)
{
    size_t wal = 0, left = 0;
    long long t0 = now_us(), us;
    am_status st = am_store_checkpoint(c->store, &wal, &left);

    us = now_us() - t0;
    if (us > c->stats.max_us)
        c->stats.max_us = us;
    if (st == AM_EBUSY) {
        c->stats.busy++;
        return;
    }
    c->stats.runs++;
    if (st == AM_OK && wal >= SRV_CKPT_RESTART_PAGES && left > 0) {
        srv_batcher_checkpoint(c->batcher);
        c->stats.asked++;
    }
}

/* Lower this thread's priority (see the top of the file); the nice value
 * it runs at goes to the stats. */
static void lower_priority(srv_ckpt *c)
{
#ifdef __linux__
    id_t tid = (id_t)syscall(SYS_gettid);
    int now;

    errno = 0;
    now = getpriority(PRIO_PROCESS, tid);
    if (now == -1 && errno != 0)
        return;
    c->stats.nice = now;
    if (setpriority(PRIO_PROCESS, tid, now + SRV_CKPT_NICE > 19 ? 19 :
                    now + SRV_CKPT_NICE) == 0) {
        errno = 0;
        now = getpriority(PRIO_PROCESS, tid);
        if (!(now == -1 && errno != 0))
            c->stats.nice = now;
    }
#else
    (void)c;
#endif
}

static void *loop(void *arg)
{
    srv_ckpt *c = arg;
    struct timespec due;

    lower_priority(c);
    clock_gettime(CLOCK_MONOTONIC, &due);
    pthread_mutex_lock(&c->mu);
    while (!c->stopping) {
        due.tv_nsec += (long)SRV_CKPT_PERIOD_MS * 1000000L;
        while (due.tv_nsec >= 1000000000L) {
            due.tv_nsec -= 1000000000L;
            due.tv_sec++;
        }
        while (!c->stopping &&
               pthread_cond_timedwait(&c->cv, &c->mu, &due) == 0)
            ;
        if (c->stopping)
            break;
        pthread_mutex_unlock(&c->mu);
        run_once(c);
        pthread_mutex_lock(&c->mu);
        /* After a long checkpoint, wait a whole period from now rather
         * than run again at once. */
        clock_gettime(CLOCK_MONOTONIC, &due);
    }
    pthread_mutex_unlock(&c->mu);
    return NULL;
}

am_status srv_ckpt_start(const char *db, am_str key, srv_batcher *batcher,
                         srv_ckpt **out, am_error *err)
{
    am_store_opts so = am_store_opts_default();
    pthread_condattr_t ca;
    srv_ckpt *c;
    am_status st;

    *out = NULL;
    if (!srv_db_has_log(db) || batcher == NULL) {
        snprintf(err->msg, sizeof err->msg, "checkpointer: '%s' is not a "
                 "SQLite file", db != NULL ? db : "(null)");
        return err->code = AM_EINVAL;
    }
    c = calloc(1, sizeof *c);
    if (c == NULL) {
        snprintf(err->msg, sizeof err->msg, "checkpointer: out of memory");
        return err->code = AM_ENOMEM;
    }
    c->batcher = batcher;
    so.manual_checkpoint = true;
    so.actor = "agentmem-server";
    so.key = key;
    st = am_store_open(db, &so, &c->store, err);
    if (st != AM_OK) {
        free(c);
        return st;
    }
    pthread_mutex_init(&c->mu, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&c->cv, &ca);
    pthread_condattr_destroy(&ca);
    if (pthread_create(&c->thread, NULL, loop, c) == 0) {
        (void)pthread_setname_np(c->thread, "am-ckpt");
    } else {
        pthread_cond_destroy(&c->cv);
        pthread_mutex_destroy(&c->mu);
        am_store_close(c->store);
        free(c);
        snprintf(err->msg, sizeof err->msg, "checkpointer: cannot start "
                 "a thread");
        return err->code = AM_ENOMEM;
    }
    *out = c;
    return AM_OK;
}

void srv_ckpt_free(srv_ckpt *c, srv_ckpt_stats *stats)
{
    if (stats != NULL)
        memset(stats, 0, sizeof *stats);
    if (c == NULL)
        return;
    pthread_mutex_lock(&c->mu);
    c->stopping = true;
    pthread_cond_signal(&c->cv);
    pthread_mutex_unlock(&c->mu);
    pthread_join(c->thread, NULL);
    if (stats != NULL)
        *stats = c->stats;
    am_store_close(c->store);
    pthread_cond_destroy(&c->cv);
    pthread_mutex_destroy(&c->mu);
    free(c);
}
