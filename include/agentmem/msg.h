/* msg.h -- messages: the unit of agent memory, and their wire formats.
 *
 * An am_msg is one turn of a conversation: a role (system, user, assistant,
 * tool), content, and the metadata agents need around it: an id (UUIDv7 by
 * default), a name, tool calls and the tool_call_id a result answers,
 * calls to other agents, structured data, images, reasoning as the
 * provider returned it, structured agent content (thought / next action /
 * action input) and the creation time.
 *
 * Content is one of
 *   - nothing (an assistant turn that only calls tools),
 *   - UTF-8 text,
 *   - structured JSON (an object, kept as compact JSON text),
 *   - a list of typed parts (am_part): text, image, tool use, tool result,
 *     thinking (Anthropic, with its signature), redacted thinking, and
 *     OpenAI reasoning items (kept verbatim as JSON).
 *
 * Life cycle. am_msg_create() returns a *mutable* message that the setters
 * below fill in. The first time a message is shared -- am_msg_ref(), adding
 * it to an am_msg_list, or a conversation handing it out -- it becomes
 * *frozen*: setters then return AM_ESTATE, and the message may be read from
 * any number of threads. Frozen messages are reference counted, so handing
 * one out, "cloning" it (am_msg_ref) or putting it in several conversations
 * costs no copy. am_msg_copy() makes a mutable deep copy. am_msg_free()
 * drops one reference.
 *
 * Strings. Every am_str returned by an accessor is owned by the message and
 * valid until the message's last reference is dropped (for a mutable
 * message: until the next setter call on it). Strings are NUL-terminated in
 * memory, but the length is authoritative: text may contain U+0000.
 *
 * JSON. The agentmem JSON form of a message is
 *
 *   {"id":"0190...","role":"assistant","created_ms":1700000000000,
 *    "name":"planner","content":"text" | {..object..} | [..parts..],
 *    "tool_calls":[{"id":"call_1","type":"function","name":"search",
 *                   "arguments":"{\"q\":\"x\"}"}],
 *    "tool_call_id":"call_1",
 *    "agent_calls":[{"agent_name":"Analyzer","request":<any JSON>}],
 *    "structured_data":{..}, "images":["path/or/url"],
 *    "agent":{"thought":"..","next_action":"call_tool",
 *             "action_input":{..}}}
 *
 * and a conversation is a JSON array of such objects, one per line.
 * Every field round-trips losslessly (JSON values are kept as compact
 * text; numbers keep their spelling).
 */
#ifndef AGENTMEM_MSG_H
#define AGENTMEM_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "alloc.h"
#include "buf.h"
#include "clock.h"
#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Roles, content kinds, parts ---- */

typedef enum am_role {
    AM_ROLE_SYSTEM = 0,
    AM_ROLE_USER = 1,
    AM_ROLE_ASSISTANT = 2,
    AM_ROLE_TOOL = 3
} am_role;

#define AM_ROLE_COUNT 4

/* "system", "user", "assistant", "tool"; "?" for a value out of range.
 * Static string. Thread safety: safe. */
AM_API const char *am_role_name(am_role role);

/* Parse a role name (exact, lowercase). AM_OK, or AM_EINVAL with `err`
 * naming the rejected role. Thread safety: safe. */
AM_API am_status am_role_parse(am_str name, am_role *out, am_error *err);

typedef enum am_content_kind {
    AM_CONTENT_NONE = 0,  /* no content */
    AM_CONTENT_TEXT = 1,  /* UTF-8 text: am_msg_content_text() */
    AM_CONTENT_JSON = 2,  /* a JSON object: am_msg_content_json() */
    AM_CONTENT_PARTS = 3  /* typed parts: am_msg_part() */
} am_content_kind;

typedef enum am_part_type {
    AM_PART_TEXT = 0,              /* text */
    AM_PART_IMAGE = 1,             /* url, or media_type + base64 data */
    AM_PART_TOOL_USE = 2,          /* id, name, json = input object */
    AM_PART_TOOL_RESULT = 3,       /* id = tool_use_id; text, or json =
                                      content blocks; is_error */
    AM_PART_THINKING = 4,          /* text = thinking, signature */
    AM_PART_REDACTED_THINKING = 5, /* data */
    AM_PART_REASONING = 6          /* json = an OpenAI reasoning item,
                                      verbatim (id, summary,
                                      encrypted_content, ...) */
} am_part_type;

