"""MediaWiki profile: page_change events derived from table diffs.

Each test loads a small wiki, runs snapdiff once (builds state: no page_change,
the first run is a snapshot, not history), drives wikiload's actions (the
MediaWiki 1.43+ write patterns), runs snapdiff again and checks the exact
page_change events and that every one validates against
docs/page_change.schema.json.
"""
import json
import signal
from pathlib import Path

import jsonschema
import pytest

import sdtest
import wikiload

SCHEMA = json.loads((sdtest.ROOT / "docs" / "page_change.schema.json").read_text())
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)
TABLES = ["page", "revision", "archive", "logging", "comment", "actor", "user", "slots", "content",
          "page_restrictions"]
STREAM = "mediawiki.page_change.v1"


class Wiki:
    """A wiki under test: the database, a wikiload handle with an action log,
    and snapdiff runs whose page_change events are returned separately."""

    def __init__(self, mariadb, db, tmp_path, snapdiff, pages=12, seed=5, ignore_touched=False):
        self.mariadb, self.db, self.tmp, self.snapdiff = mariadb, db, Path(tmp_path), snapdiff
        mariadb.load_wiki(db, pages=pages, revs_per_page=2, seed=seed)
        self.log_path = self.tmp / "actions.jsonl"
        self.w = wikiload.Wiki(mariadb.connect(db), db, seed=seed, action_log=str(self.log_path))
        self.has_groups = False
        self.sink = self.tmp / "events.jsonl"
        page = {"page": {"ignore_columns": ["page_touched", "page_links_updated"]}} \
            if ignore_touched else "page"
        self.config = {
            "databases": [db],
            "tables": [page] + TABLES[1:],
            "defaults": {"initial_events": "none", "guard_min_rows": 1000000},
            "mediawiki": {"page_change": True, "domains": {db: "test.wikipedia.org"}},
            "sinks": [{"type": "jsonl", "path": str(self.sink)}],
        }
        assert self.run() == []          # the initial snapshot is not history

    def run(self, env=None, expect_rc=0):
        if self.sink.exists():
            self.sink.unlink()
        r = self.snapdiff(self.config, "run", env=env)
        assert r.rc == expect_rc, str(r)
        evs = sdtest._json_lines(self.sink.read_text()) if self.sink.exists() else []
        pcs = [e for e in evs if "$schema" in e]
        for e in pcs:
            errors = sorted(VALIDATOR.iter_errors(e), key=str)
            assert not errors, f"{e}\n{errors[0]}"
        return pcs

    def actions(self):
        if not self.log_path.exists():
            return []
        return [json.loads(ln) for ln in self.log_path.read_text().splitlines() if ln.strip()]

    def sql(self, q, *args):
        return self.mariadb.sql(q, db=self.db, args=args or None)

    def new_user(self, name):
        u = wikiload.create_user(self.w, name=name)
        return u["actor_id"]


@pytest.fixture
def wiki(mariadb, db_name, tmp_path, snapdiff):
    w = Wiki(mariadb, db_name, tmp_path, snapdiff)
    yield w
    w.w.conn.close()


def kinds(evs):
    return [e["page_change_kind"] for e in evs]


def common_checks(w, e):
    assert e["$schema"] == "/mediawiki/page/change/1.2.0"
    assert e["wiki_id"] == w.db
    assert e["meta"]["stream"] == STREAM
    assert e["meta"]["domain"] == "test.wikipedia.org"
    assert {"create": "insert", "undelete": "insert", "delete": "delete"}.get(
        e["page_change_kind"], "update") == e["changelog_kind"]


# ---------------------------------------------------------------------------- per kind

