/* pretok_int.h -- the ASCII fast paths of the pre-tokenizers, inline.
 *
 * Most pre-tokens of prose, code and JSON are decided by their ASCII
 * bytes alone: a word with an optional prefix character, up to three
 * digits, a run of symbols, a run of white space. Those cases are here, as
 * static inline functions, so that the encoding loop (encoding.c) splits
 * them without a call; pretok_fast() falls back to am__pretok_next()
 * (pretok.c), which decides every case from the full rules, whenever a
 * non-ASCII byte could change the answer. (Calling am__pretok_next() for
 * every piece, as before, cost cl100k_base 5-20% in ~1 KB calls: its
 * frame and the call were a tenth of the instructions of a piece of code.)
 * Internal to src/tokens/. */
#ifndef AM_TOKENS_PRETOK_INT_H
#define AM_TOKENS_PRETOK_INT_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "core/core.h"
#include "tokens/tokens_int.h"

/* Class flags of each byte as an ASCII character (pretok.c). 256 entries:
 * bytes from 0x80 have class 0, so the fast paths stop at them without a
 * separate test. */
extern const uint8_t am__ascii_class[256];

/* The end of the run of letters (\p{L}, any script) from j (pretok.c):
 * where a word that starts in ASCII continues past a non-ASCII byte
 * (accented Latin words, common in the multilingual section), it is
 * followed from there instead of being split again from its start. */
size_t am__letters_end(const uint8_t *s, size_t len, size_t j);

/* Length of a contraction 's 't 're 've 'm 'll 'd starting at the
 * apostrophe s[i], or 0. Case-insensitive when `fold` (with U+017F for s). */
static inline size_t contraction(const uint8_t *s, size_t len, size_t i,
                                 int fold)
{
    int a, b;

    if (i >= len || s[i] != '\'' || i + 1 >= len)
        return 0;
    a = fold ? am__ascii_lower(s[i + 1]) : s[i + 1];
    if (a == 's' || a == 't' || a == 'm' || a == 'd')
        return 2;
    if (fold && s[i + 1] == 0xC5 && i + 2 < len && s[i + 2] == 0xBF)
        return 3; /* 'ſ */
    if (i + 2 >= len)
        return 0;
    b = fold ? am__ascii_lower(s[i + 2]) : s[i + 2];
    if ((a == 'r' || a == 'v') && b == 'e')
        return 3;
    if (a == 'l' && b == 'l')
        return 3;
    return 0;
}

/* Where a run of ASCII letters ends, eight bytes at a time: the end of a
 * word is different for every word, so a loop that tests one byte at a
 * time mispredicts its exit once per word. Here the bytes of a 64-bit word
 * are classified together (SWAR) and the first byte outside the run is
 * found with one count of trailing zeros. ascii_run_end returns the index
 * of the first byte from j that is not in lo..hi after or-ing `fold` into
 * it (0x20 folds upper case to lower), or len; a byte from 0x80 up always
 * ends the run. The classes it replaces are those of ascii_class: letters
 * (fold 0x20, a..z), AM__C_UP (A..Z) and AM__C_LO (a..z). */
static inline uint64_t swar_load(const uint8_t *p)
{
    uint64_t w;
    memcpy(&w, p, 8);
    return w;
}

static inline size_t ascii_run_end(const uint8_t *s, size_t len, size_t j,
                                   uint8_t fold, uint8_t lo, uint8_t hi)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    const uint64_t ones = 0x0101010101010101ull, high = ones * 0x80;

    while (len - j >= 8) {
        /* On the low seven bits of each byte, adding 0x80 - lo sets bit 7
         * from lo up and adding 0x7F - hi from hi + 1 up, without carrying
         * into the next byte; bytes with bit 7 set are out. */
        uint64_t w = swar_load(s + j);
        uint64_t x = (w | ones * fold) & ~high;
        uint64_t in = (x + ones * (uint8_t)(0x80 - lo)) &
                      ~(x + ones * (uint8_t)(0x7F - hi)) & ~w & high;
        uint64_t stop = ~in & high;
        if (stop != 0)
            return j + ((size_t)__builtin_ctzll(stop) >> 3);
        j += 8;
    }
#endif
    while (j < len && (uint8_t)((s[j] | fold) - lo) <= (uint8_t)(hi - lo) &&
           s[j] < 0x80)
        j++;
    return j;
}

static inline size_t ascii_letters_end(const uint8_t *s, size_t len,
                                       size_t j)
{
    return ascii_run_end(s, len, j, 0x20, 'a', 'z');
}

/* The ASCII end of  ?[^\s\p{L}\p{N}]+[\r\n]*  from k, the first character
 * of the run, or 0 when a non-ASCII byte could continue the run. */
static inline size_t cl100k_punct(const uint8_t *s, size_t len, size_t k)
{
    while (k < len && s[k] < 0x80 &&
           !(am__ascii_class[s[k]] & (AM__C_WS | AM__C_L | AM__C_N)))
        k++;
    if (k < len && s[k] >= 0x80)
        return 0;
    while (k < len && (s[k] == '\r' || s[k] == '\n'))
        k++;
    return k;
}

