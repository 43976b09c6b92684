/*
 * config — reads snapdiff.yaml into struct cfg.
 *
 * The file is loaded as a libyaml document (a node tree that keeps line and
 * column marks) and walked against one static table of keys, keys[] below.
 * That table is the single truth for what a key is called, which C field it
 * fills, its range or choices, its default and its description: parsing, type
 * checks, defaults, inheritance from `defaults:`, cfg_dump() and the Markdown
 * reference (cfg_doc(), docs/configuration.md) are loops over it, so a new
 * key is one new entry. Nothing here prints or exits: every problem becomes
 * an SD_ERR_CONFIG "file:line:col: message" in the caller's struct sderr.
 */
#include "config.h"
#include "buf.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

/* MariaDB's limit for database, table and column names. */
#define IDENT_MAX 64

enum ktype {
	K_SECTION,      /* a nested mapping or list with its own walker */
	K_STR,
	K_CHOICE,       /* a string restricted to k->choices, stored as the string */
	K_ENUM,         /* a string restricted to k->choices, stored as the C enum */
	K_BOOL,
	K_INT,
	K_UINT,
	K_I64,
	K_DOUBLE,
	K_LIST,         /* char ** at off, size_t count at off2 */
	K_MAP,          /* struct cfg_kv * at off, size_t count at off2 */
	K_SECRET_ENV,   /* struct cfg_secret at off */
	K_SECRET_FILE,
	K_SECRET_PLAIN, /* the tempting key (`password`) that is refused */
};

enum section { S_ROOT, S_SOURCE, S_STATE, S_TABLE, S_SINK, S_LAKE, S_SCHEDULER, S_MEDIAWIKI, S_COUNT };

enum {
	F_PATH = 1 << 0,     /* relative values are resolved against the file's directory */
	F_IDENT = 1 << 1,    /* database, table or column names */
	F_LO_OPEN = 1 << 2,  /* the lower bound itself is out of range */
	F_JSONL = 1 << 3,    /* sink keys: which sink types they apply to */
	F_KAFKA = 1 << 4,
	F_DERIVED = 1 << 5,  /* the default depends on other keys; def is for the docs only */
};
#define F_ANY_SINK (F_JSONL | F_KAFKA)

struct choice {
	const char *name;
	int value;
};

struct ctx;

struct key {
	enum section sec;
	const char *name;
	enum ktype type;
	size_t off, off2;
	enum section child;   /* K_SECTION: what it contains */
	const char *def;      /* default, in YAML spelling; parsed like a value */
	double lo, hi;
	const struct choice *choices;
	unsigned flags;
	/* extra validation of a string value; returns 0 or fail()'s -1 */
	int (*check)(struct ctx *x, const char *q, const char *v, const yaml_node_t *n);
	const char *doc;
};

struct ctx {
	const char *file;       /* name used in messages */
	const char *basedir;    /* NULL: leave relative paths alone */
	yaml_document_t *doc;
	struct sderr *e;
	char where[192];        /* dotted name of the mapping being read, for messages */
};

static int check_cron(struct ctx *x, const char *q, const char *v, const yaml_node_t *n);
static int check_listen(struct ctx *x, const char *q, const char *v, const yaml_node_t *n);
static int check_template(struct ctx *x, const char *q, const char *v, const yaml_node_t *n);

static const struct choice initial_choices[] = {
	{ "all", CFG_INITIAL_ALL }, { "none", CFG_INITIAL_NONE }, { "lake", CFG_INITIAL_LAKE }, { NULL, 0 },
};
static const struct choice sink_choices[] = {
	{ "jsonl", CFG_SINK_JSONL }, { "kafka", CFG_SINK_KAFKA }, { NULL, 0 },
};
static const struct choice envelope_choices[] = {
	{ "native", CFG_ENVELOPE_NATIVE }, { "debezium", CFG_ENVELOPE_DEBEZIUM }, { NULL, 0 },
};
static const struct choice catalog_choices[] = {
	{ "sql", 0 }, { "mariadb", 0 }, { "hadoop", 0 }, { NULL, 0 },
};
static const struct choice codec_choices[] = {
	{ "zstd", 0 }, { "snappy", 0 }, { "none", 0 }, { NULL, 0 },
};
static const struct choice log_choices[] = {
	{ "debug", 0 }, { "info", 0 }, { "warn", 0 }, { "error", 0 }, { NULL, 0 },
};

/* K_ENUM fields are written through an int; that holds for these enums on
 * every ABI we build for, and this makes sure of it. */
_Static_assert(sizeof(enum cfg_initial_events) == sizeof(int), "enum size");
_Static_assert(sizeof(enum cfg_sink_type) == sizeof(int), "enum size");
_Static_assert(sizeof(enum cfg_envelope) == sizeof(int), "enum size");

#define O(type, field) offsetof(struct type, field)
#define DAY 86400.0

/* Keys of one section are contiguous: a key's bit in set masks is its index
 * within its section, and cfg_table.set_mask uses exactly those bits. */