#define AM_PART_TYPE_COUNT 7

/* The JSON "type" spelling: "text", "image", "tool_use", "tool_result",
 * "thinking", "redacted_thinking", "reasoning". Static; "?" if out of
 * range. Thread safety: safe. */
AM_API const char *am_part_type_name(am_part_type type);

/* One content part. As input (am_msg_add_part) every string is copied and
 * fields that the type does not use must be empty; as output every string
 * is owned by the message. JSON fields hold JSON text. */
typedef struct am_part {
    am_part_type type;
    am_str text;       /* TEXT, THINKING, TOOL_RESULT (string content) */
    am_str id;         /* TOOL_USE: id; TOOL_RESULT: tool_use_id */
    am_str name;       /* TOOL_USE: tool name */
    am_str json;       /* TOOL_USE: input; TOOL_RESULT: non-string content;
                          REASONING: the whole item */
    am_str url;        /* IMAGE: URL or file path */
    am_str media_type; /* IMAGE: e.g. "image/png" when data is given */
    am_str data;       /* IMAGE: base64 bytes; REDACTED_THINKING: data */
    am_str signature;  /* THINKING */
    bool is_error;     /* TOOL_RESULT */
} am_part;

/* A tool call requested by an assistant message (OpenAI's shape).
 * `arguments` is a JSON string as the model produced it (not validated as
 * JSON, since models sometimes emit broken JSON and the caller may want to
 * see it). `type` is usually "function".
 *
 * `call_id` is the OpenAI Responses API's name for the id a function's
 * output must answer ("call_..."), distinct from the item's `id`
 * ("fc_..."); Python frameworks' ToolCallMsg carries both. Empty when the
 * provider has only one id. It round-trips through every format: the
 * agentmem JSON always, and the OpenAI and Anthropic formats as an
 * agentmem extension field "call_id" on the tool call (left out with
 * AM_WIRE_PORTABLE, since those APIs reject unknown fields). */
typedef struct am_tool_call {
    am_str id;
    am_str type;
    am_str name;
    am_str arguments;
    am_str call_id;
} am_tool_call;

/* A request to another agent. `request` is JSON text (a string request is
 * the JSON string "\"...\""). */
typedef struct am_agent_call {
    am_str agent_name;
    am_str request;
} am_agent_call;

/* Structured agent content (ReAct style). */
typedef enum am_action {
    AM_ACTION_NONE = 0,
    AM_ACTION_CALL_TOOL = 1,
    AM_ACTION_INVOKE_AGENT = 2,
    AM_ACTION_FINAL_RESPONSE = 3
} am_action;

/* "call_tool", "invoke_agent", "final_response"; "" for NONE, "?" out of
 * range. Static text, never NULL. Thread safety: safe. */
AM_API const char *am_action_name(am_action action);

/* Validation (am_msg_set_agent_content): next_action must be one of the
 * three actions when action_input is given; action_input, when not empty,
 * must be a JSON object; invoke_agent needs action_input.agent_name (a
 * string), as in {"agent_name":"DataAnalyzer", ...}. */
typedef struct am_agent_content {
    am_str thought;      /* may be empty */
    am_action next_action;
    am_str action_input; /* JSON object text, or empty */
} am_agent_content;

/* ---- Options ---- */

typedef struct am_msg_opts {
    const am_allocator *alloc; /* NULL: malloc */
    const am_clock *clock;     /* created_ms and ids; NULL: system clock */
    const am_rng *rng;         /* id randomness; NULL: a fast generator
                                  seeded from the system per thread */
    size_t max_bytes;          /* largest accepted message (its JSON form,
                                  or any one string); 0: no limit */
} am_msg_opts;

#define AM_MSG_DEFAULT_MAX_BYTES ((size_t)16 << 20)

/* Defaults: all NULL, max_bytes = AM_MSG_DEFAULT_MAX_BYTES. Returned by
 * value; no errors. Thread safety: safe. */
AM_API am_msg_opts am_msg_opts_default(void);

/* ---- Creating and freeing ---- */

typedef struct am_msg am_msg;

/* Create a mutable message with `role`, a new UUIDv7 id and created_ms
 * from the clock. `opts` may be NULL (defaults); it is copied, but the
 * allocator, clock and rng it points to are borrowed for the message's
 * life. *out is yours: am_msg_free(). AM_OK, AM_EINVAL (role out of
 * range, NULL out) or AM_ENOMEM. Thread safety: safe. */
