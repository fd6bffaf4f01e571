/* react_io.c -- export and import of a ReAct memory as one JSON document.
 *
 * Export writes every record (JSON fields as JSON values, not strings) and
 * the domain record through its type's serializer. Import builds a
 * complete second set of lists with the same record builders as the add
 * calls and swaps it in only when the whole document has been read, so a
 * bad document changes nothing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "react_int.h"

/* ---- Export ---- */

static json_t *str_json(const ostr *o)
{
    return json_stringn(o->p != NULL ? o->p : "", o->len);
}

static json_t *load_canon(const ostr *o)
{
    return json_loadb(o->p, o->len, JSON_DECODE_ANY, NULL);
}

static am_status am_react_export_locked(am_react *m, am_buf *out)
{
    json_t *root = NULL, *arr;
    am_buf dom = AM_BUF_INIT;
    am_status st = AM_OK;

    if (m == NULL || out == NULL)
        return AM_EINVAL;
    dom.alloc = m->alloc;
    root = json_object();
    if (root == NULL || json_object_set_new(root, "version",
                                            json_integer(1)) != 0)
        goto nomem;
    if ((arr = json_array()) == NULL ||
        json_object_set_new(root, "messages", arr) != 0)
        goto nomem;
    for (size_t i = 0; i < m->d.nmsgs; i++) {
        const rmsg *x = &m->d.msgs[i];
        if (json_array_append_new(
                arr, json_pack("{s:o,s:o,s:I}", "role", str_json(&x->role),
                               "content", str_json(&x->content), "ts",
                               (json_int_t)x->ts)) != 0)
            goto nomem;
    }
    if ((arr = json_array()) == NULL ||
        json_object_set_new(root, "tool_executions", arr) != 0)
        goto nomem;
    for (size_t i = 0; i < m->d.ntools; i++) {
        const rtool *t = &m->d.tools[i];
        if (json_array_append_new(
                arr,
                json_pack("{s:o,s:o,s:b,s:o,s:o,s:I,s:I}", "tool",
                          str_json(&t->tool), "params", load_canon(&t->params),
                          "success", t->success, "result",
                          load_canon(&t->result), "error", str_json(&t->error),
                          "duration_us", (json_int_t)t->dur_us, "ts",
                          (json_int_t)t->ts)) != 0)
            goto nomem;
    }
    if ((arr = json_array()) == NULL ||
        json_object_set_new(root, "reasoning", arr) != 0)
        goto nomem;
    for (size_t i = 0; i < m->d.nsteps; i++) {
        const rstep *x = &m->d.steps[i];
        if (json_array_append_new(
                arr, json_pack("{s:s,s:o,s:I}", "type",
                               am_step_type_name(x->type), "content",
                               str_json(&x->content), "ts",
                               (json_int_t)x->ts)) != 0)
            goto nomem;
    }
    if (json_object_set(root, "context", m->d.context) != 0)
        goto nomem;
    if (m->d.slots != NULL && json_object_size(m->d.slots) > 0 &&
        json_object_set(root, "slots", m->d.slots) != 0)
        goto nomem;
    if ((arr = json_array()) == NULL ||
        json_object_set_new(root, "todos", arr) != 0)
        goto nomem;
    for (size_t i = 0; i < m->d.ntodos; i++) {
        const rtodo *x = &m->d.todos[i];
        if (json_array_append_new(
                arr, json_pack("{s:o,s:o,s:s,s:i}", "id", str_json(&x->id),
                               "content", str_json(&x->content), "status",
                               am_todo_status_name(x->status), "priority",
                               x->priority)) != 0)
            goto nomem;
    }
    if (m->d.domain != NULL && m->dtype != NULL) {
        json_t *data = NULL;
        am_error e = { AM_OK, "" }; /* a callback may not write it */
        st = m->dtype->serialize(m->dtype->ctx, m->d.domain, &dom, &e);
        if (st != AM_OK) {
            am__fail(&AM__ERR(m), st, "domain '%s': serialize failed: %s",
                     m->dtype->name, e.msg);
            goto out;
        }
        st = am__react_parse_any(am_buf_str(&dom), "domain record", &data,
                                 &AM__ERR(m));
        if (st != AM_OK)
            goto out;
        if (json_object_set_new(root, "domain",
                                json_pack("{s:s,s:o}", "type",
                                          m->dtype->name, "data",
                                          data)) != 0)
            goto nomem;
    }
    st = am__json_dump(root, JSON_INDENT(1), out,
                       &AM__ERR(m));
    goto out;
nomem:
    st = am__fail(&AM__ERR(m), AM_ENOMEM, "react export: out of memory");
out:
    json_decref(root);
    am_buf_free(&dom);
    return st;
}

