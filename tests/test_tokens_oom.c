/* test_tokens_oom.c -- the tokens module when memory runs out: OOM sweeps
 * over opening, encoding, counting, the catalog parse, tokenizers and the
 * tracker, and the JSON outputs when jansson fails. */
#include <jansson.h>

#include "jansson_fail.h"
#include "tokens_fixture.h"

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

/* ---- The encoding's piece memo ---- */

/* What the memo allocates and when: nothing at open, a small table on
 * the first call that uses it, larger ones only while new pieces keep
 * coming and never beyond memo_entries, nothing at all when it is off;
 * and that running out of memory for it is not an error (the call runs
 * cold, with the same count, and the next call tries again). */
AM_TEST(memo_is_allocated_on_first_use_and_without_memory_runs_cold)
{
    test_alloc ta = { 0 };
    am_allocator a = test_alloc_make(&ta);
    am_encoding_opts o = am_encoding_opts_default();
    am_encoding *enc = NULL, *off = NULL, *bad = NULL;
    am_tokens toks = AM_TOKENS_INIT;
    am_str text = AM_STR("Agents count the same messages again, every turn "
                         "of the conversation: Привет мир, 中文文本.");
    am_error err = { AM_OK, "" };
    size_t want = 0, n = 0, live;
    long calls;

    o.alloc = &a;
    o.flags = AM_ENCODING_NO_MEMO;
    CHECK_OK_E(am_encoding_create("cl100k_base", &o, &off, &err), &err);
    calls = ta.calls;
    for (int i = 0; i < 3; i++) {
        CHECK_OK(am_encoding_count(off, text, NULL, &want, NULL));
        CHECK_OK(am_encoding_encode(off, text, NULL, &toks, NULL));
    }
    CHECK_EQ(ta.calls, calls); /* off: no memo, nothing allocated */
    CHECK_EQ(toks.count, 3 * want);

    o.flags = 0;
    o.memo_entries = 5000; /* rounded up to 8192 entries of 96 bytes */
    CHECK_OK_E(am_encoding_create("cl100k_base", &o, &enc, &err), &err);
    live = ta.live;
    CHECK(live < 8192 * 96); /* opening allocates no table */
    ta.fail_at = ta.calls + 1;
    CHECK_OK(am_encoding_count(enc, text, NULL, &n, NULL));
    CHECK_EQ(n, want);
    CHECK_EQ(ta.failures, 1);
    CHECK_EQ(ta.live, live); /* cold, nothing kept */
    ta.fail_at = 0;
    for (int i = 0; i < 3; i++) {
        CHECK_OK(am_encoding_count(enc, text, NULL, &n, NULL));
        CHECK_EQ(n, want);
        if (i == 0) { /* the first table: 1024 entries */
            CHECK(ta.live >= live + 1024 * 96);
            CHECK(ta.live < live + 1024 * 96 + 256);
            calls = ta.calls;
        }
    }
    toks.count = 0;
    CHECK_OK(am_encoding_encode(enc, text, NULL, &toks, NULL));
    CHECK_EQ(toks.count, want);
    CHECK_EQ(ta.calls, calls); /* nothing new to store: no growth */
    /* 30,000 distinct pieces grow it to its bound, 8192, and no further;
     * the counts stay those of the encoding without a memo. */
    for (int i = 0; i < 30000; i += 100) {
        char buf[100 * 16];
        size_t len = 0, m1 = 0, m2 = 0;
        for (int j = i; j < i + 100; j++)
            len += (size_t)sprintf(buf + len, " q%dz", j * 7919);
        CHECK_OK(am_encoding_count(enc, (am_str){ buf, len }, NULL, &m1,
                                   NULL));
        CHECK_OK(am_encoding_count(off, (am_str){ buf, len }, NULL, &m2,
                                   NULL));
        CHECK_EQ(m1, m2);
        CHECK(ta.live < live + 8192 * 96 + 256);
    }
    CHECK(ta.live >= live + 8192 * 96);
    am_encoding_free(enc);
    am_encoding_free(off);
    CHECK_EQ(ta.live, 0);
    CHECK_EQ(ta.live_blocks, 0);

    o.memo_entries = ((size_t)1 << 20) + 1;
    CHECK_ST(am_encoding_create("cl100k_base", &o, &bad, &err), AM_EINVAL);
    CHECK(strstr(err.msg, "memo_entries 1048577 is too big") != NULL);
    CHECK(bad == NULL);
    CHECK_EQ(ta.live, 0);
    am_tokens_free(&toks);
}

/* The memo under the sweep: every failure at open is AM_ENOMEM, every
 * failure of the memo's own table is a cold call with the right count,
 * and nothing leaks. */
static am_status memo_body(void *ctx, const am_allocator *a)
{
    const size_t *want = ctx;
    am_encoding_opts o = am_encoding_opts_default();
    am_encoding *enc = NULL;
    am_status st;

    o.alloc = a;
    o.memo_entries = 1024;
    st = am_encoding_create("o200k_base", &o, &enc, NULL);
    for (int i = 0; i < 3 && st == AM_OK; i++) {
        size_t n = 0;
        st = am_encoding_count(enc, AM_STR("the memo, the memo, the memo "
                                           "again"), NULL, &n, NULL);
        if (st == AM_OK && n != *want)
            st = AM_EPROTO;
    }
    am_encoding_free(enc);
    return st;
}

AM_TEST(memo_survives_every_allocation_failure)
{
    am_encoding *enc = open_enc("o200k_base");
    size_t want = count_of(enc, "the memo, the memo, the memo again");
    CHECK(test_oom_sweep(memo_body, &want) > 2);
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
    am_error err = { AM_OK, "" };
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
