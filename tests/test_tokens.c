/* test_tokens.c -- BPE encodings, Unicode classes, catalog, tokenizer,
 * message counting and the token tracker.
 *
 * The exactness vectors in tests/data/tokens_vectors.jsonl were produced by
 * the reference tiktoken@1.0.22 (tests/tokens_vectors.js); the large
 * comparison against the reference lives in tests/test_tokens_ref.sh. The
 * rank files come from data/ (scripts/setup).
 */
#include <stdio.h>
#include <stdlib.h>
#include <math.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "agentmem/tokens.h"
#include "core/core.h"
#include "harness.h"
#include "jansson_fail.h"
#include "tokens/pretok_int.h"
#include "tokens/tokens_int.h"

static am_encoding *open_enc(const char *name)
{
    am_encoding *enc = NULL;
    am_error err;
    CHECK_OK_E(am_encoding_create(name, NULL, &enc, &err), &err);
    return enc;
}

static size_t count_of(const am_encoding *enc, const char *text)
{
    size_t n = 0;
    CHECK_OK(am_encoding_count(enc, am_str_c(text), NULL, &n, NULL));
    return n;
}

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
    am_error err;
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
    am_error err;
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

/* ---- Loading and its errors ---- */

static char *write_tmp(const char *dir, const char *name, const char *text)
{
    char *path = malloc(strlen(dir) + strlen(name) + 2);
    FILE *fp;
    sprintf(path, "%s/%s", dir, name);
    fp = fopen(path, "w");
    CHECK(fp != NULL);
    fputs(text, fp);
    fclose(fp);
    return path;
}

AM_TEST(missing_and_corrupt_rank_files_are_clear_errors)
{
    char *dir = test_tmpdir();
    am_encoding_opts o = am_encoding_opts_default();
    am_encoding *enc = NULL;
    am_error err;
    char *p;

    CHECK_ST(am_encoding_create("nope_base", NULL, &enc, &err), AM_ENOTFOUND);
    CHECK(strstr(err.msg, "nope_base") != NULL);

    o.rank_file = "/nonexistent/cl100k_base.tiktoken";
    CHECK_ST(am_encoding_create("cl100k_base", &o, &enc, &err), AM_ENOTFOUND);
    CHECK(strstr(err.msg, "/nonexistent/cl100k_base.tiktoken") != NULL);

    p = write_tmp(dir, "bad1.tiktoken", "IQ== 0\nIg== 1\n!!!! 2\n");
    o.rank_file = p;
    CHECK_ST(am_encoding_create("r50k_base", &o, &enc, &err), AM_EFORMAT);
    CHECK(strstr(err.msg, "bad1.tiktoken:3") != NULL);
    free(p);

    p = write_tmp(dir, "bad2.tiktoken", "IQ== 0\nIg== x1\n");
    o.rank_file = p;
    CHECK_ST(am_encoding_create("r50k_base", &o, &enc, &err), AM_EFORMAT);
    CHECK(strstr(err.msg, "bad2.tiktoken:2") != NULL);
    free(p);

    p = write_tmp(dir, "bad3.tiktoken", "IQ== 0\nIQ== 1\n");
    o.rank_file = p;
    CHECK_ST(am_encoding_create("r50k_base", &o, &enc, &err), AM_EFORMAT);
    CHECK(strstr(err.msg, "twice") != NULL);
    free(p);

    p = write_tmp(dir, "bad4.tiktoken", "IQ== 0\n");
    o.rank_file = p;
    CHECK_ST(am_encoding_create("r50k_base", &o, &enc, &err), AM_EFORMAT);
    CHECK(strstr(err.msg, "no token for byte") != NULL);
    free(p);

    /* Ranks are dense: a deleted line is a gap, named. */
    p = write_tmp(dir, "gap.tiktoken", "IQ== 0\nIg== 2\nIw== 3\n");
    o.rank_file = p;
    CHECK_ST(am_encoding_create("r50k_base", &o, &enc, &err), AM_EFORMAT);
    CHECK(strstr(err.msg, "rank 1 is missing") != NULL);
    free(p);
    /* One huge rank is refused before anything is sized by it. */
    p = write_tmp(dir, "huge.tiktoken", "IQ== 2147483647\n");
    o.rank_file = p;
    CHECK_ST(am_encoding_create("r50k_base", &o, &enc, &err), AM_EFORMAT);
    CHECK(strstr(err.msg, "rank 0 is missing") != NULL);
    free(p);
    /* A file that never ends fails fast instead of hanging. */
    if (access("/dev/zero", R_OK) == 0) {
        o.rank_file = "/dev/zero";
        o.flags = AM_ENCODING_NO_CACHE;
        CHECK_ST(am_encoding_create("r50k_base", &o, &enc, &err), AM_ELIMIT);
        CHECK(strstr(err.msg, "larger than") != NULL);
        o.flags = 0;
    }

    o.rank_file = NULL;
    o.data_dir = dir; /* empty dir: falls through to the rest of the path */
    CHECK_OK(am_encoding_create("r50k_base", &o, &enc, &err));
    am_encoding_free(enc);
    CHECK(enc != NULL);
    test_rmtree(dir);
    free(dir);
}

AM_TEST(data_dir_env_is_on_the_search_path)
{
    char *dir = test_tmpdir();
    am_encoding *enc = NULL;
    am_error err;
    char *p = write_tmp(dir, "p50k_base.tiktoken", "IQ== 0\n");
    const char *old = getenv("AGENTMEM_DATA_DIR");
    char *saved = old != NULL ? strdup(old) : NULL;

    /* The env dir wins over the install and source dirs, so its (broken)
     * file is the one read. */
    setenv("AGENTMEM_DATA_DIR", dir, 1);
    CHECK_ST(am_encoding_create("p50k_base", NULL, &enc, &err), AM_EFORMAT);
    CHECK(strstr(err.msg, p) != NULL);
    if (saved != NULL)
        setenv("AGENTMEM_DATA_DIR", saved, 1);
    else
        unsetenv("AGENTMEM_DATA_DIR");
    free(saved);
    free(p);
    test_rmtree(dir);
    free(dir);
}

typedef struct open_ctx {
    const char *word;
    unsigned flags;
} open_ctx;

static am_status open_body(void *ctx, const am_allocator *a)
{
    am_encoding_opts o = am_encoding_opts_default();
    am_encoding *enc = NULL;
    am_tokens toks = AM_TOKENS_INIT;
    am_status st;
    const char *word = ((open_ctx *)ctx)->word;

    o.alloc = a;
    o.flags = ((open_ctx *)ctx)->flags;
    st = am_encoding_create("r50k_base", &o, &enc, NULL);
    if (st != AM_OK)
        return st;
    /* A long piece allocates merge work space. */
    toks.alloc = a;
    st = am_encoding_encode(enc, am_str_c(word), NULL, &toks, NULL);
    if (st == AM_OK && toks.count == 0)
        st = AM_EINVAL;
    am_tokens_free(&toks);
    am_encoding_free(enc);
    return st;
}

AM_TEST(open_and_encode_survive_every_allocation_failure)
{
    char word[2001];
    for (int i = 0; i < 2000; i++)
        word[i] = (char)('a' + (i * 7) % 26);
    word[2000] = '\0';
    open_ctx parse = { word, AM_ENCODING_NO_CACHE }, cached = { word, 0 };
    CHECK(test_oom_sweep(open_body, &parse) > 3);
    CHECK(test_oom_sweep(open_body, &cached) > 3);
}