am_status am_react_export(am_react *m, am_buf *out)
{
    AM__REACT_LOCKED(am_status, m, am_react_export_locked(m, out));
}

/* ---- Import ---- */

static am_status field(const json_t *obj, const char *key, json_type want,
                       bool required, const char *ctx, json_t **out,
                       am_error *err)
{
    static const char *const names[] = { "an object", "an array",
                                         "a string",  "an integer",
                                         "a number",  "a boolean",
                                         "a boolean", "null" };
    json_t *v = json_object_get(obj, key);
    *out = v;
    if (v == NULL) {
        if (required)
            return am__fail(err, AM_EFORMAT, "%s.%s: missing", ctx, key);
        return AM_OK;
    }
    if (want == JSON_TRUE ? !json_is_boolean(v) : json_typeof(v) != want)
        return am__fail(err, AM_EFORMAT, "%s.%s: expected %s", ctx, key,
                        names[want]);
    return AM_OK;
}

/* ---- Sections: arrays of objects, one item at a time ---- */

/* One object of a section, `ctx` naming it ("messages[3]") for errors. */
typedef am_status (*item_fn)(am_react *m, const json_t *it, const char *ctx,
                             lists *d, am_error *err);

/* Read every object of the array `name` of `root` (absent: nothing) with
 * `fn`: the checks every section shares (an array, each item an object)
 * and the item's name in each error. */
static am_status section(am_react *m, const json_t *root, const char *name,
                         item_fn fn, lists *d, am_error *err)
{
    json_t *arr, *it;
    size_t i;
    char ctx[64];
    am_status st;

    st = field(root, name, JSON_ARRAY, false, "react import", &arr, err);
    if (st != AM_OK)
        return st;
    json_array_foreach(arr, i, it) {  /* none when absent (arr NULL) */
        snprintf(ctx, sizeof ctx, "%s[%zu]", name, i);
        if (!json_is_object(it))
            return am__fail(err, AM_EFORMAT, "%s: expected an object", ctx);
        if ((st = fn(m, it, ctx, d, err)) != AM_OK)
            return st;
    }
    return AM_OK;
}

/* "messages": role, content and time of each. */
static am_status import_message(am_react *m, const json_t *it,
                                const char *ctx, lists *d, am_error *err)
{
    json_t *role, *content, *ts;
    am_status st;

    if ((st = field(it, "role", JSON_STRING, true, ctx, &role, err)) ||
        (st = field(it, "content", JSON_STRING, true, ctx, &content, err)) ||
        (st = field(it, "ts", JSON_INTEGER, false, ctx, &ts, err)))
        return st;
    if (am__grow(m->alloc, (void **)&d->msgs, &d->capmsgs, d->nmsgs + 1,
                 sizeof *d->msgs) != AM_OK)
        return am__fail(err, AM_ENOMEM, "react import: out of memory");
    st = am__react_build_msg(m->alloc, am__json_str(role),
                             am__json_str(content),
                             ts ? json_integer_value(ts) : 0,
                             &d->msgs[d->nmsgs], ctx, err);
    if (st == AM_OK)
        d->nmsgs++;
    return st;
}

