/*
 * sink_lake — the Iceberg lake sink. Every source table gets two Iceberg
 * tables in the configured namespace, both partitioned by identity on `_db`
 * so all wikis share them: the mirror `<table>` (the source rows as they are
 * now, kept with position deletes) and the changelog `<table>__changelog`
 * (one row per emitted change). A run appends one data file per table and,
 * for the mirror, one position-delete file naming the rows its updates and
 * deletes replaced; each table gets exactly one snapshot per run, tagged
 * with the run id, GTID and snapshot time.
 *
 * Where a key's live row sits (data file, position) is kept in the state
 * file (lake_int.h): read during emit through a second, read-only SQLite
 * connection, and changed only in state_commit, inside the state's own
 * transaction, so the index and the state move together. The run's index
 * changes go to a temporary file meanwhile (bounded memory).
 *
 * A crash after the Iceberg commits and before the state commit leaves the
 * lake one run ahead; the rerun has the same run id, so begin() finds that
 * run id on the table's current snapshot and removes the snapshot before
 * writing again. Its files are then orphans (`snapdiff lake orphans`).
 */
#include "sink.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "encode.h"
#include "event.h"
#include "lake/fileio.h"
#include "lake/iceberg.h"
#include "lake/parquet.h"
#include "lake_int.h"
#include "state.h"

/* Where a field's value comes from (>= 0: the source column of that index). */
enum {
	SRC_NULL = -1,
	SRC_DB = -2,
	SRC_OP = -3,
	SRC_EVENT_ID = -4,
	SRC_RUN_ID = -5,
	SRC_SNAPSHOT_MS = -6,
	SRC_GTID = -7,
	SRC_HASH = -8,
};

/* One Iceberg table being written by the current run. */
struct lk_out {
	struct ice_table *t;
	bool changelog;
	bool committed;
	struct pq_column_spec *cols;
	int *src;
	size_t ncols;
	char *path;
	struct fio_file *f;
	struct pq_writer *w;
	int64_t snapshot_id;
	/* the position-delete file */
	char *del_path;
	bool del_written;
};

struct lk_del {
	int64_t file_id;
	int64_t pos;
};

/* Index changes of a run, waiting for its state_commit. */
struct lk_pending {
	struct lk_pending *next;
	char *run_id, *db, *tbl;
	int64_t generation;
	FILE *tmp;        /* records: op byte ('+' put, '-' delete), varint klen, key, varint pos */
	char *data_path;  /* the mirror data file the '+' records point into, or NULL */
	int64_t snapshot_id;
	bool ready;       /* the run's sink commit succeeded */
};

struct lake {
	const struct cfg *cfg;
	struct cat *cat;
	struct pq_options pqo;
	sqlite3 *ro;
	sqlite3_stmt *lookup; /* key -> (path, file id, pos) */
	/* the run being delivered */
	const struct sd_run_info *run;
	struct lk_out mirror, clog;
	struct lk_pending *pend;  /* this run's entry */
	int64_t pos;              /* rows written to the mirror data file */
	struct lk_del *dels;
	size_t ndel, capdel;
	struct buf vals;
	struct enc_value *ev;
	size_t nev;
	struct lk_pending *pending;
};

/* ---- shared helpers (lake_int.h) ---------------------------------------- */

int64_t lake_days(unsigned y, unsigned m, unsigned d)
{
	/* days_from_civil (proleptic Gregorian) */
	int64_t yy = (int64_t)y - (m <= 2);
	int64_t era = (yy >= 0 ? yy : yy - 399) / 400;
	int64_t yoe = yy - era * 400;
	int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static void add_escaped(struct buf *b, const char *s)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    c == '_' || c == '-' || c == '.')
			buf_addch(b, (char)c);
		else
			buf_addf(b, "%%%02X", c);
	}
}

char *lake_data_path(const char *location, const char *db, const char *stem)
{
	unsigned char r[16];
	for (int i = 0; i < 2; i++) {
		int64_t v = ice_random_id();
		memcpy(r + 8 * i, &v, 8);
	}
	struct buf b = BUF_INIT;
	buf_addstr(&b, location);
	while (b.len && b.p[b.len - 1] == '/')
		b.len--;
	buf_addstr(&b, "/data/" LAKE_PARTITION_COLUMN "=");
	add_escaped(&b, db);
	buf_addch(&b, '/');
	add_escaped(&b, stem);
	buf_addch(&b, '-');
	for (int i = 0; i < 16; i++)
		buf_addf(&b, "%02x", r[i]);
	buf_addstr(&b, ".parquet");
	return buf_detach(&b, NULL);
}

static char *file_uri(const char *dir)
{
	struct buf b = BUF_INIT;
	if (strstr(dir, "://") || !strncmp(dir, "file:", 5)) {
		buf_addstr(&b, dir);
	} else if (dir[0] == '/') {
		buf_addf(&b, "file://%s", dir);
	} else {
		char cwd[PATH_MAX];
		if (!getcwd(cwd, sizeof(cwd)))
			strcpy(cwd, ".");
		buf_addf(&b, "file://%s/%s", cwd, dir);
	}
	while (b.len > 8 && b.p[b.len - 1] == '/')
		b.p[--b.len] = 0;
	return buf_detach(&b, NULL);
}

/* mariadb://user[:password]@host[:port]/database[?socket=/path] */
static int open_mariadb(const struct cfg_lake *l, const char *wh, struct cat **out,
			struct sderr *e)
{
	const char *u = l->catalog_uri;
	if (!u || strncmp(u, "mariadb://", 10) != 0)
		return sderr_set(e, SD_ERR_CONFIG,
				 "lake.catalog_uri must be mariadb://user[:password]@host[:port]/database[?socket=PATH]");
	char *s = xstrdup(u + 10);
	struct cat_mariadb_opts o;
	memset(&o, 0, sizeof(o));
	char *q = strchr(s, '?');
	if (q) {
		*q++ = 0;
		if (!strncmp(q, "socket=", 7))
			o.socket = q + 7;
	}
	char *slash = strchr(s, '/');
	if (slash) {
		*slash = 0;
		o.database = slash + 1;
	}
	char *at = strrchr(s, '@');
	char *hostpart = s;
	if (at) {
		*at = 0;
		o.user = s;
		char *colon = strchr(s, ':');
		if (colon) {
			*colon = 0;
			o.password = colon + 1;
		}
		hostpart = at + 1;
	}
	char *colon = strchr(hostpart, ':');
	if (colon) {
		*colon = 0;
		o.port = (unsigned)strtoul(colon + 1, NULL, 10);
	}
	o.host = *hostpart ? hostpart : NULL;
	if (!o.password)
		o.password = getenv("SNAPDIFF_LAKE_CATALOG_PASSWORD");
	int rc = cat_open_mariadb(&o, l->catalog_name, wh, fio_local(), out, e);
	free(s);
	return rc;
}

