"""Shared fixtures for the lake read-back tests: one lakegen build per session."""
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import lakegen  # noqa: E402


@pytest.fixture(scope="session")
def gen(tmp_path_factory):
    if not lakegen.cc_available():
        pytest.fail("no C compiler and no SNAPDIFF_LAKE_GEN")
    return lakegen.build(tmp_path_factory.mktemp("lakegen"))


# ---- Iceberg table layer (tests/lake/test_iceberg_*.py) ----
import icefix  # noqa: E402


@pytest.fixture(scope="session")
def icegen(tmp_path_factory):
    if not lakegen.cc_available():
        pytest.fail("no C compiler and no SNAPDIFF_ICE_GEN")
    return icefix.build(tmp_path_factory.mktemp("icegen"))


@pytest.fixture(scope="session")
def sql_lake(icegen, tmp_path_factory):
    """The icegen history committed through a SQLite SQL catalog."""
    d = tmp_path_factory.mktemp("sqlcat")
    db, wh = d / "catalog.db", f"file://{d}/warehouse"
    out = icefix.run(icegen, "scenario", f"sql:{db}:{wh}", icefix.NS, icefix.TABLE)
    return dict(out, db=str(db), warehouse=wh, dir=d)


@pytest.fixture(scope="session")
def hadoop_lake(icegen, tmp_path_factory):
    """The icegen history committed through a Hadoop (file-system) catalog."""
    d = tmp_path_factory.mktemp("hadoopcat")
    wh = f"{d}/warehouse"
    out = icefix.run(icegen, "scenario", f"hadoop:{wh}", icefix.NS, icefix.TABLE)
    return dict(out, warehouse=wh, dir=d)
