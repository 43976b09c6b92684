/*
 * http — the scheduler's HTTP endpoint on libmicrohttpd:
 *
 *   GET  /metrics              Prometheus text format (metrics.c)
 *   GET  /healthz              "ok" while the event loop turns; 503 when stopping
 *   GET  /status               JSON, one object per table (metrics.c)
 *   POST /run/{db}/{table}     start a run now: 202, 404 unknown, 409 running
 *
 * libmicrohttpd runs in "external epoll" mode: it owns no thread, its epoll
 * descriptor sits in the daemon's poll set and MHD_run() is called from the
 * event loop. Handlers therefore run on the loop's thread and can read and
 * change the job table without locks.
 *
 * Authentication: when scheduler.token_env/token_file names a token, POST
 * /run needs "Authorization: Bearer <token>". The read-only endpoints stay
 * open so Prometheus and health probes need no secret (the default listen
 * address is loopback; see docs/scheduler.md).
 */
#include "sched_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "log.h"

struct http {
	struct sched *s;
	struct MHD_Daemon *d;
	int epoll_fd;
	unsigned port;
};

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	(void)cls;
	if (log_enabled(SD_LOG_WARN)) {
		char msg[512];
		size_t n;
		vsnprintf(msg, sizeof msg, fmt, ap);
		n = strlen(msg);
		while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
			msg[--n] = '\0';
		log_event(SD_LOG_WARN, NULL, "http.error", NULL, 0, "%s", msg);
	}
}

static enum MHD_Result reply(struct MHD_Connection *c, unsigned status, const char *ctype,
			     struct buf *body)
{
	struct MHD_Response *r;
	enum MHD_Result ret;
	size_t len = body->len;
	char *p = buf_detach(body, NULL);

	if (!p)
		p = xstrdup("");
	r = MHD_create_response_from_buffer(len, p, MHD_RESPMEM_MUST_FREE);
	if (!r) {
		free(p);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	if (status == MHD_HTTP_UNAUTHORIZED)
		MHD_add_response_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer realm=\"snapdiff\"");
	ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result reply_json(struct MHD_Connection *c, unsigned status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static enum MHD_Result reply_json(struct MHD_Connection *c, unsigned status, const char *fmt, ...)
{
	struct buf b = BUF_INIT;
	va_list ap;

	va_start(ap, fmt);
	buf_vaddf(&b, fmt, ap);
	va_end(ap);
	buf_addch(&b, '\n');
	return reply(c, status, "application/json", &b);
}

/* Compares in time independent of where the first difference is. */
static bool token_ok(const char *have, const char *want)
{
	size_t hl = strlen(have), wl = strlen(want);
	unsigned char diff = hl != wl;

	for (size_t i = 0; i < wl; i++)
		diff |= (unsigned char)(want[i] ^ (i < hl ? have[i] : 0));
	return diff == 0;
}

static bool authorized(struct sched *s, struct MHD_Connection *c)
{
	const char *h;

	if (!s->token)
		return true;
	h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
	if (!h || strncasecmp(h, "Bearer ", 7) != 0)
		return false;
	h += 7;
	while (*h == ' ')
		h++;
	return token_ok(h, s->token);
}

/* Splits "/run/{db}/{table}" (MHD has already percent-decoded the path). */
static bool split_run_path(const char *url, char *db, size_t dbn, char *tbl, size_t tn)
{
	const char *p = url + 5, *slash = strchr(p, '/');
	size_t a, b;

	if (!slash)
		return false;
	a = (size_t)(slash - p);
	b = strlen(slash + 1);
	if (!a || !b || a >= dbn || b >= tn || strchr(slash + 1, '/'))
		return false;
	memcpy(db, p, a);
	db[a] = '\0';
	memcpy(tbl, slash + 1, b + 1);
	return true;
}

static void json_str(struct buf *b, const char *s)
{
	buf_addch(b, '"');
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;
		if (ch == '"' || ch == '\\')
			buf_addf(b, "\\%c", ch);
		else if (ch < 0x20)
			buf_addf(b, "\\u%04x", ch);
		else
			buf_addch(b, (char)ch);
	}
	buf_addch(b, '"');
}

static enum MHD_Result handle_run(struct http *h, struct MHD_Connection *c, const char *url)
{
	struct sched *s = h->s;
	char db[256], tbl[256];
	struct job *j;
	struct buf b = BUF_INIT;
	struct log_ctx ctx = { NULL, NULL, NULL };

