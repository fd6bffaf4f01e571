/* names.c -- the proper names a text mentions, for the names bonus of
 * am_store_search (am_search.names_field).
 *
 * The idea, measured on LoCoMo dev (docs/BENCHMARKS.md, "Proper names"):
 * a chat turn that names a place, a title or a child ("we went to Paris",
 * "my son Max") usually carries a fact, while "haha same here" does not;
 * a turn that names something the question does not name is the likelier
 * answer. Capitalisation is the only cue that needs no model, so a name is
 * a word of ASCII letters, a capital and at least one more letter, that does not open a sentence (the first word, or one after '.',
 * '!', '?', '"' or ':', where capitals say nothing), is not one of a few
 * words chat capitalises out of habit ("Yeah", "Thanks"), and is not one
 * of the caller's exclusions (the speakers: their names are everywhere).
 */
#include <string.h>

#include "agentmem/store.h"
#include "core/core.h"

/* Words chat capitalises without naming anything (the list rerank.py's
 * replay used). */
static const char *const habit[] = {
    "The", "An", "And", "But", "So", "Yeah", "Yes", "Hey", "Hi", "Wow",
    "Thanks", "Thank", "Oh", "It", "That", "This", "What", "My", "We",
    "You", "Sounds", "Great",
};

static int is_upper(unsigned char c)
{
    return c >= 'A' && c <= 'Z';
}

static int is_alpha(unsigned char c)
{
    return is_upper(c) || (c >= 'a' && c <= 'z');
}

/* A byte inside a word: letters, digits, '_' and every byte of a
 * multi-byte UTF-8 character (so "Zoë" does not start a name at 'ë'). */
static int in_word(unsigned char c)
{
    return is_alpha(c) || (c >= '0' && c <= '9') || c == '_' || c >= 0x80;
}

static int same(am_str a, const char *p, size_t n)
{
    return a.len == n && memcmp(a.ptr, p, n) == 0;
}

/* Does a sentence start at `i`: nothing but spaces before it, or spaces
 * after a sentence end or a "Speaker:" prefix? */
static int opens_sentence(am_str t, size_t i)
{
    while (i > 0 && (t.ptr[i - 1] == ' ' || t.ptr[i - 1] == '\t' ||
                     t.ptr[i - 1] == '\n' || t.ptr[i - 1] == '\r'))
        i--;
    return i == 0 || strchr(".!?\":", t.ptr[i - 1]) != NULL;
}

static int is_habit(const char *p, size_t n)
{
    for (size_t k = 0; k < sizeof habit / sizeof habit[0]; k++)
        if (strlen(habit[k]) == n && memcmp(habit[k], p, n) == 0)
            return 1;
    return 0;
}

/* The names found so far, as places in the text: an open-addressing
 * set, so that a text with many names is not quadratic (a list searched
 * for every word was: 1 MB holding 100,000 distinct names took 28 s). */
typedef struct seen {
    const am_allocator *alloc;
    struct { size_t off, len; } *e; /* len 0: empty */
    size_t cap, n;
} seen;

static size_t seen_slot(const seen *t, const char *text, const char *w,
                        size_t n)
{
    size_t i = (size_t)am__hash64(w, n, 0) & (t->cap - 1);
    while (t->e[i].len != 0 && !(t->e[i].len == n &&
                                 memcmp(text + t->e[i].off, w, n) == 0))
        i = (i + 1) & (t->cap - 1);
    return i;
}

/* Add word w[0..n) of `text`; *fresh says whether it was new. */
static am_status seen_add(seen *t, const char *text, const char *w, size_t n,
                          int *fresh)
{
    if (2 * (t->n + 1) > t->cap) {
        seen g = { t->alloc, NULL, t->cap ? 2 * t->cap : 64, 0 };
        g.e = am__calloc(g.alloc, g.cap, sizeof *g.e);
        if (g.e == NULL)
            return AM_ENOMEM;
        for (size_t k = 0; k < t->cap; k++)
            if (t->e[k].len != 0)
                g.e[seen_slot(&g, text, text + t->e[k].off, t->e[k].len)] =
                    t->e[k];
        g.n = t->n;
        am__free(t->alloc, t->e, t->cap * sizeof *t->e);
        *t = g;
    }
    size_t i = seen_slot(t, text, w, n);
    *fresh = t->e[i].len == 0;
    if (*fresh) {
        t->e[i].off = (size_t)(w - text);
        t->e[i].len = n;
        t->n++;
    }
    return AM_OK;
}

am_status am_text_names(am_str text, const am_str *exclude,
                        size_t exclude_count, am_buf *out, am_error *err)
{
    seen names = { NULL, NULL, 0, 0 };
    am_status st = AM_OK;
    size_t found = 0;

    am_error_clear(err);
    if (out == NULL)
        return am__fail(err, AM_EINVAL, "text names: NULL output buffer");
    if (text.ptr == NULL && text.len > 0)
        return am__fail(err, AM_EINVAL, "text names: NULL text of %zu bytes",
                        text.len);
    if (exclude == NULL && exclude_count > 0)
        return am__fail(err, AM_EINVAL, "text names: NULL exclusion list "
                        "of %zu names", exclude_count);
    for (size_t k = 0; k < exclude_count; k++)
        if (exclude[k].ptr == NULL && exclude[k].len > 0)
            return am__fail(err, AM_EINVAL, "text names: exclusion %zu is "
                            "NULL with %zu bytes", k, exclude[k].len);
    names.alloc = out->alloc;
    am_buf_clear(out);
    st = am_buf_append(out, "[", 1);
    for (size_t i = 0; st == AM_OK && i < text.len; i++) {
        const unsigned char *p = (const unsigned char *)text.ptr;
        if (!is_upper(p[i]) || (i > 0 && in_word(p[i - 1])))
            continue;
        size_t n = 1;
        while (i + n < text.len && is_alpha(p[i + n]))
            n++;
        const char *w = text.ptr + i;
        /* A word that goes on with a digit or a non-ASCII letter ("R2D2",
         * "Zoë") is not an ASCII name: skip all of it. */
        int whole = i + n == text.len || !in_word(p[i + n]);
        int keep = whole && n >= 2 && !opens_sentence(text, i) &&
                   !is_habit(w, n);
        for (size_t k = 0; keep && k < exclude_count; k++)
            keep = !same(exclude[k], w, n);
        if (keep)
            st = seen_add(&names, text.ptr, w, n, &keep);
        if (st == AM_OK && keep) {
            st = am_buf_appendf(out, "%s\"%.*s\"", found ? "," : "", (int)n,
                                w);
            found++;
        }
        while (i + n < text.len && in_word(p[i + n]))
            n++;
        i += n - 1;
    }
    if (st == AM_OK)
        st = am_buf_append(out, "]", 1);
    am__free(names.alloc, names.e, names.cap * sizeof *names.e);
    if (st != AM_OK) {
        am_buf_clear(out);
        return am__fail(err, st, "text names: out of memory");
    }
    return AM_OK;
}
