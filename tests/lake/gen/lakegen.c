/*
 * lakegen — writes sample Parquet and Avro files with lake/parquet.c and
 * lake/avro.c for the Python read-back tests in tests/lake/, which compile it
 * with cc. Values are a pure function of the row number so the tests can
 * recompute them (see tests/lake/lakegen.py, which must stay in step), and
 * the writers' own metrics are printed as JSON for the tests to compare
 * with what pyarrow/fastavro/pyiceberg see.
 *
 *   lakegen parquet OUT CODEC DICT NROWS ROWGROUP_BYTES PAGE_BYTES DICT_BYTES NKINDS
 *       one REQUIRED and one OPTIONAL column (null every 5th row) per kind;
 *       the first 16 kinds are Iceberg types, the last 4 plain Parquet ints
 *   lakegen table DIR AVRO_CODEC NROWS
 *       an unpartitioned Iceberg table's files without the metadata JSON:
 *       DIR/data/data-0.parquet, DIR/metadata/manifest-0.avro (+ a partitioned
 *       sample manifest-part.avro), DIR/metadata/snap-1.avro
 */
#include "lake/parquet.h"
#include "lake/avro.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *kind_names[] = {
	"boolean", "int", "long", "float", "double", "string", "binary", "fixed3",
	"uuid", "dec9", "dec18", "dec38", "date", "time", "ts", "tstz",
	"i8", "u16", "u32", "u64",
};
#define NKINDS (sizeof(kind_names) / sizeof(kind_names[0]))

static void spec_for(size_t k, struct pq_column_spec *s)
{
	memset(s, 0, sizeof(*s));
	switch (k) {
	case 0: s->kind = PQ_BOOLEAN; break;
	case 1: s->kind = PQ_INT32; break;
	case 2: s->kind = PQ_INT64; break;
	case 3: s->kind = PQ_FLOAT; break;
	case 4: s->kind = PQ_DOUBLE; break;
	case 5: s->kind = PQ_STRING; break;
	case 6: s->kind = PQ_BINARY; break;
	case 7: s->kind = PQ_FIXED; s->length = 3; break;
	case 8: s->kind = PQ_UUID; break;
	case 9: s->kind = PQ_DECIMAL; s->precision = 9; s->scale = 2; break;
	case 10: s->kind = PQ_DECIMAL; s->precision = 18; s->scale = 4; break;
	case 11: s->kind = PQ_DECIMAL; s->precision = 38; s->scale = 10; break;
	case 12: s->kind = PQ_DATE; break;
	case 13: s->kind = PQ_TIME; break;
	case 14: s->kind = PQ_TIMESTAMP; break;
	case 15: s->kind = PQ_TIMESTAMPTZ; break;
	case 16: s->kind = PQ_INT; s->bits = 8; break;
	case 17: s->kind = PQ_INT; s->bits = 16; s->is_unsigned = 1; break;
	case 18: s->kind = PQ_INT; s->bits = 32; s->is_unsigned = 1; break;
	case 19: s->kind = PQ_INT; s->bits = 64; s->is_unsigned = 1; break;
	}
}

