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

  null-edit --db enwiki [--page-id P]    page_touched only (no revision)
  undelete --db enwiki [--title T --namespace NS]   archived revisions come back with
           their rev_ids (old page_id if free), archive rows go, log delete/restore
  move ... --redirect                    also leave a redirect page at the old title
           (log move/move_redir)
  revdel   --db enwiki [--page-id P | --rev-id R] [--bits 6]   rev_deleted bits,
           log delete/revision
  protect  --db enwiki [--page-id P]     dummy revision + page_restrictions + log protect
  create-user [--name N]                 user + actor + log newusers/create
  rename-user [--old N] [--name M]       user_name + actor_name + log renameuser
  import   --db enwiki [--page-id P | --title T] [--revisions K]   old revisions with new
           rev_ids and old timestamps, no log (importDump.php)
  random   --db enwiki [--count N] [--mix edit=10,create=2,...] [--pause S]   a
           reproducible mix of all of the above, safe to run while snapdiff runs
  (every action command takes --action-log FILE: one JSON line per action with
  kind, page_id, rev_id, title, namespace, performer, comment, ...; the tests
  check derived page_change events against it)

Every command prints one JSON line on stdout (what it did: ids, counts, seconds).
Actions pick their pages with a seeded RNG (--seed), so a sequence of commands on
the same starting data is reproducible. Timestamps continue after the newest
existing revision (not the wall clock), so they are deterministic too.

The module is importable (tests put tests/lib on sys.path): load(conn, ...),
edit_page(conn, ...), delete_page(conn, ...), move_page(conn, ...), create_page(conn, ...),
null_edit, undelete_page, revdel, protect_page, create_user, rename_user, import_revisions,
random_actions(wiki, count, mix), connect(...). The write patterns (tables, order,
transactions) follow MediaWiki 1.43+ as described in shared/reference/mediawiki.md §4.

The bulk load turns off the binary log for its own session (sql_log_bin=0, needs
root); the actions are logged normally.
"""

import argparse
import calendar
import codecs
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


def title_text(b):
    """Bytes as snapdiff's page_change renders them: UTF-8 as is, any byte that is
    not part of valid UTF-8 as the character U+0080..U+00FF of the same number."""
    if isinstance(b, str):
        return b
    return bytes(b).decode("utf-8", "wl-latin1")


def _latin1_errors(e):
    return "".join(chr(c) for c in e.object[e.start:e.end]), e.end


codecs.register_error("wl-latin1", _latin1_errors)


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


# Tables the actions need that tests/fixtures/mediawiki.sql does not define
# (it is shared; "IF NOT EXISTS" keeps the fixture's definition if it gains one).
EXTRA_SCHEMA = [
    """CREATE TABLE IF NOT EXISTS page_restrictions (
  pr_id INT UNSIGNED AUTO_INCREMENT NOT NULL,
  pr_page INT UNSIGNED NOT NULL,
  pr_type VARBINARY(60) NOT NULL,
  pr_level VARBINARY(60) NOT NULL,
  pr_cascade TINYINT NOT NULL,
  pr_expiry VARBINARY(14) DEFAULT NULL,
  UNIQUE INDEX pr_pagetype (pr_page, pr_type),
  INDEX pr_typelevel (pr_type, pr_level),
  INDEX pr_level (pr_level),
  INDEX pr_cascade (pr_cascade),
  PRIMARY KEY(pr_id)
) ENGINE=InnoDB DEFAULT CHARSET=binary""",
]


def create_schema(conn, db, drop=False):
    with conn.cursor() as c:
        if drop:
            c.execute(f"DROP DATABASE IF EXISTS `{db}`")
        c.execute(f"CREATE DATABASE IF NOT EXISTS `{db}`")
        c.execute(f"USE `{db}`")
        for st in schema_statements() + EXTRA_SCHEMA:
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

    def __init__(self, conn, db, seed=1, action_log=None):
        self.conn = conn
        self.db = db
        self.rng = random.Random(seed)
        self.action_log = action_log     # a path: every action appends one JSON line
        with conn.cursor() as c:
            c.execute(f"USE `{db}`")

    def record(self, kind, **fields):
        """Append what an action did to the action log (if any); return the record."""
        rec = {"kind": kind}
        for k, v in fields.items():
            if isinstance(v, (bytes, bytearray)):
                rec[k] = title_text(v)
                rec[k + "_hex"] = bytes(v).hex()
            else:
                rec[k] = v
        if self.action_log:
            with open(self.action_log, "a") as f:
                f.write(json.dumps(rec, ensure_ascii=False) + "\n")
        return rec

    def has_table(self, name):
        return bool(self.one("SELECT 1 FROM information_schema.tables WHERE table_schema=%s AND "
                             "table_name=%s", (self.db, name)))

    def actor_name(self, actor_id):
        row = self.one("SELECT actor_name FROM actor WHERE actor_id=%s", (actor_id,))
        return title_text(row[0]) if row else None

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


def create_page(wiki, title=None, namespace=0, text=None, comment=None, actor=None):
    """PageUpdater::doCreate, simplified: page + first revision + create log."""
    def run():
        wiki.ids()
        ts = wiki.next_ts()
        act = actor or wiki.pick_actor()
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
        ctext = comment if comment is not None else \
            "Created page with \"" + body[:40].decode("utf-8", "replace") + "\""
        cid = wiki.comment(ctext)
        rev_id, size = wiki.insert_revision(page_id, 0, act, cid, ts, text=body)
        wiki.q("UPDATE page SET page_latest=%s, page_len=%s, page_is_redirect=%s WHERE page_id=%s",
               (rev_id, size, 1 if body.startswith(b"#REDIRECT") else 0, page_id))
        wiki.log("create", "create", ts, act, namespace, t, page_id, cid,
                 f'a:1:{{s:17:"associated_rev_id";i:{rev_id};}}')
        return {"action": "create", "page_id": page_id, "rev_id": rev_id,
                "_rec": dict(page_id=page_id, rev_id=rev_id, title=t, namespace=namespace,
                             performer=wiki.actor_name(act), comment=_ctext(ctext), ts=mwts(ts))}
    return _done(wiki, "create", _txn(wiki.conn, run))


def _ctext(c):
    return title_text(c.encode() if isinstance(c, str) else c)


def _done(wiki, kind, out):
    """Record an action's outcome (the private "_rec" part) and return the rest."""
    rec = out.pop("_rec", None)
    if rec is not None:
        wiki.record(kind, **rec)
    return out


