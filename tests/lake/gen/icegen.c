/*
 * icegen — drives lake/iceberg.c and lake/catalog.c through a fixed history
 * for the engine read-back tests (tests/lake/test_iceberg_*.py, which compile
 * it with cc): create a table partitioned by _db, append, overwrite, delete,
 * add a column, append with it, add a position-delete file, and one commit
 * through a stale table handle that must conflict and retry. It prints what
 * it did as JSON; the tests recompute the rows (icefix.py must stay in step
 * with row values here).
 *
 *   icegen scenario CATALOG NS TABLE
 *   icegen expire CATALOG NS TABLE RETAIN_LAST
 *   icegen orphans CATALOG NS TABLE
 *   icegen junk CATALOG NS TABLE        (writes an unreferenced file under data/)
 * CATALOG: sql:DBFILE:WAREHOUSE | hadoop:WAREHOUSE | mariadb:SOCKET:USER:DB:WAREHOUSE
 */
#include "lake/iceberg.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void die(const char *what, const struct sderr *e)
{
	fprintf(stderr, "icegen: %s: %s (code %d)\n", what, e ? e->msg : "", e ? e->code : 0);
	exit(1);
}

static struct cat *open_catalog(char *spec)
{
	struct sderr e = { 0, "" };
	struct cat *c = NULL;
	char *kind = strtok(spec, ":");
	if (!strcmp(kind, "sql")) {
		char *db = strtok(NULL, ":"), *wh = strtok(NULL, "");
		if (cat_open_sqlite(db, "snapdiff", wh, NULL, &c, &e))
			die("open sqlite catalog", &e);
	} else if (!strcmp(kind, "hadoop")) {
		if (cat_open_hadoop(strtok(NULL, ""), NULL, &c, &e))
			die("open hadoop catalog", &e);
	} else if (!strcmp(kind, "mariadb")) {
		struct cat_mariadb_opts o = { 0 };
		o.socket = strtok(NULL, ":");
		o.user = strtok(NULL, ":");
		o.database = strtok(NULL, ":");
		char *wh = strtok(NULL, "");
		if (cat_open_mariadb(&o, "snapdiff", wh, NULL, &c, &e))
			die("open mariadb catalog", &e);
	} else {
		die("unknown catalog kind", NULL);
	}
	return c;
}

/* One Parquet data file of rows first..last of wiki db with the table's current schema. */
static void write_rows(struct ice_table *t, const char *label, const char *db, int first,
		       int last, int variant, struct ice_txn *x, char *path_out, size_t path_len)
{
	const struct ice_schema *s = ice_table_schema(t);
	struct pq_column_spec cols[16];
	struct ice_column_metrics m[16];
	struct sderr e;
	char err[256];
	for (size_t i = 0; i < s->nfields; i++)
		ice_field_pq_spec(&s->fields[i], &cols[i]);
	snprintf(path_out, path_len, "%s/data/_db=%s/%s.parquet", ice_table_location(t), db, label);
	struct fio_file *f;
	if (fio_create(fio_local(), path_out, &f, &e))
		die("create data file", &e);
	struct pq_options opt = { .codec = PQ_ZSTD };
	struct pq_writer *w = pq_open(cols, s->nfields, &opt, fio_write, f, err, sizeof(err));
	if (!w)
		die(err, NULL);
	for (int id = first; id <= last; id++) {
		for (size_t i = 0; i < s->nfields; i++) {
			const char *n = s->fields[i].name;
			char txt[64];
			int rc;
			if (!strcmp(n, "_db")) {
				rc = pq_write_bytes(w, (int)i, db, strlen(db));
			} else if (!strcmp(n, "page_id")) {
				rc = pq_write_int64(w, (int)i, id);
			} else if (!strcmp(n, "title")) {
				snprintf(txt, sizeof(txt), variant && id == 3 ? "changed-%s-%d" : "%s-title-%d",
					 db, id);
				rc = pq_write_bytes(w, (int)i, txt, strlen(txt));
			} else if (!strcmp(n, "len")) {
				rc = id % 4 == 0 ? pq_write_null(w, (int)i) : pq_write_int32(w, (int)i, id * 10);
			} else if (!strcmp(n, "touched")) {
				rc = pq_write_int64(w, (int)i, 1700000000000000LL + id * 1000000LL);
			} else if (!strcmp(n, "ns")) {
				rc = pq_write_int32(w, (int)i, id % 3);
			} else {
				rc = pq_write_null(w, (int)i);
			}
			if (rc)
				die(pq_error(w), NULL);
		}
		if (pq_end_row(w))
			die(pq_error(w), NULL);
	}
	uint64_t size;
	if (pq_close(w, &size))
		die(pq_error(w), NULL);
	if (fio_close(f, NULL, &e))
		die("close data file", &e);
	ice_metrics_from_pq(w, cols, s->nfields, m);
	size_t nsplit;
	const int64_t *splits = pq_row_group_offsets(w, &nsplit);
	struct ice_data_file df = {
		.path = path_out,
		.content = ICE_CONTENT_DATA,
		.record_count = pq_num_rows(w),
		.file_size = (int64_t)size,
		.partition = db,
		.partition_len = strlen(db),
		.metrics = m,
		.nmetrics = s->nfields,
		.split_offsets = splits,
		.nsplit = nsplit,
	};
	ice_txn_add_file(x, &df);
	pq_free(w);
}