static int put_value(struct pq_writer *w, int col, size_t k, int64_t r, int64_t n)
{
	char tmp[128];
	unsigned char b[16];
	switch (k) {
	case 0: return pq_write_bool(w, col, r % 3 == 0);
	case 1: return pq_write_int32(w, col, (int32_t)((r * 7919) % 2001 - 1000));
	case 2: return pq_write_int64(w, col, (r - n / 2) * 1000000007LL);
	case 3: return pq_write_float(w, col, (float)(r % 100) * 0.5f - 20.0f);
	case 4: return pq_write_double(w, col, r % 11 == 5 ? -0.0 : (double)r * 0.25 - 3.0);
	case 5:
		if (r % 7 == 0)
			snprintf(tmp, sizeof(tmp), "\xc3\xbc%" PRId64, r % 300);
		else
			snprintf(tmp, sizeof(tmp), "s%05" PRId64, r % 300);
		return pq_write_bytes(w, col, tmp, strlen(tmp));
	case 6:
		b[0] = (unsigned char)(r % 256);
		b[1] = (unsigned char)((r * 3) % 256);
		b[2] = 0x80;
		return pq_write_bytes(w, col, b, (size_t)(r % 4));
	case 7:
		b[0] = (unsigned char)(r % 256);
		b[1] = (unsigned char)((r >> 8) % 256);
		b[2] = 0xff;
		return pq_write_bytes(w, col, b, 3);
	case 8:
		for (int i = 0; i < 16; i++)
			b[i] = (unsigned char)((r * (i + 1) * 37) >> (i % 3));
		return pq_write_bytes(w, col, b, 16);
	case 9: {
		int32_t v = (int32_t)((r * 12345) % 1000000 - 500000);
		for (int i = 0; i < 4; i++)
			b[i] = (unsigned char)((uint32_t)v >> (8 * (3 - i)));
		return pq_write_decimal(w, col, b, 4);
	}
	case 10: {
		int64_t v = (r - n / 2) * 123456789LL;
		for (int i = 0; i < 8; i++)
			b[i] = (unsigned char)((uint64_t)v >> (8 * (7 - i)));
		return pq_write_decimal(w, col, b, 8);
	}
	case 11:
		snprintf(tmp, sizeof(tmp), "%s%" PRId64 "%013" PRId64 ".%010" PRId64,
			 r % 2 ? "-" : "", r, (int64_t)(r * 98765432109LL % 10000000000000LL),
			 (int64_t)((r * 7777777) % 10000000000LL));
		return pq_write_decimal_text(w, col, tmp);
	case 12: return pq_write_int32(w, col, (int32_t)(19000 + r % 1000));
	case 13: return pq_write_int64(w, col, (r * 1000003) % 86400000000LL);
	case 14: return pq_write_int64(w, col, 1700000000000000LL + r * 1000001);
	case 15: return pq_write_int64(w, col, 1700000000000007LL + r * 1000001);
	case 16: return pq_write_int32(w, col, (int32_t)(r % 256) - 128);
	case 17: return pq_write_int32(w, col, (int32_t)(r % 65536));
	case 18: return pq_write_int32(w, col, (int32_t)(uint32_t)(4000000000u + (uint32_t)r));
	case 19: return pq_write_int64(w, col, (int64_t)(((uint64_t)1 << 63) + (uint64_t)r));
	}
	return -1;
}

static void print_hex(const struct buf *b)
{
	putchar('"');
	for (size_t i = 0; i < b->len; i++)
		printf("%02x", (unsigned char)b->p[i]);
	putchar('"');
}

static char names[2 * NKINDS][32];

static struct pq_writer *write_parquet(const char *out, const struct pq_options *opt, int64_t n,
				       size_t nkinds, uint64_t *size)
{
	struct pq_column_spec cols[2 * NKINDS];
	for (size_t i = 0; i < 2 * nkinds; i++) {
		size_t k = i / 2;
		spec_for(k, &cols[i]);
		cols[i].optional = (int)(i % 2);
		snprintf(names[i], sizeof(names[i]), "%s_%s", kind_names[k],
			 i % 2 ? "opt" : "req");
		cols[i].name = names[i];
		cols[i].field_id = (int32_t)(i + 1);
	}
	FILE *f = fopen(out, "wb");
	if (!f) {
		perror(out);
		return NULL;
	}
	char err[256];
	struct pq_writer *w = pq_open(cols, 2 * nkinds, opt, pq_write_file, f, err, sizeof(err));
	if (!w) {
		fprintf(stderr, "pq_open: %s\n", err);
		return NULL;
	}
	pq_add_metadata(w, "iceberg.schema", "{\"type\":\"struct\"}");
	for (int64_t r = 0; r < n; r++) {
		for (size_t i = 0; i < 2 * nkinds; i++) {
			int rc = (i % 2 && r % 5 == 3) ? pq_write_null(w, (int)i)
						       : put_value(w, (int)i, i / 2, r, n);
			if (rc) {
				fprintf(stderr, "row %" PRId64 ": %s\n", r, pq_error(w));
				return NULL;
			}
		}
		if (pq_end_row(w)) {
			fprintf(stderr, "%s\n", pq_error(w));
			return NULL;
		}
	}
	if (pq_close(w, size) || fclose(f)) {
		fprintf(stderr, "close: %s\n", pq_error(w));
		return NULL;
	}
	return w;
}

