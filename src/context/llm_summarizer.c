/* llm_summarizer.c -- a summarizer that asks a chat model.
 *
 * One request per piece (am_summarizer_run splits long input so that each
 * request fits the model's window): a system prompt saying what to keep,
 * and one user message holding the previous summary and the transcript of
 * the new messages. The reply's text is the new running summary. Usage is
 * added to the summarizer's spent count and passed to the caller's hook.
 */
#include <string.h>

#include "agentmem/window.h"
#include "context_int.h"
#include "window_int.h"

#define DEFAULT_INSTRUCTIONS                                               \
    "You compress the history of an AI agent's conversation so that it "   \
    "can continue its work. Write a concise summary that merges the "      \
    "previous summary (if any) with the new messages. Keep every name, "   \
    "number, date, decision, tool call with its outcome, error and open "  \
    "question that later turns may need. Drop greetings and repetition. "  \
    "Answer with the summary only."

typedef struct llm_ctx {
    am_llm *llm;
    const am_allocator *alloc; /* of this context, its summarizer, buffers */
    char *instructions;
    void (*on_usage)(void *ctx, const am_llm_usage *usage);
    void *usage_ctx;
    am_token_tracker *tracker;
    uint64_t spent;
    am_model_info model; /* the client's model, for pricing */
    double cost;         /* USD spent, reported usage or estimated */
} llm_ctx;

static am_status llm_summarize(void *ctx, am_str prev,
                               const am_msg *const *msgs, size_t count,
                               size_t budget, am_buf *out, am_error *err)
{
    llm_ctx *c = ctx;
    am_buf prompt = AM_BUF_INIT, text = AM_BUF_INIT;
    am_llm_request req;
    am_llm_result res;
    am_llm_msg user;
    am_status st = AM_OK;

    prompt.alloc = text.alloc = c->alloc;
    if (prev.len > 0) {
        st = am_buf_appendf(&prompt, "Previous summary:\n%.*s\n\n",
                            (int)prev.len, prev.ptr);
    }
    if (st == AM_OK)
        st = am_buf_appendf(&prompt, "New messages (%zu):\n", count);
    for (size_t i = 0; st == AM_OK && i < count; i++) {
        st = am_buf_appendf(&prompt, "[%s] ",
                            am_role_name(am_msg_role(msgs[i])));
        if (st == AM_OK)
            st = am_msg_text(msgs[i], &prompt);
        if (st == AM_OK)
            st = am_buf_append(&prompt, "\n", 1);
    }
    if (st == AM_OK)
        st = am_buf_appendf(&prompt,
                            "\nWrite the updated summary in at most %zu "
                            "tokens.", budget);
    if (st != AM_OK) {
        am_buf_free(&prompt);
        return am__fail(err, AM_ENOMEM, "llm summarizer: out of memory");
    }
    memset(&req, 0, sizeof req);
    user.role = am_str_c(am_role_name(AM_ROLE_USER));
    user.content = am_buf_str(&prompt);
    req.msgs = &user;
    req.count = 1;
    req.system = am_str_c(c->instructions);
    req.max_tokens = (int64_t)budget;
    memset(&res, 0, sizeof res);
    st = am_llm_chat(c->llm, &req, &text, &res);
    if (res.usage.reported) {
        c->spent += (uint64_t)(res.usage.input_tokens > 0
                                   ? res.usage.input_tokens : 0) +
                    (uint64_t)(res.usage.output_tokens > 0
                                   ? res.usage.output_tokens : 0);
        c->cost += am_model_cost(
            &c->model, res.usage.input_tokens > 0 ? res.usage.input_tokens : 0,
            res.usage.cached_tokens > 0 ? res.usage.cached_tokens : 0,
            res.usage.output_tokens > 0 ? res.usage.output_tokens : 0);
        if (c->on_usage != NULL)
            c->on_usage(c->usage_ctx, &res.usage);
    } else if (st == AM_OK) {
        /* No usage in the reply: the tracker's 4-bytes-per-token guess. */
        c->cost += am_model_cost(&c->model, (int64_t)(prompt.len / 4), 0,
                                 (int64_t)(text.len / 4));
    }
    if (c->tracker != NULL && st == AM_OK) {
        /* A tracker error must not fail the summary: it is bookkeeping. */
        if (res.usage.reported) {
            am_usage_record u;
            memset(&u, 0, sizeof u);
            u.model = am_str_c(am_llm_model(c->llm));
            u.input_tokens = res.usage.input_tokens;
            u.cached_input_tokens = res.usage.cached_tokens;
            u.output_tokens = res.usage.output_tokens;
            u.compression = true;
            (void)am_token_tracker_record(c->tracker, &u);
        } else {
            am_usage_record u;
            memset(&u, 0, sizeof u);
            u.model = am_str_c(am_llm_model(c->llm));
            u.input_tokens = (int64_t)(prompt.len / 4);
            u.output_tokens = (int64_t)(text.len / 4);
            u.estimated = true;
            u.compression = true;
            (void)am_token_tracker_record(c->tracker, &u);
        }
    }
    if (st != AM_OK) {
        am__fail(err, st, "llm summarizer: %s",
                 res.error.msg[0] ? res.error.msg : am_status_str(st));
    } else {
        /* Trim the reply; an empty one is no summary at all. */
        size_t a = 0, b = text.len;
        while (a < b && (text.ptr[a] == ' ' || text.ptr[a] == '\n'))
            a++;
        while (b > a && (text.ptr[b - 1] == ' ' || text.ptr[b - 1] == '\n'))
            b--;
        if (a == b) {
            st = am__fail(err, AM_EPROTO,
                          "llm summarizer: the model returned an empty "
                          "summary (finish reason '%s')", res.finish_reason);
        } else {
            am_buf_clear(out);
            st = am_buf_append(out, text.ptr + a, b - a);
            if (st != AM_OK)
                st = am__fail(err, AM_ENOMEM, "llm summarizer: OOM");
        }
    }
    am_buf_free(&prompt);
    am_buf_free(&text);
    return st;
}

