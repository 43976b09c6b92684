/*
 * test_iceberg — unit tests of the Iceberg table layer (lake/iceberg.c,
 * lake/catalog.c, lake/fileio.c) on a scratch directory: type text, URI
 * mapping, the metadata JSON ice_create writes, compare-and-swap conflicts
 * and retries in the SQLite and Hadoop catalogs, and commit bookkeeping
 * (sequence numbers, summaries, logs). Engines reading the result back are
 * tested in tests/lake/test_iceberg_*.py.
 */
#include "harness.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lake/iceberg.h"

static char *scratch(void)
{
	char tmpl[] = "/tmp/sd-ice-XXXXXX";
	char *d = mkdtemp(tmpl);
	return d ? xstrdup(d) : NULL;
}

static void rm_rf(const char *dir)
{
	struct fio_entry *v;
	size_t n;
	struct sderr e;
	if (fio_list(fio_local(), dir, &v, &n, &e) == 0) {
		for (size_t i = 0; i < n; i++)
			fio_remove(fio_local(), v[i].uri, &e);
		fio_entries_free(v, n);
	}
	char cmd[512];
	snprintf(cmd, sizeof(cmd), "find '%s' -depth -type d -exec rmdir {} + 2>/dev/null", dir);
	if (system(cmd) != 0) {
		/* leftovers in /tmp are harmless */
	}
}

static const struct ice_field test_fields[] = {
	{ .name = "_db", .type = ICE_STRING, .required = 1 },
	{ .name = "id", .type = ICE_LONG, .required = 1 },
	{ .name = "amount", .type = ICE_DECIMAL, .precision = 20, .scale = 2 },
	{ .name = "raw", .type = ICE_FIXED, .length = 16 },
};

static int make_table(struct cat *c, const char *part, struct ice_table **t, struct sderr *e)
{
	const char *ident[] = { "_db", "id" };
	const char *props[] = { "owner", "snapdiff", NULL };
	struct ice_table_spec s = { .fields = test_fields, .nfields = 4, .identifier = ident,
				    .nidentifier = 2, .partition_column = part, .properties = props };
	return ice_create(c, "ns", "t", &s, t, e);
}

/* Adds one fake data file (no real Parquet needed for metadata bookkeeping). */
static void add_fake(struct ice_txn *x, const char *loc, const char *name, int64_t rows)
{
	char path[1024];
	snprintf(path, sizeof(path), "%s/data/%s", loc, name);
	struct ice_column_metrics m = { .field_id = 2, .column_size = 10, .value_count = rows,
					.null_count = 0, .nan_count = -1, .lower = "\1\0\0\0\0\0\0\0",
					.lower_len = 8, .upper = "\11\0\0\0\0\0\0\0", .upper_len = 8 };
	struct ice_data_file f = { .path = path, .record_count = rows, .file_size = 100 + rows,
				   .partition = "enwiki", .partition_len = 6, .metrics = &m,
				   .nmetrics = 1 };
	ice_txn_add_file(x, &f);
}

TEST(iceberg_type_text)
{
	struct ice_field f = { 0 };
	char buf[64];
	CHECK_INT(ice_type_parse("decimal(38, 10)", &f), 0);
	CHECK_INT(f.type, ICE_DECIMAL);
	CHECK_INT(f.precision, 38);
	CHECK_INT(f.scale, 10);
	CHECK_INT(ice_type_parse("decimal(9,2)", &f), 0);
	CHECK_INT(f.scale, 2);
	CHECK_INT(ice_type_format(&f, buf, sizeof(buf)), 0);
	CHECK_STR(buf, "decimal(9, 2)");
	CHECK_INT(ice_type_parse("fixed[16]", &f), 0);
	CHECK_INT(f.type, ICE_FIXED);
	CHECK_INT(f.length, 16);
	CHECK_INT(ice_type_parse("timestamptz", &f), 0);
	CHECK_INT(f.type, ICE_TIMESTAMPTZ);
	CHECK_INT(ice_type_parse("struct", &f), -1);
	CHECK_INT(ice_type_parse("decimal", &f), -1);
	struct pq_column_spec pc;
	struct ice_field u = { .id = 7, .name = "u", .type = ICE_UUID };
	ice_field_pq_spec(&u, &pc);
	CHECK_INT(pc.kind, PQ_UUID);
	CHECK_INT(pc.field_id, 7);
	CHECK_INT(pc.optional, 1);
}

TEST(iceberg_uri_and_versions)
{
	CHECK_STR(fio_local_path("file:/a/b"), "/a/b");
	CHECK_STR(fio_local_path("file:///a/b"), "/a/b");
	CHECK_STR(fio_local_path("file://localhost/a"), "/a");
	CHECK_STR(fio_local_path("/a"), "/a");
	CHECK(fio_local_path("s3://bucket/a") == NULL);
	CHECK(fio_local_path("file://host/a") == NULL);
	CHECK_INT(cat_metadata_version("file:/x/metadata/00012-abc.metadata.json"), 12);
	CHECK_INT(cat_metadata_version("/x/metadata/v7.metadata.json"), 7);
	CHECK_INT(cat_metadata_version("/x/metadata/snap-1.avro"), -1);
	int64_t id = ice_random_id();
	CHECK(id > 0);
}

