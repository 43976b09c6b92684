/*
 * daemon — `snapdiff scheduler --config FILE`: option parsing, signals,
 * configuration reloads and the event loop.
 *
 * The loop follows Redis' serverCron: one ppoll() with a short timeout
 * (TICK_MS), after which every chore runs:
 *   - a pending SIGHUP reloads the configuration (a bad file is refused,
 *     logged with its file:line message, and the old one kept);
 *   - a pending SIGTERM/SIGINT starts the shutdown (no new runs, SIGTERM to
 *     children, SIGKILL after the grace period, exit after shutdown_wait);
 *   - exited children are reaped and their results applied (SIGCHLD only
 *     wakes the loop; waitpid(WNOHANG) runs every tick anyway);
 *   - runs past their timeout get SIGTERM, then SIGKILL;
 *   - due jobs start within max_concurrent and max_per_host;
 *   - freshness is re-read from the state file (every STATE_PERIOD_MS, and
 *     soon after a run ends);
 *   - the HTTP server and the children's stdout pipes are served.
 *
 * Signals are blocked except inside ppoll(), so handlers (which only set
 * flags) never interrupt the loop halfway through a change and no wake-up
 * is lost between checking a flag and sleeping. A second SIGINT exits at
 * once (children then get SIGTERM from PR_SET_PDEATHSIG).
 */
#include "scheduler.h"
#include "sched_int.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "error.h"
#include "log.h"
#include "state.h"

#define TICK_MS 100
#define STATE_PERIOD_MS 5000
#define MAX_START_PER_TICK 64

static volatile sig_atomic_t got_term, got_int, got_hup, got_chld;

static void on_signal(int sig)
{
	switch (sig) {
	case SIGINT:
		if (got_int || got_term) {
			static const char msg[] = "snapdiff scheduler: second interrupt, exiting now\n";
			if (write(STDERR_FILENO, msg, sizeof msg - 1) < 0)
				_exit(1);
			_exit(1);
		}
		got_int = 1;
		break;
	case SIGTERM:
		got_term = 1;
		break;
	case SIGHUP:
		got_hup = 1;
		break;
	case SIGCHLD:
		got_chld = 1;
		break;
	}
}

static void usage(FILE *out)
{
	fputs("usage: snapdiff scheduler --config FILE [--listen HOST:PORT] [--log-level LEVEL]\n"
	      "                          [--log-format json|text]\n"
	      "\n"
	      "Runs `snapdiff run` for every configured (database, table) on its schedule\n"
	      "and serves GET /metrics, /healthz, /status and POST /run/{db}/{table}.\n"
	      "SIGHUP reloads the configuration; SIGTERM or SIGINT stops it.\n"
	      "See docs/scheduler.md.\n", out);
}

/* ---- state freshness -------------------------------------------------------- */

static void on_state_row(void *ctx, const char *db, const char *tbl,
			 const struct st_table_info *info, const char *last_run_json)
{
	struct sched *s = ctx;
	struct job *j = sched_job_find(s, db, tbl);

	(void)last_run_json;
	if (!j)
		return;
	j->in_state = true;
	j->last_success = info->last_success;
	j->state_rows = info->rows;
	j->generation = info->generation;
}

/* Reads every table's last success from the state file. A missing file is
 * not created (a monitoring path must not write); errors are logged once
 * per streak so a broken file does not flood the log every 5 s. */
static void refresh_state(struct sched *s)
{
	struct st_db *db = NULL;
	struct sderr e = { 0, "" };
	const char *path = s->cfg->state_path;

	s->state_refreshed_mono = sched_now_mono();
	s->state_dirty = false;
	if (!path || access(path, F_OK) != 0)
		return;
	if (st_open(path, &db, &e) != SD_OK || st_status(db, on_state_row, s, &e) != SD_OK) {
		if (!s->state_error_logged)
			log_event(SD_LOG_WARN, NULL, "state.error", NULL, 0,
				  "cannot read freshness from the state file: %s", e.msg);
		s->state_error_logged = true;
	} else {
		s->state_error_logged = false;
	}
	if (db)
		st_close(db);
}

/* ---- configuration ---------------------------------------------------------- */

static const char *listen_of(struct sched *s, const struct cfg *c)
{
	if (s->listen_override)
		return s->listen_override;
	return c->scheduler.listen && *c->scheduler.listen ? c->scheduler.listen : "127.0.0.1:9187";
}

static bool listen_disabled(const char *l)
{
	return !strcmp(l, "none") || !strcmp(l, "off");
}

static void apply_log_level(struct sched *s, const struct cfg *c)
{
	const char *lvl = s->log_level_override ? s->log_level_override : c->scheduler.log_level;
	if (lvl && log_set_level_name(lvl) < 0)
		log_event(SD_LOG_WARN, NULL, "config.log_level", NULL, 0, "unknown log level '%s'", lvl);
}

