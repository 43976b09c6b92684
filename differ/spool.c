/*
 * spool — append-only change records in a temporary file:
 *   op(1) snapshot(1) id(16) varint key_len key varint before_len before
 *   varint after_len after                (a length of 0 with flag = absent)
 * written through stdio's buffer, read back sequentially.
 */
#include "spool.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct spool {
	FILE *f;
	char *path;
	int64_t count;
	struct buf rec;
	struct buf rd;
};

int spool_create(const char *dir, const char *run_id, struct spool **out, struct sderr *e)
{
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return sderr_set(e, SD_ERR_STATE, "cannot create spool directory '%s': %s", dir, strerror(errno));
	struct spool *s = xcalloc(1, sizeof(*s));
	struct buf p = BUF_INIT;
	buf_addf(&p, "%s/", dir);
	for (const char *c = run_id; *c; c++)
		buf_addch(&p, (*c == '/' || *c == '\\') ? '_' : *c);
	buf_addstr(&p, ".spool");
	s->path = buf_detach(&p, NULL);
	s->f = fopen(s->path, "w+b");
	if (!s->f) {
		int rc = sderr_set(e, SD_ERR_STATE, "cannot create spool file '%s': %s", s->path, strerror(errno));
		free(s->path);
		free(s);
		return rc;
	}
	setvbuf(s->f, NULL, _IOFBF, 1 << 20);
	*out = s;
	return SD_OK;
}

static void put_part(struct buf *b, const unsigned char *p, size_t len)
{
	if (!p) {
		buf_addch(b, 0);
		return;
	}
	buf_addch(b, 1);
	buf_add_varint(b, len);
	buf_add(b, p, len);
}

int spool_add(struct spool *s, const struct sd_change *c, struct sderr *e)
{
	struct buf *b = &s->rec;
	buf_reset(b);
	buf_addch(b, (char)c->op);
	buf_addch(b, c->snapshot ? 1 : 0);
	buf_add(b, c->id, 16);
	put_part(b, c->key, c->key_len);
	put_part(b, c->before, c->before_len);
	put_part(b, c->after, c->after_len);
	unsigned char hdr[10];
	size_t n = 0;
	uint64_t v = b->len;
	do {
		hdr[n] = v & 0x7f;
		v >>= 7;
		hdr[n++] |= v ? 0x80 : 0;
	} while (v);
	if (fwrite(hdr, 1, n, s->f) != n || fwrite(b->p, 1, b->len, s->f) != b->len)
		return sderr_set(e, SD_ERR_STATE, "writing spool '%s': %s", s->path, strerror(errno));
	s->count++;
	return SD_OK;
}

int64_t spool_count(const struct spool *s)
{
	return s->count;
}

int spool_rewind(struct spool *s, struct sderr *e)
{
	if (fflush(s->f) != 0 || fseek(s->f, 0, SEEK_SET) != 0)
		return sderr_set(e, SD_ERR_STATE, "rewinding spool '%s': %s", s->path, strerror(errno));
	return SD_OK;
}

static int get_part(const unsigned char **p, const unsigned char *end,
		    const unsigned char **out, size_t *len)
{
	if (*p >= end)
		return -1;
	if (*(*p)++ == 0) {
		*out = NULL;
		*len = 0;
		return 0;
	}
	uint64_t l;
	if (varint_get(p, end, &l) < 0 || l > (uint64_t)(end - *p))
		return -1;
	*out = *p;
	*len = (size_t)l;
	*p += l;
	return 0;
}

int spool_next(struct spool *s, struct sd_change *c, struct sderr *e)
{
	uint64_t len = 0;
	unsigned shift = 0;
	int ch;
	for (;;) {
		ch = getc(s->f);
		if (ch == EOF) {
			if (shift == 0 && !ferror(s->f))
				return 0;
			return -sderr_set(e, SD_ERR_STATE, "spool '%s' is truncated", s->path);
		}
		len |= (uint64_t)(ch & 0x7f) << shift;
		shift += 7;
		if (!(ch & 0x80))
			break;
	}
	buf_reset(&s->rd);
	buf_grow(&s->rd, len);
	if (fread(s->rd.p, 1, len, s->f) != len)
		return -sderr_set(e, SD_ERR_STATE, "spool '%s' is truncated", s->path);
	s->rd.len = len;
	const unsigned char *p = (const unsigned char *)s->rd.p, *end = p + len;
	if (len < 18)
		return -sderr_set(e, SD_ERR_STATE, "spool '%s' record is malformed", s->path);
	memset(c, 0, sizeof(*c));
	c->op = (enum sd_op)p[0];
	c->snapshot = p[1] != 0;
	memcpy(c->id, p + 2, 16);
	p += 18;
	if (get_part(&p, end, &c->key, &c->key_len) < 0 ||
	    get_part(&p, end, &c->before, &c->before_len) < 0 ||
	    get_part(&p, end, &c->after, &c->after_len) < 0)
		return -sderr_set(e, SD_ERR_STATE, "spool '%s' record is malformed", s->path);
	return 1;
}

void spool_destroy(struct spool *s)
{
	if (!s)
		return;
	if (s->f)
		fclose(s->f);
	unlink(s->path);
	free(s->path);
	buf_release(&s->rec);
	buf_release(&s->rd);
	free(s);
}
