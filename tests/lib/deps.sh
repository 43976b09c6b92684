#!/usr/bin/env bash
# tests/lib/deps.sh — install everything `make test`, `make demo` and `make bench`
# need on a Debian 12 machine (run as root, or with sudo available):
#   1. the Debian packages (checked with dpkg-query first; apt-get only when
#      something is missing, `apt-get update` once, then one install);
#   2. a Python venv at ${SNAPDIFF_CACHE:-$HOME/.cache/snapdiff}/venv built from
#      tests/requirements.txt, rebuilt only when that file (or python3) changes.
#      pip's download cache lives in the same cache dir, outside the clone, so a
#      fresh clone on the same machine downloads nothing.
# Idempotent; when everything is present it only checks (well under a second).
# Prints nothing on stdout, a few short progress lines on stderr.
# `tests/lib/deps.sh --print-python` only prints the venv's python path.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
CACHE="${SNAPDIFF_CACHE:-${HOME:-/root}/.cache/snapdiff}"
VENV="$CACHE/venv"
REQ="$ROOT/tests/requirements.txt"

log() { printf 'deps: %s\n' "$*" >&2; }

if [[ "${1:-}" == "--print-python" ]]; then
    printf '%s\n' "$VENV/bin/python"
    exit 0
fi

PKGS=(build-essential pkg-config libmariadb-dev libsqlite3-dev sqlite3 libyaml-dev
      libxxhash-dev libjansson-dev librdkafka-dev kcat libmicrohttpd-dev
      libcurl4-openssl-dev libsnappy-dev libzstd-dev mariadb-server mariadb-client
      python3 python3-venv valgrind maven)

# --- 1. Debian packages -------------------------------------------------------
missing=()
if command -v dpkg-query >/dev/null 2>&1; then
    # One dpkg-query call for all packages; unknown packages print nothing.
    installed="$(dpkg-query -W -f='${Package} ${db:Status-Status}\n' "${PKGS[@]}" 2>/dev/null || true)"
    for p in "${PKGS[@]}"; do
        grep -qx "$p installed" <<<"$installed" || missing+=("$p")
    done
    # A headless JDK, unless some java already works (e.g. a preinstalled one).
    if ! java -version >/dev/null 2>&1; then
        missing+=(default-jdk-headless)
    fi
else
    log "no dpkg-query: not a Debian system, skipping system packages (install them yourself)"
fi

if ((${#missing[@]})); then
    SUDO=()
    if [[ "$(id -u)" != 0 ]]; then
        command -v sudo >/dev/null 2>&1 || { log "need root (or sudo) to install: ${missing[*]}"; exit 1; }
        SUDO=(sudo)
    fi
    log "installing Debian packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    "${SUDO[@]}" apt-get update -qq >&2
    "${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" </dev/null >&2
fi

# --- 2. Python venv -----------------------------------------------------------
PY="$(command -v python3 || true)"
[[ -n "$PY" ]] || { log "python3 not found"; exit 1; }
mkdir -p "$CACHE"
# The stamp covers the requirements and the interpreter the venv was made from.
want="$( { cat "$REQ"; "$PY" -c 'import sys; print(sys.version, sys.executable)'; } | sha256sum | cut -d' ' -f1)"
have="$(cat "$VENV/.snapdiff-stamp" 2>/dev/null || true)"
if [[ "$want" != "$have" || ! -x "$VENV/bin/python" ]]; then
    log "building Python venv in $VENV (from $REQ)"
    rm -rf "$VENV"
    "$PY" -m venv "$VENV"
    export PIP_CACHE_DIR="$CACHE/pip" PIP_DISABLE_PIP_VERSION_CHECK=1
    "$VENV/bin/python" -m pip install -q --no-input -r "$REQ" >&2
    printf '%s\n' "$want" >"$VENV/.snapdiff-stamp"
    log "venv ready"
fi
