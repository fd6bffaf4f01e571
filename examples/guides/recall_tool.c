/* recall_tool.c -- give a model a tool to search past conversations.
 *
 * The guide docs/guides/recall-tool.md walks through this program. Two
 * finished conversations of one user are indexed; the recall tool's
 * definition is what goes into the model's `tools`; when the model calls
 * the tool, am_recall_tool_call runs the search and writes the tool-result
 * message to send back. The model's call is written out here (no network).
 *
 *   cc recall_tool.c $(pkg-config --cflags --libs agentmem) -o recall_tool
 *   ./recall_tool [DB]      (default: a new file in /tmp)
 *
 * Exits 0 when the tool result holds the earlier conversation's answer.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <agentmem/agentmem.h>

/* Two past sessions, as OpenAI-style {role, content} arrays. */
static const char login_chat[] =
    "[{\"role\":\"user\",\"content\":\"Our login endpoint returns 401 for "
    "everyone since this morning.\"},"
    "{\"role\":\"assistant\",\"content\":\"The auth service rotated its "
    "signing key but the gateway cached the old one: restart the gateway "
    "or lower its key cache TTL.\"},"
    "{\"role\":\"user\",\"content\":\"Restarted the gateway, logins work "
    "again.\"}]";
static const char trip_chat[] =
    "[{\"role\":\"user\",\"content\":\"Book me a train to Porto for the "
    "conference.\"},"
    "{\"role\":\"assistant\",\"content\":\"Done: Thursday 8:05, seat "
    "42.\"}]";

/* What a model sends when it decides to use the tool (OpenAI format). */
static const char model_call[] =
    "{\"id\":\"call_1\",\"type\":\"function\",\"function\":{\"name\":"
    "\"recall_conversations\",\"arguments\":\"{\\\"query\\\":\\\"login "
    "401\\\"}\"}}";

int main(int argc, char **argv)
{
    am_store *s = NULL;
    am_buf def = AM_BUF_INIT, result = AM_BUF_INIT;
    am_error err = { AM_OK, "" };
    char path[64];
    size_t chunks = 0;
    int rc = 1;

    snprintf(path, sizeof path, "/tmp/recall_tool_%ld.db", (long)getpid());
    if (am_store_open(argc > 1 ? argv[1] : path, NULL, &s, &err) != AM_OK) {
        fprintf(stderr, "recall_tool: %s\n", err.msg);
        return 1;
    }
    /* 1. Index each finished conversation under the user and a session. */
    if (am_recall_index(s, AM_STR("user_123"), AM_STR("login-outage"),
                        AM_STR(login_chat), NULL, &chunks) != AM_OK ||
        am_recall_index(s, AM_STR("user_123"), AM_STR("porto-trip"),
                        AM_STR(trip_chat), NULL, NULL) != AM_OK)
        goto out;
    printf("indexed %zu chunk(s) of login-outage\n", chunks);
    /* 2. The tool's definition, for the request's "tools" array. */
    if (am_recall_tool_def(AM_TOOL_OPENAI, NULL, &def, &err) != AM_OK) {
        fprintf(stderr, "recall_tool: %s\n", err.msg);
        goto out;
    }
    printf("tool definition: %.100s...\n", def.ptr);
    /* 3. The model called it: answer with the tool-result message. */
    if (am_recall_tool_call(s, AM_STR("user_123"), AM_TOOL_OPENAI, NULL,
                            AM_STR(model_call), &result) != AM_OK)
        goto out;
    printf("tool result: %s\n", result.ptr);
    rc = strstr(result.ptr, "gateway") != NULL &&
                 strstr(result.ptr, "\"tool_call_id\":\"call_1\"") != NULL
             ? 0
             : 1;
out:
    if (rc != 0 && am_store_last_error(s)->code != AM_OK)
        fprintf(stderr, "recall_tool: %s\n", am_store_last_error(s)->msg);
    am_buf_free(&def);
    am_buf_free(&result);
    am_store_close(s);
    if (argc <= 1)
        unlink(path);
    return rc;
}