static const struct key keys[] = {
	/* top level */
	{ S_ROOT, "source", K_SECTION, .child = S_SOURCE,
	  .doc = "How to reach the MariaDB server (usually a replica) that is mirrored." },
	{ S_ROOT, "databases", K_LIST, O(cfg, databases), O(cfg, n_databases), .flags = F_IDENT,
	  .doc = "Required. The databases (wikis) to mirror; they share one schema, so every table is read in each." },
	{ S_ROOT, "state", K_SECTION, .child = S_STATE,
	  .doc = "Where snapdiff keeps what it saw last time." },
	{ S_ROOT, "defaults", K_SECTION, .child = S_TABLE,
	  .doc = "Per-table settings that every entry of `tables` inherits unless it sets them itself." },
	{ S_ROOT, "tables", K_SECTION, .child = S_TABLE,
	  .doc = "Required. The tables to mirror: each item is a table name, or a one-key mapping `name: {settings}` overriding `defaults`." },
	{ S_ROOT, "sinks", K_SECTION, .child = S_SINK,
	  .doc = "Where change events go; a list, every sink receives every event. No sinks: JSON Lines on stdout." },
	{ S_ROOT, "lake", K_SECTION, .child = S_LAKE,
	  .doc = "The Iceberg mirror and changelog written next to the events." },
	{ S_ROOT, "scheduler", K_SECTION, .child = S_SCHEDULER,
	  .doc = "The `snapdiff scheduler` daemon: its HTTP endpoint and concurrency limits." },
	{ S_ROOT, "mediawiki", K_SECTION, .child = S_MEDIAWIKI,
	  .doc = "The MediaWiki profile: page_change events derived from the row diffs of one run." },

	/* source */
	{ S_SOURCE, "host", K_STR, O(cfg_source, host), .def = "127.0.0.1",
	  .doc = "Server host name or address; ignored when `socket` is set." },
	{ S_SOURCE, "port", K_UINT, O(cfg_source, port), .def = "3306", .lo = 1, .hi = 65535,
	  .doc = "Server TCP port." },
	{ S_SOURCE, "socket", K_STR, O(cfg_source, socket), .flags = F_PATH,
	  .doc = "Unix socket to connect through instead of TCP." },
	{ S_SOURCE, "user", K_STR, O(cfg_source, user), .def = "snapdiff",
	  .doc = "User name." },
	{ S_SOURCE, "password", K_SECRET_PLAIN, O(cfg_source, password),
	  .doc = "Not accepted: the password comes from `password_env` or `password_file`." },
	{ S_SOURCE, "password_env", K_SECRET_ENV, O(cfg_source, password),
	  .doc = "Environment variable that holds the password." },
	{ S_SOURCE, "password_file", K_SECRET_FILE, O(cfg_source, password), .flags = F_PATH,
	  .doc = "File that holds the password (one trailing newline is ignored)." },
	{ S_SOURCE, "connect_timeout", K_UINT, O(cfg_source, connect_timeout), .def = "10", .lo = 1, .hi = 3600,
	  .doc = "Seconds to wait for the connection." },
	{ S_SOURCE, "read_timeout", K_UINT, O(cfg_source, read_timeout), .def = "600", .lo = 1, .hi = DAY,
	  .doc = "Seconds to wait for one query's result before giving up (a retriable error)." },
	{ S_SOURCE, "ssl_ca", K_STR, O(cfg_source, ssl_ca), .flags = F_PATH,
	  .doc = "CA certificate (PEM) that the server's certificate must chain to; enables TLS." },
	{ S_SOURCE, "ssl_cert", K_STR, O(cfg_source, ssl_cert), .flags = F_PATH,
	  .doc = "Client certificate (PEM) for TLS client authentication." },
	{ S_SOURCE, "ssl_key", K_STR, O(cfg_source, ssl_key), .flags = F_PATH,
	  .doc = "Private key (PEM) of `ssl_cert`." },

	/* state */
	{ S_STATE, "path", K_STR, O(cfg, state_path), .def = "snapdiff-state.db", .flags = F_PATH,
	  .doc = "The SQLite state file (WAL mode); created on the first run." },

	/* defaults and tables[] */
	{ S_TABLE, "ignore_columns", K_LIST, O(cfg_table, ignore_columns), O(cfg_table, n_ignore), .flags = F_IDENT,
	  .doc = "Columns read and emitted but left out of the row hash, so that changes to them alone (page_touched) are not events." },
	{ S_TABLE, "exclude_columns", K_LIST, O(cfg_table, exclude_columns), O(cfg_table, n_exclude), .flags = F_IDENT,
	  .doc = "Columns never read at all (user_password, user_token)." },
	{ S_TABLE, "chunk_rows", K_I64, O(cfg_table, chunk_rows), .def = "1000", .lo = 1, .hi = 1e9,
	  .doc = "Rows in the first chunk; later chunks adapt toward `chunk_time`." },
	{ S_TABLE, "chunk_min_rows", K_I64, O(cfg_table, chunk_min_rows), .def = "100", .lo = 1, .hi = 1e9,
	  .doc = "Lower bound of the chunk size adaptation." },
	{ S_TABLE, "chunk_max_rows", K_I64, O(cfg_table, chunk_max_rows), .def = "200000", .lo = 1, .hi = 1e9,
	  .doc = "Upper bound of the chunk size adaptation; at least `chunk_min_rows`." },
	{ S_TABLE, "chunk_time", K_DOUBLE, O(cfg_table, chunk_time), .def = "0.5", .lo = 0, .hi = 3600, .flags = F_LO_OPEN,
	  .doc = "Target seconds per chunk (pt-table-checksum's default)." },
	{ S_TABLE, "max_delete_fraction", K_DOUBLE, O(cfg_table, max_delete_fraction), .def = "0.10", .lo = 0, .hi = 1,
	  .doc = "Guard: a run that would delete more than this share of the rows in state is refused (exit code 7)." },
	{ S_TABLE, "guard_min_rows", K_I64, O(cfg_table, guard_min_rows), .def = "1000", .lo = 0, .hi = 1e15,
	  .doc = "The delete guard applies only to tables with at least this many rows in state." },
	{ S_TABLE, "keep_images", K_BOOL, O(cfg_table, keep_images), .def = "false",
	  .doc = "Keep full row images in state, so that updates and deletes carry before-images." },
	{ S_TABLE, "checksum_pushdown", K_BOOL, O(cfg_table, checksum_pushdown), .def = "false",
	  .doc = "Ask MariaDB for a per-chunk checksum first." },
	{ S_TABLE, "initial_events", K_ENUM, O(cfg_table, initial_events), .def = "all", .choices = initial_choices,
	  .doc = "What the first run of a table emits: `all` an insert per row, `none` nothing (it only builds state), `lake` rows for the lake only." },
	{ S_TABLE, "every", K_DOUBLE, O(cfg_table, every), .def = "0", .lo = 0, .hi = 366 * DAY,
	  .doc = "Scheduler: seconds between runs; 0 means not scheduled by interval. A table setting `every` or `cron` inherits neither." },
	{ S_TABLE, "jitter", K_DOUBLE, O(cfg_table, jitter), .def = "0", .lo = 0, .hi = DAY,
	  .doc = "Scheduler: up to this many seconds added at random to every start." },
	{ S_TABLE, "cron", K_STR, O(cfg_table, cron), .check = check_cron,
	  .doc = "Scheduler: five-field cron expression, instead of `every`." },
	{ S_TABLE, "timeout", K_DOUBLE, O(cfg_table, timeout), .def = "3600", .lo = 0, .hi = 7 * DAY, .flags = F_LO_OPEN,
	  .doc = "Scheduler: seconds before a run is stopped." },
	{ S_TABLE, "retries", K_INT, O(cfg_table, retries), .def = "3", .lo = 0, .hi = 100,
	  .doc = "Scheduler: retries after a retriable failure." },
	{ S_TABLE, "backoff_initial", K_DOUBLE, O(cfg_table, backoff_initial), .def = "10", .lo = 0, .hi = DAY,
	  .doc = "Scheduler: seconds before the first retry." },
	{ S_TABLE, "backoff_max", K_DOUBLE, O(cfg_table, backoff_max), .def = "600", .lo = 0, .hi = 7 * DAY,
	  .doc = "Scheduler: upper bound of the retry delay; at least `backoff_initial`." },

	/* sinks[] */
	{ S_SINK, "type", K_ENUM, O(cfg_sink, type), .choices = sink_choices, .flags = F_ANY_SINK,
	  .doc = "Required. `jsonl` (JSON Lines to stdout or files) or `kafka`." },
	{ S_SINK, "name", K_STR, O(cfg_sink, name), .def = "<type>", .flags = F_ANY_SINK | F_DERIVED,
	  .doc = "Name used in logs and messages." },
	{ S_SINK, "path", K_STR, O(cfg_sink, path), .def = "-", .flags = F_JSONL | F_PATH | F_DERIVED,
	  .doc = "jsonl: `-` is stdout; a file is appended to and fsync'd. Default `-` unless `dir` is set." },
	{ S_SINK, "dir", K_STR, O(cfg_sink, dir), .flags = F_JSONL | F_PATH,
	  .doc = "jsonl: instead of `path`, one file per run, renamed into this directory when complete." },
	{ S_SINK, "brokers", K_STR, O(cfg_sink, brokers), .flags = F_KAFKA,
	  .doc = "kafka, required: bootstrap servers, `host:port[,host:port...]`." },
	{ S_SINK, "topic_template", K_STR, O(cfg_sink, topic_template), .def = "{prefix}.{database}.{table}",
	  .flags = F_KAFKA, .check = check_template,
	  .doc = "kafka: topic of each table; `{prefix}`, `{database}` and `{table}` are replaced." },
	{ S_SINK, "topic_prefix", K_STR, O(cfg_sink, topic_prefix), .def = "snapdiff", .flags = F_KAFKA,
	  .doc = "kafka: the `{prefix}` of `topic_template`." },
	{ S_SINK, "envelope", K_ENUM, O(cfg_sink, envelope), .def = "native", .choices = envelope_choices, .flags = F_KAFKA,
	  .doc = "kafka: message format, snapdiff's own or Debezium-compatible." },
	{ S_SINK, "tombstones", K_BOOL, O(cfg_sink, tombstones), .def = "true", .flags = F_KAFKA,
	  .doc = "kafka: send a null-value message after each delete, for log compaction." },
	{ S_SINK, "transactional", K_BOOL, O(cfg_sink, transactional), .def = "false", .flags = F_KAFKA,
	  .doc = "kafka: one Kafka transaction per run (consumers read_committed see whole runs)." },
	{ S_SINK, "transactional_id_prefix", K_STR, O(cfg_sink, transactional_id_prefix), .def = "snapdiff", .flags = F_KAFKA,
	  .doc = "kafka: prefix of the Kafka transactional.id." },
	{ S_SINK, "flush_timeout", K_DOUBLE, O(cfg_sink, flush_timeout), .def = "60", .lo = 0, .hi = DAY,
	  .flags = F_KAFKA | F_LO_OPEN,
	  .doc = "kafka: seconds to wait for delivery reports before the run fails." },
	{ S_SINK, "properties", K_MAP, O(cfg_sink, properties), O(cfg_sink, n_properties), .flags = F_KAFKA,
	  .doc = "kafka: librdkafka properties passed as is; values may be any scalar and are passed as strings." },
	{ S_SINK, "sasl_password", K_SECRET_PLAIN, O(cfg_sink, sasl_password), .flags = F_KAFKA,
	  .doc = "Not accepted: the SASL password comes from `sasl_password_env` or `sasl_password_file`." },
	{ S_SINK, "sasl_password_env", K_SECRET_ENV, O(cfg_sink, sasl_password), .flags = F_KAFKA,
	  .doc = "kafka: environment variable holding `sasl.password`." },
	{ S_SINK, "sasl_password_file", K_SECRET_FILE, O(cfg_sink, sasl_password), .flags = F_KAFKA | F_PATH,
	  .doc = "kafka: file holding `sasl.password`." },

	/* lake */
	{ S_LAKE, "enabled", K_BOOL, O(cfg_lake, enabled), .def = "false",
	  .doc = "Write the Iceberg mirror and changelog." },
	{ S_LAKE, "warehouse", K_STR, O(cfg_lake, warehouse), .def = "warehouse", .flags = F_PATH,
	  .doc = "Local directory of the Iceberg warehouse." },
	{ S_LAKE, "catalog", K_CHOICE, O(cfg_lake, catalog), .def = "sql", .choices = catalog_choices,
	  .doc = "Iceberg catalog: `sql` (a SQLite file), `mariadb` or `hadoop`." },
	{ S_LAKE, "catalog_uri", K_STR, O(cfg_lake, catalog_uri), .def = "<warehouse>/catalog.db",
	  .flags = F_DERIVED,
	  .doc = "Where the catalog lives; for `sql` a SQLite file, resolved like a path. No default for other catalogs." },
	{ S_LAKE, "catalog_name", K_STR, O(cfg_lake, catalog_name), .def = "snapdiff",
	  .doc = "Name of the Iceberg catalog." },
	{ S_LAKE, "namespace", K_STR, O(cfg_lake, namespace_), .def = "mediawiki",
	  .doc = "Iceberg namespace of the tables." },
	{ S_LAKE, "codec", K_CHOICE, O(cfg_lake, codec), .def = "zstd", .choices = codec_choices,
	  .doc = "Parquet compression." },
	{ S_LAKE, "row_hash_column", K_BOOL, O(cfg_lake, row_hash_column), .def = "false",
	  .doc = "Add the `_snapdiff_hash` column to the mirror." },
	{ S_LAKE, "changelog", K_BOOL, O(cfg_lake, changelog), .def = "true",
	  .doc = "Write the changelog table next to the mirror." },

	/* scheduler */
	{ S_SCHEDULER, "listen", K_STR, O(cfg_scheduler, listen), .def = "127.0.0.1:9187", .check = check_listen,
	  .doc = "`host:port` of the HTTP endpoint (status, metrics, POST /run)." },
	{ S_SCHEDULER, "token", K_SECRET_PLAIN, O(cfg_scheduler, token),
	  .doc = "Not accepted: the token comes from `token_env` or `token_file`." },
	{ S_SCHEDULER, "token_env", K_SECRET_ENV, O(cfg_scheduler, token),
	  .doc = "Environment variable holding the bearer token required by POST /run." },
	{ S_SCHEDULER, "token_file", K_SECRET_FILE, O(cfg_scheduler, token), .flags = F_PATH,
	  .doc = "File holding the bearer token required by POST /run." },
	{ S_SCHEDULER, "max_concurrent", K_INT, O(cfg_scheduler, max_concurrent), .def = "2", .lo = 1, .hi = 1024,
	  .doc = "Runs at the same time, in total." },
	{ S_SCHEDULER, "max_per_host", K_INT, O(cfg_scheduler, max_per_host), .def = "2", .lo = 1, .hi = 1024,
	  .doc = "Runs at the same time against one source host." },
	{ S_SCHEDULER, "log_level", K_CHOICE, O(cfg_scheduler, log_level), .def = "info", .choices = log_choices,
	  .doc = "Least severe log level written." },

	/* mediawiki */
	{ S_MEDIAWIKI, "page_change", K_BOOL, O(cfg_mediawiki, page_change), .def = "false",
	  .doc = "Derive `mediawiki/page/change` events from each run. All tables of a database then run inside one snapshot and commit together; page, revision and archive keep row images." },
	{ S_MEDIAWIKI, "stream", K_STR, O(cfg_mediawiki, stream), .def = "mediawiki.page_change.v1",
	  .doc = "Stream name in the events' meta.stream, and the Kafka topic (prefixed by topic_prefix when set)." },
	{ S_MEDIAWIKI, "domains", K_MAP, O(cfg_mediawiki, domains), O(cfg_mediawiki, n_domains),
	  .doc = "Database name to wiki domain (enwiki: en.wikipedia.org) for meta.domain; default: the database name." },
};

