/*
 * source — MariaDB access for the differ: connection set-up, introspection
 * from information_schema, the consistent snapshot, keyset range scans over
 * server-side prepared statements, and the optional checksum pushdown.
 *
 * Range predicates are written out column by column,
 *   k1 >= ? AND (k1 > ? OR (k1 = ? AND k2 > ?))
 * rather than as a row constructor, so the range optimizer uses the primary
 * key for composite keys too; comparisons happen on the server, in the key's
 * own collation, so the client never has to know how keys sort.
 */
#include "source.h"

#include <errno.h>
#include <mysql.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

#define SHAPES 8  /* (lo?, hi?, limit?) */

struct src_conn {
	MYSQL *my;
	uint64_t cached_for;      /* sd_table.serial the statements were prepared for */
	MYSQL_STMT *stmts[SHAPES];
	int *params[SHAPES];      /* per placeholder: index into t->pk */
	size_t nparams[SHAPES];
	struct src_scan *scan;    /* the one open scan, reused */
};

struct colbuf {
	unsigned char *data;
	unsigned long cap;
	unsigned long len;
	my_bool is_null;
	my_bool error;
	union {
		long long ll;
		float f;
		double d;
		MYSQL_TIME tm;
	} fixed;
};

struct src_scan {
	struct src_conn *c;
	const struct sd_table *t;
	MYSQL_STMT *st;
	MYSQL_BIND *res;
	struct colbuf *cols;
	size_t ncols;
	struct buf row;
	struct buf key;
	size_t *off;
	int open;
};

static int classify(MYSQL *my)
{
	unsigned n = mysql_errno(my);
	switch (n) {
	case 1044: case 1045: case 1698: case 1142: case 1143:
		return SD_ERR_AUTH;
	case 1049: case 1146:
		return SD_ERR_SCHEMA;
	default:
		return SD_ERR_SOURCE;
	}
}

static int my_fail(struct src_conn *c, struct sderr *e, const char *what)
{
	return sderr_set(e, classify(c->my), "%s: %s (MariaDB error %u)", what,
			 mysql_error(c->my), mysql_errno(c->my));
}

static int stmt_fail(MYSQL_STMT *st, struct sderr *e, const char *what)
{
	unsigned n = mysql_stmt_errno(st);
	int code = (n == 1146 || n == 1049) ? SD_ERR_SCHEMA :
		   (n == 1142 || n == 1143 || n == 1044) ? SD_ERR_AUTH : SD_ERR_SOURCE;
	return sderr_set(e, code, "%s: %s (MariaDB error %u)", what, mysql_stmt_error(st), n);
}

void src_quote_ident(struct buf *b, const char *name)
{
	buf_addch(b, '`');
	for (const char *p = name; *p; p++) {
		if (*p == '`')
			buf_addch(b, '`');
		buf_addch(b, *p);
	}
	buf_addch(b, '`');
}

static int exec(struct src_conn *c, const char *sql, struct sderr *e)
{
	if (mysql_real_query(c->my, sql, strlen(sql)))
		return my_fail(c, e, sql);
	MYSQL_RES *r = mysql_store_result(c->my);
	if (r)
		mysql_free_result(r);
	return SD_OK;
}

int src_connect(const struct cfg *cfg, struct src_conn **out, struct sderr *e)
{
	const struct cfg_source *s = &cfg->source;
	char *password = NULL;
	int rc = cfg_resolve_secret(&s->password, "source password", &password, e);
	if (rc)
		return rc;
	struct src_conn *c = xcalloc(1, sizeof(*c));
	c->my = mysql_init(NULL);
	unsigned int ct = s->connect_timeout, rt = s->read_timeout;
	mysql_optionsv(c->my, MYSQL_OPT_CONNECT_TIMEOUT, &ct);
	mysql_optionsv(c->my, MYSQL_OPT_READ_TIMEOUT, &rt);
	mysql_optionsv(c->my, MYSQL_OPT_WRITE_TIMEOUT, &rt);
	mysql_optionsv(c->my, MYSQL_SET_CHARSET_NAME, "utf8mb4");
	my_bool no = 0;
	mysql_optionsv(c->my, MYSQL_OPT_LOCAL_INFILE, &no);
	if (s->ssl_ca || s->ssl_cert || s->ssl_key)
		mysql_ssl_set(c->my, s->ssl_key, s->ssl_cert, s->ssl_ca, NULL, NULL);
	const char *where_host = s->socket ? s->socket : s->host;
	if (!mysql_real_connect(c->my, s->socket ? "localhost" : s->host, s->user, password,
				NULL, s->socket ? 0 : s->port, s->socket, 0)) {
		rc = sderr_set(e, classify(c->my), "cannot connect to MariaDB at '%s' as '%s': %s",
			       where_host, s->user, mysql_error(c->my));
		if (password) {
			memset(password, 0, strlen(password));
			free(password);
		}
		src_close(c);
		return rc;
	}
	if (password) {
		memset(password, 0, strlen(password));
		free(password);
	}
	/* UTC so TIMESTAMP values do not depend on the server's zone; a long
	 * net_write_timeout because a slow consumer (a sink) may pause reading. */
	rc = exec(c, "SET SESSION time_zone = '+00:00', SESSION net_write_timeout = 600, "
		  "SESSION sql_mode = CONCAT(@@sql_mode, ',NO_BACKSLASH_ESCAPES')", e);
	if (rc) {
		src_close(c);
		return rc;
	}
	*out = c;
	return SD_OK;
}