int lake_open_catalog(const struct cfg *cfg, struct cat **out, struct sderr *e)
{
	const struct cfg_lake *l = &cfg->lake;
	char *wh = file_uri(l->warehouse);
	int rc = fio_mkdirs(fio_local(), wh, e);
	if (rc) {
		free(wh);
		return rc;
	}
	if (!strcmp(l->catalog, "hadoop"))
		rc = cat_open_hadoop(wh, fio_local(), out, e);
	else if (!strcmp(l->catalog, "mariadb"))
		rc = open_mariadb(l, wh, out, e);
	else
		rc = cat_open_sqlite(l->catalog_uri, l->catalog_name, wh, fio_local(), out, e);
	free(wh);
	if (!rc && (rc = cat_create_namespace(*out, l->namespace_, e)))
		cat_close(*out);
	return rc;
}

void lake_map_type(const struct sd_column *c, struct ice_field *f)
{
	f->precision = f->scale = f->length = 0;
	switch (c->kind) {
	case ENC_INT:
		f->type = c->data_type && !strcmp(c->data_type, "bigint") ? ICE_LONG : ICE_INT;
		break;
	case ENC_UINT: {
		/* TINYINT..MEDIUMINT UNSIGNED fit an int, INT UNSIGNED a long */
		const char *d = c->data_type ? c->data_type : "bigint";
		if (!strcmp(d, "bigint")) {
			f->type = ICE_DECIMAL;
			f->precision = 20;
		} else {
			f->type = !strcmp(d, "int") || !strcmp(d, "integer") ? ICE_LONG : ICE_INT;
		}
		break;
	}
	case ENC_FLOAT:
		f->type = ICE_FLOAT;
		break;
	case ENC_DOUBLE:
		f->type = ICE_DOUBLE;
		break;
	case ENC_DECIMAL:
		if (c->precision >= 1 && c->precision <= 38) {
			f->type = ICE_DECIMAL;
			f->precision = (int)c->precision;
			f->scale = (int)c->scale;
		} else {
			f->type = ICE_STRING;
		}
		break;
	case ENC_DATE:
		f->type = ICE_DATE;
		break;
	case ENC_DATETIME:
		f->type = ICE_TIMESTAMP;
		break;
	case ENC_TIMESTAMP:
		f->type = ICE_TIMESTAMPTZ;
		break;
	case ENC_TIME:
	case ENC_BIT:
		f->type = ICE_LONG;
		break;
	case ENC_YEAR:
		f->type = ICE_INT;
		break;
	case ENC_BYTES:
		f->type = ICE_BINARY;
		break;
	default: /* TEXT, ENUM, SET, JSON */
		f->type = ICE_STRING;
		break;
	}
}

/* ---- tables ------------------------------------------------------------- */

static void out_reset(struct lk_out *o)
{
	if (o->w)
		pq_free(o->w);
	if (o->f)
		fio_abort(o->f);
	ice_table_free(o->t);
	free(o->cols);
	free(o->src);
	free(o->path);
	free(o->del_path);
	memset(o, 0, sizeof(*o));
}

static int sql_exec(sqlite3 *db, const char *sql, struct sderr *e)
{
	char *msg = NULL;
	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		int rc = sderr_set(e, SD_ERR_STATE, "lake state: %s", msg ? msg : sqlite3_errmsg(db));
		sqlite3_free(msg);
		return rc;
	}
	return SD_OK;
}

/* The fields a table of this source table should have, in order. */
static size_t wanted_fields(const struct lake *k, const struct sd_table *st, bool changelog,
			    struct ice_field *f, int *src)
{
	size_t n = 0;
	if (changelog) {
		static const struct {
			const char *name;
			enum ice_type type;
			int src;
		} meta[] = {
			{ "_op", ICE_STRING, SRC_OP },
			{ "_event_id", ICE_STRING, SRC_EVENT_ID },
			{ "_run_id", ICE_STRING, SRC_RUN_ID },
			{ "_snapshot_ms", ICE_TIMESTAMPTZ, SRC_SNAPSHOT_MS },
			{ "_gtid", ICE_STRING, SRC_GTID },
		};
		for (size_t i = 0; i < sizeof(meta) / sizeof(meta[0]); i++) {
			f[n] = (struct ice_field){ .name = meta[i].name, .type = meta[i].type,
						   .required = 1 };
			src[n++] = meta[i].src;
		}
	}
	f[n] = (struct ice_field){ .name = LAKE_PARTITION_COLUMN, .type = ICE_STRING, .required = 1 };
	src[n++] = SRC_DB;
	for (size_t j = 0; j < st->ncols; j++) {
		const struct sd_column *c = &st->cols[j];
		f[n] = (struct ice_field){ .name = c->name };
		lake_map_type(c, &f[n]);
		/* the changelog's deletes may carry only the key; NOT NULL columns
		 * stay optional because added columns must be (Iceberg v2) */
		f[n].required = !changelog && c->pk_pos > 0;
		src[n++] = (int)j;
	}
	if (!changelog && k->cfg->lake.row_hash_column) {
		f[n] = (struct ice_field){ .name = LAKE_HASH_COLUMN, .type = ICE_FIXED, .length = 16 };
		src[n++] = SRC_HASH;
	}
	return n;
}

static int same_type(const struct ice_field *a, const struct ice_field *b)
{
	if (a->type != b->type)
		return 0;
	if (a->type == ICE_DECIMAL)
		return a->precision == b->precision && a->scale == b->scale;
	if (a->type == ICE_FIXED)
		return a->length == b->length;
	return 1;
}

