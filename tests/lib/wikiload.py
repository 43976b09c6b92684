#!/usr/bin/env python3
"""wikiload.py — a small, deterministic MediaWiki-shaped data loader and action
runner for snapdiff's tests, demo and benchmark.

Commands (connection: --socket S | --host H --port P, --user root, --password-file F;
--socket defaults to $MARIADB_SOCKET):

  load     --db enwiki --pages N --revs-per-page K [--seed 1] [--users U] [--drop]
           creates the database (if missing) and the schema (tests/fixtures/mediawiki.sql)
           and fills it with consistent rows: page, revision, slots, content, text,
           comment, actor, user, logging (create + newusers), linktarget,
           categorylinks, page_props, slot_roles, content_models.
           Revisions of different pages interleave in time; page_latest is the last
           revision of each page; titles are binary, some non-ASCII UTF-8, a few not
           UTF-8 at all.
  load     --db bench --revision-only N     the benchmark's mode: only `revision`
           (N rows, pages 1..N/10), other tables created empty.
  create   --db enwiki [--count N] [--title T] [--namespace NS]   new pages
  edit     --db enwiki [--page-id P | --count N]   new revision+content+text+slots, update page
  delete   --db enwiki [--page-id P | --count N]   revisions -> archive, delete page (+links,
           props), log delete/delete
  move     --db enwiki [--page-id P | --count N] [--to TITLE]   retitle + dummy revision,
           log move/move (no redirect left behind)

Every command prints one JSON line on stdout (what it did: ids, counts, seconds).
Actions pick their pages with a seeded RNG (--seed), so a sequence of commands on
the same starting data is reproducible. Timestamps continue after the newest
existing revision (not the wall clock), so they are deterministic too.

The module is importable (tests put tests/lib on sys.path): load(conn, ...),
edit_page(conn, ...), delete_page(conn, ...), move_page(conn, ...), create_page(conn, ...),
connect(...).

The bulk load turns off the binary log for its own session (sql_log_bin=0, needs
root); the actions are logged normally.
"""

import argparse
import calendar
import hashlib
import json
import os
import queue
import random
import sys
import threading
import time
import zlib

import pymysql

HERE = os.path.dirname(os.path.abspath(__file__))
SCHEMA = os.path.join(HERE, "..", "fixtures", "mediawiki.sql")

START_TS = calendar.timegm((2020, 1, 1, 0, 0, 0))
ROLE_MAIN = 1
MODEL_WIKITEXT = 1
BATCH_ROWS = 2000

WORDS = ("lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod "
         "tempor incididunt ut labore et dolore magna aliqua wiki page article "
         "history river mountain city village science music football election "
         "[[link]] {{template}} ''italic'' '''bold''' == Heading == * item").split()
UTF8_WORDS = ["Grüße", "東京", "Ελληνικά", "Москва", "café", "naïve", "日本語", "😀", "ß", "İstanbul"]
COMMENTS = ["typo", "fix link", "rv vandalism", "Undo revision", "copyedit", "/* History */ expand",
            "+cat", "ref", "Bot: update", "Reverted edits by [[Special:Contributions/192.0.2.1]]",
            "Zusammenfassung: Rechtschreibung", "修正", "исправление", "Résumé des modifications"]


# ----------------------------------------------------------------------------- helpers

_MWTS_CACHE = {}


def mwts(t):
    """MediaWiki timestamp: 14 ASCII digits, UTC."""
    m, sec = divmod(int(t), 60)
    prefix = _MWTS_CACHE.get(m)
    if prefix is None:
        if len(_MWTS_CACHE) > 100000:
            _MWTS_CACHE.clear()
        prefix = _MWTS_CACHE[m] = time.strftime("%Y%m%d%H%M", time.gmtime(m * 60))
    return prefix + _SEC2[sec]


_SEC2 = ["%02d" % i for i in range(60)]


def sqlts(t):
    """A TIMESTAMP literal (the server and the loader session run in UTC)."""
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(t))


def parse_mwts(s):
    if isinstance(s, (bytes, bytearray)):
        s = s.decode()
    return calendar.timegm(time.strptime(s, "%Y%m%d%H%M%S"))


_B36 = "0123456789abcdefghijklmnopqrstuvwxyz"
_B36_3 = [a + b + c for a in _B36 for b in _B36 for c in _B36]   # 3 digits per step