/* A position-delete file removing row positions pos[] of data file target. */
static void write_pos_deletes(struct ice_table *t, const char *db, const char *target,
			      const int64_t *pos, size_t n, struct ice_txn *x)
{
	struct pq_column_spec cols[2] = {
		{ .name = "file_path", .field_id = ICE_DELETE_FILE_PATH_ID, .kind = PQ_STRING },
		{ .name = "pos", .field_id = ICE_DELETE_POS_ID, .kind = PQ_INT64 },
	};
	struct ice_column_metrics m[2];
	struct sderr e;
	char err[256], path[4096];
	snprintf(path, sizeof(path), "%s/data/_db=%s/deletes-1.parquet", ice_table_location(t), db);
	struct fio_file *f;
	if (fio_create(fio_local(), path, &f, &e))
		die("create delete file", &e);
	struct pq_options opt = { .codec = PQ_UNCOMPRESSED };
	struct pq_writer *w = pq_open(cols, 2, &opt, fio_write, f, err, sizeof(err));
	if (!w)
		die(err, NULL);
	for (size_t i = 0; i < n; i++) {
		if (pq_write_bytes(w, 0, target, strlen(target)) || pq_write_int64(w, 1, pos[i]) ||
		    pq_end_row(w))
			die(pq_error(w), NULL);
	}
	uint64_t size;
	if (pq_close(w, &size) || fio_close(f, NULL, &e))
		die("close delete file", &e);
	ice_metrics_from_pq(w, cols, 2, m);
	struct ice_data_file df = {
		.path = path,
		.content = ICE_CONTENT_POSITION_DELETES,
		.record_count = (int64_t)n,
		.file_size = (int64_t)size,
		.partition = db,
		.partition_len = strlen(db),
		.metrics = m,
		.nmetrics = 2,
		.referenced_data_file = target,
	};
	ice_txn_add_file(x, &df);
	pq_free(w);
}

static int64_t commit(struct ice_txn *x, const char *run, int *attempts)
{
	struct sderr e;
	int64_t id;
	ice_txn_set_summary(x, "snapdiff.run-id", run);
	if (ice_txn_commit(x, &id, &e))
		die("commit", &e);
	if (attempts)
		*attempts = ice_txn_attempts(x);
	ice_txn_free(x);
	return id;
}

static void print_snap(int first, const char *label, int64_t id)
{
	printf("%s{\"label\":\"%s\",\"id\":%" PRId64 "}", first ? "" : ",", label, id);
}

