/* test_tokens.c -- BPE encodings: exactness against reference vectors,
 * special tokens, decoding, long words, Unicode classes, bad arguments.
 *
 * The exactness vectors in tests/data/tokens_vectors.jsonl were produced by
 * the reference tiktoken@1.0.22 (tests/tokens_vectors.js); the large
 * comparison against the reference lives in tests/test_tokens_ref.sh. The
 * rank files come from data/ (scripts/setup). The rest of the tokens suite:
 * test_tokens_files.c (rank files and the binary cache),
 * test_tokens_catalog.c (the model catalog), test_tokens_count.c
 * (tokenizers, message counting, the tracker, the token cache) and
 * test_tokens_oom.c (allocation and jansson failures); the shared helpers
 * are in tokens_fixture.h.
 */
#include <time.h>

#include <jansson.h>

#include "tokens/bpe_int.h"
#include "tokens/pretok_int.h"
#include "tokens_fixture.h"

/* ---- Exactness against committed reference vectors ---- */

AM_TEST(encodings_match_reference_vectors)
{
    const char *src = getenv("AM_SOURCE_DIR");
    char path[1024];
    FILE *fp;
    char *line = NULL;
    size_t cap = 0, checked = 0;
    const char *names[4] = { "cl100k_base", "o200k_base", "p50k_base",
                             "r50k_base" };
    am_encoding *encs[4];
    am_tokens toks = AM_TOKENS_INIT;
    am_buf dec = AM_BUF_INIT;

    CHECK(src != NULL);
    snprintf(path, sizeof path, "%s/tests/data/tokens_vectors.jsonl", src);
    fp = fopen(path, "r");
    CHECK(fp != NULL);
    for (int i = 0; i < 4; i++)
        encs[i] = open_enc(names[i]);
    while (getline(&line, &cap, fp) > 0) {
        json_error_t jerr;
        json_t *v = json_loads(line, JSON_ALLOW_NUL, &jerr);
        const char *e = json_string_value(json_object_get(v, "encoding"));
        json_t *text = json_object_get(v, "text");
        json_t *ids = json_object_get(v, "ids");
        am_str t = { json_string_value(text), json_string_length(text) };
        am_encoding *enc = NULL;
        size_t n = 0;

        CHECK(v != NULL && e != NULL && json_is_array(ids));
        for (int i = 0; i < 4; i++)
            if (strcmp(names[i], e) == 0)
                enc = encs[i];
        CHECK(enc != NULL);
        toks.count = 0;
        CHECK_OK(am_encoding_encode(enc, t, NULL, &toks, NULL));
        if (toks.count != json_array_size(ids))
            fprintf(stderr, "%s: '%s': %zu ids, want %zu\n", e, t.ptr,
                    toks.count, json_array_size(ids));
        CHECK_EQ(toks.count, json_array_size(ids));
        for (size_t k = 0; k < toks.count; k++)
            CHECK_EQ(toks.ids[k],
                     json_integer_value(json_array_get(ids, k)));
        CHECK_OK(am_encoding_count(enc, t, NULL, &n, NULL));
        CHECK_EQ(n, toks.count);
        am_buf_clear(&dec);
        CHECK_OK(am_encoding_decode(enc, toks.ids, toks.count, &dec, NULL));
        CHECK_EQ(dec.len, t.len);
        CHECK(t.len == 0 || memcmp(dec.ptr, t.ptr, t.len) == 0);
        json_decref(v);
        checked++;
    }
    CHECK(checked >= 200);
    free(line);
    fclose(fp);
    am_tokens_free(&toks);
    am_buf_free(&dec);
    for (int i = 0; i < 4; i++)
        am_encoding_free(encs[i]);
}

/* The encoding's piece memo (AM_ENCODING_NO_MEMO) must not change a
 * single id: the reference vectors through four ways of counting, each
 * text several times so that the later passes are served from the memo
 * or the cache (counted before encoded, so entries holding counts only
 * are met by encode calls too): the default memo, a memo of the smallest
 * size (1024 entries, where the vectors' pieces collide and evict each
 * other), the memo off, and a caller's cache. */
