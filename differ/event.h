/*
 * event — renders changes as snapdiff's native JSON event (docs/events.md,
 * docs/event.schema.json). Kept apart from the sinks so JSONL and Kafka emit
 * byte-identical events.
 */
#ifndef SD_EVENT_H
#define SD_EVENT_H

#include "buf.h"
#include "sink.h"

/* Appends the native event as one line of JSON (no trailing newline). */
void event_render_native(struct buf *b, const struct sd_run_info *run, const struct sd_change *c);

/* Appends {"col": value, ...} for the key columns of an encoded key, in key order. */
void event_render_key(struct buf *b, const struct sd_table *t, const unsigned char *key, size_t len);

/* Appends {"col": value, ...} for an encoded row in select order. */
void event_render_row(struct buf *b, const struct sd_table *t, const unsigned char *row, size_t len);

/* Appends the 32 lower-case hex digits of a 16-byte id. */
void event_hex_id(struct buf *b, const unsigned char id[16]);

static inline const char *event_op_name(enum sd_op op)
{
	return op == SD_OP_INSERT ? "insert" : op == SD_OP_UPDATE ? "update" : "delete";
}

#endif
