/*
 * parquet — streaming writer for flat Parquet files with Iceberg field ids
 * (see parquet.h for the API and the type mapping). Layout facts come from
 * apache/parquet-format (parquet.thrift, Encodings.md, Compression.md,
 * LogicalTypes.md); ../shared/reference/iceberg-parquet-avro.md §8 lists the
 * traps other minimal writers fell into, and docs/lake-formats.md records the
 * choices made here.
 *
 * Data flow: values are appended to a per-column page buffer (PLAIN bytes or
 * dictionary indices plus definition levels); a full page is encoded,
 * compressed and appended with its header to the column's in-memory chunk;
 * when the buffered bytes of all columns reach the row-group size, every
 * chunk (dictionary page first) goes to the sink in schema order and its
 * ColumnChunk metadata is encoded at once, so the footer needs no per-page
 * bookkeeping. Nothing is ever seeked: the sink may be a pipe or an upload.
 */
#define XXH_INLINE_ALL
#include <xxhash.h>

#include "parquet.h"
#include "thrift.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <snappy-c.h>
#include <zstd.h>

/* parquet.thrift enums used below. */
enum {
	ENC_PLAIN = 0,
	ENC_RLE = 3,
	ENC_RLE_DICTIONARY = 8,
	PAGE_DATA = 0,
	PAGE_DICTIONARY = 2,
	REP_REQUIRED = 0,
	REP_OPTIONAL = 1,
	CT_NONE = -1,
	CT_UTF8 = 0,
	CT_DECIMAL = 5,
	CT_DATE = 6,
	CT_TIME_MICROS = 8,
	CT_TIMESTAMP_MICROS = 10,
	CT_UINT_8 = 11,
	CT_INT_8 = 15,
};

/* How min/max compare, which decides the stats a column may carry. */
enum order {
	ORD_BOOL,
	ORD_SIGNED,      /* INT32/INT64 as signed numbers */
	ORD_UNSIGNED,    /* INT32/INT64 as unsigned (UINT_n) */
	ORD_FLOAT,       /* FLOAT/DOUBLE, NaN excluded, -0 before +0 */
	ORD_BYTES,       /* unsigned byte-wise, shorter prefix first */
	ORD_SIGNED_FIXED /* big-endian two's complement of equal width (decimals) */
};

struct column {
	struct pq_column_spec spec;
	enum pq_physical phys;
	int width;         /* bytes of a fixed-width PLAIN value, 0 for BYTE_ARRAY */
	int converted;
	enum order order;
	int got;           /* a value was given for the current row */

	/* current page */
	struct buf vals;   /* PLAIN values; booleans one byte each until encoded */
	uint32_t *idx;     /* dictionary indices */
	size_t nidx, idx_cap;
	uint32_t *lev;     /* definition levels (OPTIONAL only) */
	size_t nlev, lev_cap;
	int64_t page_values;

	/* dictionary of the current chunk */
	int dict_on;
	struct buf dict;   /* PLAIN-encoded entries: the dictionary page body */
	size_t *dict_off;  /* start of each entry's value bytes in dict */
	uint32_t *dict_len;
	uint32_t ndict, dict_cap;
	uint32_t *hash;    /* open addressing: entry index + 1, 0 = empty */
	uint32_t hash_cap;

	/* current chunk */
	struct buf chunk;  /* data pages with headers */
	int64_t chunk_unc; /* uncompressed size of those pages, headers included */
	int64_t chunk_values, chunk_nulls;
	int dict_pages, plain_pages;
	struct buf cmin, cmax; /* PLAIN form, no length prefix */
	int chunk_has_minmax;
	int chunk_stats_too_big;

	/* whole file */
	struct pq_column_metrics m;
	struct buf fmin, fmax;
	int file_has_minmax;
};

struct pq_writer {
	struct column *cols;
	size_t ncols;
	struct pq_options opt;
	char *created_by;
	pq_write_fn fn;
	void *ctx;
	uint64_t offset;
	int failed, closed;
	char err[256];

	int64_t rows, rg_rows;
	struct buf row_groups; /* encoded RowGroup structs, concatenated */
	uint32_t nrow_groups;
	int64_t *rg_offsets;
	size_t rg_offsets_cap;
	struct buf kv;         /* encoded KeyValue structs */
	uint32_t nkv;

	struct buf scratch, packed, header;
	ZSTD_CCtx *zctx;
};

static int fail(struct pq_writer *w, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int fail(struct pq_writer *w, const char *fmt, ...)
{
	if (!w->failed) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(w->err, sizeof(w->err), fmt, ap);
		va_end(ap);
	}
	w->failed = 1;
	return -1;
}

int pq_write_file(void *ctx, const void *data, size_t n)
{
	return fwrite(data, 1, n, (FILE *)ctx) == n ? 0 : -1;
}

static int emit(struct pq_writer *w, const void *p, size_t n)
{
	if (w->failed)
		return -1;
	if (n && w->fn(w->ctx, p, n) != 0)
		return fail(w, "write failed at offset %llu: %s",
			    (unsigned long long)w->offset, strerror(errno));
	w->offset += n;
	return 0;
}

/* ---------------------------------------------------------------- encoding */