static int scenario(struct cat *c, const char *ns, const char *name)
{
	struct sderr e;
	struct ice_table *t, *stale;
	struct ice_field fields[] = {
		{ .name = "_db", .type = ICE_STRING, .required = 1 },
		{ .name = "page_id", .type = ICE_LONG, .required = 1 },
		{ .name = "title", .type = ICE_STRING },
		{ .name = "len", .type = ICE_INT },
		{ .name = "touched", .type = ICE_TIMESTAMPTZ, .doc = "last change" },
	};
	const char *ident[] = { "_db", "page_id" };
	const char *props[] = { "write.format.default", "parquet", "snapdiff.table", "page", NULL };
	struct ice_table_spec spec = {
		.fields = fields, .nfields = 5, .identifier = ident, .nidentifier = 2,
		.partition_column = "_db", .properties = props,
	};
	if (ice_create(c, ns, name, &spec, &t, &e))
		die("create", &e);
	if (ice_load(c, ns, name, &stale, &e))
		die("load", &e);
	char a[4096], b[4096], cpath[4096], a2[4096], d[4096];
	int attempts = 0;

	printf("{\"location\":\"%s\",\"snapshots\":[", ice_table_location(t));
	struct ice_txn *x = ice_txn_begin(t);
	write_rows(t, "a", "enwiki", 1, 5, 0, x, a, sizeof(a));
	write_rows(t, "b", "dewiki", 1, 3, 0, x, b, sizeof(b));
	print_snap(1, "s1", commit(x, "run-1", NULL));

	/* The stale handle still has the metadata before s1: CAS fails once, then retries. */
	x = ice_txn_begin(stale);
	write_rows(stale, "c", "enwiki", 6, 8, 0, x, cpath, sizeof(cpath));
	print_snap(0, "s2", commit(x, "run-2", &attempts));
	if (ice_refresh(t, &e))
		die("refresh", &e);

	x = ice_txn_begin(t);
	ice_txn_remove_file(x, a);
	write_rows(t, "a2", "enwiki", 1, 5, 1, x, a2, sizeof(a2));
	print_snap(0, "s3", commit(x, "run-3", NULL));

	x = ice_txn_begin(t);
	ice_txn_remove_file(x, b);
	print_snap(0, "s4", commit(x, "run-4", NULL));

	struct ice_field added[] = { { .name = "ns", .type = ICE_INT, .doc = "namespace" } };
	if (ice_add_columns(t, added, 1, &e))
		die("add column", &e);
	x = ice_txn_begin(t);
	write_rows(t, "d", "frwiki", 1, 2, 0, x, d, sizeof(d));
	print_snap(0, "s5", commit(x, "run-5", NULL));

	x = ice_txn_begin(t);
	int64_t pos[] = { 1 }; /* page_id 7 of file c */
	write_pos_deletes(t, "enwiki", cpath, pos, 1, x);
	print_snap(0, "s6", commit(x, "run-6", NULL));

	/* Removing a file that is not in the table must fail and change nothing. */
	x = ice_txn_begin(t);
	ice_txn_remove_file(x, a);
	int64_t before = ice_table_current_snapshot(t);
	int bad = ice_txn_commit(x, NULL, &e);
	ice_txn_free(x);

	printf("],\"conflict_attempts\":%d,\"bad_remove_rc\":%d,\"unchanged\":%s,"
	       "\"added_column_id\":%d,\"metadata\":\"%s\",\"files\":{\"a\":\"%s\",\"b\":\"%s\","
	       "\"c\":\"%s\",\"a2\":\"%s\",\"d\":\"%s\"}}\n",
	       attempts, bad, before == ice_table_current_snapshot(t) ? "true" : "false",
	       (int)added[0].id, ice_table_metadata_location(t), a, b, cpath, a2, d);
	ice_table_free(stale);
	ice_table_free(t);
	return 0;
}

static void print_list(char **v, size_t n)
{
	printf("[");
	for (size_t i = 0; i < n; i++) {
		printf("%s\"%s\"", i ? "," : "", v[i]);
		free(v[i]);
	}
	printf("]");
	free(v);
}

int main(int argc, char **argv)
{
	if (argc < 5) {
		fprintf(stderr, "usage: icegen scenario|expire|orphans|junk CATALOG NS TABLE [N]\n");
		return 2;
	}
	struct cat *c = open_catalog(argv[2]);
	struct sderr e;
	struct ice_table *t;
	if (!strcmp(argv[1], "scenario")) {
		scenario(c, argv[3], argv[4]);
		cat_close(c);
		return 0;
	}
	if (ice_load(c, argv[3], argv[4], &t, &e))
		die("load", &e);
	if (!strcmp(argv[1], "expire") && argc > 5) {
		struct ice_expire_opts o = { .older_than_ms = INT64_MAX, .retain_last = atoi(argv[5]),
					     .delete_files = 1 };
		struct ice_expire_result r;
		if (ice_expire(t, &o, &r, &e))
			die("expire", &e);
		printf("{\"expired\":%zu,\"deleted\":%zu,\"metadata\":\"%s\"}\n", r.snapshots_expired,
		       r.files_deleted, ice_table_metadata_location(t));
	} else if (!strcmp(argv[1], "orphans")) {
		char **v;
		size_t n;
		if (ice_orphan_files(t, INT64_MAX, &v, &n, &e))
			die("orphans", &e);
		print_list(v, n);
		printf("\n");
	} else if (!strcmp(argv[1], "junk")) {
		char p[4096];
		snprintf(p, sizeof(p), "%s/data/junk.parquet", ice_table_location(t));
		if (fio_write_all(fio_local(), p, "x", 1, &e))
			die("junk", &e);
		printf("\"%s\"\n", p);
	} else {
		die("unknown command", NULL);
	}
	ice_table_free(t);
	cat_close(c);
	return 0;
}
