/*
 * test_sched — unit tests of the scheduler's pure parts: cron parsing and
 * next-fire computation (month ends, leap days, the day-of-month/day-of-week
 * OR rule, checked against a brute-force walk with gmtime_r), interval slots
 * and jitter, the backoff sequence and its cap, the exit-code policy, the
 * job table's retry/concurrency/reload behaviour, the JSON summary reader,
 * and the logger's line format (JSON validity, masking, truncation).
 */
#include "harness.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "differ/log.h"
#include "scheduler/cron.h"
#include "scheduler/sched_int.h"
#include "scheduler/timing.h"

/* 2024-01-01T00:00:00Z, a Monday */
#define JAN1_2024 1704067200LL

static int64_t utc(int y, int mo, int d, int h, int mi)
{
	return cron_days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60;
}

static int64_t next_of(const char *expr, int64_t after)
{
	struct cron_expr c;
	char err[128];

	if (cron_parse(expr, &c, err, sizeof err) < 0)
		return -2;
	return cron_next(&c, after);
}

TEST(cron_calendar)
{
	int64_t y;
	int m, d;

	CHECK_INT(cron_days_from_civil(1970, 1, 1), 0);
	CHECK_INT(cron_days_from_civil(2000, 3, 1), 11017);
	CHECK_INT(utc(2024, 1, 1, 0, 0), JAN1_2024);
	CHECK_INT(cron_weekday(0), 4);                                   /* Thursday */
	CHECK_INT(cron_weekday(cron_days_from_civil(2024, 1, 1)), 1);    /* Monday */
	CHECK_INT(cron_weekday(cron_days_from_civil(1969, 12, 31)), 3);  /* before the epoch */
	CHECK_INT(cron_days_in_month(2024, 2), 29);
	CHECK_INT(cron_days_in_month(2023, 2), 28);
	CHECK_INT(cron_days_in_month(2100, 2), 28);
	CHECK_INT(cron_days_in_month(2000, 2), 29);
	CHECK_INT(cron_days_in_month(2024, 4), 30);
	cron_civil_from_days(cron_days_from_civil(2028, 2, 29), &y, &m, &d);
	CHECK_INT(y, 2028);
	CHECK_INT(m, 2);
	CHECK_INT(d, 29);
}

TEST(cron_parse_fields)
{
	struct cron_expr c;
	char err[128];

	CHECK_INT(cron_parse("*/15 * * * *", &c, err, sizeof err), 0);
	CHECK(c.minute == ((1ULL << 0) | (1ULL << 15) | (1ULL << 30) | (1ULL << 45)));
	CHECK(c.hour == 0xffffffu >> 0 && c.hour == (1u << 24) - 1);
	CHECK(c.dom_star && c.dow_star);
	CHECK_INT(cron_parse("10-20/5,59 0,12 1-3 jan-mar,DEC mon-fri", &c, err, sizeof err), 0);
	CHECK(c.minute == ((1ULL << 10) | (1ULL << 15) | (1ULL << 20) | (1ULL << 59)));
	CHECK(c.hour == ((1u << 0) | (1u << 12)));
	CHECK(c.dom == ((1u << 1) | (1u << 2) | (1u << 3)));
	CHECK(c.month == ((1u << 1) | (1u << 2) | (1u << 3) | (1u << 12)));
	CHECK(c.dow == 0x3e);
	CHECK(!c.dom_star && !c.dow_star);
	CHECK_INT(cron_parse("5/20 * * * 7", &c, err, sizeof err), 0);
	CHECK(c.minute == ((1ULL << 5) | (1ULL << 25) | (1ULL << 45)));
	CHECK(c.dow == 1);      /* 7 folds onto Sunday */
	CHECK_INT(cron_parse("  0   3 * * *  ", &c, err, sizeof err), 0);
	CHECK_INT(cron_parse("@hourly", &c, err, sizeof err), 0);
	CHECK(c.minute == 1 && c.hour == (1u << 24) - 1);
	CHECK_INT(cron_parse("@weekly", &c, err, sizeof err), 0);
	CHECK(c.dow == 1 && c.dom_star && !c.dow_star);
}

