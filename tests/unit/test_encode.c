/*
 * Unit tests for the canonical encoding (encode.c), the packed chunk lists
 * and merge index (diff.c), the spool and the native event rendering.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "harness.h"

#include "diff.h"
#include "encode.h"
#include "event.h"
#include "spool.h"
#include "table.h"

static int roundtrip_ok(struct buf *b, struct enc_value *out)
{
	const unsigned char *p = (const unsigned char *)b->p;
	if (enc_get(&p, p + b->len, out) < 0)
		return 0;
	return p == (const unsigned char *)b->p + b->len;
}

TEST(encode_null_differs_from_empty_string)
{
	struct buf a = BUF_INIT, b = BUF_INIT;
	enc_put_null(&a);
	enc_put_str(&b, ENC_BYTES, "", 0);
	CHECK(a.len != b.len || memcmp(a.p, b.p, a.len) != 0);
	unsigned char ha[16], hb[16];
	enc_hash128(a.p, a.len, ha);
	enc_hash128(b.p, b.len, hb);
	CHECK(memcmp(ha, hb, 16) != 0);
	buf_release(&a);
	buf_release(&b);
}

TEST(encode_signed_differs_from_unsigned)
{
	struct buf a = BUF_INIT, b = BUF_INIT;
	enc_put_int(&a, 5);
	enc_put_uint(&b, 5);
	CHECK(memcmp(a.p, b.p, a.len) != 0);
	struct enc_value v;
	CHECK(roundtrip_ok(&a, &v));
	CHECK_INT(v.kind, ENC_INT);
	CHECK_INT(v.v.i, 5);
	buf_release(&a);
	buf_release(&b);
}

TEST(encode_integer_extremes_roundtrip)
{
	int64_t ints[] = { INT64_MIN, -1, 0, 1, INT64_MAX };
	for (size_t i = 0; i < 5; i++) {
		struct buf b = BUF_INIT;
		struct enc_value v;
		enc_put_int(&b, ints[i]);
		CHECK(roundtrip_ok(&b, &v));
		CHECK(v.v.i == ints[i]);
		buf_release(&b);
	}
	struct buf b = BUF_INIT;
	struct enc_value v;
	enc_put_uint(&b, UINT64_MAX);
	CHECK(roundtrip_ok(&b, &v));
	CHECK(v.v.u == UINT64_MAX);
	buf_reset(&b);
	enc_value_json(&b, &v, 0);
	CHECK_STR(b.p, "18446744073709551615");
	buf_release(&b);
}

TEST(encode_double_bit_exact)
{
	double ds[] = { 0.1, -0.0, 0.0, 1e308, 5e-324, 0.30000000000000004, 3.141592653589793 };
	for (size_t i = 0; i < sizeof(ds) / sizeof(ds[0]); i++) {
		struct buf b = BUF_INIT;
		struct enc_value v;
		enc_put_double(&b, ds[i]);
		CHECK(roundtrip_ok(&b, &v));
		CHECK(memcmp(&v.v.d, &ds[i], 8) == 0);
		/* JSON text must read back as the same bits */
		struct buf j = BUF_INIT;
		enc_value_json(&j, &v, 0);
		double back = strtod(j.p, NULL);
		CHECK(memcmp(&back, &ds[i], 8) == 0);
		buf_release(&j);
		buf_release(&b);
	}
	/* 0.0 and -0.0 are different values for the hash */
	struct buf a = BUF_INIT, z = BUF_INIT;
	enc_put_double(&a, 0.0);
	enc_put_double(&z, -0.0);
	CHECK(memcmp(a.p, z.p, a.len) != 0);
	buf_release(&a);
	buf_release(&z);
}

TEST(encode_float_shortest_json)
{
	struct buf b = BUF_INIT, j = BUF_INIT;
	struct enc_value v;
	enc_put_float(&b, 0.1f);
	CHECK(roundtrip_ok(&b, &v));
	enc_value_json(&j, &v, 0);
	CHECK_STR(j.p, "0.1");
	CHECK(strtof(j.p, NULL) == 0.1f);
	buf_release(&b);
	buf_release(&j);
}

