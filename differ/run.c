/*
 * run — one (database, table) run: lock, introspect, snapshot, visit every
 * stored chunk's key range in order, detect changes, spool them, apply the
 * guards, deliver to the sinks, and commit state last.
 *
 * A range is first scanned in "buffer" mode: rows are kept (up to a byte
 * budget) while an aggregate hash of (key, row hash) is computed; if the
 * count and the aggregate equal the stored chunk's, the range is unchanged
 * and nothing else happens — the stored list is not even read. Otherwise the
 * stored list is loaded and the range is merged against it: inserts, updates
 * (hash differs) and, at the end of the range, deletes (stored keys not
 * seen). A merged range is rewritten as one or more new chunks ("pieces"),
 * which is how chunks split when a range grows.
 *
 * Chunk boundaries are implicit: a chunk covers (previous hi, hi], and the
 * last chunk is open-ended (hi = NULL). Pieces close lazily — only when the
 * next row arrives — so the last piece of a range always ends at the range's
 * own hi and no key range is ever left uncovered.
 */
#include "run.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "diff.h"
#include "spool.h"

#define BUFFER_BUDGET ((size_t)64 << 20)

/* Test hook: SNAPDIFF_FAULT=kill-after-rows:N or kill-before-commit makes the
 * process SIGKILL itself at that point, so crash safety is tested at exact
 * places (tests/integration/test_crash.py) and not only by timing. */
