/*
 * catalog — the Iceberg catalogs snapdiff commits through: the SQL catalog
 * (JdbcCatalog / pyiceberg SqlCatalog schema) in SQLite or MariaDB, and the
 * Hadoop file-system catalog. Each catalog only records which metadata file
 * is current and moves that pointer atomically; building the metadata is
 * lake/iceberg.c's job.
 *
 * Both SQL backends run the same statements. SQLite binds parameters;
 * MariaDB gets them escaped with mysql_real_escape_string into the text,
 * which keeps the backend to a few lines (prepared statements in the C
 * client API are verbose and buy nothing for a handful of commits per run).
 * The compare-and-swap is the UPDATE's WHERE metadata_location = <base>
 * followed by a check that exactly one row changed.
 */
#include "lake/catalog.h"

#include <errno.h>
#include <mysql.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "buf.h"

enum cat_type { CAT_SQLITE, CAT_MARIADB, CAT_HADOOP };

struct cat {
	enum cat_type type;
	struct fio *io;
	char *name;      /* SQL catalog_name */
	char *warehouse; /* without a trailing '/' */
	sqlite3 *db;
	MYSQL *my;
	int has_type; /* iceberg_tables has the V1 iceberg_type column */
};

/* Result of one SQL statement: the first column of every row. */
struct sqlres {
	char **vals; /* NULL entries for SQL NULL */
	size_t n;
	long changes;
	int dup; /* failed on a duplicate key */
};

static void sqlres_free(struct sqlres *r)
{
	for (size_t i = 0; i < r->n; i++)
		free(r->vals[i]);
	free(r->vals);
	memset(r, 0, sizeof(*r));
}

static void sqlres_add(struct sqlres *r, const char *v, size_t len)
{
	r->vals = xrealloc(r->vals, (r->n + 1) * sizeof(*r->vals));
	r->vals[r->n++] = v ? xstrndup(v, len) : NULL;
}

static int sqlite_exec(struct cat *c, const char *sql, const char *const *params, int np,
		       struct sqlres *res, struct sderr *e)
{
	sqlite3_stmt *st;
	memset(res, 0, sizeof(*res));
	if (sqlite3_prepare_v2(c->db, sql, -1, &st, NULL) != SQLITE_OK)
		return sderr_set(e, SD_ERR_SINK, "sqlite catalog: %s: %s", sqlite3_errmsg(c->db), sql);
	for (int i = 0; i < np; i++) {
		if (params[i])
			sqlite3_bind_text(st, i + 1, params[i], -1, SQLITE_TRANSIENT);
		else
			sqlite3_bind_null(st, i + 1);
	}
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const unsigned char *v = sqlite3_column_text(st, 0);
		sqlres_add(res, (const char *)v, v ? (size_t)sqlite3_column_bytes(st, 0) : 0);
	}
	if (rc != SQLITE_DONE) {
		int ext = sqlite3_extended_errcode(c->db);
		res->dup = ext == SQLITE_CONSTRAINT_PRIMARYKEY || ext == SQLITE_CONSTRAINT_UNIQUE;
		sderr_set(e, SD_ERR_SINK, "sqlite catalog: %s", sqlite3_errmsg(c->db));
		sqlite3_finalize(st);
		return SD_ERR_SINK;
	}
	res->changes = sqlite3_changes(c->db);
	sqlite3_finalize(st);
	return 0;
}

static int mariadb_exec(struct cat *c, const char *sql, const char *const *params, int np,
			struct sqlres *res, struct sderr *e)
{
	struct buf q = BUF_INIT;
	int k = 0;
	memset(res, 0, sizeof(*res));
	for (const char *s = sql; *s; s++) {
		if (*s != '?') {
			buf_addch(&q, *s);
			continue;
		}
		const char *v = k < np ? params[k] : NULL;
		k++;
		if (!v) {
			buf_addstr(&q, "NULL");
			continue;
		}
		size_t n = strlen(v);
		buf_grow(&q, 2 * n + 3);
		q.p[q.len++] = '\'';
		q.len += mysql_real_escape_string(c->my, q.p + q.len, v, (unsigned long)n);
		q.p[q.len++] = '\'';
		q.p[q.len] = '\0';
	}
	int rc = mysql_real_query(c->my, q.p, (unsigned long)q.len);
	buf_release(&q);
	if (rc != 0) {
		res->dup = mysql_errno(c->my) == 1062; /* ER_DUP_ENTRY */
		return sderr_set(e, SD_ERR_SINK, "mariadb catalog: %s", mysql_error(c->my));
	}
	MYSQL_RES *r = mysql_store_result(c->my);
	if (r) {
		MYSQL_ROW row;
		while ((row = mysql_fetch_row(r)) != NULL) {
			unsigned long *len = mysql_fetch_lengths(r);
			sqlres_add(res, row[0], row[0] ? len[0] : 0);
		}
		mysql_free_result(r);
	} else if (mysql_field_count(c->my) != 0) {
		return sderr_set(e, SD_ERR_SINK, "mariadb catalog: %s", mysql_error(c->my));
	}
	res->changes = (long)mysql_affected_rows(c->my);
	return 0;
}

