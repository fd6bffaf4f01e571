/* test_core.c -- status texts, buffers, allocation, UTF-8, ids, files. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#if defined(__linux__)
#include <sys/mman.h> /* MADV_HUGEPAGE, as huge.c sees it */
#endif
#include <unistd.h>
#include <wchar.h>

#include "agentmem/clock.h"
#include "agentmem/tokens.h"
#include "agentmem/agentmem.h"
#include "agentmem/async.h"
#include "agentmem/version.h"
#include "core/core.h"
#include "core/json_glue.h"
#include "harness.h"
#include "jansson_fail.h"

AM_TEST(status_text_is_static_and_never_null)
{
    CHECK_STR_EQ(am_status_str(AM_OK), "success");
    CHECK_STR_EQ(am_status_str(AM_EFORMAT), "malformed input");
    CHECK_STR_EQ(am_status_str((am_status)9999), "unknown error");
    CHECK_STR_EQ(am_status_str((am_status)-1), "unknown error");
}

AM_TEST(fail_records_code_and_message)
{
    am_error err = { AM_OK, "" };
    CHECK_EQ(am__fail(&err, AM_EINVAL, "field '%s' at %d", "role", 3),
             AM_EINVAL);
    CHECK_EQ(err.code, AM_EINVAL);
    CHECK_STR_EQ(err.msg, "field 'role' at 3");
    CHECK_EQ(am__fail(NULL, AM_EIO, "ignored"), AM_EIO);
    am_error_clear(&err);
    CHECK_EQ(err.code, AM_OK);
    CHECK_STR_EQ(err.msg, "");
}

AM_TEST(buf_appends_and_stays_terminated)
{
    am_buf b = AM_BUF_INIT;
    CHECK_OK(am_buf_append(&b, "abc", 3));
    CHECK_OK(am_buf_appendf(&b, "-%d-", 42));
    CHECK_MEM_EQ(b.ptr, b.len, "abc-42-");
    CHECK_EQ(b.ptr[b.len], '\0');
    for (int i = 0; i < 10000; i++)
        CHECK_OK(am_buf_append(&b, "x", 1));
    CHECK_EQ(b.len, 10007);
    am_buf_clear(&b);
    CHECK_EQ(b.len, 0);
    CHECK_STR_EQ(b.ptr, "");
    am_buf_free(&b);
    CHECK(b.ptr == NULL);
    am_buf_free(NULL);
}

AM_TEST(buf_reports_enomem_and_keeps_contents)
{
    test_alloc ta = { 0 };
    am_allocator a = test_alloc_make(&ta);
    am_buf b = AM_BUF_INIT;
    b.alloc = &a;
    CHECK_OK(am_buf_append(&b, "keep", 4));
    ta.fail_at = ta.calls + 1;
    CHECK_ST(am_buf_reserve(&b, 1 << 20), AM_ENOMEM);
    CHECK_MEM_EQ(b.ptr, b.len, "keep");
    am_buf_free(&b);
    CHECK_EQ(ta.live_blocks, 0);
}

AM_TEST(alloc_array_rejects_overflow)
{
    CHECK(am__alloc_array(NULL, SIZE_MAX / 2, 4) == NULL);
    void *p = am__alloc_array(NULL, 4, 4);
    CHECK(p != NULL);
    am__free(NULL, p, 16);
}

/* am__calloc hands back zeroed memory on both of its paths: calloc for
 * the default allocator (whose fresh pages it need not write, the reason
 * it exists: see alloc.c) and alloc + memset for a caller's allocator,
 * which sees exactly one call. Blocks that malloc recycles must come back
 * zeroed too, so each size is first filled and freed. */
AM_TEST(calloc_zeroes_on_both_paths_and_rejects_overflow)
{
    static const size_t sizes[] = { 0, 1, 96, 4096, 1u << 20, 6u << 20 };
    test_alloc ta = { 0 };
    am_allocator a = test_alloc_make(&ta);

    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        size_t n = sizes[i] != 0 ? sizes[i] : 1;
        unsigned char *junk = malloc(n);
        CHECK(junk != NULL);
        memset(junk, 0xab, n);
        free(junk);
        for (int path = 0; path < 2; path++) {
            const am_allocator *al = path == 0 ? NULL : &a;
            long calls = ta.calls;
            unsigned char *p = am__calloc(al, 1, sizes[i]);
            size_t bad = 0;
            CHECK(p != NULL);
            for (size_t j = 0; j < n; j++)
                bad += p[j] != 0;
            CHECK_EQ(bad, 0);
            CHECK_EQ(ta.calls - calls, (long)path);
            am__free(al, p, n);
        }
    }
    CHECK(am__calloc(NULL, SIZE_MAX / 2, 4) == NULL);
    CHECK(am__calloc(&a, SIZE_MAX / 2, 4) == NULL);
    CHECK_EQ(ta.live_blocks, 0);
}

