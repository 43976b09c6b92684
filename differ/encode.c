/*
 * encode — canonical value encoding (docs/encoding.md), its decoder, the row
 * hash, and the JSON rendering of values.
 *
 * The encoding is the unit of truth for change detection: two rows are equal
 * exactly when their encodings are byte-equal. Fixed-width big-endian integers
 * (rather than varints) keep the hot path branch-free; strings carry a varint
 * length so any byte, including NUL, survives.
 */
#include "encode.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

void enc_put_null(struct buf *b)
{
	buf_addch(b, ENC_NULL);
}

static void put_tag_be(struct buf *b, enum enc_kind k, uint64_t v, int n)
{
	buf_grow(b, 9);
	unsigned char *p = (unsigned char *)b->p + b->len;
	p[0] = (unsigned char)k;
	if (n == 8) {
		uint64_t be = __builtin_bswap64(v);
		memcpy(p + 1, &be, 8);
	} else {
		for (int i = n; i >= 1; i--) {
			p[i] = v & 0xff;
			v >>= 8;
		}
	}
	b->len += (size_t)n + 1;
	b->p[b->len] = '\0';
}

void enc_put_int(struct buf *b, int64_t v)
{
	put_tag_be(b, ENC_INT, (uint64_t)v, 8);
}

void enc_put_uint(struct buf *b, uint64_t v)
{
	put_tag_be(b, ENC_UINT, v, 8);
}

void enc_put_float(struct buf *b, float v)
{
	uint32_t bits;
	memcpy(&bits, &v, 4);
	put_tag_be(b, ENC_FLOAT, bits, 4);
}

void enc_put_double(struct buf *b, double v)
{
	uint64_t bits;
	memcpy(&bits, &v, 8);
	put_tag_be(b, ENC_DOUBLE, bits, 8);
}

void enc_put_str(struct buf *b, enum enc_kind kind, const void *p, size_t len)
{
	buf_grow(b, len + 11);
	b->p[b->len++] = (char)kind;
	uint64_t v = len;
	do {
		unsigned char c = v & 0x7f;
		v >>= 7;
		b->p[b->len++] = (char)(c | (v ? 0x80 : 0));
	} while (v);
	if (len)
		memcpy(b->p + b->len, p, len);
	b->len += len;
	b->p[b->len] = '\0';
}

void enc_put_time(struct buf *b, enum enc_kind kind, const struct enc_time *t)
{
	unsigned char tmp[12];
	size_t n = 0;
	tmp[n++] = (unsigned char)kind;
	if (kind == ENC_TIME) {
		tmp[n++] = t->neg ? 1 : 0;
		tmp[n++] = (t->hour >> 24) & 0xff;
		tmp[n++] = (t->hour >> 16) & 0xff;
		tmp[n++] = (t->hour >> 8) & 0xff;
		tmp[n++] = t->hour & 0xff;
		tmp[n++] = (unsigned char)t->minute;
		tmp[n++] = (unsigned char)t->second;
	} else {
		tmp[n++] = (t->year >> 8) & 0xff;
		tmp[n++] = t->year & 0xff;
		tmp[n++] = (unsigned char)t->month;
		tmp[n++] = (unsigned char)t->day;
		if (kind == ENC_DATE) {
			buf_add(b, tmp, n);
			return;
		}
		tmp[n++] = (unsigned char)t->hour;
		tmp[n++] = (unsigned char)t->minute;
		tmp[n++] = (unsigned char)t->second;
	}
	buf_add(b, tmp, n);
	unsigned char us[4] = { (t->usec >> 24) & 0xff, (t->usec >> 16) & 0xff,
				(t->usec >> 8) & 0xff, t->usec & 0xff };
	buf_add(b, us, 4);
}

void enc_put_bit(struct buf *b, uint64_t v)
{
	put_tag_be(b, ENC_BIT, v, 8);
}

void enc_put_year(struct buf *b, unsigned y)
{
	put_tag_be(b, ENC_YEAR, y, 2);
}

static uint64_t get_be(const unsigned char *p, int n)
{
	uint64_t v = 0;
	for (int i = 0; i < n; i++)
		v = (v << 8) | p[i];
	return v;
}

