"""pytest fixtures for snapdiff's integration tests (helpers live in sdtest.py).

  mariadb      (session) a throwaway MariaDB started with tests/lib/mariadb.sh in a
               temporary directory and stopped at the end; an sdtest.MariaDB:
               .socket .port .password_file, .sql(query, db=None, args=None),
               .create_db(name, fixture="mediawiki.sql"), .load_wiki(db, pages, ...),
               .wiki(db) for wikiload actions, .source() for a config's `source:`.
               If it cannot start, every test using it FAILS (it is never skipped).
  db_name      (function) a database name unique to the test, e.g. "t_test_edit_3"
  wikidb       (function) db_name with a small wiki loaded (40 pages x 3 revisions, seed 1)
  snapdiff     (function) run_snapdiff bound to the test's tmp_path (so consecutive
               runs in one test share the state): snapdiff(config, "run", ...)
"""

import re
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import sdtest  # noqa: E402
from sdtest import MariaDB, run_snapdiff  # noqa: E402,F401

_counter = [0]


@pytest.fixture(scope="session")
def mariadb(tmp_path_factory):
    d = tmp_path_factory.mktemp("mariadb")
    server = MariaDB.start(d)  # raises (the test errors) if the server cannot start
    sdtest.current_server = server
    try:
        yield server
    finally:
        sdtest.current_server = None
        server.stop()


@pytest.fixture
def db_name(request):
    _counter[0] += 1
    base = re.sub(r"[^A-Za-z0-9_]", "_", request.node.name)[:40]
    return f"t_{base}_{_counter[0]}"


@pytest.fixture
def wikidb(mariadb, db_name):
    mariadb.load_wiki(db_name, pages=40, revs_per_page=3, seed=1)
    return db_name


@pytest.fixture
def snapdiff(mariadb, tmp_path):
    def run(config, *args, **kw):
        kw.setdefault("workdir", tmp_path)
        kw.setdefault("mariadb", mariadb)
        return run_snapdiff(config, *args, **kw)
    return run
