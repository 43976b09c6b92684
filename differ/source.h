/*
 * source — everything snapdiff asks of MariaDB: connect, introspect a table,
 * open a consistent snapshot, stream primary-key ranges in key order, and an
 * optional server-side checksum of a range.
 *
 * Rows are fetched over the binary protocol (server-side prepared statements,
 * unbuffered), which gives FLOAT/DOUBLE bit-exact and keeps memory bounded
 * whatever the range size. The session runs with time_zone '+00:00' so
 * TIMESTAMP values are UTC whatever the server's zone.
 */
#ifndef SD_SOURCE_H
#define SD_SOURCE_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "error.h"
#include "table.h"

struct src_conn;

struct src_lineage {
	char gtid_binlog_pos[512];
	char gtid_current_pos[512];
	char binlog_file[256];       /* binlog_snapshot_file, "" without binlog   */
	uint64_t binlog_pos;         /* binlog_snapshot_position                  */
	char snapshot_time[40];      /* "YYYY-MM-DDTHH:MM:SS.ffffffZ"             */
	int64_t snapshot_ms;
	char server_version[64];
};

int src_connect(const struct cfg *cfg, struct src_conn **out, struct sderr *e);
void src_close(struct src_conn *c);

/* Builds the table description (select order, kinds, primary key). Refuses
 * (SD_ERR_SCHEMA) a missing table, a view, a table without primary key or a
 * column type it cannot encode; SD_ERR_CONFIG when tc names unknown columns or
 * ignores/excludes a key column. *out is freed with sd_table_free. */
int src_introspect(struct src_conn *c, const char *db, const char *tbl,
		   const struct cfg_table *tc, struct sd_table **out, struct sderr *e);

/* START TRANSACTION WITH CONSISTENT SNAPSHOT (REPEATABLE READ, READ ONLY) and
 * the lineage read inside it. src_snapshot_end rolls the transaction back. */
int src_snapshot_begin(struct src_conn *c, struct src_lineage *lin, struct sderr *e);
void src_snapshot_end(struct src_conn *c);

/* A scan of the key range (lo, hi] in primary-key order; lo/hi are encoded
 * keys or NULL for an open side; limit 0 = no limit. One scan at a time per
 * connection. */
struct src_scan;
int src_scan_open(struct src_conn *c, const struct sd_table *t,
		  const unsigned char *lo, size_t lo_len,
		  const unsigned char *hi, size_t hi_len, int64_t limit,
		  struct src_scan **out, struct sderr *e);
/* Returns 1 with the next row, 0 at the clean end of the range, or the error
 * code (negated) — an error is never a short range. row/key point into scan
 * memory valid until the next call; hashed_len is the length of the hashed
 * prefix of row. */
int src_scan_next(struct src_scan *s, const unsigned char **row, size_t *row_len,
		  size_t *hashed_len, const unsigned char **key, size_t *key_len,
		  struct sderr *e);
void src_scan_close(struct src_scan *s);

/* COUNT(*) and BIT_XOR(CRC32(...)) of the hashed columns over (lo, hi]. */
int src_checksum(struct src_conn *c, const struct sd_table *t,
		 const unsigned char *lo, size_t lo_len,
		 const unsigned char *hi, size_t hi_len,
		 int64_t *rows, uint64_t *crc, struct sderr *e);

/* Runs a small read-only query (text protocol, fully buffered) inside the
 * current snapshot and calls row() for each row with its values (NULL for
 * SQL NULL) and lengths. For lookups by id lists, not for scans. */
typedef void (*src_row_fn)(void *ctx, unsigned ncols, char **vals, unsigned long *lens);
int src_query(struct src_conn *c, const char *sql, src_row_fn row, void *ctx, struct sderr *e);

/* Appends `name` quoted as a MariaDB identifier (backticks, doubled inside). */
void src_quote_ident(struct buf *b, const char *name);

#endif