static void drop_stmts(struct src_conn *c)
{
	for (int i = 0; i < SHAPES; i++) {
		if (c->stmts[i])
			mysql_stmt_close(c->stmts[i]);
		c->stmts[i] = NULL;
		free(c->params[i]);
		c->params[i] = NULL;
		c->nparams[i] = 0;
	}
	c->cached_for = 0;
}

static void scan_free(struct src_scan *s);

void src_close(struct src_conn *c)
{
	if (!c)
		return;
	if (c->scan)
		scan_free(c->scan);
	drop_stmts(c);
	mysql_close(c->my);
	free(c);
}

/* ---- introspection ---------------------------------------------------- */

void sd_table_free(struct sd_table *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->ncols; i++) {
		free(t->cols[i].name);
		free(t->cols[i].data_type);
		free(t->cols[i].column_type);
		free(t->cols[i].charset);
	}
	free(t->cols);
	free(t->pk);
	free(t->db);
	free(t->name);
	free(t);
}

static int in_list(char **list, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcasecmp(list[i], name) == 0)
			return 1;
	return 0;
}

static int kind_of(const char *dt, const char *ct, enum enc_kind *k)
{
	static const struct { const char *name; enum enc_kind kind; } map[] = {
		{ "tinyint", ENC_INT }, { "smallint", ENC_INT }, { "mediumint", ENC_INT },
		{ "int", ENC_INT }, { "bigint", ENC_INT },
		{ "float", ENC_FLOAT }, { "double", ENC_DOUBLE }, { "real", ENC_DOUBLE },
		{ "decimal", ENC_DECIMAL }, { "numeric", ENC_DECIMAL },
		{ "bit", ENC_BIT }, { "year", ENC_YEAR },
		{ "date", ENC_DATE }, { "datetime", ENC_DATETIME },
		{ "timestamp", ENC_TIMESTAMP }, { "time", ENC_TIME },
		{ "enum", ENC_ENUM }, { "set", ENC_SET }, { "json", ENC_JSON },
		{ "char", ENC_TEXT }, { "varchar", ENC_TEXT }, { "tinytext", ENC_TEXT },
		{ "text", ENC_TEXT }, { "mediumtext", ENC_TEXT }, { "longtext", ENC_TEXT },
		{ "inet4", ENC_TEXT }, { "inet6", ENC_TEXT }, { "uuid", ENC_TEXT },
		{ "binary", ENC_BYTES }, { "varbinary", ENC_BYTES }, { "tinyblob", ENC_BYTES },
		{ "blob", ENC_BYTES }, { "mediumblob", ENC_BYTES }, { "longblob", ENC_BYTES },
		{ "geometry", ENC_BYTES }, { "point", ENC_BYTES }, { "linestring", ENC_BYTES },
		{ "polygon", ENC_BYTES }, { "multipoint", ENC_BYTES },
		{ "multilinestring", ENC_BYTES }, { "multipolygon", ENC_BYTES },
		{ "geometrycollection", ENC_BYTES },
	};
	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
		if (strcasecmp(dt, map[i].name) == 0) {
			*k = map[i].kind;
			if (*k == ENC_INT && strstr(ct, "unsigned"))
				*k = ENC_UINT;
			return 0;
		}
	}
	return -1;
}

/* Runs a parameterised information_schema query with two string parameters
 * (schema, table) and a fully buffered result. */
static MYSQL_RES *is_query(struct src_conn *c, const char *sql_fmt, const char *db,
			   const char *tbl, struct sderr *e, int *rc)
{
	/* information_schema values are plain strings; escape them rather than
	 * formatting them in raw */
	struct buf q = BUF_INIT;
	char *edb = xmalloc(strlen(db) * 2 + 1), *etb = xmalloc(strlen(tbl) * 2 + 1);
	mysql_real_escape_string(c->my, edb, db, strlen(db));
	mysql_real_escape_string(c->my, etb, tbl, strlen(tbl));
	buf_addf(&q, sql_fmt, edb, etb);
	free(edb);
	free(etb);
	MYSQL_RES *r = NULL;
	if (mysql_real_query(c->my, q.p, q.len))
		*rc = my_fail(c, e, "introspection query failed");
	else if (!(r = mysql_store_result(c->my)))
		*rc = my_fail(c, e, "introspection result failed");
	buf_release(&q);
	return r;
}