/* am__huge_calloc (huge.c): zeroed blocks of every size. With the
 * default allocator a block of AM__HUGE_MIN or more is mapped at a 2 MiB
 * boundary (on Linux, where MADV_HUGEPAGE exists); a caller's allocator
 * sees every block, of exactly the size asked, and a failure of it is
 * NULL; am__huge_on tells the two apart. Whether the kernel grants
 * huge pages is its choice (a hint), so that is not checked here;
 * bench_tiers_retrieve's callers measure it. */
AM_TEST(huge_calloc_zeroes_aligns_large_blocks_and_uses_the_allocator)
{
    static const size_t sizes[] = { 1, 4096, AM__HUGE_MIN - 1, AM__HUGE_MIN,
                                    (3u << 20) + 5 };
    test_alloc ta = { 0 };
    am_allocator a = test_alloc_make(&ta);

    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        for (int path = 0; path < 2; path++) {
            const am_allocator *al = path == 0 ? NULL : &a;
            long calls = ta.calls;
            unsigned char *p = am__huge_calloc(al, sizes[i]);
            size_t bad = 0;
            CHECK(p != NULL);
            for (size_t j = 0; j < sizes[i]; j++)
                bad += p[j] != 0;
            CHECK_EQ(bad, 0);
            memset(p, 0xab, sizes[i]); /* all of it is writable */
            CHECK_EQ(ta.calls - calls, (long)path);
#if defined(__linux__) && defined(MADV_HUGEPAGE)
            if (path == 0 && sizes[i] >= AM__HUGE_MIN)
                CHECK_EQ((uintptr_t)p % ((uintptr_t)2 << 20), 0);
#endif
            am__huge_free(al, p, sizes[i]);
        }
    }
    am__huge_free(NULL, NULL, AM__HUGE_MIN); /* NULL is a no-op */
    /* am__huge_on says which of the two paths a large block takes. */
#if defined(__linux__) && defined(MADV_HUGEPAGE)
    CHECK(am__huge_on(NULL));
    CHECK(am__huge_on(am_allocator_default()));
#else
    CHECK(!am__huge_on(NULL));
#endif
    CHECK(!am__huge_on(&a));
    ta.fail_at = ta.calls + 1;
    CHECK(am__huge_calloc(&a, AM__HUGE_MIN) == NULL);
    CHECK_EQ(ta.live_blocks, 0);
}

AM_TEST(arena_frees_everything_at_once)
{
    test_alloc ta = { 0 };
    am_allocator a = test_alloc_make(&ta);
    am__arena ar;
    am__arena_init(&ar, &a, 256);
    for (int i = 0; i < 100; i++) {
        char *s = am__arena_strndup(&ar, "hello", 5);
        CHECK(s != NULL);
        CHECK_STR_EQ(s, "hello");
        CHECK_EQ((uintptr_t)s % 16, 0);
    }
    CHECK(am__arena_alloc(&ar, 10000) != NULL); /* oversize block */
    am__arena_free(&ar);
    CHECK_EQ(ta.live_blocks, 0);
}

AM_TEST(utf8_validation_finds_first_bad_byte)
{
    size_t off = 0;
    CHECK(am__utf8_valid("plain ascii text!", 17, NULL));
    CHECK(am__utf8_valid("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", 14,
                         NULL));
    CHECK(!am__utf8_valid("abc\xc3", 4, &off)); /* truncated */
    CHECK_EQ(off, 3);
    CHECK(!am__utf8_valid("ab\xc0\xafzz", 6, &off)); /* overlong */
    CHECK_EQ(off, 2);
    CHECK(!am__utf8_valid("\xed\xa0\x80", 3, &off)); /* surrogate */
    CHECK_EQ(off, 0);
    CHECK(!am__utf8_valid("12345678\xf4\x90\x80\x80", 12, &off));
    CHECK_EQ(off, 8);
    CHECK(!am__utf8_valid("\xe2\x82", 2, &off));
    CHECK(!am__utf8_valid("x\x80", 2, &off));
    CHECK_EQ(off, 1);
}

AM_TEST(utf8_floor_never_splits_a_character)
{
    const char *s = "a\xc3\xa9\xe2\x82\xac"; /* a é € : 1+2+3 bytes */
    CHECK_EQ(am__utf8_floor(s, 6), 6);
    CHECK_EQ(am__utf8_floor(s, 5), 3);
    CHECK_EQ(am__utf8_floor(s, 4), 3);
    CHECK_EQ(am__utf8_floor(s, 3), 3);
    CHECK_EQ(am__utf8_floor(s, 2), 1);
    CHECK_EQ(am__utf8_floor(s, 1), 1);
    CHECK_EQ(am__utf8_floor(s, 0), 0);
}

