/* srv_routes.c -- the route table: every HTTP route the server answers.
 *
 * Like the CLI's command table, one row per route drives dispatch, the
 * rights check, the 404/405 distinction and the OpenAPI document. Routes
 * take JSON bodies (POST) because namespaces and ids may hold any byte,
 * which a path could only carry escaped.
 */
#include <string.h>

#include "srv_int.h"

const srv_route srv_routes[] = {
    { "GET", "/healthz", srv_r_healthz, false, false,
      "liveness: the server answers and the database passes a quick check" },
    /* Items */
    { "POST", "/v1/items/put", srv_r_put, true, true,
      "insert or replace an item" },
    { "POST", "/v1/items/get", srv_r_get, false, true, "read one item" },
    { "POST", "/v1/items/delete", srv_r_delete, true, true,
      "soft-delete an item (undo restores it)" },
    { "POST", "/v1/items/list", srv_r_list, false, true,
      "list items under a namespace prefix, paginated" },
    { "POST", "/v1/items/history", srv_r_history, false, true,
      "the history of an item, oldest first" },
    { "POST", "/v1/items/undo", srv_r_undo, true, true,
      "revert the last change of an item" },
    { "POST", "/v1/namespaces", srv_r_namespaces, false, true,
      "namespaces holding live items under a prefix" },
    { "POST", "/v1/search", srv_r_search, false, true,
      "hybrid, full-text or vector search with metadata filters" },
    /* Sessions */
    { "POST", "/v1/sessions/add", srv_r_session_add, true, true,
      "append items to a session" },
    { "POST", "/v1/sessions/get", srv_r_session_get, false, true,
      "a session's items, oldest first" },
    { "POST", "/v1/sessions/pop", srv_r_session_pop, true, true,
      "remove and return a session's last item" },
    { "POST", "/v1/sessions/clear", srv_r_session_clear, true, true,
      "remove a session" },
    { "POST", "/v1/sessions/list", srv_r_session_list, false, true,
      "a user's sessions, most recent first" },
    /* Recall and the memory tool */
    { "POST", "/v1/recall/index", srv_r_recall_index, true, true,
      "index a finished conversation for recall" },
    { "POST", "/v1/recall/search", srv_r_recall_search, false, true,
      "search a user's past conversations" },
    { "POST", "/v1/recall/tool", srv_r_recall_tool, false, true,
      "execute a model's recall tool call (OpenAI or Anthropic format)" },
    { "POST", "/v1/memtool", srv_r_memtool, false, true,
      "execute one file-style memory tool command" },
    /* The memory manager, one per conversation, persisted */
    { "POST", "/v1/memory/add", srv_r_memory_add, true, true,
      "add messages to a conversation's memory manager" },
    { "POST", "/v1/memory/context", srv_r_memory_context, false, true,
      "the context to send for a conversation, with statistics" },
    { "POST", "/v1/memory/stats", srv_r_memory_stats, false, true,
      "a conversation's memory statistics" },
    /* Stateless context operations */
    { "POST", "/v1/tokens/count", srv_r_tokens_count, false, true,
      "count the tokens of a text or a conversation for a model" },
    { "POST", "/v1/context/trim", srv_r_trim, false, true,
      "trim a conversation to a message or token budget" },
    { "POST", "/v1/context/convert", srv_r_convert, false, true,
      "convert a conversation between OpenAI, Anthropic and agentmem" },
    { "POST", "/v1/price", srv_r_price, false, true,
      "the price of an LLM call from the model catalog" },
    { NULL, NULL, NULL, false, false, NULL },
};

bool srv_reads_only(srv_handler fn)
{
    static const srv_handler readers[] = {
        srv_r_get, srv_r_list, srv_r_history, srv_r_namespaces,
        srv_r_search, srv_r_session_get, srv_r_session_list,
        srv_r_recall_search, srv_r_recall_tool,
    };
    for (size_t i = 0; i < sizeof readers / sizeof readers[0]; i++)
        if (readers[i] == fn)
            return true;
    return false;
}

const srv_route *srv_route_find(const char *method, const char *path,
                                bool *path_known)
{
    *path_known = false;
    for (const srv_route *r = srv_routes; r->path != NULL; r++) {
        if (strcmp(r->path, path) != 0)
            continue;
        *path_known = true;
        if (strcmp(r->method, method) == 0)
            return r;
    }
    return NULL;
}

bool srv_r_healthz(srv_call *c)
{
    am_results *r = NULL;
    am_status st;
    /* A one-row read proves the database answers; the full integrity check
     * (am_store_check) reads every page and is no liveness probe. */
    st = am_store_list(c->store, (am_ns){ NULL, 0 }, 1, 0, &r);
    am_results_free(r);
    if (st != AM_OK)
        return srv_fail_status(c, st, NULL, "database");
    return srv_ok(c, json_pack("{s:s}", "status", "ok"));
}
