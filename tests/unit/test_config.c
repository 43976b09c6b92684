/*
 * test_config — unit tests of the YAML configuration parser (differ/config.c):
 * the example file, defaults, inheritance from `defaults:`, path resolution,
 * secrets, the dump and the generated reference, and one test per class of
 * error with its exact "file:line:col: message", since those messages are
 * what a user sees. Data files live in tests/unit/configs/ (run from the
 * repository root).
 */
#include "harness.h"
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MIN "databases: [enwiki]\ntables: [page]\n"

/* Loads text as "t.yaml" and checks it fails with exactly the message want_. */
#define CHECK_CFG_ERR(text, want_)                                                    \
	do {                                                                        \
		struct sderr e_ = { 0 };                                            \
		struct cfg *c_ = cfg_load_string((text), "t.yaml", NULL, &e_);      \
		if (c_)                                                             \
			cfg_free(c_);                                               \
		CHECK(c_ == NULL);                                                  \
		CHECK_INT(e_.code, SD_ERR_CONFIG);                                  \
		CHECK_STR(e_.msg, (want_));                                           \
	} while (0)

static struct cfg *load_ok(const char *text, const char *basedir)
{
	struct sderr e = { 0 };
	struct cfg *c = cfg_load_string(text, "t.yaml", basedir, &e);
	if (!c)
		printf("# unexpected error: %s\n", e.msg);
	return c;
}

static char *dump_of(const struct cfg *c)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	cfg_dump(c, f);
	fclose(f);
	return text;
}

TEST(config_example_file)
{
	struct sderr e = { 0 };
	struct cfg *c = cfg_load("docs/snapdiff.example.yaml", &e);
	if (!c)
		printf("# %s\n", e.msg);
	CHECK(c != NULL);
	CHECK_STR(c->path, "docs/snapdiff.example.yaml");
	CHECK_STR(c->source.host, "127.0.0.1");
	CHECK_INT(c->source.port, 3306);
	CHECK_STR(c->source.socket, "/run/mysqld/mysqld.sock");
	CHECK_STR(c->source.user, "snapdiff");
	CHECK_STR(c->source.password.env, "SNAPDIFF_PASSWORD");
	CHECK(c->source.password.file == NULL);
	CHECK_INT(c->source.connect_timeout, 10);
	CHECK_INT(c->source.read_timeout, 600);
	CHECK(c->source.ssl_ca == NULL);
	CHECK_INT(c->n_databases, 2);
	CHECK_STR(c->databases[0], "enwiki");
	CHECK_STR(c->databases[1], "dewiki");
	CHECK_STR(c->state_path, "docs/snapdiff-state.db");

	CHECK_INT(c->defaults.every, 300);
	CHECK_INT(c->defaults.jitter, 30);
	CHECK(c->defaults.max_delete_fraction == 0.10);
	CHECK(c->defaults.chunk_time == 0.5);
	CHECK_INT(c->n_tables, 9);
	CHECK_STR(c->tables[0].name, "page");
	CHECK_INT(c->tables[0].n_ignore, 2);
	CHECK_STR(c->tables[0].ignore_columns[1], "page_links_updated");
	CHECK_INT(c->tables[0].every, 300);
	const struct cfg_table *u = cfg_table_find(c, "user");
	CHECK(u != NULL);
	CHECK_INT(u->n_exclude, 4);
	CHECK_STR(u->exclude_columns[3], "user_email_token");
	CHECK_INT(u->n_ignore, 1);
	CHECK_STR(u->ignore_columns[0], "user_touched");
	CHECK_INT(u->line, 46);
	CHECK(cfg_table_find(c, "logging") == &c->tables[8]);
	CHECK(cfg_table_find(c, "nope") == NULL);

	CHECK_INT(c->n_sinks, 2);
	CHECK_INT(c->sinks[0].type, CFG_SINK_JSONL);
	CHECK_STR(c->sinks[0].path, "-");
	CHECK(c->sinks[0].dir == NULL);
	const struct cfg_sink *k = &c->sinks[1];
	CHECK_INT(k->type, CFG_SINK_KAFKA);
	CHECK_STR(k->name, "kafka");
	CHECK_STR(k->brokers, "127.0.0.1:9092");
	CHECK_STR(k->topic_template, "{prefix}.{database}.{table}");
	CHECK_STR(k->topic_prefix, "snapdiff");
	CHECK_INT(k->envelope, CFG_ENVELOPE_NATIVE);
	CHECK(k->tombstones);
	CHECK(!k->transactional);
	CHECK_STR(k->transactional_id_prefix, "snapdiff");
	CHECK_INT(k->flush_timeout, 60);
	CHECK_STR(k->sasl_password.env, "KAFKA_PASSWORD");
	CHECK_INT(k->n_properties, 2);
	CHECK_STR(k->properties[0].key, "compression.type");
	CHECK_STR(k->properties[0].value, "zstd");
	CHECK_STR(k->properties[1].key, "linger.ms");
	CHECK_STR(k->properties[1].value, "50");

	CHECK(!c->lake.enabled);
	CHECK_STR(c->lake.warehouse, "docs/warehouse");
	CHECK_STR(c->lake.catalog, "sql");
	CHECK_STR(c->lake.catalog_uri, "docs/warehouse/catalog.db");
	CHECK_STR(c->lake.catalog_name, "snapdiff");
	CHECK_STR(c->lake.namespace_, "mediawiki");
	CHECK_STR(c->lake.codec, "zstd");
	CHECK(!c->lake.row_hash_column);
	CHECK(c->lake.changelog);

	CHECK_STR(c->scheduler.listen, "127.0.0.1:9187");
	CHECK_STR(c->scheduler.token.env, "SNAPDIFF_TOKEN");
	CHECK_INT(c->scheduler.max_concurrent, 2);
	CHECK_INT(c->scheduler.max_per_host, 2);
	CHECK_STR(c->scheduler.log_level, "info");
	cfg_free(c);
}

