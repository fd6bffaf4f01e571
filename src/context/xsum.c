/* xsum.c -- the offline extractive summarizer.
 *
 * No network and no model: the summary is made of sentences taken from the
 * messages themselves, chosen for what later turns are likely to need.
 * Each sentence is scored for numbers, dates, names (capitalized words
 * inside a sentence), decisions, errors, questions and importance markers;
 * tool calls and their outcomes become one line each. The best sentences
 * that fit the token budget are printed in their original order, after a
 * header with message and tool counts. Ties break on position, so the same
 * input always gives the same bytes.
 *
 * Incremental use: a previous summary made here is parsed back (its counts
 * and its bullet lines), and its lines compete with the new sentences with
 * a small bonus, so a running summary never re-reads the whole history.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agentmem/msg.h"
#include "context_int.h"

#define SENT_MAX 280     /* longest sentence kept, in bytes */
#define TOOL_ARGS_MAX 120
#define TOOL_OUT_MAX 160
#define MAX_TOOLS 64

size_t am__count_estimate(void *ctx, const char *s, size_t len)
{
    (void)ctx;
    (void)s;
    return am__tokens_estimate(len);
}

typedef struct sent {
    const char *tag;   /* role or "tool NAME" label, points into tag_buf */
    size_t tag_len;
    am_str text;
    int score;
    size_t order;      /* position in the input */
    uint64_t hash;
    size_t words;      /* space-separated words of text */
    bool question;
    bool chosen;
    bool owned_text;   /* text lives in `scratch` */
} sent;

typedef struct tool_count {
    char name[64];
    size_t calls, ok, failed;
} tool_count;

/* Keyword classes, looked up once per word by binary search (the table
 * is sorted), so scoring is linear in the sentence length. */
enum { KW_DATE = 1, KW_DECISION = 2, KW_ERROR = 4, KW_EVENT = 16,
       KW_PREF = 32, KW_SELF = 64 };

typedef struct kw {
    const char *w;
    int cls;
} kw;

/* The keywords, bucketed by length (generated from one sorted list).
 * Dates and times, decisions, errors, events (things that happened:
 * irregular past tenses; regular ones are found by their "-ed"), likes
 * and dislikes, and first-person words (a speaker's own facts). */
