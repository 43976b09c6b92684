"""The Airflow DAGs in airflow-dags/: structure and conventions (DagBag, tags,
retries, pools, mapping, an AST check that module scope only builds DAGs),
the exit-code contract of snapdiff_dags.runner (with a stand-in binary), and
`dag.test()` of both DAGs against the throwaway MariaDB with the real snapdiff
binary, checking the state and the events they produced.
"""
import ast
import json
import os
import subprocess
import time
from pathlib import Path

import pytest

import sdtest
from conftest import DAGS

DAG_FILES = sorted(p for p in DAGS.glob("*.py"))
APPROVED_TAGS = {"snapdiff", "mediawiki", "verification"}
POOL = "snapdiff_mariadb"


@pytest.fixture(scope="module")
def dagbag():
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(str(DAGS))


def test_dagbag_has_no_import_errors(dagbag):
    assert dagbag.import_errors == {}
    assert set(dagbag.dag_ids) == {"snapdiff_mirror", "snapdiff_full_verify"}


def test_dags_follow_the_conventions(dagbag):
    for dag_id in dagbag.dag_ids:
        dag = dagbag.dags[dag_id]
        assert dag.tags and set(dag.tags) <= APPROVED_TAGS, dag.tags
        assert dag.catchup is False
        assert dag.max_active_runs == 1
        assert dag.start_date.utcoffset().total_seconds() == 0
        assert dag.schedule is not None
        for t in dag.tasks:
            assert t.retries >= 2, (dag_id, t.task_id)
            assert t.execution_timeout is not None, (dag_id, t.task_id)
        runs = [t for t in dag.tasks if t.task_id in ("run_table", "verify_table")]
        assert len(runs) == 1
        run = runs[0]
        assert run.pool == POOL
        assert run.max_active_tis_per_dag
        # the cross product of wikis x tables, mapped at run time
        assert type(run).__name__.endswith("MappedOperator")
        assert set(run.upstream_task_ids) == {"wikis", "tables"}
        assert run.downstream_task_ids == {"report"}
        assert dag.get_task("report").trigger_rule == "none_failed"


def test_full_verify_passes_full(dagbag):
    run = dagbag.dags["snapdiff_full_verify"].get_task("verify_table")
    assert run.partial_kwargs["op_kwargs"]["full"] is True
    run = dagbag.dags["snapdiff_mirror"].get_task("run_table")
    assert run.partial_kwargs["op_kwargs"]["full"] is False


# Module scope may import, assign constants (literals, os.environ.get, datetime and
# timedelta calls, dicts of those), define functions and call a @dag function.
ALLOWED_CALLS = {"os.environ.get", "datetime", "timedelta", "timezone", "Param"}


def _call_name(node):
    f = node.func
    parts = []
    while isinstance(f, ast.Attribute):
        parts.append(f.attr)
        f = f.value
    if isinstance(f, ast.Name):
        parts.append(f.id)
    return ".".join(reversed(parts))


def _cheap(node, dag_funcs):
    for sub in ast.walk(node):
        if isinstance(sub, ast.Call):
            name = _call_name(sub)
            if name not in ALLOWED_CALLS and name not in dag_funcs:
                return name
    return None


@pytest.mark.parametrize("path", DAG_FILES, ids=lambda p: p.name)
def test_module_scope_only_builds_dags(path):
    tree = ast.parse(path.read_text(), str(path))
    dag_funcs = {n.name for n in tree.body if isinstance(n, ast.FunctionDef)
                 and any(_call_name(d) == "dag" if isinstance(d, ast.Call) else
                         getattr(d, "id", None) == "dag" for d in n.decorator_list)}
    assert dag_funcs, "no @dag function"
    called = set()
    for node in tree.body:
        if isinstance(node, (ast.Import, ast.ImportFrom, ast.FunctionDef)):
            if isinstance(node, ast.FunctionDef):
                for d in node.decorator_list:       # @dag(...) arguments are module scope
                    bad = _cheap(d, dag_funcs | {"dag"})
                    assert bad is None, f"{path.name}:{node.lineno}: {bad}() in a decorator"
            continue
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            continue        # docstring
        if isinstance(node, ast.If) and "__main__" in ast.unparse(node.test):
            continue        # `python file.py` runs dag.test()
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Call) \
                and _call_name(node.value) in dag_funcs:
            called.add(_call_name(node.value))
            continue
        if isinstance(node, (ast.Assign, ast.AnnAssign)):
            bad = _cheap(node, dag_funcs)
            assert bad is None, f"{path.name}:{node.lineno}: {bad}() at module scope"
            continue
        raise AssertionError(f"{path.name}:{node.lineno}: {type(node).__name__} at module scope")
    assert called == dag_funcs, "every @dag function is called once"
    assert "Variable" not in {n.id for n in ast.walk(ast.Module(body=[
        n for n in tree.body if not isinstance(n, ast.FunctionDef)], type_ignores=[]))
        if isinstance(n, ast.Name)}


