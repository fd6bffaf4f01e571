/* prf.c -- pseudo-relevance feedback, the part both backends share: which
 * words of the top text results expand the query (am_search.prf_docs).
 *
 * A backend feeds the texts of its top results (am__prf_add), then asks
 * for the expanded query (am__prf_expand), counting each candidate word's
 * documents its own way (FTS5 on SQLite, the tsvector index on
 * PostgreSQL). So both expand a query with the same words, given the same
 * items. Also the stopword list, which the SQLite backend's query builder
 * uses too.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "store_int.h"

/* Words too common to help BM25 and costly to look up (sorted). */
static const char *const stopwords[] = {
    "a", "about", "an", "and", "are", "as", "at", "be", "by", "did", "do",
    "does", "for", "from", "had", "has", "have", "he", "her", "his", "how",
    "i", "in", "is", "it", "its", "me", "my", "of", "on", "or", "she",
    "that", "the", "their", "them", "they", "this", "to", "was", "we",
    "were", "what", "when", "where", "which", "who", "whom", "why", "will",
    "with", "you", "your",
};

int am__is_stopword(const char *w, size_t n)
{
    size_t lo = 0, hi = sizeof stopwords / sizeof stopwords[0];
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strncmp(stopwords[mid], w, n);
        if (c == 0 && stopwords[mid][n] != '\0')
            c = 1;
        if (c == 0)
            return 1;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return 0;
}

void am__prf_begin(am__prf *p, am_str query)
{
    p->count = 0;
    p->query = query;
}

static void add_word(const char *w, size_t n, void *ctx)
{
    am__prf *p = ctx;
    if (n < 3 || n >= sizeof p->t[0].w || am__is_stopword(w, n) ||
        am__words_contain(p->query, w, n))
        return;
    for (size_t i = 0; i < p->count; i++)
        if (strlen(p->t[i].w) == n && memcmp(p->t[i].w, w, n) == 0) {
            p->t[i].n++;
            return;
        }
    if (p->count == AM__PRF_CAP)
        return; /* enough distinct candidates */
    memcpy(p->t[p->count].w, w, n);
    p->t[p->count].w[n] = '\0';
    p->t[p->count].n = 1;
    p->count++;
}

void am__prf_add(am__prf *p, const char *text, size_t len)
{
    am__words(text, len, add_word, p);
}

static int by_n(const void *a, const void *b)
{
    const am__prf_term *x = a, *y = b;
    return x->n < y->n ? 1 : x->n > y->n ? -1 : 0;
}

static int by_score(const void *a, const void *b)
{
    const am__prf_term *x = a, *y = b;
    return x->score < y->score ? 1 : x->score > y->score ? -1 : 0;
}

am_status am__prf_expand(am__prf *p, double total, size_t nterms,
                         am__prf_df df, void *ctx, am_buf *out)
{
    am_status st = am_buf_append(out, p->query.ptr, p->query.len);
    if (st != AM_OK || p->count == 0)
        return st;
    /* Score the most frequent candidates by tf * idf. */
    qsort(p->t, p->count, sizeof *p->t, by_n);
    size_t nc = p->count < 24 ? p->count : 24;
    int64_t cap = (int64_t)(total / 10 > 50 ? total / 10 : 50);
    for (size_t i = 0; i < nc; i++) {
        double d = (double)cap;
        if (df(ctx, p->t[i].w, cap, &d) != AM_OK)
            d = (double)cap; /* feedback is only a hint */
        p->t[i].score = (double)p->t[i].n * log((total + 1) / (d + 1));
    }
    qsort(p->t, nc, sizeof *p->t, by_score);
    for (size_t i = 0; i < nc && i < nterms && st == AM_OK; i++)
        if (p->t[i].score > 0)
            st = am_buf_appendf(out, " %s", p->t[i].w);
    return st;
}