static const kw kw_len2[] = {
    { "my", KW_SELF }, { "we", KW_SELF },
};
static const kw kw_len3[] = {
    { "ago", KW_DATE }, { "ate", KW_EVENT }, { "bug", KW_ERROR },
    { "got", KW_EVENT }, { "may", KW_DATE }, { "met", KW_EVENT },
    { "our", KW_SELF }, { "ran", KW_EVENT }, { "saw", KW_EVENT },
    { "use", KW_DECISION }, { "won", KW_EVENT },
};
static const kw kw_len4[] = {
    { "born", KW_EVENT }, { "drew", KW_EVENT }, { "fail", KW_ERROR },
    { "flew", KW_EVENT }, { "gave", KW_EVENT }, { "hate", KW_PREF },
    { "july", KW_DATE }, { "june", KW_DATE }, { "kept", KW_EVENT },
    { "left", KW_EVENT }, { "lost", KW_EVENT }, { "love", KW_PREF },
    { "made", KW_EVENT }, { "must", KW_DECISION }, { "need", KW_DECISION },
    { "plan", KW_DECISION }, { "read", KW_EVENT }, { "sold", KW_EVENT },
    { "took", KW_EVENT }, { "week", KW_DATE }, { "went", KW_EVENT },
    { "will", KW_DECISION }, { "year", KW_DATE },
};
static const kw kw_len5[] = {
    { "agree", KW_DECISION }, { "april", KW_DATE }, { "began", KW_EVENT },
    { "built", KW_EVENT }, { "chose", KW_DECISION }, { "crash", KW_ERROR },
    { "drove", KW_EVENT }, { "enjoy", KW_PREF }, { "error", KW_ERROR },
    { "found", KW_EVENT }, { "going", KW_DECISION }, { "hates", KW_PREF },
    { "loves", KW_PREF }, { "march", KW_DATE }, { "month", KW_DATE },
    { "today", KW_DATE }, { "using", KW_DECISION }, { "weeks", KW_DATE },
    { "wrote", KW_EVENT }, { "years", KW_DATE },
};
static const kw kw_len6[] = {
    { "agreed", KW_DECISION }, { "august", KW_DATE }, { "bought", KW_EVENT },
    { "choose", KW_DECISION }, { "decide", KW_DECISION },
    { "denied", KW_ERROR }, { "enjoys", KW_PREF }, { "errors", KW_ERROR },
    { "friday", KW_DATE }, { "joined", KW_EVENT }, { "monday", KW_DATE },
    { "months", KW_DATE }, { "prefer", KW_DECISION },
    { "should", KW_DECISION }, { "signed", KW_EVENT }, { "sunday", KW_DATE },
    { "switch", KW_DECISION },
};
static const kw kw_len7[] = {
    { "adopted", KW_EVENT }, { "brought", KW_EVENT }, { "crashed", KW_ERROR },
    { "decided", KW_DECISION }, { "failure", KW_ERROR },
    { "invalid", KW_ERROR }, { "january", KW_DATE }, { "married", KW_EVENT },
    { "october", KW_DATE }, { "painted", KW_EVENT },
    { "prefers", KW_DECISION }, { "refused", KW_ERROR },
    { "started", KW_EVENT }, { "taught", KW_EVENT }, { "timeout", KW_ERROR },
    { "tuesday", KW_DATE }, { "visited", KW_EVENT }, { "weekend", KW_DATE },
};
static const kw kw_len8[] = {
    { "attended", KW_EVENT }, { "birthday", KW_EVENT },
    { "deadline", KW_DATE }, { "december", KW_DATE },
    { "decision", KW_DECISION }, { "favorite", KW_PREF },
    { "february", KW_DATE }, { "finished", KW_EVENT },
    { "november", KW_DATE }, { "saturday", KW_DATE }, { "thursday", KW_DATE },
    { "tomorrow", KW_DATE },
};
static const kw kw_len9[] = {
    { "confirmed", KW_DECISION }, { "exception", KW_ERROR },
    { "favourite", KW_PREF }, { "graduated", KW_EVENT },
    { "september", KW_DATE }, { "traceback", KW_ERROR },
    { "wednesday", KW_DATE }, { "yesterday", KW_DATE },
};
static const struct { const kw *k; size_t n; } kw_by_len[10] = {
    { NULL, 0 },
    { NULL, 0 },
    { kw_len2, sizeof kw_len2 / sizeof kw_len2[0] },
    { kw_len3, sizeof kw_len3 / sizeof kw_len3[0] },
    { kw_len4, sizeof kw_len4 / sizeof kw_len4[0] },
    { kw_len5, sizeof kw_len5 / sizeof kw_len5[0] },
    { kw_len6, sizeof kw_len6 / sizeof kw_len6[0] },
    { kw_len7, sizeof kw_len7 / sizeof kw_len7[0] },
    { kw_len8, sizeof kw_len8 / sizeof kw_len8[0] },
    { kw_len9, sizeof kw_len9 / sizeof kw_len9[0] },
};
#define KW_MAXLEN 9



/* Importance markers, parsed once per summary. */
#define MAX_MARKERS 16
typedef struct marker_set {
    char w[MAX_MARKERS][32];
    size_t n;
} marker_set;

static void markers_parse(am_str s, marker_set *out)
{
    size_t i = 0;
    out->n = 0;
    while (i < s.len && out->n < MAX_MARKERS) {
        size_t j = i, k = 0;
        while (j < s.len && s.ptr[j] != ',')
            j++;
        for (size_t t = i; t < j && k + 1 < sizeof out->w[0]; t++)
            if (isalnum((unsigned char)s.ptr[t]))
                out->w[out->n][k++] =
                    (char)am__ascii_lower((unsigned char)s.ptr[t]);
        out->w[out->n][k] = '\0';
        if (k > 0)
            out->n++;
        i = j + 1;
    }
}

static bool is_alnum_ascii(unsigned char c)
{
    return (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z');
}

/* True when `s` holds `p` (lowercase ASCII) at byte `at`, any case. */
static bool starts_ci(am_str s, size_t at, const char *p)
{
    size_t n = strlen(p);
    if (at > s.len || s.len - at < n)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s.ptr[at + i];
        if (c >= 'A' && c <= 'Z')
            c = (char)(c | 0x20);
        if (c != p[i])
            return false;
    }
    return true;
}