def test_create(wiki):
    actor = wiki.new_user("Créateur")
    c = wikiload.create_page(wiki.w, title="Fresh_page", text=b"hello world", comment="brand new page",
                             actor=actor)
    evs = wiki.run()
    assert kinds(evs) == ["create"]
    e = evs[0]
    common_checks(wiki, e)
    assert e["page"] == {"page_id": c["page_id"], "page_title": "Fresh_page", "namespace_id": 0,
                         "is_redirect": False}
    r = e["revision"]
    assert r["rev_id"] == c["rev_id"] and r["rev_parent_id"] == 0
    assert r["rev_size"] == len(b"hello world")
    assert r["rev_sha1"] == wikiload.sha1_base36(b"hello world")
    assert r["comment"] == "brand new page" and e["comment"] == "brand new page"
    assert r["editor"]["user_text"] == "Créateur"
    assert e["performer"]["user_text"] == "Créateur"
    assert r["is_content_visible"] and r["is_comment_visible"] and r["is_editor_visible"]
    assert "prior_state" not in e
    a = wiki.actions()[-1]
    assert a["kind"] == "create" and a["rev_id"] == c["rev_id"]
    assert e["dt"] == _iso(a["ts"])


def _iso(ts):
    return f"{ts[0:4]}-{ts[4:6]}-{ts[6:8]}T{ts[8:10]}:{ts[10:12]}:{ts[12:14]}Z"


def test_edits_one_event_per_revision_in_rev_id_order(wiki):
    e1 = wikiload.edit_page(wiki.w, page_id=3, comment="first change of three", minor=1)
    e2 = wikiload.edit_page(wiki.w, page_id=3, comment="second change of three", minor=0)
    e3 = wikiload.edit_page(wiki.w, page_id=3, comment="third change of three", minor=0)
    evs = wiki.run()
    assert kinds(evs) == ["edit"] * 3
    assert [e["revision"]["rev_id"] for e in evs] == [e1["rev_id"], e2["rev_id"], e3["rev_id"]]
    assert [e["revision"]["comment"] for e in evs] == ["first change of three", "second change of three",
                                                      "third change of three"]
    assert evs[0]["revision"]["is_minor_edit"] is True
    # prior_state.revision: the parent (in full when it is in the same diff)
    assert evs[0]["prior_state"]["revision"]["rev_id"] == e1["parent_id"]
    assert evs[1]["prior_state"]["revision"]["rev_id"] == e1["rev_id"]
    assert evs[1]["prior_state"]["revision"]["comment"] == "first change of three"
    assert evs[2]["prior_state"]["revision"]["rev_id"] == e2["rev_id"]
    for e in evs:
        common_checks(wiki, e)
        assert e["page"]["page_id"] == 3
    assert len({e["meta"]["id"] for e in evs}) == 3


def test_null_edit_emits_nothing(wiki):
    # page_touched is hashed here: the page row changes, still no event
    wikiload.null_edit(wiki.w, page_id=4)
    assert wiki.run() == []


def test_delete(wiki):
    n = wiki.sql("SELECT COUNT(*) FROM revision WHERE rev_page=5")[0][0]
    latest, title = wiki.sql("SELECT page_latest, page_title FROM page WHERE page_id=5")[0]
    actor = wiki.new_user("Deleter")
    wikiload.delete_page(wiki.w, page_id=5, reason="spam page", actor=actor)
    evs = wiki.run()
    assert kinds(evs) == ["delete"]
    e = evs[0]
    common_checks(wiki, e)
    assert e["page"]["page_id"] == 5 and e["page"]["page_title"] == wikiload.title_text(title)
    assert e["page"]["revision_count"] == n
    assert e["revision"]["rev_id"] == latest
    assert e["comment"] == "spam page"
    assert e["performer"]["user_text"] == "Deleter"
    assert e["dt"] == _iso(wiki.actions()[-1]["ts"])


