/*
 * iceberg — Apache Iceberg format-version 2 tables on top of the Parquet and
 * Avro writers: table metadata JSON, snapshots, manifests and manifest
 * lists, commits through a catalog (lake/catalog.h) with compare-and-swap
 * and retry, schema evolution (added optional columns), snapshot expiry and
 * orphan-file listing. It knows nothing about the differ: the caller writes
 * Parquet data files (pq_*), describes them with struct ice_data_file and
 * commits them in a transaction.
 *
 *   struct ice_table *t;
 *   ice_create(cat, "enwiki", "page", &spec, &t, &e);      // or ice_load()
 *   ice_field_pq_spec(&schema->fields[i], &cols[i]);        // Parquet columns
 *   ... pq_open / pq_write_* / pq_close ...
 *   ice_metrics_from_pq(w, cols, ncols, metrics);
 *   struct ice_txn *x = ice_txn_begin(t);
 *   ice_txn_add_file(x, &(struct ice_data_file){ .path = uri, ... });
 *   ice_txn_remove_file(x, old_uri);
 *   ice_txn_set_summary(x, "snapdiff.run-id", run_id);
 *   ice_txn_commit(x, &snapshot_id, &e);
 *   ice_txn_free(x);
 *
 * Only flat schemas of primitive types, and partition specs of at most one
 * identity field (snapdiff partitions mirror tables by wiki database name),
 * are supported. Errors: an sd_code (SD_ERR_SINK for I/O, catalog and format
 * problems) or a CAT_* code from the catalog, with the message in *e.
 */
#ifndef SD_ICEBERG_H
#define SD_ICEBERG_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "error.h"
#include "lake/catalog.h"
#include "lake/fileio.h"
#include "lake/parquet.h"

enum ice_type {
	ICE_BOOLEAN,
	ICE_INT,
	ICE_LONG,
	ICE_FLOAT,
	ICE_DOUBLE,
	ICE_DECIMAL, /* precision, scale */
	ICE_DATE,
	ICE_TIME,
	ICE_TIMESTAMP,
	ICE_TIMESTAMPTZ,
	ICE_STRING,
	ICE_BINARY,
	ICE_FIXED, /* length */
	ICE_UUID,
};

struct ice_field {
	int32_t id; /* 0 in a create/add request: assigned */
	const char *name;
	int required;
	enum ice_type type;
	int precision, scale;
	int length;
	const char *doc; /* optional */
};

/* A table's schema as parsed from its metadata (owned by the table). */
struct ice_schema {
	int32_t schema_id;
	struct ice_field *fields;
	size_t nfields;
	int32_t *identifier_ids;
	size_t nidentifier;
};

/* Reserved field ids of position-delete files (spec "Position Delete Files"). */
#define ICE_DELETE_FILE_PATH_ID 2147483546
#define ICE_DELETE_POS_ID 2147483545

/* Iceberg type text ("decimal(10,2)", "fixed[16]", "long"); -1 if it does not fit. */
int ice_type_format(const struct ice_field *f, char *out, size_t n);
/* Parses type text into f->type/precision/scale/length; -1 if unknown or nested. */
int ice_type_parse(const char *s, struct ice_field *f);
/* The Parquet column for a field (name and id point into f). */
void ice_field_pq_spec(const struct ice_field *f, struct pq_column_spec *out);
/* Schema JSON of a field list ({"type":"struct","schema-id":…}); appends to out. */
void ice_schema_json(struct buf *out, int32_t schema_id, const struct ice_field *fields,
		     size_t n, const int32_t *identifier_ids, size_t nident);

struct ice_table_spec {
	const char *location; /* NULL: the catalog's default for ns.name */
	const struct ice_field *fields; /* ids 0 are numbered 1..n in order */
	size_t nfields;
	const char *const *identifier; /* names of identifier (primary key) fields */
	size_t nidentifier;
	const char *partition_column; /* identity partition on this column; NULL: none */
	const char *const *properties; /* key, value, key, value, …, NULL */
};

struct ice_table;

int ice_create(struct cat *c, const char *ns, const char *name, const struct ice_table_spec *s,
	       struct ice_table **out, struct sderr *e);
int ice_load(struct cat *c, const char *ns, const char *name, struct ice_table **out,
	     struct sderr *e);
/* A table straight from a metadata file, without a catalog: read-only. */
int ice_load_file(struct fio *io, const char *metadata_uri, struct ice_table **out,
		  struct sderr *e);
/* Re-reads the current metadata from the catalog. */
int ice_refresh(struct ice_table *t, struct sderr *e);
void ice_table_free(struct ice_table *t);

/* Strings and the schema returned below live until the table's next commit or refresh. */
const char *ice_table_location(const struct ice_table *t);
const char *ice_table_metadata_location(const struct ice_table *t);
const char *ice_table_uuid(const struct ice_table *t);
const struct ice_schema *ice_table_schema(const struct ice_table *t);
/* Name of the identity partition column, or NULL when unpartitioned. */
const char *ice_table_partition_column(const struct ice_table *t);
/* The metadata JSON text (malloc'd), for inspection and tests. */
char *ice_table_metadata_json(const struct ice_table *t);
/* Current snapshot id, -1 when the table has none. */
int64_t ice_table_current_snapshot(const struct ice_table *t);

