/*
 * iceberg — the Iceberg v2 table layer: it turns "these Parquet files were
 * added, those removed" into manifests, a manifest list, a snapshot and a
 * new table-metadata JSON, and commits that through a catalog's
 * compare-and-swap, retrying on fresh metadata when another writer won.
 *
 * The metadata is kept as a jansson tree and edited in place of a typed
 * model: every key another engine wrote (statistics, refs, properties we do
 * not know) survives our commits untouched. Existing manifests and lists are
 * read with a small schema-driven Avro decoder into the same kind of tree,
 * so manifests written by Java or pyiceberg can be carried and rewritten
 * too, and re-encoded in the exact v2 layout lake/avro.h spells out.
 *
 * Added files go into one new manifest per content type with null snapshot
 * id and sequence numbers (inherited from the manifest-list entry), so they
 * are written once and reused by every retry; only the manifest list, the
 * rewritten manifests of removals and the metadata are redone per attempt.
 */
#include "lake/iceberg.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "lake/avro.h"

#define DEFAULT_RETRIES 4
#define METADATA_LOG_MAX 100

struct part {
	int active;
	char *name;
	int32_t field_id;
	int32_t source_id;
	enum ice_type type;
	const char *avro_type;
};

struct ice_table {
	struct cat *cat; /* NULL: loaded from a file, read-only */
	struct fio *io;
	char *ns, *name;
	char *meta_loc;
	json_t *meta;
	struct ice_schema schema;
	char *schema_text; /* the current schema as JSON, for manifest headers */
	int spec_id;
	char *spec_fields_text;
	struct part part;
};

/* ---- small helpers ---- */

static void random_bytes(void *p, size_t n)
{
	unsigned char *c = p;
	size_t got = 0;
	while (got < n) {
		ssize_t r = getrandom(c + got, n - got, 0);
		if (r > 0)
			got += (size_t)r;
	}
}

static void random_uuid(char out[37])
{
	unsigned char b[16];
	random_bytes(b, sizeof(b));
	b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
	b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
	snprintf(out, 37,
		 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1],
		 b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14],
		 b[15]);
}

int64_t ice_random_id(void)
{
	uint64_t v = 0;
	while (v == 0) {
		random_bytes(&v, sizeof(v));
		v &= (uint64_t)INT64_MAX;
	}
	return (int64_t)v;
}

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t jint(const json_t *o, const char *key, int64_t def)
{
	json_t *v = json_object_get(o, key);
	return json_is_integer(v) ? (int64_t)json_integer_value(v) : def;
}

