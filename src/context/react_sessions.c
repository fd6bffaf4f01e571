/* react_sessions.c -- the session directory: one ReAct memory per file.
 *
 * The handle is only the directory path and an error slot; every call
 * opens, reads or replaces whole files, so handles in several threads or
 * processes on one directory need no coordination beyond the atomic
 * rename (am__write_file_atomic). The mutex guards the error slot.
 */
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agentmem/sessions.h"
#include "core/core.h"
#include "core/errtab.h"

#define ID_MAX 128
#define SUFFIX ".json"

struct am_sessions {
    const am_allocator *alloc; /* of the handle and every call's buffers */
    char *dir;
    pthread_mutex_t mu;
    am_error err;
};

/* Keep the detail of a failed call (under the lock: threads share it). */
static am_status keep(am_sessions *ss, am_status st, const am_error *e)
{
    if (st != AM_OK) {
        pthread_mutex_lock(&ss->mu);
        ss->err = *e;
        pthread_mutex_unlock(&ss->mu);
    }
    return st;
}

am_sessions_opts am_sessions_opts_default(void)
{
    am_sessions_opts o = { NULL };
    return o;
}

am_status am_sessions_open(const char *dir, const am_sessions_opts *opts,
                           am_sessions **out, am_error *err)
{
    const am_allocator *a = opts != NULL ? opts->alloc : NULL;
    am_sessions *ss;
    am_status st;

    if (out == NULL)
        return am__fail(err, AM_EINVAL, "sessions: NULL out");
    *out = NULL;
    if (dir == NULL || dir[0] == '\0')
        return am__fail(err, AM_EINVAL, "sessions: empty directory path");
    st = am__mkdir_p(a, dir, err);
    if (st != AM_OK)
        return st;
    ss = am__calloc(a, 1, sizeof *ss);
    if (ss == NULL)
        return am__fail(err, AM_ENOMEM, "sessions: out of memory");
    ss->alloc = a;
    ss->dir = am__strndup(a, dir, strlen(dir));
    if (ss->dir == NULL) {
        am__free(a, ss, sizeof *ss);
        return am__fail(err, AM_ENOMEM, "sessions: out of memory");
    }
    pthread_mutex_init(&ss->mu, NULL);
    *out = ss;
    return AM_OK;
}

void am_sessions_close(am_sessions *ss)
{
    if (ss == NULL)
        return;
    pthread_mutex_destroy(&ss->mu);
    am__free(ss->alloc, ss->dir, strlen(ss->dir) + 1);
    am__free(ss->alloc, ss, sizeof *ss);
}

const am_error *am_sessions_last_error(const am_sessions *ss)
{
    return ss != NULL ? &ss->err : am__errtab_null_handle();
}

static bool id_byte_ok(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.';
}

/* Check `id` and build <dir>/<id>.json into `path`. */
static am_status session_path(const am_sessions *ss, am_str id, am_buf *path,
                              am_error *e)
{
    if (id.len == 0 || id.len > ID_MAX)
        return am__fail(e, AM_EINVAL, "session id: must be 1 to %d bytes "
                        "(got %zu)", ID_MAX, id.len);
    if (id.ptr[0] == '.')
        return am__fail(e, AM_EINVAL, "session id: must not start with '.'");
    for (size_t i = 0; i < id.len; i++)
        if (!id_byte_ok(id.ptr[i]))
            return am__fail(e, AM_EINVAL, "session id: byte %zu is not a "
                            "letter, digit, '_', '-' or '.'", i);
    am_buf_clear(path);
    if (am_buf_appendf(path, "%s/%.*s" SUFFIX, ss->dir, (int)id.len,
                       id.ptr) != AM_OK)
        return am__fail(e, AM_ENOMEM, "sessions: out of memory");
    return AM_OK;
}

am_status am_sessions_save(am_sessions *ss, am_str id, am_react *mem)
{
    am_buf path = AM_BUF_INIT, doc = AM_BUF_INIT;
    am_error e = { AM_OK, "" };
    am_status st;

    if (ss == NULL || mem == NULL)
        return AM_EINVAL;
    path.alloc = doc.alloc = ss->alloc;
    st = session_path(ss, id, &path, &e);
    if (st == AM_OK) {
        st = am_react_export(mem, &doc);
        if (st != AM_OK)
            am__error_copy(&e, am_react_last_error(mem));
        if (st != AM_OK && e.code == AM_OK)
            am__fail(&e, st, "session '%.*s': export failed", (int)id.len,
                     id.ptr);
    }
    if (st == AM_OK)
        st = am__write_file_atomic(ss->alloc, path.ptr, doc.ptr, doc.len, &e);
    am_buf_free(&path);
    am_buf_free(&doc);
    return keep(ss, st, &e);
}

