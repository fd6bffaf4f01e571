/* cli_progress.c -- one line of progress on a terminal for long commands.
 *
 * A long import, re-embedding or token count says how far it got, on
 * stderr, rewriting one line in place. It is shown only when stderr is a
 * terminal (a script or a log gets nothing) and not with --quiet, and it
 * is redrawn at most ten times a second, so a fast run costs nothing and
 * a callback per item is fine. The line stays when the work is done: it
 * says what was done and how much.
 */
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

#define REDRAW_MS 100

static int64_t mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void cli_progress_init(cli_progress *p, const char *what, const char *unit,
                       bool quiet)
{
    p->what = what;
    p->unit = unit;
    p->on = !quiet && isatty(STDERR_FILENO);
    p->shown = false;
    p->next_ms = 0;
}

void cli_progress_show(cli_progress *p, size_t done, size_t total)
{
    int64_t now;

    if (!p->on)
        return;
    now = mono_ms();
    if (p->shown && now < p->next_ms && done != total)
        return;
    p->next_ms = now + REDRAW_MS;
    p->shown = true;
    if (total > 0)
        fprintf(stderr, "\r%s: %zu of %zu %s (%d%%)", p->what, done, total,
                p->unit, (int)((double)done * 100.0 / (double)total));
    else
        fprintf(stderr, "\r%s: %zu %s", p->what, done, p->unit);
    fflush(stderr);
}

void cli_progress_end(cli_progress *p)
{
    if (p->on && p->shown)
        fputc('\n', stderr);
    p->shown = false;
}

void cli_progress_cb(void *ctx, size_t done, size_t total)
{
    cli_progress_show(ctx, done, total);
}

void cli_progress_step_cb(void *ctx, const char *step, size_t done,
                          size_t total)
{
    cli_progress *p = ctx;

    if (!p->on)
        return;
    /* A new step ends the last one's line, which stays as its record. */
    if (strcmp(p->what, step) != 0) {
        cli_progress_end(p);
        p->what = step;
    }
    cli_progress_show(p, done, total);
}