static void print_metrics(struct pq_writer *w, uint64_t size, size_t nkinds)
{
	printf("{\"file_size\": %" PRIu64 ", \"rows\": %" PRId64 ", \"split_offsets\": [", size,
	       pq_num_rows(w));
	size_t nrg;
	const int64_t *off = pq_row_group_offsets(w, &nrg);
	for (size_t i = 0; i < nrg; i++)
		printf("%s%" PRId64, i ? ", " : "", off[i]);
	printf("], \"columns\": {");
	for (size_t i = 0; i < 2 * nkinds; i++) {
		const struct pq_column_metrics *m = pq_metrics(w, (int)i);
		printf("%s\"%s\": {\"values\": %" PRId64 ", \"nulls\": %" PRId64
		       ", \"nans\": %" PRId64 ", \"size\": %" PRId64,
		       i ? ", " : "", names[i], m->value_count, m->null_count, m->nan_count,
		       m->column_size);
		if (m->has_bounds) {
			printf(", \"lower\": ");
			print_hex(&m->lower);
			printf(", \"upper\": ");
			print_hex(&m->upper);
		}
		printf("}");
	}
	printf("}");
}

static int gen_parquet(char **argv)
{
	const char *out = argv[0], *codec = argv[1];
	struct pq_options opt = { 0 };
	opt.codec = !strcmp(codec, "snappy") ? PQ_SNAPPY : !strcmp(codec, "zstd") ? PQ_ZSTD
										     : PQ_UNCOMPRESSED;
	opt.no_dictionary = !atoi(argv[2]);
	int64_t n = atoll(argv[3]);
	opt.row_group_bytes = strtoull(argv[4], NULL, 10);
	opt.page_bytes = strtoull(argv[5], NULL, 10);
	opt.dictionary_bytes = strtoull(argv[6], NULL, 10);
	size_t nkinds = strtoul(argv[7], NULL, 10);
	if (nkinds < 1 || nkinds > NKINDS)
		return 2;
	uint64_t size;
	struct pq_writer *w = write_parquet(out, &opt, n, nkinds, &size);
	if (!w)
		return 1;
	print_metrics(w, size, nkinds);
	printf("}\n");
	pq_free(w);
	return 0;
}

/* Iceberg type of each of the first 16 kinds, for the table schema JSON. */
static const char *iceberg_types[] = {
	"boolean", "int", "long", "float", "double", "string", "binary", "fixed[3]",
	"uuid", "decimal(9, 2)", "decimal(18, 4)", "decimal(38, 10)", "date", "time",
	"timestamp", "timestamptz",
};
#define ICEBERG_KINDS (sizeof(iceberg_types) / sizeof(iceberg_types[0]))

/* NaN counts only exist for float and double columns. */
static int counted(struct pq_writer *w, size_t i, int what)
{
	enum pq_physical p = pq_column_physical(w, (int)i);
	return what != 3 || p == PQ_PHYS_FLOAT || p == PQ_PHYS_DOUBLE;
}

/* what: 0 column_sizes, 1 value_counts, 2 null_value_counts, 3 nan_value_counts */
static void put_counts(struct buf *b, struct pq_writer *w, size_t ncols, int what)
{
	size_t k = 0;
	for (size_t i = 0; i < ncols; i++)
		k += (size_t)counted(w, i, what);
	avro_put_union(b, 1);
	if (k)
		avro_put_block(b, (int64_t)k);
	for (size_t i = 0; i < ncols; i++) {
		const struct pq_column_metrics *m = pq_metrics(w, (int)i);
		if (!counted(w, i, what))
			continue;
		avro_put_int(b, (int32_t)(i + 1));
		avro_put_long(b, what == 0 ? m->column_size : what == 1 ? m->value_count
				 : what == 2 ? m->null_count : m->nan_count);
	}
	avro_put_block(b, 0);
}

static void put_bounds(struct buf *b, struct pq_writer *w, size_t ncols, int upper)
{
	size_t k = 0;
	for (size_t i = 0; i < ncols; i++)
		k += pq_metrics(w, (int)i)->has_bounds ? 1 : 0;
	avro_put_union(b, 1);
	if (k)
		avro_put_block(b, (int64_t)k);
	for (size_t i = 0; i < ncols; i++) {
		const struct pq_column_metrics *m = pq_metrics(w, (int)i);
		if (!m->has_bounds)
			continue;
		const struct buf *v = upper ? &m->upper : &m->lower;
		avro_put_int(b, (int32_t)(i + 1));
		avro_put_bytes(b, v->p, v->len);
	}
	avro_put_block(b, 0);
}