AM_TEST(uuid7_is_versioned_and_time_sortable)
{
    test_clock tc = { .now_ms = 1700000000000 };
    test_rng tr = { 7 };
    am_clock c = test_clock_make(&tc);
    am_rng r = test_rng_make(&tr);
    char a[37], b[37];
    am_uuid7(&c, &r, a);
    tc.now_ms += 1;
    am_uuid7(&c, &r, b);
    CHECK_EQ(strlen(a), 36);
    CHECK_EQ(a[14], '7');
    CHECK(strchr("89ab", a[19]) != NULL);
    CHECK(strcmp(a, b) < 0);
    CHECK_MEM_EQ(a, 13, "018bcfe5-6800"); /* 1700000000000 = 0x18bcfe56800 */
}

AM_TEST(hash_depends_on_every_byte_and_seed)
{
    const char *s = "the quick brown fox jumps over the lazy dog";
    uint64_t h = am__hash64(s, strlen(s), 0);
    CHECK(h != am__hash64(s, strlen(s) - 1, 0));
    CHECK(h != am__hash64(s, strlen(s), 1));
    CHECK(h == am__hash64(s, strlen(s), 0));
}

AM_TEST(atomic_write_replaces_whole_file)
{
    char *dir = test_tmpdir();
    char path[4200];
    am_buf b = AM_BUF_INIT;
    am_error err = { AM_OK, "" };
    snprintf(path, sizeof path, "%s/sub/dir", dir);
    CHECK_OK(am__mkdir_p(NULL, path, &err));
    snprintf(path, sizeof path, "%s/sub/dir/f.json", dir);
    CHECK_OK(am__write_file_atomic(NULL, path, "first", 5, &err));
    CHECK_OK(am__write_file_atomic(NULL, path, "second", 6, &err));
    CHECK_OK(am__read_file(path, &b, &err));
    CHECK_MEM_EQ(b.ptr, b.len, "second");
    snprintf(path, sizeof path, "%s/nope", dir);
    CHECK_ST(am__read_file(path, &b, &err), AM_ENOTFOUND);
    CHECK(strstr(err.msg, "nope") != NULL);
    /* A write into a missing directory fails and leaves no temporary. */
    snprintf(path, sizeof path, "%s/missing/f", dir);
    CHECK_ST(am__write_file_atomic(NULL, path, "x", 1, &err), AM_EIO);
    am_buf_free(&b);
    test_rmtree(dir);
    free(dir);
}

AM_TEST(json_parse_error_names_line_and_column)
{
    json_t *v = NULL;
    am_error err = { AM_OK, "" };
    CHECK_ST(am__json_parse(AM_STR("{\n  \"a\": [1,\n  }"), "config.json",
                            &v, &err),
             AM_EFORMAT);
    CHECK(v == NULL);
    CHECK(strstr(err.msg, "config.json") != NULL);
    CHECK(strstr(err.msg, "line 3") != NULL);
    CHECK_OK(am__json_parse(AM_STR("{\"a\":\"x\",\"n\":3}"), "t", &v, &err));
    am_str s = { 0 };
    int64_t n = 0;
    CHECK_OK(am__json_req_str(v, "a", "obj", &s, &err));
    CHECK_MEM_EQ(s.ptr, s.len, "x");
    CHECK_OK(am__json_opt_int(v, "n", "obj", &n, &err));
    CHECK_EQ(n, 3);
    CHECK_ST(am__json_opt_int(v, "a", "obj", &n, &err), AM_EFORMAT);
    CHECK(strstr(err.msg, "'a'") != NULL);
    CHECK_ST(am__json_req_str(v, "zz", "obj", &s, &err), AM_EFORMAT);
    json_decref(v);
}

static am_status dump_body(void *ctx, const am_allocator *alloc)
{
    json_t *v = ctx;
    am_buf b = AM_BUF_INIT;
    am_status st;
    b.alloc = alloc;
    st = am__json_dump(v, JSON_SORT_KEYS, &b, NULL);
    if (st == AM_OK) {
        /* A success must be the whole document, never a truncated one. */
        char *want = json_dumps(v, JSON_SORT_KEYS);
        assert_non_null(want);
        assert_int_equal(b.len, strlen(want));
        assert_memory_equal(b.ptr, want, b.len);
        free(want);
    } else {
        assert_int_equal(b.len, 0);
    }
    am_buf_free(&b);
    return st;
}

AM_TEST(json_dump_never_returns_a_truncated_document)
{
    /* jansson ignores a failing callback on some paths; the glue must not. */
    json_t *v = json_pack("{s:[i,i,{s:s}],s:s,s:{s:i}}", "a", 1, 2, "x",
                          "a long string value that needs its own growth",
                          "b", "str", "c", "d", 4);
    CHECK(v != NULL);
    CHECK(test_oom_sweep(dump_body, v) > 1);
    json_decref(v);
}

