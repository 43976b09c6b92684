"""The scheduler daemon (`snapdiff scheduler`), end to end.

Two kinds of child runs:
  - the real `snapdiff run` against the throwaway MariaDB (scheduled runs,
    HTTP trigger, /metrics checked against the state and the source);
  - a fake runner script (the hidden --run-command option) where a fault has
    to be provoked on purpose: a child that hangs, ignores SIGTERM, crashes,
    exits 99 or a permanent code. The script logs each call and reads its
    behaviour from a file the test rewrites, so one daemon can see a crash and
    then a success.

Every wait is bounded; a daemon left running by a failed test is killed in
the fixture's teardown.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import sdtest  # noqa: E402

FAKE_RUNNER = r"""#!/bin/bash
# fake `snapdiff run`: run --config F --db D --table T
db="$5"; table="$7"
dir="$FAKE_DIR"
echo "start $db $table $$ $(date +%s.%N)" >> "$dir/calls.log"
behaviour="ok"
[[ -f "$dir/behaviour" ]] && behaviour="$(cat "$dir/behaviour")"
summary() {
  printf '{"status":"%s","rows_scanned":%d,"chunks":1,"chunks_skipped":0,"inserted":%d,"updated":0,"deleted":0,"bytes_read":0,"seconds":0.1,"tables":[{"db":"%s","table":"%s","run_id":"%s.%s.fake","status":"%s","error":%s}]}\n' \
    "$1" "$2" "$3" "$db" "$table" "$db" "$table" "$1" "$4"
}
case "$behaviour" in
  ok)        sleep "${FAKE_SLEEP:-0.2}"; summary ok 10 2 null ;;
  slow)      sleep 1.5; summary ok 10 2 null ;;
  hang)      exec sleep 60 ;;
  stubborn)  trap '' TERM; echo "ready $db $table $$ $(date +%s.%N)" >> "$dir/calls.log"
             sleep 60 & wait; sleep 60 ;;
  busy)      summary skipped 0 0 '"busy"'; exit 99 ;;
  schema)    summary error 0 0 '"no primary key"'; exit 8 ;;
  source)    summary error 0 0 '"lost connection"'; exit 4 ;;
esac
echo "end $db $table $$ $(date +%s.%N)" >> "$dir/calls.log"
"""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def parse_metrics(text):
    """{(name, frozenset(labels.items())): value} from the Prometheus text format."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        head, value = line.rsplit(" ", 1)
        labels = {}
        if "{" in head:
            name, rest = head.split("{", 1)
            for part in rest.rstrip("}").split('",'):
                if not part:
                    continue
                k, v = part.split("=", 1)
                labels[k] = v.strip('"')
        else:
            name = head
        out[(name, frozenset(labels.items()))] = float(value)
    return out


def metric(m, name, **labels):
    return m.get((name, frozenset(labels.items())))


