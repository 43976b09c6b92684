/*
 * main — the snapdiff command line: git-style subcommands from one table.
 * This is the only place (with scheduler/) that prints for humans and picks
 * exit codes; the exit code is the sd_code of the failure (differ/error.h,
 * docs/exit-codes in README).
 */
#include <getopt.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "cmd_lake.h"
#include "config.h"
#include "encode.h"
#include "log.h"
#include "mediawiki.h"
#include "error.h"
#include "run.h"
#include "sink.h"
#include "source.h"
#include "state.h"
#include "scheduler/scheduler.h"

#define SNAPDIFF_VERSION "0.1.0"

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
	(void)sig;
	/* a second signal while stopping means "now" */
	if (stop_requested)
		_exit(SD_ERR_INTERRUPTED);
	stop_requested = 1;
}

static void say_error(const struct sderr *e)
{
	fprintf(stderr, "snapdiff: error: %s\n", e->msg);
}

static const char *config_path(const char *opt)
{
	if (opt)
		return opt;
	const char *env = getenv("SNAPDIFF_CONFIG");
	return env && *env ? env : NULL;
}

static struct cfg *load_config(const char *opt, struct sderr *e)
{
	const char *path = config_path(opt);
	if (!path) {
		sderr_set(e, SD_ERR_USAGE, "no configuration: pass --config FILE or set SNAPDIFF_CONFIG");
		return NULL;
	}
	return cfg_load(path, e);
}

/* ---- run ---------------------------------------------------------------- */

static void progress(void *ctx, const char *db, const char *tbl, const struct run_counts *n)
{
	(void)ctx;
	fprintf(stderr, "\r%s.%s: %lld rows, %lld chunks, +%lld ~%lld -%lld   ", db, tbl,
		(long long)n->rows_scanned, (long long)n->chunks, (long long)n->inserted,
		(long long)n->updated, (long long)n->deleted);
}

static int in_filter(char **list, size_t n, const char *name)
{
	if (!n)
		return 1;
	for (size_t i = 0; i < n; i++)
		if (strcmp(list[i], name) == 0)
			return 1;
	return 0;
}

/* Adds one table's result to the summary's tables[] and the totals. */
static void add_result(struct buf *tables, struct run_counts *tot, const char *db, const char *tbl,
		       const struct run_result *res)
{
	tot->rows_scanned += res->n.rows_scanned;
	tot->chunks += res->n.chunks;
	tot->chunks_skipped += res->n.chunks_skipped;
	tot->chunks_unchanged += res->n.chunks_unchanged;
	tot->inserted += res->n.inserted;
	tot->updated += res->n.updated;
	tot->deleted += res->n.deleted;
	tot->bytes_read += res->n.bytes_read;
	tot->rows_after += res->n.rows_after;
	tot->seconds += res->n.seconds;
	if (tables->len)
		buf_addch(tables, ',');
	buf_addstr(tables, "{\"db\":");
	json_add_string(tables, db, strlen(db));
	buf_addstr(tables, ",\"table\":");
	json_add_string(tables, tbl, strlen(tbl));
	buf_addstr(tables, ",\"run_id\":");
	json_add_string(tables, res->run_id, strlen(res->run_id));
	buf_addf(tables, ",\"status\":\"%s\",\"code\":%d,", res->status, res->code);
	run_counts_json(tables, &res->n);
	buf_addstr(tables, ",\"snapshot_time\":");
	json_add_string(tables, res->snapshot_time, strlen(res->snapshot_time));
	buf_addstr(tables, ",\"gtid_binlog_pos\":");
	json_add_string(tables, res->gtid, strlen(res->gtid));
	if (res->code) {
		buf_addstr(tables, ",\"error\":");
		json_add_string(tables, res->error, strlen(res->error));
	}
	buf_addch(tables, '}');
}

/* kcat's -X key=value: a librdkafka property for every kafka sink, applied
 * after the file's own properties so the command line wins. */
