"""The Kafka sink against a real Apache Kafka broker (tests/lib/kafka.sh) and a
real MariaDB: exact messages per run, keys, headers, tombstones, partitioning
and per-key order, the Debezium envelope, transactions, and failures (a broker
that is down, a message too large, a bad property) with the state left as it
was and the same event ids on the rerun.

Messages are read back with kcat. Every test uses its own database and topic
prefix, so they share one broker and one MariaDB.
"""

import base64
import json
import os
import subprocess
import sys
import time
from pathlib import Path


sys.path.insert(0, str(Path(__file__).resolve().parent))
from kafkafix import *  # noqa: F401,F403  (fixtures: kafka, kdb, dead_broker)
from kafkafix import Broker
from sdtest import snapdiff_bin

ROOT = Path(__file__).resolve().parents[2]


def write_config(kdb, tmp_path, db, tables, sinks, name="snapdiff.yaml", **defaults):
    """A configuration for one database; JSON is valid YAML, so no YAML
    library is needed to write it."""
    cfg = {
        "source": kdb.source,
        "databases": [db],
        "state": {"path": str(tmp_path / "state.db")},
        "defaults": {"guard_min_rows": 1000000, **defaults},
        "tables": tables,
        "sinks": sinks,
    }
    p = tmp_path / name
    p.write_text(json.dumps(cfg, indent=1))
    return p


def run(cfg, *args, timeout=180):
    """snapdiff run; returns (exit code, summary dict or None, stderr)."""
    p = subprocess.run([snapdiff_bin(), "run", "--config", str(cfg), *args],
                       capture_output=True, text=True, timeout=timeout)
    summary = None
    for line in p.stdout.splitlines()[::-1]:
        if line.startswith("{"):
            summary = json.loads(line)
            break
    return p.returncode, summary, p.stderr


def table_of(summary):
    return summary["tables"][0]


def by_op(msgs):
    return [(m.op, m.json_key, m.value is None) for m in msgs]


def murmur2(data: bytes) -> int:
    """Kafka's Utils.murmur2 (seed 0x9747b28c), as the Java default partitioner
    uses it; librdkafka's murmur2_random partitioner must agree."""
    m, r = 0x5BD1E995, 24
    length = len(data)
    h = (0x9747B28C ^ length) & 0xFFFFFFFF
    i = 0
    while length - i >= 4:
        k = int.from_bytes(data[i:i + 4], "little")
        k = (k * m) & 0xFFFFFFFF
        k ^= k >> r
        k = (k * m) & 0xFFFFFFFF
        h = (h * m) & 0xFFFFFFFF
        h ^= k
        i += 4
    rest = length - i
    if rest == 3:
        h ^= data[i + 2] << 16
    if rest >= 2:
        h ^= data[i + 1] << 8
    if rest >= 1:
        h ^= data[i]
        h = (h * m) & 0xFFFFFFFF
    h ^= h >> 13
    h = (h * m) & 0xFFFFFFFF
    h ^= h >> 15
    return h


# --------------------------------------------------------------------------- broker


def test_broker_is_real_kafka_4(kafka):
    """The fixture runs the Apache Kafka 4.x jars from Maven Central in KRaft
    mode; a plain produce/consume works and topics auto-create."""
    assert kafka.running()
    home = subprocess.run([str(ROOT / "tests/lib/kafka.sh"), "fetch"], capture_output=True,
                          text=True, check=True).stdout.strip()
    assert any(j.startswith("kafka_2.13-4.") for j in os.listdir(Path(home) / "jars"))
    assert "process.roles=broker,controller" in (kafka.dir / "server.properties").read_text()
    p = subprocess.run(["kcat", "-b", kafka.bootstrap, "-P", "-t", "smoke", "-K:"],
                       input="k:v\n", text=True, capture_output=True, timeout=60)
    assert p.returncode == 0, p.stderr
    msgs = kafka.wait_for("smoke", 1)
    assert [(m.key, m.value) for m in msgs] == [("k", "v")]


# ---------------------------------------------------------------- native envelope


