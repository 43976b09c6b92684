/*
 * parquet — a streaming writer for flat Apache Parquet files as Iceberg
 * expects them: every column carries a field id, pages are v1, footer
 * statistics are the modern min_value/max_value with column_orders, and the
 * per-column metrics Iceberg's manifests need (value/null/NaN counts, sizes,
 * lower/upper bounds in Iceberg's single-value binary form) are collected on
 * the way. Rows are appended one value at a time; memory stays bounded by the
 * row-group size because each finished row group is written out at once.
 *
 * The writer knows nothing about the differ or about Iceberg metadata: the
 * caller maps its column types onto enum pq_kind and writes the bytes it gets
 * back into manifests.
 */
#ifndef SD_PARQUET_H
#define SD_PARQUET_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "buf.h"

/* Where the bytes go: return 0 on success, non-zero on failure (errno kept). */
typedef int (*pq_write_fn)(void *ctx, const void *data, size_t n);

/*
 * Column kinds, named after the Iceberg types they implement; the physical
 * type and annotations follow the Iceberg spec's Parquet appendix:
 *   kind           physical                 annotation (LogicalType + ConvertedType)
 *   PQ_BOOLEAN     BOOLEAN                  -
 *   PQ_INT32       INT32                    -                  (Iceberg int)
 *   PQ_INT64       INT64                    -                  (Iceberg long)
 *   PQ_FLOAT       FLOAT                    -
 *   PQ_DOUBLE      DOUBLE                   -
 *   PQ_STRING      BYTE_ARRAY               STRING + UTF8
 *   PQ_BINARY      BYTE_ARRAY               -
 *   PQ_FIXED       FIXED_LEN_BYTE_ARRAY(L)  -
 *   PQ_UUID        FIXED_LEN_BYTE_ARRAY(16) UUID
 *   PQ_DECIMAL     INT32 (p<=9), INT64 (p<=18), FIXED(minimal bytes) otherwise;
 *                                           DECIMAL(p,s) + DECIMAL
 *   PQ_DATE        INT32                    DATE + DATE
 *   PQ_TIME        INT64                    TIME(MICROS, utc=false) + TIME_MICROS
 *   PQ_TIMESTAMP   INT64                    TIMESTAMP(MICROS, utc=false) + TIMESTAMP_MICROS
 *   PQ_TIMESTAMPTZ INT64                    TIMESTAMP(MICROS, utc=true) + TIMESTAMP_MICROS
 *   PQ_INT         INT32 (bits<=32)/INT64   INTEGER(bits,signed) + INT_n/UINT_n
 *                  (not an Iceberg type: Iceberg has no unsigned or small ints)
 */
enum pq_kind {
	PQ_BOOLEAN,
	PQ_INT32,
	PQ_INT64,
	PQ_FLOAT,
	PQ_DOUBLE,
	PQ_STRING,
	PQ_BINARY,
	PQ_FIXED,
	PQ_UUID,
	PQ_DECIMAL,
	PQ_DATE,
	PQ_TIME,
	PQ_TIMESTAMP,
	PQ_TIMESTAMPTZ,
	PQ_INT,
};

/* Parquet physical types (parquet.thrift numbering). */
enum pq_physical {
	PQ_PHYS_BOOLEAN = 0,
	PQ_PHYS_INT32 = 1,
	PQ_PHYS_INT64 = 2,
	PQ_PHYS_FLOAT = 4,
	PQ_PHYS_DOUBLE = 5,
	PQ_PHYS_BYTE_ARRAY = 6,
	PQ_PHYS_FIXED = 7,
};

enum pq_codec {
	PQ_UNCOMPRESSED = 0,
	PQ_SNAPPY = 1,
	PQ_ZSTD = 6,
};

struct pq_column_spec {
	const char *name;
	int32_t field_id;     /* Iceberg field id; required (>= 0) */
	enum pq_kind kind;
	int optional;         /* 0: REQUIRED, non-zero: OPTIONAL (nullable) */
	int length;           /* PQ_FIXED: byte length */
	int precision, scale; /* PQ_DECIMAL: 1 <= precision <= 38, 0 <= scale <= precision */
	int bits;             /* PQ_INT: 8, 16, 32 or 64 */
	int is_unsigned;      /* PQ_INT: unsigned ordering and UINT_n */
	int no_dictionary;    /* force PLAIN for this column */
};

