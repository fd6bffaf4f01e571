/* llm.c -- the chat client: OpenAI-compatible Chat Completions and the
 * Anthropic Messages API over the retrying POST of http.c.
 *
 * The two protocols differ in three places, all handled here and nowhere
 * else: where the system prompt goes (a "system" message vs. a top-level
 * field), whether max_tokens is required (Anthropic: yes), and the reply
 * shape (choices[0].message.content vs. a list of content blocks). Usage is
 * normalized so that input_tokens always counts the whole prompt.
 *
 * The request body is built with jansson from the caller's borrowed
 * strings; the reply is parsed strictly: a 2xx reply that lacks what we
 * need is AM_EPROTO naming the field, with a short excerpt of the reply,
 * because a summarizer that silently got "" would lose the history.
 */
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agentmem/msg.h"
#include "core/errtab.h"
#include "core/json_glue.h"
#include "providers_int.h"

struct am_llm {
    const am_allocator *alloc;
    am_llm_kind kind;
    char *base_url, *model, *url, *auth_header, *version_header;
    char key_source[96];
    bool key_missing;
    double temperature;
    int64_t max_tokens;
    bool max_completion_tokens;
    am__http http;
    am__errtab errs;    /* error detail per thread (core/errtab.h) */
};

static const char *kind_default_url(am_llm_kind kind)
{
    return kind == AM_LLM_ANTHROPIC ? "https://api.anthropic.com"
                                    : "https://api.openai.com/v1";
}

static const char *const kind_names[] = {
    [AM_LLM_OPENAI] = "openai", [AM_LLM_ANTHROPIC] = "anthropic",
};
static const am__names kinds = AM__NAMES("provider kind", kind_names);

const char *am_llm_kind_name(am_llm_kind kind)
{
    return am__name_of(&kinds, (int)kind);
}

static bool str_eq(am_str s, const char *c)
{
    return s.len == strlen(c) && memcmp(s.ptr, c, s.len) == 0;
}

static bool is_role(am_str s, am_role want)
{
    am_role r;
    return am_role_parse(s, &r, NULL) == AM_OK && r == want;
}

am_status am_llm_kind_parse(am_str name, am_llm_kind *out, am_error *err)
{
    static const char *const openai[] = { "openai", "openai-compatible",
                                          "ollama", "vllm", "llamacpp",
                                          "llama.cpp", "lmstudio" };
    for (size_t i = 0; i < sizeof openai / sizeof openai[0]; i++)
        if (str_eq(name, openai[i])) {
            *out = AM_LLM_OPENAI;
            return AM_OK;
        }
    if (str_eq(name, "anthropic")) {
        *out = AM_LLM_ANTHROPIC;
        return AM_OK;
    }
    return am__fail(err, AM_EINVAL, "unknown provider kind '%.*s' (expected "
                    "openai, anthropic, openai-compatible, ollama, vllm, "
                    "llamacpp, llama.cpp or lmstudio)",
                    (int)(name.len > 64 ? 64 : name.len),
                    name.ptr != NULL ? name.ptr : "");
}

am_llm_opts am_llm_opts_default(void)
{
    am_llm_opts o;
    memset(&o, 0, sizeof o);
    o.kind = AM_LLM_OPENAI;
    o.temperature = -1;
    o.http = am_http_opts_default();
    return o;
}

/* ---- Create and free ---- */

static void free_str(const am_allocator *a, char *s)
{
    if (s != NULL)
        am__free(a, s, strlen(s) + 1);
}

/* The handle's strings and the handle: what create's failure path and
 * am_llm_free both release (each string may be NULL). */
static void free_handle(am_llm *llm)
{
    const am_allocator *a = llm->alloc;

    free_str(a, llm->base_url);
    free_str(a, llm->model);
    free_str(a, llm->url);
    free_str(a, llm->auth_header);
    free_str(a, llm->version_header);
    am__free(a, llm, sizeof *llm);
}

