/* trim_int.h -- the trimming algorithm on message views (internal). */
#ifndef AM_TRIM_INT_H
#define AM_TRIM_INT_H

#include "context_int.h"

typedef struct am__wtrim_opts {
    bool first;            /* keep from the start instead of the end */
    size_t max_messages;   /* 0: no limit */
    size_t max_tokens;     /* 0: no limit */
    bool preserve_system;
    bool start_on_user;
    int end_on_role;       /* AM__W_* or -1 */
    bool allow_partial;
} am__wtrim_opts;

typedef struct am__wtrim_out {
    unsigned char *keep;   /* caller's array of n flags */
    size_t partial_index;  /* message to cut, or SIZE_MAX */
    size_t partial_budget; /* tokens its cut content may use */
    size_t orphans;        /* tool results without a call */
    size_t kept_tokens;    /* tokens of kept messages, partial excluded */
} am__wtrim_out;

/* Choose the messages to keep. `res->keep` must hold n bytes. */
am_status am__wtrim(const am_allocator *a, const am__wview *v, size_t n,
                    const am__wtrim_opts *o, am__wtrim_out *res,
                    am_error *err);

#endif
