/*
 * log — the one logger of the CLI and the scheduler daemon.
 *
 * One event is one line on stderr, written with a single write(2) so that
 * lines of the daemon and of its child runs, which share the stream, never
 * interleave (lines are capped at LOG_LINE_MAX bytes, under PIPE_BUF).
 *
 * Two formats: JSON Lines when stderr is not a terminal (journald, files,
 * pipes: machines read it), and "pid timestamp level message key=value..."
 * text on a terminal (people read it). SNAPDIFF_LOG_FORMAT=json|text or
 * log_set_format() overrides the choice.
 *
 * The level is checked before anything is formatted: the LOG_* macros do not
 * even evaluate their arguments when the level is off.
 *
 * Secrets: nothing here can know what a secret is, so callers must not pass
 * them; as a second line of defence, every string registered with
 * log_add_secret() is replaced by "***" in any line before it is written.
 *
 * Nothing here allocates after log_add_secret(); all functions are safe to
 * call before log_init() (defaults: info, format chosen from isatty(2)).
 * The LOG_* macros share names with <syslog.h>'s priorities: do not include
 * both in one file.
 */
#ifndef SD_LOG_H
#define SD_LOG_H

#include <stdarg.h>
#include <stdbool.h>

enum sd_log_level {
	SD_LOG_DEBUG = 0,
	SD_LOG_INFO = 1,
	SD_LOG_WARN = 2,
	SD_LOG_ERROR = 3,
	SD_LOG_OFF = 4,
};

enum sd_log_format {
	SD_LOG_AUTO = 0,        /* JSON unless stderr is a terminal */
	SD_LOG_JSON = 1,
	SD_LOG_TEXT = 2,
};

#define LOG_LINE_MAX 4000

/* Per-event context: which run, which table. Any field may be NULL. */
struct log_ctx {
	const char *run_id;
	const char *db;
	const char *table;
};

/* Sets the component name written in every line ("snapdiff", "scheduler")
 * and reads SNAPDIFF_LOG_LEVEL / SNAPDIFF_LOG_FORMAT from the environment.
 * The name is borrowed and must outlive the logger (a string literal). */
void log_init(const char *component);

void log_set_level(enum sd_log_level level);
/* "debug", "info", "warn"/"warning", "error", "off". Returns 0, or -1 for an
 * unknown name (the level is then unchanged). */
int log_set_level_name(const char *name);
enum sd_log_level log_get_level(void);
const char *log_level_name(enum sd_log_level level);
void log_set_format(enum sd_log_format format);
/* Whether lines are JSON right now (after resolving SD_LOG_AUTO). */
bool log_is_json(void);

/* The context used by log_msg(): the CLI sets it once per run. Strings are
 * copied. NULL clears a field. */
void log_set_context(const char *run_id, const char *db, const char *table);

/* Registers a string to be masked in every later line (copied; strings
 * shorter than 4 bytes are ignored because masking them would mangle
 * ordinary words). At most 16 secrets. */
void log_add_secret(const char *secret);

static inline bool log_enabled(enum sd_log_level level)
{
	extern enum sd_log_level log_level_;
	return level >= log_level_;
}

/* A message with the global context. */
void log_msg(enum sd_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* An event with an explicit context and a short machine-readable event name
 * ("run.start"; may be NULL), plus optional extra fields: kv is an array of
 * n_kv key/value string pairs (kv[2i] key, kv[2i+1] value; a NULL value is
 * skipped). A key ending in '#' marks a number: {"exit#", "3"} is written as
 * "exit": 3 in JSON (and exit=3 in text). */
void log_event(enum sd_log_level level, const struct log_ctx *ctx, const char *event,
	       const char *const *kv, int n_kv, const char *fmt, ...)
	__attribute__((format(printf, 6, 7)));
void log_vevent(enum sd_log_level level, const struct log_ctx *ctx, const char *event,
		const char *const *kv, int n_kv, const char *fmt, va_list ap);

/* Formats one line into out (capacity cap, NUL-terminated) without writing
 * it; returns its length including the newline. For tests. */
int log_format_line(char *out, int cap, enum sd_log_level level, bool json, double now,
		    const struct log_ctx *ctx, const char *event, const char *const *kv,
		    int n_kv, const char *msg);

#define LOG_DEBUG(...) do { if (log_enabled(SD_LOG_DEBUG)) log_msg(SD_LOG_DEBUG, __VA_ARGS__); } while (0)
#define LOG_INFO(...)  do { if (log_enabled(SD_LOG_INFO))  log_msg(SD_LOG_INFO, __VA_ARGS__); } while (0)
#define LOG_WARN(...)  do { if (log_enabled(SD_LOG_WARN))  log_msg(SD_LOG_WARN, __VA_ARGS__); } while (0)
#define LOG_ERROR(...) do { if (log_enabled(SD_LOG_ERROR)) log_msg(SD_LOG_ERROR, __VA_ARGS__); } while (0)

#endif
