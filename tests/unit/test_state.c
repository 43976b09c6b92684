/*
 * test_state — unit tests of the SQLite state store (state/state.c) against
 * real files in a temporary directory: the commit protocol (pending area,
 * one-transaction commit, generation check), crash recovery with a killed
 * child process, iteration while writing, and the batching of large runs.
 * Some checks open the file with plain SQLite to look at what the API hides
 * (journal mode, pending rows, orphaned blobs).
 */
#include "harness.h"
#include "state.h"

#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define STEP ST_SEQ_STEP

struct tmp {
	char dir[64];
	char path[96];
};

static void tmp_make(struct tmp *t)
{
	snprintf(t->dir, sizeof(t->dir), "/tmp/sdstate.XXXXXX");
	if (!mkdtemp(t->dir))
		abort();
	snprintf(t->path, sizeof(t->path), "%s/state.db", t->dir);
}

static void tmp_clean(struct tmp *t)
{
	static const char *const sfx[] = { "", "-wal", "-shm", "-journal" };
	char p[128];
	for (size_t i = 0; i < sizeof(sfx) / sizeof(sfx[0]); i++) {
		snprintf(p, sizeof(p), "%s%s", t->path, sfx[i]);
		unlink(p);
	}
	rmdir(t->dir);
}

/* First column of the first row of sql, through a separate plain connection. */
static long long raw_int(const char *path, const char *sql)
{
	sqlite3 *db;
	sqlite3_stmt *st;
	long long v = -1;
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
	    sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK) {
		if (sqlite3_step(st) == SQLITE_ROW)
			v = sqlite3_column_int64(st, 0);
		sqlite3_finalize(st);
	}
	sqlite3_close(db);
	return v;
}

static char *raw_text(const char *path, const char *sql)
{
	sqlite3 *db;
	sqlite3_stmt *st;
	char *v = NULL;
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
	    sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK) {
		if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
			v = xstrdup((const char *)sqlite3_column_text(st, 0));
		sqlite3_finalize(st);
	}
	sqlite3_close(db);
	return v;
}

/* Blobs must be referenced exactly once, by a live chunk or a pending put. */
static long long orphans(const char *path)
{
	return raw_int(path, "SELECT (SELECT count(*) FROM blobs) -"
			     " (SELECT count(*) FROM chunks) -"
			     " (SELECT count(*) FROM pending WHERE op='put')");
}

/* The deterministic content of chunk `seq` as written by generation `gen`. */
static void fill(struct buf *b, int64_t seq, int gen, size_t len)
{
	buf_reset(b);
	buf_grow(b, len);
	uint64_t x = (uint64_t)seq * 0x9E3779B97F4A7C15ull + (uint64_t)gen + 1;
	for (size_t i = 0; i < len; i += 8) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		memcpy(b->p + i, &x, len - i < 8 ? len - i : 8);
	}
	b->len = len;
	b->p[len] = '\0';
}

/* A chunk whose hi is "k<n>" (NULL for the open end), agg all `tag`. */
static struct st_chunk mk(int64_t seq, const char *hi, int64_t rows, unsigned char tag)
{
	struct st_chunk c = { .seq = seq, .rows = rows };
	c.hi = (unsigned char *)(uintptr_t)hi;
	c.hi_len = hi ? strlen(hi) : 0;
	memset(c.agg, tag, sizeof(c.agg));
	return c;
}

static struct st_run mkrun(const char *run_id, const char *db, const char *tbl, int64_t gen)
{
	struct st_run r = {
		.run_id = run_id, .db = db, .tbl = tbl, .generation = gen,
		.started = 1700000000.0 + (double)gen, .finished = 1700000010.5 + (double)gen,
		.status = "running",
		.lineage_json = "{\"snapshot_ms\":1700000000123,\"gtid_binlog_pos\":\"0-1-5\"}",
		.counts_json = "{\"inserts\":1}",
	};
	return r;
}

/* Commits generation `gen` of db.tbl with n chunks at seq (i+1)*STEP, data of
 * `len` bytes each; the last chunk is open-ended. Returns 0 or the error code. */
static int commit_n(struct st_db *s, const char *db, const char *tbl, int gen, int n,
		    size_t len, struct sderr *e)
{
	char run_id[64], hi[32];
	struct buf d = BUF_INIT;
	snprintf(run_id, sizeof(run_id), "%s.%s.%d", db, tbl, gen);
	struct st_run r = mkrun(run_id, db, tbl, gen);
	int rc = st_run_begin(s, &r, e);
	for (int i = 0; !rc && i < n; i++) {
		snprintf(hi, sizeof(hi), "k%08d", i);
		struct st_chunk c = mk((int64_t)(i + 1) * STEP, i == n - 1 ? NULL : hi, 10,
				       (unsigned char)gen);
		fill(&d, c.seq, gen, len);
		rc = st_pending_put(s, run_id, db, tbl, &c, d.p, d.len, e);
	}
	buf_release(&d);
	r.status = "ok";
	return rc ? rc : st_run_commit(s, &r, 42, "[\"id\"]", e);
}