static int sql_exec(struct cat *c, const char *sql, const char *const *params, int np,
		    struct sqlres *res, struct sderr *e)
{
	if (c->type == CAT_SQLITE)
		return sqlite_exec(c, sql, params, np, res, e);
	return mariadb_exec(c, sql, params, np, res, e);
}

static int sql_simple(struct cat *c, const char *sql, struct sderr *e)
{
	struct sqlres r;
	int rc = sql_exec(c, sql, NULL, 0, &r, e);
	sqlres_free(&r);
	return rc;
}

static int sql_setup(struct cat *c, struct sderr *e)
{
	/* pyiceberg's SqlCatalog (V1, with iceberg_type) and Java JdbcCatalog schema. */
	const char *suffix = c->type == CAT_MARIADB ? " DEFAULT CHARSET=utf8mb4" : "";
	struct buf q = BUF_INIT;
	buf_addf(&q,
		 "CREATE TABLE IF NOT EXISTS iceberg_tables ("
		 "catalog_name VARCHAR(255) NOT NULL, "
		 "table_namespace VARCHAR(255) NOT NULL, "
		 "table_name VARCHAR(255) NOT NULL, "
		 "metadata_location VARCHAR(1000), "
		 "previous_metadata_location VARCHAR(1000), "
		 "iceberg_type VARCHAR(5), "
		 "PRIMARY KEY (catalog_name, table_namespace, table_name))%s",
		 suffix);
	int rc = sql_simple(c, q.p, e);
	buf_reset(&q);
	if (!rc) {
		buf_addf(&q,
			 "CREATE TABLE IF NOT EXISTS iceberg_namespace_properties ("
			 "catalog_name VARCHAR(255) NOT NULL, "
			 "namespace VARCHAR(255) NOT NULL, "
			 "property_key VARCHAR(255) NOT NULL, "
			 "property_value VARCHAR(1000) NOT NULL, "
			 "PRIMARY KEY (catalog_name, namespace, property_key))%s",
			 suffix);
		rc = sql_simple(c, q.p, e);
	}
	buf_release(&q);
	if (rc)
		return rc;
	/* A catalog made by Java's JdbcCatalog with its V0 schema has no iceberg_type. */
	struct sderr ignore;
	c->has_type = sql_simple(c, "SELECT iceberg_type FROM iceberg_tables LIMIT 0", &ignore) == 0;
	return 0;
}

static char *strip_slash(const char *s)
{
	char *d = xstrdup(s);
	for (size_t n = strlen(d); n > 1 && d[n - 1] == '/'; n--)
		d[n - 1] = '\0';
	return d;
}

int cat_open_sqlite(const char *db_path, const char *catalog_name, const char *warehouse,
		    struct fio *io, struct cat **out, struct sderr *e)
{
	sqlite3 *db = NULL;
	if (sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
	    SQLITE_OK) {
		sderr_set(e, SD_ERR_SINK, "sqlite catalog %s: %s", db_path,
			  db ? sqlite3_errmsg(db) : "out of memory");
		sqlite3_close(db);
		return SD_ERR_SINK;
	}
	/* Other engines (pyiceberg, Spark's JDBC) may hold the file briefly. */
	sqlite3_busy_timeout(db, 10000);
	struct cat *c = xcalloc(1, sizeof(*c));
	c->type = CAT_SQLITE;
	c->db = db;
	c->io = io ? io : fio_local();
	c->name = xstrdup(catalog_name);
	c->warehouse = strip_slash(warehouse ? warehouse : "");
	int rc = sql_setup(c, e);
	if (rc) {
		cat_close(c);
		return rc;
	}
	*out = c;
	return 0;
}

