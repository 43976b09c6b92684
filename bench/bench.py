"""The snapdiff benchmark (make bench): one run, ratios against raw streaming.

Measures, on one throwaway MariaDB and one generated `revision` table:
  raw text / binary protocol streaming (bench/rawscan), snapdiff initial run,
  no-change rerun (with and without checksum pushdown), 1 % churn clustered and
  scattered, peak RSS of each snapdiff run;
  the lake: initial load with the Iceberg mirror on vs the raw binary scan, and
  snapdiff's Parquet writer (bench/pqwrite) vs pyarrow's single-threaded
  write_table of the same rows, same codec (bench/pqbench.py);
  Kafka: an initial load into a real local broker (tests/lib/kafka.sh) vs kcat
  producing the same pre-rendered messages with the same producer settings.
Prints tables and a final JSON line with every number.
"""
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
BUILD = os.environ.get("BUILD", "build")
SNAPDIFF = os.environ.get("SNAPDIFF_BIN", os.path.join(ROOT, "snapdiff"))
RAWSCAN = os.path.join(ROOT, BUILD, "bench", "rawscan")
PQWRITE = os.path.join(ROOT, BUILD, "bench", "pqwrite")
ROWS = int(os.environ.get("BENCH_ROWS", "1000000"))
KAFKA_ROWS = min(int(os.environ.get("BENCH_KAFKA_ROWS", str(ROWS))), ROWS)
KAFKA = os.environ.get("BENCH_KAFKA", "1") != "0"
KCAT = os.environ.get("KCAT", "kcat")
REPEAT = 3   # Parquet writer timings: median of this many
# the same producer settings for snapdiff's sink and for kcat; compression,
# idempotence and acks are also snapdiff's built-in choices
KAFKA_PROPS = {"compression.type": "zstd", "linger.ms": "50", "batch.size": "1000000",
               "batch.num.messages": "10000", "partitioner": "murmur2_random"}