am_status am_sessions_load(am_sessions *ss, am_str id, am_react *mem)
{
    am_buf path = AM_BUF_INIT, doc = AM_BUF_INIT;
    am_error e = { AM_OK, "" };
    am_status st;

    if (ss == NULL || mem == NULL)
        return AM_EINVAL;
    path.alloc = doc.alloc = ss->alloc;
    st = session_path(ss, id, &path, &e);
    if (st == AM_OK && access(path.ptr, F_OK) != 0 && errno == ENOENT)
        st = am__fail(&e, AM_ENOTFOUND, "no session '%.*s' in '%s'",
                      (int)id.len, id.ptr, ss->dir);
    if (st == AM_OK)
        st = am__read_file(path.ptr, &doc, &e);
    if (st == AM_OK) {
        st = am_react_import(mem, am_buf_str(&doc));
        if (st != AM_OK)
            am__fail(&e, st, "%s: %s", path.ptr, am_react_last_error(mem)->msg);
    }
    am_buf_free(&path);
    am_buf_free(&doc);
    return keep(ss, st, &e);
}

am_status am_sessions_delete(am_sessions *ss, am_str id)
{
    am_buf path = AM_BUF_INIT;
    am_error e = { AM_OK, "" };
    am_status st;

    if (ss == NULL)
        return AM_EINVAL;
    path.alloc = ss->alloc;
    st = session_path(ss, id, &path, &e);
    if (st == AM_OK && unlink(path.ptr) != 0)
        st = errno == ENOENT
                 ? am__fail(&e, AM_ENOTFOUND, "no session '%.*s' in '%s'",
                            (int)id.len, id.ptr, ss->dir)
                 : am__fail(&e, AM_EIO, "cannot delete '%s': %s", path.ptr,
                            strerror(errno));
    am_buf_free(&path);
    return keep(ss, st, &e);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

am_status am_sessions_list(am_sessions *ss, am_buf *out)
{
    am_error e = { AM_OK, "" };
    am_status st = AM_OK;
    char **ids = NULL;
    size_t n = 0, cap = 0;
    DIR *d;

    if (ss == NULL || out == NULL)
        return AM_EINVAL;
    d = opendir(ss->dir);
    if (d == NULL)
        return keep(ss, am__fail(&e, AM_EIO, "cannot read '%s': %s",
                                 ss->dir, strerror(errno)), &e);
    for (struct dirent *de; st == AM_OK && (de = readdir(d)) != NULL;) {
        size_t len = strlen(de->d_name), sl = strlen(SUFFIX);
        bool ok = len > sl && len - sl <= ID_MAX && de->d_name[0] != '.' &&
                  strcmp(de->d_name + len - sl, SUFFIX) == 0;
        for (size_t i = 0; ok && i < len - sl; i++)
            ok = id_byte_ok(de->d_name[i]);
        if (!ok)
            continue; /* temporaries and foreign files are not sessions */
        if (am__grow(ss->alloc, (void **)&ids, &cap, n + 1, sizeof *ids) !=
                AM_OK ||
            (ids[n] = am__strndup(ss->alloc, de->d_name, len - sl)) == NULL)
            st = am__fail(&e, AM_ENOMEM, "sessions: out of memory");
        else
            n++;
    }
    closedir(d);
    if (st == AM_OK) {
        if (n > 1)
            qsort(ids, n, sizeof *ids, cmp_str);
        am_buf_clear(out);
        st = am_buf_append(out, "[", 1);
        /* Ids hold only [A-Za-z0-9_.-]: no JSON escaping needed. */
        for (size_t i = 0; st == AM_OK && i < n; i++)
            st = am_buf_appendf(out, "%s\"%s\"", i ? "," : "", ids[i]);
        if (st == AM_OK)
            st = am_buf_append(out, "]", 1);
        if (st != AM_OK)
            am__fail(&e, st, "sessions: out of memory");
    }
    for (size_t i = 0; i < n; i++)
        am__free(ss->alloc, ids[i], strlen(ids[i]) + 1);
    am__free(ss->alloc, ids, cap * sizeof *ids);
    return keep(ss, st, &e);
}
