/* srv_routes_context.c -- the stateless context operations over HTTP:
 * count tokens, trim a conversation, convert between formats, price a call.
 *
 * Nothing here touches the store, so these routes need no tenant rewriting
 * and no write rights. Tokenizers are opened once per model and cached
 * (opening one reads a rank file: milliseconds we should not pay per
 * request); the cache is bounded, and a model past the bound is opened for
 * the one call and freed.
 */
#include <stdlib.h>
#include <string.h>

#include "agentmem/memconfig.h"
#include "agentmem/msg.h"
#include "agentmem/window.h"
#include "srv_int.h"

/* ---- Tokenizer cache ---- */

#define TZ_CACHE_MAX 32

struct srv_tz_cache {
    pthread_mutex_t lock;
    size_t count;
    char *names[TZ_CACHE_MAX];
    am_tokenizer *tz[TZ_CACHE_MAX];
};

am_status srv_tz_cache_create(srv_tz_cache **out)
{
    srv_tz_cache *c = calloc(1, sizeof *c);
    if (c == NULL)
        return AM_ENOMEM;
    pthread_mutex_init(&c->lock, NULL);
    *out = c;
    return AM_OK;
}

void srv_tz_cache_free(srv_tz_cache *c)
{
    if (c == NULL)
        return;
    for (size_t i = 0; i < c->count; i++) {
        free(c->names[i]);
        am_tokenizer_free(c->tz[i]);
    }
    pthread_mutex_destroy(&c->lock);
    free(c);
}

const am_tokenizer *srv_tokenizer(srv_ctx *ctx, const char *model,
                                  am_error *err)
{
    srv_tz_cache *c = ctx->tokenizers;
    am_tokenizer *tz = NULL;

    if (model == NULL || model[0] == '\0')
        model = AM_MEMORY_DEFAULT_MODEL;
    pthread_mutex_lock(&c->lock);
    for (size_t i = 0; i < c->count; i++)
        if (strcmp(c->names[i], model) == 0) {
            tz = c->tz[i];
            break;
        }
    /* Opening under the lock keeps two threads from opening one model
     * twice; it happens once per model. */
    if (tz == NULL && c->count < TZ_CACHE_MAX &&
        am_tokenizer_create(am_str_c(model), NULL, &tz, err) == AM_OK) {
        c->names[c->count] = strdup(model);
        if (c->names[c->count] == NULL) {
            am_tokenizer_free(tz);
            tz = NULL;
            err->code = AM_ENOMEM;
            snprintf(err->msg, sizeof err->msg, "out of memory");
        } else {
            c->tz[c->count++] = tz;
        }
    } else if (tz == NULL && c->count >= TZ_CACHE_MAX) {
        err->code = AM_ELIMIT;
        snprintf(err->msg, sizeof err->msg, "more than %d distinct models "
                 "in use; the tokenizer cache is full", TZ_CACHE_MAX);
    }
    pthread_mutex_unlock(&c->lock);
    return tz;
}

/* ---- Messages in and out ---- */

static bool format_of(srv_call *c, const char *field, am_format dflt,
                      am_format *out)
{
    am_str name = { NULL, 0 };
    am_error err = { AM_OK, "" };
    *out = dflt;
    if (!srv_str(c, field, false, &name))
        return false;
    if (name.ptr != NULL && am_format_parse(name, out, &err) != AM_OK)
        return srv_fail(c, 400, field, "field '%s' must be \"openai\", "
                        "\"anthropic\" or \"agentmem\"", field);
    return true;
}

static bool messages_of(srv_call *c, am_format fmt, am_msg_list *out)
{
    char *text = NULL;
    am_error err = { AM_OK, "" };
    am_status st;
    if (!srv_json_text(c, "messages", true, &text))
        return false;
    st = am_msgs_from_json(NULL, fmt, am_str_c(text), out, &err);
    free(text);
    if (st != AM_OK)
        return srv_fail(c, srv_http_status(st), "messages", "field "
                        "'messages': %s", err.msg);
    return true;
}