/* Classes of the words in `s` (KW_* bits), plus 8 for a marker. Only
 * words of 2 to 15 ASCII letters or digits can match; keywords are looked
 * up in the bucket of their length. */
static int word_classes(am_str s, const marker_set *mk)
{
    int cls = 0;
    size_t i = 0;
    while (i < s.len) {
        char w[16];
        size_t j = i;
        while (j < s.len && is_alnum_ascii((unsigned char)s.ptr[j]))
            j++;
        if (j - i >= 2 && j - i < sizeof w) {
            size_t k;
            for (k = 0; k < j - i && k + 1 < sizeof w; k++) {
                char c = s.ptr[i + k];
                w[k] = (char)(c >= 'A' && c <= 'Z' ? c | 0x20 : c);
            }
            w[k] = '\0';
            /* "must have been", "must've", "must be": a guess, not an
             * obligation -- neither a decision nor a marker. */
            if (k == 4 && memcmp(w, "must", 4) == 0 &&
                (starts_ci(s, j, " have") || starts_ci(s, j, "'ve") ||
                 starts_ci(s, j, "\xe2\x80\x99ve") ||
                 starts_ci(s, j, " be "))) {
                i = j + 1;
                continue;
            }
            if (k <= KW_MAXLEN) {
                const kw *t = kw_by_len[k].k;
                for (size_t q = 0; q < kw_by_len[k].n; q++)
                    if (t[q].w[0] == w[0] && memcmp(t[q].w, w, k) == 0) {
                        cls |= t[q].cls;
                        break;
                    }
            }
            /* A regular past tense ("visited", not "need"/"indeed"). */
            if (k >= 5 && w[k - 2] == 'e' && w[k - 1] == 'd' &&
                w[k - 3] != 'e')
                cls |= KW_EVENT;
            for (size_t m = 0; mk != NULL && m < mk->n; m++)
                if (mk->w[m][0] == w[0] && strcmp(mk->w[m], w) == 0)
                    cls |= 8;
        }
        i = j + 1;
    }
    return cls;
}

typedef struct xs {
    const am_allocator *a;
    sent *s;
    size_t n, cap;
    tool_count tools[MAX_TOOLS];
    size_t ntools;
    size_t msgs, by_role[5]; /* user, assistant, tool, system, other */
    am_buf scratch;          /* tool lines */
    marker_set mk;
} xs;

/* The content of a sentence, without the labels a transcript puts in
 * front of a turn: a leading "[...]" (a date or time stamp) and a
 * speaker label "Name:" (one to three capitalized words). Scoring looks
 * at the content only, so a stamp's digits or a speaker's name do not
 * make "Hey Mel!" look like a fact. */
static am_str content_of(am_str s)
{
    size_t i = 0;
    if (s.len > 2 && s.ptr[0] == '[') {
        const char *c = memchr(s.ptr, ']', s.len < 80 ? s.len : 80);
        if (c != NULL) {
            i = (size_t)(c - s.ptr) + 1;
            while (i < s.len && s.ptr[i] == ' ')
                i++;
        }
    }
    {
        size_t j = i, words = 0;
        while (j < s.len && j - i < 48 && words < 3 && s.ptr[j] >= 'A' &&
               s.ptr[j] <= 'Z') {
            while (j < s.len && is_alnum_ascii((unsigned char)s.ptr[j]))
                j++;
            words++;
            if (j + 1 < s.len && s.ptr[j] == ':' && s.ptr[j + 1] == ' ') {
                i = j + 2;
                break;
            }
            if (j < s.len && s.ptr[j] == ' ')
                j++;
            else
                break;
        }
    }
    return (am_str){ s.ptr + i, s.len - i };
}

