/* msg_set.c -- the setters of a mutable am_msg: role, id, name, time,
 * text or JSON content, parts, tool calls, agent calls, structured data,
 * images.
 *
 * A setter checks its input completely before it changes anything, then
 * copies into the message's arena; a replaced string's old bytes stay
 * until the message is freed (see msg.c), and a frozen message (shared by
 * reference) refuses every setter.
 */
#include <stdio.h>
#include <string.h>

#include "core/jscan.h"
#include "msg_int.h"

/* ---- Setters ---- */

static am_status check_mutable(const am_msg *msg, am_error *err)
{
    if (msg == NULL)
        return am__fail(err, AM_EINVAL, "NULL message");
    if (am_msg_is_frozen(msg))
        return am__fail(err, AM_ESTATE, "message %.*s is shared (frozen); "
                        "am_msg_copy() it to edit", (int)msg->f.id.len,
                        msg->f.id.ptr);
    return AM_OK;
}

static am_status set_str(am_msg *msg, am_str *slot, am_str v,
                         const char *field, am_error *err)
{
    am_status st = check_mutable(msg, err);
    bool oom = false;
    am_str c;

    if (st == AM_OK)
        st = am__msg_check_str(AM__MSG_ENV(msg), v, field, err);
    if (st != AM_OK)
        return st;
    c = am__msg_str_copy(&msg->ar, v, &oom);
    if (oom)
        return am__fail(err, AM_ENOMEM, "out of memory setting %s", field);
    *slot = c;
    return AM_OK;
}

/* Validate and compact JSON text `v` into the message's arena. */
static am_status json_copy(am_msg *msg, am_str v, const char *field,
                           am_str *out, am_error *err)
{
    am_status st = am__msg_check_str(AM__MSG_ENV(msg), v, field, err);
    am_str c;
    bool oom = false;

    if (st != AM_OK)
        return st;
    st = am__json_compact(v, field, &msg->ar, &c, err);
    if (st != AM_OK)
        return st;
    if (c.ptr == v.ptr) /* already compact: still a view of the input */
        c = am__msg_str_copy(&msg->ar, v, &oom);
    if (oom)
        return am__fail(err, AM_ENOMEM, "out of memory setting %s", field);
    *out = c;
    return AM_OK;
}

am_status am_msg_set_role(am_msg *msg, am_role role, am_error *err)
{
    am_status st = check_mutable(msg, err);
    if (st != AM_OK)
        return st;
    if ((unsigned)role >= AM_ROLE_COUNT)
        return am__fail(err, AM_EINVAL, "unknown role %d", (int)role);
    msg->f.role = role;
    return AM_OK;
}

am_status am_msg_set_id(am_msg *msg, am_str id, am_error *err)
{
    if (id.len == 0)
        return am__fail(err, AM_EINVAL, "id: must not be empty");
    return set_str(msg, &msg->f.id, id, "id", err);
}

am_status am_msg_set_name(am_msg *msg, am_str name, am_error *err)
{
    return set_str(msg, &msg->f.name, name, "name", err);
}

am_status am_msg_set_created_ms(am_msg *msg, int64_t ms, am_error *err)
{
    am_status st = check_mutable(msg, err);
    if (st == AM_OK)
        msg->f.created_ms = ms;
    return st;
}

am_status am_msg_set_text(am_msg *msg, am_str text, am_error *err)
{
    am_status st = set_str(msg, &msg->f.content, text, "content", err);
    if (st != AM_OK)
        return st;
    msg->f.kind = AM_CONTENT_TEXT;
    msg->f.nparts = 0;
    return AM_OK;
}

am_status am_msg_set_content_json(am_msg *msg, am_str json, am_error *err)
{
    am_status st = check_mutable(msg, err);
    am_str c;

    if (st != AM_OK)
        return st;
    if (json.len == 0 || json.ptr == NULL)
        return am__fail(err, AM_EINVAL, "content: empty JSON");
    st = json_copy(msg, json, "content", &c, err);
    if (st != AM_OK)
        return st;
    if (c.ptr[0] != '{')
        return am__fail(err, AM_EFORMAT, "content: structured content must "
                        "be a JSON object");
    msg->f.content = c;
    msg->f.kind = AM_CONTENT_JSON;
    msg->f.nparts = 0;
    return AM_OK;
}

/* Grow a mutable array in the arena (the old copy is left behind). */
static void *grow_array(am__arena *ar, void *old, size_t count, size_t need,
                        size_t *cap, size_t elem)
{
    size_t ncap;
    void *p;

    if (need <= *cap)
        return old;
    ncap = *cap != 0 ? *cap * 2 : 4;
    while (ncap < need)
        ncap *= 2;
    if (ncap > SIZE_MAX / elem)
        return NULL;
    p = am__arena_alloc(ar, ncap * elem);
    if (p == NULL)
        return NULL;
    if (count != 0)
        memcpy(p, old, count * elem);
    *cap = ncap;
    return p;
}

