/* test_embed.c -- the word and vector primitives the embedders and the
 * store's search share (src/embed/embed_int.h), and the built-in embedders
 * through the public embed.h.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "agentmem/embed.h"
#include "embed/embed_int.h"

typedef struct words_seen {
    char all[512];
    size_t len, count;
} words_seen;

static void collect(const char *w, size_t n, void *ctx)
{
    words_seen *ws = ctx;
    if (ws->len > 0)
        ws->all[ws->len++] = '|';
    memcpy(ws->all + ws->len, w, n);
    ws->len += n;
    ws->all[ws->len] = '\0';
    ws->count++;
}

AM_TEST(words_lowercase_ascii_and_split_on_punctuation)
{
    words_seen ws = { { 0 }, 0, 0 };
    const char *t = "Hello, WORLD! it's 42-fold";
    am__words(t, strlen(t), collect, &ws);
    CHECK_STR_EQ(ws.all, "hello|world|it|s|42|fold");
    CHECK_EQ(ws.count, 6);
}

AM_TEST(words_keep_non_ascii_whole)
{
    words_seen ws = { { 0 }, 0, 0 };
    const char *t = "Caf\xc3\xa9 na\xc3\xafve";
    am__words(t, strlen(t), collect, &ws);
    CHECK_STR_EQ(ws.all, "caf\xc3\xa9|na\xc3\xafve");
}

AM_TEST(words_cut_long_words_on_a_character_boundary)
{
    /* 63 ASCII bytes then a 2-byte character: the cut at AM__WORD_MAX
     * would split it, so the word ends before it. */
    char t[80];
    memset(t, 'a', 63);
    memcpy(t + 63, "\xc3\xa9xyz", 5);
    words_seen ws = { { 0 }, 0, 0 };
    am__words(t, 68, collect, &ws);
    CHECK_EQ(ws.count, 1);
    CHECK_EQ(ws.len, 63);
}

AM_TEST(words_empty_and_only_punctuation)
{
    words_seen ws = { { 0 }, 0, 0 };
    am__words("", 0, collect, &ws);
    am__words(" ,.;!? ", 7, collect, &ws);
    CHECK_EQ(ws.count, 0);
}

AM_TEST(words_contain_folds_case)
{
    am_str q = am_str_c("Where is PARIS, France?");
    CHECK(am__words_contain(q, "paris", 5));
    CHECK(am__words_contain(q, "where", 5));
    CHECK(!am__words_contain(q, "par", 3));
    CHECK(!am__words_contain(q, "london", 6));
    CHECK(!am__words_contain(am_str_c(""), "a", 1));
}

AM_TEST(vec_dot_matches_the_plain_sum)
{
    float a[19], b[19];
    double want = 0;
    for (int i = 0; i < 19; i++) {
        a[i] = (float)(i + 1) * 0.5f;
        b[i] = (float)(19 - i) * 0.25f;
        want += (double)a[i] * b[i];
    }
    CHECK(fabs(am__vec_dot(a, b, 19) - want) < 1e-3);
    CHECK(am__vec_dot(a, b, 0) == 0.0f);
}

AM_TEST(vec_normalize_makes_unit_length_and_keeps_zero)
{
    float v[3] = { 3, 0, 4 }, z[2] = { 0, 0 };
    am__vec_normalize(v, 3);
    CHECK(fabsf(v[0] - 0.6f) < 1e-6f && fabsf(v[2] - 0.8f) < 1e-6f);
    am__vec_normalize(z, 2);
    CHECK(z[0] == 0.0f && z[1] == 0.0f);
}

AM_TEST(hash_embedder_is_deterministic_and_unit_length)
{
    am_embedder *e = NULL;
    am_error err = { AM_OK, "" };
    CHECK_OK_E(am_embedder_hash_create(32, NULL, &e, &err), &err);
    CHECK_STR_EQ(e->id, "hash-ngram-v1/32");
    am_str t[2] = { am_str_c("the cat sat"), am_str_c("the cat sat") };
    float out[64];
    CHECK_OK(am_embedder_embed(e, t, 2, out, &err));
    CHECK(memcmp(out, out + 32, 32 * sizeof(float)) == 0);
    CHECK(fabsf(am__vec_dot(out, out, 32) - 1.0f) < 1e-5f);
    am_embedder_free(e);
    CHECK_ST(am_embedder_hash_create(70000, NULL, &e, &err), AM_EINVAL);
    CHECK_ST(am_embedder_hash_create(8, NULL, NULL, &err), AM_EINVAL);
}

/* ---- Word-vector files: checked before use ---- */