static char *dup_c(const am_allocator *a, const char *s)
{
    return am__strndup(a, s, strlen(s));
}

static char *header_line(const am_allocator *a, const char *name,
                         const char *value)
{
    size_t n = strlen(name), v = strlen(value);
    char *s = am__alloc(a, n + 2 + v + 1);
    if (s == NULL)
        return NULL;
    memcpy(s, name, n);
    memcpy(s + n, ": ", 2);
    memcpy(s + n + 2, value, v + 1);
    return s;
}


am_status am_llm_create(const am_llm_opts *opts, am_llm **out,
                        am_error *err)
{
    am_llm_opts o = opts != NULL ? *opts : am_llm_opts_default();
    const am_allocator *a = am__allocator(o.alloc);
    am_status st;
    am_llm *llm;
    const char *env_name, *key = NULL, *base;

    if (out == NULL)
        return am__fail(err, AM_EINVAL, "llm: NULL out");
    *out = NULL;
    if (o.kind != AM_LLM_OPENAI && o.kind != AM_LLM_ANTHROPIC)
        return am__fail(err, AM_EINVAL, "llm: unknown kind %d", (int)o.kind);
    if (o.model == NULL || o.model[0] == '\0')
        return am__fail(err, AM_EINVAL, "llm: option 'model' is required");
    base = o.base_url != NULL ? o.base_url : kind_default_url(o.kind);
    if (!am__base_url_ok(base))
        return am__fail(err, AM_EINVAL, "llm: option 'base_url' must start "
                        "with http:// or https://, got '%s'", base);
    if (!am__utf8_valid(o.model, strlen(o.model), NULL) ||
        am__has_ctl(o.model))
        return am__fail(err, AM_EINVAL, "llm: option 'model' must be "
                        "printable UTF-8");
    if (o.max_tokens < 0)
        return am__fail(err, AM_EINVAL, "llm: option 'max_tokens' must be "
                        ">= 0, not %lld", (long long)o.max_tokens);
    if (isnan(o.temperature) || o.temperature > 2)
        return am__fail(err, AM_EINVAL, "llm: option 'temperature' must be "
                        "within 0..2 (or < 0: not sent), not %g",
                        o.temperature);

    llm = am__calloc(a, 1, sizeof *llm);
    if (llm == NULL)
        return am__fail(err, AM_ENOMEM, "llm: out of memory");
    llm->alloc = a;
    llm->kind = o.kind;
    llm->temperature = o.temperature;
    llm->max_tokens = o.max_tokens;
    llm->max_completion_tokens = o.max_completion_tokens;

    env_name = o.api_key_env != NULL ? o.api_key_env
               : o.kind == AM_LLM_ANTHROPIC ? "ANTHROPIC_API_KEY"
                                            : "OPENAI_API_KEY";
    st = am__api_key(o.api_key, env_name, "llm", llm->key_source,
                     sizeof llm->key_source, &key, err);
    if (st != AM_OK)
        goto fail;
    llm->key_missing = key == NULL;

    st = AM_ENOMEM;
    llm->base_url = dup_c(a, base);
    llm->model = dup_c(a, o.model);
    if (llm->base_url == NULL || llm->model == NULL)
        goto fail_oom;
    llm->url = am__url_join(a, base, o.kind == AM_LLM_ANTHROPIC
                                         ? "v1/messages"
                                         : "chat/completions");
    if (llm->url == NULL)
        goto fail_oom;
    if (key != NULL) {
        if (o.kind == AM_LLM_ANTHROPIC) {
            llm->auth_header = header_line(a, "x-api-key", key);
        } else {
            char *bearer = am__alloc(a, strlen(key) + 8);
            if (bearer != NULL) {
                memcpy(bearer, "Bearer ", 7);
                memcpy(bearer + 7, key, strlen(key) + 1);
                llm->auth_header = header_line(a, "Authorization", bearer);
                free_str(a, bearer);
            }
        }
        if (llm->auth_header == NULL)
            goto fail_oom;
    }
    if (o.kind == AM_LLM_ANTHROPIC) {
        const char *v = o.anthropic_version != NULL ? o.anthropic_version
                                                    : "2023-06-01";
        if (am__has_ctl(v)) {
            st = am__fail(err, AM_EINVAL, "llm: option 'anthropic_version' "
                          "contains control characters");
            goto fail;
        }
        llm->version_header = header_line(a, "anthropic-version", v);
        if (llm->version_header == NULL)
            goto fail_oom;
    }
    if (am__errtab_init(&llm->errs, a) != AM_OK)
        goto fail_oom;
    st = am__http_init(&llm->http, &o.http, a, err);
    if (st != AM_OK) {
        am__errtab_free(&llm->errs);
        goto fail;
    }
    *out = llm;
    return AM_OK;

fail_oom:
    st = am__fail(err, AM_ENOMEM, "llm: out of memory");
fail:
    free_handle(llm);
    return st;
}