/* Loads or creates one table, adds missing columns, maps fields to sources. */
static int open_out(struct lake *k, const struct sd_run_info *run, bool changelog,
		    struct lk_out *o, struct sderr *e)
{
	const struct sd_table *st = run->table;
	const char *ns = k->cfg->lake.namespace_;
	struct buf name = BUF_INIT;
	buf_addstr(&name, run->tbl);
	if (changelog)
		buf_addstr(&name, LAKE_CHANGELOG_SUFFIX);
	size_t cap = st->ncols + 8;
	struct ice_field *want = xcalloc(cap, sizeof(*want));
	int *wsrc = xcalloc(cap, sizeof(*wsrc));
	size_t nw = wanted_fields(k, st, changelog, want, wsrc);
	o->changelog = changelog;
	int rc = ice_load(k->cat, ns, name.p, &o->t, e);
	if (rc == CAT_NOT_FOUND) {
		const char **ident = xcalloc(st->npk + 1, sizeof(*ident));
		size_t nid = 0;
		if (!changelog) {
			ident[nid++] = LAKE_PARTITION_COLUMN;
			for (size_t i = 0; i < st->npk; i++)
				ident[nid++] = st->cols[st->pk[i]].name;
		}
		static const char *const props[] = { "write.format.default", "parquet",
						     "snapdiff.kind", NULL, NULL };
		const char *p[5];
		memcpy(p, props, sizeof(p));
		p[3] = changelog ? "changelog" : "mirror";
		struct ice_table_spec spec = { .fields = want, .nfields = nw, .identifier = ident,
					       .nidentifier = nid,
					       .partition_column = LAKE_PARTITION_COLUMN,
					       .properties = p };
		rc = ice_create(k->cat, ns, name.p, &spec, &o->t, e);
		if (rc == CAT_EXISTS) /* another process created it meanwhile */
			rc = ice_load(k->cat, ns, name.p, &o->t, e);
		free(ident);
	}
	if (rc)
		goto out;
	/* schema evolution: columns the source has and the table has not */
	const struct ice_schema *s = ice_table_schema(o->t);
	struct ice_field *add = xcalloc(nw, sizeof(*add));
	size_t nadd = 0;
	for (size_t i = 0; i < nw; i++) {
		size_t j;
		for (j = 0; j < s->nfields && strcmp(s->fields[j].name, want[i].name) != 0; j++)
			;
		if (j == s->nfields) {
			add[nadd] = want[i];
			add[nadd].required = 0;
			add[nadd].id = 0;
			nadd++;
		} else if (!same_type(&s->fields[j], &want[i])) {
			char a[64], b[64];
			ice_type_format(&s->fields[j], a, sizeof(a));
			ice_type_format(&want[i], b, sizeof(b));
			rc = sderr_set(e, SD_ERR_SINK,
				       "lake table %s.%s: column %s is %s in the lake but the source now maps to %s "
				       "(type changes are not supported; see docs/lake-types.md)",
				       ns, name.p, want[i].name, a, b);
			free(add);
			goto out;
		}
	}
	if (nadd)
		rc = ice_add_columns(o->t, add, nadd, e);
	free(add);
	if (rc)
		goto out;
	s = ice_table_schema(o->t);
	o->ncols = s->nfields;
	o->cols = xcalloc(o->ncols, sizeof(*o->cols));
	o->src = xcalloc(o->ncols, sizeof(*o->src));
	for (size_t i = 0; i < s->nfields; i++) {
		ice_field_pq_spec(&s->fields[i], &o->cols[i]);
		o->src[i] = SRC_NULL;
		for (size_t j = 0; j < nw; j++)
			if (!strcmp(want[j].name, s->fields[i].name))
				o->src[i] = wsrc[j];
		if (o->src[i] == SRC_NULL && s->fields[i].required) {
			rc = sderr_set(e, SD_ERR_SINK,
				       "lake table %s.%s: required column %s is no longer in the source",
				       ns, name.p, s->fields[i].name);
			goto out;
		}
	}
out:
	free(want);
	free(wsrc);
	buf_release(&name);
	return rc;
}

/* Undoes a commit of this run id that the state never recorded (a crash
 * between the lake commit and the state commit). */
static int undo_crashed(struct lake *k, const struct sd_run_info *run, struct lk_out *o,
			struct sderr *e)
{
	int64_t cur = ice_table_current_snapshot(o->t);
	if (cur < 0)
		return SD_OK;
	const char *rid = ice_snapshot_summary(o->t, cur, LAKE_SUM_RUN_ID);
	if (rid && !strcmp(rid, run->run_id))
		return ice_rollback_current(o->t, cur, e);
	/* Buried under another wiki's commit: removing it would need removing
	 * its delete file, which lake/iceberg.c cannot do yet. */
	size_t n = ice_snapshot_count(o->t);
	for (size_t i = 0; i < n; i++) {
		struct ice_snapshot_info si;
		ice_snapshot_get(o->t, i, &si);
		rid = ice_snapshot_summary(o->t, si.snapshot_id, LAKE_SUM_RUN_ID);
		if (rid && !strcmp(rid, run->run_id))
			return sderr_set(e, SD_ERR_SINK,
					 "lake table %s already has snapshot %lld of run %s, which the state never "
					 "recorded, and newer snapshots on top; it cannot be rolled back automatically",
					 ice_table_location(o->t), (long long)si.snapshot_id, run->run_id);
	}
	(void)k;
	return SD_OK;
}

static int out_open_file(struct lake *k, const struct sd_run_info *run, struct lk_out *o,
			 struct sderr *e)
{
	struct buf stem = BUF_INIT;
	buf_addf(&stem, "%lld", (long long)run->generation);
	o->path = lake_data_path(ice_table_location(o->t), run->db, stem.p);
	buf_release(&stem);
	int rc = fio_create(cat_fio(k->cat), o->path, &o->f, e);
	if (rc)
		return rc;
	char err[256];
	o->w = pq_open(o->cols, o->ncols, &k->pqo, fio_write, o->f, err, sizeof(err));
	if (!o->w)
		return sderr_set(e, SD_ERR_SINK, "parquet %s: %s", o->path, err);
	const struct ice_schema *s = ice_table_schema(o->t);
	struct buf js = BUF_INIT;
	ice_schema_json(&js, s->schema_id, s->fields, s->nfields, s->identifier_ids, s->nidentifier);
	pq_add_metadata(o->w, "iceberg.schema", js.p);
	buf_release(&js);
	return SD_OK;
}

