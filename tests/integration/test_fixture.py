"""Tests of the test infrastructure itself: the throwaway MariaDB, the schema
fixtures and wikiload's data and actions (no snapdiff binary involved)."""

import os
import stat

import wikiload


def test_server_answers_and_has_binlog(mariadb):
    rows = mariadb.sql("SELECT @@version, @@log_bin, @@binlog_format, @@time_zone")
    version, log_bin, fmt, tz = rows[0]
    assert version.startswith("10.") or version.startswith("11.")
    assert log_bin == 1 and fmt == "ROW" and tz == "+00:00"
    assert mariadb.port > 0 and os.path.exists(mariadb.socket)


def test_snapdiff_user_can_read(mariadb, wikidb):
    mode = stat.S_IMODE(os.stat(mariadb.password_file).st_mode)
    assert mode == 0o600
    conn = mariadb.connect(wikidb, user="snapdiff")
    with conn.cursor() as c:
        c.execute("SELECT COUNT(*) FROM page")
        assert c.fetchone()[0] == 40
        c.execute("SELECT COUNT(*) FROM information_schema.columns "
                  "WHERE table_schema=%s AND table_name='revision'", (wikidb,))
        assert c.fetchone()[0] == 10
        c.execute("SHOW MASTER STATUS")
        assert c.fetchone() is not None
    conn.close()
    # and it cannot write
    conn = mariadb.connect(wikidb, user="snapdiff")
    with conn.cursor() as c:
        try:
            c.execute("DELETE FROM page")
            raise AssertionError("snapdiff user could delete")
        except Exception as e:  # pymysql.err.OperationalError 1142
            assert "1142" in str(e) or "denied" in str(e)
    conn.close()


def test_mediawiki_schema_types(mariadb, db_name):
    mariadb.create_db(db_name, "mediawiki.sql")
    cols = dict(mariadb.sql(
        "SELECT CONCAT(table_name, '.', column_name), column_type FROM information_schema.columns "
        "WHERE table_schema=%s", args=(db_name,)))
    assert cols["revision.rev_id"] == "bigint(20) unsigned"
    assert cols["page.page_latest"] == "int(10) unsigned"
    assert cols["page.page_title"] == "varbinary(255)"
    assert cols["page.page_random"] == "double unsigned"
    assert cols["categorylinks.cl_timestamp"] == "timestamp"
    assert cols["categorylinks.cl_type"] == "enum('page','subcat','file')"
    assert cols["page_props.pp_sortkey"] == "float"
    assert cols["archive.ar_rev_id"] == "int(10) unsigned"
    pk = mariadb.sql("SELECT GROUP_CONCAT(column_name ORDER BY seq_in_index) FROM "
                     "information_schema.statistics WHERE table_schema=%s AND table_name='slots' "
                     "AND index_name='PRIMARY'", args=(db_name,))
    assert pk[0][0] == "slot_revision_id,slot_role_id"
    tables = {r[0] for r in mariadb.sql("SHOW TABLES", db=db_name)}
    assert {"page", "revision", "slots", "content", "comment", "actor", "user", "archive",
            "logging", "text", "categorylinks", "page_props"} <= tables
    charsets = {r[0] for r in mariadb.sql(
        "SELECT table_collation FROM information_schema.tables WHERE table_schema=%s",
        args=(db_name,))}
    assert charsets == {"binary"}


def test_types_fixture(mariadb, db_name):
    mariadb.create_db(db_name, "types.sql")
    assert mariadb.sql("SELECT COUNT(*) FROM alltypes", db=db_name)[0][0] == 6
    assert mariadb.sql("SELECT COUNT(*) FROM ck", db=db_name)[0][0] == 15
    assert mariadb.sql("SELECT COUNT(*) FROM nopk", db=db_name)[0][0] == 7
    # collation order differs from byte order on cikey
    by_coll = [r[0] for r in mariadb.sql("SELECT k FROM cikey ORDER BY k", db=db_name)]
    by_bytes = [r[0] for r in mariadb.sql("SELECT k FROM cikey ORDER BY CAST(k AS BINARY)",
                                          db=db_name)]
    assert by_coll != by_bytes and sorted(by_coll) == sorted(by_bytes)
    row = mariadb.sql("SELECT c_bigint_u, c_uuid, c_inet6, HEX(c_bit64) FROM alltypes WHERE id=2",
                      db=db_name)[0]
    assert row[0] == 18446744073709551615
    assert row[3] == "FFFFFFFFFFFFFFFF"


