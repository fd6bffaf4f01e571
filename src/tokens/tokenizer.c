/* tokenizer.c -- counting tokens for a model, and message lists.
 *
 * A tokenizer is a catalog entry plus either an encoding (exact counts) or
 * the entry's estimation rule (characters per token). Message lists are
 * counted the way OpenAI bills chat input (the cookbook's
 * num_tokens_from_messages): 3 tokens per message, the tokens of each
 * field's value, 1 more for a name, and 3 to prime the reply. That rule
 * for one am_msg is written here once (am__tokens_count_msg) over the
 * message module's text pieces; the JSON counter reads its messages with
 * the message module's reader and applies it, and so does the context
 * window.
 */
#include <assert.h>
#include <math.h>
#include <string.h>

#include "core/core.h"
#include "core/json_glue.h"
#include "msg/msg_text.h"
#include "tokens/count_msg.h"
#include "tokens/tokens_int.h"

/* The chat format's fixed costs (OpenAI's counting rule); the per
 * message, name, tool call and priming costs are in core.h, as trim.c
 * counts a message list with them too. */
#define TOKENS_PER_NAME AM__TOKENS_PER_NAME
#define REPLY_PRIMING AM__REPLY_PRIMING
#define TOKENS_PER_TOOL_CALL AM__TOKENS_PER_TOOL_CALL
#define TOKENS_PER_TOOL 8
#define TOKENS_PER_TOOL_LIST 12

struct am_tokenizer {
    const am_allocator *alloc;
    am_model_info info;
    char model[128];         /* the name asked for */
    char name[128];          /* copies, so the catalog may go away */
    char provider[32];
    char encoding_name[16];
    const am_encoding *enc;  /* NULL: estimate */
    am_encoding *owned;      /* the encoding we opened, if any */
};

am_tokenizer_opts am_tokenizer_opts_default(void)
{
    am_tokenizer_opts o;
    memset(&o, 0, sizeof o);
    return o;
}

static void copy_cstr(char *dst, size_t cap, const char *src)
{
    size_t n = src != NULL ? strlen(src) : 0;
    if (n >= cap)
        n = cap - 1;
    if (n > 0)
        memcpy(dst, src, n);
    dst[n] = '\0';
}

am_status am_tokenizer_create(am_str model, const am_tokenizer_opts *opts,
                            am_tokenizer **out, am_error *err)
{
    am_tokenizer_opts o = opts != NULL ? *opts : am_tokenizer_opts_default();
    am_tokenizer *tz;
    am_status st;
    const char *encname;

    if (out == NULL)
        return am__fail(err, AM_EINVAL, "am_tokenizer_create: NULL out");
    *out = NULL;
    if (model.ptr == NULL)
        model.len = 0;
    tz = am__calloc(o.alloc, 1, sizeof *tz);
    if (tz == NULL)
        return am__fail(err, AM_ENOMEM, "out of memory");
    tz->alloc = o.alloc;
    if (model.len > 0) {
        am_models_lookup(o.models, model, &tz->info);
    } else {
        memset(&tz->info, 0, sizeof tz->info);
        tz->info.name = "";
        tz->info.provider = "openai";
        tz->info.encoding = "o200k_base";
        tz->info.chars_per_token = 4.0;
        tz->info.context_window = 128000;
        tz->info.max_output = 16384;
        tz->info.known = true;
    }
    if (o.encoding_name != NULL)
        tz->info.encoding = o.encoding_name;
    if (model.len > 0) {
        size_t n = model.len < sizeof tz->model - 1 ? model.len
                                                    : sizeof tz->model - 1;
        memcpy(tz->model, model.ptr, n);
        tz->model[n] = '\0';
    } else {
        copy_cstr(tz->model, sizeof tz->model, tz->info.encoding);
    }
    copy_cstr(tz->name, sizeof tz->name, tz->info.name);
    copy_cstr(tz->provider, sizeof tz->provider, tz->info.provider);
    tz->info.name = tz->name;
    tz->info.provider = tz->provider;
    encname = tz->info.encoding;
    if (encname != NULL) {
        copy_cstr(tz->encoding_name, sizeof tz->encoding_name, encname);
        tz->info.encoding = tz->encoding_name;
        if (o.encoding != NULL &&
            strcmp(am_encoding_name(o.encoding), encname) == 0) {
            tz->enc = o.encoding;
        } else {
            am_encoding_opts eo = am_encoding_opts_default();
            eo.data_dir = o.data_dir;
            eo.alloc = o.alloc;
            st = am_encoding_create(encname, &eo, &tz->owned, err);
            if (st != AM_OK) {
                am__free(o.alloc, tz, sizeof *tz);
                return st;
            }
            tz->enc = tz->owned;
        }
    }
    *out = tz;
    return AM_OK;
}

