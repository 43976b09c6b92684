/*
 * metrics — renders the scheduler's /metrics (Prometheus text exposition
 * format 0.0.4) and /status (JSON) from the job table.
 *
 * Counters come from the runs this daemon started (they restart at zero with
 * the daemon, which Prometheus' rate() handles). Freshness comes from the
 * state file instead (job.last_success, refreshed by daemon.c through
 * st_status), because a run started from the CLI or by Airflow refreshes a
 * table just as well and must count. docs/scheduler.md lists every metric.
 */
#include "sched_int.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void label_value(struct buf *b, const char *v)
{
	for (; *v; v++) {
		if (*v == '\\')
			buf_addstr(b, "\\\\");
		else if (*v == '"')
			buf_addstr(b, "\\\"");
		else if (*v == '\n')
			buf_addstr(b, "\\n");
		else
			buf_addch(b, *v);
	}
}

static void head(struct buf *b, const char *name, const char *type, const char *help)
{
	buf_addf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* name{db="..",table=".."[,extra]} — extra is preformatted ("status=\"ok\""). */
static void sample_start(struct buf *b, const char *name, const struct job *j, const char *extra)
{
	buf_addf(b, "%s{db=\"", name);
	label_value(b, j->db);
	buf_addstr(b, "\",table=\"");
	label_value(b, j->table);
	buf_addch(b, '"');
	if (extra) {
		buf_addch(b, ',');
		buf_addstr(b, extra);
	}
	buf_addstr(b, "} ");
}

static void num(struct buf *b, double v)
{
	if (isnan(v))
		buf_addstr(b, "NaN\n");
	else if (v == floor(v) && fabs(v) < 1e15)
		buf_addf(b, "%.0f\n", v);
	else
		buf_addf(b, "%.6f\n", v);
}

void sched_render_metrics(struct sched *s, struct buf *b, double now)
{
	static const char *const kinds[CH_N] = { "insert", "update", "delete" };
	char extra[64];

	head(b, "snapdiff_runs_total", "counter",
	     "Runs started by this scheduler that ended, by table and status (ok, failed, refused, skipped, timeout, crashed, cancelled).");
	for (size_t i = 0; i < s->n_jobs; i++) {
		const struct job *j = s->jobs[i];
		for (int st = 0; st < RS_N; st++) {
			/* ok and failed always, so rate() has a series from the start */
			if (!j->runs[st] && st != RS_OK && st != RS_FAILED)
				continue;
			snprintf(extra, sizeof extra, "status=\"%s\"", sched_status_name((enum run_status)st));
			sample_start(b, "snapdiff_runs_total", j, extra);
			num(b, (double)j->runs[st]);
		}
	}
	head(b, "snapdiff_run_failures_total", "counter",
	     "Runs that ended neither ok nor skipped (exit 99) nor cancelled at shutdown.");
	for (size_t i = 0; i < s->n_jobs; i++) {
		sample_start(b, "snapdiff_run_failures_total", s->jobs[i], NULL);
		num(b, (double)s->jobs[i]->failures);
	}
	head(b, "snapdiff_run_consecutive_failures", "gauge",
	     "Failed runs since the table's last success (0 after a success).");
	for (size_t i = 0; i < s->n_jobs; i++) {
		sample_start(b, "snapdiff_run_consecutive_failures", s->jobs[i], NULL);
		num(b, (double)s->jobs[i]->consecutive_failures);
	}
	head(b, "snapdiff_rows_scanned_total", "counter",
	     "Source rows read by this scheduler's runs (from each run's JSON summary).");
	for (size_t i = 0; i < s->n_jobs; i++) {
		sample_start(b, "snapdiff_rows_scanned_total", s->jobs[i], NULL);
		num(b, (double)s->jobs[i]->rows_scanned);
	}
	head(b, "snapdiff_changes_total", "counter",
	     "Change events emitted by this scheduler's runs, by kind.");
	for (size_t i = 0; i < s->n_jobs; i++) {
		for (int k = 0; k < CH_N; k++) {
			snprintf(extra, sizeof extra, "kind=\"%s\"", kinds[k]);
			sample_start(b, "snapdiff_changes_total", s->jobs[i], extra);
			num(b, (double)s->jobs[i]->changes[k]);
		}
	}
	head(b, "snapdiff_guard_trips_total", "counter",
	     "Runs refused by the mass-delete guard (exit 7).");
	for (size_t i = 0; i < s->n_jobs; i++) {
		sample_start(b, "snapdiff_guard_trips_total", s->jobs[i], NULL);
		num(b, (double)s->jobs[i]->guard_trips);
	}
	head(b, "snapdiff_run_duration_seconds", "histogram",
	     "Wall time of this scheduler's runs (skipped runs excluded).");
	for (size_t i = 0; i < s->n_jobs; i++) {
		const struct job *j = s->jobs[i];
		for (int k = 0; k < SCHED_N_BUCKETS; k++) {
			snprintf(extra, sizeof extra, "le=\"%g\"", sched_buckets[k]);
			sample_start(b, "snapdiff_run_duration_seconds_bucket", j, extra);
			num(b, (double)j->dur_bucket[k]);
		}
		sample_start(b, "snapdiff_run_duration_seconds_bucket", j, "le=\"+Inf\"");
		num(b, (double)j->dur_count);
		sample_start(b, "snapdiff_run_duration_seconds_sum", j, NULL);
		num(b, j->dur_sum);
		sample_start(b, "snapdiff_run_duration_seconds_count", j, NULL);
		num(b, (double)j->dur_count);
	}
	head(b, "snapdiff_last_success_timestamp_seconds", "gauge",
	     "Unix time of the table's last committed run by any runner (scheduler, CLI, Airflow), from the state file; 0 if never.");
	for (size_t i = 0; i < s->n_jobs; i++) {
		sample_start(b, "snapdiff_last_success_timestamp_seconds", s->jobs[i], NULL);
		num(b, s->jobs[i]->in_state ? s->jobs[i]->last_success : 0);
	}
	head(b, "snapdiff_freshness_lag_seconds", "gauge",
	     "Seconds since the table's last committed run by any runner; absent while it never succeeded.");
	for (size_t i = 0; i < s->n_jobs; i++) {
		const struct job *j = s->jobs[i];
		if (!j->in_state || !(j->last_success > 0))
			continue;
		sample_start(b, "snapdiff_freshness_lag_seconds", j, NULL);
		num(b, now > j->last_success ? now - j->last_success : 0);
	}
	head(b, "snapdiff_state_rows", "gauge", "Rows of the table in the state file after its last commit.");
	for (size_t i = 0; i < s->n_jobs; i++) {
		if (!s->jobs[i]->in_state)
			continue;
		sample_start(b, "snapdiff_state_rows", s->jobs[i], NULL);
		num(b, (double)s->jobs[i]->state_rows);
	}
	head(b, "snapdiff_next_run_timestamp_seconds", "gauge",
	     "Unix time at which the scheduler next starts the table (a pending retry included); absent when unscheduled.");
	for (size_t i = 0; i < s->n_jobs; i++) {
		const struct job *j = s->jobs[i];
		double due = j->retry_wall > 0 ? j->retry_wall : j->fire_wall;
		if (!(due > 0) || j->removed)
			continue;
		sample_start(b, "snapdiff_next_run_timestamp_seconds", j, NULL);
		num(b, due);
	}
	head(b, "snapdiff_running_runs", "gauge", "Runs in progress (child processes).");
	buf_addf(b, "snapdiff_running_runs %d\n", s->running);
	head(b, "snapdiff_scheduled_tables", "gauge", "Configured (database, table) pairs.");
	{
		size_t n = 0;
		for (size_t i = 0; i < s->n_jobs; i++)
			n += !s->jobs[i]->removed;
		buf_addf(b, "snapdiff_scheduled_tables %zu\n", n);
	}
	head(b, "snapdiff_config_reloads_total", "counter", "SIGHUP reloads, by result (a failed one keeps the old configuration).");
	buf_addf(b, "snapdiff_config_reloads_total{result=\"ok\"} %llu\n", (unsigned long long)s->reloads_ok);
	buf_addf(b, "snapdiff_config_reloads_total{result=\"failed\"} %llu\n", (unsigned long long)s->reloads_failed);
	head(b, "snapdiff_spawn_failures_total", "counter", "Runs that could not be started (fork or pipe failed).");
	buf_addf(b, "snapdiff_spawn_failures_total %llu\n", (unsigned long long)s->spawn_failures);
	head(b, "snapdiff_scheduler_start_time_seconds", "gauge", "Unix time the daemon started.");
	buf_addf(b, "snapdiff_scheduler_start_time_seconds ");
	num(b, floor(s->started_wall));
}

static json_t *time_or_null(double t)
{
	return t > 0 ? json_real(floor(t * 1000) / 1000) : json_null();
}

static json_t *iso_or_null(double t)
{
	char buf[40];
	time_t sec = (time_t)t;
	struct tm tm;

	if (!(t > 0))
		return json_null();
	gmtime_r(&sec, &tm);
	strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
	return json_string(buf);
}

void sched_render_status(struct sched *s, struct buf *b, double now)
{
	json_t *root = json_object(), *tables = json_array();
	char *text;

	json_object_set_new(root, "now", json_real(floor(now * 1000) / 1000));
	json_object_set_new(root, "config", json_string(s->config_path));
	json_object_set_new(root, "started", iso_or_null(s->started_wall));
	json_object_set_new(root, "shutting_down", json_boolean(s->shutting_down));
	json_object_set_new(root, "running", json_integer(s->running));
	json_object_set_new(root, "max_concurrent", json_integer(s->cfg ? s->cfg->scheduler.max_concurrent : 0));
	json_object_set_new(root, "max_per_host", json_integer(s->cfg ? s->cfg->scheduler.max_per_host : 0));
	for (size_t i = 0; i < s->n_jobs; i++) {
		const struct job *j = s->jobs[i];
		json_t *t = json_object();
		double due = j->manual ? now : j->retry_wall > 0 ? j->retry_wall : j->fire_wall;
		char sched[160];

		if (j->spec.has_cron)
			snprintf(sched, sizeof sched, "cron %s", j->spec.cron_text);
		else if (j->spec.every > 0)
			snprintf(sched, sizeof sched, "every %gs", j->spec.every);
		else
			snprintf(sched, sizeof sched, "manual");
		if ((j->spec.has_cron || j->spec.every > 0) && j->spec.jitter > 0)
			snprintf(sched + strlen(sched), sizeof sched - strlen(sched), " +%gs jitter", j->spec.jitter);
		json_object_set_new(t, "db", json_string(j->db));
		json_object_set_new(t, "table", json_string(j->table));
		json_object_set_new(t, "host", json_string(j->host));
		json_object_set_new(t, "schedule", json_string(sched));
		json_object_set_new(t, "removed", json_boolean(j->removed));
		json_object_set_new(t, "running", json_boolean(j->pid != 0));
		if (j->pid) {
			json_t *r = json_object();
			json_object_set_new(r, "pid", json_integer(j->pid));
			json_object_set_new(r, "attempt", json_string(j->attempt_id));
			json_object_set_new(r, "trigger", json_string(j->trigger ? j->trigger : "schedule"));
			json_object_set_new(r, "started", time_or_null(j->started_wall));
			json_object_set_new(r, "seconds", json_real(floor((sched_now_mono() - j->started_mono) * 1000) / 1000));
			json_object_set_new(r, "timed_out", json_boolean(j->timed_out));
			json_object_set_new(t, "run", r);
		}
		json_object_set_new(t, "next_run", j->pid ? json_null() : time_or_null(due));
		json_object_set_new(t, "next_run_iso", j->pid ? json_null() : iso_or_null(due));
		json_object_set_new(t, "manual_pending", json_boolean(j->manual));
		json_object_set_new(t, "retry_pending", json_boolean(j->retry_wall > 0));
		json_object_set_new(t, "retry_attempt", json_integer(j->attempt));
		json_object_set_new(t, "consecutive_failures", json_integer(j->consecutive_failures));
		json_object_set_new(t, "failures", json_integer((json_int_t)j->failures));
		if (j->last.started_wall > 0) {
			const struct run_result *r = &j->last;
			json_t *l = json_object();
			json_object_set_new(l, "status", json_string(sched_status_name(r->status)));
			json_object_set_new(l, "exit_code", json_integer(r->exit_code));
			if (r->signal)
				json_object_set_new(l, "signal", json_integer(r->signal));
			json_object_set_new(l, "run_id", r->run_id[0] ? json_string(r->run_id) : json_null());
			json_object_set_new(l, "attempt", json_string(r->attempt_id));
			json_object_set_new(l, "trigger", json_string(r->trigger));
			json_object_set_new(l, "started", time_or_null(r->started_wall));
			json_object_set_new(l, "finished", time_or_null(r->finished_wall));
			json_object_set_new(l, "seconds", json_real(floor(r->duration * 1000) / 1000));
			json_object_set_new(l, "rows_scanned", json_integer(r->rows_scanned));
			json_object_set_new(l, "inserted", json_integer(r->inserted));
			json_object_set_new(l, "updated", json_integer(r->updated));
			json_object_set_new(l, "deleted", json_integer(r->deleted));
			json_object_set_new(l, "error", r->error[0] ? json_string(r->error) : json_null());
			json_object_set_new(t, "last", l);
		} else {
			json_object_set_new(t, "last", json_null());
		}
		json_object_set_new(t, "last_success", j->in_state ? time_or_null(j->last_success) : json_null());
		json_object_set_new(t, "freshness_lag",
				    j->in_state && j->last_success > 0 ? json_real(floor((now - j->last_success) * 1000) / 1000)
								       : json_null());
		json_object_set_new(t, "state_rows", j->in_state ? json_integer(j->state_rows) : json_null());
		json_array_append_new(tables, t);
	}
	json_object_set_new(root, "tables", tables);
	text = json_dumps(root, JSON_INDENT(1) | JSON_PRESERVE_ORDER);
	if (text) {
		buf_addstr(b, text);
		buf_addch(b, '\n');
		free(text);
	}
	json_decref(root);
}