def test_wikiload_consistency(mariadb, wikidb):
    q = lambda s: mariadb.sql(s, db=wikidb)[0][0]  # noqa: E731
    assert q("SELECT COUNT(*) FROM page") == 40
    assert q("SELECT COUNT(*) FROM revision") == 120
    # page_latest is the newest revision of the page
    assert q("SELECT COUNT(*) FROM page LEFT JOIN revision ON rev_id = page_latest "
             "WHERE rev_id IS NULL OR rev_page <> page_id") == 0
    assert q("SELECT COUNT(*) FROM page WHERE page_latest <> "
             "(SELECT MAX(rev_id) FROM revision WHERE rev_page = page_id)") == 0
    # every revision has a main slot, its content and text; lengths and hashes agree
    assert q("SELECT COUNT(*) FROM revision LEFT JOIN slots ON slot_revision_id = rev_id "
             "LEFT JOIN content ON content_id = slot_content_id WHERE content_id IS NULL") == 0
    assert q("SELECT COUNT(*) FROM revision JOIN slots ON slot_revision_id = rev_id "
             "JOIN content ON content_id = slot_content_id "
             "WHERE rev_len <> content_size OR rev_sha1 <> content_sha1") == 0
    assert q("SELECT COUNT(*) FROM content LEFT JOIN text "
             "ON content_address = CONCAT('tt:', old_id) WHERE old_id IS NULL") == 0
    assert q("SELECT COUNT(*) FROM revision LEFT JOIN comment ON comment_id = rev_comment_id "
             "WHERE comment_id IS NULL") == 0
    assert q("SELECT COUNT(*) FROM revision LEFT JOIN actor ON actor_id = rev_actor "
             "WHERE actor_id IS NULL") == 0
    # parents chain within the page
    assert q("SELECT COUNT(*) FROM revision r LEFT JOIN revision p ON p.rev_id = r.rev_parent_id "
             "WHERE r.rev_parent_id <> 0 AND (p.rev_id IS NULL OR p.rev_page <> r.rev_page)") == 0
    assert q("SELECT COUNT(*) FROM page WHERE page_len <> "
             "(SELECT rev_len FROM revision WHERE rev_id = page_latest)") == 0
    # titles: some non-ASCII UTF-8, some not UTF-8 at all
    titles = [r[0] for r in mariadb.sql("SELECT page_title FROM page", db=wikidb)]
    assert all(isinstance(t, bytes) for t in titles)
    assert any(not t.isascii() and _utf8(t) for t in titles)
    mariadb.load_wiki(wikidb + "_b", pages=100, revs_per_page=1)
    titles = [r[0] for r in mariadb.sql("SELECT page_title FROM page", db=wikidb + "_b")]
    assert any(not _utf8(t) for t in titles)
    # comment_hash matches MediaWiki's CommentStore::hash
    for h, text, data in mariadb.sql("SELECT comment_hash, comment_text, comment_data FROM comment",
                                     db=wikidb):
        assert h == wikiload.comment_hash(text, data)


def _utf8(b):
    try:
        b.decode("utf-8")
        return True
    except UnicodeDecodeError:
        return False


def test_wikiload_is_deterministic(mariadb, db_name):
    a = mariadb.load_wiki(db_name + "_x", pages=30, revs_per_page=2, seed=7)
    b = mariadb.load_wiki(db_name + "_y", pages=30, revs_per_page=2, seed=7)
    assert a["rows"] == b["rows"]
    for t in ("page", "revision", "content", "user"):
        cs = [mariadb.sql(f"CHECKSUM TABLE `{db}`.`{t}`")[0][1] for db in (db_name + "_x", db_name + "_y")]
        assert cs[0] == cs[1], t


