/* tracker.c -- token usage, cost and compression savings of LLM calls.
 *
 * Every call adds to global totals and to a small per-model table (the
 * number of distinct models in one agent is tiny, so a linear scan is
 * fine). Prices come from the catalog at record time, so a later catalog
 * change does not rewrite history. Usage reported by a provider and usage
 * we counted are kept apart (reported_calls, estimated_calls) so a report
 * can say how much of it is exact. A mutex makes a tracker safe to share
 * between the threads of one agent.
 */
#include <pthread.h>
#include <string.h>

#include "core/core.h"
#include "core/errtab.h"
#include "core/json_glue.h"
#include "tokens/tokens_int.h"

typedef struct per_model {
    char *name;
    size_t name_len;
    int64_t calls;
    int64_t input_tokens;
    int64_t output_tokens;
    double cost;
    bool known;
} per_model;

struct am_token_tracker {
    const am_allocator *alloc;
    am_tracker_opts opts;
    pthread_mutex_t mu;
    am_tracker_stats st;
    bool budget_reported;
    per_model *models;
    size_t count;
    size_t cap;
    am_error err;
};

am_tracker_opts am_tracker_opts_default(void)
{
    am_tracker_opts o;
    memset(&o, 0, sizeof o);
    return o;
}

am_status am_token_tracker_create(const am_tracker_opts *opts,
                                  am_token_tracker **out, am_error *err)
{
    am_tracker_opts o = opts != NULL ? *opts : am_tracker_opts_default();
    am_token_tracker *t;

    if (out == NULL)
        return am__fail(err, AM_EINVAL, "am_token_tracker_create: NULL out");
    *out = NULL;
    if (o.budget < 0 || o.budget_tokens < 0)
        return am__fail(err, AM_EINVAL, "budget must not be negative");
    t = am__calloc(o.alloc, 1, sizeof *t);
    if (t == NULL)
        return am__fail(err, AM_ENOMEM, "out of memory");
    t->alloc = o.alloc;
    t->opts = o;
    if (pthread_mutex_init(&t->mu, NULL) != 0) {
        am__free(o.alloc, t, sizeof *t);
        return am__fail(err, AM_ENOMEM, "cannot create a mutex");
    }
    t->st.budget = o.budget;
    t->st.budget_tokens = o.budget_tokens;
    *out = t;
    return AM_OK;
}

static void clear_models(am_token_tracker *t)
{
    for (size_t i = 0; i < t->count; i++)
        am__free(t->alloc, t->models[i].name, t->models[i].name_len + 1);
    t->count = 0;
}

void am_token_tracker_free(am_token_tracker *t)
{
    if (t == NULL)
        return;
    clear_models(t);
    am__free(t->alloc, t->models, t->cap * sizeof *t->models);
    pthread_mutex_destroy(&t->mu);
    am__free(t->alloc, t, sizeof *t);
}

const am_error *am_token_tracker_last_error(const am_token_tracker *t)
{
    return t != NULL ? &t->err : am__errtab_null_handle();
}

/* The per-model row for `name`, created if needed (NULL on OOM). */
static per_model *row_for(am_token_tracker *t, am_str name, bool known)
{
    per_model *m;

    for (size_t i = 0; i < t->count; i++)
        if (t->models[i].name_len == name.len &&
            memcmp(t->models[i].name, name.ptr, name.len) == 0)
            return &t->models[i];
    if (t->count == t->cap &&
        am__grow(t->alloc, (void **)&t->models, &t->cap, t->count + 1,
                 sizeof *t->models) != AM_OK)
        return NULL;
    m = &t->models[t->count];
    memset(m, 0, sizeof *m);
    m->name = am__strndup(t->alloc, name.ptr, name.len);
    if (m->name == NULL)
        return NULL;
    m->name_len = name.len;
    m->known = known;
    t->count++;
    return m;
}