static void copy_file(const char *from, const char *to)
{
    am_buf b = AM_BUF_INIT;
    CHECK_OK(am__read_file(from, &b, NULL));
    CHECK_OK(am__write_file_atomic(NULL, to, b.ptr, b.len, NULL));
    am_buf_free(&b);
}

static long file_size(const char *path)
{
    FILE *fp = fopen(path, "rb");
    long n;
    if (fp == NULL)
        return -1;
    fseek(fp, 0, SEEK_END);
    n = ftell(fp);
    fclose(fp);
    return n;
}

static void check_counts(const char *rank, unsigned flags)
{
    am_encoding_opts o = am_encoding_opts_default();
    am_encoding *enc = NULL;
    am_error err;
    o.rank_file = rank;
    o.flags = flags;
    CHECK_OK_E(am_encoding_create("r50k_base", &o, &enc, &err), &err);
    CHECK_EQ(count_of(enc, "hello world, this is r50k_base"), 10);
    CHECK_EQ(am_encoding_vocab_size(enc), 50257);
    am_encoding_free(enc);
}

/* The binary cache's layout (rank_table.c): the sections from offset 0,
 * each 64-byte aligned -- slots (head u64, rank u32, len u32), filter,
 * pair ranks, token bytes, byte ranks, offsets -- then the 88-byte header
 * (nranks at 48, blob_len at 56, mask at 64, payload checksum at 80). */
static size_t cache_sections(const unsigned char *b, size_t full,
                             size_t at[6], size_t len[6])
{
    const unsigned char *hdr = b + full - 88;
    uint32_t nranks;
    uint64_t blob_len, mask;
    size_t end = 0;

    memcpy(&nranks, hdr + 48, 4);
    memcpy(&blob_len, hdr + 56, 8);
    memcpy(&mask, hdr + 64, 8);
    len[0] = (size_t)(mask + 1) * 16;
    len[1] = (1u << 21) / 8;
    len[2] = 65536 * 4;
    len[3] = (size_t)blob_len;
    len[4] = 1024;
    len[5] = ((size_t)nranks + 1) * 4;
    for (int i = 0; i < 6; i++) {
        at[i] = (end + 63) & ~(size_t)63;
        end = at[i] + len[i];
    }
    return (end + 63) & ~(size_t)63;
}

/* Damage the cache at `bin` in one of two ways, with a valid checksum,
 * and check that opening refuses it (parses the rank file again and
 * rewrites the cache): kind 0, ranks far past the end in every occupied
 * slot and the byte table; kind 1, one slot longer than any token (a
 * probe would read past the token bytes). */
static void tamper_cache(const char *bin, const char *rank, long full,
                         int kind)
{
    unsigned char *b = malloc((size_t)full), *now = malloc((size_t)full);
    size_t at[6], len[6];
    uint32_t bad = 0x7fffffff;
    uint64_t h = AM__CACHE_SUM_SEED;
    FILE *fp = fopen(bin, "r+b");

    CHECK(fp != NULL && b != NULL && now != NULL);
    CHECK_EQ(fread(b, 1, (size_t)full, fp), (size_t)full);
    CHECK_EQ(cache_sections(b, (size_t)full, at, len), (size_t)full - 88);
    for (size_t i = 0; i < len[0] / 16; i++) {
        unsigned char *sl = b + at[0] + 16 * i;
        if (memcmp(sl + 12, "\0\0\0\0", 4) == 0)
            continue;
        if (kind == 0) {
            memcpy(sl + 8, &bad, 4);
        } else {
            uint32_t long_len = 1000;
            memcpy(sl + 12, &long_len, 4);
            break;
        }
    }
    if (kind == 0)
        memcpy(b + at[4] + 4 * 'a', &bad, 4);
    for (int i = 0; i < 6; i++)
        h = am__tokens_cache_sum(b + at[i], len[i], h);
    memcpy(b + full - 88 + 80, &h, 8);
    fseek(fp, 0, SEEK_SET);
    CHECK_EQ(fwrite(b, 1, (size_t)full, fp), (size_t)full);
    fclose(fp);

    check_counts(rank, 0);
    fp = fopen(bin, "rb");
    CHECK(fp != NULL);
    CHECK_EQ(fread(now, 1, (size_t)full, fp), (size_t)full);
    CHECK(memcmp(now, b, (size_t)full) != 0);
    fclose(fp);
    free(now);
    free(b);
}

AM_TEST(binary_cache_is_written_used_and_rebuilt_when_damaged)
{
    char *dir = test_tmpdir();
    char rank[1024], bin[1100], src[1024];
    FILE *fp;
    long full;

    snprintf(src, sizeof src, "%s/r50k_base.tiktoken", AM_BUILD_DATADIR);
    snprintf(rank, sizeof rank, "%s/r50k_base.tiktoken", dir);
    snprintf(bin, sizeof bin, "%s.bin", rank);
    copy_file(src, rank);

    check_counts(rank, AM_ENCODING_NO_CACHE);
    CHECK_EQ(file_size(bin), -1); /* NO_CACHE writes nothing */
    check_counts(rank, 0);
    full = file_size(bin);
    CHECK(full > 1000000);
    check_counts(rank, 0); /* read from the cache */

    /* Damage the payload: detected by the hash, parsed again, rewritten. */
    fp = fopen(bin, "r+b");
    CHECK(fp != NULL);
    fseek(fp, full / 2, SEEK_SET);
    fputs("garbage", fp);
    fclose(fp);
    check_counts(rank, 0);

    /* A truncated cache. */
    CHECK(truncate(bin, full / 3) == 0);
    check_counts(rank, 0);
    CHECK_EQ(file_size(bin), full);

    /* Caches whose payload checksum matches but whose tables point
     * outside themselves (anyone can recompute the checksum): refused,
     * parsed again and rewritten (not merely used). */
    tamper_cache(bin, rank, full, 0);
    tamper_cache(bin, rank, full, 1);

    /* A rank file that changed (size differs) makes the cache stale. */
    fp = fopen(rank, "ab");
    fputs("\n", fp);
    fclose(fp);
    check_counts(rank, 0);
    CHECK_EQ(file_size(bin), full);
    test_rmtree(dir);
    free(dir);
}

/* Opened from its binary cache, an encoding maps the tables instead of
 * copying them: it allocates next to nothing (the parsed tables of
 * r50k_base hold megabytes), and counts the same. */