am_status am__msg_check_part(const am__msg_env *env, const am_part *p,
                             am_error *err)
{
    static const char *const names[] = { "text", "id", "name", "json",
                                         "url", "media_type", "data",
                                         "signature" };
    const am_str *fs[] = { &p->text, &p->id, &p->name, &p->json,
                           &p->url, &p->media_type, &p->data,
                           &p->signature };
    char field[48];
    am_status st;

    if ((unsigned)p->type >= AM_PART_TYPE_COUNT)
        return am__fail(err, AM_EINVAL, "part: unknown type %d",
                        (int)p->type);
    for (size_t i = 0; i < sizeof fs / sizeof fs[0]; i++) {
        snprintf(field, sizeof field, "%s part: %s",
                 am_part_type_name(p->type), names[i]);
        if ((st = am__msg_check_str(env, *fs[i], field, err)) != AM_OK)
            return st;
    }
    {
        /* Fields a type does not use must be empty, so that what goes in
         * is exactly what comes back out of JSON and the wire formats. */
        static const unsigned used[AM_PART_TYPE_COUNT] = {
            [AM_PART_TEXT] = 1u << 0,
            [AM_PART_IMAGE] = 1u << 4 | 1u << 5 | 1u << 6,
            [AM_PART_TOOL_USE] = 1u << 1 | 1u << 2 | 1u << 3,
            [AM_PART_TOOL_RESULT] = 1u << 0 | 1u << 1 | 1u << 3,
            [AM_PART_THINKING] = 1u << 0 | 1u << 7,
            [AM_PART_REDACTED_THINKING] = 1u << 6,
            [AM_PART_REASONING] = 1u << 3,
        };
        for (size_t i = 0; i < sizeof fs / sizeof fs[0]; i++)
            if (fs[i]->len != 0 && !(used[p->type] & 1u << i))
                return am__fail(err, AM_EINVAL, "%s part: field '%s' is "
                                "not used by this type",
                                am_part_type_name(p->type), names[i]);
        if (p->is_error && p->type != AM_PART_TOOL_RESULT)
            return am__fail(err, AM_EINVAL, "%s part: is_error is only for "
                            "tool_result", am_part_type_name(p->type));
    }
    switch (p->type) {
    case AM_PART_IMAGE:
        if (p->url.len == 0 && p->data.len == 0)
            return am__fail(err, AM_EINVAL, "image part: needs url or data");
        break;
    case AM_PART_TOOL_USE:
        if (p->id.len == 0 || p->name.len == 0)
            return am__fail(err, AM_EINVAL, "tool_use part: needs id and "
                            "name");
        break;
    case AM_PART_TOOL_RESULT:
        if (p->id.len == 0)
            return am__fail(err, AM_EINVAL, "tool_result part: needs the "
                            "tool_use id");
        if (p->text.len != 0 && p->json.len != 0)
            return am__fail(err, AM_EINVAL, "tool_result part: content is "
                            "text or json, not both");
        break;
    case AM_PART_REASONING:
        if (p->json.len == 0)
            return am__fail(err, AM_EINVAL, "reasoning part: needs the item "
                            "as json");
        break;
    default:
        break;
    }
    return AM_OK;
}

am_status am_msg_add_part(am_msg *msg, const am_part *part, am_error *err)
{
    am_status st = check_mutable(msg, err);
    am__arena *ar;
    am_part np;
    am_part *arr;
    bool oom = false;
    bool text_first;

    if (st != AM_OK)
        return st;
    if (part == NULL)
        return am__fail(err, AM_EINVAL, "NULL part");
    if (msg->f.kind == AM_CONTENT_JSON)
        return am__fail(err, AM_ESTATE, "content is JSON; parts cannot be "
                        "added");
    st = am__msg_check_part(AM__MSG_ENV(msg), part, err);
    if (st != AM_OK)
        return st;
    ar = &msg->ar;
    np = *part;
    if (part->json.len != 0) {
        st = json_copy(msg, part->json, "part json", &np.json, err);
        if (st != AM_OK)
            return st;
        if (part->type == AM_PART_TOOL_USE && np.json.ptr[0] != '{')
            return am__fail(err, AM_EFORMAT, "tool_use part: input must be "
                            "a JSON object");
    }
    text_first = msg->f.kind == AM_CONTENT_TEXT;
    {
        size_t cap = msg->cap_parts;
        arr = grow_array(ar, msg->f.parts, msg->f.nparts,
                         msg->f.nparts + (text_first ? 2 : 1), &cap,
                         sizeof *arr);
        if (arr == NULL)
            return am__fail(err, AM_ENOMEM, "out of memory adding a part");
        msg->cap_parts = cap;
    }
    {
        am_part copy;
        size_t n = msg->f.nparts;
        am__msg_part_copy(ar, &copy, &np, &oom);
        if (oom)
            return am__fail(err, AM_ENOMEM, "out of memory adding a part");
        if (text_first) {
            memset(&arr[n], 0, sizeof arr[n]);
            arr[n].type = AM_PART_TEXT;
            arr[n].text = msg->f.content;
            n++;
            msg->f.content.ptr = "";
            msg->f.content.len = 0;
        }
        arr[n++] = copy;
        msg->f.parts = arr;
        msg->f.nparts = n;
        msg->f.kind = AM_CONTENT_PARTS;
    }
    return AM_OK;
}

