#!/usr/bin/env bash
# tests/lib/run-integration.sh — run the integration tests (tests/integration) with
# the venv's pytest (made by tests/lib/deps.sh). Services the tests need (MariaDB,
# Kafka) are started by their fixtures; one that cannot start makes its tests FAIL,
# never skip. Extra arguments go to pytest (e.g. -k edit, -x).
# Environment: SNAPDIFF_BIN (the binary under test; default ./snapdiff at the repo
# root), SNAPDIFF_CACHE (where deps.sh keeps the venv).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
PY="$("$ROOT/tests/lib/deps.sh" --print-python)"
[[ -x "$PY" ]] || { echo "run-integration: no venv at $PY: run tests/lib/deps.sh (make deps)" >&2; exit 1; }

export SNAPDIFF_BIN="${SNAPDIFF_BIN:-$ROOT/snapdiff}"
[[ "$SNAPDIFF_BIN" = /* ]] || SNAPDIFF_BIN="$PWD/$SNAPDIFF_BIN"
export PYTHONDONTWRITEBYTECODE=1

cd "$ROOT"
# Spark (pyspark + the Iceberg runtime jar, cached) reads back the lake tables;
# the Spark tests are required here, never skipped.
"$ROOT/tests/lib/spark.sh"
export SNAPDIFF_REQUIRE_SPARK=1
set +e
"$PY" -m pytest tests/integration tests/lake -q -ra -p no:cacheprovider "$@"
rc=$?
set -e
# pytest exits 5 when it collected no test: that is a failure here too.
exit "$rc"
