/*
 * debezium — renders changes as Debezium change events (JSON, schemas
 * disabled), the value format of the Kafka sink's `envelope: debezium`.
 *
 * Column values follow the Debezium MySQL/MariaDB connector's default
 * mappings (decimal.handling.mode=precise, time.precision.mode=
 * adaptive_time_microseconds, binary.handling.mode=bytes,
 * bigint.unsigned.handling.mode=long); docs/event.debezium.md lists them.
 *
 * All functions append to b and return 0, or -1 when an encoding is malformed
 * (b then holds a partial rendering the caller discards).
 */
#ifndef SD_DEBEZIUM_H
#define SD_DEBEZIUM_H

#include <stdint.h>

#include "buf.h"
#include "encode.h"
#include "sink.h"
#include "table.h"

/* source.snapshot: "true" for initial-load events, "last" for the last of them
 * in a run, "false" for changes found by later runs. */
enum dbz_snapshot {
	DBZ_SNAPSHOT_FALSE = 0,
	DBZ_SNAPSHOT_TRUE = 1,
	DBZ_SNAPSHOT_LAST = 2,
};

/* Appends the whole event value {"before","after","source","op","ts_ms"}.
 * name is source.name (the topic prefix); ts_ms the processing time. An
 * update or delete without c->before gets the key columns as before. */
int dbz_render_value(struct buf *b, const struct sd_run_info *run, const struct sd_change *c,
		     const char *name, enum dbz_snapshot snapshot, int64_t ts_ms);

/* Appends {"col": value, ...} for the key columns of an encoded key, in key
 * order, with Debezium's value mapping (the message key of envelope: debezium). */
int dbz_render_key(struct buf *b, const struct sd_table *t, const unsigned char *key, size_t len);

/* Appends {"col": value, ...} for an encoded row in select order. */
int dbz_render_row(struct buf *b, const struct sd_table *t, const unsigned char *row, size_t len);

/* Appends one column value (a JSON number, string, boolean or null). */
void dbz_render_value_of(struct buf *b, const struct sd_column *col, const struct enc_value *v);

/* Appends the base64 (RFC 4648, padded) of the minimal big-endian two's
 * complement bytes of the unscaled value of a decimal text ("-12.50") at the
 * given scale: Kafka Connect's Decimal as JsonConverter writes it. Returns -1
 * when text is not a decimal number. */
int dbz_decimal_base64(struct buf *b, const char *text, size_t len, unsigned scale);

#endif