int src_introspect(struct src_conn *c, const char *db, const char *tbl,
		   const struct cfg_table *tc, struct sd_table **out, struct sderr *e)
{
	int rc = SD_OK;
	MYSQL_RES *r = is_query(c,
		"SELECT TABLE_TYPE FROM information_schema.TABLES "
		"WHERE TABLE_SCHEMA = '%s' AND TABLE_NAME = '%s'", db, tbl, e, &rc);
	if (!r)
		return rc;
	MYSQL_ROW row = mysql_fetch_row(r);
	if (!row) {
		mysql_free_result(r);
		return sderr_set(e, SD_ERR_SCHEMA, "table '%s.%s' does not exist (or is not visible to this user)",
				 db, tbl);
	}
	if (strcmp(row[0], "BASE TABLE") != 0 && strcmp(row[0], "SYSTEM VERSIONED") != 0) {
		rc = sderr_set(e, SD_ERR_SCHEMA, "'%s.%s' is a %s, not a base table", db, tbl, row[0]);
		mysql_free_result(r);
		return rc;
	}
	mysql_free_result(r);

	r = is_query(c,
		"SELECT COLUMN_NAME, LOWER(DATA_TYPE), LOWER(COLUMN_TYPE), IS_NULLABLE, "
		"NUMERIC_PRECISION, NUMERIC_SCALE, DATETIME_PRECISION, CHARACTER_SET_NAME, "
		"CHARACTER_OCTET_LENGTH FROM information_schema.COLUMNS "
		"WHERE TABLE_SCHEMA = '%s' AND TABLE_NAME = '%s' ORDER BY ORDINAL_POSITION",
		db, tbl, e, &rc);
	if (!r)
		return rc;
	size_t n = mysql_num_rows(r);
	struct sd_column *all = xcalloc(n, sizeof(*all));
	size_t nall = 0;
	while ((row = mysql_fetch_row(r))) {
		struct sd_column *col = &all[nall++];
		col->name = xstrdup(row[0]);
		col->data_type = xstrdup(row[1]);
		col->column_type = xstrdup(row[2]);
		col->nullable = strcmp(row[3], "YES") == 0;
		col->precision = row[4] ? (unsigned)strtoul(row[4], NULL, 10) : 0;
		col->scale = row[5] ? (unsigned)strtoul(row[5], NULL, 10) : 0;
		col->fsp = row[6] ? (unsigned)strtoul(row[6], NULL, 10) : 0;
		col->charset = row[7] ? xstrdup(row[7]) : NULL;
		col->max_len = row[8] ? strtoll(row[8], NULL, 10) : -1;
		col->is_unsigned = strstr(col->column_type, "unsigned") != NULL;
		if (kind_of(col->data_type, col->column_type, &col->kind) < 0) {
			rc = sderr_set(e, SD_ERR_SCHEMA, "'%s.%s' column '%s' has type '%s' which snapdiff cannot encode",
				       db, tbl, col->name, col->column_type);
			goto fail;
		}
		if (col->kind == ENC_BIT)
			col->bits = col->precision ? col->precision : 1;
		/* The JSON alias is LONGTEXT with a json_valid() check; text it stays. */
	}
	mysql_free_result(r);
	r = NULL;

	/* config columns must exist: a typo would silently hash noise */
	for (size_t i = 0; i < tc->n_ignore + tc->n_exclude; i++) {
		const char *name = i < tc->n_ignore ? tc->ignore_columns[i] : tc->exclude_columns[i - tc->n_ignore];
		size_t j;
		for (j = 0; j < nall; j++)
			if (strcasecmp(all[j].name, name) == 0)
				break;
		if (j == nall) {
			rc = sderr_set(e, SD_ERR_CONFIG, "table '%s': column '%s' named in %s does not exist in '%s.%s'",
				       tbl, name,
				       i < tc->n_ignore ? "ignore_columns" : "exclude_columns", db, tbl);
			goto fail;
		}
	}

	r = is_query(c,
		"SELECT COLUMN_NAME FROM information_schema.STATISTICS "
		"WHERE TABLE_SCHEMA = '%s' AND TABLE_NAME = '%s' AND INDEX_NAME = 'PRIMARY' "
		"ORDER BY SEQ_IN_INDEX", db, tbl, e, &rc);
	if (!r)
		goto fail;
	size_t npk = mysql_num_rows(r);
	if (npk == 0) {
		rc = sderr_set(e, SD_ERR_SCHEMA,
			       "table '%s.%s' has no primary key; snapdiff needs one to scan by key ranges "
			       "(add a PRIMARY KEY or remove the table from the configuration)", db, tbl);
		goto fail;
	}
	char **pknames = xcalloc(npk, sizeof(char *));
	for (size_t i = 0; (row = mysql_fetch_row(r)); i++) {
		pknames[i] = xstrdup(row[0]);
		for (size_t j = 0; j < nall; j++)
			if (strcmp(all[j].name, row[0]) == 0)
				all[j].pk_pos = (int)i + 1;
	}
	mysql_free_result(r);
	r = NULL;

	static uint64_t serials;
	struct sd_table *t = xcalloc(1, sizeof(*t));
	t->serial = ++serials;
	t->db = xstrdup(db);
	t->name = xstrdup(tbl);
	t->cols = xcalloc(nall, sizeof(*t->cols));
	/* select order: hashed columns first, then ignored ones; excluded never */
	for (int pass = 0; pass < 2; pass++) {
		for (size_t j = 0; j < nall; j++) {
			if (!all[j].name)
				continue;
			int excluded = in_list(tc->exclude_columns, tc->n_exclude, all[j].name);
			int ignored = in_list(tc->ignore_columns, tc->n_ignore, all[j].name);
			if ((excluded || ignored) && all[j].pk_pos) {
				rc = sderr_set(e, SD_ERR_CONFIG, "table '%s': primary key column '%s' cannot be ignored or excluded",
					       tbl, all[j].name);
				for (size_t i = 0; i < npk; i++)
					free(pknames[i]);
				free(pknames);
				sd_table_free(t);
				goto fail;
			}
			if (excluded || ignored != pass)
				continue;
			t->cols[t->ncols] = all[j];
			t->cols[t->ncols].ignored = ignored;
			memset(&all[j], 0, sizeof(all[j]));
			t->ncols++;
		}
		if (pass == 0)
			t->nhashed = t->ncols;
	}
	t->npk = npk;
	t->pk = xcalloc(npk, sizeof(size_t));
	for (size_t i = 0; i < npk; i++) {
		for (size_t j = 0; j < t->ncols; j++)
			if (strcmp(t->cols[j].name, pknames[i]) == 0)
				t->pk[i] = j;
		free(pknames[i]);
	}
	free(pknames);

	XXH3_state_t *h = XXH3_createState();
	XXH3_64bits_reset(h);
	for (size_t j = 0; j < t->ncols; j++) {
		const struct sd_column *col = &t->cols[j];
		unsigned char flags[4] = { (unsigned char)col->kind, col->ignored, (unsigned char)col->pk_pos,
					   (unsigned char)col->fsp };
		XXH3_64bits_update(h, col->name, strlen(col->name) + 1);
		XXH3_64bits_update(h, col->column_type, strlen(col->column_type) + 1);
		XXH3_64bits_update(h, flags, sizeof(flags));
	}
	t->schema_hash = XXH3_64bits_digest(h);
	XXH3_freeState(h);
	*out = t;
	rc = SD_OK;
	/* columns moved into t were zeroed in all[], so one cleanup serves both */
fail:
	if (r)
		mysql_free_result(r);
	for (size_t j = 0; j < nall; j++) {
		free(all[j].name);
		free(all[j].data_type);
		free(all[j].column_type);
		free(all[j].charset);
	}
	free(all);
	return rc;
}

