/* turns.c -- turn groups and the trimming algorithm, on message views.
 *
 * A history is only valid to send if every tool result follows the
 * assistant message that called it, and every call of a kept assistant
 * message has its result. So trimming never works on single messages: it
 * works on turn groups. A group is
 *
 *   [reasoning-only messages] assistant-with-tool-calls tool-result...
 *
 * where the results are every later tool message whose tool_call_id names
 * one of the calls (parallel calls, results in any order, even with other
 * messages in between), or a single system, user or plain assistant
 * message. A tool result whose id no earlier call carries is an orphan: it
 * can never be sent, so it is always dropped and counted as such.
 *
 * Selection keeps the system groups (when asked), then takes whole groups
 * from the end (or the start) while they fit both budgets, and stops at the
 * first group that does not fit, so the kept part is contiguous in groups.
 */
#include <string.h>

#include "context_int.h"
#include "trim_int.h"

/* ---- Call-id table: open addressing over borrowed strings ---- */

typedef struct id_slot {
    am_str id;
    size_t group;
} id_slot;

typedef struct id_table {
    id_slot *slots;
    size_t cap; /* power of two, or 0 */
} id_table;

static size_t id_hash(am_str s)
{
    return (size_t)am__hash64(s.ptr, s.len, 0x5eed);
}

static size_t *id_find(id_table *t, am_str id)
{
    size_t mask, i;
    if (t->cap == 0)
        return NULL;
    mask = t->cap - 1;
    for (i = id_hash(id) & mask; t->slots[i].id.ptr != NULL;
         i = (i + 1) & mask)
        if (t->slots[i].id.len == id.len &&
            memcmp(t->slots[i].id.ptr, id.ptr, id.len) == 0)
            return &t->slots[i].group;
    return NULL;
}

static void id_put(id_table *t, am_str id, size_t group)
{
    size_t mask = t->cap - 1, i;
    for (i = id_hash(id) & mask; t->slots[i].id.ptr != NULL;
         i = (i + 1) & mask)
        if (t->slots[i].id.len == id.len &&
            memcmp(t->slots[i].id.ptr, id.ptr, id.len) == 0) {
            /* A repeated id: the later call owns later results. */
            t->slots[i].group = group;
            return;
        }
    t->slots[i].id = id.ptr != NULL ? id : (am_str){ "", 0 };
    t->slots[i].group = group;
}

am_status am__wgroups(const am_allocator *a, const am__wview *v, size_t n,
                      size_t *group, am_error *err)
{
    id_table t = { NULL, 0 };
    size_t ncalls = 0, pending = SIZE_MAX;

    for (size_t i = 0; i < n; i++)
        if (v[i].role == AM__W_ASSISTANT)
            ncalls += v[i].ncalls;
    if (ncalls > 0) {
        t.cap = 16;
        while (t.cap < ncalls * 2)
            t.cap *= 2;
        t.slots = am__calloc(a, t.cap, sizeof *t.slots);
        if (t.slots == NULL)
            return am__fail(err, AM_ENOMEM, "trim: out of memory");
    }
    for (size_t i = 0; i < n; i++) {
        const am__wview *m = &v[i];
        if (m->reasoning_only && m->role != AM__W_TOOL) {
            /* Thinking travels with the turn that follows it. */
            if (pending == SIZE_MAX)
                pending = i;
            group[i] = pending;
            continue;
        }
        if (m->role == AM__W_TOOL) {
            size_t *g = id_find(&t, m->result_for);
            group[i] = g != NULL ? *g : SIZE_MAX;
            /* A tool result does not end a reasoning run. */
            continue;
        }
        if (m->role == AM__W_ASSISTANT && pending != SIZE_MAX) {
            group[i] = pending;
        } else if (pending != SIZE_MAX) {
            /* Reasoning not followed by an assistant turn stands alone;
             * it already carries group `pending`. */
            group[i] = i;
        } else {
            group[i] = i;
        }
        pending = SIZE_MAX;
        if (m->role == AM__W_ASSISTANT)
            for (size_t c = 0; c < m->ncalls; c++)
                id_put(&t, m->call_ids[c], group[i]);
    }
    am__free(a, t.slots, t.cap * sizeof *t.slots);
    return AM_OK;
}

/* ---- Selection ---- */

typedef struct unit {
    size_t first;   /* index of the first message (= group id) */
    size_t last;    /* index of the last message */
    size_t tokens;
    size_t count;
    bool system;
    bool plain;     /* one user/assistant message without calls */
    int first_role; /* role of the first non-reasoning message */
    int last_role;
} unit;

