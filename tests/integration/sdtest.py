"""sdtest — helpers for snapdiff's integration tests (used by conftest.py, usable
from the demo and the benchmark too).

  MariaDB.start(dir) / .stop()      a throwaway server via tests/lib/mariadb.sh
      .socket .port .password_file .password .dir
      .sql(query, db=None, args=None)      run as root (PyMySQL), return the rows;
                                           db None: the empty scratch database `sdtest`
      .create_db(name, fixture="mediawiki.sql", drop=True)   (fixture None: empty db)
      .load_wiki(db, pages=50, revs_per_page=3, seed=1, ...)  wikiload.load into db
      .wiki(db, seed=1)                    a wikiload.Wiki for edit/delete/move actions
      .connect(db=None, user="root")       a PyMySQL connection (autocommit)
      .source(**extra)                     the `source:` config section for user snapdiff

  run_snapdiff(config, *args, env=None, timeout=120, sink_file=None, workdir=None,
               mariadb=None, check=False) -> Result
      writes config (a dict; JSON is valid YAML) to workdir/snapdiff.yaml with the
      source filled in (socket, user snapdiff, password_file) unless config has one,
      state.path defaulting to workdir/state.db, and, with sink_file, a JSON Lines
      sink appending to that file; runs the binary (env SNAPDIFF_BIN or ./snapdiff at
      the repo root) with `--config PATH` after the subcommand. Pass the same workdir
      to successive runs so that they share the state. Result: rc, stdout, stderr,
      summary (the last stdout line parsed as JSON, or None), events (parsed lines of
      sink_file, or of stdout when no sink is configured, less the summary line: the
      last line when it has no "op" key), config_path, cmd.
"""

import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import pymysql

ROOT = Path(__file__).resolve().parents[2]
LIB = ROOT / "tests" / "lib"
FIXTURES = ROOT / "tests" / "fixtures"
MARIADB_SH = LIB / "mariadb.sh"
SCRATCH_DB = "sdtest"   # the default database of MariaDB.sql()/connect() (empty)

if str(LIB) not in sys.path:
    sys.path.insert(0, str(LIB))
import wikiload  # noqa: E402

# The server of the test session (set by the `mariadb` fixture); run_snapdiff
# uses it when no mariadb= is given.
current_server = None


def snapdiff_bin():
    return os.environ.get("SNAPDIFF_BIN") or str(ROOT / "snapdiff")


class MariaDB:
    def __init__(self, dir):
        self.dir = Path(dir)
        self.socket = str(self.dir / "mysqld.sock")
        self.password_file = str(self.dir / "password")
        self.port = None
        self.password = None

    @classmethod
    def start(cls, dir):
        m = cls(dir)
        p = subprocess.run([str(MARIADB_SH), "start", str(m.dir)], stdin=subprocess.DEVNULL,
                           capture_output=True, text=True, timeout=180)
        if p.returncode != 0:
            raise RuntimeError(f"MariaDB did not start (tests/lib/mariadb.sh start {m.dir}):\n"
                               f"{p.stdout}{p.stderr}")
        m.port = int((m.dir / "port").read_text().strip())
        m.password = Path(m.password_file).read_text().strip()
        conn = wikiload.connect(socket=m.socket, user="root")
        with conn.cursor() as c:
            c.execute(f"CREATE DATABASE IF NOT EXISTS `{SCRATCH_DB}`")
        conn.close()
        return m

    def stop(self):
        subprocess.run([str(MARIADB_SH), "stop", str(self.dir)], stdin=subprocess.DEVNULL,
                       capture_output=True, text=True, timeout=120)

    def connect(self, db=None, user="root", autocommit=True):
        """db=None: the scratch database `sdtest` (so that unqualified names such as
        the Sequence engine's seq_1_to_N resolve)."""
        db = db or SCRATCH_DB
        if user == "root":
            return wikiload.connect(socket=self.socket, user="root", db=db, autocommit=autocommit)
        return wikiload.connect(socket=self.socket, user=user, password=self.password, db=db,
                                autocommit=autocommit)

    def sql(self, query, db=None, args=None):
        """Run one statement as root; return its rows (a list of tuples, [] if none).
        Without db it runs in the (empty) scratch database `sdtest`."""
        conn = self.connect(db)
        try:
            with conn.cursor() as c:
                c.execute(query, args)
                return list(c.fetchall()) if c.description else []
        finally:
            conn.close()

    def create_db(self, name, fixture="mediawiki.sql", drop=True):
        """Create database `name` and source a file of tests/fixtures into it
        (with the mariadb client, so any SQL works)."""
        if drop:
            self.sql(f"DROP DATABASE IF EXISTS `{name}`")
        self.sql(f"CREATE DATABASE IF NOT EXISTS `{name}`")
        if fixture:
            path = Path(fixture)
            if not path.is_absolute():
                path = FIXTURES / fixture
            with open(path, "rb") as f:
                p = subprocess.run([str(MARIADB_SH), "client", str(self.dir), name], stdin=f,
                                   capture_output=True, timeout=300)
            if p.returncode != 0:
                raise RuntimeError(f"loading {path} into {name} failed:\n"
                                   f"{p.stderr.decode(errors='replace')}")
        return name

    def load_wiki(self, db, pages=50, revs_per_page=3, seed=1, users=None, drop=True,
                  revision_only=None):
        """Create db with the MediaWiki schema and consistent rows (wikiload)."""
        return wikiload.load(dict(socket=self.socket, user="root"), db, pages=pages,
                             revs_per_page=revs_per_page, seed=seed, users=users, drop=drop,
                             revision_only=revision_only)

    def wiki(self, db, seed=1):
        """A wikiload.Wiki: pass it to wikiload.edit_page / delete_page / move_page /
        create_page. Close with .conn.close() (or let the process end)."""
        return wikiload.Wiki(self.connect(db), db, seed=seed)

    def source(self, **extra):
        src = {"socket": self.socket, "host": "127.0.0.1", "port": self.port,
               "user": "snapdiff", "password_file": self.password_file}
        src.update(extra)
        return src


