/* json_glue.h -- jansson helpers with agentmem's error model (internal).
 *
 * jansson parses and writes every JSON document of the library except the
 * hot conversation file path. These helpers turn its errors into am_error
 * messages that name line, column and byte position, and read typed fields
 * with errors that name the field.
 */
#ifndef AM_JSON_GLUE_H
#define AM_JSON_GLUE_H

#include <jansson.h>

#include "core.h"

/* Parse `text` (any bytes; need not be NUL-terminated). On failure returns
 * AM_EFORMAT with "<what>: <reason> at line L, column C (byte B)". */
am_status am__json_parse(am_str text, const char *what, json_t **out,
                         am_error *err);
/* Like am__json_parse with jansson decode `flags` (e.g. JSON_DECODE_ANY |
 * JSON_ALLOW_NUL). Both answer AM_ENOMEM, never AM_EFORMAT, when jansson
 * failed on valid JSON (it runs out of memory under other messages). */
am_status am__json_parse_flags(am_str text, size_t flags, const char *what,
                               json_t **out, am_error *err);
/* Serialize `v` (jansson dump flags) replacing the contents of `out`. */
am_status am__json_dump(const json_t *v, size_t flags, am_buf *out,
                        am_error *err);
/* Append serialized `v` to `out`. */
am_status am__json_dump_append(const json_t *v, size_t flags, am_buf *out,
                               am_error *err);
/* Serialize `v` into the arena `ar` (its allocator, never malloc as
 * json_dumps would): *out is the NUL-terminated text, valid until the
 * arena is freed. AM_ENOMEM on failure, *out unchanged. */
am_status am__json_dump_arena(am__arena *ar, const json_t *v, size_t flags,
                              am_str *out, am_error *err);

/* Typed field readers. `ctx` names the object for messages (e.g.
 * "message 12"). A missing optional field leaves *out unchanged and returns
 * AM_OK; a present field of the wrong type is AM_EFORMAT naming it. */
am_status am__json_opt_str(const json_t *obj, const char *key,
                           const char *ctx, am_str *out, am_error *err);
am_status am__json_req_str(const json_t *obj, const char *key,
                           const char *ctx, am_str *out, am_error *err);
am_status am__json_opt_int(const json_t *obj, const char *key,
                           const char *ctx, int64_t *out, am_error *err);
am_status am__json_opt_real(const json_t *obj, const char *key,
                            const char *ctx, double *out, am_error *err);
am_status am__json_opt_bool(const json_t *obj, const char *key,
                            const char *ctx, bool *out, am_error *err);

/* A JSON string value as am_str (borrowed from `v`). */
static inline am_str am__json_str(const json_t *v)
{
    am_str s = { json_string_value(v), json_string_length(v) };
    return s;
}

#endif
