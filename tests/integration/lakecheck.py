"""lakecheck — helpers for tests/integration/test_lake.py: the rows MariaDB holds,
the rows pyiceberg and Spark read from the lake, all normalised to one
comparable form (docs/lake-types.md is the mapping being checked).

  canon(v)                   one value in comparable form
  mariadb_rows(m, dbs, tbl)  sorted rows of tbl over dbs, with _db first, in the
                             lake's column order, MariaDB values mapped as the lake does
  lake_columns(t)            the mirror's column names (pyiceberg Table)
  iceberg_rows(t, cols, snapshot_id=None)   sorted rows read by pyiceberg
  spark_rows(spark, name, cols, snapshot_id=None)  sorted rows read by Spark SQL
"""
import datetime as dt
import decimal
import os
import shutil
import struct
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SPARK_SH = ROOT / "tests" / "lib" / "spark.sh"
UTC = dt.timezone.utc


def canon(v):
    if v is None:
        return None
    if isinstance(v, (bytes, bytearray, memoryview)):
        return ("b", bytes(v))
    if isinstance(v, bool):
        return ("i", int(v))
    if isinstance(v, int):
        return ("i", v)
    if isinstance(v, float):
        return ("f", repr(v))
    if isinstance(v, decimal.Decimal):
        return ("d", str(v))
    if isinstance(v, dt.datetime):
        if v.tzinfo is not None:
            v = v.astimezone(UTC).replace(tzinfo=None)
        return ("t", v.isoformat())
    if isinstance(v, dt.date):
        return ("date", v.isoformat())
    return ("s", str(v))


def _sort(rows):
    return sorted(rows, key=lambda r: repr(r))


def _mariadb_value(v, ctype, data_type):
    """Maps a PyMySQL value of a column to what the lake stores (docs/lake-types.md)."""
    if v is None:
        return None
    ct = ctype.lower()
    if data_type == "bit":
        n = int.from_bytes(v, "big") if isinstance(v, (bytes, bytearray)) else int(v)
        return n - (1 << 64) if n >= 1 << 63 else n   # BIT(64): the long's bit pattern
    if data_type == "float":
        return struct.unpack("<f", struct.pack("<f", v))[0]
    if data_type == "bigint" and "unsigned" in ct:
        return decimal.Decimal(v)
    if data_type in ("decimal", "numeric"):
        p = int(ct.split("(")[1].split(",")[0].rstrip(")")) if "(" in ct else 10
        if p > 38:
            return format(v, "f")
        return v
    if data_type == "time":
        return (v.days * 86400 + v.seconds) * 1000000 + v.microseconds
    if data_type in ("date", "datetime", "timestamp"):
        if isinstance(v, str):  # zero dates: PyMySQL returns the text
            return None
        return v
    if data_type == "year":
        return int(v)
    if isinstance(v, (bytes, bytearray)):
        return bytes(v)
    return v


def mariadb_rows(m, dbs, tbl, cols):
    """Rows of tbl in every db of dbs, in the lake's column order (cols, which
    includes _db). Columns the source table lacks are None."""
    out = []
    for db in dbs:
        conn = m.connect(db)
        try:
            with conn.cursor() as c:
                c.execute("SET time_zone = '+00:00'")
                c.execute("SELECT COLUMN_NAME, COLUMN_TYPE, DATA_TYPE FROM information_schema.COLUMNS"
                          " WHERE TABLE_SCHEMA=%s AND TABLE_NAME=%s", (db, tbl))
                meta = {r[0]: (r[1], r[2]) for r in c.fetchall()}
                names = [n for n in cols if n in meta]
                c.execute("SELECT " + ",".join(f"`{n}`" for n in names) + f" FROM `{tbl}`")
                for r in c.fetchall():
                    vals = dict(zip(names, r))
                    row = []
                    for n in cols:
                        if n == "_db":
                            row.append(canon(db))
                        elif n in meta:
                            row.append(canon(_mariadb_value(vals[n], *meta[n])))
                        else:
                            row.append(None)
                    out.append(tuple(row))
        finally:
            conn.close()
    return _sort(out)


def lake_columns(t):
    return [f.name for f in t.schema().fields]