int cat_open_mariadb(const struct cat_mariadb_opts *o, const char *catalog_name,
		     const char *warehouse, struct fio *io, struct cat **out, struct sderr *e)
{
	MYSQL *my = mysql_init(NULL);
	if (!my)
		return sderr_set(e, SD_ERR_SINK, "mariadb catalog: out of memory");
	mysql_optionsv(my, MYSQL_SET_CHARSET_NAME, "utf8mb4");
	if (!mysql_real_connect(my, o->host, o->user, o->password, o->database, o->port, o->socket,
				0)) {
		sderr_set(e, SD_ERR_SINK, "mariadb catalog: connect: %s", mysql_error(my));
		mysql_close(my);
		return SD_ERR_SINK;
	}
	struct cat *c = xcalloc(1, sizeof(*c));
	c->type = CAT_MARIADB;
	c->my = my;
	c->io = io ? io : fio_local();
	c->name = xstrdup(catalog_name);
	c->warehouse = strip_slash(warehouse ? warehouse : "");
	int rc = sql_setup(c, e);
	if (rc) {
		cat_close(c);
		return rc;
	}
	*out = c;
	return 0;
}

int cat_open_hadoop(const char *warehouse, struct fio *io, struct cat **out, struct sderr *e)
{
	(void)e;
	struct cat *c = xcalloc(1, sizeof(*c));
	c->type = CAT_HADOOP;
	c->io = io ? io : fio_local();
	c->warehouse = strip_slash(warehouse);
	c->name = xstrdup("hadoop");
	*out = c;
	return 0;
}

void cat_close(struct cat *c)
{
	if (!c)
		return;
	if (c->db)
		sqlite3_close(c->db);
	if (c->my)
		mysql_close(c->my);
	free(c->name);
	free(c->warehouse);
	free(c);
}

const char *cat_kind(const struct cat *c)
{
	return c->type == CAT_HADOOP ? "hadoop" : "sql";
}

struct fio *cat_fio(const struct cat *c)
{
	return c->io;
}

long cat_metadata_version(const char *location)
{
	const char *base = strrchr(location, '/');
	base = base ? base + 1 : location;
	const char *p = base;
	if (*p == 'v')
		p++;
	if (*p < '0' || *p > '9')
		return -1;
	char *end;
	errno = 0;
	long v = strtol(p, &end, 10);
	if (errno || (*end != '-' && *end != '.'))
		return -1;
	return v;
}

static void random_uuid(char out[37])
{
	unsigned char b[16];
	size_t got = 0;
	while (got < sizeof(b)) {
		ssize_t r = getrandom(b + got, sizeof(b) - got, 0);
		if (r > 0)
			got += (size_t)r;
	}
	b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
	b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
	snprintf(out, 37,
		 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1],
		 b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14],
		 b[15]);
}

/* ---- SQL catalog ---- */

#define TYPE_COND(c) ((c)->has_type ? " AND (iceberg_type = 'TABLE' OR iceberg_type IS NULL)" : "")

static int sql_create_namespace(struct cat *c, const char *ns, struct sderr *e)
{
	const char *p[] = { c->name, ns };
	struct sqlres r;
	int rc = sql_exec(c,
			  "SELECT property_value FROM iceberg_namespace_properties "
			  "WHERE catalog_name = ? AND namespace = ? AND property_key = 'exists'",
			  p, 2, &r, e);
	size_t have = r.n;
	sqlres_free(&r);
	if (rc || have)
		return rc;
	rc = sql_exec(c,
		      "INSERT INTO iceberg_namespace_properties "
		      "(catalog_name, namespace, property_key, property_value) "
		      "VALUES (?, ?, 'exists', 'true')",
		      p, 2, &r, e);
	int dup = r.dup;
	sqlres_free(&r);
	return rc && dup ? 0 : rc; /* a concurrent creator won: fine */
}

static int sql_load(struct cat *c, const char *ns, const char *name, char **location,
		    struct sderr *e)
{
	const char *p[] = { c->name, ns, name };
	struct buf q = BUF_INIT;
	buf_addf(&q,
		 "SELECT metadata_location FROM iceberg_tables "
		 "WHERE catalog_name = ? AND table_namespace = ? AND table_name = ?%s",
		 TYPE_COND(c));
	struct sqlres r;
	int rc = sql_exec(c, q.p, p, 3, &r, e);
	buf_release(&q);
	if (!rc && (r.n == 0 || !r.vals[0]))
		rc = sderr_set(e, CAT_NOT_FOUND, "table %s.%s not found in catalog %s", ns, name,
			       c->name);
	if (!rc)
		*location = xstrdup(r.vals[0]);
	sqlres_free(&r);
	return rc;
}