def test_parsing_reads_no_variables(monkeypatch):
    """Variable.get raising at import time would show up as an import error."""
    import airflow.sdk
    from airflow.dag_processing.dagbag import DagBag

    def boom(*a, **k):
        raise AssertionError("Variable.get at import time")

    monkeypatch.setattr(airflow.sdk.Variable, "get", staticmethod(boom))
    t0 = time.monotonic()
    bag = DagBag(str(DAGS))
    assert bag.import_errors == {}
    assert time.monotonic() - t0 < 10


# ---------------------------------------------------------------------------
# snapdiff_dags.runner with a stand-in binary

FAKE = """#!/bin/sh
python3 - "$@" <<'PY'
import json, os, sys
json.dump({"argv": sys.argv[1:], "env": {k: v for k, v in os.environ.items()
           if k.startswith("SNAPDIFF_") or k == "PW_ENV"}}, open(os.environ["FAKE_OUT"], "w"))
PY
echo "some log line" >&2
echo '{"status":"x","rows_scanned":3,"inserted":1,"updated":0,"deleted":0,"error":"why","tables":[]}'
exit $FAKE_EXIT
"""


@pytest.fixture
def fake_run(tmp_path, monkeypatch):
    from datetime import datetime, timezone

    import airflow.sdk
    from snapdiff_dags import runner

    binary = tmp_path / "fake-snapdiff"
    binary.write_text(FAKE)
    binary.chmod(0o755)
    out = tmp_path / "out.json"
    monkeypatch.setenv("FAKE_OUT", str(out))
    ctx = {"params": {"bin": str(binary), "config": "/x/snapdiff.yaml", "wikis": ["w"],
                      "tables": ["t"], "conn_id": "c", "password_env": "PW_ENV"},
           "data_interval_start": datetime(2026, 1, 2, 3, 0, tzinfo=timezone.utc),
           "data_interval_end": datetime(2026, 1, 2, 3, 15, tzinfo=timezone.utc),
           "run_id": "scheduled__2026-01-02T03:00:00+00:00; rm -rf /"}
    monkeypatch.setattr(airflow.sdk, "get_current_context", lambda: ctx)
    monkeypatch.setattr(runner, "_source_password", lambda conn_id: "pw-from-connection")

    def run(code, **kw):
        monkeypatch.setenv("FAKE_EXIT", str(code))
        try:
            return runner.run_snapdiff("w", "t", **kw)
        finally:
            run.seen = json.loads(out.read_text()) if out.exists() else None
    return run


def test_runner_success_returns_the_summary(fake_run):
    s = fake_run(0, full=True)
    assert s["rows_scanned"] == 3
    seen = fake_run.seen
    assert seen["argv"] == ["run", "--config", "/x/snapdiff.yaml", "--db", "w", "--table", "t", "--full"]
    env = seen["env"]
    # the window and the run identity travel in the environment, verbatim
    assert env["SNAPDIFF_WINDOW_START"] == "2026-01-02T03:00:00+00:00"
    assert env["SNAPDIFF_WINDOW_END"] == "2026-01-02T03:15:00+00:00"
    assert env["SNAPDIFF_AIRFLOW_RUN_ID"] == "scheduled__2026-01-02T03:00:00+00:00; rm -rf /"
    assert env["PW_ENV"] == "pw-from-connection"


def test_runner_exit_99_skips(fake_run):
    from airflow.sdk.exceptions import AirflowSkipException

    with pytest.raises(AirflowSkipException):
        fake_run(99)


@pytest.mark.parametrize("code", [2, 3, 7, 8, 9])
def test_runner_permanent_codes_fail_without_retry(fake_run, code):
    from airflow.sdk.exceptions import AirflowFailException

    with pytest.raises(AirflowFailException, match=f"exit {code}.*why"):
        fake_run(code)


