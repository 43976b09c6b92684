"""Crash safety: state never advances past what every sink durably accepted,
and a rerun after a crash re-emits the same changes with the same ids.

Exact crash points come from the SNAPDIFF_FAULT test hook (differ/run.c); a
timed SIGKILL from outside covers "anywhere".
"""
import json
import os
import signal
import subprocess
import time

from corelib import SNAPDIFF, base_config, fresh_db, run_snapdiff, write_config


def events_in(d):
    out = {}
    for name in sorted(os.listdir(d)):
        if name.endswith(".jsonl"):
            with open(os.path.join(d, name)) as f:
                out[name] = [json.loads(l) for l in f if l.strip()]
    return out


def generation(cfg):
    line = run_snapdiff(cfg, "status", "--json").stdout.strip()
    return json.loads(line)["generation"] if line else 0


def make_table(mariadb, name, rows):
    db = fresh_db(mariadb, name)
    mariadb.sql(f"CREATE TABLE `{db}`.t (id INT PRIMARY KEY, v VARCHAR(40) NOT NULL)")
    mariadb.sql(f"INSERT INTO `{db}`.t SELECT seq, CONCAT('value ', seq) FROM `{db}`.seq_1_to_{rows}")
    return db


def dir_sink_config(mariadb, tmp_path, db, **defaults):
    cfg = base_config(mariadb, tmp_path, [db], ["t"], defaults=defaults or None)
    evdir = tmp_path / "events"
    cfg["sinks"] = [{"type": "jsonl", "dir": str(evdir)}]
    return cfg, evdir


def test_kill_after_sinks_before_state_commit_reemits_same_ids(mariadb, tmp_path):
    db = make_table(mariadb, "crash_commit", 500)
    cfg, evdir = dir_sink_config(mariadb, tmp_path, db)
    assert run_snapdiff(cfg, "run").rc == 0
    mariadb.sql(f"UPDATE `{db}`.t SET v = 'changed' WHERE id IN (5, 250)")
    mariadb.sql(f"DELETE FROM `{db}`.t WHERE id = 7")
    mariadb.sql(f"INSERT INTO `{db}`.t VALUES (1000, 'new')")
    gen = generation(cfg)

    r = run_snapdiff(cfg, "run", env={"SNAPDIFF_FAULT": "kill-before-commit"})
    assert r.rc == -signal.SIGKILL
    first = events_in(evdir)
    run_file = f"{db}.t.{gen + 1}.jsonl"
    assert run_file in first and len(first[run_file]) == 4   # the sink had committed
    assert generation(cfg) == gen                              # the state had not

    r = run_snapdiff(cfg, "run")
    assert r.rc == 0
    again = events_in(evdir)
    assert [e["id"] for e in again[run_file]] == [e["id"] for e in first[run_file]]
    # same changes, same ids; only the lineage (a new snapshot) differs
    strip = lambda evs: [{k: v for k, v in e.items() if k != "lineage"} for e in evs]
    assert strip(again[run_file]) == strip(first[run_file])
    assert generation(cfg) == gen + 1
    r = run_snapdiff(cfg, "run")
    assert r.summary["inserted"] + r.summary["updated"] + r.summary["deleted"] == 0


def test_kill_mid_scan_emits_nothing_and_rerun_completes(mariadb, tmp_path):
    db = make_table(mariadb, "crash_scan", 5000)
    cfg, evdir = dir_sink_config(mariadb, tmp_path, db, chunk_rows=100, chunk_min_rows=100,
                                 chunk_max_rows=100)
    r = run_snapdiff(cfg, "run", env={"SNAPDIFF_FAULT": "kill-after-rows:2500"})
    assert r.rc == -signal.SIGKILL
    assert events_in(evdir) == {}
    assert generation(cfg) == 0
    r = run_snapdiff(cfg, "run")
    assert r.rc == 0 and r.summary["inserted"] == 5000
    # now a crash in the middle of a rerun that has changes
    mariadb.sql(f"UPDATE `{db}`.t SET v = 'x' WHERE id % 500 = 0")
    mariadb.sql(f"DELETE FROM `{db}`.t WHERE id BETWEEN 4000 AND 4009")
    r = run_snapdiff(cfg, "run", env={"SNAPDIFF_FAULT": "kill-after-rows:3000"})
    assert r.rc == -signal.SIGKILL
    assert generation(cfg) == 1
    r = run_snapdiff(cfg, "run")
    assert r.rc == 0
    ev = events_in(evdir)[f"{db}.t.2.jsonl"]
    assert sorted((e["op"], e["key"]["id"]) for e in ev) == sorted(
        [("update", i) for i in range(500, 5001, 500) if not 4000 <= i <= 4009]
        + [("delete", i) for i in range(4000, 4010)])
    assert run_snapdiff(cfg, "run").events == []


def test_sigkill_at_random_moments_never_loses_or_invents_changes(mariadb, tmp_path):
    db = make_table(mariadb, "crash_random", 60000)
    cfg, evdir = dir_sink_config(mariadb, tmp_path, db, chunk_rows=2000, chunk_max_rows=4000)
    path = write_config(cfg, tmp_path)
    killed = 0
    for delay in (0.05, 0.2, 0.4, 0.8):
        p = subprocess.Popen([SNAPDIFF, "run", "--config", path, "--quiet"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(delay)
        p.send_signal(signal.SIGKILL)
        killed += p.wait() == -signal.SIGKILL
        mariadb.sql(f"UPDATE `{db}`.t SET v = CONCAT(v, '+') WHERE id % 997 = {int(delay * 10)}")
    r = run_snapdiff(cfg, "run")
    assert r.rc == 0, r.stderr
    # replay every committed run's file in generation order: it must equal the table
    state = {}
    files = events_in(evdir)
    for name in sorted(files, key=lambda n: int(n.rsplit(".", 2)[-2])):
        for e in files[name]:
            if e["op"] == "delete":
                state.pop(e["key"]["id"], None)
            else:
                state[e["key"]["id"]] = e["after"]["v"]
    table = dict(mariadb.sql(f"SELECT id, v FROM `{db}`.t"))
    assert state == table
    assert run_snapdiff(cfg, "run").events == []
    assert killed >= 1
