/* conv_io.c -- a conversation to and from JSON text and files.
 *
 * Loading parses into a separate list first and swaps it in only when the
 * whole input was good, so a corrupt or truncated file never leaves a
 * conversation half-replaced. Saving serializes a snapshot (references
 * taken under the lock) and writes outside the lock, so a slow disk does
 * not stall the agents adding to the conversation.
 */
#include <string.h>

#include "msg_int.h"
#include "wire_int.h"

static am_status snapshot(am_conv *conv, am_msg_list *all)
{
    all->alloc = conv->opts.alloc;
    return am_conv_all(conv, all);
}

/* Record `e` as the conversation's last error (under its lock). */
static am_status set_err(am_conv *conv, const am_error *e)
{
    pthread_mutex_lock(&conv->mu);
    am__error_copy(&AM__ERR(conv), e);
    pthread_mutex_unlock(&conv->mu);
    return e->code;
}

static am_status to_json(am_conv *conv, am_format fmt, unsigned flags,
                         am_buf *out, am_error *e)
{
    am_msg_list all = AM_MSG_LIST_INIT;
    am_status st = snapshot(conv, &all);

    if (st != AM_OK) {
        am__fail(e, st, "out of memory");
    } else {
        st = am_msgs_to_json((const am_msg *const *)all.items, all.count,
                             fmt, flags, out, e);
    }
    am_msg_list_free(&all);
    return st;
}

am_status am_conv_to_json(am_conv *conv, am_format fmt, unsigned flags,
                          am_buf *out)
{
    am_error e = { AM_OK, "" };
    am_status st;

    if (conv == NULL || out == NULL)
        return AM_EINVAL;
    st = to_json(conv, fmt, flags, out, &e);
    return st != AM_OK ? set_err(conv, &e) : AM_OK;
}

static am_status from_text(am_conv *conv, am_format fmt, am_str text,
                           const char *what, am_error *e)
{
    am_msg_list fresh = AM_MSG_LIST_INIT;
    am_status st;

    fresh.alloc = conv->opts.alloc;
    if (fmt == AM_FORMAT_AGENTMEM)
        st = am__conv_parse(&conv->env, text, what, &fresh, e);
    else
        st = am__msgs_parse(&conv->env, fmt, text, &fresh, e);
    if (st == AM_OK) {
        st = am_conv_replace(conv, (const am_msg *const *)fresh.items,
                             fresh.count);
        if (st != AM_OK)
            am__error_copy(e, am_conv_last_error(conv));
    }
    am_msg_list_free(&fresh);
    return st;
}

am_status am_conv_from_json(am_conv *conv, am_format fmt, am_str text)
{
    am_error e = { AM_OK, "" };
    am_status st;

    if (conv == NULL)
        return AM_EINVAL;
    st = from_text(conv, fmt, text, am_format_name(fmt), &e);
    return st != AM_OK ? set_err(conv, &e) : AM_OK;
}

am_status am_conv_save(am_conv *conv, const char *path, am_format fmt)
{
    am_buf text = AM_BUF_INIT;
    am_error e = { AM_OK, "" };
    am_status st;

    if (conv == NULL || path == NULL)
        return AM_EINVAL;
    text.alloc = conv->opts.alloc;
    st = to_json(conv, fmt, 0, &text, &e);
    if (st == AM_OK)
        st = am__write_file_atomic(conv->opts.alloc, path, text.ptr,
                                   text.len, &e);
    am_buf_free(&text);
    return st != AM_OK ? set_err(conv, &e) : AM_OK;
}

am_status am_conv_load(am_conv *conv, const char *path, am_format fmt)
{
    am_buf text = AM_BUF_INIT;
    am_error e = { AM_OK, "" };
    am_status st;

    if (conv == NULL || path == NULL)
        return AM_EINVAL;
    text.alloc = conv->opts.alloc;
    st = am__read_file(path, &text, &e);
    if (st == AM_OK)
        st = from_text(conv, fmt, am_buf_str(&text), path, &e);
    am_buf_free(&text);
    return st != AM_OK ? set_err(conv, &e) : AM_OK;
}
