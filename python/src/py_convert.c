/* py_convert.c -- Python messages to am_msg and back.
 *
 * Three shapes are accepted, all duck-typed so that no framework needs to
 * be installed: OpenAI-style dicts ({"role", "content", "name",
 * "tool_calls", "tool_call_id"}), agentmem.conversation.Message objects
 * (attributes role, content, name, tool_calls, tool_call_id, agent_calls,
 * structured_data, images), and LangChain-style message objects (.type of
 * "human"/"ai"/"system"/"tool", .content, .tool_calls with "args"). */
#include "py_amp.h"

#include <stdio.h>
#include <string.h>

/* Fetch field `key` of `o` (dict item or attribute) as a new reference;
 * absent or None gives *out = NULL. */
static int field(PyObject *o, int is_dict, PyObject *key, PyObject **out)
{
    PyObject *v;
    if (is_dict) {
        v = PyDict_GetItemWithError(o, key);
        if (!v) {
            *out = NULL;
            return PyErr_Occurred() ? -1 : 0;
        }
        Py_INCREF(v);
    } else {
        if (_PyObject_LookupAttr(o, key, &v) < 0)
            return -1;
        if (!v) {
            *out = NULL;
            return 0;
        }
    }
    if (v == Py_None) {
        Py_DECREF(v);
        v = NULL;
    }
    *out = v;
    return 0;
}

/* Raise for message `idx`: "messages[idx]<where>: <what>". */
static int fail(PyObject *exc, Py_ssize_t idx, const char *where,
                const char *what)
{
    PyErr_Format(exc, "messages[%zd]%s: %s", idx, where, what);
    return -1;
}

static int fail_c(Py_ssize_t idx, const char *where, const am_error *err)
{
    char buf[400];
    snprintf(buf, sizeof buf, "messages[%zd]%s: %s", idx, where, err->msg);
    amp_raise(err->code ? err->code : AM_EINVAL, buf);
    return -1;
}

/* A string field as UTF-8 (borrowed from `v`), with the field named in
 * errors. */
static int str_of(PyObject *v, Py_ssize_t idx, const char *fieldname,
                  am_str *out)
{
    if (PyUnicode_Check(v)) { /* the fast path: no error text to build */
        Py_ssize_t n;
        const char *p = PyUnicode_AsUTF8AndSize(v, &n);
        if (p) {
            out->ptr = p;
            out->len = (size_t)n;
            return 0;
        }
        PyErr_Clear();
    }
    char what[96];
    snprintf(what, sizeof what, "messages[%zd].%s", idx, fieldname);
    return amp_utf8(v, what, out);
}

static int json_of(PyObject *v, int str_is_json, Py_ssize_t idx,
                   const char *fieldname, PyObject **keep, am_str *out);

typedef am_status (*str_setter)(am_msg *, am_str, am_error *);

/* A string field of message `idx` put into `msg` with `set` (an empty
 * string skipped when `skip_empty`): `fieldname` is the field as Python
 * named it, `where` its path in C errors (".id"). */
static int set_str(am_msg *msg, PyObject *v, Py_ssize_t idx,
                   const char *fieldname, const char *where, str_setter set,
                   int skip_empty)
{
    am_str s;
    am_error err = { AM_OK, "" };
    if (str_of(v, idx, fieldname, &s) < 0)
        return -1;
    if ((s.len || !skip_empty) && set(msg, s, &err) != AM_OK)
        return fail_c(idx, where, &err);
    return 0;
}

/* A JSON field (any value, serialized) put into `msg` with `set`. */
static int set_json(am_msg *msg, PyObject *v, Py_ssize_t idx,
                    const char *fieldname, const char *where, str_setter set)
{
    PyObject *keep = NULL;
    am_str json;
    am_error err = { AM_OK, "" };
    int rc = json_of(v, 0, idx, fieldname, &keep, &json);
    if (rc == 0 && set(msg, json, &err) != AM_OK)
        rc = fail_c(idx, where, &err);
    Py_XDECREF(keep);
    return rc;
}

