/*
 * Unit tests for lake/thrift.c and lake/parquet.c: compact-protocol bytes of
 * hand-checked structs, the RLE/bit-packing hybrid (against Encodings.md's
 * example and a round trip through a small decoder written here), decimal
 * widths and parsing, the Iceberg bounds the writer reports, and its error
 * paths. Reading whole files back is left to tests/lake/ (pyarrow, DuckDB).
 */
#include "harness.h"
#include "lake/parquet.h"
#include "lake/thrift.h"

#include <math.h>
#include <stdlib.h>

TEST(thrift_compact_fields)
{
	struct buf b = BUF_INIT;
	struct tc t;
	tc_init(&t, &b);
	tc_struct_begin(&t);
	tc_field_i32(&t, 1, 1);           /* 0x15 0x02 */
	tc_field_i64(&t, 3, -1);          /* delta 2, type 6: 0x26 0x01 */
	tc_field_bool(&t, 4, 1);          /* 0x11 */
	tc_field_i32(&t, 20, 150);        /* delta 16: long form 0x05, zigzag id 40, 300 */
	tc_field_struct(&t, 21);          /* 0x1c */
	tc_field_i32(&t, 1, -3);          /* nested ids restart: 0x15 0x05 */
	tc_struct_end(&t);                /* 0x00 */
	tc_field_binary(&t, 22, "ab", 2); /* delta from 21 restored: 0x18 0x02 a b */
	tc_field_list(&t, 23, TC_I32, 3); /* 0x19 0x35 */
	tc_elem_i32(&t, 0);
	tc_elem_i32(&t, -1);
	tc_elem_i32(&t, 64);              /* 0x80 0x01 */
	tc_field_double(&t, 24, 1.0);     /* 0x17 + LE bytes */
	tc_field_bool(&t, 25, 0);         /* 0x12 */
	tc_struct_end(&t);
	static const unsigned char want[] = {
		0x15, 0x02, 0x26, 0x01, 0x11, 0x05, 0x28, 0xac, 0x02, 0x1c, 0x15, 0x05, 0x00,
		0x18, 0x02, 'a', 'b', 0x19, 0x35, 0x00, 0x01, 0x80, 0x01,
		0x17, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f, 0x12, 0x00,
	};
	CHECK_INT(b.len, sizeof(want));
	CHECK_MEM(b.p, want, sizeof(want));
	buf_release(&b);
}

TEST(thrift_long_list_header)
{
	struct buf b = BUF_INIT;
	struct tc t;
	tc_init(&t, &b);
	tc_struct_begin(&t);
	tc_field_list(&t, 2, TC_STRUCT, 15);
	CHECK_INT(b.len, 3);
	CHECK_INT((unsigned char)b.p[0], 0x29);
	CHECK_INT((unsigned char)b.p[1], 0xfc);
	CHECK_INT((unsigned char)b.p[2], 15);
	CHECK_INT(tc_zigzag64(INT64_MIN), UINT64_MAX);
	CHECK_INT(tc_zigzag64(-2), 3);
	buf_release(&b);
}

/* A reference decoder for the hybrid encoding, straight from Encodings.md. */
static int rle_decode(const unsigned char *p, size_t len, int bw, uint32_t *out, size_t n)
{
	const unsigned char *end = p + len;
	size_t got = 0, vbytes = (size_t)(bw + 7) / 8;
	while (got < n) {
		uint64_t h;
		if (varint_get(&p, end, &h))
			return -1;
		if (h & 1) {
			size_t count = (size_t)(h >> 1) * 8;
			uint64_t acc = 0;
			int nbits = 0;
			for (size_t i = 0; i < count; i++) {
				while (nbits < bw) {
					if (p >= end)
						return -1;
					acc |= (uint64_t)*p++ << nbits;
					nbits += 8;
				}
				if (got < n)
					out[got++] = (uint32_t)(acc & ((1ull << bw) - 1));
				acc >>= bw;
				nbits -= bw;
			}
		} else {
			size_t count = (size_t)(h >> 1);
			uint32_t v = 0;
			if ((size_t)(end - p) < vbytes)
				return -1;
			for (size_t k = 0; k < vbytes; k++)
				v |= (uint32_t)*p++ << (8 * k);
			for (size_t i = 0; i < count && got < n; i++)
				out[got++] = v;
		}
	}
	return p == end ? 0 : -1;
}

