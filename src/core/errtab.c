/* errtab.c -- error detail per thread, held by a handle (see errtab.h). */
#include <stdint.h>
#include <string.h>

#include "core/errtab.h"

struct am__errslot {
    pthread_t owner;
    am_error err;
    am__errslot *next;
};

static const am_error no_detail = { AM_OK, "" };
static const am_error no_memory = {
    AM_ENOMEM, "out of memory (the detail of this failure could not be kept)"
};
static const am_error null_handle = { AM_EINVAL, "the handle is NULL" };

am_status am__errtab_init(am__errtab *t, const am_allocator *alloc)
{
    memset(t, 0, sizeof *t);
    t->alloc = am__allocator(alloc);
    if (pthread_mutex_init(&t->mu, NULL) != 0)
        return AM_ENOMEM;
    return AM_OK;
}

void am__errtab_free(am__errtab *t)
{
    am__errslot *n, *next;

    if (t == NULL || t->alloc == NULL)
        return;
    for (n = t->head; n != NULL; n = next) {
        next = n->next;
        am__free(t->alloc, n, sizeof *n);
    }
    pthread_mutex_destroy(&t->mu);
    t->head = NULL;
}

/* The caller's slot, or NULL (caller holds t->mu). */
static am__errslot *find(const am__errtab *t, pthread_t self)
{
    for (am__errslot *n = t->head; n != NULL; n = n->next)
        if (pthread_equal(n->owner, self))
            return n;
    return NULL;
}

am_error *am__errtab_mine(am__errtab *t)
{
    pthread_t self = pthread_self();
    am__errslot *n;

    pthread_mutex_lock(&t->mu);
    n = find(t, self);
    if (n == NULL) {
        n = am__alloc(t->alloc, sizeof *n);
        if (n != NULL) {
            n->owner = self;
            n->err = no_detail;
            n->next = t->head;
            t->head = n;
        } else {
            t->sink_used = true;
        }
    }
    pthread_mutex_unlock(&t->mu);
    return n != NULL ? &n->err : &t->sink;
}

const am_error *am__errtab_last(const am__errtab *t)
{
    /* The lock only, never the slots: const is about the detail. */
    am__errtab *m = (am__errtab *)(uintptr_t)t;
    am__errslot *n;
    bool lost;

    pthread_mutex_lock(&m->mu);
    n = find(t, pthread_self());
    lost = m->sink_used;
    pthread_mutex_unlock(&m->mu);
    if (n != NULL)
        return &n->err;
    /* No slot: this thread never failed here, or its slot could not be
     * made (then the sink was written, possibly by several threads). */
    return lost ? &no_memory : &no_detail;
}

am_status am__mutex_init_recursive(pthread_mutex_t *mu)
{
    pthread_mutexattr_t at;
    int rc;

    if (pthread_mutexattr_init(&at) != 0)
        return AM_ENOMEM;
    rc = pthread_mutexattr_settype(&at, PTHREAD_MUTEX_RECURSIVE);
    if (rc == 0)
        rc = pthread_mutex_init(mu, &at);
    pthread_mutexattr_destroy(&at);
    return rc == 0 ? AM_OK : AM_ENOMEM;
}

am_status am__handle_sync_init(am__errtab *t, pthread_mutex_t *mu,
                               const am_allocator *alloc, bool recursive)
{
    if (am__errtab_init(t, alloc) != AM_OK)
        return AM_ENOMEM;
    if (recursive ? am__mutex_init_recursive(mu) != AM_OK
                  : pthread_mutex_init(mu, NULL) != 0) {
        am__errtab_free(t);
        return AM_ENOMEM;
    }
    return AM_OK;
}

const am_error *am__errtab_null_handle(void)
{
    return &null_handle;
}
