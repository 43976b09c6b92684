/*
 * lake_int — what the lake sink (sink_lake.c) and the `snapdiff lake`
 * maintenance commands (cmd_lake.c) share: opening the configured catalog,
 * the names of a source table's two Iceberg tables, the layout of data
 * files, and the lake's own tables in the state file.
 *
 * State tables (created by the sink's state_commit, in the state file so
 * they commit atomically with the state):
 *   lake_files(file_id INTEGER PRIMARY KEY, tbl, db, path)
 *   lake_index(tbl, db, key BLOB, file_id, pos)  key -> where the live row is
 *   lake_tables(tbl, db, generation, snapshot_id, compact_id)
 *     one row per mirrored (table, database): present = the mirror holds the
 *     table since its first run; compact_id = the last compaction the index
 *     knows about (see cmd_lake.c).
 */
#ifndef SD_LAKE_INT_H
#define SD_LAKE_INT_H

#include <stdint.h>

#include "buf.h"
#include "config.h"
#include "error.h"
#include "lake/catalog.h"
#include "lake/iceberg.h"
#include "table.h"

#define LAKE_PARTITION_COLUMN "_db"
#define LAKE_HASH_COLUMN "_snapdiff_hash"
#define LAKE_CHANGELOG_SUFFIX "__changelog"

/* Snapshot summary keys. */
#define LAKE_SUM_RUN_ID "snapdiff.run-id"
#define LAKE_SUM_GTID "snapdiff.gtid"
#define LAKE_SUM_SNAPSHOT_MS "snapdiff.snapshot-ms"
#define LAKE_SUM_COMPACT_DB "snapdiff.compact-db"
#define LAKE_SUM_COMPACT_ID "snapdiff.compact-id"

#define LAKE_STATE_SCHEMA                                                                   \
	"CREATE TABLE IF NOT EXISTS lake_files(file_id INTEGER PRIMARY KEY, tbl TEXT NOT NULL," \
	" db TEXT NOT NULL, path TEXT NOT NULL);"                                               \
	"CREATE TABLE IF NOT EXISTS lake_index(tbl TEXT NOT NULL, db TEXT NOT NULL,"            \
	" key BLOB NOT NULL, file_id INTEGER NOT NULL, pos INTEGER NOT NULL,"                   \
	" PRIMARY KEY(tbl, db, key)) WITHOUT ROWID;"                                            \
	"CREATE TABLE IF NOT EXISTS lake_tables(tbl TEXT NOT NULL, db TEXT NOT NULL,"           \
	" generation INTEGER NOT NULL, snapshot_id INTEGER, compact_id TEXT,"                   \
	" PRIMARY KEY(tbl, db));"

/* Opens the catalog the configuration names (SQLite, MariaDB, Hadoop). */
int lake_open_catalog(const struct cfg *cfg, struct cat **out, struct sderr *e);

/*
 * The Iceberg type of a source column (docs/lake-types.md). Fills type,
 * precision, scale of f; name/required/id are the caller's.
 */
void lake_map_type(const struct sd_column *c, struct ice_field *f);

/* "<location>/data/_db=<db>/<stem>-<uuid>.parquet" (malloc'd). */
char *lake_data_path(const char *location, const char *db, const char *stem);

/* Civil date -> days since 1970-01-01. */
int64_t lake_days(unsigned y, unsigned m, unsigned d);

#endif