TEST(config_defaults)
{
	struct cfg *c = load_ok(MIN, NULL);
	CHECK(c != NULL);
	CHECK_STR(c->path, "t.yaml");
	CHECK_STR(c->source.host, "127.0.0.1");
	CHECK_INT(c->source.port, 3306);
	CHECK(c->source.socket == NULL);
	CHECK_STR(c->source.user, "snapdiff");
	CHECK(c->source.password.env == NULL && c->source.password.file == NULL);
	CHECK_INT(c->source.connect_timeout, 10);
	CHECK_INT(c->source.read_timeout, 600);
	CHECK_STR(c->state_path, "snapdiff-state.db");

	const struct cfg_table *t = &c->tables[0];
	CHECK_STR(t->name, "page");
	CHECK_INT(t->line, 2);
	CHECK_INT(t->set_mask, 0);
	CHECK_INT(t->n_ignore, 0);
	CHECK_INT(t->n_exclude, 0);
	CHECK_INT(t->chunk_rows, 1000);
	CHECK_INT(t->chunk_min_rows, 100);
	CHECK_INT(t->chunk_max_rows, 200000);
	CHECK(t->chunk_time == 0.5);
	CHECK(t->max_delete_fraction == 0.10);
	CHECK_INT(t->guard_min_rows, 1000);
	CHECK(!t->keep_images);
	CHECK(!t->checksum_pushdown);
	CHECK_INT(t->initial_events, CFG_INITIAL_ALL);
	CHECK(t->every == 0);
	CHECK(t->jitter == 0);
	CHECK(t->cron == NULL);
	CHECK(t->timeout == 3600);
	CHECK_INT(t->retries, 3);
	CHECK(t->backoff_initial == 10);
	CHECK(t->backoff_max == 600);

	CHECK_INT(c->n_sinks, 0);
	CHECK(!c->lake.enabled);
	CHECK_STR(c->lake.warehouse, "warehouse");
	CHECK_STR(c->lake.catalog, "sql");
	CHECK_STR(c->lake.catalog_uri, "warehouse/catalog.db");
	CHECK_STR(c->lake.catalog_name, "snapdiff");
	CHECK_STR(c->lake.namespace_, "mediawiki");
	CHECK_STR(c->lake.codec, "zstd");
	CHECK(!c->lake.row_hash_column);
	CHECK(c->lake.changelog);
	CHECK_STR(c->scheduler.listen, "127.0.0.1:9187");
	CHECK(c->scheduler.token.env == NULL && c->scheduler.token.file == NULL);
	CHECK_INT(c->scheduler.max_concurrent, 2);
	CHECK_INT(c->scheduler.max_per_host, 2);
	CHECK_STR(c->scheduler.log_level, "info");
	cfg_free(c);
}

