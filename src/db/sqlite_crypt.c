/* sqlite_crypt.c -- encryption at rest: keys for the SQLite layer.
 *
 * With SQLCipher compiled in (AM_HAVE_SQLCIPHER, see CMakeLists.txt), a
 * key given to am__sqldb_open is handed to sqlite3_key_v2 right after the
 * connection opens and before any page is read; SQLCipher then encrypts
 * every page it writes, the WAL's included. SQLCipher itself cannot tell
 * a wrong key from a file that is not a database (both are SQLITE_NOTADB
 * on the first read), and it would happily treat a plaintext database as
 * an encrypted one that the key does not open. So the file's first bytes
 * are read before SQLite touches it: "SQLite format 3\0" is a plaintext
 * database, which a key is refused for (AM_EAUTH) rather than attempted;
 * anything else is keyed and then proved by reading the schema. Every
 * check is a read, so a refused open never changes the file.
 *
 * The public part (encrypt.h) reads keys from where the front doors keep
 * them: a key file or the environment. The library's open calls never do.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agentmem/encrypt.h"
#include "db/sqlite_db.h"

/* SQLite's file header (https://sqlite.org/fileformat.html, 1.3.1). */
static const char sqlite_magic[16] = "SQLite format 3";

/* Where to look when a key is missing or wrong, for the messages. */
#define KEY_HINT "the key option; for the CLI --key-file, $AGENTMEM_KEY_FILE " \
                 "or $AGENTMEM_KEY"

bool am_encryption_available(void)
{
#ifdef AM_HAVE_SQLCIPHER
    return true;
#else
    return false;
#endif
}

/* ---- Before SQLite opens the file ---- */

am__sqldb_kind am__sqldb_kind_of(const char *path, int64_t *size)
{
    char head[16];
    struct stat stt;
    ssize_t n;
    int fd;

    *size = 0;
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return AM__SQLDB_NEW; /* absent, or SQLite reports why */
    if (fstat(fd, &stt) != 0 || !S_ISREG(stt.st_mode)) {
        close(fd);
        return AM__SQLDB_NEW;
    }
    *size = stt.st_size;
    n = read(fd, head, sizeof head);
    close(fd);
    if (n <= 0)
        return AM__SQLDB_NEW;
    if (n == (ssize_t)sizeof head &&
        memcmp(head, sqlite_magic, sizeof head) == 0)
        return AM__SQLDB_PLAIN;
    return AM__SQLDB_OPAQUE;
}

am_status am__sqldb_key_check(const char *path, am_str key, am_error *err)
{
    if (key.ptr == NULL)
        return am__fail(err, AM_EINVAL, "key: NULL pointer with length %zu",
                        key.len);
#ifndef AM_HAVE_SQLCIPHER
    (void)path;
    return am__fail(err, AM_EUNSUPPORTED, "a key was given, but this build "
                    "of agentmem has no encryption at rest (built without "
                    "SQLCipher: run scripts/setup, then configure with "
                    "-DAGENTMEM_ENCRYPTION=ON); nothing was written");
#else
    int64_t size;

    if (key.len > AM_KEY_MAX)
        return am__fail(err, AM_EINVAL, "key: %zu bytes, more than "
                        "AM_KEY_MAX (%d)", key.len, AM_KEY_MAX);
    if (am__sqldb_kind_of(path, &size) == AM__SQLDB_PLAIN)
        return am__fail(err, AM_EAUTH, "a key was given, but the file is a "
                        "plaintext (unencrypted) database; open it without "
                        "a key (encrypting an existing file is not "
                        "supported: export it and import into a new "
                        "encrypted store)");
    return AM_OK;
#endif
}

/* ---- After it opened ---- */

/* Read the schema: the first read of page 1, which fails with
 * SQLITE_NOTADB when the key (or its absence) does not fit the file. */
static int probe(am__sqldb *d)
{
    return sqlite3_exec(d->conn, "SELECT count(*) FROM sqlite_schema", NULL,
                        NULL, NULL);
}

am_status am__sqldb_key_apply(am__sqldb *d, am_str key, am_error *err)
{
#ifndef AM_HAVE_SQLCIPHER
    (void)key;
    return am__sqldb_fail_sql(d, err, SQLITE_MISUSE, "key", NULL);
#else
    int rc = sqlite3_key_v2(d->conn, "main", key.ptr, (int)key.len);

    if (rc != SQLITE_OK)
        return am__sqldb_fail_sql(d, err, rc, "key", NULL);
    rc = probe(d);
    if ((rc & 0xff) == SQLITE_NOTADB)
        return am__fail(err, AM_EAUTH, "wrong key: it does not decrypt the "
                        "file (or the file is not a database); the file "
                        "was not changed");
    if (rc != SQLITE_OK)
        return am__sqldb_fail_sql(d, err, rc, "reading with the key", NULL);
    return AM_OK;
#endif
}

