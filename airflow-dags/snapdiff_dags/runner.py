"""Running `snapdiff run` from an Airflow task.

Why a Python @task with subprocess.run-style code and not @task.bash: the
exit-code contract of snapdiff (differ/error.h) needs three outcomes, not
two. 99 means another run holds the (database, table) lock, so this one is
skipped (AirflowSkipException); 2, 3, 7, 8 and 9 (usage, configuration,
mass-delete guard, schema, authentication) cannot be fixed by retrying, so
the task fails at once (AirflowFailException); anything else (source, state,
sink, interrupted, internal) is an ordinary failure that Airflow retries.
@task.bash only knows skip_on_exit_code, so every permanent failure would
be retried. The JSON summary (snapdiff's last stdout line) is the task's
return value, hence its XCom.

Everything that varies per run reaches the process through env=, never by
formatting it into a command line: the argument vector is a list, no shell is
involved, and the run window, the Airflow run id and the source password go
in environment variables.

Settings are read inside tasks, never at import time (the DAG processor
re-imports DAG files every few seconds): DAG params first (set when
triggering), then Airflow Variables, then the defaults below.
"""
from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import threading
from collections import deque
from typing import Any

log = logging.getLogger(__name__)

# Exit codes of `snapdiff run` (differ/error.h).
EXIT_OK = 0
EXIT_BUSY = 99
PERMANENT_EXIT_CODES = {2: "usage", 3: "config", 7: "refused by the mass-delete guard",
                        8: "schema", 9: "auth"}

# Airflow Variable names and their defaults.
DEFAULTS: dict[str, Any] = {
    "snapdiff_bin": "snapdiff",                        # found on PATH unless absolute
    "snapdiff_config": "/etc/snapdiff/snapdiff.yaml",
    "snapdiff_wikis": ["enwiki"],
    "snapdiff_tables": ["page", "revision", "slots", "content", "comment", "actor",
                        "user", "archive", "logging"],
    # An Airflow Connection whose password is handed to snapdiff in the
    # environment variable the configuration's password_env names.
    "snapdiff_conn_id": "snapdiff_source",
    "snapdiff_password_env": "SNAPDIFF_PASSWORD",
}

SUMMARY_TAIL_BYTES = 256 * 1024   # stdout kept for the summary (events may go there too)


def _variable(name: str) -> Any:
    from airflow.sdk import Variable  # imported late: only tasks call this

    default = DEFAULTS[name]
    if isinstance(default, list):
        value = Variable.get(name, default=None, deserialize_json=True)
        if value is None:
            return list(default)
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ValueError(f"Variable {name} must be a JSON list of strings")
        return value
    return Variable.get(name, default=default)


def resolve_settings(params: dict[str, Any] | None) -> dict[str, Any]:
    """Params (when set) > Variables > DEFAULTS. Returns plain JSON values."""
    params = params or {}
    out = {}
    for key, name in (("bin", "snapdiff_bin"), ("config", "snapdiff_config"),
                      ("wikis", "snapdiff_wikis"), ("tables", "snapdiff_tables"),
                      ("conn_id", "snapdiff_conn_id"),
                      ("password_env", "snapdiff_password_env")):
        value = params.get(key)
        out[key] = value if value not in (None, "", []) else _variable(name)
    if not out["wikis"] or not out["tables"]:
        raise ValueError("no wikis or no tables to run")
    return out


def _source_password(conn_id: str | None) -> str | None:
    if not conn_id:
        return None
    try:
        from airflow.sdk import Connection

        conn = Connection.get(conn_id)
    except Exception:  # not defined: snapdiff finds the password itself
        log.info("no Airflow connection %r; the worker's environment provides the password", conn_id)
        return None
    return conn.password or None


def build_env(settings: dict[str, Any], context: dict[str, Any]) -> dict[str, str]:
    """The child's environment: ours, plus the run window and identity."""
    env = dict(os.environ)

    def iso(v: Any) -> str:
        return v.isoformat() if v is not None and hasattr(v, "isoformat") else ""

    ti = context.get("ti")
    env.update({
        "SNAPDIFF_ORCHESTRATOR": "airflow",
        "SNAPDIFF_WINDOW_START": iso(context.get("data_interval_start")),
        "SNAPDIFF_WINDOW_END": iso(context.get("data_interval_end")),
        "SNAPDIFF_AIRFLOW_DAG_ID": str(getattr(context.get("dag"), "dag_id", "") or ""),
        "SNAPDIFF_AIRFLOW_RUN_ID": str(context.get("run_id") or ""),
        "SNAPDIFF_AIRFLOW_TRY": str(getattr(ti, "try_number", "") or ""),
    })
    password = _source_password(settings.get("conn_id"))
    if password is not None:
        env[settings["password_env"]] = password
    return env


