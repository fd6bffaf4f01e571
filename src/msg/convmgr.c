/* convmgr.c -- one conversation per agent, with retention policies.
 *
 * The manager keeps a sorted array of agent slots (name, conversation,
 * policy, log). Agents are few and looked up by binary search; a slot is
 * never freed before the manager is, so the conversation pointers handed
 * out stay valid.
 *
 * Persistence rides on the conversation's change hook: for a PERSISTENT
 * agent, every add, clear or replace is first appended to the agent's log
 * (convlog.c) and fsynced, and only then applied in memory. The hook runs
 * under the conversation's lock, so log order is conversation order.
 *
 * Locking: the manager's mutex guards the slot array and policies; a
 * conversation's own mutex guards its messages and log. When both are
 * needed the manager's is taken first.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "convlog.h"
#include "msg_int.h"

#define LOG_EXT ".amlog"

typedef struct slot {
    char *name;
    size_t name_len;
    am_conv *conv;
    am_retention ret;
    am__convlog *log;
    struct am_convmgr *mgr;
} slot;

struct am_convmgr {
    pthread_mutex_t mu;
    am_convmgr_opts opts;
    char *dir;
    size_t dir_len;
    slot **slots;
    size_t count;
    size_t cap;
    am__errtab errs;    /* error detail per thread (core/errtab.h) */
};

static const char *const retention_names[] = {
    [AM_RETAIN_SESSION] = "session", [AM_RETAIN_SINGLE_RUN] = "single_run",
    [AM_RETAIN_PERSISTENT] = "persistent",
};
static const am__names retentions =
    AM__NAMES("retention policy", retention_names);

const char *am_retention_name(am_retention r)
{
    return am__name_of(&retentions, (int)r);
}

AM__NAME_PARSE_FN(am_retention_parse, am_retention, retentions)

am_convmgr_opts am_convmgr_opts_default(void)
{
    am_convmgr_opts o;
    memset(&o, 0, sizeof o);
    o.default_retention = AM_RETAIN_SESSION;
    o.max_messages_per_agent = 1000;
    o.max_msg_bytes = AM_MSG_DEFAULT_MAX_BYTES;
    return o;
}

/* ---- Log file names ---- */

/* <dir>/<agent>.amlog with bytes outside [A-Za-z0-9_-] written as %XX, so
 * that any agent name (slashes, dots, UTF-8) maps to one safe file. */
static char *log_path(const am_allocator *a, const char *dir, am_str agent,
                      size_t *size)
{
    size_t dl = strlen(dir), n = dl + 1 + agent.len * 3 + sizeof LOG_EXT;
    char *p = am__alloc(a, n), *o;

    *size = n;
    if (p == NULL)
        return NULL;
    memcpy(p, dir, dl);
    o = p + dl;
    *o++ = '/';
    for (size_t i = 0; i < agent.len; i++) {
        unsigned char c = (unsigned char)agent.ptr[i];
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
            (c >= '0' && c <= '9') || c == '_' || c == '-') {
            *o++ = (char)c;
        } else {
            static const char hex[] = "0123456789ABCDEF";
            *o++ = '%';
            *o++ = hex[c >> 4];
            *o++ = hex[c & 15];
        }
    }
    memcpy(o, LOG_EXT, sizeof LOG_EXT);
    return p;
}

/* ---- The hook: log first, then apply ---- */

/* The live messages of `c` (caller holds c->mu). */
static am_msg *const *live(const am_conv *c)
{
    return c->items != NULL ? c->items + c->start : NULL;
}

static am_status log_hook(void *ctx, am__conv_op op, am_msg *const *msgs,
                          size_t count, am_error *err)
{
    slot *s = ctx;
    am_conv *c = s->conv;
    am_status st;

    /* Called with c->mu held: c->items is stable. Compact before the
     * append so the snapshot is the state this record applies to. */
    if (am__convlog_wants_compact(s->log)) {
        st = am__convlog_compact(s->log, live(c), c->count,
                                 err);
        if (st != AM_OK)
            return st;
    }
    return am__convlog_append(s->log, op, msgs, count, err);
}