static int sql_swap(struct cat *c, const char *ns, const char *name, const char *base,
		    const char *loc, int *unknown, struct sderr *e)
{
	struct sqlres r;
	struct buf q = BUF_INIT;
	int rc;
	*unknown = 0;
	if (!base) {
		int nrc = sql_create_namespace(c, ns, e);
		if (nrc)
			return nrc;
		const char *p[] = { c->name, ns, name, loc };
		buf_addf(&q,
			 "INSERT INTO iceberg_tables (catalog_name, table_namespace, table_name, "
			 "metadata_location, previous_metadata_location%s) VALUES (?, ?, ?, ?, NULL%s)",
			 c->has_type ? ", iceberg_type" : "", c->has_type ? ", 'TABLE'" : "");
		rc = sql_exec(c, q.p, p, 4, &r, e);
		buf_release(&q);
		if (rc && r.dup)
			rc = sderr_set(e, CAT_EXISTS, "table %s.%s already exists", ns, name);
		sqlres_free(&r);
		return rc;
	}
	const char *p[] = { loc, base, c->name, ns, name, base };
	buf_addf(&q,
		 "UPDATE iceberg_tables SET metadata_location = ?, previous_metadata_location = ? "
		 "WHERE catalog_name = ? AND table_namespace = ? AND table_name = ? "
		 "AND metadata_location = ?%s",
		 TYPE_COND(c));
	rc = sql_exec(c, q.p, p, 6, &r, e);
	buf_release(&q);
	if (rc) {
		/* A MariaDB UPDATE that failed in flight may still have been applied. */
		if (c->type == CAT_MARIADB) {
			unsigned int no = mysql_errno(c->my);
			*unknown = no == 2006 || no == 2013 || no == 2055; /* gone, lost */
		}
	} else if (r.changes != 1) {
		rc = sderr_set(e, CAT_CONFLICT,
			       "commit conflict on %s.%s: metadata is no longer %s", ns, name, base);
	}
	sqlres_free(&r);
	return rc;
}

static int sql_commit(struct cat *c, const char *ns, const char *name, const char *loc_dir,
		      const char *base, const char *json, size_t len, char **new_location,
		      struct sderr *e)
{
	long v = 0;
	if (base) {
		v = cat_metadata_version(base);
		v = v < 0 ? 1 : v + 1;
	}
	char uuid[37];
	random_uuid(uuid);
	struct buf path = BUF_INIT;
	buf_addf(&path, "%s/metadata/%05ld-%s.metadata.json", loc_dir, v, uuid);
	int rc = fio_write_all(c->io, path.p, json, len, e);
	if (rc) {
		buf_release(&path);
		return rc;
	}
	int unknown;
	rc = sql_swap(c, ns, name, base, path.p, &unknown, e);
	if (rc) {
		if (!unknown) {
			struct sderr ignore;
			fio_remove(c->io, path.p, &ignore);
		}
		buf_release(&path);
		return rc;
	}
	*new_location = buf_detach(&path, NULL);
	return 0;
}

static int sql_drop(struct cat *c, const char *ns, const char *name, struct sderr *e)
{
	const char *p[] = { c->name, ns, name };
	struct buf q = BUF_INIT;
	buf_addf(&q,
		 "DELETE FROM iceberg_tables "
		 "WHERE catalog_name = ? AND table_namespace = ? AND table_name = ?%s",
		 TYPE_COND(c));
	struct sqlres r;
	int rc = sql_exec(c, q.p, p, 3, &r, e);
	buf_release(&q);
	if (!rc && r.changes == 0)
		rc = sderr_set(e, CAT_NOT_FOUND, "table %s.%s not found", ns, name);
	sqlres_free(&r);
	return rc;
}

static int sql_list(struct cat *c, const char *ns, char ***names, size_t *n, struct sderr *e)
{
	const char *p[] = { c->name, ns };
	struct buf q = BUF_INIT;
	buf_addf(&q,
		 "SELECT table_name FROM iceberg_tables WHERE catalog_name = ? "
		 "AND table_namespace = ?%s ORDER BY table_name",
		 TYPE_COND(c));
	struct sqlres r;
	int rc = sql_exec(c, q.p, p, 2, &r, e);
	buf_release(&q);
	if (rc) {
		sqlres_free(&r);
		return rc;
	}
	*names = r.vals;
	*n = r.n;
	return 0;
}