/* jansson hides running out of memory behind other messages; the glue
 * answers AM_ENOMEM for valid JSON and still AM_EFORMAT for what jansson
 * rejects on its own (number overflow, \u0000 without JSON_ALLOW_NUL, a
 * scalar without JSON_DECODE_ANY, bad syntax). */
AM_TEST(json_parse_tells_out_of_memory_from_invalid_json)
{
    static const char *const bad[] = { "[1e400]", "[99999999999999999999]",
                                       "[1,]", "{\"a\"}", "3", "" };
    json_t *v = NULL;
    am_error err = { AM_OK, "" };
    long n;
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        CHECK_ST(am__json_parse(am_str_c(bad[i]), "t", &v, &err), AM_EFORMAT);
        CHECK(v == NULL);
    }
    CHECK_ST(am__json_parse_flags(AM_STR("[\"a\\u0000\"]"), 0, "t", &v, &err),
             AM_EFORMAT);
    /* Nested past jansson's depth limit (2048): invalid, not memory. */
    {
        static char deep[2 * 3000 + 1];
        memset(deep, '[', 3000);
        memset(deep + 3000, ']', 3000);
        CHECK_ST(am__json_parse(am_str_c(deep), "t", &v, &err), AM_EFORMAT);
        CHECK(v == NULL);
    }
    CHECK_OK(am__json_parse_flags(AM_STR("3"), JSON_DECODE_ANY, "t", &v,
                                  &err));
    json_decref(v);
    for (n = 1;; n++) {
        jansson_fail_begin(n);
        am_status st = am__json_parse(
            AM_STR("{\"a\":[1,2.5,{\"b\":null}],\"c\":\"d\\u00e9\"}"), "t", &v,
            &err);
        int all_tried = jansson_fail_end();
        if (st == AM_OK) {
            CHECK_EQ(json_object_size(v), 2);
            json_decref(v);
        } else {
            CHECK_EQ(st, AM_ENOMEM);
            CHECK_STR_EQ(err.msg, "t: out of memory");
        }
        if (all_tried)
            break;
    }
    CHECK(n > 5);
}

/* ---- Checked numbers ---- */

AM_TEST(parse_i64_refuses_what_does_not_fit_instead_of_clamping)
{
    int64_t v = 7;

    CHECK_OK(am__parse_i64(AM_STR("9223372036854775807"), 0, INT64_MAX, &v));
    CHECK(v == INT64_MAX);
    CHECK_OK(am__parse_i64(AM_STR("-9223372036854775808"), INT64_MIN, 0, &v));
    CHECK(v == INT64_MIN);
    v = 7;
    CHECK_ST(am__parse_i64(AM_STR("9223372036854775808"), 0, INT64_MAX, &v),
             AM_ELIMIT);
    CHECK_ST(am__parse_i64(AM_STR("99999999999999999999"), 0, INT64_MAX, &v),
             AM_ELIMIT);
    CHECK_ST(am__parse_i64(AM_STR("18446744073709551615"), 0, INT64_MAX, &v),
             AM_ELIMIT);
    CHECK_ST(am__parse_i64(AM_STR("-1"), 0, 10, &v), AM_ELIMIT);
    CHECK_ST(am__parse_i64(AM_STR("11"), 0, 10, &v), AM_ELIMIT);
    CHECK_ST(am__parse_i64(AM_STR("99999999999999999999x"), 0, 10, &v),
             AM_EFORMAT);
    CHECK_ST(am__parse_i64(AM_STR(""), 0, 10, &v), AM_EFORMAT);
    CHECK_ST(am__parse_i64(AM_STR("-"), 0, 10, &v), AM_EFORMAT);
    CHECK_ST(am__parse_i64(AM_STR(" 1"), 0, 10, &v), AM_EFORMAT);
    CHECK_ST(am__parse_i64(AM_STR("1e3"), 0, 10000, &v), AM_EFORMAT);
    CHECK(v == 7); /* untouched by every failure */
}

/* am__u64_dec writes what snprintf's "%0*llu" does (the store's
 * namespace tokens are stored in the full-text index in this form: a
 * different text would make every scoped search of an existing file find
 * nothing). */