void am_llm_free(am_llm *llm)
{
    if (llm == NULL)
        return;
    am__http_destroy(&llm->http);
    am__errtab_free(&llm->errs);
    free_handle(llm);
}

const char *am_llm_model(const am_llm *llm)
{
    return llm != NULL ? llm->model : "";
}

const am_error *am_llm_last_error(const am_llm *llm)
{
    return llm != NULL ? am__errtab_last(&llm->errs)
                       : am__errtab_null_handle();
}

/* ---- Request body ---- */

/* `index` SIZE_MAX: the request's system prompt, not a message. */
static am_status check_text(am_str s, const char *what, size_t index,
                            am_error *err)
{
    char where[48];
    size_t bad = 0;

    if (index == SIZE_MAX)
        snprintf(where, sizeof where, "request");
    else
        snprintf(where, sizeof where, "message %zu", index);
    if (s.len > 0 && s.ptr == NULL)
        return am__fail(err, AM_EINVAL, "llm: %s: NULL %s with length %zu",
                        where, what, s.len);
    if (!am__utf8_valid(s.ptr, s.len, &bad))
        return am__fail(err, AM_EINVAL, "llm: %s: %s is not valid UTF-8 "
                        "(byte %zu)", where, what, bad);
    return AM_OK;
}

static int set_new(json_t *obj, const char *key, json_t *v)
{
    return v == NULL ? -1 : json_object_set_new(obj, key, v);
}

static json_t *str_json(am_str s)
{
    return json_stringn_nocheck(s.ptr != NULL ? s.ptr : "", s.len);
}

/* Append `s` to the Anthropic system text (joined by a blank line). */
static am_status add_system(am_buf *sys, am_str s)
{
    if (s.len == 0)
        return AM_OK;
    if (sys->len > 0 && am_buf_append(sys, "\n\n", 2) != AM_OK)
        return AM_ENOMEM;
    return am_buf_append(sys, s.ptr, s.len);
}

