/*
 * pqwrite — times snapdiff's own Parquet writer (lake/parquet.c) on rows
 * given as a column dump, for `make bench` (bench/bench.py writes the dump
 * from the lake mirror's Parquet files, read back with pyarrow).
 *
 *   pqwrite DIR [zstd|snappy|none]
 *
 * DIR/schema.tsv: one line per column, "name field_id kind optional precision
 * scale", kind one of int32 int64 string binary decimal double bool; and per
 * column i (0-based) DIR/<i>.null (one byte per row, 1 = null) and
 * DIR/<i>.val: int32/int64/double little-endian, bool one byte, decimal
 * 16-byte little-endian two's complement (Arrow's decimal128), string/binary
 * DIR/<i>.off (n+1 int32 little-endian offsets, Arrow's layout) + DIR/<i>.val.
 *
 * Everything is read into memory first; only the pq_open .. pq_close of the
 * rows into a memory buffer is timed, with the lake sink's options (the given
 * codec at its default level, 64 MiB row groups). Prints one JSON line:
 * rows, seconds, bytes (file size).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lake/parquet.h"

enum kind { K_INT32, K_INT64, K_STRING, K_BINARY, K_DECIMAL, K_DOUBLE, K_BOOL };

struct col {
	enum kind kind;
	unsigned char *nulls;
	unsigned char *val;
	int32_t *off;
};

static void *slurp(const char *dir, int i, const char *ext, size_t *len)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/%d.%s", dir, i, ext);
	FILE *f = fopen(path, "rb");
	if (!f) {
		perror(path);
		exit(2);
	}
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	unsigned char *p = malloc(n ? (size_t)n : 1);
	if (!p || (n && fread(p, 1, (size_t)n, f) != (size_t)n)) {
		perror(path);
		exit(2);
	}
	fclose(f);
	*len = (size_t)n;
	return p;
}

static int mem_sink(void *ctx, const void *p, size_t n)
{
	buf_add(ctx, p, n);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: pqwrite DIR [zstd|snappy|none]\n");
		return 2;
	}
	const char *dir = argv[1], *codec = argc > 2 ? argv[2] : "zstd";
	char path[4096], line[1024];
	snprintf(path, sizeof path, "%s/schema.tsv", dir);
	FILE *f = fopen(path, "r");
	if (!f) {
		perror(path);
		return 2;
	}
	struct pq_column_spec spec[256];
	struct col cols[256];
	char names[256][200];
	int nc = 0;
	size_t rows = 0;
	while (nc < 256 && fgets(line, sizeof line, f)) {
		char kind[32];
		int fid, opt, prec, scale;
		if (sscanf(line, "%199s %d %31s %d %d %d", names[nc], &fid, kind, &opt, &prec, &scale) != 6)
			continue;
		struct pq_column_spec *s = &spec[nc];
		struct col *c = &cols[nc];
		memset(s, 0, sizeof *s);
		memset(c, 0, sizeof *c);
		s->name = names[nc];
		s->field_id = fid;
		s->optional = opt;
		if (!strcmp(kind, "int32"))
			s->kind = PQ_INT32, c->kind = K_INT32;
		else if (!strcmp(kind, "int64"))
			s->kind = PQ_INT64, c->kind = K_INT64;
		else if (!strcmp(kind, "string"))
			s->kind = PQ_STRING, c->kind = K_STRING;
		else if (!strcmp(kind, "binary"))
			s->kind = PQ_BINARY, c->kind = K_BINARY;
		else if (!strcmp(kind, "decimal"))
			s->kind = PQ_DECIMAL, s->precision = prec, s->scale = scale, c->kind = K_DECIMAL;
		else if (!strcmp(kind, "double"))
			s->kind = PQ_DOUBLE, c->kind = K_DOUBLE;
		else if (!strcmp(kind, "bool"))
			s->kind = PQ_BOOLEAN, c->kind = K_BOOL;
		else {
			fprintf(stderr, "pqwrite: column %s: unknown kind %s\n", names[nc], kind);
			return 2;
		}
		size_t n;
		c->nulls = slurp(dir, nc, "null", &n);
		if (nc == 0)
			rows = n;
		else if (n != rows) {
			fprintf(stderr, "pqwrite: column %s: %zu rows, expected %zu\n", names[nc], n, rows);
			return 2;
		}
		c->val = slurp(dir, nc, "val", &n);
		if (c->kind == K_STRING || c->kind == K_BINARY)
			c->off = slurp(dir, nc, "off", &n);
		nc++;
	}
	fclose(f);

	struct pq_options o = {
		.codec = !strcmp(codec, "snappy") ? PQ_SNAPPY : !strcmp(codec, "none") ? PQ_UNCOMPRESSED : PQ_ZSTD,
		.row_group_bytes = (size_t)64 << 20,
	};
	struct buf out = { 0 };
	char err[256];
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	struct pq_writer *w = pq_open(spec, (size_t)nc, &o, mem_sink, &out, err, sizeof err);
	if (!w) {
		fprintf(stderr, "pqwrite: %s\n", err);
		return 1;
	}
	for (size_t r = 0; r < rows; r++) {
		for (int i = 0; i < nc; i++) {
			struct col *c = &cols[i];
			int rc;
			if (c->nulls[r]) {
				rc = pq_write_null(w, i);
			} else {
				switch (c->kind) {
				case K_INT32: {
					int32_t v;
					memcpy(&v, c->val + r * 4, 4);
					rc = pq_write_int32(w, i, v);
					break;
				}
				case K_INT64: {
					int64_t v;
					memcpy(&v, c->val + r * 8, 8);
					rc = pq_write_int64(w, i, v);
					break;
				}
				case K_DOUBLE: {
					double v;
					memcpy(&v, c->val + r * 8, 8);
					rc = pq_write_double(w, i, v);
					break;
				}
				case K_BOOL:
					rc = pq_write_bool(w, i, c->val[r]);
					break;
				case K_DECIMAL: {
					unsigned char be[16];
					const unsigned char *le = c->val + r * 16;
					for (int k = 0; k < 16; k++)
						be[k] = le[15 - k];
					rc = pq_write_decimal(w, i, be, 16);
					break;
				}
				default: /* string, binary */
					rc = pq_write_bytes(w, i, c->val + c->off[r],
							    (size_t)(c->off[r + 1] - c->off[r]));
				}
			}
			if (rc) {
				fprintf(stderr, "pqwrite: row %zu column %s: %s\n", r, spec[i].name, pq_error(w));
				return 1;
			}
		}
		if (pq_end_row(w)) {
			fprintf(stderr, "pqwrite: row %zu: %s\n", r, pq_error(w));
			return 1;
		}
	}
	uint64_t size;
	if (pq_close(w, &size)) {
		fprintf(stderr, "pqwrite: close: %s\n", pq_error(w));
		return 1;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	pq_free(w);
	if (argc > 3) { /* keep the file, for checking it reads back */
		FILE *o3 = fopen(argv[3], "wb");
		if (!o3 || fwrite(out.p, 1, out.len, o3) != out.len || fclose(o3)) {
			perror(argv[3]);
			return 1;
		}
	}
	printf("{\"rows\": %zu, \"seconds\": %.6f, \"bytes\": %llu}\n", rows, s, (unsigned long long)size);
	buf_release(&out);
	return 0;
}