am_status am_msg_add_tool_call(am_msg *msg, const am_tool_call *tc,
                               am_error *err)
{
    am_status st = check_mutable(msg, err);
    am_tool_call c, *arr;
    bool oom = false;
    size_t cap;

    if (st != AM_OK)
        return st;
    if (tc == NULL)
        return am__fail(err, AM_EINVAL, "NULL tool call");
    const am__msg_env *env = AM__MSG_ENV(msg);
    if ((st = am__msg_check_str(env, tc->id, "tool_calls.id", err)) ||
        (st = am__msg_check_str(env, tc->type, "tool_calls.type", err)) ||
        (st = am__msg_check_str(env, tc->name, "tool_calls.name", err)) ||
        (st = am__msg_check_str(env, tc->arguments, "tool_calls.arguments",
                                err)) ||
        (st = am__msg_check_str(env, tc->call_id, "tool_calls.call_id",
                                err)))
        return st;
    if (tc->id.len == 0 || tc->name.len == 0)
        return am__fail(err, AM_EINVAL, "tool call: needs an id and a name");
    cap = msg->cap_tcs;
    arr = grow_array(&msg->ar, msg->f.tcs, msg->f.ntcs, msg->f.ntcs + 1, &cap,
                     sizeof *arr);
    if (arr == NULL)
        return am__fail(err, AM_ENOMEM, "out of memory adding a tool call");
    c.id = am__msg_str_copy(&msg->ar, tc->id, &oom);
    c.type = am__msg_str_copy(&msg->ar, tc->type.len != 0 ? tc->type
                                                   : AM_STR("function"),
                      &oom);
    c.name = am__msg_str_copy(&msg->ar, tc->name, &oom);
    c.arguments = am__msg_str_copy(&msg->ar, tc->arguments, &oom);
    c.call_id = am__msg_str_copy(&msg->ar, tc->call_id, &oom);
    if (oom)
        return am__fail(err, AM_ENOMEM, "out of memory adding a tool call");
    arr[msg->f.ntcs] = c;
    msg->f.tcs = arr;
    msg->f.ntcs++;
    msg->cap_tcs = cap;
    return AM_OK;
}

am_status am_msg_set_tool_call_id(am_msg *msg, am_str id, am_error *err)
{
    return set_str(msg, &msg->f.tool_call_id, id, "tool_call_id", err);
}

am_status am_msg_add_agent_call(am_msg *msg, const am_agent_call *call,
                                am_error *err)
{
    am_status st = check_mutable(msg, err);
    am_agent_call c, *arr;
    bool oom = false;
    size_t cap;

    if (st != AM_OK)
        return st;
    if (call == NULL)
        return am__fail(err, AM_EINVAL, "NULL agent call");
    st = am__msg_check_str(AM__MSG_ENV(msg), call->agent_name,
                           "agent_calls.agent_name", err);
    if (st != AM_OK)
        return st;
    if (call->agent_name.len == 0)
        return am__fail(err, AM_EINVAL, "agent call: needs an agent_name");
    if (call->request.len == 0)
        return am__fail(err, AM_EINVAL, "agent call: needs a request (JSON)");
    st = json_copy(msg, call->request, "agent_calls.request", &c.request,
                   err);
    if (st != AM_OK)
        return st;
    cap = msg->cap_acs;
    arr = grow_array(&msg->ar, msg->f.acs, msg->f.nacs, msg->f.nacs + 1, &cap,
                     sizeof *arr);
    if (arr == NULL)
        return am__fail(err, AM_ENOMEM, "out of memory adding an agent call");
    c.agent_name = am__msg_str_copy(&msg->ar, call->agent_name, &oom);
    if (oom)
        return am__fail(err, AM_ENOMEM, "out of memory adding an agent call");
    arr[msg->f.nacs] = c;
    msg->f.acs = arr;
    msg->f.nacs++;
    msg->cap_acs = cap;
    return AM_OK;
}

