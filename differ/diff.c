/*
 * diff — packed chunk lists and the merge index.
 *
 * A chunk's stored list is in the order the server returned the rows, so an
 * unchanged range matches it entry for entry: the index first tries the entry
 * after the last match (one memcmp) and only falls back to the hash table
 * when rows were inserted or deleted. Key order is never computed on the
 * client, which keeps collations (utf8mb4_general_ci keys) the server's
 * business.
 */
#include "diff.h"

#include <stdlib.h>
#include <string.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

void pack_init(struct pack *p, bool with_images)
{
	memset(p, 0, sizeof(*p));
	p->with_images = with_images;
}

void pack_reset(struct pack *p)
{
	buf_reset(&p->list);
	buf_reset(&p->images);
	p->rows = 0;
	p->last_key_len = 0;
}

void pack_release(struct pack *p)
{
	buf_release(&p->list);
	buf_release(&p->images);
	free(p->last_key);
	memset(p, 0, sizeof(*p));
}

void pack_add(struct pack *p, const unsigned char *key, size_t key_len,
	      const unsigned char hash[16], const unsigned char *row, size_t row_len)
{
	buf_add_varint(&p->list, key_len);
	buf_add(&p->list, key, key_len);
	buf_add(&p->list, hash, 16);
	if (p->with_images) {
		buf_add_varint(&p->images, row_len);
		buf_add(&p->images, row, row_len);
	}
	if (key_len > p->last_key_cap) {
		p->last_key_cap = key_len * 2;
		p->last_key = xrealloc(p->last_key, p->last_key_cap);
	}
	memcpy(p->last_key, key, key_len);
	p->last_key_len = key_len;
	p->rows++;
}

void pack_agg(const struct pack *p, unsigned char agg[16])
{
	enc_hash128(p->list.p ? p->list.p : "", p->list.len, agg);
}

void pack_blob(const struct pack *p, struct buf *out)
{
	buf_reset(out);
	buf_addch(out, PACK_MAGIC);
	buf_addch(out, PACK_VERSION);
	buf_addch(out, p->with_images ? 1 : 0);
	buf_add_varint(out, (uint64_t)p->rows);
	buf_add_varint(out, p->list.len);
	buf_add(out, p->list.p, p->list.len);
	if (p->with_images)
		buf_add(out, p->images.p, p->images.len);
}

static uint64_t key_hash(const unsigned char *k, size_t n)
{
	return XXH3_64bits(k, n);
}

int pack_index_build(struct pack_index *ix, const unsigned char *blob, size_t len)
{
	memset(ix, 0, sizeof(*ix));
	const unsigned char *p = blob, *end = blob + len;
	uint64_t rows, list_len;
	if (len < 3 || p[0] != PACK_MAGIC || p[1] != PACK_VERSION)
		return -1;
	bool images = p[2] & 1;
	p += 3;
	if (varint_get(&p, end, &rows) < 0 || varint_get(&p, end, &list_len) < 0 ||
	    list_len > (uint64_t)(end - p) || rows > list_len)
		return -1;
	const unsigned char *list_end = p + list_len, *img = list_end;
	ix->n = (size_t)rows;
	ix->e = xcalloc(ix->n ? ix->n : 1, sizeof(*ix->e));
	for (size_t i = 0; i < ix->n; i++) {
		uint64_t kl;
		if (varint_get(&p, list_end, &kl) < 0 || kl + 16 > (uint64_t)(list_end - p))
			goto bad;
		ix->e[i].key = p;
		ix->e[i].key_len = (size_t)kl;
		ix->e[i].hash = p + kl;
		p += kl + 16;
		if (images) {
			uint64_t rl;
			if (varint_get(&img, end, &rl) < 0 || rl > (uint64_t)(end - img))
				goto bad;
			ix->e[i].image = img;
			ix->e[i].image_len = (size_t)rl;
			img += rl;
		}
	}
	if (p != list_end)
		goto bad;
	ix->nslots = 16;
	while (ix->nslots < ix->n * 2)
		ix->nslots *= 2;
	ix->slots = xcalloc(ix->nslots, sizeof(uint32_t));
	for (size_t i = 0; i < ix->n; i++) {
		size_t s = key_hash(ix->e[i].key, ix->e[i].key_len) & (ix->nslots - 1);
		while (ix->slots[s])
			s = (s + 1) & (ix->nslots - 1);
		ix->slots[s] = (uint32_t)i + 1;
	}
	return 0;
bad:
	pack_index_release(ix);
	return -1;
}

static int same_key(const struct pack_entry *en, const unsigned char *key, size_t len)
{
	return en->key_len == len && memcmp(en->key, key, len) == 0;
}

struct pack_entry *pack_index_find(struct pack_index *ix, const unsigned char *key, size_t len)
{
	if (ix->next < ix->n && same_key(&ix->e[ix->next], key, len))
		return &ix->e[ix->next++];
	if (!ix->nslots)
		return NULL;
	size_t s = key_hash(key, len) & (ix->nslots - 1);
	while (ix->slots[s]) {
		struct pack_entry *en = &ix->e[ix->slots[s] - 1];
		if (same_key(en, key, len)) {
			ix->next = (size_t)(en - ix->e) + 1;
			return en;
		}
		s = (s + 1) & (ix->nslots - 1);
	}
	return NULL;
}

void pack_index_release(struct pack_index *ix)
{
	free(ix->e);
	free(ix->slots);
	memset(ix, 0, sizeof(*ix));
}

void diff_event_id(const char *db, const char *tbl, int64_t base_generation, enum sd_op op,
		   const unsigned char *key, size_t key_len,
		   const unsigned char *before_hash, const unsigned char *after_hash,
		   unsigned char out[16])
{
	/* streamed rather than concatenated: no allocation per event on an
	 * initial load, and the same bytes hash to the same id either way */
	static const unsigned char zero[16];
	unsigned char fixed[9], vi[10];
	size_t vn = 0;
	uint64_t g = (uint64_t)base_generation, v = key_len;
	for (int i = 7; i >= 0; i--, g >>= 8)
		fixed[i] = g & 0xff;
	fixed[8] = (unsigned char)op;
	do {
		vi[vn] = v & 0x7f;
		v >>= 7;
		vi[vn++] |= v ? 0x80 : 0;
	} while (v);
	XXH3_state_t st;
	XXH3_128bits_reset(&st);
	XXH3_128bits_update(&st, db, strlen(db) + 1);
	XXH3_128bits_update(&st, tbl, strlen(tbl) + 1);
	XXH3_128bits_update(&st, fixed, sizeof(fixed));
	XXH3_128bits_update(&st, vi, vn);
	XXH3_128bits_update(&st, key, key_len);
	XXH3_128bits_update(&st, before_hash ? before_hash : zero, 16);
	XXH3_128bits_update(&st, after_hash ? after_hash : zero, 16);
	XXH128_canonical_t c;
	XXH128_canonicalFromHash(&c, XXH3_128bits_digest(&st));
	memcpy(out, c.digest, 16);
}
