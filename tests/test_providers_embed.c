/* test_providers_embed.c -- the embeddings client: batches, dimensions, bad
 * replies, errors, OOM, and its reply scanner against jansson
 *
 * Against a loopback server (mock_http.c) through the real libcurl code
 * path. Retries never sleep: the clients get a recording sleep function.
 */
#include "providers_fixture.h"

/* ---- Embeddings ---- */

static am_embedder *new_embedder(mock_http *m, size_t dim, size_t batch,
                                 const char *key, sleeps *sl, am_error *err)
{
    am_openai_embed_opts o = am_openai_embed_opts_default();
    am_embedder *e = NULL;

    o.base_url = url_with(m, "/v1");
    o.model = "embed-model";
    o.api_key = key;
    o.api_key_env = "AM_TEST_NO_SUCH_KEY_VAR";
    o.dim = dim;
    o.max_batch = batch;
    o.http.max_retries = 2;
    o.http.sleep = record_sleep;
    o.http.sleep_ctx = sl;
    if (am_embedder_openai_create(&o, &e, err) != AM_OK)
        return NULL;
    return e;
}

AM_TEST(embeddings_batch_and_place_vectors_by_index)
{
    mock_http_opts mo = { .openai_key = "sk-e", .embed_dim = 6,
                          .embed_reverse = true };
    mock_http *m = mock_http_start(&mo);
    sleeps sl = { { 0 }, 0 };
    am_error err = { AM_OK, "" };
    am_embedder *e = new_embedder(m, 6, 3, "sk-e", &sl, &err);
    am_str texts[7] = { AM_STR("alpha"), AM_STR("beta"), AM_STR("gamma"),
                        AM_STR("delta"), AM_STR("epsilon"), AM_STR("zeta"),
                        AM_STR("h\xc3\xa9llo") };
    float out[7 * 6], want[6];
    json_t *body;
    char hv[64];

    CHECK(e != NULL);
    CHECK_STR_EQ(e->id, "openai-compat/embed-model/6");
    CHECK_EQ(e->dim, 6);
    CHECK_EQ(mock_http_count(m), 0); /* dim given: no probe */
    CHECK_OK_E(am_embedder_embed(e, texts, 7, out, &err), &err);
    CHECK_EQ(mock_http_count(m), 3); /* 3 + 3 + 1 */
    for (size_t i = 0; i < 7; i++) {
        mock_embed_vector(texts[i].ptr, texts[i].len, 6, want);
        for (size_t j = 0; j < 6; j++)
            CHECK(out[i * 6 + j] == want[j]);
    }
    CHECK_STR_EQ(mock_http_request(m, 0)->path, "/v1/embeddings");
    CHECK_STR_EQ(mock_header(mock_http_request(m, 0), "authorization", hv,
                             sizeof hv), "Bearer sk-e");
    body = json_loads(mock_http_request(m, 2)->body, 0, NULL);
    CHECK_STR_EQ(json_string_value(json_object_get(body, "model")),
                 "embed-model");
    CHECK_EQ(json_array_size(json_object_get(body, "input")), 1);
    CHECK_STR_EQ(json_string_value(json_array_get(json_object_get(body,
                                                                  "input"),
                                                  0)), "h\xc3\xa9llo");
    CHECK(json_object_get(body, "dimensions") == NULL);
    json_decref(body);
    CHECK_OK(am_embedder_embed(e, texts, 0, NULL, &err));
    am_embedder_free(e);
    mock_http_stop(m);
}

AM_TEST(embeddings_learn_dimension_from_a_probe)
{
    mock_http_opts mo = { .embed_dim = 5 };
    mock_http *m = mock_http_start(&mo);
    sleeps sl = { { 0 }, 0 };
    am_error err = { AM_OK, "" };
    am_embedder *e = new_embedder(m, 0, 128, NULL, &sl, &err);
    am_str t = AM_STR("x");
    float out[5], want[5];

    CHECK(e != NULL);
    CHECK_EQ(e->dim, 5);
    CHECK_STR_EQ(e->id, "openai-compat/embed-model/5");
    CHECK_EQ(mock_http_count(m), 1);
    CHECK_OK(am_embedder_embed(e, &t, 1, out, &err));
    mock_embed_vector("x", 1, 5, want);
    CHECK(memcmp(out, want, sizeof out) == 0);
    am_embedder_free(e);
    mock_http_stop(m);
}