TEST(encode_binary_json_rule)
{
	struct buf b = BUF_INIT, j = BUF_INIT;
	struct enc_value v;
	enc_put_str(&b, ENC_BYTES, "Main_Page_\xc3\xa9", 12);
	CHECK(roundtrip_ok(&b, &v));
	enc_value_json(&j, &v, 0);
	CHECK_STR(j.p, "\"Main_Page_\xc3\xa9\"");
	buf_reset(&b);
	buf_reset(&j);
	enc_put_str(&b, ENC_BYTES, "\xff\x00""a", 3);
	CHECK(roundtrip_ok(&b, &v));
	CHECK_INT(v.v.s.len, 3);
	enc_value_json(&j, &v, 0);
	CHECK_STR(j.p, "{\"base64\":\"/wBh\"}");
	buf_reset(&b);
	buf_reset(&j);
	/* valid UTF-8 with control characters and NUL stays a string, escaped */
	enc_put_str(&b, ENC_TEXT, "a\"\\\n\x01", 5);
	CHECK(roundtrip_ok(&b, &v));
	enc_value_json(&j, &v, 0);
	CHECK_STR(j.p, "\"a\\\"\\\\\\n\\u0001\"");
	buf_release(&b);
	buf_release(&j);
}

TEST(utf8_validation)
{
	CHECK(utf8_valid("abc", 3));
	CHECK(utf8_valid("\xe2\x82\xac", 3));
	CHECK(utf8_valid("\xf0\x9f\x98\x80", 4));
	CHECK(!utf8_valid("\xc0\xaf", 2));          /* overlong */
	CHECK(!utf8_valid("\xed\xa0\x80", 3));      /* surrogate */
	CHECK(!utf8_valid("\xe2\x82", 2));          /* truncated */
	CHECK(!utf8_valid("\xf4\x90\x80\x80", 4));  /* > U+10FFFF */
}

TEST(encode_temporal_text)
{
	struct buf b = BUF_INIT, j = BUF_INIT;
	struct enc_value v;
	struct enc_time t = { 2024, 2, 29, 23, 59, 58, 123456, false };
	enc_put_time(&b, ENC_DATETIME, &t);
	CHECK(roundtrip_ok(&b, &v));
	enc_value_json(&j, &v, 6);
	CHECK_STR(j.p, "\"2024-02-29T23:59:58.123456\"");
	buf_reset(&j);
	enc_value_json(&j, &v, 3);
	CHECK_STR(j.p, "\"2024-02-29T23:59:58.123\"");
	buf_reset(&b);
	buf_reset(&j);
	enc_put_time(&b, ENC_TIMESTAMP, &t);
	CHECK(roundtrip_ok(&b, &v));
	enc_value_json(&j, &v, 0);
	CHECK_STR(j.p, "\"2024-02-29T23:59:58Z\"");
	buf_reset(&b);
	buf_reset(&j);
	struct enc_time tt = { 0, 0, 0, 838, 59, 59, 0, true };
	enc_put_time(&b, ENC_TIME, &tt);
	CHECK(roundtrip_ok(&b, &v));
	enc_value_json(&j, &v, 0);
	CHECK_STR(j.p, "\"-838:59:59\"");
	buf_release(&b);
	buf_release(&j);
}

TEST(encode_malformed_is_rejected)
{
	const unsigned char bad1[] = { ENC_INT, 1, 2 };             /* short */
	const unsigned char bad2[] = { ENC_BYTES, 5, 'a' };         /* length past end */
	const unsigned char bad3[] = { 99 };                        /* unknown tag */
	struct enc_value v;
	const unsigned char *p = bad1;
	CHECK(enc_get(&p, bad1 + sizeof(bad1), &v) < 0);
	p = bad2;
	CHECK(enc_get(&p, bad2 + sizeof(bad2), &v) < 0);
	p = bad3;
	CHECK(enc_get(&p, bad3 + sizeof(bad3), &v) < 0);
}

