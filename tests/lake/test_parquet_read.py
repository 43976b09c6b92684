"""Parquet files from lake/parquet.c read back by pyarrow and DuckDB.

Every kind x REQUIRED/OPTIONAL, every codec, dictionary and PLAIN, several
row groups and pages, a dictionary that overflows into PLAIN mid-chunk:
values must round-trip exactly, field ids must show up as PARQUET:field_id,
footer statistics must be the true per-row-group min/max/null count, and the
writer's Iceberg metrics (sizes, counts, bounds) must agree with the file.
"""
import decimal
import os
import uuid

import pytest

import lakegen

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")

ALL = len(lakegen.KINDS)

# (codec, dictionary, rows, row_group_bytes, page_bytes, dictionary_bytes)
CASES = [
    (codec, dic, 3000, 48 * 1024, 4096, 1 << 20)
    for codec in ("none", "snappy", "zstd") for dic in (0, 1)
] + [
    ("zstd", 1, 4000, 1 << 30, 1 << 20, 1500),   # dictionary falls back to PLAIN
    ("snappy", 1, 1, 0, 0, 0),                   # defaults, one row
    ("none", 1, 0, 0, 0, 0),                     # no rows at all
    ("snappy", 1, 20000, 256 * 1024, 0, 0),      # default page size, larger groups
]


def norm(v):
    # pyarrow >= 18 may give arrow.uuid values as uuid.UUID, older ones as bytes
    return v.bytes if isinstance(v, uuid.UUID) else v


def case_id(c):
    return f"{c[0]}-{'dict' if c[1] else 'plain'}-{c[2]}rows-rg{c[3]}-dict{c[5]}"


@pytest.fixture(scope="module", params=CASES, ids=case_id)
def written(request, gen, tmp_path_factory):
    codec, dic, n, rg, page, dbytes = request.param
    path = tmp_path_factory.mktemp("pq") / f"{case_id(request.param)}.parquet"
    meta = lakegen.run(gen, "parquet", path, codec, dic, n, rg, page, dbytes, ALL)
    return request.param, str(path), meta


def test_values_and_schema(written):
    (codec, dic, n, *_), path, meta = written
    f = pq.ParquetFile(path)
    assert f.metadata.num_rows == n == meta["rows"]
    assert f.metadata.created_by.startswith("snapdiff version 0.1.0 (build ")
    assert f.schema_arrow.metadata[b"iceberg.schema"] == b'{"type":"struct"}'
    names = lakegen.column_names(ALL)
    assert f.schema_arrow.names == names
    for i, field in enumerate(f.schema_arrow):
        assert field.metadata[b"PARQUET:field_id"] == str(i + 1).encode()
        assert field.nullable == (i % 2 == 1)
    types = {fld.name: fld.type for fld in f.schema_arrow}
    assert types["string_req"] == pa.string()
    assert types["binary_req"] == pa.binary()
    assert types["fixed3_req"] == pa.binary(3)
    assert types["dec9_req"] == pa.decimal128(9, 2)
    assert types["dec38_req"] == pa.decimal128(38, 10)
    assert types["date_req"] == pa.date32()
    assert types["time_req"] == pa.time64("us")
    assert types["ts_req"] == pa.timestamp("us")
    assert types["tstz_req"] == pa.timestamp("us", tz="UTC")
    assert types["i8_req"] == pa.int8()
    assert types["u16_req"] == pa.uint16()
    assert types["u32_req"] == pa.uint32()
    assert types["u64_req"] == pa.uint64()
    table = f.read()
    expected = lakegen.expected_columns(n, ALL)
    for name in names:
        got = [norm(v) for v in table.column(name).to_pylist()]
        want = [norm(v) for v in expected[name]]
        assert got == want, name


def test_layout(written):
    (codec, dic, n, rg, *_), path, meta = written
    md = pq.ParquetFile(path).metadata
    assert os.path.getsize(path) == meta["file_size"]
    starts = []
    for g in range(md.num_row_groups):
        col0 = md.row_group(g).column(0)
        starts.append(col0.dictionary_page_offset if col0.has_dictionary_page
                      else col0.data_page_offset)
    assert starts == meta["split_offsets"]
    if rg and rg < (1 << 20) and n >= 3000:
        assert md.num_row_groups > 1
    want_codec = {"none": "UNCOMPRESSED", "snappy": "SNAPPY", "zstd": "ZSTD"}[codec]
    for g in range(md.num_row_groups):
        for c in range(md.num_columns):
            col = md.row_group(g).column(c)
            assert col.compression == want_codec
            assert col.path_in_schema == lakegen.column_names(ALL)[c]
            if dic and not col.physical_type == "BOOLEAN" and col.num_values:
                assert col.has_dictionary_page
                assert "RLE_DICTIONARY" in col.encodings
            if not dic:
                assert not col.has_dictionary_page


# tests that only make sense for some cases are parametrized with those cases
# only, rather than collected for all and skipped
FALLBACK = [c for c in CASES if c[5] == 1500]
WITH_ROWS = [c for c in CASES if c[2] >= 100]


