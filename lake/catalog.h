/*
 * catalog — where an Iceberg table's current metadata file is recorded, and
 * the atomic compare-and-swap that makes a commit. Three kinds:
 *
 *   SQL (SQLite or MariaDB): the iceberg_tables / iceberg_namespace_properties
 *     tables of Java's JdbcCatalog and pyiceberg's SqlCatalog, so those
 *     engines open the same catalog. Commit = UPDATE … WHERE
 *     metadata_location = <base>, one row changed or a conflict. Metadata
 *     files are <location>/metadata/<NNNNN>-<uuid>.metadata.json.
 *   Hadoop (file system): <warehouse>/<ns>/<table>/metadata/v<N>.metadata.json
 *     plus version-hint.text; commit = rename without replace to v<N+1>.
 *
 * The catalog writes the metadata file itself (from the JSON text it is
 * given) because the file's name is part of each catalog's protocol. A
 * namespace is one level ("enwiki") or several joined with '.'.
 *
 * Return values: 0, an sd_code (SD_ERR_SINK for I/O and database failures),
 * or one of the CAT_* codes below, which are also left in e->code.
 */
#ifndef SD_CATALOG_H
#define SD_CATALOG_H

#include <stddef.h>

#include "error.h"
#include "lake/fileio.h"

#define CAT_CONFLICT 1200  /* the table moved on since base: reload and retry */
#define CAT_NOT_FOUND 1201 /* no such table */
#define CAT_EXISTS 1202    /* create: the table already exists */

struct cat;

/*
 * SQLite file db_path (created if missing, tables too). catalog_name is the
 * iceberg_tables.catalog_name of every row (pyiceberg's SqlCatalog name);
 * warehouse the URI new tables default to (<warehouse>/<ns>.db/<table>).
 */
int cat_open_sqlite(const char *db_path, const char *catalog_name, const char *warehouse,
		    struct fio *io, struct cat **out, struct sderr *e);

struct cat_mariadb_opts {
	const char *host;     /* NULL: localhost */
	unsigned int port;    /* 0: default */
	const char *socket;   /* unix socket, or NULL */
	const char *user;
	const char *password;
	const char *database; /* must exist */
};
/* The same SQL catalog in MariaDB (a catalog shared by several hosts). */
int cat_open_mariadb(const struct cat_mariadb_opts *o, const char *catalog_name,
		     const char *warehouse, struct fio *io, struct cat **out, struct sderr *e);

/* Hadoop catalog rooted at warehouse (a directory URI). */
int cat_open_hadoop(const char *warehouse, struct fio *io, struct cat **out, struct sderr *e);

void cat_close(struct cat *c);

/* "sql" or "hadoop". */
const char *cat_kind(const struct cat *c);
struct fio *cat_fio(const struct cat *c);

/* Records the namespace (property exists=true); no error if it is there. */
int cat_create_namespace(struct cat *c, const char *ns, struct sderr *e);

/* Where a new table goes when the caller gives no location (malloc'd). */
char *cat_default_location(const struct cat *c, const char *ns, const char *name);

/* The current metadata file of a table (*location malloc'd), or CAT_NOT_FOUND. */
int cat_load(struct cat *c, const char *ns, const char *name, char **location,
	     struct sderr *e);

/*
 * Writes json (the complete new metadata) as the table's next metadata file
 * under table_location/metadata/ and swaps it in, but only if the table's
 * current metadata file is still base (NULL: create the table, CAT_EXISTS if
 * it is there). *new_location (malloc'd) is the file now current. On any
 * failure the file written here is removed again, except when the outcome
 * is unknown (a lost database connection during the UPDATE): SD_ERR_SINK
 * with the file kept.
 */
int cat_commit(struct cat *c, const char *ns, const char *name, const char *table_location,
	       const char *base, const char *json, size_t len, char **new_location,
	       struct sderr *e);

/* Removes the table's catalog entry (files are left alone). */
int cat_drop(struct cat *c, const char *ns, const char *name, struct sderr *e);

/* Table names of a namespace (malloc'd array of malloc'd strings). */
int cat_list_tables(struct cat *c, const char *ns, char ***names, size_t *n, struct sderr *e);

/* Metadata file version number from its name: "00012-<uuid>…" → 12, "v7…" → 7, else -1. */
long cat_metadata_version(const char *location);

#endif