int enc_get(const unsigned char **pp, const unsigned char *end, struct enc_value *out)
{
	const unsigned char *p = *pp;
	if (p >= end)
		return -1;
	enum enc_kind k = (enum enc_kind)*p++;
	size_t left = (size_t)(end - p);
	out->kind = k;
	switch (k) {
	case ENC_NULL:
		break;
	case ENC_INT:
	case ENC_UINT:
	case ENC_BIT:
	case ENC_DOUBLE:
		if (left < 8)
			return -1;
		out->v.u = get_be(p, 8);
		if (k == ENC_DOUBLE) {
			uint64_t bits = out->v.u;
			memcpy(&out->v.d, &bits, 8);
		}
		p += 8;
		break;
	case ENC_FLOAT: {
		if (left < 4)
			return -1;
		uint32_t bits = (uint32_t)get_be(p, 4);
		memcpy(&out->v.f, &bits, 4);
		p += 4;
		break;
	}
	case ENC_YEAR:
		if (left < 2)
			return -1;
		out->v.u = get_be(p, 2);
		p += 2;
		break;
	case ENC_DECIMAL:
	case ENC_BYTES:
	case ENC_TEXT:
	case ENC_ENUM:
	case ENC_SET:
	case ENC_JSON: {
		uint64_t len;
		if (varint_get(&p, end, &len) < 0 || len > (uint64_t)(end - p))
			return -1;
		out->v.s.p = (const char *)p;
		out->v.s.len = (size_t)len;
		p += len;
		break;
	}
	case ENC_DATE:
		if (left < 4)
			return -1;
		memset(&out->v.t, 0, sizeof(out->v.t));
		out->v.t.year = (unsigned)get_be(p, 2);
		out->v.t.month = p[2];
		out->v.t.day = p[3];
		p += 4;
		break;
	case ENC_DATETIME:
	case ENC_TIMESTAMP:
		if (left < 11)
			return -1;
		memset(&out->v.t, 0, sizeof(out->v.t));
		out->v.t.year = (unsigned)get_be(p, 2);
		out->v.t.month = p[2];
		out->v.t.day = p[3];
		out->v.t.hour = p[4];
		out->v.t.minute = p[5];
		out->v.t.second = p[6];
		out->v.t.usec = (unsigned long)get_be(p + 7, 4);
		p += 11;
		break;
	case ENC_TIME:
		if (left < 11)
			return -1;
		memset(&out->v.t, 0, sizeof(out->v.t));
		out->v.t.neg = p[0] != 0;
		out->v.t.hour = (unsigned)get_be(p + 1, 4);
		out->v.t.minute = p[5];
		out->v.t.second = p[6];
		out->v.t.usec = (unsigned long)get_be(p + 7, 4);
		p += 11;
		break;
	default:
		return -1;
	}
	*pp = p;
	return 0;
}

int enc_skip(const unsigned char **p, const unsigned char *end, size_t n)
{
	struct enc_value v;
	while (n--)
		if (enc_get(p, end, &v) < 0)
			return -1;
	return 0;
}

void enc_hash128(const void *data, size_t len, unsigned char out[16])
{
	XXH128_hash_t h = XXH3_128bits(data, len);
	XXH128_canonical_t c;
	XXH128_canonicalFromHash(&c, h);
	memcpy(out, c.digest, 16);
}

bool utf8_valid(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s, *end = p + len;
	while (p < end) {
		unsigned char c = *p;
		if (c < 0x80) {
			p++;
			continue;
		}
		size_t n;
		uint32_t cp;
		if (c >= 0xc2 && c <= 0xdf) {
			n = 1;
			cp = c & 0x1f;
		} else if (c >= 0xe0 && c <= 0xef) {
			n = 2;
			cp = c & 0x0f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			n = 3;
			cp = c & 0x07;
		} else {
			return false;
		}
		if ((size_t)(end - p) <= n)
			return false;
		for (size_t i = 1; i <= n; i++) {
			if ((p[i] & 0xc0) != 0x80)
				return false;
			cp = (cp << 6) | (p[i] & 0x3f);
		}
		if ((n == 2 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
		    (n == 3 && (cp < 0x10000 || cp > 0x10ffff)))
			return false;
		p += n + 1;
	}
	return true;
}

void json_add_string(struct buf *b, const char *s, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	buf_grow(b, len + 2);
	buf_addch(b, '"');
	size_t start = 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c >= 0x20 && c != '"' && c != '\\' && c < 0x7f)
			continue;
		if (c >= 0x80)
			continue; /* UTF-8 passes through; validity is the caller's concern */
		buf_add(b, s + start, i - start);
		start = i + 1;
		switch (c) {
		case '"': buf_add(b, "\\\"", 2); break;
		case '\\': buf_add(b, "\\\\", 2); break;
		case '\n': buf_add(b, "\\n", 2); break;
		case '\r': buf_add(b, "\\r", 2); break;
		case '\t': buf_add(b, "\\t", 2); break;
		default: {
			char esc[6] = { '\\', 'u', '0', '0', hex[c >> 4], hex[c & 15] };
			buf_add(b, esc, 6);
		}
		}
	}
	buf_add(b, s + start, len - start);
	buf_addch(b, '"');
}

