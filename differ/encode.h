/*
 * encode — the canonical, lossless, self-delimiting encoding of MariaDB values,
 * and its decoding. docs/encoding.md is the normative description; this file
 * and encode.c must agree with it byte for byte.
 *
 * A row's encoding is the concatenation of its column encodings in select
 * order; a key's encoding is the concatenation of the primary-key columns'
 * encodings in key order. Each value starts with a one-byte kind tag, so NULL
 * (tag 0) can never be confused with an empty string, signed with unsigned, or
 * DECIMAL '1.0' with DOUBLE 1.
 */
#ifndef SD_ENCODE_H
#define SD_ENCODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

enum enc_kind {
	ENC_NULL = 0,      /* no payload                                          */
	ENC_INT = 1,       /* 8 bytes big-endian two's complement                 */
	ENC_UINT = 2,      /* 8 bytes big-endian                                  */
	ENC_FLOAT = 3,     /* 4 bytes big-endian IEEE-754 binary32 bits           */
	ENC_DOUBLE = 4,    /* 8 bytes big-endian IEEE-754 binary64 bits           */
	ENC_DECIMAL = 5,   /* varint length + ASCII text as the server renders it
	                      (sign, digits, '.', exactly `scale` fraction digits) */
	ENC_BYTES = 6,     /* varint length + raw bytes (binary charset)          */
	ENC_TEXT = 7,      /* varint length + UTF-8 (utf8mb4) bytes               */
	ENC_DATE = 8,      /* year(2 BE) month(1) day(1)                          */
	ENC_DATETIME = 9,  /* year(2) month day hour minute second(1 each) usec(4 BE) */
	ENC_TIMESTAMP = 10,/* as DATETIME, always UTC                             */
	ENC_TIME = 11,     /* negative(1) hours(4 BE) minute second(1 each) usec(4 BE) */
	ENC_BIT = 12,      /* 8 bytes big-endian, value right-aligned             */
	ENC_ENUM = 13,     /* varint length + UTF-8 label                         */
	ENC_SET = 14,      /* varint length + UTF-8 comma-joined labels           */
	ENC_JSON = 15,     /* varint length + UTF-8 JSON text as stored           */
	ENC_YEAR = 16,     /* 2 bytes big-endian                                  */
};

struct enc_time {
	unsigned year, month, day, hour, minute, second;
	unsigned long usec;
	bool neg;          /* TIME only */
};

/* One decoded value. Strings point into the encoded buffer (borrowed). */
struct enc_value {
	enum enc_kind kind;
	union {
		int64_t i;
		uint64_t u;      /* UINT, BIT, YEAR */
		float f;
		double d;
		struct { const char *p; size_t len; } s;
		struct enc_time t;
	} v;
};

/* Appenders: each writes one complete value encoding. */
void enc_put_null(struct buf *b);
void enc_put_int(struct buf *b, int64_t v);
void enc_put_uint(struct buf *b, uint64_t v);
void enc_put_float(struct buf *b, float v);
void enc_put_double(struct buf *b, double v);
void enc_put_str(struct buf *b, enum enc_kind kind, const void *p, size_t len);
void enc_put_time(struct buf *b, enum enc_kind kind, const struct enc_time *t);
void enc_put_bit(struct buf *b, uint64_t v);
void enc_put_year(struct buf *b, unsigned y);

/* Decodes the value at *p, advancing *p. Returns 0, or -1 if malformed. */
int enc_get(const unsigned char **p, const unsigned char *end, struct enc_value *out);

/* Skips n values; returns 0 or -1. */
int enc_skip(const unsigned char **p, const unsigned char *end, size_t n);

/* 128-bit row hash (xxh3-128) of len bytes, written big-endian into out[16]. */
void enc_hash128(const void *data, size_t len, unsigned char out[16]);

/* Appends the value as JSON (see docs/encoding.md "JSON rendering"):
 * numbers for integers/BIT/YEAR, shortest round-trip numbers for FLOAT/DOUBLE,
 * strings for DECIMAL, temporal values and text; binary values as a JSON string
 * when they are valid UTF-8, else {"base64":"..."}. fsp: fraction digits for
 * temporal kinds (0-6). */
void enc_value_json(struct buf *b, const struct enc_value *v, unsigned fsp);

/* Appends s (len bytes, assumed UTF-8 or not) as a JSON string literal, escaping
 * as RFC 8259 requires. Invalid UTF-8 is escaped byte-wise as \u00XX, which is
 * lossy: callers with binary data use enc_value_json. */
void json_add_string(struct buf *b, const char *s, size_t len);

/* true when p[0..len) is valid UTF-8 (no overlongs, no surrogates). */
bool utf8_valid(const char *p, size_t len);

/* Renders a temporal value canonically: "YYYY-MM-DD", "YYYY-MM-DD HH:MM:SS[.f]",
 * "[-]HH:MM:SS[.f]"; TIMESTAMP as "YYYY-MM-DDTHH:MM:SS[.f]Z". */
void enc_time_text(struct buf *b, enum enc_kind kind, const struct enc_time *t, unsigned fsp);

#endif
