/* convlog.c -- an append-only, checksummed log per persistent agent.
 *
 * File layout:
 *
 *   "AMCLOG1\n"                                   8-byte magic
 *   record*:  u32 length | u32 checksum | u8 type | payload[length]
 *
 * (little endian). The checksum is the low 32 bits of am__hash64 over the
 * type byte and the payload. Types: AGENT (the agent's name, first
 * record), ADD (a JSON array of messages appended), CLEAR, SNAPSHOT (a JSON
 * array replacing everything). Each change is one record written with one
 * write(2) and made durable with fsync(2) before the change is applied in
 * memory, so after a crash the log holds every change that was
 * acknowledged, plus at most one torn record at its end.
 *
 * Recovery reads the records in order. A record that runs past the end of
 * the file, or whose checksum fails and which ends exactly at the end of
 * the file, is the torn last write: it is dropped and the file truncated
 * to the last good record. A bad record *followed by more data* is not a
 * torn write but damage, and we refuse to guess: AM_EFORMAT names the file
 * and byte offset, and nothing is dropped.
 *
 * The log only grows, so when it reaches four times the size of its last
 * snapshot (and at least 256 KiB) the manager asks for a compaction: the
 * current contents are written as a single SNAPSHOT to a new file that
 * replaces the old one atomically. Compaction is amortized over many
 * appends; no append rewrites the file.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "convlog.h"
#include "wire_int.h"

#define MAGIC "AMCLOG1\n"
#define MAGIC_LEN 8
#define HDR 9
#define HASH_SEED 0x616d636f6e766c67ull /* "amconvlg" */
#define COMPACT_MIN ((size_t)256 << 10)

enum { REC_AGENT = 1, REC_ADD = 2, REC_CLEAR = 3, REC_SNAPSHOT = 4 };

struct am__convlog {
    const am_allocator *alloc;
    char *path;
    size_t path_len;
    int fd;
    bool sync;
    size_t size;          /* bytes in the file */
    size_t snapshot_size; /* size right after the last compaction/create */
    char *agent;
    size_t agent_len;
};

static void log_free(am__convlog *log)
{
    if (log->fd >= 0)
        close(log->fd);
    am__free(log->alloc, log->path, log->path_len + 1);
    am__free(log->alloc, log->agent, log->agent_len + 1);
    am__free(log->alloc, log, sizeof *log);
}

static void put32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
    p[2] = (unsigned char)(v >> 16);
    p[3] = (unsigned char)(v >> 24);
}

static uint32_t get32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

/* Append a framed record (type, payload) to `out`. */
static am_status frame(am_buf *out, int type, am_str payload)
{
    unsigned char h[HDR];
    size_t at = out->len;
    am_status st;

    if (payload.len > UINT32_MAX - HDR)
        return AM_ELIMIT;
    memset(h, 0, sizeof h);
    st = am_buf_append(out, h, HDR);
    if (st == AM_OK)
        st = am_buf_append(out, payload.ptr, payload.len);
    if (st != AM_OK)
        return st;
    out->ptr[at + 8] = (char)type;
    put32((unsigned char *)out->ptr + at, (uint32_t)payload.len);
    put32((unsigned char *)out->ptr + at + 4,
          (uint32_t)am__hash64(out->ptr + at + 8, payload.len + 1,
                               HASH_SEED));
    return AM_OK;
}

/* Payload for a list of messages: the agentmem JSON array. */
static am_status frame_msgs(am_buf *out, int type, am_msg *const *msgs,
                            size_t count)
{
    am_buf json = AM_BUF_INIT;
    am_status st;

    json.alloc = out->alloc; /* the log's allocator, as the record's */
    st = am__msgs_write_agentmem((const am_msg *const *)msgs, count, 0,
                                 &json);
    if (st == AM_OK)
        st = frame(out, type, am_buf_str(&json));
    am_buf_free(&json);
    return st;
}

static am_status write_all(int fd, const char *p, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return AM_EIO;
        }
        p += n;
        len -= (size_t)n;
    }
    return AM_OK;
}

static am__convlog *log_new(const am_allocator *a, const char *path,
                            am_str agent, bool sync)
{
    am__convlog *log = am__calloc(a, 1, sizeof *log);
    if (log == NULL)
        return NULL;
    log->alloc = a;
    log->path_len = strlen(path);
    log->path = am__strndup(a, path, log->path_len);
    log->agent = am__strndup(a, agent.ptr, agent.len);
    log->agent_len = agent.len;
    log->fd = -1;
    log->sync = sync;
    if (log->path == NULL || log->agent == NULL) {
        log_free(log);
        return NULL;
    }
    return log;
}

/* Open `path` for appending and take an exclusive lock: two managers
 * writing one log (two processes, or two managers in one) would interleave
 * their records, so the second is refused with AM_EBUSY. */