def edit_page(wiki, page_id=None, text=None, comment=None, minor=None, actor=None):
    """PageUpdater::doModify: new revision (text, content, slots), page row follows."""
    def run():
        pid = page_id or wiki.pick_page()
        row = wiki.one("SELECT page_latest, page_title, page_namespace FROM page WHERE page_id=%s "
                       "FOR UPDATE", (pid,))
        if not row:
            raise SystemExit(f"wikiload: no page {pid}")
        latest, title, ns = row
        ts = wiki.next_ts()
        act = actor or wiki.pick_actor()
        ctext = comment if comment is not None else wiki.rng.choice(COMMENTS)
        cid = wiki.comment(ctext)
        body = text if text is not None else wikitext(wiki.rng, title, latest + 1)
        m = minor if minor is not None else (1 if wiki.rng.random() < 0.3 else 0)
        rev_id, size = wiki.insert_revision(pid, latest, act, cid, ts, text=body, minor=m)
        wiki.q("UPDATE page SET page_latest=%s, page_touched=%s, page_is_new=0, page_len=%s, "
               "page_is_redirect=%s WHERE page_id=%s",
               (rev_id, mwts(ts), size, 1 if body.startswith(b"#REDIRECT") else 0, pid))
        return {"action": "edit", "page_id": pid, "rev_id": rev_id, "parent_id": latest,
                "_rec": dict(page_id=pid, rev_id=rev_id, parent_id=latest, title=title, namespace=ns,
                             performer=wiki.actor_name(act), comment=_ctext(ctext), minor=m,
                             ts=mwts(ts))}
    return _done(wiki, "edit", _txn(wiki.conn, run))


def null_edit(wiki, page_id=None):
    """A save without a change: no revision, only page_touched moves (its own
    auto-commit UPDATE, as WikiPage::doPurge/touch does)."""
    pid = page_id or wiki.pick_page()
    row = wiki.one("SELECT page_title, page_namespace FROM page WHERE page_id=%s", (pid,))
    if not row:
        raise SystemExit(f"wikiload: no page {pid}")
    ts = mwts(wiki.next_ts())
    wiki.q("UPDATE page SET page_touched=%s WHERE page_id=%s AND page_touched < %s", (ts, pid, ts))
    wiki.record("null_edit", page_id=pid, title=row[0], namespace=row[1])
    return {"action": "null_edit", "page_id": pid}