TEST(cron_parse_errors)
{
	struct cron_expr c;
	char err[128];
	static const char *const bad[] = {
		"", "* * * *", "* * * * * *", "60 * * * *", "* 24 * * *", "* * 0 * *",
		"* * 32 * *", "* * * 13 *", "* * * * 8", "*/0 * * * *", "5-1 * * * *",
		"1,,2 * * * *", "1, * * * *", "a * * * *", "* * * foo *", "@every",
		"@daily extra", "1-2-3 * * * *", "*/x * * * *",
	};

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		err[0] = '\0';
		if (cron_parse(bad[i], &c, err, sizeof err) != -1) {
			harness_fail(__FILE__, __LINE__, "accepted \"%s\"", bad[i]);
			return;
		}
		CHECK(strncmp(err, "cron: ", 6) == 0);
	}
	CHECK_INT(cron_parse("* 25 * * *", &c, err, sizeof err), -1);
	CHECK_STR(err, "cron: hour: 25 is out of range 0-23");
}

TEST(cron_next_basic)
{
	CHECK_INT(next_of("* * * * *", JAN1_2024), JAN1_2024 + 60);
	CHECK_INT(next_of("* * * * *", JAN1_2024 + 30), JAN1_2024 + 60);  /* mid-minute */
	CHECK_INT(next_of("*/15 * * * *", JAN1_2024), JAN1_2024 + 15 * 60);
	CHECK_INT(next_of("*/15 * * * *", JAN1_2024 + 15 * 60), JAN1_2024 + 30 * 60); /* strictly after */
	CHECK_INT(next_of("0 * * * *", JAN1_2024 + 1), JAN1_2024 + 3600);
	CHECK_INT(next_of("30 2 * * *", JAN1_2024), utc(2024, 1, 1, 2, 30));
	CHECK_INT(next_of("30 2 * * *", utc(2024, 1, 1, 2, 30)), utc(2024, 1, 2, 2, 30));
	CHECK_INT(next_of("@daily", utc(2024, 12, 31, 23, 59)), utc(2025, 1, 1, 0, 0));
	CHECK_INT(next_of("@monthly", utc(2024, 1, 31, 12, 0)), utc(2024, 2, 1, 0, 0));
	CHECK_INT(next_of("@yearly", utc(2024, 6, 1, 0, 0)), utc(2025, 1, 1, 0, 0));
}

TEST(cron_next_month_edges)
{
	/* the 31st skips the months that do not have one */
	CHECK_INT(next_of("0 0 31 * *", utc(2024, 4, 1, 0, 0)), utc(2024, 5, 31, 0, 0));
	CHECK_INT(next_of("0 0 31 * *", utc(2024, 5, 31, 0, 0)), utc(2024, 7, 31, 0, 0));
	/* leap days: the next 29 February after 2024 is 2028's */
	CHECK_INT(next_of("0 0 29 2 *", utc(2024, 3, 1, 0, 0)), utc(2028, 2, 29, 0, 0));
	CHECK_INT(next_of("0 0 29 2 *", utc(2024, 2, 28, 23, 59)), utc(2024, 2, 29, 0, 0));
	/* 2100 is not a leap year: 2096 -> 2104 */
	CHECK_INT(next_of("0 0 29 2 *", utc(2096, 3, 1, 0, 0)), utc(2104, 2, 29, 0, 0));
	/* never: February 30th */
	CHECK_INT(next_of("0 0 30 2 *", JAN1_2024), -1);
	/* year end */
	CHECK_INT(next_of("59 23 31 12 *", utc(2024, 12, 31, 23, 59)), utc(2025, 12, 31, 23, 59));
	CHECK_INT(next_of("0 0 1 jan *", utc(2024, 6, 1, 0, 0)), utc(2025, 1, 1, 0, 0));
	CHECK_INT(next_of("0 0 * 2 *", utc(2024, 2, 29, 0, 0)), utc(2025, 2, 1, 0, 0));
}

