/* test_tokens_files.c -- loading rank files: missing and corrupt files are
 * clear errors, the data directory search path, and the binary cache
 * (written, used, rebuilt when damaged, its tables mapped). */
#include <unistd.h>

#include "tokens_fixture.h"

/* ---- Loading and its errors ---- */

AM_TEST(missing_and_corrupt_rank_files_are_clear_errors)
{
    char *dir = test_tmpdir();
    am_encoding_opts o = am_encoding_opts_default();
    am_encoding *enc = NULL;
    am_error err = { AM_OK, "" };
    char *p;

    CHECK_ST(am_encoding_create("nope_base", NULL, &enc, &err), AM_ENOTFOUND);
    CHECK(strstr(err.msg, "nope_base") != NULL);

    o.rank_file = "/nonexistent/cl100k_base.tiktoken";
    CHECK_ST(am_encoding_create("cl100k_base", &o, &enc, &err), AM_ENOTFOUND);
    CHECK(strstr(err.msg, "/nonexistent/cl100k_base.tiktoken") != NULL);

    p = write_tmp(dir, "bad1.tiktoken", "IQ== 0\nIg== 1\n!!!! 2\n");
    o.rank_file = p;
    CHECK_ST(am_encoding_create("r50k_base", &o, &enc, &err), AM_EFORMAT);
    CHECK(strstr(err.msg, "bad1.tiktoken:3") != NULL);
    free(p);

    p = write_tmp(dir, "bad2.tiktoken", "IQ== 0\nIg== x1\n");
    o.rank_file = p;
    CHECK_ST(am_encoding_create("r50k_base", &o, &enc, &err), AM_EFORMAT);
    CHECK(strstr(err.msg, "bad2.tiktoken:2") != NULL);
    free(p);

    p = write_tmp(dir, "bad3.tiktoken", "IQ== 0\nIQ== 1\n");
    o.rank_file = p;
    CHECK_ST(am_encoding_create("r50k_base", &o, &enc, &err), AM_EFORMAT);
    CHECK(strstr(err.msg, "twice") != NULL);
    free(p);

    p = write_tmp(dir, "bad4.tiktoken", "IQ== 0\n");
    o.rank_file = p;
    CHECK_ST(am_encoding_create("r50k_base", &o, &enc, &err), AM_EFORMAT);
    CHECK(strstr(err.msg, "no token for byte") != NULL);
    free(p);

    /* Ranks are dense: a deleted line is a gap, named. */
    p = write_tmp(dir, "gap.tiktoken", "IQ== 0\nIg== 2\nIw== 3\n");
    o.rank_file = p;
    CHECK_ST(am_encoding_create("r50k_base", &o, &enc, &err), AM_EFORMAT);
    CHECK(strstr(err.msg, "rank 1 is missing") != NULL);
    free(p);
    /* One huge rank is refused before anything is sized by it. */
    p = write_tmp(dir, "huge.tiktoken", "IQ== 2147483647\n");
    o.rank_file = p;
    CHECK_ST(am_encoding_create("r50k_base", &o, &enc, &err), AM_EFORMAT);
    CHECK(strstr(err.msg, "rank 0 is missing") != NULL);
    free(p);
    /* A file that never ends fails fast instead of hanging. */
    if (access("/dev/zero", R_OK) == 0) {
        o.rank_file = "/dev/zero";
        o.flags = AM_ENCODING_NO_CACHE;
        CHECK_ST(am_encoding_create("r50k_base", &o, &enc, &err), AM_ELIMIT);
        CHECK(strstr(err.msg, "larger than") != NULL);
        o.flags = 0;
    }

    o.rank_file = NULL;
    o.data_dir = dir; /* empty dir: falls through to the rest of the path */
    CHECK_OK(am_encoding_create("r50k_base", &o, &enc, &err));
    am_encoding_free(enc);
    CHECK(enc != NULL);
    test_rmtree(dir);
    free(dir);
}

