#!/usr/bin/env bash
# kafka.sh — a real single-node Apache Kafka (KRaft, combined broker+controller)
# on 127.0.0.1 for the Kafka sink's tests.
#
#   tests/lib/kafka.sh fetch          jars into the cache (once per machine), prints the dir
#   tests/lib/kafka.sh start DIR      fetch, format and start a broker whose files live in DIR;
#                                     prints the bootstrap address (also in DIR/bootstrap)
#   tests/lib/kafka.sh stop DIR       stops it (SIGTERM, then SIGKILL after a bounded wait)
#
# The broker is the official build from Maven Central (org.apache.kafka:kafka_2.13
# and its runtime dependencies), fetched with Maven into
# ${SNAPDIFF_CACHE:-$HOME/.cache/snapdiff}/kafka-$KAFKA_VERSION/jars and run with
# the machine's JDK (17 or later). Nothing is downloaded outside Maven, so a
# fresh clone on a machine with a warm cache starts the broker offline.
#
# Environment: KAFKA_VERSION (default below), SNAPDIFF_CACHE, KAFKA_START_TIMEOUT
# (seconds, default 90), KAFKA_JVM_OPTS (default: 512 MiB heap, serial GC and
# the C1 compiler only, which start fastest on a small machine; a benchmark
# wants "-Xmx1g -XX:+UseG1GC" instead).
set -euo pipefail

KAFKA_VERSION=${KAFKA_VERSION:-4.2.0}
CACHE_ROOT=${SNAPDIFF_CACHE:-$HOME/.cache/snapdiff}
KAFKA_HOME=$CACHE_ROOT/kafka-$KAFKA_VERSION
START_TIMEOUT=${KAFKA_START_TIMEOUT:-90}
JVM_OPTS=${KAFKA_JVM_OPTS:--Xmx512m -XX:+UseSerialGC -XX:TieredStopAtLevel=1}

die() {
	echo "kafka.sh: $*" >&2
	exit 1
}

# Maven resolves the broker's whole runtime closure from kafka_2.13's pom. The
# poms only declare slf4j-api; the binary distribution adds log4j2 and its
# slf4j 1.x binding in libs/, so they are added here (without them the broker
# runs but logs nothing, and a failed start has no log to show).
write_pom() {
	cat >"$1/pom.xml" <<POM
<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>snapdiff.tests</groupId>
  <artifactId>kafka-runtime</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId><version>$KAFKA_VERSION</version></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-core</artifactId><version>2.24.3</version></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-slf4j-impl</artifactId><version>2.24.3</version></dependency>
  </dependencies>
</project>
POM
}

cmd_fetch() {
	if [ -f "$KAFKA_HOME/.complete" ]; then
		echo "$KAFKA_HOME"
		return 0
	fi
	command -v mvn >/dev/null || die "mvn not found (apt-get install maven)"
	command -v java >/dev/null || die "java not found (apt-get install openjdk-17-jre-headless)"
	mkdir -p "$CACHE_ROOT"
	local tmp
	tmp=$(mktemp -d "$CACHE_ROOT/.kafka-fetch.XXXXXX")
	write_pom "$tmp"
	# Fail fast with a readable message when Maven Central is not reachable,
	# rather than after a long resolution of the whole tree.
	if ! mvn -q -B dependency:get -Dartifact="org.apache.kafka:kafka_2.13:$KAFKA_VERSION" \
		-Dtransitive=false >"$tmp/probe.log" 2>&1; then
		tail -20 "$tmp/probe.log" >&2
		rm -rf "$tmp"
		die "cannot fetch org.apache.kafka:kafka_2.13:$KAFKA_VERSION from Maven Central"
	fi
	if ! (cd "$tmp" && mvn -q -B dependency:copy-dependencies -DincludeScope=runtime \
		-DoutputDirectory="$tmp/jars") >"$tmp/fetch.log" 2>&1; then
		tail -40 "$tmp/fetch.log" >&2
		rm -rf "$tmp"
		die "maven could not resolve the Kafka $KAFKA_VERSION runtime"
	fi
	touch "$tmp/.complete"
	# Another process may have finished the same fetch meanwhile: keep theirs.
	if ! mv -T "$tmp" "$KAFKA_HOME" 2>/dev/null; then
		rm -rf "$tmp"
		[ -f "$KAFKA_HOME/.complete" ] || die "could not install $KAFKA_HOME"
	fi
	echo "$KAFKA_HOME"
}

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# Kafka's Uuid text form: 16 random bytes, URL-safe base64 without padding,
# never starting with '-' (the tools reject such ids).
cluster_id() {
	python3 -c '
import base64, os
while True:
    s = base64.urlsafe_b64encode(os.urandom(16)).decode().rstrip("=")
    if not s.startswith("-"):
        print(s); break'
}

storage_tool() {
	local dir=$1
	shift
	# shellcheck disable=SC2086
	java $JVM_OPTS -Djava.awt.headless=true \
		-Dlog4j2.configurationFile="$dir/log4j2.properties" \
		-Dkafka.logs.dir="$dir/logs" \
		-cp "$KAFKA_HOME/jars/*" kafka.tools.StorageTool "$@"
}