AM_API am_status am_msg_create(const am_msg_opts *opts, am_role role,
                               am_msg **out, am_error *err);

/* am_msg_create() plus am_msg_set_text(): `text` is copied; *out is yours
 * (am_msg_free). Errors as those two calls (AM_EFORMAT for invalid UTF-8
 * naming the byte, AM_ELIMIT over max_bytes, AM_EINVAL, AM_ENOMEM); on
 * failure *out is NULL. Thread safety: safe. */
AM_API am_status am_msg_create_text(const am_msg_opts *opts, am_role role,
                                    am_str text, am_msg **out,
                                    am_error *err);

/* Take one more reference to `msg` and freeze it (setters then return
 * AM_ESTATE). This is the "clone" of a message: O(1), no copy. Returns
 * `msg`; the new reference is yours (am_msg_free). No errors.
 * Thread safety: safe. */
AM_API am_msg *am_msg_ref(const am_msg *msg);

/* A mutable deep copy of `msg` (same id and time) using `msg`'s allocator.
 * *out is yours (am_msg_free). AM_OK, AM_EINVAL (NULL argument) or
 * AM_ENOMEM. Thread safety: safe on a frozen message, per-handle on a
 * mutable one. */
AM_API am_status am_msg_copy(const am_msg *msg, am_msg **out, am_error *err);

/* Drop one reference; the last one frees the message. NULL: no-op.
 * Thread safety: safe. */
AM_API void am_msg_free(am_msg *msg);

/* True once the message is frozen (shared); false for NULL. No errors.
 * Thread safety: safe. */
AM_API bool am_msg_is_frozen(const am_msg *msg);

/* ---- Setters (mutable messages only) ----
 *
 * Each copies its arguments. Each returns AM_OK; AM_ESTATE if the message
 * is frozen; AM_EFORMAT for invalid UTF-8 (naming the byte offset) or
 * invalid JSON; AM_ELIMIT if a string exceeds max_bytes; AM_ENOMEM. On
 * failure the message is unchanged. Thread safety: per-handle. */

/* Change the role; AM_EINVAL when `role` is not an am_role. */
AM_API am_status am_msg_set_role(am_msg *msg, am_role role, am_error *err);
/* Replace the id (any non-empty UTF-8; AM_EINVAL when empty). */
AM_API am_status am_msg_set_id(am_msg *msg, am_str id, am_error *err);
/* Set the participant name (empty clears it). */
AM_API am_status am_msg_set_name(am_msg *msg, am_str name, am_error *err);
/* Set the creation time (milliseconds since the epoch; any value). */
AM_API am_status am_msg_set_created_ms(am_msg *msg, int64_t ms,
                                       am_error *err);
/* Content becomes `text` (kind TEXT; replaces JSON content or parts). */
AM_API am_status am_msg_set_text(am_msg *msg, am_str text, am_error *err);
/* Content becomes the JSON object `json` (kind JSON), stored compact. */
AM_API am_status am_msg_set_content_json(am_msg *msg, am_str json,
                                         am_error *err);
/* Append a part; content becomes kind PARTS (text content set before is
 * kept as a first text part; JSON content is an AM_ESTATE error). JSON
 * fields must parse; tool_use input must be an object. */
AM_API am_status am_msg_add_part(am_msg *msg, const am_part *part,
                                 am_error *err);
/* Append a tool call (id and name required, AM_EINVAL otherwise; type
 * defaults to "function"; arguments is kept as the string given). */
AM_API am_status am_msg_add_tool_call(am_msg *msg, const am_tool_call *tc,
                                      am_error *err);
/* Set the id of the tool call this (tool) message answers; empty clears. */
AM_API am_status am_msg_set_tool_call_id(am_msg *msg, am_str id,
                                         am_error *err);
/* Append a call to another agent: agent_name must not be empty and
 * `call->request` must be JSON text (AM_EINVAL / AM_EFORMAT otherwise). */
AM_API am_status am_msg_add_agent_call(am_msg *msg,
                                       const am_agent_call *call,
                                       am_error *err);
/* `json` must be JSON text (any value; usually an object). Empty clears. */
AM_API am_status am_msg_set_structured_data(am_msg *msg, am_str json,
                                            am_error *err);