AM_TEST(data_dir_env_is_on_the_search_path)
{
    char *dir = test_tmpdir();
    am_encoding *enc = NULL;
    am_error err = { AM_OK, "" };
    char *p = write_tmp(dir, "p50k_base.tiktoken", "IQ== 0\n");
    const char *old = getenv("AGENTMEM_DATA_DIR");
    char *saved = old != NULL ? strdup(old) : NULL;

    /* The env dir wins over the install and source dirs, so its (broken)
     * file is the one read. */
    setenv("AGENTMEM_DATA_DIR", dir, 1);
    CHECK_ST(am_encoding_create("p50k_base", NULL, &enc, &err), AM_EFORMAT);
    CHECK(strstr(err.msg, p) != NULL);
    if (saved != NULL)
        setenv("AGENTMEM_DATA_DIR", saved, 1);
    else
        unsetenv("AGENTMEM_DATA_DIR");
    free(saved);
    free(p);
    test_rmtree(dir);
    free(dir);
}

static void copy_file(const char *from, const char *to)
{
    am_buf b = AM_BUF_INIT;
    CHECK_OK(am__read_file(from, &b, NULL));
    CHECK_OK(am__write_file_atomic(NULL, to, b.ptr, b.len, NULL));
    am_buf_free(&b);
}

static long file_size(const char *path)
{
    FILE *fp = fopen(path, "rb");
    long n;
    if (fp == NULL)
        return -1;
    fseek(fp, 0, SEEK_END);
    n = ftell(fp);
    fclose(fp);
    return n;
}

static void check_counts(const char *rank, unsigned flags)
{
    am_encoding_opts o = am_encoding_opts_default();
    am_encoding *enc = NULL;
    am_error err = { AM_OK, "" };
    o.rank_file = rank;
    o.flags = flags;
    CHECK_OK_E(am_encoding_create("r50k_base", &o, &enc, &err), &err);
    CHECK_EQ(count_of(enc, "hello world, this is r50k_base"), 10);
    CHECK_EQ(am_encoding_vocab_size(enc), 50257);
    am_encoding_free(enc);
}

/* The binary cache's layout (rank_table.c): the sections from offset 0,
 * each 64-byte aligned -- slots (head u64, rank u32, len u32), filter,
 * pair ranks, token bytes, byte ranks, offsets -- then the 88-byte header
 * (nranks at 48, blob_len at 56, mask at 64, payload checksum at 80). */
static size_t cache_sections(const unsigned char *b, size_t full,
                             size_t at[6], size_t len[6])
{
    const unsigned char *hdr = b + full - 88;
    uint32_t nranks;
    uint64_t blob_len, mask;
    size_t end = 0;

    memcpy(&nranks, hdr + 48, 4);
    memcpy(&blob_len, hdr + 56, 8);
    memcpy(&mask, hdr + 64, 8);
    len[0] = (size_t)(mask + 1) * 16;
    len[1] = (1u << 21) / 8;
    len[2] = 65536 * 4;
    len[3] = (size_t)blob_len;
    len[4] = 1024;
    len[5] = ((size_t)nranks + 1) * 4;
    for (int i = 0; i < 6; i++) {
        at[i] = (end + 63) & ~(size_t)63;
        end = at[i] + len[i];
    }
    return (end + 63) & ~(size_t)63;
}

/* Damage the cache at `bin` in one of two ways, with a valid checksum,
 * and check that opening refuses it (parses the rank file again and
 * rewrites the cache): kind 0, ranks far past the end in every occupied
 * slot and the byte table; kind 1, one slot longer than any token (a
 * probe would read past the token bytes). */
static void tamper_cache(const char *bin, const char *rank, long full,
                         int kind)
{
    unsigned char *b = malloc((size_t)full), *now = malloc((size_t)full);
    size_t at[6], len[6];
    uint32_t bad = 0x7fffffff;
    uint64_t h = AM__CACHE_SUM_SEED;
    FILE *fp = fopen(bin, "r+b");

    CHECK(fp != NULL && b != NULL && now != NULL);
    CHECK_EQ(fread(b, 1, (size_t)full, fp), (size_t)full);
    CHECK_EQ(cache_sections(b, (size_t)full, at, len), (size_t)full - 88);
    for (size_t i = 0; i < len[0] / 16; i++) {
        unsigned char *sl = b + at[0] + 16 * i;
        if (memcmp(sl + 12, "\0\0\0\0", 4) == 0)
            continue;
        if (kind == 0) {
            memcpy(sl + 8, &bad, 4);
        } else {
            uint32_t long_len = 1000;
            memcpy(sl + 12, &long_len, 4);
            break;
        }
    }
    if (kind == 0)
        memcpy(b + at[4] + 4 * 'a', &bad, 4);
    for (int i = 0; i < 6; i++)
        h = am__tokens_cache_sum(b + at[i], len[i], h);
    memcpy(b + full - 88 + 80, &h, 8);
    fseek(fp, 0, SEEK_SET);
    CHECK_EQ(fwrite(b, 1, (size_t)full, fp), (size_t)full);
    fclose(fp);

    check_counts(rank, 0);
    fp = fopen(bin, "rb");
    CHECK(fp != NULL);
    CHECK_EQ(fread(now, 1, (size_t)full, fp), (size_t)full);
    CHECK(memcmp(now, b, (size_t)full) != 0);
    fclose(fp);
    free(now);
    free(b);
}