AM_TEST(u64_dec_matches_snprintf)
{
    const uint64_t vals[] = { 0, 1, 9, 10, 99, 100, 12345678901234567890ULL,
                              UINT64_MAX, UINT64_MAX - 1, 1ULL << 63,
                              9999999999999999999ULL, 10000000000000000000ULL };
    uint64_t x = 0x9e3779b97f4a7c15ULL;
    char got[21], want[32];

    for (size_t i = 0; i < sizeof vals / sizeof vals[0] + 2000; i++) {
        uint64_t v;
        if (i < sizeof vals / sizeof vals[0]) {
            v = vals[i];
        } else {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            v = x >> (x % 64);   /* every length of number */
        }
        for (size_t w = 0; w <= 22; w += (w < 3 || w > 18) ? 1 : 5) {
            int n = snprintf(want, sizeof want, "%0*llu", (int)(w > 20 ? 20 : w),
                             (unsigned long long)v);
            memset(got, 'x', sizeof got);
            CHECK_EQ(am__u64_dec(v, w, got), (size_t)n);
            CHECK_STR_EQ(got, want);
        }
    }
}

AM_TEST(time_arithmetic_and_double_conversion_saturate)
{
    CHECK(am__add_sat(INT64_MAX - 5, 10) == INT64_MAX);
    CHECK(am__add_sat(1700000000000LL, INT64_MAX) == INT64_MAX);
    CHECK(am__add_sat(INT64_MIN + 5, -10) == INT64_MIN);
    CHECK(am__add_sat(3, 4) == 7);
    CHECK(am__sub_sat(1700000000000LL, INT64_MIN) == INT64_MAX);
    CHECK(am__sub_sat(INT64_MIN, 1) == INT64_MIN);
    CHECK(am__sub_sat(10, 4) == 6);
    CHECK(am__i64_clamp(1e300, 0, INT64_MAX) == INT64_MAX);
    CHECK(am__i64_clamp(9.3e18, 0, INT64_MAX) == INT64_MAX);
    CHECK(am__i64_clamp(-1e300, 0, INT64_MAX) == 0);
    CHECK(am__i64_clamp(0.0 / 0.0, 0, INT64_MAX) == 0);
    CHECK(am__i64_clamp(42.9, 0, INT64_MAX) == 42);
}

/* The temporary file of an atomic write has a fresh name: a link planted
 * at the old fixed name ("path.tmp") is never followed. */
AM_TEST(atomic_write_never_follows_a_planted_link)
{
    char *dir = test_tmpdir();
    char path[600], link_at[620], victim[620];
    am_buf got = AM_BUF_INIT;
    FILE *fp;

    snprintf(path, sizeof path, "%s/f.json", dir);
    snprintf(link_at, sizeof link_at, "%s.tmp", path);
    snprintf(victim, sizeof victim, "%s/victim", dir);
    fp = fopen(victim, "w");
    CHECK(fp != NULL);
    fputs("precious", fp);
    fclose(fp);
    CHECK_EQ(symlink(victim, link_at), 0);
    CHECK_OK(am__write_file_atomic(NULL, path, "new", 3, NULL));
    CHECK_OK(am__read_file(victim, &got, NULL));
    CHECK_MEM_EQ(got.ptr, got.len, "precious");
    CHECK_OK(am__read_file(path, &got, NULL));
    CHECK_MEM_EQ(got.ptr, got.len, "new");
    am_buf_free(&got);
    test_rmtree(dir);
    free(dir);
}

AM_TEST(text_helpers_count_characters_lower_ascii_and_estimate_tokens)
{
    /* "añ€😀" plus a stray continuation byte and a stray lead byte. */
    static const char s[] = "a\xc3\xb1\xe2\x82\xac\xf0\x9f\x98\x80\x80\xc3";
    CHECK_EQ(am__utf8_count(s, sizeof s - 1), 5);
    CHECK_EQ(am__utf8_count("", 0), 0);
    CHECK_EQ(am__ascii_lower('A'), 'a');
    CHECK_EQ(am__ascii_lower('Z'), 'z');
    CHECK_EQ(am__ascii_lower('a'), 'a');
    CHECK_EQ(am__ascii_lower('@'), '@');
    CHECK_EQ(am__ascii_lower(0xC3), 0xC3); /* UTF-8 bytes are left alone */
    CHECK_EQ(am__tokens_estimate(0), 0);
    CHECK_EQ(am__tokens_estimate(1), 1);
    CHECK_EQ(am__tokens_estimate(4), 1);
    CHECK_EQ(am__tokens_estimate(5), 2);
    /* No overflow at the top of the range, unlike (len + 3) / 4. */
    CHECK(am__tokens_estimate(SIZE_MAX) == SIZE_MAX / 4 + 1);
    CHECK_EQ(am_tokens_approx(AM_STR("hello world!")), 3);
}

/* The atomic save and mkdir -p allocate only through the allocator they
 * are given (the handle's), so an OOM sweep reaches them: each run either
 * saves the file or fails with AM_ENOMEM, and leaks nothing. */
