"""Core differ tests against a real throwaway MariaDB (issue: snapdiff core).

Each test makes its own database(s) so tests are independent; the server is
shared for the session (conftest.py). Expected results are always computed
from what the test itself did to MariaDB, never hard-coded event dumps.
"""
import base64
import json
import os
import struct
import subprocess
import threading
import time

import jsonschema
import pytest

from corelib import ROOT, SNAPDIFF, base_config, fresh_db, run_snapdiff

SCHEMA = json.load(open(os.path.join(ROOT, "docs", "event.schema.json")))


def validate(events):
    for e in events:
        jsonschema.validate(e, SCHEMA)


def keyset(events, op=None, table=None):
    return sorted(
        (e["table"], json.dumps(e["key"], sort_keys=True), e["op"])
        for e in events
        if (op is None or e["op"] == op) and (table is None or e["table"] == table)
    )


def from_json_value(v):
    """Inverse of the binary rule: bytes for a binary value."""
    if isinstance(v, dict):
        return base64.b64decode(v["base64"])
    if isinstance(v, str):
        return v.encode("utf-8")
    return v


# --------------------------------------------------------------------------


def test_mediawiki_initial_then_exact_changes(mariadb, tmp_path):
    db = fresh_db(mariadb, "mw_exact")
    mariadb.load_wiki(db, pages=40, revs_per_page=3)
    tables = ["page", "revision", "slots", "content", "comment", "actor", "user", "archive", "logging"]
    cfg = base_config(mariadb, tmp_path, [db], [
        {"page": {"ignore_columns": ["page_touched", "page_links_updated"]}},
        "revision", "slots", "content", "comment", "actor",
        {"user": {"exclude_columns": ["user_password", "user_newpassword", "user_token"]}},
        "archive", "logging"])
    r = run_snapdiff(cfg, "run")
    assert r.rc == 0, r.stderr
    validate(r.events)
    counts = {t: mariadb.sql(f"SELECT COUNT(*) FROM `{db}`.`{t}`")[0][0] for t in tables}
    for t in tables:
        assert len([e for e in r.events if e["table"] == t]) == counts[t], t
        assert all(e["op"] == "insert" and e["snapshot"] for e in r.events if e["table"] == t)
    assert r.summary["inserted"] == sum(counts.values())
    # secrets never leave the database
    assert all("user_password" not in e["after"] and "user_token" not in e["after"]
               for e in r.events if e["table"] == "user")

    # a no-change rerun emits nothing
    r = run_snapdiff(cfg, "run")
    assert r.rc == 0 and r.events == []
    assert r.summary["chunks_unchanged"] == r.summary["chunks"]

    # now a mix of real changes, recorded as we make them
    pid, latest = mariadb.sql(f"SELECT page_id, page_latest FROM `{db}`.page ORDER BY page_id LIMIT 1")[0]
    mariadb.sql(f"UPDATE `{db}`.page SET page_len = page_len + 5 WHERE page_id = {pid}")
    mariadb.sql(f"UPDATE `{db}`.page SET page_touched = '20990101000000'")     # noise only
    gone = [x[0] for x in mariadb.sql(f"SELECT rev_id FROM `{db}`.revision ORDER BY rev_id DESC LIMIT 4")]
    mariadb.sql(f"DELETE FROM `{db}`.revision WHERE rev_id IN ({','.join(map(str, gone))})")
    mariadb.sql(f"INSERT INTO `{db}`.comment (comment_hash, comment_text) VALUES (7, 'new comment')")
    new_comment = mariadb.sql(f"SELECT MAX(comment_id) FROM `{db}`.comment")[0][0]
    r = run_snapdiff(cfg, "run")
    assert r.rc == 0, r.stderr
    validate(r.events)
    expected = sorted(
        [("page", json.dumps({"page_id": pid}), "update")]
        + [("revision", json.dumps({"rev_id": g}), "delete") for g in gone]
        + [("comment", json.dumps({"comment_id": new_comment}), "insert")])
    assert keyset(r.events) == expected
    upd = [e for e in r.events if e["op"] == "update"][0]
    assert upd["after"]["page_len"] == mariadb.sql(f"SELECT page_len FROM `{db}`.page WHERE page_id={pid}")[0][0]
    assert all("after" not in e for e in r.events if e["op"] == "delete")
    assert r.summary["updated"] == 1 and r.summary["deleted"] == 4 and r.summary["inserted"] == 1