def test_undelete_same_and_new_page_id(wiki):
    rev_ids = [r[0] for r in wiki.sql("SELECT rev_id FROM revision WHERE rev_page=6 ORDER BY rev_id")]
    title = wiki.sql("SELECT page_title FROM page WHERE page_id=6")[0][0]
    wikiload.delete_page(wiki.w, page_id=6)
    rev_ids8 = [r[0] for r in wiki.sql("SELECT rev_id FROM revision WHERE rev_page=8 ORDER BY rev_id")]
    title8 = wiki.sql("SELECT page_title FROM page WHERE page_id=8")[0][0]
    wikiload.delete_page(wiki.w, page_id=8)
    assert kinds(wiki.run()) == ["delete", "delete"]

    u = wikiload.undelete_page(wiki.w, title=title, namespace=wiki.sql(
        "SELECT ar_namespace FROM archive WHERE ar_page_id=6 LIMIT 1")[0][0], reason="restore it")
    assert u["page_id"] == 6
    # page 8's id taken (as if by another page): the undelete gets a new page_id
    ns8 = wiki.sql("SELECT ar_namespace FROM archive WHERE ar_page_id=8 LIMIT 1")[0][0]
    wiki.sql("INSERT INTO page (page_id, page_namespace, page_title, page_random, page_touched, "
             "page_latest, page_len) VALUES (8, 0, 'Squatter', 0.5, '20300101000000', 0, 0)")
    u8 = wikiload.undelete_page(wiki.w, title=title8, namespace=ns8)
    wiki.sql("DELETE FROM page WHERE page_id=8")
    assert u8["page_id"] != 8
    evs = wiki.run()
    assert kinds(evs) == ["undelete", "undelete"]
    e6 = next(e for e in evs if e["page"]["page_id"] == 6)
    e8 = next(e for e in evs if e["page"]["page_id"] == u8["page_id"])
    common_checks(wiki, e6)
    assert e6["revision"]["rev_id"] == rev_ids[-1]          # original rev_ids come back
    assert e6["comment"] == "restore it"
    assert "prior_state" not in e6
    assert e8["revision"]["rev_id"] == rev_ids8[-1]
    assert e8["prior_state"] == {"page": {"page_id": 8}}
    assert e8["page"]["page_title"] == wikiload.title_text(title8)
    # no restored revision is reported as an edit
    assert sorted(r[0] for r in wiki.sql("SELECT rev_id FROM revision WHERE rev_page=6")) == rev_ids


def test_move_without_redirect(wiki):
    old_ns, old_title, old_latest = wiki.sql(
        "SELECT page_namespace, page_title, page_latest FROM page WHERE page_id=2")[0]
    actor = wiki.new_user("Mover")
    m = wikiload.move_page(wiki.w, page_id=2, to="Renamed_page", namespace=4, actor=actor, reason="tidy")
    evs = wiki.run()
    assert kinds(evs) == ["move"]                         # the dummy revision is no edit
    e = evs[0]
    common_checks(wiki, e)
    assert e["page"] == {"page_id": 2, "page_title": "Renamed_page", "namespace_id": 4, "is_redirect": False}
    assert e["revision"]["rev_id"] == m["rev_id"]
    assert e["revision"]["rev_parent_id"] == old_latest
    prior_page = {"page_title": wikiload.title_text(old_title)}
    if old_ns != 4:
        prior_page["namespace_id"] = old_ns
    assert e["prior_state"]["page"] == prior_page
    assert e["prior_state"]["revision"]["rev_id"] == old_latest
    assert "created_redirect_page" not in e
    assert e["performer"]["user_text"] == "Mover"
    assert e["comment"].endswith(": tidy")


def test_move_with_redirect(wiki):
    old_title = wiki.sql("SELECT page_title FROM page WHERE page_id=9")[0][0]
    m = wikiload.move_page(wiki.w, page_id=9, to="Redirected_target", redirect=True)
    evs = wiki.run()
    assert kinds(evs) == ["move"]             # the redirect left behind is not a create
    e = evs[0]
    assert e["created_redirect_page"] == {"page_id": m["redirect_page_id"],
                                          "page_title": wikiload.title_text(old_title),
                                          "namespace_id": e["prior_state"]["page"].get(
                                              "namespace_id", e["page"]["namespace_id"]),
                                          "is_redirect": True}
    assert e["prior_state"]["page"]["page_title"] == wikiload.title_text(old_title)


def test_visibility_change_of_current_revision_only(wiki):
    latest = wiki.sql("SELECT page_latest FROM page WHERE page_id=10")[0][0]
    old = wiki.sql("SELECT MIN(rev_id) FROM revision WHERE rev_page=11")[0][0]
    wikiload.revdel(wiki.w, page_id=10, bits=6, reason="hide the summary")
    wikiload.revdel(wiki.w, rev_id=old, bits=1)        # an old revision: no event
    evs = wiki.run()
    assert kinds(evs) == ["visibility_change"]
    e = evs[0]
    common_checks(wiki, e)
    assert e["page"]["page_id"] == 10
    r = e["revision"]
    assert r["rev_id"] == latest
    assert r["is_content_visible"] is True
    assert r["is_comment_visible"] is False and r["is_editor_visible"] is False
    assert "comment" not in r and "editor" not in r
    assert e["prior_state"] == {"revision": {"is_comment_visible": True, "is_editor_visible": True}}