static am_status build_messages(const am__llm_params *p,
                                const am_llm_request *req, json_t *msgs,
                                am_buf *sys, am_error *err)
{
    bool anthropic = p->kind == AM_LLM_ANTHROPIC;
    am_status st;

    if (req->system.len > 0) {
        st = check_text(req->system, "system prompt", SIZE_MAX, err);
        if (st != AM_OK)
            return st;
        if (anthropic) {
            if (add_system(sys, req->system) != AM_OK)
                return am__fail(err, AM_ENOMEM, "llm: out of memory");
        } else {
            json_t *m = json_object();
            if (m == NULL || json_array_append_new(msgs, m) != 0 ||
                set_new(m, "role", json_string("system")) != 0 ||
                set_new(m, "content", str_json(req->system)) != 0)
                return am__fail(err, AM_ENOMEM, "llm: out of memory");
        }
    }

    if (req->msgs == NULL) {
        json_t *raw = NULL;
        am_error perr = { AM_OK, "" };
        size_t i;
        json_t *m;

        if (am__json_parse(req->messages_json, "llm: messages_json", &raw,
                           &perr) != AM_OK)
            return am__fail(err, perr.code == AM_ENOMEM ? AM_ENOMEM
                                                        : AM_EINVAL,
                            "%s", perr.msg);
        if (!json_is_array(raw)) {
            json_decref(raw);
            return am__fail(err, AM_EINVAL, "llm: messages_json must be a "
                            "JSON array of messages");
        }
        json_array_foreach(raw, i, m) {
            json_t *role = json_object_get(m, "role");
            json_t *content = json_object_get(m, "content");
            if (!json_is_object(m) || !json_is_string(role)) {
                json_decref(raw);
                return am__fail(err, AM_EINVAL, "llm: messages_json[%zu] "
                                "must be an object with a string 'role'", i);
            }
            if (anthropic && is_role(am__json_str(role), AM_ROLE_SYSTEM) &&
                json_is_string(content)) {
                if (add_system(sys, am__json_str(content)) != AM_OK) {
                    json_decref(raw);
                    return am__fail(err, AM_ENOMEM, "llm: out of memory");
                }
                continue;
            }
            if (json_array_append(msgs, m) != 0) {
                json_decref(raw);
                return am__fail(err, AM_ENOMEM, "llm: out of memory");
            }
        }
        json_decref(raw);
        if (json_array_size(msgs) == 0)
            return am__fail(err, AM_EINVAL, "llm: messages_json has no "
                            "messages to send");
        return AM_OK;
    }

    for (size_t i = 0; i < req->count; i++) {
        const am_llm_msg *in = &req->msgs[i];
        am_role r;
        /* The wire's roles are am_role's, less "tool" (it needs the
         * call's id: messages_json), plus OpenAI's "developer". */
        bool known = am_role_parse(in->role, &r, NULL) == AM_OK;
        bool is_system = known && r == AM_ROLE_SYSTEM;
        json_t *m;

        st = check_text(in->role, "role", i, err);
        if (st == AM_OK)
            st = check_text(in->content, "content", i, err);
        if (st != AM_OK)
            return st;
        if (!(known && r != AM_ROLE_TOOL) &&
            (anthropic || !str_eq(in->role, "developer"))) {
            char role[40];
            am__excerpt(in->role, 24, role, sizeof role);
            return am__fail(err, AM_EINVAL, "llm: message %zu: role '%s' "
                            "is not one of system, user, assistant%s "
                            "(use messages_json for tool messages)", i, role,
                            anthropic ? "" : ", developer");
        }
        if (anthropic && is_system) {
            if (add_system(sys, in->content) != AM_OK)
                return am__fail(err, AM_ENOMEM, "llm: out of memory");
            continue;
        }
        m = json_object();
        if (m == NULL || json_array_append_new(msgs, m) != 0 ||
            set_new(m, "role", str_json(in->role)) != 0 ||
            set_new(m, "content", str_json(in->content)) != 0)
            return am__fail(err, AM_ENOMEM, "llm: out of memory");
    }
    if (json_array_size(msgs) == 0)
        return am__fail(err, AM_EINVAL, "llm: no messages to send%s",
                        anthropic && req->count > 0
                            ? " (Anthropic needs a user message besides "
                              "the system prompt)"
                            : "");
    return AM_OK;
}