am_status am__wtrim(const am_allocator *a, const am__wview *v, size_t n,
                    const am__wtrim_opts *o, am__wtrim_out *res,
                    am_error *err)
{
    size_t *group = NULL, *uidx = NULL;
    unit *u = NULL;
    size_t nu = 0;
    size_t tok_left, msg_left;
    am_status st = AM_OK;
    unsigned char *ukeep = NULL;

    memset(res->keep, 0, n);
    res->partial_index = SIZE_MAX;
    res->partial_budget = 0;
    res->orphans = 0;
    res->kept_tokens = 0;
    if (n == 0)
        return AM_OK;
    group = am__alloc_array(a, n, sizeof *group);
    uidx = am__alloc_array(a, n, sizeof *uidx);
    u = am__alloc_array(a, n, sizeof *u);
    ukeep = am__calloc(a, n, 1);
    if (group == NULL || uidx == NULL || u == NULL || ukeep == NULL) {
        st = am__fail(err, AM_ENOMEM, "trim: out of memory");
        goto out;
    }
    st = am__wgroups(a, v, n, group, err);
    if (st != AM_OK)
        goto out;

    /* Build units in order of their first message. Group ids are first
     * indices, so a unit starts exactly where group[i] == i (or at the
     * first reasoning message of a run). */
    for (size_t i = 0; i < n; i++) {
        size_t g = group[i];
        if (g == SIZE_MAX) {
            res->orphans++;
            uidx[i] = SIZE_MAX;
            continue;
        }
        if (g == i) {
            unit *x = &u[nu];
            memset(x, 0, sizeof *x);
            x->first = i;
            x->first_role = -1;
            x->plain = true;
            uidx[i] = nu++;
        } else {
            uidx[i] = uidx[g];
        }
        unit *x = &u[uidx[i]];
        x->last = i;
        x->tokens += v[i].tokens;
        x->count++;
        if (v[i].role == AM__W_SYSTEM && x->count == 1)
            x->system = true;
        if (!v[i].reasoning_only && x->first_role < 0)
            x->first_role = v[i].role;
        if (!v[i].reasoning_only)
            x->last_role = v[i].role;
        if (x->count > 1 || v[i].reasoning_only || v[i].ncalls > 0 ||
            !v[i].text_only ||
            (v[i].role != AM__W_USER && v[i].role != AM__W_ASSISTANT))
            x->plain = false;
    }
    for (size_t k = 0; k < nu; k++)
        if (u[k].first_role < 0)
            u[k].first_role = v[u[k].first].role;

    tok_left = o->max_tokens > 0 ? o->max_tokens : SIZE_MAX;
    msg_left = o->max_messages > 0 ? o->max_messages : SIZE_MAX;
    if (o->preserve_system) {
        for (size_t k = 0; k < nu; k++) {
            if (!u[k].system)
                continue;
            ukeep[k] = 1;
            /* System prompts are kept even past the budget: the budget
             * left for the rest is then zero. */
            tok_left = tok_left > u[k].tokens ? tok_left - u[k].tokens : 0;
            msg_left = msg_left > u[k].count ? msg_left - u[k].count : 0;
        }
    }
    {
        size_t boundary = SIZE_MAX; /* first unit that did not fit */
        for (size_t step = 0; step < nu; step++) {
            size_t k = o->first ? step : nu - 1 - step;
            if (ukeep[k])
                continue;
            if (u[k].tokens <= tok_left && u[k].count <= msg_left) {
                ukeep[k] = 1;
                tok_left -= u[k].tokens;
                msg_left -= u[k].count;
                continue;
            }
            boundary = k;
            break;
        }
        /* The boundary message may be cut to fit, if it is one plain
         * message: a group is never cut, since half a group is invalid. */
        if (boundary != SIZE_MAX && o->allow_partial && u[boundary].plain &&
            tok_left > 0 && msg_left > 0 && o->max_tokens > 0) {
            res->partial_index = u[boundary].first;
            res->partial_budget = tok_left;
            ukeep[boundary] = 2;
        }
    }
    /* start_on_user: the first kept non-system unit must open with a user
     * message; drop kept units before it. */
    if (o->start_on_user) {
        for (size_t k = 0; k < nu; k++) {
            if (!ukeep[k] || (u[k].system && o->preserve_system))
                continue;
            if (u[k].first_role == AM__W_USER)
                break;
            ukeep[k] = 0;
        }
    }
    if (o->end_on_role >= 0) {
        for (size_t k = nu; k-- > 0;) {
            if (!ukeep[k] || (u[k].system && o->preserve_system))
                continue;
            if (u[k].last_role == o->end_on_role)
                break;
            ukeep[k] = 0;
        }
    }
    if (res->partial_index != SIZE_MAX && !ukeep[uidx[res->partial_index]]) {
        res->partial_index = SIZE_MAX;
        res->partial_budget = 0;
    }
    for (size_t i = 0; i < n; i++) {
        if (uidx[i] == SIZE_MAX || !ukeep[uidx[i]])
            continue;
        res->keep[i] = 1;
        if (i != res->partial_index)
            res->kept_tokens += v[i].tokens;
    }
out:
    am__free(a, group, n * sizeof *group);
    am__free(a, uidx, n * sizeof *uidx);
    am__free(a, u, n * sizeof *u);
    am__free(a, ukeep, n);
    return st;
}