static int score_sentence(am_str s, const marker_set *mk, bool *question)
{
    int score = 0, caps = 0, cls;
    bool digit = false, self = false;

    s = content_of(s);
    for (size_t i = 0; i < s.len; i++) {
        unsigned char c = (unsigned char)s.ptr[i];
        if (c >= '0' && c <= '9')
            digit = true;
        if (c == 'I' && (i == 0 || s.ptr[i - 1] == ' ') &&
            (i + 1 == s.len || !is_alnum_ascii((unsigned char)s.ptr[i + 1]))) {
            self = true; /* "I", "I'm", "I've": not a name */
            continue;
        }
        /* A capitalized word not at the start of the sentence: a name. */
        if (i > 1 && c >= 'A' && c <= 'Z' && s.ptr[i - 1] == ' ' &&
            s.ptr[i - 2] != '.' && caps < 3)
            caps++;
    }
    if (digit)
        score += 2;
    score += caps;
    cls = word_classes(s, mk);
    if (cls & KW_DATE)
        score += 2;
    if (cls & KW_DECISION)
        score += 2;
    if (cls & KW_ERROR)
        score += 4;
    if (cls & KW_EVENT)
        score += 2;
    if (cls & KW_PREF)
        score += 2;
    /* A marker weighs like a date or an event: in conversation the
     * default ones ("important", "remember", "must") are also ordinary
     * words. */
    if (cls & 8)
        score += 2;
    /* Someone's own facts ("I joined ...", "my sister ...") are what a
     * conversation is later asked about. */
    if (self || (cls & KW_SELF))
        score += 1;
    /* Questions are scored when the summary is assembled: an open one
     * (nobody answered after it) counts, an answered one does not. */
    *question = s.len > 0 && s.ptr[s.len - 1] == '?';
    if (s.len < 16)
        score -= 2;
    return score;
}

/* ---- Collecting sentences ---- */

static am_status push(xs *x, const char *tag, size_t tag_len, am_str text,
                      int bonus, size_t order, bool owned)
{
    am_str t = text;
    bool q = false;
    sent *e;

    while (t.len > 0 && isspace((unsigned char)t.ptr[0]))
        t.ptr++, t.len--;
    if (t.len > 1 && (t.ptr[0] == '-' || t.ptr[0] == '*') && t.ptr[1] == ' ')
        t.ptr += 2, t.len -= 2;
    while (t.len > 0 && isspace((unsigned char)t.ptr[t.len - 1]))
        t.len--;
    if (t.len < 2)
        return AM_OK;
    if (t.len > SENT_MAX)
        t.len = am__utf8_floor(t.ptr, SENT_MAX);
    if (am__grow(x->a, (void **)&x->s, &x->cap, x->n + 1, sizeof *x->s) !=
        AM_OK)
        return AM_ENOMEM;
    e = &x->s[x->n++];
    memset(e, 0, sizeof *e);
    e->tag = tag;
    e->tag_len = tag_len;
    e->text = t;
    e->owned_text = owned;
    e->order = order;
    e->score = score_sentence(t, &x->mk, &q) + bonus;
    e->question = q;
    {
        /* Duplicates are judged case-insensitively on letters and digits;
         * words (for the selection's lower bound) start after a space. */
        uint64_t h = 1469598103934665603ull;
        bool space = true;
        size_t words = 0;
        for (size_t i = 0; i < t.len; i++) {
            unsigned char c = (unsigned char)t.ptr[i];
            if (is_alnum_ascii(c) || c >= 0x80) {
                h ^= (uint64_t)(c >= 'A' && c <= 'Z' ? c | 0x20 : c);
                h *= 1099511628211ull;
                words += space;
                space = false;
            } else {
                bool sp = c == ' ' || (c >= '\t' && c <= '\r');
                words += space && !sp;
                space = sp;
            }
        }
        e->hash = h ^ (uint64_t)tag_len;
        e->words = words;
    }
    return AM_OK;
}

/* Split `text` into sentences at ". ", "! ", "? " and newlines. */
static am_status push_sentences(xs *x, const char *tag, size_t tag_len,
                                am_str text, int bonus, size_t *order)
{
    size_t start = 0, i = 0;
    while (i <= text.len) {
        size_t stop = SIZE_MAX, next = 0;
        if (i == text.len || text.ptr[i] == '\n') {
            stop = i;
            next = i + 1;
        } else if ((text.ptr[i] == '.' || text.ptr[i] == '!' ||
                    text.ptr[i] == '?') &&
                   i + 1 < text.len && text.ptr[i + 1] == ' ') {
            stop = i + 1;
            next = i + 2;
        }
        if (stop == SIZE_MAX) {
            i++;
            continue;
        }
        if (stop > start) {
            am_status st = push(x, tag, tag_len,
                                (am_str){ text.ptr + start, stop - start },
                                bonus, (*order)++, false);
            if (st != AM_OK)
                return st;
        }
        start = next;
        i = next;
    }
    return AM_OK;
}