am_status am__llm_build_body(const am__llm_params *p,
                             const am_llm_request *req, am_buf *out,
                             am_error *err)
{
    am_status st = AM_OK;
    json_t *root = NULL, *msgs = NULL;
    am_buf sys = AM_BUF_INIT;
    int64_t max_tokens = req->max_tokens > 0 ? req->max_tokens
                                             : p->max_tokens;
    double temp = req->has_temperature ? req->temperature : p->temperature;

    sys.alloc = out->alloc;
    if (req->msgs == NULL && req->count > 0)
        return am__fail(err, AM_EINVAL, "llm: msgs is NULL with count %zu",
                        req->count);
    if (req->msgs == NULL && req->messages_json.ptr == NULL)
        return am__fail(err, AM_EINVAL, "llm: request has neither msgs nor "
                        "messages_json");
    if (req->has_temperature && !(temp >= 0 && temp <= 2))
        return am__fail(err, AM_EINVAL, "llm: temperature must be within "
                        "0..2, not %g", temp);
    if (req->max_tokens < 0)
        return am__fail(err, AM_EINVAL, "llm: max_tokens must be >= 0, not "
                        "%lld", (long long)req->max_tokens);

    root = json_object();
    msgs = json_array();
    if (root == NULL || msgs == NULL) {
        json_decref(msgs);
        st = am__fail(err, AM_ENOMEM, "llm: out of memory");
        goto out;
    }
    if (set_new(root, "model", json_string(p->model)) != 0) {
        json_decref(msgs); /* not in root yet */
        st = am__fail(err, AM_ENOMEM, "llm: out of memory");
        goto out;
    }
    /* A failed json_object_set_new releases msgs itself. */
    if (json_object_set_new(root, "messages", msgs) != 0) {
        st = am__fail(err, AM_ENOMEM, "llm: out of memory");
        goto out;
    }
    st = build_messages(p, req, msgs, &sys, err);
    if (st != AM_OK)
        goto out;
    if (p->kind == AM_LLM_ANTHROPIC) {
        if (max_tokens <= 0)
            max_tokens = 1024;
        if (sys.len > 0 &&
            set_new(root, "system",
                    json_stringn_nocheck(sys.ptr, sys.len)) != 0) {
            st = am__fail(err, AM_ENOMEM, "llm: out of memory");
            goto out;
        }
    }
    if ((max_tokens > 0 &&
         set_new(root,
                 p->kind == AM_LLM_OPENAI && p->max_completion_tokens
                     ? "max_completion_tokens"
                     : "max_tokens",
                 json_integer(max_tokens)) != 0) ||
        (temp >= 0 && set_new(root, "temperature", json_real(temp)) != 0) ||
        (p->kind == AM_LLM_OPENAI &&
         set_new(root, "stream", json_false()) != 0)) {
        st = am__fail(err, AM_ENOMEM, "llm: out of memory");
        goto out;
    }
    if (req->extra_json.ptr != NULL) {
        json_t *extra = NULL;
        am_error perr = { AM_OK, "" };
        if (am__json_parse(req->extra_json, "llm: extra_json", &extra,
                           &perr) != AM_OK) {
            st = am__fail(err, perr.code == AM_ENOMEM ? AM_ENOMEM : AM_EINVAL,
                          "%s", perr.msg);
            goto out;
        }
        if (!json_is_object(extra)) {
            json_decref(extra);
            st = am__fail(err, AM_EINVAL, "llm: extra_json must be a JSON "
                          "object");
            goto out;
        }
        if (json_object_update(root, extra) != 0) {
            json_decref(extra);
            st = am__fail(err, AM_ENOMEM, "llm: out of memory");
            goto out;
        }
        json_decref(extra);
    }
    st = am__json_dump(root, JSON_COMPACT, out, err);

out:
    json_decref(root);
    am_buf_free(&sys);
    if (st != AM_OK)
        am_buf_clear(out);
    return st;
}

/* ---- Reply ---- */

static am_status proto_error(am_error *err, am_llm_kind kind, am_str body,
                             const char *fmt, ...) AM__PRINTF(4, 5);

static am_status proto_error(am_error *err, am_llm_kind kind, am_str body,
                             const char *fmt, ...)
{
    char ex[140];
    char what[160];
    va_list ap;

    am__excerpt(body, 100, ex, sizeof ex);
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    return am__fail(err, AM_EPROTO, "%s: reply %s (reply: %s)",
                    am_llm_kind_name(kind), what, ex);
}