@dataclass
class Result:
    rc: int
    stdout: str
    stderr: str
    summary: object = None
    events: list = field(default_factory=list)
    config_path: str = ""
    cmd: list = field(default_factory=list)

    def __str__(self):
        return (f"$ {' '.join(self.cmd)}\nrc={self.rc}\n--- stdout ---\n{self.stdout[-4000:]}"
                f"\n--- stderr ---\n{self.stderr[-4000:]}")


def _json_lines(text):
    out = []
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        try:
            out.append(json.loads(line))
        except ValueError:
            pass
    return out


def write_config(config, workdir, mariadb=None, sink_file=None):
    """Fill in source/state/sink defaults, write workdir/snapdiff.yaml, return its path."""
    server = mariadb or current_server
    cfg = json.loads(json.dumps(config))  # a deep copy
    if "source" not in cfg:
        if server is None:
            raise RuntimeError("run_snapdiff: no source in config and no MariaDB fixture running")
        cfg["source"] = server.source()
    cfg.setdefault("state", {"path": str(Path(workdir) / "state.db")})
    if sink_file is not None:
        cfg.setdefault("sinks", [])
        if not any(s.get("type") == "jsonl" and s.get("path") == str(sink_file)
                   for s in cfg["sinks"]):
            cfg["sinks"].append({"type": "jsonl", "path": str(sink_file)})
    path = Path(workdir) / "snapdiff.yaml"
    path.write_text(json.dumps(cfg, indent=2) + "\n")
    return path


def run_snapdiff(config, *args, env=None, timeout=120, sink_file=None, workdir=None,
                 mariadb=None, check=False):
    if workdir is None:
        workdir = tempfile.mkdtemp(prefix="snapdiff-test-")
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    if sink_file is not None:
        sink_file = Path(sink_file)
        if not sink_file.is_absolute():
            sink_file = workdir / sink_file
    path = write_config(config, workdir, mariadb=mariadb, sink_file=sink_file)

    argv = list(args)
    if argv and not any(a == "--config" or str(a).startswith("--config=") for a in argv):
        at = 2 if argv[0] == "config" and len(argv) > 1 else 1
        argv[at:at] = ["--config", str(path)]
    cmd = [snapdiff_bin()] + [str(a) for a in argv]
    e = dict(os.environ)
    e.pop("SNAPDIFF_CONFIG", None)
    e["SNAPDIFF_CONFIG"] = str(path)
    if env:
        e.update(env)
    p = subprocess.run(cmd, cwd=str(workdir), env=e, stdin=subprocess.DEVNULL,
                       capture_output=True, timeout=timeout)
    stdout = p.stdout.decode("utf-8", "replace")
    stderr = p.stderr.decode("utf-8", "replace")
    summary = None
    lines = [ln for ln in stdout.splitlines() if ln.strip()]
    if lines:
        try:
            summary = json.loads(lines[-1])
        except ValueError:
            summary = None
    if sink_file is not None:
        events = _json_lines(sink_file.read_text("utf-8", "replace")) if sink_file.exists() else []
    elif not config.get("sinks"):
        # no sink configured: events are JSON Lines on stdout (the summary, if any, is last)
        events = _json_lines(stdout)
        if events and isinstance(summary, dict) and "op" not in summary and events[-1] == summary:
            events = events[:-1]
    else:
        events = []
    r = Result(p.returncode, stdout, stderr, summary, events, str(path), cmd)
    if check and r.rc != 0:
        raise AssertionError(f"snapdiff failed:\n{r}")
    return r