/* Queue one 200 reply with `body` and embed `n` texts against it. */
static am_status embed_with_reply(mock_http *m, am_embedder *e,
                                  const char *body, const am_str *texts,
                                  size_t n, float *out, am_error *err)
{
    mock_reply r = { .status = 200, .body = body };
    mock_http_push(m, &r);
    return am_embedder_embed(e, texts, n, out, err);
}

AM_TEST(embeddings_reject_wrong_dimension_and_bad_replies)
{
    mock_http_opts mo = { .embed_dim = 4 };
    mock_http *m = mock_http_start(&mo);
    sleeps sl = { { 0 }, 0 };
    am_error err = { AM_OK, "" };
    am_embedder *e = new_embedder(m, 8, 128, NULL, &sl, &err);
    am_str two[2] = { AM_STR("a"), AM_STR("b") };
    float out[16];
    const char *body;

    CHECK(e != NULL);
    CHECK_ST(am_embedder_embed(e, two, 2, out, &err), AM_EPROTO);
    CHECK_HAS(err.msg, "dimension 4 for input");
    CHECK_HAS(err.msg, "expected 8");

    body = "{\"data\":[{\"index\":0,\"embedding\":[1,2,3,4,5,6,7,8]}]}";
    CHECK_ST(embed_with_reply(m, e, body, two, 2, out, &err), AM_EPROTO);
    CHECK_HAS(err.msg, "1 vectors in 'data' for 2 inputs");

    body = "{\"data\":[{\"index\":0,\"embedding\":[1,2,3,4,5,6,7,8]},"
           "{\"index\":0,\"embedding\":[1,2,3,4,5,6,7,8]}]}";
    CHECK_ST(embed_with_reply(m, e, body, two, 2, out, &err), AM_EPROTO);
    CHECK_HAS(err.msg, "answers input 0 twice");

    body = "{\"data\":[{\"index\":0,\"embedding\":[1,2,3,4,5,6,7,8]},"
           "{\"index\":5,\"embedding\":[1,2,3,4,5,6,7,8]}]}";
    CHECK_ST(embed_with_reply(m, e, body, two, 2, out, &err), AM_EPROTO);
    CHECK_HAS(err.msg, "'data[1].index' is 5");

    body = "{\"data\":[{\"index\":0,\"embedding\":[1,2,3,4,5,6,7,8]},"
           "{\"index\":1,\"embedding\":[1,2,3,\"x\",5,6,7,8]}]}";
    CHECK_ST(embed_with_reply(m, e, body, two, 2, out, &err), AM_EPROTO);
    CHECK_HAS(err.msg, "'data[1].embedding[3]' is not a number");

    body = "{\"data\":[{\"index\":0,\"embedding\":\"AAAA\"},"
           "{\"index\":1,\"embedding\":\"AAAA\"}]}";
    CHECK_ST(embed_with_reply(m, e, body, two, 2, out, &err), AM_EPROTO);
    CHECK_HAS(err.msg, "base64");

    body = "{\"object\":\"list\"}";
    CHECK_ST(embed_with_reply(m, e, body, two, 2, out, &err), AM_EPROTO);
    CHECK_HAS(err.msg, "lacks field 'data'");

    body = "not json";
    CHECK_ST(embed_with_reply(m, e, body, two, 2, out, &err), AM_EPROTO);
    CHECK_HAS(err.msg, "is not JSON");
    CHECK_HAS(err.msg, "not json");
    am_embedder_free(e);
    mock_http_stop(m);
}