def delete_page(wiki, page_id=None, reason="Deleted by wikiload", actor=None, suppress=False):
    """DeletePage: revisions move to archive (slots/content/text/comment stay),
    page row, its categorylinks, page_props and page_restrictions go; delete/delete
    log (suppress/delete when suppressing: ar_deleted 15)."""
    def run():
        pid = page_id or wiki.pick_page()
        row = wiki.one("SELECT page_namespace, page_title, page_latest FROM page WHERE page_id=%s "
                       "FOR UPDATE", (pid,))
        if not row:
            raise SystemExit(f"wikiload: no page {pid}")
        ns, title, latest = row
        wiki.q("SELECT rev_id FROM revision WHERE rev_page=%s FOR UPDATE", (pid,))
        n = wiki.q("SELECT COUNT(*) FROM revision WHERE rev_page=%s", (pid,))[0][0]
        wiki.q("INSERT INTO archive (ar_namespace, ar_title, ar_comment_id, ar_actor, ar_timestamp, "
               "ar_minor_edit, ar_rev_id, ar_deleted, ar_len, ar_page_id, ar_parent_id, ar_sha1) "
               "SELECT %s, %s, rev_comment_id, rev_actor, rev_timestamp, rev_minor_edit, rev_id, "
               + ("15" if suppress else "rev_deleted") +
               ", rev_len, rev_page, rev_parent_id, rev_sha1 FROM revision "
               "WHERE rev_page=%s ORDER BY rev_timestamp, rev_id", (ns, title, pid))
        wiki.q("DELETE FROM revision WHERE rev_page=%s", (pid,))
        wiki.q("DELETE FROM page WHERE page_id=%s", (pid,))
        wiki.q("DELETE FROM categorylinks WHERE cl_from=%s", (pid,))
        wiki.q("DELETE FROM page_props WHERE pp_page=%s", (pid,))
        if wiki.has_table("page_restrictions"):
            wiki.q("DELETE FROM page_restrictions WHERE pr_page=%s", (pid,))
        ts = wiki.next_ts()
        act = actor or wiki.pick_actor()
        cid = wiki.comment(reason)
        log_id = wiki.log("suppress" if suppress else "delete", "delete", ts, act, ns, title, pid, cid,
                          "a:0:{}")
        return {"action": "delete", "page_id": pid, "archived": n, "log_id": log_id,
                "_rec": dict(page_id=pid, rev_id=latest, title=title, namespace=ns, archived=n,
                             performer=wiki.actor_name(act), comment=_ctext(reason),
                             suppress=suppress, ts=mwts(ts))}
    return _done(wiki, "delete", _txn(wiki.conn, run))


def move_page(wiki, page_id=None, to=None, namespace=None, redirect=False, reason=None, actor=None):
    """MovePage::moveUnsafe: retitle, dummy revision (same content, the move comment),
    with redirect=True a new redirect page at the old title (own revision, no log,
    no RC), then the move/move or move/move_redir log, all one transaction."""
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
        act = actor or wiki.pick_actor()
        ctext = b"moved page [[" + title + b"]] to [[" + new_title + b"]]"
        if reason:
            ctext += b": " + (reason.encode() if isinstance(reason, str) else reason)
        cid = wiki.comment(ctext)
        wiki.q("UPDATE page SET page_namespace=%s, page_title=%s WHERE page_id=%s",
               (new_ns, new_title, pid))
        content_id, origin = wiki.one("SELECT slot_content_id, slot_origin FROM slots "
                                      "WHERE slot_revision_id=%s AND slot_role_id=%s",
                                      (latest, ROLE_MAIN))
        rev_id, size = wiki.insert_revision(pid, latest, act, cid, ts, content_id=content_id,
                                            origin=origin, minor=1)
        wiki.q("UPDATE page SET page_latest=%s, page_touched=%s, page_is_new=0 WHERE page_id=%s",
               (rev_id, mwts(ts), pid))
        redir_id = redir_rev = None
        if redirect:
            body = b"#REDIRECT [[" + new_title + b"]]"
            wiki.q("INSERT INTO page (page_namespace, page_title, page_is_redirect, page_is_new, "
                   "page_random, page_touched, page_links_updated, page_latest, page_len, "
                   "page_content_model) VALUES (%s,%s,1,1,%s,%s,NULL,0,0,'wikitext')",
                   (ns, title, wiki.rng.random(), mwts(ts)))
            redir_id = wiki.one("SELECT LAST_INSERT_ID()")[0]
            rcid = wiki.comment(b"moved page [[" + title + b"]] to [[" + new_title + b"]]")
            redir_rev, rsize = wiki.insert_revision(redir_id, 0, act, rcid, ts, text=body)
            wiki.q("UPDATE page SET page_latest=%s, page_len=%s WHERE page_id=%s",
                   (redir_rev, rsize, redir_id))
        params = ('a:2:{s:9:"4::target";s:%d:"%s";s:10:"5::noredir";s:1:"%s";}'
                  % (len(new_title), new_title.decode("utf-8", "replace"), "0" if redirect else "1"))
        log_id = wiki.log("move", "move_redir" if redirect else "move", ts, act, ns, title, pid, cid,
                          params)
        return {"action": "move", "page_id": pid, "rev_id": rev_id, "log_id": log_id,
                "to": new_title.decode("utf-8", "replace"), "redirect_page_id": redir_id,
                "_rec": dict(page_id=pid, rev_id=rev_id, parent_id=latest, title=new_title,
                             namespace=new_ns, old_title=title, old_namespace=ns,
                             redirect_page_id=redir_id, redirect_rev_id=redir_rev,
                             performer=wiki.actor_name(act), comment=_ctext(ctext), ts=mwts(ts))}
    return _done(wiki, "move", _txn(wiki.conn, run))


