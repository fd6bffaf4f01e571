/* fuzz_convlog.c -- libFuzzer target for persistent-agent log recovery.
 *
 * The input becomes the log file of one agent (after the real magic, so
 * the fuzzer spends its time on records); opening a manager on the
 * directory replays it. Refusing a log is fine; crashing, leaking or
 * accepting a log whose replayed conversation cannot be written back out
 * is not. An accepted log must also accept one more appended message and
 * reopen with it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agentmem/conv.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

static char dir[64];

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    char path[128];
    FILE *fp;
    am_convmgr_opts o = am_convmgr_opts_default();
    am_convmgr *m = NULL;
    am_conv *c = NULL;
    am_buf out = AM_BUF_INIT;
    size_t before;

    if (dir[0] == '\0') {
        snprintf(dir, sizeof dir, "/tmp/fuzz_convlog.XXXXXX");
        if (mkdtemp(dir) == NULL)
            abort();
    }
    snprintf(path, sizeof path, "%s/A.amlog", dir);
    fp = fopen(path, "wb");
    if (fp == NULL)
        abort();
    fwrite("AMCLOG1\n", 1, 8, fp);
    fwrite(data, 1, size, fp);
    fclose(fp);
    o.dir = dir;
    o.no_sync = true;
    if (am_convmgr_open(&o, &m, NULL) == AM_OK) {
        size_t n = 0;
        am_buf names = AM_BUF_INIT;
        if (am_convmgr_agents(m, &names, &n) != AM_OK || n != 1)
            abort();
        if (am_convmgr_get(m, (am_str){ names.ptr, strlen(names.ptr) },
                           &c) != AM_OK)
            abort();
        if (am_conv_to_json(c, AM_FORMAT_AGENTMEM, 0, &out) != AM_OK)
            abort();
        before = am_conv_count(c);
        if (am_conv_add_text(c, AM_ROLE_USER, AM_STR("x")) == AM_OK) {
            am_convmgr_close(m);
            m = NULL;
            if (am_convmgr_open(&o, &m, NULL) != AM_OK)
                abort();
            if (am_convmgr_get(m, (am_str){ names.ptr, strlen(names.ptr) },
                               &c) != AM_OK)
                abort();
            if (before < o.max_messages_per_agent &&
                am_conv_count(c) != before + 1)
                abort();
        }
        am_buf_free(&names);
    }
    am_convmgr_close(m);
    am_buf_free(&out);
    unlink(path);
    return 0;
}
