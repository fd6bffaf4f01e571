/* test_recall.c -- conversation recall, the recall tool, the memory tool. */
#include <stdlib.h>
#include <unistd.h>

#include "agentmem/memtool.h"
#include "agentmem/msg.h"
#include "agentmem/recall.h"
#include "harness.h"
#include "store/store_int.h"
#include "jansson_fail.h"
#include "store_target.h"

typedef struct fixture {
    test_clock tc;
    am_clock clk;
    am_store *s;
    am_embedder *emb;
    char *dir;
} fixture;

/* am_recall_search with only a limit, as most tests here search. */
static am_status search_n(am_store *s, am_str user, am_str query,
                          size_t limit, am_buf *out)
{
    am_recall_search_opts o = am_recall_search_opts_default();

    o.limit = limit;
    return am_recall_search(s, user, query, &o, out);
}

static void fx_open(fixture *f)
{
    char path[512];
    memset(f, 0, sizeof *f);
    f->tc.now_ms = 5000000;
    f->clk = test_clock_make(&f->tc);
    f->dir = test_tmpdir();
    test_store_target(f->dir, "r.db", path, sizeof path);
    am_store_opts o = am_store_opts_default();
    o.clock = &f->clk;
    CHECK_OK(am_embedder_hash_create(64, NULL, &f->emb, NULL));
    o.embedder = f->emb;
    CHECK_OK(am_store_open(path, &o, &f->s, NULL));
}

static void fx_close(fixture *f)
{
    am_store_close(f->s);
    am_embedder_free(f->emb);
    test_rmtree(f->dir);
    free(f->dir);
}

static const char conv_alice[] =
    "[{\"role\":\"user\",\"content\":\"The login fails with a 401\"},"
    "{\"role\":\"assistant\",\"content\":\"Your auth token expired; "
    "refresh it.\"},"
    "{\"role\":\"user\",\"content\":\"That fixed the auth bug, thanks\"},"
    "{\"role\":\"assistant\",\"content\":[{\"type\":\"text\","
    "\"text\":\"Glad it works.\"}]},"
    "{\"role\":\"user\",\"content\":\"Now what about dinner recipes?\"},"
    "{\"role\":\"assistant\",\"content\":\"Try a mushroom risotto.\"}]";

static am_status fake_summary(void *ctx, am_str chunk, am_buf *out,
                              am_error *err)
{
    int *calls = ctx;
    (void)err;
    (*calls)++;
    return am_buf_appendf(out, "summary of %zu bytes", chunk.len);
}

static am_status failing_summary(void *ctx, am_str chunk, am_buf *out,
                                 am_error *err)
{
    (void)ctx;
    (void)chunk;
    (void)out;
    snprintf(err->msg, sizeof err->msg, "summarizer offline");
    err->code = AM_ENET;
    return AM_ENET;
}

AM_TEST(store_write_is_all_or_nothing)
{
    /* The memory tool's rename (puts + deletes) and the recall re-index
     * (clear + puts) run as one am__store_write: a failing part undoes
     * the others. */
    fixture f;
    fx_open(&f);
    am_buf out = AM_BUF_INIT;
    am_str parts[] = { AM_STR("mem"), AM_STR("u") };
    am_ns ns = { parts, 2 };
    am_item_in it;
    memset(&it, 0, sizeof it);
    it.ns = ns;
    it.key = AM_STR("/memories/a/old.txt");
    it.value = AM_STR("\"old\"");
    CHECK_OK(am_store_put(f.s, &it));
    am_item_in moved = it;
    moved.key = AM_STR("/memories/b/old.txt");
    am_str dels[] = { AM_STR("/memories/a/old.txt"),
                      AM_STR("/memories/a/missing.txt") };
    am__write w;
    memset(&w, 0, sizeof w);
    w.puts = &moved;
    w.nput = 1;
    w.del_ns = ns;
    w.dels = dels;
    w.ndel = 2;
    CHECK_ST(am__store_write(f.s, &w), AM_ENOTFOUND);
    CHECK(strstr(am_store_last_error(f.s)->msg, "delete 1") != NULL);
    CHECK_ST(am_store_get(f.s, ns, moved.key, &out), AM_ENOTFOUND);
    CHECK_OK(am_store_get(f.s, ns, it.key, &out));
    /* Without the missing key it all happens. */
    w.ndel = 1;
    CHECK_OK(am__store_write(f.s, &w));
    CHECK_OK(am_store_get(f.s, ns, moved.key, &out));
    CHECK_ST(am_store_get(f.s, ns, it.key, &out), AM_ENOTFOUND);
    /* Clear + put: a bad item keeps the cleared namespace intact. */
    am_item_in bad = it;
    bad.value = AM_STR("{not json");
    memset(&w, 0, sizeof w);
    w.clear = ns;
    w.puts = &bad;
    w.nput = 1;
    CHECK_ST(am__store_write(f.s, &w), AM_EFORMAT);
    CHECK_OK(am_store_get(f.s, ns, moved.key, &out));
    am_buf_free(&out);
    fx_close(&f);
}

AM_TEST(recall_reindex_failure_keeps_the_old_chunks)
{
    fixture f;
    fx_open(&f);
    am_buf out = AM_BUF_INIT;
    size_t chunks = 0;
    CHECK_OK(am_recall_index(f.s, AM_STR("alice"), AM_STR("s1"),
                             am_str_c(conv_alice), NULL, &chunks));
    am_recall_opts o = am_recall_opts_default();
    o.summarize = failing_summary;
    CHECK_ST(am_recall_index(f.s, AM_STR("alice"), AM_STR("s1"),
                             AM_STR("[{\"role\":\"user\",\"content\":"
                                    "\"new\"}]"), &o, NULL),
             AM_ENET);
    CHECK_OK(search_n(f.s, AM_STR("alice"), AM_STR("risotto"), 5, &out));
    CHECK(strstr(out.ptr, "risotto") != NULL);
    am_buf_free(&out);
    fx_close(&f);
}

AM_TEST(recall_indexes_chunks_and_searches_one_user_only)
{
    fixture f;
    fx_open(&f);
    am_buf out = AM_BUF_INIT;
    size_t chunks = 0;
    int calls = 0;
    am_recall_opts o = am_recall_opts_default();
    o.chunk_size = 2;
    o.chunk_overlap = 1;
    o.summarize = fake_summary;
    o.summarize_ctx = &calls;
    CHECK_OK(am_recall_index(f.s, AM_STR("alice"), AM_STR("s1"),
                             am_str_c(conv_alice), &o, &chunks));
    CHECK_EQ(chunks, 5);
    CHECK_EQ(calls, 5);
    CHECK_OK(am_recall_index(f.s, AM_STR("bob"), AM_STR("s9"),
                             AM_STR("[{\"role\":\"user\",\"content\":"
                                    "\"bob's secret auth token bug\"}]"),
                             NULL, &chunks));
    CHECK_EQ(chunks, 1);
    CHECK_OK(search_n(f.s, AM_STR("alice"), AM_STR("auth bug"), 3, &out));
    CHECK(strstr(out.ptr, "\"session_id\":\"s1\"") != NULL);
    CHECK(strstr(out.ptr, "auth") != NULL);
    CHECK(strstr(out.ptr, "summary of") != NULL);
    CHECK(strstr(out.ptr, "bob") == NULL);
    /* Re-indexing replaces the old chunks. */
    o.summarize = NULL;
    o.chunk_size = 6;
    o.chunk_overlap = 0;
    CHECK_OK(am_recall_index(f.s, AM_STR("alice"), AM_STR("s1"),
                             am_str_c(conv_alice), &o, &chunks));
    CHECK_EQ(chunks, 1);
    CHECK_OK(search_n(f.s, AM_STR("alice"), AM_STR("risotto"), 10, &out));
    CHECK(strstr(out.ptr, "\"first\":0,\"last\":5") != NULL ||
          strstr(out.ptr, "\"last\":5") != NULL);
    /* Bad input names the problem. */
    CHECK_ST(am_recall_index(f.s, AM_STR("alice"), AM_STR("s2"),
                             AM_STR("{\"role\":1}"), NULL, NULL),
             AM_EFORMAT);
    CHECK_ST(am_recall_index(f.s, AM_STR("alice"), AM_STR("s2"),
                             AM_STR("[{\"role\":\"user\"},{\"x\":1}]"), NULL,
                             NULL),
             AM_EFORMAT);
    CHECK(strstr(am_store_last_error(f.s)->msg, "message 0") != NULL);
    o.chunk_overlap = 6;
    CHECK_ST(am_recall_index(f.s, AM_STR("alice"), AM_STR("s2"),
                             am_str_c(conv_alice), &o, NULL),
             AM_EINVAL);
    am_buf_free(&out);
    fx_close(&f);
}

