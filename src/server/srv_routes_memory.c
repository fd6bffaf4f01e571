/* srv_routes_memory.c -- the server-side memory manager: one per
 * conversation id, persisted in the store.
 *
 * A client adds messages to a conversation and asks for the context to
 * send; the manager compresses old turns past its threshold (offline
 * summarizer) as it does in-process. Its whole state is exported after
 * every change into the item ("memmgr", <conversation id>) / "state", in
 * the same transaction as nothing else, so a restart loses nothing: the
 * next request imports it again. Requests on one conversation are
 * serialized by a striped lock (the id's hash picks one of
 * SRV_CONV_LOCKS); two server processes on one database are not (the last
 * writer wins), which the docs say.
 */
#include <stdlib.h>
#include <string.h>

#include "agentmem/memconfig.h"
#include "agentmem/msg.h"
#include "agentmem/window.h"
#include "srv_int.h"

static pthread_mutex_t *lock_for(srv_ctx *ctx, am_str id)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < id.len; i++)
        h = (h ^ (unsigned char)id.ptr[i]) * 16777619u;
    return &ctx->conv_locks[h % SRV_CONV_LOCKS];
}

typedef struct conv {
    char *id_buf;
    am_str id;
    am_str parts[2];
    am_ns ns;
    am_memory *mem;
    pthread_mutex_t *lock;
} conv;

/* Lock the conversation and load its manager (a fresh one when the
 * conversation is new). false with the reply set. */
static bool conv_open(srv_call *c, conv *cv)
{
    am_memory_opts o = am_memory_opts_default();
    const am_tokenizer *tz;
    am_buf state = AM_BUF_INIT;
    am_error err = { AM_OK, "" };
    am_status st;

    memset(cv, 0, sizeof *cv);
    if (!srv_id(c, "conversation_id", false, &cv->id_buf, &cv->id))
        return false;
    tz = srv_tokenizer(c->ctx, o.config.model, &err);
    if (tz == NULL) {
        free(cv->id_buf);
        return srv_fail(c, srv_http_status(err.code), NULL, "%s", err.msg);
    }
    o.counter.tokenizer = tz;
    st = am_memory_create(&o, &cv->mem, &err);
    if (st != AM_OK) {
        free(cv->id_buf);
        return srv_fail(c, srv_http_status(st), NULL, "%s", err.msg);
    }
    cv->parts[0] = AM_STR("memmgr");
    cv->parts[1] = cv->id;
    cv->ns = (am_ns){ cv->parts, 2 };
    cv->lock = lock_for(c->ctx, cv->id);
    pthread_mutex_lock(cv->lock);
    st = am_store_get(c->store, cv->ns, AM_STR("state"), &state);
    if (st == AM_OK)
        st = am_memory_import(cv->mem, am_buf_str(&state));
    else if (st == AM_ENOTFOUND)
        st = AM_OK;
    am_buf_free(&state);
    if (st != AM_OK) {
        const am_error *e = am_memory_last_error(cv->mem);
        srv_fail(c, srv_http_status(st), NULL, "conversation state: %s",
                 e != NULL && e->msg[0] ? e->msg : am_status_str(st));
        pthread_mutex_unlock(cv->lock);
        am_memory_free(cv->mem);
        free(cv->id_buf);
        return false;
    }
    return true;
}

static bool conv_save(srv_call *c, conv *cv)
{
    am_buf state = AM_BUF_INIT;
    am_item_in it;
    am_status st = am_memory_export(cv->mem, &state);

    memset(&it, 0, sizeof it);
    if (st == AM_OK) {
        it.ns = cv->ns;
        it.key = AM_STR("state");
        it.value = am_buf_str(&state);
        it.text = AM_STR("memory manager state");
        it.no_embed = 1;
        st = am_store_put(c->store, &it);
    }
    am_buf_free(&state);
    if (st != AM_OK)
        return srv_fail_status(c, st, NULL, "save conversation");
    return true;
}

static void conv_close(conv *cv)
{
    pthread_mutex_unlock(cv->lock);
    am_memory_free(cv->mem);
    free(cv->id_buf);
}