AM_TEST(binary_cache_is_written_used_and_rebuilt_when_damaged)
{
    char *dir = test_tmpdir();
    char rank[1024], bin[1100], src[1024];
    FILE *fp;
    long full;

    snprintf(src, sizeof src, "%s/r50k_base.tiktoken", AM_BUILD_DATADIR);
    snprintf(rank, sizeof rank, "%s/r50k_base.tiktoken", dir);
    snprintf(bin, sizeof bin, "%s.bin", rank);
    copy_file(src, rank);

    check_counts(rank, AM_ENCODING_NO_CACHE);
    CHECK_EQ(file_size(bin), -1); /* NO_CACHE writes nothing */
    check_counts(rank, 0);
    full = file_size(bin);
    CHECK(full > 1000000);
    check_counts(rank, 0); /* read from the cache */

    /* Damage the payload: detected by the hash, parsed again, rewritten. */
    fp = fopen(bin, "r+b");
    CHECK(fp != NULL);
    fseek(fp, full / 2, SEEK_SET);
    fputs("garbage", fp);
    fclose(fp);
    check_counts(rank, 0);

    /* A truncated cache. */
    CHECK(truncate(bin, full / 3) == 0);
    check_counts(rank, 0);
    CHECK_EQ(file_size(bin), full);

    /* Caches whose payload checksum matches but whose tables point
     * outside themselves (anyone can recompute the checksum): refused,
     * parsed again and rewritten (not merely used). */
    tamper_cache(bin, rank, full, 0);
    tamper_cache(bin, rank, full, 1);

    /* A rank file that changed (size differs) makes the cache stale. */
    fp = fopen(rank, "ab");
    fputs("\n", fp);
    fclose(fp);
    check_counts(rank, 0);
    CHECK_EQ(file_size(bin), full);
    test_rmtree(dir);
    free(dir);
}

/* Opened from its binary cache, an encoding maps the tables instead of
 * copying them: it allocates next to nothing (the parsed tables of
 * r50k_base hold megabytes), and counts the same. */
AM_TEST(encoding_opened_from_cache_maps_its_tables)
{
    char *dir = test_tmpdir();
    char rank[1024], src[1024];
    test_alloc ta;
    am_allocator a;
    am_encoding_opts o = am_encoding_opts_default();
    am_encoding *enc = NULL;
    am_error err = { AM_OK, "" };

    snprintf(src, sizeof src, "%s/r50k_base.tiktoken", AM_BUILD_DATADIR);
    snprintf(rank, sizeof rank, "%s/r50k_base.tiktoken", dir);
    copy_file(src, rank);
    o.rank_file = rank;
    o.flags = AM_ENCODING_NO_CACHE;
    memset(&ta, 0, sizeof ta);
    a = test_alloc_make(&ta);
    o.alloc = &a;
    CHECK_OK_E(am_encoding_create("r50k_base", &o, &enc, &err), &err);
    CHECK(ta.live > 1000000); /* parsed: the tables are allocated */
    am_encoding_free(enc);
    CHECK_EQ(ta.live, 0);

    o.flags = 0;
    CHECK_OK_E(am_encoding_create("r50k_base", &o, &enc, &err), &err);
    am_encoding_free(enc); /* parsed again, cache written */
    CHECK_OK_E(am_encoding_create("r50k_base", &o, &enc, &err), &err);
    CHECK(ta.live < 16384); /* mapped: the struct only */
    CHECK_EQ(count_of(enc, "hello world, this is r50k_base"), 10);
    am_encoding_free(enc);
    CHECK_EQ(ta.live, 0);
    test_rmtree(dir);
    free(dir);
}