/* Loads the file and everything derived from it. On failure fills msg and
 * returns -1 with *out NULL. */
static int load_config(struct sched *s, struct cfg **out, char **token, char *msg, size_t msglen)
{
	struct sderr e = { 0, "" };
	struct cfg *c = cfg_load(s->config_path, &e);

	*out = NULL;
	*token = NULL;
	if (!c) {
		snprintf(msg, msglen, "%s", e.msg);
		return -1;
	}
	if (cfg_resolve_secret(&c->scheduler.token, "scheduler token", token, &e) != SD_OK) {
		snprintf(msg, msglen, "%s", e.msg);
		cfg_free(c);
		return -1;
	}
	if (c->n_databases == 0 || c->n_tables == 0) {
		snprintf(msg, msglen, "%s: no databases or no tables configured: nothing to schedule", s->config_path);
		cfg_free(c);
		free(*token);
		*token = NULL;
		return -1;
	}
	*out = c;
	return 0;
}

static void reload(struct sched *s)
{
	struct cfg *c;
	char *token;
	char msg[1200];
	const char *new_listen;

	log_event(SD_LOG_INFO, NULL, "config.reload", NULL, 0, "SIGHUP: reloading %s", s->config_path);
	if (load_config(s, &c, &token, msg, sizeof msg) < 0 ||
	    sched_jobs_apply(s, c, sched_now_wall(), msg, sizeof msg) < 0) {
		if (c) {
			cfg_free(c);
			free(token);
		}
		s->reloads_failed++;
		log_event(SD_LOG_ERROR, NULL, "config.refused", NULL, 0,
			  "configuration refused, keeping the previous one: %s", msg);
		return;
	}
	new_listen = listen_of(s, c);
	if (strcmp(new_listen, s->listen) != 0) {
		struct http *h = NULL;
		char err[300] = "";
		if (listen_disabled(new_listen) || (h = sched_http_start(s, new_listen, err, sizeof err))) {
			sched_http_stop(s->http);
			s->http = h;
			free(s->listen);
			s->listen = xstrdup(new_listen);
			log_event(SD_LOG_INFO, NULL, "http.listen", NULL, 0, "HTTP now on %s", new_listen);
		} else {
			log_event(SD_LOG_ERROR, NULL, "http.error", NULL, 0,
				  "%s; still serving on %s", err, s->listen);
		}
	}
	if (token)
		log_add_secret(token);
	free(s->token);
	s->token = token;
	cfg_free(s->cfg);
	s->cfg = c;
	apply_log_level(s, c);
	s->reloads_ok++;
	refresh_state(s);
	{
		char n[24];
		snprintf(n, sizeof n, "%zu", s->n_jobs);
		log_event(SD_LOG_INFO, NULL, "config.loaded", (const char *const[]){ "tables#", n }, 1,
			  "configuration reloaded: %zu tables", s->n_jobs);
	}
}

/* ---- the loop --------------------------------------------------------------- */

static void start_due(struct sched *s)
{
	struct job *pick[MAX_START_PER_TICK];
	double now = sched_now_wall();
	size_t n = sched_pick(s, now, pick, MAX_START_PER_TICK);

	for (size_t i = 0; i < n; i++) {
		struct job *j = pick[i];
		const char *trigger = j->manual ? "manual" : j->retry_wall > 0 ? "retry" : "schedule";
		if (sched_child_start(s, j, trigger) < 0) {
			/* fork failed (out of processes or memory): try again later
			 * rather than spinning every tick */
			j->manual = false;
			j->retry_wall = now + 10;
		}
	}
}