def undelete_page(wiki, title=None, namespace=0, reason="Restored by wikiload", actor=None):
    """UndeletePage::undeleteRevisions: the archived revisions of (namespace, title)
    come back with their original rev_ids; the page gets its old page_id when free
    (else a new one), or an existing page at the title absorbs them; archive rows
    go; delete/restore log. One transaction. title None: the most recently deleted
    title that has no page now."""
    def run():
        t, ns = title, namespace
        if t is None:
            row = wiki.one("SELECT ar_namespace, ar_title FROM archive a WHERE NOT EXISTS "
                           "(SELECT 1 FROM page WHERE page_namespace=ar_namespace AND "
                           "page_title=ar_title) ORDER BY ar_id DESC LIMIT 1")
            if not row:
                return None
            ns, t = row
        elif isinstance(t, str):
            t = t.encode()
        rows = wiki.q("SELECT ar_id, ar_rev_id, ar_page_id, ar_comment_id, ar_actor, ar_timestamp, "
                      "ar_minor_edit, ar_deleted, ar_len, ar_parent_id, ar_sha1 FROM archive "
                      "WHERE ar_namespace=%s AND ar_title=%s ORDER BY ar_timestamp, ar_rev_id "
                      "FOR UPDATE", (ns, t))
        if not rows:
            raise SystemExit(f"wikiload: nothing archived at {ns}:{t!r}")
        newest = rows[-1]
        existing = wiki.one("SELECT page_id, page_latest FROM page WHERE page_namespace=%s AND "
                            "page_title=%s FOR UPDATE", (ns, t))
        created = existing is None
        if created:
            old_id = newest[2]
            free = old_id and not wiki.one("SELECT 1 FROM page WHERE page_id=%s", (old_id,))
            wiki.q("INSERT INTO page (page_id, page_namespace, page_title, page_is_redirect, "
                   "page_is_new, page_random, page_touched, page_links_updated, page_latest, "
                   "page_len, page_content_model) VALUES (%s,%s,%s,0,1,%s,%s,NULL,0,0,'wikitext')",
                   (old_id if free else None, ns, t, wiki.rng.random(), newest[5]))
            pid = wiki.one("SELECT LAST_INSERT_ID()")[0] if not free else old_id
            cur_latest = 0
        else:
            pid, cur_latest = existing
        for (_, rev_id, _, cid, act_, ts_, minor, deleted, ln, parent, sha) in rows:
            wiki.q("INSERT INTO revision (rev_id, rev_page, rev_comment_id, rev_actor, rev_timestamp, "
                   "rev_minor_edit, rev_deleted, rev_len, rev_parent_id, rev_sha1) "
                   "VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s)",
                   (rev_id, pid, cid, act_, ts_, minor, deleted, ln, parent, sha))
        wiki.q("DELETE FROM archive WHERE ar_namespace=%s AND ar_title=%s", (ns, t))
        latest_row = None if created else wiki.one("SELECT rev_timestamp FROM revision WHERE rev_id=%s",
                                                   (cur_latest,))
        if created or (latest_row and newest[5] > latest_row[0]):
            red = wiki.one("SELECT old_text FROM text JOIN content ON content_address="
                           "CONCAT('tt:', old_id) JOIN slots ON slot_content_id=content_id "
                           "WHERE slot_revision_id=%s", (newest[1],))
            is_redir = 1 if red and red[0].startswith(b"#REDIRECT") else 0
            wiki.q("UPDATE page SET page_latest=%s, page_touched=%s, page_len=%s, page_is_redirect=%s"
                   + (", page_is_new=1" if created else "") + " WHERE page_id=%s",
                   (newest[1], newest[5], newest[8] or 0, is_redir, pid))
        ts = wiki.next_ts()
        act = actor or wiki.pick_actor()
        cid = wiki.comment(reason)
        log_id = wiki.log("delete", "restore", ts, act, ns, t, pid, cid,
                          'a:1:{s:5:"count";a:2:{s:9:"revisions";i:%d;s:5:"files";i:0;}}' % len(rows))
        return {"action": "undelete", "page_id": pid, "restored": len(rows), "log_id": log_id,
                "_rec": dict(page_id=pid, old_page_id=newest[2], rev_id=newest[1], title=t,
                             namespace=ns, restored=len(rows), created=created,
                             rev_ids=[r[1] for r in rows], performer=wiki.actor_name(act),
                             comment=_ctext(reason), ts=mwts(ts))}
    out = _txn(wiki.conn, run)
    return _done(wiki, "undelete", out) if out else None