static void add_base64(struct buf *b, const unsigned char *p, size_t len)
{
	static const char tbl[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	buf_grow(b, (len + 2) / 3 * 4);
	size_t i = 0;
	for (; i + 2 < len; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
		char o[4] = { tbl[v >> 18], tbl[(v >> 12) & 63], tbl[(v >> 6) & 63], tbl[v & 63] };
		buf_add(b, o, 4);
	}
	if (i < len) {
		uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < len ? (uint32_t)p[i + 1] << 8 : 0);
		char o[4] = { tbl[v >> 18], tbl[(v >> 12) & 63],
			      i + 1 < len ? tbl[(v >> 6) & 63] : '=', '=' };
		buf_add(b, o, 4);
	}
}

/* Bytes as a JSON string when they are valid UTF-8 (the common case for
 * MediaWiki titles), else as {"base64": "..."}: lossless and unambiguous,
 * since a JSON string always decodes to valid UTF-8. */
static void json_add_bytes(struct buf *b, const char *p, size_t len)
{
	if (utf8_valid(p, len)) {
		json_add_string(b, p, len);
		return;
	}
	buf_addstr(b, "{\"base64\":\"");
	add_base64(b, (const unsigned char *)p, len);
	buf_addstr(b, "\"}");
}

/* Shortest text that reads back as the same double (or float). */
static void add_shortest(struct buf *b, double d, int is_float)
{
	char tmp[40];
	int lo = is_float ? 6 : 15, hi = is_float ? 9 : 17;
	for (int prec = lo; prec <= hi; prec++) {
		snprintf(tmp, sizeof(tmp), "%.*g", prec, d);
		if (is_float ? strtof(tmp, NULL) == (float)d : strtod(tmp, NULL) == d)
			break;
	}
	buf_addstr(b, tmp);
}

void enc_time_text(struct buf *b, enum enc_kind kind, const struct enc_time *t, unsigned fsp)
{
	if (fsp > 6)
		fsp = 6;
	switch (kind) {
	case ENC_DATE:
		buf_addf(b, "%04u-%02u-%02u", t->year, t->month, t->day);
		return;
	case ENC_TIME:
		buf_addf(b, "%s%02u:%02u:%02u", t->neg ? "-" : "", t->hour, t->minute, t->second);
		break;
	default:
		buf_addf(b, "%04u-%02u-%02uT%02u:%02u:%02u", t->year, t->month, t->day,
			 t->hour, t->minute, t->second);
	}
	if (fsp) {
		char frac[8];
		snprintf(frac, sizeof(frac), "%06lu", t->usec % 1000000);
		buf_addch(b, '.');
		buf_add(b, frac, fsp);
	}
	if (kind == ENC_TIMESTAMP)
		buf_addch(b, 'Z');
}

void enc_value_json(struct buf *b, const struct enc_value *v, unsigned fsp)
{
	switch (v->kind) {
	case ENC_NULL:
		buf_add(b, "null", 4);
		break;
	case ENC_INT:
		buf_addf(b, "%lld", (long long)v->v.i);
		break;
	case ENC_UINT:
	case ENC_BIT:
	case ENC_YEAR:
		buf_addf(b, "%llu", (unsigned long long)v->v.u);
		break;
	case ENC_FLOAT:
		add_shortest(b, v->v.f, 1);
		break;
	case ENC_DOUBLE:
		add_shortest(b, v->v.d, 0);
		break;
	case ENC_DECIMAL:
		json_add_string(b, v->v.s.p, v->v.s.len);
		break;
	case ENC_BYTES:
	case ENC_TEXT:
	case ENC_ENUM:
	case ENC_SET:
	case ENC_JSON:
		json_add_bytes(b, v->v.s.p, v->v.s.len);
		break;
	case ENC_DATE:
	case ENC_DATETIME:
	case ENC_TIMESTAMP:
	case ENC_TIME:
		buf_addch(b, '"');
		enc_time_text(b, v->kind, &v->v.t, fsp);
		buf_addch(b, '"');
		break;
	}
}