	if (!authorized(s, c))
		return reply_json(c, MHD_HTTP_UNAUTHORIZED, "{\"error\":\"missing or wrong bearer token\"}");
	if (!split_run_path(url, db, sizeof db, tbl, sizeof tbl))
		return reply_json(c, MHD_HTTP_NOT_FOUND, "{\"error\":\"expected /run/{db}/{table}\"}");
	j = sched_job_find(s, db, tbl);
	if (!j || j->removed) {
		buf_addstr(&b, "{\"error\":\"not a configured table\",\"db\":");
		json_str(&b, db);
		buf_addstr(&b, ",\"table\":");
		json_str(&b, tbl);
		buf_addstr(&b, "}\n");
		return reply(c, MHD_HTTP_NOT_FOUND, "application/json", &b);
	}
	if (s->shutting_down)
		return reply_json(c, MHD_HTTP_SERVICE_UNAVAILABLE, "{\"error\":\"shutting down\"}");
	ctx.db = j->db;
	ctx.table = j->table;
	if (j->pid) {
		buf_addstr(&b, "{\"error\":\"already running\",\"attempt\":");
		json_str(&b, j->attempt_id);
		buf_addf(&b, ",\"pid\":%ld}\n", (long)j->pid);
		return reply(c, MHD_HTTP_CONFLICT, "application/json", &b);
	}
	if (!j->manual)
		log_event(SD_LOG_INFO, &ctx, "run.trigger", NULL, 0, "run requested over HTTP");
	j->manual = true;
	buf_addstr(&b, "{\"queued\":true,\"db\":");
	json_str(&b, j->db);
	buf_addstr(&b, ",\"table\":");
	json_str(&b, j->table);
	buf_addstr(&b, "}\n");
	return reply(c, MHD_HTTP_ACCEPTED, "application/json", &b);
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *c, const char *url,
			       const char *method, const char *version, const char *upload_data,
			       size_t *upload_data_size, void **con_cls)
{
	static int first_call_marker;
	struct http *h = cls;
	struct sched *s = h->s;
	struct buf b = BUF_INIT;
	bool get = !strcmp(method, MHD_HTTP_METHOD_GET) || !strcmp(method, MHD_HTTP_METHOD_HEAD);
	bool post = !strcmp(method, MHD_HTTP_METHOD_POST);

	(void)version;
	(void)upload_data;
	/* The first call only announces the request; a body (ignored) arrives
	 * in later calls; the reply goes out once it is complete. */
	if (!*con_cls) {
		*con_cls = &first_call_marker;
		return MHD_YES;
	}
	if (*upload_data_size) {
		*upload_data_size = 0;
		return MHD_YES;
	}

	if (!strncmp(url, "/run/", 5)) {
		if (!post)
			return reply_json(c, MHD_HTTP_METHOD_NOT_ALLOWED, "{\"error\":\"use POST\"}");
		return handle_run(h, c, url);
	}
	if (!get) {
		if (!strcmp(url, "/metrics") || !strcmp(url, "/healthz") || !strcmp(url, "/status"))
			return reply_json(c, MHD_HTTP_METHOD_NOT_ALLOWED, "{\"error\":\"use GET\"}");
		return reply_json(c, MHD_HTTP_NOT_FOUND, "{\"error\":\"not found\"}");
	}
	if (!strcmp(url, "/metrics")) {
		sched_render_metrics(s, &b, sched_now_wall());
		return reply(c, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8", &b);
	}
	if (!strcmp(url, "/healthz")) {
		buf_addstr(&b, s->shutting_down ? "stopping\n" : "ok\n");
		return reply(c, s->shutting_down ? MHD_HTTP_SERVICE_UNAVAILABLE : MHD_HTTP_OK,
			     "text/plain; charset=utf-8", &b);
	}
	if (!strcmp(url, "/status")) {
		sched_render_status(s, &b, sched_now_wall());
		return reply(c, MHD_HTTP_OK, "application/json", &b);
	}
	if (!strcmp(url, "/")) {
		buf_addstr(&b, "snapdiff scheduler: GET /metrics, /healthz, /status; POST /run/{db}/{table}\n");
		return reply(c, MHD_HTTP_OK, "text/plain; charset=utf-8", &b);
	}
	return reply_json(c, MHD_HTTP_NOT_FOUND, "{\"error\":\"not found\"}");
}

/* Parses "host:port", "[v6]:port" or ":port" into a socket address. */
static int parse_listen(const char *listen, struct sockaddr_storage *ss, socklen_t *sl,
			bool *v6, char *err, size_t errlen)
{
	char host[256];
	const char *colon, *port;
	struct addrinfo hints, *res = NULL;
	int rc;

	if (listen[0] == '[') {
		const char *close = strchr(listen, ']');
		if (!close || close[1] != ':') {
			snprintf(err, errlen, "listen '%s': expected [address]:port", listen);
			return -1;
		}
		snprintf(host, sizeof host, "%.*s", (int)(close - listen - 1), listen + 1);
		port = close + 2;
	} else {
		colon = strrchr(listen, ':');
		if (!colon) {
			snprintf(err, errlen, "listen '%s': expected host:port", listen);
			return -1;
		}
		snprintf(host, sizeof host, "%.*s", (int)(colon - listen), listen);
		port = colon + 1;
	}
	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	rc = getaddrinfo(host[0] ? host : NULL, port, &hints, &res);
	if (rc != 0 || !res) {
		snprintf(err, errlen, "listen '%s': %s", listen, gai_strerror(rc));
		return -1;
	}
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	*sl = res->ai_addrlen;
	*v6 = res->ai_family == AF_INET6;
	freeaddrinfo(res);
	return 0;
}

struct http *sched_http_start(struct sched *s, const char *listen, char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	bool v6;
	struct http *h;
	const union MHD_DaemonInfo *info;
	unsigned flags = MHD_USE_EPOLL | MHD_USE_ERROR_LOG;

	if (parse_listen(listen, &ss, &sl, &v6, err, errlen) < 0)
		return NULL;
	(void)sl;
	if (v6)
		flags |= MHD_USE_IPv6;
	h = xcalloc(1, sizeof *h);
	h->s = s;
	/* the logger must come first or MHD logs the earlier options' errors itself */
	h->d = MHD_start_daemon(flags, 0, NULL, NULL, handler, h,
				MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
				MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
				MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)10,
				MHD_OPTION_CONNECTION_LIMIT, (unsigned)64,
				MHD_OPTION_END);
	if (!h->d) {
		snprintf(err, errlen, "cannot listen on %s (address in use or not available)", listen);
		free(h);
		return NULL;
	}
	info = MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_EPOLL_FD);
	h->epoll_fd = info ? info->epoll_fd : -1;
	info = MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_BIND_PORT);
	h->port = info ? info->port : 0;
	if (h->epoll_fd < 0) {
		snprintf(err, errlen, "libmicrohttpd has no epoll descriptor");
		MHD_stop_daemon(h->d);
		free(h);
		return NULL;
	}
	return h;
}

void sched_http_stop(struct http *h)
{
	if (!h)
		return;
	MHD_stop_daemon(h->d);
	free(h);
}

int sched_http_fd(struct http *h)
{
	return h ? h->epoll_fd : -1;
}

unsigned sched_http_port(struct http *h)
{
	return h ? h->port : 0;
}

int sched_http_timeout_ms(struct http *h)
{
	MHD_UNSIGNED_LONG_LONG t;

	if (!h || MHD_get_timeout(h->d, &t) != MHD_YES)
		return -1;
	return t > 60000 ? 60000 : (int)t;
}

void sched_http_run(struct http *h)
{
	if (h)
		MHD_run(h->d);
}