static const char *jstr(const json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

static json_t *jbytes(const void *p, size_t n)
{
	return json_stringn_nocheck(p ? p : "", n);
}

/* Local files compare by path so file:/x, file:///x and /x are one file. */
static const char *norm_uri(const char *uri)
{
	const char *p = fio_local_path(uri);
	return p ? p : uri;
}

static void set_add(json_t *set, const char *uri)
{
	json_object_set_new_nocheck(set, norm_uri(uri), json_true());
}

static int set_has(const json_t *set, const char *uri)
{
	return json_object_get(set, norm_uri(uri)) != NULL;
}

/* ---- types ---- */

static const char *const type_names[] = {
	[ICE_BOOLEAN] = "boolean", [ICE_INT] = "int",		[ICE_LONG] = "long",
	[ICE_FLOAT] = "float",	   [ICE_DOUBLE] = "double",	[ICE_DECIMAL] = "decimal",
	[ICE_DATE] = "date",	   [ICE_TIME] = "time",		[ICE_TIMESTAMP] = "timestamp",
	[ICE_TIMESTAMPTZ] = "timestamptz", [ICE_STRING] = "string", [ICE_BINARY] = "binary",
	[ICE_FIXED] = "fixed",	   [ICE_UUID] = "uuid",
};

int ice_type_format(const struct ice_field *f, char *out, size_t n)
{
	int k;
	if ((unsigned)f->type > ICE_UUID)
		return -1;
	if (f->type == ICE_DECIMAL)
		k = snprintf(out, n, "decimal(%d, %d)", f->precision, f->scale);
	else if (f->type == ICE_FIXED)
		k = snprintf(out, n, "fixed[%d]", f->length);
	else
		k = snprintf(out, n, "%s", type_names[f->type]);
	return k < 0 || (size_t)k >= n ? -1 : 0;
}

int ice_type_parse(const char *s, struct ice_field *f)
{
	if (!s)
		return -1;
	if (sscanf(s, "decimal(%d ,%d)", &f->precision, &f->scale) == 2 ||
	    sscanf(s, "decimal(%d, %d)", &f->precision, &f->scale) == 2) {
		f->type = ICE_DECIMAL;
		return 0;
	}
	if (sscanf(s, "fixed[%d]", &f->length) == 1) {
		f->type = ICE_FIXED;
		return 0;
	}
	for (size_t i = 0; i < sizeof(type_names) / sizeof(type_names[0]); i++) {
		if (i != ICE_DECIMAL && i != ICE_FIXED && strcmp(s, type_names[i]) == 0) {
			f->type = (enum ice_type)i;
			return 0;
		}
	}
	return -1;
}

void ice_field_pq_spec(const struct ice_field *f, struct pq_column_spec *out)
{
	static const enum pq_kind kinds[] = {
		[ICE_BOOLEAN] = PQ_BOOLEAN, [ICE_INT] = PQ_INT32,	 [ICE_LONG] = PQ_INT64,
		[ICE_FLOAT] = PQ_FLOAT,	    [ICE_DOUBLE] = PQ_DOUBLE,	 [ICE_DECIMAL] = PQ_DECIMAL,
		[ICE_DATE] = PQ_DATE,	    [ICE_TIME] = PQ_TIME,	 [ICE_TIMESTAMP] = PQ_TIMESTAMP,
		[ICE_TIMESTAMPTZ] = PQ_TIMESTAMPTZ, [ICE_STRING] = PQ_STRING,
		[ICE_BINARY] = PQ_BINARY,   [ICE_FIXED] = PQ_FIXED,	 [ICE_UUID] = PQ_UUID,
	};
	memset(out, 0, sizeof(*out));
	out->name = f->name;
	out->field_id = f->id;
	out->kind = kinds[f->type];
	out->optional = !f->required;
	out->length = f->length;
	out->precision = f->precision;
	out->scale = f->scale;
}

static json_t *field_json(const struct ice_field *f)
{
	char t[64];
	if (ice_type_format(f, t, sizeof(t)) != 0)
		return NULL;
	json_t *o = json_object();
	json_object_set_new(o, "id", json_integer(f->id));
	json_object_set_new(o, "name", json_string(f->name));
	json_object_set_new(o, "required", json_boolean(f->required));
	json_object_set_new(o, "type", json_string(t));
	if (f->doc)
		json_object_set_new(o, "doc", json_string(f->doc));
	return o;
}

static json_t *schema_obj(int32_t schema_id, const struct ice_field *fields, size_t n,
			  const int32_t *ident, size_t nident)
{
	json_t *o = json_object(), *fa = json_array(), *ids = json_array();
	json_object_set_new(o, "type", json_string("struct"));
	json_object_set_new(o, "schema-id", json_integer(schema_id));
	for (size_t i = 0; i < nident; i++)
		json_array_append_new(ids, json_integer(ident[i]));
	json_object_set_new(o, "identifier-field-ids", ids);
	for (size_t i = 0; i < n; i++) {
		json_t *f = field_json(&fields[i]);
		if (!f) {
			json_decref(fa);
			json_decref(o);
			return NULL;
		}
		json_array_append_new(fa, f);
	}
	json_object_set_new(o, "fields", fa);
	return o;
}

void ice_schema_json(struct buf *out, int32_t schema_id, const struct ice_field *fields,
		     size_t n, const int32_t *identifier_ids, size_t nident)
{
	json_t *o = schema_obj(schema_id, fields, n, identifier_ids, nident);
	if (!o)
		return;
	char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
	buf_addstr(out, s);
	free(s);
	json_decref(o);
}

/* ---- table metadata parsing ---- */

static void schema_clear(struct ice_schema *s)
{
	for (size_t i = 0; i < s->nfields; i++) {
		free((char *)s->fields[i].name);
		free((char *)s->fields[i].doc);
	}
	free(s->fields);
	free(s->identifier_ids);
	memset(s, 0, sizeof(*s));
}

static int parse_schema(const json_t *js, struct ice_schema *s, struct sderr *e)
{
	memset(s, 0, sizeof(*s));
	s->schema_id = (int32_t)jint(js, "schema-id", 0);
	json_t *fa = json_object_get(js, "fields");
	size_t n = json_array_size(fa);
	s->fields = xcalloc(n ? n : 1, sizeof(*s->fields));
	for (size_t i = 0; i < n; i++) {
		json_t *f = json_array_get(fa, i);
		struct ice_field *d = &s->fields[s->nfields];
		if (ice_type_parse(jstr(f, "type"), d) != 0) {
			sderr_set(e, SD_ERR_SINK, "field %s: unsupported (nested?) Iceberg type",
				  jstr(f, "name") ? jstr(f, "name") : "?");
			schema_clear(s);
			return SD_ERR_SINK;
		}
		d->id = (int32_t)jint(f, "id", 0);
		d->name = xstrdup(jstr(f, "name") ? jstr(f, "name") : "");
		d->required = json_is_true(json_object_get(f, "required"));
		d->doc = jstr(f, "doc") ? xstrdup(jstr(f, "doc")) : NULL;
		s->nfields++;
	}
	json_t *ids = json_object_get(js, "identifier-field-ids");
	s->identifier_ids = xcalloc(json_array_size(ids) + 1, sizeof(int32_t));
	for (size_t i = 0; i < json_array_size(ids); i++)
		s->identifier_ids[s->nidentifier++] = (int32_t)json_integer_value(json_array_get(ids, i));
	return 0;
}

static const struct ice_field *schema_field(const struct ice_schema *s, int32_t id)
{
	for (size_t i = 0; i < s->nfields; i++)
		if (s->fields[i].id == id)
			return &s->fields[i];
	return NULL;
}

static const char *avro_type_for(enum ice_type t)
{
	switch (t) {
	case ICE_BOOLEAN: return "\"boolean\"";
	case ICE_INT: return "\"int\"";
	case ICE_LONG: return "\"long\"";
	case ICE_FLOAT: return "\"float\"";
	case ICE_DOUBLE: return "\"double\"";
	case ICE_DATE: return "{\"type\":\"int\",\"logicalType\":\"date\"}";
	case ICE_TIME: return "{\"type\":\"long\",\"logicalType\":\"time-micros\"}";
	case ICE_TIMESTAMP:
		return "{\"type\":\"long\",\"logicalType\":\"timestamp-micros\",\"adjust-to-utc\":false}";
	case ICE_TIMESTAMPTZ:
		return "{\"type\":\"long\",\"logicalType\":\"timestamp-micros\",\"adjust-to-utc\":true}";
	case ICE_STRING: return "\"string\"";
	case ICE_BINARY: return "\"bytes\"";
	default: return NULL;
	}
}

static json_t *find_by_int(json_t *arr, const char *key, int64_t v)
{
	size_t i;
	json_t *x;
	json_array_foreach(arr, i, x)
		if (jint(x, key, -1) == v)
			return x;
	return NULL;
}

/* Fills the parsed parts of t from t->meta. */
static int table_parse(struct ice_table *t, struct sderr *e)
{
	json_t *m = t->meta;
	if (jint(m, "format-version", 0) != 2)
		return sderr_set(e, SD_ERR_SINK, "%s: only format-version 2 is supported", t->meta_loc);
	json_t *js = find_by_int(json_object_get(m, "schemas"), "schema-id",
				 jint(m, "current-schema-id", 0));
	if (!js || !jstr(m, "location"))
		return sderr_set(e, SD_ERR_SINK, "%s: no current schema or location", t->meta_loc);
	schema_clear(&t->schema);
	int rc = parse_schema(js, &t->schema, e);
	if (rc)
		return rc;
	free(t->schema_text);
	t->schema_text = json_dumps(js, JSON_COMPACT | JSON_PRESERVE_ORDER);
	t->spec_id = (int)jint(m, "default-spec-id", 0);
	json_t *spec = find_by_int(json_object_get(m, "partition-specs"), "spec-id", t->spec_id);
	json_t *pf = json_object_get(spec, "fields");
	free(t->spec_fields_text);
	t->spec_fields_text = json_dumps(pf ? pf : json_array(), JSON_COMPACT | JSON_PRESERVE_ORDER);
	free(t->part.name);
	memset(&t->part, 0, sizeof(t->part));
	if (json_array_size(pf) > 1)
		return sderr_set(e, SD_ERR_SINK, "%s: more than one partition field", t->meta_loc);
	if (json_array_size(pf) == 1) {
		json_t *f = json_array_get(pf, 0);
		const char *tr = jstr(f, "transform");
		const struct ice_field *src = schema_field(&t->schema, (int32_t)jint(f, "source-id", -1));
		if (!tr || strcmp(tr, "identity") != 0 || !src || !avro_type_for(src->type))
			return sderr_set(e, SD_ERR_SINK,
					 "%s: only identity partitions on primitive columns are supported",
					 t->meta_loc);
		t->part.active = 1;
		t->part.name = xstrdup(jstr(f, "name") ? jstr(f, "name") : src->name);
		t->part.field_id = (int32_t)jint(f, "field-id", 1000);
		t->part.source_id = src->id;
		t->part.type = src->type;
		t->part.avro_type = avro_type_for(src->type);
	}
	return 0;
}

static int read_metadata(struct ice_table *t, const char *loc, struct sderr *e)
{
	struct buf b = BUF_INIT;
	int rc = fio_read(t->io, loc, &b, e);
	if (rc) {
		buf_release(&b);
		return rc;
	}
	json_error_t je;
	json_t *m = json_loadb(b.p, b.len, 0, &je);
	buf_release(&b);
	if (!json_is_object(m)) {
		json_decref(m);
		return sderr_set(e, SD_ERR_SINK, "%s: bad metadata JSON: %s (line %d)", loc, je.text,
				 je.line);
	}
	json_t *old = t->meta;
	char *old_loc = t->meta_loc;
	t->meta = m;
	t->meta_loc = xstrdup(loc);
	rc = table_parse(t, e);
	if (rc) {
		json_decref(m);
		free(t->meta_loc);
		t->meta = old;
		t->meta_loc = old_loc;
		if (old)
			table_parse(t, NULL);
		return rc;
	}
	json_decref(old);
	free(old_loc);
	return 0;
}

static struct ice_table *table_new(struct cat *c, struct fio *io, const char *ns,
				   const char *name)
{
	struct ice_table *t = xcalloc(1, sizeof(*t));
	t->cat = c;
	t->io = io ? io : fio_local();
	t->ns = ns ? xstrdup(ns) : NULL;
	t->name = name ? xstrdup(name) : NULL;
	return t;
}

void ice_table_free(struct ice_table *t)
{
	if (!t)
		return;
	schema_clear(&t->schema);
	free(t->schema_text);
	free(t->spec_fields_text);
	free(t->part.name);
	json_decref(t->meta);
	free(t->meta_loc);
	free(t->ns);
	free(t->name);
	free(t);
}

int ice_refresh(struct ice_table *t, struct sderr *e)
{
	if (!t->cat)
		return sderr_set(e, SD_ERR_SINK, "table loaded from a file has no catalog");
	char *loc;
	int rc = cat_load(t->cat, t->ns, t->name, &loc, e);
	if (rc)
		return rc;
	if (!t->meta_loc || strcmp(loc, t->meta_loc) != 0)
		rc = read_metadata(t, loc, e);
	free(loc);
	return rc;
}

int ice_load(struct cat *c, const char *ns, const char *name, struct ice_table **out,
	     struct sderr *e)
{
	struct ice_table *t = table_new(c, cat_fio(c), ns, name);
	int rc = ice_refresh(t, e);
	if (rc) {
		ice_table_free(t);
		return rc;
	}
	*out = t;
	return 0;
}

int ice_load_file(struct fio *io, const char *metadata_uri, struct ice_table **out,
		  struct sderr *e)
{
	struct ice_table *t = table_new(NULL, io, NULL, NULL);
	int rc = read_metadata(t, metadata_uri, e);
	if (rc) {
		ice_table_free(t);
		return rc;
	}
	*out = t;
	return 0;
}

const char *ice_table_location(const struct ice_table *t)
{
	return jstr(t->meta, "location");
}

const char *ice_table_metadata_location(const struct ice_table *t)
{
	return t->meta_loc;
}

const char *ice_table_uuid(const struct ice_table *t)
{
	return jstr(t->meta, "table-uuid");
}

const struct ice_schema *ice_table_schema(const struct ice_table *t)
{
	return &t->schema;
}

const char *ice_table_partition_column(const struct ice_table *t)
{
	if (!t->part.active)
		return NULL;
	const struct ice_field *f = schema_field(&t->schema, t->part.source_id);
	return f ? f->name : NULL;
}

char *ice_table_metadata_json(const struct ice_table *t)
{
	return json_dumps(t->meta, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
}

int64_t ice_table_current_snapshot(const struct ice_table *t)
{
	return jint(t->meta, "current-snapshot-id", -1);
}

size_t ice_snapshot_count(const struct ice_table *t)
{
	return json_array_size(json_object_get(t->meta, "snapshots"));
}

int ice_snapshot_get(const struct ice_table *t, size_t i, struct ice_snapshot_info *out)
{
	json_t *s = json_array_get(json_object_get(t->meta, "snapshots"), i);
	if (!s)
		return -1;
	out->snapshot_id = jint(s, "snapshot-id", -1);
	out->parent_id = jint(s, "parent-snapshot-id", -1);
	out->sequence_number = jint(s, "sequence-number", 0);
	out->timestamp_ms = jint(s, "timestamp-ms", 0);
	out->operation = jstr(json_object_get(s, "summary"), "operation");
	out->manifest_list = jstr(s, "manifest-list");
	return 0;
}

static json_t *snapshot_by_id(const json_t *meta, int64_t id)
{
	return find_by_int(json_object_get(meta, "snapshots"), "snapshot-id", id);
}

const char *ice_snapshot_summary(const struct ice_table *t, int64_t snapshot_id,
				 const char *key)
{
	return jstr(json_object_get(snapshot_by_id(t->meta, snapshot_id), "summary"), key);
}

/* ---- create ---- */

int ice_create(struct cat *c, const char *ns, const char *name, const struct ice_table_spec *s,
	       struct ice_table **out, struct sderr *e)
{
	if (!s->nfields)
		return sderr_set(e, SD_ERR_SINK, "table %s.%s: no columns", ns, name);
	struct ice_field *fields = xcalloc(s->nfields, sizeof(*fields));
	int32_t *ident = xcalloc(s->nidentifier + 1, sizeof(*ident));
	int32_t last_id = 0, part_src = -1;
	int rc = 0;
	memcpy(fields, s->fields, s->nfields * sizeof(*fields));
	for (size_t i = 0; i < s->nfields; i++) {
		if (fields[i].id == 0)
			fields[i].id = (int32_t)i + 1;
		if (fields[i].id > last_id)
			last_id = fields[i].id;
		if (s->partition_column && strcmp(fields[i].name, s->partition_column) == 0)
			part_src = fields[i].id;
	}
	for (size_t k = 0; !rc && k < s->nidentifier; k++) {
		size_t i;
		for (i = 0; i < s->nfields && strcmp(fields[i].name, s->identifier[k]) != 0; i++)
			;
		if (i == s->nfields || !fields[i].required || fields[i].type == ICE_FLOAT ||
		    fields[i].type == ICE_DOUBLE)
			rc = sderr_set(e, SD_ERR_SINK,
				       "identifier field %s must be a required, non-float column",
				       s->identifier[k]);
		else
			ident[k] = fields[i].id;
	}
	if (!rc && s->partition_column && part_src < 0)
		rc = sderr_set(e, SD_ERR_SINK, "partition column %s is not a column",
			       s->partition_column);
	json_t *schema = rc ? NULL : schema_obj(0, fields, s->nfields, ident, s->nidentifier);
	if (!rc && !schema)
		rc = sderr_set(e, SD_ERR_SINK, "table %s.%s: bad column type", ns, name);
	if (rc) {
		free(fields);
		free(ident);
		return rc;
	}

	char uuid[37];
	random_uuid(uuid);
	char *loc = s->location ? xstrdup(s->location) : cat_default_location(c, ns, name);
	for (size_t n = strlen(loc); n > 1 && loc[n - 1] == '/'; n--)
		loc[n - 1] = '\0';
	json_t *m = json_object();
	json_object_set_new(m, "format-version", json_integer(2));
	json_object_set_new(m, "table-uuid", json_string(uuid));
	json_object_set_new(m, "location", json_string(loc));
	json_object_set_new(m, "last-sequence-number", json_integer(0));
	json_object_set_new(m, "last-updated-ms", json_integer(now_ms()));
	json_object_set_new(m, "last-column-id", json_integer(last_id));
	json_object_set_new(m, "current-schema-id", json_integer(0));
	json_t *schemas = json_array();
	json_array_append_new(schemas, schema);
	json_object_set_new(m, "schemas", schemas);
	json_object_set_new(m, "default-spec-id", json_integer(0));
	json_t *spec = json_object(), *pfs = json_array();
	json_object_set_new(spec, "spec-id", json_integer(0));
	if (part_src >= 0) {
		json_t *pf = json_object();
		json_object_set_new(pf, "source-id", json_integer(part_src));
		json_object_set_new(pf, "field-id", json_integer(1000));
		json_object_set_new(pf, "name", json_string(s->partition_column));
		json_object_set_new(pf, "transform", json_string("identity"));
		json_array_append_new(pfs, pf);
	}
	json_object_set_new(spec, "fields", pfs);
	json_t *specs = json_array();
	json_array_append_new(specs, spec);
	json_object_set_new(m, "partition-specs", specs);
	json_object_set_new(m, "last-partition-id", json_integer(part_src >= 0 ? 1000 : 999));
	json_object_set_new(m, "default-sort-order-id", json_integer(0));
	json_t *so = json_object(), *sos = json_array();
	json_object_set_new(so, "order-id", json_integer(0));
	json_object_set_new(so, "fields", json_array());
	json_array_append_new(sos, so);
	json_object_set_new(m, "sort-orders", sos);
	json_t *props = json_object();
	for (const char *const *p = s->properties; p && p[0] && p[1]; p += 2)
		json_object_set_new(props, p[0], json_string(p[1]));
	json_object_set_new(m, "properties", props);
	json_object_set_new(m, "current-snapshot-id", json_integer(-1));
	json_object_set_new(m, "refs", json_object());
	json_object_set_new(m, "snapshots", json_array());
	json_object_set_new(m, "snapshot-log", json_array());
	json_object_set_new(m, "metadata-log", json_array());
	free(fields);
	free(ident);

	char *text = json_dumps(m, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	json_decref(m);
	char *mloc = NULL;
	rc = cat_commit(c, ns, name, loc, NULL, text, strlen(text), &mloc, e);
	free(text);
	free(loc);
	if (rc)
		return rc;
	struct ice_table *t = table_new(c, cat_fio(c), ns, name);
	rc = read_metadata(t, mloc, e);
	free(mloc);
	if (rc) {
		ice_table_free(t);
		return rc;
	}
	*out = t;
	return 0;
}

/* ---- Avro: generic decoding into JSON, encoding of the v2 records ---- */

static json_t *avro_dec(struct avro_cursor *c, const json_t *s, int depth)
{
	if (depth > 32 || c->err)
		return NULL;
	if (json_is_array(s)) {
		int64_t br = avro_get_long(c);
		if (br < 0 || (size_t)br >= json_array_size(s)) {
			c->err = 1;
			return NULL;
		}
		return avro_dec(c, json_array_get(s, (size_t)br), depth + 1);
	}
	const char *t = json_string_value(s);
	if (!t) {
		json_t *inner = json_object_get(s, "type");
		if (!json_is_string(inner))
			return avro_dec(c, inner, depth + 1);
		t = json_string_value(inner);
	}
	size_t n;
	const void *p;
	if (!strcmp(t, "null"))
		return json_null();
	if (!strcmp(t, "boolean"))
		return json_boolean(avro_get_bool(c));
	if (!strcmp(t, "int"))
		return json_integer(avro_get_int(c));
	if (!strcmp(t, "long"))
		return json_integer(avro_get_long(c));
	if (!strcmp(t, "float"))
		return json_real(avro_get_float(c));
	if (!strcmp(t, "double"))
		return json_real(avro_get_double(c));
	if (!strcmp(t, "bytes") || !strcmp(t, "string")) {
		p = avro_get_bytes(c, &n);
		return c->err ? NULL : jbytes(p, n);
	}
	if (!strcmp(t, "fixed")) {
		n = (size_t)jint(s, "size", 0);
		p = avro_get_fixed(c, n);
		return c->err ? NULL : jbytes(p, n);
	}
	if (!strcmp(t, "enum")) {
		int32_t k = avro_get_int(c);
		json_t *sym = json_array_get(json_object_get(s, "symbols"), (size_t)k);
		return sym ? json_incref(sym) : json_null();
	}
	if (!strcmp(t, "record")) {
		json_t *o = json_object(), *f;
		size_t i;
		json_array_foreach(json_object_get(s, "fields"), i, f) {
			json_t *v = avro_dec(c, json_object_get(f, "type"), depth + 1);
			if (!v) {
				json_decref(o);
				return NULL;
			}
			json_object_set_new(o, jstr(f, "name") ? jstr(f, "name") : "", v);
		}
		return o;
	}
	if (!strcmp(t, "array") || !strcmp(t, "map")) {
		int is_map = t[0] == 'm';
		json_t *item = json_object_get(s, is_map ? "values" : "items");
		json_t *out = is_map ? json_object() : json_array();
		for (;;) {
			int64_t cnt = avro_get_long(c);
			if (c->err)
				break;
			if (cnt == 0)
				return out;
			if (cnt < 0) {
				cnt = -cnt;
				(void)avro_get_long(c); /* block byte size */
			}
			for (int64_t k = 0; k < cnt && !c->err; k++) {
				char *key = NULL;
				if (is_map) {
					p = avro_get_bytes(c, &n);
					key = c->err ? NULL : xstrndup(p, n);
				}
				json_t *v = avro_dec(c, item, depth + 1);
				if (!v) {
					free(key);
					json_decref(out);
					return NULL;
				}
				if (is_map)
					json_object_set_new_nocheck(out, key ? key : "", v);
				else
					json_array_append_new(out, v);
				free(key);
			}
		}
		json_decref(out);
		return NULL;
	}
	c->err = 1; /* a named-type reference or an unknown type */
	return NULL;
}

/* All records of an Avro container file, decoded with its own schema. */
static int read_avro(struct fio *io, const char *uri, json_t **records, struct sderr *e)
{
	struct buf b = BUF_INIT;
	*records = NULL;
	int rc = fio_read(io, uri, &b, e);
	if (rc) {
		buf_release(&b);
		return rc;
	}
	struct avro_reader r;
	if (avro_reader_open(&r, b.p, b.len) != 0) {
		rc = sderr_set(e, SD_ERR_SINK, "%s: %s", uri, r.err);
		avro_reader_close(&r);
		buf_release(&b);
		return rc;
	}
	size_t slen;
	const char *stext = avro_reader_meta(&r, "avro.schema", &slen);
	json_t *schema = stext ? json_loadb(stext, slen, 0, NULL) : NULL;
	json_t *out = json_array();
	if (!schema)
		rc = sderr_set(e, SD_ERR_SINK, "%s: no readable avro.schema", uri);
	struct avro_cursor c;
	int64_t count;
	int got;
	while (!rc && (got = avro_reader_block(&r, &c, &count)) == 1) {
		for (int64_t i = 0; i < count; i++) {
			json_t *v = avro_dec(&c, schema, 0);
			if (!v) {
				rc = sderr_set(e, SD_ERR_SINK, "%s: malformed or unsupported Avro datum",
					       uri);
				break;
			}
			json_array_append_new(out, v);
		}
	}
	if (!rc && got < 0)
		rc = sderr_set(e, SD_ERR_SINK, "%s: %s", uri, r.err);
	avro_reader_close(&r);
	json_decref(schema);
	buf_release(&b);
	if (rc) {
		json_decref(out);
		return rc;
	}
	*records = out;
	return 0;
}

static void put_jbytes(struct buf *b, const json_t *v)
{
	avro_put_bytes(b, json_string_value(v), json_string_length(v));
}

static void put_opt_long(struct buf *b, const json_t *v)
{
	if (json_is_integer(v)) {
		avro_put_union(b, 1);
		avro_put_long(b, (int64_t)json_integer_value(v));
	} else {
		avro_put_union(b, 0);
	}
}

static void put_opt_int(struct buf *b, const json_t *v)
{
	if (json_is_integer(v)) {
		avro_put_union(b, 1);
		avro_put_int(b, (int32_t)json_integer_value(v));
	} else {
		avro_put_union(b, 0);
	}
}

static void put_opt_bytes(struct buf *b, const json_t *v)
{
	if (json_is_string(v)) {
		avro_put_union(b, 1);
		put_jbytes(b, v);
	} else {
		avro_put_union(b, 0);
	}
}

/* ["null", array of k_v records] from [{"key":…,"value":…}, …]. */
static void put_opt_intmap(struct buf *b, const json_t *v, int bytes_values)
{
	if (!json_is_array(v)) {
		avro_put_union(b, 0);
		return;
	}
	avro_put_union(b, 1);
	size_t n = json_array_size(v), i;
	json_t *kv;
	if (n) {
		avro_put_block(b, (int64_t)n);
		json_array_foreach(v, i, kv) {
			avro_put_int(b, (int32_t)jint(kv, "key", 0));
			if (bytes_values)
				put_jbytes(b, json_object_get(kv, "value"));
			else
				avro_put_long(b, jint(kv, "value", 0));
		}
	}
	avro_put_block(b, 0);
}

static void put_opt_longs(struct buf *b, const json_t *v, int as_int)
{
	if (!json_is_array(v)) {
		avro_put_union(b, 0);
		return;
	}
	avro_put_union(b, 1);
	size_t n = json_array_size(v), i;
	json_t *x;
	if (n) {
		avro_put_block(b, (int64_t)n);
		json_array_foreach(v, i, x) {
			if (as_int)
				avro_put_int(b, (int32_t)json_integer_value(x));
			else
				avro_put_long(b, (int64_t)json_integer_value(x));
		}
	}
	avro_put_block(b, 0);
}

static void put_part_value(struct buf *b, enum ice_type t, const json_t *v)
{
	if (!v || json_is_null(v)) {
		avro_put_union(b, 0);
		return;
	}
	avro_put_union(b, 1);
	switch (t) {
	case ICE_BOOLEAN: avro_put_bool(b, json_is_true(v)); break;
	case ICE_INT:
	case ICE_DATE: avro_put_int(b, (int32_t)json_integer_value(v)); break;
	case ICE_FLOAT: avro_put_float(b, (float)json_number_value(v)); break;
	case ICE_DOUBLE: avro_put_double(b, json_number_value(v)); break;
	case ICE_STRING:
	case ICE_BINARY: put_jbytes(b, v); break;
	default: avro_put_long(b, (int64_t)json_integer_value(v)); break;
	}
}

static void enc_manifest_entry(struct buf *b, const json_t *en, const struct part *pt)
{
	const json_t *df = json_object_get(en, "data_file");
	avro_put_int(b, (int32_t)jint(en, "status", 1));
	put_opt_long(b, json_object_get(en, "snapshot_id"));
	put_opt_long(b, json_object_get(en, "sequence_number"));
	put_opt_long(b, json_object_get(en, "file_sequence_number"));
	avro_put_int(b, (int32_t)jint(df, "content", 0));
	put_jbytes(b, json_object_get(df, "file_path"));
	avro_put_string(b, jstr(df, "file_format") ? jstr(df, "file_format") : "PARQUET");
	if (pt->active)
		put_part_value(b, pt->type, json_object_get(json_object_get(df, "partition"), pt->name));
	avro_put_long(b, jint(df, "record_count", 0));
	avro_put_long(b, jint(df, "file_size_in_bytes", 0));
	put_opt_intmap(b, json_object_get(df, "column_sizes"), 0);
	put_opt_intmap(b, json_object_get(df, "value_counts"), 0);
	put_opt_intmap(b, json_object_get(df, "null_value_counts"), 0);
	put_opt_intmap(b, json_object_get(df, "nan_value_counts"), 0);
	put_opt_intmap(b, json_object_get(df, "lower_bounds"), 1);
	put_opt_intmap(b, json_object_get(df, "upper_bounds"), 1);
	put_opt_bytes(b, json_object_get(df, "key_metadata"));
	put_opt_longs(b, json_object_get(df, "split_offsets"), 0);
	put_opt_longs(b, json_object_get(df, "equality_ids"), 1);
	put_opt_int(b, json_object_get(df, "sort_order_id"));
	put_opt_bytes(b, json_object_get(df, "referenced_data_file"));
}

static void enc_list_entry(struct buf *b, const json_t *m)
{
	put_jbytes(b, json_object_get(m, "manifest_path"));
	avro_put_long(b, jint(m, "manifest_length", 0));
	avro_put_int(b, (int32_t)jint(m, "partition_spec_id", 0));
	avro_put_int(b, (int32_t)jint(m, "content", 0));
	avro_put_long(b, jint(m, "sequence_number", 0));
	avro_put_long(b, jint(m, "min_sequence_number", 0));
	avro_put_long(b, jint(m, "added_snapshot_id", 0));
	avro_put_int(b, (int32_t)jint(m, "added_files_count", 0));
	avro_put_int(b, (int32_t)jint(m, "existing_files_count", 0));
	avro_put_int(b, (int32_t)jint(m, "deleted_files_count", 0));
	avro_put_long(b, jint(m, "added_rows_count", 0));
	avro_put_long(b, jint(m, "existing_rows_count", 0));
	avro_put_long(b, jint(m, "deleted_rows_count", 0));
	json_t *parts = json_object_get(m, "partitions");
	if (!json_is_array(parts)) {
		avro_put_union(b, 0);
	} else {
		avro_put_union(b, 1);
		size_t i;
		json_t *s;
		if (json_array_size(parts)) {
			avro_put_block(b, (int64_t)json_array_size(parts));
			json_array_foreach(parts, i, s) {
				avro_put_bool(b, json_is_true(json_object_get(s, "contains_null")));
				json_t *nan = json_object_get(s, "contains_nan");
				if (json_is_boolean(nan)) {
					avro_put_union(b, 1);
					avro_put_bool(b, json_is_true(nan));
				} else {
					avro_put_union(b, 0);
				}
				put_opt_bytes(b, json_object_get(s, "lower_bound"));
				put_opt_bytes(b, json_object_get(s, "upper_bound"));
			}
		}
		avro_put_block(b, 0);
	}
	put_opt_bytes(b, json_object_get(m, "key_metadata"));
}

/* ---- partition values ---- */

static uint64_t le_get(const unsigned char *p, size_t n)
{
	uint64_t v = 0;
	for (size_t i = n; i-- > 0;)
		v = v << 8 | p[i];
	return v;
}

static void le_put(struct buf *b, uint64_t v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		buf_addch(b, (char)(v >> (8 * i)));
}

/* Single-value bytes → the JSON form the Avro decoder produces. */
static json_t *part_from_bytes(enum ice_type t, const void *p, size_t n)
{
	const unsigned char *u = p;
	if (!p)
		return json_null();
	switch (t) {
	case ICE_BOOLEAN: return json_boolean(n && u[0]);
	case ICE_INT:
	case ICE_DATE: return n == 4 ? json_integer((int32_t)(uint32_t)le_get(u, 4)) : NULL;
	case ICE_FLOAT: {
		if (n != 4)
			return NULL;
		uint32_t v = (uint32_t)le_get(u, 4);
		float f;
		memcpy(&f, &v, 4);
		return json_real(f);
	}
	case ICE_DOUBLE: {
		if (n != 8)
			return NULL;
		uint64_t v = le_get(u, 8);
		double d;
		memcpy(&d, &v, 8);
		return json_real(d);
	}
	case ICE_STRING:
	case ICE_BINARY: return jbytes(p, n);
	default: return n == 8 ? json_integer((int64_t)le_get(u, 8)) : NULL;
	}
}

static void part_to_bytes(enum ice_type t, const json_t *v, struct buf *out)
{
	buf_reset(out);
	switch (t) {
	case ICE_BOOLEAN: buf_addch(out, json_is_true(v) ? 1 : 0); break;
	case ICE_INT:
	case ICE_DATE: le_put(out, (uint32_t)(int32_t)json_integer_value(v), 4); break;
	case ICE_FLOAT: {
		float f = (float)json_number_value(v);
		uint32_t u;
		memcpy(&u, &f, 4);
		le_put(out, u, 4);
		break;
	}
	case ICE_DOUBLE: {
		double d = json_number_value(v);
		uint64_t u;
		memcpy(&u, &d, 8);
		le_put(out, u, 8);
		break;
	}
	case ICE_STRING:
	case ICE_BINARY: buf_add(out, json_string_value(v), json_string_length(v)); break;
	default: le_put(out, (uint64_t)json_integer_value(v), 8); break;
	}
}

static int part_cmp(enum ice_type t, const json_t *a, const json_t *b)
{
	if (t == ICE_STRING || t == ICE_BINARY) {
		size_t na = json_string_length(a), nb = json_string_length(b);
		int c = memcmp(json_string_value(a), json_string_value(b), na < nb ? na : nb);
		return c ? c : (na > nb) - (na < nb);
	}
	if (t == ICE_FLOAT || t == ICE_DOUBLE) {
		double x = json_number_value(a), y = json_number_value(b);
		return (x > y) - (x < y);
	}
	if (t == ICE_BOOLEAN)
		return json_is_true(a) - json_is_true(b);
	json_int_t x = json_integer_value(a), y = json_integer_value(b);
	return (x > y) - (x < y);
}

/* The manifest-list partition summary (r508 list) of live entries. */
static json_t *part_summary(const struct part *pt, const json_t *entries)
{
	if (!pt->active)
		return json_array();
	const json_t *lo = NULL, *hi = NULL;
	int has_null = 0, has_nan = 0;
	size_t i;
	json_t *en;
	json_array_foreach(entries, i, en) {
		if (jint(en, "status", 1) == 2)
			continue;
		json_t *v = json_object_get(json_object_get(json_object_get(en, "data_file"),
							    "partition"), pt->name);
		if (!v || json_is_null(v)) {
			has_null = 1;
			continue;
		}
		if ((pt->type == ICE_FLOAT || pt->type == ICE_DOUBLE) &&
		    json_number_value(v) != json_number_value(v)) {
			has_nan = 1;
			continue;
		}
		if (!lo || part_cmp(pt->type, v, lo) < 0)
			lo = v;
		if (!hi || part_cmp(pt->type, v, hi) > 0)
			hi = v;
	}
	json_t *s = json_object();
	json_object_set_new(s, "contains_null", json_boolean(has_null));
	if (pt->type == ICE_FLOAT || pt->type == ICE_DOUBLE)
		json_object_set_new(s, "contains_nan", json_boolean(has_nan));
	else
		json_object_set_new(s, "contains_nan", json_false());
	struct buf b = BUF_INIT;
	if (lo) {
		part_to_bytes(pt->type, lo, &b);
		json_object_set_new(s, "lower_bound", jbytes(b.p, b.len));
		part_to_bytes(pt->type, hi, &b);
		json_object_set_new(s, "upper_bound", jbytes(b.p, b.len));
	}
	buf_release(&b);
	json_t *arr = json_array();
	json_array_append_new(arr, s);
	return arr;
}

/* ---- data files ---- */

void ice_metrics_from_pq(const struct pq_writer *w, const struct pq_column_spec *cols,
			 size_t ncols, struct ice_column_metrics *out)
{
	for (size_t i = 0; i < ncols; i++) {
		const struct pq_column_metrics *m = pq_metrics(w, (int)i);
		struct ice_column_metrics *o = &out[i];
		memset(o, 0, sizeof(*o));
		o->field_id = cols[i].field_id;
		o->column_size = m->column_size;
		o->value_count = m->value_count;
		o->null_count = m->null_count;
		o->nan_count = cols[i].kind == PQ_FLOAT || cols[i].kind == PQ_DOUBLE ? m->nan_count : -1;
		if (m->has_bounds) {
			o->lower = m->lower.p ? m->lower.p : "";
			o->lower_len = m->lower.len;
			o->upper = m->upper.p ? m->upper.p : "";
			o->upper_len = m->upper.len;
		}
	}
}

static void add_kv(json_t *arr, int32_t key, json_t *value)
{
	json_t *kv = json_object();
	json_object_set_new(kv, "key", json_integer(key));
	json_object_set_new(kv, "value", value);
	json_array_append_new(arr, kv);
}

static json_t *data_file_json(const struct ice_table *t, const struct ice_data_file *f)
{
	json_t *d = json_object();
	json_object_set_new(d, "content", json_integer(f->content));
	json_object_set_new(d, "file_path", json_string(f->path));
	json_object_set_new(d, "file_format", json_string("PARQUET"));
	json_t *part = json_object();
	if (t->part.active) {
		json_t *v = part_from_bytes(t->part.type, f->partition, f->partition_len);
		json_object_set_new(part, t->part.name, v ? v : json_null());
	}
	json_object_set_new(d, "partition", part);
	json_object_set_new(d, "record_count", json_integer(f->record_count));
	json_object_set_new(d, "file_size_in_bytes", json_integer(f->file_size));
	json_t *cs = json_array(), *vc = json_array(), *nc = json_array(), *nan = json_array();
	json_t *lo = json_array(), *hi = json_array();
	for (size_t i = 0; i < f->nmetrics; i++) {
		const struct ice_column_metrics *m = &f->metrics[i];
		if (m->column_size >= 0)
			add_kv(cs, m->field_id, json_integer(m->column_size));
		add_kv(vc, m->field_id, json_integer(m->value_count));
		add_kv(nc, m->field_id, json_integer(m->null_count));
		if (m->nan_count >= 0)
			add_kv(nan, m->field_id, json_integer(m->nan_count));
		if (m->lower)
			add_kv(lo, m->field_id, jbytes(m->lower, m->lower_len));
		if (m->upper)
			add_kv(hi, m->field_id, jbytes(m->upper, m->upper_len));
	}
	json_object_set_new(d, "column_sizes", cs);
	json_object_set_new(d, "value_counts", vc);
	json_object_set_new(d, "null_value_counts", nc);
	json_object_set_new(d, "nan_value_counts", nan);
	json_object_set_new(d, "lower_bounds", lo);
	json_object_set_new(d, "upper_bounds", hi);
	json_object_set_new(d, "key_metadata", json_null());
	if (f->nsplit) {
		json_t *so = json_array();
		for (size_t i = 0; i < f->nsplit; i++)
			json_array_append_new(so, json_integer(f->split_offsets[i]));
		json_object_set_new(d, "split_offsets", so);
	} else {
		json_object_set_new(d, "split_offsets", json_null());
	}
	json_object_set_new(d, "equality_ids", json_null());
	/* Data files were written in no particular order: sort order 0 (unsorted). */
	json_object_set_new(d, "sort_order_id",
			    f->content == ICE_CONTENT_DATA ? json_integer(0) : json_null());
	json_object_set_new(d, "referenced_data_file",
			    f->referenced_data_file ? json_string(f->referenced_data_file)
						    : json_null());
	return d;
}

/* Writes entries as a manifest under the table's metadata/; *path malloc'd. */
static int write_manifest(struct ice_table *t, const json_t *entries, int deletes, char **path,
			  int64_t *length, struct sderr *e)
{
	struct avro_partition_field pf = { t->part.name, t->part.field_id, t->part.avro_type };
	struct buf schema = BUF_INIT, p = BUF_INIT;
	avro_iceberg_manifest_schema(&schema, &pf, t->part.active ? 1 : 0);
	char uuid[37];
	random_uuid(uuid);
	buf_addf(&p, "%s/metadata/%s-m%d.avro", ice_table_location(t), uuid, deletes);
	struct fio_file *f;
	int rc = fio_create(t->io, p.p, &f, e);
	if (rc) {
		buf_release(&schema);
		buf_release(&p);
		return rc;
	}
	struct avro_writer *w = avro_writer_new(schema.p, AVRO_CODEC_DEFLATE, fio_write, f);
	if (!w) /* built without zlib */
		w = avro_writer_new(schema.p, AVRO_CODEC_NULL, fio_write, f);
	avro_iceberg_manifest_meta(w, t->schema_text, t->schema.schema_id, t->spec_fields_text,
				   t->spec_id, deletes);
	size_t i;
	json_t *en;
	json_array_foreach(entries, i, en) {
		struct buf *b = avro_datum_begin(w);
		enc_manifest_entry(b, en, &t->part);
		if (avro_datum_end(w) != 0) {
			rc = sderr_set(e, SD_ERR_SINK, "%s: %s", p.p, avro_writer_error(w));
			break;
		}
	}
	uint64_t size = 0;
	if (!rc && avro_writer_close(w, &size) != 0)
		rc = sderr_set(e, SD_ERR_SINK, "%s: %s", p.p, avro_writer_error(w));
	avro_writer_free(w);
	buf_release(&schema);
	if (rc) {
		fio_abort(f);
		buf_release(&p);
		return rc;
	}
	rc = fio_close(f, NULL, e);
	if (rc) {
		buf_release(&p);
		return rc;
	}
	*length = (int64_t)size;
	*path = buf_detach(&p, NULL);
	return 0;
}

static int write_list(struct ice_table *t, const json_t *list, int64_t snap_id, int64_t parent,
		      int64_t seq, int attempt, char **path, struct sderr *e)
{
	struct buf p = BUF_INIT;
	char uuid[37];
	random_uuid(uuid);
	buf_addf(&p, "%s/metadata/snap-%" PRId64 "-%d-%s.avro", ice_table_location(t), snap_id,
		 attempt, uuid);
	struct fio_file *f;
	int rc = fio_create(t->io, p.p, &f, e);
	if (rc) {
		buf_release(&p);
		return rc;
	}
	struct avro_writer *w =
		avro_writer_new(avro_iceberg_manifest_list_schema, AVRO_CODEC_DEFLATE, fio_write, f);
	if (!w)
		w = avro_writer_new(avro_iceberg_manifest_list_schema, AVRO_CODEC_NULL, fio_write, f);
	avro_iceberg_list_meta(w, snap_id, parent, seq);
	size_t i;
	json_t *m;
	json_array_foreach(list, i, m) {
		enc_list_entry(avro_datum_begin(w), m);
		if (avro_datum_end(w) != 0) {
			rc = sderr_set(e, SD_ERR_SINK, "%s: %s", p.p, avro_writer_error(w));
			break;
		}
	}
	if (!rc && avro_writer_close(w, NULL) != 0)
		rc = sderr_set(e, SD_ERR_SINK, "%s: %s", p.p, avro_writer_error(w));
	avro_writer_free(w);
	if (rc)
		fio_abort(f);
	else
		rc = fio_close(f, NULL, e);
	if (rc) {
		buf_release(&p);
		return rc;
	}
	*path = buf_detach(&p, NULL);
	return 0;
}

/* The manifest-list entries of a snapshot (empty array when it has none). */
static int read_list(struct ice_table *t, const json_t *snap, json_t **out, struct sderr *e)
{
	const char *ml = jstr(snap, "manifest-list");
	if (!snap || !ml) {
		*out = json_array();
		return 0;
	}
	return read_avro(t->io, ml, out, e);
}

/* Fills in inherited snapshot id and sequence numbers of a manifest's entries. */
static void resolve_inherited(json_t *entries, const json_t *lm)
{
	size_t i;
	json_t *en;
	json_array_foreach(entries, i, en) {
		if (!json_is_integer(json_object_get(en, "snapshot_id")))
			json_object_set_new(en, "snapshot_id",
					    json_integer(jint(lm, "added_snapshot_id", 0)));
		if (!json_is_integer(json_object_get(en, "sequence_number")))
			json_object_set_new(en, "sequence_number",
					    json_integer(jint(lm, "sequence_number", 0)));
		if (!json_is_integer(json_object_get(en, "file_sequence_number")))
			json_object_set_new(en, "file_sequence_number",
					    json_integer(jint(lm, "sequence_number", 0)));
	}
}

/* ---- transactions ---- */

struct ice_txn {
	struct ice_table *t;
	json_t *adds[2]; /* data_file objects: [0] data, [1] position deletes */
	json_t *removes; /* set of normalised paths → original path */
	json_t *summary;
	int retries, attempts;
	/* written once, reused by every attempt */
	char *manifest[2];
	int64_t manifest_len[2];
	json_t *manifest_parts[2];
};

struct ice_txn *ice_txn_begin(struct ice_table *t)
{
	struct ice_txn *x = xcalloc(1, sizeof(*x));
	x->t = t;
	x->adds[0] = json_array();
	x->adds[1] = json_array();
	x->removes = json_object();
	x->summary = json_object();
	x->retries = DEFAULT_RETRIES;
	return x;
}

void ice_txn_add_file(struct ice_txn *x, const struct ice_data_file *f)
{
	int k = f->content == ICE_CONTENT_POSITION_DELETES;
	json_array_append_new(x->adds[k], data_file_json(x->t, f));
}

void ice_txn_remove_file(struct ice_txn *x, const char *path)
{
	json_object_set_new_nocheck(x->removes, norm_uri(path), json_string(path));
}

void ice_txn_set_summary(struct ice_txn *x, const char *key, const char *value)
{
	json_object_set_new(x->summary, key, json_string(value));
}

void ice_txn_set_retries(struct ice_txn *x, int n)
{
	x->retries = n < 0 ? 0 : n;
}

int ice_txn_attempts(const struct ice_txn *x)
{
	return x->attempts;
}

void ice_txn_free(struct ice_txn *x)
{
	if (!x)
		return;
	for (int k = 0; k < 2; k++) {
		json_decref(x->adds[k]);
		json_decref(x->manifest_parts[k]);
		free(x->manifest[k]);
	}
	json_decref(x->removes);
	json_decref(x->summary);
	free(x);
}

struct counts {
	int64_t added_files, added_records, added_size;
	int64_t deleted_files, deleted_records, removed_size;
	int64_t added_del_files, added_pos_deletes, added_del_size;
	json_t *partitions; /* set of changed partition tuples */
};

static int64_t parent_total(const json_t *parent, const char *key)
{
	const char *v = jstr(json_object_get(parent, "summary"), key);
	return v ? strtoll(v, NULL, 10) : 0;
}

static void put_count(json_t *s, const char *key, int64_t v, int always)
{
	char num[32];
	if (!v && !always)
		return;
	snprintf(num, sizeof(num), "%" PRId64, v);
	json_object_set_new(s, key, json_string(num));
}

static json_t *make_summary(const struct ice_txn *x, const struct counts *c, const json_t *parent)
{
	json_t *s = json_object();
	const char *op;
	int adds = c->added_files > 0, dels = c->deleted_files > 0 || c->added_del_files > 0;
	op = adds && dels ? "overwrite" : adds ? "append" : "delete";
	json_object_set_new(s, "operation", json_string(op));
	put_count(s, "added-data-files", c->added_files, 0);
	put_count(s, "deleted-data-files", c->deleted_files, 0);
	put_count(s, "added-records", c->added_records, 0);
	put_count(s, "deleted-records", c->deleted_records, 0);
	put_count(s, "added-files-size", c->added_size + c->added_del_size, 0);
	put_count(s, "removed-files-size", c->removed_size, 0);
	put_count(s, "added-delete-files", c->added_del_files, 0);
	put_count(s, "added-position-delete-files", c->added_del_files, 0);
	put_count(s, "added-position-deletes", c->added_pos_deletes, 0);
	put_count(s, "changed-partition-count", (int64_t)json_object_size(c->partitions), 1);
	put_count(s, "total-records",
		  parent_total(parent, "total-records") + c->added_records - c->deleted_records, 1);
	put_count(s, "total-files-size",
		  parent_total(parent, "total-files-size") + c->added_size + c->added_del_size -
			  c->removed_size, 1);
	put_count(s, "total-data-files",
		  parent_total(parent, "total-data-files") + c->added_files - c->deleted_files, 1);
	put_count(s, "total-delete-files",
		  parent_total(parent, "total-delete-files") + c->added_del_files, 1);
	put_count(s, "total-position-deletes",
		  parent_total(parent, "total-position-deletes") + c->added_pos_deletes, 1);
	put_count(s, "total-equality-deletes", parent_total(parent, "total-equality-deletes"), 1);
	json_object_set_new(s, "engine-name", json_string("snapdiff"));
	const char *k;
	json_t *v;
	json_object_foreach(x->summary, k, v) json_object_set(s, k, v);
	return s;
}

static void note_partition(struct counts *c, const json_t *df)
{
	char *key = json_dumps(json_object_get(df, "partition"), JSON_COMPACT | JSON_SORT_KEYS |
									 JSON_ENCODE_ANY);
	if (key) {
		json_object_set_new_nocheck(c->partitions, key, json_true());
		free(key);
	}
}

/* Writes the manifests of added files once; reused by later attempts. */
static int write_added(struct ice_txn *x, struct sderr *e)
{
	for (int k = 0; k < 2; k++) {
		if (x->manifest[k] || !json_array_size(x->adds[k]))
			continue;
		json_t *entries = json_array();
		size_t i;
		json_t *df;
		json_array_foreach(x->adds[k], i, df) {
			json_t *en = json_object();
			json_object_set_new(en, "status", json_integer(1));
			json_object_set_new(en, "snapshot_id", json_null());
			json_object_set_new(en, "sequence_number", json_null());
			json_object_set_new(en, "file_sequence_number", json_null());
			json_object_set(en, "data_file", df);
			json_array_append_new(entries, en);
		}
		int rc = write_manifest(x->t, entries, k, &x->manifest[k], &x->manifest_len[k], e);
		x->manifest_parts[k] = part_summary(&x->t->part, entries);
		json_decref(entries);
		if (rc)
			return rc;
	}
	return 0;
}

static json_t *list_entry(const char *path, int64_t len, int spec_id, int content, int64_t seq,
			  int64_t min_seq, int64_t snap, int64_t nadd, int64_t nexist, int64_t ndel,
			  int64_t radd, int64_t rexist, int64_t rdel, json_t *parts)
{
	json_t *m = json_object();
	json_object_set_new(m, "manifest_path", json_string(path));
	json_object_set_new(m, "manifest_length", json_integer(len));
	json_object_set_new(m, "partition_spec_id", json_integer(spec_id));
	json_object_set_new(m, "content", json_integer(content));
	json_object_set_new(m, "sequence_number", json_integer(seq));
	json_object_set_new(m, "min_sequence_number", json_integer(min_seq));
	json_object_set_new(m, "added_snapshot_id", json_integer(snap));
	json_object_set_new(m, "added_files_count", json_integer(nadd));
	json_object_set_new(m, "existing_files_count", json_integer(nexist));
	json_object_set_new(m, "deleted_files_count", json_integer(ndel));
	json_object_set_new(m, "added_rows_count", json_integer(radd));
	json_object_set_new(m, "existing_rows_count", json_integer(rexist));
	json_object_set_new(m, "deleted_rows_count", json_integer(rdel));
	json_object_set(m, "partitions", parts);
	json_object_set_new(m, "key_metadata", json_null());
	return m;
}

/*
 * Rewrites one carried data manifest if it holds files being removed: those
 * become DELETED (keeping their sequence numbers), the others EXISTING.
 * *out is the entry for the new list (a new reference), or NULL to drop it.
 */
static int carry_manifest(struct ice_txn *x, json_t *lm, int64_t snap, int64_t seq,
			  json_t *found, struct counts *c, json_t *written, json_t **out,
			  struct sderr *e)
{
	struct ice_table *t = x->t;
	*out = NULL;
	int64_t live = jint(lm, "added_files_count", 1) + jint(lm, "existing_files_count", 1);
	if (live == 0)
		return 0; /* only DELETED entries: its deletions belong to an older snapshot */
	if (jint(lm, "content", 0) != 0 || json_object_size(x->removes) == 0) {
		*out = json_incref(lm);
		return 0;
	}
	json_t *entries;
	int rc = read_avro(t->io, jstr(lm, "manifest_path"), &entries, e);
	if (rc)
		return rc;
	resolve_inherited(entries, lm);
	size_t i, hits = 0;
	json_t *en;
	json_array_foreach(entries, i, en) {
		const char *p = jstr(json_object_get(en, "data_file"), "file_path");
		if (jint(en, "status", 0) != 2 && p && json_object_get(x->removes, norm_uri(p)))
			hits++;
	}
	if (!hits) {
		json_decref(entries);
		*out = json_incref(lm);
		return 0;
	}
	if (jint(lm, "partition_spec_id", 0) != t->spec_id) {
		json_decref(entries);
		return sderr_set(e, SD_ERR_SINK, "%s: written with another partition spec",
				 jstr(lm, "manifest_path"));
	}
	json_t *keep = json_array();
	int64_t nexist = 0, ndel = 0, rexist = 0, rdel = 0, min_seq = INT64_MAX;
	json_array_foreach(entries, i, en) {
		if (jint(en, "status", 0) == 2)
			continue;
		json_t *df = json_object_get(en, "data_file");
		const char *p = jstr(df, "file_path");
		int64_t recs = jint(df, "record_count", 0);
		if (p && json_object_get(x->removes, norm_uri(p))) {
			json_object_set_new(en, "status", json_integer(2));
			json_object_set_new(en, "snapshot_id", json_integer(snap));
			json_object_set_new_nocheck(found, norm_uri(p), json_true());
			ndel++;
			rdel += recs;
			c->deleted_files++;
			c->deleted_records += recs;
			c->removed_size += jint(df, "file_size_in_bytes", 0);
			note_partition(c, df);
		} else {
			json_object_set_new(en, "status", json_integer(0));
			nexist++;
			rexist += recs;
			int64_t s = jint(en, "sequence_number", 0);
			if (s < min_seq)
				min_seq = s;
		}
		json_array_append(keep, en);
	}
	json_decref(entries);
	char *path;
	int64_t len;
	rc = write_manifest(t, keep, 0, &path, &len, e);
	if (!rc) {
		json_array_append_new(written, json_string(path));
		json_t *parts = part_summary(&t->part, keep);
		*out = list_entry(path, len, t->spec_id, 0, seq, min_seq == INT64_MAX ? seq : min_seq,
				  snap, 0, nexist, ndel, 0, rexist, rdel, parts);
		json_decref(parts);
		free(path);
	}
	json_decref(keep);
	return rc;
}

static void remove_all(struct fio *io, json_t *paths)
{
	size_t i;
	json_t *p;
	struct sderr ignore;
	json_array_foreach(paths, i, p) fio_remove(io, json_string_value(p), &ignore);
	json_array_clear(paths);
}

/* Appends {timestamp-ms, metadata-file} of the base to the metadata log, bounded. */
static void log_metadata(json_t *m, const json_t *base, const char *base_loc)
{
	json_t *log = json_object_get(m, "metadata-log");
	if (!json_is_array(log)) {
		log = json_array();
		json_object_set_new(m, "metadata-log", log);
	}
	json_t *en = json_object();
	json_object_set_new(en, "timestamp-ms", json_integer(jint(base, "last-updated-ms", 0)));
	json_object_set_new(en, "metadata-file", json_string(base_loc));
	json_array_append_new(log, en);
	const char *maxs = jstr(json_object_get(m, "properties"),
				"write.metadata.previous-versions-max");
	size_t max = maxs ? (size_t)strtoul(maxs, NULL, 10) : METADATA_LOG_MAX;
	if (max < 1)
		max = 1;
	while (json_array_size(log) > max)
		json_array_remove(log, 0);
}

/* Commits metadata m (built on t's current metadata) through the catalog. */
static int commit_metadata(struct ice_table *t, json_t *m, struct sderr *e)
{
	char *text = json_dumps(m, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	char *loc = NULL;
	int rc = cat_commit(t->cat, t->ns, t->name, ice_table_location(t), t->meta_loc, text,
			    strlen(text), &loc, e);
	free(text);
	if (rc)
		return rc;
	/* The new metadata is what we built: no need to read it back. */
	json_t *old = t->meta;
	char *old_loc = t->meta_loc;
	t->meta = json_incref(m);
	t->meta_loc = loc;
	rc = table_parse(t, e);
	json_decref(old);
	free(old_loc);
	return rc;
}

static int txn_attempt(struct ice_txn *x, int64_t snap, json_t *written, struct sderr *e)
{
	struct ice_table *t = x->t;
	json_t *base = t->meta;
	int64_t parent_id = jint(base, "current-snapshot-id", -1);
	json_t *parent = parent_id >= 0 ? snapshot_by_id(base, parent_id) : NULL;
	int64_t seq = jint(base, "last-sequence-number", 0) + 1;
	struct counts c;
	memset(&c, 0, sizeof(c));
	c.partitions = json_object();
	json_t *list = json_array(), *carried = NULL, *found = json_object();
	int rc = 0;

	for (int k = 0; k < 2; k++) {
		if (!x->manifest[k])
			continue;
		int64_t recs = 0, size = 0;
		size_t i;
		json_t *df;
		json_array_foreach(x->adds[k], i, df) {
			recs += jint(df, "record_count", 0);
			size += jint(df, "file_size_in_bytes", 0);
			note_partition(&c, df);
		}
		int64_t n = (int64_t)json_array_size(x->adds[k]);
		if (k == 0) {
			c.added_files = n;
			c.added_records = recs;
			c.added_size = size;
		} else {
			c.added_del_files = n;
			c.added_pos_deletes = recs;
			c.added_del_size = size;
		}
		json_array_append_new(list, list_entry(x->manifest[k], x->manifest_len[k], t->spec_id,
						       k, seq, seq, snap, n, 0, 0, recs, 0, 0,
						       x->manifest_parts[k]));
	}
	rc = read_list(t, parent, &carried, e);
	size_t i;
	json_t *lm;
	if (!rc) {
		json_array_foreach(carried, i, lm) {
			json_t *out;
			rc = carry_manifest(x, lm, snap, seq, found, &c, written, &out, e);
			if (rc)
				break;
			if (out)
				json_array_append_new(list, out);
		}
	}
	if (!rc && json_object_size(found) != json_object_size(x->removes)) {
		const char *k;
		json_t *v;
		json_object_foreach(x->removes, k, v) {
			if (!json_object_get(found, k)) {
				rc = sderr_set(e, SD_ERR_SINK, "remove %s: not a live data file of the table",
					       json_string_value(v));
				break;
			}
		}
	}
	char *list_path = NULL;
	if (!rc)
		rc = write_list(t, list, snap, parent_id, seq, x->attempts, &list_path, e);
	if (!rc) {
		json_array_append_new(written, json_string(list_path));
		int64_t ts = now_ms();
		if (ts < jint(base, "last-updated-ms", 0))
			ts = jint(base, "last-updated-ms", 0);
		json_t *m = json_deep_copy(base);
		json_t *s = json_object();
		json_object_set_new(s, "snapshot-id", json_integer(snap));
		if (parent_id >= 0)
			json_object_set_new(s, "parent-snapshot-id", json_integer(parent_id));
		json_object_set_new(s, "sequence-number", json_integer(seq));
		json_object_set_new(s, "timestamp-ms", json_integer(ts));
		json_object_set_new(s, "manifest-list", json_string(list_path));
		json_object_set_new(s, "summary", make_summary(x, &c, parent));
		json_object_set_new(s, "schema-id", json_integer(t->schema.schema_id));
		json_t *snaps = json_object_get(m, "snapshots");
		if (!json_is_array(snaps)) {
			snaps = json_array();
			json_object_set_new(m, "snapshots", snaps);
		}
		json_array_append_new(snaps, s);
		json_object_set_new(m, "last-sequence-number", json_integer(seq));
		json_object_set_new(m, "last-updated-ms", json_integer(ts));
		json_object_set_new(m, "current-snapshot-id", json_integer(snap));
		json_t *refs = json_object_get(m, "refs");
		if (!json_is_object(refs)) {
			refs = json_object();
			json_object_set_new(m, "refs", refs);
		}
		json_t *main_ref = json_object();
		json_object_set_new(main_ref, "snapshot-id", json_integer(snap));
		json_object_set_new(main_ref, "type", json_string("branch"));
		json_object_set_new(refs, "main", main_ref);
		json_t *slog = json_object_get(m, "snapshot-log");
		if (!json_is_array(slog)) {
			slog = json_array();
			json_object_set_new(m, "snapshot-log", slog);
		}
		json_t *le = json_object();
		json_object_set_new(le, "timestamp-ms", json_integer(ts));
		json_object_set_new(le, "snapshot-id", json_integer(snap));
		json_array_append_new(slog, le);
		log_metadata(m, base, t->meta_loc);
		rc = commit_metadata(t, m, e);
		json_decref(m);
	}
	free(list_path);
	json_decref(list);
	json_decref(carried);
	json_decref(found);
	json_decref(c.partitions);
	return rc;
}

int ice_txn_commit(struct ice_txn *x, int64_t *snapshot_id, struct sderr *e)
{
	struct ice_table *t = x->t;
	x->attempts = 0;
	if (!t->cat)
		return sderr_set(e, SD_ERR_SINK, "table loaded from a file is read-only");
	if (!json_array_size(x->adds[0]) && !json_array_size(x->adds[1]) &&
	    !json_object_size(x->removes)) {
		if (snapshot_id)
			*snapshot_id = ice_table_current_snapshot(t);
		return 0;
	}
	int rc = write_added(x, e);
	if (rc)
		return rc;
	json_t *written = json_array();
	int64_t snap = ice_random_id();
	for (;;) {
		while (snapshot_by_id(t->meta, snap))
			snap = ice_random_id();
		rc = txn_attempt(x, snap, written, e);
		x->attempts++;
		if (rc != CAT_CONFLICT)
			break;
		remove_all(t->io, written);
		if (x->attempts > x->retries)
			break;
		rc = ice_refresh(t, e);
		if (rc)
			break;
	}
	if (rc == 0 && snapshot_id)
		*snapshot_id = snap;
	if (rc && rc != SD_ERR_SINK) {
		/* Clean failures (conflict, not found): nothing refers to our files. */
		remove_all(t->io, written);
		struct sderr ignore;
		for (int k = 0; k < 2; k++) {
			if (x->manifest[k])
				fio_remove(t->io, x->manifest[k], &ignore);
			free(x->manifest[k]);
			x->manifest[k] = NULL;
		}
	}
	json_decref(written);
	return rc;
}

/* ---- schema evolution ---- */

int ice_add_columns(struct ice_table *t, struct ice_field *fields, size_t n, struct sderr *e)
{
	if (!t->cat)
		return sderr_set(e, SD_ERR_SINK, "table loaded from a file is read-only");
	for (size_t i = 0; i < n; i++)
		if (fields[i].required)
			return sderr_set(e, SD_ERR_SINK,
					 "column %s: added columns must be optional", fields[i].name);
	for (int attempt = 0;; attempt++) {
		const struct ice_schema *cur = &t->schema;
		size_t total = cur->nfields;
		struct ice_field *all = xcalloc(cur->nfields + n, sizeof(*all));
		memcpy(all, cur->fields, cur->nfields * sizeof(*all));
		int32_t last = (int32_t)jint(t->meta, "last-column-id", 0);
		for (size_t i = 0; i < n; i++) {
			size_t j;
			for (j = 0; j < total && strcmp(all[j].name, fields[i].name) != 0; j++)
				;
			if (j < total) {
				fields[i].id = all[j].id;
				continue;
			}
			all[total] = fields[i];
			all[total].id = fields[i].id = ++last;
			total++;
		}
		if (total == cur->nfields) {
			free(all);
			return 0;
		}
		int32_t sid = 0;
		size_t i;
		json_t *js;
		json_array_foreach(json_object_get(t->meta, "schemas"), i, js)
			if (jint(js, "schema-id", 0) >= sid)
				sid = (int32_t)jint(js, "schema-id", 0) + 1;
		json_t *schema = schema_obj(sid, all, total, cur->identifier_ids, cur->nidentifier);
		free(all);
		if (!schema)
			return sderr_set(e, SD_ERR_SINK, "add columns: bad column type");
		json_t *m = json_deep_copy(t->meta);
		json_array_append_new(json_object_get(m, "schemas"), schema);
		json_object_set_new(m, "current-schema-id", json_integer(sid));
		json_object_set_new(m, "last-column-id", json_integer(last));
		int64_t ts = now_ms();
		if (ts < jint(t->meta, "last-updated-ms", 0))
			ts = jint(t->meta, "last-updated-ms", 0);
		json_object_set_new(m, "last-updated-ms", json_integer(ts));
		log_metadata(m, t->meta, t->meta_loc);
		int rc = commit_metadata(t, m, e);
		json_decref(m);
		if (rc != CAT_CONFLICT || attempt >= DEFAULT_RETRIES)
			return rc;
		rc = ice_refresh(t, e);
		if (rc)
			return rc;
	}
}

/* ---- reachability, expiry, orphans ---- */

/* Adds the manifest list, manifests and files of snapshot s to set. */
static int collect_snapshot(struct ice_table *t, const json_t *s, json_t *set, json_t *seen,
			    struct sderr *e)
{
	const char *ml = jstr(s, "manifest-list");
	if (!ml)
		return 0;
	set_add(set, ml);
	json_t *list;
	int rc = read_avro(t->io, ml, &list, e);
	if (rc)
		return rc == FIO_NOT_FOUND ? 0 : rc;
	size_t i;
	json_t *lm;
	json_array_foreach(list, i, lm) {
		const char *mp = jstr(lm, "manifest_path");
		if (!mp || set_has(seen, mp))
			continue; /* a manifest shared by many snapshots is read once */
		set_add(seen, mp);
		set_add(set, mp);
		json_t *entries;
		rc = read_avro(t->io, mp, &entries, e);
		if (rc == FIO_NOT_FOUND) {
			rc = 0;
			continue;
		}
		if (rc)
			break;
		size_t j;
		json_t *en;
		json_array_foreach(entries, j, en) {
			const char *p = jstr(json_object_get(en, "data_file"), "file_path");
			if (p)
				set_add(set, p);
		}
		json_decref(entries);
	}
	json_decref(list);
	return rc;
}

static int cmp_ts_desc(const void *a, const void *b)
{
	int64_t x = jint(*(json_t *const *)a, "timestamp-ms", 0);
	int64_t y = jint(*(json_t *const *)b, "timestamp-ms", 0);
	return (x < y) - (x > y);
}

int ice_expire(struct ice_table *t, const struct ice_expire_opts *o, struct ice_expire_result *r,
	       struct sderr *e)
{
	memset(r, 0, sizeof(*r));
	if (!t->cat)
		return sderr_set(e, SD_ERR_SINK, "table loaded from a file is read-only");
	int retain = o->retain_last < 1 ? 1 : o->retain_last;
	for (int attempt = 0;; attempt++) {
		json_t *snaps = json_object_get(t->meta, "snapshots");
		size_t n = json_array_size(snaps), i;
		if (!n)
			return 0;
		json_t **v = xcalloc(n, sizeof(*v)), *keep = json_object(), *s;
		json_array_foreach(snaps, i, s) v[i] = s;
		qsort(v, n, sizeof(*v), cmp_ts_desc);
		char key[32];
		for (i = 0; i < n; i++) {
			if ((int)i < retain || jint(v[i], "timestamp-ms", 0) >= o->older_than_ms) {
				snprintf(key, sizeof(key), "%" PRId64, jint(v[i], "snapshot-id", 0));
				json_object_set_new(keep, key, json_true());
			}
		}
		free(v);
		snprintf(key, sizeof(key), "%" PRId64, ice_table_current_snapshot(t));
		json_object_set_new(keep, key, json_true());
		const char *rn;
		json_t *ref;
		json_object_foreach(json_object_get(t->meta, "refs"), rn, ref) {
			snprintf(key, sizeof(key), "%" PRId64, jint(ref, "snapshot-id", 0));
			json_object_set_new(keep, key, json_true());
		}
		json_t *m = json_deep_copy(t->meta), *kept = json_array(), *gone = json_array();
		json_array_foreach(snaps, i, s) {
			snprintf(key, sizeof(key), "%" PRId64, jint(s, "snapshot-id", 0));
			json_array_append(json_object_get(keep, key) ? kept : gone, s);
		}
		json_t *slog = json_array(), *le;
		json_array_foreach(json_object_get(t->meta, "snapshot-log"), i, le) {
			snprintf(key, sizeof(key), "%" PRId64, jint(le, "snapshot-id", 0));
			if (json_object_get(keep, key))
				json_array_append(slog, le);
		}
		json_decref(keep);
		size_t ngone = json_array_size(gone);
		if (!ngone) {
			json_decref(m);
			json_decref(kept);
			json_decref(gone);
			json_decref(slog);
			return 0;
		}
		json_object_set(m, "snapshots", kept);
		json_object_set_new(m, "snapshot-log", slog);
		int64_t ts = now_ms();
		if (ts < jint(t->meta, "last-updated-ms", 0))
			ts = jint(t->meta, "last-updated-ms", 0);
		json_object_set_new(m, "last-updated-ms", json_integer(ts));
		log_metadata(m, t->meta, t->meta_loc);
		int rc = commit_metadata(t, m, e);
		json_decref(m);
		if (rc == 0) {
			r->snapshots_expired = ngone;
			if (o->delete_files) {
				json_t *live = json_object(), *dead = json_object(), *seen = json_object();
				json_array_foreach(kept, i, s) if (!rc) rc =
					collect_snapshot(t, s, live, seen, e);
				json_object_clear(seen);
				json_array_foreach(gone, i, s) if (!rc) rc =
					collect_snapshot(t, s, dead, seen, e);
				const char *p;
				json_t *x;
				struct sderr ignore;
				json_object_foreach(dead, p, x) {
					if (!rc && !json_object_get(live, p) &&
					    fio_remove(t->io, p, &ignore) == 0)
						r->files_deleted++;
				}
				json_decref(live);
				json_decref(dead);
				json_decref(seen);
			}
		}
		json_decref(kept);
		json_decref(gone);
		if (rc != CAT_CONFLICT || attempt >= DEFAULT_RETRIES)
			return rc;
		rc = ice_refresh(t, e);
		if (rc)
			return rc;
	}
}

int ice_orphan_files(struct ice_table *t, int64_t older_than_ms, char ***uris, size_t *n,
		     struct sderr *e)
{
	*uris = NULL;
	*n = 0;
	json_t *live = json_object(), *seen = json_object();
	set_add(live, t->meta_loc);
	size_t i;
	json_t *x;
	json_array_foreach(json_object_get(t->meta, "metadata-log"), i, x) {
		if (jstr(x, "metadata-file"))
			set_add(live, jstr(x, "metadata-file"));
	}
	int rc = 0;
	json_array_foreach(json_object_get(t->meta, "snapshots"), i, x) {
		rc = collect_snapshot(t, x, live, seen, e);
		if (rc)
			break;
	}
	struct fio_entry *ents = NULL;
	size_t ne = 0;
	if (!rc)
		rc = fio_list(t->io, ice_table_location(t), &ents, &ne, e);
	for (i = 0; !rc && i < ne; i++) {
		const char *base = strrchr(ents[i].uri, '/');
		if (base && !strcmp(base, "/version-hint.text"))
			continue;
		if (set_has(live, ents[i].uri) || ents[i].mtime_ms >= older_than_ms)
			continue;
		*uris = xrealloc(*uris, (*n + 1) * sizeof(**uris));
		(*uris)[(*n)++] = xstrdup(ents[i].uri);
	}
	fio_entries_free(ents, ne);
	json_decref(live);
	json_decref(seen);
	return rc;
}

/* ---- rollback of the newest snapshot (added for the lake sink) ---- */

/*
 * Undoing a commit whose caller never recorded it (snapdiff's crash between
 * the lake commit and the state commit) must leave no trace readers could
 * time-travel to, so the snapshot is removed from the metadata instead of
 * only moving main back as Java's rollbackTo does; its files become orphans.
 */
int ice_rollback_current(struct ice_table *t, int64_t snapshot_id, struct sderr *e)
{
	if (!t->cat)
		return sderr_set(e, SD_ERR_SINK, "table loaded from a file is read-only");
	for (int attempt = 0;; attempt++) {
		if (ice_table_current_snapshot(t) != snapshot_id)
			return sderr_set(e, SD_ERR_SINK,
					 "rollback: snapshot %lld is not the current one of %s",
					 (long long)snapshot_id, t->name ? t->name : "table");
		json_t *s = snapshot_by_id(t->meta, snapshot_id);
		int64_t parent = jint(s, "parent-snapshot-id", -1);
		json_t *m = json_deep_copy(t->meta);
		json_t *snaps = json_object_get(m, "snapshots");
		size_t i;
		json_t *x;
		json_array_foreach(snaps, i, x) {
			if (jint(x, "snapshot-id", -1) == snapshot_id) {
				json_array_remove(snaps, i);
				break;
			}
		}
		json_t *slog = json_object_get(m, "snapshot-log");
		for (i = json_array_size(slog); i-- > 0;)
			if (jint(json_array_get(slog, i), "snapshot-id", -1) == snapshot_id)
				json_array_remove(slog, i);
		json_t *refs = json_object_get(m, "refs");
		if (parent >= 0 && snapshot_by_id(m, parent)) {
			json_object_set_new(m, "current-snapshot-id", json_integer(parent));
			json_t *main_ref = json_object();
			json_object_set_new(main_ref, "snapshot-id", json_integer(parent));
			json_object_set_new(main_ref, "type", json_string("branch"));
			if (json_is_object(refs))
				json_object_set_new(refs, "main", main_ref);
			else
				json_decref(main_ref);
		} else {
			json_object_set_new(m, "current-snapshot-id", json_integer(-1));
			if (json_is_object(refs))
				json_object_del(refs, "main");
		}
		int64_t ts = now_ms();
		if (ts < jint(t->meta, "last-updated-ms", 0))
			ts = jint(t->meta, "last-updated-ms", 0);
		json_object_set_new(m, "last-updated-ms", json_integer(ts));
		log_metadata(m, t->meta, t->meta_loc);
		int rc = commit_metadata(t, m, e);
		json_decref(m);
		if (rc != CAT_CONFLICT || attempt >= DEFAULT_RETRIES)
			return rc;
		rc = ice_refresh(t, e);
		if (rc)
			return rc;
	}
}

/* ---- live files of the current snapshot (added for lake compaction) ---- */

int ice_live_files(struct ice_table *t, struct ice_live_file **out, size_t *n, struct sderr *e)
{
	*out = NULL;
	*n = 0;
	int64_t cur = ice_table_current_snapshot(t);
	if (cur < 0)
		return 0;
	json_t *list;
	int rc = read_list(t, snapshot_by_id(t->meta, cur), &list, e);
	if (rc)
		return rc;
	size_t i;
	json_t *lm;
	json_array_foreach(list, i, lm) {
		json_t *entries;
		rc = read_avro(t->io, jstr(lm, "manifest_path"), &entries, e);
		if (rc)
			break;
		resolve_inherited(entries, lm);
		size_t j;
		json_t *en;
		json_array_foreach(entries, j, en) {
			if (jint(en, "status", 0) == 2)
				continue;
			json_t *df = json_object_get(en, "data_file");
			*out = xrealloc(*out, (*n + 1) * sizeof(**out));
			struct ice_live_file *f = &(*out)[(*n)++];
			memset(f, 0, sizeof(*f));
			f->path = xstrdup(jstr(df, "file_path"));
			f->content = (int)jint(df, "content", 0);
			f->record_count = jint(df, "record_count", 0);
			f->file_size = jint(df, "file_size_in_bytes", 0);
			f->sequence_number = jint(en, "sequence_number", 0);
			json_t *pv = t->part.active ? json_object_get(json_object_get(df, "partition"),
								      t->part.name) : NULL;
			if (json_is_string(pv))
				f->partition = xstrdup(json_string_value(pv));
			else if (json_is_integer(pv)) {
				char tmp[32];
				snprintf(tmp, sizeof(tmp), "%lld", (long long)json_integer_value(pv));
				f->partition = xstrdup(tmp);
			}
		}
		json_decref(entries);
	}
	json_decref(list);
	return rc;
}

void ice_live_files_free(struct ice_live_file *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(v[i].path);
		free(v[i].partition);
	}
	free(v);
}