/* ---- sink ops ----------------------------------------------------------- */

static int lake_open(void **state, const struct cfg_sink *conf, const struct cfg *cfg,
		     struct sderr *e)
{
	(void)conf;
	struct lake *k = xcalloc(1, sizeof(*k));
	k->cfg = cfg;
	const char *codec = cfg->lake.codec ? cfg->lake.codec : "zstd";
	k->pqo.codec = !strcmp(codec, "snappy") ? PQ_SNAPPY : !strcmp(codec, "none") ? PQ_UNCOMPRESSED : PQ_ZSTD;
	k->pqo.row_group_bytes = (size_t)64 << 20;
	int rc = lake_open_catalog(cfg, &k->cat, e);
	if (rc) {
		free(k);
		return rc;
	}
	*state = k;
	return SD_OK;
}

static void pending_free(struct lk_pending *p)
{
	if (p->tmp)
		fclose(p->tmp);
	free(p->run_id);
	free(p->db);
	free(p->tbl);
	free(p->data_path);
	free(p);
}

static void pending_drop(struct lake *k, const char *run_id)
{
	for (struct lk_pending **pp = &k->pending; *pp;) {
		if (!strcmp((*pp)->run_id, run_id)) {
			struct lk_pending *p = *pp;
			*pp = p->next;
			pending_free(p);
		} else {
			pp = &(*pp)->next;
		}
	}
}

/* Whether the state's lake tables say (tbl, db) is mirrored since its first run. */
static int lake_known(struct lake *k, const char *tbl, const char *db, bool *known,
		      struct sderr *e)
{
	*known = false;
	sqlite3_stmt *q;
	if (sqlite3_prepare_v2(k->ro, "SELECT 1 FROM lake_tables WHERE tbl=? AND db=?", -1, &q,
			       NULL) != SQLITE_OK)
		return SD_OK; /* no lake table yet: nothing known */
	sqlite3_bind_text(q, 1, tbl, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 2, db, -1, SQLITE_STATIC);
	int r = sqlite3_step(q);
	if (r == SQLITE_ROW)
		*known = true;
	else if (r != SQLITE_DONE)
		sderr_set(e, SD_ERR_STATE, "lake state: %s", sqlite3_errmsg(k->ro));
	sqlite3_finalize(q);
	return r == SQLITE_ROW || r == SQLITE_DONE ? SD_OK : SD_ERR_STATE;
}

/*
 * A compaction that committed to the lake but crashed before moving the
 * index leaves the index naming removed files: position deletes aimed there
 * would delete nothing. The newest compaction of this wiki in main's history
 * must be the one the state recorded.
 */
static int check_compaction(struct lake *k, const struct sd_run_info *run, struct sderr *e)
{
	struct ice_table *t = k->mirror.t;
	sqlite3_stmt *q;
	char *known = NULL;
	if (sqlite3_prepare_v2(k->ro, "SELECT compact_id FROM lake_tables WHERE tbl=? AND db=?", -1, &q,
			       NULL) != SQLITE_OK)
		return SD_OK;
	sqlite3_bind_text(q, 1, run->tbl, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 2, run->db, -1, SQLITE_STATIC);
	if (sqlite3_step(q) == SQLITE_ROW && sqlite3_column_text(q, 0))
		known = xstrdup((const char *)sqlite3_column_text(q, 0));
	sqlite3_finalize(q);
	int rc = SD_OK;
	size_t n = ice_snapshot_count(t), steps = 0;
	for (int64_t id = ice_table_current_snapshot(t); id >= 0 && steps <= n; steps++) {
		const char *db = ice_snapshot_summary(t, id, LAKE_SUM_COMPACT_DB);
		if (db && !strcmp(db, run->db)) {
			const char *cid = ice_snapshot_summary(t, id, LAKE_SUM_COMPACT_ID);
			if (!cid || !known || strcmp(cid, known) != 0)
				rc = sderr_set(e, SD_ERR_SINK,
					       "lake: compaction snapshot %lld of %s/%s is not recorded in the state "
					       "(a compaction crashed before its state commit); see docs/lake.md",
					       (long long)id, run->tbl, run->db);
			break;
		}
		int64_t parent = -1;
		for (size_t i = 0; i < n; i++) {
			struct ice_snapshot_info si;
			if (!ice_snapshot_get(t, i, &si) && si.snapshot_id == id) {
				parent = si.parent_id;
				break;
			}
		}
		id = parent;
	}
	free(known);
	return rc;
}