AM_TEST(embeddings_errors_name_the_text_and_the_status)
{
    mock_http_opts mo = { .openai_key = "sk-e", .embed_dim = 4 };
    mock_http *m = mock_http_start(&mo);
    sleeps sl = { { 0 }, 0 };
    am_error err = { AM_OK, "" };
    am_embedder *e = new_embedder(m, 4, 1, "sk-e", &sl, &err);
    am_embedder *bad = new_embedder(m, 4, 1, "sk-wrong", &sl, &err);
    am_str texts[3] = { AM_STR("a"), AM_STR(""), AM_STR("c") };
    am_str utf[2] = { AM_STR("a"), AM_STR("b\xc3") };
    am_str ok[3] = { AM_STR("a"), AM_STR("b"), AM_STR("c") };
    float out[12];
    mock_reply r500 = { .status = 500, .body = "{\"error\":\"gpu fell over\"}" };

    CHECK_ST(am_embedder_embed(e, texts, 3, out, &err), AM_EINVAL);
    CHECK_HAS(err.msg, "text 1 is empty");
    CHECK_ST(am_embedder_embed(e, utf, 2, out, &err), AM_EINVAL);
    CHECK_HAS(err.msg, "text 1 is not valid UTF-8 (byte 1)");
    CHECK_EQ(mock_http_count(m), 0);

    CHECK_ST(am_embedder_embed(bad, ok, 3, out, &err), AM_EAUTH);
    CHECK_HAS(err.msg, "embeddings: HTTP 401");

    /* Batch 2 of 3 fails for good: the error says which texts. */
    mock_reply first = { .body = "{\"data\":[{\"index\":0,\"embedding\":"
                                 "[0,0,0,0]}]}" };
    sl.count = 0;
    mock_http_push(m, &first);
    for (int i = 0; i < 3; i++)
        mock_http_push(m, &r500);
    CHECK_ST(am_embedder_embed(e, ok, 3, out, &err), AM_ENET);
    CHECK_HAS(err.msg, "HTTP 500");
    CHECK_HAS(err.msg, "gpu fell over");
    CHECK_HAS(err.msg, "after 3 attempts");
    CHECK_HAS(err.msg, "texts 1..1; earlier batches succeeded");
    CHECK_EQ(sl.count, 2);
    am_embedder_free(e);
    am_embedder_free(bad);
    mock_http_stop(m);
}

AM_TEST(embeddings_send_dimensions_and_check_options)
{
    mock_http_opts mo = { .embed_dim = 3 };
    mock_http *m = mock_http_start(&mo);
    am_openai_embed_opts o = am_openai_embed_opts_default();
    am_embedder *e = NULL;
    am_error err = { AM_OK, "" };
    am_str t = AM_STR("q");
    float out[3];
    json_t *body;
    char dead[64];

    CHECK_ST(am_embedder_openai_create(&o, &e, &err), AM_EINVAL);
    CHECK_HAS(err.msg, "'model' is required");
    o.model = "m";
    o.max_batch = 0;
    CHECK_ST(am_embedder_openai_create(&o, &e, &err), AM_EINVAL);
    CHECK_HAS(err.msg, "max_batch");
    o.max_batch = 10;
    o.send_dimensions = true;
    CHECK_ST(am_embedder_openai_create(&o, &e, &err), AM_EINVAL);
    CHECK_HAS(err.msg, "send_dimensions needs option 'dim'");
    o.dim = 3;
    /* Any control character, not only a line break, as am_llm_create. */
    o.api_key = "tab\tkey";
    CHECK_ST(am_embedder_openai_create(&o, &e, &err), AM_EINVAL);
    CHECK_HAS(err.msg, "the API key from the api_key option contains "
                       "control characters");
    CHECK(e == NULL);
    o.api_key = NULL;
    o.base_url = "localhost:1234";
    CHECK_ST(am_embedder_openai_create(&o, &e, &err), AM_EINVAL);
    CHECK_HAS(err.msg, "'base_url'");
    o.base_url = "http://tab\there";
    CHECK_ST(am_embedder_openai_create(&o, &e, &err), AM_EINVAL);
    CHECK_HAS(err.msg, "'base_url'");
    o.base_url = NULL;
    o.model = "tab\tmodel";
    CHECK_ST(am_embedder_openai_create(&o, &e, &err), AM_EINVAL);
    CHECK_HAS(err.msg, "'model' must be printable");
    o.model = "m";
    o.base_url = url_with(m, "/v1");
    CHECK_OK(am_embedder_openai_create(&o, &e, &err));
    CHECK_OK(am_embedder_embed(e, &t, 1, out, &err));
    body = json_loads(mock_http_request(m, 0)->body, 0, NULL);
    CHECK_EQ(json_integer_value(json_object_get(body, "dimensions")), 3);
    json_decref(body);
    am_embedder_free(e);

    /* The probe of a dim-less embedder fails when nobody listens. */
    mock_http_dead_url(dead, sizeof dead);
    o.base_url = dead;
    o.dim = 0;
    o.send_dimensions = false;
    o.http.max_retries = 0;
    e = (am_embedder *)&o;
    CHECK_ST(am_embedder_openai_create(&o, &e, &err), AM_ENET);
    CHECK(e == NULL);
    CHECK_HAS(err.msg, "embeddings: cannot talk to");
    mock_http_stop(m);
}

