/* errtab.h -- error detail per thread, held by a handle (not installed).
 *
 * A handle that threads share cannot keep one `am_error`: a second
 * thread's failure would overwrite the first thread's message while the
 * first is reading it, and am_x_last_error() would hand out a pointer into
 * a buffer other threads rewrite. So a shared handle keeps one slot per
 * thread that has failed on it. A thread only ever writes and reads its
 * own slot, so a message stays put until that thread's next call on the
 * handle, whatever other threads do. Slots are nodes of a list that only
 * grows (a new node is published under `mu`, then never moves) and is
 * freed with the handle; a thread id reused by a later thread reuses the
 * slot, so the list is as long as the most threads alive at once.
 *
 * This is state of the handle, not of the process: there is no global or
 * thread-local variable.
 */
#ifndef AM_ERRTAB_H
#define AM_ERRTAB_H

#include <pthread.h>

#include "core/core.h"

typedef struct am__errslot am__errslot;

typedef struct am__errtab {
    pthread_mutex_t mu;       /* guards `head` (not the slots' contents) */
    am__errslot *head;
    const am_allocator *alloc;
    /* Where a thread's detail goes when no slot could be allocated for it.
     * Writes to it may race, so it is never handed out: last_error then
     * reports the static "out of memory" detail instead. */
    am_error sink;
    bool sink_used;           /* some thread's detail went to the sink */
} am__errtab;

/* Set up `t`; `alloc` (NULL: default) is borrowed. AM_OK or AM_ENOMEM. */
am_status am__errtab_init(am__errtab *t, const am_allocator *alloc);

/* Free every slot. NULL-safe; `t` must not be in use. */
void am__errtab_free(am__errtab *t);

/* The calling thread's slot, created on first use: where this thread's
 * failures on the handle are recorded (pass it to am__fail). Never NULL:
 * without memory for a new slot it is the shared sink. */
am_error *am__errtab_mine(am__errtab *t);

/* The calling thread's most recent detail, for am_x_last_error: its slot,
 * or a static empty detail (code AM_OK, "") when it has none, or a static
 * "out of memory" detail when its slot could not be created. Valid until
 * this thread's next call on the handle (the free ends it too). */
const am_error *am__errtab_last(const am__errtab *t);

/* The calling thread's slot of handle `h` (a pointer to a struct with an
 * `errs` member) as an lvalue: `am__fail(&AM__ERR(s), ...)`. */
#define AM__ERR(h) (*am__errtab_mine(&(h)->errs))

/* Initialize `mu` as a recursive mutex, for handles whose callbacks (hooks,
 * summarizers) may call back into the handle on the same thread.
 * AM_OK or AM_ENOMEM. */
am_status am__mutex_init_recursive(pthread_mutex_t *mu);

/* Set up a handle's error table `t` and its mutex `mu` (recursive or
 * not) together: AM_OK, or AM_ENOMEM with neither left set up. */
am_status am__handle_sync_init(am__errtab *t, pthread_mutex_t *mu,
                               const am_allocator *alloc, bool recursive);

/* The static detail last_error functions return for a NULL handle. */
const am_error *am__errtab_null_handle(void);

#endif