am_status am_msg_set_structured_data(am_msg *msg, am_str json, am_error *err)
{
    am_status st = check_mutable(msg, err);
    am_str c;

    if (st != AM_OK)
        return st;
    if (json.len == 0) {
        msg->f.structured.ptr = "";
        msg->f.structured.len = 0;
        return AM_OK;
    }
    st = json_copy(msg, json, "structured_data", &c, err);
    if (st == AM_OK)
        msg->f.structured = c;
    return st;
}

am_status am_msg_add_image(am_msg *msg, am_str path_or_url, am_error *err)
{
    am_status st = check_mutable(msg, err);
    am_str *arr, c;
    bool oom = false;
    size_t cap;

    if (st == AM_OK)
        st = am__msg_check_str(AM__MSG_ENV(msg), path_or_url, "images", err);
    if (st != AM_OK)
        return st;
    if (path_or_url.len == 0)
        return am__fail(err, AM_EINVAL, "images: empty path or URL");
    cap = msg->cap_images;
    arr = grow_array(&msg->ar, msg->f.images, msg->f.nimages,
                     msg->f.nimages + 1, &cap, sizeof *arr);
    if (arr == NULL)
        return am__fail(err, AM_ENOMEM, "out of memory adding an image");
    c = am__msg_str_copy(&msg->ar, path_or_url, &oom);
    if (oom)
        return am__fail(err, AM_ENOMEM, "out of memory adding an image");
    arr[msg->f.nimages] = c;
    msg->f.images = arr;
    msg->f.nimages++;
    msg->cap_images = cap;
    return AM_OK;
}

am_status am_msg_set_agent_content(am_msg *msg, const am_agent_content *ac,
                                   am_error *err)
{
    am_status st = check_mutable(msg, err);
    am_str thought, input = { "", 0 };
    bool oom = false;

    if (st != AM_OK)
        return st;
    if (ac == NULL) {
        msg->f.has_agent = false;
        return AM_OK;
    }
    if ((unsigned)ac->next_action > AM_ACTION_FINAL_RESPONSE)
        return am__fail(err, AM_EINVAL, "agent.next_action: unknown action "
                        "%d", (int)ac->next_action);
    st = am__msg_check_str(AM__MSG_ENV(msg), ac->thought, "agent.thought", err);
    if (st != AM_OK)
        return st;
    if (ac->action_input.len != 0) {
        st = json_copy(msg, ac->action_input, "agent.action_input", &input,
                       err);
        if (st != AM_OK)
            return st;
    }
    st = am__msg_agent_validate(ac->next_action, input, err);
    if (st != AM_OK)
        return st;
    thought = am__msg_str_copy(&msg->ar, ac->thought, &oom);
    if (oom)
        return am__fail(err, AM_ENOMEM, "out of memory");
    msg->f.has_agent = true;
    msg->f.thought = thought;
    msg->f.action = ac->next_action;
    msg->f.action_input = input;
    return AM_OK;
}

/* Find top-level string field `key` of the compact JSON object `obj`. */
static bool obj_has_string(am_str obj, const char *key)
{
    am__arena tmp;
    am__js js;
    bool found = false;

    am__arena_init(&tmp, NULL, 256);
    am__js_init(&js, obj, "action_input", &tmp, NULL);
    if (am__js_expect(&js, '{') != AM_OK || am__js_accept(&js, '}'))
        goto out;
    for (;;) {
        am_str k, v;
        if (am__js_string(&js, &k) != AM_OK ||
            am__js_expect(&js, ':') != AM_OK)
            break;
        if (k.len == strlen(key) && memcmp(k.ptr, key, k.len) == 0 &&
            am__js_peek(&js) == '"') {
            found = true;
            break;
        }
        if (am__js_value(&js, &v) != AM_OK || !am__js_accept(&js, ','))
            break;
    }
out:
    am__arena_free(&tmp);
    return found;
}

am_status am__msg_agent_validate(am_action action, am_str input,
                                 am_error *err)
{
    if ((unsigned)action > AM_ACTION_FINAL_RESPONSE)
        return am__fail(err, AM_EINVAL, "agent.next_action: unknown action "
                        "%d", (int)action);
    if (input.len != 0 && input.ptr[0] != '{')
        return am__fail(err, AM_EINVAL, "agent.action_input: must be a JSON "
                        "object");
    if (input.len != 0 && action == AM_ACTION_NONE)
        return am__fail(err, AM_EINVAL, "agent.next_action: required when "
                        "action_input is given");
    if (action == AM_ACTION_INVOKE_AGENT && !obj_has_string(input,
                                                           "agent_name"))
        return am__fail(err, AM_EINVAL, "agent.action_input: invoke_agent "
                        "needs a string field 'agent_name'");
    return AM_OK;
}