/* Append an image reference (a path or URL, not checked; AM_EINVAL when
 * empty). */
AM_API am_status am_msg_add_image(am_msg *msg, am_str path_or_url,
                                  am_error *err);
/* Validated as am_agent_content describes (AM_EINVAL naming the field). */
AM_API am_status am_msg_set_agent_content(am_msg *msg,
                                          const am_agent_content *ac,
                                          am_error *err);

/* ---- Accessors ----
 *
 * Strings are owned by the message (see the top of this file). Index
 * arguments out of range give an empty value / NULL. Thread safety: safe
 * on a frozen message; per-handle on a mutable one. */

/* The role. */
AM_API am_role am_msg_role(const am_msg *msg);
/* The id (never empty). */
AM_API am_str am_msg_id(const am_msg *msg);
/* The participant name, or empty. */
AM_API am_str am_msg_name(const am_msg *msg);
/* Creation time, milliseconds since the epoch. */
AM_API int64_t am_msg_created_ms(const am_msg *msg);
/* Which kind of content the message has (none, text, JSON, parts). */
AM_API am_content_kind am_msg_content_kind(const am_msg *msg);
/* The text when the kind is TEXT, else empty. */
AM_API am_str am_msg_content_text(const am_msg *msg);
/* The compact JSON object text when the kind is JSON, else empty. */
AM_API am_str am_msg_content_json(const am_msg *msg);
/* Number of content parts (0 unless the kind is PARTS), and part `i`
 * (owned by the message; NULL when out of range). */
AM_API size_t am_msg_part_count(const am_msg *msg);
AM_API const am_part *am_msg_part(const am_msg *msg, size_t i);
/* Number of tool calls, and call `i` (owned by the message; NULL when out
 * of range). */
AM_API size_t am_msg_tool_call_count(const am_msg *msg);
AM_API const am_tool_call *am_msg_tool_call(const am_msg *msg, size_t i);
/* The tool call this message answers, or empty. */
AM_API am_str am_msg_tool_call_id(const am_msg *msg);
/* Number of agent calls, and call `i` (owned by the message; NULL when
 * out of range). */
AM_API size_t am_msg_agent_call_count(const am_msg *msg);
AM_API const am_agent_call *am_msg_agent_call(const am_msg *msg,
                                              size_t i);
/* Structured data as compact JSON text, or empty. */
AM_API am_str am_msg_structured_data(const am_msg *msg);
/* Number of image references, and reference `i` (empty when out of
 * range). */
AM_API size_t am_msg_image_count(const am_msg *msg);
AM_API am_str am_msg_image(const am_msg *msg, size_t i);
/* True and *out filled (strings owned by the message) when the message
 * carries structured agent content. */
AM_API bool am_msg_agent_content(const am_msg *msg, am_agent_content *out);

/* The message's plain text for token counting and search, *appended* to
 * `out`: text content, or JSON content as compact JSON; text, thinking and
 * tool-result parts; tool calls as "name(arguments)"; agent calls as
 * "agent_name: request"; structured data; the agent thought and action
 * input. Pieces are separated by "\n". Ids, signatures, image data and
 * redacted reasoning are not text and are left out. AM_OK or AM_ENOMEM.
 * Thread safety: as the accessors. */
AM_API am_status am_msg_text(const am_msg *msg, am_buf *out);

/* Bytes the message holds (strings and arrays, not counting allocator
 * overhead): a cheap size estimate. Thread safety: as the accessors. */
AM_API size_t am_msg_size(const am_msg *msg);

/* Check the rules a message must obey to go into a conversation: a tool
 * message has a tool_call_id; tool calls have an id and a name. AM_OK or
 * AM_EINVAL naming the problem. Thread safety: as the accessors. */
AM_API am_status am_msg_validate(const am_msg *msg, am_error *err);

/* ---- Lists of messages ---- */

/* A caller-owned, reusable list of message references. Each item holds
 * one reference (frozen message). Zero-initialize it (AM_MSG_LIST_INIT);
 * `alloc` may be set before first use (NULL: malloc). */
typedef struct am_msg_list {
    am_msg **items;
    size_t count;
    size_t cap;
    const am_allocator *alloc;
} am_msg_list;

#define AM_MSG_LIST_INIT { NULL, 0, 0, NULL }