TEST(cron_next_weekdays)
{
	/* 2024-01-01 is a Monday */
	CHECK_INT(next_of("0 12 * * 1", JAN1_2024), utc(2024, 1, 1, 12, 0));
	CHECK_INT(next_of("0 12 * * mon", utc(2024, 1, 1, 12, 0)), utc(2024, 1, 8, 12, 0));
	CHECK_INT(next_of("0 0 * * 0", JAN1_2024), utc(2024, 1, 7, 0, 0));
	CHECK_INT(next_of("0 0 * * 7", JAN1_2024), utc(2024, 1, 7, 0, 0));
	CHECK_INT(next_of("0 0 * * sat,sun", JAN1_2024), utc(2024, 1, 6, 0, 0));
	CHECK_INT(next_of("0 9 * * 1-5", utc(2024, 1, 5, 10, 0)), utc(2024, 1, 8, 9, 0));  /* Fri -> Mon */
	/* both restricted: the 13th OR a Friday (Vixie) */
	CHECK_INT(next_of("0 0 13 * 5", JAN1_2024), utc(2024, 1, 5, 0, 0));
	CHECK_INT(next_of("0 0 13 * 5", utc(2024, 1, 12, 0, 0)), utc(2024, 1, 13, 0, 0));
	/* a day-of-month field starting with '*' does not take part: Mondays only */
	CHECK_INT(next_of("0 0 */2 * 1", utc(2024, 1, 2, 0, 0)), utc(2024, 1, 8, 0, 0));
	/* OR within the month restriction: the first February Thursday of 2025 */
	CHECK_INT(next_of("0 0 29 2 4", utc(2024, 3, 1, 0, 0)), utc(2025, 2, 6, 0, 0));
}

/* Walks minute by minute with the C library's calendar. */
static int64_t brute_next(const struct cron_expr *c, int64_t after, int64_t horizon)
{
	int64_t t = after - (((after % 60) + 60) % 60) + 60;

	for (; t <= after + horizon; t += 60) {
		time_t tt = (time_t)t;
		struct tm tm;
		bool dom, dow, day;
		gmtime_r(&tt, &tm);
		if (!((c->minute >> tm.tm_min) & 1) || !((c->hour >> tm.tm_hour) & 1) ||
		    !((c->month >> (tm.tm_mon + 1)) & 1))
			continue;
		dom = (c->dom >> tm.tm_mday) & 1;
		dow = (c->dow >> tm.tm_wday) & 1;
		day = c->dom_star && c->dow_star ? true : c->dom_star ? dow : c->dow_star ? dom : (dom || dow);
		if (day)
			return t;
	}
	return -1;
}

TEST(cron_next_matches_brute_force)
{
	static const char *const exprs[] = {
		"*/7 * * * *", "0 */5 * * *", "15 3 * * 2", "0 0 1,15 * *", "0 0 28-31 * *",
		"45 23 * * 6,0", "*/20 8-10 * 3,4 *", "0 12 10 * 3", "0 0 L * *",
	};
	static const int64_t starts[] = {
		1704067200LL, 1709164800LL /* 2024-02-29 */, 1735689540LL /* 2024-12-31T23:59 */,
		1711846800LL, 951782400LL /* 2000-02-29 */,
	};

	for (size_t i = 0; i < sizeof exprs / sizeof exprs[0]; i++) {
		struct cron_expr c;
		char err[128];
		if (cron_parse(exprs[i], &c, err, sizeof err) < 0)
			continue;       /* "L" is not supported: just skipped here */
		for (size_t k = 0; k < sizeof starts / sizeof starts[0]; k++) {
			int64_t want = brute_next(&c, starts[k], 120LL * 86400);
			int64_t got = cron_next(&c, starts[k]);
			if (want != got) {
				harness_fail(__FILE__, __LINE__, "\"%s\" after %lld: got %lld, want %lld",
					     exprs[i], (long long)starts[k], (long long)got, (long long)want);
				return;
			}
		}
	}
}