static tool_count *tool_slot(xs *x, am_str name)
{
    size_t n = name.len < 63 ? name.len : 63;
    for (size_t i = 0; i < x->ntools; i++)
        if (strlen(x->tools[i].name) == n &&
            memcmp(x->tools[i].name, name.ptr, n) == 0)
            return &x->tools[i];
    if (x->ntools == MAX_TOOLS)
        return NULL;
    tool_count *t = &x->tools[x->ntools++];
    memset(t, 0, sizeof *t);
    memcpy(t->name, name.ptr, n);
    t->name[n] = '\0';
    return t;
}

/* The by_role slot of `role`: the header's order, which is not the
 * enum's; a name am_role_parse does not know is "other". */
static int role_slot(am_str role)
{
    static const int slot[AM_ROLE_COUNT] = {
        [AM_ROLE_USER] = 0, [AM_ROLE_ASSISTANT] = 1, [AM_ROLE_TOOL] = 2,
        [AM_ROLE_SYSTEM] = 3
    };
    am_role r;
    return am_role_parse(role, &r, NULL) == AM_OK ? slot[r] : 4;
}

static bool is_role(am_str s, am_role want)
{
    am_role r;
    return am_role_parse(s, &r, NULL) == AM_OK && r == want;
}

/* Parse a previous summary made by this file: header counts, tool counts
 * and bullet lines. Unknown text is kept as plain sentences. */
static am_status absorb_previous(xs *x, am_str prev, size_t *order)
{
    size_t pos = 0;
    while (pos < prev.len) {
        const char *nl = memchr(prev.ptr + pos, '\n', prev.len - pos);
        size_t end = nl != NULL ? (size_t)(nl - prev.ptr) : prev.len;
        am_str ln = { prev.ptr + pos, end - pos };
        unsigned long a = 0, b = 0, c = 0, d = 0, e = 0, f = 0;
        char tmp[512];
        size_t tl = ln.len < sizeof tmp - 1 ? ln.len : sizeof tmp - 1;

        pos = end + 1;
        if (ln.len > 2 && ln.ptr[0] == '-' && ln.ptr[1] == ' ')
            goto bullet; /* most lines: no copy, no sscanf */
        memcpy(tmp, ln.ptr, tl);
        tmp[tl] = '\0';
        if (sscanf(tmp, "Summary of %lu earlier messages (%lu user, %lu "
                        "assistant, %lu tool, %lu system, %lu other)",
                   &a, &b, &c, &d, &e, &f) == 6) {
            x->msgs += a;
            x->by_role[0] += b;
            x->by_role[1] += c;
            x->by_role[2] += d;
            x->by_role[3] += e;
            x->by_role[4] += f;
            continue;
        }
        if (strncmp(tmp, "Tools: ", 7) == 0) {
            /* "Tools: name x3 (2 ok, 1 failed); other x1 (1 ok, 0 failed)" */
            char *p = tmp + 7;
            while (*p != '\0') {
                char name[64];
                unsigned long calls = 0, ok = 0, failed = 0;
                int used = 0;
                if (sscanf(p, "%63s x%lu (%lu ok, %lu failed)%n", name,
                           &calls, &ok, &failed, &used) != 4 || used == 0)
                    break;
                tool_count *t = tool_slot(x, am_str_c(name));
                if (t != NULL) {
                    t->calls += calls;
                    t->ok += ok;
                    t->failed += failed;
                }
                p += used;
                while (*p == ';' || *p == ' ')
                    p++;
            }
            continue;
        }
        if (strcmp(tmp, "Key points:") == 0 ||
            strcmp(tmp, "Questions:") == 0)
            continue;
    bullet:
        if (ln.len > 2 && ln.ptr[0] == '-' && ln.ptr[1] == ' ') {
            /* "- [tag] text": keep the tag as it was. */
            am_str body = { ln.ptr + 2, ln.len - 2 };
            const char *tag = "summary";
            size_t tag_len = 7;
            if (body.len > 2 && body.ptr[0] == '[') {
                const char *close = memchr(body.ptr, ']', body.len);
                if (close != NULL) {
                    tag = body.ptr + 1;
                    tag_len = (size_t)(close - body.ptr) - 1;
                    body.len -= (size_t)(close - body.ptr) + 1;
                    body.ptr = close + 1;
                }
            }
            am_status st = push(x, tag, tag_len, body, 1, (*order)++, false);
            if (st != AM_OK)
                return st;
            continue;
        }
        if (ln.len > 0) {
            am_status st = push_sentences(x, "summary", 7, ln, 1, order);
            if (st != AM_OK)
                return st;
        }
    }
    return AM_OK;
}

