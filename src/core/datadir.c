/* datadir.c -- the one search order for data files (see data.h).
 *
 * "Next to the library" is resolved with dladdr(3) on a function of this
 * file: in the shared library that names libagentmem.so, in a program that
 * linked the static library it names the program. From that directory the
 * data directory is reached by the relative path the build computed from
 * the install layout (libdir -> datadir, bindir -> datadir), so an install
 * moved as a whole, or unpacked somewhere else, still finds its data.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agentmem/data.h"
#include "core.h"

#ifndef AM_DATADIR
#define AM_DATADIR "/usr/local/share/agentmem"
#endif
#ifndef AM_DATADIR_FROM_LIBDIR
#define AM_DATADIR_FROM_LIBDIR "../share/agentmem"
#endif
#ifndef AM_DATADIR_FROM_BINDIR
#define AM_DATADIR_FROM_BINDIR "../share/agentmem"
#endif

/* Any object of this file: dladdr tells which loaded file it lives in. */
static const char anchor = 0;

/* The directory holding the object this code runs from, or "" when it
 * cannot be told. */
static void own_dir(char *out, size_t cap)
{
    Dl_info info;
    char path[PATH_MAX];
    char *slash;

    out[0] = '\0';
    memset(&info, 0, sizeof info);
    /* dladdr names the main program by argv[0], which may be relative or
     * a bare name found on PATH: realpath settles the first, and
     * /proc/self/exe the second. */
    if (dladdr(&anchor, &info) != 0 &&
        info.dli_fname != NULL && strchr(info.dli_fname, '/') != NULL &&
        realpath(info.dli_fname, path) != NULL) {
        /* resolved */
    } else {
        ssize_t n = readlink("/proc/self/exe", path, sizeof path - 1);
        if (n <= 0)
            return;
        path[n] = '\0';
    }
    slash = strrchr(path, '/');
    if (slash == NULL || (size_t)(slash - path) + 1 > cap)
        return;
    memcpy(out, path, (size_t)(slash - path));
    out[slash - path] = '\0';
}

/* Try dir/name (dir/rel/name when rel is set); on a hit copy it to out. */
static int try_dir(const char *dir, const char *rel, const char *name,
                   char *out, size_t cap, char *tried, size_t tcap,
                   const char *what)
{
    char path[PATH_MAX + 64];
    size_t tl = strlen(tried);
    int n;

    if (dir == NULL || dir[0] == '\0')
        return 0;
    n = rel != NULL ? snprintf(path, sizeof path, "%s/%s/%s", dir, rel, name)
                    : snprintf(path, sizeof path, "%s/%s", dir, name);
    if (n < 0 || (size_t)n >= sizeof path)
        return 0;
    if (access(path, R_OK) == 0) {
        char real[PATH_MAX];
        /* "bin/../share/agentmem/x" reads better as the place it is. */
        size_t rl;
        if (realpath(path, real) != NULL &&
            (rl = strlen(real)) < sizeof path) {
            memcpy(path, real, rl + 1);
            n = (int)rl;
        }
        if ((size_t)n + 1 > cap)
            return -1;
        memcpy(out, path, (size_t)n + 1);
        return 1;
    }
    if (tl + 1 < tcap)
        snprintf(tried + tl, tcap - tl, "%s%.*s (%s)", tl ? ", " : "",
                 (int)(strlen(path) - strlen(name) - 1), path, what);
    return 0;
}

am_status am_data_find(const char *dir, const char *name, char *out,
                       size_t cap, am_error *err)
{
    char self[PATH_MAX];
    char tried[1024] = "";
    struct {
        const char *dir, *rel, *what;
    } order[7];
    int r;

    if (name == NULL || out == NULL || cap == 0)
        return am__fail(err, AM_EINVAL, "data file: NULL argument");
    if (name[0] == '\0' || strchr(name, '/') != NULL)
        return am__fail(err, AM_EINVAL,
                        "data file name '%s' must be a plain file name", name);
    own_dir(self, sizeof self);
    order[0].dir = dir, order[0].rel = NULL, order[0].what = "given";
    order[1].dir = self, order[1].rel = AM_DATADIR_FROM_LIBDIR;
    order[1].what = "next to the library";
    order[2].dir = self, order[2].rel = AM_DATADIR_FROM_BINDIR;
    order[2].what = "next to the program";
    order[3].dir = getenv("AGENTMEM_DATA_DIR"), order[3].rel = NULL;
    order[3].what = "AGENTMEM_DATA_DIR";
    order[4].dir = AM_DATADIR, order[4].rel = NULL;
    order[4].what = "install prefix";
#ifdef AM_BUILD_DATADIR
    order[5].dir = AM_BUILD_DATADIR, order[5].rel = NULL;
#else
    order[5].dir = NULL, order[5].rel = NULL;
#endif
    order[5].what = "build tree";
#ifdef AM_SOURCE_DATADIR
    order[6].dir = AM_SOURCE_DATADIR, order[6].rel = NULL;
#else
    order[6].dir = NULL, order[6].rel = NULL;
#endif
    order[6].what = "source tree";
    /* AGENTMEM_DATA_ONLY: the places the caller named, nothing found by
     * the library itself (data.h). */
    const char *only = getenv("AGENTMEM_DATA_ONLY");
    bool named_only = only != NULL && only[0] != '\0';
    for (size_t i = 0; i < sizeof order / sizeof order[0]; i++) {
        /* libdir and bindir usually sit side by side: one place, not two. */
        if (i == 2 && strcmp(AM_DATADIR_FROM_LIBDIR,
                             AM_DATADIR_FROM_BINDIR) == 0)
            continue;
        if (named_only && i != 0 && i != 3)
            continue;
        r = try_dir(order[i].dir, order[i].rel, name, out, cap, tried,
                    sizeof tried, order[i].what);
        if (r > 0)
            return AM_OK;
        if (r < 0)
            return am__fail(err, AM_ELIMIT,
                            "path of data file %s does not fit in %zu bytes",
                            name, cap);
    }
    return am__fail(err, AM_ENOTFOUND,
                    "data file %s not found (tried %s; run scripts/setup, or "
                    "set AGENTMEM_DATA_DIR to the directory holding it)",
                    name, tried[0] ? tried : "nothing");
}