static int run_loop(struct sched *s)
{
	struct pollfd *fds = NULL;
	size_t fds_cap = 0;
	sigset_t during_poll;
	double shutdown_deadline = 0;
	bool shutdown_started = false;

	sigprocmask(SIG_SETMASK, NULL, &during_poll);
	sigdelset(&during_poll, SIGTERM);
	sigdelset(&during_poll, SIGINT);
	sigdelset(&during_poll, SIGHUP);
	sigdelset(&during_poll, SIGCHLD);

	for (;;) {
		double now_mono;
		size_t nf = 0;
		int timeout_ms = TICK_MS, hto;
		struct timespec ts;
		int rc;

		if (got_hup) {
			got_hup = 0;
			if (!s->shutting_down)
				reload(s);
		}
		if ((got_term || got_int) && !shutdown_started) {
			shutdown_started = true;
			s->shutting_down = true;
			shutdown_deadline = sched_now_mono() + s->shutdown_wait;
			log_event(SD_LOG_INFO, NULL, "shutdown", NULL, 0,
				  "%s: stopping; %d run(s) in progress get SIGTERM", got_term ? "SIGTERM" : "SIGINT",
				  s->running);
			sched_child_signal_all(s, SIGTERM);
		}
		got_chld = 0;
		sched_child_reap(s);
		now_mono = sched_now_mono();
		sched_child_check_timeouts(s, now_mono);
		if (s->shutting_down) {
			if (s->running == 0)
				break;
			if (now_mono >= shutdown_deadline) {
				log_event(SD_LOG_WARN, NULL, "shutdown.kill", NULL, 0,
					  "%d run(s) still alive after %.0fs; sending SIGKILL", s->running,
					  s->shutdown_wait);
				sched_child_signal_all(s, SIGKILL);
				/* SIGKILL cannot be ignored: these waits end promptly */
				for (int tries = 0; tries < 50 && s->running > 0; tries++) {
					struct timespec pause = { 0, 20 * 1000 * 1000 };
					sched_child_reap(s);
					nanosleep(&pause, NULL);
				}
				break;
			}
		} else {
			start_due(s);
		}
		if (s->state_dirty ? now_mono - s->state_refreshed_mono > 0.5
				   : now_mono - s->state_refreshed_mono > STATE_PERIOD_MS / 1000.0)
			refresh_state(s);
		sched_jobs_gc(s);

		if (fds_cap < s->n_jobs + 1) {
			fds_cap = s->n_jobs + 1;
			fds = xrealloc(fds, fds_cap * sizeof *fds);
		}
		if (s->http) {
			fds[nf].fd = sched_http_fd(s->http);
			fds[nf].events = POLLIN;
			fds[nf].revents = 0;
			nf++;
			hto = sched_http_timeout_ms(s->http);
			if (hto >= 0 && hto < timeout_ms)
				timeout_ms = hto;
		}
		for (size_t i = 0; i < s->n_jobs; i++) {
			if (s->jobs[i]->out_fd < 0)
				continue;
			fds[nf].fd = s->jobs[i]->out_fd;
			fds[nf].events = POLLIN;
			fds[nf].revents = 0;
			nf++;
		}
		ts.tv_sec = timeout_ms / 1000;
		ts.tv_nsec = (long)(timeout_ms % 1000) * 1000000L;
		rc = ppoll(fds, nf, &ts, &during_poll);
		if (rc < 0 && errno != EINTR) {
			log_event(SD_LOG_ERROR, NULL, "loop.error", NULL, 0, "ppoll: %s", strerror(errno));
			free(fds);
			return SD_ERR_INTERNAL;
		}
		for (size_t i = 0; i < s->n_jobs; i++)
			if (s->jobs[i]->out_fd >= 0)
				sched_child_read(s->jobs[i]);
		sched_http_run(s->http);
	}
	free(fds);
	return SD_OK;
}

/* ---- main ------------------------------------------------------------------- */

enum {
	OPT_LISTEN = 256,
	OPT_RUN_COMMAND,
	OPT_GRACE,
	OPT_SHUTDOWN_WAIT,
	OPT_LOG_LEVEL,
	OPT_LOG_FORMAT,
};

static bool parse_seconds(const char *s, double *out)
{
	char *end;
	double v = strtod(s, &end);
	if (end == s || *end || !(v >= 0) || v > 86400)
		return false;
	*out = v;
	return true;
}

