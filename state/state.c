/*
 * state — the SQLite state store behind state.h: per (database, table) the
 * chunk list of the last committed run, the pending area of the running run,
 * and the history of runs. docs/state.md describes the schema and why it is
 * shaped this way; the short version: chunk metadata and chunk data live in
 * different tables so that walking the chunks never touches the packed lists,
 * and so that committing a run moves small rows around instead of copying
 * megabytes of blobs from the pending area into the live one.
 *
 * Concurrency model: several snapdiff processes (one per table run) may share
 * one state file. Nothing here keeps a transaction or a read statement open
 * between two calls: a held read snapshot would make this connection's next
 * write fail with SQLITE_BUSY_SNAPSHOT as soon as another process committed,
 * and a held write lock would stall every other process for as long as the
 * engine spends reading MariaDB. Pending writes are therefore buffered in
 * memory and flushed in short transactions, and the chunk iterator reads
 * pages of chunk headers by seq.
 */
#include "state.h"

#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Flush the in-memory pending buffer when it holds this much. A few MB keeps
 * memory bounded; 1024 operations keep each write transaction short even
 * when chunks are tiny. */
#define PENDING_FLUSH_BYTES ((size_t)4 << 20)
#define PENDING_FLUSH_OPS 1024

/* Chunk headers read per iterator page: big enough that paging costs nothing
 * next to the engine's work, small enough (hi keys are at most a few KB) to
 * keep the iterator's memory modest. */
#define ITER_PAGE 256

/*
 * Schema migrations: migrations[v] takes a file from user_version v to v + 1.
 * A later schema change appends an entry; st_open applies what is missing in
 * one transaction. Never edit a shipped entry.
 */
static const char *const migrations[] = {
	/* 0 -> 1: the initial schema (see docs/state.md) */
	"CREATE TABLE tables ("
	"  db            TEXT    NOT NULL,"
	"  tbl           TEXT    NOT NULL,"
	"  generation    INTEGER NOT NULL DEFAULT 0,"
	"  rows          INTEGER NOT NULL DEFAULT 0,"
	"  chunks        INTEGER NOT NULL DEFAULT 0,"
	"  schema_hash   INTEGER NOT NULL DEFAULT 0,"
	"  columns_json  TEXT,"
	"  last_run_id   TEXT,"
	"  last_success  REAL    NOT NULL DEFAULT 0,"
	"  last_snapshot REAL    NOT NULL DEFAULT 0,"
	"  PRIMARY KEY (db, tbl)"
	") WITHOUT ROWID;"
	"CREATE TABLE blobs ("
	"  id   INTEGER PRIMARY KEY,"
	"  data BLOB    NOT NULL"
	");"
	"CREATE TABLE chunks ("
	"  db       TEXT    NOT NULL,"
	"  tbl      TEXT    NOT NULL,"
	"  seq      INTEGER NOT NULL,"
	"  hi       BLOB,"
	"  rows     INTEGER NOT NULL,"
	"  agg      BLOB    NOT NULL CHECK (length(agg) = 16),"
	"  has_crc  INTEGER NOT NULL DEFAULT 0,"
	"  crc_rows INTEGER NOT NULL DEFAULT 0,"
	"  crc      INTEGER NOT NULL DEFAULT 0,"
	"  data_id  INTEGER NOT NULL,"
	"  PRIMARY KEY (db, tbl, seq)"
	") WITHOUT ROWID;"
	"CREATE TABLE pending ("
	"  db       TEXT    NOT NULL,"
	"  tbl      TEXT    NOT NULL,"
	"  run_id   TEXT    NOT NULL,"
	"  seq      INTEGER NOT NULL,"
	"  op       TEXT    NOT NULL CHECK (op IN ('put', 'del')),"
	"  hi       BLOB,"
	"  rows     INTEGER,"
	"  agg      BLOB,"
	"  has_crc  INTEGER,"
	"  crc_rows INTEGER,"
	"  crc      INTEGER,"
	"  data_id  INTEGER,"
	"  CHECK ((op = 'put') = (data_id IS NOT NULL AND length(agg) = 16)),"
	"  PRIMARY KEY (db, tbl, run_id, seq)"
	") WITHOUT ROWID;"
	"CREATE TABLE runs ("
	"  id           INTEGER PRIMARY KEY,"
	"  run_id       TEXT    NOT NULL,"
	"  db           TEXT    NOT NULL,"
	"  tbl          TEXT    NOT NULL,"
	"  generation   INTEGER NOT NULL,"
	"  started      REAL,"
	"  finished     REAL,"
	"  status       TEXT    NOT NULL,"
	"  lineage_json TEXT,"
	"  counts_json  TEXT,"
	"  error        TEXT"
	");"
	"CREATE INDEX runs_by_table ON runs (db, tbl);"
	"CREATE INDEX runs_by_run_id ON runs (db, tbl, run_id);",
};
#define SCHEMA_VERSION ((int)(sizeof(migrations) / sizeof(migrations[0])))

/* The JSON object describing one runs row, as given to st_status callers.
 * lineage and counts are embedded as JSON when they parse, as strings if not. */
#define RUN_JSON(r)                                                                    \
	"json_object('id'," r ".id,'run_id'," r ".run_id,'db'," r ".db,'tbl'," r ".tbl,"  \
	"'generation'," r ".generation,'started'," r ".started,'finished'," r ".finished," \
	"'status'," r ".status,"                                                           \
	"'lineage',CASE WHEN json_valid(" r ".lineage_json) THEN json(" r ".lineage_json)" \
	" ELSE " r ".lineage_json END,"                                                    \
	"'counts',CASE WHEN json_valid(" r ".counts_json) THEN json(" r ".counts_json)"    \
	" ELSE " r ".counts_json END,"                                                     \
	"'error'," r ".error)"