static void fault_point(const char *point, int64_t rows)
{
	static const char *f;
	static int looked;
	if (!looked) {
		f = getenv("SNAPDIFF_FAULT");
		looked = 1;
	}
	if (!f)
		return;
	size_t n = strlen(point);
	if (strncmp(f, point, n) != 0)
		return;
	if (f[n] == ':' && rows < strtoll(f + n + 1, NULL, 10))
		return;
	kill(getpid(), SIGKILL);
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static double mono(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

struct ctx {
	struct run_env *env;
	const struct cfg_table *tc;
	const struct sd_table *t;
	const char *db;
	struct sd_run_info info;
	struct run_counts *n;
	struct spool *spool;
	struct sderr *e;
	int64_t base_gen;
	bool emit;              /* spool changes at all (initial_events: none => false) */
	bool images_ok;         /* stored images match the current column layout        */
	bool pushdown;
	int64_t target;         /* rows per chunk, adapted toward chunk_time            */
	/* the range being processed */
	const struct st_chunk *stored;
	bool merging;
	bool have_index;
	struct buf stored_blob;
	struct pack_index ix;
	struct buf held_list;   /* buffer mode: varint klen, key, hash (the pack list)  */
	struct buf held;        /* buffer mode: varint rlen, row, in the same order     */
	int64_t held_rows;
	/* pieces */
	struct pack cur;
	int64_t seq_lo, seq_step, piece_no;
	struct buf blob;
	bool range_has_crc;
	int64_t range_crc_rows;
	uint64_t range_crc;
};

static int spool_change(struct ctx *x, enum sd_op op, const unsigned char *key, size_t klen,
			const unsigned char *before_hash, const unsigned char *after_hash,
			const unsigned char *before, size_t blen,
			const unsigned char *after, size_t alen)
{
	if (op == SD_OP_INSERT)
		x->n->inserted++;
	else if (op == SD_OP_UPDATE)
		x->n->updated++;
	else
		x->n->deleted++;
	if (!x->emit)
		return SD_OK;
	struct sd_change c = {
		.op = op,
		.snapshot = x->info.initial && op == SD_OP_INSERT,
		.key = key, .key_len = klen,
		.before = x->images_ok ? before : NULL, .before_len = x->images_ok ? blen : 0,
		.after = after, .after_len = alen,
	};
	diff_event_id(x->db, x->t->name, x->base_gen, op, key, klen, before_hash, after_hash, c.id);
	return spool_add(x->spool, &c, x->e);
}

/* Writes the current piece as a pending chunk ending at hi (NULL = open). */
static int close_piece(struct ctx *x, const unsigned char *hi, size_t hi_len)
{
	struct st_chunk c;
	memset(&c, 0, sizeof(c));
	if (x->piece_no > 0 && x->seq_step == 0)
		return sderr_set(x->e, SD_ERR_STATE, "'%s.%s': no room to split a chunk; rerun to respace",
				 x->db, x->t->name);
	c.seq = x->seq_lo + x->piece_no * x->seq_step;
	c.hi = (unsigned char *)hi;
	c.hi_len = hi_len;
	c.rows = x->cur.rows;
	pack_agg(&x->cur, c.agg);
	pack_blob(&x->cur, &x->blob);
	/* a range rewritten as exactly one piece has the checksum just computed */
	if (x->range_has_crc && x->piece_no == 0 && hi == (x->stored ? x->stored->hi : NULL)) {
		c.has_crc = true;
		c.crc_rows = x->range_crc_rows;
		c.crc = x->range_crc;
	}
	int rc = st_pending_put(x->env->st, x->info.run_id, x->db, x->t->name, &c, x->blob.p, x->blob.len, x->e);
	x->piece_no++;
	pack_reset(&x->cur);
	return rc;
}

static int merge_row(struct ctx *x, const unsigned char *key, size_t klen, const unsigned char *hash,
		     const unsigned char *row, size_t rlen)
{
	int rc;
	if (x->cur.rows >= x->target) {
		/* lazy close: the piece ends at its last key only now that a row follows */
		struct buf hi = BUF_INIT;
		buf_add(&hi, x->cur.last_key, x->cur.last_key_len);
		rc = close_piece(x, (unsigned char *)hi.p, hi.len);
		buf_release(&hi);
		if (rc)
			return rc;
	}
	struct pack_entry *en = x->have_index ? pack_index_find(&x->ix, key, klen) : NULL;
	if (en) {
		en->seen = true;
		if (memcmp(en->hash, hash, 16) != 0)
			rc = spool_change(x, SD_OP_UPDATE, key, klen, en->hash, hash, en->image,
					  en->image_len, row, rlen);
		else
			rc = SD_OK;
	} else {
		rc = spool_change(x, SD_OP_INSERT, key, klen, NULL, hash, NULL, 0, row, rlen);
	}
	if (rc)
		return rc;
	pack_add(&x->cur, key, klen, hash, row, rlen);
	return SD_OK;
}

/* Leaves buffer mode: loads the stored list and merges the held rows. */
static int start_merge(struct ctx *x)
{
	x->merging = true;
	if (x->stored) {
		int rc = st_chunk_data(x->env->st, x->db, x->t->name, x->stored->seq, &x->stored_blob, x->e);
		if (rc)
			return rc;
		if (pack_index_build(&x->ix, (const unsigned char *)x->stored_blob.p, x->stored_blob.len) < 0)
			return sderr_set(x->e, SD_ERR_STATE, "'%s.%s': stored chunk %lld is corrupt",
					 x->db, x->t->name, (long long)x->stored->seq);
		x->have_index = true;
	}
	const unsigned char *l = (const unsigned char *)x->held_list.p, *lend = l + x->held_list.len;
	const unsigned char *p = (const unsigned char *)x->held.p, *end = p + x->held.len;
	while (l < lend) {
		uint64_t klen, rlen;
		varint_get(&l, lend, &klen);
		const unsigned char *key = l, *hash = l + klen;
		l += klen + 16;
		varint_get(&p, end, &rlen);
		int rc = merge_row(x, key, (size_t)klen, hash, p, (size_t)rlen);
		if (rc)
			return rc;
		p += rlen;
	}
	buf_reset(&x->held_list);
	buf_reset(&x->held);
	x->held_rows = 0;
	return SD_OK;
}

static int take_row(struct ctx *x, const unsigned char *row, size_t rlen, size_t hashed_len,
		    const unsigned char *key, size_t klen)
{
	unsigned char hash[16];
	enc_hash128(row, hashed_len, hash);
	x->n->rows_scanned++;
	fault_point("kill-after-rows", x->n->rows_scanned);
	x->n->bytes_read += (int64_t)rlen;
	if (x->merging)
		return merge_row(x, key, klen, hash, row, rlen);
	/* held_list is byte for byte what pack_add would build, so the aggregate
	 * is one hash call at the end of the range */
	buf_add_varint(&x->held_list, klen);
	buf_add(&x->held_list, key, klen);
	buf_add(&x->held_list, hash, 16);
	buf_add_varint(&x->held, rlen);
	buf_add(&x->held, row, rlen);
	x->held_rows++;
	if (x->held.len > BUFFER_BUDGET || x->held_rows > x->stored->rows)
		return start_merge(x);
	return SD_OK;
}

static int scan_into(struct ctx *x, const unsigned char *lo, size_t lo_len, const unsigned char *hi,
		     size_t hi_len, int64_t limit, int64_t *got, struct buf *last_key)
{
	struct src_scan *s;
	int rc = src_scan_open(x->env->src, x->t, lo, lo_len, hi, hi_len, limit, &s, x->e);
	if (rc)
		return rc;
	*got = 0;
	for (;;) {
		const unsigned char *row, *key;
		size_t rlen, klen, hlen;
		int r = src_scan_next(s, &row, &rlen, &hlen, &key, &klen, x->e);
		if (r == 0)
			break;
		if (r < 0) {
			src_scan_close(s);
			return -r;
		}
		if (x->env->stop && *x->env->stop) {
			src_scan_close(s);
			return sderr_set(x->e, SD_ERR_INTERRUPTED, "'%s.%s': stopped by a signal", x->db, x->t->name);
		}
		(*got)++;
		if (last_key) {
			buf_reset(last_key);
			buf_add(last_key, key, klen);
		}
		rc = take_row(x, row, rlen, hlen, key, klen);
		if (rc) {
			src_scan_close(s);
			return rc;
		}
	}
	src_scan_close(s);
	return SD_OK;
}

static void adapt(struct ctx *x, int64_t rows, double secs)
{
	const struct cfg_table *tc = x->tc;
	if (rows < x->target || secs <= 0)
		return;
	double want = (double)rows * tc->chunk_time / secs;
	if (want > 2.0 * x->target)
		want = 2.0 * x->target;
	if (want < 0.5 * x->target)
		want = 0.5 * x->target;
	x->target = (int64_t)want;
	if (x->target < tc->chunk_min_rows)
		x->target = tc->chunk_min_rows;
	if (x->target > tc->chunk_max_rows)
		x->target = tc->chunk_max_rows;
}

/* Processes the key range (lo, hi] whose stored chunk is sc (NULL: none yet).
 * seq_hi is the next stored chunk's seq (pieces must fit below it). */
static int process_range(struct ctx *x, const unsigned char *lo, size_t lo_len,
			 const struct st_chunk *sc, int64_t seq_lo, int64_t seq_hi)
{
	const unsigned char *hi = sc ? sc->hi : NULL;
	size_t hi_len = sc ? sc->hi_len : 0;
	int rc = SD_OK;
	x->n->chunks++;
	x->stored = sc;
	x->merging = (sc == NULL);
	x->have_index = false;
	x->held_rows = 0;
	buf_reset(&x->held);
	buf_reset(&x->held_list);
	pack_reset(&x->cur);
	x->seq_lo = seq_lo;
	x->piece_no = 0;
	int64_t gap = seq_hi - seq_lo;
	x->seq_step = gap >= ST_SEQ_STEP * 2 ? ST_SEQ_STEP : gap / 65536;
	x->range_has_crc = false;

	if (x->pushdown) {
		rc = src_checksum(x->env->src, x->t, lo, lo_len, hi, hi_len, &x->range_crc_rows, &x->range_crc, x->e);
		if (rc)
			return rc;
		x->range_has_crc = true;
		if (sc && sc->has_crc && !x->env->opts.full && sc->crc_rows == x->range_crc_rows &&
		    sc->crc == x->range_crc) {
			x->n->chunks_skipped++;
			return SD_OK;
		}
	}

	struct buf last = BUF_INIT;
	if (hi) {
		int64_t got;
		double t0 = mono();
		rc = scan_into(x, lo, lo_len, hi, hi_len, 0, &got, NULL);
		adapt(x, got, mono() - t0);
	} else {
		/* the open tail: keyset pages of `target` rows */
		const unsigned char *from = lo;
		size_t from_len = lo_len;
		struct buf cursor = BUF_INIT;
		for (;;) {
			int64_t got, limit = x->target;
			double t0 = mono();
			rc = scan_into(x, from, from_len, NULL, 0, limit, &got, &last);
			if (rc || got < limit)
				break;
			adapt(x, got, mono() - t0);
			buf_reset(&cursor);
			buf_add(&cursor, last.p, last.len);
			from = (const unsigned char *)cursor.p;
			from_len = cursor.len;
		}
		buf_release(&cursor);
	}
	buf_release(&last);
	if (rc)
		goto out;

	if (!x->merging) {
		unsigned char agg[16];
		enc_hash128(x->held_list.p ? x->held_list.p : "", x->held_list.len, agg);
		if (x->held_rows == sc->rows && memcmp(agg, sc->agg, 16) == 0) {
			x->n->chunks_unchanged++;
			/* first pushdown run over an old chunk, or only ignored
			 * columns changed: store the server checksum once */
			if (x->range_has_crc && (!sc->has_crc || sc->crc != x->range_crc ||
						 sc->crc_rows != x->range_crc_rows)) {
				rc = st_chunk_data(x->env->st, x->db, x->t->name, sc->seq, &x->blob, x->e);
				if (!rc) {
					struct st_chunk c = *sc;
					c.has_crc = true;
					c.crc_rows = x->range_crc_rows;
					c.crc = x->range_crc;
					rc = st_pending_put(x->env->st, x->info.run_id, x->db, x->t->name, &c,
							    x->blob.p, x->blob.len, x->e);
				}
			}
			goto out;
		}
		rc = start_merge(x);
		if (rc)
			goto out;
	}

	/* stored keys never seen in the range are deletes */
	for (size_t i = 0; x->have_index && i < x->ix.n; i++) {
		struct pack_entry *en = &x->ix.e[i];
		if (en->seen)
			continue;
		rc = spool_change(x, SD_OP_DELETE, en->key, en->key_len, en->hash, NULL, en->image,
				  en->image_len, NULL, 0);
		if (rc)
			goto out;
	}
	if (x->cur.rows > 0 || !hi)
		rc = close_piece(x, hi, hi_len);
	else if (sc && x->piece_no == 0)
		rc = st_pending_del(x->env->st, x->info.run_id, x->db, x->t->name, sc->seq, x->e);
out:
	if (x->have_index)
		pack_index_release(&x->ix);
	x->have_index = false;
	return rc;
}

/* ---- helpers ------------------------------------------------------------ */

static int take_lock(const char *state_path, const char *db, const char *tbl, int *fd, struct sderr *e)
{
	struct buf p = BUF_INIT;
	buf_addf(&p, "%s.locks", state_path);
	if (mkdir(p.p, 0755) < 0 && errno != EEXIST) {
		int rc = sderr_set(e, SD_ERR_STATE, "cannot create lock directory '%s': %s", p.p, strerror(errno));
		buf_release(&p);
		return rc;
	}
	buf_addch(&p, '/');
	for (const char *s = db; *s; s++)
		buf_addf(&p, (*s == '/' || *s == '%' || *s == '.') ? "%%%02x" : "%c", (unsigned char)*s);
	buf_addch(&p, '.');
	for (const char *s = tbl; *s; s++)
		buf_addf(&p, (*s == '/' || *s == '%' || *s == '.') ? "%%%02x" : "%c", (unsigned char)*s);
	buf_addstr(&p, ".lock");
	*fd = open(p.p, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (*fd < 0) {
		int rc = sderr_set(e, SD_ERR_STATE, "cannot open lock file '%s': %s", p.p, strerror(errno));
		buf_release(&p);
		return rc;
	}
	buf_release(&p);
	if (flock(*fd, LOCK_EX | LOCK_NB) < 0) {
		close(*fd);
		*fd = -1;
		return sderr_set(e, SD_ERR_BUSY, "'%s.%s' is being run by another snapdiff process", db, tbl);
	}
	return SD_OK;
}

void run_counts_json(struct buf *b, const struct run_counts *n)
{
	buf_addf(b, "\"rows_scanned\":%lld,\"chunks\":%lld,\"chunks_skipped\":%lld,"
		 "\"chunks_unchanged\":%lld,\"inserted\":%lld,\"updated\":%lld,\"deleted\":%lld,"
		 "\"bytes_read\":%lld,\"rows\":%lld,\"seconds\":%.3f",
		 (long long)n->rows_scanned, (long long)n->chunks, (long long)n->chunks_skipped,
		 (long long)n->chunks_unchanged, (long long)n->inserted, (long long)n->updated,
		 (long long)n->deleted, (long long)n->bytes_read, (long long)n->rows_after, n->seconds);
}

static void lineage_json(struct buf *b, const struct src_lineage *l)
{
	buf_addstr(b, "{\"gtid_binlog_pos\":");
	json_add_string(b, l->gtid_binlog_pos, strlen(l->gtid_binlog_pos));
	buf_addstr(b, ",\"gtid_current_pos\":");
	json_add_string(b, l->gtid_current_pos, strlen(l->gtid_current_pos));
	buf_addstr(b, ",\"binlog_file\":");
	json_add_string(b, l->binlog_file, strlen(l->binlog_file));
	buf_addf(b, ",\"binlog_pos\":%llu,\"snapshot_time\":", (unsigned long long)l->binlog_pos);
	json_add_string(b, l->snapshot_time, strlen(l->snapshot_time));
	buf_addf(b, ",\"snapshot_ms\":%lld,\"server_version\":", (long long)l->snapshot_ms);
	json_add_string(b, l->server_version, strlen(l->server_version));
	buf_addch(b, '}');
}

static void columns_json(struct buf *b, const struct sd_table *t)
{
	buf_addch(b, '[');
	for (size_t j = 0; j < t->ncols; j++) {
		const struct sd_column *c = &t->cols[j];
		if (j)
			buf_addch(b, ',');
		buf_addstr(b, "{\"name\":");
		json_add_string(b, c->name, strlen(c->name));
		buf_addstr(b, ",\"type\":");
		json_add_string(b, c->column_type, strlen(c->column_type));
		buf_addf(b, ",\"kind\":%d,\"nullable\":%s,\"pk\":%d,\"hashed\":%s}", c->kind,
			 c->nullable ? "true" : "false", c->pk_pos, c->ignored ? "false" : "true");
	}
	buf_addch(b, ']');
}

/* Delivers the spool to every sink; all commit or the run fails. */
static int deliver(struct ctx *x)
{
	struct run_env *env = x->env;
	int rc = spool_rewind(x->spool, x->e);
	if (rc)
		return rc;
	bool lake_only = x->info.initial && x->tc->initial_events == CFG_INITIAL_LAKE;
	size_t begun = 0;
	for (; begun < env->nsinks; begun++) {
		struct sink *s = &env->sinks[begun];
		if (lake_only && !s->ops->is_lake)
			continue;
		if ((rc = s->ops->begin(s->state, &x->info, x->e)))
			goto fail;
	}
	struct sd_change c;
	int r;
	while ((r = spool_next(x->spool, &c, x->e)) > 0) {
		for (size_t i = 0; i < env->nsinks; i++) {
			struct sink *s = &env->sinks[i];
			if (lake_only && !s->ops->is_lake)
				continue;
			if ((rc = s->ops->emit(s->state, &x->info, &c, x->e)))
				goto fail;
		}
		if (env->stop && *env->stop) {
			rc = sderr_set(x->e, SD_ERR_INTERRUPTED, "stopped by a signal while delivering");
			goto fail;
		}
	}
	if (r < 0) {
		rc = -r;
		goto fail;
	}
	for (size_t i = 0; i < env->nsinks; i++) {
		struct sink *s = &env->sinks[i];
		if (lake_only && !s->ops->is_lake)
			continue;
		if ((rc = s->ops->commit(s->state, &x->info, x->e)))
			goto fail;
	}
	return SD_OK;
fail:
	for (size_t i = 0; i < begun && i < env->nsinks; i++)
		if (env->sinks[i].ops->abort)
			env->sinks[i].ops->abort(env->sinks[i].state, &x->info);
	return rc;
}

/* ---- the run ------------------------------------------------------------ */

int run_table(struct run_env *env, const char *db, const struct cfg_table *tc, struct run_result *res)
{
	struct sderr err = { 0, "" };
	struct sderr *e = &err;
	const struct cfg *cfg = env->cfg;
	double t_start = now(), m_start = mono();
	memset(res, 0, sizeof(*res));
	res->status = "failed";
	struct ctx x;
	memset(&x, 0, sizeof(x));
	x.env = env;
	x.tc = tc;
	x.db = db;
	x.n = &res->n;
	x.e = e;
	x.target = tc->chunk_rows;
	pack_init(&x.cur, tc->keep_images);

	int lock_fd = -1, rc;
	struct sd_table *t = NULL;
	struct st_table_info info;
	memset(&info, 0, sizeof(info));
	bool found = false, begun = false, in_snapshot = false;
	struct st_chunk_iter *it = NULL;
	struct src_lineage lin;
	memset(&lin, 0, sizeof(lin));
	struct buf json = BUF_INIT, cols = BUF_INIT, lj = BUF_INIT;
	struct st_run run;
	memset(&run, 0, sizeof(run));

	if ((rc = take_lock(cfg->state_path, db, tc->name, &lock_fd, e))) {
		if (rc == SD_ERR_BUSY)
			res->status = "skipped";
		goto done;
	}
	if ((rc = src_introspect(env->src, db, tc->name, tc, &t, e))) {
		if (rc == SD_ERR_CONFIG)
			sderr_prefix(e, "%s:%d", cfg->path, tc->line);
		goto done;
	}
	x.t = t;
	if ((rc = st_table_get(env->st, db, tc->name, &info, &found, e)))
		goto done;
	x.base_gen = found ? info.generation : 0;
	snprintf(res->run_id, sizeof(res->run_id), "%s.%s.%lld", db, tc->name, (long long)x.base_gen + 1);
	x.images_ok = tc->keep_images && (!found || info.schema_hash == t->schema_hash);
	x.pushdown = tc->checksum_pushdown && !env->opts.full;
	x.info.initial = x.base_gen == 0;
	x.emit = !(x.info.initial && tc->initial_events == CFG_INITIAL_NONE);

	run.run_id = res->run_id;
	run.db = db;
	run.tbl = tc->name;
	run.generation = x.base_gen + 1;
	run.started = t_start;
	run.status = "running";
	if ((rc = st_run_begin(env->st, &run, e)))
		goto done;
	begun = true;
	if ((rc = st_chunks_respace(env->st, db, tc->name, e)))
		goto done;

	if ((rc = src_snapshot_begin(env->src, &lin, e)))
		goto done;
	in_snapshot = true;
	x.info.run_id = res->run_id;
	x.info.db = db;
	x.info.tbl = tc->name;
	x.info.generation = x.base_gen + 1;
	x.info.table = t;
	x.info.gtid_binlog_pos = lin.gtid_binlog_pos;
	x.info.gtid_current_pos = lin.gtid_current_pos;
	x.info.snapshot_time = lin.snapshot_time;
	x.info.snapshot_ms = lin.snapshot_ms;
	snprintf(res->snapshot_time, sizeof(res->snapshot_time), "%s", lin.snapshot_time);
	snprintf(res->gtid, sizeof(res->gtid), "%s", lin.gtid_binlog_pos);

	struct buf spool_dir = BUF_INIT;
	buf_addf(&spool_dir, "%s.spool", cfg->state_path);
	rc = spool_create(spool_dir.p, res->run_id, &x.spool, e);
	buf_release(&spool_dir);
	if (rc)
		goto done;

	/* walk the stored chunks with one of look-ahead (pieces need the next seq) */
	if ((rc = st_chunks_open(env->st, db, tc->name, &it, e)))
		goto done;
	struct st_chunk curc, nextc;
	struct buf cur_hi = BUF_INIT, next_hi = BUF_INIT, lo = BUF_INIT;
	bool have_lo = false;
	int r = st_chunks_next(it, &nextc, e);
	if (r < 0) {
		rc = -r;
		goto chunks_done;
	}
	if (r == 0) {
		rc = process_range(&x, NULL, 0, NULL, 0, INT64_MAX);
		goto chunks_done;
	}
	if (nextc.hi)
		buf_add(&next_hi, nextc.hi, nextc.hi_len);
	while (r > 0) {
		curc = nextc;
		buf_reset(&cur_hi);
		if (nextc.hi)
			buf_add(&cur_hi, next_hi.p, next_hi.len);
		curc.hi = nextc.hi ? (unsigned char *)cur_hi.p : NULL;
		r = st_chunks_next(it, &nextc, e);
		if (r < 0) {
			rc = -r;
			break;
		}
		buf_reset(&next_hi);
		if (r > 0 && nextc.hi)
			buf_add(&next_hi, nextc.hi, nextc.hi_len);
		int64_t seq_hi = r > 0 ? nextc.seq : INT64_MAX;
		rc = process_range(&x, have_lo ? (unsigned char *)lo.p : NULL, lo.len, &curc, curc.seq, seq_hi);
		if (rc)
			break;
		if (!curc.hi) {
			if (r > 0)
				rc = sderr_set(e, SD_ERR_STATE, "'%s.%s': state has a chunk after the open-ended one",
					       db, tc->name);
			break;
		}
		buf_reset(&lo);
		buf_add(&lo, cur_hi.p, cur_hi.len);
		have_lo = true;
		if (env->progress_fn)
			env->progress_fn(env->progress_ctx, db, tc->name, x.n);
	}
chunks_done:
	buf_release(&cur_hi);
	buf_release(&next_hi);
	buf_release(&lo);
	st_chunks_close(it);
	it = NULL;
	if (rc)
		goto done;
	src_snapshot_end(env->src);
	in_snapshot = false;

	int64_t stored_rows = found ? info.rows : 0;
	res->n.rows_after = stored_rows + res->n.inserted - res->n.deleted;
	/* the guard: a short read never gets here (scan errors abort above), but
	 * a truncated or wrongly restored source table would */
	if (!env->opts.allow_mass_delete && stored_rows >= tc->guard_min_rows &&
	    (double)res->n.deleted > tc->max_delete_fraction * (double)stored_rows) {
		rc = sderr_set(e, SD_ERR_GUARD,
			       "'%s.%s': refusing to commit %lld deletes out of %lld rows (%.1f%% > max_delete_fraction %.1f%%); "
			       "rerun with --allow-mass-delete if this is intended",
			       db, tc->name, (long long)res->n.deleted, (long long)stored_rows,
			       100.0 * (double)res->n.deleted / (double)stored_rows, 100.0 * tc->max_delete_fraction);
		res->status = "refused";
		goto done;
	}
	if (env->opts.dry_run) {
		res->status = "dry-run";
		goto done;
	}
	if ((rc = deliver(&x)))
		goto done;

	fault_point("kill-before-commit", 0);
	res->n.seconds = mono() - m_start;
	run_counts_json(&json, &res->n);
	buf_addch(&json, '}');
	struct buf counts = BUF_INIT;
	buf_addch(&counts, '{');
	buf_add(&counts, json.p, json.len);
	columns_json(&cols, t);
	lineage_json(&lj, &lin);
	run.finished = now();
	run.status = "ok";
	run.lineage_json = lj.p;
	run.counts_json = counts.p;
	rc = st_run_commit(env->st, &run, t->schema_hash, cols.p, e);
	buf_release(&counts);
	if (!rc) {
		res->status = "ok";
		begun = false;
	}
done:
	if (in_snapshot)
		src_snapshot_end(env->src);
	res->n.seconds = mono() - m_start;
	res->code = rc;
	if (rc)
		snprintf(res->error, sizeof(res->error), "%s", err.msg);
	if (begun) {
		struct buf counts = BUF_INIT;
		buf_addch(&counts, '{');
		run_counts_json(&counts, &res->n);
		buf_addch(&counts, '}');
		if (!lj.len && in_snapshot == false && lin.snapshot_time[0])
			lineage_json(&lj, &lin);
		run.finished = now();
		run.status = res->status;
		run.error = rc ? err.msg : NULL;
		run.counts_json = counts.p;
		run.lineage_json = lj.len ? lj.p : NULL;
		struct sderr e2;
		st_run_end(env->st, &run, &e2);
		buf_release(&counts);
	}
	if (x.spool)
		spool_destroy(x.spool);
	st_table_info_release(&info);
	sd_table_free(t);
	pack_release(&x.cur);
	buf_release(&x.held);
	buf_release(&x.blob);
	buf_release(&x.stored_blob);
	buf_release(&json);
	buf_release(&cols);
	buf_release(&lj);
	buf_release(&x.held_list);
	if (lock_fd >= 0)
		close(lock_fd);
	return rc;
}
