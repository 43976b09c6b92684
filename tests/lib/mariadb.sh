#!/usr/bin/env bash
# tests/lib/mariadb.sh — a throwaway MariaDB server in a directory, for the
# integration tests, the demo and the benchmark. Nothing outside DIR is touched.
#
#   tests/lib/mariadb.sh start DIR   initialise DIR/data (first time), start mariadbd on
#                                    DIR/mysqld.sock and a free 127.0.0.1 port, create
#                                    the user snapdiff (password in DIR/password, 0600)
#   tests/lib/mariadb.sh stop DIR    clean shutdown (bounded), then SIGKILL if needed
#   tests/lib/mariadb.sh env DIR     print shell exports MARIADB_SOCKET, MARIADB_PORT,
#                                    MARIADB_PASSWORD_FILE (eval "$(... env DIR)")
#   tests/lib/mariadb.sh client DIR [mariadb args...]   the mariadb client as root
#
# root@localhost has no password and is reachable over the socket only (the
# server listens on 127.0.0.1). Binary log on (ROW), server time zone UTC.
# Durability knobs are relaxed (it is a test server) so that bulk loads are fast.
# Environment: MARIADB_BUFFER_POOL (default 256M; the benchmark may want 1G),
# MARIADB_START_TIMEOUT / MARIADB_STOP_TIMEOUT (seconds, 60 / 30).
set -euo pipefail

die() { printf 'mariadb.sh: %s\n' "$*" >&2; exit 1; }
log() { printf 'mariadb.sh: %s\n' "$*" >&2; }

cmd="${1:-}"; dir="${2:-}"
[[ -n "$cmd" && -n "$dir" ]] || die "usage: $0 start|stop|env|client DIR"
mkdir -p "$dir"
dir="$(cd "$dir" && pwd)"
SOCK="$dir/mysqld.sock"
PIDF="$dir/mysqld.pid"
ERRLOG="$dir/error.log"
START_TIMEOUT="${MARIADB_START_TIMEOUT:-60}"
STOP_TIMEOUT="${MARIADB_STOP_TIMEOUT:-30}"

find_bin() { # first of the given names found in PATH or /usr/sbin
    local n
    for n in "$@"; do
        if command -v "$n" >/dev/null 2>&1; then command -v "$n"; return; fi
        if [[ -x "/usr/sbin/$n" ]]; then echo "/usr/sbin/$n"; return; fi
    done
    return 1
}