static int add_kafka_property(struct cfg *cfg, const char *kv, struct sderr *e)
{
	const char *eq = strchr(kv, '=');
	if (!eq || eq == kv)
		return sderr_set(e, SD_ERR_USAGE, "-X wants key=value, got '%s'", kv);
	if (!strncmp(kv, "sasl.password", (size_t)(eq - kv)) || strstr(kv, "password="))
		return sderr_set(e, SD_ERR_USAGE, "-X: secrets never go on the command line; use "
				 "sasl_password_env or sasl_password_file in the configuration");
	size_t n = 0;
	for (size_t i = 0; i < cfg->n_sinks; i++) {
		struct cfg_sink *s = &cfg->sinks[i];
		if (s->type != CFG_SINK_KAFKA)
			continue;
		n++;
		size_t j;
		for (j = 0; j < s->n_properties; j++)
			if (strlen(s->properties[j].key) == (size_t)(eq - kv) &&
			    !strncmp(s->properties[j].key, kv, (size_t)(eq - kv)))
				break;
		if (j < s->n_properties) {
			free(s->properties[j].value);
			s->properties[j].value = xstrdup(eq + 1);
			continue;
		}
		s->properties = xrealloc(s->properties, (s->n_properties + 1) * sizeof(*s->properties));
		s->properties[s->n_properties].key = xstrndup(kv, (size_t)(eq - kv));
		s->properties[s->n_properties].value = xstrdup(eq + 1);
		s->n_properties++;
	}
	if (!n)
		return sderr_set(e, SD_ERR_USAGE, "-X %s: the configuration has no kafka sink", kv);
	return SD_OK;
}

static void usage_run(FILE *f)
{
	fprintf(f, "usage: snapdiff run [--config FILE] [--db DB]... [--table TABLE]... [--dry-run]\n"
		   "                    [--allow-mass-delete] [--full] [--quiet] [-X kafka.property=value]...\n");
}

