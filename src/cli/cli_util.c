/* cli_util.c -- input, output, option and error helpers for commands. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agentmem/encrypt.h"
#include "cli.h"

int cli_exit_code(am_status st)
{
    switch (st) {
    case AM_OK:
        return CLI_EXIT_OK;
    case AM_EFORMAT:
    case AM_EINVAL:
        return CLI_EXIT_INPUT;
    case AM_ENOTFOUND:
        return CLI_EXIT_NOTFOUND;
    case AM_EIO:
    case AM_ENET:
    case AM_ETIMEOUT:
        return CLI_EXIT_IO;
    case AM_ELIMIT:
        return CLI_EXIT_LIMIT;
    default:
        return CLI_EXIT_FAIL;
    }
}

int cli_fail(am_status st, const am_error *err, const char *context)
{
    const char *detail = err != NULL && err->msg[0] != '\0'
                             ? err->msg
                             : am_status_str(st);
    size_t n = strlen(context);
    /* The library's message often names the operation already ("search:
     * vector mode needs ..."): say it once, not "search: search:". */
    if (strncmp(detail, context, n) == 0 && detail[n] == ':')
        fprintf(stderr, "agentmem: %s\n", detail);
    else
        fprintf(stderr, "agentmem: %s: %s\n", context, detail);
    return cli_exit_code(st);
}

am_status cli_load_key(const char *key_file, am_buf *key, am_error *err)
{
    am_status st = am_key_load(key_file, key, err);
    return st == AM_ENOTFOUND ? AM_OK : st; /* no key: a plaintext file */
}

const char *cli_db_default(const char *fallback)
{
    const char *url = getenv("DATABASE_URL");
    return url != NULL && url[0] != '\0' ? url : fallback;
}

int cli_db_arg(const char *cmd, const char *v, const char **db)
{
    if (v == NULL)
        return cli_usage(cmd, "--db needs a file or a postgresql:// URI");
    if (v[0] == '\0')
        return cli_usage(cmd, "--db is empty: give a file or a "
                         "postgresql:// URI (leave --db out to use "
                         "DATABASE_URL)");
    *db = v;
    return 0;
}

int cli_usage(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "agentmem %s: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n(see 'agentmem %s --help')\n", cmd);
    return CLI_EXIT_USAGE;
}

static bool is_stdio(const char *path)
{
    return path == NULL || strcmp(path, "-") == 0;
}

am_status cli_read_input(const char *path, am_buf *out, am_error *err)
{
    char chunk[65536];
    size_t n;

    if (!is_stdio(path)) {
        FILE *fp = fopen(path, "rb");
        am_status st = AM_OK;
        if (fp == NULL) {
            err->code = errno == ENOENT ? AM_ENOTFOUND : AM_EIO;
            snprintf(err->msg, sizeof err->msg, "cannot open '%s': %s", path,
                     strerror(errno));
            return err->code;
        }
        am_buf_clear(out);
        while ((n = fread(chunk, 1, sizeof chunk, fp)) > 0)
            if ((st = am_buf_append(out, chunk, n)) != AM_OK)
                break;
        if (st != AM_OK) {
            snprintf(err->msg, sizeof err->msg, "out of memory reading '%s' "
                     "(%zu bytes read)", path, out->len);
        } else if (ferror(fp)) {
            st = AM_EIO;
            snprintf(err->msg, sizeof err->msg, "cannot read '%s': %s", path,
                     strerror(errno));
        } else if (am_buf_reserve(out, 0) != AM_OK) {
            st = AM_ENOMEM;
            snprintf(err->msg, sizeof err->msg, "out of memory reading '%s'",
                     path);
        } else {
            out->ptr[out->len] = '\0'; /* an empty file reads as "" */
        }
        fclose(fp);
        err->code = st;
        return st;
    }
    am_buf_clear(out);
    while ((n = fread(chunk, 1, sizeof chunk, stdin)) > 0)
        if (am_buf_append(out, chunk, n) != AM_OK) {
            err->code = AM_ENOMEM;
            snprintf(err->msg, sizeof err->msg, "out of memory reading stdin");
            return AM_ENOMEM;
        }
    if (ferror(stdin)) {
        err->code = AM_EIO;
        snprintf(err->msg, sizeof err->msg, "cannot read stdin: %s",
                 strerror(errno));
        return AM_EIO;
    }
    if (am_buf_reserve(out, 0) != AM_OK) {
        err->code = AM_ENOMEM;
        snprintf(err->msg, sizeof err->msg, "out of memory reading stdin");
        return AM_ENOMEM;
    }
    out->ptr[out->len] = '\0';
    err->code = AM_OK;
    err->msg[0] = '\0';
    return AM_OK;
}