static int parse_role(PyObject *v, Py_ssize_t idx, am_role *role)
{
    am_str s;
    if (str_of(v, idx, "role", &s) < 0)
        return -1;
    static const struct {
        const char *name;
        am_role role;
    } names[] = {
        {"system", AM_ROLE_SYSTEM}, {"user", AM_ROLE_USER},
        {"assistant", AM_ROLE_ASSISTANT}, {"tool", AM_ROLE_TOOL},
        /* LangChain's .type spellings and OpenAI's newer names. */
        {"human", AM_ROLE_USER}, {"ai", AM_ROLE_ASSISTANT},
        {"developer", AM_ROLE_SYSTEM}, {"function", AM_ROLE_TOOL},
        {"AIMessageChunk", AM_ROLE_ASSISTANT},
        {"HumanMessageChunk", AM_ROLE_USER},
        {"SystemMessageChunk", AM_ROLE_SYSTEM},
        {"ToolMessageChunk", AM_ROLE_TOOL},
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (strlen(names[i].name) == s.len &&
            memcmp(names[i].name, s.ptr, s.len) == 0) {
            *role = names[i].role;
            return 0;
        }
    }
    /* PyErr_Format has no %.*s: cut the role with snprintf. */
    char got[64];
    snprintf(got, sizeof got, "%.*s", (int)(s.len > 60 ? 60 : s.len), s.ptr);
    PyErr_Format(PyExc_ValueError,
                 "messages[%zd].role: unknown role '%s' (expected system, "
                 "user, assistant or tool)", idx, got);
    return -1;
}

/* JSON text of `v`: a str is taken as JSON text already when `str_is_json`,
 * anything else goes through json.dumps. New reference (a str) in *keep. */
static int json_of(PyObject *v, int str_is_json, Py_ssize_t idx,
                   const char *fieldname, PyObject **keep, am_str *out)
{
    if (str_is_json && PyUnicode_Check(v)) {
        Py_INCREF(v);
        *keep = v;
    } else {
        *keep = amp_json_dumps(v);
        if (!*keep) {
            PyErr_Clear();
            char what[128];
            snprintf(what, sizeof what, "%s is not JSON-serializable",
                     fieldname);
            return fail(PyExc_TypeError, idx, "", what);
        }
    }
    return str_of(*keep, idx, fieldname, out);
}

static int add_part(am_msg *msg, PyObject *p, Py_ssize_t idx, Py_ssize_t j)
{
    char where[48];
    snprintf(where, sizeof where, ".content[%zd]", j);
    am_part part;
    memset(&part, 0, sizeof part);
    am_error err = { AM_OK, "" };
    PyObject *keep = NULL, *keep2 = NULL, *v = NULL;
    int rc = -1;
    if (PyUnicode_Check(p)) {
        part.type = AM_PART_TEXT;
        if (str_of(p, idx, "content", &part.text) < 0)
            return -1;
        goto add;
    }
    if (!PyDict_Check(p))
        return fail(PyExc_TypeError, idx, where,
                    "a content part must be a str or a dict");
    if (field(p, 1, amp_k_type, &v) < 0)
        return -1;
    am_str type = {"text", 4};
    if (v && str_of(v, idx, "content.type", &type) < 0)
        goto out;
#define IS(lit) (type.len == sizeof(lit) - 1 && !memcmp(type.ptr, lit, type.len))
    if (IS("text") || IS("input_text") || IS("output_text")) {
        part.type = AM_PART_TEXT;
        if (field(p, 1, amp_k_text, &keep) < 0)
            goto out;
        if (keep && str_of(keep, idx, "content.text", &part.text) < 0)
            goto out;
    } else if (IS("image_url")) {
        part.type = AM_PART_IMAGE;
        if (field(p, 1, amp_k_image_url, &keep) < 0)
            goto out;
        PyObject *url = keep;
        if (keep && PyDict_Check(keep)) {
            if (field(keep, 1, amp_k_url, &keep2) < 0)
                goto out;
            url = keep2;
        }
        if (!url) {
            fail(PyExc_ValueError, idx, where, "image_url part without url");
            goto out;
        }
        if (str_of(url, idx, "content.image_url", &part.url) < 0)
            goto out;
    } else if (IS("tool_use")) {
        part.type = AM_PART_TOOL_USE;
        PyObject *id = PyDict_GetItemWithError(p, amp_k_id);
        PyObject *name = PyDict_GetItemWithError(p, amp_k_name);
        PyObject *in = PyDict_GetItemWithError(p, amp_k_input);
        if (PyErr_Occurred())
            goto out;
        if (!id || !name) {
            fail(PyExc_ValueError, idx, where, "tool_use needs id and name");
            goto out;
        }
        if (str_of(id, idx, "content.id", &part.id) < 0 ||
            str_of(name, idx, "content.name", &part.name) < 0)
            goto out;
        if (in && json_of(in, 0, idx, "content.input", &keep, &part.json) < 0)
            goto out;
    } else if (IS("tool_result")) {
        part.type = AM_PART_TOOL_RESULT;
        PyObject *id = PyDict_GetItemWithError(p, amp_k_tool_use_id);
        PyObject *c = PyDict_GetItemWithError(p, amp_k_content);
        PyObject *e = PyDict_GetItemWithError(p, amp_k_is_error);
        if (PyErr_Occurred())
            goto out;
        if (!id) {
            fail(PyExc_ValueError, idx, where, "tool_result needs tool_use_id");
            goto out;
        }
        if (str_of(id, idx, "content.tool_use_id", &part.id) < 0)
            goto out;
        if (c && PyUnicode_Check(c)) {
            if (str_of(c, idx, "content.content", &part.text) < 0)
                goto out;
        } else if (c && c != Py_None) {
            if (json_of(c, 0, idx, "content.content", &keep, &part.json) < 0)
                goto out;
        }
        part.is_error = e && PyObject_IsTrue(e) == 1;
    } else {
        char what[120];
        snprintf(what, sizeof what, "unsupported content part type '%.*s'",
                 (int)(type.len > 40 ? 40 : type.len), type.ptr);
        fail(PyExc_ValueError, idx, where, what);
        goto out;
    }
#undef IS
add:
    if (am_msg_add_part(msg, &part, &err) != AM_OK) {
        fail_c(idx, where, &err);
        goto out;
    }
    rc = 0;
out:
    Py_XDECREF(v);
    Py_XDECREF(keep);
    Py_XDECREF(keep2);
    return rc;
}

