/*
 * log — one line per event on stderr, JSON for machines or text for people.
 *
 * Lines are built in a stack buffer and written with one write(2): the daemon
 * and its children share stderr, and a single write of less than PIPE_BUF
 * bytes is what keeps their lines whole. The buffer is bounded, so an
 * over-long message is cut (marked with "...") rather than split; the JSON
 * stays valid because the cut is made before escaping and the line is
 * rebuilt. Registered secrets are masked while strings are copied in, so no
 * unmasked copy of a line ever exists.
 */
#include "log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

enum sd_log_level log_level_ = SD_LOG_INFO;
static enum sd_log_format log_format_ = SD_LOG_AUTO;
static int log_json_ = -1;              /* resolved format; -1 = not yet */
static const char *log_component_ = "snapdiff";

static char ctx_run_id_[128];
static char ctx_db_[256];
static char ctx_table_[256];
static int ctx_set_;                    /* bit 0 run_id, 1 db, 2 table */

#define MAX_SECRETS 16
static char *secrets_[MAX_SECRETS];
static size_t secret_len_[MAX_SECRETS];
static int n_secrets_;

static const char *const level_names[] = { "debug", "info", "warn", "error", "off" };

const char *log_level_name(enum sd_log_level level)
{
	if ((int)level < 0 || level > SD_LOG_OFF)
		return "?";
	return level_names[level];
}

void log_set_level(enum sd_log_level level)
{
	log_level_ = level;
}

enum sd_log_level log_get_level(void)
{
	return log_level_;
}

int log_set_level_name(const char *name)
{
	if (!name)
		return -1;
	for (int i = 0; i <= SD_LOG_OFF; i++) {
		if (strcasecmp(name, level_names[i]) == 0) {
			log_level_ = (enum sd_log_level)i;
			return 0;
		}
	}
	if (strcasecmp(name, "warning") == 0) {
		log_level_ = SD_LOG_WARN;
		return 0;
	}
	return -1;
}

void log_set_format(enum sd_log_format format)
{
	log_format_ = format;
	log_json_ = -1;
}

bool log_is_json(void)
{
	if (log_json_ < 0) {
		if (log_format_ == SD_LOG_JSON)
			log_json_ = 1;
		else if (log_format_ == SD_LOG_TEXT)
			log_json_ = 0;
		else
			log_json_ = !isatty(STDERR_FILENO);
	}
	return log_json_ == 1;
}

void log_init(const char *component)
{
	const char *v;

	if (component)
		log_component_ = component;
	v = getenv("SNAPDIFF_LOG_LEVEL");
	if (v && *v)
		log_set_level_name(v);
	v = getenv("SNAPDIFF_LOG_FORMAT");
	if (v && strcasecmp(v, "json") == 0)
		log_set_format(SD_LOG_JSON);
	else if (v && strcasecmp(v, "text") == 0)
		log_set_format(SD_LOG_TEXT);
}

static void set_field(char *dst, size_t cap, const char *src, int bit)
{
	if (src) {
		snprintf(dst, cap, "%s", src);
		ctx_set_ |= bit;
	} else {
		dst[0] = '\0';
		ctx_set_ &= ~bit;
	}
}

void log_set_context(const char *run_id, const char *db, const char *table)
{
	set_field(ctx_run_id_, sizeof ctx_run_id_, run_id, 1);
	set_field(ctx_db_, sizeof ctx_db_, db, 2);
	set_field(ctx_table_, sizeof ctx_table_, table, 4);
}

void log_add_secret(const char *secret)
{
	size_t n;

	if (!secret || (n = strlen(secret)) < 4 || n_secrets_ >= MAX_SECRETS)
		return;
	for (int i = 0; i < n_secrets_; i++)
		if (strcmp(secrets_[i], secret) == 0)
			return;
	secrets_[n_secrets_] = strdup(secret);
	if (!secrets_[n_secrets_])
		return;
	secret_len_[n_secrets_++] = n;
}

/* ---- line building --------------------------------------------------------- */

/* A bounded appender: never writes past cap-2 so that '\n' and NUL fit. */
struct lbuf {
	char *p;
	int len;
	int cap;
	int over;       /* bytes that did not fit */
};

static void lb_addn(struct lbuf *b, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (b->len < b->cap - 2)
			b->p[b->len++] = s[i];
		else
			b->over++;
	}
}

static void lb_add(struct lbuf *b, const char *s)
{
	lb_addn(b, s, strlen(s));
}

/* Length of the secret starting at s, or 0. */
static size_t secret_at(const char *s, size_t left)
{
	for (int i = 0; i < n_secrets_; i++)
		if (secret_len_[i] <= left && memcmp(s, secrets_[i], secret_len_[i]) == 0)
			return secret_len_[i];
	return 0;
}

