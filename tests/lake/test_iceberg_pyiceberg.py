"""Reads the Iceberg tables lake/iceberg.c commits back with pyiceberg.

icegen (tests/lake/gen/icegen.c) commits six snapshots through a SQLite SQL
catalog and through a Hadoop catalog; every snapshot must scan to exactly the
rows icefix.expected() computes (time travel by snapshot id), summaries must
carry the counters and snapdiff.run-id, and files written before the schema
change must read as null in the added column.
"""
import importlib
import json
import sqlite3
from pathlib import Path

import pytest

import icefix

pyiceberg = importlib.import_module("pyiceberg")
from pyiceberg.catalog.sql import SqlCatalog  # noqa: E402
from pyiceberg.table import StaticTable  # noqa: E402


def scan(table, snapshot_id):
    rows = table.scan(snapshot_id=snapshot_id).to_arrow().to_pylist()
    return sorted(rows, key=lambda r: (r["_db"], r["page_id"]))


def sql_catalog(lake):
    return SqlCatalog("snapdiff", uri=f"sqlite:///{lake['db']}", warehouse=lake["warehouse"])


def check_history(table, lake):
    snaps = {s["label"]: s["id"] for s in lake["snapshots"]}
    assert [s.snapshot_id for s in table.metadata.snapshots] == list(snaps.values())
    for label, sid in snaps.items():
        assert scan(table, sid) == icefix.expected(label), label
    assert table.metadata.current_snapshot_id == snaps["s6"]
    assert scan(table, None) == icefix.expected("s6")


def test_sql_catalog_snapshots(sql_lake):
    table = sql_catalog(sql_lake).load_table(f"{icefix.NS}.{icefix.TABLE}")
    assert table.metadata.format_version == 2
    assert str(table.metadata.location) == sql_lake["location"]
    check_history(table, sql_lake)


def test_sql_catalog_rows_and_namespace(sql_lake):
    con = sqlite3.connect(sql_lake["db"])
    rows = con.execute("SELECT catalog_name, table_namespace, table_name, metadata_location, "
                       "previous_metadata_location, iceberg_type FROM iceberg_tables").fetchall()
    assert len(rows) == 1
    cat, ns, name, loc, prev, typ = rows[0]
    assert (cat, ns, name, typ) == ("snapdiff", icefix.NS, icefix.TABLE, "TABLE")
    assert loc == sql_lake["metadata"] and Path(loc.replace("file://", "")).exists()
    assert prev and prev != loc
    assert Path(loc).name.startswith("00007-")  # create + 6 snapshots + 1 schema change
    props = con.execute("SELECT namespace, property_key, property_value "
                        "FROM iceberg_namespace_properties").fetchall()
    assert ("lake", "exists", "true") in props
    catalog = sql_catalog(sql_lake)
    assert (icefix.NS,) in catalog.list_namespaces()
    assert (icefix.NS, icefix.TABLE) in catalog.list_tables(icefix.NS)


def test_summaries(sql_lake):
    table = sql_catalog(sql_lake).load_table(f"{icefix.NS}.{icefix.TABLE}")
    for i, s in enumerate(sql_lake["snapshots"]):
        snap = table.snapshot_by_id(s["id"])
        summ = snap.summary
        op, add_f, del_f, add_r, del_r, tot_r, tot_f, tot_del = icefix.SUMMARIES[s["label"]]
        assert summ.operation.value == op
        props = summ.additional_properties
        assert props["snapdiff.run-id"] == f"run-{i + 1}"
        assert int(props.get("added-data-files", 0)) == add_f
        assert int(props.get("deleted-data-files", 0)) == del_f
        assert int(props.get("added-records", 0)) == add_r
        assert int(props.get("deleted-records", 0)) == del_r
        assert int(props["total-records"]) == tot_r
        assert int(props["total-data-files"]) == tot_f
        assert int(props["total-delete-files"]) == tot_del
        assert snap.sequence_number == i + 1
        if i:
            assert snap.parent_snapshot_id == sql_lake["snapshots"][i - 1]["id"]
        else:
            assert snap.parent_snapshot_id is None
    assert sql_lake["conflict_attempts"] == 2  # s2 went through a stale handle
    assert sql_lake["bad_remove_rc"] != 0 and sql_lake["unchanged"]


def test_schema_evolution(sql_lake):
    table = sql_catalog(sql_lake).load_table(f"{icefix.NS}.{icefix.TABLE}")
    md = table.metadata
    assert [s.schema_id for s in md.schemas] == [0, 1]
    assert md.current_schema_id == 1 and md.last_column_id == 6
    assert sql_lake["added_column_id"] == 6
    ns = table.schema().find_field("ns")
    assert ns.field_id == 6 and not ns.required
    assert [f.name for f in md.schemas[0].fields] == icefix.COLUMNS
    assert table.schema().identifier_field_ids == [1, 2]
    snaps = {s["label"]: s["id"] for s in sql_lake["snapshots"]}
    assert md.snapshot_by_id(snaps["s4"]).schema_id == 0
    assert md.snapshot_by_id(snaps["s5"]).schema_id == 1
    # Current schema over old and new files: old ones read ns as null.
    rows = table.scan(selected_fields=("_db", "page_id", "ns")).to_arrow().to_pylist()
    got = {(r["_db"], r["page_id"]): r["ns"] for r in rows}
    assert got[("enwiki", 1)] is None and got[("frwiki", 1)] == 1 and got[("frwiki", 2)] == 2


