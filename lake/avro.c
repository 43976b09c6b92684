/*
 * avro — Avro object container files for Iceberg manifests (see avro.h).
 * Framing per the Avro 1.11 specification: "Obj" 0x01, a metadata map of
 * bytes values (avro.schema, avro.codec, then the caller's keys), a 16-byte
 * sync marker, then blocks of (object count, byte length, payload, sync).
 * The header is written lazily, when the first block or the close needs it,
 * so metadata can be set right up to the first datum.
 *
 * The last section holds Iceberg's v2 manifest schemas in the exact shape
 * Java's V2Metadata and pyiceberg emit (record names manifest_file,
 * manifest_entry, r2, r102, r508, k117_v118...; field-id on every field,
 * element-id on arrays, ["null", T] unions with "default": null).
 */
#include "avro.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#ifdef SD_HAVE_ZLIB
#include <zlib.h>
#endif

/* ---------------------------------------------------------------- encoding */

static uint64_t zigzag(int64_t v)
{
	return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
}

void avro_put_bool(struct buf *b, int v)
{
	buf_addch(b, v ? 1 : 0);
}

void avro_put_int(struct buf *b, int32_t v)
{
	buf_add_varint(b, zigzag(v));
}

void avro_put_long(struct buf *b, int64_t v)
{
	buf_add_varint(b, zigzag(v));
}

void avro_put_float(struct buf *b, float v)
{
	uint32_t u;
	unsigned char t[4];
	memcpy(&u, &v, 4);
	for (int i = 0; i < 4; i++)
		t[i] = (unsigned char)(u >> (8 * i));
	buf_add(b, t, 4);
}

void avro_put_double(struct buf *b, double v)
{
	uint64_t u;
	unsigned char t[8];
	memcpy(&u, &v, 8);
	for (int i = 0; i < 8; i++)
		t[i] = (unsigned char)(u >> (8 * i));
	buf_add(b, t, 8);
}

void avro_put_bytes(struct buf *b, const void *p, size_t n)
{
	buf_add_varint(b, zigzag((int64_t)n));
	buf_add(b, p, n);
}

void avro_put_string(struct buf *b, const char *s)
{
	avro_put_bytes(b, s, strlen(s));
}

void avro_put_fixed(struct buf *b, const void *p, size_t n)
{
	buf_add(b, p, n);
}

void avro_put_union(struct buf *b, int branch)
{
	avro_put_long(b, branch);
}

void avro_put_block(struct buf *b, int64_t count)
{
	avro_put_long(b, count);
}

/* ------------------------------------------------------------------ writer */

struct avro_writer {
	char *schema;
	enum avro_codec codec;
	avro_write_fn fn;
	void *ctx;
	struct buf meta;    /* encoded key/value pairs of the caller's metadata */
	int64_t nmeta;
	unsigned char sync[16];
	int header_done, failed, closed;
	struct buf block;   /* datums of the current block, uncompressed */
	int64_t block_count, total;
	size_t block_bytes;
	struct buf packed;
	uint64_t offset;
	char err[256];
};

static int wfail(struct avro_writer *w, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int wfail(struct avro_writer *w, const char *fmt, ...)
{
	if (!w->failed) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(w->err, sizeof(w->err), fmt, ap);
		va_end(ap);
	}
	w->failed = 1;
	return -1;
}

static int wemit(struct avro_writer *w, const void *p, size_t n)
{
	if (w->failed)
		return -1;
	if (n && w->fn(w->ctx, p, n) != 0)
		return wfail(w, "write failed at offset %llu: %s", (unsigned long long)w->offset,
			     strerror(errno));
	w->offset += n;
	return 0;
}

