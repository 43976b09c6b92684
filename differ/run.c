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
	/* the open tail of a first run is one long range: report inside it too */
	if (x->env->progress_fn && (x->n->rows_scanned & 0xffff) == 0)
		x->env->progress_fn(x->env->progress_ctx, x->db, x->t->name, x->n);
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

int run_lock_table(const char *state_path, const char *db, const char *tbl, int *fd, struct sderr *e)
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

/* Whether sink s receives this table's changes in this run. */
static bool sink_wants(const struct ctx *x, const struct sink *s)
{
	if (x->info.initial && x->tc->initial_events == CFG_INITIAL_NONE)
		return false;
	if (x->info.initial && x->tc->initial_events == CFG_INITIAL_LAKE)
		return s->ops->is_lake;
	return true;
}

/* Delivers the spool to every sink; all commit or the run fails. */
static int deliver(struct ctx *x)
{
	struct run_env *env = x->env;
	int rc = spool_rewind(x->spool, x->e);
	if (rc)
		return rc;
	size_t begun = 0;
	for (; begun < env->nsinks; begun++) {
		struct sink *s = &env->sinks[begun];
		if (!sink_wants(x, s))
			continue;
		if ((rc = s->ops->begin(s->state, &x->info, x->e)))
			goto fail;
	}
	struct sd_change c;
	int r;
	while ((r = spool_next(x->spool, &c, x->e)) > 0) {
		for (size_t i = 0; i < env->nsinks; i++) {
			struct sink *s = &env->sinks[i];
			if (!sink_wants(x, s))
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
		if (!sink_wants(x, s))
			continue;
		if ((rc = s->ops->commit(s->state, &x->info, x->e)))
			goto fail;
	}
	return SD_OK;
fail:
	for (size_t i = 0; i < begun && i < env->nsinks; i++)
		if (env->sinks[i].ops->abort && sink_wants(x, &env->sinks[i]))
			env->sinks[i].ops->abort(env->sinks[i].state, &x->info);
	return rc;
}

/* ---- the run ------------------------------------------------------------ */

/* One table's run inside a group. */
struct trun {
	struct ctx x;
	const struct cfg_table *tc;
	struct run_result *res;
	struct sderr err;
	struct sd_table *t;
	struct st_table_info info;
	bool found, begun;
	int lock_fd;
	struct st_run run;
	struct buf cols, lj, counts;
};

static void trun_fail(struct trun *r, int rc)
{
	if (!r->res->code) {
		r->res->code = rc;
		snprintf(r->res->error, sizeof(r->res->error), "%s", r->err.msg);
		if (strcmp(r->res->status, "refused") != 0 && strcmp(r->res->status, "skipped") != 0)
			r->res->status = "failed";
	}
}

/* Lock, introspect, read state, record the run as begun, open the spool. */
static int trun_prepare(struct run_env *env, const char *db, struct trun *r)
{
	const struct cfg *cfg = env->cfg;
	struct ctx *x = &r->x;
	struct sderr *e = &r->err;
	int rc;
	if ((rc = run_lock_table(cfg->state_path, db, r->tc->name, &r->lock_fd, e))) {
		if (rc == SD_ERR_BUSY)
			r->res->status = "skipped";
		return rc;
	}
	if ((rc = src_introspect(env->src, db, r->tc->name, r->tc, &r->t, e))) {
		if (rc == SD_ERR_CONFIG)
			sderr_prefix(e, "%s:%d", cfg->path, r->tc->line);
		return rc;
	}
	x->t = r->t;
	if ((rc = st_table_get(env->st, db, r->tc->name, &r->info, &r->found, e)))
		return rc;
	x->base_gen = r->found ? r->info.generation : 0;
	snprintf(r->res->run_id, sizeof(r->res->run_id), "%s.%s.%lld", db, r->tc->name,
		 (long long)x->base_gen + 1);
	x->images_ok = r->tc->keep_images && (!r->found || r->info.schema_hash == r->t->schema_hash);
	x->pushdown = r->tc->checksum_pushdown && !env->opts.full;
	x->info.initial = x->base_gen == 0;
	x->emit = !(x->info.initial && r->tc->initial_events == CFG_INITIAL_NONE) || env->keep_spools;
	x->info.run_id = r->res->run_id;
	x->info.db = db;
	x->info.tbl = r->tc->name;
	x->info.generation = x->base_gen + 1;
	x->info.table = r->t;

	r->run.run_id = r->res->run_id;
	r->run.db = db;
	r->run.tbl = r->tc->name;
	r->run.generation = x->base_gen + 1;
	r->run.started = now();
	r->run.status = "running";
	if ((rc = st_run_begin(env->st, &r->run, e)))
		return rc;
	r->begun = true;
	if ((rc = st_chunks_respace(env->st, db, r->tc->name, e)))
		return rc;
	struct buf spool_dir = BUF_INIT;
	buf_addf(&spool_dir, "%s.spool", cfg->state_path);
	rc = spool_create(spool_dir.p, r->res->run_id, &x->spool, e);
	buf_release(&spool_dir);
	return rc;
}

/* Walks the stored chunks with one of look-ahead (pieces need the next seq). */
static int trun_scan(struct run_env *env, const char *db, struct trun *r)
{
	struct ctx *x = &r->x;
	struct sderr *e = &r->err;
	struct st_chunk_iter *it = NULL;
	int rc = st_chunks_open(env->st, db, r->tc->name, &it, e);
	if (rc)
		return rc;
	struct st_chunk curc, nextc;
	struct buf cur_hi = BUF_INIT, next_hi = BUF_INIT, lo = BUF_INIT;
	bool have_lo = false;
	int n = st_chunks_next(it, &nextc, e);
	if (n < 0) {
		rc = -n;
		goto out;
	}
	if (n == 0) {
		rc = process_range(x, NULL, 0, NULL, 0, INT64_MAX);
		goto out;
	}
	if (nextc.hi)
		buf_add(&next_hi, nextc.hi, nextc.hi_len);
	while (n > 0) {
		curc = nextc;
		buf_reset(&cur_hi);
		if (nextc.hi)
			buf_add(&cur_hi, next_hi.p, next_hi.len);
		curc.hi = nextc.hi ? (unsigned char *)cur_hi.p : NULL;
		n = st_chunks_next(it, &nextc, e);
		if (n < 0) {
			rc = -n;
			break;
		}
		buf_reset(&next_hi);
		if (n > 0 && nextc.hi)
			buf_add(&next_hi, nextc.hi, nextc.hi_len);
		int64_t seq_hi = n > 0 ? nextc.seq : INT64_MAX;
		rc = process_range(x, have_lo ? (unsigned char *)lo.p : NULL, lo.len, &curc, curc.seq, seq_hi);
		if (rc)
			break;
		if (!curc.hi) {
			if (n > 0)
				rc = sderr_set(e, SD_ERR_STATE, "'%s.%s': state has a chunk after the open-ended one",
					       db, r->tc->name);
			break;
		}
		buf_reset(&lo);
		buf_add(&lo, cur_hi.p, cur_hi.len);
		have_lo = true;
		if (env->progress_fn)
			env->progress_fn(env->progress_ctx, db, r->tc->name, x->n);
	}
out:
	buf_release(&cur_hi);
	buf_release(&next_hi);
	buf_release(&lo);
	st_chunks_close(it);
	return rc;
}

/* The guard: a short read never gets here (scan errors abort before), but a
 * truncated or wrongly restored source table would. */
static int trun_guard(struct run_env *env, const char *db, struct trun *r)
{
	const struct cfg_table *tc = r->tc;
	struct run_counts *n = &r->res->n;
	int64_t stored = r->found ? r->info.rows : 0;
	n->rows_after = stored + n->inserted - n->deleted;
	if (env->opts.allow_mass_delete || stored < tc->guard_min_rows ||
	    (double)n->deleted <= tc->max_delete_fraction * (double)stored)
		return SD_OK;
	r->res->status = "refused";
	return sderr_set(&r->err, SD_ERR_GUARD,
			 "'%s.%s': refusing to commit %lld deletes out of %lld rows (%.1f%% > max_delete_fraction %.1f%%); "
			 "rerun with --allow-mass-delete if this is intended",
			 db, tc->name, (long long)n->deleted, (long long)stored,
			 100.0 * (double)n->deleted / (double)stored, 100.0 * tc->max_delete_fraction);
}

static int trun_commit(struct run_env *env, struct trun *r, const struct src_lineage *lin, double m_start)
{
	r->res->n.seconds = mono() - m_start;
	buf_addch(&r->counts, '{');
	run_counts_json(&r->counts, &r->res->n);
	buf_addch(&r->counts, '}');
	columns_json(&r->cols, r->t);
	lineage_json(&r->lj, lin);
	r->run.finished = now();
	r->run.status = "ok";
	r->run.lineage_json = r->lj.p;
	r->run.counts_json = r->counts.p;
	return st_run_commit(env->st, &r->run, r->t->schema_hash, r->cols.p, &r->err);
}

/* Records the outcome of a run that did not commit, and frees everything. */
static void trun_finish(struct run_env *env, struct trun *r, const struct src_lineage *lin, double m_start)
{
	struct ctx *x = &r->x;
	r->res->n.seconds = mono() - m_start;
	if (r->begun) {
		struct buf counts = BUF_INIT;
		buf_addch(&counts, '{');
		run_counts_json(&counts, &r->res->n);
		buf_addch(&counts, '}');
		if (!r->lj.len && lin && lin->snapshot_time[0])
			lineage_json(&r->lj, lin);
		r->run.finished = now();
		r->run.status = r->res->status;
		r->run.error = r->res->code ? r->res->error : NULL;
		r->run.counts_json = counts.p;
		r->run.lineage_json = r->lj.len ? r->lj.p : NULL;
		struct sderr e2;
		st_run_end(env->st, &r->run, &e2);
		buf_release(&counts);
	}
	if (x->spool)
		spool_destroy(x->spool);
	st_table_info_release(&r->info);
	sd_table_free(r->t);
	pack_release(&x->cur);
	buf_release(&x->held);
	buf_release(&x->held_list);
	buf_release(&x->blob);
	buf_release(&x->stored_blob);
	buf_release(&r->cols);
	buf_release(&r->lj);
	buf_release(&r->counts);
	if (r->lock_fd >= 0)
		close(r->lock_fd);
}

int run_group(struct run_env *env, const char *db, const struct cfg_table *const *tcs, size_t n,
	      struct run_result *res)
{
	double m_start = mono();
	struct trun *tr = xcalloc(n ? n : 1, sizeof(*tr));
	struct src_lineage lin;
	memset(&lin, 0, sizeof(lin));
	bool in_snapshot = false, in_batch = false;
	int rc = SD_OK;
	size_t bad = 0;   /* the table whose failure decided the group */

	for (size_t i = 0; i < n; i++) {
		struct trun *r = &tr[i];
		memset(&res[i], 0, sizeof(res[i]));
		res[i].status = "failed";
		r->tc = tcs[i];
		r->res = &res[i];
		r->lock_fd = -1;
		r->x.env = env;
		r->x.tc = tcs[i];
		r->x.db = db;
		r->x.n = &res[i].n;
		r->x.e = &r->err;
		r->x.target = tcs[i]->chunk_rows;
		pack_init(&r->x.cur, tcs[i]->keep_images);
	}
	for (size_t i = 0; !rc && i < n; i++)
		if ((rc = trun_prepare(env, db, &tr[i])))
			bad = i;
	if (!rc) {
		if ((rc = src_snapshot_begin(env->src, &lin, &tr[0].err)))
			bad = 0;
		else
			in_snapshot = true;
	}
	for (size_t i = 0; i < n; i++) {
		struct ctx *x = &tr[i].x;
		x->info.gtid_binlog_pos = lin.gtid_binlog_pos;
		x->info.gtid_current_pos = lin.gtid_current_pos;
		x->info.snapshot_time = lin.snapshot_time;
		x->info.snapshot_ms = lin.snapshot_ms;
		snprintf(res[i].snapshot_time, sizeof(res[i].snapshot_time), "%s", lin.snapshot_time);
		snprintf(res[i].gtid, sizeof(res[i].gtid), "%s", lin.gtid_binlog_pos);
	}
	for (size_t i = 0; !rc && i < n; i++)
		if ((rc = trun_scan(env, db, &tr[i])))
			bad = i;
	/* a profile looks rows up in the same snapshot; otherwise release it now */
	if (in_snapshot && !env->after_deliver) {
		src_snapshot_end(env->src);
		in_snapshot = false;
	}
	for (size_t i = 0; !rc && i < n; i++)
		if ((rc = trun_guard(env, db, &tr[i])))
			bad = i;
	if (!rc && env->opts.dry_run) {
		for (size_t i = 0; i < n; i++)
			res[i].status = "dry-run";
		goto done;
	}
	/* everything delivered before anything commits */
	for (size_t i = 0; !rc && i < n; i++)
		if ((rc = deliver(&tr[i].x)))
			bad = i;
	if (!rc && env->after_deliver) {
		struct run_group_view v = { db, n, NULL };
		struct run_table_view *tv = xcalloc(n, sizeof(*tv));
		for (size_t i = 0; i < n; i++) {
			tv[i].info = &tr[i].x.info;
			tv[i].spool = tr[i].x.spool;
			tv[i].counts = &res[i].n;
			tv[i].images = tr[i].x.images_ok;
		}
		v.tables = tv;
		rc = env->after_deliver(env->after_ctx, env, &v, &tr[0].err);
		free(tv);
		bad = 0;
	}
	if (in_snapshot) {
		src_snapshot_end(env->src);
		in_snapshot = false;
	}
	if (!rc)
		fault_point("kill-before-commit", 0);
	/* one transaction: every table's state and the sinks' own bookkeeping */
	if (!rc) {
		if ((rc = st_batch_begin(env->st, &tr[0].err)))
			bad = 0;
		else
			in_batch = true;
	}
	for (size_t i = 0; !rc && i < n; i++) {
		for (size_t k = 0; !rc && k < env->nsinks; k++) {
			struct sink *sk = &env->sinks[k];
			if (sk->ops->state_commit && sink_wants(&tr[i].x, sk) &&
			    (rc = sk->ops->state_commit(sk->state, &tr[i].x.info, env->st, &tr[i].err)))
				bad = i;
		}
		if (!rc && (rc = trun_commit(env, &tr[i], &lin, m_start)))
			bad = i;
	}
	if (!rc && in_batch) {
		in_batch = false;
		if ((rc = st_batch_commit(env->st, &tr[0].err)))
			bad = 0;
	}
	if (in_batch)
		st_batch_abort(env->st);
	if (!rc)
		for (size_t i = 0; i < n; i++) {
			res[i].status = "ok";
			tr[i].begun = false;
		}
done:
	if (in_snapshot)
		src_snapshot_end(env->src);
	if (rc) {
		/* the table that failed carries the message; the others of the
		 * group name it, since none of them committed either */
		trun_fail(&tr[bad], rc);
		for (size_t i = 0; i < n; i++) {
			if (i == bad)
				continue;
			tr[i].err = tr[bad].err;
			if (rc == SD_ERR_GUARD)
				res[i].status = "refused";
			else if (rc == SD_ERR_BUSY)
				res[i].status = "skipped";
			trun_fail(&tr[i], rc);
		}
	}
	for (size_t i = 0; i < n; i++)
		trun_finish(env, &tr[i], &lin, m_start);
	free(tr);
	return rc;
}

int run_table(struct run_env *env, const char *db, const struct cfg_table *tc, struct run_result *res)
{
	const struct cfg_table *one[1] = { tc };
	return run_group(env, db, one, 1, res);
}