def test_protect_user_creation_and_rename_emit_nothing(wiki):
    wikiload.protect_page(wiki.w, page_id=7)
    assert wiki.sql("SELECT COUNT(*) FROM page_restrictions WHERE pr_page=7")[0][0] == 2
    wikiload.create_user(wiki.w, name="Newbie")
    wikiload.rename_user(wiki.w, old="Newbie", new="Oldtimer")
    assert wiki.run() == []


def test_import_of_old_revisions(wiki):
    # old revisions under an existing page: the page row does not follow, no event
    r = wikiload.import_revisions(wiki.w, page_id=3, count=2, user="Earlier")
    assert not any(x["latest"] for x in r["revisions"])
    assert wiki.run() == []
    # a page that did not exist: created by the import (MediaWiki: create, cause import)
    r = wikiload.import_revisions(wiki.w, title="Imported_page", count=3, user="Importer")
    evs = wiki.run()
    assert kinds(evs) == ["create", "edit", "edit"]
    revs = [x["rev_id"] for x in r["revisions"]]
    assert [e["revision"]["rev_id"] for e in evs] == revs
    assert evs[0]["revision"]["rev_dt"] == _iso(r["revisions"][0]["ts"])
    # an imported actor has no user row: a name and nothing special
    assert evs[0]["revision"]["editor"] == {"user_text": "imported>Importer", "is_temp": False,
                                            "is_bot": False, "is_system": False}
    # MediaWiki sets page_is_new 0 for imports; the page row follows the newest
    assert wiki.sql("SELECT page_latest FROM page WHERE page_id=%s", r["page_id"])[0][0] == revs[-1]


def test_binary_titles(wiki):
    title = "Grüße_東京_😀".encode()
    c = wikiload.create_page(wiki.w, title=title, namespace=1)
    bad = b"Bad_\xff\xfe_title"
    c2 = wikiload.create_page(wiki.w, title=bad)
    evs = wiki.run()
    by = {(e["page"]["page_id"], e["page_change_kind"]): e for e in evs}
    assert by[(c["page_id"], "create")]["page"]["page_title"] == "Grüße_東京_😀"
    assert by[(c["page_id"], "create")]["page"]["namespace_id"] == 1
    m = wikiload.move_page(wiki.w, page_id=c["page_id"], to="Ελληνικά_\xe9".encode())
    by.update({(e["page"]["page_id"], e["page_change_kind"]): e for e in wiki.run()})
    assert by[(c["page_id"], "move")]["prior_state"]["page"]["page_title"] == "Grüße_東京_😀"
    assert by[(c["page_id"], "move")]["page"]["page_title"] == "Ελληνικά_\xe9"
    assert by[(c["page_id"], "move")]["revision"]["rev_id"] == m["rev_id"]
    assert by[(c2["page_id"], "create")]["page"]["page_title"] == "Bad_\xff\xfe_title"
    assert wikiload.title_text(bad) == "Bad_\xff\xfe_title"


def test_suppressed_delete_hides_performer(wiki):
    wikiload.delete_page(wiki.w, page_id=4, suppress=True, reason="oversight")
    evs = wiki.run()
    assert kinds(evs) == ["delete"]
    e = evs[0]
    assert "performer" not in e and "comment" not in e
    r = e["revision"]
    assert not (r["is_content_visible"] or r["is_comment_visible"] or r["is_editor_visible"])
    assert "rev_sha1" not in r and "rev_size" not in r


# ---------------------------------------------------------------------------- who and why
# MediaWiki shares comment rows and reuses actor/user rows, so most events
# refer to rows that did not change in the run: the differ looks them up in
# the run's snapshot.