TEST(backoff_sequence_and_cap)
{
	static const double want[] = { 10, 20, 40, 80, 160, 320, 600, 600, 600 };

	for (int a = 1; a <= 9; a++)
		CHECK(sched_backoff(10, 600, a) == want[a - 1]);
	CHECK(sched_backoff(10, 600, 1000) == 600);
	CHECK(sched_backoff(0, 600, 1) == 10);          /* non-positive initial: 10 s */
	CHECK(sched_backoff(30, 5, 3) == 30);           /* max below initial: initial */
	CHECK(sched_backoff(1.5, 1e9, 4) == 12);
	CHECK(sched_backoff(10, 600, 0) == 10);
}

TEST(interval_slots_and_jitter)
{
	uint64_t rng = 42;
	double sum = 0;

	CHECK(sched_next_slot(100, 60, 130) == 160);
	CHECK(sched_next_slot(100, 60, 160) == 220);    /* a slot equal to now is past */
	CHECK(sched_next_slot(100, 60, 1000) == 1060);  /* missed slots skipped, grid kept */
	CHECK(sched_next_slot(100, 0, 1000) == 1000);
	CHECK(sched_jittered(100, 30, 0.5) == 115);
	CHECK(sched_jittered(100, 0, 0.9) == 100);
	CHECK(sched_jittered(100, 30, 1.0) < 130);
	for (int i = 0; i < 20000; i++) {
		double u = sched_uniform(&rng);
		CHECK(u >= 0 && u < 1);
		sum += u;
	}
	CHECK(fabs(sum / 20000 - 0.5) < 0.02);
}

TEST(exit_code_policy)
{
	CHECK_INT(sched_classify(0), SCHED_OK);
	CHECK_INT(sched_classify(99), SCHED_BUSY);
	CHECK_INT(sched_classify(1), SCHED_RETRY);
	CHECK_INT(sched_classify(4), SCHED_RETRY);
	CHECK_INT(sched_classify(5), SCHED_RETRY);
	CHECK_INT(sched_classify(6), SCHED_RETRY);
	CHECK_INT(sched_classify(10), SCHED_RETRY);
	CHECK_INT(sched_classify(-1), SCHED_RETRY);
	CHECK_INT(sched_classify(3), SCHED_PERMANENT);
	CHECK_INT(sched_classify(7), SCHED_PERMANENT);
	CHECK_INT(sched_classify(8), SCHED_PERMANENT);
	CHECK_INT(sched_classify(9), SCHED_PERMANENT);
	CHECK_INT(sched_classify(2), SCHED_PERMANENT);
	CHECK_INT(sched_status_of(0, true, true), RS_OK);
	CHECK_INT(sched_status_of(1, false, true), RS_CANCELLED);
	CHECK_INT(sched_status_of(-1, true, false), RS_TIMEOUT);
	CHECK_INT(sched_status_of(-1, false, false), RS_CRASHED);
	CHECK_INT(sched_status_of(99, false, false), RS_SKIPPED);
	CHECK_INT(sched_status_of(7, false, false), RS_REFUSED);
	CHECK_INT(sched_status_of(4, false, false), RS_FAILED);
}

/* ---- the job table ----------------------------------------------------------- */

struct fake {
	struct cfg c;
	char *dbs[3];
	struct cfg_table t[3];
	struct sched s;
};

static void fake_init(struct fake *f, int n_db, int n_tbl)
{
	static char dbn[3][8] = { "enwiki", "dewiki", "frwiki" };
	static char tn[3][10] = { "page", "revision", "user" };
	static char path[] = "/etc/snapdiff.yaml", host[] = "db1";

	memset(f, 0, sizeof *f);
	for (int i = 0; i < 3; i++)
		f->dbs[i] = dbn[i];
	for (int i = 0; i < 3; i++) {
		f->t[i].name = tn[i];
		f->t[i].every = 300;
		f->t[i].jitter = 30;
		f->t[i].timeout = 3600;
		f->t[i].retries = 3;
		f->t[i].backoff_initial = 10;
		f->t[i].backoff_max = 600;
		f->t[i].line = 10 + i;
	}
	f->c.path = path;
	f->c.databases = f->dbs;
	f->c.n_databases = (size_t)n_db;
	f->c.tables = f->t;
	f->c.n_tables = (size_t)n_tbl;
	f->c.source.host = host;
	f->c.source.port = 3306;
	f->c.scheduler.max_concurrent = 3;
	f->c.scheduler.max_per_host = 2;
	f->s.cfg = &f->c;
	f->s.rng = 7;
}

