/*
 * error — the one result-code enum and the error carrier every subsystem uses.
 *
 * Library code never prints or exits: it fills a struct sderr and returns its
 * code; only the CLI mains (differ/main.c, scheduler/) print and pick the exit
 * status, which is the code itself. The numbers are a public contract (Airflow
 * DAGs and the scheduler map them), so append only and never renumber.
 */
#ifndef SD_ERROR_H
#define SD_ERROR_H

enum sd_code {
	SD_OK = 0,            /* success (also: a run that found no change)              */
	SD_ERR_INTERNAL = 1,  /* a bug or an unexpected condition                         */
	SD_ERR_USAGE = 2,     /* bad command line                                         */
	SD_ERR_CONFIG = 3,    /* bad configuration file (message has file:line)           */
	SD_ERR_SOURCE = 4,    /* MariaDB unreachable, lost connection, query failed;
	                         retriable                                                */
	SD_ERR_STATE = 5,     /* the SQLite state store failed or is corrupt             */
	SD_ERR_SINK = 6,      /* a sink refused or failed to make the events durable     */
	SD_ERR_GUARD = 7,     /* refused by a guard (mass delete); do not retry blindly  */
	SD_ERR_SCHEMA = 8,    /* missing table, no primary key, unsupported type: permanent */
	SD_ERR_AUTH = 9,      /* MariaDB refused the credentials: permanent               */
	SD_ERR_INTERRUPTED = 10, /* stopped by SIGTERM/SIGINT before committing; retriable  */
	SD_ERR_BUSY = 99,     /* another run holds the (database, table) lock: skipped   */
};

struct sderr {
	int code;
	char msg[1024];
};

/* Sets e (if not NULL) and returns code, so callers can `return sderr_set(...)`. */
int sderr_set(struct sderr *e, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Prefixes the existing message with "what: " (keeps the code). Returns e->code. */
int sderr_prefix(struct sderr *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
const char *sd_code_name(int code);

#endif
