#!/usr/bin/env bash
# bench/run.sh — `make bench`: start a throwaway MariaDB, generate a
# MediaWiki-shaped revision table and print snapdiff's rates next to raw
# libmariadb streaming of the same table, all measured in this one run.
# BENCH_ROWS (default 1000000) sets the table size. Also measured (bench/bench.py):
# the initial load with the Iceberg lake on, snapdiff's Parquet writer against
# pyarrow's (bench/pqwrite.c, bench/pqbench.py), and the Kafka sink against kcat
# on a local broker (tests/lib/kafka.sh; KAFKA_JVM_OPTS defaults to
# "-Xmx1g -XX:+UseG1GC"). BENCH_KAFKA_ROWS (default BENCH_ROWS) limits the Kafka
# part to the table's first N rows; BENCH_KAFKA=0 skips it.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
venv=${SNAPDIFF_CACHE:-$HOME/.cache/snapdiff}/venv
exec "$venv/bin/python" "$here/bench/bench.py" "$@"