static int lake_begin(void *state, const struct sd_run_info *run, struct sderr *e)
{
	struct lake *k = state;
	int rc;
	out_reset(&k->mirror);
	out_reset(&k->clog);
	pending_drop(k, run->run_id);
	k->ndel = 0;
	k->pos = 0;
	k->run = run;
	if (!k->ro) {
		if (sqlite3_open_v2(k->cfg->state_path, &k->ro, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
			rc = sderr_set(e, SD_ERR_STATE, "lake: cannot open state %s: %s",
				       k->cfg->state_path, sqlite3_errmsg(k->ro));
			sqlite3_close(k->ro);
			k->ro = NULL;
			return rc;
		}
		sqlite3_busy_timeout(k->ro, 10000);
	}
	if (k->lookup) {
		sqlite3_finalize(k->lookup);
		k->lookup = NULL;
	}
	bool known;
	if ((rc = lake_known(k, run->tbl, run->db, &known, e)))
		return rc;
	if (!run->initial && !known)
		return sderr_set(e, SD_ERR_SINK,
				 "lake: %s.%s was run before the lake was enabled, so the mirror would miss its "
				 "rows; reset the table's state (or start it with initial_events: all or lake)",
				 run->db, run->tbl);
	if (known)
		sqlite3_prepare_v2(k->ro,
				   "SELECT f.path, i.file_id, i.pos FROM lake_index i JOIN lake_files f"
				   " USING(file_id) WHERE i.tbl=? AND i.db=? AND i.key=?",
				   -1, &k->lookup, NULL);
	for (int c = 0; c < (k->cfg->lake.changelog ? 2 : 1); c++) {
		struct lk_out *o = c ? &k->clog : &k->mirror;
		int64_t before;
		if ((rc = open_out(k, run, c == 1, o, e)))
			return rc;
		before = ice_table_current_snapshot(o->t);
		if ((rc = undo_crashed(k, run, o, e)))
			return rc;
		/* a rollback re-parsed the metadata, which the column specs point into */
		if (ice_table_current_snapshot(o->t) != before) {
			out_reset(o);
			if ((rc = open_out(k, run, c == 1, o, e)))
				return rc;
		}
	}
	if (known && (rc = check_compaction(k, run, e)))
		return rc;
	struct lk_pending *p = xcalloc(1, sizeof(*p));
	p->run_id = xstrdup(run->run_id);
	p->db = xstrdup(run->db);
	p->tbl = xstrdup(run->tbl);
	p->generation = run->generation;
	p->tmp = tmpfile();
	if (!p->tmp) {
		rc = sderr_set(e, SD_ERR_SINK, "lake: temporary file: %s", strerror(errno));
		pending_free(p);
		return rc;
	}
	p->next = k->pending;
	k->pending = p;
	k->pend = p;
	return SD_OK;
}

static int decode_row(struct lake *k, const struct sd_table *t, const unsigned char *p, size_t len,
		      struct sderr *e)
{
	if (k->nev < t->ncols) {
		k->ev = xrealloc(k->ev, t->ncols * sizeof(*k->ev));
		k->nev = t->ncols;
	}
	const unsigned char *end = p + len;
	for (size_t i = 0; i < t->ncols; i++)
		if (enc_get(&p, end, &k->ev[i]) < 0)
			return sderr_set(e, SD_ERR_SINK, "lake: malformed row encoding");
	return SD_OK;
}

/* Fills k->ev from the key encoding only (other columns null). */
static int decode_key(struct lake *k, const struct sd_table *t, const unsigned char *p, size_t len,
		      struct sderr *e)
{
	if (k->nev < t->ncols) {
		k->ev = xrealloc(k->ev, t->ncols * sizeof(*k->ev));
		k->nev = t->ncols;
	}
	for (size_t i = 0; i < t->ncols; i++)
		k->ev[i].kind = ENC_NULL;
	const unsigned char *end = p + len;
	for (size_t i = 0; i < t->npk; i++)
		if (enc_get(&p, end, &k->ev[t->pk[i]]) < 0)
			return sderr_set(e, SD_ERR_SINK, "lake: malformed key encoding");
	return SD_OK;
}

static int64_t time_us(const struct enc_time *t, bool with_date)
{
	int64_t us = ((int64_t)t->hour * 3600 + t->minute * 60 + t->second) * 1000000 + (int64_t)t->usec;
	if (with_date)
		return lake_days(t->year, t->month, t->day) * 86400000000LL + us;
	return t->neg ? -us : us;
}

/* Writes one source value into column i of w, converting to the field's type. */
static int put_value(struct pq_writer *w, int i, const struct pq_column_spec *c,
		     const struct enc_value *v)
{
	char tmp[32];
	switch (v->kind) {
	case ENC_NULL:
		return pq_write_null(w, i);
	case ENC_INT:
		if (c->kind == PQ_INT32)
			return pq_write_int32(w, i, (int32_t)v->v.i);
		if (c->kind == PQ_DECIMAL) {
			snprintf(tmp, sizeof(tmp), "%" PRId64, v->v.i);
			return pq_write_decimal_text(w, i, tmp);
		}
		return pq_write_int64(w, i, v->v.i);
	case ENC_UINT:
	case ENC_BIT:
	case ENC_YEAR:
		if (c->kind == PQ_INT32)
			return pq_write_int32(w, i, (int32_t)v->v.u);
		if (c->kind == PQ_DECIMAL && c->scale == 0) {
			/* unscaled = the value: 9 big-endian bytes keep it non-negative */
			unsigned char be[9];
			be[0] = 0;
			for (int k = 0; k < 8; k++)
				be[1 + k] = (unsigned char)(v->v.u >> (56 - 8 * k));
			return pq_write_decimal(w, i, be, sizeof(be));
		}
		if (c->kind == PQ_DECIMAL) {
			snprintf(tmp, sizeof(tmp), "%" PRIu64, v->v.u);
			return pq_write_decimal_text(w, i, tmp);
		}
		return pq_write_int64(w, i, (int64_t)v->v.u);
	case ENC_FLOAT:
		if (c->kind == PQ_DOUBLE)
			return pq_write_double(w, i, v->v.f);
		return pq_write_float(w, i, v->v.f);
	case ENC_DOUBLE:
		return pq_write_double(w, i, v->v.d);
	case ENC_DECIMAL:
		if (c->kind == PQ_DECIMAL) {
			char *s = xstrndup(v->v.s.p, v->v.s.len);
			int r = pq_write_decimal_text(w, i, s);
			free(s);
			return r;
		}
		return pq_write_bytes(w, i, v->v.s.p, v->v.s.len);
	case ENC_DATE:
		if (v->v.t.year == 0 || v->v.t.month == 0 || v->v.t.day == 0)
			return pq_write_null(w, i); /* MariaDB zero dates have no Iceberg value */
		return pq_write_int32(w, i, (int32_t)lake_days(v->v.t.year, v->v.t.month, v->v.t.day));
	case ENC_DATETIME:
	case ENC_TIMESTAMP:
		if (v->v.t.year == 0 || v->v.t.month == 0 || v->v.t.day == 0)
			return pq_write_null(w, i);
		return pq_write_int64(w, i, time_us(&v->v.t, true));
	case ENC_TIME:
		return pq_write_int64(w, i, time_us(&v->v.t, false));
	default: /* BYTES, TEXT, ENUM, SET, JSON */
		return pq_write_bytes(w, i, v->v.s.p, v->v.s.len);
	}
}

static int write_row(struct lake *k, struct lk_out *o, const struct sd_run_info *run,
		     const struct sd_change *c, const unsigned char *hash, struct sderr *e)
{
	struct pq_writer *w = o->w;
	int r = 0;
	for (size_t i = 0; !r && i < o->ncols; i++) {
		int s = o->src[i];
		int col = (int)i;
		if (s >= 0) {
			r = put_value(w, col, &o->cols[i], &k->ev[s]);
			continue;
		}
		switch (s) {
		case SRC_DB:
			r = pq_write_bytes(w, col, run->db, strlen(run->db));
			break;
		case SRC_OP: {
			const char *op = c->op == SD_OP_INSERT ? "insert" : c->op == SD_OP_UPDATE ? "update" : "delete";
			r = pq_write_bytes(w, col, op, strlen(op));
			break;
		}
		case SRC_EVENT_ID: {
			struct buf b = BUF_INIT;
			event_hex_id(&b, c->id);
			r = pq_write_bytes(w, col, b.p, b.len);
			buf_release(&b);
			break;
		}
		case SRC_RUN_ID:
			r = pq_write_bytes(w, col, run->run_id, strlen(run->run_id));
			break;
		case SRC_SNAPSHOT_MS:
			r = pq_write_int64(w, col, run->snapshot_ms * 1000);
			break;
		case SRC_GTID: {
			const char *g = run->gtid_binlog_pos ? run->gtid_binlog_pos : "";
			r = pq_write_bytes(w, col, g, strlen(g));
			break;
		}
		case SRC_HASH:
			r = hash ? pq_write_bytes(w, col, hash, 16) : pq_write_null(w, col);
			break;
		default:
			r = pq_write_null(w, col);
		}
	}
	if (!r)
		r = pq_end_row(w);
	if (r)
		return sderr_set(e, SD_ERR_SINK, "lake: writing %s: %s", o->path, pq_error(w));
	return SD_OK;
}

static void pend_record(struct lk_pending *p, char op, const unsigned char *key, size_t klen,
			int64_t pos)
{
	struct buf b = BUF_INIT;
	buf_addch(&b, op);
	buf_add_varint(&b, klen);
	buf_add(&b, key, klen);
	buf_add_varint(&b, (uint64_t)pos);
	fwrite(b.p, 1, b.len, p->tmp);
	buf_release(&b);
}

/* Finds the key's live row; file_id < 0: none. */
static int index_lookup(struct lake *k, const struct sd_run_info *run, const unsigned char *key,
			size_t klen, int64_t *file_id, int64_t *pos, struct sderr *e)
{
	*file_id = -1;
	if (!k->lookup)
		return SD_OK;
	sqlite3_reset(k->lookup);
	sqlite3_bind_text(k->lookup, 1, run->tbl, -1, SQLITE_STATIC);
	sqlite3_bind_text(k->lookup, 2, run->db, -1, SQLITE_STATIC);
	sqlite3_bind_blob(k->lookup, 3, key, (int)klen, SQLITE_STATIC);
	int r = sqlite3_step(k->lookup);
	if (r == SQLITE_ROW) {
		*file_id = sqlite3_column_int64(k->lookup, 1);
		*pos = sqlite3_column_int64(k->lookup, 2);
	} else if (r != SQLITE_DONE) {
		return sderr_set(e, SD_ERR_STATE, "lake index: %s", sqlite3_errmsg(k->ro));
	}
	sqlite3_reset(k->lookup);
	return SD_OK;
}

static int lake_emit(void *state, const struct sd_run_info *run, const struct sd_change *c,
		     struct sderr *e)
{
	struct lake *k = state;
	const struct sd_table *t = run->table;
	int rc;
	int64_t fid, pos;
	if ((rc = index_lookup(k, run, c->key, c->key_len, &fid, &pos, e)))
		return rc;
	if (fid >= 0) {
		if (k->ndel == k->capdel) {
			k->capdel = k->capdel ? 2 * k->capdel : 1024;
			k->dels = xrealloc(k->dels, k->capdel * sizeof(*k->dels));
		}
		k->dels[k->ndel++] = (struct lk_del){ fid, pos };
	}
	unsigned char hash[16];
	const unsigned char *h = NULL;
	if (c->op == SD_OP_DELETE) {
		if (fid >= 0)
			pend_record(k->pend, '-', c->key, c->key_len, 0);
		if (c->before)
			rc = decode_row(k, t, c->before, c->before_len, e);
		else
			rc = decode_key(k, t, c->key, c->key_len, e);
	} else {
		rc = decode_row(k, t, c->after, c->after_len, e);
		if (!rc && k->cfg->lake.row_hash_column) {
			const unsigned char *p = c->after;
			enc_skip(&p, c->after + c->after_len, t->nhashed);
			enc_hash128(c->after, (size_t)(p - c->after), hash);
			h = hash;
		}
		if (!rc && !k->mirror.w)
			rc = out_open_file(k, run, &k->mirror, e);
		if (!rc)
			rc = write_row(k, &k->mirror, run, c, h, e);
		if (!rc)
			pend_record(k->pend, '+', c->key, c->key_len, k->pos++);
	}
	if (rc || !k->cfg->lake.changelog)
		return rc;
	if (!k->clog.w && (rc = out_open_file(k, run, &k->clog, e)))
		return rc;
	return write_row(k, &k->clog, run, c, NULL, e);
}

static int cmp_del(const void *a, const void *b)
{
	const struct lk_del *x = a, *y = b;
	if (x->file_id != y->file_id)
		return x->file_id < y->file_id ? -1 : 1;
	return x->pos < y->pos ? -1 : x->pos > y->pos;
}

struct del_row {
	const char *path;
	int64_t pos;
};

static int cmp_del_row(const void *a, const void *b)
{
	const struct del_row *x = a, *y = b;
	int c = strcmp(x->path, y->path);
	if (c)
		return c;
	return x->pos < y->pos ? -1 : x->pos > y->pos;
}

/* Closes a data file and adds it to the transaction. */
static int finish_file(struct lake *k, struct lk_out *o, struct ice_txn *x, const char *db,
		       struct sderr *e)
{
	uint64_t size;
	if (pq_close(o->w, &size) < 0)
		return sderr_set(e, SD_ERR_SINK, "lake: closing %s: %s", o->path, pq_error(o->w));
	int rc = fio_close(o->f, NULL, e);
	o->f = NULL;
	if (rc)
		return rc;
	struct ice_column_metrics *m = xcalloc(o->ncols, sizeof(*m));
	ice_metrics_from_pq(o->w, o->cols, o->ncols, m);
	size_t noff;
	const int64_t *off = pq_row_group_offsets(o->w, &noff);
	ice_txn_add_file(x, &(struct ice_data_file){ .path = o->path, .content = ICE_CONTENT_DATA,
						     .record_count = pq_num_rows(o->w),
						     .file_size = (int64_t)size, .partition = db,
						     .partition_len = strlen(db), .metrics = m,
						     .nmetrics = o->ncols, .split_offsets = off,
						     .nsplit = noff });
	free(m);
	(void)k;
	return SD_OK;
}

/* Writes the position-delete file of this run's replaced rows. */
static int write_deletes(struct lake *k, const struct sd_run_info *run, struct ice_txn *x,
			 struct sderr *e)
{
	qsort(k->dels, k->ndel, sizeof(*k->dels), cmp_del);
	/* file ids -> paths (one query per distinct file) */
	struct del_row *rows = xcalloc(k->ndel, sizeof(*rows));
	char **paths = NULL;
	size_t npaths = 0;
	sqlite3_stmt *q = NULL;
	int rc = SD_OK;
	if (sqlite3_prepare_v2(k->ro, "SELECT path FROM lake_files WHERE file_id=?", -1, &q, NULL) !=
	    SQLITE_OK) {
		free(rows);
		return sderr_set(e, SD_ERR_STATE, "lake state: %s", sqlite3_errmsg(k->ro));
	}
	for (size_t i = 0; i < k->ndel; i++) {
		if (i == 0 || k->dels[i].file_id != k->dels[i - 1].file_id) {
			sqlite3_reset(q);
			sqlite3_bind_int64(q, 1, k->dels[i].file_id);
			if (sqlite3_step(q) != SQLITE_ROW) {
				rc = sderr_set(e, SD_ERR_STATE, "lake state: file %lld is unknown",
					       (long long)k->dels[i].file_id);
				break;
			}
			paths = xrealloc(paths, (npaths + 1) * sizeof(*paths));
			paths[npaths++] = xstrdup((const char *)sqlite3_column_text(q, 0));
		}
		rows[i].path = paths[npaths - 1];
		rows[i].pos = k->dels[i].pos;
	}
	sqlite3_finalize(q);
	if (!rc)
		qsort(rows, k->ndel, sizeof(*rows), cmp_del_row);
	struct lk_out *o = &k->mirror;
	struct pq_column_spec dc[2] = {
		{ .name = "file_path", .field_id = ICE_DELETE_FILE_PATH_ID, .kind = PQ_STRING },
		{ .name = "pos", .field_id = ICE_DELETE_POS_ID, .kind = PQ_INT64 },
	};
	struct fio_file *f = NULL;
	struct pq_writer *w = NULL;
	if (!rc) {
		struct buf stem = BUF_INIT;
		buf_addf(&stem, "%lld-deletes", (long long)run->generation);
		o->del_path = lake_data_path(ice_table_location(o->t), run->db, stem.p);
		buf_release(&stem);
		rc = fio_create(cat_fio(k->cat), o->del_path, &f, e);
	}
	if (!rc) {
		char err[256];
		w = pq_open(dc, 2, &k->pqo, fio_write, f, err, sizeof(err));
		if (!w)
			rc = sderr_set(e, SD_ERR_SINK, "parquet %s: %s", o->del_path, err);
	}
	for (size_t i = 0; !rc && i < k->ndel; i++) {
		if (pq_write_bytes(w, 0, rows[i].path, strlen(rows[i].path)) ||
		    pq_write_int64(w, 1, rows[i].pos) || pq_end_row(w))
			rc = sderr_set(e, SD_ERR_SINK, "lake: %s: %s", o->del_path, pq_error(w));
	}
	uint64_t size = 0;
	if (!rc && pq_close(w, &size) < 0)
		rc = sderr_set(e, SD_ERR_SINK, "lake: closing %s: %s", o->del_path, pq_error(w));
	if (!rc) {
		rc = fio_close(f, NULL, e);
		f = NULL;
	}
	if (!rc) {
		o->del_written = true;
		struct ice_column_metrics m[2];
		ice_metrics_from_pq(w, dc, 2, m);
		ice_txn_add_file(x, &(struct ice_data_file){
			.path = o->del_path, .content = ICE_CONTENT_POSITION_DELETES,
			.record_count = (int64_t)k->ndel, .file_size = (int64_t)size,
			.partition = run->db, .partition_len = strlen(run->db), .metrics = m,
			.nmetrics = 2, .referenced_data_file = npaths == 1 ? paths[0] : NULL });
	}
	if (f)
		fio_abort(f);
	if (w)
		pq_free(w);
	for (size_t i = 0; i < npaths; i++)
		free(paths[i]);
	free(paths);
	free(rows);
	return rc;
}

static void summary(struct ice_txn *x, const struct sd_run_info *run)
{
	char ms[32];
	snprintf(ms, sizeof(ms), "%lld", (long long)run->snapshot_ms);
	ice_txn_set_summary(x, LAKE_SUM_RUN_ID, run->run_id);
	ice_txn_set_summary(x, LAKE_SUM_GTID, run->gtid_binlog_pos ? run->gtid_binlog_pos : "");
	ice_txn_set_summary(x, LAKE_SUM_SNAPSHOT_MS, ms);
}

static int lake_commit(void *state, const struct sd_run_info *run, struct sderr *e)
{
	struct lake *k = state;
	int rc = SD_OK;
	/* mirror: data file + position deletes in one snapshot */
	struct ice_txn *x = ice_txn_begin(k->mirror.t);
	if (k->mirror.w)
		rc = finish_file(k, &k->mirror, x, run->db, e);
	if (!rc && k->ndel)
		rc = write_deletes(k, run, x, e);
	summary(x, run);
	if (!rc)
		rc = ice_txn_commit(x, &k->mirror.snapshot_id, e);
	ice_txn_free(x);
	if (rc)
		return rc;
	k->mirror.committed = true;
	if (k->mirror.w) {
		k->pend->data_path = xstrdup(k->mirror.path);
		pq_free(k->mirror.w);
		k->mirror.w = NULL;
	}
	k->pend->snapshot_id = k->mirror.snapshot_id;
	if (k->clog.t && k->clog.w) {
		x = ice_txn_begin(k->clog.t);
		rc = finish_file(k, &k->clog, x, run->db, e);
		summary(x, run);
		if (!rc)
			rc = ice_txn_commit(x, &k->clog.snapshot_id, e);
		ice_txn_free(x);
		if (rc)
			return rc;
		k->clog.committed = true;
		pq_free(k->clog.w);
		k->clog.w = NULL;
	}
	if (fflush(k->pend->tmp) != 0)
		return sderr_set(e, SD_ERR_SINK, "lake: temporary file: %s", strerror(errno));
	k->pend->ready = true;
	return SD_OK;
}

static int lake_state_commit(void *state, const struct sd_run_info *run, struct st_db *st,
			     struct sderr *e)
{
	struct lake *k = state;
	struct lk_pending *p;
	for (p = k->pending; p && strcmp(p->run_id, run->run_id) != 0; p = p->next)
		;
	if (!p || !p->ready)
		return sderr_set(e, SD_ERR_INTERNAL, "lake: state commit of run %s without a lake commit",
				 run->run_id);
	sqlite3 *db = st_sqlite(st);
	int rc = sql_exec(db, LAKE_STATE_SCHEMA, e);
	if (rc)
		return rc;
	int64_t file_id = -1;
	sqlite3_stmt *q = NULL, *put = NULL, *del = NULL;
	if (p->data_path) {
		if (sqlite3_prepare_v2(db, "INSERT INTO lake_files(tbl, db, path) VALUES(?,?,?)", -1, &q,
				       NULL) != SQLITE_OK)
			goto sqlfail;
		sqlite3_bind_text(q, 1, p->tbl, -1, SQLITE_STATIC);
		sqlite3_bind_text(q, 2, p->db, -1, SQLITE_STATIC);
		sqlite3_bind_text(q, 3, p->data_path, -1, SQLITE_STATIC);
		if (sqlite3_step(q) != SQLITE_DONE)
			goto sqlfail;
		file_id = sqlite3_last_insert_rowid(db);
		sqlite3_finalize(q);
		q = NULL;
	}
	if (sqlite3_prepare_v2(db, "INSERT OR REPLACE INTO lake_index(tbl, db, key, file_id, pos)"
			       " VALUES(?,?,?,?,?)", -1, &put, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, "DELETE FROM lake_index WHERE tbl=? AND db=? AND key=?", -1, &del,
			       NULL) != SQLITE_OK)
		goto sqlfail;
	rewind(p->tmp);
	struct buf key = BUF_INIT;
	for (;;) {
		int op = getc(p->tmp);
		if (op == EOF)
			break;
		uint64_t klen = 0, pos = 0;
		int shift = 0, ch;
		do {
			ch = getc(p->tmp);
			klen |= (uint64_t)(ch & 0x7f) << shift;
			shift += 7;
		} while (ch != EOF && (ch & 0x80));
		buf_reset(&key);
		buf_grow(&key, klen);
		if (fread(key.p, 1, klen, p->tmp) != klen) {
			buf_release(&key);
			rc = sderr_set(e, SD_ERR_SINK, "lake: temporary index file is short");
			goto out;
		}
		key.len = klen;
		shift = 0;
		do {
			ch = getc(p->tmp);
			pos |= (uint64_t)(ch & 0x7f) << shift;
			shift += 7;
		} while (ch != EOF && (ch & 0x80));
		sqlite3_stmt *s = op == '+' ? put : del;
		sqlite3_reset(s);
		sqlite3_bind_text(s, 1, p->tbl, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 2, p->db, -1, SQLITE_STATIC);
		sqlite3_bind_blob(s, 3, key.p, (int)key.len, SQLITE_STATIC);
		if (op == '+') {
			sqlite3_bind_int64(s, 4, file_id);
			sqlite3_bind_int64(s, 5, (int64_t)pos);
		}
		if (sqlite3_step(s) != SQLITE_DONE) {
			buf_release(&key);
			goto sqlfail;
		}
	}
	buf_release(&key);
	if (sqlite3_prepare_v2(db, "INSERT INTO lake_tables(tbl, db, generation, snapshot_id) VALUES(?,?,?,?)"
			       " ON CONFLICT(tbl, db) DO UPDATE SET generation=excluded.generation,"
			       " snapshot_id=excluded.snapshot_id", -1, &q, NULL) != SQLITE_OK)
		goto sqlfail;
	sqlite3_bind_text(q, 1, p->tbl, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 2, p->db, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 3, p->generation);
	sqlite3_bind_int64(q, 4, p->snapshot_id);
	if (sqlite3_step(q) != SQLITE_DONE)
		goto sqlfail;
	goto out;
sqlfail:
	rc = sderr_set(e, SD_ERR_STATE, "lake state: %s", sqlite3_errmsg(db));
out:
	sqlite3_finalize(q);
	sqlite3_finalize(put);
	sqlite3_finalize(del);
	if (!rc)
		pending_drop(k, run->run_id);
	return rc;
}

static void out_abort(struct lake *k, struct lk_out *o)
{
	struct sderr ignore;
	if (o->w) {
		pq_free(o->w);
		o->w = NULL;
	}
	if (o->f) {
		fio_abort(o->f);
		o->f = NULL;
	} else if (o->path && !o->committed) {
		fio_remove(cat_fio(k->cat), o->path, &ignore);
	}
	if (o->del_written && !o->committed)
		fio_remove(cat_fio(k->cat), o->del_path, &ignore);
}

static void lake_abort(void *state, const struct sd_run_info *run)
{
	struct lake *k = state;
	out_abort(k, &k->mirror);
	out_abort(k, &k->clog);
	pending_drop(k, run->run_id);
	k->pend = NULL;
}

static void lake_close(void *state)
{
	struct lake *k = state;
	if (!k)
		return;
	out_reset(&k->mirror);
	out_reset(&k->clog);
	while (k->pending) {
		struct lk_pending *p = k->pending;
		k->pending = p->next;
		pending_free(p);
	}
	if (k->lookup)
		sqlite3_finalize(k->lookup);
	k->lookup = NULL;
	sqlite3_close(k->ro);
	cat_close(k->cat);
	free(k->dels);
	free(k->ev);
	buf_release(&k->vals);
	free(k);
}

const struct sink_ops sink_lake_ops = {
	.type = "lake",
	.open = lake_open,
	.begin = lake_begin,
	.emit = lake_emit,
	.commit = lake_commit,
	.state_commit = lake_state_commit,
	.abort = lake_abort,
	.close = lake_close,
	.is_lake = true,
};