AM_TEST(recall_chunk_text_is_am_msg_text_and_any_role_or_content_is_taken)
{
    /* A chunk's text is "role: text" per message, the text being
     * am_msg_text's (parts joined with "\n", empty pieces left out), so
     * recall indexes what the token counter and the summaries see. Input
     * the message readers would refuse is still taken as it always was:
     * an unknown role keeps its spelling, content that is neither a string
     * nor parts adds no text, and only the parts' "text" fields count. */
    fixture f;
    fx_open(&f);
    am_buf out = AM_BUF_INIT, want = AM_BUF_INIT;
    am_msg *m = NULL;
    am_part p;
    size_t chunks = 0;
    CHECK_OK(am_recall_index(
        f.s, AM_STR("alice"), AM_STR("s1"),
        AM_STR("[{\"role\":\"human\",\"content\":[{\"type\":\"text\","
               "\"text\":\"alpha\"},{\"type\":\"image_url\",\"image_url\":"
               "{\"url\":\"http://x/y.png\"}},{\"type\":\"text\",\"text\":"
               "\"\"},{\"type\":\"text\",\"text\":\"beta\"}]},"
               "{\"role\":\"bot\",\"content\":42},"
               "{\"role\":\"assistant\",\"content\":null},"
               "{\"role\":\"user\",\"content\":\"gamma\"}]"),
        NULL, &chunks));
    CHECK_EQ(chunks, 1);
    am_str parts[] = { AM_STR("recall"), AM_STR("alice"), AM_STR("s1") };
    am_ns ns = { parts, 3 };
    CHECK_OK(am_store_get(f.s, ns, AM_STR("chunk-000000"), &out));
    CHECK(strstr(out.ptr, "\"text\":\"human: alpha\\nbeta\\nbot: \\n"
                          "assistant: \\nuser: gamma\"") != NULL);
    /* The same message built by hand renders the same text. */
    CHECK_OK(am_msg_create(NULL, AM_ROLE_USER, &m, NULL));
    memset(&p, 0, sizeof p);
    p.type = AM_PART_TEXT;
    p.text = AM_STR("alpha");
    CHECK_OK(am_msg_add_part(m, &p, NULL));
    p.text = AM_STR("beta");
    CHECK_OK(am_msg_add_part(m, &p, NULL));
    CHECK_OK(am_msg_text(m, &want));
    CHECK_STR_EQ(want.ptr, "alpha\nbeta");
    am_msg_free(m);
    am_buf_free(&want);
    am_buf_free(&out);
    fx_close(&f);
}

AM_TEST(recall_defaults_follow_the_seed_and_hits_carry_metadata)
{
    fixture f;
    fx_open(&f);
    am_buf out = AM_BUF_INIT;
    am_recall_opts o = am_recall_opts_default();
    CHECK_EQ(o.chunk_size, 10);
    CHECK_EQ(o.chunk_overlap, 2);
    o.meta = AM_STR("{\"topic\":\"authentication\",\"date\":"
                    "\"2025-01-15\"}");
    CHECK_OK(am_recall_index(f.s, AM_STR("alice"), AM_STR("s1"),
                             am_str_c(conv_alice), &o, NULL));
    CHECK_OK(am_recall_index(f.s, AM_STR("alice"), AM_STR("s2"),
                             AM_STR("[{\"role\":\"user\",\"content\":"
                                    "\"risotto again\"}]"),
                             NULL, NULL));
    CHECK_OK(search_n(f.s, AM_STR("alice"), AM_STR("auth token"), 1, &out));
    CHECK(strstr(out.ptr, "\"metadata\":{\"topic\":\"authentication\","
                          "\"date\":\"2025-01-15\"}") != NULL);
    CHECK_OK(search_n(f.s, AM_STR("alice"), AM_STR("risotto again"), 5, &out));
    CHECK(strstr(out.ptr, "\"metadata\":{}") != NULL);
    /* The model reads the metadata too. */
    CHECK_OK(am_recall_tool_call(
        f.s, AM_STR("alice"), AM_TOOL_ANTHROPIC, NULL,
        AM_STR("{\"id\":\"t\",\"input\":{\"query\":\"auth token\","
               "\"limit\":1}}"),
        &out));
    CHECK(strstr(out.ptr, "Metadata: {") != NULL);
    am_buf_free(&out);
    fx_close(&f);
}

/* The names bonus for recall: am_recall_opts.names_field writes each
 * chunk's proper names (am_text_names of its messages) into its metadata
 * next to `meta`'s fields, and a search or tool call naming that field
 * raises the chunks that name what the query does not. */
static const char conv_trip[] =
    "[{\"role\":\"user\",\"content\":\"We should plan the summer trip.\"},"
    "{\"role\":\"assistant\",\"content\":\"Where would you like to go?\"},"
    "{\"role\":\"user\",\"content\":\"Last year we went to Sweden and "
    "loved it.\"},"
    "{\"role\":\"assistant\",\"content\":\"Then Norway could suit you.\"}]";