/* A well-formed two-word file ("cat", "dog"; dim 2, hsize 4), as
 * scripts/wordvec_convert.js lays it out. Fields at known offsets so a
 * test can corrupt one. */
enum { WV_TABLE = 20, WV_OFF = 36, WV_SCALE = 48, WV_VEC = 56, WV_POOL = 60,
       WV_LEN = 66 };

static void wv_put32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
    p[2] = (unsigned char)(v >> 16);
    p[3] = (unsigned char)(v >> 24);
}

static uint32_t wv_fnv(const char *s)
{
    uint32_t h = 0x811c9dc5u;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 0x01000193u;
    }
    return h;
}

static void wv_build(unsigned char f[WV_LEN])
{
    const char *w[2] = { "cat", "dog" };
    float one = 0.01f;

    memset(f, 0, WV_LEN);
    memcpy(f, "AMWV", 4);
    wv_put32(f + 4, 1);
    wv_put32(f + 8, 2);
    wv_put32(f + 12, 2);
    wv_put32(f + 16, 4);
    for (uint32_t i = 0; i < 2; i++) {
        uint32_t h = wv_fnv(w[i]) & 3;
        while (f[WV_TABLE + 4 * h] != 0)
            h = (h + 1) & 3;
        wv_put32(f + WV_TABLE + 4 * h, i + 1);
        memcpy(f + WV_SCALE + 4 * i, &one, 4);
    }
    wv_put32(f + WV_OFF, 0);
    wv_put32(f + WV_OFF + 4, 3);
    wv_put32(f + WV_OFF + 8, 6);
    f[WV_VEC] = 100;     /* cat: (100, 0) */
    f[WV_VEC + 3] = 100; /* dog: (0, 100) */
    memcpy(f + WV_POOL, "catdog", 6);
}

static void wv_write(const char *path, const unsigned char *f, size_t len)
{
    FILE *fp = fopen(path, "wb");
    CHECK(fp != NULL);
    CHECK_EQ(fwrite(f, 1, len, fp), len);
    fclose(fp);
}

static am_status wv_try(const char *dir, const unsigned char *f, size_t len,
                        am_error *err)
{
    char path[600];
    am_embedder *e = NULL;
    am_status st;

    snprintf(path, sizeof path, "%s/wv.bin", dir);
    wv_write(path, f, len);
    st = am_embedder_words_create(path, NULL, &e, err);
    if (st == AM_OK) {
        am_str t[2] = { AM_STR("cat"), AM_STR("dog and cat") };
        float v[2][2];
        CHECK_OK(am_embedder_embed(e, t, 2, &v[0][0], NULL));
        CHECK(v[0][0] > 0.99f && fabsf(v[0][1]) < 0.01f);
        am_embedder_free(e);
    }
    return st;
}

AM_TEST(word_vector_files_are_checked_before_use)
{
    char *dir = test_tmpdir();
    unsigned char f[WV_LEN];
    am_error err = { AM_OK, "" };
    float nan = NAN;

    wv_build(f);
    CHECK_OK_E(wv_try(dir, f, sizeof f, &err), &err);
    /* A table slot naming a word past the end (read out of bounds). */
    wv_build(f);
    wv_put32(f + WV_TABLE, 0x7fffffff);
    CHECK_ST(wv_try(dir, f, sizeof f, &err), AM_EFORMAT);
    CHECK(strstr(err.msg, "hash slot") != NULL);
    CHECK(strstr(err.msg, "wv.bin") != NULL);
    /* Offsets that fall (a huge length for the memcmp). */
    wv_build(f);
    wv_put32(f + WV_OFF + 4, 5);
    wv_put32(f + WV_OFF + 8, 4);
    CHECK_ST(wv_try(dir, f, sizeof f, &err), AM_EFORMAT);
    CHECK(strstr(err.msg, "offsets fall") != NULL);
    /* Words past the end of the file. */
    wv_build(f);
    wv_put32(f + WV_OFF + 8, 0xfffffff0u);
    CHECK_ST(wv_try(dir, f, sizeof f, &err), AM_EFORMAT);
    CHECK(strstr(err.msg, "truncated") != NULL);
    /* A first offset that is not 0. */
    wv_build(f);
    wv_put32(f + WV_OFF, 1);
    CHECK_ST(wv_try(dir, f, sizeof f, &err), AM_EFORMAT);
    /* A scale that poisons every vector it touches. */
    wv_build(f);
    memcpy(f + WV_SCALE + 4, &nan, 4);
    CHECK_ST(wv_try(dir, f, sizeof f, &err), AM_EFORMAT);
    CHECK(strstr(err.msg, "finite") != NULL);
    /* Cut short. */
    wv_build(f);
    CHECK_ST(wv_try(dir, f, WV_LEN - 1, &err), AM_EFORMAT);
    test_rmtree(dir);
    free(dir);
}

