/* test_crypt.c -- encryption at rest (encrypt.h): the store and tiers
 * files hold no plaintext, a wrong or missing key is AM_EAUTH and never
 * changes the file, the right key reads everything back, and keys are
 * read from a key file or the environment. In a build without SQLCipher
 * (the TSan build, see the Makefile) the keyed tests are skipped and the
 * last one shows that every key is AM_EUNSUPPORTED and writes nothing. */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "agentmem/encrypt.h"
#include "agentmem/store.h"
#include "agentmem/tiers.h"
#include "harness.h"

#define NS1(a) ((am_ns){ (const am_str[]){ AM_STR(a) }, 1 })
#define KEY AM_STR("correct horse battery staple")
#define WRONG AM_STR("correct horse battery stapler")
/* What must never appear in an encrypted file. */
#define SECRET "zanzibar-secret-4711"

static void need_encryption(void)
{
    if (!am_encryption_available())
        skip();
}

/* The whole file `path` (empty when absent) into `out`. */
static void slurp(const char *path, am_buf *out)
{
    FILE *fp = fopen(path, "rb");
    char chunk[8192];
    size_t n;

    am_buf_clear(out);
    if (fp == NULL)
        return;
    while ((n = fread(chunk, 1, sizeof chunk, fp)) > 0)
        CHECK_OK(am_buf_append(out, chunk, n));
    fclose(fp);
}

static bool contains(const am_buf *b, const char *needle)
{
    size_t n = strlen(needle);
    for (size_t i = 0; i + n <= b->len; i++)
        if (memcmp(b->ptr + i, needle, n) == 0)
            return true;
    return false;
}

/* Whether `needle` occurs in the database file or its -wal / -shm. */
static bool file_holds(const char *path, const char *needle)
{
    static const char *const sfx[] = { "", "-wal", "-shm" };
    am_buf b = AM_BUF_INIT;
    char p[600];
    bool found = false;

    for (size_t i = 0; i < 3 && !found; i++) {
        snprintf(p, sizeof p, "%s%s", path, sfx[i]);
        slurp(p, &b);
        found = contains(&b, needle);
    }
    am_buf_free(&b);
    return found;
}

static am_store *store_open(const char *path, am_str key)
{
    am_store_opts o = am_store_opts_default();
    am_store *s = NULL;
    am_error err = { AM_OK, "" };

    o.key = key;
    CHECK_OK_E(am_store_open(path, &o, &s, &err), &err);
    return s;
}

/* Put SECRET in a value, a key, a namespace and the search text. */
static void store_fill(am_store *s)
{
    am_item_in it = { .ns = NS1("ns-" SECRET), .key = AM_STR("k-" SECRET),
                      .value = AM_STR("{\"note\":\"the " SECRET " file\"}") };
    for (int i = 0; i < 50; i++) {
        char key[32];
        snprintf(key, sizeof key, "filler%d", i);
        am_item_in f = { .ns = NS1("other"), .key = am_str_c(key),
                         .value = AM_STR("\"plain filler words\"") };
        CHECK_OK_E(am_store_put(s, &f), am_store_last_error(s));
    }
    CHECK_OK_E(am_store_put(s, &it), am_store_last_error(s));
}

/* Everything store_fill wrote reads back, by key and by search. */
static void store_check(am_store *s)
{
    am_buf v = AM_BUF_INIT;
    am_search q = { .query = AM_STR(SECRET), .mode = AM_SEARCH_TEXT,
                    .limit = 5 };
    am_results *r = NULL;

    CHECK_OK_E(am_store_get(s, NS1("ns-" SECRET), AM_STR("k-" SECRET), &v),
               am_store_last_error(s));
    CHECK(strstr(v.ptr, SECRET) != NULL);
    CHECK_OK_E(am_store_get(s, NS1("other"), AM_STR("filler49"), &v),
               am_store_last_error(s));
    CHECK_OK_E(am_store_search(s, &q, &r), am_store_last_error(s));
    CHECK_EQ(r->count, 1);
    CHECK_MEM_EQ(r->items[0].key.ptr, r->items[0].key.len, "k-" SECRET);
    am_results_free(r);
    am_buf_free(&v);
}

