"""Helpers for the core differ tests: a fresh database per test, a config
with a JSONL file sink, and runs whose `events` are exactly that run's events."""
import os
from pathlib import Path

import sdtest

ROOT = str(sdtest.ROOT)
SNAPDIFF = sdtest.snapdiff_bin()


def fresh_db(mariadb, name, fixture=None):
    """An empty database (or one loaded from tests/fixtures/<fixture>)."""
    return mariadb.create_db(name, fixture=fixture)


def base_config(mariadb, workdir, databases, tables, defaults=None):
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    cfg = {
        "source": mariadb.source(),
        "databases": list(databases),
        "state": {"path": str(workdir / "state.db")},
        "tables": list(tables),
        "sinks": [{"type": "jsonl", "path": str(workdir / "events.jsonl")}],
    }
    if defaults:
        cfg["defaults"] = dict(defaults)
    return cfg


def run_snapdiff(cfg, *args, env=None, timeout=300):
    """Runs snapdiff with cfg; r.events holds only the events of this run."""
    workdir = Path(cfg["state"]["path"]).parent
    sink = next((s.get("path") for s in cfg.get("sinks", []) if s.get("type") == "jsonl"
                 and s.get("path") not in (None, "-")), None)
    if sink and os.path.exists(sink):
        os.truncate(sink, 0)
    r = sdtest.run_snapdiff(cfg, *args, env=env, timeout=timeout, workdir=workdir)
    if sink and os.path.exists(sink):
        r.events = sdtest._json_lines(Path(sink).read_text("utf-8", "replace"))
    return r


def write_config(cfg, workdir):
    return str(sdtest.write_config(cfg, workdir))