def sha1_base36(data):
    """MediaWiki's SHA-1 form: base 36, zero-padded to 31 characters."""
    n = int.from_bytes(hashlib.sha1(data).digest(), "big")
    hi, lo = divmod(n, 2176782336 ** 4)          # 36**24: lo has 24 digits, hi 7
    lo_hi, lo_lo = divmod(lo, 2176782336 ** 2)   # machine-size halves of 12 digits
    out = []
    for part, k in ((hi, 3), (lo_hi, 4), (lo_lo, 4)):
        digs = []
        for _ in range(k):
            part, r = divmod(part, 46656)
            digs.append(_B36_3[r])
        out.append("".join(reversed(digs)))
    return out[0][-7:] + out[1] + out[2]


def comment_hash(text, data=None):
    """CommentStore::hash: crc32(text) ^ crc32(data), as a signed 32-bit int."""
    h = zlib.crc32(text)
    if data is not None:
        h ^= zlib.crc32(data)
    return h - (1 << 32) if h >= (1 << 31) else h


def hx(b):
    """A binary-safe SQL literal for bytes."""
    if b is None:
        return "NULL"
    if isinstance(b, str):
        b = b.encode()
    return "x'" + b.hex() + "'" if b else "''"


def connect(socket=None, host=None, port=None, user="root", password=None, password_file=None,
            db=None, autocommit=True):
    if password is None and password_file:
        with open(password_file) as f:
            password = f.read().strip()
    kw = dict(user=user, password=password or "", database=db, charset="utf8mb4",
              autocommit=autocommit, local_infile=False)
    if socket:
        kw["unix_socket"] = socket
    else:
        kw["host"] = host or "127.0.0.1"
        kw["port"] = int(port or 3306)
    conn = pymysql.connect(**kw)
    with conn.cursor() as c:
        c.execute("SET time_zone = '+00:00'")
    return conn


def schema_statements(path=SCHEMA):
    with open(path) as f:
        lines = [ln for ln in f if not ln.lstrip().startswith("--")]
    return [s.strip() for s in "".join(lines).split(";") if s.strip()]


def create_schema(conn, db, drop=False):
    with conn.cursor() as c:
        if drop:
            c.execute(f"DROP DATABASE IF EXISTS `{db}`")
        c.execute(f"CREATE DATABASE IF NOT EXISTS `{db}`")
        c.execute(f"USE `{db}`")
        for st in schema_statements():
            c.execute(st)


class BatchWriter:
    """Multi-row INSERTs sent by a background thread on its own connection, so that
    generating rows in Python overlaps with the server inserting them."""

    def __init__(self, connect_kw, db, bulk=True):
        self.conn = connect(db=db, **connect_kw)
        with self.conn.cursor() as c:
            if bulk:
                c.execute("SET SESSION sql_log_bin = 0")
                c.execute("SET SESSION unique_checks = 0, foreign_key_checks = 0")
        self.q = queue.Queue(maxsize=8)
        self.err = None
        self.buffers = {}
        self.rows = {}
        self.t = threading.Thread(target=self._run, daemon=True)
        self.t.start()

    def _run(self):
        while True:
            sql = self.q.get()
            if sql is None:
                return
            if self.err is None:
                try:
                    with self.conn.cursor() as c:
                        c.execute(sql)
                except Exception as e:  # reported by the main thread
                    self.err = e

    def _send(self, sql):
        if self.err:
            raise self.err
        self.q.put(sql)

    def add(self, table, columns, values_sql):
        """values_sql: the '(...)' text of one row."""
        key = (table, columns)
        buf = self.buffers.setdefault(key, [])
        buf.append(values_sql)
        self.rows[table] = self.rows.get(table, 0) + 1
        if len(buf) >= BATCH_ROWS:
            self._flush(key)

    def _flush(self, key):
        buf = self.buffers.get(key)
        if buf:
            table, columns = key
            self._send(f"INSERT INTO `{table}` ({columns}) VALUES " + ",".join(buf))
            self.buffers[key] = []

    def close(self):
        for key in list(self.buffers):
            self._flush(key)
        self.q.put(None)
        self.t.join()
        self.conn.close()
        if self.err:
            raise self.err
        return self.rows


REV_COLS = ("rev_id,rev_page,rev_comment_id,rev_actor,rev_timestamp,rev_minor_edit,"
            "rev_deleted,rev_len,rev_parent_id,rev_sha1")