/* A store file at `path`, opened with `key`, filled by store_fill and
 * closed; its bytes then go into `bytes` (when not NULL). */
static void store_make(const char *path, am_str key, am_buf *bytes)
{
    am_store *s = store_open(path, key);

    store_fill(s);
    am_store_close(s);
    if (bytes != NULL)
        slurp(path, bytes);
}

/* The file at `path` holds exactly `before`, and opened with `key` it
 * still reads everything store_fill wrote. */
static void store_unchanged(const char *path, const am_buf *before,
                            am_str key)
{
    am_buf after = AM_BUF_INIT;
    am_store *s;

    slurp(path, &after);
    CHECK(after.len == before->len &&
          memcmp(after.ptr, before->ptr, before->len) == 0);
    s = store_open(path, key);
    store_check(s);
    am_store_close(s);
    am_buf_free(&after);
}

/* ---- Store ---- */

AM_TEST(encrypted_store_file_holds_no_plaintext_and_reads_back)
{
    char *dir, enc[512], plain[512];
    am_store *s;

    need_encryption();
    dir = test_tmpdir();
    snprintf(enc, sizeof enc, "%s/enc.db", dir);
    snprintf(plain, sizeof plain, "%s/plain.db", dir);
    /* The same data without a key: the search below does find it there,
     * so its absence from the encrypted file means something. */
    s = store_open(plain, (am_str){ NULL, 0 });
    store_fill(s);
    CHECK(file_holds(plain, SECRET));
    am_store_close(s);

    s = store_open(enc, KEY);
    store_fill(s);
    /* Open, with the WAL holding the latest pages, and after close. */
    CHECK(!file_holds(enc, SECRET));
    CHECK(!file_holds(enc, "SQLite format 3"));
    am_store_close(s);
    CHECK(!file_holds(enc, SECRET));

    s = store_open(enc, KEY);
    store_check(s);
    am_store_close(s);
    test_rmtree(dir);
    free(dir);
}

AM_TEST(wrong_or_missing_key_is_eauth_and_the_file_is_unchanged)
{
    char *dir, path[512];
    am_store_opts o = am_store_opts_default();
    am_buf before = AM_BUF_INIT;
    am_store *s = NULL;
    am_error err = { AM_OK, "" };

    need_encryption();
    dir = test_tmpdir();
    snprintf(path, sizeof path, "%s/enc.db", dir);
    store_make(path, KEY, &before);
    CHECK(before.len > 0);

    o.key = WRONG;
    CHECK_ST(am_store_open(path, &o, &s, &err), AM_EAUTH);
    CHECK(s == NULL);
    CHECK(strstr(err.msg, path) != NULL);
    CHECK(strstr(err.msg, "wrong key") != NULL);
    o.read_only = true;
    CHECK_ST(am_store_open(path, &o, &s, &err), AM_EAUTH);
    o.key = (am_str){ NULL, 0 };
    o.read_only = false;
    CHECK_ST(am_store_open(path, &o, &s, &err), AM_EAUTH);
    CHECK(strstr(err.msg, path) != NULL);
    CHECK(strstr(err.msg, "looks encrypted") != NULL);
    /* The right key still reads everything. */
    store_unchanged(path, &before, KEY);
    am_buf_free(&before);
    test_rmtree(dir);
    free(dir);
}

AM_TEST(a_key_for_a_plaintext_file_is_refused_without_touching_it)
{
    char *dir, path[512];
    am_store_opts o = am_store_opts_default();
    am_buf before = AM_BUF_INIT;
    am_store *s = NULL;
    am_error err = { AM_OK, "" };

    need_encryption();
    dir = test_tmpdir();
    snprintf(path, sizeof path, "%s/plain.db", dir);
    store_make(path, (am_str){ NULL, 0 }, &before);
    o.key = KEY;
    CHECK_ST(am_store_open(path, &o, &s, &err), AM_EAUTH);
    CHECK(strstr(err.msg, path) != NULL);
    CHECK(strstr(err.msg, "plaintext") != NULL);
    store_unchanged(path, &before, (am_str){ NULL, 0 });
    am_buf_free(&before);
    test_rmtree(dir);
    free(dir);
}

