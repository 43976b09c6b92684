/*
 * avro — a hand-written Avro object container file writer (plus a small
 * reader) for Iceberg manifests and manifest lists. avro-c cannot be used:
 * it drops the field-id / element-id attributes from the schema it writes
 * and offers no user metadata in the header (see docs/lake-formats.md).
 *
 * The caller supplies the schema as JSON text, taken verbatim into the
 * header, and encodes each datum with the avro_put_* primitives in
 * writer-schema order; the writer frames datums into blocks. The second half
 * of this header holds the Iceberg v2 manifest and manifest-list schemas and
 * header keys, so the lake code does not have to spell them out.
 */
#ifndef SD_AVRO_H
#define SD_AVRO_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

/* Where the bytes go: return 0 on success, non-zero on failure. */
typedef int (*avro_write_fn)(void *ctx, const void *data, size_t n);

enum avro_codec {
	AVRO_CODEC_NULL,
	AVRO_CODEC_DEFLATE, /* raw RFC 1951; needs SD_HAVE_ZLIB (and -lz) */
};

/* ---- datum encoding (Avro binary encoding) ---- */
static inline void avro_put_null(struct buf *b) { (void)b; }
void avro_put_bool(struct buf *b, int v);
void avro_put_int(struct buf *b, int32_t v);   /* zig-zag varint */
void avro_put_long(struct buf *b, int64_t v);  /* zig-zag varint */
void avro_put_float(struct buf *b, float v);   /* little-endian IEEE */
void avro_put_double(struct buf *b, double v);
void avro_put_bytes(struct buf *b, const void *p, size_t n);
void avro_put_string(struct buf *b, const char *s);
void avro_put_fixed(struct buf *b, const void *p, size_t n);
/* Union branch index: for ["null", T], 0 = null (nothing follows), 1 = T. */
void avro_put_union(struct buf *b, int branch);
/* Array/map block: count, then count items (maps: string key, value each);
 * end the array/map with avro_put_block(b, 0). An empty one is just the 0. */
void avro_put_block(struct buf *b, int64_t count);

/* ---- container file writer ---- */
struct avro_writer;

/* schema_json is copied. Returns NULL if the codec is unavailable. */
struct avro_writer *avro_writer_new(const char *schema_json, enum avro_codec codec,
				    avro_write_fn fn, void *ctx);
/* Header metadata (values are bytes in Avro; these are text); before the first datum. */
void avro_writer_meta(struct avro_writer *w, const char *key, const char *value);
void avro_writer_meta_bytes(struct avro_writer *w, const char *key, const void *v, size_t n);
/* Fixes the 16-byte sync marker (default: random), for reproducible files. */
void avro_writer_set_sync(struct avro_writer *w, const unsigned char sync[16]);
/* Target uncompressed block size (default 64 KiB). */
void avro_writer_block_bytes(struct avro_writer *w, size_t n);
/* Encode one datum into the returned buffer, then call avro_datum_end(). */
struct buf *avro_datum_begin(struct avro_writer *w);
int avro_datum_end(struct avro_writer *w);
/* Writes the header (if no datum came) and the last block; *size = exact file size. */
int avro_writer_close(struct avro_writer *w, uint64_t *size);
int64_t avro_writer_count(const struct avro_writer *w);
const char *avro_writer_error(const struct avro_writer *w);
void avro_writer_free(struct avro_writer *w);

/* ---- reader (whole file in memory) ---- */
struct avro_cursor {
	const unsigned char *p, *end;
	int err; /* sticky: set once a read ran past the end or was malformed */
};

int32_t avro_get_int(struct avro_cursor *c);
int64_t avro_get_long(struct avro_cursor *c);
int avro_get_bool(struct avro_cursor *c);
float avro_get_float(struct avro_cursor *c);
double avro_get_double(struct avro_cursor *c);
/* Bytes/strings point into the block (not NUL-terminated). */
const void *avro_get_bytes(struct avro_cursor *c, size_t *n);
const void *avro_get_fixed(struct avro_cursor *c, size_t n);

struct avro_meta {
	char *key;
	unsigned char *value;
	size_t len;
};

struct avro_reader {
	const unsigned char *data, *pos, *end;
	unsigned char sync[16];
	enum avro_codec codec;
	struct avro_meta *meta;
	size_t nmeta;
	struct buf block; /* decompressed payload */
	char err[256];
};

/* Parses the header of the file in data (which must outlive the reader). */
int avro_reader_open(struct avro_reader *r, const void *data, size_t n);
/* Value of a header key (NUL-terminated copy; len without the NUL), or NULL. */
const char *avro_reader_meta(const struct avro_reader *r, const char *key, size_t *len);
/* Next block: 1 with *c over its datums and *count set, 0 at the end, -1 on error. */
int avro_reader_block(struct avro_reader *r, struct avro_cursor *c, int64_t *count);
void avro_reader_close(struct avro_reader *r);

/* ---- Iceberg v2 ---- */

/* Manifest list: record manifest_file, fields 500..519 in Java's V2 order. */
extern const char avro_iceberg_manifest_list_schema[];

/* One field of the partition tuple r102. avro_type is the non-null branch as
 * JSON, e.g. "\"long\"" or "{\"type\":\"int\",\"logicalType\":\"date\"}";
 * the field is written as ["null", T] with "default": null. */
struct avro_partition_field {
	const char *name;
	int32_t field_id; /* 1000+ */
	const char *avro_type;
};

/* Manifest: record manifest_entry with data_file r2 and partition r102. */
void avro_iceberg_manifest_schema(struct buf *out, const struct avro_partition_field *pf,
				  size_t n);

/* Header keys Iceberg writers put in manifests and manifest lists. */
#define AVRO_ICEBERG_SCHEMA "schema"                 /* table schema JSON (Iceberg, not Avro) */
#define AVRO_ICEBERG_SCHEMA_ID "schema-id"
#define AVRO_ICEBERG_PARTITION_SPEC "partition-spec" /* JSON array of partition fields */
#define AVRO_ICEBERG_PARTITION_SPEC_ID "partition-spec-id"
#define AVRO_ICEBERG_FORMAT_VERSION "format-version"
#define AVRO_ICEBERG_CONTENT "content"               /* "data" | "deletes" */
#define AVRO_ICEBERG_SNAPSHOT_ID "snapshot-id"
#define AVRO_ICEBERG_PARENT_SNAPSHOT_ID "parent-snapshot-id"
#define AVRO_ICEBERG_SEQUENCE_NUMBER "sequence-number"

/* Sets the v2 manifest header keys (format-version "2" included). */
void avro_iceberg_manifest_meta(struct avro_writer *w, const char *table_schema_json,
				int schema_id, const char *partition_fields_json, int spec_id,
				int deletes);
/* Sets the v2 manifest-list header keys; parent_snapshot_id < 0 writes "null". */
void avro_iceberg_list_meta(struct avro_writer *w, int64_t snapshot_id,
			    int64_t parent_snapshot_id, int64_t sequence_number);

#endif
