/* file.c -- whole-file reads and crash-safe atomic writes.
 *
 * An atomic save writes a new temporary file beside path, fsyncs it,
 * renames it over path and fsyncs the directory, so that after a crash the
 * file is either the old or the new version, never a torn mix. The
 * temporary's name is unique and it is created with O_EXCL: a fixed
 * "path.tmp" followed a symlink planted there (overwriting its target),
 * and two writers of one path wrote into each other's temporary.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core.h"

am_status am__read_file(const char *path, am_buf *out, am_error *err)
{
    return am__read_file_max(path, AM__READ_FILE_MAX, out, err);
}

am_status am__read_file_max(const char *path, size_t max, am_buf *out,
                            am_error *err)
{
    int fd;
    struct stat stt;
    size_t want;
    am_status st = AM_OK;

    if (path == NULL || out == NULL)
        return am__fail(err, AM_EINVAL, "read_file: NULL argument");
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return am__fail(err, errno == ENOENT ? AM_ENOTFOUND : AM_EIO,
                        "cannot open '%s': %s", path, strerror(errno));
    if (fstat(fd, &stt) != 0) {
        st = am__fail(err, AM_EIO, "cannot stat '%s': %s", path,
                      strerror(errno));
        goto out;
    }
    am_buf_clear(out);
    if (stt.st_size > 0 && (uint64_t)stt.st_size > max) {
        st = am__fail(err, AM_ELIMIT, "'%s' is larger than %zu bytes (%lld)",
                      path, max, (long long)stt.st_size);
        goto out;
    }
    want = stt.st_size > 0 ? (size_t)stt.st_size : 4096;
    if (am_buf_reserve(out, want) != AM_OK) {
        st = am__fail(err, AM_ENOMEM, "no memory to read '%s' (%zu bytes)",
                      path, want);
        goto out;
    }
    for (;;) {
        ssize_t n;
        if (out->cap - out->len - 1 == 0 &&
            am_buf_reserve(out, out->cap) != AM_OK) {
            st = am__fail(err, AM_ENOMEM, "no memory to read '%s'", path);
            goto out;
        }
        n = read(fd, out->ptr + out->len, out->cap - out->len - 1);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            st = am__fail(err, AM_EIO, "cannot read '%s': %s", path,
                          strerror(errno));
            goto out;
        }
        if (n == 0)
            break;
        out->len += (size_t)n;
        if (out->len > max) {
            st = am__fail(err, AM_ELIMIT, "'%s' is larger than %zu bytes",
                          path, max);
            goto out;
        }
    }
    out->ptr[out->len] = '\0';
out:
    close(fd);
    return st;
}

static am_status fsync_dir_of(const am_allocator *a, const char *path,
                              am_error *err)
{
    size_t plen = strlen(path);
    char *copy = am__strndup(a, path, plen);
    int dfd;
    am_status st = AM_OK;

    if (copy == NULL)
        return am__fail(err, AM_ENOMEM, "no memory to sync the directory of "
                        "'%s'", path);
    dfd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        if (fsync(dfd) != 0 && errno != EINVAL)
            st = am__fail(err, AM_EIO, "cannot sync directory of '%s': %s",
                          path, strerror(errno));
        close(dfd);
    }
    am__free(a, copy, plen + 1);
    return st;
}

am_status am__write_file_atomic(const am_allocator *a, const char *path,
                                const void *data, size_t len, am_error *err)
{
    char *tmp;
    size_t plen;
    int fd;
    const char *p = data;
    am_status st = AM_OK;

    if (path == NULL || (data == NULL && len != 0))
        return am__fail(err, AM_EINVAL, "write_file: NULL argument");
    plen = strlen(path);
    if (plen > SIZE_MAX - 48)
        return am__fail(err, AM_EINVAL, "write_file: path too long");
    tmp = am__alloc(a, plen + 48);
    if (tmp == NULL)
        return am__fail(err, AM_ENOMEM, "no memory to save '%s'", path);
    /* mkstemp's idea, but with open()'s mode and umask (mkstemp makes
     * every file 0600): a new name until one is free, never an existing
     * file or link. */
    for (int tries = 0;; tries++) {
        static unsigned long counter;
        unsigned long n = __atomic_add_fetch(&counter, 1, __ATOMIC_RELAXED);
        snprintf(tmp, plen + 48, "%s.%ld.%lu.%llx.tmp", path, (long)getpid(),
                 n, (unsigned long long)am__mono_ns() & 0xffffffull);
        fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                  0644);
        if (fd >= 0 || errno != EEXIST || tries == 100)
            break;
    }
    if (fd < 0) {
        st = am__fail(err, AM_EIO, "cannot create a temporary file beside "
                      "'%s': %s", path, strerror(errno));
        am__free(a, tmp, plen + 48);
        return st;
    }
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            st = am__fail(err, AM_EIO, "cannot write '%s': %s", tmp,
                          strerror(errno));
            goto fail;
        }
        p += n;
        len -= (size_t)n;
    }
    if (fsync(fd) != 0) {
        st = am__fail(err, AM_EIO, "cannot sync '%s': %s", tmp,
                      strerror(errno));
        goto fail;
    }
    if (close(fd) != 0) {
        fd = -1;
        st = am__fail(err, AM_EIO, "cannot close '%s': %s", tmp,
                      strerror(errno));
        goto fail;
    }
    fd = -1;
    if (rename(tmp, path) != 0) {
        st = am__fail(err, AM_EIO, "cannot rename '%s' to '%s': %s", tmp,
                      path, strerror(errno));
        goto fail;
    }
    am__free(a, tmp, plen + 48);
    return fsync_dir_of(a, path, err);
fail:
    if (fd >= 0)
        close(fd);
    unlink(tmp);
    am__free(a, tmp, plen + 48);
    return st;
}

am_status am__mkdir_p(const am_allocator *a, const char *path, am_error *err)
{
    char *copy;
    size_t len;

    if (path == NULL || path[0] == '\0')
        return am__fail(err, AM_EINVAL, "mkdir: empty path");
    len = strlen(path);
    copy = am__strndup(a, path, len);
    if (copy == NULL)
        return am__fail(err, AM_ENOMEM, "no memory to create '%s'", path);
    for (size_t i = 1; i <= len; i++) {
        if (copy[i] == '/' || copy[i] == '\0') {
            char c = copy[i];
            copy[i] = '\0';
            if (mkdir(copy, 0755) != 0 && errno != EEXIST) {
                am_status st = am__fail(err, AM_EIO,
                                        "cannot create directory '%s': %s",
                                        copy, strerror(errno));
                am__free(a, copy, len + 1);
                return st;
            }
            copy[i] = c;
        }
    }
    am__free(a, copy, len + 1);
    return AM_OK;
}