def test_every_type_round_trips(mariadb, tmp_path):
    db = fresh_db(mariadb, "types_rt", fixture="types.sql")
    cfg = base_config(mariadb, tmp_path, [db], ["alltypes"])
    r = run_snapdiff(cfg, "run")
    assert r.rc == 0, r.stderr
    validate(r.events)
    rows = {e["key"]["id"]: e["after"] for e in r.events}
    # compare with the server's own view of each value, column by column
    cols = [c[0] for c in mariadb.sql(
        "SELECT COLUMN_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA=%s AND TABLE_NAME='alltypes' "
        "ORDER BY ORDINAL_POSITION", args=(db,))]
    checked = 0
    for col in cols:
        server = dict(mariadb.sql(
            f"SELECT id, CASE WHEN `{col}` IS NULL THEN NULL ELSE HEX(CAST(`{col}` AS BINARY)) END "
            f"FROM `{db}`.alltypes"))
        for rid, hexval in server.items():
            got = rows[rid][col]
            if hexval is None:
                assert got is None, (col, rid)
                continue
            text = bytes.fromhex(hexval)
            kind = mariadb.sql("SELECT DATA_TYPE FROM information_schema.COLUMNS WHERE TABLE_SCHEMA=%s "
                               "AND TABLE_NAME='alltypes' AND COLUMN_NAME=%s", args=(db, col))[0][0]
            if kind in ("binary", "varbinary", "tinyblob", "blob", "mediumblob", "longblob",
                        "geometry", "point"):
                assert from_json_value(got) == text, (col, rid)
            elif kind in ("char", "varchar", "tinytext", "text", "mediumtext", "longtext", "enum", "set",
                          "inet4", "inet6", "uuid", "json"):
                assert got == mariadb.sql(f"SELECT CONVERT(`{col}` USING utf8mb4) FROM `{db}`.alltypes "
                                          f"WHERE id={rid}")[0][0], (col, rid)
            elif kind in ("float", "double"):
                # bit-exact: the server widens FLOAT to DOUBLE exactly, so the
                # float32 that our text reads back as must widen to the same
                sv = mariadb.sql(f"SELECT CAST(`{col}` AS DOUBLE) FROM `{db}`.alltypes WHERE id={rid}")[0][0]
                if kind == "float":
                    assert struct.unpack("f", struct.pack("f", got))[0] == sv, (col, rid, got, sv)
                else:
                    assert struct.pack("d", float(got)) == struct.pack("d", sv), (col, rid, got, sv)
            elif kind == "decimal":
                assert got == text.decode(), (col, rid)
            elif kind == "bit":
                assert got == int(hexval or "0", 16), (col, rid)
            elif kind in ("date", "datetime", "timestamp", "time"):
                want = text.decode()
                norm = got.replace("T", " ").rstrip("Z")
                assert norm == want, (col, rid, got, want)
            else:  # integers, year
                assert got == int(text.decode()), (col, rid)
            checked += 1
    assert checked > 200
    # every column change is detected, one at a time
    r = run_snapdiff(cfg, "run")
    assert r.events == []
    mariadb.sql(f"UPDATE `{db}`.alltypes SET c_float = c_float * 1.0000001 WHERE id = 1")
    mariadb.sql(f"UPDATE `{db}`.alltypes SET c_timestamp6 = '2001-01-01 00:00:00.000001' WHERE id = 5")
    mariadb.sql(f"UPDATE `{db}`.alltypes SET c_varbinary = NULL WHERE id = 5")
    mariadb.sql(f"UPDATE `{db}`.alltypes SET c_varchar_utf8 = '' WHERE id = 4")   # NULL -> ''
    r = run_snapdiff(cfg, "run")
    assert r.rc == 0
    assert sorted(e["key"]["id"] for e in r.events) == [1, 4, 5]


def test_timestamp_independent_of_session_time_zone(mariadb, tmp_path):
    db = fresh_db(mariadb, "tz")
    mariadb.sql(f"CREATE TABLE `{db}`.t (id INT PRIMARY KEY, ts TIMESTAMP(3) NULL)")
    conn = mariadb.connect(db)
    with conn.cursor() as c:
        c.execute("SET time_zone = '+05:00'")
        c.execute("INSERT INTO t VALUES (1, '2024-06-01 12:00:00.250')")
    conn.close()
    cfg = base_config(mariadb, tmp_path, [db], ["t"])
    r = run_snapdiff(cfg, "run")
    assert r.rc == 0
    assert r.events[0]["after"]["ts"] == "2024-06-01T07:00:00.250Z"