/* ---- Hadoop catalog ---- */

static char *hadoop_table_dir(const struct cat *c, const char *ns, const char *name)
{
	struct buf b = BUF_INIT;
	buf_addf(&b, "%s/", c->warehouse);
	for (const char *s = ns; *s; s++)
		buf_addch(&b, *s == '.' ? '/' : *s);
	buf_addf(&b, "/%s", name);
	return buf_detach(&b, NULL);
}

static int exists(struct cat *c, const char *uri)
{
	struct buf tmp = BUF_INIT;
	struct sderr ignore;
	int rc = fio_read(c->io, uri, &tmp, &ignore);
	buf_release(&tmp);
	return rc == 0;
}

/* Highest N of metadata/v<N>.metadata.json, from the hint and then by probing. */
static long hadoop_version(struct cat *c, const char *dir)
{
	struct sderr ignore, *e = &ignore;
	struct buf b = BUF_INIT, p = BUF_INIT;
	long v = -1;
	buf_addf(&p, "%s/metadata/version-hint.text", dir);
	if (fio_read(c->io, p.p, &b, e) == 0) {
		char *end;
		long h = strtol(b.p, &end, 10);
		if (end != b.p && h > 0)
			v = h;
	}
	if (v < 0) {
		/* No readable hint: the highest version present, as Java does. */
		struct fio_entry *ents;
		size_t n;
		buf_reset(&p);
		buf_addf(&p, "%s/metadata", dir);
		if (fio_list(c->io, p.p, &ents, &n, e) == 0) {
			for (size_t i = 0; i < n; i++) {
				const char *base = strrchr(ents[i].uri, '/');
				base = base ? base + 1 : ents[i].uri;
				long k = cat_metadata_version(base);
				if (base[0] == 'v' && k > v && strstr(base, ".metadata.json"))
					v = k;
			}
			fio_entries_free(ents, n);
		}
	}
	/* The hint is written after the version file: a crash in between leaves it behind. */
	for (;;) {
		buf_reset(&p);
		buf_addf(&p, "%s/metadata/v%ld.metadata.json", dir, v < 0 ? 1 : v + 1);
		if (!exists(c, p.p))
			break;
		v = v < 0 ? 1 : v + 1;
	}
	buf_release(&b);
	buf_release(&p);
	return v;
}

static int hadoop_load(struct cat *c, const char *ns, const char *name, char **location,
		       struct sderr *e)
{
	char *dir = hadoop_table_dir(c, ns, name);
	long v = hadoop_version(c, dir);
	if (v < 0) {
		sderr_set(e, CAT_NOT_FOUND, "table %s.%s not found under %s", ns, name,
			  c->warehouse);
		free(dir);
		return CAT_NOT_FOUND;
	}
	struct buf b = BUF_INIT;
	buf_addf(&b, "%s/metadata/v%ld.metadata.json", dir, v);
	free(dir);
	*location = buf_detach(&b, NULL);
	return 0;
}

static int hadoop_commit(struct cat *c, const char *ns, const char *name, const char *loc_dir,
			 const char *base, const char *json, size_t len, char **new_location,
			 struct sderr *e)
{
	(void)ns;
	(void)name;
	long v = 0;
	if (base) {
		v = cat_metadata_version(base);
		if (v < 0)
			return sderr_set(e, SD_ERR_SINK, "not a Hadoop metadata file: %s", base);
	} else if (hadoop_version(c, loc_dir) >= 0) {
		return sderr_set(e, CAT_EXISTS, "table %s.%s already exists", ns, name);
	}
	char uuid[37];
	random_uuid(uuid);
	struct buf tmp = BUF_INIT, fin = BUF_INIT, hint = BUF_INIT, hint_tmp = BUF_INIT;
	buf_addf(&tmp, "%s/metadata/%s.metadata.json", loc_dir, uuid);
	buf_addf(&fin, "%s/metadata/v%ld.metadata.json", loc_dir, v + 1);
	buf_addf(&hint, "%s/metadata/version-hint.text", loc_dir);
	buf_addf(&hint_tmp, "%s/metadata/%s-version-hint.temp", loc_dir, uuid);
	int rc = fio_write_all(c->io, tmp.p, json, len, e);
	if (!rc) {
		rc = fio_rename_noreplace(c->io, tmp.p, fin.p, e);
		if (rc) {
			struct sderr ignore;
			fio_remove(c->io, tmp.p, &ignore);
			if (rc == FIO_EXISTS)
				rc = sderr_set(e, CAT_CONFLICT,
					       "commit conflict: %s was written by another committer",
					       fin.p);
		}
	}
	if (!rc) {
		/* The commit stands once v<N+1> exists; a stale hint is only slower to read. */
		char num[32];
		int n = snprintf(num, sizeof(num), "%ld", v + 1);
		struct sderr ignore;
		if (fio_write_all(c->io, hint_tmp.p, num, (size_t)n, &ignore) == 0 &&
		    fio_rename(c->io, hint_tmp.p, hint.p, &ignore) != 0)
			fio_remove(c->io, hint_tmp.p, &ignore);
		*new_location = buf_detach(&fin, NULL);
	}
	buf_release(&tmp);
	buf_release(&fin);
	buf_release(&hint);
	buf_release(&hint_tmp);
	return rc;
}