/* The white-space alternatives of cl100k_base and o200k_base at i, where
 * s[i] is ASCII white space, over ASCII bytes (whitespace() in pretok.c
 * says why the rules resolve so): after the last \r or \n of the run,
 * else the whole run at the end of the text, else the run but its last
 * character when it has two or more, else the one character. 0 when a
 * non-ASCII byte ends the run: it could be white space too. */
static inline size_t ascii_space(const uint8_t *s, size_t len, size_t i)
{
    size_t j = i, nl_end = 0;
    unsigned c;

    while (j < len && ((c = am__ascii_class[s[j]]) & AM__C_WS)) {
        if (c & AM__C_NL)
            nl_end = j + 1;
        j++;
    }
    if (j < len && s[j] >= 0x80)
        return 0;
    if (nl_end != 0)
        return nl_end;
    if (j == len || j - i == 1)
        return j;
    return j - 1;
}

/* The cl100k_base pre-token at i (s[i] < 0x80) when ASCII bytes decide
 * which alternative matches, else 0; cl100k() in pretok.c has the full
 * rules. (A word that starts in ASCII may go on in any script.) In the
 * pattern's order: an apostrophe may start a contraction (left to
 * cl100k()); a letter, or a character that is not \r, \n, a letter or a
 * number followed by a letter, starts [^\r\n\p{L}\p{N}]?\p{L}+; a digit
 * \p{N}{1,3}; a symbol, or a space before a symbol,
 *  ?[^\s\p{L}\p{N}]+[\r\n]*; what is left is white space. */
static inline size_t cl100k_ascii(const uint8_t *s, size_t len, size_t i)
{
    uint8_t b = s[i];
    unsigned c = am__ascii_class[b], c1;
    size_t j;

    if (c & AM__C_L) {
        j = ascii_letters_end(s, len, i + 1);
        return j < len && s[j] >= 0x80 ? am__letters_end(s, len, j) : j;
    }
    if (c & AM__C_N) {
        j = i + 1;
        while (j < len && j < i + 3 && (unsigned)(s[j] - '0') < 10u)
            j++;
        return j == i + 3 || j == len || s[j] < 0x80 ? j : 0;
    }
    if (b == '\'' || i + 1 >= len || s[i + 1] >= 0x80)
        return 0;
    c1 = am__ascii_class[s[i + 1]];
    if (c1 & AM__C_L) {
        if (c & AM__C_NL)
            return ascii_space(s, len, i);
        j = ascii_letters_end(s, len, i + 2);
        return j < len && s[j] >= 0x80 ? am__letters_end(s, len, j) : j;
    }
    if (!(c & AM__C_WS))
        return cl100k_punct(s, len, i);
    if (b == ' ' && !(c1 & (AM__C_WS | AM__C_N)))
        return cl100k_punct(s, len, i + 1);
    return ascii_space(s, len, i);
}

/* The common case of o200k, an ASCII word with an optional ASCII prefix
 * character, decided from ASCII bytes alone: [UP]*[LO]+ or [UP]+[LO]*
 * over ASCII letters (no ASCII letter is in both sets, and ASCII has no
 * marks, so only one start can match; see o200k_words). Returns 0 when a
 * non-ASCII byte is reached where the answer depends on it, or when the
 * piece is not such a word; o200k()
 * then decides in general. */
static inline size_t o200k_ascii_word(const uint8_t *s, size_t len,
                                      size_t i)
{
    size_t j = i;
    unsigned c0 = am__ascii_class[s[i]];

    if (!(c0 & AM__C_L)) {
        if ((c0 & (AM__C_N | AM__C_NL)) || i + 1 >= len ||
            s[i + 1] >= 0x80 || !(am__ascii_class[s[i + 1]] & AM__C_L))
            return 0;
        j = i + 1;
    }
    j = ascii_run_end(s, len, j, 0, 'A', 'Z');
    if (j < len && s[j] >= 0x80)
        return 0;
    if (j < len && (am__ascii_class[s[j]] & AM__C_LO)) {
        j = ascii_run_end(s, len, j, 0, 'a', 'z');
        if (j < len && s[j] >= 0x80)
            return 0;
    }
    return j + contraction(s, len, j, 1);
}

/* The end of the pre-token at s[i] (i < len): the ASCII fast path of the
 * pattern when it decides, else am__pretok_next(). Inline, for the
 * encoding loop. */
static inline __attribute__((always_inline)) size_t
pretok_fast(am__pat pat, const uint8_t *s, size_t len, size_t i)
{
    size_t j = 0;

    if (s[i] < 0x80) {
        if (pat == AM__PAT_CL100K)
            j = cl100k_ascii(s, len, i);
        else if (pat == AM__PAT_O200K)
            j = o200k_ascii_word(s, len, i);
    }
    return j != 0 ? j : am__pretok_next(pat, s, len, i);
}

#endif