#define NKEYS (sizeof(keys) / sizeof(keys[0]))

/* ---- small helpers ---- */

static int fail(struct ctx *x, const yaml_node_t *n, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(struct ctx *x, const yaml_node_t *n, const char *fmt, ...)
{
	char msg[768];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (n)
		sderr_set(x->e, SD_ERR_CONFIG, "%s:%zu:%zu: %s", x->file,
			  n->start_mark.line + 1, n->start_mark.column + 1, msg);
	else
		sderr_set(x->e, SD_ERR_CONFIG, "%s: %s", x->file, msg);
	return -1;
}

static yaml_node_t *node_at(struct ctx *x, int i)
{
	return yaml_document_get_node(x->doc, i);
}

static const char *sval(const yaml_node_t *n)
{
	return (const char *)n->data.scalar.value;
}

static size_t slen(const yaml_node_t *n)
{
	return n->data.scalar.length;
}

static bool is_plain(const yaml_node_t *n)
{
	return n->type == YAML_SCALAR_NODE && n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
}

/* YAML 1.2 core schema nulls; only unquoted scalars can be null. */
static bool is_null(const yaml_node_t *n)
{
	if (!n)
		return true;
	if (!is_plain(n))
		return false;
	const char *v = sval(n);
	return !*v || !strcmp(v, "~") || !strcmp(v, "null") || !strcmp(v, "Null") || !strcmp(v, "NULL");
}

static const char *kind(const yaml_node_t *n)
{
	if (is_null(n))
		return "nothing (null)";
	switch (n->type) {
	case YAML_MAPPING_NODE: return "a mapping";
	case YAML_SEQUENCE_NODE: return "a list";
	default: return "a scalar";
	}
}

static int line_of(const yaml_node_t *n)
{
	return n ? (int)n->start_mark.line + 1 : 0;
}

/* "source.port", or "databases" at the top level. */
static void qualify(const struct ctx *x, const char *name, char *out, size_t n)
{
	snprintf(out, n, "%s%s%s", x->where, *x->where ? "." : "", name);
}

static const struct key *find_key(enum section s, const char *name, size_t len)
{
	for (size_t i = 0; i < NKEYS; i++)
		if (keys[i].sec == s && strlen(keys[i].name) == len && !memcmp(keys[i].name, name, len))
			return &keys[i];
	return NULL;
}

static unsigned key_bit(const struct key *k)
{
	unsigned bit = 0;
	for (const struct key *p = k; p > keys && p[-1].sec == k->sec; p--)
		bit++;
	return bit;
}

/* The other half of an env/file secret pair, for messages. */
static const struct key *secret_sibling(const struct key *k, enum ktype want)
{
	for (size_t i = 0; i < NKEYS; i++)
		if (keys[i].sec == k->sec && keys[i].off == k->off && keys[i].type == want)
			return &keys[i];
	return k;
}

static char *resolve_path(const struct ctx *x, const char *v)
{
	const char *b = x->basedir;
	if (v[0] == '/' || !strcmp(v, "-") || !b || !*b || !strcmp(b, "."))
		return xstrdup(v);
	struct buf out = BUF_INIT;
	buf_addstr(&out, b);
	if (out.p[out.len - 1] != '/')
		buf_addch(&out, '/');
	buf_addstr(&out, v);
	return buf_detach(&out, NULL);
}

/* Shortest text that reads back as the same double, so dumps stay exact but
 * 0.1 does not turn into 0.10000000000000001. */
static void fmt_double(char *out, size_t n, double d)
{
	/* whole numbers print as integers; the cast is safe below 1e15 */
	if (d > -1e15 && d < 1e15 && d == (double)(long long)d) {
		snprintf(out, n, "%.0f", d);
		return;
	}
	for (int prec = 1; prec <= 17; prec++) {
		snprintf(out, n, "%.*g", prec, d);
		if (strtod(out, NULL) == d)
			return;
	}
}

static void fmt_bound(char *out, size_t n, double d, enum ktype t)
{
	if (t == K_DOUBLE)
		fmt_double(out, n, d);
	else
		snprintf(out, n, "%.0f", d);
}

/* ---- value checks ---- */

static int check_ident(struct ctx *x, const char *what, const char *v, size_t len, const yaml_node_t *n)
{
	if (len == 0)
		return fail(x, n, "%s must not be empty", what);
	if (memchr(v, '\0', len))
		return fail(x, n, "%s contains a NUL byte", what);
	if (len > IDENT_MAX)
		return fail(x, n, "%s is longer than %d bytes", what, IDENT_MAX);
	return 0;
}

static int check_cron(struct ctx *x, const char *q, const char *v, const yaml_node_t *n)
{
	int fields = 0;
	for (const char *p = v; *p;) {
		while (*p && isspace((unsigned char)*p))
			p++;
		if (!*p)
			break;
		fields++;
		while (*p && !isspace((unsigned char)*p))
			p++;
	}
	if (fields != 5)
		return fail(x, n, "'%s' expects five cron fields (minute hour day month weekday), got %d",
			    q, fields);
	return 0;
}

static int check_listen(struct ctx *x, const char *q, const char *v, const yaml_node_t *n)
{
	const char *colon = strrchr(v, ':');
	char *end;
	if (!colon || colon == v)
		return fail(x, n, "'%s' expects host:port, got '%.64s'", q, v);
	errno = 0;
	long port = strtol(colon + 1, &end, 10);
	if (!isdigit((unsigned char)colon[1]) || *end || errno || port < 1 || port > 65535)
		return fail(x, n, "'%s' has an invalid port in '%.64s'", q, v);
	return 0;
}

static int check_template(struct ctx *x, const char *q, const char *v, const yaml_node_t *n)
{
	static const char *const known[] = { "{prefix}", "{database}", "{table}" };
	for (const char *p = v; (p = strchr(p, '{')); ) {
		size_t i;
		for (i = 0; i < sizeof(known) / sizeof(known[0]); i++)
			if (!strncmp(p, known[i], strlen(known[i])))
				break;
		if (i == sizeof(known) / sizeof(known[0]))
			return fail(x, n, "'%s' has an unknown placeholder at '%.32s' "
				    "(known: {prefix}, {database}, {table})", q, p);
		p += strlen(known[i]);
	}
	return 0;
}

static void choice_list(const struct choice *c, char *out, size_t n)
{
	size_t len = 0;
	out[0] = '\0';
	for (; c->name; c++) {
		int w = snprintf(out + len, n - len, "%s%s", len ? ", " : "", c->name);
		if (w < 0 || (size_t)w >= n - len)
			break;
		len += (size_t)w;
	}
}

static const char *type_word(const struct key *k)
{
	switch (k->type) {
	case K_BOOL: return "true or false";
	case K_INT: case K_UINT: case K_I64: return "an integer";
	case K_DOUBLE: return "a number";
	case K_LIST: return "a list of strings";
	case K_MAP: return "a mapping of scalars";
	case K_SECTION: return "a mapping";
	default: return "a string";
	}
}

/* ---- setting one value ---- */

static bool looks_integer(const char *v)
{
	const char *p = v + (*v == '-' || *v == '+');
	if (!*p)
		return false;
	for (; *p; p++)
		if (!isdigit((unsigned char)*p))
			return false;
	return true;
}

static bool looks_number(const char *v)
{
	bool digit = false;
	for (const char *p = v; *p; p++) {
		if (isdigit((unsigned char)*p))
			digit = true;
		else if (!strchr("+-.eE", *p))
			return false;
	}
	return digit;
}

static int range_error(struct ctx *x, const struct key *k, const char *q, const char *v, const yaml_node_t *n)
{
	char lo[40], hi[40];
	fmt_bound(lo, sizeof(lo), k->lo, k->type);
	fmt_bound(hi, sizeof(hi), k->hi, k->type);
	if (k->flags & F_LO_OPEN)
		return fail(x, n, "'%s' must be greater than %s and at most %s, got %.40s", q, lo, hi, v);
	return fail(x, n, "'%s' must be between %s and %s, got %.40s", q, lo, hi, v);
}

/* Sets a scalar-typed key from text. n is the YAML node (NULL for defaults,
 * which are spelled as plain scalars). */
static int set_scalar(struct ctx *x, const struct key *k, void *base, const char *q,
		      const char *v, size_t len, bool plain, const yaml_node_t *n)
{
	char *field = (char *)base + k->off;
	const char *quoted = plain ? "" : "the string ";

	if (plain && n && is_null(n))
		return fail(x, n, "'%s' expects %s, got nothing (null)", q, type_word(k));
	if (memchr(v, '\0', len))
		return fail(x, n, "'%s' contains a NUL byte", q);

	switch (k->type) {
	case K_STR:
		if (!len)
			return fail(x, n, "'%s' must not be empty", q);
		if (k->check && k->check(x, q, v, n))
			return -1;
		free(*(char **)field);
		*(char **)field = (k->flags & F_PATH) ? resolve_path(x, v) : xstrdup(v);
		return 0;
	case K_CHOICE:
	case K_ENUM:
		for (const struct choice *c = k->choices; c->name; c++) {
			if (strcmp(c->name, v))
				continue;
			if (k->type == K_ENUM) {
				*(int *)field = c->value;
			} else {
				free(*(char **)field);
				*(char **)field = xstrdup(v);
			}
			return 0;
		}
		{
			char list[128];
			choice_list(k->choices, list, sizeof(list));
			return fail(x, n, "'%s' must be one of %s, got '%.40s'", q, list, v);
		}
	case K_BOOL:
		if (plain && !strcmp(v, "true"))
			*(bool *)field = true;
		else if (plain && !strcmp(v, "false"))
			*(bool *)field = false;
		else
			return fail(x, n, "'%s' expects true or false, got %s'%.40s'", q, quoted, v);
		return 0;
	case K_INT:
	case K_UINT:
	case K_I64: {
		if (!plain || !looks_integer(v))
			return fail(x, n, "'%s' expects an integer, got %s'%.40s'", q, quoted, v);
		errno = 0;
		long long i = strtoll(v, NULL, 10);
		if (errno == ERANGE || (double)i < k->lo || (double)i > k->hi)
			return range_error(x, k, q, v, n);
		if (k->type == K_INT)
			*(int *)field = (int)i;
		else if (k->type == K_UINT)
			*(unsigned *)field = (unsigned)i;
		else
			*(int64_t *)field = (int64_t)i;
		return 0;
	}
	case K_DOUBLE: {
		char *end;
		if (!plain || !looks_number(v))
			return fail(x, n, "'%s' expects a number, got %s'%.40s'", q, quoted, v);
		errno = 0;
		double d = strtod(v, &end);
		if (*end)
			return fail(x, n, "'%s' expects a number, got '%.40s'", q, v);
		if (errno == ERANGE || !isfinite(d) || d < k->lo || d > k->hi ||
		    ((k->flags & F_LO_OPEN) && d == k->lo))
			return range_error(x, k, q, v, n);
		*(double *)field = d;
		return 0;
	}
	default:
		return fail(x, n, "'%s' cannot be set from a scalar", q);
	}
}

static int set_list(struct ctx *x, const struct key *k, void *base, const char *q, yaml_node_t *n)
{
	char ***items = (char ***)((char *)base + k->off);
	size_t *count = (size_t *)((char *)base + k->off2);

	if (n->type != YAML_SEQUENCE_NODE)
		return fail(x, n, "'%s' expects a list of strings, got %s", q, kind(n));
	size_t max = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
	*items = xcalloc(max ? max : 1, sizeof(char *));
	*count = 0;
	for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top; it++) {
		yaml_node_t *v = node_at(x, *it);
		char what[352];
		snprintf(what, sizeof(what), "an item of '%s'", q);
		if (v->type != YAML_SCALAR_NODE || is_null(v))
			return fail(x, v, "'%s' expects a list of strings, got %s as an item", q, kind(v));
		if (k->flags & F_IDENT) {
			if (check_ident(x, what, sval(v), slen(v), v))
				return -1;
		} else if (!slen(v) || memchr(sval(v), '\0', slen(v))) {
			return fail(x, v, "%s is empty or contains a NUL byte", what);
		}
		for (size_t j = 0; j < *count; j++)
			if (!strcmp((*items)[j], sval(v)))
				return fail(x, v, "'%.64s' appears twice in '%s'", sval(v), q);
		(*items)[(*count)++] = xstrdup(sval(v));
	}
	return 0;
}

