/* bench_cpu.h -- CPU time of this process and of a PostgreSQL server
 * process, for the PostgreSQL benchmarks (bench_pg, bench_pg_put). On a
 * machine shared by many, CPU seconds say far more than wall time: a
 * statement's cost is this process's CPU plus its server process's CPU
 * (the server runs on this machine, over a Unix socket).
 *
 * Include it once per benchmark program.
 */
#ifndef AM_BENCH_CPU_H
#define AM_BENCH_CPU_H

#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* CPU seconds of this process so far. */
static inline double bench_cpu_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* CPU seconds of process `pid` so far: its scheduler's run time
 * (/proc/PID/schedstat, nanoseconds) where the kernel keeps it, else
 * user + system time in clock ticks (10 ms here, as coarse as a whole
 * catch-up); 0 when neither can be read (another machine's server). */
static inline double bench_proc_cpu_s(int pid)
{
    char path[64], line[1024];
    unsigned long long ns = 0;
    unsigned long ut = 0, st = 0;
    snprintf(path, sizeof path, "/proc/%d/schedstat", pid);
    FILE *f = fopen(path, "r");
    if (f != NULL) {
        int got = fscanf(f, "%llu", &ns);
        fclose(f);
        if (got == 1)
            return (double)ns / 1e9;
    }
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    f = fopen(path, "r");
    if (f == NULL)
        return 0;
    size_t n = fread(line, 1, sizeof line - 1, f);
    fclose(f);
    line[n] = '\0';
    const char *p = strrchr(line, ')'); /* after the command's name */
    if (p == NULL || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u "
                            "%*u %lu %lu", &ut, &st) != 2)
        return 0;
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

#endif