def test_native_events_keys_headers_tombstones(kafka, kdb, tmp_path, request):
    db = kdb.fresh_db(request)
    kdb.exec(db, "CREATE TABLE t (id INT PRIMARY KEY, name VARCHAR(20), n BIGINT)",
             "INSERT INTO t VALUES (1,'a',10),(2,'b',20),(3,'c',30)")
    jsonl = tmp_path / "events.jsonl"
    cfg = write_config(kdb, tmp_path, db, ["t"],
                       [{"type": "jsonl", "path": str(jsonl)}, kafka.sink(request)])
    topic = f"{Broker.prefix(request)}.{db}.t"

    rc, s, err = run(cfg)
    assert rc == 0, err
    msgs = kafka.consume(topic)
    assert sorted(m.json_key["id"] for m in msgs) == [1, 2, 3]
    assert {m.op for m in msgs} == {"insert"}
    run1 = table_of(s)["run_id"]
    for m in msgs:
        ev = m.json
        assert ev["op"] == "insert" and ev["snapshot"] is True
        assert ev["key"] == m.json_key
        assert m.headers["snapdiff-run-id"] == run1 == ev["run_id"]
        assert m.event_id == ev["id"] and len(m.event_id) == 32
    # byte-identical to the JSONL sink's lines
    lines = set(jsonl.read_text().splitlines())
    assert {m.value for m in msgs} == lines

    kdb.exec(db, "UPDATE t SET name='a2' WHERE id=1", "DELETE FROM t WHERE id=2",
             "INSERT INTO t VALUES (4,'d',40)")
    rc, s, err = run(cfg)
    assert rc == 0, err
    new = [m for m in kafka.consume(topic) if m.headers["snapdiff-run-id"] != run1]
    ops = sorted(by_op(new), key=lambda x: (x[1]["id"], x[0]))
    assert ops == [("update", {"id": 1}, False), ("delete", {"id": 2}, False),
                   ("tombstone", {"id": 2}, True), ("insert", {"id": 4}, False)]
    upd = next(m for m in new if m.op == "update").json
    assert upd["after"]["name"] == "a2" and upd["snapshot"] is False
    dele = next(m for m in new if m.op == "delete")
    tomb = next(m for m in new if m.op == "tombstone")
    # the tombstone follows its delete, same key and partition, same event id
    assert (tomb.partition, tomb.key) == (dele.partition, dele.key)
    assert tomb.offset > dele.offset and tomb.event_id == dele.event_id
    assert tomb.headers["snapdiff-run-id"] == table_of(s)["run_id"]

    # nothing changed: nothing sent
    before = len(kafka.consume(topic))
    rc, s, err = run(cfg)
    assert rc == 0, err
    assert len(kafka.consume(topic)) == before


def test_tombstones_off_and_topic_template(kafka, kdb, tmp_path, request):
    db = kdb.fresh_db(request)
    kdb.exec(db, "CREATE TABLE t (id INT PRIMARY KEY, v INT)", "INSERT INTO t VALUES (1,1),(2,2)")
    pre = Broker.prefix(request)
    cfg = write_config(kdb, tmp_path, db, ["t"], [kafka.sink(
        request, tombstones=False, topic_template="{prefix}-{table}-of-{database}")])
    assert run(cfg)[0] == 0
    kdb.exec(db, "DELETE FROM t WHERE id=1")
    assert run(cfg)[0] == 0
    msgs = kafka.consume(f"{pre}-t-of-{db}")
    assert sorted(by_op(msgs), key=str) == sorted(
        [("insert", {"id": 1}, False), ("insert", {"id": 2}, False),
         ("delete", {"id": 1}, False)], key=str)