/* Length of a valid UTF-8 sequence at s, or 0 when the bytes are not one. */
static size_t utf8_len(const unsigned char *s, size_t left)
{
	size_t n;
	unsigned c = s[0];

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		n = 2;
	else if (c >= 0xe0 && c <= 0xef)
		n = 3;
	else if (c >= 0xf0 && c <= 0xf4)
		n = 4;
	else
		return 0;
	if (n > left)
		return 0;
	for (size_t i = 1; i < n; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	return n;
}

/* Appends s (at most max bytes of it, -1 = all), masking secrets; in JSON
 * mode escaped as a string body, in text mode with control characters made
 * visible so that one event stays one line. */
static void lb_str(struct lbuf *b, const char *s, long max, bool json)
{
	size_t len = strlen(s), i = 0;
	char esc[8];

	if (max >= 0 && (size_t)max < len)
		len = (size_t)max;
	while (i < len) {
		size_t k = n_secrets_ ? secret_at(s + i, len - i) : 0;
		unsigned char c = (unsigned char)s[i];

		if (k) {
			lb_add(b, "***");
			i += k;
			continue;
		}
		if (c == '"' && json) {
			lb_add(b, "\\\"");
		} else if (c == '\\' && json) {
			lb_add(b, "\\\\");
		} else if (c == '\n') {
			lb_add(b, "\\n");
		} else if (c == '\r') {
			lb_add(b, "\\r");
		} else if (c == '\t') {
			lb_add(b, json ? "\\t" : " ");
		} else if (c < 0x20 || c == 0x7f) {
			snprintf(esc, sizeof esc, "\\u%04x", c);
			lb_add(b, esc);
		} else if (c >= 0x80) {
			size_t n = utf8_len((const unsigned char *)s + i, len - i);
			if (n == 0) {
				/* not UTF-8 (a binary key in a MariaDB message): U+FFFD keeps the JSON valid */
				lb_add(b, "\xef\xbf\xbd");
				n = 1;
			} else {
				lb_addn(b, s + i, n);
			}
			i += n;
			continue;
		} else {
			lb_addn(b, s + i, 1);
		}
		i++;
	}
}

static bool looks_numeric(const char *v)
{
	char *end;

	if (!*v)
		return false;
	strtod(v, &end);
	return *end == '\0' && strcmp(v, "nan") != 0 && strcmp(v, "inf") != 0;
}

static void lb_field(struct lbuf *b, bool json, const char *key, const char *val, bool number)
{
	size_t kl = strlen(key);

	if (kl && key[kl - 1] == '#') {
		kl--;
		number = true;
	}
	if (number && !looks_numeric(val))
		number = false;
	if (json) {
		lb_add(b, ",\"");
		lb_addn(b, key, kl);
		lb_add(b, "\":");
		if (number) {
			lb_add(b, val);
		} else {
			lb_add(b, "\"");
			lb_str(b, val, 512, true);
			lb_add(b, "\"");
		}
	} else {
		lb_add(b, " ");
		lb_addn(b, key, kl);
		lb_add(b, "=");
		if (!number && (strchr(val, ' ') || !*val)) {
			lb_add(b, "\"");
			lb_str(b, val, 256, false);
			lb_add(b, "\"");
		} else {
			lb_str(b, val, 256, false);
		}
	}
}

static int build(char *out, int cap, enum sd_log_level level, bool json, double now,
		 const struct log_ctx *ctx, const char *event, const char *const *kv,
		 int n_kv, const char *msg, long msg_max, int *over)
{
	struct lbuf b = { out, 0, cap, 0 };
	char ts[48], num[32];
	time_t sec = (time_t)now;
	struct tm tm;
	int ms = (int)((now - (double)sec) * 1000.0);

	if (ms < 0)
		ms = 0;
	if (ms > 999)
		ms = 999;
	gmtime_r(&sec, &tm);
	strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(ts + strlen(ts), sizeof ts - strlen(ts), ".%03dZ", ms);
	snprintf(num, sizeof num, "%ld", (long)getpid());

	if (json) {
		lb_add(&b, "{\"ts\":\"");
		lb_add(&b, ts);
		lb_add(&b, "\",\"level\":\"");
		lb_add(&b, log_level_name(level));
		lb_add(&b, "\",\"pid\":");
		lb_add(&b, num);
		lb_field(&b, true, "component", log_component_, false);
		if (event)
			lb_field(&b, true, "event", event, false);
		if (ctx && ctx->run_id)
			lb_field(&b, true, "run_id", ctx->run_id, false);
		if (ctx && ctx->db)
			lb_field(&b, true, "db", ctx->db, false);
		if (ctx && ctx->table)
			lb_field(&b, true, "table", ctx->table, false);
		for (int i = 0; i + 1 < 2 * n_kv; i += 2)
			if (kv[i] && kv[i + 1])
				lb_field(&b, true, kv[i], kv[i + 1], false);
		lb_add(&b, ",\"msg\":\"");
		lb_str(&b, msg, msg_max, true);
		if (msg_max >= 0)
			lb_add(&b, "...");
		lb_add(&b, "\"}");
		*over = b.over;
		if (b.over) {
			/* only when even an empty message does not fit (huge fields):
			 * keep the line an object, if not a faithful one */
			b.over = 0;
			b.len = cap - 4;
			lb_add(&b, "\"}");
		}
	} else {
		lb_add(&b, num);
		lb_add(&b, " ");
		lb_add(&b, ts);
		lb_add(&b, " ");
		lb_add(&b, log_level_name(level));
		lb_add(&b, " ");
		lb_str(&b, msg, msg_max, false);
		if (msg_max >= 0)
			lb_add(&b, "...");
		if (event)
			lb_field(&b, false, "event", event, false);
		if (ctx && ctx->run_id)
			lb_field(&b, false, "run_id", ctx->run_id, false);
		if (ctx && ctx->db)
			lb_field(&b, false, "db", ctx->db, false);
		if (ctx && ctx->table)
			lb_field(&b, false, "table", ctx->table, false);
		for (int i = 0; i + 1 < 2 * n_kv; i += 2)
			if (kv[i] && kv[i + 1])
				lb_field(&b, false, kv[i], kv[i + 1], false);
		*over = b.over;
	}
	out[b.len++] = '\n';
	out[b.len] = '\0';
	return b.len;
}

int log_format_line(char *out, int cap, enum sd_log_level level, bool json, double now,
		    const struct log_ctx *ctx, const char *event, const char *const *kv,
		    int n_kv, const char *msg)
{
	int over = 0, len;
	long max = -1;

	if (cap < 64) {
		if (cap > 0)
			out[0] = '\0';
		return 0;
	}
	/* the promise is "at most LOG_LINE_MAX bytes, newline included" whatever
	 * buffer the caller has; with a bigger buffer an escape landing on the
	 * boundary (their position moves with the pid's digits) gave one more */
	if (cap > LOG_LINE_MAX + 1)
		cap = LOG_LINE_MAX + 1;
	len = build(out, cap, level, json, now, ctx, event, kv, n_kv, msg, max, &over);
	if (over > 0) {
		/* Too long: cut the message, not the fields. Escaping expands
		 * bytes unevenly, so search for the longest prefix that fits
		 * (a dozen cheap rebuilds, and only for over-long messages). */
		long lo = 0, hi = (long)strlen(msg);
		while (lo < hi) {
			long mid = lo + (hi - lo + 1) / 2;
			build(out, cap, level, json, now, ctx, event, kv, n_kv, msg, mid, &over);
			if (over > 0)
				hi = mid - 1;
			else
				lo = mid;
		}
		max = lo;
		/* do not cut inside a UTF-8 sequence */
		while (max > 0 && ((unsigned char)msg[max] & 0xc0) == 0x80)
			max--;
		len = build(out, cap, level, json, now, ctx, event, kv, n_kv, msg, max, &over);
	}
	return len;
}

static double now_realtime(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void write_line(const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(STDERR_FILENO, p, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return;         /* nowhere left to complain to */
		}
		p += w;
		n -= (size_t)w;
	}
}

void log_vevent(enum sd_log_level level, const struct log_ctx *ctx, const char *event,
		const char *const *kv, int n_kv, const char *fmt, va_list ap)
{
	char msg[LOG_LINE_MAX];
	char line[LOG_LINE_MAX + 2];
	int saved = errno;      /* callers may log between a failure and reading errno */
	int len;

	if (!log_enabled(level) || level >= SD_LOG_OFF)
		return;
	vsnprintf(msg, sizeof msg, fmt, ap);
	len = log_format_line(line, (int)sizeof line, level, log_is_json(), now_realtime(),
			      ctx, event, kv, n_kv, msg);
	write_line(line, (size_t)len);
	errno = saved;
}

void log_event(enum sd_log_level level, const struct log_ctx *ctx, const char *event,
	       const char *const *kv, int n_kv, const char *fmt, ...)
{
	va_list ap;

	if (!log_enabled(level))
		return;
	va_start(ap, fmt);
	log_vevent(level, ctx, event, kv, n_kv, fmt, ap);
	va_end(ap);
}

void log_msg(enum sd_log_level level, const char *fmt, ...)
{
	va_list ap;
	struct log_ctx ctx = {
		(ctx_set_ & 1) ? ctx_run_id_ : NULL,
		(ctx_set_ & 2) ? ctx_db_ : NULL,
		(ctx_set_ & 4) ? ctx_table_ : NULL,
	};

	if (!log_enabled(level))
		return;
	va_start(ap, fmt);
	log_vevent(level, &ctx, NULL, NULL, 0, fmt, ap);
	va_end(ap);
}
