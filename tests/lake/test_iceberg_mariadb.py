"""The SQL catalog in MariaDB (lake/catalog.c through libmariadb): the same
history as the SQLite tests, committed to a throwaway server started with
tests/lib/mariadb.sh, then read by pyiceberg's SqlCatalog over PyMySQL.
A server that cannot start fails the test (it does not skip)."""
import importlib
import shutil
import subprocess

import pytest

import icefix

MARIADB_SH = icefix.ROOT / "tests" / "lib" / "mariadb.sh"


@pytest.fixture(scope="module")
def mariadb(tmp_path_factory):
    importlib.import_module("pymysql")
    d = tmp_path_factory.mktemp("mariadb")
    res = subprocess.run([str(MARIADB_SH), "start", str(d)], capture_output=True, text=True)
    if res.returncode != 0:
        pytest.fail(f"tests/lib/mariadb.sh start failed:\n{res.stderr}")
    sock = str(d / "mysqld.sock")
    subprocess.run([str(MARIADB_SH), "client", str(d), "-e", "CREATE DATABASE icecat"],
                   check=True, capture_output=True)
    yield sock
    subprocess.run([str(MARIADB_SH), "stop", str(d)], capture_output=True)
    shutil.rmtree(d, ignore_errors=True)


def test_mariadb_catalog(icegen, mariadb, tmp_path):
    importlib.import_module("pyiceberg")
    from pyiceberg.catalog.sql import SqlCatalog
    wh = f"file://{tmp_path}/warehouse"
    out = icefix.run(icegen, "scenario", f"mariadb:{mariadb}:root:icecat:{wh}",
                     icefix.NS, icefix.TABLE)
    assert out["conflict_attempts"] == 2
    cat = SqlCatalog("snapdiff", uri=f"mysql+pymysql://root@localhost/icecat?unix_socket={mariadb}",
                     warehouse=wh)
    table = cat.load_table(f"{icefix.NS}.{icefix.TABLE}")
    assert str(table.metadata_location) == out["metadata"]
    for s in out["snapshots"]:
        rows = table.scan(snapshot_id=s["id"]).to_arrow().to_pylist()
        assert sorted(rows, key=lambda r: (r["_db"], r["page_id"])) == icefix.expected(s["label"])
    assert (icefix.NS, icefix.TABLE) in cat.list_tables(icefix.NS)
