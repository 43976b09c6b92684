/*
 * sched_int — the scheduler daemon's private types, shared by its files:
 *
 *   daemon.c   scheduler_main(): options, signals, the event loop, reloads
 *   jobs.c     the job table and the scheduling policy (no I/O)
 *   child.c    starting, watching, timing out and reaping `snapdiff run`
 *   http.c     the libmicrohttpd endpoint (/metrics /healthz /status /run)
 *   metrics.c  rendering of /metrics and /status
 *
 * Everything runs on one thread: the HTTP server is driven from the event
 * loop (libmicrohttpd's external epoll mode), so handlers read and change the
 * job table without locks, and signal handlers only set flags.
 *
 * Times: *_wall are unix seconds (CLOCK_REALTIME, what schedules and reports
 * use), *_mono are CLOCK_MONOTONIC seconds (what timeouts and durations use,
 * immune to clock steps).
 */
#ifndef SD_SCHED_INT_H
#define SD_SCHED_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "buf.h"
#include "config.h"
#include "cron.h"

/* How a run ended, as the metrics' status label. */
enum run_status {
	RS_OK = 0,      /* exit 0                                                 */
	RS_FAILED,      /* any other exit code                                    */
	RS_REFUSED,     /* exit 7: the mass-delete guard refused it               */
	RS_SKIPPED,     /* exit 99: another run held the (database, table) lock   */
	RS_TIMEOUT,     /* stopped by us after the table's timeout                */
	RS_CRASHED,     /* ended by a signal we did not send                      */
	RS_CANCELLED,   /* stopped by us at shutdown                              */
	RS_N
};
const char *sched_status_name(enum run_status st);

/* Upper bounds of the run duration histogram, seconds. */
#define SCHED_N_BUCKETS 11
extern const double sched_buckets[SCHED_N_BUCKETS];

/* A table's schedule, copied out of the configuration so that a reload can
 * compare old and new. */
struct sched_spec {
	double every;
	double jitter;
	char *cron_text;        /* owned, or NULL */
	struct cron_expr cron;
	bool has_cron;
	double timeout;         /* <= 0: none */
	int retries;
	double backoff_initial;
	double backoff_max;
};

struct run_result {
	enum run_status status;
	int exit_code;          /* -1 when a signal ended the child */
	int signal;
	char run_id[64];        /* the run's own id, from its summary ('' if none) */
	char attempt_id[24];    /* the scheduler's id of the child */
	char trigger[12];       /* schedule, retry, manual */
	double started_wall;
	double finished_wall;
	double duration;
	int64_t rows_scanned, inserted, updated, deleted;
	bool have_summary;      /* the child printed a JSON summary we could read */
	char error[512];
};

enum { CH_INSERT = 0, CH_UPDATE, CH_DELETE, CH_N };

struct job {
	char *db;
	char *table;
	char *host;             /* source host key for max_per_host */
	struct sched_spec spec;

	/* schedule */
	double slot_wall;       /* the current un-jittered slot              */
	double fire_wall;       /* when the regular schedule fires; 0 = never */
	double retry_wall;      /* a pending retry, 0 = none                 */
	int attempt;            /* retries spent on the current failure      */
	int consecutive_failures;
	bool manual;            /* POST /run asked for a run                 */
	bool removed;           /* gone from the configuration; freed once idle */

	/* the running child, pid 0 when idle */
	pid_t pid;
	int out_fd;             /* read end of the child's stdout, -1 when closed */
	struct buf out;
	bool reaped;
	int wait_status;
	double started_wall, started_mono, deadline_mono, term_mono;
	bool timed_out, cancelled, killed;
	char attempt_id[24];  /* our id for this child, in our log lines and its environment */
	const char *trigger;

	struct run_result last; /* valid when last.started_wall > 0 */

	/* counters for /metrics, kept across reloads */
	uint64_t runs[RS_N];
	uint64_t failures;
	uint64_t rows_scanned;
	uint64_t changes[CH_N];
	uint64_t guard_trips;
	uint64_t dur_bucket[SCHED_N_BUCKETS];
	uint64_t dur_count;
	double dur_sum;

	/* from the state file (st_status), refreshed every few seconds */
	bool in_state;
	double last_success;
	int64_t state_rows;
	int64_t generation;
};