TEST(config_sink_defaults)
{
	struct cfg *c = load_ok(MIN "sinks:\n  - type: jsonl\n  - type: kafka\n    brokers: k1:9092\n"
				"  - {type: jsonl, dir: out}\n", NULL);
	CHECK(c != NULL);
	CHECK_INT(c->n_sinks, 3);
	CHECK_STR(c->sinks[0].name, "jsonl");
	CHECK_STR(c->sinks[0].path, "-");
	CHECK_INT(c->sinks[0].line, 4);
	const struct cfg_sink *k = &c->sinks[1];
	CHECK_STR(k->topic_template, "{prefix}.{database}.{table}");
	CHECK_STR(k->topic_prefix, "snapdiff");
	CHECK_INT(k->envelope, CFG_ENVELOPE_NATIVE);
	CHECK(k->tombstones);
	CHECK(!k->transactional);
	CHECK_STR(k->transactional_id_prefix, "snapdiff");
	CHECK(k->flush_timeout == 60);
	CHECK_INT(k->n_properties, 0);
	CHECK(k->path == NULL);
	CHECK(c->sinks[2].path == NULL);
	CHECK_STR(c->sinks[2].dir, "out");
	/* kafka-only keys get no values in a jsonl sink */
	CHECK(c->sinks[0].topic_prefix == NULL);
	cfg_free(c);
}

TEST(config_inheritance)
{
	const char *text =
		"databases: [enwiki]\n"
		"defaults:\n"
		"  chunk_rows: 500\n"
		"  keep_images: true\n"
		"  ignore_columns: [touched]\n"
		"  every: 300\n"
		"  initial_events: none\n"
		"tables:\n"
		"  - plain\n"
		"  - own:\n"
		"      chunk_rows: 50\n"
		"      keep_images: false\n"
		"      ignore_columns: []\n"
		"      cron: \"*/5 * * * *\"\n"
		"      initial_events: lake\n"
		"  - empty:\n";
	struct cfg *c = load_ok(text, NULL);
	CHECK(c != NULL);
	CHECK_INT(c->n_tables, 3);
	CHECK_INT(c->defaults.chunk_rows, 500);
	CHECK_INT(c->defaults.chunk_max_rows, 200000);
	CHECK(c->defaults.set_mask != 0);

	const struct cfg_table *p = cfg_table_find(c, "plain");
	CHECK_INT(p->chunk_rows, 500);
	CHECK(p->keep_images);
	CHECK_INT(p->n_ignore, 1);
	CHECK_STR(p->ignore_columns[0], "touched");
	CHECK(p->every == 300);
	CHECK_INT(p->initial_events, CFG_INITIAL_NONE);
	CHECK_INT(p->chunk_min_rows, 100);
	CHECK_INT(p->set_mask, 0);

	const struct cfg_table *o = cfg_table_find(c, "own");
	CHECK_INT(o->line, 10);
	CHECK_INT(o->chunk_rows, 50);
	CHECK(!o->keep_images);
	CHECK_INT(o->n_ignore, 0);
	CHECK_INT(o->initial_events, CFG_INITIAL_LAKE);
	/* cron replaces the inherited every rather than clashing with it */
	CHECK_STR(o->cron, "*/5 * * * *");
	CHECK(o->every == 0);
	CHECK(o->set_mask != 0);
	CHECK(o->set_mask != p->set_mask);

	const struct cfg_table *m = cfg_table_find(c, "empty");
	CHECK_INT(m->chunk_rows, 500);
	CHECK_INT(m->set_mask, 0);

	/* the dump shows a table only by how it differs from defaults */
	char *d = dump_of(c);
	CHECK(strstr(d, "  - \"plain\"\n") != NULL);
	CHECK(strstr(d, "  - \"own\":\n      ignore_columns: []\n      chunk_rows: 50\n") != NULL);
	free(d);
	cfg_free(c);
}