def sh(*args, **kw):
    p = subprocess.run(args, text=True, capture_output=True, **kw)
    if p.returncode != 0:
        sys.exit(f"bench: {' '.join(args)} failed ({p.returncode}): {p.stderr[-2000:]}")
    return p.stdout


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
    kafka = None
    if KAFKA:
        # the broker starts (and on a fresh machine fetches its jars) while the
        # table is generated; it idles through the MariaDB measurements
        kenv = dict(os.environ, KAFKA_JVM_OPTS=os.environ.get("KAFKA_JVM_OPTS", "-Xmx1g -XX:+UseG1GC"))
        kafka = subprocess.Popen([os.path.join(ROOT, "tests/lib/kafka.sh"), "start", os.path.join(d, "kafka")],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=kenv)
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

        lake_bench(d, sock, pwfile, results)
        if kafka:
            kafka_bench(d, sock, pwfile, kafka, results)

        print(f"\nsnapdiff benchmark, revision table, {ROWS:,} rows (load {load_s:.0f}s)")
        print(f"{'measurement':34} {'seconds':>9} {'rows/s':>12} {'vs raw bin':>10} {'vs raw text':>11} {'peak RSS MB':>12}")
        print(f"{'raw libmariadb, text protocol':34} {rawt:9.2f} {ROWS / rawt:12,.0f} {raw / rawt:10.2f} {1.0:11.2f}")
        print(f"{'raw libmariadb, binary protocol':34} {raw:9.2f} {ROWS / raw:12,.0f} {1.0:10.2f} {rawt / raw:11.2f}")
        for k in ("initial", "nochange", "nochange_pushdown_first", "nochange_pushdown",
                  "churn1_clustered", "churn1_scattered", "churn1_scattered_pushdown", "initial_lake"):
            r = results[k]
            s = r["seconds"]
            print(f"{k:34} {s:9.2f} {ROWS / s:12,.0f} {raw / s:10.2f} {rawt / s:11.2f} {r['peak_rss_mb']:12.1f}")
        print("\n(rows/s ratio = raw seconds / snapdiff seconds; >= 1.0 means snapdiff is as fast as the raw scan)")
        print("(initial_lake: initial_events lake, Iceberg mirror on, changelog off, zstd, no event sink; target >= 0.7)")

        p = results["parquet"]
        print(f"\nParquet writer, the mirror's {p['rows']:,} rows read back with pyarrow, {p['codec']} "
              f"level {p['zstd_level']}, one thread, into memory, median of {REPEAT}")
        print(f"(MB/s = Arrow in-memory bytes of the rows, {p['input_mb']:.1f} MB, / write seconds)")
        print(f"{'writer':34} {'seconds':>9} {'MB/s':>9} {'rows/s':>12} {'file MB':>9}")
        for k, label in (("pyarrow", f"pyarrow {p['pyarrow_version']} write_table"),
                         ("snapdiff", "snapdiff lake/parquet.c (pqwrite)")):
            r = p[k]
            print(f"{label:34} {r['seconds']:9.3f} {r['mb_per_s']:9.1f} {p['rows'] / r['seconds']:12,.0f} {r['file_mb']:9.1f}")
        print(f"snapdiff / pyarrow MB/s ratio: {p['ratio']:.2f} (target >= 1.0)")

        if kafka:
            k = results["kafka"]
            note = "" if k["rows"] == ROWS else f" (BENCH_KAFKA_ROWS; the first {k['rows']:,} rows of the table)"
            print(f"\nKafka, local single-node broker, {k['rows']:,} events{note}, 3 partitions, "
                  + ", ".join(f"{a}={b}" for a, b in KAFKA_PROPS.items()) + ", idempotent, acks=all")
            print(f"{'producer':34} {'seconds':>9} {'events/s':>12} {'vs kcat':>8}")
            for key, label in (("snapdiff_kafka", "snapdiff initial load, kafka sink"),
                               ("kcat", "kcat -P, pre-rendered messages"),
                               ("snapdiff_jsonl", "snapdiff initial load, jsonl file")):
                r = k[key]
                print(f"{label:34} {r['seconds']:9.2f} {r['events_per_s']:12,.0f} {k['kcat']['seconds'] / r['seconds']:8.2f}")
            print("(wall time of the whole process, start to exit with everything delivered; snapdiff's "
                  "includes reading MariaDB. kcat sends the same keys and values with the same three "
                  "header names, fixed values; topics are created by a warm-up message before timing)")
        print(json.dumps(results))
    finally:
        if kafka:
            try:
                kafka.communicate(timeout=300)
            except subprocess.TimeoutExpired:
                kafka.kill()
            subprocess.run([os.path.join(ROOT, "tests/lib/kafka.sh"), "stop", os.path.join(d, "kafka")],
                           capture_output=True)
        sh(os.path.join(ROOT, "tests/lib/mariadb.sh"), "stop", d)
        # the table, state, warehouse and broker data: about 1 GB at 1 M rows
        if not os.environ.get("BENCH_KEEP"):
            shutil.rmtree(d, ignore_errors=True)


def write_config(path, cfg):
    with open(path, "w") as f:
        json.dump(cfg, f)
    return path


def base_config(d, sock, pwfile, name, db="benchwiki"):
    return {
        "source": {"socket": sock, "user": "snapdiff", "password_file": pwfile},
        "databases": [db],
        "state": {"path": os.path.join(d, f"{name}.state.db")},
        "defaults": {"initial_events": "all", "max_delete_fraction": 1.0},
        "tables": ["revision"],
    }


def summary(out):
    return json.loads(out.strip().splitlines()[-1])


