/*
 * event — the native JSON rendering of a change (docs/events.md). Written by
 * hand into a buffer rather than through a JSON DOM because an initial load
 * renders millions of events; every value goes through enc_value_json so the
 * binary rule (UTF-8 string or {"base64": ...}) holds everywhere.
 */
#include "event.h"

#include <string.h>

void event_hex_id(struct buf *b, const unsigned char id[16])
{
	static const char hex[] = "0123456789abcdef";
	char out[32];
	for (int i = 0; i < 16; i++) {
		out[2 * i] = hex[id[i] >> 4];
		out[2 * i + 1] = hex[id[i] & 15];
	}
	buf_add(b, out, 32);
}

static void render_value(struct buf *b, const struct sd_column *col, const struct enc_value *v)
{
	json_add_string(b, col->name, strlen(col->name));
	buf_addch(b, ':');
	enc_value_json(b, v, col->fsp);
}

void event_render_key(struct buf *b, const struct sd_table *t, const unsigned char *key, size_t len)
{
	const unsigned char *p = key, *end = key + len;
	buf_addch(b, '{');
	for (size_t k = 0; k < t->npk; k++) {
		struct enc_value v;
		if (enc_get(&p, end, &v) < 0)
			break;
		if (k)
			buf_addch(b, ',');
		render_value(b, &t->cols[t->pk[k]], &v);
	}
	buf_addch(b, '}');
}

void event_render_row(struct buf *b, const struct sd_table *t, const unsigned char *row, size_t len)
{
	const unsigned char *p = row, *end = row + len;
	buf_addch(b, '{');
	for (size_t j = 0; j < t->ncols; j++) {
		struct enc_value v;
		if (enc_get(&p, end, &v) < 0)
			break;
		if (j)
			buf_addch(b, ',');
		render_value(b, &t->cols[j], &v);
	}
	buf_addch(b, '}');
}

static void add_kv_str(struct buf *b, const char *k, const char *v)
{
	json_add_string(b, k, strlen(k));
	buf_addch(b, ':');
	json_add_string(b, v ? v : "", v ? strlen(v) : 0);
}

void event_render_native(struct buf *b, const struct sd_run_info *run, const struct sd_change *c)
{
	buf_addstr(b, "{\"id\":\"");
	event_hex_id(b, c->id);
	buf_addstr(b, "\",\"op\":\"");
	buf_addstr(b, event_op_name(c->op));
	buf_addstr(b, "\",\"snapshot\":");
	buf_addstr(b, c->snapshot ? "true" : "false");
	buf_addch(b, ',');
	add_kv_str(b, "database", run->db);
	buf_addch(b, ',');
	add_kv_str(b, "table", run->tbl);
	buf_addch(b, ',');
	add_kv_str(b, "run_id", run->run_id);
	buf_addstr(b, ",\"key\":");
	event_render_key(b, run->table, c->key, c->key_len);
	if (c->after) {
		buf_addstr(b, ",\"after\":");
		event_render_row(b, run->table, c->after, c->after_len);
	}
	if (c->before) {
		buf_addstr(b, ",\"before\":");
		event_render_row(b, run->table, c->before, c->before_len);
	}
	buf_addstr(b, ",\"lineage\":{");
	add_kv_str(b, "gtid_binlog_pos", run->gtid_binlog_pos);
	buf_addch(b, ',');
	add_kv_str(b, "gtid_current_pos", run->gtid_current_pos);
	buf_addch(b, ',');
	add_kv_str(b, "snapshot_time", run->snapshot_time);
	buf_addf(b, ",\"snapshot_ms\":%lld}}", (long long)run->snapshot_ms);
}
