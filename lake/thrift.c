/*
 * thrift — Thrift compact protocol encoder (see thrift.h). Written from the
 * protocol description (apache/thrift doc/specs/thrift-compact-protocol.md):
 * field header = id delta and type in one byte when the delta is 1..15, else
 * the type byte followed by the zig-zag i16 id; integers are zig-zag varints;
 * doubles are little-endian; struct ends with a 0 byte.
 */
#include "thrift.h"

#include <string.h>

void tc_init(struct tc *t, struct buf *out)
{
	t->out = out;
	t->depth = 0;
	t->last[0] = 0;
}

uint64_t tc_zigzag64(int64_t v)
{
	/* Shift as unsigned: left-shifting a negative value is undefined in C. */
	return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
}

static void field_header(struct tc *t, int16_t id, enum tc_type type)
{
	int16_t *last = &t->last[t->depth];
	int delta = id - *last;
	if (delta > 0 && delta <= 15) {
		buf_addch(t->out, (char)((delta << 4) | type));
	} else {
		buf_addch(t->out, (char)type);
		buf_add_varint(t->out, tc_zigzag64(id));
	}
	*last = id;
}

void tc_struct_begin(struct tc *t)
{
	/* Nesting is fixed by parquet.thrift (depth < 6); overflow is a bug. */
	if (t->depth + 1 >= TC_MAX_DEPTH)
		__builtin_trap();
	t->last[++t->depth] = 0;
}

void tc_struct_end(struct tc *t)
{
	buf_addch(t->out, 0);
	if (t->depth > 0)
		t->depth--;
}

void tc_field_bool(struct tc *t, int16_t id, int v)
{
	field_header(t, id, v ? TC_BOOL_TRUE : TC_BOOL_FALSE);
}

void tc_field_i8(struct tc *t, int16_t id, int8_t v)
{
	field_header(t, id, TC_I8);
	buf_addch(t->out, (char)v);
}

void tc_field_i16(struct tc *t, int16_t id, int16_t v)
{
	field_header(t, id, TC_I16);
	buf_add_varint(t->out, tc_zigzag64(v));
}

void tc_field_i32(struct tc *t, int16_t id, int32_t v)
{
	field_header(t, id, TC_I32);
	buf_add_varint(t->out, tc_zigzag64(v));
}

void tc_field_i64(struct tc *t, int16_t id, int64_t v)
{
	field_header(t, id, TC_I64);
	buf_add_varint(t->out, tc_zigzag64(v));
}

void tc_field_double(struct tc *t, int16_t id, double v)
{
	uint64_t bits;
	unsigned char le[8];
	memcpy(&bits, &v, 8);
	for (int i = 0; i < 8; i++)
		le[i] = (unsigned char)(bits >> (8 * i));
	field_header(t, id, TC_DOUBLE);
	buf_add(t->out, le, 8);
}

void tc_field_binary(struct tc *t, int16_t id, const void *p, size_t n)
{
	field_header(t, id, TC_BINARY);
	buf_add_varint(t->out, n);
	buf_add(t->out, p, n);
}

void tc_field_string(struct tc *t, int16_t id, const char *s)
{
	tc_field_binary(t, id, s, strlen(s));
}

void tc_field_struct(struct tc *t, int16_t id)
{
	field_header(t, id, TC_STRUCT);
	tc_struct_begin(t);
}

void tc_field_empty_struct(struct tc *t, int16_t id)
{
	tc_field_struct(t, id);
	tc_struct_end(t);
}

void tc_field_list(struct tc *t, int16_t id, enum tc_type elem, uint32_t n)
{
	field_header(t, id, TC_LIST);
	/* Bool list elements use type 2 in the header; values are one byte each. */
	if (elem == TC_BOOL_TRUE)
		elem = TC_BOOL_FALSE;
	if (n <= 14) {
		buf_addch(t->out, (char)((n << 4) | elem));
	} else {
		buf_addch(t->out, (char)(0xf0 | elem));
		buf_add_varint(t->out, n);
	}
}

void tc_elem_i32(struct tc *t, int32_t v)
{
	buf_add_varint(t->out, tc_zigzag64(v));
}

void tc_elem_i64(struct tc *t, int64_t v)
{
	buf_add_varint(t->out, tc_zigzag64(v));
}

void tc_elem_binary(struct tc *t, const void *p, size_t n)
{
	buf_add_varint(t->out, n);
	buf_add(t->out, p, n);
}

void tc_elem_string(struct tc *t, const char *s)
{
	tc_elem_binary(t, s, strlen(s));
}