class Daemon:
    def __init__(self, workdir, mariadb=None):
        self.workdir = Path(workdir)
        self.mariadb = mariadb
        self.proc = None
        self.port = None
        self.log_path = self.workdir / "scheduler.log"
        self.fake_dir = self.workdir / "fake"
        self.fake_dir.mkdir(parents=True, exist_ok=True)
        self.config_path = None

    # --- configuration
    def write_config(self, config):
        cfg = json.loads(json.dumps(config))
        if "source" not in cfg:
            cfg["source"] = (self.mariadb.source() if self.mariadb else
                             {"host": "127.0.0.1", "port": 3306, "user": "snapdiff"})
        cfg.setdefault("state", {"path": str(self.workdir / "state.db")})
        cfg.setdefault("sinks", [{"type": "jsonl", "path": str(self.workdir / "events.jsonl")}])
        self.config_path = self.workdir / "snapdiff.yaml"
        self.config_path.write_text(json.dumps(cfg, indent=2) + "\n")
        return self.config_path

    def fake(self, behaviour):
        (self.fake_dir / "behaviour").write_text(behaviour)

    def fake_runner(self):
        path = self.fake_dir / "runner.sh"
        path.write_text(FAKE_RUNNER)
        path.chmod(0o755)
        return path

    def calls(self):
        p = self.fake_dir / "calls.log"
        return [ln.split() for ln in p.read_text().splitlines()] if p.exists() else []

    # --- process
    def start(self, config, fake=False, args=(), env=None, wait=True):
        self.write_config(config)
        self.port = free_port()
        cmd = [sdtest.snapdiff_bin(), "scheduler", "--config", str(self.config_path),
               "--listen", f"127.0.0.1:{self.port}", *args]
        if fake:
            cmd += ["--run-command", str(self.fake_runner())]
        e = dict(os.environ)
        e.update({"SNAPDIFF_LOG_FORMAT": "json", "FAKE_DIR": str(self.fake_dir)})
        if env:
            e.update(env)
        self.log_file = open(self.log_path, "ab")
        self.proc = subprocess.Popen(cmd, cwd=str(self.workdir), env=e, stdin=subprocess.DEVNULL,
                                     stdout=self.log_file, stderr=self.log_file)
        if wait:
            self.wait_for(lambda: self.healthy(), 15, "the daemon to answer /healthz")
        return self

    def healthy(self):
        if self.proc.poll() is not None:
            raise AssertionError(f"daemon exited {self.proc.returncode}:\n{self.log_text()}")
        try:
            return self.get("/healthz")[0] == 200
        except OSError:
            return False

    def stop(self, sig=signal.SIGTERM, timeout=20):
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if getattr(self, "log_file", None):
            self.log_file.close()

    # --- observing
    def log_text(self):
        return self.log_path.read_text("utf-8", "replace") if self.log_path.exists() else ""

    def events(self, event=None):
        out = []
        for line in self.log_text().splitlines():
            try:
                d = json.loads(line)
            except ValueError:
                continue
            if isinstance(d, dict) and (event is None or d.get("event") == event):
                out.append(d)
        return out

    def request(self, method, path, token=None):
        req = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", method=method,
                                     data=b"" if method == "POST" else None)
        if token:
            req.add_header("Authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()

    def get(self, path):
        return self.request("GET", path)

    def post(self, path, token=None):
        return self.request("POST", path, token)

    def metrics(self):
        code, body = self.get("/metrics")
        assert code == 200
        return parse_metrics(body)

    def status(self):
        code, body = self.get("/status")
        assert code == 200
        return json.loads(body)

    def table(self, db, table):
        for t in self.status()["tables"]:
            if t["db"] == db and t["table"] == table:
                return t
        return None

    def wait_for(self, pred, timeout, what):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            v = pred()
            if v:
                return v
            time.sleep(0.1)
        raise AssertionError(f"timed out after {timeout}s waiting for {what}\n"
                             f"--- scheduler log ---\n{self.log_text()[-6000:]}")


@pytest.fixture
def daemon(tmp_path):
    d = Daemon(tmp_path)
    yield d
    d.kill()


@pytest.fixture
def real_daemon(tmp_path, mariadb):
    d = Daemon(tmp_path, mariadb)
    yield d
    d.kill()


def fake_config(tables=("page",), databases=("wiki1",), **defaults):
    d = {"every": 0, "jitter": 0, "timeout": 30, "retries": 2, "backoff_initial": 1,
         "backoff_max": 2}
    d.update(defaults)
    return {"databases": list(databases), "defaults": d, "tables": list(tables),
            "scheduler": {"max_concurrent": 2, "max_per_host": 2, "log_level": "debug"}}


def runs(d, db, table, status):
    return metric(d.metrics(), "snapdiff_runs_total", db=db, table=table, status=status) or 0


# ---------------------------------------------------------------------------
# with the real `snapdiff run`


def state_status(d):
    """`snapdiff status --json` on the daemon's configuration: what the state says."""
    p = subprocess.run([sdtest.snapdiff_bin(), "status", "--config", str(d.config_path), "--json"],
                       capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert p.returncode == 0, p.stderr
    return [json.loads(ln) for ln in p.stdout.splitlines() if ln.strip()]


def test_scheduled_runs_and_metrics_match_state(real_daemon, mariadb, wikidb):
    d = real_daemon
    d.start({"databases": [wikidb],
             "defaults": {"every": 2, "jitter": 0.5, "timeout": 120, "retries": 1},
             "tables": ["page", "revision"],
             "scheduler": {"max_concurrent": 2, "max_per_host": 2}})
    # each table runs on its own, at least twice
    d.wait_for(lambda: runs(d, wikidb, "page", "ok") >= 2 and runs(d, wikidb, "revision", "ok") >= 2,
               60, "two successful scheduled runs per table")
    n_page = mariadb.sql("SELECT COUNT(*) FROM page", db=wikidb)[0][0]
    n_rev = mariadb.sql("SELECT COUNT(*) FROM revision", db=wikidb)[0][0]
    d.wait_for(lambda: metric(d.metrics(), "snapdiff_state_rows", db=wikidb, table="page") == n_page,
               10, "freshness read back from the state file")
    m = d.metrics()
    assert metric(m, "snapdiff_state_rows", db=wikidb, table="revision") == n_rev
    # the first run emitted one insert per row (initial_events: all), later runs none
    assert metric(m, "snapdiff_changes_total", db=wikidb, table="page", kind="insert") == n_page
    assert metric(m, "snapdiff_changes_total", db=wikidb, table="revision", kind="insert") == n_rev
    assert metric(m, "snapdiff_rows_scanned_total", db=wikidb, table="page") >= 2 * n_page
    assert metric(m, "snapdiff_run_failures_total", db=wikidb, table="page") == 0
    assert metric(m, "snapdiff_run_duration_seconds_count", db=wikidb, table="page") >= 2
    # freshness: runs every 2 s keep the lag small (exact values: the HTTP test)
    assert metric(m, "snapdiff_last_success_timestamp_seconds", db=wikidb, table="page") > time.time() - 60
    assert 0 <= metric(m, "snapdiff_freshness_lag_seconds", db=wikidb, table="page") < 30
    # an edit in the source shows up as updates in a later scheduled run
    w = mariadb.wiki(wikidb)
    sdtest.wikiload.edit_page(w)
    w.conn.close()
    d.wait_for(lambda: (metric(d.metrics(), "snapdiff_changes_total", db=wikidb, table="page",
                               kind="update") or 0) >= 1, 30, "the edit's page update")
    s = d.table(wikidb, "page")
    assert s["last"]["status"] == "ok" and s["last"]["run_id"]
    assert s["consecutive_failures"] == 0
    assert d.stop() == 0


def test_http_trigger_token_and_conflict(real_daemon, mariadb, wikidb):
    d = real_daemon
    token = "s3cret-token-for-tests"
    d.start({"databases": [wikidb], "defaults": {"every": 0, "timeout": 120},
             "tables": ["page", "user"],
             "scheduler": {"token_env": "SNAPDIFF_TEST_TOKEN", "max_concurrent": 1}},
            env={"SNAPDIFF_TEST_TOKEN": token})
    # nothing is scheduled by interval
    time.sleep(1)
    assert runs(d, wikidb, "page", "ok") == 0
    assert d.table(wikidb, "page")["next_run"] is None
    code, _ = d.post(f"/run/{wikidb}/page")
    assert code == 401
    code, _ = d.post(f"/run/{wikidb}/page", token="wrong")
    assert code == 401
    code, body = d.post(f"/run/{wikidb}/nosuchtable", token=token)
    assert code == 404, body
    code, body = d.post(f"/run/otherwiki/page", token=token)
    assert code == 404, body
    code, body = d.post(f"/run/{wikidb}/page", token=token)
    assert code == 202, body
    d.wait_for(lambda: runs(d, wikidb, "page", "ok") == 1, 60, "the triggered run")
    assert runs(d, wikidb, "user", "ok") == 0
    last = d.table(wikidb, "page")["last"]
    assert last["trigger"] == "manual" and last["exit_code"] == 0
    n_page = mariadb.sql("SELECT COUNT(*) FROM page", db=wikidb)[0][0]
    assert last["rows_scanned"] == n_page
    assert d.get("/nope")[0] == 404
    assert d.request("GET", f"/run/{wikidb}/page")[0] == 405

    # /metrics against the state file (nothing runs now, so both are still)
    def state_row(table):
        return next((r for r in state_status(d) if r["db"] == wikidb and r["table"] == table), None)

    page = state_row("page")
    d.wait_for(lambda: metric(d.metrics(), "snapdiff_state_rows", db=wikidb, table="page") == page["rows"],
               10, "freshness read back from the state file")
    m = d.metrics()
    assert page["rows"] == n_page and page["generation"] == 1
    assert abs(metric(m, "snapdiff_last_success_timestamp_seconds", db=wikidb, table="page")
               - page["last_success"]) < 0.01
    assert abs(metric(m, "snapdiff_freshness_lag_seconds", db=wikidb, table="page")
               - (time.time() - page["last_success"])) < 2
    assert metric(m, "snapdiff_changes_total", db=wikidb, table="page", kind="insert") == n_page
    assert metric(m, "snapdiff_rows_scanned_total", db=wikidb, table="page") == n_page
    # `user` never ran: no lag sample, last success 0
    assert metric(m, "snapdiff_freshness_lag_seconds", db=wikidb, table="user") is None
    assert metric(m, "snapdiff_last_success_timestamp_seconds", db=wikidb, table="user") == 0

    # a run from the CLI (or Airflow) counts for freshness too
    r = subprocess.run([sdtest.snapdiff_bin(), "run", "--config", str(d.config_path), "--db", wikidb,
                        "--table", "user"], capture_output=True, text=True, timeout=120,
                       stdin=subprocess.DEVNULL, env={**os.environ, "SNAPDIFF_TEST_TOKEN": token})
    assert r.returncode == 0, r.stderr
    user = state_row("user")
    d.wait_for(lambda: metric(d.metrics(), "snapdiff_last_success_timestamp_seconds", db=wikidb,
                              table="user") == pytest.approx(user["last_success"], abs=0.01),
               10, "the CLI run's freshness")
    assert runs(d, wikidb, "user", "ok") == 0       # not one of the daemon's runs
    # the token never appears in the log
    assert token not in d.log_text()
    assert d.stop() == 0


def test_run_lock_shared_with_cli(real_daemon, mariadb, wikidb):
    """While another process holds the table's run lock (the flock every `snapdiff
    run` takes: <state>.locks/<db>.<table>.lock), a triggered run exits 99 and is
    counted as skipped, not as a failure, and not retried; once the lock is free
    the next run works."""
    import fcntl

    d = real_daemon
    d.start({"databases": [wikidb], "defaults": {"every": 0, "timeout": 120, "retries": 3,
                                                 "backoff_initial": 1},
             "tables": ["revision"]})
    lockdir = Path(str(d.workdir / "state.db") + ".locks")
    lockdir.mkdir(exist_ok=True)
    with open(lockdir / f"{wikidb}.revision.lock", "a+") as f:
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        assert d.post(f"/run/{wikidb}/revision")[0] == 202
        d.wait_for(lambda: runs(d, wikidb, "revision", "skipped") == 1, 60, "the skipped run")
        time.sleep(1.5)
        t = d.table(wikidb, "revision")
        assert t["last"]["exit_code"] == 99 and not t["retry_pending"]
        assert runs(d, wikidb, "revision", "skipped") == 1
        fcntl.flock(f, fcntl.LOCK_UN)
    assert d.post(f"/run/{wikidb}/revision")[0] == 202
    d.wait_for(lambda: runs(d, wikidb, "revision", "ok") == 1, 60, "the run after the lock is free")
    assert metric(d.metrics(), "snapdiff_run_failures_total", db=wikidb, table="revision") == 0
    assert d.stop() == 0


# ---------------------------------------------------------------------------
# with the fake runner


def test_bad_config_refuses_to_start_naming_file_line(daemon, tmp_path):
    cfg = tmp_path / "bad.yaml"
    cfg.write_text("source:\n  host: 127.0.0.1\ndatabases: [w]\ntables:\n  - page\n"
                   "scheduler:\n  max_concurrent: many\n")
    p = subprocess.run([sdtest.snapdiff_bin(), "scheduler", "--config", str(cfg)],
                       capture_output=True, text=True, timeout=20, stdin=subprocess.DEVNULL,
                       env={**os.environ, "SNAPDIFF_LOG_FORMAT": "json"})
    assert p.returncode == 3, p.stderr
    assert f"{cfg}:7" in p.stderr, p.stderr
    # a cron expression the parser lets through but the scheduler cannot use
    cfg.write_text("source:\n  host: 127.0.0.1\ndatabases: [w]\ntables:\n  - page:\n"
                   "      cron: \"61 * * * *\"\n")
    p = subprocess.run([sdtest.snapdiff_bin(), "scheduler", "--config", str(cfg)],
                       capture_output=True, text=True, timeout=20, stdin=subprocess.DEVNULL)
    assert p.returncode == 3, p.stderr
    assert f"{cfg}:5" in p.stderr and "minute" in p.stderr, p.stderr


def test_child_sigkill_daemon_survives_and_retries(daemon):
    d = daemon
    d.fake("hang")
    d.start(fake_config(), fake=True)
    assert d.post("/run/wiki1/page")[0] == 202
    t = d.wait_for(lambda: (d.table("wiki1", "page") or {}).get("run"), 10, "the child to start")
    assert d.post("/run/wiki1/page")[0] == 409
    d.fake("ok")
    os.kill(t["pid"], signal.SIGKILL)
    d.wait_for(lambda: runs(d, "wiki1", "page", "crashed") == 1, 10, "the crash to be recorded")
    assert d.healthy()
    # retried after backoff_initial (1 s), and this time it works
    d.wait_for(lambda: runs(d, "wiki1", "page", "ok") == 1, 10, "the retry")
    last = d.table("wiki1", "page")["last"]
    assert last["trigger"] == "retry"
    assert [e["status"] for e in d.events("run.finish")] == ["crashed", "ok"]
    assert d.events("run.retry")[0]["attempt"] == 1
    m = d.metrics()
    assert metric(m, "snapdiff_run_failures_total", db="wiki1", table="page") == 1
    assert metric(m, "snapdiff_run_consecutive_failures", db="wiki1", table="page") == 0
    assert d.stop() == 0


def test_timeout_sigterm_then_sigkill(daemon):
    d = daemon
    d.fake("stubborn")      # ignores SIGTERM
    d.start(fake_config(timeout=1, retries=0), fake=True, args=["--grace", "1"])
    d.post("/run/wiki1/page")
    d.wait_for(lambda: runs(d, "wiki1", "page", "timeout") == 1, 15, "the timeout")
    assert d.events("run.timeout") and d.events("run.kill")
    assert d.table("wiki1", "page")["last"]["error"].startswith("timed out")
    assert d.stop() == 0


def test_retry_backoff_and_permanent_failures(daemon):
    d = daemon
    d.fake("source")
    d.start(fake_config(tables=["page", "user"], retries=2, backoff_initial=0.5, backoff_max=0.8),
            fake=True)
    d.post("/run/wiki1/page")
    d.wait_for(lambda: runs(d, "wiki1", "page", "failed") == 3, 15, "1 run + 2 retries")
    time.sleep(1.5)
    assert runs(d, "wiki1", "page", "failed") == 3           # retries spent: no more
    starts = [float(c[4]) for c in d.calls() if c[0] == "start" and c[2] == "page"]
    gaps = [b - a for a, b in zip(starts, starts[1:])]
    assert 0.4 < gaps[0] < 2.0 and 0.7 < gaps[1] < 2.5, gaps  # 0.5 s, then 0.8 s (capped)
    assert [e["delay_s"] for e in d.events("run.retry")] == [0.5, 0.8]
    # exit 8 (schema) is permanent: not retried
    d.fake("schema")
    d.post("/run/wiki1/user")
    d.wait_for(lambda: runs(d, "wiki1", "user", "failed") == 1, 10, "the schema failure")
    time.sleep(1.5)
    assert runs(d, "wiki1", "user", "failed") == 1
    t = d.table("wiki1", "user")
    assert not t["retry_pending"] and t["last"]["exit_code"] == 8
    assert t["last"]["error"] == "no primary key"
    # exit 99: skipped, not a failure, not retried
    d.fake("busy")
    d.post("/run/wiki1/user")
    d.wait_for(lambda: runs(d, "wiki1", "user", "skipped") == 1, 10, "the skipped run")
    assert metric(d.metrics(), "snapdiff_run_failures_total", db="wiki1", table="user") == 1
    assert d.stop() == 0


def test_interval_schedule_and_concurrency_limits(daemon):
    d = daemon
    d.fake("slow")          # 1.5 s per run
    cfg = fake_config(tables=["page", "revision", "user", "actor"], every=1, jitter=0.2)
    cfg["scheduler"].update({"max_concurrent": 3, "max_per_host": 2})
    d.start(cfg, fake=True)
    seen = set()

    def enough():
        m = d.metrics()
        seen.add(metric(m, "snapdiff_running_runs"))
        return all(runs(d, "wiki1", t, "ok") >= 2 for t in ("page", "revision", "user", "actor"))
    d.wait_for(enough, 30, "every table to run twice on its interval")
    assert max(seen) <= 2
    # overlap computed from the runner's own log: never more than max_per_host
    events = []
    for c in d.calls():
        events.append((float(c[4]), 1 if c[0] == "start" else -1))
    level = peak = 0
    for _, delta in sorted(events, key=lambda e: (e[0], e[1])):
        level += delta
        peak = max(peak, level)
    assert peak == 2
    assert d.stop() == 0


def test_sigterm_exits_within_bound(daemon):
    d = daemon
    d.fake("hang")
    d.start(fake_config(), fake=True)
    d.post("/run/wiki1/page")
    t = d.wait_for(lambda: (d.table("wiki1", "page") or {}).get("run"), 10, "the child to start")
    t0 = time.monotonic()
    assert d.stop(signal.SIGTERM, timeout=10) == 0
    assert time.monotonic() - t0 < 5
    time.sleep(0.2)
    with pytest.raises(ProcessLookupError):
        os.kill(t["pid"], 0)
    assert [e["status"] for e in d.events("run.finish")] == ["cancelled"]


def test_second_sigint_exits_at_once(daemon):
    d = daemon
    d.fake("stubborn")      # ignores SIGTERM: the first SIGINT would wait for it
    d.start(fake_config(), fake=True, args=["--grace", "30", "--shutdown-wait", "30"])
    d.post("/run/wiki1/page")
    t = d.wait_for(lambda: (d.table("wiki1", "page") or {}).get("run"), 10, "the child to start")
    d.wait_for(lambda: any(c[0] == "ready" for c in d.calls()), 10, "the child to ignore SIGTERM")
    d.proc.send_signal(signal.SIGINT)
    time.sleep(0.5)
    assert d.proc.poll() is None            # still waiting for the child
    t0 = time.monotonic()
    d.proc.send_signal(signal.SIGINT)
    assert d.proc.wait(5) != 0
    assert time.monotonic() - t0 < 2
    # the orphaned child is told to stop by PR_SET_PDEATHSIG... and ignores it;
    # clean it up here
    try:
        os.killpg(t["pid"], signal.SIGKILL)
    except ProcessLookupError:
        pass


def test_sighup_bad_config_keeps_old_then_good_one_applies(daemon):
    d = daemon
    d.start(fake_config(tables=["page"]), fake=True)
    good = d.config_path.read_text()
    d.config_path.write_text(good.replace('"max_concurrent": 2', '"max_concurrent": "lots"'))
    d.proc.send_signal(signal.SIGHUP)
    d.wait_for(lambda: d.events("config.refused"), 10, "the refused reload")
    msg = d.events("config.refused")[0]["msg"]
    assert str(d.config_path) + ":" in msg, msg
    assert d.healthy()
    m = d.metrics()
    assert metric(m, "snapdiff_config_reloads_total", result="failed") == 1
    assert metric(m, "snapdiff_scheduled_tables") == 1
    # the old configuration still works
    assert d.post("/run/wiki1/page")[0] == 202
    d.wait_for(lambda: runs(d, "wiki1", "page", "ok") == 1, 10, "a run under the old config")
    # a good file with one more table is applied; counters survive
    cfg = json.loads(good)
    cfg["tables"].append("user")
    d.config_path.write_text(json.dumps(cfg))
    d.proc.send_signal(signal.SIGHUP)
    d.wait_for(lambda: metric(d.metrics(), "snapdiff_config_reloads_total", result="ok") == 1,
               10, "the good reload")
    assert d.table("wiki1", "user") is not None
    assert runs(d, "wiki1", "page", "ok") == 1
    assert d.post("/run/wiki1/user")[0] == 202
    d.wait_for(lambda: runs(d, "wiki1", "user", "ok") == 1, 10, "a run of the new table")
    assert d.stop() == 0


def test_metrics_format(daemon):
    d = daemon
    d.start(fake_config(tables=["page"]), fake=True)
    d.post("/run/wiki1/page")
    d.wait_for(lambda: runs(d, "wiki1", "page", "ok") == 1, 10, "one run")
    code, body = d.get("/metrics")
    assert code == 200
    names = set()
    for line in body.splitlines():
        if line.startswith("# TYPE "):
            names.add(line.split()[2])
    for want in ("snapdiff_runs_total", "snapdiff_run_failures_total", "snapdiff_rows_scanned_total",
                 "snapdiff_changes_total", "snapdiff_run_duration_seconds",
                 "snapdiff_last_success_timestamp_seconds", "snapdiff_freshness_lag_seconds",
                 "snapdiff_guard_trips_total", "snapdiff_running_runs"):
        assert want in names, want
    m = parse_metrics(body)
    assert metric(m, "snapdiff_rows_scanned_total", db="wiki1", table="page") == 10
    assert metric(m, "snapdiff_changes_total", db="wiki1", table="page", kind="insert") == 2
    assert metric(m, "snapdiff_run_duration_seconds_bucket", db="wiki1", table="page", le="+Inf") == 1
    assert metric(m, "snapdiff_running_runs") == 0
    st = d.status()
    assert st["tables"][0]["last"]["run_id"] == "wiki1.page.fake"
    assert d.get("/healthz") == (200, "ok\n")
    assert d.stop() == 0