/* ---- snapshot --------------------------------------------------------- */

static void copy_field(char *dst, size_t n, const char *src)
{
	snprintf(dst, n, "%s", src ? src : "");
}

int src_snapshot_begin(struct src_conn *c, struct src_lineage *lin, struct sderr *e)
{
	memset(lin, 0, sizeof(*lin));
	int rc = exec(c, "SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ", e);
	if (!rc)
		rc = exec(c, "START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY", e);
	if (rc)
		return rc;
	const char *q = "SELECT @@gtid_binlog_pos, @@gtid_current_pos, "
			"DATE_FORMAT(NOW(6), '%Y-%m-%dT%H:%i:%s.%fZ'), "
			"CAST(UNIX_TIMESTAMP(NOW(6)) * 1000 AS SIGNED), VERSION()";
	if (mysql_query(c->my, q))
		return my_fail(c, e, "reading the snapshot lineage");
	MYSQL_RES *r = mysql_store_result(c->my);
	MYSQL_ROW row = r ? mysql_fetch_row(r) : NULL;
	if (!row) {
		if (r)
			mysql_free_result(r);
		return my_fail(c, e, "reading the snapshot lineage");
	}
	copy_field(lin->gtid_binlog_pos, sizeof(lin->gtid_binlog_pos), row[0]);
	copy_field(lin->gtid_current_pos, sizeof(lin->gtid_current_pos), row[1]);
	copy_field(lin->snapshot_time, sizeof(lin->snapshot_time), row[2]);
	lin->snapshot_ms = row[3] ? strtoll(row[3], NULL, 10) : 0;
	copy_field(lin->server_version, sizeof(lin->server_version), row[4]);
	mysql_free_result(r);
	/* The binlog coordinates that match the snapshot exactly (MariaDB sets
	 * them at START TRANSACTION WITH CONSISTENT SNAPSHOT). */
	if (mysql_query(c->my, "SHOW STATUS LIKE 'binlog_snapshot_%'") == 0 &&
	    (r = mysql_store_result(c->my))) {
		while ((row = mysql_fetch_row(r))) {
			if (strcasecmp(row[0], "binlog_snapshot_file") == 0)
				copy_field(lin->binlog_file, sizeof(lin->binlog_file), row[1]);
			else if (strcasecmp(row[0], "binlog_snapshot_position") == 0 && row[1])
				lin->binlog_pos = strtoull(row[1], NULL, 10);
		}
		mysql_free_result(r);
	}
	return SD_OK;
}

void src_snapshot_end(struct src_conn *c)
{
	if (c->scan && c->scan->open)
		src_scan_close(c->scan);
	mysql_query(c->my, "ROLLBACK");
}

/* ---- range statements ------------------------------------------------- */

static void add_colref(struct buf *q, const struct sd_table *t, size_t k)
{
	src_quote_ident(q, t->cols[t->pk[k]].name);
}

static void add_param(struct buf *q, const struct sd_table *t, size_t k, int *params, size_t *np)
{
	if (t->cols[t->pk[k]].kind == ENC_BYTES)
		buf_addstr(q, "CAST(? AS BINARY)");
	else
		buf_addch(q, '?');
	params[(*np)++] = (int)k;
}

/* k1 OP1 ? AND (k1 OP ? OR (k1 = ? AND (k2 OP ? OR (... kn OPLAST ?)))) */
static void add_bound(struct buf *q, const struct sd_table *t, int upper, int *params, size_t *np)
{
	const char *strict = upper ? " < " : " > ";
	add_colref(q, t, 0);
	buf_addstr(q, upper ? " <= " : " >= ");
	add_param(q, t, 0, params, np);
	buf_addstr(q, " AND ");
	for (size_t k = 0; k < t->npk; k++) {
		int last = k + 1 == t->npk;
		if (!last)
			buf_addch(q, '(');
		add_colref(q, t, k);
		buf_addstr(q, last ? (upper ? " <= " : " > ") : strict);
		add_param(q, t, k, params, np);
		if (!last) {
			buf_addstr(q, " OR (");
			add_colref(q, t, k);
			buf_addstr(q, " = ");
			add_param(q, t, k, params, np);
			buf_addstr(q, " AND ");
		}
	}
	for (size_t k = 0; k + 1 < t->npk; k++)
		buf_addstr(q, "))");
}

