/*
 * child — the scheduler's child processes: one `snapdiff run --config F --db D
 * --table T` per job run, started with fork+exec of /proc/self/exe (the very
 * binary the daemon runs, even if the file on disk was replaced since).
 *
 * Isolation is the point: a crash, a leak or a hung MariaDB connection in a
 * run can only take that run down. Each child gets its own process group (so
 * a Ctrl-C on the daemon's terminal reaches only the daemon, which then stops
 * the children in order, and a timeout kill also reaches anything the child
 * started), PR_SET_PDEATHSIG (so children do not outlive a daemon killed with
 * SIGKILL), stdin from /dev/null, stdout into a pipe we read for the JSON
 * summary, and stderr shared with the daemon (its log lines join ours).
 *
 * The single-flight rule is not enforced here: the child takes the
 * per-(database, table) flock itself, which also covers runs started from
 * the CLI or Airflow, and exits 99 when someone else holds it.
 */
#include "sched_int.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "error.h"
#include "log.h"
#include "timing.h"

/* Only the last line matters; a chatty child must not grow the daemon. */
#define OUT_MAX (1024 * 1024)

double sched_now_wall(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

double sched_now_mono(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

enum run_status sched_status_of(int exit_code, bool timed_out, bool cancelled)
{
	if (exit_code == 0)
		return RS_OK;
	if (cancelled)
		return RS_CANCELLED;
	if (timed_out)
		return RS_TIMEOUT;
	if (exit_code < 0)
		return RS_CRASHED;
	if (exit_code == SD_ERR_BUSY)
		return RS_SKIPPED;
	if (exit_code == SD_ERR_GUARD)
		return RS_REFUSED;
	return RS_FAILED;
}

static int64_t get_int(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);
	if (json_is_integer(v))
		return (int64_t)json_integer_value(v);
	if (json_is_real(v))
		return (int64_t)json_real_value(v);
	return 0;
}

bool sched_parse_summary(const char *out, size_t len, struct run_result *r)
{
	size_t end = len, start;
	json_t *root = NULL, *v, *t0;
	json_error_t jerr;

	/* the last non-empty line that looks like a JSON object */
	while (end > 0) {
		while (end > 0 && (out[end - 1] == '\n' || out[end - 1] == '\r' || out[end - 1] == ' '))
			end--;
		start = end;
		while (start > 0 && out[start - 1] != '\n')
			start--;
		if (end > start && out[start] == '{') {
			root = json_loadb(out + start, end - start, 0, &jerr);
			break;
		}
		end = start;
	}
	if (!json_is_object(root)) {
		json_decref(root);
		return false;
	}
	r->rows_scanned = get_int(root, "rows_scanned");
	r->inserted = get_int(root, "inserted");
	r->updated = get_int(root, "updated");
	r->deleted = get_int(root, "deleted");
	t0 = json_array_get(json_object_get(root, "tables"), 0);
	v = json_object_get(root, "error");
	if (!json_is_string(v) && json_is_object(t0))
		v = json_object_get(t0, "error");
	if (json_is_string(v))
		snprintf(r->error, sizeof r->error, "%s", json_string_value(v));
	v = json_object_get(root, "run_id");
	if (!json_is_string(v) && json_is_object(t0))
		v = json_object_get(t0, "run_id");
	if (json_is_string(v))
		snprintf(r->run_id, sizeof r->run_id, "%s", json_string_value(v));
	r->have_summary = true;
	json_decref(root);
	return true;
}

static void new_attempt_id(struct sched *s, char *out, size_t n)
{
	uint64_t a = (uint64_t)(sched_uniform(&s->rng) * 4294967296.0);
	uint64_t b = (uint64_t)(sched_uniform(&s->rng) * 4294967296.0);
	snprintf(out, n, "%08llx%08llx", (unsigned long long)a, (unsigned long long)b);
}

int sched_child_start(struct sched *s, struct job *j, const char *trigger)
{
	struct log_ctx ctx = { NULL, j->db, j->table };
	int pfd[2];
	pid_t pid, parent = getpid();
	const char *argv[] = { s->run_command, "run", "--config", s->config_path,
			       "--db", j->db, "--table", j->table, NULL };
	/* page_change derives page events from all of a wiki's tables in one
	 * snapshot: the job runs the whole database (the other tables' jobs of
	 * the same tick then find it locked and count as skipped) */
	if (s->cfg && s->cfg->mediawiki.page_change)
		argv[6] = NULL;

	new_attempt_id(s, j->attempt_id, sizeof j->attempt_id);
	if (pipe2(pfd, O_CLOEXEC) < 0) {
		log_event(SD_LOG_ERROR, &ctx, "run.spawn_failed", NULL, 0, "pipe: %s", strerror(errno));
		s->spawn_failures++;
		return -1;
	}
	pid = fork();
	if (pid < 0) {
		log_event(SD_LOG_ERROR, &ctx, "run.spawn_failed", NULL, 0, "fork: %s", strerror(errno));
		close(pfd[0]);
		close(pfd[1]);
		s->spawn_failures++;
		return -1;
	}
	if (pid == 0) {
		/* The child: single-threaded copy of the daemon, so setenv is safe. */
		sigset_t none;
		int devnull;

		setpgid(0, 0);
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		if (getppid() != parent)
			_exit(SD_ERR_INTERNAL);         /* the daemon died before prctl */
		/* Default dispositions before unblocking: a SIGTERM sent to the
		 * group right after fork is pending here and must kill, not run
		 * the daemon's flag-setting handler in this copy of it. */
		signal(SIGTERM, SIG_DFL);
		signal(SIGINT, SIG_DFL);
		signal(SIGHUP, SIG_DFL);
		signal(SIGPIPE, SIG_DFL);
		signal(SIGCHLD, SIG_DFL);
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		if (dup2(pfd[1], STDOUT_FILENO) < 0)
			_exit(SD_ERR_INTERNAL);
		devnull = open("/dev/null", O_RDONLY);
		if (devnull >= 0 && devnull != STDIN_FILENO) {
			dup2(devnull, STDIN_FILENO);
			close(devnull);
		}
		/* no listening socket or other child's pipe leaks into the run */
		close_range(3, ~0U, 0);
		setenv("SNAPDIFF_SCHEDULER_ATTEMPT", j->attempt_id, 1);
		setenv("SNAPDIFF_TRIGGER", trigger, 1);
		execv(s->run_command, (char *const *)argv);
		{
			char msg[512];
			int n = snprintf(msg, sizeof msg, "snapdiff scheduler: cannot execute %s: %s\n",
					 s->run_command, strerror(errno));
			if (n > 0 && write(STDERR_FILENO, msg, (size_t)n) < 0)
				_exit(127);
		}
		_exit(127);
	}
	/* Both sides set the group, so a kill(-pid) right after fork cannot miss. */
	setpgid(pid, pid);
	close(pfd[1]);
	fcntl(pfd[0], F_SETFL, fcntl(pfd[0], F_GETFL) | O_NONBLOCK);
	j->pid = pid;
	j->out_fd = pfd[0];
	buf_reset(&j->out);
	j->reaped = false;
	j->timed_out = j->cancelled = j->killed = false;
	j->started_wall = sched_now_wall();
	j->started_mono = sched_now_mono();
	j->deadline_mono = j->spec.timeout > 0 ? j->started_mono + j->spec.timeout : 0;
	j->term_mono = 0;
	j->trigger = trigger;
	j->manual = false;
	j->retry_wall = 0;
	s->running++;
	{
		char pidbuf[24];
		snprintf(pidbuf, sizeof pidbuf, "%ld", (long)pid);
		log_event(SD_LOG_INFO, &ctx, "run.start",
			  (const char *const[]){ "attempt", j->attempt_id, "pid#", pidbuf, "trigger", trigger }, 3,
			  "started run of %s.%s (%s)", j->db, j->table, trigger);
	}
	return 0;
}

void sched_child_read(struct job *j)
{
	char tmp[8192];

	while (j->out_fd >= 0) {
		ssize_t n = read(j->out_fd, tmp, sizeof tmp);
		if (n > 0) {
			buf_add(&j->out, tmp, (size_t)n);
			if (j->out.len > OUT_MAX) {
				size_t keep = OUT_MAX / 2;
				memmove(j->out.p, j->out.p + j->out.len - keep, keep);
				j->out.len = keep;
				j->out.p[keep] = '\0';
			}
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		close(j->out_fd);       /* EOF or a real error: either way, done */
		j->out_fd = -1;
	}
}

static void finish(struct sched *s, struct job *j)
{
	struct run_result r;
	struct log_ctx ctx = { NULL, j->db, j->table };
	int st = j->wait_status;
	double now = sched_now_wall();
	char code[16], dur[32], rows[24];

	sched_child_read(j);
	if (j->out_fd >= 0) {
		/* a grandchild still holds the pipe; the summary is what we have */
		close(j->out_fd);
		j->out_fd = -1;
	}
	memset(&r, 0, sizeof r);
	r.exit_code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
	r.signal = WIFSIGNALED(st) ? WTERMSIG(st) : 0;
	r.status = sched_status_of(r.exit_code, j->timed_out, j->cancelled);
	snprintf(r.trigger, sizeof r.trigger, "%s", j->trigger ? j->trigger : "schedule");
	r.started_wall = j->started_wall;
	r.finished_wall = now;
	r.duration = sched_now_mono() - j->started_mono;
	sched_parse_summary(j->out.p ? j->out.p : "", j->out.len, &r);
	snprintf(r.attempt_id, sizeof r.attempt_id, "%s", j->attempt_id);
	if (!r.error[0] && r.status != RS_OK) {
		if (r.status == RS_TIMEOUT)
			snprintf(r.error, sizeof r.error, "timed out after %.0fs", j->spec.timeout);
		else if (r.signal)
			snprintf(r.error, sizeof r.error, "killed by signal %d (%s)", r.signal, strsignal(r.signal));
		else
			snprintf(r.error, sizeof r.error, "exit status %d (%s)", r.exit_code,
				 sd_code_name(r.exit_code));
	}
	ctx.run_id = r.run_id[0] ? r.run_id : NULL;
	snprintf(code, sizeof code, "%d", r.exit_code);
	snprintf(dur, sizeof dur, "%.3f", r.duration);
	snprintf(rows, sizeof rows, "%lld", (long long)r.rows_scanned);
	log_event(r.status == RS_OK || r.status == RS_SKIPPED || r.status == RS_CANCELLED ? SD_LOG_INFO : SD_LOG_WARN,
		  &ctx, "run.finish",
		  (const char *const[]){ "attempt", j->attempt_id, "status", sched_status_name(r.status), "exit#", code,
					 "duration_s#", dur, "rows_scanned#", rows,
					 "error", r.status == RS_OK ? NULL : r.error }, 6,
		  "run of %s.%s %s in %.1fs", j->db, j->table, sched_status_name(r.status), r.duration);

	j->pid = 0;
	j->trigger = NULL;
	buf_reset(&j->out);
	s->running--;
	s->state_dirty = true;
	sched_job_finished(s, j, &r, now);
}

void sched_child_reap(struct sched *s)
{
	for (;;) {
		int st;
		pid_t pid = waitpid(-1, &st, WNOHANG);
		if (pid <= 0)
			return;
		for (size_t i = 0; i < s->n_jobs; i++) {
			struct job *j = s->jobs[i];
			if (j->pid == pid) {
				j->reaped = true;
				j->wait_status = st;
				finish(s, j);
				break;
			}
		}
	}
}

void sched_child_check_timeouts(struct sched *s, double now)
{
	for (size_t i = 0; i < s->n_jobs; i++) {
		struct job *j = s->jobs[i];
		struct log_ctx ctx = { NULL, j->db, j->table };
		const char *kv[] = { "attempt", j->attempt_id };

		if (!j->pid)
			continue;
		if (j->deadline_mono > 0 && now >= j->deadline_mono && !j->timed_out && !j->cancelled) {
			j->timed_out = true;
			j->term_mono = now;
			log_event(SD_LOG_WARN, &ctx, "run.timeout", kv, 1,
				  "run exceeded its %.0fs timeout; sending SIGTERM", j->spec.timeout);
			kill(-j->pid, SIGTERM);
		}
		if (j->term_mono > 0 && !j->killed && now >= j->term_mono + s->grace) {
			j->killed = true;
			log_event(SD_LOG_WARN, &ctx, "run.kill", kv, 1,
				  "run still alive %.0fs after SIGTERM; sending SIGKILL", s->grace);
			kill(-j->pid, SIGKILL);
		}
	}
}

void sched_child_signal_all(struct sched *s, int sig)
{
	double now = sched_now_mono();

	for (size_t i = 0; i < s->n_jobs; i++) {
		struct job *j = s->jobs[i];
		if (!j->pid)
			continue;
		if (sig == SIGTERM && !j->cancelled) {
			j->cancelled = true;
			if (!j->term_mono)
				j->term_mono = now;
		}
		if (sig == SIGKILL)
			j->killed = true;
		kill(-j->pid, sig);
	}
}