TEST(config_scalar_forms)
{
	/* quoted and flow styles, backticks in names, any scalar as a property */
	const char *text =
		"databases: ['en`wiki', \"de wiki\"]\n"
		"tables:\n"
		"  - \"a`b\"\n"
		"  - '123'\n"
		"  - 456\n"
		"sinks:\n"
		"  - type: kafka\n"
		"    name: main\n"
		"    brokers: 'b1:9092,b2:9092'\n"
		"    envelope: \"debezium\"\n"
		"    topic_template: \"{table}\"\n"
		"    properties: {linger.ms: 50, enable.idempotence: true, acks: all, x: 1.5, q: \"\"}\n"
		"source:\n"
		"  port: 3307\n"
		"  host: \"db.example\"\n"
		"defaults: {max_delete_fraction: 1, chunk_time: 1e-3, guard_min_rows: 0}\n";
	struct cfg *c = load_ok(text, NULL);
	CHECK(c != NULL);
	CHECK_STR(c->databases[0], "en`wiki");
	CHECK_STR(c->databases[1], "de wiki");
	CHECK_STR(c->tables[0].name, "a`b");
	CHECK_STR(c->tables[1].name, "123");
	CHECK_STR(c->tables[2].name, "456");
	CHECK_INT(c->sinks[0].envelope, CFG_ENVELOPE_DEBEZIUM);
	CHECK_STR(c->sinks[0].name, "main");
	CHECK_INT(c->sinks[0].n_properties, 5);
	CHECK_STR(c->sinks[0].properties[0].value, "50");
	CHECK_STR(c->sinks[0].properties[1].value, "true");
	CHECK_STR(c->sinks[0].properties[3].value, "1.5");
	CHECK_STR(c->sinks[0].properties[4].value, "");
	CHECK_INT(c->source.port, 3307);
	CHECK(c->defaults.max_delete_fraction == 1);
	CHECK(c->tables[0].chunk_time == 0.001);
	CHECK_INT(c->tables[0].guard_min_rows, 0);
	cfg_free(c);
}

TEST(config_paths_resolved)
{
	struct sderr e = { 0 };
	struct cfg *c = cfg_load("tests/unit/configs/relative.yaml", &e);
	if (!c)
		printf("# %s\n", e.msg);
	CHECK(c != NULL);
	CHECK_STR(c->source.password.file, "tests/unit/configs/secret.txt");
	CHECK_STR(c->state_path, "tests/unit/configs/state/snapdiff.db");
	CHECK_STR(c->sinks[0].dir, "tests/unit/configs/events");
	CHECK(c->sinks[0].path == NULL);
	CHECK_STR(c->sinks[1].path, "-");
	CHECK_STR(c->sinks[2].path, "/var/log/snapdiff.jsonl");
	CHECK_STR(c->lake.warehouse, "tests/unit/configs/wh");
	CHECK_STR(c->lake.catalog_uri, "tests/unit/configs/wh/catalog.db");
	CHECK_STR(c->scheduler.token.file, "/etc/snapdiff/token");

	char *secret = NULL;
	CHECK_INT(cfg_resolve_secret(&c->source.password, "source password", &secret, &e), SD_OK);
	CHECK_STR(secret, "s3cret");
	free(secret);
	cfg_free(c);

	/* cfg_load_string resolves against basedir, also for defaults */
	c = load_ok(MIN "lake: {catalog_uri: cat.db}\nsinks: [{type: jsonl, path: out.jsonl}]\n",
		    "/etc/snapdiff/");
	CHECK(c != NULL);
	CHECK_STR(c->state_path, "/etc/snapdiff/snapdiff-state.db");
	CHECK_STR(c->lake.warehouse, "/etc/snapdiff/warehouse");
	CHECK_STR(c->lake.catalog_uri, "/etc/snapdiff/cat.db");
	CHECK_STR(c->sinks[0].path, "/etc/snapdiff/out.jsonl");
	cfg_free(c);

	/* only the SQLite catalog's URI is a path */
	c = load_ok(MIN "lake: {catalog: mariadb, catalog_uri: \"mariadb://db/iceberg\"}\n", "/etc");
	CHECK(c != NULL);
	CHECK_STR(c->lake.catalog_uri, "mariadb://db/iceberg");
	cfg_free(c);
	c = load_ok(MIN "lake: {catalog: hadoop}\n", "/etc");
	CHECK(c != NULL);
	CHECK(c->lake.catalog_uri == NULL);
	cfg_free(c);
}