static am_llm_finish finish_of(const char *r)
{
    static const struct {
        const char *word;
        am_llm_finish f;
    } map[] = {
        { "stop", AM_LLM_FINISH_STOP },
        { "end_turn", AM_LLM_FINISH_STOP },
        { "stop_sequence", AM_LLM_FINISH_STOP },
        { "pause_turn", AM_LLM_FINISH_STOP },
        { "length", AM_LLM_FINISH_LENGTH },
        { "max_tokens", AM_LLM_FINISH_LENGTH },
        { "model_context_window_exceeded", AM_LLM_FINISH_LENGTH },
        { "tool_calls", AM_LLM_FINISH_TOOL },
        { "function_call", AM_LLM_FINISH_TOOL },
        { "tool_use", AM_LLM_FINISH_TOOL },
        { "content_filter", AM_LLM_FINISH_FILTER },
        { "refusal", AM_LLM_FINISH_FILTER },
    };
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (strcmp(r, map[i].word) == 0)
            return map[i].f;
    return AM_LLM_FINISH_UNKNOWN;
}

static int64_t int_field(const json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    if (json_is_integer(v) && json_integer_value(v) >= 0)
        return json_integer_value(v);
    if (json_is_real(v) && json_real_value(v) >= 0)
        return am__i64_clamp(json_real_value(v), 0, INT64_MAX);
    return 0;
}

static void copy_cstr(char *dst, size_t cap, const json_t *v)
{
    if (json_is_string(v))
        am__excerpt(am__json_str(v), cap - 5, dst, cap);
}

/* Concatenate the text blocks of a content array (Anthropic blocks, or
 * OpenAI content parts). Other block types (tool_use, thinking) skipped. */
static am_status append_text_blocks(const json_t *arr, am_buf *text,
                                    am_llm_kind kind, am_str body,
                                    const char *field, am_error *err)
{
    size_t i;
    json_t *b;
    char name[64];

    json_array_foreach(arr, i, b) {
        json_t *type = json_object_get(b, "type");
        json_t *t;
        if (!json_is_object(b) || !json_is_string(type)) {
            snprintf(name, sizeof name, "%s[%zu].type", field, i);
            return proto_error(err, kind, body, "lacks field '%s'", name);
        }
        if (strcmp(json_string_value(type), "text") != 0)
            continue;
        t = json_object_get(b, "text");
        if (!json_is_string(t)) {
            snprintf(name, sizeof name, "%s[%zu].text", field, i);
            return proto_error(err, kind, body, "lacks string field '%s'",
                               name);
        }
        if (am_buf_append(text, json_string_value(t),
                          json_string_length(t)) != AM_OK)
            return am__fail(err, AM_ENOMEM, "llm: out of memory");
    }
    return AM_OK;
}

/* The reply's top-level array `name` into *out; a reply that is an error
 * object is told apart from one that merely lacks the field. */
static am_status top_array(const json_t *root, const char *name,
                           am_llm_kind k, am_str body, json_t **out,
                           am_error *err)
{
    json_t *arr = json_object_get(root, name);

    if (arr == NULL) {
        if (json_object_get(root, "error") != NULL)
            return proto_error(err, k, body, "is an error object");
        return proto_error(err, k, body, "lacks field '%s'", name);
    }
    if (!json_is_array(arr))
        return proto_error(err, k, body, "field '%s' is not an array", name);
    *out = arr;
    return AM_OK;
}

