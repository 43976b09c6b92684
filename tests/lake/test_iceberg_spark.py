"""Reads the Iceberg tables lake/iceberg.c commits back with Apache Spark.

Needs pyspark and the iceberg-spark-runtime + sqlite-jdbc jars that
tests/lib/spark.sh installs (skipped without them; SNAPDIFF_REQUIRE_SPARK=1
turns the skip into a failure). One local SparkSession (local[1]) with two
catalogs: `hdp`, a HadoopCatalog over the Hadoop-catalog warehouse, and
`snapdiff`, Iceberg's JdbcCatalog on the very SQLite file snapdiff commits to
(its catalog name must be the iceberg_tables.catalog_name, "snapdiff").
"""
import os
import shutil
import subprocess
from pathlib import Path

import pytest

import icefix

SPARK_SH = icefix.ROOT / "tests" / "lib" / "spark.sh"


def _jars():
    out = subprocess.run([str(SPARK_SH), "--print-jars"], capture_output=True, text=True,
                         check=True).stdout.strip()
    return out.split(",")


def _missing():
    try:
        import pyspark  # noqa: F401
    except ImportError:
        return "pyspark not installed (tests/lib/spark.sh)"
    if not shutil.which("java"):
        return "no java"
    missing = [j for j in _jars() if not Path(j).is_file()]
    return f"missing {missing} (tests/lib/spark.sh)" if missing else None


@pytest.fixture(scope="module")
def spark(sql_lake, hadoop_lake):
    why = _missing()
    if why:
        if os.environ.get("SNAPDIFF_REQUIRE_SPARK"):
            pytest.fail(why)
        pytest.skip(why)
    from pyspark.sql import SparkSession
    iceberg = "org.apache.iceberg.spark.SparkCatalog"
    s = (SparkSession.builder.master("local[1]").appName("snapdiff-lake-test")
         .config("spark.jars", ",".join(_jars()))
         .config("spark.sql.extensions",
                 "org.apache.iceberg.spark.extensions.IcebergSparkSessionExtensions")
         .config("spark.sql.session.timeZone", "UTC")
         .config("spark.ui.enabled", "false")
         .config("spark.sql.shuffle.partitions", "1")
         .config("spark.driver.memory", "1g")
         .config("spark.sql.catalog.hdp", iceberg)
         .config("spark.sql.catalog.hdp.type", "hadoop")
         .config("spark.sql.catalog.hdp.warehouse", hadoop_lake["warehouse"])
         .config("spark.sql.catalog.snapdiff", iceberg)
         .config("spark.sql.catalog.snapdiff.catalog-impl", "org.apache.iceberg.jdbc.JdbcCatalog")
         .config("spark.sql.catalog.snapdiff.uri", f"jdbc:sqlite:{sql_lake['db']}")
         .config("spark.sql.catalog.snapdiff.warehouse", sql_lake["warehouse"])
         .config("spark.sql.catalog.snapdiff.jdbc.schema-version", "V1")
         .getOrCreate())
    s.sparkContext.setLogLevel("ERROR")
    yield s
    s.stop()


def rows(spark, table, snapshot_id=None, evolved=False):
    cols = "_db, page_id, title, len, unix_micros(touched) AS touched"
    if evolved:
        cols += ", ns"
    travel = f" VERSION AS OF {snapshot_id}" if snapshot_id else ""
    got = [r.asDict() for r in spark.sql(f"SELECT {cols} FROM {table}{travel} "
                                         "ORDER BY _db, page_id").collect()]
    return got


def expected(label, evolved):
    out = []
    for r in icefix.expected(label):
        r = dict(r)
        r["touched"] = (r["touched"] - icefix.EPOCH) // icefix.datetime.timedelta(microseconds=1)
        if evolved:
            r.setdefault("ns", None)
        else:
            r.pop("ns", None)
        out.append(r)
    return out


@pytest.mark.parametrize("catalog", ["snapdiff", "hdp"])
def test_spark_time_travel(spark, sql_lake, hadoop_lake, catalog):
    lake = sql_lake if catalog == "snapdiff" else hadoop_lake
    table = f"{catalog}.{icefix.NS}.{icefix.TABLE}"
    assert rows(spark, table, evolved=True) == expected("s6", True)
    for s in lake["snapshots"]:
        evolved = int(s["label"][1:]) >= 5
        # VERSION AS OF reads with the snapshot's schema: no ns before s5
        assert rows(spark, table, s["id"], evolved) == expected(s["label"], evolved), s["label"]


def test_spark_metadata_tables(spark, sql_lake):
    table = f"snapdiff.{icefix.NS}.{icefix.TABLE}"
    snaps = spark.sql(f"SELECT snapshot_id, operation, summary FROM {table}.snapshots "
                      "ORDER BY committed_at").collect()
    assert [r.snapshot_id for r in snaps] == [s["id"] for s in sql_lake["snapshots"]]
    assert [r.operation for r in snaps] == [icefix.SUMMARIES[s["label"]][0]
                                            for s in sql_lake["snapshots"]]
    assert snaps[0].summary["snapdiff.run-id"] == "run-1"
    files = spark.sql(f"SELECT content, file_path, record_count FROM {table}.files").collect()
    assert sorted((r.content, Path(r.file_path).name, r.record_count) for r in files) == [
        (0, "a2.parquet", 5), (0, "c.parquet", 3), (0, "d.parquet", 2),
        (1, "deletes-1.parquet", 1)]
    parts = spark.sql(f"SELECT partition._db AS db, record_count FROM {table}.partitions "
                      "ORDER BY db").collect()
    assert [(r.db, r.record_count) for r in parts] == [("enwiki", 8), ("frwiki", 2)]
