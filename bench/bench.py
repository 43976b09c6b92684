"""The snapdiff benchmark (make bench): one run, ratios against raw streaming.

Measures, on one throwaway MariaDB and one generated `revision` table:
  raw text / binary protocol streaming (bench/rawscan), snapdiff initial run,
  no-change rerun (with and without checksum pushdown), 1 % churn clustered and
  scattered, peak RSS of each snapdiff run. Prints a table and a JSON line.
"""
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
BUILD = os.environ.get("BUILD", "build")
SNAPDIFF = os.environ.get("SNAPDIFF_BIN", os.path.join(ROOT, "snapdiff"))
RAWSCAN = os.path.join(ROOT, BUILD, "bench", "rawscan")
ROWS = int(os.environ.get("BENCH_ROWS", "1000000"))


def sh(*args, **kw):
    return subprocess.run(args, check=True, text=True, capture_output=True, **kw).stdout


def sql(d, q):
    sh(os.path.join(ROOT, "tests/lib/mariadb.sh"), "client", d, "-e", q)


def timed(args):
    """Runs args, returns (stdout, seconds, peak RSS in MB of exactly that child)."""
    with tempfile.TemporaryFile(mode="w+") as out, tempfile.TemporaryFile(mode="w+") as err:
        t0 = time.monotonic()
        p = subprocess.Popen(args, stdout=out, stderr=err, text=True)
        _, status, ru = os.wait4(p.pid, 0)
        secs = time.monotonic() - t0
        p.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        if p.returncode != 0:
            sys.exit(f"bench: {' '.join(args)} failed ({p.returncode}): {err.read()[-2000:]}")
        return out.read(), secs, ru.ru_maxrss / 1024


def main():
    d = tempfile.mkdtemp(prefix="snapdiff-bench-")
    env = dict(os.environ, MARIADB_BUFFER_POOL=os.environ.get("MARIADB_BUFFER_POOL", "1G"))
    sh(os.path.join(ROOT, "tests/lib/mariadb.sh"), "start", d, env=env)
    try:
        exports = sh(os.path.join(ROOT, "tests/lib/mariadb.sh"), "env", d)
        e = dict(l.split("=", 1) for l in exports.replace("export ", "").split() if "=" in l)
        sock = e["MARIADB_SOCKET"].strip("'\"")
        pwfile = e["MARIADB_PASSWORD_FILE"].strip("'\"")
        t0 = time.monotonic()
        sh(sys.executable, os.path.join(ROOT, "tests/lib/wikiload.py"), "load", "--socket", sock,
           "--db", "benchwiki", "--revision-only", str(ROWS))
        load_s = time.monotonic() - t0
        # warm the buffer pool so the first measured scan is not a cold read
        sh(RAWSCAN, sock, "snapdiff", pwfile, "benchwiki", "revision", "rev_id", "text")

        results = {"rows": ROWS, "load_seconds": round(load_s, 1)}
        for mode in ("text", "binary"):
            out, _, _ = timed([RAWSCAN, sock, "snapdiff", pwfile, "benchwiki", "revision", "rev_id", mode])
            results[f"raw_{mode}_seconds"] = json.loads(out)["seconds"]

        def config(path, pushdown=False):
            cfg = {
                "source": {"socket": sock, "user": "snapdiff", "password_file": pwfile},
                "databases": ["benchwiki"],
                "state": {"path": os.path.join(d, "state.db")},
                "defaults": {"initial_events": "none", "checksum_pushdown": pushdown,
                             "max_delete_fraction": 1.0},
                "tables": ["revision"],
                "sinks": [{"type": "jsonl", "path": os.path.join(d, "events.jsonl")}],
            }
            with open(path, "w") as f:
                json.dump(cfg, f)
            return path

        plain = config(os.path.join(d, "plain.yaml"))
        push = config(os.path.join(d, "push.yaml"), pushdown=True)

        def run(name, cfg):
            out, secs, rss = timed([SNAPDIFF, "run", "--config", cfg, "--quiet"])
            summ = json.loads(out.strip().splitlines()[-1])
            results[name] = {"seconds": round(secs, 3), "peak_rss_mb": round(rss, 1),
                             "inserted": summ["inserted"], "updated": summ["updated"],
                             "deleted": summ["deleted"], "chunks": summ["chunks"],
                             "chunks_skipped": summ["chunks_skipped"],
                             "chunks_unchanged": summ["chunks_unchanged"]}

        run("initial", plain)
        run("nochange", plain)
        run("nochange_pushdown_first", push)   # computes and stores checksums
        run("nochange_pushdown", push)
        n = max(ROWS // 100, 1)
        sql(d, f"UPDATE benchwiki.revision SET rev_len = rev_len + 1 WHERE rev_id <= {n}")
        run("churn1_clustered", plain)
        sql(d, "UPDATE benchwiki.revision SET rev_len = rev_len + 1 WHERE rev_id % 100 = 7")
        run("churn1_scattered", plain)
        sql(d, "UPDATE benchwiki.revision SET rev_len = rev_len + 1 WHERE rev_id % 100 = 11")
        run("churn1_scattered_pushdown", push)

        raw = results["raw_binary_seconds"]
        rawt = results["raw_text_seconds"]
        print(f"\nsnapdiff benchmark, revision table, {ROWS:,} rows (load {load_s:.0f}s)")
        print(f"{'measurement':34} {'seconds':>9} {'rows/s':>12} {'vs raw bin':>10} {'vs raw text':>11} {'peak RSS MB':>12}")
        print(f"{'raw libmariadb, text protocol':34} {rawt:9.2f} {ROWS / rawt:12,.0f} {raw / rawt:10.2f} {1.0:11.2f}")
        print(f"{'raw libmariadb, binary protocol':34} {raw:9.2f} {ROWS / raw:12,.0f} {1.0:10.2f} {rawt / raw:11.2f}")
        for k in ("initial", "nochange", "nochange_pushdown_first", "nochange_pushdown",
                  "churn1_clustered", "churn1_scattered", "churn1_scattered_pushdown"):
            r = results[k]
            s = r["seconds"]
            print(f"{k:34} {s:9.2f} {ROWS / s:12,.0f} {raw / s:10.2f} {rawt / s:11.2f} {r['peak_rss_mb']:12.1f}")
        print("\n(rows/s ratio = raw seconds / snapdiff seconds; >= 1.0 means snapdiff is as fast as the raw scan)")
        print(json.dumps(results))
    finally:
        sh(os.path.join(ROOT, "tests/lib/mariadb.sh"), "stop", d)


if __name__ == "__main__":
    main()