AM_TEST(memo_on_off_or_a_cache_give_the_reference_ids)
{
    const char *src = getenv("AM_SOURCE_DIR");
    char path[1024];
    FILE *fp;
    char *line = NULL;
    size_t cap = 0, checked = 0;
    const char *names[4] = { "cl100k_base", "o200k_base", "p50k_base",
                             "r50k_base" };
    /* [encoding][way]: default memo, smallest memo, no memo, cache. */
    am_encoding *encs[4][3];
    am_token_cache *caches[4];
    am_tokens toks = AM_TOKENS_INIT;

    CHECK(src != NULL);
    snprintf(path, sizeof path, "%s/tests/data/tokens_vectors.jsonl", src);
    for (int i = 0; i < 4; i++) {
        am_encoding_opts o = am_encoding_opts_default();
        encs[i][0] = open_enc(names[i]);
        o.memo_entries = 1;
        CHECK_OK(am_encoding_create(names[i], &o, &encs[i][1], NULL));
        o.flags = AM_ENCODING_NO_MEMO;
        CHECK_OK(am_encoding_create(names[i], &o, &encs[i][2], NULL));
        CHECK_OK(am_token_cache_create(encs[i][2], NULL, &caches[i], NULL));
    }
    for (int pass = 0; pass < 3; pass++) {
        fp = fopen(path, "r");
        CHECK(fp != NULL);
        while (getline(&line, &cap, fp) > 0) {
            json_t *v = json_loads(line, JSON_ALLOW_NUL, NULL);
            const char *e = json_string_value(json_object_get(v, "encoding"));
            json_t *text = json_object_get(v, "text");
            json_t *ids = json_object_get(v, "ids");
            am_str t = { json_string_value(text), json_string_length(text) };
            int ei = -1;

            CHECK(v != NULL && e != NULL && json_is_array(ids));
            for (int i = 0; i < 4; i++)
                if (strcmp(names[i], e) == 0)
                    ei = i;
            CHECK(ei >= 0);
            for (int way = 0; way < 4; way++) {
                am_encoding *enc = encs[ei][way < 3 ? way : 2];
                am_encode_opts eo = { 0, NULL, 0, NULL };
                size_t n = 0;

                eo.cache = way == 3 ? caches[ei] : NULL;
                CHECK_OK(am_encoding_count(enc, t, &eo, &n, NULL));
                CHECK_EQ(n, json_array_size(ids));
                toks.count = 0;
                CHECK_OK(am_encoding_encode(enc, t, &eo, &toks, NULL));
                CHECK_EQ(toks.count, json_array_size(ids));
                for (size_t k = 0; k < toks.count; k++)
                    CHECK_EQ(toks.ids[k],
                             json_integer_value(json_array_get(ids, k)));
            }
            json_decref(v);
            checked++;
        }
        fclose(fp);
    }
    CHECK(checked >= 600);
    free(line);
    am_tokens_free(&toks);
    for (int i = 0; i < 4; i++) {
        for (int w = 0; w < 3; w++)
            am_encoding_free(encs[i][w]);
        am_token_cache_free(caches[i]);
    }
}

AM_TEST(known_counts_and_vocab_sizes)
{
    am_encoding *cl = open_enc("cl100k_base");
    am_encoding *o2 = open_enc("o200k_base");

    CHECK_STR_EQ(am_encoding_name(cl), "cl100k_base");
    CHECK_EQ(am_encoding_vocab_size(cl), 100277);
    CHECK_EQ(am_encoding_vocab_size(o2), 200019);
    CHECK_EQ(count_of(cl, "hello world"), 2);
    CHECK_EQ(count_of(o2, "hello world"), 2);
    CHECK_EQ(count_of(cl, ""), 0);
    am_encoding_free(cl);
    am_encoding_free(o2);
}

/* ---- Special tokens ---- */