AM_TEST(encoding_opened_from_cache_maps_its_tables)
{
    char *dir = test_tmpdir();
    char rank[1024], src[1024];
    test_alloc ta;
    am_allocator a;
    am_encoding_opts o = am_encoding_opts_default();
    am_encoding *enc = NULL;
    am_error err;

    snprintf(src, sizeof src, "%s/r50k_base.tiktoken", AM_BUILD_DATADIR);
    snprintf(rank, sizeof rank, "%s/r50k_base.tiktoken", dir);
    copy_file(src, rank);
    o.rank_file = rank;
    o.flags = AM_ENCODING_NO_CACHE;
    memset(&ta, 0, sizeof ta);
    a = test_alloc_make(&ta);
    o.alloc = &a;
    CHECK_OK_E(am_encoding_create("r50k_base", &o, &enc, &err), &err);
    CHECK(ta.live > 1000000); /* parsed: the tables are allocated */
    am_encoding_free(enc);
    CHECK_EQ(ta.live, 0);

    o.flags = 0;
    CHECK_OK_E(am_encoding_create("r50k_base", &o, &enc, &err), &err);
    am_encoding_free(enc); /* parsed again, cache written */
    CHECK_OK_E(am_encoding_create("r50k_base", &o, &enc, &err), &err);
    CHECK(ta.live < 16384); /* mapped: the struct only */
    CHECK_EQ(count_of(enc, "hello world, this is r50k_base"), 10);
    am_encoding_free(enc);
    CHECK_EQ(ta.live, 0);
    test_rmtree(dir);
    free(dir);
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
    am_error err;

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

/* ---- Model catalog ---- */

/* Every figure says where it comes from; the ones compared with the
 * provider's page say when. gpt-4 is 8,192 tokens (the 128,000 some
 * tables give is gpt-4-turbo's). */
AM_TEST(catalog_records_the_source_and_check_date_of_its_figures)
{
    am_models *m = NULL;
    am_model_info info;
    am_error err;
    char *dir = test_tmpdir();
    char path[512];
    FILE *f;
    size_t checked = 0, sourced = 0;

    CHECK_OK_E(am_models_create(NULL, &m, &err), &err);
    CHECK(am_models_lookup(m, AM_STR("gpt-4-0613"), &info));
    CHECK_EQ(info.context_window, 8192);
    CHECK(info.input_per_mtok == 30.0 && info.output_per_mtok == 60.0);
    CHECK_STR_EQ(info.limits_source,
                 "https://developers.openai.com/api/docs/models/gpt-4");
    CHECK_STR_EQ(info.limits_checked, "2026-12-06");
    CHECK_STR_EQ(info.price_checked, "2026-12-06");
    CHECK(am_models_lookup(m, AM_STR("gpt-4-turbo"), &info));
    CHECK_EQ(info.context_window, 128000);
    /* Prices compared with Anthropic's pricing page; limits not yet. */
    CHECK(am_models_lookup(m, AM_STR("claude-3-5-haiku-20241022"), &info));
    CHECK(info.input_per_mtok == 0.8 && info.cached_input_per_mtok == 0.08);
    CHECK(strstr(info.price_source, "docs.anthropic.com") != NULL);
    CHECK_STR_EQ(info.price_checked, "2026-12-06");
    CHECK(info.limits_source != NULL && info.limits_checked == NULL);
    /* Self-hosted weights have no price page. */
    CHECK(am_models_lookup(m, AM_STR("llama-3.3-70b"), &info));
    CHECK(info.price_source == NULL && info.price_checked == NULL);
    /* Unknown models carry no provenance at all. */
    CHECK(!am_models_lookup(m, AM_STR("my-local-model"), &info));
    CHECK(info.price_source == NULL && info.limits_checked == NULL);
    for (size_t i = 0; am_models_at(m, i, &info); i++) {
        if (strcmp(info.provider, "openai") == 0 ||
            strcmp(info.provider, "anthropic") == 0 ||
            strcmp(info.provider, "google") == 0)
            sourced += info.price_source != NULL;
        checked += info.price_checked != NULL;
        /* A date never comes without its source. */
        CHECK(info.price_checked == NULL || info.price_source != NULL);
        CHECK(info.limits_checked == NULL || info.limits_source != NULL);
    }
    CHECK_EQ(sourced, 49);  /* every hosted model of the three */
    /* gpt-4 and eight Claude entries (2026-12-06); gpt-5-mini,
     * gpt-5-nano, gpt-4.1-nano and the two DeepSeek entries
     * (2026-12-07). */
    CHECK_EQ(checked, 14);
    /* DeepSeek's page: deepseek-reasoner writes at most 8K tokens of
     * answer (its 32K of reasoning are separate); the catalog said 32K. */
    CHECK(am_models_lookup(m, AM_STR("deepseek-reasoner"), &info));
    CHECK_EQ(info.max_output, 8192);
    CHECK(info.input_per_mtok == 0.55 && info.cached_input_per_mtok == 0.14);
    CHECK_STR_EQ(info.limits_checked, "2026-12-07");
    CHECK(am_models_lookup(m, AM_STR("gpt-5-nano-2025-08-07"), &info));
    CHECK_EQ(info.context_window, 400000);
    CHECK_STR_EQ(info.price_source,
                 "https://developers.openai.com/api/docs/models/gpt-5-nano");
    CHECK_STR_EQ(info.price_checked, "2026-12-07");

    /* A user file: a date that is not YYYY-MM-DD is refused, naming the
     * entry; so is a date without its source; a good one is kept. */
    snprintf(path, sizeof path, "%s/models.json", dir);
    f = fopen(path, "w");
    CHECK(f != NULL);
    fputs("{\"models\": [{\"name\": \"mine\", \"chars_per_token\": 4,"
          " \"price_source\": \"https://example.org/p\","
          " \"price_checked\": \"Aug 2025\"}]}", f);
    fclose(f);
    CHECK_ST(am_models_load_file(m, path), AM_EFORMAT);
    CHECK(strstr(am_models_last_error(m)->msg, "models[0]") != NULL);
    CHECK(strstr(am_models_last_error(m)->msg, "YYYY-MM-DD") != NULL);
    f = fopen(path, "w");
    fputs("{\"models\": [{\"name\": \"mine\", \"chars_per_token\": 4,"
          " \"limits_checked\": \"2026-01-31\"}]}", f);
    fclose(f);
    CHECK_ST(am_models_load_file(m, path), AM_EFORMAT);
    CHECK(strstr(am_models_last_error(m)->msg, "limits_source") != NULL);
    f = fopen(path, "w");
    fputs("{\"models\": [{\"name\": \"mine\", \"chars_per_token\": 4,"
          " \"price_source\": \"https://example.org/p\","
          " \"price_checked\": \"2026-01-31\"}]}", f);
    fclose(f);
    CHECK_OK(am_models_load_file(m, path));
    CHECK(am_models_lookup(m, AM_STR("mine"), &info));
    CHECK_STR_EQ(info.price_checked, "2026-01-31");
    CHECK(info.limits_source == NULL);
    am_models_free(m);
    test_rmtree(dir);
    free(dir);
}

AM_TEST(catalog_resolves_exact_names_prefixes_and_unknowns)
{
    am_models *m = NULL;
    am_model_info info;
    am_error err;

    CHECK_OK_E(am_models_create(NULL, &m, &err), &err);
    CHECK(am_models_count(m) > 40);
    CHECK(am_models_lookup(m, AM_STR("gpt-4o"), &info));
    CHECK_STR_EQ(info.encoding, "o200k_base");
    CHECK_EQ(info.context_window, 128000);
    /* Longest prefix: the mini entry, not gpt-4o, not gpt-4. */
    CHECK(am_models_lookup(m, AM_STR("gpt-4o-mini-2024-07-18"), &info));
    CHECK_STR_EQ(info.name, "gpt-4o-mini");
    CHECK(am_models_lookup(m, AM_STR("gpt-4-0613"), &info));
    CHECK_STR_EQ(info.encoding, "cl100k_base");
    CHECK_EQ(info.context_window, 8192);
    CHECK(am_models_lookup(m, AM_STR("claude-3-opus-20240229"), &info));
    CHECK_STR_EQ(info.provider, "anthropic");
    CHECK(info.encoding == NULL);
    CHECK(info.chars_per_token == 3.5);
    CHECK_EQ(info.context_window, 200000);
    CHECK(am_models_lookup(m, AM_STR("gemini-2.5-pro"), &info));
    CHECK(info.chars_per_token == 4.0);
    CHECK(!am_models_lookup(m, AM_STR("my-local-model"), &info));
    CHECK(!info.known);
    CHECK_EQ(info.context_window, 8192);
    CHECK(info.input_per_mtok == 0.55 && info.output_per_mtok == 2.19);
    /* NULL: the built-in catalog. */
    CHECK(am_models_lookup(NULL, AM_STR("o3-mini"), &info));
    CHECK_STR_EQ(info.name, "o3-mini");
    am_models_free(m);
}

AM_TEST(user_catalog_overrides_and_bad_files_name_the_problem)
{
    char *dir = test_tmpdir();
    char *good = write_tmp(dir, "good.json",
        "{\"defaults\": {\"chars_per_token\": 3.0, \"context_window\": 4096},"
        " \"models\": [{\"name\": \"gpt-4o\", \"provider\": \"openai\","
        " \"encoding\": \"o200k_base\", \"context_window\": 1000,"
        " \"input\": 1, \"output\": 2},"
        " {\"name\": \"acme-\", \"prefix\": true, \"chars_per_token\": 2.5,"
        " \"context_window\": 32000}]}");
    char *bad = write_tmp(dir, "bad.json",
        "{\"models\": [{\"name\": \"x\", \"chars_per_token\": 2},"
        " {\"name\": \"y\", \"context_window\": \"big\","
        " \"chars_per_token\": 2}]}");
    char *bad_enc = write_tmp(dir, "bad_enc.json",
        "{\"models\": [{\"name\": \"x\", \"encoding\": \"zz_base\"}]}");
    am_models *m = NULL;
    am_model_info info;
    am_error err;
    size_t before;

    CHECK_OK_E(am_models_create(&(am_models_opts){ good, NULL }, &m, &err), &err);
    CHECK(am_models_lookup(m, AM_STR("gpt-4o"), &info));
    CHECK_EQ(info.context_window, 1000);
    CHECK(am_models_lookup(m, AM_STR("acme-7b"), &info));
    CHECK(info.chars_per_token == 2.5);
    CHECK(!am_models_lookup(m, AM_STR("zzz"), &info));
    CHECK_EQ(info.context_window, 4096);
    before = am_models_count(m);
    CHECK_ST(am_models_load_file(m, bad), AM_EFORMAT);
    CHECK(strstr(am_models_last_error(m)->msg, "models[1]") != NULL);
    CHECK(strstr(am_models_last_error(m)->msg, "context_window") != NULL);
    CHECK_EQ(am_models_count(m), before); /* nothing half-added */
    CHECK_ST(am_models_load_file(m, bad_enc), AM_EFORMAT);
    CHECK(strstr(am_models_last_error(m)->msg, "zz_base") != NULL);
    CHECK_ST(am_models_load_file(m, "/nonexistent.json"), AM_ENOTFOUND);
    am_models_free(m);
    CHECK_ST(am_models_create(&(am_models_opts){ bad, NULL }, &m, &err), AM_EFORMAT);
    CHECK(m == NULL);
    free(good);
    free(bad);
    free(bad_enc);
    test_rmtree(dir);
    free(dir);
}

AM_TEST(cost_uses_cached_price_for_cached_input)
{
    am_model_info info;
    CHECK(am_models_lookup(NULL, AM_STR("gpt-4o-mini"), &info));
    /* 10000 x 0.15 + 2000 x 0.075 + 800 x 0.6 per million. */
    CHECK(fabs(am_model_cost(&info, 12000, 2000, 800) - 0.00213) < 1e-12);
    CHECK(am_model_cost(NULL, 1, 0, 1) == 0);
}

static am_status catalog_body(void *ctx, const am_allocator *a)
{
    am_models *m = NULL;
    am_model_info info;
    am_status st = am_models_create(&(am_models_opts){ NULL, a }, &m, NULL);
    (void)ctx;
    if (st != AM_OK)
        return st;
    st = am_models_lookup(m, AM_STR("gpt-4.1-mini"), &info) ? AM_OK
                                                            : AM_EINVAL;
    am_models_free(m);
    return st;
}

AM_TEST(catalog_parse_survives_every_allocation_failure)
{
    CHECK(test_oom_sweep(catalog_body, NULL) > 3);
}

/* ---- Tokenizer and messages ---- */

AM_TEST(tokenizer_is_exact_for_openai_and_estimates_others)
{
    am_tokenizer *gpt = NULL, *claude = NULL, *unknown = NULL, *forced = NULL;
    am_tokenizer_opts o = am_tokenizer_opts_default();
    am_tokens toks = AM_TOKENS_INIT;
    am_model_info info;
    am_error err;
    size_t n = 0;

    CHECK_OK_E(am_tokenizer_create(AM_STR("gpt-4o-2024-08-06"), NULL, &gpt,
                                 &err), &err);
    CHECK(am_tokenizer_is_exact(gpt));
    CHECK_STR_EQ(am_encoding_name(am_tokenizer_encoding(gpt)), "o200k_base");
    CHECK_EQ(am_tokenizer_context_window(gpt), 128000);
    CHECK_OK(am_tokenizer_count(gpt, AM_STR("hello world"), NULL, &n, NULL));
    CHECK_EQ(n, 2);

    /* Share gpt's table with a second tokenizer of the same encoding. */
    o.encoding = am_tokenizer_encoding(gpt);
    CHECK_OK(am_tokenizer_create(AM_STR("o4-mini"), &o, &forced, NULL));
    CHECK(am_tokenizer_encoding(forced) == am_tokenizer_encoding(gpt));
    am_tokenizer_free(forced);

    CHECK_OK(am_tokenizer_create(AM_STR("claude-sonnet-4-20250514"), NULL,
                               &claude, NULL));
    CHECK(!am_tokenizer_is_exact(claude));
    /* 7 characters / 3.5 = 2; 8 characters -> 3 (rounded up). */
    CHECK_OK(am_tokenizer_count(claude, AM_STR("abcdefg"), NULL, &n, NULL));
    CHECK_EQ(n, 2);
    CHECK_OK(am_tokenizer_count(claude, AM_STR("\xc3\xa9" "bcdefgh"), NULL,
                                &n, NULL));
    CHECK_EQ(n, 3);
    CHECK_ST(am_tokenizer_encode(claude, AM_STR("x"), NULL, &toks, &err),
             AM_EUNSUPPORTED);
    CHECK(strstr(err.msg, "estimated") != NULL);

    CHECK_OK(am_tokenizer_create(AM_STR("whatever-7b"), NULL, &unknown, NULL));
    am_tokenizer_model(unknown, &info);
    CHECK(!info.known);
    CHECK(!am_tokenizer_is_exact(unknown));

    o = am_tokenizer_opts_default();
    o.encoding_name = "cl100k_base";
    CHECK_OK(am_tokenizer_create(AM_STR("claude-3-haiku"), &o, &forced, NULL));
    CHECK(am_tokenizer_is_exact(forced));
    am_tokenizer_free(forced);

    o.encoding_name = "bogus";
    CHECK_ST(am_tokenizer_create(AM_STR(""), &o, &forced, &err), AM_ENOTFOUND);
    CHECK(forced == NULL);

    am_tokens_free(&toks);
    am_tokenizer_free(gpt);
    am_tokenizer_free(claude);
    am_tokenizer_free(unknown);
}

AM_TEST(messages_are_counted_the_way_openai_bills_them)
{
    am_tokenizer *tz = NULL;
    am_token_msg msgs[3] = {
        { AM_STR("system"), AM_STR("You are a helpful assistant."),
          { NULL, 0 } },
        { AM_STR("user"), AM_STR("hello world"), AM_STR("bob") },
        { AM_STR("assistant"), AM_STR("Hi!"), { NULL, 0 } },
    };
    const char *json =
        "[{\"role\":\"system\",\"content\":\"You are a helpful assistant.\"},"
        " {\"role\":\"user\",\"content\":[{\"type\":\"text\","
        "\"text\":\"hello world\"}],\"name\":\"bob\"},"
        " {\"role\":\"assistant\",\"content\":\"Hi!\"}]";
    size_t want = 0, got = 0, n;
    am_error err;

    CHECK_OK(am_tokenizer_create(AM_STR("gpt-4o"), NULL, &tz, NULL));
    for (int i = 0; i < 3; i++) {
        want += 3;
        CHECK_OK(am_tokenizer_count(tz, msgs[i].role, NULL, &n, NULL));
        want += n;
        CHECK_OK(am_tokenizer_count(tz, msgs[i].content, NULL, &n, NULL));
        want += n;
    }
    want += 1 + 1 + 3; /* name overhead, "bob", reply priming */
    CHECK_OK(am_tokenizer_count_messages(tz, msgs, 3, &got, NULL));
    CHECK_EQ(got, want);
    CHECK_OK(am_tokenizer_count_messages_json(tz, am_str_c(json), &got,
                                              NULL));
    CHECK_EQ(got, want);
    CHECK_OK(am_tokenizer_count_messages(tz, NULL, 0, &got, NULL));
    CHECK_EQ(got, 3);

    CHECK_ST(am_tokenizer_count_messages_json(tz,
                 AM_STR("[{\"role\":\"user\",\"content\":\"x\"},"
                        "{\"content\":\"y\"}]"), &got, &err), AM_EFORMAT);
    CHECK(strstr(err.msg, "message 1") != NULL);
    CHECK(strstr(err.msg, "role") != NULL);
    CHECK_ST(am_tokenizer_count_messages_json(tz, AM_STR("[1,"), &got, &err),
             AM_EFORMAT);
    CHECK_ST(am_tokenizer_count_messages_json(tz,
                 AM_STR("[{\"role\":\"user\",\"content\":7}]"), &got, &err),
             AM_EFORMAT);
    CHECK(strstr(err.msg, "content") != NULL);

    CHECK_OK(am_tokenizer_count_tools_json(tz,
        AM_STR("[{\"type\":\"function\",\"function\":{\"name\":\"get_weather"
               "\",\"description\":\"Weather for a city\",\"parameters\":"
               "{\"type\":\"object\",\"properties\":{\"city\":{\"type\":"
               "\"string\"}}}}}]"), &got, NULL));
    CHECK(got > 20 && got < 60);
    CHECK_ST(am_tokenizer_count_tools_json(tz, AM_STR("[{\"x\":1}]"), &got,
                                           &err), AM_EFORMAT);
    CHECK(strstr(err.msg, "tools[0]") != NULL);
    am_tokenizer_free(tz);
}

/* The JSON counter reads its messages with the message module's OpenAI
 * reader (am_msgs_from_json): what that reader keeps as text is counted
 * (reasoning_content as a thinking part, a refusal part), what it refuses
 * is refused with its detail, and an estimating model counts the same
 * pieces. */
AM_TEST(messages_json_is_read_by_the_message_reader)
{
    am_tokenizer *tz = NULL, *est = NULL;
    am_error err;
    size_t plain = 0, with = 0, n = 0;
    const char *reasoning = "First check the order, then the invoice.";
    const char *refusal = "I cannot share that.";

    CHECK_OK(am_tokenizer_create(AM_STR("gpt-4o"), NULL, &tz, NULL));
    CHECK_OK(am_tokenizer_count_messages_json(tz,
                 AM_STR("[{\"role\":\"assistant\",\"content\":\"ok\"}]"),
                 &plain, &err));
    CHECK_OK_E(am_tokenizer_count_messages_json(tz,
                   AM_STR("[{\"role\":\"assistant\",\"content\":\"ok\","
                          "\"reasoning_content\":\"First check the order, "
                          "then the invoice.\"}]"), &with, &err), &err);
    CHECK_OK(am_tokenizer_count(tz, am_str_c(reasoning), NULL, &n, NULL));
    CHECK_EQ(with, plain + n);
    CHECK_OK_E(am_tokenizer_count_messages_json(tz,
                   AM_STR("[{\"role\":\"assistant\",\"content\":[{\"type\":"
                          "\"text\",\"text\":\"ok\"},{\"type\":\"refusal\","
                          "\"refusal\":\"I cannot share that.\"}]}]"),
                   &with, &err), &err);
    CHECK_OK(am_tokenizer_count(tz, am_str_c(refusal), NULL, &n, NULL));
    CHECK_EQ(with, plain + n);

    /* The reader's refusals, with the message index and the field. */
    CHECK_ST(am_tokenizer_count_messages_json(tz,
                 AM_STR("[{\"role\":\"user\",\"content\":\"x\"},"
                        "{\"role\":\"user\",\"content\":\"y\",\"colour\":1}]"),
                 &n, &err), AM_EFORMAT);
    CHECK(strstr(err.msg, "message 1") != NULL);
    CHECK(strstr(err.msg, "colour") != NULL);
    CHECK_ST(am_tokenizer_count_messages_json(tz,
                 AM_STR("[{\"role\":\"wizard\",\"content\":\"x\"}]"), &n,
                 &err), AM_EFORMAT);
    CHECK(strstr(err.msg, "wizard") != NULL);
    CHECK_ST(am_tokenizer_count_messages_json(tz,
                 AM_STR("{\"model\":\"gpt-4o\"}"), &n, &err), AM_EFORMAT);
    CHECK(strstr(err.msg, "messages") != NULL);
    CHECK_ST(am_tokenizer_count_messages_json(tz, (am_str){ NULL, 3 }, &n,
                                              &err), AM_EINVAL);
    /* A response's message as it came: its annotations hold no text. */
    CHECK_OK_E(am_tokenizer_count_messages_json(tz,
                   AM_STR("[{\"role\":\"assistant\",\"content\":\"ok\","
                          "\"refusal\":null,\"annotations\":[]}]"), &n,
                   &err), &err);
    CHECK_EQ(n, plain);
    /* A request object counts its "messages". */
    CHECK_OK(am_tokenizer_count_messages_json(tz,
                 AM_STR("{\"model\":\"gpt-4o\",\"messages\":[{\"role\":"
                        "\"assistant\",\"content\":\"ok\"}]}"), &n, &err));
    CHECK_EQ(n, plain);

    /* An estimating model: the same pieces, at its characters per token
     * (claude: 3.5): 3 + ceil(9/3.5) for the role + ceil(2/3.5) + 3. */
    CHECK_OK(am_tokenizer_create(AM_STR("claude-3-opus"), NULL, &est, NULL));
    CHECK_OK(am_tokenizer_count_messages_json(est,
                 AM_STR("[{\"role\":\"assistant\",\"content\":\"ok\"}]"), &n,
                 &err));
    CHECK_EQ(n, 3 + 3 + 1 + 3);
    am_tokenizer_free(est);
    am_tokenizer_free(tz);
}

/* ---- Token tracker ---- */

typedef struct budget_seen {
    int calls;
    double cost;
} budget_seen;

static void on_budget(void *ctx, const am_tracker_stats *s)
{
    budget_seen *b = ctx;
    b->calls++;
    b->cost = s->cost;
}

AM_TEST(tracker_sums_usage_cost_savings_and_reports_the_budget_once)
{
    am_tracker_opts o = am_tracker_opts_default();
    am_token_tracker *t = NULL;
    am_tracker_stats s;
    am_usage_record u;
    budget_seen seen = { 0, 0 };
    am_buf json = AM_BUF_INIT;
    am_tokenizer *tz = NULL;

    o.budget = 0.01;
    o.on_budget = on_budget;
    o.on_budget_ctx = &seen;
    CHECK_OK(am_token_tracker_create(&o, &t, NULL));
    memset(&u, 0, sizeof u);
    u.model = AM_STR("gpt-4o-mini");
    u.input_tokens = 12000;
    u.cached_input_tokens = 2000;
    u.output_tokens = 800;
    CHECK_OK(am_token_tracker_record(t, &u));
    am_token_tracker_stats(t, &s);
    CHECK_EQ(s.calls, 1);
    CHECK_EQ(s.reported_calls, 1);
    CHECK_EQ(s.total_tokens, 12800);
    CHECK(fabs(s.cost - 0.00213) < 1e-12);
    CHECK(!s.over_budget);
    CHECK_EQ(seen.calls, 0);

    /* A compression call on gpt-4o: 1000 in, 200 out = $0.0045. */
    u.model = AM_STR("gpt-4o");
    u.input_tokens = 1000;
    u.cached_input_tokens = 0;
    u.output_tokens = 200;
    u.compression = true;
    u.estimated = true;
    CHECK_OK(am_token_tracker_record(t, &u));
    CHECK_OK(am_token_tracker_credit_savings(t, AM_STR("gpt-4o"), 5000));
    am_token_tracker_stats(t, &s);
    CHECK_EQ(s.estimated_calls, 1);
    CHECK_EQ(s.compression_tokens, 1200);
    CHECK_EQ(s.tokens_saved, 5000);
    CHECK_EQ(s.net_tokens_saved, 3800);
    CHECK(fabs(s.savings - 0.0125) < 1e-12);
    CHECK(fabs(s.net_savings - (0.0125 - 0.0045)) < 1e-12);
    CHECK(!s.over_budget);

    /* Go over the $0.01 budget: reported once. */
    u.compression = false;
    u.estimated = false;
    u.input_tokens = 2000;
    CHECK_OK(am_token_tracker_record(t, &u));
    CHECK_OK(am_token_tracker_record(t, &u));
    am_token_tracker_stats(t, &s);
    CHECK(s.over_budget);
    CHECK_EQ(seen.calls, 1);
    CHECK(seen.cost > 0.01);

    /* Bad usage leaves the tracker unchanged. */
    u.cached_input_tokens = 5000;
    CHECK_ST(am_token_tracker_record(t, &u), AM_EINVAL);
    CHECK(strstr(am_token_tracker_last_error(t)->msg, "cached") != NULL);
    u.cached_input_tokens = 0;
    u.output_tokens = -1;
    CHECK_ST(am_token_tracker_record(t, &u), AM_EINVAL);
    u.model = AM_STR("");
    CHECK_ST(am_token_tracker_record(t, &u), AM_EINVAL);
    CHECK_ST(am_token_tracker_credit_savings(t, AM_STR("gpt-4o"), -1),
             AM_EINVAL);
    am_tracker_stats s2;
    am_token_tracker_stats(t, &s2);
    CHECK_EQ(s2.calls, s.calls);

    /* Unknown models are priced with defaults and flagged. */
    CHECK_OK(am_tokenizer_create(AM_STR("mystery-1"), NULL, &tz, NULL));
    CHECK_OK(am_token_tracker_record_text(t, tz, AM_STR("12345678"),
                                          AM_STR("1234")));
    am_token_tracker_stats(t, &s);
    CHECK_EQ(s.unknown_model_calls, 1);
    CHECK_EQ(s.estimated_calls, 2);
    /* 2 tokens in, 1 out at the default $0.55 / $2.19 per million. */
    CHECK(s.estimated_cost > (2 * 0.55 + 2.19) / 1e6 - 1e-12 &&
          s.estimated_cost < (2 * 0.55 + 2.19) / 1e6 + 1e-12);

    CHECK_OK(am_token_tracker_stats_json(t, &json));
    CHECK(strstr(json.ptr, "\"calls\":5") != NULL);
    CHECK(strstr(json.ptr, "\"over_budget\":true") != NULL);
    CHECK(strstr(json.ptr, "\"model\":\"gpt-4o-mini\"") != NULL);
    CHECK(strstr(json.ptr, "\"known\":false,\"priced_as\":\"default\"") !=
          NULL);
    CHECK(strstr(json.ptr, "\"estimated_cost\":") != NULL);
    CHECK(strstr(json.ptr, "\"model\":\"mystery-1\"") != NULL);

    am_token_tracker_reset(t);
    am_token_tracker_stats(t, &s);
    CHECK_EQ(s.calls, 0);
    CHECK(s.budget == 0.01);
    o.budget = -1;
    am_token_tracker *bad = NULL;
    CHECK_ST(am_token_tracker_create(&o, &bad, NULL), AM_EINVAL);
    am_buf_free(&json);
    am_tokenizer_free(tz);
    am_token_tracker_free(t);
}

/* ---- Caller-owned cache ---- */

AM_TEST(token_cache_gives_identical_results_across_calls)
{
    am_encoding *cl = open_enc("cl100k_base");
    am_encoding *o2 = open_enc("o200k_base");
    am_token_cache *cache = NULL;
    am_encode_opts o = { 0, NULL, 0, NULL };
    am_tokens a = AM_TOKENS_INIT, b = AM_TOKENS_INIT;
    const char *texts[] = {
        "the cat sat on the mat, the cat sat on the mat",
        "Привет мир! Привет мир! 中文文本 中文文本",
        "the cat sat on the mat, with antidisestablishmentarianism",
        "<|endoftext|> the cat",
    };
    am_error err;
    size_t n1, n2;

    CHECK_OK(am_token_cache_create(cl, NULL, &cache, NULL));
    o.cache = cache;
    for (int round = 0; round < 3; round++)
        for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
            am_str t = am_str_c(texts[i]);
            /* Count first (stores counts only), then encode. */
            CHECK_OK(am_encoding_count(cl, t, &o, &n1, NULL));
            CHECK_OK(am_encoding_count(cl, t, NULL, &n2, NULL));
            CHECK_EQ(n1, n2);
            a.count = b.count = 0;
            CHECK_OK(am_encoding_encode(cl, t, &o, &a, NULL));
            CHECK_OK(am_encoding_encode(cl, t, NULL, &b, NULL));
            CHECK_EQ(a.count, b.count);
            CHECK(memcmp(a.ids, b.ids, a.count * sizeof *a.ids) == 0);
        }
    /* A cache belongs to one encoding. */
    CHECK_ST(am_encoding_count(o2, AM_STR("x"), &o, &n1, &err), AM_EINVAL);
    CHECK(strstr(err.msg, "another encoding") != NULL);
    CHECK_ST(am_token_cache_create(NULL, NULL, &cache, &err), AM_EINVAL);
    am_token_cache_free(o.cache);
    am_token_cache_free(NULL);
    am_tokens_free(&a);
    am_tokens_free(&b);
    am_encoding_free(cl);
    am_encoding_free(o2);
}