cmd_start() {
	local dir=${1:?usage: kafka.sh start DIR}
	mkdir -p "$dir"
	dir=$(cd "$dir" && pwd)
	if [ -f "$dir/pid" ] && kill -0 "$(cat "$dir/pid")" 2>/dev/null; then
		cat "$dir/bootstrap"
		return 0
	fi
	cmd_fetch >/dev/null
	local port cport
	# A restart reuses the ports: clients keep their bootstrap address, and the
	# controller's address is part of the formatted quorum.
	if [ -f "$dir/ports" ]; then
		read -r port cport <"$dir/ports"
	else
		port=$(free_port)
		cport=$(free_port)
		while [ "$cport" = "$port" ]; do cport=$(free_port); done
		echo "$port $cport" >"$dir/ports"
	fi
	mkdir -p "$dir/data" "$dir/logs"
	cat >"$dir/server.properties" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$cport
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$cport
advertised.listeners=PLAINTEXT://127.0.0.1:$port
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=$dir/data
num.partitions=3
auto.create.topics.enable=true
offsets.topic.replication.factor=1
offsets.topic.num.partitions=4
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=4
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
PROPS
	cat >"$dir/log4j2.properties" <<'LOG'
status = warn
appender.file.type = File
appender.file.name = file
appender.file.fileName = ${sys:kafka.logs.dir}/server.log
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = info
rootLogger.appenderRef.file.ref = file
logger.state.name = state.change.logger
logger.state.level = warn
LOG
	# Formatted once; a stop/start keeps the topics (tests restart the broker
	# after a failure and rerun).
	if [ ! -f "$dir/data/meta.properties" ]; then
		if ! storage_tool "$dir" format --ignore-formatted \
			-t "$(cluster_id)" -c "$dir/server.properties" >"$dir/logs/format.log" 2>&1; then
			tail -30 "$dir/logs/format.log" >&2
			die "formatting the Kafka storage in $dir/data failed"
		fi
	fi
	echo "127.0.0.1:$port" >"$dir/bootstrap"
	# setsid: the broker must not die with the test runner's process group
	# (a test interrupting snapdiff must not take the broker with it). Without
	# job control the background child is no group leader, so setsid execs in
	# place and $! is the JVM's pid.
	# shellcheck disable=SC2086
	setsid java $JVM_OPTS -Djava.awt.headless=true \
		-Dlog4j2.configurationFile="$dir/log4j2.properties" -Dkafka.logs.dir="$dir/logs" \
		-cp "$KAFKA_HOME/jars/*" kafka.Kafka "$dir/server.properties" \
		>"$dir/logs/stdout.log" 2>&1 </dev/null &
	echo $! >"$dir/pid"
	local pid deadline
	pid=$(cat "$dir/pid")
	deadline=$((SECONDS + START_TIMEOUT))
	# Ready = the broker has registered and accepts Metadata requests on its
	# listener; kcat -L asks exactly that, with a short socket timeout.
	while :; do
		if ! kill -0 "$pid" 2>/dev/null; then
			tail -40 "$dir/logs/stdout.log" "$dir/logs/server.log" >&2 2>/dev/null || true
			rm -f "$dir/pid"
			die "the Kafka broker exited during startup (logs in $dir/logs)"
		fi
		if grep -q "Kafka Server started" "$dir/logs/server.log" 2>/dev/null &&
			kcat -b "127.0.0.1:$port" -L -m 2 >/dev/null 2>&1; then
			break
		fi
		if [ $SECONDS -ge $deadline ]; then
			tail -40 "$dir/logs/server.log" >&2 2>/dev/null || true
			cmd_stop "$dir" >/dev/null 2>&1 || true
			die "the Kafka broker did not come up within ${START_TIMEOUT}s (logs in $dir/logs)"
		fi
		sleep 0.3
	done
	echo "127.0.0.1:$port"
}

cmd_stop() {
	local dir=${1:?usage: kafka.sh stop DIR}
	[ -f "$dir/pid" ] || return 0
	local pid i
	pid=$(cat "$dir/pid")
	if kill -0 "$pid" 2>/dev/null; then
		kill -TERM "$pid" 2>/dev/null || true
		# Controlled shutdown of a single node takes a few seconds; past 30 s
		# something is wedged and a kill is better than a hung test suite.
		for i in $(seq 1 150); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.2
		done
		if kill -0 "$pid" 2>/dev/null; then
			kill -KILL "$pid" 2>/dev/null || true
			echo "kafka.sh: broker $pid killed after 30 s" >&2
		fi
	fi
	rm -f "$dir/pid"
}

case ${1:-} in
fetch) cmd_fetch ;;
start) shift; cmd_start "$@" ;;
stop) shift; cmd_stop "$@" ;;
*) die "usage: kafka.sh fetch | start DIR | stop DIR" ;;
esac