@pytest.mark.parametrize("code", [1, 4, 5, 6, 10])
def test_runner_other_codes_are_retried(fake_run, code):
    from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

    with pytest.raises(Exception) as ei:
        fake_run(code)
    assert not isinstance(ei.value, (AirflowFailException, AirflowSkipException))
    assert f"exit {code}" in str(ei.value)


def test_runner_missing_binary_fails_fast(fake_run, monkeypatch):
    import airflow.sdk
    from airflow.sdk.exceptions import AirflowFailException

    ctx = airflow.sdk.get_current_context()
    ctx["params"]["bin"] = "/nonexistent/snapdiff"
    with pytest.raises(AirflowFailException):
        fake_run(0)


def test_parse_summary_and_totals():
    from snapdiff_dags import runner

    assert runner.parse_summary(b'{"op":"insert"}\nnoise\n{"rows_scanned": 2}\n\n') == {"rows_scanned": 2}
    assert runner.parse_summary(b"nothing\n") is None
    t = runner.totals([{"rows_scanned": 2, "inserted": 1}, None, {"rows_scanned": 3, "deleted": 4}])
    assert t["rows_scanned"] == 5 and t["inserted"] == 1 and t["deleted"] == 4 and t["tables"] == 2


# ---------------------------------------------------------------------------
# dag.test() against MariaDB with the real binary


def _xcoms(dag_id, run_id, task_id):
    from sqlalchemy import select

    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as s:
        rows = s.scalars(select(XComModel).where(XComModel.dag_id == dag_id,
                                                 XComModel.run_id == run_id,
                                                 XComModel.task_id == task_id,
                                                 XComModel.key == "return_value")).all()
        return {r.map_index: XComModel.deserialize_value(r) for r in rows}


