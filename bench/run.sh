#!/usr/bin/env bash
# bench/run.sh — `make bench`: start a throwaway MariaDB, generate a
# MediaWiki-shaped revision table and print snapdiff's rates next to raw
# libmariadb streaming of the same table, all measured in this one run.
# BENCH_ROWS (default 1000000) sets the table size.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
venv=${SNAPDIFF_CACHE:-$HOME/.cache/snapdiff}/venv
exec "$venv/bin/python" "$here/bench/bench.py" "$@"