TEST(rle_hybrid_known_bytes)
{
	struct buf b = BUF_INIT;
	/* Encodings.md: 0..7 at bit width 3 bit-packed is 0x88 0xC6 0xFA. */
	uint32_t seq[8] = { 0, 1, 2, 3, 4, 5, 6, 7 };
	pq_rle_hybrid(&b, seq, 8, 3);
	static const unsigned char want1[] = { 0x03, 0x88, 0xc6, 0xfa };
	CHECK_INT(b.len, sizeof(want1));
	CHECK_MEM(b.p, want1, sizeof(want1));

	/* 10 ones at width 1: one RLE run, header 10 << 1, one value byte. */
	uint32_t ones[10] = { 1, 1, 1, 1, 1, 1, 1, 1, 1, 1 };
	buf_reset(&b);
	pq_rle_hybrid(&b, ones, 10, 1);
	static const unsigned char want2[] = { 0x14, 0x01 };
	CHECK_INT(b.len, 2);
	CHECK_MEM(b.p, want2, 2);

	/* 3 values, padded to a group of 8: 0,1,1 -> 0b110 */
	uint32_t mix[3] = { 0, 1, 1 };
	buf_reset(&b);
	pq_rle_hybrid(&b, mix, 3, 1);
	static const unsigned char want3[] = { 0x03, 0x06 };
	CHECK_INT(b.len, 2);
	CHECK_MEM(b.p, want3, 2);

	/* Width 0 (a one-entry dictionary): runs carry no value bytes. */
	uint32_t zeros[20] = { 0 };
	buf_reset(&b);
	pq_rle_hybrid(&b, zeros, 20, 0);
	CHECK_INT(b.len, 1);
	CHECK_INT((unsigned char)b.p[0], 40);
	buf_release(&b);
}

TEST(rle_hybrid_round_trip)
{
	static uint32_t vals[5000], back[5000];
	struct buf b = BUF_INIT;
	unsigned seed = 12345;
	for (int bw = 1; bw <= 20; bw += 3) {
		for (size_t n = 1; n <= 5000; n = n * 3 + 1) {
			for (size_t i = 0; i < n; i++) {
				seed = seed * 1103515245u + 12345u;
				/* runs of varying length so both run kinds occur */
				vals[i] = (i && (seed >> 16) % 4) ? vals[i - 1]
								  : (seed >> 8) & ((1u << bw) - 1);
			}
			buf_reset(&b);
			pq_rle_hybrid(&b, vals, n, bw);
			CHECK_INT(rle_decode((unsigned char *)b.p, b.len, bw, back, n), 0);
			CHECK_MEM(back, vals, n * sizeof(uint32_t));
		}
	}
	buf_release(&b);
}

TEST(decimal_widths)
{
	CHECK_INT(pq_decimal_bytes(1), 1);
	CHECK_INT(pq_decimal_bytes(2), 1);
	CHECK_INT(pq_decimal_bytes(3), 2);
	CHECK_INT(pq_decimal_bytes(9), 4);
	CHECK_INT(pq_decimal_bytes(10), 5);
	CHECK_INT(pq_decimal_bytes(18), 8);
	CHECK_INT(pq_decimal_bytes(19), 9);
	CHECK_INT(pq_decimal_bytes(20), 9);
	CHECK_INT(pq_decimal_bytes(38), 16);
	CHECK_INT(pq_decimal_bytes(39), -1);
}

static int to_buf(void *ctx, const void *p, size_t n)
{
	buf_add(ctx, p, n);
	return 0;
}

