"""Iceberg manifests and manifest lists from lake/avro.c read back by fastavro
and by pyiceberg, and a whole (unpartitioned) table scanned by pyiceberg.

lakegen's "table" mode writes a Parquet data file, its manifest (metrics
taken from the Parquet writer), a partitioned sample manifest and the
manifest list; the metadata JSON is written here, since producing it is not
the file writers' job.
"""
import importlib
import json
import os
import time
import uuid

import pytest

import lakegen

fastavro = importlib.import_module("fastavro")

ROWS = 3000


@pytest.fixture(scope="module", params=["null", "deflate"])
def table_dir(request, gen, tmp_path_factory):
    d = tmp_path_factory.mktemp(f"table-{request.param}")
    (d / "data").mkdir()
    (d / "metadata").mkdir()
    meta = lakegen.run(gen, "table", d, request.param, ROWS)
    return request.param, d, meta


def read(path):
    with open(path, "rb") as f:
        r = fastavro.reader(f)
        return r.metadata, json.loads(r.metadata["avro.schema"]), list(r)


def walk_fields(schema, out):
    """Collects (record name, field) pairs and asserts ids on arrays."""
    if isinstance(schema, list):
        assert len(schema) == 2 and schema[0] == "null"
        walk_fields(schema[1], out)
    elif isinstance(schema, dict):
        if schema["type"] == "record":
            for f in schema["fields"]:
                out.append((schema["name"], f))
                walk_fields(f["type"], out)
        elif schema["type"] == "array":
            if schema.get("logicalType") != "map":
                assert isinstance(schema["element-id"], int)
            walk_fields(schema["items"], out)


def test_manifest_list(table_dir):
    codec, d, meta = table_dir
    md, schema, recs = read(d / "metadata" / "snap-1.avro")
    assert os.path.getsize(d / "metadata" / "snap-1.avro") == meta["list_size"]
    assert md["avro.codec"] == codec
    assert md["snapshot-id"] == "1"
    assert md["parent-snapshot-id"] == "null"
    assert md["sequence-number"] == "1"
    assert md["format-version"] == "2"
    assert schema["name"] == "manifest_file"
    fields = []
    walk_fields(schema, fields)
    ids = {f["name"]: f["field-id"] for rec, f in fields if rec == "manifest_file"}
    assert list(ids.values()) == [500, 501, 502, 517, 515, 516, 503, 504, 505, 506, 512, 513,
                                  514, 507, 519]
    assert {rec for rec, _ in fields} == {"manifest_file", "r508"}
    assert len(recs) == 1
    e = recs[0]
    assert e["manifest_path"] == f"file://{d}/metadata/manifest-0.avro"
    assert e["manifest_length"] == meta["manifest_size"]
    assert e["manifest_length"] == os.path.getsize(d / "metadata" / "manifest-0.avro")
    assert e["added_rows_count"] == ROWS
    assert e["partitions"] == []
    assert e["key_metadata"] is None


def test_manifest(table_dir):
    codec, d, meta = table_dir
    md, schema, recs = read(d / "metadata" / "manifest-0.avro")
    assert md["avro.codec"] == codec
    assert md["format-version"] == "2"
    assert md["content"] == "data"
    assert md["partition-spec"] == "[]"
    assert md["partition-spec-id"] == "0"
    assert md["schema-id"] == "0"
    table_schema = json.loads(md["schema"])
    assert table_schema["type"] == "struct"
    assert len(table_schema["fields"]) == 2 * lakegen.ICEBERG_KINDS
    fields = []
    walk_fields(schema, fields)
    assert all(isinstance(f["field-id"], int) for _, f in fields)
    # r102 is empty for an unpartitioned spec, so it owns no field
    assert '"name":"r102","fields":[]' in md["avro.schema"]
    names = {rec for rec, _ in fields} | {"r102"}
    assert names == {"manifest_entry", "r2", "r102", "k117_v118", "k119_v120", "k121_v122",
                     "k138_v139", "k126_v127", "k129_v130"}
    r2 = [f["field-id"] for rec, f in fields if rec == "r2"]
    assert r2 == [134, 100, 101, 102, 103, 104, 108, 109, 110, 137, 125, 128, 131, 132, 135,
                  140, 143]
    assert len(recs) == 1
    e = recs[0]
    assert (e["status"], e["snapshot_id"], e["sequence_number"],
            e["file_sequence_number"]) == (1, None, None, None)
    df = e["data_file"]
    pq_meta = meta["parquet"]
    assert df["file_path"] == f"file://{d}/data/data-0.parquet"
    assert df["file_format"] == "PARQUET"
    assert df["partition"] == {}
    assert df["record_count"] == ROWS
    assert df["file_size_in_bytes"] == pq_meta["file_size"]
    assert df["file_size_in_bytes"] == os.path.getsize(d / "data" / "data-0.parquet")
    assert df["split_offsets"] == pq_meta["split_offsets"]
    names = lakegen.column_names(lakegen.ICEBERG_KINDS)
    cols = pq_meta["columns"]
    assert {x["key"]: x["value"] for x in df["value_counts"]} == {
        i + 1: cols[n]["values"] for i, n in enumerate(names)}
    assert {x["key"]: x["value"] for x in df["null_value_counts"]} == {
        i + 1: cols[n]["nulls"] for i, n in enumerate(names)}
    assert {x["key"]: x["value"] for x in df["column_sizes"]} == {
        i + 1: cols[n]["size"] for i, n in enumerate(names)}
    assert {x["key"] for x in df["nan_value_counts"]} == {7, 8, 9, 10}
    assert {x["key"]: x["value"].hex() for x in df["lower_bounds"]} == {
        i + 1: cols[n]["lower"] for i, n in enumerate(names)}
    assert {x["key"]: x["value"].hex() for x in df["upper_bounds"]} == {
        i + 1: cols[n]["upper"] for i, n in enumerate(names)}
    assert df["sort_order_id"] == 0
    assert df["equality_ids"] is None and df["referenced_data_file"] is None