struct http;

struct sched {
	struct cfg *cfg;
	char *config_path;      /* absolute */
	char *run_command;      /* the executable run as the child; /proc/self/exe */
	char *listen_override;  /* --listen, wins over the file */
	char *log_level_override;
	char *token;            /* resolved bearer token, or NULL */
	struct job **jobs;      /* sorted by (db, table) */
	size_t n_jobs;
	int running;
	double grace;           /* seconds between SIGTERM and SIGKILL */
	double shutdown_wait;   /* seconds to wait for children at shutdown */
	uint64_t rng;
	double started_wall;
	bool shutting_down;
	struct http *http;
	char *listen;           /* what http is bound to (the config's text) */
	uint64_t reloads_ok, reloads_failed;
	uint64_t spawn_failures;
	unsigned run_seq;
	double state_refreshed_mono;
	bool state_dirty;       /* a run finished: refresh freshness soon */
	bool state_error_logged;
};

/* ---- jobs.c ---- */
/* Fills spec from the table's settings; -1 with err for a bad cron text. */
int sched_spec_from_cfg(const struct cfg_table *t, struct sched_spec *spec, char *err, size_t errlen);
void sched_spec_release(struct sched_spec *spec);
bool sched_spec_equal(const struct sched_spec *a, const struct sched_spec *b);
/* "host:port" or "unix:/path" of the source that holds db. */
char *sched_host_key(const struct cfg *c, const char *db);

/* Builds the job table for c, reusing the jobs of s (their counters, running
 * children and retry state survive a reload); jobs no longer configured are
 * kept with removed set while their child runs. Returns 0, or -1 with err
 * (nothing changed). */
int sched_jobs_apply(struct sched *s, const struct cfg *c, double now_wall, char *err, size_t errlen);
void sched_jobs_free(struct sched *s);
struct job *sched_job_find(struct sched *s, const char *db, const char *table);
/* Drops removed jobs that are idle. */
void sched_jobs_gc(struct sched *s);

/* Computes the first slot: soon after start, unless the state says the
 * table ran recently (last_success + every in the future). */
void sched_job_schedule_initial(struct sched *s, struct job *j, double now_wall);
/* When the job wants to start (0 = not wanting); manual runs first. */
double sched_job_due(const struct job *j);
/* Chooses up to max idle, due jobs that fit max_concurrent and max_per_host,
 * earliest due first; returns how many were written to out. */
size_t sched_pick(struct sched *s, double now_wall, struct job **out, size_t max);
/* Applies a finished run: counters, the retry policy, the next fire time. */
void sched_job_finished(struct sched *s, struct job *j, const struct run_result *r, double now_wall);

/* ---- child.c ---- */
/* Forks and execs `run_command run --config F --db D --table T`; 0 or -1. */
int sched_child_start(struct sched *s, struct job *j, const char *trigger);
/* Reads whatever the child wrote to stdout (non-blocking). */
void sched_child_read(struct job *j);
/* Reaps every exited child and finishes its job. */
void sched_child_reap(struct sched *s);
/* SIGTERM after the timeout, SIGKILL after the grace period. */
void sched_child_check_timeouts(struct sched *s, double now_mono);
/* Signals every running child's process group. */
void sched_child_signal_all(struct sched *s, int sig);
/* Reads the JSON summary (the last line starting with '{') into r; returns
 * true when one was found. */
bool sched_parse_summary(const char *out, size_t len, struct run_result *r);
/* Maps how the child ended to the status label. */
enum run_status sched_status_of(int exit_code, bool timed_out, bool cancelled);

/* ---- http.c ---- */
struct http *sched_http_start(struct sched *s, const char *listen, char *err, size_t errlen);
void sched_http_stop(struct http *h);
int sched_http_fd(struct http *h);
/* Milliseconds until libmicrohttpd needs to run again, or -1. */
int sched_http_timeout_ms(struct http *h);
void sched_http_run(struct http *h);
unsigned sched_http_port(struct http *h);

/* ---- metrics.c ---- */
void sched_render_metrics(struct sched *s, struct buf *out, double now_wall);
void sched_render_status(struct sched *s, struct buf *out, double now_wall);

/* Clocks (child.c). */
double sched_now_wall(void);
double sched_now_mono(void);

#endif