def revdel(wiki, page_id=None, rev_id=None, bits=6, reason="Hiding by wikiload", actor=None,
           suppress=False):
    """RevDelList::setVisibility for one revision (default: the page's current one,
    whose text MediaWiki does not let you hide, hence bits 6 = comment + editor):
    rev_deleted changes conditionally on its old value, page_touched moves, then a
    delete/revision (or suppress/revision) log row. One transaction."""
    def run():
        pid = page_id
        if rev_id is not None:
            pid = wiki.one("SELECT rev_page FROM revision WHERE rev_id=%s", (rev_id,))[0]
        pid = pid or wiki.pick_page()
        ns, title, latest = wiki.one("SELECT page_namespace, page_title, page_latest FROM page "
                                     "WHERE page_id=%s FOR UPDATE", (pid,))
        rid = rev_id or latest
        old = wiki.one("SELECT rev_deleted FROM revision WHERE rev_id=%s", (rid,))[0]
        new = bits | (8 if suppress else 0)
        wiki.q("UPDATE revision SET rev_deleted=%s WHERE rev_id=%s AND rev_page=%s AND rev_deleted=%s",
               (new, rid, pid, old))
        ts = wiki.next_ts()
        wiki.q("UPDATE page SET page_touched=%s WHERE page_id=%s", (mwts(ts), pid))
        act = actor or wiki.pick_actor()
        cid = wiki.comment(reason)
        params = ('a:4:{s:4:"type";s:8:"revision";s:3:"ids";a:1:{i:0;s:%d:"%d";}'
                  's:9:"ofield";i:%d;s:9:"nfield";i:%d;}' % (len(str(rid)), rid, old, new))
        log_id = wiki.log("suppress" if suppress else "delete", "revision", ts, act, ns, title, pid,
                          cid, params)
        return {"action": "revdel", "page_id": pid, "rev_id": rid, "log_id": log_id,
                "_rec": dict(page_id=pid, rev_id=rid, current=(rid == latest), title=title,
                             namespace=ns, old_bits=old, new_bits=new,
                             performer=wiki.actor_name(act), comment=_ctext(reason), ts=mwts(ts))}
    return _done(wiki, "visibility", _txn(wiki.conn, run))


def protect_page(wiki, page_id=None, level="sysop", reason="Vandalism", actor=None):
    """WikiPage::doUpdateRestrictions on an existing page: a dummy revision (new
    rev_id, same content), then page_restrictions replaced, then protect/protect
    (or protect/modify) log. No outer atomic section: three transactions."""
    wiki.q(EXTRA_SCHEMA[0])      # DDL commits: before any transaction
    pid = page_id or wiki.pick_page()
    ns, title, latest = wiki.one("SELECT page_namespace, page_title, page_latest FROM page "
                                 "WHERE page_id=%s", (pid,))
    ts = wiki.next_ts()
    act = actor or wiki.pick_actor()
    desc = b"[edit=" + level.encode() + b"] (indefinite) [move=" + level.encode() + b"] (indefinite)"
    ctext = b"Protected \"[[" + title + b"]]\": " + reason.encode() + b" " + desc

    def dummy():
        wiki.one("SELECT page_latest FROM page WHERE page_id=%s FOR UPDATE", (pid,))
        cid = wiki.comment(ctext)
        content_id, origin = wiki.one("SELECT slot_content_id, slot_origin FROM slots "
                                      "WHERE slot_revision_id=%s AND slot_role_id=%s",
                                      (latest, ROLE_MAIN))
        rev_id, _ = wiki.insert_revision(pid, latest, act, cid, ts, content_id=content_id,
                                         origin=origin, minor=1)
        wiki.q("UPDATE page SET page_latest=%s, page_touched=%s, page_is_new=0 WHERE page_id=%s",
               (rev_id, mwts(ts), pid))
        return rev_id

    rev_id = _txn(wiki.conn, dummy)

    def restrictions():
        had = wiki.q("SELECT pr_id FROM page_restrictions WHERE pr_page=%s", (pid,))
        for (pr_id,) in had:
            wiki.q("DELETE FROM page_restrictions WHERE pr_id=%s", (pr_id,))
        for typ in ("edit", "move"):
            wiki.q("INSERT INTO page_restrictions (pr_page, pr_type, pr_level, pr_cascade, pr_expiry) "
                   "VALUES (%s,%s,%s,0,'infinity')", (pid, typ, level))
        return bool(had)

    modified = _txn(wiki.conn, restrictions)
    cid = wiki.comment(reason)
    params = ('a:3:{s:11:"4::description";s:%d:"%s";s:9:"5:bool:cascade";b:0;s:7:"details";a:0:{}}'
              % (len(desc), desc.decode()))
    log_id = _txn(wiki.conn, lambda: wiki.log("protect", "modify" if modified else "protect", ts, act,
                                              ns, title, pid, cid, params))
    wiki.record("protect", page_id=pid, rev_id=rev_id, title=title, namespace=ns,
                performer=wiki.actor_name(act), comment=_ctext(reason), ts=mwts(ts))
    return {"action": "protect", "page_id": pid, "rev_id": rev_id, "log_id": log_id}