enum sid {
	S_BEGIN,
	S_COMMIT,
	S_SYNC_FULL,
	S_SYNC_NORMAL,
	S_TABLE_GET,
	S_CHUNKS_PAGE,
	S_CHUNK_DATA,
	S_BLOB_INSERT,
	S_PENDING_OLD_BLOB,
	S_PENDING_WRITE,
	S_PENDING_ANY,
	S_DISCARD_BLOBS,
	S_DISCARD,
	S_COMMIT_FREE,
	S_COMMIT_DROP,
	S_COMMIT_MOVE,
	S_TABLE_UPSERT,
	S_RUN_UPDATE,
	S_RUN_INSERT,
	S_RESPACE_NEEDED,
	S_RESPACE_CLEAR,
	S_RESPACE_SAVE,
	S_RESPACE_DROP,
	S_RESPACE_RESTORE,
	S_STATUS,
	S_COUNT
};

static const char *const sql_text[S_COUNT] = {
	/* IMMEDIATE: take the write lock up front, where busy_timeout applies;
	 * a deferred transaction upgrading later can fail without waiting. */
	[S_BEGIN] = "BEGIN IMMEDIATE",
	[S_COMMIT] = "COMMIT",
	[S_SYNC_FULL] = "PRAGMA synchronous=FULL",
	[S_SYNC_NORMAL] = "PRAGMA synchronous=NORMAL",
	[S_TABLE_GET] =
		"SELECT generation, rows, chunks, schema_hash, columns_json, last_run_id,"
		" last_success, last_snapshot FROM tables WHERE db=?1 AND tbl=?2",
	[S_CHUNKS_PAGE] =
		"SELECT seq, hi, rows, agg, has_crc, crc_rows, crc FROM chunks"
		" WHERE db=?1 AND tbl=?2 AND seq>=?3 ORDER BY seq LIMIT ?4",
	[S_CHUNK_DATA] =
		"SELECT b.data FROM chunks c JOIN blobs b ON b.id=c.data_id"
		" WHERE c.db=?1 AND c.tbl=?2 AND c.seq=?3",
	[S_BLOB_INSERT] = "INSERT INTO blobs(data) VALUES (?1)",
	/* a second write of the same seq in one run replaces the first; its
	 * blob must go with it */
	[S_PENDING_OLD_BLOB] =
		"DELETE FROM blobs WHERE id=(SELECT data_id FROM pending"
		" WHERE db=?1 AND tbl=?2 AND run_id=?3 AND seq=?4)",
	[S_PENDING_WRITE] =
		"INSERT OR REPLACE INTO pending(db, tbl, run_id, seq, op, hi, rows, agg,"
		" has_crc, crc_rows, crc, data_id)"
		" VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
	[S_PENDING_ANY] = "SELECT 1 FROM pending WHERE db=?1 AND tbl=?2 LIMIT 1",
	/* ?3 NULL: every run of the table (st_run_begin's clean-up) */
	[S_DISCARD_BLOBS] =
		"DELETE FROM blobs WHERE id IN (SELECT data_id FROM pending"
		" WHERE db=?1 AND tbl=?2 AND (?3 IS NULL OR run_id=?3) AND data_id IS NOT NULL)",
	[S_DISCARD] = "DELETE FROM pending WHERE db=?1 AND tbl=?2 AND (?3 IS NULL OR run_id=?3)",
	[S_COMMIT_FREE] =
		"DELETE FROM blobs WHERE id IN (SELECT c.data_id FROM pending p JOIN chunks c"
		" ON c.db=p.db AND c.tbl=p.tbl AND c.seq=p.seq"
		" WHERE p.db=?1 AND p.tbl=?2 AND p.run_id=?3)",
	[S_COMMIT_DROP] =
		"DELETE FROM chunks WHERE db=?1 AND tbl=?2 AND seq IN"
		" (SELECT seq FROM pending WHERE db=?1 AND tbl=?2 AND run_id=?3)",
	[S_COMMIT_MOVE] =
		"INSERT INTO chunks(db, tbl, seq, hi, rows, agg, has_crc, crc_rows, crc, data_id)"
		" SELECT db, tbl, seq, hi, rows, agg, has_crc, crc_rows, crc, data_id FROM pending"
		" WHERE db=?1 AND tbl=?2 AND run_id=?3 AND op='put'",
	[S_TABLE_UPSERT] =
		"INSERT INTO tables(db, tbl, generation, rows, chunks, schema_hash, columns_json,"
		" last_run_id, last_success, last_snapshot)"
		" SELECT ?1, ?2, ?3, coalesce(sum(rows), 0), count(*), ?4, ?5, ?6, ?7,"
		"  CASE WHEN json_valid(?8) AND json_type(?8, '$.snapshot_ms') IN ('integer', 'real')"
		"  THEN json_extract(?8, '$.snapshot_ms') / 1000.0 ELSE 0 END"
		" FROM chunks WHERE db=?1 AND tbl=?2"
		" ON CONFLICT (db, tbl) DO UPDATE SET generation=excluded.generation,"
		"  rows=excluded.rows, chunks=excluded.chunks, schema_hash=excluded.schema_hash,"
		"  columns_json=excluded.columns_json, last_run_id=excluded.last_run_id,"
		"  last_success=excluded.last_success, last_snapshot=excluded.last_snapshot",
	/* only a still-running attempt is closed; anything else gets a new row
	 * so that history is never rewritten */
	[S_RUN_UPDATE] =
		"UPDATE runs SET status=?4, finished=?5, lineage_json=coalesce(?6, lineage_json),"
		" counts_json=coalesce(?7, counts_json), error=?8"
		" WHERE id=(SELECT max(id) FROM runs WHERE db=?2 AND tbl=?3 AND run_id=?1)"
		" AND status='running'",
	[S_RUN_INSERT] =
		"INSERT INTO runs(run_id, db, tbl, generation, started, finished, status,"
		" lineage_json, counts_json, error) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
	[S_RESPACE_NEEDED] =
		"SELECT 1 FROM (SELECT seq - lag(seq) OVER (ORDER BY seq) AS d FROM chunks"
		" WHERE db=?1 AND tbl=?2) WHERE d < 65536 LIMIT 1",
	[S_RESPACE_CLEAR] = "DELETE FROM temp.respace",
	[S_RESPACE_SAVE] =
		"INSERT INTO temp.respace(seq, hi, rows, agg, has_crc, crc_rows, crc, data_id)"
		" SELECT row_number() OVER (ORDER BY seq) * 4294967296, hi, rows, agg, has_crc,"
		" crc_rows, crc, data_id FROM chunks WHERE db=?1 AND tbl=?2",
	[S_RESPACE_DROP] = "DELETE FROM chunks WHERE db=?1 AND tbl=?2",
	[S_RESPACE_RESTORE] =
		"INSERT INTO chunks(db, tbl, seq, hi, rows, agg, has_crc, crc_rows, crc, data_id)"
		" SELECT ?1, ?2, seq, hi, rows, agg, has_crc, crc_rows, crc, data_id"
		" FROM temp.respace ORDER BY seq",
	[S_STATUS] =
		"WITH known(db, tbl) AS (SELECT db, tbl FROM tables UNION SELECT db, tbl FROM runs),"
		" x AS (SELECT k.db AS db, k.tbl AS tbl,"
		"  (SELECT " RUN_JSON("r") " FROM runs r WHERE r.db=k.db AND r.tbl=k.tbl"
		"   ORDER BY r.id DESC LIMIT 1) AS last,"
		"  (SELECT " RUN_JSON("o") " FROM runs o WHERE o.db=k.db AND o.tbl=k.tbl"
		"   AND o.status='ok' ORDER BY o.id DESC LIMIT 1) AS ok"
		"  FROM known k)"
		" SELECT x.db, x.tbl, coalesce(t.generation, 0), coalesce(t.rows, 0),"
		"  coalesce(t.chunks, 0), coalesce(t.schema_hash, 0), t.columns_json,"
		"  t.last_run_id, coalesce(t.last_success, 0), coalesce(t.last_snapshot, 0),"
		"  CASE WHEN x.last IS NULL THEN 'null'"
		"  ELSE json_set(x.last, '$.last_ok', json(x.ok)) END"
		" FROM x LEFT JOIN tables t ON t.db=x.db AND t.tbl=x.tbl ORDER BY x.db, x.tbl",
};