static int cmd_run(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "db", required_argument, NULL, 'd' },
		{ "table", required_argument, NULL, 't' },
		{ "dry-run", no_argument, NULL, 'n' },
		{ "allow-mass-delete", no_argument, NULL, 'M' },
		{ "full", no_argument, NULL, 'F' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *config = NULL;
	char **props = xcalloc((size_t)argc, sizeof(char *));
	size_t nprops = 0;
	char **dbs = xcalloc((size_t)argc, sizeof(char *)), **tbls = xcalloc((size_t)argc, sizeof(char *));
	size_t ndb = 0, ntbl = 0;
	struct run_opts ro = { 0 };
	int quiet = 0, c;
	while ((c = getopt_long(argc, argv, "c:d:t:nMFqhX:", opts, NULL)) != -1) {
		switch (c) {
		case 'X': props[nprops++] = optarg; break;
		case 'c': config = optarg; break;
		case 'd': dbs[ndb++] = optarg; break;
		case 't': tbls[ntbl++] = optarg; break;
		case 'n': ro.dry_run = true; break;
		case 'M': ro.allow_mass_delete = true; break;
		case 'F': ro.full = true; break;
		case 'q': quiet = 1; break;
		case 'h': usage_run(stdout); free(dbs); free(tbls); free(props); return 0;
		default: usage_run(stderr); free(dbs); free(tbls); free(props); return SD_ERR_USAGE;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "snapdiff: error: unexpected argument '%s'\n", argv[optind]);
		usage_run(stderr);
		free(dbs);
		free(tbls);
		return SD_ERR_USAGE;
	}
	struct sderr e = { 0, "" };
	struct cfg *cfg = load_config(config, &e);
	struct st_db *st = NULL;
	struct src_conn *src = NULL;
	struct sink *sinks = NULL;
	size_t nsinks = 0;
	int rc = cfg ? SD_OK : e.code;
	for (size_t i = 0; !rc && i < nprops; i++)
		rc = add_kafka_property(cfg, props[i], &e);
	/* filters must name configured things: a typo must not be a silent no-op */
	for (size_t i = 0; !rc && i < ndb; i++) {
		if (!in_filter(cfg->databases, cfg->n_databases, dbs[i]))
			rc = sderr_set(&e, SD_ERR_USAGE, "database '%s' is not in the configuration", dbs[i]);
	}
	for (size_t i = 0; !rc && i < ntbl; i++) {
		if (!cfg_table_find(cfg, tbls[i]))
			rc = sderr_set(&e, SD_ERR_USAGE, "table '%s' is not in the configuration", tbls[i]);
	}
	if (!rc)
		rc = st_open(cfg->state_path, &st, &e);
	if (!rc && !ro.dry_run)
		rc = sinks_open(cfg, &sinks, &nsinks, &e);
	if (!rc)
		rc = src_connect(cfg, &src, &e);

	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);

	struct buf tables = BUF_INIT;
	struct run_counts tot = { 0 };
	int first_fail = SD_OK, nrun = 0, nskipped = 0;
	struct run_env env = { .cfg = cfg, .st = st, .src = src, .sinks = sinks, .nsinks = nsinks,
			       .opts = ro, .stop = &stop_requested };
	if (!quiet && isatty(STDERR_FILENO))
		env.progress_fn = progress;
	size_t ntab = cfg ? cfg->n_tables : 0;
	const struct cfg_table **group = xcalloc(ntab ? ntab : 1, sizeof(*group));
	struct run_result *results = xcalloc(ntab ? ntab : 1, sizeof(*results));
	if (cfg && cfg->mediawiki.page_change) {
		/* page-level events need every table's diff from one snapshot */
		env.after_deliver = mw_after_deliver;
		env.after_ctx = cfg;
		env.keep_spools = true;
	}
	for (size_t d = 0; !rc && d < cfg->n_databases; d++) {
		const char *db = cfg->databases[d];
		if (!in_filter(dbs, ndb, db))
			continue;
		size_t ng = 0;
		for (size_t i = 0; i < cfg->n_tables; i++)
			if (in_filter(tbls, ntbl, cfg->tables[i].name))
				group[ng++] = &cfg->tables[i];
		/* one group of all tables (profile) or one group per table */
		size_t step = cfg->mediawiki.page_change ? ng : 1;
		for (size_t g = 0; !rc && g < ng && !stop_requested; g += step) {
			int r = run_group(&env, db, group + g, step, results);
			if (env.progress_fn)
				fputc('\n', stderr);
			/* a failed run may leave the session mid-result or broken:
			 * the next group gets a fresh connection */
			if (r && r != SD_ERR_BUSY) {
				struct sderr ce;
				src_close(src);
				src = NULL;
				if (src_connect(cfg, &src, &ce) == SD_OK)
					env.src = src;
				else {
					rc = ce.code;
					e = ce;
				}
			}
			for (size_t i = 0; i < step; i++) {
				const struct run_result *res = &results[i];
				int ri = res->code;
				nrun++;
				if (ri == SD_ERR_BUSY)
					nskipped++;
				else if (ri && !first_fail)
					first_fail = ri;
				if (ri && (i == 0 || strcmp(res->error, results[0].error) != 0))
					fprintf(stderr, "snapdiff: %s: %s\n", ri == SD_ERR_BUSY ? "skipped" : "error",
						res->error);
				add_result(&tables, &tot, db, group[g + i]->name, res);
			}
		}
	}
	free(group);
	free(results);
	if (rc) {
		say_error(&e);
	} else if (first_fail) {
		rc = first_fail;
	} else if (nrun > 0 && nskipped == nrun) {
		rc = SD_ERR_BUSY;
	} else if (stop_requested) {
		rc = SD_ERR_INTERRUPTED;
	}
	struct buf out = BUF_INIT;
	buf_addf(&out, "{\"status\":\"%s\",\"code\":%d,%s", rc ? sd_code_name(rc) : (ro.dry_run ? "dry-run" : "ok"),
		 rc, "");
	run_counts_json(&out, &tot);
	buf_addstr(&out, ",\"tables\":[");
	buf_add(&out, tables.p, tables.len);
	buf_addch(&out, ']');
	if (rc && e.msg[0]) {
		buf_addstr(&out, ",\"error\":");
		json_add_string(&out, e.msg, strlen(e.msg));
	}
	buf_addstr(&out, "}\n");
	fflush(stdout);
	fwrite(out.p, 1, out.len, stdout);
	fflush(stdout);
	buf_release(&out);
	buf_release(&tables);
	src_close(src);
	if (sinks)
		sinks_close(sinks, nsinks);
	st_close(st);
	cfg_free(cfg);
	free(dbs);
	free(tbls);
	free(props);
	return rc;
}