/* "tool_executions": params and result are kept as JSON text. */
static am_status import_tool(am_react *m, const json_t *it, const char *ctx,
                             lists *d, am_error *err)
{
    const am_allocator *a = m->alloc;
    json_t *tool, *params, *succ, *result, *error, *dur, *ts;
    am_react_tool_exec e;
    am_buf ptext = AM_BUF_INIT, rtext = AM_BUF_INIT;
    am_status st;

    if ((st = field(it, "tool", JSON_STRING, true, ctx, &tool, err)) ||
        (st = field(it, "success", JSON_TRUE, true, ctx, &succ, err)) ||
        (st = field(it, "error", JSON_STRING, false, ctx, &error, err)) ||
        (st = field(it, "duration_us", JSON_INTEGER, false, ctx, &dur,
                    err)) ||
        (st = field(it, "ts", JSON_INTEGER, false, ctx, &ts, err)))
        return st;
    params = json_object_get(it, "params");
    result = json_object_get(it, "result");
    memset(&e, 0, sizeof e);
    e.tool = am__json_str(tool);
    e.success = json_is_true(succ);
    e.error = error ? am__json_str(error) : (am_str){ "", 0 };
    e.duration_us = dur ? json_integer_value(dur) : 0;
    e.ts_ms = ts ? json_integer_value(ts) : 0;
    /* Not json_dumps: jansson 2.14 ignores its own buffer's failure on
     * some paths (object keys) and answers a truncated document.
     * am__json_dump checks every append. */
    ptext.alloc = a;
    rtext.alloc = a;
    st = params ? am__json_dump(params, AM__REACT_JSON_FLAGS, &ptext, err)
                : AM_OK;
    if (st == AM_OK && result)
        st = am__json_dump(result, AM__REACT_JSON_FLAGS, &rtext, err);
    if (st != AM_OK) {
        st = am__fail(err, AM_ENOMEM, "react import: out of memory");
        goto out;
    }
    e.params_json = params ? am_buf_str(&ptext) : AM_STR("{}");
    e.result_json = result ? am_buf_str(&rtext) : AM_STR("null");
    if (am__grow(a, (void **)&d->tools, &d->captools, d->ntools + 1,
                 sizeof *d->tools) != AM_OK)
        st = am__fail(err, AM_ENOMEM, "react import: out of memory");
    else
        st = am__react_build_tool(a, &e, 0, &d->tools[d->ntools], ctx, err);
    if (st == AM_OK) {
        /* An import keeps ts 0 as 0 (build_tool would stamp "now"). */
        d->tools[d->ntools].ts = e.ts_ms;
        d->ntools++;
    }
out:
    am_buf_free(&ptext);
    am_buf_free(&rtext);
    return st;
}

/* "reasoning": the THINK, ACT and OBSERVE steps. */
static am_status import_step(am_react *m, const json_t *it, const char *ctx,
                             lists *d, am_error *err)
{
    json_t *type, *content, *ts;
    int t;
    am_status st;

    if ((st = field(it, "type", JSON_STRING, true, ctx, &type, err)) ||
        (st = field(it, "content", JSON_STRING, true, ctx, &content, err)) ||
        (st = field(it, "ts", JSON_INTEGER, false, ctx, &ts, err)))
        return st;
    t = am__react_step_type_parse(am__json_str(type));
    if (t < 0)
        return am__fail(err, AM_EFORMAT,
                        "%s.type: expected THINK, ACT or OBSERVE", ctx);
    st = am__react_check_text(err, am__json_str(content), ctx);
    if (st != AM_OK)
        return st;
    if (am__grow(m->alloc, (void **)&d->steps, &d->capsteps, d->nsteps + 1,
                 sizeof *d->steps) != AM_OK ||
        am__react_ostr_set(m->alloc, &d->steps[d->nsteps].content,
                           am__json_str(content)) != AM_OK)
        return am__fail(err, AM_ENOMEM, "react import: out of memory");
    d->steps[d->nsteps].type = (am_step_type)t;
    d->steps[d->nsteps].ts = ts ? json_integer_value(ts) : 0;
    d->nsteps++;
    return AM_OK;
}

/* "todos": ids unique, statuses from the status table. */
static am_status import_todo(am_react *m, const json_t *it, const char *ctx,
                             lists *d, am_error *err)
{
    json_t *id, *content, *status, *prio;
    am_react_todo t;
    int s;
    am_status st;

    if ((st = field(it, "id", JSON_STRING, true, ctx, &id, err)) ||
        (st = field(it, "content", JSON_STRING, true, ctx, &content, err)) ||
        (st = field(it, "status", JSON_STRING, true, ctx, &status, err)) ||
        (st = field(it, "priority", JSON_INTEGER, false, ctx, &prio, err)))
        return st;
    s = am__react_todo_status_parse(am__json_str(status));
    if (s < 0)
        return am__fail(err, AM_EFORMAT, "%s.status: expected pending, "
                        "in_progress or done", ctx);
    if (am__react_todo_find(d, am__json_str(id)) != SIZE_MAX)
        return am__fail(err, AM_EFORMAT, "%s.id: duplicate id", ctx);
    t.id = am__json_str(id);
    t.content = am__json_str(content);
    t.status = (am_todo_status)s;
    t.priority = prio ? (int)json_integer_value(prio) : 0;
    if (am__grow(m->alloc, (void **)&d->todos, &d->captodos, d->ntodos + 1,
                 sizeof *d->todos) != AM_OK)
        return am__fail(err, AM_ENOMEM, "react import: out of memory");
    st = am__react_build_todo(m->alloc, &t, &d->todos[d->ntodos], ctx, err);
    if (st == AM_OK)
        d->ntodos++;
    return st;
}