TEST(config_secret_env)
{
	struct cfg *c = load_ok(MIN "source:\n  password_env: SD_TEST_PW\n", NULL);
	CHECK(c != NULL);
	char *v = NULL;
	struct sderr e = { 0 };
	setenv("SD_TEST_PW", "hunter2", 1);
	CHECK_INT(cfg_resolve_secret(&c->source.password, "source password", &v, &e), SD_OK);
	CHECK_STR(v, "hunter2");
	free(v);

	unsetenv("SD_TEST_PW");
	v = (char *)"untouched";
	CHECK_INT(cfg_resolve_secret(&c->source.password, "source password", &v, &e), SD_ERR_CONFIG);
	CHECK(v == NULL);
	CHECK_INT(e.code, SD_ERR_CONFIG);
	CHECK_STR(e.msg, "source password: environment variable 'SD_TEST_PW' is not set");

	/* neither env nor file: no secret, no error */
	CHECK_INT(cfg_resolve_secret(&c->scheduler.token, "token", &v, &e), SD_OK);
	CHECK(v == NULL);
	cfg_free(c);
}

TEST(config_secret_file)
{
	char dir[] = "/tmp/sdcfgXXXXXX";
	CHECK(mkdtemp(dir) != NULL);
	char path[64];
	snprintf(path, sizeof(path), "%s/pw", dir);
	FILE *f = fopen(path, "w");
	CHECK(f != NULL);
	fputs("two\nlines\n\n", f);   /* only one trailing newline goes */
	fclose(f);

	struct cfg_secret s = { NULL, path };
	char *v = NULL;
	struct sderr e = { 0 };
	CHECK_INT(cfg_resolve_secret(&s, "kafka sasl password", &v, &e), SD_OK);
	CHECK_STR(v, "two\nlines\n");
	free(v);

	f = fopen(path, "w");
	fputs("nonl", f);
	fclose(f);
	CHECK_INT(cfg_resolve_secret(&s, "x", &v, &e), SD_OK);
	CHECK_STR(v, "nonl");
	free(v);

	unlink(path);
	CHECK_INT(cfg_resolve_secret(&s, "kafka sasl password", &v, &e), SD_ERR_CONFIG);
	CHECK(v == NULL);
	char want[160];
	snprintf(want, sizeof(want), "kafka sasl password: cannot read '%s': No such file or directory", path);
	CHECK_STR(e.msg, want);
	rmdir(dir);
}

TEST(config_dump_hides_secrets)
{
	setenv("SD_TEST_DUMP", "topsecret", 1);
	struct cfg *c = load_ok(MIN "source: {password_env: SD_TEST_DUMP}\n"
				"scheduler: {token_file: /etc/snapdiff/token}\n"
				"sinks: [{type: kafka, brokers: k, sasl_password_file: /run/kafka-pw}]\n", NULL);
	CHECK(c != NULL);
	char *d = dump_of(c);
	CHECK(strstr(d, "  password: from env SD_TEST_DUMP\n") != NULL);
	CHECK(strstr(d, "  token: from file /etc/snapdiff/token\n") != NULL);
	CHECK(strstr(d, "    sasl_password: from file /run/kafka-pw\n") != NULL);
	CHECK(strstr(d, "topsecret") == NULL);
	CHECK(strstr(d, "  port: 3306\n") != NULL);
	CHECK(strstr(d, "  max_delete_fraction: 0.1\n") != NULL);
	free(d);
	cfg_free(c);
	unsetenv("SD_TEST_DUMP");
}

TEST(config_doc_up_to_date)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	cfg_doc(f);
	fclose(f);
	CHECK(strstr(text, "| `max_delete_fraction` | number, 0 to 1 | `0.10` |") != NULL);
	CHECK(strstr(text, "| `namespace` |") != NULL);
	CHECK(strstr(text, "| `chunk_time` | number, over 0, at most 3600 | `0.5` |") != NULL);

	FILE *d = fopen("docs/configuration.md", "r");
	CHECK(d != NULL);
	char *disk = malloc(len + 2);
	size_t n = fread(disk, 1, len + 1, d);
	fclose(d);
	/* regenerate with `snapdiff config doc > docs/configuration.md` */
	int same = n == len && memcmp(disk, text, len) == 0;
	free(disk);
	free(text);
	CHECK(same);
}

TEST(config_error_unknown_key_in_file)
{
	struct sderr e = { 0 };
	CHECK(cfg_load("tests/unit/configs/unknown_key.yaml", &e) == NULL);
	CHECK_INT(e.code, SD_ERR_CONFIG);
	CHECK_STR(e.msg, "tests/unit/configs/unknown_key.yaml:5:3: unknown key 'prot' in 'source'");

	CHECK(cfg_load("tests/unit/configs/does-not-exist.yaml", &e) == NULL);
	CHECK_INT(e.code, SD_ERR_CONFIG);
	CHECK_STR(e.msg, "cannot open 'tests/unit/configs/does-not-exist.yaml': No such file or directory");
}