def user_entity(w, actor_id):
    """The user entity an event should carry for actor_id, by direct SQL."""
    aid, uid, name = w.sql("SELECT actor_id, actor_user, actor_name FROM actor WHERE actor_id=%s",
                           actor_id)[0]
    if uid is None:
        return {"user_text": wikiload.title_text(name), "is_temp": False, "is_bot": False,
                "is_system": False}
    reg, edits, temp = w.sql("SELECT user_registration, user_editcount, user_is_temp FROM user "
                             "WHERE user_id=%s", uid)[0]
    u = {"user_id": uid, "user_text": wikiload.title_text(name), "is_temp": bool(temp),
         "is_system": False, "edit_count": edits}
    if reg:
        u["registration_dt"] = _iso(reg.decode())
    if w.has_groups:
        groups = sorted(g.decode() for (g,) in w.sql(
            "SELECT ug_group FROM user_groups WHERE ug_user=%s AND (ug_expiry IS NULL OR "
            "ug_expiry > DATE_FORMAT(UTC_TIMESTAMP(), '%%Y%%m%%d%%H%%i%%s'))", uid))
        u["groups"], u["is_bot"] = groups, "bot" in groups
    return u


def registered_actor(w, n=0):
    """An existing (loaded, not temp) user's actor id: a row no run will see change."""
    return w.sql("SELECT actor_id FROM actor JOIN user ON user_id=actor_user WHERE user_is_temp=0 "
                 "ORDER BY actor_id LIMIT 1 OFFSET %s", n)[0][0]


def existing_comment(w, n=0):
    return w.sql("SELECT comment_text FROM comment WHERE comment_text <> '' ORDER BY comment_id "
                 "LIMIT 1 OFFSET %s", n)[0][0].decode()


def test_edit_by_existing_user_with_reused_comment(wiki):
    actor = registered_actor(wiki)
    text = existing_comment(wiki)
    n_comments = wiki.sql("SELECT COUNT(*) FROM comment")[0][0]
    e1 = wikiload.edit_page(wiki.w, page_id=3, comment=text, actor=actor)
    assert wiki.sql("SELECT COUNT(*) FROM comment")[0][0] == n_comments     # the row was reused
    evs = wiki.run()
    assert kinds(evs) == ["edit"]
    e = evs[0]
    assert e["revision"]["rev_id"] == e1["rev_id"]
    assert e["comment"] == text and e["revision"]["comment"] == text
    want = user_entity(wiki, actor)
    assert e["performer"] == want and e["revision"]["editor"] == want
    assert "groups" not in want                # no user_groups table: groups unknown, left out
    a = wiki.actions()[-1]
    assert (e["performer"]["user_text"], e["comment"]) == (a["performer"], a["comment"])


def test_log_kinds_carry_log_performer_and_comment(wiki):
    """move, delete, undelete, visibility_change: the log row's actor and
    comment, all existing rows."""
    actors = [registered_actor(wiki, i) for i in range(3)]
    ip = wiki.sql("SELECT actor_id FROM actor WHERE actor_user IS NULL ORDER BY actor_id LIMIT 1")[0][0]
    title6 = wiki.sql("SELECT page_title FROM page WHERE page_id=6")[0][0]
    ns6 = wiki.sql("SELECT page_namespace FROM page WHERE page_id=6")[0][0]
    wikiload.delete_page(wiki.w, page_id=6, reason=existing_comment(wiki, 1), actor=actors[0])
    assert kinds(wiki.run()) == ["delete"]
    wikiload.move_page(wiki.w, page_id=2, to="Moved_by_existing", actor=actors[1])
    wikiload.delete_page(wiki.w, page_id=5, reason=existing_comment(wiki, 2), actor=ip)
    wikiload.undelete_page(wiki.w, title=title6, namespace=ns6, reason=existing_comment(wiki, 1),
                           actor=actors[2])
    wikiload.revdel(wiki.w, page_id=10, bits=6, reason=existing_comment(wiki, 3), actor=actors[0])
    acts = {a["page_id"]: a for a in wiki.actions()[-4:]}
    evs = wiki.run()
    assert sorted(kinds(evs)) == ["delete", "move", "undelete", "visibility_change"]
    by_actor = {2: actors[1], 5: ip, 6: actors[2], 10: actors[0]}
    for e in evs:
        pid = e["page"]["page_id"]
        a = acts[pid]
        assert e["comment"] == a["comment"], e
        assert e["performer"] == user_entity(wiki, by_actor[pid]), e
        assert e["performer"]["user_text"] == a["performer"]
    mv = next(e for e in evs if e["page_change_kind"] == "move")
    # the dummy revision carries the move summary and the mover as editor
    assert mv["revision"]["comment"] == mv["comment"]
    assert mv["revision"]["editor"] == mv["performer"]
    vis = next(e for e in evs if e["page_change_kind"] == "visibility_change")
    assert "comment" not in vis["revision"] and "editor" not in vis["revision"]   # bits 2|4
    un = next(e for e in evs if e["page_change_kind"] == "undelete")
    # the restored revision keeps its own (old, unchanged) comment and editor
    rc, ra = wiki.sql("SELECT rev_comment_id, rev_actor FROM revision WHERE rev_id=%s",
                      un["revision"]["rev_id"])[0]
    assert un["revision"]["comment"] == wikiload.title_text(
        wiki.sql("SELECT comment_text FROM comment WHERE comment_id=%s", rc)[0][0])
    assert un["revision"]["editor"] == user_entity(wiki, ra)