static int set_map(struct ctx *x, const struct key *k, void *base, const char *q, yaml_node_t *n)
{
	struct cfg_kv **kv = (struct cfg_kv **)((char *)base + k->off);
	size_t *count = (size_t *)((char *)base + k->off2);

	if (n->type != YAML_MAPPING_NODE)
		return fail(x, n, "'%s' expects a mapping, got %s", q, kind(n));
	size_t max = (size_t)(n->data.mapping.pairs.top - n->data.mapping.pairs.start);
	*kv = xcalloc(max ? max : 1, sizeof(**kv));
	*count = 0;
	for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
		yaml_node_t *kn = node_at(x, p->key), *vn = node_at(x, p->value);
		if (kn->type != YAML_SCALAR_NODE || is_null(kn) || memchr(sval(kn), '\0', slen(kn)))
			return fail(x, kn, "keys of '%s' must be non-empty strings", q);
		for (size_t j = 0; j < *count; j++)
			if (!strcmp((*kv)[j].key, sval(kn)))
				return fail(x, kn, "duplicate key '%.64s' in '%s'", sval(kn), q);
		/* librdkafka would take it, but then the secret sits in the file */
		if (!strcmp(sval(kn), "sasl.password"))
			return fail(x, kn, "'%s' must not hold 'sasl.password'; secrets come from "
				    "'sasl_password_env' or 'sasl_password_file'", q);
		if (vn->type != YAML_SCALAR_NODE || is_null(vn))
			return fail(x, vn, "'%s.%.64s' expects a scalar value, got %s", q, sval(kn), kind(vn));
		if (memchr(sval(vn), '\0', slen(vn)))
			return fail(x, vn, "'%s.%.64s' contains a NUL byte", q, sval(kn));
		(*kv)[*count].key = xstrdup(sval(kn));
		(*kv)[*count].value = xstrdup(sval(vn));
		(*count)++;
	}
	return 0;
}

static bool env_name_ok(const char *v, size_t len)
{
	if (!len || !(isalpha((unsigned char)v[0]) || v[0] == '_'))
		return false;
	for (size_t i = 0; i < len; i++)
		if (!(isalnum((unsigned char)v[i]) || v[i] == '_'))
			return false;
	return true;
}

/* Values of secret keys are never echoed: people do paste the secret itself
 * into password_env. */
static int set_secret(struct ctx *x, const struct key *k, void *base, const char *q, yaml_node_t *n)
{
	struct cfg_secret *s = (struct cfg_secret *)((char *)base + k->off);
	const struct key *env = secret_sibling(k, K_SECRET_ENV), *file = secret_sibling(k, K_SECRET_FILE);

	if (k->type == K_SECRET_PLAIN)
		return fail(x, n, "'%s' cannot be written in the configuration; secrets come from "
			    "'%s' or '%s'", q, env->name, file->name);
	if (n->type != YAML_SCALAR_NODE || is_null(n))
		return fail(x, n, "'%s' expects a string, got %s", q, kind(n));
	if (s->env || s->file)
		return fail(x, n, "'%s' and '%s' are both set; use one of them", env->name, file->name);
	if (k->type == K_SECRET_ENV) {
		if (!env_name_ok(sval(n), slen(n)))
			return fail(x, n, "'%s' is not a valid environment variable name", q);
		s->env = xstrdup(sval(n));
	} else {
		if (!slen(n) || memchr(sval(n), '\0', slen(n)))
			return fail(x, n, "'%s' must be a non-empty file name", q);
		s->file = resolve_path(x, sval(n));
	}
	return 0;
}