static void add_select_list(struct buf *q, const struct sd_table *t)
{
	for (size_t j = 0; j < t->ncols; j++) {
		if (j)
			buf_addstr(q, ", ");
		src_quote_ident(q, t->cols[j].name);
	}
}

static void add_from(struct buf *q, const struct sd_table *t)
{
	buf_addstr(q, " FROM ");
	src_quote_ident(q, t->db);
	buf_addch(q, '.');
	src_quote_ident(q, t->name);
}

static void add_where(struct buf *q, const struct sd_table *t, int has_lo, int has_hi,
		      int *params, size_t *np)
{
	if (has_lo || has_hi)
		buf_addstr(q, " WHERE ");
	if (has_lo) {
		buf_addch(q, '(');
		add_bound(q, t, 0, params, np);
		buf_addch(q, ')');
	}
	if (has_lo && has_hi)
		buf_addstr(q, " AND ");
	if (has_hi) {
		buf_addch(q, '(');
		add_bound(q, t, 1, params, np);
		buf_addch(q, ')');
	}
}

static int prepare_shape(struct src_conn *c, const struct sd_table *t, int shape, struct sderr *e)
{
	if (c->cached_for != t->serial) {
		drop_stmts(c);
		if (c->scan) {
			scan_free(c->scan);
			c->scan = NULL;
		}
	}
	c->cached_for = t->serial;
	if (c->stmts[shape])
		return SD_OK;
	int has_lo = shape & 1, has_hi = shape & 2, has_limit = shape & 4;
	size_t maxp = 2 * (t->npk * 2 + 1) + 1;
	int *params = xcalloc(maxp, sizeof(int));
	size_t np = 0;
	struct buf q = BUF_INIT;
	buf_addstr(&q, "SELECT ");
	add_select_list(&q, t);
	add_from(&q, t);
	add_where(&q, t, has_lo, has_hi, params, &np);
	buf_addstr(&q, " ORDER BY ");
	for (size_t k = 0; k < t->npk; k++) {
		if (k)
			buf_addstr(&q, ", ");
		add_colref(&q, t, k);
	}
	if (has_limit) {
		buf_addstr(&q, " LIMIT ?");
		params[np++] = -1;
	}
	MYSQL_STMT *st = mysql_stmt_init(c->my);
	if (mysql_stmt_prepare(st, q.p, q.len)) {
		int rc = stmt_fail(st, e, "preparing the range scan");
		sderr_prefix(e, "'%s.%s'", t->db, t->name);
		mysql_stmt_close(st);
		free(params);
		buf_release(&q);
		return rc;
	}
	buf_release(&q);
	c->stmts[shape] = st;
	c->params[shape] = params;
	c->nparams[shape] = np;
	return SD_OK;
}

/* Storage for bound parameter values decoded from an encoded key. */
struct pval {
	long long ll;
	float f;
	double d;
	MYSQL_TIME tm;
	const char *s;
	unsigned long slen;
};

static int decode_key(const struct sd_table *t, const unsigned char *k, size_t len, struct pval *pv,
		      enum enum_field_types *types, my_bool *uns)
{
	const unsigned char *p = k, *end = k + len;
	for (size_t i = 0; i < t->npk; i++) {
		struct enc_value v;
		if (enc_get(&p, end, &v) < 0)
			return -1;
		memset(&pv[i], 0, sizeof(pv[i]));
		uns[i] = 0;
		switch (v.kind) {
		case ENC_INT: pv[i].ll = v.v.i; types[i] = MYSQL_TYPE_LONGLONG; break;
		case ENC_UINT: case ENC_BIT: case ENC_YEAR:
			pv[i].ll = (long long)v.v.u; types[i] = MYSQL_TYPE_LONGLONG; uns[i] = 1; break;
		case ENC_FLOAT: pv[i].f = v.v.f; types[i] = MYSQL_TYPE_FLOAT; break;
		case ENC_DOUBLE: pv[i].d = v.v.d; types[i] = MYSQL_TYPE_DOUBLE; break;
		case ENC_DECIMAL:
			pv[i].s = v.v.s.p; pv[i].slen = v.v.s.len; types[i] = MYSQL_TYPE_NEWDECIMAL; break;
		case ENC_DATE: case ENC_DATETIME: case ENC_TIMESTAMP: case ENC_TIME:
			pv[i].tm.year = v.v.t.year; pv[i].tm.month = v.v.t.month; pv[i].tm.day = v.v.t.day;
			pv[i].tm.hour = v.v.t.hour; pv[i].tm.minute = v.v.t.minute;
			pv[i].tm.second = v.v.t.second; pv[i].tm.second_part = v.v.t.usec;
			pv[i].tm.neg = v.v.t.neg;
			pv[i].tm.time_type = v.kind == ENC_DATE ? MYSQL_TIMESTAMP_DATE :
					     v.kind == ENC_TIME ? MYSQL_TIMESTAMP_TIME : MYSQL_TIMESTAMP_DATETIME;
			types[i] = v.kind == ENC_DATE ? MYSQL_TYPE_DATE :
				   v.kind == ENC_TIME ? MYSQL_TYPE_TIME : MYSQL_TYPE_DATETIME;
			break;
		case ENC_NULL:
			return -1; /* key columns are never NULL */
		default:
			pv[i].s = v.v.s.p; pv[i].slen = v.v.s.len;
			types[i] = v.kind == ENC_BYTES ? MYSQL_TYPE_BLOB : MYSQL_TYPE_STRING;
		}
	}
	return p == end ? 0 : -1;
}