static int set_content(am_msg *msg, PyObject *c, Py_ssize_t idx)
{
    if (PyUnicode_Check(c) || PyBytes_Check(c))
        return set_str(msg, c, idx, "content", ".content", am_msg_set_text,
                       0);
    if (PyList_Check(c) || PyTuple_Check(c)) {
        Py_ssize_t n = PySequence_Fast_GET_SIZE(c);
        PyObject **items = PySequence_Fast_ITEMS(c);
        for (Py_ssize_t j = 0; j < n; j++)
            if (add_part(msg, items[j], idx, j) < 0)
                return -1;
        return 0;
    }
    PyObject *obj = c, *conv = NULL;
    if (!PyDict_Check(c)) {
        /* Structured content objects (MessageContent) convert themselves. */
        PyObject *to_dict = NULL;
        if (_PyObject_LookupAttr(c, amp_k_to_dict, &to_dict) < 0)
            return -1;
        if (!to_dict)
            return fail(PyExc_TypeError, idx, ".content",
                        "content must be str, a list of parts, a dict or "
                        "None");
        conv = PyObject_CallNoArgs(to_dict);
        Py_DECREF(to_dict);
        if (!conv)
            return -1;
        obj = conv;
    }
    int rc = set_json(msg, obj, idx, "content", ".content",
                      am_msg_set_content_json);
    Py_XDECREF(conv);
    return rc;
}

/* ---- Tool calls and agent calls ----
 *
 * Both are read the same way: fields from a dict or an object's
 * attributes (read_tool_call, read_agent_call: the new references they
 * take go into refs[], the strings they fill borrow from them), then one
 * add on the message, whose failure names the call by its position. */

#define CALL_REFS 6