am_status am__sqldb_keyless_fail(const char *path, am_status st,
                                 am_error *err)
{
    int64_t size;

    /* An encrypted file is whole pages (512 to 65536 bytes) of what looks
     * like noise; a short or odd-sized file is more likely something else
     * altogether, and keeps SQLite's own AM_EIO "not a database". */
    if (am__sqldb_kind_of(path, &size) != AM__SQLDB_OPAQUE || size < 512 ||
        size % 512 != 0)
        return st;
    return am__fail(err, AM_EAUTH, "no key was given, and the file is not "
                    "a plaintext database: it looks encrypted (give its "
                    "key: " KEY_HINT ") or it is not a database; the file "
                    "was not changed");
}

am_status am__sqldb_keyless_probe(am__sqldb *d, const char *path,
                                  am_error *err)
{
    int64_t size;
    int rc;

    if (am__sqldb_kind_of(path, &size) != AM__SQLDB_OPAQUE)
        return AM_OK;
    rc = probe(d);
    if (rc == SQLITE_OK)
        return AM_OK;
    return am__sqldb_keyless_fail(path, am__sqldb_fail_sql(d, err, rc,
                                                           "open", NULL),
                                  err);
}

/* ---- Keys from the caller's surroundings ---- */

/* The key file `path` into `out`, without one trailing newline. */
static am_status read_key_file(const char *path, const char *from,
                               am_buf *out, am_error *err)
{
    am_error e = { AM_OK, "" };
    am_status st = am__read_file_max(path, AM_KEY_MAX + 2, out, &e);

    if (st == AM_ELIMIT)
        return am__fail(err, AM_ELIMIT, "key file '%s'%s: longer than "
                        "AM_KEY_MAX (%d bytes)", path, from, AM_KEY_MAX);
    if (st == AM_ENOTFOUND || st == AM_EIO)
        return am__fail(err, AM_EIO, "key file '%s'%s: %s", path, from,
                        e.msg);
    if (st != AM_OK)
        return am__fail(err, st, "key file '%s'%s: %s", path, from, e.msg);
    if (out->len > 0 && out->ptr[out->len - 1] == '\n') {
        out->len--;
        if (out->len > 0 && out->ptr[out->len - 1] == '\r')
            out->len--;
        out->ptr[out->len] = '\0';
    }
    if (out->len == 0)
        return am__fail(err, AM_EFORMAT, "key file '%s'%s is empty", path,
                        from);
    if (out->len > AM_KEY_MAX)
        return am__fail(err, AM_ELIMIT, "key file '%s'%s: longer than "
                        "AM_KEY_MAX (%d bytes)", path, from, AM_KEY_MAX);
    return AM_OK;
}

am_status am_key_load(const char *key_file, am_buf *out, am_error *err)
{
    const char *file_var, *key_var;
    am_status st;
    size_t len;

    if (out == NULL)
        return am__fail(err, AM_EINVAL, "key: NULL out");
    am_key_wipe(out);
    if (key_file != NULL) {
        st = read_key_file(key_file, "", out, err);
        goto out;
    }
    file_var = getenv("AGENTMEM_KEY_FILE");
    key_var = getenv("AGENTMEM_KEY");
    if (file_var != NULL && file_var[0] == '\0')
        file_var = NULL;
    if (key_var != NULL && key_var[0] == '\0')
        key_var = NULL;
    if (file_var != NULL && key_var != NULL)
        return am__fail(err, AM_EINVAL, "key: both AGENTMEM_KEY_FILE and "
                        "AGENTMEM_KEY are set; set only one");
    if (file_var != NULL) {
        st = read_key_file(file_var, " (from $AGENTMEM_KEY_FILE)", out,
                           err);
        goto out;
    }
    if (key_var == NULL)
        return am__fail(err, AM_ENOTFOUND, "no key: neither a key file nor "
                        "AGENTMEM_KEY_FILE or AGENTMEM_KEY is given");
    len = strlen(key_var);
    if (len > AM_KEY_MAX)
        return am__fail(err, AM_ELIMIT, "key: $AGENTMEM_KEY is %zu bytes, "
                        "more than AM_KEY_MAX (%d)", len, AM_KEY_MAX);
    st = am_buf_append(out, key_var, len);
    if (st != AM_OK)
        st = am__fail(err, st, "key: out of memory");
out:
    if (st != AM_OK)
        am_key_wipe(out);
    return st;
}

void am_key_wipe(am_buf *key)
{
    if (key == NULL)
        return;
    if (key->ptr != NULL) {
        /* volatile: the stores must not be dropped as dead before free. */
        volatile char *p = key->ptr;
        for (size_t i = 0; i < key->cap; i++)
            p[i] = 0;
    }
    am_buf_free(key);
}