def test_composite_binary_and_collation_keys_across_many_chunks(mariadb, tmp_path):
    db = fresh_db(mariadb, "keys", fixture="types.sql")
    mariadb.sql(f"DELETE FROM `{db}`.ck")
    mariadb.sql(f"DELETE FROM `{db}`.cikey")
    vals = ",".join(f"({a}, {b!r}, {c})" for a in range(20) for b in ("x", "y\\0", "\u00e9t\u00e9", "Z")
                    for c in (0, 18446744073709551615))
    mariadb.sql(f"INSERT INTO `{db}`.ck (a, b, c) VALUES {vals}")
    ci_cols = [c[0] for c in mariadb.sql(
        "SELECT COLUMN_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA=%s AND TABLE_NAME='cikey' "
        "ORDER BY ORDINAL_POSITION", args=(db,))]
    words = ["apple", "Banana", "cherry", "Durian", "\u00e9clair", "fig", "Grape", "h\u00e9", "Ice", "jam"]
    for i, w in enumerate(words):
        mariadb.sql(f"INSERT INTO `{db}`.cikey (`{ci_cols[0]}`, v) VALUES (%s, %s)", args=(w + str(i), i))
    cfg = base_config(mariadb, tmp_path, [db], ["ck", "cikey"],
                      defaults={"chunk_rows": 5, "chunk_min_rows": 1, "chunk_max_rows": 7})
    r = run_snapdiff(cfg, "run")
    assert r.rc == 0, r.stderr
    n_ck = mariadb.sql(f"SELECT COUNT(*) FROM `{db}`.ck")[0][0]
    assert len([e for e in r.events if e["table"] == "ck"]) == n_ck
    st = run_snapdiff(cfg, "status", "--json")
    chunks = {json.loads(l)["table"]: json.loads(l)["chunks"] for l in st.stdout.splitlines()}
    assert chunks["ck"] >= n_ck // 7
    r = run_snapdiff(cfg, "run")
    assert r.events == [] and r.summary["chunks_unchanged"] == r.summary["chunks"]
    # changes spread over the key space, including at both ends
    mariadb.sql(f"DELETE FROM `{db}`.ck WHERE a IN (0, 7, 19) AND c = 0")
    mariadb.sql(f"UPDATE `{db}`.ck SET a = a WHERE a = 3")   # no-op, must not be an event
    mariadb.sql(f"INSERT INTO `{db}`.ck (a, b, c) VALUES (-5, 'a', 1), (100, 'z', 2), (7, 'x', 5)")
    mariadb.sql(f"INSERT INTO `{db}`.cikey (`{ci_cols[0]}`, v) VALUES ('AAA', 1), ('zzz0', 2), ('Mid', 3)")
    mariadb.sql(f"DELETE FROM `{db}`.cikey WHERE `{ci_cols[0]}` = 'cherry2'")
    r = run_snapdiff(cfg, "run")
    assert r.rc == 0, r.stderr
    assert len([e for e in r.events if e["table"] == "ck" and e["op"] == "delete"]) == 12
    assert len([e for e in r.events if e["table"] == "ck" and e["op"] == "insert"]) == 3
    assert len([e for e in r.events if e["table"] == "cikey" and e["op"] == "insert"]) == 3
    assert len([e for e in r.events if e["table"] == "cikey" and e["op"] == "delete"]) == 1
    assert not [e for e in r.events if e["op"] == "update"]
    r = run_snapdiff(cfg, "run")
    assert r.events == []


def test_keep_images_gives_before_images(mariadb, tmp_path):
    db = fresh_db(mariadb, "images")
    mariadb.sql(f"CREATE TABLE `{db}`.t (id INT PRIMARY KEY, v VARBINARY(20), n INT)")
    mariadb.sql(f"INSERT INTO `{db}`.t VALUES (1, 'one', 1), (2, 'two', 2), (3, 'three', 3)")
    cfg = base_config(mariadb, tmp_path, [db], [{"t": {"keep_images": True}}])
    assert run_snapdiff(cfg, "run").rc == 0
    mariadb.sql(f"UPDATE `{db}`.t SET n = 20 WHERE id = 2")
    mariadb.sql(f"DELETE FROM `{db}`.t WHERE id = 3")
    r = run_snapdiff(cfg, "run")
    ev = {e["key"]["id"]: e for e in r.events}
    assert ev[2]["before"] == {"id": 2, "v": "two", "n": 2}
    assert ev[2]["after"] == {"id": 2, "v": "two", "n": 20}
    assert ev[3]["before"] == {"id": 3, "v": "three", "n": 3} and "after" not in ev[3]