def test_partitioning_and_per_key_order(kafka, kdb, tmp_path, request):
    """Keys are partitioned like Java clients do (murmur2), so every change of
    a row is in one partition, in the order of the runs."""
    db = kdb.fresh_db(request)
    kdb.exec(db, "CREATE TABLE t (id INT PRIMARY KEY, v INT)",
             "INSERT INTO t VALUES " + ",".join(f"({i},0)" for i in range(1, 31)))
    cfg = write_config(kdb, tmp_path, db, ["t"], [kafka.sink(request)])
    assert run(cfg)[0] == 0
    for v in range(1, 4):
        kdb.exec(db, f"UPDATE t SET v={v} WHERE id % 3 = {v % 3} OR id <= 5")
        assert run(cfg)[0] == 0
    msgs = kafka.consume(f"{Broker.prefix(request)}.{db}.t")
    partitions = {m.partition for m in msgs}
    assert len(partitions) == 3, "auto-created topics have 3 partitions"
    per_key = {}
    for m in msgs:
        assert m.partition == (murmur2(m.key.encode()) & 0x7FFFFFFF) % 3, m.key
        per_key.setdefault(m.key, []).append(m)
    for key, ms in per_key.items():
        assert len({m.partition for m in ms}) == 1
        ms.sort(key=lambda m: m.offset)
        gens = [int(m.headers["snapdiff-run-id"].rsplit(".", 1)[1]) for m in ms]
        assert gens == sorted(gens), key
        values = [m.json.get("after", {}).get("v") for m in ms]
        assert values[-1] == json.loads(kdb.scalar(db, f"SELECT v FROM t WHERE id={json.loads(key)['id']}"))


# --------------------------------------------------------------- Debezium envelope


def flink_rows(msgs):
    """What Flink SQL's debezium-json format makes of the messages: a list of
    (RowKind, row). Tombstones are skipped, as Flink does."""
    out = []
    for m in msgs:
        if m.value is None:
            continue
        ev = m.json
        op = ev["op"]
        if op in ("c", "r"):
            out.append(("+I", ev["after"]))
        elif op == "u":
            assert ev["before"] is not None, "Flink refuses an update without before"
            out.append(("-U", ev["before"]))
            out.append(("+U", ev["after"]))
        elif op == "d":
            assert ev["before"] is not None
            out.append(("-D", ev["before"]))
        else:
            raise AssertionError(f"unknown op {op}")
    return out


def test_debezium_envelope(kafka, kdb, tmp_path, request):
    db = kdb.fresh_db(request)
    kdb.exec(db,
             "CREATE TABLE t (id INT UNSIGNED PRIMARY KEY, title VARBINARY(50), price DECIMAL(8,2),"
             " d DATE, dt DATETIME, dt6 DATETIME(6), ts TIMESTAMP(3) NULL, tm TIME,"
             " b1 BIT(1), b10 BIT(10), e ENUM('x','y'), big BIGINT UNSIGNED, j JSON, y YEAR,"
             " f FLOAT, dbl DOUBLE)",
             "INSERT INTO t VALUES (1,'Main_Page',-12.50,'2024-02-29','2018-06-20 06:37:03',"
             " '2024-06-15 12:34:56.123456','2018-06-20 13:37:03.120','-838:59:59',"
             " b'1', b'1111111111','y',18446744073709551615,'{\"k\":1}',2024,1.5,0.1),"
             "(2,'b',1.00,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL)")
    cfg = write_config(kdb, tmp_path, db, ["t"], [kafka.sink(request, envelope="debezium")],
                       keep_images=True)
    topic = f"{Broker.prefix(request)}.{db}.t"
    rc, s, err = run(cfg)
    assert rc == 0, err
    msgs = kafka.consume(topic)
    evs = sorted((m.json for m in msgs), key=lambda e: e["after"]["id"])
    assert [e["op"] for e in evs] == ["r", "r"]
    snaps = sorted(m.json["source"]["snapshot"] for m in msgs)
    assert snaps == ["last", "true"]
    a = evs[0]["after"]
    assert a == {"id": 1, "title": base64.b64encode(b"Main_Page").decode(), "price": "+x4=",
                 "d": 19782, "dt": 1529476623000, "dt6": 1718454896123456,
                 "ts": "2018-06-20T13:37:03.120Z", "tm": -3020399000000, "b1": True,
                 "b10": "/wM=", "e": "y", "big": -1, "j": '{"k":1}', "y": 2024, "f": 1.5,
                 "dbl": 0.1}
    src = evs[0]["source"]
    assert src["connector"] == "snapdiff" and src["db"] == db and src["table"] == "t"
    assert src["name"] == Broker.prefix(request)
    assert src["snapdiff_run_id"] == table_of(s)["run_id"]
    assert msgs[0].json_key in ({"id": 1}, {"id": 2})

    kdb.exec(db, "UPDATE t SET price=2.55 WHERE id=2", "DELETE FROM t WHERE id=1",
             "INSERT INTO t (id, title) VALUES (3, 'new')")
    rc, s, err = run(cfg)
    assert rc == 0, err
    new = [m for m in kafka.consume(topic) if m.value is None or m.json["op"] != "r"]
    rows = sorted(flink_rows(new), key=lambda r: (r[1]["id"], r[0]))
    assert [(k, r["id"]) for k, r in rows] == [("-D", 1), ("+U", 2), ("-U", 2), ("+I", 3)]
    upd = next(m.json for m in new if m.value and m.json["op"] == "u")
    assert upd["before"]["price"] == "ZA==" and upd["after"]["price"] == "AP8="
    assert upd["source"]["snapshot"] == "false"
    assert sum(1 for m in new if m.value is None) == 1  # the delete's tombstone


