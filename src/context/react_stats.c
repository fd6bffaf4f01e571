/* react_stats.c -- statistics and pruning of a ReAct memory.
 *
 * Both read every record: the statistics count them (per role, per step
 * type, success rate, sizes) and print the same figures as JSON; pruning
 * keeps system messages and the last N others (dropping exact duplicates),
 * and the last N tool executions and steps.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "agentmem/msg.h"
#include "react_int.h"

/* ---- Statistics ---- */

static size_t tool_bytes(const rtool *t)
{
    return t->tool.len + t->params.len + t->result.len + t->error.len;
}

static void am_react_stats_get_locked(const am_react *m, am_react_stats *s)
{
    /* Per am_role: the count and the content bytes of its messages. A
     * role the enum does not name is in `messages` only. */
    size_t count[AM_ROLE_COUNT] = { 0 }, len[AM_ROLE_COUNT] = { 0 };
    size_t ulen, alen, slen, tlen, ok = 0, mb = 0, tb = 0, rb = 0;
    double dur = 0;

    memset(s, 0, sizeof *s);
    if (m == NULL)
        return;
    s->messages = m->d.nmsgs;
    for (size_t i = 0; i < m->d.nmsgs; i++) {
        const rmsg *x = &m->d.msgs[i];
        am_role r;
        mb += x->content.len;
        if (am_role_parse(am__react_ostr_view(&x->role), &r, NULL) == AM_OK) {
            count[r]++;
            len[r] += x->content.len;
        }
    }
    s->user = count[AM_ROLE_USER], ulen = len[AM_ROLE_USER];
    s->assistant = count[AM_ROLE_ASSISTANT], alen = len[AM_ROLE_ASSISTANT];
    s->system = count[AM_ROLE_SYSTEM], slen = len[AM_ROLE_SYSTEM];
    s->tool = count[AM_ROLE_TOOL], tlen = len[AM_ROLE_TOOL];
    s->user_avg_len = s->user ? (double)ulen / (double)s->user : 0;
    s->assistant_avg_len =
        s->assistant ? (double)alen / (double)s->assistant : 0;
    s->system_avg_len = s->system ? (double)slen / (double)s->system : 0;
    s->tool_avg_len = s->tool ? (double)tlen / (double)s->tool : 0;
    s->tool_executions = m->d.ntools;
    for (size_t i = 0; i < m->d.ntools; i++) {
        ok += m->d.tools[i].success;
        dur += (double)m->d.tools[i].dur_us;
        tb += tool_bytes(&m->d.tools[i]);
    }
    if (m->d.ntools > 0) {
        s->tool_success_rate = (double)ok / (double)m->d.ntools;
        s->avg_execution_us = dur / (double)m->d.ntools;
    }
    s->steps = m->d.nsteps;
    for (size_t i = 0; i < m->d.nsteps; i++) {
        rb += m->d.steps[i].content.len;
        switch (m->d.steps[i].type) {
        case AM_STEP_THINK: s->think_steps++; break;
        case AM_STEP_ACT: s->act_steps++; break;
        case AM_STEP_OBSERVE: s->observe_steps++; break;
        }
    }
    s->todos = m->d.ntodos;
    for (size_t i = 0; i < m->d.ntodos; i++)
        s->todos_done += m->d.todos[i].status == AM_TODO_DONE;
    s->messages_kb = (double)mb / 1024.0;
    s->tools_kb = (double)tb / 1024.0;
    s->reasoning_kb = (double)rb / 1024.0;
    s->total_kb = s->messages_kb + s->tools_kb + s->reasoning_kb;
}

void am_react_stats_get(const am_react *m, am_react_stats *s)
{
    AM__REACT_LOCKED_VOID(m, am_react_stats_get_locked(m, s));
}

