/*
 * test_debezium — the Debezium envelope's value mappings, on hand-built
 * encodings. Expected values are those of Debezium's MySQL connector with its
 * defaults (the documentation's own examples where it has one: DATETIME
 * 2018-06-20 06:37:03 -> 1529476623000, BIT(n) little-endian).
 */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>

#include "buf.h"
#include "debezium.h"
#include "encode.h"

/* Renders one encoded value of column col through the Debezium mapping. */
static char *render(const struct sd_column *col, const struct buf *enc)
{
	static char out[512];
	struct buf b = BUF_INIT;
	const unsigned char *p = (const unsigned char *)enc->p;
	struct enc_value v;
	if (enc_get(&p, p + enc->len, &v) < 0)
		snprintf(out, sizeof(out), "<malformed>");
	else {
		dbz_render_value_of(&b, col, &v);
		snprintf(out, sizeof(out), "%s", b.p ? b.p : "");
	}
	buf_release(&b);
	return out;
}

static char *dec(const char *text, unsigned scale)
{
	static char out[256];
	struct buf b = BUF_INIT;
	if (dbz_decimal_base64(&b, text, strlen(text), scale) < 0)
		snprintf(out, sizeof(out), "<error>");
	else
		snprintf(out, sizeof(out), "%s", b.p);
	buf_release(&b);
	return out;
}

TEST(debezium_decimal_unscaled_twos_complement)
{
	CHECK_STR(dec("-12.50", 2), "\"+x4=\"");
	CHECK_STR(dec("0.00", 2), "\"AA==\"");
	CHECK_STR(dec("1.00", 2), "\"ZA==\"");
	CHECK_STR(dec("128", 0), "\"AIA=\"");
	CHECK_STR(dec("-128", 0), "\"gA==\"");
	CHECK_STR(dec("-129", 0), "\"/38=\"");
	CHECK_STR(dec("2.55", 2), "\"AP8=\"");
	CHECK_STR(dec("-327.68", 2), "\"gAA=\"");
	CHECK_STR(dec("-0.00", 2), "\"AA==\"");
	/* fewer fraction digits than the scale are padded */
	CHECK_STR(dec("1", 2), "\"ZA==\"");
	/* DECIMAL(65,0) at both ends of the range */
	CHECK_STR(dec("12345678901234567890123456789012345678901234567890123456789012345", 0),
		  "\"HgK8HpeFi9xsuVBY80JUf/dgXMwCvHTx4t95\"");
	CHECK_STR(dec("-99999999999999999999999999999999999999999999999999999999999999999", 0),
		  "\"/wzp2OOAPG91dBC5sca6EIXayfYAAAAAAAAAAQ==\"");
	CHECK_STR(dec("1.2x", 1), "<error>");
	CHECK_STR(dec("-", 0), "<error>");
	CHECK_STR(dec("1.25", 1), "<error>");
}