def test_debezium_schema_change_key_as_before(kafka, kdb, tmp_path, request):
    """After a schema change the stored images have the old layout, so the
    first run has no before-images: 'before' holds the key columns (and the
    run does not fail, which would fail every rerun too)."""
    db = kdb.fresh_db(request)
    kdb.exec(db, "CREATE TABLE t (id INT PRIMARY KEY, v INT)", "INSERT INTO t VALUES (1,1),(2,2)")
    cfg = write_config(kdb, tmp_path, db, ["t"], [kafka.sink(request, envelope="debezium")],
                       keep_images=True)
    rc, s, err = run(cfg)
    assert rc == 0, err
    kdb.exec(db, "ALTER TABLE t ADD COLUMN w INT", "UPDATE t SET v=10 WHERE id=1",
             "DELETE FROM t WHERE id=2")
    rc, s, err = run(cfg)
    assert rc == 0, err
    gen2 = table_of(s)["run_id"]
    msgs = [m for m in kafka.consume(f"{Broker.prefix(request)}.{db}.t")
            if m.headers["snapdiff-run-id"] == gen2 and m.value is not None]
    befores = sorted((m.json["op"], m.json["before"]) for m in msgs
                     if m.json["op"] in ("u", "d"))
    assert ("u", {"id": 1}) in befores and ("d", {"id": 2}) in befores
    # the rerun after that has full images again
    kdb.exec(db, "UPDATE t SET v=11 WHERE id=1")
    rc, s, err = run(cfg)
    assert rc == 0, err
    gen3 = table_of(s)["run_id"]
    upd = [m.json for m in kafka.consume(f"{Broker.prefix(request)}.{db}.t")
           if m.headers["snapdiff-run-id"] == gen3 and m.value is not None]
    assert [u["before"] for u in upd] == [{"id": 1, "v": 10, "w": None}]


def test_debezium_keeps_images_by_itself(kafka, kdb, tmp_path, request):
    """envelope: debezium needs before-images: a table that does not say
    otherwise keeps them automatically; one that says keep_images: false is
    refused with file:line (exit 3)."""
    db = kdb.fresh_db(request)
    kdb.exec(db, "CREATE TABLE t (id INT PRIMARY KEY, v INT)", "INSERT INTO t VALUES (1,1)")
    cfg = write_config(kdb, tmp_path, db, ["t"], [kafka.sink(request, envelope="debezium")])
    rc, s, err = run(cfg)
    assert rc == 0, err
    kdb.exec(db, "UPDATE t SET v=2")
    rc, s, err = run(cfg)
    assert rc == 0, err
    upd = [m.json for m in kafka.wait_for(f"{Broker.prefix(request)}.{db}.t", 2)
           if m.json["op"] == "u"]
    assert [(u["before"], u["after"]) for u in upd] == [({"id": 1, "v": 1}, {"id": 1, "v": 2})]

    bad = write_config(kdb, tmp_path, db, [{"t": {"keep_images": False}}],
                       [kafka.sink(request, envelope="debezium")], name="bad.yaml")
    rc, s, err = run(bad)
    assert rc == 3 and "keep_images" in err and ".yaml:" in err, err


