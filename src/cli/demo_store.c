/* demo_store.c -- the long-term store's part of `agentmem demo`.
 *
 * Imports a user's memories from examples/store/memories.jsonl (the
 * store's export format, through am_store_import) into a fresh
 * SQLite file, searches them (full-text, vector, hybrid) with the default
 * offline embedder, indexes examples/store/conversation.json for recall,
 * answers a recall tool call, and runs two memory-tool commands.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agentmem/memtool.h"
#include "agentmem/msg.h"
#include "agentmem/recall.h"
#include "agentmem/store.h"
#include "agentmem/window.h"
#include "cli.h"
#include "commands.h"

static const char *example_path(const char *name, char *buf, size_t len)
{
    const char *src = getenv("AM_SOURCE_DIR");
    snprintf(buf, len, "%s/examples/store/%s", src != NULL ? src : ".",
             name);
    if (access(buf, R_OK) != 0)
        snprintf(buf, len, "%s/../examples/store/%s", AM_SOURCE_DATADIR,
                 name);
    return buf;
}

static void show(const char *label, const am_results *r)
{
    printf("  %s\n", label);
    for (size_t i = 0; i < r->count; i++)
        printf("    %.3f  %.*s/%.*s  %.*s\n", r->items[i].score,
               (int)r->items[i].ns_parts[r->items[i].ns_count - 1].len,
               r->items[i].ns_parts[r->items[i].ns_count - 1].ptr,
               (int)r->items[i].key.len, r->items[i].key.ptr,
               (int)r->items[i].text.len, r->items[i].text.ptr);
}

/* Recall's summary callback backed by the context module's offline
 * summarizer: the chunk's "role: content" lines become messages again. */
static am_status summarize_chunk(void *ctx, am_str chunk, am_buf *summary,
                                 am_error *err)
{
    const am_summarizer *sum = ctx;
    am_msg *msgs[64];
    size_t n = 0;
    am_status st = AM_OK;
    size_t i = 0;
    while (i < chunk.len && n < 64 && st == AM_OK) {
        size_t end = i;
        while (end < chunk.len && chunk.ptr[end] != '\n')
            end++;
        const char *colon = memchr(chunk.ptr + i, ':', end - i);
        am_role role = AM_ROLE_USER;
        am_str text = { chunk.ptr + i, end - i };
        if (colon != NULL &&
            am_role_parse((am_str){ chunk.ptr + i,
                                    (size_t)(colon - (chunk.ptr + i)) },
                          &role, NULL) == AM_OK) {
            text.ptr = colon + 1;
            text.len = (size_t)(chunk.ptr + end - text.ptr);
            while (text.len > 0 && text.ptr[0] == ' ') {
                text.ptr++;
                text.len--;
            }
        }
        st = am_msg_create_text(NULL, role, text, &msgs[n], err);
        if (st == AM_OK)
            n++;
        i = end + 1;
    }
    if (st == AM_OK) {
        am_buf out = AM_BUF_INIT;
        st = am_summarizer_run(sum, AM_STR(""),
                               (const am_msg *const *)msgs, n, 60, &out,
                               err);
        if (st == AM_OK)
            st = am_buf_append(summary, out.ptr != NULL ? out.ptr : "",
                               out.len);
        am_buf_free(&out);
    }
    for (size_t k = 0; k < n; k++)
        am_msg_free(msgs[k]);
    return st;
}