static int set_key(struct ctx *x, const struct key *k, void *base, yaml_node_t *n)
{
	char q[320];
	qualify(x, k->name, q, sizeof(q));
	switch (k->type) {
	case K_LIST:
		return set_list(x, k, base, q, n);
	case K_MAP:
		return set_map(x, k, base, q, n);
	case K_SECRET_ENV:
	case K_SECRET_FILE:
	case K_SECRET_PLAIN:
		return set_secret(x, k, base, q, n);
	default:
		if (n->type != YAML_SCALAR_NODE)
			return fail(x, n, "'%s' expects %s, got %s", q, type_word(k), kind(n));
		return set_scalar(x, k, base, q, sval(n), slen(n), is_plain(n), n);
	}
}

/* ---- mappings and sections ---- */

/* Applies the pairs of mapping n to base through the keys of section s.
 * Keys that do not apply to this sink type (filter) are refused. *set gets
 * the bit of every key that was present; K_SECTION values are handed back in
 * sub[] (indexed by key) so the caller can read them in a fixed order. */
static int parse_map(struct ctx *x, yaml_node_t *n, enum section s, void *base, unsigned filter,
		     uint64_t *set, yaml_node_t **sub)
{
	*set = 0;
	for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
		yaml_node_t *kn = node_at(x, p->key), *vn = node_at(x, p->value);
		if (kn->type != YAML_SCALAR_NODE)
			return fail(x, kn, "keys must be strings, got %s", kind(kn));
		for (yaml_node_pair_t *o = n->data.mapping.pairs.start; o < p; o++) {
			yaml_node_t *ok = node_at(x, o->key);
			if (ok->type == YAML_SCALAR_NODE && slen(ok) == slen(kn) &&
			    !memcmp(sval(ok), sval(kn), slen(kn)))
				return fail(x, kn, "duplicate key '%.64s' (first at line %d)",
					    sval(kn), line_of(ok));
		}
		const struct key *k = find_key(s, sval(kn), slen(kn));
		if (!k) {
			if (*x->where)
				return fail(x, kn, "unknown key '%.64s' in '%s'", sval(kn), x->where);
			return fail(x, kn, "unknown key '%.64s'", sval(kn));
		}
		if ((k->flags & F_ANY_SINK) && filter && !(k->flags & filter))
			return fail(x, kn, "'%s' does not apply to a %s sink", k->name,
				    filter == F_JSONL ? "jsonl" : "kafka");
		*set |= UINT64_C(1) << key_bit(k);
		if (k->type == K_SECTION) {
			sub[k - keys] = vn;
			continue;
		}
		if (set_key(x, k, base, vn))
			return -1;
	}
	return 0;
}

static void apply_defaults(struct ctx *x, enum section s, void *base, unsigned filter, uint64_t set)
{
	for (size_t i = 0; i < NKEYS; i++) {
		const struct key *k = &keys[i];
		if (k->sec != s || !k->def || (k->flags & F_DERIVED) || (set & (UINT64_C(1) << key_bit(k))))
			continue;
		if ((k->flags & F_ANY_SINK) && filter && !(k->flags & filter))
			continue;
		/* the table's defaults are tested to parse; a failure here is a bug */
		if (set_scalar(x, k, base, k->name, k->def, strlen(k->def), true, NULL))
			sderr_prefix(x->e, "internal: bad default");
	}
}

static int expect_mapping(struct ctx *x, yaml_node_t *n)
{
	if (n->type != YAML_MAPPING_NODE) {
		char q[200];
		snprintf(q, sizeof(q), "%s", x->where);
		return fail(x, n, "'%s' expects a mapping, got %s", q, kind(n));
	}
	return 0;
}

/* A whole mapping section (source, state, lake, scheduler, defaults). */
static int parse_section(struct ctx *x, const char *name, enum section s, void *base,
			 yaml_node_t *n, uint64_t *set)
{
	yaml_node_t *sub[NKEYS] = { 0 };
	uint64_t dummy;
	if (!set)
		set = &dummy;
	*set = 0;
	snprintf(x->where, sizeof(x->where), "%s", name);
	if (n && !is_null(n)) {
		if (expect_mapping(x, n) || parse_map(x, n, s, base, 0, set, sub))
			return -1;
	}
	apply_defaults(x, s, base, 0, *set);
	return 0;
}

static void copy_field(const struct key *k, void *dst, const void *src)
{
	char *d = (char *)dst + k->off;
	const char *s = (const char *)src + k->off;
	switch (k->type) {
	case K_STR:
	case K_CHOICE: {
		const char *v = *(char *const *)s;
		*(char **)d = v ? xstrdup(v) : NULL;
		break;
	}
	case K_LIST: {
		size_t n = *(const size_t *)((const char *)src + k->off2);
		char *const *from = *(char **const *)s;
		char **to = n ? xcalloc(n, sizeof(char *)) : NULL;
		for (size_t i = 0; i < n; i++)
			to[i] = xstrdup(from[i]);
		*(char ***)d = to;
		*(size_t *)((char *)dst + k->off2) = n;
		break;
	}
	case K_BOOL: memcpy(d, s, sizeof(bool)); break;
	case K_INT: case K_ENUM: memcpy(d, s, sizeof(int)); break;
	case K_UINT: memcpy(d, s, sizeof(unsigned)); break;
	case K_I64: memcpy(d, s, sizeof(int64_t)); break;
	case K_DOUBLE: memcpy(d, s, sizeof(double)); break;
	default: break;
	}
}

static uint64_t table_bit(const char *name)
{
	return UINT64_C(1) << key_bit(find_key(S_TABLE, name, strlen(name)));
}

/* Checks that need a table's final values (its own plus inherited ones). */
static int check_table(struct ctx *x, const struct cfg_table *t, const char *q, const yaml_node_t *n)
{
	if (t->chunk_min_rows > t->chunk_max_rows)
		return fail(x, n, "'%s': chunk_min_rows %lld is greater than chunk_max_rows %lld", q,
			    (long long)t->chunk_min_rows, (long long)t->chunk_max_rows);
	if (t->backoff_initial > t->backoff_max)
		return fail(x, n, "'%s': backoff_initial %g is greater than backoff_max %g", q,
			    t->backoff_initial, t->backoff_max);
	if ((t->set_mask & table_bit("every")) && (t->set_mask & table_bit("cron")) && t->every > 0)
		return fail(x, n, "'%s': set either 'every' or 'cron', not both", q);
	for (size_t i = 0; i < t->n_ignore; i++)
		for (size_t j = 0; j < t->n_exclude; j++)
			if (!strcmp(t->ignore_columns[i], t->exclude_columns[j]))
				return fail(x, n, "'%s': column '%.64s' is both ignored and excluded", q,
					    t->ignore_columns[i]);
	return 0;
}

static int parse_tables(struct ctx *x, struct cfg *c, yaml_node_t *n, yaml_node_t *root)
{
	if (!n)
		return fail(x, root, "missing 'tables' (a non-empty list of table names)");
	if (n->type != YAML_SEQUENCE_NODE || n->data.sequence.items.top == n->data.sequence.items.start)
		return fail(x, n, "'tables' must be a non-empty list of table names");
	size_t max = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
	c->tables = xcalloc(max, sizeof(*c->tables));

	const uint64_t schedule = table_bit("every") | table_bit("cron");
	yaml_node_t **names = xcalloc(max, sizeof(*names));
	int rc = 0;
	for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top; it++) {
		yaml_node_t *item = node_at(x, *it), *name_n = item, *over = NULL;
		if (item->type == YAML_MAPPING_NODE) {
			if (item->data.mapping.pairs.top - item->data.mapping.pairs.start != 1) {
				rc = fail(x, item, "a table is a name or a one-key mapping 'name: {settings}'");
				break;
			}
			name_n = node_at(x, item->data.mapping.pairs.start->key);
			over = node_at(x, item->data.mapping.pairs.start->value);
		}
		if (name_n->type != YAML_SCALAR_NODE || is_null(name_n)) {
			rc = fail(x, name_n, "a table is a name or a one-key mapping 'name: {settings}', got %s",
				  kind(name_n));
			break;
		}
		if ((rc = check_ident(x, "a table name", sval(name_n), slen(name_n), name_n)))
			break;
		for (size_t j = 0; j < c->n_tables; j++)
			if (!strcmp(c->tables[j].name, sval(name_n))) {
				rc = fail(x, name_n, "duplicate table '%.64s' (first at line %d)",
					  sval(name_n), line_of(names[j]));
				break;
			}
		if (rc)
			break;

		struct cfg_table *t = &c->tables[c->n_tables];
		names[c->n_tables++] = name_n;
		t->name = xstrdup(sval(name_n));
		t->line = line_of(name_n);
		snprintf(x->where, sizeof(x->where), "tables.%.64s", t->name);
		if (over && !is_null(over)) {
			yaml_node_t *sub[NKEYS] = { 0 };
			if ((rc = expect_mapping(x, over)) ||
			    (rc = parse_map(x, over, S_TABLE, t, 0, &t->set_mask, sub)))
				break;
		}
		/* every and cron are one choice: setting one drops the inherited other */
		uint64_t own = t->set_mask;
		if (own & schedule)
			own |= schedule;
		for (size_t i = 0; i < NKEYS; i++)
			if (keys[i].sec == S_TABLE && !(own & (UINT64_C(1) << key_bit(&keys[i]))))
				copy_field(&keys[i], t, &c->defaults);
		if ((rc = check_table(x, t, x->where, name_n)))
			break;
	}
	free(names);
	return rc;
}