int scheduler_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "listen", required_argument, NULL, OPT_LISTEN },
		{ "log-level", required_argument, NULL, OPT_LOG_LEVEL },
		{ "log-format", required_argument, NULL, OPT_LOG_FORMAT },
		{ "help", no_argument, NULL, 'h' },
		/* hidden, for tests and operators: a stand-in for `snapdiff run`,
		 * the SIGTERM->SIGKILL grace and the shutdown bound */
		{ "run-command", required_argument, NULL, OPT_RUN_COMMAND },
		{ "grace", required_argument, NULL, OPT_GRACE },
		{ "shutdown-wait", required_argument, NULL, OPT_SHUTDOWN_WAIT },
		{ NULL, 0, NULL, 0 },
	};
	struct sched s;
	const char *config = NULL;
	char msg[1200], real[PATH_MAX];
	struct sigaction sa;
	sigset_t block;
	int opt, rc;
	uint64_t seed = 0;

	memset(&s, 0, sizeof s);
	s.grace = 30;
	s.shutdown_wait = 60;
	log_init("scheduler");
	optind = 1;
	while ((opt = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
		switch (opt) {
		case 'c':
			config = optarg;
			break;
		case OPT_LISTEN:
			s.listen_override = optarg;
			break;
		case OPT_LOG_LEVEL:
			if (log_set_level_name(optarg) < 0) {
				fprintf(stderr, "snapdiff scheduler: unknown log level '%s'\n", optarg);
				return SD_ERR_USAGE;
			}
			s.log_level_override = optarg;
			break;
		case OPT_LOG_FORMAT:
			if (!strcmp(optarg, "json"))
				log_set_format(SD_LOG_JSON);
			else if (!strcmp(optarg, "text"))
				log_set_format(SD_LOG_TEXT);
			else {
				fprintf(stderr, "snapdiff scheduler: --log-format is json or text\n");
				return SD_ERR_USAGE;
			}
			break;
		case OPT_RUN_COMMAND:
			s.run_command = optarg;
			break;
		case OPT_GRACE:
			if (!parse_seconds(optarg, &s.grace)) {
				fprintf(stderr, "snapdiff scheduler: bad --grace '%s'\n", optarg);
				return SD_ERR_USAGE;
			}
			break;
		case OPT_SHUTDOWN_WAIT:
			if (!parse_seconds(optarg, &s.shutdown_wait)) {
				fprintf(stderr, "snapdiff scheduler: bad --shutdown-wait '%s'\n", optarg);
				return SD_ERR_USAGE;
			}
			break;
		case 'h':
			usage(stdout);
			return SD_OK;
		default:
			usage(stderr);
			return SD_ERR_USAGE;
		}
	}
	if (!config || optind < argc) {
		usage(stderr);
		return SD_ERR_USAGE;
	}
	/* children get an absolute path: they must find the same file whatever
	 * their working directory */
	if (!realpath(config, real)) {
		log_event(SD_LOG_ERROR, NULL, "config.error", NULL, 0, "%s: %s", config, strerror(errno));
		return SD_ERR_CONFIG;
	}
	s.config_path = xstrdup(real);
	if (s.run_command && strchr(s.run_command, '/')) {
		if (!realpath(s.run_command, real)) {
			fprintf(stderr, "snapdiff scheduler: --run-command %s: %s\n", s.run_command, strerror(errno));
			free(s.config_path);
			return SD_ERR_USAGE;
		}
		s.run_command = real;
	}
	s.run_command = xstrdup(s.run_command ? s.run_command : "/proc/self/exe");
	if (getrandom(&seed, sizeof seed, 0) != sizeof seed)
		seed = (uint64_t)getpid() * 0x9e3779b97f4a7c15ULL ^ (uint64_t)time(NULL);
	s.rng = seed | 1;
	s.started_wall = sched_now_wall();

	if (load_config(&s, &s.cfg, &s.token, msg, sizeof msg) < 0) {
		log_event(SD_LOG_ERROR, NULL, "config.error", NULL, 0, "refusing to start: %s", msg);
		rc = SD_ERR_CONFIG;
		goto out;
	}
	apply_log_level(&s, s.cfg);
	if (s.token)
		log_add_secret(s.token);
	if (sched_jobs_apply(&s, s.cfg, sched_now_wall(), msg, sizeof msg) < 0) {
		log_event(SD_LOG_ERROR, NULL, "config.error", NULL, 0, "refusing to start: %s", msg);
		rc = SD_ERR_CONFIG;
		goto out;
	}

	/* Handlers first, then block: a signal arriving in between is pending
	 * and handled at the first ppoll. */
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sa.sa_flags = SA_NOCLDSTOP;
	sigaction(SIGCHLD, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGHUP);
	sigaddset(&block, SIGCHLD);
	sigprocmask(SIG_BLOCK, &block, NULL);

	s.listen = xstrdup(listen_of(&s, s.cfg));
	if (!listen_disabled(s.listen)) {
		char err[300];
		s.http = sched_http_start(&s, s.listen, err, sizeof err);
		if (!s.http) {
			log_event(SD_LOG_ERROR, NULL, "http.error", NULL, 0, "refusing to start: %s", err);
			rc = SD_ERR_CONFIG;
			goto out;
		}
	}

	/* freshness first, so a restart does not re-run tables that are fresh */
	refresh_state(&s);
	for (size_t i = 0; i < s.n_jobs; i++)
		sched_job_schedule_initial(&s, s.jobs[i], sched_now_wall());
	{
		char n[24], port[16], pid[24];
		snprintf(n, sizeof n, "%zu", s.n_jobs);
		snprintf(port, sizeof port, "%u", sched_http_port(s.http));
		snprintf(pid, sizeof pid, "%ld", (long)getpid());
		log_event(SD_LOG_INFO, NULL, "scheduler.start",
			  (const char *const[]){ "tables#", n, "listen", s.listen, "port#", s.http ? port : NULL,
						 "config", s.config_path },
			  4, "scheduler started: %zu tables, HTTP on %s", s.n_jobs, s.listen);
	}

	rc = run_loop(&s);
	log_event(SD_LOG_INFO, NULL, "scheduler.stop", NULL, 0, "scheduler stopped");
out:
	sched_http_stop(s.http);
	sched_jobs_free(&s);
	if (s.cfg)
		cfg_free(s.cfg);
	free(s.token);
	free(s.listen);
	free(s.config_path);
	free(s.run_command);
	return rc;
}