def create_user(wiki, name=None):
    """Account creation (self sign-up): user + actor in one transaction, then the
    newusers/create log by the new actor."""
    ts = wiki.next_ts()
    n = name or f"Wikiload user {wiki.rng.randrange(10**9)}"
    nb = n.encode() if isinstance(n, str) else n

    def run():
        token = hashlib.md5(nb + b"token").hexdigest()
        wiki.q("INSERT IGNORE INTO user (user_name, user_real_name, user_password, user_newpassword, "
               "user_email, user_touched, user_token, user_registration, user_editcount, user_is_temp) "
               "VALUES (%s,'',%s,'','',%s,%s,%s,0,0)",
               (nb, b":pbkdf2:x", mwts(ts), token, mwts(ts)))
        uid = wiki.one("SELECT user_id FROM user WHERE user_name=%s", (nb,))[0]
        wiki.q("INSERT INTO actor (actor_user, actor_name) VALUES (%s,%s)", (uid, nb))
        aid = wiki.one("SELECT LAST_INSERT_ID()")[0]
        return uid, aid

    uid, aid = _txn(wiki.conn, run)
    cid = wiki.comment(b"")
    _txn(wiki.conn, lambda: wiki.log("newusers", "create", ts, aid, 2, nb.replace(b" ", b"_"), 0, cid,
                                     'a:1:{s:9:"4::userid";i:%d;}' % uid))
    wiki.record("create_user", user_id=uid, actor_id=aid, name=nb, performer=title_text(nb), ts=mwts(ts))
    return {"action": "create_user", "user_id": uid, "actor_id": aid}


def rename_user(wiki, old=None, new=None, actor=None, reason="Requested"):
    """RenameuserSQL::rename: user_name, actor_name (actor_id unchanged, so revision
    and log rows stay), user-log titles, then renameuser/renameuser. One transaction."""
    def run():
        o = old
        if o is None:
            if not wiki.one("SELECT MAX(user_id) FROM user")[0]:
                return None
            row = wiki.one("SELECT user_name FROM user WHERE user_id >= %s ORDER BY user_id LIMIT 1",
                           (wiki.rng.randint(1, wiki.one("SELECT MAX(user_id) FROM user")[0]),))
            o = row[0]
        ob = o.encode() if isinstance(o, str) else o
        nb = new.encode() if isinstance(new, str) else new
        if nb is None:
            nb = ob + b" (renamed " + str(wiki.rng.randrange(10**6)).encode() + b")"
        uid = wiki.one("SELECT user_id FROM user WHERE user_name=%s FOR UPDATE", (ob,))[0]
        ts = wiki.next_ts()
        wiki.q("UPDATE user SET user_name=%s, user_touched=%s WHERE user_id=%s", (nb, mwts(ts), uid))
        wiki.q("UPDATE actor SET actor_name=%s WHERE actor_user=%s", (nb, uid))
        wiki.q("UPDATE logging SET log_title=%s WHERE log_namespace=2 AND log_title=%s AND "
               "log_type IN ('block','newusers','rights') ",
               (nb.replace(b" ", b"_"), ob.replace(b" ", b"_")))
        act = actor or wiki.pick_actor()
        edits = wiki.one("SELECT user_editcount FROM user WHERE user_id=%s", (uid,))[0] or 0
        cid = wiki.comment(reason)
        params = ('a:3:{s:10:"4::olduser";s:%d:"%s";s:10:"5::newuser";s:%d:"%s";s:8:"6::edits";i:%d;}'
                  % (len(ob), ob.decode("utf-8", "replace"), len(nb), nb.decode("utf-8", "replace"),
                     edits))
        wiki.log("renameuser", "renameuser", ts, act, 2, ob.replace(b" ", b"_"), 0, cid, params)
        return {"action": "rename_user", "user_id": uid,
                "_rec": dict(user_id=uid, old_name=ob, name=nb, performer=wiki.actor_name(act),
                             comment=_ctext(reason), ts=mwts(ts))}
    out = _txn(wiki.conn, run)
    return _done(wiki, "rename_user", out) if out else None