/* ---- status ------------------------------------------------------------- */

struct status_ctx {
	int json;
	int n;
	double now;
};

static void status_row(void *ctx, const char *db, const char *tbl, const struct st_table_info *info,
		       const char *last_run_json)
{
	struct status_ctx *s = ctx;
	/* freshness: how old the data of the last committed run is */
	double seen = info->last_snapshot > 0 ? info->last_snapshot : info->last_success;
	double lag = seen > 0 ? s->now - seen : -1;
	if (s->json) {
		struct buf b = BUF_INIT;
		buf_addstr(&b, "{\"db\":");
		json_add_string(&b, db, strlen(db));
		buf_addstr(&b, ",\"table\":");
		json_add_string(&b, tbl, strlen(tbl));
		buf_addf(&b, ",\"generation\":%lld,\"rows\":%lld,\"chunks\":%lld,\"last_success\":%.3f,"
			 "\"lag_seconds\":%.3f,\"last_run\":%s}\n",
			 (long long)info->generation, (long long)info->rows, (long long)info->chunks,
			 info->last_success, lag, last_run_json ? last_run_json : "null");
		fwrite(b.p, 1, b.len, stdout);
		buf_release(&b);
	} else {
		if (s->n == 0)
			printf("%-32s %6s %12s %8s %20s %10s  %s\n", "TABLE", "GEN", "ROWS", "CHUNKS",
			       "LAST SUCCESS (UTC)", "LAG", "LAST RUN");
		char when[32] = "never";
		if (info->last_success > 0) {
			time_t ts = (time_t)info->last_success;
			struct tm tm;
			gmtime_r(&ts, &tm);
			strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
		}
		char name[160], lagtxt[32] = "-";
		snprintf(name, sizeof(name), "%s.%s", db, tbl);
		if (lag >= 0)
			snprintf(lagtxt, sizeof(lagtxt), "%.0fs", lag);
		/* the last run in one short phrase: status, changes, error */
		char last[512] = "-";
		json_t *lr = last_run_json ? json_loads(last_run_json, 0, NULL) : NULL;
		if (json_is_object(lr)) {
			json_t *cn = json_object_get(lr, "counts");
			const char *st = json_string_value(json_object_get(lr, "status"));
			const char *er = json_string_value(json_object_get(lr, "error"));
			snprintf(last, sizeof(last), "%s +%lld ~%lld -%lld%s%.400s", st ? st : "?",
				 (long long)json_integer_value(json_object_get(cn, "inserted")),
				 (long long)json_integer_value(json_object_get(cn, "updated")),
				 (long long)json_integer_value(json_object_get(cn, "deleted")),
				 er ? ": " : "", er ? er : "");
		}
		json_decref(lr);
		printf("%-32s %6lld %12lld %8lld %20s %10s  %s\n", name, (long long)info->generation,
		       (long long)info->rows, (long long)info->chunks, when, lagtxt, last);
	}
	s->n++;
}

