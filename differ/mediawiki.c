/*
 * mediawiki — page_change events (Wikimedia's mediawiki/page/change 1.2.0
 * shape) derived from one group run's row diffs.
 *
 * A snapshot differ sees no actions, only what changed between two
 * snapshots: page rows inserted, updated, deleted; revision rows inserted,
 * deleted, updated (rev_deleted); archive rows inserted (a delete) or deleted
 * (an undelete); logging rows inserted. This file reads those diffs from the
 * group's spools, correlates them per page and renders one JSON document per
 * page-level event: create, edit, move, delete, undelete, visibility_change.
 * Who and why (comment text, actor, user, groups) are mostly rows that did
 * NOT change in this run — MediaWiki shares comment rows and reuses actor and
 * user rows — so after deriving the events it looks those up, batched, in the
 * run's still-open consistent snapshot; a row that is in the diff is taken
 * from there (docs/page_change.md lists what is and is not derivable).
 *
 * Determinism: an event's id is a hash of the ids of the row changes it was
 * derived from, which are themselves deterministic, so the rerun after a
 * crash before the state commit emits the same events with the same ids.
 */
#include "mediawiki.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "encode.h"
#include "spool.h"

#define MW_SCHEMA "/mediawiki/page/change/1.2.0"

/* rev_deleted bits (RevisionRecord::DELETED_*) */
#define DEL_TEXT 1
#define DEL_COMMENT 2
#define DEL_USER 4

/* ---- the diffs, decoded ------------------------------------------------- */

struct mrow {
	enum sd_op op;
	bool snapshot;
	unsigned char id[16];
	unsigned char *raw;          /* key, before and after bytes (owned)            */
	const unsigned char *key;
	size_t key_len;
	struct enc_value *b, *a;     /* ncols values each, or NULL when absent         */
};

struct mtab {
	const struct sd_table *t;
	const struct sd_run_info *info;
	struct mrow *rows;
	size_t n, cap;
};

/* rows of one table ordered by (k1, k2): a lookup by id, or by page */
struct ient {
	int64_t k1, k2;
	size_t row;
};

struct midx {
	const struct mtab *m;
	struct ient *e;
	size_t n;
};

static int col_of(const struct sd_table *t, const char *name)
{
	for (size_t i = 0; t && i < t->ncols; i++)
		if (!strcmp(t->cols[i].name, name))
			return (int)i;
	return -1;
}

static const struct enc_value *fv(const struct mtab *m, const struct enc_value *row, const char *name)
{
	if (!row)
		return NULL;
	int c = col_of(m->t, name);
	return c < 0 ? NULL : &row[c];
}

static bool v_int(const struct enc_value *v, int64_t *out)
{
	if (!v)
		return false;
	switch (v->kind) {
	case ENC_INT:
		*out = v->v.i;
		return true;
	case ENC_UINT:
	case ENC_BIT:
		*out = (int64_t)v->v.u;
		return true;
	default:
		return false;
	}
}

static int64_t gi(const struct mtab *m, const struct enc_value *row, const char *name, int64_t dflt)
{
	int64_t x;
	return v_int(fv(m, row, name), &x) ? x : dflt;
}

static bool gs(const struct mtab *m, const struct enc_value *row, const char *name, const char **p, size_t *len)
{
	const struct enc_value *v = fv(m, row, name);
	if (!v || (v->kind != ENC_BYTES && v->kind != ENC_TEXT))
		return false;
	*p = v->v.s.p;
	*len = v->v.s.len;
	return true;
}

static bool gs_eq(const struct mtab *m, const struct enc_value *row, const char *name, const char *want)
{
	const char *p;
	size_t len;
	return gs(m, row, name, &p, &len) && len == strlen(want) && !memcmp(p, want, len);
}

static int decode_row(const struct sd_table *t, const unsigned char *p, size_t len, struct enc_value *out)
{
	const unsigned char *end = p + len;
	for (size_t i = 0; i < t->ncols; i++)
		if (enc_get(&p, end, &out[i]) < 0)
			return -1;
	return 0;
}

/* Reads a table's spool into memory (a run's diff, not the table). */
static int mtab_load(struct mtab *m, const struct run_table_view *tv, struct sderr *e)
{
	m->t = tv->info->table;
	m->info = tv->info;
	int rc = spool_rewind(tv->spool, e);
	if (rc)
		return rc;
	struct sd_change c;
	int r;
	while ((r = spool_next(tv->spool, &c, e)) > 0) {
		if (m->n == m->cap) {
			m->cap = m->cap ? 2 * m->cap : 64;
			m->rows = xrealloc(m->rows, m->cap * sizeof(*m->rows));
		}
		struct mrow *w = &m->rows[m->n];
		memset(w, 0, sizeof(*w));
		w->op = c.op;
		w->snapshot = c.snapshot;
		memcpy(w->id, c.id, 16);
		size_t blen = c.before ? c.before_len : 0, alen = c.after ? c.after_len : 0;
		w->raw = xmalloc(c.key_len + blen + alen + 1);
		memcpy(w->raw, c.key, c.key_len);
		w->key = w->raw;
		w->key_len = c.key_len;
		size_t nv = (c.before ? 1 : 0) + (c.after ? 1 : 0);
		struct enc_value *vals = nv ? xcalloc(nv * (m->t->ncols ? m->t->ncols : 1), sizeof(*vals)) : NULL;
		bool bad = false;
		if (c.before) {
			memcpy(w->raw + c.key_len, c.before, blen);
			w->b = vals;
			bad |= decode_row(m->t, w->raw + c.key_len, blen, w->b) < 0;
		}
		if (c.after) {
			memcpy(w->raw + c.key_len + blen, c.after, alen);
			w->a = vals + (c.before ? m->t->ncols : 0);
			bad |= decode_row(m->t, w->raw + c.key_len + blen, alen, w->a) < 0;
		}
		m->n++;
		if (bad)
			return sderr_set(e, SD_ERR_INTERNAL, "page_change: malformed row in the spool of %s.%s",
					 tv->info->db, tv->info->tbl);
	}
	return r < 0 ? -r : SD_OK;
}

static void mtab_release(struct mtab *m)
{
	for (size_t i = 0; i < m->n; i++) {
		free(m->rows[i].raw);
		free(m->rows[i].b ? m->rows[i].b : m->rows[i].a);
	}
	free(m->rows);
	memset(m, 0, sizeof(*m));
}

static const struct enc_value *img(const struct mrow *r)
{
	return r->a ? r->a : r->b;
}

static int ient_cmp(const void *x, const void *y)
{
	const struct ient *a = x, *b = y;
	if (a->k1 != b->k1)
		return a->k1 < b->k1 ? -1 : 1;
	if (a->k2 != b->k2)
		return a->k2 < b->k2 ? -1 : 1;
	return a->row < b->row ? -1 : a->row > b->row;
}

/* Indexes the rows whose op is in opmask (1 << op) by (c1, c2); rows
 * without an image or without the columns are left out. */
static void idx_build(struct midx *ix, const struct mtab *m, const char *c1, const char *c2, unsigned opmask)
{
	ix->m = m;
	ix->e = xcalloc(m->n ? m->n : 1, sizeof(*ix->e));
	ix->n = 0;
	for (size_t i = 0; i < m->n; i++) {
		const struct mrow *r = &m->rows[i];
		if (!(opmask & (1u << r->op)))
			continue;
		int64_t k1, k2 = 0;
		if (!v_int(fv(m, img(r), c1), &k1))
			continue;
		if (c2 && !v_int(fv(m, img(r), c2), &k2))
			continue;
		ix->e[ix->n++] = (struct ient){ k1, k2, i };
	}
	qsort(ix->e, ix->n, sizeof(*ix->e), ient_cmp);
}

/* The entries with k1 == k: e[*lo .. *lo + returned count). */
static size_t idx_range(const struct midx *ix, int64_t k, size_t *lo)
{
	size_t a = 0, b = ix->n;
	while (a < b) {
		size_t mid = a + (b - a) / 2;
		if (ix->e[mid].k1 < k)
			a = mid + 1;
		else
			b = mid;
	}
	size_t end = a;
	while (end < ix->n && ix->e[end].k1 == k)
		end++;
	*lo = a;
	return end - a;
}

static const struct mrow *idx_one(const struct midx *ix, int64_t k, int op)
{
	size_t lo, n = idx_range(ix, k, &lo);
	for (size_t i = 0; i < n; i++) {
		const struct mrow *r = &ix->m->rows[ix->e[lo + i].row];
		if (op == 0 || (int)r->op == op)
			return r;
	}
	return NULL;
}

static void idx_release(struct midx *ix)
{
	free(ix->e);
	memset(ix, 0, sizeof(*ix));
}

/* ---- entities ------------------------------------------------------------ */

struct pinfo {
	bool have;
	int64_t id, ns, latest, len;
	int redirect;
	const char *title;
	size_t tlen;
	const char *touched;
	size_t touched_len;
};

struct rinfo {
	bool have;
	int64_t id, page, parent, comment, actor, len;
	bool has_parent, has_len;
	int deleted, minor;
	const char *ts, *sha1;
	size_t ts_len, sha1_len;
};

/* What the snapshot lookups found (rows outside this run's diff). Each
 * array is sorted by id once filled, for bsearch. */
