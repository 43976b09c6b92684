/*
 * Unit tests for lake/avro.c: zig-zag varint bytes, a container file written
 * into memory and read back through avro.c's own reader (several blocks,
 * header metadata, both codecs where zlib is built in), and the Iceberg
 * schemas parsed with jansson to check that every record field carries a
 * field-id and every array an element-id. fastavro and pyiceberg read real
 * manifests in tests/lake/.
 */
#include "harness.h"
#include "lake/avro.h"

#include <jansson.h>
#include <stdlib.h>

TEST(avro_zigzag_bytes)
{
	struct {
		int64_t v;
		const char *hex;
	} cases[] = {
		{ 0, "00" }, { -1, "01" }, { 1, "02" }, { -64, "7f" }, { 64, "8001" },
		{ 300, "d804" },
		{ INT64_MAX, "feffffffffffffffff01" },
		{ INT64_MIN, "ffffffffffffffffff01" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct buf b = BUF_INIT, hex = BUF_INIT;
		avro_put_long(&b, cases[i].v);
		for (size_t k = 0; k < b.len; k++)
			buf_addf(&hex, "%02x", (unsigned char)b.p[k]);
		CHECK_STR(hex.p, cases[i].hex);
		struct avro_cursor c = { (unsigned char *)b.p, (unsigned char *)b.p + b.len, 0 };
		CHECK(avro_get_long(&c) == cases[i].v);
		CHECK(!c.err && c.p == c.end);
		buf_release(&b);
		buf_release(&hex);
	}
	struct buf b = BUF_INIT;
	avro_put_int(&b, INT32_MIN);
	CHECK_INT(b.len, 5);
	struct avro_cursor c = { (unsigned char *)b.p, (unsigned char *)b.p + b.len, 0 };
	CHECK_INT(avro_get_int(&c), INT32_MIN);
	/* running past the end is sticky */
	(void)avro_get_long(&c);
	CHECK(c.err);
	buf_release(&b);
}

static int to_buf(void *ctx, const void *p, size_t n)
{
	buf_add(ctx, p, n);
	return 0;
}

static const char schema[] =
	"{\"type\":\"record\",\"name\":\"t\",\"fields\":["
	"{\"name\":\"id\",\"type\":\"long\"},{\"name\":\"s\",\"type\":\"string\"},"
	"{\"name\":\"o\",\"type\":[\"null\",\"double\"]},"
	"{\"name\":\"a\",\"type\":{\"type\":\"array\",\"items\":\"int\"}},"
	"{\"name\":\"f\",\"type\":{\"type\":\"fixed\",\"name\":\"f2\",\"size\":2}},"
	"{\"name\":\"b\",\"type\":\"boolean\"},{\"name\":\"x\",\"type\":\"float\"}]}";

static int round_trip(enum avro_codec codec)
{
	struct buf out = BUF_INIT;
	struct avro_writer *w = avro_writer_new(schema, codec, to_buf, &out);
	if (!w)
		return -2;
	unsigned char sync[16] = "0123456789abcdef";
	avro_writer_set_sync(w, sync);
	avro_writer_block_bytes(w, 1000);
	avro_writer_meta(w, "format-version", "2");
	for (int i = 0; i < 2000; i++) {
		struct buf *b = avro_datum_begin(w);
		char s[32];
		snprintf(s, sizeof(s), "row %d", i);
		avro_put_long(b, (int64_t)i * 1000003 - 7);
		avro_put_string(b, s);
		if (i % 3) {
			avro_put_union(b, 1);
			avro_put_double(b, i / 4.0);
		} else {
			avro_put_union(b, 0);
			avro_put_null(b);
		}
		avro_put_block(b, i % 4);
		for (int k = 0; k < i % 4; k++)
			avro_put_int(b, -k);
		if (i % 4)
			avro_put_block(b, 0);
		avro_put_fixed(b, "xy", 2);
		avro_put_bool(b, i & 1);
		avro_put_float(b, (float)i);
		if (avro_datum_end(w))
			return -1;
	}
	uint64_t size;
	if (avro_writer_close(w, &size) || size != out.len)
		return -1;
	avro_writer_free(w);

	struct avro_reader r;
	if (avro_reader_open(&r, out.p, out.len))
		return -1;
	size_t len;
	const char *v = avro_reader_meta(&r, "format-version", &len);
	if (!v || strcmp(v, "2") || len != 1 || strcmp(avro_reader_meta(&r, "avro.schema", NULL), schema))
		return -1;
	if (memcmp(r.sync, sync, 16))
		return -1;
	struct avro_cursor c;
	int64_t count;
	int i = 0, blocks = 0, rc;
	while ((rc = avro_reader_block(&r, &c, &count)) == 1) {
		blocks++;
		for (int64_t k = 0; k < count; k++, i++) {
			char s[32];
			snprintf(s, sizeof(s), "row %d", i);
			if (avro_get_long(&c) != (int64_t)i * 1000003 - 7)
				return -1;
			size_t n;
			const char *p = avro_get_bytes(&c, &n);
			if (n != strlen(s) || memcmp(p, s, n))
				return -1;
			if (avro_get_long(&c) != (i % 3 ? 1 : 0))
				return -1;
			if (i % 3 && avro_get_double(&c) != i / 4.0)
				return -1;
			int64_t items = avro_get_long(&c);
			if (items != i % 4)
				return -1;
			for (int j = 0; j < items; j++)
				if (avro_get_int(&c) != -j)
					return -1;
			if (items && avro_get_long(&c) != 0)
				return -1;
			if (memcmp(avro_get_fixed(&c, 2), "xy", 2) || avro_get_bool(&c) != (i & 1) ||
			    avro_get_float(&c) != (float)i || c.err)
				return -1;
		}
		if (c.p != c.end)
			return -1;
	}
	avro_reader_close(&r);
	buf_release(&out);
	return rc == 0 && i == 2000 && blocks > 10 ? 0 : -1;
}

TEST(avro_container_round_trip)
{
	CHECK_INT(round_trip(AVRO_CODEC_NULL), 0);
#ifdef SD_HAVE_ZLIB
	CHECK_INT(round_trip(AVRO_CODEC_DEFLATE), 0);
#else
	CHECK_INT(round_trip(AVRO_CODEC_DEFLATE), -2);
#endif
}

TEST(avro_empty_file_has_header)
{
	struct buf out = BUF_INIT;
	struct avro_writer *w = avro_writer_new(schema, AVRO_CODEC_NULL, to_buf, &out);
	avro_writer_meta(w, "k", "v");
	uint64_t size;
	CHECK_INT(avro_writer_close(w, &size), 0);
	CHECK_INT(size, out.len);
	avro_writer_free(w);
	struct avro_reader r;
	CHECK_INT(avro_reader_open(&r, out.p, out.len), 0);
	CHECK_STR(avro_reader_meta(&r, "avro.codec", NULL), "null");
	CHECK_STR(avro_reader_meta(&r, "k", NULL), "v");
	struct avro_cursor c;
	int64_t count;
	CHECK_INT(avro_reader_block(&r, &c, &count), 0);
	avro_reader_close(&r);
	/* a flipped byte in the magic is refused */
	out.p[0] = 'o';
	CHECK_INT(avro_reader_open(&r, out.p, out.len), -1);
	avro_reader_close(&r);
	buf_release(&out);
}

/* Every record field has "field-id", arrays "element-id", unions null first;
 * counts record names into *names (comma-joined). */
static int check_ids(json_t *t, struct buf *names)
{
	if (json_is_array(t)) {
		if (json_array_size(t) != 2 || strcmp(json_string_value(json_array_get(t, 0)) ?
						      json_string_value(json_array_get(t, 0)) : "",
						      "null"))
			return -1;
		return check_ids(json_array_get(t, 1), names);
	}
	if (!json_is_object(t))
		return 0;
	const char *type = json_string_value(json_object_get(t, "type"));
	if (type && !strcmp(type, "record")) {
		buf_addf(names, "%s,", json_string_value(json_object_get(t, "name")));
		size_t i;
		json_t *f;
		json_array_foreach(json_object_get(t, "fields"), i, f) {
			if (!json_is_integer(json_object_get(f, "field-id")))
				return -1;
			json_t *ft = json_object_get(f, "type");
			if (json_is_array(ft) && !json_is_null(json_object_get(f, "default")))
				return -1;
			if (check_ids(ft, names))
				return -1;
		}
	} else if (type && !strcmp(type, "array")) {
		int is_map = json_object_get(t, "logicalType") != NULL;
		if (!is_map && !json_is_integer(json_object_get(t, "element-id")))
			return -1;
		return check_ids(json_object_get(t, "items"), names);
	}
	return 0;
}

TEST(iceberg_schemas_carry_ids)
{
	json_error_t jerr;
	struct buf names = BUF_INIT, s = BUF_INIT;
	json_t *list = json_loads(avro_iceberg_manifest_list_schema, 0, &jerr);
	CHECK(list != NULL);
	CHECK_INT(check_ids(list, &names), 0);
	CHECK_STR(names.p, "manifest_file,r508,");
	CHECK_INT(json_array_size(json_object_get(list, "fields")), 15);
	json_decref(list);

	struct avro_partition_field pf[] = {
		{ "ts_day", 1000, "{\"type\":\"int\",\"logicalType\":\"date\"}" },
	};
	avro_iceberg_manifest_schema(&s, pf, 1);
	json_t *m = json_loads(s.p, 0, &jerr);
	CHECK(m != NULL);
	buf_reset(&names);
	CHECK_INT(check_ids(m, &names), 0);
	CHECK_STR(names.p, "manifest_entry,r2,r102,k117_v118,k119_v120,k121_v122,k138_v139,"
			   "k126_v127,k129_v130,");
	json_t *df = json_object_get(json_array_get(json_object_get(m, "fields"), 4), "type");
	CHECK_INT(json_array_size(json_object_get(df, "fields")), 17);
	json_decref(m);

	buf_reset(&s);
	avro_iceberg_manifest_schema(&s, NULL, 0);
	m = json_loads(s.p, 0, &jerr);
	CHECK(m != NULL);
	json_decref(m);
	buf_release(&s);
	buf_release(&names);
}