AM_TEST(bad_keys_and_postgres_keys_are_refused_before_any_file_exists)
{
    char *dir, path[512], big[AM_KEY_MAX + 1];
    am_store_opts o = am_store_opts_default();
    am_store *s = NULL;
    am_error err = { AM_OK, "" };
    struct stat st;

    need_encryption();
    dir = test_tmpdir();
    snprintf(path, sizeof path, "%s/x.db", dir);
    o.key = (am_str){ NULL, 3 };
    CHECK_ST(am_store_open(path, &o, &s, &err), AM_EINVAL);
    CHECK(strstr(err.msg, "NULL") != NULL);
    memset(big, 'k', sizeof big);
    o.key = (am_str){ big, sizeof big };
    CHECK_ST(am_store_open(path, &o, &s, &err), AM_EINVAL);
    CHECK(strstr(err.msg, "AM_KEY_MAX") != NULL);
    CHECK(stat(path, &st) != 0);
    o.key = KEY;
    CHECK_ST(am_store_open("postgresql://nobody@127.0.0.1:1/none", &o, &s,
                           &err), AM_EUNSUPPORTED);
    CHECK(strstr(err.msg, "PostgreSQL") != NULL);
    /* The longest key is fine, and x'<hex>' is a raw key. */
    o.key = (am_str){ big, AM_KEY_MAX };
    CHECK_OK_E(am_store_open(path, &o, &s, &err), &err);
    am_store_close(s);
    snprintf(path, sizeof path, "%s/raw.db", dir);
    store_make(path, AM_STR("x'000102030405060708090a0b0c0d0e0f"
                            "101112131415161718191a1b1c1d1e1f'"), NULL);
    CHECK(!file_holds(path, SECRET));
    test_rmtree(dir);
    free(dir);
}

/* ---- Tiers ---- */

static am_tiers *tiers_open(const char *path, am_str key, am_status want)
{
    am_tiers_opts o = am_tiers_opts_default();
    am_tiers *t = NULL;
    am_error err = { AM_OK, "" };

    o.db_path = path;
    o.key = key;
    o.flush_interval_ms = 0;
    CHECK_ST(am_tiers_open(&o, &t, &err), want);
    if (want != AM_OK) {
        CHECK(t == NULL);
        CHECK(strstr(err.msg, path) != NULL);
    }
    return t;
}

AM_TEST(encrypted_tiers_file_holds_no_plaintext_and_needs_its_key)
{
    char *dir, path[512];
    am_tier_item_in in = am_tier_item_in_default();
    am_tiers_opts o = am_tiers_opts_default();
    am_buf content = AM_BUF_INIT;
    am_tiers *t;
    am_error err = { AM_OK, "" };

    need_encryption();
    dir = test_tmpdir();
    snprintf(path, sizeof path, "%s/tiers.db", dir);
    t = tiers_open(path, KEY, AM_OK);
    in.content = AM_STR("the " SECRET " note, kept in the working tier");
    CHECK_OK_E(am_tiers_store(t, AM_STR("id-" SECRET), &in),
               am_tiers_last_error(t));
    in.content = AM_STR("archived " SECRET);
    CHECK_OK_E(am_tiers_store(t, AM_STR("second"), &in),
               am_tiers_last_error(t));
    CHECK_OK_E(am_tiers_archive(t, AM_STR("second")), am_tiers_last_error(t));
    CHECK_OK_E(am_tiers_close(t, &err), &err);
    CHECK(!file_holds(path, SECRET));

    tiers_open(path, WRONG, AM_EAUTH);
    tiers_open(path, (am_str){ NULL, 0 }, AM_EAUTH);
    t = tiers_open(path, KEY, AM_OK);
    CHECK_EQ(am_tiers_count(t), 2);
    CHECK_OK_E(am_tiers_peek(t, AM_STR("id-" SECRET), &content, NULL),
               am_tiers_last_error(t));
    CHECK(strstr(content.ptr, SECRET) != NULL);
    CHECK_OK_E(am_tiers_peek(t, AM_STR("second"), &content, NULL),
               am_tiers_last_error(t));
    CHECK_MEM_EQ(content.ptr, content.len, "archived " SECRET);
    CHECK_OK_E(am_tiers_close(t, &err), &err);

    /* A key with nothing at rest to encrypt is a mistake, not a no-op. */
    o.key = KEY;
    CHECK_ST(am_tiers_open(&o, &t, &err), AM_EINVAL);
    CHECK(strstr(err.msg, "db_path") != NULL);
    am_buf_free(&content);
    test_rmtree(dir);
    free(dir);
}

