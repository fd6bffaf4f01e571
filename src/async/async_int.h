/* async_int.h -- what the ready-made jobs (async_jobs.c) need from the
 * executor (executor.c); not installed. */
#ifndef AM_ASYNC_INT_H
#define AM_ASYNC_INT_H

#include "agentmem/async.h"
#include "core/core.h"

/* The function `job` was submitted with (NULL for NULL), so that a typed
 * result accessor can refuse a job of another kind. */
am_job_fn am__job_fn(const am_job *job);

/* Record a failure of a submit on `ex` (this thread's slot, read by
 * am_executor_last_error) and return `code`. `ex` must not be NULL. */
am_status am__executor_fail(am_executor *ex, am_status code,
                            const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