/* One buffered st_pending_put / st_pending_del, owning copies of everything. */
struct pend_op {
	char *run_id, *db, *tbl;
	int64_t seq;
	bool put;
	struct st_chunk c;      /* c.hi points at this op's own copy */
	unsigned char *data;
	size_t len;
};

struct st_db {
	sqlite3 *db;
	char *path;
	sqlite3_stmt *st[S_COUNT];
	struct pend_op *ops;
	size_t nops, cap_ops, op_bytes;
	/* A flush of buffered pending writes failed: the pending area is missing
	 * rows, so committing the run would lose changes. Cleared by the next
	 * st_run_begin / st_run_end. */
	bool lost;
	/* Inside st_batch_begin: the outer BEGIN IMMEDIATE is open and every
	 * function's own transaction becomes a savepoint within it. */
	bool batch;
};

struct st_chunk_iter {
	struct st_db *s;
	char *db, *tbl;
	int64_t next_seq;
	bool eof;
	int n, pos;
	struct st_chunk page[ITER_PAGE];
	size_t hi_off[ITER_PAGE];
	struct buf arena;       /* the page's hi keys, back to back */
};

/* what a zero-length hi points at, so that it stays distinct from NULL */
static unsigned char empty_key[1];

/* "state 'path': <detail> (while <what>)"; detail defaults to SQLite's message. */
static int fail(struct st_db *s, struct sderr *e, const char *detail, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int fail(struct st_db *s, struct sderr *e, const char *detail, const char *fmt, ...)
{
	char what[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	if (!detail)
		detail = s->db ? sqlite3_errmsg(s->db) : "out of memory";
	return sderr_set(e, SD_ERR_STATE, "state '%s': %s (while %s)", s->path, detail, what);
}

static sqlite3_stmt *prep(struct st_db *s, enum sid id)
{
	if (!s->st[id] && sqlite3_prepare_v3(s->db, sql_text[id], -1, SQLITE_PREPARE_PERSISTENT,
					     &s->st[id], NULL) != SQLITE_OK)
		return NULL;
	return s->st[id];
}

/* Steps a statement to its end; returns SQLITE_OK or the error (whose message
 * stays in the connection for fail()). Leaves the statement reset and unbound
 * so no read snapshot outlives the call. */
static int finish(sqlite3_stmt *st)
{
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		;
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

static void done(sqlite3_stmt *st)
{
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
}

static int bind_str(sqlite3_stmt *st, int i, const char *v)
{
	return sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC);
}

/* NULL stays NULL; a non-NULL empty value must stay an empty blob. */
static int bind_bytes(sqlite3_stmt *st, int i, const void *v, size_t n)
{
	if (!v)
		return sqlite3_bind_null(st, i);
	if (n == 0)
		return sqlite3_bind_zeroblob(st, i, 0);
	return sqlite3_bind_blob64(st, i, v, n, SQLITE_STATIC);
}

static int bind_key(sqlite3_stmt *st, const char *db, const char *tbl, const char *run_id)
{
	int rc = bind_str(st, 1, db);
	rc |= bind_str(st, 2, tbl);
	if (run_id)
		rc |= bind_str(st, 3, run_id);
	return rc;
}

/* Runs a parameterless cached statement. */
static int simple(struct st_db *s, enum sid id)
{
	sqlite3_stmt *st = prep(s, id);
	return st ? finish(st) : SQLITE_ERROR;
}

static void rollback(struct st_db *s)
{
	if (s->batch) {
		sqlite3_exec(s->db, "ROLLBACK TO sd_step; RELEASE sd_step", NULL, NULL, NULL);
		return;
	}
	if (!sqlite3_get_autocommit(s->db))
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
}

static int tx_begin(struct st_db *s, bool durable)
{
	if (s->batch)
		return sqlite3_exec(s->db, "SAVEPOINT sd_step", NULL, NULL, NULL);
	if (simple(s, durable ? S_SYNC_FULL : S_SYNC_NORMAL))
		return SQLITE_ERROR;
	return simple(s, S_BEGIN);
}

static int tx_commit(struct st_db *s)
{
	if (s->batch)
		return sqlite3_exec(s->db, "RELEASE sd_step", NULL, NULL, NULL);
	int rc = simple(s, S_COMMIT);
	/* whatever happened, the next transaction starts from the durable default */
	simple(s, S_SYNC_FULL);
	return rc;
}

/* ---- open / close ----------------------------------------------------- */

static int migrate(struct st_db *s, struct sderr *e)
{
	sqlite3_stmt *st;
	int version = -1, rc;

	for (int pass = 0; pass < 2; pass++) {
		if (sqlite3_prepare_v2(s->db, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK)
			goto sqlerr;
		rc = sqlite3_step(st);
		if (rc == SQLITE_ROW)
			version = sqlite3_column_int(st, 0);
		sqlite3_finalize(st);
		if (rc != SQLITE_ROW)
			goto sqlerr;
		if (version > SCHEMA_VERSION) {
			char msg[128];
			snprintf(msg, sizeof(msg),
				 "schema version %d is newer than this snapdiff understands (%d)",
				 version, SCHEMA_VERSION);
			rollback(s);
			return fail(s, e, msg, "opening");
		}
		if (version == SCHEMA_VERSION) {
			if (pass) {
				/* another process migrated while we waited for the lock */
				rollback(s);
			}
			return SD_OK;
		}
		/* Read again under the write lock: two processes opening a fresh
		 * file at once must not both create the schema. */
		if (pass == 0 && tx_begin(s, true))
			goto sqlerr;
	}
	for (; version < SCHEMA_VERSION; version++)
		if (sqlite3_exec(s->db, migrations[version], NULL, NULL, NULL) != SQLITE_OK)
			goto sqlerr;
	char pragma[64];
	snprintf(pragma, sizeof(pragma), "PRAGMA user_version=%d", SCHEMA_VERSION);
	if (sqlite3_exec(s->db, pragma, NULL, NULL, NULL) != SQLITE_OK || tx_commit(s))
		goto sqlerr;
	return SD_OK;
sqlerr:
	fail(s, e, NULL, "creating or migrating the schema");
	rollback(s);
	return SD_ERR_STATE;
}

int st_open(const char *path, struct st_db **out, struct sderr *e)
{
	struct st_db *s = xcalloc(1, sizeof(*s));
	sqlite3_stmt *st = NULL;
	char mode[16] = "";

	*out = NULL;
	s->path = xstrdup(path);
	if (sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
	    SQLITE_OK)
		goto sqlerr;
	sqlite3_extended_result_codes(s->db, 1);
	sqlite3_busy_timeout(s->db, 10000);

	if (sqlite3_prepare_v2(s->db, "PRAGMA journal_mode=WAL", -1, &st, NULL) != SQLITE_OK)
		goto sqlerr;
	if (sqlite3_step(st) != SQLITE_ROW) {
		sqlite3_finalize(st);
		goto sqlerr;
	}
	snprintf(mode, sizeof(mode), "%s", (const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	if (strcmp(mode, "wal") != 0) {
		char msg[96];
		snprintf(msg, sizeof(msg), "cannot use WAL mode (journal_mode is '%s')", mode);
		fail(s, e, msg, "opening");
		st_close(s);
		return SD_ERR_STATE;
	}
	/* foreign_keys stays off: blobs are referenced from two tables and freed
	 * explicitly; see docs/state.md. journal_size_limit keeps a WAL that grew
	 * during a big initial load from staying big. */
	if (sqlite3_exec(s->db,
			 "PRAGMA synchronous=FULL; PRAGMA foreign_keys=OFF;"
			 " PRAGMA temp_store=MEMORY; PRAGMA journal_size_limit=67108864;",
			 NULL, NULL, NULL) != SQLITE_OK)
		goto sqlerr;
	if (migrate(s, e)) {
		st_close(s);
		return SD_ERR_STATE;
	}
	if (sqlite3_exec(s->db,
			 "CREATE TEMP TABLE respace (seq INTEGER PRIMARY KEY, hi BLOB, rows INTEGER,"
			 " agg BLOB, has_crc INTEGER, crc_rows INTEGER, crc INTEGER,"
			 " data_id INTEGER)",
			 NULL, NULL, NULL) != SQLITE_OK)
		goto sqlerr;
	*out = s;
	return SD_OK;
sqlerr:
	fail(s, e, NULL, "opening");
	st_close(s);
	return SD_ERR_STATE;
}

static void op_free(struct pend_op *op)
{
	free(op->run_id);
	free(op->db);
	free(op->tbl);
	free(op->c.hi);
	free(op->data);
}

/* Forgets buffered operations matching (db, tbl[, run_id]); all if db NULL. */
static void ops_drop(struct st_db *s, const char *db, const char *tbl, const char *run_id)
{
	size_t k = 0;
	for (size_t i = 0; i < s->nops; i++) {
		struct pend_op *op = &s->ops[i];
		if (!db || (strcmp(op->db, db) == 0 && strcmp(op->tbl, tbl) == 0 &&
			    (!run_id || strcmp(op->run_id, run_id) == 0))) {
			s->op_bytes -= op->len + op->c.hi_len;
			op_free(op);
		} else {
			s->ops[k++] = *op;
		}
	}
	s->nops = k;
	if (!k)
		s->op_bytes = 0;
}

void st_close(struct st_db *s)
{
	if (!s)
		return;
	/* Buffered pending writes are dropped: they belong to a run that did
	 * not commit, and the next st_run_begin would discard them anyway. */
	ops_drop(s, NULL, NULL, NULL);
	free(s->ops);
	for (int i = 0; i < S_COUNT; i++)
		sqlite3_finalize(s->st[i]);
	if (s->db) {
		rollback(s);
		sqlite3_close_v2(s->db);
	}
	free(s->path);
	free(s);
}

/* ---- reading ---------------------------------------------------------- */

static char *col_strdup(sqlite3_stmt *st, int i)
{
	const unsigned char *t = sqlite3_column_text(st, i);
	return t ? xstrdup((const char *)t) : NULL;
}

int st_table_get(struct st_db *s, const char *db, const char *tbl,
		 struct st_table_info *info, bool *found, struct sderr *e)
{
	memset(info, 0, sizeof(*info));
	*found = false;
	sqlite3_stmt *st = prep(s, S_TABLE_GET);
	if (!st || bind_key(st, db, tbl, NULL))
		goto sqlerr;
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*found = true;
		info->generation = sqlite3_column_int64(st, 0);
		info->rows = sqlite3_column_int64(st, 1);
		info->chunks = sqlite3_column_int64(st, 2);
		info->schema_hash = (uint64_t)sqlite3_column_int64(st, 3);
		info->columns_json = col_strdup(st, 4);
		info->last_run_id = col_strdup(st, 5);
		info->last_success = sqlite3_column_double(st, 6);
		info->last_snapshot = sqlite3_column_double(st, 7);
	} else if (rc != SQLITE_DONE) {
		goto sqlerr;
	}
	done(st);
	return SD_OK;
sqlerr:
	fail(s, e, NULL, "reading table %s.%s", db, tbl);
	if (st)
		done(st);
	return SD_ERR_STATE;
}

void st_table_info_release(struct st_table_info *info)
{
	free(info->columns_json);
	free(info->last_run_id);
	info->columns_json = NULL;
	info->last_run_id = NULL;
}

int st_chunks_open(struct st_db *s, const char *db, const char *tbl,
		   struct st_chunk_iter **it, struct sderr *e)
{
	(void)e;
	struct st_chunk_iter *i = xcalloc(1, sizeof(*i));
	i->s = s;
	i->db = xstrdup(db);
	i->tbl = xstrdup(tbl);
	i->next_seq = INT64_MIN;
	*it = i;
	return SD_OK;
}

/* Reads the next page of chunk headers (seq >= next_seq) in a statement that
 * is finished before returning, so no snapshot is held between pages. */
static int iter_fill(struct st_chunk_iter *it, struct sderr *e)
{
	struct st_db *s = it->s;
	sqlite3_stmt *st = prep(s, S_CHUNKS_PAGE);
	int rc;

	it->n = it->pos = 0;
	buf_reset(&it->arena);
	if (!st || bind_key(st, it->db, it->tbl, NULL) ||
	    sqlite3_bind_int64(st, 3, it->next_seq) || sqlite3_bind_int(st, 4, ITER_PAGE))
		goto sqlerr;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct st_chunk *c = &it->page[it->n];
		memset(c, 0, sizeof(*c));
		c->seq = sqlite3_column_int64(st, 0);
		if (sqlite3_column_type(st, 1) == SQLITE_NULL) {
			it->hi_off[it->n] = SIZE_MAX;
		} else {
			const void *hi = sqlite3_column_blob(st, 1);
			c->hi_len = (size_t)sqlite3_column_bytes(st, 1);
			it->hi_off[it->n] = it->arena.len;
			buf_add(&it->arena, hi, c->hi_len);
		}
		c->rows = sqlite3_column_int64(st, 2);
		const void *agg = sqlite3_column_blob(st, 3);
		if (!agg || sqlite3_column_bytes(st, 3) != 16) {
			done(st);
			return fail(s, e, "corrupt chunk (aggregate hash is not 16 bytes)",
				    "reading chunk %lld of %s.%s", (long long)c->seq, it->db,
				    it->tbl);
		}
		memcpy(c->agg, agg, 16);
		c->has_crc = sqlite3_column_int(st, 4) != 0;
		c->crc_rows = sqlite3_column_int64(st, 5);
		c->crc = (uint64_t)sqlite3_column_int64(st, 6);
		it->n++;
	}
	if (rc != SQLITE_DONE)
		goto sqlerr;
	done(st);
	/* pointers only now: the arena may have moved while the page grew */
	for (int k = 0; k < it->n; k++) {
		struct st_chunk *c = &it->page[k];
		if (it->hi_off[k] == SIZE_MAX)
			c->hi = NULL;
		else if (c->hi_len == 0)
			c->hi = empty_key;
		else
			c->hi = (unsigned char *)it->arena.p + it->hi_off[k];
	}
	if (it->n < ITER_PAGE || it->page[it->n - 1].seq == INT64_MAX)
		it->eof = true;
	else
		it->next_seq = it->page[it->n - 1].seq + 1;
	return SD_OK;
sqlerr:
	fail(s, e, NULL, "reading the chunks of %s.%s", it->db, it->tbl);
	if (st)
		done(st);
	return SD_ERR_STATE;
}

int st_chunks_next(struct st_chunk_iter *it, struct st_chunk *c, struct sderr *e)
{
	if (it->pos == it->n) {
		if (it->eof)
			return 0;
		if (iter_fill(it, e))
			return -SD_ERR_STATE;
		if (it->n == 0)
			return 0;
	}
	*c = it->page[it->pos++];
	return 1;
}

void st_chunks_close(struct st_chunk_iter *it)
{
	if (!it)
		return;
	buf_release(&it->arena);
	free(it->db);
	free(it->tbl);
	free(it);
}

int st_chunk_data(struct st_db *s, const char *db, const char *tbl, int64_t seq,
		  struct buf *out, struct sderr *e)
{
	sqlite3_stmt *st = prep(s, S_CHUNK_DATA);
	if (!st || bind_key(st, db, tbl, NULL) || sqlite3_bind_int64(st, 3, seq))
		goto sqlerr;
	int rc = sqlite3_step(st);
	if (rc == SQLITE_DONE) {
		done(st);
		return fail(s, e, "no such chunk", "loading chunk %lld of %s.%s",
			    (long long)seq, db, tbl);
	}
	if (rc != SQLITE_ROW)
		goto sqlerr;
	buf_reset(out);
	buf_add(out, sqlite3_column_blob(st, 0), (size_t)sqlite3_column_bytes(st, 0));
	done(st);
	return SD_OK;
sqlerr:
	fail(s, e, NULL, "loading chunk %lld of %s.%s", (long long)seq, db, tbl);
	if (st)
		done(st);
	return SD_ERR_STATE;
}

/* ---- pending area ----------------------------------------------------- */

static int write_op(struct st_db *s, const struct pend_op *op)
{
	sqlite3_stmt *st = prep(s, S_PENDING_OLD_BLOB);
	sqlite3_int64 data_id = 0;
	int rc;

	if (!st || bind_key(st, op->db, op->tbl, op->run_id) || sqlite3_bind_int64(st, 4, op->seq))
		return SQLITE_ERROR;
	if ((rc = finish(st)))
		return rc;
	if (op->put) {
		st = prep(s, S_BLOB_INSERT);
		if (!st)
			return SQLITE_ERROR;
		if ((rc = bind_bytes(st, 1, op->data ? op->data : empty_key, op->len)) ||
		    (rc = finish(st))) {
			done(st);
			return rc;
		}
		data_id = sqlite3_last_insert_rowid(s->db);
	}
	st = prep(s, S_PENDING_WRITE);
	if (!st)
		return SQLITE_ERROR;
	rc = bind_key(st, op->db, op->tbl, op->run_id);
	rc |= sqlite3_bind_int64(st, 4, op->seq);
	rc |= bind_str(st, 5, op->put ? "put" : "del");
	if (op->put) {
		rc |= bind_bytes(st, 6, op->c.hi, op->c.hi_len);
		rc |= sqlite3_bind_int64(st, 7, op->c.rows);
		rc |= sqlite3_bind_blob(st, 8, op->c.agg, 16, SQLITE_STATIC);
		rc |= sqlite3_bind_int(st, 9, op->c.has_crc);
		rc |= sqlite3_bind_int64(st, 10, op->c.crc_rows);
		rc |= sqlite3_bind_int64(st, 11, (sqlite3_int64)op->c.crc);
		rc |= sqlite3_bind_int64(st, 12, data_id);
	}
	if (rc) {
		done(st);
		return SQLITE_ERROR;
	}
	return finish(st);
}

/* Writes the buffered pending operations in one short transaction. Pending
 * rows are disposable until st_run_commit, so this commit skips the fsync
 * (synchronous=NORMAL); the FULL commit that makes them live syncs the WAL,
 * which covers these frames too. */
static int flush(struct st_db *s, struct sderr *e)
{
	if (!s->nops)
		return SD_OK;
	int rc = tx_begin(s, false);
	for (size_t i = 0; !rc && i < s->nops; i++)
		rc = write_op(s, &s->ops[i]);
	if (!rc)
		rc = tx_commit(s);
	if (rc) {
		fail(s, e, NULL, "writing pending chunks of run %s", s->ops[0].run_id);
		rollback(s);
		simple(s, S_SYNC_FULL);
		s->lost = true;
	}
	ops_drop(s, NULL, NULL, NULL);
	return rc ? SD_ERR_STATE : SD_OK;
}

static int pending_add(struct st_db *s, const char *run_id, const char *db, const char *tbl,
		       int64_t seq, const struct st_chunk *c, const void *data, size_t len,
		       struct sderr *e)
{
	if (s->nops == s->cap_ops) {
		s->cap_ops = s->cap_ops ? 2 * s->cap_ops : 64;
		s->ops = xrealloc(s->ops, s->cap_ops * sizeof(*s->ops));
	}
	struct pend_op *op = &s->ops[s->nops++];
	memset(op, 0, sizeof(*op));
	op->run_id = xstrdup(run_id);
	op->db = xstrdup(db);
	op->tbl = xstrdup(tbl);
	op->seq = seq;
	if (c) {
		op->put = true;
		op->c = *c;
		op->c.seq = seq;
		if (c->hi) {
			op->c.hi = xmalloc(c->hi_len ? c->hi_len : 1);
			memcpy(op->c.hi, c->hi, c->hi_len);
		}
		if (len) {
			op->data = xmalloc(len);
			memcpy(op->data, data, len);
		}
		op->len = len;
	}
	s->op_bytes += op->len + op->c.hi_len;
	if (s->op_bytes >= PENDING_FLUSH_BYTES || s->nops >= PENDING_FLUSH_OPS)
		return flush(s, e);
	return SD_OK;
}

int st_pending_put(struct st_db *s, const char *run_id, const char *db, const char *tbl,
		   const struct st_chunk *c, const void *data, size_t len, struct sderr *e)
{
	return pending_add(s, run_id, db, tbl, c->seq, c, data, len, e);
}

int st_pending_del(struct st_db *s, const char *run_id, const char *db, const char *tbl,
		   int64_t seq, struct sderr *e)
{
	return pending_add(s, run_id, db, tbl, seq, NULL, NULL, 0, e);
}

/* ---- runs ------------------------------------------------------------- */

static int discard_pending(struct st_db *s, const char *db, const char *tbl, const char *run_id)
{
	sqlite3_stmt *st = prep(s, S_DISCARD_BLOBS);
	int rc;
	if (!st || bind_key(st, db, tbl, run_id))
		return SQLITE_ERROR;
	if ((rc = finish(st)))
		return rc;
	st = prep(s, S_DISCARD);
	if (!st || bind_key(st, db, tbl, run_id))
		return SQLITE_ERROR;
	return finish(st);
}

static int run_insert(struct st_db *s, const struct st_run *run, const char *status)
{
	sqlite3_stmt *st = prep(s, S_RUN_INSERT);
	if (!st)
		return SQLITE_ERROR;
	int rc = bind_str(st, 1, run->run_id);
	rc |= bind_str(st, 2, run->db);
	rc |= bind_str(st, 3, run->tbl);
	rc |= sqlite3_bind_int64(st, 4, run->generation);
	rc |= sqlite3_bind_double(st, 5, run->started);
	if (strcmp(status, "running") != 0)
		rc |= sqlite3_bind_double(st, 6, run->finished);
	rc |= bind_str(st, 7, status);
	rc |= bind_str(st, 8, run->lineage_json);
	rc |= bind_str(st, 9, run->counts_json);
	rc |= bind_str(st, 10, run->error);
	if (rc) {
		done(st);
		return SQLITE_ERROR;
	}
	return finish(st);
}

/* Closes the latest running attempt of the run, or records a new attempt
 * when there is none (a run refused before it began, or a second ending). */
static int run_close(struct st_db *s, const struct st_run *run, const char *status)
{
	sqlite3_stmt *st = prep(s, S_RUN_UPDATE);
	if (!st)
		return SQLITE_ERROR;
	int rc = bind_str(st, 1, run->run_id);
	rc |= bind_str(st, 2, run->db);
	rc |= bind_str(st, 3, run->tbl);
	rc |= bind_str(st, 4, status);
	rc |= sqlite3_bind_double(st, 5, run->finished);
	rc |= bind_str(st, 6, run->lineage_json);
	rc |= bind_str(st, 7, run->counts_json);
	rc |= bind_str(st, 8, run->error);
	if (rc) {
		done(st);
		return SQLITE_ERROR;
	}
	if ((rc = finish(st)))
		return rc;
	if (sqlite3_changes(s->db) == 0)
		return run_insert(s, run, status);
	return SQLITE_OK;
}

int st_run_begin(struct st_db *s, const struct st_run *run, struct sderr *e)
{
	ops_drop(s, run->db, run->tbl, NULL);
	s->lost = false;
	if (tx_begin(s, true) || discard_pending(s, run->db, run->tbl, NULL) ||
	    run_insert(s, run, "running") || tx_commit(s)) {
		fail(s, e, NULL, "beginning run %s", run->run_id);
		rollback(s);
		return SD_ERR_STATE;
	}
	return SD_OK;
}

int st_run_commit(struct st_db *s, const struct st_run *run, uint64_t schema_hash,
		  const char *columns_json, struct sderr *e)
{
	const char *status = run->status && strcmp(run->status, "running") != 0 ? run->status
										 : "ok";
	sqlite3_stmt *st;
	int rc;

	if (flush(s, e))
		return SD_ERR_STATE;
	if (s->lost)
		return fail(s, e, "an earlier write of pending chunks failed, refusing to"
			    " commit a partial run", "committing run %s", run->run_id);

	if (tx_begin(s, true))
		goto sqlerr;

	/* The base generation check must read under the write lock (BEGIN
	 * IMMEDIATE holds it), so no other writer can slip in after it. */
	int64_t current = 0;
	st = prep(s, S_TABLE_GET);
	if (!st || bind_key(st, run->db, run->tbl, NULL))
		goto sqlerr;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		current = sqlite3_column_int64(st, 0);
	done(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		goto sqlerr;
	if (current != run->generation - 1) {
		char msg[256];
		snprintf(msg, sizeof(msg),
			 "%s.%s is at generation %lld but the run expects %lld"
			 " (another writer committed this table)",
			 run->db, run->tbl, (long long)current, (long long)(run->generation - 1));
		rollback(s);
		simple(s, S_SYNC_FULL);
		return fail(s, e, msg, "committing run %s", run->run_id);
	}

	static const enum sid apply[] = { S_COMMIT_FREE, S_COMMIT_DROP, S_COMMIT_MOVE, S_DISCARD };
	for (size_t i = 0; i < sizeof(apply) / sizeof(apply[0]); i++) {
		st = prep(s, apply[i]);
		if (!st || bind_key(st, run->db, run->tbl, run->run_id) || finish(st))
			goto sqlerr;
	}

	st = prep(s, S_TABLE_UPSERT);
	if (!st)
		goto sqlerr;
	rc = bind_key(st, run->db, run->tbl, NULL);
	rc |= sqlite3_bind_int64(st, 3, run->generation);
	rc |= sqlite3_bind_int64(st, 4, (sqlite3_int64)schema_hash);
	rc |= bind_str(st, 5, columns_json);
	rc |= bind_str(st, 6, run->run_id);
	rc |= sqlite3_bind_double(st, 7, run->finished);
	rc |= bind_str(st, 8, run->lineage_json);
	if (rc) {
		done(st);
		goto sqlerr;
	}
	if (finish(st) || run_close(s, run, status) || tx_commit(s))
		goto sqlerr;
	return SD_OK;
sqlerr:
	fail(s, e, NULL, "committing run %s", run->run_id);
	rollback(s);
	simple(s, S_SYNC_FULL);
	return SD_ERR_STATE;
}

int st_run_end(struct st_db *s, const struct st_run *run, struct sderr *e)
{
	const char *status = run->status ? run->status : "failed";
	ops_drop(s, run->db, run->tbl, run->run_id);
	s->lost = false;
	if (tx_begin(s, true) || discard_pending(s, run->db, run->tbl, run->run_id) ||
	    run_close(s, run, status) || tx_commit(s)) {
		fail(s, e, NULL, "ending run %s", run->run_id);
		rollback(s);
		simple(s, S_SYNC_FULL);
		return SD_ERR_STATE;
	}
	return SD_OK;
}

/* ---- maintenance and status ------------------------------------------ */

static bool ops_touch(const struct st_db *s, const char *db, const char *tbl)
{
	for (size_t i = 0; i < s->nops; i++)
		if (strcmp(s->ops[i].db, db) == 0 && strcmp(s->ops[i].tbl, tbl) == 0)
			return true;
	return false;
}

int st_chunks_respace(struct st_db *s, const char *db, const char *tbl, struct sderr *e)
{
	sqlite3_stmt *st;
	int rc;

	if (ops_touch(s, db, tbl))
		goto busy;
	if (tx_begin(s, true))
		goto sqlerr;
	/* Pending rows name live seqs (replace, delete) and new seqs chosen
	 * between them; renumbering under them would scramble the run. */
	st = prep(s, S_PENDING_ANY);
	if (!st || bind_key(st, db, tbl, NULL))
		goto sqlerr;
	rc = sqlite3_step(st);
	done(st);
	if (rc == SQLITE_ROW) {
		rollback(s);
		goto busy;
	}
	if (rc != SQLITE_DONE)
		goto sqlerr;

	st = prep(s, S_RESPACE_NEEDED);
	if (!st || bind_key(st, db, tbl, NULL))
		goto sqlerr;
	rc = sqlite3_step(st);
	done(st);
	if (rc == SQLITE_DONE) {
		rollback(s);
		return SD_OK;
	}
	if (rc != SQLITE_ROW)
		goto sqlerr;

	/* Through a temp copy of the (small) header rows: renumbering in place
	 * would collide with not-yet-moved neighbours on the primary key. */
	static const enum sid steps[] = { S_RESPACE_CLEAR, S_RESPACE_SAVE, S_RESPACE_DROP,
					  S_RESPACE_RESTORE, S_RESPACE_CLEAR };
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		st = prep(s, steps[i]);
		if (!st)
			goto sqlerr;
		if (steps[i] != S_RESPACE_CLEAR && bind_key(st, db, tbl, NULL)) {
			done(st);
			goto sqlerr;
		}
		if (finish(st))
			goto sqlerr;
	}
	if (tx_commit(s))
		goto sqlerr;
	return SD_OK;
busy:
	return fail(s, e, "the table has pending chunks of an uncommitted run",
		    "respacing %s.%s", db, tbl);
sqlerr:
	fail(s, e, NULL, "respacing %s.%s", db, tbl);
	rollback(s);
	simple(s, S_SYNC_FULL);
	return SD_ERR_STATE;
}

int st_status(struct st_db *s, st_status_fn fn, void *ctx, struct sderr *e)
{
	sqlite3_stmt *st = prep(s, S_STATUS);
	int rc;
	if (!st)
		goto sqlerr;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct st_table_info info = {
			.generation = sqlite3_column_int64(st, 2),
			.rows = sqlite3_column_int64(st, 3),
			.chunks = sqlite3_column_int64(st, 4),
			.schema_hash = (uint64_t)sqlite3_column_int64(st, 5),
			.columns_json = col_strdup(st, 6),
			.last_run_id = col_strdup(st, 7),
			.last_success = sqlite3_column_double(st, 8),
			.last_snapshot = sqlite3_column_double(st, 9),
		};
		char *db = col_strdup(st, 0), *tbl = col_strdup(st, 1);
		char *last = col_strdup(st, 10);
		fn(ctx, db, tbl, &info, last ? last : "null");
		free(db);
		free(tbl);
		free(last);
		st_table_info_release(&info);
	}
	if (rc != SQLITE_DONE)
		goto sqlerr;
	done(st);
	return SD_OK;
sqlerr:
	fail(s, e, NULL, "reading the status");
	if (st)
		done(st);
	return SD_ERR_STATE;
}

/* ---- batches ------------------------------------------------------------ */

int st_batch_begin(struct st_db *s, struct sderr *e)
{
	if (s->batch)
		return fail(s, e, "a batch is already open", "starting a batch");
	if (flush(s, e))
		return SD_ERR_STATE;
	if (simple(s, S_SYNC_FULL) || simple(s, S_BEGIN))
		return fail(s, e, NULL, "starting a batch");
	s->batch = true;
	return SD_OK;
}

int st_batch_commit(struct st_db *s, struct sderr *e)
{
	if (!s->batch)
		return fail(s, e, "no batch is open", "committing a batch");
	s->batch = false;
	if (simple(s, S_COMMIT)) {
		int rc = fail(s, e, NULL, "committing a batch");
		rollback(s);
		return rc;
	}
	return SD_OK;
}

struct sqlite3 *st_sqlite(struct st_db *s)
{
	return s->db;
}

void st_batch_abort(struct st_db *s)
{
	if (!s->batch)
		return;
	s->batch = false;
	rollback(s);
}
