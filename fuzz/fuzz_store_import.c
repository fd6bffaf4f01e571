/* fuzz_store_import.c -- store import lines (JSON Lines) from outside.
 *
 * The input is imported into a fresh in-memory store. Import is all or
 * nothing, so a refused input must leave the store empty. An accepted one
 * is exported, imported into a second store and exported again: the two
 * exports must be byte for byte equal (the clock is fixed, so the times
 * written match). Any drift or a non-empty store after a refusal aborts.
 */
#include <stdlib.h>
#include <string.h>

#include "agentmem/store.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

static int64_t fixed_now(void *ctx)
{
    (void)ctx;
    return 1700000000000;
}

static am_status to_buf(void *ctx, am_str line)
{
    return am_buf_append(ctx, line.ptr, line.len);
}

static am_store *fresh(const am_clock *clk)
{
    am_store_opts o = am_store_opts_default();
    am_store *s = NULL;
    o.clock = clk;
    if (am_store_open(":memory:", &o, &s, NULL) != AM_OK)
        abort();
    return s;
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    static const am_clock clk = { fixed_now, NULL };
    am_store *a = fresh(&clk), *b = NULL;
    am_buf e1 = AM_BUF_INIT, e2 = AM_BUF_INIT;
    am_ns root = { NULL, 0 };
    am_results *r = NULL;
    size_t n = 0, n1 = 0, n2 = 0;
    am_status st;

    st = am_store_import(a, (am_str){ (const char *)data, size }, NULL, NULL,
                         &n, NULL);
    if (st != AM_OK) {
        if (n != 0 || am_store_list(a, root, 1, 0, &r) != AM_OK ||
            r->count != 0)
            abort(); /* a refused import wrote something */
        am_results_free(r);
        am_store_close(a);
        return 0;
    }
    if (am_store_export(a, root, to_buf, &e1, &n1) != AM_OK || n1 > n)
        abort();
    b = fresh(&clk);
    if (am_store_import(b, am_buf_str(&e1), NULL, NULL,
                        &n, NULL) != AM_OK || n != n1)
        abort(); /* our own export must import */
    if (am_store_export(b, root, to_buf, &e2, &n2) != AM_OK || n2 != n1 ||
        e1.len != e2.len || (e1.len > 0 && memcmp(e1.ptr, e2.ptr, e1.len)))
        abort(); /* export -> import -> export drifted */
    am_buf_free(&e1);
    am_buf_free(&e2);
    am_store_close(a);
    am_store_close(b);
    return 0;
}