struct ice_snapshot_info {
	int64_t snapshot_id;
	int64_t parent_id; /* -1: none */
	int64_t sequence_number;
	int64_t timestamp_ms;
	const char *operation;
	const char *manifest_list;
};
/* Snapshots in metadata order (oldest first); pointers live until the next commit. */
size_t ice_snapshot_count(const struct ice_table *t);
int ice_snapshot_get(const struct ice_table *t, size_t i, struct ice_snapshot_info *out);
/* A summary value of a snapshot, or NULL. */
const char *ice_snapshot_summary(const struct ice_table *t, int64_t snapshot_id,
				 const char *key);

/* Column metrics of a data file, keyed by field id (as in manifests). */
struct ice_column_metrics {
	int32_t field_id;
	int64_t column_size; /* -1: unknown */
	int64_t value_count;
	int64_t null_count;
	int64_t nan_count; /* -1: not a float column */
	const void *lower, *upper; /* single-value serialization; NULL: no bound */
	size_t lower_len, upper_len;
};

/* Fills out[0..ncols) from a closed Parquet writer; pointers stay valid until pq_free. */
void ice_metrics_from_pq(const struct pq_writer *w, const struct pq_column_spec *cols,
			 size_t ncols, struct ice_column_metrics *out);

enum ice_content { ICE_CONTENT_DATA = 0, ICE_CONTENT_POSITION_DELETES = 1 };

struct ice_data_file {
	const char *path; /* full URI, as readers will open it */
	enum ice_content content;
	int64_t record_count;
	int64_t file_size; /* exact */
	/* Identity partition value, single-value serialization (a string's UTF-8
	 * bytes, an int's 4 LE bytes …); partition == NULL means null. Ignored
	 * for unpartitioned tables. */
	const void *partition;
	size_t partition_len;
	const struct ice_column_metrics *metrics;
	size_t nmetrics;
	const int64_t *split_offsets;
	size_t nsplit;
	const char *referenced_data_file; /* position deletes aimed at one data file */
};

struct ice_txn;

/* A transaction on t (which must stay alive until ice_txn_free). */
struct ice_txn *ice_txn_begin(struct ice_table *t);
/* Everything given is copied. */
void ice_txn_add_file(struct ice_txn *x, const struct ice_data_file *f);
void ice_txn_remove_file(struct ice_txn *x, const char *path);
/* Extra snapshot summary keys (e.g. snapdiff.run-id); operation/counters are computed. */
void ice_txn_set_summary(struct ice_txn *x, const char *key, const char *value);
/* How often a commit conflict is retried on fresh metadata (default 4). */
void ice_txn_set_retries(struct ice_txn *x, int n);
/*
 * Writes the manifests, manifest list and metadata and commits through the
 * table's catalog; on CAT_CONFLICT reloads and re-applies the changes, up
 * to the retry count. On success the table object holds the new metadata
 * and *snapshot_id (may be NULL) the new snapshot. A transaction with no
 * change commits nothing and returns 0 with the current snapshot id.
 * Removing a path that is not a live data file of the table is an error.
 */
int ice_txn_commit(struct ice_txn *x, int64_t *snapshot_id, struct sderr *e);
/* Number of commit attempts the last ice_txn_commit made (1 = no conflict). */
int ice_txn_attempts(const struct ice_txn *x);
void ice_txn_free(struct ice_txn *x);

/*
 * Schema evolution: adds optional columns (required ones need defaults,
 * which v2 has not). New ids are written back into fields[i].id; a column
 * whose name exists already keeps its id and is not added again. Commits a
 * new current schema; data files written before keep their schema and read
 * as null in the new columns.
 */
int ice_add_columns(struct ice_table *t, struct ice_field *fields, size_t n, struct sderr *e);

struct ice_expire_opts {
	int64_t older_than_ms; /* snapshots older than this may go */
	int retain_last;       /* but the newest retain_last always stay (min 1) */
	int delete_files;      /* delete files only the expired snapshots used */
};
struct ice_expire_result {
	size_t snapshots_expired;
	size_t files_deleted;
};
/* Drops old snapshots (never the current one or one a ref names). */
int ice_expire(struct ice_table *t, const struct ice_expire_opts *o, struct ice_expire_result *r,
	       struct sderr *e);

/*
 * Files under the table location that no live snapshot, no metadata file
 * of the metadata log and no catalog pointer reaches, last modified before
 * older_than_ms (younger ones may belong to a commit in flight). Malloc'd
 * array of malloc'd URIs.
 */
int ice_orphan_files(struct ice_table *t, int64_t older_than_ms, char ***uris, size_t *n,
		     struct sderr *e);

/* Positive random 63-bit id, as Java makes snapshot ids. */
int64_t ice_random_id(void);

/*
 * Removes snapshot_id, which must be the current snapshot, from the table:
 * main and current-snapshot-id go back to its parent (none if it has none),
 * and the snapshot leaves the snapshot list and log, so its files become
 * orphans (ice_orphan_files). Last-sequence-number is kept. For undoing a
 * commit its writer never recorded (the lake sink's crash recovery).
 */
int ice_rollback_current(struct ice_table *t, int64_t snapshot_id, struct sderr *e);

/* A live (data or position-delete) file of the current snapshot. */
struct ice_live_file {
	char *path;
	int content;          /* enum ice_content */
	int64_t record_count;
	int64_t file_size;
	int64_t sequence_number;
	char *partition;      /* identity partition value as text (strings as is), or NULL */
};
/* Every live file of the current snapshot (none when it has no snapshot). */
int ice_live_files(struct ice_table *t, struct ice_live_file **out, size_t *n, struct sderr *e);
void ice_live_files_free(struct ice_live_file *v, size_t n);

#endif