static int parse_sink(struct ctx *x, struct cfg_sink *s, yaml_node_t *n, bool *named)
{
	yaml_node_t *sub[NKEYS] = { 0 }, *type_n = NULL;
	const struct key *type_k = find_key(S_SINK, "type", 4);

	if (expect_mapping(x, n))
		return -1;
	s->line = line_of(n);
	/* the type decides which keys are allowed, wherever it appears */
	for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
		yaml_node_t *kn = node_at(x, p->key);
		if (kn->type == YAML_SCALAR_NODE && !strcmp(sval(kn), "type")) {
			type_n = node_at(x, p->value);
			break;
		}
	}
	if (!type_n)
		return fail(x, n, "'%s' needs a 'type' (jsonl or kafka)", x->where);
	if (set_key(x, type_k, s, type_n))
		return -1;
	unsigned filter = s->type == CFG_SINK_KAFKA ? F_KAFKA : F_JSONL;
	uint64_t set;
	if (parse_map(x, n, S_SINK, s, filter, &set, sub))
		return -1;
	apply_defaults(x, S_SINK, s, filter, set);
	*named = s->name != NULL;
	if (!s->name)
		s->name = xstrdup(s->type == CFG_SINK_KAFKA ? "kafka" : "jsonl");
	if (s->type == CFG_SINK_JSONL) {
		if (s->path && s->dir)
			return fail(x, n, "'%s': set either 'path' or 'dir', not both", x->where);
		if (!s->path && !s->dir)
			s->path = xstrdup("-");
	} else if (!s->brokers) {
		return fail(x, n, "'%s': a kafka sink needs 'brokers'", x->where);
	}
	return 0;
}

static int parse_sinks(struct ctx *x, struct cfg *c, yaml_node_t *n)
{
	if (!n || is_null(n))
		return 0;
	if (n->type != YAML_SEQUENCE_NODE)
		return fail(x, n, "'sinks' expects a list of sinks, got %s", kind(n));
	size_t max = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
	c->sinks = xcalloc(max ? max : 1, sizeof(*c->sinks));
	/* only names given in the file must be unique: two unnamed jsonl sinks are fine */
	bool *named = xcalloc(max ? max : 1, sizeof(bool));
	int rc = 0;
	for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top && !rc; it++) {
		yaml_node_t *item = node_at(x, *it);
		size_t i = c->n_sinks++;
		struct cfg_sink *s = &c->sinks[i];
		snprintf(x->where, sizeof(x->where), "sinks[%zu]", i);
		if ((rc = parse_sink(x, s, item, &named[i])))
			break;
		for (size_t j = 0; j < i && named[i]; j++)
			if (named[j] && !strcmp(c->sinks[j].name, s->name)) {
				rc = fail(x, item, "duplicate sink name '%.64s' (first at line %d)",
					  s->name, c->sinks[j].line);
				break;
			}
	}
	free(named);
	return rc;
}

static void finish_lake(struct ctx *x, struct cfg_lake *l, bool uri_set)
{
	bool sql = !strcmp(l->catalog, "sql");
	if (uri_set) {
		/* only the SQLite catalog's URI is a file; the others are addresses */
		if (sql && !strstr(l->catalog_uri, "://")) {
			char *p = resolve_path(x, l->catalog_uri);
			free(l->catalog_uri);
			l->catalog_uri = p;
		}
	} else if (sql) {
		struct buf b = BUF_INIT;
		buf_addf(&b, "%s/catalog.db", l->warehouse);
		l->catalog_uri = buf_detach(&b, NULL);
	}
}

static int parse_root(struct ctx *x, struct cfg *c, yaml_node_t *root)
{
	yaml_node_t *sub[NKEYS] = { 0 };
	uint64_t set, lake_set;

	if (!root || is_null(root))
		return fail(x, NULL, "the configuration is empty; 'databases' and 'tables' are required");
	x->where[0] = '\0';
	if (root->type != YAML_MAPPING_NODE)
		return fail(x, root, "the configuration must be a mapping, got %s", kind(root));
	if (parse_map(x, root, S_ROOT, c, 0, &set, sub))
		return -1;
	if (!(set & (UINT64_C(1) << key_bit(find_key(S_ROOT, "databases", 9)))))
		return fail(x, root, "missing 'databases' (a non-empty list of database names)");
	if (!c->n_databases) {
		for (yaml_node_pair_t *p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top; p++)
			if (!strcmp(sval(node_at(x, p->key)), "databases"))
				return fail(x, node_at(x, p->value), "'databases' must be a non-empty list of database names");
	}

#define SUB(name) sub[find_key(S_ROOT, name, strlen(name)) - keys]
	if (parse_section(x, "source", S_SOURCE, &c->source, SUB("source"), NULL) ||
	    parse_section(x, "state", S_STATE, c, SUB("state"), NULL) ||
	    parse_section(x, "defaults", S_TABLE, &c->defaults, SUB("defaults"), &c->defaults.set_mask))
		return -1;
	c->defaults.line = line_of(SUB("defaults"));
	if (SUB("defaults") && check_table(x, &c->defaults, "defaults", SUB("defaults")))
		return -1;
	if (parse_tables(x, c, SUB("tables"), root) || parse_sinks(x, c, SUB("sinks")))
		return -1;
	if (parse_section(x, "lake", S_LAKE, &c->lake, SUB("lake"), &lake_set))
		return -1;
	finish_lake(x, &c->lake, lake_set & (UINT64_C(1) << key_bit(find_key(S_LAKE, "catalog_uri", 11))));
	if (parse_section(x, "scheduler", S_SCHEDULER, &c->scheduler, SUB("scheduler"), NULL))
		return -1;
	if (parse_section(x, "mediawiki", S_MEDIAWIKI, &c->mediawiki, SUB("mediawiki"), NULL))
		return -1;
	/* the derivation needs before-images (a move's old title, a deleted
	 * page's last state) */
	/* Debezium updates and deletes carry a before-image: tables keep row
	 * images whenever a sink uses that envelope */
	bool debezium = false;
	for (size_t i = 0; i < c->n_sinks; i++)
		debezium |= c->sinks[i].type == CFG_SINK_KAFKA && c->sinks[i].envelope == CFG_ENVELOPE_DEBEZIUM;
	uint64_t keep_bit = UINT64_C(1) << key_bit(find_key(S_TABLE, "keep_images", 11));
	for (size_t i = 0; debezium && i < c->n_tables; i++) {
		struct cfg_table *t = &c->tables[i];
		if ((t->set_mask & keep_bit) && !t->keep_images) {
			sderr_set(x->e, SD_ERR_CONFIG, "%s:%d: table '%s' sets keep_images: false, but a kafka sink "
				  "uses the debezium envelope, whose updates and deletes need before-images",
				  x->file, t->line, t->name);
			return -1;
		}
		t->keep_images = true;
	}
	if (c->mediawiki.page_change)
		for (size_t i = 0; i < c->n_tables; i++)
			if (!strcmp(c->tables[i].name, "page") || !strcmp(c->tables[i].name, "revision") ||
			    !strcmp(c->tables[i].name, "archive"))
				c->tables[i].keep_images = true;
#undef SUB
	return 0;
}

static int yaml_error(struct ctx *x, const yaml_parser_t *p)
{
	const char *problem = p->problem ? p->problem : "cannot parse the YAML";
	if (p->error == YAML_MEMORY_ERROR)
		return fail(x, NULL, "out of memory while parsing");
	if (p->error == YAML_READER_ERROR)
		return fail(x, NULL, "%s at byte %zu", problem, p->problem_offset);
	if (p->context) {
		sderr_set(x->e, SD_ERR_CONFIG, "%s:%zu:%zu: %s (%s at line %zu)", x->file,
			  p->problem_mark.line + 1, p->problem_mark.column + 1, problem,
			  p->context, p->context_mark.line + 1);
		return -1;
	}
	sderr_set(x->e, SD_ERR_CONFIG, "%s:%zu:%zu: %s", x->file, p->problem_mark.line + 1,
		  p->problem_mark.column + 1, problem);
	return -1;
}

static struct cfg *load(const char *text, size_t len, const char *name, const char *basedir,
			struct sderr *e)
{
	struct ctx x = { .file = name, .basedir = basedir, .e = e };
	yaml_parser_t parser;
	yaml_document_t doc, extra;
	struct cfg *c = xcalloc(1, sizeof(*c));
	int rc = -1;