AM_TEST(recall_names_field_is_indexed_and_raises_chunks_in_search_and_tool)
{
    fixture f;
    fx_open(&f);
    am_buf out = AM_BUF_INIT;
    am_recall_opts ro = am_recall_opts_default();
    ro.chunk_size = 2;
    ro.chunk_overlap = 0;
    ro.meta = AM_STR("{\"topic\":\"travel\",\"names\":\"replaced\"}");
    ro.names_field = AM_STR("names");
    CHECK_OK(am_recall_index(f.s, AM_STR("alice"), AM_STR("s1"),
                             am_str_c(conv_trip), &ro, NULL));
    am_recall_search_opts so = am_recall_search_opts_default();
    CHECK_EQ(so.limit, 5);
    CHECK(so.min_score == 0 && so.names_field.len == 0 &&
          so.names_bonus == 0);
    /* Without the bonus: both chunks, each with its names. */
    so.limit = 2;
    CHECK_OK(am_recall_search(f.s, AM_STR("alice"),
                                 AM_STR("plan the summer trip last year"),
                                 &so, &out));
    CHECK(strstr(out.ptr, "\"metadata\":{\"topic\":\"travel\",\"names\":"
                          "[\"Sweden\",\"Norway\"]}") != NULL);
    CHECK(strstr(out.ptr, "\"metadata\":{\"topic\":\"travel\",\"names\":"
                          "[]}") != NULL);
    /* With it at full weight, the chunk naming places comes first at 1. */
    so.names_field = AM_STR("names");
    so.names_bonus = 1;
    CHECK_OK(am_recall_search(f.s, AM_STR("alice"),
                                 AM_STR("plan the summer trip last year"),
                                 &so, &out));
    json_t *hits = json_loads(out.ptr, 0, NULL);
    CHECK(json_array_size(hits) == 2);
    CHECK_EQ(json_integer_value(json_object_get(json_array_get(hits, 0),
                                                "first")), 2);
    CHECK(json_real_value(json_object_get(json_array_get(hits, 0),
                                          "score")) == 1.0);
    CHECK(json_real_value(json_object_get(json_array_get(hits, 1),
                                          "score")) < 1.0);
    json_decref(hits);
    /* The tool takes the same two options. */
    am_recall_tool_opts to = am_recall_tool_opts_default();
    CHECK(to.names_field.len == 0 && to.names_bonus == 0);
    to.min_score = -1;
    to.names_field = AM_STR("names");
    to.names_bonus = 1;
    CHECK_OK(am_recall_tool_call(
        f.s, AM_STR("alice"), AM_TOOL_ANTHROPIC, &to,
        AM_STR("{\"id\":\"t\",\"input\":{\"query\":"
               "\"plan the summer trip last year\"}}"),
        &out));
    CHECK(strstr(out.ptr, "[1] session s1 (score 1.000)") != NULL);
    const char *sweden = strstr(out.ptr, "Sweden and loved");
    const char *plan = strstr(out.ptr, "plan the summer trip.");
    CHECK(sweden != NULL && plan != NULL && sweden < plan);
    /* Bad weights and a meta the names cannot join name the problem. */
    to.names_bonus = 2;
    CHECK_ST(am_recall_tool_def(AM_TOOL_OPENAI, &to, &out, NULL), AM_EINVAL);
    /* A bonus without a field (recall.h), in the tool and the search. */
    am_error terr = { AM_OK, "" };
    to.names_bonus = 0.5;
    to.names_field = (am_str){ NULL, 0 };
    CHECK_ST(am_recall_tool_def(AM_TOOL_OPENAI, &to, &out, &terr), AM_EINVAL);
    CHECK(strstr(terr.msg, "needs names_field") != NULL);
    CHECK_ST(am_recall_tool_call(f.s, AM_STR("alice"), AM_TOOL_ANTHROPIC,
                                 &to, AM_STR("{\"id\":\"t\",\"input\":"
                                             "{\"query\":\"trip\"}}"),
                                 &out), AM_EINVAL);
    so.names_bonus = 0.5;
    so.names_field = (am_str){ NULL, 0 };
    CHECK_ST(am_recall_search(f.s, AM_STR("alice"), AM_STR("trip"), &so,
                              &out), AM_EINVAL);
    CHECK(strstr(am_store_last_error(f.s)->msg, "needs names_field") != NULL);
    so.names_bonus = -0.5;
    CHECK_ST(am_recall_search(f.s, AM_STR("alice"), AM_STR("trip"), &so,
                                 &out), AM_EINVAL);
    CHECK(strstr(am_store_last_error(f.s)->msg, "names_bonus") != NULL);
    /* The rest of recall.h's AM_EINVAL list for am_recall_search. */
    so.names_bonus = 0;
    so.min_score = 1.5;
    CHECK_ST(am_recall_search(f.s, AM_STR("alice"), AM_STR("trip"), &so,
                              &out), AM_EINVAL);
    CHECK(strstr(am_store_last_error(f.s)->msg, "min_score") != NULL);
    so.min_score = -0.1;
    CHECK_ST(am_recall_search(f.s, AM_STR("alice"), AM_STR("trip"), &so,
                              &out), AM_EINVAL);
    so.min_score = 0;
    CHECK_ST(am_recall_search(f.s, AM_STR(""), AM_STR("trip"), &so, &out),
             AM_EINVAL);
    CHECK_ST(am_recall_search(NULL, AM_STR("alice"), AM_STR("trip"), &so,
                              &out), AM_EINVAL);
    CHECK_ST(am_recall_search(f.s, AM_STR("alice"), AM_STR("trip"), &so,
                              NULL), AM_EINVAL);
    ro.meta = AM_STR("[1]");
    CHECK_ST(am_recall_index(f.s, AM_STR("alice"), AM_STR("s1"),
                             am_str_c(conv_trip), &ro, NULL), AM_EFORMAT);
    CHECK(strstr(am_store_last_error(f.s)->msg, "names_field") != NULL);
    ro.meta = AM_STR("{}");
    ro.names_field = (am_str){ "\xff", 1 };
    CHECK_ST(am_recall_index(f.s, AM_STR("alice"), AM_STR("s1"),
                             am_str_c(conv_trip), &ro, NULL), AM_EINVAL);
    CHECK(strstr(am_store_last_error(f.s)->msg, "names_field") != NULL);
    ro.names_field = AM_STR("names");
    /* The refused re-indexes kept s1's chunks. */
    CHECK_OK(search_n(f.s, AM_STR("alice"), AM_STR("Sweden"), 5, &out));
    CHECK(strstr(out.ptr, "\"session_id\":\"s1\"") != NULL);
    /* No meta at all: the names alone. */
    ro.meta = (am_str){ NULL, 0 };
    CHECK_OK(am_recall_index(f.s, AM_STR("alice"), AM_STR("s2"),
                             am_str_c(conv_trip), &ro, NULL));
    CHECK_OK(search_n(f.s, AM_STR("alice"), AM_STR("Norway"), 5, &out));
    CHECK(strstr(out.ptr, "\"metadata\":{\"names\":[\"Sweden\","
                          "\"Norway\"]}") != NULL);
    am_buf_free(&out);
    fx_close(&f);
}

AM_TEST(recall_tool_says_when_nothing_is_relevant)
{
    fixture f;
    fx_open(&f);
    am_buf out = AM_BUF_INIT;
    am_recall_opts ro = am_recall_opts_default();
    ro.chunk_size = 2;
    ro.chunk_overlap = 0;
    CHECK_OK(am_recall_index(f.s, AM_STR("alice"), AM_STR("s1"),
                             am_str_c(conv_alice), &ro, NULL));
    am_recall_tool_opts to = am_recall_tool_opts_default();
    CHECK(to.min_score == AM_SEARCH_MIN_SCORE);
    /* Related: the excerpt comes back, scored at least min_score. */
    CHECK_OK(am_recall_tool_call(
        f.s, AM_STR("alice"), AM_TOOL_OPENAI, NULL,
        AM_STR("{\"id\":\"c1\",\"function\":{\"arguments\":"
               "\"{\\\"query\\\":\\\"mushroom risotto recipe\\\"}\"}}"),
        &out));
    CHECK(strstr(out.ptr, "risotto") != NULL);
    CHECK(strstr(out.ptr, "Found ") != NULL);
    /* Unrelated: no excerpt at the default threshold, every chunk (here
     * all 3) without one. */
    const char *call =
        "{\"id\":\"c2\",\"function\":{\"arguments\":"
        "\"{\\\"query\\\":\\\"volcano eruption in Iceland\\\"}\"}}";
    CHECK_OK(am_recall_tool_call(f.s, AM_STR("alice"), AM_TOOL_OPENAI, NULL,
                                 am_str_c(call), &out));
    CHECK(strstr(out.ptr, "No relevant past conversations found.") != NULL);
    CHECK(strstr(out.ptr, "risotto") == NULL);
    to.min_score = -1;
    CHECK_OK(am_recall_tool_call(f.s, AM_STR("alice"), AM_TOOL_OPENAI, &to,
                                 am_str_c(call), &out));
    CHECK(strstr(out.ptr, "Found 3 relevant excerpts") != NULL);
    /* A threshold above the scale names the problem. */
    to.min_score = 1.5;
    CHECK_ST(am_recall_tool_call(f.s, AM_STR("alice"), AM_TOOL_OPENAI, &to,
                                 am_str_c(call), &out),
             AM_EINVAL);
    CHECK(strstr(am_store_last_error(f.s)->msg, "min_score") != NULL);
    am_buf_free(&out);
    fx_close(&f);
}