/* ---- Selection ---- */

static int by_score(const void *pa, const void *pb)
{
    const sent *a = *(const sent *const *)pa, *b = *(const sent *const *)pb;
    if (a->score != b->score)
        return a->score > b->score ? -1 : 1;
    /* Recent first on ties: later turns tend to hold the current state. */
    if (a->order != b->order)
        return a->order > b->order ? -1 : 1;
    return 0;
}

/* The tokens of the line as printed, "- [tag] text\n", rendered into
 * `line`. Lines end with a newline, where every encoding's pre-tokenizer
 * splits, so the exact count of the summary is the sum of its parts. */
static am_status line_tokens(const sent *e, am__count_fn count, void *cctx,
                             am_buf *line, size_t *out)
{
    size_t len = e->tag_len + e->text.len + 6;
    if (count == am__count_estimate) {
        *out = am__count_estimate(NULL, NULL, len); /* no need to render */
        return AM_OK;
    }
    am_buf_clear(line);
    if (am_buf_reserve(line, len) != AM_OK)
        return AM_ENOMEM;
    (void)am_buf_append(line, "- [", 3);
    (void)am_buf_append(line, e->tag, e->tag_len);
    (void)am_buf_append(line, "] ", 2);
    (void)am_buf_append(line, e->text.ptr, e->text.len);
    (void)am_buf_append(line, "\n", 1);
    *out = count(cctx, line->ptr, line->len);
    return AM_OK;
}

am_status am__xsum(const am_allocator *a, am_str prev_summary,
                   const am__xitem *items, size_t n, size_t budget,
                   am_str markers, am__count_fn count, void *cctx,
                   am_buf *out, am_error *err)
{
    return am__xsum_ex(a, prev_summary, items, n, budget, markers, count,
                       cctx, false, out, err);
}

/* ---- The summary, step by step ---- */

/* Tool lines need their own text ("search -> ok: ..."): build them all
 * into x->scratch first, so that pointers into it stay valid; offs[i] is
 * where item i's line starts. Counts calls and outcomes per tool. */
static am_status tool_lines(xs *x, const am__xitem *items, size_t n,
                            size_t *offs)
{
    am_status st = AM_OK;

    for (size_t i = 0; i < n; i++) {
        const am__xitem *it = &items[i];
        am_str name = it->tool_name.len > 0 ? it->tool_name : AM_STR("tool");
        am_str body = it->text;
        offs[i] = x->scratch.len;
        if (it->is_tool_call) {
            if (body.len > TOOL_ARGS_MAX)
                body.len = am__utf8_floor(body.ptr, TOOL_ARGS_MAX);
            st = am_buf_appendf(&x->scratch, "called %.*s %.*s",
                                (int)name.len, name.ptr, (int)body.len,
                                body.ptr);
        } else if (it->is_tool_result) {
            am_str head = { body.ptr, body.len < 200 ? body.len : 200 };
            bool failed = it->is_error ||
                          (word_classes(head, NULL) & KW_ERROR) != 0;
            tool_count *t = tool_slot(x, name);
            if (t != NULL) {
                if (failed)
                    t->failed++;
                else
                    t->ok++;
            }
            /* First line of the result: the outcome in brief. */
            const char *nl = memchr(body.ptr, '\n', body.len);
            if (nl != NULL)
                body.len = (size_t)(nl - body.ptr);
            if (body.len > TOOL_OUT_MAX)
                body.len = am__utf8_floor(body.ptr, TOOL_OUT_MAX);
            st = am_buf_appendf(&x->scratch, "%.*s -> %s: %.*s",
                                (int)name.len, name.ptr,
                                failed ? "error" : "ok", (int)body.len,
                                body.ptr);
        }
        if (st != AM_OK)
            return st;
        if (it->is_tool_call) {
            tool_count *t = tool_slot(x, name);
            if (t != NULL)
                t->calls++;
        }
    }
    return AM_OK;
}