TEST(iceberg_rename_noreplace)
{
	char *d = scratch();
	CHECK(d);
	char a[256], b[256];
	struct sderr e;
	snprintf(a, sizeof(a), "%s/a", d);
	snprintf(b, sizeof(b), "%s/sub/b", d);
	CHECK_INT(fio_write_all(fio_local(), a, "1", 1, &e), 0);
	CHECK_INT(fio_write_all(fio_local(), b, "2", 1, &e), 0);
	CHECK_INT(fio_rename_noreplace(fio_local(), a, b, &e), FIO_EXISTS);
	struct buf got = BUF_INIT;
	CHECK_INT(fio_read(fio_local(), b, &got, &e), 0);
	CHECK_STR(got.p, "2");
	struct fio_entry *v;
	size_t n;
	CHECK_INT(fio_list(fio_local(), d, &v, &n, &e), 0);
	CHECK_INT(n, 2);
	fio_entries_free(v, n);
	CHECK_INT(fio_read(fio_local(), "/nonexistent/x", &got, &e), FIO_NOT_FOUND);
	buf_release(&got);
	rm_rf(d);
	free(d);
}

TEST(iceberg_create_metadata_json)
{
	char *d = scratch();
	CHECK(d);
	char db[256], wh[256];
	snprintf(db, sizeof(db), "%s/cat.db", d);
	snprintf(wh, sizeof(wh), "file://%s/wh/", d);
	struct cat *c;
	struct ice_table *t;
	struct sderr e;
	CHECK_INT(cat_open_sqlite(db, "snapdiff", wh, NULL, &c, &e), 0);
	CHECK_INT(make_table(c, "_db", &t, &e), 0);
	char *text = ice_table_metadata_json(t);
	json_t *m = json_loads(text, 0, NULL);
	free(text);
	CHECK(m);
	CHECK_INT(json_integer_value(json_object_get(m, "format-version")), 2);
	CHECK_INT(json_integer_value(json_object_get(m, "last-column-id")), 4);
	CHECK_INT(json_integer_value(json_object_get(m, "last-partition-id")), 1000);
	CHECK_INT(json_integer_value(json_object_get(m, "last-sequence-number")), 0);
	CHECK_INT(json_integer_value(json_object_get(m, "current-snapshot-id")), -1);
	CHECK_INT(strlen(json_string_value(json_object_get(m, "table-uuid"))), 36);
	char want[300];
	snprintf(want, sizeof(want), "file://%s/wh/ns.db/t", d);
	CHECK_STR(json_string_value(json_object_get(m, "location")), want);
	json_t *s = json_array_get(json_object_get(m, "schemas"), 0);
	json_t *f2 = json_array_get(json_object_get(s, "fields"), 2);
	CHECK_STR(json_string_value(json_object_get(f2, "type")), "decimal(20, 2)");
	CHECK_STR(json_string_value(json_object_get(json_array_get(json_object_get(s, "fields"), 3),
						    "type")), "fixed[16]");
	CHECK_INT(json_array_size(json_object_get(s, "identifier-field-ids")), 2);
	json_t *pf = json_array_get(json_object_get(json_array_get(json_object_get(m,
		"partition-specs"), 0), "fields"), 0);
	CHECK_STR(json_string_value(json_object_get(pf, "transform")), "identity");
	CHECK_INT(json_integer_value(json_object_get(pf, "source-id")), 1);
	CHECK_INT(json_integer_value(json_object_get(pf, "field-id")), 1000);
	CHECK_STR(json_string_value(json_object_get(json_object_get(m, "properties"), "owner")),
		  "snapdiff");
	CHECK(json_object_get(m, "schema") == NULL); /* no deprecated v1 keys */
	json_decref(m);
	CHECK(strstr(ice_table_metadata_location(t), "/metadata/00000-") != NULL);
	CHECK_STR(ice_table_partition_column(t), "_db");
	/* a second create of the same table is refused */
	struct ice_table *t2 = NULL;
	CHECK_INT(make_table(c, "_db", &t2, &e), CAT_EXISTS);
	ice_table_free(t);
	cat_close(c);
	rm_rf(d);
	free(d);
}

TEST(iceberg_unpartitioned_and_identifier_checks)
{
	char *d = scratch();
	CHECK(d);
	struct cat *c;
	struct ice_table *t;
	struct sderr e;
	CHECK_INT(cat_open_hadoop(d, NULL, &c, &e), 0);
	CHECK_INT(make_table(c, NULL, &t, &e), 0);
	char *text = ice_table_metadata_json(t);
	CHECK(strstr(text, "\"last-partition-id\": 999") != NULL);
	free(text);
	CHECK(ice_table_partition_column(t) == NULL);
	CHECK(strstr(ice_table_metadata_location(t), "/metadata/v1.metadata.json") != NULL);
	ice_table_free(t);
	const char *bad[] = { "amount" }; /* optional: not an identifier */
	struct ice_table_spec s = { .fields = test_fields, .nfields = 4, .identifier = bad,
				    .nidentifier = 1 };
	CHECK(ice_create(c, "ns", "t2", &s, &t, &e) != 0);
	cat_close(c);
	rm_rf(d);
	free(d);
}