int demo_store(void)
{
    char dir[] = "/tmp/agentmem-demo-XXXXXX", db[128], path[4096];
    am_error err = { AM_OK, "" };
    am_embedder *emb = NULL;
    am_store *s = NULL;
    am_results *r = NULL;
    am_buf buf = AM_BUF_INIT, file = AM_BUF_INIT;
    size_t imported = 0;
    am_status st;
    int rc = 1;

    printf("\n== Long-term store (SQLite) ==\n");
    if (mkdtemp(dir) == NULL) {
        fprintf(stderr, "demo: cannot make a temporary directory\n");
        return 1;
    }
    snprintf(db, sizeof db, "%s/demo.db", dir);
    st = am_embedder_default_create(NULL, &emb, &err);
    if (st != AM_OK)
        goto fail;
    printf("  embedder: %s (%zu dimensions)\n", emb->id, emb->dim);
    am_store_opts o = am_store_opts_default();
    o.embedder = emb;
    st = am_store_open(db, &o, &s, &err);
    if (st != AM_OK)
        goto fail;

    /* The memories are in the store's export format, so the library's
     * import reads them: all or nothing, errors naming the line. */
    st = cli_read_input(example_path("memories.jsonl", path, sizeof path),
                        &file, &err);
    if (st != AM_OK)
        goto fail;
    st = am_store_import(s, am_buf_str(&file), NULL, NULL, &imported, NULL);
    if (st != AM_OK)
        goto store_fail;
    printf("  stored %zu memories for two users in %s\n", imported, db);

    am_str user[1] = { AM_STR("user_123") };
    static const char *const queries[] = {
        "my dog",
        "coding languages",
        "upcoming travel plans",
    };
    for (size_t q = 0; q < 3; q++) {
        am_search sq;
        memset(&sq, 0, sizeof sq);
        sq.ns = (am_ns){ user, 1 };
        sq.query = am_str_c(queries[q]);
        sq.limit = 2;
        st = am_store_search(s, &sq, &r);
        if (st != AM_OK)
            goto store_fail;
        char label[160];
        snprintf(label, sizeof label, "search user_123: \"%s\" (hybrid)",
                 queries[q]);
        show(label, r);
        am_results_free(r);
        r = NULL;
    }

    printf("\n== Conversation recall ==\n");
    st = cli_read_input(example_path("conversation.json", path,
                                     sizeof path), &file, &err);
    if (st != AM_OK)
        goto fail;
    size_t chunks = 0;
    am_summarizer *sum = NULL;
    am_recall_opts ro = am_recall_opts_default();
    if (am_summarizer_offline(NULL, &sum, NULL) == AM_OK) {
        ro.summarize = summarize_chunk;
        ro.summarize_ctx = sum;
    }
    st = am_recall_index(s, AM_STR("user_123"), AM_STR("2024-05-02-outage"),
                         am_buf_str(&file), &ro, &chunks);
    am_summarizer_free(sum);
    if (st != AM_OK)
        goto store_fail;
    printf("  indexed the conversation as %zu chunks, each summarized by "
           "the offline summarizer\n", chunks);
    st = am_recall_tool_call(
        s, AM_STR("user_123"), AM_TOOL_ANTHROPIC, NULL,
        AM_STR("{\"type\":\"tool_use\",\"id\":\"toolu_demo\",\"name\":"
               "\"recall_conversations\",\"input\":{\"query\":\"how did we "
               "fix the login problem\",\"limit\":1}}"),
        &buf);
    if (st != AM_OK)
        goto store_fail;
    printf("  recall tool result: %s\n", buf.ptr);

    printf("\n== Memory tool (Anthropic memory_20250818) ==\n");
    int is_error = 0;
    st = am_memtool_exec(s, AM_STR("user_123"),
                         AM_STR("{\"command\":\"create\",\"path\":"
                                "\"/memories/progress.md\",\"file_text\":"
                                "\"- auth outage fixed\\n- migration "
                                "Friday\\n\"}"),
                         &buf, &is_error);
    if (st != AM_OK)
        goto store_fail;
    printf("  create -> %s\n", buf.ptr);
    st = am_memtool_exec(s, AM_STR("user_123"),
                         AM_STR("{\"command\":\"view\",\"path\":"
                                "\"/memories/../etc/passwd\"}"),
                         &buf, &is_error);
    if (st != AM_OK)
        goto store_fail;
    printf("  view /memories/../etc/passwd -> %s\n", buf.ptr);
    rc = 0;
    goto out;
store_fail:
    snprintf(err.msg, sizeof err.msg, "%s", am_store_last_error(s)->msg);
fail:
    fprintf(stderr, "demo (store): %s: %s\n", am_status_str(st), err.msg);
out:
    am_results_free(r);
    am_buf_free(&buf);
    am_buf_free(&file);
    am_store_close(s);
    am_embedder_free(emb);
    unlink(db);
    snprintf(path, sizeof path, "%s-wal", db);
    unlink(path);
    snprintf(path, sizeof path, "%s-shm", db);
    unlink(path);
    rmdir(dir);
    return rc;
}
