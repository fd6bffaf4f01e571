/* wire_int.h -- the format readers and writers behind am_msgs_to_json and
 * am_msgs_from_json (internal).
 *
 * Writers replace nothing: they append to `out` (already cleared). Readers
 * append frozen messages to `out` and, on failure, leave it as it was.
 */
#ifndef AM_WIRE_INT_H
#define AM_WIRE_INT_H

#include <stdarg.h>
#include <string.h>

#include "core/jscan.h"
#include "msg_int.h"

/* Small writer helpers: append a literal, a string value, a raw span. */
#define AM__PUT(out, lit) am_buf_append((out), lit, sizeof(lit) - 1)

static inline am_status am__put_raw(am_buf *out, am_str s)
{
    return am_buf_append(out, s.ptr, s.len);
}

/* Append `key` (a literal like ",\"text\":") then `v` as a JSON string. */
static inline am_status am__put_kstr(am_buf *out, const char *key, am_str v)
{
    am_status st = am_buf_append(out, key, strlen(key));
    return st != AM_OK ? st : am__json_put_str(out, v);
}

/* A set of tool-call ids seen so far, to check that each tool result
 * answers a call made earlier in the conversation. */
typedef struct am__idset {
    const am_allocator *alloc;
    am_str *ids;
    size_t count;
    size_t cap;
} am__idset;

am_status am__idset_add(am__idset *s, am_str id);
bool am__idset_has(const am__idset *s, am_str id);
void am__idset_free(am__idset *s);

/* Fail with "<fmt>: message <i>: ..." for writers. */
am_status am__wire_fail(am_error *err, am_status code, const char *fmt_name,
                        size_t index, const char *fmt, ...)
    AM__PRINTF(5, 6);

/* Fail with "message <i>: ..." at byte `pos` of the document being read,
 * so the reader's error names both the message and the position. Each
 * reader calls it as rfail(r, node, fmt, ...), a macro over its own state. */
am_status am__wire_read_fail(am__js *js, size_t pos, size_t index,
                             const char *fmt, ...) AM__PRINTF(4, 5);
/* A message setter failed on message `index` while reading format
 * `fmt_name`: record "<fmt_name>: message <i>: <e's detail>" with status
 * `st` in the document's error, and return `st`. */
am_status am__wire_set_fail(am__js *js, const char *fmt_name, size_t index,
                            am_status st, const am_error *e);

/* ---- The frame the OpenAI and Anthropic readers share ---- */

/* A reader's state: the scanner over the text (its arena is scratch of
 * the read), the options for the messages it creates, the index of the
 * message being read (errors name it) and the messages read so far. */
typedef struct am__wire_rd {
    am__js js;
    am_msg_opts mo;
    size_t index;
    am_msg_list *got;
} am__wire_rd;

/* Called once with the whole document, before its messages (may be
 * NULL), and once per element of the messages array, r->index counting
 * them; each pushes what it read onto r->got. */
typedef am_status (*am__wire_doc_fn)(am__wire_rd *r, const am__jnode *doc);
typedef am_status (*am__wire_item_fn)(am__wire_rd *r,
                                      const am__jnode *item);

/* Read `text` in format `fmt_name`: skip a BOM, parse the whole document
 * (nothing may follow it), find its messages array (the document itself,
 * or an object's "messages"; else AM_EFORMAT "expected <expected>"), call
 * `on_doc` and `on_item` (above), then append the messages to `out` all
 * or nothing: on failure `out` is unchanged. Errors go to `err`. */
am_status am__wire_read(const am__msg_env *env, am_str text,
                        const char *fmt_name, const char *expected,
                        am__wire_doc_fn on_doc, am__wire_item_fn on_item,
                        am_msg_list *out, am_error *err);

am_status am__msgs_write_agentmem(const am_msg *const *msgs, size_t count,
                                  unsigned flags, am_buf *out);
am_status am__msg_write(const am_msg *msg, am_buf *out);
am_status am__json_pretty(am_str compact, am_buf *out);

am_status am__msgs_parse(const am__msg_env *env, am_format fmt, am_str text,
                         am_msg_list *out, am_error *err);

am_status am__wire_openai_write(const am_msg *const *msgs, size_t count,
                                unsigned flags, am_buf *out, am_error *err);
am_status am__wire_openai_read(const am__msg_env *env, am_str text,
                               am_msg_list *out, am_error *err);
am_status am__wire_anthropic_write(const am_msg *const *msgs, size_t count,
                                   unsigned flags, am_buf *out,
                                   am_error *err);
am_status am__wire_anthropic_read(const am__msg_env *env, am_str text,
                                  am_msg_list *out, am_error *err);

#endif