def test_ignore_columns_are_emitted_but_not_hashed(mariadb, tmp_path):
    db = fresh_db(mariadb, "ignore")
    mariadb.sql(f"CREATE TABLE `{db}`.t (id INT PRIMARY KEY, v INT, touched BINARY(14))")
    mariadb.sql(f"INSERT INTO `{db}`.t VALUES (1, 1, '20240101000000')")
    cfg = base_config(mariadb, tmp_path, [db], [{"t": {"ignore_columns": ["touched"]}}])
    r = run_snapdiff(cfg, "run")
    assert r.events[0]["after"]["touched"] == "20240101000000"
    mariadb.sql(f"UPDATE `{db}`.t SET touched = '20250101000000'")
    assert run_snapdiff(cfg, "run").events == []
    mariadb.sql(f"UPDATE `{db}`.t SET v = 2")
    r = run_snapdiff(cfg, "run")
    assert [e["after"]["touched"] for e in r.events] == ["20250101000000"]


def test_many_wikis_share_one_configuration(mariadb, tmp_path):
    dbs = [fresh_db(mariadb, n) for n in ("aawiki", "bbwiki")]
    for d in dbs:
        mariadb.sql(f"CREATE TABLE `{d}`.t (id INT PRIMARY KEY, v INT)")
    mariadb.sql(f"INSERT INTO `{dbs[0]}`.t VALUES (1, 1)")
    mariadb.sql(f"INSERT INTO `{dbs[1]}`.t VALUES (1, 1), (2, 2)")
    cfg = base_config(mariadb, tmp_path, dbs, ["t"])
    r = run_snapdiff(cfg, "run")
    assert sorted((e["database"], e["key"]["id"]) for e in r.events) == [(dbs[0], 1), (dbs[1], 1), (dbs[1], 2)]
    mariadb.sql(f"UPDATE `{dbs[1]}`.t SET v = 3 WHERE id = 2")
    r = run_snapdiff(cfg, "run", "--db", dbs[1])
    assert [(e["database"], e["op"]) for e in r.events] == [(dbs[1], "update")]
    assert len(r.summary["tables"]) == 1


def test_checksum_pushdown_skips_unchanged_chunks(mariadb, tmp_path):
    db = fresh_db(mariadb, "pushdown")
    mariadb.sql(f"CREATE TABLE `{db}`.t (id INT PRIMARY KEY, v VARCHAR(20), f FLOAT NULL)")
    mariadb.sql(f"INSERT INTO `{db}`.t SELECT seq, CONCAT('v', seq), NULL FROM `{db}`.seq_1_to_500")
    cfg = base_config(mariadb, tmp_path, [db], ["t"],
                      defaults={"checksum_pushdown": True, "chunk_rows": 50, "chunk_min_rows": 10,
                                "chunk_max_rows": 50})
    assert run_snapdiff(cfg, "run").rc == 0
    r = run_snapdiff(cfg, "run")              # stores checksums where missing
    r = run_snapdiff(cfg, "run")
    assert r.summary["chunks_skipped"] == r.summary["chunks"] and r.summary["rows_scanned"] == 0
    mariadb.sql(f"UPDATE `{db}`.t SET f = 1.5 WHERE id = 250")      # NULL -> 1.5
    r = run_snapdiff(cfg, "run")
    assert [(e["op"], e["key"]["id"]) for e in r.events] == [("update", 250)]
    assert r.summary["chunks_skipped"] == r.summary["chunks"] - 1
    r = run_snapdiff(cfg, "run", "--full")
    assert r.summary["chunks_skipped"] == 0 and r.events == []


