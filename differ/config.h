/*
 * config — the snapdiff YAML configuration, parsed with libyaml.
 *
 * One table of keys (config.c) drives parsing, type checks, defaults and the
 * generated reference in docs/configuration.md. Errors name file:line:column.
 * Secrets (the source password, Kafka SASL passwords, the HTTP token) are
 * never in the file itself: the file names an environment variable or a file
 * that holds them, and cfg_resolve_secret() reads it at connect time.
 *
 * Ownership: cfg_load() returns a struct cfg the caller frees with cfg_free();
 * every string inside belongs to it.
 */
#ifndef SD_CONFIG_H
#define SD_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "error.h"

/* A secret is read from exactly one of: an environment variable, a file. */
struct cfg_secret {
	char *env;      /* name of an environment variable, or NULL */
	char *file;     /* path of a file whose content (minus one trailing newline) is the secret */
};

struct cfg_kv {
	char *key;
	char *value;
};

enum cfg_initial_events {
	CFG_INITIAL_ALL = 0,    /* the first run emits an insert ("r" in Debezium) per row  */
	CFG_INITIAL_NONE = 1,   /* the first run only builds state                          */
	CFG_INITIAL_LAKE = 2,   /* the first run feeds the lake sinks only                  */
};

/* Per-table settings; `defaults:` fills the same struct and tables inherit it. */
struct cfg_table {
	char *name;
	char **ignore_columns;   /* fetched and emitted, but not hashed (page_touched noise) */
	size_t n_ignore;
	char **exclude_columns;  /* never read at all (user_password, user_token)           */
	size_t n_exclude;
	int64_t chunk_rows;      /* first chunk size, adapted from there (default 1000)     */
	int64_t chunk_max_rows;  /* upper bound of the adaptation (default 200000)          */
	int64_t chunk_min_rows;  /* lower bound (default 100)                               */
	double chunk_time;       /* target seconds per chunk (default 0.5)                  */
	double max_delete_fraction; /* guard: refuse above this share of rows (default 0.10) */
	int64_t guard_min_rows;  /* guard applies only to tables with at least this many rows
	                            in state (default 1000)                                  */
	bool keep_images;        /* keep full row images in state for before-images          */
	bool checksum_pushdown;  /* ask the server for a per-chunk checksum first            */
	enum cfg_initial_events initial_events;
	/* scheduler */
	double every;            /* seconds between runs (0 = not scheduled by interval)     */
	double jitter;           /* up to this many seconds added to every start             */
	char *cron;              /* five-field cron expression, instead of every             */
	double timeout;          /* seconds before a scheduled run is stopped (default 3600) */
	int retries;             /* scheduled retries after a failure (default 3)            */
	double backoff_initial;  /* seconds (default 10)                                     */
	double backoff_max;      /* seconds (default 600)                                    */
	/* bookkeeping: where the entry was defined, for messages */
	int line;
	/* which fields were set explicitly (bit per field index in config.c), so that
	 * tables inherit only what they did not override */
	uint64_t set_mask;
};

struct cfg_source {
	char *host;             /* default 127.0.0.1 (ignored when socket is set)  */
	unsigned port;          /* default 3306                                     */
	char *socket;
	char *user;             /* default "snapdiff"                               */
	struct cfg_secret password;
	unsigned connect_timeout; /* seconds, default 10                            */
	unsigned read_timeout;    /* seconds, default 600                           */
	char *ssl_ca;           /* optional TLS */
	char *ssl_cert;
	char *ssl_key;
};

enum cfg_sink_type {
	CFG_SINK_JSONL = 1,
	CFG_SINK_KAFKA = 2,
};

enum cfg_envelope {
	CFG_ENVELOPE_NATIVE = 0,
	CFG_ENVELOPE_DEBEZIUM = 1,
};

