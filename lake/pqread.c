/*
 * pqread — reads back the flat Parquet files of lake/parquet.c for lake
 * compaction (see pqread.h for what is and is not supported). The Thrift
 * compact decoder below reads only the fields the reader needs and skips
 * every other field generically, so footers of other writers with extra
 * fields still parse; unsupported encodings are reported, not guessed.
 */
#include "pqread.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <snappy-c.h>
#include <zstd.h>

#include "buf.h"

/* ---- Thrift compact decoding ---- */

struct tr {
	const unsigned char *p, *end;
	int bad;
};

static uint64_t tr_varint(struct tr *t)
{
	uint64_t v = 0;
	for (int shift = 0; shift < 64; shift += 7) {
		if (t->p >= t->end) {
			t->bad = 1;
			return 0;
		}
		unsigned char c = *t->p++;
		v |= (uint64_t)(c & 0x7f) << shift;
		if (!(c & 0x80))
			return v;
	}
	t->bad = 1;
	return 0;
}

static int64_t tr_zz(struct tr *t)
{
	uint64_t v = tr_varint(t);
	return (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
}

/* Reads a field header: returns the type (0 = stop) and updates *id. */
static int tr_field(struct tr *t, int16_t *id)
{
	if (t->p >= t->end) {
		t->bad = 1;
		return 0;
	}
	unsigned char b = *t->p++;
	if (b == 0)
		return 0;
	int delta = b >> 4;
	if (delta)
		*id = (int16_t)(*id + delta);
	else
		*id = (int16_t)tr_zz(t);
	return b & 15;
}

static void tr_bytes(struct tr *t, const unsigned char **p, size_t *n)
{
	uint64_t len = tr_varint(t);
	if (t->bad || len > (uint64_t)(t->end - t->p)) {
		t->bad = 1;
		*p = NULL;
		*n = 0;
		return;
	}
	*p = t->p;
	*n = (size_t)len;
	t->p += len;
}

static void tr_skip(struct tr *t, int type, int depth);

static void tr_list_header(struct tr *t, int *etype, uint64_t *n)
{
	*etype = 0;
	if (t->p >= t->end) {
		t->bad = 1;
		*n = 0;
		return;
	}
	unsigned char b = *t->p++;
	*etype = b & 15;
	*n = b >> 4;
	if (*n == 15)
		*n = tr_varint(t);
}

static void tr_skip_struct(struct tr *t, int depth)
{
	int16_t id = 0;
	int ty;
	while (!t->bad && (ty = tr_field(t, &id)) != 0)
		tr_skip(t, ty, depth + 1);
}

static void tr_skip(struct tr *t, int type, int depth)
{
	if (depth > 32) {
		t->bad = 1;
		return;
	}
	const unsigned char *p;
	size_t n;
	uint64_t cnt;
	int et;
	switch (type) {
	case 1:
	case 2:
		break;
	case 3:
		t->p++;
		break;
	case 4:
	case 5:
	case 6:
		tr_varint(t);
		break;
	case 7:
		t->p += 8;
		break;
	case 8:
		tr_bytes(t, &p, &n);
		break;
	case 9:
	case 10:
		tr_list_header(t, &et, &cnt);
		for (uint64_t i = 0; i < cnt && !t->bad; i++) {
			if (et == 1 || et == 2)
				t->p++; /* bools in lists are one byte each */
			else
				tr_skip(t, et, depth + 1);
		}
		break;
	case 11:
		cnt = tr_varint(t);
		if (cnt) {
			unsigned char kv = t->p < t->end ? *t->p++ : 0;
			for (uint64_t i = 0; i < cnt && !t->bad; i++) {
				tr_skip(t, kv >> 4, depth + 1);
				tr_skip(t, kv & 15, depth + 1);
			}
		}
		break;
	case 12:
		tr_skip_struct(t, depth);
		break;
	default:
		t->bad = 1;
	}
	if (t->p > t->end)
		t->bad = 1;
}

/* ---- footer ---- */

struct chunk {
	int codec;
	int64_t num_values;
	int64_t data_page_offset;
	int64_t dict_page_offset; /* 0: none */
	int64_t total_compressed;
};

struct rgroup {
	int64_t num_rows;
	struct chunk *cols;
	size_t ncols;
};

struct pqr_file {
	const unsigned char *data;
	size_t len;
	struct pqr_column *cols;
	size_t ncols;
	int64_t num_rows;
	struct rgroup *rgs;
	size_t nrg;
	/* decompressed pages the values point into */
	unsigned char **pages;
	size_t npages;
};

static int fail(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

static void read_schema_element(struct tr *t, struct pqr_column *c, int *nchildren)
{
	int16_t id = 0;
	int ty;
	c->field_id = -1;
	*nchildren = 0;
	while (!t->bad && (ty = tr_field(t, &id)) != 0) {
		const unsigned char *p;
		size_t n;
		if (id == 1 && ty == 5)
			c->physical = (enum pq_physical)tr_zz(t);
		else if (id == 2 && ty == 5)
			c->type_length = (int)tr_zz(t);
		else if (id == 3 && ty == 5)
			c->optional = tr_zz(t) != 0; /* 0 REQUIRED, 1 OPTIONAL, 2 REPEATED */
		else if (id == 4 && ty == 8) {
			tr_bytes(t, &p, &n);
			free(c->name);
			c->name = p ? xstrndup((const char *)p, n) : xstrdup("");
		} else if (id == 5 && ty == 5)
			*nchildren = (int)tr_zz(t);
		else if (id == 9 && ty == 5)
			c->field_id = (int32_t)tr_zz(t);
		else
			tr_skip(t, ty, 1);
	}
}

static void read_column_meta(struct tr *t, struct chunk *ch)
{
	int16_t id = 0;
	int ty;
	while (!t->bad && (ty = tr_field(t, &id)) != 0) {
		if (id == 4 && ty == 5)
			ch->codec = (int)tr_zz(t);
		else if (id == 5 && ty == 6)
			ch->num_values = tr_zz(t);
		else if (id == 7 && ty == 6)
			ch->total_compressed = tr_zz(t);
		else if (id == 9 && ty == 6)
			ch->data_page_offset = tr_zz(t);
		else if (id == 11 && ty == 6)
			ch->dict_page_offset = tr_zz(t);
		else
			tr_skip(t, ty, 1);
	}
}

static void read_column_chunk(struct tr *t, struct chunk *ch)
{
	int16_t id = 0;
	int ty;
	while (!t->bad && (ty = tr_field(t, &id)) != 0) {
		if (id == 3 && ty == 12)
			read_column_meta(t, ch);
		else
			tr_skip(t, ty, 1);
	}
}

static void read_row_group(struct tr *t, struct rgroup *rg, size_t ncols)
{
	int16_t id = 0;
	int ty;
	while (!t->bad && (ty = tr_field(t, &id)) != 0) {
		if (id == 1 && ty == 9) {
			int et = 0;
			uint64_t n;
			tr_list_header(t, &et, &n);
			if (et != 12 || n != ncols) {
				t->bad = 1;
				return;
			}
			rg->ncols = ncols;
			rg->cols = xcalloc(ncols ? ncols : 1, sizeof(*rg->cols));
			for (size_t i = 0; i < ncols && !t->bad; i++)
				read_column_chunk(t, &rg->cols[i]);
		} else if (id == 3 && ty == 6) {
			rg->num_rows = tr_zz(t);
		} else {
			tr_skip(t, ty, 1);
		}
	}
}

int pqr_open(const void *data, size_t len, struct pqr_file **out, char *err, size_t errlen)
{
	const unsigned char *d = data;
	if (len < 12 || memcmp(d, "PAR1", 4) || memcmp(d + len - 4, "PAR1", 4))
		return fail(err, errlen, "not a Parquet file");
	uint32_t flen = (uint32_t)d[len - 8] | (uint32_t)d[len - 7] << 8 | (uint32_t)d[len - 6] << 16 |
			(uint32_t)d[len - 5] << 24;
	if ((size_t)flen > len - 12)
		return fail(err, errlen, "bad footer length");
	struct tr t = { d + len - 8 - flen, d + len - 8, 0 };
	struct pqr_file *f = xcalloc(1, sizeof(*f));
	f->data = d;
	f->len = len;
	int16_t id = 0;
	int ty;
	while (!t.bad && (ty = tr_field(&t, &id)) != 0) {
		if (id == 2 && ty == 9) {
			int et = 0;
			uint64_t n;
			tr_list_header(&t, &et, &n);
			if (et != 12 || n < 1 || n > 100000) {
				t.bad = 1;
				break;
			}
			struct pqr_column root = { 0 };
			int nch;
			read_schema_element(&t, &root, &nch);
			free(root.name);
			if ((uint64_t)nch != n - 1) {
				pqr_close(f);
				return fail(err, errlen, "nested Parquet schemas are not supported");
			}
			f->ncols = (size_t)n - 1;
			f->cols = xcalloc(f->ncols ? f->ncols : 1, sizeof(*f->cols));
			for (size_t i = 0; i < f->ncols && !t.bad; i++) {
				read_schema_element(&t, &f->cols[i], &nch);
				if (nch) {
					pqr_close(f);
					return fail(err, errlen, "nested Parquet schemas are not supported");
				}
			}
		} else if (id == 3 && ty == 6) {
			f->num_rows = tr_zz(&t);
		} else if (id == 4 && ty == 9) {
			int et = 0;
			uint64_t n;
			tr_list_header(&t, &et, &n);
			if (et != 12 || n > 1000000) {
				t.bad = 1;
				break;
			}
			f->nrg = (size_t)n;
			f->rgs = xcalloc(n ? n : 1, sizeof(*f->rgs));
			for (size_t i = 0; i < n && !t.bad; i++)
				read_row_group(&t, &f->rgs[i], f->ncols);
		} else {
			tr_skip(&t, ty, 0);
		}
	}
	if (t.bad) {
		pqr_close(f);
		return fail(err, errlen, "malformed Parquet footer");
	}
	*out = f;
	return 0;
}

int64_t pqr_num_rows(const struct pqr_file *f)
{
	return f->num_rows;
}

size_t pqr_num_columns(const struct pqr_file *f)
{
	return f->ncols;
}

const struct pqr_column *pqr_column(const struct pqr_file *f, size_t i)
{
	return i < f->ncols ? &f->cols[i] : NULL;
}

int pqr_find_field(const struct pqr_file *f, int32_t field_id)
{
	for (size_t i = 0; i < f->ncols; i++)
		if (f->cols[i].field_id == field_id)
			return (int)i;
	return -1;
}

/* ---- pages ---- */

struct page {
	int type; /* 0 data v1, 2 dictionary, 3 data v2 */
	int32_t uncompressed, compressed;
	int32_t num_values;
	int encoding;
};

static void read_page_header(struct tr *t, struct page *pg)
{
	int16_t id = 0;
	int ty;
	memset(pg, 0, sizeof(*pg));
	while (!t->bad && (ty = tr_field(t, &id)) != 0) {
		if (id == 1 && ty == 5)
			pg->type = (int)tr_zz(t);
		else if (id == 2 && ty == 5)
			pg->uncompressed = (int32_t)tr_zz(t);
		else if (id == 3 && ty == 5)
			pg->compressed = (int32_t)tr_zz(t);
		else if ((id == 5 || id == 7) && ty == 12) {
			int16_t sid = 0;
			int sty;
			while (!t->bad && (sty = tr_field(t, &sid)) != 0) {
				if (sid == 1 && sty == 5)
					pg->num_values = (int32_t)tr_zz(t);
				else if (sid == 2 && sty == 5)
					pg->encoding = (int)tr_zz(t);
				else
					tr_skip(t, sty, 2);
			}
		} else {
			tr_skip(t, ty, 1);
		}
	}
}

/* RLE/bit-packed hybrid: decodes n values of width bw into out. */
static int rle_decode(const unsigned char *p, const unsigned char *end, int bw, uint32_t *out,
		      int64_t n)
{
	int64_t got = 0;
	size_t vbytes = (size_t)(bw + 7) / 8;
	struct tr t = { p, end, 0 };
	while (got < n) {
		uint64_t h = tr_varint(&t);
		if (t.bad)
			return -1;
		if (h & 1) {
			uint64_t cnt = (h >> 1) * 8;
			size_t nbytes = (size_t)(h >> 1) * (size_t)bw;
			if (nbytes > (size_t)(t.end - t.p))
				return -1;
			for (uint64_t i = 0; i < cnt; i++) {
				uint32_t v = 0;
				for (int b = 0; b < bw; b++) {
					uint64_t bit = i * (uint64_t)bw + (uint64_t)b;
					if (t.p[bit >> 3] >> (bit & 7) & 1)
						v |= 1u << b;
				}
				if (got < n)
					out[got++] = v;
			}
			t.p += nbytes;
		} else {
			uint64_t cnt = h >> 1;
			if (vbytes > (size_t)(t.end - t.p))
				return -1;
			uint32_t v = 0;
			for (size_t b = 0; b < vbytes; b++)
				v |= (uint32_t)t.p[b] << (8 * b);
			t.p += vbytes;
			for (uint64_t i = 0; i < cnt && got < n; i++)
				out[got++] = v;
		}
	}
	return 0;
}

static uint64_t le(const unsigned char *p, int n)
{
	uint64_t v = 0;
	for (int i = 0; i < n; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

/* PLAIN values: decodes n into (i | p,len) starting at index at. */
static int plain_decode(const struct pqr_column *c, const unsigned char *p, const unsigned char *end,
			int64_t n, int64_t *iv, const unsigned char **pv, uint32_t *lv)
{
	for (int64_t k = 0; k < n; k++) {
		switch (c->physical) {
		case PQ_PHYS_BOOLEAN:
			if (p + k / 8 >= end)
				return -1;
			iv[k] = p[k / 8] >> (k % 8) & 1;
			break;
		case PQ_PHYS_INT32:
		case PQ_PHYS_FLOAT:
			if (end - p < 4)
				return -1;
			iv[k] = c->physical == PQ_PHYS_INT32 ? (int64_t)(int32_t)le(p, 4) : (int64_t)le(p, 4);
			p += 4;
			break;
		case PQ_PHYS_INT64:
		case PQ_PHYS_DOUBLE:
			if (end - p < 8)
				return -1;
			iv[k] = (int64_t)le(p, 8);
			p += 8;
			break;
		case PQ_PHYS_BYTE_ARRAY: {
			if (end - p < 4)
				return -1;
			uint32_t len = (uint32_t)le(p, 4);
			p += 4;
			if ((uint64_t)(end - p) < len)
				return -1;
			pv[k] = p;
			lv[k] = len;
			p += len;
			break;
		}
		case PQ_PHYS_FIXED:
			if (end - p < c->type_length)
				return -1;
			pv[k] = p;
			lv[k] = (uint32_t)c->type_length;
			p += c->type_length;
			break;
		default:
			return -1;
		}
	}
	return 0;
}

static unsigned char *decompress(struct pqr_file *f, int codec, const unsigned char *src,
				 size_t n, size_t want)
{
	unsigned char *out = xmalloc(want ? want : 1);
	if (codec == 0) {
		if (n != want) {
			free(out);
			return NULL;
		}
		memcpy(out, src, n);
	} else if (codec == 1) {
		size_t olen = want;
		if (snappy_uncompress((const char *)src, n, (char *)out, &olen) != SNAPPY_OK ||
		    olen != want) {
			free(out);
			return NULL;
		}
	} else if (codec == 6) {
		size_t r = ZSTD_decompress(out, want, src, n);
		if (ZSTD_isError(r) || r != want) {
			free(out);
			return NULL;
		}
	} else {
		free(out);
		return NULL;
	}
	f->pages = xrealloc(f->pages, (f->npages + 1) * sizeof(*f->pages));
	f->pages[f->npages++] = out;
	return out;
}

int pqr_read_column(struct pqr_file *f, size_t col, struct pqr_values *v, char *err, size_t errlen)
{
	memset(v, 0, sizeof(*v));
	if (col >= f->ncols)
		return fail(err, errlen, "no column %zu", col);
	const struct pqr_column *c = &f->cols[col];
	int64_t total = f->num_rows;
	v->n = total;
	v->defined = xcalloc((size_t)total + 1, 1);
	v->i = xcalloc((size_t)total + 1, sizeof(*v->i));
	v->p = xcalloc((size_t)total + 1, sizeof(*v->p));
	v->len = xcalloc((size_t)total + 1, sizeof(*v->len));
	int64_t row = 0;
	/* dictionary of the current chunk */
	int64_t *di = NULL;
	const unsigned char **dp = NULL;
	uint32_t *dl = NULL, *idx = NULL, *defs = NULL;
	int64_t dn = 0;
	int rc = 0;
	for (size_t g = 0; !rc && g < f->nrg; g++) {
		const struct chunk *ch = &f->rgs[g].cols[col];
		int64_t off = ch->dict_page_offset > 0 ? ch->dict_page_offset : ch->data_page_offset;
		int64_t left = ch->num_values;
		dn = 0;
		while (!rc && left > 0) {
			if (off < 4 || (size_t)off >= f->len) {
				rc = fail(err, errlen, "column %s: page offset out of range", c->name);
				break;
			}
			struct tr t = { f->data + off, f->data + f->len, 0 };
			struct page pg;
			read_page_header(&t, &pg);
			if (t.bad || pg.compressed < 0 || pg.compressed > t.end - t.p || pg.uncompressed < 0) {
				rc = fail(err, errlen, "column %s: bad page header", c->name);
				break;
			}
			const unsigned char *body = t.p;
			off = (int64_t)(body - f->data) + pg.compressed;
			if (pg.type != 0 && pg.type != 2) {
				rc = fail(err, errlen, "column %s: page type %d is not supported", c->name, pg.type);
				break;
			}
			unsigned char *u = decompress(f, ch->codec, body, (size_t)pg.compressed,
						      (size_t)pg.uncompressed);
			if (!u) {
				rc = fail(err, errlen, "column %s: cannot decompress page (codec %d)", c->name,
					  ch->codec);
				break;
			}
			const unsigned char *p = u, *end = u + pg.uncompressed;
			if (pg.type == 2) {
				dn = pg.num_values;
				di = xrealloc(di, ((size_t)dn + 1) * sizeof(*di));
				dp = xrealloc(dp, ((size_t)dn + 1) * sizeof(*dp));
				dl = xrealloc(dl, ((size_t)dn + 1) * sizeof(*dl));
				memset(dp, 0, ((size_t)dn + 1) * sizeof(*dp));
				memset(dl, 0, ((size_t)dn + 1) * sizeof(*dl));
				if (plain_decode(c, p, end, dn, di, dp, dl))
					rc = fail(err, errlen, "column %s: bad dictionary page", c->name);
				continue;
			}
			int64_t nv = pg.num_values;
			if (row + nv > total) {
				rc = fail(err, errlen, "column %s: more values than rows", c->name);
				break;
			}
			defs = xrealloc(defs, ((size_t)nv + 1) * sizeof(*defs));
			int64_t present = nv;
			if (c->optional) {
				if (end - p < 4) {
					rc = fail(err, errlen, "column %s: short page", c->name);
					break;
				}
				uint32_t dlen = (uint32_t)le(p, 4);
				p += 4;
				if ((uint64_t)(end - p) < dlen || rle_decode(p, p + dlen, 1, defs, nv)) {
					rc = fail(err, errlen, "column %s: bad definition levels", c->name);
					break;
				}
				p += dlen;
				present = 0;
				for (int64_t k = 0; k < nv; k++)
					present += defs[k] != 0;
			} else {
				for (int64_t k = 0; k < nv; k++)
					defs[k] = 1;
			}
			int64_t *ti = xcalloc((size_t)present + 1, sizeof(*ti));
			const unsigned char **tp = xcalloc((size_t)present + 1, sizeof(*tp));
			uint32_t *tl = xcalloc((size_t)present + 1, sizeof(*tl));
			if (pg.encoding == 0) {
				if (plain_decode(c, p, end, present, ti, tp, tl))
					rc = fail(err, errlen, "column %s: bad PLAIN values", c->name);
			} else if (pg.encoding == 8 || pg.encoding == 2) {
				idx = xrealloc(idx, ((size_t)present + 1) * sizeof(*idx));
				int bw = p < end ? *p++ : -1;
				if (bw < 0 || bw > 32 || (present && rle_decode(p, end, bw, idx, present)))
					rc = fail(err, errlen, "column %s: bad dictionary indices", c->name);
				for (int64_t k = 0; !rc && k < present; k++) {
					if ((int64_t)idx[k] >= dn) {
						rc = fail(err, errlen, "column %s: index beyond dictionary", c->name);
						break;
					}
					ti[k] = di[idx[k]];
					tp[k] = dp[idx[k]];
					tl[k] = dl[idx[k]];
				}
			} else {
				rc = fail(err, errlen, "column %s: encoding %d is not supported", c->name,
					  pg.encoding);
			}
			for (int64_t k = 0, j = 0; !rc && k < nv; k++, row++) {
				if (!defs[k])
					continue;
				v->defined[row] = 1;
				v->i[row] = ti[j];
				v->p[row] = tp[j];
				v->len[row] = tl[j];
				j++;
			}
			free(ti);
			free(tp);
			free(tl);
			left -= nv;
		}
	}
	if (!rc && row != total)
		rc = fail(err, errlen, "column %s: %lld values for %lld rows", c->name, (long long)row,
			  (long long)total);
	free(di);
	free(dp);
	free(dl);
	free(idx);
	free(defs);
	if (rc)
		pqr_values_free(v);
	return rc;
}

void pqr_values_free(struct pqr_values *v)
{
	free(v->defined);
	free(v->i);
	free(v->p);
	free(v->len);
	memset(v, 0, sizeof(*v));
}

void pqr_close(struct pqr_file *f)
{
	if (!f)
		return;
	for (size_t i = 0; i < f->ncols; i++)
		free(f->cols[i].name);
	free(f->cols);
	for (size_t i = 0; i < f->nrg; i++)
		free(f->rgs[i].cols);
	free(f->rgs);
	for (size_t i = 0; i < f->npages; i++)
		free(f->pages[i]);
	free(f->pages);
	free(f);
}