def _status(binary, config):
    p = subprocess.run([binary, "status", "--config", str(config), "--json"], capture_output=True,
                       text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert p.returncode == 0, p.stderr
    return {(r["db"], r["table"]): r for r in map(json.loads, filter(str.strip, p.stdout.splitlines()))}


def _events(path):
    return [json.loads(ln) for ln in path.read_text().splitlines() if ln.strip()] if path.exists() else []


@pytest.fixture
def wiki_env(airflow_db, mariadb, snapdiff_bin, tmp_path, monkeypatch):
    """Two small wikis, a snapdiff config whose password comes from an Airflow
    Connection (through the env var it names), and the Variables pointing at it."""
    wikis = ["af_wiki_a", "af_wiki_b"]
    for i, w in enumerate(wikis):
        mariadb.load_wiki(w, pages=25, revs_per_page=2, seed=10 + i)
    src = mariadb.source()
    src.pop("password_file")
    src["password_env"] = "AF_TEST_SNAPDIFF_PASSWORD"
    events = tmp_path / "events.jsonl"
    config = sdtest.write_config({"source": src, "databases": wikis, "tables": ["page", "revision"],
                                  "sinks": [{"type": "jsonl", "path": str(events)}]}, tmp_path)
    monkeypatch.setenv("AIRFLOW_VAR_SNAPDIFF_BIN", snapdiff_bin)
    monkeypatch.setenv("AIRFLOW_VAR_SNAPDIFF_CONFIG", str(config))
    monkeypatch.setenv("AIRFLOW_VAR_SNAPDIFF_WIKIS", json.dumps(wikis))
    monkeypatch.setenv("AIRFLOW_VAR_SNAPDIFF_TABLES", json.dumps(["page", "revision"]))
    monkeypatch.setenv("AIRFLOW_VAR_SNAPDIFF_PASSWORD_ENV", "AF_TEST_SNAPDIFF_PASSWORD")
    monkeypatch.setenv("AIRFLOW_CONN_SNAPDIFF_SOURCE",
                       json.dumps({"conn_type": "mysql", "host": "127.0.0.1", "login": "snapdiff",
                                   "password": mariadb.password}))
    monkeypatch.delenv("AF_TEST_SNAPDIFF_PASSWORD", raising=False)
    return {"wikis": wikis, "config": config, "events": events, "bin": snapdiff_bin}


def _run_dag(dagbag, dag_id):
    dag = dagbag.dags[dag_id]
    dr = dag.test()
    tis = {(ti.task_id, ti.map_index): ti for ti in dr.get_task_instances()}
    return dr, tis


def test_mirror_and_full_verify_dags_against_mariadb(dagbag, wiki_env, mariadb):
    wikis, config, events = wiki_env["wikis"], wiki_env["config"], wiki_env["events"]
    counts = {(w, t): mariadb.sql(f"SELECT COUNT(*) FROM `{t}`", db=w)[0][0]
              for w in wikis for t in ("page", "revision")}

    t0 = time.monotonic()
    dr, tis = _run_dag(dagbag, "snapdiff_mirror")
    print(f"snapdiff_mirror dag.test(): {time.monotonic() - t0:.1f}s")
    runs = {k: ti for k, ti in tis.items() if k[0] == "run_table"}
    assert dr.state == "success", {k: ti.state for k, ti in tis.items()}
    assert len(runs) == 4 and all(ti.state == "success" and ti.try_number == 1 for ti in runs.values())
    assert {ti.rendered_map_index for ti in runs.values()} == {f"{w}.{t}" for w, t in counts}

    # the summaries are the mapped tasks' XComs, the report adds them up
    xs = _xcoms("snapdiff_mirror", dr.run_id, "run_table")
    by_table = {(x["tables"][0]["db"], x["tables"][0]["table"]): x for x in xs.values()}
    assert set(by_table) == set(counts)
    for key, n in counts.items():
        assert by_table[key]["status"] == "ok" and by_table[key]["inserted"] == n
    report = _xcoms("snapdiff_mirror", dr.run_id, "report")[-1]
    assert report["tables"] == 4 and report["inserted"] == sum(counts.values())

    # the state and the events it produced
    st = _status(wiki_env["bin"], config)
    for key, n in counts.items():
        assert st[key]["rows"] == n and st[key]["generation"] == 1
    ev = _events(events)
    for (w, t), n in counts.items():
        assert len([e for e in ev if e.get("db", w) == w and e["table"] == t and e["op"] == "insert"
                    and (e.get("db") == w or e.get("database") == w)]) == n

    # an edit, then the daily full verification: it re-reads everything and
    # emits exactly the one change
    wk = mariadb.wiki(wikis[0])
    sdtest.wikiload.edit_page(wk)
    wk.conn.close()
    before = len(_events(events))
    dr, tis = _run_dag(dagbag, "snapdiff_full_verify")
    assert dr.state == "success", {k: ti.state for k, ti in tis.items()}
    xs = _xcoms("snapdiff_full_verify", dr.run_id, "verify_table")
    assert len(xs) == 4
    for x in xs.values():
        assert x["chunks_skipped"] == 0      # --full: nothing skipped by checksum
    new = _events(events)[before:]
    assert any(e["op"] == "update" and e["table"] == "page" for e in new), new
    st = _status(wiki_env["bin"], config)
    assert st[(wikis[0], "page")]["generation"] == 2
    assert st[(wikis[0], "revision")]["rows"] == counts[(wikis[0], "revision")] + 1


def test_mirror_dag_maps_exit_codes_in_airflow(dagbag, wiki_env, monkeypatch, tmp_path):
    """In a real dag.test(): exit 99 (the table's lock is held elsewhere) skips the
    instance and the DAG run still succeeds; exit 3 (bad configuration) fails the
    instance on its first try, without a retry."""
    import fcntl

    wiki = wiki_env["wikis"][0]
    monkeypatch.setenv("AIRFLOW_VAR_SNAPDIFF_WIKIS", json.dumps([wiki]))
    monkeypatch.setenv("AIRFLOW_VAR_SNAPDIFF_TABLES", json.dumps(["page", "revision"]))
    lockdir = Path(str(tmp_path / "state.db") + ".locks")
    lockdir.mkdir(exist_ok=True)
    with open(lockdir / f"{wiki}.page.lock", "a+") as f:
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        dr, tis = _run_dag(dagbag, "snapdiff_mirror")
    states = {ti.rendered_map_index: ti.state for (tid, _), ti in tis.items() if tid == "run_table"}
    assert states == {f"{wiki}.page": "skipped", f"{wiki}.revision": "success"}, states
    assert dr.state == "success"
    assert tis[("report", -1)].state == "success"

    monkeypatch.setenv("AIRFLOW_VAR_SNAPDIFF_CONFIG", str(tmp_path / "missing.yaml"))
    monkeypatch.setenv("AIRFLOW_VAR_SNAPDIFF_TABLES", json.dumps(["page"]))
    dr, tis = _run_dag(dagbag, "snapdiff_mirror")
    run = [ti for (tid, _), ti in tis.items() if tid == "run_table"]
    assert len(run) == 1 and run[0].state == "failed" and run[0].try_number == 1, \
        [(ti.state, ti.try_number) for ti in run]
    assert dr.state == "failed"