/* ---- Keys from files and the environment ---- */

static void write_file(const char *path, const char *text, size_t len)
{
    FILE *fp = fopen(path, "wb");
    CHECK(fp != NULL);
    CHECK_EQ(fwrite(text, 1, len, fp), len);
    fclose(fp);
}

AM_TEST(key_load_reads_a_file_or_the_environment)
{
    char *dir = test_tmpdir(), path[512], big[AM_KEY_MAX + 3];
    am_buf key = AM_BUF_INIT;
    am_error err = { AM_OK, "" };

    unsetenv("AGENTMEM_KEY");
    unsetenv("AGENTMEM_KEY_FILE");
    CHECK_ST(am_key_load(NULL, &key, &err), AM_ENOTFOUND);
    CHECK_ST(am_key_load(NULL, NULL, &err), AM_EINVAL);

    snprintf(path, sizeof path, "%s/key", dir);
    write_file(path, "s3cret\r\n", 8); /* one line end is not the key */
    CHECK_OK_E(am_key_load(path, &key, &err), &err);
    CHECK_MEM_EQ(key.ptr, key.len, "s3cret");
    write_file(path, "two\n\n", 5); /* only one is dropped */
    CHECK_OK_E(am_key_load(path, &key, &err), &err);
    CHECK_MEM_EQ(key.ptr, key.len, "two\n");
    write_file(path, "\n", 1);
    CHECK_ST(am_key_load(path, &key, &err), AM_EFORMAT);
    CHECK(strstr(err.msg, "empty") != NULL && strstr(err.msg, path) != NULL);
    CHECK(key.len == 0);
    memset(big, 'k', sizeof big);
    write_file(path, big, sizeof big);
    CHECK_ST(am_key_load(path, &key, &err), AM_ELIMIT);
    write_file(path, big, AM_KEY_MAX + 1);
    CHECK_ST(am_key_load(path, &key, &err), AM_ELIMIT);
    write_file(path, big, AM_KEY_MAX);
    CHECK_OK_E(am_key_load(path, &key, &err), &err);
    CHECK_EQ(key.len, AM_KEY_MAX);
    CHECK_ST(am_key_load("/nonexistent/key", &key, &err), AM_EIO);
    CHECK(strstr(err.msg, "/nonexistent/key") != NULL);

    write_file(path, "from-file\n", 10);
    setenv("AGENTMEM_KEY_FILE", path, 1);
    CHECK_OK_E(am_key_load(NULL, &key, &err), &err);
    CHECK_MEM_EQ(key.ptr, key.len, "from-file");
    setenv("AGENTMEM_KEY", "from-env", 1);
    CHECK_ST(am_key_load(NULL, &key, &err), AM_EINVAL);
    CHECK(strstr(err.msg, "both") != NULL);
    unsetenv("AGENTMEM_KEY_FILE");
    CHECK_OK_E(am_key_load(NULL, &key, &err), &err);
    CHECK_MEM_EQ(key.ptr, key.len, "from-env");
    /* An explicit file wins over the environment. */
    CHECK_OK_E(am_key_load(path, &key, &err), &err);
    CHECK_MEM_EQ(key.ptr, key.len, "from-file");
    unsetenv("AGENTMEM_KEY");

    am_key_wipe(&key);
    CHECK(key.ptr == NULL && key.len == 0);
    am_key_wipe(NULL);
    test_rmtree(dir);
    free(dir);
}

/* ---- A build without encryption ---- */