static void bind_pval(MYSQL_BIND *b, struct pval *pv, enum enum_field_types type, my_bool uns)
{
	memset(b, 0, sizeof(*b));
	b->buffer_type = type;
	b->is_unsigned = uns;
	switch (type) {
	case MYSQL_TYPE_LONGLONG: b->buffer = &pv->ll; break;
	case MYSQL_TYPE_FLOAT: b->buffer = &pv->f; break;
	case MYSQL_TYPE_DOUBLE: b->buffer = &pv->d; break;
	case MYSQL_TYPE_DATE: case MYSQL_TYPE_TIME: case MYSQL_TYPE_DATETIME:
		b->buffer = &pv->tm; break;
	default:
		b->buffer = (void *)pv->s;
		b->buffer_length = pv->slen;
		b->length = &pv->slen;
	}
}

/* ---- scans ------------------------------------------------------------ */

static void scan_free(struct src_scan *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->ncols; i++)
		free(s->cols[i].data);
	free(s->cols);
	free(s->res);
	free(s->off);
	buf_release(&s->row);
	buf_release(&s->key);
	free(s);
}

static int is_fixed(enum enc_kind k)
{
	return k == ENC_INT || k == ENC_UINT || k == ENC_YEAR || k == ENC_FLOAT || k == ENC_DOUBLE ||
	       k == ENC_DATE || k == ENC_DATETIME || k == ENC_TIMESTAMP || k == ENC_TIME;
}

static void setup_result_binds(struct src_scan *s)
{
	const struct sd_table *t = s->t;
	s->ncols = t->ncols;
	s->cols = xcalloc(t->ncols, sizeof(*s->cols));
	s->res = xcalloc(t->ncols, sizeof(*s->res));
	s->off = xcalloc(t->ncols + 1, sizeof(size_t));
	for (size_t j = 0; j < t->ncols; j++) {
		const struct sd_column *col = &t->cols[j];
		struct colbuf *cb = &s->cols[j];
		MYSQL_BIND *b = &s->res[j];
		b->is_null = &cb->is_null;
		b->error = &cb->error;
		b->length = &cb->len;
		switch (col->kind) {
		case ENC_INT: case ENC_UINT: case ENC_YEAR:
			b->buffer_type = MYSQL_TYPE_LONGLONG;
			b->buffer = &cb->fixed.ll;
			b->is_unsigned = col->kind != ENC_INT;
			break;
		case ENC_FLOAT:
			b->buffer_type = MYSQL_TYPE_FLOAT;
			b->buffer = &cb->fixed.f;
			break;
		case ENC_DOUBLE:
			b->buffer_type = MYSQL_TYPE_DOUBLE;
			b->buffer = &cb->fixed.d;
			break;
		case ENC_DATE: case ENC_DATETIME: case ENC_TIMESTAMP: case ENC_TIME:
			b->buffer_type = col->kind == ENC_DATE ? MYSQL_TYPE_DATE :
					 col->kind == ENC_TIME ? MYSQL_TYPE_TIME :
					 col->kind == ENC_TIMESTAMP ? MYSQL_TYPE_TIMESTAMP : MYSQL_TYPE_DATETIME;
			b->buffer = &cb->fixed.tm;
			break;
		default: {
			/* small columns get their full size; big ones start small and
			 * grow on the first truncation */
			unsigned long cap = 256;
			if (col->max_len > 0 && col->max_len < 4096)
				cap = (unsigned long)col->max_len + 1;
			cb->cap = cap;
			cb->data = xmalloc(cap);
			b->buffer_type = MYSQL_TYPE_BLOB;
			b->buffer = cb->data;
			b->buffer_length = cap;
		}
		}
	}
}

int src_scan_open(struct src_conn *c, const struct sd_table *t,
		  const unsigned char *lo, size_t lo_len,
		  const unsigned char *hi, size_t hi_len, int64_t limit,
		  struct src_scan **out, struct sderr *e)
{
	int shape = (lo ? 1 : 0) | (hi ? 2 : 0) | (limit > 0 ? 4 : 0);
	int rc = prepare_shape(c, t, shape, e);
	if (rc)
		return rc;
	struct src_scan *s = c->scan;
	if (!s) {
		s = c->scan = xcalloc(1, sizeof(*s));
		s->c = c;
		s->t = t;
		setup_result_binds(s);
	}
	s->st = c->stmts[shape];

