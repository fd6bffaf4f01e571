/* jscan.h -- the project's small, fast JSON scanner (core).
 *
 * Used by the conversation file (msg), the wire formats, the store's item
 * value check and the embeddings-reply reader: before writing another
 * JSON scanner, extend this one.
 *
 * Not a DOM: the caller walks the text with a cursor, asking for the next
 * token of the shape it expects. Strings without escapes come back as
 * zero-copy views into the input; escaped ones are decoded into an arena.
 * Values the caller does not interpret (tool arguments, structured data)
 * come back as validated raw spans, compacted on request. Every error
 * names line, column and byte offset of the input.
 */
#ifndef AM_JSCAN_H
#define AM_JSCAN_H

#include "core/core.h"

typedef struct am__js {
    const char *s;
    size_t len;
    size_t pos;
    size_t base;       /* added to offsets in messages (sub-documents) */
    const char *what;  /* names the document in messages */
    am_error *err;
    am__arena *tmp;    /* decoded strings go here */
    int depth;
} am__js;

#define AM__JS_MAX_DEPTH 256

void am__js_init(am__js *js, am_str text, const char *what, am__arena *tmp,
                 am_error *err);

/* Skip a UTF-8 byte order mark at the start of a document (editors on
 * some systems write one); positions still count from the first byte. */
void am__js_skip_bom(am__js *js);

/* Record "<what>: <message> at line L, column C (byte B)" for position
 * `pos` and return AM_EFORMAT. */
am_status am__js_fail(am__js *js, size_t pos, const char *fmt, ...)
    AM__PRINTF(3, 4);

/* Skip whitespace; return the next byte (0 at the end). */
char am__js_peek(am__js *js);

/* Expect byte `c` (after whitespace) and consume it. */
am_status am__js_expect(am__js *js, char c);

/* If the next byte is `c`, consume it and return true. */
bool am__js_accept(am__js *js, char c);

/* A string: decoded into *out (a view into the input when it has no
 * escapes, else into js->tmp). Validates UTF-8 and escapes. */
am_status am__js_string(am__js *js, am_str *out);

/* A string, validated like am__js_string but not decoded: *raw is the
 * bytes between the quotes (a view into the input), *escapes whether any
 * backslash occurred. Never allocates. */
am_status am__js_string_raw(am__js *js, am_str *raw, bool *escapes);

/* A number (JSON syntax: sign, digits, fraction, exponent), validated and
 * returned as its raw span; not converted. */
am_status am__js_number(am__js *js, am_str *raw);

/* A number's value, read in one pass (same syntax and messages as
 * am__js_number). Up to 19 significant digits are scaled by an exact power
 * of ten in long double; anything else takes a locale-independent strtod,
 * so `value` is the correctly rounded double or one unit in the last
 * place from it. `is_int`: no fraction, no exponent, at most 18 digits
 * (then `int_value` is exact). */
typedef struct am__jnum {
    double value;
    bool is_int;
    int64_t int_value;
} am__jnum;
am_status am__js_number_value(am__js *js, am__jnum *out);

/* Any value: validated, returned as the raw span of input. */
am_status am__js_value(am__js *js, am_str *span);

/* An integer (no fraction/exponent) that fits int64. */
am_status am__js_int(am__js *js, int64_t *out);

/* true / false. */
am_status am__js_bool(am__js *js, bool *out);

/* `null` if present: consume it and return true. */
bool am__js_null(am__js *js);

/* Fail unless only whitespace remains. */
am_status am__js_end(am__js *js);

/* Validate `text` as one JSON value and compact it (no whitespace outside
 * strings) into `ar`; a text that is already compact is copied as is.
 * `what` names it in errors. */
am_status am__json_compact(am_str text, const char *what, am__arena *ar,
                           am_str *out, am_error *err);

/* Compact a span already validated by am__js_value. View into the input
 * when there is nothing to remove, else copied into `ar` (NULL on OOM). */
am_status am__js_compact_span(am_str span, am__arena *ar, am_str *out);

/* Append `s` as a JSON string literal (quotes, escapes) to `out`. */
am_status am__json_put_str(am_buf *out, am_str s);

/* ---- A small tree over the scanner (jdom.c) ----
 *
 * For the few documents whose shape we walk by key (a message object, a
 * wire-format request). Nodes live in js->tmp; strings are views into the
 * input unless they had escapes; every node keeps its raw span (for
 * lossless embedding of values we do not interpret) and its byte offset
 * (for error messages).
 */
typedef enum am__jtype {
    AM__J_NULL,
    AM__J_BOOL,
    AM__J_NUM,
    AM__J_STR,
    AM__J_ARR,
    AM__J_OBJ
} am__jtype;

typedef struct am__jnode am__jnode;
struct am__jnode {
    am__jtype type;
    bool b;            /* BOOL */
    size_t pos;        /* offset of the value in js->s */
    am_str raw;        /* the value's text as it appeared */
    am_str str;        /* STR: decoded */
    am_str key;        /* member of an OBJ: its key */
    size_t n;          /* ARR/OBJ: number of children */
    am__jnode *first;  /* ARR/OBJ: first child */
    am__jnode *next;   /* next sibling */
};

/* Parse one value at the cursor. */
am_status am__jdom_parse(am__js *js, am__jnode **out);

/* Member `key` of object `obj`, or NULL (also when obj is not an object).
 * With duplicate keys the last one wins, as in most parsers. */
const am__jnode *am__jobj_get(const am__jnode *obj, const char *key);

/* "a string", "an object", ... for messages. */
const char *am__jtype_name(am__jtype t);

#endif