static am_status parse_openai(const json_t *root, am_str body, am_buf *text,
                              am_llm_result *res, am_error *err)
{
    const am_llm_kind k = AM_LLM_OPENAI;
    json_t *choices = NULL;
    json_t *c0, *msg, *content, *fr, *usage;
    am_status st = top_array(root, "choices", k, body, &choices, err);

    if (st != AM_OK)
        return st;
    if (json_array_size(choices) == 0)
        return proto_error(err, k, body, "field '%s' is empty", "choices");
    c0 = json_array_get(choices, 0);
    msg = json_object_get(c0, "message");
    if (!json_is_object(msg))
        return proto_error(err, k, body, "lacks object field '%s'",
                           "choices[0].message");
    fr = json_object_get(c0, "finish_reason");
    if (json_is_string(fr)) {
        copy_cstr(res->finish_reason, sizeof res->finish_reason, fr);
        res->finish = finish_of(json_string_value(fr));
    }
    content = json_object_get(msg, "content");
    if (json_is_string(content)) {
        if (am_buf_append(text, json_string_value(content),
                          json_string_length(content)) != AM_OK)
            return am__fail(err, AM_ENOMEM, "llm: out of memory");
    } else if (json_is_array(content)) {
        st = append_text_blocks(content, text, k, body,
                                "choices[0].message.content", err);
        if (st != AM_OK)
            return st;
    } else if (!((content == NULL || json_is_null(content)) &&
                 (json_object_get(msg, "tool_calls") != NULL ||
                  json_object_get(msg, "refusal") != NULL ||
                  res->finish == AM_LLM_FINISH_TOOL))) {
        return proto_error(err, k, body, "lacks string field '%s'",
                           "choices[0].message.content");
    }
    {
        /* Structured-output refusals come as message.refusal, with the
         * finish reason still "stop": report them as FILTER. */
        json_t *refusal = json_object_get(msg, "refusal");
        if (json_is_string(refusal) && json_string_length(refusal) > 0)
            res->finish = AM_LLM_FINISH_FILTER;
    }
    usage = json_object_get(root, "usage");
    if (json_is_object(usage)) {
        json_t *det = json_object_get(usage, "prompt_tokens_details");
        res->usage.reported = true;
        res->usage.input_tokens = int_field(usage, "prompt_tokens");
        res->usage.output_tokens = int_field(usage, "completion_tokens");
        if (json_is_object(det))
            res->usage.cached_tokens = int_field(det, "cached_tokens");
    }
    return AM_OK;
}

static am_status parse_anthropic(const json_t *root, am_str body,
                                 am_buf *text, am_llm_result *res,
                                 am_error *err)
{
    const am_llm_kind k = AM_LLM_ANTHROPIC;
    json_t *content = NULL;
    json_t *sr = json_object_get(root, "stop_reason");
    json_t *usage = json_object_get(root, "usage");
    am_status st = top_array(root, "content", k, body, &content, err);

    if (st != AM_OK)
        return st;
    st = append_text_blocks(content, text, k, body, "content", err);
    if (st != AM_OK)
        return st;
    if (json_is_string(sr)) {
        copy_cstr(res->finish_reason, sizeof res->finish_reason, sr);
        res->finish = finish_of(json_string_value(sr));
    }
    if (json_is_object(usage)) {
        int64_t read = int_field(usage, "cache_read_input_tokens");
        int64_t made = int_field(usage, "cache_creation_input_tokens");
        res->usage.reported = true;
        res->usage.input_tokens = int_field(usage, "input_tokens") + read +
                                  made;
        res->usage.output_tokens = int_field(usage, "output_tokens");
        res->usage.cached_tokens = read;
    }
    return AM_OK;
}

am_status am__llm_parse_reply(am_llm_kind kind, am_str body, am_buf *text,
                              am_llm_result *res, am_error *err)
{
    json_t *root = NULL;
    am_error perr = { AM_OK, "" };
    am_status st;

    am_buf_clear(text);
    if (am__json_parse(body, "reply", &root, &perr) != AM_OK) {
        char ex[140];
        if (perr.code == AM_ENOMEM)
            return am__fail(err, AM_ENOMEM, "llm: out of memory");
        am__excerpt(body, 100, ex, sizeof ex);
        return am__fail(err, AM_EPROTO, "%s: reply is not JSON: %s "
                        "(reply: %s)", am_llm_kind_name(kind),
                        perr.msg + 7 /* skip "reply: " */, ex);
    }
    if (!json_is_object(root)) {
        st = proto_error(err, kind, body, "is not a JSON object%s", "");
        goto out;
    }
    copy_cstr(res->model, sizeof res->model, json_object_get(root, "model"));
    st = kind == AM_LLM_ANTHROPIC ? parse_anthropic(root, body, text, res,
                                                    err)
                                  : parse_openai(root, body, text, res, err);
    if (st == AM_OK && am_buf_reserve(text, 0) != AM_OK)
        st = am__fail(err, AM_ENOMEM, "llm: out of memory");
    if (st == AM_OK)
        text->ptr[text->len] = '\0';
out:
    json_decref(root);
    if (st != AM_OK)
        am_buf_clear(text);
    return st;
}

