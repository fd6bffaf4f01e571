/* test_embed.c -- the word and vector primitives the embedders and the
 * store's search share (src/embed/embed_int.h), and the built-in embedders
 * through the public embed.h.
 */
#include <math.h>

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
    am_error err;
    CHECK_OK_E(am_embedder_hash_create(32, &e, &err), &err);
    CHECK_STR_EQ(e->id, "hash-ngram-v1/32");
    am_str t[2] = { am_str_c("the cat sat"), am_str_c("the cat sat") };
    float out[64];
    CHECK_OK(am_embedder_embed(e, t, 2, out, &err));
    CHECK(memcmp(out, out + 32, 32 * sizeof(float)) == 0);
    CHECK(fabsf(am__vec_dot(out, out, 32) - 1.0f) < 1e-5f);
    am_embedder_free(e);
    CHECK_ST(am_embedder_hash_create(70000, &e, &err), AM_EINVAL);
    CHECK_ST(am_embedder_hash_create(8, NULL, &err), AM_EINVAL);
}