/* The built-in embedders allocate their handle and context with the
 * allocator in their options (embed.h), so an OOM sweep reaches every
 * allocation and each failure leaves nothing behind; which allocator is
 * used is checked by tests/test_alloc_route.c. */
static am_status embedders_body(void *ctx, const am_allocator *alloc)
{
    const char *path = ctx;
    am_embed_opts o = am_embed_opts_default();
    am_embedder *h = NULL, *w = NULL;
    am_str t[1] = { AM_STR("cat and dog") };
    float v[32];
    am_status st;

    o.alloc = alloc;
    st = am_embedder_hash_create(32, &o, &h, NULL);
    if (st != AM_OK) {
        CHECK(h == NULL);
        return st;
    }
    st = am_embedder_words_create(path, &o, &w, NULL);
    if (st == AM_OK) {
        CHECK_OK(am_embedder_embed(h, t, 1, v, NULL));
        CHECK_OK(am_embedder_embed(w, t, 1, v, NULL));
    } else {
        CHECK(w == NULL);
    }
    am_embedder_free(w);
    am_embedder_free(h);
    return st;
}

AM_TEST(built_in_embedders_survive_every_allocation_failure)
{
    char *dir = test_tmpdir();
    char path[600];
    unsigned char f[WV_LEN];

    wv_build(f);
    snprintf(path, sizeof path, "%s/wv.bin", dir);
    wv_write(path, f, sizeof f);
    /* Two blocks each (the am_embedder and its context): four failing
     * runs, then a clean one. */
    CHECK_EQ(test_oom_sweep(embedders_body, path), 5);
    test_rmtree(dir);
    free(dir);
}

/* The default embedder never turns into another one: without its word
 * vectors it fails and says which file and why. */
AM_TEST(default_embedder_fails_instead_of_switching_embedders)
{
    char *dir = test_tmpdir();
    char *old = getenv("AGENTMEM_DATA_DIR");
    char *saved = old != NULL ? strdup(old) : NULL;
    am_embedder *e = NULL;
    am_error err = { AM_OK, "" };
    char path[600];
    unsigned char f[WV_LEN];
    am_status st;

    /* A corrupt file first in the search order is reported, not skipped
     * for the hashed embedder. */
    wv_build(f);
    wv_put32(f + WV_TABLE, 0x7fffffff);
    snprintf(path, sizeof path, "%s/wordvec-sg100.bin", dir);
    wv_write(path, f, sizeof f);
    setenv("AGENTMEM_DATA_DIR", dir, 1);
    st = am_embedder_default_create(NULL, &e, &err);
    if (saved != NULL)
        setenv("AGENTMEM_DATA_DIR", saved, 1);
    else
        unsetenv("AGENTMEM_DATA_DIR");
    free(saved);
    CHECK_ST(st, AM_EFORMAT);
    CHECK(e == NULL);
    CHECK(strstr(err.msg, "default embedder") != NULL);
    CHECK(strstr(err.msg, "wordvec-sg100.bin") != NULL);
    CHECK(strstr(err.msg, "hash slot") != NULL);
    test_rmtree(dir);
    free(dir);
}

/* embed.h: when the word vectors cannot be found the default embedder is
 * AM_ENOTFOUND, naming the file and where it looked, with *out NULL (the
 * file sits in the source tree, so AGENTMEM_DATA_ONLY keeps the search to
 * an empty AGENTMEM_DATA_DIR). */
AM_TEST(default_embedder_not_installed_is_not_found)
{
    char *dir = test_tmpdir();
    am_embedder *e = (am_embedder *)&e;
    am_error err = { AM_OK, "" };
    am_status st;

    setenv("AGENTMEM_DATA_DIR", dir, 1);
    setenv("AGENTMEM_DATA_ONLY", "1", 1);
    st = am_embedder_default_create(NULL, &e, &err);
    unsetenv("AGENTMEM_DATA_ONLY");
    unsetenv("AGENTMEM_DATA_DIR");
    CHECK_ST(st, AM_ENOTFOUND);
    CHECK(e == NULL);
    CHECK_EQ(err.code, AM_ENOTFOUND);
    CHECK(strstr(err.msg, "wordvec-sg100.bin") != NULL);
    CHECK(strstr(err.msg, dir) != NULL);
    /* Without the restriction the same call finds the file. */
    CHECK_OK_E(am_embedder_default_create(NULL, &e, &err), &err);
    am_embedder_free(e);
    test_rmtree(dir);
    free(dir);
}