AM_TEST(special_tokens_are_text_by_default_and_ids_when_allowed)
{
    am_encoding *enc = open_enc("cl100k_base");
    am_tokens toks = AM_TOKENS_INIT;
    am_encode_opts o = { 0, NULL, 0, NULL };
    am_str allowed[1] = { AM_STR("<|endofprompt|>") };
    am_str text = AM_STR("a<|endoftext|>b<|endofprompt|>");
    am_error err = { AM_OK, "" };
    uint32_t id = 0;

    CHECK_OK(am_encoding_encode(enc, text, NULL, &toks, NULL));
    CHECK(toks.count > 4);
    for (size_t i = 0; i < toks.count; i++)
        CHECK(toks.ids[i] < 100257);

    toks.count = 0;
    o.flags = AM_SPECIAL_ALLOW_ALL;
    CHECK_OK(am_encoding_encode(enc, text, &o, &toks, NULL));
    CHECK_EQ(toks.count, 4);
    CHECK_EQ(toks.ids[1], 100257);
    CHECK_EQ(toks.ids[3], 100276);

    /* Only <|endofprompt|> allowed: <|endoftext|> stays text... */
    toks.count = 0;
    o.flags = 0;
    o.allowed = allowed;
    o.allowed_count = 1;
    CHECK_OK(am_encoding_encode(enc, text, &o, &toks, NULL));
    CHECK_EQ(toks.ids[toks.count - 1], 100276);
    CHECK(toks.count > 4);

    /* ... or an error naming it and its offset when disallowed. */
    toks.count = 7;
    o.flags = AM_SPECIAL_DISALLOWED_ERROR;
    CHECK_ST(am_encoding_encode(enc, text, &o, &toks, &err), AM_EINVAL);
    CHECK(strstr(err.msg, "<|endoftext|>") != NULL);
    CHECK(strstr(err.msg, "byte 1") != NULL);
    CHECK_EQ(toks.count, 7); /* unchanged on failure */

    /* A name that is not a special token is a caller error. */
    allowed[0] = AM_STR("<|nope|>");
    o.flags = 0;
    CHECK_ST(am_encoding_encode(enc, text, &o, &toks, &err), AM_EINVAL);
    CHECK(strstr(err.msg, "allowed[0]") != NULL);

    CHECK(am_encoding_special_id(enc, AM_STR("<|fim_middle|>"), &id));
    CHECK_EQ(id, 100259);
    CHECK(!am_encoding_special_id(enc, AM_STR("<|x|>"), &id));
    am_tokens_free(&toks);
    am_encoding_free(enc);
}

/* ---- Decoding ---- */

AM_TEST(decode_rejects_unknown_ids_and_keeps_output)
{
    am_encoding *enc = open_enc("o200k_base");
    am_buf out = AM_BUF_INIT;
    uint32_t ids[3] = { 24912, 4294967295u, 1 };
    uint32_t sp[1] = { 199999 };
    am_error err = { AM_OK, "" };
    am_str b;

    CHECK_OK(am_buf_append(&out, "keep", 4));
    CHECK_ST(am_encoding_decode(enc, ids, 3, &out, &err), AM_EINVAL);
    CHECK(strstr(err.msg, "ids[1]") != NULL);
    CHECK_MEM_EQ(out.ptr, out.len, "keep");
    CHECK_OK(am_encoding_decode(enc, sp, 1, &out, NULL));
    CHECK_MEM_EQ(out.ptr, out.len, "keep<|endoftext|>");
    CHECK(am_encoding_token_bytes(enc, 24912, &b));
    CHECK(b.len == 5 && memcmp(b.ptr, "hello", 5) == 0);
    CHECK(!am_encoding_token_bytes(enc, 199998, &b)); /* a gap */
    am_buf_free(&out);
    am_encoding_free(enc);
}

/* ---- Long words ---- */