static int read_tool_call(PyObject *tc, Py_ssize_t idx, const char *where,
                          PyObject **refs, am_tool_call *call)
{
    int is_dict = PyDict_Check(tc);
    PyObject **id = &refs[0], **type = &refs[1], **fn = &refs[2],
             **name = &refs[3], **args = &refs[4], **keep = &refs[5];
    if (field(tc, is_dict, amp_k_id, id) < 0 ||
        field(tc, is_dict, amp_k_type, type) < 0 ||
        field(tc, is_dict, amp_k_function, fn) < 0)
        return -1;
    PyObject *src = tc;
    int src_dict = is_dict;
    if (*fn) { /* OpenAI: {"function": {"name", "arguments"}} */
        src = *fn;
        src_dict = PyDict_Check(*fn);
    }
    if (field(src, src_dict, amp_k_name, name) < 0 ||
        field(src, src_dict, amp_k_arguments, args) < 0)
        return -1;
    if (!*args && field(src, src_dict, amp_k_args, args) < 0) /* LangChain */
        return -1;
    if (!*id || !*name)
        return fail(PyExc_ValueError, idx, where,
                    "a tool call needs an id and a name");
    if (str_of(*id, idx, "tool_calls.id", &call->id) < 0 ||
        str_of(*name, idx, "tool_calls.name", &call->name) < 0)
        return -1;
    /* LangChain's "tool_call" type is OpenAI's "function". */
    if (*type && PyUnicode_Check(*type) &&
        PyUnicode_CompareWithASCIIString(*type, "tool_call") != 0 &&
        str_of(*type, idx, "tool_calls.type", &call->type) < 0)
        return -1;
    if (*args && json_of(*args, 1, idx, "tool_calls.arguments", keep,
                         &call->arguments) < 0)
        return -1;
    return 0;
}

static int read_agent_call(PyObject *ac, Py_ssize_t idx, const char *where,
                           PyObject **refs, am_agent_call *call)
{
    int is_dict = PyDict_Check(ac);
    PyObject **name = &refs[0], **req = &refs[1], **keep = &refs[2];
    if (field(ac, is_dict, amp_k_agent_name, name) < 0 ||
        field(ac, is_dict, amp_k_request, req) < 0)
        return -1;
    if (!*name)
        return fail(PyExc_ValueError, idx, where,
                    "an agent call needs agent_name");
    if (str_of(*name, idx, "agent_calls.agent_name", &call->agent_name) < 0)
        return -1;
    return json_of(*req ? *req : Py_None, 0, idx, "agent_calls.request",
                   keep, &call->request);
}

static int add_call(am_msg *msg, PyObject *o, Py_ssize_t idx, Py_ssize_t j,
                    int is_agent)
{
    char where[48];
    PyObject *refs[CALL_REFS] = {NULL};
    am_tool_call tc;
    am_agent_call ac;
    am_error err = { AM_OK, "" };
    memset(&tc, 0, sizeof tc);
    memset(&ac, 0, sizeof ac);
    snprintf(where, sizeof where, ".%s[%zd]",
             is_agent ? "agent_calls" : "tool_calls", j);
    int rc = is_agent ? read_agent_call(o, idx, where, refs, &ac)
                      : read_tool_call(o, idx, where, refs, &tc);
    if (rc == 0 && (is_agent ? am_msg_add_agent_call(msg, &ac, &err)
                             : am_msg_add_tool_call(msg, &tc, &err)) != AM_OK)
        rc = fail_c(idx, where, &err);
    for (int i = 0; i < CALL_REFS; i++)
        Py_XDECREF(refs[i]);
    return rc;
}

static int add_tool_call(am_msg *msg, PyObject *tc, Py_ssize_t idx,
                         Py_ssize_t j)
{
    return add_call(msg, tc, idx, j, 0);
}

static int add_agent_call(am_msg *msg, PyObject *ac, Py_ssize_t idx,
                          Py_ssize_t j)
{
    return add_call(msg, ac, idx, j, 1);
}

/* Run `add` over the list/tuple `v` (field `name`). */
static int each(am_msg *msg, PyObject *v, Py_ssize_t idx, const char *name,
                int (*add)(am_msg *, PyObject *, Py_ssize_t, Py_ssize_t))
{
    if (!PyList_Check(v) && !PyTuple_Check(v)) {
        PyErr_Format(PyExc_TypeError, "messages[%zd].%s must be a list",
                     idx, name);
        return -1;
    }
    Py_ssize_t n = PySequence_Fast_GET_SIZE(v);
    PyObject **items = PySequence_Fast_ITEMS(v);
    for (Py_ssize_t j = 0; j < n; j++)
        if (add(msg, items[j], idx, j) < 0)
            return -1;
    return 0;
}

static int add_image(am_msg *msg, PyObject *v, Py_ssize_t idx, Py_ssize_t j)
{
    return set_str(msg, v, idx, "images", ".images", am_msg_add_image, 0);
}

