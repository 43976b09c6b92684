#!/usr/bin/env bash
# bench/kafka-bench.sh — what the Kafka sink costs: the same initial load of a
# MediaWiki-shaped revision table delivered to a JSON Lines file and to a real
# local Kafka broker (native, Debezium, transactional), each timed by snapdiff's
# own summary, printed with its rate and its ratio to the JSONL baseline.
#
# Everything runs on this machine: a throwaway MariaDB (tests/lib/mariadb.sh)
# and a single-node Kafka (tests/lib/kafka.sh), both stopped at the end.
# KBENCH_ROWS (default 200000) sets the table size; KBENCH_DIR keeps the
# working directory (default: a temporary one, removed afterwards).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
ROWS=${KBENCH_ROWS:-200000}
BIN=${SNAPDIFF_BIN:-$ROOT/snapdiff}
PY=$("$ROOT/tests/lib/deps.sh" --print-python)
WORK=${KBENCH_DIR:-$(mktemp -d /tmp/kafka-bench.XXXXXX)}
# a benchmark wants the broker's steady-state speed, not its fastest start
export KAFKA_JVM_OPTS=${KAFKA_JVM_OPTS:--Xmx1g -XX:+UseG1GC}

cleanup() {
	"$ROOT/tests/lib/kafka.sh" stop "$WORK/kafka" >/dev/null 2>&1 || true
	"$ROOT/tests/lib/mariadb.sh" stop "$WORK/db" >/dev/null 2>&1 || true
	[ -n "${KBENCH_DIR:-}" ] || rm -rf "$WORK"
}
trap cleanup EXIT

[ -x "$BIN" ] || { echo "kafka-bench: no snapdiff binary at $BIN (make)" >&2; exit 1; }
"$ROOT/tests/lib/mariadb.sh" start "$WORK/db" >&2
t0=$(date +%s.%N)
bootstrap=$("$ROOT/tests/lib/kafka.sh" start "$WORK/kafka")
echo "kafka-bench: broker $bootstrap up in $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }') s" >&2
"$PY" "$ROOT/tests/lib/wikiload.py" load --socket "$WORK/db/mysqld.sock" --db kbench \
	--revision-only "$ROWS" --drop >&2

# config NAME SINK-JSON [DEFAULTS-JSON]: one configuration per variant, each
# with its own state so every run is an initial load. JSON is valid YAML.
config() {
	cat >"$WORK/$1.yaml" <<EOF
{"source": {"socket": "$WORK/db/mysqld.sock", "user": "snapdiff",
            "password_file": "$WORK/db/password"},
 "databases": ["kbench"],
 "state": {"path": "$WORK/$1.state.db"},
 "defaults": ${3:-{\}},
 "tables": ["revision"],
 "sinks": [$2]}
EOF
}

config jsonl '{"type": "jsonl", "path": "'"$WORK"'/events.jsonl"}'
config kafka '{"type": "kafka", "brokers": "'"$bootstrap"'", "topic_prefix": "native"}'
config debezium '{"type": "kafka", "brokers": "'"$bootstrap"'", "topic_prefix": "dbz",
                  "envelope": "debezium"}' '{"keep_images": true}'
config txn '{"type": "kafka", "brokers": "'"$bootstrap"'", "topic_prefix": "txn",
             "transactional": true}'
config jsonl_images '{"type": "jsonl", "path": "'"$WORK"'/events2.jsonl"}' '{"keep_images": true}'

printf '%-22s %10s %9s %12s %8s\n' variant rows seconds rows/s ratio
base=""
for v in jsonl kafka txn jsonl_images debezium; do
	out=$(timeout 1800 "$BIN" run --config "$WORK/$v.yaml" 2>"$WORK/$v.err" | tail -1) || {
		echo "kafka-bench: $v failed: $(tail -3 "$WORK/$v.err")" >&2
		exit 1
	}
	read -r rows secs < <(echo "$out" | "$PY" -c 'import json,sys; s=json.load(sys.stdin); print(s["inserted"], s["seconds"])')
	# the Debezium variant needs keep_images, so it is compared with JSONL
	# under the same setting
	case $v in
	jsonl | jsonl_images) ref=$secs; [ $v = jsonl ] && base=$secs ;;
	esac
	awk -v v="$v" -v n="$rows" -v s="$secs" -v r="${ref:-$base}" \
		'BEGIN { printf "%-22s %10d %9.2f %12d %7.2fx\n", v, n, s, n / s, s / r }'
done