def test_mass_delete_guard_refuses_and_changes_nothing(mariadb, tmp_path):
    db = fresh_db(mariadb, "guard")
    mariadb.sql(f"CREATE TABLE `{db}`.t (id INT PRIMARY KEY)")
    mariadb.sql(f"INSERT INTO `{db}`.t SELECT seq FROM `{db}`.seq_1_to_2000")
    cfg = base_config(mariadb, tmp_path, [db], ["t"])
    assert run_snapdiff(cfg, "run").rc == 0
    mariadb.sql(f"DELETE FROM `{db}`.t WHERE id > 1000")
    before = run_snapdiff(cfg, "status", "--json").stdout
    r = run_snapdiff(cfg, "run")
    assert r.rc == 7, r.stderr
    assert "max_delete_fraction" in r.stderr and f"{db}.t" in r.stderr
    assert r.events == []
    after = json.loads(run_snapdiff(cfg, "status", "--json").stdout)
    assert after["generation"] == json.loads(before)["generation"] and after["rows"] == 2000
    assert after["last_run"]["status"] == "refused"
    # a small table is never blocked by the guard
    small = fresh_db(mariadb, "guard_small")
    mariadb.sql(f"CREATE TABLE `{small}`.t (id INT PRIMARY KEY)")
    mariadb.sql(f"INSERT INTO `{small}`.t SELECT seq FROM `{db}`.seq_1_to_10")
    cfg2 = base_config(mariadb, tmp_path / "small", [small], ["t"])
    assert run_snapdiff(cfg2, "run").rc == 0
    mariadb.sql(f"DELETE FROM `{small}`.t")
    assert run_snapdiff(cfg2, "run").rc == 0
    # the override commits
    r = run_snapdiff(cfg, "run", "--allow-mass-delete")
    assert r.rc == 0 and len(r.events) == 1000


def test_dry_run_reports_without_committing(mariadb, tmp_path):
    db = fresh_db(mariadb, "dry")
    mariadb.sql(f"CREATE TABLE `{db}`.t (id INT PRIMARY KEY)")
    mariadb.sql(f"INSERT INTO `{db}`.t VALUES (1), (2)")
    cfg = base_config(mariadb, tmp_path, [db], ["t"])
    r = run_snapdiff(cfg, "run", "--dry-run")
    assert r.rc == 0 and r.summary["inserted"] == 2 and r.events == []
    r = run_snapdiff(cfg, "run")
    assert len(r.events) == 2


def test_errors_are_clear_and_leave_state_untouched(mariadb, tmp_path):
    db = fresh_db(mariadb, "errs", fixture="types.sql")
    good = base_config(mariadb, tmp_path, [db], ["ck"])
    assert run_snapdiff(good, "run").rc == 0
    def ck_state():
        rows = [json.loads(l) for l in run_snapdiff(good, "status", "--json").stdout.splitlines()]
        ck = [x for x in rows if x["table"] == "ck"][0]
        return ck["generation"], ck["rows"], ck["chunks"], ck["last_success"]
    status = ck_state()
    # table without a primary key
    r = run_snapdiff(base_config(mariadb, tmp_path, [db], ["nopk"]), "run")
    assert r.rc == 8 and f"'{db}.nopk' has no primary key" in r.stderr
    # missing table
    r = run_snapdiff(base_config(mariadb, tmp_path, [db], ["nosuchtable"]), "run")
    assert r.rc == 8 and "does not exist" in r.stderr
    # wrong password
    bad = base_config(mariadb, tmp_path, [db], ["ck"])
    pw = tmp_path / "wrongpw"
    pw.write_text("not-the-password\n")
    bad["source"]["password_file"] = str(pw)
    r = run_snapdiff(bad, "run")
    assert r.rc == 9 and "Access denied" in r.stderr
    assert "not-the-password" not in r.stderr + r.stdout
    # unreachable server
    gone = base_config(mariadb, tmp_path, [db], ["ck"])
    gone["source"]["socket"] = str(tmp_path / "no.sock")
    r = run_snapdiff(gone, "run")
    assert r.rc == 4 and "cannot connect" in r.stderr
    # bad configuration: file:line
    path = tmp_path / "bad.yaml"
    path.write_text("source:\n  socket: /x\n  colour: blue\ndatabases: [a]\ntables: [t]\n")
    p = subprocess.run([SNAPDIFF, "run", "--config", str(path)], capture_output=True, text=True)
    assert p.returncode == 3 and f"{path}:3:" in p.stderr and "colour" in p.stderr
    # unknown column in ignore_columns
    r = run_snapdiff(base_config(mariadb, tmp_path, [db], [{"ck": {"ignore_columns": ["nope"]}}]), "run")
    assert r.rc == 3 and "'nope'" in r.stderr
    # none of this touched the good table's state
    assert ck_state() == status