def lake_bench(d, sock, pwfile, results):
    """Initial load with the lake on (vs the raw scan, in the main table), then
    the Parquet writer alone: snapdiff's vs pyarrow's on the mirror's rows."""
    wh = os.path.join(d, "warehouse")
    cfg = base_config(d, sock, pwfile, "lake")
    cfg["defaults"]["initial_events"] = "lake"
    cfg["lake"] = {"enabled": True, "warehouse": wh, "changelog": False, "codec": "zstd"}
    out, secs, rss = timed([SNAPDIFF, "run", "--config", write_config(os.path.join(d, "lake.yaml"), cfg), "--quiet"])
    summ = summary(out)
    results["initial_lake"] = {"seconds": round(secs, 3), "peak_rss_mb": round(rss, 1),
                               "inserted": summ["inserted"],
                               "vs_raw_binary": round(results["raw_binary_seconds"] / secs, 3)}

    py = sys.executable
    helper = os.path.join(HERE, "pqbench.py")
    files = sh(py, helper, "files", wh, "revision").split()
    if not files:
        sys.exit(f"bench: no mirror data files under {wh}")
    dumpdir = os.path.join(d, "pqdump")
    info = json.loads(sh(py, helper, "dump", dumpdir, *files))
    if info["rows"] != ROWS:
        sys.exit(f"bench: the mirror holds {info['rows']} rows, expected {ROWS}")
    pa_res = json.loads(sh(py, helper, "write", "zstd", str(REPEAT), *files))
    sd_runs = [json.loads(sh(PQWRITE, dumpdir, "zstd")) for _ in range(REPEAT)]
    mb = info["arrow_bytes"] / 1e6
    pa_s = statistics.median(pa_res["seconds"])
    sd_s = statistics.median(r["seconds"] for r in sd_runs)
    results["parquet"] = {
        "rows": info["rows"], "files": len(files), "codec": "zstd", "zstd_level": 3,
        "input_mb": round(mb, 2), "pyarrow_version": pa_res["pyarrow"],
        "pyarrow": {"seconds": round(pa_s, 4), "mb_per_s": round(mb / pa_s, 1),
                    "file_mb": round(pa_res["bytes"] / 1e6, 2),
                    "all_seconds": [round(x, 4) for x in pa_res["seconds"]]},
        "snapdiff": {"seconds": round(sd_s, 4), "mb_per_s": round(mb / sd_s, 1),
                     "file_mb": round(sd_runs[0]["bytes"] / 1e6, 2),
                     "all_seconds": [round(r["seconds"], 4) for r in sd_runs]},
        "ratio": round(pa_s / sd_s, 3),
    }


def topic_count(bootstrap, topic):
    """Messages in topic: the sum of its partitions' end offsets."""
    meta = json.loads(sh(KCAT, "-b", bootstrap, "-L", "-J", "-t", topic))
    parts = [p["partition"] for t in meta["topics"] for p in t["partitions"]]
    n = 0
    for p in parts:
        out = sh(KCAT, "-b", bootstrap, "-Q", "-t", f"{topic}:{p}:-1")
        # "<topic> [<partition>] offset <n>"
        n += int(out.split("offset")[-1].split()[0])
    return n