static am_status embed_build_parse_body(void *ctx, const am_allocator *alloc)
{
    am_buf body = AM_BUF_INIT;
    am_str texts[2] = { AM_STR("a"), AM_STR("b") };
    float out[4];
    size_t dim = 2;
    am_error err = { AM_OK, "" };
    am_status st;
    (void)ctx;

    body.alloc = alloc;
    st = am__embed_build_body("m", 2, texts, 2, &body, &err);
    if (st == AM_OK)
        st = am__embed_parse_reply(NULL,
            AM_STR("{\"data\":[{\"index\":1,\"embedding\":[3,4]},"
                   "{\"index\":0,\"embedding\":[1,2]}]}"),
            2, &dim, out, &err);
    if (st == AM_OK) {
        CHECK(out[0] == 1 && out[1] == 2 && out[2] == 3 && out[3] == 4);
        CHECK(strstr(body.ptr, "\"dimensions\":2") != NULL);
    }
    am_buf_free(&body);
    return st;
}

AM_TEST(embed_build_and_parse_survive_oom)
{
    CHECK(test_oom_sweep(embed_build_parse_body, NULL) >= 1);
}

/* ---- The embeddings reply scanner against jansson ---- */

static double rnd_unit(test_rng *tr)
{
    return (double)(test_rng_u64(tr) >> 11) / 9007199254740992.0;
}

/* A valid reply for `count` vectors of `dim` random numbers, built with
 * jansson (reals printed with 17 significant digits) and the values it
 * holds, in index order. */
static char *random_reply(test_rng *tr, size_t count, size_t dim,
                          double *values)
{
    json_t *data = json_array();
    json_t *root;
    char *s;
    for (size_t k = 0; k < count; k++) {
        size_t idx = count - 1 - k; /* reversed order */
        json_t *vec = json_array();
        for (size_t j = 0; j < dim; j++) {
            int scale = (int)(test_rng_u64(tr) % 9);
            double v = (rnd_unit(tr) * 2 - 1) *
                       (scale == 0 ? 1e-40 : scale == 1 ? 1e30
                        : scale == 2 ? 1.0 / (1 << 20) : 1.0);
            if (scale >= 3 && test_rng_u64(tr) % 16 == 0)
                v = (double)(int)(v * 1000); /* integers too */
            values[idx * dim + j] = v;
            json_array_append_new(vec, json_real(v));
        }
        json_array_append_new(data, json_pack("{s:s,s:I,s:o}", "object",
                                              "embedding", "index",
                                              (json_int_t)idx, "embedding",
                                              vec));
    }
    root = json_pack("{s:s,s:o,s:s,s:{s:i}}", "object", "list", "data",
                     data, "model", "m\\u00e9", "usage", "prompt_tokens", 5);
    s = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    return s;
}