def test_second_run_is_refused_while_the_lock_is_held(mariadb, tmp_path):
    import fcntl
    db = fresh_db(mariadb, "lock")
    mariadb.sql(f"CREATE TABLE `{db}`.t (id INT PRIMARY KEY)")
    cfg = base_config(mariadb, tmp_path, [db], ["t"])
    assert run_snapdiff(cfg, "run").rc == 0
    lockdir = cfg["state"]["path"] + ".locks"
    lockfile = os.path.join(lockdir, f"{db}.t.lock")
    assert os.path.exists(lockfile)
    with open(lockfile, "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        r = run_snapdiff(cfg, "run")
        assert r.rc == 99 and "another snapdiff process" in r.stderr
    assert run_snapdiff(cfg, "run").rc == 0


def test_concurrent_writes_do_not_tear_a_run(mariadb, tmp_path):
    """Money moves between accounts in transactions while snapdiff scans with
    tiny chunks: a consistent snapshot sees the invariant total in every run."""
    db = fresh_db(mariadb, "tear")
    mariadb.sql(f"CREATE TABLE `{db}`.acct (id INT PRIMARY KEY, bal BIGINT NOT NULL)")
    mariadb.sql(f"INSERT INTO `{db}`.acct SELECT seq, 1000 FROM `{db}`.seq_1_to_3000")
    total = 3000 * 1000
    cfg = base_config(mariadb, tmp_path, [db], [{"acct": {"keep_images": True}}],
                      defaults={"chunk_rows": 20, "chunk_min_rows": 5, "chunk_max_rows": 20})
    stop = threading.Event()
    moved = [0]

    def writer():
        import random
        conn = mariadb.connect(db)
        rnd = random.Random(7)
        while not stop.is_set():
            a, b = rnd.randint(1, 3000), rnd.randint(1, 3000)
            with conn.cursor() as c:
                c.execute("START TRANSACTION")
                c.execute("UPDATE acct SET bal = bal - 7 WHERE id = %s", (a,))
                c.execute("UPDATE acct SET bal = bal + 7 WHERE id = %s", (b,))
                c.execute("COMMIT")
            moved[0] += 1
        conn.close()

    t = threading.Thread(target=writer)
    t.start()
    try:
        state = {}
        for _ in range(4):
            r = run_snapdiff(cfg, "run")
            assert r.rc == 0, r.stderr
            for e in r.events:
                if e["op"] == "delete":
                    state.pop(e["key"]["id"], None)
                else:
                    state[e["key"]["id"]] = e["after"]["bal"]
            assert len(state) == 3000
            assert sum(state.values()) == total
    finally:
        stop.set()
        t.join()
    assert moved[0] > 50


def test_large_blob_row(mariadb, tmp_path):
    db = fresh_db(mariadb, "blob")
    mariadb.sql(f"CREATE TABLE `{db}`.t (id INT PRIMARY KEY, b LONGBLOB)")
    payload = os.urandom(6 * 1024 * 1024)
    mariadb.sql(f"INSERT INTO `{db}`.t VALUES (1, %s), (2, 'small')", args=(payload,))
    cfg = base_config(mariadb, tmp_path, [db], ["t"])
    r = run_snapdiff(cfg, "run")
    assert r.rc == 0, r.stderr
    got = {e["key"]["id"]: from_json_value(e["after"]["b"]) for e in r.events}
    assert got[1] == payload and got[2] == b"small"


def test_one_run_over_many_tables_survives_a_failing_table(mariadb, tmp_path):
    """Regression: statements were cached by table address, which the next
    table could reuse; and a failed table left the session out of sync."""
    db = fresh_db(mariadb, "many", fixture="types.sql")
    cfg = base_config(mariadb, tmp_path, [db], ["vbkey", "ck", "nopk", "cikey", "alltypes", "ukonly"])
    r = run_snapdiff(cfg, "run")
    assert r.rc == 8, r.stderr
    by = {t["table"]: t for t in r.summary["tables"]}
    assert by["nopk"]["status"] == "failed" and by["ukonly"]["status"] == "failed"
    for t in ("vbkey", "ck", "cikey", "alltypes"):
        n = mariadb.sql(f"SELECT COUNT(*) FROM `{db}`.`{t}`")[0][0]
        assert by[t]["status"] == "ok" and by[t]["inserted"] == n, t
        assert len([e for e in r.events if e["table"] == t]) == n