def test_wikiload_actions(mariadb, wikidb):
    w = mariadb.wiki(wikidb, seed=3)
    q = lambda s, *a: mariadb.sql(s, db=wikidb, args=a or None)  # noqa: E731
    n_rev = q("SELECT COUNT(*) FROM revision")[0][0]

    e = wikiload.edit_page(w, page_id=5)
    assert q("SELECT page_latest, page_is_new FROM page WHERE page_id=5")[0] == (e["rev_id"], 0)
    assert q("SELECT rev_parent_id FROM revision WHERE rev_id=%s", e["rev_id"])[0][0] == e["parent_id"]
    assert q("SELECT COUNT(*) FROM slots WHERE slot_revision_id=%s", e["rev_id"])[0][0] == 1

    m = wikiload.move_page(w, page_id=6, to="Moved_title")
    assert q("SELECT page_title, page_latest FROM page WHERE page_id=6")[0] == (b"Moved_title", m["rev_id"])
    # the dummy revision reuses the content
    assert q("SELECT COUNT(DISTINCT slot_content_id) FROM slots WHERE slot_revision_id IN "
             "(%s, (SELECT rev_parent_id FROM revision WHERE rev_id=%s))", m["rev_id"], m["rev_id"])[0][0] == 1
    assert q("SELECT log_type, log_action FROM logging WHERE log_id=%s", m["log_id"])[0] == (b"move", b"move")

    n7 = q("SELECT COUNT(*) FROM revision WHERE rev_page=7")[0][0]
    d = wikiload.delete_page(w, page_id=7)
    assert d["archived"] == n7
    assert q("SELECT COUNT(*) FROM page WHERE page_id=7")[0][0] == 0
    assert q("SELECT COUNT(*) FROM revision WHERE rev_page=7")[0][0] == 0
    assert q("SELECT COUNT(*) FROM archive WHERE ar_page_id=7")[0][0] == n7
    # slots stay for archived revisions
    assert q("SELECT COUNT(*) FROM archive LEFT JOIN slots ON slot_revision_id = ar_rev_id "
             "WHERE slot_revision_id IS NULL")[0][0] == 0

    c = wikiload.create_page(w, title="Brand_new_☃")
    assert q("SELECT page_latest, page_is_new FROM page WHERE page_id=%s", c["page_id"])[0] == (c["rev_id"], 1)

    assert q("SELECT COUNT(*) FROM revision")[0][0] == n_rev + 1 + 1 - n7 + 1
    w.conn.close()


def test_wikiload_cli(mariadb, db_name, tmp_path):
    import json
    import subprocess
    import sys
    cli = [sys.executable, str(wikiload.__file__), "--help"]
    assert subprocess.run(cli, capture_output=True).returncode == 0
    base = [sys.executable, str(wikiload.__file__)]
    conn = ["--socket", mariadb.socket, "--db", db_name]
    out = subprocess.run(base + ["load"] + conn + ["--pages", "20", "--revs-per-page", "2"],
                         capture_output=True, text=True, check=True).stdout
    assert json.loads(out)["rows"]["revision"] == 40
    out = subprocess.run(base + ["edit"] + conn + ["--count", "3"], capture_output=True, text=True,
                         check=True).stdout
    assert len(out.splitlines()) == 3
    assert mariadb.sql("SELECT COUNT(*) FROM revision", db=db_name)[0][0] == 43
    out = subprocess.run(base + ["load"] + conn + ["--revision-only", "1000", "--drop"],
                         capture_output=True, text=True, check=True).stdout
    assert mariadb.sql("SELECT COUNT(*) FROM revision", db=db_name)[0][0] == 1000
    assert mariadb.sql("SELECT COUNT(*) FROM page", db=db_name)[0][0] == 0