static json_t *messages_json(srv_call *c, const am_msg_list *l,
                             am_format fmt)
{
    am_buf out = AM_BUF_INIT;
    am_error err = { AM_OK, "" };
    json_t *v = NULL;
    am_status st = am_msgs_to_json(am_msg_list_items(l), l->count, fmt, 0,
                                   &out, &err);
    if (st != AM_OK)
        srv_fail_status(c, st, &err, "convert");
    else if ((v = json_loadb(out.ptr, out.len, JSON_ALLOW_NUL, NULL)) ==
             NULL)
        srv_fail(c, 503, NULL, "out of memory");
    am_buf_free(&out);
    return v;
}

/* ---- Routes ---- */

/* The tokenizer of the request's "model" field (absent: the default),
 * from the server's cache. False when the reply is already an error. */
static bool model_tokenizer(srv_call *c, am_str model,
                            const am_tokenizer **tz)
{
    char name[256] = "";
    am_error err = { AM_OK, "" };

    if (model.len >= sizeof name || memchr(model.ptr ? model.ptr : "", 0,
                                           model.len) != NULL)
        return srv_fail(c, 400, "model", "field 'model' is too long or "
                        "holds NUL");
    if (model.ptr != NULL)
        memcpy(name, model.ptr, model.len);
    *tz = srv_tokenizer(c->ctx, name, &err);
    if (*tz == NULL)
        return srv_fail(c, srv_http_status(err.code), "model", "field "
                        "'model': %s", err.msg);
    return true;
}

bool srv_r_tokens_count(srv_call *c)
{
    am_str model = { NULL, 0 }, text = { NULL, 0 };
    const am_tokenizer *tz;
    json_t *msgs;
    am_error err = { AM_OK, "" };
    size_t n = 0;
    am_status st;

    if (!srv_str(c, "model", false, &model) ||
        !srv_str(c, "text", false, &text))
        return false;
    msgs = json_object_get(c->body, "messages");
    if ((text.ptr == NULL) == (msgs == NULL))
        return srv_fail(c, 400, "text", "give exactly one of 'text' and "
                        "'messages'");
    if (!model_tokenizer(c, model, &tz))
        return false;
    if (text.ptr != NULL) {
        st = am_tokenizer_count(tz, text, NULL, &n, &err);
    } else {
        char *j = NULL;
        if (!srv_json_text(c, "messages", true, &j))
            return false;
        st = am_tokenizer_count_messages_json(tz, am_str_c(j), &n, &err);
        free(j);
    }
    if (st != AM_OK)
        return srv_fail(c, srv_http_status(st), text.ptr ? "text" :
                        "messages", "%s", err.msg);
    return srv_ok(c, json_pack("{s:I, s:s, s:b}", "tokens", (json_int_t)n,
                               "model", am_tokenizer_model_name(tz),
                               "exact", am_tokenizer_is_exact(tz)));
}