static am_status am_react_stats_json_locked(am_react *m, am_buf *out)
{
    am_react_stats s;
    json_t *root = NULL, *usage = NULL, *by_role = NULL, *dist = NULL;
    char ts[96];
    int64_t now;
    am_status st;

    if (m == NULL || out == NULL)
        return AM_EINVAL;
    am_react_stats_get(m, &s);
    usage = json_object();
    by_role = json_object();
    dist = json_object();
    if (usage == NULL || by_role == NULL || dist == NULL)
        goto nomem;
    for (size_t i = 0; i < m->d.ntools; i++) {
        char *name = m->d.tools[i].tool.p;
        json_t *c = json_object_get(usage, name);
        if (json_object_set_new(usage, name,
                                json_integer(c ? json_integer_value(c) + 1
                                               : 1)) != 0)
            goto nomem;
    }
    {
        /* The JSON lists the roles in this order (not the enum's). */
        const char *const roles[] = { am_role_name(AM_ROLE_USER),
                                      am_role_name(AM_ROLE_ASSISTANT),
                                      am_role_name(AM_ROLE_SYSTEM),
                                      am_role_name(AM_ROLE_TOOL) };
        size_t counts[4] = { s.user, s.assistant, s.system, s.tool };
        double avgs[4] = { s.user_avg_len, s.assistant_avg_len,
                           s.system_avg_len, s.tool_avg_len };
        for (int i = 0; i < 4; i++) {
            char k[32];
            if (json_object_set_new(by_role, roles[i],
                                    json_integer((json_int_t)counts[i])))
                goto nomem;
            if (counts[i] == 0)
                continue;
            snprintf(k, sizeof k, "%s_avg_length", roles[i]);
            if (json_object_set_new(by_role, k,
                                    json_real((double)(long long)(avgs[i] *
                                                                  100 + 0.5) /
                                              100)))
                goto nomem;
        }
    }
    if (s.think_steps &&
        json_object_set_new(dist, "THINK",
                            json_integer((json_int_t)s.think_steps)))
        goto nomem;
    if (s.act_steps && json_object_set_new(
                           dist, "ACT", json_integer((json_int_t)s.act_steps)))
        goto nomem;
    if (s.observe_steps &&
        json_object_set_new(dist, "OBSERVE",
                            json_integer((json_int_t)s.observe_steps)))
        goto nomem;
    now = am_clock_now(m->clock);
    {
        time_t secs = (time_t)(now / 1000);
        struct tm tmv;
        gmtime_r(&secs, &tmv);
        snprintf(ts, sizeof ts, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
                 tmv.tm_year + 1900, tmv.tm_mon + 1, tmv.tm_mday,
                 tmv.tm_hour, tmv.tm_min, tmv.tm_sec, (int)(now % 1000));
    }
    root = json_pack(
        "{s:{s:I,s:O},s:{s:I,s:f,s:f,s:O},s:{s:I,s:O},"
        "s:{s:f,s:f,s:f,s:f},s:{s:I,s:I},s:s}",
        "messages", "total_messages", (json_int_t)s.messages, "by_role",
        by_role, "tools", "total_executions", (json_int_t)s.tool_executions,
        "success_rate", s.tool_success_rate, "avg_execution_time",
        s.avg_execution_us / 1e6, "tool_usage", usage, "reasoning",
        "total_steps", (json_int_t)s.steps, "step_distribution", dist,
        "memory_size", "messages_kb", s.messages_kb, "tools_kb", s.tools_kb,
        "reasoning_kb", s.reasoning_kb, "total_kb", s.total_kb, "todos",
        "total", (json_int_t)s.todos, "done", (json_int_t)s.todos_done,
        "analysis_timestamp", ts);
    if (root == NULL)
        goto nomem;
    st = am__json_dump(root, JSON_INDENT(2), out, &AM__ERR(m));
    goto out;
nomem:
    st = am__fail(&AM__ERR(m), AM_ENOMEM, "react: out of memory");
out:
    json_decref(root);
    json_decref(usage);
    json_decref(by_role);
    json_decref(dist);
    return st;
}