AM_TEST(recall_tool_name_description_and_limit_are_options)
{
    fixture f;
    fx_open(&f);
    am_buf out = AM_BUF_INIT;
    am_recall_opts ro = am_recall_opts_default();
    ro.chunk_size = 1;
    ro.chunk_overlap = 0;
    CHECK_OK(am_recall_index(f.s, AM_STR("alice"), AM_STR("s1"),
                             am_str_c(conv_alice), &ro, NULL));
    am_recall_tool_opts to = am_recall_tool_opts_default();
    CHECK_EQ(to.limit, 5);
    to.name = AM_STR("recall_past_conversations");
    to.description = AM_STR("Search through past conversations.");
    to.limit = 3;
    CHECK_OK(am_recall_tool_def(AM_TOOL_OPENAI, &to, &out, NULL));
    CHECK(strstr(out.ptr, "\"name\":\"recall_past_conversations\"") !=
          NULL);
    CHECK(strstr(out.ptr, "Search through past conversations.") != NULL);
    CHECK(strstr(out.ptr, "(default 3)") != NULL);
    CHECK_OK(am_recall_tool_def(AM_TOOL_ANTHROPIC, &to, &out, NULL));
    CHECK(strstr(out.ptr, "\"name\":\"recall_past_conversations\"") !=
          NULL);
    /* No limit from the model: the tool's default of 3 excerpts, where
     * the built-in default would give 5 (every excerpt shown, however
     * weak: this is about the limit, not the threshold). */
    to.min_score = -1;
    CHECK_OK(am_recall_tool_call(
        f.s, AM_STR("alice"), AM_TOOL_ANTHROPIC, &to,
        AM_STR("{\"id\":\"t1\",\"name\":\"recall_past_conversations\","
               "\"input\":{\"query\":\"auth token login risotto\"}}"),
        &out));
    CHECK(strstr(out.ptr, "Found 3 relevant excerpts") != NULL);
    am_recall_tool_opts all = am_recall_tool_opts_default();
    all.min_score = -1;
    CHECK_OK(am_recall_tool_call(
        f.s, AM_STR("alice"), AM_TOOL_ANTHROPIC, &all,
        AM_STR("{\"id\":\"t1\",\"input\":{\"query\":"
               "\"auth token login risotto\"}}"),
        &out));
    CHECK(strstr(out.ptr, "Found 5 relevant excerpts") != NULL);
    /* Bad options name the problem. */
    to.name = AM_STR("has space");
    CHECK_ST(am_recall_tool_def(AM_TOOL_OPENAI, &to, &out, NULL), AM_EINVAL);
    CHECK_ST(am_recall_tool_call(f.s, AM_STR("alice"), AM_TOOL_OPENAI,
                                    &to, AM_STR("{\"id\":\"c\"}"), &out),
             AM_EINVAL);
    CHECK(strstr(am_store_last_error(f.s)->msg, "name byte 3") != NULL);
    to = am_recall_tool_opts_default();
    to.limit = 21;
    CHECK_ST(am_recall_tool_def(AM_TOOL_OPENAI, &to, &out, NULL), AM_EINVAL);
    to.limit = 0; /* the default */
    to.description = AM_STR("\xff");
    CHECK_ST(am_recall_tool_def(AM_TOOL_OPENAI, &to, &out, NULL), AM_EINVAL);
    am_buf_free(&out);
    fx_close(&f);
}

AM_TEST(recall_tool_definitions_and_calls)
{
    fixture f;
    fx_open(&f);
    am_buf out = AM_BUF_INIT;
    CHECK_OK(am_recall_index(f.s, AM_STR("alice"), AM_STR("s1"),
                             am_str_c(conv_alice), NULL, NULL));
    CHECK_OK(am_recall_tool_def(AM_TOOL_OPENAI, NULL, &out, NULL));
    CHECK(strstr(out.ptr, "\"type\":\"function\"") != NULL);
    CHECK(strstr(out.ptr, "\"name\":\"recall_conversations\"") != NULL);
    CHECK(strstr(out.ptr, "\"required\":[\"query\"]") != NULL);
    CHECK_OK(am_recall_tool_def(AM_TOOL_ANTHROPIC, NULL, &out, NULL));
    CHECK(strstr(out.ptr, "\"input_schema\"") != NULL);

    CHECK_OK(am_recall_tool_call(
        f.s, AM_STR("alice"), AM_TOOL_OPENAI, NULL,
        AM_STR("{\"id\":\"call_1\",\"type\":\"function\",\"function\":{"
               "\"name\":\"recall_conversations\",\"arguments\":"
               "\"{\\\"query\\\":\\\"auth token\\\",\\\"limit\\\":2}\"}}"),
        &out));
    CHECK(strstr(out.ptr, "\"role\":\"tool\"") != NULL);
    CHECK(strstr(out.ptr, "\"tool_call_id\":\"call_1\"") != NULL);
    CHECK(strstr(out.ptr, "session s1") != NULL);

    CHECK_OK(am_recall_tool_call(
        f.s, AM_STR("bob"), AM_TOOL_ANTHROPIC, NULL,
        AM_STR("{\"type\":\"tool_use\",\"id\":\"toolu_1\",\"name\":"
               "\"recall_conversations\",\"input\":{\"query\":\"auth\"}}"),
        &out));
    CHECK(strstr(out.ptr, "\"tool_use_id\":\"toolu_1\"") != NULL);
    CHECK(strstr(out.ptr, "No relevant past conversations") != NULL);

    CHECK_OK(am_recall_tool_call(
        f.s, AM_STR("alice"), AM_TOOL_ANTHROPIC, NULL,
        AM_STR("{\"id\":\"toolu_2\",\"input\":{\"limit\":\"x\"}}"), &out));
    CHECK(strstr(out.ptr, "\"is_error\":true") != NULL);
    CHECK(strstr(out.ptr, "query") != NULL);
    CHECK_ST(am_recall_tool_call(f.s, AM_STR("alice"), AM_TOOL_OPENAI, NULL,
                                 AM_STR("{\"function\":{}}"), &out),
             AM_EFORMAT);
    am_buf_free(&out);
    fx_close(&f);
}

static void mt(fixture *f, const char *user, const char *input,
               const char *want_prefix, int want_error)
{
    am_buf out = AM_BUF_INIT;
    int is_error = -1;
    CHECK_OK(am_memtool_exec(f->s, am_str_c(user), am_str_c(input), &out,
                             &is_error));
    if (strncmp(out.ptr, want_prefix, strlen(want_prefix)) != 0) {
        fprintf(stderr, "input %s\n got: %s\nwant: %s\n", input, out.ptr,
                want_prefix);
        CHECK(0);
    }
    CHECK_EQ(is_error, want_error);
    am_buf_free(&out);
}