/* Checks db.tbl holds exactly the chunks commit_n(gen, n, len) wrote. */
static int verify_n(struct st_db *s, const char *db, const char *tbl, int gen, int n,
		    size_t len, int load_every)
{
	struct sderr e = { 0 };
	struct st_chunk_iter *it;
	struct st_chunk c;
	struct buf d = BUF_INIT, want = BUF_INIT;
	char hi[32];
	int i = 0, rc, bad = 0;
	if (st_chunks_open(s, db, tbl, &it, &e))
		return -1;
	while (!bad && (rc = st_chunks_next(it, &c, &e)) == 1) {
		snprintf(hi, sizeof(hi), "k%08d", i);
		if (c.seq != (int64_t)(i + 1) * STEP || c.rows != 10 || c.agg[0] != gen ||
		    (i == n - 1 ? c.hi != NULL
				: (!c.hi || c.hi_len != 9 || memcmp(c.hi, hi, 9) != 0)))
			bad = 1;
		if (!bad && load_every && i % load_every == 0) {
			fill(&want, c.seq, gen, len);
			if (st_chunk_data(s, db, tbl, c.seq, &d, &e) || d.len != want.len ||
			    memcmp(d.p, want.p, d.len) != 0)
				bad = 1;
		}
		i++;
	}
	st_chunks_close(it);
	buf_release(&d);
	buf_release(&want);
	return bad || rc < 0 || i != n ? -1 : 0;
}

TEST(state_open_create_idempotent_wal)
{
	struct tmp t;
	struct st_db *s;
	struct sderr e = { 0 };
	tmp_make(&t);
	CHECK(access(t.path, F_OK) != 0);
	CHECK_INT(st_open(t.path, &s, &e), SD_OK);
	st_close(s);
	CHECK(access(t.path, F_OK) == 0);
	CHECK_INT(st_open(t.path, &s, &e), SD_OK);
	CHECK_INT(commit_n(s, "db", "t", 1, 2, 10, &e), SD_OK);
	st_close(s);
	CHECK_INT(st_open(t.path, &s, &e), SD_OK);
	CHECK_INT(verify_n(s, "db", "t", 1, 2, 10, 1), 0);
	st_close(s);

	char *mode = raw_text(t.path, "PRAGMA journal_mode");
	CHECK_STR(mode, "wal");
	free(mode);
	CHECK_INT(raw_int(t.path, "PRAGMA user_version"), 1);
	tmp_clean(&t);

	/* a file that is not a database, and a directory that does not exist */
	tmp_make(&t);
	FILE *f = fopen(t.path, "w");
	CHECK(f != NULL);
	for (int i = 0; i < 200; i++)
		fputs("this is not an SQLite database at all\n", f);
	fclose(f);
	CHECK_INT(st_open(t.path, &s, &e), SD_ERR_STATE);
	CHECK(s == NULL);
	CHECK(strstr(e.msg, t.path) != NULL);
	CHECK(strstr(e.msg, "not a database") != NULL);
	tmp_clean(&t);
	CHECK_INT(st_open("/nonexistent-dir/x/state.db", &s, &e), SD_ERR_STATE);
	CHECK(strstr(e.msg, "state '/nonexistent-dir/x/state.db': ") == e.msg);
}