def test_suppression_and_hidden_editor_still_hold(wiki):
    """Lookups do not bring back what suppression or rev_deleted hides."""
    actor = registered_actor(wiki)
    wikiload.delete_page(wiki.w, page_id=4, suppress=True, reason=existing_comment(wiki), actor=actor)
    ed = wikiload.edit_page(wiki.w, page_id=3, comment=existing_comment(wiki, 1), actor=actor)
    wiki.sql("UPDATE revision SET rev_deleted=6 WHERE rev_id=%s", ed["rev_id"])
    evs = wiki.run()
    assert sorted(kinds(evs)) == ["delete", "edit"]
    d = next(e for e in evs if e["page_change_kind"] == "delete")
    assert "performer" not in d and "comment" not in d
    assert "comment" not in d["revision"] and "editor" not in d["revision"]
    e = next(e for e in evs if e["page_change_kind"] == "edit")
    assert "comment" not in e and "performer" not in e
    assert "comment" not in e["revision"] and "editor" not in e["revision"]


def test_groups_bot_and_system_user(wiki):
    # MediaWiki's user_groups (tables.json); a wiki without it gets no groups
    wiki.sql("CREATE TABLE user_groups (ug_user INT UNSIGNED DEFAULT 0 NOT NULL, "
             "ug_group VARBINARY(255) DEFAULT '' NOT NULL, ug_expiry VARBINARY(14) DEFAULT NULL, "
             "INDEX ug_group (ug_group), INDEX ug_expiry (ug_expiry), PRIMARY KEY(ug_user, ug_group)) "
             "ENGINE=InnoDB DEFAULT CHARSET=binary")
    wiki.has_groups = True
    bot, plain = registered_actor(wiki, 0), registered_actor(wiki, 1)
    bot_uid = wiki.sql("SELECT actor_user FROM actor WHERE actor_id=%s", bot)[0][0]
    wiki.sql("INSERT INTO user_groups VALUES (%s,'sysop',NULL),(%s,'bot',NULL),"
             "(%s,'checkuser','20010101000000'),(%s,'interface-admin','20991231000000')",
             bot_uid, bot_uid, bot_uid, bot_uid)
    # User::newSystemUser: invalid token, no e-mail (BINARY(32) pads the token)
    wiki.sql("INSERT INTO user (user_name, user_real_name, user_password, user_newpassword, user_email, "
             "user_touched, user_token, user_registration, user_editcount, user_is_temp) VALUES "
             "('MediaWiki default', '', '', '', '', '20200101000000', '*** INVALID ***', "
             "'20200101000000', 0, 0)")
    sys_uid = wiki.sql("SELECT user_id FROM user WHERE user_name='MediaWiki default'")[0][0]
    wiki.sql("INSERT INTO actor (actor_user, actor_name) VALUES (%s, 'MediaWiki default')", sys_uid)
    sys_actor = wiki.sql("SELECT actor_id FROM actor WHERE actor_user=%s", sys_uid)[0][0]
    assert wiki.run() == []         # the new user and actor rows: no page_change, but in state now

    wikiload.edit_page(wiki.w, page_id=2, comment=existing_comment(wiki), actor=bot)
    wikiload.edit_page(wiki.w, page_id=3, comment=existing_comment(wiki), actor=plain)
    wikiload.edit_page(wiki.w, page_id=7, comment=existing_comment(wiki), actor=sys_actor)
    evs = {e["page"]["page_id"]: e for e in wiki.run()}
    b = evs[2]["performer"]
    assert b["groups"] == ["bot", "interface-admin", "sysop"] and b["is_bot"] is True
    assert b == user_entity(wiki, bot)
    p = evs[3]["performer"]
    assert p["groups"] == [] and p["is_bot"] is False and p["is_system"] is False
    s = evs[7]["performer"]
    assert s["is_system"] is True and s["user_text"] == "MediaWiki default"
    assert s["groups"] == [] and s["is_bot"] is False
    assert s["registration_dt"] == "2020-01-01T00:00:00Z" and s["edit_count"] == 0