static void put_le32(unsigned char *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static void buf_add_le32(struct buf *b, uint32_t v)
{
	unsigned char t[4];
	put_le32(t, v);
	buf_add(b, t, 4);
}

static uint32_t get_le32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get_le64(const unsigned char *p)
{
	return (uint64_t)get_le32(p) | (uint64_t)get_le32(p + 4) << 32;
}

/* Packs values LSB-first, bit_width bits each, n a multiple of 8 (padded with 0). */
static void bitpack(struct buf *out, const uint32_t *vals, size_t n, size_t padded, int bit_width)
{
	uint64_t acc = 0;
	int nbits = 0;
	for (size_t i = 0; i < padded; i++) {
		uint64_t v = i < n ? vals[i] : 0;
		acc |= v << nbits;
		nbits += bit_width;
		while (nbits >= 8) {
			buf_addch(out, (char)(acc & 0xff));
			acc >>= 8;
			nbits -= 8;
		}
	}
	/* padded * bit_width is a multiple of 8, so nothing is left over. */
}

static size_t run_length(const uint32_t *vals, size_t n, size_t i, size_t cap)
{
	size_t j = i + 1;
	while (j < n && j - i < cap && vals[j] == vals[i])
		j++;
	return j - i;
}

void pq_rle_hybrid(struct buf *out, const uint32_t *vals, size_t n, int bit_width)
{
	size_t vbytes = (size_t)(bit_width + 7) / 8;
	size_t i = 0;
	while (i < n) {
		size_t run = run_length(vals, n, i, (size_t)1 << 30);
		if (run >= 8) {
			buf_add_varint(out, (uint64_t)run << 1);
			for (size_t k = 0; k < vbytes; k++)
				buf_addch(out, (char)(vals[i] >> (8 * k)));
			i += run;
			continue;
		}
		/* Literal groups of 8 until a group boundary starts a run worth
		 * switching to RLE for (or the data ends: the last group is padded,
		 * which readers allow because they know the value count). */
		size_t j = i;
		while (j < n) {
			j += 8;
			if (j >= n || run_length(vals, n, j, 8) >= 8)
				break;
			if ((j - i) / 8 >= ((size_t)1 << 24))
				break;
		}
		size_t end = j < n ? j : n;
		size_t padded = (end - i + 7) / 8 * 8;
		buf_add_varint(out, (uint64_t)(padded / 8) << 1 | 1);
		bitpack(out, vals + i, end - i, padded, bit_width);
		i = end;
	}
}

static int bit_width_for(uint32_t maxval)
{
	int w = 0;
	while (w < 32 && (maxval >> w) != 0)
		w++;
	return w;
}

/* ------------------------------------------------------------- comparisons */

static int cmp_values(enum order ord, int phys, const unsigned char *a, size_t an,
		      const unsigned char *b, size_t bn)
{
	switch (ord) {
	case ORD_BOOL:
		return (a[0] > b[0]) - (a[0] < b[0]);
	case ORD_SIGNED:
		if (phys == PQ_PHYS_INT32) {
			int32_t x = (int32_t)get_le32(a), y = (int32_t)get_le32(b);
			return (x > y) - (x < y);
		} else {
			int64_t x = (int64_t)get_le64(a), y = (int64_t)get_le64(b);
			return (x > y) - (x < y);
		}
	case ORD_UNSIGNED:
		if (phys == PQ_PHYS_INT32) {
			uint32_t x = get_le32(a), y = get_le32(b);
			return (x > y) - (x < y);
		} else {
			uint64_t x = get_le64(a), y = get_le64(b);
			return (x > y) - (x < y);
		}
	case ORD_FLOAT: {
		double x, y;
		if (phys == PQ_PHYS_FLOAT) {
			float f, g;
			uint32_t u = get_le32(a), v = get_le32(b);
			memcpy(&f, &u, 4);
			memcpy(&g, &v, 4);
			x = f;
			y = g;
		} else {
			uint64_t u = get_le64(a), v = get_le64(b);
			memcpy(&x, &u, 8);
			memcpy(&y, &v, 8);
		}
		if (x < y)
			return -1;
		if (x > y)
			return 1;
		/* Equal, so only -0 vs +0 can differ: negative zero first. */
		return (signbit(y) != 0) - (signbit(x) != 0);
	}
	case ORD_SIGNED_FIXED:
		if (an && bn && (a[0] ^ b[0]) & 0x80)
			return (a[0] & 0x80) ? -1 : 1;
		/* Same sign: byte-wise order is numeric order. */
		__attribute__((fallthrough));
	case ORD_BYTES: {
		size_t n = an < bn ? an : bn;
		int c = n ? memcmp(a, b, n) : 0;
		if (c)
			return c < 0 ? -1 : 1;
		return (an > bn) - (an < bn);
	}
	}
	return 0;
}

static void merge_minmax(struct column *c, struct buf *mn, struct buf *mx, int *has,
			 const unsigned char *v, size_t n)
{
	if (!*has) {
		buf_reset(mn);
		buf_add(mn, v, n);
		buf_reset(mx);
		buf_add(mx, v, n);
		*has = 1;
		return;
	}
	if (cmp_values(c->order, c->phys, v, n, (unsigned char *)mn->p, mn->len) < 0) {
		buf_reset(mn);
		buf_add(mn, v, n);
	}
	if (cmp_values(c->order, c->phys, v, n, (unsigned char *)mx->p, mx->len) > 0) {
		buf_reset(mx);
		buf_add(mx, v, n);
	}
}

static int is_nan(const struct column *c, const unsigned char *v)
{
	if (c->phys == PQ_PHYS_FLOAT) {
		float f;
		uint32_t u = get_le32(v);
		memcpy(&f, &u, 4);
		return isnan(f);
	}
	if (c->phys == PQ_PHYS_DOUBLE) {
		double d;
		uint64_t u = get_le64(v);
		memcpy(&d, &u, 8);
		return isnan(d);
	}
	return 0;
}

/* -------------------------------------------------------------- dictionary */

/* xxh3, not a byte-at-a-time FNV: the dictionary probe is the writer's hot
 * spot, and FNV's low bits (the slot) cluster for sequential integers */
static uint32_t hash_bytes(const unsigned char *p, size_t n)
{
	return (uint32_t)XXH3_64bits(p, n);
}

static void dict_reset(struct column *c, int on)
{
	buf_reset(&c->dict);
	c->ndict = 0;
	if (c->hash)
		memset(c->hash, 0, c->hash_cap * sizeof(*c->hash));
	c->dict_on = on;
}

static void dict_rehash(struct column *c)
{
	uint32_t cap = c->hash_cap ? c->hash_cap * 2 : 1024;
	free(c->hash);
	c->hash = xcalloc(cap, sizeof(*c->hash));
	c->hash_cap = cap;
	for (uint32_t e = 0; e < c->ndict; e++) {
		uint32_t h = hash_bytes((unsigned char *)c->dict.p + c->dict_off[e], c->dict_len[e]);
		uint32_t s = h & (cap - 1);
		while (c->hash[s])
			s = (s + 1) & (cap - 1);
		c->hash[s] = e + 1;
	}
}

/* Index of v in the dictionary, adding it; -1 when it would exceed the limit. */
static int64_t dict_lookup(struct pq_writer *w, struct column *c, const unsigned char *v, size_t n)
{
	if (!c->hash_cap || (uint64_t)(c->ndict + 1) * 2 > c->hash_cap)
		dict_rehash(c);
	uint32_t s = hash_bytes(v, n) & (c->hash_cap - 1);
	while (c->hash[s]) {
		uint32_t e = c->hash[s] - 1;
		if (c->dict_len[e] == n && memcmp(c->dict.p + c->dict_off[e], v, n) == 0)
			return e;
		s = (s + 1) & (c->hash_cap - 1);
	}
	size_t add = n + (c->width ? 0 : 4);
	if (c->dict.len + add > w->opt.dictionary_bytes || c->ndict == UINT32_MAX - 1)
		return -1;
	if (c->ndict == c->dict_cap) {
		c->dict_cap = c->dict_cap ? c->dict_cap * 2 : 256;
		c->dict_off = xrealloc(c->dict_off, c->dict_cap * sizeof(*c->dict_off));
		c->dict_len = xrealloc(c->dict_len, c->dict_cap * sizeof(*c->dict_len));
	}
	if (!c->width)
		buf_add_le32(&c->dict, (uint32_t)n);
	c->dict_off[c->ndict] = c->dict.len;
	c->dict_len[c->ndict] = (uint32_t)n;
	buf_add(&c->dict, v, n);
	c->hash[s] = c->ndict + 1;
	return c->ndict++;
}

/* ------------------------------------------------------------------- pages */

static int compress(struct pq_writer *w, const struct buf *in, struct buf *out)
{
	buf_reset(out);
	switch (w->opt.codec) {
	case PQ_UNCOMPRESSED:
		buf_add(out, in->p, in->len);
		return 0;
	case PQ_SNAPPY: {
		size_t cap = snappy_max_compressed_length(in->len);
		buf_grow(out, cap);
		if (snappy_compress(in->p ? in->p : "", in->len, out->p, &cap) != SNAPPY_OK)
			return fail(w, "snappy compression failed");
		out->len = cap;
		return 0;
	}
	case PQ_ZSTD: {
		size_t cap = ZSTD_compressBound(in->len);
		buf_grow(out, cap);
		if (!w->zctx)
			w->zctx = ZSTD_createCCtx();
		size_t r = ZSTD_compressCCtx(w->zctx, out->p, cap, in->p ? in->p : "", in->len,
					     w->opt.zstd_level ? w->opt.zstd_level : ZSTD_CLEVEL_DEFAULT);
		if (ZSTD_isError(r))
			return fail(w, "zstd compression failed: %s", ZSTD_getErrorName(r));
		out->len = r;
		return 0;
	}
	}
	return fail(w, "unknown codec %d", (int)w->opt.codec);
}

static void page_header(struct buf *out, int type, size_t unc, size_t comp, int32_t nvalues,
			int encoding)
{
	struct tc t;
	tc_init(&t, out);
	tc_struct_begin(&t);
	tc_field_i32(&t, 1, type);
	tc_field_i32(&t, 2, (int32_t)unc);
	tc_field_i32(&t, 3, (int32_t)comp);
	if (type == PAGE_DATA) {
		tc_field_struct(&t, 5);
		tc_field_i32(&t, 1, nvalues);
		tc_field_i32(&t, 2, encoding);
		tc_field_i32(&t, 3, ENC_RLE);
		tc_field_i32(&t, 4, ENC_RLE);
		tc_struct_end(&t);
	} else {
		tc_field_struct(&t, 7);
		tc_field_i32(&t, 1, nvalues);
		tc_field_i32(&t, 2, ENC_PLAIN);
		tc_struct_end(&t);
	}
	tc_struct_end(&t);
}

static size_t page_estimate(const struct column *c)
{
	return c->vals.len + c->nidx * 4 + c->nlev / 8;
}

static int flush_page(struct pq_writer *w, struct column *c)
{
	if (!c->page_values)
		return 0;
	struct buf *body = &w->scratch;
	buf_reset(body);
	if (c->spec.optional) {
		buf_add_le32(body, 0);
		size_t at = body->len;
		pq_rle_hybrid(body, c->lev, c->nlev, 1);
		put_le32((unsigned char *)body->p + at - 4, (uint32_t)(body->len - at));
	}
	int encoding;
	/* An all-null page has no values, so PLAIN: a dictionary page may not exist. */
	if (c->nidx) {
		int bw = bit_width_for(c->ndict ? c->ndict - 1 : 0);
		buf_addch(body, (char)bw);
		pq_rle_hybrid(body, c->idx, c->nidx, bw);
		encoding = ENC_RLE_DICTIONARY;
		c->dict_pages++;
	} else {
		if (c->phys == PQ_PHYS_BOOLEAN) {
			size_t n = c->vals.len;
			uint32_t tmp[8];
			for (size_t i = 0; i < n; i += 8) {
				size_t k = n - i < 8 ? n - i : 8;
				for (size_t j = 0; j < 8; j++)
					tmp[j] = j < k ? (unsigned char)c->vals.p[i + j] : 0;
				bitpack(body, tmp, 8, 8, 1);
			}
			/* bitpack wrote whole bytes; exactly ceil(n/8) of them. */
		} else {
			buf_add(body, c->vals.p, c->vals.len);
		}
		encoding = ENC_PLAIN;
		c->plain_pages++;
	}
	if (body->len > INT32_MAX)
		return fail(w, "column %s: page of %zu bytes is too large", c->spec.name, body->len);
	if (compress(w, body, &w->packed))
		return -1;
	buf_reset(&w->header);
	page_header(&w->header, PAGE_DATA, body->len, w->packed.len, (int32_t)c->page_values,
		    encoding);
	buf_add(&c->chunk, w->header.p, w->header.len);
	buf_add(&c->chunk, w->packed.p, w->packed.len);
	c->chunk_unc += (int64_t)(w->header.len + body->len);
	buf_reset(&c->vals);
	c->nidx = c->nlev = 0;
	c->page_values = 0;
	return 0;
}

static void push_u32(uint32_t **a, size_t *n, size_t *cap, uint32_t v)
{
	if (*n == *cap) {
		*cap = *cap ? *cap * 2 : 1024;
		*a = xrealloc(*a, *cap * sizeof(**a));
	}
	(*a)[(*n)++] = v;
}

/* ------------------------------------------------------------------ values */

static struct column *column_for(struct pq_writer *w, int col)
{
	if (w->failed || w->closed)
		return NULL;
	if (col < 0 || (size_t)col >= w->ncols) {
		fail(w, "no column %d", col);
		return NULL;
	}
	struct column *c = &w->cols[col];
	if (c->got) {
		fail(w, "column %s: two values in one row", c->spec.name);
		return NULL;
	}
	return c;
}

static int add_value(struct pq_writer *w, struct column *c, const void *vp, size_t n)
{
	const unsigned char *v = vp;
	c->got = 1;
	c->page_values++;
	if (c->spec.optional)
		push_u32(&c->lev, &c->nlev, &c->lev_cap, 1);

	if (c->order == ORD_FLOAT && is_nan(c, v)) {
		c->m.nan_count++;
	} else {
		merge_minmax(c, &c->cmin, &c->cmax, &c->chunk_has_minmax, v, n);
		if (!c->width && n > w->opt.stats_max_bytes)
			c->chunk_stats_too_big = 1;
	}

	if (c->dict_on) {
		int64_t e = dict_lookup(w, c, v, n);
		if (e >= 0) {
			push_u32(&c->idx, &c->nidx, &c->idx_cap, (uint32_t)e);
			goto added;
		}
		/* Dictionary full: finish the dictionary-encoded page (without
		 * this value), then PLAIN for the rest of the chunk. */
		c->page_values--;
		if (c->spec.optional)
			c->nlev--;
		if (flush_page(w, c))
			return -1;
		c->dict_on = 0;
		c->page_values++;
		if (c->spec.optional)
			push_u32(&c->lev, &c->nlev, &c->lev_cap, 1);
	}
	if (!c->width)
		buf_add_le32(&c->vals, (uint32_t)n);
	buf_add(&c->vals, v, n);
added:
	if (page_estimate(c) >= w->opt.page_bytes)
		return flush_page(w, c);
	return 0;
}

int pq_write_null(struct pq_writer *w, int col)
{
	struct column *c = column_for(w, col);
	if (!c)
		return -1;
	if (!c->spec.optional)
		return fail(w, "column %s is required: null not allowed", c->spec.name);
	c->got = 1;
	c->page_values++;
	c->chunk_nulls++;
	push_u32(&c->lev, &c->nlev, &c->lev_cap, 0);
	if (page_estimate(c) >= w->opt.page_bytes)
		return flush_page(w, c);
	return 0;
}

static struct column *typed(struct pq_writer *w, int col, enum pq_physical phys, const char *fn)
{
	struct column *c = column_for(w, col);
	if (c && c->phys != phys) {
		fail(w, "column %s: %s does not match its physical type", c->spec.name, fn);
		return NULL;
	}
	return c;
}

int pq_write_bool(struct pq_writer *w, int col, int v)
{
	struct column *c = typed(w, col, PQ_PHYS_BOOLEAN, "pq_write_bool");
	unsigned char b = v ? 1 : 0;
	return c ? add_value(w, c, &b, 1) : -1;
}

int pq_write_int32(struct pq_writer *w, int col, int32_t v)
{
	struct column *c = typed(w, col, PQ_PHYS_INT32, "pq_write_int32");
	unsigned char b[4];
	put_le32(b, (uint32_t)v);
	return c ? add_value(w, c, b, 4) : -1;
}

int pq_write_int64(struct pq_writer *w, int col, int64_t v)
{
	struct column *c = typed(w, col, PQ_PHYS_INT64, "pq_write_int64");
	unsigned char b[8];
	for (int i = 0; i < 8; i++)
		b[i] = (unsigned char)((uint64_t)v >> (8 * i));
	return c ? add_value(w, c, b, 8) : -1;
}

int pq_write_float(struct pq_writer *w, int col, float v)
{
	struct column *c = typed(w, col, PQ_PHYS_FLOAT, "pq_write_float");
	uint32_t u;
	unsigned char b[4];
	memcpy(&u, &v, 4);
	put_le32(b, u);
	return c ? add_value(w, c, b, 4) : -1;
}

int pq_write_double(struct pq_writer *w, int col, double v)
{
	struct column *c = typed(w, col, PQ_PHYS_DOUBLE, "pq_write_double");
	uint64_t u;
	unsigned char b[8];
	memcpy(&u, &v, 8);
	for (int i = 0; i < 8; i++)
		b[i] = (unsigned char)(u >> (8 * i));
	return c ? add_value(w, c, b, 8) : -1;
}

int pq_write_bytes(struct pq_writer *w, int col, const void *p, size_t n)
{
	struct column *c = column_for(w, col);
	if (!c)
		return -1;
	if (c->phys == PQ_PHYS_BYTE_ARRAY) {
		if (n > INT32_MAX)
			return fail(w, "column %s: value of %zu bytes is too large", c->spec.name, n);
	} else if (c->phys != PQ_PHYS_FIXED || c->spec.kind == PQ_DECIMAL) {
		return fail(w, "column %s: pq_write_bytes does not match its type", c->spec.name);
	} else if (n != (size_t)c->width) {
		return fail(w, "column %s: %zu bytes, expected %d", c->spec.name, n, c->width);
	}
	return add_value(w, c, n ? p : "", n);
}

/* Sign-extends or narrows a big-endian two's complement integer to width bytes. */
static int fit_twos(const unsigned char *be, size_t n, unsigned char *out, size_t width)
{
	unsigned char sign = n && (be[0] & 0x80) ? 0xff : 0x00;
	for (size_t i = 0; i < width; i++) {
		size_t from_end = width - 1 - i;
		out[i] = from_end < n ? be[n - 1 - from_end] : sign;
	}
	/* Bytes dropped from the front must be pure sign extension. */
	for (size_t i = 0; i + width < n; i++)
		if (be[i] != sign)
			return -1;
	return width && ((out[0] & 0x80) ? 0xff : 0x00) != sign ? -1 : 0;
}

int pq_write_decimal(struct pq_writer *w, int col, const void *be, size_t n)
{
	struct column *c = column_for(w, col);
	if (!c)
		return -1;
	if (c->spec.kind != PQ_DECIMAL)
		return fail(w, "column %s is not a decimal", c->spec.name);
	unsigned char v[16];
	size_t width = c->phys == PQ_PHYS_INT32 ? 4 : c->phys == PQ_PHYS_INT64 ? 8 : (size_t)c->width;
	if (fit_twos(be, n, v, width))
		return fail(w, "column %s: decimal value does not fit %d digits", c->spec.name,
			    c->spec.precision);
	if (c->phys == PQ_PHYS_FIXED)
		return add_value(w, c, v, width);
	/* INT32/INT64 PLAIN values are little-endian. */
	unsigned char le[8];
	for (size_t i = 0; i < width; i++)
		le[i] = v[width - 1 - i];
	return add_value(w, c, le, width);
}

int pq_write_decimal_text(struct pq_writer *w, int col, const char *text)
{
	struct column *c = column_for(w, col);
	if (!c)
		return -1;
	if (c->spec.kind != PQ_DECIMAL)
		return fail(w, "column %s is not a decimal", c->spec.name);
	const char *s = text;
	int neg = 0, digits = 0, frac = 0, seen_point = 0, any = 0;
	unsigned char mag[17] = { 0 }; /* big-endian magnitude; 10^38 < 2^127 */
	if (*s == '-' || *s == '+')
		neg = *s++ == '-';
	for (; *s; s++) {
		if (*s == '.' && !seen_point) {
			seen_point = 1;
			continue;
		}
		if (*s < '0' || *s > '9')
			goto bad;
		any = 1;
		if (seen_point && frac == c->spec.scale) {
			if (*s != '0')
				return fail(w, "column %s: \"%s\" has more than %d decimals",
					    c->spec.name, text, c->spec.scale);
			continue;
		}
		if (seen_point)
			frac++;
		if (!digits && *s == '0')
			continue;
		if (++digits > c->spec.precision)
			goto range;
		unsigned carry = (unsigned)(*s - '0');
		for (int i = 16; i >= 0; i--) {
			unsigned x = mag[i] * 10u + carry;
			mag[i] = (unsigned char)x;
			carry = x >> 8;
		}
	}
	if (!any)
		goto bad;
	for (; frac < c->spec.scale; frac++) {
		if (digits && ++digits > c->spec.precision)
			goto range;
		unsigned carry = 0;
		for (int i = 16; i >= 0; i--) {
			unsigned x = mag[i] * 10u + carry;
			mag[i] = (unsigned char)x;
			carry = x >> 8;
		}
	}
	if (neg) {
		unsigned carry = 1;
		for (int i = 16; i >= 0; i--) {
			unsigned x = (unsigned char)~mag[i] + carry;
			mag[i] = (unsigned char)x;
			carry = x >> 8;
		}
	}
	return pq_write_decimal(w, col, mag, sizeof(mag));
bad:
	return fail(w, "column %s: \"%s\" is not a decimal number", c->spec.name, text);
range:
	return fail(w, "column %s: \"%s\" exceeds precision %d", c->spec.name, text,
		    c->spec.precision);
}

/* ------------------------------------------------------------- row groups */

static void stat_value(struct buf *out, const struct column *c, const struct buf *v, int is_max)
{
	buf_reset(out);
	buf_add(out, v->p, v->len);
	/* parquet-format: a zero min is written as -0.0, a zero max as +0.0,
	 * so readers comparing either way never prune a zero away. */
	if (c->order == ORD_FLOAT) {
		unsigned char *p = (unsigned char *)out->p;
		size_t hi = out->len - 1;
		int zero = 1;
		for (size_t i = 0; i < hi; i++)
			zero &= p[i] == 0;
		zero &= (p[hi] & 0x7f) == 0;
		if (zero)
			p[hi] = is_max ? 0x00 : 0x80;
	}
}

static void encode_statistics(struct pq_writer *w, struct tc *t, struct column *c)
{
	tc_field_struct(t, 12);
	int minmax = c->chunk_has_minmax && !c->chunk_stats_too_big;
	/* The deprecated min/max were compared as signed by old readers: only
	 * where that order is the type's order. */
	int legacy = minmax && (c->order == ORD_BOOL || c->order == ORD_SIGNED ||
				c->order == ORD_FLOAT);
	struct buf mx = BUF_INIT, mn = BUF_INIT;
	if (minmax) {
		stat_value(&mx, c, &c->cmax, 1);
		stat_value(&mn, c, &c->cmin, 0);
	}
	if (legacy) {
		tc_field_binary(t, 1, mx.p, mx.len);
		tc_field_binary(t, 2, mn.p, mn.len);
	}
	tc_field_i64(t, 3, c->chunk_nulls);
	if (minmax) {
		tc_field_binary(t, 5, mx.p, mx.len);
		tc_field_binary(t, 6, mn.p, mn.len);
	}
	tc_struct_end(t);
	buf_release(&mx);
	buf_release(&mn);
	(void)w;
}

/* Writes one column chunk and encodes its ColumnChunk struct into rg. */
static int flush_chunk(struct pq_writer *w, struct column *c, struct tc *rg, int64_t *unc_total,
		       int64_t *comp_total, int64_t *first_offset)
{
	if (flush_page(w, c))
		return -1;
	int64_t start = (int64_t)w->offset;
	int64_t dict_offset = -1, unc = 0, comp = 0;
	int has_dict = c->ndict > 0 && c->dict_pages > 0;
	if (has_dict) {
		if (compress(w, &c->dict, &w->packed))
			return -1;
		buf_reset(&w->header);
		page_header(&w->header, PAGE_DICTIONARY, c->dict.len, w->packed.len,
			    (int32_t)c->ndict, ENC_PLAIN);
		dict_offset = start;
		if (emit(w, w->header.p, w->header.len) || emit(w, w->packed.p, w->packed.len))
			return -1;
		unc += (int64_t)(w->header.len + c->dict.len);
		comp += (int64_t)(w->header.len + w->packed.len);
	}
	int64_t data_offset = (int64_t)w->offset;
	if (emit(w, c->chunk.p, c->chunk.len))
		return -1;
	unc += c->chunk_unc;
	comp += (int64_t)c->chunk.len;
	if (*first_offset < 0)
		*first_offset = start;
	*unc_total += unc;
	*comp_total += comp;

	tc_struct_begin(rg);
	/* Deprecated; parquet-mr puts the chunk start here and readers ignore it. */
	tc_field_i64(rg, 2, start);
	tc_field_struct(rg, 3);
	tc_field_i32(rg, 1, c->phys);
	int nenc = has_dict ? 3 : 2;
	tc_field_list(rg, 2, TC_I32, (uint32_t)nenc);
	tc_elem_i32(rg, ENC_PLAIN);
	tc_elem_i32(rg, ENC_RLE);
	if (has_dict)
		tc_elem_i32(rg, ENC_RLE_DICTIONARY);
	tc_field_list(rg, 3, TC_BINARY, 1);
	tc_elem_string(rg, c->spec.name);
	tc_field_i32(rg, 4, w->opt.codec);
	tc_field_i64(rg, 5, c->chunk_values);
	tc_field_i64(rg, 6, unc);
	tc_field_i64(rg, 7, comp);
	tc_field_i64(rg, 9, data_offset);
	if (has_dict)
		tc_field_i64(rg, 11, dict_offset);
	encode_statistics(w, rg, c);
	int nstats = (has_dict ? 1 : 0) + (c->dict_pages ? 1 : 0) + (c->plain_pages ? 1 : 0);
	tc_field_list(rg, 13, TC_STRUCT, (uint32_t)nstats);
	if (has_dict) {
		tc_struct_begin(rg);
		tc_field_i32(rg, 1, PAGE_DICTIONARY);
		tc_field_i32(rg, 2, ENC_PLAIN);
		tc_field_i32(rg, 3, 1);
		tc_struct_end(rg);
	}
	if (c->dict_pages) {
		tc_struct_begin(rg);
		tc_field_i32(rg, 1, PAGE_DATA);
		tc_field_i32(rg, 2, ENC_RLE_DICTIONARY);
		tc_field_i32(rg, 3, c->dict_pages);
		tc_struct_end(rg);
	}
	if (c->plain_pages) {
		tc_struct_begin(rg);
		tc_field_i32(rg, 1, PAGE_DATA);
		tc_field_i32(rg, 2, ENC_PLAIN);
		tc_field_i32(rg, 3, c->plain_pages);
		tc_struct_end(rg);
	}
	tc_struct_end(rg); /* ColumnMetaData */
	tc_struct_end(rg); /* ColumnChunk */

	c->m.value_count += c->chunk_values;
	c->m.null_count += c->chunk_nulls;
	c->m.column_size += comp;
	if (c->chunk_has_minmax) {
		merge_minmax(c, &c->fmin, &c->fmax, &c->file_has_minmax,
			     (unsigned char *)c->cmin.p, c->cmin.len);
		merge_minmax(c, &c->fmin, &c->fmax, &c->file_has_minmax,
			     (unsigned char *)c->cmax.p, c->cmax.len);
	}

	buf_reset(&c->chunk);
	c->chunk_unc = c->chunk_values = c->chunk_nulls = 0;
	c->dict_pages = c->plain_pages = 0;
	c->chunk_has_minmax = c->chunk_stats_too_big = 0;
	dict_reset(c, !w->opt.no_dictionary && !c->spec.no_dictionary &&
			      c->phys != PQ_PHYS_BOOLEAN);
	return 0;
}

static int flush_row_group(struct pq_writer *w)
{
	if (!w->rg_rows)
		return 0;
	struct buf rgb = BUF_INIT;
	struct tc t;
	tc_init(&t, &rgb);
	tc_struct_begin(&t);
	tc_field_list(&t, 1, TC_STRUCT, (uint32_t)w->ncols);
	int64_t unc = 0, comp = 0, first = -1;
	for (size_t i = 0; i < w->ncols; i++) {
		if (flush_chunk(w, &w->cols[i], &t, &unc, &comp, &first)) {
			buf_release(&rgb);
			return -1;
		}
	}
	tc_field_i64(&t, 2, unc);
	tc_field_i64(&t, 3, w->rg_rows);
	tc_field_i64(&t, 5, first);
	tc_field_i64(&t, 6, comp);
	tc_field_i16(&t, 7, (int16_t)w->nrow_groups);
	tc_struct_end(&t);
	buf_add(&w->row_groups, rgb.p, rgb.len);
	buf_release(&rgb);
	if (w->nrow_groups == w->rg_offsets_cap) {
		w->rg_offsets_cap = w->rg_offsets_cap ? w->rg_offsets_cap * 2 : 8;
		w->rg_offsets = xrealloc(w->rg_offsets, w->rg_offsets_cap * sizeof(int64_t));
	}
	w->rg_offsets[w->nrow_groups++] = first;
	w->rg_rows = 0;
	return 0;
}

int pq_end_row(struct pq_writer *w)
{
	if (w->failed || w->closed)
		return -1;
	size_t buffered = 0;
	for (size_t i = 0; i < w->ncols; i++) {
		struct column *c = &w->cols[i];
		if (!c->got)
			return fail(w, "column %s: no value in row %lld", c->spec.name,
				    (long long)w->rows);
		c->got = 0;
		c->chunk_values++;
		buffered += c->chunk.len + page_estimate(c) + c->dict.len;
	}
	w->rows++;
	w->rg_rows++;
	if (w->rg_rows >= INT32_MAX / 2 || buffered >= w->opt.row_group_bytes)
		return flush_row_group(w);
	return 0;
}

/* ------------------------------------------------------------------- setup */

static int decimal_max_precision(int bytes)
{
	/* floor(log10(2^(8*bytes-1) - 1)) for 1..16 bytes */
	static const int p[] = { 0, 2, 4, 6, 9, 11, 14, 16, 18, 21, 23, 26, 28, 31, 33, 35, 38 };
	return p[bytes];
}

int pq_decimal_bytes(int precision)
{
	for (int n = 1; n <= 16; n++)
		if (decimal_max_precision(n) >= precision)
			return n;
	return -1;
}

static int setup_column(struct column *c, const struct pq_column_spec *s, char *err, size_t errlen)
{
	c->spec = *s;
	c->converted = CT_NONE;
	c->order = ORD_SIGNED;
	if (!s->name || !*s->name) {
		snprintf(err, errlen, "column without a name");
		return -1;
	}
	if (s->field_id < 0) {
		snprintf(err, errlen, "column %s: field id %d", s->name, (int)s->field_id);
		return -1;
	}
	switch (s->kind) {
	case PQ_BOOLEAN:
		c->phys = PQ_PHYS_BOOLEAN;
		c->width = 1;
		c->order = ORD_BOOL;
		break;
	case PQ_INT32:
		c->phys = PQ_PHYS_INT32;
		break;
	case PQ_DATE:
		c->phys = PQ_PHYS_INT32;
		c->converted = CT_DATE;
		break;
	case PQ_INT64:
		c->phys = PQ_PHYS_INT64;
		break;
	case PQ_TIME:
		c->phys = PQ_PHYS_INT64;
		c->converted = CT_TIME_MICROS;
		break;
	case PQ_TIMESTAMP:
	case PQ_TIMESTAMPTZ:
		c->phys = PQ_PHYS_INT64;
		c->converted = CT_TIMESTAMP_MICROS;
		break;
	case PQ_FLOAT:
		c->phys = PQ_PHYS_FLOAT;
		c->order = ORD_FLOAT;
		break;
	case PQ_DOUBLE:
		c->phys = PQ_PHYS_DOUBLE;
		c->order = ORD_FLOAT;
		break;
	case PQ_STRING:
		c->phys = PQ_PHYS_BYTE_ARRAY;
		c->converted = CT_UTF8;
		c->order = ORD_BYTES;
		break;
	case PQ_BINARY:
		c->phys = PQ_PHYS_BYTE_ARRAY;
		c->order = ORD_BYTES;
		break;
	case PQ_FIXED:
		if (s->length < 1) {
			snprintf(err, errlen, "column %s: fixed length %d", s->name, s->length);
			return -1;
		}
		c->phys = PQ_PHYS_FIXED;
		c->width = s->length;
		c->order = ORD_BYTES;
		break;
	case PQ_UUID:
		c->phys = PQ_PHYS_FIXED;
		c->width = 16;
		c->spec.length = 16;
		c->order = ORD_BYTES;
		break;
	case PQ_DECIMAL:
		if (s->precision < 1 || s->precision > 38 || s->scale < 0 ||
		    s->scale > s->precision) {
			snprintf(err, errlen, "column %s: decimal(%d,%d) unsupported", s->name,
				 s->precision, s->scale);
			return -1;
		}
		c->converted = CT_DECIMAL;
		if (s->precision <= 9) {
			c->phys = PQ_PHYS_INT32;
		} else if (s->precision <= 18) {
			c->phys = PQ_PHYS_INT64;
		} else {
			c->phys = PQ_PHYS_FIXED;
			c->width = pq_decimal_bytes(s->precision);
			c->spec.length = c->width;
			c->order = ORD_SIGNED_FIXED;
		}
		break;
	case PQ_INT:
		if (s->bits != 8 && s->bits != 16 && s->bits != 32 && s->bits != 64) {
			snprintf(err, errlen, "column %s: integer of %d bits", s->name, s->bits);
			return -1;
		}
		c->phys = s->bits == 64 ? PQ_PHYS_INT64 : PQ_PHYS_INT32;
		c->order = s->is_unsigned ? ORD_UNSIGNED : ORD_SIGNED;
		/* INT_8..INT_64 and UINT_8..UINT_64 are consecutive in parquet.thrift. */
		c->converted = (s->is_unsigned ? CT_UINT_8 : CT_INT_8) +
			       (s->bits == 8 ? 0 : s->bits == 16 ? 1 : s->bits == 32 ? 2 : 3);
		break;
	default:
		snprintf(err, errlen, "column %s: unknown kind %d", s->name, (int)s->kind);
		return -1;
	}
	if (c->phys == PQ_PHYS_INT32 || c->phys == PQ_PHYS_FLOAT)
		c->width = 4;
	else if (c->phys == PQ_PHYS_INT64 || c->phys == PQ_PHYS_DOUBLE)
		c->width = 8;
	c->spec.name = xstrdup(s->name);
	return 0;
}

struct pq_writer *pq_open(const struct pq_column_spec *cols, size_t ncols,
			  const struct pq_options *opt, pq_write_fn fn, void *ctx,
			  char *err, size_t errlen)
{
	if (!ncols) {
		snprintf(err, errlen, "no columns");
		return NULL;
	}
	struct pq_writer *w = xcalloc(1, sizeof(*w));
	if (opt)
		w->opt = *opt;
	if (!w->opt.row_group_bytes)
		w->opt.row_group_bytes = (size_t)128 << 20;
	if (!w->opt.page_bytes)
		w->opt.page_bytes = (size_t)1 << 20;
	if (!w->opt.dictionary_bytes)
		w->opt.dictionary_bytes = (size_t)1 << 20;
	if (!w->opt.stats_max_bytes)
		w->opt.stats_max_bytes = 4096;
	if (w->opt.codec != PQ_UNCOMPRESSED && w->opt.codec != PQ_SNAPPY &&
	    w->opt.codec != PQ_ZSTD) {
		snprintf(err, errlen, "unsupported codec %d", (int)w->opt.codec);
		free(w);
		return NULL;
	}
	w->created_by = xstrdup(w->opt.created_by ? w->opt.created_by : PQ_CREATED_BY);
	w->opt.created_by = w->created_by;
	w->fn = fn;
	w->ctx = ctx;
	w->cols = xcalloc(ncols, sizeof(*w->cols));
	for (size_t i = 0; i < ncols; i++) {
		struct column *c = &w->cols[i];
		if (setup_column(c, &cols[i], err, errlen)) {
			w->ncols = i;
			pq_free(w);
			return NULL;
		}
		w->ncols = i + 1;
		dict_reset(c, !w->opt.no_dictionary && !c->spec.no_dictionary &&
				      c->phys != PQ_PHYS_BOOLEAN);
	}
	if (emit(w, "PAR1", 4)) {
		snprintf(err, errlen, "%s", w->err);
		pq_free(w);
		return NULL;
	}
	return w;
}

void pq_add_metadata(struct pq_writer *w, const char *key, const char *value)
{
	struct tc t;
	tc_init(&t, &w->kv);
	tc_struct_begin(&t);
	tc_field_string(&t, 1, key);
	tc_field_string(&t, 2, value);
	tc_struct_end(&t);
	w->nkv++;
}

static void encode_schema_element(struct tc *t, const struct column *c)
{
	const struct pq_column_spec *s = &c->spec;
	tc_struct_begin(t);
	tc_field_i32(t, 1, c->phys);
	if (c->phys == PQ_PHYS_FIXED)
		tc_field_i32(t, 2, c->width);
	tc_field_i32(t, 3, s->optional ? REP_OPTIONAL : REP_REQUIRED);
	tc_field_string(t, 4, s->name);
	if (c->converted != CT_NONE)
		tc_field_i32(t, 6, c->converted);
	if (s->kind == PQ_DECIMAL) {
		tc_field_i32(t, 7, s->scale);
		tc_field_i32(t, 8, s->precision);
	}
	tc_field_i32(t, 9, s->field_id);
	switch (s->kind) {
	case PQ_STRING:
		tc_field_struct(t, 10);
		tc_field_empty_struct(t, 1);
		tc_struct_end(t);
		break;
	case PQ_UUID:
		tc_field_struct(t, 10);
		tc_field_empty_struct(t, 14);
		tc_struct_end(t);
		break;
	case PQ_DATE:
		tc_field_struct(t, 10);
		tc_field_empty_struct(t, 6);
		tc_struct_end(t);
		break;
	case PQ_DECIMAL:
		tc_field_struct(t, 10);
		tc_field_struct(t, 5);
		tc_field_i32(t, 1, s->scale);
		tc_field_i32(t, 2, s->precision);
		tc_struct_end(t);
		tc_struct_end(t);
		break;
	case PQ_TIME:
	case PQ_TIMESTAMP:
	case PQ_TIMESTAMPTZ:
		tc_field_struct(t, 10);
		tc_field_struct(t, s->kind == PQ_TIME ? 7 : 8);
		tc_field_bool(t, 1, s->kind == PQ_TIMESTAMPTZ);
		tc_field_struct(t, 2);
		tc_field_empty_struct(t, 2); /* TimeUnit.MICROS */
		tc_struct_end(t);
		tc_struct_end(t);
		tc_struct_end(t);
		break;
	case PQ_INT:
		tc_field_struct(t, 10);
		tc_field_struct(t, 10);
		tc_field_i8(t, 1, (int8_t)s->bits);
		tc_field_bool(t, 2, !s->is_unsigned);
		tc_struct_end(t);
		tc_struct_end(t);
		break;
	default:
		break;
	}
	tc_struct_end(t);
}

int pq_close(struct pq_writer *w, uint64_t *size)
{
	if (w->failed || w->closed)
		return -1;
	for (size_t i = 0; i < w->ncols; i++)
		if (w->cols[i].got)
			return fail(w, "pq_close inside an unfinished row");
	if (flush_row_group(w))
		return -1;

	struct buf f = BUF_INIT;
	struct tc t;
	tc_init(&t, &f);
	tc_struct_begin(&t);
	tc_field_i32(&t, 1, 1);
	tc_field_list(&t, 2, TC_STRUCT, (uint32_t)w->ncols + 1);
	tc_struct_begin(&t);
	tc_field_string(&t, 4, "schema");
	tc_field_i32(&t, 5, (int32_t)w->ncols);
	tc_struct_end(&t);
	for (size_t i = 0; i < w->ncols; i++)
		encode_schema_element(&t, &w->cols[i]);
	tc_field_i64(&t, 3, w->rows);
	/* The RowGroup structs were encoded standalone; list elements are exactly that. */
	tc_field_list(&t, 4, TC_STRUCT, w->nrow_groups);
	buf_add(&f, w->row_groups.p, w->row_groups.len);
	if (w->nkv) {
		tc_field_list(&t, 5, TC_STRUCT, w->nkv);
		buf_add(&f, w->kv.p, w->kv.len);
	}
	tc_field_string(&t, 6, w->created_by);
	/* Without column_orders, min_value/max_value have no defined order. */
	tc_field_list(&t, 7, TC_STRUCT, (uint32_t)w->ncols);
	for (size_t i = 0; i < w->ncols; i++) {
		tc_struct_begin(&t);
		tc_field_empty_struct(&t, 1); /* TYPE_ORDER */
		tc_struct_end(&t);
	}
	tc_struct_end(&t);

	unsigned char tail[8];
	put_le32(tail, (uint32_t)f.len);
	memcpy(tail + 4, "PAR1", 4);
	int rc = emit(w, f.p, f.len) || emit(w, tail, 8) ? -1 : 0;
	buf_release(&f);
	if (rc)
		return -1;

	/* Iceberg bounds from the file-wide min/max. */
	for (size_t i = 0; i < w->ncols; i++) {
		struct column *c = &w->cols[i];
		c->m.has_bounds = c->file_has_minmax;
		if (!c->file_has_minmax)
			continue;
		for (int k = 0; k < 2; k++) {
			struct buf *src = k ? &c->fmax : &c->fmin;
			struct buf *dst = k ? &c->m.upper : &c->m.lower;
			buf_reset(dst);
			if (c->spec.kind != PQ_DECIMAL) {
				buf_add(dst, src->p, src->len);
				continue;
			}
			/* Iceberg decimals: big-endian two's complement, minimal bytes. */
			unsigned char be[16];
			size_t n = src->len;
			const unsigned char *s = (unsigned char *)src->p;
			for (size_t j = 0; j < n; j++)
				be[j] = c->phys == PQ_PHYS_FIXED ? s[j] : s[n - 1 - j];
			size_t skip = 0;
			while (skip + 1 < n &&
			       ((be[skip] == 0x00 && !(be[skip + 1] & 0x80)) ||
				(be[skip] == 0xff && (be[skip + 1] & 0x80))))
				skip++;
			buf_add(dst, be + skip, n - skip);
		}
	}
	w->closed = 1;
	if (size)
		*size = w->offset;
	return 0;
}

int64_t pq_num_rows(const struct pq_writer *w)
{
	return w->rows;
}

const struct pq_column_metrics *pq_metrics(const struct pq_writer *w, int col)
{
	if (col < 0 || (size_t)col >= w->ncols)
		return NULL;
	return &w->cols[col].m;
}

const int64_t *pq_row_group_offsets(const struct pq_writer *w, size_t *n)
{
	*n = w->nrow_groups;
	return w->rg_offsets;
}

enum pq_physical pq_column_physical(const struct pq_writer *w, int col)
{
	return w->cols[col].phys;
}

const char *pq_error(const struct pq_writer *w)
{
	return w->failed ? w->err : "";
}

void pq_free(struct pq_writer *w)
{
	if (!w)
		return;
	for (size_t i = 0; i < w->ncols; i++) {
		struct column *c = &w->cols[i];
		free((char *)c->spec.name);
		buf_release(&c->vals);
		free(c->idx);
		free(c->lev);
		buf_release(&c->dict);
		free(c->dict_off);
		free(c->dict_len);
		free(c->hash);
		buf_release(&c->chunk);
		buf_release(&c->cmin);
		buf_release(&c->cmax);
		buf_release(&c->fmin);
		buf_release(&c->fmax);
		buf_release(&c->m.lower);
		buf_release(&c->m.upper);
	}
	free(w->cols);
	free(w->created_by);
	buf_release(&w->row_groups);
	buf_release(&w->kv);
	free(w->rg_offsets);
	buf_release(&w->scratch);
	buf_release(&w->packed);
	buf_release(&w->header);
	ZSTD_freeCCtx(w->zctx);
	free(w);
}