/* Count each message by role and push its sentences (a tool line is one
 * sentence). */
static am_status push_items(xs *x, const am__xitem *items, size_t n,
                            const size_t *offs, size_t *order)
{
    for (size_t i = 0; i < n; i++) {
        const am__xitem *it = &items[i];
        const char *role = it->role != NULL ? it->role : "other";
        size_t end = i + 1 < n ? offs[i + 1] : x->scratch.len;
        am_status st;
        if (!it->same_msg) {
            x->msgs++;
            x->by_role[role_slot(am_str_c(role))]++;
        }
        if (it->is_tool_call || it->is_tool_result)
            st = push(x, role, strlen(role),
                      (am_str){ x->scratch.ptr + offs[i], end - offs[i] },
                      it->is_tool_call ? 1 : 2, (*order)++, true);
        else
            st = push_sentences(x, role, strlen(role), it->text, 0, order);
        if (st != AM_OK)
            return st;
    }
    return AM_OK;
}

/* Questions: an open one (no other speaker after it) is worth keeping and
 * listed under "Questions:"; an answered one is ordinary text (its answer
 * holds the fact). */
static void mark_questions(xs *x)
{
    const char *later = NULL;
    size_t later_len = 0;
    bool mixed = false;

    for (size_t i = x->n; i-- > 0;) {
        sent *e = &x->s[i];
        bool same = later != NULL && e->tag_len == later_len &&
                    memcmp(e->tag, later, later_len) == 0;
        bool answered = later != NULL && (mixed || !same);
        if (e->question && !answered)
            e->score += 2;
        else
            e->question = false;
        if (later == NULL) {
            later = e->tag;
            later_len = e->tag_len;
        } else if (!same) {
            mixed = true;
        }
    }
}

/* Header: always present, so counts survive every merge. */
static am_status write_header(const xs *x, am_buf *res)
{
    am_status st = am_buf_appendf(
        res, "Summary of %zu earlier messages (%zu user, %zu assistant, %zu "
        "tool, %zu system, %zu other)\n", x->msgs, x->by_role[0],
        x->by_role[1], x->by_role[2], x->by_role[3], x->by_role[4]);
    if (st != AM_OK || x->ntools == 0)
        return st;
    st = am_buf_append(res, "Tools: ", 7);
    for (size_t i = 0; st == AM_OK && i < x->ntools; i++)
        st = am_buf_appendf(res, "%s%s x%zu (%zu ok, %zu failed)",
                            i > 0 ? "; " : "", x->tools[i].name,
                            x->tools[i].calls > 0
                                ? x->tools[i].calls
                                : x->tools[i].ok + x->tools[i].failed,
                            x->tools[i].ok, x->tools[i].failed);
    return st == AM_OK ? am_buf_append(res, "\n", 1) : st;
}

/* Mark the sentences chosen by score within `budget` tokens (`used`
 * already spent), skipping duplicates. `line` is scratch for counting. */
static am_status choose(xs *x, size_t budget, size_t used, am__count_fn count,
                        void *cctx, bool words_bound, am_buf *line)
{
    sent **by = NULL;
    uint64_t *seen = NULL; /* hashes of chosen sentences; 0: empty */
    size_t seen_cap = 16;
    am_status st = AM_OK;

    if (x->n == 0)
        return AM_OK;
    by = am__alloc_array(x->a, x->n, sizeof *by);
    while (seen_cap < x->n * 2)
        seen_cap *= 2;
    seen = am__calloc(x->a, seen_cap, sizeof *seen);
    if (by == NULL || seen == NULL) {
        st = AM_ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < x->n; i++)
        by[i] = &x->s[i];
    qsort(by, x->n, sizeof *by, by_score);
    for (size_t i = 0; i < x->n && used < budget; i++) {
        sent *e = by[i];
        uint64_t h = e->hash | 1;
        size_t slot, cost;
        bool dup = false;
        if (e->score < 0)
            continue;
        for (slot = h & (seen_cap - 1); seen[slot] != 0;
             slot = (slot + 1) & (seen_cap - 1))
            if (seen[slot] == h) {
                dup = true;
                break;
            }
        if (dup)
            continue;
        /* At least a token per word of the line ("-", "[tag]" and the
         * text's): when even that does not fit, counting is not needed. */
        if (words_bound && used + e->words + 2 > budget)
            continue;
        if ((st = line_tokens(e, count, cctx, line, &cost)) != AM_OK)
            goto out;
        if (used + cost > budget)
            continue;
        e->chosen = true;
        seen[slot] = h;
        used += cost;
    }
out:
    am__free(x->a, by, x->n * sizeof *by);
    am__free(x->a, seen, seen_cap * sizeof *seen);
    return st;
}

