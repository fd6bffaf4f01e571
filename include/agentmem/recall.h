/* recall.h -- conversation recall: search a user's past conversations.
 *
 * A finished conversation (a JSON array of {role, content} messages) is
 * cut into chunks of `chunk_size` messages overlapping by `chunk_overlap`,
 * optionally summarized chunk by chunk through a callback (e.g. the
 * context module's summarizer), and stored in the store under the
 * namespace ("recall", user_id, session_id). Search is scoped to
 * ("recall", user_id): one user's query never sees another user's chunks.
 *
 * The recall tool exposes the search to a model: a function-tool
 * definition in the OpenAI or Anthropic format, and a handler that takes
 * the model's tool call and returns the tool-result message.
 */
#ifndef AGENTMEM_RECALL_H
#define AGENTMEM_RECALL_H

#include "store.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Summarize one chunk (its "role: content" lines) into `summary` (append;
 * yours until the call returns). Return AM_OK or a failure, which aborts
 * the indexing. */
typedef am_status (*am_recall_summarize_fn)(void *ctx, am_str chunk_text,
                                            am_buf *summary, am_error *err);

typedef struct am_recall_opts {
    size_t chunk_size;     /* messages per chunk, default 10 */
    size_t chunk_overlap;  /* messages shared by neighbours, default 2 */
    am_recall_summarize_fn summarize; /* NULL: no summaries */
    void *summarize_ctx;
    am_str meta;           /* JSON object stored with every chunk, or "" */
    /* Names: a top-level metadata field each chunk gets besides `meta`'s
     * (replacing one of that name), holding the proper names the chunk's
     * text mentions as a JSON array (am_text_names). Searching with the
     * same field (am_recall_search_opts, am_recall_tool_opts) raises
     * chunks that name what the query does not: the store's names bonus,
     * am_search.names_field. Empty: off. */
    am_str names_field;
} am_recall_opts;

/* Defaults as documented above. Thread safety: safe. */
AM_API am_recall_opts am_recall_opts_default(void);

/* Index a conversation for `user_id` under `session_id`, replacing an
 * earlier index of the same session. With opts->names_field, `meta` must
 * be a JSON object (or "") and each chunk's metadata is it plus the
 * chunk's names. `messages` is a JSON array of objects
 * with "role" and "content" (a string, or an array of parts whose "text"
 * fields are used; any other content adds no text, and any role string is
 * taken). A chunk's text has one line per message, "role: " then the
 * message's am_msg_text (pieces joined by "\n", so a message with several
 * parts spans several lines). *chunks (may be NULL) gets the chunk count.
 * Errors: AM_EINVAL (empty user or session id, chunk_overlap >=
 * chunk_size), AM_EFORMAT (not an array, message i without role or
 * content; the message names the index), store errors. Thread safety:
 * safe. */
AM_API am_status am_recall_index(am_store *s, am_str user_id,
                                 am_str session_id, am_str messages,
                                 const am_recall_opts *opts, size_t *chunks);

typedef struct am_recall_search_opts {
    size_t limit;        /* excerpts, 0: 5 */
    double min_score;    /* drop chunks scoring below it (am_search's
                            min_score; 0: keep every chunk) */
    am_str names_field;  /* the names bonus (am_search.names_field): the
                            field the index wrote (am_recall_opts.
                            names_field); empty: off; borrowed */
    double names_bonus;  /* in [0, 1]; 0: AM_SEARCH_NAMES_BONUS */
} am_recall_search_opts;

/* Defaults: limit 5, everything else off. Thread safety: safe. */
AM_API am_recall_search_opts am_recall_search_opts_default(void);