def page_title(rng, page_id, ns):
    """Binary DB-key titles: mostly ASCII, every 7th non-ASCII UTF-8, every 97th not UTF-8."""
    if page_id % 97 == 0:
        return b"Invalid_\xff\xfe_bytes_" + str(page_id).encode()
    if page_id % 7 == 0:
        return f"{rng.choice(UTF8_WORDS)}_{page_id}".encode()
    base = "Category" if ns == 14 else rng.choice(("Page", "Article", "History_of", "List_of"))
    return f"{base}_{page_id}".encode()


def wikitext(rng, title, n, redirect_to=None):
    if redirect_to is not None:
        return b"#REDIRECT [[" + redirect_to + b"]]"
    words = [rng.choice(WORDS) for _ in range(rng.randint(8, 48))]
    if rng.random() < 0.2:
        words.insert(rng.randrange(len(words)), rng.choice(UTF8_WORDS))
    return b"'''" + title + b"''' revision " + str(n).encode() + b". " + " ".join(words).encode()


# ----------------------------------------------------------------------------- load

def load(conn_kw, db, pages=100, revs_per_page=3, seed=1, users=None, drop=False,
         revision_only=None):
    """Create db + schema and fill it. conn_kw: keyword arguments for connect()
    (socket/host/port/user/password/password_file). Returns a dict of row counts."""
    t0 = time.monotonic()
    rng = random.Random(seed)
    admin = connect(**conn_kw)
    create_schema(admin, db, drop=drop)
    with admin.cursor() as c:
        c.execute(f"SELECT COUNT(*) FROM `{db}`.page")
        n_page = c.fetchone()[0]
        c.execute(f"SELECT COUNT(*) FROM `{db}`.revision")
        n_rev = c.fetchone()[0]
    if n_page or n_rev:
        raise SystemExit(f"wikiload: {db} already has rows (use --drop to start over)")
    # Secondary (non-unique) indexes are dropped during the load and built again
    # afterwards: a sorted index build is about twice as fast as maintaining them.
    readd = _drop_secondary_indexes(admin, db, ["revision"] if revision_only is not None else None)
    w = BatchWriter(conn_kw, db)
    try:
        if revision_only is not None:
            _load_revision_only(w, rng, revision_only)
        else:
            _load_wiki(w, rng, pages, revs_per_page, users)
    finally:
        counts = w.close()
        with admin.cursor() as c:
            c.execute("SET SESSION sql_log_bin = 0")
            for table, keys in readd.items():
                c.execute(f"ALTER TABLE `{db}`.`{table}` " + ", ".join("ADD " + k for k in keys))
            c.execute("SET SESSION sql_log_bin = 1")
    with admin.cursor() as c:  # make sure the statistics are fresh for chunking
        c.execute(f"ANALYZE TABLE `{db}`.page, `{db}`.revision")
        c.fetchall()
    admin.close()
    return {"db": db, "rows": counts, "seconds": round(time.monotonic() - t0, 2)}


def _drop_secondary_indexes(conn, db, tables=None):
    """Drop the non-unique secondary indexes of db's tables (all, or the given ones);
    return {table: [index definitions as in SHOW CREATE TABLE]} to add them back."""
    out = {}
    with conn.cursor() as c:
        c.execute("SET SESSION sql_log_bin = 0")
        if tables is None:
            c.execute("SELECT table_name FROM information_schema.tables WHERE table_schema=%s", (db,))
            tables = [r[0] for r in c.fetchall()]
        for t in tables:
            c.execute(f"SHOW CREATE TABLE `{db}`.`{t}`")
            ddl = c.fetchone()[1]
            keys = [ln.strip().rstrip(",") for ln in ddl.splitlines() if ln.strip().startswith("KEY ")]
            if keys:
                names = [k.split("`")[1] for k in keys]
                c.execute(f"ALTER TABLE `{db}`.`{t}` " + ", ".join(f"DROP INDEX `{n}`" for n in names))
                out[t] = keys
        c.execute("SET SESSION sql_log_bin = 1")
    return out