TEST(debezium_temporal)
{
	struct sd_column col = { .name = (char *)"c" };
	struct buf enc = BUF_INIT;

	struct enc_time d = { .year = 2024, .month = 2, .day = 29 };
	enc_put_time(&enc, ENC_DATE, &d);
	CHECK_STR(render(&col, &enc), "19782");
	buf_reset(&enc);
	struct enc_time d0 = { .year = 1, .month = 1, .day = 1 };
	enc_put_time(&enc, ENC_DATE, &d0);
	CHECK_STR(render(&col, &enc), "-719162");

	/* DATETIME(0..3): epoch milliseconds, no time zone applied */
	buf_reset(&enc);
	struct enc_time dt = { 2018, 6, 20, 6, 37, 3, 0, false };
	enc_put_time(&enc, ENC_DATETIME, &dt);
	col.fsp = 0;
	CHECK_STR(render(&col, &enc), "1529476623000");
	buf_reset(&enc);
	struct enc_time dt3 = { 2018, 6, 20, 6, 37, 3, 123000, false };
	enc_put_time(&enc, ENC_DATETIME, &dt3);
	col.fsp = 3;
	CHECK_STR(render(&col, &enc), "1529476623123");
	/* DATETIME(4..6): epoch microseconds */
	buf_reset(&enc);
	struct enc_time dt6 = { 2024, 6, 15, 12, 34, 56, 123456, false };
	enc_put_time(&enc, ENC_DATETIME, &dt6);
	col.fsp = 6;
	CHECK_STR(render(&col, &enc), "1718454896123456");
	buf_reset(&enc);
	struct enc_time old = { 1969, 12, 31, 23, 59, 59, 500000, false };
	enc_put_time(&enc, ENC_DATETIME, &old);
	col.fsp = 6;
	CHECK_STR(render(&col, &enc), "-500000");

	/* TIMESTAMP: ISO-8601 UTC, fraction padded to the column's precision */
	buf_reset(&enc);
	struct enc_time ts = { 2018, 6, 20, 13, 37, 3, 0, false };
	enc_put_time(&enc, ENC_TIMESTAMP, &ts);
	col.fsp = 0;
	CHECK_STR(render(&col, &enc), "\"2018-06-20T13:37:03Z\"");
	col.fsp = 6;
	CHECK_STR(render(&col, &enc), "\"2018-06-20T13:37:03.000000Z\"");
	buf_reset(&enc);
	struct enc_time ts3 = { 2018, 6, 20, 13, 37, 3, 120000, false };
	enc_put_time(&enc, ENC_TIMESTAMP, &ts3);
	col.fsp = 3;
	CHECK_STR(render(&col, &enc), "\"2018-06-20T13:37:03.120Z\"");

	/* TIME: signed microseconds */
	buf_reset(&enc);
	struct enc_time tm = { .hour = 838, .minute = 59, .second = 59, .neg = true };
	enc_put_time(&enc, ENC_TIME, &tm);
	CHECK_STR(render(&col, &enc), "-3020399000000");
	buf_reset(&enc);
	struct enc_time tm2 = { .hour = 1, .minute = 2, .second = 3, .usec = 4 };
	enc_put_time(&enc, ENC_TIME, &tm2);
	CHECK_STR(render(&col, &enc), "3723000004");

	/* zero dates: null when nullable, the epoch otherwise */
	buf_reset(&enc);
	struct enc_time z = { 0 };
	enc_put_time(&enc, ENC_DATETIME, &z);
	col.nullable = true;
	CHECK_STR(render(&col, &enc), "null");
	col.nullable = false;
	CHECK_STR(render(&col, &enc), "0");
	buf_reset(&enc);
	enc_put_time(&enc, ENC_TIMESTAMP, &z);
	col.fsp = 0;
	CHECK_STR(render(&col, &enc), "\"1970-01-01T00:00:00Z\"");
	buf_release(&enc);
}

TEST(debezium_numbers_bits_strings)
{
	struct sd_column col = { .name = (char *)"c" };
	struct buf enc = BUF_INIT;

	enc_put_int(&enc, -42);
	CHECK_STR(render(&col, &enc), "-42");
	buf_reset(&enc);
	/* bigint.unsigned.handling.mode=long wraps like a Java long */
	enc_put_uint(&enc, UINT64_MAX);
	CHECK_STR(render(&col, &enc), "-1");
	buf_reset(&enc);
	enc_put_uint(&enc, 4294967295u);
	CHECK_STR(render(&col, &enc), "4294967295");
	buf_reset(&enc);
	enc_put_double(&enc, 0.1);
	CHECK_STR(render(&col, &enc), "0.1");
	buf_reset(&enc);
	enc_put_float(&enc, 1.5f);
	CHECK_STR(render(&col, &enc), "1.5");
	buf_reset(&enc);
	enc_put_year(&enc, 2155);
	CHECK_STR(render(&col, &enc), "2155");

	/* BIT(1) is a boolean; BIT(n>1) little-endian bytes, ceil(n/8) long */
	buf_reset(&enc);
	enc_put_bit(&enc, 1);
	col.bits = 1;
	CHECK_STR(render(&col, &enc), "true");
	buf_reset(&enc);
	enc_put_bit(&enc, 0);
	CHECK_STR(render(&col, &enc), "false");
	buf_reset(&enc);
	enc_put_bit(&enc, 0x0102);
	col.bits = 16;
	CHECK_STR(render(&col, &enc), "\"AgE=\"");
	buf_reset(&enc);
	enc_put_bit(&enc, 0x3ff);
	col.bits = 10;
	CHECK_STR(render(&col, &enc), "\"/wM=\"");

	/* binary strings are base64 whatever their content; text stays text */
	buf_reset(&enc);
	enc_put_str(&enc, ENC_BYTES, "abcd", 4);
	CHECK_STR(render(&col, &enc), "\"YWJjZA==\"");
	buf_reset(&enc);
	enc_put_str(&enc, ENC_BYTES, "", 0);
	CHECK_STR(render(&col, &enc), "\"\"");
	buf_reset(&enc);
	enc_put_str(&enc, ENC_TEXT, "Zürich \"q\"", 11);
	CHECK_STR(render(&col, &enc), "\"Zürich \\\"q\\\"\"");
	buf_reset(&enc);
	enc_put_str(&enc, ENC_SET, "a,b", 3);
	CHECK_STR(render(&col, &enc), "\"a,b\"");
	buf_reset(&enc);
	enc_put_str(&enc, ENC_JSON, "{\"k\":1}", 7);
	CHECK_STR(render(&col, &enc), "\"{\\\"k\\\":1}\"");
	buf_reset(&enc);
	enc_put_str(&enc, ENC_DECIMAL, "-12.50", 6);
	col.scale = 2;
	CHECK_STR(render(&col, &enc), "\"+x4=\"");
	buf_reset(&enc);
	enc_put_null(&enc);
	CHECK_STR(render(&col, &enc), "null");
	buf_release(&enc);
}