/* Search `user_id`'s indexed conversations with the store's default
 * (hybrid) search and write a JSON array of {"session_id", "text",
 * "summary", "first", "last", "metadata", "score"} (best first, at most
 * opts->limit) into `out` (replacing it). "metadata" is the object the
 * chunk was indexed with (am_recall_opts.meta, and the names field when
 * there was one), {} when none. `opts` NULL: the defaults. Errors:
 * AM_EINVAL (NULL store or out, empty user id, min_score or names_bonus
 * outside [0, 1], a names_bonus above 0 without a names_field), store
 * errors; detail in am_store_last_error. Thread
 * safety: safe. */
AM_API am_status am_recall_search(am_store *s, am_str user_id, am_str query,
                                  const am_recall_search_opts *opts,
                                  am_buf *out);

typedef enum am_tool_format {
    AM_TOOL_OPENAI = 0,   /* {"type":"function","function":{...}} */
    AM_TOOL_ANTHROPIC     /* {"name","description","input_schema"} */
} am_tool_format;

/* How the recall tool presents itself and what it returns, as
 * create_memory_tool(name=..., description=..., limit=...) in Python agent
 * frameworks. */
typedef struct am_recall_tool_opts {
    am_str name;         /* default "recall_conversations"; 1..64 of
                            [A-Za-z0-9_-] (what OpenAI and Anthropic take) */
    am_str description;  /* default: a sentence telling the model when to
                            use it; UTF-8 */
    size_t limit;        /* excerpts when the model gives no limit: 1..20,
                            default 5 */
    double min_score;    /* excerpts scoring below it (am_search.min_score,
                            scores in [0, 1]) are not shown; 0: the default,
                            AM_SEARCH_MIN_SCORE; negative: show every
                            excerpt */
    am_str names_field;  /* the names bonus, as am_recall_search_opts:
                            the index's am_recall_opts.names_field;
                            empty (default): off */
    double names_bonus;  /* in [0, 1]; 0: AM_SEARCH_NAMES_BONUS */
} am_recall_tool_opts;   /* the strings are borrowed for each call */

/* Defaults as documented above. Thread safety: safe. */
AM_API am_recall_tool_opts am_recall_tool_opts_default(void);

/* The recall tool's definition (opts' name and description, parameters
 * `query` (required) and `limit`, whose description states opts' default)
 * as JSON into `out` (replacing it). NULL opts, an empty name or
 * description, limit 0 and min_score 0 mean the defaults. AM_EINVAL: a
 * name outside [A-Za-z0-9_-]{1,64}, a description that is not UTF-8, a
 * limit above 20, a min_score above 1, a names_bonus outside [0, 1] or
 * above 0 without a names_field.
 * Detail goes to `err` (may be NULL). Thread safety: safe. */
AM_API am_status am_recall_tool_def(am_tool_format fmt,
                                    const am_recall_tool_opts *opts,
                                    am_buf *out, am_error *err);

/* Execute the model's tool call and write the tool-result message into
 * `out` (replacing it). OpenAI: the call is a tool_calls entry
 * {"id", "function": {"name", "arguments": "<JSON text>"}} and the result
 * {"role":"tool","tool_call_id", "content"}. Anthropic: the call is a
 * tool_use block {"id", "name", "input": {...}} and the result
 * {"role":"user","content":[{"type":"tool_result","tool_use_id",
 * "content", "is_error"?}]}. Bad arguments from the model (missing query,
 * wrong types) become an error result the model can read (AM_OK
 * returned); a call that is not JSON or lacks its id is AM_EFORMAT.
 * Searches only `user_id`'s conversations, returning opts' limit of
 * excerpts when the model gives none, and only those scoring at least
 * opts' min_score: when none does, the result says "No relevant past
 * conversations found." (not an error). NULL opts: the defaults. The
 * call's tool name is not checked (routing calls to tools is the caller's
 * job); bad opts are AM_EINVAL as for am_recall_tool_def. Thread safety:
 * safe. */
AM_API am_status am_recall_tool_call(am_store *s, am_str user_id,
                                     am_tool_format fmt,
                                     const am_recall_tool_opts *opts,
                                     am_str call, am_buf *out);

#ifdef __cplusplus
}
#endif
#endif