/* ---- The call ---- */

am_status am_llm_chat(am_llm *llm, const am_llm_request *req, am_buf *text,
                      am_llm_result *res)
{
    am_status st;
    am_llm_result local;
    am_buf body = AM_BUF_INIT, reply = AM_BUF_INIT;
    am__http_outcome oc = { 0, 0 };
    am__llm_params p;
    const char *headers[2];
    size_t nh = 0;
    am__http_call call;
    int64_t t0 = am__mono_ns();

    if (res == NULL)
        res = &local;
    memset(res, 0, sizeof *res);
    if (llm == NULL || req == NULL || text == NULL)
        return am__fail(&res->error, AM_EINVAL, "llm: NULL %s",
                        llm == NULL ? "llm" : req == NULL ? "request"
                                                          : "text");
    am_buf_clear(text);
    body.alloc = llm->alloc;
    reply.alloc = llm->alloc;

    p.kind = llm->kind;
    p.model = llm->model;
    p.temperature = llm->temperature;
    p.max_tokens = llm->max_tokens;
    p.max_completion_tokens = llm->max_completion_tokens;
    st = am__llm_build_body(&p, req, &body, &res->error);
    if (st != AM_OK)
        goto out;

    if (llm->auth_header != NULL)
        headers[nh++] = llm->auth_header;
    if (llm->version_header != NULL)
        headers[nh++] = llm->version_header;
    call.provider = am_llm_kind_name(llm->kind);
    call.url = llm->url;
    call.headers = headers;
    call.header_count = nh;
    call.body = am_buf_str(&body);
    call.model = llm->model;
    call.key_source = llm->key_source;
    call.key_missing = llm->key_missing;
    call.stop = req->should_stop;
    call.stop_ctx = req->stop_ctx;
    st = am__http_post(&llm->http, &call, &reply, &oc, &res->error);
    res->http_status = oc.http_status;
    res->attempts = oc.attempts;
    if (st != AM_OK)
        goto out;
    st = am__llm_parse_reply(llm->kind, am_buf_str(&reply), text, res,
                             &res->error);
    if (st == AM_OK && req->raw_reply != NULL) {
        am_buf_clear(req->raw_reply);
        if (am_buf_append(req->raw_reply, reply.ptr, reply.len) != AM_OK)
            st = am__fail(&res->error, AM_ENOMEM, "llm: out of memory");
    }

out:
    res->elapsed_ms = (am__mono_ns() - t0) / 1000000;
    if (st != AM_OK) {
        am_buf_clear(text);
        am__error_copy(&AM__ERR(llm), &res->error);
    } else {
        am_error_clear(&res->error);
    }
    am_buf_free(&body);
    am_buf_free(&reply);
    return st;
}

static const am_llm_msg no_msg;

am_status am_llm_chat_msgs(am_llm *llm, const am_llm_msg *msgs, size_t count,
                           am_buf *text, am_llm_result *res)
{
    am_llm_request req;
    memset(&req, 0, sizeof req);
    req.msgs = msgs;
    req.count = count;
    if (msgs == NULL && count == 0)
        req.msgs = &no_msg; /* "no messages to send", not "no request" */
    return am_llm_chat(llm, &req, text, res);
}