	c->path = xstrdup(name);
	if (!yaml_parser_initialize(&parser)) {
		sderr_set(e, SD_ERR_CONFIG, "%s: cannot initialise the YAML parser", name);
		cfg_free(c);
		return NULL;
	}
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
	if (!yaml_parser_load(&parser, &doc)) {
		yaml_error(&x, &parser);
		yaml_parser_delete(&parser);
		cfg_free(c);
		return NULL;
	}
	x.doc = &doc;
	rc = parse_root(&x, c, yaml_document_get_root_node(&doc));
	if (rc == 0) {
		/* a second document would be silently ignored otherwise */
		if (!yaml_parser_load(&parser, &extra)) {
			rc = yaml_error(&x, &parser);
		} else {
			yaml_node_t *r = yaml_document_get_root_node(&extra);
			if (r)
				rc = fail(&x, r, "more than one YAML document; snapdiff reads one");
			yaml_document_delete(&extra);
		}
	}
	yaml_document_delete(&doc);
	yaml_parser_delete(&parser);
	if (rc) {
		cfg_free(c);
		return NULL;
	}
	return c;
}

struct cfg *cfg_load_string(const char *text, const char *name, const char *basedir, struct sderr *e)
{
	return load(text, strlen(text), name ? name : "<string>", basedir, e);
}

struct cfg *cfg_load(const char *path, struct sderr *e)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		sderr_set(e, SD_ERR_CONFIG, "cannot open '%s': %s", path, strerror(errno));
		return NULL;
	}
	struct buf text = BUF_INIT;
	char chunk[8192];
	size_t n;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		buf_add(&text, chunk, n);
	if (ferror(f)) {
		sderr_set(e, SD_ERR_CONFIG, "cannot read '%s': %s", path, strerror(errno));
		fclose(f);
		buf_release(&text);
		return NULL;
	}
	fclose(f);

	const char *slash = strrchr(path, '/');
	char *dir = slash ? xstrndup(path, slash == path ? 1 : (size_t)(slash - path)) : xstrdup(".");
	struct cfg *c = load(text.p ? text.p : "", text.len, path, dir, e);
	free(dir);
	buf_release(&text);
	return c;
}

/* ---- freeing ---- */

static void free_section(enum section s, void *base)
{
	for (size_t i = 0; i < NKEYS; i++) {
		const struct key *k = &keys[i];
		char *field = (char *)base + k->off;
		if (k->sec != s)
			continue;
		switch (k->type) {
		case K_STR:
		case K_CHOICE:
			free(*(char **)field);
			break;
		case K_LIST: {
			char **v = *(char ***)field;
			size_t n = *(size_t *)((char *)base + k->off2);
			for (size_t j = 0; j < n; j++)
				free(v[j]);
			free(v);
			break;
		}
		case K_MAP: {
			struct cfg_kv *v = *(struct cfg_kv **)field;
			size_t n = *(size_t *)((char *)base + k->off2);
			for (size_t j = 0; j < n; j++) {
				free(v[j].key);
				free(v[j].value);
			}
			free(v);
			break;
		}
		case K_SECRET_ENV:
			free(((struct cfg_secret *)field)->env);
			break;
		case K_SECRET_FILE:
			free(((struct cfg_secret *)field)->file);
			break;
		default:
			break;
		}
	}
}

void cfg_free(struct cfg *c)
{
	if (!c)
		return;
	free_section(S_ROOT, c);
	free_section(S_SOURCE, &c->source);
	free_section(S_STATE, c);
	free_section(S_TABLE, &c->defaults);
	free(c->defaults.name);
	for (size_t i = 0; i < c->n_tables; i++) {
		free_section(S_TABLE, &c->tables[i]);
		free(c->tables[i].name);
	}
	free(c->tables);
	for (size_t i = 0; i < c->n_sinks; i++)
		free_section(S_SINK, &c->sinks[i]);
	free(c->sinks);
	free_section(S_LAKE, &c->lake);
	free_section(S_SCHEDULER, &c->scheduler);
	free_section(S_MEDIAWIKI, &c->mediawiki);
	free(c->path);
	free(c);
}

const struct cfg_table *cfg_table_find(const struct cfg *c, const char *name)
{
	if (!c || !name)
		return NULL;
	for (size_t i = 0; i < c->n_tables; i++)
		if (!strcmp(c->tables[i].name, name))
			return &c->tables[i];
	return NULL;
}

/* ---- secrets ---- */

int cfg_resolve_secret(const struct cfg_secret *s, const char *what, char **out, struct sderr *e)
{
	*out = NULL;
	if (!what)
		what = "secret";
	if (!s || (!s->env && !s->file))
		return SD_OK;
	if (s->env) {
		const char *v = getenv(s->env);
		if (!v)
			return sderr_set(e, SD_ERR_CONFIG, "%s: environment variable '%s' is not set",
					 what, s->env);
		*out = xstrdup(v);
		return SD_OK;
	}
	FILE *f = fopen(s->file, "rb");
	if (!f)
		return sderr_set(e, SD_ERR_CONFIG, "%s: cannot read '%s': %s", what, s->file,
				 strerror(errno));
	struct buf b = BUF_INIT;
	char chunk[4096];
	size_t n;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		buf_add(&b, chunk, n);
	int err = ferror(f) ? errno : 0;
	fclose(f);
	if (err) {
		/* wipe what was read: it may be part of the secret */
		if (b.p)
			memset(b.p, 0, b.cap);
		buf_release(&b);
		return sderr_set(e, SD_ERR_CONFIG, "%s: cannot read '%s': %s", what, s->file, strerror(err));
	}
	buf_add(&b, "", 0);
	if (b.len && b.p[b.len - 1] == '\n') {
		b.p[--b.len] = '\0';
		if (b.len && b.p[b.len - 1] == '\r')
			b.p[--b.len] = '\0';
	}
	*out = buf_detach(&b, NULL);
	return SD_OK;
}

/* ---- dump ---- */

static void put_str(FILE *out, const char *s)
{
	fputc('"', out);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\')
			fprintf(out, "\\%c", *p);
		else if (*p == '\n')
			fputs("\\n", out);
		else if (*p == '\t')
			fputs("\\t", out);
		else if (*p < 0x20 || *p == 0x7f)
			fprintf(out, "\\x%02x", *p);
		else
			fputc(*p, out);
	}
	fputc('"', out);
}

static void dump_value(FILE *out, const struct key *k, const void *base, int indent)
{
	const char *field = (const char *)base + k->off;
	char num[48];

	switch (k->type) {
	case K_STR:
	case K_CHOICE: {
		const char *v = *(char *const *)field;
		if (!v)
			return;
		fprintf(out, "%*s%s: ", indent, "", k->name);
		put_str(out, v);
		fputc('\n', out);
		return;
	}
	case K_ENUM: {
		int v = *(const int *)field;
		const char *name = "?";
		for (const struct choice *c = k->choices; c->name; c++)
			if (c->value == v)
				name = c->name;
		fprintf(out, "%*s%s: %s\n", indent, "", k->name, name);
		return;
	}
	case K_BOOL:
		fprintf(out, "%*s%s: %s\n", indent, "", k->name, *(const bool *)field ? "true" : "false");
		return;
	case K_INT:
		fprintf(out, "%*s%s: %d\n", indent, "", k->name, *(const int *)field);
		return;
	case K_UINT:
		fprintf(out, "%*s%s: %u\n", indent, "", k->name, *(const unsigned *)field);
		return;
	case K_I64:
		fprintf(out, "%*s%s: %lld\n", indent, "", k->name, (long long)*(const int64_t *)field);
		return;
	case K_DOUBLE:
		fmt_double(num, sizeof(num), *(const double *)field);
		fprintf(out, "%*s%s: %s\n", indent, "", k->name, num);
		return;
	case K_LIST: {
		char *const *v = *(char **const *)field;
		size_t n = *(const size_t *)((const char *)base + k->off2);
		fprintf(out, "%*s%s: [", indent, "", k->name);
		for (size_t i = 0; i < n; i++) {
			if (i)
				fputs(", ", out);
			put_str(out, v[i]);
		}
		fputs("]\n", out);
		return;
	}
	case K_MAP: {
		const struct cfg_kv *v = *(const struct cfg_kv *const *)field;
		size_t n = *(const size_t *)((const char *)base + k->off2);
		if (!n)
			return;
		fprintf(out, "%*s%s:\n", indent, "", k->name);
		for (size_t i = 0; i < n; i++) {
			fprintf(out, "%*s", indent + 2, "");
			put_str(out, v[i].key);
			fputs(": ", out);
			put_str(out, v[i].value);
			fputc('\n', out);
		}
		return;
	}
	case K_SECRET_PLAIN: {
		/* shown once, under the plain name, as where it comes from */
		const struct cfg_secret *s = (const struct cfg_secret *)field;
		if (s->env)
			fprintf(out, "%*s%s: from env %s\n", indent, "", k->name, s->env);
		else if (s->file)
			fprintf(out, "%*s%s: from file %s\n", indent, "", k->name, s->file);
		return;
	}
	default:
		return;
	}
}

