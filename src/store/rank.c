/* rank.c -- search ranking shared by every backend: candidates, the query
 * vector and fusion (see rank.h; the scan of the vector cache is
 * rank_vec.c's).
 */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/json_glue.h"
#include "embed/embed_int.h"
#include "rank.h"

am_status am__cands_push(am_store *s, am__cands *c, int64_t id)
{
    if (am__grow(s->alloc, (void **)&c->v, &c->cap, c->count + 1,
                 sizeof(am__cand)) != AM_OK)
        return am__fail(&AM__ERR(s), AM_ENOMEM, "search: out of memory");
    memset(&c->v[c->count], 0, sizeof(am__cand));
    c->v[c->count].id = id;
    c->count++;
    return AM_OK;
}

void am__cands_free(am_store *s, am__cands *c)
{
    am__free(s->alloc, c->v, c->cap * sizeof(am__cand));
    c->v = NULL;
    c->count = c->cap = 0;
}

/* ---- The query vector ---- */

/* AM_EINVAL unless the index's vectors came from the embedder `e` (the
 * same dimension is not enough: the vectors must come from the same
 * embedder as the query's). */
static am_status check_vec_model(am_store *s, const am_embedder *e,
                                 size_t qdim)
{
    char want[160];
    am_buf have = AM_BUF_INIT;
    have.alloc = s->alloc;
    snprintf(want, sizeof want, "%s/%zu", e->id, qdim);
    am_status st = s->be->vec_model(s, &have);
    if (st == AM_OK && have.len > 0 &&
        (have.len != strlen(want) || memcmp(have.ptr, want, have.len) != 0))
        st = am__fail(&AM__ERR(s), AM_EINVAL,
                      "search: the index holds vectors of '%.*s', "
                      "the query would be embedded by '%s'", (int)have.len,
                      have.ptr, want);
    am_buf_free(&have);
    return st;
}

am_status am__query_vector(am_store *s, const am_search *q,
                           const float *qemb, float **qv, size_t *qdim)
{
    *qv = NULL;
    *qdim = 0;
    if (q->vec != NULL) {
        *qdim = q->dim;
        if (s->vc.count > 0 && *qdim != s->vc.dim)
            return am__fail(&AM__ERR(s), AM_EINVAL,
                            "search: query vector has %zu dimensions, "
                            "the index %zu", *qdim, s->vc.dim);
        *qv = am__alloc_array(s->alloc, *qdim > 0 ? *qdim : 1,
                              sizeof(float));
        if (*qv == NULL)
            return am__fail(&AM__ERR(s), AM_ENOMEM, "search: out of memory");
        memcpy(*qv, q->vec, *qdim * sizeof(float));
    } else if (s->embedder != NULL && q->query.len > 0) {
        *qdim = s->embedder->dim;
        if (s->vc.count > 0 && *qdim != s->vc.dim)
            return am__fail(&AM__ERR(s), AM_EINVAL,
                            "search: embedder '%s' makes %zu dimensions, "
                            "the index holds %zu", s->embedder->id, *qdim,
                            s->vc.dim);
        if (s->vc.count > 0) {
            am_status st = check_vec_model(s, s->embedder, *qdim);
            if (st != AM_OK)
                return st;
        }
        *qv = am__alloc_array(s->alloc, *qdim, sizeof(float));
        if (*qv == NULL)
            return am__fail(&AM__ERR(s), AM_ENOMEM, "search: out of memory");
        memcpy(*qv, qemb, *qdim * sizeof(float));
    } else if (q->mode == AM_SEARCH_VECTOR) {
        return am__fail(&AM__ERR(s), AM_EINVAL,
                        "search: vector mode needs a query vector or an "
                        "embedder");
    }
    if (*qv != NULL)
        am__vec_normalize(*qv, *qdim);
    return AM_OK;
}

/* ---- Fusion ---- */