static json_t *stats_of(srv_call *c, am_memory *mem)
{
    am_buf out = AM_BUF_INIT;
    json_t *v = NULL;
    if (am_memory_stats_json(mem, &out) == AM_OK)
        v = json_loadb(out.ptr, out.len, 0, NULL);
    am_buf_free(&out);
    if (v == NULL)
        srv_fail(c, 503, NULL, "out of memory");
    return v;
}

static bool format_field(srv_call *c, am_format *fmt)
{
    am_str name = { NULL, 0 };
    am_error err = { AM_OK, "" };
    *fmt = AM_FORMAT_OPENAI;
    if (!srv_str(c, "format", false, &name))
        return false;
    if (name.ptr != NULL && am_format_parse(name, fmt, &err) != AM_OK)
        return srv_fail(c, 400, "format", "field 'format' must be "
                        "\"openai\", \"anthropic\" or \"agentmem\"");
    return true;
}

bool srv_r_memory_add(srv_call *c)
{
    am_msg_list msgs = AM_MSG_LIST_INIT;
    am_format fmt;
    char *text = NULL;
    am_error err = { AM_OK, "" };
    conv cv;
    size_t compressions = 0;
    json_t *stats;
    bool ok = false;
    am_status st;

    if (!format_field(c, &fmt) ||
        !srv_json_text(c, "messages", true, &text))
        return false;
    st = am_msgs_from_json(NULL, fmt, am_str_c(text), &msgs, &err);
    free(text);
    if (st != AM_OK)
        return srv_fail(c, 400, "messages", "field 'messages': %s",
                        err.msg);
    if (msgs.count == 0) {
        am_msg_list_free(&msgs);
        return srv_fail(c, 400, "messages", "field 'messages' is empty");
    }
    if (!conv_open(c, &cv)) {
        am_msg_list_free(&msgs);
        return false;
    }
    for (size_t i = 0; i < msgs.count; i++) {
        st = am_memory_add(cv.mem, msgs.items[i], NULL);
        if (st != AM_OK) {
            const am_error *e = am_memory_last_error(cv.mem);
            srv_fail(c, srv_http_status(st), "messages", "message %zu: %s",
                     i, e != NULL ? e->msg : am_status_str(st));
            goto out;
        }
        compressions += am_memory_was_compressed_last(cv.mem);
    }
    if (!conv_save(c, &cv) || (stats = stats_of(c, cv.mem)) == NULL)
        goto out;
    ok = srv_ok(c, json_pack("{s:I, s:I, s:o}", "added",
                             (json_int_t)msgs.count, "compressions",
                             (json_int_t)compressions, "stats", stats));
out:
    conv_close(&cv);
    am_msg_list_free(&msgs);
    return ok;
}

bool srv_r_memory_context(srv_call *c)
{
    am_msg_list ctxl = AM_MSG_LIST_INIT;
    am_buf out = AM_BUF_INIT;
    am_format fmt;
    am_error err = { AM_OK, "" };
    conv cv;
    json_t *msgs = NULL, *stats;
    bool ok = false;
    am_status st;

    if (!format_field(c, &fmt) || !conv_open(c, &cv))
        return false;
    st = am_memory_context(cv.mem, &ctxl);
    if (st == AM_OK)
        st = am_msgs_to_json(am_msg_list_items(&ctxl), ctxl.count, fmt, 0,
                             &out, &err);
    if (st != AM_OK) {
        srv_fail(c, srv_http_status(st), NULL, "context: %s",
                 am_status_str(st));
        goto out;
    }
    msgs = json_loadb(out.ptr, out.len, 0, NULL);
    if (msgs == NULL || (stats = stats_of(c, cv.mem)) == NULL) {
        json_decref(msgs);
        srv_fail(c, 503, NULL, "out of memory");
        goto out;
    }
    ok = srv_ok(c, json_pack("{s:o, s:o}", "messages", msgs, "stats",
                             stats));
out:
    conv_close(&cv);
    am_msg_list_free(&ctxl);
    am_buf_free(&out);
    return ok;
}

bool srv_r_memory_stats(srv_call *c)
{
    conv cv;
    json_t *stats;
    bool ok = false;
    if (!conv_open(c, &cv))
        return false;
    if ((stats = stats_of(c, cv.mem)) != NULL)
        ok = srv_ok(c, json_pack("{s:o}", "stats", stats));
    conv_close(&cv);
    return ok;
}