static void llm_destroy(void *ctx)
{
    llm_ctx *c = ctx;
    const am_allocator *a = c->alloc;
    if (c->instructions != NULL)
        am__free(a, c->instructions, strlen(c->instructions) + 1);
    am__free(a, c, sizeof *c);
}

static uint64_t llm_spent(void *ctx)
{
    return ((llm_ctx *)ctx)->spent;
}

static double llm_cost(void *ctx)
{
    return ((llm_ctx *)ctx)->cost;
}

static const am_summarizer_vtable llm_vt = { "llm", llm_summarize,
                                             llm_destroy, llm_spent,
                                             llm_cost };

am_status am_summarizer_llm(am_llm *llm, const am_llm_summarizer_opts *opts,
                            am_summarizer **out, am_error *err)
{
    llm_ctx *c;
    const am_allocator *a = opts != NULL ? opts->alloc : NULL;
    size_t window = opts != NULL ? opts->context_tokens : 0;
    am_status st;

    if (llm == NULL || out == NULL)
        return am__fail(err, AM_EINVAL, "llm summarizer: NULL argument");
    if (window == 0) {
        am_model_info info;
        am_models_lookup(NULL, am_str_c(am_llm_model(llm)), &info);
        window = info.context_window > 0 ? (size_t)info.context_window
                                         : 8192;
    }
    c = am__calloc(a, 1, sizeof *c);
    if (c == NULL)
        return am__fail(err, AM_ENOMEM, "llm summarizer: out of memory");
    c->alloc = a;
    c->llm = llm;
    am_models_lookup(NULL, am_str_c(am_llm_model(llm)), &c->model);
    {
        const char *ins = opts != NULL && opts->instructions != NULL
                              ? opts->instructions
                              : DEFAULT_INSTRUCTIONS;
        c->instructions = am__strndup(a, ins, strlen(ins));
    }
    if (opts != NULL) {
        c->on_usage = opts->on_usage;
        c->usage_ctx = opts->usage_ctx;
        c->tracker = opts->tracker;
    }
    if (c->instructions == NULL) {
        am__free(a, c, sizeof *c);
        return am__fail(err, AM_ENOMEM, "llm summarizer: out of memory");
    }
    st = am__summarizer_create(a, &llm_vt, c, window, out, err);
    if (st != AM_OK)
        llm_destroy(c);
    return st;
}