def import_revisions(wiki, page_id=None, title=None, namespace=0, count=2, user="Importer"):
    """importDump.php (WikiImporter + ImportableOldRevisionImporter): per revision,
    with no surrounding transaction, a new rev_id with an OLD timestamp, parent = the
    page's latest revision not newer than it; the page row is created when missing
    and follows (latest, page_touched = the old timestamp, page_is_new 0) only when
    the imported revision is not older than its current latest. Foreign users become
    `imported>Name` actors without a user. No log, no RC."""
    wiki.ids()
    if title is None and page_id is None:
        page_id = wiki.pick_page()
    if page_id is not None:
        ns, t = wiki.one("SELECT page_namespace, page_title FROM page WHERE page_id=%s", (page_id,))
    else:
        ns, t = namespace, (title.encode() if isinstance(title, str) else title)
    name = b"imported>" + user.encode()
    row = wiki.one("SELECT actor_id FROM actor WHERE actor_name=%s", (name,))
    if row:
        act = row[0]
    else:
        wiki.q("INSERT INTO actor (actor_user, actor_name) VALUES (NULL, %s)", (name,))
        act = wiki.one("SELECT LAST_INSERT_ID()")[0]
    # old timestamps: before the page's first revision (or START_TS for a new page)
    row = wiki.one("SELECT MIN(rev_timestamp) FROM revision JOIN page ON rev_page=page_id "
                   "WHERE page_namespace=%s AND page_title=%s", (ns, t))
    base = parse_mwts(row[0]) - 86400 * (count + 1) if row and row[0] else START_TS - 86400 * (count + 1)
    out = []
    for i in range(count):
        ts = base + 86400 * i + wiki.rng.randint(0, 3600)
        page = wiki.one("SELECT page_id, page_latest FROM page WHERE page_namespace=%s AND page_title=%s",
                        (ns, t))
        if not page:
            wiki.q("INSERT INTO page (page_namespace, page_title, page_is_redirect, page_is_new, "
                   "page_random, page_touched, page_links_updated, page_latest, page_len, "
                   "page_content_model) VALUES (%s,%s,0,0,%s,%s,NULL,0,0,'wikitext')",
                   (ns, t, wiki.rng.random(), mwts(ts)))
            page = (wiki.one("SELECT LAST_INSERT_ID()")[0], 0)
        pid, latest = page
        prow = wiki.one("SELECT rev_id FROM revision WHERE rev_page=%s AND rev_timestamp <= %s "
                        "ORDER BY rev_timestamp DESC, rev_id DESC LIMIT 1", (pid, mwts(ts)))
        parent = prow[0] if prow else 0
        cid = wiki.comment(f"imported revision {i + 1}")
        body = wikitext(wiki.rng, t, 1000 + i)
        rev_id, size = wiki.insert_revision(pid, parent, act, cid, ts, text=body)
        lrow = wiki.one("SELECT rev_timestamp FROM revision WHERE rev_id=%s", (latest,)) if latest else None
        became_latest = not lrow or mwts(ts).encode() >= bytes(lrow[0])
        if became_latest:
            wiki.q("UPDATE page SET page_latest=%s, page_touched=%s, page_is_new=0, page_len=%s "
                   "WHERE page_id=%s", (rev_id, mwts(ts), size, pid))
        out.append({"rev_id": rev_id, "parent_id": parent, "ts": mwts(ts), "latest": became_latest})
        wiki.record("import", page_id=pid, rev_id=rev_id, parent_id=parent, title=t, namespace=ns,
                    performer=title_text(name), comment=f"imported revision {i + 1}", ts=mwts(ts),
                    became_latest=became_latest)
    return {"action": "import", "page_id": pid, "revisions": out}


DEFAULT_MIX = {"create": 3, "edit": 20, "null_edit": 3, "delete": 2, "undelete": 1, "move": 2,
               "move_redirect": 1, "revdel": 1, "protect": 1, "create_user": 1, "rename_user": 1,
               "import": 1}


def parse_mix(text):
    """"edit=10,create=2" -> {"edit": 10, "create": 2} (unknown kinds are an error)."""
    mix = {}
    for part in filter(None, (p.strip() for p in (text or "").split(","))):
        k, _, v = part.partition("=")
        if k not in DEFAULT_MIX:
            raise SystemExit(f"wikiload: unknown action '{k}' in --mix (known: {', '.join(DEFAULT_MIX)})")
        mix[k] = float(v or 1)
    return mix or dict(DEFAULT_MIX)