static bool within_ulp(float got, double want)
{
    float w = (float)want;
    return got == w || got == nextafterf(w, INFINITY) ||
           got == nextafterf(w, -INFINITY);
}

AM_TEST(embed_reply_scanner_matches_jansson_values)
{
    test_rng tr = { 7 };
    double values[5 * 24];
    float out[5 * 24];
    am_error err = { AM_OK, "" };

    for (int round = 0; round < 300; round++) {
        size_t count = 1 + test_rng_u64(&tr) % 5;
        size_t dim = 1 + test_rng_u64(&tr) % 24;
        size_t got_dim = round % 2 == 0 ? dim : 0;
        char *body = random_reply(&tr, count, dim, values);
        CHECK_OK_E(am__embed_parse_reply(NULL, am_str_c(body), count, &got_dim,
                                         got_dim == 0 ? NULL : out, &err),
                   &err);
        CHECK_EQ(got_dim, dim);
        if (round % 2 == 0)
            for (size_t i = 0; i < count * dim; i++)
                if (!within_ulp(out[i], values[i]))
                    fail_msg("value %zu: got %.9g, want %.17g in %s", i,
                             (double)out[i], values[i], body);
        free(body);
    }
}

AM_TEST(embed_reply_scanner_number_forms)
{
    static const struct {
        const char *text;
        double want;
    } cases[] = {
        { "0", 0 },          { "-0", -0.0 },          { "1E2", 100 },
        { "1e+2", 100 },     { "-2.5e-3", -2.5e-3 },  { "0.000123", 1.23e-4 },
        { "123456789012345678901234", 1.2345678901234568e23 },
        { "0.12345678901234567890123", 0.12345678901234568 },
        { "1e-300", 1e-300 }, { "3.4e38", 3.4e38 },
        { "0.1e1", 1 },      { "100", 100 },
        { "0.000000000000000000000000000000012345", 1.2345e-32 },
        { "-1234567890123456789012345678901234567890.5e-10", -1.2345678901234568e29 },
        { "12345678901234567890123456789012345678901234567890123456789012345", 1.2345678901234568e64 },
        { "1e100000", INFINITY }, { "0.0e5", 0 },
        { "1.5e-35", 1.5e-35 }, { "-2.5e35", -2.5e35 },
        { "0.00000000000000000000000000000000000000000000001", 1e-47 },
    };
    char body[256];
    float out[1];
    am_error err = { AM_OK, "" };

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t dim = 1;
        snprintf(body, sizeof body, "{\"data\":[{\"embedding\":[%s]}]}",
                 cases[i].text);
        if (fabs(cases[i].want) > FLT_MAX) {
            CHECK_ST(am__embed_parse_reply(NULL, am_str_c(body), 1, &dim, out,
                                           &err), AM_EPROTO);
            CHECK_HAS(err.msg, "not a finite float");
            continue;
        }
        CHECK_OK_E(am__embed_parse_reply(NULL, am_str_c(body), 1, &dim, out,
                                         &err),
                   &err);
        if (!within_ulp(out[0], cases[i].want))
            fail_msg("%s: got %.9g", cases[i].text, (double)out[0]);
    }
    {
        size_t dim = 1;
        CHECK_ST(am__embed_parse_reply(NULL,
                     AM_STR("{\"data\":[{\"embedding\":[1e39]}]}"), 1, &dim,
                     out, &err), AM_EPROTO);
        CHECK_HAS(err.msg, "'data[0].embedding[0]' is not a finite float");
    }
}

