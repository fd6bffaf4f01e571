/* memconfig_find.c -- where the memory manager's config file is looked up.
 *
 * One file is read, the first that exists of: $AGENTMEM_CONFIG,
 * ./.agentmem/config, then the user's config directory (XDG: 
 * $XDG_CONFIG_HOME/agentmem/config, else ~/.config/agentmem/config). A
 * project's file shadows the user's instead of merging with it, so what
 * `agentmem config show` names is all there is to read. An
 * AGENTMEM_CONFIG that names no file is an error: falling through to
 * another file would silently run with settings the user did not choose.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "agentmem/memconfig.h"
#include "core/core.h"

static const char *sys_getenv(void *ctx, const char *name)
{
    (void)ctx;
    return getenv(name);
}

static bool is_file(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 && !S_ISDIR(sb.st_mode);
}

/* path = a + b; AM_ELIMIT when it does not fit. */
static am_status join(char *path, size_t cap, const char *a, const char *b,
                      const char *what, am_error *err)
{
    int n = snprintf(path, cap, "%s%s", a, b);
    if (n < 0 || (size_t)n >= cap)
        return am__fail(err, AM_ELIMIT, "memory config: the path from %s "
                        "is longer than %zu bytes", what, cap - 1);
    return AM_OK;
}

am_status am_memory_config_find(const am_memory_config_resolve_opts *opts,
                                char *path, size_t cap, am_error *err)
{
    am_getenv_fn ge = sys_getenv;
    void *gctx = NULL;
    const char *cwd = NULL, *v;
    am_status st;

    if (path == NULL || cap == 0)
        return am__fail(err, AM_EINVAL, "memory config: no path buffer");
    path[0] = '\0';
    if (opts != NULL && opts->getenv_fn != NULL) {
        ge = opts->getenv_fn;
        gctx = opts->getenv_ctx;
    }
    if (opts != NULL)
        cwd = opts->cwd;

    v = ge(gctx, "AGENTMEM_CONFIG");
    if (v != NULL && v[0] != '\0') {
        st = join(path, cap, v, "", "$AGENTMEM_CONFIG", err);
        if (st != AM_OK)
            return st;
        if (!is_file(path)) {
            int e = errno;
            path[0] = '\0';
            return am__fail(err, AM_ENOTFOUND, "memory config: "
                            "$AGENTMEM_CONFIG names '%s', which is not a "
                            "readable file (%s)", v,
                            e != 0 ? strerror(e) : "a directory");
        }
        return AM_OK;
    }

    if (cwd != NULL && cwd[0] != '\0') {
        char dir[4096];
        st = join(dir, sizeof dir, cwd, "/", "the working directory", err);
        if (st == AM_OK)
            st = join(path, cap, dir, ".agentmem/config",
                      "the working directory", err);
    } else {
        st = join(path, cap, ".agentmem/config", "", "the working directory",
                  err);
    }
    if (st != AM_OK)
        return st;
    if (is_file(path))
        return AM_OK;

    v = ge(gctx, "XDG_CONFIG_HOME");
    if (v != NULL && v[0] != '\0') {
        st = join(path, cap, v, "/agentmem/config", "$XDG_CONFIG_HOME", err);
    } else {
        v = ge(gctx, "HOME");
        if (v == NULL || v[0] == '\0') {
            path[0] = '\0';
            return AM_OK; /* no user directory to look in */
        }
        st = join(path, cap, v, "/.config/agentmem/config", "$HOME", err);
    }
    if (st != AM_OK)
        return st;
    if (!is_file(path))
        path[0] = '\0';
    return AM_OK;
}
