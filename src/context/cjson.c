/* cjson.c -- JSON serialization that notices every failed write.
 *
 * jansson can return success from json_dump_callback after the callback
 * failed once (seen with a failing allocator: the output came back short
 * and AM_OK), so this module's writers use a callback that remembers any
 * failure and report AM_ENOMEM then, never a truncated document.
 */
#include "context_int.h"
#include "core/json_glue.h"

typedef struct sink {
    am_buf *out;
    bool failed;
} sink;

static int write_cb(const char *buffer, size_t size, void *data)
{
    sink *s = data;
    if (s->failed || am_buf_append(s->out, buffer, size) != AM_OK) {
        s->failed = true;
        return -1;
    }
    return 0;
}

am_status am__ctx_json_dump(const json_t *v, size_t flags, am_buf *out,
                            am_error *err)
{
    sink s = { out, false };
    am_buf_clear(out);
    if (json_dump_callback(v, write_cb, &s, flags) != 0 || s.failed ||
        am_buf_reserve(out, 0) != AM_OK) {
        am_buf_clear(out);
        return am__fail(err, AM_ENOMEM, "cannot serialize JSON");
    }
    out->ptr[out->len] = '\0';
    return AM_OK;
}