bool srv_r_trim(srv_call *c)
{
    am_trim_opts o = am_trim_opts_default();
    am_trim_result r = AM_TRIM_RESULT_INIT;
    am_msg_list msgs = AM_MSG_LIST_INIT;
    am_format in, out;
    am_str strategy = { NULL, 0 }, model = { NULL, 0 };
    const am_tokenizer *tz;
    am_error err = { AM_OK, "" };
    bool ok = false, keep_system = true;
    json_t *reply = NULL, *m;
    am_status st;

    if (!format_of(c, "format", AM_FORMAT_OPENAI, &in) ||
        !format_of(c, "out_format", in, &out) ||
        !srv_size(c, "max_tokens", (size_t)1 << 40, &o.max_tokens) ||
        !srv_size(c, "max_messages", (size_t)1 << 30, &o.max_messages) ||
        !srv_str(c, "strategy", false, &strategy) ||
        !srv_str(c, "model", false, &model) ||
        !srv_bool(c, "preserve_system", &keep_system) ||
        !srv_bool(c, "start_on_user", &o.start_on_user) ||
        !srv_bool(c, "allow_partial", &o.allow_partial))
        return false;
    o.preserve_system = keep_system;
    if (strategy.ptr == NULL || strcmp(strategy.ptr, "last") == 0)
        o.strategy = AM_TRIM_LAST;
    else if (strcmp(strategy.ptr, "first") == 0)
        o.strategy = AM_TRIM_FIRST;
    else if (strcmp(strategy.ptr, "tokens") == 0)
        o.strategy = AM_TRIM_TOKENS;
    else
        return srv_fail(c, 400, "strategy", "field 'strategy' must be "
                        "\"last\", \"first\" or \"tokens\"");
    if (!model_tokenizer(c, model, &tz))
        return false;
    if (!messages_of(c, in, &msgs))
        return false;
    if (out == AM_FORMAT_ANTHROPIC)
        o.start_on_user = true;   /* Anthropic requires it */
    o.counter.tokenizer = tz;
    st = am_trim(am_msg_list_items(&msgs), msgs.count, &o, &r, &err);
    if (st != AM_OK) {
        srv_fail(c, srv_http_status(st), NULL, "trim: %s", err.msg);
        goto out;
    }
    m = messages_json(c, &r.messages, out);
    if (m == NULL)
        goto out;
    reply = json_pack("{s:o, s:I, s:I, s:I, s:I}", "messages", m,
                      "kept", (json_int_t)r.messages.count,
                      "dropped", (json_int_t)r.dropped_count,
                      "tokens_before", (json_int_t)r.tokens_before,
                      "tokens_after", (json_int_t)r.tokens_after);
    ok = srv_ok(c, reply);
out:
    am_trim_result_free(&r);
    am_msg_list_free(&msgs);
    return ok;
}

bool srv_r_convert(srv_call *c)
{
    am_msg_list msgs = AM_MSG_LIST_INIT;
    am_format from, to;
    json_t *m;

    if (c->body != NULL && json_object_get(c->body, "to") == NULL)
        return srv_fail(c, 400, "to", "field 'to' is required");
    if (!format_of(c, "from", AM_FORMAT_OPENAI, &from) ||
        !format_of(c, "to", AM_FORMAT_OPENAI, &to) ||
        !messages_of(c, from, &msgs))
        return false;
    m = messages_json(c, &msgs, to);
    am_msg_list_free(&msgs);
    return m != NULL && srv_ok(c, json_pack("{s:o}", "messages", m));
}

bool srv_r_price(srv_call *c)
{
    am_str model = { NULL, 0 };
    int64_t input = 0, output = 0, cached = 0;
    am_model_info info;
    bool known;

    if (!srv_str(c, "model", true, &model) ||
        !srv_int64(c, "input_tokens", &input) ||
        !srv_int64(c, "output_tokens", &output) ||
        !srv_int64(c, "cached_input_tokens", &cached))
        return false;
    if (cached > input)
        return srv_fail(c, 400, "cached_input_tokens", "field "
                        "'cached_input_tokens' exceeds 'input_tokens'");
    known = am_models_lookup(NULL, model, &info);
    /* The catalog's provenance, as `agentmem models --json` prints it:
     * where the prices and limits come from and when they were last
     * compared with that source (null: not recorded, or never compared,
     * so the figure is approximate). */
    return srv_ok(c, json_pack("{s:s, s:b, s:f, s:f, s:f, s:f, s:I, s:I,"
                               " s:s?, s:s?, s:s?, s:s?}",
                               "model", info.name != NULL ? info.name : "",
                               "known", known,
                               "usd", am_model_cost(&info, input, cached,
                                                    output),
                               "input_per_mtok", info.input_per_mtok,
                               "output_per_mtok", info.output_per_mtok,
                               "cached_input_per_mtok",
                               info.cached_input_per_mtok,
                               "context_window",
                               (json_int_t)info.context_window,
                               "max_output", (json_int_t)info.max_output,
                               "price_source", info.price_source,
                               "price_checked", info.price_checked,
                               "limits_source", info.limits_source,
                               "limits_checked", info.limits_checked));
}
