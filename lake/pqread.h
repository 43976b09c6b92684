/*
 * pqread — a small reader for the flat Parquet files lake/parquet.c writes,
 * so lake compaction can read rows back: the footer through a Thrift
 * compact-protocol decoder, v1 data pages with PLAIN or RLE_DICTIONARY
 * values, RLE definition levels (OPTIONAL columns), codecs none, snappy and
 * zstd. No nested schemas, no repetition levels, no v2 pages, no other
 * encodings: such files are refused with an error, never misread.
 *
 * The whole file is held in memory and a column is decoded in one go
 * (pqr_read_column): fine for the small files compaction merges.
 */
#ifndef SD_PQREAD_H
#define SD_PQREAD_H

#include <stddef.h>
#include <stdint.h>

#include "lake/parquet.h"

struct pqr_column {
	char *name;
	int32_t field_id;       /* -1 when absent */
	enum pq_physical physical;
	int type_length;        /* FIXED_LEN_BYTE_ARRAY */
	int optional;
};

/* All values of one column, row by row. */
struct pqr_values {
	int64_t n;
	unsigned char *defined; /* 1 = value present, 0 = null */
	int64_t *i;             /* BOOLEAN, INT32, INT64; FLOAT/DOUBLE as their bit patterns */
	const unsigned char **p;/* BYTE_ARRAY, FIXED: value bytes (valid while the file is open) */
	uint32_t *len;
};

struct pqr_file;

/* Parses the footer of a whole file held in data[0..len) (borrowed until pqr_close). */
int pqr_open(const void *data, size_t len, struct pqr_file **out, char *err, size_t errlen);
int64_t pqr_num_rows(const struct pqr_file *f);
size_t pqr_num_columns(const struct pqr_file *f);
const struct pqr_column *pqr_column(const struct pqr_file *f, size_t i);
/* Index of the column with this field id, or -1. */
int pqr_find_field(const struct pqr_file *f, int32_t field_id);
/* Decodes every value of column col; free with pqr_values_free. */
int pqr_read_column(struct pqr_file *f, size_t col, struct pqr_values *out, char *err,
		    size_t errlen);
void pqr_values_free(struct pqr_values *v);
void pqr_close(struct pqr_file *f);

#endif