struct pq_options {
	enum pq_codec codec;
	int zstd_level;             /* 0: library default */
	size_t row_group_bytes;     /* 0: 128 MiB; buffered (compressed) bytes per row group */
	size_t page_bytes;          /* 0: 1 MiB; uncompressed value bytes per data page */
	size_t dictionary_bytes;    /* 0: 1 MiB; past this a chunk falls back to PLAIN */
	int no_dictionary;          /* PLAIN everywhere */
	size_t stats_max_bytes;     /* 0: 4096; longer binary min/max are not written */
	const char *created_by;     /* 0: PQ_CREATED_BY */
};

/* parquet-mr's VersionParser wants "<app> version <semver> (build <hash>)". */
#define PQ_CREATED_BY "snapdiff version 0.1.0 (build unknown)"

/* Per-column metrics over the whole file, for Iceberg's manifest entries. */
struct pq_column_metrics {
	int64_t value_count;  /* values including nulls (= rows) */
	int64_t null_count;
	int64_t nan_count;    /* FLOAT/DOUBLE only */
	int64_t column_size;  /* sum of the chunks' total_compressed_size */
	int has_bounds;       /* lower/upper valid (not for all-null/NaN columns) */
	struct buf lower;     /* Iceberg single-value serialization */
	struct buf upper;
};

struct pq_writer;

/*
 * Opens a writer; the spec array is copied (names too). Writes the leading
 * "PAR1" immediately. Returns NULL with *err set (malloc failures abort).
 */
struct pq_writer *pq_open(const struct pq_column_spec *cols, size_t ncols,
			  const struct pq_options *opt, pq_write_fn fn, void *ctx,
			  char *err, size_t errlen);
/* Convenience sink: fwrite to a FILE*. ctx is the FILE*. */
int pq_write_file(void *ctx, const void *data, size_t n);

/*
 * Appending a row: exactly one call per column, in any order, then
 * pq_end_row(). Each returns 0, or -1 with pq_error() set (wrong type,
 * null in a required column, bad length, sink failure); after an error the
 * writer only accepts pq_free().
 *   pq_write_bool      PQ_BOOLEAN
 *   pq_write_int32     INT32-backed kinds (INT32, DATE, DECIMAL p<=9 unscaled, PQ_INT bits<=32;
 *                      unsigned values as their bit pattern)
 *   pq_write_int64     INT64-backed kinds (INT64, TIME, TIMESTAMP[TZ], DECIMAL p<=18, PQ_INT 64)
 *   pq_write_float / pq_write_double
 *   pq_write_bytes     STRING, BINARY, FIXED, UUID (length must match for FIXED/UUID)
 *   pq_write_decimal   any DECIMAL column: unscaled value, big-endian two's complement of any
 *                      width (sign-extended or narrowed; overflow is an error)
 *   pq_write_decimal_text  any DECIMAL column, from text like "-123.4500" (scale adjusted
 *                      exactly: digits beyond the column's scale must be zeros)
 */
int pq_write_null(struct pq_writer *w, int col);
int pq_write_bool(struct pq_writer *w, int col, int v);
int pq_write_int32(struct pq_writer *w, int col, int32_t v);
int pq_write_int64(struct pq_writer *w, int col, int64_t v);
int pq_write_float(struct pq_writer *w, int col, float v);
int pq_write_double(struct pq_writer *w, int col, double v);
int pq_write_bytes(struct pq_writer *w, int col, const void *p, size_t n);
int pq_write_decimal(struct pq_writer *w, int col, const void *be, size_t n);
int pq_write_decimal_text(struct pq_writer *w, int col, const char *text);
int pq_end_row(struct pq_writer *w);

/* Adds footer key/value metadata (e.g. "iceberg.schema"); before pq_close. */
void pq_add_metadata(struct pq_writer *w, const char *key, const char *value);

/* Flushes the last row group and writes the footer; *size = exact file size. */
int pq_close(struct pq_writer *w, uint64_t *size);

/* After pq_close (or during writing, for finished row groups). */
int64_t pq_num_rows(const struct pq_writer *w);
const struct pq_column_metrics *pq_metrics(const struct pq_writer *w, int col);
/* Row-group start offsets, ascending (Iceberg split_offsets). */
const int64_t *pq_row_group_offsets(const struct pq_writer *w, size_t *n);
enum pq_physical pq_column_physical(const struct pq_writer *w, int col);
const char *pq_error(const struct pq_writer *w);
void pq_free(struct pq_writer *w);

/* Minimal FIXED_LEN_BYTE_ARRAY width for a decimal precision (1..38), as Iceberg sizes it. */
int pq_decimal_bytes(int precision);

/*
 * Building blocks, exposed for the unit tests.
 * RLE/bit-packing hybrid (Encodings.md) of n values of bit_width bits,
 * without the 4-byte length prefix.
 */
void pq_rle_hybrid(struct buf *out, const uint32_t *vals, size_t n, int bit_width);

#endif