def iceberg_rows(t, cols, snapshot_id=None):
    scan = t.scan(snapshot_id=snapshot_id) if snapshot_id else t.scan()
    tab = scan.to_arrow()
    data = {n: (tab.column(n).to_pylist() if n in tab.column_names else [None] * tab.num_rows)
            for n in cols}
    return _sort(tuple(canon(data[n][i]) for n in cols) for i in range(tab.num_rows))


def spark_rows(spark, name, cols, snapshot_id=None):
    q = f"SELECT * FROM {name}" + (f" VERSION AS OF {snapshot_id}" if snapshot_id else "")
    df = spark.sql(q)
    have = set(df.columns)
    out = []
    for r in df.collect():
        d = r.asDict()
        out.append(tuple(canon(d[n]) if n in have else None for n in cols))
    return _sort(out)


def spark_missing():
    try:
        import pyspark  # noqa: F401
    except ImportError:
        return "pyspark not installed (tests/lib/spark.sh)"
    if not shutil.which("java"):
        return "no java"
    missing = [j for j in spark_jars() if not Path(j).is_file()]
    return f"missing {missing} (tests/lib/spark.sh)" if missing else None


def spark_jars():
    out = subprocess.run([str(SPARK_SH), "--print-jars"], capture_output=True, text=True,
                         check=True).stdout.strip()
    return out.split(",")


def spark_session(catalog_db, warehouse):
    """One local SparkSession with the JdbcCatalog `snapdiff` on the SQLite catalog
    (as tests/lake/test_iceberg_spark.py makes it). Timestamps come back in UTC."""
    os.environ["TZ"] = "UTC"
    import time
    time.tzset()
    from pyspark.sql import SparkSession
    iceberg = "org.apache.iceberg.spark.SparkCatalog"
    return (SparkSession.builder.master("local[1]").appName("snapdiff-lake-sink-test")
            .config("spark.jars", ",".join(spark_jars()))
            .config("spark.sql.extensions",
                    "org.apache.iceberg.spark.extensions.IcebergSparkSessionExtensions")
            .config("spark.sql.session.timeZone", "UTC")
            .config("spark.driver.extraJavaOptions", "-Duser.timezone=UTC")
            .config("spark.ui.enabled", "false")
            .config("spark.sql.shuffle.partitions", "1")
            .config("spark.driver.memory", "1g")
            .config("spark.sql.catalog.snapdiff", iceberg)
            .config("spark.sql.catalog.snapdiff.catalog-impl", "org.apache.iceberg.jdbc.JdbcCatalog")
            .config("spark.sql.catalog.snapdiff.uri", f"jdbc:sqlite:{catalog_db}")
            .config("spark.sql.catalog.snapdiff.warehouse", warehouse)
            .config("spark.sql.catalog.snapdiff.jdbc.schema-version", "V1")
            .getOrCreate())


def spark_read_all(catalog_db, warehouse, jobs, timeout=600):
    """Runs one SparkSession in a child process (so the JVM, and its hold on the
    SQLite catalog, is gone afterwards) and returns, for each job
    (table name, snapshot id or None, cols), the sorted canonical rows."""
    import pickle
    import sys
    import tempfile
    with tempfile.TemporaryDirectory() as d:
        inp, out = Path(d) / "in.pickle", Path(d) / "out.pickle"
        inp.write_bytes(pickle.dumps((catalog_db, warehouse, jobs)))
        p = subprocess.run([sys.executable, __file__, str(inp), str(out)], capture_output=True,
                           text=True, timeout=timeout)
        if p.returncode != 0:
            raise RuntimeError(f"spark child failed:\n{p.stderr[-4000:]}")
        return pickle.loads(out.read_bytes())


if __name__ == "__main__":
    import pickle
    import sys
    catalog_db, warehouse, jobs = pickle.loads(Path(sys.argv[1]).read_bytes())
    spark = spark_session(catalog_db, warehouse)
    try:
        res = [spark_rows(spark, name, cols, snapshot_id=snap) for name, snap, cols in jobs]
    finally:
        spark.stop()
    Path(sys.argv[2]).write_bytes(pickle.dumps(res))