/* Encoding and counting under the failing allocator, on a text of more
 * than 256 KB (a per-call piece cache), with long pieces (merge work
 * space), special tokens allowed and a caller's token cache: a failed
 * encode keeps the ids `out` held before, a good one appends exactly the
 * ids of an encode without failures, and a count is always exact (without
 * memory for its cache it counts without it). */
typedef struct encode_ctx {
    const am_encoding *enc;
    am_str text;
    am_tokens want;
    size_t want_count;
} encode_ctx;

static am_status encode_body(void *ctx, const am_allocator *a)
{
    encode_ctx *c = ctx;
    const am_str allowed = AM_STR("<|endoftext|>");
    am_encode_opts eo = { AM_SPECIAL_ALLOW_ALL, &allowed, 1, NULL };
    am_tokens toks = AM_TOKENS_INIT;
    am_token_cache *tc = NULL;
    size_t n = 0;
    am_status st;

    toks.alloc = a;
    for (int pass = 0; pass < 2; pass++) {
        if (pass == 1) {
            st = am_token_cache_create(c->enc, &(am_token_cache_opts){ 1024, a }, &tc,
                                       NULL);
            if (st != AM_OK)
                break;
            eo.cache = tc;
        }
        am_tokens_free(&toks); /* keeps alloc */
        /* Ids held before the call. */
        st = am_encoding_encode(c->enc, AM_STR("abc"), NULL, &toks, NULL);
        if (st != AM_OK)
            break;
        size_t before = toks.count;
        uint32_t first = toks.ids[0];
        st = am_encoding_encode(c->enc, c->text, &eo, &toks, NULL);
        if (st == AM_ENOMEM && (toks.count != before || toks.ids[0] != first))
            st = AM_EPROTO; /* out changed on failure */
        if (st == AM_OK &&
            (toks.count - before != c->want.count ||
             memcmp(toks.ids + before, c->want.ids,
                    c->want.count * sizeof(uint32_t)) != 0))
            st = AM_EPROTO;
        if (st == AM_OK)
            st = am_encoding_count(c->enc, c->text, &eo, &n, NULL);
        if (st == AM_OK && n != c->want_count)
            st = AM_EPROTO;
        if (st != AM_OK)
            break;
    }
    am_token_cache_free(tc);
    am_tokens_free(&toks);
    return st;
}