static void key_of(struct buf *b, int64_t k)
{
	buf_reset(b);
	enc_put_uint(b, (uint64_t)k);
}

TEST(pack_roundtrip_and_index)
{
	struct pack p;
	pack_init(&p, true);
	struct buf k = BUF_INIT, row = BUF_INIT, blob = BUF_INIT;
	unsigned char h[16];
	for (int i = 0; i < 1000; i++) {
		key_of(&k, i * 3);
		buf_reset(&row);
		buf_add(&row, k.p, k.len);
		enc_put_str(&row, ENC_BYTES, "x", 1);
		enc_hash128(row.p, row.len, h);
		pack_add(&p, (unsigned char *)k.p, k.len, h, (unsigned char *)row.p, row.len);
	}
	CHECK_INT(p.rows, 1000);
	pack_blob(&p, &blob);
	struct pack_index ix;
	CHECK(pack_index_build(&ix, (unsigned char *)blob.p, blob.len) == 0);
	CHECK_INT(ix.n, 1000);
	/* in-order lookups use the fast path; out-of-order ones the hash table */
	key_of(&k, 0);
	CHECK(pack_index_find(&ix, (unsigned char *)k.p, k.len) == &ix.e[0]);
	key_of(&k, 3);
	CHECK(pack_index_find(&ix, (unsigned char *)k.p, k.len) == &ix.e[1]);
	key_of(&k, 2997);
	struct pack_entry *en = pack_index_find(&ix, (unsigned char *)k.p, k.len);
	CHECK(en == &ix.e[999]);
	CHECK(en->image != NULL);
	key_of(&k, 4);
	CHECK(pack_index_find(&ix, (unsigned char *)k.p, k.len) == NULL);
	/* a corrupt blob is refused, not trusted */
	pack_index_release(&ix);
	CHECK(pack_index_build(&ix, (unsigned char *)blob.p, blob.len - 5) < 0);
	blob.p[0] = 'X';
	CHECK(pack_index_build(&ix, (unsigned char *)blob.p, blob.len) < 0);
	pack_release(&p);
	buf_release(&k);
	buf_release(&row);
	buf_release(&blob);
}

TEST(pack_agg_depends_on_content_and_order)
{
	struct pack a, b;
	pack_init(&a, false);
	pack_init(&b, false);
	unsigned char h1[16] = { 1 }, h2[16] = { 2 }, ga[16], gb[16];
	pack_add(&a, (const unsigned char *)"k1", 2, h1, NULL, 0);
	pack_add(&a, (const unsigned char *)"k2", 2, h2, NULL, 0);
	pack_add(&b, (const unsigned char *)"k2", 2, h2, NULL, 0);
	pack_add(&b, (const unsigned char *)"k1", 2, h1, NULL, 0);
	pack_agg(&a, ga);
	pack_agg(&b, gb);
	CHECK(memcmp(ga, gb, 16) != 0);
	pack_reset(&b);
	pack_add(&b, (const unsigned char *)"k1", 2, h1, NULL, 0);
	pack_add(&b, (const unsigned char *)"k2", 2, h2, NULL, 0);
	pack_agg(&b, gb);
	CHECK_MEM(ga, gb, 16);
	pack_release(&a);
	pack_release(&b);
}

TEST(event_ids_are_deterministic)
{
	unsigned char a[16], b[16], c[16], h1[16] = { 1 }, h2[16] = { 2 };
	diff_event_id("enwiki", "page", 3, SD_OP_UPDATE, (const unsigned char *)"k", 1, h1, h2, a);
	diff_event_id("enwiki", "page", 3, SD_OP_UPDATE, (const unsigned char *)"k", 1, h1, h2, b);
	CHECK_MEM(a, b, 16);
	diff_event_id("enwiki", "page", 4, SD_OP_UPDATE, (const unsigned char *)"k", 1, h1, h2, c);
	CHECK(memcmp(a, c, 16) != 0);
	diff_event_id("dewiki", "page", 3, SD_OP_UPDATE, (const unsigned char *)"k", 1, h1, h2, c);
	CHECK(memcmp(a, c, 16) != 0);
	diff_event_id("enwiki", "page", 3, SD_OP_UPDATE, (const unsigned char *)"k", 1, h2, h1, c);
	CHECK(memcmp(a, c, 16) != 0);
}