static am_status lock_open(const char *path, int *fd, am_error *err)
{
    *fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
    if (*fd < 0)
        return am__fail(err, errno == ENOENT ? AM_ENOTFOUND : AM_EIO,
                        "cannot open log '%s': %s", path, strerror(errno));
    if (flock(*fd, LOCK_EX | LOCK_NB) != 0) {
        int e = errno;
        close(*fd);
        *fd = -1;
        if (e == EWOULDBLOCK)
            return am__fail(err, AM_EBUSY, "log '%s' is in use by another "
                            "manager", path);
        return am__fail(err, AM_EIO, "cannot lock log '%s': %s", path,
                        strerror(e));
    }
    return AM_OK;
}

static am_status open_append(am__convlog *log, am_error *err)
{
    return lock_open(log->path, &log->fd, err);
}

/* Write a fresh file: magic, AGENT, SNAPSHOT; atomically replacing. */
static am_status write_fresh(am__convlog *log, am_msg *const *msgs,
                             size_t count, am_error *err)
{
    am_buf text = AM_BUF_INIT;
    am_status st;

    text.alloc = log->alloc;
    st = am_buf_append(&text, MAGIC, MAGIC_LEN);
    if (st == AM_OK)
        st = frame(&text, REC_AGENT,
                   (am_str){ log->agent, log->agent_len });
    if (st == AM_OK)
        st = frame_msgs(&text, REC_SNAPSHOT, msgs, count);
    if (st != AM_OK) {
        am_buf_free(&text);
        return am__fail(err, st, "log '%s': cannot build the snapshot",
                        log->path);
    }
    if (log->fd >= 0) {
        close(log->fd);
        log->fd = -1;
    }
    st = am__write_file_atomic(log->alloc, log->path, text.ptr, text.len,
                               err);
    if (st == AM_OK) {
        log->size = text.len;
        log->snapshot_size = text.len;
    }
    am_buf_free(&text);
    /* Reopen even after a failed rewrite: the old file is still there. */
    {
        am_error e2 = { AM_OK, "" };
        am_status st2 = open_append(log, &e2);
        if (st2 != AM_OK && st == AM_OK)
            st = am__error_copy(err, &e2);
    }
    return st;
}

am_status am__convlog_create(const am_allocator *alloc, const char *path,
                             am_str agent, am_msg *const *msgs, size_t count,
                             bool sync, am__convlog **out, am_error *err)
{
    am__convlog *log = log_new(alloc, path, agent, sync);
    am_status st;

    *out = NULL;
    if (log == NULL)
        return am__fail(err, AM_ENOMEM, "out of memory");
    st = write_fresh(log, msgs, count, err);
    if (st != AM_OK) {
        log_free(log);
        return st;
    }
    *out = log;
    return AM_OK;
}

am_status am__convlog_append(am__convlog *log, am__conv_op op,
                             am_msg *const *msgs, size_t count,
                             am_error *err)
{
    am_buf rec = AM_BUF_INIT;
    am_status st;
    int type = op == AM__CONV_ADD ? REC_ADD
               : op == AM__CONV_CLEAR ? REC_CLEAR : REC_SNAPSHOT;

    rec.alloc = log->alloc;
    /* A failed re-lock after a compaction left no descriptor: retry. */
    if (log->fd < 0 && (st = open_append(log, err)) != AM_OK)
        return st;
    if (type == REC_CLEAR)
        st = frame(&rec, type, (am_str){ "", 0 });
    else
        st = frame_msgs(&rec, type, msgs, count);
    if (st != AM_OK) {
        am_buf_free(&rec);
        return am__fail(err, st, "log '%s': cannot build a record",
                        log->path);
    }
    st = write_all(log->fd, rec.ptr, rec.len);
    if (st == AM_OK && log->sync && fdatasync(log->fd) != 0)
        st = AM_EIO;
    if (st != AM_OK) {
        int e = errno;
        /* Cut the partial record away so that the log stays clean. */
        if (ftruncate(log->fd, (off_t)log->size) != 0) {
            /* Recovery will drop it as a torn last record. */
        }
        am_buf_free(&rec);
        return am__fail(err, AM_EIO, "log '%s': cannot append: %s",
                        log->path, strerror(e));
    }
    log->size += rec.len;
    am_buf_free(&rec);
    return AM_OK;
}

bool am__convlog_wants_compact(const am__convlog *log)
{
    size_t base = log->snapshot_size > COMPACT_MIN / 4 ? log->snapshot_size
                                                        : COMPACT_MIN / 4;
    return log->size > 4 * base;
}

am_status am__convlog_compact(am__convlog *log, am_msg *const *msgs,
                              size_t count, am_error *err)
{
    return write_fresh(log, msgs, count, err);
}

size_t am__convlog_size(const am__convlog *log)
{
    return log->size;
}

am_str am__convlog_agent(const am__convlog *log)
{
    am_str s = { log->agent, log->agent_len };
    return s;
}

void am__convlog_close(am__convlog *log, bool unlink_file)
{
    if (log == NULL)
        return;
    if (unlink_file)
        unlink(log->path);
    log_free(log);
}

/* ---- Recovery ---- */