static am_status file_oom_body(void *ctx, const am_allocator *a)
{
    const char *dir = ctx;
    char path[4200];
    am_buf b = AM_BUF_INIT;
    am_error err = { AM_OK, "" };
    am_status st;

    snprintf(path, sizeof path, "%s/a/b", dir);
    st = am__mkdir_p(a, path, &err);
    if (st == AM_OK) {
        snprintf(path, sizeof path, "%s/a/b/f.json", dir);
        st = am__write_file_atomic(a, path, "{}", 2, &err);
    }
    if (st == AM_OK) {
        CHECK_OK(am__read_file(path, &b, NULL));
        CHECK_MEM_EQ(b.ptr, b.len, "{}");
    } else {
        CHECK(strstr(err.msg, "no memory") != NULL);
    }
    am_buf_free(&b);
    return st;
}

AM_TEST(file_saves_allocate_through_the_given_allocator)
{
    char *dir = test_tmpdir();
    test_alloc ta = { 0 };
    am_allocator a = test_alloc_make(&ta);
    char path[4200];

    /* mkdir_p, the temporary's name, the directory to sync: 3 blocks. */
    snprintf(path, sizeof path, "%s/c", dir);
    CHECK_OK(am__mkdir_p(&a, path, NULL));
    snprintf(path, sizeof path, "%s/c/f", dir);
    CHECK_OK(am__write_file_atomic(&a, path, "x", 1, NULL));
    CHECK_EQ(ta.calls, 3);
    CHECK_EQ(ta.live_blocks, 0);
    CHECK(test_oom_sweep(file_oom_body, dir) > 3);
    test_rmtree(dir);
    free(dir);
}

/* status.h: "These values are ABI: new codes are added at the end, never
 * renumbered or removed." Pinned here, so a renumbering fails a test. */
AM_TEST(status_codes_are_abi_and_each_has_its_own_text)
{
    static const struct { am_status st; int value; } abi[] = {
        { AM_OK, 0 }, { AM_ENOMEM, 1 }, { AM_EINVAL, 2 },
        { AM_ENOTFOUND, 3 }, { AM_ELIMIT, 4 }, { AM_EIO, 5 },
        { AM_EFORMAT, 6 }, { AM_EEXIST, 7 }, { AM_EBUSY, 8 },
        { AM_ENET, 9 }, { AM_EAUTH, 10 }, { AM_EPROTO, 11 },
        { AM_ESTATE, 12 }, { AM_EUNSUPPORTED, 13 }, { AM_ETIMEOUT, 14 },
        { AM_ECANCELED, 15 },
    };
    size_t n = sizeof abi / sizeof abi[0];

    for (size_t i = 0; i < n; i++) {
        const char *s = am_status_str(abi[i].st);
        CHECK_EQ((int)abi[i].st, abi[i].value);
        CHECK(s != NULL && s[0] != '\0');
        CHECK(strcmp(s, "unknown error") != 0);
        for (size_t k = 0; k < i; k++)
            CHECK(strcmp(s, am_status_str(abi[k].st)) != 0);
    }
    /* The first code past the end is not known (yet). */
    CHECK_STR_EQ(am_status_str((am_status)n), "unknown error");
}

/* The static answers the headers promise are never NULL: version, the
 * default allocator, the system clock and randomness. */
AM_TEST(static_answers_are_never_null)
{
    char want[32];
    const am_allocator *a = am_allocator_default();
    void *p;

    snprintf(want, sizeof want, "%d.%d.%d", AM_VERSION_MAJOR,
             AM_VERSION_MINOR, AM_VERSION_PATCH);
    CHECK(am_version() != NULL);
    CHECK_STR_EQ(am_version(), want);
    CHECK_EQ(am_version_number(), AM_VERSION_NUMBER);
    CHECK(a != NULL && a->alloc != NULL && a->realloc != NULL &&
          a->free != NULL);
    p = a->alloc(a->ctx, 8);
    CHECK(p != NULL);
    p = a->realloc(a->ctx, p, 8, 16);
    CHECK(p != NULL);
    a->free(a->ctx, p, 16);
    CHECK(am_clock_system() != NULL && am_clock_system()->now_ms != NULL);
    CHECK(am_clock_now(am_clock_system()) > 1600000000000LL);
    CHECK(am_rng_system() != NULL && am_rng_system()->next != NULL);
    CHECK(am_rng_next(NULL) != am_rng_next(NULL) ||
          am_rng_next(NULL) != am_rng_next(NULL));
}

/* The detail of a NULL handle is a static AM_EINVAL detail, for every
 * handle's last_error (RELIABILITY.md): never NULL, never a crash. */
