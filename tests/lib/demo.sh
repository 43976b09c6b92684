#!/usr/bin/env bash
# tests/lib/demo.sh — `make demo`: an end-to-end walk-through on a throwaway MariaDB.
# Starts a server in a temporary directory, loads a small MediaWiki-shaped wiki
# (tests/lib/wikiload.py), writes a snapdiff configuration for it, makes some edits,
# deletes and moves, and shows the commands to run. The server is stopped at the
# end unless DEMO_KEEP=1 (then its directory and `tests/lib/mariadb.sh stop DIR`
# are printed).
# With DEMO_KAFKA=1 a real single-node Kafka (tests/lib/kafka.sh) is started too and
# the events also go to it; the demo ends by consuming them back with kcat.
# With DEMO_SCHEDULER=1 the demo ends with a minute (DEMO_SCHEDULER_SECONDS) of the
# scheduler daemon running micro-batches every 5 s while wikiload keeps editing.
# Environment: DEMO_DIR (default: a new /tmp/snapdiff-demo.XXXXXX), DEMO_PAGES (200),
# DEMO_REVS (3), DEMO_SEED (1), DEMO_KEEP, SNAPDIFF_BIN (default ./snapdiff).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
PY="$("$ROOT/tests/lib/deps.sh" --print-python)"
MARIADB_SH="$ROOT/tests/lib/mariadb.sh"
WIKILOAD=("$PY" "$ROOT/tests/lib/wikiload.py")
SNAPDIFF="${SNAPDIFF_BIN:-$ROOT/snapdiff}"
DEMO_DIR="${DEMO_DIR:-$(mktemp -d /tmp/snapdiff-demo.XXXXXX)}"
DEMO_DB="enwiki"
DEMO_PAGES="${DEMO_PAGES:-200}"
DEMO_REVS="${DEMO_REVS:-3}"
DEMO_SEED="${DEMO_SEED:-1}"
CONFIG="$DEMO_DIR/snapdiff.yaml"

say() { printf '\n== %s\n' "$*"; }
show() { printf '$ %s\n' "$*"; }

# Start the throwaway server in $DEMO_DIR/db; exports MARIADB_SOCKET, MARIADB_PORT,
# MARIADB_PASSWORD_FILE.
demo_start_db() {
    say "starting a throwaway MariaDB in $DEMO_DIR/db"
    "$MARIADB_SH" start "$DEMO_DIR/db"
    eval "$("$MARIADB_SH" env "$DEMO_DIR/db")"
}

demo_stop_db() {
    if [[ -n "${DEMO_KEEP:-}" ]]; then
        say "server left running: $MARIADB_SH stop $DEMO_DIR/db"
        return
    fi
    "$MARIADB_SH" stop "$DEMO_DIR/db" || true
}

# Load $DEMO_PAGES pages x $DEMO_REVS revisions into $DEMO_DB.
demo_load() {
    say "loading $DEMO_PAGES pages x $DEMO_REVS revisions into $DEMO_DB"
    "${WIKILOAD[@]}" load --socket "$MARIADB_SOCKET" --db "$DEMO_DB" --drop \
        --pages "$DEMO_PAGES" --revs-per-page "$DEMO_REVS" --seed "$DEMO_SEED"
}

# Write the snapdiff configuration for the demo database (events to a JSONL file).
demo_config() {
    say "configuration $CONFIG"
    cat >"$CONFIG" <<YAML
source:
  socket: $MARIADB_SOCKET
  user: snapdiff
  password_file: $MARIADB_PASSWORD_FILE
databases: [$DEMO_DB]
state:
  path: $DEMO_DIR/state.db
tables:
  - page:
      ignore_columns: [page_touched, page_links_updated]
  - revision
  - slots
  - content
  - comment
  - actor
  - user:
      exclude_columns: [user_password, user_newpassword, user_token, user_email_token]
      ignore_columns: [user_touched]
  - archive
  - logging
  - categorylinks
  - page_props
mediawiki:
  page_change: true
  domains: {$DEMO_DB: en.wikipedia.org}
lake:
  enabled: true
  warehouse: $DEMO_DIR/warehouse
sinks:
  - type: jsonl
    path: $DEMO_DIR/events.jsonl
YAML
    if [[ -n "${KAFKA_BOOTSTRAP:-}" ]]; then
        cat >>"$CONFIG" <<YAML
  - type: kafka
    brokers: $KAFKA_BOOTSTRAP
    topic_prefix: demo
YAML
    fi
    cat "$CONFIG"
}