def kafka_bench(d, sock, pwfile, kafka, results):
    """snapdiff's kafka sink vs kcat producing the same messages, same settings."""
    db = "benchwiki"
    if KAFKA_ROWS < ROWS:
        db = "kbench"
        sql(d, f"CREATE DATABASE kbench; CREATE TABLE kbench.revision LIKE benchwiki.revision; "
               f"INSERT INTO kbench.revision SELECT * FROM benchwiki.revision ORDER BY rev_id LIMIT {KAFKA_ROWS}")

    # the messages, rendered by snapdiff itself into JSON Lines (also timed: the
    # file sink is the baseline of what delivery costs)
    events = os.path.join(d, "kafka-events.jsonl")
    cfg = base_config(d, sock, pwfile, "kjsonl", db)
    cfg["sinks"] = [{"type": "jsonl", "path": events}]
    out, jsonl_s, _ = timed([SNAPDIFF, "run", "--config", write_config(os.path.join(d, "kjsonl.yaml"), cfg), "--quiet"])
    n = summary(out)["inserted"]
    if n != KAFKA_ROWS:
        sys.exit(f"bench: the jsonl run emitted {n} events, expected {KAFKA_ROWS}")
    msgs = os.path.join(d, "kafka-messages.tsv")
    run_id = op = None
    count = 0
    with open(events) as f, open(msgs, "w") as o:
        for line in f:
            line = line.rstrip("\n")
            e = json.loads(line)
            if run_id is None:
                run_id, op = str(e.get("run_id", "")), str(e.get("op", "insert"))
            o.write(json.dumps(e["key"], separators=(",", ":")) + "\t" + line + "\n")
            count += 1
    os.unlink(events)

    bout, berr = kafka.communicate(timeout=600)
    if kafka.returncode != 0:
        sys.exit(f"bench: kafka.sh start failed ({kafka.returncode}): {berr[-2000:]}")
    bootstrap = bout.strip().splitlines()[-1]
    sd_topic, kc_topic = f"sdbench.{db}.revision", "kcatbench"
    props = [a for k, v in KAFKA_PROPS.items() for a in ("-X", f"{k}={v}")]
    props += ["-X", "enable.idempotence=true", "-X", "acks=all"]
    for t in (sd_topic, kc_topic):   # auto-creates the topic, outside the timing
        subprocess.run([KCAT, "-P", "-b", bootstrap, "-t", t, "-K", "\t", *props], check=True,
                       input='{"warmup":1}\twarmup\n', text=True, capture_output=True, timeout=120)
    # wait until the new topics' partitions all have leaders
    for t in (sd_topic, kc_topic):
        deadline = time.monotonic() + 60
        while True:
            meta = json.loads(sh(KCAT, "-b", bootstrap, "-L", "-J", "-t", t))
            ps = [p for x in meta["topics"] for p in x["partitions"]]
            if ps and all(p.get("leader", -1) >= 0 for p in ps):
                break
            if time.monotonic() > deadline:
                sys.exit(f"bench: topic {t} has no leaders after 60 s")
            time.sleep(0.5)

    cfg = base_config(d, sock, pwfile, "kafka", db)
    cfg["sinks"] = [{"type": "kafka", "brokers": bootstrap, "topic_prefix": "sdbench",
                     "envelope": "native", "properties": dict(KAFKA_PROPS)}]
    out, sd_s, sd_rss = timed([SNAPDIFF, "run", "--config", write_config(os.path.join(d, "kafka.yaml"), cfg), "--quiet"])
    if summary(out)["inserted"] != KAFKA_ROWS:
        sys.exit(f"bench: the kafka run emitted {summary(out)['inserted']} events, expected {KAFKA_ROWS}")

    headers = ["-H", f"snapdiff-run-id={run_id}", "-H", "snapdiff-event-id=" + "0" * 32,
               "-H", f"snapdiff-op={op}"]
    _, kc_s, _ = timed([KCAT, "-P", "-b", bootstrap, "-t", kc_topic, "-K", "\t", *props, *headers, "-l", msgs])
    os.unlink(msgs)

    got = {t: topic_count(bootstrap, t) - 1 for t in (sd_topic, kc_topic)}
    for t, c in got.items():
        if c != KAFKA_ROWS:
            sys.exit(f"bench: topic {t} holds {c} messages after the run, expected {KAFKA_ROWS}")
    results["kafka"] = {
        "rows": KAFKA_ROWS, "properties": KAFKA_PROPS,
        "snapdiff_kafka": {"seconds": round(sd_s, 3), "events_per_s": round(KAFKA_ROWS / sd_s),
                           "peak_rss_mb": round(sd_rss, 1)},
        "kcat": {"seconds": round(kc_s, 3), "events_per_s": round(KAFKA_ROWS / kc_s)},
        "snapdiff_jsonl": {"seconds": round(jsonl_s, 3), "events_per_s": round(KAFKA_ROWS / jsonl_s)},
        "ratio": round(kc_s / sd_s, 3),
    }


if __name__ == "__main__":
    main()
