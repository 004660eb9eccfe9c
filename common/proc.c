/* Facts about a process read from /proc (proc.h). */
#include "proc.h"

#include <stdio.h>
#include <unistd.h>

int64_t pit_proc_rss_kb(pid_t pid) {
    char path[64];
    if (pid)
        snprintf(path, sizeof path, "/proc/%d/statm", (int)pid);
    else
        snprintf(path, sizeof path, "/proc/self/statm");
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    unsigned long size = 0, resident = 0;
    int n = fscanf(f, "%lu %lu", &size, &resident);
    fclose(f);
    return n == 2 ? (int64_t)resident * (sysconf(_SC_PAGESIZE) / 1024) : 0;
}