static int write_file(void *ctx, const void *p, size_t n)
{
	return fwrite(p, 1, n, ctx) == n ? 0 : -1;
}

static int finish_avro(struct avro_writer *a, FILE *f, uint64_t *size)
{
	if (avro_writer_close(a, size) || fclose(f)) {
		fprintf(stderr, "avro: %s\n", avro_writer_error(a));
		return -1;
	}
	avro_writer_free(a);
	return 0;
}

static int gen_table(char **argv)
{
	const char *dir = argv[0];
	enum avro_codec codec = !strcmp(argv[1], "deflate") ? AVRO_CODEC_DEFLATE : AVRO_CODEC_NULL;
	int64_t n = atoll(argv[2]);
	char path[4096], uri[4200];
	struct pq_options opt = { 0 };
	opt.codec = PQ_ZSTD;
	opt.row_group_bytes = 64 * 1024;
	opt.page_bytes = 16 * 1024;
	snprintf(path, sizeof(path), "%s/data/data-0.parquet", dir);
	uint64_t size;
	size_t ncols = 2 * ICEBERG_KINDS;
	struct pq_writer *w = write_parquet(path, &opt, n, ICEBERG_KINDS, &size);
	if (!w)
		return 1;

	struct buf schema = BUF_INIT;
	buf_addstr(&schema, "{\"type\":\"struct\",\"schema-id\":0,\"fields\":[");
	for (size_t i = 0; i < ncols; i++)
		buf_addf(&schema, "%s{\"id\":%zu,\"name\":\"%s\",\"required\":%s,\"type\":\"%s\"}",
			 i ? "," : "", i + 1, names[i], i % 2 ? "false" : "true",
			 iceberg_types[i / 2]);
	buf_addstr(&schema, "]}");

	/* the manifest */
	struct buf ms = BUF_INIT;
	avro_iceberg_manifest_schema(&ms, NULL, 0);
	snprintf(path, sizeof(path), "%s/metadata/manifest-0.avro", dir);
	FILE *f = fopen(path, "wb");
	struct avro_writer *a = avro_writer_new(ms.p, codec, write_file, f);
	if (!f || !a)
		return 1;
	avro_iceberg_manifest_meta(a, schema.p, 0, "[]", 0, 0);
	struct buf *b = avro_datum_begin(a);
	avro_put_int(b, 1);       /* ADDED */
	avro_put_union(b, 0);     /* snapshot_id: inherited */
	avro_put_union(b, 0);     /* sequence_number */
	avro_put_union(b, 0);     /* file_sequence_number */
	avro_put_int(b, 0);       /* content DATA */
	snprintf(uri, sizeof(uri), "file://%s/data/data-0.parquet", dir);
	avro_put_string(b, uri);
	avro_put_string(b, "PARQUET");
	/* r102: no fields */
	avro_put_long(b, pq_num_rows(w));
	avro_put_long(b, (int64_t)size);
	for (int what = 0; what < 4; what++)
		put_counts(b, w, ncols, what);
	put_bounds(b, w, ncols, 0);
	put_bounds(b, w, ncols, 1);
	avro_put_union(b, 0);     /* key_metadata */
	size_t nrg;
	const int64_t *off = pq_row_group_offsets(w, &nrg);
	avro_put_union(b, 1);
	avro_put_block(b, (int64_t)nrg);
	for (size_t i = 0; i < nrg; i++)
		avro_put_long(b, off[i]);
	avro_put_block(b, 0);
	avro_put_union(b, 0);     /* equality_ids */
	avro_put_union(b, 1);     /* sort_order_id 0 */
	avro_put_int(b, 0);
	avro_put_union(b, 0);     /* referenced_data_file */
	uint64_t manifest_size;
	if (avro_datum_end(a) || finish_avro(a, f, &manifest_size))
		return 1;

	/* a partitioned sample manifest (day(ts) -> date), two entries */
	struct avro_partition_field pf[] = {
		{ "ts_day", 1000, "{\"type\":\"int\",\"logicalType\":\"date\"}" },
		{ "id_bucket", 1001, "\"int\"" },
	};
	buf_reset(&ms);
	avro_iceberg_manifest_schema(&ms, pf, 2);
	snprintf(path, sizeof(path), "%s/metadata/manifest-part.avro", dir);
	f = fopen(path, "wb");
	a = avro_writer_new(ms.p, codec, write_file, f);
	if (!f || !a)
		return 1;
	avro_iceberg_manifest_meta(a, schema.p, 0,
				   "[{\"source-id\":29,\"field-id\":1000,\"name\":\"ts_day\","
				   "\"transform\":\"day\"},{\"source-id\":3,\"field-id\":1001,"
				   "\"name\":\"id_bucket\",\"transform\":\"bucket[4]\"}]",
				   1, 0);
	for (int e = 0; e < 2; e++) {
		b = avro_datum_begin(a);
		avro_put_int(b, e ? 0 : 1);
		avro_put_union(b, 1);
		avro_put_long(b, 42 + e);
		avro_put_union(b, 1);
		avro_put_long(b, 7);
		avro_put_union(b, 1);
		avro_put_long(b, 7);
		avro_put_int(b, 0);
		snprintf(uri, sizeof(uri), "file://%s/data/part-%d.parquet", dir, e);
		avro_put_string(b, uri);
		avro_put_string(b, "PARQUET");
		avro_put_union(b, 1);
		avro_put_int(b, 19700 + e);
		if (e) {
			avro_put_union(b, 0);
		} else {
			avro_put_union(b, 1);
			avro_put_int(b, 3);
		}
		avro_put_long(b, 10 + e);
		avro_put_long(b, 1000 + e);
		for (int k = 0; k < 6; k++)
			avro_put_union(b, 0);
		avro_put_union(b, 0);
		avro_put_union(b, 0);
		avro_put_union(b, 0);
		avro_put_union(b, 0);
		avro_put_union(b, 0);
		if (avro_datum_end(a))
			return 1;
	}
	uint64_t part_size;
	if (finish_avro(a, f, &part_size))
		return 1;

	/* the manifest list */
	snprintf(path, sizeof(path), "%s/metadata/snap-1.avro", dir);
	f = fopen(path, "wb");
	a = avro_writer_new(avro_iceberg_manifest_list_schema, codec, write_file, f);
	if (!f || !a)
		return 1;
	avro_iceberg_list_meta(a, 1, -1, 1);
	b = avro_datum_begin(a);
	snprintf(uri, sizeof(uri), "file://%s/metadata/manifest-0.avro", dir);
	avro_put_string(b, uri);
	avro_put_long(b, (int64_t)manifest_size);
	avro_put_int(b, 0);       /* partition_spec_id */
	avro_put_int(b, 0);       /* content */
	avro_put_long(b, 1);      /* sequence_number */
	avro_put_long(b, 1);      /* min_sequence_number */
	avro_put_long(b, 1);      /* added_snapshot_id */
	avro_put_int(b, 1);
	avro_put_int(b, 0);
	avro_put_int(b, 0);
	avro_put_long(b, pq_num_rows(w));
	avro_put_long(b, 0);
	avro_put_long(b, 0);
	avro_put_union(b, 1);     /* partitions: empty array */
	avro_put_block(b, 0);
	avro_put_union(b, 0);     /* key_metadata */
	uint64_t list_size;
	if (avro_datum_end(a) || finish_avro(a, f, &list_size))
		return 1;

	printf("{\"manifest_size\": %" PRIu64 ", \"part_manifest_size\": %" PRIu64
	       ", \"list_size\": %" PRIu64 ", \"parquet\": ", manifest_size, part_size, list_size);
	print_metrics(w, size, ICEBERG_KINDS);
	printf("}}\n"); /* the parquet object, then the whole */
	pq_free(w);
	buf_release(&ms);
	buf_release(&schema);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 10 && !strcmp(argv[1], "parquet"))
		return gen_parquet(argv + 2);
	if (argc == 5 && !strcmp(argv[1], "table"))
		return gen_table(argv + 2);
	fprintf(stderr, "usage: see the comment at the top of lakegen.c\n");
	return 2;
}
