/* One line per event on stderr: time, level, pid, a component tag, the message. */
#ifndef PIT_LOG_H
#define PIT_LOG_H

#include <stddef.h>

typedef enum { PIT_LOG_DEBUG = 0, PIT_LOG_INFO, PIT_LOG_WARN, PIT_LOG_ERROR } pit_log_level;

/* Process-wide settings; call before threads start. tag names the process ("supervisor", "worker:3"). */
void pit_log_set_level(pit_log_level level);
void pit_log_set_tag(const char *tag);
pit_log_level pit_log_get_level(void);
/* "debug", "info", "warn", "error" -> level; returns -1 for anything else. */
int pit_log_level_parse(const char *name);

void pit_log(pit_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A log file instead of stderr: opened for appending and put in place of stderr itself (fd 2), so
 * that everything written to stderr (workers' lines passed on, libraries' messages) goes there too.
 * pit_log_reopen opens the same path again (after logrotate moved the file: SIGUSR1). 0, or -1 with
 * err saying why (the old file stays in use). */
int pit_log_open_file(const char *path, char *err, size_t errlen);
int pit_log_reopen(char *err, size_t errlen);

#define pit_debug(...) do { if (pit_log_get_level() <= PIT_LOG_DEBUG) pit_log(PIT_LOG_DEBUG, __VA_ARGS__); } while (0)
#define pit_info(...) pit_log(PIT_LOG_INFO, __VA_ARGS__)
#define pit_warn(...) pit_log(PIT_LOG_WARN, __VA_ARGS__)
#define pit_error(...) pit_log(PIT_LOG_ERROR, __VA_ARGS__)

#endif
