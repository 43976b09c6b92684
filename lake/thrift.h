/*
 * thrift — a write-only encoder for the Thrift compact protocol, just enough
 * for Parquet's page headers and footer (parquet.thrift). There is no IDL and
 * no generated code: callers emit fields in ascending id order by hand, which
 * keeps the encoder tiny and makes every byte of the footer visible in
 * lake/parquet.c.
 */
#ifndef SD_THRIFT_H
#define SD_THRIFT_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

/* Compact-protocol type nibbles. */
enum tc_type {
	TC_BOOL_TRUE = 1,
	TC_BOOL_FALSE = 2,
	TC_I8 = 3,
	TC_I16 = 4,
	TC_I32 = 5,
	TC_I64 = 6,
	TC_DOUBLE = 7,
	TC_BINARY = 8,
	TC_LIST = 9,
	TC_SET = 10,
	TC_MAP = 11,
	TC_STRUCT = 12,
};

#define TC_MAX_DEPTH 16

/* Encoder state: the output and, per open struct, the last field id written
 * (field headers carry id deltas). */
struct tc {
	struct buf *out;
	int depth;
	int16_t last[TC_MAX_DEPTH];
};

void tc_init(struct tc *t, struct buf *out);

/* Opens a struct that is not a field: the top-level message or a list element. */
void tc_struct_begin(struct tc *t);
/* Writes the stop byte and returns to the enclosing struct. */
void tc_struct_end(struct tc *t);

void tc_field_bool(struct tc *t, int16_t id, int v);
void tc_field_i8(struct tc *t, int16_t id, int8_t v);
void tc_field_i16(struct tc *t, int16_t id, int16_t v);
void tc_field_i32(struct tc *t, int16_t id, int32_t v);
void tc_field_i64(struct tc *t, int16_t id, int64_t v);
void tc_field_double(struct tc *t, int16_t id, double v);
void tc_field_binary(struct tc *t, int16_t id, const void *p, size_t n);
void tc_field_string(struct tc *t, int16_t id, const char *s);
/* A struct-valued field; close it with tc_struct_end(). */
void tc_field_struct(struct tc *t, int16_t id);
/* A field holding an empty struct (Parquet's marker unions use these). */
void tc_field_empty_struct(struct tc *t, int16_t id);
/* A list-valued field header; the n elements follow, written with the
 * tc_elem_* calls (or tc_struct_begin/end for struct elements). */
void tc_field_list(struct tc *t, int16_t id, enum tc_type elem, uint32_t n);

void tc_elem_i32(struct tc *t, int32_t v);
void tc_elem_i64(struct tc *t, int64_t v);
void tc_elem_binary(struct tc *t, const void *p, size_t n);
void tc_elem_string(struct tc *t, const char *s);

/* Zig-zag mapping shared with the Avro encoder's tests. */
uint64_t tc_zigzag64(int64_t v);

#endif