	size_t np = c->nparams[shape];
	MYSQL_BIND *pb = xcalloc(np ? np : 1, sizeof(*pb));
	struct pval lov[64], hiv[64];
	enum enum_field_types lot[64], hit[64];
	my_bool lou[64], hiu[64];
	long long lim = limit;
	if (t->npk > 64 || (lo && decode_key(t, lo, lo_len, lov, lot, lou) < 0) ||
	    (hi && decode_key(t, hi, hi_len, hiv, hit, hiu) < 0)) {
		free(pb);
		return sderr_set(e, SD_ERR_STATE, "'%s.%s': a chunk boundary in state does not decode as this table's key",
				 t->db, t->name);
	}
	/* placeholders come in textual order: all of lo's, then hi's, then LIMIT */
	/* each bound has 2 * npk placeholders */
	size_t lo_params = lo ? 2 * t->npk : 0;
	for (size_t i = 0; i < np; i++) {
		int k = c->params[shape][i];
		if (k < 0) {
			memset(&pb[i], 0, sizeof(pb[i]));
			pb[i].buffer_type = MYSQL_TYPE_LONGLONG;
			pb[i].buffer = &lim;
		} else if (i < lo_params) {
			bind_pval(&pb[i], &lov[k], lot[k], lou[k]);
		} else {
			bind_pval(&pb[i], &hiv[k], hit[k], hiu[k]);
		}
	}
	if (np && mysql_stmt_bind_param(s->st, pb)) {
		rc = stmt_fail(s->st, e, "binding range parameters");
		free(pb);
		return rc;
	}
	if (mysql_stmt_execute(s->st)) {
		rc = stmt_fail(s->st, e, "range scan");
		free(pb);
		return sderr_prefix(e, "'%s.%s'", t->db, t->name), rc;
	}
	free(pb);
	if (mysql_stmt_field_count(s->st) != t->ncols) {
		mysql_stmt_free_result(s->st);
		mysql_stmt_reset(s->st);
		return sderr_set(e, SD_ERR_SCHEMA, "'%s.%s' changed shape during the run", t->db, t->name);
	}
	if (mysql_stmt_bind_result(s->st, s->res)) {
		rc = stmt_fail(s->st, e, "binding result columns");
		mysql_stmt_free_result(s->st);
		mysql_stmt_reset(s->st);
		return rc;
	}
	s->open = 1;
	*out = s;
	return SD_OK;
}

static void encode_col(struct src_scan *s, size_t j)
{
	const struct sd_column *col = &s->t->cols[j];
	struct colbuf *cb = &s->cols[j];
	struct buf *b = &s->row;
	if (cb->is_null) {
		enc_put_null(b);
		return;
	}
	switch (col->kind) {
	case ENC_INT: enc_put_int(b, cb->fixed.ll); break;
	case ENC_UINT: enc_put_uint(b, (uint64_t)cb->fixed.ll); break;
	case ENC_YEAR: enc_put_year(b, (unsigned)cb->fixed.ll); break;
	case ENC_FLOAT: enc_put_float(b, cb->fixed.f); break;
	case ENC_DOUBLE: enc_put_double(b, cb->fixed.d); break;
	case ENC_DATE: case ENC_DATETIME: case ENC_TIMESTAMP: case ENC_TIME: {
		const MYSQL_TIME *tm = &cb->fixed.tm;
		struct enc_time et = { tm->year, tm->month, tm->day, tm->hour, tm->minute,
				       tm->second, tm->second_part, tm->neg != 0 };
		if (col->kind == ENC_TIME)
			et.hour += tm->day * 24, et.year = et.month = et.day = 0;
		enc_put_time(b, col->kind, &et);
		break;
	}
	case ENC_BIT: {
		uint64_t v = 0;
		for (unsigned long i = 0; i < cb->len && i < 8; i++)
			v = (v << 8) | cb->data[i];
		enc_put_bit(b, v);
		break;
	}
	default:
		enc_put_str(b, col->kind, cb->data, cb->len);
	}
}

int src_scan_next(struct src_scan *s, const unsigned char **row, size_t *row_len,
		  size_t *hashed_len, const unsigned char **key, size_t *key_len,
		  struct sderr *e)
{
	const struct sd_table *t = s->t;
	int r = mysql_stmt_fetch(s->st);
	if (r == MYSQL_NO_DATA) {
		s->open = 0;
		return 0;
	}
	if (r == 1) {
		int rc = stmt_fail(s->st, e, "fetching rows");
		sderr_prefix(e, "'%s.%s'", t->db, t->name);
		s->open = 0;
		return -rc;
	}
	if (r == MYSQL_DATA_TRUNCATED) {
		int rebind = 0;
		for (size_t j = 0; j < t->ncols; j++) {
			struct colbuf *cb = &s->cols[j];
			if (!cb->error || is_fixed(t->cols[j].kind))
				continue;
			unsigned long need = cb->len;
			unsigned long cap = cb->cap;
			while (cap < need)
				cap *= 2;
			cb->data = xrealloc(cb->data, cap);
			cb->cap = cap;
			MYSQL_BIND b;
			memset(&b, 0, sizeof(b));
			b.buffer_type = MYSQL_TYPE_BLOB;
			b.buffer = cb->data;
			b.buffer_length = cap;
			unsigned long got = 0;
			b.length = &got;
			if (mysql_stmt_fetch_column(s->st, &b, (unsigned)j, 0)) {
				int rc = stmt_fail(s->st, e, "fetching a long column");
				return -rc;
			}
			cb->len = need;
			s->res[j].buffer = cb->data;
			s->res[j].buffer_length = cap;
			rebind = 1;
		}
		if (rebind && mysql_stmt_bind_result(s->st, s->res)) {
			int rc = stmt_fail(s->st, e, "rebinding result columns");
			return -rc;
		}
	}
	buf_reset(&s->row);
	for (size_t j = 0; j < t->ncols; j++) {
		s->off[j] = s->row.len;
		encode_col(s, j);
		if (j + 1 == t->nhashed)
			*hashed_len = s->row.len;
	}
	s->off[t->ncols] = s->row.len;
	if (t->nhashed == 0)
		*hashed_len = 0;
	buf_reset(&s->key);
	for (size_t k = 0; k < t->npk; k++) {
		size_t j = t->pk[k];
		buf_add(&s->key, s->row.p + s->off[j], s->off[j + 1] - s->off[j]);
	}
	*row = (const unsigned char *)s->row.p;
	*row_len = s->row.len;
	*key = (const unsigned char *)s->key.p;
	*key_len = s->key.len;
	return 1;
}

