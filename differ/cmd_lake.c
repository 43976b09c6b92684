/*
 * cmd_lake — `snapdiff lake …`, the maintenance of the lake the lake sink
 * writes (differ/sink_lake.c):
 *
 *   orphans  files under the tables' locations that no snapshot references
 *            (e.g. the files of a run that crashed before its state commit
 *            and was rolled back); --delete removes them.
 *   expire   drops snapshots older than a duration (keeping the newest N)
 *            and the files only they used.
 *   compact  per mirror table and wiki: reads the live data files back
 *            (lake/pqread.c), drops the rows position deletes removed, and
 *            replaces them with one file; the key index in the state file is
 *            moved to the new positions in the same step.
 *
 * Compaction holds the same (database, table) lock as a run, so no run of
 * that table writes positions meanwhile.
 */
#include "cmd_lake.h"
#include "run.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "error.h"
#include "lake/pqread.h"
#include "lake_int.h"

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* "90s", "15m", "12h", "7d", "2w" or plain seconds -> milliseconds; -1 if bad. */
static int64_t parse_duration(const char *s)
{
	char *end;
	double v = strtod(s, &end);
	if (end == s || v < 0)
		return -1;
	double mul = 1;
	if (!strcmp(end, "") || !strcmp(end, "s"))
		mul = 1;
	else if (!strcmp(end, "m"))
		mul = 60;
	else if (!strcmp(end, "h"))
		mul = 3600;
	else if (!strcmp(end, "d"))
		mul = 86400;
	else if (!strcmp(end, "w"))
		mul = 7 * 86400;
	else
		return -1;
	return (int64_t)(v * mul * 1000);
}

static void usage(FILE *f)
{
	fprintf(f, "usage: snapdiff lake orphans [--config FILE] [--older-than DURATION] [--delete]\n"
		   "       snapdiff lake expire  [--config FILE] --older-than DURATION [--keep N]\n"
		   "       snapdiff lake compact [--config FILE] [--table T] [--db DB]\n"
		   "DURATION: 90s, 15m, 12h, 7d, 2w (orphans: default 0, i.e. every orphan)\n");
}

/* The lake tables of the configuration: every table's mirror and changelog. */
static void lake_names(const struct cfg *cfg, const char *only, char ***names, size_t *n)
{
	*names = NULL;
	*n = 0;
	for (size_t i = 0; i < cfg->n_tables; i++) {
		const char *t = cfg->tables[i].name;
		if (only && strcmp(only, t) != 0)
			continue;
		for (int k = 0; k < 2; k++) {
			if (k == 1 && !cfg->lake.changelog)
				continue;
			struct buf b = BUF_INIT;
			buf_addstr(&b, t);
			if (k)
				buf_addstr(&b, LAKE_CHANGELOG_SUFFIX);
			*names = xrealloc(*names, (*n + 1) * sizeof(**names));
			(*names)[(*n)++] = buf_detach(&b, NULL);
		}
	}
}