TEST(config_error_unknown_key)
{
	CHECK_CFG_ERR(MIN "sauce: {}\n", "t.yaml:3:1: unknown key 'sauce'");
	CHECK_CFG_ERR(MIN "defaults:\n  chunk_rowz: 5\n", "t.yaml:4:3: unknown key 'chunk_rowz' in 'defaults'");
	CHECK_CFG_ERR("databases: [a]\ntables:\n  - page:\n      evry: 5\n",
		      "t.yaml:4:7: unknown key 'evry' in 'tables.page'");
	CHECK_CFG_ERR(MIN "lake:\n  namespace_: x\n", "t.yaml:4:3: unknown key 'namespace_' in 'lake'");
	CHECK_CFG_ERR(MIN "sinks:\n  - type: jsonl\n    brokers: k:9092\n",
		      "t.yaml:5:5: 'brokers' does not apply to a jsonl sink");
}

TEST(config_error_wrong_type)
{
	CHECK_CFG_ERR(MIN "source:\n  port: abc\n", "t.yaml:4:9: 'source.port' expects an integer, got 'abc'");
	CHECK_CFG_ERR(MIN "source:\n  port: \"3306\"\n",
		      "t.yaml:4:9: 'source.port' expects an integer, got the string '3306'");
	CHECK_CFG_ERR(MIN "source:\n  port: 33.5\n", "t.yaml:4:9: 'source.port' expects an integer, got '33.5'");
	CHECK_CFG_ERR(MIN "defaults:\n  keep_images: yes\n",
		      "t.yaml:4:16: 'defaults.keep_images' expects true or false, got 'yes'");
	CHECK_CFG_ERR(MIN "defaults:\n  chunk_time: fast\n",
		      "t.yaml:4:15: 'defaults.chunk_time' expects a number, got 'fast'");
	CHECK_CFG_ERR(MIN "source:\n  host: [a, b]\n", "t.yaml:4:9: 'source.host' expects a string, got a list");
	CHECK_CFG_ERR(MIN "source:\n  host:\n", "t.yaml:4:8: 'source.host' expects a string, got nothing (null)");
	CHECK_CFG_ERR(MIN "source: 5\n", "t.yaml:3:9: 'source' expects a mapping, got a scalar");
	CHECK_CFG_ERR("databases: enwiki\ntables: [page]\n",
		      "t.yaml:1:12: 'databases' expects a list of strings, got a scalar");
	CHECK_CFG_ERR(MIN "defaults:\n  ignore_columns: [a, [b]]\n",
		      "t.yaml:4:23: 'defaults.ignore_columns' expects a list of strings, got a list as an item");
	CHECK_CFG_ERR(MIN "sinks:\n  - type: kafka\n    brokers: k\n    properties: {a: [1]}\n",
		      "t.yaml:6:21: 'sinks[0].properties.a' expects a scalar value, got a list");
}

TEST(config_error_range)
{
	CHECK_CFG_ERR(MIN "defaults:\n  max_delete_fraction: 1.5\n",
		      "t.yaml:4:24: 'defaults.max_delete_fraction' must be between 0 and 1, got 1.5");
	CHECK_CFG_ERR(MIN "defaults:\n  chunk_time: 0\n",
		      "t.yaml:4:15: 'defaults.chunk_time' must be greater than 0 and at most 3600, got 0");
	CHECK_CFG_ERR(MIN "source:\n  port: 70000\n",
		      "t.yaml:4:9: 'source.port' must be between 1 and 65535, got 70000");
	CHECK_CFG_ERR(MIN "defaults:\n  chunk_rows: 99999999999999999999999\n",
		      "t.yaml:4:15: 'defaults.chunk_rows' must be between 1 and 1000000000, "
		      "got 99999999999999999999999");
	CHECK_CFG_ERR("databases: [a]\ntables:\n  - t: {retries: -1}\n",
		      "t.yaml:3:18: 'tables.t.retries' must be between 0 and 100, got -1");
	CHECK_CFG_ERR("databases: [a]\ntables:\n  - t: {chunk_min_rows: 500, chunk_max_rows: 100}\n",
		      "t.yaml:3:5: 'tables.t': chunk_min_rows 500 is greater than chunk_max_rows 100");
	CHECK_CFG_ERR(MIN "defaults: {every: 60, cron: \"* * * * *\"}\n",
		      "t.yaml:3:11: 'defaults': set either 'every' or 'cron', not both");
	CHECK_CFG_ERR(MIN "defaults: {cron: \"* * *\"}\n",
		      "t.yaml:3:18: 'defaults.cron' expects five cron fields (minute hour day month weekday), got 3");
	CHECK_CFG_ERR(MIN "scheduler: {listen: localhost}\n",
		      "t.yaml:3:21: 'scheduler.listen' expects host:port, got 'localhost'");
}