# ------------------------------------------------------------------ transactions


def test_transactions_hide_aborted_runs(kafka, kdb, tmp_path, request):
    """A run that fails after the Kafka sink produced thousands of messages
    (the broker refuses its last row as too large) is aborted: the messages
    reached the broker, but read_committed consumers see none of them; the
    rerun is seen exactly once."""
    db = kdb.fresh_db(request)
    n = 3000
    kdb.exec(db, "CREATE TABLE t (id INT PRIMARY KEY, body MEDIUMBLOB)",
             f"INSERT INTO t SELECT seq, 'small' FROM seq_1_to_{n}")
    topic = f"{Broker.prefix(request)}.{db}.t"
    # The producer accepts the large message (message.max.bytes raised, no
    # compression), the broker refuses it (its limit is 1 MiB): the failure
    # comes in a delivery report while the other batches were written.
    cfg = write_config(kdb, tmp_path, db, ["t"], [kafka.sink(
        request, transactional=True,
        properties={"linger.ms": "0", "message.max.bytes": "3000000",
                    "compression.type": "none"})])
    rc, s, err = run(cfg)
    assert rc == 0, err
    # the coordinator writes commit markers after commit_transaction returns:
    # a read_committed reader may need a moment to see them
    committed = kafka.wait_for(topic, n, read_committed=True)
    assert sorted(m.json_key["id"] for m in committed) == list(range(1, n + 1))

    # run 2: n updates, the last one too large
    kdb.exec(db, "UPDATE t SET body = 'changed'",
             f"UPDATE t SET body = REPEAT('x', 1500000) WHERE id = {n}")
    rc, s, err = run(cfg)
    assert rc == 6 and "too large" in err, (rc, err)
    failed_run = table_of(s)["run_id"]
    assert len(kafka.consume(topic, read_committed=True)) == n
    seen = [m for m in kafka.consume(topic) if m.headers.get("snapdiff-run-id") == failed_run]
    assert len(seen) > 0, "the aborted messages did reach the broker"

    kdb.exec(db, f"UPDATE t SET body = 'changed' WHERE id = {n}")
    rc, s, err = run(cfg)
    assert rc == 0, err
    assert table_of(s)["run_id"] == failed_run
    committed = [m for m in kafka.wait_for(topic, 2 * n, read_committed=True)
                 if m.headers["snapdiff-run-id"] == failed_run]
    assert sorted(m.json_key["id"] for m in committed) == list(range(1, n + 1))
    assert {m.op for m in committed} == {"update"}
    assert len({m.event_id for m in committed}) == n


# ------------------------------------------------------- derived documents


def test_mediawiki_page_change_documents(kafka, mariadb, kdb, tmp_path, request):
    """The MediaWiki profile's page_change documents go to the topic named by
    their stream, byte-identical to the JSONL sink's lines, keyed and with
    the run id and event id headers; row events of every table go to their
    own topics in the same run."""
    import wikiload
    db = kdb.fresh_db(request)
    mariadb.load_wiki(db, pages=10, revs_per_page=2, seed=3)
    stream = Broker.prefix(request) + ".page_change"
    jsonl = tmp_path / "events.jsonl"
    tables = ["page", "revision", "archive", "logging", "comment", "actor", "user", "slots",
              "content"]
    cfg = write_config(kdb, tmp_path, db, tables,
                       [{"type": "jsonl", "path": str(jsonl)}, kafka.sink(request)],
                       initial_events="none")
    doc = json.loads(cfg.read_text())
    doc["mediawiki"] = {"page_change": True, "stream": stream,
                        "domains": {db: "test.wikipedia.org"}}
    cfg.write_text(json.dumps(doc))
    rc, s, err = run(cfg)
    assert rc == 0, err

    w = wikiload.Wiki(mariadb.connect(db), db, seed=3)
    try:
        wikiload.edit_page(w)
        wikiload.edit_page(w)
        wikiload.create_page(w)
    finally:
        w.conn.close()
    jsonl.unlink(missing_ok=True)
    rc, s, err = run(cfg)
    assert rc == 0, err
    docs = kafka.consume(stream)
    pc_lines = [l for l in jsonl.read_text().splitlines() if '"$schema"' in l]
    assert len(docs) == len(pc_lines) >= 3
    assert sorted(m.value for m in docs) == sorted(pc_lines)
    for m in docs:
        assert m.op == "doc"
        assert m.headers["snapdiff-run-id"].startswith(f"{db}.page_change.")
        assert "page_id" in m.json_key
        assert m.json["meta"]["stream"] == stream
    assert len({m.event_id for m in docs}) == len(docs)
    rev = [m for m in kafka.consume(f"{Broker.prefix(request)}.{db}.revision")
           if m.op == "insert"]
    assert len(rev) == 3