def random_actions(wiki, count=100, mix=None, pause=0.0):
    """count actions drawn from mix (kind -> weight), reproducibly from the wiki's
    seed. Actions whose precondition fails (nothing to undelete) become creates.
    Yields each action's result."""
    mix = mix or dict(DEFAULT_MIX)
    kinds = sorted(mix)
    weights = [mix[k] for k in kinds]
    for _ in range(count):
        k = wiki.rng.choices(kinds, weights)[0]
        r = None
        if k == "undelete":
            r = undelete_page(wiki)
        elif k == "create":
            r = create_page(wiki)
        elif k == "edit":
            r = edit_page(wiki)
        elif k == "null_edit":
            r = null_edit(wiki)
        elif k == "delete":
            r = delete_page(wiki)
        elif k == "move":
            r = move_page(wiki)
        elif k == "move_redirect":
            r = move_page(wiki, redirect=True)
        elif k == "revdel":
            r = revdel(wiki, bits=wiki.rng.choice([0, 2, 4, 6]))
        elif k == "protect":
            r = protect_page(wiki)
        elif k == "create_user":
            r = create_user(wiki)
        elif k == "rename_user":
            r = rename_user(wiki)
        elif k == "import":
            r = import_revisions(wiki, count=wiki.rng.randint(1, 3))
        if r is None:
            r = create_page(wiki)
        yield r
        if pause:
            time.sleep(pause)


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
        p.add_argument("--action-log", metavar="FILE",
                       help="append one JSON line per action (kind, page_id, rev_id, titles, ...)")

    p = sub.add_parser("load", help="create the schema and load a wiki")
    common(p)
    p.add_argument("--pages", type=int, default=100)
    p.add_argument("--revs-per-page", type=int, default=3)
    p.add_argument("--users", type=int)
    p.add_argument("--drop", action="store_true", help="drop the database first")
    p.add_argument("--revision-only", type=int, metavar="N", help="fill only `revision`, N rows")
    for name in ("create", "edit", "delete", "move", "null-edit", "undelete", "revdel", "protect",
                 "create-user", "rename-user", "import"):
        p = sub.add_parser(name)
        common(p)
        p.add_argument("--count", type=int, default=1)
        if name not in ("create", "undelete", "create-user", "rename-user"):
            p.add_argument("--page-id", type=int)
        if name in ("create", "move", "undelete", "import"):
            p.add_argument("--namespace", type=int)
        if name in ("create", "undelete", "import"):
            p.add_argument("--title")
        if name == "move":
            p.add_argument("--to")
            p.add_argument("--redirect", action="store_true", help="leave a redirect behind")
        if name == "revdel":
            p.add_argument("--rev-id", type=int)
            p.add_argument("--bits", type=int, default=6)
        if name in ("create-user", "rename-user"):
            p.add_argument("--name", help="the (new) user name")
        if name == "rename-user":
            p.add_argument("--old", help="the current user name")
        if name == "import":
            p.add_argument("--revisions", type=int, default=2)
    p = sub.add_parser("random", help="a reproducible random workload")
    common(p)
    p.add_argument("--count", type=int, default=100)
    p.add_argument("--mix", help="kind=weight,... (kinds: " + ", ".join(DEFAULT_MIX) + ")")
    p.add_argument("--pause", type=float, default=0.0, help="seconds between actions")
    a = ap.parse_args(argv)

    conn_kw = dict(socket=a.socket, host=a.host, port=a.port, user=a.user,
                   password_file=a.password_file)
    if a.cmd == "load":
        out = load(conn_kw, a.db, pages=a.pages, revs_per_page=a.revs_per_page, seed=a.seed,
                   users=a.users, drop=a.drop, revision_only=a.revision_only)
        print(json.dumps(out), flush=True)
        return 0
    conn = connect(autocommit=True, **conn_kw)
    wiki = Wiki(conn, a.db, seed=a.seed, action_log=a.action_log)
    if a.cmd == "random":
        for r in random_actions(wiki, count=a.count, mix=parse_mix(a.mix), pause=a.pause):
            print(json.dumps(r), flush=True)
        conn.close()
        return 0
    for _ in range(a.count):
        if a.cmd == "create":
            r = create_page(wiki, title=a.title, namespace=a.namespace or 0)
        elif a.cmd == "edit":
            r = edit_page(wiki, page_id=a.page_id)
        elif a.cmd == "delete":
            r = delete_page(wiki, page_id=a.page_id)
        elif a.cmd == "move":
            r = move_page(wiki, page_id=a.page_id, to=a.to, namespace=a.namespace, redirect=a.redirect)
        elif a.cmd == "null-edit":
            r = null_edit(wiki, page_id=a.page_id)
        elif a.cmd == "undelete":
            r = undelete_page(wiki, title=a.title, namespace=a.namespace or 0)
        elif a.cmd == "revdel":
            r = revdel(wiki, page_id=a.page_id, rev_id=a.rev_id, bits=a.bits)
        elif a.cmd == "protect":
            r = protect_page(wiki, page_id=a.page_id)
        elif a.cmd == "create-user":
            r = create_user(wiki, name=a.name)
        elif a.cmd == "rename-user":
            r = rename_user(wiki, old=a.old, new=a.name)
        else:
            r = import_revisions(wiki, page_id=a.page_id, title=a.title, namespace=a.namespace or 0,
                                 count=a.revisions)
        print(json.dumps(r), flush=True)
    conn.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
