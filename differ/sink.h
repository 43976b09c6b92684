/*
 * sink — where change events go. A run never writes to a sink while it scans:
 * the scan writes changes to a local spool, guards look at the totals, and
 * only then is the spool delivered, change by change, to every sink. A sink's
 * commit() returns only when the sink has made everything durable (fsync'd
 * file, every Kafka delivery report in); state advances after all sinks
 * committed. So a refused or failed run emits nothing to durable sinks, and a
 * crash between sink commit and state commit re-emits the same changes with
 * the same event ids on the next run (at-least-once, idempotent by id).
 *
 * To add a sink: write differ/sink_<name>.c with a `const struct sink_ops`,
 * list it in sink.c's table.
 */
#ifndef SD_SINK_H
#define SD_SINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "error.h"
#include "table.h"

struct st_db;

enum sd_op {
	SD_OP_INSERT = 1,
	SD_OP_UPDATE = 2,
	SD_OP_DELETE = 3,
};

/* What every event of one (database, table) run shares. */
struct sd_run_info {
	const char *run_id;           /* "<db>.<table>.<generation>", stable across a rerun  */
	const char *db;
	const char *tbl;
	int64_t generation;           /* the generation this run commits                     */
	const struct sd_table *table; /* columns, kinds, primary key                         */
	/* lineage: where in the source's history the snapshot was taken */
	const char *gtid_binlog_pos;  /* may be "" when the server has no binlog             */
	const char *gtid_current_pos; /* may be ""                                           */
	const char *snapshot_time;    /* server UTC time inside the snapshot, ISO-8601 "…Z"  */
	int64_t snapshot_ms;          /* the same as unix milliseconds                       */
	bool initial;                 /* first run of the table (generation 1)               */
};

/* One change. Byte ranges are canonical encodings (encode.h), borrowed for
 * the duration of the emit() call. before is NULL unless the table keeps row
 * images (updates and deletes); after is NULL for deletes. */
struct sd_change {
	enum sd_op op;
	bool snapshot;                /* an insert from the initial load ("r" in Debezium)  */
	const unsigned char *key;
	size_t key_len;
	const unsigned char *before;
	size_t before_len;
	const unsigned char *after;
	size_t after_len;
	unsigned char id[16];         /* deterministic event id (see differ/diff.c)          */
};

/* A derived event that is a finished JSON document rather than a row change
 * (MediaWiki page_change): value is rendered once, sinks only route it.
 * Strings are borrowed for the duration of the emit_doc() call. */
struct sd_doc {
	const char *stream;           /* e.g. "mediawiki.page_change.v1" (Kafka: the topic) */
	const char *key;              /* JSON message key, e.g. {"wiki_id":..,"page_id":..} */
	size_t key_len;
	const char *value;            /* the event, one line of JSON                        */
	size_t value_len;
	unsigned char id[16];         /* deterministic id (also in the value's meta.id)     */
};

struct sink;

struct sink_ops {
	const char *type;
	/* Called once per snapdiff process, after the configuration is loaded.
	 * *state is the sink's private data. */
	int (*open)(void **state, const struct cfg_sink *conf, const struct cfg *cfg, struct sderr *e);
	/* Start of the delivery of one run's changes. */
	int (*begin)(void *state, const struct sd_run_info *run, struct sderr *e);
	int (*emit)(void *state, const struct sd_run_info *run, const struct sd_change *c,
		    struct sderr *e);
	/* Optional: a derived document event (NULL: the sink ignores them). */
	int (*emit_doc)(void *state, const struct sd_run_info *run, const struct sd_doc *d,
			struct sderr *e);
	/* Makes everything since begin() durable, or fails. */
	int (*commit)(void *state, const struct sd_run_info *run, struct sderr *e);
	/* Optional: called inside the state's commit transaction, after every
	 * sink committed and just before the run's state commits, so a sink can
	 * keep its own bookkeeping (the lake's key -> file position index) in the
	 * state file, atomically with the state (st_sqlite() gives the handle). */
	int (*state_commit)(void *state, const struct sd_run_info *run, struct st_db *st,
			    struct sderr *e);
	/* Drops what can still be dropped since begin() (a Kafka transaction). */
	void (*abort)(void *state, const struct sd_run_info *run);
	void (*close)(void *state);
	/* Does this sink want changes of a first run configured as initial_events: lake? */
	bool is_lake;
};

struct sink {
	const struct sink_ops *ops;
	const struct cfg_sink *conf;
	void *state;
};

/* Opens every sink in cfg (JSONL to stdout when none is configured).
 * On failure closes what it opened and returns the code. */
int sinks_open(const struct cfg *cfg, struct sink **out, size_t *n, struct sderr *e);
void sinks_close(struct sink *sinks, size_t n);

extern const struct sink_ops sink_jsonl_ops;
extern const struct sink_ops sink_kafka_ops;
extern const struct sink_ops sink_lake_ops;

#endif