def test_partitioning_and_pruning(sql_lake):
    table = sql_catalog(sql_lake).load_table(f"{icefix.NS}.{icefix.TABLE}")
    spec = table.spec()
    assert [(f.source_id, f.field_id, f.name, str(f.transform)) for f in spec.fields] == [
        (1, 1000, "_db", "identity")]
    assert table.metadata.last_partition_id == 1000
    tasks = list(table.scan(row_filter="_db == 'frwiki'").plan_files())
    assert [Path(t.file.file_path).name for t in tasks] == ["d.parquet"]
    assert {t.file.partition[0] for t in table.scan().plan_files()} == {"enwiki", "frwiki"}
    rows = table.scan(row_filter="page_id >= 6").to_arrow().to_pylist()
    assert sorted(r["page_id"] for r in rows) == [6, 8]


def test_manifest_entries(sql_lake):
    """The overwrite's rewritten manifest marks a DELETED with its original sequence number."""
    table = sql_catalog(sql_lake).load_table(f"{icefix.NS}.{icefix.TABLE}")
    snaps = {s["label"]: s["id"] for s in sql_lake["snapshots"]}
    s3 = table.snapshot_by_id(snaps["s3"])
    entries = []
    for m in s3.manifests(table.io):
        for en in m.fetch_manifest_entry(table.io, discard_deleted=False):
            entries.append((Path(en.data_file.file_path).name, en.status.name,
                            en.sequence_number, en.snapshot_id))
    st = {e[0]: e for e in entries}
    assert st["a.parquet"][1:] == ("DELETED", 1, snaps["s3"])
    assert st["b.parquet"][1:] == ("EXISTING", 1, snaps["s1"])
    assert st["c.parquet"][1:] == ("ADDED", 2, snaps["s2"])
    assert st["a2.parquet"][1:] == ("ADDED", 3, snaps["s3"])
    # metrics from pq_metrics reached the manifest
    df = next(en.data_file for m in s3.manifests(table.io)
              for en in m.fetch_manifest_entry(table.io) if en.data_file.file_path.endswith("a2.parquet"))
    assert df.record_count == 5 and df.null_value_counts[4] == 1 and df.value_counts[2] == 5
    assert df.lower_bounds[2] == (1).to_bytes(8, "little") and df.upper_bounds[2] == (5).to_bytes(8, "little")
    assert df.split_offsets == [4]
    assert df.file_size_in_bytes == Path(df.file_path.replace("file://", "")).stat().st_size


def test_metadata_logs(sql_lake):
    md = json.loads(Path(sql_lake["metadata"].replace("file://", "")).read_text())
    assert md["refs"] == {"main": {"snapshot-id": sql_lake["snapshots"][-1]["id"], "type": "branch"}}
    assert [e["snapshot-id"] for e in md["snapshot-log"]] == [s["id"] for s in sql_lake["snapshots"]]
    assert len(md["metadata-log"]) == 7
    assert md["last-sequence-number"] == 6
    assert md["sort-orders"] == [{"order-id": 0, "fields": []}]
    assert md["properties"]["snapdiff.table"] == "page"


def test_hadoop_catalog_static_table(hadoop_lake):
    tdir = Path(hadoop_lake["warehouse"]) / icefix.NS / icefix.TABLE
    hint = (tdir / "metadata" / "version-hint.text").read_text()
    assert hint == "8"  # no newline: pyiceberg checks isnumeric()
    assert hadoop_lake["metadata"].endswith("/metadata/v8.metadata.json")
    table = StaticTable.from_metadata(str(tdir))
    check_history(table, hadoop_lake)
    table2 = StaticTable.from_metadata(hadoop_lake["metadata"])
    assert table2.metadata.table_uuid == table.metadata.table_uuid


def test_orphans_and_expire(icegen, tmp_path):
    db, wh = tmp_path / "catalog.db", f"file://{tmp_path}/warehouse"
    cat = f"sql:{db}:{wh}"
    out = icefix.run(icegen, "scenario", cat, icefix.NS, icefix.TABLE)
    assert icefix.run(icegen, "orphans", cat, icefix.NS, icefix.TABLE) == []
    junk = icefix.run(icegen, "junk", cat, icefix.NS, icefix.TABLE)
    assert icefix.run(icegen, "orphans", cat, icefix.NS, icefix.TABLE) == [junk]
    res = icefix.run(icegen, "expire", cat, icefix.NS, icefix.TABLE, 2)
    assert res["expired"] == 4 and res["deleted"] > 0
    a = Path(out["files"]["a"].replace("file://", ""))
    b = Path(out["files"]["b"].replace("file://", ""))
    assert not a.exists() and not b.exists()  # only expired snapshots used them
    for k in ("c", "a2", "d"):
        assert Path(out["files"][k].replace("file://", "")).exists()
    table = SqlCatalog("snapdiff", uri=f"sqlite:///{db}", warehouse=wh).load_table("lake.page")
    assert [s.snapshot_id for s in table.metadata.snapshots] == [s["id"] for s in out["snapshots"][-2:]]
    assert scan(table, None) == icefix.expected("s6")
    assert scan(table, out["snapshots"][-2]["id"]) == icefix.expected("s5")
    assert icefix.run(icegen, "orphans", cat, icefix.NS, icefix.TABLE) == [junk]
