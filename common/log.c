#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static pit_log_level g_level = PIT_LOG_INFO;
static char g_tag[48] = "pitboss";

void pit_log_set_level(pit_log_level level) { g_level = level; }
pit_log_level pit_log_get_level(void) { return g_level; }

void pit_log_set_tag(const char *tag) {
    snprintf(g_tag, sizeof g_tag, "%s", tag);
}

int pit_log_level_parse(const char *name) {
    static const char *names[] = {"debug", "info", "warn", "error"};
    for (int i = 0; i < 4; i++)
        if (strcasecmp(name, names[i]) == 0) return i;
    if (strcasecmp(name, "warning") == 0) return PIT_LOG_WARN;
    return -1;
}

void pit_log(pit_log_level level, const char *fmt, ...) {
    static const char *names[] = {"DEBUG", "INFO ", "WARN ", "ERROR"};
    if (level < g_level) return;
    struct timeval tv;
    gettimeofday(&tv, NULL);
    struct tm tm;
    gmtime_r(&tv.tv_sec, &tm);
    char line[4096];
    int n = snprintf(line, sizeof line, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s [%d] %s: ",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                     (long)(tv.tv_usec / 1000), names[level], (int)getpid(), g_tag);
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
    va_end(ap);
    size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);
    if (len > sizeof line - 2) len = sizeof line - 2;
    /* One event, one line: fold embedded newlines so log readers can split on '\n'. */
    for (size_t i = (size_t)n; i < len; i++)
        if (line[i] == '\n') line[i] = ' ';
    line[len++] = '\n';
    /* A single write keeps lines whole when several threads or processes share stderr. */
    ssize_t unused = write(STDERR_FILENO, line, len);
    (void)unused;
}

static char g_file[4096];

int pit_log_open_file(const char *path, char *err, size_t errlen) {
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    if (fd < 0) {
        snprintf(err, errlen, "cannot open the log file %s: %s", path, strerror(errno));
        return -1;
    }
    /* dup2 swaps fd 2 in one step: a line written meanwhile goes wholly to the old file or the new. */
    if (dup2(fd, STDERR_FILENO) < 0) {
        snprintf(err, errlen, "cannot write the log to %s: %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    close(fd);
    snprintf(g_file, sizeof g_file, "%s", path);
    return 0;
}

int pit_log_reopen(char *err, size_t errlen) {
    if (!g_file[0]) return 0;
    char path[sizeof g_file];
    snprintf(path, sizeof path, "%s", g_file);
    return pit_log_open_file(path, err, errlen);
}