AM_TEST(without_encryption_every_key_is_unsupported_and_writes_nothing)
{
    char *dir, path[512];
    am_store_opts so = am_store_opts_default();
    am_tiers_opts to = am_tiers_opts_default();
    am_store *s = NULL;
    am_tiers *t = NULL;
    am_error err = { AM_OK, "" };
    struct stat st;

    if (am_encryption_available())
        skip();
    dir = test_tmpdir();
    snprintf(path, sizeof path, "%s/x.db", dir);
    so.key = KEY;
    CHECK_ST(am_store_open(path, &so, &s, &err), AM_EUNSUPPORTED);
    CHECK(strstr(err.msg, "no encryption") != NULL);
    CHECK(strstr(err.msg, path) != NULL);
    to.db_path = path;
    to.key = KEY;
    CHECK_ST(am_tiers_open(&to, &t, &err), AM_EUNSUPPORTED);
    CHECK(strstr(err.msg, "no encryption") != NULL);
    CHECK(s == NULL && t == NULL);
    CHECK(stat(path, &st) != 0); /* never a plaintext file instead */
    test_rmtree(dir);
    free(dir);
}

/* encrypt.h: am_key_wipe overwrites "the whole of key's memory" (all of
 * its capacity, not only the key's length) before freeing it, and a
 * failed am_key_load leaves `out` empty, whatever it held. The allocator
 * below checks, at each free, that every byte of the block is zero. */
typedef struct zero_check {
    int frees;
    int dirty;
} zero_check;

static void *zc_alloc(void *ctx, size_t size)
{
    (void)ctx;
    return malloc(size);
}

static void *zc_realloc(void *ctx, void *p, size_t old, size_t size)
{
    (void)ctx;
    (void)old;
    return realloc(p, size);
}

static void zc_free(void *ctx, void *p, size_t size)
{
    zero_check *z = ctx;
    const unsigned char *b = p;
    z->frees++;
    for (size_t i = 0; i < size; i++)
        if (b[i] != 0) {
            z->dirty++;
            break;
        }
    free(p);
}

AM_TEST(key_wipe_zeroes_all_its_memory_and_failed_loads_leave_out_empty)
{
    char *dir = test_tmpdir(), path[512], big[AM_KEY_MAX + 2];
    zero_check z = { 0, 0 };
    am_allocator a = { zc_alloc, zc_realloc, zc_free, &z };
    am_buf key = AM_BUF_INIT;
    am_error err = { AM_OK, "" };

    key.alloc = &a;
    unsetenv("AGENTMEM_KEY");
    unsetenv("AGENTMEM_KEY_FILE");
    snprintf(path, sizeof path, "%s/key", dir);
    write_file(path, "s3cret\n", 7);
    /* Spare capacity past the key holds bytes too: all must go. */
    CHECK_OK(am_buf_append(&key, "0123456789abcdef0123456789abcdef", 32));
    am_buf_clear(&key);
    CHECK_OK(am_buf_append(&key, "k", 1));
    am_key_wipe(&key);
    CHECK_EQ(z.frees, 1);
    CHECK_EQ(z.dirty, 0);
    CHECK(key.ptr == NULL && key.len == 0 && key.cap == 0);

    /* Each failure after a loaded key: `out` empty, the old key wiped. */
    CHECK_OK_E(am_key_load(path, &key, &err), &err);
    CHECK_ST(am_key_load("/nonexistent/key", &key, &err), AM_EIO);
    CHECK(key.len == 0);
    CHECK_OK_E(am_key_load(path, &key, &err), &err);
    CHECK_ST(am_key_load(NULL, &key, &err), AM_ENOTFOUND);
    CHECK(key.len == 0);
    memset(big, 'k', sizeof big - 1);
    big[sizeof big - 1] = '\0'; /* AM_KEY_MAX + 1 bytes */
    setenv("AGENTMEM_KEY", big, 1);
    CHECK_OK_E(am_key_load(path, &key, &err), &err);
    CHECK_ST(am_key_load(NULL, &key, &err), AM_ELIMIT);
    CHECK(strstr(err.msg, "AGENTMEM_KEY") != NULL);
    CHECK(key.len == 0);
    setenv("AGENTMEM_KEY_FILE", path, 1);
    CHECK_OK_E(am_key_load(path, &key, &err), &err);
    CHECK_ST(am_key_load(NULL, &key, &err), AM_EINVAL);
    CHECK(key.len == 0);
    unsetenv("AGENTMEM_KEY_FILE");
    unsetenv("AGENTMEM_KEY");
    am_key_wipe(&key);
    CHECK(z.frees >= 5);
    CHECK_EQ(z.dirty, 0);
    test_rmtree(dir);
    free(dir);
}
