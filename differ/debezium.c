/*
 * debezium — Debezium-compatible change event values for the Kafka sink.
 *
 * Consumers built for Debezium's MySQL/MariaDB connector (Flink SQL's
 * debezium-json format, Kafka Connect sinks with schemas disabled, ksqlDB)
 * should read snapdiff's topics unchanged, so values are mapped exactly as
 * that connector does with its default settings, not as snapdiff's native
 * events do: DECIMAL becomes base64 of the unscaled two's complement bytes,
 * DATETIME becomes epoch milli- or microseconds by precision, binary strings
 * become base64, BIT(n>1) becomes little-endian bytes. The one deliberate
 * difference is source.connector ("snapdiff") and a few snapdiff_* fields in
 * source, which Debezium consumers ignore. docs/event.debezium.md is the
 * reference; keep the two in step.
 */
#include "debezium.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "event.h"

#ifndef SNAPDIFF_VERSION
#define SNAPDIFF_VERSION "0.1.0"
#endif

static const char b64_alphabet[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Standard, padded base64: what Kafka Connect's JsonConverter writes for
 * BYTES (java.util.Base64 encoder). */
static void add_base64(struct buf *b, const unsigned char *p, size_t len)
{
	size_t i = 0;
	buf_grow(b, (len + 2) / 3 * 4 + 2);
	buf_addch(b, '"');
	for (; i + 2 < len; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
		buf_addch(b, b64_alphabet[v >> 18 & 63]);
		buf_addch(b, b64_alphabet[v >> 12 & 63]);
		buf_addch(b, b64_alphabet[v >> 6 & 63]);
		buf_addch(b, b64_alphabet[v & 63]);
	}
	if (len - i == 1) {
		uint32_t v = (uint32_t)p[i] << 16;
		buf_addch(b, b64_alphabet[v >> 18 & 63]);
		buf_addch(b, b64_alphabet[v >> 12 & 63]);
		buf_add(b, "==", 2);
	} else if (len - i == 2) {
		uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8;
		buf_addch(b, b64_alphabet[v >> 18 & 63]);
		buf_addch(b, b64_alphabet[v >> 12 & 63]);
		buf_addch(b, b64_alphabet[v >> 6 & 63]);
		buf_addch(b, '=');
	}
	buf_addch(b, '"');
}

int dbz_decimal_base64(struct buf *b, const char *text, size_t len, unsigned scale)
{
	size_t i = 0;
	bool neg = false;
	if (i < len && (text[i] == '-' || text[i] == '+'))
		neg = text[i++] == '-';
	/* Digits of the unscaled value: integer part, then exactly `scale`
	 * fraction digits (padded with zeros when the text has fewer). */
	size_t ndig = 0, frac = 0;
	bool seen_point = false, any = false;
	char *digits = xmalloc(len + scale + 1);
	for (; i < len; i++) {
		char ch = text[i];
		if (ch == '.' && !seen_point) {
			seen_point = true;
			continue;
		}
		if (ch < '0' || ch > '9')
			goto bad;
		any = true;
		if (seen_point) {
			if (frac == scale) {
				/* more fraction digits than the scale: only zeros may be dropped */
				if (ch != '0')
					goto bad;
				continue;
			}
			frac++;
		}
		digits[ndig++] = ch;
	}
	if (!any)
		goto bad;
	while (frac++ < scale)
		digits[ndig++] = '0';

	/* Big-endian magnitude, one extra byte for the sign of the two's
	 * complement form. 65 decimal digits need 28 bytes; ndig/2+2 is ample. */
	size_t n = ndig / 2 + 2;
	unsigned char *mag = xcalloc(n, 1);
	for (size_t d = 0; d < ndig; d++) {
		unsigned carry = (unsigned)(digits[d] - '0');
		for (size_t k = n; k-- > 0;) {
			unsigned v = mag[k] * 10u + carry;
			mag[k] = (unsigned char)(v & 0xff);
			carry = v >> 8;
		}
	}
	bool zero = true;
	for (size_t k = 0; k < n; k++)
		zero = zero && mag[k] == 0;
	if (neg && !zero) {
		unsigned carry = 1;
		for (size_t k = n; k-- > 0;) {
			unsigned v = (unsigned)(unsigned char)~mag[k] + carry;
			mag[k] = (unsigned char)(v & 0xff);
			carry = v >> 8;
		}
	}
	/* Minimal form, as java.math.BigInteger.toByteArray(): drop a leading
	 * 0x00 (0xff) while the next byte's top bit already says positive
	 * (negative). */
	size_t start = 0;
	unsigned char pad = (neg && !zero) ? 0xff : 0x00;
	while (start + 1 < n && mag[start] == pad && (mag[start + 1] & 0x80) == (pad & 0x80))
		start++;
	add_base64(b, mag + start, n - start);
	free(mag);
	free(digits);
	return 0;
bad:
	free(digits);
	return -1;
}

/* Days between 1970-01-01 and y-m-d in the proleptic Gregorian calendar
 * (the era arithmetic of "civil from days" algorithms; exact for any year). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t mp = (m + 9) % 12;
	int64_t doy = (153 * mp + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

/* MariaDB accepts 0000-00-00 and dates with a zero month or day; Debezium
 * turns them into null for nullable columns and into the epoch otherwise. */
static bool zero_date(const struct enc_time *t)
{
	return t->month == 0 || t->day == 0;
}

static int64_t epoch_seconds(const struct enc_time *t)
{
	return days_from_civil(t->year, t->month, t->day) * 86400 +
	       (int64_t)t->hour * 3600 + t->minute * 60 + t->second;
}

static void add_bits_le(struct buf *b, uint64_t u, unsigned nbits)
{
	unsigned char bytes[8];
	unsigned n = nbits ? (nbits + 7) / 8 : 8;
	if (n > 8)
		n = 8;
	for (unsigned i = 0; i < n; i++)
		bytes[i] = (unsigned char)(u >> (8 * i));
	add_base64(b, bytes, n);
}

void dbz_render_value_of(struct buf *b, const struct sd_column *col, const struct enc_value *v)
{
	const struct enc_time *t = &v->v.t;
	switch (v->kind) {
	case ENC_NULL:
		buf_add(b, "null", 4);
		return;
	case ENC_INT:
	case ENC_FLOAT:
	case ENC_DOUBLE:
		enc_value_json(b, v, 0);
		return;
	case ENC_UINT:
		/* bigint.unsigned.handling.mode=long: values above 2^63-1 wrap to
		 * negative numbers exactly as Debezium's Java long does. */
		buf_addf(b, "%lld", (long long)(int64_t)v->v.u);
		return;
	case ENC_YEAR:
		buf_addf(b, "%llu", (unsigned long long)v->v.u);
		return;
	case ENC_BIT:
		if (col && col->bits == 1)
			buf_addstr(b, v->v.u ? "true" : "false");
		else
			add_bits_le(b, v->v.u, col ? col->bits : 64);
		return;
	case ENC_DECIMAL:
		if (dbz_decimal_base64(b, v->v.s.p, v->v.s.len, col ? col->scale : 0) < 0)
			/* not reachable with a server-rendered DECIMAL; keep the
			 * event readable rather than failing the whole run */
			json_add_string(b, v->v.s.p, v->v.s.len);
		return;
	case ENC_BYTES:
		add_base64(b, (const unsigned char *)v->v.s.p, v->v.s.len);
		return;
	case ENC_TEXT:
	case ENC_ENUM:
	case ENC_SET:
	case ENC_JSON:
		json_add_string(b, v->v.s.p, v->v.s.len);
		return;
	case ENC_DATE:
		if (zero_date(t)) {
			buf_addstr(b, col && col->nullable ? "null" : "0");
			return;
		}
		buf_addf(b, "%lld", (long long)days_from_civil(t->year, t->month, t->day));
		return;
	case ENC_DATETIME: {
		if (zero_date(t)) {
			buf_addstr(b, col && col->nullable ? "null" : "0");
			return;
		}
		int64_t s = epoch_seconds(t);
		if (col && col->fsp <= 3)
			buf_addf(b, "%lld", (long long)(s * 1000 + (int64_t)(t->usec / 1000)));
		else
			buf_addf(b, "%lld", (long long)(s * 1000000 + (int64_t)t->usec));
		return;
	}
	case ENC_TIMESTAMP: {
		unsigned fsp = col ? col->fsp : 0;
		if (zero_date(t)) {
			if (col && col->nullable) {
				buf_add(b, "null", 4);
				return;
			}
			static const struct enc_time epoch = { 1970, 1, 1, 0, 0, 0, 0, false };
			t = &epoch;
		}
		/* ZonedTimestamp: ISO-8601 in UTC, fraction padded to the column's
		 * precision (Debezium keeps trailing zeros since DBZ-5996). */
		buf_addf(b, "\"%04u-%02u-%02uT%02u:%02u:%02u", t->year, t->month, t->day, t->hour,
			 t->minute, t->second);
		if (fsp > 0) {
			char frac[8];
			snprintf(frac, sizeof(frac), "%06lu", t->usec % 1000000);
			buf_addch(b, '.');
			buf_add(b, frac, fsp > 6 ? 6 : fsp);
		}
		buf_add(b, "Z\"", 2);
		return;
	}
	case ENC_TIME: {
		/* MicroTime: a signed duration, so MariaDB's -838:59:59 .. 838:59:59
		 * range survives. */
		int64_t us = ((int64_t)t->hour * 3600 + t->minute * 60 + t->second) * 1000000 +
			     (int64_t)t->usec;
		buf_addf(b, "%lld", (long long)(t->neg ? -us : us));
		return;
	}
	}
	buf_add(b, "null", 4);
}

static int render_cols(struct buf *b, const struct sd_table *t, const unsigned char *p,
		       size_t len, bool key)
{
	const unsigned char *end = p + len;
	size_t n = key ? t->npk : t->ncols;
	buf_addch(b, '{');
	for (size_t i = 0; i < n; i++) {
		const struct sd_column *col = &t->cols[key ? t->pk[i] : i];
		struct enc_value v;
		if (enc_get(&p, end, &v) < 0)
			return -1;
		if (i)
			buf_addch(b, ',');
		json_add_string(b, col->name, strlen(col->name));
		buf_addch(b, ':');
		dbz_render_value_of(b, col, &v);
	}
	buf_addch(b, '}');
	return p == end ? 0 : -1;
}

int dbz_render_key(struct buf *b, const struct sd_table *t, const unsigned char *key, size_t len)
{
	return render_cols(b, t, key, len, true);
}

int dbz_render_row(struct buf *b, const struct sd_table *t, const unsigned char *row, size_t len)
{
	return render_cols(b, t, row, len, false);
}

static void add_str_or_null(struct buf *b, const char *s)
{
	if (s && *s)
		json_add_string(b, s, strlen(s));
	else
		buf_add(b, "null", 4);
}

int dbz_render_value(struct buf *b, const struct sd_run_info *run, const struct sd_change *c,
		     const char *name, enum dbz_snapshot snapshot, int64_t ts_ms)
{
	static const char *const snap_names[] = { "false", "true", "last" };
	const struct sd_table *t = run->table;
	const char *op = c->op == SD_OP_UPDATE ? "u"
			 : c->op == SD_OP_DELETE ? "d"
			 : c->snapshot		 ? "r"
						 : "c";

	buf_add(b, "{\"before\":", 10);
	if (c->op != SD_OP_INSERT && c->before) {
		if (dbz_render_row(b, t, c->before, c->before_len) < 0)
			return -1;
	} else if (c->op != SD_OP_INSERT) {
		/* No stored image (the run after a schema change cannot decode
		 * the old layout): the key columns identify the row, and consumers
		 * read the missing columns as null. */
		if (dbz_render_key(b, t, c->key, c->key_len) < 0)
			return -1;
	} else {
		buf_add(b, "null", 4);
	}
	buf_add(b, ",\"after\":", 9);
	if (c->op != SD_OP_DELETE && c->after) {
		if (dbz_render_row(b, t, c->after, c->after_len) < 0)
			return -1;
	} else {
		buf_add(b, "null", 4);
	}
	buf_addf(b, ",\"source\":{\"version\":\"%s\",\"connector\":\"snapdiff\",\"name\":",
		 SNAPDIFF_VERSION);
	add_str_or_null(b, name);
	buf_addf(b, ",\"ts_ms\":%lld,\"snapshot\":\"%s\",\"db\":", (long long)run->snapshot_ms,
		 snap_names[snapshot]);
	add_str_or_null(b, run->db);
	buf_add(b, ",\"sequence\":null,\"table\":", 25);
	add_str_or_null(b, run->tbl);
	/* No binlog position is read: the snapshot's GTID position is the
	 * lineage, and file/pos/row keep the types consumers expect. */
	buf_add(b, ",\"server_id\":0,\"gtid\":", 22);
	add_str_or_null(b, run->gtid_binlog_pos);
	buf_add(b, ",\"file\":\"\",\"pos\":0,\"row\":0,\"thread\":null,\"query\":null", 53);
	buf_add(b, ",\"snapdiff_run_id\":", 19);
	add_str_or_null(b, run->run_id);
	buf_addf(b, ",\"snapdiff_generation\":%lld,\"snapdiff_event_id\":\"",
		 (long long)run->generation);
	event_hex_id(b, c->id);
	buf_addf(b, "\"},\"op\":\"%s\",\"ts_ms\":%lld,\"transaction\":null}", op, (long long)ts_ms);
	return 0;
}