@pytest.mark.parametrize("written", FALLBACK, ids=case_id, indirect=True)
def test_dictionary_fallback(written):
    (codec, dic, n, rg, page, dbytes), path, meta = written
    md = pq.ParquetFile(path).metadata
    # 4000 distinct longs do not fit 1500 bytes: dictionary pages, then PLAIN ones
    col = md.row_group(0).column(lakegen.column_names(ALL).index("long_req"))
    assert col.has_dictionary_page
    assert set(col.encodings) >= {"PLAIN", "RLE_DICTIONARY"}
    # 200 distinct short strings do fit
    col = md.row_group(0).column(lakegen.column_names(ALL).index("boolean_req") + 10)
    assert col.path_in_schema == "string_req"
    assert col.has_dictionary_page


def stat(st, which):
    try:
        return norm(getattr(st, which))
    except pa.ArrowNotImplementedError:
        # pyarrow < 20 cannot convert UUID statistics; the raw bytes are the value
        return getattr(st, which + "_raw")


def same(got, want):
    """pyarrow < 20 gives decimal statistics unscaled (int or big-endian bytes)."""
    if isinstance(want, decimal.Decimal) and not isinstance(got, decimal.Decimal):
        unscaled = int(want.scaleb(-want.as_tuple().exponent))
        if isinstance(got, bytes):
            got = int.from_bytes(got, "big", signed=True)
        return got == unscaled
    return got == want


def test_statistics(written):
    (codec, dic, n, *_), path, meta = written
    f = pq.ParquetFile(path)
    md = f.metadata
    expected = lakegen.expected_columns(n, ALL)
    names = lakegen.column_names(ALL)
    first = 0
    for g in range(md.num_row_groups):
        rows = md.row_group(g).num_rows
        for c, name in enumerate(names):
            vals = [norm(v) for v in expected[name][first:first + rows]]
            present = [v for v in vals if v is not None]
            st = md.row_group(g).column(c).statistics
            assert st is not None and st.has_null_count, name
            assert st.null_count == len(vals) - len(present), name
            assert st.has_min_max == bool(present), name
            if present:
                assert same(stat(st, "min"), min(present)), (g, name)
                assert same(stat(st, "max"), max(present)), (g, name)
        first += rows


@pytest.mark.parametrize("written", WITH_ROWS, ids=case_id, indirect=True)
def test_row_group_pruning(written):
    """pyarrow skips row groups on footer stats: wrong ones lose rows here."""
    (codec, dic, n, *_), path, meta = written
    import pyarrow.compute as pc
    expected = lakegen.expected_columns(n, ALL)
    schema = pq.read_schema(path)
    for name in ("long_req", "string_opt", "dec18_opt", "ts_req", "u64_req", "double_req"):
        for r in (0, n // 3, n - 1):
            v = expected[name][r]
            if v is None:
                continue
            cond = pc.field(name) == pa.scalar(v, type=schema.field(name).type)
            table = pq.read_table(path, columns=[name], filters=cond)
            assert table.num_rows == sum(1 for x in expected[name] if x == v), (name, v)


def test_iceberg_metrics(written):
    (codec, dic, n, *_), path, meta = written
    md = pq.ParquetFile(path).metadata
    expected = lakegen.expected_columns(n, ALL)
    for c, name in enumerate(lakegen.column_names(ALL)):
        m = meta["columns"][name]
        kind = lakegen.KINDS[c // 2]
        vals = expected[name]
        present = [v for v in vals if v is not None]
        assert m["values"] == n
        assert m["nulls"] == n - len(present)
        assert m["nans"] == 0
        assert m["size"] == sum(md.row_group(g).column(c).total_compressed_size
                                for g in range(md.num_row_groups))
        if not present:
            assert "lower" not in m
            continue
        lo = lakegen.decode_bound(kind, bytes.fromhex(m["lower"]))
        hi = lakegen.decode_bound(kind, bytes.fromhex(m["upper"]))
        assert norm(lo) == norm(min(present)), name
        assert norm(hi) == norm(max(present)), name
        if kind.startswith("dec"):
            # minimal two's complement: no redundant leading sign byte
            raw = bytes.fromhex(m["lower"])
            assert len(raw) == 1 or not ((raw[0] == 0 and raw[1] < 0x80) or
                                         (raw[0] == 0xFF and raw[1] >= 0x80))
    if n > 12:
        # -0.0 and +0.0 both occur among doubles only when values span zero
        assert meta["columns"]["double_req"]["lower"] == "00000000000008c0"  # -3.0


def test_duckdb_reads(written):
    duckdb = pytest.importorskip("duckdb")
    (codec, dic, n, *_), path, meta = written
    con = duckdb.connect()
    names = lakegen.column_names(ALL)
    # TIMESTAMPTZ values would need pytz in Python; compare them as epoch micros
    cols = ", ".join(f"epoch_us({c})" if c.startswith("tstz") else c for c in names)
    rows = con.execute(f"SELECT {cols} FROM read_parquet('{path}')").fetchall()
    expected = lakegen.expected_columns(n, ALL)
    assert len(rows) == n
    for c, name in enumerate(names):
        got = [norm(row[c]) for row in rows]
        want = [norm(v) for v in expected[name]]
        if name.startswith("tstz"):
            want = [v and (v - lakegen.EPOCH.replace(tzinfo=lakegen.UTC))
                    // lakegen.datetime.timedelta(microseconds=1) for v in want]
        assert got == want, name
    ids = dict(con.execute(
        f"SELECT name, field_id FROM parquet_schema('{path}') WHERE name <> 'schema'"
    ).fetchall())
    assert ids == {name: i + 1 for i, name in enumerate(names)}