AM_TEST(memory_tool_commands_follow_the_documented_replies)
{
    fixture f;
    fx_open(&f);
    mt(&f, "u", "{\"command\":\"view\",\"path\":\"/memories\"}",
       "Here're the files and directories up to 2 levels deep in /memories, "
       "excluding hidden items and node_modules:\n0\t/memories", 0);
    mt(&f, "u", "{\"command\":\"create\",\"path\":\"/memories/notes.txt\","
                "\"file_text\":\"Hello World\\nThis is line two\\n\"}",
       "File created successfully at: /memories/notes.txt", 0);
    mt(&f, "u", "{\"command\":\"create\",\"path\":\"/memories/notes.txt\","
                "\"file_text\":\"x\"}",
       "Error: File /memories/notes.txt already exists", 1);
    mt(&f, "u", "{\"command\":\"view\",\"path\":\"/memories/notes.txt\"}",
       "Here's the content of /memories/notes.txt with line numbers:\n"
       "     1\tHello World\n     2\tThis is line two", 0);
    mt(&f, "u", "{\"command\":\"view\",\"path\":\"/memories/notes.txt\","
                "\"view_range\":[2,-1]}",
       "Here's the content of /memories/notes.txt with line numbers:\n"
       "     2\tThis is line two", 0);
    mt(&f, "u", "{\"command\":\"str_replace\",\"path\":"
                "\"/memories/notes.txt\",\"old_str\":\"World\","
                "\"new_str\":\"There\"}",
       "The memory file has been edited.", 0);
    mt(&f, "u", "{\"command\":\"str_replace\",\"path\":"
                "\"/memories/notes.txt\",\"old_str\":\"absent\","
                "\"new_str\":\"x\"}",
       "No replacement was performed, old_str `absent` did not appear "
       "verbatim in /memories/notes.txt.", 1);
    mt(&f, "u", "{\"command\":\"str_replace\",\"path\":"
                "\"/memories/notes.txt\",\"old_str\":\"i\","
                "\"new_str\":\"x\"}",
       "No replacement was performed. Multiple occurrences of old_str `i` "
       "in lines: 2, 2, 2. Please ensure it is unique", 1);
    mt(&f, "u", "{\"command\":\"insert\",\"path\":\"/memories/notes.txt\","
                "\"insert_line\":1,\"insert_text\":\"inserted\\n\"}",
       "The file /memories/notes.txt has been edited.", 0);
    mt(&f, "u", "{\"command\":\"view\",\"path\":\"/memories/notes.txt\"}",
       "Here's the content of /memories/notes.txt with line numbers:\n"
       "     1\tHello There\n     2\tinserted\n     3\tThis is line two",
       0);
    mt(&f, "u", "{\"command\":\"insert\",\"path\":\"/memories/notes.txt\","
                "\"insert_line\":99,\"insert_text\":\"x\"}",
       "Error: Invalid `insert_line` parameter: 99. It should be within the "
       "range of lines of the file: [0, 4]", 1);
    mt(&f, "u", "{\"command\":\"create\",\"path\":\"/memories/a/b/c.md\","
                "\"file_text\":\"deep\"}",
       "File created successfully at: /memories/a/b/c.md", 0);
    mt(&f, "u", "{\"command\":\"view\",\"path\":\"/memories\"}",
       "Here're the files and directories up to 2 levels deep in /memories, "
       "excluding hidden items and node_modules:\n", 0);
    mt(&f, "u", "{\"command\":\"rename\",\"old_path\":\"/memories/a\","
                "\"new_path\":\"/memories/z\"}",
       "Successfully renamed /memories/a to /memories/z", 0);
    mt(&f, "u", "{\"command\":\"view\",\"path\":\"/memories/z/b/c.md\"}",
       "Here's the content of /memories/z/b/c.md with line numbers:\n"
       "     1\tdeep", 0);
    mt(&f, "u", "{\"command\":\"rename\",\"old_path\":\"/memories/z\","
                "\"new_path\":\"/memories/notes.txt\"}",
       "Error: The destination /memories/notes.txt already exists", 1);
    mt(&f, "u", "{\"command\":\"delete\",\"path\":\"/memories/z\"}",
       "Successfully deleted /memories/z", 0);
    mt(&f, "u", "{\"command\":\"delete\",\"path\":\"/memories/z\"}",
       "Error: The path /memories/z does not exist", 1);
    mt(&f, "u", "{\"command\":\"delete\",\"path\":\"/memories\"}",
       "Error: Cannot delete the /memories directory itself", 1);
    /* Another user's tree is separate. */
    mt(&f, "v", "{\"command\":\"view\",\"path\":\"/memories/notes.txt\"}",
       "The path /memories/notes.txt does not exist. Please provide a valid "
       "path.", 1);
    mt(&f, "u", "{\"command\":\"frob\"}", "Error: unknown command frob", 1);
    mt(&f, "u", "not json", "Error: the tool input must be a JSON object",
       1);
    fx_close(&f);
}

AM_TEST(memory_tool_confines_paths)
{
    fixture f;
    fx_open(&f);
    static const char *const bad[] = {
        "/memories/../etc/passwd", "/etc/passwd", "memories/x",
        "/memories_backup/x", "/memoriesx", "/memories/a/../../x",
        "/memories/%2e%2e/x", "/memories/a\\\\..\\\\b", "/memories/a\\u0000b",
        "/memories/\\u0001", "", "/Memories/x",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char in[300];
        snprintf(in, sizeof in, "{\"command\":\"view\",\"path\":\"%s\"}",
                 bad[i]);
        am_buf out = AM_BUF_INIT;
        int is_error = 0;
        CHECK_OK(am_memtool_exec(f.s, AM_STR("u"), am_str_c(in), &out,
                                 &is_error));
        CHECK(is_error);
        CHECK(strstr(out.ptr, "does not exist. Please provide a valid path.")
              != NULL);
        CHECK(strstr(out.ptr, "/tmp") == NULL);
        am_buf_free(&out);
    }
    char longp[1200] = "{\"command\":\"create\",\"file_text\":\"x\","
                       "\"path\":\"/memories/";
    size_t n = strlen(longp);
    memset(longp + n, 'a', 1100);
    strcpy(longp + n + 1100, "\"}");
    mt(&f, "u", longp, "The path /memories/aaaa", 1);
    /* Normalization: "." and "//" collapse to the same file. */
    mt(&f, "u", "{\"command\":\"create\",\"path\":\"/memories//./n.txt\","
                "\"file_text\":\"x\"}",
       "File created successfully at: /memories/n.txt", 0);
    mt(&f, "u", "{\"command\":\"rename\",\"old_path\":\"/memories/n.txt\","
                "\"new_path\":\"/memories/../n.txt\"}",
       "The path /memories/../n.txt does not exist.", 1);
    am_buf out = AM_BUF_INIT;
    CHECK_OK(am_memtool_call(f.s, AM_STR("u"),
                             AM_STR("{\"type\":\"tool_use\",\"id\":\"t1\","
                                    "\"name\":\"memory\",\"input\":{"
                                    "\"command\":\"view\",\"path\":"
                                    "\"/memories/n.txt\"}}"),
                             &out));
    CHECK(strstr(out.ptr, "\"tool_use_id\":\"t1\"") != NULL);
    CHECK(strstr(out.ptr, "is_error") == NULL);
    CHECK_OK(am_memtool_def(&out));
    CHECK_STR_EQ(out.ptr, "{\"type\":\"memory_20250818\",\"name\":\"memory\"}");
    am_buf_free(&out);
    fx_close(&f);
}

/* ---- Out of memory: recall allocates with the store's allocator ---- */