void am_tokenizer_free(am_tokenizer *tz)
{
    if (tz == NULL)
        return;
    am_encoding_free(tz->owned);
    am__free(tz->alloc, tz, sizeof *tz);
}

const char *am_tokenizer_model_name(const am_tokenizer *tz)
{
    return tz != NULL ? tz->model : "";
}

bool am_tokenizer_is_exact(const am_tokenizer *tz)
{
    return tz != NULL && tz->enc != NULL;
}

void am_tokenizer_model(const am_tokenizer *tz, am_model_info *out)
{
    if (tz != NULL && out != NULL)
        *out = tz->info;
}

int64_t am_tokenizer_context_window(const am_tokenizer *tz)
{
    return tz != NULL ? tz->info.context_window : 0;
}

const am_encoding *am_tokenizer_encoding(const am_tokenizer *tz)
{
    return tz != NULL ? tz->enc : NULL;
}

static size_t estimate(const am_tokenizer *tz, am_str text)
{
    double cpt = tz->info.chars_per_token > 0 ? tz->info.chars_per_token
                                              : 4.0;
    return (size_t)ceil((double)am__utf8_count(text.ptr, text.len) / cpt);
}

am_status am_tokenizer_count(const am_tokenizer *tz, am_str text,
                             const am_encode_opts *opts, size_t *count,
                             am_error *err)
{
    if (tz == NULL || count == NULL)
        return am__fail(err, AM_EINVAL, "am_tokenizer_count: NULL argument");
    if (text.ptr == NULL && text.len > 0)
        return am__fail(err, AM_EINVAL, "text.ptr is NULL");
    if (tz->enc != NULL)
        return am_encoding_count(tz->enc, text, opts, count, err);
    *count = estimate(tz, text);
    return AM_OK;
}

/* Encoding and decoding need the exact encoding: AM_OK when `tz` has
 * one, else the error `fn` (the public call) returns. */
static am_status need_exact(const am_tokenizer *tz, const char *fn,
                            am_error *err)
{
    if (tz == NULL)
        return am__fail(err, AM_EINVAL, "%s: NULL tz", fn);
    if (tz->enc == NULL)
        return am__fail(err, AM_EUNSUPPORTED, "model '%s' has no exact "
                        "tokenizer (counts are estimated)", tz->name);
    return AM_OK;
}

am_status am_tokenizer_encode(const am_tokenizer *tz, am_str text,
                              const am_encode_opts *opts, am_tokens *out,
                              am_error *err)
{
    am_status st = need_exact(tz, "am_tokenizer_encode", err);

    return st != AM_OK ? st : am_encoding_encode(tz->enc, text, opts, out,
                                                 err);
}

am_status am_tokenizer_decode(const am_tokenizer *tz, const uint32_t *ids,
                              size_t count, am_buf *out, am_error *err)
{
    am_status st = need_exact(tz, "am_tokenizer_decode", err);

    return st != AM_OK ? st : am_encoding_decode(tz->enc, ids, count, out,
                                                 err);
}

/* ---- Messages ---- */

static am_status add_text(const am_tokenizer *tz, am_str text, size_t *total,
                          am_error *err)
{
    size_t n = 0;
    am_status st = am_tokenizer_count(tz, text, NULL, &n, err);
    if (st == AM_OK)
        *total += n;
    return st;
}

am_status am_tokenizer_count_messages(const am_tokenizer *tz,
                                      const am_token_msg *msgs, size_t count,
                                      size_t *total, am_error *err)
{
    am_status st = AM_OK;
    size_t n = 0;

    if (tz == NULL || total == NULL || (msgs == NULL && count > 0))
        return am__fail(err, AM_EINVAL, "am_tokenizer_count_messages: NULL "
                        "argument");
    for (size_t i = 0; i < count && st == AM_OK; i++) {
        n += AM__TOKENS_PER_MESSAGE;
        st = add_text(tz, msgs[i].role, &n, err);
        if (st == AM_OK)
            st = add_text(tz, msgs[i].content, &n, err);
        if (st == AM_OK && msgs[i].name.ptr != NULL && msgs[i].name.len > 0) {
            n += TOKENS_PER_NAME;
            st = add_text(tz, msgs[i].name, &n, err);
        }
    }
    if (st != AM_OK)
        return st;
    *total = n + REPLY_PRIMING;
    return AM_OK;
}

/* The billed rule for one am_msg (count_msg.h). The text is the message
 * module's: am__msg_pieces walks what is text, in one order, for this
 * count, for am_msg_text and for the store's indexing alike. */
typedef struct piece_count {
    const am_tokenizer *tz;  /* NULL: 4 bytes per token */
    size_t n;
    am_error *err;
} piece_count;

