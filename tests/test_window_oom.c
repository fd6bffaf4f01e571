/* test_window_oom.c -- trim, summarize and the middleware when memory
 * runs out: they fail cleanly, a failed trim leaves an empty result, and
 * a failed middleware call keeps the running summary. */
#include "window_fixture.h"

typedef struct oom_ctx {
    am_msg_list *l;
} oom_ctx;

static am_status trim_oom(void *ctx, const am_allocator *alloc)
{
    oom_ctx *c = ctx;
    am_trim_opts o = am_trim_opts_default();
    am_trim_result r = AM_TRIM_RESULT_INIT;
    am_status st;
    o.alloc = alloc;
    o.max_tokens = 120;
    o.allow_partial = true;
    st = am_trim(items(c->l), c->l->count, &o, &r, NULL);
    am_trim_result_free(&r);
    return st;
}

static am_status summarize_oom(void *ctx, const am_allocator *alloc)
{
    oom_ctx *c = ctx;
    am_summarize_opts o = am_summarize_opts_default();
    am_summarize_result r = AM_SUMMARIZE_RESULT_INIT;
    am_status st;
    o.alloc = alloc;
    o.keep_last = 3;
    st = am_summarize(items(c->l), c->l->count, &o, &r, NULL);
    am_summarize_result_free(&r);
    return st;
}

AM_TEST(trim_and_summarize_survive_oom)
{
    am_msg_list l = AM_MSG_LIST_INIT;
    oom_ctx c = { &l };
    load(&l);
    CHECK(test_oom_sweep(trim_oom, &c) > 3);
    CHECK(test_oom_sweep(summarize_oom, &c) > 3);
    am_msg_list_free(&l);
}

/* am_trim promises an empty result on failure, whatever `res` held before
 * (here the result of an earlier trim), and a good answer otherwise: under
 * the failing allocator, every strategy with a partial cut either fails
 * with `res` empty or gives what a trim without failures gives. */
typedef struct trim_ctx {
    am_msg_list *l;
    am_trim_strategy strategy;
    size_t want_count, want_dropped, want_tokens;
} trim_ctx;

static am_status trim_empty_body(void *ctx, const am_allocator *alloc)
{
    trim_ctx *c = ctx;
    am_trim_opts o = am_trim_opts_default();
    am_trim_result r = AM_TRIM_RESULT_INIT;
    am_status st;

    o.alloc = alloc;
    o.strategy = c->strategy;
    o.max_tokens = 120;
    o.allow_partial = true;
    /* The second trim releases what the first left in `r` (either may be
     * the one that meets the injected failure). */
    st = am_trim(items(c->l), c->l->count, &o, &r, NULL);
    if (st == AM_OK)
        st = am_trim(items(c->l), c->l->count, &o, &r, NULL);
    if (st != AM_OK && (r.messages.count != 0 || r.dropped_count != 0 ||
                        r.tokens_after != 0))
        st = AM_EPROTO; /* not empty on failure */
    if (st == AM_OK &&
        (r.messages.count != c->want_count ||
         r.dropped_count != c->want_dropped ||
         r.tokens_after != c->want_tokens))
        st = AM_EPROTO;
    am_trim_result_free(&r);
    return st;
}

AM_TEST(failed_trim_leaves_an_empty_result)
{
    am_msg_list l = AM_MSG_LIST_INIT;
    load(&l);
    for (int s = AM_TRIM_LAST; s <= AM_TRIM_TOKENS; s++) {
        trim_ctx c = { &l, (am_trim_strategy)s, 0, 0, 0 };
        am_trim_opts o = am_trim_opts_default();
        am_trim_result r = AM_TRIM_RESULT_INIT;
        o.strategy = c.strategy;
        o.max_tokens = 120;
        o.allow_partial = true;
        CHECK_OK(am_trim(items(&l), l.count, &o, &r, NULL));
        c.want_count = r.messages.count;
        c.want_dropped = r.dropped_count;
        c.want_tokens = r.tokens_after;
        CHECK(c.want_dropped > 0);
        am_trim_result_free(&r);
        CHECK(test_oom_sweep(trim_empty_body, &c) > 3);
    }
    am_msg_list_free(&l);
}