# ----------------------------------------------------------------------- failures


def test_dead_broker_fails_run_and_keeps_state(kdb, dead_broker, tmp_path, request):
    db = kdb.fresh_db(request)
    kdb.exec(db, "CREATE TABLE t (id INT PRIMARY KEY, v INT)", "INSERT INTO t VALUES (1,1)")
    for txn in (False, True):
        cfg = write_config(kdb, tmp_path, db, ["t"], [{"type": "kafka", "brokers": dead_broker,
                                                  "flush_timeout": 2, "transactional": txn}])
        rc, s, err = run(cfg, timeout=60)
        assert rc == 6, (rc, err)
        assert "sink 'kafka'" in err and "Connection refused" in err
        assert table_of(s)["run_id"].endswith(".1"), "state did not advance"


def test_broker_down_then_rerun_same_event_ids(kafka_own, kdb, tmp_path, request):
    """The second broker, stopped between two runs: the run fails with exit
    code 6 and commits nothing; after a restart the rerun delivers the same
    run id and the same event ids (which the JSONL sink, committed before the
    Kafka sink failed, recorded)."""
    b = kafka_own
    db = kdb.fresh_db(request)
    kdb.exec(db, "CREATE TABLE t (id INT PRIMARY KEY, v INT)",
             "INSERT INTO t VALUES (1,1),(2,2),(3,3)")
    events = tmp_path / "events"
    events.mkdir()
    sinks = [{"type": "jsonl", "dir": str(events)},
             {"type": "kafka", "brokers": b.bootstrap, "topic_prefix": Broker.prefix(request),
              "flush_timeout": 3}]
    cfg = write_config(kdb, tmp_path, db, ["t"], sinks)
    rc, s, err = run(cfg)
    assert rc == 0, err
    kdb.exec(db, "UPDATE t SET v=20 WHERE id=2", "DELETE FROM t WHERE id=3")

    b.stop()
    rc, s, err = run(cfg)
    assert rc == 6, (rc, err)
    failed_run = table_of(s)["run_id"]
    assert failed_run.endswith(".2")
    jsonl_events = [json.loads(l) for f in sorted(events.iterdir())
                    for l in f.read_text().splitlines()]
    failed_ids = {e["id"] for e in jsonl_events if e["run_id"] == failed_run}
    assert len(failed_ids) == 2

    b.start()
    rc, s, err = run(cfg)
    assert rc == 0, err
    assert table_of(s)["run_id"] == failed_run
    msgs = [m for m in b.consume(f"{Broker.prefix(request)}.{db}.t")
            if m.headers["snapdiff-run-id"] == failed_run]
    assert {m.event_id for m in msgs} == failed_ids
    assert sorted(m.op for m in msgs) == ["delete", "tombstone", "update"]