/* "domain": the record, read by the domain type set on `m`. */
static am_status import_domain(am_react *m, const json_t *root, lists *d,
                               am_error *err)
{
    json_t *v;
    am_status st;

    st = field(root, "domain", JSON_OBJECT, false, "react import", &v, err);
    if (st != AM_OK)
        return st;
    if (v != NULL) {
        json_t *type, *data = json_object_get(v, "data");
        am_buf text = AM_BUF_INIT;
        am_error e = { AM_OK, "" }; /* a callback may not write it */
        if ((st = field(v, "type", JSON_STRING, true, "domain", &type, err)))
            return st;
        if (data == NULL)
            return am__fail(err, AM_EFORMAT, "domain.data: missing");
        if (m->dtype == NULL || strcmp(m->dtype->name,
                                       json_string_value(type)) != 0)
            return am__fail(err, AM_ESTATE,
                            "domain: record of type '%s' but %s%s%s is set",
                            json_string_value(type),
                            m->dtype ? "type '" : "no domain type",
                            m->dtype ? m->dtype->name : "",
                            m->dtype ? "'" : "");
        /* Not json_dumps (a truncated document when its own buffer fails
         * on some paths): every append checked. */
        text.alloc = m->alloc;
        if (am__json_dump(data, AM__REACT_JSON_FLAGS, &text, err) != AM_OK)
            return am__fail(err, AM_ENOMEM, "react import: out of memory");
        st = m->dtype->deserialize(m->dtype->ctx, am_buf_str(&text),
                                   &d->domain, &e);
        am_buf_free(&text);
        if (st != AM_OK)
            return am__fail(err, st, "domain '%s': %s", m->dtype->name,
                            e.msg[0] ? e.msg : am_status_str(st));
    }
    return AM_OK;
}

/* Read an exported document into `d`, part by part; `m` is not changed
 * (its allocator and domain type are read). */
static am_status import_doc(am_react *m, const json_t *root, lists *d,
                            am_error *err)
{
    json_t *v;
    am_status st;

    if (!json_is_object(root))
        return am__fail(err, AM_EFORMAT, "react import: expected an object");
    st = field(root, "version", JSON_INTEGER, true, "react import", &v, err);
    if (st != AM_OK)
        return st;
    if (json_integer_value(v) != 1)
        return am__fail(err, AM_EFORMAT,
                        "react import: version %lld not supported",
                        (long long)json_integer_value(v));
    if ((st = section(m, root, "messages", import_message, d, err)) ||
        (st = section(m, root, "tool_executions", import_tool, d, err)) ||
        (st = section(m, root, "reasoning", import_step, d, err)))
        return st;
    st = field(root, "context", JSON_OBJECT, false, "react import", &v, err);
    if (st != AM_OK)
        return st;
    d->context = v != NULL ? json_deep_copy(v) : json_object();
    if (d->context == NULL)
        return am__fail(err, AM_ENOMEM, "react import: out of memory");
    st = field(root, "slots", JSON_OBJECT, false, "react import", &v, err);
    if (st != AM_OK)
        return st;
    st = am__react_slots_import(v, &d->slots, err);
    if (st != AM_OK)
        return st;
    if ((st = section(m, root, "todos", import_todo, d, err)) != AM_OK)
        return st;
    return import_domain(m, root, d, err);
}

static am_status am_react_import_locked(am_react *m, am_str json)
{
    json_t *root = NULL;
    lists fresh;
    am_status st;

    if (m == NULL)
        return AM_EINVAL;
    memset(&fresh, 0, sizeof fresh);
    st = am__json_parse(json, "react import", &root, &AM__ERR(m));
    if (st != AM_OK)
        return st;
    st = import_doc(m, root, &fresh, &AM__ERR(m));
    json_decref(root);
    if (st != AM_OK) {
        am__react_lists_free(m->alloc, &fresh, m->dtype);
        return st;
    }
    am__react_lists_free(m->alloc, &m->d, m->dtype);
    m->d = fresh;
    am__react_run_hooks(m, AM_REACT_EV_IMPORT);
    return AM_OK;
}

am_status am_react_import(am_react *m, am_str json)
{
    AM__REACT_LOCKED(am_status, m, am_react_import_locked(m, json));
}
