/*
 * jobs — the scheduler's table of (database, table) jobs and its policy:
 * when each job is due, which due jobs may start under the concurrency
 * limits, and what a finished run does to the schedule (retry with backoff,
 * skip missed slots, carry on after a permanent failure).
 *
 * No processes and no sockets here, only decisions, so the unit tests drive
 * this file directly. The job table survives configuration reloads: a job
 * keeps its counters, its running child and its retry state when its entry
 * is still configured, which is what makes SIGHUP safe to send at any time.
 */
#include "sched_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "timing.h"

static const char *const status_names[RS_N] = {
	"ok", "failed", "refused", "skipped", "timeout", "crashed", "cancelled",
};

const double sched_buckets[SCHED_N_BUCKETS] = {
	1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200,
};

const char *sched_status_name(enum run_status st)
{
	return (int)st >= 0 && st < RS_N ? status_names[st] : "unknown";
}

int sched_spec_from_cfg(const struct cfg_table *t, struct sched_spec *spec, char *err, size_t errlen)
{
	memset(spec, 0, sizeof *spec);
	spec->every = t->every > 0 ? t->every : 0;
	spec->jitter = t->jitter > 0 ? t->jitter : 0;
	spec->timeout = t->timeout;
	spec->retries = t->retries > 0 ? t->retries : 0;
	spec->backoff_initial = t->backoff_initial > 0 ? t->backoff_initial : 10;
	spec->backoff_max = t->backoff_max > 0 ? t->backoff_max : 600;
	if (t->cron && *t->cron) {
		if (cron_parse(t->cron, &spec->cron, err, errlen) < 0)
			return -1;
		spec->has_cron = true;
		spec->cron_text = xstrdup(t->cron);
		/* a table has one schedule; the parser already refuses both */
		spec->every = 0;
	}
	return 0;
}

void sched_spec_release(struct sched_spec *spec)
{
	free(spec->cron_text);
	spec->cron_text = NULL;
}

bool sched_spec_equal(const struct sched_spec *a, const struct sched_spec *b)
{
	if (a->has_cron != b->has_cron)
		return false;
	if (a->has_cron && strcmp(a->cron_text, b->cron_text) != 0)
		return false;
	return a->every == b->every && a->jitter == b->jitter && a->timeout == b->timeout &&
	       a->retries == b->retries && a->backoff_initial == b->backoff_initial &&
	       a->backoff_max == b->backoff_max;
}

char *sched_host_key(const struct cfg *c, const char *db)
{
	struct buf b = BUF_INIT;

	/* One source per configuration today; when databases get their own
	 * hosts (MediaWiki sections), this is the one place that changes. */
	(void)db;
	if (c->source.socket && *c->source.socket)
		buf_addf(&b, "unix:%s", c->source.socket);
	else
		buf_addf(&b, "%s:%u", c->source.host ? c->source.host : "127.0.0.1",
			 c->source.port ? c->source.port : 3306);
	return buf_detach(&b, NULL);
}

static int job_cmp(const void *pa, const void *pb)
{
	const struct job *a = *(struct job *const *)pa, *b = *(struct job *const *)pb;
	int r = strcmp(a->db, b->db);
	return r ? r : strcmp(a->table, b->table);
}