am_status cli_write_output(const char *path, const char *data, size_t len,
                           am_error *err)
{
    if (is_stdio(path)) {
        if ((len != 0 && fwrite(data, 1, len, stdout) != len) ||
            fflush(stdout) != 0) {
            err->code = AM_EIO;
            snprintf(err->msg, sizeof err->msg, "cannot write to standard "
                     "output: %s", strerror(errno));
            return AM_EIO;
        }
        return AM_OK;
    }
    {
        /* Atomic replace, so that a failed run never leaves half a file.
         * The temporary file beside it has a unique name and is created
         * with O_EXCL: a fixed "FILE.tmp" followed a symlink planted
         * there, and two writers of one output wrote into each other. */
        size_t plen = strlen(path);
        char *tmp = malloc(plen + 48);
        FILE *fp = NULL;
        int fd = -1;
        am_status st = AM_OK;
        if (tmp == NULL)
            return AM_ENOMEM;
        for (unsigned n = 0; fd < 0 && n < 100; n++) {
            struct timespec ts;
            clock_gettime(CLOCK_MONOTONIC, &ts);
            snprintf(tmp, plen + 48, "%s.%ld.%u.%lx.tmp", path,
                     (long)getpid(), n, (unsigned long)ts.tv_nsec);
            fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
                               O_CLOEXEC, 0666);
            if (fd < 0 && errno != EEXIST)
                break;
        }
        if (fd >= 0 && (fp = fdopen(fd, "wb")) == NULL) {
            close(fd);
            unlink(tmp);
        }
        if (fp == NULL) {
            st = AM_EIO;
            snprintf(err->msg, sizeof err->msg, "cannot create a temporary "
                     "file beside '%s': %s", path, strerror(errno));
        } else {
            if (fwrite(data, 1, len, fp) != len || fflush(fp) != 0 ||
                fsync(fileno(fp)) != 0) {
                st = AM_EIO;
                snprintf(err->msg, sizeof err->msg, "cannot write '%s': %s",
                         tmp, strerror(errno));
            }
            if (fclose(fp) != 0 && st == AM_OK) {
                st = AM_EIO;
                snprintf(err->msg, sizeof err->msg, "cannot close '%s'", tmp);
            }
            if (st == AM_OK && rename(tmp, path) != 0) {
                st = AM_EIO;
                snprintf(err->msg, sizeof err->msg, "cannot rename to '%s': %s",
                         path, strerror(errno));
            }
            if (st != AM_OK)
                unlink(tmp);
        }
        free(tmp);
        err->code = st;
        return st;
    }
}

void cli_format_hint(am_format fmt, am_str text, am_error *err)
{
    size_t i = 0, n;

    while (i < text.len && strchr(" \t\r\n", text.ptr[i]) != NULL)
        i++;
    /* agentmem JSON is an array: an object is a provider's request. */
    if (fmt != AM_FORMAT_AGENTMEM || i >= text.len || text.ptr[i] != '{')
        return;
    n = strlen(err->msg);
    snprintf(err->msg + n, sizeof err->msg - n, " (this is an object, as "
             "in a request: use --format openai or --format anthropic)");
}

bool cli_parse_ll(const char *cmd, const char *name, const char *v,
                  long long min, long long max, long long *out)
{
    char *end = NULL;
    long long n;

    if (v == NULL) {
        cli_usage(cmd, "%s needs a value", name);
        return false;
    }
    errno = 0;
    /* strtoll skips leading spaces and takes '+': a flag value may not. */
    n = (*v == '-' || isdigit((unsigned char)*v)) ? strtoll(v, &end, 10) : 0;
    if (end == NULL || end == v || *end != '\0') {
        cli_usage(cmd, "%s: '%s' is not an integer", name, v);
        return false;
    }
    if (errno == ERANGE || n > max) {
        cli_usage(cmd, "%s: '%s' is too large (at most %lld)", name, v, max);
        return false;
    }
    if (n < min) {
        if (min == 1)
            cli_usage(cmd, "%s must be a positive number, not '%s'", name, v);
        else if (min == 0)
            cli_usage(cmd, "%s must not be negative, not '%s'", name, v);
        else
            cli_usage(cmd, "%s: '%s' is too small (at least %lld)", name, v,
                      min);
        return false;
    }
    *out = n;
    return true;
}

bool cli_parse_size(const char *cmd, const char *name, const char *v,
                    size_t max, size_t *out)
{
    long long n;

    if (max > (size_t)LLONG_MAX)
        max = (size_t)LLONG_MAX;
    if (!cli_parse_ll(cmd, name, v, 0, (long long)max, &n))
        return false;
    *out = (size_t)n;
    return true;
}

int cli_close_stdout(int rc)
{
    int bad = ferror(stdout);
    int e = 0;

    if (fflush(stdout) != 0) {
        bad = 1;
        e = errno;
    }
    if (fclose(stdout) != 0 && !bad) {
        bad = 1;
        e = errno;
    }
    if (!bad)
        return rc;
    fprintf(stderr, "agentmem: cannot write the result to standard "
                    "output%s%s\n", e != 0 ? ": " : "",
            e != 0 ? strerror(e) : "");
    return rc != CLI_EXIT_OK ? rc : CLI_EXIT_IO;
}

bool cli_opt(int argc, char **argv, int *i, const char *name,
             const char **value)
{
    size_t nlen = strlen(name);
    const char *a = argv[*i];

    if (strncmp(a, name, nlen) != 0)
        return false;
    if (a[nlen] == '=') {
        *value = a + nlen + 1;
        return true;
    }
    if (a[nlen] != '\0')
        return false;
    if (*i + 1 < argc) {
        *value = argv[++*i];
    } else {
        *value = NULL;
    }
    return true;
}

const char *cli_renamed_find(const cli_renamed *t, size_t n, const char *arg)
{
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(t[i].old);
        if (strncmp(arg, t[i].old, len) == 0 &&
            (arg[len] == '\0' || arg[len] == '='))
            return t[i].now;
    }
    return NULL;
}