static void free_names(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* Calls fn for every lake table of the configuration that exists (a table
 * whose first run has not happened yet has none), stopping at an error. */
typedef int (*lake_table_fn)(const struct cfg *cfg, struct cat *cat, const char *name,
			     struct ice_table *t, void *ctx, struct sderr *e);

static int each_lake_table(const struct cfg *cfg, struct cat *cat, lake_table_fn fn, void *ctx,
			   struct sderr *e)
{
	char **names;
	size_t nn;
	lake_names(cfg, NULL, &names, &nn);
	int rc = SD_OK;
	for (size_t i = 0; !rc && i < nn; i++) {
		struct ice_table *t;
		rc = ice_load(cat, cfg->lake.namespace_, names[i], &t, e);
		if (rc == CAT_NOT_FOUND) {
			rc = SD_OK;
			continue;
		}
		if (rc)
			break;
		rc = fn(cfg, cat, names[i], t, ctx, e);
		ice_table_free(t);
	}
	free_names(names, nn);
	return rc;
}

struct orphans_ctx {
	int64_t older_ms;
	int del;
	size_t total, removed;
};

static int orphans_of(const struct cfg *cfg, struct cat *cat, const char *name, struct ice_table *t,
		      void *ctx, struct sderr *e)
{
	(void)cfg;
	(void)name;
	struct orphans_ctx *o = ctx;
	char **uris;
	size_t n;
	int rc = ice_orphan_files(t, now_ms() - o->older_ms, &uris, &n, e);
	for (size_t j = 0; !rc && j < n; j++) {
		printf("%s\n", uris[j]);
		o->total++;
		if (o->del) {
			struct sderr e2;
			if (fio_remove(cat_fio(cat), uris[j], &e2) == 0)
				o->removed++;
			else
				fprintf(stderr, "snapdiff: warning: %s\n", e2.msg);
		}
	}
	for (size_t j = 0; j < n; j++)
		free(uris[j]);
	free(uris);
	return rc;
}

static int do_orphans(const struct cfg *cfg, struct cat *cat, int64_t older_ms, int del,
		      struct sderr *e)
{
	struct orphans_ctx o = { older_ms, del, 0, 0 };
	int rc = each_lake_table(cfg, cat, orphans_of, &o, e);
	if (!rc)
		fprintf(stderr, "%zu orphan file(s)%s\n", o.total,
			del ? (o.removed == o.total ? ", deleted" : ", some not deleted") : "");
	return rc;
}

struct expire_ctx {
	int64_t older_ms;
	int keep;
};

static int expire_of(const struct cfg *cfg, struct cat *cat, const char *name, struct ice_table *t,
		     void *ctx, struct sderr *e)
{
	(void)cat;
	struct expire_ctx *x = ctx;
	struct ice_expire_opts o = { .older_than_ms = now_ms() - x->older_ms,
				     .retain_last = x->keep, .delete_files = 1 };
	struct ice_expire_result r = { 0 };
	int rc = ice_expire(t, &o, &r, e);
	if (!rc)
		printf("{\"table\":\"%s.%s\",\"snapshots_expired\":%zu,\"files_deleted\":%zu}\n",
		       cfg->lake.namespace_, name, r.snapshots_expired, r.files_deleted);
	return rc;
}

static int do_expire(const struct cfg *cfg, struct cat *cat, int64_t older_ms, int keep,
		     struct sderr *e)
{
	struct expire_ctx x = { older_ms, keep };
	return each_lake_table(cfg, cat, expire_of, &x, e);
}

/* ---- compaction ---- */


struct cfile {
	const char *path;
	int64_t file_id;   /* lake_files id, -1 unknown */
	int64_t nrows;
	int64_t *newpos;   /* old position -> new position, -1 deleted */
};

static int read_whole(struct cat *cat, const char *uri, struct buf *b, struct pqr_file **f,
		      struct sderr *e)
{
	int rc = fio_read(cat_fio(cat), uri, b, e);
	if (rc)
		return rc;
	char err[256];
	if (pqr_open(b->p, b->len, f, err, sizeof(err)))
		return sderr_set(e, SD_ERR_SINK, "%s: %s", uri, err);
	return SD_OK;
}

static int put_read_value(struct pq_writer *w, int col, const struct pq_column_spec *spec,
			  const struct pqr_column *rc, const struct pqr_values *v, int64_t row)
{
	if (!v || !v->defined[row])
		return pq_write_null(w, col);
	int64_t i = v->i[row];
	switch (rc->physical) {
	case PQ_PHYS_BOOLEAN:
		return pq_write_bool(w, col, (int)i);
	case PQ_PHYS_INT32:
		return pq_write_int32(w, col, (int32_t)i);
	case PQ_PHYS_INT64:
		return pq_write_int64(w, col, i);
	case PQ_PHYS_FLOAT: {
		uint32_t u = (uint32_t)i;
		float f;
		memcpy(&f, &u, 4);
		return pq_write_float(w, col, f);
	}
	case PQ_PHYS_DOUBLE: {
		double d;
		memcpy(&d, &i, 8);
		return pq_write_double(w, col, d);
	}
	default:
		if (spec->kind == PQ_DECIMAL)
			return pq_write_decimal(w, col, v->p[row], v->len[row]);
		return pq_write_bytes(w, col, v->p[row], v->len[row]);
	}
}

/* Compacts one wiki's partition of one mirror table. */
static int compact_partition(const struct cfg *cfg, struct cat *cat, sqlite3 *db,
			     struct ice_table *t, const char *tbl, const char *wiki,
			     const struct ice_live_file *lf, size_t nlf, struct sderr *e)
{
	struct cfile *files = NULL;
	size_t nf = 0, ndelf = 0;
	int rc = SD_OK;
	for (size_t i = 0; i < nlf; i++) {
		if (!lf[i].partition || strcmp(lf[i].partition, wiki) != 0)
			continue;
		if (lf[i].content == ICE_CONTENT_DATA) {
			files = xrealloc(files, (nf + 1) * sizeof(*files));
			files[nf++] = (struct cfile){ .path = lf[i].path, .file_id = -1,
						      .nrows = lf[i].record_count };
		} else {
			ndelf++;
		}
	}
	if (nf == 0 || (nf == 1 && ndelf == 0)) {
		free(files);
		return SD_OK;
	}
	for (size_t i = 0; i < nf; i++) {
		files[i].newpos = xcalloc((size_t)files[i].nrows + 1, sizeof(int64_t));
		sqlite3_stmt *q;
		if (sqlite3_prepare_v2(db, "SELECT file_id FROM lake_files WHERE tbl=? AND db=? AND path=?",
				       -1, &q, NULL) == SQLITE_OK) {
			sqlite3_bind_text(q, 1, tbl, -1, SQLITE_STATIC);
			sqlite3_bind_text(q, 2, wiki, -1, SQLITE_STATIC);
			sqlite3_bind_text(q, 3, files[i].path, -1, SQLITE_STATIC);
			if (sqlite3_step(q) == SQLITE_ROW)
				files[i].file_id = sqlite3_column_int64(q, 0);
			sqlite3_finalize(q);
		}
	}
	/* apply every position delete of the partition */
	for (size_t i = 0; !rc && i < nlf; i++) {
		if (lf[i].content != ICE_CONTENT_POSITION_DELETES || !lf[i].partition ||
		    strcmp(lf[i].partition, wiki) != 0)
			continue;
		struct buf b = BUF_INIT;
		struct pqr_file *f = NULL;
		rc = read_whole(cat, lf[i].path, &b, &f, e);
		struct pqr_values vp, vs;
		char err[256];
		int cp = f ? pqr_find_field(f, ICE_DELETE_FILE_PATH_ID) : -1;
		int cs = f ? pqr_find_field(f, ICE_DELETE_POS_ID) : -1;
		if (!rc && (cp < 0 || cs < 0))
			rc = sderr_set(e, SD_ERR_SINK, "%s: not a position-delete file", lf[i].path);
		if (!rc && pqr_read_column(f, (size_t)cp, &vp, err, sizeof(err)))
			rc = sderr_set(e, SD_ERR_SINK, "%s: %s", lf[i].path, err);
		else if (!rc && pqr_read_column(f, (size_t)cs, &vs, err, sizeof(err))) {
			pqr_values_free(&vp);
			rc = sderr_set(e, SD_ERR_SINK, "%s: %s", lf[i].path, err);
		} else if (!rc) {
			for (int64_t r = 0; r < vp.n; r++) {
				for (size_t k = 0; k < nf; k++) {
					if (strlen(files[k].path) == vp.len[r] &&
					    !memcmp(files[k].path, vp.p[r], vp.len[r]) && vs.i[r] >= 0 &&
					    vs.i[r] < files[k].nrows)
						files[k].newpos[vs.i[r]] = -1;
				}
			}
			pqr_values_free(&vp);
			pqr_values_free(&vs);
		}
		pqr_close(f);
		buf_release(&b);
	}
	/* write the surviving rows into one new file */
	const struct ice_schema *s = ice_table_schema(t);
	struct pq_column_spec *cols = xcalloc(s->nfields, sizeof(*cols));
	for (size_t i = 0; i < s->nfields; i++)
		ice_field_pq_spec(&s->fields[i], &cols[i]);
	struct pq_options opt = { .row_group_bytes = (size_t)64 << 20 };
	const char *codec = cfg->lake.codec ? cfg->lake.codec : "zstd";
	opt.codec = !strcmp(codec, "snappy") ? PQ_SNAPPY : !strcmp(codec, "none") ? PQ_UNCOMPRESSED : PQ_ZSTD;
	char *path = lake_data_path(ice_table_location(t), wiki, "compact");
	struct fio_file *out = NULL;
	struct pq_writer *w = NULL;
	char err[256];
	if (!rc)
		rc = fio_create(cat_fio(cat), path, &out, e);
	if (!rc && !(w = pq_open(cols, s->nfields, &opt, fio_write, out, err, sizeof(err))))
		rc = sderr_set(e, SD_ERR_SINK, "parquet %s: %s", path, err);
	if (!rc) {
		struct buf js = BUF_INIT;
		ice_schema_json(&js, s->schema_id, s->fields, s->nfields, s->identifier_ids, s->nidentifier);
		pq_add_metadata(w, "iceberg.schema", js.p);
		buf_release(&js);
	}
	int64_t newrows = 0;
	for (size_t k = 0; !rc && k < nf; k++) {
		struct buf b = BUF_INIT;
		struct pqr_file *f = NULL;
		rc = read_whole(cat, files[k].path, &b, &f, e);
		if (!rc && pqr_num_rows(f) != files[k].nrows)
			rc = sderr_set(e, SD_ERR_SINK, "%s: %lld rows, the manifest says %lld", files[k].path,
				       (long long)pqr_num_rows(f), (long long)files[k].nrows);
		struct pqr_values *vals = xcalloc(s->nfields, sizeof(*vals));
		int *src = xcalloc(s->nfields, sizeof(*src));
		for (size_t c = 0; !rc && c < s->nfields; c++) {
			src[c] = pqr_find_field(f, s->fields[c].id);
			if (src[c] >= 0 && pqr_read_column(f, (size_t)src[c], &vals[c], err, sizeof(err)))
				rc = sderr_set(e, SD_ERR_SINK, "%s: %s", files[k].path, err);
		}
		for (int64_t r = 0; !rc && r < files[k].nrows; r++) {
			if (files[k].newpos[r] < 0)
				continue;
			int bad = 0;
			for (size_t c = 0; !bad && c < s->nfields; c++)
				bad = put_read_value(w, (int)c, &cols[c],
						     src[c] >= 0 ? pqr_column(f, (size_t)src[c]) : NULL,
						     src[c] >= 0 ? &vals[c] : NULL, r);
			if (bad || pq_end_row(w))
				rc = sderr_set(e, SD_ERR_SINK, "compact %s: %s", path, pq_error(w));
			files[k].newpos[r] = newrows++;
		}
		for (size_t c = 0; c < s->nfields; c++)
			pqr_values_free(&vals[c]);
		free(vals);
		free(src);
		pqr_close(f);
		buf_release(&b);
	}
	uint64_t size = 0;
	if (!rc && pq_close(w, &size) < 0)
		rc = sderr_set(e, SD_ERR_SINK, "compact %s: %s", path, pq_error(w));
	if (!rc) {
		rc = fio_close(out, NULL, e);
		out = NULL;
	}
	/* every index entry must name a surviving row, and every surviving row
	 * must be indexed, or state and lake disagree: check before committing */
	struct buf moves = BUF_INIT; /* varint klen, key, varint new pos */
	int64_t indexed = 0;
	if (!rc) {
		sqlite3_stmt *sel = NULL;
		int r = SQLITE_ERROR;
		if (sqlite3_prepare_v2(db, "SELECT key, file_id, pos FROM lake_index WHERE tbl=? AND db=?",
				       -1, &sel, NULL) == SQLITE_OK) {
			sqlite3_bind_text(sel, 1, tbl, -1, SQLITE_STATIC);
			sqlite3_bind_text(sel, 2, wiki, -1, SQLITE_STATIC);
			while ((r = sqlite3_step(sel)) == SQLITE_ROW) {
				int64_t fid = sqlite3_column_int64(sel, 1), pos = sqlite3_column_int64(sel, 2);
				size_t k;
				for (k = 0; k < nf && files[k].file_id != fid; k++)
					;
				if (k == nf || pos < 0 || pos >= files[k].nrows || files[k].newpos[pos] < 0) {
					rc = sderr_set(e, SD_ERR_STATE,
						       "compact %s/%s: the state's lake index names a row the lake does not "
						       "have (file %lld, position %lld); not compacting", tbl, wiki,
						       (long long)fid, (long long)pos);
					break;
				}
				buf_add_varint(&moves, (uint64_t)sqlite3_column_bytes(sel, 0));
				buf_add(&moves, sqlite3_column_blob(sel, 0), (size_t)sqlite3_column_bytes(sel, 0));
				buf_add_varint(&moves, (uint64_t)files[k].newpos[pos]);
				indexed++;
			}
		}
		if (!rc && r != SQLITE_DONE)
			rc = sderr_set(e, SD_ERR_STATE, "compact: state: %s", sqlite3_errmsg(db));
		sqlite3_finalize(sel);
		if (!rc && indexed != newrows)
			rc = sderr_set(e, SD_ERR_STATE,
				       "compact %s/%s: the state's lake index has %lld rows, the lake %lld live rows; "
				       "not compacting", tbl, wiki, (long long)indexed, (long long)newrows);
	}
	char cid[32];
	snprintf(cid, sizeof(cid), "%016llx", (unsigned long long)ice_random_id());
	if (!rc) {
		struct ice_column_metrics *m = xcalloc(s->nfields, sizeof(*m));
		ice_metrics_from_pq(w, cols, s->nfields, m);
		size_t noff;
		const int64_t *off = pq_row_group_offsets(w, &noff);
		struct ice_txn *x = ice_txn_begin(t);
		for (size_t k = 0; k < nf; k++)
			ice_txn_remove_file(x, files[k].path);
		if (newrows)
			ice_txn_add_file(x, &(struct ice_data_file){
				.path = path, .content = ICE_CONTENT_DATA, .record_count = newrows,
				.file_size = (int64_t)size, .partition = wiki, .partition_len = strlen(wiki),
				.metrics = m, .nmetrics = s->nfields, .split_offsets = off, .nsplit = noff });
		ice_txn_set_summary(x, LAKE_SUM_COMPACT_DB, wiki);
		ice_txn_set_summary(x, LAKE_SUM_COMPACT_ID, cid);
		rc = ice_txn_commit(x, NULL, e);
		ice_txn_free(x);
		free(m);
	}
	/* move the index (a crash before this commit leaves it stale: the next
	 * compaction refuses, see docs/lake.md) */
	if (!rc) {
		char *msg = NULL;
		sqlite3_stmt *ins = NULL, *upd = NULL;
		int64_t new_id = -1;
		int ok = sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, &msg) == SQLITE_OK;
		if (ok && newrows) {
			ok = sqlite3_prepare_v2(db, "INSERT INTO lake_files(tbl, db, path) VALUES(?,?,?)", -1,
						&ins, NULL) == SQLITE_OK;
			if (ok) {
				sqlite3_bind_text(ins, 1, tbl, -1, SQLITE_STATIC);
				sqlite3_bind_text(ins, 2, wiki, -1, SQLITE_STATIC);
				sqlite3_bind_text(ins, 3, path, -1, SQLITE_STATIC);
				ok = sqlite3_step(ins) == SQLITE_DONE;
				new_id = sqlite3_last_insert_rowid(db);
			}
		}
		if (ok)
			ok = sqlite3_prepare_v2(db, "UPDATE lake_index SET file_id=?, pos=? WHERE tbl=? AND db=? AND key=?",
						-1, &upd, NULL) == SQLITE_OK;
		const unsigned char *mp = (const unsigned char *)moves.p, *mend = mp + moves.len;
		while (ok && mp < mend) {
			uint64_t klen, np;
			varint_get(&mp, mend, &klen);
			const unsigned char *key = mp;
			mp += klen;
			varint_get(&mp, mend, &np);
			sqlite3_reset(upd);
			sqlite3_bind_int64(upd, 1, new_id);
			sqlite3_bind_int64(upd, 2, (int64_t)np);
			sqlite3_bind_text(upd, 3, tbl, -1, SQLITE_STATIC);
			sqlite3_bind_text(upd, 4, wiki, -1, SQLITE_STATIC);
			sqlite3_bind_blob(upd, 5, key, (int)klen, SQLITE_STATIC);
			ok = sqlite3_step(upd) == SQLITE_DONE;
		}
		sqlite3_finalize(ins);
		sqlite3_finalize(upd);
		if (ok) {
			sqlite3_stmt *u;
			ok = sqlite3_prepare_v2(db, "UPDATE lake_tables SET compact_id=? WHERE tbl=? AND db=?", -1,
						&u, NULL) == SQLITE_OK;
			if (ok) {
				sqlite3_bind_text(u, 1, cid, -1, SQLITE_STATIC);
				sqlite3_bind_text(u, 2, tbl, -1, SQLITE_STATIC);
				sqlite3_bind_text(u, 3, wiki, -1, SQLITE_STATIC);
				ok = sqlite3_step(u) == SQLITE_DONE;
				sqlite3_finalize(u);
			}
		}
		if (ok)
			ok = sqlite3_exec(db, "COMMIT", NULL, NULL, &msg) == SQLITE_OK;
		if (!ok) {
			if (!rc)
				rc = sderr_set(e, SD_ERR_STATE, "compact: state: %s", msg ? msg : sqlite3_errmsg(db));
			sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
		}
		sqlite3_free(msg);
	}
	if (!rc)
		printf("{\"table\":\"%s.%s\",\"db\":\"%s\",\"files\":%zu,\"delete_files\":%zu,\"rows\":%lld,\"path\":\"%s\"}\n",
		       cfg->lake.namespace_, tbl, wiki, nf, ndelf, (long long)newrows, path);
	if (out)
		fio_abort(out);
	if (w)
		pq_free(w);
	buf_release(&moves);
	free(cols);
	free(path);
	for (size_t k = 0; k < nf; k++)
		free(files[k].newpos);
	free(files);
	return rc;
}