/* The chosen sentences, in their order: key points, then the user's open
 * questions under their own heading. */
static am_status write_points(const xs *x, am_buf *res)
{
    for (int pass = 0; pass < 2; pass++) {
        bool any = false;
        for (size_t i = 0; i < x->n; i++) {
            const sent *e = &x->s[i];
            bool is_q = e->question &&
                        is_role((am_str){ e->tag, e->tag_len }, AM_ROLE_USER);
            am_status st;
            if (!e->chosen || is_q != (pass == 1))
                continue;
            if (!any) {
                st = am_buf_appendf(res, "%s\n",
                                    pass == 0 ? "Key points:" : "Questions:");
                if (st != AM_OK)
                    return st;
                any = true;
            }
            st = am_buf_appendf(res, "- [%.*s] %.*s\n", (int)e->tag_len,
                                e->tag, (int)e->text.len, e->text.ptr);
            if (st != AM_OK)
                return st;
        }
    }
    return AM_OK;
}

am_status am__xsum_ex(const am_allocator *a, am_str prev_summary,
                      const am__xitem *items, size_t n, size_t budget,
                      am_str markers, am__count_fn count, void *cctx,
                      bool words_bound, am_buf *out, am_error *err)
{
    xs x;
    am_status st = AM_OK;
    size_t order = 0, used = 0;
    am_buf res = AM_BUF_INIT, line = AM_BUF_INIT;
    size_t *offs = NULL; /* start of item i's tool line in scratch */

    memset(&x, 0, sizeof x);
    x.a = a;
    markers_parse(markers, &x.mk);
    x.scratch.alloc = a;
    res.alloc = a;
    line.alloc = a;
    if (count == NULL)
        count = am__count_estimate;
    if (out == NULL || (items == NULL && n > 0))
        return am__fail(err, AM_EINVAL, "summarize: NULL argument");
    if (n > 0) {
        offs = am__alloc_array(a, n, sizeof *offs);
        if (offs == NULL)
            goto nomem;
    }
    if ((st = absorb_previous(&x, prev_summary, &order)) != AM_OK ||
        (st = tool_lines(&x, items, n, offs)) != AM_OK ||
        (st = push_items(&x, items, n, offs, &order)) != AM_OK)
        goto nomem;
    mark_questions(&x);
    if (write_header(&x, &res) != AM_OK)
        goto nomem;
    /* The header, and both section headings reserved up front. */
    used = count(cctx, res.ptr, res.len) + count(cctx, "Key points:\n", 12) +
           count(cctx, "Questions:\n", 11);
    if (choose(&x, budget, used, count, cctx, words_bound, &line) != AM_OK ||
        write_points(&x, &res) != AM_OK)
        goto nomem;
    if (res.len > 0 && res.ptr[res.len - 1] == '\n')
        res.ptr[--res.len] = '\0';
    /* Reserve first so that the copy cannot fail halfway: on failure the
     * caller's buffer is unchanged. */
    st = am_buf_reserve(out, res.len);
    if (st != AM_OK)
        goto nomem;
    am_buf_clear(out);
    st = am_buf_append(out, res.ptr != NULL ? res.ptr : "", res.len);
    goto out;

nomem:
    st = am__fail(err, AM_ENOMEM, "summarize: out of memory");
out:
    am_buf_free(&res);
    am_buf_free(&line);
    am__free(a, x.s, x.cap * sizeof *x.s);
    am__free(a, offs, n * sizeof *offs);
    am_buf_free(&x.scratch);
    return st;
}