static int cmd_status(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	const char *config = NULL;
	struct status_ctx s = { 0, 0, 0 };
	int c;
	while ((c = getopt_long(argc, argv, "c:j", opts, NULL)) != -1) {
		if (c == 'c')
			config = optarg;
		else if (c == 'j')
			s.json = 1;
		else {
			fprintf(stderr, "usage: snapdiff status [--config FILE] [--json]\n");
			return SD_ERR_USAGE;
		}
	}
	struct sderr e = { 0, "" };
	struct cfg *cfg = load_config(config, &e);
	if (!cfg) {
		say_error(&e);
		return e.code;
	}
	struct st_db *st = NULL;
	int rc = st_open(cfg->state_path, &st, &e);
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	s.now = (double)ts.tv_sec + ts.tv_nsec / 1e9;
	if (!rc)
		rc = st_status(st, status_row, &s, &e);
	if (rc)
		say_error(&e);
	else if (!s.json && s.n == 0)
		printf("no runs recorded in '%s'\n", cfg->state_path);
	st_close(st);
	cfg_free(cfg);
	return rc;
}

/* ---- config ------------------------------------------------------------- */

static int cmd_config(int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "doc") == 0) {
		cfg_doc(stdout);
		return SD_OK;
	}
	if (argc < 2 || strcmp(argv[1], "check") != 0) {
		fprintf(stderr, "usage: snapdiff config check [--config FILE | FILE]\n"
				"       snapdiff config doc   (the key reference, docs/configuration.md)\n");
		return SD_ERR_USAGE;
	}
	const char *path = NULL;
	for (int i = 2; i < argc; i++) {
		if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
			path = argv[++i];
		else if (strncmp(argv[i], "--config=", 9) == 0)
			path = argv[i] + 9;
		else if (argv[i][0] != '-')
			path = argv[i];
		else {
			fprintf(stderr, "usage: snapdiff config check [--config FILE | FILE]\n");
			return SD_ERR_USAGE;
		}
	}
	struct sderr e = { 0, "" };
	struct cfg *cfg = load_config(path, &e);
	if (!cfg) {
		say_error(&e);
		return e.code;
	}
	cfg_dump(cfg, stdout);
	fprintf(stderr, "snapdiff: configuration '%s' is valid\n", cfg->path);
	cfg_free(cfg);
	return SD_OK;
}

/* ---- table of commands -------------------------------------------------- */

static int cmd_version(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	printf("snapdiff %s\n", SNAPDIFF_VERSION);
	return 0;
}

static int cmd_help(int argc, char **argv);

static const struct command {
	const char *name;
	int (*fn)(int, char **);
	const char *help;
} commands[] = {
	{ "run", cmd_run, "scan configured tables, emit changes, commit state" },
	{ "status", cmd_status, "per-table last run, lag and counts from the state" },
	{ "scheduler", scheduler_main, "run the configured tables on their schedules; /metrics, /status (docs/scheduler.md)" },
	{ "config", cmd_config, "config check: validate and print the configuration; config doc" },
	{ "lake", cmd_lake, "lake orphans|expire|compact: Iceberg lake maintenance (docs/lake.md)" },
	{ "version", cmd_version, "print the version" },
	{ "help", cmd_help, "this list" },
};

static int cmd_help(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	printf("usage: snapdiff <command> [options]\n\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		printf("  %-10s %s\n", commands[i].name, commands[i].help);
	printf("\nexit codes: 0 ok, 1 internal, 2 usage, 3 config, 4 source, 5 state, 6 sink,\n"
	       "            7 refused by a guard, 8 schema, 9 auth, 10 interrupted, 99 busy (skipped)\n");
	return 0;
}

int main(int argc, char **argv)
{
	/* SNAPDIFF_LOG_LEVEL / SNAPDIFF_LOG_FORMAT; librdkafka's lines go through it */
	log_init("snapdiff");
	if (argc < 2) {
		cmd_help(0, NULL);
		return SD_ERR_USAGE;
	}
	if (strcmp(argv[1], "--version") == 0)
		return cmd_version(0, NULL);
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)
		return cmd_help(0, NULL);
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(argv[1], commands[i].name) == 0)
			return commands[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "snapdiff: error: unknown command '%s' (see 'snapdiff help')\n", argv[1]);
	return SD_ERR_USAGE;
}
