"""Fixtures for the Airflow DAG tests (run by tests/lib/airflow.sh --test, in
the Airflow venv).

The environment is fixed here, before anything imports Airflow: a private
AIRFLOW_HOME (tests/lib/airflow.sh makes one; a temporary one otherwise),
the DAG folder airflow-dags/ (also on sys.path, as Airflow's DAG processor
puts a bundle's folder there), no example DAGs.

  airflow_db   (session) `airflow db migrate` on the private SQLite metadata DB
  mariadb      (session) a throwaway MariaDB (tests/integration/sdtest.py);
               if it cannot start, the tests using it fail, never skip
  snapdiff_bin the binary under test: $SNAPDIFF_BIN or ./snapdiff; it must exist
"""
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DAGS = ROOT / "airflow-dags"

if not os.environ.get("AIRFLOW_HOME"):
    os.environ["AIRFLOW_HOME"] = tempfile.mkdtemp(prefix="snapdiff-airflow-")
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(DAGS)
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ.setdefault("AIRFLOW__LOGGING__LOGGING_LEVEL", "WARNING")
for p in (str(DAGS), str(ROOT / "tests" / "integration")):
    if p not in sys.path:
        sys.path.insert(0, p)

import sdtest  # noqa: E402  (tests/integration/sdtest.py)


@pytest.fixture(scope="session")
def airflow_db():
    p = subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], capture_output=True,
                       text=True, timeout=600, stdin=subprocess.DEVNULL)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    return os.environ["AIRFLOW_HOME"]


@pytest.fixture(scope="session")
def mariadb(tmp_path_factory):
    server = sdtest.MariaDB.start(tmp_path_factory.mktemp("mariadb"))
    sdtest.current_server = server
    try:
        yield server
    finally:
        sdtest.current_server = None
        server.stop()


@pytest.fixture(scope="session")
def snapdiff_bin():
    path = Path(sdtest.snapdiff_bin())
    assert path.is_file() and os.access(path, os.X_OK), \
        f"no snapdiff binary at {path} (build it with make, or set SNAPDIFF_BIN)"
    return str(path)
