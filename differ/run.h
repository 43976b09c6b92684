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

struct spool;
struct run_env;

/* What a profile (e.g. the MediaWiki page_change derivation) sees of a group
 * run after every table's changes were delivered and before any state
 * commits: each table's run info and its spool (rewindable, read-only). */
struct run_table_view {
	const struct sd_run_info *info;
	struct spool *spool;
	const struct run_counts *counts;
	bool images;            /* before-images present in the spool */
};

struct run_group_view {
	const char *db;
	size_t n;
	const struct run_table_view *tables;
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
	/* Optional: called once per group after the row events were delivered and
	 * before the state commits; a failure fails the whole group (nothing
	 * commits, the rerun re-emits everything with the same ids). */
	int (*after_deliver)(void *ctx, struct run_env *env, const struct run_group_view *g, struct sderr *e);
	void *after_ctx;
	/* Spool changes even where no sink wants them (initial_events: none),
	 * because after_deliver needs them. */
	bool keep_spools;
};

/* Runs one table. Fills res and returns its code (SD_OK when committed). */
int run_table(struct run_env *env, const char *db, const struct cfg_table *tc, struct run_result *res);

/* Runs n tables of one database inside ONE consistent snapshot and commits
 * their state together (all or nothing); res has n entries. A failure of any
 * table fails the group, and every table's result names it. */
int run_group(struct run_env *env, const char *db, const struct cfg_table *const *tcs, size_t n,
	      struct run_result *res);

/* Takes the exclusive (database, table) lock every writer of that table's
 * state uses (runs, the scheduler's children, lake compaction): flock on
 * <state>.locks/<db>.<table>.lock. SD_ERR_BUSY when someone else holds it;
 * the lock lasts until *fd is closed (or the process dies). */
int run_lock_table(const char *state_path, const char *db, const char *tbl, int *fd, struct sderr *e);

/* Writes the counters as JSON members (no braces). */
void run_counts_json(struct buf *b, const struct run_counts *n);

#endif