struct lk_comment {
	int64_t id;
	char *p;
	size_t len;
};

struct lk_actor {
	int64_t id, user;
	bool has_user;
	char *name;
	size_t len;
};

struct lk_user {
	int64_t id, edits;
	bool has_reg, has_edits, has_temp, is_temp, has_sys, is_sys;
	char reg[14];
};

struct lk_group {
	int64_t user;
	char *p;
	size_t len;
};

struct lk {
	struct lk_comment *c;
	size_t nc, cc;
	struct lk_actor *a;
	size_t na, ca;
	struct lk_user *u;
	size_t nu, cu;
	struct lk_group *g;   /* sorted by (user, name) */
	size_t ng, cg;
	/* what the wiki's schema has (information_schema, checked once a run):
	 * a missing table or column is left out of the events, not an error */
	bool t_comment, t_actor, t_user, t_groups;
	bool c_reg, c_edits, c_temp, c_token, c_email, c_expiry;
	bool groups;          /* user_groups was read: groups and is_bot are known */
	bool diff_user_full;  /* the user diff has every column the lookup reads */
};

struct mw {
	const struct cfg *cfg;
	const struct run_group_view *g;
	const char *db;
	const char *snapshot_time;
	struct mtab page, rev, ar, log, comment, actor, user, slots;
	struct midx page_id, rev_id, rev_page, ar_rev, ar_page, slot_rev, comment_id, actor_id, user_id;
	struct pc *pcs;               /* derived, rendered once the lookups are in   */
	size_t npc, cappc;
	struct lk lk;
	struct ev *evs;
	size_t nev, cap;
	/* pages moved in this run: their old titles, to recognise the redirect
	 * a move left behind */
	const struct mrow **moved;
	size_t nmoved;
};

static struct pinfo page_from(const struct mw *w, const struct enc_value *row)
{
	struct pinfo p;
	memset(&p, 0, sizeof(p));
	const struct mtab *m = &w->page;
	if (!row || !v_int(fv(m, row, "page_id"), &p.id) || !gs(m, row, "page_title", &p.title, &p.tlen))
		return p;
	p.have = true;
	p.ns = gi(m, row, "page_namespace", 0);
	p.latest = gi(m, row, "page_latest", 0);
	p.len = gi(m, row, "page_len", -1);
	p.redirect = gi(m, row, "page_is_redirect", 0) != 0;
	if (!gs(m, row, "page_touched", &p.touched, &p.touched_len))
		p.touched = NULL;
	return p;
}

static bool same_title(const struct pinfo *a, const struct pinfo *b)
{
	return a->have && b->have && a->ns == b->ns && a->tlen == b->tlen && !memcmp(a->title, b->title, a->tlen);
}

static struct rinfo rev_from(const struct mw *w, const struct enc_value *row)
{
	struct rinfo r;
	memset(&r, 0, sizeof(r));
	const struct mtab *m = &w->rev;
	if (!row || !v_int(fv(m, row, "rev_id"), &r.id))
		return r;
	r.have = true;
	r.page = gi(m, row, "rev_page", 0);
	r.has_parent = v_int(fv(m, row, "rev_parent_id"), &r.parent);
	r.comment = gi(m, row, "rev_comment_id", -1);
	r.actor = gi(m, row, "rev_actor", -1);
	r.has_len = v_int(fv(m, row, "rev_len"), &r.len);
	r.deleted = (int)gi(m, row, "rev_deleted", 0);
	r.minor = gi(m, row, "rev_minor_edit", 0) != 0;
	if (!gs(m, row, "rev_timestamp", &r.ts, &r.ts_len))
		r.ts = NULL;
	if (!gs(m, row, "rev_sha1", &r.sha1, &r.sha1_len))
		r.sha1 = NULL;
	return r;
}

/* An archived revision looks like the revision it was (ar_rev_id = rev_id). */
static struct rinfo ar_from(const struct mw *w, const struct enc_value *row)
{
	struct rinfo r;
	memset(&r, 0, sizeof(r));
	const struct mtab *m = &w->ar;
	if (!row || !v_int(fv(m, row, "ar_rev_id"), &r.id))
		return r;
	r.have = true;
	r.page = gi(m, row, "ar_page_id", 0);
	r.has_parent = v_int(fv(m, row, "ar_parent_id"), &r.parent);
	r.comment = gi(m, row, "ar_comment_id", -1);
	r.actor = gi(m, row, "ar_actor", -1);
	r.has_len = v_int(fv(m, row, "ar_len"), &r.len);
	r.deleted = (int)gi(m, row, "ar_deleted", 0);
	r.minor = gi(m, row, "ar_minor_edit", 0) != 0;
	if (!gs(m, row, "ar_timestamp", &r.ts, &r.ts_len))
		r.ts = NULL;
	if (!gs(m, row, "ar_sha1", &r.sha1, &r.sha1_len))
		r.sha1 = NULL;
	return r;
}

/* Any image of revision id in this run's diff: revision rows first, then
 * archive rows (a deleted page's revisions live on there). */
static struct rinfo rev_lookup(const struct mw *w, int64_t id)
{
	const struct mrow *r = idx_one(&w->rev_id, id, 0);
	if (r && img(r))
		return rev_from(w, img(r));
	r = idx_one(&w->ar_rev, id, 0);
	if (r && img(r))
		return ar_from(w, img(r));
	struct rinfo none;
	memset(&none, 0, sizeof(none));
	return none;
}

/* ---- logging ------------------------------------------------------------- */

static bool log_is(const struct mw *w, const struct mrow *r, const char *type, const char *action)
{
	const struct mtab *m = &w->log;
	return gs_eq(m, r->a, "log_type", type) && (!action || gs_eq(m, r->a, "log_action", action));
}

static bool log_matches(const struct mw *w, const struct mrow *r, int64_t page_id,
			const struct pinfo *p1, const struct pinfo *p2)
{
	const struct mtab *m = &w->log;
	int64_t lp = gi(m, r->a, "log_page", 0);
	if (lp && lp == page_id)
		return true;
	struct pinfo lt;
	memset(&lt, 0, sizeof(lt));
	lt.have = gs(m, r->a, "log_title", &lt.title, &lt.tlen);
	lt.ns = gi(m, r->a, "log_namespace", 0);
	return (p1 && same_title(&lt, p1)) || (p2 && same_title(&lt, p2));
}

/* The newest log row of this run of (type, action) (action NULL: any) for
 * the page; type2 is an alternative type (suppress for delete). */
static const struct mrow *find_log(const struct mw *w, const char *type, const char *type2, const char *action,
				   int64_t page_id, const struct pinfo *p1, const struct pinfo *p2)
{
	const struct mrow *best = NULL;
	for (size_t i = 0; i < w->log.n; i++) {
		const struct mrow *r = &w->log.rows[i];
		if (r->op != SD_OP_INSERT || !r->a || r->snapshot)
			continue;
		if (!log_is(w, r, type, action) && !(type2 && log_is(w, r, type2, action)))
			continue;
		if (!log_matches(w, r, page_id, p1, p2))
			continue;
		if (!best || gi(&w->log, r->a, "log_id", 0) > gi(&w->log, best->a, "log_id", 0))
			best = r;
	}
	return best;
}

/* ---- rendering ----------------------------------------------------------- */

enum mw_kind { K_CREATE, K_EDIT, K_MOVE, K_DELETE, K_UNDELETE, K_VISIBILITY };

static const char *const kind_name[] = { "create", "edit", "move", "delete", "undelete", "visibility_change" };
static const char *const changelog_name[] = { "insert", "update", "update", "delete", "insert", "update" };

/* One event before rendering. */
struct pc {
	enum mw_kind kind;
	struct pinfo page;
	struct rinfo rev;
	int64_t revision_count;       /* delete only; -1 otherwise                     */
	bool prior_title, prior_ns, prior_id;
	struct pinfo prior_page;
	bool prior_rev;               /* prior_state.revision: the previous revision    */
	struct rinfo prior_rinfo;     /* .have: full; else rev_id (and size) only       */
	int64_t prior_rev_id, prior_rev_size;
	int prior_vis_mask;           /* visibility_change: the flags that changed      */
	int prior_deleted;
	struct pinfo redirect;        /* created_redirect_page (.have)                  */
	int64_t performer;            /* actor id, -1 unknown                           */
	int64_t comment;              /* comment id of the top-level comment, -1 none   */
	const char *dt;               /* 14-digit MediaWiki timestamp, or NULL          */
	size_t dt_len;
	bool suppressed;
	int rank;                     /* order inside a page                            */
	int64_t order;
	const unsigned char *anchor[2];
};

struct ev {
	int64_t page_id;
	int rank;
	int64_t order;
	unsigned char id[16];
	char *key, *value;
	size_t key_len, value_len;
};

static void j_key(struct buf *b, bool *first, const char *k)
{
	if (!*first)
		buf_addch(b, ',');
	*first = false;
	buf_addch(b, '"');
	buf_addstr(b, k);
	buf_addstr(b, "\":");
}

/* Titles, names and comments are bytes; MediaWiki writes UTF-8 and the
 * schema wants strings, so a byte that is not part of valid UTF-8 becomes
 * the character U+0080..U+00FF of the same number (lossy, documented). */