static void derive(am_tracker_stats *s)
{
    int64_t base;

    s->total_tokens = s->input_tokens + s->output_tokens;
    s->net_tokens_saved = s->tokens_saved - s->compression_tokens;
    s->net_savings = s->savings - s->compression_cost;
    base = s->input_tokens + s->tokens_saved;
    s->savings_percent = base > 0 ? 100.0 * (double)s->net_tokens_saved /
                                        (double)base
                                  : 0.0;
    s->over_budget = (s->budget > 0 && s->cost > s->budget) ||
                     (s->budget_tokens > 0 &&
                      s->total_tokens > s->budget_tokens);
}

am_status am_token_tracker_record(am_token_tracker *t,
                                  const am_usage_record *u)
{
    am_model_info info;
    bool known;
    double cost;
    per_model *row;
    am_tracker_stats snap;
    bool report = false;

    if (t == NULL)
        return AM_EINVAL;
    if (u == NULL || u->model.ptr == NULL || u->model.len == 0)
        return am__fail(&t->err, AM_EINVAL, "usage needs a model name");
    if (u->input_tokens < 0 || u->output_tokens < 0 ||
        u->cached_input_tokens < 0)
        return am__fail(&t->err, AM_EINVAL, "token counts must not be "
                        "negative (input %lld, cached %lld, output %lld)",
                        (long long)u->input_tokens,
                        (long long)u->cached_input_tokens,
                        (long long)u->output_tokens);
    if (u->cached_input_tokens > u->input_tokens)
        return am__fail(&t->err, AM_EINVAL, "cached_input_tokens %lld > "
                        "input_tokens %lld",
                        (long long)u->cached_input_tokens,
                        (long long)u->input_tokens);
    known = am_models_lookup(t->opts.models, u->model, &info);
    cost = am_model_cost(&info, u->input_tokens, u->cached_input_tokens,
                         u->output_tokens);

    pthread_mutex_lock(&t->mu);
    row = row_for(t, u->model, known);
    if (row == NULL) {
        pthread_mutex_unlock(&t->mu);
        return am__fail(&t->err, AM_ENOMEM, "out of memory");
    }
    row->calls++;
    row->input_tokens += u->input_tokens;
    row->output_tokens += u->output_tokens;
    row->cost += cost;
    t->st.calls++;
    if (u->estimated)
        t->st.estimated_calls++;
    else
        t->st.reported_calls++;
    if (!known) {
        t->st.unknown_model_calls++;
        t->st.estimated_cost += cost;
    }
    t->st.input_tokens += u->input_tokens;
    t->st.cached_input_tokens += u->cached_input_tokens;
    t->st.output_tokens += u->output_tokens;
    t->st.cost += cost;
    if (u->compression) {
        t->st.compression_tokens += u->input_tokens + u->output_tokens;
        t->st.compression_cost += cost;
    }
    derive(&t->st);
    if (t->st.over_budget && !t->budget_reported &&
        t->opts.on_budget != NULL) {
        t->budget_reported = true;
        report = true;
        snap = t->st;
    }
    pthread_mutex_unlock(&t->mu);
    /* Outside the lock, so the callback may read the tracker. */
    if (report)
        t->opts.on_budget(t->opts.on_budget_ctx, &snap);
    return AM_OK;
}

am_status am_token_tracker_record_text(am_token_tracker *t,
                                       const am_tokenizer *tz, am_str input,
                                       am_str output)
{
    am_usage_record u;
    size_t ni = 0, no = 0;
    am_status st;

    if (t == NULL)
        return AM_EINVAL;
    if (tz == NULL)
        return am__fail(&t->err, AM_EINVAL, "NULL tokenizer");
    st = am_tokenizer_count(tz, input, NULL, &ni, &t->err);
    if (st == AM_OK)
        st = am_tokenizer_count(tz, output, NULL, &no, &t->err);
    if (st != AM_OK)
        return st;
    memset(&u, 0, sizeof u);
    u.model = am_str_c(am_tokenizer_model_name(tz));
    u.input_tokens = (int64_t)ni;
    u.output_tokens = (int64_t)no;
    u.estimated = true;
    return am_token_tracker_record(t, &u);
}