/* A two-column table (id INT UNSIGNED primary key, title VARBINARY) and an
 * update event: before/after, op, source. */
TEST(debezium_envelope_update_and_snapshot)
{
	struct sd_column cols[2] = {
		{ .name = (char *)"page_id", .kind = ENC_UINT, .is_unsigned = true, .pk_pos = 1 },
		{ .name = (char *)"page_title", .kind = ENC_BYTES },
	};
	size_t pk[1] = { 0 };
	struct sd_table t = { .db = (char *)"enwiki", .name = (char *)"page", .cols = cols,
			      .ncols = 2, .nhashed = 2, .pk = pk, .npk = 1 };
	struct sd_run_info run = { .run_id = "enwiki.page.7", .db = "enwiki", .tbl = "page",
				   .generation = 7, .table = &t, .gtid_binlog_pos = "0-1-42",
				   .gtid_current_pos = "0-1-42",
				   .snapshot_time = "2024-01-02T03:04:05Z",
				   .snapshot_ms = 1704164645000 };
	struct buf key = BUF_INIT, before = BUF_INIT, after = BUF_INIT, out = BUF_INIT;
	enc_put_uint(&key, 5);
	enc_put_uint(&before, 5);
	enc_put_str(&before, ENC_BYTES, "Old", 3);
	enc_put_uint(&after, 5);
	enc_put_str(&after, ENC_BYTES, "New", 3);
	struct sd_change c = { .op = SD_OP_UPDATE,
			       .key = (const unsigned char *)key.p, .key_len = key.len,
			       .before = (const unsigned char *)before.p, .before_len = before.len,
			       .after = (const unsigned char *)after.p, .after_len = after.len };
	for (int i = 0; i < 16; i++)
		c.id[i] = (unsigned char)i;

	CHECK_INT(dbz_render_value(&out, &run, &c, "snapdiff", DBZ_SNAPSHOT_FALSE, 1700000000123), 0);
	CHECK_STR(out.p,
		  "{\"before\":{\"page_id\":5,\"page_title\":\"T2xk\"},"
		  "\"after\":{\"page_id\":5,\"page_title\":\"TmV3\"},"
		  "\"source\":{\"version\":\"" "0.1.0" "\",\"connector\":\"snapdiff\","
		  "\"name\":\"snapdiff\",\"ts_ms\":1704164645000,\"snapshot\":\"false\","
		  "\"db\":\"enwiki\",\"sequence\":null,\"table\":\"page\",\"server_id\":0,"
		  "\"gtid\":\"0-1-42\",\"file\":\"\",\"pos\":0,\"row\":0,\"thread\":null,"
		  "\"query\":null,\"snapdiff_run_id\":\"enwiki.page.7\",\"snapdiff_generation\":7,"
		  "\"snapdiff_event_id\":\"000102030405060708090a0b0c0d0e0f\"},"
		  "\"op\":\"u\",\"ts_ms\":1700000000123,\"transaction\":null}");

	buf_reset(&out);
	CHECK_INT(dbz_render_key(&out, &t, c.key, c.key_len), 0);
	CHECK_STR(out.p, "{\"page_id\":5}");

	/* initial load: "r" and no before */
	c.op = SD_OP_INSERT;
	c.snapshot = true;
	buf_reset(&out);
	CHECK_INT(dbz_render_value(&out, &run, &c, "p", DBZ_SNAPSHOT_LAST, 1), 0);
	CHECK(strstr(out.p, "{\"before\":null,\"after\":{") == out.p);
	CHECK(strstr(out.p, "\"snapshot\":\"last\"") != NULL);
	CHECK(strstr(out.p, "\"op\":\"r\"") != NULL);

	/* delete: before only */
	c.op = SD_OP_DELETE;
	c.snapshot = false;
	c.after = NULL;
	c.after_len = 0;
	buf_reset(&out);
	CHECK_INT(dbz_render_value(&out, &run, &c, "p", DBZ_SNAPSHOT_FALSE, 1), 0);
	CHECK(strstr(out.p, "{\"before\":{\"page_id\":5,\"page_title\":\"T2xk\"},\"after\":null,") ==
	      out.p);
	CHECK(strstr(out.p, "\"op\":\"d\"") != NULL);

	/* a truncated row is reported, not rendered */
	buf_reset(&out);
	CHECK_INT(dbz_render_row(&out, &t, c.before, c.before_len - 1), -1);

	buf_release(&key);
	buf_release(&before);
	buf_release(&after);
	buf_release(&out);
}