static int by_score_desc(const void *a, const void *b)
{
    const am__cand *x = a, *y = b;
    if (x->score != y->score)
        return x->score < y->score ? 1 : -1;
    return x->id < y->id ? -1 : x->id > y->id ? 1 : 0;
}

am_status am__fuse(am_store *s, const am_search *q, const am__cands *tc,
                   const am__cands *vc, int fused, am__cands *all)
{
    am_status st;
    double wt = q->w_text, wv = q->w_vec;
    if (wt <= 0 && wv <= 0) {
        /* Measured on LoCoMo dev (docs/BENCHMARKS.md): static word vectors
         * are a weaker signal than BM25, so they get a fifth of its vote. */
        wt = 1;
        wv = 0.2;
    }
    double floor = q->vec_floor > 0 && q->vec_floor < 1 ? q->vec_floor
                                                         : AM_SEARCH_VEC_FLOOR;
    for (size_t i = 0; i < tc->count; i++) {
        st = am__cands_push(s, all, tc->v[i].id);
        if (st != AM_OK)
            return st;
        all->v[all->count - 1] = tc->v[i];
    }
    for (size_t i = 0; i < vc->count; i++) {
        size_t j = 0;
        while (j < tc->count && all->v[j].id != vc->v[i].id)
            j++;
        if (j == tc->count) {
            st = am__cands_push(s, all, vc->v[i].id);
            if (st != AM_OK)
                return st;
            j = all->count - 1;
        }
        all->v[j].vec = vc->v[i].vec;
        all->v[j].rank_vec = vc->v[i].rank_vec;
        all->v[j].has_vec = vc->v[i].has_vec;
    }
    for (size_t i = 0; i < all->count; i++) {
        am__cand *c = &all->v[i];
        /* A cosine at or below the floor is what unrelated texts score
         * with the default embedder: no similarity. */
        double sv = c->has_vec ? (c->vec - floor) / (1 - floor) : 0;
        sv = sv < 0 ? 0 : sv > 1 ? 1 : sv;
        double sf = c->rank_fts > 0 ? c->fts : 0;
        if (fused)
            c->score = (wt * sf + wv * sv) / (wt + wv);
        else
            c->score = c->rank_fts > 0 ? sf : sv;
    }
    if (all->count > 0)
        qsort(all->v, all->count, sizeof(am__cand), by_score_desc);
    return AM_OK;
}

/* ---- Entity boost ---- */

/* A byte that continues a word: ASCII letters and digits, '_', and every
 * byte of a multi-byte UTF-8 character (so "Zoë" is not matched inside
 * "Zoëlle"). */
static int word_byte(unsigned char c)
{
    return isalnum(c) || c == '_' || c >= 0x80;
}

/* Does `query` contain `name` as a whole word, ASCII case ignored? */
static int query_names(am_str query, const char *name, size_t n)
{
    if (n == 0 || n > query.len)
        return 0;
    for (size_t i = 0; i + n <= query.len; i++) {
        if (i > 0 && word_byte((unsigned char)query.ptr[i - 1]) &&
            word_byte((unsigned char)name[0]))
            continue;
        if (i + n < query.len && word_byte((unsigned char)query.ptr[i + n]) &&
            word_byte((unsigned char)name[n - 1]))
            continue;
        if (strncasecmp(query.ptr + i, name, n) == 0)
            return 1;
    }
    return 0;
}

/* Does the JSON value `f` (a string, or an array of strings) hold a
 * string that `query` names (want_named = 1), or one it does not name
 * (want_named = 0)? */
static int field_holds(am_str query, json_t *f, int want_named)
{
    size_t i;
    json_t *e;
    if (json_is_string(f))
        return query_names(query, json_string_value(f),
                           json_string_length(f)) == want_named;
    if (!json_is_array(f))
        return 0;
    json_array_foreach(f, i, e) {
        if (json_is_string(e) && json_string_length(e) > 0 &&
            query_names(query, json_string_value(e),
                        json_string_length(e)) == want_named)
            return 1;
    }
    return 0;
}

