/*
 * diff — the packed per-chunk (key, row hash[, row image]) list kept in state,
 * the lookup table used to merge a scanned range against it, and
 * deterministic event ids. docs/state.md describes the blob layout.
 */
#ifndef SD_DIFF_H
#define SD_DIFF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "sink.h"

#define PACK_MAGIC 0x53  /* 'S' */
#define PACK_VERSION 1

/* Builds one chunk's blob as rows arrive in key order. */
struct pack {
	struct buf list;     /* varint key_len, key, hash[16] per row  */
	struct buf images;   /* varint row_len, row per row (optional) */
	int64_t rows;
	bool with_images;
	unsigned char *last_key;  /* the last key added (for the chunk's hi) */
	size_t last_key_len;
	size_t last_key_cap;
};

void pack_init(struct pack *p, bool with_images);
void pack_reset(struct pack *p);
void pack_release(struct pack *p);
void pack_add(struct pack *p, const unsigned char *key, size_t key_len,
	      const unsigned char hash[16], const unsigned char *row, size_t row_len);
/* The chunk's aggregate hash: xxh3-128 of the list section. */
void pack_agg(const struct pack *p, unsigned char agg[16]);
/* Serialises header + list + images into out (replacing its content). */
void pack_blob(const struct pack *p, struct buf *out);

/* A parsed stored chunk, indexed by key for the merge. Entries borrow from
 * the blob, which must outlive the index. */
struct pack_entry {
	const unsigned char *key;
	size_t key_len;
	const unsigned char *hash;
	const unsigned char *image;   /* NULL when the chunk has no images */
	size_t image_len;
	bool seen;
};

struct pack_index {
	struct pack_entry *e;
	size_t n;
	size_t cap;
	uint32_t *slots;     /* open addressing: entry index + 1, 0 = empty */
	size_t nslots;
	size_t next;         /* in-order fast path: the entry expected next */
};

/* Parses blob; returns 0 or -1 if malformed. */
int pack_index_build(struct pack_index *ix, const unsigned char *blob, size_t len);
/* Finds the stored entry with this key, or NULL. */
struct pack_entry *pack_index_find(struct pack_index *ix, const unsigned char *key, size_t len);
void pack_index_release(struct pack_index *ix);

/* id = xxh3-128(db, tbl, base generation, op, key, before hash, after hash):
 * the same change from the same state gets the same id on a rerun. */
void diff_event_id(const char *db, const char *tbl, int64_t base_generation, enum sd_op op,
		   const unsigned char *key, size_t key_len,
		   const unsigned char *before_hash, const unsigned char *after_hash,
		   unsigned char out[16]);

#endif