/* The middleware under the failing allocator, the token trigger (counting
 * allocates) and two rounds (the second merges into the running summary):
 * round 1 gets the first `first` messages, round 2 its output plus
 * messages [from, to). A call that answers AM_ENOMEM is made again (the
 * injected failure is spent); the running summary and what each round
 * answered must then be those of a run where nothing failed. */
typedef struct mw_retry_ctx {
    am_msg_list *l;
    size_t first, from, to;
    am_buf want;
} mw_retry_ctx;

static am_status mw_round(am_summary_mw *mw, const am_msg_list *in,
                          am_summarize_result *r, am_buf *fp)
{
    am_status st = am_summary_mw_process(mw, items(in), in->count, r, NULL);
    if (st == AM_ENOMEM) {
        am_summarize_result_free(r);
        st = am_summary_mw_process(mw, items(in), in->count, r, NULL);
    }
    if (st == AM_OK)
        st = am_buf_appendf(fp, "in %zu out %zu summarized %zu kept %zu\n"
                            "%s\n", in->count, r->messages.count,
                            r->summarized_count, r->kept_count,
                            am_summary_mw_summary(mw).ptr);
    return st;
}

static am_status mw_retry_body(void *ctx, const am_allocator *alloc)
{
    mw_retry_ctx *c = ctx;
    am_summary_mw_opts o = am_summary_mw_opts_default();
    am_summary_mw *mw = NULL;
    am_summarize_result r = AM_SUMMARIZE_RESULT_INIT;
    am_msg_list next = AM_MSG_LIST_INIT;
    am_buf fp = AM_BUF_INIT;
    am_status st;

    o.trigger_tokens = 60;
    o.keep_last = 2;
    o.budget = 300;
    o.alloc = alloc;
    st = am_summary_mw_create(&o, &mw, NULL);
    if (st != AM_OK)
        return st;
    for (size_t i = 0; st == AM_OK && i < c->first; i++)
        st = am_msg_list_push(&next, c->l->items[i]);
    if (st == AM_OK)
        st = mw_round(mw, &next, &r, &fp);
    am_msg_list_clear(&next);
    for (size_t i = 0; st == AM_OK && i < r.messages.count; i++)
        st = am_msg_list_push(&next, r.messages.items[i]);
    for (size_t i = c->from; st == AM_OK && i < c->to; i++)
        st = am_msg_list_push(&next, c->l->items[i]);
    if (st == AM_OK)
        st = mw_round(mw, &next, &r, &fp);
    if (st == AM_OK && c->want.len == 0) {
        st = am_buf_append(&c->want, fp.ptr, fp.len);
    } else if (st == AM_OK && (fp.len != c->want.len ||
                               memcmp(fp.ptr, c->want.ptr, fp.len) != 0)) {
        fprintf(stderr, "after a failed call:\n%s--- want:\n%s", fp.ptr,
                c->want.ptr);
        st = AM_EPROTO;
    }
    am_buf_free(&fp);
    am_msg_list_free(&next);
    am_summarize_result_free(&r);
    am_summary_mw_free(mw);
    return st;
}

static void mw_retry_sweep(am_msg_list *l, size_t first, size_t from,
                           size_t to)
{
    mw_retry_ctx c = { l, first, from, to, AM_BUF_INIT };
    CHECK_OK(mw_retry_body(&c, NULL));
    CHECK(strstr(c.want.ptr, "summarized 0") == NULL);
    CHECK(test_oom_sweep(mw_retry_body, &c) > 5);
    am_buf_free(&c.want);
}

/* A count for the token trigger that runs out of memory is AM_ENOMEM, not
 * AM_OK with the input passed through unsummarized. */
AM_TEST(middleware_failed_trigger_count_is_an_error)
{
    am_msg_list l = AM_MSG_LIST_INIT;
    load(&l);
    mw_retry_sweep(&l, l.count, 1, 8);
    am_msg_list_free(&l);
}

/* A short first summary (of the first 5 messages), then a longer one, so
 * the running summary's buffer has to grow when it is replaced: memory
 * running out there must not lose the running summary. */
AM_TEST(middleware_failed_call_keeps_the_running_summary)
{
    am_msg_list l = AM_MSG_LIST_INIT;
    load(&l);
    mw_retry_sweep(&l, 5, 5, l.count);
    am_msg_list_free(&l);
}