struct cfg_sink {
	enum cfg_sink_type type;
	char *name;             /* for messages; defaults to the type name */
	int line;
	/* jsonl */
	char *path;             /* "-" = stdout (default), else a file appended + fsync'd */
	char *dir;              /* instead of path: one atomically renamed file per run    */
	/* kafka */
	char *brokers;          /* bootstrap.servers                                      */
	char *topic_template;   /* default "{prefix}.{database}.{table}"                  */
	char *topic_prefix;     /* default "snapdiff"                                     */
	enum cfg_envelope envelope;
	bool tombstones;        /* a null-value message after each delete (default true)  */
	bool transactional;     /* one Kafka transaction per run                          */
	char *transactional_id_prefix; /* default "snapdiff"                              */
	double flush_timeout;   /* seconds to wait for delivery reports (default 60)      */
	struct cfg_kv *properties; /* passed to librdkafka as is                          */
	size_t n_properties;
	struct cfg_secret sasl_password; /* becomes sasl.password                         */
};

struct cfg_lake {
	bool enabled;
	char *warehouse;        /* local directory (default "warehouse")                  */
	char *catalog;          /* "sql" (SQLite, default), "mariadb", "hadoop"           */
	char *catalog_uri;      /* SQLite file for "sql" (default "<warehouse>/catalog.db") */
	char *catalog_name;     /* default "snapdiff"                                     */
	char *namespace_;       /* default "mediawiki"                                    */
	char *codec;            /* "zstd" (default), "snappy", "none"                     */
	bool row_hash_column;   /* add _snapdiff_hash to the mirror                       */
	bool changelog;         /* write the changelog table (default true)               */
};

struct cfg_scheduler {
	char *listen;           /* "127.0.0.1:9187" by default                             */
	struct cfg_secret token;/* optional bearer token for POST /run                     */
	int max_concurrent;     /* default 2                                               */
	int max_per_host;       /* default 2                                               */
	char *log_level;        /* debug, info (default), warn, error                      */
};

struct cfg_mediawiki {
	bool page_change;       /* derive page_change events (one snapshot per database) */
	char *stream;           /* default "mediawiki.page_change.v1"                    */
	struct cfg_kv *domains; /* database name -> wiki domain                          */
	size_t n_domains;
};

struct cfg {
	char *path;             /* the file this came from */
	struct cfg_source source;
	char **databases;
	size_t n_databases;
	struct cfg_table defaults;
	struct cfg_table *tables;
	size_t n_tables;
	char *state_path;       /* SQLite file, default "snapdiff-state.db" next to nothing: cwd */
	struct cfg_sink *sinks;
	size_t n_sinks;         /* no sinks: JSONL on stdout */
	struct cfg_lake lake;
	struct cfg_scheduler scheduler;
	struct cfg_mediawiki mediawiki;
};

/* Parses the file at path. On error returns NULL and fills e (SD_ERR_CONFIG,
 * message "path:line:col: what"). Relative paths inside the file (state, sink
 * files, warehouse) are resolved against the file's directory. */
struct cfg *cfg_load(const char *path, struct sderr *e);

/* The embedded default configuration used by `make demo`'s defaults and tests:
 * parses text as if it were the file `name`. */
struct cfg *cfg_load_string(const char *text, const char *name, const char *basedir, struct sderr *e);

void cfg_free(struct cfg *c);

/* Returns the table entry for name, or NULL when the table is not configured. */
const struct cfg_table *cfg_table_find(const struct cfg *c, const char *name);

/* Reads the secret; *out is a new string (caller frees) or NULL when the secret
 * names neither env nor file. Returns SD_OK or SD_ERR_CONFIG (unset variable,
 * unreadable file) with a message that never contains the secret itself. */
int cfg_resolve_secret(const struct cfg_secret *s, const char *what, char **out, struct sderr *e);

/* Writes the normalised configuration as YAML-ish text for `snapdiff config check`
 * (secrets shown only by where they come from). */
void cfg_dump(const struct cfg *c, FILE *out);

/* Writes the Markdown reference of every key (docs/configuration.md), from the
 * same table that drives parsing; for `snapdiff config doc`. */
void cfg_doc(FILE *out);

#endif