static long job_index(struct job **jobs, size_t n, const char *db, const char *table)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int r = strcmp(jobs[mid]->db, db);
		if (!r)
			r = strcmp(jobs[mid]->table, table);
		if (!r)
			return (long)mid;
		if (r < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

struct job *sched_job_find(struct sched *s, const char *db, const char *table)
{
	long i = job_index(s->jobs, s->n_jobs, db, table);
	return i < 0 ? NULL : s->jobs[i];
}

static void job_free(struct job *j)
{
	if (!j)
		return;
	free(j->db);
	free(j->table);
	free(j->host);
	sched_spec_release(&j->spec);
	buf_release(&j->out);
	free(j);
}

static double uniform(struct sched *s)
{
	return sched_uniform(&s->rng);
}

/* The next regular fire time after now for the job's schedule. */
static void schedule_next(struct sched *s, struct job *j, double now)
{
	if (j->spec.has_cron) {
		int64_t t = cron_next(&j->spec.cron, (int64_t)now);
		if (t < 0) {
			j->slot_wall = j->fire_wall = 0;
			return;
		}
		j->slot_wall = (double)t;
	} else if (j->spec.every > 0) {
		j->slot_wall = sched_next_slot(j->slot_wall > 0 ? j->slot_wall : now, j->spec.every, now);
	} else {
		j->slot_wall = j->fire_wall = 0;
		return;
	}
	j->fire_wall = sched_jittered(j->slot_wall, j->spec.jitter, uniform(s));
}

void sched_job_schedule_initial(struct sched *s, struct job *j, double now)
{
	j->slot_wall = 0;
	j->fire_wall = 0;
	if (j->spec.has_cron) {
		schedule_next(s, j, now);
		return;
	}
	if (!(j->spec.every > 0))
		return;
	/* A restart must not re-run every table at once when they are fresh:
	 * the state file says when each last succeeded (by any runner). */
	j->slot_wall = now;
	if (j->in_state && j->last_success > 0 && j->last_success + j->spec.every > now)
		j->slot_wall = j->last_success + j->spec.every;
	j->fire_wall = sched_jittered(j->slot_wall, j->spec.jitter, uniform(s));
}

int sched_jobs_apply(struct sched *s, const struct cfg *c, double now, char *err, size_t errlen)
{
	size_t n_new = c->n_databases * c->n_tables, k = 0;
	struct sched_spec *specs = xcalloc(c->n_tables ? c->n_tables : 1, sizeof *specs);
	struct job **jobs = xcalloc(n_new + s->n_jobs + 1, sizeof *jobs);
	bool *taken = xcalloc(s->n_jobs + 1, sizeof *taken);
	char e[256];

	/* First everything that can fail, so a bad configuration changes nothing. */
	for (size_t t = 0; t < c->n_tables; t++) {
		if (sched_spec_from_cfg(&c->tables[t], &specs[t], e, sizeof e) < 0) {
			snprintf(err, errlen, "%s:%d: table '%s': %s", c->path ? c->path : "config",
				 c->tables[t].line, c->tables[t].name, e);
			for (size_t u = 0; u < t; u++)
				sched_spec_release(&specs[u]);
			free(specs);
			free(jobs);
			free(taken);
			return -1;
		}
	}

	for (size_t d = 0; d < c->n_databases; d++) {
		for (size_t t = 0; t < c->n_tables; t++) {
			const char *db = c->databases[d], *tbl = c->tables[t].name;
			long i = job_index(s->jobs, s->n_jobs, db, tbl);
			struct job *j;

			if (i >= 0 && taken[i])
				continue;       /* listed twice */
			if (i >= 0) {
				j = s->jobs[i];
				taken[i] = true;
				j->removed = false;
				if (!sched_spec_equal(&j->spec, &specs[t])) {
					sched_spec_release(&j->spec);
					j->spec = specs[t];
					if (j->spec.cron_text)
						j->spec.cron_text = xstrdup(j->spec.cron_text);
					if (!j->pid && !j->retry_wall)
						sched_job_schedule_initial(s, j, now);
				}
			} else {
				bool dup = false;
				for (size_t q = 0; q < k && !dup; q++)
					dup = !strcmp(jobs[q]->db, db) && !strcmp(jobs[q]->table, tbl);
				if (dup)
					continue;
				j = xcalloc(1, sizeof *j);
				j->db = xstrdup(db);
				j->table = xstrdup(tbl);
				j->out_fd = -1;
				j->spec = specs[t];
				if (j->spec.cron_text)
					j->spec.cron_text = xstrdup(j->spec.cron_text);
				sched_job_schedule_initial(s, j, now);
			}
			free(j->host);
			j->host = sched_host_key(c, db);
			jobs[k++] = j;
		}
	}
	/* Jobs gone from the file: a running child finishes first (its result
	 * still counts), everything else goes now. */
	for (size_t i = 0; i < s->n_jobs; i++) {
		if (taken[i])
			continue;
		if (s->jobs[i]->pid) {
			s->jobs[i]->removed = true;
			jobs[k++] = s->jobs[i];
		} else {
			job_free(s->jobs[i]);
		}
	}
	for (size_t t = 0; t < c->n_tables; t++)
		sched_spec_release(&specs[t]);
	free(specs);
	free(taken);
	free(s->jobs);
	qsort(jobs, k, sizeof *jobs, job_cmp);
	s->jobs = jobs;
	s->n_jobs = k;
	return 0;
}

void sched_jobs_gc(struct sched *s)
{
	size_t k = 0;

	for (size_t i = 0; i < s->n_jobs; i++) {
		if (s->jobs[i]->removed && !s->jobs[i]->pid)
			job_free(s->jobs[i]);
		else
			s->jobs[k++] = s->jobs[i];
	}
	s->n_jobs = k;
}

void sched_jobs_free(struct sched *s)
{
	for (size_t i = 0; i < s->n_jobs; i++)
		job_free(s->jobs[i]);
	free(s->jobs);
	s->jobs = NULL;
	s->n_jobs = 0;
}

double sched_job_due(const struct job *j)
{
	if (j->pid || j->removed)
		return 0;
	if (j->manual)
		return 1;       /* before any real time: manual runs go first */
	if (j->retry_wall > 0)
		return j->retry_wall;
	return j->fire_wall;
}

struct pick {
	struct job *j;
	double due;
};

static int pick_cmp(const void *pa, const void *pb)
{
	const struct pick *a = pa, *b = pb;
	return a->due < b->due ? -1 : a->due > b->due ? 1 : 0;
}

struct host_count {
	const char *host;
	int n;
};

static struct host_count *host_slot(struct host_count **hc, size_t *n, const char *host)
{
	for (size_t i = 0; i < *n; i++)
		if (!strcmp((*hc)[i].host, host))
			return &(*hc)[i];
	*hc = xrealloc(*hc, (*n + 1) * sizeof **hc);
	(*hc)[*n] = (struct host_count){ host, 0 };
	return &(*hc)[(*n)++];
}

size_t sched_pick(struct sched *s, double now, struct job **out, size_t max)
{
	int max_conc = s->cfg && s->cfg->scheduler.max_concurrent > 0 ? s->cfg->scheduler.max_concurrent : 2;
	int max_host = s->cfg && s->cfg->scheduler.max_per_host > 0 ? s->cfg->scheduler.max_per_host : 2;
	struct pick *cand;
	struct host_count *hc = NULL;
	size_t n_cand = 0, n_hc = 0, n_out = 0;
	int running = 0;

	if (s->shutting_down)
		return 0;
	cand = xcalloc(s->n_jobs + 1, sizeof *cand);
	for (size_t i = 0; i < s->n_jobs; i++) {
		struct job *j = s->jobs[i];
		double due;
		if (j->pid) {
			running++;
			host_slot(&hc, &n_hc, j->host)->n++;
			continue;
		}
		due = sched_job_due(j);
		if (due > 0 && due <= now)
			cand[n_cand++] = (struct pick){ j, due };
	}
	qsort(cand, n_cand, sizeof *cand, pick_cmp);
	for (size_t i = 0; i < n_cand && n_out < max && running < max_conc; i++) {
		struct host_count *h = host_slot(&hc, &n_hc, cand[i].j->host);
		if (h->n >= max_host)
			continue;
		h->n++;
		running++;
		out[n_out++] = cand[i].j;
	}
	free(cand);
	free(hc);
	return n_out;
}

void sched_job_finished(struct sched *s, struct job *j, const struct run_result *r, double now)
{
	struct log_ctx ctx = { r->run_id[0] ? r->run_id : NULL, j->db, j->table };
	enum sched_outcome oc;
	char num[32], when[32];

	j->last = *r;
	j->runs[r->status]++;
	if (r->have_summary) {
		j->rows_scanned += (uint64_t)(r->rows_scanned > 0 ? r->rows_scanned : 0);
		j->changes[CH_INSERT] += (uint64_t)(r->inserted > 0 ? r->inserted : 0);
		j->changes[CH_UPDATE] += (uint64_t)(r->updated > 0 ? r->updated : 0);
		j->changes[CH_DELETE] += (uint64_t)(r->deleted > 0 ? r->deleted : 0);
	}
	if (r->status == RS_REFUSED)
		j->guard_trips++;
	if (r->status != RS_OK && r->status != RS_SKIPPED && r->status != RS_CANCELLED)
		j->failures++;
	if (r->status != RS_SKIPPED) {
		/* skipped runs last milliseconds and would drown the real durations */
		for (int b = 0; b < SCHED_N_BUCKETS; b++)
			if (r->duration <= sched_buckets[b])
				j->dur_bucket[b]++;
		j->dur_count++;
		j->dur_sum += r->duration;
	}

	if (r->status == RS_CANCELLED)
		return;         /* shutting down: no next run to plan */
	if (r->status == RS_TIMEOUT || r->status == RS_CRASHED)
		oc = SCHED_RETRY;
	else
		oc = sched_classify(r->exit_code);

	j->retry_wall = 0;
	switch (oc) {
	case SCHED_OK:
		j->consecutive_failures = 0;
		j->attempt = 0;
		break;
	case SCHED_BUSY:
		/* someone else is refreshing this table right now: that is as good
		 * as our run, so back to the regular schedule */
		j->attempt = 0;
		break;
	case SCHED_RETRY:
		j->consecutive_failures++;
		if (j->attempt < j->spec.retries) {
			double d;
			j->attempt++;
			d = sched_backoff(j->spec.backoff_initial, j->spec.backoff_max, j->attempt);
			j->retry_wall = now + d;
			snprintf(num, sizeof num, "%d", j->attempt);
			snprintf(when, sizeof when, "%.1f", d);
			log_event(SD_LOG_INFO, &ctx, "run.retry",
				  (const char *const[]){ "attempt#", num, "delay_s#", when }, 2,
				  "retry %d of %d in %.1fs", j->attempt, j->spec.retries, d);
		} else {
			if (j->spec.retries > 0)
				log_event(SD_LOG_WARN, &ctx, "run.give_up", NULL, 0,
					  "giving up after %d retries; back to the regular schedule",
					  j->spec.retries);
			j->attempt = 0;
		}
		break;
	case SCHED_PERMANENT:
		j->consecutive_failures++;
		j->attempt = 0;
		break;
	}
	/* missed slots (the run overran, the retries took long) are skipped */
	if (!j->retry_wall && j->fire_wall <= now)
		schedule_next(s, j, now);
}