running_pid() { # print the server's pid if it is alive
    local pid
    [[ -s "$PIDF" ]] || return 1
    pid="$(cat "$PIDF")"
    [[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null && echo "$pid"
}

client() { "$(find_bin mariadb mysql)" --no-defaults --protocol=socket --socket="$SOCK" -uroot "$@"; }

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

error_tail() { [[ -f "$ERRLOG" ]] && { echo "--- tail of $ERRLOG ---"; tail -n 30 "$ERRLOG"; } >&2 || true; }

do_start() {
    if running_pid >/dev/null; then log "already running in $dir"; return 0; fi
    local mysqld install_db
    mysqld="$(find_bin mariadbd mysqld)" || die "mariadbd not found (run tests/lib/deps.sh)"
    install_db="$(find_bin mariadb-install-db mysql_install_db)" || die "mariadb-install-db not found"
    local userarg=()
    [[ "$(id -u)" == 0 ]] && userarg=(--user=root)

    if [[ ! -d "$dir/data/mysql" ]]; then
        rm -rf "$dir/data"
        "$install_db" --no-defaults "${userarg[@]}" --datadir="$dir/data" \
            --auth-root-authentication-method=normal --skip-test-db \
            --skip-name-resolve >"$dir/install.log" 2>&1 \
            || { cat "$dir/install.log" >&2; die "mariadb-install-db failed"; }
    fi

    local attempt port pid waited
    for attempt in 1 2 3; do
        port="$(free_port)"
        rm -f "$SOCK" "$PIDF"
        # setsid + all fds redirected: the server outlives this script and holds
        # no pipe of the caller (pytest's subprocess capture, make's output).
        setsid "$mysqld" --no-defaults "${userarg[@]}" \
            --datadir="$dir/data" --socket="$SOCK" --pid-file="$PIDF" \
            --port="$port" --bind-address=127.0.0.1 --log-error="$ERRLOG" \
            --log-bin="$dir/binlog" --server-id=1 --binlog-format=ROW \
            --innodb-buffer-pool-size="${MARIADB_BUFFER_POOL:-256M}" --innodb-log-file-size=256M \
            --innodb-flush-log-at-trx-commit=2 --sync-binlog=0 --innodb-doublewrite=0 \
            --skip-name-resolve --max-allowed-packet=64M \
            --character-set-server=utf8mb4 --collation-server=utf8mb4_general_ci \
            --default-time-zone=+00:00 \
            </dev/null >>"$dir/mysqld.out" 2>&1 &
        pid=$!
        waited=0
        while (( waited < START_TIMEOUT * 10 )); do
            if ! kill -0 "$pid" 2>/dev/null; then break; fi
            if [[ -S "$SOCK" ]] && client -e 'SELECT 1' >/dev/null 2>&1; then
                echo "$port" >"$dir/port"
                [[ -s "$PIDF" ]] || echo "$pid" >"$PIDF"
                setup_users
                log "started in $dir (pid $pid, port $port, socket $SOCK)"
                return 0
            fi
            sleep 0.1; waited=$((waited + 1))
        done
        if kill -0 "$pid" 2>/dev/null; then
            kill -KILL "$pid" 2>/dev/null || true
            error_tail
            die "mariadbd did not answer within ${START_TIMEOUT}s"
        fi
        # It exited: retry with another port only if the port was the problem.
        if grep -q -e 'Address already in use' -e 'Do you already have another' "$ERRLOG" 2>/dev/null; then
            log "port $port taken, retrying ($attempt)"
            continue
        fi
        error_tail
        die "mariadbd exited during start-up"
    done
    error_tail
    die "mariadbd could not bind a port"
}

setup_users() {
    local pwf="$dir/password" pw
    if [[ ! -s "$pwf" ]]; then
        pw="$(head -c 24 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 24)"
        (umask 077; printf '%s' "$pw" >"$pwf")
    fi
    chmod 600 "$pwf"
    pw="$(cat "$pwf")"
    # snapdiff reads every table and information_schema; SHOW VIEW for views,
    # PROCESS and BINLOG MONITOR (SHOW MASTER STATUS) to record where a snapshot is.
    client <<SQL
CREATE USER IF NOT EXISTS 'snapdiff'@'localhost' IDENTIFIED BY '$pw';
CREATE USER IF NOT EXISTS 'snapdiff'@'127.0.0.1' IDENTIFIED BY '$pw';
ALTER USER 'snapdiff'@'localhost' IDENTIFIED BY '$pw';
ALTER USER 'snapdiff'@'127.0.0.1' IDENTIFIED BY '$pw';
GRANT SELECT, SHOW VIEW, PROCESS, BINLOG MONITOR ON *.* TO 'snapdiff'@'localhost';
GRANT SELECT, SHOW VIEW, PROCESS, BINLOG MONITOR ON *.* TO 'snapdiff'@'127.0.0.1';
SQL
}

do_stop() {
    local pid waited
    pid="$(running_pid)" || { log "not running in $dir"; rm -f "$PIDF"; return 0; }
    timeout "$STOP_TIMEOUT" "$(find_bin mariadb-admin mysqladmin)" --no-defaults \
        --socket="$SOCK" -uroot shutdown >/dev/null 2>&1 || kill -TERM "$pid" 2>/dev/null || true
    waited=0
    while kill -0 "$pid" 2>/dev/null && (( waited < STOP_TIMEOUT * 10 )); do
        sleep 0.1; waited=$((waited + 1))
    done
    if kill -0 "$pid" 2>/dev/null; then
        log "mariadbd (pid $pid) did not stop within ${STOP_TIMEOUT}s, killing it"
        kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -f "$PIDF"
    log "stopped in $dir"
}

do_env() {
    [[ -s "$dir/port" ]] || die "no server was started in $dir"
    printf 'export MARIADB_DIR=%q\n' "$dir"
    printf 'export MARIADB_SOCKET=%q\n' "$SOCK"
    printf 'export MARIADB_PORT=%q\n' "$(cat "$dir/port")"
    printf 'export MARIADB_PASSWORD_FILE=%q\n' "$dir/password"
}

case "$cmd" in
    start)  do_start ;;
    stop)   do_stop ;;
    env)    do_env ;;
    client) shift 2; client "$@" ;;
    *)      die "unknown command $cmd (start|stop|env|client)" ;;
esac