/* The items as the `const am_msg *const *` that am_msgs_to_json,
 * am_conv_add_list and am_conv_replace take (borrowed from the list).
 * Thread safety: per-handle. */
static inline const am_msg *const *am_msg_list_items(const am_msg_list *l)
{
    return (const am_msg *const *)l->items;
}

/* Append a reference to `msg` (freezing it). AM_OK or AM_ENOMEM (list
 * unchanged). Thread safety: per-handle (the list). */
AM_API am_status am_msg_list_push(am_msg_list *list, const am_msg *msg);

/* Drop every reference, keep the memory. Thread safety: per-handle. */
AM_API void am_msg_list_clear(am_msg_list *list);

/* Drop every reference and free the array. NULL: no-op.
 * Thread safety: per-handle. */
AM_API void am_msg_list_free(am_msg_list *list);

/* ---- JSON and wire formats ---- */

typedef enum am_format {
    AM_FORMAT_AGENTMEM = 0,  /* agentmem's own JSON: lossless */
    AM_FORMAT_OPENAI = 1,    /* Chat Completions `messages` array */
    AM_FORMAT_ANTHROPIC = 2  /* Messages request {"system","messages"} */
} am_format;

/* "agentmem", "openai", "anthropic". Static text; "?" if out of range.
 * Thread safety: safe. */
AM_API const char *am_format_name(am_format fmt);
/* Parse a format name. AM_OK or AM_EINVAL naming it. Thread safety: safe. */
AM_API am_status am_format_parse(am_str name, am_format *out,
                                 am_error *err);

/* Flags for the writers. */
#define AM_JSON_PRETTY (1u << 0)   /* indent (agentmem: one message/line
                                      is the default; this indents fully) */
#define AM_WIRE_PORTABLE (1u << 1) /* leave out what the target provider's
                                      API would reject: reasoning of the
                                      other provider, agentmem extensions
                                      ("reasoning_items", a name on an
                                      OpenAI tool message) */

/* Serialize one message in agentmem JSON, replacing the contents of `out`.
 * AM_OK or AM_ENOMEM. Thread safety: as the accessors. */
AM_API am_status am_msg_to_json(const am_msg *msg, am_buf *out,
                                am_error *err);

/* Parse one agentmem JSON message object. A missing id is generated, a
 * missing created_ms is taken from the clock. *out is yours (mutable).
 * Errors: AM_EFORMAT naming the
 * field and position (bad JSON, wrong type, invalid UTF-8 with its byte
 * offset, unknown role), AM_EINVAL (tool message without tool_call_id),
 * AM_ELIMIT (larger than opts->max_bytes), AM_ENOMEM.
 * Thread safety: safe. */
AM_API am_status am_msg_from_json(const am_msg_opts *opts, am_str json,
                                  am_msg **out, am_error *err);

/* Serialize `count` messages in format `fmt`, replacing `out`:
 *   AGENTMEM:  [ {msg}, ... ] one message per line;
 *   OPENAI:    the Chat Completions `messages` array;
 *   ANTHROPIC: {"system": ..., "messages": [...]} -- system messages
 *              hoisted, tool calls as tool_use blocks, tool results as
 *              tool_result blocks in a user turn, consecutive same-role
 *              turns merged, images as image blocks, thinking kept.
 * A conversation the format cannot express (a tool result whose call is
 * missing, a tool message without tool_call_id, ...) is AM_EINVAL naming
 * the message index. Thread safety: as the accessors. */
AM_API am_status am_msgs_to_json(const am_msg *const *msgs, size_t count,
                                 am_format fmt, unsigned flags, am_buf *out,
                                 am_error *err);

/* Parse `text` in format `fmt` and *append* the messages to `out` (frozen
 * references). OPENAI accepts the messages array or a request object with
 * "messages" (a response's assistant message, with its "refusal" and
 * "annotations", reads as it came; annotations are not kept); ANTHROPIC
 * accepts a request object or a bare messages array. A field the format
 * does not define is refused. On failure `out` is unchanged and `err` names the message index
 * and field, or the line/column/byte of a JSON syntax error.
 * Thread safety: safe. */
AM_API am_status am_msgs_from_json(const am_msg_opts *opts, am_format fmt,
                                   am_str text, am_msg_list *out,
                                   am_error *err);

#ifdef __cplusplus
}
#endif
#endif