static am_status count_piece_text(piece_count *pc, am_str s)
{
    if (s.len == 0)
        return AM_OK;
    if (pc->tz == NULL) {
        pc->n += am__tokens_estimate(s.len);
        return AM_OK;
    }
    return add_text(pc->tz, s, &pc->n, pc->err);
}

/* Every piece is counted on its own, as the providers' counters do; a
 * tool call (its name piece comes first) costs its overhead besides. */
static am_status count_piece(void *ctx, am__piece kind, am_str s)
{
    piece_count *pc = ctx;
    if (kind == AM__PIECE_CALL_NAME)
        pc->n += TOKENS_PER_TOOL_CALL;
    return count_piece_text(pc, s);
}

am_status am__tokens_count_msg(const am_tokenizer *tz, const am_msg *msg,
                               size_t *out, am_error *err)
{
    piece_count pc = { tz, AM__TOKENS_PER_MESSAGE, err };
    am_status st;

    assert(msg != NULL && out != NULL);
    st = count_piece_text(&pc, am_str_c(am_role_name(am_msg_role(msg))));
    if (st == AM_OK && am_msg_name(msg).len > 0) {
        pc.n += TOKENS_PER_NAME;
        st = count_piece_text(&pc, am_msg_name(msg));
    }
    if (st == AM_OK)
        st = am__msg_pieces(msg, count_piece, &pc);
    if (st == AM_OK)
        *out = pc.n;
    return st;
}

/* One reader of messages: the JSON is read by the message module's OpenAI
 * reader (msg/wire_openai.c, on our scanner) into messages on the
 * tokenizer's allocator, and each is counted by the rule above, so this
 * count and the context window's (am_count_msgs, am_trim) cannot drift.
 * The messages are dropped at once; no size limit applies beyond the
 * reader's own, because a count should not refuse a long conversation. */
am_status am_tokenizer_count_messages_json(const am_tokenizer *tz,
                                           am_str json, size_t *total,
                                           am_error *err)
{
    am_msg_opts mo = am_msg_opts_default();
    am_msg_list list = AM_MSG_LIST_INIT;
    am_status st;
    size_t n = REPLY_PRIMING;

    if (tz == NULL || total == NULL)
        return am__fail(err, AM_EINVAL, "am_tokenizer_count_messages_json: "
                        "NULL argument");
    if (json.ptr == NULL && json.len > 0)
        return am__fail(err, AM_EINVAL, "am_tokenizer_count_messages_json: "
                        "json.ptr is NULL");
    mo.alloc = tz->alloc;
    mo.max_bytes = 0;
    list.alloc = tz->alloc;
    st = am_msgs_from_json(&mo, AM_FORMAT_OPENAI, json, &list, err);
    for (size_t i = 0; st == AM_OK && i < list.count; i++) {
        size_t k = 0;
        st = am__tokens_count_msg(tz, list.items[i], &k, err);
        n += k;
    }
    if (st == AM_OK)
        *total = n;
    am_msg_list_free(&list);
    return st;
}

am_status am_tokenizer_count_tools_json(const am_tokenizer *tz, am_str json,
                                        size_t *total, am_error *err)
{
    am_status st;
    json_t *root = NULL, *tool;
    size_t i, n = TOKENS_PER_TOOL_LIST;
    am_buf params = AM_BUF_INIT;

    if (tz == NULL || total == NULL)
        return am__fail(err, AM_EINVAL, "am_tokenizer_count_tools_json: "
                        "NULL argument");
    params.alloc = tz->alloc;
    st = am__json_parse(json, "tools", &root, err);
    if (st != AM_OK)
        return st;
    if (!json_is_array(root)) {
        st = am__fail(err, AM_EFORMAT, "tools: expected a JSON array");
        goto out;
    }
    if (json_array_size(root) == 0)
        n = 0;
    json_array_foreach(root, i, tool) {
        json_t *fn = json_object_get(tool, "function");
        json_t *v;
        if (fn == NULL)
            fn = tool;
        if (!json_is_object(fn) ||
            !json_is_string(json_object_get(fn, "name"))) {
            st = am__fail(err, AM_EFORMAT, "tools[%zu]: needs a function "
                          "with a string 'name'", i);
            goto out;
        }
        n += TOKENS_PER_TOOL;
        st = add_text(tz, am__json_str(json_object_get(fn, "name")), &n, err);
        if (st == AM_OK && json_is_string(v = json_object_get(fn,
                                                             "description")))
            st = add_text(tz, am__json_str(v), &n, err);
        if (st == AM_OK && (v = json_object_get(fn, "parameters")) != NULL) {
            st = am__json_dump(v, JSON_COMPACT | JSON_SORT_KEYS, &params,
                               err);
            if (st == AM_OK)
                st = add_text(tz, am_buf_str(&params), &n, err);
        }
        if (st != AM_OK)
            goto out;
    }
    *total = n;

out:
    am_buf_free(&params);
    json_decref(root);
    return st;
}