def _pump_stderr(stream, prefix: str) -> None:
    for raw in iter(stream.readline, b""):
        log.info("%s%s", prefix, raw.decode("utf-8", "replace").rstrip("\n"))


def _read_tail(stream, tail: deque) -> None:
    size = 0
    for chunk in iter(lambda: stream.read(65536), b""):
        tail.append(chunk)
        size += len(chunk)
        while size > SUMMARY_TAIL_BYTES and len(tail) > 1:
            size -= len(tail.popleft())


def parse_summary(stdout: bytes) -> dict[str, Any] | None:
    """The last stdout line that is a JSON object, or None."""
    for line in reversed(stdout.decode("utf-8", "replace").splitlines()):
        line = line.strip()
        if line.startswith("{"):
            try:
                value = json.loads(line)
            except ValueError:
                return None
            return value if isinstance(value, dict) else None
    return None


def run_snapdiff(db: str, table: str, *, full: bool = False, allow_mass_delete: bool = False,
                 dry_run: bool = False) -> dict[str, Any]:
    """Runs `snapdiff run` for one table; returns its JSON summary."""
    from airflow.sdk import get_current_context
    from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

    context = get_current_context()
    settings = resolve_settings(context.get("params"))
    binary = settings["bin"]
    if os.sep not in binary:
        binary = shutil.which(binary) or binary
    argv = [binary, "run", "--config", settings["config"], "--db", db, "--table", table]
    if full:
        argv.append("--full")
    if allow_mass_delete:
        argv.append("--allow-mass-delete")
    if dry_run:
        argv.append("--dry-run")
    env = build_env(settings, context)
    log.info("running %s", " ".join(argv))

    tail: deque = deque()
    try:
        proc = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    except OSError as e:
        # a missing binary does not fix itself between retries
        raise AirflowFailException(f"cannot execute {binary}: {e}") from e
    readers = [threading.Thread(target=_read_tail, args=(proc.stdout, tail), daemon=True),
               threading.Thread(target=_pump_stderr, args=(proc.stderr, f"{db}.{table}: "),
                                daemon=True)]
    for t in readers:
        t.start()
    try:
        code = proc.wait()
    except BaseException:
        # execution_timeout or a task kill: let snapdiff stop cleanly (it
        # exits 10 without committing), then make sure it is gone
        proc.terminate()
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        raise
    finally:
        for t in readers:
            t.join(timeout=10)
    summary = parse_summary(b"".join(tail))

    if code == EXIT_OK:
        if summary is None:
            raise RuntimeError("snapdiff exited 0 but printed no JSON summary")
        log.info("%s.%s: %s", db, table, json.dumps(summary, sort_keys=True))
        return summary
    error = (summary or {}).get("error") or ""
    if not error and summary and summary.get("tables"):
        error = summary["tables"][0].get("error") or ""
    if code == EXIT_BUSY:
        raise AirflowSkipException(f"{db}.{table}: another run holds the lock (exit 99)")
    if code in PERMANENT_EXIT_CODES:
        raise AirflowFailException(
            f"{db}.{table}: snapdiff exit {code} ({PERMANENT_EXIT_CODES[code]}), not retried: {error}")
    raise RuntimeError(f"{db}.{table}: snapdiff exit {code}, will be retried: {error}")


def totals(summaries: list[dict[str, Any] | None]) -> dict[str, Any]:
    """Adds up the counters of the summaries that exist (skipped tables have none)."""
    keys = ("rows_scanned", "chunks", "chunks_skipped", "inserted", "updated", "deleted",
            "bytes_read")
    out: dict[str, Any] = {k: 0 for k in keys}
    out["tables"] = 0
    for s in summaries:
        if not s:
            continue
        out["tables"] += 1
        for k in keys:
            v = s.get(k)
            if isinstance(v, (int, float)):
                out[k] += v
    return out