/* embed.h: am_embedder_free destroys the context of an embedder you
 * filled yourself but leaves the struct (here on the stack) yours; the
 * built-in ones are freed whole (ASan and the leak check see both). */
static int own_destroyed;
static void own_destroy(void *ctx)
{
    (void)ctx;
    own_destroyed++;
}

AM_TEST(a_struct_filled_by_the_caller_stays_the_callers)
{
    am_embedder mine = { "mine/4", 4, NULL, own_destroy, NULL, NULL };
    am_embedder *h = NULL;
    am_embedder_free(&mine);
    CHECK_EQ(own_destroyed, 1);
    CHECK_STR_EQ(mine.id, "mine/4"); /* still readable: not freed */
    CHECK_OK(am_embedder_hash_create(8, NULL, &h, NULL));
    am_embedder_free(h);
}

/* embed.h, the rest of its promises: am_embedder_embed's argument
 * checks, the hashed embedder's dim (0: 256; at most 65536), the words
 * embedder's open errors (with *out NULL), and "the embed calls
 * themselves allocate nothing" for both built-in embedders. */
AM_TEST(embed_arguments_dims_open_errors_and_no_allocation_per_call)
{
    char *dir = test_tmpdir();
    char path[600];
    unsigned char f[WV_LEN];
    test_alloc ta = { 0 };
    am_allocator a = test_alloc_make(&ta);
    am_embed_opts o = am_embed_opts_default();
    am_embedder *h = NULL, *w = (am_embedder *)&ta;
    am_embedder none = { "none/1", 1, NULL, NULL, NULL, NULL };
    am_str t[3] = { AM_STR("cat"), AM_STR("dog and cat"), AM_STR("") };
    float v[3 * 256];
    am_error err = { AM_OK, "" };

    CHECK(o.alloc == NULL);
    CHECK_OK(am_embedder_hash_create(0, NULL, &h, NULL));
    CHECK_EQ(h->dim, 256);
    CHECK_STR_EQ(h->id, "hash-ngram-v1/256");
    /* NULL texts or out is fine with nothing to embed, not with a count;
     * no embedder (or one without `embed`) never is. */
    CHECK_OK(am_embedder_embed(h, NULL, 0, NULL, NULL));
    CHECK_ST(am_embedder_embed(h, NULL, 1, v, &err), AM_EINVAL);
    CHECK_ST(am_embedder_embed(h, t, 1, NULL, &err), AM_EINVAL);
    CHECK_ST(am_embedder_embed(NULL, t, 1, v, &err), AM_EINVAL);
    CHECK_ST(am_embedder_embed(&none, t, 1, v, &err), AM_EINVAL);
    am_embedder_free(h);
    CHECK_OK(am_embedder_hash_create(65536, NULL, &h, NULL));
    CHECK_STR_EQ(h->id, "hash-ngram-v1/65536");
    am_embedder_free(h);
    h = (am_embedder *)&ta;
    CHECK_ST(am_embedder_hash_create(65537, NULL, &h, &err), AM_EINVAL);
    CHECK(h == NULL);

    /* Open errors of the words embedder leave *out NULL. */
    snprintf(path, sizeof path, "%s/missing.bin", dir);
    CHECK_ST(am_embedder_words_create(path, NULL, &w, &err), AM_ENOTFOUND);
    CHECK(w == NULL);
    CHECK(strstr(err.msg, "missing.bin") != NULL);
    w = (am_embedder *)&ta;
    CHECK_ST(am_embedder_words_create(NULL, NULL, &w, &err), AM_EINVAL);
    CHECK(w == NULL);
    CHECK_ST(am_embedder_words_create(path, NULL, NULL, &err), AM_EINVAL);

    /* Every allocation happens at create; embedding allocates nothing. */
    wv_build(f);
    snprintf(path, sizeof path, "%s/wv.bin", dir);
    wv_write(path, f, sizeof f);
    o.alloc = &a;
    CHECK_OK(am_embedder_hash_create(256, &o, &h, NULL));
    CHECK_OK_E(am_embedder_words_create(path, &o, &w, &err), &err);
    long calls = ta.calls;
    CHECK(calls > 0);
    for (int i = 0; i < 3; i++) {
        CHECK_OK(am_embedder_embed(h, t, 3, v, NULL));
        CHECK_OK(am_embedder_embed(w, t, 3, v, NULL));
    }
    CHECK_EQ(ta.calls, calls);
    am_embedder_free(w);
    am_embedder_free(h);
    CHECK_EQ(ta.live_blocks, 0);
    test_rmtree(dir);
    free(dir);
}