static struct run_result result(int code)
{
	struct run_result r;
	memset(&r, 0, sizeof r);
	r.exit_code = code;
	r.status = sched_status_of(code, false, false);
	r.started_wall = 1;
	r.duration = 2.5;
	return r;
}

TEST(jobs_interval_with_jitter)
{
	struct fake f;
	char err[256];
	double now = 1e9;
	struct job *j;
	struct run_result r = result(0);

	log_set_level(SD_LOG_OFF);
	fake_init(&f, 1, 1);
	CHECK_INT(sched_jobs_apply(&f.s, &f.c, now, err, sizeof err), 0);
	CHECK_INT(f.s.n_jobs, 1);
	j = f.s.jobs[0];
	CHECK_STR(j->host, "db1:3306");
	CHECK(j->fire_wall >= now && j->fire_wall < now + 30);
	/* a fresh table in state waits for its slot */
	j->in_state = true;
	j->last_success = now - 100;
	sched_job_schedule_initial(&f.s, j, now);
	CHECK(j->slot_wall == now + 200);
	CHECK(j->fire_wall >= now + 200 && j->fire_wall < now + 230);
	/* after a success at its fire time, the next slot is one interval on */
	r.status = RS_OK;
	sched_job_finished(&f.s, j, &r, j->fire_wall + 5);
	CHECK(j->slot_wall == now + 500);
	CHECK(j->fire_wall >= now + 500 && j->fire_wall < now + 530);
	CHECK_INT(j->runs[RS_OK], 1);
	/* an overrun skips the missed slots */
	sched_job_finished(&f.s, j, &r, now + 1234);
	CHECK(j->slot_wall == now + 1400);
	sched_jobs_free(&f.s);
	log_set_level(SD_LOG_INFO);
}

TEST(jobs_retry_backoff_then_give_up)
{
	struct fake f;
	char err[256];
	double now = 1e9;
	struct job *j;
	struct run_result r = result(4);
	static const double delays[] = { 10, 20, 40 };

	log_set_level(SD_LOG_OFF);
	fake_init(&f, 1, 1);
	CHECK_INT(sched_jobs_apply(&f.s, &f.c, now, err, sizeof err), 0);
	j = f.s.jobs[0];
	for (int i = 0; i < 3; i++) {
		sched_job_finished(&f.s, j, &r, now);
		CHECK_INT(j->attempt, i + 1);
		CHECK(j->retry_wall == now + delays[i]);
		CHECK(sched_job_due(j) == now + delays[i]);
	}
	sched_job_finished(&f.s, j, &r, now);         /* retries spent */
	CHECK(j->retry_wall == 0);
	CHECK_INT(j->attempt, 0);
	CHECK_INT(j->consecutive_failures, 4);
	CHECK_INT(j->failures, 4);
	CHECK(j->fire_wall > now);
	/* a success resets the streak */
	r = result(0);
	sched_job_finished(&f.s, j, &r, now);
	CHECK_INT(j->consecutive_failures, 0);
	/* permanent failures are not retried; the guard counts */
	r = result(7);
	sched_job_finished(&f.s, j, &r, now);
	CHECK(j->retry_wall == 0);
	CHECK_INT(j->guard_trips, 1);
	CHECK_INT(j->runs[RS_REFUSED], 1);
	/* exit 99 is not a failure */
	r = result(99);
	sched_job_finished(&f.s, j, &r, now);
	CHECK_INT(j->runs[RS_SKIPPED], 1);
	CHECK_INT(j->failures, 5);
	CHECK(j->retry_wall == 0);
	/* a crash is retried */
	r = result(-1);
	CHECK_INT(r.status, RS_CRASHED);
	sched_job_finished(&f.s, j, &r, now);
	CHECK(j->retry_wall == now + 10);
	sched_jobs_free(&f.s);
	log_set_level(SD_LOG_INFO);
}