TEST(config_error_enum)
{
	CHECK_CFG_ERR(MIN "defaults:\n  initial_events: some\n",
		      "t.yaml:4:19: 'defaults.initial_events' must be one of all, none, lake, got 'some'");
	CHECK_CFG_ERR(MIN "sinks:\n  - type: kafka\n    brokers: k\n    envelope: avro\n",
		      "t.yaml:6:15: 'sinks[0].envelope' must be one of native, debezium, got 'avro'");
	CHECK_CFG_ERR(MIN "sinks:\n  - type: s3\n", "t.yaml:4:11: 'sinks[0].type' must be one of jsonl, kafka, got 's3'");
	CHECK_CFG_ERR(MIN "sinks:\n  - path: x\n", "t.yaml:4:5: 'sinks[0]' needs a 'type' (jsonl or kafka)");
	CHECK_CFG_ERR(MIN "lake: {catalog: rest}\n", "t.yaml:3:17: 'lake.catalog' must be one of sql, mariadb, hadoop, got 'rest'");
	CHECK_CFG_ERR(MIN "lake: {codec: gzip}\n", "t.yaml:3:15: 'lake.codec' must be one of zstd, snappy, none, got 'gzip'");
	CHECK_CFG_ERR(MIN "scheduler: {log_level: trace}\n",
		      "t.yaml:3:24: 'scheduler.log_level' must be one of debug, info, warn, error, got 'trace'");
	CHECK_CFG_ERR(MIN "sinks:\n  - type: kafka\n",
		      "t.yaml:4:5: 'sinks[0]': a kafka sink needs 'brokers'");
	CHECK_CFG_ERR(MIN "sinks:\n  - {type: jsonl, path: a, dir: b}\n",
		      "t.yaml:4:5: 'sinks[0]': set either 'path' or 'dir', not both");
	CHECK_CFG_ERR(MIN "sinks:\n  - {type: kafka, brokers: k, topic_template: \"{prefix}.{wiki}\"}\n",
		      "t.yaml:4:47: 'sinks[0].topic_template' has an unknown placeholder at '{wiki}' "
		      "(known: {prefix}, {database}, {table})");
}

TEST(config_error_duplicates)
{
	CHECK_CFG_ERR(MIN "source:\n  port: 1\n  host: h\n  port: 2\n",
		      "t.yaml:6:3: duplicate key 'port' (first at line 4)");
	CHECK_CFG_ERR(MIN "databases: [b]\n", "t.yaml:3:1: duplicate key 'databases' (first at line 1)");
	CHECK_CFG_ERR("databases: [a]\ntables:\n  - page\n  - revision\n  - page: {every: 5}\n",
		      "t.yaml:5:5: duplicate table 'page' (first at line 3)");
	CHECK_CFG_ERR("databases: [a, b, a]\ntables: [t]\n", "t.yaml:1:19: 'a' appears twice in 'databases'");
	CHECK_CFG_ERR(MIN "sinks:\n  - {type: kafka, brokers: k, properties: {acks: 1, acks: all}}\n",
		      "t.yaml:4:53: duplicate key 'acks' in 'sinks[0].properties'");
	CHECK_CFG_ERR(MIN "sinks:\n  - {type: jsonl, name: out}\n  - {type: jsonl, name: out, path: x}\n",
		      "t.yaml:5:5: duplicate sink name 'out' (first at line 4)");
	CHECK_CFG_ERR("databases: [a]\ntables:\n  - t: {ignore_columns: [c], exclude_columns: [c]}\n",
		      "t.yaml:3:5: 'tables.t': column 'c' is both ignored and excluded");
}