AM_TEST(encode_and_count_survive_every_allocation_failure)
{
    am_encoding *enc = open_enc("cl100k_base");
    size_t len = 300 * 1024;
    char *text = malloc(len + 1);
    static const char words[] = "The quick brown fox <|endoftext|> jumps "
                                "over 12345 lazy dogs, again and again. ";
    for (size_t i = 0; i < len; i++)
        text[i] = words[i % (sizeof words - 1)];
    /* Two long pieces (merge work space). */
    memset(text + 1000, 'q', 600);
    memset(text + 200000, 'z', 900);
    text[len] = '\0';
    encode_ctx c = { enc, { text, len }, AM_TOKENS_INIT, 0 };
    const am_str allowed = AM_STR("<|endoftext|>");
    am_encode_opts eo = { AM_SPECIAL_ALLOW_ALL, &allowed, 1, NULL };
    CHECK_OK(am_encoding_encode(enc, c.text, &eo, &c.want, NULL));
    CHECK_OK(am_encoding_count(enc, c.text, &eo, &c.want_count, NULL));
    CHECK_EQ(c.want.count, c.want_count);
    CHECK(test_oom_sweep(encode_body, &c) > 5);
    am_tokens_free(&c.want);
    free(text);
    am_encoding_free(enc);
}

/* The tracker under the failing allocator: records for more models than
 * its first array holds, savings and the JSON statistics; a record that
 * answers AM_ENOMEM is made again (the injected failure is spent). The
 * statistics must then be those of a run where nothing failed: a failed
 * record counts nothing. */