def test_partitioned_manifest(table_dir):
    codec, d, meta = table_dir
    md, schema, recs = read(d / "metadata" / "manifest-part.avro")
    assert json.loads(md["partition-spec"])[0]["field-id"] == 1000
    fields = []
    walk_fields(schema, fields)
    part = [(f["name"], f["field-id"], f["type"]) for rec, f in fields if rec == "r102"]
    assert part == [("ts_day", 1000, ["null", {"type": "int", "logicalType": "date"}]),
                    ("id_bucket", 1001, ["null", "int"])]
    assert [r["data_file"]["partition"] for r in recs] == [
        {"ts_day": lakegen.datetime.date(2023, 12, 9), "id_bucket": 3},
        {"ts_day": lakegen.datetime.date(2023, 12, 10), "id_bucket": None}]
    assert [r["status"] for r in recs] == [1, 0]
    assert [r["snapshot_id"] for r in recs] == [42, 43]


def write_metadata(d):
    with open(d / "metadata" / "manifest-0.avro", "rb") as f:
        schema = json.loads(fastavro.reader(f).metadata["schema"])
    now = int(time.time() * 1000)
    md = {
        "format-version": 2, "table-uuid": str(uuid.uuid4()), "location": f"file://{d}",
        "last-sequence-number": 1, "last-updated-ms": now,
        "last-column-id": len(schema["fields"]), "schemas": [schema], "current-schema-id": 0,
        "partition-specs": [{"spec-id": 0, "fields": []}], "default-spec-id": 0,
        "last-partition-id": 999, "sort-orders": [{"order-id": 0, "fields": []}],
        "default-sort-order-id": 0, "current-snapshot-id": 1,
        "snapshots": [{"snapshot-id": 1, "sequence-number": 1, "timestamp-ms": now,
                       "manifest-list": f"file://{d}/metadata/snap-1.avro",
                       "summary": {"operation": "append"}, "schema-id": 0}],
        "refs": {"main": {"snapshot-id": 1, "type": "branch"}},
    }
    path = d / "metadata" / "v1.metadata.json"
    path.write_text(json.dumps(md))
    return str(path)


def test_pyiceberg_scan(table_dir):
    importlib.import_module("pyiceberg")
    from pyiceberg.expressions import EqualTo, GreaterThan, LessThan
    from pyiceberg.table import StaticTable
    codec, d, meta = table_dir
    t = StaticTable.from_metadata(write_metadata(d))
    tasks = list(t.scan().plan_files())
    assert len(tasks) == 1
    assert tasks[0].file.file_size_in_bytes == meta["parquet"]["file_size"]
    table = t.scan().to_arrow()
    expected = lakegen.expected_columns(ROWS, lakegen.ICEBERG_KINDS)
    for name, want in expected.items():
        got = table.column(name).to_pylist()
        norm = [v.bytes if isinstance(v, uuid.UUID) else v for v in got]
        want = [v.bytes if isinstance(v, uuid.UUID) else v for v in want]
        assert norm == want, name
    # manifest bounds decide whether the file is read at all
    for name in ("int_req", "long_opt", "string_req", "dec38_req", "date_opt", "tstz_req",
                 "double_req", "binary_opt"):
        vals = [v for v in expected[name] if v is not None]
        lo, hi = min(vals), max(vals)
        if isinstance(lo, bytes):
            continue  # pyiceberg's expression parser has no bytes literals
        for v in (lo, hi):
            q = v if isinstance(v, (int, float)) else (
                v.isoformat() if hasattr(v, "isoformat") else str(v))
            assert len(list(t.scan(row_filter=EqualTo(name, q)).plan_files())) == 1, (name, v)
        if isinstance(hi, int) and not isinstance(hi, bool):
            assert list(t.scan(row_filter=GreaterThan(name, hi)).plan_files()) == [], name
            assert list(t.scan(row_filter=LessThan(name, lo)).plan_files()) == [], name


def test_pyiceberg_manifest_reader(table_dir):
    importlib.import_module("pyiceberg")
    from pyiceberg.io.pyarrow import PyArrowFileIO
    from pyiceberg.manifest import ManifestContent, ManifestFile, read_manifest_list
    codec, d, meta = table_dir
    io = PyArrowFileIO()
    lists = list(read_manifest_list(io.new_input(f"file://{d}/metadata/snap-1.avro")))
    assert len(lists) == 1 and lists[0].manifest_length == meta["manifest_size"]
    mf = ManifestFile.from_args(
        manifest_path=f"file://{d}/metadata/manifest-part.avro",
        manifest_length=meta["part_manifest_size"], partition_spec_id=1,
        content=ManifestContent.DATA, sequence_number=7, min_sequence_number=7,
        added_snapshot_id=42)
    entries = mf.fetch_manifest_entry(io, discard_deleted=False)
    assert [e.data_file.partition[0] for e in entries] == [19700, 19701]
    assert [e.data_file.partition[1] for e in entries] == [3, None]
    assert [e.snapshot_id for e in entries] == [42, 43]