struct avro_writer *avro_writer_new(const char *schema_json, enum avro_codec codec,
				    avro_write_fn fn, void *ctx)
{
#ifndef SD_HAVE_ZLIB
	if (codec == AVRO_CODEC_DEFLATE)
		return NULL;
#endif
	if (codec != AVRO_CODEC_NULL && codec != AVRO_CODEC_DEFLATE)
		return NULL;
	struct avro_writer *w = xcalloc(1, sizeof(*w));
	w->schema = xstrdup(schema_json);
	w->codec = codec;
	w->fn = fn;
	w->ctx = ctx;
	w->block_bytes = 64 * 1024;
	/* The marker only has to be unlikely to appear in the data. */
	size_t got = 0;
	while (got < sizeof(w->sync)) {
		ssize_t r = getrandom(w->sync + got, sizeof(w->sync) - got, 0);
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	for (; got < sizeof(w->sync); got++)
		w->sync[got] = (unsigned char)(rand() ^ (uintptr_t)w >> (got % 8));
	return w;
}

void avro_writer_meta_bytes(struct avro_writer *w, const char *key, const void *v, size_t n)
{
	if (w->header_done) {
		wfail(w, "metadata %s set after the header was written", key);
		return;
	}
	avro_put_string(&w->meta, key);
	avro_put_bytes(&w->meta, v, n);
	w->nmeta++;
}

void avro_writer_meta(struct avro_writer *w, const char *key, const char *value)
{
	avro_writer_meta_bytes(w, key, value, strlen(value));
}

void avro_writer_set_sync(struct avro_writer *w, const unsigned char sync[16])
{
	memcpy(w->sync, sync, 16);
}

void avro_writer_block_bytes(struct avro_writer *w, size_t n)
{
	w->block_bytes = n ? n : 1;
}

static int write_header(struct avro_writer *w)
{
	if (w->header_done)
		return 0;
	struct buf h = BUF_INIT;
	buf_add(&h, "Obj\x01", 4);
	avro_put_block(&h, w->nmeta + 2);
	avro_put_string(&h, "avro.schema");
	avro_put_string(&h, w->schema);
	avro_put_string(&h, "avro.codec");
	avro_put_string(&h, w->codec == AVRO_CODEC_DEFLATE ? "deflate" : "null");
	buf_add(&h, w->meta.p, w->meta.len);
	avro_put_block(&h, 0);
	buf_add(&h, w->sync, 16);
	w->header_done = 1;
	int rc = wemit(w, h.p, h.len);
	buf_release(&h);
	return rc;
}

static int deflate_raw(struct avro_writer *w, const struct buf *in, struct buf *out)
{
#ifdef SD_HAVE_ZLIB
	z_stream z;
	memset(&z, 0, sizeof(z));
	/* windowBits -15: raw deflate, no zlib header or adler32, as Avro wants. */
	if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		return wfail(w, "deflateInit2 failed");
	size_t cap = deflateBound(&z, (uLong)in->len);
	buf_reset(out);
	buf_grow(out, cap);
	z.next_in = (Bytef *)in->p;
	z.avail_in = (uInt)in->len;
	z.next_out = (Bytef *)out->p;
	z.avail_out = (uInt)cap;
	int rc = deflate(&z, Z_FINISH);
	out->len = z.total_out;
	deflateEnd(&z);
	if (rc != Z_STREAM_END)
		return wfail(w, "deflate failed (%d)", rc);
	return 0;
#else
	(void)in;
	(void)out;
	return wfail(w, "deflate codec not built in (SD_HAVE_ZLIB)");
#endif
}

static int flush_block(struct avro_writer *w)
{
	if (write_header(w))
		return -1;
	if (!w->block_count)
		return 0;
	const struct buf *payload = &w->block;
	if (w->codec == AVRO_CODEC_DEFLATE) {
		if (deflate_raw(w, &w->block, &w->packed))
			return -1;
		payload = &w->packed;
	}
	struct buf h = BUF_INIT;
	avro_put_long(&h, w->block_count);
	avro_put_long(&h, (int64_t)payload->len);
	int rc = wemit(w, h.p, h.len) || wemit(w, payload->p, payload->len) ||
		 wemit(w, w->sync, 16);
	buf_release(&h);
	buf_reset(&w->block);
	w->block_count = 0;
	return rc ? -1 : 0;
}

struct buf *avro_datum_begin(struct avro_writer *w)
{
	return &w->block;
}

int avro_datum_end(struct avro_writer *w)
{
	if (w->failed || w->closed)
		return -1;
	w->block_count++;
	w->total++;
	if (w->block.len >= w->block_bytes)
		return flush_block(w);
	return 0;
}

int avro_writer_close(struct avro_writer *w, uint64_t *size)
{
	if (w->failed || w->closed)
		return -1;
	if (flush_block(w))
		return -1;
	w->closed = 1;
	if (size)
		*size = w->offset;
	return 0;
}

int64_t avro_writer_count(const struct avro_writer *w)
{
	return w->total;
}

const char *avro_writer_error(const struct avro_writer *w)
{
	return w->failed ? w->err : "";
}

void avro_writer_free(struct avro_writer *w)
{
	if (!w)
		return;
	free(w->schema);
	buf_release(&w->meta);
	buf_release(&w->block);
	buf_release(&w->packed);
	free(w);
}

/* ------------------------------------------------------------------ reader */

int64_t avro_get_long(struct avro_cursor *c)
{
	uint64_t u;
	if (c->err || varint_get(&c->p, c->end, &u)) {
		c->err = 1;
		return 0;
	}
	return (int64_t)(u >> 1) ^ -(int64_t)(u & 1);
}

int32_t avro_get_int(struct avro_cursor *c)
{
	int64_t v = avro_get_long(c);
	if (v < INT32_MIN || v > INT32_MAX) {
		c->err = 1;
		return 0;
	}
	return (int32_t)v;
}

int avro_get_bool(struct avro_cursor *c)
{
	if (c->err || c->p >= c->end) {
		c->err = 1;
		return 0;
	}
	return *c->p++ != 0;
}

static const unsigned char *take(struct avro_cursor *c, size_t n)
{
	if (c->err || (size_t)(c->end - c->p) < n) {
		c->err = 1;
		return NULL;
	}
	const unsigned char *p = c->p;
	c->p += n;
	return p;
}

float avro_get_float(struct avro_cursor *c)
{
	const unsigned char *p = take(c, 4);
	uint32_t u = 0;
	float f;
	for (int i = 0; p && i < 4; i++)
		u |= (uint32_t)p[i] << (8 * i);
	memcpy(&f, &u, 4);
	return f;
}

double avro_get_double(struct avro_cursor *c)
{
	const unsigned char *p = take(c, 8);
	uint64_t u = 0;
	double d;
	for (int i = 0; p && i < 8; i++)
		u |= (uint64_t)p[i] << (8 * i);
	memcpy(&d, &u, 8);
	return d;
}

const void *avro_get_bytes(struct avro_cursor *c, size_t *n)
{
	int64_t len = avro_get_long(c);
	if (len < 0) {
		c->err = 1;
		len = 0;
	}
	*n = (size_t)len;
	const void *p = take(c, (size_t)len);
	if (!p)
		*n = 0;
	return p;
}

const void *avro_get_fixed(struct avro_cursor *c, size_t n)
{
	return take(c, n);
}

int avro_reader_open(struct avro_reader *r, const void *data, size_t n)
{
	memset(r, 0, sizeof(*r));
	r->data = data;
	r->end = r->data + n;
	if (n < 4 || memcmp(data, "Obj\x01", 4) != 0) {
		snprintf(r->err, sizeof(r->err), "not an Avro container file");
		return -1;
	}
	struct avro_cursor c = { r->data + 4, r->end, 0 };
	size_t cap = 0;
	for (;;) {
		int64_t count = avro_get_long(&c);
		if (c.err)
			break;
		if (count == 0)
			break;
		if (count < 0) {
			(void)avro_get_long(&c); /* a negative count is followed by a byte size */
			count = -count;
		}
		for (int64_t i = 0; i < count && !c.err; i++) {
			size_t kn, vn;
			const char *k = avro_get_bytes(&c, &kn);
			const unsigned char *v = avro_get_bytes(&c, &vn);
			if (c.err)
				break;
			if (r->nmeta == cap) {
				cap = cap ? cap * 2 : 8;
				r->meta = xrealloc(r->meta, cap * sizeof(*r->meta));
			}
			struct avro_meta *m = &r->meta[r->nmeta++];
			m->key = xstrndup(k, kn);
			m->value = (unsigned char *)xstrndup((const char *)v, vn);
			m->len = vn;
		}
	}
	const unsigned char *sync = avro_get_fixed(&c, 16);
	if (c.err || !sync) {
		snprintf(r->err, sizeof(r->err), "truncated Avro header");
		return -1;
	}
	memcpy(r->sync, sync, 16);
	r->pos = c.p;
	const char *codec = avro_reader_meta(r, "avro.codec", NULL);
	if (!codec || !strcmp(codec, "null")) {
		r->codec = AVRO_CODEC_NULL;
	} else if (!strcmp(codec, "deflate")) {
		r->codec = AVRO_CODEC_DEFLATE;
	} else {
		snprintf(r->err, sizeof(r->err), "unsupported Avro codec %s", codec);
		return -1;
	}
	return 0;
}

const char *avro_reader_meta(const struct avro_reader *r, const char *key, size_t *len)
{
	for (size_t i = 0; i < r->nmeta; i++) {
		if (!strcmp(r->meta[i].key, key)) {
			if (len)
				*len = r->meta[i].len;
			return (const char *)r->meta[i].value;
		}
	}
	return NULL;
}

int avro_reader_block(struct avro_reader *r, struct avro_cursor *out, int64_t *count)
{
	if (r->pos >= r->end)
		return 0;
	struct avro_cursor c = { r->pos, r->end, 0 };
	*count = avro_get_long(&c);
	int64_t size = avro_get_long(&c);
	const unsigned char *payload = c.err || size < 0 ? NULL : take(&c, (size_t)size);
	const unsigned char *sync = avro_get_fixed(&c, 16);
	if (c.err || !payload || !sync || *count < 0) {
		snprintf(r->err, sizeof(r->err), "truncated Avro block");
		return -1;
	}
	if (memcmp(sync, r->sync, 16) != 0) {
		snprintf(r->err, sizeof(r->err), "Avro sync marker mismatch");
		return -1;
	}
	r->pos = c.p;
	if (r->codec == AVRO_CODEC_NULL) {
		out->p = payload;
		out->end = payload + size;
		out->err = 0;
		return 1;
	}
#ifdef SD_HAVE_ZLIB
	z_stream z;
	memset(&z, 0, sizeof(z));
	if (inflateInit2(&z, -15) != Z_OK) {
		snprintf(r->err, sizeof(r->err), "inflateInit2 failed");
		return -1;
	}
	buf_reset(&r->block);
	z.next_in = (Bytef *)payload;
	z.avail_in = (uInt)size;
	int rc;
	do {
		buf_grow(&r->block, 64 * 1024);
		z.next_out = (Bytef *)r->block.p + r->block.len;
		z.avail_out = (uInt)(r->block.cap - r->block.len - 1);
		size_t before = z.total_out;
		rc = inflate(&z, Z_NO_FLUSH);
		r->block.len += z.total_out - before;
	} while (rc == Z_OK);
	inflateEnd(&z);
	if (rc != Z_STREAM_END) {
		snprintf(r->err, sizeof(r->err), "inflate failed (%d)", rc);
		return -1;
	}
	out->p = (const unsigned char *)r->block.p;
	out->end = out->p + r->block.len;
	out->err = 0;
	return 1;
#else
	snprintf(r->err, sizeof(r->err), "deflate codec not built in (SD_HAVE_ZLIB)");
	return -1;
#endif
}

void avro_reader_close(struct avro_reader *r)
{
	for (size_t i = 0; i < r->nmeta; i++) {
		free(r->meta[i].key);
		free(r->meta[i].value);
	}
	free(r->meta);
	buf_release(&r->block);
	memset(r, 0, sizeof(*r));
}

/* ------------------------------------------------------------- Iceberg v2 */

/* Java V2Metadata.MANIFEST_LIST_SCHEMA order; 520 first_row_id is v3 only. */
const char avro_iceberg_manifest_list_schema[] =
	"{\"type\":\"record\",\"name\":\"manifest_file\",\"fields\":["
	"{\"name\":\"manifest_path\",\"type\":\"string\",\"doc\":\"Location URI with FS scheme\",\"field-id\":500},"
	"{\"name\":\"manifest_length\",\"type\":\"long\",\"doc\":\"Total file size in bytes\",\"field-id\":501},"
	"{\"name\":\"partition_spec_id\",\"type\":\"int\",\"doc\":\"Spec ID used to write\",\"field-id\":502},"
	"{\"name\":\"content\",\"type\":\"int\",\"doc\":\"Contents of the manifest: 0=data, 1=deletes\",\"field-id\":517},"
	"{\"name\":\"sequence_number\",\"type\":\"long\",\"doc\":\"Sequence number when the manifest was added\",\"field-id\":515},"
	"{\"name\":\"min_sequence_number\",\"type\":\"long\",\"doc\":\"Lowest sequence number in the manifest\",\"field-id\":516},"
	"{\"name\":\"added_snapshot_id\",\"type\":\"long\",\"doc\":\"Snapshot ID that added the manifest\",\"field-id\":503},"
	"{\"name\":\"added_files_count\",\"type\":\"int\",\"doc\":\"Added entry count\",\"field-id\":504},"
	"{\"name\":\"existing_files_count\",\"type\":\"int\",\"doc\":\"Existing entry count\",\"field-id\":505},"
	"{\"name\":\"deleted_files_count\",\"type\":\"int\",\"doc\":\"Deleted entry count\",\"field-id\":506},"
	"{\"name\":\"added_rows_count\",\"type\":\"long\",\"doc\":\"Added rows count\",\"field-id\":512},"
	"{\"name\":\"existing_rows_count\",\"type\":\"long\",\"doc\":\"Existing rows count\",\"field-id\":513},"
	"{\"name\":\"deleted_rows_count\",\"type\":\"long\",\"doc\":\"Deleted rows count\",\"field-id\":514},"
	"{\"name\":\"partitions\",\"type\":[\"null\",{\"type\":\"array\",\"items\":"
	"{\"type\":\"record\",\"name\":\"r508\",\"fields\":["
	"{\"name\":\"contains_null\",\"type\":\"boolean\",\"doc\":\"True if any file has a null partition value\",\"field-id\":509},"
	"{\"name\":\"contains_nan\",\"type\":[\"null\",\"boolean\"],\"doc\":\"True if any file has a nan partition value\",\"default\":null,\"field-id\":518},"
	"{\"name\":\"lower_bound\",\"type\":[\"null\",\"bytes\"],\"doc\":\"Partition lower bound for all files\",\"default\":null,\"field-id\":510},"
	"{\"name\":\"upper_bound\",\"type\":[\"null\",\"bytes\"],\"doc\":\"Partition upper bound for all files\",\"default\":null,\"field-id\":511}"
	"]},\"element-id\":508}],\"doc\":\"Summary for each partition\",\"default\":null,\"field-id\":507},"
	"{\"name\":\"key_metadata\",\"type\":[\"null\",\"bytes\"],\"doc\":\"Encryption key metadata blob\",\"default\":null,\"field-id\":519}"
	"]}";

/* An int-keyed map as Java's AvroSchemaUtil.createMap writes it: an array of
 * k<key>_v<value> records marked "logicalType":"map". */
static void int_map(struct buf *o, const char *name, int id, int kid, int vid,
		    const char *vtype, const char *doc)
{
	buf_addf(o,
		 "{\"name\":\"%s\",\"type\":[\"null\",{\"type\":\"array\",\"items\":"
		 "{\"type\":\"record\",\"name\":\"k%d_v%d\",\"fields\":["
		 "{\"name\":\"key\",\"type\":\"int\",\"field-id\":%d},"
		 "{\"name\":\"value\",\"type\":\"%s\",\"field-id\":%d}]},"
		 "\"logicalType\":\"map\"}],\"doc\":\"%s\",\"default\":null,\"field-id\":%d},",
		 name, kid, vid, kid, vtype, vid, doc, id);
}

void avro_iceberg_manifest_schema(struct buf *o, const struct avro_partition_field *pf, size_t n)
{
	buf_addstr(o,
		   "{\"type\":\"record\",\"name\":\"manifest_entry\",\"fields\":["
		   "{\"name\":\"status\",\"type\":\"int\",\"field-id\":0},"
		   "{\"name\":\"snapshot_id\",\"type\":[\"null\",\"long\"],\"default\":null,\"field-id\":1},"
		   "{\"name\":\"sequence_number\",\"type\":[\"null\",\"long\"],\"default\":null,\"field-id\":3},"
		   "{\"name\":\"file_sequence_number\",\"type\":[\"null\",\"long\"],\"default\":null,\"field-id\":4},"
		   "{\"name\":\"data_file\",\"type\":{\"type\":\"record\",\"name\":\"r2\",\"fields\":["
		   "{\"name\":\"content\",\"type\":\"int\",\"doc\":\"Contents of the file: 0=data, 1=position deletes, 2=equality deletes\",\"field-id\":134},"
		   "{\"name\":\"file_path\",\"type\":\"string\",\"doc\":\"Location URI with FS scheme\",\"field-id\":100},"
		   "{\"name\":\"file_format\",\"type\":\"string\",\"doc\":\"File format name: avro, orc, or parquet\",\"field-id\":101},"
		   "{\"name\":\"partition\",\"type\":{\"type\":\"record\",\"name\":\"r102\",\"fields\":[");
	for (size_t i = 0; i < n; i++)
		buf_addf(o, "%s{\"name\":\"%s\",\"type\":[\"null\",%s],\"default\":null,\"field-id\":%d}",
			 i ? "," : "", pf[i].name, pf[i].avro_type, (int)pf[i].field_id);
	buf_addstr(o,
		   "]},\"doc\":\"Partition data tuple, schema based on the partition spec\",\"field-id\":102},"
		   "{\"name\":\"record_count\",\"type\":\"long\",\"doc\":\"Number of records in the file\",\"field-id\":103},"
		   "{\"name\":\"file_size_in_bytes\",\"type\":\"long\",\"doc\":\"Total file size in bytes\",\"field-id\":104},");
	int_map(o, "column_sizes", 108, 117, 118, "long", "Map of column id to total size on disk");
	int_map(o, "value_counts", 109, 119, 120, "long", "Map of column id to total count, including null and NaN");
	int_map(o, "null_value_counts", 110, 121, 122, "long", "Map of column id to null value count");
	int_map(o, "nan_value_counts", 137, 138, 139, "long", "Map of column id to number of NaN values in the column");
	int_map(o, "lower_bounds", 125, 126, 127, "bytes", "Map of column id to lower bound");
	int_map(o, "upper_bounds", 128, 129, 130, "bytes", "Map of column id to upper bound");
	buf_addstr(o,
		   "{\"name\":\"key_metadata\",\"type\":[\"null\",\"bytes\"],\"doc\":\"Encryption key metadata blob\",\"default\":null,\"field-id\":131},"
		   "{\"name\":\"split_offsets\",\"type\":[\"null\",{\"type\":\"array\",\"items\":\"long\",\"element-id\":133}],\"doc\":\"Splittable offsets\",\"default\":null,\"field-id\":132},"
		   "{\"name\":\"equality_ids\",\"type\":[\"null\",{\"type\":\"array\",\"items\":\"int\",\"element-id\":136}],\"doc\":\"Equality comparison field IDs\",\"default\":null,\"field-id\":135},"
		   "{\"name\":\"sort_order_id\",\"type\":[\"null\",\"int\"],\"doc\":\"Sort order ID\",\"default\":null,\"field-id\":140},"
		   "{\"name\":\"referenced_data_file\",\"type\":[\"null\",\"string\"],\"doc\":\"Fully qualified location (URI with FS scheme) of a data file that all deletes reference\",\"default\":null,\"field-id\":143}"
		   "]},\"field-id\":2}]}");
}

void avro_iceberg_manifest_meta(struct avro_writer *w, const char *table_schema_json,
				int schema_id, const char *partition_fields_json, int spec_id,
				int deletes)
{
	char num[32];
	avro_writer_meta(w, AVRO_ICEBERG_SCHEMA, table_schema_json);
	snprintf(num, sizeof(num), "%d", schema_id);
	avro_writer_meta(w, AVRO_ICEBERG_SCHEMA_ID, num);
	avro_writer_meta(w, AVRO_ICEBERG_PARTITION_SPEC, partition_fields_json);
	snprintf(num, sizeof(num), "%d", spec_id);
	avro_writer_meta(w, AVRO_ICEBERG_PARTITION_SPEC_ID, num);
	avro_writer_meta(w, AVRO_ICEBERG_FORMAT_VERSION, "2");
	avro_writer_meta(w, AVRO_ICEBERG_CONTENT, deletes ? "deletes" : "data");
}

void avro_iceberg_list_meta(struct avro_writer *w, int64_t snapshot_id,
			    int64_t parent_snapshot_id, int64_t sequence_number)
{
	char num[32];
	snprintf(num, sizeof(num), "%lld", (long long)snapshot_id);
	avro_writer_meta(w, AVRO_ICEBERG_SNAPSHOT_ID, num);
	if (parent_snapshot_id >= 0)
		snprintf(num, sizeof(num), "%lld", (long long)parent_snapshot_id);
	else
		snprintf(num, sizeof(num), "null");
	avro_writer_meta(w, AVRO_ICEBERG_PARENT_SNAPSHOT_ID, num);
	snprintf(num, sizeof(num), "%lld", (long long)sequence_number);
	avro_writer_meta(w, AVRO_ICEBERG_SEQUENCE_NUMBER, num);
	avro_writer_meta(w, AVRO_ICEBERG_FORMAT_VERSION, "2");
}