static am_status oom_recall_body(void *ctx, const am_allocator *a)
{
    const char *path = ctx;
    am_store_opts o = am_store_opts_default();
    am_store *s = NULL;
    am_buf out = AM_BUF_INIT;
    size_t chunks = 0;
    am_recall_opts ro = am_recall_opts_default();
    am_status st;

    unlink(path);
    o.alloc = a;
    st = am_store_open(path, &o, &s, NULL);
    if (st != AM_OK)
        return st;
    ro.chunk_size = 2;
    ro.chunk_overlap = 1;
    ro.names_field = AM_STR("names"); /* the names' metadata path too */
    st = am_recall_index(s, AM_STR("alice"), AM_STR("s1"),
                         am_str_c(conv_alice), &ro, &chunks);
    /* All or nothing: a failed index leaves no chunk behind. */
    if (st == AM_OK && chunks != 5)
        st = AM_EPROTO;
    if (st == AM_OK)
        st = search_n(s, AM_STR("alice"), AM_STR("risotto"), 3, &out);
    if (st == AM_OK && strstr(out.ptr, "risotto") == NULL)
        st = AM_EPROTO;
    if (st == AM_OK)
        st = am_recall_tool_call(
            s, AM_STR("alice"), AM_TOOL_ANTHROPIC, NULL,
            AM_STR("{\"type\":\"tool_use\",\"id\":\"toolu_1\",\"name\":"
                   "\"recall_conversations\",\"input\":{\"query\":"
                   "\"auth\"}}"),
            &out);
    if (st == AM_OK && strstr(out.ptr, "toolu_1") == NULL)
        st = AM_EPROTO;
    am_buf_free(&out);
    am_store_close(s);
    return st;
}

AM_TEST(oom_sweep_recall_index_search_and_tool)
{
    char *dir = test_tmpdir(), path[512];
    snprintf(path, sizeof path, "%s/oom.db", dir);
    CHECK(test_oom_sweep(oom_recall_body, path) > 20);
    test_rmtree(dir);
    free(dir);
}

/* The memory tool allocates with the store's allocator too: with each
 * allocation failing in turn, every command answers AM_OK or AM_ENOMEM
 * and nothing leaks; the run where nothing failed checks the file. */
static am_status oom_memtool_body(void *ctx, const am_allocator *a)
{
    static const char *const cmds[] = {
        "{\"command\":\"create\",\"path\":\"/memories/n.txt\","
        "\"file_text\":\"Hello World\\nline two\\n\"}",
        "{\"command\":\"view\",\"path\":\"/memories/n.txt\"}",
        "{\"command\":\"str_replace\",\"path\":\"/memories/n.txt\","
        "\"old_str\":\"World\",\"new_str\":\"There\"}",
        "{\"command\":\"insert\",\"path\":\"/memories/n.txt\","
        "\"insert_line\":1,\"insert_text\":\"inserted\\n\"}",
        "{\"command\":\"create\",\"path\":\"/memories/d/x.md\","
        "\"file_text\":\"deep\"}",
        "{\"command\":\"view\",\"path\":\"/memories\"}",
        "{\"command\":\"rename\",\"old_path\":\"/memories/d\","
        "\"new_path\":\"/memories/e\"}",
        "{\"command\":\"delete\",\"path\":\"/memories/e\"}",
        "{\"command\":\"view\",\"path\":\"/memories/n.txt\"}",
    };
    const char *path = ctx;
    am_store_opts o = am_store_opts_default();
    am_store *s = NULL;
    am_buf out = AM_BUF_INIT;
    am_status st;
    int is_error = 0;

    unlink(path);
    o.alloc = a;
    st = am_store_open(path, &o, &s, NULL);
    for (size_t i = 0; st == AM_OK && i < sizeof cmds / sizeof *cmds; i++) {
        st = am_memtool_exec(s, AM_STR("u"), am_str_c(cmds[i]), &out,
                             &is_error);
        if (st == AM_OK && is_error)
            st = AM_EPROTO; /* every command here succeeds */
    }
    if (st == AM_OK && strstr(out.ptr, "     1\tHello There\n     2\t"
                                       "inserted\n     3\tline two") == NULL)
        st = AM_EPROTO;
    am_buf_free(&out);
    am_store_close(s);
    return st;
}

AM_TEST(oom_sweep_memory_tool_commands)
{
    char *dir = test_tmpdir(), path[512];
    snprintf(path, sizeof path, "%s/oom.db", dir);
    CHECK(test_oom_sweep(oom_memtool_body, path) > 20);
    test_rmtree(dir);
    free(dir);
}

/* Sweep: fail jansson's n-th allocation during call(); AM_OK must give
 * exactly the reply of an unhooked run, anything else must be AM_ENOMEM.
 * With `needles`, AM_OK must instead give a reply containing each of
 * them: for inputs with strings of 16 bytes or more, where jansson 2.14
 * itself may drop a byte of a string when growing its token buffer fails
 * (lex_save ignores the error) and still succeed, which no caller can
 * detect; the reply must still be whole (no hit, field or flag missing). */
typedef am_status (*jcall_fn)(fixture *f, const char *in, am_buf *out);

static void jansson_sweep(fixture *f, jcall_fn call, const char *in,
                          const char *const *needles)
{
    am_buf want = AM_BUF_INIT, got = AM_BUF_INIT;
    am_status st;
    long n;
    CHECK_OK(call(f, in, &want));
    for (size_t k = 0; needles != NULL && needles[k] != NULL; k++)
        CHECK(strstr(want.ptr, needles[k]) != NULL);
    for (n = 1;; n++) {
        am_buf_clear(&got);
        jansson_fail_begin(n);
        st = call(f, in, &got);
        int all_tried = jansson_fail_end();
        if (st == AM_OK && needles == NULL) {
            if (strcmp(got.ptr, want.ptr) != 0)
                fprintf(stderr, "n=%ld input %s\n got: %s\nwant: %s\n", n,
                        in, got.ptr, want.ptr);
            CHECK_STR_EQ(got.ptr, want.ptr);
        } else if (st == AM_OK) {
            for (size_t k = 0; needles[k] != NULL; k++) {
                if (strstr(got.ptr, needles[k]) == NULL)
                    fprintf(stderr, "n=%ld input %s\n got: %s\nlacks: %s\n",
                            n, in, got.ptr, needles[k]);
                CHECK(strstr(got.ptr, needles[k]) != NULL);
            }
        } else {
            if (st != AM_ENOMEM)
                fprintf(stderr, "n=%ld input %s: status %d (%s)\n", n, in,
                        (int)st, am_store_last_error(f->s)->msg);
            CHECK_EQ(st, AM_ENOMEM);
        }
        if (all_tried)
            break;
    }
    CHECK(n > 2);
    am_buf_free(&want);
    am_buf_free(&got);
}

static am_status memtool_call_u(fixture *f, const char *in, am_buf *out)
{
    return am_memtool_call(f->s, AM_STR("u"), am_str_c(in), out);
}

static am_status memtool_exec_u(fixture *f, const char *in, am_buf *out)
{
    int is_error = -1;
    am_status st = am_memtool_exec(f->s, AM_STR("u"), am_str_c(in), out,
                                   &is_error);
    if (st == AM_OK && am_buf_append(out, is_error ? " E" : " ok", 2 +
                                     (is_error ? 0 : 1)) != AM_OK)
        st = AM_ENOMEM;
    return st;
}

AM_TEST(memory_tool_replies_are_complete_or_an_error_when_jansson_runs_out)
{
    fixture f;
    fx_open(&f);
    am_buf out = AM_BUF_INIT;
    /* Tokens of parsed input stay under 16 bytes: jansson 2.14 drops a
     * byte of a longer one when growing its token buffer fails (lex_save
     * ignores the error), which no caller can detect. */
    CHECK_OK(am_memtool_exec(f.s, AM_STR("u"),
                             AM_STR("{\"command\":\"create\",\"path\":"
                                    "\"/memories/a\",\"file_text\":"
                                    "\"one\\ntwo\\n\"}"),
                             &out, NULL));
    am_buf_free(&out);
    jansson_sweep(&f, memtool_call_u,
                  "{\"type\":\"tool_use\",\"id\":\"t1\",\"name\":\"memory\","
                  "\"input\":{\"command\":\"view\",\"path\":"
                  "\"/memories/a\"}}", NULL);
    jansson_sweep(&f, memtool_call_u,
                  "{\"type\":\"tool_use\",\"id\":\"t2\",\"name\":\"memory\","
                  "\"input\":{\"command\":\"view\",\"path\":"
                  "\"/memories/b\"}}", NULL);
    jansson_sweep(&f, memtool_exec_u,
                  "{\"command\":\"view\",\"path\":\"/memories\"}", NULL);
    jansson_sweep(&f, memtool_exec_u,
                  "{\"command\":\"view\",\"path\":\"/memories/a\","
                  "\"view_range\":[1,1]}", NULL);
    jansson_sweep(&f, memtool_exec_u, "{\"command\":\"bogus\"}", NULL);
    fx_close(&f);
}