# Some wiki activity: edits, a page creation, a move and a delete (seeded).
demo_edits() {
    say "wiki activity: 5 edits, 1 new page, 1 move, 1 delete"
    local w=("${WIKILOAD[@]}")
    local c=(--socket "$MARIADB_SOCKET" --db "$DEMO_DB" --seed "$DEMO_SEED")
    "${w[@]}" edit "${c[@]}" --count 5
    "${w[@]}" create "${c[@]}" --title "Demo_page"
    "${w[@]}" move "${c[@]}" --page-id 3 --to "Moved_by_the_demo"
    "${w[@]}" delete "${c[@]}" --page-id 4
}

# Runs snapdiff; the JSON summary goes to the screen, pretty-printed.
demo_run() {
    show "snapdiff run --config $CONFIG $*"
    "$SNAPDIFF" run --config "$CONFIG" --quiet "$@" | "$PY" -c '
import json, sys
s = json.loads(sys.stdin.read().strip().splitlines()[-1])
print("status %s: %d rows scanned in %d chunks (%d unchanged), +%d inserted ~%d updated -%d deleted, %.2fs"
      % (s["status"], s["rows_scanned"], s["chunks"], s["chunks_unchanged"], s["inserted"],
         s["updated"], s["deleted"], s["seconds"]))
for t in s["tables"]:
    if t["inserted"] or t["updated"] or t["deleted"] or t["status"] != "ok":
        print("  %-14s %-8s +%-6d ~%-6d -%-6d run %s" % (t["table"], t["status"], t["inserted"],
              t["updated"], t["deleted"], t["run_id"]))'
}

# Prints the events of the last run, one line each, and one full event.
demo_show_events() {
    say "the change events of the second run ($DEMO_DIR/events.jsonl)"
    "$PY" - "$DEMO_DIR/events.jsonl" "$1" <<'PY'
import json, sys
lines = open(sys.argv[1]).read().splitlines()[int(sys.argv[2]):]
evs = [json.loads(l) for l in lines]
rows = [e for e in evs if "op" in e]
pcs = [e for e in evs if "page_change_kind" in e]
print("row events (%d):" % len(rows))
for e in rows:
    img = e.get("after") or {}
    hint = ""
    for col in ("page_title", "rev_page", "ar_title", "comment_text", "log_type"):
        if col in img:
            hint = "%s=%s" % (col, json.dumps(img[col], ensure_ascii=False)[:40])
            break
    print("  %-6s %-10s %-40s %s" % (e["op"], e["table"], json.dumps(e["key"]), hint))
print("\nMediaWiki page_change events (%d):" % len(pcs))
for e in pcs:
    p = e["page"]
    prior = e.get("prior_state", {}).get("page", {})
    extra = (" (was %s)" % prior["page_title"]) if "page_title" in prior else ""
    print("  %-18s page %-4s %s%s  rev %s  by %s: %s" % (
        e["page_change_kind"], p["page_id"], p["page_title"], extra,
        e["revision"]["rev_id"], (e.get("performer") or {}).get("user_text", "?"),
        (e["revision"].get("comment") or "")[:50]))
pick = next((e for e in pcs if e["page_change_kind"] == "move"), pcs[0] if pcs else None)
if pick:
    print("\none page_change event in full:")
    print(json.dumps(pick, indent=2, ensure_ascii=False))
PY
}

demo_start_kafka() {
    say "starting a single-node Apache Kafka (KRaft) in $DEMO_DIR/kafka"
    KAFKA_BOOTSTRAP=$("$ROOT/tests/lib/kafka.sh" start "$DEMO_DIR/kafka" | tail -1)
    export KAFKA_BOOTSTRAP
}

demo_show_kafka() {
    say "the same events, read back from Kafka topic demo.$DEMO_DB.page"
    show "kcat -b $KAFKA_BOOTSTRAP -C -t demo.$DEMO_DB.page -e -f '%k %s\n' | tail -3"
    kcat -b "$KAFKA_BOOTSTRAP" -C -t "demo.$DEMO_DB.page" -e -q -f '%k  %s\n' 2>/dev/null | tail -3 | cut -c1-200
}