def test_broker_stopped_mid_delivery(kafka_own, kdb, tmp_path, request):
    """The broker goes away while a run is delivering (delivery slowed down
    with a tiny producer queue and a long linger so that there is a window):
    the run fails with exit code 6, state stays at the previous generation,
    and after a restart the rerun delivers every event; the messages the
    failed run got through carry the same event ids as the rerun's."""
    b = kafka_own
    db = kdb.fresh_db(request)
    # large enough that delivery outlasts the poll below even on a fast,
    # idle machine (20000 was once delivered in full before the first poll)
    n = 100000
    kdb.exec(db, "CREATE TABLE t (id INT PRIMARY KEY, v INT)",
             f"INSERT INTO t SELECT seq, seq FROM seq_1_to_{n}")
    cfg = write_config(kdb, tmp_path, db, ["t"], [{
        "type": "kafka", "brokers": b.bootstrap, "topic_prefix": Broker.prefix(request),
        "flush_timeout": 3,
        "properties": {"queue.buffering.max.messages": "500", "linger.ms": "100",
                       "batch.num.messages": "500"}}])
    topic = f"{Broker.prefix(request)}.{db}.t"
    proc = subprocess.Popen([snapdiff_bin(), "run", "--config", str(cfg)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    # poll for ONE message: reading the whole topic each time could take
    # longer than the rest of the run
    while proc.poll() is None and time.monotonic() < deadline:
        if b.consume(topic, limit=1):
            break
        time.sleep(0.1)
    assert proc.poll() is None, "the run finished before the broker could be stopped"
    b.stop()
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 6, (proc.returncode, err)
    assert "sink 'kafka'" in err
    failed_run = json.loads(out.splitlines()[-1])["tables"][0]["run_id"]
    assert failed_run.endswith(".1")

    b.start()
    partial = {m.event_id for m in b.consume(topic)}
    assert 0 < len(partial) < n
    rc, s, err = run(cfg)
    assert rc == 0, err
    assert table_of(s)["run_id"] == failed_run
    msgs = b.consume(topic)
    rerun = {m.event_id for m in msgs}
    assert len(rerun) == n
    assert partial <= rerun
    assert {m.json_key["id"] for m in msgs} == set(range(1, n + 1))


def test_message_too_large_fails_run(kafka, kdb, tmp_path, request):
    db = kdb.fresh_db(request)
    kdb.exec(db, "CREATE TABLE t (id INT PRIMARY KEY, body MEDIUMBLOB)",
             "INSERT INTO t VALUES (1, REPEAT('x', 2000000))")
    cfg = write_config(kdb, tmp_path, db, ["t"], [kafka.sink(request)])
    rc, s, err = run(cfg)
    assert rc == 6, (rc, err)
    assert "too large" in err
    assert table_of(s)["run_id"].endswith(".1")


def test_bad_property_is_a_config_error(kafka, kdb, tmp_path, request):
    db = kdb.fresh_db(request)
    kdb.exec(db, "CREATE TABLE t (id INT PRIMARY KEY)")
    cfg = write_config(kdb, tmp_path, db, ["t"], [kafka.sink(
        request, properties={"compression.type": "brotli"})])
    rc, s, err = run(cfg)
    assert rc == 3, (rc, err)
    assert "sink 'kafka' property 'compression.type'" in err


def test_cli_X_properties_override_the_file(kafka, kdb, tmp_path, request):
    """kcat-style -X key=value reaches librdkafka after the file's properties:
    a bad value fails like one in the file, a good one overrides it, and a
    password is refused on the command line."""
    db = kdb.fresh_db(request)
    kdb.exec(db, "CREATE TABLE t (id INT PRIMARY KEY)", "INSERT INTO t VALUES (1), (2)")
    cfg = write_config(kdb, tmp_path, db, ["t"], [kafka.sink(
        request, properties={"compression.type": "brotli"})])
    rc, s, err = run(cfg)
    assert rc == 3 and "'compression.type'" in err, err
    rc, s, err = run(cfg, "-X", "compression.type=lz4", "-X", "linger.ms=5")
    assert rc == 0, err
    msgs = kafka.wait_for(f"{Broker.prefix(request)}.{db}.t", 2)
    assert sorted(m.json_key["id"] for m in msgs) == [1, 2]
    rc, s, err = run(cfg, "-X", "compression.type=lz4", "-X", "nosuch.property=1")
    assert rc == 3 and "nosuch.property" in err, err
    rc, s, err = run(cfg, "-X", "sasl.password=hunter2")
    assert rc == 2 and "hunter2" not in err and "sasl_password_env" in err, err