TEST(parquet_bounds_and_layout)
{
	struct pq_column_spec cols[] = {
		{ .name = "d", .field_id = 1, .kind = PQ_DECIMAL, .precision = 5, .scale = 1 },
		{ .name = "f", .field_id = 2, .kind = PQ_FLOAT, .optional = 1 },
		{ .name = "s", .field_id = 3, .kind = PQ_STRING },
		{ .name = "u", .field_id = 4, .kind = PQ_INT, .bits = 64, .is_unsigned = 1 },
		{ .name = "big", .field_id = 5, .kind = PQ_DECIMAL, .precision = 20, .scale = 0 },
		{ .name = "n", .field_id = 6, .kind = PQ_INT64, .optional = 1 },
	};
	struct buf out = BUF_INIT;
	char err[256];
	struct pq_options opt = { .codec = PQ_SNAPPY };
	struct pq_writer *w = pq_open(cols, 6, &opt, to_buf, &out, err, sizeof(err));
	CHECK(w != NULL);
	CHECK_INT(pq_column_physical(w, 0), PQ_PHYS_INT32);
	CHECK_INT(pq_column_physical(w, 4), PQ_PHYS_FIXED);
	const char *dec[] = { "1.5", "-2", "0.0" };
	float fl[] = { 0.0f, -0.0f, NAN };
	const char *str[] = { "a", "\xc3\xa9", "b" };
	uint64_t un[] = { 1, (uint64_t)1 << 63, 5 };
	const char *big[] = { "-18446744073709551615", "18446744073709551615", "0" };
	for (int r = 0; r < 3; r++) {
		CHECK_INT(pq_write_decimal_text(w, 0, dec[r]), 0);
		CHECK_INT(pq_write_float(w, 1, fl[r]), 0);
		CHECK_INT(pq_write_bytes(w, 2, str[r], strlen(str[r])), 0);
		CHECK_INT(pq_write_int64(w, 3, (int64_t)un[r]), 0);
		CHECK_INT(pq_write_decimal_text(w, 4, big[r]), 0);
		CHECK_INT(pq_write_null(w, 5), 0);
		CHECK_INT(pq_end_row(w), 0);
	}
	uint64_t size = 0;
	CHECK_INT(pq_close(w, &size), 0);
	CHECK_INT(size, out.len);
	CHECK_MEM(out.p, "PAR1", 4);
	CHECK_MEM(out.p + out.len - 4, "PAR1", 4);
	uint32_t flen = (unsigned char)out.p[out.len - 8] | (unsigned char)out.p[out.len - 7] << 8 |
			(unsigned char)out.p[out.len - 6] << 16 |
			(uint32_t)(unsigned char)out.p[out.len - 5] << 24;
	CHECK(flen > 0 && flen < out.len - 12);
	CHECK(memmem(out.p + out.len - 8 - flen, flen, PQ_CREATED_BY, strlen(PQ_CREATED_BY)));

	const struct pq_column_metrics *m = pq_metrics(w, 0);
	CHECK_INT(m->value_count, 3);
	CHECK(m->has_bounds);
	/* Iceberg decimals: minimal big-endian two's complement (-20, 15). */
	CHECK_INT(m->lower.len, 1);
	CHECK_INT((unsigned char)m->lower.p[0], 0xec);
	CHECK_INT(m->upper.len, 1);
	CHECK_INT((unsigned char)m->upper.p[0], 0x0f);

	m = pq_metrics(w, 1);
	CHECK_INT(m->nan_count, 1);
	CHECK_INT(m->null_count, 0);
	static const unsigned char negzero[] = { 0, 0, 0, 0x80 }, poszero[] = { 0, 0, 0, 0 };
	CHECK_INT(m->lower.len, 4);
	CHECK_MEM(m->lower.p, negzero, 4);
	CHECK_MEM(m->upper.p, poszero, 4);

	m = pq_metrics(w, 2);
	CHECK_INT(m->lower.len, 1);
	CHECK_MEM(m->lower.p, "a", 1);
	CHECK_INT(m->upper.len, 2);
	CHECK_MEM(m->upper.p, "\xc3\xa9", 2); /* unsigned: 0xc3 > 'b' */

	m = pq_metrics(w, 3);
	static const unsigned char one[8] = { 1 }, top[8] = { 0, 0, 0, 0, 0, 0, 0, 0x80 };
	CHECK_MEM(m->lower.p, one, 8);
	CHECK_MEM(m->upper.p, top, 8);

	m = pq_metrics(w, 4);
	static const unsigned char lo[] = { 0xff, 0, 0, 0, 0, 0, 0, 0, 1 };
	static const unsigned char hi[] = { 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	CHECK_INT(m->lower.len, 9);
	CHECK_MEM(m->lower.p, lo, 9);
	CHECK_INT(m->upper.len, 9);
	CHECK_MEM(m->upper.p, hi, 9);

	m = pq_metrics(w, 5);
	CHECK_INT(m->null_count, 3);
	CHECK(!m->has_bounds);

	size_t nrg;
	const int64_t *off = pq_row_group_offsets(w, &nrg);
	CHECK_INT(nrg, 1);
	CHECK_INT(off[0], 4);
	pq_free(w);
	buf_release(&out);
}

TEST(parquet_errors)
{
	struct pq_column_spec cols[] = {
		{ .name = "id", .field_id = 1, .kind = PQ_INT64 },
		{ .name = "d", .field_id = 2, .kind = PQ_DECIMAL, .precision = 4, .scale = 2,
		  .optional = 1 },
		{ .name = "u", .field_id = 3, .kind = PQ_UUID },
	};
	struct buf out = BUF_INIT;
	char err[256];
	struct pq_writer *w = pq_open(cols, 3, NULL, to_buf, &out, err, sizeof(err));
	CHECK(w != NULL);
	CHECK_INT(pq_write_null(w, 0), -1);
	CHECK(strstr(pq_error(w), "required"));
	pq_free(w);

	w = pq_open(cols, 3, NULL, to_buf, &out, err, sizeof(err));
	CHECK_INT(pq_write_int32(w, 0, 1), -1);
	CHECK(strstr(pq_error(w), "physical type"));
	pq_free(w);

	w = pq_open(cols, 3, NULL, to_buf, &out, err, sizeof(err));
	CHECK_INT(pq_write_decimal_text(w, 1, "12.345"), -1);
	pq_free(w);
	w = pq_open(cols, 3, NULL, to_buf, &out, err, sizeof(err));
	CHECK_INT(pq_write_decimal_text(w, 1, "12.3400"), 0);
	CHECK_INT(pq_write_decimal_text(w, 1, "1"), -1); /* two values in one row */
	pq_free(w);
	w = pq_open(cols, 3, NULL, to_buf, &out, err, sizeof(err));
	CHECK_INT(pq_write_decimal_text(w, 1, "123.4"), -1); /* 5 digits > 4 */
	pq_free(w);
	w = pq_open(cols, 3, NULL, to_buf, &out, err, sizeof(err));
	CHECK_INT(pq_write_decimal_text(w, 1, "1e5"), -1);
	pq_free(w);

	w = pq_open(cols, 3, NULL, to_buf, &out, err, sizeof(err));
	CHECK_INT(pq_write_bytes(w, 2, "short", 5), -1);
	pq_free(w);

	w = pq_open(cols, 3, NULL, to_buf, &out, err, sizeof(err));
	CHECK_INT(pq_write_int64(w, 0, 7), 0);
	CHECK_INT(pq_end_row(w), -1);
	CHECK(strstr(pq_error(w), "column d: no value"));
	pq_free(w);

	struct pq_column_spec bad = { .name = "x", .field_id = 1, .kind = PQ_DECIMAL,
				      .precision = 39 };
	CHECK(pq_open(&bad, 1, NULL, to_buf, &out, err, sizeof(err)) == NULL);
	CHECK(strstr(err, "decimal(39,0)"));
	buf_release(&out);
}