def _load_revision_only(w, rng, n):
    n_pages = max(1, n // 10)
    ts = START_TS
    last_rev = {}
    rnd = rng.random
    for rev_id in range(1, n + 1):
        page = int(rnd() * n_pages) + 1
        ts += int(rnd() * 4)
        parent = last_rev.get(page, 0)
        last_rev[page] = rev_id
        w.add("revision", REV_COLS,
              f"({rev_id},{page},{int(rnd() * 1000) + 1},{int(rnd() * 5000) + 1},'{mwts(ts)}',"
              f"{1 if rnd() < 0.3 else 0},0,{int(rnd() * 5000) + 50},{parent},"
              f"'{sha1_base36(b'%d' % rev_id)}')")


def _load_wiki(w, rng, n_pages, k, n_users):
    n_revs = n_pages * k
    if n_users is None:
        n_users = max(5, min(2000, n_pages // 10))
    n_ips = max(2, n_users // 5)
    n_actors = n_users + n_ips

    w.add("slot_roles", "role_id,role_name", f"({ROLE_MAIN},'main')")
    w.add("content_models", "model_id,model_name", f"({MODEL_WIKITEXT},'wikitext')")

    # comments: a shared pool, as CommentStore reuses identical rows
    n_comments = max(len(COMMENTS), min(5000, n_revs // 20))
    for cid in range(1, n_comments + 1):
        text = COMMENTS[cid % len(COMMENTS)]
        if cid > len(COMMENTS):
            text = f"{text} ({cid})"
        text = text.encode()
        data = b'{"_message":"edit-summary"}' if cid % 50 == 0 else None
        w.add("comment", "comment_id,comment_hash,comment_text,comment_data",
              f"({cid},{comment_hash(text, data)},{hx(text)},{hx(data)})")
    c_create = n_comments + 1          # fixed comments for log entries
    c_newuser = n_comments + 2
    for cid, text in ((c_create, b"Created page"), (c_newuser, b"")):
        w.add("comment", "comment_id,comment_hash,comment_text,comment_data",
              f"({cid},{comment_hash(text)},{hx(text)},NULL)")

    # pages: namespace, title (fixed up front: revisions refer to them)
    ns_choices = [0] * 14 + [1, 1, 2, 2, 4, 14]
    page_ns, page_title_b = [0] * (n_pages + 1), [b""] * (n_pages + 1)
    for p in range(1, n_pages + 1):
        ns = rng.choice(ns_choices)
        page_ns[p] = ns
        page_title_b[p] = page_title(rng, p, ns)

    # revisions, round-robin over pages so that histories interleave in time:
    # revision r (0-based) is edit number r // n_pages of page r % n_pages + 1.
    ts = START_TS + 86400
    rev_ts = {}
    last = [0] * (n_pages + 1)           # latest rev_id of each page
    last_len = [0] * (n_pages + 1)
    first_ts = [0] * (n_pages + 1)
    first_actor = [0] * (n_pages + 1)
    editcount = [0] * (n_users + 1)
    for r in range(n_revs):
        rev_id = r + 1
        p = r % n_pages + 1
        n = r // n_pages
        ts += rng.randint(1, 90)
        actor = rng.randint(1, n_actors)
        if actor <= n_users:
            editcount[actor] += 1
        redirect_to = None
        if p % 50 == 0 and n == k - 1:      # some pages end as redirects
            redirect_to = page_title_b[max(1, p - 1)]
        text = wikitext(rng, page_title_b[p], n, redirect_to)
        sha = sha1_base36(text)
        minor = 1 if n and rng.random() < 0.3 else 0
        comment = rng.randint(1, n_comments)
        w.add("text", "old_id,old_text,old_flags", f"({rev_id},{hx(text)},'utf-8')")
        w.add("content", "content_id,content_size,content_sha1,content_model,content_address",
              f"({rev_id},{len(text)},'{sha}',{MODEL_WIKITEXT},'tt:{rev_id}')")
        w.add("revision", REV_COLS,
              f"({rev_id},{p},{comment},{actor},'{mwts(ts)}',{minor},0,{len(text)},"
              f"{last[p]},'{sha}')")
        w.add("slots", "slot_revision_id,slot_role_id,slot_content_id,slot_origin",
              f"({rev_id},{ROLE_MAIN},{rev_id},{rev_id})")
        if n == 0:
            first_ts[p], first_actor[p] = ts, actor
        last[p], last_len[p] = rev_id, len(text)
        rev_ts[p] = ts

    # pages
    for p in range(1, n_pages + 1):
        is_redirect = 1 if (p % 50 == 0) else 0
        touched = mwts(rev_ts[p])
        w.add("page", "page_id,page_namespace,page_title,page_is_redirect,page_is_new,page_random,"
                      "page_touched,page_links_updated,page_latest,page_len,page_content_model,"
                      "page_lang",
              f"({p},{page_ns[p]},{hx(page_title_b[p])},{is_redirect},{1 if k == 1 else 0},"
              f"{rng.random()!r},'{touched}','{touched}',{last[p]},{last_len[p]},'wikitext',NULL)")
        # create log (not published to RC in MediaWiki, but in logging)
        params = f'a:1:{{s:17:"associated_rev_id";i:{p};}}'
        w.add("logging", "log_type,log_action,log_timestamp,log_actor,log_namespace,log_title,"
                         "log_page,log_comment_id,log_params,log_deleted",
              f"('create','create','{mwts(first_ts[p])}',{first_actor[p]},{page_ns[p]},"
              f"{hx(page_title_b[p])},{p},{c_create},{hx(params)},0)")

    # users and actors (IP actors have no user)
    for u in range(1, n_users + 1):
        temp = 1 if u % 25 == 0 else 0
        if temp:
            name = f"~2024-{u}"
        elif u % 9 == 0:
            name = f"{rng.choice(UTF8_WORDS)} {u}"
        else:
            name = f"User {u}"
        reg = mwts(START_TS + u * 60)
        token = hashlib.md5(b"token%d" % u).hexdigest()
        pw = ":pbkdf2:sha512:30000:64:" + hashlib.sha256(b"pw%d" % u).hexdigest()
        w.add("user", "user_id,user_name,user_real_name,user_password,user_newpassword,user_email,"
                      "user_touched,user_token,user_registration,user_editcount,user_is_temp",
              f"({u},{hx(name)},'',{hx(pw)},'','{'' if temp else f'user{u}@example.org'}',"
              f"'{reg}','{token}','{reg}',{editcount[u]},{temp})")
        w.add("actor", "actor_id,actor_user,actor_name", f"({u},{u},{hx(name)})")
        params = hx('a:1:{s:9:"4::userid";i:%d;}' % u)
        w.add("logging", "log_type,log_action,log_timestamp,log_actor,log_namespace,log_title,"
                         "log_page,log_comment_id,log_params,log_deleted",
              f"('newusers','create','{reg}',{u},2,{hx(name.replace(' ', '_'))},0,{c_newuser},"
              f"{params},0)")
    for i in range(1, n_ips + 1):
        name = f"192.0.2.{i % 256}" if i <= 255 else f"2001:DB8:0:0:0:0:0:{i:X}"
        w.add("actor", "actor_id,actor_user,actor_name", f"({n_users + i},NULL,'{name}')")

    # categories: linktarget rows (namespace 14), categorylinks, page_props
    n_cats = max(3, n_pages // 20)
    for c in range(1, n_cats + 1):
        w.add("linktarget", "lt_id,lt_namespace,lt_title", f"({c},14,'Category_{c}')")
    for p in range(1, n_pages + 1):
        if p % 3 == 0:
            continue
        cats = sorted(rng.sample(range(1, n_cats + 1), min(n_cats, rng.randint(1, 3))))
        cl_type = {14: "subcat", 6: "file"}.get(page_ns[p], "page")
        for c in cats:
            sortkey = page_title_b[p].replace(b"_", b" ").upper()[:230]
            w.add("categorylinks", "cl_from,cl_target_id,cl_sortkey,cl_sortkey_prefix,cl_timestamp,"
                                   "cl_type,cl_collation_id",
                  f"({p},{c},{hx(sortkey)},'','{sqlts(rev_ts[p])}','{cl_type}',0)")
        if p % 4 == 0:
            w.add("page_props", "pp_page,pp_propname,pp_value,pp_sortkey",
                  f"({p},'wikibase_item','Q{p * 7}',NULL)")
        if p % 5 == 0:
            v = rng.choice(("0.1", "3", "1.5e10", "-2.75", "1e-7"))
            w.add("page_props", "pp_page,pp_propname,pp_value,pp_sortkey",
                  f"({p},'page_score','{v}',{v})")


# ----------------------------------------------------------------------------- actions

class Wiki:
    """State needed by the actions, read from the database."""

    def __init__(self, conn, db, seed=1):
        self.conn = conn
        self.db = db
        self.rng = random.Random(seed)
        with conn.cursor() as c:
            c.execute(f"USE `{db}`")

    def q(self, sql, args=None):
        with self.conn.cursor() as c:
            c.execute(sql, args)
            return c.fetchall()

    def one(self, sql, args=None):
        rows = self.q(sql, args)
        return rows[0] if rows else None

    def next_ts(self):
        row = self.one("SELECT MAX(rev_timestamp) FROM revision")
        t = parse_mwts(row[0]) if row and row[0] else START_TS
        return t + self.rng.randint(1, 60)

    def pick_page(self):
        row = self.one("SELECT MIN(page_id), MAX(page_id) FROM page")
        if not row or row[0] is None:
            raise SystemExit("wikiload: no pages")
        lo, hi = row
        target = self.rng.randint(lo, hi)
        return self.one("SELECT page_id FROM page WHERE page_id >= %s ORDER BY page_id LIMIT 1",
                        (target,))[0]

    def pick_actor(self):
        lo, hi = self.one("SELECT MIN(actor_id), MAX(actor_id) FROM actor")
        if lo is None:
            self.q("INSERT INTO actor (actor_user, actor_name) VALUES (NULL, '192.0.2.1')")
            return self.one("SELECT LAST_INSERT_ID()")[0]
        return self.one("SELECT actor_id FROM actor WHERE actor_id >= %s ORDER BY actor_id LIMIT 1",
                        (self.rng.randint(lo, hi),))[0]

    def comment(self, text, data=None):
        """CommentStore::createComment: reuse an identical row, insert otherwise."""
        if isinstance(text, str):
            text = text.encode()
        h = comment_hash(text, data)
        row = self.one("SELECT comment_id FROM comment WHERE comment_hash=%s AND comment_text=%s "
                       "AND comment_data <=> %s LIMIT 1", (h, text, data))
        if row:
            return row[0]
        self.q("INSERT INTO comment (comment_hash, comment_text, comment_data) VALUES (%s,%s,%s)",
               (h, text, data))
        return self.one("SELECT LAST_INSERT_ID()")[0]

    def ids(self):
        self.q("INSERT IGNORE INTO slot_roles (role_id, role_name) VALUES (1, 'main')")
        self.q("INSERT IGNORE INTO content_models (model_id, model_name) VALUES (1, 'wikitext')")

    def insert_revision(self, page_id, parent, actor, comment_id, ts, text=None, content_id=None,
                        origin=None, minor=0):
        """A revision with one main slot: new text+content unless content_id is given
        (dummy revisions reuse the content and its slot_origin)."""
        if content_id is None:
            self.q("INSERT INTO text (old_text, old_flags) VALUES (%s, 'utf-8')", (text,))
            old_id = self.one("SELECT LAST_INSERT_ID()")[0]
            sha = sha1_base36(text)
            self.q("INSERT INTO content (content_size, content_sha1, content_model, content_address) "
                   "VALUES (%s,%s,%s,%s)", (len(text), sha, MODEL_WIKITEXT, f"tt:{old_id}"))
            content_id = self.one("SELECT LAST_INSERT_ID()")[0]
            size = len(text)
        else:
            size, sha = self.one("SELECT content_size, content_sha1 FROM content WHERE content_id=%s",
                                 (content_id,))
        self.q("INSERT INTO revision (rev_page, rev_comment_id, rev_actor, rev_timestamp, "
               "rev_minor_edit, rev_deleted, rev_len, rev_parent_id, rev_sha1) "
               "VALUES (%s,%s,%s,%s,%s,0,%s,%s,%s)",
               (page_id, comment_id, actor, mwts(ts), minor, size, parent, sha))
        rev_id = self.one("SELECT LAST_INSERT_ID()")[0]
        self.q("INSERT INTO slots (slot_revision_id, slot_role_id, slot_content_id, slot_origin) "
               "VALUES (%s,%s,%s,%s)", (rev_id, ROLE_MAIN, content_id, origin or rev_id))
        return rev_id, size

    def log(self, ltype, action, ts, actor, ns, title, page, comment_id, params):
        self.q("INSERT INTO logging (log_type, log_action, log_timestamp, log_actor, log_namespace, "
               "log_title, log_page, log_comment_id, log_params, log_deleted) "
               "VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,0)",
               (ltype, action, mwts(ts), actor, ns, title, page, comment_id, params))
        return self.one("SELECT LAST_INSERT_ID()")[0]


def _txn(conn, fn):
    conn.begin()
    try:
        out = fn()
        conn.commit()
        return out
    except BaseException:
        conn.rollback()
        raise


def create_page(wiki, title=None, namespace=0, text=None):
    """PageUpdater::doCreate, simplified: page + first revision + create log."""
    def run():
        wiki.ids()
        ts = wiki.next_ts()
        actor = wiki.pick_actor()
        t = title
        if t is None:
            t = f"New_page_{wiki.rng.randrange(10**9)}".encode()
        elif isinstance(t, str):
            t = t.encode()
        wiki.q("INSERT INTO page (page_namespace, page_title, page_is_redirect, page_is_new, "
               "page_random, page_touched, page_links_updated, page_latest, page_len, "
               "page_content_model) VALUES (%s,%s,0,1,%s,%s,NULL,0,0,'wikitext')",
               (namespace, t, wiki.rng.random(), mwts(ts)))
        page_id = wiki.one("SELECT LAST_INSERT_ID()")[0]
        body = text if text is not None else wikitext(wiki.rng, t, 0)
        cid = wiki.comment("Created page with \"" + body[:40].decode("utf-8", "replace") + "\"")
        rev_id, size = wiki.insert_revision(page_id, 0, actor, cid, ts, text=body)
        wiki.q("UPDATE page SET page_latest=%s, page_len=%s WHERE page_id=%s", (rev_id, size, page_id))
        wiki.log("create", "create", ts, actor, namespace, t, page_id, cid,
                 f'a:1:{{s:17:"associated_rev_id";i:{rev_id};}}')
        return {"action": "create", "page_id": page_id, "rev_id": rev_id}
    return _txn(wiki.conn, run)


def edit_page(wiki, page_id=None, text=None):
    """PageUpdater::doModify: new revision (text, content, slots), page row follows."""
    def run():
        pid = page_id or wiki.pick_page()
        row = wiki.one("SELECT page_latest, page_title FROM page WHERE page_id=%s FOR UPDATE", (pid,))
        if not row:
            raise SystemExit(f"wikiload: no page {pid}")
        latest, title = row
        ts = wiki.next_ts()
        actor = wiki.pick_actor()
        cid = wiki.comment(wiki.rng.choice(COMMENTS))
        body = text if text is not None else wikitext(wiki.rng, title, latest + 1)
        rev_id, size = wiki.insert_revision(pid, latest, actor, cid, ts, text=body,
                                            minor=1 if wiki.rng.random() < 0.3 else 0)
        wiki.q("UPDATE page SET page_latest=%s, page_touched=%s, page_is_new=0, page_len=%s, "
               "page_is_redirect=%s WHERE page_id=%s",
               (rev_id, mwts(ts), size, 1 if body.startswith(b"#REDIRECT") else 0, pid))
        return {"action": "edit", "page_id": pid, "rev_id": rev_id, "parent_id": latest}
    return _txn(wiki.conn, run)


def delete_page(wiki, page_id=None, reason="Deleted by wikiload"):
    """DeletePage: revisions move to archive (slots/content/text/comment stay),
    page row, its categorylinks and page_props go; delete/delete log."""
    def run():
        pid = page_id or wiki.pick_page()
        row = wiki.one("SELECT page_namespace, page_title FROM page WHERE page_id=%s FOR UPDATE", (pid,))
        if not row:
            raise SystemExit(f"wikiload: no page {pid}")
        ns, title = row
        wiki.q("SELECT rev_id FROM revision WHERE rev_page=%s FOR UPDATE", (pid,))
        n = wiki.q("SELECT COUNT(*) FROM revision WHERE rev_page=%s", (pid,))[0][0]
        wiki.q("INSERT INTO archive (ar_namespace, ar_title, ar_comment_id, ar_actor, ar_timestamp, "
               "ar_minor_edit, ar_rev_id, ar_deleted, ar_len, ar_page_id, ar_parent_id, ar_sha1) "
               "SELECT %s, %s, rev_comment_id, rev_actor, rev_timestamp, rev_minor_edit, rev_id, "
               "rev_deleted, rev_len, rev_page, rev_parent_id, rev_sha1 FROM revision "
               "WHERE rev_page=%s ORDER BY rev_timestamp, rev_id", (ns, title, pid))
        wiki.q("DELETE FROM revision WHERE rev_page=%s", (pid,))
        wiki.q("DELETE FROM page WHERE page_id=%s", (pid,))
        wiki.q("DELETE FROM categorylinks WHERE cl_from=%s", (pid,))
        wiki.q("DELETE FROM page_props WHERE pp_page=%s", (pid,))
        ts = wiki.next_ts()
        actor = wiki.pick_actor()
        cid = wiki.comment(reason)
        log_id = wiki.log("delete", "delete", ts, actor, ns, title, pid, cid, "a:0:{}")
        return {"action": "delete", "page_id": pid, "archived": n, "log_id": log_id}
    return _txn(wiki.conn, run)


def move_page(wiki, page_id=None, to=None, namespace=None):
    """MovePage without a redirect: retitle, dummy revision (same content), move/move log."""
    def run():
        pid = page_id or wiki.pick_page()
        row = wiki.one("SELECT page_namespace, page_title, page_latest FROM page WHERE page_id=%s "
                       "FOR UPDATE", (pid,))
        if not row:
            raise SystemExit(f"wikiload: no page {pid}")
        ns, title, latest = row
        new_ns = ns if namespace is None else namespace
        new_title = to.encode() if isinstance(to, str) else to
        if new_title is None:
            new_title = title + b"_(moved_" + str(wiki.rng.randrange(10**6)).encode() + b")"
        ts = wiki.next_ts()
        actor = wiki.pick_actor()
        cid = wiki.comment(b"moved page [[" + title + b"]] to [[" + new_title + b"]]")
        wiki.q("UPDATE page SET page_namespace=%s, page_title=%s WHERE page_id=%s",
               (new_ns, new_title, pid))
        content_id, origin = wiki.one("SELECT slot_content_id, slot_origin FROM slots "
                                      "WHERE slot_revision_id=%s AND slot_role_id=%s",
                                      (latest, ROLE_MAIN))
        rev_id, size = wiki.insert_revision(pid, latest, actor, cid, ts, content_id=content_id,
                                            origin=origin, minor=1)
        wiki.q("UPDATE page SET page_latest=%s, page_touched=%s, page_is_new=0 WHERE page_id=%s",
               (rev_id, mwts(ts), pid))
        params = ('a:2:{s:9:"4::target";s:%d:"%s";s:10:"5::noredir";s:1:"1";}'
                  % (len(new_title), new_title.decode("utf-8", "replace")))
        log_id = wiki.log("move", "move", ts, actor, ns, title, pid, cid, params)
        return {"action": "move", "page_id": pid, "rev_id": rev_id, "log_id": log_id,
                "to": new_title.decode("utf-8", "replace")}
    return _txn(wiki.conn, run)


# ----------------------------------------------------------------------------- CLI

def main(argv=None):
    ap = argparse.ArgumentParser(description="MediaWiki-shaped loader and actions for snapdiff tests")
    sub = ap.add_subparsers(dest="cmd", required=True)

    def common(p):
        p.add_argument("--socket", default=os.environ.get("MARIADB_SOCKET"))
        p.add_argument("--host")
        p.add_argument("--port", type=int)
        p.add_argument("--user", default="root")
        p.add_argument("--password-file")
        p.add_argument("--db", default="enwiki")
        p.add_argument("--seed", type=int, default=1)

    p = sub.add_parser("load", help="create the schema and load a wiki")
    common(p)
    p.add_argument("--pages", type=int, default=100)
    p.add_argument("--revs-per-page", type=int, default=3)
    p.add_argument("--users", type=int)
    p.add_argument("--drop", action="store_true", help="drop the database first")
    p.add_argument("--revision-only", type=int, metavar="N", help="fill only `revision`, N rows")
    for name in ("create", "edit", "delete", "move"):
        p = sub.add_parser(name)
        common(p)
        p.add_argument("--count", type=int, default=1)
        if name != "create":
            p.add_argument("--page-id", type=int)
        if name in ("create", "move"):
            p.add_argument("--namespace", type=int)
        if name == "create":
            p.add_argument("--title")
        if name == "move":
            p.add_argument("--to")
    a = ap.parse_args(argv)

    conn_kw = dict(socket=a.socket, host=a.host, port=a.port, user=a.user,
                   password_file=a.password_file)
    if a.cmd == "load":
        out = load(conn_kw, a.db, pages=a.pages, revs_per_page=a.revs_per_page, seed=a.seed,
                   users=a.users, drop=a.drop, revision_only=a.revision_only)
        print(json.dumps(out), flush=True)
        return 0
    conn = connect(autocommit=True, **conn_kw)
    wiki = Wiki(conn, a.db, seed=a.seed)
    for _ in range(a.count):
        if a.cmd == "create":
            r = create_page(wiki, title=a.title, namespace=a.namespace or 0)
        elif a.cmd == "edit":
            r = edit_page(wiki, page_id=a.page_id)
        elif a.cmd == "delete":
            r = delete_page(wiki, page_id=a.page_id)
        else:
            r = move_page(wiki, page_id=a.page_id, to=a.to, namespace=a.namespace)
        print(json.dumps(r), flush=True)
    conn.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