static int do_compact(const struct cfg *cfg, struct cat *cat, const char *only_tbl,
		      const char *only_db, struct sderr *e)
{
	sqlite3 *db = NULL;
	if (sqlite3_open_v2(cfg->state_path, &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) {
		int rc = sderr_set(e, SD_ERR_STATE, "cannot open state %s: %s", cfg->state_path,
				   sqlite3_errmsg(db));
		sqlite3_close(db);
		return rc;
	}
	sqlite3_busy_timeout(db, 10000);
	char *msg = NULL;
	if (sqlite3_exec(db, LAKE_STATE_SCHEMA, NULL, NULL, &msg) != SQLITE_OK) {
		int rc = sderr_set(e, SD_ERR_STATE, "state: %s", msg);
		sqlite3_free(msg);
		sqlite3_close(db);
		return rc;
	}
	int rc = SD_OK;
	for (size_t i = 0; !rc && i < cfg->n_tables; i++) {
		const char *tbl = cfg->tables[i].name;
		if (only_tbl && strcmp(only_tbl, tbl) != 0)
			continue;
		struct ice_table *t;
		rc = ice_load(cat, cfg->lake.namespace_, tbl, &t, e);
		if (rc == CAT_NOT_FOUND) {
			rc = SD_OK;
			continue;
		}
		if (rc)
			break;
		for (size_t d = 0; !rc && d < cfg->n_databases; d++) {
			const char *wiki = cfg->databases[d];
			if (only_db && strcmp(only_db, wiki) != 0)
				continue;
			int fd;
			rc = run_lock_table(cfg->state_path, wiki, tbl, &fd, e);
			if (rc)
				break;
			/* fresh metadata under the lock */
			struct ice_live_file *lf = NULL;
			size_t nlf = 0;
			rc = ice_refresh(t, e);
			if (!rc)
				rc = ice_live_files(t, &lf, &nlf, e);
			if (!rc)
				rc = compact_partition(cfg, cat, db, t, tbl, wiki, lf, nlf, e);
			ice_live_files_free(lf, nlf);
			close(fd);
		}
		ice_table_free(t);
	}
	sqlite3_close(db);
	return rc;
}

int cmd_lake(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "older-than", required_argument, NULL, 'o' },
		{ "keep", required_argument, NULL, 'k' },
		{ "delete", no_argument, NULL, 'D' },
		{ "table", required_argument, NULL, 't' },
		{ "db", required_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *config = NULL, *table = NULL, *dbname = NULL;
	int64_t older = -1;
	int keep = 1, del = 0, c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "c:o:k:Dt:d:h", opts, NULL)) != -1) {
		switch (c) {
		case 'c': config = optarg; break;
		case 'o':
			if ((older = parse_duration(optarg)) < 0) {
				fprintf(stderr, "snapdiff: error: bad duration '%s'\n", optarg);
				return SD_ERR_USAGE;
			}
			break;
		case 'k': keep = atoi(optarg); break;
		case 'D': del = 1; break;
		case 't': table = optarg; break;
		case 'd': dbname = optarg; break;
		case 'h': usage(stdout); return SD_OK;
		default: usage(stderr); return SD_ERR_USAGE;
		}
	}
	/* the subcommand may come before or after the options (getopt permutes) */
	if (optind >= argc) {
		usage(stderr);
		return SD_ERR_USAGE;
	}
	const char *sub = argv[optind];
	if (!config) {
		const char *env = getenv("SNAPDIFF_CONFIG");
		config = env && *env ? env : NULL;
	}
	struct sderr e;
	if (!config) {
		fprintf(stderr, "snapdiff: error: no configuration: pass --config FILE or set SNAPDIFF_CONFIG\n");
		return SD_ERR_USAGE;
	}
	int known = !strcmp(sub, "orphans") || !strcmp(sub, "expire") || !strcmp(sub, "compact");
	if (!known || (!strcmp(sub, "expire") && older < 0)) {
		usage(stderr);
		return SD_ERR_USAGE;
	}
	struct cfg *cfg = cfg_load(config, &e);
	if (!cfg) {
		fprintf(stderr, "snapdiff: error: %s\n", e.msg);
		return e.code;
	}
	struct cat *cat = NULL;
	int rc = lake_open_catalog(cfg, &cat, &e);
	if (!rc) {
		if (!strcmp(sub, "orphans"))
			rc = do_orphans(cfg, cat, older < 0 ? 0 : older, del, &e);
		else if (!strcmp(sub, "expire"))
			rc = do_expire(cfg, cat, older, keep, &e);
		else
			rc = do_compact(cfg, cat, table, dbname, &e);
	}
	if (rc)
		fprintf(stderr, "snapdiff: error: %s\n", e.msg);
	if (cat)
		cat_close(cat);
	cfg_free(cfg);
	fflush(stdout);
	return rc == CAT_NOT_FOUND || rc == CAT_CONFLICT || rc == CAT_EXISTS ? SD_ERR_SINK : rc;
}