static am_status replay(am_conv *conv, int type, am_str payload,
                        const char *path, size_t off, am_error *err)
{
    am_msg_list l = AM_MSG_LIST_INIT;
    char what[64];
    am_status st;

    if (type == REC_CLEAR)
        return am_conv_clear(conv) == AM_OK
                   ? AM_OK
                   : am__error_copy(err, am_conv_last_error(conv));
    snprintf(what, sizeof what, "log record at byte %zu", off);
    l.alloc = conv->opts.alloc;
    st = am__conv_parse(&conv->env, payload, what, &l, err);
    if (st == AM_OK) {
        st = type == REC_ADD
                 ? am_conv_add_list(conv, (const am_msg *const *)l.items,
                                    l.count)
                 : am_conv_replace(conv, (const am_msg *const *)l.items,
                                   l.count);
        if (st != AM_OK)
            am__error_copy(err, am_conv_last_error(conv));
    }
    am_msg_list_free(&l);
    if (st != AM_OK && st != AM_ENOMEM) {
        char detail[sizeof err->msg];
        snprintf(detail, sizeof detail, "%s", err != NULL ? err->msg : "");
        st = am__fail(err, st, "log '%s': %s", path, detail);
    }
    return st;
}

am_status am__convlog_open(const char *path, am_conv *conv, bool sync,
                           am__convlog **out, size_t *dropped,
                           am_error *err)
{
    am_buf text = AM_BUF_INIT;
    am__convlog *log = NULL;
    const unsigned char *p;
    size_t off = MAGIC_LEN, good = MAGIC_LEN;
    am_str name = { NULL, 0 };
    am_status st;
    int fd = -1;

    *out = NULL;
    *dropped = 0;
    text.alloc = conv->opts.alloc;
    /* Lock before reading: another manager may be appending. */
    st = lock_open(path, &fd, err);
    if (st != AM_OK)
        return st;
    st = am__read_file(path, &text, err);
    if (st != AM_OK)
        goto out;
    p = (const unsigned char *)text.ptr;
    if (text.len < MAGIC_LEN || memcmp(p, MAGIC, MAGIC_LEN) != 0) {
        st = am__fail(err, AM_EFORMAT, "log '%s': not an agentmem "
                      "conversation log (bad magic at byte 0)", path);
        goto out;
    }
    while (off < text.len) {
        size_t len, end;
        int type;
        bool ok;
        if (text.len - off < HDR)
            break; /* torn header */
        len = get32(p + off);
        end = off + HDR + len;
        if (end > text.len || end < off)
            break; /* torn payload */
        type = p[off + 8];
        ok = (uint32_t)am__hash64(p + off + 8, len + 1, HASH_SEED) ==
             get32(p + off + 4);
        if (!ok && end == text.len)
            break; /* corrupt last record: the torn write */
        if (!ok || type < REC_AGENT || type > REC_SNAPSHOT ||
            (type == REC_AGENT) != (off == MAGIC_LEN)) {
            st = am__fail(err, AM_EFORMAT, "log '%s': corrupt record at "
                          "byte %zu, followed by %zu more bytes; refusing "
                          "to drop history", path, off, text.len - end);
            goto out;
        }
        if (type == REC_AGENT) {
            name.ptr = text.ptr + off + HDR;
            name.len = len;
        } else {
            st = replay(conv, type, (am_str){ text.ptr + off + HDR, len },
                        path, off, err);
            if (st != AM_OK)
                goto out;
        }
        off = end;
        good = end;
    }
    if (name.ptr == NULL || name.len == 0) {
        st = am__fail(err, AM_EFORMAT, "log '%s': no agent record at byte "
                      "%d", path, MAGIC_LEN);
        goto out;
    }
    /* The name must be one am_convmgr_get would accept, or the agent
     * could never be reached again (found by fuzz_convlog: a name with a
     * NUL byte was restored but no call could name it). */
    {
        size_t bad = 0;
        const char *why = name.len > 200 ? "is longer than 200 bytes"
                          : memchr(name.ptr, '\0', name.len) != NULL
                              ? "contains a NUL byte"
                          : !am__utf8_valid(name.ptr, name.len, &bad)
                              ? "is not valid UTF-8"
                              : NULL;
        if (why != NULL) {
            st = am__fail(err, AM_EFORMAT, "log '%s': the agent name in the "
                          "record at byte %d %s", path, MAGIC_LEN, why);
            goto out;
        }
    }
    log = log_new(conv->opts.alloc, path, name, sync);
    if (log == NULL) {
        st = am__fail(err, AM_ENOMEM, "out of memory");
        goto out;
    }
    if (good < text.len) {
        if (ftruncate(fd, (off_t)good) != 0) {
            st = am__fail(err, AM_EIO, "log '%s': cannot drop the torn "
                          "record at byte %zu: %s", path, good,
                          strerror(errno));
            goto out;
        }
        *dropped = good + 1;
    }
    log->size = good;
    log->snapshot_size = good;
    log->fd = fd;
    fd = -1;
    *out = log;
    log = NULL;
out:
    if (log != NULL)
        log_free(log);
    if (fd >= 0)
        close(fd);
    am_buf_free(&text);
    return st;
}