AM_TEST(megabyte_word_merges_fast_and_round_trips)
{
    am_encoding *enc = open_enc("o200k_base");
    size_t n = 1 << 20;
    char *w = malloc(n);
    am_tokens toks = AM_TOKENS_INIT;
    am_buf dec = AM_BUF_INIT;
    size_t count = 0;
    clock_t t0 = clock();

    for (size_t i = 0; i < n; i++)
        w[i] = (char)('a' + (i * 2654435761u >> 7) % 26);
    CHECK_OK(am_encoding_encode(enc, (am_str){ w, n }, NULL, &toks, NULL));
    CHECK_OK(am_encoding_count(enc, (am_str){ w, n }, NULL, &count, NULL));
    CHECK_EQ(count, toks.count);
    CHECK_OK(am_encoding_decode(enc, toks.ids, toks.count, &dec, NULL));
    CHECK(dec.len == n && memcmp(dec.ptr, w, n) == 0);
    memset(w, 'a', n);
    CHECK_OK(am_encoding_count(enc, (am_str){ w, n }, NULL, &count, NULL));
    CHECK(count > 0 && count < n / 4);
    /* Seconds of CPU, not hours (the quadratic merge would take that),
     * even under the sanitizers. */
    CHECK((double)(clock() - t0) / CLOCKS_PER_SEC < 60.0);
    am_tokens_free(&toks);
    am_buf_free(&dec);
    free(w);
    am_encoding_free(enc);
}

/* tiktoken's merge loop as written there (quadratic, with the parts in an
 * array), for checking the library's three merge paths -- the register scan
 * up to 64 bytes, the two-level scan up to 128, the heap beyond -- piece by
 * piece. Ids go to out[]; returns their count. */
static size_t naive_merge(const am_encoding *enc, const uint8_t *p, size_t n,
                          uint32_t *out)
{
    size_t *start = malloc((n + 1) * sizeof *start), parts = n;
    size_t count = 0;

    CHECK(start != NULL);
    if (lookup(enc, p, n) != NO_RANK) {
        free(start);
        out[0] = lookup(enc, p, n);
        return 1;
    }
    for (size_t i = 0; i <= n; i++)
        start[i] = i;
    for (;;) {
        uint32_t best = NO_RANK;
        size_t at = 0;
        for (size_t i = 0; i + 1 < parts; i++) {
            uint32_t r = lookup(enc, p + start[i], start[i + 2] - start[i]);
            if (r < best) {
                best = r;
                at = i;
            }
        }
        if (best == NO_RANK)
            break;
        memmove(&start[at + 1], &start[at + 2],
                (parts - at - 1) * sizeof *start);
        parts--;
    }
    for (size_t i = 0; i < parts; i++)
        out[count++] = lookup(enc, p + start[i], start[i + 1] - start[i]);
    free(start);
    return count;
}

AM_TEST(every_merge_path_matches_tiktokens_merge_loop)
{
    /* One pre-token each (letters only, or punctuation only), of every
     * length from 2 to 200 bytes: random words over a wide and a narrow
     * alphabet, a repeating base64-like pattern, a punctuation run and a
     * punctuation mix. */
    static const char *const alphabets[] = {
        "abcdefghijklmnopqrstuvwxyz", "etaoinshrdlu", "AQEB", "=", "=-*/+#",
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
    };
    static const char *const names[] = { "cl100k_base", "o200k_base" };
    uint8_t w[200];
    uint32_t want[200];
    am_tokens toks = AM_TOKENS_INIT;
    uint32_t seed = 12345;
    /* Both builds of the vector merges where the CPU runs AVX2: the
     * baseline one first, then the one the encoding chose. */
    size_t builds = am__merge_avx2_usable() ? 2 : 1;

    for (size_t e = 0; e < 2 * builds; e++) {
        am_encoding *enc = open_enc(names[e % 2]);
        if (e < 2)
            enc->merge_avx2 = false;
        /* (o200k splits a mixed-case word before each capital.) */
        for (size_t a = 0;
             a < sizeof alphabets / sizeof *alphabets - e % 2; a++) {
            size_t an = strlen(alphabets[a]);
            for (size_t n = 2; n <= sizeof w; n++) {
                size_t want_n, count = 0;
                for (size_t i = 0; i < n; i++) {
                    seed = seed * 1103515245u + 12345u;
                    w[i] = (uint8_t)alphabets[a][a == 2 ? i % an
                                                        : (seed >> 16) % an];
                }
                want_n = naive_merge(enc, w, n, want);
                toks.count = 0;
                CHECK_OK(am_encoding_encode(enc, (am_str){ (char *)w, n },
                                            NULL, &toks, NULL));
                CHECK_OK(am_encoding_count(enc, (am_str){ (char *)w, n },
                                           NULL, &count, NULL));
                CHECK_EQ(toks.count, want_n);
                CHECK_EQ(count, want_n);
                CHECK(memcmp(toks.ids, want, want_n * sizeof *want) == 0);
            }
        }
        am_encoding_free(enc);
    }
    am_tokens_free(&toks);
}