def test_renamed_user_in_the_same_run(wiki):
    """The actor row changed in this run: its new name, from the diff."""
    actor = registered_actor(wiki)
    old = wiki.sql("SELECT actor_name FROM actor WHERE actor_id=%s", actor)[0][0]
    wikiload.edit_page(wiki.w, page_id=3, comment=existing_comment(wiki), actor=actor)
    wikiload.rename_user(wiki.w, old=old, new="Renamed ünïcode")
    evs = wiki.run()
    assert kinds(evs) == ["edit"]
    assert evs[0]["performer"]["user_text"] == "Renamed ünïcode"
    assert evs[0]["performer"] == user_entity(wiki, actor)


def test_binary_comment_and_name(wiki):
    """Bytes that are not UTF-8 become U+0080..U+00FF (docs/page_change.md)."""
    cid = wiki.w.comment(b"summary \xff\xfe end")
    wiki.sql("UPDATE actor SET actor_name=%s WHERE actor_id=%s", b"Bin\xe9ry", registered_actor(wiki))
    text = wiki.sql("SELECT comment_text FROM comment WHERE comment_id=%s", cid)[0][0]
    assert wiki.run() == []          # both rows now old: the next run looks them up
    wikiload.edit_page(wiki.w, page_id=3, comment=text, actor=registered_actor(wiki))
    e = wiki.run()[0]
    assert e["comment"] == "summary \xff\xfe end"
    assert e["performer"]["user_text"] == "Bin\xe9ry"


def test_lookups_in_chunks(wiki):
    """More ids than one IN list holds (1000): every comment is still found."""
    n = 1003
    texts = [f"pre-existing summary {i}" for i in range(n)]
    for t in texts:
        wiki.w.comment(t)
    assert wiki.run() == []
    pages = [r[0] for r in wiki.sql("SELECT page_id FROM page ORDER BY page_id")]
    for i, t in enumerate(texts):
        wikiload.edit_page(wiki.w, page_id=pages[i % len(pages)], comment=t)
    evs = wiki.run()
    assert len(evs) == n
    assert sorted(e["comment"] for e in evs) == sorted(texts)
    assert all(e["revision"]["comment"] == e["comment"] for e in evs)
    assert all("user_text" in e["performer"] for e in evs)


# ---------------------------------------------------------------------------- crash / rerun

def test_rerun_after_crash_gives_same_ids(wiki):
    wikiload.edit_page(wiki.w, page_id=2, comment="crash edit")
    wikiload.move_page(wiki.w, page_id=3, to="Crash_move", redirect=True)
    wikiload.delete_page(wiki.w, page_id=4)
    first = wiki.run(env={"SNAPDIFF_FAULT": "kill-before-commit"}, expect_rc=-signal.SIGKILL)
    assert kinds(first) == ["edit", "move", "delete"]
    again = wiki.run()
    assert [e["meta"]["id"] for e in again] == [e["meta"]["id"] for e in first]
    strip = lambda evs: [{k: v for k, v in e.items() if k != "meta"} for e in evs]  # noqa: E731
    assert strip(again) == strip(first)
    assert wiki.run() == []


# ---------------------------------------------------------------------------- random workloads