static bool same_value(const struct key *k, const void *a, const void *b)
{
	const char *fa = (const char *)a + k->off, *fb = (const char *)b + k->off;
	switch (k->type) {
	case K_STR:
	case K_CHOICE: {
		const char *va = *(char *const *)fa, *vb = *(char *const *)fb;
		return va == vb || (va && vb && !strcmp(va, vb));
	}
	case K_LIST: {
		size_t na = *(const size_t *)((const char *)a + k->off2);
		size_t nb = *(const size_t *)((const char *)b + k->off2);
		if (na != nb)
			return false;
		for (size_t i = 0; i < na; i++)
			if (strcmp((*(char **const *)fa)[i], (*(char **const *)fb)[i]))
				return false;
		return true;
	}
	case K_BOOL: return *(const bool *)fa == *(const bool *)fb;
	case K_INT: case K_ENUM: return *(const int *)fa == *(const int *)fb;
	case K_UINT: return *(const unsigned *)fa == *(const unsigned *)fb;
	case K_I64: return *(const int64_t *)fa == *(const int64_t *)fb;
	case K_DOUBLE: return *(const double *)fa == *(const double *)fb;
	default: return false;
	}
}

/* like: when not NULL, keys whose value equals like's are left out */
static void dump_section(FILE *out, enum section s, const void *base, const void *like, int indent)
{
	for (size_t i = 0; i < NKEYS; i++) {
		const struct key *k = &keys[i];
		if (k->sec != s || (like && same_value(k, base, like)))
			continue;
		dump_value(out, k, base, indent);
	}
}

void cfg_dump(const struct cfg *c, FILE *out)
{
	fprintf(out, "# %s\n", c->path);
	fputs("source:\n", out);
	dump_section(out, S_SOURCE, &c->source, NULL, 2);
	fputs("databases:\n", out);
	for (size_t i = 0; i < c->n_databases; i++) {
		fputs("  - ", out);
		put_str(out, c->databases[i]);
		fputc('\n', out);
	}
	fputs("state:\n", out);
	dump_section(out, S_STATE, c, NULL, 2);
	fputs("defaults:\n", out);
	dump_section(out, S_TABLE, &c->defaults, NULL, 2);
	/* a table shows only how its effective values differ from defaults:,
	 * however they came about (set, or every/cron dropped as a pair) */
	fputs("tables:\n", out);
	for (size_t i = 0; i < c->n_tables; i++) {
		bool differs = false;
		for (size_t j = 0; j < NKEYS && !differs; j++)
			differs = keys[j].sec == S_TABLE && !same_value(&keys[j], &c->tables[i], &c->defaults);
		fputs("  - ", out);
		put_str(out, c->tables[i].name);
		fputs(differs ? ":\n" : "\n", out);
		dump_section(out, S_TABLE, &c->tables[i], &c->defaults, 6);
	}
	if (!c->n_sinks)
		fputs("sinks: []              # JSON Lines on stdout\n", out);
	else
		fputs("sinks:\n", out);
	for (size_t i = 0; i < c->n_sinks; i++) {
		const struct cfg_sink *s = &c->sinks[i];
		unsigned filter = s->type == CFG_SINK_KAFKA ? F_KAFKA : F_JSONL;
		bool first = true;
		for (size_t j = 0; j < NKEYS; j++) {
			const struct key *k = &keys[j];
			if (k->sec != S_SINK || ((k->flags & F_ANY_SINK) && !(k->flags & filter)))
				continue;
			/* a YAML list item starts with "- " on its first key (type, always set) */
			if (first) {
				fputs("  - ", out);
				dump_value(out, k, s, 0);
				first = false;
			} else {
				dump_value(out, k, s, 4);
			}
		}
	}
	fputs("lake:\n", out);
	dump_section(out, S_LAKE, &c->lake, NULL, 2);
	fputs("scheduler:\n", out);
	dump_section(out, S_SCHEDULER, &c->scheduler, NULL, 2);
	fputs("mediawiki:\n", out);
	dump_section(out, S_MEDIAWIKI, &c->mediawiki, NULL, 2);
}

/* ---- reference documentation ---- */

static const char *const section_title[S_COUNT] = {
	[S_ROOT] = "Top level",
	[S_SOURCE] = "`source`",
	[S_STATE] = "`state`",
	[S_TABLE] = "`defaults` and `tables`",
	[S_SINK] = "`sinks`",
	[S_LAKE] = "`lake`",
	[S_SCHEDULER] = "`scheduler`",
	[S_MEDIAWIKI] = "`mediawiki`",
};

static const char *const section_intro[S_COUNT] = {
	[S_ROOT] = NULL,
	[S_SOURCE] = NULL,
	[S_STATE] = NULL,
	[S_TABLE] =
		"`defaults:` is a mapping of the keys below. `tables:` is a list whose items are\n"
		"either a table name or a one-key mapping from the name to a mapping of the same\n"
		"keys; a table takes every key it does not set from `defaults:`, and `defaults:`\n"
		"takes every key it does not set from the defaults listed here. A table that sets\n"
		"`every` or `cron` inherits neither of them. Table names are 1 to 64 bytes, like\n"
		"MariaDB's; a name may appear only once.\n\n"
		"```yaml\n"
		"defaults:\n"
		"  every: 300\n"
		"tables:\n"
		"  - revision\n"
		"  - user:\n"
		"      exclude_columns: [user_password, user_token]\n"
		"      every: 3600\n"
		"```",
	[S_SINK] =
		"A list; each item is a mapping with a `type`. Keys marked jsonl or kafka are\n"
		"accepted only in a sink of that type.",
	[S_LAKE] = NULL,
	[S_SCHEDULER] = NULL,
};

static void doc_type(FILE *out, const struct key *k)
{
	char lo[40], hi[40];
	switch (k->type) {
	case K_SECTION:
		fputs(k->child == S_TABLE && !strcmp(k->name, "tables") ? "list" :
		      k->child == S_SINK ? "list of mappings" : "mapping", out);
		return;
	case K_STR: fputs(k->flags & F_PATH ? "path" : "string", out); return;
	case K_CHOICE:
	case K_ENUM:
		for (const struct choice *c = k->choices; c->name; c++)
			fprintf(out, "%s`%s`", c == k->choices ? "" : ", ", c->name);
		return;
	case K_BOOL: fputs("`true` or `false`", out); return;
	case K_INT: case K_UINT: case K_I64: case K_DOUBLE:
		fmt_bound(lo, sizeof(lo), k->lo, k->type);
		fmt_bound(hi, sizeof(hi), k->hi, k->type);
		if (k->flags & F_LO_OPEN)
			fprintf(out, "number, over %s, at most %s", lo, hi);
		else
			fprintf(out, "%s, %s to %s", k->type == K_DOUBLE ? "number" : "integer", lo, hi);
		return;
	case K_LIST: fputs(k->flags & F_IDENT ? "list of names" : "list of strings", out); return;
	case K_MAP: fputs("mapping", out); return;
	case K_SECRET_ENV: fputs("variable name", out); return;
	case K_SECRET_FILE: fputs("path", out); return;
	case K_SECRET_PLAIN: fputs("refused", out); return;
	}
}

void cfg_doc(FILE *out)
{
	fputs("# snapdiff configuration reference\n\n"
	      "<!-- Generated from the key table in differ/config.c by cfg_doc()\n"
	      "     (`snapdiff config doc`); edit the table, not this file. -->\n\n"
	      "snapdiff reads one YAML file (see `docs/snapdiff.example.yaml` for a complete\n"
	      "example). The rules that apply to every key:\n\n"
	      "- Unknown keys, duplicate keys, values of the wrong type and values out of range\n"
	      "  are errors, reported as `file:line:column: message` with exit code 3 (config).\n"
	      "- Booleans are `true` or `false`, nothing else. Integers and numbers must be\n"
	      "  unquoted; strings may be quoted or not. An empty value (null) is an error\n"
	      "  except for a whole section, which then takes all its defaults.\n"
	      "- Relative paths (the state file, jsonl `path` and `dir`, `ssl_*`, `socket`, the\n"
	      "  lake `warehouse` and SQLite `catalog_uri`, every `*_file`) are resolved against\n"
	      "  the directory of the configuration file. `-` (stdout) stays as it is.\n"
	      "- Secrets are never written in the file: `password`, `sasl_password` and\n"
	      "  `token` are refused. Name an environment variable (`*_env`) or a file\n"
	      "  (`*_file`, one trailing newline is ignored) instead, not both. They are read\n"
	      "  when needed, and `snapdiff config check` shows only where they come from.\n", out);
	for (int s = 0; s < S_COUNT; s++) {
		fprintf(out, "\n## %s\n\n", section_title[s]);
		for (size_t i = 0; i < NKEYS; i++)
			if (keys[i].sec == S_ROOT && keys[i].type == K_SECTION && keys[i].child == (enum section)s &&
			    strcmp(keys[i].name, "tables"))
				fprintf(out, "%s\n\n", keys[i].doc);
		if (section_intro[s])
			fprintf(out, "%s\n\n", section_intro[s]);
		fputs("| Key | Type | Default | Description |\n|---|---|---|---|\n", out);
		for (size_t i = 0; i < NKEYS; i++) {
			const struct key *k = &keys[i];
			if (k->sec != (enum section)s)
				continue;
			fprintf(out, "| `%s` | ", k->name);
			doc_type(out, k);
			fputs(" | ", out);
			if (k->def)
				fprintf(out, "`%s`", k->def);
			else
				fputs("—", out);
			fprintf(out, " | %s |\n", k->doc);
		}
	}
}