AM_TEST(merges_use_avx2_exactly_where_the_cpu_has_it)
{
    am_encoding *enc = open_enc("cl100k_base");

    CHECK_EQ(enc->merge_avx2, am__merge_avx2_usable());
#if !AM_TOKENS_AVX2
    CHECK(!am__merge_avx2_usable());
#endif
    am_encoding_free(enc);
}

/* ---- Unicode classes ---- */

AM_TEST(unicode_16_classes_cover_recent_code_points)
{
    CHECK_STR_EQ(am_tokens_unicode_version(), "16.0.0");
    CHECK(am__ucd_class(0x85) & AM__C_WS);     /* NEL is White_Space */
    CHECK(!(am__ucd_class(0xFEFF) & AM__C_WS)); /* BOM is not */
    CHECK(!(am__ucd_class(0x200B) & AM__C_WS)); /* ZWSP is not */
    CHECK(am__ucd_class(0x3000) & AM__C_WS);
    CHECK(am__ucd_class(0x1C89) & AM__C_L);     /* Cyrillic TJE, 16.0 */
    CHECK(am__ucd_class(0x1C89) & AM__C_UP);
    CHECK(am__ucd_class(0x1C8A) & AM__C_LO);
    CHECK(am__ucd_class(0x10D50) & AM__C_L);    /* Garay, 16.0 */
    CHECK(am__ucd_class(0x16D40) & AM__C_L);    /* Kirat Rai, 16.0 */
    CHECK(am__ucd_class(0x16D70) & AM__C_N);    /* Kirat Rai digit */
    CHECK(am__ucd_class(0x1CCF0) & AM__C_N);    /* outlined digits, 16.0 */
    CHECK(am__ucd_class(0x11F04) & AM__C_L);    /* Kawi, 15.0 */
    CHECK(am__ucd_class(0x1E030) & AM__C_L);    /* Cyrillic modifier, 15.0 */
    CHECK(am__ucd_class(0x2EBF0) & AM__C_L);    /* CJK Ext. I, 15.1 */
    CHECK(am__ucd_class(0x0301) & AM__C_M);
    CHECK(!(am__ucd_class(0x0301) & AM__C_L));
    CHECK(am__ucd_class(0x0301) & AM__C_UP);
    CHECK(am__ucd_class(0x0301) & AM__C_LO);
    CHECK(am__ucd_class(0x01C5) & AM__C_UP);    /* Lt */
    CHECK(!(am__ucd_class(0x01C5) & AM__C_LO));
    CHECK(am__ucd_class(0x02B0) & AM__C_UP);    /* Lm: both */
    CHECK(am__ucd_class(0x02B0) & AM__C_LO);
    CHECK(am__ucd_class(0x2167) & AM__C_N);     /* Nl */
    CHECK_EQ(am__ucd_class(0xE000), 0);         /* private use */
    CHECK_EQ(am__ucd_class(0x110000), 0);
}

/* ---- Pre-tokenizer fast paths ----
 *
 * pretok_fast() (pretok_int.h) splits ASCII pre-tokens inline and leaves
 * the rest to am__pretok_next(); both must end every pre-token at the same
 * place. Texts are made of fragments chosen to sit on each boundary of the
 * fast paths: ASCII white space before non-ASCII white space (NBSP, NEL,
 * U+3000), digits before non-ASCII digits, letters before non-ASCII
 * letters and marks, apostrophes, symbols before emoji, invalid bytes. */