typedef struct tracker_ctx {
    am_buf want;
} tracker_ctx;

static am_status tracker_body(void *ctx, const am_allocator *a)
{
    tracker_ctx *c = ctx;
    static const char *models[] = { "gpt-4o-mini", "gpt-4o", "o3-mini",
                                    "claude-3-5-haiku-latest", "mystery-1",
                                    "mystery-2", "gpt-4.1", "mystery-3",
                                    "gpt-4o-mini", "mystery-9" };
    am_tracker_opts o = am_tracker_opts_default();
    am_token_tracker *t = NULL;
    am_buf js = AM_BUF_INIT;
    am_status st;

    o.alloc = a;
    o.budget_tokens = 1000;
    st = am_token_tracker_create(&o, &t, NULL);
    if (st != AM_OK)
        return st;
    for (size_t i = 0; st == AM_OK && i < 10; i++) {
        am_usage_record u = { am_str_c(models[i]), 100 + (int64_t)i, 10,
                              20, i % 2 == 0, i % 3 == 0 };
        st = am_token_tracker_record(t, &u);
        if (st == AM_ENOMEM)
            st = am_token_tracker_record(t, &u);
        if (st == AM_OK && i % 4 == 0)
            st = am_token_tracker_credit_savings(t, am_str_c(models[i]), 50);
    }
    if (st == AM_OK) {
        st = am_token_tracker_stats_json(t, &js);
        if (st == AM_ENOMEM)
            st = am_token_tracker_stats_json(t, &js);
    }
    if (st == AM_OK && c->want.len == 0) {
        st = am_buf_append(&c->want, js.ptr, js.len);
    } else if (st == AM_OK && (js.len != c->want.len ||
                               memcmp(js.ptr, c->want.ptr, js.len) != 0)) {
        fprintf(stderr, "after a failed record:\n%s\n--- want:\n%s\n",
                js.ptr, c->want.ptr);
        st = AM_EPROTO;
    }
    am_buf_free(&js);
    am_token_tracker_free(t);
    return st;
}

