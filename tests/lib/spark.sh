#!/usr/bin/env bash
# tests/lib/spark.sh — optional: makes Apache Spark with Iceberg available to the
# lake read-back tests (tests/lake/test_iceberg_spark.py):
#   1. pyspark into the tests' venv (${SNAPDIFF_CACHE:-$HOME/.cache/snapdiff}/venv),
#      only when it is missing or has another version;
#   2. the Iceberg Spark runtime jar and the SQLite JDBC driver (for Iceberg's
#      JdbcCatalog on the same SQLite catalog file snapdiff writes) into
#      ${SNAPDIFF_CACHE}/spark-jars, fetched once with Maven and kept.
# Versions must match each other: pyspark 3.5.x <-> iceberg-spark-runtime-3.5_2.12.
# Needs java (17) and mvn. Idempotent: when all is present it only checks.
# `tests/lib/spark.sh --print-jars` prints the jar paths, comma-separated.
set -euo pipefail

PYSPARK_VERSION=3.5.8
ICEBERG_VERSION=1.10.1
SQLITE_JDBC_VERSION=3.50.3.0

CACHE="${SNAPDIFF_CACHE:-${HOME:-/root}/.cache/snapdiff}"
VENV="$CACHE/venv"
JARS="$CACHE/spark-jars"
RUNTIME="iceberg-spark-runtime-3.5_2.12-$ICEBERG_VERSION.jar"
SQLITE="sqlite-jdbc-$SQLITE_JDBC_VERSION.jar"

log() { printf 'spark: %s\n' "$*" >&2; }

if [[ "${1:-}" == "--print-jars" ]]; then
    printf '%s,%s\n' "$JARS/$RUNTIME" "$JARS/$SQLITE"
    exit 0
fi

[[ -x "$VENV/bin/python" ]] || { log "no venv at $VENV: run tests/lib/deps.sh first"; exit 1; }
command -v java >/dev/null 2>&1 || { log "java not found"; exit 1; }

have="$("$VENV/bin/python" -c 'import importlib.metadata as m; print(m.version("pyspark"))' 2>/dev/null || true)"
if [[ "$have" != "$PYSPARK_VERSION" ]]; then
    log "installing pyspark $PYSPARK_VERSION into $VENV"
    PIP_CACHE_DIR="$CACHE/pip" PIP_DISABLE_PIP_VERSION_CHECK=1 \
        "$VENV/bin/python" -m pip install -q --no-input "pyspark==$PYSPARK_VERSION" >&2
fi

fetch() { # groupId artifactId version file
    [[ -s "$JARS/$4" ]] && return 0
    command -v mvn >/dev/null 2>&1 || { log "mvn not found"; exit 1; }
    log "fetching $1:$2:$3"
    mkdir -p "$JARS"
    mvn -q -B -Dstyle.color=never dependency:copy -Dartifact="$1:$2:$3:jar" -DoutputDirectory="$JARS" \
        -Dmdep.overWriteReleases=false >&2
    [[ -s "$JARS/$4" ]] || { log "maven did not produce $JARS/$4"; exit 1; }
}
fetch org.apache.iceberg iceberg-spark-runtime-3.5_2.12 "$ICEBERG_VERSION" "$RUNTIME"
fetch org.xerial sqlite-jdbc "$SQLITE_JDBC_VERSION" "$SQLITE"