/* Commits through a stale handle: the first attempt must conflict, the retry win. */
static void conflict_case(struct cat *c, int *ok)
{
	struct ice_table *t1, *t2;
	struct sderr e;
	*ok = 0;
	if (make_table(c, "_db", &t1, &e) || ice_load(c, "ns", "t", &t2, &e))
		return;
	/* copied: the table's strings live only until its next commit or refresh */
	char loc[512];
	snprintf(loc, sizeof(loc), "%s", ice_table_location(t1));
	struct ice_txn *x = ice_txn_begin(t1);
	add_fake(x, loc, "f1.parquet", 3);
	ice_txn_set_summary(x, "snapdiff.run-id", "r1");
	int64_t s1, s2;
	if (ice_txn_commit(x, &s1, &e) || ice_txn_attempts(x) != 1)
		return;
	ice_txn_free(x);

	x = ice_txn_begin(t2); /* t2 still sees the empty table */
	add_fake(x, loc, "f2.parquet", 4);
	if (ice_txn_commit(x, &s2, &e) || ice_txn_attempts(x) != 2)
		return;
	ice_txn_free(x);
	if (ice_snapshot_count(t2) != 2)
		return;
	struct ice_snapshot_info si;
	ice_snapshot_get(t2, 1, &si);
	if (si.parent_id != s1 || si.sequence_number != 2 || si.snapshot_id != s2)
		return;
	if (strcmp(ice_snapshot_summary(t2, s2, "total-records"), "7") ||
	    strcmp(ice_snapshot_summary(t2, s2, "total-data-files"), "2") ||
	    strcmp(ice_snapshot_summary(t2, s1, "snapdiff.run-id"), "r1") ||
	    strcmp(ice_snapshot_summary(t2, s2, "operation"), "append"))
		return;

	/* With no retries allowed, a stale handle fails with CAT_CONFLICT. */
	x = ice_txn_begin(t1);
	ice_txn_set_retries(x, 0);
	add_fake(x, loc, "f3.parquet", 1);
	int rc = ice_txn_commit(x, NULL, &e);
	ice_txn_free(x);
	if (rc != CAT_CONFLICT)
		return;

	/* Removing a file logically: operation delete, totals go down. */
	if (ice_refresh(t1, &e))
		return;
	x = ice_txn_begin(t1);
	char path[1024];
	snprintf(path, sizeof(path), "%s/data/f1.parquet", loc);
	ice_txn_remove_file(x, path);
	int64_t s3;
	rc = ice_txn_commit(x, &s3, &e);
	ice_txn_free(x);
	if (rc || strcmp(ice_snapshot_summary(t1, s3, "operation"), "delete") ||
	    strcmp(ice_snapshot_summary(t1, s3, "total-records"), "4") ||
	    strcmp(ice_snapshot_summary(t1, s3, "deleted-data-files"), "1"))
		return;

	/* Schema evolution through the stale handle t2 retries too. */
	struct ice_field add[] = { { .name = "extra", .type = ICE_STRING } };
	if (ice_add_columns(t2, add, 1, &e) || add[0].id != 5 ||
	    ice_table_schema(t2)->schema_id != 1 || ice_table_schema(t2)->nfields != 5)
		return;
	ice_table_free(t1);
	ice_table_free(t2);
	*ok = 1;
}

TEST(iceberg_sqlite_conflict_retry)
{
	char *d = scratch();
	CHECK(d);
	char db[256];
	snprintf(db, sizeof(db), "%s/cat.db", d);
	struct cat *c;
	struct sderr e;
	CHECK_INT(cat_open_sqlite(db, "snapdiff", d, NULL, &c, &e), 0);
	int ok;
	conflict_case(c, &ok);
	cat_close(c);
	rm_rf(d);
	free(d);
	CHECK(ok);
}

TEST(iceberg_hadoop_conflict_retry)
{
	char *d = scratch();
	CHECK(d);
	struct cat *c;
	struct sderr e;
	CHECK_INT(cat_open_hadoop(d, NULL, &c, &e), 0);
	int ok;
	conflict_case(c, &ok);
	char hint[512];
	snprintf(hint, sizeof(hint), "%s/ns/t/metadata/version-hint.text", d);
	struct buf b = BUF_INIT;
	CHECK_INT(fio_read(fio_local(), hint, &b, &e), 0);
	char **names;
	size_t n;
	CHECK_INT(cat_list_tables(c, "ns", &names, &n, &e), 0);
	int one = n == 1 && !strcmp(names[0], "t");
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	cat_close(c);
	rm_rf(d);
	free(d);
	CHECK(ok);
	CHECK_STR(b.p, "5"); /* create, 2 appends, delete, schema: no newline */
	buf_release(&b);
	CHECK(one);
}