static int hadoop_list(struct cat *c, const char *ns, char ***names, size_t *n, struct sderr *e)
{
	char *dir = hadoop_table_dir(c, ns, "");
	size_t dl = strlen(dir); /* ends in '/' */
	struct fio_entry *ents;
	size_t ne;
	*names = NULL;
	*n = 0;
	int rc = fio_list(c->io, dir, &ents, &ne, e);
	for (size_t i = 0; !rc && i < ne; i++) {
		/* <dir><table>/metadata/v<N>.metadata.json */
		const char *rel = ents[i].uri + dl;
		const char *slash = strchr(rel, '/');
		if (!slash || strncmp(slash, "/metadata/v", 11) != 0 ||
		    strchr(slash + 10, '/') || !strstr(slash, ".metadata.json"))
			continue;
		size_t k = (size_t)(slash - rel), j;
		for (j = 0; j < *n; j++)
			if (strlen((*names)[j]) == k && !strncmp((*names)[j], rel, k))
				break;
		if (j < *n)
			continue;
		*names = xrealloc(*names, (*n + 1) * sizeof(**names));
		(*names)[(*n)++] = xstrndup(rel, k);
	}
	if (!rc)
		fio_entries_free(ents, ne);
	free(dir);
	return rc;
}

/* ---- dispatch ---- */

int cat_create_namespace(struct cat *c, const char *ns, struct sderr *e)
{
	if (c->type != CAT_HADOOP)
		return sql_create_namespace(c, ns, e);
	char *dir = hadoop_table_dir(c, ns, "");
	int rc = fio_mkdirs(c->io, dir, e);
	free(dir);
	return rc;
}

char *cat_default_location(const struct cat *c, const char *ns, const char *name)
{
	if (c->type == CAT_HADOOP)
		return hadoop_table_dir(c, ns, name);
	struct buf b = BUF_INIT;
	buf_addf(&b, "%s/%s.db/%s", c->warehouse, ns, name);
	return buf_detach(&b, NULL);
}

int cat_load(struct cat *c, const char *ns, const char *name, char **location, struct sderr *e)
{
	*location = NULL;
	if (c->type == CAT_HADOOP)
		return hadoop_load(c, ns, name, location, e);
	return sql_load(c, ns, name, location, e);
}

int cat_commit(struct cat *c, const char *ns, const char *name, const char *table_location,
	       const char *base, const char *json, size_t len, char **new_location,
	       struct sderr *e)
{
	*new_location = NULL;
	char *loc = strip_slash(table_location);
	int rc;
	if (c->type == CAT_HADOOP)
		rc = hadoop_commit(c, ns, name, loc, base, json, len, new_location, e);
	else
		rc = sql_commit(c, ns, name, loc, base, json, len, new_location, e);
	free(loc);
	return rc;
}

int cat_drop(struct cat *c, const char *ns, const char *name, struct sderr *e)
{
	if (c->type == CAT_HADOOP)
		return sderr_set(e, SD_ERR_SINK, "Hadoop catalog: drop %s.%s by removing its directory",
				 ns, name);
	return sql_drop(c, ns, name, e);
}

int cat_list_tables(struct cat *c, const char *ns, char ***names, size_t *n, struct sderr *e)
{
	if (c->type == CAT_HADOOP)
		return hadoop_list(c, ns, names, n, e);
	return sql_list(c, ns, names, n, e);
}