TEST(config_error_names)
{
	char long_name[200];
	snprintf(long_name, sizeof(long_name), "databases: [a]\ntables: [%065d]\n", 0);
	CHECK_CFG_ERR(long_name, "t.yaml:2:10: a table name is longer than 64 bytes");
	snprintf(long_name, sizeof(long_name), "databases: [a]\ntables: [%064d]\n", 0);
	struct cfg *c = load_ok(long_name, NULL);
	CHECK(c != NULL);
	cfg_free(c);
	CHECK_CFG_ERR("databases: [a]\ntables: [\"\"]\n", "t.yaml:2:10: a table name must not be empty");
	CHECK_CFG_ERR("databases: [\"a\\0b\"]\ntables: [t]\n",
		      "t.yaml:1:13: an item of 'databases' contains a NUL byte");
	CHECK_CFG_ERR("databases: [a]\ntables:\n  - name: page\n    every: 5\n",
		      "t.yaml:3:5: a table is a name or a one-key mapping 'name: {settings}'");
	CHECK_CFG_ERR("databases: [a]\ntables:\n  - [page]\n",
		      "t.yaml:3:5: a table is a name or a one-key mapping 'name: {settings}', got a list");
	CHECK_CFG_ERR("databases: [a]\ntables:\n  - page: 5\n", "t.yaml:3:11: 'tables.page' expects a mapping, got a scalar");
}

TEST(config_error_secrets)
{
	CHECK_CFG_ERR(MIN "source:\n  password: hunter2\n",
		      "t.yaml:4:13: 'source.password' cannot be written in the configuration; "
		      "secrets come from 'password_env' or 'password_file'");
	CHECK_CFG_ERR(MIN "scheduler: {token: abc}\n",
		      "t.yaml:3:20: 'scheduler.token' cannot be written in the configuration; "
		      "secrets come from 'token_env' or 'token_file'");
	CHECK_CFG_ERR(MIN "sinks:\n  - type: kafka\n    brokers: k\n    sasl_password: pw\n",
		      "t.yaml:6:20: 'sinks[0].sasl_password' cannot be written in the configuration; "
		      "secrets come from 'sasl_password_env' or 'sasl_password_file'");
	CHECK_CFG_ERR(MIN "sinks:\n  - type: kafka\n    brokers: k\n    properties:\n      sasl.password: pw\n",
		      "t.yaml:7:7: 'sinks[0].properties' must not hold 'sasl.password'; "
		      "secrets come from 'sasl_password_env' or 'sasl_password_file'");
	CHECK_CFG_ERR(MIN "source:\n  password_env: PW\n  password_file: /etc/pw\n",
		      "t.yaml:5:18: 'password_env' and 'password_file' are both set; use one of them");
	CHECK_CFG_ERR(MIN "scheduler:\n  token_file: /t\n  token_env: T\n",
		      "t.yaml:5:14: 'token_env' and 'token_file' are both set; use one of them");
	/* a pasted secret in *_env is refused without echoing it */
	CHECK_CFG_ERR(MIN "source:\n  password_env: \"hunter2 !\"\n",
		      "t.yaml:4:17: 'source.password_env' is not a valid environment variable name");
}

TEST(config_error_required)
{
	CHECK_CFG_ERR("databases: []\ntables: [page]\n",
		      "t.yaml:1:12: 'databases' must be a non-empty list of database names");
	CHECK_CFG_ERR("tables: [page]\n", "t.yaml:1:1: missing 'databases' (a non-empty list of database names)");
	CHECK_CFG_ERR("databases: [a]\ntables: []\n", "t.yaml:2:9: 'tables' must be a non-empty list of table names");
	CHECK_CFG_ERR("databases: [a]\n", "t.yaml:1:1: missing 'tables' (a non-empty list of table names)");
	CHECK_CFG_ERR("", "t.yaml: the configuration is empty; 'databases' and 'tables' are required");
	CHECK_CFG_ERR("# nothing\n", "t.yaml: the configuration is empty; 'databases' and 'tables' are required");
	CHECK_CFG_ERR("- a\n", "t.yaml:1:1: the configuration must be a mapping, got a list");
}

TEST(config_error_yaml_syntax)
{
	CHECK_CFG_ERR(MIN "source:\n  host: [a\n",
		      "t.yaml:5:1: did not find expected ',' or ']' (while parsing a flow sequence at line 4)");
	CHECK_CFG_ERR(MIN "---\nfoo: 1\n", "t.yaml:4:1: more than one YAML document; snapdiff reads one");
}