TEST(spool_roundtrip)
{
	char dir[] = "/tmp/sdspoolXXXXXX";
	CHECK(mkdtemp(dir) != NULL);
	struct spool *s;
	struct sderr e;
	CHECK(spool_create(dir, "db.t.1", &s, &e) == SD_OK);
	for (int i = 0; i < 5000; i++) {
		char key[16];
		snprintf(key, sizeof(key), "k%d", i);
		struct sd_change c = { .op = (enum sd_op)(1 + i % 3), .snapshot = i % 2,
				       .key = (const unsigned char *)key, .key_len = strlen(key),
				       .after = i % 3 == 2 ? NULL : (const unsigned char *)"after",
				       .after_len = i % 3 == 2 ? 0 : 5 };
		c.id[0] = (unsigned char)i;
		CHECK(spool_add(s, &c, &e) == SD_OK);
	}
	CHECK_INT(spool_count(s), 5000);
	CHECK(spool_rewind(s, &e) == SD_OK);
	struct sd_change c;
	int i = 0, r;
	while ((r = spool_next(s, &c, &e)) > 0) {
		char key[16];
		snprintf(key, sizeof(key), "k%d", i);
		CHECK_INT(c.op, 1 + i % 3);
		CHECK_INT(c.key_len, strlen(key));
		CHECK(memcmp(c.key, key, c.key_len) == 0);
		CHECK_INT(c.id[0], (unsigned char)i);
		CHECK((c.after == NULL) == (i % 3 == 2));
		CHECK(c.before == NULL);
		i++;
	}
	CHECK_INT(r, 0);
	CHECK_INT(i, 5000);
	spool_destroy(s);
	CHECK(rmdir(dir) == 0); /* the spool file is gone */
}

TEST(native_event_rendering)
{
	struct sd_column cols[2] = {
		{ .name = (char *)"page_id", .kind = ENC_UINT, .pk_pos = 1 },
		{ .name = (char *)"page_title", .kind = ENC_BYTES },
	};
	size_t pk[1] = { 0 };
	struct sd_table t = { .db = (char *)"enwiki", .name = (char *)"page", .cols = cols, .ncols = 2,
			      .nhashed = 2, .pk = pk, .npk = 1 };
	struct buf row = BUF_INIT, key = BUF_INIT, out = BUF_INIT;
	enc_put_uint(&key, 42);
	buf_add(&row, key.p, key.len);
	enc_put_str(&row, ENC_BYTES, "Foo", 3);
	struct sd_run_info run = { .run_id = "enwiki.page.2", .db = "enwiki", .tbl = "page", .table = &t,
				   .gtid_binlog_pos = "0-1-7", .gtid_current_pos = "0-1-7",
				   .snapshot_time = "2026-01-01T00:00:00.000000Z", .snapshot_ms = 1767225600000 };
	struct sd_change c = { .op = SD_OP_INSERT, .key = (unsigned char *)key.p, .key_len = key.len,
			       .after = (unsigned char *)row.p, .after_len = row.len };
	memset(c.id, 0xab, 16);
	event_render_native(&out, &run, &c);
	CHECK_STR(out.p, "{\"id\":\"abababababababababababababababab\",\"op\":\"insert\",\"snapshot\":false,"
			 "\"database\":\"enwiki\",\"table\":\"page\",\"run_id\":\"enwiki.page.2\","
			 "\"key\":{\"page_id\":42},\"after\":{\"page_id\":42,\"page_title\":\"Foo\"},"
			 "\"lineage\":{\"gtid_binlog_pos\":\"0-1-7\",\"gtid_current_pos\":\"0-1-7\","
			 "\"snapshot_time\":\"2026-01-01T00:00:00.000000Z\",\"snapshot_ms\":1767225600000}}");
	buf_release(&row);
	buf_release(&key);
	buf_release(&out);
}