TEST(jobs_concurrency_limits)
{
	struct fake f;
	char err[256];
	struct job *pick[16];
	double now = 1e9;

	fake_init(&f, 3, 3);
	CHECK_INT(sched_jobs_apply(&f.s, &f.c, now, err, sizeof err), 0);
	CHECK_INT(f.s.n_jobs, 9);
	/* one host: max_per_host 2 wins over max_concurrent 3 */
	CHECK_INT(sched_pick(&f.s, now + 100, pick, 16), 2);
	CHECK(pick[0]->fire_wall <= pick[1]->fire_wall);
	f.c.scheduler.max_per_host = 10;
	CHECK_INT(sched_pick(&f.s, now + 100, pick, 16), 3);
	/* one already running counts */
	f.s.jobs[4]->pid = 12345;
	CHECK_INT(sched_pick(&f.s, now + 100, pick, 16), 2);
	for (int i = 0; i < 2; i++)
		CHECK(pick[i] != f.s.jobs[4]);
	/* nothing due yet, except a manual trigger, which goes first */
	f.s.jobs[7]->manual = true;
	CHECK_INT(sched_pick(&f.s, now - 1000, pick, 16), 1);
	CHECK(pick[0] == f.s.jobs[7]);
	f.s.shutting_down = true;
	CHECK_INT(sched_pick(&f.s, now + 100, pick, 16), 0);
	f.s.jobs[4]->pid = 0;
	sched_jobs_free(&f.s);
}

TEST(jobs_reload_keeps_state)
{
	struct fake f;
	char err[256];
	double now = 1e9;
	struct job *keep;

	fake_init(&f, 2, 2);
	CHECK_INT(sched_jobs_apply(&f.s, &f.c, now, err, sizeof err), 0);
	CHECK_INT(f.s.n_jobs, 4);
	keep = sched_job_find(&f.s, "dewiki", "page");
	CHECK(keep != NULL);
	keep->runs[RS_OK] = 5;
	sched_job_find(&f.s, "enwiki", "revision")->pid = 999;  /* running */
	/* drop a table, add a database */
	f.c.n_tables = 1;
	f.c.n_databases = 3;
	CHECK_INT(sched_jobs_apply(&f.s, &f.c, now, err, sizeof err), 0);
	CHECK(sched_job_find(&f.s, "dewiki", "page") == keep);
	CHECK_INT(keep->runs[RS_OK], 5);
	CHECK(sched_job_find(&f.s, "frwiki", "page") != NULL);
	CHECK(sched_job_find(&f.s, "dewiki", "revision") == NULL);
	CHECK(sched_job_find(&f.s, "enwiki", "revision")->removed);   /* until it ends */
	sched_job_find(&f.s, "enwiki", "revision")->pid = 0;
	sched_jobs_gc(&f.s);
	CHECK(sched_job_find(&f.s, "enwiki", "revision") == NULL);
	CHECK_INT(f.s.n_jobs, 3);
	/* a bad cron refuses the whole configuration and changes nothing */
	static char bad_cron[] = "61 * * * *", good_cron[] = "0 3 * * *";

	f.t[0].cron = bad_cron;
	CHECK_INT(sched_jobs_apply(&f.s, &f.c, now, err, sizeof err), -1);
	CHECK_STR(err, "/etc/snapdiff.yaml:10: table 'page': cron: minute: 61 is out of range 0-59");
	CHECK_INT(f.s.n_jobs, 3);
	CHECK(!sched_job_find(&f.s, "dewiki", "page")->spec.has_cron);
	/* a good one switches the schedule */
	f.t[0].cron = good_cron;
	CHECK_INT(sched_jobs_apply(&f.s, &f.c, now, err, sizeof err), 0);
	keep = sched_job_find(&f.s, "dewiki", "page");
	CHECK(keep->spec.has_cron);
	CHECK(keep->fire_wall >= (double)next_of("0 3 * * *", (int64_t)now));
	sched_jobs_free(&f.s);
}