TEST(state_newer_schema_refused)
{
	struct tmp t;
	struct st_db *s;
	struct sderr e = { 0 };
	sqlite3 *db;
	tmp_make(&t);
	CHECK_INT(sqlite3_open(t.path, &db), SQLITE_OK);
	CHECK_INT(sqlite3_exec(db, "PRAGMA user_version=99", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	CHECK_INT(st_open(t.path, &s, &e), SD_ERR_STATE);
	CHECK(strstr(e.msg, "newer") != NULL);
	tmp_clean(&t);
}

TEST(state_empty_table)
{
	struct tmp t;
	struct st_db *s;
	struct sderr e = { 0 };
	struct st_table_info info;
	struct st_chunk_iter *it;
	struct st_chunk c;
	struct buf d = BUF_INIT;
	bool found = true;
	tmp_make(&t);
	CHECK_INT(st_open(t.path, &s, &e), SD_OK);
	CHECK_INT(st_table_get(s, "db", "nope", &info, &found, &e), SD_OK);
	CHECK(!found);
	CHECK_INT(info.generation, 0);
	CHECK_INT(info.rows, 0);
	CHECK(info.columns_json == NULL && info.last_run_id == NULL);
	st_table_info_release(&info);
	CHECK_INT(st_chunks_open(s, "db", "nope", &it, &e), SD_OK);
	CHECK_INT(st_chunks_next(it, &c, &e), 0);
	CHECK_INT(st_chunks_next(it, &c, &e), 0);
	st_chunks_close(it);
	CHECK_INT(st_chunk_data(s, "db", "nope", STEP, &d, &e), SD_ERR_STATE);
	CHECK(strstr(e.msg, "no such chunk") != NULL);
	st_close(s);
	tmp_clean(&t);
}

TEST(state_commit_and_iterate)
{
	struct tmp t;
	struct st_db *s;
	struct sderr e = { 0 };
	struct st_table_info info;
	bool found;
	struct buf d = BUF_INIT;
	tmp_make(&t);
	CHECK_INT(st_open(t.path, &s, &e), SD_OK);

	struct st_run r = mkrun("db.t.1", "db", "t", 1);
	CHECK_INT(st_run_begin(s, &r, &e), SD_OK);
	/* out of seq order on purpose; an empty (non-NULL) hi and empty data */
	struct st_chunk c3 = mk(3 * STEP, NULL, 7, 3), c1 = mk(STEP, "", 0, 1),
			c2 = mk(2 * STEP, "key2", 5, 2);
	c2.has_crc = true;
	c2.crc_rows = 5;
	c2.crc = 0xfedcba9876543210ull;
	CHECK_INT(st_pending_put(s, "db.t.1", "db", "t", &c3, "three", 5, &e), SD_OK);
	CHECK_INT(st_pending_put(s, "db.t.1", "db", "t", &c1, NULL, 0, &e), SD_OK);
	CHECK_INT(st_pending_put(s, "db.t.1", "db", "t", &c2, "two!", 4, &e), SD_OK);

	/* nothing is live before the commit */
	CHECK_INT(st_table_get(s, "db", "t", &info, &found, &e), SD_OK);
	CHECK(!found);
	r.status = "ok";
	CHECK_INT(st_run_commit(s, &r, 0xfedcba9876543210ull, "[\"id\",\"name\"]", &e), SD_OK);

	CHECK_INT(st_table_get(s, "db", "t", &info, &found, &e), SD_OK);
	CHECK(found);
	CHECK_INT(info.generation, 1);
	CHECK_INT(info.rows, 12);
	CHECK_INT(info.chunks, 3);
	CHECK(info.schema_hash == 0xfedcba9876543210ull);
	CHECK_STR(info.columns_json, "[\"id\",\"name\"]");
	CHECK_STR(info.last_run_id, "db.t.1");
	CHECK(info.last_success == 1700000011.5);
	CHECK(info.last_snapshot > 1700000000.122 && info.last_snapshot < 1700000000.124);
	st_table_info_release(&info);

	struct st_chunk_iter *it;
	struct st_chunk c;
	CHECK_INT(st_chunks_open(s, "db", "t", &it, &e), SD_OK);
	CHECK_INT(st_chunks_next(it, &c, &e), 1);
	CHECK_INT(c.seq, STEP);
	CHECK(c.hi != NULL);
	CHECK_INT(c.hi_len, 0);
	CHECK_INT(c.rows, 0);
	CHECK_INT(c.agg[15], 1);
	CHECK(!c.has_crc);
	CHECK_INT(st_chunks_next(it, &c, &e), 1);
	CHECK_INT(c.seq, 2 * STEP);
	CHECK_INT(c.hi_len, 4);
	CHECK_MEM(c.hi, "key2", 4);
	CHECK_INT(c.rows, 5);
	CHECK(c.has_crc && c.crc_rows == 5 && c.crc == 0xfedcba9876543210ull);
	CHECK_INT(st_chunks_next(it, &c, &e), 1);
	CHECK_INT(c.seq, 3 * STEP);
	CHECK(c.hi == NULL);
	CHECK_INT(c.agg[0], 3);
	CHECK_INT(st_chunks_next(it, &c, &e), 0);
	st_chunks_close(it);

	CHECK_INT(st_chunk_data(s, "db", "t", 2 * STEP, &d, &e), SD_OK);
	CHECK_INT(d.len, 4);
	CHECK_MEM(d.p, "two!", 4);
	CHECK_INT(st_chunk_data(s, "db", "t", STEP, &d, &e), SD_OK);
	CHECK_INT(d.len, 0);
	CHECK_INT(st_chunk_data(s, "db", "t", 3 * STEP, &d, &e), SD_OK);
	CHECK_INT(d.len, 5);
	CHECK_MEM(d.p, "three", 5);
	buf_release(&d);
	st_close(s);

	CHECK_INT(raw_int(t.path, "SELECT count(*) FROM pending"), 0);
	CHECK_INT(orphans(t.path), 0);
	char *st = raw_text(t.path, "SELECT status || ' ' || finished FROM runs WHERE run_id='db.t.1'");
	CHECK_STR(st, "ok 1700000011.5");
	free(st);
	tmp_clean(&t);
}

TEST(state_uncommitted_run_leaves_state)
{
	struct tmp t;
	struct st_db *s;
	struct sderr e = { 0 };
	struct st_table_info info;
	bool found;
	struct buf d = BUF_INIT;
	tmp_make(&t);
	CHECK_INT(st_open(t.path, &s, &e), SD_OK);
	CHECK_INT(commit_n(s, "db", "t", 1, 20, 100, &e), SD_OK);

	/* enough data that several pending batches reach the file */
	struct st_run r = mkrun("db.t.2", "db", "t", 2);
	CHECK_INT(st_run_begin(s, &r, &e), SD_OK);
	for (int i = 0; i < 20; i++) {
		struct st_chunk c = mk((int64_t)(i + 1) * STEP, "zz", 99, 0xee);
		fill(&d, c.seq, 2, 1 << 20);
		CHECK_INT(st_pending_put(s, "db.t.2", "db", "t", &c, d.p, d.len, &e), SD_OK);
	}
	CHECK_INT(st_pending_del(s, "db.t.2", "db", "t", 5 * STEP, &e), SD_OK);
	st_close(s); /* no commit */
	CHECK(raw_int(t.path, "SELECT count(*) FROM pending") > 0);

	CHECK_INT(st_open(t.path, &s, &e), SD_OK);
	CHECK_INT(verify_n(s, "db", "t", 1, 20, 100, 1), 0);
	CHECK_INT(st_table_get(s, "db", "t", &info, &found, &e), SD_OK);
	CHECK_INT(info.generation, 1);
	CHECK_INT(info.rows, 200);
	st_table_info_release(&info);

	/* the retry of the same run discards what the first attempt left */
	CHECK_INT(st_run_begin(s, &r, &e), SD_OK);
	CHECK_INT(raw_int(t.path, "SELECT count(*) FROM pending"), 0);
	CHECK_INT(orphans(t.path), 0);
	CHECK_INT(raw_int(t.path, "SELECT count(*) FROM runs WHERE run_id='db.t.2'"), 2);
	struct st_chunk c = mk(STEP, "k", 1, 2);
	CHECK_INT(st_pending_put(s, "db.t.2", "db", "t", &c, "x", 1, &e), SD_OK);
	r.status = "ok";
	CHECK_INT(st_run_commit(s, &r, 42, "[]", &e), SD_OK);
	CHECK_INT(st_table_get(s, "db", "t", &info, &found, &e), SD_OK);
	CHECK_INT(info.generation, 2);
	CHECK_INT(info.rows, 1 + 19 * 10);
	st_table_info_release(&info);
	/* the first attempt stays recorded as it was left: running */
	CHECK_INT(raw_int(t.path, "SELECT count(*) FROM runs WHERE run_id='db.t.2'"
				  " AND status='running'"), 1);
	CHECK_INT(raw_int(t.path, "SELECT count(*) FROM runs WHERE run_id='db.t.2'"
				  " AND status='ok'"), 1);
	buf_release(&d);
	st_close(s);
	CHECK_INT(orphans(t.path), 0);
	tmp_clean(&t);
}

TEST(state_wrong_base_generation)
{
	struct tmp t;
	struct st_db *s;
	struct sderr e = { 0 };
	struct st_table_info info;
	bool found;
	tmp_make(&t);
	CHECK_INT(st_open(t.path, &s, &e), SD_OK);
	CHECK_INT(commit_n(s, "db", "t", 1, 3, 50, &e), SD_OK);

	struct st_run r = mkrun("db.t.3", "db", "t", 3); /* base 2, but we are at 1 */
	CHECK_INT(st_run_begin(s, &r, &e), SD_OK);
	struct st_chunk c = mk(STEP, "new", 1000, 9);
	CHECK_INT(st_pending_put(s, "db.t.3", "db", "t", &c, "new", 3, &e), SD_OK);
	CHECK_INT(st_pending_del(s, "db.t.3", "db", "t", 2 * STEP, &e), SD_OK);
	r.status = "ok";
	CHECK_INT(st_run_commit(s, &r, 7, "[\"x\"]", &e), SD_ERR_STATE);
	CHECK(strstr(e.msg, "generation 1") != NULL);
	CHECK(strstr(e.msg, "committing run db.t.3") != NULL);

	CHECK_INT(verify_n(s, "db", "t", 1, 3, 50, 1), 0);
	CHECK_INT(st_table_get(s, "db", "t", &info, &found, &e), SD_OK);
	CHECK_INT(info.generation, 1);
	CHECK_INT(info.rows, 30);
	CHECK(info.schema_hash == 42);
	CHECK_STR(info.last_run_id, "db.t.1");
	st_table_info_release(&info);
	CHECK_INT(raw_int(t.path, "SELECT count(*) FROM runs WHERE status='running'"), 1);

	r.status = "failed";
	r.error = "state: base generation mismatch";
	CHECK_INT(st_run_end(s, &r, &e), SD_OK);
	CHECK_INT(raw_int(t.path, "SELECT count(*) FROM pending"), 0);
	CHECK_INT(raw_int(t.path, "SELECT count(*) FROM runs WHERE status='failed'"
				  " AND error LIKE '%mismatch'"), 1);
	CHECK_INT(orphans(t.path), 0);
	CHECK_INT(verify_n(s, "db", "t", 1, 3, 50, 1), 0);
	st_close(s);
	tmp_clean(&t);
}

TEST(state_replace_and_delete)
{
	struct tmp t;
	struct st_db *s;
	struct sderr e = { 0 };
	struct st_table_info info;
	bool found;
	struct buf d = BUF_INIT;
	tmp_make(&t);
	CHECK_INT(st_open(t.path, &s, &e), SD_OK);
	CHECK_INT(commit_n(s, "db", "t", 1, 4, 64, &e), SD_OK); /* seq 1..4 * STEP */

	struct st_run r = mkrun("db.t.2", "db", "t", 2);
	CHECK_INT(st_run_begin(s, &r, &e), SD_OK);
	struct st_chunk b = mk(2 * STEP, "k00000001", 33, 0xbb);
	struct st_chunk split = mk(STEP + STEP / 2, "k00000000x", 4, 0xaa);
	CHECK_INT(st_pending_put(s, "db.t.2", "db", "t", &b, "first version", 13, &e), SD_OK);
	CHECK_INT(st_pending_put(s, "db.t.2", "db", "t", &split, "split", 5, &e), SD_OK);
	CHECK_INT(st_pending_del(s, "db.t.2", "db", "t", 3 * STEP, &e), SD_OK);
	/* a second write of the same seq in one run wins */
	CHECK_INT(st_pending_put(s, "db.t.2", "db", "t", &b, "B'", 2, &e), SD_OK);
	/* put then del of a new seq: nothing appears */
	struct st_chunk ghost = mk(3 * STEP + 5, "zz", 1, 1);
	CHECK_INT(st_pending_put(s, "db.t.2", "db", "t", &ghost, "ghost", 5, &e), SD_OK);
	CHECK_INT(st_pending_del(s, "db.t.2", "db", "t", ghost.seq, &e), SD_OK);
	r.status = "ok";
	CHECK_INT(st_run_commit(s, &r, 42, "[]", &e), SD_OK);

	static const int64_t want_seq[] = { STEP, STEP + STEP / 2, 2 * STEP, 4 * STEP };
	static const int64_t want_rows[] = { 10, 4, 33, 10 };
	struct st_chunk_iter *it;
	struct st_chunk c;
	CHECK_INT(st_chunks_open(s, "db", "t", &it, &e), SD_OK);
	for (int i = 0; i < 4; i++) {
		CHECK_INT(st_chunks_next(it, &c, &e), 1);
		CHECK_INT(c.seq, want_seq[i]);
		CHECK_INT(c.rows, want_rows[i]);
	}
	CHECK_INT(st_chunks_next(it, &c, &e), 0);
	st_chunks_close(it);
	CHECK_INT(st_chunk_data(s, "db", "t", 2 * STEP, &d, &e), SD_OK);
	CHECK_INT(d.len, 2);
	CHECK_MEM(d.p, "B'", 2);
	CHECK_INT(st_chunk_data(s, "db", "t", 3 * STEP, &d, &e), SD_ERR_STATE);
	CHECK_INT(st_chunk_data(s, "db", "t", ghost.seq, &d, &e), SD_ERR_STATE);
	CHECK_INT(st_table_get(s, "db", "t", &info, &found, &e), SD_OK);
	CHECK_INT(info.generation, 2);
	CHECK_INT(info.chunks, 4);
	CHECK_INT(info.rows, 57);
	st_table_info_release(&info);
	buf_release(&d);
	st_close(s);
	CHECK_INT(orphans(t.path), 0);
	CHECK_INT(raw_int(t.path, "SELECT count(*) FROM blobs"), 4);
	tmp_clean(&t);
}

TEST(state_respace_keeps_order)
{
	struct tmp t;
	struct st_db *s;
	struct sderr e = { 0 };
	struct buf d = BUF_INIT;
	tmp_make(&t);
	CHECK_INT(st_open(t.path, &s, &e), SD_OK);

	static const int64_t seqs[] = { -5, 10, 11, 20, 100000, 5 * STEP };
	const int n = (int)(sizeof(seqs) / sizeof(seqs[0]));
	struct st_run r = mkrun("db.t.1", "db", "t", 1);
	CHECK_INT(st_run_begin(s, &r, &e), SD_OK);
	for (int i = 0; i < n; i++) {
		char hi[8], data[8];
		snprintf(hi, sizeof(hi), "h%d", i);
		snprintf(data, sizeof(data), "d%d", i);
		struct st_chunk c = mk(seqs[i], hi, i, (unsigned char)i);
		CHECK_INT(st_pending_put(s, "db.t.1", "db", "t", &c, data, strlen(data), &e), SD_OK);
	}
	r.status = "ok";
	CHECK_INT(st_run_commit(s, &r, 1, "[]", &e), SD_OK);

	/* refused while a run has pending chunks for the table */
	struct st_run r2 = mkrun("db.t.2", "db", "t", 2);
	CHECK_INT(st_run_begin(s, &r2, &e), SD_OK);
	struct st_chunk x = mk(11, "h2", 2, 2);
	CHECK_INT(st_pending_put(s, "db.t.2", "db", "t", &x, "x", 1, &e), SD_OK);
	CHECK_INT(st_chunks_respace(s, "db", "t", &e), SD_ERR_STATE);
	CHECK(strstr(e.msg, "pending") != NULL);
	r2.status = "dry-run";
	CHECK_INT(st_run_end(s, &r2, &e), SD_OK);

	CHECK_INT(st_chunks_respace(s, "db", "t", &e), SD_OK);
	for (int pass = 0; pass < 2; pass++) {
		struct st_chunk_iter *it;
		struct st_chunk c;
		CHECK_INT(st_chunks_open(s, "db", "t", &it, &e), SD_OK);
		for (int i = 0; i < n; i++) {
			char hi[8], data[8];
			snprintf(hi, sizeof(hi), "h%d", i);
			snprintf(data, sizeof(data), "d%d", i);
			CHECK_INT(st_chunks_next(it, &c, &e), 1);
			CHECK_INT(c.seq, (int64_t)(i + 1) * STEP);
			CHECK_INT(c.hi_len, strlen(hi));
			CHECK_MEM(c.hi, hi, c.hi_len);
			CHECK_INT(c.rows, i);
			CHECK_INT(c.agg[3], i);
			CHECK_INT(st_chunk_data(s, "db", "t", c.seq, &d, &e), SD_OK);
			CHECK_STR(d.p, data);
		}
		CHECK_INT(st_chunks_next(it, &c, &e), 0);
		st_chunks_close(it);
		/* already spaced: the second respace changes nothing */
		CHECK_INT(st_chunks_respace(s, "db", "t", &e), SD_OK);
	}
	buf_release(&d);
	st_close(s);
	CHECK_INT(orphans(t.path), 0);
	tmp_clean(&t);
}

struct seen {
	int n;
	char name[8][32];
	char json[8][1024];
	int64_t gen[8];
};

static void status_cb(void *ctx, const char *db, const char *tbl,
		      const struct st_table_info *info, const char *last_run_json)
{
	struct seen *sn = ctx;
	if (sn->n >= 8)
		return;
	snprintf(sn->name[sn->n], sizeof(sn->name[0]), "%s.%s", db, tbl);
	snprintf(sn->json[sn->n], sizeof(sn->json[0]), "%s", last_run_json);
	sn->gen[sn->n] = info->generation;
	sn->n++;
}

TEST(state_status)
{
	struct tmp t;
	struct st_db *s;
	struct sderr e = { 0 };
	struct seen sn = { 0 };
	tmp_make(&t);
	CHECK_INT(st_open(t.path, &s, &e), SD_OK);
	CHECK_INT(st_status(s, status_cb, &sn, &e), SD_OK);
	CHECK_INT(sn.n, 0);

	CHECK_INT(commit_n(s, "a", "t1", 1, 2, 8, &e), SD_OK);
	CHECK_INT(commit_n(s, "a", "t2", 1, 2, 8, &e), SD_OK);
	struct st_run r = mkrun("a.t2.2", "a", "t2", 2);
	CHECK_INT(st_run_begin(s, &r, &e), SD_OK);
	r.status = "failed";
	r.error = "boom";
	r.counts_json = "not json";
	CHECK_INT(st_run_end(s, &r, &e), SD_OK);
	/* refused before it began: only st_run_end */
	struct st_run q = mkrun("b.t3.1", "b", "t3", 1);
	q.status = "refused";
	q.error = "mass delete";
	CHECK_INT(st_run_end(s, &q, &e), SD_OK);

	CHECK_INT(st_status(s, status_cb, &sn, &e), SD_OK);
	CHECK_INT(sn.n, 3);
	CHECK_STR(sn.name[0], "a.t1");
	CHECK_STR(sn.name[1], "a.t2");
	CHECK_STR(sn.name[2], "b.t3");
	CHECK_INT(sn.gen[0], 1);
	CHECK_INT(sn.gen[1], 1);
	CHECK_INT(sn.gen[2], 0);
	CHECK(strstr(sn.json[0], "\"status\":\"ok\"") != NULL);
	CHECK(strstr(sn.json[0], "\"counts\":{\"inserts\":1}") != NULL);
	CHECK(strstr(sn.json[0], "\"snapshot_ms\":1700000000123") != NULL);
	CHECK(strstr(sn.json[1], "\"status\":\"failed\"") != NULL);
	CHECK(strstr(sn.json[1], "\"error\":\"boom\"") != NULL);
	CHECK(strstr(sn.json[1], "\"counts\":\"not json\"") != NULL);
	CHECK(strstr(sn.json[1], "\"last_ok\":{") != NULL);
	CHECK(strstr(sn.json[1], "\"run_id\":\"a.t2.1\"") != NULL);
	CHECK(strstr(sn.json[2], "\"status\":\"refused\"") != NULL);
	CHECK(strstr(sn.json[2], "\"last_ok\":null") != NULL);
	st_close(s);
	tmp_clean(&t);
}

TEST(state_iterate_while_putting)
{
	struct tmp t;
	struct st_db *s;
	struct sderr e = { 0 };
	struct buf d = BUF_INIT;
	const int n = 3000;
	tmp_make(&t);
	CHECK_INT(st_open(t.path, &s, &e), SD_OK);
	CHECK_INT(commit_n(s, "db", "t", 1, n, 16, &e), SD_OK);

	/* every chunk is rewritten while iterating: pending batches (by count and
	 * by size) are committed between st_chunks_next calls */
	struct st_run r = mkrun("db.t.2", "db", "t", 2);
	CHECK_INT(st_run_begin(s, &r, &e), SD_OK);
	struct st_chunk_iter *it;
	struct st_chunk c;
	int i = 0, rc;
	int64_t prev = INT64_MIN;
	CHECK_INT(st_chunks_open(s, "db", "t", &it, &e), SD_OK);
	while ((rc = st_chunks_next(it, &c, &e)) == 1) {
		CHECK(c.seq > prev);
		prev = c.seq;
		CHECK_INT(c.agg[0], 1);
		struct st_chunk nc = c; /* hi borrowed from the iterator */
		memset(nc.agg, 2, 16);
		fill(&d, c.seq, 2, i % 7 == 0 ? 9000 : 16);
		CHECK_INT(st_pending_put(s, "db.t.2", "db", "t", &nc, d.p, d.len, &e), SD_OK);
		i++;
	}
	CHECK_INT(rc, 0);
	st_chunks_close(it);
	CHECK_INT(i, n);
	r.status = "ok";
	CHECK_INT(st_run_commit(s, &r, 42, "[]", &e), SD_OK);

	CHECK_INT(st_chunks_open(s, "db", "t", &it, &e), SD_OK);
	i = 0;
	while ((rc = st_chunks_next(it, &c, &e)) == 1) {
		CHECK_INT(c.agg[0], 2);
		if (i % 97 == 0) {
			struct buf want = BUF_INIT;
			fill(&want, c.seq, 2, i % 7 == 0 ? 9000 : 16);
			CHECK_INT(st_chunk_data(s, "db", "t", c.seq, &d, &e), SD_OK);
			CHECK_INT(d.len, want.len);
			CHECK_MEM(d.p, want.p, d.len);
			buf_release(&want);
		}
		i++;
	}
	st_chunks_close(it);
	CHECK_INT(i, n);
	buf_release(&d);
	st_close(s);
	CHECK_INT(orphans(t.path), 0);
	tmp_clean(&t);
}

/* Two handles on one file (as two snapdiff processes would be): while one
 * iterates and writes pending chunks of table A, the other commits whole runs
 * of table B. Holding a read snapshot across calls would make A's next write
 * fail with SQLITE_BUSY_SNAPSHOT; holding a write lock would block B. */
TEST(state_two_writers)
{
	struct tmp t;
	struct st_db *s1, *s2;
	struct sderr e = { 0 };
	struct buf d = BUF_INIT;
	const int n = 700;
	tmp_make(&t);
	CHECK_INT(st_open(t.path, &s1, &e), SD_OK);
	CHECK_INT(st_open(t.path, &s2, &e), SD_OK);
	CHECK_INT(commit_n(s1, "db", "a", 1, n, 16, &e), SD_OK);

	struct st_run r = mkrun("db.a.2", "db", "a", 2);
	CHECK_INT(st_run_begin(s1, &r, &e), SD_OK);
	struct st_chunk_iter *it;
	struct st_chunk c;
	int i = 0, rc, bgen = 0;
	CHECK_INT(st_chunks_open(s1, "db", "a", &it, &e), SD_OK);
	while ((rc = st_chunks_next(it, &c, &e)) == 1) {
		if (i % 100 == 50)
			CHECK_INT(commit_n(s2, "db", "b", ++bgen, 3, 100, &e), SD_OK);
		struct st_chunk nc = c;
		memset(nc.agg, 2, 16);
		fill(&d, c.seq, 2, 16384); /* flushes every 256 puts */
		CHECK_INT(st_pending_put(s1, "db.a.2", "db", "a", &nc, d.p, d.len, &e), SD_OK);
		i++;
	}
	st_chunks_close(it);
	CHECK_INT(rc, 0);
	CHECK_INT(i, n);
	r.status = "ok";
	CHECK_INT(st_run_commit(s1, &r, 42, "[]", &e), SD_OK);
	CHECK_INT(verify_n(s2, "db", "b", bgen, 3, 100, 1), 0);
	CHECK_INT(verify_n(s2, "db", "a", 2, n, 16384, 50), 0);
	buf_release(&d);
	st_close(s1);
	st_close(s2);
	CHECK_INT(orphans(t.path), 0);
	tmp_clean(&t);
}

/* The child begins generation 2, writes pending chunks (several batches reach
 * the file) and dies without committing; how it dies is `how`. */
static void crash_child(const char *path, int how)
{
	struct st_db *s;
	struct sderr e;
	struct buf d = BUF_INIT;
	if (st_open(path, &s, &e))
		_exit(3);
	struct st_run r = mkrun("db.t.2", "db", "t", 2);
	if (st_run_begin(s, &r, &e))
		_exit(4);
	for (int i = 0; i < 40; i++) {
		struct st_chunk c = mk((int64_t)(i + 1) * STEP, "k", 1, 0xcc);
		fill(&d, c.seq, 2, 256 * 1024);
		if (st_pending_put(s, "db.t.2", "db", "t", &c, d.p, d.len, &e))
			_exit(5);
	}
	if (how == 0)
		_exit(0);
	raise(SIGKILL);
	_exit(6);
}

TEST(state_crash_before_commit)
{
	for (int how = 0; how < 2; how++) {
		struct tmp t;
		struct st_db *s;
		struct sderr e = { 0 };
		struct st_table_info info;
		bool found;
		tmp_make(&t);
		CHECK_INT(st_open(t.path, &s, &e), SD_OK);
		CHECK_INT(commit_n(s, "db", "t", 1, 10, 1000, &e), SD_OK);
		st_close(s);

		fflush(stdout);
		pid_t pid = fork();
		CHECK(pid >= 0);
		if (pid == 0)
			crash_child(t.path, how);
		int ws;
		CHECK_INT(waitpid(pid, &ws, 0), pid);
		if (how == 0)
			CHECK(WIFEXITED(ws) && WEXITSTATUS(ws) == 0);
		else
			CHECK(WIFSIGNALED(ws) && WTERMSIG(ws) == SIGKILL);

		CHECK(raw_int(t.path, "SELECT count(*) FROM pending") >= 32);
		CHECK_INT(st_open(t.path, &s, &e), SD_OK);
		CHECK_INT(verify_n(s, "db", "t", 1, 10, 1000, 1), 0);
		CHECK_INT(st_table_get(s, "db", "t", &info, &found, &e), SD_OK);
		CHECK_INT(info.generation, 1);
		CHECK_INT(info.chunks, 10);
		st_table_info_release(&info);

		struct st_run r = mkrun("db.t.2", "db", "t", 2);
		CHECK_INT(st_run_begin(s, &r, &e), SD_OK);
		CHECK_INT(raw_int(t.path, "SELECT count(*) FROM pending"), 0);
		CHECK_INT(orphans(t.path), 0);
		r.status = "ok";
		CHECK_INT(st_run_commit(s, &r, 42, "[]", &e), SD_OK);
		CHECK_INT(verify_n(s, "db", "t", 1, 10, 1000, 1), 0); /* no changes */
		CHECK_INT(st_table_get(s, "db", "t", &info, &found, &e), SD_OK);
		CHECK_INT(info.generation, 2);
		st_table_info_release(&info);
		st_close(s);
		tmp_clean(&t);
	}
}

TEST(state_large_run)
{
	struct tmp t;
	struct st_db *s;
	struct sderr e = { 0 };
	const int n = 2000;
	const size_t len = 64 * 1024;
	tmp_make(&t);
	CHECK_INT(st_open(t.path, &s, &e), SD_OK);
	CHECK_INT(commit_n(s, "db", "big", 1, n, len, &e), SD_OK);
	CHECK_INT(verify_n(s, "db", "big", 1, n, len, 111), 0);

	/* the iteration itself must not read the 128 MB of data */
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	CHECK_INT(verify_n(s, "db", "big", 1, n, len, 0), 0);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
	printf("# iterating %d chunk headers: %.1f ms\n", n, ms);

	/* rewrite everything: the old blobs must all be freed */
	CHECK_INT(commit_n(s, "db", "big", 2, n, len, &e), SD_OK);
	CHECK_INT(verify_n(s, "db", "big", 2, n, len, 97), 0);
	st_close(s);
	CHECK_INT(orphans(t.path), 0);
	CHECK_INT(raw_int(t.path, "SELECT count(*) FROM blobs"), n);
	tmp_clean(&t);
}

/* The SQLite behaviour the store's design rests on (docs/state.md,
 * Concurrency), pinned so that a change in SQLite shows up here: on one
 * connection a COMMIT with a read statement open works; but once another
 * connection has committed, a connection still holding that read snapshot
 * cannot start writing (SQLITE_BUSY_SNAPSHOT, not retried by busy_timeout),
 * which is why the chunk iterator never keeps its statement open. */
TEST(state_sqlite_open_statement_facts)
{
	struct tmp t;
	sqlite3 *a, *b;
	sqlite3_stmt *st;
	tmp_make(&t);
	CHECK_INT(sqlite3_open(t.path, &a), SQLITE_OK);
	CHECK_INT(sqlite3_open(t.path, &b), SQLITE_OK);
	sqlite3_extended_result_codes(a, 1);
	sqlite3_busy_timeout(a, 200);
	CHECK_INT(sqlite3_exec(a, "PRAGMA journal_mode=WAL; CREATE TABLE c(x); CREATE TABLE p(x);"
				  " INSERT INTO c VALUES (1), (2), (3);", NULL, NULL, NULL),
		  SQLITE_OK);
	CHECK_INT(sqlite3_prepare_v2(a, "SELECT x FROM c", -1, &st, NULL), SQLITE_OK);
	CHECK_INT(sqlite3_step(st), SQLITE_ROW);
	CHECK_INT(sqlite3_exec(a, "BEGIN IMMEDIATE; INSERT INTO p VALUES (1); COMMIT;",
			       NULL, NULL, NULL), SQLITE_OK);
	CHECK_INT(sqlite3_step(st), SQLITE_ROW);
	CHECK_INT(sqlite3_exec(b, "INSERT INTO p VALUES (2)", NULL, NULL, NULL), SQLITE_OK);
	CHECK_INT(sqlite3_exec(a, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_BUSY_SNAPSHOT);
	CHECK_INT(sqlite3_step(st), SQLITE_ROW);
	CHECK_INT(sqlite3_step(st), SQLITE_DONE);
	sqlite3_finalize(st);
	CHECK_INT(sqlite3_exec(a, "BEGIN IMMEDIATE; INSERT INTO p VALUES (3); COMMIT;",
			       NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(a);
	sqlite3_close(b);
	tmp_clean(&t);
}

/* Begins gen of db.tbl with n chunks pending; the caller commits. */
static int stage_n(struct st_db *s, const char *db, const char *tbl, int gen, int n,
		   struct st_run *r, char *run_id, struct sderr *e)
{
	char hi[32];
	struct buf d = BUF_INIT;
	snprintf(run_id, 64, "%s.%s.%d", db, tbl, gen);
	*r = mkrun(run_id, db, tbl, gen);
	int rc = st_run_begin(s, r, e);
	for (int i = 0; !rc && i < n; i++) {
		snprintf(hi, sizeof(hi), "k%08d", i);
		struct st_chunk c = mk((int64_t)(i + 1) * STEP, i == n - 1 ? NULL : hi, 10,
				       (unsigned char)gen);
		fill(&d, c.seq, gen, 100);
		rc = st_pending_put(s, run_id, db, tbl, &c, d.p, d.len, e);
	}
	buf_release(&d);
	r->status = "ok";
	return rc;
}

TEST(state_batch_commits_tables_together_or_not_at_all)
{
	struct tmp t;
	tmp_make(&t);
	struct st_db *s;
	struct sderr e = { 0 };
	CHECK(st_open(t.path, &s, &e) == SD_OK);
	struct st_run rp, rr;
	char idp[64], idr[64];
	CHECK(stage_n(s, "w", "page", 1, 3, &rp, idp, &e) == SD_OK);
	CHECK(stage_n(s, "w", "revision", 1, 5, &rr, idr, &e) == SD_OK);
	CHECK(st_batch_begin(s, &e) == SD_OK);
	CHECK(st_run_commit(s, &rp, 1, "[]", &e) == SD_OK);
	CHECK(st_run_commit(s, &rr, 1, "[]", &e) == SD_OK);
	/* nothing is visible to another connection before the batch commits */
	CHECK(raw_int(t.path, "SELECT COUNT(*) FROM chunks") == 0);
	CHECK(st_batch_commit(s, &e) == SD_OK);
	CHECK(verify_n(s, "w", "page", 1, 3, 100, 1) == 0);
	CHECK(verify_n(s, "w", "revision", 1, 5, 100, 1) == 0);

	/* generation 2: page commits, revision's commit fails (wrong base), abort */
	CHECK(stage_n(s, "w", "page", 2, 4, &rp, idp, &e) == SD_OK);
	CHECK(stage_n(s, "w", "revision", 2, 2, &rr, idr, &e) == SD_OK);
	rr.generation = 7;
	CHECK(st_batch_begin(s, &e) == SD_OK);
	CHECK(st_run_commit(s, &rp, 1, "[]", &e) == SD_OK);
	CHECK(st_run_commit(s, &rr, 1, "[]", &e) == SD_ERR_STATE);
	st_batch_abort(s);
	CHECK(verify_n(s, "w", "page", 1, 3, 100, 1) == 0);
	CHECK(verify_n(s, "w", "revision", 1, 5, 100, 1) == 0);
	bool found;
	struct st_table_info info;
	CHECK(st_table_get(s, "w", "page", &info, &found, &e) == SD_OK && found);
	CHECK_INT(info.generation, 1);
	st_table_info_release(&info);
	st_close(s);
	tmp_clean(&t);
}