static am_status recall_openai(fixture *f, const char *in, am_buf *out)
{
    return am_recall_tool_call(f->s, AM_STR("alice"), AM_TOOL_OPENAI, NULL,
                               am_str_c(in), out);
}

static am_status recall_anthropic(fixture *f, const char *in, am_buf *out)
{
    return am_recall_tool_call(f->s, AM_STR("alice"), AM_TOOL_ANTHROPIC, NULL,
                               am_str_c(in), out);
}

static am_status recall_def(fixture *f, const char *in, am_buf *out)
{
    (void)f;
    return am_recall_tool_def(strcmp(in, "openai") == 0 ? AM_TOOL_OPENAI
                                                        : AM_TOOL_ANTHROPIC, NULL,
                              out, NULL);
}

AM_TEST(recall_tool_replies_are_complete_or_an_error_when_jansson_runs_out)
{
    static const char *const hit_openai[] = {
        "\"tool_call_id\":\"call_1\"", "Found 1 relevant excerpt",
        "[1] session s1", "user: The ", "assistant: Your ", NULL
    };
    static const char *const hit_anthropic[] = {
        "\"tool_use_id\":\"toolu_1\"", "Found 1 relevant excerpt",
        "[1] session s1", "user: The ", "assistant: Your ", NULL
    };
    fixture f;
    fx_open(&f);
    CHECK_OK(am_recall_index(f.s, AM_STR("alice"), AM_STR("s1"),
                             am_str_c(conv_alice), NULL, NULL));
    jansson_sweep(&f, recall_def, "openai", NULL);
    jansson_sweep(&f, recall_def, "anthropic", NULL);
    jansson_sweep(&f, recall_openai,
                  "{\"id\":\"call_1\",\"type\":\"function\",\"function\":{"
                  "\"name\":\"recall_conversations\",\"arguments\":"
                  "\"{\\\"query\\\":\\\"auth token\\\",\\\"limit\\\":2}\"}}",
                  hit_openai);
    jansson_sweep(&f, recall_anthropic,
                  "{\"type\":\"tool_use\",\"id\":\"toolu_1\",\"name\":"
                  "\"recall_conversations\",\"input\":{\"query\":\"auth\"}}",
                  hit_anthropic);
    jansson_sweep(&f, recall_anthropic,
                  "{\"id\":\"toolu_2\",\"input\":{\"limit\":\"x\"}}", NULL);
    fx_close(&f);
}

static am_status recall_search_alice(fixture *f, const char *in, am_buf *out)
{
    return search_n(f->s, AM_STR("alice"), am_str_c(in), 3, out);
}

/* Indexing is AM_OK (the session findable) or AM_ENOMEM; a search lists
 * every hit or fails. */
AM_TEST(recall_index_and_search_are_whole_or_an_error_when_jansson_runs_out)
{
    static const char *const hits[] = { "\"session_id\":\"s1\"",
                                        "\"summary\":", "\"first\":",
                                        "\"last\":", "\"score\":", NULL };
    fixture f;
    long n;
    fx_open(&f);
    for (n = 1;; n++) {
        jansson_fail_begin(n);
        am_status st = am_recall_index(f.s, AM_STR("alice"), AM_STR("s1"),
                                       am_str_c(conv_alice), NULL, NULL);
        int all_tried = jansson_fail_end();
        if (st != AM_OK && st != AM_ENOMEM)
            fprintf(stderr, "n=%ld index: %s\n", n,
                    am_store_last_error(f.s)->msg);
        CHECK(st == AM_OK || st == AM_ENOMEM);
        if (all_tried)
            break;
    }
    CHECK(n > 2);
    CHECK_OK(am_recall_index(f.s, AM_STR("alice"), AM_STR("s1"),
                             am_str_c(conv_alice), NULL, NULL));
    jansson_sweep(&f, recall_search_alice, "auth token", hits);
    fx_close(&f);
}

/* Writing a file (create, str_replace, insert) is AM_OK or AM_ENOMEM,
 * never "file text is not UTF-8" for valid text. */
AM_TEST(memory_tool_writes_are_whole_or_an_error_when_jansson_runs_out)
{
    fixture f;
    long n;
    fx_open(&f);
    for (n = 1;; n++) {
        am_buf out = AM_BUF_INIT;
        int is_error = -1;
        char in[96];
        /* A new short path each time (under 16 bytes with its quotes). */
        snprintf(in, sizeof in, "{\"command\":\"create\",\"path\":"
                 "\"/memories/%ld\",\"file_text\":\"abc\"}", n % 1000);
        jansson_fail_begin(n);
        am_status st = am_memtool_exec(f.s, AM_STR("u"), am_str_c(in), &out,
                                       &is_error);
        int all_tried = jansson_fail_end();
        if (st != AM_OK && st != AM_ENOMEM)
            fprintf(stderr, "n=%ld: %s\n", n, am_store_last_error(f.s)->msg);
        if (st == AM_OK && is_error != 0)
            fprintf(stderr, "n=%ld: %s\n", n, out.ptr);
        CHECK(st == AM_OK || st == AM_ENOMEM);
        if (st == AM_OK)
            CHECK_EQ(is_error, 0);
        am_buf_free(&out);
        if (all_tried)
            break;
    }
    CHECK(n > 2);
    fx_close(&f);
}

/* Whole-directory operations cover every file, however many: the tool
 * read at most 10,000 files, so renaming or deleting a directory of
 * 10,050 left 50 behind, and a directory whose files sorted after the
 * first 10,000 did not exist for view. */
static size_t count_under(fixture *f, const char *user, const char *prefix)
{
    am_str parts[2] = { AM_STR("memtool"), am_str_c(user) };
    am_results *r = NULL;
    size_t n = 0;

    CHECK_OK(am_store_list(f->s, (am_ns){ parts, 2 }, SIZE_MAX, 0, &r));
    for (size_t i = 0; i < r->count; i++)
        n += r->items[i].key.len >= strlen(prefix) &&
             memcmp(r->items[i].key.ptr, prefix, strlen(prefix)) == 0;
    am_results_free(r);
    return n;
}

AM_TEST(memtool_directory_operations_cover_more_than_10000_files)
{
    enum { N = 10050 };
    fixture f;
    am_str parts[2] = { AM_STR("memtool"), AM_STR("u") };
    am_item_in *items = calloc(N + 1, sizeof *items);
    char (*keys)[40] = calloc(N + 1, sizeof *keys);

    fx_open(&f);
    CHECK(items != NULL && keys != NULL);
    for (size_t i = 0; i <= N; i++) {
        if (i < N)
            snprintf(keys[i], sizeof keys[i], "/memories/big/f%05zu", i);
        else /* sorts after every file of big */
            snprintf(keys[i], sizeof keys[i], "/memories/zz/last");
        items[i].ns = (am_ns){ parts, 2 };
        items[i].key = am_str_c(keys[i]);
        items[i].value = AM_STR("\"x\"");
        items[i].no_embed = 1;
    }
    CHECK_OK(am_store_put_many(f.s, items, N + 1));
    mt(&f, "u", "{\"command\":\"view\",\"path\":\"/memories/zz\"}",
       "Here're the files and directories up to 2 levels deep in "
       "/memories/zz", 0);
    mt(&f, "u", "{\"command\":\"rename\",\"old_path\":\"/memories/big\","
                "\"new_path\":\"/memories/moved\"}",
       "Successfully renamed", 0);
    CHECK_EQ(count_under(&f, "u", "/memories/big/"), 0);
    CHECK_EQ(count_under(&f, "u", "/memories/moved/"), N);
    mt(&f, "u", "{\"command\":\"view\",\"path\":\"/memories/moved/f10049\"}",
       "Here's the content of /memories/moved/f10049", 0);
    mt(&f, "u", "{\"command\":\"delete\",\"path\":\"/memories/moved\"}",
       "Successfully deleted", 0);
    CHECK_EQ(count_under(&f, "u", "/memories/moved/"), 0);
    CHECK_EQ(count_under(&f, "u", "/memories/zz/"), 1);
    free(items);
    free(keys);
    fx_close(&f);
}