TEST(summary_parsing)
{
	struct run_result r;
	const char *out =
		"some noise\n"
		"{\"status\":\"ok\",\"rows_scanned\":1200,\"chunks\":3,\"chunks_skipped\":1,"
		"\"inserted\":5,\"updated\":2,\"deleted\":1,\"bytes_read\":99,\"seconds\":0.5,"
		"\"tables\":[{\"db\":\"enwiki\",\"table\":\"page\",\"run_id\":\"r-1\",\"status\":\"ok\","
		"\"error\":null}]}\n\n";

	memset(&r, 0, sizeof r);
	CHECK(sched_parse_summary(out, strlen(out), &r));
	CHECK_INT(r.rows_scanned, 1200);
	CHECK_INT(r.inserted, 5);
	CHECK_INT(r.updated, 2);
	CHECK_INT(r.deleted, 1);
	CHECK_STR(r.run_id, "r-1");
	CHECK_STR(r.error, "");
	memset(&r, 0, sizeof r);
	out = "{\"status\":\"error\",\"error\":\"source: lost connection\",\"tables\":[]}";
	CHECK(sched_parse_summary(out, strlen(out), &r));
	CHECK_STR(r.error, "source: lost connection");
	memset(&r, 0, sizeof r);
	CHECK(!sched_parse_summary("no json here\n", 13, &r));
	CHECK(!sched_parse_summary("{broken\n", 8, &r));
	CHECK(!sched_parse_summary("", 0, &r));
}

TEST(log_line_format)
{
	char line[LOG_LINE_MAX + 2];
	struct log_ctx ctx = { "run-1", "enwiki", "page" };
	const char *kv[] = { "exit#", "4", "note", "a \"quoted\"\nvalue", "skip", NULL };
	static char big[6000];
	int n;

	n = log_format_line(line, (int)sizeof line, SD_LOG_WARN, true, 1704067200.25, &ctx,
			    "run.finish", kv, 3, "failed: \x01 tab\there \xff");
	CHECK(n > 0 && line[n - 1] == '\n' && (int)strlen(line) == n);
	CHECK(strncmp(line, "{\"ts\":\"2024-01-01T00:00:00.250Z\",\"level\":\"warn\",\"pid\":", 54) == 0);
	CHECK(strstr(line, ",\"event\":\"run.finish\",\"run_id\":\"run-1\",\"db\":\"enwiki\",\"table\":\"page\"") != NULL);
	CHECK(strstr(line, ",\"exit\":4,") != NULL);
	CHECK(strstr(line, ",\"note\":\"a \\\"quoted\\\"\\nvalue\"") != NULL);
	CHECK(strstr(line, "skip") == NULL);
	CHECK(strstr(line, "\"msg\":\"failed: \\u0001 tab\\there \xef\xbf\xbd\"}\n") != NULL);

	n = log_format_line(line, (int)sizeof line, SD_LOG_INFO, false, 1704067200.0, &ctx,
			    NULL, kv, 2, "two\nlines");
	CHECK(strstr(line, " 2024-01-01T00:00:00.000Z info two\\nlines run_id=run-1 db=enwiki table=page exit=4") != NULL);
	CHECK(strchr(line, '\n') == line + n - 1);

	/* registered secrets never reach a line */
	log_add_secret("hunter2-secret");
	n = log_format_line(line, (int)sizeof line, SD_LOG_ERROR, true, 0, NULL, NULL, NULL, 0,
			    "auth failed for password hunter2-secret!");
	CHECK(strstr(line, "hunter2") == NULL);
	CHECK(strstr(line, "password ***!") != NULL);

	/* an over-long message is cut, the line stays one valid JSON object */
	memset(big, '"', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	n = log_format_line(line, (int)sizeof line, SD_LOG_INFO, true, 0, &ctx, "x", NULL, 0, big);
	CHECK(n <= LOG_LINE_MAX);
	CHECK(strcmp(line + n - 6, "...\"}\n") == 0);
	CHECK(line[n - 7] == '"' && line[n - 8] == '\\');   /* not cut inside an escape */

	CHECK_INT(log_set_level_name("WARNING"), 0);
	CHECK_INT(log_get_level(), SD_LOG_WARN);
	CHECK(!log_enabled(SD_LOG_INFO));
	CHECK_INT(log_set_level_name("loud"), -1);
	CHECK_INT(log_get_level(), SD_LOG_WARN);
	log_set_level(SD_LOG_INFO);
}