def expected_from_actions(actions, moved_redirects):
    """What page_change events one run should show for a batch of actions, when
    every page was touched at most once per kind (see test below)."""
    out = []
    for a in actions:
        k = a["kind"]
        if k in ("create", "edit", "move", "delete", "undelete"):
            out.append((k, a["page_id"]))
        elif k == "visibility" and a.get("current") and a["old_bits"] != a["new_bits"]:
            out.append(("visibility_change", a["page_id"]))
        elif k == "import" and a.get("became_latest"):
            out.append(("edit", a["page_id"]))
    return out


@pytest.mark.parametrize("seed", [11, 12, 13])
def test_random_workload_matches_action_log(mariadb, db_name, tmp_path, snapdiff, seed):
    w = Wiki(mariadb, db_name, tmp_path, snapdiff, pages=30, seed=seed)
    try:
        for _round in range(3):
            before = len(w.actions())
            # a mix where each action lands on its own page keeps the oracle simple
            list(wikiload.random_actions(w.w, count=25, mix=wikiload.parse_mix(
                "create=3,edit=8,null_edit=2,delete=2,undelete=1,move=2,move_redirect=1,revdel=1,"
                "protect=1,create_user=1,rename_user=1")))
            acts = w.actions()[before:]
            evs = w.run()
            got = [(e["page_change_kind"], e["page"]["page_id"]) for e in evs]
            # the oracle: one event per logged action, except where several
            # actions hit the same page (then the differ sees their net effect)
            touched = {}
            for a in acts:
                for pid in {a.get(k) for k in ("page_id", "redirect_page_id", "old_page_id")} - {None}:
                    touched.setdefault(pid, []).append(a["kind"])
            simple = {p for p, ks in touched.items() if len(ks) == 1}
            want = [x for x in expected_from_actions(acts, None) if x[1] in simple]
            got_simple = [x for x in got if x[1] in simple]
            diff = set(got_simple) ^ set(want)
            if diff:
                (w.tmp / "mismatch.json").write_text(json.dumps({"acts": acts, "events": evs}, indent=1))
            assert sorted(got_simple) == sorted(want), (
                [a for a in acts if a.get("page_id") in {p for _, p in diff}],
                [e for e in evs if e["page"]["page_id"] in {p for _, p in diff}])
            # every event's revision ids are ones the actions wrote
            rev_ids = {a.get("rev_id") for a in acts} | {r for a in acts for r in a.get("rev_ids", [])}
            for e in evs:
                if e["page"]["page_id"] in simple and e["page_change_kind"] != "delete":
                    assert e["revision"]["rev_id"] in rev_ids
            # who and why: the action's summary and performer (a later rename
            # in the same round shows, as the snapshot has the new name)
            for e in evs:
                pid = e["page"]["page_id"]
                if pid not in simple:
                    continue
                i, a = next((i, a) for i, a in enumerate(acts) if pid in
                            {a.get(k) for k in ("page_id", "redirect_page_id", "old_page_id")})
                name = a["performer"]
                for r in acts[i + 1:]:
                    if r["kind"] == "rename_user" and r["old_name"] == name:
                        name = r["name"]
                assert e.get("comment") == a["comment"], (a, e)
                assert e["performer"]["user_text"] == name, (a, e)
            # edits: per page in rev_id order
            per_page = {}
            for e in evs:
                if e["page_change_kind"] == "edit":
                    per_page.setdefault(e["page"]["page_id"], []).append(e["revision"]["rev_id"])
            assert all(v == sorted(v) for v in per_page.values())
    finally:
        w.w.conn.close()


def test_page_touched_ignored_still_sees_current_visibility(mariadb, db_name, tmp_path, snapdiff):
    w = Wiki(mariadb, db_name, tmp_path, snapdiff, ignore_touched=True)
    try:
        wikiload.null_edit(w.w, page_id=2)
        wikiload.revdel(w.w, page_id=3, bits=4)
        evs = w.run()
        assert kinds(evs) == ["visibility_change"]
        assert evs[0]["page"]["page_id"] == 3
        assert evs[0]["prior_state"] == {"revision": {"is_editor_visible": True}}
    finally:
        w.w.conn.close()