static void j_bytes(struct buf *b, const char *p, size_t len)
{
	if (utf8_valid(p, len)) {
		json_add_string(b, p, len);
		return;
	}
	struct buf t = BUF_INIT;
	for (size_t i = 0; i < len;) {
		unsigned char c = (unsigned char)p[i];
		size_t k = c < 0x80 ? 1 : (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3 : (c & 0xf8) == 0xf0 ? 4 : 0;
		if (k && i + k <= len && utf8_valid(p + i, k)) {
			buf_add(&t, p + i, k);
			i += k;
			continue;
		}
		/* the byte as U+0080..U+00FF, in UTF-8 */
		buf_addch(&t, (char)(0xc0 | (c >> 6)));
		buf_addch(&t, (char)(0x80 | (c & 0x3f)));
		i++;
	}
	json_add_string(b, t.p, t.len);
	buf_release(&t);
}

static bool ts14_ok(const char *p, size_t len)
{
	if (!p || len != 14)
		return false;
	for (size_t i = 0; i < 14; i++)
		if (p[i] < '0' || p[i] > '9')
			return false;
	return true;
}

/* "YYYYMMDDHHMMSS" -> "YYYY-MM-DDTHH:MM:SSZ"; the snapshot time when absent. */
static void j_ts(struct buf *b, const struct mw *w, const char *p, size_t len)
{
	if (!ts14_ok(p, len)) {
		json_add_string(b, w->snapshot_time, strlen(w->snapshot_time));
		return;
	}
	buf_addf(b, "\"%.4s-%.2s-%.2sT%.2s:%.2s:%.2sZ\"", p, p + 4, p + 6, p + 8, p + 10, p + 12);
}

/* bsearch over an array of structs whose first member is the int64_t id */
static const void *lk_find(const void *base, size_t n, size_t size, int64_t id)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int64_t k = *(const int64_t *)(const void *)((const char *)base + mid * size);
		if (k == id)
			return (const char *)base + mid * size;
		if (k < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* A comment row of this run's diff wins over the lookup: same snapshot, but
 * the diff is already in memory and is what the row events said. */
static bool comment_text(const struct mw *w, int64_t id, const char **p, size_t *len)
{
	if (id < 0)
		return false;
	const struct mrow *r = idx_one(&w->comment_id, id, 0);
	if (r && r->a && gs(&w->comment, r->a, "comment_text", p, len))
		return true;
	const struct lk_comment *c = lk_find(w->lk.c, w->lk.nc, sizeof(*c), id);
	if (!c)
		return false;
	*p = c->p;
	*len = c->len;
	return true;
}

struct actor_v {
	const char *name;
	size_t len;
	bool has_user;
	int64_t user;
};

static bool actor_get(const struct mw *w, int64_t id, struct actor_v *v)
{
	if (id < 0)
		return false;
	const struct mrow *r = idx_one(&w->actor_id, id, 0);
	if (r && r->a && gs(&w->actor, r->a, "actor_name", &v->name, &v->len)) {
		v->has_user = v_int(fv(&w->actor, r->a, "actor_user"), &v->user) && v->user > 0;
		return true;
	}
	const struct lk_actor *a = lk_find(w->lk.a, w->lk.na, sizeof(*a), id);
	if (!a)
		return false;
	v->name = a->name;
	v->len = a->len;
	v->has_user = a->has_user;
	v->user = a->user;
	return true;
}

/* MediaWiki marks system users (User::newSystemUser) with the invalid token
 * and no e-mail; BINARY(32) pads the token with NULs, hence the trim. */
#define INVALID_TOKEN "*** INVALID ***"

static bool is_system_row(const char *token, size_t tlen, size_t email_len)
{
	while (tlen && token[tlen - 1] == '\0')
		tlen--;
	return email_len == 0 && tlen == strlen(INVALID_TOKEN) && !memcmp(token, INVALID_TOKEN, tlen);
}

/* The user row of an actor: the diff's when it has every column, else the
 * lookup's. */
static bool user_get(const struct mw *w, int64_t id, struct lk_user *u)
{
	memset(u, 0, sizeof(*u));
	const struct mrow *r = w->lk.diff_user_full ? idx_one(&w->user_id, id, 0) : NULL;
	if (r && r->a) {
		const struct mtab *m = &w->user;
		int64_t x;
		const char *p, *q;
		size_t len, qlen;
		u->id = id;
		if ((u->has_temp = v_int(fv(m, r->a, "user_is_temp"), &x)))
			u->is_temp = x != 0;
		if (gs(m, r->a, "user_registration", &p, &len) && ts14_ok(p, len)) {
			u->has_reg = true;
			memcpy(u->reg, p, 14);
		}
		u->has_edits = v_int(fv(m, r->a, "user_editcount"), &u->edits);
		if (gs(m, r->a, "user_token", &p, &len) && gs(m, r->a, "user_email", &q, &qlen)) {
			u->has_sys = true;
			u->is_sys = is_system_row(p, len, qlen);
		}
		return true;
	}
	const struct lk_user *l = lk_find(w->lk.u, w->lk.nu, sizeof(*l), id);
	if (!l)
		return false;
	*u = *l;
	return true;
}

/* The user entity of an actor, from the diff or the snapshot lookups. */
static bool j_user(struct buf *b, const struct mw *w, int64_t actor_id)
{
	struct actor_v a;
	if (!actor_get(w, actor_id, &a))
		return false;
	bool first = true;
	buf_addch(b, '{');
	if (a.has_user) {
		j_key(b, &first, "user_id");
		buf_addf(b, "%lld", (long long)a.user);
	}
	j_key(b, &first, "user_text");
	j_bytes(b, a.name, a.len);
	struct lk_user u;
	if (!a.has_user) {
		/* an IP or imported actor: no user row, no groups, nothing special */
		j_key(b, &first, "is_temp");
		buf_addstr(b, "false");
		j_key(b, &first, "is_bot");
		buf_addstr(b, "false");
		j_key(b, &first, "is_system");
		buf_addstr(b, "false");
	} else if (user_get(w, a.user, &u)) {
		if (u.has_temp) {
			j_key(b, &first, "is_temp");
			buf_addstr(b, u.is_temp ? "true" : "false");
		}
		if (u.has_reg) {
			j_key(b, &first, "registration_dt");
			j_ts(b, w, u.reg, 14);
		}
		if (u.has_edits && u.edits >= 0) {
			j_key(b, &first, "edit_count");
			buf_addf(b, "%lld", (long long)u.edits);
		}
		/* the schema's default is false; without the columns nobody knows */
		j_key(b, &first, "is_system");
		buf_addstr(b, u.has_sys && u.is_sys ? "true" : "false");
	}
	if (a.has_user && w->lk.groups) {
		/* explicit memberships only; the implicit ones (*, user,
		 * autoconfirmed) depend on the wiki's configuration */
		size_t lo = 0, hi = w->lk.ng;
		while (lo < hi) {
			size_t mid = lo + (hi - lo) / 2;
			if (w->lk.g[mid].user < a.user)
				lo = mid + 1;
			else
				hi = mid;
		}
		bool bot = false, f2 = true;
		j_key(b, &first, "groups");
		buf_addch(b, '[');
		for (size_t i = lo; i < w->lk.ng && w->lk.g[i].user == a.user; i++) {
			if (!f2)
				buf_addch(b, ',');
			f2 = false;
			j_bytes(b, w->lk.g[i].p, w->lk.g[i].len);
			bot |= w->lk.g[i].len == 3 && !memcmp(w->lk.g[i].p, "bot", 3);
		}
		buf_addch(b, ']');
		j_key(b, &first, "is_bot");
		buf_addstr(b, bot ? "true" : "false");
	}
	buf_addch(b, '}');
	return true;
}

static void j_page(struct buf *b, const struct pinfo *p, int64_t revision_count)
{
	buf_addf(b, "{\"page_id\":%lld,\"page_title\":", (long long)p->id);
	j_bytes(b, p->title, p->tlen);
	buf_addf(b, ",\"namespace_id\":%lld,\"is_redirect\":%s", (long long)p->ns, p->redirect ? "true" : "false");
	if (revision_count >= 0)
		buf_addf(b, ",\"revision_count\":%lld", (long long)revision_count);
	buf_addch(b, '}');
}

static void j_revision(struct buf *b, const struct mw *w, const struct rinfo *r, bool suppressed)
{
	bool first = true;
	buf_addch(b, '{');
	j_key(b, &first, "rev_id");
	buf_addf(b, "%lld", (long long)r->id);
	j_key(b, &first, "rev_dt");
	j_ts(b, w, r->ts, r->ts_len);
	if (r->has_parent) {
		j_key(b, &first, "rev_parent_id");
		buf_addf(b, "%lld", (long long)r->parent);
	}
	j_key(b, &first, "is_minor_edit");
	buf_addstr(b, r->minor ? "true" : "false");
	bool content = !suppressed && !(r->deleted & DEL_TEXT);
	bool comment = !suppressed && !(r->deleted & DEL_COMMENT);
	bool editor = !suppressed && !(r->deleted & DEL_USER);
	if (content && r->has_len) {
		j_key(b, &first, "rev_size");
		buf_addf(b, "%lld", (long long)r->len);
	}
	if (content && r->sha1) {
		j_key(b, &first, "rev_sha1");
		j_bytes(b, r->sha1, r->sha1_len);
	}
	j_key(b, &first, "is_content_visible");
	buf_addstr(b, content ? "true" : "false");
	j_key(b, &first, "is_comment_visible");
	buf_addstr(b, comment ? "true" : "false");
	j_key(b, &first, "is_editor_visible");
	buf_addstr(b, editor ? "true" : "false");
	const char *p;
	size_t len;
	if (comment && comment_text(w, r->comment, &p, &len)) {
		j_key(b, &first, "comment");
		j_bytes(b, p, len);
	}
	if (editor) {
		struct buf u = BUF_INIT;
		if (j_user(&u, w, r->actor)) {
			j_key(b, &first, "editor");
			buf_add(b, u.p, u.len);
		}
		buf_release(&u);
	}
	buf_addch(b, '}');
}

/* Renders a derived event into the delivery list. */
static void render_pc(struct mw *w, const struct pc *pc)
{
	struct buf b = BUF_INIT, k = BUF_INIT, h = BUF_INIT;
	unsigned char id[16];

	buf_addstr(&h, "mediawiki.page_change");
	buf_add(&h, "", 1);
	buf_add(&h, w->db, strlen(w->db) + 1);
	buf_addch(&h, (char)pc->kind);
	for (int i = 0; i < 2; i++)
		if (pc->anchor[i])
			buf_add(&h, pc->anchor[i], 16);
	enc_hash128(h.p, h.len, id);
	/* RFC 9562 UUIDv8 (custom): version and variant bits over the hash */
	id[6] = (unsigned char)((id[6] & 0x0f) | 0x80);
	id[8] = (unsigned char)((id[8] & 0x3f) | 0x80);

	const char *stream = w->cfg->mediawiki.stream ? w->cfg->mediawiki.stream : "mediawiki.page_change.v1";
	const char *domain = NULL;
	for (size_t i = 0; i < w->cfg->mediawiki.n_domains; i++)
		if (!strcmp(w->cfg->mediawiki.domains[i].key, w->db))
			domain = w->cfg->mediawiki.domains[i].value;

	buf_addstr(&b, "{\"$schema\":\"" MW_SCHEMA "\",\"meta\":{\"stream\":");
	json_add_string(&b, stream, strlen(stream));
	if (domain) {
		buf_addstr(&b, ",\"domain\":");
		json_add_string(&b, domain, strlen(domain));
	}
	buf_addstr(&b, ",\"dt\":");
	json_add_string(&b, w->snapshot_time, strlen(w->snapshot_time));
	buf_addf(&b, ",\"id\":\"");
	static const char hex[] = "0123456789abcdef";
	for (int i = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			buf_addch(&b, '-');
		buf_addch(&b, hex[id[i] >> 4]);
		buf_addch(&b, hex[id[i] & 15]);
	}
	buf_addstr(&b, "\"},\"dt\":");
	j_ts(&b, w, pc->dt, pc->dt_len);
	buf_addstr(&b, ",\"wiki_id\":");
	json_add_string(&b, w->db, strlen(w->db));
	buf_addf(&b, ",\"page_change_kind\":\"%s\",\"changelog_kind\":\"%s\"", kind_name[pc->kind],
		 changelog_name[pc->kind]);
	const char *p;
	size_t len;
	/* a create or edit's performer and summary are its revision's editor and
	 * comment: a hidden one must not leak through the top level */
	bool own_rev = pc->kind == K_CREATE || pc->kind == K_EDIT;
	bool hide_comment = pc->suppressed || (own_rev && (pc->rev.deleted & DEL_COMMENT));
	bool hide_performer = pc->suppressed || (own_rev && (pc->rev.deleted & DEL_USER));
	if (!hide_comment && comment_text(w, pc->comment, &p, &len)) {
		buf_addstr(&b, ",\"comment\":");
		j_bytes(&b, p, len);
	}
	buf_addstr(&b, ",\"page\":");
	j_page(&b, &pc->page, pc->revision_count);
	buf_addstr(&b, ",\"revision\":");
	j_revision(&b, w, &pc->rev, pc->suppressed);
	if (!hide_performer) {
		struct buf u = BUF_INIT;
		if (j_user(&u, w, pc->performer)) {
			buf_addstr(&b, ",\"performer\":");
			buf_add(&b, u.p, u.len);
		}
		buf_release(&u);
	}
	bool any_prior = pc->prior_title || pc->prior_ns || pc->prior_id || pc->prior_rev || pc->prior_vis_mask;
	if (any_prior) {
		buf_addstr(&b, ",\"prior_state\":{");
		bool first = true;
		if (pc->prior_title || pc->prior_ns || pc->prior_id) {
			j_key(&b, &first, "page");
			bool f2 = true;
			buf_addch(&b, '{');
			if (pc->prior_id) {
				j_key(&b, &f2, "page_id");
				buf_addf(&b, "%lld", (long long)pc->prior_page.id);
			}
			if (pc->prior_title) {
				j_key(&b, &f2, "page_title");
				j_bytes(&b, pc->prior_page.title, pc->prior_page.tlen);
			}
			if (pc->prior_ns) {
				j_key(&b, &f2, "namespace_id");
				buf_addf(&b, "%lld", (long long)pc->prior_page.ns);
			}
			buf_addch(&b, '}');
		}
		if (pc->prior_rev) {
			j_key(&b, &first, "revision");
			if (pc->prior_rinfo.have) {
				j_revision(&b, w, &pc->prior_rinfo, false);
			} else {
				buf_addf(&b, "{\"rev_id\":%lld", (long long)pc->prior_rev_id);
				if (pc->prior_rev_size >= 0)
					buf_addf(&b, ",\"rev_size\":%lld", (long long)pc->prior_rev_size);
				buf_addch(&b, '}');
			}
		} else if (pc->prior_vis_mask) {
			j_key(&b, &first, "revision");
			bool f2 = true;
			buf_addch(&b, '{');
			static const struct { int bit; const char *name; } vis[] = {
				{ DEL_TEXT, "is_content_visible" },
				{ DEL_COMMENT, "is_comment_visible" },
				{ DEL_USER, "is_editor_visible" },
			};
			for (size_t i = 0; i < 3; i++)
				if (pc->prior_vis_mask & vis[i].bit) {
					j_key(&b, &f2, vis[i].name);
					buf_addstr(&b, (pc->prior_deleted & vis[i].bit) ? "false" : "true");
				}
			buf_addch(&b, '}');
		}
		buf_addch(&b, '}');
	}
	if (pc->redirect.have) {
		buf_addstr(&b, ",\"created_redirect_page\":");
		j_page(&b, &pc->redirect, -1);
	}
	buf_addch(&b, '}');

	buf_addstr(&k, "{\"wiki_id\":");
	json_add_string(&k, w->db, strlen(w->db));
	buf_addf(&k, ",\"page_id\":%lld}", (long long)pc->page.id);

	if (w->nev == w->cap) {
		w->cap = w->cap ? 2 * w->cap : 32;
		w->evs = xrealloc(w->evs, w->cap * sizeof(*w->evs));
	}
	struct ev *ev = &w->evs[w->nev++];
	ev->page_id = pc->page.id;
	ev->rank = pc->rank;
	ev->order = pc->order;
	memcpy(ev->id, id, 16);
	ev->value = buf_detach(&b, &ev->value_len);
	ev->key = buf_detach(&k, &ev->key_len);
	buf_release(&h);
}

/* Queues a derived event: rendering waits until the run's comment, actor
 * and user ids are known and looked up in one batch. */
static void emit_pc(struct mw *w, const struct pc *pc)
{
	if (w->npc == w->cappc) {
		w->cappc = w->cappc ? 2 * w->cappc : 32;
		w->pcs = xrealloc(w->pcs, w->cappc * sizeof(*w->pcs));
	}
	w->pcs[w->npc++] = *pc;
}

static int ev_cmp(const void *x, const void *y)
{
	const struct ev *a = x, *b = y;
	if (a->page_id != b->page_id)
		return a->page_id < b->page_id ? -1 : 1;
	if (a->rank != b->rank)
		return a->rank < b->rank ? -1 : 1;
	if (a->order != b->order)
		return a->order < b->order ? -1 : 1;
	return memcmp(a->id, b->id, 16);
}

static void pc_init(struct pc *pc, enum mw_kind kind)
{
	memset(pc, 0, sizeof(*pc));
	pc->kind = kind;
	pc->revision_count = -1;
	pc->performer = -1;
	pc->comment = -1;
	pc->prior_rev_size = -1;
}

/* The event time and who/why of a log row. */
static void pc_from_log(const struct mw *w, struct pc *pc, const struct mrow *log)
{
	if (!log)
		return;
	const char *p;
	size_t len;
	if (gs(&w->log, log->a, "log_timestamp", &p, &len)) {
		pc->dt = p;
		pc->dt_len = len;
	}
	pc->performer = gi(&w->log, log->a, "log_actor", -1);
	pc->comment = gi(&w->log, log->a, "log_comment_id", -1);
}

/* ---- snapshot lookups ---------------------------------------------------- */

/* ids per IN list: keeps each statement small whatever the run's size */
#define LK_CHUNK 1000

struct ids {
	int64_t *v;
	size_t n, cap;
};

static void ids_add(struct ids *s, int64_t id)
{
	/* MediaWiki ids start at 1; 0 and -1 stand for "none" here */
	if (id <= 0)
		return;
	if (s->n == s->cap) {
		s->cap = s->cap ? 2 * s->cap : 64;
		s->v = xrealloc(s->v, s->cap * sizeof(*s->v));
	}
	s->v[s->n++] = id;
}

static int i64_cmp(const void *x, const void *y)
{
	int64_t a = *(const int64_t *)x, b = *(const int64_t *)y;
	return a < b ? -1 : a > b;
}

static void ids_uniq(struct ids *s)
{
	if (!s->n)
		return;
	qsort(s->v, s->n, sizeof(*s->v), i64_cmp);
	size_t k = 1;
	for (size_t i = 1; i < s->n; i++)
		if (s->v[i] != s->v[k - 1])
			s->v[k++] = s->v[i];
	s->n = k;
}

static bool p_int(const char *s, int64_t *out)
{
	if (!s || !*s)
		return false;
	char *end;
	long long v = strtoll(s, &end, 10);
	if (*end)
		return false;
	*out = v;
	return true;
}

static char *dup_bytes(const char *p, size_t len)
{
	char *d = xmalloc(len + 1);
	if (len)
		memcpy(d, p, len);
	d[len] = '\0';
	return d;
}

static void *grow(void *p, size_t *cap, size_t n, size_t size)
{
	if (n < *cap)
		return p;
	*cap = *cap ? 2 * *cap : 64;
	return xrealloc(p, *cap * size);
}

/* Runs "<head> IN (<ids>)<tail>" per chunk of ids; ids are numbers, so the
 * statement needs no quoting beyond the identifiers in head. */
static int query_in(struct src_conn *c, const char *head, const char *tail, const struct ids *s,
		    src_row_fn fn, void *ctx, struct sderr *e)
{
	for (size_t i = 0; i < s->n; i += LK_CHUNK) {
		struct buf q = BUF_INIT;
		buf_addstr(&q, head);
		buf_addstr(&q, " IN (");
		for (size_t j = i; j < s->n && j < i + LK_CHUNK; j++)
			buf_addf(&q, "%s%lld", j > i ? "," : "", (long long)s->v[j]);
		buf_addch(&q, ')');
		buf_addstr(&q, tail);
		int rc = src_query(c, q.p, fn, ctx, e);
		buf_release(&q);
		if (rc)
			return rc;
	}
	return SD_OK;
}

static void row_schema(void *ctx, unsigned n, char **v, unsigned long *len)
{
	(void)len;
	struct lk *l = ctx;
	if (n < 2 || !v[0] || !v[1])
		return;
	static const struct { const char *t, *c; size_t off; } known[] = {
		{ "comment", "comment_text", offsetof(struct lk, t_comment) },
		{ "actor", "actor_name", offsetof(struct lk, t_actor) },
		{ "user", "user_id", offsetof(struct lk, t_user) },
		{ "user", "user_registration", offsetof(struct lk, c_reg) },
		{ "user", "user_editcount", offsetof(struct lk, c_edits) },
		{ "user", "user_is_temp", offsetof(struct lk, c_temp) },
		{ "user", "user_token", offsetof(struct lk, c_token) },
		{ "user", "user_email", offsetof(struct lk, c_email) },
		{ "user_groups", "ug_group", offsetof(struct lk, t_groups) },
		{ "user_groups", "ug_expiry", offsetof(struct lk, c_expiry) },
	};
	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (!strcmp(v[0], known[i].t) && !strcmp(v[1], known[i].c))
			*(bool *)(void *)((char *)l + known[i].off) = true;
}

static void row_comment(void *ctx, unsigned n, char **v, unsigned long *len)
{
	struct lk *l = ctx;
	int64_t id;
	if (n < 2 || !p_int(v[0], &id) || !v[1])
		return;
	l->c = grow(l->c, &l->cc, l->nc, sizeof(*l->c));
	l->c[l->nc++] = (struct lk_comment){ id, dup_bytes(v[1], len[1]), len[1] };
}

static void row_actor(void *ctx, unsigned n, char **v, unsigned long *len)
{
	struct lk *l = ctx;
	int64_t id, user = 0;
	if (n < 3 || !p_int(v[0], &id) || !v[2])
		return;
	bool has_user = p_int(v[1], &user) && user > 0;
	l->a = grow(l->a, &l->ca, l->na, sizeof(*l->a));
	l->a[l->na++] = (struct lk_actor){ id, user, has_user, dup_bytes(v[2], len[2]), len[2] };
}

/* columns: user_id, registration, editcount, is_temp, is_system (NULL when
 * the wiki's schema lacks the column) */
static void row_user(void *ctx, unsigned n, char **v, unsigned long *len)
{
	struct lk *l = ctx;
	struct lk_user u;
	int64_t x;
	memset(&u, 0, sizeof(u));
	if (n < 5 || !p_int(v[0], &u.id))
		return;
	if (v[1] && ts14_ok(v[1], len[1])) {
		u.has_reg = true;
		memcpy(u.reg, v[1], 14);
	}
	u.has_edits = p_int(v[2], &u.edits);
	if ((u.has_temp = p_int(v[3], &x)))
		u.is_temp = x != 0;
	if ((u.has_sys = p_int(v[4], &x)))
		u.is_sys = x != 0;
	l->u = grow(l->u, &l->cu, l->nu, sizeof(*l->u));
	l->u[l->nu++] = u;
}

static void row_group(void *ctx, unsigned n, char **v, unsigned long *len)
{
	struct lk *l = ctx;
	int64_t user;
	if (n < 2 || !p_int(v[0], &user) || !v[1])
		return;
	l->g = grow(l->g, &l->cg, l->ng, sizeof(*l->g));
	l->g[l->ng++] = (struct lk_group){ user, dup_bytes(v[1], len[1]), len[1] };
}

static int group_cmp(const void *x, const void *y)
{
	const struct lk_group *a = x, *b = y;
	if (a->user != b->user)
		return a->user < b->user ? -1 : 1;
	size_t n = a->len < b->len ? a->len : b->len;
	int c = memcmp(a->p, b->p, n);
	return c ? c : (a->len > b->len) - (a->len < b->len);
}

/* Both names quoted: a database name may hold any character. */
static void q_from(struct buf *q, const char *db, const char *tbl)
{
	buf_addstr(q, " FROM ");
	src_quote_ident(q, db);
	buf_addch(q, '.');
	src_quote_ident(q, tbl);
	buf_addstr(q, " WHERE ");
}

/* Fills w->lk with every comment, actor, user and group membership the
 * derived events refer to and the diff does not hold: one statement per
 * table (per chunk of ids), inside the run's snapshot, so they agree with
 * the row events. */
static int lookups(struct mw *w, struct src_conn *c, struct sderr *e)
{
	struct lk *l = &w->lk;
	struct ids cids = { 0 }, aids = { 0 }, need_a = { 0 }, uids = { 0 }, need_u = { 0 };
	struct buf q = BUF_INIT;
	int rc = SD_OK;
	for (size_t i = 0; i < w->npc; i++) {
		const struct pc *pc = &w->pcs[i];
		ids_add(&cids, pc->comment);
		ids_add(&cids, pc->rev.comment);
		ids_add(&aids, pc->performer);
		ids_add(&aids, pc->rev.actor);
		if (pc->prior_rinfo.have) {
			ids_add(&cids, pc->prior_rinfo.comment);
			ids_add(&aids, pc->prior_rinfo.actor);
		}
	}
	ids_uniq(&cids);
	ids_uniq(&aids);
	/* the diff's own rows need no lookup */
	size_t k = 0;
	for (size_t i = 0; i < cids.n; i++) {
		const struct mrow *r = idx_one(&w->comment_id, cids.v[i], 0);
		if (!(r && r->a))
			cids.v[k++] = cids.v[i];
	}
	cids.n = k;
	for (size_t i = 0; i < aids.n; i++) {
		const struct mrow *r = idx_one(&w->actor_id, aids.v[i], 0);
		if (!(r && r->a))
			ids_add(&need_a, aids.v[i]);
	}
	if (!cids.n && !aids.n)
		goto out;

	/* which of the tables and columns this wiki has (and this account may
	 * read: information_schema lists only those) */
	buf_addstr(&q, "SELECT TABLE_NAME, COLUMN_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = X'");
	for (const char *p = w->db; *p; p++)
		buf_addf(&q, "%02x", (unsigned char)*p);
	buf_addstr(&q, "' AND TABLE_NAME IN ('comment', 'actor', 'user', 'user_groups')");
	if ((rc = src_query(c, q.p, row_schema, l, e)))
		goto out;

	if (l->t_comment && cids.n) {
		buf_reset(&q);
		buf_addstr(&q, "SELECT comment_id, comment_text");
		q_from(&q, w->db, "comment");
		buf_addstr(&q, "comment_id");
		if ((rc = query_in(c, q.p, "", &cids, row_comment, l, e)))
			goto out;
		if (l->nc)
			qsort(l->c, l->nc, sizeof(*l->c), i64_cmp);
	}
	if (l->t_actor && need_a.n) {
		buf_reset(&q);
		buf_addstr(&q, "SELECT actor_id, actor_user, actor_name");
		q_from(&q, w->db, "actor");
		buf_addstr(&q, "actor_id");
		if ((rc = query_in(c, q.p, "", &need_a, row_actor, l, e)))
			goto out;
		if (l->na)
			qsort(l->a, l->na, sizeof(*l->a), i64_cmp);
	}

	for (size_t i = 0; i < aids.n; i++) {
		struct actor_v a;
		if (actor_get(w, aids.v[i], &a) && a.has_user)
			ids_add(&uids, a.user);
	}
	ids_uniq(&uids);
	/* a user row of the diff stands in for the lookup only when it carries
	 * every column the lookup would read */
	const struct sd_table *ut = w->user.t;
	l->diff_user_full = ut && (!l->c_reg || col_of(ut, "user_registration") >= 0) &&
			    (!l->c_edits || col_of(ut, "user_editcount") >= 0) &&
			    (!l->c_temp || col_of(ut, "user_is_temp") >= 0) &&
			    (!(l->c_token && l->c_email) ||
			     (col_of(ut, "user_token") >= 0 && col_of(ut, "user_email") >= 0));
	for (size_t i = 0; i < uids.n; i++) {
		const struct mrow *r = l->diff_user_full ? idx_one(&w->user_id, uids.v[i], 0) : NULL;
		if (!(r && r->a))
			ids_add(&need_u, uids.v[i]);
	}
	if (l->t_user && need_u.n) {
		buf_reset(&q);
		buf_addstr(&q, "SELECT user_id, ");
		buf_addstr(&q, l->c_reg ? "user_registration, " : "NULL, ");
		buf_addstr(&q, l->c_edits ? "user_editcount, " : "NULL, ");
		buf_addstr(&q, l->c_temp ? "user_is_temp, " : "NULL, ");
		/* computed server-side: the token itself never leaves the database */
		buf_addstr(&q, l->c_token && l->c_email
				       ? "(LENGTH(user_email) = 0 AND TRIM(TRAILING X'00' FROM user_token) = '" INVALID_TOKEN
					 "')"
				       : "NULL");
		q_from(&q, w->db, "user");
		buf_addstr(&q, "user_id");
		if ((rc = query_in(c, q.p, "", &need_u, row_user, l, e)))
			goto out;
		if (l->nu)
			qsort(l->u, l->nu, sizeof(*l->u), i64_cmp);
	}
	if (l->t_groups) {
		struct buf tail = BUF_INIT;
		if (l->c_expiry) {
			/* expired memberships do not count (UserGroupManager); "now"
			 * is the snapshot's time */
			char now[15];
			size_t nd = 0;
			for (const char *p = w->snapshot_time; *p && nd < 14; p++)
				if (*p >= '0' && *p <= '9')
					now[nd++] = *p;
			now[nd] = '\0';
			if (nd == 14)
				buf_addf(&tail, " AND (ug_expiry IS NULL OR ug_expiry > '%s')", now);
			else
				buf_addstr(&tail, " AND (ug_expiry IS NULL OR ug_expiry > "
						  "DATE_FORMAT(UTC_TIMESTAMP(), '%Y%m%d%H%i%s'))");
		}
		buf_reset(&q);
		buf_addstr(&q, "SELECT ug_user, ug_group");
		q_from(&q, w->db, "user_groups");
		buf_addstr(&q, "ug_user");
		rc = query_in(c, q.p, tail.p ? tail.p : "", &uids, row_group, l, e);
		buf_release(&tail);
		if (rc)
			goto out;
		if (l->ng)
			qsort(l->g, l->ng, sizeof(*l->g), group_cmp);
		l->groups = true;
	}
out:
	buf_release(&q);
	free(cids.v);
	free(aids.v);
	free(need_a.v);
	free(uids.v);
	free(need_u.v);
	return rc;
}

static void lk_release(struct lk *l)
{
	for (size_t i = 0; i < l->nc; i++)
		free(l->c[i].p);
	for (size_t i = 0; i < l->na; i++)
		free(l->a[i].name);
	for (size_t i = 0; i < l->ng; i++)
		free(l->g[i].p);
	free(l->c);
	free(l->a);
	free(l->u);
	free(l->g);
	memset(l, 0, sizeof(*l));
}

/* ---- derivation ---------------------------------------------------------- */

/* Inserted revisions of a page, in rev_id order (the index is sorted so). */
static size_t page_revs(const struct mw *w, int64_t page_id, size_t *lo)
{
	return idx_range(&w->rev_page, page_id, lo);
}

static const struct mrow *page_rev_row(const struct mw *w, size_t i)
{
	return &w->rev.rows[w->rev_page.e[i].row];
}

/* A revision that came back from the archive (undelete keeps rev_ids). */
static bool restored(const struct mw *w, int64_t rev_id)
{
	return idx_one(&w->ar_rev, rev_id, SD_OP_DELETE) != NULL;
}

/* A null revision written by a move or a protection: it carries the old
 * content (every slot inherited, or the parent's sha1 and size) and the
 * run has a move/protect log row for the page. */
static bool is_dummy(const struct mw *w, const struct rinfo *r, const struct pinfo *before, bool mp_log)
{
	if (!mp_log)
		return false;
	size_t lo, n = idx_range(&w->slot_rev, r->id, &lo);
	if (n) {
		for (size_t i = 0; i < n; i++) {
			const struct mrow *s = &w->slots.rows[w->slot_rev.e[lo + i].row];
			if (gi(&w->slots, s->a, "slot_origin", r->id) == r->id)
				return false;
		}
		return true;
	}
	if (r->has_parent) {
		struct rinfo p = rev_lookup(w, r->parent);
		if (p.have)
			return p.sha1 && r->sha1 && p.sha1_len == r->sha1_len && !memcmp(p.sha1, r->sha1, r->sha1_len) &&
			       p.has_len && r->has_len && p.len == r->len;
		if (before && before->have && before->latest == r->parent)
			return r->has_len && r->len == before->len;
	}
	return false;
}

static bool has_mp_log(const struct mw *w, int64_t page_id, const struct pinfo *p1, const struct pinfo *p2)
{
	return find_log(w, "move", NULL, NULL, page_id, p1, p2) || find_log(w, "protect", NULL, NULL, page_id, p1, p2);
}

/* Fills the previous revision of an edit or a move. */
static void set_prior_rev(const struct mw *w, struct pc *pc, int64_t parent, const struct pinfo *before)
{
	if (parent <= 0)
		return;
	pc->prior_rev = true;
	pc->prior_rev_id = parent;
	pc->prior_rinfo = rev_lookup(w, parent);
	if (before && before->have && before->latest == parent)
		pc->prior_rev_size = before->len;
}

static void edit_event(struct mw *w, const struct pinfo *page, const struct rinfo *r, const struct mrow *row,
		       const struct pinfo *before)
{
	struct pc pc;
	pc_init(&pc, K_EDIT);
	pc.page = *page;
	pc.rev = *r;
	pc.performer = r->actor;
	pc.comment = r->comment;
	pc.dt = r->ts;
	pc.dt_len = r->ts_len;
	pc.rank = 1;
	pc.order = r->id;
	pc.anchor[0] = row->id;
	if (r->has_parent)
		set_prior_rev(w, &pc, r->parent, before);
	emit_pc(w, &pc);
}

/* The redirect a move left at the old title: a new redirect page there,
 * unless the move log says no redirect was left. */
static const struct mrow *moved_from(const struct mw *w, const struct pinfo *p)
{
	if (!p->redirect)
		return NULL;
	for (size_t i = 0; i < w->nmoved; i++) {
		struct pinfo old = page_from(w, w->moved[i]->b), now = page_from(w, w->moved[i]->a);
		if (!same_title(&old, p))
			continue;
		const struct mrow *log = find_log(w, "move", NULL, NULL, now.id, &old, &now);
		if (log && gs_eq(&w->log, log->a, "log_action", "move"))
			continue;
		return w->moved[i];
	}
	return NULL;
}

/* Did this inserted revision come back from the archive? By the archive
 * diff when the group has it, else by the restore log: revisions not newer
 * than the log row. */
static bool was_restored(const struct mw *w, const struct rinfo *r, const struct mrow *restore_log)
{
	if (w->ar.info)
		return restored(w, r->id);
	const char *p;
	size_t len;
	if (!restore_log || !gs(&w->log, restore_log->a, "log_timestamp", &p, &len) || !r->ts)
		return false;
	return r->ts_len == len && memcmp(r->ts, p, len) <= 0;
}

static void page_inserted(struct mw *w, const struct mrow *row)
{
	struct pinfo a = page_from(w, row->a);
	if (!a.have || moved_from(w, &a))
		return;
	size_t lo, n = page_revs(w, a.id, &lo);
	const struct mrow *restore_log = find_log(w, "delete", "suppress", "restore", a.id, &a, NULL);
	bool mp = has_mp_log(w, a.id, &a, NULL);
	/* undelete: the newest restored revision; create: the oldest one */
	const struct mrow *lead = NULL;
	struct rinfo lead_r;
	memset(&lead_r, 0, sizeof(lead_r));
	bool undelete = false;
	for (size_t i = 0; i < n; i++) {
		const struct mrow *rr = page_rev_row(w, lo + i);
		struct rinfo r = rev_from(w, rr->a);
		if (rr->op != SD_OP_INSERT || !r.have)
			continue;
		if (was_restored(w, &r, restore_log)) {
			undelete = true;
			lead = rr;
			lead_r = r;
		}
	}
	if (!undelete && restore_log && !n)
		undelete = true;
	for (size_t i = 0; i < n && !undelete && !lead; i++) {
		const struct mrow *rr = page_rev_row(w, lo + i);
		struct rinfo r = rev_from(w, rr->a);
		if (rr->op == SD_OP_INSERT && r.have) {
			lead = rr;
			lead_r = r;
		}
	}

	struct pc pc;
	pc_init(&pc, undelete ? K_UNDELETE : K_CREATE);
	pc.page = a;
	pc.anchor[0] = row->id;
	if (lead) {
		pc.rev = lead_r;
		pc.anchor[1] = lead->id;
	}
	if (undelete) {
		const struct mrow *arow = lead ? idx_one(&w->ar_rev, lead_r.id, SD_OP_DELETE) : NULL;
		if (arow && arow->b) {
			int64_t old_id = gi(&w->ar, arow->b, "ar_page_id", 0);
			if (old_id && old_id != a.id) {
				pc.prior_id = true;
				pc.prior_page.id = old_id;
			}
		}
		pc_from_log(w, &pc, restore_log);
	} else if (lead) {
		pc.performer = lead_r.actor;
		pc.comment = lead_r.comment;
	}
	if (!pc.rev.have) {
		/* revision not in the group: what the page row says */
		pc.rev.have = true;
		pc.rev.id = a.latest;
		pc.rev.ts = a.touched;
		pc.rev.ts_len = a.touched_len;
		pc.rev.len = a.len;
		pc.rev.has_len = a.len >= 0;
	}
	if (!pc.dt) {
		pc.dt = pc.rev.ts;
		pc.dt_len = pc.rev.ts_len;
	}
	pc.rank = 0;
	pc.order = pc.rev.id;
	emit_pc(w, &pc);
	for (size_t i = 0; i < n; i++) {
		const struct mrow *rr = page_rev_row(w, lo + i);
		struct rinfo r = rev_from(w, rr->a);
		if (!r.have || rr->op != SD_OP_INSERT || rr == lead || was_restored(w, &r, restore_log))
			continue;
		if (is_dummy(w, &r, NULL, mp))
			continue;
		edit_event(w, &a, &r, rr, NULL);
	}
}

/* A redirect page a move left behind, as created_redirect_page. */
static struct pinfo left_redirect(const struct mw *w, const struct pinfo *old)
{
	for (size_t i = 0; i < w->page.n; i++) {
		const struct mrow *r = &w->page.rows[i];
		if (r->op != SD_OP_INSERT)
			continue;
		struct pinfo p = page_from(w, r->a);
		if (p.redirect && same_title(&p, old))
			return p;
	}
	struct pinfo none;
	memset(&none, 0, sizeof(none));
	return none;
}

static void visibility_events(struct mw *w, const struct pinfo *page, int64_t latest)
{
	size_t lo, n = page_revs(w, page->id, &lo);
	for (size_t i = 0; i < n; i++) {
		const struct mrow *rr = page_rev_row(w, lo + i);
		if (rr->op != SD_OP_UPDATE || !rr->a || !rr->b)
			continue;
		struct rinfo r = rev_from(w, rr->a), old = rev_from(w, rr->b);
		int mask = (r.deleted ^ old.deleted) & (DEL_TEXT | DEL_COMMENT | DEL_USER);
		/* MediaWiki reports the current revision only */
		if (!mask || (latest > 0 && r.id != latest))
			continue;
		struct pc pc;
		pc_init(&pc, K_VISIBILITY);
		pc.page = *page;
		pc.rev = r;
		pc.prior_vis_mask = mask;
		pc.prior_deleted = old.deleted;
		const struct mrow *log = find_log(w, "delete", "suppress", "revision", page->id, page, NULL);
		pc_from_log(w, &pc, log);
		pc.suppressed = log && log_is(w, log, "suppress", NULL);
		if (!pc.dt) {
			pc.dt = r.ts;
			pc.dt_len = r.ts_len;
		}
		pc.rank = 2;
		pc.order = r.id;
		pc.anchor[0] = rr->id;
		emit_pc(w, &pc);
	}
}

static void page_updated(struct mw *w, const struct mrow *row)
{
	struct pinfo a = page_from(w, row->a), b = page_from(w, row->b);
	if (!a.have)
		return;
	bool moved = b.have && !same_title(&a, &b);
	bool latest_changed = !b.have || b.latest != a.latest;
	bool mp = has_mp_log(w, a.id, &a, b.have ? &b : NULL);
	const struct mrow *move_log = moved ? find_log(w, "move", NULL, NULL, a.id, &b, &a) : NULL;
	size_t lo, n = page_revs(w, a.id, &lo);
	int64_t move_rev = INT64_MAX;

	/* the move's dummy revision: the newest one with the old content */
	const struct mrow *dummy_row = NULL;
	struct rinfo dummy;
	memset(&dummy, 0, sizeof(dummy));
	if (moved)
		for (size_t i = 0; i < n; i++) {
			const struct mrow *rr = page_rev_row(w, lo + i);
			struct rinfo r = rev_from(w, rr->a);
			if (rr->op == SD_OP_INSERT && r.have && !restored(w, r.id) && is_dummy(w, &r, &b, true)) {
				dummy = r;
				dummy_row = rr;
			}
		}
	if (dummy_row)
		move_rev = dummy.id;

	if (latest_changed)
		for (size_t i = 0; i < n; i++) {
			const struct mrow *rr = page_rev_row(w, lo + i);
			if (rr->op != SD_OP_INSERT)
				continue;
			struct rinfo r = rev_from(w, rr->a);
			if (!r.have || restored(w, r.id) || rr == dummy_row)
				continue;
			if (is_dummy(w, &r, &b, mp))
				continue;
			edit_event(w, r.id < move_rev ? (b.have ? &b : &a) : &a, &r, rr, b.have ? &b : NULL);
		}
	if (moved) {
		struct pc pc;
		pc_init(&pc, K_MOVE);
		pc.page = a;
		pc.anchor[0] = row->id;
		if (dummy_row) {
			pc.rev = dummy;
			pc.anchor[1] = dummy_row->id;
			pc.dt = dummy.ts;
			pc.dt_len = dummy.ts_len;
		} else {
			pc.rev = rev_lookup(w, a.latest);
			if (!pc.rev.have) {
				pc.rev.have = true;
				pc.rev.id = a.latest;
				pc.rev.len = a.len;
				pc.rev.has_len = a.len >= 0;
			}
		}
		pc_from_log(w, &pc, move_log);
		if (!pc.rev.ts && pc.dt) {
			pc.rev.ts = pc.dt;
			pc.rev.ts_len = pc.dt_len;
		}
		pc.prior_page = b;
		pc.prior_title = b.tlen != a.tlen || memcmp(b.title, a.title, a.tlen);
		pc.prior_ns = b.ns != a.ns;
		set_prior_rev(w, &pc, b.latest, &b);
		pc.redirect = left_redirect(w, &b);
		if (move_log && gs_eq(&w->log, move_log->a, "log_action", "move"))
			pc.redirect.have = false;
		pc.rank = 1;
		pc.order = dummy_row ? dummy.id : INT64_MAX;
		emit_pc(w, &pc);
	}
	visibility_events(w, &a, a.latest);
}

static void page_deleted(struct mw *w, const struct mrow *row)
{
	struct pinfo b = page_from(w, row->b);
	int64_t id = 0;
	if (!b.have) {
		/* no image: the key, and the archive rows tell the rest */
		const unsigned char *p = row->key;
		struct enc_value v;
		if (enc_get(&p, row->key + row->key_len, &v) < 0 || !v_int(&v, &id))
			return;
	} else {
		id = b.id;
	}
	size_t lo, n = idx_range(&w->ar_page, id, &lo);
	struct rinfo latest;
	memset(&latest, 0, sizeof(latest));
	if (b.have)
		latest = rev_lookup(w, b.latest);
	if (!latest.have && n)
		latest = ar_from(w, w->ar.rows[w->ar_page.e[lo + n - 1].row].a);
	if (!b.have) {
		if (!n)
			return;
		const struct mrow *ar = &w->ar.rows[w->ar_page.e[lo + n - 1].row];
		b.have = true;
		b.id = id;
		b.ns = gi(&w->ar, ar->a, "ar_namespace", 0);
		if (!gs(&w->ar, ar->a, "ar_title", &b.title, &b.tlen))
			return;
	}
	struct pc pc;
	pc_init(&pc, K_DELETE);
	pc.page = b;
	pc.revision_count = (int64_t)n;
	pc.rev = latest;
	if (!pc.rev.have) {
		pc.rev.have = true;
		pc.rev.id = b.latest;
		pc.rev.len = b.len;
		pc.rev.has_len = b.len >= 0;
		pc.rev.ts = b.touched;
		pc.rev.ts_len = b.touched_len;
	}
	const struct mrow *log = find_log(w, "delete", "suppress", "delete", id, &b, NULL);
	pc_from_log(w, &pc, log);
	pc.suppressed = log && log_is(w, log, "suppress", NULL);
	if (!pc.dt) {
		pc.dt = pc.rev.ts;
		pc.dt_len = pc.rev.ts_len;
	}
	pc.rank = 3;
	pc.order = 0;
	pc.anchor[0] = row->id;
	emit_pc(w, &pc);
}

/* Visibility changes of pages whose row did not change (page_touched in
 * ignore_columns): the page is known from the revdel log row only, and
 * whether the revision is the current one cannot be told. */
static void orphan_visibility(struct mw *w)
{
	int64_t done = -1;
	for (size_t i = 0; i < w->rev_page.n; i++) {
		const struct mrow *rr = page_rev_row(w, i);
		int64_t page_id = w->rev_page.e[i].k1;
		if (rr->op != SD_OP_UPDATE || page_id == done || idx_one(&w->page_id, page_id, 0))
			continue;
		done = page_id;
		const struct mrow *log = find_log(w, "delete", "suppress", "revision", page_id, NULL, NULL);
		if (!log)
			continue;
		struct pinfo p;
		memset(&p, 0, sizeof(p));
		p.id = page_id;
		p.ns = gi(&w->log, log->a, "log_namespace", 0);
		if (!gs(&w->log, log->a, "log_title", &p.title, &p.tlen))
			continue;
		p.have = true;
		visibility_events(w, &p, -1);
	}
}

/* ---- delivery ------------------------------------------------------------ */

static int deliver(struct mw *w, struct run_env *env, const struct sd_run_info *page_info, struct sderr *e)
{
	struct buf run_id = BUF_INIT;
	buf_addf(&run_id, "%s.page_change.%lld", w->db, (long long)page_info->generation);
	struct sd_run_info info = *page_info;
	info.run_id = run_id.p;
	info.tbl = "page_change";
	info.initial = false;
	const char *stream = w->cfg->mediawiki.stream ? w->cfg->mediawiki.stream : "mediawiki.page_change.v1";
	int rc = SD_OK;
	size_t begun = 0;
	for (; begun < env->nsinks; begun++) {
		struct sink *s = &env->sinks[begun];
		if (s->ops->emit_doc && (rc = s->ops->begin(s->state, &info, e)))
			goto fail;
	}
	for (size_t i = 0; i < w->nev; i++) {
		struct sd_doc d = { stream, w->evs[i].key, w->evs[i].key_len, w->evs[i].value, w->evs[i].value_len, { 0 } };
		memcpy(d.id, w->evs[i].id, 16);
		for (size_t j = 0; j < env->nsinks; j++) {
			struct sink *s = &env->sinks[j];
			if (s->ops->emit_doc && (rc = s->ops->emit_doc(s->state, &info, &d, e)))
				goto fail;
		}
		if (env->stop && *env->stop) {
			rc = sderr_set(e, SD_ERR_INTERRUPTED, "stopped by a signal while delivering page_change events");
			goto fail;
		}
	}
	for (size_t j = 0; j < env->nsinks; j++) {
		struct sink *s = &env->sinks[j];
		if (s->ops->emit_doc && (rc = s->ops->commit(s->state, &info, e)))
			goto fail;
	}
	buf_release(&run_id);
	return SD_OK;
fail:
	for (size_t j = 0; j < begun && j < env->nsinks; j++) {
		struct sink *s = &env->sinks[j];
		if (s->ops->emit_doc && s->ops->abort)
			s->ops->abort(s->state, &info);
	}
	buf_release(&run_id);
	if (rc != SD_ERR_INTERRUPTED && rc != SD_ERR_SINK)
		sderr_prefix(e, "page_change");
	return rc;
}

int mw_after_deliver(void *ctx, struct run_env *env, const struct run_group_view *g, struct sderr *e)
{
	struct mw w;
	memset(&w, 0, sizeof(w));
	w.cfg = ctx;
	w.g = g;
	w.db = g->db;
	const struct run_table_view *page_tv = NULL;
	static const struct { const char *name; size_t off; } want[] = {
		{ "page", offsetof(struct mw, page) },       { "revision", offsetof(struct mw, rev) },
		{ "archive", offsetof(struct mw, ar) },      { "logging", offsetof(struct mw, log) },
		{ "comment", offsetof(struct mw, comment) }, { "actor", offsetof(struct mw, actor) },
		{ "user", offsetof(struct mw, user) },       { "slots", offsetof(struct mw, slots) },
	};
	for (size_t i = 0; i < g->n; i++)
		if (!strcmp(g->tables[i].info->tbl, "page"))
			page_tv = &g->tables[i];
	/* the first run of page is a snapshot, not history: nothing happened */
	if (!page_tv || page_tv->info->initial)
		return SD_OK;
	w.snapshot_time = page_tv->info->snapshot_time ? page_tv->info->snapshot_time : "";
	int rc = SD_OK;
	for (size_t i = 0; !rc && i < g->n; i++)
		for (size_t j = 0; j < sizeof(want) / sizeof(want[0]); j++)
			if (!strcmp(g->tables[i].info->tbl, want[j].name) && g->tables[i].spool)
				rc = mtab_load((struct mtab *)((char *)&w + want[j].off), &g->tables[i], e);
	if (rc)
		goto out;
	unsigned all = (1u << SD_OP_INSERT) | (1u << SD_OP_UPDATE) | (1u << SD_OP_DELETE);
	unsigned live = (1u << SD_OP_INSERT) | (1u << SD_OP_UPDATE);
	/* a first run of revision, archive or logging is no history either */
	struct mtab *hist[] = { &w.rev, &w.ar, &w.log };
	for (size_t h = 0; h < 3; h++)
		if (hist[h]->info && hist[h]->info->initial)
			for (size_t i = 0; i < hist[h]->n; i++)
				hist[h]->rows[i].op = 0;
	idx_build(&w.page_id, &w.page, "page_id", NULL, all);
	idx_build(&w.rev_id, &w.rev, "rev_id", NULL, all);
	idx_build(&w.rev_page, &w.rev, "rev_page", "rev_id", live);
	idx_build(&w.ar_rev, &w.ar, "ar_rev_id", NULL, all);
	idx_build(&w.ar_page, &w.ar, "ar_page_id", "ar_rev_id", 1u << SD_OP_INSERT);
	idx_build(&w.slot_rev, &w.slots, "slot_revision_id", "slot_role_id", live);
	idx_build(&w.comment_id, &w.comment, "comment_id", NULL, live);
	idx_build(&w.actor_id, &w.actor, "actor_id", NULL, live);
	idx_build(&w.user_id, &w.user, "user_id", NULL, live);

	w.moved = xcalloc(w.page.n ? w.page.n : 1, sizeof(*w.moved));
	for (size_t i = 0; i < w.page_id.n; i++) {
		const struct mrow *r = &w.page.rows[w.page_id.e[i].row];
		if (r->op != SD_OP_UPDATE || !r->a || !r->b)
			continue;
		struct pinfo a = page_from(&w, r->a), b = page_from(&w, r->b);
		if (a.have && b.have && !same_title(&a, &b))
			w.moved[w.nmoved++] = r;
	}
	for (size_t i = 0; i < w.page_id.n; i++) {
		const struct mrow *r = &w.page.rows[w.page_id.e[i].row];
		if (r->op == SD_OP_INSERT)
			page_inserted(&w, r);
		else if (r->op == SD_OP_UPDATE)
			page_updated(&w, r);
	}
	/* deleted pages have no image key in page_id when images are off */
	for (size_t i = 0; i < w.page.n; i++)
		if (w.page.rows[i].op == SD_OP_DELETE)
			page_deleted(&w, &w.page.rows[i]);
	orphan_visibility(&w);

	/* env->src is inside the run's snapshot while this hook runs */
	if (w.npc && env->src && (rc = lookups(&w, env->src, e))) {
		sderr_prefix(e, "page_change lookups");
		goto out;
	}
	for (size_t i = 0; i < w.npc; i++)
		render_pc(&w, &w.pcs[i]);
	if (w.nev) {
		qsort(w.evs, w.nev, sizeof(*w.evs), ev_cmp);
		rc = deliver(&w, env, page_tv->info, e);
	}
out:
	for (size_t i = 0; i < w.nev; i++) {
		free(w.evs[i].key);
		free(w.evs[i].value);
	}
	free(w.evs);
	free(w.pcs);
	lk_release(&w.lk);
	free(w.moved);
	struct midx *ixs[] = { &w.page_id, &w.rev_id, &w.rev_page, &w.ar_rev, &w.ar_page,
			       &w.slot_rev, &w.comment_id, &w.actor_id, &w.user_id };
	for (size_t i = 0; i < sizeof(ixs) / sizeof(ixs[0]); i++)
		idx_release(ixs[i]);
	struct mtab *ts[] = { &w.page, &w.rev, &w.ar, &w.log, &w.comment, &w.actor, &w.user, &w.slots };
	for (size_t i = 0; i < sizeof(ts) / sizeof(ts[0]); i++)
		mtab_release(ts[i]);
	return rc;
}