am_status am_token_tracker_credit_savings(am_token_tracker *t, am_str model,
                                          int64_t tokens)
{
    am_model_info info;

    if (t == NULL)
        return AM_EINVAL;
    if (tokens < 0)
        return am__fail(&t->err, AM_EINVAL, "saved tokens must not be "
                        "negative (%lld)", (long long)tokens);
    am_models_lookup(t->opts.models, model, &info);
    pthread_mutex_lock(&t->mu);
    t->st.tokens_saved += tokens;
    t->st.savings += am_model_cost(&info, tokens, 0, 0);
    derive(&t->st);
    pthread_mutex_unlock(&t->mu);
    return AM_OK;
}

void am_token_tracker_stats(am_token_tracker *t, am_tracker_stats *out)
{
    if (t == NULL || out == NULL)
        return;
    pthread_mutex_lock(&t->mu);
    *out = t->st;
    pthread_mutex_unlock(&t->mu);
}

void am_token_tracker_reset(am_token_tracker *t)
{
    if (t == NULL)
        return;
    pthread_mutex_lock(&t->mu);
    clear_models(t);
    memset(&t->st, 0, sizeof t->st);
    t->st.budget = t->opts.budget;
    t->st.budget_tokens = t->opts.budget_tokens;
    t->budget_reported = false;
    pthread_mutex_unlock(&t->mu);
}

am_status am_token_tracker_stats_json(am_token_tracker *t, am_buf *out)
{
    json_t *o = NULL, *models = NULL;
    am_status st = AM_OK;
    am_tracker_stats s;

    if (t == NULL || out == NULL)
        return AM_EINVAL;
    pthread_mutex_lock(&t->mu);
    s = t->st;
    o = json_object();
    models = json_array();
    if (o == NULL || models == NULL)
        st = AM_ENOMEM;
    for (size_t i = 0; i < t->count && st == AM_OK; i++) {
        const per_model *m = &t->models[i];
        /* An unknown model's row says its price is the catalog default,
         * so the figure reads as the estimate it is. */
        json_t *row = json_pack("{s:s%,s:I,s:I,s:I,s:f,s:b,s:s}", "model",
                                m->name, m->name_len, "calls",
                                (json_int_t)m->calls, "input_tokens",
                                (json_int_t)m->input_tokens, "output_tokens",
                                (json_int_t)m->output_tokens, "cost",
                                m->cost, "known", m->known, "priced_as",
                                m->known ? "catalog" : "default");
        if (row == NULL || json_array_append_new(models, row) != 0)
            st = AM_ENOMEM;
    }
    pthread_mutex_unlock(&t->mu);
#define I(k, v)                                                             \
    if (st == AM_OK &&                                                      \
        json_object_set_new(o, k, json_integer((json_int_t)(v))) != 0)      \
        st = AM_ENOMEM;
#define R(k, v)                                                             \
    if (st == AM_OK && json_object_set_new(o, k, json_real(v)) != 0)        \
        st = AM_ENOMEM;
    I("calls", s.calls);
    I("reported_calls", s.reported_calls);
    I("estimated_calls", s.estimated_calls);
    I("unknown_model_calls", s.unknown_model_calls);
    I("input_tokens", s.input_tokens);
    I("cached_input_tokens", s.cached_input_tokens);
    I("output_tokens", s.output_tokens);
    I("total_tokens", s.total_tokens);
    R("cost", s.cost);
    R("estimated_cost", s.estimated_cost);
    I("tokens_saved", s.tokens_saved);
    R("savings", s.savings);
    I("compression_tokens", s.compression_tokens);
    R("compression_cost", s.compression_cost);
    I("net_tokens_saved", s.net_tokens_saved);
    R("net_savings", s.net_savings);
    R("savings_percent", s.savings_percent);
    R("budget", s.budget);
    I("budget_tokens", s.budget_tokens);
    if (st == AM_OK &&
        json_object_set_new(o, "over_budget", json_boolean(s.over_budget)))
        st = AM_ENOMEM;
#undef I
#undef R
    if (st == AM_OK) {
        st = json_object_set(o, "models", models) == 0 ? AM_OK : AM_ENOMEM;
    }
    if (st == AM_OK)
        st = am__json_dump(o, JSON_COMPACT | JSON_REAL_PRECISION(10), out,
                           &t->err);
    else
        am__fail(&t->err, st, "out of memory");
    json_decref(models);
    json_decref(o);
    return st;
}