int amp_msg_role_of(PyObject *o, Py_ssize_t idx, am_role *out)
{
    if (o == Py_None)
        return fail(PyExc_TypeError, idx, "", "a message cannot be None");
    int is_dict = PyDict_Check(o);
    if (!is_dict && (PyUnicode_Check(o) || PyBytes_Check(o) ||
                     PyLong_Check(o) || PyFloat_Check(o) ||
                     PyList_Check(o) || PyTuple_Check(o)))
        return fail(PyExc_TypeError, idx, "",
                    "a message must be a dict or a message object "
                    "(with .role or .type, and .content)");
    PyObject *role_o = NULL;
    if (field(o, is_dict, amp_k_role, &role_o) < 0)
        return -1;
    if (!role_o && !is_dict && field(o, 0, amp_k_type, &role_o) < 0)
        return -1;
    if (!role_o)
        return fail(PyExc_ValueError, idx, "",
                    is_dict ? "the message has no 'role'"
                            : "the message has no .role or .type");
    int rc = parse_role(role_o, idx, out);
    Py_DECREF(role_o);
    return rc;
}

int amp_msg_from_py(PyObject *o, Py_ssize_t idx, am_msg **out)
{
    *out = NULL;
    am_role role;
    if (amp_msg_role_of(o, idx, &role) < 0) /* checks o's type, too */
        return -1;
    int is_dict = PyDict_Check(o);
    PyObject *v = NULL;
    am_msg *msg = NULL;
    am_error err = { AM_OK, "" };
    int rc = -1;
#define FIELD(key)                                                      \
    do {                                                                \
        Py_CLEAR(v);                                                    \
        if (field(o, is_dict, key, &v) < 0)                             \
            goto out;                                                   \
    } while (0)
    /* Text content (the common case) is built in one exact-size
     * allocation; other content is set after creation. */
    FIELD(amp_k_content);
    PyObject *content = v;
    v = NULL;
    if (content && (PyUnicode_Check(content) || PyBytes_Check(content))) {
        am_str text;
        if (str_of(content, idx, "content", &text) < 0) {
            Py_DECREF(content);
            goto out;
        }
        if (am_msg_create_text(amp_msg_opts(), role, text, &msg, &err) != AM_OK) {
            Py_DECREF(content);
            fail_c(idx, ".content", &err);
            goto out;
        }
    } else {
        if (am_msg_create(amp_msg_opts(), role, &msg, &err) != AM_OK ||
            (content && set_content(msg, content, idx) < 0)) {
            Py_XDECREF(content);
            if (!PyErr_Occurred())
                fail_c(idx, "", &err);
            goto out;
        }
    }
    Py_XDECREF(content);
    /* The id: agentmem dicts carry "id", Message objects .message_id. */
    FIELD(is_dict ? amp_k_id : amp_k_message_id);
    if (v && PyUnicode_Check(v) &&
        set_str(msg, v, idx, is_dict ? "id" : "message_id", ".id",
                am_msg_set_id, 1) < 0)
        goto out;
    FIELD(amp_k_created_ms);
    if (v && PyLong_Check(v)) {
        long long ms = PyLong_AsLongLong(v);
        if (ms == -1 && PyErr_Occurred()) {
            PyErr_Clear();
            fail(PyExc_ValueError, idx, ".created_ms", "out of range");
            goto out;
        }
        am_msg_set_created_ms(msg, (int64_t)ms, &err);
    }
    FIELD(amp_k_name);
    if (v && set_str(msg, v, idx, "name", ".name", am_msg_set_name, 0) < 0)
        goto out;
    FIELD(amp_k_tool_calls);
    if (v && each(msg, v, idx, "tool_calls", add_tool_call) < 0)
        goto out;
    FIELD(amp_k_tool_call_id);
    if (v && set_str(msg, v, idx, "tool_call_id", ".tool_call_id",
                     am_msg_set_tool_call_id, 0) < 0)
        goto out;
    FIELD(amp_k_agent_calls);
    if (v && each(msg, v, idx, "agent_calls", add_agent_call) < 0)
        goto out;
    FIELD(amp_k_structured_data);
    if (v && set_json(msg, v, idx, "structured_data", ".structured_data",
                      am_msg_set_structured_data) < 0)
        goto out;
    FIELD(amp_k_images);
    if (v && each(msg, v, idx, "images", add_image) < 0)
        goto out;
#undef FIELD
    *out = msg;
    msg = NULL;
    rc = 0;
out:
    Py_XDECREF(v);
    am_msg_free(msg);
    return rc;
}