static const char *const pretok_frags[] = {
    "a", "Z", "xy", "'", "'s", "'LL", "'ve", "0", "42", "7", "\xd9\xa3",
    " ", "  ", "\t", "\n", "\r", "\r\n", "\v", "\f", "\xc2\xa0", "\xc2\x85",
    "\xe3\x80\x80", "\xc3\xa9", "\xcc\x81", "\xe4\xb8\xad", "\xf0\x9f\x98\x80",
    ".", "(", "/", "-", "=>", "\x01", "\xff", "\xe2\x80", "\xc5\xbf", "A",
    "\xe2\x85\xa7", "_", "\"", "}\n"
};
#define NFRAGS (sizeof pretok_frags / sizeof pretok_frags[0])

AM_TEST(pretok_fast_paths_agree_with_the_full_rules)
{
    static const am__pat pats[] = { AM__PAT_CL100K, AM__PAT_O200K,
                                    AM__PAT_R50K };
    uint64_t x = 0x9E3779B97F4A7C15ull;
    char text[256];
    size_t checked = 0;

    for (int round = 0; round < 4000; round++) {
        size_t len = 0, nfrag;
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        nfrag = 1 + (size_t)(x % 24);
        for (size_t f = 0; f < nfrag; f++) {
            const char *frag;
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            frag = pretok_frags[x % NFRAGS];
            memcpy(text + len, frag, strlen(frag));
            len += strlen(frag);
        }
        for (size_t p = 0; p < sizeof pats / sizeof pats[0]; p++)
            for (size_t i = 0; i < len; i++) {
                const uint8_t *s = (const uint8_t *)text;
                size_t want = am__pretok_next(pats[p], s, len, i);
                size_t got = pretok_fast(pats[p], s, len, i);
                if (got != want)
                    fprintf(stderr, "pattern %d, text '%.*s', at %zu: fast "
                            "path ends at %zu, full rules at %zu\n",
                            (int)pats[p], (int)len, text, i, got, want);
                CHECK_EQ(got, want);
                checked++;
            }
    }
    CHECK(checked > 100000);
}

AM_TEST(invalid_utf8_is_tokenized_byte_by_byte_and_round_trips)
{
    am_encoding *enc = open_enc("cl100k_base");
    const char bad[] = "ab\xff\xfe cd\xc3 \xe2\x82 \xed\xa0\x80 \xf4\x90\x80\x80";
    am_tokens toks = AM_TOKENS_INIT;
    am_buf dec = AM_BUF_INIT;

    CHECK_OK(am_encoding_encode(enc, (am_str){ bad, sizeof bad - 1 }, NULL,
                                &toks, NULL));
    CHECK_OK(am_encoding_decode(enc, toks.ids, toks.count, &dec, NULL));
    CHECK(dec.len == sizeof bad - 1 && memcmp(dec.ptr, bad, dec.len) == 0);
    am_tokens_free(&toks);
    am_buf_free(&dec);
    am_encoding_free(enc);
}

AM_TEST(bad_arguments_are_rejected)
{
    am_encoding *enc = open_enc("cl100k_base");
    am_tokens toks = AM_TOKENS_INIT;
    size_t n;
    am_error err = { AM_OK, "" };

    CHECK_ST(am_encoding_create(NULL, NULL, NULL, &err), AM_EINVAL);
    CHECK_ST(am_encoding_count(enc, (am_str){ NULL, 3 }, NULL, &n, &err),
             AM_EINVAL);
    CHECK_ST(am_encoding_count(NULL, AM_STR("x"), NULL, &n, &err),
             AM_EINVAL);
    CHECK_ST(am_encoding_encode(enc, AM_STR("x"), NULL, NULL, &err),
             AM_EINVAL);
    CHECK_ST(am_encoding_decode(enc, NULL, 2, NULL, &err), AM_EINVAL);
    am_encoding_free(NULL);
    am_tokens_free(NULL);
    am_tokens_free(&toks);
    CHECK_EQ(am_tokens_approx(AM_STR("12345678")), 2);
    CHECK_EQ(am_tokens_approx(AM_STR("123456789")), 3);
    am_encoding_free(enc);
}