AM_TEST(every_last_error_of_a_null_handle_is_a_static_einval)
{
    const am_error *e[] = {
        am_store_last_error(NULL),    am_tiers_last_error(NULL),
        am_conv_last_error(NULL),     am_convmgr_last_error(NULL),
        am_react_last_error(NULL),    am_memory_last_error(NULL),
        am_sessions_last_error(NULL), am_llm_last_error(NULL),
        am_executor_last_error(NULL), am_models_last_error(NULL),
        am_token_tracker_last_error(NULL),
    };

    for (size_t i = 0; i < sizeof e / sizeof e[0]; i++) {
        CHECK(e[i] != NULL);
        CHECK_EQ(e[i]->code, AM_EINVAL);
        CHECK(e[i]->msg[0] != '\0');
    }
}

/* core/names.c: one table per enum, read both ways. */
AM_TEST(enum_names_come_from_one_table_both_ways)
{
    static const char *const colours[] = { [0] = "red", [2] = "blue",
                                           [3] = "green" };
    static const am__names t = AM__NAMES("colour", colours);
    am_error err = { AM_OK, "" };
    int v = -7;

    CHECK_EQ(t.count, 4);
    CHECK_STR_EQ(am__name_of(&t, 0), "red");
    CHECK_STR_EQ(am__name_of(&t, 3), "green");
    CHECK_STR_EQ(am__name_of(&t, 1), "?");  /* a gap */
    CHECK_STR_EQ(am__name_of(&t, 4), "?");  /* out of range */
    CHECK_STR_EQ(am__name_of(&t, -1), "?");
    CHECK_EQ(am__name_find(&t, AM_STR("blue")), 2);
    CHECK_EQ(am__name_find(&t, AM_STR("Blue")), -1); /* case matters */
    CHECK_EQ(am__name_find(&t, AM_STR("blu")), -1);
    CHECK_EQ(am__name_find(&t, (am_str){ NULL, 0 }), -1);
    CHECK_OK(am__name_parse(&t, AM_STR("green"), &v, &err));
    CHECK_EQ(v, 3);
    v = -7;
    CHECK_ST(am__name_parse(&t, AM_STR("mauve"), &v, &err), AM_EINVAL);
    CHECK_EQ(v, -7);
    CHECK_STR_EQ(err.msg,
                 "unknown colour 'mauve' (expected red, blue or green)");
    /* One name: no "or"; a NULL name is named as empty. */
    static const char *const one[] = { "only" };
    static const am__names t1 = AM__NAMES("thing", one);
    CHECK_ST(am__name_parse(&t1, (am_str){ NULL, 0 }, &v, &err), AM_EINVAL);
    CHECK_STR_EQ(err.msg, "unknown thing '' (expected only)");
}

/* ---- buf.h, status.h and clock.h promises not held above ---- */

/* An allocator whose fresh blocks are junk, as malloc's may be: what the
 * library does not write shows. */
static void *junk_alloc(void *ctx, size_t size)
{
    void *p = malloc(size);
    (void)ctx;
    if (p != NULL)
        memset(p, 0xab, size);
    return p;
}

static void *junk_realloc(void *ctx, void *ptr, size_t old_size,
                          size_t new_size)
{
    unsigned char *p = realloc(ptr, new_size);
    (void)ctx;
    if (p != NULL && new_size > old_size)
        memset(p + old_size, 0xab, new_size - old_size);
    return p;
}

static void junk_free(void *ctx, void *ptr, size_t size)
{
    (void)ctx, (void)size;
    free(ptr);
}

/* buf.h: "On success a buffer's ptr is NUL-terminated", also after a
 * reserve that made the first allocation. */
AM_TEST(buf_reserve_on_an_empty_buffer_leaves_it_terminated)
{
    am_allocator a = { junk_alloc, junk_realloc, junk_free, NULL };
    am_buf b = AM_BUF_INIT;
    b.alloc = &a;
    CHECK_OK(am_buf_reserve(&b, 100));
    CHECK(b.ptr != NULL);
    CHECK_EQ(b.len, 0);
    CHECK_STR_EQ(b.ptr, "");
    CHECK_STR_EQ(am_buf_str(&b).ptr, "");
    am_buf_free(&b);
}

/* Every failed write leaves the buffer as it was: append and appendf
 * out of memory, appendf with a conversion that cannot be done, and a
 * reserve past SIZE_MAX. */
