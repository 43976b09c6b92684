/*
 * run — one (database, table) run from snapshot to commit; see run.c for the
 * protocol. Library code: returns codes, never prints.
 */
#ifndef SD_RUN_H
#define SD_RUN_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "error.h"
#include "sink.h"
#include "source.h"
#include "state.h"

struct run_opts {
	bool dry_run;            /* scan and report, commit nothing, emit nothing      */
	bool allow_mass_delete;  /* override the delete guard                          */
	bool full;               /* no checksum-pushdown skipping                      */
	bool progress;           /* call progress_fn                                   */
};

struct run_counts {
	int64_t rows_scanned;
	int64_t chunks;          /* ranges visited                                     */
	int64_t chunks_skipped;  /* not fetched: the server checksum matched           */
	int64_t chunks_unchanged;/* fetched, aggregate hash matched                    */
	int64_t inserted;
	int64_t updated;
	int64_t deleted;
	int64_t bytes_read;
	int64_t rows_after;      /* rows in state after the run                        */
	double seconds;
};

struct run_result {
	char run_id[200];
	const char *status;      /* ok, failed, refused, dry-run, skipped */
	int code;                /* enum sd_code */
	char error[1024];
	struct run_counts n;
	char snapshot_time[40];
	char gtid[512];
};

struct run_env {
	const struct cfg *cfg;
	struct st_db *st;
	struct src_conn *src;
	struct sink *sinks;
	size_t nsinks;
	struct run_opts opts;
	volatile sig_atomic_t *stop;  /* set by a signal handler: abandon at the next row */
	void (*progress_fn)(void *ctx, const char *db, const char *tbl, const struct run_counts *n);
	void *progress_ctx;
};

/* Runs one table. Fills res and returns its code (SD_OK when committed). */
int run_table(struct run_env *env, const char *db, const struct cfg_table *tc, struct run_result *res);

/* Writes the counters as JSON members (no braces). */
void run_counts_json(struct buf *b, const struct run_counts *n);

#endif
