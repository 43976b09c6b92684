/*
 * table — what introspection learns about one source table: columns in the
 * order snapdiff selects them, their canonical kinds, and the primary key.
 *
 * Select order puts hashed columns first and ignored (not hashed) columns
 * last, so a row's hash is one xxh3 call over a prefix of its encoding.
 */
#ifndef SD_TABLE_H
#define SD_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "encode.h"

struct sd_column {
	char *name;
	char *data_type;     /* information_schema DATA_TYPE, lower case ("int", "varbinary") */
	char *column_type;   /* COLUMN_TYPE ("int(10) unsigned", "enum('a','b')")              */
	enum enc_kind kind;  /* canonical kind (never ENC_NULL)                                */
	bool is_unsigned;
	bool nullable;
	bool ignored;        /* not hashed (cfg ignore_columns)                                */
	int pk_pos;          /* 1-based position in the primary key, 0 when not a key column  */
	unsigned fsp;        /* fractional seconds digits for temporal kinds                   */
	unsigned bits;       /* BIT(n) width; integer width in bytes for integers              */
	unsigned precision;  /* DECIMAL(p,s)                                                   */
	unsigned scale;
	int64_t max_len;     /* CHARACTER_OCTET_LENGTH for strings, -1 unknown                 */
	char *charset;       /* CHARACTER_SET_NAME, NULL for non-strings ("binary" for bytes)  */
};

struct sd_table {
	char *db;
	char *name;
	struct sd_column *cols;   /* select order: hashed first, then ignored   */
	size_t ncols;
	size_t nhashed;           /* cols[0..nhashed) are hashed                */
	size_t *pk;               /* indexes into cols, in primary key order    */
	size_t npk;
	uint64_t schema_hash;     /* xxh3-64 of names, kinds and flags, in order */
	uint64_t serial;          /* unique per introspection in this process: caches
	                             key on it, never on the (reusable) address   */
};

void sd_table_free(struct sd_table *t);

#endif