int am__boost_named(const am_search *q, const char *meta, size_t len)
{
    json_t *m = NULL;
    am_error perr = { AM_OK, "" };
    int hit = 0;
    if ((q->boost_field.len == 0 && q->names_field.len == 0) ||
        meta == NULL || len == 0)
        return 0;
    if (am__json_parse_flags((am_str){ meta, len }, 0, "meta", &m, &perr) ==
        AM_ENOMEM)
        return -1;
    if (json_is_object(m) && q->boost_field.len > 0 &&
        field_holds(q->query, json_object_getn(m, q->boost_field.ptr,
                                               q->boost_field.len), 1))
        hit |= AM__NAMED_BOOST;
    if (json_is_object(m) && q->names_field.len > 0 &&
        field_holds(q->query, json_object_getn(m, q->names_field.ptr,
                                               q->names_field.len), 0))
        hit |= AM__NAMED_OTHER;
    json_decref(m);
    return hit;
}

static double boost_weight(const am_search *q)
{
    if (q->boost_field.len == 0)
        return 0;
    return q->boost > 0 ? q->boost : AM_SEARCH_BOOST;
}

static double names_weight(const am_search *q)
{
    if (q->names_field.len == 0)
        return 0;
    return q->names_bonus > 0 ? q->names_bonus : AM_SEARCH_NAMES_BONUS;
}

/* How many of the best candidates the boost must read (see am__boost). */
static size_t boost_span(const am_search *q, const am__cands *all,
                         size_t limit)
{
    if (q->boost_field.len == 0 && q->names_field.len == 0)
        return 0;
    if (limit == 0 || all->count <= limit)
        return all->count;
    /* Boosting only raises scores, so the limit-th best score after it is
     * at least the limit-th best before it; a candidate that cannot
     * reach that even raised by both cannot make the results, and neither
     * can any after it (`all` is sorted, and the most a score s can
     * become, 1 - (1 - s)(1 - b)(1 - n), grows with s). */
    double keep = (1 - boost_weight(q)) * (1 - names_weight(q));
    double bar = all->v[limit - 1].score;
    size_t n = limit;
    while (n < all->count && 1 - (1 - all->v[n].score) * keep >= bar)
        n++;
    return n;
}

am_status am__boost(am_store *s, const am_search *q, size_t limit,
                    am__cands *all, am__boost_read_fn read, void *ctx)
{
    size_t span = boost_span(q, all, limit);
    if (span == 0)
        return AM_OK;
    int *named = am__alloc_array(s->alloc, span, sizeof(int));
    if (named == NULL)
        return am__fail(&AM__ERR(s), AM_ENOMEM, "search: out of memory");
    memset(named, 0, span * sizeof(int));
    am_status st = read(s, q, all, span, named, ctx);
    for (size_t i = 0; st == AM_OK && i < span; i++)
        if (named[i] < 0)
            st = am__fail(&AM__ERR(s), AM_ENOMEM, "search: out of memory");
    if (st == AM_OK) {
        double b = boost_weight(q), nb = names_weight(q);
        for (size_t i = 0; i < span; i++) {
            am__cand *c = &all->v[i];
            /* score + b (1 - score): stays in [0, 1] and keeps the order
             * of the items it raises; an item that matches nothing of the
             * query is not raised by a name alone. */
            if (c->score <= 0 || named[i] <= 0)
                continue;
            if (named[i] & AM__NAMED_BOOST)
                c->score += b * (1 - c->score);
            /* Naming something is a hint of content, not relevance to
             * the query: it orders results but never lifts one over
             * min_score (on LoCoMo dev it took the questions asked of a
             * foreign conversation that answer anything from 14.1% to
             * 16.9%). */
            if ((named[i] & AM__NAMED_OTHER) && c->score >= q->min_score)
                c->score += nb * (1 - c->score);
        }
        qsort(all->v, all->count, sizeof(am__cand), by_score_desc);
    }
    am__free(s->alloc, named, span * sizeof(int));
    return st;
}