# Reads the Iceberg tables back with pyiceberg: what any engine would see.
demo_show_lake() {
    say "the lake: Iceberg tables read back with pyiceberg ($DEMO_DIR/warehouse)"
    "$PY" - "$DEMO_DIR/warehouse" "$DEMO_DB" <<'PY'
import sys
from pyiceberg.catalog.sql import SqlCatalog
wh, db = sys.argv[1], sys.argv[2]
cat = SqlCatalog("snapdiff", uri=f"sqlite:///{wh}/catalog.db", warehouse=f"file://{wh}")
print("tables:", ", ".join(".".join(t) for t in cat.list_tables("mediawiki")))
page = cat.load_table("mediawiki.page")
rows = page.scan(selected_fields=("_db", "page_id", "page_namespace", "page_title", "page_latest")).to_arrow()
print(f"mediawiki.page (mirror): {rows.num_rows} rows, {len(page.snapshots())} snapshots")
for r in sorted(rows.to_pylist(), key=lambda r: r["page_id"])[:4]:
    r["page_title"] = r["page_title"].decode("utf-8", "replace")
    print("  ", r)
hist = page.snapshots()
if len(hist) > 1:
    old = page.scan(snapshot_id=hist[-2].snapshot_id, selected_fields=("page_id",)).to_arrow().num_rows
    print(f"time travel to the previous snapshot ({hist[-2].summary.get('snapdiff.run-id')}): {old} rows")
cl = cat.load_table("mediawiki.page__changelog").scan(selected_fields=("_op", "_run_id", "page_id")).to_arrow()
ops = {}
for r in cl.to_pylist():
    ops[(r["_run_id"], r["_op"])] = ops.get((r["_run_id"], r["_op"]), 0) + 1
print("mediawiki.page__changelog:", ", ".join(f"{k[0]} {k[1]}={v}" for k, v in sorted(ops.items())))
PY
}

# A minute of micro-batches: the daemon runs every table every 5 s while the
# wiki keeps changing; /metrics shows what it picked up.
demo_scheduler() {
    local secs="${DEMO_SCHEDULER_SECONDS:-60}" port
    port=$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    say "the scheduler daemon: micro-batches every 5 s for ${secs}s while the wiki is edited"
    sed -e 's/^defaults:.*//' "$CONFIG" >"$DEMO_DIR/scheduled.yaml"
    cat >>"$DEMO_DIR/scheduled.yaml" <<YAML
defaults:
  every: 5
  jitter: 1
scheduler:
  listen: 127.0.0.1:$port
YAML
    show "snapdiff scheduler --config $DEMO_DIR/scheduled.yaml"
    "$SNAPDIFF" scheduler --config "$DEMO_DIR/scheduled.yaml" 2>"$DEMO_DIR/scheduler.log" &
    local sched=$!
    "${WIKILOAD[@]}" random --socket "$MARIADB_SOCKET" --db "$DEMO_DB" --seed 7 \
        --count $((secs * 2)) --pause 0.5 >/dev/null &
    local load=$!
    local t=0
    while (( t < secs )); do
        sleep 10
        t=$((t + 10))
        printf '  after %3ss: ' "$t"
        "$PY" - "$port" <<'PY'
import sys, urllib.request
text = urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/metrics", timeout=5).read().decode()
val = lambda name: sum(float(l.rsplit(" ", 1)[1]) for l in text.splitlines() if l.startswith(name))
print("%d runs, %d changes picked up" % (val("snapdiff_runs_total"), val("snapdiff_changes_total")))
PY
    done
    show "GET http://127.0.0.1:$port/metrics  (freshness per table)"
    "$PY" -c 'import sys, urllib.request; print("\n".join(l for l in urllib.request.urlopen("http://127.0.0.1:%s/metrics" % sys.argv[1], timeout=5).read().decode().splitlines() if l.startswith("snapdiff_freshness_lag_seconds"))[:600])' "$port"
    kill "$load" 2>/dev/null || true
    kill -TERM "$sched" 2>/dev/null || true
    wait "$sched" 2>/dev/null || true
    "$SNAPDIFF" status --config "$CONFIG" | head -6
}

demo_cleanup() {
    [[ -n "${KAFKA_BOOTSTRAP:-}" ]] && "$ROOT/tests/lib/kafka.sh" stop "$DEMO_DIR/kafka" >/dev/null 2>&1
    demo_stop_db
}

demo_main() {
    [[ -x "$SNAPDIFF" ]] || { echo "demo: $SNAPDIFF is not built (make snapdiff)" >&2; exit 1; }
    trap demo_cleanup EXIT
    [[ -n "${DEMO_KAFKA:-}" ]] && demo_start_kafka
    demo_start_db
    demo_load
    demo_config
    show "snapdiff config check --config $CONFIG"
    "$SNAPDIFF" config check --config "$CONFIG" >/dev/null
    say "first run: the initial snapshot (every row an insert event)"
    demo_run
    local before
    before=$(wc -l <"$DEMO_DIR/events.jsonl")
    say "a run with no changes: every chunk is recognised by one hash comparison"
    demo_run
    demo_edits
    say "second run after the wiki activity: only what changed"
    demo_run
    demo_show_events "$before"
    say "state"
    show "snapdiff status --config $CONFIG"
    "$SNAPDIFF" status --config "$CONFIG"
    [[ -n "${KAFKA_BOOTSTRAP:-}" ]] && demo_show_kafka
    demo_show_lake
    [[ -n "${DEMO_SCHEDULER:-}" ]] && demo_scheduler
    return 0
}

demo_main "$@"