/* memtool.h, the rest of its promises: malformed commands are error
 * replies with AM_OK; is_error may be NULL; the files are items at
 * ("memtool", user) keyed by the normalized path; am_memtool_call is
 * AM_EFORMAT for a call that is not JSON or has no string "id", and marks
 * an error reply with "is_error"; bad arguments are AM_EINVAL. */
AM_TEST(memory_tool_malformed_input_call_errors_and_where_files_live)
{
    fixture f;
    fx_open(&f);
    am_buf out = AM_BUF_INIT;
    static const char *const malformed[] = {
        "[1,2]", "{\"path\":\"/memories\"}", "{\"command\":7}",
        "{\"command\":\"view\"}", "{\"command\":\"view\",\"path\":3}",
        "{\"command\":\"create\",\"path\":\"/memories/x\"}",
        "{\"command\":\"create\",\"path\":\"/memories/x\","
        "\"file_text\":[\"a\"]}",
        "{\"command\":\"str_replace\",\"path\":\"/memories/x\"}",
        "{\"command\":\"insert\",\"path\":\"/memories/x\","
        "\"insert_text\":\"a\"}",
        "{\"command\":\"rename\",\"old_path\":\"/memories/x\"}",
        "{\"command\":\"view\",\"path\":\"/memories/%2F..%2fx\"}",
        "{\"command\":\"view\",\"path\":\"/memories/\xff\"}",
    };
    for (size_t i = 0; i < sizeof malformed / sizeof malformed[0]; i++) {
        int is_error = 0;
        CHECK_OK(am_memtool_exec(f.s, AM_STR("u"), am_str_c(malformed[i]),
                                 &out, &is_error));
        if (!is_error)
            fprintf(stderr, "not an error: %s -> %s\n", malformed[i],
                    out.ptr);
        CHECK(is_error);
        CHECK(out.len > 0);
    }
    /* is_error may be NULL; the reply is the same. */
    CHECK_OK(am_memtool_exec(f.s, AM_STR("u"), AM_STR("{\"command\":"
                             "\"create\",\"path\":\"/memories//a/./b.md\","
                             "\"file_text\":\"hi\"}"), &out, NULL));
    CHECK_STR_EQ(out.ptr, "File created successfully at: /memories/a/b.md");
    /* The file is the item ("memtool", "u") / "/memories/a/b.md". */
    am_str parts[2] = { AM_STR("memtool"), AM_STR("u") };
    am_buf val = AM_BUF_INIT;
    CHECK_OK(am_store_get(f.s, (am_ns){ parts, 2 },
                          AM_STR("/memories/a/b.md"), &val));
    CHECK(strstr(val.ptr, "hi") != NULL);
    am_buf_free(&val);
    /* Bad arguments are the caller's bug, not the model's. */
    CHECK_ST(am_memtool_exec(NULL, AM_STR("u"), AM_STR("{}"), &out, NULL),
             AM_EINVAL);
    CHECK_ST(am_memtool_exec(f.s, AM_STR("u"), AM_STR("{}"), NULL, NULL),
             AM_EINVAL);
    CHECK_ST(am_memtool_exec(f.s, AM_STR(""), AM_STR("{}"), &out, NULL),
             AM_EINVAL);
    CHECK_ST(am_memtool_def(NULL), AM_EINVAL);
    /* am_memtool_call. */
    CHECK_ST(am_memtool_call(f.s, AM_STR("u"), AM_STR("not json"), &out),
             AM_EFORMAT);
    CHECK_ST(am_memtool_call(f.s, AM_STR("u"), AM_STR("{\"type\":"
                             "\"tool_use\",\"input\":{}}"), &out),
             AM_EFORMAT);
    CHECK_ST(am_memtool_call(f.s, AM_STR("u"), AM_STR("{\"id\":7,"
                             "\"input\":{}}"), &out), AM_EFORMAT);
    CHECK(strstr(am_store_last_error(f.s)->msg, "'id'") != NULL);
    CHECK_OK(am_memtool_call(f.s, AM_STR("u"), AM_STR("{\"type\":"
                             "\"tool_use\",\"id\":\"t2\",\"name\":\"memory\","
                             "\"input\":{\"command\":\"frob\"}}"), &out));
    CHECK_STR_EQ(out.ptr, "{\"type\":\"tool_result\",\"tool_use_id\":\"t2\","
                          "\"content\":\"Error: unknown command frob\","
                          "\"is_error\":true}");
    am_buf_free(&out);
    fx_close(&f);
}

/* memtool.h: JSON is UTF-8 text, so input with a stray byte (a path's
 * included) is answered "not valid UTF-8" with the byte's offset, not "the
 * path does not exist" (it never reaches the path checks) nor "must be a
 * JSON object"; AM_OK, as for every malformed input. Nothing is written. */
AM_TEST(memory_tool_input_that_is_not_utf8_names_the_first_bad_byte)
{
    fixture f;
    fx_open(&f);
    am_buf out = AM_BUF_INIT;
    int is_error = 0;
    static const char bad_path[] = "{\"command\":\"create\",\"path\":"
                                   "\"/memories/\xff.md\",\"file_text\":"
                                   "\"x\"}";
    CHECK_OK(am_memtool_exec(f.s, AM_STR("u"), AM_STR(bad_path), &out,
                             &is_error));
    CHECK(is_error);
    CHECK_STR_EQ(out.ptr, "Error: the tool input is not valid UTF-8 "
                          "(byte 38)");
    /* A truncated sequence at the end, and an overlong '/'. */
    CHECK_OK(am_memtool_exec(f.s, AM_STR("u"), AM_STR("{\"a\":\"\xc3"),
                             &out, &is_error));
    CHECK_STR_EQ(out.ptr, "Error: the tool input is not valid UTF-8 "
                          "(byte 6)");
    CHECK_OK(am_memtool_exec(f.s, AM_STR("u"), AM_STR("\xc0\xaf"), &out,
                             &is_error));
    CHECK_STR_EQ(out.ptr, "Error: the tool input is not valid UTF-8 "
                          "(byte 0)");
    /* Nothing was created under the user. */
    CHECK_OK(am_memtool_exec(f.s, AM_STR("u"), AM_STR("{\"command\":"
                             "\"view\",\"path\":\"/memories\"}"), &out,
                             &is_error));
    CHECK(!is_error);
    CHECK(strstr(out.ptr, ".md") == NULL);
    /* Valid UTF-8 that is not JSON keeps its own reply. */
    CHECK_OK(am_memtool_exec(f.s, AM_STR("u"), AM_STR("caf\xc3\xa9"), &out,
                             &is_error));
    CHECK(is_error);
    CHECK_STR_EQ(out.ptr, "Error: the tool input must be a JSON object");
    am_buf_free(&out);
    fx_close(&f);
}
