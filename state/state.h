/*
 * state — snapdiff's memory of what it last saw, in one SQLite file (WAL mode).
 *
 * Per (database, table): an ordered list of chunks. A chunk covers the primary
 * key range (previous chunk's hi, hi]; the last chunk of a table has hi = NULL
 * (open end). Each chunk stores its row count, an aggregate hash of its
 * (key, row hash) list, and the list itself packed into one blob (see
 * docs/state.md): one SQLite row per chunk, never one per source row.
 *
 * Chunks are ordered by `seq`, an integer with gaps (new tables space them
 * 2^32 apart) so that splitting a chunk never rewrites its neighbours.
 *
 * The commit protocol: a run writes its new chunk versions into a pending
 * area as it goes (st_pending_put / st_pending_del, committed in batches so
 * memory stays bounded, but invisible to readers of the live state). Only
 * st_run_commit() moves them into the live chunks, bumps the table's
 * generation and marks the run ok, in one SQLite transaction. A crash at
 * any point before that leaves the live state exactly at the previous run;
 * st_run_begin() of the next run discards the stale pending rows.
 *
 * Nothing here prints or exits. Every function returns SD_OK or SD_ERR_STATE
 * (with the SQLite message in e). Strings passed in are borrowed.
 */
#ifndef SD_STATE_H
#define SD_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "error.h"

struct st_db;

#define ST_SEQ_STEP ((int64_t)1 << 32)

struct st_table_info {
	int64_t generation;     /* number of committed runs (0: never run)              */
	int64_t rows;           /* rows in live state                                   */
	int64_t chunks;         /* live chunks                                          */
	uint64_t schema_hash;   /* sd_table.schema_hash at the last commit              */
	char *columns_json;     /* column list at the last commit (owned; free())        */
	char *last_run_id;      /* owned; free()                                        */
	double last_success;    /* unix seconds of the last committed run's finish, 0   */
	double last_snapshot;   /* unix seconds of that run's snapshot time, 0          */
};

struct st_chunk {
	int64_t seq;
	unsigned char *hi;      /* encoded key of the chunk's last row; NULL = open end */
	size_t hi_len;
	int64_t rows;
	unsigned char agg[16];  /* aggregate hash of the packed list                     */
	bool has_crc;           /* server-side checksum known                           */
	int64_t crc_rows;
	uint64_t crc;
};

/* Opens (creating if needed) the state file; sets WAL, busy_timeout, schema. */
int st_open(const char *path, struct st_db **out, struct sderr *e);
void st_close(struct st_db *s);

/* Fills info; returns SD_OK and sets *found. Strings in info are new (free them
 * with st_table_info_release). */
int st_table_get(struct st_db *s, const char *db, const char *tbl,
		 struct st_table_info *info, bool *found, struct sderr *e);
void st_table_info_release(struct st_table_info *info);

/* Iterates the live chunks of a table in seq order. The chunk's hi points into
 * iterator memory valid until the next st_chunks_next / st_chunks_close. */
struct st_chunk_iter;
int st_chunks_open(struct st_db *s, const char *db, const char *tbl,
		   struct st_chunk_iter **it, struct sderr *e);
/* Returns 1 and fills c, 0 at the end, or -SD_ERR_STATE (e filled). */
int st_chunks_next(struct st_chunk_iter *it, struct st_chunk *c, struct sderr *e);
void st_chunks_close(struct st_chunk_iter *it);

/* Loads a live chunk's packed list into out (replacing its content). */
int st_chunk_data(struct st_db *s, const char *db, const char *tbl, int64_t seq,
		  struct buf *out, struct sderr *e);

/* If two neighbouring live chunks of the table are closer than 2^16 in seq,
 * renumbers them all ST_SEQ_STEP apart (its own transaction; order kept). */
int st_chunks_respace(struct st_db *s, const char *db, const char *tbl, struct sderr *e);

struct st_run {
	const char *run_id;
	const char *db;
	const char *tbl;
	int64_t generation;     /* the generation this run will commit (base + 1)   */
	double started;         /* unix seconds                                     */
	double finished;
	const char *status;     /* running, ok, failed, refused, dry-run            */
	const char *lineage_json;
	const char *counts_json;
	const char *error;
};

/* Records the run as running and discards pending rows left by any earlier,
 * uncommitted run of the same table. */
int st_run_begin(struct st_db *s, const struct st_run *run, struct sderr *e);

/* Pending changes of the running run: a new or replaced chunk (put) or the
 * removal of a live chunk (del). Buffered in memory and written in short
 * transactions every few MB (never one long open transaction, which would
 * hold SQLite's write lock while the engine reads MariaDB). */
int st_pending_put(struct st_db *s, const char *run_id, const char *db, const char *tbl,
		   const struct st_chunk *c, const void *data, size_t len, struct sderr *e);
int st_pending_del(struct st_db *s, const char *run_id, const char *db, const char *tbl,
		   int64_t seq, struct sderr *e);

/* The commit point: applies the run's pending rows to the live chunks, sets
 * the table's generation, rows, chunks, schema, last run, and the run record's
 * status/finished/counts, in one transaction. */
int st_run_commit(struct st_db *s, const struct st_run *run, uint64_t schema_hash,
		  const char *columns_json, struct sderr *e);

/* Ends a run without touching live chunks: drops its pending rows and records
 * status (failed, refused, dry-run), error and counts. */
int st_run_end(struct st_db *s, const struct st_run *run, struct sderr *e);

/* Per-table rows for `snapdiff status`: one callback per known table. The
 * last run (any status) is given as a JSON object of the runs table's
 * columns, with the last successful run nested as "last_ok" (borrowed for
 * the call). */
typedef void (*st_status_fn)(void *ctx, const char *db, const char *tbl,
			     const struct st_table_info *info, const char *last_run_json);
int st_status(struct st_db *s, st_status_fn fn, void *ctx, struct sderr *e);

/* Batches: between st_batch_begin and st_batch_commit, st_run_commit and
 * st_run_end calls are applied inside one SQLite transaction, so several
 * tables' runs become visible together or not at all (a MediaWiki profile
 * run commits page, revision, archive, ... atomically). st_batch_abort rolls
 * all of them back. */
int st_batch_begin(struct st_db *s, struct sderr *e);
/* The underlying SQLite handle, for sinks that keep tables of their own in
 * the state file (only inside a batch, through sink_ops.state_commit). The
 * borrowed handle must not be closed; tables must not start with "st_" or
 * clash with the state's own (tables, chunks, blobs, pending, runs). */
struct sqlite3 *st_sqlite(struct st_db *s);
int st_batch_commit(struct st_db *s, struct sderr *e);
void st_batch_abort(struct st_db *s);

#endif