am_status am_react_stats_json(am_react *m, am_buf *out)
{
    AM__REACT_LOCKED(am_status, m, am_react_stats_json_locked(m, out));
}

/* ---- Pruning ---- */

static am_status am_react_prune_locked(am_react *m, size_t max_messages,
                         size_t max_tool_execs, size_t max_steps)
{
    lists *d;
    unsigned char *keep = NULL;
    uint64_t *seen = NULL;
    size_t seen_cap = 0;

    if (m == NULL)
        return AM_EINVAL;
    d = &m->d;
    if (max_messages > 0 && d->nmsgs > 0) {
        size_t from = d->nmsgs > max_messages ? d->nmsgs - max_messages : 0;
        keep = am__calloc(m->alloc, d->nmsgs, 1);
        seen_cap = 16;
        while (seen_cap < d->nmsgs * 2)
            seen_cap *= 2;
        seen = am__calloc(m->alloc, seen_cap, sizeof *seen);
        if (keep == NULL || seen == NULL) {
            am__free(m->alloc, keep, d->nmsgs);
            am__free(m->alloc, seen, seen_cap * sizeof *seen);
            return am__fail(&AM__ERR(m), AM_ENOMEM, "react: out of memory");
        }
        /* System messages (anywhere) plus the last N, in their order;
         * then exact duplicates of (role, content) go, first copy stays.
         * A hash set of indices finds earlier copies. */
        for (size_t i = 0; i < d->nmsgs; i++) {
            const rmsg *x = &d->msgs[i];
            bool sys = am__react_ostr_eq(
                &x->role, am_str_c(am_role_name(AM_ROLE_SYSTEM)));
            uint64_t h;
            size_t slot;
            bool dup = false;
            if (!sys && i < from)
                continue;
            h = am__hash64(x->content.p, x->content.len,
                           am__hash64(x->role.p, x->role.len, 7));
            for (slot = h & (seen_cap - 1); seen[slot] != 0;
                 slot = (slot + 1) & (seen_cap - 1)) {
                const rmsg *y = &d->msgs[seen[slot] - 1];
                if (am__react_ostr_eq(&y->role,
                                      am__react_ostr_view(&x->role)) &&
                    am__react_ostr_eq(&y->content,
                                      am__react_ostr_view(&x->content))) {
                    dup = true;
                    break;
                }
            }
            if (dup)
                continue;
            seen[slot] = i + 1;
            keep[i] = 1;
        }
        size_t w = 0;
        for (size_t i = 0; i < d->nmsgs; i++) {
            if (keep[i])
                d->msgs[w++] = d->msgs[i];
            else
                am__react_msg_free(m->alloc, &d->msgs[i]);
        }
        am__free(m->alloc, keep, d->nmsgs);
        am__free(m->alloc, seen, seen_cap * sizeof *seen);
        d->nmsgs = w;
    }
    if (max_tool_execs > 0 && d->ntools > max_tool_execs) {
        size_t drop = d->ntools - max_tool_execs;
        for (size_t i = 0; i < drop; i++)
            am__react_tool_free(m->alloc, &d->tools[i]);
        memmove(d->tools, d->tools + drop, max_tool_execs * sizeof *d->tools);
        d->ntools = max_tool_execs;
    }
    if (max_steps > 0 && d->nsteps > max_steps) {
        size_t drop = d->nsteps - max_steps;
        for (size_t i = 0; i < drop; i++)
            am__react_ostr_free(m->alloc, &d->steps[i].content);
        memmove(d->steps, d->steps + drop, max_steps * sizeof *d->steps);
        d->nsteps = max_steps;
    }
    am__react_run_hooks(m, AM_REACT_EV_PRUNE);
    return AM_OK;
}

am_status am_react_prune(am_react *m, size_t max_messages,
                         size_t max_tool_execs, size_t max_steps)
{
    AM__REACT_LOCKED(am_status, m,
                     am_react_prune_locked(m, max_messages, max_tool_execs,
                                           max_steps));
}
