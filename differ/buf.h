/*
 * buf — the one growable byte buffer used everywhere (rows, keys, JSON, SQL).
 *
 * Invariants: p is NULL or points at cap bytes; len <= cap; when cap > 0,
 * p[len] is a NUL byte (so a buffer of text can be used as a C string).
 * Appends die on out-of-memory: snapdiff is a batch job and a half-built row
 * is worse than a clean exit; the run's state is untouched by design.
 */
#ifndef SD_BUF_H
#define SD_BUF_H

#include <stddef.h>
#include <stdint.h>
#include <stdarg.h>

struct buf {
	char *p;
	size_t len;
	size_t cap;
};

#define BUF_INIT { NULL, 0, 0 }

void buf_grow_slow(struct buf *b, size_t extra);

/* Makes room for extra more bytes (plus the NUL). */
static inline void buf_grow(struct buf *b, size_t extra)
{
	if (b->len + extra + 1 > b->cap)
		buf_grow_slow(b, extra);
}

static inline void buf_add(struct buf *b, const void *data, size_t n)
{
	buf_grow(b, n);
	if (n)
		__builtin_memcpy(b->p + b->len, data, n);
	b->len += n;
	b->p[b->len] = '\0';
}
void buf_addstr(struct buf *b, const char *s);
void buf_addch(struct buf *b, char c);
void buf_addf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void buf_vaddf(struct buf *b, const char *fmt, va_list ap);
/* LEB128 unsigned varint. */
void buf_add_varint_slow(struct buf *b, uint64_t v);
static inline void buf_add_varint(struct buf *b, uint64_t v)
{
	if (v < 0x80) {
		buf_grow(b, 1);
		b->p[b->len++] = (char)v;
		b->p[b->len] = '\0';
		return;
	}
	buf_add_varint_slow(b, v);
}
void buf_add_be64(struct buf *b, uint64_t v);
/* Empties the buffer, keeps the allocation. */
void buf_reset(struct buf *b);
void buf_release(struct buf *b);
/* Hands the bytes over to the caller (who frees them); the buffer is left empty. */
char *buf_detach(struct buf *b, size_t *len);

/* Reads a varint at *p (not past end); advances *p. Returns 0, or -1 if malformed. */
int varint_get(const unsigned char **p, const unsigned char *end, uint64_t *out);

/* Dying allocators for the CLI side (git's xmalloc). */
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t m);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);

#endif