AM_TEST(tracker_failed_records_count_nothing)
{
    tracker_ctx c = { AM_BUF_INIT };
    CHECK_OK(tracker_body(&c, NULL));
    CHECK(test_oom_sweep(tracker_body, &c) > 3);
    am_buf_free(&c.want);
}

/* Tokenizers under the failing allocator: an exact one sharing a
 * pre-opened encoding, an exact one opening its own by name, and an
 * estimating one; each counts and encodes messages, and every answer on
 * AM_OK is the reference answer. */
typedef struct tz_ctx {
    am_encoding *enc;
    size_t want[3];
    size_t want_json[3];
} tz_ctx;

static const char json_msgs[] =
    "[{\"role\":\"system\",\"content\":\"be brief\"},"
    "{\"role\":\"user\",\"content\":[{\"type\":\"text\","
    "\"text\":\"hi there\"}],\"name\":\"bob\"},"
    "{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{"
    "\"id\":\"c1\",\"function\":{\"name\":\"calc\","
    "\"arguments\":\"{}\"}}]}]";

static am_status tz_body(void *ctx, const am_allocator *a)
{
    tz_ctx *c = ctx;
    static const char *models[3] = { "gpt-4o-mini", "gpt-4",
                                     "claude-3-5-haiku-latest" };
    am_token_msg msgs[2] = {
        { AM_STR("system"), AM_STR("Be brief. <|endoftext|>"),
          AM_STR("") },
        { AM_STR("user"), AM_STR("How many tokens is this, exactly?"),
          AM_STR("dana") },
    };
    am_status st = AM_OK;

    for (int i = 0; st == AM_OK && i < 3; i++) {
        am_tokenizer_opts o = am_tokenizer_opts_default();
        am_tokenizer *tz = NULL;
        am_tokens toks = AM_TOKENS_INIT;
        size_t n = 0;
        o.alloc = a;
        if (i == 0)
            o.encoding = c->enc;
        st = am_tokenizer_create(am_str_c(models[i]), &o, &tz, NULL);
        if (st != AM_OK)
            break;
        st = am_tokenizer_count_messages(tz, msgs, 2, &n, NULL);
        if (st == AM_OK && (c->want[i] == 0 ? (c->want[i] = n, false)
                                            : n != c->want[i]))
            st = AM_EPROTO;
        /* The JSON counter reads through the message module on the
         * tokenizer's allocator: whole or AM_ENOMEM, never a third
         * answer. */
        if (st == AM_OK)
            st = am_tokenizer_count_messages_json(tz, AM_STR(json_msgs), &n,
                                                  NULL);
        if (st == AM_OK && (c->want_json[i] == 0
                                ? (c->want_json[i] = n, false)
                                : n != c->want_json[i]))
            st = AM_EPROTO;
        toks.alloc = a;
        if (st == AM_OK && am_tokenizer_is_exact(tz)) {
            st = am_tokenizer_encode(tz, msgs[1].content, NULL, &toks, NULL);
            if (st == AM_OK && toks.count == 0)
                st = AM_EPROTO;
        }
        am_tokens_free(&toks);
        am_tokenizer_free(tz);
    }
    return st;
}