/* ---- Slots ---- */

static size_t find(const am_convmgr *m, am_str name, bool *found)
{
    size_t lo = 0, hi = m->count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const slot *s = m->slots[mid];
        size_t n = s->name_len < name.len ? s->name_len : name.len;
        int c = memcmp(s->name, name.ptr, n);
        if (c == 0)
            c = s->name_len < name.len ? -1 : s->name_len > name.len;
        if (c == 0) {
            *found = true;
            return mid;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = false;
    return lo;
}

static void slot_free(slot *s)
{
    const am_allocator *a;

    if (s == NULL)
        return;
    a = s->mgr->opts.alloc;
    am_conv_free(s->conv);
    am__convlog_close(s->log, false);
    am__free(a, s->name, s->name_len + 1);
    am__free(a, s, sizeof *s);
}

/* Rename a slot (restore learns the name from the log). */
static am_status slot_rename(slot *s, am_str name)
{
    const am_allocator *a = s->mgr->opts.alloc;
    char *n = am__strndup(a, name.ptr, name.len);

    if (n == NULL)
        return AM_ENOMEM;
    am__free(a, s->name, s->name_len + 1);
    s->name = n;
    s->name_len = name.len;
    return AM_OK;
}

/* Make a slot for `name` (not yet in the array). */
static am_status slot_new(am_convmgr *m, am_str name, am_retention ret,
                          slot **out, am_error *err)
{
    am_conv_opts co = am_conv_opts_default();
    slot *s = am__calloc(m->opts.alloc, 1, sizeof *s);
    am_status st;

    *out = NULL;
    if (s == NULL)
        return am__fail(err, AM_ENOMEM, "out of memory");
    s->mgr = m;
    s->ret = ret;
    s->name = am__strndup(m->opts.alloc, name.ptr, name.len);
    s->name_len = name.len;
    if (s->name == NULL) {
        slot_free(s);
        return am__fail(err, AM_ENOMEM, "out of memory");
    }
    co.alloc = m->opts.alloc;
    co.clock = m->opts.clock;
    co.rng = m->opts.rng;
    co.max_messages = m->opts.max_messages_per_agent;
    co.max_msg_bytes = m->opts.max_msg_bytes;
    st = am_conv_create(&co, &s->conv, err);
    if (st != AM_OK) {
        slot_free(s);
        return st;
    }
    *out = s;
    return AM_OK;
}

static am_status insert(am_convmgr *m, size_t at, slot *s, am_error *err)
{
    if (am__grow(m->opts.alloc, (void **)&m->slots, &m->cap, m->count + 1,
                 sizeof *m->slots) != AM_OK)
        return am__fail(err, AM_ENOMEM, "out of memory");
    memmove(m->slots + at + 1, m->slots + at,
            (m->count - at) * sizeof *m->slots);
    m->slots[at] = s;
    m->count++;
    return AM_OK;
}

/* Start logging `s` (current messages as the first snapshot). Takes the
 * conversation lock. */
static am_status make_persistent(am_convmgr *m, slot *s, am_error *err)
{
    size_t psize;
    char *path = log_path(m->opts.alloc, m->dir,
                          (am_str){ s->name, s->name_len }, &psize);
    am_status st;
    am_conv *c = s->conv;

    if (path == NULL)
        return am__fail(err, AM_ENOMEM, "out of memory");
    pthread_mutex_lock(&c->mu);
    st = am__convlog_create(m->opts.alloc, path,
                            (am_str){ s->name, s->name_len },
                            live(c), c->count,
                            !m->opts.no_sync, &s->log, err);
    if (st == AM_OK) {
        c->hook = log_hook;
        c->hook_ctx = s;
    }
    pthread_mutex_unlock(&c->mu);
    am__free(m->opts.alloc, path, psize);
    return st;
}

static void stop_persistent(slot *s)
{
    am__conv_set_hook(s->conv, NULL, NULL);
    am__convlog_close(s->log, true);
    s->log = NULL;
}

static bool valid_name(am_convmgr *m, am_str agent)
{
    size_t bad;
    if (agent.len == 0 || agent.ptr == NULL) {
        am__fail(&AM__ERR(m), AM_EINVAL, "agent name is empty");
        return false;
    }
    if (agent.len > 200) {
        am__fail(&AM__ERR(m), AM_EINVAL, "agent name longer than 200 bytes");
        return false;
    }
    if (memchr(agent.ptr, '\0', agent.len) != NULL) {
        am__fail(&AM__ERR(m), AM_EINVAL, "agent name contains a NUL byte");
        return false;
    }
    if (!am__utf8_valid(agent.ptr, agent.len, &bad)) {
        am__fail(&AM__ERR(m), AM_EINVAL, "agent name: invalid UTF-8 at byte "
                 "%zu", bad);
        return false;
    }
    return true;
}

/* Get or create the slot of `agent`; with `ret` >= 0 set its policy.
 * Caller holds m->mu. */
static am_status get_slot(am_convmgr *m, am_str agent, int ret,
                          slot **out)
{
    bool found;
    size_t at;
    slot *s;
    am_status st;
    am_retention want;

    if (!valid_name(m, agent))
        return AM_EINVAL;
    at = find(m, agent, &found);
    want = ret >= 0 ? (am_retention)ret : m->opts.default_retention;
    if (want == AM_RETAIN_PERSISTENT && m->dir == NULL &&
        (!found || ret >= 0))
        return am__fail(&AM__ERR(m), AM_EINVAL, "agent '%.*s': persistent "
                        "retention needs a directory (opts.dir)",
                        (int)agent.len, agent.ptr);
    if (found) {
        s = m->slots[at];
        if (ret >= 0 && s->ret != want) {
            if (want == AM_RETAIN_PERSISTENT) {
                if ((st = make_persistent(m, s, &AM__ERR(m))) != AM_OK)
                    return st;
            } else if (s->ret == AM_RETAIN_PERSISTENT) {
                stop_persistent(s);
            }
            s->ret = want;
        }
        *out = s;
        return AM_OK;
    }
    if ((st = slot_new(m, agent, want, &s, &AM__ERR(m))) != AM_OK)
        return st;
    if (want == AM_RETAIN_PERSISTENT &&
        (st = make_persistent(m, s, &AM__ERR(m))) != AM_OK) {
        slot_free(s);
        return st;
    }
    if ((st = insert(m, at, s, &AM__ERR(m))) != AM_OK) {
        if (s->log != NULL)
            stop_persistent(s);
        slot_free(s);
        return st;
    }
    *out = s;
    return AM_OK;
}

/* ---- Opening: restore every log in the directory ---- */

static am_status restore(am_convmgr *m, am_error *err)
{
    DIR *d = opendir(m->dir);
    struct dirent *e;
    am_status st = AM_OK;

    if (d == NULL)
        return am__fail(err, AM_EIO, "cannot open directory '%s': %s",
                        m->dir, strerror(errno));
    while (st == AM_OK && (e = readdir(d)) != NULL) {
        size_t nl = strlen(e->d_name), psize = strlen(m->dir) + nl + 2;
        char *path;
        size_t dropped;
        slot *s = NULL;
        am__convlog *log = NULL;
        bool found;
        size_t at;

        if (nl <= strlen(LOG_EXT) ||
            strcmp(e->d_name + nl - strlen(LOG_EXT), LOG_EXT) != 0)
            continue;
        path = am__alloc(m->opts.alloc, psize);
        if (path == NULL) {
            st = am__fail(err, AM_ENOMEM, "out of memory");
            break;
        }
        snprintf(path, psize, "%s/%s", m->dir, e->d_name);
        /* The slot's conversation is filled by the replay (no hook yet). */
        st = slot_new(m, AM_STR("?"), AM_RETAIN_PERSISTENT, &s, err);
        if (st == AM_OK)
            st = am__convlog_open(path, s->conv, !m->opts.no_sync, &log,
                                  &dropped, err);
        am__free(m->opts.alloc, path, psize);
        if (st == AM_OK) {
            s->log = log;
            if (slot_rename(s, am__convlog_agent(log)) != AM_OK)
                st = am__fail(err, AM_ENOMEM, "out of memory");
        }
        if (st == AM_OK) {
            at = find(m, (am_str){ s->name, s->name_len }, &found);
            if (found)
                st = am__fail(err, AM_EFORMAT, "two logs in '%s' for agent "
                              "'%s'", m->dir, s->name);
            else
                st = insert(m, at, s, err);
        }
        if (st != AM_OK) {
            slot_free(s);
            break;
        }
        s->conv->hook = log_hook;
        s->conv->hook_ctx = s;
    }
    closedir(d);
    return st;
}

am_status am_convmgr_open(const am_convmgr_opts *opts, am_convmgr **out,
                          am_error *err)
{
    am_convmgr_opts d = am_convmgr_opts_default();
    am_convmgr *m;
    am_status st;

    if (out == NULL)
        return am__fail(err, AM_EINVAL, "am_convmgr_open: NULL out");
    *out = NULL;
    if (opts == NULL)
        opts = &d;
    if ((unsigned)opts->default_retention > AM_RETAIN_PERSISTENT)
        return am__fail(err, AM_EINVAL, "unknown default retention %d",
                        (int)opts->default_retention);
    if (opts->default_retention == AM_RETAIN_PERSISTENT && opts->dir == NULL)
        return am__fail(err, AM_EINVAL, "persistent retention needs a "
                        "directory (opts.dir)");
    m = am__calloc(opts->alloc, 1, sizeof *m);
    if (m == NULL)
        return am__fail(err, AM_ENOMEM, "out of memory");
    if (am__handle_sync_init(&m->errs, &m->mu, opts->alloc, false) != AM_OK) {
        am__free(opts->alloc, m, sizeof *m);
        return am__fail(err, AM_ENOMEM, "cannot create a mutex");
    }
    m->opts = *opts;
    if (opts->dir != NULL) {
        m->dir_len = strlen(opts->dir);
        m->dir = am__strndup(opts->alloc, opts->dir, m->dir_len);
        if (m->dir == NULL) {
            am_convmgr_close(m);
            return am__fail(err, AM_ENOMEM, "out of memory");
        }
        m->opts.dir = m->dir;
        if ((st = am__mkdir_p(opts->alloc, m->dir, err)) != AM_OK ||
            (st = restore(m, err)) != AM_OK) {
            am_convmgr_close(m);
            return st;
        }
    }
    *out = m;
    return AM_OK;
}

void am_convmgr_close(am_convmgr *mgr)
{
    if (mgr == NULL)
        return;
    for (size_t i = 0; i < mgr->count; i++)
        slot_free(mgr->slots[i]);
    am__free(mgr->opts.alloc, mgr->slots, mgr->cap * sizeof *mgr->slots);
    if (mgr->dir != NULL)
        am__free(mgr->opts.alloc, mgr->dir, mgr->dir_len + 1);
    pthread_mutex_destroy(&mgr->mu);
    am__errtab_free(&mgr->errs);
    am__free(mgr->opts.alloc, mgr, sizeof *mgr);
}

const am_error *am_convmgr_last_error(const am_convmgr *mgr)
{
    return mgr != NULL ? am__errtab_last(&mgr->errs)
                       : am__errtab_null_handle();
}

am_status am_convmgr_get(am_convmgr *mgr, am_str agent, am_conv **out)
{
    slot *s;
    am_status st;

    if (mgr == NULL || out == NULL)
        return AM_EINVAL;
    pthread_mutex_lock(&mgr->mu);
    st = get_slot(mgr, agent, -1, &s);
    *out = st == AM_OK ? s->conv : NULL;
    pthread_mutex_unlock(&mgr->mu);
    return st;
}

bool am_convmgr_has(am_convmgr *mgr, am_str agent)
{
    bool found;
    pthread_mutex_lock(&mgr->mu);
    find(mgr, agent, &found);
    pthread_mutex_unlock(&mgr->mu);
    return found;
}

am_status am_convmgr_set_retention(am_convmgr *mgr, am_str agent,
                                   am_retention r)
{
    slot *s;
    am_status st;

    if (mgr == NULL)
        return AM_EINVAL;
    pthread_mutex_lock(&mgr->mu);
    if ((unsigned)r > AM_RETAIN_PERSISTENT)
        st = am__fail(&AM__ERR(mgr), AM_EINVAL, "unknown retention %d", (int)r);
    else
        st = get_slot(mgr, agent, (int)r, &s);
    pthread_mutex_unlock(&mgr->mu);
    return st;
}

am_retention am_convmgr_retention(am_convmgr *mgr, am_str agent)
{
    bool found;
    size_t at;
    am_retention r;

    pthread_mutex_lock(&mgr->mu);
    at = find(mgr, agent, &found);
    r = found ? mgr->slots[at]->ret : mgr->opts.default_retention;
    pthread_mutex_unlock(&mgr->mu);
    return r;
}

static am_status clear_slot(am_convmgr *m, slot *s)
{
    am_status st = am_conv_clear(s->conv);
    if (st != AM_OK)
        am__fail(&AM__ERR(m), st, "agent '%s': %s", s->name,
                 am_conv_last_error(s->conv)->msg);
    return st;
}

am_status am_convmgr_clear(am_convmgr *mgr, am_str agent)
{
    bool found;
    size_t at;
    am_status st;

    if (mgr == NULL)
        return AM_EINVAL;
    pthread_mutex_lock(&mgr->mu);
    at = find(mgr, agent, &found);
    if (!found)
        st = am__fail(&AM__ERR(mgr), AM_ENOTFOUND, "no agent '%.*s'",
                      (int)(agent.len > 100 ? 100 : agent.len), agent.ptr);
    else
        st = clear_slot(mgr, mgr->slots[at]);
    pthread_mutex_unlock(&mgr->mu);
    return st;
}

/* Clear every slot (with policy `only`, or all when only < 0); the first
 * failure is reported, the others still cleared. */
static am_status clear_where(am_convmgr *mgr, int only)
{
    am_status first = AM_OK;

    if (mgr == NULL)
        return AM_EINVAL;
    pthread_mutex_lock(&mgr->mu);
    for (size_t i = 0; i < mgr->count; i++) {
        slot *s = mgr->slots[i];
        if (only >= 0 && (int)s->ret != only)
            continue;
        {
            am_status st = clear_slot(mgr, s);
            if (first == AM_OK)
                first = st;
        }
    }
    pthread_mutex_unlock(&mgr->mu);
    return first;
}

am_status am_convmgr_clear_all(am_convmgr *mgr)
{
    return clear_where(mgr, -1);
}

am_status am_convmgr_end_run(am_convmgr *mgr)
{
    return clear_where(mgr, AM_RETAIN_SINGLE_RUN);
}

am_status am_convmgr_agents(am_convmgr *mgr, am_buf *out, size_t *count)
{
    am_status st = AM_OK;

    if (mgr == NULL || out == NULL)
        return AM_EINVAL;
    pthread_mutex_lock(&mgr->mu);
    /* Room for every name first: on failure `out` and *count are as they
     * were, never half a list. */
    {
        size_t total = 0;
        for (size_t i = 0; i < mgr->count; i++)
            total += mgr->slots[i]->name_len + 1;
        st = am_buf_reserve(out, total);
    }
    for (size_t i = 0; st == AM_OK && i < mgr->count; i++)
        st = am_buf_append(out, mgr->slots[i]->name,
                           mgr->slots[i]->name_len + 1);
    if (st == AM_OK && count != NULL)
        *count = mgr->count;
    if (st != AM_OK)
        am__fail(&AM__ERR(mgr), st, "out of memory");
    pthread_mutex_unlock(&mgr->mu);
    return st;
}