AM_TEST(buf_failed_writes_leave_the_buffer_unchanged)
{
    test_alloc ta = { 0 };
    am_allocator a = test_alloc_make(&ta);
    am_buf b = AM_BUF_INIT;
    static const wchar_t bad[] = { 0xd800, 0 }; /* no multibyte form */
    static const char big[256];
    char *ptr;
    size_t cap;

    b.alloc = &a;
    CHECK_OK(am_buf_append(&b, "keep", 4));
    ptr = b.ptr;
    cap = b.cap;
    ta.fail_at = ta.calls + 1;
    CHECK(cap < sizeof big);
    CHECK_ST(am_buf_append(&b, big, cap + 1), AM_ENOMEM);
    CHECK(b.ptr == ptr && b.cap == cap);
    CHECK_MEM_EQ(b.ptr, b.len, "keep");
    CHECK_EQ(b.ptr[b.len], '\0');
    ta.fail_at = ta.calls + 1;
    CHECK_ST(am_buf_appendf(&b, "%*d", (int)cap + 1, 7), AM_ENOMEM);
    CHECK(b.ptr == ptr && b.cap == cap);
    CHECK_MEM_EQ(b.ptr, b.len, "keep");
    ta.fail_at = 0;
    CHECK_ST(am_buf_appendf(&b, "[%ls]", bad), AM_EINVAL);
    CHECK_MEM_EQ(b.ptr, b.len, "keep");
    CHECK_EQ(b.ptr[b.len], '\0');
    CHECK_ST(am_buf_reserve(&b, SIZE_MAX), AM_ENOMEM);
    CHECK_ST(am_buf_append(&b, "x", SIZE_MAX), AM_ENOMEM);
    CHECK_MEM_EQ(b.ptr, b.len, "keep");
    am_buf_free(&b);
    CHECK_EQ(ta.live_blocks, 0);
}

/* clear keeps the memory for reuse; free returns it and keeps the
 * allocator, so a freed buffer can be written again through it. Both
 * take NULL, and a buffer never written. */
AM_TEST(buf_clear_keeps_memory_and_free_keeps_the_allocator)
{
    test_alloc ta = { 0 };
    am_allocator a = test_alloc_make(&ta);
    am_buf b = AM_BUF_INIT;
    char *ptr;
    size_t cap;
    long calls;

    b.alloc = &a;
    am_buf_clear(&b); /* never written: nothing to terminate */
    CHECK(b.ptr == NULL && b.len == 0);
    CHECK_OK(am_buf_append(&b, "some text", 9));
    ptr = b.ptr;
    cap = b.cap;
    calls = ta.calls;
    am_buf_clear(&b);
    CHECK(b.ptr == ptr && b.cap == cap && b.len == 0);
    CHECK_STR_EQ(b.ptr, "");
    CHECK_OK(am_buf_append(&b, "again", 5)); /* no new allocation */
    CHECK_EQ(ta.calls, calls);
    am_buf_free(&b);
    CHECK(b.ptr == NULL && b.len == 0 && b.cap == 0);
    CHECK(b.alloc == &a);
    CHECK_EQ(ta.live_blocks, 0);
    CHECK_OK(am_buf_append(&b, "x", 1));
    CHECK_EQ(ta.live_blocks, 1);
    am_buf_free(&b);
    am_buf_free(&b); /* twice: the second is a no-op */
    CHECK_EQ(ta.live_blocks, 0);
    am_buf_clear(NULL);
    am_buf_free(NULL);
}

/* The borrowed views of buf.h: NULL and an empty buffer read as "". */
AM_TEST(str_views_of_nothing_are_the_empty_string)
{
    am_buf b = AM_BUF_INIT;
    am_str s = am_str_c(NULL);
    CHECK_STR_EQ(s.ptr, "");
    CHECK_EQ(s.len, 0);
    s = am_str_c("abc");
    CHECK_EQ(s.len, 3);
    s = am_buf_str(&b);
    CHECK_STR_EQ(s.ptr, "");
    CHECK_EQ(s.len, 0);
}

/* status.h: am_error_clear(NULL) is a no-op. */
AM_TEST(error_clear_takes_null)
{
    am_error err = { AM_EIO, "detail" };
    am_error_clear(NULL);
    am_error_clear(&err);
    CHECK_EQ(err.code, AM_OK);
    CHECK_STR_EQ(err.msg, "");
}

static int64_t fixed_ms(void *ctx)
{
    return *(const int64_t *)ctx;
}

/* clock.h: a given clock is read, NULL is the system clock and the
 * system randomness, for am_clock_now and am_uuid7 alike. */
AM_TEST(clock_null_means_the_system_clock)
{
    int64_t t = 1700000000000;
    am_clock c = { fixed_ms, &t };
    char id[37];
    int64_t before = am_clock_now(NULL);

    CHECK_EQ(am_clock_now(&c), 1700000000000);
    CHECK(before > 1600000000000LL);
    CHECK(am_clock_now(NULL) >= before);
    am_uuid7(&c, NULL, id);
    CHECK_EQ(strlen(id), 36);
    CHECK_MEM_EQ(id, 13, "018bcfe5-6800");
    am_uuid7(NULL, NULL, id);
    CHECK_EQ(strlen(id), 36);
    CHECK_EQ(id[14], '7');
    /* The system clock's time, not the fixed one. */
    CHECK(memcmp(id, "018bcfe5-6800", 13) > 0);
}