int amp_msgs_from_py(PyObject *seq, const char *what, amp_msgs *out)
{
    out->items = NULL;
    out->count = 0;
    if (seq == Py_None || PyDict_Check(seq) || PyUnicode_Check(seq)) {
        PyErr_Format(PyExc_TypeError,
                     "%s must be a list of messages, not %.80s", what,
                     Py_TYPE(seq)->tp_name);
        return -1;
    }
    PyObject *fast = PySequence_Fast(seq, "messages must be a sequence");
    if (!fast)
        return -1;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(fast);
    PyObject **items = PySequence_Fast_ITEMS(fast);
    if (n > 0) {
        out->items = PyMem_Calloc((size_t)n, sizeof *out->items);
        if (!out->items) {
            Py_DECREF(fast);
            PyErr_NoMemory();
            return -1;
        }
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        if (amp_msg_from_py(items[i], i, &out->items[i]) < 0) {
            Py_DECREF(fast);
            amp_msgs_free(out);
            return -1;
        }
        out->count++;
    }
    Py_DECREF(fast);
    return 0;
}

void amp_msgs_free(amp_msgs *m)
{
    for (size_t i = 0; i < m->count; i++)
        am_msg_free(m->items[i]);
    PyMem_Free(m->items);
    m->items = NULL;
    m->count = 0;
}

PyObject *amp_msg_to_dict(const am_msg *msg)
{
    PyObject *d = PyDict_New();
    PyObject *v = NULL;
    if (!d)
        return NULL;
#define PUT(key, expr)                                                  \
    do {                                                                \
        v = (expr);                                                     \
        if (!v || PyDict_SetItem(d, key, v) < 0)                        \
            goto fail;                                                  \
        Py_CLEAR(v);                                                    \
    } while (0)
    PUT(amp_k_role, PyUnicode_FromString(am_role_name(am_msg_role(msg))));
    switch (am_msg_content_kind(msg)) {
    case AM_CONTENT_TEXT:
        PUT(amp_k_content, amp_pystr(am_msg_content_text(msg)));
        break;
    case AM_CONTENT_JSON:
        PUT(amp_k_content, amp_json_loads(am_msg_content_json(msg)));
        break;
    case AM_CONTENT_PARTS: {
        am_buf b = AM_BUF_INIT;
        if (am_msg_text(msg, &b) != AM_OK) {
            am_buf_free(&b);
            PyErr_NoMemory();
            goto fail;
        }
        PUT(amp_k_content, amp_pystr(am_buf_str(&b)));
        am_buf_free(&b);
        break;
    }
    default:
        PUT(amp_k_content, Py_NewRef(Py_None));
    }
    if (am_msg_name(msg).len)
        PUT(amp_k_name, amp_pystr(am_msg_name(msg)));
    if (am_msg_tool_call_id(msg).len)
        PUT(amp_k_tool_call_id, amp_pystr(am_msg_tool_call_id(msg)));
    size_t ntc = am_msg_tool_call_count(msg);
    if (ntc) {
        PyObject *list = PyList_New((Py_ssize_t)ntc);
        if (!list)
            goto fail;
        for (size_t i = 0; i < ntc; i++) {
            const am_tool_call *tc = am_msg_tool_call(msg, i);
            PyObject *fn = Py_BuildValue("{s:s#,s:s#}", "name", tc->name.ptr,
                                         (Py_ssize_t)tc->name.len,
                                         "arguments", tc->arguments.ptr,
                                         (Py_ssize_t)tc->arguments.len);
            PyObject *one = fn ? Py_BuildValue(
                "{s:s#,s:s#,s:N}", "id", tc->id.ptr, (Py_ssize_t)tc->id.len,
                "type", tc->type.ptr, (Py_ssize_t)tc->type.len, "function",
                fn) : NULL;
            if (!one) {
                Py_DECREF(list);
                goto fail;
            }
            PyList_SET_ITEM(list, (Py_ssize_t)i, one);
        }
        PUT(amp_k_tool_calls, list);
    }
#undef PUT
    return d;
fail:
    Py_XDECREF(v);
    Py_DECREF(d);
    return NULL;
}