AM_TEST(embed_reply_scanner_rejects_what_jansson_rejects)
{
    test_rng tr = { 99 };
    double values[3 * 4];
    char *body = random_reply(&tr, 3, 4, values);
    size_t len = strlen(body);
    char *mut = malloc(len + 1);
    static const char bytes[] = "{}[],:\"\\-+.eE0123456789 tfnx\x01\xff";
    float out[12];
    am_error err = { AM_OK, "" };
    int rejected = 0;

    /* Every proper prefix is malformed. */
    for (size_t n = 0; n < len; n++) {
        size_t dim = 4;
        CHECK_ST(am__embed_parse_reply(NULL, (am_str){ body, n }, 3, &dim, out,
                                       &err), AM_EPROTO);
    }
    /* One-byte mutations: whatever jansson refuses, we refuse. */
    for (int round = 0; round < 3000; round++) {
        size_t dim = 4;
        json_t *j;
        am_status st;
        memcpy(mut, body, len + 1);
        mut[test_rng_u64(&tr) % len] =
            bytes[test_rng_u64(&tr) % (sizeof bytes - 1)];
        j = json_loadb(mut, len, JSON_ALLOW_NUL, NULL);
        st = am__embed_parse_reply(NULL, (am_str){ mut, len }, 3, &dim, out,
                                   &err);
        if (j == NULL) {
            if (st == AM_OK)
                fail_msg("accepted malformed JSON: %s", mut);
            CHECK_EQ(st, AM_EPROTO);
            rejected++;
        }
        json_decref(j);
    }
    CHECK(rejected > 100);
    {
        size_t dim = 0;
        CHECK_ST(am__embed_parse_reply(NULL,
                     AM_STR("{\"data\":[{\"embedding\":[1]}]} x"), 1, &dim,
                     NULL, &err), AM_EPROTO);
        CHECK_HAS(err.msg, "end of input expected at byte");
        CHECK_ST(am__embed_parse_reply(NULL,
                     AM_STR("{\"data\":[{\"embedding\":[1,]}]}"), 1, &dim,
                     NULL, &err), AM_EPROTO);
        CHECK_ST(am__embed_parse_reply(NULL,
                     AM_STR("{\"data\":[{\"embedding\":[01]}]}"), 1, &dim,
                     NULL, &err), AM_EPROTO);
        CHECK_ST(am__embed_parse_reply(NULL,
                     AM_STR("{\"data\":[{\"x\":\"\\q\",\"embedding\":[1]}]}"),
                     1, &dim, NULL, &err), AM_EPROTO);
        CHECK_HAS(err.msg, "invalid escape");
        CHECK_ST(am__embed_parse_reply(NULL,
                     AM_STR("{\"data\":[{\"x\":\"\xc3\",\"embedding\":[1]}]}"),
                     1, &dim, NULL, &err), AM_EPROTO);
        CHECK_HAS(err.msg, "UTF-8");
        CHECK_OK(am__embed_parse_reply(NULL,
                     AM_STR(" {\"x\":{\"y\":[true,false,null,\"\\u00e9\\n\"]},"
                            "\"data\":[{\"embedding\":[1],\"index\":0}]} "),
                     1, &dim, NULL, &err));
        CHECK_EQ(dim, 1);
    }
    free(mut);
    free(body);
}

AM_TEST(embed_body_is_whole_or_an_error_when_jansson_runs_out)
{
    am_str texts[3] = { AM_STR("a"), AM_STR("bc"), AM_STR("") };
    am_buf want = AM_BUF_INIT, got = AM_BUF_INIT;
    am_error err = { AM_OK, "" };
    long n;
    CHECK_OK(am__embed_build_body("m", 2, texts, 3, &want, &err));
    for (n = 1;; n++) {
        am_buf_clear(&got);
        jansson_fail_begin(n);
        am_status st = am__embed_build_body("m", 2, texts, 3, &got, &err);
        int all_tried = jansson_fail_end();
        if (st == AM_OK)
            CHECK_STR_EQ(got.ptr, want.ptr);
        else
            CHECK_EQ(st, AM_ENOMEM);
        if (all_tried)
            break;
    }
    CHECK(n > 5);
    am_buf_free(&want);
    am_buf_free(&got);
}