void src_scan_close(struct src_scan *s)
{
	if (!s || !s->open)
		return;
	mysql_stmt_free_result(s->st);
	mysql_stmt_reset(s->st);
	s->open = 0;
}

/* ---- lookups ----------------------------------------------------------- */

int src_query(struct src_conn *c, const char *sql, src_row_fn row, void *ctx, struct sderr *e)
{
	if (mysql_real_query(c->my, sql, strlen(sql)))
		return my_fail(c, e, "lookup query");
	MYSQL_RES *r = mysql_store_result(c->my);
	if (!r)
		return mysql_field_count(c->my) ? my_fail(c, e, "lookup result") : SD_OK;
	unsigned n = mysql_num_fields(r);
	MYSQL_ROW v;
	while ((v = mysql_fetch_row(r)))
		row(ctx, n, v, mysql_fetch_lengths(r));
	mysql_free_result(r);
	return SD_OK;
}

/* ---- checksum pushdown ------------------------------------------------ */

int src_checksum(struct src_conn *c, const struct sd_table *t,
		 const unsigned char *lo, size_t lo_len,
		 const unsigned char *hi, size_t hi_len,
		 int64_t *rows, uint64_t *crc, struct sderr *e)
{
	struct buf q = BUF_INIT;
	size_t maxp = 2 * (t->npk * 2 + 1);
	int *params = xcalloc(maxp + 1, sizeof(int));
	size_t np = 0;
	/* CONCAT_WS skips NULLs, so a bitmap of ISNULL() keeps NULL and ''
	 * apart (as pt-table-checksum does) */
	buf_addstr(&q, "SELECT COUNT(*), COALESCE(BIT_XOR(CRC32(CONCAT_WS('#'");
	for (size_t j = 0; j < t->nhashed; j++) {
		buf_addstr(&q, ", ");
		src_quote_ident(&q, t->cols[j].name);
	}
	buf_addstr(&q, ", CONCAT(''");
	for (size_t j = 0; j < t->nhashed; j++) {
		if (!t->cols[j].nullable)
			continue;
		buf_addstr(&q, ", ISNULL(");
		src_quote_ident(&q, t->cols[j].name);
		buf_addch(&q, ')');
	}
	buf_addstr(&q, ")))), 0)");
	add_from(&q, t);
	add_where(&q, t, lo != NULL, hi != NULL, params, &np);
	MYSQL_STMT *st = mysql_stmt_init(c->my);
	int rc = SD_OK;
	struct pval lov[64], hiv[64];
	enum enum_field_types lot[64], hit[64];
	my_bool lou[64], hiu[64];
	MYSQL_BIND *pb = xcalloc(np ? np : 1, sizeof(*pb));
	if (mysql_stmt_prepare(st, q.p, q.len)) {
		rc = stmt_fail(st, e, "preparing the checksum query");
		goto out;
	}
	if ((lo && decode_key(t, lo, lo_len, lov, lot, lou) < 0) ||
	    (hi && decode_key(t, hi, hi_len, hiv, hit, hiu) < 0)) {
		rc = sderr_set(e, SD_ERR_STATE, "a chunk boundary in state does not decode");
		goto out;
	}
	size_t lo_params = lo ? 2 * t->npk : 0;
	for (size_t i = 0; i < np; i++) {
		int k = params[i];
		if (i < lo_params)
			bind_pval(&pb[i], &lov[k], lot[k], lou[k]);
		else
			bind_pval(&pb[i], &hiv[k], hit[k], hiu[k]);
	}
	long long cnt = 0, x = 0;
	MYSQL_BIND res[2];
	memset(res, 0, sizeof(res));
	res[0].buffer_type = MYSQL_TYPE_LONGLONG;
	res[0].buffer = &cnt;
	res[1].buffer_type = MYSQL_TYPE_LONGLONG;
	res[1].buffer = &x;
	res[1].is_unsigned = 1;
	if ((np && mysql_stmt_bind_param(st, pb)) || mysql_stmt_execute(st) ||
	    mysql_stmt_bind_result(st, res) || mysql_stmt_fetch(st) != 0) {
		rc = stmt_fail(st, e, "checksum query");
		goto out;
	}
	*rows = cnt;
	*crc = (uint64_t)x;
out:
	free(pb);
	free(params);
	mysql_stmt_close(st);
	buf_release(&q);
	return rc;
}