AM_TEST(tokenizers_survive_every_allocation_failure)
{
    tz_ctx c = { open_enc("o200k_base"), { 0, 0, 0 }, { 0, 0, 0 } };
    CHECK_OK(tz_body(&c, NULL)); /* the reference counts */
    CHECK(test_oom_sweep(tz_body, &c) > 3);
    am_encoding_free(c.enc);
}

/* Every failing jansson allocation: a count is the unhooked count or
 * AM_ENOMEM, never "invalid". Strings stay under 14 bytes (jansson 2.14
 * may drop a byte of a longer one when growing its token buffer fails and
 * still succeed, which no caller can detect). A messages array is read by
 * the message module's scanner and never reaches jansson (one reader of
 * messages, #11): its sweep over failing allocations is in
 * tokenizers_survive_every_allocation_failure. */
AM_TEST(tokens_json_counts_are_exact_or_an_error_when_jansson_runs_out)
{
    am_tokenizer *tz = NULL;
    am_models *m = NULL;
    am_error err;
    size_t want, got, nmodels;
    long n;
    static const char tools[] =
        "[{\"type\":\"function\",\"function\":{\"name\":\"calc\","
        "\"description\":\"adds\",\"parameters\":{\"type\":\"object\","
        "\"properties\":{\"a\":{\"type\":\"number\"}}}}}]";

    CHECK_OK_E(am_tokenizer_create(AM_STR("claude-3-opus"), NULL, &tz, &err),
               &err);
    for (int what = 0; what < 2; what++) {
        am_str doc = what == 0 ? AM_STR(json_msgs) : AM_STR(tools);
        CHECK_OK_E(what == 0
                       ? am_tokenizer_count_messages_json(tz, doc, &want, &err)
                       : am_tokenizer_count_tools_json(tz, doc, &want, &err),
                   &err);
        for (n = 1;; n++) {
            got = 0;
            jansson_fail_begin(n);
            am_status st =
                what == 0 ? am_tokenizer_count_messages_json(tz, doc, &got,
                                                             &err)
                          : am_tokenizer_count_tools_json(tz, doc, &got,
                                                          &err);
            int all_tried = jansson_fail_end();
            if (st != AM_OK && st != AM_ENOMEM)
                fprintf(stderr, "n=%ld what=%d: %s\n", n, what, err.msg);
            if (st == AM_OK)
                CHECK_EQ(got, want);
            else
                CHECK_EQ(st, AM_ENOMEM);
            if (all_tried)
                break;
        }
        CHECK(what == 0 ? n == 1 : n > 5);
    }
    /* The built-in catalog: whole or AM_ENOMEM. */
    CHECK_OK(am_models_create(NULL, &m, &err));
    nmodels = am_models_count(m);
    am_models_free(m);
    for (n = 1;; n++) {
        m = NULL;
        jansson_fail_begin(n);
        am_status st = am_models_create(NULL, &m, &err);
        int all_tried = jansson_fail_end();
        if (st != AM_OK && st != AM_ENOMEM)
            fprintf(stderr, "n=%ld models: %s\n", n, err.msg);
        if (st == AM_OK)
            CHECK_EQ(am_models_count(m), nmodels);
        else
            CHECK_EQ(st, AM_ENOMEM);
        am_models_free(m);
        if (all_tried)
            break;
    }
    CHECK(n > 5);
    am_tokenizer_free(tz);
}

/* The tracker's JSON: the unhooked document or AM_ENOMEM. */
AM_TEST(tracker_stats_json_is_whole_or_an_error_when_jansson_runs_out)
{
    am_tracker_opts o = am_tracker_opts_default();
    am_token_tracker *t = NULL;
    am_usage_record u;
    am_buf want = AM_BUF_INIT, got = AM_BUF_INIT;
    long n;

    CHECK_OK(am_token_tracker_create(&o, &t, NULL));
    memset(&u, 0, sizeof u);
    u.model = AM_STR("gpt-4o-mini");
    u.input_tokens = 1200;
    u.output_tokens = 80;
    CHECK_OK(am_token_tracker_record(t, &u));
    u.model = AM_STR("claude-3-opus");
    CHECK_OK(am_token_tracker_record(t, &u));
    CHECK_OK(am_token_tracker_stats_json(t, &want));
    for (n = 1;; n++) {
        am_buf_clear(&got);
        jansson_fail_begin(n);
        am_status st = am_token_tracker_stats_json(t, &got);
        int all_tried = jansson_fail_end();
        if (st == AM_OK)
            CHECK_STR_EQ(got.ptr, want.ptr);
        else
            CHECK_EQ(st, AM_ENOMEM);
        if (all_tried)
            break;
    }
    CHECK(n > 10);
    am_buf_free(&want);
    am_buf_free(&got);
    am_token_tracker_free(t);
}

AM_TEST(models_and_token_cache_take_their_allocator_through_options)
{
    am_models_opts mo = am_models_opts_default();
    am_token_cache_opts co = am_token_cache_opts_default();
    am_models *m = NULL;
    am_error err;
    CHECK(mo.user_file == NULL && mo.alloc == NULL);
    CHECK(co.entries == 0 && co.alloc == NULL);
    CHECK_OK_E(am_models_create(&mo, &m, &err), &err);
    CHECK(am_models_count(m) > 0);
    am_models_free(m);
    CHECK_ST(am_models_create(NULL, NULL, &err), AM_EINVAL);
    co.entries = ((size_t)1 << 24) + 1;
    am_token_cache *c = NULL;
    CHECK_ST(am_token_cache_create(NULL, &co, &c, &err), AM_EINVAL);
}
