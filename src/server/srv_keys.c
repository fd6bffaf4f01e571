/* srv_keys.c -- API keys: which tenant a bearer key belongs to.
 *
 * The key file has one key per line: "KEY TENANT rw" or "KEY TENANT ro",
 * '#' starts a comment. A lookup compares the presented key with every
 * key, each over the longer of the two lengths, and never stops early, so
 * the time taken says nothing about how much of a key was right or which
 * key matched. Keys are never logged or echoed; errors name the line only.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "srv_int.h"

#define MAX_KEY_LEN 256

typedef struct key_entry {
    char key[MAX_KEY_LEN];
    size_t len;
    srv_tenant tenant;
    char name[64];
} key_entry;

struct srv_keys {
    key_entry *v;
    size_t count;
};

static bool tenant_name_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n >= 64)
        return false;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                  (ch >= '0' && ch <= '9') || ch == '_' || ch == '.' ||
                  ch == '-';
        if (!ok)
            return false;
    }
    /* The library's own first namespace parts. */
    return strcmp(s, "recall") != 0 && strcmp(s, "memtool") != 0 &&
           strcmp(s, "memmgr") != 0;
}

static am_status fail(am_error *err, am_status st, const char *what,
                      const char *path, unsigned line)
{
    if (err != NULL) {
        err->code = st;
        snprintf(err->msg, sizeof err->msg, "%s:%u: %s", path, line, what);
    }
    return st;
}

am_status srv_keys_load(const char *path, srv_keys **out, am_error *err)
{
    FILE *fp = fopen(path, "r");
    srv_keys *k = NULL;
    char line[1024];
    unsigned lineno = 0;
    am_status st = AM_OK;

    if (fp == NULL) {
        if (err != NULL) {
            err->code = AM_EIO;
            snprintf(err->msg, sizeof err->msg, "cannot open key file "
                     "'%s': %s", path, strerror(errno));
        }
        return AM_EIO;
    }
    k = calloc(1, sizeof *k);
    if (k == NULL) {
        st = AM_ENOMEM;
        goto out;
    }
    while (fgets(line, sizeof line, fp) != NULL) {
        char *key, *tenant, *rights, *extra, *save = NULL;
        key_entry *e, *grown;
        lineno++;
        if (strchr(line, '\n') == NULL && !feof(fp)) {
            st = fail(err, AM_EFORMAT, "line too long", path,
                      lineno);
            goto out;
        }
        line[strcspn(line, "#")] = '\0';
        key = strtok_r(line, " \t\r\n", &save);
        if (key == NULL)
            continue;
        tenant = strtok_r(NULL, " \t\r\n", &save);
        rights = strtok_r(NULL, " \t\r\n", &save);
        extra = strtok_r(NULL, " \t\r\n", &save);
        if (tenant == NULL || rights == NULL || extra != NULL) {
            st = fail(err, AM_EFORMAT, "expected 'KEY TENANT rw|ro'",
                      path, lineno);
            goto out;
        }
        if (strlen(key) < 16 || strlen(key) >= MAX_KEY_LEN) {
            st = fail(err, AM_EFORMAT, "a key must be 16 to 255 "
                      "characters", path, lineno);
            goto out;
        }
        if (!tenant_name_ok(tenant)) {
            st = fail(err, AM_EFORMAT, "a tenant is 1 to 63 of "
                      "[A-Za-z0-9_.-], not 'recall', 'memtool' or 'memmgr'", path,
                      lineno);
            goto out;
        }
        if (strcmp(rights, "rw") != 0 && strcmp(rights, "ro") != 0) {
            st = fail(err, AM_EFORMAT, "rights must be 'rw' or 'ro'",
                      path, lineno);
            goto out;
        }
        for (size_t i = 0; i < k->count; i++)
            if (strcmp(k->v[i].key, key) == 0) {
                st = fail(err, AM_EFORMAT, "duplicate key", path,
                          lineno);
                goto out;
            }
        grown = realloc(k->v, (k->count + 1) * sizeof *k->v);
        if (grown == NULL) {
            st = AM_ENOMEM;
            goto out;
        }
        k->v = grown;
        e = &k->v[k->count++];
        memset(e, 0, sizeof *e);
        e->len = strlen(key);
        memcpy(e->key, key, e->len);
        snprintf(e->name, sizeof e->name, "%s", tenant);
        e->tenant.can_write = rights[1] == 'w';
    }
    if (k->count == 0)
        st = fail(err, AM_EFORMAT, "the key file holds no key",
                  path, lineno);
out:
    memset(line, 0, sizeof line);   /* a key may be in it */
    fclose(fp);
    if (st == AM_OK) {
        for (size_t i = 0; i < k->count; i++)
            k->v[i].tenant.name = k->v[i].name;
        *out = k;
    } else {
        if (st == AM_ENOMEM && err != NULL) {
            err->code = st;
            snprintf(err->msg, sizeof err->msg, "out of memory");
        }
        srv_keys_free(k);
    }
    return st;
}

void srv_keys_free(srv_keys *keys)
{
    if (keys == NULL)
        return;
    if (keys->v != NULL)
        memset(keys->v, 0, keys->count * sizeof *keys->v);
    free(keys->v);
    free(keys);
}

const srv_tenant *srv_keys_find(const srv_keys *keys, const char *key,
                                size_t key_len)
{
    const srv_tenant *found = NULL;
    if (key_len == 0 || key_len >= MAX_KEY_LEN)
        return NULL;
    for (size_t i = 0; i < keys->count; i++) {
        const key_entry *e = &keys->v[i];
        /* Compare all MAX_KEY_LEN bytes: stored keys are zero-padded, and
         * bytes past the presented key compare against zero. */
        volatile unsigned char diff = (unsigned char)(e->len != key_len);
        for (size_t j = 0; j < MAX_KEY_LEN; j++) {
            unsigned char a = (unsigned char)e->key[j];
            unsigned char b = j < key_len ? (unsigned char)key[j] : 0;
            diff |= (unsigned char)(a ^ b);
        }
        /* Branch-free select keeps the loop's time independent of which
         * key matched. */
        uintptr_t mask = (uintptr_t)0 - (uintptr_t)(diff == 0);
        found = (const srv_tenant *)(((uintptr_t)&e->tenant & mask) |
                                     ((uintptr_t)found & ~mask));
    }
    return found;
}
